#include "sysv_waker.hpp"

#include <fmt/format.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/msg.h>

#include <array>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "conduit/sys/epoll.hpp"
#include "conduit/sys/fd_passing.hpp"

namespace conduit::transport {

/// What the waker knows of one watch. Its descriptors are the watch's: the waker reads them
/// only under its entries mutex, and the watch closes them only after leaving the map.
struct SysvWatch::Entry {
  std::uint64_t id = 0;          // 0: not registered
  std::uint64_t generation = 0;  // the waker's generation (fork count) it was registered in
  int in_queue = -1;
  int peer_queue = -1;
  WakeRecords records{};
  sys::Fd timer, pidfd;
  SysvWatch* owner = nullptr;
};

namespace {

// epoll keys: 0 is the stop event; a watch's timer is 2 id, its pidfd 2 id + 1 (ids from 1).
constexpr std::uint64_t kStopKey = 0;
constexpr const char* kThreadName = "conduit-sysv";

/// Posts a zero-byte record of `type`, without waiting: a full queue has records for its
/// receiver anyway.
void post_record(int queue, long type) {
  const long record = type;
  (void)sys::call("msgsnd", [&] { return ::msgsnd(queue, &record, 0, IPC_NOWAIT); });
}

}  // namespace

/// The one waker of this process: a thread over an epoll of every watch's timerfd and pidfd,
/// started by the first watch and stopped (joined) when the last one goes, so that a process
/// with no sysv:// connection runs no extra thread (and forks as a single-threaded process).
class SysvWaker {
 public:
  static SysvWaker& instance() {
    // Never destroyed: a connection may close during static destruction.
    static SysvWaker* const waker = new SysvWaker;
    return *waker;
  }

  Result<void> add(SysvWatch::Entry& entry, std::string_view context) {
    std::lock_guard life(lifecycle_);
    auto timer = sys::make_timer();
    if (!timer) return fail(timer.error(), std::string(context));
    if (auto started = start(context); !started) return started;
    std::optional<sys::SysError> failed;
    {
      std::lock_guard lock(entries_mutex_);
      const std::uint64_t id = next_id_++;
      if (auto added = epoll_->add(timer->get(), EPOLLIN, 2 * id); added) {
        entry.id = id;
        entry.generation = generation_;
        entry.timer = std::move(*timer);
        entries_.emplace(id, &entry);
      } else {
        failed = added.error();
      }
    }
    if (failed) {
      stop_if_idle();
      return fail(*failed, std::string(context));
    }
    return {};
  }

  Result<void> add_peer(SysvWatch::Entry& entry, ProcessId peer, int peer_queue,
                        std::string_view context) {
    auto pidfd = sys::pidfd_open(peer.pid);
    if (!pidfd && pidfd.error().code != ESRCH) return fail(pidfd.error(), std::string(context));
    // Checked after opening the pidfd: from here on the pid cannot name another process.
    const bool is_alive = pidfd.has_value() && alive(peer);
    std::lock_guard life(lifecycle_);
    std::lock_guard lock(entries_mutex_);
    if (entry.generation != generation_ || entry.id == 0) return {};  // registered before a fork
    entry.peer_queue = peer_queue;
    if (!is_alive) {
      on_death(entry);
      return {};
    }
    if (auto added = epoll_->add(pidfd->get(), EPOLLIN, 2 * entry.id + 1); !added) {
      return fail(added.error(), std::string(context));
    }
    entry.pidfd = std::move(*pidfd);
    return {};
  }

  void remove(SysvWatch::Entry& entry) noexcept {
    std::lock_guard life(lifecycle_);
    if (entry.id != 0 && entry.generation == generation_) {
      std::lock_guard lock(entries_mutex_);
      entries_.erase(entry.id);
      // Explicitly: after a fork another process holds these descriptors too, and epoll drops
      // a watched descriptor by itself only when its last copy closes.
      if (entry.timer) (void)epoll_->remove(entry.timer.get());
      if (entry.pidfd) (void)epoll_->remove(entry.pidfd.get());
    }
    entry.timer.reset();
    entry.pidfd.reset();
    entry.id = 0;
    stop_if_idle();
  }

 private:
  SysvWaker() {
    ::pthread_atfork([] { instance().before_fork(); }, [] { instance().after_fork_parent(); },
                     [] { instance().after_fork_child(); });
  }

  /// Starts the thread if it is not running. Called with lifecycle_ held.
  Result<void> start(std::string_view context) {
    if (is_running_) return {};
    auto epoll = sys::Epoll::make();
    if (!epoll) return fail(epoll.error(), std::string(context));
    auto stop = sys::make_event();
    if (!stop) return fail(stop.error(), std::string(context));
    if (auto added = epoll->add(stop->get(), EPOLLIN, kStopKey); !added) {
      return fail(added.error(), std::string(context));
    }
    epoll_.emplace(std::move(*epoll));
    stop_ = std::move(*stop);
    // The thread blocks every signal: a signal the application directs at the process (or
    // signal://, which blocks its signal only in the listening thread) never lands here.
    sigset_t all, previous;
    ::sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &previous);
    const int created = ::pthread_create(
        &thread_, nullptr,
        [](void* self) -> void* {
          static_cast<SysvWaker*>(self)->run();
          return nullptr;
        },
        this);
    ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    if (created != 0) {
      epoll_.reset();
      stop_.reset();
      return fail(sys::SysError{created, "pthread_create"},
                  fmt::format("{}: starting the System V waker thread", context));
    }
    (void)::pthread_setname_np(thread_, kThreadName);  // for ps, top and the tests
    is_running_ = true;
    return {};
  }

  /// Stops and joins the thread when no watch is left. Called with lifecycle_ held.
  void stop_if_idle() noexcept {
    {
      std::lock_guard lock(entries_mutex_);
      if (!is_running_ || !entries_.empty()) return;
    }
    sys::post_event(stop_.get());
    ::pthread_join(thread_, nullptr);
    is_running_ = false;
    epoll_.reset();
    stop_.reset();
  }

  void run() {
    std::array<epoll_event, 16> ready{};
    for (;;) {
      auto count = epoll_->wait(ready, std::nullopt);
      if (!count) continue;  // only EINTR-like failures are possible on a valid epoll
      std::lock_guard lock(entries_mutex_);
      for (std::size_t i = 0; i < *count; ++i) {
        const std::uint64_t key = ready[i].data.u64;
        if (key == kStopKey) return;
        const auto found = entries_.find(key / 2);
        if (found == entries_.end()) continue;  // unregistered since epoll_wait returned
        SysvWatch::Entry& entry = *found->second;
        if (key % 2 == 0) {
          // Re-armed since it fired: nothing to read, and the new tick is still to come.
          if (sys::clear_timer(entry.timer.get()))
            post_record(entry.in_queue, entry.records.tick_type);
        } else {
          (void)epoll_->remove(entry.pidfd.get());  // a pidfd stays readable: report it once
          on_death(entry);
        }
      }
    }
  }

  /// The peer of `entry` died. Called with entries_mutex_ held.
  static void on_death(SysvWatch::Entry& entry) {
    // Before the record: a receiver that finds no record (the queue was full) and then an
    // empty queue sees the flag and does not sleep. Pairs with is_peer_dead()'s acquire load.
    entry.owner->is_peer_dead_.store(true, std::memory_order_release);
    post_record(entry.in_queue, entry.records.death_type);
    if (entry.peer_queue >= 0) {
      (void)sys::call("msgctl", [&] { return ::msgctl(entry.peer_queue, IPC_RMID, nullptr); });
    }
  }

  // fork(): the child gets the memory but not the thread. Both mutexes are held across the
  // fork, so the child's copies are in a consistent state; the child starts a new generation
  // with no watches and no thread (a watch made before the fork is the parent's).
  void before_fork() {
    lifecycle_.lock();
    entries_mutex_.lock();
  }
  void after_fork_parent() {
    entries_mutex_.unlock();
    lifecycle_.unlock();
  }
  void after_fork_child() {
    ++generation_;
    entries_.clear();
    is_running_ = false;
    epoll_.reset();  // the child's copies; the parent's epoll and event stay open
    stop_.reset();
    entries_mutex_.unlock();
    lifecycle_.unlock();
  }

  std::mutex lifecycle_;      // add, add_peer, remove: starting and stopping the thread
  std::mutex entries_mutex_;  // entries_, between the thread and the watches
  std::unordered_map<std::uint64_t, SysvWatch::Entry*> entries_;
  std::optional<sys::Epoll> epoll_;
  sys::Fd stop_;
  pthread_t thread_{};
  bool is_running_ = false;
  std::uint64_t next_id_ = 1;
  std::uint64_t generation_ = 0;
};

namespace {
// Made, and its fork handlers registered, before main: made by a first watch in another thread
// while this thread forks, the child would wait for ever on the static's guard at its own first.
[[maybe_unused]] SysvWaker* const made_waker = &SysvWaker::instance();
}  // namespace

SysvWatch::SysvWatch(std::unique_ptr<Entry> entry) : entry_(std::move(entry)) {
  entry_->owner = this;
}

SysvWatch::~SysvWatch() { SysvWaker::instance().remove(*entry_); }

Result<std::unique_ptr<SysvWatch>> SysvWatch::make(int in_queue, WakeRecords records,
                                                   std::string_view context) {
  auto entry = std::make_unique<Entry>();
  entry->in_queue = in_queue;
  entry->records = records;
  std::unique_ptr<SysvWatch> watch(new SysvWatch(std::move(entry)));
  if (auto added = SysvWaker::instance().add(*watch->entry_, context); !added) {
    return std::unexpected(added.error());
  }
  return watch;
}

Result<void> SysvWatch::arm(sys::TimePoint deadline) {
  auto armed = sys::arm_timer(entry_->timer.get(), deadline);
  if (!armed) return fail(armed.error(), "sysv: arming the receive timer");
  return {};
}

Result<void> SysvWatch::watch_peer(ProcessId peer, int peer_queue) {
  return SysvWaker::instance().add_peer(*entry_, peer, peer_queue,
                                        fmt::format("sysv: watching {}", to_string(peer)));
}

}  // namespace conduit::transport
