// conduit's rows: the same round trip through conduit's Semaphore, Mailbox and Endpoint.
// Busy rows poll with try_ calls; blocking rows set the wait strategy's spin to 0 (sleep at
// once, like the blocking peers); adaptive rows use the default spin-then-sleep.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "conduit/conduit.hpp"
#include "rows.hpp"

namespace bench {
namespace {

std::uint32_t spin_for(Wait wait) {
  return wait == Wait::blocking ? 0 : conduit::sync::kSpinRounds;
}

std::string suffix(Wait wait) { return std::string(" (") + to_string(wait) + ")"; }

class SemaphoreRow final : public RoundTrip {
 public:
  explicit SemaphoreRow(Wait wait) : wait_(wait) {}
  std::string name() const override { return "conduit Semaphore" + suffix(wait_); }
  Wait wait() const override { return wait_; }
  void prepare(std::size_t payload) override {
    payload_ = payload;
    bytes_ = 2 * payload + sizeof(Pair);
    void* memory =
        ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) throw std::runtime_error("mmap");
    pair_ = ::new (memory) Pair();
    buffer_.assign(payload, 'x');
  }
  void serve(std::size_t count) override {
    conduit::sync::set_spin_rounds(spin_for(wait_));
    std::vector<char> copy(payload_);
    for (std::size_t i = 0; i < count; ++i) {
      take(pair_->ping);
      std::memcpy(copy.data(), data(0), payload_);
      std::memcpy(data(1), copy.data(), payload_);
      pair_->pong.release();
    }
  }
  void ping() override {
    conduit::sync::set_spin_rounds(spin_for(wait_));
    std::memcpy(data(0), buffer_.data(), payload_);
    pair_->ping.release();
    take(pair_->pong);
    std::memcpy(buffer_.data(), data(1), payload_);
  }
  void cleanup() override {
    ::munmap(pair_, bytes_);
    conduit::sync::set_spin_rounds(conduit::sync::kSpinRounds);
  }

 private:
  void take(conduit::Semaphore& semaphore) const {
    if (wait_ == Wait::busy) {
      while (!semaphore.try_acquire()) {
      }
    } else if (!semaphore.acquire()) {
      ::_exit(3);
    }
  }
  struct Pair {
    conduit::Semaphore ping{0, 1};
    conduit::Semaphore pong{0, 1};
  };
  char* data(int side) { return reinterpret_cast<char*>(pair_ + 1) + side * payload_; }
  Wait wait_;
  Pair* pair_ = nullptr;
  std::size_t payload_ = 0, bytes_ = 0;
  std::vector<char> buffer_;
};

class MailboxRow final : public RoundTrip {
 public:
  /// `is_rendezvous`: zero capacity, each send returns once the other side took it.
  MailboxRow(Wait wait, bool is_rendezvous) : wait_(wait), is_rendezvous_(is_rendezvous) {}
  std::string name() const override {
    return std::string("conduit Mailbox") + (is_rendezvous_ ? ", rendezvous" : "") + suffix(wait_);
  }
  Wait wait() const override { return wait_; }
  void prepare(std::size_t payload) override {
    payload_ = payload;
    base_ = "bench-" + std::to_string(::getpid()) + "-" +
            std::to_string(reinterpret_cast<std::uintptr_t>(this) % 100000);
    const conduit::MailboxOptions options{
        .capacity = is_rendezvous_ ? conduit::Capacity::zero() : conduit::Capacity::bounded(4),
        .max_message_size = std::max<std::size_t>(payload, 1)};
    down_.emplace(must(conduit::Mailbox::create(base_ + "-down", options)));
    up_.emplace(must(conduit::Mailbox::create(base_ + "-up", options)));
    buffer_.assign(payload, std::byte{'x'});
  }
  void serve(std::size_t count) override {
    conduit::sync::set_spin_rounds(spin_for(wait_));
    for (std::size_t i = 0; i < count; ++i) {
      auto message = take(*down_);
      must(up_->send(message.payload()));
    }
  }
  void ping() override {
    conduit::sync::set_spin_rounds(spin_for(wait_));
    if (!down_->send(buffer_)) throw std::runtime_error("send failed");
    auto answer = take(*up_);
    std::memcpy(buffer_.data(), answer.payload().data(), answer.size());
  }
  void cleanup() override {
    down_.reset();
    up_.reset();
    (void)conduit::Mailbox::remove(base_ + "-down");
    (void)conduit::Mailbox::remove(base_ + "-up");
    conduit::sync::set_spin_rounds(conduit::sync::kSpinRounds);
  }

 private:
  conduit::Message take(conduit::Mailbox& box) {
    if (wait_ == Wait::busy) {
      for (;;) {
        auto message = box.try_receive();
        if (message) return std::move(*message);
        if (message.error().code() != conduit::Errc::would_block)
          throw std::runtime_error(message.error().message());
      }
    }
    return must(box.receive());
  }
  Wait wait_;
  bool is_rendezvous_;
  std::size_t payload_ = 0;
  std::string base_;
  std::optional<conduit::Mailbox> down_, up_;
  std::vector<std::byte> buffer_;
};

}  // namespace

RoundTripFactory conduit_semaphore(Wait wait) {
  return [wait] { return std::make_unique<SemaphoreRow>(wait); };
}
RoundTripFactory conduit_mailbox(Wait wait) {
  return [wait] { return std::make_unique<MailboxRow>(wait, false); };
}
RoundTripFactory conduit_mailbox_rendezvous(Wait wait) {
  return [wait] { return std::make_unique<MailboxRow>(wait, true); };
}

}  // namespace bench

namespace bench {
namespace {

class EndpointRow final : public RoundTrip {
 public:
  /// `is_rendezvous`: zero-capacity links, each send returns once the peer took it.
  EndpointRow(Wait wait, bool is_rendezvous) : wait_(wait), is_rendezvous_(is_rendezvous) {}
  std::string name() const override {
    return std::string("conduit Endpoint") + (is_rendezvous_ ? ", rendezvous" : "") + suffix(wait_);
  }
  Wait wait() const override { return wait_; }
  void prepare(std::size_t payload) override {
    tag_ = std::to_string(::getpid()) + "-" +
           std::to_string(reinterpret_cast<std::uintptr_t>(this) % 100000);
    options_ = {
        .capacity = is_rendezvous_ ? conduit::Capacity::zero() : conduit::Capacity::bounded(4),
        .max_message_size = std::max<std::size_t>(payload, 1)};
    me_.emplace(must(conduit::Endpoint::join("bench-p-" + tag_, options_)));
    buffer_.assign(payload, std::byte{'x'});
  }
  // Each block's child joins under a name of its own: the last block's child may still be
  // leaving (its links going) when the next one joins. The names are made here, not per
  // message: the row times the Endpoint, not string building.
  void begin_block() override {
    ++block_;
    child_name_ = child_name();
  }
  std::string child_name() const { return "bench-c-" + tag_ + "-" + std::to_string(block_); }
  void serve(std::size_t count) override {
    conduit::sync::set_spin_rounds(spin_for(wait_));
    auto child = conduit::Endpoint::join(child_name_, options_);
    if (!child) throw std::runtime_error(child.error().message());
    const std::string parent = "bench-p-" + tag_;
    for (std::size_t i = 0; i < count; ++i) {
      auto message = take(*child);
      must(child->send(parent, message.payload()));
    }
    // Stay joined until the parent read the last answer (it then says so: end_block), since
    // leaving removes our links. The timeout only guards a parent that failed.
    (void)child->receive_from_for(parent, std::chrono::seconds(5));
  }
  void end_block() override { (void)me_->send(child_name_, buffer_); }
  void ping() override {
    conduit::sync::set_spin_rounds(spin_for(wait_));
    for (;;) {
      auto sent = me_->send(child_name_, buffer_);
      if (sent) break;
      if (sent.error().code() != conduit::Errc::not_found &&
          sent.error().code() != conduit::Errc::closed)
        throw std::runtime_error(sent.error().message());
      ::usleep(100);  // the child has not joined yet (or the last block's child just left)
    }
    auto answer = take(*me_);
    std::memcpy(buffer_.data(), answer.payload().data(), answer.size());
    ++pings_;
  }
  void cleanup() override {
    me_.reset();
    conduit::sync::set_spin_rounds(conduit::sync::kSpinRounds);
  }

 private:
  conduit::Message take(conduit::Endpoint& endpoint) {
    for (;;) {
      auto message = wait_ == Wait::busy ? endpoint.try_receive() : endpoint.receive();
      if (message) return std::move(*message);
      if (message.error().code() != conduit::Errc::would_block)
        throw std::runtime_error(message.error().message());
    }
  }
  Wait wait_;
  bool is_rendezvous_;
  std::string tag_;
  conduit::EndpointOptions options_;
  std::optional<conduit::Endpoint> me_;
  std::vector<std::byte> buffer_;
  std::size_t pings_ = 0;
  int block_ = 0;
  std::string child_name_;
};

}  // namespace

RoundTripFactory conduit_endpoint(Wait wait) {
  return [wait] { return std::make_unique<EndpointRow>(wait, false); };
}
RoundTripFactory conduit_endpoint_rendezvous(Wait wait) {
  return [wait] { return std::make_unique<EndpointRow>(wait, true); };
}

}  // namespace bench

namespace bench {
namespace {

// Streaming through a bounded mailbox, each message stamped with its index and checked.
class MailboxStream final : public Stream {
 public:
  explicit MailboxStream(Wait wait) : wait_(wait) {}
  std::string name() const override { return "conduit Mailbox" + suffix(wait_); }
  Wait wait() const override { return wait_; }
  void prepare(std::size_t payload) override {
    payload_ = std::max<std::size_t>(payload, 8);
    name_ = unique_name("bench-stream");
    const std::size_t capacity = std::clamp<std::size_t>((64u << 20) / payload_, 8, 1024);
    box_.emplace(must(conduit::Mailbox::create(
        name_, {.capacity = conduit::Capacity::bounded(capacity), .max_message_size = payload_})));
    message_.assign(payload_, std::byte{'x'});
  }
  void consume(std::size_t count) override {
    conduit::sync::set_spin_rounds(spin_for(wait_));
    for (std::uint64_t i = 0; i < count; ++i) {
      auto message = wait_ == Wait::busy ? box_->try_receive() : box_->receive();
      if (!message) {
        if (message.error().code() != conduit::Errc::would_block)
          throw std::runtime_error(message.error().message());
        --i;
        continue;
      }
      std::uint64_t seen = 0;
      std::memcpy(&seen, message->payload().data(), sizeof seen);
      if (seen != i || message->payload().size() != payload_)
        throw std::runtime_error("mailbox stream: message out of order or torn");
    }
  }
  void produce(std::size_t count) override {
    conduit::sync::set_spin_rounds(spin_for(wait_));
    for (std::uint64_t i = 0; i < count; ++i) {
      std::memcpy(message_.data(), &i, sizeof i);
      for (;;) {
        auto sent = wait_ == Wait::busy ? box_->try_send(message_) : box_->send(message_);
        if (sent) break;
        if (sent.error().code() != conduit::Errc::would_block)
          throw std::runtime_error(sent.error().message());
      }
    }
  }
  void cleanup() override {
    box_.reset();
    (void)conduit::Mailbox::remove(name_);
    conduit::sync::set_spin_rounds(conduit::sync::kSpinRounds);
  }

 private:
  Wait wait_;
  std::size_t payload_ = 0;
  std::string name_;
  std::optional<conduit::Mailbox> box_;
  std::vector<std::byte> message_;
};

// Uncontended lock/unlock and acquire/release, in shared memory as a user would place them.
template <class Primitive>
class PrimitiveLoop final : public Loop {
 public:
  explicit PrimitiveLoop(std::string name) : name_(std::move(name)) {}
  std::string name() const override { return name_; }
  void prepare() override {
    void* memory = ::mmap(nullptr, sizeof(Primitive), PROT_READ | PROT_WRITE,
                          MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    check(memory != MAP_FAILED, "mmap");
    if constexpr (std::is_same_v<Primitive, conduit::Semaphore>)
      primitive_ = ::new (memory) Primitive(1);
    else
      primitive_ = ::new (memory) Primitive();
  }
  void run(std::size_t count) override {
    for (std::size_t i = 0; i < count; ++i) {
      if constexpr (std::is_same_v<Primitive, conduit::Semaphore>) {
        if (!primitive_->try_acquire()) ::_exit(3);
        primitive_->release();
      } else {
        if (!primitive_->lock()) ::_exit(3);
        primitive_->unlock();
      }
    }
  }
  void cleanup() override { ::munmap(primitive_, sizeof(Primitive)); }

 private:
  std::string name_;
  Primitive* primitive_ = nullptr;
};

}  // namespace

StreamFactory conduit_mailbox_stream(Wait wait) {
  return [wait] { return std::make_unique<MailboxStream>(wait); };
}
LoopFactory conduit_mutex_loop() {
  return [] { return std::make_unique<PrimitiveLoop<conduit::Mutex>>("conduit Mutex"); };
}
LoopFactory conduit_semaphore_loop() {
  return [] { return std::make_unique<PrimitiveLoop<conduit::Semaphore>>("conduit Semaphore"); };
}

}  // namespace bench
