#include "conduit/mpi/world.hpp"

#include <fmt/format.h>
#include <mpi.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "receive_buffers.hpp"

namespace conduit::mpi {

using namespace std::chrono_literals;

namespace {

// Worlds alive in this process: the first one initialises MPI, the last one finalises it.
int live_worlds = 0;
// Whether conduit initialised MPI (and so must finalise it), or found it initialised.
bool owns_mpi = false;
// The Worlds' own communicator, a duplicate of MPI_COMM_WORLD shared by this process's Worlds
// (made by the first, freed by the last). The program's own MPI traffic on MPI_COMM_WORLD never
// matches a World's receive, nor a World's message its receives: World's protocol (see
// receive_buffers.hpp) sees only World's messages.
MPI_Comm worlds_comm = MPI_COMM_NULL;

Errc errc_of(int mpi_code) {
  int error_class = MPI_ERR_OTHER;
  if (MPI_Error_class(mpi_code, &error_class) != MPI_SUCCESS) return Errc::io;
  switch (error_class) {
    case MPI_ERR_RANK:
    case MPI_ERR_TAG:
    case MPI_ERR_COUNT:
    case MPI_ERR_ARG:
    case MPI_ERR_BUFFER: return Errc::invalid_argument;
    case MPI_ERR_TRUNCATE: return Errc::message_too_large;
    case MPI_ERR_NO_MEM: return Errc::limit_reached;
    default: return Errc::io;
  }
}

std::string mpi_text(int mpi_code) {
  char text[MPI_MAX_ERROR_STRING] = {};
  int length = 0;
  if (MPI_Error_string(mpi_code, text, &length) != MPI_SUCCESS)
    return fmt::format("MPI error {}", mpi_code);
  return std::string(text, static_cast<std::size_t>(std::max(length, 0)));
}

// Waits between polls: a few quick looks, then sleeps growing to 1 ms, so a rank waiting for a
// slow peer leaves the CPU to the others (ranks are often oversubscribed).
class Backoff {
 public:
  void pause() {
    if (++polls_ < 64) {
      std::this_thread::yield();
      return;
    }
    std::this_thread::sleep_for(sleep_);
    sleep_ = std::min<std::chrono::microseconds>(sleep_ * 2, 1ms);
  }

 private:
  int polls_ = 0;
  std::chrono::microseconds sleep_{10};
};

constexpr int kFirstPartCount = static_cast<int>(kFirstPart);

// A send that timed out and that MPI would not cancel: it stays posted, with its own copy of the
// bytes, until it completes. requests[1] is the rest of a message sent in two parts.
struct PendingSend {
  std::array<MPI_Request, 2> requests{MPI_REQUEST_NULL, MPI_REQUEST_NULL};
  std::unique_ptr<std::byte[]> bytes;
};

enum class Fate { withdrawn, completed, pending };

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

/// What a call is doing, for its error messages ("send to rank 2"): put into words only when
/// there is an error (formatting it on every call costs about as much as a small MPI_Send).
struct Operation {
  const char* verb;                   // "send", "receive_from", ...
  const char* preposition = nullptr;  // "to" or "from" a rank; nullptr: no rank
  int rank = 0;

  [[nodiscard]] std::string text() const {
    return preposition == nullptr ? std::string(verb)
                                  : fmt::format("{} {} rank {}", verb, preposition, rank);
  }
};

}  // namespace

class World::Impl {
 public:
  Impl(MPI_Comm comm, int rank, int size, std::int64_t max_type, WorldOptions options)
      : comm_(comm), rank_(rank), size_(size), max_type_(max_type), options_(options) {}

  ~Impl() {
    reap_pending();
    for (PendingSend& pending : pending_) {
      // Never completed (nobody received it): let MPI drop the request. MPI may still read the
      // bytes until it finalises, so they are left allocated rather than freed under it.
      for (MPI_Request& request : pending.requests)
        if (request != MPI_REQUEST_NULL) MPI_Request_free(&request);
      (void)pending.bytes.release();
    }
    if (--live_worlds == 0) {
      int finalized = 0;
      MPI_Finalized(&finalized);
      if (finalized == 0) MPI_Comm_free(&worlds_comm);
      worlds_comm = MPI_COMM_NULL;
      if (finalized == 0 && owns_mpi) MPI_Finalize();
    }
  }

  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  [[gnu::cold]] std::unexpected<Error> mpi_error(int mpi_code, const Operation& what) const {
    return fail(errc_of(mpi_code),
                fmt::format("mpi rank {}: {}: {}", rank_, what.text(), mpi_text(mpi_code)));
  }

  Result<void> check_rank(int rank, const Operation& what) const {
    if (rank < 0 || rank >= size_)
      return fail(Errc::invalid_argument, fmt::format("mpi rank {}: {}: invalid rank (size {})",
                                                      rank_, what.text(), size_));
    return {};
  }

  Result<int> tag_to_send(std::int64_t type, const Operation& what) const {
    if (type < 0 || type > max_type_)
      return fail(Errc::invalid_argument,
                  fmt::format("mpi rank {}: {}: message type {} out of range 0..{}", rank_,
                              what.text(), type, max_type_));
    return static_cast<int>(type);
  }

  Result<int> tag_to_receive(std::int64_t type, const Operation& what) const {
    if (type == 0) return MPI_ANY_TAG;
    if (type < 0)
      return fail(Errc::invalid_argument,
                  fmt::format("mpi rank {}: {}: type filter {} < 0 is not supported over MPI "
                              "(tags select one type, or any)",
                              rank_, what.text(), type));
    return tag_to_send(type, what);
  }

  Result<int> count_of(std::span<const std::byte> payload, const Operation& what) const {
    if (payload.size() > static_cast<std::size_t>(INT_MAX))
      return fail(Errc::message_too_large,
                  fmt::format("mpi rank {}: {}: message of {} bytes exceeds MPI's limit of {}",
                              rank_, what.text(), payload.size(), INT_MAX));
    return static_cast<int>(payload.size());
  }

  // The hot paths test their arguments with these first, and build an error only when one fails.
  [[nodiscard]] bool is_sendable(int rank, std::int64_t type, std::size_t size) const noexcept {
    return rank >= 0 && rank < size_ && type >= 0 && type <= max_type_ &&
           size <= static_cast<std::size_t>(INT_MAX);
  }
  [[gnu::cold]] std::unexpected<Error> not_sendable(int rank, std::int64_t type,
                                                    std::span<const std::byte> payload,
                                                    const Operation& what) const {
    if (auto ok = check_rank(rank, what); !ok) return std::unexpected(ok.error());
    if (auto tag = tag_to_send(type, what); !tag) return std::unexpected(tag.error());
    if (auto count = count_of(payload, what); !count) return std::unexpected(count.error());
    return fail(Errc::invalid_argument, fmt::format("mpi rank {}: {}: invalid", rank_, what.text()));
  }

  Result<void> send(int rank, std::span<const std::byte> payload, std::int64_t type) {
    const Operation what{"send", "to", rank};
    if (!is_sendable(rank, type, payload.size())) [[unlikely]]
      return not_sendable(rank, type, payload, what);
    const int tag = static_cast<int>(type);
    const int count = static_cast<int>(payload.size());
    if (!pending_.empty()) reap_pending();
    // Shorter than kFirstPart: one MPI message, which the receiver takes with one MPI_Recv.
    // Longer: the first kFirstPart bytes, then the rest (receive_buffers.hpp).
    if (payload.size() < kFirstPart) [[likely]] {
      if (const int code = post(payload.data(), count, rank, tag); code != MPI_SUCCESS)
        return mpi_error(code, what);
      return {};
    }
    if (const int code = post(payload.data(), kFirstPartCount, rank, tag); code != MPI_SUCCESS)
      return mpi_error(code, what);
    if (const int code = post(payload.data() + kFirstPart, count - kFirstPartCount, rank, tag);
        code != MPI_SUCCESS)
      return mpi_error(code, what);
    return {};
  }

  // One MPI message, blocking: MPI's standard mode, or synchronous mode at zero capacity.
  int post(const std::byte* bytes, int count, int rank, int tag) const {
    // MPI's C API takes a non-const buffer in MPI-2 headers; it never writes a send buffer.
    void* buffer = const_cast<std::byte*>(bytes);
    return options_.capacity.is_zero()
               ? MPI_Ssend(buffer, count, MPI_BYTE, rank, tag, comm_)
               : MPI_Send(buffer, count, MPI_BYTE, rank, tag, comm_);
  }

  // As post, without waiting.
  int post_nonblocking(std::byte* bytes, int count, int rank, int tag,
                       MPI_Request* request) const {
    return options_.capacity.is_zero()
               ? MPI_Issend(bytes, count, MPI_BYTE, rank, tag, comm_, request)
               : MPI_Isend(bytes, count, MPI_BYTE, rank, tag, comm_, request);
  }

  // try_send (timeout 0: would_block) and send_for (timed_out): MPI_Isend on a copy, polled with
  // MPI_Test until the deadline; then MPI_Cancel, and the send is withdrawn if MPI allows it.
  Result<void> send_until(int rank, std::span<const std::byte> payload, std::int64_t type,
                          std::chrono::nanoseconds timeout, bool is_try) {
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
      if (const int code = post_nonblocking(pending.bytes.get() + kFirstPart,
                                            count - kFirstPartCount, rank, tag,
                                            &pending.requests[1]);
          code != MPI_SUCCESS) {
        pending_.push_back(std::move(pending));  // its first part is posted: keep its bytes
        return mpi_error(code, what);
      }
    }

    const auto deadline = std::chrono::steady_clock::now() + timeout;
    Backoff backoff;
    for (;;) {
      int done = 0;
      if (const int code = MPI_Testall(2, pending.requests.data(), &done, MPI_STATUSES_IGNORE);
          code != MPI_SUCCESS)
        return mpi_error(code, what);
      if (done != 0) return {};
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
          if (const int code = post_nonblocking(pending.bytes.get() + kFirstPart,
                                                count - kFirstPartCount, rank, tag,
                                                &pending.requests[1]);
              code != MPI_SUCCESS) {
            pending_.push_back(std::move(pending));
            return mpi_error(code, what);
          }
          if (fate == Fate::completed && !is_done(pending.requests[1])) fate = Fate::pending;
          break;
      }
    }
    const Errc code = is_try ? Errc::would_block : Errc::timed_out;
    const std::string_view outcome = is_try ? "would block" : "timed out";
    if (fate == Fate::completed) return {};  // it completed after all
    if (fate == Fate::withdrawn)
      return fail(code,
                  fmt::format("mpi rank {}: {}: {} (withdrawn)", rank_, what.text(), outcome));
    pending_.push_back(std::move(pending));
    return fail(code, fmt::format("mpi rank {}: {}: {}; MPI cannot withdraw a started send, so "
                                  "it stays posted and is delivered if rank {} receives it",
                                  rank_, what.text(), outcome, rank));
  }

  [[gnu::cold]] std::unexpected<Error> not_receivable(std::optional<int> from, std::int64_t type,
                                                      const Operation& what) const {
    if (from) {
      if (auto ok = check_rank(*from, what); !ok) return std::unexpected(ok.error());
    }
    if (auto tag = tag_to_receive(type, what); !tag) return std::unexpected(tag.error());
    return fail(Errc::invalid_argument, fmt::format("mpi rank {}: {}: invalid", rank_, what.text()));
  }

  // from: a rank, or nullopt for any. timeout: nullopt blocks; zero looks once.
  Result<Message> receive(std::optional<int> from, std::int64_t type,
                          std::optional<std::chrono::nanoseconds> timeout) {
    const int source = from ? *from : MPI_ANY_SOURCE;
    const Operation what =
        !from ? Operation{timeout ? (*timeout == 0ns ? "try_receive" : "receive_for") : "receive"}
              : Operation{timeout ? (*timeout == 0ns ? "try_receive_from" : "receive_from_for")
                                  : "receive_from",
                          "from", source};
    if ((from && (source < 0 || source >= size_)) || type < 0 || type > max_type_) [[unlikely]]
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

  // Where a receive lands: a pooled buffer that the Message will hold, or (when Messages hold
  // them all) the scratch buffer, copied out.
  struct Landing {
    std::shared_ptr<ReceiveBuffers::Buffer> buffer;
    std::byte* bytes;
  };
  Landing land() {
    auto buffer = buffers_.take();
    std::byte* bytes = buffer != nullptr ? buffer->bytes.get() : buffers_.scratch();
    return {std::move(buffer), bytes};
  }

  // The blocking receives: one MPI_Recv, as a raw MPI program's, with no probe and no
  // allocation while receive buffers are free. A message of more than kFirstPart bytes cannot
  // come from a World: MPI truncates it (message_too_large).
  [[gnu::always_inline]] Result<Message> receive_blocking(int source, int tag,
                                                          const Operation& what) {
    Landing landing = land();
    MPI_Status status{};
    if (const int code = MPI_Recv(landing.bytes, kFirstPartCount, MPI_BYTE, source, tag,
                                  comm_, &status);
        code != MPI_SUCCESS)
      return mpi_error(code, what);
    int count = 0;
    if (const int code = MPI_Get_count(&status, MPI_BYTE, &count); code != MPI_SUCCESS)
      return mpi_error(code, what);
    return received(landing, count, status, what);
  }

  // The timed receives: a message MPI_Improbe found, received as matched. Its size is known, so
  // a message over kFirstPart bytes (not sent by a World) arrives whole all the same.
  Result<Message> receive_matched(MPI_Message& matched, const MPI_Status& status,
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

  // A message shorter than kFirstPart is whole; one of exactly kFirstPart bytes is the first
  // part of a longer one.
  [[gnu::always_inline]] Result<Message> received(Landing& landing, int count,
                                                  const MPI_Status& status, const Operation& what) {
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

  // The rest of a two-part message: the next message from the same rank with the same tag
  // (MPI's non-overtaking rule), so nothing can come between. Its first part has arrived, so
  // the rest is in flight and is waited for even by the timed forms.
  Result<Message> receive_rest(const std::byte* first, const MPI_Status& first_status,
                               const Operation& what) {
    MPI_Message matched = MPI_MESSAGE_NULL;
    MPI_Status status{};
    if (const int code = MPI_Mprobe(first_status.MPI_SOURCE, first_status.MPI_TAG,
                                    comm_, &matched, &status);
        code != MPI_SUCCESS)
      return mpi_error(code, what);
    int rest = 0;
    if (const int code = MPI_Get_count(&status, MPI_BYTE, &rest); code != MPI_SUCCESS)
      return mpi_error(code, what);
    const std::size_t size = kFirstPart + static_cast<std::size_t>(std::max(rest, 0));
    auto bytes = std::make_shared_for_overwrite<std::byte[]>(size);
    std::memcpy(bytes.get(), first, kFirstPart);
    if (const int code =
            MPI_Mrecv(bytes.get() + kFirstPart, rest, MPI_BYTE, &matched, MPI_STATUS_IGNORE);
        code != MPI_SUCCESS)
      return mpi_error(code, what);
    const std::span<const std::byte> payload(bytes.get(), size);  // before bytes is moved from
    return message_of(payload, std::move(bytes), first_status);
  }

  // Made in place in the Result that every receive returns (no Message is moved on the way).
  [[gnu::always_inline]] Result<Message> message_of(std::span<const std::byte> payload,
                                                    std::shared_ptr<const void> owner,
                                                    const MPI_Status& status) {
    const int sender = status.MPI_SOURCE;
    Result<Message> message(std::in_place, payload, std::move(owner), status.MPI_TAG,
                            ProcessId{static_cast<pid_t>(sender), 0}, ++received_);
    message->set_sender_name(name_of(sender));
    return message;
  }

  // A rank's decimal name, made once per rank heard from (a short string: copying it does not
  // allocate).
  const std::string& name_of(int rank) {
    const auto index = static_cast<std::size_t>(rank);
    if (index >= rank_names_.size()) rank_names_.resize(index + 1);
    if (rank_names_[index].empty()) rank_names_[index] = std::to_string(rank);
    return rank_names_[index];
  }

  Result<void> barrier() {
    reap_pending();
    if (const int code = MPI_Barrier(comm_); code != MPI_SUCCESS)
      return mpi_error(code, Operation{"barrier"});
    return {};
  }

  // Drops the sends left posted by timeouts that have completed since.
  void reap_pending() {
    std::erase_if(pending_, [](PendingSend& pending) {
      int done = 0;
      return MPI_Testall(2, pending.requests.data(), &done, MPI_STATUSES_IGNORE) != MPI_SUCCESS ||
             done != 0;
    });
  }

  MPI_Comm comm_;
  int rank_;
  int size_;
  std::int64_t max_type_;
  WorldOptions options_;
  std::uint64_t received_ = 0;
  std::vector<PendingSend> pending_;
  ReceiveBuffers buffers_;
  std::vector<std::string> rank_names_;
};

namespace {

Result<World::Impl*> start(int* argc, char*** argv, WorldOptions options) {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized != 0)
    return fail(Errc::invalid_argument,
                "mpi: init: MPI was already finalised in this process and cannot start again");
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (initialized == 0) {
    if (const int code = MPI_Init(argc, argv); code != MPI_SUCCESS)
      return fail(Errc::io, fmt::format("mpi: init: {}", mpi_text(code)));
    owns_mpi = true;
  }
  // Errors are values: MPI returns them instead of aborting the job.
  if (const int code = MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
      code != MPI_SUCCESS)
    return fail(Errc::io, fmt::format("mpi: init: set error handler: {}", mpi_text(code)));
  int rank = 0;
  int size = 0;
  if (const int code = MPI_Comm_rank(MPI_COMM_WORLD, &rank); code != MPI_SUCCESS)
    return fail(Errc::io, fmt::format("mpi: init: rank: {}", mpi_text(code)));
  if (const int code = MPI_Comm_size(MPI_COMM_WORLD, &size); code != MPI_SUCCESS)
    return fail(Errc::io, fmt::format("mpi: init: size: {}", mpi_text(code)));
  std::int64_t max_type = 32767;  // the least MPI_TAG_UB the standard allows
  int* tag_upper_bound = nullptr;
  int has_bound = 0;
  if (MPI_Comm_get_attr(MPI_COMM_WORLD, MPI_TAG_UB, &tag_upper_bound, &has_bound) == MPI_SUCCESS &&
      has_bound != 0 && tag_upper_bound != nullptr)
    max_type = *tag_upper_bound;
  if (live_worlds == 0) {
    // Collective: every rank's first World makes it at once.
    if (const int code = MPI_Comm_dup(MPI_COMM_WORLD, &worlds_comm); code != MPI_SUCCESS)
      return fail(Errc::io, fmt::format("mpi: init: communicator: {}", mpi_text(code)));
    MPI_Comm_set_errhandler(worlds_comm, MPI_ERRORS_RETURN);
  }
  ++live_worlds;
  return new World::Impl(worlds_comm, rank, size, max_type, options);
}

}  // namespace

Result<World> World::init(int& argc, char**& argv, WorldOptions options) {
  auto impl = start(&argc, &argv, options);
  if (!impl) return std::unexpected(impl.error());
  return World(std::unique_ptr<Impl>(*impl));
}

Result<World> World::init(WorldOptions options) {
  auto impl = start(nullptr, nullptr, options);
  if (!impl) return std::unexpected(impl.error());
  return World(std::unique_ptr<Impl>(*impl));
}

World::World(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
World::World(World&&) noexcept = default;
World& World::operator=(World&&) noexcept = default;
World::~World() = default;

int World::rank() const noexcept { return impl_->rank_; }
int World::size() const noexcept { return impl_->size_; }
std::int64_t World::max_type() const noexcept { return impl_->max_type_; }

Result<void> World::send(int rank, std::span<const std::byte> payload, std::int64_t type) {
  return impl_->send(rank, payload, type);
}
Result<void> World::try_send(int rank, std::span<const std::byte> payload, std::int64_t type) {
  return impl_->send_until(rank, payload, type, 0ns, true);
}
Result<void> World::send_for(int rank, std::span<const std::byte> payload,
                             std::chrono::nanoseconds timeout, std::int64_t type) {
  return impl_->send_until(rank, payload, type, timeout, false);
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

Result<void> World::barrier() { return impl_->barrier(); }

}  // namespace conduit::mpi
