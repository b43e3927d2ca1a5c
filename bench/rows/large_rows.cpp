// Large messages, one way: the parent sends `payload` bytes, the child takes them (checks the
// first and last word) and answers with one byte. Hand-off (the message's sealed memfd travels,
// the receiver maps it) beside copying through a Mailbox, a pipe and a Unix socket.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <optional>
#include <vector>

#include "conduit/msg/large_buffer.hpp"
#include "conduit/msg/mailbox.hpp"
#include "conduit/sync/wait.hpp"
#include "rows.hpp"

namespace bench {
namespace {

constexpr std::uint64_t kFirst = 0x4649525354ULL, kLast = 0x4c415354ULL;

/// The words every message carries at its two ends.
void mark(std::span<std::byte> bytes) {
  std::memcpy(bytes.data(), &kFirst, sizeof kFirst);
  std::memcpy(bytes.data() + bytes.size() - sizeof kLast, &kLast, sizeof kLast);
}
void check_marks(std::span<const std::byte> bytes, std::size_t payload) {
  std::uint64_t first = 0, last = 0;
  if (bytes.size() != payload) throw std::runtime_error("large message: wrong size");
  std::memcpy(&first, bytes.data(), sizeof first);
  std::memcpy(&last, bytes.data() + bytes.size() - sizeof last, sizeof last);
  if (first != kFirst || last != kLast) throw std::runtime_error("large message: torn");
}

void write_all(int fd, const std::byte* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    check(n > 0, "write");
    data += n;
    size -= static_cast<std::size_t>(n);
  }
}
void read_all(int fd, std::byte* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::read(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    check(n > 0, "read");
    data += n;
    size -= static_cast<std::size_t>(n);
  }
}

/// A data mailbox one way and an acknowledgement mailbox back.
class MailboxRow : public RoundTrip {
 public:
  enum class How { handoff_buffer, handoff_span, copy };
  explicit MailboxRow(How how) : how_(how) {}
  std::string name() const override {
    switch (how_) {
      case How::handoff_buffer: return "conduit send_large (hand-off)";
      case How::handoff_span: return "conduit send_large(span) (1 copy)";
      case How::copy: return "conduit Mailbox send (copies)";
    }
    return "";
  }
  Wait wait() const override { return Wait::blocking; }
  void prepare(std::size_t payload) override {
    payload_ = payload;
    data_name_ = unique_name("bench-large");
    ack_name_ = unique_name("bench-large-ack");
    // Copying needs slots as large as the message; a hand-off needs only its 32-byte record.
    const std::size_t max_size = how_ == How::copy ? payload : 4096;
    data_.emplace(must(conduit::Mailbox::create(
        data_name_, {.capacity = conduit::Capacity::bounded(1), .max_message_size = max_size})));
    ack_.emplace(
        must(conduit::Mailbox::create(ack_name_, {.capacity = conduit::Capacity::bounded(1)})));
    bytes_.assign(payload, std::byte{'x'});
    mark(bytes_);
    if (how_ == How::handoff_buffer) {
      // Written once, sealed once, handed off every round: the receiver maps the same pages.
      buffer_.emplace(must(conduit::LargeBuffer::create(payload)));
      std::memcpy(buffer_->bytes().data(), bytes_.data(), payload);
      must(buffer_->seal());
    }
  }
  void serve(std::size_t count) override {
    conduit::sync::set_spin_rounds(0);
    for (std::size_t i = 0; i < count; ++i) {
      auto message = must(data_->receive());
      check_marks(message.payload(), payload_);
      must(ack_->send(std::string_view("k")));
    }
  }
  void ping() override {
    conduit::sync::set_spin_rounds(0);
    switch (how_) {
      case How::handoff_buffer: must(data_->send_large(*buffer_)); break;
      case How::handoff_span: must(data_->send_large(std::span<const std::byte>(bytes_))); break;
      case How::copy: must(data_->send(std::span<const std::byte>(bytes_))); break;
    }
    (void)must(ack_->receive());
  }
  void cleanup() override {
    data_.reset();
    ack_.reset();
    buffer_.reset();
    (void)conduit::Mailbox::remove(data_name_);
    (void)conduit::Mailbox::remove(ack_name_);
    conduit::sync::set_spin_rounds(conduit::sync::kSpinRounds);
  }

 private:
  How how_;
  std::size_t payload_ = 0;
  std::string data_name_, ack_name_;
  std::optional<conduit::Mailbox> data_, ack_;
  std::optional<conduit::LargeBuffer> buffer_;
  std::vector<std::byte> bytes_;
};

/// The bytes down a pipe or a stream socket, one byte back.
class FdRow : public RoundTrip {
 public:
  explicit FdRow(bool is_socket) : is_socket_(is_socket) {}
  std::string name() const override {
    return is_socket_ ? "unix socketpair stream (copies)" : "pipe (copies)";
  }
  Wait wait() const override { return Wait::blocking; }
  void prepare(std::size_t payload) override {
    payload_ = payload;
    bytes_.assign(payload, std::byte{'x'});
    mark(bytes_);
    if (is_socket_) {
      int pair[2];
      check(::socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0, "socketpair");
      const int size = 4 << 20;
      for (int fd : pair) {
        ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
        ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
      }
      parent_ = pair[0];
      child_ = pair[1];
    } else {
      int down[2], up[2];
      check(::pipe(down) == 0 && ::pipe(up) == 0, "pipe");
      ::fcntl(down[1], F_SETPIPE_SZ, 1 << 20);  // the most an unprivileged process may ask
      parent_out_ = down[1], child_in_ = down[0], child_out_ = up[1], parent_in_ = up[0];
    }
  }
  void serve(std::size_t count) override {
    std::vector<std::byte> copy(payload_);
    const int in = is_socket_ ? child_ : child_in_, out = is_socket_ ? child_ : child_out_;
    for (std::size_t i = 0; i < count; ++i) {
      read_all(in, copy.data(), copy.size());
      check_marks(copy, payload_);
      const std::byte ack{'k'};
      write_all(out, &ack, 1);
    }
  }
  void ping() override {
    const int in = is_socket_ ? parent_ : parent_in_, out = is_socket_ ? parent_ : parent_out_;
    write_all(out, bytes_.data(), bytes_.size());
    std::byte ack{};
    read_all(in, &ack, 1);
  }
  void cleanup() override {
    for (int fd : {parent_, child_, parent_in_, parent_out_, child_in_, child_out_})
      if (fd >= 0) ::close(fd);
  }

 private:
  bool is_socket_;
  std::size_t payload_ = 0;
  int parent_ = -1, child_ = -1;
  int parent_in_ = -1, parent_out_ = -1, child_in_ = -1, child_out_ = -1;
  std::vector<std::byte> bytes_;
};

}  // namespace

RoundTripFactory conduit_large_handoff() {
  return [] { return std::make_unique<MailboxRow>(MailboxRow::How::handoff_buffer); };
}
RoundTripFactory conduit_large_handoff_copy() {
  return [] { return std::make_unique<MailboxRow>(MailboxRow::How::handoff_span); };
}
RoundTripFactory conduit_large_mailbox_copy() {
  return [] { return std::make_unique<MailboxRow>(MailboxRow::How::copy); };
}
RoundTripFactory large_pipe() {
  return [] { return std::make_unique<FdRow>(false); };
}
RoundTripFactory large_socket() {
  return [] { return std::make_unique<FdRow>(true); };
}

}  // namespace bench
