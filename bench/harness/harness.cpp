#include "harness.hpp"

#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

namespace bench {
namespace {

using Clock = std::chrono::steady_clock;

bool can_pin() { return std::thread::hardware_concurrency() >= 2; }

constexpr unsigned kChildAlarmSeconds = 300;  // a child stuck in a peer's call dies, not hangs

double monotonic_ns() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<double>(now.tv_sec) * 1e9 + static_cast<double>(now.tv_nsec);
}

/// Forks a child running `body` on CPU 1 under an alarm; returns its pid.
template <class Body>
pid_t fork_child(Body&& body) {
  std::fflush(nullptr);
  const pid_t child = ::fork();
  if (child < 0) throw std::runtime_error("fork failed");
  if (child == 0) {
    ::alarm(kChildAlarmSeconds);
    pin_to(1);
    try {
      body();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "\nbench child: %s\n", e.what());
      std::fflush(nullptr);
      ::_exit(3);
    }
    std::fflush(nullptr);
    ::_exit(0);
  }
  return child;
}

/// While the parent waits on a row's peer, a child that fails would leave it waiting for ever:
/// this watchdog ends the whole run with a message instead (a benchmark that hangs helps
/// nobody; one that stops and says which row failed does).
class ChildWatch {
 public:
  ChildWatch(pid_t child, std::string row) : child_(child), row_(std::move(row)) {
    thread_ = std::thread([this] { watch(); });
  }
  ~ChildWatch() {
    done_.store(true);
    thread_.join();
  }

 private:
  void watch() {
    while (!done_.load()) {
      siginfo_t info{};
      // WNOWAIT: look without reaping; reap() does that once the parent is through.
      if (::waitid(P_PID, static_cast<id_t>(child_), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
          info.si_pid == child_ && !(info.si_code == CLD_EXITED && info.si_status == 0)) {
        for (int i = 0; i < 200 && !done_.load(); ++i)  // the parent may be just finishing
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        if (done_.load()) return;
        std::fprintf(stderr,
                     "\nconduit-bench: %s: the other process %s %d while this one "
                     "waited for it; stopping\n",
                     row_.c_str(),
                     info.si_code == CLD_EXITED ? "exited with status" : "died of signal",
                     info.si_status);
        std::fflush(nullptr);
        ::kill(child_, SIGKILL);
        ::_exit(2);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  pid_t child_;
  std::string row_;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

void reap(pid_t child) {
  int status = 0;
  ::waitpid(child, &status, 0);
  unpin();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw std::runtime_error(WIFSIGNALED(status) ? "the other process died of signal " +
                                                       std::to_string(WTERMSIG(status))
                                                 : "the other process failed");
}

std::size_t round_trips_for(const Settings& settings, std::size_t payload, std::size_t floor) {
  // Large payloads take longer per round trip: keep a block's bytes near those of 64 B.
  const std::size_t scaled = settings.round_trips * 64 / std::max<std::size_t>(payload, 64);
  return std::max<std::size_t>(std::min(scaled, settings.round_trips), floor);
}

std::size_t stream_count_for(const Settings& settings, std::size_t payload) {
  return std::clamp<std::size_t>(settings.stream_bytes / std::max<std::size_t>(payload, 1), 1000,
                                 2'000'000);
}

// One block of one round-trip row: a fresh child answers, the parent times each round trip.
// Samples of round trips after 1 s idle come back negative, to be told apart.
std::vector<double> run_round_trip_block(RoundTrip& row, std::size_t count, bool after_idle,
                                         std::size_t warmup) {
  const std::size_t idle_probes = after_idle ? 3 : 0;
  row.begin_block();
  const pid_t child = fork_child([&] { row.serve(warmup + count + idle_probes); });
  std::optional<ChildWatch> watch(std::in_place, child, row.name());
  pin_to(0);
  std::vector<double> samples;
  samples.reserve(count + idle_probes);
  try {
    for (std::size_t i = 0; i < warmup; ++i) row.ping();
    for (std::size_t i = 0; i < count; ++i) {
      const auto start = Clock::now();
      row.ping();
      samples.push_back(std::chrono::duration<double, std::nano>(Clock::now() - start).count());
    }
    for (std::size_t i = 0; i < idle_probes; ++i) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
      const auto start = Clock::now();
      row.ping();
      samples.push_back(-std::chrono::duration<double, std::nano>(Clock::now() - start).count());
    }
    row.end_block();
  } catch (...) {
    watch.reset();
    ::kill(child, SIGKILL);  // our side failed: the child may wait for ever
    ::waitpid(child, nullptr, 0);
    unpin();
    throw;
  }
  watch.reset();
  reap(child);
  return samples;
}

// One block of one stream row: returns the seconds from the first send to the last receive.
double run_stream_block(Stream& row, std::size_t count) {
  struct Marks {
    std::atomic<int> ready{0};
    std::atomic<double> end_ns{0};
  };
  auto* marks = static_cast<Marks*>(
      ::mmap(nullptr, sizeof(Marks), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  if (marks == MAP_FAILED) throw std::runtime_error("mmap failed");
  new (marks) Marks;
  row.begin_block();
  const pid_t child = fork_child([&] {
    row.attach_consumer();
    marks->ready.store(1);
    row.consume(count);
    marks->end_ns.store(monotonic_ns());
  });
  pin_to(0);
  while (marks->ready.load() == 0) {
    int status = 0;
    if (::waitpid(child, &status, WNOHANG) == child) {
      ::munmap(marks, sizeof(Marks));
      unpin();
      throw std::runtime_error("the consumer failed to attach");
    }
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  const double start = monotonic_ns();
  {
    ChildWatch watch(child, row.name());
    try {
      row.produce(count);
    } catch (...) {
      ::kill(child, SIGKILL);
      ::waitpid(child, nullptr, 0);
      ::munmap(marks, sizeof(Marks));
      unpin();
      throw;
    }
  }
  reap(child);
  const double seconds = (marks->end_ns.load() - start) / 1e9;
  ::munmap(marks, sizeof(Marks));
  return seconds;
}

double run_loop_block(Loop& row, std::size_t count) {
  pin_to(0);
  const auto start = Clock::now();
  row.run(count);
  const double ns = std::chrono::duration<double, std::nano>(Clock::now() - start).count();
  unpin();
  return ns / static_cast<double>(count);
}

void progress(const Settings& settings, const Group& group, std::size_t block,
              const RowResult& row) {
  if (!settings.show_progress) return;
  std::fprintf(stderr, "\r  %-44.44s %8zu B  block %zu/%zu  %-36.36s", group.title.c_str(),
               row.payload, block + 1, settings.blocks, row.name.c_str());
}

// The interleaved-blocks method, for any kind of row. `measure(r)` runs one block of row r and
// returns its figure (smaller is better for latency; ratios are taken as row / reference).
template <class Row, class Measure>
std::vector<RowResult> interleave(const Group& group, const Settings& settings,
                                  const std::vector<Factory<Row>>& factories, const char* kind,
                                  std::size_t payload, Measure&& measure,
                                  std::vector<std::unique_ptr<Row>>& rows) {
  const std::size_t n = factories.size();
  std::vector<RowResult> results(n);
  for (std::size_t r = 0; r < n; ++r) {
    rows.push_back(factories[r]());
    results[r].group = group.title;
    results[r].kind = kind;
    results[r].name = rows[r]->name();
    results[r].payload = payload;
    try {
      if constexpr (std::is_same_v<Row, Loop>)
        rows[r]->prepare();
      else
        rows[r]->prepare(payload);
    } catch (const std::exception& e) {
      results[r].error = e.what();
    }
  }
  std::vector<std::vector<double>> figures(n);
  for (std::size_t block = 0; block < settings.blocks; ++block) {
    for (std::size_t k = 0; k < n; ++k) {
      const std::size_t r = (block + k) % n;  // rotate the order each block
      if (!results[r].error.empty()) continue;
      progress(settings, group, block, results[r]);
      try {
        figures[r].push_back(measure(r, block, results[r]));
      } catch (const std::exception& e) {
        results[r].error = e.what();
      }
    }
  }
  if (settings.show_progress) std::fprintf(stderr, "\r%-120s\r", "");
  // Median over blocks of (row r / row `ref`), both measured in the same block.
  const auto ratio_to = [&](std::size_t r, std::size_t ref) {
    if (ref >= n || !results[r].error.empty() || !results[ref].error.empty()) return 0.0;
    std::vector<double> ratios;
    for (std::size_t b = 0; b < figures[r].size() && b < figures[ref].size(); ++b)
      if (figures[ref][b] > 0) ratios.push_back(figures[r][b] / figures[ref][b]);
    return median(ratios);
  };
  for (std::size_t r = 0; r < n; ++r) {
    const std::size_t ref = r < group.references.size() ? group.references[r] : 0;
    results[r].ratio = ratio_to(r, ref);
    if (ref < n) results[r].reference = results[ref].name;
    if (group.second_reference) results[r].second_ratio = ratio_to(r, *group.second_reference);
  }
  return results;
}

}  // namespace

void pin_to(int cpu) {
  if (!can_pin()) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  ::sched_setaffinity(0, sizeof set, &set);
}

void unpin() {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (unsigned cpu = 0; cpu < std::thread::hardware_concurrency(); ++cpu) CPU_SET(cpu, &set);
  ::sched_setaffinity(0, sizeof set, &set);
}

const char* to_string(Wait wait) {
  switch (wait) {
    case Wait::busy: return "busy";
    case Wait::blocking: return "blocking";
    case Wait::adaptive: return "adaptive";
  }
  return "?";
}

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  const auto middle = values.begin() + static_cast<std::ptrdiff_t>(values.size() / 2);
  std::nth_element(values.begin(), middle, values.end());
  return *middle;
}

Percentiles percentiles(std::vector<double> samples) {
  Percentiles result;
  if (samples.empty()) return result;
  std::sort(samples.begin(), samples.end());
  // Nearest rank: the smallest sample with at least q of all samples at or below it.
  const auto at = [&](double q) {
    const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(samples.size())));
    return samples[std::clamp<std::size_t>(rank, 1, samples.size()) - 1];
  };
  result.p50 = at(0.5);
  result.p90 = at(0.9);
  result.p99 = at(0.99);
  result.p999 = at(0.999);
  result.max = samples.back();
  return result;
}

std::vector<RowResult> run_group(const Group& group, const Settings& settings) {
  std::vector<RowResult> all;
  for (const std::size_t payload : group.payloads) {
    if (!group.round_trips.empty()) {
      std::vector<std::unique_ptr<RoundTrip>> rows;
      std::vector<std::vector<double>> samples(group.round_trips.size()), idle(samples.size());
      const std::size_t count = round_trips_for(settings, payload, group.round_trip_floor);
      auto results = interleave(
          group, settings, group.round_trips, "round_trip", payload,
          [&](std::size_t r, std::size_t block, RowResult&) {
            auto block_samples =
                run_round_trip_block(*rows[r], count, group.after_idle && block == 0, group.warmup);
            std::vector<double> timed;
            for (double s : block_samples) (s < 0 ? idle[r] : timed).push_back(s < 0 ? -s : s);
            samples[r].insert(samples[r].end(), timed.begin(), timed.end());
            return median(timed);
          },
          rows);
      for (std::size_t r = 0; r < rows.size(); ++r) {
        rows[r]->cleanup();
        results[r].wait = rows[r]->wait();
        results[r].round_trip = percentiles(samples[r]);
        results[r].samples = samples[r].size();
        results[r].after_idle_ns = median(idle[r]);
      }
      all.insert(all.end(), results.begin(), results.end());
    }
    if (!group.streams.empty()) {
      std::vector<std::unique_ptr<Stream>> rows;
      const std::size_t count = stream_count_for(settings, payload);
      std::vector<std::vector<double>> rates(group.streams.size());
      auto results = interleave(
          group, settings, group.streams, "stream", payload,
          [&](std::size_t r, std::size_t, RowResult&) {
            const double seconds = run_stream_block(*rows[r], count);
            rates[r].push_back(static_cast<double>(count) / seconds);
            return seconds;  // ratio of times: the reference's rate / the row's rate, inverted
                             // below
          },
          rows);
      for (std::size_t r = 0; r < rows.size(); ++r) {
        rows[r]->cleanup();
        results[r].wait = rows[r]->wait();
        results[r].messages_per_s = median(rates[r]);
        results[r].bytes_per_s = results[r].messages_per_s * static_cast<double>(payload);
        results[r].samples = rates[r].size();
        // Throughput ratios read as "fraction of the reference's rate": invert time ratios.
        if (results[r].ratio > 0) results[r].ratio = 1 / results[r].ratio;
        if (results[r].second_ratio > 0) results[r].second_ratio = 1 / results[r].second_ratio;
      }
      all.insert(all.end(), results.begin(), results.end());
    }
  }
  if (!group.loops.empty()) {
    std::vector<std::unique_ptr<Loop>> rows;
    std::vector<std::vector<double>> per_op(group.loops.size());
    auto results = interleave(
        group, settings, group.loops, "loop", 0,
        [&](std::size_t r, std::size_t, RowResult&) {
          const double ns = run_loop_block(*rows[r], settings.loop_count);
          per_op[r].push_back(ns);
          return ns;
        },
        rows);
    for (std::size_t r = 0; r < rows.size(); ++r) {
      rows[r]->cleanup();
      results[r].round_trip = percentiles(per_op[r]);
      results[r].samples = per_op[r].size();
    }
    all.insert(all.end(), results.begin(), results.end());
  }
  return all;
}

std::string machine_description() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line, model = "unknown CPU";
  while (std::getline(cpuinfo, line))
    if (line.rfind("model name", 0) == 0) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  utsname name{};
  ::uname(&name);
  return model + ", " + std::to_string(std::thread::hardware_concurrency()) + " cores, Linux " +
         name.release;
}

std::string pinning_description() {
  return can_pin() ? "parent pinned to CPU 0, the other process to CPU 1" : "not pinned (one CPU)";
}

}  // namespace bench
