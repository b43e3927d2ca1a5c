#include "conduit/sync/event.hpp"

#include "conduit/sync/wait.hpp"
#include "conduit/sys/futex.hpp"

namespace conduit {

void Event::set() noexcept {
  // seq_cst: publishes what the setter wrote (waiters acquire state_), and orders against the
  // sleepers_ load as in wait.hpp's protocol.
  state_.store(1, std::memory_order_seq_cst);
  if (sleepers_.load(std::memory_order_seq_cst) != 0) sys::futex_wake(state_);
}

Result<void> Event::wait_for(std::chrono::nanoseconds timeout) noexcept {
  return wait_until(sys::deadline_after(timeout));
}

Result<void> Event::wait_until(
    std::optional<std::chrono::steady_clock::time_point> deadline) noexcept {
  for (std::uint32_t round = 0, rounds = sync::spin_rounds(); round < rounds; ++round) {
    if (is_set()) return {};
    sync::relax();
  }
  sleepers_.fetch_add(1, std::memory_order_seq_cst);
  Result<void> outcome;
  while (state_.load(std::memory_order_seq_cst) == 0) {
    if (deadline && sys::now() >= *deadline) {
      outcome = fail(Errc::timed_out, "event: wait_for: timed out");
      break;
    }
    auto waited = sys::futex_wait(state_, 0, deadline);
    if (!waited && waited.error().code != ETIMEDOUT) {
      outcome = fail(waited.error(), "event: wait");
      break;
    }
  }
  sleepers_.fetch_sub(1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_acquire);  // pairs with set()'s store
  return outcome;
}

}  // namespace conduit
