#include "conduit/msg/mailbox.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <climits>
#include <cstring>
#include <limits>
#include <new>

#include "conduit/core/kept_string.hpp"
#include "conduit/core/name.hpp"
#include "mailbox_impl.hpp"

namespace conduit {

using namespace msg;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t kMaxMessageSize = std::size_t{1} << 30;

constexpr std::size_t round_up(std::size_t n, std::size_t to) { return (n + to - 1) / to * to; }
constexpr std::size_t kStateOffset = round_up(sizeof(MailboxConfig), kCacheLine);
constexpr std::size_t kSlotsOffset = kStateOffset + round_up(sizeof(MailboxState), kCacheLine);

std::size_t stride_for(std::size_t max_message_size) {
  return round_up(sizeof(SlotHeader) + max_message_size, kCacheLine);
}

// Cells start on 128-byte boundaries: the header line and the payload's first line are then
// the pair the hardware's adjacent-line prefetcher fetches together.
constexpr std::size_t kCellAlignment = 2 * kCacheLine;

std::size_t ring_stride_for(std::size_t max_message_size) {
  return round_up(sizeof(RingCell) + max_message_size, kCellAlignment);
}

// Beyond this a mailbox has no ring: its slots are as large already, and doubling them would
// be a surprise (a bounded(2^24) mailbox of 4 KiB messages).
constexpr std::uint64_t kMaxRingBytes = std::uint64_t{256} << 20;

std::uint32_t slots_for(const Capacity& capacity) {
  switch (capacity.kind) {
    case Capacity::Kind::zero: return kZeroCapacitySlots;
    case Capacity::Kind::bounded: return static_cast<std::uint32_t>(capacity.limit);
    case Capacity::Kind::unbounded: return kUnboundedInitialSlots;
  }
  return 0;
}

}  // namespace

// ---- the lock -------------------------------------------------------------------------------

namespace {
// How long one sleep on the lock lasts before the deadline and patience are looked at again.
constexpr std::chrono::milliseconds kLockSlice{100};
// Longer than any operation holds the lock (a repair of the largest mailbox, the growth of an
// unbounded one): past it the lock is taken to be corrupted, not busy.
constexpr std::chrono::seconds kLockPatience{10};
}  // namespace

Result<Mailbox::Impl::Locked> Mailbox::Impl::lock(std::optional<sys::TimePoint> deadline) {
  // The lock's line was most likely written last by another process: ask for it writable
  // before the Mutex reads its kind word and then exchanges its word (one trip, not two).
  prefetch_for_write(&state_->lock);
  // Free, as it nearly always is: taken without setting up the wait below.
  if (state_->lock.try_lock()) [[likely]] {
    if (state_->is_held != 0) repair();  // see below
    return Locked(state_);
  }
  return lock_contended(deadline);
}

Result<Mailbox::Impl::Locked> Mailbox::Impl::lock_contended(
    std::optional<sys::TimePoint> deadline) {
  // One spin only: Mutex::lock_for spins (polling the word, trying it only when it reads free,
  // so spinners do not steal the line from the holder) before it sleeps. A holder keeps the
  // lock for well under a microsecond, far less than a futex sleep and wake-up cost. (Until
  // layout 7 this function spun first itself, trying the lock with backoff, and then lock_for
  // spun again.)
  bool is_repair_needed = false;
  // In slices, never for ever: an operation holds the lock for microseconds, so a lock
  // still taken after kLockPatience has no live operation behind it — its holder is stopped,
  // or a peer wrote over the lock word (a futex word naming a thread that will never
  // release it). Found by the hostile-peer test: an unbounded lock() hung there for ever,
  // even inside send_for and receive_for.
  // A deadline that passed already still gets one try with the spin: lock_for(0) spins.
  const sys::TimePoint patience = sys::now() + kLockPatience;
  for (bool is_first = true;; is_first = false) {
    const sys::TimePoint now = sys::now();
    if (!is_first && deadline && now >= *deadline)
      return fail(Errc::timed_out, context("lock: timed out"));
    if (now >= patience)
      return fail(Errc::corrupted,
                  context(fmt::format(
                      "lock: corrupted: not released for {} s (a holder is "
                      "stopped, or the lock word was overwritten)",
                      std::chrono::duration_cast<std::chrono::seconds>(kLockPatience).count())));
    const sys::TimePoint until = deadline ? std::min({*deadline, patience, now + kLockSlice})
                                          : std::min(patience, now + kLockSlice);
    auto locked = state_->lock.lock_for(std::max(until - now, sys::Clock::duration::zero()));
    if (locked) break;
    if (locked.error().code() == Errc::timed_out) continue;
    if (locked.error().code() != Errc::owner_died)
      return fail(locked.error().code(),
                  context(fmt::format("lock: {}", locked.error().message())));
    is_repair_needed = true;
    state_->lock.make_consistent();
    break;
  }
  // Still marked held: its last holder died inside an operation. Rebuild from the slots.
  if (is_repair_needed || state_->is_held != 0) repair();
  return Locked(state_);
}

// ---- received payloads ----------------------------------------------------------------------

std::shared_ptr<BufferPool::Buffer> BufferPool::take(std::size_t size) {
  const auto make = [](std::size_t capacity) {
    auto buffer = std::make_shared<Buffer>();
    buffer->bytes.reset(new std::byte[capacity]);
    buffer->capacity = capacity;
    return buffer;
  };
  if (size > kLargest) return make(size);
  const std::size_t capacity = std::bit_ceil(std::max<std::size_t>(size, 256));
  // Acquire: pairs with the release in clear() below, so this thread sees the entries the
  // last user of the pool left.
  if (is_busy_.test_and_set(std::memory_order_acquire)) return make(capacity);
  std::shared_ptr<Buffer> found;
  for (auto& entry : buffers_) {
    if (entry == nullptr) {
      entry = make(capacity);
    } else if (entry.use_count() != 1) {
      continue;  // a Message still holds it
    } else if (entry->capacity < size) {
      entry = make(capacity);
    }
    found = entry;
    break;
  }
  // use_count() is a relaxed load: the acquire fence makes the last holder's release (its
  // reference count decrement is acq_rel) happen before we overwrite the bytes it read.
  std::atomic_thread_fence(std::memory_order_acquire);
  is_busy_.clear(std::memory_order_release);  // pairs with the test_and_set above
  return found != nullptr ? found : make(capacity);
}

// ---- layout ---------------------------------------------------------------------------------

Result<MailboxConfig> Mailbox::Impl::plan(std::string_view name, const MailboxOptions& options) {
  const auto invalid = [&](std::string_view what) {
    return fail(Errc::invalid_argument,
                fmt::format("mailbox '{}': create: {}", printable_name(name), what));
  };
  if (options.max_message_size == 0) return invalid("max_message_size 0");
  if (options.max_message_size > kMaxMessageSize)
    return invalid(
        fmt::format("max_message_size {} exceeds {}", options.max_message_size, kMaxMessageSize));
  if (options.capacity.is_bounded() &&
      (options.capacity.limit == 0 || options.capacity.limit > (1u << 24)))
    return invalid(
        fmt::format("bounded({}): capacity must be 1 to {} (use zero() for a "
                    "rendezvous)",
                    options.capacity.limit, 1u << 24));
  if (static_cast<std::uint32_t>(options.receivers) > static_cast<std::uint32_t>(Receivers::pair))
    return invalid("unknown receivers mode");
  MailboxConfig config{};
  config.magic = kMailboxMagic;
  config.layout_version = kMailboxLayoutVersion;
  config.capacity_kind = static_cast<std::uint32_t>(options.capacity.kind);
  config.capacity_limit = options.capacity.is_bounded() ? options.capacity.limit : 0;
  config.max_message_size = options.max_message_size;
  config.receivers = static_cast<std::uint32_t>(options.receivers);
  config.lifetime = static_cast<std::uint32_t>(options.lifetime);
  config.slot_count = slots_for(options.capacity);
  config.slot_stride = static_cast<std::uint32_t>(stride_for(options.max_message_size));
  config.slots_offset = kSlotsOffset;
  const std::uint32_t cells = ring_cells_for(config);
  if (cells != 0) {
    config.ring_cells = cells;
    config.ring_stride = static_cast<std::uint32_t>(ring_stride_for(config.max_message_size));
    config.ring_offset = ring_offset_for(config);
  }
  // Symmetric: a ring's wakers fence (a few nanoseconds a message) rather than have every
  // sleeper make a global membarrier, which interrupts every CPU running a registered process.
  // Measured: with 2 and 4 any_one receivers (blocking) asymmetric fencing halved the
  // throughput (1.7-2.0 against 3.4-3.6 Mmsg/s), and gained about 10% in a one-receiver stream.
  // The field lets a later layout choose otherwise (validate() accepts symmetric only).
  config.wake_fencing = static_cast<std::uint32_t>(sync::WakeFencing::symmetric);
  return config;
}

std::uint32_t Mailbox::Impl::ring_cells_for(const MailboxConfig& config) {
  // Bounded only: an unbounded mailbox's ring would be full at some point and every later
  // send go to the slots, behind it, while its freed cells stood empty.
  if (config.receivers == static_cast<std::uint32_t>(Receivers::broadcast) ||
      config.capacity_kind != static_cast<std::uint32_t>(Capacity::Kind::bounded) ||
      config.max_message_size > kRingMaxMessage)
    return 0;
  // Exactly the capacity: a full ring then has every cell in use, the tail's too, which is
  // what tells a count lost to a dead process from a full ring cheaply (ring_has_room).
  if (std::uint64_t{config.slot_count} * ring_stride_for(config.max_message_size) > kMaxRingBytes)
    return 0;
  return config.slot_count;
}

std::uint64_t Mailbox::Impl::ring_offset_for(const MailboxConfig& config) {
  return round_up(config.slots_offset + std::uint64_t{config.slot_count} * config.slot_stride,
                  kCellAlignment);
}

std::uint64_t Mailbox::Impl::ring_claims_offset_for(const MailboxConfig& config) {
  return ring_offset_for(config) + std::uint64_t{config.ring_cells} * config.ring_stride;
}

std::size_t Mailbox::Impl::size_of(const MailboxConfig& config) {
  return ring_claims_offset_for(config) +
         round_up(std::size_t{config.ring_cells} * sizeof(RingClaim), kCacheLine);
}

Result<void> Mailbox::Impl::initialize(std::span<std::byte> payload, const MailboxConfig& config) {
  std::memcpy(payload.data(), &config, sizeof config);
  auto* state = ::new (static_cast<void*>(payload.data() + kStateOffset)) MailboxState();
  state->queue_head = kNoSlot;
  state->queue_tail = kNoSlot;
  state->free_head = config.slot_count > 0 ? 0 : kNoSlot;
  state->slot_total = config.slot_count;
  std::byte* slots = payload.data() + config.slots_offset;
  for (std::uint32_t i = 0; i < config.slot_count; ++i) {
    auto* slot =
        ::new (static_cast<void*>(slots + std::size_t{i} * config.slot_stride)) SlotHeader();
    slot->state = static_cast<std::uint32_t>(SlotState::free);
    slot->next = i + 1 < config.slot_count ? static_cast<std::int32_t>(i + 1) : kNoSlot;
    slot->prev = kNoSlot;
  }
  std::byte* ring = payload.data() + config.ring_offset;
  for (std::uint32_t i = 0; i < config.ring_cells; ++i) {
    auto* cell = ::new (static_cast<void*>(ring + std::size_t{i} * config.ring_stride)) RingCell();
    cell->word.store(CellWord::make(i, CellState::empty), std::memory_order_relaxed);
  }
  auto* claims = reinterpret_cast<RingClaim*>(payload.data() + ring_claims_offset_for(config));
  for (std::uint32_t i = 0; i < config.ring_cells; ++i) {
    auto* claim = ::new (static_cast<void*>(claims + i)) RingClaim();
    claim->word.store(CellWord::make(i, CellState::empty), std::memory_order_relaxed);
  }
  return {};
}

Result<MailboxConfig> Mailbox::Impl::validate(const shm::Segment& segment) {
  const auto payload = segment.payload();
  const auto corrupted = [&](std::string_view what) {
    return fail(Errc::corrupted,
                fmt::format("mailbox '{}': open: corrupted: {}", segment.name(), what));
  };
  if (payload.size() < kSlotsOffset) return corrupted("too small for a mailbox");
  MailboxConfig config;
  std::memcpy(&config, payload.data(), sizeof config);  // one copy; checks and use see the same
  if (config.magic != kMailboxMagic) return corrupted("bad magic");
  if (config.layout_version != kMailboxLayoutVersion)
    return corrupted(fmt::format("layout version {}, this build reads {}", config.layout_version,
                                 kMailboxLayoutVersion));
  if (config.capacity_kind > static_cast<std::uint32_t>(Capacity::Kind::unbounded) ||
      config.receivers > static_cast<std::uint32_t>(Receivers::pair) ||
      config.lifetime > static_cast<std::uint32_t>(Lifetime::system))
    return corrupted("unknown capacity, receivers or lifetime");
  if (config.max_message_size == 0 || config.max_message_size > kMaxMessageSize ||
      config.slot_stride != stride_for(config.max_message_size) ||
      config.slots_offset != kSlotsOffset)
    return corrupted("message size or slot stride");
  Capacity capacity{static_cast<Capacity::Kind>(config.capacity_kind), config.capacity_limit};
  if (config.slot_count == 0 || config.slot_count != slots_for(capacity))
    return corrupted(fmt::format("{} slots", config.slot_count));
  if (std::uint64_t{config.slot_count} * config.slot_stride > payload.size() - kSlotsOffset)
    return corrupted("slots run past the segment");
  const std::uint32_t cells = ring_cells_for(config);
  if (config.ring_cells != cells ||
      (cells != 0 && (config.ring_stride != ring_stride_for(config.max_message_size) ||
                      config.ring_offset != ring_offset_for(config))))
    return corrupted(fmt::format("ring of {} cells", config.ring_cells));
  if (cells != 0 && size_of(config) > payload.size())
    return corrupted("ring runs past the segment");
  // Only symmetric is made (see plan()), and only symmetric is read: asymmetric wakers would
  // need every process registered for the sleepers' membarrier, which this build does not do.
  if (config.wake_fencing != static_cast<std::uint32_t>(sync::WakeFencing::symmetric))
    return corrupted(fmt::format("wake fencing {}", config.wake_fencing));
  if (config.lifetime != static_cast<std::uint32_t>(segment.lifetime()))
    return corrupted("lifetime disagrees with the segment");
  return config;
}

Mailbox::Impl::Impl(shm::Segment segment, const MailboxConfig& config, MailboxRole role,
                    bool is_creator)
    : segment_(std::move(segment)),
      config_(config),
      state_(
          std::launder(reinterpret_cast<MailboxState*>(segment_.payload().data() + kStateOffset))),
      slots_(segment_.payload().data() + config.slots_offset),
      ring_(config.ring_cells != 0 ? segment_.payload().data() + config.ring_offset : nullptr),
      ring_claims_(config.ring_cells != 0
                       ? std::launder(reinterpret_cast<RingClaim*>(segment_.payload().data() +
                                                                   ring_claims_offset_for(config)))
                       : nullptr),
      ring_cells_(config.ring_cells),
      ring_stride_(config.ring_stride),
      fencing_(static_cast<sync::WakeFencing>(config.wake_fencing)),
      name_(segment_.name()),
      hot_{Error(Errc::would_block, kept_string(context("try_receive: no message"))),
           Error(Errc::would_block, kept_string(context("try_send: full"))),
           Error(Errc::would_block, kept_string(context("try_send: no receiver is waiting"))),
           Error(Errc::would_block, kept_string(context("try_loan: full")))},
      role_(role),
      is_creator_(is_creator),
      is_broadcast_(config.receivers == static_cast<std::uint32_t>(Receivers::broadcast)),
      is_exclusive_(config.receivers == static_cast<std::uint32_t>(Receivers::exclusive)),
      is_rendezvous_(config.capacity_kind == static_cast<std::uint32_t>(Capacity::Kind::zero)),
      is_unbounded_(config.capacity_kind == static_cast<std::uint32_t>(Capacity::Kind::unbounded)) {
}

std::string Mailbox::Impl::context(std::string_view operation) const {
  return fmt::format("mailbox '{}': {}", name_, operation);
}

std::uint32_t Mailbox::Impl::slot_total() const {
  // Only an unbounded mailbox grows, and only by whole extensions: after k of them it has
  // kUnboundedInitialSlots (2^(k+1) - 1) slots. Any other total is not to be trusted.
  if (!is_unbounded_) return config_.slot_count;
  const std::uint32_t total = state_->slot_total;  // read once
  for (std::uint32_t k = 1; k <= kMaxExtensions; ++k) {
    if (total == kUnboundedInitialSlots * ((2u << k) - 1)) return total;
  }
  return config_.slot_count;
}

const shm::Segment* Mailbox::Impl::extension(std::uint32_t k) {
  if (k == 0 || k > kMaxExtensions) return nullptr;
  if (extensions_.size() < k) extensions_.resize(k);
  auto& mapped = extensions_[k - 1];
  if (!mapped) {
    auto opened = shm::Segment::open(internal_name({name_, fmt::format("x{}", k)}),
                                     shm::SegmentKind::extension, NameUse::internal);
    if (!opened) return nullptr;
    const std::uint64_t needed = std::uint64_t{kUnboundedInitialSlots << k} * config_.slot_stride;
    if (opened->payload().size() < needed) return nullptr;
    mapped.emplace(std::move(*opened));
  }
  return &*mapped;
}

SlotHeader* Mailbox::Impl::extension_slot(std::int32_t index) {
  if (index < 0) return nullptr;
  const auto i = static_cast<std::uint32_t>(index);
  if (i < config_.slot_count) return slot(index);
  if (i >= slot_total()) return nullptr;
  // Extension k holds indices [64 (2^k - 1), 64 (2^(k+1) - 1)).
  const auto k = static_cast<std::uint32_t>(std::bit_width(i / kUnboundedInitialSlots + 1) - 1);
  const std::uint32_t first = kUnboundedInitialSlots * ((1u << k) - 1);
  const shm::Segment* holder = extension(k);
  if (holder == nullptr) return nullptr;
  return std::launder(reinterpret_cast<SlotHeader*>(holder->payload().data() +
                                                    std::size_t{i - first} * config_.slot_stride));
}

std::byte* Mailbox::Impl::slot_payload(std::int32_t index) {
  return reinterpret_cast<std::byte*>(slot(index)) + sizeof(SlotHeader);
}

Result<void> Mailbox::Impl::grow() {
  // The next extension follows from slot_total, the one store that records an extension: a
  // grower killed after it but before extension_count left the count one short, and the
  // next grower then took the recorded extension for a leftover and replaced its file while
  // processes had it mapped (they would read slots nobody else writes).
  std::uint32_t made = 0;
  const std::uint32_t total = slot_total();  // after m extensions: 64 (2^(m+1) - 1)
  while (made < kMaxExtensions && total >= kUnboundedInitialSlots * ((4u << made) - 1)) ++made;
  const std::uint32_t k = made + 1;
  if (config_.capacity_kind != static_cast<std::uint32_t>(Capacity::Kind::unbounded) ||
      k > kMaxExtensions)
    return fail(Errc::limit_reached,
                context(fmt::format("send: cannot grow beyond {} slots", slot_total())));
  const std::uint32_t first = kUnboundedInitialSlots * ((1u << k) - 1);
  const std::uint32_t count = kUnboundedInitialSlots << k;
  const std::int32_t old_free = state_->free_head;
  shm::SegmentSpec spec;
  spec.kind = shm::SegmentKind::extension;
  spec.payload_size = std::size_t{count} * config_.slot_stride;
  spec.lifetime =
      Lifetime::system;  // removed with the mailbox (its name starts with the mailbox's)
  spec.mode = 0600;
  if (auto st = segment_.status()) spec.mode = st->st_mode & 0777;
  spec.names = NameUse::internal;
  const std::string name = internal_name({name_, fmt::format("x{}", k)});
  const auto initialize = [&](std::span<std::byte> payload) -> Result<void> {
    for (std::uint32_t j = 0; j < count; ++j) {
      auto* header =
          ::new (static_cast<void*>(payload.data() + std::size_t{j} * config_.slot_stride))
              SlotHeader();
      header->state = static_cast<std::uint32_t>(SlotState::free);
      header->prev = kNoSlot;
      header->next = j + 1 < count ? static_cast<std::int32_t>(first + j + 1) : old_free;
    }
    return {};
  };
  auto created = shm::Segment::create(name, spec, initialize);
  if (!created && created.error().code() == Errc::already_exists) {
    // Left by a process that died between making it and recording it: never used; replace it.
    (void)shm::Segment::remove(name, shm::SegmentKind::extension, NameUse::internal);
    created = shm::Segment::create(name, spec, initialize);
  }
  if (!created)
    return fail(created.error().code() == Errc::limit_reached ? Errc::limit_reached
                                                              : created.error().code(),
                context(fmt::format("send: cannot grow: {}", created.error().message())));
  if (extensions_.size() < k) extensions_.resize(k);
  extensions_[k - 1].emplace(std::move(*created));
  state_->slot_total = first + count;
  state_->extension_count = k;
  state_->free_head = static_cast<std::int32_t>(first);
  return {};
}

// ---- the public surface ---------------------------------------------------------------------

Mailbox::Mailbox(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
Mailbox::Mailbox(Mailbox&&) noexcept = default;
Mailbox& Mailbox::operator=(Mailbox&&) noexcept = default;
Mailbox::~Mailbox() = default;

Result<Mailbox> Mailbox::create(std::string_view name, MailboxOptions options) {
  return create(name, options, NameUse::user);
}

Result<Mailbox> Mailbox::open(std::string_view name, MailboxRole role) {
  return open(name, role, NameUse::user);
}

Result<void> Mailbox::remove(std::string_view name) { return remove(name, NameUse::user); }

Result<Mailbox> Mailbox::create(std::string_view name, MailboxOptions options, NameUse names) {
  auto config = Impl::plan(name, options);
  if (!config) return std::unexpected(config.error());
  shm::SegmentSpec spec;
  spec.kind = shm::SegmentKind::mailbox;
  spec.payload_size = Impl::size_of(*config);
  spec.lifetime = options.lifetime;
  spec.mode = options.mode;
  spec.names = names;
  auto segment = shm::Segment::create(
      name, spec, [&](std::span<std::byte> payload) { return Impl::initialize(payload, *config); });
  if (!segment) return std::unexpected(segment.error());
  auto impl =
      std::make_shared<Impl>(std::move(*segment), *config, MailboxRole::sender_and_receiver, true);
  if (auto attached = impl->attach(); !attached) return std::unexpected(attached.error());
  return Mailbox(std::move(impl));
}

Result<Mailbox> Mailbox::open(std::string_view name, MailboxRole role, NameUse names) {
  auto segment = shm::Segment::open(name, shm::SegmentKind::mailbox, names);
  if (!segment) return std::unexpected(segment.error());
  auto config = Impl::validate(*segment);
  if (!config) return std::unexpected(config.error());
  auto impl = std::make_shared<Impl>(std::move(*segment), *config, role, false);
  if (impl->state_->is_removed.load(std::memory_order_relaxed) != 0)
    return fail(Errc::not_found, impl->context("open: not found (removed)"));
  if (auto attached = impl->attach(); !attached) return std::unexpected(attached.error());
  return Mailbox(std::move(impl));
}

Result<void> Mailbox::remove(std::string_view name, NameUse names) {
  // Wake everyone blocked on it first: they return closed instead of sleeping on a mailbox
  // that nobody can reach any more.
  if (auto segment = shm::Segment::open(name, shm::SegmentKind::mailbox, names)) {
    if (auto config = Impl::validate(*segment)) {
      Impl impl(std::move(*segment), *config, MailboxRole::sender, false);
      {
        auto locked = impl.lock();
        impl.state_->is_removed.store(1, std::memory_order_relaxed);  // see check_usable
        // Queued hand-offs go now, not when the last handle closes.
        impl.join_handoff();
        impl.drain_handoff();
        impl.leave_handoff();
      }
      impl.state_->messages.notify_all();
      impl.state_->space.notify_all();
      impl.state_->receipts.notify_all();
    }
  }
  return shm::Segment::remove(name, shm::SegmentKind::mailbox, names);
}

Result<void> Mailbox::send(std::span<const std::byte> payload, std::int64_t type) {
  if (impl_->send_fast(payload, type)) [[likely]]
    return {};
  return impl_->send(payload, type, false, std::nullopt, false, nullptr);
}

Result<void> Mailbox::try_send(std::span<const std::byte> payload, std::int64_t type) {
  if (impl_->send_fast(payload, type)) [[likely]]
    return {};
  return impl_->send(payload, type, true, std::nullopt, false, nullptr);
}

Result<void> Mailbox::send_for(std::span<const std::byte> payload, std::chrono::nanoseconds timeout,
                               std::int64_t type) {
  if (impl_->send_fast(payload, type)) [[likely]]
    return {};
  return impl_->send(payload, type, false, sys::deadline_after(timeout), false, nullptr);
}

Result<Receipt> Mailbox::send_and_wait(std::span<const std::byte> payload, std::int64_t type) {
  Receipt receipt{};
  if (auto sent = impl_->send(payload, type, false, std::nullopt, true, &receipt); !sent)
    return std::unexpected(sent.error());
  return receipt;
}

Result<Message> Mailbox::receive(std::int64_t type) {
  return received(
      [&](Message* message) { return impl_->receive_copy(type, false, std::nullopt, message); });
}

Result<Message> Mailbox::try_receive(std::int64_t type) {
  return received(
      [&](Message* message) { return impl_->receive_copy(type, true, std::nullopt, message); });
}

Result<Message> Mailbox::receive_for(std::chrono::nanoseconds timeout, std::int64_t type) {
  const auto deadline = sys::deadline_after(timeout);
  return received(
      [&](Message* message) { return impl_->receive_copy(type, false, deadline, message); });
}

MailboxStats Mailbox::stats() const { return impl_->stats(); }

const std::string& Mailbox::name() const noexcept { return impl_->name_; }

}  // namespace conduit
