// Hand-off on transports (Connection::send_large): on unix:// the sealed memfd travels over the
// connection itself (SCM_RIGHTS), past the 64 MiB frame limit and without a copy, in order with
// ordinary frames; elsewhere send_large sends the bytes, within the transport's limits.
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "conduit/msg/large_buffer.hpp"
#include "conduit/transport/framing.hpp"
#include "conduit/transport/transport.hpp"
#include "large_pattern.hpp"
#include "process.hpp"

namespace conduit {
namespace {

using test::anonymous_bytes;
using test::Child;
using test::count_wrong;
using test::fill;
using namespace std::chrono_literals;

constexpr std::size_t kMiB = std::size_t{1} << 20;

class TransportHandoff : public test::ProcessTest {
 protected:
  std::string path(std::string_view name) const {
    return namespace_path() + "/" + std::string(name);
  }
};

TEST_F(TransportHandoff, Unix_HandsOffBeyondTheFrameLimitInOrderWithOrdinaryFrames) {
  constexpr std::size_t kSize = 128 * kMiB;  // twice the frame limit
  static_assert(kSize > transport::kMaxFrameSize);
  const std::string url = "unix://" + path("large");
  auto listener = listen(url);
  ASSERT_TRUE(listener) << listener.error().message();
  Child client([&] {
    auto c = connect(url);
    CHILD_CHECK(c.has_value());
    auto buffer = LargeBuffer::create(kSize);
    CHILD_CHECK(buffer.has_value());
    fill(buffer->bytes(), 1);
    CHILD_CHECK(c->send("before", 1));
    CHILD_CHECK(c->send_large(*buffer, 2));
    CHILD_CHECK(c->send("between", 3));
    std::vector<std::byte> small(3 * kMiB);
    fill(small, 4);
    CHILD_CHECK(c->send_large(small, 4));
    CHILD_CHECK(c->send("after", 5));
    return 0;
  });
  auto connection = listener->accept_for(30s);
  ASSERT_TRUE(connection) << connection.error().message();
  const std::size_t before = anonymous_bytes();
  auto first = connection->receive_for(30s);
  ASSERT_TRUE(first) << first.error().message();
  EXPECT_EQ(first->text(), "before");
  auto large = connection->receive_for(30s);
  ASSERT_TRUE(large) << large.error().message();
  EXPECT_EQ(large->type(), 2);
  ASSERT_EQ(large->size(), kSize);
  EXPECT_TRUE(large->is_handed_off());
  EXPECT_EQ(count_wrong(large->payload(), 1), 0u);
  // Under TSan every byte read gets shadow memory, counted as anonymous: no figure to check.
  if (!test::kUnderThreadSanitizer)
    EXPECT_LT(anonymous_bytes(), before + 16 * kMiB + test::shadow_of(kSize))
        << "reading a hand-off copies nothing";
  auto between = connection->receive_for(30s);
  ASSERT_TRUE(between) << between.error().message();
  EXPECT_EQ(between->text(), "between");
  auto second = connection->receive_for(30s);
  ASSERT_TRUE(second) << second.error().message();
  EXPECT_EQ(second->type(), 4);
  EXPECT_TRUE(second->is_handed_off());
  EXPECT_EQ(count_wrong(second->payload(), 4), 0u);
  auto after = connection->receive_for(30s);
  ASSERT_TRUE(after) << after.error().message();
  EXPECT_EQ(after->text(), "after");
  EXPECT_TRUE(client.wait().ok());
}

TEST_F(TransportHandoff, Tcp_SendLargeSendsTheBytesWithinTheFrameLimit) {
  auto listener = listen("tcp://127.0.0.1:0");
  ASSERT_TRUE(listener) << listener.error().message();
  const std::string url = listener->url();
  Child client([&] {
    auto c = connect(url);
    CHILD_CHECK(c.has_value());
    std::vector<std::byte> bytes(2 * kMiB);
    fill(bytes, 6);
    CHILD_CHECK(c->send_large(bytes, 6));
    auto too_large = LargeBuffer::create(transport::kMaxFrameSize + 1);
    CHILD_CHECK(too_large.has_value());
    auto refused = c->send_large(*too_large);
    CHILD_CHECK(!refused && refused.error().code() == Errc::message_too_large);
    return 0;
  });
  auto connection = listener->accept_for(30s);
  ASSERT_TRUE(connection) << connection.error().message();
  auto got = connection->receive_for(30s);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(got->type(), 6);
  EXPECT_FALSE(got->is_handed_off()) << "tcp cannot carry a descriptor: a copy came";
  EXPECT_EQ(count_wrong(got->payload(), 6), 0u);
  EXPECT_TRUE(client.wait().ok());
}

}  // namespace
}  // namespace conduit
