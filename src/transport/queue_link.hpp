// What the message-queue mechanisms (mq, sysv, shm) share: the handshake record, the wire
// header of a queued message, and waiting in slices so that a peer that died is noticed.
//
// A queue outlives the processes that use it, so neither end learns from the kernel that the
// other died. Each end records the other's ProcessId in the handshake, and a wait that finds
// nothing for kLivenessInterval checks that the peer is still alive (pid and start time, so a
// reused pid does not fool it). A peer that closes says so with a close record.
#pragma once

#include <cstdint>
#include <type_traits>

#include "backoff.hpp"
#include "conduit/core/process.hpp"
#include "conduit/sys/clock.hpp"
#include "conduit/transport/transport.hpp"

namespace conduit::transport {

inline constexpr std::uint32_t kQueueMagic = 0x51444443;  // "CDDQ"

/// `part`: a piece of a message that continues in the next record (mq: a message longer than
/// one record); the `data` record that follows ends it.
enum class RecordKind : std::uint32_t { data = 1, close = 2, request = 3, answer = 4, part = 5 };

/// The header in front of every queued message (POSIX mq and shm; System V uses mtype).
struct QueueHeader {
  std::uint32_t magic;
  RecordKind kind;
  std::int64_t type;
};
static_assert(sizeof(QueueHeader) == 16 && std::is_trivially_copyable_v<QueueHeader>);

/// A connection request (client → listener) or its answer: who is asking, and which pair.
struct QueueHandshake {
  std::int32_t pid;
  std::int32_t reserved;
  std::uint64_t start_time;
  std::uint64_t serial;  // the client's n: names the pair (mq, shm)
  std::int64_t up;       // System V: the client-to-listener queue id
  std::int64_t down;     // System V: the listener-to-client queue id
};
static_assert(sizeof(QueueHandshake) == 40 && std::is_trivially_copyable_v<QueueHandshake>);

[[nodiscard]] inline QueueHandshake handshake_of(ProcessId process, std::uint64_t serial = 0) {
  return QueueHandshake{process.pid, 0, process.start_time, serial, 0, 0};
}
[[nodiscard]] inline ProcessId process_of(const QueueHandshake& handshake) {
  return ProcessId{handshake.pid, handshake.start_time};
}

/// The end of the next wait slice: kLivenessInterval from now, or `deadline` if sooner.
[[nodiscard]] inline sys::TimePoint slice_end(Deadline deadline) {
  const sys::TimePoint slice = sys::deadline_after(kLivenessInterval);
  return deadline && *deadline < slice ? *deadline : slice;
}

/// A serial number for this process's next connection (names its queues).
[[nodiscard]] std::uint64_t next_serial() noexcept;

}  // namespace conduit::transport
