// The rings between threads, busy-polling (no waiting): ThreadSanitizer checks the ordering
// argument of spsc_ring.hpp, lane_ring.hpp and byte_ring.hpp on every record.
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "conduit/ring/byte_ring.hpp"
#include "conduit/ring/lane_ring.hpp"
#include "test_memory.hpp"

namespace conduit::ring {
namespace {

using test::Memory;

struct Record {
  std::uint64_t source;
  std::uint64_t sequence;
  std::uint64_t check;  // source ^ sequence * k: a torn record fails it
};

TEST(LaneRingStress, ThreeProducerThreadsInOrderNothingLost) {
  constexpr std::uint32_t kProducers = 3;
  constexpr std::uint64_t kPerProducer = 100'000;
  auto config = LaneRing::plan({.record_size = sizeof(Record),
                                .record_align = alignof(Record),
                                .capacity = 100,
                                .lanes = kProducers},
                               "stress");
  ASSERT_TRUE(config);
  Memory memory(LaneRing::size_of(*config));
  LaneRing::initialize(memory.span(), *config);
  auto ring = LaneRing::attach(memory.span(), "stress");
  ASSERT_TRUE(ring);
  std::atomic<int> failures{0};
  std::vector<std::thread> producers;
  for (std::uint64_t source = 0; source < kProducers; ++source) {
    producers.emplace_back([&, source] {
      LaneProducer producer;
      if (!producer.attach(*ring, self(), "stress")) return (void)++failures;
      for (std::uint64_t i = 0; i < kPerProducer;) {
        auto room = producer.writer().available(8);
        if (!room) return (void)++failures;
        if (*room == 0) std::this_thread::yield();
        for (std::size_t k = 0; k < *room && i + k < kPerProducer; ++k) {
          const Record record{source, i + k, source ^ ((i + k) * 0x9e3779b97f4a7c15ULL)};
          std::memcpy(producer.writer().slot(k), &record, sizeof record);
        }
        const std::size_t count = std::min<std::uint64_t>(*room, kPerProducer - i);
        producer.writer().publish(count);
        i += count;
      }
      producer.detach();
    });
  }
  LaneConsumer consumer;
  ASSERT_TRUE(consumer.attach(*ring, self(), "stress"));
  std::vector<std::uint64_t> next(kProducers, 0);
  for (std::uint64_t received = 0; received < kProducers * kPerProducer;) {
    auto lane = consumer.poll();
    ASSERT_TRUE(lane);
    if (*lane == LaneConsumer::kNoLane) {
      std::this_thread::yield();
      continue;
    }
    auto count = consumer.reader(*lane).available(16);
    ASSERT_TRUE(count);
    for (std::size_t k = 0; k < *count; ++k) {
      Record record;
      std::memcpy(&record, consumer.reader(*lane).slot(k), sizeof record);
      ASSERT_LT(record.source, kProducers);
      ASSERT_EQ(record.check, record.source ^ (record.sequence * 0x9e3779b97f4a7c15ULL));
      ASSERT_EQ(record.sequence, next[record.source]);
      ++next[record.source];
    }
    consumer.reader(*lane).release(*count);
    received += *count;
  }
  for (auto& producer : producers) producer.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(ring->depth(), 0u);
}

TEST(ByteRingStress, VariableRecordsBetweenTwoThreads) {
  constexpr std::uint64_t kCapacity = 4096;
  constexpr std::uint64_t kCount = 200'000;
  Memory memory(byte_ring_size(kCapacity));
  initialize_byte_ring(memory.span(), kCapacity);
  const auto geometry = map_byte_ring(memory.span(), kCapacity);
  ASSERT_TRUE(geometry);
  const auto fill = [](std::uint64_t n, std::size_t k) { return std::byte((n * 13 + k) & 0xff); };
  std::atomic<bool> is_ok{true};
  std::thread producer([&] {
    ByteRingWriter writer(*geometry);
    for (std::uint64_t n = 0; n < kCount;) {
      const std::size_t size = (n * 37) % 300;
      auto room = writer.claim(size);
      if (!room) return is_ok.store(false);
      if (!*room) {
        std::this_thread::yield();
        continue;
      }
      for (std::size_t k = 0; k < size; ++k) (**room)[k] = fill(n, k);
      writer.commit(static_cast<std::int64_t>(size));
      ++n;
    }
  });
  ByteRingReader reader(*geometry);
  for (std::uint64_t n = 0; n < kCount;) {
    auto record = reader.peek();
    ASSERT_TRUE(record);
    if (!*record) {
      std::this_thread::yield();
      continue;
    }
    ASSERT_EQ((*record)->sequence, n);
    ASSERT_EQ((*record)->payload.size(), (n * 37) % 300);
    ASSERT_EQ((*record)->type, static_cast<std::int64_t>((n * 37) % 300));
    for (std::size_t k = 0; k < (*record)->payload.size(); ++k)
      ASSERT_EQ((*record)->payload[k], fill(n, k));
    reader.release();
    ++n;
  }
  producer.join();
  EXPECT_TRUE(is_ok.load());
}

}  // namespace
}  // namespace conduit::ring
