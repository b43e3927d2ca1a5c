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
//
// The ready ring (layout 9). A bounded mailbox that is not broadcast, with
// max_message_size <= kRingMaxMessage, also has a ring of cells (after the slots), through
// which ordinary messages (a copy, no receipt) pass without the lock: a sender claims the
// position `ring_tail`, writes its cell, publishes; a receiver polls the cell of the oldest live
// position, takes it, copies, frees it. One line (the cell's) moves from sender to receiver per
// message, as in the atomic ping-pong; under the lock a message moved the lock's line and the
// slot's, and a polling receiver took the lock's line from the sender each time.
//
// Each cell has a word: the position it is for (its stamp), a state, and, while a receiver
// works on it, that process's pid. Stamps of cell i are i, i + N, i + 2N... (N cells):
//   empty(p)    free for position p;    full(p)  the message of position p;
//   reading(p, pid)  a receiver copies it out.
// Each cell also has a claim word, in an array after the cells (layout 9; before, the sender
// claimed the cell word itself):
//   empty(p)    a sender of position p may claim it;    writing(p, pid)  that sender holds p.
// Receivers never look at claim words (but to recover a dead sender's): a receiver polls the
// cell word, and a claim made on it took the line from the poller, which took it back before
// the sender's publish: one more trip of the line each message.
// Sender: claims the claim word of the tail's position (CAS empty(p) -> writing(p, me)); finds
// the cell empty(p) (else an older message is still in it: it gives the claim back and the
// message goes to the slots); moves the tail (a store: only the holder of position p's claim
// moves the tail from p); writes the cell, publishes full(p) (CAS); releases the claim
// (empty(p + N)). Receiver: from `ring_head` on, the first full(p) at position p: CAS to
// reading, copies, stores empty(p + N), moves the head past positions that are done. A
// receiver passes cells other receivers are copying out (any_one receivers work side by side),
// never an empty one (its writer may be at work, and its next message may be full by the time
// a scan gets there); the head stays at the oldest position not done.
//
// The ring and the slot queue are one queue: every message in the ring is older than every
// message in the slots. A sender uses the ring only while no slot is in use (`in_use` 0);
// whatever goes to the slots (a loan, a receipt, a hand-off, a message that found the ring's
// next cell busy for more than a moment) waits behind the ring, and every later send goes to
// the slots until they are empty again. A receiver looks in the ring first; it reads `depth`
// (acquire) before, so a slot message it then takes was queued after every ring message it
// could not see.
// Selective receive looks at both (the ring first: older), and may take a ring message out of
// order; the head then stays at the oldest live position. Capacity bounded(n): the ring has
// n cells, and a message goes into the slots only while tail - done + in_use < n
// (`ring_done` counts positions done, wherever they are), so exactly n messages fit. A ring send
// needs no count: with nothing in the slots, the tail's cell is free exactly when there is room
// (a count read per send took the receivers' line every n sends); found in use, the count says
// whether the ring is full. A process
// killed between freeing a cell and counting it leaves the count short for good (found by
// model/ready_ring.pml): when the count says full but the tail's cell is free (in a full ring
// every cell is in use), the cells are counted one by one (Mailbox::Impl::ring_has_room), so no
// capacity is lost. A MessageView
// of a ring message holds its cell (`reading`, is_viewed) until the view goes, as a view of a slot
// holds the slot.
//
// Crash safety: a claim names its process: its pid in the word, and its pid and start time in
// the holder word next to it, both written by the claim's one 16-byte compare-exchange
// (cmpxchg16b). A pid alone may name another process by the time anyone asks (pid reuse:
// 32768 pids by default), and a claim whose holder came after it left a window, from the claim
// to the holder's store, in which a writer killed for good kept its position for as long as its
// pid was reused: receivers stopped there and, once the ring was full, senders waited too.
// Recoveries compare-exchange both words as they read them, so a claim a reused pid made
// since is not taken for the one they judged. A receiver or sender that finds a cell or a claim
// busy for long (every kReclaimInterval at most, and at every wait slice; a receiver that keeps
// finding the head's cell empty, every kEmptyLooksPerRecovery looks) asks whether its claimant
// lives: a dead writer's claim is given back (empty(p) when the tail did not move yet or the
// cell still held an older message; when it moved the tail and never published, the position is
// given up: the cell becomes empty(p + N), then the claim, then the position is counted done;
// when it published, empty(p + N)), a dead reader's cell becomes full again (it had not
// returned the message: it is received once, by someone else), unless it had made a view of it
// (received: the cell is freed). A sender that finds the tail's claim or cell busy (another
// sender between its claim and moving the tail, or between its publish and its release; a
// receiver copying an older message out) waits a bounded while for it (a few tens of
// microseconds, yielding now and then: the holder may have been preempted), then queues in
// the slots; but a blocking send whose tail cell a receiver still copies out (not a view,
// which may live on) sleeps until that cell changes, as for room: the ring has room in a
// moment. Queued there at once, every later send followed it into the slots, and several
// senders, or any_one receivers sharing a CPU, kept them busy: 64 B from 3 sender processes
// streamed at 0.2-0.6 Mmsg/s against 4.8 with the wait, any_one to 2 receivers at 1.8-2.3
// against 5.9-6.3 (2 cores).
//
// Wake-ups: the second protocol of sync/wait.hpp (a waiter flags itself, looks again, then
// sleeps; a ring sender or receiver looks at the sleepers after its store), with the fencing
// in `wake_fencing` (symmetric as made now: see Mailbox::Impl::plan), once per sleep (marked
// sleeps, wake_all_once) except for selective receivers, which watch the word itself.
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
// 7: depth on the lock's line, the slot's common header line next to its payload;
// 8: the ready ring
// 9: the ready ring's claims in words of their own (receivers poll only the cell words)
// 10: a claim and its holder in one 16-byte compare-exchange (RingClaim; RingCell::holder moved)
inline constexpr std::uint32_t kMailboxLayoutVersion = 10;
inline constexpr std::uint32_t kMaxReceivers = 64;       // one bit each in Slot::pending
inline constexpr std::uint32_t kMaxAttached = 128;       // processes with a handle, for stats
inline constexpr std::uint32_t kZeroCapacitySlots = 16;  // concurrent rendezvous offers
inline constexpr std::uint32_t kUnboundedInitialSlots = 64;
// An unbounded mailbox grows by extension segments ("<name>#x<k>"), extension k holding
// kUnboundedInitialSlots << k slots: doubling, so n messages need O(log n) segments.
inline constexpr std::uint32_t kMaxExtensions = 24;
/// What an extension's name adds to its mailbox's ("#x24" at most): a mailbox conduit names
/// itself leaves room for it within kMaxInternalNameLength.
inline constexpr std::size_t kExtensionSuffixLength = 4;
static_assert(kMaxExtensions < 100);
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
  // The ready ring (see "The ready ring" above): 0 cells when the mailbox has none.
  std::uint32_t ring_cells;
  std::uint32_t ring_stride;
  std::uint64_t ring_offset;   // from the start of the payload
  std::uint32_t wake_fencing;  // sync::WakeFencing of the ring's wakers
  std::uint32_t reserved32;
  std::uint64_t reserved[6];
};
static_assert(std::is_standard_layout_v<MailboxConfig>);
static_assert(sizeof(MailboxConfig) == 128);
static_assert(offsetof(MailboxConfig, capacity_limit) == 16);
static_assert(offsetof(MailboxConfig, max_message_size) == 24);
static_assert(offsetof(MailboxConfig, slot_count) == 40);
static_assert(offsetof(MailboxConfig, slots_offset) == 48);
static_assert(offsetof(MailboxConfig, ring_cells) == 56);
static_assert(offsetof(MailboxConfig, ring_offset) == 64);
static_assert(offsetof(MailboxConfig, wake_fencing) == 72);

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
  // Slots not free (at most slot_total: 32 bits suffice). Written under `lock`; an atomic
  // because a ring send reads it without the lock (zero: nothing to queue behind).
  std::atomic<std::uint32_t> in_use;
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
  // The ready ring's positions (see "The ready ring"), each on its side's line.
  alignas(kCacheLine) std::atomic<std::uint64_t> ring_tail;  // the next position to claim
  std::atomic<std::uint64_t> ring_voided;  // positions given up by writers that died (cold)
  alignas(kCacheLine) std::atomic<std::uint64_t> ring_head;  // no position before it is live
  std::atomic<std::uint64_t> ring_done;  // positions done: tail - done cells are in use
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
static_assert(offsetof(MailboxState, ring_tail) == 4224);
static_assert(offsetof(MailboxState, ring_head) == 4288);
static_assert(offsetof(MailboxState, ring_done) == 4296);
static_assert(sizeof(MailboxState) == 4352);

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

// ---- the ready ring ----
// Messages up to kRingMaxMessage bytes in a bounded mailbox that is not broadcast.
inline constexpr std::size_t kRingMaxMessage = 4096;

/// The state in a cell's word (empty, full, reading) or in its claim word (empty, writing).
enum class CellState : std::uint64_t {
  empty = 0,    // free for position `stamp` (cell), or for its writer to claim (claim)
  writing = 1,  // claim: held by the writer of position `stamp` (its pid in the word)
  full = 2,     // the message of position `stamp`
  reading = 3,  // taken by a receiver (its pid in the word), not yet returned to it
};

/// A cell's word or claim word: stamp (a position, modulo 2^40) | pid (22 bits: Linux's
/// PID_MAX_LIMIT is 2^22) | state. One word, so that a claim names its claimant in the same
/// compare-exchange.
struct CellWord {
  static constexpr unsigned kStampShift = 24;
  static constexpr std::uint64_t kStampMask = (std::uint64_t{1} << 40) - 1;
  static constexpr std::uint64_t kPidMask = (std::uint64_t{1} << 22) - 1;

  static constexpr std::uint64_t make(std::uint64_t position, CellState state,
                                      std::uint32_t pid = 0) {
    return ((position & kStampMask) << kStampShift) | ((pid & kPidMask) << 2) |
           static_cast<std::uint64_t>(state);
  }
  static constexpr CellState state(std::uint64_t word) { return static_cast<CellState>(word & 3); }
  static constexpr std::uint64_t stamp(std::uint64_t word) { return word >> kStampShift; }
  static constexpr std::int32_t pid(std::uint64_t word) {
    return static_cast<std::int32_t>((word >> 2) & kPidMask);
  }
  /// The cell's stamp minus `position`, as a signed distance (stamps wrap at 2^40).
  static constexpr std::int64_t distance(std::uint64_t word, std::uint64_t position) {
    const std::uint64_t difference = ((word >> kStampShift) - position) & kStampMask;
    return static_cast<std::int64_t>(difference << kStampShift) >> kStampShift;
  }
};

/// A ring cell's header; the message's bytes follow it (ring_stride in all).
struct alignas(kCacheLine) RingCell {
  std::atomic<std::uint64_t> word;  // CellWord
  // reading: who, as CellHolder. Next to the word: a receiver claims the cell by writing both
  // in one 16-byte compare-exchange (see "Crash safety" above).
  std::atomic<std::uint64_t> holder;
  std::uint64_t size;
  std::int64_t type;
  StoredProcess sender;
  std::uint64_t is_viewed;  // reading: 1 once a MessageView of the cell was made (received)
  std::uint64_t reserved;
};

/// A ring cell's claim (in an array after the cells): writing: who, as CellHolder, written in
/// the same 16-byte compare-exchange as the claim word.
struct alignas(16) RingClaim {
  std::atomic<std::uint64_t> word;  // CellWord: empty(p) or writing(p, pid)
  std::atomic<std::uint64_t> holder;
};

/// A claimant in one word: start time (clock ticks since boot; 42 bits last 44 years at
/// 100 Hz) | pid (22 bits).
struct CellHolder {
  static constexpr std::uint64_t make(std::int32_t pid, std::uint64_t start_time) {
    return (start_time << 22) | (static_cast<std::uint64_t>(pid) & CellWord::kPidMask);
  }
  static constexpr std::int32_t pid(std::uint64_t holder) {
    return static_cast<std::int32_t>(holder & CellWord::kPidMask);
  }
  static constexpr std::uint64_t start_time(std::uint64_t holder) { return holder >> 22; }
};
static_assert(std::is_standard_layout_v<RingCell>);
static_assert(sizeof(RingCell) == kCacheLine);
static_assert(offsetof(RingCell, holder) == 8 && offsetof(RingClaim, holder) == 8);
static_assert(sizeof(RingClaim) == 16);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

}  // namespace conduit::msg
