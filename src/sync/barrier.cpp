#include "conduit/sync/barrier.hpp"

#include "conduit/sync/wait.hpp"
#include "conduit/sys/futex.hpp"

namespace conduit {

Result<bool> Barrier::arrive_and_wait() noexcept {
  // Read the phase before arriving: once we arrive, the last party may advance it at once.
  // Acquire: pairs with the last party's release below.
  const std::uint32_t phase = phase_.load(std::memory_order_acquire);
  // acq_rel: each arrival sees the earlier arrivals' writes, and the last party sees them all.
  if (arrived_.fetch_add(1, std::memory_order_acq_rel) + 1 == parties_) {
    // Reset before opening: nobody can arrive for the next phase before phase_ moves.
    arrived_.store(0, std::memory_order_relaxed);
    // seq_cst: releases the phase's writes to the waiters (who acquire phase_), and orders
    // against the sleepers_ load as in wait.hpp's protocol.
    phase_.fetch_add(1, std::memory_order_seq_cst);
    if (sleepers_.load(std::memory_order_seq_cst) != 0) sys::futex_wake(phase_);
    return true;
  }
  for (std::uint32_t round = 0, rounds = sync::spin_rounds(); round < rounds; ++round) {
    if (phase_.load(std::memory_order_acquire) != phase) return false;
    sync::relax();
  }
  sleepers_.fetch_add(1, std::memory_order_seq_cst);
  while (phase_.load(std::memory_order_seq_cst) == phase) {
    auto waited = sys::futex_wait(phase_, phase);
    if (!waited) {
      sleepers_.fetch_sub(1, std::memory_order_relaxed);
      return fail(waited.error(), "barrier: arrive_and_wait");
    }
  }
  sleepers_.fetch_sub(1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_acquire);  // pairs with the last party's release
  return false;
}

}  // namespace conduit
