// Semaphore: a counting semaphore in shared memory; Semaphore(1, 1) is a binary one.
//
// Futex-based: acquire and release make no system call while nobody has to wait, and release
// calls FUTEX_WAKE only when a waiter has flagged itself. release() beyond `max` is clamped
// (the count stays at max): a binary semaphore released twice is still 1. A process that dies
// while waiting leaves at most a stale waiter flag, which costs later releases one harmless
// wake-up call; a process that dies holding a unit does not give it back (use Mutex when the
// holder's death must be noticed).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <type_traits>

#include "conduit/core/error.hpp"

namespace conduit {

class Semaphore {
 public:
  explicit Semaphore(std::uint32_t initial, std::uint32_t max = UINT32_MAX) noexcept
      : count_(initial < max ? initial : max), max_(max) {}
  Semaphore(const Semaphore&) = delete;
  Semaphore& operator=(const Semaphore&) = delete;

  /// Takes one unit, waiting while there is none.
  [[nodiscard]] Result<void> acquire() noexcept;
  /// As acquire, timed_out after `timeout` (CLOCK_MONOTONIC).
  [[nodiscard]] Result<void> acquire_for(std::chrono::nanoseconds timeout) noexcept;
  /// Takes one unit if there is one.
  [[nodiscard]] bool try_acquire() noexcept;
  /// Gives back `n` units (clamped at max) and wakes waiters if any sleep.
  void release(std::uint32_t n = 1) noexcept;
  /// The units available now (a snapshot).
  [[nodiscard]] std::uint32_t value() const noexcept {
    return count_.load(std::memory_order_relaxed);
  }

 private:
  Result<void> wait(std::optional<std::chrono::nanoseconds> timeout) noexcept;

  std::atomic<std::uint32_t> count_;
  std::atomic<std::uint32_t> sleepers_{0};
  std::uint32_t max_;
};

static_assert(std::is_standard_layout_v<Semaphore>);
static_assert(std::is_trivially_destructible_v<Semaphore>);

}  // namespace conduit
