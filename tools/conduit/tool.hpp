// Shared pieces of the conduit command: how objects are described, durations parsed, and
// errors reported. Each verb lives in its own file and registers itself with add_<verb>().
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "conduit/conduit.hpp"

namespace conduit::tool {

/// Exit codes a shell user can branch on.
enum Exit : int {
  kOk = 0,
  kFailed = 1,         // the operation failed (the message says why)
  kUsage = 2,          // bad command line
  kNothing = 3,        // recv: timed out or nothing there; a condition, not a failure
  kInterrupted = 130,  // Ctrl-C (SIGINT) or SIGTERM, as a shell reports 128 + SIGINT
};

/// Everything `ls` and `stat` know about one object.
struct ObjectInfo {
  std::string name;
  std::string kind;     // "mailbox", "shared memory", ... or "unknown" / "corrupted"
  std::string problem;  // why it could not be read, if it could not
  ProcessId owner;
  bool owner_alive = false;
  std::string lifetime;
  unsigned mode = 0;
  std::uint64_t bytes = 0;
  std::optional<MailboxStats> mailbox;
  std::optional<ChannelStats> channel;
};

/// Describes namespace entry `name` without attaching to it.
ObjectInfo describe(const std::string& name);
nlohmann::json to_json(const ObjectInfo& info);
std::string capacity_text(const Capacity& capacity);
std::string receivers_text(Receivers receivers);
/// "3/8": what the depth-over-capacity column shows ("-" for objects without one).
std::string depth_text(const ObjectInfo& info);

/// "250ms", "2s", "1.5m", "100us", "10" (seconds). nullopt when it is not a duration.
std::optional<std::chrono::nanoseconds> parse_duration(const std::string& text);

/// The full path of `program` found on $PATH, or empty.
std::string find_program(const std::string& program);

/// Prints "conduit: <message>" on stderr and returns kFailed.
int report(const Error& error);

void add_create(CLI::App& app, int& exit_code);
void add_ls(CLI::App& app, int& exit_code);
void add_stat(CLI::App& app, int& exit_code);
void add_rm(CLI::App& app, int& exit_code);
void add_send(CLI::App& app, int& exit_code);
void add_recv(CLI::App& app, int& exit_code);
void add_watch(CLI::App& app, int& exit_code);
void add_doctor(CLI::App& app, int& exit_code);
void add_bench(CLI::App& app, int& exit_code);
void add_tour(CLI::App& app, int& exit_code);

}  // namespace conduit::tool
