#include "conduit/sys/file.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <string_view>

namespace conduit::sys {

SysResult<Fd> open_at(int directory, const std::string& path, int flags, mode_t mode) {
  auto fd =
      call("openat", [&] { return ::openat(directory, path.c_str(), flags | O_CLOEXEC, mode); });
  if (!fd) return std::unexpected(fd.error());
  return Fd(static_cast<int>(*fd));
}

SysResult<void> make_directory(const std::string& path, mode_t mode) {
  auto result = call("mkdir", [&] { return ::mkdir(path.c_str(), mode); });
  if (!result) return std::unexpected(result.error());
  return {};
}

SysResult<struct stat> status(int fd) {
  struct stat st{};
  auto result = call("fstat", [&] { return ::fstat(fd, &st); });
  if (!result) return std::unexpected(result.error());
  return st;
}

SysResult<struct stat> status_at(int directory, const std::string& name) {
  struct stat st{};
  auto result =
      call("fstatat", [&] { return ::fstatat(directory, name.c_str(), &st, AT_SYMLINK_NOFOLLOW); });
  if (!result) return std::unexpected(result.error());
  return st;
}

SysResult<void> allocate(int fd, std::size_t size) {
  // posix_fallocate returns the error instead of setting errno.
  for (;;) {
    const int error = ::posix_fallocate(fd, 0, static_cast<off_t>(size));
    if (error == 0) return {};
    if (error != EINTR) return std::unexpected(SysError{error, "posix_fallocate"});
  }
}

SysResult<void> link_unnamed(int fd, int directory, const std::string& name) {
  // linkat(fd, "", ..., AT_EMPTY_PATH) needs CAP_DAC_READ_SEARCH on older kernels; linking the
  // /proc/self/fd entry is the documented unprivileged way (open(2), O_TMPFILE).
  const std::string source = "/proc/self/fd/" + std::to_string(fd);
  auto result = call("linkat", [&] {
    return ::linkat(AT_FDCWD, source.c_str(), directory, name.c_str(), AT_SYMLINK_FOLLOW);
  });
  if (!result) return std::unexpected(result.error());
  return {};
}

SysResult<void> unlink_at(int directory, const std::string& name) {
  auto result = call("unlinkat", [&] { return ::unlinkat(directory, name.c_str(), 0); });
  if (!result) return std::unexpected(result.error());
  return {};
}

SysResult<std::vector<std::string>> list_directory(int directory) {
  // fdopendir takes ownership of its descriptor; give it a duplicate so ours stays open.
  auto copy = call("dup", [&] { return ::fcntl(directory, F_DUPFD_CLOEXEC, 0); });
  if (!copy) return std::unexpected(copy.error());
  DIR* dir = ::fdopendir(static_cast<int>(*copy));
  if (dir == nullptr) {
    const int error = errno;
    ::close(static_cast<int>(*copy));
    return std::unexpected(SysError{error, "fdopendir"});
  }
  ::rewinddir(dir);
  std::vector<std::string> names;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string_view name = entry->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  ::closedir(dir);
  return names;
}

SysResult<std::string> read_small_file(const std::string& path) {
  auto fd = open_at(AT_FDCWD, path, O_RDONLY);
  if (!fd) return std::unexpected(fd.error());
  std::string text;
  std::array<char, 4096> buffer{};
  for (;;) {
    auto n = call("read", [&] { return ::read(fd->get(), buffer.data(), buffer.size()); });
    if (!n) return std::unexpected(n.error());
    if (*n == 0) return text;
    text.append(buffer.data(), static_cast<std::size_t>(*n));
  }
}

SysResult<void> write_all(int fd, const void* data, std::size_t size) {
  const auto* bytes = static_cast<const char*>(data);
  while (size > 0) {
    auto n = call("write", [&] { return ::write(fd, bytes, size); });
    if (!n) return std::unexpected(n.error());
    bytes += *n;
    size -= static_cast<std::size_t>(*n);
  }
  return {};
}

SysResult<bool> try_lock(int fd, LockMode mode) {
  const int op = (mode == LockMode::shared ? LOCK_SH : LOCK_EX) | LOCK_NB;
  auto result = call("flock", [&] { return ::flock(fd, op); });
  if (result) return true;
  if (result.error().code == EWOULDBLOCK) return false;
  return std::unexpected(result.error());
}

SysResult<void> lock(int fd, LockMode mode) {
  const int op = mode == LockMode::shared ? LOCK_SH : LOCK_EX;
  auto result = call("flock", [&] { return ::flock(fd, op); });
  if (!result) return std::unexpected(result.error());
  return {};
}

void unlock(int fd) noexcept {
  (void)call("flock", [&] { return ::flock(fd, LOCK_UN); });
}

SysResult<Fd> memfd(const char* name) {
  auto fd =
      call("memfd_create", [&] { return ::memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING); });
  if (!fd) return std::unexpected(fd.error());
  return Fd(static_cast<int>(*fd));
}

SysResult<void> seal(int fd, int seals) {
  auto result = call("fcntl(F_ADD_SEALS)", [&] { return ::fcntl(fd, F_ADD_SEALS, seals); });
  if (!result) return std::unexpected(result.error());
  return {};
}

}  // namespace conduit::sys
