// World's receives. A blocking receive is one MPI_Recv of kFirstPart bytes into a pooled buffer,
// as a raw MPI program's receive (no probe, no allocation while the receiver drops its
// Messages); a message of exactly kFirstPart bytes is the first part of a longer one, whose rest
// follows (receive_buffers.hpp).
#include <fmt/format.h>

#include <cstring>
#include <utility>

#include "world_impl.hpp"

namespace conduit::mpi {

using namespace std::chrono_literals;

// Where a receive lands: a pooled buffer that the Message will hold, or (when Messages hold
// them all) the scratch buffer, copied out.
struct World::Impl::Landing {
  std::shared_ptr<ReceiveBuffers::Buffer> buffer;
  std::byte* bytes;
};

Result<Message> World::Impl::receive(std::optional<int> from, std::int64_t type,
                                     std::optional<std::chrono::nanoseconds> timeout) {
  const int source = from ? *from : MPI_ANY_SOURCE;
  const Operation what =
      !from ? Operation{timeout ? (*timeout == 0ns ? "try_receive" : "receive_for") : "receive"}
            : Operation{timeout ? (*timeout == 0ns ? "try_receive_from" : "receive_from_for")
                                : "receive_from",
                        "from", source};
  if (!is_receivable(from, type)) [[unlikely]]
    return not_receivable(from, type, what);
  const int tag = type == 0 ? MPI_ANY_TAG : static_cast<int>(type);
  if (!pending_.empty()) reap_pending();
  if (!timeout) [[likely]]
    return receive_blocking(source, tag, what);

  MPI_Message matched = MPI_MESSAGE_NULL;
  MPI_Status status{};
  const auto deadline = std::chrono::steady_clock::now() + *timeout;
  Backoff backoff;
  for (;;) {
    int found = 0;
    if (const int code = MPI_Improbe(source, tag, comm_, &found, &matched, &status);
        code != MPI_SUCCESS)
      return mpi_error(code, what);
    if (found != 0) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      if (*timeout == 0ns)
        return fail(Errc::would_block,
                    fmt::format("mpi rank {}: {}: no message", rank_, what.text()));
      return fail(Errc::timed_out, fmt::format("mpi rank {}: {}: timed out", rank_, what.text()));
    }
    backoff.pause();
  }
  return receive_matched(matched, status, what);
}

[[gnu::always_inline]] inline World::Impl::Landing World::Impl::land() {
  auto buffer = buffers_.take();
  std::byte* bytes = buffer != nullptr ? buffer->bytes.get() : buffers_.scratch();
  return {std::move(buffer), bytes};
}

// The blocking receives. Only Worlds send on the Worlds' communicator, so no message is longer
// than kFirstPart bytes.
[[gnu::always_inline]] inline Result<Message> World::Impl::receive_blocking(int source, int tag,
                                                                            const Operation& what) {
  Landing landing = land();
  MPI_Status status{};
  if (const int code =
          MPI_Recv(landing.bytes, kFirstPartCount, MPI_BYTE, source, tag, comm_, &status);
      code != MPI_SUCCESS)
    return mpi_error(code, what);
  int count = 0;
  if (const int code = MPI_Get_count(&status, MPI_BYTE, &count); code != MPI_SUCCESS)
    return mpi_error(code, what);
  return received(landing, count, status, what);
}

// The timed receives: a message MPI_Improbe found, received as matched (its size is known, so
// even a longer message than a World sends would arrive whole).
Result<Message> World::Impl::receive_matched(MPI_Message& matched, const MPI_Status& status,
                                             const Operation& what) {
  int count = 0;
  if (const int code = MPI_Get_count(&status, MPI_BYTE, &count); code != MPI_SUCCESS)
    return mpi_error(code, what);
  if (count > kFirstPartCount) {
    auto bytes = std::make_shared_for_overwrite<std::byte[]>(static_cast<std::size_t>(count));
    if (const int code = MPI_Mrecv(bytes.get(), count, MPI_BYTE, &matched, MPI_STATUS_IGNORE);
        code != MPI_SUCCESS)
      return mpi_error(code, what);
    const std::span<const std::byte> payload(bytes.get(), static_cast<std::size_t>(count));
    return message_of(payload, std::move(bytes), status);
  }
  Landing landing = land();
  if (const int code = MPI_Mrecv(landing.bytes, count, MPI_BYTE, &matched, MPI_STATUS_IGNORE);
      code != MPI_SUCCESS)
    return mpi_error(code, what);
  return received(landing, count, status, what);
}

// A message shorter than kFirstPart is whole; one of exactly kFirstPart bytes is the first part
// of a longer one.
[[gnu::always_inline]] inline Result<Message> World::Impl::received(Landing& landing, int count,
                                                                    const MPI_Status& status,
                                                                    const Operation& what) {
  const auto size = static_cast<std::size_t>(std::max(count, 0));
  if (size == kFirstPart) return receive_rest(landing.bytes, status, what);
  const std::span<const std::byte> payload(landing.bytes, size);
  if (landing.buffer == nullptr) {
    auto copy = std::make_shared_for_overwrite<std::byte[]>(std::max<std::size_t>(size, 1));
    std::memcpy(copy.get(), payload.data(), size);
    const std::span<const std::byte> copied(copy.get(), size);  // before copy is moved from
    return message_of(copied, std::move(copy), status);
  }
  return message_of(payload, std::move(landing.buffer), status);
}

// The rest of a two-part message: the next message from the same rank with the same tag (MPI's
// non-overtaking rule), so nothing can come between. Its first part has arrived, so the rest (or
// the empty message that says it could not be sent) is in flight and is waited for even by the
// timed forms.
Result<Message> World::Impl::receive_rest(const std::byte* first, const MPI_Status& first_status,
                                          const Operation& what) {
  MPI_Message matched = MPI_MESSAGE_NULL;
  MPI_Status status{};
  if (const int code =
          MPI_Mprobe(first_status.MPI_SOURCE, first_status.MPI_TAG, comm_, &matched, &status);
      code != MPI_SUCCESS)
    return mpi_error(code, what);
  int rest = 0;
  if (const int code = MPI_Get_count(&status, MPI_BYTE, &rest); code != MPI_SUCCESS)
    return mpi_error(code, what);
  if (rest <= 0) [[unlikely]]
    return rest_lost(matched, first_status, what);
  // The rest starts again at the first part's last byte, which it overwrites with its own copy.
  const std::size_t size = kRestStart + static_cast<std::size_t>(rest);
  auto bytes = std::make_shared_for_overwrite<std::byte[]>(size);
  std::memcpy(bytes.get(), first, kFirstPart);
  if (const int code =
          MPI_Mrecv(bytes.get() + kRestStart, rest, MPI_BYTE, &matched, MPI_STATUS_IGNORE);
      code != MPI_SUCCESS)
    return mpi_error(code, what);
  const std::span<const std::byte> payload(bytes.get(), size);  // before bytes is moved from
  return message_of(payload, std::move(bytes), first_status);
}

// The empty message in a rest's place: the sender's send of the rest failed (and its call said
// so). It is taken, so that the sender's next message of that type arrives as itself.
Result<Message> World::Impl::rest_lost(MPI_Message& matched, const MPI_Status& first_status,
                                       const Operation& what) {
  static std::byte none{};
  if (const int code = MPI_Mrecv(&none, 0, MPI_BYTE, &matched, MPI_STATUS_IGNORE);
      code != MPI_SUCCESS)
    return mpi_error(code, what);
  return fail(Errc::io, fmt::format("mpi rank {}: {}: rank {} sent the first {} bytes of a message "
                                    "of type {} and then could not send the rest: the message is "
                                    "lost",
                                    rank_, what.text(), first_status.MPI_SOURCE, kFirstPart,
                                    first_status.MPI_TAG));
}

// Made in place in the Result that every receive returns (no Message is moved on the way).
[[gnu::always_inline]] inline Result<Message> World::Impl::message_of(
    std::span<const std::byte> payload, std::shared_ptr<const void> owner,
    const MPI_Status& status) {
  const int sender = status.MPI_SOURCE;
  Result<Message> message(std::in_place, payload, std::move(owner), status.MPI_TAG,
                          ProcessId{static_cast<pid_t>(sender), 0}, ++received_);
  message->set_sender_name(name_of(sender));
  return message;
}

// A rank's decimal name, made once per rank heard from (a short string: copying it does not
// allocate).
[[gnu::always_inline]] inline const std::string& World::Impl::name_of(int rank) {
  const auto index = static_cast<std::size_t>(rank);
  if (index < rank_names_.size() && !rank_names_[index].empty()) [[likely]]
    return rank_names_[index];
  return name_first_heard(rank);
}

const std::string& World::Impl::name_first_heard(int rank) {
  const auto index = static_cast<std::size_t>(rank);
  if (index >= rank_names_.size()) rank_names_.resize(index + 1);
  rank_names_[index] = std::to_string(rank);
  return rank_names_[index];
}

Result<Message> World::receive_from(int rank, std::int64_t type) {
  return impl_->receive(rank, type, std::nullopt);
}
Result<Message> World::try_receive_from(int rank, std::int64_t type) {
  return impl_->receive(rank, type, 0ns);
}
Result<Message> World::receive_from_for(int rank, std::chrono::nanoseconds timeout,
                                        std::int64_t type) {
  return impl_->receive(rank, type, std::max(timeout, 1ns));
}

Result<Message> World::receive(std::int64_t type) {
  return impl_->receive(std::nullopt, type, std::nullopt);
}
Result<Message> World::try_receive(std::int64_t type) {
  return impl_->receive(std::nullopt, type, 0ns);
}
Result<Message> World::receive_for(std::chrono::nanoseconds timeout, std::int64_t type) {
  return impl_->receive(std::nullopt, type, std::max(timeout, 1ns));
}

}  // namespace conduit::mpi
