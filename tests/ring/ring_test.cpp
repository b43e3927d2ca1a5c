// The rings on plain memory in one process: capacity, wrap, batches, validation, lanes and
// their reclaiming, variable-size records.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "conduit/ring/byte_ring.hpp"
#include "conduit/ring/lane_ring.hpp"
#include "conduit/ring/spsc_ring.hpp"
#include "test_memory.hpp"

namespace conduit::ring {
namespace {

using test::Memory;

/// A process that is certainly dead: a child that exited and was reaped.
ProcessId dead_process() {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return ProcessId{pid, 1};
}

TEST(SpscRing, TheWholeCapacityIsUsableAndWrapsInOrder) {
  RingControl control{};
  std::vector<std::uint64_t> slots(8);
  const RingGeometry geometry{reinterpret_cast<std::byte*>(slots.data()), 7, 5,
                              sizeof(std::uint64_t)};
  RingWriter writer(&control, geometry, 0, 0);
  RingReader reader(&control, geometry, 0);
  std::mt19937 random(7);
  std::uint64_t written = 0, read = 0;
  for (int round = 0; round < 2000; ++round) {
    const std::size_t want = std::uniform_int_distribution<std::size_t>(1, 7)(random);
    auto room = writer.available(want);
    ASSERT_TRUE(room);
    ASSERT_LE(*room, 5u - (written - read));
    for (std::size_t k = 0; k < *room; ++k) {
      const std::uint64_t value = written + k;
      std::memcpy(writer.slot(k), &value, sizeof value);
    }
    writer.publish(*room);
    written += *room;
    ASSERT_LE(written - read, 5u);
    if (written - read == 5) {
      EXPECT_EQ(*writer.available(1), 0u) << "full at exactly the capacity";
    }
    auto ready = reader.available(std::uniform_int_distribution<std::size_t>(1, 7)(random));
    ASSERT_TRUE(ready);
    for (std::size_t k = 0; k < *ready; ++k) {
      std::uint64_t value = 0;
      std::memcpy(&value, reader.slot(k), sizeof value);
      ASSERT_EQ(value, read + k);
    }
    reader.release(*ready);
    read += *ready;
  }
  EXPECT_GT(read, 1000u);
}

TEST(SpscRing, ImpossibleIndicesAreCorrupted) {
  RingControl control{};
  std::uint64_t slots[4] = {};
  const RingGeometry geometry{reinterpret_cast<std::byte*>(slots), 3, 4, sizeof(std::uint64_t)};
  RingReader reader(&control, geometry, 0);
  control.tail.store(5);  // 5 records in a ring of 4
  EXPECT_FALSE(reader.available(1));
  control.tail.store(0);
  control.head.store(7);  // the consumer will be ahead of the producer
  RingWriter writer(&control, geometry, 0, 0);
  EXPECT_EQ(*writer.available(4), 4u) << "the cached head says empty: not read yet";
  writer.publish(4);
  EXPECT_FALSE(writer.available(1)) << "the shared head is read, and refused";
}

TEST(OwnerWord, PacksAProcessIntoOneWord) {
  const ProcessId me = self();
  EXPECT_EQ(decode_owner(encode_owner(me)), me);
  EXPECT_NE(encode_owner(me), 0u);
  EXPECT_EQ(encode_owner({0, 1}), 0u);
  EXPECT_EQ(encode_owner({1 << 22, 1}), 0u) << "a pid beyond Linux's limit";
  EXPECT_EQ(decode_owner(encode_owner({7, ~std::uint64_t{0}})), (ProcessId{7, 0}))
      << "a start time that does not fit is dropped, not truncated";
}

TEST(LaneRing, PlanRefusesImpossibleShapes) {
  const auto code = [](LaneRingShape shape) {
    auto planned = LaneRing::plan(shape, "test");
    return planned ? Errc{} : planned.error().code();
  };
  EXPECT_EQ(code({.record_size = 8, .record_align = 8, .capacity = 4, .lanes = 1}), Errc{});
  EXPECT_EQ(code({.record_size = 0, .record_align = 1, .capacity = 4}), Errc::invalid_argument);
  EXPECT_EQ(code({.record_size = 12, .record_align = 8, .capacity = 4}), Errc::invalid_argument);
  EXPECT_EQ(code({.record_size = 12, .record_align = 3, .capacity = 4}), Errc::invalid_argument);
  EXPECT_EQ(code({.record_size = 8, .record_align = 8, .capacity = 0}), Errc::invalid_argument);
  EXPECT_EQ(code({.record_size = 8, .record_align = 8, .capacity = kMaxCapacity + 1}),
            Errc::invalid_argument);
  EXPECT_EQ(code({.record_size = 8, .record_align = 8, .capacity = 4, .lanes = 0}),
            Errc::invalid_argument);
  EXPECT_EQ(code({.record_size = 8, .record_align = 8, .capacity = 4, .lanes = kMaxLanes + 1}),
            Errc::invalid_argument);
  auto planned =
      LaneRing::plan({.record_size = 256, .record_align = 256, .capacity = 3, .lanes = 3}, "test");
  ASSERT_TRUE(planned);
  EXPECT_EQ(planned->slot_count, 4u);
  EXPECT_EQ(planned->slots_offset % 256, 0u);
}

TEST(LaneRing, AttachRefusesWhatIsNotAValidRing) {
  auto config =
      LaneRing::plan({.record_size = 8, .record_align = 8, .capacity = 4, .lanes = 2}, "test");
  ASSERT_TRUE(config);
  Memory memory(LaneRing::size_of(*config));
  LaneRing::initialize(memory.span(), *config);
  EXPECT_TRUE(LaneRing::attach(memory.span(), "test"));
  EXPECT_EQ(LaneRing::attach(memory.span().first(100), "test").error().code(), Errc::corrupted);
  EXPECT_EQ(LaneRing::attach(memory.span().first(memory.size - 1), "test").error().code(),
            Errc::corrupted);
  EXPECT_EQ(LaneRing::attach(memory.span().subspan(8), "test").error().code(), Errc::corrupted)
      << "misaligned";
  reinterpret_cast<LaneRingConfig*>(memory.bytes)->lane_count = 3;
  auto refused = LaneRing::attach(memory.span(), "ring 'x': open");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), Errc::corrupted);
  EXPECT_EQ(refused.error().message().rfind("ring 'x': open: corrupted", 0), 0u)
      << refused.error().message();
}

TEST(LaneRing, AProducerReclaimsTheLaneOfADeadOneAndAppendsAfterIt) {
  auto config =
      LaneRing::plan({.record_size = 8, .record_align = 8, .capacity = 4, .lanes = 2}, "test");
  ASSERT_TRUE(config);
  Memory memory(LaneRing::size_of(*config));
  LaneRing::initialize(memory.span(), *config);
  auto ring = LaneRing::attach(memory.span(), "test");
  ASSERT_TRUE(ring);
  // A producer that published records 10 and 11, wrote a third without publishing, and died.
  const ProcessId dead = dead_process();
  {
    LaneProducer doomed;
    ASSERT_TRUE(doomed.attach(*ring, dead, "test"));
    ASSERT_EQ(doomed.lane(), 0u);
    for (std::uint64_t value : {10u, 11u, 99u}) {
      std::memcpy(doomed.writer().slot(0), &value, sizeof value);
      if (value != 99) doomed.writer().publish(1);
    }
  }  // never detached (detach() would refuse anyway: it is not this process)
  EXPECT_EQ(ring->census().dead, 1u);
  LaneProducer live;
  ASSERT_TRUE(live.attach(*ring, self(), "test"));
  EXPECT_EQ(live.lane(), 0u) << "the dead producer's lane, not a fresh one";
  EXPECT_EQ(live.writer().tail(), 2u) << "after what the dead producer published";
  const std::uint64_t twelve = 12;
  std::memcpy(live.writer().slot(0), &twelve, sizeof twelve);
  live.writer().publish(1);
  EXPECT_EQ(ring->census().live, 1u);
  EXPECT_EQ(ring->census().dead, 0u);

  LaneConsumer consumer;
  ASSERT_TRUE(consumer.attach(*ring, self(), "test"));
  std::vector<std::uint64_t> got;
  for (;;) {
    auto lane = consumer.poll();
    ASSERT_TRUE(lane);
    if (*lane == LaneConsumer::kNoLane) break;
    std::uint64_t value = 0;
    std::memcpy(&value, consumer.reader(*lane).slot(0), sizeof value);
    consumer.reader(*lane).release(1);
    got.push_back(value);
  }
  EXPECT_EQ(got, (std::vector<std::uint64_t>{10, 11, 12})) << "never the unpublished 99";

  LaneConsumer second;
  EXPECT_EQ(second.attach(*ring, self(), "test").error().code(), Errc::permission_denied);
  consumer.detach();
  EXPECT_TRUE(second.attach(*ring, self(), "test"));
  live.detach();
  EXPECT_EQ(ring->control(0).owner.load(), 0u);
}

TEST(LaneRing, TheOpenerTableRecordsHandlesAndTellsTheDeadFromTheLive) {
  auto config =
      LaneRing::plan({.record_size = 8, .record_align = 8, .capacity = 4, .lanes = 1}, "test");
  ASSERT_TRUE(config);
  Memory memory(LaneRing::size_of(*config));
  LaneRing::initialize(memory.span(), *config);
  auto ring = LaneRing::attach(memory.span(), "test");
  ASSERT_TRUE(ring);
  const auto mine = ring->record_opener(self());
  const auto dead = ring->record_opener(dead_process());
  ASSERT_TRUE(mine && dead);
  EXPECT_NE(*mine, *dead);
  auto others = ring->opener_census(mine);
  EXPECT_EQ(others.live, 0u);
  EXPECT_EQ(others.dead, 1u);
  EXPECT_EQ(ring->opener_census(std::nullopt).live, 1u);
  const auto reused = ring->record_opener(self());
  ASSERT_TRUE(reused);
  EXPECT_EQ(*reused, *dead) << "the dead process's slot is taken over";
  ring->forget_opener(*reused, self());
  ring->forget_opener(*mine, ProcessId{1, 1});  // not its holder: nothing happens
  EXPECT_EQ(ring->opener_census(std::nullopt).live, 1u);
  ring->forget_opener(*mine, self());
  EXPECT_EQ(ring->opener_census(std::nullopt).live, 0u);
  for (std::uint32_t i = 0; i < kMaxOpeners; ++i) ASSERT_TRUE(ring->record_opener(self()));
  EXPECT_FALSE(ring->record_opener(self())) << "a full table records no more";
}

// ---- variable-size records ------------------------------------------------------------------

struct ByteRingFixture {
  explicit ByteRingFixture(std::uint64_t capacity) : memory(byte_ring_size(capacity)) {
    initialize_byte_ring(memory.span(), capacity);
    geometry = *map_byte_ring(memory.span(), capacity);
  }
  Memory memory;
  ByteRingGeometry geometry;
};

TEST(ByteRing, MapRefusesImpossibleCapacities) {
  Memory memory(byte_ring_size(1024));
  EXPECT_TRUE(map_byte_ring(memory.span(), 1024));
  EXPECT_FALSE(map_byte_ring(memory.span(), 1000)) << "not a power of two";
  EXPECT_FALSE(map_byte_ring(memory.span(), 32)) << "too small";
  EXPECT_FALSE(map_byte_ring(memory.span(), 2048)) << "past the memory";
}

TEST(ByteRing, VariableSizeRecordsRoundTripThroughManyWraps) {
  ByteRingFixture ring(256);
  ByteRingWriter writer(ring.geometry);
  ByteRingReader reader(ring.geometry);
  ASSERT_EQ(writer.max_payload(), 104u);
  std::mt19937 random(11);
  std::uint64_t written = 0, read = 0;
  const auto fill = [](std::uint64_t n, std::size_t k) { return std::byte((n * 7 + k) & 0xff); };
  std::vector<std::size_t> sizes;
  while (read < 5000) {
    // Write until full, then read a random number of records.
    for (;;) {
      const std::size_t size = std::uniform_int_distribution<std::size_t>(0, 104)(random);
      auto room = writer.claim(size);
      ASSERT_TRUE(room);
      if (!*room) break;
      ASSERT_EQ((*room)->size(), size);
      for (std::size_t k = 0; k < size; ++k) (**room)[k] = fill(written, k);
      EXPECT_EQ(writer.commit(static_cast<std::int64_t>(written) - 3), written);
      sizes.push_back(size);
      ++written;
    }
    const int reads = std::uniform_int_distribution<int>(1, 6)(random);
    for (int r = 0; r < reads && read < written; ++r) {
      auto record = reader.peek();
      ASSERT_TRUE(record);
      ASSERT_TRUE(*record) << "record " << read << " is missing";
      EXPECT_EQ((*record)->sequence, read);
      EXPECT_EQ((*record)->type, static_cast<std::int64_t>(read) - 3);
      ASSERT_EQ((*record)->payload.size(), sizes[read]);
      for (std::size_t k = 0; k < sizes[read]; ++k) ASSERT_EQ((*record)->payload[k], fill(read, k));
      reader.release();
      ++read;
    }
  }
  while (read < written) {
    auto record = reader.peek();
    ASSERT_TRUE(record && *record);
    reader.release();
    ++read;
  }
  auto empty = reader.peek();
  ASSERT_TRUE(empty);
  EXPECT_FALSE(*empty);
}

TEST(ByteRing, FullAtExactlyTheCapacityAndImplicitPaddingIsSkipped) {
  ByteRingFixture ring(64);
  ByteRingWriter writer(ring.geometry);
  ByteRingReader reader(ring.geometry);
  ASSERT_EQ(writer.max_payload(), 8u);
  for (int i = 0; i < 2; ++i) {  // 2 records of 32 bytes fill all 64
    auto room = writer.claim(8);
    ASSERT_TRUE(room && *room);
    writer.commit(i);
  }
  auto full = writer.claim(0);
  ASSERT_TRUE(full);
  EXPECT_FALSE(*full);
  EXPECT_FALSE(*writer.claim(9)) << "never fits";
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(*reader.peek());
    reader.release();
  }
  // Records of 24 bytes at 0, 24; at 48 only 16 bytes remain: skipped without a header.
  for (int i = 0; i < 9; ++i) {
    auto room = writer.claim(0);
    ASSERT_TRUE(room && *room) << i;
    writer.commit(100 + i);
    auto record = reader.peek();
    ASSERT_TRUE(record && *record) << i;
    EXPECT_EQ((*record)->type, 100 + i);
    EXPECT_TRUE((*record)->payload.empty());
    reader.release();
  }
}

TEST(ByteRing, CorruptedRecordsAreRefusedNotRead) {
  ByteRingFixture ring(128);
  ByteRingWriter writer(ring.geometry);
  auto room = writer.claim(16);
  ASSERT_TRUE(room && *room);
  writer.commit(1);
  auto* header = reinterpret_cast<RecordHeader*>(ring.geometry.data);
  const RecordHeader good = *header;
  const auto refused = [&](auto&& change) {
    *header = good;
    change();
    ByteRingReader reader(ring.geometry);
    return !reader.peek().has_value();
  };
  EXPECT_FALSE(refused([] {}));
  EXPECT_TRUE(refused([&] { header->kind = 7; }));
  EXPECT_TRUE(refused([&] { header->size = 1000; }));
  EXPECT_TRUE(refused([&] { header->size = 60; })) << "runs past the published bytes";
  EXPECT_TRUE(refused([&] { header->kind = 2; })) << "padding that does not reach the end";
  *header = good;
  ring.geometry.control->tail.store(129);
  ByteRingReader reader(ring.geometry);
  EXPECT_FALSE(reader.peek().has_value()) << "more bytes than the capacity";
}

}  // namespace
}  // namespace conduit::ring
