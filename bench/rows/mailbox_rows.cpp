// The Mailbox's own rows: any_one throughput with several receiver processes, throughput from
// several sender processes, and streaming through loans and views (zero-copy) beside plain
// copies.
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <new>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "conduit/conduit.hpp"
#include "rows.hpp"

namespace bench {
namespace {

constexpr unsigned kReceiverAlarmSeconds = 300;  // as the harness's own child: die, never hang

std::uint32_t spin_for(Wait wait) {
  return wait == Wait::blocking ? 0 : conduit::sync::kSpinRounds;
}

std::size_t capacity_for(std::size_t payload) {
  return std::clamp<std::size_t>((64u << 20) / payload, 8, 1024);  // as the other streams
}

/// Retries `attempt` while it says would_block (busy rows poll with try_ forms).
template <class Attempt>
auto until_done(Attempt&& attempt) {
  for (;;) {
    auto result = attempt();
    if (result) return result;
    if (result.error().code() != conduit::Errc::would_block)
      throw std::runtime_error(result.error().message());
  }
}

/// A `T` in memory shared with the processes forked after this (MAP_SHARED, anonymous).
template <class T>
T* map_shared() {
  void* memory =
      ::mmap(nullptr, sizeof(T), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  check(memory != MAP_FAILED, "mmap");
  return ::new (memory) T;
}

/// Forks a helper process that runs `body` and exits: 0, or 3 when it threw (said on stderr,
/// as `who`). Its alarm kills it should it hang, as the harness's own child.
template <class Body>
pid_t fork_helper(const char* who, Body&& body) {
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  check(pid >= 0, "fork");
  if (pid != 0) return pid;
  ::alarm(kReceiverAlarmSeconds);
  int status = 0;
  try {
    body();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "\n%s: %s\n", who, e.what());
    status = 3;
  }
  std::fflush(nullptr);
  ::_exit(status);
}

/// "1 receiver", "2 receivers".
std::string counted(int count, const char* noun) {
  return std::to_string(count) + " " + noun + (count == 1 ? "" : "s");
}

// any_one: each message goes to exactly one of `receivers` processes. The harness's child is
// one receiver and forks the others (before the clock starts); they share a tally in shared
// memory. The receiver that takes the last message sends one stop message (type kStop) to
// each of the others, so every blocked receiver returns and the mailbox is empty for the next
// block. Checks: each receiver sees indices in increasing order (the mailbox is FIFO), and
// all of them together saw count messages whose indices sum to count (count - 1) / 2.
class AnyOneStream final : public Stream {
 public:
  AnyOneStream(Wait wait, int receivers) : wait_(wait), receivers_(receivers) {}
  std::string name() const override {
    // The wait is in its own column: the name fits the table's 36 characters.
    return "conduit Mailbox any_one, " + counted(receivers_, "receiver");
  }
  Wait wait() const override { return wait_; }
  void prepare(std::size_t payload) override {
    payload_ = std::max<std::size_t>(payload, 8);
    name_ = unique_name("bench-any-one");
    box_.emplace(must(conduit::Mailbox::create(
        name_, {.capacity = conduit::Capacity::bounded(capacity_for(payload_)),
                .max_message_size = payload_,
                .receivers = conduit::Receivers::any_one})));
    tally_ = map_shared<Tally>();
    message_.assign(payload_, std::byte{'x'});
  }
  void begin_block() override { ::new (tally_) Tally; }
  void attach_consumer() override {
    conduit::sync::set_spin_rounds(spin_for(wait_));
    others_.clear();
    for (int r = 1; r < receivers_; ++r) {
      others_.push_back(fork_helper("any_one receiver", [&] {
        auto box = must(conduit::Mailbox::open(name_));
        tally_->attached.fetch_add(1);
        receive_all(box);
      }));
    }
    consumer_.emplace(must(conduit::Mailbox::open(name_)));
    // Wait until every receiver has its handle: the clock starts when this returns.
    while (tally_->attached.load() < receivers_ - 1) ::usleep(100);
  }
  void consume(std::size_t count) override {
    try {
      tally_->count.store(count);
      const bool is_done = tally_->taken.load() == count && stop_others(*consumer_);
      if (!is_done) receive_all(*consumer_);
    } catch (...) {
      for (const pid_t pid : others_) ::kill(pid, SIGKILL);
      for (const pid_t pid : others_) ::waitpid(pid, nullptr, 0);
      throw;
    }
    for (const pid_t pid : others_) {
      int status = 0;
      ::waitpid(pid, &status, 0);
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw std::runtime_error("any_one stream: a receiver failed");
    }
    const std::uint64_t n = count;
    if (tally_->taken.load() != n || tally_->index_sum.load() != n * (n - 1) / 2)
      throw std::runtime_error("any_one stream: messages lost or received twice");
  }
  void produce(std::size_t count) override {
    conduit::sync::set_spin_rounds(spin_for(wait_));
    for (std::uint64_t i = 0; i < count; ++i) {
      std::memcpy(message_.data(), &i, sizeof i);
      until_done(
          [&] { return wait_ == Wait::busy ? box_->try_send(message_) : box_->send(message_); });
    }
  }
  void cleanup() override {
    box_.reset();
    (void)conduit::Mailbox::remove(name_);
    ::munmap(tally_, sizeof(Tally));
    conduit::sync::set_spin_rounds(conduit::sync::kSpinRounds);
  }

 private:
  static constexpr std::int64_t kStop = 1;
  struct Tally {
    std::atomic<int> attached{0};
    std::atomic<std::uint64_t> taken{0};
    std::atomic<std::uint64_t> index_sum{0};
    std::atomic<std::uint64_t> count{0};  // 0 until consume() stores it
    std::atomic<bool> is_stopping{false};
  };

  // One receiver: its own handle, messages until it stops the others or a stop message
  // comes. The count reaches the forked receivers through the tally (consume() stores it,
  // maybe after the first messages went): exactly one process sees both the count and that
  // many messages taken (sequentially consistent: the store of the count and the increment
  // of `taken` cannot both miss each other) and wins `is_stopping`.
  void receive_all(conduit::Mailbox& box) {
    std::optional<std::uint64_t> last;
    for (;;) {
      auto message =
          until_done([&] { return wait_ == Wait::busy ? box.try_receive() : box.receive(); });
      if (message->type() == kStop) return;
      std::uint64_t index = 0;
      std::memcpy(&index, message->payload().data(), std::min(sizeof index, message->size()));
      if (message->size() != payload_ || (last && index <= *last))
        throw std::runtime_error("any_one stream: message out of order or torn");
      last = index;
      tally_->index_sum.fetch_add(index, std::memory_order_relaxed);  // read after reaping
      const std::uint64_t taken = tally_->taken.fetch_add(1) + 1;
      if (taken == tally_->count.load() && stop_others(box)) return;
    }
  }
  /// Sends one stop message to each other receiver, unless another process did.
  bool stop_others(conduit::Mailbox& box) {
    if (tally_->is_stopping.exchange(true)) return false;
    for (int r = 1; r < receivers_; ++r) must(box.send(std::string_view(), kStop));
    return true;
  }

  Wait wait_;
  int receivers_;
  std::size_t payload_ = 0;
  std::string name_;
  std::optional<conduit::Mailbox> box_, consumer_;
  Tally* tally_ = nullptr;
  std::vector<pid_t> others_;
  std::vector<std::byte> message_;
};

// Several senders, one receiver: the harness's parent is one sender, and forks the others
// before the clock starts (in begin_block: they wait for produce() to say go, and share the
// parent's CPU, as the receivers of AnyOneStream share the child's). Sender k sends the
// indices k, k + senders, ...; the receiver checks each sender's indices arrive in increasing
// order (the mailbox is FIFO) and that all `count` arrived once (their sum).
class ManySendersStream final : public Stream {
 public:
  ManySendersStream(Wait wait, int senders) : wait_(wait), senders_(senders) {}
  std::string name() const override { return "conduit Mailbox, " + counted(senders_, "sender"); }
  Wait wait() const override { return wait_; }
  void prepare(std::size_t payload) override {
    payload_ = std::max<std::size_t>(payload, 8);
    name_ = unique_name("bench-many-senders");
    box_.emplace(must(conduit::Mailbox::create(
        name_, {.capacity = conduit::Capacity::bounded(capacity_for(payload_)),
                .max_message_size = payload_})));
    start_ = map_shared<Start>();
    message_.assign(payload_, std::byte{'x'});
  }
  void begin_block() override {
    ::new (start_) Start;
    others_.clear();
    for (int k = 1; k < senders_; ++k) {
      others_.push_back(fork_helper("sender", [&] {
        pin_to(0);
        auto box = must(conduit::Mailbox::open(name_));
        conduit::sync::set_spin_rounds(spin_for(wait_));
        while (start_->count.load() == 0) ::usleep(20);
        send_share(box, k, start_->count.load());
      }));
    }
  }
  void attach_consumer() override {
    conduit::sync::set_spin_rounds(spin_for(wait_));
    consumer_.emplace(must(conduit::Mailbox::open(name_)));
  }
  void consume(std::size_t count) override {
    std::vector<std::optional<std::uint64_t>> last(static_cast<std::size_t>(senders_));
    std::uint64_t index_sum = 0;
    for (std::uint64_t i = 0; i < count; ++i) {
      auto message = until_done(
          [&] { return wait_ == Wait::busy ? consumer_->try_receive() : consumer_->receive(); });
      std::uint64_t index = 0;
      std::memcpy(&index, message->payload().data(), std::min(sizeof index, message->size()));
      auto& seen = last[index % static_cast<std::uint64_t>(senders_)];
      if (message->size() != payload_ || index >= count || (seen && index <= *seen))
        throw std::runtime_error("many senders stream: message out of order or torn");
      seen = index;
      index_sum += index;
    }
    if (index_sum != std::uint64_t{count} * (count - 1) / 2)
      throw std::runtime_error("many senders stream: messages lost or received twice");
  }
  void produce(std::size_t count) override {
    conduit::sync::set_spin_rounds(spin_for(wait_));
    start_->count.store(count);
    try {
      send_share(*box_, 0, count);
    } catch (...) {
      stop_others();
      throw;
    }
    for (const pid_t pid : others_) {
      int status = 0;
      ::waitpid(pid, &status, 0);
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw std::runtime_error("many senders stream: a sender failed");
    }
    others_.clear();
  }
  void cleanup() override {
    stop_others();  // a block that failed before produce() said go
    box_.reset();
    (void)conduit::Mailbox::remove(name_);
    ::munmap(start_, sizeof(Start));
    conduit::sync::set_spin_rounds(conduit::sync::kSpinRounds);
  }

 private:
  struct Start {
    std::atomic<std::uint64_t> count{0};  // 0 until produce() says go
  };

  void send_share(conduit::Mailbox& box, int sender, std::uint64_t count) {
    std::vector<std::byte> message = message_;
    for (std::uint64_t i = static_cast<std::uint64_t>(sender); i < count;
         i += static_cast<std::uint64_t>(senders_)) {
      std::memcpy(message.data(), &i, sizeof i);
      until_done([&] { return wait_ == Wait::busy ? box.try_send(message) : box.send(message); });
    }
  }
  void stop_others() {
    for (const pid_t pid : others_) ::kill(pid, SIGKILL);
    for (const pid_t pid : others_) ::waitpid(pid, nullptr, 0);
    others_.clear();
  }

  Wait wait_;
  int senders_;
  std::size_t payload_ = 0;
  std::string name_;
  std::optional<conduit::Mailbox> box_, consumer_;
  Start* start_ = nullptr;
  std::vector<pid_t> others_;
  std::vector<std::byte> message_;
};

// Zero-copy streaming: the producer writes each message where it will lie (loan, commit) and
// the consumer reads it there (receive_view). Beside conduit_mailbox_stream, which copies in
// (send) and out (receive), it shows what the copies cost as messages grow. The producer
// writes every byte of each message into the loan (as it would produce it there) and the
// consumer reads every byte where it lies (as it would use it there), so the bytes/s column
// counts bytes that crossed from one process to the other, as it does for the copying rows.
class LoanStream final : public Stream {
 public:
  explicit LoanStream(Wait wait) : wait_(wait) {}
  std::string name() const override {
    return std::string("conduit Mailbox loan/view (") + to_string(wait_) + ")";
  }
  Wait wait() const override { return wait_; }
  void prepare(std::size_t payload) override {
    payload_ = std::max<std::size_t>(payload, 8);
    name_ = unique_name("bench-loan-stream");
    box_.emplace(must(conduit::Mailbox::create(
        name_, {.capacity = conduit::Capacity::bounded(capacity_for(payload_)),
                .max_message_size = payload_})));
    message_.assign(payload_, 'x');
  }
  void attach_consumer() override {
    conduit::sync::set_spin_rounds(spin_for(wait_));
    consumer_.emplace(must(conduit::Mailbox::open(name_)));
  }
  void consume(std::size_t count) override {
    for (std::uint64_t i = 0; i < count; ++i) {
      auto view = until_done([&] {
        return wait_ == Wait::busy ? consumer_->try_receive_view() : consumer_->receive_view();
      });
      if (view->size() != payload_) throw std::runtime_error("loan stream: message torn");
      verify(reinterpret_cast<const char*>(view->payload().data()), view->size(), i);
      sink_ += sum_bytes(view->payload());
    }
    if (sink_ == 1) std::fputc(' ', stderr);  // uses the sum, so reading is not optimised away
  }
  void produce(std::size_t count) override {
    conduit::sync::set_spin_rounds(spin_for(wait_));
    for (std::uint64_t i = 0; i < count; ++i) {
      auto loan = until_done(
          [&] { return wait_ == Wait::busy ? box_->try_loan(payload_) : box_->loan(payload_); });
      stamp(message_, i);
      std::memcpy(loan->bytes().data(), message_.data(), payload_);
      must(loan->commit());
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
  std::optional<conduit::Mailbox> box_, consumer_;
  std::vector<char> message_;
  std::uint64_t sink_ = 0;
};

}  // namespace

StreamFactory conduit_mailbox_any_one_stream(Wait wait, int receivers) {
  return [wait, receivers] { return std::make_unique<AnyOneStream>(wait, receivers); };
}
StreamFactory conduit_mailbox_many_senders_stream(Wait wait, int senders) {
  return [wait, senders] { return std::make_unique<ManySendersStream>(wait, senders); };
}
StreamFactory conduit_mailbox_loan_stream(Wait wait) {
  return [wait] { return std::make_unique<LoanStream>(wait); };
}

}  // namespace bench
