#include "conduit/core/namespace.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>

#include "conduit/sys/file.hpp"

namespace conduit {
namespace {

std::string context(const std::string& path) { return fmt::format("namespace '{}'", path); }

}  // namespace

Result<Namespace> Namespace::current() {
  const char* chosen = std::getenv("CONDUIT_NAMESPACE");
  if (chosen != nullptr && *chosen != '\0') return open(chosen, false);
  return open(fmt::format("/dev/shm/conduit.{}", ::geteuid()), true);
}

Result<Namespace> Namespace::at(std::string path) { return open(std::move(path), false); }

Result<Namespace> Namespace::open(std::string path, bool is_private) {
  if (path.empty() || path.find('\0') != std::string::npos)
    return fail(Errc::invalid_argument, fmt::format("{}: invalid path", context(path)));
  if (auto made = sys::make_directory(path, 0700); !made && made.error().code != EEXIST)
    return fail(made.error(), fmt::format("{}: create", context(path)));
  // O_NOFOLLOW: a symbolic link planted where the directory should be is refused (ELOOP).
  auto directory = sys::open_at(AT_FDCWD, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  if (!directory) {
    // O_DIRECTORY is checked before O_NOFOLLOW: a link to a directory fails with ENOTDIR.
    auto st = sys::status_at(AT_FDCWD, path);
    if (directory.error().code == ELOOP || (st && S_ISLNK(st->st_mode)))
      return fail(Errc::permission_denied,
                  fmt::format("{}: open: is a symbolic link, refused", context(path)));
    return fail(directory.error(), fmt::format("{}: open", context(path)));
  }
  auto st = sys::status(directory->get());
  if (!st) return fail(st.error(), fmt::format("{}: stat", context(path)));
  const mode_t mode = st->st_mode & 07777;
  if (is_private) {
    // The default namespace is private: another user who made it first could read or replace
    // every object in it.
    if (st->st_uid != ::geteuid())
      return fail(Errc::permission_denied,
                  fmt::format("{}: owned by uid {}, not by this user (uid {}); remove it or set "
                              "CONDUIT_NAMESPACE",
                              context(path), st->st_uid, ::geteuid()));
    if ((mode & 0077) != 0)
      return fail(
          Errc::permission_denied,
          fmt::format("{}: mode {:04o} lets other users in; expected 0700", context(path), mode));
  } else if ((mode & S_IWOTH) != 0 && (mode & S_ISVTX) == 0) {
    // Anyone could unlink and replace objects in a world-writable directory without the
    // sticky bit.
    return fail(Errc::permission_denied,
                fmt::format("{}: mode {:04o} is world-writable without the sticky bit",
                            context(path), mode));
  }
  return Namespace(std::move(path), std::move(*directory));
}

Namespace::Guard::~Guard() {
  if (lock_.get() >= 0) sys::unlock(lock_.get());
}

Result<Namespace::Guard> Namespace::lock() const {
  // A descriptor of our own: flock excludes open file descriptions, so two threads sharing one
  // descriptor would not exclude each other.
  auto lock_fd = sys::open_at(directory_.get(), ".", O_RDONLY | O_DIRECTORY);
  if (!lock_fd) return fail(lock_fd.error(), fmt::format("{}: lock", context(path_)));
  if (auto locked = sys::lock(lock_fd->get(), sys::LockMode::exclusive); !locked)
    return fail(locked.error(), fmt::format("{}: lock", context(path_)));
  return Guard(std::move(*lock_fd));
}

Result<std::vector<std::string>> Namespace::names() const {
  auto names = sys::list_directory(directory_.get());
  if (!names) return fail(names.error(), fmt::format("{}: list", context(path_)));
  std::ranges::sort(*names);
  return std::move(*names);
}

}  // namespace conduit
