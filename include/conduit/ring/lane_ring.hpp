// A multi-producer single-consumer ring of fixed-size records that survives the death of any
// producer at any instruction: one single-producer ring (a lane) per attached producer, polled
// fairly by the consumer. Producers::one is the same ring with one lane.
//
// Why lanes, not one shared index. A classic multi-producer ring lets producers claim slots by
// bumping one shared tail, then publish each slot with a per-slot sequence number. A producer
// killed between its claim and its publish leaves a claimed slot that is never published, and
// the consumer, which must read slots in order, waits for it for ever: every other producer
// stalls behind a hole nobody will fill. Repairing that needs the consumer to guess when a
// claim is abandoned, which it cannot tell from slow. With lanes a producer owns its ring
// alone: a claim is private until one store of its own tail publishes it, so a dying producer
// leaves either a whole record or nothing, and the other lanes never wait on it. The price:
// memory (capacity records per lane) and a consumer that polls up to `lanes_used` lanes.
//
// Lanes are claimed with one compare-and-swap of the lane's `owner` word (the producer's
// ProcessId packed into 64 bits): a free lane (0) or a lane whose owner died. Indices are
// monotonic, so a reclaimed lane needs no reset: its new owner appends after whatever the dead
// owner published (the consumer still reads those, in order) and overwrites whatever it had
// only claimed. The consumer role is claimed the same way, on the header's `consumer` word.
//
// Memory ordering of the ownership words (the indices: see spsc_ring.hpp):
//   - Claiming (compare_exchange, acq_rel) pairs with the release store of 0 when the previous
//     holder detached: everything the holder did before (its last index store) is visible.
//     A holder that died released nothing; the fetch_add(0) read of the index then still gets
//     the latest value (a read-modify-write reads the last value in modification order).
//   - lanes_used only grows (compare_exchange, release; loaded with acquire). It matters only
//     for which lanes the consumer polls; records themselves are ordered by the tail.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "conduit/core/error.hpp"
#include "conduit/core/process.hpp"
#include "conduit/ring/ring_layout.hpp"
#include "conduit/ring/spsc_ring.hpp"
#include "conduit/sync/wait.hpp"

namespace conduit::ring {

/// What a lane ring holds: records of `record_size` bytes aligned to `record_align`,
/// `capacity` records per lane, `lanes` lanes.
struct LaneRingShape {
  std::size_t record_size = 0;
  std::size_t record_align = 1;
  std::size_t capacity = 0;
  std::size_t lanes = 1;
};

/// Producers found by LaneRing::census (or handles, by opener_census).
struct ProducerCensus {
  std::uint32_t live = 0;  // lanes (handles) whose owner is running
  std::uint32_t dead = 0;  // lanes (handles) whose owner died without giving them back
  ProcessId last_dead{};   // one of the dead, for messages
};

/// A mapped lane ring: the validated config and pointers into the shared bytes.
class LaneRing {
 public:
  /// The config for `shape`. Errors: invalid_argument (messages start with `context`).
  [[nodiscard]] static Result<LaneRingConfig> plan(const LaneRingShape& shape,
                                                   std::string_view context);
  /// The bytes a ring with `config` occupies.
  [[nodiscard]] static std::uint64_t size_of(const LaneRingConfig& config) noexcept;
  /// Writes an empty ring with `config` into `bytes` (at least size_of(config), aligned to
  /// kCacheLine and to record_align), whose wakers fence as `fencing` says (sync/wait.hpp).
  static void initialize(std::span<std::byte> bytes, const LaneRingConfig& config,
                         sync::WakeFencing fencing = sync::WakeFencing::symmetric);
  /// Validates the ring in `bytes` (read once into a local copy) and maps it. Errors:
  /// corrupted (bad magic, version, sizes, offsets; anything past the end of `bytes`).
  [[nodiscard]] static Result<LaneRing> attach(std::span<std::byte> bytes,
                                               std::string_view context);

  LaneRing() = default;

  [[nodiscard]] const LaneRingConfig& config() const noexcept { return config_; }
  [[nodiscard]] LaneRingHeader& header() const noexcept { return *header_; }
  /// How the wakers of `items` and `space` fence, as the creator chose (read once on attach).
  [[nodiscard]] sync::WakeFencing wake_fencing() const noexcept { return wake_fencing_; }
  [[nodiscard]] RingControl& control(std::uint32_t lane) const noexcept { return controls_[lane]; }
  [[nodiscard]] RingGeometry geometry(std::uint32_t lane) const noexcept;
  /// Lanes the consumer must poll: lanes_used, never more than lane_count.
  [[nodiscard]] std::uint32_t lanes_used() const noexcept {
    // Acquire: pairs with the release in LaneProducer::attach's update (see the file header).
    const std::uint32_t used = header_->lanes_used.load(std::memory_order_acquire);
    return used < config_.lane_count ? used : config_.lane_count;  // a bad value is clamped
  }
  /// Looks at every used lane's owner (a /proc read per owner: for slow paths only).
  [[nodiscard]] ProducerCensus census() const;
  [[nodiscard]] OpenerTable& openers() const noexcept { return *openers_; }
  /// Records a handle of `me` in the opener table: the slot, or none when all 64 are held by
  /// live processes (the handle then goes unrecorded; see opener_census).
  [[nodiscard]] std::optional<std::uint32_t> record_opener(ProcessId me) const;
  /// Gives the slot back if it still holds `me` (not in a forked child's copy of a handle).
  void forget_opener(std::uint32_t slot, ProcessId me) const noexcept;
  /// The recorded handles other than slot `mine` (a /proc read per slot: slow paths only).
  [[nodiscard]] ProducerCensus opener_census(std::optional<std::uint32_t> mine) const;
  /// Records in the ring now, summed over lanes (a snapshot: both sides may be moving).
  [[nodiscard]] std::uint64_t depth() const noexcept;

 private:
  LaneRingConfig config_{};
  sync::WakeFencing wake_fencing_ = sync::WakeFencing::symmetric;
  LaneRingHeader* header_ = nullptr;
  OpenerTable* openers_ = nullptr;
  RingControl* controls_ = nullptr;
  std::byte* slots_ = nullptr;
};

/// A producer's hold on one lane. Not thread-safe: one thread sends through it.
class LaneProducer {
 public:
  /// Claims the lowest lane that is free or whose owner died, for `me`. Errors: limit_reached
  /// (every lane has a live owner), invalid_argument (`me` cannot be packed), corrupted.
  [[nodiscard]] Result<void> attach(const LaneRing& ring, ProcessId me, std::string_view context);
  /// Gives the lane back; records it published stay for the consumer. Only if we still own it.
  void detach() noexcept;

  [[nodiscard]] bool is_attached() const noexcept { return control_ != nullptr; }
  [[nodiscard]] ProcessId identity() const noexcept { return decode_owner(owner_word_); }
  [[nodiscard]] std::uint32_t lane() const noexcept { return lane_; }
  [[nodiscard]] RingWriter& writer() noexcept { return writer_; }

 private:
  RingControl* control_ = nullptr;
  std::uint64_t owner_word_ = 0;
  std::uint32_t lane_ = 0;
  RingWriter writer_;
};

/// The consumer's hold on the ring. Not thread-safe: one thread receives through it.
class LaneConsumer {
 public:
  static constexpr std::uint32_t kNoLane = UINT32_MAX;

  /// Becomes the ring's consumer. Errors: permission_denied (another live process, or another
  /// handle of this process, is the consumer), invalid_argument, corrupted.
  [[nodiscard]] Result<void> attach(const LaneRing& ring, ProcessId me, std::string_view context);
  /// Gives the consumer role back (records stay). Only if we still hold it.
  void detach() noexcept;

  [[nodiscard]] bool is_attached() const noexcept { return ring_ != nullptr; }
  [[nodiscard]] ProcessId identity() const noexcept { return decode_owner(owner_word_); }

  /// A lane with a record to read, or kNoLane when all are empty. Fair: lanes take turns,
  /// starting after the lane that gave the previous record.
  [[nodiscard]] RingResult<std::uint32_t> poll() noexcept {
    const std::uint32_t used = ring_->lanes_used();
    if (next_lane_ >= used) next_lane_ = 0;
    for (std::uint32_t i = 0; i < used; ++i) {
      std::uint32_t lane = next_lane_ + i;
      if (lane >= used) lane -= used;
      auto ready = readers_[lane].available(1);
      if (!ready) return std::unexpected(ready.error());
      if (*ready != 0) {
        next_lane_ = lane + 1;
        return lane;
      }
    }
    return kNoLane;
  }
  [[nodiscard]] RingReader& reader(std::uint32_t lane) noexcept { return readers_[lane]; }

 private:
  const LaneRing* ring_ = nullptr;
  std::uint64_t owner_word_ = 0;
  std::uint32_t next_lane_ = 0;
  std::array<RingReader, kMaxLanes> readers_{};
};

}  // namespace conduit::ring
