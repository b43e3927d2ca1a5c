// A Link over byte streams: one descriptor to read, one to write (the same one for a socket),
// carrying frames (transport/framing.hpp). Shared by pipes, FIFOs, Unix and TCP sockets.
// Unframed (raw) mode, for Framing::none sockets: send writes the payload alone and receive
// returns the bytes one read gave. In raw mode send touches only the descriptor, so one thread
// may send while another receives.
#pragma once

#include <sys/uio.h>

#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "conduit/core/process.hpp"
#include "conduit/sys/clock.hpp"
#include "conduit/sys/fd.hpp"
#include "conduit/transport/framing.hpp"
#include "conduit/transport/transport.hpp"

namespace conduit::transport {

class StreamLink final : public Link {
 public:
  /// `out` empty: write to `in` too (a socket). Both are made blocking (see fill()).
  static Result<std::unique_ptr<StreamLink>> make(sys::Fd in, sys::Fd out, bool is_socket,
                                                  std::string url, ProcessId peer = {},
                                                  bool is_framed = true);

  Result<void> send(std::span<const std::byte> payload, std::int64_t type) override;
  /// On a Unix socket: the frame carries the memfd (see framing.hpp). Elsewhere: a copy.
  Result<void> send_large(LargeBuffer& message, std::int64_t type) override;
  Result<Message> receive(Deadline deadline) override;
  void close() noexcept override;
  std::size_t max_message_size() const noexcept override { return kMaxFrameSize; }
  const std::string& url() const noexcept override { return url_; }
  // send touches only the outgoing descriptor; receive only the incoming one and the buffers.
  bool is_full_duplex() const noexcept override { return true; }

 private:
  StreamLink(sys::Fd in, sys::Fd out, bool is_socket, std::string url, ProcessId peer,
             bool is_framed);
  Result<Message> receive_raw(Deadline deadline);
  /// Writes what is left of `left` (after a first partial write), waiting while full.
  Result<void> write_rest(std::span<iovec> left);
  int write_fd() const noexcept { return out_ ? out_.get() : in_.get(); }
  /// Reads more into buffer_ (or, for a large body, straight into body_). closed at EOF.
  Result<void> fill(std::span<std::byte> into, std::size_t& got, Deadline deadline);
  std::unexpected<Error> broken(Errc code, std::string what);
  /// Whether a read on the socket may wait, its receive timeout (SO_RCVTIMEO, set here when
  /// need be) ending no later than `deadline`. False when the deadline is too near for that.
  bool may_read_until(sys::TimePoint deadline);

  sys::Fd in_, out_;
  bool is_socket_;
  bool is_framed_;
  std::string url_;
  ProcessId peer_;
  std::uint64_t received_ = 0;
  // Bytes read but not yet parsed: buffer_[begin_, end_).
  std::vector<std::byte> buffer_;
  std::size_t begin_ = 0, end_ = 0;
  // The frame being received: its header once complete, and its body so far.
  std::optional<FrameHeader> header_;
  std::vector<std::byte> body_;
  std::size_t body_got_ = 0;
  std::optional<Error> broken_;        // the stream lost its framing: every receive says so
  bool can_pass_descriptors_ = false;  // a Unix socket
  std::chrono::milliseconds receive_timeout_{0};  // the socket's SO_RCVTIMEO; 0: none
  std::deque<sys::Fd> descriptors_;  // received with the bytes, not yet claimed by a frame
};

}  // namespace conduit::transport
