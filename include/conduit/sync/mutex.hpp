// Mutex: a robust, process-shared mutual-exclusion lock, usable anywhere shared memory maps it
// (inside Shared<T>, a segment, a mailbox). It is glibc's robust process-shared
// pthread_mutex_t (PTHREAD_MUTEX_ROBUST + PTHREAD_PROCESS_SHARED): the kernel's robust-futex
// list releases it when its holder dies, and the next locker is told.
//
// When the holder died, lock() returns owner_died *while holding the lock*: the data it
// guards may be half-updated. Repair it, call make_consistent(), then unlock(). Unlocking
// without make_consistent() leaves the mutex unrecoverable: every later lock() returns closed
// (never a hang).
//
// A peer that writes into the mutex's memory cannot make a waiter wait forever for nobody:
// a mutex whose type word is not a robust process-shared one is `corrupted` at once, and one
// whose lock word names a holder thread that does not exist is `corrupted` after one check
// interval (100 ms) of waiting. (A live peer that holds the lock can still hold it for as long
// as it likes.) Holders are recognised by thread id, so every process that uses one mutex must
// be in the same PID namespace.
//
// Not movable or copyable: it lives where it was constructed. The destructor is trivial
// (pthread_mutex_destroy is a no-op on Linux), so a Mutex may sit in memory that outlives
// every process.
#pragma once

#include <pthread.h>

#include <chrono>
#include <optional>
#include <type_traits>

#include "conduit/core/error.hpp"
#include "conduit/sys/clock.hpp"

namespace conduit {

class Mutex {
 public:
  Mutex() noexcept;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  /// Blocks until this thread holds the lock. Errors: owner_died (held now: repair, then
  /// make_consistent), closed (unrecoverable: an earlier owner_died was not made consistent),
  /// corrupted (the mutex's memory holds no valid mutex, or names a holder that does not exist).
  [[nodiscard]] Result<void> lock() noexcept;
  /// As lock, giving up with timed_out after `timeout` (measured on CLOCK_MONOTONIC).
  [[nodiscard]] Result<void> lock_for(std::chrono::nanoseconds timeout) noexcept;
  /// Takes the lock if free. A lock whose owner died counts as free: it is made consistent and
  /// taken (use lock() to be told of the death). False for a corrupted mutex.
  [[nodiscard]] bool try_lock() noexcept;
  void unlock() noexcept;
  /// After owner_died: the guarded data is repaired; the mutex is usable again.
  void make_consistent() noexcept;

 private:
  Result<void> interpret(int result, const char* operation) noexcept;
  Result<void> lock_until(std::optional<sys::TimePoint> deadline, const char* operation) noexcept;
  /// The type word a Mutex is made with (robust, process-shared), as glibc encodes it.
  static int made_kind() noexcept;
  Result<void> check_kind(const char* operation) const noexcept;
  Result<void> check_holder(const char* operation) const noexcept;
  pthread_mutex_t mutex_;
};

static_assert(std::is_standard_layout_v<Mutex>);
static_assert(std::is_trivially_destructible_v<Mutex>);

}  // namespace conduit
