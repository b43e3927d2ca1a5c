// The queue of a mailbox: slot lists, selective search, and the repair that rebuilds them
// from the slots' states after a process died holding the lock. Every function here runs with
// MailboxState::lock held. Indices read from shared memory are checked before use.
#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <climits>
#include <utility>
#include <vector>

#include "mailbox_impl.hpp"

namespace conduit {

using namespace msg;

namespace {

SlotState state_of(const SlotHeader* slot) { return static_cast<SlotState>(slot->state); }

}  // namespace

Result<std::int32_t> Mailbox::Impl::find(std::int64_t type_filter) {
  const bool is_broadcast = is_broadcast_;
  const std::uint64_t bit = receiver_index_ >= 0 ? std::uint64_t{1} << receiver_index_ : 0;
  // msgrcv: < 0 asks for the lowest type <= |filter|; -INT64_MIN does not exist.
  const std::int64_t bound = type_filter == INT64_MIN ? INT64_MAX : -type_filter;
  std::int32_t best = kNoSlot;
  std::int64_t best_type = 0;
  const std::uint32_t total = slot_total();
  std::int32_t index = state_->queue_head;
  for (std::uint32_t steps = 0; index != kNoSlot; ++steps) {
    const SlotHeader* current = slot(index);
    if (current == nullptr || steps >= total || state_of(current) != SlotState::queued)
      return fail(Errc::corrupted, context("receive: corrupted: queue links"));
    const std::int64_t type = current->type;
    const bool is_for_me = !is_broadcast || (current->pending & bit) != 0;
    if (is_for_me) {
      if (type_filter == 0 || (type_filter > 0 && type == type_filter)) return index;
      if (type_filter < 0 && type <= bound && (best == kNoSlot || type < best_type)) {
        best = index;
        best_type = type;
      }
    }
    index = current->next;
  }
  return best;
}

void Mailbox::Impl::link_tail(std::int32_t index) {
  SlotHeader* current = slot(index);
  current->next = kNoSlot;
  current->prev = state_->queue_tail;
  if (SlotHeader* tail = slot(state_->queue_tail))
    tail->next = index;
  else
    state_->queue_head = index;
  state_->queue_tail = index;
  add_depth(1);
}

void Mailbox::Impl::unlink(std::int32_t index) {
  SlotHeader* current = slot(index);
  const std::int32_t prev = current->prev;
  const std::int32_t next = current->next;
  if (SlotHeader* before = slot(prev))
    before->next = next;
  else
    state_->queue_head = next;
  if (SlotHeader* after = slot(next))
    after->prev = prev;
  else
    state_->queue_tail = prev;
  current->next = current->prev = kNoSlot;
  if (state_->depth.load(std::memory_order_relaxed) > 0) add_depth(-1);
}

void Mailbox::Impl::release(std::int32_t index) {
  SlotHeader* current = slot(index);
  current->state = static_cast<std::uint32_t>(SlotState::free);
  current->pending = 0;
  current->wants_receipt = 0;
  current->prev = kNoSlot;
  current->next = state_->free_head;
  state_->free_head = index;
  add_in_use(-1);
}

void Mailbox::Impl::repair() {
  // Rebuild every list from the slots' states alone: the dead holder may have stopped between
  // any two stores of a list operation, but each slot's state was one store.
  std::vector<std::pair<std::uint64_t, std::int32_t>> queued;
  state_->free_head = kNoSlot;
  state_->queue_head = state_->queue_tail = kNoSlot;
  state_->depth.store(0, std::memory_order_relaxed);
  state_->in_use.store(0, std::memory_order_relaxed);
  for (std::int32_t index = static_cast<std::int32_t>(slot_total()) - 1; index >= 0; --index) {
    SlotHeader* current = slot(index);
    if (current == nullptr) {
      // An extension that cannot be mapped: its slots are lost. Skip to the slot before it
      // (extension k holds indices [64 (2^k - 1), 64 (2^(k+1) - 1))) rather than trying again
      // for each of its slots: a forged total could name two billion of them.
      const auto i = static_cast<std::uint32_t>(index);
      if (i >= config_.slot_count) {
        const auto k =
            static_cast<std::uint32_t>(std::bit_width(i / kUnboundedInitialSlots + 1) - 1);
        index = static_cast<std::int32_t>(kUnboundedInitialSlots * ((1u << k) - 1));
      }
      continue;
    }
    switch (state_of(current)) {
      case SlotState::queued:
        // Broadcast: a message no receiver still wants was received by the last one, which
        // died between clearing its bit and unlinking it. Kept, it would sit at the head of the
        // queue for ever, counted in depth.
        if (is_broadcast_ && current->pending == 0 && current->wants_receipt == 0) break;
        if (current->size <= config_.max_message_size) {
          queued.emplace_back(current->sequence, index);
          continue;
        }
        break;  // a torn record: drop it
      case SlotState::delivered:
        // Keep a receipt while its sender still waits for it.
        if (current->wants_receipt != 0 && alive(load(current->sender))) {
          add_in_use(1);
          current->next = current->prev = kNoSlot;
          continue;
        }
        break;
      case SlotState::writing:
        // A live loan stays; a dead writer's message was never sent: freed.
        if (alive(load(current->holder))) {
          add_in_use(1);
          current->next = current->prev = kNoSlot;
          continue;
        }
        break;
      case SlotState::reading:
        // A live view stays. A dead viewer received the message (receive_view returned it):
        // exactly once means nobody else gets it, so it is freed (or kept for its sender's
        // receipt).
        if (alive(load(current->holder))) {
          add_in_use(1);
          current->next = current->prev = kNoSlot;
          continue;
        }
        if (current->wants_receipt != 0 && alive(load(current->sender))) {
          current->state = static_cast<std::uint32_t>(SlotState::delivered);
          add_in_use(1);
          current->next = current->prev = kNoSlot;
          continue;
        }
        break;
      case SlotState::free:
      default: break;
    }
    current->state = static_cast<std::uint32_t>(SlotState::free);
    current->pending = 0;
    current->wants_receipt = 0;
    current->prev = kNoSlot;
    current->next = state_->free_head;
    state_->free_head = index;
  }
  std::ranges::sort(queued);
  for (const auto& [sequence, index] : queued) {
    link_tail(index);
    add_in_use(1);
  }
}

bool Mailbox::Impl::prune_dead_receivers() {
  bool is_pruned = false;
  for (std::uint32_t r = 0; r < kMaxReceivers; ++r) {
    StoredProcess& entry = state_->receiver_table[r];
    if (entry.flags == 0 || alive(load(entry))) continue;
    entry = StoredProcess{};
    is_pruned = true;
    const std::uint64_t bit = std::uint64_t{1} << r;
    for (std::int32_t index = state_->queue_head, steps = 0;
         index != kNoSlot && steps < static_cast<std::int32_t>(slot_total()); ++steps) {
      SlotHeader* current = slot(index);
      if (current == nullptr) break;
      const std::int32_t next = current->next;
      if ((current->pending & bit) != 0) {
        current->pending &= ~bit;
        if (current->pending == 0) {
          unlink(index);
          release(index);
        }
      }
      index = next;
    }
  }
  return is_pruned;
}

bool Mailbox::Impl::reclaim_dead() {
  // Slots held by dead processes (an unsent write, a receipt nobody waits for) and messages
  // kept for dead broadcast receivers: costly checks, made only when the mailbox looks full.
  repair();
  prune_dead_receivers();
  return state_->free_head != kNoSlot;
}

}  // namespace conduit
