// Sockets wait with a deadline inside recv, bounded by a receive timeout (SO_RCVTIMEO) that
// stays set between receives: whatever the last wait left there, a later wait, with a deadline
// or none, still ends with the message or at its own deadline.
#include <unistd.h>

#include <string>
#include <thread>

#include "conduit/transport/transport.hpp"
#include "process.hpp"

namespace conduit {
namespace {

using test::Child;
using namespace std::chrono_literals;

class TransportSocket : public test::ProcessTest,
                        public ::testing::WithParamInterface<std::string> {
 protected:
  std::string url() const {
    if (GetParam() == "tcp") return "tcp://127.0.0.1:0";
    return "unix://" + namespace_path() + "/timeouts.sock";
  }
};

TEST_P(TransportSocket, WaitsOutlastAnEarlierShorterReceiveTimeout) {
  auto listener = listen(url());
  ASSERT_TRUE(listener) << listener.error().message();
  const std::string address = listener->url();
  Child client([&] {
    auto c = connect(address);
    CHILD_CHECK(c.has_value());
    // Each "go" is sent only when the parent's short wait has timed out: the message then
    // comes after the receive timeout that wait set.
    for (const char* message : {"no deadline", "long deadline"}) {
      auto go = c->receive_for(30s);
      CHILD_CHECK(go.has_value() && go->text() == "go");
      std::this_thread::sleep_for(100ms);
      CHILD_CHECK(c->send(message).has_value());
    }
    auto end = c->receive_for(30s);
    CHILD_CHECK(end.has_value() && end->text() == "end");
    return 0;
  });
  auto connection = listener->accept_for(30s);
  ASSERT_TRUE(connection) << connection.error().message();

  auto short_wait = connection->receive_for(20ms);
  ASSERT_FALSE(short_wait);
  EXPECT_EQ(short_wait.error().code(), Errc::timed_out);
  ASSERT_TRUE(connection->send("go"));
  auto unbounded = connection->receive();
  ASSERT_TRUE(unbounded) << unbounded.error().message();
  EXPECT_EQ(unbounded->text(), "no deadline");

  short_wait = connection->receive_for(20ms);
  ASSERT_FALSE(short_wait);
  EXPECT_EQ(short_wait.error().code(), Errc::timed_out);
  ASSERT_TRUE(connection->send("go"));
  auto bounded = connection->receive_for(30s);
  ASSERT_TRUE(bounded) << bounded.error().message();
  EXPECT_EQ(bounded->text(), "long deadline");

  // After a wait of 30 s set the receive timeout, a short wait still ends at its own deadline.
  short_wait = connection->receive_for(10ms);
  ASSERT_FALSE(short_wait);
  EXPECT_EQ(short_wait.error().code(), Errc::timed_out);
  short_wait = connection->receive_for(50ms);
  ASSERT_FALSE(short_wait);
  EXPECT_EQ(short_wait.error().code(), Errc::timed_out);
  ASSERT_TRUE(connection->send("end"));
  EXPECT_TRUE(client.wait().ok());
}

INSTANTIATE_TEST_SUITE_P(Sockets, TransportSocket, ::testing::Values("unix", "tcp"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace conduit
