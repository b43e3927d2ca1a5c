// Numbered messages for mailbox tests: message i carries its number and bytes that depend on
// it, so that a copy of the wrong slot or cell, or of a half-written one, shows.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "conduit/msg/message.hpp"

namespace conduit::test {

inline constexpr std::size_t kNumberedSize = 48;

inline std::array<std::byte, kNumberedSize> numbered(std::uint64_t i) {
  std::array<std::byte, kNumberedSize> bytes{};
  std::memcpy(bytes.data(), &i, sizeof i);
  for (std::size_t j = sizeof i; j < kNumberedSize; ++j)
    bytes[j] = static_cast<std::byte>((i * 7 + j) & 0xff);
  return bytes;
}

/// The number in `message`, or ~0 when its bytes are not exactly numbered(number).
inline std::uint64_t number_of(const Message& message) {
  std::uint64_t i = ~std::uint64_t{0};
  if (message.size() != kNumberedSize) return i;
  std::memcpy(&i, message.payload().data(), sizeof i);
  const auto expected = numbered(i);
  if (!std::ranges::equal(message.payload(), expected)) return ~std::uint64_t{0};
  return i;
}

}  // namespace conduit::test
