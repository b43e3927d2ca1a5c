// mq:// and the user's queue-memory budget: connections small enough that one process holds
// many, messages longer than a queue's record that arrive whole, and a clear error when the
// budget (RLIMIT_MSGQUEUE) is spent.
#include <sys/resource.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "conduit/transport/transport.hpp"
#include "process.hpp"

namespace conduit {
namespace {

using test::Child;
using namespace std::chrono_literals;

class TransportMq : public test::ProcessTest {
 protected:
  std::string url(std::string_view what) const {
    return fmt::format("mq://{}-{}", what, ::getpid());
  }
};

/// `size` bytes that say which message they belong to and where in it each byte sits.
std::vector<std::byte> pattern(std::size_t seed, std::size_t size) {
  std::vector<std::byte> bytes(size);
  for (std::size_t i = 0; i < size; ++i)
    bytes[i] = std::byte((seed * 131 + i * 7 + i / 251) & 0xff);
  return bytes;
}

bool matches(const Message& message, std::size_t seed, std::size_t size) {
  const auto expected = pattern(seed, size);
  const auto got = message.payload();
  return got.size() == size && std::equal(got.begin(), got.end(), expected.begin());
}

TEST_F(TransportMq, TwentyConnectionsAtOnceFromOneProcess) {
  // Queues sized at msgsize_max (8 KiB x 10 each, two per connection) let a user hold about
  // five connections under the default 800 KiB RLIMIT_MSGQUEUE.
  constexpr int kConnections = 20;
  const std::string address = url("twenty");
  auto listener = listen(address);
  ASSERT_TRUE(listener) << listener.error().message();
  Child client([&] {
    std::vector<Connection> connections;
    for (int i = 0; i < kConnections; ++i) {
      auto c = connect(address);
      if (!c) std::fprintf(stderr, "child: connect %d: %s\n", i, c.error().message().c_str());
      CHILD_CHECK(c.has_value());
      connections.push_back(std::move(*c));
    }
    // All open at once: each still carries its own messages both ways.
    for (int i = 0; i < kConnections; ++i) {
      CHILD_CHECK(connections[i].send(fmt::format("to {}", i)).has_value());
    }
    for (int i = 0; i < kConnections; ++i) {
      auto answer = connections[i].receive_for(30s);
      CHILD_CHECK(answer.has_value() && answer->text() == fmt::format("from {}", i));
    }
    return 0;
  });
  std::vector<Connection> accepted;
  for (int i = 0; i < kConnections; ++i) {
    auto c = listener->accept_for(30s);
    ASSERT_TRUE(c) << i << ": " << c.error().message();
    accepted.push_back(std::move(*c));
  }
  for (int i = 0; i < kConnections; ++i) {
    auto request = accepted[i].receive_for(30s);
    ASSERT_TRUE(request) << i << ": " << request.error().message();
    EXPECT_EQ(request->text(), fmt::format("to {}", i));
    ASSERT_TRUE(accepted[i].send(fmt::format("from {}", i)));
  }
  EXPECT_TRUE(client.wait().ok());
}

TEST_F(TransportMq, MessagesLongerThanARecordArriveWholeAndInOrderBothWays) {
  const std::string address = url("parts");
  auto listener = listen(address);
  ASSERT_TRUE(listener) << listener.error().message();
  // Around the record boundaries (1 KiB records less a 16-byte header), the largest message,
  // and small ones between, many more records than a queue holds.
  std::vector<std::size_t> sizes{0, 1, 1007, 1008, 1009, 2015, 2016, 2017, 5000};
  Child client([&] {
    auto c = connect(address);
    CHILD_CHECK(c.has_value());
    std::vector<std::size_t> all = sizes;
    all.push_back(c->max_message_size());
    for (std::size_t round = 0; round < 3; ++round) {
      for (std::size_t i = 0; i < all.size(); ++i) {
        CHILD_CHECK(c->send(pattern(round * 100 + i, all[i])).has_value());
        CHILD_CHECK(c->send(pattern(round * 100 + i + 50, 3)).has_value());
      }
    }
    for (std::size_t i = 0; i < all.size(); ++i) {
      auto echo = c->receive_for(30s);
      CHILD_CHECK(echo.has_value() && matches(*echo, 1000 + i, all[i]));
    }
    return 0;
  });
  auto connection = listener->accept_for(30s);
  ASSERT_TRUE(connection) << connection.error().message();
  sizes.push_back(connection->max_message_size());
  for (std::size_t round = 0; round < 3; ++round) {
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      auto got = connection->receive_for(30s);
      ASSERT_TRUE(got) << got.error().message();
      EXPECT_TRUE(matches(*got, round * 100 + i, sizes[i])) << round << " " << sizes[i];
      auto small = connection->receive_for(30s);
      ASSERT_TRUE(small) << small.error().message();
      EXPECT_TRUE(matches(*small, round * 100 + i + 50, 3));
    }
  }
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    ASSERT_TRUE(connection->send(pattern(1000 + i, sizes[i])));
  }
  EXPECT_TRUE(client.wait().ok());
}

TEST_F(TransportMq, SendWaitingForRoomBesideAReceivingThreadIsClosedWhenThePeerCloses) {
  // The peer closes and stays alive, reading nothing: the send fills its queue and waits while
  // another thread waits in receive. The close record is the receiver's to take; the send must
  // still learn of it (from the receiver), not wait for ever.
  const std::string address = url("duplex-close");
  auto listener = listen(address);
  ASSERT_TRUE(listener) << listener.error().message();
  int done[2];
  ASSERT_EQ(::pipe(done), 0);
  Child client([&] {
    auto c = connect(address);
    CHILD_CHECK(c.has_value());
    CHILD_CHECK(c->send("ready").has_value());
    std::this_thread::sleep_for(100ms);
    c->close();
    char byte = 0;
    CHILD_CHECK(::read(done[0], &byte, 1) == 1);  // alive until the parent has its answers
    return 0;
  });
  auto connection = listener->accept_for(30s);
  ASSERT_TRUE(connection) << connection.error().message();
  auto ready = connection->receive_for(30s);
  ASSERT_TRUE(ready) << ready.error().message();
  std::optional<Error> received_end;
  std::thread receiver([&] {
    auto got = connection->receive_for(60s);
    if (!got) received_end = got.error();
  });
  const std::vector<std::byte> message(64);
  Result<void> sent;
  for (int i = 0; i < 100'000 && (sent = connection->send(message)); ++i) {
  }
  receiver.join();
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().code(), Errc::closed) << sent.error().message();
  ASSERT_TRUE(received_end);
  EXPECT_EQ(received_end->code(), Errc::closed) << received_end->message();
  ASSERT_EQ(::write(done[1], "x", 1), 1);
  EXPECT_TRUE(client.wait().ok());
  ::close(done[0]);
  ::close(done[1]);
}

TEST_F(TransportMq, SpentQueueMemoryIsLimitReachedNamingRlimitMsgqueue) {
  const std::string address = url("budget");
  auto listener = listen(address);
  ASSERT_TRUE(listener) << listener.error().message();
  Child client([&] {
    // A budget of one byte: the connection's first queue cannot be made.
    rlimit old{};
    CHILD_CHECK(::getrlimit(RLIMIT_MSGQUEUE, &old) == 0);
    const rlimit lowered{1, old.rlim_max};
    CHILD_CHECK(::setrlimit(RLIMIT_MSGQUEUE, &lowered) == 0);
    auto c = connect(address);
    CHILD_CHECK(!c.has_value());
    if (c.has_value()) return 1;
    std::fprintf(stderr, "child: %s\n", c.error().message().c_str());
    CHILD_CHECK(c.error().code() == Errc::limit_reached);
    CHILD_CHECK(c.error().message().find("RLIMIT_MSGQUEUE") != std::string::npos);
    CHILD_CHECK(c.error().message().find("ulimit -q`: 1 bytes") != std::string::npos);
    CHILD_CHECK(c.error().message().find(address + ": connect") == 0);
    // With the budget back, the same process connects.
    CHILD_CHECK(::setrlimit(RLIMIT_MSGQUEUE, &old) == 0);
    auto again = connect(address);
    CHILD_CHECK(again.has_value() && again->send("after").has_value());
    return 0;
  });
  auto connection = listener->accept_for(30s);
  ASSERT_TRUE(connection) << connection.error().message();
  auto after = connection->receive_for(30s);
  ASSERT_TRUE(after) << after.error().message();
  EXPECT_EQ(after->text(), "after");
  EXPECT_TRUE(client.wait().ok());
}

}  // namespace
}  // namespace conduit
