#include "conduit/sys/io.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

namespace conduit::sys {

SysResult<bool> wait_ready(int fd, short events, std::optional<TimePoint> deadline) {
  for (;;) {
    pollfd entry{.fd = fd, .events = events, .revents = 0};
    timespec timeout{};
    const timespec* limit = nullptr;
    if (deadline) {
      const auto left = *deadline - now();
      if (left <= Clock::duration::zero()) {
        timeout = {};
      } else {
        timeout = to_timespec(std::chrono::duration_cast<std::chrono::nanoseconds>(left));
      }
      limit = &timeout;
    }
    // call_once: after EINTR the remaining time is computed afresh.
    auto ready = call_once("ppoll", [&] { return ::ppoll(&entry, 1, limit, nullptr); });
    if (!ready) {
      if (ready.error().code == EINTR) continue;
      return std::unexpected(ready.error());
    }
    if (*ready > 0) return true;
    if (deadline && now() >= *deadline) return false;
  }
}

SysResult<void> set_nonblocking(int fd, bool is_nonblocking) {
  auto flags = call("fcntl(F_GETFL)", [&] { return ::fcntl(fd, F_GETFL); });
  if (!flags) return std::unexpected(flags.error());
  const long wanted = is_nonblocking ? (*flags | O_NONBLOCK) : (*flags & ~long{O_NONBLOCK});
  if (wanted == *flags) return {};
  auto set = call("fcntl(F_SETFL)", [&] { return ::fcntl(fd, F_SETFL, static_cast<int>(wanted)); });
  if (!set) return std::unexpected(set.error());
  return {};
}

SysResult<std::pair<Fd, Fd>> make_pipe() {
  int ends[2] = {-1, -1};
  auto made = call("pipe2", [&] { return ::pipe2(ends, O_CLOEXEC); });
  if (!made) return std::unexpected(made.error());
  return std::pair{Fd(ends[0]), Fd(ends[1])};
}

SysResult<std::size_t> read_some(int fd, std::span<std::byte> buffer) {
  auto n = call("read", [&] { return ::read(fd, buffer.data(), buffer.size()); });
  if (!n) return std::unexpected(n.error());
  return static_cast<std::size_t>(*n);
}

SysResult<void> set_receive_timeout(int socket, std::chrono::microseconds timeout) {
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(timeout);
  const timeval value{static_cast<time_t>(seconds.count()),
                      static_cast<suseconds_t>((timeout - seconds).count())};
  auto set = call("setsockopt(SO_RCVTIMEO)", [&] {
    return ::setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &value, sizeof value);
  });
  if (!set) return std::unexpected(set.error());
  return {};
}

SysResult<std::size_t> receive_some(int socket, std::span<std::byte> buffer, bool is_waiting) {
  auto n = call("recv", [&] {
    return ::recv(socket, buffer.data(), buffer.size(), is_waiting ? 0 : MSG_DONTWAIT);
  });
  if (!n) return std::unexpected(n.error());
  return static_cast<std::size_t>(*n);
}

SysResult<std::size_t> write_some(int fd, std::span<const iovec> parts, bool is_socket) {
  if (is_socket) {
    msghdr message{};
    message.msg_iov = const_cast<iovec*>(parts.data());
    message.msg_iovlen = parts.size();
    auto n = call("sendmsg", [&] { return ::sendmsg(fd, &message, MSG_NOSIGNAL); });
    if (!n) return std::unexpected(n.error());
    return static_cast<std::size_t>(*n);
  }
  // A pipe has no MSG_NOSIGNAL: hold SIGPIPE back in this thread for the write, and if the
  // write raised one that was not already pending, take it off the queue before unblocking.
  // A SIGPIPE can be pending already only if this thread was blocking it before (one that
  // could be delivered here would have been), so only then is sigpending asked.
  // TODO(perf): still two extra system calls per pipe write (block, restore).
  sigset_t pipe_signal;
  sigemptyset(&pipe_signal);
  sigaddset(&pipe_signal, SIGPIPE);
  sigset_t previous;
  ::pthread_sigmask(SIG_BLOCK, &pipe_signal, &previous);
  const bool was_blocked = sigismember(&previous, SIGPIPE) == 1;
  bool was_pending = false;
  if (was_blocked) {
    sigset_t pending;
    sigemptyset(&pending);
    (void)call("sigpending", [&] { return ::sigpending(&pending); });
    was_pending = sigismember(&pending, SIGPIPE) == 1;
  }
  auto n =
      call("writev", [&] { return ::writev(fd, parts.data(), static_cast<int>(parts.size())); });
  if (!n && n.error().code == EPIPE && !was_pending) {
    const timespec zero{};
    (void)call("sigtimedwait", [&] { return ::sigtimedwait(&pipe_signal, nullptr, &zero); });
  }
  if (!was_blocked) ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  if (!n) return std::unexpected(n.error());
  return static_cast<std::size_t>(*n);
}

void consume(std::span<iovec>& parts, std::size_t written) noexcept {
  while (!parts.empty() && written >= parts.front().iov_len) {
    written -= parts.front().iov_len;
    parts = parts.subspan(1);
  }
  if (!parts.empty()) {
    parts.front().iov_base = static_cast<char*>(parts.front().iov_base) + written;
    parts.front().iov_len -= written;
  }
}

SysResult<Fd> signal_fd(int signal) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, signal);
  // pthread_sigmask returns its error instead of setting errno.
  if (const int error = ::pthread_sigmask(SIG_BLOCK, &set, nullptr); error != 0) {
    return std::unexpected(SysError{error, "pthread_sigmask"});
  }
  auto fd = call("signalfd", [&] { return ::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK); });
  if (!fd) return std::unexpected(fd.error());
  return Fd(static_cast<int>(*fd));
}

}  // namespace conduit::sys
