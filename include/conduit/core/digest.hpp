// FNV-1a 64: a digest that is the same in every process and every build, for bytes that are
// laid down in shared memory or in names (a checksum, a long name made short). Not for
// anything an adversary must not be able to collide.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace conduit {

inline constexpr std::uint64_t kFnvOffset = 0xcbf29ce484222325ULL;

/// The FNV-1a 64 digest of `bytes`, continuing from `hash` (kFnvOffset to start).
[[nodiscard]] constexpr std::uint64_t fnv1a_64(std::span<const unsigned char> bytes,
                                               std::uint64_t hash = kFnvOffset) noexcept {
  for (const unsigned char byte : bytes) {
    hash ^= byte;
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

[[nodiscard]] inline std::uint64_t fnv1a_64(std::string_view text) noexcept {
  return fnv1a_64({reinterpret_cast<const unsigned char*>(text.data()), text.size()});
}

}  // namespace conduit
