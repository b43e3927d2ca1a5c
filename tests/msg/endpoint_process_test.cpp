#include "conduit/msg/endpoint.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include "conduit/core/digest.hpp"
#include "conduit/msg/endpoint_layout.hpp"
#include "conduit/shm/shared_memory.hpp"
#include "process.hpp"

namespace conduit {
namespace {

using test::Child;
using namespace std::chrono_literals;

class EndpointTest : public test::ProcessTest {
 protected:
  // Waits until endpoint `name` exists (another process joined it).
  static bool await_endpoint(std::string_view name) {
    auto probe = Endpoint::join("probe");
    for (int i = 0; i < 5000; ++i) {
      auto sent = probe->try_send(name, "");
      if (sent || sent.error().code() != Errc::not_found) return true;
      ::usleep(1000);
    }
    return false;
  }
};

/// A child that joins `name` (after `delay`), sends `peer` the numbers first..last - 1, and
/// stays joined until `peer` answers `answer`.
Child numbers_to(std::string name, std::string peer, std::uint64_t first, std::uint64_t last,
                 std::string answer, std::chrono::milliseconds delay = 0ms,
                 EndpointOptions options = {}) {
  return Child([=] {
    std::this_thread::sleep_for(delay);
    auto me = Endpoint::join(name, options);
    CHILD_CHECK(me.has_value());
    for (std::uint64_t i = first; i < last; ++i)
      CHILD_CHECK(me->send(peer, bytes_of(i)).has_value());
    auto reply = me->receive_from(peer);
    CHILD_CHECK(reply && reply->text() == answer);
    return 0;
  });
}

std::uint64_t number_in(const Message& message) {
  std::uint64_t value = 0;
  std::memcpy(&value, message.payload().data(), std::min(sizeof value, message.size()));
  return value;
}

TEST_F(EndpointTest, UnknownPeerIsNotFoundAndBadNamesInvalid) {
  auto me = Endpoint::join("me");
  ASSERT_TRUE(me) << me.error().message();
  auto sent = me->send("nobody", "hi");
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().code(), Errc::not_found);
  EXPECT_EQ(sent.error().message(), "endpoint 'me': send: no endpoint 'nobody'");
  EXPECT_EQ(me->send("a/b", "hi").error().code(), Errc::invalid_argument);
  EXPECT_EQ(Endpoint::join("a#b").error().code(), Errc::invalid_argument);
  // Receives check a name they do not know yet (a linked peer's was checked when it linked).
  ASSERT_TRUE(me->send("me", "to myself"));
  ASSERT_TRUE(me->receive_from("me"));
  EXPECT_EQ(me->try_receive_from("a/b").error().code(), Errc::invalid_argument);
  EXPECT_EQ(me->receive_from_for("", std::chrono::milliseconds(10)).error().code(),
            Errc::invalid_argument);
}

TEST_F(EndpointTest, NameIsTakenWhileItsProcessLivesAndFreeAfter) {
  auto first = Endpoint::join("server");
  ASSERT_TRUE(first);
  EXPECT_EQ(Endpoint::join("server").error().code(), Errc::already_exists);
  auto exit = test::run_in_child([] { return Endpoint::join("worker") ? 0 : 1; });
  ASSERT_TRUE(exit.ok());
  EXPECT_TRUE(Endpoint::join("worker")) << "the child's endpoint died with it";
}

TEST_F(EndpointTest, SymmetricReceiveFromKeepsOrderAndNamesTheSender) {
  auto b = Endpoint::join("b");
  ASSERT_TRUE(b);
  Child a = numbers_to("a", "b", 0, 5000, "thanks");
  for (std::uint64_t i = 0; i < 5000; ++i) {
    auto message = b->receive_from_for("a", 30s);
    ASSERT_TRUE(message) << message.error().message();
    ASSERT_EQ(number_in(*message), i);
    EXPECT_EQ(message->sender_name(), "a");
    EXPECT_EQ(message->sender().pid, a.pid());
  }
  ASSERT_TRUE(b->send("a", "thanks"));
  EXPECT_TRUE(a.wait().ok());
}

// Messages name their senders with strings the process keeps (shared_name_of): a message
// that outlives both endpoints still names its sender, and so does a copy of it.
TEST_F(EndpointTest, AMessageNamesItsSenderAfterBothEndpointsLeft) {
  std::optional<Message> kept;
  {
    auto receiver = Endpoint::join("receiver");
    auto sender = Endpoint::join("a-sender-with-a-name-too-long-for-small-strings");
    ASSERT_TRUE(receiver && sender);
    ASSERT_TRUE(sender->send("receiver", "hello"));
    auto message = receiver->receive_for(5s);
    ASSERT_TRUE(message) << message.error().message();
    kept = *message;
  }
  const Message copy = *kept;
  kept.reset();
  EXPECT_EQ(copy.sender_name(), "a-sender-with-a-name-too-long-for-small-strings");
  EXPECT_EQ(copy.text(), "hello");
}

// A child forked while another thread of its parent meets new peers can meet its own: the
// kept names' lock is not left held in it.
TEST_F(EndpointTest, AChildForkedWhileAThreadMeetsPeersMeetsItsOwn) {
  std::atomic<bool> stop = false;
  std::thread meeting([&] {
    for (int i = 0; !stop.load(); ++i) {  // each hub meets a new peer
      auto hub = Endpoint::join(fmt::format("hub-{}", i));
      auto visitor = Endpoint::join(fmt::format("visitor-{}", i));
      if (hub && visitor && visitor->send(hub->name(), "hi")) (void)hub->receive_for(1s);
    }
  });
  for (int round = 0; round < 100; ++round) {
    auto exit = test::run_in_child([round] {
      auto child = Endpoint::join(fmt::format("child-{}", round));
      auto peer = Endpoint::join(fmt::format("child-peer-{}", round));
      if (!child || !peer || !peer->send(child->name(), "x")) return 1;
      auto got = child->receive_for(5s);
      return got && got->sender_name() == peer->name() ? 0 : 2;
    });
    EXPECT_TRUE(exit.ok()) << "round " << round;
  }
  stop = true;
  meeting.join();
}

TEST_F(EndpointTest, ReceiveFromTakesOnlyItsPeersMessagesAndWaitsForAPeerNotLinkedYet) {
  auto server = Endpoint::join("server");
  ASSERT_TRUE(server);
  Child early = numbers_to("early", "server", 0, 3, "done");
  // "late" joins a while later (most likely once "early"'s messages wait): receive_from
  // ("late") waits for a peer that has no link yet, and passes the other peer's messages by.
  Child late = numbers_to("late", "server", 100, 103, "done", 100ms);
  auto first = server->receive_from_for("late", 30s);
  ASSERT_TRUE(first) << first.error().message();
  EXPECT_EQ(number_in(*first), 100u);
  EXPECT_EQ(first->sender_name(), "late");
  // Alternating between the two peers: each keeps its own order.
  for (std::uint64_t i = 0; i < 3; ++i) {
    auto from_early = server->receive_from_for("early", 30s);
    ASSERT_TRUE(from_early) << from_early.error().message();
    EXPECT_EQ(number_in(*from_early), i);
    EXPECT_EQ(from_early->sender_name(), "early");
    if (i == 2) break;
    auto from_late = server->receive_from_for("late", 30s);
    ASSERT_TRUE(from_late) << from_late.error().message();
    EXPECT_EQ(number_in(*from_late), 101 + i);
  }
  EXPECT_EQ(server->try_receive_from("early").error().code(), Errc::would_block);
  ASSERT_TRUE(server->send("early", "done"));
  ASSERT_TRUE(server->send("late", "done"));
  EXPECT_TRUE(early.wait().ok());
  EXPECT_TRUE(late.wait().ok());
}

TEST_F(EndpointTest, AsymmetricReceiveSaysWhoSentEachMessage) {
  auto server = Endpoint::join("server");
  ASSERT_TRUE(server);
  std::vector<Child> clients;
  for (const char* name : {"c1", "c2", "c3"}) {
    clients.emplace_back([name] {
      auto me = Endpoint::join(name);
      CHILD_CHECK(me.has_value());
      for (int i = 0; i < 300; ++i) CHILD_CHECK(me->send("server", name).has_value());
      auto done = me->receive_from("server");  // stay joined until the server read everything
      CHILD_CHECK(done.has_value());
      return 0;
    });
  }
  std::map<std::string, int> counts;
  for (int i = 0; i < 900; ++i) {
    auto message = server->receive_for(20s);
    ASSERT_TRUE(message) << message.error().message();
    EXPECT_EQ(message->text(), message->sender_name()) << "each client sends its own name";
    ++counts[message->sender_name()];
  }
  EXPECT_EQ(counts, (std::map<std::string, int>{{"c1", 300}, {"c2", 300}, {"c3", 300}}));
  for (const char* name : {"c1", "c2", "c3"}) ASSERT_TRUE(server->send(name, "done"));
  for (auto& client : clients) EXPECT_TRUE(client.wait().ok());
}

TEST_F(EndpointTest, ExactlyOneLinkPerDirectionOfAPair) {
  auto a = Endpoint::join("a");
  auto b = Endpoint::join("b");
  ASSERT_TRUE(a && b);
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(a->send("b", "x"));
    ASSERT_TRUE(b->send("a", "y"));
    ASSERT_TRUE(b->receive_from("a"));
    ASSERT_TRUE(a->receive());
  }
  std::set<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(namespace_path()))
    files.insert(entry.path().filename().string());
  EXPECT_EQ(files, (std::set<std::string>{"a", "b", "a#b#1", "b#a#1"}));
}

TEST_F(EndpointTest, MessagesOfAPeerThatDiedCanStillBeReadThenClosed) {
  auto b = Endpoint::join("b");
  ASSERT_TRUE(b);
  auto exit = test::run_in_child([]() -> int {
    auto me = Endpoint::join("a");
    CHILD_CHECK(me.has_value());
    for (std::uint64_t i = 0; i < 10; ++i) CHILD_CHECK(me->send("b", bytes_of(i)).has_value());
    ::_exit(0);  // dies without leaving properly
  });
  ASSERT_TRUE(exit.ok());
  for (std::uint64_t i = 0; i < 10; ++i) {
    auto message = b->receive_from("a");
    ASSERT_TRUE(message) << message.error().message();
    EXPECT_EQ(number_in(*message), i);
  }
  auto after = b->receive_from_for("a", 5s);
  ASSERT_FALSE(after);
  EXPECT_EQ(after.error().code(), Errc::closed) << after.error().message();
}

// A peer that leaves: the receiver stops polling its link once it is empty (after
// kRetireInterval per link), answers receive_from with closed, and hears the peer again when
// it joins once more under its name (here from the same process, on a link of a new generation).
TEST_F(EndpointTest, APeerThatLeftAndJoinedAgainIsHeardAgain) {
  auto server = Endpoint::join("server");
  ASSERT_TRUE(server);
  Child visitor([] {
    {
      auto me = Endpoint::join("visitor");
      CHILD_CHECK(me.has_value());
      CHILD_CHECK(me->send("server", "first").has_value());
    }  // left
    std::this_thread::sleep_for(500ms);  // while the server polls and finds it gone
    auto again = Endpoint::join("visitor");
    CHILD_CHECK(again.has_value());
    CHILD_CHECK(again->send("server", "second").has_value());
    CHILD_CHECK(again->receive_from("server").has_value());  // stay until read
    return 0;
  });
  auto first = server->receive_for(30s);
  ASSERT_TRUE(first) << first.error().message();
  EXPECT_EQ(first->text(), "first");
  // Polls with nothing there while the visitor is away (the polls let its link go).
  Result<Message> second = std::unexpected(Error(Errc::would_block, "none yet"));
  for (auto until = std::chrono::steady_clock::now() + 30s;
       !second && std::chrono::steady_clock::now() < until;) {
    second = server->try_receive();
    if (!second) ASSERT_EQ(second.error().code(), Errc::would_block) << second.error().message();
  }
  ASSERT_TRUE(second) << second.error().message();
  EXPECT_EQ(second->text(), "second");
  EXPECT_EQ(second->sender_name(), "visitor");
  ASSERT_TRUE(server->send("visitor", "done"));
  EXPECT_TRUE(visitor.wait().ok());
  auto gone = server->receive_from_for("visitor", 5s);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code(), Errc::closed) << gone.error().message();
}

/// A peer's name taken by one new process after another (one killed, one that left, one that
/// stays): each has a link of its own (a pair link takes no third process), and the receiver
/// reads what each sent, in that order, though it read nothing while they came and went.
/// `links`: the path of their links but the generation ("<namespace>/server#client#").
void heard_in_order(const std::string& server_name, const std::string& client_name,
                    const std::string& links) {
  auto server = Endpoint::join(server_name);
  ASSERT_TRUE(server) << server.error().message();
  const auto numbers_then = [&](std::uint64_t first, bool is_killed) {
    return test::run_in_child([=]() -> int {
      auto me = Endpoint::join(client_name);
      CHILD_CHECK(me.has_value());
      for (std::uint64_t i = first; i < first + 10; ++i)
        CHILD_CHECK(me->send(server_name, bytes_of(i)).has_value());
      if (is_killed) ::_exit(0);  // dies without leaving
      return 0;                   // leaves
    });
  };
  ASSERT_TRUE(numbers_then(0, true).ok());
  ASSERT_TRUE(numbers_then(10, false).ok());
  Child staying = numbers_to(client_name, server_name, 20, 30, "done");
  while (!std::filesystem::exists(links + "3")) ::usleep(1000);  // the watchdog bounds it
  for (std::uint64_t i = 0; i < 30; ++i) {
    auto message = server->receive_from_for(client_name, 30s);
    ASSERT_TRUE(message) << i << ": " << message.error().message();
    ASSERT_EQ(number_in(*message), i);
    EXPECT_EQ(message->sender_name(), client_name);
  }
  // The links of the two that are gone were removed once read.
  EXPECT_FALSE(std::filesystem::exists(links + "1"));
  EXPECT_FALSE(std::filesystem::exists(links + "2"));
  ASSERT_TRUE(server->send(client_name, "done"));
  EXPECT_TRUE(staying.wait().ok());
}

TEST_F(EndpointTest, NewProcessesUnderAPeersNameAreHeardInOrder) {
  heard_in_order("server", "client", namespace_path() + "/server#client#");
}

// Two names of 200 characters would make a link's name longer than a file name may be: the
// link is named after a digest of the sender's name (endpoint_layout.hpp), and everything
// works as with short names.
TEST_F(EndpointTest, PeersWithTheLongestNamesLinkAndComeBack) {
  const std::string server(kMaxNameLength, 's');
  const std::string client(kMaxNameLength, 'c');
  heard_in_order(server, client,
                 fmt::format("{}/{}#{:016x}#long#", namespace_path(), server, fnv1a_64(client)));
}

// An unbounded link grows by extensions named after it: their names fit too, for the longest
// names and for names just short enough to be linked by name.
TEST_F(EndpointTest, UnboundedLinksOfLongNamesGrow) {
  for (const std::size_t length : {std::size_t{120}, kMaxNameLength}) {
    const std::string server(length, 's');
    const std::string client(length - 1, 'c');
    const EndpointOptions options{.capacity = Capacity::unbounded()};
    auto me = Endpoint::join(server, options);
    ASSERT_TRUE(me) << me.error().message();
    constexpr std::uint64_t kCount = 1000;  // beyond the first slots: extensions are made
    Child sender = numbers_to(client, server, 0, kCount, "done", 0ms, options);
    // Read once the link grew (the watchdog bounds the wait).
    const auto has_grown = [&] {
      for (const auto& entry : std::filesystem::directory_iterator(namespace_path()))
        if (entry.path().filename().string().ends_with("#x1")) return true;
      return false;
    };
    while (!has_grown()) ::usleep(1000);
    for (std::uint64_t i = 0; i < kCount; ++i) {
      auto message = me->receive_from_for(client, 30s);
      ASSERT_TRUE(message) << length << ", " << i << ": " << message.error().message();
      ASSERT_EQ(number_in(*message), i);
    }
    ASSERT_TRUE(me->send(client, "done"));
    EXPECT_TRUE(sender.wait().ok());
  }
}

// Peers that send and leave: everything each sent is read, in its order, and once found empty
// each link is removed at once (a peer that leaves says so; one that dies is found gone later,
// a look per kRetireInterval), so a receive does not poll the links of peers long gone.
TEST_F(EndpointTest, PeersThatLeaveAreReadAndTheirLinksGoAtOnce) {
  auto server = Endpoint::join("server");
  ASSERT_TRUE(server);
  constexpr std::uint64_t kPeers = 20, kEach = 3;
  for (std::uint64_t peer = 0; peer < kPeers; ++peer) {
    auto exit = test::run_in_child([peer]() -> int {
      auto me = Endpoint::join(fmt::format("c{}", peer));
      CHILD_CHECK(me.has_value());
      for (std::uint64_t i = 0; i < kEach; ++i)
        CHILD_CHECK(me->send("server", bytes_of(peer * kEach + i)).has_value());
      return 0;  // leaves
    });
    ASSERT_TRUE(exit.ok());
  }
  std::map<std::string, std::uint64_t> read;  // per peer
  for (std::uint64_t i = 0; i < kPeers * kEach; ++i) {
    auto message = server->receive_for(30s);
    ASSERT_TRUE(message) << i << ": " << message.error().message();
    const std::string sender(message->sender_name());
    EXPECT_EQ(number_in(*message), std::stoull(sender.substr(1)) * kEach + read[sender]++);
  }
  EXPECT_EQ(read.size(), kPeers);
  EXPECT_EQ(server->try_receive().error().code(), Errc::would_block);
  for (const auto& entry : std::filesystem::directory_iterator(namespace_path()))
    EXPECT_FALSE(entry.path().filename().string().starts_with("server#")) << entry.path();
}

// A receiver killed and its name joined again: a sender's send says closed, then reaches the
// new process, which gets nothing that was sent to the killed one (its links went with it).
TEST_F(EndpointTest, AReceiverKilledAndJoinedAgainIsReachedAgain) {
  Child first([]() -> int {
    auto me = Endpoint::join("b");
    CHILD_CHECK(me.has_value());
    for (;;) ::pause();
  });
  ASSERT_TRUE(await_endpoint("b"));
  auto a = Endpoint::join("a");
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->send("b", "lost"));
  first.kill();
  Result<void> sent;
  for (int i = 0; i < 200 && sent; ++i) sent = a->send_for("b", "lost", 1s);
  ASSERT_FALSE(sent);
  ASSERT_EQ(sent.error().code(), Errc::closed) << sent.error().message();
  Child second([]() -> int {
    auto me = Endpoint::join("b");
    CHILD_CHECK(me.has_value());
    auto message = me->receive_from("a");
    CHILD_CHECK(message && message->text() == "found");
    CHILD_CHECK(me->send("a", "got it").has_value());
    CHILD_CHECK(me->receive_from("a").has_value());  // stay until the answer is read
    return 0;
  });
  ASSERT_TRUE(await_endpoint("b"));
  ASSERT_TRUE(a->send("b", "found"));
  auto answer = a->receive_from_for("b", 30s);
  ASSERT_TRUE(answer) << answer.error().message();
  EXPECT_EQ(answer->text(), "got it");
  ASSERT_TRUE(a->send("b", "bye"));
  EXPECT_TRUE(second.wait().ok());
}

/// A child that starts `count` clients "client-<n>" one after another, each sending "server"
/// its n and then leaving (or dying without leaving, for odd n when `are_odd_killed`). A send
/// that is limit_reached (the server has no entry free yet) is tried again for up to 10 s.
Child clients_one_after_another(std::uint64_t count, bool are_odd_killed) {
  return Child([=] {
    for (std::uint64_t n = 0; n < count; ++n) {
      auto exit = test::run_in_child([=]() -> int {
        auto me = Endpoint::join(fmt::format("client-{}", n));
        CHILD_CHECK(me.has_value());
        Result<void> sent = me->send("server", bytes_of(n));
        for (int tries = 0; !sent && sent.error().code() == Errc::limit_reached && tries < 1000;
             ++tries) {
          ::usleep(10'000);
          sent = me->send("server", bytes_of(n));
        }
        if (!sent)
          std::fprintf(stderr, "client-%llu: %s\n", static_cast<unsigned long long>(n),
                       sent.error().message().c_str());
        CHILD_CHECK(sent.has_value());
        if (are_odd_killed && n % 2 == 1) ::_exit(0);  // dies without leaving
        return 0;                                      // leaves
      });
      CHILD_CHECK(exit.ok());
    }
    return 0;
  });
}

// More distinct peers, one after another, than an endpoint has entries (kMaxPeers): once all
// are used, a new peer takes over the entry of one that is gone and was read. Until the
// receiver offered one (it looks at one entry per 10 ms while it waits), a send is
// limit_reached.
TEST_F(EndpointTest, PeersThatCameAndWentLeaveTheirEntriesToNewOnes) {
  constexpr std::uint64_t kClients = msg::kMaxPeers + 64;
  auto server = Endpoint::join("server");
  ASSERT_TRUE(server);
  Child clients = clients_one_after_another(kClients, false);
  std::set<std::uint64_t> heard;
  for (std::uint64_t i = 0; i < kClients; ++i) {
    auto message = server->receive_for(30s);
    ASSERT_TRUE(message) << i << ": " << message.error().message();
    const std::uint64_t n = number_in(*message);
    EXPECT_EQ(message->sender_name(), fmt::format("client-{}", n));
    EXPECT_TRUE(heard.insert(n).second) << n << " twice";
  }
  EXPECT_EQ(heard.size(), kClients);
  EXPECT_TRUE(clients.wait(120s).ok());
}

// As above, for a server that only ever receives from a peer it names: the entries of peers
// that came and went (half of them killed) are offered all the same (receive_from looks for
// them too).
TEST_F(EndpointTest, AServerThatReceivesFromNamedPeersOnlyReusesEntriesToo) {
  constexpr std::uint64_t kClients = msg::kMaxPeers + 16;
  auto server = Endpoint::join("server");
  ASSERT_TRUE(server);
  Child clients = clients_one_after_another(kClients, true);
  for (std::uint64_t n = 0; n < kClients; ++n) {
    auto message = server->receive_from_for(fmt::format("client-{}", n), 30s);
    ASSERT_TRUE(message) << n << ": " << message.error().message();
    EXPECT_EQ(number_in(*message), n);
  }
  EXPECT_TRUE(clients.wait(120s).ok());
}

TEST_F(EndpointTest, PollingReceiveFromNoticesAPeerThatWasKilled) {
  auto b = Endpoint::join("b");  // before the child sends to it
  ASSERT_TRUE(b);
  Child a([]() -> int {
    auto me = Endpoint::join("a");
    CHILD_CHECK(me.has_value());
    CHILD_CHECK(me->send("b", "hello").has_value());
    for (;;) ::pause();
  });
  auto first = b->receive_from_for("a", 30s);
  ASSERT_TRUE(first) << first.error().message();
  // Empty polls of a live peer: would_block (the peer is looked up only now and then).
  for (int i = 0; i < 1000; ++i) {
    auto polled = b->try_receive_from("a");
    ASSERT_FALSE(polled);
    ASSERT_EQ(polled.error().code(), Errc::would_block) << polled.error().message();
  }
  EXPECT_EQ(a.kill().signal, SIGKILL);
  Result<Message> polled = fail(Errc::would_block, "not polled yet");
  while (!polled && polled.error().code() == Errc::would_block) {  // the watchdog bounds it
    polled = b->try_receive_from("a");
    if (!polled && polled.error().code() == Errc::would_block) ::usleep(100);
  }
  ASSERT_FALSE(polled);
  EXPECT_EQ(polled.error().code(), Errc::closed) << polled.error().message();
}

TEST_F(EndpointTest, SendingToAPeerThatWasKilledIsClosed) {
  Child b([]() -> int {
    auto me = Endpoint::join("b", {.capacity = Capacity::bounded(4)});
    CHILD_CHECK(me.has_value());
    for (;;) ::pause();
  });
  ASSERT_TRUE(await_endpoint("b"));
  auto a = Endpoint::join("a");
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->send("b", "before"));
  b.kill();
  Result<void> sent;
  for (int i = 0; i < 200 && sent; ++i) sent = a->send_for("b", "after", 1s);
  ASSERT_FALSE(sent) << "sends to a dead endpoint kept succeeding";
  EXPECT_EQ(sent.error().code(), Errc::closed) << sent.error().message();
}

TEST_F(EndpointTest, TimedAndTryFormsTimeOutAndWouldBlock) {
  auto a = Endpoint::join("a");
  auto b = Endpoint::join("b", {.capacity = Capacity::bounded(1)});
  ASSERT_TRUE(a && b);
  EXPECT_EQ(b->try_receive().error().code(), Errc::would_block);
  EXPECT_EQ(b->receive_for(20ms).error().code(), Errc::timed_out);
  EXPECT_EQ(b->receive_from_for("a", 20ms).error().code(), Errc::timed_out);
  ASSERT_TRUE(a->try_send("b", "one"));  // a's links have a's capacity: 64
  auto one = b->try_receive_from("a");
  ASSERT_TRUE(one);
  EXPECT_EQ(one->text(), "one");
  ASSERT_TRUE(b->try_send("a", "x"));
  EXPECT_EQ(b->try_send("a", "y").error().code(), Errc::would_block) << "b's links hold 1";
  EXPECT_EQ(b->send_for("a", "y", 20ms).error().code(), Errc::timed_out);
}

TEST_F(EndpointTest, ZeroCapacityLinkIsARendezvous) {
  std::optional<SharedMemory> keep;
  auto memory = SharedMemory::anonymous(sizeof(std::atomic<int>));
  ASSERT_TRUE(memory);
  auto* receiving = reinterpret_cast<std::atomic<int>*>(memory->bytes().data());
  auto b = Endpoint::join("b");
  ASSERT_TRUE(b);
  Child a([&] {
    auto me = Endpoint::join("a", {.capacity = Capacity::zero()});
    CHILD_CHECK(me.has_value());
    CHILD_CHECK(me->send("b", "meet").has_value());
    CHILD_CHECK(receiving->load() == 1);
    return 0;
  });
  ::usleep(100000);
  receiving->store(1);
  auto got = b->receive_from("a");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->text(), "meet");
  EXPECT_TRUE(a.wait().ok());
}

// The receiver sleeps on its endpoint's doorbell, not on the link's mailbox: before the fix a
// zero-capacity link's mailbox never saw it waiting, so every try_send was would_block ("no
// receiver is waiting") while it waited; and a blocking send woke it only at its next
// liveness slice (50 ms a message).
TEST_F(EndpointTest, ZeroCapacityTrySendReachesAReceiverWaitingInReceive) {
  auto b = Endpoint::join("b");
  ASSERT_TRUE(b);
  Child a([] {
    auto me = Endpoint::join("a", {.capacity = Capacity::zero()});
    CHILD_CHECK(me.has_value());
    CHILD_CHECK(me->send("b", "link").has_value());  // the link exists from here on
    for (int message = 0; message < 3; ++message) {
      bool is_sent = false;
      for (int attempt = 0; attempt < 3000 && !is_sent; ++attempt) {
        auto sent = me->try_send("b", "now");
        is_sent = sent.has_value();
        if (!is_sent) {
          CHILD_CHECK(sent.error().code() == Errc::would_block);
          ::usleep(1000);
        }
      }
      CHILD_CHECK(is_sent);
    }
    return 0;
  });
  auto link = b->receive_from_for("a", 30s);
  ASSERT_TRUE(link) << link.error().message();
  for (int message = 0; message < 3; ++message) {
    auto got = message % 2 == 0 ? b->receive_for(30s) : b->receive_from_for("a", 30s);
    ASSERT_TRUE(got) << got.error().message();
    EXPECT_EQ(got->text(), "now");
  }
  EXPECT_TRUE(a.wait().ok());
}

}  // namespace
}  // namespace conduit
