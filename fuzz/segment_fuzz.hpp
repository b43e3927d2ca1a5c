// What the segment fuzz target and its seed generator agree on: the object name, the type a
// Shared<T> holds, and how an input becomes a segment file.
#pragma once

#include <cstddef>
#include <cstdint>

namespace conduit::fuzz {

/// The name every fuzzed object has in the fuzz namespace.
inline constexpr const char* kObjectName = "fuzzed";

/// What the fuzzed Shared<T> holds: a few fields a peer might use.
struct Tally {
  std::uint64_t count;
  std::uint32_t flags;
  std::int32_t last_pid;
};

/// Input byte 0. Clear: the target makes the header's fixed fields (magic, version, sizes,
/// payload offset) and its checksum right, as a hostile peer that knows the format would, so
/// that the object's own layout is what gets fuzzed. Set: the bytes go in as they are, for
/// validate_segment itself.
inline constexpr std::uint8_t kRawHeader = 1;

/// The input: control byte, then the 128-byte segment header, then the payload (zero beyond).
inline constexpr std::size_t kHeaderAt = 1;
inline constexpr std::size_t kPayloadAt = 1 + 128;

/// The largest payload the target maps: header sizes beyond it are not honoured.
inline constexpr std::size_t kMaxPayload = std::size_t{1} << 20;

}  // namespace conduit::fuzz
