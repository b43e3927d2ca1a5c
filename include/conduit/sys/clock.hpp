// Monotonic time: every timeout in conduit is measured on CLOCK_MONOTONIC (steady_clock on
// Linux), so a wall-clock jump never shortens or stretches a wait.
#pragma once

#include <chrono>
#include <ctime>

namespace conduit::sys {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;

static_assert(Clock::is_steady);

/// Now, on CLOCK_MONOTONIC.
[[nodiscard]] inline TimePoint now() noexcept { return Clock::now(); }

/// Now, on CLOCK_MONOTONIC_COARSE: the same clock read at the last tick, a few nanoseconds
/// instead of a couple of dozen. Behind now() by up to coarse_resolution(): for checks made
/// on hot paths whose period need not be exact.
[[nodiscard]] inline TimePoint coarse_now() noexcept {
  timespec t{};
  (void)::clock_gettime(CLOCK_MONOTONIC_COARSE, &t);  // cannot fail for a valid clock id
  return TimePoint(std::chrono::duration_cast<Clock::duration>(
      std::chrono::seconds(t.tv_sec) + std::chrono::nanoseconds(t.tv_nsec)));
}

/// How far coarse_now() may lag behind now() (the kernel's tick), read once.
[[nodiscard]] std::chrono::nanoseconds coarse_resolution() noexcept;

/// The absolute deadline `timeout` from now; negative timeouts mean "now", huge ones saturate.
[[nodiscard]] TimePoint deadline_after(std::chrono::nanoseconds timeout) noexcept;

/// An absolute CLOCK_MONOTONIC time as a timespec, for futex and clock_nanosleep.
[[nodiscard]] timespec to_timespec(TimePoint t) noexcept;

/// A relative duration as a timespec (negative becomes zero).
[[nodiscard]] timespec to_timespec(std::chrono::nanoseconds d) noexcept;

}  // namespace conduit::sys
