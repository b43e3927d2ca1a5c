// conduit tour: every textbook model, run as short scenarios with real processes. Each one is
// a standalone program in examples/; the tour runs them in order and says what each shows.
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <string>
#include <vector>

#include "tool.hpp"

namespace conduit::tool {
namespace {

struct Scenario {
  const char* program;
  const char* title;
};

// In teaching order. Programs that were not built (a transport not there yet) are skipped.
constexpr Scenario kScenarios[] = {
    {"shared_counter", "Shared memory: two processes share one named object"},
    {"bounded_buffer", "Bounded buffer: the producer waits while the mailbox is full"},
    {"unbounded_buffer", "Unbounded buffer: send never blocks; the mailbox grows"},
    {"rendezvous", "Zero capacity: sender and receiver meet"},
    {"empties", "Flow control: the consumer sends N empties"},
    {"direct_naming", "Direct naming: endpoints, symmetric and asymmetric"},
    {"receivers", "Receivers: any_one with receipts, broadcast, exclusive, pair"},
    {"selective_receive", "Selective receive by type (System V msgrcv)"},
    {"process_owned", "A process-owned mailbox vanishes with its owner"},
    {"synchronisation", "Semaphores, a barrier, and a robust mutex recovering from a dead owner"},
    {"pipes", "Pipes between parent and child (two for duplex), and a FIFO"},
    {"sockets", "Sockets: Unix and TCP (IP:port)"},
    {"queues", "POSIX and System V message queues"},
    {"signal_and_file", "A signal, and a spool file"},
    {"rpc", "Remote procedure calls (msgpack-rpc)"},
    {"mpi", "MPI: the direct-naming API across processes under mpirun"},
};

int run(const std::string& path) {
  std::fflush(stdout);
  const pid_t child = ::fork();
  if (child == 0) {
    ::execl(path.c_str(), path.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

void add_tour(CLI::App& app, int& exit_code) {
  auto* tour =
      app.add_subcommand("tour", "Run every model as a short scenario with real processes");
  static std::string examples = std::string(CONDUIT_BINARY_DIR) + "/examples";
  tour->add_option("--examples", examples, "Where the example programs are");
  tour->callback([&exit_code] {
    int failed = 0;
    int ran = 0;
    for (const auto& scenario : kScenarios) {
      const std::string path = examples + "/" + scenario.program;
      if (::access(path.c_str(), X_OK) != 0) continue;
      fmt::print("\n== {} ({})\n", scenario.title, scenario.program);
      const int code = run(path);
      ++ran;
      if (code != 0) {
        ++failed;
        fmt::print("  !! {} exited with {}\n", scenario.program, code);
      }
    }
    fmt::print("\ntour: {} scenarios, {} failed\n", ran, failed);
    exit_code = failed == 0 && ran > 0 ? kOk : kFailed;
  });
}

}  // namespace conduit::tool
