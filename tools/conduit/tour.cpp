// conduit tour [NAME...] [--list] [--json] [--timeout D] [--examples DIR]: every textbook
// model, run as short scenarios with real processes. Each one is a standalone program in
// examples/; the tour runs them in order, says what each shows, and counts the failures.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "tool.hpp"

namespace conduit::tool {
namespace {

enum class Runner {
  plain,   // the program on its own
  mpirun,  // under mpirun with three ranks; skipped (and said so) when mpirun is not there
};

struct Scenario {
  const char* name;     // what `conduit tour NAME` selects
  const char* program;  // under the examples directory
  const char* title;
  Runner runner = Runner::plain;
};

// In teaching order.
constexpr Scenario kScenarios[] = {
    {"shared_counter", "shared_counter", "Shared memory: two processes share one named object"},
    {"bounded_buffer", "bounded_buffer",
     "Bounded buffer: the producer waits while the mailbox is full"},
    {"unbounded_buffer", "unbounded_buffer",
     "Unbounded buffer: send never blocks; the mailbox grows"},
    {"rendezvous", "rendezvous", "Zero capacity: sender and receiver meet"},
    {"empties", "empties", "Flow control: the consumer sends N empties"},
    {"direct_naming", "direct_naming", "Direct naming: endpoints, symmetric and asymmetric"},
    {"receivers", "receivers", "Receivers: any_one with receipts, broadcast, exclusive, pair"},
    {"selective_receive", "selective_receive", "Selective receive by type (System V msgrcv)"},
    {"process_owned", "process_owned", "A process-owned mailbox vanishes with its owner"},
    {"synchronisation", "synchronisation",
     "Semaphores, a barrier, and a robust mutex recovering from a killed holder"},
    {"pipe", "pipe", "Pipes between parent and child, one each way (duplex)"},
    {"fifo", "fifo", "A FIFO: a named pipe that unrelated processes find by its path"},
    {"sockets", "sockets", "Sockets: TCP (IP:port) and Unix"},
    {"message_queues", "message_queues", "Message queues: POSIX (mq://) and System V (sysv://)"},
    {"signal", "signal", "A signal carrying a tiny message (signal://pid)"},
    {"file_spool", "file_spool", "A file: an append-only spool that outlives its writers"},
    {"rpc", "rpc", "Client-server: remote procedure calls (msgpack-rpc)"},
    {"ring_local", "mpi/ring_local",
     "Direct naming in a ring of processes, over shared memory (the MPI ring, locally)"},
    {"ring_mpi", "mpi/ring_mpi", "MPI: the same ring across processes under mpirun -np 3",
     Runner::mpirun},
};

volatile sig_atomic_t g_interrupted = 0;

struct Outcome {
  int code = 0;  // exit status, 128 + signal, or -1 when the watchdog stopped it
  bool is_interrupted = false;
};

/// Runs `argv` in a process group of its own, so that the watchdog (and Ctrl-C) can stop it
/// together with every process it forked.
Outcome run(const std::vector<std::string>& argv, std::chrono::nanoseconds timeout) {
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  std::fflush(stdout);
  const pid_t child = ::fork();
  if (child < 0) return {127};
  if (child == 0) {
    ::setpgid(0, 0);
    ::execvp(args[0], args.data());
    std::fprintf(stderr, "conduit tour: cannot run %s\n", args[0]);
    ::_exit(127);
  }
  ::setpgid(child, child);  // also here: whichever runs first, the group exists before a kill
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t done = ::waitpid(child, &status, WNOHANG);
    if (done == child) {
      ::kill(-child, SIGKILL);  // whatever the scenario left running goes with it
      return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status)};
    }
    if (done < 0 && errno != EINTR) return {127};
    const bool is_late = std::chrono::steady_clock::now() >= deadline;
    if (is_late || g_interrupted != 0) {
      ::kill(-child, SIGKILL);
      ::waitpid(child, &status, 0);
      return {-1, g_interrupted != 0};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

/// Why `scenario` cannot run here, or empty when it can.
std::string why_skipped(const Scenario& scenario, const std::string& path) {
  if (scenario.runner != Runner::mpirun) return {};
  if (find_program("mpirun").empty())
    return "mpirun not found (scripts/setup installs openmpi-bin); ring_local showed the ring";
  if (::access(path.c_str(), X_OK) != 0)
    return "ring_mpi was not built (CMake did not find MPI); ring_local showed the ring";
  return {};
}

/// Where the example programs are by default: beside an installed `conduit`
/// (<prefix>/libexec/conduit/examples), else in the build tree this command was built in.
std::string default_examples() {
  std::error_code error;
  const auto self = std::filesystem::canonical("/proc/self/exe", error);
  if (!error) {
    const auto installed = self.parent_path() / CONDUIT_EXAMPLES_FROM_BIN;
    if (std::filesystem::is_directory(installed, error)) return installed.lexically_normal();
  }
  return std::string(CONDUIT_BINARY_DIR) + "/examples";
}

}  // namespace

void add_tour(CLI::App& app, int& exit_code) {
  auto* tour =
      app.add_subcommand("tour", "Run every model as a short scenario with real processes");
  static std::string examples = default_examples();
  static std::vector<std::string> only;
  static bool list = false;
  static bool json = false;
  static std::string timeout = "120s";
  tour->add_option("names", only, "Run only these scenarios (see --list)");
  tour->add_option("--examples", examples, "Where the example programs are");
  auto* list_flag = tour->add_flag("-l,--list", list, "List the scenarios instead of running them");
  tour->add_flag("--json", json, "With --list: print JSON")->needs(list_flag);
  tour->add_option("--timeout", timeout, "Stop a scenario that runs longer (default 120s)");
  tour->callback([&exit_code] {
    for (const auto& name : only) {
      if (std::ranges::none_of(kScenarios, [&](const Scenario& s) { return name == s.name; })) {
        std::fprintf(stderr, "conduit tour: no scenario '%s' (conduit tour --list names them)\n",
                     name.c_str());
        exit_code = kUsage;
        return;
      }
    }
    const auto limit = parse_duration(timeout);
    if (!limit || *limit <= std::chrono::nanoseconds::zero()) {
      std::fprintf(stderr, "conduit tour: --timeout %s: not a duration (90s, 2m)\n",
                   timeout.c_str());
      exit_code = kUsage;
      return;
    }
    const auto is_selected = [](const Scenario& s) {
      return only.empty() || std::ranges::find(only, s.name) != only.end();
    };

    if (list) {
      nlohmann::json listing = nlohmann::json::array();
      for (const auto& scenario : kScenarios) {
        if (!is_selected(scenario)) continue;
        const std::string path = examples + "/" + scenario.program;
        const bool is_built = ::access(path.c_str(), X_OK) == 0;
        if (json)
          listing.push_back({{"name", scenario.name},
                             {"title", scenario.title},
                             {"program", path},
                             {"built", is_built},
                             {"mpirun", scenario.runner == Runner::mpirun}});
        else
          fmt::print("{:<18} {}{}\n", scenario.name, scenario.title,
                     is_built ? "" : "  (not built)");
      }
      if (json) fmt::print("{}\n", listing.dump(2));
      exit_code = kOk;
      return;
    }

    struct sigaction on_interrupt{};
    on_interrupt.sa_handler = [](int) { g_interrupted = 1; };
    ::sigaction(SIGINT, &on_interrupt, nullptr);
    ::sigaction(SIGTERM, &on_interrupt, nullptr);
    int ran = 0;
    std::vector<std::string> failed;
    std::vector<std::string> skipped;
    for (const auto& scenario : kScenarios) {
      if (!is_selected(scenario)) continue;
      const std::string path = examples + "/" + scenario.program;
      fmt::print("\n== {}: {}\n", scenario.name, scenario.title);
      if (const std::string why = why_skipped(scenario, path); !why.empty()) {
        fmt::print("  skipped: {}\n", why);
        skipped.emplace_back(scenario.name);
        continue;
      }
      ++ran;
      if (::access(path.c_str(), X_OK) != 0) {
        fmt::print("  !! {} is not built (cmake --build <build dir> --target {})\n", path,
                   scenario.name);
        failed.emplace_back(scenario.name);
        continue;
      }
      std::vector<std::string> argv{path};
      if (scenario.runner == Runner::mpirun)
        argv = {"mpirun", "--allow-run-as-root", "--oversubscribe", "-np", "3", path};
      const Outcome outcome = run(argv, *limit);
      if (outcome.is_interrupted) {
        fmt::print("\ntour: interrupted during {}\n", scenario.name);
        exit_code = kInterrupted;
        return;
      }
      if (outcome.code != 0) {
        if (outcome.code < 0)
          fmt::print("  !! {} ran longer than {}: stopped\n", scenario.name, timeout);
        else
          fmt::print("  !! {} exited with {}\n", scenario.name, outcome.code);
        failed.emplace_back(scenario.name);
      }
    }
    fmt::print("\ntour: {} scenario{} ran, {} failed{}", ran, ran == 1 ? "" : "s", failed.size(),
               failed.empty() ? "" : fmt::format(" ({})", fmt::join(failed, ", ")));
    if (!skipped.empty()) fmt::print(", {} skipped ({})", skipped.size(), fmt::join(skipped, ", "));
    fmt::print("\n");
    exit_code = failed.empty() ? kOk : kFailed;
  });
}

}  // namespace conduit::tool
