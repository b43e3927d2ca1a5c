#include "conduit/core/namespace.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <vector>

#include "conduit/sys/file.hpp"

namespace conduit {
namespace {

std::string context(const std::string& path) { return fmt::format("namespace '{}'", path); }

/// The descriptors of this process's namespace locks (held or waited for) and the thread
/// that took each. A child forked while another thread holds one shares the lock's open file
/// description, so were the holder killed before it unlocks, the namespace would stay locked
/// until that child exited: the child closes its copies at once (fork handlers). Never
/// destroyed: a thread may take a lock while the process exits.
struct LockDescriptors {
  struct Held {
    int fd;
    pthread_t thread;
  };
  std::mutex mutex;
  std::vector<Held> held;
};

LockDescriptors& lock_descriptors();
void lock_descriptors_before_fork() { lock_descriptors().mutex.lock(); }
void unlock_descriptors_in_parent() { lock_descriptors().mutex.unlock(); }
void close_others_descriptors_in_child() {
  LockDescriptors& descriptors = lock_descriptors();
  // The forking thread's own locks stay: it goes on in the child and its Guards unlock them.
  // (The other threads' Guards never run here.)
  std::erase_if(descriptors.held, [](const LockDescriptors::Held& held) {
    if (::pthread_equal(held.thread, ::pthread_self()) != 0) return false;
    ::close(held.fd);
    return true;
  });
  descriptors.mutex.unlock();
}

LockDescriptors& lock_descriptors() {
  static auto* const table = [] {
    // Without handlers (out of memory), a child keeps its copies.
    (void)::pthread_atfork(lock_descriptors_before_fork, unlock_descriptors_in_parent,
                           close_others_descriptors_in_child);
    return new LockDescriptors();
  }();
  return *table;
}
// Made, and the handlers registered, before main (not by a first lock racing a fork).
[[maybe_unused]] const bool is_lock_list_made = (lock_descriptors(), true);

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
  if (lock_.get() < 0) return;
  // Unlisted, unlocked and closed with no fork in between: a child must not close a number
  // that is another descriptor by then.
  LockDescriptors& descriptors = lock_descriptors();
  std::lock_guard listed(descriptors.mutex);
  std::erase_if(descriptors.held,
                [fd = lock_.get()](const LockDescriptors::Held& held) { return held.fd == fd; });
  sys::unlock(lock_.get());
  lock_.reset();
}

Result<Namespace::Guard> Namespace::lock() const {
  // A descriptor of our own: flock excludes open file descriptions, so two threads sharing one
  // descriptor would not exclude each other. Opened and listed with no fork in between (a
  // child must know every copy it holds); locked after, outside the list's lock (the wait
  // may be long, and forks must not wait for it).
  auto lock_fd = [&] {
    LockDescriptors& descriptors = lock_descriptors();
    std::lock_guard listed(descriptors.mutex);
    auto opened = sys::open_at(directory_.get(), ".", O_RDONLY | O_DIRECTORY);
    if (opened) descriptors.held.push_back({opened->get(), ::pthread_self()});
    return opened;
  }();
  if (!lock_fd) return fail(lock_fd.error(), fmt::format("{}: lock", context(path_)));
  Guard guard(std::move(*lock_fd));  // unlisted and closed on failure too
  if (auto locked = sys::lock(guard.lock_.get(), sys::LockMode::exclusive); !locked)
    return fail(locked.error(), fmt::format("{}: lock", context(path_)));
  return guard;
}

Result<std::vector<std::string>> Namespace::names() const {
  auto names = sys::list_directory(directory_.get());
  if (!names) return fail(names.error(), fmt::format("{}: list", context(path_)));
  std::ranges::sort(*names);
  return std::move(*names);
}

}  // namespace conduit
