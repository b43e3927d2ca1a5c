// Channel<T>: the fastest path between processes, a typed lock-free ring in shared memory.
//
// One consumer; one producer (Producers::one) or up to max_producers at once (Producers::many,
// one lane each: see ring/lane_ring.hpp for why lanes). Records are T, copied in and out with
// memcpy (T is trivially copyable), or written and read in place with loan() and
// receive_view(). Per producer, records arrive in the order sent; across producers the
// consumer takes lanes in turn.
//
// Roles are taken on first use: a handle becomes a producer at its first send (or loan) and
// the consumer at its first receive (or view). The consumer is one handle at a time (another
// gets permission_denied while it lives); a handle uses one thread per side.
//
// Blocking: no system call while the other side keeps up; a side that must wait spins briefly,
// then sleeps on a futex (sync::WaitWord), and is woken by the other side. A sleeper wakes at
// least every kLivenessPoll (50 ms) to look for a peer that died, since the dead wake nobody:
//   - a producer blocked on a full lane gets `closed` once the consumer died;
//   - a consumer blocked on an empty ring gets `closed` once it has drained every record and
//     no producer is alive but at least one died without detaching (a producer whose handle
//     was destroyed detached; that is not an end: another producer may come);
//   - when the role waited for was never taken (no consumer has received yet; no producer
//     has sent), a process that had the channel open and died counts as that peer: the
//     sleeper gets `closed` if no other handle on the channel is open in a live process;
//   - both get `owner_died` when a Lifetime::process channel's creator died.
// The try_ forms never wait and never look at peers: would_block. (Taking a role, on a
// handle's first send or receive, reads /proc for the liveness of earlier holders; after that
// no call makes a system call unless it sleeps or wakes a sleeper.) A blocking send also waits
// while every producer lane is held by a live producer; try_send says limit_reached.
//
// Crash safety: a producer SIGKILLed at any instruction never stalls the others and never
// leaves a half-written record to be received (it publishes a record with one store); its
// lane is reclaimed by the next producer to attach. A consumer that dies leaves the records it
// had not released (including one it was viewing) for the next consumer.
//
// close(): senders get `closed` at once; receivers drain what is left, then get `closed`. A
// send racing with close() may still succeed; its record stays receivable.
//
// Protection: a named channel is a file on tmpfs; a peer with write permission can corrupt or
// truncate it. Impossible indices are detected (corrupted), but a truncated file turns reads
// into SIGBUS: share a channel only with processes you trust as much as the mode admits.
//
// Busy-polling round trip (no futex at all), e.g. for latency measurements: two channels,
// `ping` and `pong`; the client does `while (!ping.try_send(x)) {}` then
// `while (!(r = pong.try_receive())) {}`; the server mirrors it. A try_ form reads only the
// ring and the read-mostly header line, inline, with no call into the library; a successful
// one then reads the other side's sleeper count after a compiler barrier (no fence: a side
// going to sleep makes a membarrier for it, see ChannelOptions::wake_fencing; no
// read-modify-write; FUTEX_WAKE only if that side sleeps, which a busy poller never does).
// A try_ form that finds the ring full or empty returns an error built once per handle (no
// formatting, no allocation).
#pragma once

#include <sys/types.h>

#include <array>
#include <atomic>
#include <bit>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "conduit/core/error.hpp"
#include "conduit/core/process.hpp"
#include "conduit/ring/lane_ring.hpp"
#include "conduit/sync/wait.hpp"
#include "conduit/sys/clock.hpp"

namespace conduit {

enum class Producers { one, many };

struct ChannelOptions {
  std::size_t capacity = 1024;  // records each producer can have in the ring (per lane)
  Producers producers = Producers::one;
  Lifetime lifetime = Lifetime::system;
  mode_t mode = 0600;
  std::size_t max_producers = 16;  // Producers::many: producers attached at once (2 to 64)
  // Who pays for a wake-up's ordering (sync/wait.hpp). asymmetric: sends and receives take no
  // fence, a side going to sleep makes a membarrier instead; every process that opens the
  // channel registers for membarrier (open fails if it cannot). Where the kernel lacks
  // MEMBARRIER_CMD_GLOBAL_EXPEDITED the channel is made symmetric: a fence per send and
  // receive. symmetric: always that.
  sync::WakeFencing wake_fencing = sync::WakeFencing::asymmetric;
};

struct ChannelStats {
  std::size_t capacity = 0;  // records per producer lane
  Producers producers = Producers::one;
  std::size_t lanes = 0;  // producers attached at once, at most
  std::size_t depth = 0;  // records in the ring now (a snapshot)
  std::size_t record_size = 0;
  sync::WakeFencing wake_fencing = sync::WakeFencing::symmetric;  // as created
  Lifetime lifetime = Lifetime::system;
  ProcessId owner;                            // the creator
  ProcessId consumer;                         // pid 0: none attached
  std::vector<ProcessId> producers_attached;  // live lane owners
  bool is_closed = false;
};

namespace msg {

/// The non-template part of Channel<T>: the segment, the ring, roles, waiting, errors.
/// Channel<T> is the interface; use that. The fast path (room or a record there at once, in a
/// role this handle already holds) is inline below; taking a role, waiting, errors and
/// everything else is in channel.cpp.
class ChannelCore {
 public:
  /// Errors as Channel<T>::create / open.
  [[nodiscard]] static Result<std::unique_ptr<ChannelCore>> create(std::string_view name,
                                                                   std::size_t record_size,
                                                                   std::size_t record_align,
                                                                   const ChannelOptions& options);
  [[nodiscard]] static Result<std::unique_ptr<ChannelCore>> open(std::string_view name,
                                                                 std::size_t record_size,
                                                                 std::size_t record_align);
  [[nodiscard]] static Result<void> remove(std::string_view name);
  ~ChannelCore();
  ChannelCore(const ChannelCore&) = delete;
  ChannelCore& operator=(const ChannelCore&) = delete;

  /// Producer side: at least one and at most `wanted` free slots past this handle's tail,
  /// waiting (is_try: not at all; deadline: until then; else for ever). Errors: would_block,
  /// timed_out, closed, owner_died, limit_reached (lanes), invalid_argument (a loan is out),
  /// corrupted.
  [[nodiscard]] Result<std::size_t> claim(std::size_t wanted, bool is_try,
                                          std::optional<sys::TimePoint> deadline,
                                          std::string_view operation) {
    // A lane held by this process (a forked child's copy of the handle is not), no loan out.
    if (writer_ != nullptr && !has_loan_ && writer_as_ == self()) [[likely]] {
      // Acquire: pairs with the release store in close(): senders get closed at once. The
      // header line holding it is read-mostly: this load stays in the cache.
      if (is_closed_->load(std::memory_order_acquire) == 0) [[likely]] {
        auto count = writer_->available(wanted);
        if (count && *count != 0) [[likely]]
          return *count;
        if (count && is_try)
          if (const Error* full = is_full_.find(operation)) return std::unexpected(*full);
      }
    }
    return claim_slowly(wanted, is_try, deadline, operation);
  }
  [[nodiscard]] std::byte* producer_slot(std::size_t k) noexcept { return writer_->slot(k); }
  /// The fast path of a one-record send or loan: the next free slot when there is one now, in
  /// a lane this handle holds and with the channel open; else null (then claim() says why or
  /// waits), with `is_full` set when the one reason was a full lane.
  [[nodiscard]] std::byte* next_free_slot(bool& is_full) noexcept {
    if (writer_ == nullptr || has_loan_ || !(writer_as_ == self())) return nullptr;
    // Acquire: pairs with the release store in close(), as in claim().
    if (is_closed_->load(std::memory_order_acquire) != 0) return nullptr;
    auto count = writer_->available(1);
    if (!count) return nullptr;
    is_full = *count == 0;
    return is_full ? nullptr : writer_->slot(0);
  }
  /// After next_free_slot() found the lane full: the shared would_block error of `operation`
  /// if there is one yet (else null: claim() builds it).
  [[nodiscard]] const Error* full_error(std::string_view operation) const noexcept {
    return is_full_.find(operation);
  }
  /// Publishes the next `count` claimed slots and wakes a sleeping consumer: one release store
  /// of the tail, then a load of the consumer's sleeper flag (sync/wait.hpp, the second
  /// protocol) after a fence: only a compiler barrier in an asymmetric channel (the sleeper
  /// makes a membarrier instead), else a seq_cst fence. No read-modify-write and no system
  /// call unless the consumer sleeps, and then one wake per sleep (it marks its sleeps).
  void publish(std::size_t count) noexcept {
    writer_->publish(count);
    if (sync::WaitWord::has_sleepers(items_->sleepers, fencing_)) [[unlikely]]
      items_->wake_all_once(items_woken_at_);
  }

  /// Consumer side: at least one and at most `wanted` records in one lane (lanes take turns).
  /// Errors: would_block, timed_out, closed (closed and drained; producers died), owner_died,
  /// permission_denied (another consumer), invalid_argument (a view is out), corrupted.
  [[nodiscard]] Result<std::size_t> ready(std::size_t wanted, bool is_try,
                                          std::optional<sys::TimePoint> deadline,
                                          std::string_view operation) {
    if (consumer_ != nullptr && !has_view_ && consumer_as_ == self()) [[likely]] {
      ring::RingReader* reader = only_reader_;  // Producers::one: a single lane, no polling
      if (reader == nullptr) {
        auto lane = consumer_->poll();  // many lanes: the next with records, in turn
        if (!lane) return ready_slowly(wanted, is_try, deadline, operation);  // says corrupted
        if (*lane != ring::LaneConsumer::kNoLane) reader = &consumer_->reader(*lane);
      }
      if (reader != nullptr) {
        auto count = reader->available(wanted);
        if (count && *count != 0) [[likely]] {
          reader_ = reader;
          return *count;
        }
        if (!count) return ready_slowly(wanted, is_try, deadline, operation);  // corrupted
      }
      // A busy poller's empty look: the shared error, unless closed (then the slow path looks
      // again: records published before the close are drained first). Acquire: pairs with the
      // release store in close().
      if (is_try && is_closed_->load(std::memory_order_acquire) == 0)
        if (const Error* empty = is_empty_.find(operation)) return std::unexpected(*empty);
    }
    return ready_slowly(wanted, is_try, deadline, operation);
  }
  [[nodiscard]] const std::byte* consumer_slot(std::size_t k) noexcept { return reader_->slot(k); }
  /// The fast path of a one-record receive or view from a one-lane channel: the next record
  /// when one is there now and this handle holds the consumer role; else null (then ready()
  /// polls the lanes, says why or waits), with `is_empty` set when the one reason was an empty
  /// lane.
  /// release(1) gives the record back.
  [[nodiscard]] const std::byte* next_record(bool& is_empty) noexcept {
    if (only_reader_ == nullptr || has_view_ || !(consumer_as_ == self())) return nullptr;
    auto count = only_reader_->available(1);
    if (!count) return nullptr;
    is_empty = *count == 0;
    if (is_empty) return nullptr;
    reader_ = only_reader_;
    return reader_->slot(0);
  }
  /// After next_record() found the lane empty: the shared would_block error of `operation`,
  /// unless there is none yet or the channel is closed (records published before the close
  /// must be drained first: ready() looks again). Acquire: pairs with the release in close().
  [[nodiscard]] const Error* empty_error(std::string_view operation) const noexcept {
    if (is_closed_->load(std::memory_order_acquire) != 0) return nullptr;
    return is_empty_.find(operation);
  }
  /// Releases the next `count` records of the lane ready() chose and wakes its producer if it
  /// sleeps on the full lane (as publish: a store, a fence as the channel's WakeFencing says,
  /// and a load of the lane's sleeper flag, on the consumer's own line; one wake per sleep).
  void release(std::size_t count) noexcept {
    reader_->release(count);
    if (sync::WaitWord::has_sleepers(reader_->producer_sleepers(), fencing_)) [[unlikely]]
      space_->wake_all_once(space_woken_at_);
  }

  // Zero copy: one loan and one view at a time per handle.
  void begin_loan() noexcept { has_loan_ = true; }
  void end_loan() noexcept { has_loan_ = false; }
  /// Publishes the loaned slot unless the channel was closed meanwhile (then: closed).
  [[nodiscard]] Result<void> commit_loan() {
    // Acquire: pairs with the release store in close().
    if (is_closed_->load(std::memory_order_acquire) != 0) [[unlikely]]
      return commit_closed();
    publish(1);
    return {};
  }
  void begin_view() noexcept { has_view_ = true; }
  /// Ends the view; releases its record when `is_released`, unless this handle moved to
  /// another process (a forked child's copy must not release the parent's record).
  void end_view(bool is_released) noexcept {
    has_view_ = false;
    if (is_released && consumer_ != nullptr && reader_ != nullptr && consumer_as_ == self())
      release(1);
  }

  /// memcpy out of line: for records too large to copy inline well. With a size known at
  /// compile time g++ inlines `rep movsq` for a large memcpy, about half as fast as the C
  /// library's (vector moves, or `rep movsb` where the CPU is quick at it) for 4 KiB on the
  /// EPYC VM; here the size is a run-time value, so the library's copy runs.
  static void copy_large(void* to, const void* from, std::size_t size) noexcept;

  void close() noexcept;
  [[nodiscard]] ChannelStats stats() const;
  [[nodiscard]] std::size_t depth() const noexcept;
  [[nodiscard]] std::size_t capacity() const noexcept;
  [[nodiscard]] const std::string& name() const noexcept;
  [[nodiscard]] std::string context(std::string_view operation) const;

  class Impl;

 private:
  explicit ChannelCore(std::unique_ptr<Impl> impl);
  [[nodiscard]] Result<std::size_t> claim_slowly(std::size_t wanted, bool is_try,
                                                 std::optional<sys::TimePoint> deadline,
                                                 std::string_view operation);
  [[nodiscard]] Result<std::size_t> ready_slowly(std::size_t wanted, bool is_try,
                                                 std::optional<sys::TimePoint> deadline,
                                                 std::string_view operation);
  [[nodiscard]] Result<void> commit_closed() const;  // the error of a commit after close()

  /// The would_block errors of one side's try_ operations (full: try_send, try_send_batch,
  /// try_loan; empty: try_receive, try_receive_batch, try_receive_view), each built on its
  /// first use and returned as a copy after that (a reference count: Error shares its text): a
  /// busy poller meets them millions of times, and a poller may alternate forms. The inline
  /// look recognises an operation by the address of its name (Channel<T> passes string
  /// literals), never reading it; the slow path also matches the name itself (the same literal
  /// may sit at another address in another translation unit), so no form is built twice.
  class HotErrors {
   public:
    static constexpr std::size_t kForms = 3;
    [[nodiscard]] const Error* find(std::string_view operation) const noexcept {
      for (const Entry& entry : entries_)
        if (entry.address == operation.data() && entry.name.size() == operation.size())
          return &*entry.error;
      return nullptr;
    }
    /// find() by the name's text, remembering this address; else `make()`'s error, kept.
    template <class Make>
    [[nodiscard]] const Error& find_or_make(std::string_view operation, Make make) {
      for (Entry& entry : entries_) {
        if (entry.address != nullptr && entry.name == operation) {
          entry.address = operation.data();
          return *entry.error;
        }
      }
      Entry& slot = used_ < kForms ? entries_[used_++] : entries_[kForms - 1];
      slot = {operation.data(), std::string(operation), make()};
      return *slot.error;
    }

   private:
    struct Entry {
      const char* address = nullptr;
      std::string name;
      std::optional<Error> error;
    };
    std::array<Entry, kForms> entries_{};
    std::size_t used_ = 0;
  };

  std::unique_ptr<Impl> impl_;
  HotErrors is_full_, is_empty_;
  // What the fast path needs, pointing into impl_ and the mapped ring (both live as long as
  // this core). writer_ and consumer_ are set once this handle took the role, as the process
  // in writer_as_ / consumer_as_: a forked child's copy is not the holder and takes the slow
  // path, which takes the role afresh.
  ring::RingWriter* writer_ = nullptr;
  ProcessId writer_as_{};
  ring::LaneConsumer* consumer_ = nullptr;
  ProcessId consumer_as_{};
  ring::RingReader* reader_ = nullptr;       // the lane ready() chose last
  ring::RingReader* only_reader_ = nullptr;  // the one lane's, when there is one
  const std::atomic<std::uint32_t>* is_closed_ = nullptr;
  sync::WaitWord* items_ = nullptr;  // the consumer sleeps here
  sync::WaitWord* space_ = nullptr;  // producers sleep here
  // The words' values after this handle's last wakes (WaitWord::wake_all_once): a sleeper
  // still flagged while the word holds it was reached by that wake, and is not woken again
  // by every publish (or release) it stays flagged through.
  std::uint32_t items_woken_at_ = 0;
  std::uint32_t space_woken_at_ = 0;
  // The ring's, read once when the handle was made (a peer rewriting the header later changes
  // nothing here); asymmetric only once this process registered for membarrier.
  sync::WakeFencing fencing_ = sync::WakeFencing::symmetric;
  bool has_loan_ = false;
  bool has_view_ = false;
};

}  // namespace msg

/// A typed lock-free ring in shared memory, named like every conduit object. See the top of
/// this file for roles, blocking, crash safety and close().
template <class T>
  requires std::is_trivially_copyable_v<T>
class Channel {
 public:
  /// Writable memory for one record inside the channel: fill it, then commit() sends it.
  /// A Loan dropped without commit() sends nothing. Must not outlive its Channel.
  class Loan {
   public:
    Loan(Loan&& other) noexcept
        : core_(std::exchange(other.core_, nullptr)), slot_(other.slot_), size_(other.size_) {}
    Loan& operator=(Loan&& other) noexcept {
      if (this != &other) {
        drop();
        core_ = std::exchange(other.core_, nullptr);
        slot_ = other.slot_;
        size_ = other.size_;
      }
      return *this;
    }
    ~Loan() { drop(); }

    /// The loaned bytes (the size asked for; the rest of the record is zero).
    [[nodiscard]] std::span<std::byte> bytes() const noexcept { return {slot_, size_}; }
    /// The record as a T.
    [[nodiscard]] T& value() const noexcept { return *std::launder(reinterpret_cast<T*>(slot_)); }
    T& operator*() const noexcept { return value(); }
    T* operator->() const noexcept { return &value(); }

    /// Sends the record. Channels carry no message type: `type` must be 0 (invalid_argument).
    /// Errors: closed (the channel was closed: nothing sent), invalid_argument (committed
    /// already, or a type).
    [[nodiscard]] Result<void> commit(std::int64_t type = 0) {
      if (core_ == nullptr) return fail(Errc::invalid_argument, "channel loan: commit: no loan");
      if (type != 0)
        return fail(Errc::invalid_argument,
                    core_->context("commit: a channel carries no message type"));
      auto* core = std::exchange(core_, nullptr);
      auto committed = core->commit_loan();
      core->end_loan();
      return committed;
    }

   private:
    friend class Channel;
    Loan(msg::ChannelCore* core, std::byte* slot, std::size_t size) noexcept
        : core_(core), slot_(slot), size_(size) {}
    void drop() noexcept {
      if (core_ != nullptr) std::exchange(core_, nullptr)->end_loan();
    }
    msg::ChannelCore* core_;
    std::byte* slot_;
    std::size_t size_;
  };

  /// A received record read in place; its slot is released when the View is destroyed.
  /// Must not outlive its Channel.
  class View {
   public:
    View(View&& other) noexcept : core_(std::exchange(other.core_, nullptr)), slot_(other.slot_) {}
    View& operator=(View&& other) noexcept {
      if (this != &other) {
        drop();
        core_ = std::exchange(other.core_, nullptr);
        slot_ = other.slot_;
      }
      return *this;
    }
    ~View() { drop(); }

    [[nodiscard]] const T& value() const noexcept {
      return *std::launder(reinterpret_cast<const T*>(slot_));
    }
    const T& operator*() const noexcept { return value(); }
    const T* operator->() const noexcept { return &value(); }
    [[nodiscard]] std::span<const std::byte> bytes() const noexcept { return {slot_, sizeof(T)}; }
    [[nodiscard]] std::span<const std::byte> payload() const noexcept { return bytes(); }

   private:
    friend class Channel;
    View(msg::ChannelCore* core, const std::byte* slot) noexcept : core_(core), slot_(slot) {}
    void drop() noexcept {
      if (core_ != nullptr) std::exchange(core_, nullptr)->end_view(true);
    }
    msg::ChannelCore* core_;
    const std::byte* slot_;
  };
  using MessageView = View;

  /// Creates channel `name`. Errors: invalid_argument (name, capacity 0 or over 2^30,
  /// max_producers not 2 to 64 for Producers::many), already_exists, limit_reached,
  /// permission_denied.
  [[nodiscard]] static Result<Channel> create(std::string_view name, ChannelOptions options = {}) {
    auto core = msg::ChannelCore::create(name, sizeof(T), alignof(T), options);
    if (!core) return std::unexpected(core.error());
    return Channel(std::move(*core));
  }
  /// Opens channel `name`. Errors: not_found (also: its process-lifetime creator died),
  /// invalid_argument (another kind of object, or records of another size or alignment than
  /// T's), corrupted (layout version or impossible contents), permission_denied.
  [[nodiscard]] static Result<Channel> open(std::string_view name) {
    auto core = msg::ChannelCore::open(name, sizeof(T), alignof(T));
    if (!core) return std::unexpected(core.error());
    return Channel(std::move(*core));
  }
  /// Closes channel `name` (waking everyone blocked on it) and removes it; open handles keep
  /// their memory. Errors: not_found, invalid_argument.
  [[nodiscard]] static Result<void> remove(std::string_view name) {
    return msg::ChannelCore::remove(name);
  }

  /// Blocks while this producer's lane is full (and, before its first send, while every lane
  /// is held by a live producer). Errors: closed, owner_died, invalid_argument (a loan is
  /// outstanding), corrupted.
  [[nodiscard]] Result<void> send(const T& value) {
    return send(value, false, std::nullopt, "send");
  }
  /// Never blocks: would_block when full; limit_reached when every lane is held.
  [[nodiscard]] Result<void> try_send(const T& value) {
    return send(value, true, std::nullopt, "try_send");
  }
  /// As send, but timed_out after `timeout`.
  [[nodiscard]] Result<void> send_for(const T& value, std::chrono::nanoseconds timeout) {
    return send(value, false, sys::deadline_after(timeout), "send_for");
  }

  /// Blocks while the channel is empty. Errors: closed (closed and drained, or producers
  /// died), owner_died, permission_denied (another consumer), invalid_argument (a view is
  /// outstanding), corrupted.
  [[nodiscard]] Result<T> receive() { return receive(false, std::nullopt, "receive"); }
  /// Never blocks: would_block when empty (closed when closed and drained).
  [[nodiscard]] Result<T> try_receive() { return receive(true, std::nullopt, "try_receive"); }
  /// As receive, but timed_out after `timeout`.
  [[nodiscard]] Result<T> receive_for(std::chrono::nanoseconds timeout) {
    return receive(false, sys::deadline_after(timeout), "receive_for");
  }

  /// Sends as many of `values` as fit now, in order, with one publish. Returns how many.
  [[nodiscard]] std::size_t try_send_batch(std::span<const T> values) {
    if (values.empty()) return 0;
    auto count = core_->claim(values.size(), true, std::nullopt, "try_send_batch");
    if (!count) return 0;
    for (std::size_t k = 0; k < *count; ++k) copy(core_->producer_slot(k), &values[k]);
    core_->publish(*count);
    return *count;
  }
  /// Receives as many records as are there, up to values.size(). Returns how many.
  [[nodiscard]] std::size_t try_receive_batch(std::span<T> values) {
    std::size_t total = 0;
    while (total < values.size()) {
      auto count = core_->ready(values.size() - total, true, std::nullopt, "try_receive_batch");
      if (!count) break;
      for (std::size_t k = 0; k < *count; ++k) copy(&values[total + k], core_->consumer_slot(k));
      core_->release(*count);
      total += *count;
    }
    return total;
  }

  /// Lends the next free record of this producer's lane; blocks while full. `size` (at most
  /// sizeof(T)) is how many bytes bytes() spans; the rest of the record is zeroed.
  /// Errors: as send, and message_too_large (size over sizeof(T)).
  [[nodiscard]] Result<Loan> loan(std::size_t size = sizeof(T)) {
    return lend(size, false, std::nullopt, "loan");
  }
  /// As loan, never blocking: would_block when full.
  [[nodiscard]] Result<Loan> try_loan(std::size_t size = sizeof(T)) {
    return lend(size, true, std::nullopt, "try_loan");
  }
  /// As loan, but timed_out after `timeout`.
  [[nodiscard]] Result<Loan> loan_for(std::chrono::nanoseconds timeout,
                                      std::size_t size = sizeof(T)) {
    return lend(size, false, sys::deadline_after(timeout), "loan_for");
  }

  /// The next record, in place; released when the View is destroyed. Forms and errors as
  /// receive.
  [[nodiscard]] Result<View> receive_view() { return view(false, std::nullopt, "receive_view"); }
  [[nodiscard]] Result<View> try_receive_view() {
    return view(true, std::nullopt, "try_receive_view");
  }
  [[nodiscard]] Result<View> receive_view_for(std::chrono::nanoseconds timeout) {
    return view(false, sys::deadline_after(timeout), "receive_view_for");
  }

  /// Senders get closed at once; receivers drain what is left, then get closed. Wakes all.
  void close() noexcept { core_->close(); }

  /// Records in the ring now (a snapshot).
  [[nodiscard]] std::size_t depth() const noexcept { return core_->depth(); }
  /// Records each producer lane holds.
  [[nodiscard]] std::size_t capacity() const noexcept { return core_->capacity(); }
  /// Capacity, lanes, depth, owner, consumer, live producers, closed.
  [[nodiscard]] ChannelStats stats() const { return core_->stats(); }
  [[nodiscard]] const std::string& name() const noexcept { return core_->name(); }

 private:
  explicit Channel(std::unique_ptr<msg::ChannelCore> core) : core_(std::move(core)) {}

  /// Largest record copied with an inline memcpy; larger ones go through copy_large.
  static constexpr std::size_t kInlineCopyLimit = 256;
  /// Copies one record's bytes.
  static void copy(void* to, const void* from) noexcept {
    if constexpr (sizeof(T) > kInlineCopyLimit)
      msg::ChannelCore::copy_large(to, from, sizeof(T));
    else
      std::memcpy(to, from, sizeof(T));
  }

  Result<void> send(const T& value, bool is_try, std::optional<sys::TimePoint> deadline,
                    std::string_view operation) {
    bool is_full = false;
    if (std::byte* slot = core_->next_free_slot(is_full)) [[likely]] {
      copy(slot, &value);
      core_->publish(1);
      return {};
    }
    return send_slowly(value, is_full, is_try, deadline, operation);
  }

  // Out of line, so that the fast path above stays small enough to inline into the caller.
  [[gnu::noinline]] Result<void> send_slowly(const T& value, bool is_full, bool is_try,
                                             std::optional<sys::TimePoint> deadline,
                                             std::string_view operation) {
    if (is_full && is_try)
      if (const Error* full = core_->full_error(operation)) return std::unexpected(*full);
    auto count = core_->claim(1, is_try, deadline, operation);
    if (!count) return std::unexpected(count.error());
    copy(core_->producer_slot(0), &value);
    core_->publish(1);
    return {};
  }

  Result<T> receive(bool is_try, std::optional<sys::TimePoint> deadline,
                    std::string_view operation) {
    bool is_empty = false;
    if (const std::byte* slot = core_->next_record(is_empty)) [[likely]]
      return take(slot);
    return receive_slowly(is_empty, is_try, deadline, operation);
  }

  /// Copies the record in `slot` out, then releases it. Where T can be made without arguments
  /// the copy lands straight in the caller's Result (one memcpy, no copy of T on the stack: a
  /// record of a MiB is copied once, not three times). The Result is returned as a prvalue,
  /// whose elision the language guarantees, and the release runs in a guard's destructor,
  /// after the return value is built: a named Result left to NRVO was copied again by g++ 12
  /// (a second 4 KiB copy per receive, with `rep movsq`, once inlined into the caller).
  Result<T> take(const std::byte* slot) {
    if constexpr (std::is_default_constructible_v<T>) {
      const ReleaseOnExit release{core_.get()};
      return Result<T>(std::in_place, CopiedRecord{slot});
    } else {
      std::array<std::byte, sizeof(T)> bytes;
      copy(bytes.data(), slot);
      core_->release(1);
      return std::bit_cast<T>(bytes);
    }
  }
  /// Releases one record when it goes out of scope: in take(), after the return value is made.
  struct ReleaseOnExit {
    msg::ChannelCore* core;
    ~ReleaseOnExit() { core->release(1); }
  };
  /// Converts to a T holding the record's bytes: constructing the Result's T from it copies
  /// the bytes into the Result's own storage (the conversion's T is elided into it).
  struct CopiedRecord {
    const std::byte* slot;
    operator T() const noexcept {  // NOLINT(google-explicit-constructor): only for take()
      T value;
      copy(static_cast<void*>(&value), slot);
      return value;
    }
  };

  // Out of line, as send_slowly.
  [[gnu::noinline]] Result<T> receive_slowly(bool is_empty, bool is_try,
                                             std::optional<sys::TimePoint> deadline,
                                             std::string_view operation) {
    if (is_empty && is_try)
      if (const Error* empty = core_->empty_error(operation)) return std::unexpected(*empty);
    auto count = core_->ready(1, is_try, deadline, operation);
    if (!count) return std::unexpected(count.error());
    return take(core_->consumer_slot(0));
  }

  // A loan and a view take the fast paths of send and receive: a free slot or a record there
  // now, in a role this handle holds, with no Result<count> made and no call out of line.
  Result<Loan> lend(std::size_t size, bool is_try, std::optional<sys::TimePoint> deadline,
                    std::string_view operation) {
    bool is_full = false;
    if (size <= sizeof(T)) [[likely]]
      if (std::byte* slot = core_->next_free_slot(is_full)) [[likely]]
        return lend_at(slot, size);
    return lend_slowly(size, is_full, is_try, deadline, operation);
  }

  // Out of line, as send_slowly.
  [[gnu::noinline]] Result<Loan> lend_slowly(std::size_t size, bool is_full, bool is_try,
                                             std::optional<sys::TimePoint> deadline,
                                             std::string_view operation) {
    if (size > sizeof(T))
      return fail(Errc::message_too_large,
                  core_->context(std::string(operation) + ": " + std::to_string(size) +
                                 " bytes exceed the record size " + std::to_string(sizeof(T))));
    if (is_full && is_try)
      if (const Error* full = core_->full_error(operation)) return std::unexpected(*full);
    auto count = core_->claim(1, is_try, deadline, operation);
    if (!count) return std::unexpected(count.error());
    return lend_at(core_->producer_slot(0), size);
  }

  /// The loan of the claimed `slot`, its bytes past `size` zeroed.
  Loan lend_at(std::byte* slot, std::size_t size) noexcept {
    if (size < sizeof(T)) std::memset(slot + size, 0, sizeof(T) - size);
    core_->begin_loan();
    return Loan(core_.get(), slot, size);
  }

  Result<View> view(bool is_try, std::optional<sys::TimePoint> deadline,
                    std::string_view operation) {
    bool is_empty = false;
    if (const std::byte* slot = core_->next_record(is_empty)) [[likely]]
      return view_at(slot);
    return view_slowly(is_empty, is_try, deadline, operation);
  }

  // Out of line, as send_slowly.
  [[gnu::noinline]] Result<View> view_slowly(bool is_empty, bool is_try,
                                             std::optional<sys::TimePoint> deadline,
                                             std::string_view operation) {
    if (is_empty && is_try)
      if (const Error* empty = core_->empty_error(operation)) return std::unexpected(*empty);
    auto count = core_->ready(1, is_try, deadline, operation);
    if (!count) return std::unexpected(count.error());
    return view_at(core_->consumer_slot(0));
  }

  /// The view of the ready record in `slot` (released when the view ends).
  View view_at(const std::byte* slot) noexcept {
    core_->begin_view();
    return View(core_.get(), slot);
  }

  std::unique_ptr<msg::ChannelCore> core_;
};

}  // namespace conduit
