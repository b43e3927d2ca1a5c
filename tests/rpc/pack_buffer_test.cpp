// What conduit's rpc packs users' floating-point values as: msgpack-cxx's bytes, except at 2^64
// and above, where msgpack-cxx's own packer converts out of range (undefined behaviour).
#include "conduit/rpc/pack_buffer.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include "conduit/rpc/protocol.hpp"

namespace conduit::rpc {
namespace {

constexpr double kTwoTo64 = 18446744073709551616.0;

template <class T>
std::string packed_by_conduit(const T& value) {
  msgpack::sbuffer buffer;
  detail::PackBuffer into{buffer};
  msgpack::packer<detail::PackBuffer>(into).pack(value);
  return {buffer.data(), buffer.size()};
}

template <class T>
std::string packed_by_msgpack(const T& value) {
  msgpack::sbuffer buffer;
  msgpack::pack(buffer, value);
  return {buffer.data(), buffer.size()};
}

TEST(RpcPackBuffer, FloatingPointValuesPackAsMsgpackCxxPacksThem) {
  const double doubles[] = {0.0,
                            -0.0,
                            3.0,
                            -3.0,
                            0.5,
                            -1e300,
                            1e300,
                            255.0,
                            65536.0,
                            -129.0,
                            9223372036854775808.0,  // 2^63: an unsigned integer on the wire
                            -9223372036854775808.0,
                            std::nextafter(kTwoTo64, 0.0),  // the largest double below 2^64
                            std::numeric_limits<double>::quiet_NaN(),
                            std::numeric_limits<double>::infinity(),
                            -std::numeric_limits<double>::infinity(),
                            std::numeric_limits<double>::denorm_min()};
  for (double d : doubles) {
    EXPECT_EQ(packed_by_conduit(d), packed_by_msgpack(d)) << d;
    // (The largest double below 2^64 rounds to 2^64 as a float: msgpack-cxx's case to avoid.)
    const float f = static_cast<float>(d);
    if (f != static_cast<float>(kTwoTo64)) {
      EXPECT_EQ(packed_by_conduit(f), packed_by_msgpack(f)) << f;
    }
  }
}

TEST(RpcPackBuffer, TwoToThe64IsAFloatOnTheWire) {
  // msgpack-cxx 4.1's packer converts this value to std::uint64_t: not asked of it here.
  const std::string as_double = packed_by_conduit(kTwoTo64);
  ASSERT_EQ(as_double.size(), 9U);
  EXPECT_EQ(static_cast<unsigned char>(as_double[0]), 0xcbU);
  auto handle = msgpack::unpack(as_double.data(), as_double.size());
  EXPECT_EQ(handle->type, msgpack::type::FLOAT64);
  EXPECT_EQ(handle->as<double>(), kTwoTo64);

  const std::string as_float = packed_by_conduit(static_cast<float>(kTwoTo64));
  ASSERT_EQ(as_float.size(), 5U);
  EXPECT_EQ(static_cast<unsigned char>(as_float[0]), 0xcaU);
  auto float_handle = msgpack::unpack(as_float.data(), as_float.size());
  EXPECT_EQ(float_handle->as<float>(), static_cast<float>(kTwoTo64));
}

TEST(RpcPackBuffer, HandlerResultsAndCallArgumentsGoThroughIt) {
  // A sum that reaches 2^64, as fuzz_rpc found: the result is a float, not a crash.
  auto sum = detail::adapt([](const std::vector<double>& values) {
    double total = 0;
    for (double v : values) total += v;
    return total;
  });
  const msgpack::sbuffer params =
      detail::pack_params(std::vector<double>{kTwoTo64 / 2, kTwoTo64 / 2});
  auto params_handle = msgpack::unpack(params.data(), params.size());
  msgpack::sbuffer result;
  sum(params_handle.get(), result);
  auto result_handle = msgpack::unpack(result.data(), result.size());
  EXPECT_EQ(result_handle->type, msgpack::type::FLOAT64);
  EXPECT_EQ(result_handle->as<double>(), kTwoTo64);

  // Arguments, nested in containers too.
  const msgpack::sbuffer args = detail::pack_params(
      kTwoTo64, std::make_tuple(std::vector<float>{static_cast<float>(kTwoTo64)}));
  auto args_handle = msgpack::unpack(args.data(), args.size());
  const auto& array = args_handle->via.array;
  ASSERT_EQ(array.size, 2U);
  EXPECT_EQ(array.ptr[0].as<double>(), kTwoTo64);
  EXPECT_EQ(array.ptr[1].via.array.ptr[0].via.array.ptr[0].type, msgpack::type::FLOAT32);
}

}  // namespace
}  // namespace conduit::rpc
