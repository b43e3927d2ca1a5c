// What the crash torture keeps outside conduit's shared memory, so that it survives every kill:
//   - the Board: one anonymous MAP_SHARED page made by the supervisor before it forks, where
//     each worker says what it is doing (its phase and the message id it holds). A SIGKILLed
//     worker's last stores stay readable, so the supervisor knows, after the kill, whether the
//     victim held a message it had not logged yet, and which one.
//   - the log: one file per scenario, appended to with O_APPEND by single write()s of one
//     fixed-size, checksummed Entry (a write of 32 bytes that does not straddle a page is all
//     or nothing under SIGKILL, and the checksum would show it if not).
//   - payloads that carry their producer, sequence and a checksum, so that a torn or mixed
//     message is detected.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace conduit::torture {

/// A message id: the producer incarnation (unique in the run) and its sequence number.
[[nodiscard]] constexpr std::uint64_t message_id(std::uint32_t producer, std::uint32_t sequence) {
  return (std::uint64_t{producer} << 32) | sequence;
}

[[nodiscard]] std::uint64_t mix(std::uint64_t value) noexcept;

/// A mailbox payload: id, the send tick, filler derived from the id, and a checksum at the
/// end. Its length (32 to 543 bytes) is derived from the id too, so a truncated or overlong
/// message fails the check as well as a torn one.
[[nodiscard]] std::size_t payload_size(std::uint64_t id) noexcept;
void make_payload(std::uint64_t id, std::uint64_t tick, std::span<std::byte> into) noexcept;
struct Decoded {
  bool is_intact = false;
  std::uint64_t id = 0, tick = 0;
};
[[nodiscard]] Decoded check_payload(std::span<const std::byte> payload) noexcept;

/// A channel record: the same, fixed at 64 bytes.
struct Record {
  std::uint64_t id;
  std::uint64_t tick;
  std::uint64_t filler[5];
  std::uint64_t checksum;
  [[nodiscard]] static Record make(std::uint64_t id, std::uint64_t tick) noexcept;
  [[nodiscard]] bool is_intact() const noexcept;
};
static_assert(sizeof(Record) == 64);

/// What a worker is doing, as the supervisor reads it after killing the worker.
enum class Phase : std::uint32_t {
  idle = 0,             // holds no message that is not logged
  in_call = 1,          // inside a conduit send or receive
  taken = 2,            // producer: send returned success, not logged; consumer: message out of the
                        // carrier (received, or its view released), not logged
  viewing = 3,          // consumer: holds a view of message held_id, not logged, not released
  viewed_logged = 4,    // channel consumer: logged the view's record, not released it yet (a
                        // kill here gives the record to the next consumer: a second receipt)
  in_keeping_call = 5,  // inside a call that cannot consume a message without handing it out
                        // (a channel's receive_view: the record stays until released)
};

struct alignas(64) WorkerSlot {
  std::atomic<std::uint32_t> phase;
  std::atomic<std::uint64_t> held_id;
  std::atomic<std::uint64_t> held_tick;
  std::atomic<std::int64_t> call_started_ns;  // CLOCK_MONOTONIC at entry to a conduit call, or 0
  std::atomic<std::uint64_t> operations;      // calls that returned, for progress
};

constexpr std::size_t kMaxWorkers = 16;

struct Board {
  std::atomic<std::uint32_t> stop_producers;  // producers finish their send and exit
  std::atomic<std::uint32_t> drain;           // consumers exit once the carrier is empty
  std::atomic<std::uint32_t> ready;           // pair/process rounds: the creator made the object
  std::atomic<std::uint64_t> clock;           // ticks: orders sends after broadcast attaches
  WorkerSlot slots[kMaxWorkers];
};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

/// A Board in an anonymous shared mapping; lives until the process (and its children) exit.
[[nodiscard]] Board* make_board();

enum class EntryKind : std::uint32_t {
  sent = 1,  // producer `worker` sent `id` (send returned success), tick = its send tick
  received,  // consumer `worker` received `id` intact
  torn,      // consumer `worker` received a message that failed its check (id as read)
  attached,  // broadcast consumer `worker` became a receiver at `tick`
  done,      // consumer `worker` drained the carrier and exited cleanly
  error,     // worker `worker` got an error no caller should see (code in `id`)
};

struct Entry {
  EntryKind kind;
  std::uint32_t worker;  // the incarnation that wrote it
  std::uint64_t id;
  std::uint64_t tick;
  std::uint64_t checksum;
  [[nodiscard]] bool is_intact() const noexcept;
};
// A write() to tmpfs copies page by page and stops between pages for SIGKILL: an entry that
// straddled a page boundary could be cut in two, and every entry after it misread. Entries of
// a size that divides the page, all appended, never straddle one, so each write is whole.
static_assert(sizeof(Entry) == 32 && 4096 % sizeof(Entry) == 0);

/// Appends one entry with one O_APPEND write(); returns false if the write failed.
bool append(int log_fd, EntryKind kind, std::uint32_t worker, std::uint64_t id,
            std::uint64_t tick = 0) noexcept;
/// Every entry of the log at `path`, and how many were not intact.
struct LogContents {
  std::vector<Entry> entries;
  std::size_t damaged = 0;
};
[[nodiscard]] LogContents read_log(const char* path);

[[nodiscard]] std::int64_t monotonic_ns() noexcept;

}  // namespace conduit::torture
