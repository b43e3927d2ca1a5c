// shm://name: conduit mailboxes in shared memory (msg/mailbox.hpp), one message per mailbox
// message (native boundaries); Message::type() is the mailbox message type.
//
// listen creates the mailbox `name` (process lifetime: it vanishes with the listener) where
// clients post connection requests. A client creates a pair of process-lifetime mailboxes with
// internal names, name#<pid>-<n>#up (client to listener) and name#<pid>-<n>#down, each admitting
// only the two ends (Receivers::pair), posts a request naming them, and waits for the answer on
// down. Several clients each get their own pair.
//
// Mailboxes hold up to kShmMessageSize bytes per message and kShmCapacity messages per direction.
// Records with negative types are the transport's own (user types are >= 0): kCloseType says the
// sender closed; the closer also removes its incoming mailbox, so the peer's sends fail with
// closed at once. The client's death removes both mailboxes (their creator died: the listener's
// waits end with owner_died, reported as closed); the listener's death is noticed by its
// ProcessId (queue_link.hpp).
#include <fmt/format.h>

#include <atomic>
#include <cstring>

#include "conduit/core/name.hpp"
#include "conduit/msg/mailbox.hpp"
#include "mechanisms.hpp"
#include "queue_link.hpp"

namespace conduit::transport {

/// Mailbox's internal-name calls, for the per-connection mailboxes.
struct MailboxAccess {
  static Result<Mailbox> create(std::string_view name, MailboxOptions options) {
    return Mailbox::create(name, options, NameUse::internal);
  }
  static Result<Mailbox> open(std::string_view name) {
    return Mailbox::open(name, MailboxRole::sender_and_receiver, NameUse::internal);
  }
  static Result<void> remove(std::string_view name) {
    return Mailbox::remove(name, NameUse::internal);
  }
};

namespace {

constexpr std::size_t kShmMessageSize = 16 * 1024;
constexpr std::size_t kShmCapacity = 32;
constexpr std::int64_t kCloseType = -1;
constexpr std::int64_t kRequestType = -2;
constexpr std::int64_t kAnswerType = -3;

bool is_gone(const Error& error) {
  return error.code() == Errc::closed || error.code() == Errc::owner_died ||
         error.code() == Errc::not_found;
}

std::string pair_name(const std::string& name, const QueueHandshake& handshake,
                      std::string_view side) {
  return internal_name({name, fmt::format("{}-{}", handshake.pid, handshake.serial), side});
}

class ShmLink final : public Link {
 public:
  ShmLink(Mailbox in, Mailbox out, std::string in_name, std::string out_name, ProcessId peer,
          std::string url)
      : in_(std::move(in)),
        out_(std::move(out)),
        in_name_(std::move(in_name)),
        out_name_(std::move(out_name)),
        peer_(peer),
        url_(std::move(url)) {}
  ~ShmLink() override { close(); }

  Result<void> send(std::span<const std::byte> payload, std::int64_t type) override {
    if (!in_) return closed("send");
    if (payload.size() > kShmMessageSize) {
      return fail(Errc::message_too_large, fmt::format("{}: send: message of {} bytes exceeds {}",
                                                       url_, payload.size(), kShmMessageSize));
    }
    for (;;) {
      if (is_peer_closed_) return closed("send");
      auto sent = out_->send_for(payload, kLivenessInterval, type);
      if (sent) return {};
      if (is_gone(sent.error())) return closed("send");
      if (sent.error().code() != Errc::timed_out) return std::unexpected(sent.error());
      if (!alive(peer_)) return closed("send");
    }
  }

  Result<Message> receive(Deadline deadline) override {
    if (!in_) return closed("receive");
    for (;;) {
      if (is_peer_closed_) {
        auto left = in_->try_receive();
        if (left && left->type() >= 0) return renumber(std::move(*left));
        return closed("receive");
      }
      const auto slice = slice_end(deadline) - sys::now();
      auto got = in_->receive_for(std::chrono::duration_cast<std::chrono::nanoseconds>(slice));
      if (got) {
        if (got->type() == kCloseType) {
          is_peer_closed_ = true;
          continue;
        }
        if (got->type() < 0) {
          return fail(Errc::corrupted,
                      fmt::format("{}: receive: unexpected record type {}", url_, got->type()));
        }
        return renumber(std::move(*got));
      }
      if (is_gone(got.error())) return closed("receive");
      if (got.error().code() != Errc::timed_out) return std::unexpected(got.error());
      if (expired(deadline)) {
        return fail(Errc::timed_out, fmt::format("{}: receive: timed out", url_));
      }
      if (!alive(peer_)) is_peer_closed_ = true;  // take what is left, then closed
    }
  }

  void close() noexcept override {
    if (!in_) return;
    const bool is_peer_gone = is_peer_closed_ || !alive(peer_);
    (void)out_->try_send(std::span<const std::byte>(), kCloseType);
    in_.reset();
    out_.reset();
    (void)MailboxAccess::remove(in_name_);
    if (is_peer_gone) (void)MailboxAccess::remove(out_name_);
  }

  std::size_t max_message_size() const noexcept override { return kShmMessageSize; }
  const std::string& url() const noexcept override { return url_; }
  // Two mailboxes (each thread-safe); the one flag both sides touch is atomic.
  bool is_full_duplex() const noexcept override { return true; }

 private:
  std::unexpected<Error> closed(std::string_view operation) const {
    return fail(Errc::closed, fmt::format("{}: {}: the peer closed or died", url_, operation));
  }
  // The mailbox's message itself, numbered as this connection's: it keeps its slot's bytes
  // alive, as it would for a Mailbox receiver (no wrapper, no allocation).
  Message renumber(Message message) {
    message.set_sequence(++received_);
    return message;
  }

  std::optional<Mailbox> in_, out_;
  std::string in_name_, out_name_;
  ProcessId peer_;
  std::string url_;
  // Set by receive, read by send (perhaps in another thread); it guards nothing but itself, so
  // the default order is more than it needs.
  std::atomic<bool> is_peer_closed_{false};
  std::uint64_t received_ = 0;
};

class ShmAcceptor final : public Acceptor {
 public:
  ShmAcceptor(Mailbox requests, std::string name, std::string url)
      : requests_(std::move(requests)), name_(std::move(name)), url_(std::move(url)) {}
  ~ShmAcceptor() override { (void)Mailbox::remove(name_); }

  LinkResult accept(Deadline deadline) override {
    for (;;) {
      auto got = deadline
                     ? requests_.receive_for(std::chrono::duration_cast<std::chrono::nanoseconds>(
                           *deadline - sys::now()))
                     : requests_.receive();
      if (!got) {
        if (got.error().code() == Errc::timed_out) {
          return fail(Errc::timed_out, fmt::format("{}: accept: timed out", url_));
        }
        return std::unexpected(got.error());
      }
      QueueHandshake request{};
      if (got->type() != kRequestType || got->size() != sizeof request) continue;
      std::memcpy(&request, got->payload().data(), sizeof request);
      auto link = answer(request);
      if (link) return link;
      // The client went away before we could answer: wait for the next one.
    }
  }

  const std::string& url() const noexcept override { return url_; }

 private:
  LinkResult answer(const QueueHandshake& request) {
    const std::string up = pair_name(name_, request, "up");
    const std::string down = pair_name(name_, request, "down");
    auto in = MailboxAccess::open(up);
    if (!in) return std::unexpected(in.error());
    auto out = MailboxAccess::open(down);
    if (!out) return std::unexpected(out.error());
    const QueueHandshake reply = handshake_of(self(), request.serial);
    if (auto sent = out->try_send(std::as_bytes(std::span(&reply, 1)), kAnswerType); !sent) {
      return std::unexpected(sent.error());
    }
    return std::make_unique<ShmLink>(std::move(*in), std::move(*out), up, down, process_of(request),
                                     url_);
  }

  Mailbox requests_;
  std::string name_;
  std::string url_;
};

}  // namespace

AcceptorResult listen_shm(const Url& url) {
  auto requests = Mailbox::create(url.host, {.capacity = Capacity::bounded(kShmCapacity),
                                             .max_message_size = sizeof(QueueHandshake),
                                             .receivers = Receivers::any_one,
                                             .lifetime = Lifetime::process});
  if (!requests) {
    return fail(requests.error().code(),
                fmt::format("{}: listen: {}", url.text, requests.error().message()));
  }
  return std::make_unique<ShmAcceptor>(std::move(*requests), url.host, url.to_string());
}

LinkResult connect_shm(const Url& url) {
  const std::string context = fmt::format("{}: connect", url.text);
  auto requests = Mailbox::open(url.host, MailboxRole::sender);
  if (!requests) {
    return fail(requests.error().code(),
                fmt::format("{} (nobody listens there): {}", context, requests.error().message()));
  }
  const QueueHandshake request = handshake_of(self(), next_serial());
  const std::string up = pair_name(url.host, request, "up");
  const std::string down = pair_name(url.host, request, "down");
  const MailboxOptions options{.capacity = Capacity::bounded(kShmCapacity),
                               .max_message_size = kShmMessageSize,
                               .receivers = Receivers::pair,
                               .lifetime = Lifetime::process};
  auto out = MailboxAccess::create(up, options);
  if (!out) return fail(out.error().code(), context + ": " + out.error().message());
  auto in = MailboxAccess::create(down, options);
  auto give_up_with = [&](Errc code, std::string what) -> LinkResult {
    (void)MailboxAccess::remove(up);
    (void)MailboxAccess::remove(down);
    return fail(code, fmt::format("{}: {}", context, what));
  };
  if (!in) return give_up_with(in.error().code(), in.error().message());
  if (auto sent = requests->send_for(std::as_bytes(std::span(&request, 1)), kHandshakeTimeout,
                                     kRequestType);
      !sent) {
    return give_up_with(sent.error().code(), sent.error().message());
  }
  const auto give_up = sys::deadline_after(kHandshakeTimeout);
  for (;;) {
    auto got = in->receive_for(kLivenessInterval);
    if (got) {
      QueueHandshake reply{};
      if (got->type() != kAnswerType || got->size() != sizeof reply) {
        return give_up_with(Errc::corrupted, "malformed answer");
      }
      std::memcpy(&reply, got->payload().data(), sizeof reply);
      return std::make_unique<ShmLink>(std::move(*in), std::move(*out), down, up, process_of(reply),
                                       url.to_string());
    }
    if (got.error().code() != Errc::timed_out) {
      return give_up_with(got.error().code(), got.error().message());
    }
    if (!alive(requests->stats().owner)) {
      return give_up_with(Errc::closed, "the listener went away");
    }
    if (sys::now() >= give_up) return give_up_with(Errc::timed_out, "the listener did not answer");
  }
}

}  // namespace conduit::transport
