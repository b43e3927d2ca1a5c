#include "conduit/ring/lane_ring.hpp"

#include <fmt/format.h>

#include <bit>
#include <cstring>
#include <new>

namespace conduit::ring {
namespace {

constexpr std::uint64_t round_up(std::uint64_t n, std::uint64_t to) {
  return (n + to - 1) / to * to;
}

std::uint64_t slots_offset_for(std::uint64_t lane_count, std::uint64_t record_align) {
  const std::uint64_t align = record_align > kCacheLine ? record_align : kCacheLine;
  return round_up(kControlsOffset + lane_count * sizeof(RingControl), align);
}

/// Counts the process packed in `word` (0: none) as live or dead.
void tally(ProducerCensus& census, std::uint64_t word) {
  if (word == 0) return;
  if (alive(decode_owner(word))) {
    ++census.live;
  } else {
    ++census.dead;
    census.last_dead = decode_owner(word);
  }
}

/// Gives back an ownership word we hold (a lane's owner, the consumer role): 0 if it still
/// holds `mine` and `mine` is this process (a forked child's copy of a handle holds its
/// parent's word and must not give it back).
void give_back(std::atomic<std::uint64_t>& word, std::uint64_t mine) noexcept {
  if (mine != encode_owner(self())) return;
  // Release: pairs with the acquire of the next claimer's compare_exchange, so our last
  // index store is visible to it. Fails harmlessly when the word is no longer ours (it was
  // reclaimed after we were judged dead).
  word.compare_exchange_strong(mine, 0, std::memory_order_release, std::memory_order_relaxed);
}

}  // namespace

Result<LaneRingConfig> LaneRing::plan(const LaneRingShape& shape, std::string_view context) {
  const auto invalid = [&](std::string_view what) {
    return fail(Errc::invalid_argument, fmt::format("{}: {}", context, what));
  };
  if (shape.record_size == 0 || shape.record_size > kMaxRecordSize)
    return invalid(fmt::format("record size {} is not 1 to {}", shape.record_size, kMaxRecordSize));
  if (!std::has_single_bit(shape.record_align) || shape.record_align > kMaxRecordAlign ||
      shape.record_size % shape.record_align != 0)
    return invalid(
        fmt::format("record alignment {} (size {})", shape.record_align, shape.record_size));
  if (shape.capacity == 0 || shape.capacity > kMaxCapacity)
    return invalid(fmt::format("capacity {} is not 1 to {}", shape.capacity, kMaxCapacity));
  if (shape.lanes == 0 || shape.lanes > kMaxLanes)
    return invalid(fmt::format("{} producer lanes: must be 1 to {}", shape.lanes, kMaxLanes));
  LaneRingConfig config{};
  config.magic = kLaneRingMagic;
  config.layout_version = kLaneRingLayoutVersion;
  config.lane_count = static_cast<std::uint32_t>(shape.lanes);
  config.record_size = shape.record_size;
  config.record_align = shape.record_align;
  config.capacity = shape.capacity;
  config.slot_count = std::bit_ceil(std::uint64_t{shape.capacity});
  config.controls_offset = kControlsOffset;
  config.slots_offset = slots_offset_for(config.lane_count, config.record_align);
  // The largest ring: 2^30 slots of 2^24 bytes in 64 lanes is 2^60 bytes: no overflow here;
  // the segment's allocation refuses what memory cannot hold.
  return config;
}

std::uint64_t LaneRing::size_of(const LaneRingConfig& config) noexcept {
  return config.slots_offset + config.lane_count * config.slot_count * config.record_size;
}

void LaneRing::initialize(std::span<std::byte> bytes, const LaneRingConfig& config,
                          sync::WakeFencing fencing) {
  auto* header = ::new (static_cast<void*>(bytes.data())) LaneRingHeader();
  std::memcpy(&header->config, &config, sizeof config);
  // Relaxed: the segment is not named yet; naming it publishes everything written here.
  header->wake_fencing.store(static_cast<std::uint32_t>(fencing), std::memory_order_relaxed);
  ::new (static_cast<void*>(bytes.data() + kOpenersOffset)) OpenerTable();
  for (std::uint32_t lane = 0; lane < config.lane_count; ++lane)
    ::new (static_cast<void*>(bytes.data() + config.controls_offset + lane * sizeof(RingControl)))
        RingControl();
}

Result<LaneRing> LaneRing::attach(std::span<std::byte> bytes, std::string_view context) {
  const auto corrupted = [&](std::string_view what) {
    return fail(Errc::corrupted, fmt::format("{}: corrupted: {}", context, what));
  };
  if (bytes.size() < kControlsOffset) return corrupted("too small for a ring");
  if (reinterpret_cast<std::uintptr_t>(bytes.data()) % kCacheLine != 0)
    return corrupted("ring is not aligned");
  LaneRingConfig config;
  std::memcpy(&config, bytes.data(), sizeof config);  // one copy: checks and use see the same
  if (config.magic != kLaneRingMagic) return corrupted("bad ring magic");
  if (config.layout_version != kLaneRingLayoutVersion)
    return corrupted(fmt::format("ring layout version {}, this build reads {}",
                                 config.layout_version, kLaneRingLayoutVersion));
  if (config.lane_count == 0 || config.lane_count > kMaxLanes)
    return corrupted(fmt::format("{} lanes", config.lane_count));
  if (config.record_size == 0 || config.record_size > kMaxRecordSize ||
      !std::has_single_bit(config.record_align) || config.record_align > kMaxRecordAlign ||
      config.record_size % config.record_align != 0)
    return corrupted(
        fmt::format("record size {} alignment {}", config.record_size, config.record_align));
  if (config.capacity == 0 || config.capacity > kMaxCapacity ||
      !std::has_single_bit(config.slot_count) ||
      config.slot_count != std::bit_ceil(config.capacity))
    return corrupted(fmt::format("capacity {} with {} slots", config.capacity, config.slot_count));
  if (config.controls_offset != kControlsOffset ||
      config.slots_offset != slots_offset_for(config.lane_count, config.record_align))
    return corrupted("offsets");
  // Bounded above (2^6 lanes * 2^30 slots * 2^24 bytes): the product cannot overflow.
  if (size_of(config) > bytes.size())
    return corrupted(
        fmt::format("ring of {} bytes in a segment of {}", size_of(config), bytes.size()));
  LaneRing ring;
  ring.config_ = config;
  ring.header_ = std::launder(reinterpret_cast<LaneRingHeader*>(bytes.data()));
  // Relaxed, read once: written before the segment was named and never changed after.
  const std::uint32_t fencing = ring.header_->wake_fencing.load(std::memory_order_relaxed);
  if (fencing != static_cast<std::uint32_t>(sync::WakeFencing::symmetric) &&
      fencing != static_cast<std::uint32_t>(sync::WakeFencing::asymmetric))
    return corrupted(fmt::format("wake fencing {}", fencing));
  ring.wake_fencing_ = static_cast<sync::WakeFencing>(fencing);
  ring.openers_ = std::launder(reinterpret_cast<OpenerTable*>(bytes.data() + kOpenersOffset));
  ring.controls_ =
      std::launder(reinterpret_cast<RingControl*>(bytes.data() + config.controls_offset));
  ring.slots_ = bytes.data() + config.slots_offset;
  return ring;
}

RingGeometry LaneRing::geometry(std::uint32_t lane) const noexcept {
  const std::uint64_t lane_bytes = config_.slot_count * config_.record_size;
  return RingGeometry{slots_ + lane * lane_bytes, config_.slot_count - 1, config_.capacity,
                      static_cast<std::size_t>(config_.record_size)};
}

ProducerCensus LaneRing::census() const {
  ProducerCensus census;
  const std::uint32_t used = lanes_used();
  // Relaxed: only the values are wanted, to ask the kernel about; they order nothing.
  for (std::uint32_t lane = 0; lane < used; ++lane)
    tally(census, controls_[lane].owner.load(std::memory_order_relaxed));
  return census;
}

std::optional<std::uint32_t> LaneRing::record_opener(ProcessId me) const {
  const std::uint64_t mine = encode_owner(me);
  if (mine == 0) return std::nullopt;
  for (std::uint32_t slot = 0; slot < kMaxOpeners; ++slot) {
    auto& entry = openers_->slots[slot];
    // Relaxed: a first look; the compare_exchange decides.
    std::uint64_t word = entry.load(std::memory_order_relaxed);
    if (word != 0 && alive(decode_owner(word))) continue;
    // Relaxed: the slot carries no data; its value is all anyone reads.
    if (entry.compare_exchange_strong(word, mine, std::memory_order_relaxed)) return slot;
  }
  return std::nullopt;
}

void LaneRing::forget_opener(std::uint32_t slot, ProcessId me) const noexcept {
  if (slot >= kMaxOpeners) return;
  std::uint64_t expected = encode_owner(me);
  // Relaxed: as in record_opener. Fails harmlessly when the slot is no longer ours.
  openers_->slots[slot].compare_exchange_strong(expected, 0, std::memory_order_relaxed);
}

ProducerCensus LaneRing::opener_census(std::optional<std::uint32_t> mine) const {
  ProducerCensus census;
  // Relaxed: only the values, to ask the kernel about.
  for (std::uint32_t slot = 0; slot < kMaxOpeners; ++slot)
    if (!mine || *mine != slot)
      tally(census, openers_->slots[slot].load(std::memory_order_relaxed));
  return census;
}

std::uint64_t LaneRing::depth() const noexcept {
  std::uint64_t total = 0;
  const std::uint32_t used = lanes_used();
  for (std::uint32_t lane = 0; lane < used; ++lane) {
    // Relaxed: a statistic; head first so that a moving pair never looks negative.
    const std::uint64_t head = controls_[lane].head.load(std::memory_order_relaxed);
    const std::uint64_t tail = controls_[lane].tail.load(std::memory_order_relaxed);
    const std::uint64_t in_lane = tail - head;
    if (in_lane <= config_.capacity) total += in_lane;  // else corrupted or torn: not counted
  }
  return total;
}

// ---- producers ------------------------------------------------------------------------------

Result<void> LaneProducer::attach(const LaneRing& ring, ProcessId me, std::string_view context) {
  const std::uint64_t mine = encode_owner(me);
  if (mine == 0)
    return fail(Errc::invalid_argument,
                fmt::format("{}: {} cannot own a lane", context, to_string(me)));
  const std::uint32_t lanes = ring.config().lane_count;
  std::uint32_t claimed = lanes;
  for (std::uint32_t lane = 0; lane < lanes && claimed == lanes; ++lane) {
    auto& owner = ring.control(lane).owner;
    // Relaxed: a first look; the compare_exchange below is what decides.
    std::uint64_t word = owner.load(std::memory_order_relaxed);
    if (word != 0 && alive(decode_owner(word))) continue;  // ours too, if another handle's
    // Acq_rel: acquire pairs with the release store of 0 in detach() (the previous owner's
    // last tail is visible); release orders nothing we need but costs nothing on x86.
    if (owner.compare_exchange_strong(word, mine, std::memory_order_acq_rel)) claimed = lane;
  }
  if (claimed == lanes)
    return fail(
        Errc::limit_reached,
        fmt::format("{}: all {} producer lanes are held by live producers", context, lanes));
  RingControl& control = ring.control(claimed);
  // Read-modify-write: the latest tail even if the previous owner died (see spsc_ring.hpp (4)).
  const std::uint64_t tail = control.tail.fetch_add(0, std::memory_order_acq_rel);
  // Acquire: pairs with the release store of head in RingReader::release.
  const std::uint64_t head = control.head.load(std::memory_order_acquire);
  if (tail - head > ring.config().capacity) {
    // Give the lane back untouched. Release: as in give_back (orders nothing we wrote here).
    control.owner.store(0, std::memory_order_release);
    return fail(Errc::corrupted,
                fmt::format("{}: corrupted: lane {} holds {} records of {}", context, claimed,
                            tail - head, ring.config().capacity));
  }
  // Only the lane's owner sleeps on its flag, and the lane is ours now: a flag left there is
  // an owner that died asleep (sync/wait.hpp: its crash note). Left in place it would cost
  // every release a bump and a FUTEX_WAKE for ever. Relaxed: the consumer reads it after its
  // fence; a stale non-zero read costs one needless wake only.
  control.producer_sleepers.store(0, std::memory_order_relaxed);
  // Make the consumer poll this lane: lanes_used only grows. Release: pairs with the acquire
  // in LaneRing::lanes_used(); relaxed on failure (we only retry).
  auto& used = ring.header().lanes_used;
  std::uint32_t seen = used.load(std::memory_order_relaxed);
  while (seen < claimed + 1 &&
         !used.compare_exchange_weak(seen, claimed + 1, std::memory_order_release,
                                     std::memory_order_relaxed)) {
  }
  control_ = &control;
  owner_word_ = mine;
  lane_ = claimed;
  writer_ = RingWriter(&control, ring.geometry(claimed), tail, head);
  return {};
}

void LaneProducer::detach() noexcept {
  if (control_ == nullptr) return;
  give_back(control_->owner, owner_word_);
  control_ = nullptr;
  owner_word_ = 0;
}

// ---- the consumer ---------------------------------------------------------------------------

Result<void> LaneConsumer::attach(const LaneRing& ring, ProcessId me, std::string_view context) {
  const std::uint64_t mine = encode_owner(me);
  if (mine == 0)
    return fail(Errc::invalid_argument,
                fmt::format("{}: {} cannot be the consumer", context, to_string(me)));
  auto& consumer = ring.header().consumer;
  // Relaxed: a first look; the compare_exchange decides.
  std::uint64_t word = consumer.load(std::memory_order_relaxed);
  if (word != 0 && alive(decode_owner(word)))
    return fail(Errc::permission_denied,
                fmt::format("{}: {} is the consumer{}", context, to_string(decode_owner(word)),
                            word == mine ? " (through another handle)" : ""));
  // Acq_rel: acquire pairs with the release store of 0 in detach() (the previous consumer's
  // heads are visible).
  if (!consumer.compare_exchange_strong(word, mine, std::memory_order_acq_rel))
    return fail(Errc::permission_denied, fmt::format("{}: {} became the consumer first", context,
                                                     to_string(decode_owner(word))));
  for (std::uint32_t lane = 0; lane < ring.config().lane_count; ++lane) {
    RingControl& control = ring.control(lane);
    // Read-modify-write: the latest head even if the previous consumer died (spsc_ring.hpp (4)).
    const std::uint64_t head = control.head.fetch_add(0, std::memory_order_acq_rel);
    readers_[lane] = RingReader(&control, ring.geometry(lane), head);
  }
  ring_ = &ring;
  owner_word_ = mine;
  next_lane_ = 0;
  return {};
}

void LaneConsumer::detach() noexcept {
  if (ring_ == nullptr) return;
  give_back(ring_->header().consumer, owner_word_);
  ring_ = nullptr;
  owner_word_ = 0;
}

}  // namespace conduit::ring
