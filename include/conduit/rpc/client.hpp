// A msgpack-rpc client over any conduit transport (rpc/protocol.hpp says what is on the wire).
//
//   auto c = rpc::Client::connect("unix:///tmp/calc.sock");
//   Result<int> r = c->call<int>("add", 1, 2);
//
// Thread-safe: any number of threads may call at once; requests in flight are matched to
// their responses by msgid, in whatever order the server answers. A thread waiting in call()
// reads the responses itself when no other thread is reading (and hands the others' answers
// to them); a background thread reads for async_call()s while no caller does. Destruction
// does not wait for an answer in flight. Errors of a call: io with the server's error text (the
// remote handler threw, the method is unknown, the arguments did not fit), invalid_argument (the
// result does not convert to R), timed_out (call_for), closed (the connection is gone; every call
// in flight then fails with closed), and the transport's errors from sending.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
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
    return wait_for_call<R>(std::nullopt, method, args...);
  }

  /// As call, but timed_out after `timeout` (a late answer is dropped).
  template <class R, class... A>
  [[nodiscard]] Result<R> call_for(std::chrono::nanoseconds timeout, std::string_view method,
                                   const A&... args) {
    return wait_for_call<R>(timeout, method, args...);
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
  explicit Client(std::shared_ptr<detail::ClientState> state);

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

  /// A synchronous call: the result lands in this frame, delivered by whichever thread reads
  /// it (often this one), with no future and no allocation for the completion.
  template <class R, class... A>
  Result<R> wait_for_call(std::optional<std::chrono::nanoseconds> timeout, std::string_view method,
                          const A&... args) {
    struct Landing {
      std::optional<Result<R>> result;
      std::string_view method;
    } landing{std::nullopt, method};
    auto waited = call_and_wait(
        method, detail::pack_params(args...),
        [target = &landing](Result<const msgpack::object*> reply) {
          target->result.emplace(detail::result_as<R>(std::move(reply), target->method));
        },
        timeout);
    if (!waited) return std::unexpected(waited.error());
    return std::move(*landing.result);
  }

  /// Sends [0, msgid, method, params] and registers `completion` for the answer, to be run by
  /// the background reader; on failure the completion is dropped unused.
  Result<std::uint32_t> send_request(std::string_view method, const msgpack::sbuffer& params,
                                     detail::Completion completion);
  /// Sends the request and waits (until `timeout`, if any) until `completion` has run.
  /// Errors: the send's, timed_out (then `completion` never runs).
  Result<void> call_and_wait(std::string_view method, const msgpack::sbuffer& params,
                             detail::Completion completion,
                             std::optional<std::chrono::nanoseconds> timeout);
  Result<void> send_notification(std::string_view method, const msgpack::sbuffer& params);
  void shut_down() noexcept;

  // Shared with the background reader, which may outlive the Client when it is destroyed in the
  // middle of a read (the reader then closes the connection when its read returns).
  std::shared_ptr<detail::ClientState> state_;
};

}  // namespace conduit::rpc
