// The bytes of a lane ring in shared memory: the fixed-size-record ring behind Channel<T>.
//
// A lane ring is one consumer and up to kMaxLanes producer lanes; each lane is a
// single-producer single-consumer ring of its own. Producers::one is a lane ring of one lane.
//
//   offset                        what
//   ----------------------------  -----------------------------------------------------------
//   0                             LaneRingHeader (256)
//     0    LaneRingConfig         written once by the creator, validated on every open
//     64   is_closed              u32 atomic   close() was called
//     68   lanes_used             u32 atomic   lanes ever claimed: the consumer polls [0, used)
//     72   consumer               u64 atomic   the consumer's ProcessId, packed (0: none)
//     80   wake_fencing           u32 atomic   sync::WakeFencing, chosen by the creator
//     128  items                  WaitWord     bumped after records are published
//     192  space                  WaitWord     bumped after records are consumed
//   256                           OpenerTable (512): 64 u64 atomics, the handles open on the
//                                 ring, each a ProcessId packed (0: free slot)
//   controls_offset (768)         RingControl[lane_count], 128 bytes each:
//     +0   tail                   u64 atomic   records published in the lane (monotonic)
//     +8   owner                  u64 atomic   the lane's producer, packed (0: free)
//     +64  head                   u64 atomic   records consumed from the lane (monotonic)
//     +72  producer_sleepers      u32 atomic   the lane's producer sleeps on `space` (full)
//   slots_offset                  lane 0's slot_count records, then lane 1's, ...
//                                 (slots_offset is a multiple of max(64, record_align))
//
// Indices are monotonic 64-bit counters (a record's slot is `index & (slot_count - 1)`), so
// `tail - head` is the number of records in a lane and every one of `capacity` slots is
// usable: no slack slot tells full from empty. slot_count is capacity rounded up to a power
// of two; a lane holds at most `capacity` records whatever slot_count is.
//
// The producer line (tail, owner) and the consumer line (head) of each lane sit on separate
// cache lines; each side keeps a private copy of the other's index and reads the shared one
// only when its copy says the lane is full (producer) or empty (consumer).
//
// Every atomic here, and where its memory-ordering argument is written out:
//   tail, head        release stores / acquire loads pairing across the two sides, and the
//                     read-modify-write takeover: spsc_ring.hpp (1) to (4)
//   owner, consumer,  claimed by compare_exchange (acq_rel) pairing with the release store of
//   opener slots      0 on detach; read relaxed for liveness checks only: lane_ring.hpp
//   lanes_used        grows by compare_exchange (release), loaded with acquire: lane_ring.hpp
//   is_closed         release store in close(), acquire loads in send and receive, so that
//                     records published before close() are seen by a receiver that sees it:
//                     msg/channel.cpp
//   producer_sleepers the flag of a producer asleep on its full lane, in sync::WaitWord's
//                     second protocol as `space.sleepers` is for producers waiting for a lane:
//                     the consumer looks at it after each release (it sits on the consumer's
//                     own line) and bumps `space` for it. Only the lane's owner raises it, so a
//                     new owner of the lane zeroes it: a producer killed asleep leaves no flag
//                     that would cost every release a FUTEX_WAKE for ever.
//   items, space      sync::WaitWord's second protocol: a side publishes its index with a
//                     plain release store, then reads the other side's sleeper count after a
//                     fence: a seq_cst fence (symmetric), or only a compiler barrier when
//                     wake_fencing says asymmetric, where every sleeper makes a membarrier
//                     after flagging itself instead; only a flagged sleeper costs a bump and a
//                     FUTEX_WAKE, once per sleep: a sleeper on a full lane or an empty ring
//                     bumps the word itself before flagging (SleepMark::bump), and a waker
//                     that finds the word where its own last wake left it does not wake
//                     again (WaitWord::wake_all_once). A sleeper flags itself, fences, then
//                     looks at the index again: sync/wait.hpp. (A producer that gives its
//                     lane back bumps `space` with notify_all, for producers waiting for a
//                     lane.)
//   wake_fencing      stored (relaxed) by the creator before the segment is named, never
//                     changed; each handle reads it once (relaxed) on attach. Every process
//                     then agrees: a handle of an asymmetric channel registers its process for
//                     membarrier when it opens, or the open fails (msg/channel.cpp).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "conduit/core/process.hpp"
#include "conduit/shm/segment_layout.hpp"
#include "conduit/sync/wait.hpp"

namespace conduit::ring {

using shm::kCacheLine;

inline constexpr std::uint64_t kLaneRingMagic = 0x31'47'4e'52'45'4e'41'4cULL;  // "LANERNG1"
// 2: wake_fencing (a build that read version 1 would not make the sleeper's membarrier) and
//    the lanes' producer_sleepers (it would sleep unseen by the consumer).
// 3: sleepers on `items` and on a full lane bump the word before flagging, and wakers skip a
//    wake when the word has not moved since their last (a version-2 sleeper, which does not
//    bump, could be skipped and sleep out its slice).
inline constexpr std::uint32_t kLaneRingLayoutVersion = 3;
inline constexpr std::uint32_t kMaxLanes = 64;
inline constexpr std::uint64_t kMaxCapacity = std::uint64_t{1} << 30;  // records per lane
inline constexpr std::uint64_t kMaxRecordSize = std::uint64_t{1} << 24;
inline constexpr std::uint64_t kMaxRecordAlign = 4096;

/// Written once by the creator before the segment is named; read once (copied) on open.
struct LaneRingConfig {
  std::uint64_t magic;           // kLaneRingMagic
  std::uint32_t layout_version;  // kLaneRingLayoutVersion
  std::uint32_t lane_count;      // 1 .. kMaxLanes
  std::uint64_t record_size;     // sizeof(T)
  std::uint64_t record_align;    // alignof(T)
  std::uint64_t capacity;        // records a lane holds: 1 .. kMaxCapacity
  std::uint64_t slot_count;      // capacity rounded up to a power of two
  std::uint64_t controls_offset;
  std::uint64_t slots_offset;
};
static_assert(std::is_standard_layout_v<LaneRingConfig>);
static_assert(std::is_trivially_copyable_v<LaneRingConfig>);
static_assert(sizeof(LaneRingConfig) == 64);
static_assert(offsetof(LaneRingConfig, magic) == 0);
static_assert(offsetof(LaneRingConfig, layout_version) == 8);
static_assert(offsetof(LaneRingConfig, lane_count) == 12);
static_assert(offsetof(LaneRingConfig, record_size) == 16);
static_assert(offsetof(LaneRingConfig, record_align) == 24);
static_assert(offsetof(LaneRingConfig, capacity) == 32);
static_assert(offsetof(LaneRingConfig, slot_count) == 40);
static_assert(offsetof(LaneRingConfig, controls_offset) == 48);
static_assert(offsetof(LaneRingConfig, slots_offset) == 56);

struct alignas(kCacheLine) LaneRingHeader {
  LaneRingConfig config;
  // Read-mostly line: written on close, on the first claim of a lane, on consumer attach.
  alignas(kCacheLine) std::atomic<std::uint32_t> is_closed;
  std::atomic<std::uint32_t> lanes_used;
  std::atomic<std::uint64_t> consumer;
  std::atomic<std::uint32_t> wake_fencing;  // a sync::WakeFencing
  // Each on a line of its own: a waker reads `sleepers` after every publish (or release), and
  // only sleepers write this line, so the read stays in the waker's cache.
  alignas(kCacheLine) sync::WaitWord items;  // the consumer sleeps here
  alignas(kCacheLine) sync::WaitWord space;  // producers sleep here
};
static_assert(std::is_standard_layout_v<LaneRingHeader>);
static_assert(sizeof(LaneRingHeader) == 256);
static_assert(alignof(LaneRingHeader) == kCacheLine);
static_assert(offsetof(LaneRingHeader, config) == 0);
static_assert(offsetof(LaneRingHeader, is_closed) == 64);
static_assert(offsetof(LaneRingHeader, lanes_used) == 68);
static_assert(offsetof(LaneRingHeader, consumer) == 72);
static_assert(offsetof(LaneRingHeader, wake_fencing) == 80);
static_assert(offsetof(LaneRingHeader, items) == 128);
static_assert(offsetof(LaneRingHeader, space) == 192);

/// One single-producer single-consumer ring's indices: a producer line and a consumer line.
struct alignas(kCacheLine) RingControl {
  std::atomic<std::uint64_t> tail;   // written by the lane's producer only
  std::atomic<std::uint64_t> owner;  // the producer, packed (encode_owner); 0: free
  std::uint64_t producer_reserved[6];
  std::atomic<std::uint64_t> head;  // written by the consumer only
  // Raised by the lane's producer going to sleep on a full lane, read by the consumer after
  // each release: on the consumer's line, written only by a sleeper.
  std::atomic<std::uint32_t> producer_sleepers;
  std::uint32_t consumer_pad;
  std::uint64_t consumer_reserved[6];
};
static_assert(std::is_standard_layout_v<RingControl>);
static_assert(sizeof(RingControl) == 2 * kCacheLine);
static_assert(offsetof(RingControl, tail) == 0);
static_assert(offsetof(RingControl, owner) == 8);
static_assert(offsetof(RingControl, head) == kCacheLine);
static_assert(offsetof(RingControl, producer_sleepers) == kCacheLine + 8);

/// Who has the ring open: one slot per handle, claimed on open by compare_exchange (a free
/// slot or one whose process died), given back when the handle goes. A sleeper whose peer role
/// was never taken (no consumer yet; no producer lane) looks here for processes that died.
inline constexpr std::uint32_t kMaxOpeners = 64;
struct alignas(kCacheLine) OpenerTable {
  std::atomic<std::uint64_t> slots[kMaxOpeners];
};
static_assert(std::is_standard_layout_v<OpenerTable>);
static_assert(sizeof(OpenerTable) == kMaxOpeners * 8);

inline constexpr std::uint64_t kOpenersOffset = sizeof(LaneRingHeader);
inline constexpr std::uint64_t kControlsOffset = kOpenersOffset + sizeof(OpenerTable);
static_assert(kControlsOffset == 768);

// ---- the variable-size record ring (byte_ring.hpp) -------------------------------------------
//
//   offset  what
//   ------  ----------------------------------------------------------------------------------
//        0  ByteRingControl (128): tail (u64 atomic, bytes published) on the producer line,
//           head (u64 atomic, bytes consumed) at 64 on the consumer line
//      128  data: `capacity` bytes (a power of two), records laid end to end, each:
//             RecordHeader (24)  size u32 | kind u32 | type i64 | sequence u64
//             payload (size bytes), then zero to 7 bytes to the next multiple of 8
//           A record never wraps: one that does not fit before the end of the data is put at
//           its start, after a padding record (kind 2) filling the rest; where fewer than 24
//           bytes remain, the padding is implicit (both sides skip them).

struct alignas(kCacheLine) ByteRingControl {
  std::atomic<std::uint64_t> tail;  // written by the producer only
  std::uint64_t producer_reserved[7];
  std::atomic<std::uint64_t> head;  // written by the consumer only
  std::uint64_t consumer_reserved[7];
};
static_assert(std::is_standard_layout_v<ByteRingControl>);
static_assert(sizeof(ByteRingControl) == 2 * kCacheLine);
static_assert(offsetof(ByteRingControl, tail) == 0);
static_assert(offsetof(ByteRingControl, head) == kCacheLine);

enum class RecordKind : std::uint32_t { record = 1, padding = 2 };

struct RecordHeader {
  std::uint32_t size;      // payload bytes (padding: bytes to the end of the data, header included)
  std::uint32_t kind;      // RecordKind
  std::int64_t type;       // the sender's message type
  std::uint64_t sequence;  // the producer's count of records before this one
};
static_assert(std::is_standard_layout_v<RecordHeader>);
static_assert(std::is_trivially_copyable_v<RecordHeader>);
static_assert(sizeof(RecordHeader) == 24);
static_assert(offsetof(RecordHeader, size) == 0);
static_assert(offsetof(RecordHeader, kind) == 4);
static_assert(offsetof(RecordHeader, type) == 8);
static_assert(offsetof(RecordHeader, sequence) == 16);

inline constexpr std::uint64_t kRecordAlign = 8;
inline constexpr std::uint64_t kMinByteRingCapacity = 64;
inline constexpr std::uint64_t kMaxByteRingCapacity = std::uint64_t{1} << 30;

// Only atomics the hardware does without a lock may live in shared memory: a lock inside a
// process-local atomic implementation would not be shared.
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);

// A ProcessId packed into one 64-bit word, so that a lane or the consumer role can be claimed
// with a single compare-and-swap: pid in the low 22 bits (Linux's PID_MAX_LIMIT is 2^22),
// start time (clock ticks since boot) in the high 42 bits (140 years at 1000 Hz). Two live
// processes never pack to the same word; 0 packs no process.
inline constexpr unsigned kOwnerPidBits = 22;
inline constexpr std::uint64_t kOwnerPidMask = (std::uint64_t{1} << kOwnerPidBits) - 1;

/// The packed word of `process`; 0 if its pid does not fit (never on Linux). A start time
/// that does not fit is dropped (0: "unknown", liveness then checks the pid only).
[[nodiscard]] constexpr std::uint64_t encode_owner(ProcessId process) noexcept {
  if (process.pid <= 0 || static_cast<std::uint64_t>(process.pid) > kOwnerPidMask) return 0;
  const std::uint64_t start =
      process.start_time >> (64 - kOwnerPidBits) == 0 ? process.start_time : 0;
  return (start << kOwnerPidBits) | static_cast<std::uint64_t>(process.pid);
}
[[nodiscard]] constexpr ProcessId decode_owner(std::uint64_t word) noexcept {
  return ProcessId{static_cast<pid_t>(word & kOwnerPidMask), word >> kOwnerPidBits};
}
static_assert(decode_owner(encode_owner({1234, 987654321})) == ProcessId{1234, 987654321});
static_assert(encode_owner({0, 5}) == 0);

}  // namespace conduit::ring
