// A msgpack-rpc client over any conduit transport (rpc/protocol.hpp says what is on the wire).
//
//   auto c = rpc::Client::connect("unix:///tmp/calc.sock");
//   Result<int> r = c->call<int>("add", 1, 2);
//
// Thread-safe: any number of threads may call at once; requests in flight are matched to
// their responses by msgid, in whatever order the server answers. A background thread reads
// the responses. Errors of a call: io with the server's error text (the remote handler threw,
// the method is unknown, the arguments did not fit), invalid_argument (the result does not
// convert to R), timed_out (call_for), closed (the connection is gone; every call in flight
// then fails with closed), and the transport's errors from sending.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "conduit/core/error.hpp"
#include "conduit/rpc/protocol.hpp"

namespace conduit::rpc {

namespace detail {
struct ClientState;

/// What a response delivers to a waiting call: the result object (valid during the callback
/// only), or the error.
using Completion = std::function<void(Result<const msgpack::object*>)>;

template <class R>
Result<R> result_as(Result<const msgpack::object*> reply, std::string_view method) {
  if (!reply) return std::unexpected(reply.error());
  if constexpr (std::is_void_v<R>) {
    return {};
  } else {
    try {
      return (*reply)->template as<R>();
    } catch (const std::exception& error) {
      return std::unexpected(Error(Errc::invalid_argument,
                                   "rpc call '" + std::string(method) +
                                       "': the result does not convert to the type asked for (" +
                                       error.what() + ")"));
    }
  }
}
}  // namespace detail

class Client {
 public:
  /// Connects to a server at `url`. Errors: those of conduit::connect.
  [[nodiscard]] static Result<Client> connect(std::string_view url);

  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;
  ~Client();  // closes; calls still in flight fail with closed

  /// Calls `method` with `args` and waits for the result.
  template <class R, class... A>
  [[nodiscard]] Result<R> call(std::string_view method, const A&... args) {
    return async_call<R>(method, args...).get();
  }

  /// As call, but timed_out after `timeout` (a late answer is dropped).
  template <class R, class... A>
  [[nodiscard]] Result<R> call_for(std::chrono::nanoseconds timeout, std::string_view method,
                                   const A&... args) {
    auto [id, future] = start<R>(method, args...);
    if (!id) return future.get();
    if (future.wait_for(timeout) == std::future_status::ready) return future.get();
    // The answer may have come meanwhile: then it is being delivered, so take it.
    if (!cancel(*id)) return future.get();
    return std::unexpected(Error(
        Errc::timed_out, "rpc call '" + std::string(method) + "': no answer within the timeout"));
  }

  /// Calls `method` without waiting: the future becomes ready with the result.
  template <class R, class... A>
  [[nodiscard]] std::future<Result<R>> async_call(std::string_view method, const A&... args) {
    return std::move(start<R>(method, args...).second);
  }

  /// Sends a notification: `method` runs on the server, nothing is answered.
  template <class... A>
  [[nodiscard]] Result<void> notify(std::string_view method, const A&... args) {
    return send_notification(method, detail::pack_params(args...));
  }

  /// Whether the connection is still up (false once the server closed it).
  [[nodiscard]] bool is_connected() const noexcept;

 private:
  explicit Client(std::unique_ptr<detail::ClientState> state);

  template <class R, class... A>
  std::pair<Result<std::uint32_t>, std::future<Result<R>>> start(std::string_view method,
                                                                 const A&... args) {
    auto promise = std::make_shared<std::promise<Result<R>>>();
    auto future = promise->get_future();
    auto id =
        send_request(method, detail::pack_params(args...),
                     [promise, name = std::string(method)](Result<const msgpack::object*> reply) {
                       promise->set_value(detail::result_as<R>(std::move(reply), name));
                     });
    if (!id) promise->set_value(std::unexpected(id.error()));
    return {std::move(id), std::move(future)};
  }

  /// Sends [0, msgid, method, params] and registers `completion` for the answer; on failure the
  /// completion is dropped unused.
  Result<std::uint32_t> send_request(std::string_view method, const msgpack::sbuffer& params,
                                     detail::Completion completion);
  Result<void> send_notification(std::string_view method, const msgpack::sbuffer& params);
  /// Forgets call `id`; false when its answer is already being delivered.
  bool cancel(std::uint32_t id);
  void shut_down() noexcept;

  std::unique_ptr<detail::ClientState> state_;
};

}  // namespace conduit::rpc
