#include "conduit/ring/byte_ring.hpp"

#include <bit>
#include <cstring>
#include <new>

namespace conduit::ring {
namespace {

constexpr std::uint64_t kHeaderSize = sizeof(RecordHeader);

constexpr std::uint64_t record_bytes(std::uint64_t payload) {
  return (kHeaderSize + payload + kRecordAlign - 1) / kRecordAlign * kRecordAlign;
}

}  // namespace

void initialize_byte_ring(std::span<std::byte> bytes, std::uint64_t capacity) {
  ::new (static_cast<void*>(bytes.data())) ByteRingControl();
  std::memset(bytes.data() + sizeof(ByteRingControl), 0, capacity);
}

RingResult<ByteRingGeometry> map_byte_ring(std::span<std::byte> bytes,
                                           std::uint64_t capacity) noexcept {
  if (!std::has_single_bit(capacity) || capacity < kMinByteRingCapacity ||
      capacity > kMaxByteRingCapacity || bytes.size() < byte_ring_size(capacity) ||
      reinterpret_cast<std::uintptr_t>(bytes.data()) % kCacheLine != 0)
    return std::unexpected(RingFault::corrupted);
  return ByteRingGeometry{std::launder(reinterpret_cast<ByteRingControl*>(bytes.data())),
                          bytes.data() + sizeof(ByteRingControl), capacity};
}

// ---- the writer -----------------------------------------------------------------------------

ByteRingWriter::ByteRingWriter(ByteRingGeometry geometry) noexcept : geometry_(geometry) {
  // Read-modify-write: the latest tail even if the previous writer died (spsc_ring.hpp (4)).
  tail_ = geometry_.control->tail.fetch_add(0, std::memory_order_acq_rel);
  // Acquire: pairs with the release store of head in ByteRingReader::release (2). Checked
  // against the tail at the first claim that needs it.
  cached_head_ = geometry_.control->head.load(std::memory_order_acquire);
  if (tail_ - cached_head_ > geometry_.capacity) cached_head_ = tail_ - geometry_.capacity;
}

RingResult<std::optional<std::span<std::byte>>> ByteRingWriter::claim(std::size_t size) noexcept {
  has_claim_ = false;
  if (size > max_payload()) return std::nullopt;
  const std::uint64_t need = record_bytes(size);
  const std::uint64_t mask = geometry_.capacity - 1;
  const std::uint64_t contiguous = geometry_.capacity - (tail_ & mask);
  const std::uint64_t padding = need > contiguous ? contiguous : 0;
  std::uint64_t free = geometry_.capacity - (tail_ - cached_head_);
  if (free < padding + need) {
    // Acquire: pairs with the release store of head in ByteRingReader::release (2).
    const std::uint64_t head = geometry_.control->head.load(std::memory_order_acquire);
    if (tail_ - head > geometry_.capacity) return std::unexpected(RingFault::corrupted);
    cached_head_ = head;
    free = geometry_.capacity - (tail_ - head);
    if (free < padding + need) return std::nullopt;
  }
  if (padding >= kHeaderSize) {  // shorter padding is implicit
    const RecordHeader filler{static_cast<std::uint32_t>(padding),
                              static_cast<std::uint32_t>(RecordKind::padding), 0, 0};
    std::memcpy(geometry_.data + (tail_ & mask), &filler, sizeof filler);
  }
  claimed_at_ = tail_ + padding;
  claimed_size_ = size;
  has_claim_ = true;
  return std::span<std::byte>(geometry_.data + (claimed_at_ & mask) + kHeaderSize, size);
}

std::uint64_t ByteRingWriter::commit(std::int64_t type) noexcept {
  if (!has_claim_) return sequence_;
  const RecordHeader header{static_cast<std::uint32_t>(claimed_size_),
                            static_cast<std::uint32_t>(RecordKind::record), type, sequence_};
  std::memcpy(geometry_.data + (claimed_at_ & (geometry_.capacity - 1)), &header, sizeof header);
  tail_ = claimed_at_ + record_bytes(claimed_size_);
  // Release: pairs with the acquire load of tail in ByteRingReader::peek (1): the header,
  // the payload and any padding before them are visible to a reader that sees this tail.
  geometry_.control->tail.store(tail_, std::memory_order_release);
  has_claim_ = false;
  return sequence_++;
}

// ---- the reader -----------------------------------------------------------------------------

ByteRingReader::ByteRingReader(ByteRingGeometry geometry) noexcept : geometry_(geometry) {
  // Read-modify-write: the latest head even if the previous reader died (spsc_ring.hpp (4)).
  head_ = geometry_.control->head.fetch_add(0, std::memory_order_acq_rel);
  cached_tail_ = head_;
}

RingResult<std::optional<RecordView>> ByteRingReader::peek() noexcept {
  const auto corrupted = std::unexpected(RingFault::corrupted);
  const std::uint64_t mask = geometry_.capacity - 1;
  std::uint64_t at = head_;
  // At most one padding (implicit or a record) comes before a record: after it, `at` is at
  // the start of the data.
  for (int step = 0; step < 2; ++step) {
    std::uint64_t available = cached_tail_ - at;
    if (available == 0) {
      // Acquire: pairs with the release store of tail in ByteRingWriter::commit (1).
      const std::uint64_t tail = geometry_.control->tail.load(std::memory_order_acquire);
      if (tail - head_ > geometry_.capacity || tail - head_ < at - head_) return corrupted;
      cached_tail_ = tail;
      available = tail - at;
      if (available == 0) return std::nullopt;
    }
    const std::uint64_t contiguous = geometry_.capacity - (at & mask);
    if (contiguous < kHeaderSize) {  // implicit padding
      if (available < contiguous) return corrupted;
      at += contiguous;
      continue;
    }
    if (available < kHeaderSize) return corrupted;
    RecordHeader header;
    std::memcpy(&header, geometry_.data + (at & mask), sizeof header);  // one copy, then checks
    if (header.kind == static_cast<std::uint32_t>(RecordKind::padding)) {
      if (header.size != contiguous || available < contiguous) return corrupted;
      at += contiguous;
      continue;
    }
    if (header.kind != static_cast<std::uint32_t>(RecordKind::record) ||
        header.size > geometry_.capacity / 2)
      return corrupted;
    const std::uint64_t need = record_bytes(header.size);
    if (need > contiguous || need > available) return corrupted;
    next_head_ = at + need;
    has_record_ = true;
    return RecordView{
        header.type, header.sequence,
        std::span<const std::byte>(geometry_.data + (at & mask) + kHeaderSize, header.size)};
  }
  return corrupted;  // padding after padding
}

void ByteRingReader::release() noexcept {
  if (!has_record_) return;
  head_ = next_head_;
  has_record_ = false;
  // Release: pairs with the acquire load of head in ByteRingWriter::claim (2): our reads of
  // the record are done before the writer may reuse its bytes.
  geometry_.control->head.store(head_, std::memory_order_release);
}

}  // namespace conduit::ring
