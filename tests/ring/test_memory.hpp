// Zeroed, page-aligned memory standing in for a segment's payload in ring tests.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <span>

namespace conduit::ring::test {

struct Memory {
  explicit Memory(std::size_t size)
      : bytes(static_cast<std::byte*>(std::aligned_alloc(4096, (size + 4095) / 4096 * 4096))),
        size(size) {
    std::memset(bytes, 0, size);
  }
  Memory(const Memory&) = delete;
  Memory& operator=(const Memory&) = delete;
  ~Memory() { std::free(bytes); }
  [[nodiscard]] std::span<std::byte> span() const { return {bytes, size}; }
  std::byte* bytes;
  std::size_t size;
};

}  // namespace conduit::ring::test
