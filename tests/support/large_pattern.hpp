// For tests of large messages: a pattern whose every word says where it is (so a misplaced or
// lost page shows), and this process's anonymous memory (what a copy costs).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <span>
#include <string>

namespace conduit::test {

inline std::uint64_t word_at(std::size_t offset, std::uint64_t seed) {
  return offset * 0x9e37 + seed;
}

inline void fill(std::span<std::byte> bytes, std::uint64_t seed) {
  for (std::size_t offset = 0; offset + 8 <= bytes.size(); offset += 8) {
    const std::uint64_t word = word_at(offset, seed);
    std::memcpy(bytes.data() + offset, &word, 8);
  }
}

/// Words (8 bytes) that are not what fill() wrote, counted over every word; `bytes` starts at
/// byte `base` of the message.
inline std::size_t count_wrong(std::span<const std::byte> bytes, std::uint64_t seed,
                               std::size_t base = 0) {
  std::size_t wrong = 0;
  for (std::size_t offset = 0; offset + 8 <= bytes.size(); offset += 8) {
    std::uint64_t word = 0;
    std::memcpy(&word, bytes.data() + offset, 8);
    wrong += word != word_at(base + offset, seed) ? 1 : 0;
  }
  return wrong;
}

/// A "Key: <n> kB" line of a /proc file, in bytes (0 when absent).
inline std::size_t proc_kib_field(const char* file, const std::string& wanted) {
  std::ifstream in(file);
  std::string key;
  std::size_t kib = 0;
  while (in >> key) {
    if (key == wanted) {
      in >> kib;
      return kib * 1024;
    }
    in.ignore(1 << 12, '\n');
  }
  return 0;
}

/// This process's anonymous memory: private pages, which is what a copy costs.
inline std::size_t anonymous_bytes() {
  return proc_kib_field("/proc/self/smaps_rollup", "Anonymous:");
}

}  // namespace conduit::test
