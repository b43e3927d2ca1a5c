#include "conduit/sys/clock.hpp"

#include <limits>

namespace conduit::sys {

TimePoint deadline_after(std::chrono::nanoseconds timeout) noexcept {
  const TimePoint start = now();
  if (timeout <= std::chrono::nanoseconds::zero()) return start;
  const auto room = TimePoint::max() - start;
  if (timeout >= room) return TimePoint::max();
  return start + std::chrono::duration_cast<Clock::duration>(timeout);
}

std::chrono::nanoseconds coarse_resolution() noexcept {
  static const std::chrono::nanoseconds resolution = [] {
    timespec t{};
    if (::clock_getres(CLOCK_MONOTONIC_COARSE, &t) != 0) return std::chrono::nanoseconds::max();
    return std::chrono::seconds(t.tv_sec) + std::chrono::nanoseconds(t.tv_nsec);
  }();
  return resolution;
}
namespace {
// Read before main: a child forked while another thread ran the initialiser above would wait
// for ever on its guard at its own first call.
[[maybe_unused]] const bool is_resolution_read = coarse_resolution().count() != 0;
}  // namespace

timespec to_timespec(std::chrono::nanoseconds d) noexcept {
  if (d < std::chrono::nanoseconds::zero()) d = std::chrono::nanoseconds::zero();
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(d);
  return timespec{static_cast<time_t>(secs.count()), static_cast<long>((d - secs).count())};
}

timespec to_timespec(TimePoint t) noexcept {
  // steady_clock's epoch is CLOCK_MONOTONIC's on Linux (libstdc++ reads that clock).
  return to_timespec(std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()));
}

}  // namespace conduit::sys
