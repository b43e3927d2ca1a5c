// conduit's transports: the same round trip through a Connection for each URL scheme, to set
// beside the raw mechanism each one wraps (raw.cpp, raw_transport.cpp) and beside shm://.
// The parent listens; a fresh child connects every block, and the parent accepts on its first
// ping (a warm-up round trip, not timed). All of them block; the shm:// mailboxes are told not
// to spin (wait strategy spin 0), like the conduit rows of the blocking table. file:// waits by
// polling with short sleeps (a file cannot be waited on), and so does its raw row.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "conduit/conduit.hpp"
#include "rows.hpp"

namespace bench {
namespace {

std::string address_for(const std::string& scheme) {
  if (scheme == "unix") return "unix:///tmp/" + unique_name("bench-unix") + ".sock";
  if (scheme == "tcp") return "tcp://127.0.0.1:0";
  if (scheme == "fifo") return "fifo:///tmp/" + unique_name("bench-fifo");
  if (scheme == "mq") return "mq://" + unique_name("bench-mq");
  if (scheme == "shm") return "shm://" + unique_name("bench-shm");
  if (scheme == "sysv") {
    // A key of our own: the pid and a counter, above the small keys people pick by hand.
    static int counter = 0;
    return "sysv://" + std::to_string(0x10000000 + (::getpid() % 0x100000) * 16 + ++counter);
  }
  throw std::runtime_error("no bench address for scheme " + scheme);
}

/// The answering side: each of `count` messages from `in` goes back on `out`.
void echo(conduit::Connection& in, conduit::Connection& out, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) {
    auto message = must(in.receive());
    must(out.send(message.payload()));
  }
}

/// One round trip: `buffer` goes out on `out`, and the answer from `in` is copied back into it.
void round_trip(conduit::Connection& out, conduit::Connection& in, std::vector<std::byte>& buffer) {
  must(out.send(buffer));
  auto answer = must(in.receive());
  std::memcpy(buffer.data(), answer.payload().data(), std::min(answer.size(), buffer.size()));
}

class ConnectionRow final : public RoundTrip {
 public:
  explicit ConnectionRow(std::string scheme) : scheme_(std::move(scheme)) {}
  std::string name() const override { return "conduit " + scheme_ + "://"; }
  Wait wait() const override { return Wait::blocking; }
  void prepare(std::size_t payload) override {
    buffer_.assign(payload, std::byte{'x'});
    listener_.emplace(must(conduit::listen(address_for(scheme_))));
    url_ = listener_->url();  // tcp: the port the kernel chose
  }
  void begin_block() override { connection_.reset(); }
  void serve(std::size_t count) override {
    conduit::sync::set_spin_rounds(0);
    auto connection = must(conduit::connect(url_));
    echo(connection, connection, count);
  }
  void ping() override {
    if (!connection_) {
      conduit::sync::set_spin_rounds(0);
      connection_.emplace(must(listener_->accept()));
    }
    round_trip(*connection_, *connection_, buffer_);
  }
  void cleanup() override {
    connection_.reset();
    listener_.reset();
    conduit::sync::set_spin_rounds(conduit::sync::kSpinRounds);
  }

 private:
  std::string scheme_;
  std::string url_;
  std::optional<conduit::Listener> listener_;
  std::optional<conduit::Connection> connection_;
  std::vector<std::byte> buffer_;
};

// pipe_pair(): made fresh for every block, before the fork; each process closes the other's end.
class PipePairRow final : public RoundTrip {
 public:
  std::string name() const override { return "conduit pipe_pair()"; }
  Wait wait() const override { return Wait::blocking; }
  void prepare(std::size_t payload) override { buffer_.assign(payload, std::byte{'x'}); }
  void begin_block() override { ends_.emplace(must(conduit::pipe_pair())); }
  void serve(std::size_t count) override {
    ends_->first.close();
    echo(ends_->second, ends_->second, count);
  }
  void ping() override {
    if (ends_->second.is_open()) ends_->second.close();
    round_trip(ends_->first, ends_->first, buffer_);
  }
  void cleanup() override { ends_.reset(); }

 private:
  std::optional<std::pair<conduit::Connection, conduit::Connection>> ends_;
  std::vector<std::byte> buffer_;
};

// signal:// is one-directional, so a round trip takes two connections: the parent listens on
// its own pid before the fork (the child inherits the blocked signal); the child listens on its
// own, connects to the parent and announces itself with a first message, whose sender tells the
// parent where to connect back. At most kSignalPayload (4) bytes a message.
class SignalRow final : public RoundTrip {
 public:
  std::string name() const override { return "conduit signal://"; }
  Wait wait() const override { return Wait::blocking; }
  void prepare(std::size_t payload) override {
    require_single_thread("signal://");
    buffer_.assign(std::min(payload, conduit::transport::kSignalPayload), std::byte{'x'});
    listener_.emplace(must(conduit::listen("signal://" + std::to_string(::getpid()))));
  }
  void begin_block() override {
    in_.reset();
    out_.reset();
  }
  void serve(std::size_t count) override {
    auto listener = must(conduit::listen("signal://" + std::to_string(::getpid())));
    auto out = must(conduit::connect("signal://" + std::to_string(::getppid())));
    must(out.send(buffer_));  // hello: this is my pid
    auto in = must(listener.accept());
    echo(in, out, count);
  }
  void ping() override {
    if (!in_) {
      in_.emplace(must(listener_->accept()));
      const auto hello = must(in_->receive());
      out_.emplace(must(conduit::connect("signal://" + std::to_string(hello.sender().pid))));
    }
    round_trip(*out_, *in_, buffer_);
  }
  void cleanup() override {
    begin_block();
    listener_.reset();
  }

 private:
  std::optional<conduit::Listener> listener_;
  std::optional<conduit::Connection> in_, out_;
  std::vector<std::byte> buffer_;
};

// file:// is one-directional too: a spool each way. Each block the parent makes its spool
// (listens) before the fork; the child makes its own, takes its reader and connects to the
// parent's; the parent, on its first ping, takes its reader and connects to the child's spool
// once it exists.
class FileRow final : public RoundTrip {
 public:
  std::string name() const override { return "conduit file://"; }
  Wait wait() const override { return Wait::blocking; }
  void prepare(std::size_t payload) override { buffer_.assign(payload, std::byte{'x'}); }
  void begin_block() override {
    in_.reset();
    out_.reset();
    listener_.reset();
    const std::string base = "file:///tmp/" + unique_name("bench-file");
    up_ = base + ".up";
    down_ = base + ".down";
    listener_.emplace(must(conduit::listen(up_)));
  }
  void serve(std::size_t count) override {
    auto listener = must(conduit::listen(down_));
    auto in = must(listener.accept());
    auto out = must(conduit::connect(up_));
    echo(in, out, count);
  }
  void ping() override {
    if (!in_) {
      in_.emplace(must(listener_->accept()));
      const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      for (;;) {
        auto out = conduit::connect(down_);
        if (out) {
          out_.emplace(std::move(*out));
          break;
        }
        if (std::chrono::steady_clock::now() > give_up) must(std::move(out));
        std::this_thread::sleep_for(std::chrono::microseconds(100));
      }
    }
    round_trip(*out_, *in_, buffer_);
  }
  void cleanup() override {
    in_.reset();
    out_.reset();
    listener_.reset();
  }

 private:
  std::string up_, down_;
  std::optional<conduit::Listener> listener_;
  std::optional<conduit::Connection> in_, out_;
  std::vector<std::byte> buffer_;
};

}  // namespace

RoundTripFactory conduit_connection(const char* scheme) {
  return [scheme = std::string(scheme)]() -> std::unique_ptr<RoundTrip> {
    if (scheme == "signal") return std::make_unique<SignalRow>();
    if (scheme == "file") return std::make_unique<FileRow>();
    return std::make_unique<ConnectionRow>(scheme);
  };
}
RoundTripFactory conduit_pipe_pair() {
  return [] { return std::make_unique<PipePairRow>(); };
}

}  // namespace bench
