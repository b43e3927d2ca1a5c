// The wait strategy every blocking conduit call uses: spin briefly with `pause`, then sleep on
// a futex. The waker pays for FUTEX_WAKE only when a sleeper has flagged itself, so a
// producer and a consumer that keep up with each other make no system calls at all.
//
// WaitWord is an event count: a 32-bit sequence word that wakers bump after publishing, and a
// count of flagged sleepers. It lives in shared memory (standard layout, no pointers, 8 bytes):
//
//   offset 0            4            8
//          +------------+------------+
//          |    word    |  sleepers  |     both std::atomic<std::uint32_t>, always lock-free
//          +------------+------------+
//
// Protocol (wait_until(is_ready, word, deadline) below runs the waiter's side for you):
//
//   waiter                                   waker
//   observed = word.value()                  (publish the data the waiter wants)
//   (look for the data: not there)           word.notify_all():
//   word.wait_until(observed, deadline):       bump `word`                     (a)
//     spin while word == observed              if `sleepers` != 0: FUTEX_WAKE  (b)
//     sleepers += 1                    (c)
//     if word == observed: FUTEX_WAIT  (d)
//     sleepers -= 1
//
// Why no wake-up is lost: (a), (b), (c) and (d)'s load are sequentially consistent, so in
// their single total order either (a) comes before (d) — the waiter sees the new word and does
// not sleep (FUTEX_WAIT also re-checks the word in the kernel) — or (c) comes before (b) — the
// waker sees the sleeper and wakes it. Release/acquire alone would allow both the waiter to
// miss the bump and the waker to miss the flag (the store-buffer reordering: each side's load
// may be satisfied before its own store is visible to the other). Reading `observed` *before*
// looking for the data is what makes a bump between the look and the sleep count.
//
// A second protocol, for data published with plain stores, spares the waker the bump (a
// read-modify-write) whenever nobody sleeps: the waker pays one fence and one load of a line
// only sleepers write. The waiter re-checks the data itself after flagging (wait_slice with a
// predicate runs its side):
//
//   waiter                                   waker
//   observed = word.value()                  (publish the data: a release store)
//   (spin: look for the data)                word.notify_sleepers():
//   sleepers += 1                    (c)       seq_cst fence                   (a')
//   seq_cst fence                    (c')      if `sleepers` != 0:             (b')
//   (look for the data: not there)   (d')        bump `word`, FUTEX_WAKE
//   FUTEX_WAIT while word == observed
//   sleepers -= 1
//
// Why no wake-up is lost: the fences (a') and (c') are in the single total order of seq_cst
// operations. If (a') comes first, the waiter's look (d') sees the published data (C++
// [atomics.order]: a store sequenced before a fence that precedes the reader's fence is seen
// by a load sequenced after it) and does not sleep. If (c') comes first, the waker's load (b')
// sees the flag (c) by the same rule and bumps the word. If `observed` already holds that bump
// (value() is an acquire load of a release bump), the data published before it is visible to
// (d'); if not, FUTEX_WAIT either finds the word changed or is queued before FUTEX_WAKE. The bump
// is also a seq_cst read-modify-write, so a waiter whose predicate is "the word moved" (waiting
// for a notify_all) is covered too: a seq_cst bump that precedes (c') is seen by (d').
//
// The asymmetric form of the second protocol moves the waker's fence to the sleeper, for
// wakers that run millions of times a second (Channel's publish and release) while sleeping is
// rare: the waker keeps only a compiler barrier between its store and its load (nothing the
// CPU sees: on x86 the store may still sit in the store buffer when the load runs), and the
// sleeper, after flagging itself, calls membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED)
// (sys/membarrier.hpp), which runs a full barrier on every running thread of every registered
// process. Every process that may wake this way must be registered before it first wakes.
//
//   waiter                                   waker (a registered process)
//   sleepers += 1                    (c)     (publish the data: a release store)   (s)
//   seq_cst fence                    (c')    compiler barrier
//   membarrier: a fence at P in the waker    if `sleepers` != 0: bump, FUTEX_WAKE  (b')
//   (look for the data: not there)   (d')
//
// Why no wake-up is lost: membarrier acts as a seq_cst fence P in the waker's thread at some
// instruction boundary while the call runs: after the caller's own entry fence (c') and before
// its return (sys/membarrier.hpp). The compiler barrier keeps (s) before (b') in the machine
// code, so P falls before (s), between them, or after (b'). P before (b'): (c) precedes (c'),
// which precedes P, which precedes (b'): the fence rule makes (b') see the flag, and the waker
// bumps. P after (b'), so after (s): (s) precedes P, which precedes the waiter's return from
// membarrier and so (d'): (d') sees the data. Either way the waiter does not sleep through it.
// A waker that was not running when the barrier came gets its fence from the context switch:
// the same argument with P at the switch.
//
// A waker whose publishing write is itself a seq_cst read-modify-write (a compare-exchange
// that publishes a cell, a count bumped after the data) needs no fence (a'): it loads
// `sleepers` seq_cst (has_sleepers_after_seq_cst_write). If that load misses the flag (c), it is
// coherence-ordered before (c), so it precedes (c) in the single total order S, and the write
// precedes it; (c) precedes the fence (c'). Were (d') to miss the write, (d') would be
// coherence-ordered before a seq_cst write that follows a seq_cst fence sequenced before it,
// so (c') would precede the write in S ([atomics.order], C++20): a cycle in S. On x86 the
// locked instruction of the write is the fence, and the seq_cst load a plain one.
//
// Waking once per sleep (SleepMark::bump, WaitWord::wake_all_once). A flagged sleeper stays
// flagged through its membarrier (microseconds on a VM), and a waker publishing a stream saw
// the flag on every publish meanwhile: a bump and a FUTEX_WAKE per record, for a sleeper that
// one wake had already reached (measured: about ten wakes per sleep in a Channel streaming
// 4 KiB records with no spin). So a marking sleeper bumps the word itself just before flagging
// and waits on the value its bump made:
//
//   marking sleeper                          waker (keeps `woken_at`, private)
//   observed = word += 1             (m)     (publish the data)
//   sleepers += 1                    (c)     if `sleepers` != 0:                     (b')
//   fence, membarrier, look          (c'd')    acquire fence; if word == woken_at: done
//   FUTEX_WAIT while word == observed          else woken_at = word += 1; FUTEX_WAKE all
//
// Why skipping is safe: the waker's flag load reads the flag raise (c) (or a later RMW of the
// count: a release sequence), and the acquire fence makes (m), sequenced before (c), visible
// to its load of the word. A word still equal to `woken_at` means no bump came after the
// waker's own last wake, so the flagged sleeper's (m) came before it: that sleeper observed an
// older value, and the wake's FUTEX_WAKE either found it asleep or its FUTEX_WAIT finds the
// word changed (the futex's own guarantee, as for every bump). Observing by a bump keeps the
// first protocol's property: (m) reads the latest word and acquires every bump before it, so
// data published before those bumps is visible to (d'). Only 2^32 bumps between two wakes of
// one waker could make the word come back to `woken_at`; the sleeper would then sleep out its
// slice (callers sleep in bounded slices), never for ever. Bumps by other wakers or by a
// marking sleeper only make a later wake happen: never a skip.
//
// Crash safety: a process killed while asleep leaves `sleepers` one too high for ever. That is
// safe (wakers then make one needless FUTEX_WAKE each; a waker with wake_all_once makes one),
// never a hang; a process killed anywhere else leaves nothing behind (a marking sleeper killed
// between its bump and its flag leaves a moved word: at most one more wake).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <type_traits>

#include "conduit/sys/clock.hpp"
#include "conduit/sys/membarrier.hpp"

namespace conduit::sync {

/// How many `pause` rounds a waiter spins before it sleeps: a few microseconds (`pause` takes
/// 10 to 140 cycles depending on the CPU), the order of one kernel wake-up (~10 us on a VM), so
/// spinning never costs much more than sleeping would have.
inline constexpr std::uint32_t kSpinRounds = 256;

/// The spin rounds this process uses: kSpinRounds, or $CONDUIT_SPIN_ROUNDS when set (0 makes
/// every wait sleep at once: a purely blocking wait, as benchmarks against blocking peers
/// need), or what set_spin_rounds() chose. Read once per wait.
[[nodiscard]] std::uint32_t spin_rounds() noexcept;
/// Sets the spin rounds for this process (every primitive in sync/ and every WaitWord).
void set_spin_rounds(std::uint32_t rounds) noexcept;

/// Who pays for the ordering between a waker's publish and its look at the sleepers (the
/// second protocol, above): both sides fence (symmetric), or only the sleeper, with a
/// membarrier (asymmetric: every waking process registered with
/// sys::register_for_global_membarrier()). Lives in shared memory, hence the fixed values.
enum class WakeFencing : std::uint32_t { symmetric = 0, asymmetric = 1 };

/// How long a sleeper of the asymmetric protocol sleeps at most when its membarrier failed
/// (never expected: the command was there when the channel was opened). Without the barrier a
/// wake-up may be lost; with this bound it costs a millisecond, never a hang.
inline constexpr auto kUnfencedSleep = std::chrono::milliseconds(1);

/// One CPU relax hint (x86 `pause`), for spin loops.
inline void relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

/// Whether a sleeper of the second protocol bumps the word before flagging itself, so that
/// wakers using wake_all_once() wake it once per sleep (see "Waking once per sleep" above).
/// Only for waits whose predicate does not watch the word itself.
enum class SleepMark { none, bump };

struct WaitWord {
  std::atomic<std::uint32_t> word{0};      // bumped by every notify
  std::atomic<std::uint32_t> sleepers{0};  // waiters flagged as (about to be) asleep

  /// The current value, to pass to wait_until *before* looking for the data. Acquire: pairs
  /// with the bump in notify_all, so data published before a bump is visible after seeing it.
  [[nodiscard]] std::uint32_t value() const noexcept {
    return word.load(std::memory_order_acquire);
  }

  /// Waits until the word differs from `observed` or the deadline (absolute, CLOCK_MONOTONIC;
  /// none: for ever) passes. Returns true if the word changed; false on timeout (or on an
  /// unexpected futex failure, which callers treat as a timeout and look again). Spurious
  /// returns are possible only as "changed"; callers look for their data again either way.
  [[nodiscard]] bool wait_until(std::uint32_t observed,
                                std::optional<sys::TimePoint> deadline = std::nullopt) noexcept;

  /// Wakes every sleeper; call after publishing the data they wait for. No system call when
  /// nobody sleeps.
  void notify_all() noexcept;
  /// Wakes one sleeper (as notify_all, for hand-offs where one waiter can use the news).
  void notify_one() noexcept;
  /// Bumps the word and wakes every sleeper, flagged here or not: for a waker that found a
  /// sleeper's flag kept elsewhere (has_sleepers on a count of its own).
  void wake_all() noexcept;
  /// wake_all() for a waker that just saw a flag (has_sleepers) raised by a sleeper that marks
  /// its sleeps (SleepMark::bump): nothing while the word still holds `woken_at`, the value
  /// this waker's last wake left (every flagged sleeper then slept before that wake, which
  /// reached it); else a bump, kept in `woken_at`, and FUTEX_WAKE. `woken_at` is the waker's
  /// own (any value to start with).
  void wake_all_once(std::uint32_t& woken_at) noexcept;

  /// The waker's side of the second protocol (see the top of this file): call after publishing
  /// data with a plain store, for waiters in wait_slice(is_ready, ...). Costs a fence and a
  /// load when nobody sleeps: no read-modify-write, no system call.
  /// With WakeFencing::asymmetric (this process registered for membarrier, and every sleeper
  /// flags itself with asymmetric too) the fence is only a compiler barrier.
  void notify_sleepers(WakeFencing fencing = WakeFencing::symmetric) noexcept {
    if (has_sleepers(sleepers, fencing)) [[unlikely]]
      notify_all();
  }

  /// The waiter's side of the second protocol, (c) and (c'): flags this waiter as a sleeper
  /// (see flag_sleeper_on below).
  bool flag_sleeper(WakeFencing fencing = WakeFencing::symmetric) noexcept {
    return flag_sleeper_on(sleepers, fencing);
  }

  /// has_sleepers for a waker whose last publishing write was a seq_cst read-modify-write (see
  /// the top of this file): no fence, a seq_cst load.
  [[nodiscard]] static bool has_sleepers_after_seq_cst_write(
      const std::atomic<std::uint32_t>& count) noexcept {
    return count.load(std::memory_order_seq_cst) != 0;
  }

  /// The waker's side of the second protocol, (a') and (b'), on any sleeper count: whether a
  /// sleeper flagged itself on `count`, looked at after the caller's publishing store.
  [[nodiscard]] static bool has_sleepers(const std::atomic<std::uint32_t>& count,
                                         WakeFencing fencing) noexcept {
    if (fencing == WakeFencing::asymmetric) {
      // Keeps the caller's publishing store before the load below in the machine code; the
      // sleeper's membarrier supplies the fence between them (the asymmetric protocol above).
      std::atomic_signal_fence(std::memory_order_seq_cst);
    } else {
      // (a'): orders the caller's publishing store before the load of the count (store then
      // load: only a seq_cst fence does that); pairs with the fence (c') of a flagging sleeper.
      std::atomic_thread_fence(std::memory_order_seq_cst);
    }
    // (b'): relaxed is enough after the fence (the fence rule above does the ordering).
    return count.load(std::memory_order_relaxed) != 0;
  }

  /// (c) and (c') on any sleeper count: raises it, then fences. With WakeFencing::asymmetric
  /// it also makes the membarrier that stands for the wakers' fences; false if that failed
  /// (then the caller must not sleep for long: kUnfencedSleep).
  static bool flag_sleeper_on(std::atomic<std::uint32_t>& count, WakeFencing fencing) noexcept {
    count.fetch_add(1, std::memory_order_seq_cst);
    // (c'): pairs with (a') in has_sleepers (the read-modify-write alone is no fence in the
    // C++ model, though on x86 it is one; the fence costs only sleepers). In the asymmetric
    // protocol, the fence that precedes the membarrier's point P in every waker.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (fencing == WakeFencing::asymmetric) return sys::global_barrier().has_value();
    return true;
  }
  /// Sleeps while the word equals `observed`, until woken or the deadline: false when the
  /// deadline passed (a spurious return counts as woken: the caller looks again).
  [[nodiscard]] bool sleep_flagged(std::uint32_t observed,
                                   std::optional<sys::TimePoint> deadline) noexcept;
  /// Takes the flag down again (the waiter is awake).
  void unflag_sleeper() noexcept {
    sleepers.fetch_sub(1, std::memory_order_relaxed);  // only a hint for wakers: relaxed
  }
};

static_assert(std::is_standard_layout_v<WaitWord>);
static_assert(std::is_trivially_destructible_v<WaitWord>);
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);
static_assert(offsetof(WaitWord, word) == 0);
static_assert(offsetof(WaitWord, sleepers) == 4);
static_assert(sizeof(WaitWord) == 8 && alignof(WaitWord) == 4);

/// How one slice of a liveness-checked wait ended (see wait_slice).
enum class SliceEnd { moved, deadline_passed, slice_over };

/// One slice of a wait for a peer that may die: the dead wake nobody, so a waiter sleeps on
/// `word` for at most `slice` (less when the deadline comes first), then looks whether its
/// peer still lives. `moved`: the word changed, look for the data again; `deadline_passed`:
/// the deadline had passed before the slice began, report a timeout; `slice_over`: nothing
/// happened, check the peers and call again (the next call sees a deadline that has passed).
[[nodiscard]] SliceEnd wait_slice(WaitWord& word, std::uint32_t observed,
                                  std::optional<sys::TimePoint> deadline,
                                  sys::Clock::duration slice) noexcept;

/// One slice of a liveness-checked wait for data whose wakers call notify_sleepers(), the
/// second protocol: as wait_slice above, but the spin and the last look before sleeping ask
/// `is_ready()` (cheap, no side effects the caller minds) instead of watching the word.
/// `moved`: is_ready() said yes or the waiter was woken: look for the data again. `fencing`
/// must be what the wakers use (asymmetric: the sleeper makes the membarrier). The waiter
/// flags itself on `sleepers` when given (a count its wakers look at with
/// WaitWord::has_sleepers, then wake with word.wake_all()), else on word.sleepers. With
/// SleepMark::bump it bumps the word just before flagging, so that wakers may wake with
/// wake_all_once (once per sleep); never for a predicate that watches the word.
template <class Predicate>
[[nodiscard]] SliceEnd wait_slice(Predicate&& is_ready, WaitWord& word,
                                  std::optional<sys::TimePoint> deadline,
                                  sys::Clock::duration slice,
                                  WakeFencing fencing = WakeFencing::symmetric,
                                  std::atomic<std::uint32_t>* sleepers = nullptr,
                                  SleepMark mark = SleepMark::none) {
  std::atomic<std::uint32_t>& count = sleepers != nullptr ? *sleepers : word.sleepers;
  const auto now = sys::now();
  if (deadline && now >= *deadline) return SliceEnd::deadline_passed;
  auto slice_end = now + slice;
  if (deadline && *deadline < slice_end) slice_end = *deadline;
  // Read before the flag: a bump after it makes FUTEX_WAIT return at once (see the top).
  std::uint32_t observed = word.value();
  const std::uint32_t rounds = spin_rounds();
  for (std::uint32_t round = 0; round < rounds; ++round) {
    if (is_ready()) return SliceEnd::moved;
    relax();
  }
  // (m): the sleep's own bump, only once spinning is over (a busy waiter's wakers never see
  // the word move). Seq_cst, as every bump: it reads the latest word and acquires the bumps
  // before it; sequenced before the flag (c), which wakers acquire (wake_all_once).
  if (mark == SleepMark::bump) observed = word.word.fetch_add(1, std::memory_order_seq_cst) + 1;
  if (!WaitWord::flag_sleeper_on(count, fencing)) {  // (c), (c'), the membarrier if asymmetric
    const auto unfenced_end = sys::now() + kUnfencedSleep;
    if (unfenced_end < slice_end) slice_end = unfenced_end;
  }
  const bool is_woken = is_ready() || word.sleep_flagged(observed, slice_end);  // (d')
  count.fetch_sub(1, std::memory_order_relaxed);  // unflag: only a hint for wakers
  return is_woken ? SliceEnd::moved : SliceEnd::slice_over;
}

/// Waits until `is_ready()` returns true, or the deadline passes: true if ready. `is_ready`
/// looks for the data that wakers publish before calling word.notify_*(); it is called at
/// least once and may be called many times (keep it cheap and free of side effects). Without
/// a deadline it returns only when ready.
template <class Predicate>
[[nodiscard]] bool wait_until(Predicate&& is_ready, WaitWord& word,
                              std::optional<sys::TimePoint> deadline = std::nullopt) {
  for (;;) {
    // The order is the protocol: observe the word, then look, then sleep on what we observed.
    const std::uint32_t observed = word.value();
    if (is_ready()) return true;
    if (word.wait_until(observed, deadline)) continue;
    if (deadline && sys::now() >= *deadline) return is_ready();
  }
}

}  // namespace conduit::sync
