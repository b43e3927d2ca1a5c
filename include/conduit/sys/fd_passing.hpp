// Moving file descriptors between processes: SCM_RIGHTS over a Unix socket, and pidfd_getfd
// (a dup of a descriptor that another process holds; needs ptrace access to it: the same user,
// and no LSM forbidding it).
#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "conduit/sys/fd.hpp"
#include "conduit/sys/syscall.hpp"

namespace conduit::sys {

/// socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC): record boundaries are kept, and a
/// descriptor in flight stays alive in the receiving end's queue for as long as any process
/// holds that end, whatever happens to the process that sent it.
[[nodiscard]] SysResult<std::pair<Fd, Fd>> packet_pair();

/// Sends one record of `data` carrying a copy of descriptor `fd`, without blocking (EAGAIN
/// when the socket's buffer is full) and without SIGPIPE.
[[nodiscard]] SysResult<void> send_descriptor(int socket, int fd, std::span<const std::byte> data);

/// A record and the descriptor it carried.
struct ReceivedDescriptor {
  Fd fd;              // not open when the record carried none
  std::size_t size;   // bytes of the record copied into the buffer
  bool is_truncated;  // the record was longer than the buffer
};
/// Receives one record without blocking; nullopt when there is none. The descriptor arrives
/// close-on-exec.
[[nodiscard]] SysResult<std::optional<ReceivedDescriptor>> receive_descriptor(
    int socket, std::span<std::byte> buffer);

/// On a stream socket: one sendmsg of `parts` carrying a copy of descriptor `fd` (it arrives
/// with the first byte), without SIGPIPE. Returns the bytes sent (maybe fewer than all: the rest
/// goes by ordinary writes); EAGAIN when nothing could be sent.
[[nodiscard]] SysResult<std::size_t> send_with_descriptor(int socket, std::span<const iovec> parts,
                                                          int fd);
/// On a stream socket: one recvmsg into `buffer`, appending the descriptors that came with the
/// bytes to `descriptors` (close-on-exec). 0 at end of stream. Waits for bytes when
/// `is_waiting` (and the socket is blocking), else MSG_DONTWAIT: EAGAIN when nothing is there.
[[nodiscard]] SysResult<std::size_t> read_with_descriptors(int socket, std::span<std::byte> buffer,
                                                           std::vector<Fd>& descriptors,
                                                           bool is_waiting = false);
/// Whether `fd` is a Unix-domain socket (which alone carries descriptors).
[[nodiscard]] bool is_unix_socket(int fd) noexcept;

/// pidfd_open(2): a descriptor that names process `pid` for as long as it is held, so that a
/// check of its start time made after opening cannot be fooled by pid reuse.
[[nodiscard]] SysResult<Fd> pidfd_open(pid_t pid);
/// pidfd_getfd(2): a close-on-exec duplicate of descriptor `fd` of the process `pidfd` names.
[[nodiscard]] SysResult<Fd> pidfd_get_fd(int pidfd, int fd);

/// The seals of a memfd (F_GET_SEALS).
[[nodiscard]] SysResult<int> seals_of(int fd);
/// Asks for a send buffer of `bytes` (SO_SNDBUF; the kernel caps it at net.core.wmem_max).
[[nodiscard]] SysResult<void> set_send_buffer(int socket, int bytes);

/// The inode number of the file behind `fd`: what identifies an unnamed file (a memfd, a
/// socket) between processes.
[[nodiscard]] SysResult<std::uint64_t> inode_of(int fd);

}  // namespace conduit::sys
