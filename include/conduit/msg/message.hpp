// Message: what every receive returns, whatever carried it (a mailbox, an endpoint, a socket,
// a queue, MPI). And the vocabulary of message passing: Capacity, Receivers, Receipt.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "conduit/core/process.hpp"

namespace conduit {

/// A received message: its bytes, its type (System V style: a positive number the receiver
/// may select on; 0 when the sender gave none), who sent it and its sequence number.
/// Owns its bytes (or keeps alive whatever owns them, such as a mapping). A small message
/// (kInlineBytes or fewer) keeps its bytes inside the Message itself: receiving one allocates
/// nothing and touches no reference count, and copying it copies them. A larger one shares its
/// bytes between copies.
class Message {
 public:
  /// Messages this small, when a carrier copies them in (copy_of), live inside the Message.
  static constexpr std::size_t kInlineBytes = 64;

  Message() = default;
  /// A message owning `payload`.
  explicit Message(std::vector<std::byte> payload, std::int64_t type = 0, ProcessId sender = {},
                   std::uint64_t sequence = 0);
  /// A message whose bytes `payload` are kept alive by `owner` (a mapping, a pooled buffer).
  Message(std::span<const std::byte> payload, std::shared_ptr<const void> owner,
          std::int64_t type = 0, ProcessId sender = {}, std::uint64_t sequence = 0);
  /// A message whose bytes are a private copy-on-write mapping (a hand-off: see
  /// large_buffer.hpp), kept alive by `owner`: writable_payload() lets the receiver write them.
  [[nodiscard]] static Message of_private_mapping(std::span<std::byte> payload,
                                                  std::shared_ptr<const void> owner,
                                                  std::int64_t type = 0, ProcessId sender = {},
                                                  std::uint64_t sequence = 0);
  /// A message holding a copy of `payload` (inside the Message when it is small).
  [[nodiscard]] static Message copy_of(std::span<const std::byte> payload, std::int64_t type = 0,
                                       ProcessId sender = {}, std::uint64_t sequence = 0);

  [[nodiscard]] std::int64_t type() const noexcept { return type_; }
  /// The sending process, when the carrier knows it (mailboxes, endpoints, Unix sockets);
  /// pid 0 otherwise. For MPI, pid is the sender's rank.
  [[nodiscard]] ProcessId sender() const noexcept { return sender_; }
  /// The sender's name, when the carrier has names (an Endpoint's name); empty otherwise.
  [[nodiscard]] const std::string& sender_name() const noexcept {
    return sender_name_ != nullptr ? *sender_name_ : empty_name();
  }
  [[nodiscard]] std::uint64_t sequence() const noexcept { return sequence_; }
  [[nodiscard]] std::span<const std::byte> payload() const noexcept {
    if (inline_size_ != 0) return {inline_bytes_, inline_size_};
    return payload_;
  }
  [[nodiscard]] std::size_t size() const noexcept {
    return inline_size_ != 0 ? inline_size_ : payload_.size();
  }
  /// A handed-off message's bytes, to write in place: a write copies only the page it touches,
  /// and neither the sender nor any other receiver sees it (copies of this Message do: they
  /// share the mapping). Empty for every other message, whose bytes are read-only.
  [[nodiscard]] std::span<std::byte> writable_payload() const noexcept {
    if (!is_private_mapping_) return {};
    return {const_cast<std::byte*>(payload_.data()), payload_.size()};
  }
  /// Whether the payload is a hand-off's mapping (no copy was made on the way).
  [[nodiscard]] bool is_handed_off() const noexcept { return is_private_mapping_; }
  /// The payload as text (no copy, no validation: the bytes as they came).
  [[nodiscard]] std::string_view text() const noexcept {
    const auto bytes = payload();
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
  }

  /// For a carrier that receives into a Message made in place: makes this one what
  /// copy_of(payload, type, sender, sequence) returns, with no temporary Message to move.
  void assign_copy(std::span<const std::byte> payload, std::int64_t type = 0, ProcessId sender = {},
                   std::uint64_t sequence = 0);

  /// For a carrier that numbers messages itself (a transport connection counts its own, over
  /// the mailbox's): no copy of the Message, nor of its bytes.
  void set_sequence(std::uint64_t sequence) noexcept { sequence_ = sequence; }
  void set_sender_name(std::string name) {
    sender_name_ = std::make_shared<const std::string>(std::move(name));
  }
  /// As above, sharing a name the carrier keeps (an Endpoint names every message from a peer
  /// with one string: no copy per message).
  void set_sender_name(std::shared_ptr<const std::string> name) noexcept {
    sender_name_ = std::move(name);
  }

 private:
  std::shared_ptr<const void> owner_;
  std::span<const std::byte> payload_;
  std::int64_t type_ = 0;
  ProcessId sender_{};
  std::uint64_t sequence_ = 0;
  static const std::string& empty_name() noexcept;
  /// Holds its bytes in `storage` (shared by copies).
  void own(std::shared_ptr<const std::vector<std::byte>> storage) noexcept;
  /// assign_copy over a Message that holds a name or an owner, or of bytes that are not kept
  /// inline.
  [[gnu::noinline, gnu::cold]] void assign_copy_apart(std::span<const std::byte> payload,
                                                      std::int64_t type, ProcessId sender,
                                                      std::uint64_t sequence);

  std::shared_ptr<const std::string> sender_name_;
  bool is_private_mapping_ = false;
  // An inline message's bytes (payload_ is then empty): read through payload(), so that the
  // defaulted copies and moves stay right (no pointer into the object itself to fix up). Left
  // uninitialised: only the first inline_size_ are ever read (copying the rest is allowed for
  // std::byte), and zeroing them would cost every Message made.
  std::uint8_t inline_size_ = 0;
  std::byte inline_bytes_[kInlineBytes];
};

/// How many messages a mailbox or link holds before send blocks.
struct Capacity {
  enum class Kind : std::uint32_t { zero, bounded, unbounded };
  /// Rendezvous: send returns only once a receiver has taken the message.
  static Capacity zero() noexcept { return {Kind::zero, 0}; }
  /// Exactly `n` messages fit; send blocks (or would_block) when they are there.
  static Capacity bounded(std::size_t n) noexcept { return {Kind::bounded, n}; }
  /// Send never blocks; the store grows until memory runs out (limit_reached).
  static Capacity unbounded() noexcept { return {Kind::unbounded, 0}; }

  [[nodiscard]] bool is_zero() const noexcept { return kind == Kind::zero; }
  [[nodiscard]] bool is_bounded() const noexcept { return kind == Kind::bounded; }
  [[nodiscard]] bool is_unbounded() const noexcept { return kind == Kind::unbounded; }
  friend bool operator==(const Capacity&, const Capacity&) = default;

  Kind kind = Kind::bounded;
  std::size_t limit = 64;  // for bounded: n
};

/// Who receives a mailbox's messages.
enum class Receivers : std::uint32_t {
  any_one,    // each message to exactly one receiver, chosen by the system; the sender may ask who
  exclusive,  // one receiving process at a time
  broadcast,  // every receiver attached before the send gets every message
  pair,       // at most two processes ever attach: a link between exactly two processes
};

/// What send_and_wait returns: who took the message, and its sequence number.
struct Receipt {
  ProcessId receiver;
  std::uint64_t sequence = 0;
};

/// Convenience: the bytes of a string or of a trivially copyable value, for send calls.
[[nodiscard]] inline std::span<const std::byte> bytes_of(std::string_view text) noexcept {
  return std::as_bytes(std::span(text.data(), text.size()));
}
template <class T>
  requires std::is_trivially_copyable_v<T>
[[nodiscard]] std::span<const std::byte> bytes_of(const T& value) noexcept {
  return std::as_bytes(std::span(&value, 1));
}

}  // namespace conduit
