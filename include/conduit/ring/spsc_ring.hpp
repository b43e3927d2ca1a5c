// The two sides of one single-producer single-consumer ring of fixed-size records, over a
// RingControl and its slots in shared memory (ring_layout.hpp). Process-local views: each
// side keeps its own index and a cached copy of the other side's, so while the ring is neither
// full nor empty a side touches only its own cache line.
//
// Records are written claim → publish: a producer fills slots past the tail, then publishes
// them with one store of the tail. A producer that dies before that store published nothing;
// the next producer of the lane overwrites the slots. A consumer reads a record, then releases
// it with one store of the head; a consumer that dies before that store leaves the record for
// the next consumer.
//
// Memory ordering, the whole argument:
//   (1) RingWriter::publish stores `tail` with release; RingReader::available loads it with
//       acquire. A reader that sees tail = t sees the bytes of every record below t: the
//       memcpy into a slot happens before the release store that publishes it.
//   (2) RingReader::release stores `head` with release; RingWriter::available loads it with
//       acquire. A writer that sees head = h may overwrite the slots of records below h: the
//       reader's loads of those bytes happen before its release store, so they cannot see the
//       writer's new bytes (no write-after-read race on a reused slot).
//   (3) Each side reads its own index only from its private copy: it is the only writer.
//   (4) A side taking over an index from a predecessor (a new owner of a lane, a new consumer)
//       reads it with fetch_add(0, acq_rel) (see LaneRing): a read-modify-write always reads
//       the latest value in the index's modification order, even when the predecessor died
//       and never released anything.
// Everything read from the other side is checked: `tail - head` can never exceed the
// capacity; if it does, the ring is corrupted and the call says so instead of trusting it.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <expected>

#include "conduit/ring/ring_layout.hpp"

namespace conduit::ring {

/// What a ring operation can find besides records or space: the shared indices are impossible.
enum class RingFault { corrupted };
template <class T>
using RingResult = std::expected<T, RingFault>;

/// Where one ring's records are.
struct RingGeometry {
  std::byte* slots = nullptr;
  std::uint64_t slot_mask = 0;  // slot_count - 1 (slot_count a power of two)
  std::uint64_t capacity = 0;   // records the ring holds: <= slot_count
  std::size_t record_size = 0;
};

/// The producer's side. Not thread-safe: one writer per ring.
class RingWriter {
 public:
  RingWriter() = default;
  /// `tail` and `head` as the producer found them on taking the ring over.
  RingWriter(RingControl* control, RingGeometry geometry, std::uint64_t tail,
             std::uint64_t head) noexcept
      : control_(control), geometry_(geometry), tail_(tail), cached_head_(head) {}

  /// How many records (up to `wanted`) can be written now; 0 when full.
  [[nodiscard]] RingResult<std::size_t> available(std::size_t wanted) noexcept {
    std::uint64_t free = geometry_.capacity - (tail_ - cached_head_);
    if (free < wanted) {
      // Acquire: pairs with the release store of `head` in RingReader::release (2).
      const std::uint64_t head = control_->head.load(std::memory_order_acquire);
      if (tail_ - head > geometry_.capacity) return std::unexpected(RingFault::corrupted);
      cached_head_ = head;
      free = geometry_.capacity - (tail_ - head);
    }
    return static_cast<std::size_t>(std::min<std::uint64_t>(free, wanted));
  }

  /// The slot of the `k`-th record past the tail (k < what available() returned).
  [[nodiscard]] std::byte* slot(std::size_t k = 0) const noexcept {
    return geometry_.slots + ((tail_ + k) & geometry_.slot_mask) * geometry_.record_size;
  }

  /// Publishes the next `count` records (written through slot()).
  void publish(std::size_t count) noexcept {
    tail_ += count;
    // Release: pairs with the acquire load of `tail` in RingReader::available (1).
    control_->tail.store(tail_, std::memory_order_release);
  }

  [[nodiscard]] std::uint64_t tail() const noexcept { return tail_; }
  [[nodiscard]] const RingGeometry& geometry() const noexcept { return geometry_; }
  /// The flag this ring's producer raises while it sleeps on a full ring (ring_layout.hpp).
  [[nodiscard]] std::atomic<std::uint32_t>& sleepers() const noexcept {
    return control_->producer_sleepers;
  }

 private:
  RingControl* control_ = nullptr;
  RingGeometry geometry_{};
  std::uint64_t tail_ = 0;         // ours: the shared tail always equals it
  std::uint64_t cached_head_ = 0;  // the consumer's head as last seen: never ahead of it
};

/// The consumer's side. Not thread-safe: one reader per ring.
class RingReader {
 public:
  RingReader() = default;
  RingReader(RingControl* control, RingGeometry geometry, std::uint64_t head) noexcept
      : control_(control), geometry_(geometry), head_(head), cached_tail_(head) {}

  /// How many records (up to `wanted`) can be read now; 0 when empty.
  [[nodiscard]] RingResult<std::size_t> available(std::size_t wanted) noexcept {
    std::uint64_t ready = cached_tail_ - head_;
    if (ready < wanted) {
      // Acquire: pairs with the release store of `tail` in RingWriter::publish (1).
      const std::uint64_t tail = control_->tail.load(std::memory_order_acquire);
      if (tail - head_ > geometry_.capacity) return std::unexpected(RingFault::corrupted);
      cached_tail_ = tail;
      ready = tail - head_;
    }
    return static_cast<std::size_t>(std::min<std::uint64_t>(ready, wanted));
  }

  /// The slot of the `k`-th record past the head (k < what available() returned).
  [[nodiscard]] const std::byte* slot(std::size_t k = 0) const noexcept {
    return geometry_.slots + ((head_ + k) & geometry_.slot_mask) * geometry_.record_size;
  }

  /// Releases the next `count` records (read through slot()) to the producer.
  void release(std::size_t count) noexcept {
    head_ += count;
    // Release: pairs with the acquire load of `head` in RingWriter::available (2).
    control_->head.store(head_, std::memory_order_release);
  }

  /// Records seen but not yet read, from the cached tail (a lower bound of the true count).
  [[nodiscard]] std::uint64_t cached_depth() const noexcept { return cached_tail_ - head_; }
  [[nodiscard]] std::uint64_t head() const noexcept { return head_; }
  /// The flag of this ring's producer asleep on a full ring (ring_layout.hpp).
  [[nodiscard]] std::atomic<std::uint32_t>& producer_sleepers() const noexcept {
    return control_->producer_sleepers;
  }

 private:
  RingControl* control_ = nullptr;
  RingGeometry geometry_{};
  std::uint64_t head_ = 0;         // ours: the shared head always equals it
  std::uint64_t cached_tail_ = 0;  // the producer's tail as last seen: never ahead of it
};

}  // namespace conduit::ring
