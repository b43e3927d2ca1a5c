// Crash torture: producers and consumers of a Channel and of every Mailbox mode are SIGKILLed
// at random instants (often inside send and receive) and restarted, and afterwards every
// message is accounted for from a log kept outside shared memory (ledger.hpp). Exits non-zero
// on any violation: a hang (a call that did not return within --hang-timeout; never a hang of
// this program), a message lost, duplicated, torn or out of order, a leaked namespace file, a
// worker that crashed or got an error no caller should see.
//
//   torture --kills 1000 --seed 42 [--hang-timeout 30] [--only mailbox-zero-any_one]
//           [--skip mailbox-unbounded-broadcast]
//           [--victims producers|consumers|both]
//
// --victims producers makes the check strict: with no receiver killed, every message whose
// send returned must be received (no "unaccounted" allowance). TORTURE_DEBUG=1 in the
// environment lists each missing message with who received its neighbours, and keeps the log.
//
// What "received exactly once" means here, given that a receiver can die with a message in
// hand: a receiver logs a message (one O_APPEND write) right after receive returns; before
// that it stores the message's id in its slot of a shared page the supervisor made (Board).
// So when the supervisor kills a receiver that held a message it had not logged, it knows
// which one ("taken by a receiver that died before logging"): that message is not lost, and
// it must not turn up anywhere else. Only a kill inside receive, after the message left the
// mailbox and before receive returned, takes a message without a trace; such messages are
// reported apart ("unaccounted, inside a killed receive"), at most one per such kill, and
// any missing beyond that bound are lost. A sender logs "sent" only after send returned; one
// killed in between is known from its slot as well ("sent, not logged").
//
// Broadcast: a restarted receiver is a new receiver. It gets every message whose send began
// after its open returned; what was still queued for a killed receiver dies with it. So
// completeness is checked for every receiver that lived to drain the mailbox, against every
// message whose send began after it attached; every receiver is checked for duplicates.
#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "supervisor.hpp"

namespace {

using conduit::Capacity;
using conduit::Receivers;
using namespace conduit::torture;

const std::vector<Scenario>& scenarios() {
  static const std::vector<Scenario> all = {
      {"channel-many", Carrier::channel, RoundKind::steady, {}, 3, 1},
      {"mailbox-bounded-any_one",
       Carrier::mailbox,
       RoundKind::steady,
       {.capacity = Capacity::bounded(16), .max_message_size = 1024},
       2,
       2},
      {"mailbox-unbounded-any_one",
       Carrier::mailbox,
       RoundKind::steady,
       {.capacity = Capacity::unbounded(), .max_message_size = 1024},
       2,
       2},
      {"mailbox-zero-any_one",
       Carrier::mailbox,
       RoundKind::steady,
       {.capacity = Capacity::zero(), .max_message_size = 1024},
       2,
       2},
      {"mailbox-bounded-exclusive",
       Carrier::mailbox,
       RoundKind::steady,
       {.capacity = Capacity::bounded(16),
        .max_message_size = 1024,
        .receivers = Receivers::exclusive},
       2,
       2},
      {"mailbox-bounded-broadcast",
       Carrier::mailbox,
       RoundKind::steady,
       {.capacity = Capacity::bounded(16),
        .max_message_size = 1024,
        .receivers = Receivers::broadcast},
       2,
       3},
      {"mailbox-unbounded-broadcast",
       Carrier::mailbox,
       RoundKind::steady,
       {.capacity = Capacity::unbounded(),
        .max_message_size = 1024,
        .receivers = Receivers::broadcast},
       2,
       2},
      {"mailbox-bounded-pair",
       Carrier::mailbox,
       RoundKind::pair,
       {.capacity = Capacity::bounded(16), .max_message_size = 1024, .receivers = Receivers::pair},
       1,
       1},
      {"owner-mailbox",
       Carrier::mailbox,
       RoundKind::owner,
       {.capacity = Capacity::bounded(16), .max_message_size = 1024},
       1,
       1},
      {"owner-channel", Carrier::channel, RoundKind::owner, {}, 1, 1},
  };
  return all;
}

void print_figures(const char* name, const Figures& f, double seconds) {
  std::printf(
      "%-28s kills %6llu (in send %llu, in receive %llu)  sent %8llu (+%llu unlogged)  "
      "received %8llu  checked %8llu  lost %llu  duplicated %llu  torn %llu  reordered %llu  "
      "hangs %llu  leaked files %llu  unexpected exits %llu  | taken by dead receivers %llu, "
      "unaccounted inside a killed receive %llu, received with send not logged %llu, "
      "broadcast receivers checked %llu, stranded %llu, rounds %llu, files the next call "
      "reaped %llu, damaged log entries %llu  %.1f s\n",
      name, static_cast<unsigned long long>(f.kills),
      static_cast<unsigned long long>(f.producer_kills_in_call),
      static_cast<unsigned long long>(f.consumer_kills_in_call),
      static_cast<unsigned long long>(f.sent), static_cast<unsigned long long>(f.sent_unlogged),
      static_cast<unsigned long long>(f.received), static_cast<unsigned long long>(f.checked),
      static_cast<unsigned long long>(f.lost), static_cast<unsigned long long>(f.duplicated),
      static_cast<unsigned long long>(f.torn), static_cast<unsigned long long>(f.reordered),
      static_cast<unsigned long long>(f.hangs), static_cast<unsigned long long>(f.leaked_files),
      static_cast<unsigned long long>(f.unexpected_exits),
      static_cast<unsigned long long>(f.taken_by_dead),
      static_cast<unsigned long long>(f.unaccounted_in_receive),
      static_cast<unsigned long long>(f.received_send_not_logged),
      static_cast<unsigned long long>(f.broadcast_receivers_checked),
      static_cast<unsigned long long>(f.stranded), static_cast<unsigned long long>(f.rounds),
      static_cast<unsigned long long>(f.leaked_until_next_call),
      static_cast<unsigned long long>(f.damaged_log_entries), seconds);
  std::fflush(stdout);
}

int usage() {
  std::fprintf(stderr,
               "usage: torture [--kills N] [--seed S] [--hang-timeout SECONDS] [--only NAME]\n"
               "               [--skip NAME] [--victims producers|consumers|both]\n"
               "scenarios:");
  for (const auto& scenario : scenarios()) std::fprintf(stderr, " %s", scenario.name);
  std::fprintf(stderr, "\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t kills = 1000;
  RunOptions options;
  options.seed =
      static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
  std::string only;
  std::vector<std::string> skipped;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--kills" && has_value) {
      kills = std::strtoull(argv[++i], nullptr, 10);
    } else if (arg == "--seed" && has_value) {
      options.seed = std::strtoull(argv[++i], nullptr, 10);
    } else if (arg == "--hang-timeout" && has_value) {
      options.hang_timeout_ns = static_cast<std::int64_t>(std::strtod(argv[++i], nullptr) * 1e9);
    } else if (arg == "--victims" && has_value) {
      const std::string_view victims = argv[++i];
      options.may_kill_producers = victims != "consumers";
      options.may_kill_consumers = victims != "producers";
    } else if (arg == "--only" && has_value) {
      only = argv[++i];
    } else if (arg == "--skip" && has_value) {
      skipped.emplace_back(argv[++i]);
    } else {
      return usage();
    }
  }
  std::vector<const Scenario*> chosen;
  for (const auto& scenario : scenarios())
    if ((only.empty() || only == scenario.name) &&
        std::ranges::find(skipped, scenario.name) == skipped.end())
      chosen.push_back(&scenario);
  if (chosen.empty()) return usage();

  // A namespace of our own, so that leaked files are exactly ours.
  char space[] = "/dev/shm/conduit-torture.XXXXXX";
  if (::mkdtemp(space) == nullptr) {
    std::perror("torture: mkdtemp");
    return 1;
  }
  ::setenv("CONDUIT_NAMESPACE", space, 1);
  char logs[] = "/tmp/conduit-torture-logs.XXXXXX";
  if (::mkdtemp(logs) == nullptr) {
    std::perror("torture: mkdtemp");
    return 1;
  }
  options.directory = logs;

  std::printf("torture: %llu kills over %zu scenarios, seed %llu, hang timeout %.0f s\n",
              static_cast<unsigned long long>(kills), chosen.size(),
              static_cast<unsigned long long>(options.seed), options.hang_timeout_ns / 1e9);
  const auto started = std::chrono::steady_clock::now();
  Figures total;
  for (std::size_t k = 0; k < chosen.size(); ++k) {
    // Spread the kills evenly; the first scenarios take the remainder.
    const std::uint64_t share = kills / chosen.size() + (k < kills % chosen.size() ? 1 : 0);
    const auto scenario_started = std::chrono::steady_clock::now();
    const Figures figures = run_scenario(*chosen[k], share, options);
    print_figures(
        chosen[k]->name, figures,
        std::chrono::duration<double>(std::chrono::steady_clock::now() - scenario_started).count());
    total.add(figures);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  print_figures("total", total, seconds);
  std::error_code ignored;
  std::filesystem::remove_all(space, ignored);
  std::filesystem::remove_all(logs, ignored);
  const std::uint64_t violations = total.violations();
  std::printf("torture: %s (%llu violations, seed %llu)\n", violations == 0 ? "PASSED" : "FAILED",
              static_cast<unsigned long long>(violations),
              static_cast<unsigned long long>(options.seed));
  return violations == 0 ? 0 : 1;
}
