// Streaming through the limit and the raw kernel mechanisms, and the raw single-process loops.
#include <fcntl.h>
#include <mqueue.h>
#include <pthread.h>
#include <semaphore.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <vector>

#include "rows.hpp"

namespace bench {
namespace {

void* map_shared(std::size_t size) {
  void* memory = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  check(memory != MAP_FAILED, "mmap");
  return memory;
}

// The limit: a plain single-producer ring in shared memory, both sides busy-polling, each
// side caching the other's index (what any careful SPSC ring does).
class RingLimit final : public Stream {
 public:
  std::string name() const override { return "limit: raw SPSC ring"; }
  Wait wait() const override { return Wait::busy; }
  void prepare(std::size_t payload) override {
    payload_ = std::max<std::size_t>(payload, 1);
    slots_ = std::clamp<std::size_t>((64u << 20) / payload_, 8, 1024);
    bytes_ = sizeof(Indices) + slots_ * payload_;
    indices_ = new (map_shared(bytes_)) Indices;
    message_.assign(payload_, 'x');
  }
  void begin_block() override { new (indices_) Indices; }  // each block streams from 0
  void consume(std::size_t count) override {
    std::vector<char> copy(payload_);
    std::uint64_t tail_cache = 0;
    for (std::uint64_t head = 0; head < count; ++head) {
      while (head == tail_cache) tail_cache = indices_->tail.load(std::memory_order_acquire);
      std::memcpy(copy.data(), slot(head), payload_);
      verify(copy.data(), payload_, head);
      indices_->head.store(head + 1, std::memory_order_release);
    }
  }
  void produce(std::size_t count) override {
    std::uint64_t head_cache = 0;
    for (std::uint64_t tail = 0; tail < count; ++tail) {
      while (tail - head_cache == slots_)
        head_cache = indices_->head.load(std::memory_order_acquire);
      stamp(message_, tail);
      std::memcpy(slot(tail), message_.data(), payload_);
      indices_->tail.store(tail + 1, std::memory_order_release);
    }
  }
  void cleanup() override { ::munmap(indices_, bytes_); }

 private:
  struct Indices {
    alignas(64) std::atomic<std::uint64_t> head{0};
    alignas(64) std::atomic<std::uint64_t> tail{0};
  };
  char* slot(std::uint64_t index) {
    return reinterpret_cast<char*>(indices_ + 1) + (index % slots_) * payload_;
  }
  Indices* indices_ = nullptr;
  std::size_t payload_ = 0, slots_ = 0, bytes_ = 0;
  std::vector<char> message_;
};

// A pipe, or a Unix-domain socketpair (`socket_type` SOCK_STREAM or SOCK_SEQPACKET), read and
// written the plain blocking way: the producer writes fds_[1], the consumer reads fds_[0].
class FdStream final : public Stream {
 public:
  explicit FdStream(int socket_type = 0) : socket_type_(socket_type) {}
  std::string name() const override {
    if (socket_type_ == 0) return "pipe";
    return socket_type_ == SOCK_STREAM ? "unix socketpair stream" : "unix socketpair seqpacket";
  }
  Wait wait() const override { return Wait::blocking; }
  void prepare(std::size_t payload) override {
    payload_ = std::max<std::size_t>(payload, 1);
    if (socket_type_ == 0) {
      check(::pipe(fds_) == 0, "pipe");
    } else {
      check(::socketpair(AF_UNIX, socket_type_, 0, fds_) == 0, "socketpair");
      if (socket_type_ == SOCK_SEQPACKET) {  // room for whole packets of the payload's size
        const int size = static_cast<int>(std::max<std::size_t>(payload_ * 2, 65536));
        for (int fd : fds_) {
          ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
          ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
        }
      }
    }
    message_.assign(payload_, 'x');
  }
  void attach_consumer() override { ::close(fds_[1]); }
  void consume(std::size_t count) override {
    std::vector<char> copy(payload_);
    for (std::uint64_t i = 0; i < count; ++i) {
      for (std::size_t got = 0; got < payload_;) {
        const ssize_t n = ::read(fds_[0], copy.data() + got, payload_ - got);
        check(n > 0 || errno == EINTR, "read");
        if (n > 0) got += static_cast<std::size_t>(n);
      }
      verify(copy.data(), payload_, i);
    }
  }
  void produce(std::size_t count) override {
    for (std::uint64_t i = 0; i < count; ++i) {
      stamp(message_, i);
      for (std::size_t put = 0; put < payload_;) {
        const ssize_t n = ::write(fds_[1], message_.data() + put, payload_ - put);
        check(n > 0 || errno == EINTR, "write");
        if (n > 0) put += static_cast<std::size_t>(n);
      }
    }
  }
  void cleanup() override {
    ::close(fds_[0]);
    ::close(fds_[1]);
  }

 private:
  int socket_type_;
  int fds_[2] = {-1, -1};
  std::size_t payload_ = 0;
  std::vector<char> message_;
};

class PosixMqStream final : public Stream {
 public:
  std::string name() const override { return "POSIX mq"; }
  Wait wait() const override { return Wait::blocking; }
  void prepare(std::size_t payload) override {
    payload_ = std::max<std::size_t>(payload, 8);
    message_.assign(payload_, 'x');
    name_ = "/" + unique_name("bench-mq");
    mq_attr attributes{};
    attributes.mq_maxmsg = 10;  // the default fs.mqueue.msg_max
    attributes.mq_msgsize = static_cast<long>(payload_);
    queue_ = ::mq_open(name_.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600, &attributes);
    check(queue_ != static_cast<mqd_t>(-1), "mq_open (message size above fs.mqueue.msgsize_max?)");
  }
  void consume(std::size_t count) override {
    std::vector<char> copy(payload_);
    for (std::uint64_t i = 0; i < count; ++i) {
      check(::mq_receive(queue_, copy.data(), payload_, nullptr) == static_cast<ssize_t>(payload_),
            "mq_receive");
      verify(copy.data(), payload_, i);
    }
  }
  void produce(std::size_t count) override {
    for (std::uint64_t i = 0; i < count; ++i) {
      stamp(message_, i);
      check(::mq_send(queue_, message_.data(), payload_, 0) == 0, "mq_send");
    }
  }
  void cleanup() override {
    ::mq_close(queue_);
    ::mq_unlink(name_.c_str());
  }

 private:
  std::size_t payload_ = 0;
  std::string name_;
  mqd_t queue_ = -1;
  std::vector<char> message_;
};

// glibc's robust, process-shared mutex: what conduit::Mutex used to build on, and what
// people use for the job.
class PthreadMutexLoop final : public Loop {
 public:
  std::string name() const override { return "pthread_mutex (robust, pshared)"; }
  void prepare() override {
    mutex_ = static_cast<pthread_mutex_t*>(map_shared(sizeof(pthread_mutex_t)));
    pthread_mutexattr_t attributes;
    ::pthread_mutexattr_init(&attributes);
    ::pthread_mutexattr_setpshared(&attributes, PTHREAD_PROCESS_SHARED);
    ::pthread_mutexattr_setrobust(&attributes, PTHREAD_MUTEX_ROBUST);
    ::pthread_mutex_init(mutex_, &attributes);
    ::pthread_mutexattr_destroy(&attributes);
  }
  void run(std::size_t count) override {
    for (std::size_t i = 0; i < count; ++i) {
      ::pthread_mutex_lock(mutex_);
      ::pthread_mutex_unlock(mutex_);
    }
  }
  void cleanup() override { ::munmap(mutex_, sizeof(pthread_mutex_t)); }

 private:
  pthread_mutex_t* mutex_ = nullptr;
};

class PosixSemaphoreLoop final : public Loop {
 public:
  std::string name() const override { return "POSIX sem_t (pshared)"; }
  void prepare() override {
    semaphore_ = static_cast<sem_t*>(map_shared(sizeof(sem_t)));
    check(::sem_init(semaphore_, 1, 1) == 0, "sem_init");
  }
  void run(std::size_t count) override {
    for (std::size_t i = 0; i < count; ++i) {
      ::sem_wait(semaphore_);
      ::sem_post(semaphore_);
    }
  }
  void cleanup() override { ::munmap(semaphore_, sizeof(sem_t)); }

 private:
  sem_t* semaphore_ = nullptr;
};

}  // namespace

std::string unique_name(const char* prefix) {
  static int counter = 0;
  return std::string(prefix) + "-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
}

StreamFactory ring_limit_stream() {
  return [] { return std::make_unique<RingLimit>(); };
}
StreamFactory pipe_stream() {
  return [] { return std::make_unique<FdStream>(); };
}
StreamFactory socketpair_stream_stream() {
  return [] { return std::make_unique<FdStream>(SOCK_STREAM); };
}
StreamFactory socketpair_seqpacket_stream() {
  return [] { return std::make_unique<FdStream>(SOCK_SEQPACKET); };
}
StreamFactory posix_mq_stream() {
  return [] { return std::make_unique<PosixMqStream>(); };
}
LoopFactory pthread_mutex_loop() {
  return [] { return std::make_unique<PthreadMutexLoop>(); };
}
LoopFactory posix_semaphore_loop() {
  return [] { return std::make_unique<PosixSemaphoreLoop>(); };
}

}  // namespace bench
