// SpinLock: test-and-test-and-set with `pause`, a bounded spin, then yielding the CPU. For
// very short critical sections between processes that stay on CPU. Not robust: a holder that
// dies leaves it locked for ever (use Mutex when that matters).
#pragma once

#include <atomic>
#include <cstdint>
#include <type_traits>

namespace conduit {

class SpinLock {
 public:
  SpinLock() noexcept = default;
  SpinLock(const SpinLock&) = delete;
  SpinLock& operator=(const SpinLock&) = delete;

  void lock() noexcept;
  [[nodiscard]] bool try_lock() noexcept {
    // Acquire on success: pairs with unlock()'s release.
    return locked_.load(std::memory_order_relaxed) == 0 &&
           locked_.exchange(1, std::memory_order_acquire) == 0;
  }
  void unlock() noexcept { locked_.store(0, std::memory_order_release); }  // pairs with the acquire

 private:
  std::atomic<std::uint32_t> locked_{0};
};

static_assert(std::is_standard_layout_v<SpinLock>);
static_assert(std::is_trivially_destructible_v<SpinLock>);

}  // namespace conduit
