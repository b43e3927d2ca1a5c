// conduit-bench: conduit beside every peer, in one run, as ratios. `bench/run` drives it (and
// the MPI rows under mpirun, and the plots); run it alone with --help.
#include <signal.h>
#include <unistd.h>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "harness/harness.hpp"
#include "rows/rows.hpp"

namespace bench {
namespace {

enum class Mode { full, quick, smoke };

const std::vector<std::size_t> kSweep{8, 64, 512, 4096, 32768, 262144, 1048576};

// Each conduit transport beside the raw mechanism it wraps (and beside shm://); rpc beside the
// raw round trip of the transport under it. Rows come in pairs: raw, then conduit's. The quick
// set (make run, under a minute) leaves the transports' table out and keeps rpc's.
void add_transport_groups(std::vector<Group>& all, bool with_transports) {
  if (with_transports)
    all.push_back(
        {.title = "Transport round trip, blocking",
         .ratio_label = "x raw",
         .round_trips = {raw_unix_socket(), conduit_connection("unix"), raw_tcp_loopback(),
                         conduit_connection("tcp"), raw_fifo_pair(), conduit_connection("fifo"),
                         pipe_pair(), conduit_pipe_pair(), posix_mq(), conduit_connection("mq"),
                         sysv_msgq(), conduit_connection("sysv"), conduit_mailbox(Wait::blocking),
                         conduit_connection("shm"), raw_file_spool(), conduit_connection("file")},
         .references = {0, 0, 2, 2, 4, 4, 6, 6, 8, 8, 10, 10, 12, 12, 14, 14},
         .second_reference = 13,
         .second_ratio_label = "x shm://"});
  Group rpc{.title = "RPC round trip, blocking",
            .ratio_label = "x raw",
            .round_trips = {conduit_mailbox(Wait::blocking), conduit_rpc("shm"), raw_unix_socket(),
                            conduit_rpc("unix")},
            .references = {0, 0, 2, 2}};
  if (with_transports) {  // mq, the one half-duplex transport rpc runs over: the full set only
    rpc.round_trips.push_back(posix_mq());
    rpc.round_trips.push_back(conduit_rpc("mq"));
    rpc.references.insert(rpc.references.end(), {4, 4});
  }
  all.push_back(std::move(rpc));
}

// The signal rows block their signals in this thread; they must run before any row starts a
// thread that outlives it (iceoryx's runtime does), or a signal would reach that thread and end
// the process. Threads started later inherit the blocked signals.
void add_signal_group(std::vector<Group>& all) {
  all.push_back(
      {.title = "Transport round trip, signal:// (4 B), blocking",
       .ratio_label = "x raw",
       .round_trips = {raw_sigqueue(), conduit_connection("signal"), conduit_connection("shm")},
       .payloads = {4},
       .references = {0, 0, 2},
       .second_reference = 2,
       .second_ratio_label = "x shm://"});
}

std::vector<Group> groups(Mode mode) {
  const bool full = mode == Mode::full;
  std::vector<Group> all;
  add_signal_group(all);  // first: see there
  all.push_back(
      {.title = "Round trip, busy-poll",
       .ratio_label = "x limit",
       .round_trips = {atomic_limit(), conduit_semaphore(Wait::busy), conduit_channel(Wait::busy),
                       conduit_mailbox(Wait::busy), conduit_endpoint(Wait::busy),
                       boost_message_queue(Wait::busy), iceoryx(Wait::busy)}});
  all.push_back(
      {.title = "Round trip, blocking",
       .ratio_label = "x futex",
       .round_trips = {futex_pingpong(), conduit_semaphore(Wait::blocking),
                       conduit_channel(Wait::blocking), conduit_mailbox(Wait::blocking),
                       conduit_endpoint(Wait::blocking), posix_semaphore(), eventfd_pair(),
                       pipe_pair(), socketpair_stream(), socketpair_seqpacket(), posix_mq(),
                       sysv_msgq(), boost_message_queue(Wait::blocking), zeromq_ipc(), nng_ipc()},
       .after_idle = full});
  if (mode != Mode::quick)
    all.push_back({.title = "Rendezvous round trip (zero capacity), blocking",
                   .ratio_label = "x futex",
                   .round_trips = {futex_pingpong(), conduit_mailbox_rendezvous(Wait::blocking),
                                   conduit_endpoint_rendezvous(Wait::blocking)}});
  if (mode != Mode::quick)  // the quick set: busy and blocking only, to stay under a minute
    all.push_back({.title = "Round trip, adaptive (spin, then sleep)",
                   .ratio_label = "x limit",
                   .round_trips = {atomic_limit(), conduit_semaphore(Wait::adaptive),
                                   conduit_channel(Wait::adaptive), conduit_mailbox(Wait::adaptive),
                                   conduit_endpoint(Wait::adaptive)}});
  all.push_back(
      {.title = "Streaming throughput",
       .ratio_label = "x limit",
       .streams = {ring_limit_stream(), conduit_channel_stream(Wait::busy),
                   conduit_channel_stream(Wait::busy, true), conduit_channel_stream(Wait::blocking),
                   conduit_mailbox_stream(Wait::busy), conduit_mailbox_stream(Wait::blocking),
                   conduit_mailbox_stream(Wait::adaptive), boost_message_queue_stream(),
                   zeromq_push_pull(), pipe_stream(), posix_mq_stream(), socketpair_stream_stream(),
                   socketpair_seqpacket_stream()},
       .payloads =
           full ? std::vector<std::size_t>{64, 4096, 65536} : std::vector<std::size_t>{64}});
  all.push_back({.title = "Mailbox any_one throughput, 1/2/4 receivers (blocking)",
                 .ratio_label = "x 1 receiver",
                 .streams = {conduit_mailbox_any_one_stream(Wait::blocking, 1),
                             conduit_mailbox_any_one_stream(Wait::blocking, 2),
                             conduit_mailbox_any_one_stream(Wait::blocking, 4)}});
  all.push_back({.title = "Mailbox throughput, 1/2/4 sender processes (blocking)",
                 .ratio_label = "x 1 sender",
                 .streams = {conduit_mailbox_many_senders_stream(Wait::blocking, 1),
                             conduit_mailbox_many_senders_stream(Wait::blocking, 2),
                             conduit_mailbox_many_senders_stream(Wait::blocking, 4)}});
  add_transport_groups(all, mode != Mode::quick);
  all.push_back({.title = "Uncontended lock/unlock (one process)",
                 .ratio_label = "x pthread",
                 .loops = {pthread_mutex_loop(), conduit_mutex_loop(), posix_semaphore_loop(),
                           conduit_semaphore_loop()}});
  all.push_back(
      {.title = "Large messages, one way (hand-off vs copies)",
       .ratio_label = "x hand-off",
       .round_trips = {conduit_large_handoff(), conduit_large_handoff_copy(),
                       conduit_large_mailbox_copy(), large_pipe(), large_socket()},
       .payloads = full ? std::vector<std::size_t>{64u << 10, 1u << 20, 16u << 20, 256u << 20}
                   : mode == Mode::quick ? std::vector<std::size_t>{64u << 10, 16u << 20}
                                         : std::vector<std::size_t>{64u << 10},
       .round_trip_floor = 10,
       .warmup = 3});
  if (mode != Mode::quick) {
    all.push_back(
        {.title = "Payload sweep, busy-poll",
         .ratio_label = "x limit",
         .round_trips = {atomic_limit(), conduit_channel(Wait::busy), conduit_mailbox(Wait::busy)},
         .payloads = full ? kSweep : std::vector<std::size_t>{8, 1048576}});
    all.push_back({.title = "Payload sweep, blocking",
                   .ratio_label = "x futex",
                   .round_trips = {futex_pingpong(), conduit_channel(Wait::blocking),
                                   conduit_mailbox(Wait::blocking), socketpair_stream(),
                                   pipe_pair(), zeromq_ipc()},
                   .payloads = full ? kSweep : std::vector<std::size_t>{8, 1048576}});
    all.push_back({.title = "Mailbox payload sweep, streaming: loans and views vs copies",
                   .ratio_label = "x limit",
                   .streams = {ring_limit_stream(), conduit_mailbox_stream(Wait::busy),
                               conduit_mailbox_loan_stream(Wait::busy),
                               conduit_mailbox_stream(Wait::blocking),
                               conduit_mailbox_loan_stream(Wait::blocking)},
                   .payloads = full ? kSweep : std::vector<std::size_t>{8, 1048576}});
  }
  return all;
}

Settings settings_for(Mode mode) {
  Settings settings;
  if (mode == Mode::quick) {
    settings.blocks = 3;
    settings.round_trips = 3000;
    settings.stream_bytes = 8u << 20;
    settings.loop_count = 1'000'000;
  } else if (mode == Mode::smoke) {
    settings.blocks = 1;
    settings.round_trips = 100;
    settings.stream_bytes = 1000;
    settings.loop_count = 1000;
  }
  return settings;
}

std::string human_ns(double ns) {
  if (ns <= 0) return "-";
  if (ns < 1e3) return fmt::format("{:.0f} ns", ns);
  if (ns < 1e6) return fmt::format("{:.1f} us", ns / 1e3);
  return fmt::format("{:.2f} ms", ns / 1e6);
}

std::string human_rate(double value, const char* unit) {
  if (value >= 1e9) return fmt::format("{:.2f} G{}", value / 1e9, unit);
  if (value >= 1e6) return fmt::format("{:.2f} M{}", value / 1e6, unit);
  if (value >= 1e3) return fmt::format("{:.1f} k{}", value / 1e3, unit);
  return fmt::format("{:.0f} {}", value, unit);
}

std::string human_size(std::size_t bytes) {
  if (bytes >= (1u << 20) && bytes % (1u << 20) == 0) return fmt::format("{} MiB", bytes >> 20);
  if (bytes >= 1024 && bytes % 1024 == 0) return fmt::format("{} KiB", bytes >> 10);
  return fmt::format("{} B", bytes);
}

void print_group(const Group& group, const std::vector<RowResult>& results) {
  fmt::print("\n{}\n", group.title);
  const std::string& kind = results.empty() ? std::string() : results.front().kind;
  // Groups that pair rows (each with its own reference) or add a second ratio say so.
  const bool is_paired = !group.references.empty();
  const auto extra = [&](const RowResult* row) {
    std::string text;
    if (group.second_reference)
      text += row == nullptr          ? fmt::format(" {:>10}", group.second_ratio_label)
              : row->second_ratio > 0 ? fmt::format(" {:>10.2f}", row->second_ratio)
                                      : fmt::format(" {:>10}", "-");
    if (is_paired) text += row == nullptr ? "  against" : "  " + row->reference;
    return text;
  };
  // The name column fits the group's longest name.
  std::size_t width = 36;
  for (const auto& row : results) width = std::max(width, row.name.size());
  if (kind == "round_trip")
    fmt::print("  {:<{}} {:>9} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10}{}\n", "row", width,
               "payload", "wait", "p50", "p90", "p99", "p99.9", "max", "idle", group.ratio_label,
               extra(nullptr));
  else if (kind == "stream")
    fmt::print("  {:<{}} {:>9} {:>8} {:>12} {:>12} {:>10}\n", "row", width, "payload", "wait",
               "msg/s", "bytes/s", group.ratio_label);
  else
    fmt::print("  {:<{}} {:>12} {:>10}\n", "row", width, "per op", group.ratio_label);
  for (const auto& row : results) {
    if (!row.error.empty()) {
      fmt::print("  {:<{}} {:>9}  did not run: {}\n", row.name, width, human_size(row.payload),
                 row.error);
      continue;
    }
    const std::string ratio = row.ratio > 0 ? fmt::format("{:.2f}", row.ratio) : "-";
    if (row.kind == "round_trip")
      fmt::print("  {:<{}} {:>9} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10}{}\n", row.name,
                 width, human_size(row.payload), to_string(row.wait), human_ns(row.round_trip.p50),
                 human_ns(row.round_trip.p90), human_ns(row.round_trip.p99),
                 human_ns(row.round_trip.p999), human_ns(row.round_trip.max),
                 human_ns(row.after_idle_ns), ratio, extra(&row));
    else if (row.kind == "stream")
      fmt::print("  {:<{}} {:>9} {:>8} {:>12} {:>12} {:>10}\n", row.name, width,
                 human_size(row.payload), to_string(row.wait),
                 human_rate(row.messages_per_s, "msg/s"), human_rate(row.bytes_per_s, "B/s"),
                 ratio);
    else
      fmt::print("  {:<{}} {:>12} {:>10}\n", row.name, width, human_ns(row.round_trip.p50), ratio);
  }
  std::fflush(stdout);
}

/// Keeps the reference (the first row), the rows whose name matches `filter`, and the rows
/// those are compared with (group.references, group.second_reference), whose indices it
/// renumbers: a paired row keeps its own reference.
template <class Row>
void keep_rows(std::vector<Factory<Row>>& factories, const std::regex& filter, Group& group) {
  const std::size_t n = factories.size();
  if (n == 0) return;
  const auto reference_of = [&](std::size_t r) {
    return r < group.references.size() ? group.references[r] : 0;
  };
  std::vector<bool> is_kept(n, false);
  is_kept[0] = true;
  for (std::size_t r = 1; r < n; ++r)
    is_kept[r] = std::regex_search(factories[r]()->name(), filter);
  // The second reference first: it is a row with a reference of its own, kept with it.
  if (group.second_reference && *group.second_reference < n)
    is_kept[*group.second_reference] = true;
  for (std::size_t r = 0; r < n; ++r)
    if (is_kept[r] && reference_of(r) < n) is_kept[reference_of(r)] = true;
  std::vector<std::size_t> renumbered(n, n);
  std::vector<Factory<Row>> kept;
  for (std::size_t r = 0; r < n; ++r) {
    if (!is_kept[r]) continue;
    renumbered[r] = kept.size();
    kept.push_back(std::move(factories[r]));
  }
  if (!group.references.empty()) {
    std::vector<std::size_t> references;
    for (std::size_t r = 0; r < n; ++r)
      if (is_kept[r]) references.push_back(reference_of(r) < n ? renumbered[reference_of(r)] : n);
    group.references = std::move(references);
  }
  if (group.second_reference && *group.second_reference < n)
    group.second_reference = renumbered[*group.second_reference];
  factories = std::move(kept);
}

nlohmann::json to_json(const RowResult& row) {
  nlohmann::json json{{"group", row.group},          {"kind", row.kind},       {"name", row.name},
                      {"wait", to_string(row.wait)}, {"payload", row.payload}, {"ratio", row.ratio},
                      {"samples", row.samples}};
  if (!row.error.empty()) json["error"] = row.error;
  if (!row.reference.empty()) json["reference"] = row.reference;
  if (row.second_ratio > 0) json["second_ratio"] = row.second_ratio;
  if (row.kind == "round_trip") {
    json["round_trip_ns"] = {{"p50", row.round_trip.p50},
                             {"p90", row.round_trip.p90},
                             {"p99", row.round_trip.p99},
                             {"p99.9", row.round_trip.p999},
                             {"max", row.round_trip.max}};
    if (row.after_idle_ns > 0) json["after_idle_ns"] = row.after_idle_ns;
  } else if (row.kind == "stream") {
    json["messages_per_s"] = row.messages_per_s;
    json["bytes_per_s"] = row.bytes_per_s;
  } else {
    json["ns_per_op"] = row.round_trip.p50;
  }
  return json;
}

}  // namespace
}  // namespace bench

int main(int argc, char** argv) {
  using namespace bench;
  CLI::App app{"conduit-bench: conduit beside its peers, in one run, as ratios"};
  bool quick = false, smoke = false, list = false;
  std::string json_path, only, rows;
  app.add_flag("--quick", quick, "The quick set (under a minute)");
  app.add_flag("--smoke", smoke,
               "A tiny iteration of every row (for the test that keeps it honest)");
  app.add_option("--json", json_path, "Also write the results as JSON to this file");
  app.add_option("--only", only, "Run only the groups whose title matches this regex");
  app.add_option("--rows", rows,
                 "Run only the rows whose name matches this regex (and each group's reference)");
  app.add_flag("--list", list, "List the groups and exit");
  std::size_t blocks = 0;
  app.add_option("--blocks", blocks,
                 "Blocks per row (more: a steadier median ratio on a noisy machine)")
      ->check(CLI::Range(1, 1000));
  std::size_t round_trips = 0;
  app.add_option("--round-trips", round_trips, "Round trips per block and row, at 64 B")
      ->check(CLI::Range(1, 10'000'000));
  CLI11_PARSE(app, argc, argv);
  ::signal(SIGPIPE, SIG_IGN);  // a stream whose reader died is an error of its row, not our death
  const Mode mode = smoke ? Mode::smoke : quick ? Mode::quick : Mode::full;
  Settings settings = settings_for(mode);
  if (blocks != 0) settings.blocks = blocks;
  if (round_trips != 0) settings.round_trips = round_trips;
  settings.show_progress = ::isatty(STDERR_FILENO) != 0;

  auto all = groups(mode);
  if (!rows.empty()) {
    const std::regex row_filter(rows, std::regex::icase);
    for (auto& group : all) {
      keep_rows(group.round_trips, row_filter, group);
      keep_rows(group.streams, row_filter, group);
      keep_rows(group.loops, row_filter, group);
    }
  }
  if (list) {
    for (const auto& group : all) fmt::print("{}\n", group.title);
    return 0;
  }
  fmt::print("conduit bench ({}): {}\n{}; {} blocks per row, interleaved\n",
             mode == Mode::full    ? "full"
             : mode == Mode::quick ? "quick"
                                   : "smoke",
             machine_description(), pinning_description(), settings.blocks);
  std::fflush(stdout);

  nlohmann::json json{{"machine", machine_description()},
                      {"pinning", pinning_description()},
                      {"mode", mode == Mode::full    ? "full"
                               : mode == Mode::quick ? "quick"
                                                     : "smoke"},
                      {"blocks", settings.blocks},
                      {"rows", nlohmann::json::array()}};
  const std::regex filter(only.empty() ? ".*" : only, std::regex::icase);
  int failed_rows = 0;
  for (const auto& group : all) {
    if (!std::regex_search(group.title, filter)) continue;
    const auto results = run_group(group, settings);
    print_group(group, results);
    for (const auto& row : results) {
      json["rows"].push_back(to_json(row));
      failed_rows += row.error.empty() ? 0 : 1;
    }
  }
  if (!json_path.empty()) {
    std::ofstream out(json_path);
    out << json.dump(2) << '\n';
    if (!out) {
      fmt::print(stderr, "conduit-bench: cannot write {}\n", json_path);
      return 1;
    }
  }
  fmt::print(
      "\nratios: median over blocks of (row / reference) for latency; (row rate / reference "
      "rate) for streams.\n");
  if (failed_rows > 0) fmt::print("{} row(s) did not run (see above)\n", failed_rows);
  return 0;
}
