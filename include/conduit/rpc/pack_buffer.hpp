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

#include <msgpack.hpp>

namespace conduit::rpc::detail {

/// Appends what msgpack packs to `out`.
struct PackBuffer {
  msgpack::sbuffer& out;
  void write(const char* data, std::size_t size) { out.write(data, size); }
};

/// Whether `d` is a whole number that msgpack-cxx packs as an unsigned (`is_unsigned`) or a
/// negative integer, as its pack_double/pack_float decide, without their overflow at 2^64.
template <class Float>
bool packs_as_integer(Float d, bool& is_unsigned) {
  constexpr Float kTwoTo64 = static_cast<Float>(18446744073709551616.0);
  constexpr Float kMinusTwoTo63 = static_cast<Float>(-9223372036854775808.0);
  if (d >= 0 && d < kTwoTo64) {
    is_unsigned = true;
    return d == static_cast<Float>(static_cast<std::uint64_t>(d));
  }
  is_unsigned = false;
  return d < 0 && d >= kMinusTwoTo63 && d == static_cast<Float>(static_cast<std::int64_t>(d));
}

}  // namespace conduit::rpc::detail

namespace msgpack {
MSGPACK_API_VERSION_NAMESPACE(v1) {
  // Explicit specializations of members of msgpack's packer, for conduit's stream type only (so
  // no other program's packers change). NaN and the infinities compare false above: floats.
  template <>
  inline packer<conduit::rpc::detail::PackBuffer>&
  packer<conduit::rpc::detail::PackBuffer>::pack_double(double d) {
    bool is_unsigned = false;
    if (conduit::rpc::detail::packs_as_integer(d, is_unsigned)) {
      return is_unsigned ? pack_unsigned_long_long(static_cast<std::uint64_t>(d))
                         : pack_long_long(static_cast<std::int64_t>(d));
    }
    const auto bits = std::bit_cast<std::uint64_t>(d);
    char bytes[9] = {static_cast<char>(0xcbu)};  // float 64, big-endian
    for (int i = 0; i < 8; ++i) bytes[1 + i] = static_cast<char>(bits >> (56 - 8 * i));
    append_buffer(bytes, sizeof bytes);
    return *this;
  }

  template <>
  inline packer<conduit::rpc::detail::PackBuffer>&
  packer<conduit::rpc::detail::PackBuffer>::pack_float(float d) {
    bool is_unsigned = false;
    if (conduit::rpc::detail::packs_as_integer(d, is_unsigned)) {
      return is_unsigned ? pack_unsigned_long_long(static_cast<std::uint64_t>(d))
                         : pack_long_long(static_cast<std::int64_t>(d));
    }
    const auto bits = std::bit_cast<std::uint32_t>(d);
    char bytes[5] = {static_cast<char>(0xcau)};  // float 32, big-endian
    for (int i = 0; i < 4; ++i) bytes[1 + i] = static_cast<char>(bits >> (24 - 8 * i));
    append_buffer(bytes, sizeof bytes);
    return *this;
  }

}  // MSGPACK_API_VERSION_NAMESPACE(v1)
}  // namespace msgpack
