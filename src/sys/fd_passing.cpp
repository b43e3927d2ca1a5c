#include "conduit/sys/fd_passing.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

namespace conduit::sys {

SysResult<std::pair<Fd, Fd>> packet_pair() {
  int ends[2] = {-1, -1};
  auto made = call("socketpair",
                   [&] { return ::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ends); });
  if (!made) return std::unexpected(made.error());
  return std::pair<Fd, Fd>(Fd(ends[0]), Fd(ends[1]));
}

namespace {

// One sendmsg of `parts` with a copy of `fd` attached (SCM_RIGHTS).
SysResult<std::size_t> send_with(int socket, std::span<const iovec> parts, int fd, int flags) {
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr message{};
  message.msg_iov = const_cast<iovec*>(parts.data());
  message.msg_iovlen = parts.size();
  message.msg_control = control;
  message.msg_controllen = sizeof control;
  cmsghdr* header = CMSG_FIRSTHDR(&message);
  header->cmsg_level = SOL_SOCKET;
  header->cmsg_type = SCM_RIGHTS;
  header->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(header), &fd, sizeof fd);
  auto sent = call("sendmsg(SCM_RIGHTS)", [&] { return ::sendmsg(socket, &message, flags); });
  if (!sent) return std::unexpected(sent.error());
  return static_cast<std::size_t>(*sent);
}

// One recvmsg into `buffer`; every descriptor that came is appended to `descriptors` (owned:
// none leaks, however many a peer attached).
SysResult<std::size_t> receive_with(int socket, std::span<std::byte> buffer,
                                    std::vector<Fd>& descriptors, int flags, bool* is_truncated) {
  iovec part{buffer.data(), buffer.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 16)] = {};
  msghdr message{};
  message.msg_iov = &part;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof control;
  auto received =
      call("recvmsg", [&] { return ::recvmsg(socket, &message, flags | MSG_CMSG_CLOEXEC); });
  if (!received) return std::unexpected(received.error());
  for (cmsghdr* header = CMSG_FIRSTHDR(&message); header != nullptr;
       header = CMSG_NXTHDR(&message, header)) {
    if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) continue;
    const std::size_t count = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int fd = -1;
      std::memcpy(&fd, CMSG_DATA(header) + i * sizeof(int), sizeof fd);
      descriptors.emplace_back(fd);
    }
  }
  if (is_truncated != nullptr) *is_truncated = (message.msg_flags & MSG_TRUNC) != 0;
  return static_cast<std::size_t>(*received);
}

}  // namespace

SysResult<void> send_descriptor(int socket, int fd, std::span<const std::byte> data) {
  const iovec part{const_cast<std::byte*>(data.data()), data.size()};
  auto sent = send_with(socket, std::span(&part, 1), fd, MSG_DONTWAIT | MSG_NOSIGNAL);
  if (!sent) return std::unexpected(sent.error());
  return {};
}

SysResult<std::optional<ReceivedDescriptor>> receive_descriptor(int socket,
                                                                std::span<std::byte> buffer) {
  std::vector<Fd> descriptors;
  bool is_truncated = false;
  auto received = receive_with(socket, buffer, descriptors, MSG_DONTWAIT, &is_truncated);
  if (!received) {
    if (received.error().code == EAGAIN || received.error().code == EWOULDBLOCK)
      return std::nullopt;
    return std::unexpected(received.error());
  }
  // The first descriptor is the record's; any others a peer attached close here.
  Fd first = descriptors.empty() ? Fd() : std::move(descriptors.front());
  return ReceivedDescriptor{std::move(first), *received, is_truncated};
}

SysResult<std::size_t> send_with_descriptor(int socket, std::span<const iovec> parts, int fd) {
  return send_with(socket, parts, fd, MSG_NOSIGNAL);
}

SysResult<std::size_t> read_with_descriptors(int socket, std::span<std::byte> buffer,
                                             std::vector<Fd>& descriptors, bool is_waiting) {
  return receive_with(socket, buffer, descriptors, is_waiting ? 0 : MSG_DONTWAIT, nullptr);
}

bool is_unix_socket(int fd) noexcept {
  int domain = 0;
  socklen_t length = sizeof domain;
  return ::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &length) == 0 && domain == AF_UNIX;
}

SysResult<Fd> pidfd_open(pid_t pid) {
  auto fd = call("pidfd_open", [&] { return ::syscall(SYS_pidfd_open, pid, 0); });
  if (!fd) return std::unexpected(fd.error());
  return Fd(static_cast<int>(*fd));
}

SysResult<Fd> pidfd_get_fd(int pidfd, int fd) {
  auto got = call("pidfd_getfd", [&] { return ::syscall(SYS_pidfd_getfd, pidfd, fd, 0); });
  if (!got) return std::unexpected(got.error());
  return Fd(static_cast<int>(*got));
}

SysResult<int> seals_of(int fd) {
  auto seals = call("fcntl(F_GET_SEALS)", [&] { return ::fcntl(fd, F_GET_SEALS); });
  if (!seals) return std::unexpected(seals.error());
  return static_cast<int>(*seals);
}

SysResult<void> set_send_buffer(int socket, int bytes) {
  auto set = call("setsockopt(SO_SNDBUF)", [&] {
    return ::setsockopt(socket, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
  });
  if (!set) return std::unexpected(set.error());
  return {};
}

SysResult<std::uint64_t> inode_of(int fd) {
  struct stat st{};
  auto got = call("fstat", [&] { return ::fstat(fd, &st); });
  if (!got) return std::unexpected(got.error());
  return static_cast<std::uint64_t>(st.st_ino);
}

}  // namespace conduit::sys
