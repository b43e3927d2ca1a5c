#include "supervisor.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <map>
#include <random>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "conduit/core/namespace.hpp"
#include "conduit/msg/channel.hpp"

namespace conduit::torture {
namespace {

using namespace std::chrono_literals;

enum class Role { producer, consumer, owner };

struct Worker {
  pid_t pid = -1;
  Role role = Role::producer;
  int slot = 0;
  std::uint32_t incarnation = 0;
};

/// What the supervisor learned from the slots of the workers it killed.
struct KillNotes {
  std::unordered_map<std::uint64_t, std::uint64_t> sent_unlogged;  // id -> tick
  // id -> the receiver that died holding it (it may have logged it just before dying)
  std::unordered_map<std::uint64_t, std::uint32_t> taken_by_dead;
  // channel: id -> the consumer that died holding a view of it (not released: the next
  // consumer gets it again, a second receipt if the dead one had logged it already)
  std::unordered_map<std::uint64_t, std::uint32_t> viewed_by_dead;
};

std::uint32_t next_incarnation = 0;

class Round {
 public:
  Round(const Scenario& scenario, const RunOptions& options, Board* board, int log_fd,
        std::string object, Figures& figures, KillNotes& notes, std::mt19937_64& random)
      : scenario_(scenario),
        options_(options),
        board_(board),
        log_fd_(log_fd),
        object_(std::move(object)),
        figures_(figures),
        notes_(notes),
        random_(random) {
    // Workers are handed out by reference: the vector must never move them.
    workers_.reserve(kMaxWorkers);
    board_->stop_producers = 0;
    board_->drain = 0;
    board_->ready = 0;
  }
  Round(const Round&) = delete;
  Round& operator=(const Round&) = delete;
  ~Round() {
    for (auto& worker : workers_)
      if (worker.pid > 0) {
        ::kill(worker.pid, SIGKILL);
        ::waitpid(worker.pid, nullptr, 0);
      }
  }

  Worker& spawn(Role role, int slot) {
    WorkerSlot& state = board_->slots[slot];
    state.phase = 0;
    state.held_id = 0;
    state.held_tick = 0;
    state.call_started_ns = 0;
    state.operations = 0;
    Worker worker{-1, role, slot, ++next_incarnation};
    const WorkerContext context{&scenario_,
                                object_,
                                board_,
                                slot,
                                worker.incarnation,
                                log_fd_,
                                options_.seed ^ mix(worker.incarnation)};
    std::fflush(nullptr);
    worker.pid = ::fork();
    if (worker.pid < 0) {
      std::perror("torture: fork");
      std::exit(1);
    }
    if (worker.pid == 0) {
      int code = 0;
      switch (role) {
        case Role::producer: code = run_producer(context); break;
        case Role::consumer: code = run_consumer(context); break;
        case Role::owner: code = run_owner(context); break;
      }
      std::fflush(nullptr);
      ::_exit(code);
    }
    for (auto& existing : workers_)
      if (existing.slot == slot) return existing = worker;
    if (workers_.size() == workers_.capacity()) std::abort();  // references would dangle
    return workers_.emplace_back(worker);
  }

  /// SIGKILLs `worker`, reaps it and notes what it held; counts a kill.
  void kill(Worker& worker) {
    if (worker.pid <= 0) return;  // never kill(-1) or kill(0): that is every process
    ::kill(worker.pid, SIGKILL);
    int status = 0;
    ::waitpid(worker.pid, &status, 0);
    worker.pid = -1;
    ++figures_.kills;
    // Exited on its own before the kill landed: judge the exit instead.
    // (In owner rounds a worker ends by itself once the owner died.)
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
      judge_exit(worker, status, scenario_.rounds == RoundKind::owner);
    const WorkerSlot& state = board_->slots[worker.slot];
    const auto phase = static_cast<Phase>(state.phase.load());
    const std::uint64_t id = state.held_id.load();
    if (worker.role == Role::producer) {
      if (phase == Phase::in_call) ++figures_.producer_kills_in_call;
      if (phase == Phase::taken) notes_.sent_unlogged.emplace(id, state.held_tick.load());
    } else if (worker.role == Role::consumer) {
      if (phase == Phase::in_call) ++figures_.consumer_kills_in_call;
      // A mailbox message whose view the dead one held counts as received (loan.hpp); a
      // channel record goes back to the next consumer, so it must turn up in the log.
      if (phase == Phase::taken ||
          (phase == Phase::viewing && scenario_.carrier == Carrier::mailbox))
        notes_.taken_by_dead.emplace(id, worker.incarnation);
      if (scenario_.carrier == Carrier::channel &&
          (phase == Phase::viewing || phase == Phase::viewed_logged))
        notes_.viewed_by_dead.emplace(id, worker.incarnation);
    }
  }

  /// Kills and restarts a random producer or consumer.
  void kill_and_restart_one() {
    std::vector<Worker*> candidates;
    for (auto& worker : workers_)
      if (worker.pid > 0 && ((worker.role == Role::producer && options_.may_kill_producers) ||
                             (worker.role == Role::consumer && options_.may_kill_consumers)))
        candidates.push_back(&worker);
    if (candidates.empty()) return;
    Worker& victim = *candidates[random_() % candidates.size()];
    const Role role = victim.role;
    const int slot = victim.slot;
    kill(victim);
    spawn(role, slot);
  }

  /// Waits, patrolling, until the round's first worker made the object (board.ready); false
  /// (a hang, counted) when it did not within the hang timeout.
  bool await_ready() {
    const std::int64_t deadline = monotonic_ns() + options_.hang_timeout_ns;
    while (board_->ready.load() == 0 && monotonic_ns() < deadline) {
      patrol(true);
      std::this_thread::sleep_for(100us);
    }
    if (board_->ready.load() != 0) return true;
    ++figures_.hangs;
    return false;
  }

  /// Restarts workers that ended on their own (each one a violation, judged), kills those
  /// stuck inside one call for longer than the hang timeout (a hang each).
  void patrol(bool may_exit) {
    const std::int64_t now = monotonic_ns();
    for (auto& worker : workers_) {
      if (worker.pid <= 0) continue;
      int status = 0;
      if (::waitpid(worker.pid, &status, WNOHANG) == worker.pid) {
        worker.pid = -1;
        if (!may_exit || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
          judge_exit(worker, status, may_exit);
        if (!may_exit) spawn(worker.role, worker.slot);
        continue;
      }
      const std::int64_t started = board_->slots[worker.slot].call_started_ns.load();
      if (started != 0 && now - started > options_.hang_timeout_ns) {
        std::fprintf(stderr, "torture %s: HANG: worker %u (pid %d) inside one call for %.1f s\n",
                     scenario_.name, worker.incarnation, worker.pid, (now - started) / 1e9);
        ++figures_.hangs;
        ::kill(worker.pid, SIGKILL);
        ::waitpid(worker.pid, nullptr, 0);
        worker.pid = -1;
        if (!may_exit) spawn(worker.role, worker.slot);
      }
    }
  }

  /// Waits until every worker of `role` ended by itself; past the hang timeout each one left
  /// is a hang (and is killed).
  void wait_for(Role role) {
    const std::int64_t deadline = monotonic_ns() + options_.hang_timeout_ns;
    for (;;) {
      patrol(true);
      bool is_any_left = false;
      for (auto& worker : workers_)
        is_any_left = is_any_left || (worker.pid > 0 && worker.role == role);
      if (!is_any_left) return;
      if (monotonic_ns() > deadline) {
        for (auto& worker : workers_) {
          if (worker.pid <= 0 || worker.role != role) continue;
          std::fprintf(stderr, "torture %s: HANG: worker %u (pid %d) did not end in %.0f s\n",
                       scenario_.name, worker.incarnation, worker.pid,
                       options_.hang_timeout_ns / 1e9);
          ++figures_.hangs;
          ::kill(worker.pid, SIGKILL);
          ::waitpid(worker.pid, nullptr, 0);
          worker.pid = -1;
        }
        return;
      }
      std::this_thread::sleep_for(500us);
    }
  }

  std::vector<Worker>& workers() { return workers_; }

 private:
  void judge_exit(const Worker& worker, int status, bool may_exit = false) {
    if (may_exit && WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
    ++figures_.unexpected_exits;
    if (WIFSIGNALED(status))
      std::fprintf(stderr, "torture %s: worker %u died of signal %d\n", scenario_.name,
                   worker.incarnation, WTERMSIG(status));
    else
      std::fprintf(stderr, "torture %s: worker %u exited with code %d%s\n", scenario_.name,
                   worker.incarnation, WEXITSTATUS(status),
                   may_exit ? "" : " while it should have been running");
  }

  const Scenario& scenario_;
  const RunOptions& options_;
  Board* board_;
  int log_fd_;
  std::string object_;
  Figures& figures_;
  KillNotes& notes_;
  std::mt19937_64& random_;
  std::vector<Worker> workers_;
};

/// A random pause before the next kill: often short enough to land inside a call.
std::chrono::microseconds kill_delay(std::mt19937_64& random) {
  switch (random() % 3) {
    case 0: return std::chrono::microseconds(random() % 100);
    case 1: return std::chrono::microseconds(100 + random() % 2'000);
    default: return std::chrono::microseconds(2'000 + random() % 10'000);
  }
}

std::size_t namespace_files() {
  auto space = Namespace::current();
  if (!space) return 0;
  auto names = space->names();
  return names ? names->size() : 0;
}

void list_namespace(const char* scenario, const char* when) {
  auto space = Namespace::current();
  if (!space) return;
  auto names = space->names();
  if (!names) return;
  for (const auto& name : *names)
    std::fprintf(stderr, "torture %s: %s: '%s' is still in the namespace\n", scenario, when,
                 name.c_str());
}

/// Takes what is left in a steady round's carrier after its consumers said it was empty.
std::vector<std::uint64_t> take_leftovers(const Scenario& scenario, const std::string& object) {
  std::vector<std::uint64_t> ids;
  if (scenario.carrier == Carrier::channel) {
    auto channel = Channel<Record>::open(object);
    if (!channel) {
      std::fprintf(stderr, "torture %s: leftovers: %s\n", scenario.name,
                   channel.error().message().c_str());
      return ids;
    }
    if (std::getenv("TORTURE_DEBUG") != nullptr) {
      const auto stats = channel->stats();
      std::fprintf(stderr, "leftovers: depth %zu consumer pid %d closed %d\n", stats.depth,
                   stats.consumer.pid, stats.is_closed ? 1 : 0);
    }
    for (;;) {
      auto record = channel->try_receive();
      if (!record) {
        if (record.error().code() != Errc::would_block)
          std::fprintf(stderr, "torture %s: leftovers: %s\n", scenario.name,
                       record.error().message().c_str());
        break;
      }
      ids.push_back(record->id);
    }
    return ids;
  }
  if (scenario.mailbox.receivers == Receivers::broadcast) return ids;
  auto box = Mailbox::open(object);
  if (!box) {
    std::fprintf(stderr, "torture %s: leftovers: %s\n", scenario.name,
                 box.error().message().c_str());
    return ids;
  }
  for (;;) {
    auto message = box->try_receive();
    if (!message) {
      if (message.error().code() != Errc::would_block)
        std::fprintf(stderr, "torture %s: leftovers: %s\n", scenario.name,
                     message.error().message().c_str());
      break;
    }
    ids.push_back(check_payload(message->payload()).id);
  }
  return ids;
}

Result<void> create_object(const Scenario& scenario, const std::string& object) {
  if (scenario.carrier == Carrier::channel) {
    auto channel = Channel<Record>::create(object, {.capacity = 64, .producers = Producers::many});
    if (!channel) return std::unexpected(channel.error());
    return {};
  }
  auto box = Mailbox::create(object, scenario.mailbox);
  if (!box) return std::unexpected(box.error());
  return {};
}

Result<void> remove_object(const Scenario& scenario, const std::string& object) {
  return scenario.carrier == Carrier::channel ? Channel<Record>::remove(object)
                                              : Mailbox::remove(object);
}

/// Every file left in the namespace counts as leaked (`when` says at which point).
void count_leaked_files(const Scenario& scenario, const char* when, Figures& figures) {
  if (const auto files = namespace_files(); files != 0) {
    list_namespace(scenario.name, when);
    figures.leaked_files += files;
  }
}

/// Removes the scenario's object: a failed remove is a violation, and so is any file left.
void remove_and_check(const Scenario& scenario, const std::string& object, Figures& figures) {
  if (auto removed = remove_object(scenario, object); !removed) {
    std::fprintf(stderr, "torture %s: remove: %s\n", scenario.name,
                 removed.error().message().c_str());
    ++figures.unexpected_exits;
  }
  count_leaked_files(scenario, "after remove", figures);
}

/// One object for the whole scenario; producers and consumers killed and restarted.
void run_steady(const Scenario& scenario, std::uint64_t kills, const RunOptions& options,
                Board* board, int log_fd, Figures& figures, KillNotes& notes,
                std::mt19937_64& random, std::vector<std::uint64_t>& leftovers) {
  const std::string object = std::string("torture.") + scenario.name;
  if (auto made = create_object(scenario, object); !made) {
    std::fprintf(stderr, "torture %s: create: %s\n", scenario.name, made.error().message().c_str());
    ++figures.unexpected_exits;
    return;
  }
  {
    Round round(scenario, options, board, log_fd, object, figures, notes, random);
    ++figures.rounds;
    int slot = 0;
    for (int k = 0; k < scenario.consumers; ++k) round.spawn(Role::consumer, slot++);
    for (int k = 0; k < scenario.producers; ++k) round.spawn(Role::producer, slot++);
    std::uint64_t last_progress = 0;
    std::int64_t progress_at = monotonic_ns();
    const std::uint64_t first_kill = figures.kills;
    while (figures.kills - first_kill < kills) {
      std::this_thread::sleep_for(kill_delay(random));
      round.patrol(false);
      round.kill_and_restart_one();
      // A stall: nothing at all delivered for the hang timeout, though every worker lives.
      const std::uint64_t progress = board->clock.load();
      const std::int64_t now = monotonic_ns();
      if (progress != last_progress) {
        last_progress = progress;
        progress_at = now;
      } else if (now - progress_at > options.hang_timeout_ns) {
        std::fprintf(stderr, "torture %s: HANG: no send started for %.0f s\n", scenario.name,
                     options.hang_timeout_ns / 1e9);
        ++figures.hangs;
        break;
      }
    }
    // A quiet while without kills, so that broadcast receivers live long enough to be
    // checked for completeness against many messages.
    for (const std::int64_t quiet_until = monotonic_ns() + 300'000'000;
         monotonic_ns() < quiet_until;) {
      round.patrol(false);
      std::this_thread::sleep_for(1ms);
    }
    // Let the producers finish their sends while consumers still run, then let the
    // consumers drain what is left.
    board->stop_producers = 1;
    round.wait_for(Role::producer);
    board->drain = 1;
    round.wait_for(Role::consumer);
  }
  leftovers = take_leftovers(scenario, object);
  remove_and_check(scenario, object, figures);
}

/// A pair mailbox per round: its consumer creates it, its producer is killed once (a pair
/// admits no third process, so nobody replaces it) and the consumer drains what was sent.
void run_pairs(const Scenario& scenario, std::uint64_t kills, const RunOptions& options,
               Board* board, int log_fd, Figures& figures, KillNotes& notes,
               std::mt19937_64& random) {
  const std::string object = std::string("torture.") + scenario.name;
  for (std::uint64_t done = 0; done < kills; ++done) {
    {
      Round round(scenario, options, board, log_fd, object, figures, notes, random);
      ++figures.rounds;
      round.spawn(Role::consumer, 0);
      if (!round.await_ready()) break;
      Worker& producer = round.spawn(Role::producer, 1);
      std::this_thread::sleep_for(kill_delay(random));
      round.kill(producer);
      board->drain = 1;
      round.wait_for(Role::consumer);
    }
    remove_and_check(scenario, object, figures);
  }
}

/// A Lifetime::process object per round; its creator is killed while a producer and a
/// consumer use it. They must notice by themselves (owner_died or closed) and end; the
/// object must then be gone from the namespace. In one round of four the producer and the
/// consumer are killed too: nobody is left to remove the object, and the next conduit call
/// (an open) must find it gone (not_found) and leave the namespace clean.
void run_owners(const Scenario& scenario, std::uint64_t kills, const RunOptions& options,
                Board* board, int log_fd, Figures& figures, KillNotes& notes,
                std::mt19937_64& random) {
  const std::string object = std::string("torture.") + scenario.name;
  std::uint64_t done = 0;
  while (done < kills) {
    const bool is_everyone_killed = random() % 4 == 0;
    {
      Round round(scenario, options, board, log_fd, object, figures, notes, random);
      ++figures.rounds;
      Worker& owner = round.spawn(Role::owner, 0);
      if (!round.await_ready()) break;
      round.spawn(Role::consumer, 1);
      round.spawn(Role::producer, 2);
      std::this_thread::sleep_for(kill_delay(random));
      const std::uint64_t before = figures.kills;
      round.kill(owner);
      if (is_everyone_killed) {
        std::this_thread::sleep_for(kill_delay(random));
        for (auto& worker : round.workers())
          if (worker.pid > 0) round.kill(worker);
      } else {
        // A producer and consumer that keep each other busy never wait, and only a waiter
        // looks at the owner (the fast path makes no system call): stop producing, so that
        // the consumer drains, waits, and must learn of the death by itself.
        board->stop_producers = 1;
        round.wait_for(Role::producer);
        round.wait_for(Role::consumer);
      }
      done += figures.kills - before;
    }
    // Every process that used the object has ended.
    if (const auto files = namespace_files(); files != 0) {
      if (is_everyone_killed) {
        figures.leaked_until_next_call += files;
      } else {
        list_namespace(scenario.name, "after its last process ended");
        figures.leaked_files += files;
      }
    }
    const bool is_gone = scenario.carrier == Carrier::channel
                             ? !Channel<Record>::open(object).has_value()
                             : !Mailbox::open(object, MailboxRole::observer).has_value();
    if (!is_gone) {
      std::fprintf(stderr, "torture %s: the object outlived its process-lifetime owner\n",
                   scenario.name);
      ++figures.leaked_files;
      (void)remove_object(scenario, object);
    }
    count_leaked_files(scenario, "after a later open", figures);
  }
}

/// Checks the log against the notes: every message whose send returned was received exactly
/// once, intact; broadcast: once by every receiver that attached before the send and lived to
/// drain the mailbox.
void check(const Scenario& scenario, const LogContents& log, const KillNotes& notes,
           const std::vector<std::uint64_t>& leftovers, Figures& figures) {
  figures.damaged_log_entries += log.damaged;
  std::unordered_map<std::uint64_t, std::uint64_t> sent;  // id -> tick
  for (const Entry& entry : log.entries)
    if (entry.kind == EntryKind::sent) sent.emplace(entry.id, entry.tick);
  figures.sent += sent.size();
  for (const auto& [id, tick] : notes.sent_unlogged)
    if (sent.emplace(id, tick).second) ++figures.sent_unlogged;

  std::unordered_map<std::uint64_t, std::uint64_t> times_received;
  std::set<std::pair<std::uint64_t, std::uint32_t>> received_by;    // (id, receiver)
  std::map<std::uint32_t, std::vector<std::uint64_t>> by_receiver;  // broadcast
  std::map<std::uint32_t, std::uint64_t> attached_at;
  std::set<std::uint32_t> drained;
  std::unordered_map<std::uint32_t, std::uint32_t> last_sequence;  // channel order, per producer
  for (const Entry& entry : log.entries) {
    switch (entry.kind) {
      case EntryKind::received:
        ++figures.received;
        ++times_received[entry.id];
        received_by.emplace(entry.id, entry.worker);
        by_receiver[entry.worker].push_back(entry.id);
        if (scenario.carrier == Carrier::channel) {
          const auto producer = static_cast<std::uint32_t>(entry.id >> 32);
          const auto sequence = static_cast<std::uint32_t>(entry.id);
          auto [last, is_first] = last_sequence.emplace(producer, sequence);
          if (!is_first) {
            // The same record again is the second receipt of one a dead consumer viewed.
            if (sequence < last->second ||
                (sequence == last->second && !notes.viewed_by_dead.contains(entry.id)))
              ++figures.reordered;
            last->second = sequence;
          }
        }
        break;
      case EntryKind::torn: ++figures.torn; break;
      case EntryKind::attached: attached_at[entry.worker] = entry.tick; break;
      case EntryKind::done: drained.insert(entry.worker); break;
      case EntryKind::error: ++figures.unexpected_exits; break;
      case EntryKind::sent: break;
    }
  }
  if (std::getenv("TORTURE_DEBUG") != nullptr)
    for (const auto& [receiver, ids] : by_receiver)
      std::fprintf(stderr, "receiver %u: %zu messages%s\n", receiver, ids.size(),
                   drained.contains(receiver) ? ", drained" : "");
  for (const std::uint64_t id : leftovers) {
    ++figures.stranded;
    ++times_received[id];
  }
  // A receiver killed holding a message may have logged it just before: it counts once.
  const auto unlogged_by_dead = [&](std::uint64_t id) -> std::uint64_t {
    const auto dead = notes.taken_by_dead.find(id);
    return dead != notes.taken_by_dead.end() && !received_by.contains({id, dead->second}) ? 1 : 0;
  };
  for (const auto& [id, count] : times_received) {
    if (!sent.contains(id)) ++figures.received_send_not_logged;
    if (scenario.mailbox.receivers != Receivers::broadcast ||
        scenario.carrier == Carrier::channel) {
      const auto viewed = notes.viewed_by_dead.find(id);
      const std::uint64_t allowed =
          viewed != notes.viewed_by_dead.end() && received_by.contains({id, viewed->second}) ? 2
                                                                                             : 1;
      if (count + unlogged_by_dead(id) > allowed)
        figures.duplicated += count + unlogged_by_dead(id) - allowed;
    }
  }
  if (scenario.rounds == RoundKind::owner) return;  // removed with its owner: no loss to check

  if (scenario.carrier == Carrier::mailbox && scenario.mailbox.receivers == Receivers::broadcast) {
    for (const auto& [receiver, ids] : by_receiver) {
      std::unordered_map<std::uint64_t, int> seen;
      for (const std::uint64_t id : ids)
        if (++seen[id] > 1) ++figures.duplicated;
    }
    for (const std::uint32_t receiver : drained) {
      const auto attached = attached_at.find(receiver);
      if (attached == attached_at.end()) continue;
      ++figures.broadcast_receivers_checked;
      const auto& ids = by_receiver[receiver];
      const std::unordered_set<std::uint64_t> got(ids.begin(), ids.end());
      // For TORTURE_DEBUG: which of this receiver's messages went missing, and whether it
      // received anything sent after the first of them (a gap, or a tail it never reached).
      std::uint64_t lost = 0, first_lost = UINT64_MAX, last_lost = 0;
      for (const auto& [id, tick] : sent) {
        if (tick <= attached->second) continue;
        ++figures.checked;
        if (got.contains(id)) continue;
        ++lost;
        first_lost = std::min(first_lost, tick);
        last_lost = std::max(last_lost, tick);
      }
      figures.lost += lost;
      if (lost != 0 && std::getenv("TORTURE_DEBUG") != nullptr) {
        std::uint64_t got_later = 0;
        for (const std::uint64_t id : ids)
          if (const auto at = sent.find(id); at != sent.end() && at->second > first_lost)
            ++got_later;
        std::fprintf(
            stderr,
            "receiver %u (attached at tick %llu) lost %llu messages, ticks %llu..%llu; "
            "it received %llu sent after the first of them\n",
            receiver, static_cast<unsigned long long>(attached->second),
            static_cast<unsigned long long>(lost), static_cast<unsigned long long>(first_lost),
            static_cast<unsigned long long>(last_lost), static_cast<unsigned long long>(got_later));
      }
    }
    return;
  }
  std::uint64_t missing = 0;
  for (const auto& [id, tick] : sent) {
    ++figures.checked;
    if (times_received.contains(id)) continue;
    if (notes.taken_by_dead.contains(id)) {
      ++figures.taken_by_dead;
      continue;
    }
    ++missing;
    if (std::getenv("TORTURE_DEBUG") != nullptr) {
      // Who received this producer's neighbours: where the gap is.
      const auto neighbour = [&](std::uint64_t other) -> long {
        for (const Entry& entry : log.entries)
          if (entry.kind == EntryKind::received && entry.id == other) return entry.worker;
        return -1;
      };
      std::fprintf(stderr, "missing %u:%u tick %llu; previous by %ld, next by %ld\n",
                   static_cast<unsigned>(id >> 32), static_cast<unsigned>(id),
                   static_cast<unsigned long long>(tick), neighbour(id - 1), neighbour(id + 1));
    }
  }
  // A receiver killed inside receive, after the message left the carrier and before receive
  // returned, took it without a trace; there is at most one such message per such kill.
  figures.unaccounted_in_receive = std::min(missing, figures.consumer_kills_in_call);
  figures.lost += missing - figures.unaccounted_in_receive;
}

}  // namespace

std::uint64_t Figures::violations() const {
  return lost + duplicated + torn + reordered + stranded + hangs + leaked_files + unexpected_exits +
         damaged_log_entries + (received_send_not_logged > producer_kills_in_call ? 1 : 0);
}

void Figures::add(const Figures& other) {
  kills += other.kills;
  producer_kills_in_call += other.producer_kills_in_call;
  consumer_kills_in_call += other.consumer_kills_in_call;
  sent += other.sent;
  sent_unlogged += other.sent_unlogged;
  received += other.received;
  checked += other.checked;
  lost += other.lost;
  duplicated += other.duplicated;
  torn += other.torn;
  reordered += other.reordered;
  taken_by_dead += other.taken_by_dead;
  unaccounted_in_receive += other.unaccounted_in_receive;
  received_send_not_logged += other.received_send_not_logged;
  broadcast_receivers_checked += other.broadcast_receivers_checked;
  stranded += other.stranded;
  hangs += other.hangs;
  leaked_files += other.leaked_files;
  leaked_until_next_call += other.leaked_until_next_call;
  unexpected_exits += other.unexpected_exits;
  damaged_log_entries += other.damaged_log_entries;
  rounds += other.rounds;
}

Figures run_scenario(const Scenario& scenario, std::uint64_t kills, const RunOptions& options) {
  Figures figures;
  static Board* board = make_board();
  if (board == nullptr) {
    std::perror("torture: mmap");
    std::exit(1);
  }
  const std::string log_path = options.directory + "/" + scenario.name + ".log";
  const int log_fd =
      ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd < 0) {
    std::perror("torture: log");
    std::exit(1);
  }
  std::mt19937_64 random(options.seed ^ mix(std::hash<std::string_view>{}(scenario.name)));
  KillNotes notes;
  std::vector<std::uint64_t> leftovers;
  switch (scenario.rounds) {
    case RoundKind::steady:
      run_steady(scenario, kills, options, board, log_fd, figures, notes, random, leftovers);
      break;
    case RoundKind::pair:
      run_pairs(scenario, kills, options, board, log_fd, figures, notes, random);
      break;
    case RoundKind::owner:
      run_owners(scenario, kills, options, board, log_fd, figures, notes, random);
      break;
  }
  ::close(log_fd);
  check(scenario, read_log(log_path.c_str()), notes, leftovers, figures);
  if (std::getenv("TORTURE_DEBUG") == nullptr) ::unlink(log_path.c_str());
  return figures;
}

}  // namespace conduit::torture
