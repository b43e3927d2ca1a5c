// Channel<T> between threads of one process (a handle per thread), so that ThreadSanitizer
// sees both sides of every ring: single producer, many producers, zero copy, close under load.
#include <atomic>
#include <thread>
#include <vector>

#include "checked_item.hpp"
#include "conduit/msg/channel.hpp"
#include "process.hpp"

namespace conduit {
namespace {

using namespace std::chrono_literals;

class ChannelStressTest : public test::ProcessTest {};

using Item = test::CheckedItem;

TEST_F(ChannelStressTest, SingleProducerThread_ItemsArriveInOrder) {
  auto consumer = Channel<std::uint64_t>::create("spsc", {.capacity = 256});
  ASSERT_TRUE(consumer);
  constexpr std::uint64_t kCount = 200'000;
  std::atomic<bool> is_ok{true};
  std::thread producer([&] {
    auto channel = Channel<std::uint64_t>::open("spsc");
    if (!channel) return is_ok.store(false);
    std::array<std::uint64_t, 16> batch{};
    for (std::uint64_t next = 0; next < kCount;) {
      if (next % 5 == 0) {
        if (!channel->send(next++)) return is_ok.store(false);
        continue;
      }
      const std::size_t n = std::min<std::uint64_t>(batch.size(), kCount - next);
      for (std::size_t k = 0; k < n; ++k) batch[k] = next + k;
      const std::size_t sent = channel->try_send_batch(std::span(batch).first(n));
      if (sent == 0) std::this_thread::yield();  // full: let the consumer run (2 busy cores)
      next += sent;
    }
  });
  std::array<std::uint64_t, 32> batch{};
  for (std::uint64_t expected = 0; expected < kCount;) {
    if (expected % 3 == 0) {
      auto got = consumer->receive_for(30s);
      ASSERT_TRUE(got) << got.error().message();
      ASSERT_EQ(*got, expected);
      ++expected;
    } else {
      const std::size_t n = consumer->try_receive_batch(batch);
      if (n == 0) std::this_thread::yield();
      for (std::size_t k = 0; k < n; ++k) ASSERT_EQ(batch[k], expected + k);
      expected += n;
    }
  }
  producer.join();
  EXPECT_TRUE(is_ok.load());
}

TEST_F(ChannelStressTest, FourProducerThreads_EachInOrder_NothingLostOrDuplicated) {
  constexpr std::uint32_t kProducers = 4;
  constexpr std::uint64_t kPerProducer = 50'000;
  auto consumer = Channel<Item>::create(
      "mpsc", {.capacity = 128, .producers = Producers::many, .max_producers = kProducers});
  ASSERT_TRUE(consumer);
  std::atomic<int> failures{0};
  std::vector<std::thread> producers;
  for (std::uint32_t source = 0; source < kProducers; ++source) {
    producers.emplace_back([&, source] {
      auto channel = Channel<Item>::open("mpsc");
      if (!channel) return (void)++failures;
      for (std::uint64_t i = 0; i < kPerProducer; ++i)
        if (!channel->send(Item::make(source, i))) return (void)++failures;
    });
  }
  std::vector<std::uint64_t> next(kProducers, 0);
  std::uint64_t sequence_sum = 0;
  for (std::uint64_t received = 0; received < kProducers * kPerProducer; ++received) {
    auto item = consumer->receive_for(30s);
    ASSERT_TRUE(item) << item.error().message();
    ASSERT_TRUE(item->check());
    ASSERT_LT(item->source, kProducers);
    ASSERT_EQ(item->sequence, next[item->source]);
    ++next[item->source];
    sequence_sum += item->sequence;
  }
  for (auto& producer : producers) producer.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(sequence_sum, kProducers * (kPerProducer * (kPerProducer - 1) / 2));
  EXPECT_EQ(consumer->try_receive().error().code(), Errc::would_block);
}

TEST_F(ChannelStressTest, LoansAndViewsBetweenThreads) {
  auto consumer = Channel<Item>::create("zero", {.capacity = 8});
  ASSERT_TRUE(consumer);
  constexpr std::uint64_t kCount = 50'000;
  std::atomic<bool> is_ok{true};
  std::thread producer([&] {
    auto channel = Channel<Item>::open("zero");
    if (!channel) return is_ok.store(false);
    for (std::uint64_t i = 0; i < kCount; ++i) {
      auto loan = channel->loan();
      if (!loan) return is_ok.store(false);
      **loan = Item::make(0, i);
      if (!loan->commit()) return is_ok.store(false);
    }
  });
  for (std::uint64_t i = 0; i < kCount; ++i) {
    auto view = consumer->receive_view_for(30s);
    ASSERT_TRUE(view) << view.error().message();
    ASSERT_TRUE((*view)->check());
    ASSERT_EQ((*view)->sequence, i);
  }
  producer.join();
  EXPECT_TRUE(is_ok.load());
}

TEST_F(ChannelStressTest, CloseUnderLoad_ProducersStopReceiverDrains) {
  constexpr std::uint32_t kProducers = 3;
  auto consumer = Channel<Item>::create(
      "closing", {.capacity = 64, .producers = Producers::many, .max_producers = kProducers});
  ASSERT_TRUE(consumer);
  std::atomic<int> unexpected_errors{0};
  std::vector<std::thread> producers;
  for (std::uint32_t source = 0; source < kProducers; ++source) {
    producers.emplace_back([&, source] {
      auto channel = Channel<Item>::open("closing");
      if (!channel) return (void)++unexpected_errors;
      for (std::uint64_t i = 0;; ++i) {
        auto sent = channel->send(Item::make(source, i));
        if (!sent) {
          if (sent.error().code() != Errc::closed) ++unexpected_errors;
          return;
        }
      }
    });
  }
  std::vector<std::uint64_t> next(kProducers, 0);
  std::uint64_t received = 0;
  for (;;) {
    auto item = consumer->receive_for(30s);
    if (!item) {
      EXPECT_EQ(item.error().code(), Errc::closed) << item.error().message();
      break;
    }
    ASSERT_TRUE(item->check());
    ASSERT_LT(item->source, kProducers);
    ASSERT_EQ(item->sequence, next[item->source]);
    ++next[item->source];
    if (++received == 20'000) consumer->close();
  }
  for (auto& producer : producers) producer.join();
  EXPECT_EQ(unexpected_errors.load(), 0);
  EXPECT_GE(received, 20'000u);
}

}  // namespace
}  // namespace conduit
