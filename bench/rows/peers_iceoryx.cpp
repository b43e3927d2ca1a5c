// iceoryx 2.0 (Debian's package): zero-copy publish/subscribe through shared memory that
// iox-roudi manages. Two topics, "ping" (parent to child) and "pong" (child to parent), with the
// untyped API: loan(payload) and copy the bytes in, publish; take() and copy them out, release.
// Busy rows poll take(); blocking rows sleep in a WaitSet until the subscriber has data.
//
// Every process talking to RouDi needs its own runtime, registered under a unique name. The
// parent makes its runtime once, on its first ping, and keeps it for every block. Each block's
// child is forked from that parent and so holds a copy of the parent's runtime singleton (never
// to be used: it is the parent's registration); it registers a runtime of its own under its own
// name, installed as the process's runtime through iceoryx's runtime factory, and deregisters
// it when it is done.
#include <dirent.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "iceoryx_hoofs/log/logmanager.hpp"
#include "iceoryx_posh/internal/runtime/posh_runtime_impl.hpp"
#include "iceoryx_posh/popo/untyped_publisher.hpp"
#include "iceoryx_posh/popo/untyped_subscriber.hpp"
#include "iceoryx_posh/popo/wait_set.hpp"
#include "iceoryx_posh/runtime/posh_runtime.hpp"
#include "rows.hpp"

namespace bench {
namespace {

using namespace std::chrono_literals;

/// A forked child's own runtime: the singleton it inherited belongs to the parent.
class ChildRuntime final : public iox::runtime::PoshRuntimeImpl {
 public:
  static void start(const iox::RuntimeName_t& name) {
    instance_ = new ChildRuntime(name);
    setRuntimeFactory(&factory);
  }
  static void stop() {
    delete instance_;  // deregisters from RouDi
    instance_ = nullptr;
  }

 private:
  explicit ChildRuntime(const iox::RuntimeName_t& name)
      : PoshRuntimeImpl(iox::cxx::make_optional<const iox::RuntimeName_t*>(&name)) {}
  static iox::runtime::PoshRuntime& factory(iox::cxx::optional<const iox::RuntimeName_t*>) {
    return *instance_;  // called (noexcept) only between start() and stop()
  }
  static inline ChildRuntime* instance_ = nullptr;
};

/// iceoryx logs its debug lines by default: keep warnings and errors only, in the tables' output.
void quiet_logs() {
  iox::log::LogManager::GetLogManager().SetDefaultLogLevel(iox::log::LogLevel::kWarn,
                                                           iox::log::LogLevelOutput::kHideLogLevel);
}

iox::RuntimeName_t runtime_name(const char* role) {
  static int counter = 0;
  const std::string name = std::string("conduit-bench-") + role + "-" + std::to_string(::getpid()) +
                           "-" + std::to_string(++counter);
  return {iox::cxx::TruncateToCapacity, name.c_str()};
}

/// The parent's runtime: once per process, on first use.
void parent_runtime() {
  static pid_t owner = 0;
  if (owner == ::getpid()) return;
  quiet_logs();
  iox::runtime::PoshRuntime::initRuntime(runtime_name("parent"));
  owner = ::getpid();
}

bool roudi_running() {
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return false;
  bool found = false;
  while (const dirent* entry = ::readdir(proc)) {
    if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
    std::ifstream comm(std::string("/proc/") + entry->d_name + "/comm");
    std::string command;
    if (std::getline(comm, command) && command == "iox-roudi") {
      found = true;
      break;
    }
  }
  ::closedir(proc);
  return found;
}

const char* to_string(iox::popo::AllocationError error) {
  switch (error) {
    case iox::popo::AllocationError::NO_MEMPOOLS_AVAILABLE: return "NO_MEMPOOLS_AVAILABLE";
    case iox::popo::AllocationError::RUNNING_OUT_OF_CHUNKS: return "RUNNING_OUT_OF_CHUNKS";
    case iox::popo::AllocationError::TOO_MANY_CHUNKS_ALLOCATED_IN_PARALLEL:
      return "TOO_MANY_CHUNKS_ALLOCATED_IN_PARALLEL";
    case iox::popo::AllocationError::INVALID_PARAMETER_FOR_USER_PAYLOAD_OR_USER_HEADER:
      return "INVALID_PARAMETER_FOR_USER_PAYLOAD_OR_USER_HEADER";
    default: return "UNDEFINED_ERROR";
  }
}

/// Shared by the parent and each block's child (made before the fork, untimed).
struct Handshake {
  alignas(64) std::atomic<std::uint64_t> started{0};   // children subscribed so far
  alignas(64) std::atomic<std::uint64_t> finished{0};  // children done so far
  alignas(64) std::atomic<bool> failed{false};         // either side gave up: stop waiting
};

/// One side's two ports (and, blocking, its WaitSet), on the current process's runtime.
class Side {
 public:
  Side(const std::string& instance, const char* publish_topic, const char* subscribe_topic,
       Wait wait, const Handshake& handshake)
      : wait_(wait),
        handshake_(handshake),
        publisher_(service(instance, publish_topic)),
        subscriber_(service(instance, subscribe_topic)) {
    if (wait_ != Wait::busy) {
      waitset_.emplace();
      if (waitset_->attachState(subscriber_, iox::popo::SubscriberState::HAS_DATA).has_error())
        throw std::runtime_error("iceoryx: attaching the subscriber to a WaitSet failed");
    }
  }
  ~Side() {
    if (waitset_) waitset_->detachState(subscriber_, iox::popo::SubscriberState::HAS_DATA);
  }

  /// Both directions are connected: the other side subscribes to ours, we to theirs.
  [[nodiscard]] bool connected() const {
    return publisher_.hasSubscribers() &&
           subscriber_.getSubscriptionState() == iox::SubscribeState::SUBSCRIBED;
  }

  void send(const std::vector<char>& message) {
    // (iceoryx's callbacks are noexcept: test the expected rather than throw from or_else.)
    auto loaned = publisher_.loan(static_cast<std::uint32_t>(message.size()));
    if (loaned.has_error())
      throw std::runtime_error(
          "iceoryx: loan of " + std::to_string(message.size()) + " B failed (" +
          to_string(loaned.get_error()) +
          "): RouDi's mempools have no chunk that large (or none left); start iox-roudi with a "
          "config whose largest mempool chunk exceeds the payload plus iceoryx's chunk header");
    void* payload = loaned.value();
    std::memcpy(payload, message.data(), message.size());
    publisher_.publish(payload);
  }

  void receive(std::vector<char>& message) {
    for (;;) {
      auto taken = subscriber_.take();
      if (!taken.has_error()) {
        const void* payload = taken.value();
        std::memcpy(message.data(), payload, message.size());
        subscriber_.release(payload);
        return;
      }
      if (taken.get_error() == iox::popo::ChunkReceiveResult::TOO_MANY_CHUNKS_HELD_IN_PARALLEL)
        throw std::runtime_error("iceoryx: take: too many chunks held");
      if (handshake_.failed.load(std::memory_order_relaxed))
        throw std::runtime_error("iceoryx: the other process gave up");
      if (waitset_) waitset_->timedWait(iox::units::Duration::fromSeconds(1));
    }
  }

 private:
  static iox::capro::ServiceDescription service(const std::string& instance, const char* topic) {
    return {"conduit-bench",
            {iox::cxx::TruncateToCapacity, instance.c_str()},
            {iox::cxx::TruncateToCapacity, topic}};
  }
  Wait wait_;
  const Handshake& handshake_;
  iox::popo::UntypedPublisher publisher_;
  iox::popo::UntypedSubscriber subscriber_;
  std::optional<iox::popo::WaitSet<>> waitset_;
};

class Iceoryx final : public RoundTrip {
 public:
  explicit Iceoryx(Wait wait) : wait_(wait) {}
  std::string name() const override { return "iceoryx untyped pub/sub"; }
  Wait wait() const override { return wait_; }
  void prepare(std::size_t payload) override {
    if (!roudi_running())
      throw std::runtime_error("iox-roudi is not running (bench/run starts it)");
    void* memory = ::mmap(nullptr, sizeof(Handshake), PROT_READ | PROT_WRITE,
                          MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    check(memory != MAP_FAILED, "mmap");
    handshake_ = new (memory) Handshake;
    instance_ = unique_name("bench-iox");
    buffer_.assign(payload, 'x');
  }
  void serve(std::size_t count) override {
    try {
      quiet_logs();
      ChildRuntime::start(runtime_name("child"));
      {
        Side child(instance_, "pong", "ping", wait_, *handshake_);
        const std::uint64_t self = handshake_->started.load() + 1;
        const auto deadline = std::chrono::steady_clock::now() + 30s;
        while (!child.connected()) {
          if (handshake_->failed.load() || std::chrono::steady_clock::now() > deadline)
            throw std::runtime_error("iceoryx: the topics did not connect within 30 s");
          std::this_thread::sleep_for(100us);
        }
        handshake_->started.store(self, std::memory_order_release);
        std::vector<char> copy(buffer_.size());
        for (std::size_t i = 0; i < count; ++i) {
          child.receive(copy);
          child.send(copy);
        }
        handshake_->finished.store(self, std::memory_order_release);
      }
      ChildRuntime::stop();
    } catch (...) {
      handshake_->failed.store(true);
      throw;
    }
  }
  void ping() override {
    try {
      if (!parent_) {
        parent_runtime();
        parent_ = std::make_unique<Side>(instance_, "ping", "pong", wait_, *handshake_);
      }
      if (handshake_->finished.load(std::memory_order_acquire) >= connected_to_) await_child();
      parent_->send(buffer_);
      parent_->receive(buffer_);
    } catch (...) {
      handshake_->failed.store(true);
      throw;
    }
  }
  void cleanup() override {
    parent_.reset();
    if (handshake_ != nullptr) ::munmap(handshake_, sizeof(Handshake));
    handshake_ = nullptr;
  }

 private:
  void await_child() {
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    for (;;) {
      const std::uint64_t started = handshake_->started.load(std::memory_order_acquire);
      if (started > handshake_->finished.load(std::memory_order_acquire)) {
        connected_to_ = started;
        return;
      }
      if (handshake_->failed.load() || std::chrono::steady_clock::now() > deadline)
        throw std::runtime_error("iceoryx: the other process did not subscribe within 30 s");
      std::this_thread::sleep_for(50us);
    }
  }
  Wait wait_;
  Handshake* handshake_ = nullptr;
  std::string instance_;
  std::uint64_t connected_to_ = 0;
  std::unique_ptr<Side> parent_;  // the parent's ports, made on its first ping
  std::vector<char> buffer_;
};

}  // namespace

RoundTripFactory iceoryx(Wait wait) {
  return [wait] { return std::make_unique<Iceoryx>(wait); };
}

}  // namespace bench
