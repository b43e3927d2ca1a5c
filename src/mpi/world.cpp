#include "conduit/mpi/world.hpp"

#include <fmt/format.h>
#include <mpi.h>

#include <algorithm>
#include <climits>
#include <string>
#include <utility>

#include "world_impl.hpp"

namespace conduit::mpi {

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

// The checks behind not_sendable and not_receivable, each wording its own error.
Result<void> check_rank(const World::Impl& world, int rank, const Operation& what) {
  if (rank < 0 || rank >= world.size_)
    return fail(Errc::invalid_argument, fmt::format("mpi rank {}: {}: invalid rank (size {})",
                                                    world.rank_, what.text(), world.size_));
  return {};
}

Result<void> check_type(const World::Impl& world, std::int64_t type, const Operation& what) {
  if (type < 0 || type > world.max_type_)
    return fail(Errc::invalid_argument,
                fmt::format("mpi rank {}: {}: message type {} out of range 0..{}", world.rank_,
                            what.text(), type, world.max_type_));
  return {};
}

}  // namespace

std::string mpi_text(int mpi_code) {
  char text[MPI_MAX_ERROR_STRING] = {};
  int length = 0;
  if (MPI_Error_string(mpi_code, text, &length) != MPI_SUCCESS)
    return fmt::format("MPI error {}", mpi_code);
  return std::string(text, static_cast<std::size_t>(std::max(length, 0)));
}

std::string Operation::text() const {
  return preposition == nullptr ? std::string(verb)
                                : fmt::format("{} {} rank {}", verb, preposition, rank);
}

World::Impl::~Impl() {
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

std::unexpected<Error> World::Impl::mpi_error(int mpi_code, const Operation& what) const {
  return fail(errc_of(mpi_code),
              fmt::format("mpi rank {}: {}: {}", rank_, what.text(), mpi_text(mpi_code)));
}

std::unexpected<Error> World::Impl::not_sendable(int rank, std::int64_t type,
                                                 std::span<const std::byte> payload,
                                                 const Operation& what) const {
  if (auto ok = check_rank(*this, rank, what); !ok) return std::unexpected(ok.error());
  if (auto ok = check_type(*this, type, what); !ok) return std::unexpected(ok.error());
  return fail(Errc::message_too_large,
              fmt::format("mpi rank {}: {}: message of {} bytes exceeds MPI's limit of {}", rank_,
                          what.text(), payload.size(), INT_MAX));
}

std::unexpected<Error> World::Impl::not_receivable(std::optional<int> from, std::int64_t type,
                                                   const Operation& what) const {
  if (from) {
    if (auto ok = check_rank(*this, *from, what); !ok) return std::unexpected(ok.error());
  }
  if (type < 0)
    return fail(Errc::invalid_argument,
                fmt::format("mpi rank {}: {}: type filter {} < 0 is not supported over MPI "
                            "(tags select one type, or any)",
                            rank_, what.text(), type));
  if (auto ok = check_type(*this, type, what); !ok) return std::unexpected(ok.error());
  return fail(Errc::invalid_argument,
              fmt::format("mpi rank {}: {}: invalid arguments", rank_, what.text()));
}

Result<void> World::Impl::barrier() {
  reap_pending();
  if (const int code = MPI_Barrier(comm_); code != MPI_SUCCESS)
    return mpi_error(code, Operation{"barrier"});
  return {};
}

void World::Impl::reap_pending() {
  std::erase_if(pending_, [](PendingSend& pending) {
    int done = 0;
    return MPI_Testall(2, pending.requests.data(), &done, MPI_STATUSES_IGNORE) != MPI_SUCCESS ||
           done != 0;
  });
}

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

// send and receive forms: in world_send.cpp and world_receive.cpp, beside what they call.

Result<void> World::barrier() { return impl_->barrier(); }

}  // namespace conduit::mpi
