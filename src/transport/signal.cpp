// signal://pid: realtime signals with a value (sigqueue). One-directional; at most
// kSignalPayload (4) bytes per message, larger is message_too_large; no message type.
//
// connect(signal://pid) makes a sender to process `pid`: it refuses (not_found) a process that
// does not block transport_signal() — one that does not listen, which the signal would otherwise
// kill. listen(signal://pid) must name this process: it blocks transport_signal() in the calling
// thread and reads it through a signalfd. Call it before starting other threads (they inherit
// the mask), or block the signal in every thread: a thread that does not block it would take
// the default action, which ends the process. The signal stays blocked after the Listener goes.
// accept() gives one connection per sender, in the order their first signal arrived; each
// receives only what its sender sent.
//
// A signal's 64-bit value carries the payload (bits 0–31), its length (32–39) and a kind
// (40–47): hello (connect), data, close. Realtime signals queue in order, so a receiver sees
// everything a sender sent before its close. A sender that dies sends nothing: the receiver
// checks the sender's pid while it waits (queue_link.hpp's kLivenessInterval).
#include <fmt/format.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <utility>

#include "backoff.hpp"
#include "conduit/sys/file.hpp"
#include "conduit/sys/io.hpp"
#include "mechanisms.hpp"
#include "queue_link.hpp"

namespace conduit::transport {
namespace {

enum class Kind : std::uint64_t { hello = 1, data = 2, close = 3 };

std::uint64_t encode(Kind kind, std::span<const std::byte> payload) {
  std::uint32_t bits = 0;
  if (!payload.empty()) std::memcpy(&bits, payload.data(), payload.size());
  return static_cast<std::uint64_t>(bits) | (std::uint64_t{payload.size()} << 32) |
         (static_cast<std::uint64_t>(kind) << 40);
}

struct Record {
  Kind kind;
  std::uint32_t bits;
  std::size_t size;
};

std::optional<Record> decode(std::uint64_t value) {
  const auto kind = static_cast<Kind>((value >> 40) & 0xff);
  const std::size_t size = (value >> 32) & 0xff;
  if (kind != Kind::hello && kind != Kind::data && kind != Kind::close) return std::nullopt;
  if (size > kSignalPayload) return std::nullopt;
  return Record{kind, static_cast<std::uint32_t>(value), size};
}

/// Whether process `pid` blocks the transport signal (its SigBlk in /proc/<pid>/status).
Result<bool> listens(pid_t pid, std::string_view context) {
  auto status = sys::read_small_file(fmt::format("/proc/{}/status", pid));
  if (!status) return fail(Errc::not_found, fmt::format("{}: no process {}", context, pid));
  const std::size_t at = status->find("SigBlk:");
  if (at == std::string::npos) return false;
  const std::uint64_t mask = std::strtoull(status->c_str() + at + 7, nullptr, 16);
  return ((mask >> (transport_signal() - 1)) & 1) != 0;
}

/// Whether this thread sent a signal since its last wait for one (see SignalHub::pump).
thread_local bool has_sent_since_pump = false;

/// What the listener and its connections share: the signalfd, and what arrived for each sender.
class SignalHub {
 public:
  SignalHub(sys::Fd fd, std::string url) : fd_(std::move(fd)), url_(std::move(url)) {}

  /// Reads what arrived (waiting until `deadline`); false when nothing came in time.
  /// After this thread sent a signal (a round trip: the answer is seldom there yet), waits
  /// first and then reads (two system calls) rather than try, wait, read again (three).
  /// The wait is needed: every wait here has a deadline (receive_for's, or the liveness slice
  /// that notices a dead sender), and a read from a signalfd takes none. sigtimedwait would
  /// wait and take in one call (the raw sigqueue/sigwaitinfo row's one call to our two), but
  /// while it waits the kernel lifts the block on the signals it waits for (SigBlk in
  /// /proc/<pid>/status reads 0 for them meanwhile: checked on Linux 6.18), and connect's check
  /// that a process listens would then refuse this one.
  Result<bool> pump(Deadline deadline) {
    if (std::exchange(has_sent_since_pump, false)) {
      auto ready = sys::wait_ready(fd_.get(), POLLIN, deadline);
      if (!ready) return fail(ready.error(), fmt::format("{}: receive", url_));
      if (!*ready) return false;
    }
    for (;;) {
      signalfd_siginfo info{};
      auto n = sys::read_some(fd_.get(), std::as_writable_bytes(std::span(&info, 1)));
      if (n && *n == sizeof info) {
        if (info.ssi_code != SI_QUEUE) continue;  // a plain kill(): not ours to carry
        const auto record = decode(info.ssi_ptr);
        if (!record) continue;
        const auto sender = static_cast<pid_t>(info.ssi_pid);
        if (record->kind == Kind::hello) {
          hellos_.push_back(sender);
        }
        inbox_[sender].push_back(*record);
        return true;
      }
      if (n) return fail(Errc::io, fmt::format("{}: short read from signalfd", url_));
      if (n.error().code != EAGAIN) return fail(n.error(), fmt::format("{}: receive", url_));
      auto ready = sys::wait_ready(fd_.get(), POLLIN, deadline);
      if (!ready) return fail(ready.error(), fmt::format("{}: receive", url_));
      if (!*ready) return false;
    }
  }

  std::optional<pid_t> next_hello() {
    if (hellos_.empty()) return std::nullopt;
    const pid_t sender = hellos_.front();
    hellos_.pop_front();
    return sender;
  }

  std::optional<Record> next_from(pid_t sender) {
    auto found = inbox_.find(sender);
    if (found == inbox_.end() || found->second.empty()) return std::nullopt;
    const Record record = found->second.front();
    found->second.pop_front();
    return record;
  }

  void forget(pid_t sender) { inbox_.erase(sender); }
  const std::string& url() const noexcept { return url_; }

 private:
  sys::Fd fd_;
  std::string url_;
  std::deque<pid_t> hellos_;
  std::map<pid_t, std::deque<Record>> inbox_;
};

class SignalReceiver final : public Link {
 public:
  SignalReceiver(std::shared_ptr<SignalHub> hub, pid_t sender)
      : hub_(std::move(hub)),
        sender_(sender),
        url_(fmt::format("{} (from pid {})", hub_->url(), sender)) {}
  ~SignalReceiver() override { close(); }

  Result<void> send(std::span<const std::byte>, std::int64_t) override {
    return fail(Errc::invalid_argument,
                fmt::format("{}: send: this end receives (signal:// is one-directional: connect "
                            "sends, the listener's connections receive)",
                            url_));
  }

  Result<Message> receive(Deadline deadline) override {
    if (!hub_ || is_closed_) return closed();
    for (;;) {
      while (auto record = hub_->next_from(sender_)) {
        if (record->kind == Kind::close) {
          is_closed_ = true;
          return closed();
        }
        if (record->kind != Kind::data) continue;
        return copied_message(std::as_bytes(std::span(&record->bits, 1)).first(record->size), 0,
                              ProcessId{sender_, 0}, ++received_);
      }
      if (is_sender_dead_) return closed();
      if (expired(deadline)) {
        return fail(Errc::timed_out, fmt::format("{}: receive: timed out", url_));
      }
      auto got = hub_->pump(slice_end(deadline));
      if (!got) return std::unexpected(got.error());
      // A dead sender sends nothing more; what it sent is already queued (pump once more).
      if (!*got && !alive(ProcessId{sender_, 0})) is_sender_dead_ = true;
    }
  }

  void close() noexcept override {
    if (hub_) hub_->forget(sender_);
    hub_.reset();
  }
  std::size_t max_message_size() const noexcept override { return kSignalPayload; }
  const std::string& url() const noexcept override { return url_; }

 private:
  std::unexpected<Error> closed() const {
    return fail(Errc::closed, fmt::format("{}: receive: the sender closed or died", url_));
  }

  std::shared_ptr<SignalHub> hub_;
  pid_t sender_;
  std::string url_;
  bool is_closed_ = false;
  bool is_sender_dead_ = false;
  std::uint64_t received_ = 0;
};

class SignalSender final : public Link {
 public:
  SignalSender(pid_t target, std::string url) : target_(target), url_(std::move(url)) {}
  ~SignalSender() override { close(); }

  Result<void> post(Kind kind, std::span<const std::byte> payload) {
    if (target_ <= 0) return fail(Errc::closed, fmt::format("{}: send: closed", url_));
    sigval value{};
    value.sival_ptr = reinterpret_cast<void*>(static_cast<std::uintptr_t>(encode(kind, payload)));
    Backoff backoff;
    for (;;) {
      auto sent =
          sys::call("sigqueue", [&] { return ::sigqueue(target_, transport_signal(), value); });
      if (sent) {
        has_sent_since_pump = true;
        return {};
      }
      if (sent.error().code == ESRCH) {
        return fail(Errc::closed, fmt::format("{}: send: process {} is gone", url_, target_));
      }
      // EAGAIN: the system's queue of pending signals is full; wait for the receiver.
      if (sent.error().code != EAGAIN) return fail(sent.error(), fmt::format("{}: send", url_));
      backoff.pause(std::nullopt);
    }
  }

  Result<void> send(std::span<const std::byte> payload, std::int64_t type) override {
    if (payload.size() > kSignalPayload) {
      return fail(Errc::message_too_large,
                  fmt::format("{}: send: message of {} bytes exceeds the {} bytes a signal "
                              "carries",
                              url_, payload.size(), kSignalPayload));
    }
    if (type != 0) {
      return fail(Errc::invalid_argument,
                  fmt::format("{}: send: signal:// carries no message type (got {})", url_, type));
    }
    return post(Kind::data, payload);
  }

  Result<Message> receive(Deadline) override {
    return fail(Errc::invalid_argument,
                fmt::format("{}: receive: this end sends (signal:// is one-directional: connect "
                            "sends, the listener's connections receive)",
                            url_));
  }

  void close() noexcept override {
    if (target_ > 0) (void)post(Kind::close, {});
    target_ = 0;
  }
  std::size_t max_message_size() const noexcept override { return kSignalPayload; }
  const std::string& url() const noexcept override { return url_; }

 private:
  pid_t target_;
  std::string url_;
};

class SignalAcceptor final : public Acceptor {
 public:
  explicit SignalAcceptor(std::shared_ptr<SignalHub> hub) : hub_(std::move(hub)) {}

  LinkResult accept(Deadline deadline) override {
    for (;;) {
      if (auto sender = hub_->next_hello()) {
        return std::make_unique<SignalReceiver>(hub_, *sender);
      }
      auto got = hub_->pump(deadline);
      if (!got) return std::unexpected(got.error());
      if (!*got) return fail(Errc::timed_out, fmt::format("{}: accept: timed out", hub_->url()));
    }
  }
  const std::string& url() const noexcept override { return hub_->url(); }

 private:
  std::shared_ptr<SignalHub> hub_;
};

}  // namespace

int transport_signal() noexcept { return SIGRTMIN + 6; }

AcceptorResult listen_signal(const Url& url) {
  const std::string context = fmt::format("{}: listen", url.text);
  if (url.number != ::getpid()) {
    return fail(Errc::invalid_argument,
                fmt::format("{}: a process listens only for its own signals: this is pid {}",
                            context, ::getpid()));
  }
  auto fd = sys::signal_fd(transport_signal());
  if (!fd) return fail(fd.error(), context);
  return std::make_unique<SignalAcceptor>(
      std::make_shared<SignalHub>(std::move(*fd), url.to_string()));
}

LinkResult connect_signal(const Url& url) {
  const std::string context = fmt::format("{}: connect", url.text);
  const auto target = static_cast<pid_t>(url.number);
  auto listening = listens(target, context);
  if (!listening) return std::unexpected(listening.error());
  if (!*listening) {
    return fail(Errc::not_found,
                fmt::format("{}: process {} does not listen (it does not block signal {}, which "
                            "would kill it)",
                            context, target, transport_signal()));
  }
  auto sender = std::make_unique<SignalSender>(target, url.to_string());
  if (auto said = sender->post(Kind::hello, {}); !said) return std::unexpected(said.error());
  return sender;
}

}  // namespace conduit::transport
