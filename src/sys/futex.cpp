#include "conduit/sys/futex.hpp"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>

namespace conduit::sys {
namespace {

std::uint32_t* address(const std::atomic<std::uint32_t>& word) noexcept {
  // The kernel compares the word's bytes; std::atomic<uint32_t> is a plain 32-bit word
  // (asserted in the header).
  return reinterpret_cast<std::uint32_t*>(const_cast<std::atomic<std::uint32_t>*>(&word));
}

}  // namespace

SysResult<void> futex_wait(const std::atomic<std::uint32_t>& word, std::uint32_t expected,
                           std::optional<TimePoint> deadline) noexcept {
  timespec abs{};
  if (deadline) abs = to_timespec(*deadline);
  // FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline (plain FUTEX_WAIT takes a
  // relative one, which would need recomputing after every spurious wake-up).
  const auto result = call_once("futex_wait", [&] {
    return ::syscall(SYS_futex, address(word), FUTEX_WAIT_BITSET, expected,
                     deadline ? &abs : nullptr, nullptr, FUTEX_BITSET_MATCH_ANY);
  });
  if (result) return {};
  switch (result.error().code) {
    case EAGAIN:  // the word had changed already
    case EINTR:   // a signal: the caller re-checks its condition
      return {};
    default: return std::unexpected(result.error());
  }
}

std::uint32_t futex_wake(const std::atomic<std::uint32_t>& word, std::uint32_t count) noexcept {
  const int n = count > static_cast<std::uint32_t>(INT_MAX) ? INT_MAX : static_cast<int>(count);
  const auto woken = call("futex_wake", [&] {
    return ::syscall(SYS_futex, address(word), FUTEX_WAKE, n, nullptr, nullptr, 0);
  });
  return woken ? static_cast<std::uint32_t>(*woken) : 0;
}

}  // namespace conduit::sys
