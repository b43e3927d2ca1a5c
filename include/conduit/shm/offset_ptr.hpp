// Offset<T>: a position inside a segment, stored as a byte offset from the segment's start, so
// it means the same thing in every process whatever address each maps the segment at.
// Resolving it checks bounds and alignment against the mapping: an offset written by a
// corrupted or hostile peer yields nullptr, never a pointer outside the segment.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace conduit::shm {

template <class T>
class Offset {
 public:
  constexpr Offset() = default;
  constexpr explicit Offset(std::uint64_t offset) noexcept : offset_(offset) {}

  /// The offset of `object` inside `segment` (which must contain it).
  static Offset of(std::span<std::byte> segment, const T* object) noexcept {
    return Offset(
        static_cast<std::uint64_t>(reinterpret_cast<const std::byte*>(object) - segment.data()));
  }

  /// The `count` objects at this offset inside `segment`, or nullptr when they would not lie
  /// wholly inside it or would be misaligned.
  [[nodiscard]] T* resolve(std::span<std::byte> segment, std::size_t count = 1) const noexcept {
    const std::uint64_t offset = offset_;  // read once: the stored value may change under us
    if (offset > segment.size()) return nullptr;
    if (count > (segment.size() - offset) / sizeof(T)) return nullptr;
    std::byte* address = segment.data() + offset;
    if (reinterpret_cast<std::uintptr_t>(address) % alignof(T) != 0) return nullptr;
    return reinterpret_cast<T*>(address);
  }

  [[nodiscard]] constexpr std::uint64_t value() const noexcept { return offset_; }
  friend constexpr bool operator==(Offset, Offset) = default;

 private:
  std::uint64_t offset_ = 0;
};

static_assert(sizeof(Offset<int>) == 8);

}  // namespace conduit::shm
