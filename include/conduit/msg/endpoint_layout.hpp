// The bytes of an endpoint in shared memory (the payload of a Segment of kind `endpoint`,
// Lifetime::process: it dies with the process that joined).
//
//   offset  what
//   ------  --------------------------------------------------------------------------------
//        0  EndpointState::magic, version, owner
//       64  lock: guards `inbound`
//      128  doorbell: bumped by a sender whose message made a link to this endpoint non-empty
//      192  inbound: the names of the endpoints that have a link to this one
//
// A link from endpoint A to endpoint B is the pair mailbox "B#A#g" (see NameUse::internal),
// g being A's generation in B's `inbound` (1, 2, ...: one per Endpoint object that joined
// under A's name and sent to B). Made by A on its first send to B, under B's `lock`, registered
// in B's `inbound`, and removed with B. A pair takes no third process: a new process under A's
// name needs a link of its own, and B drains the older generations' links first. Where the
// two names are too long for such a link name to be a file name (kMaxInternalNameLength), the
// link is "B#D#long#g", D being the FNV-1a 64 digest of A's name in 16 hex digits.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "conduit/core/name.hpp"
#include "conduit/shm/segment_layout.hpp"
#include "conduit/sync/mutex.hpp"
#include "conduit/sync/wait.hpp"

namespace conduit::msg {

inline constexpr std::uint64_t kEndpointMagic = 0x31'54'4e'49'4f'50'44'45ULL;  // "EDPOINT1"
// 2: Mutex without pointers; 3: registrations; 4: generations; 5: kEntryLeft
inline constexpr std::uint32_t kEndpointLayoutVersion = 5;
inline constexpr std::uint32_t kMaxPeers = 256;

// What an inbound entry is: written under EndpointState::lock. An entry of a peer that is
// gone, whose links the receiver read empty and removed, is offered for reuse: a sender under
// that name takes it back (a new generation), and once all kMaxPeers entries were used, a
// sender under a new name takes it over (generation 1). A peer that leaves marks its entry
// kEntryLeft (when it still names its generation) and bumps `registrations`: the receiver then
// reads its link empty and removes it at once, instead of polling it until it finds the peer
// gone (a peer that dies marks nothing, and is found so).
enum EntryUse : std::uint8_t { kEntryFree = 0, kEntryUsed = 1, kEntryReusable = 2, kEntryLeft = 3 };

struct InboundPeer {
  char name[kMaxNameLength + 1];  // NUL-terminated; checked with is_valid_name before use
  std::uint8_t use;               // an EntryUse
  std::uint8_t reserved[2];
  // The generation of this peer's newest link (0: none yet). Set, under `lock`, once its link
  // exists; read by the receiver without the lock after EndpointState::registrations.
  std::uint32_t generation;
};
static_assert(offsetof(InboundPeer, generation) == 204);
static_assert(sizeof(InboundPeer) == 208);

struct alignas(shm::kCacheLine) EndpointState {
  std::uint64_t magic;
  std::uint32_t layout_version;
  std::uint32_t inbound_count;  // used entries are [0, inbound_count)
  // Bumped (under `lock`) by every sender that makes its link to this endpoint, after setting
  // its entry's generation, and by one that leaves: the receiver then looks at its entries
  // again (a new entry, a peer back under its name with a new link, or one that left).
  std::uint32_t registrations;
  alignas(shm::kCacheLine) Mutex lock;
  alignas(shm::kCacheLine) sync::WaitWord doorbell;
  alignas(shm::kCacheLine) InboundPeer inbound[kMaxPeers];
};
static_assert(std::is_standard_layout_v<EndpointState>);
static_assert(offsetof(EndpointState, lock) == 64);
static_assert(offsetof(EndpointState, doorbell) == 128);
static_assert(offsetof(EndpointState, inbound) == 192);

}  // namespace conduit::msg
