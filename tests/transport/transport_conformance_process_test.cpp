// The transport contract, written once and run on every transport: boundaries and order, both
// directions, close, timeouts, peer death, size limits. A transport is done when it passes.
#include <mqueue.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
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

/// What a URL may be built from: a directory and a name fresh for this test, the pid of the
/// test process (which listens).
struct Place {
  std::string directory;
  std::string unique;  // [A-Za-z0-9._-]
  pid_t listener = 0;
};

/// A System V key unique to this test: ftok of the test's own namespace directory.
key_t key_of(const Place& place) { return ::ftok(place.directory.c_str(), 'c'); }

struct TransportCase {
  std::string name;
  std::function<std::string(const Place&)> url;  // empty: pipe_pair()
  bool is_duplex = true;
  bool carries_type = true;
};

std::ostream& operator<<(std::ostream& out, const TransportCase& c) { return out << c.name; }

/// A one-byte gate across fork: the child waits until the parent opens it.
class Gate {
 public:
  Gate() {
    int ends[2];
    if (::pipe(ends) != 0) throw std::runtime_error("pipe");
    read_ = ends[0];
    write_ = ends[1];
  }
  ~Gate() {
    ::close(read_);
    ::close(write_);
  }
  void open() const {
    const char byte = 1;
    (void)!::write(write_, &byte, 1);
  }
  void wait() const {
    char byte = 0;
    while (::read(read_, &byte, 1) < 0 && errno == EINTR) {
    }
  }

 private:
  int read_ = -1, write_ = -1;
};

std::vector<std::byte> pattern(std::size_t index, std::size_t size) {
  std::vector<std::byte> bytes(size);
  for (std::size_t j = 0; j < size; ++j) bytes[j] = std::byte((index * 31 + j * 7 + 1) & 0xff);
  return bytes;
}

bool matches(const Message& message, std::size_t index, std::size_t size) {
  const auto expected = pattern(index, size);
  return message.size() == size &&
         (size == 0 || std::memcmp(message.payload().data(), expected.data(), size) == 0);
}

/// Waits (at most a few seconds) until thread `tid` of this process sleeps, as a thread blocked
/// in a receive or a send does. Only makes a race likelier to go one way: a test that uses it
/// must hold whichever way it goes.
void wait_until_asleep(pid_t tid) {
  for (int i = 0; i < 3000; ++i) {
    std::ifstream stat("/proc/self/task/" + std::to_string(tid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    const auto end_of_name = text.rfind(')');
    if (end_of_name != std::string::npos && end_of_name + 2 < text.size() &&
        text[end_of_name + 2] == 'S') {
      return;
    }
    std::this_thread::sleep_for(1ms);
  }
}

/// Message i of the 1,000: 1..1000 bytes, cut to what the transport carries.
std::size_t size_of(std::size_t index, std::size_t max) { return std::min(index + 1, max); }

constexpr std::size_t kCount = 1000;

class TransportConformance : public test::ProcessTest,
                             public ::testing::WithParamInterface<TransportCase> {
 protected:
  void SetUp() override {
    test::ProcessTest::SetUp();
    place_.directory = namespace_path();
    place_.unique = std::filesystem::path(namespace_path()).filename().string();
    place_.listener = ::getpid();
  }

  /// Connects a forked child to this process and runs `body` there with its end; returns the
  /// child and this process's end. The test process listens; the child connects.
  std::pair<Child, Connection> start(const std::function<int(Connection&)>& body) {
    const TransportCase& param = GetParam();
    if (!param.url) {
      auto pair = pipe_pair();
      if (!pair) throw std::runtime_error(pair.error().message());
      Child child([&] {
        pair->first.close();
        return body(pair->second);
      });
      pair->second.close();
      return {std::move(child), std::move(pair->first)};
    }
    auto listener = listen(param.url(place_));
    if (!listener) throw std::runtime_error(listener.error().message());
    const std::string url = listener->url();
    Child child([&] {
      auto connection = connect(url);
      if (!connection) {
        std::fprintf(stderr, "child: connect: %s\n", connection.error().message().c_str());
        return 102;
      }
      return body(*connection);
    });
    auto accepted = listener->accept_for(30s);
    if (!accepted) throw std::runtime_error(accepted.error().message());
    listener_ = std::move(*listener);
    return {std::move(child), std::move(*accepted)};
  }

  Place place_;
  std::optional<Listener> listener_;
};

TEST_P(TransportConformance, ConnectorToListener_ThousandMessagesInOrderThenClosed) {
  auto [child, connection] = start([](Connection& c) {
    const std::size_t max = c.max_message_size();
    for (std::size_t i = 0; i < kCount; ++i) {
      auto sent = c.send(pattern(i, size_of(i, max)));
      if (!sent) std::fprintf(stderr, "send %zu: %s\n", i, sent.error().message().c_str());
      CHILD_CHECK(sent.has_value());
    }
    c.close();
    return 0;
  });
  for (std::size_t i = 0; i < kCount; ++i) {
    auto message = connection.receive_for(30s);
    ASSERT_TRUE(message) << i << ": " << message.error().message();
    // The receiving end of a one-way transport may not know the sender's limit: use the size.
    ASSERT_TRUE(matches(*message, i, message->size())) << "message " << i;
    ASSERT_GE(message->size(), 1u);
    ASSERT_LE(message->size(), i + 1);
  }
  auto end = connection.receive_for(30s);
  ASSERT_FALSE(end);
  EXPECT_EQ(end.error().code(), Errc::closed) << end.error().message();
  EXPECT_TRUE(child.wait().ok());
}

TEST_P(TransportConformance, ListenerToConnector_ThousandMessagesInOrder) {
  if (!GetParam().is_duplex) GTEST_SKIP() << "one-way transport: see TheMissingDirection...";
  auto [child, connection] = start([](Connection& c) {
    for (std::size_t i = 0; i < kCount; ++i) {
      auto message = c.receive_for(30s);
      if (!message) std::fprintf(stderr, "receive %zu: %s\n", i, message.error().message().c_str());
      CHILD_CHECK(message.has_value());
      CHILD_CHECK(matches(*message, i, size_of(i, c.max_message_size())));
    }
    CHILD_CHECK(c.send("done").has_value());
    return 0;
  });
  for (std::size_t i = 0; i < kCount; ++i) {
    ASSERT_TRUE(connection.send(pattern(i, size_of(i, connection.max_message_size())))) << i;
  }
  auto done = connection.receive_for(30s);
  ASSERT_TRUE(done) << done.error().message();
  EXPECT_EQ(done->text(), "done");
  EXPECT_TRUE(child.wait().ok());
}

TEST_P(TransportConformance, EchoBothWaysKeepsEveryBoundary) {
  if (!GetParam().is_duplex) GTEST_SKIP() << "one-way transport";
  auto [child, connection] = start([](Connection& c) {
    for (;;) {
      auto message = c.receive_for(30s);
      if (!message) return message.error().code() == Errc::closed ? 0 : 1;
      CHILD_CHECK(c.send(message->payload(), message->type()).has_value());
    }
  });
  const std::size_t max = std::min<std::size_t>(connection.max_message_size(), 5000);
  for (std::size_t i = 0; i < 200; ++i) {
    const std::size_t size = (i * 37) % (max + 1);  // includes empty messages
    ASSERT_TRUE(connection.send(pattern(i, size), static_cast<std::int64_t>(i % 5)));
    auto echo = connection.receive_for(30s);
    ASSERT_TRUE(echo) << i << ": " << echo.error().message();
    EXPECT_TRUE(matches(*echo, i, size)) << i;
    EXPECT_EQ(echo->type(), static_cast<std::int64_t>(i % 5));
  }
  connection.close();
  EXPECT_TRUE(child.wait().ok());
}

TEST_P(TransportConformance, FullDuplex_OneThreadSendsWhileAnotherReceives) {
  if (!GetParam().is_duplex) GTEST_SKIP() << "one-way transport";
  auto [child, connection] = start([](Connection& c) {
    for (;;) {
      auto message = c.receive_for(30s);
      if (!message) return message.error().code() == Errc::closed ? 0 : 1;
      CHILD_CHECK(c.send(message->payload(), message->type()).has_value());
    }
  });
  // One echo first: the child's connect is then complete whatever happens next.
  ASSERT_TRUE(connection.send("hello"));
  auto hello = connection.receive_for(30s);
  ASSERT_TRUE(hello) << hello.error().message();
  // Every two-way transport is full duplex (mq too: its send leaves incoming records to a
  // thread that is receiving).
  EXPECT_TRUE(connection.is_full_duplex());
  if (!connection.is_full_duplex()) {
    connection.close();
    EXPECT_TRUE(child.wait().ok());
    GTEST_SKIP() << "not full duplex";
  }
  const std::size_t max = std::min<std::size_t>(connection.max_message_size(), 3000);
  std::thread sender([&] {
    for (std::size_t i = 0; i < kCount; ++i) {
      if (!connection.send(pattern(i, size_of(i, max)), static_cast<std::int64_t>(i % 3))) return;
    }
  });
  std::size_t received = 0;
  for (; received < kCount; ++received) {
    auto echo = connection.receive_for(30s);
    if (!echo) {
      ADD_FAILURE() << received << ": " << echo.error().message();
      break;
    }
    if (!matches(*echo, received, size_of(received, max)) ||
        echo->type() != static_cast<std::int64_t>(received % 3)) {
      ADD_FAILURE() << "echo " << received << " is not what was sent";
      break;
    }
  }
  if (received < kCount) {
    child.kill();  // the sender may wait for room the echo will never make: end it with closed
    sender.join();
    return;
  }
  sender.join();
  connection.close();
  EXPECT_TRUE(child.wait().ok());
}

TEST_P(TransportConformance, TheMissingDirectionOfAOneWayTransportIsAnErrorNotAHang) {
  if (GetParam().is_duplex) GTEST_SKIP() << "duplex transport";
  Gate sent;
  auto [child, connection] = start([&](Connection& c) {
    auto received = c.receive_for(30s);
    CHILD_CHECK(!received.has_value());
    CHILD_CHECK(received.error().code() == Errc::invalid_argument);
    CHILD_CHECK(c.send("x").has_value());
    sent.wait();
    return 0;
  });
  auto wrong = connection.send("back");
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code(), Errc::invalid_argument) << wrong.error().message();
  auto message = connection.receive_for(30s);
  ASSERT_TRUE(message) << message.error().message();
  EXPECT_EQ(message->text(), "x");
  sent.open();
  EXPECT_TRUE(child.wait().ok());
}

TEST_P(TransportConformance, MessageTypeIsCarried) {
  if (!GetParam().carries_type) GTEST_SKIP() << "this transport carries no type";
  auto [child, connection] = start([](Connection& c) {
    CHILD_CHECK(c.send("seven", 7).has_value());
    CHILD_CHECK(c.send("zero").has_value());
    CHILD_CHECK(c.send("big", std::int64_t{1} << 40).has_value());
    c.close();
    return 0;
  });
  auto seven = connection.receive_for(30s);
  ASSERT_TRUE(seven) << seven.error().message();
  EXPECT_EQ(seven->text(), "seven");
  EXPECT_EQ(seven->type(), 7);
  auto zero = connection.receive_for(30s);
  ASSERT_TRUE(zero) << zero.error().message();
  EXPECT_EQ(zero->type(), 0);
  auto big = connection.receive_for(30s);
  ASSERT_TRUE(big) << big.error().message();
  EXPECT_EQ(big->type(), std::int64_t{1} << 40);
  EXPECT_TRUE(child.wait().ok());
}

TEST_P(TransportConformance, ReceiveForTimesOutAndTheConnectionStaysUsable) {
  Gate go;
  auto [child, connection] = start([&](Connection& c) {
    go.wait();
    CHILD_CHECK(c.send("late").has_value());
    go.wait();
    return 0;
  });
  auto nothing = connection.receive_for(20ms);
  ASSERT_FALSE(nothing);
  EXPECT_EQ(nothing.error().code(), Errc::timed_out) << nothing.error().message();
  auto zero = connection.receive_for(0ns);
  ASSERT_FALSE(zero);
  EXPECT_EQ(zero.error().code(), Errc::timed_out);
  go.open();
  auto late = connection.receive_for(30s);
  ASSERT_TRUE(late) << late.error().message();
  EXPECT_EQ(late->text(), "late");
  go.open();
  EXPECT_TRUE(child.wait().ok());
}

TEST_P(TransportConformance, PeerThatClosesWhileAliveIsClosedAfterItsMessages) {
  Gate finish;
  auto [child, connection] = start([&](Connection& c) {
    for (int i = 0; i < 3; ++i) CHILD_CHECK(c.send(pattern(i, 3)).has_value());
    c.close();
    finish.wait();  // stays alive: the close itself must be seen
    return 0;
  });
  for (int i = 0; i < 3; ++i) {
    auto message = connection.receive_for(30s);
    ASSERT_TRUE(message) << message.error().message();
    EXPECT_TRUE(matches(*message, i, 3));
  }
  auto end = connection.receive_for(30s);
  ASSERT_FALSE(end);
  EXPECT_EQ(end.error().code(), Errc::closed) << end.error().message();
  auto again = connection.receive_for(1s);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), Errc::closed);
  finish.open();
  EXPECT_TRUE(child.wait().ok());
}

TEST_P(TransportConformance, PeerKilledIsClosedNotAHang) {
  auto [child, connection] = start([](Connection& c) -> int {
    auto sent = c.send("hi");
    if (!sent) std::fprintf(stderr, "child: send: %s\n", sent.error().message().c_str());
    CHILD_CHECK(sent.has_value());
    for (;;) ::pause();
  });
  auto ready = connection.receive_for(30s);
  ASSERT_TRUE(ready) << ready.error().message();
  EXPECT_EQ(ready->text(), "hi");
  EXPECT_EQ(child.kill(SIGKILL).signal, SIGKILL);
  auto end = connection.receive_for(30s);
  ASSERT_FALSE(end);
  EXPECT_EQ(end.error().code(), Errc::closed) << end.error().message();
}

/// Receives on `connection` with no timeout while another thread SIGKILLs `peer` once this
/// thread is asleep: only the peer's death can end the receive, and it must end it closed.
void expect_closed_when_killed_asleep(Child& peer, Connection& connection) {
  Child* const victim = &peer;
  const pid_t receiver = ::gettid();
  std::thread killer([victim, receiver] {
    wait_until_asleep(receiver);
    (void)victim->kill(SIGKILL);
  });
  auto end = connection.receive();
  killer.join();
  ASSERT_FALSE(end);
  EXPECT_EQ(end.error().code(), Errc::closed) << end.error().message();
}

TEST_P(TransportConformance, PeerKilledWhileAReceiveWaitsWithNoTimeoutIsClosed) {
  auto [child, connection] = start([](Connection& c) -> int {
    CHILD_CHECK(c.send("hi").has_value());
    for (;;) ::pause();
  });
  auto hi = connection.receive_for(30s);
  ASSERT_TRUE(hi) << hi.error().message();
  expect_closed_when_killed_asleep(child, connection);
}

// A receive right after a send is the round trip, where some transports wait and take in one
// call (mq://: one mq_timedreceive a liveness slice long): the peer's death still ends it.
TEST_P(TransportConformance, PeerKilledWhileAReceiveAfterASendWaitsIsClosed) {
  if (!GetParam().is_duplex) GTEST_SKIP() << "one-way transport: its listener only receives";
  auto [child, connection] = start([](Connection& c) -> int {
    auto ping = c.receive();
    CHILD_CHECK(ping.has_value());
    for (;;) ::pause();  // never answers
  });
  ASSERT_TRUE(connection.send("ping"));
  expect_closed_when_killed_asleep(child, connection);
}

TEST_P(TransportConformance, SendWaitingOnAFullTransportIsClosedWhenThePeerIsKilled) {
  if (!GetParam().is_duplex) GTEST_SKIP() << "one-way transport: its listener only receives";
  Gate connected;
  auto [child, connection] = start([&](Connection&) -> int {
    connected.open();
    for (;;) ::pause();  // never receives
  });
  connected.wait();
  const std::vector<std::byte> message(std::min<std::size_t>(connection.max_message_size(), 1000));
  Result<void> sent;
  std::atomic<pid_t> sender_tid{0};
  std::thread sender([&] {
    sender_tid = ::gettid();
    // Until the transport is full and the send waits; then the peer dies. Bounded: no
    // transport here buffers 100,000 messages of 1,000 bytes, so the loop ends with an error.
    for (int i = 0; i < 100000 && sent; ++i) sent = connection.send(message);
  });
  while (sender_tid == 0) std::this_thread::yield();
  wait_until_asleep(sender_tid);
  (void)child.kill(SIGKILL);
  sender.join();
  ASSERT_FALSE(sent) << "100,000 sends to a peer that never receives all succeeded";
  EXPECT_EQ(sent.error().code(), Errc::closed) << sent.error().message();
}

TEST_P(TransportConformance, ListenerKilledIsClosedForTheConnectorNotAHang) {
  if (!GetParam().url) GTEST_SKIP() << "pipe_pair: PeerKilledIsClosedNotAHang covers both ends";
  if (!GetParam().is_duplex) GTEST_SKIP() << "one-way transport: its listener only receives";
  // Roles reversed: the child listens and is killed; this process connected.
  int url_pipe[2];
  ASSERT_EQ(::pipe(url_pipe), 0);
  Place child_place = place_;
  Child listener_process([&]() -> int {
    child_place.listener = ::getpid();
    auto listener = listen(GetParam().url(child_place));
    CHILD_CHECK(listener.has_value());
    const std::string url = listener->url() + "\n";
    CHILD_CHECK(::write(url_pipe[1], url.data(), url.size()) == static_cast<ssize_t>(url.size()));
    auto connection = listener->accept_for(30s);
    CHILD_CHECK(connection.has_value());
    CHILD_CHECK(connection->send("hi").has_value());
    for (;;) ::pause();
  });
  std::string url;
  char c = 0;
  while (::read(url_pipe[0], &c, 1) == 1 && c != '\n') url += c;
  ::close(url_pipe[0]);
  ::close(url_pipe[1]);
  auto connection = connect(url);
  ASSERT_TRUE(connection) << url << ": " << connection.error().message();
  auto hi = connection->receive_for(30s);
  ASSERT_TRUE(hi) << hi.error().message();
  EXPECT_EQ(hi->text(), "hi");
  EXPECT_EQ(listener_process.kill(SIGKILL).signal, SIGKILL);
  auto end = connection->receive_for(30s);
  EXPECT_FALSE(end);
  if (!end) EXPECT_EQ(end.error().code(), Errc::closed) << end.error().message();
  // The killed listener could not remove its request queue: do it for it.
  if (GetParam().name == "mq") ::mq_unlink(("/" + place_.unique).c_str());
  if (GetParam().name == "sysv") ::msgctl(::msgget(key_of(place_), 0), IPC_RMID, nullptr);
}

TEST_P(TransportConformance, SendingToAPeerThatClosedIsClosed) {
  if (!GetParam().is_duplex) GTEST_SKIP() << "one-way transport";
  Gate finish;
  auto [child, connection] = start([&](Connection& c) {
    CHILD_CHECK(c.send("bye").has_value());
    c.close();
    finish.wait();
    return 0;
  });
  auto bye = connection.receive_for(30s);
  ASSERT_TRUE(bye) << bye.error().message();
  // The first sends may still be buffered before the transport learns of the close (TCP needs
  // a reset to come back, which a loaded machine may take milliseconds to deliver); it must
  // turn to closed, never block or succeed for ever.
  Result<void> sent;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  for (int i = 0; sent && std::chrono::steady_clock::now() < deadline; ++i) {
    sent = connection.send("anyone?");
    if (sent && i >= 100) std::this_thread::sleep_for(1ms);
  }
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().code(), Errc::closed) << sent.error().message();
  finish.open();
  EXPECT_TRUE(child.wait().ok());
}

TEST_P(TransportConformance, OversizedMessageIsRefusedAndTheConnectionStaysUsable) {
  auto [child, connection] = start([](Connection& c) {
    std::vector<std::byte> too_big(c.max_message_size() + 1);
    auto refused = c.send(too_big);
    CHILD_CHECK(!refused.has_value());
    CHILD_CHECK(refused.error().code() == Errc::message_too_large);
    std::vector<std::byte> largest(c.max_message_size(), std::byte{0x5a});
    CHILD_CHECK(c.send(largest).has_value());
    c.close();
    return 0;
  });
  auto largest = connection.receive_for(30s);
  ASSERT_TRUE(largest) << largest.error().message();
  EXPECT_GE(largest->size(), 4u);
  EXPECT_EQ(largest->payload().back(), std::byte{0x5a});
  EXPECT_TRUE(child.wait().ok());
}

TEST_P(TransportConformance, ConnectWithNobodyListeningFailsAtOnce) {
  if (!GetParam().url) GTEST_SKIP() << "pipe_pair has no listener";
  // For signal://, a process that does not listen: one that does not block the signal, which
  // would kill it. It says when its mask is in place: until its own code runs, the mask is not
  // settled: it starts with ours, and under ThreadSanitizer the runtime's fork handling in the
  // child starts its background thread with every signal blocked for a moment (sanitizer
  // common's internal_start_thread). A connect that read the mask then would take the
  // bystander for a listener: the likely cause of one CI failure, when only the mask was
  // waited for.
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  Child bystander([&]() -> int {
    sigset_t all;
    sigfillset(&all);
    ::sigprocmask(SIG_UNBLOCK, &all, nullptr);
    const char byte = 'r';
    CHILD_CHECK(::write(ready[1], &byte, 1) == 1);
    for (;;) ::pause();
  });
  ::close(ready[1]);  // a bystander that ended early is then an end of file
  char byte = 0;
  const ssize_t got = ::read(ready[0], &byte, 1);
  ::close(ready[0]);
  ASSERT_EQ(got, 1) << "the bystander ended before its mask was in place";
  Place nobody = place_;
  nobody.listener = bystander.pid();
  // And the kernel's view of it, which connect reads.
  for (int i = 0; i < 1000 && ::kill(bystander.pid(), 0) == 0; ++i) {
    std::string status;
    if (FILE* file =
            std::fopen(("/proc/" + std::to_string(bystander.pid()) + "/status").c_str(), "r")) {
      char line[256];
      while (std::fgets(line, sizeof line, file)) status += line;
      std::fclose(file);
    }
    if (status.find("SigBlk:\t0000000000000000") != std::string::npos) break;
    std::this_thread::sleep_for(1ms);
  }
  auto connection = connect(GetParam().url(nobody));
  ASSERT_FALSE(connection);
  const Errc code = connection.error().code();
  EXPECT_TRUE(code == Errc::not_found || code == Errc::closed) << connection.error().message();
  EXPECT_TRUE(bystander.running());
}

TEST_P(TransportConformance, SeveralClientsEachGetTheirOwnConnection) {
  if (!GetParam().url) GTEST_SKIP() << "pipe_pair has no listener";
  if (GetParam().name == "file") GTEST_SKIP() << "a spool has one reader; see the file tests";
  auto listener = listen(GetParam().url(place_));
  ASSERT_TRUE(listener) << listener.error().message();
  const std::string url = listener->url();
  const bool is_duplex = GetParam().is_duplex;
  constexpr std::uint32_t kClients = 3;
  std::vector<Child> clients;
  for (std::uint32_t id = 0; id < kClients; ++id) {
    clients.emplace_back([&, id] {
      auto c = connect(url);
      CHILD_CHECK(c.has_value());
      for (int i = 0; i < 3; ++i) CHILD_CHECK(c->send(bytes_of(id)).has_value());
      if (is_duplex) {
        auto reply = c->receive_for(30s);
        CHILD_CHECK(reply.has_value());
        std::uint32_t value = 99;
        std::memcpy(&value, reply->payload().data(), std::min<std::size_t>(4, reply->size()));
        CHILD_CHECK(value == id);
      }
      c->close();
      return 0;
    });
  }
  std::vector<bool> seen(kClients, false);
  std::vector<Connection> connections;
  for (std::uint32_t n = 0; n < kClients; ++n) {
    auto connection = listener->accept_for(30s);
    ASSERT_TRUE(connection) << connection.error().message();
    std::uint32_t first = 0;
    for (int i = 0; i < 3; ++i) {
      auto message = connection->receive_for(30s);
      ASSERT_TRUE(message) << message.error().message();
      ASSERT_EQ(message->size(), 4u);
      std::uint32_t value = 0;
      std::memcpy(&value, message->payload().data(), 4);
      if (i == 0) first = value;
      EXPECT_EQ(value, first) << "a connection carries one client's messages only";
    }
    ASSERT_LT(first, kClients);
    EXPECT_FALSE(seen[first]);
    seen[first] = true;
    if (is_duplex) ASSERT_TRUE(connection->send(bytes_of(first)));
    connections.push_back(std::move(*connection));
  }
  for (auto& client : clients) EXPECT_TRUE(client.wait().ok());
  for (auto& connection : connections) {
    auto end = connection.receive_for(30s);
    ASSERT_FALSE(end);
    EXPECT_EQ(end.error().code(), Errc::closed) << end.error().message();
  }
}

std::string in(const Place& place, std::string_view name) {
  return place.directory + "/" + std::string(name);
}

const TransportCase kCases[] = {
    {.name = "pipe", .url = {}},
    {.name = "unix", .url = [](const Place& p) { return "unix://" + in(p, "socket"); }},
    {.name = "unix_abstract", .url = [](const Place& p) { return "unix://@" + p.unique; }},
    {.name = "tcp_ipv4", .url = [](const Place&) { return std::string("tcp://127.0.0.1:0"); }},
    {.name = "tcp_ipv6", .url = [](const Place&) { return std::string("tcp://[::1]:0"); }},
    {.name = "tcp_name", .url = [](const Place&) { return std::string("tcp://localhost:0"); }},
    {.name = "mq", .url = [](const Place& p) { return "mq://" + p.unique; }},
    {.name = "sysv", .url = [](const Place& p) { return "sysv://" + std::to_string(key_of(p)); }},
    {.name = "shm", .url = [](const Place&) { return std::string("shm://server"); }},
    {.name = "file",
     .url = [](const Place& p) { return "file://" + in(p, "spool"); },
     .is_duplex = false},
    {.name = "signal",
     .url = [](const Place& p) { return "signal://" + std::to_string(p.listener); },
     .is_duplex = false,
     .carries_type = false},
    {.name = "fifo", .url = [](const Place& p) { return "fifo://" + in(p, "fifo"); }},
};

INSTANTIATE_TEST_SUITE_P(Transports, TransportConformance, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace conduit
