#include "conduit/sys/epoll.hpp"

#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdint>

namespace conduit::sys {

SysResult<Epoll> Epoll::make() {
  auto fd = call("epoll_create1", [] { return ::epoll_create1(EPOLL_CLOEXEC); });
  if (!fd) return std::unexpected(fd.error());
  return Epoll(Fd(static_cast<int>(*fd)));
}

SysResult<void> Epoll::add(int fd, std::uint32_t events, std::uint64_t key) {
  epoll_event event{};
  event.events = events;
  event.data.u64 = key;
  auto added =
      call("epoll_ctl(ADD)", [&] { return ::epoll_ctl(fd_.get(), EPOLL_CTL_ADD, fd, &event); });
  if (!added) return std::unexpected(added.error());
  return {};
}

SysResult<void> Epoll::remove(int fd) {
  auto removed =
      call("epoll_ctl(DEL)", [&] { return ::epoll_ctl(fd_.get(), EPOLL_CTL_DEL, fd, nullptr); });
  if (!removed) return std::unexpected(removed.error());
  return {};
}

SysResult<std::size_t> Epoll::wait(std::span<epoll_event> ready,
                                   std::optional<TimePoint> deadline) {
  for (;;) {
    int timeout_ms = -1;
    if (deadline) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline - now());
      timeout_ms = static_cast<int>(std::clamp<std::int64_t>(left.count(), 0, INT32_MAX));
    }
    // call_once: after EINTR the time left is computed afresh.
    auto n = call_once("epoll_wait", [&] {
      return ::epoll_wait(fd_.get(), ready.data(), static_cast<int>(ready.size()), timeout_ms);
    });
    if (n) return static_cast<std::size_t>(*n);
    if (n.error().code != EINTR) return std::unexpected(n.error());
  }
}

SysResult<Fd> make_timer() {
  auto fd = call("timerfd_create",
                 [] { return ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC); });
  if (!fd) return std::unexpected(fd.error());
  return Fd(static_cast<int>(*fd));
}

SysResult<void> arm_timer(int timer, TimePoint when) {
  itimerspec spec{};
  spec.it_value = to_timespec(when);
  // A zero it_value would disarm the timer: a time already past still expires at once.
  if (spec.it_value.tv_sec == 0 && spec.it_value.tv_nsec == 0) spec.it_value.tv_nsec = 1;
  auto armed = call("timerfd_settime",
                    [&] { return ::timerfd_settime(timer, TFD_TIMER_ABSTIME, &spec, nullptr); });
  if (!armed) return std::unexpected(armed.error());
  return {};
}

bool clear_timer(int timer) noexcept {
  std::uint64_t expirations = 0;
  auto got = call("read(timerfd)", [&] { return ::read(timer, &expirations, sizeof expirations); });
  return got.has_value() && expirations > 0;
}

SysResult<Fd> make_event() {
  auto fd = call("eventfd", [] { return ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); });
  if (!fd) return std::unexpected(fd.error());
  return Fd(static_cast<int>(*fd));
}

void post_event(int event) noexcept {
  const std::uint64_t one = 1;
  (void)call("write(eventfd)", [&] { return ::write(event, &one, sizeof one); });
}

}  // namespace conduit::sys
