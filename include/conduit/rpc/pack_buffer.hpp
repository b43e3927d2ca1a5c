// PackBuffer: the stream conduit's rpc packs users' values into (call arguments, handler
// results), a msgpack::sbuffer behind it.
//
// Why not the sbuffer itself: msgpack-cxx 4.1 packs a double (or float) that holds a whole
// number as an integer, and finds out whether it does by converting it to an integer after a
// range check whose bound, 2^64 - 1, rounds up to 2^64 as a double. So 2^64 itself passes, and
// its conversion to std::uint64_t is undefined behaviour (UBSan stops there; fuzz_rpc found it
// through a handler that returned a sum). The packer of a PackBuffer packs floating-point
// values as msgpack-cxx does, byte for byte, except that 2^64 and above are floats on the wire.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include <msgpack.hpp>

namespace conduit::rpc::detail {

/// Appends what msgpack packs to `out`.
struct PackBuffer {
  msgpack::sbuffer& out;
  void write(const char* data, std::size_t size) { out.write(data, size); }
};

/// Packs `d` as msgpack-cxx's pack_double/pack_float do, without their overflow at 2^64: a
/// whole number in range as an integer, anything else (NaN and the infinities compare false
/// below) as a float of its own width. `stream` is the one `packer` packs into.
template <class Float>
msgpack::packer<PackBuffer>& pack_floating(msgpack::packer<PackBuffer>& packer, PackBuffer& stream,
                                           Float d) {
  using Bits = std::conditional_t<sizeof(Float) == 8, std::uint64_t, std::uint32_t>;
  constexpr auto kTwoTo64 = static_cast<Float>(18446744073709551616.0);
  constexpr auto kMinusTwoTo63 = static_cast<Float>(-9223372036854775808.0);
  if (d >= 0 && d < kTwoTo64 && d == static_cast<Float>(static_cast<std::uint64_t>(d)))
    return packer.pack_unsigned_long_long(static_cast<std::uint64_t>(d));
  if (d < 0 && d >= kMinusTwoTo63 && d == static_cast<Float>(static_cast<std::int64_t>(d)))
    return packer.pack_long_long(static_cast<std::int64_t>(d));
  const auto bits = std::bit_cast<Bits>(d);
  char bytes[1 + sizeof(Bits)] = {static_cast<char>(sizeof(Bits) == 8 ? 0xcbU : 0xcaU)};
  for (std::size_t i = 0; i < sizeof(Bits); ++i)  // big-endian
    bytes[1 + i] = static_cast<char>(bits >> (8 * (sizeof(Bits) - 1 - i)));
  stream.write(bytes, sizeof bytes);
  return packer;
}

}  // namespace conduit::rpc::detail

namespace msgpack {
MSGPACK_API_VERSION_NAMESPACE(v1) {
  // Explicit specializations of members of msgpack's packer, for conduit's stream type only (so
  // no other program's packers change).
  template <>
  inline packer<conduit::rpc::detail::PackBuffer>&
  packer<conduit::rpc::detail::PackBuffer>::pack_double(double d) {
    return conduit::rpc::detail::pack_floating(*this, m_stream, d);
  }
  template <>
  inline packer<conduit::rpc::detail::PackBuffer>&
  packer<conduit::rpc::detail::PackBuffer>::pack_float(float d) {
    return conduit::rpc::detail::pack_floating(*this, m_stream, d);
  }

}  // MSGPACK_API_VERSION_NAMESPACE(v1)
}  // namespace msgpack
