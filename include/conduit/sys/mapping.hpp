// An owned memory mapping: unmapped exactly once, when the owner goes away. Move-only.
#pragma once

#include <cstddef>
#include <span>
#include <utility>

#include "conduit/sys/syscall.hpp"

namespace conduit::sys {

class Mapping {
 public:
  Mapping() = default;
  Mapping(Mapping&& other) noexcept
      : address_(std::exchange(other.address_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  Mapping& operator=(Mapping&& other) noexcept;
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping() { reset(); }

  /// Maps `size` bytes of `fd` from `offset` read-write and shared (MAP_SHARED), so that
  /// every process mapping the same file sees the same bytes.
  [[nodiscard]] static SysResult<Mapping> shared(int fd, std::size_t size, std::size_t offset = 0);
  /// Maps `size` bytes of `fd` copy-on-write (MAP_PRIVATE) and read-write.
  [[nodiscard]] static SysResult<Mapping> copy_on_write(int fd, std::size_t size,
                                                        std::size_t offset = 0);

  [[nodiscard]] std::byte* data() const noexcept { return static_cast<std::byte*>(address_); }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] std::span<std::byte> bytes() const noexcept { return {data(), size_}; }
  [[nodiscard]] bool is_mapped() const noexcept { return address_ != nullptr; }
  void reset() noexcept;

 private:
  Mapping(void* address, std::size_t size) noexcept : address_(address), size_(size) {}
  static SysResult<Mapping> map(int fd, std::size_t size, std::size_t offset, int flags);

  void* address_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace conduit::sys
