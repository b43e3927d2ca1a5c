// The ready ring of a mailbox (see "The ready ring" in mailbox_layout.hpp): sends and receives
// of ordinary messages without the lock, the scan that finds a receiver's message, the
// recovery of cells that dead processes held, and the waits of a mailbox that has a ring.
#include <fmt/format.h>
#include <sched.h>

#include <algorithm>
#include <climits>
#include <cstring>

#include "mailbox_impl.hpp"

namespace conduit {

using namespace msg;

namespace {

constexpr std::uint64_t word_of(std::uint64_t position, CellState state, std::int32_t pid = 0) {
  return CellWord::make(position, state, static_cast<std::uint32_t>(pid));
}

// Fields a process reads or writes while another may do the same (a cell's holder, while a
// recovery looks at it; its type, while a selective scan looks at a cell another receiver may
// take and a sender refill): atomic accesses, so that such a read is no data race. Relaxed:
// the cell's word orders everything that matters.
template <class T>
T peek(const T& field) {
  return std::atomic_ref<T>(const_cast<T&>(field)).load(std::memory_order_relaxed);
}
template <class T>
void poke(T& field, T value) {
  std::atomic_ref<T>(field).store(value, std::memory_order_relaxed);
}

#if defined(__SANITIZE_THREAD__)
#define CONDUIT_RING_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CONDUIT_RING_TSAN 1
#endif
#endif

std::uint64_t holder_of(ProcessId process) {
  return CellHolder::make(process.pid, process.start_time);
}

/// One compare-exchange of a word and the holder word after it (RingCell, RingClaim: 16
/// bytes, 16-aligned), a full barrier: true when they held `word` and `holder`; else both
/// are what they held. cmpxchg16b itself: GCC makes __atomic's a libatomic call, and
/// ThreadSanitizer makes every 16-byte atomic a lock of its own process (no use between
/// processes), so a TSan build saw messages taken twice.
bool exchange_pair(std::atomic<std::uint64_t>& first, std::uint64_t& word, std::uint64_t& holder,
                   std::uint64_t new_word, std::uint64_t new_holder) {
#if defined(__x86_64__)
  struct alignas(16) Pair {
    std::uint64_t word, holder;
  };
  bool is_exchanged = false;
  __asm__ __volatile__("lock cmpxchg16b %1"
                       : "=@ccz"(is_exchanged), "+m"(*reinterpret_cast<Pair*>(&first)), "+a"(word),
                         "+d"(holder)
                       : "b"(new_word), "c"(new_holder)
                       : "memory");
#else
#error "the ready ring claims with a 16-byte compare-exchange: written for x86-64 (cmpxchg16b)"
#endif
#if defined(CONDUIT_RING_TSAN)
  // The exchange is invisible to TSan: an acquire load of the word shows it the order it
  // gives (with the release of whoever held the words before).
  if (is_exchanged) (void)first.load(std::memory_order_acquire);
#endif
  return is_exchanged;
}

/// A claim: `word` from `expected` to `claimed`, and its holder to `me`, in one step (a reader
/// or writer killed just after it leaves its start time, not its pid alone), whatever process
/// the holder named before. false: the word held another value (now in `expected`).
bool claim_pair(std::atomic<std::uint64_t>& word, std::atomic<std::uint64_t>& holder,
                std::uint64_t& expected, std::uint64_t claimed, ProcessId me) {
  std::uint64_t seen_holder = holder.load(std::memory_order_relaxed);
  for (;;) {
    std::uint64_t seen = expected;
    if (exchange_pair(word, seen, seen_holder, claimed, holder_of(me))) return true;
    if (seen != expected) {
      expected = seen;
      return false;
    }
    // The word as expected, another holder (a claim made and given back since the holder was
    // read, or a recovery's): again with that one.
  }
}

std::byte* payload_of(RingCell* cell) { return reinterpret_cast<std::byte*>(cell + 1); }

/// Whether a receive of `filter` wants a message of `type` (msgrcv: 0 any; > 0 that type;
/// < 0 any type <= |filter|).
bool is_wanted(std::int64_t filter, std::int64_t type) {
  if (filter == 0) return true;
  if (filter > 0) return type == filter;
  return filter == INT64_MIN || type <= -filter;
}

}  // namespace

std::uint64_t Mailbox::Impl::ring_occupancy() const {
  // Done first: read after it, the tail is no older than it (both only grow).
  const std::uint64_t done = state_->ring_done.load(std::memory_order_acquire);
  const std::uint64_t tail = state_->ring_tail.load(std::memory_order_acquire);
  return tail > done ? tail - done : 0;
}

bool Mailbox::Impl::is_time_to_recover_empty() {
  // A count, not the clock (a poller's look costs a few nanoseconds; the clock, more):
  // ring_recover itself asks /proc at most every kReclaimInterval.
  const std::uint32_t looks = empty_looks_.load(std::memory_order_relaxed) + 1;
  empty_looks_.store(looks, std::memory_order_relaxed);
  return looks % kEmptyLooksPerRecovery == 0;
}

void Mailbox::Impl::ring_finish(RingCell* cell, std::uint64_t position) {
  // A store: the claim is this process's until then. A recovery takes only a dead claimant's,
  // and a claim names its claimant with its start time (see "Crash safety" in
  // mailbox_layout.hpp), so a live one is never taken for a dead one under its pid.
  cell->word.store(word_of(position + ring_cells_, CellState::empty), std::memory_order_release);
  state_->ring_done.fetch_add(1, std::memory_order_seq_cst);  // seq_cst: see wake_senders
  wake_senders();
}

bool Mailbox::Impl::ring_has_room(std::uint32_t in_use) const {
  if (ring_occupancy() + in_use < config_.slot_count) return true;
  const std::uint64_t tail = state_->ring_tail.load(std::memory_order_acquire);
  if (ring_cell(tail)->word.load(std::memory_order_acquire) != word_of(tail, CellState::empty))
    return false;  // as counted: the tail's cell is in use
  std::uint64_t used = in_use;
  for (std::uint32_t i = 0; i < ring_cells_; ++i) {
    // In use: a message in the cell, or a writer holding the claim of the cell's position.
    const std::uint64_t word = ring_cell_at(i)->word.load(std::memory_order_relaxed);
    const std::uint64_t claim = ring_claim_at(i).word.load(std::memory_order_relaxed);
    if (CellWord::state(word) != CellState::empty ||
        (CellWord::state(claim) == CellState::writing &&
         CellWord::stamp(claim) == CellWord::stamp(word)))
      ++used;
  }
  return used < config_.slot_count;
}

bool Mailbox::Impl::has_space() const {
  if (state_->is_removed.load(std::memory_order_relaxed) != 0) return true;
  return ring_has_room(state_->in_use.load(std::memory_order_relaxed));
}

namespace {

/// WaitWord::wake_all_once with a handle's `woken_at`, kept in an atomic: threads share the
/// handle (a stale value costs at most one needless wake).
void wake_once(sync::WaitWord& word, std::atomic<std::uint32_t>& woken_at) {
  std::uint32_t at = woken_at.load(std::memory_order_relaxed);
  word.wake_all_once(at);
  woken_at.store(at, std::memory_order_relaxed);
}

}  // namespace

void Mailbox::Impl::wake_receivers() {
  // No fence: every caller published with a seq_cst read-modify-write (sync/wait.hpp), and the
  // loads of both counts are seq_cst.
  if (sync::WaitWord::has_sleepers_after_seq_cst_write(state_->messages.sleepers)) [[unlikely]] {
    // Once per sleep (sync/wait.hpp, "Waking once per sleep"): a flagged receiver stays
    // flagged until it is awake again, and a stream would otherwise wake it per message. Only
    // receivers that mark their sleeps may be woken so: selective ones, which watch the word
    // itself, raise selective_waiters first, and then every wake is a wake. (Acquire: the
    // raise, before the flag this saw, is visible.)
    std::atomic_thread_fence(std::memory_order_acquire);
    if (state_->selective_waiters.load(std::memory_order_relaxed) != 0) {
      state_->messages.notify_all();
    } else {
      wake_once(state_->messages, messages_woken_at_);
    }
  }
  if (doorbell_ != nullptr && sync::WaitWord::has_sleepers_after_seq_cst_write(doorbell_->sleepers))
      [[unlikely]] {
    wake_once(*doorbell_, doorbell_woken_at_);  // the endpoint's receiver marks its sleeps too
  }
}

void Mailbox::Impl::wake_senders() {
  // Every sender waiting on a ring mailbox marks its sleeps (wait_ready): once per sleep. No
  // fence: every caller's last publishing write was a seq_cst count of positions done.
  if (sync::WaitWord::has_sleepers_after_seq_cst_write(state_->space.sleepers)) [[unlikely]]
    wake_once(state_->space, space_woken_at_);
}

Mailbox::Impl::RingSend Mailbox::Impl::ring_send(std::span<const std::byte> payload,
                                                 std::int64_t type, ProcessId me,
                                                 HeldCell* held_cell) {
  // Anything in the slots is older, or holds capacity (a loan, a receipt awaited): the slots
  // decide, and this message queues behind it there.
  if (state_->in_use.load(std::memory_order_relaxed) != 0) return RingSend::obstructed;
  auto& tail = state_->ring_tail;
  std::uint64_t position = tail.load(std::memory_order_relaxed);
  // Room is not counted first: the ring has as many cells as the mailbox has capacity, and
  // nothing is in the slots, so the tail's cell is free exactly when there is room. (Counting
  // read the receivers' line of positions done, which then went back to them: a trip more
  // every `capacity` sends.) Found in use below, the count says whether the ring is full.
  // Patience for a claim or cell another process holds for a moment (see below), shared by
  // this send's attempts: bounded, so that a dead holder costs a send microseconds, not more.
  std::uint32_t patience = kBusyRounds;
  const auto waited_for = [&](const std::atomic<std::uint64_t>& watched, std::uint64_t seen) {
    while (patience > 0) {
      --patience;
      // Now and then the CPU goes to whoever else runs here: the holder may be one of them.
      if (patience % kBusyRoundsPerYield == 0) {
        ::sched_yield();
      } else {
        sync::relax();
      }
      if (watched.load(std::memory_order_relaxed) != seen ||
          tail.load(std::memory_order_relaxed) != position)
        return true;
    }
    return false;
  };
  for (int attempt = 0; attempt < kSendAttempts; ++attempt) {
    const std::uint64_t index = position % ring_cells_;
    auto& claim = ring_claim_at(index);
    // Claimed at once, expecting the claim free for this position (as it nearly always is).
    // The claim names this process (pid and start time); the tail follows: a writer that dies
    // in between leaves a claim that names it, which ring_recover gives back.
    std::uint64_t word = word_of(position, CellState::empty);
    if (claim_pair(claim.word, claim.holder, word, word_of(position, CellState::writing, me.pid),
                   me)) {
      RingCell* cell = ring_cell_at(index);
      if (cell->word.load(std::memory_order_acquire) != word_of(position, CellState::empty)) {
        // An older message still there. The claim goes back (the tail did not move; a store,
        // as the release below). A full ring (as counted, or cell by cell when the count is
        // short: see "The ready ring") waits for room; otherwise a receiver is copying the
        // message out, or no receiver wants its type: never wait for it, the message queues in
        // a slot (behind the ring).
        claim.word.store(word_of(position, CellState::empty), std::memory_order_release);
        const std::uint64_t done = state_->ring_done.load(std::memory_order_acquire);
        if (done <= position && position - done >= config_.slot_count && !ring_has_room(0)) {
          ring_recover(state_->ring_head.load(std::memory_order_relaxed));  // a dead one's?
          return RingSend::full;
        }
        // Not full as counted: a receiver may have emptied the cell between the two loads (it
        // empties it, then counts it done). Free now, the position is claimed again: sent to
        // the slots instead, this message would put every later one behind it there. Holding
        // this position or a later one, another sender claimed it meanwhile (the claim was
        // given back above): on from the tail. A receiver copying the older message out is
        // waited for (briefly here; off the CPU, by the caller); a view of it may live on, and
        // one that nobody takes (a selective receiver's leftover) may stay: not waited for.
        const std::uint64_t again = cell->word.load(std::memory_order_acquire);
        if (again == word_of(position, CellState::empty)) continue;
        const bool is_copying =
            CellWord::state(again) == CellState::reading && peek(cell->is_viewed) == 0;
        if (CellWord::distance(again, position) >= 0 ||
            (is_copying && waited_for(cell->word, again))) {
          position = tail.load(std::memory_order_relaxed);
          continue;
        }
        ring_recover(position);
        if (is_copying) {
          if (held_cell != nullptr) *held_cell = {position, again};
          return RingSend::held;
        }
        return RingSend::obstructed;
      }
      // Only the holder of this position's claim moves the tail from it: a store.
      tail.store(position + 1, std::memory_order_relaxed);
      if (!publish_cell(cell, position, payload, type, me))
        return RingSend::obstructed;  // the claim was given up under us: send it another way
      // A store, as ring_finish's: the claim is this process's, which a recovery never takes.
      claim.word.store(word_of(position + ring_cells_, CellState::empty),
                       std::memory_order_release);
      return RingSend::sent;
    }
    // `word` holds what the claim holds.
    const std::int64_t distance = CellWord::distance(word, position);
    if (distance > 0) {  // this view of the tail is stale
      position = tail.load(std::memory_order_relaxed);
      continue;
    }
    if (distance < 0 || CellWord::state(word) != CellState::empty) {
      // Busy: another sender between its claim and moving the tail (this position), or the
      // cell's last writer between its publish and its release (an older one): a few
      // instructions, unless its process was preempted in between, or died. Waited for
      // briefly: queued in a slot instead, this message would put every later send behind it
      // there, the locked path, until the slots are empty again, which with several senders
      // keeping them busy may be never (64 B, 3 sender processes on 2 cores, a scratch
      // program: 0.2-0.6 against 4.8 Mmsg/s with this wait).
      if (waited_for(claim.word, word)) {
        position = tail.load(std::memory_order_relaxed);
        continue;
      }
      ring_recover(position);
      return RingSend::obstructed;
    }
    // Free, but the compare-exchange saw another word in between: look again.
    position = tail.load(std::memory_order_relaxed);
  }
  return RingSend::obstructed;
}

bool Mailbox::Impl::publish_cell(RingCell* cell, std::uint64_t position,
                                 std::span<const std::byte> payload, std::int64_t type,
                                 ProcessId me) {
  poke(cell->is_viewed, std::uint64_t{0});
  cell->size = payload.size();
  poke(cell->type, type);
  cell->sender = store(me);
  if (!payload.empty()) std::memcpy(payload_of(cell), payload.data(), payload.size());
  // seq_cst: the write that wake_receivers' fence-free look follows (sync/wait.hpp). Locked
  // either way, so a compare-exchange, at no cost: a position given up as a dead one's (its
  // cell moved on to empty(p + N); never this live process's) is not published.
  std::uint64_t free = word_of(position, CellState::empty);
  if (!cell->word.compare_exchange_strong(free, word_of(position, CellState::full),
                                          std::memory_order_seq_cst, std::memory_order_relaxed))
    return false;
  wake_receivers();
  return true;
}

bool Mailbox::Impl::send_fast(std::span<const std::byte> payload, std::int64_t type) {
  // Everything else (a mailbox without a ring, a message too large for it, a removed mailbox)
  // takes the whole path, which says why.
  if (ring_ == nullptr || payload.size() > config_.max_message_size ||
      state_->is_removed.load(std::memory_order_relaxed) != 0)
    return false;
  return ring_send(payload, type, self()) == RingSend::sent;
}

Mailbox::Impl::Fast Mailbox::Impl::receive_fast(Message* message) {
  if (ring_ == nullptr || role_ != MailboxRole::sender_and_receiver ||
      state_->is_removed.load(std::memory_order_relaxed) != 0)
    return Fast::none;
  const ProcessId me = self();
  if (is_exclusive_ && !(holds_exclusive_ && exclusive_pid_ == me.pid)) return Fast::none;
  // The head's cell holds the next message (when the head does not lag, and nobody else is
  // busy with it): taken as ring_scan would. Ring messages are older than slot messages, so
  // whatever the slots hold, this one comes first.
  const std::uint64_t position = state_->ring_head.load(std::memory_order_acquire);
  RingCell* cell = ring_cell(position);
  prefetch_for_write(cell);  // see ring_scan
  std::uint64_t word = word_of(position, CellState::full);
  if (const std::uint64_t seen = cell->word.load(std::memory_order_acquire); seen != word) {
    // Nothing written at the head and nothing in the slots: nothing at all (the cheap answer
    // a poller gets while it waits; the slots' depth shares the lock's line, which only slot
    // operations write).
    if (seen == word_of(position, CellState::empty) &&
        state_->depth.load(std::memory_order_acquire) == 0) {
      // Empty may be a writer's that died holding this position's claim, with later messages
      // behind it: looked into now and then (a poller that only ever gets here must not wait
      // for ever), and then the whole receive looks again.
      if (is_time_to_recover_empty()) [[unlikely]] {
        ring_recover(position);
        return Fast::none;
      }
      return Fast::empty;
    }
    return Fast::none;
  }
  __builtin_prefetch(payload_of(cell), 0, 3);
  if (!claim_pair(cell->word, cell->holder, word, word_of(position, CellState::reading, me.pid),
                  me))
    return Fast::none;
  // The next kPrefetchAhead positions' cells (for writing: each is taken by a compare-exchange,
  // see ring_scan) and their bytes' first lines, on their way while this message is copied
  // out: in a stream those messages are most likely there already. Two ahead, not one: a line
  // takes longer than a message to come over from the sender's core, so the next one alone
  // still made each receive wait (64 B stream, bench, 3 alternating runs each, all three
  // waits: 8.8-13.2 -> 17.4-21.8 Mmsg/s; 4 KiB and 64 KiB did not move). In a scratch program
  // the second cell without its bytes gained nothing, and three ahead lost most of the gain.
  // The round trip did not move (4 runs each, Mailbox p50 488 -> 487 ns): there the next
  // cells are still this process's own lines, from when it freed them.
  RingCell* next = cell;
  for (int ahead = 0; ahead < kPrefetchAhead; ++ahead) {
    next = ring_next(next);
    prefetch_for_write(next);
    __builtin_prefetch(payload_of(next), 0, 3);
  }
  const std::uint64_t size = cell->size;  // read once
  Fast taken = Fast::torn;
  if (size <= config_.max_message_size) {
    deliver_copy(std::span<const std::byte>(payload_of(cell), size), cell->type, load(cell->sender),
                 position, message, nullptr);
    taken = Fast::taken;
  }
  ring_finish(cell, position);
  std::uint64_t expected = position;  // failing: another receiver moved it meanwhile
  (void)state_->ring_head.compare_exchange_strong(expected, position + 1, std::memory_order_acq_rel,
                                                  std::memory_order_relaxed);
  return taken;
}

template <class Visit>
bool Mailbox::Impl::ring_scan(Visit&& visit) {
  auto& head = state_->ring_head;
  const std::uint64_t first = head.load(std::memory_order_acquire);
  std::uint64_t done_until = first;  // every position before it is done
  std::optional<std::uint64_t> tail;
  bool is_stopped = false;
  // At most N cells are live, from the first position not done on (the head may lag behind
  // positions that are done, by fewer than N). Never more than 2N steps: cells a peer forged
  // to look done for ever must not make this a loop without end.
  for (std::uint64_t position = first;
       position - done_until < ring_cells_ && position - first < 2 * std::uint64_t{ring_cells_};
       ++position) {
    RingCell* cell = ring_cell(position);
    // Asked for writing: a receiver that finds its message takes it (a compare-exchange) at
    // once; read first, the line would come over shared and need a second trip.
    prefetch_for_write(cell);
    const std::uint64_t word = cell->word.load(std::memory_order_acquire);
    const std::int64_t distance = CellWord::distance(word, position);
    if (distance > 0) {  // done: the cell serves a later position now
      if (done_until == position) ++done_until;
      continue;
    }
    // An older position still in the cell cannot be (it is behind the head, so done): a
    // peer wrote over the ring. Nothing further is trusted.
    if (distance < 0) break;
    const CellState state = CellWord::state(word);
    if (state == CellState::empty) {
      // No sender reached this position yet, or one is writing it (nothing after it is taken
      // before it: its next message may be full already by the time this scan got there), or
      // one died holding its claim (a dead one's? rarely asked).
      if (is_time_to_recover_empty()) [[unlikely]]
        ring_recover(position);
      break;
    }
    if (state == CellState::full) {
      __builtin_prefetch(payload_of(cell), 0, 3);  // on its way while the cell is claimed
      const Visited visited = visit(position, cell, word);
      if (visited == Visited::next) continue;
      if (visited == Visited::taken && done_until == position) ++done_until;
      is_stopped = true;
      break;
    }
    ring_recover(position);                  // busy: a dead one's? (rarely asked)
    if (state != CellState::reading) break;  // a cell word is never writing: forged
    // Another receiver copying (or viewing) one out: look further, at positions senders
    // reached.
    if (!tail) tail = state_->ring_tail.load(std::memory_order_acquire);
    if (position + 1 >= *tail) break;
  }
  if (done_until != first) {
    std::uint64_t expected = first;  // failing: another receiver moved it meanwhile
    (void)head.compare_exchange_strong(expected, done_until, std::memory_order_acq_rel,
                                       std::memory_order_relaxed);
  }
  return is_stopped;
}

Result<bool> Mailbox::Impl::ring_take(std::int64_t type, ProcessId me, Message* message,
                                      std::optional<MessageView>* view,
                                      std::string_view operation) {
  std::optional<Error> torn;
  const auto take = [&](std::uint64_t position, RingCell* cell, std::uint64_t word) {
    if (!claim_pair(cell->word, cell->holder, word, word_of(position, CellState::reading, me.pid),
                    me))
      return false;                         // another receiver took it
    const std::uint64_t size = cell->size;  // read once
    if (size > config_.max_message_size) {
      // Forged or torn by a peer that writes over the ring: dropped, and said.
      torn =
          Error(Errc::corrupted,
                context(fmt::format("{}: corrupted: ring message of {} bytes", operation, size)));
    } else if (view != nullptr) {
      // Zero-copy: the cell stays `reading` until the view goes (release_view), marked as
      // viewed: received, so a recovery after this process died frees it rather than
      // handing the message out again.
      poke(cell->is_viewed, std::uint64_t{1});
      view->emplace(shared_from_this(), kRingToken | position,
                    std::span<const std::byte>(payload_of(cell), size), cell->type,
                    load(cell->sender), position);
      return true;
    } else {
      deliver_copy(std::span<const std::byte>(payload_of(cell), size), cell->type,
                   load(cell->sender), position, message, nullptr);
    }
    // The message is received here (exactly once: a reader that died before this left the
    // cell `reading`, and ring_recover makes it full again).
    ring_finish(cell, position);
    return true;
  };
  if (type == 0) {
    const bool is_taken =
        ring_scan([&](std::uint64_t position, RingCell* cell, std::uint64_t word) {
          return take(position, cell, word) ? Visited::taken : Visited::next;
        });
    if (torn) return std::unexpected(*torn);
    return is_taken;
  }
  // Selective: the oldest of the type (> 0), or of the lowest type (< 0); another receiver
  // may take it first, then look again.
  for (int attempt = 0; attempt < 8; ++attempt) {
    std::optional<std::uint64_t> best_position;
    std::uint64_t best_word = 0;
    RingCell* best_cell = nullptr;
    std::int64_t best_type = 0;
    (void)ring_scan([&](std::uint64_t position, RingCell* cell, std::uint64_t word) {
      const std::int64_t found = peek(cell->type);
      if (!is_wanted(type, found) || (best_position && found >= best_type)) return Visited::next;
      best_position = position;
      best_word = word;
      best_cell = cell;
      best_type = found;
      return type > 0 ? Visited::stop : Visited::next;
    });
    if (!best_position) return false;
    if (take(*best_position, best_cell, best_word)) {
      if (torn) return std::unexpected(*torn);
      // Taken out of order, perhaps: the next scan moves the head past it when it can.
      return true;
    }
  }
  return false;
}

std::optional<std::int64_t> Mailbox::Impl::ring_lowest(std::int64_t type) {
  std::optional<std::int64_t> lowest;
  (void)ring_scan([&](std::uint64_t, RingCell* cell, std::uint64_t) {
    const std::int64_t found = peek(cell->type);
    if (is_wanted(type, found) && (!lowest || found < *lowest)) lowest = found;
    return Visited::next;
  });
  return lowest;
}

bool Mailbox::Impl::is_message_ready() {
  if (state_->is_removed.load(std::memory_order_relaxed) != 0 ||
      state_->depth.load(std::memory_order_acquire) != 0)
    return true;
  return ring_scan([](std::uint64_t, RingCell*, std::uint64_t) { return Visited::stop; });
}

void Mailbox::Impl::ring_recover(std::optional<std::uint64_t> position) {
  if (position) {
    // A busy cell is nearly always a live process at work: ask /proc rarely.
    const auto now = sys::now().time_since_epoch().count();
    if (now < next_ring_check_.load(std::memory_order_relaxed)) return;
    next_ring_check_.store(
        now + std::chrono::duration_cast<sys::Clock::duration>(kReclaimInterval).count(),
        std::memory_order_relaxed);
  }
  const std::uint64_t head = state_->ring_head.load(std::memory_order_acquire);
  // The claimant of a claim `word` whose holder word read `holder`: its pid and start time,
  // written together by the claim. A holder of another pid is a forged pair, or one read as it
  // changed (the compare-exchange of both words below then fails): the pid alone says then.
  const auto is_alive = [&](std::uint64_t word, std::uint64_t holder) {
    const std::int32_t pid = CellWord::pid(word);
    return alive({pid, CellHolder::pid(holder) == pid ? CellHolder::start_time(holder) : 0});
  };
  // A dead reader's cell: full again (it had not returned the message), unless it had made a
  // view of it (received: freed).
  const auto recover_reader = [&](RingCell* cell) {
    std::uint64_t word = cell->word.load(std::memory_order_acquire);
    std::uint64_t holder = cell->holder.load(std::memory_order_relaxed);
    if (CellWord::state(word) != CellState::reading || is_alive(word, holder)) return;
    const std::uint64_t at = head + static_cast<std::uint64_t>(CellWord::distance(word, head));
    const bool is_viewed = peek(cell->is_viewed) != 0;
    const std::uint64_t replacement =
        is_viewed ? word_of(at + ring_cells_, CellState::empty) : word_of(at, CellState::full);
    // Both words as read (a full barrier, as the ring's other publishing writes: the wakes
    // below have no fence): the same claim, not one a process under a reused pid made since.
    if (!exchange_pair(cell->word, word, holder, replacement, holder))
      return;  // it moved on: not dead after all, or recovered by another
    if (is_viewed) {
      state_->ring_done.fetch_add(1, std::memory_order_seq_cst);
      wake_senders();
    } else {
      wake_receivers();
    }
  };
  // A dead writer's claim: given back. Once its writer is dead, nothing but a recovery changes
  // the claim, the tail does not move from its position (only the claim's holder moves it),
  // and the cell changes only by a recovery too.
  // Every change of the claim is a compare-exchange of both its words as read.
  const auto recover_writer = [&](RingClaim& claim, RingCell* cell) {
    const std::uint64_t word = claim.word.load(std::memory_order_acquire);
    const std::uint64_t holder = claim.holder.load(std::memory_order_relaxed);
    if (CellWord::state(word) != CellState::writing || is_alive(word, holder)) return;
    const auto give_back = [&](std::uint64_t replacement) {
      std::uint64_t seen = word;
      std::uint64_t seen_holder = holder;
      (void)exchange_pair(claim.word, seen, seen_holder, replacement, holder);
    };
    const std::uint64_t at = head + static_cast<std::uint64_t>(CellWord::distance(word, head));
    std::uint64_t cell_word = cell->word.load(std::memory_order_acquire);
    const bool is_tail = state_->ring_tail.load(std::memory_order_acquire) == at;
    if (CellWord::distance(cell_word, at) < 0 ||
        (cell_word == word_of(at, CellState::empty) && is_tail)) {
      // It died before it moved the tail: the next sender writes this position.
      give_back(word_of(at, CellState::empty));
      return;
    }
    if (cell_word == word_of(at, CellState::empty)) {
      // The tail moved past the position: by this writer only if the claim is still its own
      // now, after the tail was read (a dead process never claims again, so the same words
      // mean it held the claim all along). Otherwise another recoverer gave it back, and a
      // live sender may have claimed the position and moved the tail itself (found by
      // model/ready_ring.pml: giving its position up would fail its publish and keep its claim).
      if (claim.word.load(std::memory_order_acquire) != word ||
          claim.holder.load(std::memory_order_relaxed) != holder)
        return;
      // It moved the tail and never published: the position is given up, the cell first (a
      // recoverer that dies before the claim leaves a claim found dead again, never a cell that
      // holds the ring up). seq_cst: a publishing write (receivers may pass it now).
      if (!cell->word.compare_exchange_strong(cell_word,
                                              word_of(at + ring_cells_, CellState::empty),
                                              std::memory_order_seq_cst, std::memory_order_relaxed))
        return;  // recovered by another
      give_back(word_of(at + ring_cells_, CellState::empty));
      state_->ring_voided.fetch_add(1, std::memory_order_relaxed);
      state_->ring_done.fetch_add(1, std::memory_order_seq_cst);
      wake_senders();
      wake_receivers();
      return;
    }
    // It published, and died before it released the claim.
    give_back(word_of(at + ring_cells_, CellState::empty));
  };
  if (position) {
    const std::uint64_t index = *position % ring_cells_;
    recover_reader(ring_cell_at(index));
    recover_writer(ring_claim_at(index), ring_cell_at(index));
    return;
  }
  for (std::uint32_t i = 0; i < ring_cells_; ++i) {
    recover_reader(ring_cell_at(i));
    recover_writer(ring_claim_at(i), ring_cell_at(i));
  }
}

Result<void> Mailbox::Impl::send_ringed(std::span<const std::byte> payload, std::int64_t type,
                                        bool is_try, std::optional<sys::TimePoint> deadline,
                                        std::string_view operation) {
  const ProcessId me = self();
  std::int32_t index = kNoSlot;
  std::uint64_t sequence = 0;
  for (;;) {
    if (auto usable = check_usable(operation); !usable) return usable;
    HeldCell held;
    switch (ring_send(payload, type, me, &held)) {
      case RingSend::sent: return {};
      case RingSend::full: break;
      case RingSend::held:
        if (!is_try) {
          // A receiver was preempted while it copied out the tail cell's message (any_one
          // receivers sharing a CPU, say): waited for off the CPU, as for room (its finish
          // wakes senders). Queued in a slot instead, this message would put every later send
          // behind it there (bench, 64 B, any_one to 2 receivers sharing a CPU: 1.8-2.3
          // against 5.9-6.3 Mmsg/s with this wait). A cell that became a view meanwhile, or a
          // reader that died, ends the wait at the slice's end at the latest (the loop then
          // looks again).
          auto waited = wait_ready(
              [&] {
                const RingCell* cell = ring_cell(held.position);
                return cell->word.load(std::memory_order_acquire) != held.word ||
                       peek(cell->is_viewed) != 0 ||
                       state_->is_removed.load(std::memory_order_relaxed) != 0;
              },
              state_->space, deadline, operation);
          if (waited) continue;
          if (waited.error().code() != Errc::timed_out) return waited;
        }
        // try_send, or the deadline passed: there is room, in the slots.
        [[fallthrough]];
      case RingSend::obstructed: {
        auto queued =
            queue_once(payload, type, is_try, deadline, false, nullptr, operation, index, sequence);
        if (!queued) return std::unexpected(queued.error());
        if (*queued != Queued::full) return {};
        break;
      }
    }
    if (is_try) {
      state_->would_block_sends.fetch_add(1, std::memory_order_relaxed);  // a counter
      return std::unexpected(hot_.send_full);
    }
    if (auto waited =
            wait_ready([this] { return has_space(); }, state_->space, deadline, operation);
        !waited)
      return waited;
  }
}

Result<bool> Mailbox::Impl::receive_once(std::int64_t type, ProcessId me, Message* message,
                                         std::optional<MessageView>* view,
                                         std::string_view operation) {
  const auto from_slots = [&](std::optional<std::int64_t> below) -> Result<bool> {
    Taken taken;
    {
      auto locked = lock();
      if (!locked) return std::unexpected(locked.error());
      if (auto usable = check_usable(operation); !usable) return std::unexpected(usable.error());
      if (auto done = take_locked(type, me, message, view, operation, below, taken); !done)
        return std::unexpected(done.error());
    }
    after_take(taken);
    if (taken.lost) return std::unexpected(*taken.lost);
    return taken.is_taken;
  };
  // `depth` before the ring, with acquire: a slot message seen here was queued after every
  // ring message of its sender, and those are visible to the ring's look below.
  const bool is_slotted = state_->depth.load(std::memory_order_acquire) != 0;
  if (type >= 0 || !is_slotted) {
    auto got = ring_take(type, me, message, view, operation);
    if (!got || *got || !is_slotted) return got;
    return from_slots(std::nullopt);
  }
  // type < 0: the lowest type wins; between equal types the ring's, which is older.
  auto got = from_slots(ring_lowest(type));
  if (!got || *got) return got;
  return ring_take(type, me, message, view, operation);
}

Result<void> Mailbox::Impl::receive_ringed(std::int64_t type, bool is_try,
                                           std::optional<sys::TimePoint> deadline, Message* message,
                                           std::optional<MessageView>* view,
                                           std::string_view operation) {
  const ProcessId me = self();
  if (is_exclusive_ && !(holds_exclusive_ && exclusive_pid_ == me.pid)) {
    auto locked = lock(deadline);
    if (!locked) return std::unexpected(locked.error());
    if (auto usable = check_usable(operation); !usable) return usable;
    if (auto claimed = claim_exclusive(me, operation); !claimed) return claimed;
  }
  // A selective receiver sleeps while messages of other types are there, waiting for a new
  // one: raised for the whole call, so that slot senders bump for every message meanwhile
  // (see "Wake-ups"), the ones between an attempt and the sleep too.
  struct Selective {
    std::atomic<std::uint32_t>* count;
    ~Selective() {
      if (count != nullptr) count->fetch_sub(1, std::memory_order_relaxed);
    }
  } selective{type != 0 && !is_try ? &state_->selective_waiters : nullptr};
  if (selective.count != nullptr) selective.count->fetch_add(1);
  for (;;) {
    if (auto usable = check_usable(operation); !usable) return usable;
    // Before the attempt, what a selective waiter waits to see change (not read otherwise:
    // the tail's line is the senders').
    std::uint64_t tail = 0;
    std::uint32_t word = 0;
    if (selective.count != nullptr) {
      tail = state_->ring_tail.load(std::memory_order_acquire);
      word = state_->messages.value();
    }
    auto got = receive_once(type, me, message, view, operation);
    if (!got) return std::unexpected(got.error());
    if (*got) return {};
    if (is_try) {
      state_->would_block_receives.fetch_add(1, std::memory_order_relaxed);  // a counter
      return std::unexpected(hot_.receive_empty);
    }
    if (type == 0) {
      if (auto waited = wait_ready([this] { return is_message_ready(); }, state_->messages,
                                   deadline, operation);
          !waited)
        return waited;
      continue;
    }
    auto waited = wait_ready(
        [&] {
          return state_->ring_tail.load(std::memory_order_acquire) != tail ||
                 state_->messages.value() != word ||
                 state_->is_removed.load(std::memory_order_relaxed) != 0;
        },
        state_->messages, deadline, operation, sync::SleepMark::none);
    if (!waited) return waited;
  }
}

void Mailbox::Impl::ring_release_view(std::uint64_t position) noexcept {
  RingCell* cell = ring_cell(position);
  const std::uint64_t word = cell->word.load(std::memory_order_acquire);
  // Still this process's view of that position (a recovery never frees a live holder's).
  const std::int32_t pid = self().pid;
  if (CellWord::state(word) != CellState::reading || CellWord::distance(word, position) != 0 ||
      CellWord::pid(word) != (pid & static_cast<std::int32_t>(CellWord::kPidMask)))
    return;
  ring_finish(cell, position);
}

Result<void> Mailbox::Impl::torn(std::string_view operation) const {
  return fail(Errc::corrupted,
              context(fmt::format("{}: corrupted: a ring message larger than max_message_size "
                                  "(dropped)",
                                  operation)));
}

Result<void> Mailbox::Impl::timed_out(std::string_view operation) const {
  return fail(Errc::timed_out, context(fmt::format("{}: timed out", operation)));
}

}  // namespace conduit
