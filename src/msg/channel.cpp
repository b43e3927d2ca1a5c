// Channel<T>'s non-template part: a named segment holding a lane ring (ring/lane_ring.hpp),
// roles taken on first use, waiting with sync::WaitWord, and the liveness checks of sleepers.
#include "conduit/msg/channel.hpp"

#include <fmt/format.h>

#include <cstring>

#include "conduit/core/kept_string.hpp"
#include "conduit/core/name.hpp"
#include "conduit/ring/lane_ring.hpp"
#include "conduit/shm/segment.hpp"
#include "conduit/sys/membarrier.hpp"

namespace conduit::msg {

using namespace std::chrono_literals;

namespace {

// How long a sleeper sleeps before it looks whether its peer died: the dead wake nobody.
constexpr auto kLivenessPoll = 50ms;
constexpr std::size_t kDefaultManyLanes = 16;

std::string channel_context(std::string_view name, std::string_view operation) {
  return fmt::format("channel '{}': {}", printable_name(name), operation);
}

/// In a channel whose wakers take no fence (WakeFencing::asymmetric), a sleeper's membarrier
/// must reach every process that sends or receives: each registers before its first send or
/// receive (on open, and again in a forked child, whose address space is new). Errors: as
/// membarrier(2) (EPERM under a seccomp filter that forbids it), said in `context`.
Result<void> join_membarrier(sync::WakeFencing fencing, std::string_view context) {
  if (fencing != sync::WakeFencing::asymmetric) return {};
  if (auto registered = sys::register_for_global_membarrier(); !registered)
    return fail(registered.error(),
                fmt::format("{}: the channel's wakers rely on "
                            "membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) and this process "
                            "cannot register for it",
                            context));
  return {};
}

}  // namespace

class ChannelCore::Impl {
 public:
  Impl(shm::Segment segment, ring::LaneRing ring)
      : segment_(std::move(segment)),
        ring_(ring),
        name_(segment_.name()),
        opener_slot_(ring_.record_opener(self())) {}
  ~Impl() {
    if (opener_slot_) ring_.forget_opener(*opener_slot_, self());
    if (producer_.is_attached()) {
      producer_.detach();
      // A producer may be waiting for a lane: its predicate is "the word moved", so bump it.
      header().space.notify_all();
    }
    consumer_.detach();
    // A handle closing after a process-lifetime owner died removes the channel, as a call that
    // finds the owner dead does: the last user to go leaves nothing in the namespace.
    (void)segment_.reap_if_owner_died();
  }

  std::string context(std::string_view operation) const {
    return channel_context(name_, operation);
  }
  ring::LaneRingHeader& header() const { return ring_.header(); }

  Result<void> ensure_producer(std::string_view operation) {
    const ProcessId me = self();
    if (producer_.is_attached() && producer_as_ == me) [[likely]]
      return {};
    producer_ = {};  // a forked child's copy of the parent's hold: not ours, forget it
    if (auto joined = join_membarrier(ring_.wake_fencing(), context(operation)); !joined)
      return joined;
    if (auto attached = producer_.attach(ring_, me, context(operation)); !attached) return attached;
    producer_as_ = me;
    return {};
  }

  Result<void> ensure_consumer(std::string_view operation) {
    const ProcessId me = self();
    if (consumer_.is_attached() && consumer_as_ == me) [[likely]]
      return {};
    consumer_ = {};  // as above
    if (auto joined = join_membarrier(ring_.wake_fencing(), context(operation)); !joined)
      return joined;
    if (auto attached = consumer_.attach(ring_, me, context(operation)); !attached) return attached;
    consumer_as_ = me;
    // Only the consumer sleeps on `items`, and the role is ours alone now: a count left there
    // is a consumer that died asleep. Left in place it would cost every publish a bump and a
    // FUTEX_WAKE for ever; a new consumer starts the count afresh. Relaxed: producers read it
    // after their fence (sync/wait.hpp); a stale non-zero read costs one needless wake only.
    header().items.sleepers.store(0, std::memory_order_relaxed);
    return {};
  }

  /// One slice of sleep on `word` (waking early when `is_ready()` says so), then a look at the
  /// peers. Returns success when the caller should look at the ring again; timed_out,
  /// owner_died, or closed (the peer died) else.
  /// `sleepers`: the count to flag instead of word.sleepers (a full lane's own flag).
  /// `mark`: SleepMark::bump where the wakers wake with wake_all_once (publish, release), so
  /// that they wake each sleep once; none where the predicate watches the word itself.
  template <class Predicate>
  Result<void> wait(Predicate&& is_ready, sync::WaitWord& word,
                    std::optional<sys::TimePoint> deadline, std::string_view operation,
                    bool is_producer, std::atomic<std::uint32_t>* sleepers = nullptr,
                    sync::SleepMark mark = sync::SleepMark::none) {
    // The ring's fencing, whatever this process's: in an asymmetric channel the wakers take
    // no fence, and the sleeper's membarrier stands for it (sync/wait.hpp).
    switch (sync::wait_slice(is_ready, word, deadline, kLivenessPoll, ring_.wake_fencing(),
                             sleepers, mark)) {
      case sync::SliceEnd::moved: return {};  // look again
      case sync::SliceEnd::deadline_passed:
        return fail(Errc::timed_out, context(fmt::format("{}: timed out", operation)));
      case sync::SliceEnd::slice_over: break;
    }
    auto peers = look_at_peers(operation, is_producer);
    // The owner after the peers, so that a dead owner is reported as such even when it was
    // the peer too.
    if (is_owner_dead()) {
      // The call that finds the owner dead removes the channel (DESIGN: names, lifetime):
      // else its file stays in the namespace after every user has gone.
      (void)segment_.reap_if_owner_died();
      return fail(Errc::owner_died, context(fmt::format("{}: its owner, {}, died", operation,
                                                        to_string(segment_.creator()))));
    }
    return peers;
  }

  /// The would_block error of `operation` ("full" or "empty"), made once per form and handle
  /// (ChannelCore::HotErrors keeps it). Its message is kept for the process's life: a poller
  /// copies and drops the Error once per empty poll, with no reference count.
  Error would_block(std::string_view operation, std::string_view why) const {
    return {Errc::would_block, kept_string(context(fmt::format("{}: {}", operation, why)))};
  }

  /// Whether a Lifetime::process channel's creator died: its lock is free, or /proc already
  /// shows it dead. The second matters: a multi-threaded process shows as a zombie when its
  /// main thread is gone, while another thread may still hold its files (and the lock) for a
  /// moment; a peer check that saw it dead must not then find the owner alive.
  [[nodiscard]] bool is_owner_dead() const {
    if (segment_.lifetime() != Lifetime::process) return false;
    return !segment_.is_owner_alive() || !alive(segment_.creator());
  }

  /// Whether the peer a sleeper waits for can still come: closed if not.
  Result<void> look_at_peers(std::string_view operation, bool is_producer) {
    // A peer role nobody holds: was the peer-to-be a process that opened the channel and
    // died before taking the role? Then, with nobody else left to take it, nobody will.
    const auto nobody_else_left = [&](std::string_view role) -> Result<void> {
      const auto others = ring_.opener_census(opener_slot_);
      if (others.live == 0 && others.dead != 0)
        return fail(Errc::closed,
                    context(fmt::format("{}: no {}, and nobody else has the channel open ({} "
                                        "died)",
                                        operation, role, to_string(others.last_dead))));
      return {};
    };
    if (is_producer) {
      // Relaxed: only the value, to ask the kernel about.
      const std::uint64_t word_of_consumer = header().consumer.load(std::memory_order_relaxed);
      if (word_of_consumer == 0) return nobody_else_left("consumer");
      if (!alive(ring::decode_owner(word_of_consumer)))
        return fail(Errc::closed,
                    context(fmt::format("{}: the consumer, {}, died", operation,
                                        to_string(ring::decode_owner(word_of_consumer)))));
    } else {
      const auto census = ring_.census();
      if (census.live == 0 && census.dead != 0)
        return fail(Errc::closed, context(fmt::format("{}: no producer is left ({} died)",
                                                      operation, to_string(census.last_dead))));
      if (census.live == 0) return nobody_else_left("producer");
    }
    return {};
  }

  /// Up to `wanted` records of the next lane with any; 0 when all are empty.
  Result<std::size_t> take(std::size_t wanted, std::string_view operation) {
    auto lane = consumer_.poll();
    if (lane && *lane == ring::LaneConsumer::kNoLane) return 0;
    if (lane) {
      current_lane_ = *lane;
      auto count = consumer_.reader(*lane).available(wanted);
      if (count) return *count;
    }
    return fail(Errc::corrupted,
                context(fmt::format("{}: corrupted: a lane holds more than its {} records",
                                    operation, ring_.config().capacity)));
  }

  shm::Segment segment_;
  ring::LaneRing ring_;
  std::string name_;
  ring::LaneProducer producer_;
  ring::LaneConsumer consumer_;
  ProcessId producer_as_{};
  ProcessId consumer_as_{};
  std::uint32_t current_lane_ = 0;
  std::optional<std::uint32_t> opener_slot_;  // this handle in the opener table
};

ChannelCore::ChannelCore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {
  auto& header = impl_->header();
  is_closed_ = &header.is_closed;
  items_ = &header.items;
  space_ = &header.space;
  fencing_ = impl_->ring_.wake_fencing();  // create and open registered us if asymmetric
}
ChannelCore::~ChannelCore() = default;

Result<std::unique_ptr<ChannelCore>> ChannelCore::create(std::string_view name,
                                                         std::size_t record_size,
                                                         std::size_t record_align,
                                                         const ChannelOptions& options) {
  const std::string context = channel_context(name, "create");
  std::size_t lanes = 1;
  if (options.producers == Producers::many) {
    lanes = options.max_producers == 0 ? kDefaultManyLanes : options.max_producers;
    if (lanes < 2)
      return fail(
          Errc::invalid_argument,
          fmt::format("{}: max_producers {}: use Producers::one for one producer", context, lanes));
  } else if (options.producers != Producers::one) {
    return fail(Errc::invalid_argument, fmt::format("{}: unknown producers mode", context));
  }
  auto config = ring::LaneRing::plan({.record_size = record_size,
                                      .record_align = record_align,
                                      .capacity = options.capacity,
                                      .lanes = lanes},
                                     context);
  if (!config) return std::unexpected(config.error());
  // Asymmetric where the kernel offers the global expedited membarrier and this process can
  // register for it; else every send and receive fences (the choice is recorded in the ring,
  // so that every process agrees on it).
  if (options.wake_fencing != sync::WakeFencing::symmetric &&
      options.wake_fencing != sync::WakeFencing::asymmetric)
    return fail(Errc::invalid_argument, fmt::format("{}: unknown wake fencing", context));
  auto fencing = sync::WakeFencing::symmetric;
  if (options.wake_fencing == sync::WakeFencing::asymmetric && sys::has_global_membarrier() &&
      sys::register_for_global_membarrier())
    fencing = sync::WakeFencing::asymmetric;
  shm::SegmentSpec spec;
  spec.kind = shm::SegmentKind::channel;
  spec.payload_size = ring::LaneRing::size_of(*config);
  spec.lifetime = options.lifetime;
  spec.mode = options.mode;
  spec.type_size = record_size;
  spec.type_align = static_cast<std::uint32_t>(record_align);
  auto segment = shm::Segment::create(name, spec, [&](std::span<std::byte> payload) {
    ring::LaneRing::initialize(payload, *config, fencing);
    return Result<void>{};
  });
  if (!segment) return std::unexpected(segment.error());
  auto ring = ring::LaneRing::attach(segment->payload(), context);
  if (!ring) return std::unexpected(ring.error());
  return std::unique_ptr<ChannelCore>(
      new ChannelCore(std::make_unique<Impl>(std::move(*segment), *ring)));
}

Result<std::unique_ptr<ChannelCore>> ChannelCore::open(std::string_view name,
                                                       std::size_t record_size,
                                                       std::size_t record_align) {
  const std::string context = channel_context(name, "open");
  auto segment = shm::Segment::open(name, shm::SegmentKind::channel);
  if (!segment) return std::unexpected(segment.error());
  auto ring = ring::LaneRing::attach(segment->payload(), context);
  if (!ring) return std::unexpected(ring.error());
  const auto& header = segment->header();
  if (ring->config().record_size != header.type_size ||
      ring->config().record_align != header.type_align)
    return fail(
        Errc::corrupted,
        fmt::format("{}: corrupted: the ring's record size disagrees with the segment's", context));
  if (header.type_size != record_size || header.type_align != record_align)
    return fail(Errc::invalid_argument,
                fmt::format("{}: holds records of size {} and alignment {}, not {} and {}", context,
                            header.type_size, header.type_align, record_size, record_align));
  if (auto joined = join_membarrier(ring->wake_fencing(), context); !joined)
    return std::unexpected(joined.error());
  return std::unique_ptr<ChannelCore>(
      new ChannelCore(std::make_unique<Impl>(std::move(*segment), *ring)));
}

Result<void> ChannelCore::remove(std::string_view name) {
  // Close it first, so that everyone blocked on it returns closed instead of sleeping on a
  // channel nobody can reach any more.
  if (auto segment = shm::Segment::open(name, shm::SegmentKind::channel)) {
    if (auto ring = ring::LaneRing::attach(segment->payload(), channel_context(name, "remove"))) {
      // Release: pairs with the acquire loads of is_closed in claim() and ready(). Every
      // sleeper's predicate looks at is_closed, so notify_sleepers (a fence, then the flag)
      // wakes them: sync/wait.hpp, the second protocol. Producers asleep on a full lane flag
      // the lane, not `space`: wake_all wakes them unasked (a close is rare).
      ring->header().is_closed.store(1, std::memory_order_release);
      ring->header().items.notify_sleepers();
      ring->header().space.wake_all();
    }
  }
  return shm::Segment::remove(name, shm::SegmentKind::channel);
}

// ---- producers ------------------------------------------------------------------------------

Result<std::size_t> ChannelCore::claim_slowly(std::size_t wanted, bool is_try,
                                              std::optional<sys::TimePoint> deadline,
                                              std::string_view operation) {
  Impl& impl = *impl_;
  if (has_loan_)
    return fail(
        Errc::invalid_argument,
        impl.context(fmt::format("{}: a loan is outstanding: commit or drop it first", operation)));
  auto& header = impl.header();
  // Acquire, in both predicates: pairs with the release store in close().
  const auto is_closed = [&] { return header.is_closed.load(std::memory_order_acquire) != 0; };
  // Waiting for a lane: detach() bumps `space` (notify_all) after giving its lane back. The
  // word is read before the look that found every lane held; a bump since then ends the wait.
  std::optional<std::uint32_t> observed;
  for (;;) {
    // Before attaching: a closed channel says closed to every sender, lane or no lane.
    if (is_closed()) return fail(Errc::closed, impl.context(fmt::format("{}: closed", operation)));
    if (auto attached = impl.ensure_producer(operation); !attached) {
      // Every lane is held: a blocking send waits for one to be given back (detaching bumps
      // `space`) or for its owner to die (found by the next attempt, at the latest a slice on).
      if (is_try || attached.error().code() != Errc::limit_reached)
        return std::unexpected(attached.error());
      if (observed) {
        const auto is_lane_freed = [&] { return is_closed() || header.space.value() != *observed; };
        if (auto waited = impl.wait(is_lane_freed, header.space, deadline, operation, true);
            !waited)
          return std::unexpected(waited.error());
      }
      observed = header.space.value();
      continue;
    }
    writer_ = &impl.producer_.writer();
    writer_as_ = impl.producer_as_;
    auto count = writer_->available(wanted);
    if (!count)
      return fail(Errc::corrupted, impl.context(fmt::format("{}: corrupted: lane {} indices",
                                                            operation, impl.producer_.lane())));
    if (*count != 0) return *count;
    if (is_try)
      return std::unexpected(
          is_full_.find_or_make(operation, [&] { return impl.would_block(operation, "full"); }));
    // The consumer's release() publishes the head with a plain store, then looks at the
    // lane's own sleeper flag (not space.sleepers: the lane's next owner zeroes it, so a
    // producer killed asleep leaves nothing behind) and bumps `space` once per sleep (we mark
    // ours: a bump of `space` before flagging): the predicate is the look at the head (and
    // the close) that wait_slice makes after flagging us. Our mark also moves the word that
    // producers waiting for a lane watch: they look for a lane once more, and wait again.
    const auto has_room = [&] {
      auto room = writer_->available(1);
      return !room || *room != 0 || is_closed();
    };
    if (auto waited = impl.wait(has_room, header.space, deadline, operation, true,
                                &writer_->sleepers(), sync::SleepMark::bump);
        !waited)
      return std::unexpected(waited.error());
  }
}

Result<void> ChannelCore::commit_closed() const {
  return fail(Errc::closed, impl_->context("commit: closed; the loan was not sent"));
}

// ---- the consumer ---------------------------------------------------------------------------

Result<std::size_t> ChannelCore::ready_slowly(std::size_t wanted, bool is_try,
                                              std::optional<sys::TimePoint> deadline,
                                              std::string_view operation) {
  Impl& impl = *impl_;
  if (has_view_)
    return fail(
        Errc::invalid_argument,
        impl.context(fmt::format("{}: a view is outstanding: destroy it first", operation)));
  if (auto attached = impl.ensure_consumer(operation); !attached)
    return std::unexpected(attached.error());
  consumer_ = &impl.consumer_;
  consumer_as_ = impl.consumer_as_;
  only_reader_ = impl.ring_.config().lane_count == 1 ? &impl.consumer_.reader(0) : nullptr;
  auto& header = impl.header();
  // Producers publish with a plain store of a lane's tail, then wake sleepers (publish()): the
  // predicate is the look at the tails (and the close) that wait_slice makes after flagging
  // us as a sleeper. poll() only looks (and moves the fair start; take() polls again).
  const auto has_records = [&] {
    // Acquire: pairs with the release store in close().
    if (header.is_closed.load(std::memory_order_acquire) != 0) return true;
    auto lane = impl.consumer_.poll();
    return !lane || *lane != ring::LaneConsumer::kNoLane;
  };
  std::optional<Error> peer_gone;  // why the producers will not come back
  for (;;) {
    // Acquire: pairs with the release store in close(): every record published before the
    // close is visible to the look below, so "closed" is said only once they are drained.
    const bool is_closed = header.is_closed.load(std::memory_order_acquire) != 0;
    auto count = impl.take(wanted, operation);
    if (!count) return count;
    if (*count != 0) {
      reader_ = &impl.consumer_.reader(impl.current_lane_);
      return count;
    }
    if (is_closed)
      return fail(Errc::closed, impl.context(fmt::format("{}: closed and drained", operation)));
    if (is_try)
      return std::unexpected(
          is_empty_.find_or_make(operation, [&] { return impl.would_block(operation, "empty"); }));
    if (peer_gone) return std::unexpected(*peer_gone);
    // Marked: publish() wakes each of our sleeps once (sync/wait.hpp, wake_all_once).
    auto waited = impl.wait(has_records, header.items, deadline, operation, false, nullptr,
                            sync::SleepMark::bump);
    if (!waited) {
      // The producers died: their last records may have landed after the look above.
      if (waited.error().code() != Errc::closed) return std::unexpected(waited.error());
      peer_gone = waited.error();
    }
  }
}

// ---- the rest -------------------------------------------------------------------------------

void ChannelCore::copy_large(void* to, const void* from, std::size_t size) noexcept {
  std::memcpy(to, from, size);
}

void ChannelCore::close() noexcept {
  // Release: pairs with the acquire loads in claim(), ready() and commit_loan(): records
  // published before close() are seen by a receiver that sees the close. Every sleeper's
  // predicate looks at is_closed: notify_sleepers wakes them (sync/wait.hpp). Producers
  // asleep on a full lane flag the lane, not `space`: wake_all wakes them unasked (the seq_cst
  // bump orders the close before it; a close is rare).
  impl_->header().is_closed.store(1, std::memory_order_release);
  impl_->header().items.notify_sleepers();
  impl_->header().space.wake_all();
}

std::size_t ChannelCore::depth() const noexcept { return impl_->ring_.depth(); }

std::size_t ChannelCore::capacity() const noexcept { return impl_->ring_.config().capacity; }

const std::string& ChannelCore::name() const noexcept { return impl_->name_; }

std::string ChannelCore::context(std::string_view operation) const {
  return impl_->context(operation);
}

ChannelStats ChannelCore::stats() const {
  const Impl& impl = *impl_;
  const auto& config = impl.ring_.config();
  ChannelStats stats;
  stats.capacity = config.capacity;
  stats.lanes = config.lane_count;
  stats.producers = config.lane_count == 1 ? Producers::one : Producers::many;
  stats.depth = impl.ring_.depth();
  stats.record_size = config.record_size;
  stats.wake_fencing = impl.ring_.wake_fencing();
  stats.lifetime = impl.segment_.lifetime();
  stats.owner = impl.segment_.creator();
  // Relaxed: statistics; the values are only reported.
  const std::uint64_t consumer = impl.header().consumer.load(std::memory_order_relaxed);
  if (consumer != 0 && alive(ring::decode_owner(consumer)))
    stats.consumer = ring::decode_owner(consumer);
  for (std::uint32_t lane = 0; lane < impl.ring_.lanes_used(); ++lane) {
    // Relaxed: reported only.
    const std::uint64_t owner = impl.ring_.control(lane).owner.load(std::memory_order_relaxed);
    if (owner != 0 && alive(ring::decode_owner(owner)))
      stats.producers_attached.push_back(ring::decode_owner(owner));
  }
  stats.is_closed = impl.header().is_closed.load(std::memory_order_relaxed) != 0;
  return stats;
}

}  // namespace conduit::msg
