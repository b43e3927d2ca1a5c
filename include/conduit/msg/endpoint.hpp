// Endpoint: direct message passing. A process joins under a name and sends to other endpoints
// by name; it receives either from one named peer (symmetric naming) or from anyone, with
// Message::sender() and sender_name() saying who (asymmetric naming).
//
// A link between two endpoints is made on first use, exactly one per direction of each pair,
// and joins exactly those two: it is a pair mailbox, so all of Mailbox's guarantees hold on it
// (exactly-once delivery, nothing torn, crash safety). An endpoint dies with its process: its
// name is free again at once, its inbound links go with it, and its peers' sends and
// receive_from calls return closed (noticed within kPeerCheckInterval). Messages already sent
// by a peer that died can still be received. A process that joins under a name used before
// (a restarted server, say) gets links of its own; a receiver reads what the earlier process
// under that name sent before what the new one sends.
//
// One Endpoint object is meant for one thread at a time (give each thread its own endpoint, or
// guard it); different endpoints and processes are independent.
#pragma once

#include <chrono>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "conduit/core/error.hpp"
#include "conduit/msg/large_buffer.hpp"
#include "conduit/msg/message.hpp"

namespace conduit {

struct EndpointOptions {
  Capacity capacity = Capacity::bounded(64);  // of each link this endpoint sends on
  std::size_t max_message_size = 4096;
  mode_t mode = 0600;
};

/// How long a dead peer may go unnoticed by a sender that never has to wait.
inline constexpr std::chrono::milliseconds kPeerCheckInterval{10};

class Endpoint {
 public:
  /// Joins under `name` (dies with this process). Errors: invalid_argument, already_exists (a
  /// live process has the name), permission_denied, limit_reached.
  [[nodiscard]] static Result<Endpoint> join(std::string_view name, EndpointOptions options = {});

  Endpoint(Endpoint&&) noexcept;
  Endpoint& operator=(Endpoint&&) noexcept;
  ~Endpoint();  // leaves: the name is free, inbound links are removed

  /// Sends to endpoint `peer`, blocking while the link is full. Errors: not_found (no such
  /// endpoint), closed (the peer left or died), message_too_large, invalid_argument,
  /// limit_reached (the first send to a peer that 256 others (msg::kMaxPeers) linked to, none gone
  /// and read yet: a receiver offers the entry of such a peer for reuse when its receive()
  /// finds nothing, looking at one link per 10 ms, eight while every entry is in use).
  [[nodiscard]] Result<void> send(std::string_view peer, std::span<const std::byte> payload);
  [[nodiscard]] Result<void> try_send(std::string_view peer, std::span<const std::byte> payload);
  [[nodiscard]] Result<void> send_for(std::string_view peer, std::span<const std::byte> payload,
                                      std::chrono::nanoseconds timeout);

  /// Hands a large message off, beyond max_message_size and without copying it (see
  /// Mailbox::send_large and large_buffer.hpp): the receiver's Message maps the sealed buffer
  /// copy-on-write. Errors: as send; limit_reached, permission_denied (as Mailbox::send_large).
  [[nodiscard]] Result<void> send_large(std::string_view peer, LargeBuffer& message);
  /// Copies `payload` once into a sealed buffer and hands that off.
  [[nodiscard]] Result<void> send_large(std::string_view peer, std::span<const std::byte> payload);

  /// Symmetric: the next message from `peer`, waiting for one (and for `peer` to join and link,
  /// if it never sent to us). Errors: closed (the peer sent to us, then died or left, and nothing
  /// from it is left), timed_out, would_block. A peer whose entry another took over (see send)
  /// is forgotten: receive_from waits for it as for one that never sent to us.
  [[nodiscard]] Result<Message> receive_from(std::string_view peer);
  [[nodiscard]] Result<Message> try_receive_from(std::string_view peer);
  [[nodiscard]] Result<Message> receive_from_for(std::string_view peer,
                                                 std::chrono::nanoseconds timeout);

  /// Asymmetric: the next message from anyone; Message::sender_name() says who.
  [[nodiscard]] Result<Message> receive();
  [[nodiscard]] Result<Message> try_receive();
  [[nodiscard]] Result<Message> receive_for(std::chrono::nanoseconds timeout);

  [[nodiscard]] const std::string& name() const noexcept;

  [[nodiscard]] Result<void> send(std::string_view peer, std::string_view text) {
    return send(peer, bytes_of(text));
  }
  [[nodiscard]] Result<void> try_send(std::string_view peer, std::string_view text) {
    return try_send(peer, bytes_of(text));
  }
  [[nodiscard]] Result<void> send_for(std::string_view peer, std::string_view text,
                                      std::chrono::nanoseconds timeout) {
    return send_for(peer, bytes_of(text), timeout);
  }

  class Impl;

 private:
  explicit Endpoint(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace conduit
