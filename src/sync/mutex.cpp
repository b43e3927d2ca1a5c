#include "conduit/sync/mutex.hpp"

#include <linux/futex.h>
#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <string>

#include "conduit/sys/clock.hpp"
#include "conduit/sys/syscall.hpp"

namespace conduit {
namespace {

/// How long a waiter sleeps before it looks again whether the holder the lock word names exists.
constexpr std::chrono::milliseconds kHolderCheck{100};

std::unexpected<Error> corrupted(const char* operation, const std::string& what) {
  return fail(Errc::corrupted, std::string("mutex: ") + operation + ": corrupted: " + what);
}

}  // namespace

Mutex::Mutex() noexcept {
  pthread_mutexattr_t attributes;
  pthread_mutexattr_init(&attributes);
  pthread_mutexattr_setpshared(&attributes, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&attributes, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_init(&mutex_, &attributes);
  pthread_mutexattr_destroy(&attributes);
}

Result<void> Mutex::interpret(int result, const char* operation) noexcept {
  switch (result) {
    case 0: return {};
    case EOWNERDEAD:
      return fail(Errc::owner_died, std::string("mutex: ") + operation +
                                        ": its owner died holding it; held now: repair, then "
                                        "make_consistent()");
    case ENOTRECOVERABLE:
      return fail(Errc::closed, std::string("mutex: ") + operation +
                                    ": not recoverable (an owner died and it was unlocked "
                                    "without make_consistent())");
    case ETIMEDOUT:
      return fail(Errc::timed_out, std::string("mutex: ") + operation + ": timed out");
    default:
      return fail(sys::SysError{result, "pthread_mutex"}, std::string("mutex: ") + operation);
  }
}

int Mutex::made_kind() noexcept {
  static const int kind = [] {
    const Mutex made;
    return made.mutex_.__data.__kind;
  }();
  return kind;
}

Result<void> Mutex::check_kind(const char* operation) const noexcept {
  // Read once, relaxed: a peer may be writing the word (glibc reads it the same way).
  const int kind = __atomic_load_n(&mutex_.__data.__kind, __ATOMIC_RELAXED);
  if (kind != made_kind()) {
    return corrupted(operation, "its type word " + std::to_string(kind) +
                                    " is not that of a robust process-shared mutex (" +
                                    std::to_string(made_kind()) + ")");
  }
  return {};
}

Result<void> Mutex::check_holder(const char* operation) const noexcept {
  if (auto kind = check_kind(operation); !kind) return kind;
  // The lock word follows the kernel's robust-futex protocol: the holder's thread id in the low
  // bits, FUTEX_OWNER_DIED once the kernel released a dead holder's lock.
  const auto word =
      static_cast<std::uint32_t>(__atomic_load_n(&mutex_.__data.__lock, __ATOMIC_RELAXED));
  const auto holder = static_cast<pid_t>(word & FUTEX_TID_MASK);
  if (holder == 0 || (word & FUTEX_OWNER_DIED) != 0) return {};
  // A holder that dies is released by the kernel (OWNER_DIED) before its thread id goes away,
  // so an id that names no thread was never a holder's.
  auto exists = sys::call("kill", [&] { return ::kill(holder, 0); });
  if (!exists && exists.error().code == ESRCH) {
    return corrupted(operation, "its lock word names thread " + std::to_string(holder) +
                                    " as the holder, and there is no such thread");
  }
  return {};
}

Result<void> Mutex::lock_until(std::optional<sys::TimePoint> deadline,
                               const char* operation) noexcept {
  if (auto kind = check_kind(operation); !kind) return kind;
  const int tried = pthread_mutex_trylock(&mutex_);
  if (tried != EBUSY) return interpret(tried, operation);
  // Held: wait in slices, and between them check that the holder is a thread at all.
  for (;;) {
    const sys::TimePoint check = sys::deadline_after(kHolderCheck);
    const sys::TimePoint until = deadline ? std::min(*deadline, check) : check;
    const timespec until_spec = sys::to_timespec(until);
    const int result = pthread_mutex_clocklock(&mutex_, CLOCK_MONOTONIC, &until_spec);
    if (result != ETIMEDOUT) return interpret(result, operation);
    if (deadline && sys::now() >= *deadline) return interpret(result, operation);
    if (auto holder = check_holder(operation); !holder) return holder;
  }
}

Result<void> Mutex::lock() noexcept { return lock_until(std::nullopt, "lock"); }

Result<void> Mutex::lock_for(std::chrono::nanoseconds timeout) noexcept {
  return lock_until(sys::deadline_after(timeout), "lock_for");
}

bool Mutex::try_lock() noexcept {
  if (!check_kind("try_lock")) return false;
  const int result = pthread_mutex_trylock(&mutex_);
  if (result == EOWNERDEAD) {
    pthread_mutex_consistent(&mutex_);
    return true;
  }
  return result == 0;
}

void Mutex::unlock() noexcept { pthread_mutex_unlock(&mutex_); }

void Mutex::make_consistent() noexcept { pthread_mutex_consistent(&mutex_); }

}  // namespace conduit
