// conduit's Channel<T> rows: a typed lock-free ring, so the record type is fixed at compile time;
// each payload the harness asks for picks a record of that many bytes. Busy rows poll with
// try_ forms; blocking rows set the wait strategy's spin to 0 (sleep at once); the zero-copy
// stream writes records in place through loans and reads them through views, every byte of
// them, so its bytes/s counts bytes that crossed as the copying rows' does.
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "conduit/conduit.hpp"
#include "rows.hpp"

namespace bench {
namespace {

template <std::size_t N>
struct Record {
  std::array<std::byte, N> bytes;
};

std::uint32_t spin_for(Wait wait) {
  return wait == Wait::blocking ? 0 : conduit::sync::kSpinRounds;
}

template <std::size_t N>
class ChannelRoundTrip final : public RoundTrip {
 public:
  explicit ChannelRoundTrip(Wait wait) : wait_(wait) {}
  std::string name() const override {
    return std::string("conduit Channel (") + to_string(wait_) + ")";
  }
  Wait wait() const override { return wait_; }
  void prepare(std::size_t) override {
    base_ = unique_name("bench-channel");
    const conduit::ChannelOptions options{.capacity = 4};
    down_.emplace(must(conduit::Channel<Record<N>>::create(base_ + "-down", options)));
    up_.emplace(must(conduit::Channel<Record<N>>::create(base_ + "-up", options)));
    record_.bytes.fill(std::byte{'x'});
  }
  void serve(std::size_t count) override {
    conduit::sync::set_spin_rounds(spin_for(wait_));
    // The child's own handles: it takes the consumer role of `down` and a producer lane of
    // `up` from the last block's child, which died.
    auto down = must(conduit::Channel<Record<N>>::open(base_ + "-down"));
    auto up = must(conduit::Channel<Record<N>>::open(base_ + "-up"));
    for (std::size_t i = 0; i < count; ++i) put(up, take(down));
  }
  void ping() override {
    conduit::sync::set_spin_rounds(spin_for(wait_));
    put(*down_, record_);
    record_ = take(*up_);
  }
  void cleanup() override {
    down_.reset();
    up_.reset();
    (void)conduit::Channel<Record<N>>::remove(base_ + "-down");
    (void)conduit::Channel<Record<N>>::remove(base_ + "-up");
    conduit::sync::set_spin_rounds(conduit::sync::kSpinRounds);
  }

 private:
  Record<N> take(conduit::Channel<Record<N>>& channel) {
    for (;;) {
      auto got = wait_ == Wait::busy ? channel.try_receive() : channel.receive();
      if (got) return *got;
      if (got.error().code() != conduit::Errc::would_block)
        throw std::runtime_error(got.error().message());
    }
  }
  void put(conduit::Channel<Record<N>>& channel, const Record<N>& record) {
    for (;;) {
      auto sent = wait_ == Wait::busy ? channel.try_send(record) : channel.send(record);
      if (sent) return;
      if (sent.error().code() != conduit::Errc::would_block)
        throw std::runtime_error(sent.error().message());
    }
  }
  Wait wait_;
  std::string base_;
  std::optional<conduit::Channel<Record<N>>> down_, up_;
  Record<N> record_{};
};

// Streaming: records stamped with their index; `zero_copy` writes them in place (loan) and
// reads them in place (view) instead of copying in and out. Both forms move every byte: the
// copying producer sends a whole record and the consumer receives a whole one; the loan's
// producer copies a whole record into the loan (as it would make it there) and the view's
// consumer reads every byte where it lies (as it would use it there).
template <std::size_t N>
class ChannelStream final : public Stream {
 public:
  ChannelStream(Wait wait, bool zero_copy) : wait_(wait), zero_copy_(zero_copy) {}
  std::string name() const override {
    return std::string("conduit Channel") + (zero_copy_ ? " loan/view" : "") + " (" +
           to_string(wait_) + ")";
  }
  Wait wait() const override { return wait_; }
  void prepare(std::size_t) override {
    name_ = unique_name("bench-channel-stream");
    const std::size_t capacity = std::clamp<std::size_t>((64u << 20) / N, 8, 1024);
    record_size_ = N;
    channel_.emplace(must(conduit::Channel<Record<N>>::create(name_, {.capacity = capacity})));
  }
  void attach_consumer() override {
    conduit::sync::set_spin_rounds(spin_for(wait_));
    consumer_.emplace(must(conduit::Channel<Record<N>>::open(name_)));
  }
  void consume(std::size_t count) override {
    for (std::uint64_t i = 0; i < count;) {
      std::uint64_t seen = 0;
      if (zero_copy_) {
        auto view = wait_ == Wait::busy ? consumer_->try_receive_view() : consumer_->receive_view();
        if (!view) {
          if (view.error().code() != conduit::Errc::would_block)
            throw std::runtime_error(view.error().message());
          continue;
        }
        std::memcpy(&seen, view->bytes().data(), std::min(sizeof seen, N));
        sink_ += sum_bytes(view->bytes());
      } else {
        auto record = wait_ == Wait::busy ? consumer_->try_receive() : consumer_->receive();
        if (!record) {
          if (record.error().code() != conduit::Errc::would_block)
            throw std::runtime_error(record.error().message());
          continue;
        }
        std::memcpy(&seen, record->bytes.data(), std::min(sizeof seen, N));
      }
      if (N >= sizeof seen && seen != i) throw std::runtime_error("channel stream: out of order");
      ++i;
    }
    if (sink_ == 1) std::fputc(' ', stderr);  // uses the sum, so reading is not optimised away
  }
  void produce(std::size_t count) override {
    conduit::sync::set_spin_rounds(spin_for(wait_));
    Record<N> record{};
    for (std::uint64_t i = 0; i < count;) {
      if (zero_copy_) {
        auto loan = wait_ == Wait::busy ? channel_->try_loan() : channel_->loan();
        if (!loan) {
          if (loan.error().code() != conduit::Errc::would_block)
            throw std::runtime_error(loan.error().message());
          continue;
        }
        std::memcpy(record.bytes.data(), &i, std::min(sizeof i, N));
        // The C library's copy, as the copying rows' (a size known here would be inlined).
        std::memcpy(loan->bytes().data(), record.bytes.data(), record_size_);
        must(loan->commit());
      } else {
        std::memcpy(record.bytes.data(), &i, std::min(sizeof i, N));
        auto sent = wait_ == Wait::busy ? channel_->try_send(record) : channel_->send(record);
        if (!sent) {
          if (sent.error().code() != conduit::Errc::would_block)
            throw std::runtime_error(sent.error().message());
          continue;
        }
      }
      ++i;
    }
  }
  void cleanup() override {
    channel_.reset();
    (void)conduit::Channel<Record<N>>::remove(name_);
    conduit::sync::set_spin_rounds(conduit::sync::kSpinRounds);
  }

 private:
  Wait wait_;
  bool zero_copy_;
  std::string name_;
  std::optional<conduit::Channel<Record<N>>> channel_, consumer_;
  std::uint64_t sink_ = 0;
  std::size_t record_size_ = 0;  // N, as a value the compiler does not know in produce()
};

/// The Channel row for `payload`-byte records.
template <class Base, template <std::size_t> class Row, class... Args>
std::unique_ptr<Base> pick(std::size_t payload, Args... args) {
  switch (payload) {
    case 8: return std::make_unique<Row<8>>(args...);
    case 64: return std::make_unique<Row<64>>(args...);
    case 512: return std::make_unique<Row<512>>(args...);
    case 4096: return std::make_unique<Row<4096>>(args...);
    case 32768: return std::make_unique<Row<32768>>(args...);
    case 65536: return std::make_unique<Row<65536>>(args...);
    case 262144: return std::make_unique<Row<262144>>(args...);
    case 1048576: return std::make_unique<Row<1048576>>(args...);
  }
  throw std::runtime_error("Channel rows: no record type of " + std::to_string(payload) + " bytes");
}

/// Round trips through the Channel whose record is the payload the harness asks for.
class ChannelRoundTripAnySize final : public RoundTrip {
 public:
  explicit ChannelRoundTripAnySize(Wait wait) : wait_(wait), row_(make(64)) {}
  std::string name() const override { return row_->name(); }
  Wait wait() const override { return wait_; }
  void prepare(std::size_t payload) override {
    row_ = make(payload);
    row_->prepare(payload);
  }
  void begin_block() override { row_->begin_block(); }
  void serve(std::size_t count) override { row_->serve(count); }
  void ping() override { row_->ping(); }
  void cleanup() override { row_->cleanup(); }

 private:
  std::unique_ptr<RoundTrip> make(std::size_t payload) const {
    return pick<RoundTrip, ChannelRoundTrip>(payload, wait_);
  }
  Wait wait_;
  std::unique_ptr<RoundTrip> row_;
};

/// Streams through the Channel whose record is the payload the harness asks for.
class ChannelStreamAnySize final : public Stream {
 public:
  ChannelStreamAnySize(Wait wait, bool zero_copy)
      : wait_(wait), zero_copy_(zero_copy), row_(make(64)) {}
  std::string name() const override { return row_->name(); }
  Wait wait() const override { return wait_; }
  void prepare(std::size_t payload) override {
    row_ = make(payload);
    row_->prepare(payload);
  }
  void begin_block() override { row_->begin_block(); }
  void attach_consumer() override { row_->attach_consumer(); }
  void consume(std::size_t count) override { row_->consume(count); }
  void produce(std::size_t count) override { row_->produce(count); }
  void cleanup() override { row_->cleanup(); }

 private:
  std::unique_ptr<Stream> make(std::size_t payload) const {
    return pick<Stream, ChannelStream>(payload, wait_, zero_copy_);
  }
  Wait wait_;
  bool zero_copy_;
  std::unique_ptr<Stream> row_;
};

}  // namespace

RoundTripFactory conduit_channel(Wait wait) {
  return [wait] { return std::make_unique<ChannelRoundTripAnySize>(wait); };
}
StreamFactory conduit_channel_stream(Wait wait, bool zero_copy) {
  return [wait, zero_copy] { return std::make_unique<ChannelStreamAnySize>(wait, zero_copy); };
}

}  // namespace bench
