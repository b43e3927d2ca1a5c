// The bytes at the start of every named segment. Written once by the creator before the name
// appears, never changed after; validated (magic, version, sizes, checksum) on every open.
//
//   offset  field                    type
//   ------  -----------------------  --------
//        0  magic "CONDUIT\x01"       u64
//        8  layout_version           u32
//       12  header_size              u32      sizeof(SegmentHeader) = 128
//       16  segment_size             u64      bytes of the whole file
//       24  payload_offset           u64      kPayloadOffset (one page)
//       32  payload_size             u64      bytes the object asked for
//       40  kind                     u32      SegmentKind
//       44  lifetime                 u32      conduit::Lifetime
//       48  creator_pid              i32
//       52  type_align               u32      alignof(T) for typed objects, else 0
//       56  creator_start_time       u64      ProcessId::start_time
//       64  type_size                u64      sizeof(T) for typed objects, else 0
//       72  reserved[6]              u64      zero
//      120  checksum                 u64      FNV-1a 64 of bytes 0..119
//      128  zero up to payload_offset
//     4096  payload (payload_size bytes)
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace conduit::shm {

inline constexpr std::size_t kCacheLine = 64;
inline constexpr std::uint64_t kSegmentMagic = 0x01'54'49'55'44'4e'4f'43ULL;  // "CONDUIT\x01"
inline constexpr std::uint32_t kSegmentLayoutVersion = 1;
inline constexpr std::size_t kPayloadOffset = 4096;

/// What a segment holds. Higher layers own the meaning of their kinds; the numbers are fixed
/// here so that one segment can never be opened as another kind of object.
enum class SegmentKind : std::uint32_t {
  raw = 1,        // SharedMemory
  object = 2,     // Shared<T>
  channel = 3,    // Channel<T>
  mailbox = 4,    // Mailbox
  endpoint = 5,   // Endpoint
  extension = 6,  // more memory chained to another object (an unbounded mailbox)
};

/// The human name of a kind, for messages and listings: "shared memory", "mailbox".
const char* kind_name(SegmentKind kind) noexcept;
/// Whether `value` is one of the SegmentKind values.
bool is_known_kind(std::uint32_t value) noexcept;

struct SegmentHeader {
  std::uint64_t magic;
  std::uint32_t layout_version;
  std::uint32_t header_size;
  std::uint64_t segment_size;
  std::uint64_t payload_offset;
  std::uint64_t payload_size;
  std::uint32_t kind;
  std::uint32_t lifetime;
  std::int32_t creator_pid;
  std::uint32_t type_align;
  std::uint64_t creator_start_time;
  std::uint64_t type_size;
  std::uint64_t reserved[6];
  std::uint64_t checksum;
};

static_assert(std::is_standard_layout_v<SegmentHeader>);
static_assert(std::is_trivially_copyable_v<SegmentHeader>);
static_assert(sizeof(SegmentHeader) == 128);
static_assert(offsetof(SegmentHeader, magic) == 0);
static_assert(offsetof(SegmentHeader, layout_version) == 8);
static_assert(offsetof(SegmentHeader, header_size) == 12);
static_assert(offsetof(SegmentHeader, segment_size) == 16);
static_assert(offsetof(SegmentHeader, payload_offset) == 24);
static_assert(offsetof(SegmentHeader, payload_size) == 32);
static_assert(offsetof(SegmentHeader, kind) == 40);
static_assert(offsetof(SegmentHeader, lifetime) == 44);
static_assert(offsetof(SegmentHeader, creator_pid) == 48);
static_assert(offsetof(SegmentHeader, type_align) == 52);
static_assert(offsetof(SegmentHeader, creator_start_time) == 56);
static_assert(offsetof(SegmentHeader, type_size) == 64);
static_assert(offsetof(SegmentHeader, checksum) == 120);
static_assert(kPayloadOffset % kCacheLine == 0 && kPayloadOffset >= sizeof(SegmentHeader));

/// FNV-1a 64 over the header's bytes before `checksum`.
std::uint64_t header_checksum(const SegmentHeader& header) noexcept;

}  // namespace conduit::shm
