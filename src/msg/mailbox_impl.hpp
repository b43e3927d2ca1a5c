// Mailbox internals, private to msg/: the handle's view of the shared bytes and the queue
// operations, all done with MailboxState::lock held unless a comment says otherwise.
#pragma once

#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include <array>
#include <atomic>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "conduit/msg/large_buffer.hpp"
#include "conduit/msg/mailbox.hpp"
#include "conduit/msg/mailbox_layout.hpp"
#include "conduit/shm/segment.hpp"
#include "conduit/sync/wait.hpp"
#include "conduit/sys/clock.hpp"
#include "conduit/sys/fd.hpp"

namespace conduit {

inline msg::StoredProcess store(ProcessId process, std::uint32_t flags = 0) {
  return {process.pid, flags, process.start_time};
}
inline ProcessId load(const msg::StoredProcess& stored) { return {stored.pid, stored.start_time}; }

/// The result of `receive(Message*)`, which receives into a Message made in place in it:
/// nothing is moved or copied after (one return, so the result is the caller's).
template <class Receive>
Result<Message> received(Receive receive) {
  Result<Message> out(std::in_place);
  if (auto done = receive(&*out); !done) out = std::unexpected(std::move(done.error()));
  return out;
}

#if defined(__x86_64__)
/// Whether the CPU has PREFETCHW (CPUID 0x80000001, ECX bit 8): every x86-64 CPU of the last
/// decade does, but an older one would fault on it.
inline const bool kHasPrefetchw = [] {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  return __get_cpuid(0x80000001u, &eax, &ebx, &ecx, &edx) != 0 && (ecx & (1u << 8)) != 0;
}();
#endif

/// Asks for the cache line at `address` in a state this core may write. For a line that
/// another process wrote last and this one is about to read and then write (the lock's line,
/// a slot's header line), a plain read would bring it over shared, and the first write would
/// then need a second trip between the cores to take it over; asked for writing, it comes
/// once. Only a hint: it changes no value, so a peer's writes cannot make it do harm.
inline void prefetch_for_write(const void* address) noexcept {
#if defined(__x86_64__)
  if (kHasPrefetchw) {
    asm volatile("prefetchw %0" : : "m"(*static_cast<const char*>(address)));
    return;
  }
#endif
  __builtin_prefetch(address, 1, 3);
}

/// What Impl::receive put into `out`, or its error.
template <class T>
Result<T> taken(const Result<void>& received, std::optional<T>& out) {
  if (!received) return std::unexpected(received.error());
  if (!out) return fail(Errc::corrupted, "mailbox: receive: succeeded without a message");
  return std::move(*out);
}

/// Payload buffers for received Messages, reused once no Message holds them any more: a
/// receiver that keeps up allocates nothing per message. One per handle; it never blocks (a
/// thread that finds it busy, or every buffer still held, allocates a buffer of its own).
class BufferPool {
 public:
  struct Buffer {
    std::unique_ptr<std::byte[]> bytes;
    std::size_t capacity = 0;
  };
  /// Messages larger than this get a buffer of their own (large ones should use views).
  static constexpr std::size_t kLargest = std::size_t{64} << 10;
  static constexpr std::size_t kBuffers = 8;

  /// A buffer of at least `size` bytes that nobody else holds.
  std::shared_ptr<Buffer> take(std::size_t size);

 private:
  std::array<std::shared_ptr<Buffer>, kBuffers> buffers_;
  std::atomic_flag is_busy_;
};

class Mailbox::Impl final : public Lender, public std::enable_shared_from_this<Mailbox::Impl> {
 public:
  // How often a blocked call looks whether a process-lifetime mailbox's owner died (the owner
  // cannot wake anyone as it dies, so waiters look for themselves), and for ring cells held by
  // the dead.
  static constexpr auto kLivenessPoll = std::chrono::milliseconds(50);
  // How often a handle that finds the mailbox full (or a ring cell busy) looks for what dead
  // processes hold.
  static constexpr auto kReclaimInterval = std::chrono::milliseconds(5);
  /// Every this many looks that found the ring's oldest live cell empty (a receive's), one
  /// asks whether a dead writer holds that position (ring_recover).
  static constexpr std::uint32_t kEmptyLooksPerRecovery = 256;
  /// How long a ring send waits at most for a claim or cell that another process holds for a
  /// moment (Mailbox::Impl::ring_send), in looks: a few tens of microseconds of `pause`, and a
  /// sched_yield every kBusyRoundsPerYield looks.
  static constexpr std::uint32_t kBusyRounds = 512;
  static constexpr std::uint32_t kBusyRoundsPerYield = 64;
  /// Claims a ring send attempts (each a position it found free, or waited for) before it
  /// queues in the slots.
  static constexpr int kSendAttempts = 8;
  /// How many positions after its own a ring receive asks for (see receive_fast).
  static constexpr int kPrefetchAhead = 2;

  Impl(shm::Segment segment, const msg::MailboxConfig& config, MailboxRole role, bool is_creator);
  ~Impl();
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  /// The sizes a mailbox with these options needs; invalid_argument for impossible options.
  static Result<msg::MailboxConfig> plan(std::string_view name, const MailboxOptions& options);
  /// Writes the initial config, state and free list into a new segment's payload.
  static Result<void> initialize(std::span<std::byte> payload, const msg::MailboxConfig& config);
  /// Checks a mapped mailbox's config against the segment it lives in.
  static Result<msg::MailboxConfig> validate(const shm::Segment& segment);

  /// Registers this handle: attached table, pair members, broadcast receiver slot.
  Result<void> attach();

  /// `is_try`: never wait; otherwise wait until `deadline` (none: for ever).
  /// `large`: hand `large` off (`payload` is then its HandoffRecord).
  Result<void> send(std::span<const std::byte> payload, std::int64_t type, bool is_try,
                    std::optional<sys::TimePoint> deadline, bool wants_receipt, Receipt* receipt,
                    LargeBuffer* large = nullptr);
  enum class Queued { queued, dropped, full };
  /// One attempt under the lock to queue a message in a slot: `full` when no slot is free
  /// (after reclaiming and growing); `dropped` for a broadcast nobody hears.
  Result<Queued> queue_once(std::span<const std::byte> payload, std::int64_t type, bool is_try,
                            std::optional<sys::TimePoint> deadline, bool wants_receipt,
                            LargeBuffer* large, std::string_view operation, std::int32_t& index,
                            std::uint64_t& sequence);
  /// Seals `large` and sends its descriptor (mailbox_handoff.cpp).
  Result<void> send_large(LargeBuffer& large, std::int64_t type, bool is_try,
                          std::optional<sys::TimePoint> deadline);
  /// Into `*message` a copy; into `view` (when not null) the slot itself, held for reading.
  Result<void> receive(std::int64_t type, bool is_try, std::optional<sys::TimePoint> deadline,
                       Message* message, std::optional<MessageView>* view);
  /// What take_locked did, for the wakes after the lock is released (after_take).
  struct Taken {
    bool is_taken = false;
    bool is_receipt = false;
    bool is_freed = false;
    std::optional<Error> lost;  // a hand-off whose descriptor is gone
  };
  /// Under the lock: claims the receiver's role (exclusive, broadcast) and takes the slot
  /// message find(type) gives, unless `below` is given and its type is not lower.
  Result<void> take_locked(std::int64_t type, ProcessId me, Message* message,
                           std::optional<MessageView>* view, std::string_view operation,
                           std::optional<std::int64_t> below, Taken& taken);
  void after_take(const Taken& taken);
  Result<void> claim_exclusive(ProcessId me, std::string_view operation);
  /// A copy of `bytes` into `*message` (inside it when small enough, else in a pooled buffer),
  /// or into `view` when not null. Inline: nearly every receive takes the first branch.
  void deliver_copy(std::span<const std::byte> bytes, std::int64_t type, ProcessId sender,
                    std::uint64_t sequence, Message* message, std::optional<MessageView>* view) {
    if (view == nullptr && bytes.size() <= Message::kInlineBytes) [[likely]] {
      message->assign_copy(bytes, type, sender, sequence);  // no buffer: inside the Message
      return;
    }
    deliver_buffered(bytes, type, sender, sequence, message, view);
  }
  /// deliver_copy through a pooled buffer.
  void deliver_buffered(std::span<const std::byte> bytes, std::int64_t type, ProcessId sender,
                        std::uint64_t sequence, Message* message, std::optional<MessageView>* view);
  /// A slot claimed for this process to write `size` bytes into (mailbox_loan.cpp).
  Result<Loan> lend(std::size_t size, bool is_try, std::optional<sys::TimePoint> deadline);
  // Lender: what Loan and MessageView call back (the token is the slot's index).
  Result<void> commit_loan(std::uint64_t token, std::size_t size, std::int64_t type) override;
  void cancel_loan(std::uint64_t token) noexcept override;
  void release_view(std::uint64_t token) noexcept override;
  MailboxStats stats();

  std::string context(std::string_view operation) const;

  // ---- the ready ring (mailbox_ring.cpp; see "The ready ring" in mailbox_layout.hpp) ----
  static std::uint32_t ring_cells_for(const msg::MailboxConfig& config);
  static std::uint64_t ring_offset_for(const msg::MailboxConfig& config);
  /// Where the claim words (one per cell, after the cells) begin.
  static std::uint64_t ring_claims_offset_for(const msg::MailboxConfig& config);
  /// The payload size a mailbox with `config` needs.
  static std::size_t size_of(const msg::MailboxConfig& config);
  enum class RingSend {
    sent,
    full,        // bounded: the ring and the slots hold capacity messages
    obstructed,  // the slots come first (in use), or the tail's cell is busy: queue in a slot
    held,        // a receiver copies an older message out of the tail's cell, for longer than
                 // a moment (off the CPU): there is room, in a moment (see send_ringed)
  };
  /// The tail's cell a receiver held (RingSend::held): its position and the word seen.
  struct HeldCell {
    std::uint64_t position = 0;
    std::uint64_t word = 0;
  };
  RingSend ring_send(std::span<const std::byte> payload, std::int64_t type, ProcessId me,
                     HeldCell* held_cell = nullptr);
  /// The common cases in the fewest steps, tried by Mailbox's send, try_send and send_for and
  /// by receive_copy before the whole story (send / receive), which does the rest: a send into
  /// the ring; a receive (type 0, a copy) of the message in the head's cell.
  bool send_fast(std::span<const std::byte> payload, std::int64_t type);
  enum class Fast {
    none,   // not the common case: the whole path decides
    empty,  // nothing in the ring or the slots: a try_ call would block
    taken,
    torn,  // a forged size: the cell was freed, the message dropped (torn() says so)
  };
  Fast receive_fast(Message* message);
  /// receive, try_receive and receive_for: receive_fast first, then receive(). Inline: it is
  /// the path of every such receive.
  Result<void> receive_copy(std::int64_t type, bool is_try, std::optional<sys::TimePoint> deadline,
                            Message* message) {
    if (type == 0) {
      switch (receive_fast(message)) {
        case Fast::taken: return {};
        case Fast::empty:
          if (is_try) return would_block_receive();
          break;
        case Fast::torn: return torn(is_try ? "try_receive" : "receive");
        case Fast::none: break;
      }
    }
    return receive(type, is_try, deadline, message, nullptr);
  }
  /// try_receive's would_block (counted).
  Result<void> would_block_receive() {
    count_would_block_receive();
    return std::unexpected(hot_.receive_empty);
  }
  void count_would_block_receive() {
    state_->would_block_receives.fetch_add(1, std::memory_order_relaxed);  // a counter
  }
  /// What a receive says when receive_fast found a forged size (Fast::torn).
  [[gnu::cold]] Result<void> torn(std::string_view operation) const;
  /// Writes a claimed cell and publishes it (full), then wakes any sleeping receiver; false
  /// when the claim was not this process's any more.
  bool publish_cell(msg::RingCell* cell, std::uint64_t position, std::span<const std::byte> payload,
                    std::int64_t type, ProcessId me);
  enum class Visited { next, stop, taken };
  /// Walks the ring's live positions from its head, oldest first, calling
  /// visit(position, cell, word) for each full one until it says stop or taken (true then),
  /// and moves the head past the positions that are done.
  template <class Visit>
  bool ring_scan(Visit&& visit);
  /// Takes the oldest ring message for `type` (msgrcv's rules) into `*message` or `view`.
  /// false: none.
  Result<bool> ring_take(std::int64_t type, ProcessId me, Message* message,
                         std::optional<MessageView>* view, std::string_view operation);
  /// type < 0: the lowest type among the ring's messages for `type`, if any.
  std::optional<std::int64_t> ring_lowest(std::int64_t type);
  /// Whether a receiver of any type may find something (the ring's oldest live position
  /// holds a message or is busy, or the slots hold one): the waiting receiver's look.
  bool is_message_ready();
  /// Whether a sender may find room (or the mailbox was removed): the waiting sender's look.
  bool has_space() const;
  /// Positions claimed and not yet counted done: the ring's messages (and ones being written),
  /// or more: a process killed between freeing a cell and counting it leaves the count one
  /// short for good (found by model/ready_ring.pml). So it is a bound, never too low; when it
  /// says full, ring_has_room looks at the cells themselves.
  std::uint64_t ring_occupancy() const;
  /// Whether the ring and `in_use` slots hold fewer than the capacity: the count first, then,
  /// when it says full but the tail's cell is free (a full ring has every cell in use), the
  /// cells one by one.
  bool ring_has_room(std::uint32_t in_use) const;
  /// Whether a look that found the ring's oldest live cell empty should ask whether a dead
  /// writer holds its position (one look in kEmptyLooksPerRecovery).
  bool is_time_to_recover_empty();
  /// Frees the cell of `position`, which this process claimed (its message was received), and
  /// counts the position done.
  void ring_finish(msg::RingCell* cell, std::uint64_t position);
  /// A MessageView's token for the ring cell of a position (slot tokens are indices < 2^31).
  static constexpr std::uint64_t kRingToken = std::uint64_t{1} << 63;
  void ring_release_view(std::uint64_t position) noexcept;
  /// Gives back the cells that dead writers and readers hold (the writer's message was never
  /// sent: dropped; the reader's was never returned: full again). `position`: only that
  /// position's cell, rate-limited per handle; none: every cell (a waiter's slice ended).
  void ring_recover(std::optional<std::uint64_t> position);
  Result<void> send_ringed(std::span<const std::byte> payload, std::int64_t type, bool is_try,
                           std::optional<sys::TimePoint> deadline, std::string_view operation);
  Result<void> receive_ringed(std::int64_t type, bool is_try,
                              std::optional<sys::TimePoint> deadline, Message* message,
                              std::optional<MessageView>* view, std::string_view operation);
  /// One attempt at a ring mailbox's receive: the ring, then the slots.
  Result<bool> receive_once(std::int64_t type, ProcessId me, Message* message,
                            std::optional<MessageView>* view, std::string_view operation);
  /// Cell `index` (position % ring_cells_), and its claim word (see "The ready ring"): a
  /// sender needs both for one position, and divides once.
  msg::RingCell* ring_cell_at(std::uint64_t index) const {
    return std::launder(reinterpret_cast<msg::RingCell*>(ring_ + index * ring_stride_));
  }
  msg::RingClaim& ring_claim_at(std::uint64_t index) const { return ring_claims_[index]; }
  msg::RingCell* ring_cell(std::uint64_t position) const {
    return ring_cell_at(position % ring_cells_);
  }
  /// The cell of the position after `cell`'s (no division).
  msg::RingCell* ring_next(msg::RingCell* cell) const {
    std::byte* next = reinterpret_cast<std::byte*>(cell) + ring_stride_;
    if (next == ring_ + std::size_t{ring_cells_} * ring_stride_) next = ring_;
    return std::launder(reinterpret_cast<msg::RingCell*>(next));
  }
  /// Wakes receivers asleep on the mailbox (and the endpoint's doorbell) after a ring publish.
  void wake_receivers();
  /// Wakes senders waiting for room after a ring cell was freed.
  void wake_senders();
  /// Waits for `is_ready()` (or a wake) with the second protocol of sync/wait.hpp, in slices
  /// that look for a dead owner and for ring cells the dead hold.
  /// `mark`: SleepMark::bump for waiters whose wakers wake once per sleep (wake_receivers,
  /// wake_senders); never for a predicate that watches the word.
  template <class IsReady>
  Result<void> wait_ready(IsReady&& is_ready, sync::WaitWord& word,
                          std::optional<sys::TimePoint> deadline, std::string_view operation,
                          sync::SleepMark mark = sync::SleepMark::bump) {
    switch (sync::wait_slice(is_ready, word, deadline, kLivenessPoll, fencing_, nullptr, mark)) {
      case sync::SliceEnd::moved: return {};
      case sync::SliceEnd::deadline_passed: return timed_out(operation);
      case sync::SliceEnd::slice_over: break;
    }
    if (ring_ != nullptr) ring_recover(std::nullopt);
    return after_slice(operation);
  }
  [[gnu::cold]] Result<void> timed_out(std::string_view operation) const;
  /// After a slice of waiting: closed once removed, owner_died once the owner died.
  Result<void> after_slice(std::string_view operation);
  /// Sleeping senders: wait for room (ring: the second protocol; else the first).
  Result<void> wait_for_space(std::optional<std::uint32_t>& observed,
                              std::optional<sys::TimePoint> deadline, std::string_view operation);

  // ---- hand-off (mailbox_handoff.cpp), all under the lock ----
  /// The descriptor socket's two ends, duplicated from a living holder, or made afresh when
  /// none lives; then this handle is listed as a holder. On failure hand-off is unavailable to
  /// this handle (handoff_error_ says why); ordinary messages are not affected.
  void join_handoff();
  /// Unlists this handle as a holder (its descriptor numbers are about to close).
  void leave_handoff();
  /// Puts the descriptor of `large` into the socket, recorded as `record`.
  Result<void> post_handoff(const LargeBuffer& large, const msg::HandoffRecord& record,
                            std::string_view operation);
  /// Takes the descriptor recorded as `record` out of the socket (putting back the others; a
  /// copy of it too when `is_kept` — other broadcast receivers still want it). closed when it
  /// is not there: every process holding the mailbox died after it was sent.
  Result<sys::Fd> take_handoff(const msg::HandoffRecord& record, bool is_kept,
                               std::string_view operation);
  /// Maps the hand-off recorded in slot `index` privately: the Message's bytes.
  Result<Message> receive_handoff(std::int32_t index, bool is_kept, std::string_view operation);
  /// Drops every descriptor in the socket (the mailbox is being removed).
  void drain_handoff();
  /// Whether a message recorded as `record` is queued (else its descriptor is an orphan).
  bool is_queued_handoff(const msg::HandoffRecord& record);

  struct HandoffSocket {
    sys::Fd send;     // records are sent on this end...
    sys::Fd receive;  // ...and wait in this end's queue, whoever sent them, until taken
  };
  std::optional<HandoffSocket> handoff_;
  std::optional<Error> handoff_error_;
  int holder_index_ = -1;

  shm::Segment segment_;
  msg::MailboxConfig config_;
  msg::MailboxState* state_;
  std::byte* slots_;
  std::byte* ring_;              // null: no ring
  msg::RingClaim* ring_claims_;  // null: no ring
  std::uint32_t ring_cells_;
  std::uint32_t ring_stride_;
  // How a waiter flags itself (wait_ready); the ring's wakers take no fence of their own any
  // more (their publishing writes are seq_cst: see wake_receivers).
  sync::WakeFencing fencing_;
  std::string name_;
  /// The errors polling returns, built once: returning one copies a pointer, no allocation.
  struct HotErrors {
    Error receive_empty;     // try_receive: no message
    Error send_full;         // try_send: full
    Error send_no_receiver;  // try_send: no receiver is waiting (zero capacity)
    Error loan_full;         // try_loan: full
  };
  HotErrors hot_;
  MailboxRole role_;
  bool is_creator_;
  // The mode, from config_ (which never changes): tested on every call.
  bool is_broadcast_;
  bool is_exclusive_;
  bool is_rendezvous_;  // zero capacity
  bool is_unbounded_;
  BufferPool buffers_;
  std::vector<std::optional<shm::Segment>> extensions_;  // mapped extension k at [k - 1]
  int receiver_index_ = -1;  // broadcast: this handle's bit, once it is a receiver
  /// Endpoint links: the receiving endpoint's doorbell, which its receiver sleeps on instead
  /// of this mailbox. A send rings it when its message made the mailbox non-empty (a receiver
  /// sleeps only after it found every link empty, so another message cannot be news to it),
  /// right after queueing it: a zero-capacity send then rings before it waits for its receipt.
  sync::WaitWord* doorbell_ = nullptr;
  // The slot this handle's next receive will most likely take: the one queued after the last
  // it took, or (none was) that one itself, which the free list hands to the next send. Only
  // a guess, for prefetch_message(); never trusted.
  std::int32_t receive_hint_ = msg::kNoSlot;
  // The slot this handle's last send claimed: the free list hands out the slot freed last, so
  // when a receiver took that message since, the next send gets the same slot again (a request
  // and its reply; a stream whose receiver keeps up). When it did not, this process still
  // holds the line it wrote, and asking for it costs nothing. A guess, as receive_hint_.
  std::int32_t send_hint_ = msg::kNoSlot;
  bool holds_exclusive_ = false;
  // Written without the lock (by whichever thread uses the handle): atomics, relaxed.
  std::atomic<std::int64_t> next_ring_check_{0};  // ring_recover(position): clock ticks
  // Looks that found the ring's oldest live cell empty, for the recovery every
  // kEmptyLooksPerRecovery of them (a dead writer leaves its position's cell empty).
  std::atomic<std::uint32_t> empty_looks_{0};
  // wake_all_once's `woken_at` of this handle, as a waker of each word.
  std::atomic<std::uint32_t> messages_woken_at_{0};
  std::atomic<std::uint32_t> space_woken_at_{0};
  std::atomic<std::uint32_t> doorbell_woken_at_{0};
  sys::TimePoint next_reclaim_{};  // may_reclaim(): not before then
  pid_t exclusive_pid_ = 0;        // the process that claimed it (a forked child is not the holder)

  // Everything is public: Impl is private to msg/ and Mailbox's own functions use its parts.
  /// Holds MailboxState::lock; unlocks when it goes.
  class Locked {
   public:
    explicit Locked(msg::MailboxState* state) : state_(state) { state_->is_held = 1; }
    Locked(Locked&& other) noexcept : state_(std::exchange(other.state_, nullptr)) {}
    Locked& operator=(Locked&&) = delete;
    ~Locked() {
      if (state_ != nullptr) {
        state_->is_held = 0;
        state_->lock.unlock();
      }
    }

   private:
    msg::MailboxState* state_;
  };
  /// Takes the lock, spinning briefly before it sleeps; after a holder died inside an
  /// operation, repairs the queue first. Never waits for ever: past `deadline` it says
  /// timed_out, and a lock no live operation releases within kLockPatience (a holder is
  /// stopped, or a peer scribbled over the lock word) is `corrupted`.
  Result<Locked> lock(std::optional<sys::TimePoint> deadline = std::nullopt);
  Result<Locked> lock_contended(std::optional<sys::TimePoint> deadline);
  void repair();
  /// The slot at `index` (in the mailbox or an extension, mapped on first use), or nullptr
  /// when the index is out of range or its extension cannot be mapped. Inline: every queue
  /// operation calls it several times, nearly always for a slot of the mailbox itself.
  msg::SlotHeader* slot(std::int32_t index) {
    // A negative index converts to one above any slot_count: extension_slot() refuses it.
    const auto i = static_cast<std::uint32_t>(index);
    if (i < config_.slot_count)
      return std::launder(
          reinterpret_cast<msg::SlotHeader*>(slots_ + std::size_t{i} * config_.slot_stride));
    // Only an unbounded mailbox has extensions; the ends of the lists (kNoSlot) come here too.
    return is_unbounded_ ? extension_slot(index) : nullptr;
  }
  msg::SlotHeader* extension_slot(std::int32_t index);
  std::byte* slot_payload(std::int32_t index);
  std::uint32_t slot_total() const;
  const shm::Segment* extension(std::uint32_t k);
  /// Unbounded: adds the next extension's slots to the free list. limit_reached when memory
  /// or kMaxExtensions runs out.
  Result<void> grow();
  Result<std::int32_t> find(std::int64_t type_filter);
  /// A slot taken off the free list (growing an unbounded mailbox, reclaiming dead processes'
  /// slots first); kNoSlot when there is none. Its state stays `free`: a send fills and
  /// publishes it in the same hold of the lock, so a death in between leaves a slot repair()
  /// frees; a loan, written outside the lock, marks it `writing` (hold_for_writing).
  Result<std::int32_t> claim(std::string_view operation);
  void hold_for_writing(std::int32_t index);
  /// Queues the claimed slot `index` as a message; false when it was dropped (a broadcast
  /// nobody hears). `*is_wake_needed`: whether a receiver may be asleep waiting for it (see
  /// "Wake-ups" in mailbox_layout.hpp); `*was_empty`: whether the mailbox held no message.
  bool publish(std::int32_t index, std::size_t size, std::int64_t type, bool wants_receipt,
               std::uint16_t flags, std::uint64_t* sequence, bool* is_wake_needed,
               bool* was_empty = nullptr);
  /// Waits (without the lock) until a receiver took the queued slot `index`.
  Result<void> wait_for_receipt(std::int32_t index, std::uint64_t sequence, bool is_try,
                                std::optional<sys::TimePoint> deadline, Receipt* receipt,
                                std::string_view operation);
  /// The slot `token` if this process holds it in `state`, else nullptr.
  msg::SlotHeader* held_slot(std::uint64_t token, msg::SlotState state);
  void link_tail(std::int32_t index);
  void unlink(std::int32_t index);
  void release(std::int32_t index);
  // The lock-free summary MailboxState::depth, changed under the lock only: a relaxed load
  // and store suffice (the lock orders writers; readers use it as a hint).
  void add_depth(std::int32_t delta) {
    auto& depth = state_->depth;
    depth.store(depth.load(std::memory_order_relaxed) + static_cast<std::uint32_t>(delta),
                std::memory_order_relaxed);
  }
  // MailboxState::in_use, likewise (never below zero: a repair recounts it).
  void add_in_use(std::int32_t delta) {
    auto& in_use = state_->in_use;
    const std::uint32_t now = in_use.load(std::memory_order_relaxed);
    if (delta < 0 && now == 0) return;
    in_use.store(now + static_cast<std::uint32_t>(delta), std::memory_order_relaxed);
  }
  /// A guess, before the lock is taken: the header line of slot `index` asked for writing and
  /// its payload's first line for writing (a send) or reading (a receive), fetched while the
  /// lock's line is on its way rather than after it (the slot's index is on that line).
  void prefetch_message(std::int32_t index, bool is_written) {
    const auto i = static_cast<std::uint32_t>(index);
    if (i >= config_.slot_count) return;
    std::byte* header = slots_ + std::size_t{i} * config_.slot_stride;
    prefetch_for_write(header + msg::kSlotHotLine);
    if (is_written)
      prefetch_for_write(header + sizeof(msg::SlotHeader));
    else
      __builtin_prefetch(header + sizeof(msg::SlotHeader), 0, 3);
  }
  /// The line of slot `index`'s header that every send and receive touch, asked for writing
  /// (see prefetch_for_write): a send claims the slot at the free list's head, a receive
  /// takes (nearly always) the one at the queue's head, and each writes its header line.
  void prefetch_slot(std::int32_t index) {
    const auto i = static_cast<std::uint32_t>(index);
    if (i < config_.slot_count)  // not an extension's slot (those are not worth the mapping)
      prefetch_for_write(slots_ + std::size_t{i} * config_.slot_stride + msg::kSlotHotLine);
  }
  /// try_receive's pre-check: would_block without the lock when nothing can be there for this
  /// handle. try_send's: when the mailbox is full of queued messages (nothing to reclaim), or a
  /// rendezvous has no receiver waiting.
  bool is_surely_empty() const;
  bool is_surely_full() const;
  bool reclaim_dead();
  /// Whether claim() should call reclaim_dead() now (rate-limited per handle).
  bool may_reclaim();
  bool prune_dead_receivers();
  Result<void> claim_receiver();
  /// closed once the mailbox was removed. Inline: every operation asks, and nearly always
  /// the answer is yes.
  Result<void> check_usable(std::string_view operation) const {
    if (state_->is_removed.load(std::memory_order_relaxed) != 0) [[unlikely]]
      return removed(operation);
    return {};
  }
  [[gnu::cold]] Result<void> removed(std::string_view operation) const;
  Result<void> wait(sync::WaitWord& word, std::uint32_t observed,
                    std::optional<sys::TimePoint> deadline, std::string_view operation);
};

}  // namespace conduit
