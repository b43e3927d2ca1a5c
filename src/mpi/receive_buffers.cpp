#include "receive_buffers.hpp"

#include <atomic>

namespace conduit::mpi {

std::shared_ptr<ReceiveBuffers::Buffer> ReceiveBuffers::take() {
  for (auto& entry : buffers_) {
    if (entry == nullptr) {
      entry = std::make_shared<Buffer>();
      entry->bytes = std::make_unique_for_overwrite<std::byte[]>(kFirstPart);
      return entry;
    }
    // use_count() is a relaxed load: the acquire fence makes the last holder's release (its
    // reference count decrement is acq_rel) happen before we overwrite the bytes it read.
    if (entry.use_count() == 1) {
      std::atomic_thread_fence(std::memory_order_acquire);
      return entry;
    }
  }
  return nullptr;
}

std::byte* ReceiveBuffers::scratch() {
  if (scratch_ == nullptr) scratch_ = std::make_unique_for_overwrite<std::byte[]>(kFirstPart);
  return scratch_.get();
}

}  // namespace conduit::mpi
