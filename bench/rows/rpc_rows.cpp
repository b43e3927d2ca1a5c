// rpc: a call of a tiny method (echo of the payload's bytes) through rpc::Client, to set beside
// the raw round trip of the transport it runs over: a Mailbox pair for shm://, a Unix socket for
// unix://. Each block's child runs an rpc::Server until it has answered every call; the parent's
// client connects on its first ping (a warm-up call, not timed), retrying until the child
// listens. Blocking: the wait strategy does not spin, as in the other blocking rows.
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "conduit/conduit.hpp"
#include "rows.hpp"

namespace bench {
namespace {

constexpr auto kConnectPatience = std::chrono::seconds(10);

class RpcRow final : public RoundTrip {
 public:
  explicit RpcRow(std::string scheme) : scheme_(std::move(scheme)) {}
  std::string name() const override { return "conduit rpc call over " + scheme_ + "://"; }
  Wait wait() const override { return Wait::blocking; }
  void prepare(std::size_t payload) override {
    bytes_.assign(payload, 'x');
    url_ = scheme_ == "unix" ? "unix:///tmp/" + unique_name("bench-rpc") + ".sock"
                             : scheme_ + "://" + unique_name("bench-rpc");
  }
  void begin_block() override { client_.reset(); }
  void serve(std::size_t count) override {
    conduit::sync::set_spin_rounds(0);
    std::mutex mutex;
    std::condition_variable all_answered;
    std::size_t calls = 0;
    conduit::rpc::Server server;
    server.bind("echo", [&](std::vector<char> bytes) {
      const std::lock_guard lock(mutex);
      if (++calls == count) all_answered.notify_one();
      return bytes;
    });
    must(server.start(url_));
    std::unique_lock lock(mutex);
    all_answered.wait(lock, [&] { return calls == count; });
    lock.unlock();
    server.stop();  // after the last answer has left
  }
  void ping() override {
    if (!client_) connect();
    auto answer = must(client_->call<std::vector<char>>("echo", bytes_));
    if (answer.size() != bytes_.size()) throw std::runtime_error("echo: wrong size");
    bytes_ = std::move(answer);
  }
  void cleanup() override {
    client_.reset();
    conduit::sync::set_spin_rounds(conduit::sync::kSpinRounds);
  }

 private:
  void connect() {
    conduit::sync::set_spin_rounds(0);
    const auto give_up = std::chrono::steady_clock::now() + kConnectPatience;
    for (;;) {
      auto client = conduit::rpc::Client::connect(url_);
      if (client) {
        client_.emplace(std::move(*client));
        return;
      }
      if (std::chrono::steady_clock::now() >= give_up)
        throw std::runtime_error("the server did not listen: " + client.error().message());
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  std::string scheme_;
  std::string url_;
  std::vector<char> bytes_;
  std::optional<conduit::rpc::Client> client_;
};

}  // namespace

RoundTripFactory conduit_rpc(const char* scheme) {
  return [scheme = std::string(scheme)] { return std::make_unique<RpcRow>(scheme); };
}

}  // namespace bench
