// conduit-bench-mpi: Open MPI beside the limit and conduit, in one run, as ratios. Runs as two
// ranks on one machine under mpirun (bench/run starts it over shared memory and over TCP).
//
// The reference rows live in an MPI shared window (MPI_Win_allocate_shared), so the limit is
// measured by the same two processes, in the same run, interleaved block by block with MPI's
// own send/receive and with conduit's Mailbox between the two ranks. conduit's mpi::World is
// measured beside the raw MPI_Send/MPI_Recv it wraps, in a group of its own.
#include <mpi.h>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "../harness/harness.hpp"
#include "conduit/conduit.hpp"
#include "conduit/mpi/world.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string mode = "full";
  std::string transport = "sm";
  std::string json_path;
};

// The shared window: two round-trip flags and a ring, each on its own cache lines.
struct alignas(64) Window {
  alignas(64) std::atomic<std::uint64_t> ping{0};
  alignas(64) std::atomic<std::uint64_t> pong{0};
  alignas(64) std::atomic<std::uint64_t> head{0};
  alignas(64) std::atomic<std::uint64_t> tail{0};
};
constexpr std::size_t kRingSlots = 256;
constexpr std::size_t kMaxPayload = 65536;

/// A row: rank 0 runs `lead(count)` and rank 1 runs `follow(count)`; the figure is rank 0's.
struct Row {
  std::string name;
  std::string wait;
  std::function<void(std::size_t)> lead, follow;
};

class Bench {
 public:
  Bench(int rank, std::size_t payload, conduit::mpi::World& world)
      : rank_(rank), payload_(payload), world_(world) {
    MPI_Aint size =
        rank == 0
            ? static_cast<MPI_Aint>(sizeof(Window) + 2 * kMaxPayload + kRingSlots * kMaxPayload)
            : 0;
    void* base = nullptr;
    if (MPI_Win_allocate_shared(size, 64, MPI_INFO_NULL, MPI_COMM_WORLD, &base, &window_) !=
        MPI_SUCCESS)
      throw std::runtime_error("MPI_Win_allocate_shared failed (ranks not on one node?)");
    MPI_Aint actual = 0;
    int unit = 0;
    MPI_Win_shared_query(window_, 0, &actual, &unit, &base);
    shared_ = static_cast<Window*>(base);
    if (rank == 0) new (shared_) Window;
    bytes_ = reinterpret_cast<char*>(shared_ + 1);
    buffer_.assign(payload, 'x');
    MPI_Barrier(MPI_COMM_WORLD);
  }
  ~Bench() { MPI_Win_free(&window_); }

  void reset_window() {
    sequence_ = 0;
    if (rank_ == 0) new (shared_) Window;
    MPI_Barrier(MPI_COMM_WORLD);
  }

  // The limit: an atomic ping-pong with the payload copied through the window.
  void limit_lead(std::size_t count) {
    for (std::size_t k = 0; k < count; ++k) {
      const std::uint64_t i = ++sequence_;  // continues across calls: lead(1) times one
      std::memcpy(bytes_, buffer_.data(), payload_);
      shared_->ping.store(i, std::memory_order_release);
      while (shared_->pong.load(std::memory_order_acquire) != i) {
      }
      std::memcpy(buffer_.data(), bytes_ + kMaxPayload, payload_);
    }
  }
  void limit_follow(std::size_t count) {
    for (std::uint64_t i = 1; i <= count; ++i) {
      while (shared_->ping.load(std::memory_order_acquire) != i) {
      }
      std::memcpy(buffer_.data(), bytes_, payload_);
      std::memcpy(bytes_ + kMaxPayload, buffer_.data(), payload_);
      shared_->pong.store(i, std::memory_order_release);
    }
  }

  void mpi_lead(std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) {
      MPI_Send(buffer_.data(), static_cast<int>(payload_), MPI_BYTE, 1, 0, MPI_COMM_WORLD);
      MPI_Recv(buffer_.data(), static_cast<int>(payload_), MPI_BYTE, 1, 0, MPI_COMM_WORLD,
               MPI_STATUS_IGNORE);
    }
  }
  void mpi_follow(std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) {
      MPI_Recv(buffer_.data(), static_cast<int>(payload_), MPI_BYTE, 0, 0, MPI_COMM_WORLD,
               MPI_STATUS_IGNORE);
      MPI_Send(buffer_.data(), static_cast<int>(payload_), MPI_BYTE, 0, 0, MPI_COMM_WORLD);
    }
  }

  // conduit's mpi::World: the same round trip through send and the symmetric receive_from.
  void world_lead(std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) {
      check(world_.send(1, std::as_bytes(std::span(buffer_))));
      const auto answer = must(world_.receive_from(1));
      std::memcpy(buffer_.data(), answer.payload().data(), std::min(answer.size(), payload_));
    }
  }
  void world_follow(std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) {
      const auto message = must(world_.receive_from(0));
      check(world_.send(0, message.payload()));
    }
  }

  // The streaming limit: a plain SPSC ring in the window, rank 0 producing.
  void ring_lead(std::size_t count) {
    std::uint64_t head_cache = 0;
    for (std::uint64_t tail = 0; tail < count; ++tail) {
      while (tail - head_cache == kRingSlots)
        head_cache = shared_->head.load(std::memory_order_acquire);
      std::memcpy(buffer_.data(), &tail, std::min(sizeof tail, payload_));
      std::memcpy(slot(tail), buffer_.data(), payload_);
      shared_->tail.store(tail + 1, std::memory_order_release);
    }
    while (shared_->head.load(std::memory_order_acquire) != count) {
    }  // until all are taken
  }
  void ring_follow(std::size_t count) {
    std::uint64_t tail_cache = 0;
    for (std::uint64_t head = 0; head < count; ++head) {
      while (head == tail_cache) tail_cache = shared_->tail.load(std::memory_order_acquire);
      std::memcpy(buffer_.data(), slot(head), payload_);
      shared_->head.store(head + 1, std::memory_order_release);
    }
  }

  // MPI streaming: a window of Isends, as MPI programs stream (then an acknowledgement, so the
  // time covers the last receive).
  void isend_lead(std::size_t count) {
    constexpr std::size_t kWindow = 64;
    std::vector<MPI_Request> requests(kWindow);
    std::vector<char> messages(kWindow * payload_, 'x');
    for (std::size_t sent = 0; sent < count;) {
      const std::size_t batch = std::min(kWindow, count - sent);
      for (std::size_t k = 0; k < batch; ++k)
        MPI_Isend(messages.data() + k * payload_, static_cast<int>(payload_), MPI_BYTE, 1, 1,
                  MPI_COMM_WORLD, &requests[k]);
      MPI_Waitall(static_cast<int>(batch), requests.data(), MPI_STATUSES_IGNORE);
      sent += batch;
    }
    char ack = 0;
    MPI_Recv(&ack, 1, MPI_BYTE, 1, 2, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  }
  void isend_follow(std::size_t count) {
    constexpr std::size_t kWindow = 64;
    std::vector<MPI_Request> requests(kWindow);
    std::vector<char> messages(kWindow * payload_);
    for (std::size_t got = 0; got < count;) {
      const std::size_t batch = std::min(kWindow, count - got);
      for (std::size_t k = 0; k < batch; ++k)
        MPI_Irecv(messages.data() + k * payload_, static_cast<int>(payload_), MPI_BYTE, 0, 1,
                  MPI_COMM_WORLD, &requests[k]);
      MPI_Waitall(static_cast<int>(batch), requests.data(), MPI_STATUSES_IGNORE);
      got += batch;
    }
    char ack = 1;
    MPI_Send(&ack, 1, MPI_BYTE, 0, 2, MPI_COMM_WORLD);
  }

  // conduit: a pair of bounded mailboxes between the two ranks, both sides busy-polling.
  void open_mailboxes(const std::string& tag) {
    const conduit::MailboxOptions options{.capacity = conduit::Capacity::bounded(kRingSlots),
                                          .max_message_size = std::max<std::size_t>(payload_, 8)};
    if (rank_ == 0) {
      down_.emplace(must(conduit::Mailbox::create(tag + "-down", options)));
      up_.emplace(must(conduit::Mailbox::create(tag + "-up", options)));
    }
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank_ == 1) {
      down_.emplace(must(conduit::Mailbox::open(tag + "-down")));
      up_.emplace(must(conduit::Mailbox::open(tag + "-up")));
    }
    MPI_Barrier(MPI_COMM_WORLD);
  }
  void close_mailboxes(const std::string& tag) {
    MPI_Barrier(MPI_COMM_WORLD);
    down_.reset();
    up_.reset();
    if (rank_ == 0) {
      (void)conduit::Mailbox::remove(tag + "-down");
      (void)conduit::Mailbox::remove(tag + "-up");
    }
  }
  void mailbox_lead(std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) {
      send(*down_, buffer_);
      auto answer = take(*up_);
      std::memcpy(buffer_.data(), answer.payload().data(), payload_);
    }
  }
  void mailbox_follow(std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) {
      auto message = take(*down_);
      send(*up_, std::span(reinterpret_cast<const char*>(message.payload().data()), payload_));
    }
  }
  void mailbox_stream_lead(std::size_t count) {
    for (std::uint64_t i = 0; i < count; ++i) {
      std::memcpy(buffer_.data(), &i, std::min(sizeof i, payload_));
      send(*down_, buffer_);
    }
    (void)take(*up_);  // the acknowledgement: the time covers the last receive
  }
  void mailbox_stream_follow(std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) (void)take(*down_);
    send(*up_, std::span(buffer_.data(), 1));
  }

 private:
  template <class T>
  static T must(conduit::Result<T> result) {
    if (!result) throw std::runtime_error(result.error().message());
    return std::move(*result);
  }
  static void check(const conduit::Result<void>& result) {
    if (!result) throw std::runtime_error(result.error().message());
  }
  static void send(conduit::Mailbox& box, std::span<const char> bytes) {
    for (;;) {
      auto sent = box.try_send(std::as_bytes(bytes));
      if (sent) return;
      if (sent.error().code() != conduit::Errc::would_block)
        throw std::runtime_error(sent.error().message());
    }
  }
  static conduit::Message take(conduit::Mailbox& box) {
    for (;;) {
      auto message = box.try_receive();
      if (message) return std::move(*message);
      if (message.error().code() != conduit::Errc::would_block)
        throw std::runtime_error(message.error().message());
    }
  }
  char* slot(std::uint64_t index) {
    return bytes_ + 2 * kMaxPayload + (index % kRingSlots) * payload_;
  }

  int rank_;
  std::size_t payload_;
  conduit::mpi::World& world_;
  MPI_Win window_{};
  Window* shared_ = nullptr;
  char* bytes_ = nullptr;
  std::vector<char> buffer_;
  std::uint64_t sequence_ = 0;
  std::optional<conduit::Mailbox> down_, up_;
};

/// Runs rows in interleaved blocks; rank 0 times them. Round trips: per-ping samples; streams:
/// whole-block seconds. Returns the JSON rows (rank 0) of this group.
nlohmann::json run_rows(int rank, Bench& bench, const std::string& group, const std::string& kind,
                        std::size_t payload, const std::vector<Row>& rows, std::size_t blocks,
                        std::size_t count, const std::string& ratio_label = "x limit") {
  const std::size_t n = rows.size();
  std::vector<std::vector<double>> samples(n), figures(n);
  for (std::size_t block = 0; block < blocks; ++block) {
    for (std::size_t k = 0; k < n; ++k) {
      const std::size_t r = (block + k) % n;
      bench.reset_window();
      if (rank == 1) {
        rows[r].follow(kind == "round_trip" ? count + 1000 : count);
        continue;
      }
      if (kind == "round_trip") {
        rows[r].lead(1000);  // warm-up
        std::vector<double> block_samples;
        block_samples.reserve(count);
        // One ping per lead call, so each round trip is timed alone.
        for (std::size_t i = 0; i < count; ++i) {
          const auto start = Clock::now();
          rows[r].lead(1);
          block_samples.push_back(
              std::chrono::duration<double, std::nano>(Clock::now() - start).count());
        }
        figures[r].push_back(bench::median(block_samples));
        samples[r].insert(samples[r].end(), block_samples.begin(), block_samples.end());
      } else {
        const auto start = Clock::now();
        rows[r].lead(count);
        const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
        figures[r].push_back(seconds);
        samples[r].push_back(static_cast<double>(count) / seconds);
      }
    }
  }
  nlohmann::json out = nlohmann::json::array();
  if (rank != 0) return out;
  for (std::size_t r = 0; r < n; ++r) {
    std::vector<double> ratios;
    for (std::size_t b = 0; b < blocks; ++b)
      ratios.push_back(kind == "round_trip" ? figures[r][b] / figures[0][b]
                                            : figures[0][b] / figures[r][b]);
    nlohmann::json row{{"group", group},
                       {"kind", kind},
                       {"name", rows[r].name},
                       {"wait", rows[r].wait},
                       {"payload", payload},
                       {"ratio", bench::median(ratios)},
                       {"samples", samples[r].size()}};
    if (kind == "round_trip") {
      const auto p = bench::percentiles(samples[r]);
      row["round_trip_ns"] = {
          {"p50", p.p50}, {"p90", p.p90}, {"p99", p.p99}, {"p99.9", p.p999}, {"max", p.max}};
      fmt::print("  {:<40} {:>7} B  p50 {:>9.0f} ns  p99 {:>9.0f} ns  {:>6.2f} {}\n", rows[r].name,
                 payload, p.p50, p.p99, row["ratio"].get<double>(), ratio_label);
    } else {
      const double rate = bench::median(samples[r]);
      row["messages_per_s"] = rate;
      row["bytes_per_s"] = rate * static_cast<double>(payload);
      fmt::print("  {:<40} {:>7} B  {:>8.2f} M msg/s  {:>6.2f} {}\n", rows[r].name, payload,
                 rate / 1e6, row["ratio"].get<double>(), ratio_label);
    }
    out.push_back(row);
  }
  std::fflush(stdout);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, size = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--quick" || arg == "--smoke")
      options.mode = arg.substr(2);
    else if (arg == "--transport" && i + 1 < argc)
      options.transport = argv[++i];
    else if (arg == "--json" && i + 1 < argc)
      options.json_path = argv[++i];
  }
  if (size != 2) {
    if (rank == 0) fmt::print(stderr, "conduit-bench-mpi: run with exactly 2 ranks\n");
    MPI_Finalize();
    return 2;
  }
  const std::size_t blocks = options.mode == "full" ? 5 : options.mode == "quick" ? 3 : 1;
  const std::size_t round_trips = options.mode == "full"    ? 20000
                                  : options.mode == "quick" ? 5000
                                                            : 100;
  const std::size_t stream = options.mode == "full"    ? 500000
                             : options.mode == "quick" ? 100000
                                                       : 1000;
  const std::vector<std::size_t> payloads =
      options.mode == "full" ? std::vector<std::size_t>{64, 4096} : std::vector<std::size_t>{64};
  const std::string over = options.transport == "tcp" ? "TCP" : "shared memory";
  if (rank == 0)
    fmt::print("\nOpen MPI ({}), 2 ranks bound to a core each: {}\n", over,
               bench::machine_description());

  // conduit's World on the MPI this program started: it does not finalise it, so it must go
  // before MPI_Finalize below.
  std::optional<conduit::mpi::World> world;
  if (auto made = conduit::mpi::World::init(); made) {
    world.emplace(std::move(*made));
  } else {
    fmt::print(stderr, "conduit-bench-mpi (rank {}): {}\n", rank, made.error().message());
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  nlohmann::json rows = nlohmann::json::array();
  try {
    for (const std::size_t payload : payloads) {
      Bench b(rank, payload, *world);
      const std::string tag = fmt::format("bench-mpi-{}-{}", options.transport, payload);
      b.open_mailboxes(tag);
      std::vector<Row> round_trip{
          {"limit: atomic ping-pong (MPI window)", "busy", [&](std::size_t n) { b.limit_lead(n); },
           [&](std::size_t n) { b.limit_follow(n); }},
          {fmt::format("Open MPI Send/Recv ({})", options.transport), "busy",
           [&](std::size_t n) { b.mpi_lead(n); }, [&](std::size_t n) { b.mpi_follow(n); }},
          {"conduit Mailbox (busy)", "busy", [&](std::size_t n) { b.mailbox_lead(n); },
           [&](std::size_t n) { b.mailbox_follow(n); }}};
      for (auto& row : run_rows(rank, b, "MPI round trip, " + over, "round_trip", payload,
                                round_trip, blocks, round_trips))
        rows.push_back(row);
      std::vector<Row> world_round_trip{
          {fmt::format("Open MPI Send/Recv ({})", options.transport), "busy",
           [&](std::size_t n) { b.mpi_lead(n); }, [&](std::size_t n) { b.mpi_follow(n); }},
          {fmt::format("conduit mpi::World ({})", options.transport), "busy",
           [&](std::size_t n) { b.world_lead(n); }, [&](std::size_t n) { b.world_follow(n); }}};
      for (auto& row : run_rows(rank, b, "mpi::World round trip, " + over, "round_trip", payload,
                                world_round_trip, blocks, round_trips, "x MPI"))
        rows.push_back(row);
      std::vector<Row> streaming{
          {"limit: raw SPSC ring (MPI window)", "busy", [&](std::size_t n) { b.ring_lead(n); },
           [&](std::size_t n) { b.ring_follow(n); }},
          {fmt::format("Open MPI Isend window ({})", options.transport), "busy",
           [&](std::size_t n) { b.isend_lead(n); }, [&](std::size_t n) { b.isend_follow(n); }},
          {"conduit Mailbox (busy)", "busy", [&](std::size_t n) { b.mailbox_stream_lead(n); },
           [&](std::size_t n) { b.mailbox_stream_follow(n); }}};
      for (auto& row : run_rows(rank, b, "MPI streaming, " + over, "stream", payload, streaming,
                                blocks, stream))
        rows.push_back(row);
      b.close_mailboxes(tag);
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "conduit-bench-mpi (rank {}): {}\n", rank, e.what());
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  if (rank == 0 && !options.json_path.empty()) {
    nlohmann::json document{{"machine", bench::machine_description()},
                            {"pinning", "mpirun --bind-to core"},
                            {"mode", options.mode},
                            {"blocks", blocks},
                            {"rows", rows}};
    std::ofstream(options.json_path) << document.dump(2) << '\n';
  }
  world.reset();
  MPI_Finalize();
  return 0;
}
