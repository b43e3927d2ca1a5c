// The bytes of a mailbox in shared memory (the payload of a Segment of kind `mailbox`).
//
//   offset                      what
//   --------------------------  -------------------------------------------------------------
//   0                           MailboxConfig   (written once by the creator; validated on open)
//   128                         MailboxState    (guarded by `lock`; counters, queue, tables;
//                               and lock-free summaries of them, see below)
//   128 + sizeof(MailboxState)  Slot[slot_count], each: SlotHeader (128) + max_message_size
//                               bytes, rounded up to whole cache lines (slot_stride)
//
// A message lives in one slot for its whole stay. Slots move between states only under
// `lock`, each move a single store of `state`, so that after a holder died mid-operation the
// queue can be rebuilt from the slots alone (see Mailbox's repair): queued slots ordered by
// sequence; `writing` slots (a Loan) kept while their holder lives, freed when it died (the
// message was never sent); a slot a send fills inside the lock stays `free` until it is queued,
// so a sender that died holding the lock left a slot repair() puts back on the free list; `reading`
// slots (a MessageView) kept while their holder lives, and when it died counted as received —
// receive_view had returned the message to it — so freed, never queued again (exactly once);
// receipts nobody waits for any more freed.
//
// Which line holds what (MailboxState): every send and receive takes the lock, changes the
// queue and `depth`, so all of these share the lock's line and come along with it (40 bytes of
// Mutex and six 32-bit words: one line). The counters each side bumps under the lock sit on
// that side's line (senders: next_sequence, sent; receivers: received), so one sender and one
// receiver that keep up move the lock's line and the slot between them: the slot's common
// header line and its payload, neighbours (see SlotHeader: a send under the lock never writes
// the other header line, and a receive that copies never reads it). Rarely written fields
// share another two lines, which stay in every cache. A receiver polling an empty mailbox
// reads `depth` on the lock's line, a line the sender writes anyway: the poll adds no line of
// its own to a message's way. (Until layout 7 `depth` had a line of its own: four lines per
// message, where the atomic ping-pong that bounds a round trip moves one.)
//
// Each process asks for the lock's line and the slot's header line for writing before it
// reads them (a prefetchw, see mailbox_impl.hpp): read first, a line held by the other side
// would come over shared and then need a second trip to be made writable.
//
// Wake-ups: a receiver waiting for any message (type 0, not broadcast) sleeps only after it
// found the mailbox empty under the lock, so only a message that makes an empty mailbox
// non-empty can be news to it; receivers that sleep while messages are queued (a type filter,
// or a broadcast receiver ahead of the others) count themselves in `selective_waiters`, and
// while any does, every message wakes. Likewise a sender (or loan) sleeps only after it found
// no free slot, so a receive that frees a slot wakes only when there was none. A producer
// streaming to a consumer that sleeps then pays one wake per time the consumer ran dry, not
// one per message. (Counts left high by a process that died asleep cost needless wakes only.)
//
// Hand-off (large messages, see mailbox_handoff.cpp): a slot with flags & kSlotHandoff holds a
// 32-byte HandoffRecord instead of the bytes; the memfd it names waits in the mailbox's
// descriptor socket, which the processes listed in MailboxState::holders hold open.
//
// Futex words (`*_signal`) sit on cache lines of their own: waiters sleep on them and wakers
// bump them, without touching the lock's line.
//
// Pre-checks without the lock: `depth` and `is_removed` are written only under
// `lock` but are atomics that a try_ call reads without it, so a poller of an empty (or full)
// mailbox returns would_block without taking the lock (it reads the lock's line, but never
// writes it, so a sender that makes progress is not slowed by more than the line's trip).
// These reads are relaxed: they only decide whether to take the lock, and every byte of a
// message is read under the lock (its acquire pairs with the writer's unlock). A value seen
// without the lock is no older than anything that happened before the call, so
// a would_block answer is one the locked path could have given then (bounded, not broadcast:
// depth == slot_count means every slot holds a queued message, nothing to reclaim). The would_block
// counters sit on their side's line: a polling receiver bumps the receivers' line, which the
// sender making progress never touches (and the other way round).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "conduit/shm/segment_layout.hpp"
#include "conduit/sync/mutex.hpp"
#include "conduit/sync/wait.hpp"

namespace conduit::msg {

using shm::kCacheLine;

inline constexpr std::uint64_t kMailboxMagic = 0x31'58'4f'42'4c'49'41'4dULL;  // "MAILBOX1"
// 3: cache lines; 4: hand-off; 5: Mutex; 6: a message's send and receive touch one header line;
// 7: depth on the lock's line, the slot's common header line next to its payload
inline constexpr std::uint32_t kMailboxLayoutVersion = 7;
inline constexpr std::uint32_t kMaxReceivers = 64;       // one bit each in Slot::pending
inline constexpr std::uint32_t kMaxAttached = 128;       // processes with a handle, for stats
inline constexpr std::uint32_t kZeroCapacitySlots = 16;  // concurrent rendezvous offers
inline constexpr std::uint32_t kUnboundedInitialSlots = 64;
// An unbounded mailbox grows by extension segments ("<name>#x<k>"), extension k holding
// kUnboundedInitialSlots << k slots: doubling, so n messages need O(log n) segments.
inline constexpr std::uint32_t kMaxExtensions = 24;
inline constexpr std::int32_t kNoSlot = -1;
// Hand-off (large messages): processes whose handles hold the mailbox's descriptor socket, for
// a joining handle to take a duplicate from (pidfd_getfd). Any one living suffices.
inline constexpr std::uint32_t kMaxHolders = 16;
inline constexpr std::uint16_t kSlotHandoff = 1;  // SlotHeader::flags: payload is a HandoffRecord
inline constexpr std::uint64_t kHandoffMagic = 0x31'46'46'4f'44'4e'41'48ULL;  // "HANDOFF1"

/// A handed-off message as it sits in its slot, and as the record that carries its memfd
/// through the descriptor socket: the two are matched byte for byte.
struct HandoffRecord {
  std::uint64_t magic;  // kHandoffMagic
  std::uint64_t size;   // bytes of the message (of the memfd)
  std::uint64_t inode;  // the memfd's inode: unique among living files
  std::int32_t sender_pid;
  std::uint32_t reserved;
};
static_assert(std::is_standard_layout_v<HandoffRecord>);
static_assert(sizeof(HandoffRecord) == 32);

enum class SlotState : std::uint32_t {
  free = 0,
  writing = 1,    // claimed by `holder`: a Loan being written
  queued = 2,     // in the queue, ordered by sequence
  reading = 3,    // taken by `holder`: a MessageView reads it where it lies
  delivered = 4,  // taken; the sender waits for its receipt (`taken_by`)
};

struct MailboxConfig {
  std::uint64_t magic;
  std::uint32_t layout_version;
  std::uint32_t capacity_kind;   // Capacity::Kind
  std::uint64_t capacity_limit;  // bounded: n
  std::uint64_t max_message_size;
  std::uint32_t receivers;  // Receivers
  std::uint32_t lifetime;   // Lifetime
  std::uint32_t slot_count;
  std::uint32_t slot_stride;
  std::uint64_t slots_offset;  // from the start of the payload
  std::uint64_t reserved[9];
};
static_assert(std::is_standard_layout_v<MailboxConfig>);
static_assert(sizeof(MailboxConfig) == 128);
static_assert(offsetof(MailboxConfig, capacity_limit) == 16);
static_assert(offsetof(MailboxConfig, max_message_size) == 24);
static_assert(offsetof(MailboxConfig, slot_count) == 40);
static_assert(offsetof(MailboxConfig, slots_offset) == 48);

/// A process as stored in shared memory (ProcessId, with explicit padding).
struct StoredProcess {
  std::int32_t pid;
  std::uint32_t flags;  // receivers table: 1 = in use
  std::uint64_t start_time;
};
static_assert(sizeof(StoredProcess) == 16);

/// A handle that holds the descriptor socket: its process and the two ends' descriptor numbers
/// in that process, with their inodes (checked after pidfd_getfd, in case a number was reused).
struct HandoffHolder {
  StoredProcess process;  // flags 1 = in use
  std::int32_t send_fd;
  std::int32_t receive_fd;
  std::uint64_t send_inode;
  std::uint64_t receive_inode;
};
static_assert(std::is_standard_layout_v<HandoffHolder>);
static_assert(sizeof(HandoffHolder) == 40);

struct alignas(kCacheLine) MailboxState {
  // The lock's line: everything every send and receive touches (see "Which line holds what").
  Mutex lock;  // robust: a holder that dies hands `owner_died` to the next locker
  // Guarded by `lock`.
  std::uint32_t is_held;  // 1 from taking `lock` to giving it back: still 1 when taken means
                          // its last holder died holding it (a robust try_lock does not say)
  std::int32_t queue_head;
  std::int32_t queue_tail;
  std::int32_t free_head;
  std::uint32_t in_use;  // slots not free (at most slot_total: 32 bits suffice)
  // Lock-free summary (see "Pre-checks" above): written under `lock`, read without it.
  std::atomic<std::uint32_t> depth;  // queued slots (what capacity counts)
  // Guarded by `lock`, rarely written.
  alignas(kCacheLine) std::uint32_t pair_count;
  std::atomic<std::uint32_t> waiting_receivers;  // blocked in receive: try_send on zero capacity
  std::uint32_t slot_total;                      // slots in the mailbox and its extensions
  std::uint32_t extension_count;                 // unbounded: extension segments made so far
  std::uint64_t dropped;
  StoredProcess exclusive_holder;
  StoredProcess pair_members[2];
  // Receivers about to sleep, or asleep, with messages queued (see "Wake-ups" above):
  // incremented under `lock`, decremented after the wait.
  std::atomic<std::uint32_t> selective_waiters;
  // Lock-free summary, written once: remove() was called, everyone gets `closed`.
  std::atomic<std::uint32_t> is_removed;
  // The senders' line: `would_block_sends` bumped by polling senders (relaxed, no lock);
  // next_sequence and sent guarded by `lock`.
  alignas(kCacheLine) std::atomic<std::uint64_t> would_block_sends;
  std::uint64_t next_sequence;
  std::uint64_t sent;
  // The receivers' line: as the senders'.
  alignas(kCacheLine) std::atomic<std::uint64_t> would_block_receives;
  std::uint64_t received;
  alignas(kCacheLine) sync::WaitWord messages;  // bumped when a message is queued
  alignas(kCacheLine) sync::WaitWord space;     // bumped when a slot is freed
  alignas(kCacheLine) sync::WaitWord receipts;  // bumped when a waited-for message is taken
  alignas(kCacheLine) StoredProcess receiver_table[kMaxReceivers];  // broadcast receivers
  StoredProcess attached[kMaxAttached];
  alignas(kCacheLine) HandoffHolder holders[kMaxHolders];  // see mailbox_handoff.cpp
};
static_assert(std::is_standard_layout_v<MailboxState>);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);
// The lock's line with the queue's fields and depth (one line: 40 + 6 * 4 bytes), the rarely
// written fields (two lines), then one line for each side: pollers and the side making
// progress share no line.
static_assert(sizeof(Mutex) == 40);
static_assert(offsetof(MailboxState, is_held) == 40);
static_assert(offsetof(MailboxState, in_use) == 56);
static_assert(offsetof(MailboxState, depth) == 60);
static_assert(offsetof(MailboxState, pair_count) == 64);
static_assert(offsetof(MailboxState, selective_waiters) == 136);
static_assert(offsetof(MailboxState, is_removed) == 140);
static_assert(offsetof(MailboxState, would_block_sends) == 192);
static_assert(offsetof(MailboxState, next_sequence) == 200);
static_assert(offsetof(MailboxState, would_block_receives) == 256);
static_assert(offsetof(MailboxState, received) == 264);
static_assert(offsetof(MailboxState, messages) == 320);
static_assert(offsetof(MailboxState, holders) == 3584);
static_assert(sizeof(MailboxState) == 4224);

// A slot's header is two lines. The second (the one just before the payload) holds
// everything an ordinary send and receive touch (links, state, size, type, sequence, sender,
// flags), so a message moves one header line between the two processes besides its payload,
// and that line is the payload's neighbour: the hardware's next-line prefetch fetches the
// payload's first line with it. The first line only loans, views and receipts touch (who
// holds or took the slot).
struct alignas(kCacheLine) SlotHeader {
  // The first line.
  StoredProcess holder;    // writing / reading: who
  StoredProcess taken_by;  // delivered: who took it
  std::uint64_t reserved[4];
  // The second line, next to the payload.
  std::uint32_t state;  // SlotState
  std::int32_t next;
  std::int32_t prev;
  std::uint16_t wants_receipt;
  std::uint16_t flags;  // kSlotHandoff
  std::uint64_t size;
  std::int64_t type;
  std::uint64_t sequence;
  std::uint64_t pending;  // broadcast: receivers (bits of receiver_table) still to read it
  StoredProcess sender;
};
static_assert(std::is_standard_layout_v<SlotHeader>);
static_assert(sizeof(SlotHeader) == 128);
static_assert(offsetof(SlotHeader, holder) == 0);
static_assert(offsetof(SlotHeader, taken_by) == 16);
static_assert(offsetof(SlotHeader, state) == 64);
static_assert(offsetof(SlotHeader, flags) == 78);
static_assert(offsetof(SlotHeader, size) == 80);
static_assert(offsetof(SlotHeader, sender) == 112);
/// Where the line every send and receive touch begins (the line before the payload).
inline constexpr std::size_t kSlotHotLine = offsetof(SlotHeader, state);
static_assert(kSlotHotLine % kCacheLine == 0 && kSlotHotLine + kCacheLine == sizeof(SlotHeader));

}  // namespace conduit::msg
