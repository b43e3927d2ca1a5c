// What each transport adds to the contract: framing that a hostile or broken peer cannot turn
// into a crash or a giant allocation, each mechanism's own size limits, stale objects left by a
// dead listener, and the spool's several writers.
#include <fcntl.h>
#include <mqueue.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "conduit/transport/framing.hpp"
#include "conduit/transport/transport.hpp"
#include "process.hpp"

namespace conduit {
namespace {

using test::Child;
using namespace std::chrono_literals;

class TransportLimits : public test::ProcessTest {
 protected:
  std::string path(std::string_view name) const {
    return namespace_path() + "/" + std::string(name);
  }

  /// A raw Unix-socket client of `socket_path`, to write whatever bytes a test wants.
  static int raw_client(const std::string& socket_path) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, socket_path.c_str(), sizeof address.sun_path - 1);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) return -1;
    return fd;
  }

  /// Listens on a Unix socket, lets a raw client write `bytes` and hang up, and returns the
  /// accepted connection.
  Connection accept_raw(const std::vector<std::byte>& bytes) {
    const std::string url = "unix://" + path("raw");
    auto listener = listen(url);
    EXPECT_TRUE(listener) << listener.error().message();
    const int fd = raw_client(path("raw"));
    EXPECT_GE(fd, 0);
    EXPECT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
    ::close(fd);
    auto connection = listener->accept_for(30s);
    EXPECT_TRUE(connection) << connection.error().message();
    return std::move(*connection);
  }

  static std::vector<std::byte> frame(std::uint32_t magic, std::uint32_t length,
                                      std::size_t body_bytes) {
    const transport::FrameHeader header{magic, length, 0};
    std::vector<std::byte> bytes(sizeof header + body_bytes, std::byte{0x33});
    std::memcpy(bytes.data(), &header, sizeof header);
    return bytes;
  }

  // Appends to spool `name` what a writer that died halfway through a record leaves: the
  // header of a 100-byte record and its first 3 bytes.
  void append_cut_record(const std::string& name) {
    const int fd = ::open(path(name).c_str(), O_WRONLY | O_APPEND);
    ASSERT_GE(fd, 0);
    const auto cut = frame(transport::kFrameMagic, 100, 3);
    ASSERT_EQ(::write(fd, cut.data(), cut.size()), static_cast<ssize_t>(cut.size()));
    ::close(fd);
  }
};

TEST_F(TransportLimits, Framing_ForgedHugeLengthIsMessageTooLargeNotAnAllocation) {
  Connection connection = accept_raw(frame(transport::kFrameMagic, 0xffffffffu, 8));
  auto received = connection.receive_for(30s);
  ASSERT_FALSE(received);
  EXPECT_EQ(received.error().code(), Errc::message_too_large) << received.error().message();
  // The stream is out of step now: it says so again rather than reading garbage as frames.
  auto again = connection.receive_for(30s);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), Errc::message_too_large);
}

TEST_F(TransportLimits, Framing_BadMagicIsCorrupted) {
  Connection connection = accept_raw(frame(0x12345678u, 4, 4));
  auto received = connection.receive_for(30s);
  ASSERT_FALSE(received);
  EXPECT_EQ(received.error().code(), Errc::corrupted) << received.error().message();
}

TEST_F(TransportLimits, Framing_StreamEndingInsideAMessageIsCorrupted) {
  Connection connection = accept_raw(frame(transport::kFrameMagic, 100, 10));
  auto received = connection.receive_for(30s);
  ASSERT_FALSE(received);
  EXPECT_EQ(received.error().code(), Errc::corrupted) << received.error().message();
  EXPECT_NE(received.error().message().find("10 bytes into a 100-byte message"), std::string::npos);
}

TEST_F(TransportLimits, Framing_StreamEndingInsideAHeaderIsCorrupted) {
  auto bytes = frame(transport::kFrameMagic, 4, 0);
  bytes.resize(5);
  Connection connection = accept_raw(bytes);
  auto received = connection.receive_for(30s);
  ASSERT_FALSE(received);
  EXPECT_EQ(received.error().code(), Errc::corrupted) << received.error().message();
}

TEST_F(TransportLimits, Framing_FramesSplitAnyWhichWayAreReassembled) {
  // Three frames written one byte at a time: the receiver sees three messages.
  std::vector<std::byte> bytes;
  for (std::uint32_t size : {0u, 1u, 70000u}) {
    auto one = frame(transport::kFrameMagic, size, size);
    bytes.insert(bytes.end(), one.begin(), one.end());
  }
  const std::string url = "unix://" + path("split");
  auto listener = listen(url);
  ASSERT_TRUE(listener);
  Child writer([&] {
    const int fd = raw_client(path("split"));
    CHILD_CHECK(fd >= 0);
    for (std::size_t i = 0; i < bytes.size();) {
      const std::size_t chunk = std::min<std::size_t>(1 + i % 7, bytes.size() - i);
      CHILD_CHECK(::write(fd, bytes.data() + i, chunk) == static_cast<ssize_t>(chunk));
      i += chunk;
    }
    return 0;
  });
  auto connection = listener->accept_for(30s);
  ASSERT_TRUE(connection);
  for (std::size_t size : {0u, 1u, 70000u}) {
    auto message = connection->receive_for(30s);
    ASSERT_TRUE(message) << message.error().message();
    EXPECT_EQ(message->size(), size);
  }
  auto end = connection->receive_for(30s);
  ASSERT_FALSE(end);
  EXPECT_EQ(end.error().code(), Errc::closed);
  EXPECT_TRUE(writer.wait().ok());
}

TEST_F(TransportLimits, Framing_SendOverTheFrameLimitIsRefusedBeforeWriting) {
  auto pair = pipe_pair();
  ASSERT_TRUE(pair);
  std::vector<std::byte> too_big(transport::kMaxFrameSize + 1);
  auto sent = pair->first.send(too_big);
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().code(), Errc::message_too_large);
  EXPECT_EQ(sent.error().message(),
            "pipe: send: message of 67108865 bytes exceeds the frame limit 67108864");
  ASSERT_TRUE(pair->first.send("after"));
  auto after = pair->second.receive_for(30s);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->text(), "after");
}

TEST_F(TransportLimits, Mq_MessageSizeIsTheSystemMaximumLessTheHeader) {
  std::ifstream limit("/proc/sys/fs/mqueue/msgsize_max");
  std::size_t msgsize_max = 0;
  ASSERT_TRUE(limit >> msgsize_max);
  const std::string url = "mq://limits-" + std::to_string(::getpid());
  auto listener = listen(url);
  ASSERT_TRUE(listener) << listener.error().message();
  Child client([&] {
    auto c = connect(url);
    CHILD_CHECK(c.has_value());
    CHILD_CHECK(c->max_message_size() == msgsize_max - 16);
    std::vector<std::byte> largest(msgsize_max - 16, std::byte{1});
    CHILD_CHECK(c->send(largest).has_value());
    largest.push_back(std::byte{1});
    auto refused = c->send(largest);
    CHILD_CHECK(!refused.has_value() && refused.error().code() == Errc::message_too_large);
    return 0;
  });
  auto connection = listener->accept_for(30s);
  ASSERT_TRUE(connection) << connection.error().message();
  EXPECT_EQ(connection->max_message_size(), msgsize_max - 16);
  auto largest = connection->receive_for(30s);
  ASSERT_TRUE(largest) << largest.error().message();
  EXPECT_EQ(largest->size(), msgsize_max - 16);
  EXPECT_TRUE(client.wait().ok());
}

/// How many threads of this process bear `name` (/proc/self/task/*/comm).
int threads_named(const std::string& name) {
  int count = 0;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string line;
    if (std::getline(comm, line) && line == name) ++count;
  }
  return count;
}

TEST_F(TransportLimits, Sysv_TimedReceivesLeaveNoStrayRecordsBehind) {
  // Each timed wait arms a timer whose tick record wakes it; ticks that come late (after a
  // message) must never surface as messages or disturb the order.
  const std::string url = "sysv://" + std::to_string(::ftok(namespace_path().c_str(), 't'));
  auto listener = listen(url);
  ASSERT_TRUE(listener) << listener.error().message();
  Child echo([&] {
    auto c = connect(url);
    CHILD_CHECK(c.has_value());
    for (;;) {
      auto message = c->receive_for(2ms);  // mostly times out: a tick each time
      if (!message && message.error().code() == Errc::timed_out) continue;
      if (!message) return message.error().code() == Errc::closed ? 0 : 1;
      CHILD_CHECK(c->send(message->payload(), message->type()).has_value());
    }
  });
  auto connection = listener->accept_for(30s);
  ASSERT_TRUE(connection) << connection.error().message();
  for (int i = 0; i < 20; ++i) {
    auto nothing = connection->receive_for(1ms);
    ASSERT_FALSE(nothing);
    EXPECT_EQ(nothing.error().code(), Errc::timed_out) << nothing.error().message();
  }
  for (std::int64_t i = 0; i < 200; ++i) {
    const std::string text = "message " + std::to_string(i);
    ASSERT_TRUE(connection->send(text, i));
    if (i % 3 == 0) std::this_thread::sleep_for(3ms);  // let the echo's timer fire meanwhile
    auto back = connection->receive_for(i % 2 == 0 ? 30s : 10s);
    ASSERT_TRUE(back) << i << ": " << back.error().message();
    EXPECT_EQ(back->text(), text);
    EXPECT_EQ(back->type(), i);
  }
  connection->close();
  EXPECT_TRUE(echo.wait().ok());
}

TEST_F(TransportLimits, Sysv_TheWakerThreadEndsWithTheLastConnection) {
  // A process with no sysv:// connection runs no extra thread, so it forks single-threaded.
  const std::string waker = "conduit-sysv";
  EXPECT_EQ(threads_named(waker), 0);
  const std::string url = "sysv://" + std::to_string(::ftok(namespace_path().c_str(), 'w'));
  {
    auto listener = listen(url);
    ASSERT_TRUE(listener) << listener.error().message();
    Child client([&] {
      auto c = connect(url);
      CHILD_CHECK(c.has_value());
      CHILD_CHECK(c->send("hi").has_value());
      auto end = c->receive_for(30s);
      CHILD_CHECK(!end.has_value() && end.error().code() == Errc::closed);
      return 0;
    });
    auto connection = listener->accept_for(30s);
    ASSERT_TRUE(connection) << connection.error().message();
    EXPECT_EQ(threads_named(waker), 1);
    auto hi = connection->receive_for(30s);
    ASSERT_TRUE(hi) << hi.error().message();
    connection->close();
    EXPECT_TRUE(client.wait().ok());
  }
  EXPECT_EQ(threads_named(waker), 0);
}

TEST_F(TransportLimits, Mq_ListenerThatClosesRightAfterAcceptGivesAConnectionThatIsClosed) {
  // The close record outranks data (it must be seen behind a full queue); it must not outrank
  // the handshake's answer, or a client that reads late takes it for a malformed answer.
  const std::string name = "close-after-accept-" + std::to_string(::getpid());
  auto listener = listen("mq://" + name);
  ASSERT_TRUE(listener) << listener.error().message();
  Child client([&] {
    auto c = connect("mq://" + name);
    if (!c) std::fprintf(stderr, "child: connect: %s\n", c.error().message().c_str());
    CHILD_CHECK(c.has_value());
    auto end = c->receive_for(30s);
    CHILD_CHECK(!end.has_value() && end.error().code() == Errc::closed);
    return 0;
  });
  // Once the client's request is queued, stop it: it reads the answer only after the close
  // record is there too.
  const mqd_t requests = ::mq_open(("/" + name).c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_NE(requests, mqd_t(-1));
  for (mq_attr attributes{};
       ::mq_getattr(requests, &attributes) == 0 && attributes.mq_curmsgs == 0;) {
    std::this_thread::sleep_for(1ms);
  }
  ::mq_close(requests);
  ASSERT_EQ(::kill(client.pid(), SIGSTOP), 0);
  auto connection = listener->accept_for(30s);
  ASSERT_TRUE(connection) << connection.error().message();
  connection->close();
  ASSERT_EQ(::kill(client.pid(), SIGCONT), 0);
  EXPECT_TRUE(client.wait().ok());
}

/// Whether SIGPIPE is pending for this thread or process.
bool is_sigpipe_pending() {
  sigset_t pending;
  sigemptyset(&pending);
  ::sigpending(&pending);
  return sigismember(&pending, SIGPIPE) == 1;
}

TEST_F(TransportLimits, Pipe_WritingToAGoneReaderIsClosedAndLeavesSigpipeAsItWas) {
  // Default disposition, SIGPIPE not blocked: closed, not death, and nothing left pending.
  struct sigaction previous_action{};
  struct sigaction default_action{};
  default_action.sa_handler = SIG_DFL;
  ASSERT_EQ(::sigaction(SIGPIPE, &default_action, &previous_action), 0);
  sigset_t pipe_signal, previous_mask;
  sigemptyset(&pipe_signal);
  sigaddset(&pipe_signal, SIGPIPE);
  ASSERT_EQ(::pthread_sigmask(SIG_UNBLOCK, &pipe_signal, &previous_mask), 0);
  const auto send_to_gone_reader = [] {
    auto pair = pipe_pair();
    EXPECT_TRUE(pair);
    pair->second.close();
    auto sent = pair->first.send("anyone?");
    EXPECT_FALSE(sent);
    if (!sent) EXPECT_EQ(sent.error().code(), Errc::closed) << sent.error().message();
  };
  send_to_gone_reader();
  EXPECT_FALSE(is_sigpipe_pending());
  // Blocked by the caller, none pending: the write's SIGPIPE is taken away, the mask kept.
  ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, &pipe_signal, nullptr), 0);
  send_to_gone_reader();
  EXPECT_FALSE(is_sigpipe_pending());
  sigset_t mask;
  ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, nullptr, &mask), 0);
  EXPECT_EQ(sigismember(&mask, SIGPIPE), 1);
  // Blocked and already pending: that one stays for the caller.
  ASSERT_EQ(::pthread_kill(::pthread_self(), SIGPIPE), 0);
  send_to_gone_reader();
  EXPECT_TRUE(is_sigpipe_pending());
  const timespec zero{};
  EXPECT_EQ(::sigtimedwait(&pipe_signal, nullptr, &zero), SIGPIPE);
  ASSERT_EQ(::pthread_sigmask(SIG_SETMASK, &previous_mask, nullptr), 0);
  ASSERT_EQ(::sigaction(SIGPIPE, &previous_action, nullptr), 0);
}

TEST_F(TransportLimits, Signal_CarriesFourBytesAndNoType) {
  auto listener = listen("signal://" + std::to_string(::getpid()));
  ASSERT_TRUE(listener) << listener.error().message();
  const std::string url = listener->url();
  Child sender([&] {
    auto c = connect(url);
    CHILD_CHECK(c.has_value());
    CHILD_CHECK(c->max_message_size() == 4);
    auto five = c->send("12345");
    CHILD_CHECK(!five.has_value() && five.error().code() == Errc::message_too_large);
    auto typed = c->send("1", 3);
    CHILD_CHECK(!typed.has_value() && typed.error().code() == Errc::invalid_argument);
    CHILD_CHECK(c->send("").has_value());
    CHILD_CHECK(c->send("1234").has_value());
    c->close();
    return 0;
  });
  auto connection = listener->accept_for(30s);
  ASSERT_TRUE(connection) << connection.error().message();
  auto empty = connection->receive_for(30s);
  ASSERT_TRUE(empty) << empty.error().message();
  EXPECT_EQ(empty->size(), 0u);
  auto four = connection->receive_for(30s);
  ASSERT_TRUE(four) << four.error().message();
  EXPECT_EQ(four->text(), "1234");
  EXPECT_EQ(four->sender().pid, sender.pid());
  auto end = connection->receive_for(30s);
  ASSERT_FALSE(end);
  EXPECT_EQ(end.error().code(), Errc::closed);
  EXPECT_TRUE(sender.wait().ok());
}

TEST_F(TransportLimits, Signal_ListeningForAnotherProcessIsRefused) {
  auto listener = listen("signal://1");
  ASSERT_FALSE(listener);
  EXPECT_EQ(listener.error().code(), Errc::invalid_argument) << listener.error().message();
}

TEST_F(TransportLimits, Unix_SocketFileOfADeadListenerIsReplacedALiveOneIsInUse) {
  const std::string url = "unix://" + path("stale");
  Child dead([&]() -> int {
    auto listener = listen(url);
    CHILD_CHECK(listener.has_value());
    for (;;) ::pause();
  });
  // Wait for the child's socket file, then kill the child: the file stays behind.
  for (int i = 0; i < 10000 && ::access(path("stale").c_str(), F_OK) != 0; ++i) {
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_EQ(::access(path("stale").c_str(), F_OK), 0);
  dead.kill();
  ASSERT_EQ(::access(path("stale").c_str(), F_OK), 0);
  auto listener = listen(url);
  ASSERT_TRUE(listener) << listener.error().message();
  auto second = listen(url);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code(), Errc::already_exists) << second.error().message();
}

TEST_F(TransportLimits, Fifo_FifoOfADeadListenerIsReplaced) {
  const std::string url = "fifo://" + path("stale");
  Child dead([&]() -> int {
    auto listener = listen(url);
    CHILD_CHECK(listener.has_value());
    for (;;) ::pause();
  });
  for (int i = 0; i < 10000 && ::access(path("stale").c_str(), F_OK) != 0; ++i) {
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_EQ(::access(path("stale").c_str(), F_OK), 0);
  dead.kill();
  auto listener = listen(url);
  ASSERT_TRUE(listener) << listener.error().message();
  Child client([&] {
    auto c = connect(url);
    CHILD_CHECK(c.has_value());
    CHILD_CHECK(c->send("fresh").has_value());
    return 0;
  });
  auto connection = listener->accept_for(30s);
  ASSERT_TRUE(connection) << connection.error().message();
  auto fresh = connection->receive_for(30s);
  ASSERT_TRUE(fresh) << fresh.error().message();
  EXPECT_EQ(fresh->text(), "fresh");
  EXPECT_EQ(fresh->sender().pid, client.pid());
  EXPECT_TRUE(client.wait().ok());
}

TEST_F(TransportLimits, Unix_MessagesSayWhichProcessSentThem) {
  const std::string url = "unix://" + path("who");
  auto listener = listen(url);
  ASSERT_TRUE(listener);
  Child client([&] {
    auto c = connect(url);
    CHILD_CHECK(c.has_value());
    CHILD_CHECK(c->send("me").has_value());
    return 0;
  });
  auto connection = listener->accept_for(30s);
  ASSERT_TRUE(connection);
  auto me = connection->receive_for(30s);
  ASSERT_TRUE(me) << me.error().message();
  EXPECT_EQ(me->sender().pid, client.pid());
  EXPECT_EQ(me->sequence(), 1u);
  EXPECT_TRUE(client.wait().ok());
}

TEST_F(TransportLimits, EveryNamedListenerRefusesASecondListenerOnTheSameName) {
  const std::string unique = std::to_string(::getpid());
  for (const std::string& url : {"fifo://" + path("fifo"), "mq://twice-" + unique,
                                 std::string("shm://twice"), "file://" + path("spool"),
                                 "sysv://" + std::to_string(::ftok(namespace_path().c_str(), 't')),
                                 std::string("unix://@twice-") + unique}) {
    auto first = listen(url);
    ASSERT_TRUE(first) << url << ": " << first.error().message();
    auto second = listen(url);
    ASSERT_FALSE(second) << url;
    EXPECT_EQ(second.error().code(), Errc::already_exists) << second.error().message();
  }
}

TEST_F(TransportLimits, Tcp_PortInUseIsAlreadyExists) {
  auto first = listen("tcp://127.0.0.1:0");
  ASSERT_TRUE(first) << first.error().message();
  auto second = listen(first->url());
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code(), Errc::already_exists) << second.error().message();
}

/// Writers of the spool at `url`, one child each: writer `id` sends `words_of(id, n)` words for
/// n = 0 .. each - 1 (id, n, then id * 1000 + n as filler). The reader answers closed whenever
/// no writer is connected, so all connect before any writes: each says it is connected on
/// `connected`, then waits for `go`.
std::vector<Child> start_spool_writers(const std::string& url, std::uint32_t writers,
                                       std::uint32_t each,
                                       std::size_t (*words_of)(std::uint32_t, std::uint32_t)) {
  int connected[2], go[2];
  if (::pipe(connected) != 0 || ::pipe(go) != 0) throw std::runtime_error("pipe");
  std::vector<Child> children;
  for (std::uint32_t id = 0; id < writers; ++id) {
    children.emplace_back([&, id] {
      auto c = connect(url);
      CHILD_CHECK(c.has_value());
      char byte = 1;
      CHILD_CHECK(::write(connected[1], &byte, 1) == 1);
      CHILD_CHECK(::read(go[0], &byte, 1) == 1);
      for (std::uint32_t n = 0; n < each; ++n) {
        std::vector<std::uint32_t> words(words_of(id, n), id * 1000 + n);
        words[0] = id;
        words[1] = n;
        CHILD_CHECK(c->send(std::as_bytes(std::span(words))).has_value());
      }
      return 0;
    });
  }
  for (std::uint32_t id = 0; id < writers; ++id) {
    char byte = 0;
    if (::read(connected[0], &byte, 1) != 1) throw std::runtime_error("a writer did not connect");
  }
  const std::string bytes(writers, 'g');
  if (::write(go[1], bytes.data(), bytes.size()) != static_cast<ssize_t>(writers))
    throw std::runtime_error("go");
  for (int fd : {connected[0], connected[1], go[0], go[1]}) ::close(fd);
  return children;
}

/// Reads writers * each records of start_spool_writers: each whole, each writer's in order.
void expect_whole_records_in_order(Connection& reader, std::uint32_t writers, std::uint32_t each,
                                   std::size_t (*words_of)(std::uint32_t, std::uint32_t)) {
  std::map<std::uint32_t, std::uint32_t> next;
  for (std::uint32_t i = 0; i < writers * each; ++i) {
    auto message = reader.receive_for(30s);
    ASSERT_TRUE(message) << i << ": " << message.error().message();
    ASSERT_EQ(message->size() % 4, 0u);
    std::vector<std::uint32_t> words(message->size() / 4);
    ASSERT_GE(words.size(), 2u);
    std::memcpy(words.data(), message->payload().data(), message->size());
    const std::uint32_t id = words[0], n = words[1];
    ASSERT_LT(id, writers);
    ASSERT_EQ(n, next[id]) << "writer " << id << " out of order";
    ASSERT_EQ(words.size(), words_of(id, n));
    const auto stray = std::ranges::find_if(words.begin() + 2, words.end(),
                                            [&](std::uint32_t w) { return w != id * 1000 + n; });
    ASSERT_EQ(stray, words.end()) << "record " << n << " of writer " << id << " cut into at word "
                                  << (stray - words.begin());
    ++next[id];
  }
}

TEST_F(TransportLimits, File_SeveralWritersAppendWholeRecordsInTheirOwnOrder) {
  const std::string url = "file://" + path("spool");
  auto listener = listen(url);
  ASSERT_TRUE(listener) << listener.error().message();
  auto reader = listener->accept();
  ASSERT_TRUE(reader) << reader.error().message();
  auto another = listener->accept();
  ASSERT_FALSE(another);
  EXPECT_EQ(another.error().code(), Errc::closed);
  constexpr std::uint32_t kWriters = 4, kEach = 300;
  // Sizes that vary: whole records or nothing.
  const auto words_of = [](std::uint32_t id, std::uint32_t n) -> std::size_t {
    return 2 + (n * 13 + id) % 500;
  };
  auto writers = start_spool_writers(url, kWriters, kEach, words_of);
  expect_whole_records_in_order(*reader, kWriters, kEach, words_of);
  for (auto& writer : writers) EXPECT_TRUE(writer.wait().ok());
  auto end = reader->receive_for(30s);
  ASSERT_FALSE(end);
  EXPECT_EQ(end.error().code(), Errc::closed) << end.error().message();
}

// Records of many pages, appended at once by several writers with no lock: each lands whole
// (one O_APPEND writev each; see src/transport/file.cpp), none cut into by another's.
TEST_F(TransportLimits, File_SeveralWritersAppendLargeRecordsWhole) {
  const std::string url = "file://" + path("spool");
  auto listener = listen(url);
  ASSERT_TRUE(listener) << listener.error().message();
  auto reader = listener->accept();
  ASSERT_TRUE(reader) << reader.error().message();
  constexpr std::uint32_t kWriters = 3, kEach = 24;
  const auto words_of = [](std::uint32_t id, std::uint32_t n) -> std::size_t {
    return 2 + ((n * 7919 + id * 104729) % 150'000) + 15'000;  // 60 KiB to 660 KiB
  };
  auto writers = start_spool_writers(url, kWriters, kEach, words_of);
  expect_whole_records_in_order(*reader, kWriters, kEach, words_of);
  for (auto& writer : writers) EXPECT_TRUE(writer.wait().ok());
}

// A spool is a regular file: the whole-record guarantee rests on that.
TEST_F(TransportLimits, File_ConnectToSomethingNotARegularFileIsInvalidArgument) {
  const std::string fifo = path("not-a-spool");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const int keep_open = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK);  // so the writer's open works
  ASSERT_GE(keep_open, 0);
  auto writer = connect("file://" + fifo);
  ::close(keep_open);
  ASSERT_FALSE(writer);
  EXPECT_EQ(writer.error().code(), Errc::invalid_argument) << writer.error().message();
}

TEST_F(TransportLimits, File_RecordCutShortWithNoWriterLeftIsCorrupted) {
  const std::string url = "file://" + path("spool");
  auto listener = listen(url);
  ASSERT_TRUE(listener);
  auto reader = listener->accept();
  ASSERT_TRUE(reader);
  {
    auto writer = connect(url);
    ASSERT_TRUE(writer) << writer.error().message();
    ASSERT_TRUE(writer->send("whole"));
    ASSERT_NO_FATAL_FAILURE(append_cut_record("spool"));
  }
  auto whole = reader->receive_for(30s);
  ASSERT_TRUE(whole) << whole.error().message();
  EXPECT_EQ(whole->text(), "whole");
  auto cut = reader->receive_for(30s);
  ASSERT_FALSE(cut);
  EXPECT_EQ(cut.error().code(), Errc::corrupted) << cut.error().message();
}

// A writer cut short, then another writer's records: without the end mark each record
// carries, the reader would take the torn record's 100 bytes from its own 3 and the next
// writer's, and hand them out as one message.
TEST_F(TransportLimits, File_RecordCutShortThatOthersFollowIsCorruptedNotMerged) {
  const std::string url = "file://" + path("spool");
  auto listener = listen(url);
  ASSERT_TRUE(listener);
  auto reader = listener->accept();
  ASSERT_TRUE(reader);
  auto first = connect(url);
  ASSERT_TRUE(first) << first.error().message();
  ASSERT_TRUE(first->send("whole"));
  ASSERT_NO_FATAL_FAILURE(append_cut_record("spool"));
  auto second = connect(url);
  ASSERT_TRUE(second) << second.error().message();
  ASSERT_TRUE(second->send(std::string(200, 'y')));
  auto whole = reader->receive_for(30s);
  ASSERT_TRUE(whole) << whole.error().message();
  EXPECT_EQ(whole->text(), "whole");
  for (int look = 0; look < 2; ++look) {  // and it stays there, as a framed stream out of step
    auto torn = reader->receive_for(30s);
    ASSERT_FALSE(torn) << "a message of " << torn->size() << " bytes";
    EXPECT_EQ(torn.error().code(), Errc::corrupted);
    EXPECT_NE(torn.error().message().find("has no end mark"), std::string::npos)
        << torn.error().message();
  }
}

TEST_F(TransportLimits, ClosedAndEmptyHandlesAnswerClosed) {
  Connection none;
  EXPECT_EQ(none.send("x").error().code(), Errc::closed);
  EXPECT_EQ(none.receive().error().code(), Errc::closed);
  Listener nobody;
  EXPECT_EQ(nobody.accept().error().code(), Errc::closed);
  auto pair = pipe_pair();
  ASSERT_TRUE(pair);
  pair->first.close();
  EXPECT_EQ(pair->first.send("x").error().code(), Errc::closed);
  EXPECT_EQ(pair->second.receive_for(30s).error().code(), Errc::closed);
  EXPECT_EQ(pair->second.send("x").error().code(), Errc::closed);
  EXPECT_EQ(pair->second.send("x", -1).error().code(), Errc::invalid_argument);
}

TEST_F(TransportLimits, BadUrlsAreInvalidArgumentBeforeAnythingIsMade) {
  EXPECT_EQ(listen("tcp://host:99999").error().message(),
            "tcp://host:99999: port 99999 out of range (at character 12)");
  EXPECT_EQ(connect("carrier-pigeon://x").error().code(), Errc::invalid_argument);
}

}  // namespace
}  // namespace conduit
