// A single-producer single-consumer ring of variable-size records (length, type, sequence and
// payload), for carriers whose messages vary in size (mailboxes). Layout: ring_layout.hpp.
//
// The same protocol as the fixed-size ring (spsc_ring.hpp), counted in bytes: monotonic 64-bit
// byte counters (`tail - head` bytes are in the ring, all `capacity` bytes usable), claim →
// commit with one release store of the tail, release with one release store of the head, each
// side caching the other's counter. Memory ordering, the whole argument:
//   (1) ByteRingWriter::commit stores `tail` (release) after writing the record's header and
//       payload; ByteRingReader::peek loads it (acquire): a reader that sees the new tail sees
//       the whole record. A producer that dies before that store published nothing.
//   (2) ByteRingReader::release stores `head` (release) after the reader is done with the
//       record's bytes; ByteRingWriter::claim loads it (acquire) before reusing those bytes.
// A record never wraps around the end of the data (see the layout), so a payload is always one
// contiguous span, readable in place. The largest record is max_payload(): half the capacity
// less a header, which always fits once the ring is empty, wherever the indices stand.
//
// Nothing read from shared memory is trusted: impossible counters, kinds, sizes or padding
// give RingFault::corrupted, never a read outside the data.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "conduit/ring/ring_layout.hpp"
#include "conduit/ring/spsc_ring.hpp"

namespace conduit::ring {

/// Where a byte ring is: its control block and `capacity` bytes of data.
struct ByteRingGeometry {
  ByteRingControl* control = nullptr;
  std::byte* data = nullptr;
  std::uint64_t capacity = 0;  // a power of two
};

/// The bytes a byte ring of `capacity` data bytes occupies.
[[nodiscard]] constexpr std::uint64_t byte_ring_size(std::uint64_t capacity) noexcept {
  return sizeof(ByteRingControl) + capacity;
}
/// Writes an empty ring into `bytes` (kCacheLine aligned, byte_ring_size(capacity) long).
void initialize_byte_ring(std::span<std::byte> bytes, std::uint64_t capacity);
/// The ring in `bytes`, if `capacity` is a power of two in range and fits: else corrupted.
[[nodiscard]] RingResult<ByteRingGeometry> map_byte_ring(std::span<std::byte> bytes,
                                                         std::uint64_t capacity) noexcept;

/// A record read in place.
struct RecordView {
  std::int64_t type = 0;
  std::uint64_t sequence = 0;
  std::span<const std::byte> payload;
};

/// The producer's side. Not thread-safe: one writer per ring.
class ByteRingWriter {
 public:
  ByteRingWriter() = default;
  /// Takes the ring over: reads the tail (fetch_add(0): the latest even after a dead writer).
  explicit ByteRingWriter(ByteRingGeometry geometry) noexcept;

  /// The largest payload a record can carry.
  [[nodiscard]] std::uint64_t max_payload() const noexcept {
    return geometry_.capacity / 2 - sizeof(RecordHeader);
  }
  /// Room for a payload of `size` bytes, to write through the span, then commit(); nothing
  /// (an empty optional) when the ring has no room now, or never will (size > max_payload()).
  /// Claiming again before commit() abandons the previous claim. Errors: corrupted.
  [[nodiscard]] RingResult<std::optional<std::span<std::byte>>> claim(std::size_t size) noexcept;
  /// Publishes the claimed record with `type`; returns its sequence number (records this
  /// writer published before it, since it took the ring over).
  std::uint64_t commit(std::int64_t type) noexcept;

  [[nodiscard]] std::uint64_t tail() const noexcept { return tail_; }

 private:
  ByteRingGeometry geometry_{};
  std::uint64_t tail_ = 0;         // ours: the shared tail always equals it
  std::uint64_t cached_head_ = 0;  // the consumer's head as last seen
  std::uint64_t sequence_ = 0;     // records published by this writer's ring
  std::uint64_t claimed_at_ = 0;   // where the claimed record's header goes
  std::uint64_t claimed_size_ = 0;
  bool has_claim_ = false;
};

/// The consumer's side. Not thread-safe: one reader per ring.
class ByteRingReader {
 public:
  ByteRingReader() = default;
  /// Takes the ring over: reads the head (fetch_add(0): the latest even after a dead reader).
  explicit ByteRingReader(ByteRingGeometry geometry) noexcept;

  /// The next record, in place (valid until release()); an empty optional when the ring is
  /// empty. Errors: corrupted.
  [[nodiscard]] RingResult<std::optional<RecordView>> peek() noexcept;
  /// Releases the record peek() returned (and any padding before it) to the writer.
  void release() noexcept;

  [[nodiscard]] std::uint64_t head() const noexcept { return head_; }

 private:
  ByteRingGeometry geometry_{};
  std::uint64_t head_ = 0;         // ours: the shared head always equals it
  std::uint64_t cached_tail_ = 0;  // the producer's tail as last seen
  std::uint64_t next_head_ = 0;    // past the record peek() returned; 0 bytes when none
  bool has_record_ = false;
};

}  // namespace conduit::ring
