// Process identity that survives pid reuse, and the lifetime of shared objects.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <string>

namespace conduit {

/// A process, named unambiguously: its pid and its start time (clock ticks since boot, field 22
/// of /proc/PID/stat). A later process that reuses the pid has another start time.
struct ProcessId {
  pid_t pid = 0;
  std::uint64_t start_time = 0;

  friend bool operator==(const ProcessId&, const ProcessId&) = default;
};

namespace detail {
/// self()'s cache, inline so that hot paths that must tell a forked child from its parent (a
/// Channel send) pay a load and a compare, not a call. Forgotten in the child of every fork().
struct SelfCache {
  std::atomic<bool> is_valid{false};
  ProcessId id{};
};
extern SelfCache self_cache;
/// Fills the cache (reads /proc once) and returns it.
[[nodiscard]] ProcessId self_slowly();
}  // namespace detail

/// This process. Cheap after the first call; correct in a child after fork().
[[nodiscard]] inline ProcessId self() {
  // Acquire: pairs with the release store in self_slowly(): a thread that sees is_valid sees
  // the id written before it.
  if (detail::self_cache.is_valid.load(std::memory_order_acquire)) [[likely]]
    return detail::self_cache.id;
  return detail::self_slowly();
}

namespace detail {
/// self_thread()'s cache, per thread; `process` tells a forked child (whose one thread inherits
/// it) that the entry is its parent's. Trivial, so reaching it costs no TLS wrapper call.
struct ThreadCache {
  pid_t process;
  ProcessId id;
};
extern thread_local ThreadCache thread_cache;
/// Fills this thread's cache (reads /proc once) and returns it.
[[nodiscard]] ProcessId self_thread_slowly();
}  // namespace detail

/// The calling thread, named as a ProcessId: its thread id and its own start time. What a lock
/// records as its holder: alive() on it turns false once the thread exited (or its process
/// died). Cheap after a thread's first call (a lock takes it every time); correct in a child
/// after fork().
[[nodiscard]] inline ProcessId self_thread() {
  if (detail::thread_cache.process == self().pid) [[likely]]
    return detail::thread_cache.id;
  return detail::self_thread_slowly();
}

/// Whether `process` is still running: false once it exited (a zombie counts as dead) or its
/// pid now names another process. A start_time of 0 means "unknown": only the pid is checked.
/// When /proc cannot be read (out of descriptors, another user's entry hidden), the pid's
/// existence decides (kill(pid, 0)): in doubt, alive.
[[nodiscard]] bool alive(ProcessId process);

/// "pid 1234" — for messages.
[[nodiscard]] std::string to_string(ProcessId process);

/// How long a named object lives.
enum class Lifetime : std::uint32_t {
  process,  // removed when its creating process dies (detected by a file lock; no daemon)
  system,   // stays until removed (or the machine restarts: tmpfs)
};

}  // namespace conduit
