#include "conduit/msg/endpoint.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstring>
#include <deque>
#include <new>
#include <optional>
#include <unordered_map>

#include "conduit/core/digest.hpp"
#include "conduit/core/kept_string.hpp"
#include "conduit/core/name.hpp"
#include "conduit/msg/endpoint_layout.hpp"
#include "conduit/msg/mailbox.hpp"
#include "conduit/shm/segment.hpp"
#include "conduit/sys/clock.hpp"
#include "mailbox_impl.hpp"

namespace conduit {

using namespace msg;
using namespace std::chrono_literals;
using namespace std::string_view_literals;  // operation names: no strlen per call

namespace {

// Blocking calls wait in slices of this, looking between slices whether the peer died.
constexpr auto kSlice = 50ms;
// How often a receive that found nothing looks at one link for a peer that is gone.
constexpr auto kRetireInterval = 10ms;
// How many links it looks at then while every inbound entry is in use and none is offered.
constexpr int kRetireLooksWhenFull = 8;

EndpointState* state_of(const shm::Segment& segment) {
  return std::launder(reinterpret_cast<EndpointState*>(segment.payload().data()));
}

Result<void> check_state(const shm::Segment& segment, std::string_view context) {
  if (segment.payload().size() < sizeof(EndpointState))
    return fail(Errc::corrupted, fmt::format("{}: corrupted: too small", context));
  const EndpointState* state = state_of(segment);
  if (state->magic != kEndpointMagic || state->layout_version != kEndpointLayoutVersion)
    return fail(Errc::corrupted, fmt::format("{}: corrupted: bad magic or version", context));
  return {};
}

// Takes `state`'s lock; a holder that died left nothing half-done that matters here (entries
// are written whole before they are published).
Result<void> lock_state(EndpointState& state) {
  auto locked = state.lock.lock();
  if (!locked && locked.error().code() != Errc::owner_died) return std::unexpected(locked.error());
  if (!locked) state.lock.make_consistent();
  return {};
}

// The links from `sender` to `receiver` are named this and a generation (endpoint_layout.hpp):
// "receiver#sender#". Where two long names would make a link's name too long for a file,
// "receiver#D#long#", D being the sender's digest in hex: a user name has no '#', so no link
// of a sender named D ("receiver#D#g") is one of these. (Two long senders whose digests are
// equal would share links: a chance of 2^-64 per pair.) Chosen by the names alone, so that every
// generation of a pair is named alike.
std::string link_prefix_of(std::string_view receiver, std::string_view sender) {
  // A std::uint32_t's digits, and an unbounded link's extensions add to its name.
  constexpr std::size_t kBudget = kMaxInternalNameLength - 10 - kExtensionSuffixLength;
  if (receiver.size() + sender.size() + 2 <= kBudget) return internal_name({receiver, sender, ""});
  return internal_name({receiver, fmt::format("{:016x}", fnv1a_64(sender)), "long", ""});
}

std::string link_name_of(std::string_view receiver, std::string_view sender,
                         std::uint32_t generation) {
  return link_prefix_of(receiver, sender) + std::to_string(generation);
}

}  // namespace

class Endpoint::Impl {
 public:
  struct Outbound {
    shm::Segment peer;  // the peer's endpoint: its doorbell, and whether it lives
    Mailbox link;       // "peer#me#generation"
    std::uint32_t generation;
    sys::TimePoint checked;
  };
  struct Inbound {
    std::string peer;
    std::shared_ptr<const std::string> shared_name;  // `peer`, named in every message from it
    std::optional<Mailbox> link;                     // "me#peer#generation", once the peer made it
    std::uint32_t generation = 0;  // of `link` (open, to be opened, or retired); 0: none yet
    std::deque<Mailbox> draining;  // links of the peer's older generations, oldest first
    sys::TimePoint checked{};      // when receive_from last found the peer's endpoint there
    // The peer was gone and its link empty: the link is removed and not polled, until the
    // peer's entry names a newer generation.
    bool is_retired = false;
    bool is_offered = false;  // its entry is offered for reuse (EntryUse)
  };

  Impl(shm::Segment segment, EndpointOptions options)
      : segment_(std::move(segment)),
        state_(state_of(segment_)),
        options_(options),
        no_message_(Errc::would_block, kept_string(context("try_receive: no message"))),
        no_message_from_(Errc::would_block, kept_string(context("try_receive_from: no message"))) {}

  ~Impl() {
    // Leave: links to us go first (their senders get closed), then the endpoint itself.
    // (The links of older generations, whose senders are gone, go with the endpoint.) Under
    // the lock: a sender may be taking an entry over.
    std::vector<std::string> links;
    if (lock_state(*state_)) {
      for (std::uint32_t i = 0; i < std::min(state_->inbound_count, kMaxPeers); ++i)
        if (const std::string peer = peer_name(i); !peer.empty())
          links.push_back(link_name_of(name(), peer, entry_generation(i)));
      state_->lock.unlock();
    }
    for (const auto& link : links) (void)Mailbox::remove(link, NameUse::internal);
    for (auto& [peer, out] : outbound_) say_left(out);
    (void)shm::Segment::remove(name(), shm::SegmentKind::endpoint);
  }

  /// Our entry in a peer's inbound list (with its lock held), if we have one.
  InboundPeer* own_entry(EndpointState& peer_state) const {
    const std::uint32_t count = std::min(peer_state.inbound_count, kMaxPeers);
    for (std::uint32_t i = 0; i < count; ++i) {
      InboundPeer& entry = peer_state.inbound[i];
      if (entry.use != kEntryFree && std::strncmp(entry.name, name().c_str(), kMaxNameLength) == 0)
        return &entry;
    }
    return nullptr;
  }

  /// Tells the peer of `out` that we left (EntryUse kEntryLeft): it reads our link empty and
  /// removes it at once, rather than polling it until it finds us gone.
  void say_left(Outbound& out) {
    EndpointState& peer_state = *state_of(out.peer);
    if (!check_state(out.peer, context("leave")) || !lock_state(peer_state)) return;
    // Not when another process under our name took it on since (a newer generation).
    if (InboundPeer* entry = own_entry(peer_state);
        entry != nullptr && entry->use == kEntryUsed && entry->generation == out.generation) {
      std::atomic_ref(entry->use).store(kEntryLeft, std::memory_order_relaxed);
      std::atomic_ref(peer_state.registrations).fetch_add(1, std::memory_order_release);
    }
    peer_state.lock.unlock();
  }

  const std::string& name() const { return segment_.name(); }
  std::string context(std::string_view operation) const {
    return fmt::format("endpoint '{}': {}", name(), operation);
  }

  // The validated name of inbound entry i ("" when unused or not a valid name).
  std::string peer_name(std::uint32_t i) const {
    const InboundPeer& entry = state_->inbound[i];
    // Atomic: read without the lock by open_inbound, while a peer that leaves may mark it.
    if (std::atomic_ref(state_->inbound[i].use).load(std::memory_order_relaxed) == kEntryFree)
      return {};
    char copy[kMaxNameLength + 1];
    std::memcpy(copy, entry.name, sizeof copy);
    copy[kMaxNameLength] = '\0';
    std::string peer(copy);
    return is_valid_name(peer) ? peer : std::string();
  }

  /// The link "peer#me#g" of a new generation g, made and registered in `peer_state`'s
  /// inbound list; with its lock held. Made before it is registered: a receiver that sees the
  /// generation finds the link. One per Endpoint object and peer: a process that joined under
  /// our name before (another process, or this one before it left) had links of its own, which
  /// the peer drains first, and a pair takes no third process.
  Result<Mailbox> make_link(EndpointState& peer_state, const std::string& peer,
                            std::string_view operation, std::uint32_t& made_generation) {
    InboundPeer* listed = own_entry(peer_state);  // ours (in use, left, or offered for reuse)
    InboundPeer* reusable = nullptr;              // another's, offered for reuse
    const std::uint32_t count = std::min(peer_state.inbound_count, kMaxPeers);
    for (std::uint32_t i = 0; i < count && listed == nullptr && reusable == nullptr; ++i)
      if (peer_state.inbound[i].use == kEntryReusable) reusable = &peer_state.inbound[i];
    if (listed == nullptr && count >= kMaxPeers && reusable == nullptr)
      return fail(Errc::limit_reached,
                  context(fmt::format("{}: '{}' has {} peers already, none gone and read yet",
                                      operation, peer, kMaxPeers)));
    const std::uint32_t generation = listed != nullptr ? listed->generation + 1 : 1;
    if (generation == 0)  // only a forged count wraps
      return fail(Errc::corrupted, context(fmt::format("{}: '{}' lists our generation as {}",
                                                       operation, peer, listed->generation)));
    const std::string link_name = link_name_of(peer, name(), generation);
    const MailboxOptions link_options{.capacity = options_.capacity,
                                      .max_message_size = options_.max_message_size,
                                      .receivers = Receivers::pair,
                                      .lifetime = Lifetime::system,
                                      .mode = options_.mode};
    auto link = Mailbox::create(link_name, link_options, NameUse::internal);
    if (!link && link.error().code() == Errc::already_exists) {
      // Made by a sender that died here before it registered it: nobody uses it.
      (void)Mailbox::remove(link_name, NameUse::internal);
      link = Mailbox::create(link_name, link_options, NameUse::internal);
    }
    if (!link) return std::unexpected(link.error());
    if (listed == nullptr) {
      // A new entry while there is room; else another's, offered for reuse (the receiver
      // reads such an entry's name under the lock).
      listed = count < kMaxPeers ? &peer_state.inbound[count] : reusable;
      std::memset(listed->name, 0, sizeof listed->name);
      std::memcpy(listed->name, name().data(), name().size());
      std::atomic_ref(listed->use).store(kEntryUsed, std::memory_order_relaxed);
      // Release: a receiver that reads the count reads the entry's name.
      if (count < kMaxPeers)
        std::atomic_ref(peer_state.inbound_count).store(count + 1, std::memory_order_release);
    } else {
      // Perhaps offered for reuse, or left, meanwhile: ours again.
      std::atomic_ref(listed->use).store(kEntryUsed, std::memory_order_relaxed);
    }
    std::atomic_ref(listed->generation).store(generation, std::memory_order_relaxed);
    std::atomic_ref(peer_state.registrations).fetch_add(1, std::memory_order_release);
    made_generation = generation;
    return link;
  }

  Result<Outbound*> outbound(std::string_view peer, std::string_view operation) {
    // The peer of the last send, as nearly every send in a conversation is: no hashing.
    if (last_ != nullptr && *last_key_ == peer) return last_;
    // A peer linked before has a valid name: found without building a key or checking again.
    if (auto found = outbound_.find(peer); found != outbound_.end()) {
      last_key_ = &found->first;
      last_ = &found->second;
      return last_;
    }
    if (auto valid = check_name("endpoint", peer); !valid) return std::unexpected(valid.error());
    const std::string key(peer);
    auto target = shm::Segment::open(peer, shm::SegmentKind::endpoint);
    if (!target) {
      if (target.error().code() == Errc::not_found)
        return fail(Errc::not_found, context(fmt::format("{}: no endpoint '{}'", operation, key)));
      return std::unexpected(target.error());
    }
    if (auto valid = check_state(*target, context(operation)); !valid)
      return std::unexpected(valid.error());
    EndpointState* peer_state = state_of(*target);
    if (auto locked = lock_state(*peer_state); !locked) return std::unexpected(locked.error());
    std::uint32_t generation = 0;
    auto link = make_link(*peer_state, key, operation, generation);
    peer_state->lock.unlock();
    if (!link) return std::unexpected(link.error());
    peer_state->doorbell.notify_all();
    auto [slot, inserted] = outbound_.emplace(
        key, Outbound{std::move(*target), std::move(*link), generation, sys::now()});
    // Stable while the entry lives: the node and the peer's mapping stay put.
    slot->second.link.impl_->doorbell_ = &state_of(slot->second.peer)->doorbell;
    last_key_ = &slot->first;
    last_ = &slot->second;
    return last_;
  }

  /// Whether `payload` went to `peer` the shortest way: the peer of the last send, as nearly
  /// every send in a conversation is, looked at lately and with room on its link (nothing
  /// looked up, no error path readied). Tried by the callers of send() first, outside it:
  /// send()'s frame costs more than this.
  bool send_to_last(std::string_view peer, std::span<const std::byte> payload) {
    return last_ != nullptr && *last_key_ == peer &&
           now_for_checks() - last_->checked < peer_check_every_ &&
           last_->link.impl_->send_fast(payload, 0);
  }

  /// `large`: hand it off instead of sending `payload` (send_to_last was tried for any other).
  Result<void> send(std::string_view peer, std::span<const std::byte> payload, bool is_try,
                    std::optional<sys::TimePoint> deadline, LargeBuffer* large = nullptr) {
    const std::string_view operation = large != nullptr
                                           ? (is_try ? "try_send_large"sv : "send_large"sv)
                                           : (is_try ? "try_send"sv : "send"sv);
    auto found = outbound(peer, operation);
    if (!found) return std::unexpected(found.error());
    Outbound& out = **found;
    const auto closed = [&] {
      last_ = nullptr;
      last_key_ = nullptr;
      outbound_.erase(outbound_.find(peer));
      return fail(Errc::closed, context(fmt::format("{}: endpoint '{}' is gone", operation, peer)));
    };
    const auto now = now_for_checks();
    if (now - out.checked >= peer_check_every_) {
      if (!out.peer.is_owner_alive() || !out.peer.is_linked()) return closed();
      out.checked = now;
    }
    // The link rings the peer's doorbell itself when a message is news (Mailbox::Impl's
    // doorbell_, set in outbound()). Its ring first, as Mailbox::send does.
    if (large == nullptr && out.link.impl_->send_fast(payload, 0)) [[likely]]
      return {};
    Result<void> sent;
    if (is_try) {
      sent = large != nullptr
                 ? out.link.try_send_large(*large)
                 : out.link.impl_->send(payload, 0, true, std::nullopt, false, nullptr);
    } else {
      // In slices, looking between them whether the peer died. The first slice starts at
      // `now`, read above: a send that finds room reads the clock once.
      for (auto slice_start = now;;) {
        auto slice_end = slice_start + kSlice;
        if (deadline) slice_end = std::min(slice_end, *deadline);
        sent = large != nullptr
                   ? out.link.impl_->send_large(*large, 0, false, slice_end)
                   : out.link.impl_->send(payload, 0, false, slice_end, false, nullptr);
        if (sent || sent.error().code() != Errc::timed_out) break;
        slice_start = sys::now();
        if (deadline && slice_start >= *deadline) break;
        if (!out.peer.is_owner_alive()) return closed();
      }
    }
    if (!sent) {
      if (sent.error().code() == Errc::closed) return closed();
      return sent;
    }
    return {};
  }

  /// The clock that sends measure kPeerCheckInterval on: the coarse one where its tick is
  /// short enough (a send reads it every time, and the precise one would cost a couple of
  /// dozen nanoseconds per message).
  sys::TimePoint now_for_checks() const {
    return is_coarse_clock_fine_ ? sys::coarse_now() : sys::now();
  }

  /// The index of `peer` in inbound_, if it is there: where it was found last, or a look
  /// through all (entries stay put: inbound_ only grows, and names in it are unique).
  std::optional<std::size_t> find_inbound(std::string_view peer) {
    if (last_inbound_ < inbound_.size() && inbound_[last_inbound_].peer == peer)
      return last_inbound_;
    return look_up_inbound(peer);
  }
  std::optional<std::size_t> look_up_inbound(std::string_view peer) {
    if (peer.empty()) return std::nullopt;  // an entry with a bad name reads as empty
    for (std::size_t i = 0; i < inbound_.size(); ++i) {
      if (inbound_[i].peer != peer) continue;
      last_inbound_ = i;
      return i;
    }
    return std::nullopt;
  }

  /// Whether a peer registered since we last looked, or a link is yet to be opened. Every
  /// receive asks: nearly always nobody did and every link is open.
  bool is_inbound_changed() const {
    return std::atomic_ref(state_->registrations).load(std::memory_order_acquire) !=
               registrations_seen_ ||
           unopened_ != 0;
  }
  // Opens the links of peers that registered since we last looked.
  void refresh_inbound() {
    if (is_inbound_changed()) open_inbound();
  }
  void open_inbound() {
    const std::uint32_t registrations =
        std::atomic_ref(state_->registrations).load(std::memory_order_acquire);
    if (registrations != registrations_seen_ && offered_ != 0) take_back_offered();
    registrations_seen_ = registrations;
    // The entries that registrations made visible (its bump releases them).
    const std::uint32_t count =
        std::min(std::atomic_ref(state_->inbound_count).load(std::memory_order_acquire), kMaxPeers);
    for (std::uint32_t i = static_cast<std::uint32_t>(inbound_.size()); i < count; ++i) {
      Inbound& in = inbound_.emplace_back();
      in.peer = peer_name(i);
      in.shared_name = kept_string(in.peer);
    }
    unopened_ = 0;
    for (std::size_t i = 0; i < inbound_.size(); ++i) {
      Inbound& in = inbound_[i];
      if (in.peer.empty()) continue;
      if (const std::uint32_t generation = entry_generation(i); generation != in.generation)
        adopt_generation(in, generation);
      if (!in.is_retired && in.generation != 0 &&
          std::atomic_ref(state_->inbound[i].use).load(std::memory_order_relaxed) == kEntryLeft)
        let_go(in);
      if (in.link || in.is_retired || in.generation == 0) continue;
      if (!open_link(in)) ++unopened_;
    }
  }

  /// Opens the link of `in`'s generation; false while it is not there.
  bool open_link(Inbound& in) {
    auto link = Mailbox::open(link_name_of(name(), in.peer, in.generation),
                              MailboxRole::sender_and_receiver, NameUse::internal);
    if (!link) return false;
    in.link.emplace(std::move(*link));
    is_polled_stale_ = true;
    return true;
  }

  /// The peer of `in` left or is gone: what it sent is read (its link drains, then goes), and
  /// the entry is retired, to be offered for reuse once drained.
  void let_go(Inbound& in) {
    if (!in.link) (void)open_link(in);  // never opened: perhaps it holds messages all the same
    if (in.link) in.draining.push_back(std::move(*in.link));
    in.link.reset();
    in.is_retired = true;
    is_polled_stale_ = true;
  }

  /// The entries receive() polls: those with a link open or draining. Retired ones are left
  /// out, so that an endpoint whose peers came and went does not look at each on every poll.
  void list_polled() {
    is_polled_stale_ = false;
    polled_.clear();
    for (std::size_t i = 0; i < inbound_.size(); ++i)
      if (inbound_[i].link || !inbound_[i].draining.empty()) polled_.push_back(i);
    next_polled_ = polled_.empty() ? 0 : next_polled_ % polled_.size();
  }

  /// Entries offered for reuse that a sender took since: back to their peer (which then has a
  /// newer generation), or over to a new peer, whose Inbound starts afresh.
  void take_back_offered() {
    if (!lock_state(*state_)) return;
    for (std::size_t i = 0; i < inbound_.size(); ++i) {
      Inbound& in = inbound_[i];
      // Taken: in use since, or even left again already.
      if (!in.is_offered || state_->inbound[i].use == kEntryReusable) continue;
      in.is_offered = false;
      --offered_;
      std::string peer = peer_name(static_cast<std::uint32_t>(i));
      if (peer == in.peer) continue;
      in = Inbound();
      is_polled_stale_ = true;
      in.peer = std::move(peer);
      in.shared_name = kept_string(in.peer);
      ++resets_;
    }
    state_->lock.unlock();
  }

  /// Offers entry i for reuse: its peer is gone, and its links were read empty and removed.
  void offer(std::size_t i) {
    Inbound& in = inbound_[i];
    if (in.is_offered || !in.is_retired || !in.draining.empty() || !lock_state(*state_)) return;
    InboundPeer& entry = state_->inbound[i];
    // Not when the peer is back meanwhile: it registered a newer generation (under this lock).
    if ((entry.use == kEntryUsed || entry.use == kEntryLeft) && entry.generation == in.generation) {
      std::atomic_ref(entry.use).store(kEntryReusable, std::memory_order_relaxed);
      in.is_offered = true;
      ++offered_;
    }
    state_->lock.unlock();
  }

  /// The peer's entry names a newer generation: an Endpoint that joined under its name since
  /// (its previous one is gone). What the older generations sent is read first: their links
  /// drain, in order, before the new one is polled.
  void adopt_generation(Inbound& in, std::uint32_t generation) {
    if (in.link) in.draining.push_back(std::move(*in.link));
    in.link.reset();
    // Generations that came and went while this endpoint did not look: the links of theirs
    // that are left, found by listing the namespace (the count alone could be forged).
    if (generation - in.generation > 1) {
      std::vector<std::pair<std::uint32_t, std::string>> older;
      const std::string prefix = link_prefix_of(name(), in.peer);
      for (const auto& file : segment_.space().names().value_or(std::vector<std::string>{})) {
        std::uint32_t number = 0;
        if (!file.starts_with(prefix)) continue;
        const char* digits = file.data() + prefix.size();
        const auto [end, failed] = std::from_chars(digits, file.data() + file.size(), number);
        if (failed == std::errc{} && end == file.data() + file.size() && number > in.generation &&
            number < generation)
          older.emplace_back(number, file);
      }
      std::ranges::sort(older);
      for (const auto& [number, file] : older) {
        auto link = Mailbox::open(file, MailboxRole::sender_and_receiver, NameUse::internal);
        if (link) in.draining.push_back(std::move(*link));
      }
    }
    in.generation = generation;
    in.is_retired = false;
    is_polled_stale_ = true;
  }

  /// The next message of a draining link of `in` into `out` (true), if one is left (else
  /// false); links found empty are removed (their senders are gone: nothing more comes).
  Result<bool> drain(Inbound& in, Message* out) {
    while (!in.draining.empty()) {
      auto received = in.draining.front().impl_->receive_copy(0, true, std::nullopt, out);
      if (received) {
        out->set_sender_name(in.shared_name);
        return true;
      }
      const Errc code = received.error().code();
      if (code != Errc::would_block && code != Errc::closed)
        return std::unexpected(std::move(received.error()));
      drop_draining(in, code == Errc::would_block);
    }
    return false;
  }

  /// Stops draining the oldest draining link of `in`, read empty (removed, when `is_removed`)
  /// or closed.
  void drop_draining(Inbound& in, bool is_removed) {
    if (is_removed) (void)Mailbox::remove(in.draining.front().name(), NameUse::internal);
    in.draining.pop_front();
    is_polled_stale_ = true;
  }

  /// Whether the endpoint of `peer` is gone (a peer that died or left).
  static bool is_gone(std::string_view peer) {
    auto alive_peer = shm::Segment::open(peer, shm::SegmentKind::endpoint);
    return !alive_peer && alive_peer.error().code() == Errc::not_found;
  }

  /// Stops polling the links of peers that are gone and left nothing in them: an endpoint
  /// whose peers come and go would otherwise poll every link it ever had, on every receive.
  /// One link per kRetireInterval, looked at when a receive found nothing: a look opens the
  /// peer's endpoint, and a poller must not stall on many at once.
  void retire_gone_peers() {
    if (inbound_.empty()) return;
    const auto now = sys::coarse_now();
    if (now - last_retire_ < kRetireInterval) return;
    last_retire_ = now;
    // While every entry is in use and none is offered, new peers get limit_reached: look at
    // several links then, so that a server whose peers came and went frees entries sooner.
    const bool is_full =
        std::atomic_ref(state_->inbound_count).load(std::memory_order_relaxed) >= kMaxPeers &&
        offered_ == 0;
    for (int look = 0; look < (is_full ? kRetireLooksWhenFull : 1); ++look) look_for_gone_peer();
  }

  /// One look of retire_gone_peers: the next entry with a link open (retired if its peer is
  /// gone), or retired and not offered yet (offered once its links are empty).
  void look_for_gone_peer() {
    for (std::size_t step = 0; step < inbound_.size(); ++step) {
      retire_cursor_ = (retire_cursor_ + 1) % inbound_.size();
      const Inbound& next = inbound_[retire_cursor_];
      if (next.link || (next.is_retired && !next.is_offered)) break;
    }
    Inbound& in = inbound_[retire_cursor_];
    if (!in.is_retired) {
      // Gone: nothing more can come on this link, which drains as one whose peer said it left.
      // (A new process under the peer's name sends on a link of a newer generation.)
      if (!in.link || !is_gone(in.peer)) return;
      let_go(in);
    }
    // Its links that are left go once empty (a server that only ever receives from other
    // peers never drains them itself); then the entry is offered.
    while (!in.draining.empty() && !in.draining.front().impl_->is_message_ready())
      drop_draining(in, true);
    offer(retire_cursor_);
  }

  std::uint32_t entry_generation(std::size_t i) const {
    return std::atomic_ref(state_->inbound[i].generation).load(std::memory_order_relaxed);
  }

  /// A look at the open link of `in` in the fewest steps, with no Result made: the message of
  /// its ring's head (taken), nothing in it at all (empty, counted as the link's would_block,
  /// as its try_receive would), a forged size (torn: the message was dropped, and the caller
  /// says so), or anything else, for the link's whole receive to decide (none).
  Mailbox::Impl::Fast glance(Inbound& in, Message* out) {
    Mailbox::Impl& link = *in.link->impl_;
    const Mailbox::Impl::Fast seen = link.receive_fast(out);
    if (seen == Mailbox::Impl::Fast::taken) {
      out->set_sender_name(in.shared_name);
    } else if (seen == Mailbox::Impl::Fast::empty) {
      link.count_would_block_receive();
    }
    return seen;
  }
  Error torn(Inbound& in) const { return in.link->impl_->torn("try_receive").error(); }

  /// One look at the links of `in` (draining ones first): true, a message is in `out`; false,
  /// all were empty; or the error (not would_block) a receive on one returned.
  Result<bool> poll(Inbound& in, Message* out) {
    if (!in.draining.empty()) [[unlikely]] {
      if (auto drained = drain(in, out); !drained || *drained) return drained;
    }
    if (!in.link) return false;
    switch (glance(in, out)) {
      case Mailbox::Impl::Fast::taken: return true;
      case Mailbox::Impl::Fast::empty: return false;
      case Mailbox::Impl::Fast::torn: return std::unexpected(torn(in));
      case Mailbox::Impl::Fast::none: break;
    }
    auto received = in.link->impl_->receive(0, true, std::nullopt, out, nullptr);
    if (received) {
      out->set_sender_name(in.shared_name);
      return true;
    }
    if (received.error().code() != Errc::would_block)
      return std::unexpected(std::move(received.error()));
    return false;
  }

  /// Links are polled round robin from next_polled_, so that one busy peer cannot starve the
  /// others: the index in polled_ of the link `step` turns on from there (step < its size),
  /// without a division per poll.
  std::size_t polled_turn(std::size_t step) const {
    const std::size_t turn = next_polled_ + step;
    return turn >= polled_.size() ? turn - polled_.size() : turn;
  }
  /// The link of `turn` gave a message: the next round starts after it.
  void took_at(std::size_t turn) { next_polled_ = turn + 1 == polled_.size() ? 0 : turn + 1; }

  /// One look at every link polled.
  Result<bool> poll_all(Message* out) {
    for (std::size_t step = 0; step < polled_.size(); ++step) {
      const std::size_t turn = polled_turn(step);
      auto got = poll(inbound_[polled_[turn]], out);
      if (got && *got) took_at(turn);
      if (!got || *got) return got;
    }
    return false;
  }

  /// Into `out` (a Message made in place in the caller's result: see received()).
  Result<void> receive(std::optional<std::string_view> peer, bool is_try,
                       std::optional<sys::TimePoint> deadline, Message* out) {
    // While nothing changed, a first look before anything a wait needs is readied (nearly
    // every receive of a busy endpoint finds its message here).
    if (!is_inbound_changed() && !is_polled_stale_) [[likely]] {
      if (!peer) return receive_any(is_try, deadline, out);
      const auto known = find_inbound(*peer);
      if (!known) return receive_waiting(peer, is_try, deadline, out, false);
      Result<bool> got = poll(inbound_[*known], out);
      if (!got) return std::unexpected(std::move(got.error()));
      if (*got) return {};
      return receive_waiting(peer, is_try, deadline, out, true);
    }
    return receive_waiting(peer, is_try, deadline, out, false);
  }

  /// receive()'s first look for a message from anyone: every link polled, round robin as
  /// poll_all, as glances while every link is open and no older generation drains.
  Result<void> receive_any(bool is_try, std::optional<sys::TimePoint> deadline, Message* out) {
    for (std::size_t step = 0; step < polled_.size(); ++step) {
      const std::size_t turn = polled_turn(step);
      Inbound& in = inbound_[polled_[turn]];
      if (!in.draining.empty() || !in.link) [[unlikely]]
        return receive_waiting(std::nullopt, is_try, deadline, out, false);
      switch (glance(in, out)) {
        case Mailbox::Impl::Fast::taken: took_at(turn); return {};
        case Mailbox::Impl::Fast::empty: continue;
        case Mailbox::Impl::Fast::torn: return std::unexpected(torn(in));
        case Mailbox::Impl::Fast::none:
          return receive_waiting(std::nullopt, is_try, deadline, out, false);
      }
    }
    // A poller's empty try_receive: nothing more to look at unless retiring changed the list.
    if (is_try) {
      retire_gone_peers();
      if (!is_inbound_changed() && !is_polled_stale_) return std::unexpected(no_message_);
    }
    return receive_waiting(std::nullopt, is_try, deadline, out, true);
  }

  /// receive() after its first look; `is_polled`: every link polled was just looked at.
  [[gnu::noinline]] Result<void> receive_waiting(std::optional<std::string_view> peer, bool is_try,
                                                 std::optional<sys::TimePoint> deadline,
                                                 Message* out, bool is_polled) {
    const std::string_view operation = peer ? (is_try ? "try_receive_from"sv : "receive_from"sv)
                                            : (is_try ? "try_receive"sv : "receive"sv);
    // The peer's entry in inbound_, looked up once per call (and again only while it has
    // none). A peer listed there has a valid name (peer_name checked it): not checked again.
    std::optional<std::size_t> known;
    std::uint64_t resets = resets_;
    if (peer) {
      known = find_inbound(*peer);
      if (!known) {
        if (auto valid = check_name("endpoint", *peer); !valid)
          return std::unexpected(valid.error());
      }
    }
    // Links with a ready ring ring the doorbell only for a sleeper that flagged itself (the
    // second protocol of sync/wait.hpp): a receiver flags itself, looks once more, then sleeps.
    bool is_flagged = false;
    bool is_unfenced = false;   // the membarrier failed: sleep briefly (sync::kUnfencedSleep)
    bool is_peer_gone = false;  // receive_from: its peer was found gone after an empty look
    std::uint32_t observed = 0;
    for (;;) {
      // A try_ call never waits: not reading the doorbell spares it a cache miss per call
      // (the line then stays with the senders that ring it).
      if (!is_try && !is_flagged) observed = state_->doorbell.value();
      const auto unflag = [&] {
        if (is_flagged) state_->doorbell.unflag_sleeper();
        is_flagged = false;
      };
      // Looked at just now, with nothing changed since: not again (a poller's empty
      // try_receive looks once).
      is_polled = is_polled && !is_inbound_changed() && !is_polled_stale_;
      refresh_inbound();
      if (peer && resets != resets_) {  // an entry went over to another peer: perhaps ours
        known = look_up_inbound(*peer);
        resets = resets_;
      }
      if (peer && !known) known = find_inbound(*peer);
      if (is_polled_stale_) [[unlikely]]
        list_polled();
      // receive_from looks at its peer's links only (none while the peer has no entry);
      // receive at every link polled.
      Result<bool> got = false;
      if (is_polled) {
        is_polled = false;
      } else if (!peer) {
        got = poll_all(out);
      } else if (known) {
        got = poll(inbound_[*known], out);
      }
      if (!got || *got) {
        unflag();
        if (!got) return std::unexpected(std::move(got.error()));
        return {};
      }
      // receive_from too: a server that only ever names its peers reuses entries all the same.
      retire_gone_peers();
      const auto linked = peer && known && (inbound_[*known].link || inbound_[*known].is_retired)
                              ? inbound_.begin() + *known
                              : inbound_.end();
      if (linked != inbound_.end()) {
        // Nothing left from a peer that linked to us: if it is gone, nothing more will come.
        // (A peer that never linked may still join: receive_from waits for it.) Looked at once
        // per kPeerCheckInterval, as sends do: an open() per empty poll would cost a poller
        // more than the poll. Found gone: one look more (for what it sent between the look
        // above and its end), then closed.
        const auto now = sys::now();
        if (is_peer_gone) {
          unflag();
          return fail(Errc::closed,
                      context(fmt::format("{}: endpoint '{}' is gone", operation, *peer)));
        }
        if (now - linked->checked >= kPeerCheckInterval) {
          if (is_gone(linked->peer)) {
            is_peer_gone = true;
            continue;
          }
          linked->checked = now;
        }
      }
      if (is_try) return std::unexpected(peer ? no_message_from_ : no_message_);
      auto slice_end = sys::now() + kSlice;
      if (deadline) {
        if (sys::now() >= *deadline) {
          unflag();
          return fail(Errc::timed_out, context(fmt::format("{}: timed out", operation)));
        }
        slice_end = std::min(slice_end, *deadline);
      }
      if (!is_flagged) {
        // Flag, then look once more before sleeping; with the fencing of the links' rings
        // (symmetric: see Mailbox::Impl::plan).
        const auto fencing = sync::WakeFencing::symmetric;
        // Marked (SleepMark::bump, sync/wait.hpp): a link's ring wakes a marked sleeper once
        // per sleep, not once per message while it sits in its membarrier.
        observed = state_->doorbell.word.fetch_add(1, std::memory_order_seq_cst) + 1;
        is_flagged = true;
        if (!state_->doorbell.flag_sleeper(fencing)) is_unfenced = true;
        continue;
      }
      if (is_unfenced) slice_end = std::min(slice_end, sys::now() + sync::kUnfencedSleep);
      // A zero-capacity link's try_send succeeds only while a receiver waits, and the link's
      // mailbox counts only waiters of its own: count this one on every link it waits for.
      const auto count_waiting = [&](int delta) {
        for (auto& in : inbound_) {
          if (!in.link || (peer && in.peer != *peer) || !in.link->impl_->is_rendezvous_) continue;
          in.link->impl_->state_->waiting_receivers.fetch_add(static_cast<std::uint32_t>(delta));
        }
      };
      count_waiting(1);
      (void)state_->doorbell.sleep_flagged(observed, slice_end);
      count_waiting(-1);
      unflag();
      is_unfenced = false;
    }
  }

  shm::Segment segment_;
  EndpointState* state_;
  EndpointOptions options_;
  /// Looks up a std::string key by std::string_view: no key is built per send.
  struct NameHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view name) const noexcept {
      return std::hash<std::string_view>{}(name);
    }
  };
  std::unordered_map<std::string, Outbound, NameHash, std::equal_to<>> outbound_;
  // The last peer sent to (elements of outbound_ stay put until erased); null: none.
  const std::string* last_key_ = nullptr;
  Outbound* last_ = nullptr;
  std::vector<Inbound> inbound_;
  std::size_t unopened_ = 0;  // entries of inbound_ with a valid name whose link is not open yet
  std::vector<std::size_t> polled_;  // the entries receive() polls (list_polled)
  bool is_polled_stale_ = false;     // a link opened, moved, drained or retired since it was listed
  std::size_t next_polled_ = 0;      // where in polled_ receive() starts, round robin
  std::uint32_t registrations_seen_ = 0;  // EndpointState::registrations, at the last look
  sys::TimePoint last_retire_{};          // when retire_gone_peers last looked (coarse)
  std::size_t retire_cursor_ = 0;         // the entry it looked at last
  std::size_t last_inbound_ = SIZE_MAX;   // where find_inbound found its peer last (a valid name)
  std::size_t offered_ = 0;               // entries of inbound_ offered for reuse
  std::uint64_t resets_ = 0;              // entries of inbound_ gone over to another peer
  // Sends look at their peer every kPeerCheckInterval: measured on coarse_now() (less its
  // lag, so that the promise holds) when its tick is at most half of that (a 250 Hz kernel's
  // 4 ms tick: a look every 6 ms of the coarse clock).
  bool is_coarse_clock_fine_ = sys::coarse_resolution() <= kPeerCheckInterval / 2;
  sys::Clock::duration peer_check_every_ =
      is_coarse_clock_fine_ ? std::chrono::duration_cast<sys::Clock::duration>(
                                  kPeerCheckInterval - sys::coarse_resolution())
                            : std::chrono::duration_cast<sys::Clock::duration>(kPeerCheckInterval);
  // The errors polling returns, built once: returning one copies a pointer, no formatting.
  Error no_message_;       // try_receive: nothing from anyone
  Error no_message_from_;  // try_receive_from: nothing from that peer
};

Endpoint::Endpoint(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Endpoint::Endpoint(Endpoint&&) noexcept = default;
Endpoint& Endpoint::operator=(Endpoint&&) noexcept = default;
Endpoint::~Endpoint() = default;

Result<Endpoint> Endpoint::join(std::string_view name, EndpointOptions options) {
  shm::SegmentSpec spec;
  spec.kind = shm::SegmentKind::endpoint;
  spec.payload_size = sizeof(EndpointState);
  spec.lifetime = Lifetime::process;
  spec.mode = options.mode;
  auto segment = shm::Segment::create(name, spec, [](std::span<std::byte> payload) -> Result<void> {
    auto* state = ::new (static_cast<void*>(payload.data())) EndpointState();
    state->magic = kEndpointMagic;
    state->layout_version = kEndpointLayoutVersion;
    return {};
  });
  if (!segment) return std::unexpected(segment.error());
  return Endpoint(std::make_unique<Impl>(std::move(*segment), options));
}

Result<void> Endpoint::send(std::string_view peer, std::span<const std::byte> payload) {
  if (impl_->send_to_last(peer, payload)) [[likely]]
    return {};
  return impl_->send(peer, payload, false, std::nullopt);
}
Result<void> Endpoint::send_large(std::string_view peer, LargeBuffer& message) {
  return impl_->send(peer, {}, false, std::nullopt, &message);
}
Result<void> Endpoint::send_large(std::string_view peer, std::span<const std::byte> payload) {
  auto large = LargeBuffer::copy_of(payload);
  if (!large) return std::unexpected(large.error());
  return send_large(peer, *large);
}
Result<void> Endpoint::try_send(std::string_view peer, std::span<const std::byte> payload) {
  if (impl_->send_to_last(peer, payload)) [[likely]]
    return {};
  return impl_->send(peer, payload, true, std::nullopt);
}
Result<void> Endpoint::send_for(std::string_view peer, std::span<const std::byte> payload,
                                std::chrono::nanoseconds timeout) {
  if (impl_->send_to_last(peer, payload)) [[likely]]
    return {};
  return impl_->send(peer, payload, false, sys::deadline_after(timeout));
}
Result<Message> Endpoint::receive_from(std::string_view peer) {
  return received([&](Message* out) { return impl_->receive(peer, false, std::nullopt, out); });
}
Result<Message> Endpoint::try_receive_from(std::string_view peer) {
  return received([&](Message* out) { return impl_->receive(peer, true, std::nullopt, out); });
}
Result<Message> Endpoint::receive_from_for(std::string_view peer,
                                           std::chrono::nanoseconds timeout) {
  const auto deadline = sys::deadline_after(timeout);
  return received([&](Message* out) { return impl_->receive(peer, false, deadline, out); });
}
Result<Message> Endpoint::receive() {
  return received(
      [&](Message* out) { return impl_->receive(std::nullopt, false, std::nullopt, out); });
}
Result<Message> Endpoint::try_receive() {
  return received(
      [&](Message* out) { return impl_->receive(std::nullopt, true, std::nullopt, out); });
}
Result<Message> Endpoint::receive_for(std::chrono::nanoseconds timeout) {
  const auto deadline = sys::deadline_after(timeout);
  return received([&](Message* out) { return impl_->receive(std::nullopt, false, deadline, out); });
}
const std::string& Endpoint::name() const noexcept { return impl_->name(); }

}  // namespace conduit
