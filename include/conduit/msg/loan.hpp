// Zero-copy message passing: a Loan is writable memory inside a mailbox (or a channel) that
// commit() sends as it stands; a MessageView is a received message read where it lies, its
// memory given back when the view goes. Neither copies the payload.
//
// Both are carrier-neutral: they hold a Lender (the mailbox or channel that lent the memory)
// and a token that the lender understands, and call back into it to commit, cancel or
// release. A Loan or MessageView keeps its lender's mapping alive, so it may outlive the
// handle that made it; it is not thread-safe itself (use one from one thread at a time).
//
// Crash safety (Mailbox): a process that dies holding a Loan sends nothing, and the slot is
// freed by the next caller that finds the mailbox short of space; a process that dies holding
// a MessageView has received that message (receive_view returned it), so the message counts
// as delivered and is not given to anyone else (exactly once), and its slot is freed the same
// way. A receipt (send_and_wait, zero capacity) is given when the view is handed out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <utility>

#include "conduit/core/error.hpp"
#include "conduit/core/process.hpp"

namespace conduit {

/// The carrier side of zero-copy: what Loan and MessageView call back into. Implemented by
/// Mailbox (and meant for Channel); users never call it.
class Lender {
 public:
  /// Sends the loaned memory `token` with its first `size` bytes as the payload.
  [[nodiscard]] virtual Result<void> commit_loan(std::uint64_t token, std::size_t size,
                                                 std::int64_t type) = 0;
  /// Gives back the loaned memory `token` unsent.
  virtual void cancel_loan(std::uint64_t token) noexcept = 0;
  /// Gives back the memory of the viewed message `token`.
  virtual void release_view(std::uint64_t token) noexcept = 0;

 protected:
  Lender() = default;
  Lender(const Lender&) = default;
  Lender& operator=(const Lender&) = default;
  ~Lender() = default;
};

/// Writable memory inside a mailbox or channel, claimed by loan(size). Write the message into
/// bytes(), then commit() sends it without a copy. A Loan dropped uncommitted is given back
/// unsent. Move-only.
class Loan {
 public:
  Loan() = default;
  /// Made by a carrier's loan(): `bytes` lie in memory `lender` manages under `token`.
  Loan(std::shared_ptr<Lender> lender, std::uint64_t token, std::span<std::byte> bytes) noexcept
      : lender_(std::move(lender)), token_(token), bytes_(bytes) {}
  Loan(Loan&& other) noexcept
      : lender_(std::move(other.lender_)), token_(other.token_), bytes_(other.bytes_) {}
  Loan& operator=(Loan&& other) noexcept {
    if (this != &other) {
      cancel();
      lender_ = std::move(other.lender_);
      token_ = other.token_;
      bytes_ = other.bytes_;
    }
    return *this;
  }
  Loan(const Loan&) = delete;
  Loan& operator=(const Loan&) = delete;
  ~Loan() { cancel(); }

  /// The memory to write the message into (the size loan() was asked for; empty once
  /// committed or cancelled).
  [[nodiscard]] std::span<std::byte> bytes() const noexcept {
    return lender_ != nullptr ? bytes_ : std::span<std::byte>{};
  }
  [[nodiscard]] std::size_t size() const noexcept { return bytes().size(); }
  /// Whether this loan still holds memory (not committed, cancelled or moved from).
  [[nodiscard]] bool is_active() const noexcept { return lender_ != nullptr; }

  /// Sends bytes() as a message of `type`. The loan is used up, whatever the result.
  /// Errors: the carrier's send errors (closed, corrupted); invalid_argument when not active.
  [[nodiscard]] Result<void> commit(std::int64_t type = 0) {
    return commit_prefix(bytes_.size(), type);
  }
  /// Sends only the first `size` bytes (a message shorter than the memory loaned).
  [[nodiscard]] Result<void> commit_prefix(std::size_t size, std::int64_t type = 0) {
    if (lender_ == nullptr) return fail(Errc::invalid_argument, "loan: commit: not active");
    if (size > bytes_.size())
      return fail(Errc::invalid_argument, "loan: commit: size exceeds the loaned bytes");
    auto lender = std::move(lender_);
    return lender->commit_loan(token_, size, type);
  }
  /// Gives the memory back unsent (what the destructor does).
  void cancel() noexcept {
    if (auto lender = std::move(lender_)) lender->cancel_loan(token_);
  }

 private:
  std::shared_ptr<Lender> lender_;
  std::uint64_t token_ = 0;
  std::span<std::byte> bytes_;
};

/// A received message read where it lies in the mailbox (or channel): no copy. The memory is
/// given back when the view is destroyed (or release() is called); until then it counts
/// against the carrier's capacity. Move-only.
class MessageView {
 public:
  MessageView() = default;
  /// Made by a carrier's receive_view(): `payload` lies in memory `lender` manages under
  /// `token`.
  MessageView(std::shared_ptr<Lender> lender, std::uint64_t token,
              std::span<const std::byte> payload, std::int64_t type, ProcessId sender,
              std::uint64_t sequence) noexcept
      : lender_(std::move(lender)),
        token_(token),
        payload_(payload),
        type_(type),
        sender_(sender),
        sequence_(sequence) {}
  /// A view of bytes kept alive by `owner` instead (a carrier that had to copy them).
  MessageView(std::shared_ptr<const void> owner, std::span<const std::byte> payload,
              std::int64_t type, ProcessId sender, std::uint64_t sequence) noexcept
      : owner_(std::move(owner)),
        payload_(payload),
        type_(type),
        sender_(sender),
        sequence_(sequence) {}
  MessageView(MessageView&& other) noexcept
      : lender_(std::move(other.lender_)),
        owner_(std::move(other.owner_)),
        token_(other.token_),
        payload_(std::exchange(other.payload_, {})),
        type_(other.type_),
        sender_(other.sender_),
        sequence_(other.sequence_) {}
  MessageView& operator=(MessageView&& other) noexcept {
    if (this != &other) {
      release();
      lender_ = std::move(other.lender_);
      owner_ = std::move(other.owner_);
      token_ = other.token_;
      payload_ = std::exchange(other.payload_, {});
      type_ = other.type_;
      sender_ = other.sender_;
      sequence_ = other.sequence_;
    }
    return *this;
  }
  MessageView(const MessageView&) = delete;
  MessageView& operator=(const MessageView&) = delete;
  ~MessageView() { release(); }

  [[nodiscard]] std::int64_t type() const noexcept { return type_; }
  [[nodiscard]] ProcessId sender() const noexcept { return sender_; }
  [[nodiscard]] std::uint64_t sequence() const noexcept { return sequence_; }
  /// The bytes, where they lie; empty once released.
  [[nodiscard]] std::span<const std::byte> payload() const noexcept { return payload_; }
  [[nodiscard]] std::size_t size() const noexcept { return payload_.size(); }
  [[nodiscard]] std::string_view text() const noexcept {
    return {reinterpret_cast<const char*>(payload_.data()), payload_.size()};
  }
  /// Gives the memory back now (what the destructor does); payload() is empty after.
  void release() noexcept {
    payload_ = {};
    owner_.reset();
    if (auto lender = std::move(lender_)) lender->release_view(token_);
  }

 private:
  std::shared_ptr<Lender> lender_;
  std::shared_ptr<const void> owner_;
  std::uint64_t token_ = 0;
  std::span<const std::byte> payload_;
  std::int64_t type_ = 0;
  ProcessId sender_{};
  std::uint64_t sequence_ = 0;
};

}  // namespace conduit
