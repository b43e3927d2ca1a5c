// The library peers over the kernel: Boost.Interprocess message_queue, ZeroMQ and nng, each
// used the plain way its documentation shows. (iceoryx is in peers_iceoryx.cpp.)
//
// Boost's queues live in shared memory made before the fork, so both processes use them as is.
// ZeroMQ and nng must not carry a context or socket across fork: the child (the server) binds
// or listens afresh in every block, on an ipc:// endpoint of its own, and the parent connects
// to each new child on its first call of the block. A small shared handshake (made before the
// fork, untimed) tells the parent when a new child is listening and when the last one is done.
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zmq.h>

#include <algorithm>
#include <atomic>
#include <boost/interprocess/ipc/message_queue.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "rows.hpp"

namespace bench {
namespace {

namespace bip = boost::interprocess;
using namespace std::chrono_literals;

constexpr int kReceiveTimeoutMs = 60'000;  // a peer that died is reported, not waited for forever

// ---------------------------------------------------------------------------------------------
// Boost.Interprocess message_queue

class BoostQueue {
 public:
  BoostQueue(std::string name, std::size_t capacity, std::size_t message_size)
      : name_(std::move(name)) {
    bip::message_queue::remove(name_.c_str());
    try {
      queue_ = std::make_unique<bip::message_queue>(bip::create_only, name_.c_str(), capacity,
                                                    message_size);
    } catch (const bip::interprocess_exception& e) {
      throw std::runtime_error("boost message_queue " + name_ + " (" + std::to_string(capacity) +
                               " x " + std::to_string(message_size) + " B): " + e.what());
    }
  }
  ~BoostQueue() {
    queue_.reset();
    bip::message_queue::remove(name_.c_str());
  }
  BoostQueue(const BoostQueue&) = delete;
  BoostQueue& operator=(const BoostQueue&) = delete;

  void send(const std::vector<char>& message, Wait wait) {
    if (wait == Wait::busy) {
      while (!queue_->try_send(message.data(), message.size(), 0)) {
      }
    } else {
      queue_->send(message.data(), message.size(), 0);
    }
  }
  void receive(std::vector<char>& message, Wait wait) {
    std::size_t received = 0;
    unsigned int priority = 0;
    if (wait == Wait::busy) {
      while (!queue_->try_receive(message.data(), message.size(), received, priority)) {
      }
    } else {
      queue_->receive(message.data(), message.size(), received, priority);
    }
    if (received != message.size()) throw std::runtime_error("boost message_queue: short message");
  }

 private:
  std::string name_;
  std::unique_ptr<bip::message_queue> queue_;
};

// Two queues of one message each: the parent sends on one, the child answers on the other.
class BoostMessageQueue final : public RoundTrip {
 public:
  explicit BoostMessageQueue(Wait wait) : wait_(wait) {}
  std::string name() const override { return "Boost.Interprocess message_queue"; }
  Wait wait() const override { return wait_; }
  void prepare(std::size_t payload) override {
    const std::string name = unique_name("bench-boost-mq");
    to_child_ = std::make_unique<BoostQueue>(name + "-ping", 1, payload);
    to_parent_ = std::make_unique<BoostQueue>(name + "-pong", 1, payload);
    buffer_.assign(payload, 'x');
  }
  void serve(std::size_t count) override {
    std::vector<char> copy(buffer_.size());
    for (std::size_t i = 0; i < count; ++i) {
      to_child_->receive(copy, wait_);
      to_parent_->send(copy, wait_);
    }
  }
  void ping() override {
    to_child_->send(buffer_, wait_);
    to_parent_->receive(buffer_, wait_);
  }
  void cleanup() override {
    to_child_.reset();
    to_parent_.reset();
  }

 private:
  Wait wait_;
  std::unique_ptr<BoostQueue> to_child_, to_parent_;
  std::vector<char> buffer_;
};

class BoostMessageQueueStream final : public Stream {
 public:
  std::string name() const override { return "Boost.Interprocess message_queue"; }
  Wait wait() const override { return Wait::blocking; }
  void prepare(std::size_t payload) override {
    payload_ = std::max<std::size_t>(payload, 8);
    // Room for 16 MiB of messages in flight (8 to 1024 of them), like the other streams' rings.
    const std::size_t capacity = std::clamp<std::size_t>((16u << 20) / payload_, 8, 1024);
    queue_ = std::make_unique<BoostQueue>(unique_name("bench-boost-mq-stream"), capacity, payload_);
    message_.assign(payload_, 'x');
  }
  void consume(std::size_t count) override {
    std::vector<char> copy(payload_);
    for (std::uint64_t i = 0; i < count; ++i) {
      queue_->receive(copy, Wait::blocking);
      verify(copy.data(), payload_, i);
    }
  }
  void produce(std::size_t count) override {
    for (std::uint64_t i = 0; i < count; ++i) {
      stamp(message_, i);
      queue_->send(message_, Wait::blocking);
    }
  }
  void cleanup() override { queue_.reset(); }

 private:
  std::size_t payload_ = 0;
  std::unique_ptr<BoostQueue> queue_;
  std::vector<char> message_;
};

// ---------------------------------------------------------------------------------------------
// The handshake between the parent and each block's child (sockets' rows only).

struct Handshake {
  alignas(64) std::atomic<std::uint64_t> started{0};   // children listening so far
  alignas(64) std::atomic<std::uint64_t> finished{0};  // children done so far
  alignas(64) std::atomic<std::uint64_t> answered{0};  // answers the parent has received
};

Handshake* make_handshake() {
  void* memory =
      ::mmap(nullptr, sizeof(Handshake), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  check(memory != MAP_FAILED, "mmap");
  return new (memory) Handshake;
}

void drop_handshake(Handshake*& handshake) {
  if (handshake != nullptr) ::munmap(handshake, sizeof(Handshake));
  handshake = nullptr;
}

/// Parent: waits for the block's child to listen; returns its number (its endpoint's suffix).
std::uint64_t await_child(const Handshake& handshake) {
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  for (;;) {
    const std::uint64_t started = handshake.started.load(std::memory_order_acquire);
    if (started > handshake.finished.load(std::memory_order_acquire)) return started;
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error("the other process did not start listening within 30 s");
    std::this_thread::sleep_for(50us);
  }
}

/// The parent's connection belongs to a child that has finished (or there is none yet).
bool connection_stale(const Handshake& handshake, std::uint64_t connected_to) {
  return handshake.finished.load(std::memory_order_acquire) >= connected_to;
}

/// A fresh ipc:// endpoint per row, per parent process and per child (block).
struct Endpoints {
  std::string base;  // /tmp/<unique name>
  std::string path(std::uint64_t child) const {
    return base + "-" + std::to_string(child) + ".ipc";
  }
  std::string url(std::uint64_t child) const { return "ipc://" + path(child); }
  void remove_all(std::uint64_t children) const {
    std::error_code ignored;
    for (std::uint64_t child = 1; child <= children; ++child)
      std::filesystem::remove(path(child), ignored);
  }
};

// ---------------------------------------------------------------------------------------------
// ZeroMQ

[[noreturn]] void zmq_fail(const char* what) {
  throw std::runtime_error(std::string(what) + ": " + ::zmq_strerror(::zmq_errno()));
}

/// A context and one socket; closing lingers (default: until all is sent), so a child's last
/// answer leaves before the process ends.
class ZmqSocket {
 public:
  ZmqSocket(int type, int linger_ms) {
    context_ = ::zmq_ctx_new();
    if (context_ == nullptr) zmq_fail("zmq_ctx_new");
    socket_ = ::zmq_socket(context_, type);
    if (socket_ == nullptr) {
      ::zmq_ctx_term(context_);
      zmq_fail("zmq_socket");
    }
    set(ZMQ_LINGER, linger_ms);
  }
  ~ZmqSocket() {
    ::zmq_close(socket_);
    ::zmq_ctx_term(context_);
  }
  ZmqSocket(const ZmqSocket&) = delete;
  ZmqSocket& operator=(const ZmqSocket&) = delete;

  void set(int option, int value) {
    if (::zmq_setsockopt(socket_, option, &value, sizeof value) != 0) zmq_fail("zmq_setsockopt");
  }
  void bind(const std::string& url) {
    if (::zmq_bind(socket_, url.c_str()) != 0) zmq_fail(("zmq_bind " + url).c_str());
  }
  void connect(const std::string& url) {
    if (::zmq_connect(socket_, url.c_str()) != 0) zmq_fail(("zmq_connect " + url).c_str());
  }
  void send(const std::vector<char>& message) {
    if (::zmq_send(socket_, message.data(), message.size(), 0) != static_cast<int>(message.size()))
      zmq_fail("zmq_send");
  }
  void receive(std::vector<char>& message) {
    const int n = ::zmq_recv(socket_, message.data(), message.size(), 0);
    if (n < 0) zmq_fail("zmq_recv");
    if (static_cast<std::size_t>(n) != message.size())
      throw std::runtime_error("zmq_recv: message of " + std::to_string(n) + " B, expected " +
                               std::to_string(message.size()));
  }

 private:
  void* context_ = nullptr;
  void* socket_ = nullptr;
};

// REQ/REP over ipc://: the child's REP binds, the parent's REQ connects; both block.
class ZeromqIpc final : public RoundTrip {
 public:
  std::string name() const override { return "ZeroMQ REQ/REP ipc://"; }
  Wait wait() const override { return Wait::blocking; }
  void prepare(std::size_t payload) override {
    endpoints_.base = "/tmp/" + unique_name("bench-zmq");
    handshake_ = make_handshake();
    buffer_.assign(payload, 'x');
  }
  void serve(std::size_t count) override {
    ZmqSocket rep(ZMQ_REP, -1);
    const std::uint64_t self = handshake_->started.load() + 1;
    rep.bind(endpoints_.url(self));
    handshake_->started.store(self, std::memory_order_release);
    std::vector<char> copy(buffer_.size());
    for (std::size_t i = 0; i < count; ++i) {
      rep.receive(copy);
      rep.send(copy);
    }
    handshake_->finished.store(self, std::memory_order_release);
  }  // closing waits until the last answer is sent
  void ping() override {
    if (connection_stale(*handshake_, connected_to_)) connect();
    req_->send(buffer_);
    req_->receive(buffer_);
  }
  void cleanup() override {
    req_.reset();
    if (handshake_ != nullptr) endpoints_.remove_all(handshake_->started.load());
    drop_handshake(handshake_);
  }

 private:
  void connect() {
    req_.reset();
    connected_to_ = await_child(*handshake_);
    req_ = std::make_unique<ZmqSocket>(ZMQ_REQ, 0);
    req_->set(ZMQ_RCVTIMEO, kReceiveTimeoutMs);
    req_->connect(endpoints_.url(connected_to_));
  }
  Endpoints endpoints_;
  Handshake* handshake_ = nullptr;
  std::uint64_t connected_to_ = 0;
  std::unique_ptr<ZmqSocket> req_;  // the parent's, made after the fork
  std::vector<char> buffer_;
};

// PUSH/PULL over ipc://: the child's PULL binds, the parent's PUSH connects; both block.
class ZeromqPushPull final : public Stream {
 public:
  std::string name() const override { return "ZeroMQ PUSH/PULL ipc://"; }
  Wait wait() const override { return Wait::blocking; }
  void prepare(std::size_t payload) override {
    payload_ = std::max<std::size_t>(payload, 8);
    endpoints_.base = "/tmp/" + unique_name("bench-zmq-stream");
    handshake_ = make_handshake();
    message_.assign(payload_, 'x');
  }
  void attach_consumer() override {
    pull_ = std::make_unique<ZmqSocket>(ZMQ_PULL, -1);
    self_ = handshake_->started.load() + 1;
    pull_->bind(endpoints_.url(self_));
    handshake_->started.store(self_, std::memory_order_release);
  }
  void consume(std::size_t count) override {
    std::vector<char> copy(payload_);
    for (std::uint64_t i = 0; i < count; ++i) {
      pull_->receive(copy);
      verify(copy.data(), payload_, i);
    }
    handshake_->finished.store(self_, std::memory_order_release);
    pull_.reset();
  }
  void produce(std::size_t count) override {
    if (connection_stale(*handshake_, connected_to_)) {
      push_.reset();
      connected_to_ = await_child(*handshake_);
      push_ = std::make_unique<ZmqSocket>(ZMQ_PUSH, 0);
      push_->connect(endpoints_.url(connected_to_));
    }
    for (std::uint64_t i = 0; i < count; ++i) {
      stamp(message_, i);
      push_->send(message_);
    }
  }
  void cleanup() override {
    push_.reset();
    if (handshake_ != nullptr) endpoints_.remove_all(handshake_->started.load());
    drop_handshake(handshake_);
  }

 private:
  std::size_t payload_ = 0;
  Endpoints endpoints_;
  Handshake* handshake_ = nullptr;
  std::uint64_t self_ = 0;          // the child's number (in the child)
  std::uint64_t connected_to_ = 0;  // the parent's
  std::unique_ptr<ZmqSocket> pull_, push_;
  std::vector<char> message_;
};

// ---------------------------------------------------------------------------------------------
// nng

[[noreturn]] void nng_fail(const char* what, int error) {
  throw std::runtime_error(std::string(what) + ": " + ::nng_strerror(error));
}

class NngSocket {
 public:
  NngSocket(int (*open)(nng_socket*), std::size_t payload) {
    if (const int error = open(&socket_); error != 0) nng_fail("nng open", error);
    open_ = true;
    // The default limit (1 MiB) counts the protocol header too: allow the largest payload.
    set_size(NNG_OPT_RECVMAXSZ, payload + 4096);
  }
  ~NngSocket() {
    if (open_) ::nng_close(socket_);
  }
  NngSocket(const NngSocket&) = delete;
  NngSocket& operator=(const NngSocket&) = delete;

  void set_size(const char* option, std::size_t value) {
    if (const int error = ::nng_socket_set_size(socket_, option, value); error != 0)
      nng_fail(option, error);
  }
  void set_ms(const char* option, nng_duration value) {
    if (const int error = ::nng_socket_set_ms(socket_, option, value); error != 0)
      nng_fail(option, error);
  }
  void listen(const std::string& url) {
    if (const int error = ::nng_listen(socket_, url.c_str(), nullptr, 0); error != 0)
      nng_fail(("nng_listen " + url).c_str(), error);
  }
  void dial(const std::string& url) {
    if (const int error = ::nng_dial(socket_, url.c_str(), nullptr, 0); error != 0)
      nng_fail(("nng_dial " + url).c_str(), error);
  }
  void send(std::vector<char>& message) {
    if (const int error = ::nng_send(socket_, message.data(), message.size(), 0); error != 0)
      nng_fail("nng_send", error);
  }
  void receive(std::vector<char>& message) {
    std::size_t size = message.size();
    if (const int error = ::nng_recv(socket_, message.data(), &size, 0); error != 0)
      nng_fail("nng_recv", error);
    if (size != message.size())
      throw std::runtime_error("nng_recv: message of " + std::to_string(size) + " B, expected " +
                               std::to_string(message.size()));
  }

 private:
  nng_socket socket_ = NNG_SOCKET_INITIALIZER;
  bool open_ = false;
};

/// The nng server's loop (rep listens on `url`, answers `count` messages of `payload` bytes).
void nng_serve(Handshake& handshake, const Endpoints& endpoints, std::size_t payload,
               std::size_t count) {
  NngSocket rep(::nng_rep0_open, payload);
  const std::uint64_t self = handshake.started.load() + 1;
  const std::uint64_t answered = handshake.answered.load();
  rep.listen(endpoints.url(self));
  handshake.started.store(self, std::memory_order_release);
  std::vector<char> copy(payload);
  for (std::size_t i = 0; i < count; ++i) {
    rep.receive(copy);
    rep.send(copy);
  }
  // nng_close does not linger: wait until the parent has the last answer before closing.
  while (handshake.answered.load(std::memory_order_acquire) < answered + count)
    std::this_thread::sleep_for(20us);
  handshake.finished.store(self, std::memory_order_release);
}

// nng refuses to run in a process forked from one that used nng ("nng is not fork-reentrant
// safe": it panics). So the forked child execs this program afresh, and this hook, run before
// main, serves and exits. The handshake travels as a memfd the exec keeps open.
constexpr const char* kNngServeVariable = "CONDUIT_BENCH_NNG_SERVE";

[[maybe_unused]] const bool nng_exec_hook = [] {
  const char* spec = std::getenv(kNngServeVariable);
  if (spec == nullptr) return false;
  int fd = -1;
  std::size_t payload = 0, count = 0;
  char base[256] = {};
  if (std::sscanf(spec, "%d %zu %zu %255s", &fd, &payload, &count, base) != 4) ::_exit(3);
  try {
    void* memory = ::mmap(nullptr, sizeof(Handshake), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    check(memory != MAP_FAILED, "mmap (nng handshake)");
    nng_serve(*static_cast<Handshake*>(memory), Endpoints{base}, payload, count);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "\nbench child (nng): %s\n", e.what());
    ::_exit(3);
  }
  ::_exit(0);
}();

// req/rep over ipc://: the child's rep listens, the parent's req dials; both block.
class NngIpc final : public RoundTrip {
 public:
  std::string name() const override { return "nng req/rep ipc://"; }
  Wait wait() const override { return Wait::blocking; }
  void prepare(std::size_t payload) override {
    endpoints_.base = "/tmp/" + unique_name("bench-nng");
    memfd_ = ::memfd_create("bench-nng-handshake", 0);  // no CLOEXEC: the child's exec keeps it
    check(memfd_ >= 0 && ::ftruncate(memfd_, sizeof(Handshake)) == 0, "memfd_create");
    void* memory =
        ::mmap(nullptr, sizeof(Handshake), PROT_READ | PROT_WRITE, MAP_SHARED, memfd_, 0);
    check(memory != MAP_FAILED, "mmap");
    handshake_ = new (memory) Handshake;
    buffer_.assign(payload, 'x');
  }
  void serve(std::size_t count) override {
    const std::string spec = std::to_string(memfd_) + " " + std::to_string(buffer_.size()) + " " +
                             std::to_string(count) + " " + endpoints_.base;
    ::setenv(kNngServeVariable, spec.c_str(), 1);
    ::execl("/proc/self/exe", "conduit-bench-nng-server", static_cast<char*>(nullptr));
    check(false, "exec (nng server)");
  }
  void ping() override {
    if (connection_stale(*handshake_, connected_to_)) connect();
    req_->send(buffer_);
    req_->receive(buffer_);
    handshake_->answered.store(++answered_, std::memory_order_release);
  }
  void cleanup() override {
    req_.reset();
    if (handshake_ != nullptr) endpoints_.remove_all(handshake_->started.load());
    drop_handshake(handshake_);
    if (memfd_ >= 0) ::close(memfd_);
    memfd_ = -1;
  }

 private:
  void connect() {
    req_.reset();
    connected_to_ = await_child(*handshake_);
    req_ = std::make_unique<NngSocket>(::nng_req0_open, buffer_.size());
    req_->set_ms(NNG_OPT_RECVTIMEO, kReceiveTimeoutMs);
    req_->dial(endpoints_.url(connected_to_));
  }
  Endpoints endpoints_;
  Handshake* handshake_ = nullptr;
  int memfd_ = -1;
  std::uint64_t connected_to_ = 0, answered_ = 0;
  std::unique_ptr<NngSocket> req_;  // the parent's, made after the fork
  std::vector<char> buffer_;
};

}  // namespace

RoundTripFactory boost_message_queue(Wait wait) {
  return [wait] { return std::make_unique<BoostMessageQueue>(wait); };
}
RoundTripFactory zeromq_ipc() {
  return [] { return std::make_unique<ZeromqIpc>(); };
}
RoundTripFactory nng_ipc() {
  return [] { return std::make_unique<NngIpc>(); };
}
StreamFactory boost_message_queue_stream() {
  return [] { return std::make_unique<BoostMessageQueueStream>(); };
}
StreamFactory zeromq_push_pull() {
  return [] { return std::make_unique<ZeromqPushPull>(); };
}

}  // namespace bench
