#include "conduit/sync/mutex.hpp"

#include <cerrno>
#include <ctime>

#include "conduit/sys/clock.hpp"

namespace conduit {

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

Result<void> Mutex::lock() noexcept { return interpret(pthread_mutex_lock(&mutex_), "lock"); }

Result<void> Mutex::lock_for(std::chrono::nanoseconds timeout) noexcept {
  const timespec deadline = sys::to_timespec(sys::deadline_after(timeout));
  return interpret(pthread_mutex_clocklock(&mutex_, CLOCK_MONOTONIC, &deadline), "lock_for");
}

bool Mutex::try_lock() noexcept {
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
