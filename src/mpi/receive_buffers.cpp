#include "receive_buffers.hpp"

namespace conduit::mpi {

std::shared_ptr<ReceiveBuffers::Buffer> ReceiveBuffers::make(std::shared_ptr<Buffer>& entry) {
  entry = std::make_shared<Buffer>();
  entry->bytes = std::make_unique_for_overwrite<std::byte[]>(kFirstPart);
  return entry;
}

std::byte* ReceiveBuffers::scratch() {
  if (scratch_ == nullptr) scratch_ = std::make_unique_for_overwrite<std::byte[]>(kFirstPart);
  return scratch_.get();
}

}  // namespace conduit::mpi
