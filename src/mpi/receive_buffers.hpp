// ReceiveBuffers: where a World's receives land, private to mpi/. A blocking receive posts one
// MPI_Recv of kFirstPart bytes straight into one of these buffers, and the Message it returns
// keeps that buffer alive; once no Message holds it, the buffer is reused. A receiver that
// drops each message before the next receive allocates nothing per message.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <memory>

namespace conduit::mpi {

/// The size of a receive buffer, and so World's wire protocol: a message shorter than this
/// travels as one MPI message; one of this size or more as two, with the same tag: its first
/// kFirstPart bytes, then the rest, which starts again at the first part's last byte. A
/// receiver that gets exactly kFirstPart bytes knows that the rest follows (MPI's
/// non-overtaking rule makes it the next message from that rank with that tag). The repeated
/// byte keeps every rest at least one byte long, so an empty message in the rest's place is
/// free to mean "the rest could not be sent: the message is lost", which the receiver turns into
/// an error instead of waiting for a rest that never comes, or taking the sender's next message
/// for it. 64 KiB is Open MPI's eager limit over TCP.
inline constexpr std::size_t kFirstPart = std::size_t{64} << 10;

/// Pooled buffers of kFirstPart bytes. Used by one thread at a time (the World's); the Messages
/// holding its buffers may be copied to and dropped on any thread.
class ReceiveBuffers {
 public:
  struct Buffer {
    std::unique_ptr<std::byte[]> bytes;
  };
  static constexpr std::size_t kBuffers = 8;

  /// A buffer of kFirstPart bytes that no Message holds; nullptr when Messages hold all
  /// kBuffers of them (the caller then lands in scratch() and copies: a receiver that keeps
  /// many messages keeps them at their own size, not at kFirstPart each).
  [[nodiscard]] std::shared_ptr<Buffer> take() {
    for (auto& entry : buffers_) {
      if (entry == nullptr) return make(entry);
      // use_count() is a relaxed load: the acquire fence makes the last holder's release (its
      // reference count decrement is acq_rel) happen before we overwrite the bytes it read.
      if (entry.use_count() == 1) {
        std::atomic_thread_fence(std::memory_order_acquire);
        return entry;
      }
    }
    return nullptr;
  }
  /// kFirstPart bytes that no Message ever holds.
  [[nodiscard]] std::byte* scratch();

 private:
  std::shared_ptr<Buffer> make(std::shared_ptr<Buffer>& entry);

  std::array<std::shared_ptr<Buffer>, kBuffers> buffers_;
  std::unique_ptr<std::byte[]> scratch_;
};

}  // namespace conduit::mpi
