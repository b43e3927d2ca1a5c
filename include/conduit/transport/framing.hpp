// Framing on byte streams (pipes, FIFOs, Unix and TCP sockets, the file spool): each message is
// a 16-byte header and its payload, so one send() is one receive() whatever the stream splits.
//
//   0        4        8                16
//   +--------+--------+----------------+---------- ... --+
//   | magic  | length |      type      |  payload        |
//   +--------+--------+----------------+---------- ... --+
//   little-endian u32 magic kFrameMagic ("CDF1"), u32 payload length, i64 message type.
//
// A hand-off (Connection::send_large on unix://) is a frame with magic kHandoffFrameMagic
// ("CDH1") whose 8-byte payload is the message's size (u64); the message's sealed memfd rides
// with the frame's first byte (SCM_RIGHTS), and descriptors arrive in the order of the frames.
//
// A receiver checks the magic and the length (<= kMaxFrameSize) before it allocates anything:
// a bad magic is `corrupted`, a length over the limit `message_too_large`; either leaves the
// stream out of step, so that connection answers every later receive with the same error.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace conduit::transport {

inline constexpr std::uint32_t kFrameMagic = 0x31464443;         // "CDF1" little-endian
inline constexpr std::uint32_t kHandoffFrameMagic = 0x31484443;  // "CDH1" little-endian
/// The largest payload a framed transport carries: 64 MiB.
inline constexpr std::size_t kMaxFrameSize = std::size_t{64} << 20;

struct FrameHeader {
  std::uint32_t magic;
  std::uint32_t length;
  std::int64_t type;
};
static_assert(std::is_standard_layout_v<FrameHeader> && std::is_trivially_copyable_v<FrameHeader>);
static_assert(sizeof(FrameHeader) == 16);
static_assert(offsetof(FrameHeader, magic) == 0);
static_assert(offsetof(FrameHeader, length) == 4);
static_assert(offsetof(FrameHeader, type) == 8);
// The wire order is little-endian; conduit runs on little-endian Linux targets only.
static_assert(std::endian::native == std::endian::little);

}  // namespace conduit::transport
