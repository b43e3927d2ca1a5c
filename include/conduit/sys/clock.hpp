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

/// The absolute deadline `timeout` from now; negative timeouts mean "now", huge ones saturate.
[[nodiscard]] TimePoint deadline_after(std::chrono::nanoseconds timeout) noexcept;

/// An absolute CLOCK_MONOTONIC time as a timespec, for futex and clock_nanosleep.
[[nodiscard]] timespec to_timespec(TimePoint t) noexcept;

/// A relative duration as a timespec (negative becomes zero).
[[nodiscard]] timespec to_timespec(std::chrono::nanoseconds d) noexcept;

}  // namespace conduit::sys
