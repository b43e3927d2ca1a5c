// Channel<T> across processes: order, many producers, close, producers and consumers that die,
// zero copy. Every blocking call in the parent has a timeout or a watchdog: a hang fails.
#include "conduit/msg/channel.hpp"

#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "checked_item.hpp"
#include "conduit/ring/lane_ring.hpp"
#include "conduit/shm/segment.hpp"
#include "conduit/shm/shared_memory.hpp"
#include "conduit/sync/wait.hpp"
#include "process.hpp"

namespace conduit {
namespace {

using test::Child;
using namespace std::chrono_literals;

class ChannelProcessTest : public test::ProcessTest {};

using Item = test::CheckedItem;

template <class T>
T* shared_value(std::optional<SharedMemory>& keep) {
  auto memory = SharedMemory::anonymous(sizeof(T));
  EXPECT_TRUE(memory);
  keep.emplace(std::move(*memory));
  return ::new (keep->bytes().data()) T();
}

TEST_F(ChannelProcessTest, SingleProducer_TwoMillionItemsArriveInOrder) {
  ASSERT_TRUE(Channel<std::uint64_t>::create("spsc", {.capacity = 4096}));
  constexpr std::uint64_t kCount = 2'000'000;
  Child producer([] {
    auto channel = Channel<std::uint64_t>::open("spsc");
    CHILD_CHECK(channel.has_value());
    std::uint64_t next = 0;
    std::array<std::uint64_t, 64> batch{};
    while (next < kCount) {
      if (next % 3 == 0) {  // mix single sends and batches
        CHILD_CHECK(channel->send(next).has_value());
        ++next;
        continue;
      }
      const std::size_t n = std::min<std::uint64_t>(batch.size(), kCount - next);
      for (std::size_t k = 0; k < n; ++k) batch[k] = next + k;
      const std::size_t sent = channel->try_send_batch(std::span(batch).first(n));
      if (sent == 0) ::sched_yield();  // full: let the consumer run
      next += sent;
    }
    return 0;
  });
  auto channel = Channel<std::uint64_t>::open("spsc");
  ASSERT_TRUE(channel);
  std::uint64_t expected = 0;
  std::array<std::uint64_t, 100> batch{};
  while (expected < kCount) {
    if (expected % 2 == 0) {
      auto got = channel->receive_for(30s);
      ASSERT_TRUE(got) << got.error().message();
      ASSERT_EQ(*got, expected);
      ++expected;
    } else {
      const std::size_t n = channel->try_receive_batch(batch);
      if (n == 0) ::sched_yield();
      for (std::size_t k = 0; k < n; ++k) ASSERT_EQ(batch[k], expected + k);
      expected += n;
    }
  }
  EXPECT_TRUE(producer.wait().ok());
  EXPECT_EQ(channel->try_receive().error().code(), Errc::would_block);
}

TEST_F(ChannelProcessTest, SleepingPingPong_EveryWakeUpArrives) {
  // No spinning: every receive that finds nothing sleeps, and every send must wake it. A lost
  // wake-up costs a 50 ms liveness slice; 5,000 of them would outlast the watchdog. `down` has
  // many lanes (the consumer polls them), `up` one, and capacity 1 makes senders sleep too.
  ASSERT_TRUE(Channel<std::uint64_t>::create(
      "down", {.capacity = 1, .producers = Producers::many, .max_producers = 4}));
  ASSERT_TRUE(Channel<std::uint64_t>::create("up", {.capacity = 1}));
  constexpr std::uint64_t kRoundTrips = 5'000;
  sync::set_spin_rounds(0);
  Child server([] {
    auto down = Channel<std::uint64_t>::open("down");
    auto up = Channel<std::uint64_t>::open("up");
    CHILD_CHECK(down.has_value() && up.has_value());
    for (std::uint64_t i = 0; i < kRoundTrips; ++i) {
      auto got = down->receive();
      CHILD_CHECK(got.has_value() && *got == i);
      CHILD_CHECK(up->send(*got + 1).has_value());
    }
    return 0;
  });
  auto down = Channel<std::uint64_t>::open("down");
  auto up = Channel<std::uint64_t>::open("up");
  ASSERT_TRUE(down && up);
  for (std::uint64_t i = 0; i < kRoundTrips; ++i) {
    ASSERT_TRUE(down->send(i));
    auto got = up->receive_for(30s);
    ASSERT_TRUE(got) << got.error().message();
    ASSERT_EQ(*got, i + 1);
  }
  sync::set_spin_rounds(sync::kSpinRounds);
  const auto exit = server.wait(120s);
  EXPECT_TRUE(exit.ok()) << exit.describe();
}

// Both sides of one channel of capacity 1 sleep in turn: the consumer on an empty ring, the
// producer on a full one, each woken by the other's publish or release. Every wake-up races
// with the sleeper's flag; a lost one costs a 50 ms liveness slice, so a protocol that loses
// more than about one in ten outlasts the watchdog (the sync tests, whose slices last an hour,
// turn a single lost wake-up into a hang). Run with each wake fencing: the asymmetric one (no
// fence on the fast side, a membarrier in the sleeper) and the symmetric one.
void stream_while_sleeping_in_turn(sync::WakeFencing fencing) {
  ASSERT_TRUE(Channel<std::uint64_t>::create("turns", {.capacity = 1, .wake_fencing = fencing}));
  constexpr std::uint64_t kRecords = 20'000;
  Child producer([] {
    // A few spin rounds now and then, so the sleeper flags itself at ever different moments
    // of the other side's publish.
    std::minstd_rand random(std::random_device{}());
    auto channel = Channel<std::uint64_t>::open("turns");
    CHILD_CHECK(channel.has_value());
    for (std::uint64_t i = 0; i < kRecords; ++i) {
      sync::set_spin_rounds(random() % 4 == 0 ? random() % 8 : 0);
      CHILD_CHECK(channel->send(i).has_value());
    }
    return 0;
  });
  std::minstd_rand random(std::random_device{}());
  auto channel = Channel<std::uint64_t>::open("turns");
  ASSERT_TRUE(channel);
  for (std::uint64_t i = 0; i < kRecords; ++i) {
    sync::set_spin_rounds(random() % 4 == 0 ? random() % 8 : 0);
    auto got = channel->receive_for(30s);
    ASSERT_TRUE(got) << got.error().message();
    ASSERT_EQ(*got, i);
  }
  sync::set_spin_rounds(sync::kSpinRounds);
  const auto exit = producer.wait(120s);
  EXPECT_TRUE(exit.ok()) << exit.describe();
  EXPECT_EQ(channel->try_receive().error().code(), Errc::would_block);
}

TEST_F(ChannelProcessTest, SleepingInTurn_Asymmetric_NoWakeUpLost) {
  stream_while_sleeping_in_turn(sync::WakeFencing::asymmetric);
}

TEST_F(ChannelProcessTest, SleepingInTurn_Symmetric_NoWakeUpLost) {
  stream_while_sleeping_in_turn(sync::WakeFencing::symmetric);
}

TEST_F(ChannelProcessTest, TwoProducers_EachInOrder_NothingLostOrDuplicated) {
  ASSERT_TRUE(Channel<Item>::create("mpsc", {.capacity = 1024, .producers = Producers::many}));
  constexpr std::uint64_t kPerProducer = 500'000;
  std::vector<Child> producers;
  for (std::uint32_t source = 0; source < 2; ++source) {
    producers.emplace_back([source] {
      auto channel = Channel<Item>::open("mpsc");
      CHILD_CHECK(channel.has_value());
      for (std::uint64_t i = 0; i < kPerProducer; ++i)
        CHILD_CHECK(channel->send(Item::make(source, i)).has_value());
      return 0;
    });
  }
  auto channel = Channel<Item>::open("mpsc");
  ASSERT_TRUE(channel);
  std::uint64_t next[2] = {0, 0};
  std::uint64_t sequence_sum = 0;
  for (std::uint64_t received = 0; received < 2 * kPerProducer; ++received) {
    auto item = channel->receive_for(30s);
    ASSERT_TRUE(item) << item.error().message();
    ASSERT_TRUE(item->check());
    ASSERT_LT(item->source, 2u);
    ASSERT_EQ(item->sequence, next[item->source]) << "from producer " << item->source;
    ++next[item->source];
    sequence_sum += item->sequence;
  }
  EXPECT_EQ(sequence_sum, 2 * (kPerProducer * (kPerProducer - 1) / 2));
  for (auto& producer : producers) EXPECT_TRUE(producer.wait().ok());
  EXPECT_EQ(channel->try_receive().error().code(), Errc::would_block) << "one too many";
}

TEST_F(ChannelProcessTest, CloseInAnotherProcess_ReceiverDrainsThenGetsClosed) {
  ASSERT_TRUE(Channel<int>::create("bye", {.capacity = 16}));
  Child producer([] {
    auto channel = Channel<int>::open("bye");
    CHILD_CHECK(channel.has_value());
    for (int i = 0; i < 10; ++i) CHILD_CHECK(channel->send(i).has_value());
    channel->close();
    CHILD_CHECK(channel->send(10).error().code() == Errc::closed);
    return 0;
  });
  auto channel = Channel<int>::open("bye");
  ASSERT_TRUE(channel);
  for (int i = 0; i < 10; ++i) {
    auto got = channel->receive_for(30s);
    ASSERT_TRUE(got) << got.error().message();
    EXPECT_EQ(*got, i);
  }
  auto end = channel->receive_for(30s);
  ASSERT_FALSE(end);
  EXPECT_EQ(end.error().code(), Errc::closed);
  EXPECT_TRUE(producer.wait().ok());
}

TEST_F(ChannelProcessTest, CloseWakesABlockedReceiverAndABlockedSender) {
  ASSERT_TRUE(Channel<int>::create("wake-receiver", {.capacity = 1}));
  ASSERT_TRUE(Channel<int>::create("wake-sender", {.capacity = 1}));
  Child receiver([] {
    auto channel = Channel<int>::open("wake-receiver");
    CHILD_CHECK(channel.has_value());
    auto got = channel->receive();  // blocks until the close
    CHILD_CHECK(!got && got.error().code() == Errc::closed);
    return 0;
  });
  auto to_sender = Channel<int>::open("wake-sender");
  ASSERT_TRUE(to_sender);
  ASSERT_TRUE(to_sender->try_receive().error().code() == Errc::would_block);  // the consumer
  Child sender([] {
    auto channel = Channel<int>::open("wake-sender");
    CHILD_CHECK(channel.has_value());
    Result<void> sent;
    for (int i = 0; sent; ++i) sent = channel->send(i);  // the second blocks (full) until the close
    CHILD_CHECK(sent.error().code() == Errc::closed);
    return 0;
  });
  auto to_receiver = Channel<int>::open("wake-receiver");
  ASSERT_TRUE(to_receiver);
  std::this_thread::sleep_for(50ms);  // let them block (the test passes either way)
  to_receiver->close();
  to_sender->close();
  EXPECT_TRUE(receiver.wait().ok());
  EXPECT_TRUE(sender.wait().ok());
}

// A producer SIGKILLed at 100 random moments while a steady producer keeps sending: the
// consumer never hangs, never receives a torn item, and each producer's items arrive in
// order without gaps; the steady producer's all arrive. Lanes of the dead are reclaimed (there
// are only 3 lanes for 101 producers).
TEST_F(ChannelProcessTest, ProducerKilledAtRandomMoments_NoHangNoTornItem) {
  ASSERT_TRUE(Channel<Item>::create(
      "victims", {.capacity = 64, .producers = Producers::many, .max_producers = 3}));
  constexpr std::uint32_t kVictims = 100;
  constexpr std::uint32_t kSteady = kVictims;  // the steady producer's source number
  constexpr std::uint64_t kSteadyCount = 20'000;
  Child steady([] {
    auto channel = Channel<Item>::open("victims");
    CHILD_CHECK(channel.has_value());
    for (std::uint64_t i = 0; i < kSteadyCount; ++i) {
      CHILD_CHECK(channel->send(Item::make(kSteady, i)).has_value());
      if (i % 256 == 0) ::usleep(200);  // stretch it over the victims' lives
    }
    return 0;
  });
  auto channel = Channel<Item>::open("victims");
  ASSERT_TRUE(channel);
  std::vector<std::uint64_t> next(kVictims + 1, 0);
  std::mt19937 random(12345);
  const auto receive_one = [&]() -> bool {
    auto item = channel->receive_for(30s);
    EXPECT_TRUE(item) << item.error().message();
    if (!item) return false;
    EXPECT_TRUE(item->check()) << "a torn item from source " << item->source;
    EXPECT_LE(item->source, kVictims);
    if (!item->check() || item->source > kVictims) return false;
    EXPECT_EQ(item->sequence, next[item->source]) << "source " << item->source;
    next[item->source] = item->sequence + 1;
    return true;
  };
  // Each victim says when it has the channel open, and its random moment to die counts from
  // there. A victim killed before it opened (a child can start slowly, under TSan) leaves the
  // channel nothing to notice: if all did, no producer would have died in it.
  std::optional<SharedMemory> keep;
  auto* opened = shared_value<std::atomic<std::uint32_t>>(keep);
  for (std::uint32_t victim = 0; victim < kVictims; ++victim) {
    Child producer([victim, opened]() -> int {
      auto channel = Channel<Item>::open("victims");
      CHILD_CHECK(channel.has_value());
      opened->store(victim + 1, std::memory_order_release);
      for (std::uint64_t i = 0;; ++i) {
        auto sent = channel->send(Item::make(victim, i));
        CHILD_CHECK(sent.has_value());
      }
    });
    while (opened->load(std::memory_order_acquire) != victim + 1)
      ::usleep(50);  // the watchdog bounds it
    // Let it run a random while, draining meanwhile, then kill it wherever it is.
    const int receives = std::uniform_int_distribution<int>(0, 300)(random);
    for (int r = 0; r < receives; ++r)
      if (!receive_one()) return;
    ::usleep(std::uniform_int_distribution<int>(0, 300)(random));
    const auto exit = producer.kill();
    EXPECT_EQ(exit.signal, SIGKILL) << exit.describe();
  }
  // Everything the steady producer sent arrives; whatever the victims published too.
  while (next[kSteady] < kSteadyCount)
    if (!receive_one()) return;
  EXPECT_TRUE(steady.wait().ok());
  for (;;) {
    auto item = channel->receive_for(30s);
    if (!item) {
      // All producers are gone and at least one died: closed, not a hang.
      EXPECT_EQ(item.error().code(), Errc::closed) << item.error().message();
      break;
    }
    ASSERT_TRUE(item->check());
    ASSERT_EQ(item->sequence, next[item->source]);
    next[item->source] = item->sequence + 1;
  }
}

TEST_F(ChannelProcessTest, BlockedProducerNoticesConsumerDeath) {
  ASSERT_TRUE(Channel<int>::create("orphan", {.capacity = 4}));
  std::optional<SharedMemory> keep;
  auto* is_consumer = shared_value<std::atomic<int>>(keep);
  Child consumer([is_consumer] {
    auto channel = Channel<int>::open("orphan");
    CHILD_CHECK(channel.has_value());
    CHILD_CHECK(channel->receive().has_value());  // now the consumer
    is_consumer->store(1);
    ::pause();
    return 0;
  });
  auto channel = Channel<int>::open("orphan");
  ASSERT_TRUE(channel);
  ASSERT_TRUE(channel->send(0));
  while (is_consumer->load() == 0) std::this_thread::sleep_for(1ms);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(channel->send(i));  // full now
  std::thread killer([&] {
    std::this_thread::sleep_for(100ms);
    (void)consumer.kill();
  });
  auto sent = channel->send(5);  // blocks: only the consumer's death can end it
  killer.join();
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().code(), Errc::closed) << sent.error().message();
}

TEST_F(ChannelProcessTest, BlockedConsumerNoticesProducerDeath) {
  ASSERT_TRUE(Channel<int>::create("silent"));
  Child producer([] {
    auto channel = Channel<int>::open("silent");
    CHILD_CHECK(channel.has_value());
    for (int i = 0; i < 3; ++i) CHILD_CHECK(channel->send(i).has_value());
    ::pause();
    return 0;
  });
  auto channel = Channel<int>::open("silent");
  ASSERT_TRUE(channel);
  for (int i = 0; i < 3; ++i) {
    auto got = channel->receive_for(30s);
    ASSERT_TRUE(got) << got.error().message();
    EXPECT_EQ(*got, i);
  }
  std::thread killer([&] {
    std::this_thread::sleep_for(100ms);
    (void)producer.kill();
  });
  auto got = channel->receive();  // blocks: only the producer's death can end it
  killer.join();
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code(), Errc::closed) << got.error().message();
}

// The peer never took its role (it opened the channel, then died before receiving or
// sending): a sleeper still learns that nobody is left.
TEST_F(ChannelProcessTest, BlockedProducerNoticesDeathOfAConsumerThatNeverReceived) {
  ASSERT_TRUE(Channel<int>::create("never-received", {.capacity = 2}));
  std::optional<SharedMemory> keep;
  auto* is_open = shared_value<std::atomic<int>>(keep);
  Child consumer([is_open] {
    auto channel = Channel<int>::open("never-received");
    CHILD_CHECK(channel.has_value());
    is_open->store(1);
    ::pause();
    return 0;
  });
  auto channel = Channel<int>::open("never-received");
  ASSERT_TRUE(channel);
  while (is_open->load() == 0) std::this_thread::sleep_for(1ms);
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(channel->send(i));  // full now
  std::thread killer([&] {
    std::this_thread::sleep_for(100ms);
    (void)consumer.kill();
  });
  auto sent = channel->send(2);
  killer.join();
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().code(), Errc::closed) << sent.error().message();
}

TEST_F(ChannelProcessTest, BlockedConsumerNoticesDeathOfAProducerThatNeverSent) {
  ASSERT_TRUE(Channel<int>::create("never-sent"));
  std::optional<SharedMemory> keep;
  auto* is_open = shared_value<std::atomic<int>>(keep);
  Child producer([is_open] {
    auto channel = Channel<int>::open("never-sent");
    CHILD_CHECK(channel.has_value());
    is_open->store(1);
    ::pause();
    return 0;
  });
  auto channel = Channel<int>::open("never-sent");
  ASSERT_TRUE(channel);
  while (is_open->load() == 0) std::this_thread::sleep_for(1ms);
  std::thread killer([&] {
    std::this_thread::sleep_for(100ms);
    (void)producer.kill();
  });
  auto got = channel->receive();
  killer.join();
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code(), Errc::closed) << got.error().message();
}

TEST_F(ChannelProcessTest, ANewConsumerTakesOverFromADeadOne) {
  ASSERT_TRUE(Channel<int>::create("relay", {.capacity = 8}));
  {
    auto channel = Channel<int>::open("relay");
    ASSERT_TRUE(channel);
    for (int i = 0; i < 6; ++i) ASSERT_TRUE(channel->send(i));
  }
  Child first([]() -> int {
    auto channel = Channel<int>::open("relay");
    CHILD_CHECK(channel.has_value());
    CHILD_CHECK(channel->receive() == 0);
    auto view = channel->receive_view();  // dies holding it: the record is not consumed
    CHILD_CHECK(view.has_value() && **view == 1);
    ::_exit(0);  // no destructors: as if killed
  });
  EXPECT_TRUE(first.wait().ok());
  auto channel = Channel<int>::open("relay");
  ASSERT_TRUE(channel);
  for (int i = 1; i < 6; ++i) {
    auto got = channel->receive_for(30s);
    ASSERT_TRUE(got) << got.error().message();
    EXPECT_EQ(*got, i);
  }
}

/// Starts `sleeper` (a child that falls asleep on a channel and stays asleep) and SIGKILLs it
/// while `flag`, its sleeper flag, is up, until a kill lands while it sleeps: a sleeper takes
/// its flag down for a moment every 50 ms (to look for dead peers), and a kill that lands then
/// leaves no flag. The watchdog bounds the wait for the flag.
template <class Sleeper>
void kill_asleep(const std::atomic<std::uint32_t>& flag, Sleeper sleeper) {
  for (int attempt = 0; attempt < 20 && flag.load() == 0; ++attempt) {
    Child child(sleeper);
    while (flag.load() == 0) std::this_thread::sleep_for(1ms);
    EXPECT_FALSE(child.kill().ok());
  }
}

/// The consumer of channel `name` (of int), SIGKILLed asleep in receive (see kill_asleep).
void kill_consumer_asleep(const std::string& name, const std::atomic<std::uint32_t>& flag) {
  kill_asleep(flag, [name] {
    sync::set_spin_rounds(0);
    auto channel = Channel<int>::open(name);
    CHILD_CHECK(channel.has_value());
    (void)channel->receive();  // nothing comes: asleep until killed
    return 0;
  });
}

/// A producer of channel `name` (of int, lanes of `capacity`) that fills its lane with 1, 2,
/// ... and is SIGKILLed asleep sending one more, which nobody receives (see kill_asleep).
void kill_producer_asleep(const std::string& name, int capacity,
                          const std::atomic<std::uint32_t>& flag) {
  kill_asleep(flag, [name, capacity] {
    sync::set_spin_rounds(0);
    auto channel = Channel<int>::open(name);
    CHILD_CHECK(channel.has_value());
    for (int i = 1; i <= capacity; ++i) (void)channel->try_send(i);  // full, if not already
    (void)channel->send(capacity + 1);
    return 0;
  });
}

TEST_F(ChannelProcessTest, AConsumerKilledAsleepLeavesNoSleeperFlagToTheNext) {
  // A consumer SIGKILLed while asleep leaves its flag on `items`; had it stayed, every publish
  // after that would make a FUTEX_WAKE for nobody. The next consumer takes the flag down.
  ASSERT_TRUE(Channel<int>::create("sleepy"));
  auto segment = shm::Segment::open("sleepy", shm::SegmentKind::channel);
  ASSERT_TRUE(segment);
  auto ring = ring::LaneRing::attach(segment->payload(), "test");
  ASSERT_TRUE(ring);
  auto& items = ring->header().items;
  kill_consumer_asleep("sleepy", items.sleepers);
  ASSERT_EQ(items.sleepers.load(), 1u) << "the dead sleeper's flag";
  auto channel = Channel<int>::open("sleepy");
  ASSERT_TRUE(channel);
  EXPECT_EQ(channel->try_receive().error().code(), Errc::would_block);  // takes the role
  EXPECT_EQ(items.sleepers.load(), 0u);
  const std::uint32_t word = items.value();
  ASSERT_TRUE(channel->send(7));
  EXPECT_EQ(items.value(), word) << "a publish with nobody asleep does not touch the word";
  EXPECT_EQ(*channel->try_receive(), 7);
}

TEST_F(ChannelProcessTest, AProducerKilledAsleepLeavesNoSleeperFlagToTheNext) {
  // A producer SIGKILLed while asleep on its full lane leaves the lane's flag raised; had it
  // stayed, every release after that would bump `space` and make a FUTEX_WAKE for nobody. The
  // lane's next owner takes the flag down.
  ASSERT_TRUE(Channel<int>::create("full", {.capacity = 1}));
  auto consumer = Channel<int>::open("full");
  ASSERT_TRUE(consumer);
  EXPECT_EQ(consumer->try_receive().error().code(), Errc::would_block);  // takes the role
  auto segment = shm::Segment::open("full", shm::SegmentKind::channel);
  ASSERT_TRUE(segment);
  auto ring = ring::LaneRing::attach(segment->payload(), "test");
  ASSERT_TRUE(ring);
  auto& flag = ring->control(0).producer_sleepers;
  auto& space = ring->header().space;
  kill_producer_asleep("full", 1, flag);
  ASSERT_EQ(flag.load(), 1u) << "the dead sleeper's flag";
  EXPECT_EQ(space.sleepers.load(), 0u) << "a full lane's sleeper flags its lane, not `space`";
  auto producer = Channel<int>::open("full");
  ASSERT_TRUE(producer);
  EXPECT_EQ(producer->try_send(3).error().code(), Errc::would_block);  // takes the lane
  EXPECT_EQ(flag.load(), 0u);
  const std::uint32_t word = space.value();
  auto got = consumer->try_receive();
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, 1);
  EXPECT_EQ(space.value(), word) << "a release with nobody asleep does not touch the word";
  ASSERT_TRUE(producer->try_send(3));
  EXPECT_EQ(*consumer->try_receive(), 3);
}

TEST_F(ChannelProcessTest, AFlaggedConsumerIsWokenOncePerSleepNotOncePerPublish) {
  // A consumer stays flagged through its membarrier while the producer publishes on; each of
  // those publishes used to bump the word and make a FUTEX_WAKE. Here the flag stays up for
  // good (its consumer was killed asleep, and nobody took the role since): the first publish
  // wakes, the next ones see that nobody went to sleep since and leave the word alone.
  ASSERT_TRUE(Channel<int>::create("once"));
  auto segment = shm::Segment::open("once", shm::SegmentKind::channel);
  ASSERT_TRUE(segment);
  auto ring = ring::LaneRing::attach(segment->payload(), "test");
  ASSERT_TRUE(ring);
  auto& items = ring->header().items;
  kill_consumer_asleep("once", items.sleepers);
  ASSERT_EQ(items.sleepers.load(), 1u) << "the dead sleeper's flag";
  auto producer = Channel<int>::open("once");
  ASSERT_TRUE(producer);
  const std::uint32_t before = items.value();
  ASSERT_TRUE(producer->send(1));
  EXPECT_EQ(items.value(), before + 1) << "the first publish wakes the flagged sleeper";
  for (int i = 2; i <= 5; ++i) ASSERT_TRUE(producer->send(i));
  EXPECT_EQ(items.value(), before + 1) << "the same sleep is not woken again";
}

TEST_F(ChannelProcessTest, AFlaggedProducerIsWokenOncePerSleepNotOncePerRelease) {
  // The same for a producer asleep on its full lane: its flag stays up (killed asleep, and the
  // lane not taken since), so the first release wakes it and the next ones do not.
  ASSERT_TRUE(Channel<int>::create("once-full", {.capacity = 4}));
  auto consumer = Channel<int>::open("once-full");
  ASSERT_TRUE(consumer);
  EXPECT_EQ(consumer->try_receive().error().code(), Errc::would_block);  // takes the role
  auto segment = shm::Segment::open("once-full", shm::SegmentKind::channel);
  ASSERT_TRUE(segment);
  auto ring = ring::LaneRing::attach(segment->payload(), "test");
  ASSERT_TRUE(ring);
  auto& flag = ring->control(0).producer_sleepers;
  auto& space = ring->header().space;
  kill_producer_asleep("once-full", 4, flag);
  ASSERT_EQ(flag.load(), 1u) << "the dead sleeper's flag";
  const std::uint32_t before = space.value();
  auto first = consumer->try_receive();
  ASSERT_TRUE(first);
  EXPECT_EQ(*first, 1);
  EXPECT_EQ(space.value(), before + 1) << "the first release wakes the flagged sleeper";
  for (int i = 2; i <= 4; ++i) {
    auto got = consumer->try_receive();
    ASSERT_TRUE(got);
    EXPECT_EQ(*got, i);
  }
  EXPECT_EQ(space.value(), before + 1) << "the same sleep is not woken again";
}

TEST_F(ChannelProcessTest, OpenWithAnotherTypeFailsInAnotherProcess) {
  ASSERT_TRUE(Channel<Item>::create("items"));
  auto exit = test::run_in_child([] {
    auto wrong = Channel<std::uint64_t>::open("items");
    CHILD_CHECK(!wrong && wrong.error().code() == Errc::invalid_argument);
    auto right = Channel<Item>::open("items");
    CHILD_CHECK(right.has_value());
    return 0;
  });
  EXPECT_TRUE(exit.ok()) << exit.describe();
}

TEST_F(ChannelProcessTest, LoansAndViewsAcrossProcesses) {
  ASSERT_TRUE(Channel<Item>::create("zero", {.capacity = 16}));
  constexpr std::uint64_t kCount = 10'000;
  Child producer([] {
    auto channel = Channel<Item>::open("zero");
    CHILD_CHECK(channel.has_value());
    for (std::uint64_t i = 0; i < kCount; ++i) {
      auto loan = channel->loan();
      CHILD_CHECK(loan.has_value());
      if (i % 10 == 9) continue;  // dropped: never sent
      **loan = Item::make(1, i);
      CHILD_CHECK(loan->commit().has_value());
    }
    return 0;
  });
  auto channel = Channel<Item>::open("zero");
  ASSERT_TRUE(channel);
  for (std::uint64_t i = 0; i < kCount; ++i) {
    if (i % 10 == 9) continue;
    auto view = channel->receive_view_for(30s);
    ASSERT_TRUE(view) << view.error().message();
    ASSERT_TRUE((*view)->check());
    ASSERT_EQ((*view)->sequence, i);
  }
  EXPECT_TRUE(producer.wait().ok());
  EXPECT_EQ(channel->try_receive().error().code(), Errc::would_block);
}

TEST_F(ChannelProcessTest, ProcessLifetimeOwnerDeathWakesWaiters) {
  std::optional<SharedMemory> keep;
  auto* is_created = shared_value<std::atomic<int>>(keep);
  Child creator([is_created] {
    auto channel = Channel<int>::create("owned", {.lifetime = Lifetime::process});
    CHILD_CHECK(channel.has_value());
    is_created->store(1);
    ::pause();
    return 0;
  });
  while (is_created->load() == 0) std::this_thread::sleep_for(1ms);
  auto channel = Channel<int>::open("owned");
  ASSERT_TRUE(channel);
  std::thread killer([&] {
    std::this_thread::sleep_for(100ms);
    (void)creator.kill();
  });
  auto got = channel->receive();
  killer.join();
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code(), Errc::owner_died) << got.error().message();
  EXPECT_EQ(Channel<int>::open("owned").error().code(), Errc::not_found);
}

}  // namespace
}  // namespace conduit
