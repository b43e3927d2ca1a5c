// Mutex: a robust, process-shared mutual-exclusion lock, usable anywhere shared memory maps it
// (inside Shared<T>, a segment, a mailbox). A holder that dies (its thread exits or its process
// is killed) does not leave it locked for ever: the next locker is told.
//
// When the holder died, lock() returns owner_died *while holding the lock*: the data it
// guards may be half-updated. Repair it, call make_consistent(), then unlock(). Unlocking
// without make_consistent() leaves the mutex unrecoverable: every later lock() returns closed
// (never a hang).
//
// Why not glibc's robust pthread_mutex_t (what this was until layout 2): glibc keeps the
// robust-list links of the holding thread — pointers — inside the mutex, and lock and unlock
// write through them. In memory another process can write, a hostile or broken peer could
// make us write through pointers of its choosing. This mutex keeps only numbers in shared
// memory: a futex word holding the holder's thread id, and the holder's start time.
//
// How a dead holder is noticed: there is no kernel robust list to release the lock, so a
// waiter looks for itself. It sleeps on the futex word in slices (1 ms, doubling to 100 ms);
// after each slice in which the same holder kept the lock it asks /proc whether that thread
// still runs (thread id and start time: a reused id is not mistaken for the holder), and if
// not, takes the lock over with owner_died. A live holder pays nothing for this; a dead one
// costs its waiters about a millisecond. The same check makes a lock word that a peer
// overwrote with a made-up thread id harmless: that "holder" is dead too.
//
// A peer that writes into the mutex's memory cannot make a waiter wait forever for nobody,
// nor make this process touch memory outside the mutex: a mutex whose kind word is not this
// mutex's is `corrupted` at once, as is a state word with no meaning. (A live peer that holds
// the lock can still hold it for as long as it likes.) Holders are recognised by thread id, so
// every process that uses one mutex must be in the same PID namespace.
//
// The bytes (40, for layouts that embed a Mutex): the futex word (holder thread id, bit 31 set
// when someone may sleep), the kind word, the state word (consistent, owner died, not
// recoverable), the holder's thread id again and its start time (written just after the
// futex word, so a waiter can tell the holder from a thread that reused its id), and
// reserved bytes.
//
// Not movable or copyable: it lives where it was constructed. The destructor is trivial, so a
// Mutex may sit in memory that outlives every process.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <type_traits>

#include "conduit/core/error.hpp"
#include "conduit/core/process.hpp"
#include "conduit/sys/clock.hpp"

namespace conduit {

class Mutex {
 public:
  Mutex() noexcept;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  /// Blocks until this thread holds the lock. Errors: owner_died (held now: repair, then
  /// make_consistent), closed (unrecoverable: an earlier owner_died was not made consistent),
  /// corrupted (the mutex's memory holds no valid mutex).
  [[nodiscard]] Result<void> lock() noexcept {
    const ProcessId me = self_thread();
    if (take(me)) [[likely]]
      return {};
    return lock_until(me, std::nullopt, "lock");
  }
  /// As lock, giving up with timed_out after `timeout` (measured on CLOCK_MONOTONIC).
  [[nodiscard]] Result<void> lock_for(std::chrono::nanoseconds timeout) noexcept;
  /// Takes the lock if it is free now; never sleeps, never reads /proc. A lock whose holder
  /// died is not free to try_lock until a lock() or lock_for() noticed the death (they take it
  /// over); a lock left inconsistent by such a take-over is made consistent and taken. False
  /// for a corrupted or unrecoverable mutex.
  [[nodiscard]] bool try_lock() noexcept {
    const ProcessId me = self_thread();
    if (take(me)) [[likely]]
      return true;
    return try_lock_slowly(me);
  }
  void unlock() noexcept {
    // An owner_died the holder did not repair: nobody may trust the data again.
    if (state_.load(std::memory_order_relaxed) == owner_died) [[unlikely]]
      state_.store(not_recoverable, std::memory_order_relaxed);
    give_back();
  }
  /// After owner_died: the guarded data is repaired; the mutex is usable again.
  void make_consistent() noexcept;

 private:
  /// What the state word may say.
  enum State : std::uint32_t { consistent = 0, owner_died = 1, not_recoverable = 2 };
  static constexpr std::uint32_t kKind = 0x58'54'55'4d;  // "MUTX"
  static constexpr std::uint32_t kWaiters = 0x8000'0000;

  /// The common case, inline: a valid, consistent mutex that nobody holds is taken and the
  /// holder recorded. False for anything else (the slow paths sort it out; the word is not
  /// taken then).
  bool take(ProcessId me) noexcept {
    std::uint32_t free = 0;
    // The exchange first, the kind after: read first, the line would come shared from the
    // core that last held the lock and then travel again to be written.
    // Acquire: pairs with the release in unlock(), so this holder sees everything the last
    // one wrote under the lock.
    if (!word_.compare_exchange_strong(free, static_cast<std::uint32_t>(me.pid),
                                       std::memory_order_acquire, std::memory_order_relaxed))
      return false;
    // Relaxed: a peer may write the kind word at any time; we only refuse what is plainly not
    // a mutex (and give back the word of what is not one: the slow path says corrupted).
    if (kind_.load(std::memory_order_relaxed) != kKind) [[unlikely]] {
      word_.store(0, std::memory_order_relaxed);
      return false;
    }
    record(me);
    if (state_.load(std::memory_order_relaxed) == consistent) [[likely]]  // ordered by the word
      return true;
    give_back();  // taken, but not the common case: the slow path looks at the state
    return false;
  }
  void give_back() noexcept {
    // Release: pairs with the acquire of the next holder's exchange; a state store before it
    // is ordered before it too.
    const std::uint32_t word = word_.exchange(0, std::memory_order_release);
    if ((word & kWaiters) != 0) [[unlikely]]
      wake_one();
  }
  /// Records this thread as the holder. Relaxed: only waiters deciding whether the holder
  /// lives read these, and they read the word first; a stale pair only makes them check by id
  /// alone.
  void record(ProcessId me) noexcept {
    holder_start_.store(me.start_time, std::memory_order_relaxed);
    holder_tid_.store(me.pid, std::memory_order_relaxed);
  }
  Result<void> lock_until(ProcessId me, std::optional<sys::TimePoint> deadline,
                          const char* operation) noexcept;
  bool try_lock_slowly(ProcessId me) noexcept;
  void wake_one() noexcept;
  /// Just took the word: records the holder and answers from the state word.
  Result<void> acquired(ProcessId me, bool is_taken_over, const char* operation) noexcept;
  Result<void> check_kind(const char* operation) const noexcept;
  /// Whether the thread the futex word names as holder (`holder`, its thread id) still runs.
  bool is_holder_alive(pid_t holder) const noexcept;

  std::atomic<std::uint32_t> word_{0};  // holder's thread id | kWaiters; 0: free
  std::atomic<std::uint32_t> kind_;     // kKind
  std::atomic<std::uint32_t> state_{consistent};
  std::atomic<std::int32_t> holder_tid_{0};     // == word_'s id once the holder recorded itself
  std::atomic<std::uint64_t> holder_start_{0};  // that thread's start time
  std::uint64_t reserved_[2]{};
};

static_assert(std::is_standard_layout_v<Mutex>);
static_assert(std::is_trivially_destructible_v<Mutex>);
static_assert(sizeof(Mutex) == 40);

}  // namespace conduit
