#include "conduit/core/process.hpp"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <mutex>
#include <optional>
#include <string_view>

#include "conduit/sys/file.hpp"

namespace conduit {
namespace {

struct Stat {
  char state;
  std::uint64_t start_time;
};

// Fields of /proc/PID/stat after the command name, which is in parentheses and may itself
// contain spaces and parentheses: parse from the last ')'.
std::optional<Stat> read_stat(pid_t pid) {
  auto text = sys::read_small_file("/proc/" + std::to_string(pid) + "/stat");
  if (!text) return std::nullopt;
  const auto close = text->rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::string_view rest = std::string_view(*text).substr(close + 1);
  Stat stat{};
  // Field 3 is the state; field 22 the start time: the 20th field after the name.
  for (int field = 3; field <= 22; ++field) {
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    const auto end = rest.find(' ');
    const std::string_view token = rest.substr(0, end);
    if (token.empty()) return std::nullopt;
    if (field == 3) stat.state = token.front();
    if (field == 22) {
      auto [ptr, ec] = std::from_chars(token.data(), token.data() + token.size(), stat.start_time);
      if (ec != std::errc{}) return std::nullopt;
    }
    rest.remove_prefix(end == std::string_view::npos ? rest.size() : end);
  }
  return stat;
}

// Serialises the first computation of the cached identity (detail::self_cache).
std::mutex self_mutex;

// Held across fork: a child forked while another thread computed the identity (reading /proc,
// tens of microseconds) would otherwise find the lock held for ever at its own first self().
void lock_self_before_fork() { self_mutex.lock(); }
void unlock_self_in_parent() { self_mutex.unlock(); }
void forget_self_in_child() {
  detail::self_cache.is_valid.store(false, std::memory_order_relaxed);
  self_mutex.unlock();
}

}  // namespace

namespace detail {

SelfCache self_cache;
thread_local ThreadCache thread_cache{};

ProcessId self_thread_slowly() {
  const pid_t tid = ::gettid();
  const auto stat = read_stat(tid);
  thread_cache.id = ProcessId{tid, stat ? stat->start_time : 0};
  thread_cache.process = self().pid;
  return thread_cache.id;
}

ProcessId self_slowly() {
  std::lock_guard lock(self_mutex);
  if (self_cache.is_valid.load(std::memory_order_relaxed)) return self_cache.id;
  const pid_t pid = ::getpid();
  const auto stat = read_stat(pid);
  self_cache.id = ProcessId{pid, stat ? stat->start_time : 0};
  // Release: pairs with the acquire load in self(): a thread that sees is_valid sees the id.
  self_cache.is_valid.store(true, std::memory_order_release);
  return self_cache.id;
}

}  // namespace detail

namespace {
// Registered before main, not by the first self() (which took the lock first: a fork in another
// thread in between left the child with it held, and no handler to free it).
[[maybe_unused]] const int are_fork_handlers_registered =
    ::pthread_atfork(lock_self_before_fork, unlock_self_in_parent, forget_self_in_child);
}  // namespace

bool alive(ProcessId process) {
  if (process.pid <= 0) return false;
  const auto stat = read_stat(process.pid);
  if (!stat) {
    // No /proc entry, or one this process could not read (out of descriptors or memory,
    // say). Only the first is death: a live process judged dead has its locks broken and its
    // messages handed out again, so when in doubt, ask the kernel whether the pid exists.
    return ::kill(process.pid, 0) == 0 || errno == EPERM;
  }
  if (stat->state == 'Z' || stat->state == 'X') return false;
  return process.start_time == 0 || stat->start_time == process.start_time;
}

std::string to_string(ProcessId process) { return "pid " + std::to_string(process.pid); }

}  // namespace conduit
