#include "wire.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <thread>

#include "conduit/sys/clock.hpp"
#include "conduit/transport/framing.hpp"
#include "conduit/transport/url.hpp"

namespace conduit::rpc::detail {
namespace {

/// How long a message-transport receiver holds the connection before letting a sender in.
constexpr std::chrono::milliseconds kReceiveSlice{1};

/// What one msgpack object from a peer may claim. The unpacker allocates a container's elements
/// as soon as it reads the container's header, before they arrive: unchecked, five bytes (an
/// array32 header) ask for 64 GiB. An object in a message of n bytes has at most n elements
/// per array and n / 2 pairs per map; one from a stream at most kMaxElements, kMaxDepth levels
/// deep (so a stream's unfinished containers hold at most kMaxDepth * kMaxElements elements).
constexpr std::size_t kMaxElements = std::size_t{1} << 18;
constexpr std::size_t kMaxDepth = 32;

/// As the unpacker's default: strings and binaries point into its buffer, which it keeps alive.
bool refer_to_buffer(msgpack::type::object_type /*type*/, std::size_t /*size*/, void* /*user*/) {
  return true;
}

msgpack::unpack_limit limits_for(std::size_t bytes) {
  const std::size_t elements = std::min(bytes, kMaxElements);
  const std::size_t size = std::min(bytes, transport::kMaxFrameSize);
  return {elements, elements / 2, size, size, size, kMaxDepth};
}

}  // namespace

bool is_stream_url(std::string_view url) {
  auto parsed = transport::parse_url(url);
  return parsed && (parsed->scheme == transport::Scheme::unix_socket ||
                    parsed->scheme == transport::Scheme::tcp);
}

Result<Listener> listen_for_rpc(std::string_view url) {
  return conduit::listen(url, is_stream_url(url) ? Framing::none : Framing::framed);
}

Wire::Wire(Connection connection, bool is_stream)
    : connection_(std::move(connection)),
      is_stream_(is_stream),
      is_full_duplex_(connection_.is_full_duplex()),
      url_(connection_.url()),
      unpacker_(&refer_to_buffer, nullptr, MSGPACK_UNPACKER_INIT_BUFFER_SIZE,
                limits_for(transport::kMaxFrameSize)) {}

Result<std::unique_ptr<Wire>> Wire::connect(std::string_view url) {
  const bool is_stream = is_stream_url(url);
  auto connection = conduit::connect(url, is_stream ? Framing::none : Framing::framed);
  if (!connection) return std::unexpected(connection.error());
  return std::make_unique<Wire>(std::move(*connection), is_stream);
}

Result<void> Wire::send(std::span<const char> object) {
  const auto bytes = std::as_bytes(object);
  if (is_full_duplex_) {
    const std::lock_guard lock(send_mutex_);
    return connection_.send(bytes);
  }
  senders_waiting_.fetch_add(1, std::memory_order_relaxed);
  const std::lock_guard lock(io_mutex_);
  senders_waiting_.fetch_sub(1, std::memory_order_relaxed);
  return connection_.send(bytes);
}

Result<std::optional<msgpack::object_handle>> Wire::next(std::chrono::milliseconds wait,
                                                         bool may_send_meanwhile) {
  if (broken_) return std::unexpected(*broken_);
  return is_stream_ ? next_from_stream(wait) : next_message(wait, may_send_meanwhile);
}

Result<std::optional<msgpack::object_handle>> Wire::next_from_stream(
    std::chrono::milliseconds wait) {
  for (bool has_read = false;; has_read = true) {
    try {
      msgpack::object_handle handle;
      if (unpacker_.next(handle)) return std::optional(std::move(handle));
    } catch (const std::exception& error) {
      broken_ =
          Error(Errc::corrupted, fmt::format("{}: malformed msgpack: {}", url_, error.what()));
      return std::unexpected(*broken_);
    }
    if (has_read) return std::optional<msgpack::object_handle>();
    auto got = connection_.receive_for(wait);
    if (!got) {
      if (got.error().code() == Errc::timed_out) return std::optional<msgpack::object_handle>();
      return std::unexpected(got.error());
    }
    const auto payload = got->payload();
    unpacker_.reserve_buffer(payload.size());
    std::memcpy(unpacker_.buffer(), payload.data(), payload.size());
    unpacker_.buffer_consumed(payload.size());
  }
}

Result<std::optional<msgpack::object_handle>> Wire::next_message(std::chrono::milliseconds wait,
                                                                 bool may_send_meanwhile) {
  if (is_full_duplex_ || !may_send_meanwhile) {
    // No sender waits for the connection: wait for the whole of `wait`, woken by a message.
    // Half duplex, the lock is still taken: it orders this receive after earlier sends.
    auto got = [&] {
      std::unique_lock<std::mutex> lock;
      if (!is_full_duplex_) lock = std::unique_lock(io_mutex_);
      return connection_.receive_for(wait);
    }();
    if (!got) {
      if (got.error().code() == Errc::timed_out) return std::optional<msgpack::object_handle>();
      return std::unexpected(got.error());
    }
    return unpack_message(*got);
  }
  const auto deadline = sys::deadline_after(wait);
  for (;;) {
    // std::mutex is not fair: let a waiting sender take the connection between slices.
    while (senders_waiting_.load(std::memory_order_relaxed) > 0) std::this_thread::yield();
    Result<Message> got = [&] {
      const std::lock_guard lock(io_mutex_);
      return connection_.receive_for(kReceiveSlice);
    }();
    if (!got) {
      if (got.error().code() != Errc::timed_out) return std::unexpected(got.error());
      if (sys::now() >= deadline) return std::optional<msgpack::object_handle>();
      continue;
    }
    return unpack_message(*got);
  }
}

Result<std::optional<msgpack::object_handle>> Wire::unpack_message(const Message& message) {
  const auto payload = message.payload();
  try {
    std::size_t offset = 0;
    auto handle = msgpack::unpack(reinterpret_cast<const char*>(payload.data()), payload.size(),
                                  offset, nullptr, nullptr, limits_for(payload.size()));
    if (offset != payload.size()) {
      broken_ = Error(Errc::corrupted,
                      fmt::format("{}: a message of {} bytes holds more than one msgpack object",
                                  url_, payload.size()));
      return std::unexpected(*broken_);
    }
    return std::optional(std::move(handle));
  } catch (const std::exception& error) {
    broken_ = Error(Errc::corrupted, fmt::format("{}: malformed msgpack: {}", url_, error.what()));
    return std::unexpected(*broken_);
  }
}

}  // namespace conduit::rpc::detail
