// Descriptor I/O for byte streams and queues: waiting for readiness with a deadline,
// non-blocking mode, pipes, and writes that report a vanished reader as EPIPE instead of
// raising SIGPIPE.
#pragma once

#include <sys/uio.h>

#include <chrono>
#include <cstddef>
#include <optional>
#include <span>
#include <utility>

#include "conduit/sys/clock.hpp"
#include "conduit/sys/fd.hpp"
#include "conduit/sys/syscall.hpp"

namespace conduit::sys {

/// Waits until `fd` is ready for `events` (POLLIN, POLLOUT) or `deadline` passes (none: no
/// limit). True when ready (also on POLLHUP/POLLERR: the next read or write says why), false on
/// timeout.
[[nodiscard]] SysResult<bool> wait_ready(int fd, short events, std::optional<TimePoint> deadline);

/// Sets or clears O_NONBLOCK on the open file description.
[[nodiscard]] SysResult<void> set_nonblocking(int fd, bool is_nonblocking = true);

/// pipe2(O_CLOEXEC): {read end, write end}.
[[nodiscard]] SysResult<std::pair<Fd, Fd>> make_pipe();

/// Sets SO_RCVTIMEO: a blocking receive on `socket` then fails with EAGAIN after `timeout`
/// (zero: waits without limit).
[[nodiscard]] SysResult<void> set_receive_timeout(int socket, std::chrono::microseconds timeout);

/// One read(2): the byte count, 0 at end of file; EAGAIN when a non-blocking fd has nothing.
[[nodiscard]] SysResult<std::size_t> read_some(int fd, std::span<std::byte> buffer);

/// One recv(2) on a socket: waits for bytes when `is_waiting` (and the socket is blocking),
/// else MSG_DONTWAIT: EAGAIN when nothing is there. 0 at end of stream.
[[nodiscard]] SysResult<std::size_t> receive_some(int socket, std::span<std::byte> buffer,
                                                  bool is_waiting);

/// One writev(2) (sendmsg with MSG_NOSIGNAL when `is_socket`), with SIGPIPE held back: a reader
/// that went away is EPIPE, never a signal that ends the process.
[[nodiscard]] SysResult<std::size_t> write_some(int fd, std::span<const iovec> parts,
                                                bool is_socket);

/// Drops the first `written` bytes from `parts` after a partial write: whole parts leave the
/// span, a part written halfway starts where the write stopped.
void consume(std::span<iovec>& parts, std::size_t written) noexcept;

/// Blocks `signal` in the calling thread and returns a non-blocking signalfd that reads it.
[[nodiscard]] SysResult<Fd> signal_fd(int signal);

}  // namespace conduit::sys
