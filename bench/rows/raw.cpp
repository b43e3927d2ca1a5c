// The physical limit and the raw kernel mechanisms, each written the plain way a careful C
// programmer would.
#include <fcntl.h>
#include <linux/futex.h>
#include <mqueue.h>
#include <semaphore.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "rows.hpp"

namespace bench {
namespace {

void* shared_anonymous(std::size_t size) {
  void* memory = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  check(memory != MAP_FAILED, "mmap");
  return memory;
}

// Two atomics and a buffer per direction in shared memory; each side busy-polls.
class AtomicLimit final : public RoundTrip {
 public:
  std::string name() const override { return "limit: atomic ping-pong"; }
  Wait wait() const override { return Wait::busy; }
  void prepare(std::size_t payload) override {
    payload_ = payload;
    shared_ = static_cast<Shared*>(shared_anonymous(sizeof(Shared) + 2 * payload));
    buffer_.assign(payload, 'x');
  }
  void serve(std::size_t count) override {
    std::vector<char> copy(payload_);
    for (std::uint64_t i = 1; i <= count; ++i) {
      while (shared_->ping.load(std::memory_order_acquire) != i) {
      }
      std::memcpy(copy.data(), data(0), payload_);
      std::memcpy(data(1), copy.data(), payload_);
      shared_->pong.store(i, std::memory_order_release);
    }
  }
  void begin_block() override {
    // Every block's child counts from 1.
    shared_->ping.store(0);
    shared_->pong.store(0);
    sequence_ = 0;
  }
  void ping() override {
    std::memcpy(data(0), buffer_.data(), payload_);
    shared_->ping.store(++sequence_, std::memory_order_release);
    while (shared_->pong.load(std::memory_order_acquire) != sequence_) {
    }
    std::memcpy(buffer_.data(), data(1), payload_);
  }
  void cleanup() override {
    ::munmap(shared_, sizeof(Shared) + 2 * payload_);
    sequence_ = 0;
  }

 private:
  struct Shared {
    alignas(64) std::atomic<std::uint64_t> ping{0};
    alignas(64) std::atomic<std::uint64_t> pong{0};
  };
  char* data(int side) { return reinterpret_cast<char*>(shared_ + 1) + side * payload_; }
  Shared* shared_ = nullptr;
  std::size_t payload_ = 0;
  std::uint64_t sequence_ = 0;
  std::vector<char> buffer_;
};

long futex(std::atomic<std::uint32_t>* word, int op, std::uint32_t value) {
  return ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), op, value, nullptr, nullptr,
                   0);
}

// Raw futex ping-pong: each side sleeps in FUTEX_WAIT until the other flips the word.
class FutexPingPong final : public RoundTrip {
 public:
  std::string name() const override { return "raw futex ping-pong"; }
  Wait wait() const override { return Wait::blocking; }
  void prepare(std::size_t payload) override {
    payload_ = payload;
    shared_ = static_cast<Shared*>(shared_anonymous(64 + 2 * payload));
    buffer_.assign(payload, 'x');
  }
  void serve(std::size_t count) override {
    std::vector<char> copy(payload_);
    for (std::size_t i = 0; i < count; ++i) {
      while (shared_->turn.load(std::memory_order_acquire) != 1)
        futex(&shared_->turn, FUTEX_WAIT, 0);
      std::memcpy(copy.data(), data(0), payload_);
      std::memcpy(data(1), copy.data(), payload_);
      shared_->turn.store(0, std::memory_order_release);
      futex(&shared_->turn, FUTEX_WAKE, 1);
    }
  }
  void ping() override {
    std::memcpy(data(0), buffer_.data(), payload_);
    shared_->turn.store(1, std::memory_order_release);
    futex(&shared_->turn, FUTEX_WAKE, 1);
    while (shared_->turn.load(std::memory_order_acquire) != 0) futex(&shared_->turn, FUTEX_WAIT, 1);
    std::memcpy(buffer_.data(), data(1), payload_);
  }
  void cleanup() override { ::munmap(shared_, 64 + 2 * payload_); }

 private:
  struct Shared {
    std::atomic<std::uint32_t> turn{0};
  };
  char* data(int side) { return reinterpret_cast<char*>(shared_) + 64 + side * payload_; }
  Shared* shared_ = nullptr;
  std::size_t payload_ = 0;
  std::vector<char> buffer_;
};

class PosixSemaphore final : public RoundTrip {
 public:
  std::string name() const override { return "POSIX sem_t"; }
  Wait wait() const override { return Wait::blocking; }
  void prepare(std::size_t payload) override {
    payload_ = payload;
    shared_ = static_cast<Shared*>(shared_anonymous(sizeof(Shared) + 2 * payload));
    check(::sem_init(&shared_->ping, 1, 0) == 0 && ::sem_init(&shared_->pong, 1, 0) == 0,
          "sem_init");
    buffer_.assign(payload, 'x');
  }
  void serve(std::size_t count) override {
    std::vector<char> copy(payload_);
    for (std::size_t i = 0; i < count; ++i) {
      while (::sem_wait(&shared_->ping) != 0) {
      }
      std::memcpy(copy.data(), data(0), payload_);
      std::memcpy(data(1), copy.data(), payload_);
      ::sem_post(&shared_->pong);
    }
  }
  void ping() override {
    std::memcpy(data(0), buffer_.data(), payload_);
    ::sem_post(&shared_->ping);
    while (::sem_wait(&shared_->pong) != 0) {
    }
    std::memcpy(buffer_.data(), data(1), payload_);
  }
  void cleanup() override { ::munmap(shared_, sizeof(Shared) + 2 * payload_); }

 private:
  struct Shared {
    sem_t ping;
    sem_t pong;
  };
  char* data(int side) { return reinterpret_cast<char*>(shared_ + 1) + side * payload_; }
  Shared* shared_ = nullptr;
  std::size_t payload_ = 0;
  std::vector<char> buffer_;
};

// Any pair of descriptors carrying length-known messages: pipes, socketpairs.
class FdPair : public RoundTrip {
 public:
  void serve(std::size_t count) override {
    std::vector<char> copy(payload_);
    for (std::size_t i = 0; i < count; ++i) {
      receive(child_in_, copy);
      send(child_out_, copy);
    }
  }
  void ping() override {
    send(parent_out_, buffer_);
    receive(parent_in_, buffer_);
  }
  void cleanup() override {
    for (int fd : {parent_in_, parent_out_, child_in_, child_out_}) ::close(fd);
  }

 protected:
  virtual void send(int fd, const std::vector<char>& bytes) {
    write_exact(fd, bytes.data(), bytes.size());
  }
  virtual void receive(int fd, std::vector<char>& bytes) {
    read_exact(fd, bytes.data(), bytes.size());
  }
  std::size_t payload_ = 0;
  int parent_in_ = -1, parent_out_ = -1, child_in_ = -1, child_out_ = -1;
  std::vector<char> buffer_;
};

class PipePair final : public FdPair {
 public:
  std::string name() const override { return "pipe (two)"; }
  Wait wait() const override { return Wait::blocking; }
  void prepare(std::size_t payload) override {
    payload_ = payload;
    buffer_.assign(payload, 'x');
    int down[2], up[2];
    check(::pipe(down) == 0 && ::pipe(up) == 0, "pipe");
    child_in_ = down[0], parent_out_ = down[1], parent_in_ = up[0], child_out_ = up[1];
  }
};

class SocketPair final : public FdPair {
 public:
  explicit SocketPair(int type) : type_(type) {}
  std::string name() const override {
    return type_ == SOCK_STREAM ? "unix socketpair stream" : "unix socketpair seqpacket";
  }
  Wait wait() const override { return Wait::blocking; }
  void prepare(std::size_t payload) override {
    payload_ = payload;
    buffer_.assign(payload, 'x');
    int pair[2];
    check(::socketpair(AF_UNIX, type_, 0, pair) == 0, "socketpair");
    if (type_ == SOCK_SEQPACKET) {
      const int size = static_cast<int>(std::max<std::size_t>(payload * 2, 65536));
      for (int fd : pair) {
        ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
        ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
      }
    }
    parent_in_ = parent_out_ = pair[0];
    child_in_ = child_out_ = ::dup(pair[1]);
    ::close(pair[1]);
  }
  void cleanup() override {
    ::close(parent_in_);
    ::close(child_in_);
  }

 private:
  int type_;
};

class EventFdPair final : public RoundTrip {
 public:
  std::string name() const override { return "eventfd (two) + shared bytes"; }
  Wait wait() const override { return Wait::blocking; }
  void prepare(std::size_t payload) override {
    payload_ = payload;
    buffer_.assign(payload, 'x');
    data_ = static_cast<char*>(shared_anonymous(2 * payload + 64));
    down_ = ::eventfd(0, 0);
    up_ = ::eventfd(0, 0);
    check(down_ >= 0 && up_ >= 0, "eventfd");
  }
  void serve(std::size_t count) override {
    std::vector<char> copy(payload_);
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < count; ++i) {
      read_exact(down_, &value, sizeof value);
      std::memcpy(copy.data(), data_, payload_);
      std::memcpy(data_ + payload_, copy.data(), payload_);
      value = 1;
      write_exact(up_, &value, sizeof value);
    }
  }
  void ping() override {
    std::memcpy(data_, buffer_.data(), payload_);
    std::uint64_t value = 1;
    write_exact(down_, &value, sizeof value);
    read_exact(up_, &value, sizeof value);
    std::memcpy(buffer_.data(), data_ + payload_, payload_);
  }
  void cleanup() override {
    ::close(down_);
    ::close(up_);
    ::munmap(data_, 2 * payload_ + 64);
  }

 private:
  std::size_t payload_ = 0;
  int down_ = -1, up_ = -1;
  char* data_ = nullptr;
  std::vector<char> buffer_;
};

class PosixMq final : public RoundTrip {
 public:
  std::string name() const override { return "POSIX mq"; }
  Wait wait() const override { return Wait::blocking; }
  void prepare(std::size_t payload) override {
    payload_ = std::max<std::size_t>(payload, 1);
    buffer_.assign(payload_, 'x');
    mq_attr attributes{};
    attributes.mq_maxmsg = 1;
    attributes.mq_msgsize = static_cast<long>(payload_);
    const std::string base = "/conduit-bench-" + std::to_string(::getpid());
    down_name_ = base + "-down";
    up_name_ = base + "-up";
    down_ = ::mq_open(down_name_.c_str(), O_CREAT | O_RDWR, 0600, &attributes);
    up_ = ::mq_open(up_name_.c_str(), O_CREAT | O_RDWR, 0600, &attributes);
    check(down_ != static_cast<mqd_t>(-1) && up_ != static_cast<mqd_t>(-1),
          "mq_open (message size above fs.mqueue.msgsize_max?)");
  }
  void serve(std::size_t count) override {
    std::vector<char> copy(payload_);
    for (std::size_t i = 0; i < count; ++i) {
      if (::mq_receive(down_, copy.data(), payload_, nullptr) < 0) ::_exit(3);
      if (::mq_send(up_, copy.data(), payload_, 0) != 0) ::_exit(3);
    }
  }
  void ping() override {
    ::mq_send(down_, buffer_.data(), payload_, 0);
    ::mq_receive(up_, buffer_.data(), payload_, nullptr);
  }
  void cleanup() override {
    ::mq_close(down_);
    ::mq_close(up_);
    ::mq_unlink(down_name_.c_str());
    ::mq_unlink(up_name_.c_str());
  }

 private:
  std::size_t payload_ = 0;
  mqd_t down_ = -1, up_ = -1;
  std::string down_name_, up_name_;
  std::vector<char> buffer_;
};

class SysvMsgq final : public RoundTrip {
 public:
  std::string name() const override { return "System V msgq"; }
  Wait wait() const override { return Wait::blocking; }
  void prepare(std::size_t payload) override {
    payload_ = payload;
    queue_ = ::msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    check(queue_ >= 0, "msgget");
    message_.assign(sizeof(long) + payload, 'x');
  }
  void serve(std::size_t count) override {
    std::vector<char> copy(sizeof(long) + payload_);
    for (std::size_t i = 0; i < count; ++i) {
      if (::msgrcv(queue_, copy.data(), payload_, 1, 0) < 0) ::_exit(3);
      *reinterpret_cast<long*>(copy.data()) = 2;
      if (::msgsnd(queue_, copy.data(), payload_, 0) != 0) ::_exit(3);
    }
  }
  void ping() override {
    *reinterpret_cast<long*>(message_.data()) = 1;  // type 1 down, type 2 up: one queue
    ::msgsnd(queue_, message_.data(), payload_, 0);
    ::msgrcv(queue_, message_.data(), payload_, 2, 0);
  }
  void cleanup() override { ::msgctl(queue_, IPC_RMID, nullptr); }

 private:
  std::size_t payload_ = 0;
  int queue_ = -1;
  std::vector<char> message_;
};

}  // namespace

void read_exact(int fd, void* data, std::size_t size) {
  auto* bytes = static_cast<char*>(data);
  while (size > 0) {
    const ssize_t n = ::read(fd, bytes, size);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      ::_exit(3);
    }
    bytes += n;
    size -= static_cast<std::size_t>(n);
  }
}

void write_exact(int fd, const void* data, std::size_t size) {
  const auto* bytes = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd, bytes, size);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      ::_exit(3);
    }
    bytes += n;
    size -= static_cast<std::size_t>(n);
  }
}

RoundTripFactory atomic_limit() {
  return [] { return std::make_unique<AtomicLimit>(); };
}
RoundTripFactory futex_pingpong() {
  return [] { return std::make_unique<FutexPingPong>(); };
}
RoundTripFactory posix_semaphore() {
  return [] { return std::make_unique<PosixSemaphore>(); };
}
RoundTripFactory pipe_pair() {
  return [] { return std::make_unique<PipePair>(); };
}
RoundTripFactory eventfd_pair() {
  return [] { return std::make_unique<EventFdPair>(); };
}
RoundTripFactory socketpair_stream() {
  return [] { return std::make_unique<SocketPair>(SOCK_STREAM); };
}
RoundTripFactory socketpair_seqpacket() {
  return [] { return std::make_unique<SocketPair>(SOCK_SEQPACKET); };
}
RoundTripFactory posix_mq() {
  return [] { return std::make_unique<PosixMq>(); };
}
RoundTripFactory sysv_msgq() {
  return [] { return std::make_unique<SysvMsgq>(); };
}

}  // namespace bench
