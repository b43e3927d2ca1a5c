#include "conduit/sync/spin_lock.hpp"

#include <sched.h>

#include "conduit/sync/wait.hpp"

namespace conduit {

void SpinLock::lock() noexcept {
  for (;;) {
    if (try_lock()) return;
    // Test before test-and-set: spin on a shared read, not on writes that bounce the line.
    for (std::uint32_t round = 0, rounds = sync::spin_rounds(); round < rounds; ++round) {
      if (locked_.load(std::memory_order_relaxed) == 0) break;
      sync::relax();
    }
    if (locked_.load(std::memory_order_relaxed) != 0) ::sched_yield();  // holder may be off-CPU
  }
}

}  // namespace conduit
