#include "stream_link.hpp"

#include <fmt/format.h>

#include <poll.h>

#include <algorithm>
#include <cstring>

#include "conduit/sys/fd_passing.hpp"
#include "conduit/sys/io.hpp"
#include "mechanisms.hpp"

namespace conduit::transport {
namespace {

constexpr std::size_t kBufferSize = 64 * 1024;
// Descriptors received ahead of their frames: more than this many is a peer out of step.
constexpr std::size_t kMaxPendingDescriptors = 64;
// A deadline nearer than this is waited for by poll, not by a read under a receive timeout.
constexpr std::chrono::milliseconds kLeastTimedRead{2};

}  // namespace

StreamLink::StreamLink(sys::Fd in, sys::Fd out, bool is_socket, std::string url, ProcessId peer,
                       bool is_framed)
    : in_(std::move(in)),
      out_(std::move(out)),
      is_socket_(is_socket),
      is_framed_(is_framed),
      url_(std::move(url)),
      peer_(peer),
      buffer_(kBufferSize),
      can_pass_descriptors_(is_socket && is_framed && sys::is_unix_socket(in_.get())) {}

Result<std::unique_ptr<StreamLink>> StreamLink::make(sys::Fd in, sys::Fd out, bool is_socket,
                                                     std::string url, ProcessId peer,
                                                     bool is_framed) {
  // Blocking descriptors: a receive with no deadline is one read that sleeps in the kernel,
  // and a send one write, as the raw mechanism's. Waits with a deadline poll first (pipes) or
  // read with MSG_DONTWAIT (sockets).
  for (const sys::Fd* fd : {&in, &out}) {
    if (!*fd) continue;
    if (auto set = sys::set_nonblocking(fd->get(), false); !set) {
      return fail(set.error(), fmt::format("{}: connect", url));
    }
  }
  return std::unique_ptr<StreamLink>(
      new StreamLink(std::move(in), std::move(out), is_socket, std::move(url), peer, is_framed));
}

Result<void> StreamLink::send(std::span<const std::byte> payload, std::int64_t type) {
  if (payload.size() > kMaxFrameSize) {
    return fail(Errc::message_too_large,
                fmt::format("{}: send: message of {} bytes exceeds the frame limit {}", url_,
                            payload.size(), kMaxFrameSize));
  }
  const FrameHeader header{kFrameMagic, static_cast<std::uint32_t>(payload.size()), type};
  iovec parts[2] = {
      {const_cast<FrameHeader*>(&header), sizeof header},
      {const_cast<std::byte*>(payload.data()), payload.size()},
  };
  std::span<iovec> left(parts, payload.empty() ? 1 : 2);
  if (!is_framed_) left = payload.empty() ? std::span<iovec>() : std::span<iovec>(parts + 1, 1);
  return write_rest(left);
}

Result<void> StreamLink::send_large(LargeBuffer& message, std::int64_t type) {
  if (!can_pass_descriptors_) return Link::send_large(message, type);
  if (auto sealed = message.seal(); !sealed) return sealed;
  const FrameHeader header{kHandoffFrameMagic, sizeof(std::uint64_t), type};
  const std::uint64_t size = message.size();
  iovec parts[2] = {
      {const_cast<FrameHeader*>(&header), sizeof header},
      {const_cast<std::uint64_t*>(&size), sizeof size},
  };
  std::span<iovec> left(parts, 2);
  for (;;) {
    auto n = sys::send_with_descriptor(write_fd(), left, message.fd());
    if (n) {
      sys::consume(left, *n);
      return write_rest(left);
    }
    if (n.error().code == EAGAIN) {
      auto ready = sys::wait_ready(write_fd(), POLLOUT, std::nullopt);
      if (!ready) return fail(ready.error(), fmt::format("{}: send_large", url_));
      continue;
    }
    if (errc_from_errno(n.error().code) == Errc::closed)
      return fail(Errc::closed,
                  fmt::format("{}: send_large: the peer closed the connection", url_));
    return fail(n.error(), fmt::format("{}: send_large", url_));
  }
}

Result<void> StreamLink::write_rest(std::span<iovec> left) {
  while (!left.empty()) {
    auto n = sys::write_some(write_fd(), left, is_socket_);
    if (!n) {
      if (n.error().code == EAGAIN) {
        auto ready = sys::wait_ready(write_fd(), POLLOUT, std::nullopt);
        if (!ready) return fail(ready.error(), fmt::format("{}: send", url_));
        continue;
      }
      if (errc_from_errno(n.error().code) == Errc::closed) {
        return fail(Errc::closed, fmt::format("{}: send: the peer closed the connection", url_));
      }
      return fail(n.error(), fmt::format("{}: send", url_));
    }
    sys::consume(left, *n);
  }
  return {};
}

std::unexpected<Error> StreamLink::broken(Errc code, std::string what) {
  broken_ = Error(code, fmt::format("{}: receive: {}", url_, what));
  return std::unexpected(*broken_);
}

Result<void> StreamLink::fill(std::span<std::byte> into, std::size_t& got, Deadline deadline) {
  // With no deadline the read itself waits. With one, a socket whose receive timeout ends
  // before the deadline also waits in its read (one recv, as with no deadline, and again if
  // the timeout ends first); nearer the deadline it tries at once (MSG_DONTWAIT) and polls only
  // when nothing is there. A pipe, which has no per-call non-blocking read, polls first (it
  // has one reader: ready stays ready until this read).
  bool may_wait = !deadline || (is_socket_ && may_read_until(*deadline));
  for (;;) {
    if (!may_wait && !is_socket_) {
      auto ready = sys::wait_ready(in_.get(), POLLIN, deadline);
      if (!ready) return fail(ready.error(), fmt::format("{}: receive", url_));
      if (!*ready) return fail(Errc::timed_out, fmt::format("{}: receive: timed out", url_));
    }
    sys::SysResult<std::size_t> n;
    if (can_pass_descriptors_) {
      std::vector<sys::Fd> arrived;
      n = sys::read_with_descriptors(in_.get(), into, arrived, may_wait);
      for (auto& fd : arrived) descriptors_.push_back(std::move(fd));
      if (descriptors_.size() > kMaxPendingDescriptors)
        return broken(Errc::corrupted, fmt::format("{} descriptors sent without hand-off frames",
                                                   descriptors_.size()));
    } else if (is_socket_) {
      n = sys::receive_some(in_.get(), into, may_wait);
    } else {
      n = sys::read_some(in_.get(), into);
    }
    if (n && *n > 0) {
      got += *n;
      return {};
    }
    if (n) return fail(Errc::closed, fmt::format("{}: receive: the peer closed", url_));
    if (n.error().code == EAGAIN) {
      if (may_wait && deadline) {  // the receive timeout ended
        if (sys::now() >= *deadline) {
          return fail(Errc::timed_out, fmt::format("{}: receive: timed out", url_));
        }
        may_wait = may_read_until(*deadline);
        if (may_wait) continue;
      }
      auto ready = sys::wait_ready(in_.get(), POLLIN, deadline);
      if (!ready) return fail(ready.error(), fmt::format("{}: receive", url_));
      if (!*ready) return fail(Errc::timed_out, fmt::format("{}: receive: timed out", url_));
      continue;
    }
    if (errc_from_errno(n.error().code) == Errc::closed) {
      return fail(Errc::closed, fmt::format("{}: receive: the peer closed", url_));
    }
    return fail(n.error(), fmt::format("{}: receive", url_));
  }
}

bool StreamLink::may_read_until(sys::TimePoint deadline) {
  const auto left = std::chrono::floor<std::chrono::milliseconds>(deadline - sys::now());
  if (left < kLeastTimedRead) return false;
  if (receive_timeout_ > std::chrono::milliseconds::zero() && receive_timeout_ <= left) return true;
  // Set once for a run of waits as long as this one (a server's reader waits the same slice
  // each time): a setsockopt per receive would cost what the single read saves.
  if (!sys::set_receive_timeout(in_.get(), left)) return false;
  receive_timeout_ = left;
  return true;
}

Result<Message> StreamLink::receive_raw(Deadline deadline) {
  std::size_t got = 0;
  auto filled = fill(std::span(buffer_), got, deadline);
  if (!filled) return std::unexpected(filled.error());
  return copied_message(std::span(buffer_).first(got), 0, peer_, ++received_);
}

Result<Message> StreamLink::receive(Deadline deadline) {
  if (!is_framed_) return receive_raw(deadline);
  if (broken_) return std::unexpected(*broken_);
  for (;;) {
    if (!header_) {
      if (end_ - begin_ >= sizeof(FrameHeader)) {
        FrameHeader header;
        std::memcpy(&header, buffer_.data() + begin_, sizeof header);
        begin_ += sizeof header;
        const bool is_handoff = can_pass_descriptors_ && header.magic == kHandoffFrameMagic;
        if (is_handoff && header.length != sizeof(std::uint64_t)) {
          return broken(Errc::corrupted,
                        fmt::format("hand-off frame of {} bytes (expected 8)", header.length));
        }
        if (header.magic != kFrameMagic && !is_handoff) {
          return broken(Errc::corrupted, fmt::format("bad frame magic {:#010x} (expected {:#010x})",
                                                     header.magic, kFrameMagic));
        }
        if (header.length > kMaxFrameSize) {
          return broken(Errc::message_too_large,
                        fmt::format("frame of {} bytes exceeds the frame limit {}", header.length,
                                    kMaxFrameSize));
        }
        header_ = header;
        body_.clear();
        body_got_ = 0;
        continue;
      }
      // Need more header bytes: keep what we have at the front and read behind it.
      if (begin_ > 0) {
        std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
        end_ -= begin_;
        begin_ = 0;
      }
      const std::size_t had = end_;
      auto filled = fill(std::span(buffer_).subspan(end_), end_, deadline);
      if (!filled) {
        if (filled.error().code() == Errc::closed && had > 0) {
          return broken(Errc::corrupted, fmt::format("the stream ended {} bytes into a {}-byte "
                                                     "frame header",
                                                     had, sizeof(FrameHeader)));
        }
        return std::unexpected(filled.error());
      }
      continue;
    }
    // A whole body already buffered (a small message, the usual case): one copy into one
    // allocation that the Message owns.
    if (body_got_ == 0 && header_->magic == kFrameMagic && end_ - begin_ >= header_->length) {
      Message message = copied_message(std::span(buffer_).subspan(begin_, header_->length),
                                       header_->type, peer_, ++received_);
      begin_ += header_->length;
      if (begin_ == end_) begin_ = end_ = 0;
      header_.reset();
      return message;
    }
    // Else the body's memory is reserved (address space only: the length was checked against
    // the limit) and filled in as the bytes arrive, so a header alone commits no memory for the
    // length it claims.
    if (body_.capacity() < header_->length) body_.reserve(header_->length);
    // The body: first from what is buffered, then from the stream.
    const std::size_t want = header_->length - body_got_;
    const std::size_t buffered = std::min(want, end_ - begin_);
    // Within the reserved capacity: growing never moves the body.
    const auto grow_body = [&](std::size_t size) {
      if (body_.size() < size) body_.resize(size);
    };
    if (buffered > 0) {
      grow_body(body_got_ + buffered);
      std::memcpy(body_.data() + body_got_, buffer_.data() + begin_, buffered);
      body_got_ += buffered;
      begin_ += buffered;
    }
    if (begin_ == end_) begin_ = end_ = 0;
    if (body_got_ == header_->length && header_->magic == kHandoffFrameMagic) {
      std::uint64_t size = 0;
      std::memcpy(&size, body_.data(), sizeof size);
      const std::int64_t type = header_->type;
      header_.reset();
      body_ = {};
      if (descriptors_.empty())
        return broken(Errc::corrupted, "hand-off frame without its descriptor");
      sys::Fd fd = std::move(descriptors_.front());
      descriptors_.pop_front();
      return map_handed_off(std::move(fd), size, 0, type, peer_, ++received_,
                            fmt::format("{}: receive", url_));
    }
    if (body_got_ == header_->length) {
      body_.resize(body_got_);
      Message message(std::move(body_), header_->type, peer_, ++received_);
      header_.reset();
      body_ = {};
      return message;
    }
    // Large remainders go straight into the body; small ones through the buffer, which may
    // also pick up the frames behind this one.
    const std::size_t remaining = header_->length - body_got_;
    Result<void> filled;
    if (remaining >= buffer_.size()) {
      // In steps no larger than what has arrived so far (doubling), not all the claimed length.
      const std::size_t step = std::min(remaining, std::max(buffer_.size(), body_got_));
      grow_body(body_got_ + step);
      filled = fill(std::span(body_).subspan(body_got_, step), body_got_, deadline);
    } else {
      filled = fill(std::span(buffer_).subspan(end_), end_, deadline);
    }
    if (!filled) {
      if (filled.error().code() == Errc::closed) {
        return broken(Errc::corrupted,
                      fmt::format("the stream ended {} bytes into a {}-byte message", body_got_,
                                  header_->length));
      }
      return std::unexpected(filled.error());
    }
  }
}

void StreamLink::close() noexcept {
  descriptors_.clear();
  in_.reset();
  out_.reset();
}

}  // namespace conduit::transport
