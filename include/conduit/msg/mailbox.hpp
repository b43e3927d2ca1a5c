// Mailbox: indirect message passing. A named mailbox (a port) that any process may create,
// open, send to, receive from and remove.
//
// Thread-safe and process-safe. Survives the death of any sender or receiver at any
// instruction: a message whose send returned success is received exactly once (broadcast: once
// by each receiver) unless the mailbox is removed; a half-written message is never received;
// a receiver that died while copying a message out leaves it queued again for others, but one
// that dies holding a MessageView had received it (it is not given to anyone else). No
// daemon: a Lifetime::process mailbox vanishes when its creator dies, and everyone blocked on
// it returns owner_died.
//
// Capacity: zero (rendezvous: send returns once a receiver took the message), bounded(n)
// (exactly n messages fit), unbounded (the mailbox grows in shared memory; limit_reached when
// memory runs out).
//
// Receivers: any_one (each message to one receiver; send_and_wait says which), exclusive (one
// receiving process at a time; others get permission_denied while it lives and holds it),
// broadcast (every receiver attached before the send gets every message; a bounded mailbox is
// full while its slowest receiver is behind), pair (at most two processes ever attach).
// In a broadcast mailbox every handle made by open() is a receiver from the moment open
// returns; the creating handle becomes one at its first receive. A process that only sends to
// a broadcast mailbox opens it with MailboxRole::sender.
//
// Fast paths: a bounded mailbox that is not broadcast, with max_message_size up to 4096
// (msg::kRingMaxMessage; the default options), has a ready ring: an ordinary message (send,
// try_send, send_for; not send_and_wait, a loan or send_large) passes through a ring cell
// without the lock, and a receive takes it from there. Everything else goes through the
// mailbox's slots under its lock, behind the ring's messages: one queue, one order, one
// capacity (see "The ready ring" in msg/mailbox_layout.hpp). Other mailboxes hold the lock
// briefly for every send and receive (spinning before they sleep on it). When the other side
// keeps up, neither makes a system call or allocates (received payloads come from a
// per-handle pool of buffers). A try_ call on an empty or full mailbox returns would_block
// without taking the lock or allocating. Message::sequence() orders the messages that passed
// through the ring, and separately those that passed through the slots.
//
// Zero-copy (large messages): loan(size) claims a slot and hands out its memory to write in;
// Loan::commit() sends it as it stands. receive_view() hands out a received message where it
// lies (a slot, or a ring cell); its slot or cell is freed when the MessageView goes. Both count
// against the capacity while they live (see loan.hpp for what survives a crash). Broadcast
// mailboxes give views of a copy.
//
// Large messages (hand-off): send_large has no size ceiling. The message goes into a sealed
// memfd of its own (LargeBuffer; written once, or not at all when you write into
// LargeBuffer::bytes()), its descriptor travels to the receiver, and the receiver's Message
// maps it copy-on-write: Message::payload() is that mapping, writable_payload() writes it
// privately. The slot carries a 32-byte record only (max_message_size must be at least 32).
// The message survives its sender: a sender SIGKILLed after send_large returned is still
// received whole. Every receive form receives it; receive_view gives a view of the mapping.
// See large_buffer.hpp for the guarantees of the bytes, and mailbox_handoff.cpp for where the
// descriptor waits and the limits of that.
//
// Protection: named mailboxes are files on tmpfs; a peer with write permission can corrupt or
// truncate them. Corruption of the shared bytes is detected where it matters (corrupted), but
// truncation by a hostile peer turns reads into SIGBUS: share a mailbox only with processes you
// trust as much as the mode admits.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "conduit/core/error.hpp"
#include "conduit/core/name.hpp"
#include "conduit/core/process.hpp"
#include "conduit/msg/large_buffer.hpp"
#include "conduit/msg/loan.hpp"
#include "conduit/msg/message.hpp"

namespace conduit {

namespace transport {
struct MailboxAccess;
}  // namespace transport

struct MailboxStats {
  Capacity capacity;
  std::size_t depth = 0, max_message_size = 0;
  Receivers receivers = Receivers::any_one;
  Lifetime lifetime = Lifetime::system;
  ProcessId owner;
  std::vector<ProcessId> attached;  // processes holding a handle (dead ones pruned)
  std::uint64_t sent = 0, received = 0, would_block = 0, dropped = 0;  // since creation
  std::size_t slots = 0;                      // slots allocated (grows for unbounded)
  std::size_t ring_cells = 0;                 // cells of the ready ring (0: none)
  std::vector<ProcessId> receivers_attached;  // broadcast: the receivers
};

struct MailboxOptions {
  Capacity capacity = Capacity::bounded(64);
  std::size_t max_message_size = 4096;
  Receivers receivers = Receivers::any_one;
  Lifetime lifetime = Lifetime::system;
  mode_t mode = 0600;
};

/// What a handle is for. Broadcast mailboxes make every sender_and_receiver handle a receiver;
/// pair mailboxes count every process that opens with sender_and_receiver or sender as one of
/// the two. An observer (tools: `conduit ls`, `stat`, `watch`) attaches to nothing.
enum class MailboxRole { sender_and_receiver, sender, observer };

class Mailbox {
 public:
  /// Creates mailbox `name`. Errors: invalid_argument (name, bounded(0), max size 0 or over
  /// 1 GiB), already_exists, limit_reached, permission_denied.
  [[nodiscard]] static Result<Mailbox> create(std::string_view name, MailboxOptions options = {});
  /// Opens mailbox `name`. Errors: not_found (also: its process-lifetime creator died),
  /// corrupted, permission_denied (mode; a pair mailbox that two processes already joined),
  /// limit_reached (a broadcast mailbox with kMaxReceivers receivers).
  [[nodiscard]] static Result<Mailbox> open(std::string_view name,
                                            MailboxRole role = MailboxRole::sender_and_receiver);
  /// Removes mailbox `name`: everyone blocked on it returns closed; handles still open get
  /// closed from then on. Errors: not_found, invalid_argument.
  [[nodiscard]] static Result<void> remove(std::string_view name);

  Mailbox(Mailbox&&) noexcept;
  Mailbox& operator=(Mailbox&&) noexcept;
  ~Mailbox();

  /// Blocks while the mailbox is full (zero capacity: until a receiver took the message).
  /// Errors: closed, owner_died, message_too_large, corrupted.
  [[nodiscard]] Result<void> send(std::span<const std::byte> payload, std::int64_t type = 0);
  /// Never blocks: would_block when full (zero capacity: when no receiver is waiting).
  [[nodiscard]] Result<void> try_send(std::span<const std::byte> payload, std::int64_t type = 0);
  /// As send, but timed_out after `timeout`; a rendezvous that timed out leaves nothing behind.
  [[nodiscard]] Result<void> send_for(std::span<const std::byte> payload,
                                      std::chrono::nanoseconds timeout, std::int64_t type = 0);
  /// Sends and waits until a receiver took the message; the Receipt names it (broadcast: the
  /// last receiver to take it).
  [[nodiscard]] Result<Receipt> send_and_wait(std::span<const std::byte> payload,
                                              std::int64_t type = 0);

  /// Hands the message in `message` off (no copy; the buffer is sealed, and stays usable for
  /// reading and for sending again). Blocks while the mailbox is full. Errors: as send;
  /// message_too_large (max_message_size below 32); limit_reached (too many hand-offs waiting);
  /// permission_denied (hand-off needs pidfd_getfd on the processes holding the mailbox).
  [[nodiscard]] Result<void> send_large(LargeBuffer& message, std::int64_t type = 0);
  /// Copies `payload` once into a sealed memfd and hands that off. Errors: as above.
  [[nodiscard]] Result<void> send_large(std::span<const std::byte> payload, std::int64_t type = 0);
  /// Never blocks: would_block when full.
  [[nodiscard]] Result<void> try_send_large(LargeBuffer& message, std::int64_t type = 0);
  [[nodiscard]] Result<void> send_large_for(LargeBuffer& message, std::chrono::nanoseconds timeout,
                                            std::int64_t type = 0);

  /// Type filter as System V msgrcv: 0 the oldest message; > 0 the oldest of that type; < 0
  /// the oldest of the lowest type <= -filter. Blocks while there is none.
  /// Errors: closed, owner_died, permission_denied (exclusive, held by another), corrupted.
  [[nodiscard]] Result<Message> receive(std::int64_t type = 0);
  /// Never blocks: would_block when there is no matching message.
  [[nodiscard]] Result<Message> try_receive(std::int64_t type = 0);
  [[nodiscard]] Result<Message> receive_for(std::chrono::nanoseconds timeout,
                                            std::int64_t type = 0);

  /// Claims a slot and lends its memory (`size` bytes) to write a message into; Loan::commit
  /// sends it without a copy, a dropped Loan gives the slot back. Blocks while the mailbox is
  /// full. Errors: message_too_large, closed, owner_died, corrupted.
  [[nodiscard]] Result<Loan> loan(std::size_t size);
  /// Never blocks: would_block when full.
  [[nodiscard]] Result<Loan> try_loan(std::size_t size);
  [[nodiscard]] Result<Loan> loan_for(std::size_t size, std::chrono::nanoseconds timeout);

  /// As receive, but the message is read where it lies: no copy. Its slot stays taken (and
  /// counts against the capacity) until the view is destroyed. Errors: as receive.
  [[nodiscard]] Result<MessageView> receive_view(std::int64_t type = 0);
  /// Never blocks: would_block when there is no matching message.
  [[nodiscard]] Result<MessageView> try_receive_view(std::int64_t type = 0);
  [[nodiscard]] Result<MessageView> receive_view_for(std::chrono::nanoseconds timeout,
                                                     std::int64_t type = 0);

  /// Capacity, depth, sizes, mode, owner, attached processes, counters.
  [[nodiscard]] MailboxStats stats() const;
  [[nodiscard]] const std::string& name() const noexcept;

  // Convenience overloads: text and trivially copyable values.
  [[nodiscard]] Result<void> send(std::string_view text, std::int64_t type = 0) {
    return send(bytes_of(text), type);
  }
  [[nodiscard]] Result<void> try_send(std::string_view text, std::int64_t type = 0) {
    return try_send(bytes_of(text), type);
  }
  [[nodiscard]] Result<void> send_for(std::string_view text, std::chrono::nanoseconds timeout,
                                      std::int64_t type = 0) {
    return send_for(bytes_of(text), timeout, type);
  }
  [[nodiscard]] Result<Receipt> send_and_wait(std::string_view text, std::int64_t type = 0) {
    return send_and_wait(bytes_of(text), type);
  }

  class Impl;

 private:
  friend class Endpoint;                   // its links are mailboxes with internal names
  friend struct transport::MailboxAccess;  // so are shm:// connections (transport/shm)
  static Result<Mailbox> create(std::string_view name, MailboxOptions options, NameUse names);
  static Result<Mailbox> open(std::string_view name, MailboxRole role, NameUse names);
  static Result<void> remove(std::string_view name, NameUse names);
  explicit Mailbox(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;  // shared with the Loans and MessageViews it made
};

}  // namespace conduit
