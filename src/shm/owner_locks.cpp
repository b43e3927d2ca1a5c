#include "owner_locks.hpp"

#include <pthread.h>
#include <unistd.h>

#include <mutex>
#include <vector>

#include "conduit/sys/file.hpp"

namespace conduit::shm::detail {
namespace {

std::mutex locks_mutex;
std::vector<sys::Fd>* locks = nullptr;  // never destroyed: atfork handlers may run late

// fork() copies the descriptors, and a flock belongs to the shared open file description, so
// a child would keep its parent's objects alive. The child closes its copies; the parent's
// hold is unaffected because the description stays open in the parent.
void before_fork() { locks_mutex.lock(); }
void after_fork_in_parent() { locks_mutex.unlock(); }
void after_fork_in_child() {
  if (locks != nullptr) locks->clear();
  locks_mutex.unlock();
}

std::vector<sys::Fd>& registry() {
  static const int registered = [] {
    locks = new std::vector<sys::Fd>();
    return ::pthread_atfork(before_fork, after_fork_in_parent, after_fork_in_child);
  }();
  (void)registered;
  return *locks;
}
// Made, and the handlers registered, before main. Made by the first hold, under the lock, a
// fork in another thread could come between that hold taking the lock and the handlers'
// registration: the child then waited on the lock for ever at its first process-lifetime object
// (a scratch program that forks while a thread joins its first Endpoint hung at 14 of 501
// delays, at 4 with this alone, at none with core/process.cpp's lock held across fork too; an
// Endpoint test that forks while a thread meets peers hung once in CI).
[[maybe_unused]] const bool is_registry_made = (registry(), true);

}  // namespace

void hold_owner_lock(sys::Fd lock) {
  std::lock_guard guard(locks_mutex);
  auto& held = registry();
  std::erase_if(held, [](const sys::Fd& fd) {
    auto st = sys::status(fd.get());
    return st && st->st_nlink == 0;  // removed by someone: nothing left to keep alive
  });
  held.push_back(std::move(lock));
}

void release_owner_lock(dev_t device, ino_t inode) {
  std::lock_guard guard(locks_mutex);
  std::erase_if(registry(), [&](const sys::Fd& fd) {
    auto st = sys::status(fd.get());
    return !st || (st->st_dev == device && st->st_ino == inode);
  });
}

}  // namespace conduit::shm::detail
