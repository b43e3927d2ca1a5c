// Files and directories, relative to a directory descriptor (the *at calls), so that a name is
// always resolved inside the directory that was checked, never through a path that a peer could
// swap for a symbolic link in between.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "conduit/sys/fd.hpp"
#include "conduit/sys/syscall.hpp"

namespace conduit::sys {

/// openat(2) with O_CLOEXEC added. `path` must be NUL-free (callers validate names first).
[[nodiscard]] SysResult<Fd> open_at(int directory, const std::string& path, int flags,
                                    mode_t mode = 0);
/// mkdirat(2). EEXIST is returned as an error, for the caller to decide.
[[nodiscard]] SysResult<void> make_directory(const std::string& path, mode_t mode);
[[nodiscard]] SysResult<struct stat> status(int fd);
/// fstatat(2) without following a final symbolic link.
[[nodiscard]] SysResult<struct stat> status_at(int directory, const std::string& name);
/// Reserves `size` bytes for the file (posix_fallocate): on tmpfs this is what turns a full
/// /dev/shm into ENOSPC now instead of SIGBUS on first touch later.
[[nodiscard]] SysResult<void> allocate(int fd, std::size_t size);
/// Gives the unnamed file `fd` (opened with O_TMPFILE) the name `name` in `directory`,
/// atomically; EEXIST if the name is taken.
[[nodiscard]] SysResult<void> link_unnamed(int fd, int directory, const std::string& name);
[[nodiscard]] SysResult<void> unlink_at(int directory, const std::string& name);
/// Names in a directory (without "." and ".."), unsorted.
[[nodiscard]] SysResult<std::vector<std::string>> list_directory(int directory);
/// Reads a whole small file, such as one under /proc.
[[nodiscard]] SysResult<std::string> read_small_file(const std::string& path);
/// Exact-length write and read (loop over partial transfers).
[[nodiscard]] SysResult<void> write_all(int fd, const void* data, std::size_t size);

/// flock(2) operations. Locks belong to the open file description: they are released when its
/// last descriptor closes, and are shared with children that inherit the descriptor.
enum class LockMode { shared, exclusive };
/// Takes the lock without blocking; false if another holder has it.
[[nodiscard]] SysResult<bool> try_lock(int fd, LockMode mode);
/// Takes the lock, waiting for it.
[[nodiscard]] SysResult<void> lock(int fd, LockMode mode);
void unlock(int fd) noexcept;

/// memfd_create(2) with MFD_CLOEXEC | MFD_ALLOW_SEALING.
[[nodiscard]] SysResult<Fd> memfd(const char* name);
/// Adds seals (F_SEAL_*) to a memfd.
[[nodiscard]] SysResult<void> seal(int fd, int seals);

}  // namespace conduit::sys
