// Sending and receiving: the claim → copy → publish protocol under the mailbox lock, the waits
// between attempts, receipts, and the attachment of processes.
#include <fmt/format.h>

#include <cstring>
#include <vector>

#include "mailbox_impl.hpp"

namespace conduit {

using namespace msg;
using namespace std::chrono_literals;
using namespace std::string_view_literals;  // operation names: no strlen per call

namespace {

// try_send on a zero-capacity mailbox with a receiver waiting: how long the hand-over may take.
constexpr auto kRendezvousGrace = 100ms;

}  // namespace

bool Mailbox::Impl::is_surely_empty() const {
  // Relaxed loads: hints only (see "Pre-checks" in mailbox_layout.hpp). Anything the locked
  // path would answer otherwise than would_block (closed; an exclusive or broadcast receiver
  // not yet claimed) goes to the locked path.
  if (state_->is_removed.load(std::memory_order_relaxed) != 0) return false;
  if (is_exclusive_ && (!holds_exclusive_ || exclusive_pid_ != self().pid)) return false;
  if (is_broadcast_ && receiver_index_ < 0) return false;
  // `depth` is on the lock's line: asked for writable, so that a poll that finds a message
  // takes the lock without a second trip for the line. An empty poll takes the line from a
  // sender that writes it next; read shared instead, the sender's write would have to take it
  // back from us all the same. (Measured: the busy round trip 2.36x -> 2.21x the atomic limit.)
  prefetch_for_write(&state_->lock);
  // TODO(perf): broadcast: a receiver ahead of the others sees depth > 0 and takes the lock;
  // a per-receiver pending count would let it skip.
  return state_->depth.load(std::memory_order_relaxed) == 0;
}

bool Mailbox::Impl::is_surely_full() const {
  if (state_->is_removed.load(std::memory_order_relaxed) != 0) return false;
  switch (static_cast<Capacity::Kind>(config_.capacity_kind)) {
    case Capacity::Kind::zero:
      return state_->waiting_receivers.load(std::memory_order_relaxed) == 0;
    case Capacity::Kind::bounded:
      // Every slot queued: nothing a dead process holds to reclaim. Broadcast mailboxes may
      // hold messages only dead receivers still wanted: the locked path prunes them.
      return !is_broadcast_ && state_->depth.load(std::memory_order_relaxed) >= config_.slot_count;
    case Capacity::Kind::unbounded: return false;
  }
  return false;
}

Result<void> Mailbox::Impl::removed(std::string_view operation) const {
  return fail(Errc::closed, context(fmt::format("{}: removed", operation)));
}

Result<void> Mailbox::Impl::wait(sync::WaitWord& word, std::uint32_t observed,
                                 std::optional<sys::TimePoint> deadline,
                                 std::string_view operation) {
  switch (sync::wait_slice(word, observed, deadline, kLivenessPoll)) {
    case sync::SliceEnd::moved: return {};  // look again
    case sync::SliceEnd::deadline_passed:
      return fail(Errc::timed_out, context(fmt::format("{}: timed out", operation)));
    case sync::SliceEnd::slice_over: break;
  }
  return after_slice(operation);
}

Result<void> Mailbox::Impl::after_slice(std::string_view operation) {
  if (state_->is_removed.load(std::memory_order_relaxed) != 0)
    return fail(Errc::closed, context(fmt::format("{}: removed", operation)));
  if (!segment_.is_owner_alive()) {
    // The call that finds the owner dead removes the mailbox (DESIGN: names, lifetime): else
    // its file stays in the namespace after every user has gone, until some later open.
    (void)segment_.reap_if_owner_died();
    return fail(Errc::owner_died, context(fmt::format("{}: its owner, {}, died", operation,
                                                      to_string(segment_.creator()))));
  }
  return {};
}

Result<void> Mailbox::Impl::wait_for_space(std::optional<std::uint32_t>& observed,
                                           std::optional<sys::TimePoint> deadline,
                                           std::string_view operation) {
  // A ring's receivers free room without a bump unless a sender flagged itself asleep (the
  // second protocol): a waiting sender flags itself and looks at the room again.
  if (ring_ != nullptr)
    return wait_ready([this] { return has_space(); }, state_->space, deadline, operation);
  // The word is read only once an attempt found no room, then before the attempt that
  // precedes each sleep (the first protocol, sync/wait.hpp).
  if (observed) {
    if (auto waited = wait(state_->space, *observed, deadline, operation); !waited) return waited;
  }
  observed = state_->space.value();
  return {};
}

bool Mailbox::Impl::may_reclaim() {
  // Only slots held outside the queue (a loan, a view, a receipt awaited) or kept for
  // broadcast receivers can belong to the dead; when every slot in use is queued there is
  // nothing to look for.
  const bool is_any_held = state_->in_use.load(std::memory_order_relaxed) >
                           state_->depth.load(std::memory_order_relaxed);
  if (!is_any_held && !is_broadcast_) return false;
  // Reclaiming asks /proc whether each holder lives, under the lock: not on every attempt of
  // a poller, only every kReclaimInterval (a blocked sender retries at least every
  // kLivenessPoll).
  const auto now = sys::now();
  if (now < next_reclaim_) return false;
  next_reclaim_ = now + kReclaimInterval;
  return true;
}

Result<std::int32_t> Mailbox::Impl::claim(std::string_view operation) {
  // With a ring (bounded), the ring's messages count against the capacity too.
  const auto is_over = [this] {
    return ring_ != nullptr && !ring_has_room(state_->in_use.load(std::memory_order_relaxed));
  };
  if (is_over()) {
    if (may_reclaim()) (void)reclaim_dead();  // a dead loan's slot, a receipt nobody awaits
    if (is_over()) return kNoSlot;
  }
  // The slot's header line: read below (its link), written by publish().
  prefetch_slot(state_->free_head);
  if (state_->free_head == kNoSlot && may_reclaim()) (void)reclaim_dead();
  if (state_->free_head == kNoSlot && is_unbounded_) {
    if (auto grown = grow(); !grown) return std::unexpected(grown.error());
  }
  SlotHeader* claimed = slot(state_->free_head);
  if (claimed == nullptr) {
    if (state_->free_head != kNoSlot)
      return fail(Errc::corrupted, context(fmt::format("{}: corrupted: free list", operation)));
    return kNoSlot;
  }
  const std::int32_t index = state_->free_head;
  state_->free_head = claimed->next;
  add_in_use(1);
  // Claim, write, publish: the slot stays `free` until publish() queues it in one store of its
  // state, so a death anywhere in between (the lock then held by the dead) leaves a free slot
  // off the free list, which repair() puts back — never a half-written message. The slot's
  // second header line is not touched: the receiver need not fetch it.
  return index;
}

void Mailbox::Impl::hold_for_writing(std::int32_t index) {
  // A loan is written outside the lock: `writing` with its holder, so that repair() keeps it
  // while the holder lives and frees it when it died.
  SlotHeader* claimed = slot(index);
  claimed->holder = store(self());
  claimed->state = static_cast<std::uint32_t>(SlotState::writing);
}

bool Mailbox::Impl::publish(std::int32_t index, std::size_t size, std::int64_t type,
                            bool wants_receipt, std::uint16_t flags, std::uint64_t* sequence,
                            bool* is_wake_needed, bool* was_empty) {
  SlotHeader* claimed = slot(index);
  claimed->size = size;
  claimed->type = type;
  *sequence = state_->next_sequence++;
  claimed->sequence = *sequence;
  claimed->sender = store(self());
  claimed->wants_receipt = wants_receipt ? 1 : 0;
  claimed->flags = flags;
  claimed->pending = 0;
  if (is_broadcast_) {
    for (std::uint32_t r = 0; r < kMaxReceivers; ++r)
      if (state_->receiver_table[r].flags != 0) claimed->pending |= std::uint64_t{1} << r;
    if (claimed->pending == 0 && !wants_receipt) {
      // Nobody is attached to hear it: counted, not kept.
      release(index);
      ++state_->sent;
      ++state_->dropped;
      return false;
    }
  }
  claimed->state = static_cast<std::uint32_t>(SlotState::queued);
  // Relaxed loads under the lock: the lock orders them after every increment made under it
  // by a receiver going to sleep (a later decrement only comes after that receiver woke).
  const bool is_first = state_->depth.load(std::memory_order_relaxed) == 0;
  if (was_empty != nullptr) *was_empty = is_first;
  *is_wake_needed = is_first || state_->selective_waiters.load(std::memory_order_relaxed) != 0;
  link_tail(index);
  if (!wants_receipt) ++state_->sent;
  return true;
}

Result<Mailbox::Impl::Queued> Mailbox::Impl::queue_once(
    std::span<const std::byte> payload, std::int64_t type, bool is_try,
    std::optional<sys::TimePoint> deadline, bool wants_receipt, LargeBuffer* large,
    std::string_view operation, std::int32_t& index, std::uint64_t& sequence) {
  bool is_wake_needed = false;
  bool was_empty = false;
  prefetch_message(send_hint_, true);
  {
    auto locked = lock(deadline);
    if (!locked) return std::unexpected(locked.error());
    if (auto usable = check_usable(operation); !usable) return std::unexpected(usable.error());
    if (is_rendezvous_ && is_try && state_->waiting_receivers.load() == 0) {
      state_->would_block_sends.fetch_add(1, std::memory_order_relaxed);
      return std::unexpected(hot_.send_no_receiver);
    }
    auto claimed = claim(operation);
    if (!claimed) return std::unexpected(claimed.error());
    index = *claimed;
    if (index == kNoSlot) return Queued::full;
    send_hint_ = index;
    if (!payload.empty()) std::memcpy(slot_payload(index), payload.data(), payload.size());
    if (large != nullptr) {
      // The descriptor goes into the socket in the same hold of the lock as the slot into
      // the queue: the socket holds the records of queued slots (see mailbox_handoff.cpp).
      HandoffRecord record{};
      std::memcpy(&record, payload.data(), sizeof record);
      if (auto posted = post_handoff(*large, record, operation); !posted) {
        release(index);
        return std::unexpected(posted.error());
      }
      if (!publish(index, payload.size(), type, wants_receipt, kSlotHandoff, &sequence,
                   &is_wake_needed, &was_empty)) {
        (void)take_handoff(record, false, operation);  // broadcast to nobody: take it back
        return Queued::dropped;
      }
    } else if (!publish(index, payload.size(), type, wants_receipt, 0, &sequence, &is_wake_needed,
                        &was_empty)) {
      return Queued::dropped;  // broadcast to nobody
    }
  }
  if (is_wake_needed) state_->messages.notify_all();
  if (was_empty && doorbell_ != nullptr) doorbell_->notify_all();
  return Queued::queued;
}

Result<void> Mailbox::Impl::send(std::span<const std::byte> payload, std::int64_t type, bool is_try,
                                 std::optional<sys::TimePoint> deadline, bool wants_receipt,
                                 Receipt* receipt, LargeBuffer* large) {
  const std::string_view operation = large != nullptr
                                         ? (is_try ? "try_send_large"sv : "send_large"sv)
                                         : (is_try ? "try_send"sv : "send"sv);
  if (payload.size() > config_.max_message_size)
    return fail(Errc::message_too_large,
                context(fmt::format("{}: message of {} bytes exceeds max_message_size {}",
                                    operation, payload.size(), config_.max_message_size)));
  const bool is_rendezvous = is_rendezvous_;
  wants_receipt = wants_receipt || is_rendezvous;
  if (ring_ != nullptr && !wants_receipt && large == nullptr)
    return send_ringed(payload, type, is_try, deadline, operation);  // send_fast was tried

  if (is_try && is_surely_full()) {
    state_->would_block_sends.fetch_add(1, std::memory_order_relaxed);  // a counter: orders nothing
    return std::unexpected(is_rendezvous ? hot_.send_no_receiver : hot_.send_full);
  }

  std::int32_t index = kNoSlot;
  std::uint64_t sequence = 0;
  // The word is read only once an attempt found no room, and then before the attempt that
  // precedes each sleep, as the protocol needs (sync/wait.hpp): a sender that finds room at
  // once — always, when the receivers keep up — never touches the line receivers bump.
  std::optional<std::uint32_t> observed;
  for (;;) {
    auto queued = queue_once(payload, type, is_try, deadline, wants_receipt, large, operation,
                             index, sequence);
    if (!queued) return std::unexpected(queued.error());
    if (*queued == Queued::dropped) return {};
    if (*queued == Queued::queued) break;
    if (is_try) {
      state_->would_block_sends.fetch_add(1, std::memory_order_relaxed);
      return std::unexpected(hot_.send_full);
    }
    if (auto waited = wait_for_space(observed, deadline, operation); !waited) return waited;
  }
  if (!wants_receipt) return {};
  return wait_for_receipt(index, sequence, is_try, deadline, receipt, operation);
}

Result<void> Mailbox::Impl::wait_for_receipt(std::int32_t index, std::uint64_t sequence,
                                             bool is_try, std::optional<sys::TimePoint> deadline,
                                             Receipt* receipt, std::string_view operation) {
  // Wait until a receiver took it. A rendezvous that times out withdraws the message.
  if (is_try) deadline = sys::now() + kRendezvousGrace;
  for (;;) {
    const std::uint32_t observed = state_->receipts.value();
    {
      auto locked = lock();  // not the deadline: a late sender must still get the lock to withdraw
      if (!locked) return std::unexpected(locked.error());
      SlotHeader* mine = slot(index);
      if (mine->sequence != sequence)
        return fail(Errc::corrupted, context(fmt::format("{}: corrupted: slot reused", operation)));
      const auto state = static_cast<SlotState>(mine->state);
      if (state == SlotState::delivered || state == SlotState::reading) {
        if (receipt != nullptr) *receipt = Receipt{load(mine->taken_by), sequence};
        ++state_->sent;
        if (state == SlotState::delivered) {
          release(index);
          state_->space.notify_all();
        } else {
          mine->wants_receipt = 0;  // a view holds it: its release frees the slot
        }
        return {};
      }
      if (state != SlotState::queued)
        return fail(Errc::corrupted, context(fmt::format("{}: corrupted: slot state", operation)));
      const bool is_late = deadline && sys::now() >= *deadline;
      const bool is_removed = state_->is_removed.load(std::memory_order_relaxed) != 0;
      if (is_late || is_removed) {
        if ((mine->flags & kSlotHandoff) != 0 && mine->size == sizeof(HandoffRecord)) {
          HandoffRecord record{};
          std::memcpy(&record, slot_payload(index), sizeof record);
          unlink(index);
          (void)take_handoff(record, false, operation);  // withdrawn: its descriptor goes too
        } else {
          unlink(index);
        }
        release(index);
        state_->space.notify_all();
        if (is_removed) return fail(Errc::closed, context(fmt::format("{}: removed", operation)));
        if (is_try) {
          state_->would_block_sends.fetch_add(1, std::memory_order_relaxed);
          return fail(Errc::would_block, context("try_send: the waiting receiver did not take it"));
        }
        return fail(Errc::timed_out,
                    context(fmt::format("{}: timed out; no receiver took it", operation)));
      }
    }
    auto waited = wait(state_->receipts, observed, deadline, operation);
    if (!waited && waited.error().code() != Errc::timed_out) return waited;
  }
}

Result<void> Mailbox::Impl::claim_exclusive(ProcessId me, std::string_view operation) {
  const ProcessId holder = load(state_->exclusive_holder);
  if (holder.pid != 0 && holder != me && alive(holder))
    return fail(Errc::permission_denied, context(fmt::format("{}: exclusive: {} is the receiver",
                                                             operation, to_string(holder))));
  state_->exclusive_holder = store(me, 1);
  holds_exclusive_ = true;
  exclusive_pid_ = me.pid;
  return {};
}

Result<void> Mailbox::Impl::take_locked(std::int64_t type, ProcessId me, Message* message,
                                        std::optional<MessageView>* view,
                                        std::string_view operation,
                                        std::optional<std::int64_t> below, Taken& taken) {
  const bool is_broadcast = is_broadcast_;
  if (is_exclusive_) {
    if (auto claimed = claim_exclusive(me, operation); !claimed) return claimed;
  }
  if (is_broadcast && receiver_index_ < 0) {
    if (auto claimed = claim_receiver(); !claimed) return claimed;
  }
  // Nearly always the message taken is the head's; its header line is read, then written.
  prefetch_slot(state_->queue_head);
  auto found = find(type);
  if (!found) return std::unexpected(found.error());
  if (*found == kNoSlot) return {};
  const std::int32_t index = *found;
  SlotHeader* chosen = slot(index);
  if (below && chosen->type >= *below)
    return {};                              // the ring holds an older message of a lower type
  const std::int32_t after = chosen->next;  // read once
  receive_hint_ = after != kNoSlot ? after : index;
  const std::uint64_t size = chosen->size;  // read once
  if (size > config_.max_message_size)
    return fail(Errc::corrupted,
                context(fmt::format("{}: corrupted: message of {} bytes", operation, size)));
  const bool is_handoff = (chosen->flags & kSlotHandoff) != 0;
  if (is_handoff && !handoff_) {
    // This handle cannot reach the descriptors (handoff_error_ says why): leave the
    // message for a receiver that can, rather than consume it unread.
    if (handoff_error_) return std::unexpected(*handoff_error_);
    return fail(Errc::io, context(fmt::format("{}: hand-off unavailable", operation)));
  }
  if (view != nullptr && !is_broadcast && !is_handoff) {
    // Zero-copy: the slot stays taken (`reading`, held by this process) until the view
    // goes; a receipt is due now, for the message was received.
    unlink(index);
    chosen->holder = store(me);
    chosen->taken_by = store(me);
    chosen->state = static_cast<std::uint32_t>(SlotState::reading);
    taken.is_receipt = chosen->wants_receipt != 0;
    view->emplace(shared_from_this(), static_cast<std::uint64_t>(index),
                  std::span<const std::byte>(slot_payload(index), size), chosen->type,
                  load(chosen->sender), chosen->sequence);
  } else {
    // A copy (a broadcast message stays for the other receivers, so a view is of a copy),
    // or a hand-off's private mapping.
    bool is_last = true;
    if (is_broadcast) {
      chosen->pending &= ~(std::uint64_t{1} << receiver_index_);
      is_last = chosen->pending == 0;
    }
    if (is_handoff) {
      auto mapped = receive_handoff(index, !is_last, operation);
      if (!mapped) {
        taken.lost = mapped.error();  // received, but its bytes are gone: consumed all the same
      } else if (view != nullptr) {
        const auto bytes = mapped->payload();
        view->emplace(std::make_shared<Message>(std::move(*mapped)), bytes, chosen->type,
                      load(chosen->sender), chosen->sequence);
      } else {
        *message = std::move(*mapped);
      }
    } else {
      deliver_copy(std::span<const std::byte>(slot_payload(index), size), chosen->type,
                   load(chosen->sender), chosen->sequence, message, view);
    }
    if (is_last) {
      unlink(index);
      if (chosen->wants_receipt != 0) {
        chosen->taken_by = store(me);
        chosen->state = static_cast<std::uint32_t>(SlotState::delivered);
        taken.is_receipt = true;
      } else {
        // A sender sleeps only after it found no free slot (see "Wake-ups"); with a ring,
        // also when the ring and the slots together held capacity (it looks at in_use).
        taken.is_freed = state_->free_head == kNoSlot || ring_ != nullptr;
        release(index);
      }
    }
  }
  ++state_->received;
  taken.is_taken = true;
  return {};
}

void Mailbox::Impl::deliver_buffered(std::span<const std::byte> bytes, std::int64_t type,
                                     ProcessId sender, std::uint64_t sequence, Message* message,
                                     std::optional<MessageView>* view) {
  auto buffer = buffers_.take(bytes.size());
  if (!bytes.empty()) std::memcpy(buffer->bytes.get(), bytes.data(), bytes.size());
  const std::span<const std::byte> copied(buffer->bytes.get(), bytes.size());
  std::shared_ptr<const void> owner(std::move(buffer));
  if (view != nullptr)
    view->emplace(std::move(owner), copied, type, sender, sequence);
  else
    *message = Message(copied, std::move(owner), type, sender, sequence);
}

void Mailbox::Impl::after_take(const Taken& taken) {
  // Woken after the lock is released, so the woken do not queue on it.
  if (taken.is_receipt) state_->receipts.notify_all();
  if (taken.is_freed) state_->space.notify_all();
}

Result<void> Mailbox::Impl::receive(std::int64_t type, bool is_try,
                                    std::optional<sys::TimePoint> deadline, Message* message,
                                    std::optional<MessageView>* view) {
  const std::string_view operation = view != nullptr
                                         ? (is_try ? "try_receive_view"sv : "receive_view"sv)
                                         : (is_try ? "try_receive"sv : "receive"sv);
  if (role_ != MailboxRole::sender_and_receiver)
    return fail(Errc::invalid_argument,
                context(fmt::format("{}: opened as a {}", operation,
                                    role_ == MailboxRole::sender ? "sender" : "observer")));
  if (ring_ != nullptr) return receive_ringed(type, is_try, deadline, message, view, operation);
  if (is_try && is_surely_empty()) {
    state_->would_block_receives.fetch_add(1, std::memory_order_relaxed);  // orders nothing
    return std::unexpected(hot_.receive_empty);
  }
  const ProcessId me = self();
  // May sleep while messages are queued (see "Wake-ups" in mailbox_layout.hpp).
  const bool is_selective = type != 0 || is_broadcast_;
  // As in send: the word is read only once an attempt found nothing, then before the attempt
  // that precedes each sleep; a receiver that finds its message at once never touches it.
  std::optional<std::uint32_t> observed;
  for (;;) {
    Taken taken;
    prefetch_message(receive_hint_, false);
    {
      auto locked = lock(deadline);
      if (!locked) return std::unexpected(locked.error());
      if (auto usable = check_usable(operation); !usable) return std::unexpected(usable.error());
      if (auto done = take_locked(type, me, message, view, operation, std::nullopt, taken); !done)
        return done;
      if (!taken.is_taken) {
        if (is_try) {
          state_->would_block_receives.fetch_add(1, std::memory_order_relaxed);
          return std::unexpected(hot_.receive_empty);
        }
        if (observed) {
          state_->waiting_receivers.fetch_add(1);  // about to sleep (zero capacity: try_send)
          if (is_selective) state_->selective_waiters.fetch_add(1, std::memory_order_relaxed);
        }
      }
    }
    if (taken.is_taken) {
      after_take(taken);
      if (taken.lost) return std::unexpected(*taken.lost);
      return {};
    }
    if (observed) {
      auto waited = wait(state_->messages, *observed, deadline, operation);
      state_->waiting_receivers.fetch_sub(1);
      if (is_selective) state_->selective_waiters.fetch_sub(1, std::memory_order_relaxed);
      if (!waited) return std::unexpected(waited.error());
    }
    observed = state_->messages.value();  // then look again before sleeping
  }
}

Result<void> Mailbox::Impl::claim_receiver() {
  const ProcessId me = self();
  for (int pass = 0; pass < 2; ++pass) {
    for (std::uint32_t r = 0; r < kMaxReceivers; ++r) {
      if (state_->receiver_table[r].flags == 0) {
        state_->receiver_table[r] = store(me, 1);
        receiver_index_ = static_cast<int>(r);
        return {};
      }
    }
    if (!prune_dead_receivers()) break;
  }
  return fail(
      Errc::limit_reached,
      context(fmt::format("attach: broadcast mailbox has {} receivers already", kMaxReceivers)));
}

Result<void> Mailbox::Impl::attach() {
  if (role_ == MailboxRole::observer) return {};
  const ProcessId me = self();
  auto locked = lock();
  if (!locked) return std::unexpected(locked.error());
  join_handoff();  // at open, not at first use: this handle keeps queued hand-offs alive
  bool is_listed = false;
  StoredProcess* free_entry = nullptr;
  for (auto& entry : state_->attached) {
    if (entry.flags != 0 && load(entry) == me) is_listed = true;
    if (free_entry == nullptr && (entry.flags == 0 || !alive(load(entry)))) free_entry = &entry;
  }
  if (!is_listed && free_entry != nullptr) *free_entry = store(me, 1);
  if (config_.receivers == static_cast<std::uint32_t>(Receivers::pair)) {
    bool is_member = false;
    for (std::uint32_t m = 0; m < state_->pair_count && m < 2; ++m)
      is_member = is_member || load(state_->pair_members[m]) == me;
    if (!is_member) {
      if (state_->pair_count >= 2)
        return fail(Errc::permission_denied,
                    context(fmt::format("open: pair mailbox already joins {} and {}",
                                        to_string(load(state_->pair_members[0])),
                                        to_string(load(state_->pair_members[1])))));
      state_->pair_members[state_->pair_count++] = store(me, 1);
    }
  }
  if (is_broadcast_ && !is_creator_ && role_ == MailboxRole::sender_and_receiver)
    return claim_receiver();
  return {};
}

Mailbox::Impl::~Impl() {
  // A handle closing after a process-lifetime owner died removes the mailbox, as a call that
  // finds the owner dead does: the last user to go leaves nothing in the namespace.
  (void)segment_.reap_if_owner_died();
  if (receiver_index_ < 0 && !holds_exclusive_ && holder_index_ < 0) return;
  auto locked = lock();
  if (!locked) return;
  leave_handoff();
  if (holds_exclusive_ && load(state_->exclusive_holder) == self()) state_->exclusive_holder = {};
  if (receiver_index_ >= 0) {
    // Leaving: messages kept only for this receiver are freed.
    const std::uint64_t bit = std::uint64_t{1} << receiver_index_;
    state_->receiver_table[receiver_index_] = {};
    for (std::int32_t index = state_->queue_head, steps = 0;
         index != kNoSlot && steps < static_cast<std::int32_t>(slot_total()); ++steps) {
      SlotHeader* current = slot(index);
      if (current == nullptr) break;
      const std::int32_t next = current->next;
      if ((current->pending & bit) != 0) {
        current->pending &= ~bit;
        if (current->pending == 0 && current->wants_receipt == 0) {
          unlink(index);
          release(index);
        }
      }
      index = next;
    }
  }
}

MailboxStats Mailbox::Impl::stats() {
  MailboxStats stats;
  stats.capacity =
      Capacity{static_cast<Capacity::Kind>(config_.capacity_kind), config_.capacity_limit};
  stats.max_message_size = config_.max_message_size;
  stats.receivers = static_cast<Receivers>(config_.receivers);
  stats.lifetime = static_cast<Lifetime>(config_.lifetime);
  stats.owner = segment_.creator();
  auto locked = lock();
  if (!locked) return stats;
  stats.slots = slot_total();
  stats.depth = state_->depth.load(std::memory_order_relaxed);
  stats.sent = state_->sent;
  stats.received = state_->received;
  if (ring_ != nullptr) {
    // Ring positions: the tail counts every claim, ring_done every position done; a position
    // whose writer died counts in both, and was neither sent nor received.
    const std::uint64_t voided = state_->ring_voided.load(std::memory_order_relaxed);
    const std::uint64_t done = state_->ring_done.load(std::memory_order_acquire);
    const std::uint64_t tail = state_->ring_tail.load(std::memory_order_acquire);
    stats.ring_cells = ring_cells_;
    for (std::uint32_t i = 0; i < ring_cells_; ++i)  // queued: full cells (not viewed, written)
      if (CellWord::state(ring_cell(i)->word.load(std::memory_order_acquire)) == CellState::full)
        ++stats.depth;
    stats.sent += tail > voided ? tail - voided : 0;
    stats.received += done > voided ? done - voided : 0;
  }
  stats.would_block = state_->would_block_sends.load(std::memory_order_relaxed) +
                      state_->would_block_receives.load(std::memory_order_relaxed);
  stats.dropped = state_->dropped;
  for (const auto& entry : state_->attached)
    if (entry.flags != 0 && alive(load(entry))) stats.attached.push_back(load(entry));
  for (const auto& entry : state_->receiver_table)
    if (entry.flags != 0 && alive(load(entry))) stats.receivers_attached.push_back(load(entry));
  return stats;
}

}  // namespace conduit
