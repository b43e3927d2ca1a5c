// How bound C++ callables meet msgpack-rpc params: deduced argument and result types, and
// argument errors that name the problem.
#include "conduit/rpc/protocol.hpp"

#include <gtest/gtest.h>

#include <string>

namespace conduit::rpc {
namespace {

msgpack::object_handle unpacked(const msgpack::sbuffer& buffer) {
  return msgpack::unpack(buffer.data(), buffer.size());
}

template <class R>
R call(const detail::Handler& handler, const msgpack::sbuffer& params) {
  auto handle = unpacked(params);
  msgpack::sbuffer result;
  handler(handle.get(), result);
  return unpacked(result)->as<R>();
}

TEST(RpcProtocol, Adapt_DeducesArgumentsAndResult) {
  auto add = detail::adapt([](int a, int b) { return a + b; });
  EXPECT_EQ(call<int>(add, detail::pack_params(40, 2)), 42);
  auto greet = detail::adapt([](const std::string& name) { return "hello " + name; });
  EXPECT_EQ(call<std::string>(greet, detail::pack_params(std::string("you"))), "hello you");
}

int twice(int value) { return 2 * value; }

TEST(RpcProtocol, Adapt_TakesFunctionPointersAndVoidResults) {
  EXPECT_EQ(call<int>(detail::adapt(&twice), detail::pack_params(21)), 42);
  int seen = 0;
  auto record = detail::adapt([&seen](int value) { seen = value; });
  auto handle = unpacked(detail::pack_params(7));
  msgpack::sbuffer result;
  record(handle.get(), result);
  EXPECT_EQ(seen, 7);
  EXPECT_TRUE(unpacked(result)->is_nil());
}

TEST(RpcProtocol, Adapt_WrongCountOrType_ArgumentError) {
  auto add = detail::adapt([](int a, int b) { return a + b; });
  msgpack::sbuffer result;
  auto too_few = unpacked(detail::pack_params(1));
  EXPECT_THROW(add(too_few.get(), result), detail::ArgumentError);
  auto wrong_type = unpacked(detail::pack_params(1, std::string("two")));
  try {
    add(wrong_type.get(), result);
    FAIL() << "no ArgumentError";
  } catch (const detail::ArgumentError& error) {
    EXPECT_STREQ(error.what(), "argument 2 has the wrong type");
  }
  msgpack::sbuffer not_array;
  msgpack::pack(not_array, 5);
  auto scalar = unpacked(not_array);
  EXPECT_THROW(add(scalar.get(), result), detail::ArgumentError);
}

}  // namespace
}  // namespace conduit::rpc
