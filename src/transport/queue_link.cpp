#include "queue_link.hpp"

#include <atomic>

namespace conduit::transport {

std::uint64_t next_serial() noexcept {
  static std::atomic<std::uint64_t> serial{0};
  return serial.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace conduit::transport
