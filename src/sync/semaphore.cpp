#include "conduit/sync/semaphore.hpp"

#include <algorithm>

#include "conduit/sync/wait.hpp"
#include "conduit/sys/futex.hpp"

namespace conduit {

bool Semaphore::try_acquire() noexcept {
  std::uint32_t count = count_.load(std::memory_order_relaxed);
  while (count != 0) {
    // Acquire on success: pairs with the release in release(), so what the releaser wrote
    // before giving the unit back is visible to the taker.
    if (count_.compare_exchange_weak(count, count - 1, std::memory_order_acquire,
                                     std::memory_order_relaxed))
      return true;
  }
  return false;
}

Result<void> Semaphore::acquire() noexcept { return wait(std::nullopt); }

Result<void> Semaphore::acquire_for(std::chrono::nanoseconds timeout) noexcept {
  return wait(timeout);
}

Result<void> Semaphore::wait(std::optional<std::chrono::nanoseconds> timeout) noexcept {
  if (try_acquire()) return {};
  for (std::uint32_t round = 0, rounds = sync::spin_rounds(); round < rounds; ++round) {
    sync::relax();
    if (try_acquire()) return {};
  }
  std::optional<sys::TimePoint> deadline;
  if (timeout) deadline = sys::deadline_after(*timeout);
  // Flag, then look, then sleep only if the count is still 0: sequentially consistent with
  // release()'s add-then-check, so either we see its unit or it sees our flag (see wait.hpp).
  sleepers_.fetch_add(1, std::memory_order_seq_cst);
  Result<void> outcome = fail(Errc::timed_out, "semaphore: acquire_for: timed out");
  for (;;) {
    if (try_acquire()) {
      outcome = {};
      break;
    }
    if (deadline && sys::now() >= *deadline) break;
    if (count_.load(std::memory_order_seq_cst) != 0) continue;
    auto waited = sys::futex_wait(count_, 0, deadline);
    if (!waited && waited.error().code != ETIMEDOUT) {
      outcome = fail(waited.error(), "semaphore: acquire");
      break;
    }
  }
  sleepers_.fetch_sub(1, std::memory_order_relaxed);
  return outcome;
}

void Semaphore::release(std::uint32_t n) noexcept {
  if (n == 0) return;
  std::uint32_t count = count_.load(std::memory_order_relaxed);
  std::uint32_t next = 0;
  do {
    next = count > max_ - std::min(n, max_) ? max_ : count + n;  // clamped at max
    // seq_cst: the release half publishes the giver's writes; the total order with the
    // sleepers_ load below pairs with the waiter's flag-then-look (see wait()).
  } while (!count_.compare_exchange_weak(count, next, std::memory_order_seq_cst,
                                         std::memory_order_relaxed));
  if (sleepers_.load(std::memory_order_seq_cst) != 0) sys::futex_wake(count_, n);
}

}  // namespace conduit
