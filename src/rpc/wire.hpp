// One rpc connection's bytes: msgpack objects in and out over a conduit Connection.
//
// On unix and tcp the connection is unframed (Framing::none) and carries the plain msgpack
// stream, cut into objects by a streaming unpacker. Elsewhere one transport message carries one
// object. Where the Connection is full duplex (Connection::is_full_duplex(): every two-way
// transport) one thread sends while another waits in receive. Otherwise sending and receiving take
// turns under one lock, the receiver waiting in short slices so that a sender is never held up
// for long (unless its caller promises that nobody sends meanwhile: then in one wait). The
// slices are the transport's doing: a receive cannot be woken by a send from this side.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <msgpack.hpp>

#include "conduit/core/error.hpp"
#include "conduit/transport/transport.hpp"

namespace conduit::rpc::detail {

/// Whether `url` names a byte-stream socket (unix, tcp): the plain msgpack stream.
[[nodiscard]] bool is_stream_url(std::string_view url);

/// conduit::listen with the framing rpc uses for `url`.
[[nodiscard]] Result<Listener> listen_for_rpc(std::string_view url);

class Wire {
 public:
  Wire(Connection connection, bool is_stream);

  /// conduit::connect with the framing rpc uses for `url`.
  [[nodiscard]] static Result<std::unique_ptr<Wire>> connect(std::string_view url);

  /// Sends one packed object. Thread-safe. Errors: the transport's (closed, message_too_large).
  [[nodiscard]] Result<void> send(std::span<const char> object);

  /// The next object, or nullopt when `wait` passed first. One receiving thread at a time.
  /// `may_send_meanwhile` false promises that no thread will send before it returns: a
  /// half-duplex connection then waits in one receive instead of in slices. Errors: closed (the
  /// peer went away), corrupted (malformed msgpack, or an object that claims more than its bytes
  /// can hold or than the limits in wire.cpp allow: the stream cannot be trusted past it), the
  /// transport's.
  [[nodiscard]] Result<std::optional<msgpack::object_handle>> next(std::chrono::milliseconds wait,
                                                                   bool may_send_meanwhile = true);

  /// Whether one thread may send while another waits in next() without either waiting for
  /// the other (false: mq, where they take turns).
  [[nodiscard]] bool is_full_duplex() const noexcept { return is_full_duplex_; }

  [[nodiscard]] const std::string& url() const noexcept { return url_; }

 private:
  Result<std::optional<msgpack::object_handle>> next_from_stream(std::chrono::milliseconds wait);
  Result<std::optional<msgpack::object_handle>> next_message(std::chrono::milliseconds wait,
                                                             bool may_send_meanwhile);
  Result<std::optional<msgpack::object_handle>> unpack_message(const Message& message);

  Connection connection_;
  bool is_stream_;
  bool is_full_duplex_;
  std::string url_;
  std::mutex send_mutex_;                // full duplex: one sender at a time
  std::mutex io_mutex_;                  // otherwise: sending and receiving take turns
  std::atomic<int> senders_waiting_{0};  // otherwise: the receiver steps aside for them
  msgpack::unpacker unpacker_;
  std::optional<Error> broken_;
};

}  // namespace conduit::rpc::detail
