// World's sends: a message under kFirstPart bytes is one MPI message; a longer one is two, its
// first kFirstPart bytes and the rest, with the same tag (receive_buffers.hpp). When the first
// part has gone and the rest cannot follow, an empty message takes the rest's place: the
// receiver then reports the message lost instead of waiting for the rest, or taking this rank's
// next message of that type for it.
#include <fmt/format.h>

#include <cstring>
#include <string_view>
#include <utility>

#include "world_impl.hpp"

namespace conduit::mpi {

namespace {

enum class Fate : std::uint8_t { withdrawn, completed, pending };

// Asks MPI to cancel a posted send and looks once at what became of it. MPI_Cancel only marks
// the request: a cancelled request completes at once, a send MPI cannot cancel never does.
Fate withdraw(MPI_Request& request) {
  if (request == MPI_REQUEST_NULL) return Fate::completed;
  MPI_Cancel(&request);
  int done = 0;
  MPI_Status status{};
  MPI_Test(&request, &done, &status);
  if (done == 0) return Fate::pending;
  int cancelled = 0;
  MPI_Test_cancelled(&status, &cancelled);
  return cancelled != 0 ? Fate::withdrawn : Fate::completed;
}

bool is_done(MPI_Request& request) {
  int done = 0;
  return MPI_Test(&request, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS || done != 0;
}

// The empty message that stands for a rest that could not be sent (receive_buffers.hpp). In
// standard mode even at zero capacity: it only has to arrive, and an empty message goes eagerly.
int send_rest_lost(int rank, int tag, MPI_Comm comm) {
  static std::byte none{};
  return MPI_Send(&none, 0, MPI_BYTE, rank, tag, comm);
}

int post_rest_lost(PendingSend& pending, int rank, int tag, MPI_Comm comm) {
  if (pending.requests[1] != MPI_REQUEST_NULL) MPI_Request_free(&pending.requests[1]);
  return MPI_Isend(pending.bytes.get(), 0, MPI_BYTE, rank, tag, comm, &pending.requests[1]);
}

}  // namespace

Result<void> World::Impl::send(int rank, std::span<const std::byte> payload, std::int64_t type) {
  const Operation what{"send", "to", rank};
  if (!is_sendable(rank, type, payload.size())) [[unlikely]]
    return not_sendable(rank, type, payload, what);
  const int tag = static_cast<int>(type);
  const int count = static_cast<int>(payload.size());
  if (!pending_.empty()) reap_pending();
  if (payload.size() < kFirstPart) [[likely]] {
    if (const int code = post(payload.data(), count, rank, tag); code != MPI_SUCCESS)
      return mpi_error(code, what);
    return {};
  }
  if (const int code = post(payload.data(), kFirstPartCount, rank, tag); code != MPI_SUCCESS)
    return mpi_error(code, what);
  if (const int code = post(payload.data() + kRestStart, count - kRestStartCount, rank, tag);
      code != MPI_SUCCESS)
    return rest_lost(code, send_rest_lost(rank, tag, comm_), rank, payload.size(), what);
  return {};
}

// The error of a send whose first part went and whose rest did not; notice_code says whether the
// empty message telling `rank` so went.
std::unexpected<Error> World::Impl::rest_lost(int code, int notice_code, int rank, std::size_t size,
                                              const Operation& what) const {
  const Error error = mpi_error(code, what).error();
  if (notice_code == MPI_SUCCESS)
    return fail(error.code(),
                fmt::format("{} (the rest of a message of {} bytes, after its first {} had gone): "
                            "the message is lost; rank {} receives an error in its place",
                            error.message(), size, kFirstPart, rank));
  return fail(error.code(),
              fmt::format("{} (the rest of a message of {} bytes, after its first {} had gone): "
                          "the message is lost, and telling rank {} so failed too ({}): its "
                          "receive waits for the rest",
                          error.message(), size, kFirstPart, rank, mpi_text(notice_code)));
}

// send_until's rest failed, to post or to complete: withdraw the first part if MPI can (then
// nothing of the message arrives), else post the empty message in the rest's place, behind it.
Result<void> World::Impl::rest_failed(PendingSend pending, int code, int rank, int tag,
                                      std::size_t size, const Operation& what) {
  if (withdraw(pending.requests[0]) == Fate::withdrawn) {
    if (pending.requests[1] != MPI_REQUEST_NULL) pending_.push_back(std::move(pending));
    const Error error = mpi_error(code, what).error();
    return fail(error.code(), fmt::format("{} (the rest of a message of {} bytes): the message is "
                                          "lost; its first part was withdrawn, so none of it "
                                          "arrives",
                                          error.message(), size));
  }
  const int notice_code = post_rest_lost(pending, rank, tag, comm_);
  pending_.push_back(std::move(pending));  // its first part may still be in flight
  return rest_lost(code, notice_code, rank, size, what);
}

// send_until's first part failed: withdraw the rest too, which alone would arrive as a message of
// its own.
Result<void> World::Impl::first_failed(PendingSend pending, bool has_rest, int code,
                                       const Operation& what) {
  if (!has_rest || withdraw(pending.requests[1]) == Fate::withdrawn) return mpi_error(code, what);
  pending_.push_back(std::move(pending));
  const Error error = mpi_error(code, what).error();
  return fail(error.code(), fmt::format("{}; MPI could not withdraw the rest of the message, "
                                        "which may arrive on its own",
                                        error.message()));
}

// One MPI message, blocking: MPI's standard mode, or synchronous mode at zero capacity.
[[gnu::always_inline]] inline int World::Impl::post(const std::byte* bytes, int count, int rank,
                                                    int tag) const {
  // MPI's C API takes a non-const buffer in MPI-2 headers; it never writes a send buffer.
  void* buffer = const_cast<std::byte*>(bytes);
  return options_.capacity.is_zero() ? MPI_Ssend(buffer, count, MPI_BYTE, rank, tag, comm_)
                                     : MPI_Send(buffer, count, MPI_BYTE, rank, tag, comm_);
}

// As post, without waiting.
int World::Impl::post_nonblocking(std::byte* bytes, int count, int rank, int tag,
                                  MPI_Request* request) const {
  return options_.capacity.is_zero() ? MPI_Issend(bytes, count, MPI_BYTE, rank, tag, comm_, request)
                                     : MPI_Isend(bytes, count, MPI_BYTE, rank, tag, comm_, request);
}

// MPI_Isend on a copy, polled with MPI_Test until the deadline; then MPI_Cancel, and the send is
// withdrawn if MPI allows it.
Result<void> World::Impl::send_until(int rank, std::span<const std::byte> payload,
                                     std::int64_t type, std::chrono::nanoseconds timeout,
                                     bool is_try) {
  const Operation what{is_try ? "try_send" : "send_for", "to", rank};
  if (!is_sendable(rank, type, payload.size())) return not_sendable(rank, type, payload, what);
  const int tag = static_cast<int>(type);
  const int count = static_cast<int>(payload.size());
  reap_pending();
  // TODO(perf): the copy keeps the caller's buffer free if the send outlives the call; a send
  // that completes at once (the common eager case) would not need it.
  PendingSend pending;
  pending.bytes =
      std::make_unique_for_overwrite<std::byte[]>(std::max<std::size_t>(payload.size(), 1));
  std::memcpy(pending.bytes.get(), payload.data(), payload.size());
  const bool has_rest = payload.size() >= kFirstPart;
  if (const int code = post_nonblocking(pending.bytes.get(), has_rest ? kFirstPartCount : count,
                                        rank, tag, &pending.requests[0]);
      code != MPI_SUCCESS)
    return mpi_error(code, what);
  if (has_rest) {
    if (const int code = post_nonblocking(pending.bytes.get() + kRestStart, count - kRestStartCount,
                                          rank, tag, &pending.requests[1]);
        code != MPI_SUCCESS)
      return rest_failed(std::move(pending), code, rank, tag, payload.size(), what);
  }

  const auto deadline = std::chrono::steady_clock::now() + timeout;
  Backoff backoff;
  for (;;) {
    // Each part on its own, so that a failure says which (a completed request becomes
    // MPI_REQUEST_NULL, which tests as done).
    int first_done = 0;
    if (const int code = MPI_Test(&pending.requests[0], &first_done, MPI_STATUS_IGNORE);
        code != MPI_SUCCESS)
      return first_failed(std::move(pending), has_rest, code, what);
    int rest_done = 0;
    if (const int code = MPI_Test(&pending.requests[1], &rest_done, MPI_STATUS_IGNORE);
        code != MPI_SUCCESS)
      return rest_failed(std::move(pending), code, rank, tag, payload.size(), what);
    if (first_done != 0 && rest_done != 0) return {};
    if (std::chrono::steady_clock::now() >= deadline) break;
    backoff.pause();
  }

  // Out of time: withdraw the message, whole or not at all. The rest goes first: a first part
  // withdrawn without its rest would leave the rest to arrive as a message of its own. A rest
  // withdrawn whose first part cannot be is posted again, behind it.
  Fate fate = Fate::pending;
  if (!has_rest) {
    fate = withdraw(pending.requests[0]);
  } else {
    switch (withdraw(pending.requests[1])) {
      case Fate::pending: break;  // the first part stays posted with it
      case Fate::completed:
        fate = is_done(pending.requests[0]) ? Fate::completed : Fate::pending;
        break;
      case Fate::withdrawn:
        fate = withdraw(pending.requests[0]);
        if (fate == Fate::withdrawn) break;
        if (const int code =
                post_nonblocking(pending.bytes.get() + kRestStart, count - kRestStartCount, rank,
                                 tag, &pending.requests[1]);
            code != MPI_SUCCESS)
          return rest_failed(std::move(pending), code, rank, tag, payload.size(), what);
        if (fate == Fate::completed && !is_done(pending.requests[1])) fate = Fate::pending;
        break;
    }
  }
  const Errc code = is_try ? Errc::would_block : Errc::timed_out;
  const std::string_view outcome = is_try ? "would block" : "timed out";
  if (fate == Fate::completed) return {};  // it completed after all
  if (fate == Fate::withdrawn)
    return fail(code, fmt::format("mpi rank {}: {}: {} (withdrawn)", rank_, what.text(), outcome));
  pending_.push_back(std::move(pending));
  return fail(code, fmt::format("mpi rank {}: {}: {}; MPI cannot withdraw a started send, so it "
                                "stays posted and is delivered if rank {} receives it",
                                rank_, what.text(), outcome, rank));
}

Result<void> World::send(int rank, std::span<const std::byte> payload, std::int64_t type) {
  return impl_->send(rank, payload, type);
}
Result<void> World::try_send(int rank, std::span<const std::byte> payload, std::int64_t type) {
  return impl_->send_until(rank, payload, type, std::chrono::nanoseconds(0), true);
}
Result<void> World::send_for(int rank, std::span<const std::byte> payload,
                             std::chrono::nanoseconds timeout, std::int64_t type) {
  return impl_->send_until(rank, payload, type, timeout, false);
}

}  // namespace conduit::mpi
