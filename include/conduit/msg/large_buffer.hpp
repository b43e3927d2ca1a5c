// LargeBuffer: the memory of one large message that is handed off, not copied.
//
// Hand-off (Mailbox::send_large, Endpoint::send_large) lifts the max_message_size ceiling: the
// payload lives in a memfd of its own, written once; send seals it (F_SEAL_WRITE |
// F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL), and what travels through the mailbox is its
// descriptor. Every receiver maps it MAP_PRIVATE: reading shares the physical pages with the
// sender and with every other receiver, and a write — on any side — copies only the pages it
// touches, which nobody else then sees. The seals are the protection: once sealed, nobody
// (not the sender, not a hostile peer holding the descriptor) can change or truncate the bytes
// a receiver maps, so a receiver never sees them move under it and never gets SIGBUS.
//
// Write the message into bytes() (no copy at all), or let LargeBuffer::copy_of copy a span in
// once. A sealed buffer can be sent again, to as many mailboxes as you like, at no cost.
// Not thread-safe: one thread writes and sends a buffer.
#pragma once

#include <cstddef>
#include <span>

#include "conduit/core/error.hpp"
#include "conduit/msg/message.hpp"
#include "conduit/sys/fd.hpp"
#include "conduit/sys/mapping.hpp"

namespace conduit {

class LargeBuffer {
 public:
  /// A buffer of `size` zeroed bytes to write a message into. Errors: limit_reached (no memory
  /// left for it), invalid_argument (`size` beyond what a file can hold).
  [[nodiscard]] static Result<LargeBuffer> create(std::size_t size);
  /// A buffer holding a copy of `bytes` (the one copy a hand-off makes), sealed.
  [[nodiscard]] static Result<LargeBuffer> copy_of(std::span<const std::byte> bytes);

  LargeBuffer(LargeBuffer&&) noexcept = default;
  LargeBuffer& operator=(LargeBuffer&&) noexcept = default;

  /// The bytes: before seal(), shared with the file (what is written here is sent); after,
  /// this process's copy-on-write view of them (writes stay private to this process).
  [[nodiscard]] std::span<std::byte> bytes() const noexcept { return {mapping_.data(), size_}; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] bool is_sealed() const noexcept { return is_sealed_; }
  /// The memfd (for tests and tools: to show that the seals hold).
  [[nodiscard]] int fd() const noexcept { return file_.get(); }

  /// Freezes the bytes for good: maps them copy-on-write and seals the memfd. Send calls it;
  /// calling it again does nothing. Errors: io (the kernel refused the seals).
  [[nodiscard]] Result<void> seal();

 private:
  LargeBuffer(sys::Fd file, sys::Mapping mapping, std::size_t size)
      : file_(std::move(file)), mapping_(std::move(mapping)), size_(size) {}
  sys::Fd file_;
  sys::Mapping mapping_;  // empty for a message of 0 bytes
  std::size_t size_ = 0;
  bool is_sealed_ = false;
};

/// The receiving side of a hand-off: maps the memfd `fd` privately (copy-on-write) as a
/// Message of `size` bytes, then closes `fd` (the mapping keeps the pages). The descriptor is
/// trusted only as far as the kernel vouches for it: it must be sealed against writing,
/// shrinking and growing, at least `size` bytes long, and (when `inode` is not 0) that inode.
/// Errors: corrupted (anything else), io. `where` starts the error message.
[[nodiscard]] Result<Message> map_handed_off(sys::Fd fd, std::uint64_t size, std::uint64_t inode,
                                             std::int64_t type, ProcessId sender,
                                             std::uint64_t sequence, std::string_view where);

}  // namespace conduit
