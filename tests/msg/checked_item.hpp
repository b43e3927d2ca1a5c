// An item that says whether it arrived whole, for channel tests: a record torn by a dying
// producer, or mixed from two records, fails check(). 64 bytes, so copying it is several stores.
#pragma once

#include <cstdint>

namespace conduit::test {

struct CheckedItem {
  std::uint32_t source;
  std::uint32_t spare;
  std::uint64_t sequence;
  std::uint64_t filler[5];
  std::uint64_t checksum;

  static CheckedItem make(std::uint32_t source, std::uint64_t sequence) {
    CheckedItem item{};
    item.source = source;
    item.sequence = sequence;
    for (std::uint64_t k = 0; k < 5; ++k)
      item.filler[k] = (sequence + 1) * 0x9e3779b97f4a7c15ULL ^ (k + source);
    item.checksum = item.sum();
    return item;
  }
  [[nodiscard]] std::uint64_t sum() const {
    std::uint64_t h = 0xcbf29ce484222325ULL ^ source;
    h = (h ^ sequence) * 0x100000001b3ULL;
    for (auto word : filler) h = (h ^ word) * 0x100000001b3ULL;
    return h;
  }
  [[nodiscard]] bool check() const { return checksum == sum(); }
};
static_assert(sizeof(CheckedItem) == 64);

}  // namespace conduit::test
