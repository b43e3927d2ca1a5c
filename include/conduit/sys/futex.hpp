// Futex wait and wake on a 32-bit word in shared memory. The word may be mapped at different
// addresses in different processes, so these are the shared (not FUTEX_PRIVATE) operations.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>

#include "conduit/sys/clock.hpp"
#include "conduit/sys/syscall.hpp"

namespace conduit::sys {

static_assert(std::atomic<std::uint32_t>::is_always_lock_free);
static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));

/// Sleeps while `*word == expected`, until woken or `deadline` (absolute, CLOCK_MONOTONIC; none
/// = forever). Returns success when woken, when the word no longer held `expected`, or on a
/// signal (spurious wake-ups are allowed: callers re-check their condition); ETIMEDOUT when the
/// deadline passed.
[[nodiscard]] SysResult<void> futex_wait(const std::atomic<std::uint32_t>& word,
                                         std::uint32_t expected,
                                         std::optional<TimePoint> deadline = std::nullopt) noexcept;

/// Wakes up to `count` sleepers on `word`; returns how many were woken.
std::uint32_t futex_wake(const std::atomic<std::uint32_t>& word,
                         std::uint32_t count = UINT32_MAX) noexcept;

}  // namespace conduit::sys
