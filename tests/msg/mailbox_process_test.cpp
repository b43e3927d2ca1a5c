#include "conduit/msg/mailbox.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "conduit/shm/shared_memory.hpp"
#include "process.hpp"

namespace conduit {
namespace {

using test::Child;
using test::run_in_child;
using namespace std::chrono_literals;

class MailboxTest : public test::ProcessTest {};

template <class T>
T* shared_array(std::optional<SharedMemory>& keep, std::size_t count) {
  auto memory = SharedMemory::anonymous(sizeof(T) * count);
  EXPECT_TRUE(memory);
  keep.emplace(std::move(*memory));
  return reinterpret_cast<T*>(keep->bytes().data());
}

std::uint64_t number_in(const Message& message) {
  std::uint64_t value = 0;
  std::memcpy(&value, message.payload().data(), std::min(sizeof value, message.size()));
  return value;
}

TEST_F(MailboxTest, CreateOpenRemoveAndTheirErrors) {
  EXPECT_EQ(Mailbox::create("a/b").error().code(), Errc::invalid_argument);
  EXPECT_EQ(Mailbox::open("missing").error().code(), Errc::not_found);
  EXPECT_EQ(Mailbox::open("missing").error().message(), "mailbox 'missing': open: not found");
  ASSERT_TRUE(Mailbox::create("jobs"));
  EXPECT_EQ(Mailbox::create("jobs").error().code(), Errc::already_exists);
  EXPECT_EQ(Mailbox::create("zero-bounded", {.capacity = Capacity::bounded(0)}).error().code(),
            Errc::invalid_argument);
  EXPECT_EQ(Mailbox::create("no-size", {.max_message_size = 0}).error().code(),
            Errc::invalid_argument);
  ASSERT_TRUE(Mailbox::remove("jobs"));
  EXPECT_EQ(Mailbox::open("jobs").error().code(), Errc::not_found);
  EXPECT_EQ(Mailbox::remove("jobs").error().code(), Errc::not_found);
}

TEST_F(MailboxTest, OversizedMessageIsRefusedAndSaysSo) {
  auto box = Mailbox::create("jobs", {.max_message_size = 4096});
  ASSERT_TRUE(box);
  std::vector<std::byte> big(9000);
  auto sent = box->send(big);
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().code(), Errc::message_too_large);
  EXPECT_EQ(sent.error().message(),
            "mailbox 'jobs': send: message of 9000 bytes exceeds max_message_size 4096");
  std::vector<std::byte> exact(4096, std::byte{7});
  ASSERT_TRUE(box->send(exact));
  auto got = box->receive();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->size(), 4096u);
}

TEST_F(MailboxTest, BoundedHoldsExactlyNMessages) {
  auto box = Mailbox::create("three", {.capacity = Capacity::bounded(3)});
  ASSERT_TRUE(box);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(box->try_send("m")) << i;
  auto full = box->try_send("m");
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().code(), Errc::would_block);
  EXPECT_EQ(box->send_for("m", 20ms).error().code(), Errc::timed_out);
  const auto stats = box->stats();
  EXPECT_EQ(stats.depth, 3u);
  EXPECT_EQ(stats.capacity, Capacity::bounded(3));
  EXPECT_EQ(stats.sent, 3u);
  EXPECT_EQ(stats.would_block, 1u);
  ASSERT_TRUE(box->try_receive());
  EXPECT_TRUE(box->try_send("m"));
}

TEST_F(MailboxTest, ReceiveForTimesOutAndTryReceiveWouldBlock) {
  auto box = Mailbox::create("quiet");
  ASSERT_TRUE(box);
  EXPECT_EQ(box->try_receive().error().code(), Errc::would_block);
  EXPECT_EQ(box->receive_for(30ms).error().code(), Errc::timed_out);
}

TEST_F(MailboxTest, BoundedBufferProducerConsumerKeepsOrder) {
  ASSERT_TRUE(Mailbox::create("buffer", {.capacity = Capacity::bounded(8)}));
  constexpr std::uint64_t kCount = 20000;
  Child producer([] {
    auto box = Mailbox::open("buffer");
    CHILD_CHECK(box.has_value());
    for (std::uint64_t i = 0; i < kCount; ++i) CHILD_CHECK(box->send(bytes_of(i)).has_value());
    return 0;
  });
  auto box = Mailbox::open("buffer");
  ASSERT_TRUE(box);
  for (std::uint64_t i = 0; i < kCount; ++i) {
    auto message = box->receive_for(30s);
    ASSERT_TRUE(message) << message.error().message();
    ASSERT_EQ(number_in(*message), i);
    EXPECT_EQ(message->sender().pid, producer.pid());
  }
  EXPECT_TRUE(producer.wait().ok());
}

TEST_F(MailboxTest, ConsumerSendsNEmptiesFlowControl) {
  // The textbook protocol: the consumer first sends N empty messages; the producer takes an
  // empty before each item it sends, so at most N items are ever outstanding.
  constexpr int kN = 4;
  constexpr std::uint64_t kItems = 2000;
  ASSERT_TRUE(Mailbox::create("items", {.capacity = Capacity::bounded(64)}));
  ASSERT_TRUE(Mailbox::create("empties", {.capacity = Capacity::bounded(64)}));
  Child producer([] {
    auto items = Mailbox::open("items");
    auto empties = Mailbox::open("empties");
    CHILD_CHECK(items && empties);
    for (std::uint64_t i = 0; i < kItems; ++i) {
      CHILD_CHECK(empties->receive().has_value());
      CHILD_CHECK(items->send(bytes_of(i)).has_value());
    }
    return 0;
  });
  auto items = Mailbox::open("items");
  auto empties = Mailbox::open("empties");
  ASSERT_TRUE(items && empties);
  for (int i = 0; i < kN; ++i) ASSERT_TRUE(empties->send(""));
  for (std::uint64_t i = 0; i < kItems; ++i) {
    auto item = items->receive_for(30s);  // not for ever: a failed producer must fail the test
    ASSERT_TRUE(item);
    ASSERT_EQ(number_in(*item), i);
    EXPECT_LE(items->stats().depth, static_cast<std::size_t>(kN));
    ASSERT_TRUE(empties->send(""));
  }
  EXPECT_TRUE(producer.wait().ok());
}

TEST_F(MailboxTest, ZeroCapacitySendReturnsOnlyAfterReceive) {
  ASSERT_TRUE(Mailbox::create("meet", {.capacity = Capacity::zero()}));
  std::optional<SharedMemory> keep;
  auto* receiving = shared_array<std::atomic<int>>(keep, 1);
  Child receiver([&] {
    auto box = Mailbox::open("meet");
    CHILD_CHECK(box.has_value());
    ::usleep(100000);  // the sender is blocked meanwhile
    receiving->store(1);
    auto message = box->receive();
    CHILD_CHECK(message && message->text() == "hello");
    return 0;
  });
  auto box = Mailbox::open("meet");
  ASSERT_TRUE(box);
  ASSERT_TRUE(box->send("hello"));
  EXPECT_EQ(receiving->load(), 1) << "send returned before any receiver took the message";
  EXPECT_TRUE(receiver.wait().ok());
  EXPECT_EQ(box->stats().depth, 0u);
}

TEST_F(MailboxTest, ZeroCapacitySendForWithNobodyTimesOutAndLeavesNothingBehind) {
  auto box = Mailbox::create("alone", {.capacity = Capacity::zero()});
  ASSERT_TRUE(box);
  EXPECT_EQ(box->send_for("lost?", 30ms).error().code(), Errc::timed_out);
  EXPECT_EQ(box->try_send("lost?").error().code(), Errc::would_block);
  EXPECT_EQ(box->stats().depth, 0u);
  EXPECT_EQ(box->try_receive().error().code(), Errc::would_block) << "the message was left behind";
}

TEST_F(MailboxTest, SelectiveReceiveFollowsMsgrcv) {
  auto box = Mailbox::create("typed");
  ASSERT_TRUE(box);
  const std::pair<std::int64_t, const char*> sent[] = {{5, "a"}, {3, "b"}, {7, "c"},
                                                       {3, "d"}, {1, "e"}, {2, "f"}};
  for (const auto& [type, text] : sent) ASSERT_TRUE(box->send(text, type));
  auto of_three = box->receive(3);
  ASSERT_TRUE(of_three);
  EXPECT_EQ(of_three->text(), "b") << "the oldest of type 3";
  EXPECT_EQ(of_three->type(), 3);
  auto lowest = box->receive(-4);
  ASSERT_TRUE(lowest);
  EXPECT_EQ(lowest->text(), "e") << "the lowest type <= 4";
  auto next_lowest = box->receive(-4);
  ASSERT_TRUE(next_lowest);
  EXPECT_EQ(next_lowest->text(), "f");
  EXPECT_EQ(box->try_receive(42).error().code(), Errc::would_block);
  auto oldest = box->receive(0);
  ASSERT_TRUE(oldest);
  EXPECT_EQ(oldest->text(), "a") << "0 takes the oldest of any type";
  EXPECT_EQ(box->receive(-3)->text(), "d");
  EXPECT_EQ(box->receive()->text(), "c");
}

TEST_F(MailboxTest, SelectiveReceiveWaitsForItsType) {
  ASSERT_TRUE(Mailbox::create("typed"));
  Child sender([] {
    auto box = Mailbox::open("typed");
    CHILD_CHECK(box.has_value());
    CHILD_CHECK(box->send("other", 1).has_value());
    ::usleep(20000);
    CHILD_CHECK(box->send("mine", 9).has_value());
    return 0;
  });
  auto box = Mailbox::open("typed");
  ASSERT_TRUE(box);
  auto mine = box->receive_for(10s, 9);
  ASSERT_TRUE(mine) << mine.error().message();
  EXPECT_EQ(mine->text(), "mine");
  EXPECT_EQ(box->receive()->text(), "other");
  EXPECT_TRUE(sender.wait().ok());
}

TEST_F(MailboxTest, AnyOneDeliversEachMessageToExactlyOneReceiverWithReceipts) {
  constexpr int kReceivers = 3;
  constexpr std::uint64_t kMessages = 30000;
  ASSERT_TRUE(Mailbox::create("work", {.capacity = Capacity::bounded(64)}));
  std::optional<SharedMemory> keep;
  // seen[i] counts deliveries of message i; per-receiver totals after them.
  auto* seen = shared_array<std::atomic<std::uint32_t>>(keep, kMessages + kReceivers);
  std::vector<Child> receivers;
  for (int r = 0; r < kReceivers; ++r) {
    receivers.emplace_back([&, r] {
      auto box = Mailbox::open("work");
      CHILD_CHECK(box.has_value());
      for (;;) {
        auto message = box->receive();
        CHILD_CHECK(message.has_value());
        const std::uint64_t id = number_in(*message);
        if (id == ~std::uint64_t{0}) return 0;
        CHILD_CHECK(id < kMessages);
        seen[id].fetch_add(1);
        seen[kMessages + r].fetch_add(1);
      }
    });
  }
  auto box = Mailbox::open("work");
  ASSERT_TRUE(box);
  std::set<pid_t> pids;
  for (const auto& child : receivers) pids.insert(child.pid());
  for (std::uint64_t i = 0; i < kMessages; ++i) {
    if (i % 100 == 0) {
      auto receipt = box->send_and_wait(bytes_of(i));
      ASSERT_TRUE(receipt) << receipt.error().message();
      EXPECT_TRUE(pids.contains(receipt->receiver.pid))
          << "receipt names pid " << receipt->receiver.pid;
      EXPECT_TRUE(alive(receipt->receiver));
    } else {
      ASSERT_TRUE(box->send(bytes_of(i)));
    }
  }
  for (int r = 0; r < kReceivers; ++r) ASSERT_TRUE(box->send(bytes_of(~std::uint64_t{0})));
  for (auto& child : receivers) EXPECT_TRUE(child.wait().ok());
  for (std::uint64_t i = 0; i < kMessages; ++i) ASSERT_EQ(seen[i].load(), 1u) << "message " << i;
  std::uint64_t total = 0;
  for (int r = 0; r < kReceivers; ++r) {
    std::printf("receiver %d took %u messages\n", r, seen[kMessages + r].load());
    EXPECT_GT(seen[kMessages + r].load(), 0u) << "every ready receiver gets a share";
    total += seen[kMessages + r].load();
  }
  EXPECT_EQ(total, kMessages);
}

TEST_F(MailboxTest, BroadcastGivesEveryReceiverEveryMessage) {
  constexpr int kReceivers = 3;
  constexpr std::uint64_t kMessages = 500;
  auto box = Mailbox::create(
      "news", {.capacity = Capacity::bounded(16), .receivers = Receivers::broadcast});
  ASSERT_TRUE(box);
  std::vector<Child> receivers;
  for (int r = 0; r < kReceivers; ++r) {
    receivers.emplace_back([] {
      auto mine = Mailbox::open("news");
      CHILD_CHECK(mine.has_value());
      for (std::uint64_t i = 0; i < kMessages; ++i) {
        auto message = mine->receive();
        CHILD_CHECK(message.has_value());
        CHILD_CHECK(number_in(*message) == i);
      }
      return 0;
    });
  }
  // Every receiver attached (at open) before the first send.
  for (int i = 0; i < 10000 && box->stats().receivers_attached.size() < kReceivers; ++i)
    ::usleep(1000);
  ASSERT_EQ(box->stats().receivers_attached.size(), static_cast<std::size_t>(kReceivers));
  for (std::uint64_t i = 0; i < kMessages; ++i) ASSERT_TRUE(box->send(bytes_of(i)));
  for (auto& child : receivers) EXPECT_TRUE(child.wait().ok());
  EXPECT_EQ(box->stats().received, kMessages * kReceivers);
}

TEST_F(MailboxTest, PairRefusesAThirdProcess) {
  ASSERT_TRUE(Mailbox::create("link", {.receivers = Receivers::pair}));
  auto second = run_in_child([] { return Mailbox::open("link") ? 0 : 1; });
  EXPECT_TRUE(second.ok()) << second.describe();
  auto third = run_in_child([] {
    auto box = Mailbox::open("link");
    CHILD_CHECK(!box);
    return box.error().code() == Errc::permission_denied ? 0 : 2;
  });
  EXPECT_TRUE(third.ok()) << "a pair joins two processes, ever: " << third.describe();
}

TEST_F(MailboxTest, ExclusiveAllowsOneReceivingProcessAtATime) {
  auto box = Mailbox::create("solo", {.receivers = Receivers::exclusive});
  ASSERT_TRUE(box);
  ASSERT_TRUE(box->send("one"));
  ASSERT_TRUE(box->receive());  // this process holds the receiving end now
  auto other = run_in_child([] {
    auto mine = Mailbox::open("solo");
    CHILD_CHECK(mine.has_value());
    auto got = mine->try_receive();
    CHILD_CHECK(!got);
    return got.error().code() == Errc::permission_denied ? 0 : 2;
  });
  EXPECT_TRUE(other.ok()) << other.describe();
}

TEST_F(MailboxTest, ExclusiveHoldPassesOnWhenTheHolderDies) {
  ASSERT_TRUE(Mailbox::create("solo", {.receivers = Receivers::exclusive}));
  std::optional<SharedMemory> keep;
  auto* holding = shared_array<std::atomic<int>>(keep, 1);
  Child holder([&]() -> int {
    auto mine = Mailbox::open("solo");
    CHILD_CHECK(mine.has_value());
    CHILD_CHECK(mine->try_receive().error().code() == Errc::would_block);  // now the receiver
    holding->store(1);
    (void)mine->receive();  // holds it while blocked
    return 0;
  });
  while (holding->load() == 0) ::usleep(1000);
  auto box = Mailbox::open("solo");
  ASSERT_TRUE(box);
  auto refused = box->try_receive();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), Errc::permission_denied) << refused.error().message();
  holder.kill();
  ASSERT_TRUE(box->send("after"));
  auto got = box->receive_for(5s);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(got->text(), "after");
}

TEST_F(MailboxTest, ProcessLifetimeMailboxVanishesWithItsCreatorAndWakesReceivers) {
  std::optional<SharedMemory> keep;
  auto* flags = shared_array<std::atomic<int>>(keep, 2);  // [0] created, [1] opened
  Child creator([&]() -> int {
    auto box = Mailbox::create("owned", {.lifetime = Lifetime::process});
    CHILD_CHECK(box.has_value());
    flags[0].store(1);
    for (;;) ::pause();
  });
  while (flags[0].load() == 0) ::usleep(1000);
  Child receiver([&] {
    auto box = Mailbox::open("owned");
    CHILD_CHECK(box.has_value());
    flags[1].store(1);
    auto got = box->receive();  // blocks until the owner dies
    CHILD_CHECK(!got);
    return got.error().code() == Errc::owner_died ? 0 : 2;
  });
  // Killed only once the receiver has it open (else its open finds nothing); most likely
  // asleep in receive by the end of the pause, and if not, its receive finds the owner dead.
  while (flags[1].load() == 0) ::usleep(1000);
  ::usleep(50000);
  creator.kill();
  auto exit = receiver.wait(10s);
  EXPECT_TRUE(exit.ok()) << exit.describe();
  EXPECT_EQ(Mailbox::open("owned").error().code(), Errc::not_found);
}

TEST_F(MailboxTest, RemoveWakesBlockedReceiversWithClosed) {
  ASSERT_TRUE(Mailbox::create("doomed"));
  std::optional<SharedMemory> keep;
  auto* opened = shared_array<std::atomic<int>>(keep, 1);
  Child receiver([&] {
    auto box = Mailbox::open("doomed");
    CHILD_CHECK(box.has_value());
    opened->store(1);
    auto got = box->receive();
    CHILD_CHECK(!got);
    return got.error().code() == Errc::closed ? 0 : 2;
  });
  while (opened->load() == 0) ::usleep(1000);  // removed before its open, it would find nothing
  ::usleep(50000);
  ASSERT_TRUE(Mailbox::remove("doomed"));
  auto exit = receiver.wait(10s);
  EXPECT_TRUE(exit.ok()) << exit.describe();
}

// A sender SIGKILLed at random moments, restarted each time. Each incarnation numbers its
// messages in a range of its own and writes each number to a pipe only after send() returned:
// that log lives outside shared memory. Every logged message must be received exactly once,
// and no message may be torn (its checksum fails) or duplicated.
TEST_F(MailboxTest, SenderKilledAtRandomLosesDuplicatesAndTearsNothing) {
  constexpr int kKills = 50;
  constexpr std::size_t kPayload = 512;
  auto box =
      Mailbox::create("torture", {.capacity = Capacity::bounded(32), .max_message_size = 1024});
  ASSERT_TRUE(box);
  int log[2];
  ASSERT_EQ(::pipe2(log, O_NONBLOCK), 0);
  std::mt19937 random(7);
  std::set<std::uint64_t> received;
  std::set<std::uint64_t> logged;
  std::uint64_t torn = 0;
  std::uint64_t duplicates = 0;
  const auto drain = [&] {
    std::uint64_t logged_id = 0;
    while (::read(log[0], &logged_id, sizeof logged_id) == sizeof logged_id)
      logged.insert(logged_id);
    while (auto message = box->try_receive()) {
      const auto bytes = message->payload();
      std::uint64_t id = 0;
      std::memcpy(&id, bytes.data(), sizeof id);
      bool is_intact = bytes.size() == kPayload;
      for (std::size_t i = sizeof id; is_intact && i < bytes.size(); ++i)
        is_intact = bytes[i] == std::byte(id * 31 + i);
      if (!is_intact) ++torn;
      if (!received.insert(id).second) ++duplicates;
    }
  };
  for (int round = 0; round < kKills; ++round) {
    Child sender([&, round] {
      ::close(log[0]);
      auto mine = Mailbox::open("torture");
      CHILD_CHECK(mine.has_value());
      std::vector<std::byte> payload(kPayload);
      for (std::uint64_t n = 0;; ++n) {
        const std::uint64_t id = (std::uint64_t(round) << 32) | n;
        std::memcpy(payload.data(), &id, sizeof id);
        for (std::size_t i = sizeof id; i < kPayload; ++i) payload[i] = std::byte(id * 31 + i);
        if (mine->send(payload)) {
          // The log is non-blocking for the parent's reads only; the child waits for room.
          while (::write(log[1], &id, sizeof id) != sizeof id) ::usleep(100);
        }
      }
      return 0;
    });
    // The random while starts once this incarnation has sent: a sender that a loaded machine
    // starts late (a sanitizer build's fork copies a large shadow mapping) is otherwise killed
    // before its first message in every round, and the test proves nothing.
    const std::size_t before = received.size();
    const auto started_by = std::chrono::steady_clock::now() + 10s;
    while (received.size() == before && std::chrono::steady_clock::now() < started_by) drain();
    // Keep the mailbox moving while it sends, for a random while, then kill it mid-stream.
    const auto until =
        std::chrono::steady_clock::now() + std::chrono::microseconds(random() % 5000);
    while (std::chrono::steady_clock::now() < until) drain();
    sender.kill();
    drain();
  }
  ::close(log[1]);
  std::uint64_t id = 0;
  while (::read(log[0], &id, sizeof id) == sizeof id) logged.insert(id);
  ::close(log[0]);
  drain();
  std::printf("kills %d, logged sends %zu, received %zu, torn %llu, duplicates %llu\n", kKills,
              logged.size(), received.size(), static_cast<unsigned long long>(torn),
              static_cast<unsigned long long>(duplicates));
  EXPECT_EQ(torn, 0u);
  EXPECT_EQ(duplicates, 0u);
  std::uint64_t lost = 0;
  for (const auto logged_id : logged) lost += received.contains(logged_id) ? 0 : 1;
  EXPECT_EQ(lost, 0u) << "of " << logged.size() << " logged sends";
  EXPECT_GT(logged.size(), 0u);
}

}  // namespace
}  // namespace conduit

namespace conduit {
namespace {

class UnboundedMailboxTest : public test::ProcessTest {};

TEST_F(UnboundedMailboxTest, TwoHundredThousandMessagesWithNoReceiverNeverBlock) {
  constexpr std::uint64_t kCount = 200000;
  auto box = Mailbox::create("heap", {.capacity = Capacity::unbounded(), .max_message_size = 64});
  ASSERT_TRUE(box) << box.error().message();
  auto exit = test::run_in_child([] {
    auto mine = Mailbox::open("heap");
    CHILD_CHECK(mine.has_value());
    for (std::uint64_t i = 0; i < kCount; ++i) {
      auto sent = mine->try_send(bytes_of(i));  // unbounded: never would_block
      if (!sent) std::fprintf(stderr, "%s\n", sent.error().message().c_str());
      CHILD_CHECK(sent.has_value());
    }
    return 0;
  });
  ASSERT_TRUE(exit.ok()) << exit.describe();
  const auto stats = box->stats();
  EXPECT_EQ(stats.depth, kCount);
  EXPECT_GE(stats.slots, kCount);
  for (std::uint64_t i = 0; i < kCount; ++i) {
    auto message = box->try_receive();
    ASSERT_TRUE(message) << i << ": " << message.error().message();
    ASSERT_EQ(number_in(*message), i);
  }
  EXPECT_EQ(box->try_receive().error().code(), Errc::would_block);
  // The extensions go with the mailbox.
  ASSERT_TRUE(Mailbox::remove("heap"));
  EXPECT_TRUE(std::filesystem::is_empty(namespace_path()));
}

TEST_F(UnboundedMailboxTest, GrowthRunsIntoLimitReachedNotACrash) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to mount a small tmpfs";
  // In a mount namespace of its own, a 4 MiB tmpfs stands in for a full /dev/shm.
  const std::string small = namespace_path() + "-small";
  auto exit = test::run_in_child([&] {
    if (::unshare(CLONE_NEWNS) != 0) return 77;
    CHILD_CHECK(::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0);
    CHILD_CHECK(::mkdir(small.c_str(), 0700) == 0);
    CHILD_CHECK(::mount("tmpfs", small.c_str(), "tmpfs", 0, "size=4m,mode=0700") == 0);
    ::setenv("CONDUIT_NAMESPACE", small.c_str(), 1);
    auto box =
        Mailbox::create("greedy", {.capacity = Capacity::unbounded(), .max_message_size = 1024});
    CHILD_CHECK(box.has_value());
    Result<void> sent;
    std::uint64_t count = 0;
    for (; count < 100000 && sent; ++count) sent = box->try_send("x");
    CHILD_CHECK(!sent);
    std::fprintf(stderr, "after %llu messages: %s\n", static_cast<unsigned long long>(count),
                 sent.error().message().c_str());
    CHILD_CHECK(sent.error().code() == Errc::limit_reached);
    CHILD_CHECK(box->try_receive().has_value());  // what was sent is still there
    CHILD_CHECK(box->try_send("y").has_value());  // and a freed slot takes a new one
    return 0;
  });
  std::filesystem::remove(small);
  if (exit.code == 77) GTEST_SKIP() << "cannot make a mount namespace here";
  EXPECT_TRUE(exit.ok()) << exit.describe();
}

}  // namespace
}  // namespace conduit
