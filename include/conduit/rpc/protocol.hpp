// msgpack-rpc on the wire (the public specification), and how C++ callables meet it:
//
//   request       [0, msgid, method, params]     params: an array of the arguments
//   response      [1, msgid, error, result]      error nil on success, else what went wrong
//   notification  [2, method, params]            no response
//
// A bound handler's argument and result types are deduced from the callable; its arguments are
// converted from `params` one by one, and a count or type that does not fit is an ArgumentError
// naming the problem, which the server answers as an error response.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include <msgpack.hpp>

#include "conduit/rpc/pack_buffer.hpp"

namespace conduit::rpc {

enum class MessageKind : std::uint8_t { request = 0, response = 1, notification = 2 };

namespace detail {

/// Thrown by a handler adapter when the params do not fit the callable's signature.
class ArgumentError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A bound handler, type-erased: converts `params`, calls, packs the result into `result`.
/// Throws ArgumentError for bad params; whatever the callable throws passes through.
using Handler = std::function<void(const msgpack::object& params, msgpack::sbuffer& result)>;

template <class F>
struct Signature : Signature<decltype(&std::decay_t<F>::operator())> {};
template <class R, class... A>
struct Signature<R (*)(A...)> {
  using result = R;
  using arguments = std::tuple<std::decay_t<A>...>;
};
template <class R, class... A>
struct Signature<R(A...)> : Signature<R (*)(A...)> {};
template <class C, class R, class... A>
struct Signature<R (C::*)(A...)> : Signature<R (*)(A...)> {};
template <class C, class R, class... A>
struct Signature<R (C::*)(A...) const> : Signature<R (*)(A...)> {};
template <class C, class R, class... A>
struct Signature<R (C::*)(A...) noexcept> : Signature<R (*)(A...)> {};
template <class C, class R, class... A>
struct Signature<R (C::*)(A...) const noexcept> : Signature<R (*)(A...)> {};

template <class Tuple, std::size_t... I>
void convert_arguments(const msgpack::object& params, Tuple& arguments,
                       std::index_sequence<I...> /*indices*/) {
  const auto convert_one = [&](auto index, auto& into) {
    try {
      params.via.array.ptr[index].convert(into);
    } catch (const std::exception&) {
      throw ArgumentError("argument " + std::to_string(index + 1) + " has the wrong type");
    }
  };
  (convert_one(I, std::get<I>(arguments)), ...);
}

/// Adapts a callable to a Handler.
template <class F>
Handler adapt(F callable) {
  using Sig = Signature<F>;
  using Arguments = typename Sig::arguments;
  using R = typename Sig::result;
  constexpr std::size_t kCount = std::tuple_size_v<Arguments>;
  return [callable = std::move(callable)](const msgpack::object& params,
                                          msgpack::sbuffer& result) mutable {
    if (params.type != msgpack::type::ARRAY) throw ArgumentError("params is not an array");
    if (params.via.array.size != kCount) {
      throw ArgumentError("expects " + std::to_string(kCount) + " argument(s), got " +
                          std::to_string(params.via.array.size));
    }
    Arguments arguments;
    convert_arguments(params, arguments, std::make_index_sequence<kCount>{});
    PackBuffer into{result};
    msgpack::packer<PackBuffer> packer(into);
    if constexpr (std::is_void_v<R>) {
      std::apply(callable, std::move(arguments));
      packer.pack_nil();
    } else {
      packer.pack(std::apply(callable, std::move(arguments)));
    }
  };
}

/// An incoming request or notification, as a server reads it off the wire. `params` points into
/// the message it was parsed from.
struct Call {
  MessageKind kind = MessageKind::request;  // request or notification
  std::uint64_t id = 0;                     // a request's msgid
  std::string method;
  const msgpack::object* params = nullptr;
};

/// `message` as a request ([0, msgid, method, params]) or a notification ([2, method, params]):
/// nullopt when it is neither (not an array, wrong length, or a field of the wrong type).
[[nodiscard]] std::optional<Call> parse_call(const msgpack::object& message);

/// Packs `args` as a params array.
template <class... A>
msgpack::sbuffer pack_params(const A&... args) {
  msgpack::sbuffer buffer;
  PackBuffer into{buffer};
  msgpack::packer<PackBuffer> packer(into);
  packer.pack_array(static_cast<std::uint32_t>(sizeof...(A)));
  (packer.pack(args), ...);
  return buffer;
}

}  // namespace detail
}  // namespace conduit::rpc
