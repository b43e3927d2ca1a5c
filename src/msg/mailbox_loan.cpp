// Zero-copy on a mailbox: loans (a slot claimed for writing, queued by commit) and views (a
// received slot held for reading, freed when the view goes). Slot states say who holds what,
// so repair() can tell a live holder's slot from a dead one's (see mailbox_layout.hpp).
#include <fmt/format.h>

#include <cstdint>

#include "mailbox_impl.hpp"

namespace conduit {

using namespace msg;
using namespace std::string_view_literals;  // operation names: no strlen per call

Result<Loan> Mailbox::Impl::lend(std::size_t size, bool is_try,
                                 std::optional<sys::TimePoint> deadline) {
  const std::string_view operation = is_try ? "try_loan"sv : "loan"sv;
  if (size > config_.max_message_size)
    return fail(Errc::message_too_large,
                context(fmt::format("{}: {} bytes exceed max_message_size {}", operation, size,
                                    config_.max_message_size)));
  if (is_try && config_.capacity_kind == static_cast<std::uint32_t>(Capacity::Kind::bounded) &&
      is_surely_full()) {
    state_->would_block_sends.fetch_add(1, std::memory_order_relaxed);  // a counter
    return std::unexpected(hot_.loan_full);
  }
  // As in send: the word is read only once an attempt found no room.
  std::optional<std::uint32_t> observed;
  for (;;) {
    {
      auto locked = lock(deadline);
      if (!locked) return std::unexpected(locked.error());
      if (auto usable = check_usable(operation); !usable) return std::unexpected(usable.error());
      auto claimed = claim(operation);
      if (!claimed) return std::unexpected(claimed.error());
      if (*claimed != kNoSlot) {
        const std::int32_t index = *claimed;
        hold_for_writing(index);
        return Loan(shared_from_this(), static_cast<std::uint64_t>(index),
                    std::span<std::byte>(slot_payload(index), size));
      }
      if (is_try) {
        state_->would_block_sends.fetch_add(1, std::memory_order_relaxed);
        return std::unexpected(hot_.loan_full);
      }
    }
    if (auto waited = wait_for_space(observed, deadline, operation); !waited)
      return std::unexpected(waited.error());
  }
}

SlotHeader* Mailbox::Impl::held_slot(std::uint64_t token, SlotState state) {
  if (token > static_cast<std::uint64_t>(INT32_MAX)) return nullptr;
  SlotHeader* held = slot(static_cast<std::int32_t>(token));
  if (held == nullptr || held->state != static_cast<std::uint32_t>(state) ||
      load(held->holder) != self())
    return nullptr;
  return held;
}

Result<void> Mailbox::Impl::commit_loan(std::uint64_t token, std::size_t size, std::int64_t type) {
  constexpr std::string_view operation = "commit";
  const bool wants_receipt =
      config_.capacity_kind == static_cast<std::uint32_t>(Capacity::Kind::zero);
  const auto index = static_cast<std::int32_t>(token);
  std::uint64_t sequence = 0;
  bool is_queued = false;
  bool is_wake_needed = false;
  {
    auto locked = lock();
    if (!locked) return std::unexpected(locked.error());
    if (held_slot(token, SlotState::writing) == nullptr || size > config_.max_message_size)
      return fail(Errc::corrupted, context("commit: corrupted: the loaned slot changed hands"));
    if (auto usable = check_usable(operation); !usable) {
      release(index);
      return usable;
    }
    is_queued = publish(index, size, type, wants_receipt, 0, &sequence, &is_wake_needed);
  }
  if (!is_queued) return {};  // broadcast to nobody
  if (is_wake_needed) state_->messages.notify_all();
  if (!wants_receipt) return {};
  // Zero capacity: as send, commit returns once a receiver took the message.
  return wait_for_receipt(index, sequence, false, std::nullopt, nullptr, operation);
}

void Mailbox::Impl::cancel_loan(std::uint64_t token) noexcept {
  {
    auto locked = lock();
    if (!locked) return;
    if (held_slot(token, SlotState::writing) == nullptr) return;
    release(static_cast<std::int32_t>(token));
  }
  state_->space.notify_all();
}

void Mailbox::Impl::release_view(std::uint64_t token) noexcept {
  if ((token & kRingToken) != 0) {
    ring_release_view(token & ~kRingToken);
    return;
  }
  bool is_delivered = false;
  {
    auto locked = lock();
    if (!locked) return;
    SlotHeader* viewed = held_slot(token, SlotState::reading);
    if (viewed == nullptr) return;
    if (viewed->wants_receipt != 0) {
      // Its sender has not collected the receipt yet: it frees the slot when it does.
      viewed->state = static_cast<std::uint32_t>(SlotState::delivered);
      is_delivered = true;
    } else {
      release(static_cast<std::int32_t>(token));
    }
  }
  if (is_delivered)
    state_->receipts.notify_all();
  else
    state_->space.notify_all();
}

// ---- the public surface ---------------------------------------------------------------------

Result<Loan> Mailbox::loan(std::size_t size) { return impl_->lend(size, false, std::nullopt); }

Result<Loan> Mailbox::try_loan(std::size_t size) { return impl_->lend(size, true, std::nullopt); }

Result<Loan> Mailbox::loan_for(std::size_t size, std::chrono::nanoseconds timeout) {
  return impl_->lend(size, false, sys::deadline_after(timeout));
}

Result<MessageView> Mailbox::receive_view(std::int64_t type) {
  std::optional<MessageView> view;
  return taken(impl_->receive(type, false, std::nullopt, nullptr, &view), view);
}

Result<MessageView> Mailbox::try_receive_view(std::int64_t type) {
  std::optional<MessageView> view;
  return taken(impl_->receive(type, true, std::nullopt, nullptr, &view), view);
}

Result<MessageView> Mailbox::receive_view_for(std::chrono::nanoseconds timeout, std::int64_t type) {
  std::optional<MessageView> view;
  return taken(impl_->receive(type, false, sys::deadline_after(timeout), nullptr, &view), view);
}

}  // namespace conduit
