// The benchmark harness: conduit beside its peers in the same run, reported as ratios.
//
// Three kinds of row, each a real program doing one thing the plain way:
//   RoundTrip  two processes: the parent sends a message, the child sends it back (latency);
//   Stream     two processes: the parent sends `count` messages, the child takes them all
//              (throughput);
//   Loop       one process: an operation repeated (uncontended lock/unlock and the like).
//
// Method: a group's rows run in interleaved blocks (A B C, then B C A, ...), so machine noise
// hits all of them alike; each row's ratio is the median over blocks of (its block figure / the
// reference row's figure in the same block). Every round-trip sample is kept and percentiles
// are exact. A fresh child process answers every block. The parent is pinned to CPU 0 and the
// child to CPU 1 when the machine has two or more (stated in the output).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace bench {

/// How a row waits: never compare a spinning row with a sleeping one.
enum class Wait { busy, blocking, adaptive };
const char* to_string(Wait wait);

/// One way to do a round trip between two processes.
class RoundTrip {
 public:
  virtual ~RoundTrip() = default;
  [[nodiscard]] virtual std::string name() const = 0;
  [[nodiscard]] virtual Wait wait() const = 0;
  /// Parent, before the fork: make whatever carries `payload`-byte messages both ways.
  virtual void prepare(std::size_t payload) = 0;
  /// Parent, before each block's fork: a fresh child answers every block.
  virtual void begin_block() {}
  /// Child: answer `count` messages (receive one, send it back), then return.
  virtual void serve(std::size_t count) = 0;
  /// Parent: send one message and wait for the answer.
  virtual void ping() = 0;
  /// Parent, after a block's last ping, before it waits for the child to end.
  virtual void end_block() {}
  /// Parent, after the child ended: remove what prepare made.
  virtual void cleanup() {}
};

/// One way to stream messages from one process to another.
class Stream {
 public:
  virtual ~Stream() = default;
  [[nodiscard]] virtual std::string name() const = 0;
  [[nodiscard]] virtual Wait wait() const = 0;
  /// Parent, before the fork.
  virtual void prepare(std::size_t payload) = 0;
  /// Parent, before each block's fork (reset what a block used up).
  virtual void begin_block() {}
  /// Child: connect or attach, whatever must happen before the clock starts.
  virtual void attach_consumer() {}
  /// Child: take `count` messages (checking they arrive whole), then return.
  virtual void consume(std::size_t count) = 0;
  /// Parent: send `count` messages, each `payload` bytes.
  virtual void produce(std::size_t count) = 0;
  virtual void cleanup() {}
};

/// One operation repeated in one process.
class Loop {
 public:
  virtual ~Loop() = default;
  [[nodiscard]] virtual std::string name() const = 0;
  virtual void prepare() {}
  virtual void run(std::size_t count) = 0;
  virtual void cleanup() {}
};

template <class Row>
using Factory = std::function<std::unique_ptr<Row>()>;

struct Percentiles {
  double p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0;  // nanoseconds
};
Percentiles percentiles(std::vector<double> samples);
double median(std::vector<double> values);

struct RowResult {
  std::string group;
  std::string kind;  // "round_trip", "stream" or "loop"
  std::string name;
  Wait wait = Wait::busy;
  std::size_t payload = 0;
  Percentiles round_trip;     // round_trip: ns; loop: ns per operation in p50
  double messages_per_s = 0;  // stream
  double bytes_per_s = 0;     // stream
  double ratio = 0;           // median over blocks of (row / reference); 0 = no reference
  std::string reference;      // the name of the row `ratio` compares with
  double second_ratio = 0;    // against Group::second_reference (0 = none)
  double after_idle_ns = 0;   // first round trip after 1 s idle (0 = not measured)
  std::size_t samples = 0;
  std::string error;  // why the row could not run
};

struct Group {
  std::string title;
  std::string ratio_label;  // what the ratio compares with: "x limit", "x futex", ...
  std::vector<Factory<RoundTrip>> round_trips;  // [0] is the reference
  std::vector<Factory<Stream>> streams;
  std::vector<Factory<Loop>> loops;
  std::vector<std::size_t> payloads{64};
  bool after_idle = false;
  /// Row r's ratio compares with row references[r] (a conduit mechanism with the raw one it
  /// wraps, say); empty: every row with row 0.
  std::vector<std::size_t> references;
  /// A second ratio column, every row against this one row ("x shm://"); none when unset.
  std::optional<std::size_t> second_reference;
  std::string second_ratio_label;
  /// The fewest round trips a row makes per block, however large the payload (a block must end
  /// well within the child's alarm: 100 round trips of 256 MiB do not).
  std::size_t round_trip_floor = 100;
  /// Round trips before the clock starts, in every block.
  std::size_t warmup = 1000;
};

struct Settings {
  std::size_t blocks = 5;
  std::size_t round_trips = 20000;        // per block and row, at 64 B (fewer for large payloads)
  std::size_t stream_bytes = 256u << 20;  // per block and row (at least 1,000 messages)
  std::size_t loop_count = 2'000'000;
  bool show_progress = true;
};

/// Runs a group; returns one result per row and payload, in row order.
std::vector<RowResult> run_group(const Group& group, const Settings& settings);

/// CPU model, cores, kernel; and the pinning used.
std::string machine_description();
std::string pinning_description();

/// Pins the calling process to `cpu` (when the machine has two or more), or to all CPUs.
void pin_to(int cpu);
void unpin();

}  // namespace bench
