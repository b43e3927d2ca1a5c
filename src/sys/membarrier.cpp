#include "conduit/sys/membarrier.hpp"

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>

namespace conduit::sys {
namespace {

long membarrier(int command) noexcept { return ::syscall(SYS_membarrier, command, 0U, 0); }

constexpr long kGlobalCommands =
    MEMBARRIER_CMD_GLOBAL_EXPEDITED | MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED;

}  // namespace

bool has_global_membarrier() noexcept {
  // The kernel's answer never changes while we run: asked once. Relaxed: the cached value
  // orders nothing (a thread that misses it asks the kernel again, for the same answer).
  static std::atomic<int> known{-1};
  int answer = known.load(std::memory_order_relaxed);
  if (answer < 0) {
    const auto commands = call("membarrier", [] { return membarrier(MEMBARRIER_CMD_QUERY); });
    answer = commands && (*commands & kGlobalCommands) == kGlobalCommands ? 1 : 0;
    known.store(answer, std::memory_order_relaxed);
  }
  return answer == 1;
}

SysResult<void> register_for_global_membarrier() noexcept {
  // The pid that registered: a forked child has a new address space whose registration we do
  // not rely on, so it registers again (cheap, and idempotent). Relaxed: as above.
  static std::atomic<pid_t> registered{0};
  const pid_t me = ::getpid();
  if (registered.load(std::memory_order_relaxed) == me) return {};
  const auto done = call("membarrier(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED)",
                         [] { return membarrier(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED); });
  if (!done) return std::unexpected(done.error());
  registered.store(me, std::memory_order_relaxed);
  return {};
}

SysResult<void> global_barrier() noexcept {
  const auto done = call("membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED)",
                         [] { return membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED); });
  if (!done) return std::unexpected(done.error());
  return {};
}

}  // namespace conduit::sys
