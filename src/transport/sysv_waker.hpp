// Waking a thread that sleeps in msgrcv. A System V queue has no descriptor to poll, and a
// blocked msgrcv ends only when a record it accepts arrives or the queue is removed. So the
// blocked receive of sysv:// sleeps in the kernel (msgrcv without IPC_NOWAIT), and whatever must
// end that sleep posts a record into the queue it sleeps on:
//   - the peer's close() posts a close record (sysv_mq.cpp);
//   - a timed wait arms a timerfd, and when it expires the waker posts a tick record;
//   - the peer's death makes its pidfd readable, and the waker posts a close record for it and
//     removes the dead peer's incoming queue (which ends a msgsnd blocked on it with EIDRM).
// The waker is one thread per process ("conduit-sysv"), running while some watch exists: an
// epoll over every watch's timerfd and pidfd. A thread-directed signal (timer_create with
// SIGEV_THREAD_ID) could interrupt msgrcv without a thread, but only with a handler installed for
// that signal, which a library cannot do without taking the signal from the application; and it
// would still leave peer death to polling. A record in the queue is what msgrcv already waits for.
//
// Records the waker posts may outlive the wait they were for (a tick that fires just after data
// arrived): receivers ignore ticks that come early or late, and a close record of a dead peer
// that has already closed says nothing new.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "conduit/core/error.hpp"
#include "conduit/core/process.hpp"
#include "conduit/sys/clock.hpp"
#include "conduit/sys/fd.hpp"

namespace conduit::transport {

/// The System V message types the waker posts (zero-byte records).
struct WakeRecords {
  long tick_type;
  long death_type;
};

/// One end's watch: ticks into its incoming queue and, once the peer is known, the peer's death.
/// arm() and watch_peer() are used by one thread at a time; is_peer_dead() by any.
class SysvWatch {
 public:
  /// Registers with this process's waker (starting it). Errors: limit_reached, io.
  [[nodiscard]] static Result<std::unique_ptr<SysvWatch>> make(int in_queue, WakeRecords records,
                                                               std::string_view context);
  /// Unregisters: no record is posted for this watch once the destructor returned.
  ~SysvWatch();
  SysvWatch(const SysvWatch&) = delete;
  SysvWatch& operator=(const SysvWatch&) = delete;

  /// Posts a tick into the incoming queue at `deadline`, replacing a tick armed before and not
  /// yet posted. Errors: io.
  [[nodiscard]] Result<void> arm(sys::TimePoint deadline);
  /// Watches `peer`: when it dies, a death record goes into the incoming queue (if there is
  /// room: is_peer_dead() says so either way) and `peer_queue` (the peer's incoming queue) is
  /// removed. A peer already dead counts at once. Errors: limit_reached, io.
  [[nodiscard]] Result<void> watch_peer(ProcessId peer, int peer_queue);
  /// Whether the waker saw the peer die (and removed its queue).
  [[nodiscard]] bool is_peer_dead() const noexcept {
    // Pairs with the release store in the waker, made before it posts the death record.
    return is_peer_dead_.load(std::memory_order_acquire);
  }

  struct Entry;  // the waker's view of this watch (sysv_waker.cpp)

 private:
  explicit SysvWatch(std::unique_ptr<Entry> entry);
  std::unique_ptr<Entry> entry_;
  std::atomic<bool> is_peer_dead_{false};
  friend class SysvWaker;
};

}  // namespace conduit::transport
