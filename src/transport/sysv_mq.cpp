// sysv://key: System V message queues, one message per queued message (native boundaries).
// A message's System V type carries Message::type(): mtype = type + 1 (mtype must be > 0);
// the two largest mtypes are the handshake's answer and the close record.
//
// listen creates the queue `key` for requests (IPC_EXCL: a key in use is already_exists). A
// client creates two private queues (IPC_PRIVATE), up (client to listener) and down, and posts
// their ids with its ProcessId on the request queue; the listener answers on down with its own.
// Messages hold up to /proc/sys/kernel/msgmax bytes.
//
// System V queues have no descriptors to poll and outlive every process, so: waits poll with a
// short sleep (TODO(perf): up to 2 ms of latency when idle), and a peer's death is noticed by
// its ProcessId (queue_link.hpp). close() posts a close record and removes its incoming queue,
// so the peer's sends fail with closed at once and its receives end, after what was sent before,
// with closed; the last end to close (or the survivor of a dead peer) removes the other queue.
// If both ends die without closing, their queues stay until `ipcrm` — System V's nature.
#include <fmt/format.h>
#include <sys/ipc.h>
#include <sys/msg.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <climits>
#include <cstring>
#include <vector>

#include "backoff.hpp"
#include "conduit/sys/file.hpp"
#include "mechanisms.hpp"
#include "queue_link.hpp"

namespace conduit::transport {
namespace {

constexpr long kRequestType = 1;
constexpr long kAnswerType = LONG_MAX - 1;
constexpr long kCloseType = LONG_MAX;
constexpr std::int64_t kMaxUserType = LONG_MAX - 3;  // + 1 stays below kAnswerType

std::size_t message_size_limit() {
  auto text = sys::read_small_file("/proc/sys/kernel/msgmax");
  long value = 0;
  if (!text ||
      std::from_chars(text->data(), text->data() + text->size(), value).ec != std::errc() ||
      value <= 0) {
    return 8192;
  }
  return static_cast<std::size_t>(value);
}

/// A message buffer as msgsnd/msgrcv want it: a long mtype, then the text.
class Buffer {
 public:
  explicit Buffer(std::size_t capacity) : storage_(sizeof(long) + capacity) {}
  void* get() noexcept { return storage_.data(); }
  long type() const noexcept {
    long type = 0;
    std::memcpy(&type, storage_.data(), sizeof type);
    return type;
  }
  void set(long type, std::span<const std::byte> text) {
    storage_.resize(std::max(storage_.size(), sizeof(long) + text.size()));
    std::memcpy(storage_.data(), &type, sizeof type);
    if (!text.empty()) std::memcpy(storage_.data() + sizeof(long), text.data(), text.size());
  }
  std::span<const std::byte> text(std::size_t size) const {
    return std::span(storage_).subspan(sizeof(long), size);
  }
  std::size_t capacity() const noexcept { return storage_.size() - sizeof(long); }

 private:
  std::vector<std::byte> storage_;
};

sys::SysResult<void> post(int queue, Buffer& buffer, long type, std::span<const std::byte> text) {
  buffer.set(type, text);
  auto sent =
      sys::call("msgsnd", [&] { return ::msgsnd(queue, buffer.get(), text.size(), IPC_NOWAIT); });
  if (!sent) return std::unexpected(sent.error());
  return {};
}

sys::SysResult<std::size_t> take(int queue, Buffer& buffer, long type) {
  auto got = sys::call(
      "msgrcv", [&] { return ::msgrcv(queue, buffer.get(), buffer.capacity(), type, IPC_NOWAIT); });
  if (!got) return std::unexpected(got.error());
  return static_cast<std::size_t>(*got);
}

bool exists(int queue) {
  msqid_ds status{};
  auto got = sys::call("msgctl", [&] { return ::msgctl(queue, IPC_STAT, &status); });
  return got.has_value();
}

void remove_queue(int queue) {
  (void)sys::call("msgctl", [&] { return ::msgctl(queue, IPC_RMID, nullptr); });
}

bool is_gone(const sys::SysError& error) { return error.code == EIDRM || error.code == EINVAL; }

class SysvLink final : public Link {
 public:
  SysvLink(int in, int out, ProcessId peer, std::string url)
      : in_(in),
        out_(out),
        max_size_(message_size_limit()),
        peer_(peer),
        url_(std::move(url)),
        buffer_(max_size_) {}
  ~SysvLink() override { close(); }

  Result<void> send(std::span<const std::byte> payload, std::int64_t type) override {
    if (payload.size() > max_size_) {
      return fail(Errc::message_too_large,
                  fmt::format("{}: send: message of {} bytes exceeds msgmax {}", url_,
                              payload.size(), max_size_));
    }
    if (type > kMaxUserType) {
      return fail(Errc::invalid_argument,
                  fmt::format("{}: send: message type {} exceeds {}", url_, type, kMaxUserType));
    }
    Backoff backoff;
    auto next_check = sys::deadline_after(kLivenessInterval);
    for (;;) {
      if (is_peer_closed_) return closed("send");
      auto sent = post(out_, send_buffer_, static_cast<long>(type) + 1, payload);
      if (sent) return {};
      if (is_gone(sent.error())) return closed("send");
      if (sent.error().code != EAGAIN) return fail(sent.error(), fmt::format("{}: send", url_));
      if (sys::now() >= next_check) {
        if (!alive(peer_)) return closed("send");
        next_check = sys::deadline_after(kLivenessInterval);
      }
      backoff.pause(next_check);
    }
  }

  Result<Message> receive(Deadline deadline) override {
    Backoff backoff;
    auto next_check = sys::deadline_after(kLivenessInterval);
    for (;;) {
      auto got = take(in_, buffer_, 0);
      if (got) {
        if (buffer_.type() == kCloseType) {
          is_peer_closed_ = true;
          continue;
        }
        if (buffer_.type() <= 0 || buffer_.type() > kMaxUserType + 1) {
          return fail(Errc::corrupted,
                      fmt::format("{}: receive: unexpected message type {}", url_, buffer_.type()));
        }
        return Message::copy_of(buffer_.text(*got), buffer_.type() - 1, peer_, ++received_);
      }
      if (is_gone(got.error())) return closed("receive");
      if (got.error().code != ENOMSG) return fail(got.error(), fmt::format("{}: receive", url_));
      if (is_peer_closed_) return closed("receive");
      if (expired(deadline))
        return fail(Errc::timed_out, fmt::format("{}: receive: timed out", url_));
      if (sys::now() >= next_check) {
        // Dead, or closed without room for its close record (it removed our outgoing queue):
        // take what is left, then closed.
        if (!alive(peer_) || !exists(out_)) is_peer_closed_ = true;
        next_check = sys::deadline_after(kLivenessInterval);
        continue;
      }
      backoff.pause(deadline ? std::min(*deadline, next_check) : next_check);
    }
  }

  void close() noexcept override {
    if (in_ < 0) return;
    const bool is_peer_gone = is_peer_closed_ || !alive(peer_) || !exists(out_);
    (void)post(out_, send_buffer_, kCloseType, {});
    remove_queue(in_);
    if (is_peer_gone) remove_queue(out_);
    in_ = out_ = -1;
  }

  std::size_t max_message_size() const noexcept override { return max_size_; }
  const std::string& url() const noexcept override { return url_; }
  // Two queues and a buffer each; the one flag both sides touch is atomic.
  bool is_full_duplex() const noexcept override { return true; }

 private:
  std::unexpected<Error> closed(std::string_view operation) const {
    return fail(Errc::closed, fmt::format("{}: {}: the peer closed or died", url_, operation));
  }

  int in_, out_;
  std::size_t max_size_;
  ProcessId peer_;
  std::string url_;
  Buffer buffer_;
  Buffer send_buffer_{0};
  // Set by receive, read by send (perhaps in another thread); it guards nothing but itself, so
  // the default order is more than it needs.
  std::atomic<bool> is_peer_closed_{false};
  std::uint64_t received_ = 0;
};

class SysvAcceptor final : public Acceptor {
 public:
  SysvAcceptor(int requests, std::string url) : requests_(requests), url_(std::move(url)) {}
  ~SysvAcceptor() override { remove_queue(requests_); }

  LinkResult accept(Deadline deadline) override {
    Buffer buffer(sizeof(QueueHandshake));
    Backoff backoff;
    for (;;) {
      auto got = take(requests_, buffer, kRequestType);
      if (got) {
        QueueHandshake request{};
        if (*got != sizeof request) continue;  // not a conduit request: ignore it
        std::memcpy(&request, buffer.text(*got).data(), sizeof request);
        auto link = answer(request);
        if (link) return link;
        continue;  // the client went away before we could answer
      }
      if (is_gone(got.error())) {
        return fail(Errc::closed, fmt::format("{}: accept: the request queue was removed", url_));
      }
      if (got.error().code != ENOMSG) return fail(got.error(), fmt::format("{}: accept", url_));
      if (expired(deadline))
        return fail(Errc::timed_out, fmt::format("{}: accept: timed out", url_));
      backoff.pause(deadline);
    }
  }

  const std::string& url() const noexcept override { return url_; }

 private:
  LinkResult answer(const QueueHandshake& request) {
    const int up = static_cast<int>(request.up);
    const int down = static_cast<int>(request.down);
    if (request.up != up || request.down != down || !exists(up) || !exists(down)) {
      return fail(Errc::closed, fmt::format("{}: accept: the client went away", url_));
    }
    const QueueHandshake reply = handshake_of(self(), request.serial);
    Buffer buffer(sizeof reply);
    auto sent = post(down, buffer, kAnswerType, std::as_bytes(std::span(&reply, 1)));
    if (!sent) return fail(sent.error(), fmt::format("{}: accept", url_));
    return std::make_unique<SysvLink>(up, down, process_of(request), url_);
  }

  int requests_;
  std::string url_;
};

sys::SysResult<int> make_queue(key_t key, int flags) {
  auto id = sys::call("msgget", [&] { return ::msgget(key, flags); });
  if (!id) return std::unexpected(id.error());
  return static_cast<int>(*id);
}

}  // namespace

AcceptorResult listen_sysv(const Url& url) {
  auto requests = make_queue(static_cast<key_t>(url.number), IPC_CREAT | IPC_EXCL | 0600);
  if (!requests) return fail(requests.error(), fmt::format("{}: listen", url.text));
  return std::make_unique<SysvAcceptor>(*requests, url.to_string());
}

LinkResult connect_sysv(const Url& url) {
  const std::string context = fmt::format("{}: connect", url.text);
  auto requests = make_queue(static_cast<key_t>(url.number), 0);
  if (!requests) return fail(requests.error(), fmt::format("{} (nobody listens there)", context));
  auto up = make_queue(IPC_PRIVATE, IPC_CREAT | 0600);
  if (!up) return fail(up.error(), context);
  auto down = make_queue(IPC_PRIVATE, IPC_CREAT | 0600);
  if (!down) {
    remove_queue(*up);
    return fail(down.error(), context);
  }
  auto give_up_with = [&](std::unexpected<Error> error) -> LinkResult {
    remove_queue(*up);
    remove_queue(*down);
    return error;
  };
  QueueHandshake request = handshake_of(self(), next_serial());
  request.up = *up;
  request.down = *down;
  Buffer buffer(sizeof request);
  const auto give_up = sys::deadline_after(kHandshakeTimeout);
  Backoff backoff;
  for (;;) {
    auto sent = post(*requests, buffer, kRequestType, std::as_bytes(std::span(&request, 1)));
    if (sent) break;
    if (is_gone(sent.error())) {
      return give_up_with(fail(Errc::closed, context + ": the listener went away"));
    }
    if (sent.error().code != EAGAIN) return give_up_with(fail(sent.error(), context));
    if (sys::now() >= give_up) {
      return give_up_with(fail(Errc::timed_out, context + ": the listener is not taking requests"));
    }
    backoff.pause(give_up);
  }
  for (;;) {
    auto got = take(*down, buffer, kAnswerType);
    if (got) {
      QueueHandshake reply{};
      if (*got != sizeof reply) {
        return give_up_with(fail(Errc::corrupted, context + ": malformed answer"));
      }
      std::memcpy(&reply, buffer.text(*got).data(), sizeof reply);
      return std::make_unique<SysvLink>(*down, *up, process_of(reply), url.to_string());
    }
    if (got.error().code != ENOMSG) return give_up_with(fail(got.error(), context));
    if (!exists(*requests)) {
      return give_up_with(fail(Errc::closed, context + ": the listener went away"));
    }
    if (sys::now() >= give_up) {
      return give_up_with(fail(Errc::timed_out, context + ": the listener did not answer"));
    }
    backoff.pause(give_up);
  }
}

}  // namespace conduit::transport
