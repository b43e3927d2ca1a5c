// Waiting on several descriptors at once (epoll), and the two descriptors a waiting thread is
// usually woken by: a timer (timerfd on CLOCK_MONOTONIC) and an event counter (eventfd).
// Thin RAII, no policy: each call is one system call through sys::call.
#pragma once

#include <sys/epoll.h>

#include <cstdint>
#include <optional>
#include <span>

#include "conduit/sys/clock.hpp"
#include "conduit/sys/fd.hpp"
#include "conduit/sys/syscall.hpp"

namespace conduit::sys {

/// An epoll instance (close-on-exec). Each watched descriptor carries a 64-bit key.
class Epoll {
 public:
  [[nodiscard]] static SysResult<Epoll> make();

  /// Watches `fd` for `events` (EPOLLIN, ...); wait() reports it with `key`.
  [[nodiscard]] SysResult<void> add(int fd, std::uint32_t events, std::uint64_t key);
  /// Stops watching `fd`.
  [[nodiscard]] SysResult<void> remove(int fd);
  /// Waits until some descriptor is ready or `deadline` passes (none: no limit); fills `ready`
  /// from the front and returns how many (0 on timeout).
  [[nodiscard]] SysResult<std::size_t> wait(std::span<epoll_event> ready,
                                            std::optional<TimePoint> deadline);
  [[nodiscard]] int fd() const noexcept { return fd_.get(); }

 private:
  explicit Epoll(Fd fd) : fd_(std::move(fd)) {}
  Fd fd_;
};

/// A non-blocking, close-on-exec timerfd on CLOCK_MONOTONIC: readable once its time came.
[[nodiscard]] SysResult<Fd> make_timer();
/// Arms `timer` to expire once at `when` (replacing what it was armed for).
[[nodiscard]] SysResult<void> arm_timer(int timer, TimePoint when);
/// Reads (and so clears) the expirations of `timer`: whether it had expired.
[[nodiscard]] bool clear_timer(int timer) noexcept;

/// A non-blocking, close-on-exec eventfd.
[[nodiscard]] SysResult<Fd> make_event();
/// Adds one to `event`, which makes it readable.
void post_event(int event) noexcept;

}  // namespace conduit::sys
