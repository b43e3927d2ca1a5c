// Event: a manual-reset event. set() lets every waiter (and every later wait) through until
// reset(). Futex-based; waking costs a system call only when someone sleeps.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <type_traits>

#include "conduit/core/error.hpp"

namespace conduit {

class Event {
 public:
  explicit Event(bool is_set = false) noexcept : state_(is_set ? 1 : 0) {}
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  void set() noexcept;
  void reset() noexcept { state_.store(0, std::memory_order_relaxed); }
  [[nodiscard]] bool is_set() const noexcept { return state_.load(std::memory_order_acquire) != 0; }
  /// Waits until the event is set.
  [[nodiscard]] Result<void> wait() noexcept { return wait_until(std::nullopt); }
  /// As wait, timed_out after `timeout` (CLOCK_MONOTONIC).
  [[nodiscard]] Result<void> wait_for(std::chrono::nanoseconds timeout) noexcept;

 private:
  Result<void> wait_until(std::optional<std::chrono::steady_clock::time_point> deadline) noexcept;

  std::atomic<std::uint32_t> state_;
  std::atomic<std::uint32_t> sleepers_{0};
};

static_assert(std::is_standard_layout_v<Event>);
static_assert(std::is_trivially_destructible_v<Event>);

}  // namespace conduit
