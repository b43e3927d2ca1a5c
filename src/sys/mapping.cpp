#include "conduit/sys/mapping.hpp"

#include <sys/mman.h>

namespace conduit::sys {

Mapping& Mapping::operator=(Mapping&& other) noexcept {
  if (this != &other) {
    reset();
    address_ = std::exchange(other.address_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

SysResult<Mapping> Mapping::map(int fd, std::size_t size, std::size_t offset, int flags) {
  if (size == 0) return std::unexpected(SysError{EINVAL, "mmap"});
  void* address =
      ::mmap(nullptr, size, PROT_READ | PROT_WRITE, flags, fd, static_cast<off_t>(offset));
  if (address == MAP_FAILED) return std::unexpected(SysError{errno, "mmap"});
  return Mapping(address, size);
}

SysResult<Mapping> Mapping::shared(int fd, std::size_t size, std::size_t offset) {
  return map(fd, size, offset, MAP_SHARED);
}

SysResult<Mapping> Mapping::copy_on_write(int fd, std::size_t size, std::size_t offset) {
  return map(fd, size, offset, MAP_PRIVATE);
}

void Mapping::reset() noexcept {
  if (address_ != nullptr) ::munmap(address_, size_);
  address_ = nullptr;
  size_ = 0;
}

}  // namespace conduit::sys
