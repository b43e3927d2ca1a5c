// World internals, private to mpi/: the Impl behind a World handle. world.cpp starts and ends
// MPI and words errors, world_send.cpp sends and world_receive.cpp receives.
#pragma once

#include <mpi.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "conduit/mpi/world.hpp"
#include "receive_buffers.hpp"

namespace conduit::mpi {

inline constexpr int kFirstPartCount = static_cast<int>(kFirstPart);
/// Where the rest of a two-part message starts: again at the first part's last byte, so that a
/// rest is never empty (receive_buffers.hpp).
inline constexpr std::size_t kRestStart = kFirstPart - 1;
inline constexpr int kRestStartCount = static_cast<int>(kRestStart);

/// MPI's own text for an error code.
std::string mpi_text(int mpi_code);

/// What a call is doing, for its error messages ("send to rank 2"): put into words only when
/// there is an error (formatting it on every call costs about as much as a small MPI_Send).
struct Operation {
  const char* verb;                   // "send", "receive_from", ...
  const char* preposition = nullptr;  // "to" or "from" a rank; nullptr: no rank
  int rank = 0;

  [[nodiscard]] std::string text() const;
};

/// Waits between polls: a few quick looks, then sleeps growing to 1 ms, so a rank waiting for a
/// slow peer leaves the CPU to the others (ranks are often oversubscribed).
class Backoff {
 public:
  void pause() {
    if (++polls_ < 64) {
      std::this_thread::yield();
      return;
    }
    std::this_thread::sleep_for(sleep_);
    sleep_ = std::min<std::chrono::microseconds>(sleep_ * 2, std::chrono::milliseconds(1));
  }

 private:
  int polls_ = 0;
  std::chrono::microseconds sleep_{10};
};

/// A send that timed out and that MPI would not cancel: it stays posted, with its own copy of
/// the bytes, until it completes. requests[1] is the rest of a message sent in two parts.
struct PendingSend {
  std::array<MPI_Request, 2> requests{MPI_REQUEST_NULL, MPI_REQUEST_NULL};
  std::unique_ptr<std::byte[]> bytes;
};

class World::Impl {
 public:
  Impl(MPI_Comm comm, int rank, int size, std::int64_t max_type, WorldOptions options)
      : comm_(comm), rank_(rank), size_(size), max_type_(max_type), options_(options) {}
  ~Impl();
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  // world_send.cpp
  Result<void> send(int rank, std::span<const std::byte> payload, std::int64_t type);
  /// try_send (is_try, timeout 0: would_block) and send_for (timed_out).
  Result<void> send_until(int rank, std::span<const std::byte> payload, std::int64_t type,
                          std::chrono::nanoseconds timeout, bool is_try);

  // world_receive.cpp
  /// from: a rank, or nullopt for any. timeout: nullopt blocks; zero looks once.
  Result<Message> receive(std::optional<int> from, std::int64_t type,
                          std::optional<std::chrono::nanoseconds> timeout);

  // world.cpp
  Result<void> barrier();
  /// Drops the sends left posted by timeouts that have completed since.
  void reap_pending();

  [[gnu::cold]] std::unexpected<Error> mpi_error(int mpi_code, const Operation& what) const;
  /// The hot paths test their arguments with these first, and word an error only when one
  /// fails.
  [[nodiscard]] bool is_sendable(int rank, std::int64_t type, std::size_t size) const noexcept {
    return rank >= 0 && rank < size_ && type >= 0 && type <= max_type_ &&
           size <= static_cast<std::size_t>(INT_MAX);
  }
  [[nodiscard]] bool is_receivable(std::optional<int> from, std::int64_t type) const noexcept {
    return (!from || (*from >= 0 && *from < size_)) && type >= 0 && type <= max_type_;
  }
  [[gnu::cold]] std::unexpected<Error> not_sendable(int rank, std::int64_t type,
                                                    std::span<const std::byte> payload,
                                                    const Operation& what) const;
  [[gnu::cold]] std::unexpected<Error> not_receivable(std::optional<int> from, std::int64_t type,
                                                      const Operation& what) const;

  MPI_Comm comm_;
  int rank_;
  int size_;
  std::int64_t max_type_;
  WorldOptions options_;

 private:
  // world_send.cpp
  int post(const std::byte* bytes, int count, int rank, int tag) const;
  int post_nonblocking(std::byte* bytes, int count, int rank, int tag, MPI_Request* request) const;
  [[gnu::cold]] std::unexpected<Error> rest_lost(int code, int notice_code, int rank,
                                                 std::size_t size, const Operation& what) const;
  [[gnu::cold]] Result<void> rest_failed(PendingSend pending, int code, int rank, int tag,
                                         std::size_t size, const Operation& what);
  [[gnu::cold]] Result<void> first_failed(PendingSend pending, bool has_rest, int code,
                                          const Operation& what);

  // world_receive.cpp
  struct Landing;
  Landing land();
  Result<Message> receive_blocking(int source, int tag, const Operation& what);
  Result<Message> receive_matched(MPI_Message& matched, const MPI_Status& status,
                                  const Operation& what);
  Result<Message> received(Landing& landing, int count, const MPI_Status& status,
                           const Operation& what);
  Result<Message> receive_rest(const std::byte* first, const MPI_Status& first_status,
                               const Operation& what);
  [[gnu::cold]] Result<Message> rest_lost(MPI_Message& matched, const MPI_Status& first_status,
                                          const Operation& what);
  Result<Message> message_of(std::span<const std::byte> payload, std::shared_ptr<const void> owner,
                             const MPI_Status& status);
  const std::string& name_of(int rank);
  [[gnu::cold]] const std::string& name_first_heard(int rank);

  std::uint64_t received_ = 0;
  std::vector<PendingSend> pending_;
  ReceiveBuffers buffers_;
  std::vector<std::string> rank_names_;
};

}  // namespace conduit::mpi
