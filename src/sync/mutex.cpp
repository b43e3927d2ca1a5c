#include "conduit/sync/mutex.hpp"

#include <algorithm>
#include <string>

#include "conduit/sync/wait.hpp"
#include "conduit/sys/futex.hpp"

namespace conduit {
namespace {

// Thread ids fit in 22 bits (PID_MAX_LIMIT is 2^22); the bits between are never set by us.
constexpr std::uint32_t kHolderMask = 0x3fff'ffff;

// A waiter's first sleep before it asks whether the holder lives, and the longest: a live
// holder releases the lock (and wakes the waiter) long before the first slice ends, so the
// check costs it nothing; a dead one is noticed within a millisecond or two.
constexpr std::chrono::milliseconds kFirstSlice{1};
constexpr std::chrono::milliseconds kLongestSlice{100};
// Polls of the word before the first sleep: a holder keeps a lock for a short while.
constexpr std::uint32_t kSpins = 64;

std::string where(const char* operation) { return std::string("mutex: ") + operation; }

}  // namespace

Mutex::Mutex() noexcept : kind_{kKind} {}

Result<void> Mutex::check_kind(const char* operation) const noexcept {
  // Relaxed: a peer may write the word at any time; we only refuse what is plainly not a mutex.
  const std::uint32_t kind = kind_.load(std::memory_order_relaxed);
  if (kind != kKind)
    return fail(Errc::corrupted, where(operation) + ": corrupted: its kind word " +
                                     std::to_string(kind) + " is not a conduit mutex's");
  return {};
}

bool Mutex::is_holder_alive(pid_t holder) const noexcept {
  // The start time is the holder's only once holder_tid_ names it: written just after the
  // word was taken, so a holder that died in between is checked by its id alone.
  const std::uint64_t start = holder_tid_.load(std::memory_order_relaxed) == holder
                                  ? holder_start_.load(std::memory_order_relaxed)
                                  : 0;
  return alive(ProcessId{holder, start});
}

Result<void> Mutex::acquired(ProcessId me, bool is_taken_over, const char* operation) noexcept {
  record(me);
  const std::uint32_t state = state_.load(std::memory_order_relaxed);  // ordered by the word
  if (state == not_recoverable) {
    give_back();
    return fail(Errc::closed, where(operation) +
                                  ": not recoverable (an owner died and it was unlocked "
                                  "without make_consistent())");
  }
  if (state != consistent && state != owner_died) {
    give_back();
    return fail(Errc::corrupted,
                where(operation) + ": corrupted: its state word is " + std::to_string(state));
  }
  if (is_taken_over || state == owner_died) {
    // A holder that died, or (state) one that was told so and died repairing.
    state_.store(owner_died, std::memory_order_relaxed);
    return fail(Errc::owner_died, where(operation) +
                                      ": its owner died holding it; held now: repair, then "
                                      "make_consistent()");
  }
  return {};
}

Result<void> Mutex::lock_until(ProcessId me, std::optional<sys::TimePoint> deadline,
                               const char* operation) noexcept {
  if (auto kind = check_kind(operation); !kind) return kind;
  const auto mine = static_cast<std::uint32_t>(me.pid);
  // Acquire on every successful exchange below: pairs with the release in unlock(), so this
  // holder sees everything the last one wrote under the lock.
  std::uint32_t word = 0;
  if (word_.compare_exchange_strong(word, mine, std::memory_order_acquire,
                                    std::memory_order_relaxed))
    return acquired(me, false, operation);
  // The process's spin setting caps it: CONDUIT_SPIN_ROUNDS=0 (or set_spin_rounds(0)) means
  // sleep at once, for the mailbox's lock as for every other wait.
  const int spins = static_cast<int>(std::min<std::uint32_t>(kSpins, sync::spin_rounds()));
  for (int spin = 0; spin < spins; ++spin) {
    sync::relax();
    word = word_.load(std::memory_order_relaxed);
    if (word == 0 && word_.compare_exchange_weak(word, mine, std::memory_order_acquire,
                                                 std::memory_order_relaxed))
      return acquired(me, false, operation);
  }
  // Sleep. Having slept, take the word marked kWaiters: others may be asleep behind us, and
  // only a word so marked makes unlock() wake one (the classic futex mutex).
  std::uint32_t slept_on = 0;  // the holder the current slices are about
  auto slice = kFirstSlice;
  for (;;) {
    word = word_.load(std::memory_order_relaxed);
    if (word == 0) {
      if (word_.compare_exchange_weak(word, mine | kWaiters, std::memory_order_acquire,
                                      std::memory_order_relaxed))
        return acquired(me, false, operation);
      continue;
    }
    const std::uint32_t holder = word & kHolderMask;
    if (holder != slept_on) {  // another holder: a new patience
      slept_on = holder;
      slice = kFirstSlice;
    }
    if ((word & kWaiters) == 0 &&
        !word_.compare_exchange_weak(word, word | kWaiters, std::memory_order_relaxed))
      continue;
    const sys::TimePoint check = sys::deadline_after(slice);
    const sys::TimePoint until = deadline ? std::min(*deadline, check) : check;
    auto slept = sys::futex_wait(word_, word | kWaiters, until);
    if (slept) continue;  // woken, or the word changed: look again
    if (deadline && sys::now() >= *deadline)
      return fail(Errc::timed_out, where(operation) + ": timed out");
    // A whole slice and the same holder: does it still run?
    if (word_.load(std::memory_order_relaxed) == (word | kWaiters) &&
        !is_holder_alive(static_cast<pid_t>(holder))) {
      std::uint32_t dead = word | kWaiters;
      if (word_.compare_exchange_strong(dead, mine | kWaiters, std::memory_order_acquire,
                                        std::memory_order_relaxed))
        return acquired(me, true, operation);
      continue;  // someone else took it over, or it moved: look again
    }
    slice = std::min(slice * 2, kLongestSlice);
  }
}

Result<void> Mutex::lock_for(std::chrono::nanoseconds timeout) noexcept {
  const ProcessId me = self_thread();
  if (take(me)) return {};
  return lock_until(me, sys::deadline_after(timeout), "lock_for");
}

bool Mutex::try_lock_slowly(ProcessId me) noexcept {
  if (!check_kind("try_lock")) return false;
  std::uint32_t word = 0;
  if (!word_.compare_exchange_strong(word, static_cast<std::uint32_t>(me.pid),
                                     std::memory_order_acquire, std::memory_order_relaxed))
    return false;
  auto taken = acquired(me, false, "try_lock");
  if (taken) return true;
  if (taken.error().code() != Errc::owner_died) return false;  // given back by acquired()
  make_consistent();
  return true;
}

void Mutex::wake_one() noexcept { (void)sys::futex_wake(word_, 1); }

void Mutex::make_consistent() noexcept {
  std::uint32_t died = owner_died;
  state_.compare_exchange_strong(died, consistent, std::memory_order_relaxed);
}

}  // namespace conduit
