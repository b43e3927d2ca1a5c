// mpi::World: direct naming across machines, over MPI (only <mpi.h>: tested with Open MPI 4.1).
// Every process of an `mpirun` job is one rank of the world; ranks name each other by number, as
// Endpoints name each other by name: send(rank, bytes), symmetric receive_from(rank) and
// asymmetric receive() whose Message::sender().pid is the sending rank.
//
// Not included by conduit/conduit.hpp (it would put <mpi.h> on every include path): include
// "conduit/mpi/world.hpp" and link the CMake target conduit::mpi.
//
// Message types are MPI tags: 0 up to max_type() (MPI_TAG_UB, at least 32767). Messages between
// one pair of ranks with one type arrive in the order sent (MPI's non-overtaking rule). Any size
// up to INT_MAX bytes; the receiver learns the size from the message.
//
// Worlds talk on their own communicator (a duplicate of MPI_COMM_WORLD, shared by the Worlds of a
// process): the program's own MPI traffic never reaches a World's receive, nor a World's message
// the program's MPI receives. On it, a message under 64 KiB is one MPI message, which a blocking
// receive takes with one MPI_Recv into a reused buffer (no probe, no allocation while the
// receiver drops its Messages); a larger one travels as two MPI messages of the same type, its
// first 64 KiB and the rest, and the receiver copies the first part once. If the rest cannot be
// sent after the first part went, the send fails and says the message is lost, and the receiver
// gets an io error in its place (never half a message, nor a wait for a rest that is not coming).
//
// Errors from MPI are returned, never fatal: MPI_COMM_WORLD's error handler is
// MPI_ERRORS_RETURN and each failure becomes an Error naming this rank, the call and MPI's own
// text ("mpi rank 1: send to rank 2: MPI_ERR_TRUNCATE: message truncated").
//
// One World per process (MPI is initialised once: a second init while one lives shares it; an
// init after the last one was destroyed fails, MPI cannot start twice). One thread at a time.
// The first init in a process is collective (it duplicates MPI_COMM_WORLD): every rank makes its
// first World at once, as every rank calls MPI_Init.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "conduit/core/error.hpp"
#include "conduit/msg/message.hpp"

namespace conduit::mpi {

struct WorldOptions {
  /// Capacity::zero(): every send is synchronous (MPI_Ssend): it returns only once the receiver
  /// has matched it — a rendezvous. Any other capacity: MPI's standard mode (MPI_Send), buffered
  /// as MPI chooses (eagerly up to the transport's eager limit); the bound n is not enforced.
  Capacity capacity = Capacity::bounded(64);
};

class World {
 public:
  /// Initialises MPI (MPI_Init with the program's arguments, which MPI may edit) and joins
  /// MPI_COMM_WORLD. Errors: invalid_argument (MPI was already finalised in this process),
  /// io (MPI failed).
  [[nodiscard]] static Result<World> init(int& argc, char**& argv, WorldOptions options = {});
  /// As above, without the program's arguments.
  [[nodiscard]] static Result<World> init(WorldOptions options = {});

  World(World&&) noexcept;
  World& operator=(World&&) noexcept;
  ~World();  // finalises MPI when the last World goes (MPI_Finalize)

  /// This process's rank, 0 ≤ rank < size().
  [[nodiscard]] int rank() const noexcept;
  /// How many ranks the world has.
  [[nodiscard]] int size() const noexcept;
  /// The largest message type (MPI_TAG_UB).
  [[nodiscard]] std::int64_t max_type() const noexcept;

  /// Sends to `rank` with message type `type`; blocks until MPI holds the message (zero
  /// capacity: until `rank` received it). Errors: invalid_argument (bad rank or type, checked
  /// before MPI is called), message_too_large (over INT_MAX bytes), io (MPI failed; a message of
  /// 64 KiB or more whose rest failed after its first part went is lost, and `rank` receives an
  /// io error in its place).
  [[nodiscard]] Result<void> send(int rank, std::span<const std::byte> payload,
                                  std::int64_t type = 0);
  /// As send, but would_block when the send cannot complete at once (zero capacity: nobody is
  /// receiving; otherwise: beyond the eager limit). See send_for on what such a send leaves.
  [[nodiscard]] Result<void> try_send(int rank, std::span<const std::byte> payload,
                                      std::int64_t type = 0);
  /// As send, but timed_out after `timeout` (MPI_Isend, polled). MPI implementations (Open MPI
  /// among them) may not cancel a started send: the message then stays posted and is delivered
  /// if `rank` receives it later; the error message says so. Its bytes were copied, so the
  /// caller's buffer is free at once. A message sent in two parts is withdrawn whole or stays
  /// posted whole, never half (if its rest cannot be posted at all, the message is lost, and
  /// `rank` receives an io error in its place).
  [[nodiscard]] Result<void> send_for(int rank, std::span<const std::byte> payload,
                                      std::chrono::nanoseconds timeout, std::int64_t type = 0);

  /// Symmetric: the next message from `rank` (of type `type`; 0: any type), waiting for one.
  /// Errors: invalid_argument (bad rank, or a type filter < 0: MPI tags cannot select "the
  /// lowest type ≤ n"), io (also in place of a message whose sender could not send its rest:
  /// the next receive goes on with that rank's next message). The timed forms below wait at most
  /// their timeout for a message to begin; one of 64 KiB or more whose first part has come is then
  /// waited for whole.
  [[nodiscard]] Result<Message> receive_from(int rank, std::int64_t type = 0);
  /// As receive_from; would_block when no such message has arrived.
  [[nodiscard]] Result<Message> try_receive_from(int rank, std::int64_t type = 0);
  /// As receive_from; timed_out after `timeout`.
  [[nodiscard]] Result<Message> receive_from_for(int rank, std::chrono::nanoseconds timeout,
                                                 std::int64_t type = 0);

  /// Asymmetric: the next message from any rank; Message::sender().pid is the sending rank and
  /// sender_name() its decimal number (so for receive_from too; sender().start_time is 0, and
  /// sequence() counts the messages this World has received: 1, 2, …). Errors as receive_from.
  [[nodiscard]] Result<Message> receive(std::int64_t type = 0);
  [[nodiscard]] Result<Message> try_receive(std::int64_t type = 0);
  [[nodiscard]] Result<Message> receive_for(std::chrono::nanoseconds timeout,
                                            std::int64_t type = 0);

  /// Waits until every rank has called barrier() (MPI_Barrier). Errors: io.
  [[nodiscard]] Result<void> barrier();

  [[nodiscard]] Result<void> send(int rank, std::string_view text, std::int64_t type = 0) {
    return send(rank, bytes_of(text), type);
  }
  [[nodiscard]] Result<void> try_send(int rank, std::string_view text, std::int64_t type = 0) {
    return try_send(rank, bytes_of(text), type);
  }
  [[nodiscard]] Result<void> send_for(int rank, std::string_view text,
                                      std::chrono::nanoseconds timeout, std::int64_t type = 0) {
    return send_for(rank, bytes_of(text), timeout, type);
  }

  class Impl;

 private:
  explicit World(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace conduit::mpi
