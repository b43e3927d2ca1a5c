// sysv://key: System V message queues, one message per queued message (native boundaries).
// A message's System V type carries Message::type(): mtype = type + 1 (mtype must be > 0);
// the three largest mtypes are the waker's tick, the handshake's answer and the close record.
//
// listen creates the queue `key` for requests (IPC_EXCL: a key in use is already_exists). A
// client creates two private queues (IPC_PRIVATE), up (client to listener) and down, and posts
// their ids with its ProcessId on the request queue; the listener answers on down with its own.
// Messages hold up to /proc/sys/kernel/msgmax bytes.
//
// Waits sleep in the kernel: a receive in msgrcv, a send to a full queue in msgsnd, accept and
// connect in msgrcv. System V queues have no descriptor to poll, so whatever must end such a
// sleep posts a record into the queue or removes it (sysv_waker.hpp says why this way):
// close() posts a close record and removes its incoming queue, so the peer's receives end,
// after what was sent before, with closed, and its sends (even one blocked on a full queue)
// fail with closed at once; a timed wait arms a timer, whose tick record the waker thread posts;
// when the peer dies its pidfd wakes the waker, which posts a close record for it and removes
// its incoming queue. The last end to close (or the survivor of a dead peer) removes the other
// queue. If both ends die without closing, their queues stay until `ipcrm` — System V's nature.
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
#include "conduit/core/process.hpp"
#include "conduit/sys/file.hpp"
#include "mechanisms.hpp"
#include "queue_link.hpp"
#include "sysv_waker.hpp"

namespace conduit::transport {
namespace {

constexpr long kRequestType = 1;
constexpr long kTickType = LONG_MAX - 2;
constexpr long kAnswerType = LONG_MAX - 1;
constexpr long kCloseType = LONG_MAX;
constexpr std::int64_t kMaxUserType = LONG_MAX - 4;  // + 1 stays below kTickType
// The waker posts ticks, and a close record for a peer that died.
constexpr WakeRecords kWakeRecords{.tick_type = kTickType, .death_type = kCloseType};
// How long close() waits for room for its close record in a queue full to its message count.
constexpr std::chrono::milliseconds kCloseWait{1000};

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

/// One msgsnd: waits for room unless `flags` has IPC_NOWAIT (then EAGAIN when full).
sys::SysResult<void> post(int queue, Buffer& buffer, long type, std::span<const std::byte> text,
                          int flags = IPC_NOWAIT) {
  buffer.set(type, text);
  auto sent =
      sys::call("msgsnd", [&] { return ::msgsnd(queue, buffer.get(), text.size(), flags); });
  if (!sent) return std::unexpected(sent.error());
  return {};
}

/// One msgrcv of the first record of `type` (0: any): waits unless `flags` has IPC_NOWAIT (then
/// ENOMSG when there is none).
sys::SysResult<std::size_t> take(int queue, Buffer& buffer, long type, int flags = IPC_NOWAIT) {
  auto got = sys::call(
      "msgrcv", [&] { return ::msgrcv(queue, buffer.get(), buffer.capacity(), type, flags); });
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
  SysvLink(int in, int out, ProcessId peer, std::string url, std::unique_ptr<SysvWatch> watch)
      : in_(in),
        out_(out),
        max_size_(message_size_limit()),
        peer_(peer),
        url_(std::move(url)),
        buffer_(max_size_),
        watch_(std::move(watch)) {}
  ~SysvLink() override { close(); }

  Result<void> send(std::span<const std::byte> payload, std::int64_t type) override {
    if (payload.size() > max_size_) {
      return fail(Errc::message_too_large,
                  fmt::format("{}: send: message of {} bytes exceeds msgmax {}", url_,
                              payload.size(), max_size_));
    }
    if (type > kMaxUserType) {  // Connection refused a negative one
      return fail(Errc::invalid_argument,
                  fmt::format("{}: send: message type {} exceeds {}", url_, type, kMaxUserType));
    }
    if (is_peer_closed_.load(std::memory_order_relaxed)) return closed("send");
    // Waits in msgsnd while the queue is full: the peer's close, or its death seen by the
    // waker, removes the queue, and msgsnd ends with EIDRM.
    auto sent = post(out_, send_buffer_, static_cast<long>(type) + 1, payload, 0);
    if (sent) return {};
    if (is_gone(sent.error())) return closed("send");
    return fail(sent.error(), fmt::format("{}: send", url_));
  }

  Result<Message> receive(Deadline deadline) override {
    bool is_armed = false;  // a tick for `deadline` is on its way
    for (;;) {
      const bool may_sleep = !is_peer_closed_.load(std::memory_order_relaxed) &&
                             !watch_->is_peer_dead() && (!deadline || is_armed);
      auto got = take(in_, buffer_, 0, may_sleep ? 0 : IPC_NOWAIT);
      if (got) {
        const long type = buffer_.type();
        if (type == kTickType) {
          // Ours, or a late one of an earlier wait: only the deadline says which.
          if (deadline && expired(deadline)) is_armed = false;
          continue;
        }
        if (type == kCloseType) {
          is_peer_closed_.store(true, std::memory_order_relaxed);
          continue;  // what it sent before closing may still be queued behind
        }
        if (type <= 0 || type > kMaxUserType + 1) {
          return fail(Errc::corrupted,
                      fmt::format("{}: receive: unexpected message type {}", url_, type));
        }
        return copied_message(buffer_.text(*got), type - 1, peer_, ++received_);
      }
      if (is_gone(got.error())) return closed("receive");
      if (got.error().code != ENOMSG) return fail(got.error(), fmt::format("{}: receive", url_));
      // Nothing queued, and this try did not sleep.
      if (is_peer_closed_.load(std::memory_order_relaxed) || watch_->is_peer_dead()) {
        is_peer_closed_.store(true, std::memory_order_relaxed);
        return closed("receive");
      }
      if (expired(deadline))
        return fail(Errc::timed_out, fmt::format("{}: receive: timed out", url_));
      if (auto armed = watch_->arm(*deadline); !armed) return std::unexpected(armed.error());
      is_armed = true;
    }
  }

  void close() noexcept override {
    if (in_ < 0) return;
    // Tell the peer. A zero-byte record fits unless the queue holds its maximum count of
    // messages; then wait a little for room, as long as the peer lives to make it.
    const auto give_up = sys::deadline_after(kCloseWait);
    Backoff backoff;
    for (;;) {
      auto sent = post(out_, send_buffer_, kCloseType, {});
      if (sent || sent.error().code != EAGAIN || watch_->is_peer_dead() || sys::now() >= give_up) {
        break;
      }
      backoff.pause(give_up);
    }
    // Unregistered first: from here on the waker neither posts into in_ nor removes out_.
    const bool was_removed_by_waker = watch_->is_peer_dead();
    watch_.reset();
    remove_queue(in_);
    if (!was_removed_by_waker && !alive(peer_)) remove_queue(out_);
    in_ = out_ = -1;
  }

  std::size_t max_message_size() const noexcept override { return max_size_; }
  const std::string& url() const noexcept override { return url_; }
  // Two queues and a buffer each; the flag both sides touch is atomic.
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
  std::unique_ptr<SysvWatch> watch_;  // ticks into in_; the peer's death
  // Set by receive, read by send (perhaps in another thread); it guards nothing but itself, so
  // relaxed order is enough.
  std::atomic<bool> is_peer_closed_{false};
  std::uint64_t received_ = 0;
};

/// Makes a link's watch: ticks into `in`, and the peer's death (which removes `out`).
Result<void> watch_peer(SysvWatch& watch, ProcessId peer, int out, std::string_view context) {
  if (auto watched = watch.watch_peer(peer, out); !watched) {
    return fail(watched.error().code(), fmt::format("{}: {}", context, watched.error().message()));
  }
  return {};
}

class SysvAcceptor final : public Acceptor {
 public:
  SysvAcceptor(int requests, std::string url) : requests_(requests), url_(std::move(url)) {}
  ~SysvAcceptor() override {
    watch_.reset();  // before the queue goes: no tick into a removed (perhaps reused) id
    remove_queue(requests_);
  }

  LinkResult accept(Deadline deadline) override {
    Buffer buffer(sizeof(QueueHandshake));
    bool is_armed = false;
    for (;;) {
      // Requests (type 1) before ticks: msgrcv with -kTickType takes the lowest type first.
      auto got = take(requests_, buffer, -kTickType, (!deadline || is_armed) ? 0 : IPC_NOWAIT);
      if (got) {
        if (buffer.type() == kTickType) {
          if (deadline && expired(deadline)) is_armed = false;
          continue;
        }
        QueueHandshake request{};
        if (buffer.type() != kRequestType || *got != sizeof request) continue;  // not ours
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
      if (!watch_) {
        auto watch = SysvWatch::make(requests_, kWakeRecords, url_ + ": accept");
        if (!watch) return std::unexpected(watch.error());
        watch_ = std::move(*watch);
      }
      if (auto armed = watch_->arm(*deadline); !armed) return std::unexpected(armed.error());
      is_armed = true;
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
    const std::string context = fmt::format("{}: accept", url_);
    auto watch = SysvWatch::make(up, kWakeRecords, context);
    if (!watch) return std::unexpected(watch.error());
    if (auto watched = watch_peer(**watch, process_of(request), down, context); !watched) {
      return std::unexpected(watched.error());
    }
    const QueueHandshake reply = handshake_of(self(), request.serial);
    Buffer buffer(sizeof reply);
    auto sent = post(down, buffer, kAnswerType, std::as_bytes(std::span(&reply, 1)));
    if (!sent) return fail(sent.error(), context);
    return std::make_unique<SysvLink>(up, down, process_of(request), url_, std::move(*watch));
  }

  int requests_;
  std::string url_;
  std::unique_ptr<SysvWatch> watch_;  // ticks for timed accepts, made by the first one
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
  // The watch goes before the queues (its destructor runs first): no tick into a removed id.
  std::unique_ptr<SysvWatch> watch;
  auto give_up_with = [&](std::unexpected<Error> error) -> LinkResult {
    watch.reset();
    remove_queue(*up);
    remove_queue(*down);
    return error;
  };
  auto made = SysvWatch::make(*down, kWakeRecords, context);
  if (!made) return give_up_with(std::unexpected(made.error()));
  watch = std::move(*made);
  QueueHandshake request = handshake_of(self(), next_serial());
  request.up = *up;
  request.down = *down;
  Buffer buffer(sizeof request);
  const auto give_up = sys::deadline_after(kHandshakeTimeout);
  Backoff backoff;
  for (;;) {
    // A full request queue is rare (a listener not accepting): poll it.
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
  // Wait for the answer in slices of kLivenessInterval, each ended by a tick, to notice a
  // listener that went away (its request queue is gone) without an answer.
  for (;;) {
    if (auto armed = watch->arm(std::min(give_up, sys::deadline_after(kLivenessInterval)));
        !armed) {
      return give_up_with(std::unexpected(armed.error()));
    }
    auto got = take(*down, buffer, 0, 0);
    if (got) {
      if (buffer.type() == kTickType) {
        if (!exists(*requests)) {
          return give_up_with(fail(Errc::closed, context + ": the listener went away"));
        }
        if (sys::now() >= give_up) {
          return give_up_with(fail(Errc::timed_out, context + ": the listener did not answer"));
        }
        continue;
      }
      QueueHandshake reply{};
      if (buffer.type() != kAnswerType || *got != sizeof reply) {
        return give_up_with(fail(Errc::corrupted, context + ": malformed answer"));
      }
      std::memcpy(&reply, buffer.text(*got).data(), sizeof reply);
      if (auto watched = watch_peer(*watch, process_of(reply), *up, context); !watched) {
        return give_up_with(std::unexpected(watched.error()));
      }
      return std::make_unique<SysvLink>(*down, *up, process_of(reply), url.to_string(),
                                        std::move(watch));
    }
    if (is_gone(got.error())) return give_up_with(fail(Errc::closed, context));
    return give_up_with(fail(got.error(), context));
  }
}

}  // namespace conduit::transport
