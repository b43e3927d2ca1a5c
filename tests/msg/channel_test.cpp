// Channel<T> in one process: names, types, capacity, timeouts, close, batches, zero copy,
// roles, and what a corrupted segment does.
#include "conduit/msg/channel.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "conduit/msg/mailbox.hpp"
#include "conduit/ring/ring_layout.hpp"
#include "conduit/shm/segment.hpp"
#include "conduit/sys/membarrier.hpp"
#include "process.hpp"

namespace conduit {
namespace {

using namespace std::chrono_literals;

class ChannelTest : public test::ProcessTest {};

struct Record {
  std::uint64_t sequence;
  char text[56];
};
static_assert(sizeof(Record) == 64);

TEST_F(ChannelTest, CreateOpenRemoveAndTheirErrors) {
  EXPECT_EQ(Channel<int>::create("a/b").error().code(), Errc::invalid_argument);
  auto missing = Channel<int>::open("missing");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), Errc::not_found);
  ASSERT_TRUE(Channel<int>::create("numbers"));
  EXPECT_EQ(Channel<int>::create("numbers").error().code(), Errc::already_exists);
  EXPECT_EQ(Channel<int>::create("empty", {.capacity = 0}).error().code(), Errc::invalid_argument);
  EXPECT_EQ(Channel<int>::create("one-lane", {.producers = Producers::many, .max_producers = 1})
                .error()
                .code(),
            Errc::invalid_argument);
  EXPECT_EQ(Channel<int>::create("many-lanes", {.producers = Producers::many, .max_producers = 65})
                .error()
                .code(),
            Errc::invalid_argument);
  ASSERT_TRUE(Channel<int>::open("numbers"));
  ASSERT_TRUE(Channel<int>::remove("numbers"));
  EXPECT_EQ(Channel<int>::open("numbers").error().code(), Errc::not_found);
  EXPECT_EQ(Channel<int>::remove("numbers").error().code(), Errc::not_found);
}

TEST_F(ChannelTest, OpenWithAnotherTypeFails) {
  ASSERT_TRUE(Channel<std::uint64_t>::create("typed"));
  auto smaller = Channel<std::uint32_t>::open("typed");
  ASSERT_FALSE(smaller);
  EXPECT_EQ(smaller.error().code(), Errc::invalid_argument);
  EXPECT_EQ(smaller.error().message(),
            "channel 'typed': open: holds records of size 8 and alignment 8, not 4 and 4");
  auto less_aligned = Channel<std::array<std::uint32_t, 2>>::open("typed");  // same size
  ASSERT_FALSE(less_aligned);
  EXPECT_EQ(less_aligned.error().code(), Errc::invalid_argument);
  EXPECT_TRUE(Channel<std::uint64_t>::open("typed"));
  ASSERT_TRUE(Mailbox::create("box"));
  EXPECT_EQ(Channel<std::uint64_t>::open("box").error().code(), Errc::invalid_argument);
}

TEST_F(ChannelTest, TheWholeCapacityIsUsableEvenWhenNotAPowerOfTwo) {
  for (std::size_t capacity : {1u, 5u, 8u}) {
    const std::string name = "cap" + std::to_string(capacity);
    auto channel = Channel<std::uint64_t>::create(name, {.capacity = capacity});
    ASSERT_TRUE(channel);
    EXPECT_EQ(channel->capacity(), capacity);
    for (int round = 0; round < 3; ++round) {  // and again after wrapping
      for (std::uint64_t i = 0; i < capacity; ++i) ASSERT_TRUE(channel->try_send(i)) << i;
      auto full = channel->try_send(99);
      ASSERT_FALSE(full);
      EXPECT_EQ(full.error().code(), Errc::would_block);
      EXPECT_EQ(channel->depth(), capacity);
      for (std::uint64_t i = 0; i < capacity; ++i) {
        auto got = channel->try_receive();
        ASSERT_TRUE(got);
        EXPECT_EQ(*got, i);
      }
      EXPECT_EQ(channel->try_receive().error().code(), Errc::would_block);
    }
  }
}

TEST_F(ChannelTest, TimedFormsTimeOut) {
  auto channel = Channel<int>::create("slow", {.capacity = 1});
  ASSERT_TRUE(channel);
  EXPECT_EQ(channel->receive_for(20ms).error().code(), Errc::timed_out);
  EXPECT_EQ(channel->receive_view_for(1ms).error().code(), Errc::timed_out);
  ASSERT_TRUE(channel->send(1));
  EXPECT_EQ(channel->send_for(2, 20ms).error().code(), Errc::timed_out);
  EXPECT_EQ(channel->loan_for(1ms).error().code(), Errc::timed_out);
  EXPECT_EQ(channel->send_for(2, -5ms).error().code(), Errc::timed_out);
  EXPECT_EQ(*channel->receive_for(20ms), 1);
}

TEST_F(ChannelTest, CloseLetsReceiversDrainThenSaysClosed) {
  auto channel = Channel<int>::create("closing");
  ASSERT_TRUE(channel);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(channel->send(i));
  channel->close();
  EXPECT_EQ(channel->try_send(7).error().code(), Errc::closed);
  EXPECT_EQ(channel->send(7).error().code(), Errc::closed);
  EXPECT_EQ(channel->loan().error().code(), Errc::closed);
  EXPECT_TRUE(channel->stats().is_closed);
  for (int i = 0; i < 3; ++i) {
    auto got = channel->receive();
    ASSERT_TRUE(got);
    EXPECT_EQ(*got, i);
  }
  EXPECT_EQ(channel->receive().error().code(), Errc::closed);
  EXPECT_EQ(channel->try_receive().error().code(), Errc::closed);
  EXPECT_EQ(channel->receive_for(1s).error().code(), Errc::closed);
  auto other = Channel<int>::open("closing");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->try_send(1).error().code(), Errc::closed) << "closed for every handle";
}

TEST_F(ChannelTest, TryFormsSayWouldBlockEveryTimeAndClosedOnceClosed) {
  // A busy poller's failed tries return an error built once: it must still say what and
  // where each time, and must not hide a close.
  auto channel = Channel<int>::create("polled", {.capacity = 2});
  ASSERT_TRUE(channel);
  for (int i = 0; i < 3; ++i) {
    auto empty = channel->try_receive();
    ASSERT_FALSE(empty);
    EXPECT_EQ(empty.error().code(), Errc::would_block);
    EXPECT_EQ(empty.error().message(), "channel 'polled': try_receive: empty");
  }
  ASSERT_TRUE(channel->try_send(1));
  ASSERT_TRUE(channel->try_send(2));
  for (int i = 0; i < 3; ++i) {
    auto full = channel->try_send(3);
    ASSERT_FALSE(full);
    EXPECT_EQ(full.error().code(), Errc::would_block);
    EXPECT_EQ(full.error().message(), "channel 'polled': try_send: full");
  }
  EXPECT_EQ(*channel->try_receive(), 1);
  ASSERT_TRUE(channel->try_send(3));
  channel->close();
  EXPECT_EQ(channel->try_send(4).error().code(), Errc::closed) << "full before, closed now";
  EXPECT_EQ(*channel->try_receive(), 2) << "drained after the close";
  EXPECT_EQ(*channel->try_receive(), 3);
  EXPECT_EQ(channel->try_receive().error().code(), Errc::closed) << "empty before, closed now";
}

TEST_F(ChannelTest, AlternatingTryForms_EachSaysItsOwnOperation) {
  // Each try_ form keeps its own prebuilt error (a poller may alternate forms): every failed
  // try names the form that failed, whichever ran before it.
  auto channel = Channel<int>::create("alternating", {.capacity = 1});
  ASSERT_TRUE(channel);
  for (int i = 0; i < 3; ++i) {
    auto received = channel->try_receive();
    ASSERT_FALSE(received);
    EXPECT_EQ(received.error().message(), "channel 'alternating': try_receive: empty");
    auto viewed = channel->try_receive_view();
    ASSERT_FALSE(viewed);
    EXPECT_EQ(viewed.error().code(), Errc::would_block);
    EXPECT_EQ(viewed.error().message(), "channel 'alternating': try_receive_view: empty");
    int batch[2];
    EXPECT_EQ(channel->try_receive_batch(batch), 0u);
  }
  ASSERT_TRUE(channel->try_send(1));
  for (int i = 0; i < 3; ++i) {
    auto sent = channel->try_send(2);
    ASSERT_FALSE(sent);
    EXPECT_EQ(sent.error().message(), "channel 'alternating': try_send: full");
    const int more[] = {3, 4};
    EXPECT_EQ(channel->try_send_batch(more), 0u);
    auto loaned = channel->try_loan();
    ASSERT_FALSE(loaned);
    EXPECT_EQ(loaned.error().code(), Errc::would_block);
    EXPECT_EQ(loaned.error().message(), "channel 'alternating': try_loan: full");
  }
  EXPECT_EQ(*channel->try_receive(), 1);
}

TEST_F(ChannelTest, AnEmptyTryThenARecordThenACloseStillDeliversTheRecord) {
  // The cached would_block of an empty look must not be returned once the channel is closed:
  // the record published before the close comes first.
  auto channel = Channel<int>::create("late");
  ASSERT_TRUE(channel);
  auto producer = Channel<int>::open("late");
  ASSERT_TRUE(producer);
  EXPECT_EQ(channel->try_receive().error().code(), Errc::would_block);
  ASSERT_TRUE(producer->send(42));
  producer->close();
  auto got = channel->try_receive();
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, 42);
  EXPECT_EQ(channel->try_receive().error().code(), Errc::closed);
}

TEST_F(ChannelTest, BatchesKeepOrderAndStopAtCapacity) {
  auto channel = Channel<std::uint32_t>::create("batch", {.capacity = 8});
  ASSERT_TRUE(channel);
  std::vector<std::uint32_t> values(10);
  for (std::uint32_t i = 0; i < values.size(); ++i) values[i] = 100 + i;
  EXPECT_EQ(channel->try_send_batch(values), 8u);
  EXPECT_EQ(channel->try_send_batch(values), 0u);
  std::array<std::uint32_t, 5> out{};
  ASSERT_EQ(channel->try_receive_batch(out), 5u);
  for (std::uint32_t i = 0; i < 5; ++i) EXPECT_EQ(out[i], 100 + i);
  EXPECT_EQ(channel->try_send_batch(std::span(values).subspan(8)), 2u);  // wraps
  std::array<std::uint32_t, 16> rest{};
  ASSERT_EQ(channel->try_receive_batch(rest), 5u);
  const std::uint32_t expected[] = {105, 106, 107, 108, 109};
  for (std::uint32_t i = 0; i < 5; ++i) EXPECT_EQ(rest[i], expected[i]);
  EXPECT_EQ(channel->try_receive_batch(rest), 0u);
}

TEST_F(ChannelTest, LoanCommitAndReceiveViewRoundTrip) {
  auto channel = Channel<Record>::create("zero-copy", {.capacity = 4});
  ASSERT_TRUE(channel);
  {
    auto loan = channel->loan();
    ASSERT_TRUE(loan);
    EXPECT_EQ(loan->bytes().size(), sizeof(Record));
    (*loan)->sequence = 42;
    std::strcpy((*loan)->text, "in place");
    ASSERT_TRUE(loan->commit());
    EXPECT_EQ(loan->commit().error().code(), Errc::invalid_argument) << "committed twice";
  }
  {
    auto loan = channel->try_loan(8);  // only the first 8 bytes; the rest is zeroed
    ASSERT_TRUE(loan);
    EXPECT_EQ(loan->bytes().size(), 8u);
    std::uint64_t sequence = 43;
    std::memcpy(loan->bytes().data(), &sequence, sizeof sequence);
    ASSERT_TRUE(loan->commit());
  }
  EXPECT_EQ(channel->loan(sizeof(Record) + 1).error().code(), Errc::message_too_large);
  {
    auto view = channel->receive_view();
    ASSERT_TRUE(view);
    EXPECT_EQ((*view)->sequence, 42u);
    EXPECT_STREQ((*view)->text, "in place");
    EXPECT_EQ(view->bytes().size(), sizeof(Record));
    EXPECT_EQ(channel->try_receive().error().code(), Errc::invalid_argument)
        << "a view is outstanding";
    EXPECT_EQ(channel->depth(), 2u) << "the viewed record is released only when the view goes";
  }
  EXPECT_EQ(channel->depth(), 1u);
  auto view = channel->try_receive_view();
  ASSERT_TRUE(view);
  EXPECT_EQ(view->value().sequence, 43u);
  EXPECT_EQ(view->value().text[0], '\0');
}

TEST_F(ChannelTest, ADroppedLoanIsNotSent) {
  auto channel = Channel<std::uint64_t>::create("dropped", {.capacity = 2});
  ASSERT_TRUE(channel);
  {
    auto loan = channel->loan();
    ASSERT_TRUE(loan);
    **loan = 666;
    EXPECT_EQ(channel->try_send(1).error().code(), Errc::invalid_argument)
        << "a loan is outstanding";
  }  // dropped
  EXPECT_EQ(channel->try_receive().error().code(), Errc::would_block);
  EXPECT_EQ(channel->depth(), 0u);
  ASSERT_TRUE(channel->try_send(7));
  EXPECT_EQ(*channel->try_receive(), 7u);
  {
    auto moved_away = channel->loan();
    ASSERT_TRUE(moved_away);
    auto loan = std::move(*moved_away);
    *loan = 8;
    ASSERT_TRUE(loan.commit());
  }
  EXPECT_EQ(*channel->try_receive(), 8u);
}

TEST_F(ChannelTest, AViewKeepsItsSlotUntilDestroyed) {
  auto channel = Channel<int>::create("held", {.capacity = 1});
  ASSERT_TRUE(channel);
  ASSERT_TRUE(channel->try_send(1));
  std::optional<Channel<int>::View> view;
  {
    auto got = channel->try_receive_view();
    ASSERT_TRUE(got);
    view.emplace(std::move(*got));
  }
  EXPECT_EQ(channel->try_send(2).error().code(), Errc::would_block);
  EXPECT_EQ(**view, 1);
  view.reset();
  EXPECT_TRUE(channel->try_send(2));
}

// Records over the inline-copy limit take the library's copy: mixed loans and sends, copies
// and views (their fast paths and, on a full or empty ring, their slow ones), each round
// filling the ring and wrapping it, every byte checked.
TEST_F(ChannelTest, LargeRecordsArriveWholeThroughLoansSendsViewsAndReceives) {
  struct Page {
    std::array<std::uint8_t, 4096> bytes;
  };
  const auto fill = [](Page& page, std::uint64_t index) {
    for (std::size_t at = 0; at < page.bytes.size(); ++at)
      page.bytes[at] = static_cast<std::uint8_t>(index * 131 + at * 7);
  };
  const auto is_whole = [](const Page& page, std::uint64_t index) {
    for (std::size_t at = 0; at < page.bytes.size(); ++at)
      if (page.bytes[at] != static_cast<std::uint8_t>(index * 131 + at * 7)) return false;
    return true;
  };
  auto channel = Channel<Page>::create("pages", {.capacity = 5});
  ASSERT_TRUE(channel);
  std::uint64_t sent = 0, received = 0;
  for (int round = 0; round < 4; ++round) {
    for (;;) {
      if (sent % 2 == 0) {
        auto loan = channel->try_loan();
        if (!loan) {
          EXPECT_EQ(loan.error().code(), Errc::would_block);
          break;
        }
        fill(**loan, sent);
        ASSERT_TRUE(loan->commit());
      } else {
        auto page = std::make_unique<Page>();
        fill(*page, sent);
        auto done = channel->try_send(*page);
        if (!done) {
          EXPECT_EQ(done.error().code(), Errc::would_block);
          break;
        }
      }
      ++sent;
    }
    EXPECT_EQ(sent, (round + 1) * 5u) << "a full ring holds its capacity";
    EXPECT_EQ(channel->try_loan().error().code(), Errc::would_block) << "still full";
    for (; received < sent; ++received) {
      if (received % 3 == 0) {
        auto view = channel->try_receive_view();
        ASSERT_TRUE(view);
        EXPECT_TRUE(is_whole(**view, received)) << "record " << received;
      } else {
        auto page = channel->try_receive();
        ASSERT_TRUE(page);
        EXPECT_TRUE(is_whole(*page, received)) << "record " << received;
      }
    }
    EXPECT_EQ(channel->try_receive_view().error().code(), Errc::would_block);
    EXPECT_EQ(channel->try_receive_view().error().code(), Errc::would_block) << "asked again";
  }
}

TEST_F(ChannelTest, ALoanCommittedAfterCloseIsNotSent) {
  auto channel = Channel<int>::create("late");
  ASSERT_TRUE(channel);
  auto loan = channel->loan();
  ASSERT_TRUE(loan);
  **loan = 5;
  channel->close();
  EXPECT_EQ(loan->commit().error().code(), Errc::closed);
  EXPECT_EQ(channel->try_receive().error().code(), Errc::closed);
}

TEST_F(ChannelTest, OneConsumerAtATime) {
  auto second = Channel<int>::create("single");
  ASSERT_TRUE(second);
  {
    auto first = Channel<int>::open("single");
    ASSERT_TRUE(first);
    EXPECT_EQ(first->try_receive().error().code(), Errc::would_block);  // first is the consumer
    auto refused = second->try_receive();
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code(), Errc::permission_denied);
    ASSERT_TRUE(second->send(3)) << "it may still send";
  }  // first gives the consumer role back; the record stays
  auto got = second->try_receive();
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, 3);
}

TEST_F(ChannelTest, ManyProducersEachTakeALaneAndGiveItBack) {
  auto consumer = Channel<int>::create("lanes", {.producers = Producers::many, .max_producers = 2});
  ASSERT_TRUE(consumer);
  auto b = Channel<int>::open("lanes");
  auto c = Channel<int>::open("lanes");
  ASSERT_TRUE(b && c);
  {
    auto a = Channel<int>::open("lanes");
    ASSERT_TRUE(a);
    ASSERT_TRUE(a->send(1));
    ASSERT_TRUE(b->send(2));
    auto refused = c->try_send(3);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code(), Errc::limit_reached);
    EXPECT_EQ(consumer->stats().producers_attached.size(), 2u);
  }  // a's lane is free again; its record stays
  ASSERT_TRUE(c->send(3));
  std::vector<int> got;
  while (auto value = consumer->try_receive()) got.push_back(*value);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<int>{1, 2, 3}));
  const auto stats = consumer->stats();
  EXPECT_EQ(stats.producers, Producers::many);
  EXPECT_EQ(stats.lanes, 2u);
  EXPECT_EQ(stats.consumer, self());
  EXPECT_EQ(stats.depth, 0u);
}

TEST_F(ChannelTest, ABlockingSendWaitsForALaneToBeGivenBack) {
  auto consumer = Channel<int>::create("busy", {.producers = Producers::many, .max_producers = 2});
  auto b = Channel<int>::open("busy");
  auto c = Channel<int>::open("busy");
  ASSERT_TRUE(consumer && b && c);
  std::optional<Channel<int>> a;
  a.emplace(std::move(*Channel<int>::open("busy")));
  ASSERT_TRUE(a->send(1));
  ASSERT_TRUE(b->send(2));
  EXPECT_EQ(c->send_for(3, 20ms).error().code(), Errc::timed_out);
  std::thread leaver([&] {
    std::this_thread::sleep_for(20ms);
    a.reset();  // gives its lane back
  });
  auto sent = c->send(3);  // waits for the lane
  leaver.join();
  ASSERT_TRUE(sent) << sent.error().message();
  std::vector<int> got;
  while (auto value = consumer->try_receive()) got.push_back(*value);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<int>{1, 2, 3}));
}

TEST_F(ChannelTest, LanesTakeTurns) {
  auto consumer = Channel<int>::create("fair", {.producers = Producers::many, .max_producers = 2});
  auto a = Channel<int>::open("fair");
  auto b = Channel<int>::open("fair");
  ASSERT_TRUE(consumer && a && b);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(a->send(100 + i));
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(b->send(200 + i));
  std::vector<int> got;
  while (auto value = consumer->try_receive()) got.push_back(*value);
  EXPECT_EQ(got, (std::vector<int>{100, 200, 101, 201, 102, 202, 103, 203}));
}

// ---- corruption: never trusted, never crashed on ---------------------------------------------

ring::LaneRingConfig* config_of(shm::Segment& segment) {
  return reinterpret_cast<ring::LaneRingConfig*>(segment.payload().data());
}

TEST_F(ChannelTest, ACorruptedConfigFailsOpen) {
  ASSERT_TRUE(Channel<std::uint64_t>::create("bad", {.capacity = 8}));
  auto segment = shm::Segment::open("bad", shm::SegmentKind::channel);
  ASSERT_TRUE(segment);
  const ring::LaneRingConfig good = *config_of(*segment);
  const auto expect_corrupted = [&](auto&& change, const char* what) {
    *config_of(*segment) = good;
    change(*config_of(*segment));
    auto opened = Channel<std::uint64_t>::open("bad");
    ASSERT_FALSE(opened) << what;
    EXPECT_EQ(opened.error().code(), Errc::corrupted) << what << ": " << opened.error().message();
  };
  expect_corrupted([](auto& c) { c.magic ^= 1; }, "magic");
  expect_corrupted([](auto& c) { c.layout_version = 99; }, "layout version");
  expect_corrupted([](auto& c) { c.slot_count = 12; }, "slots not a power of two");
  expect_corrupted([](auto& c) { c.capacity = 9; }, "capacity beyond the slots");
  expect_corrupted([](auto& c) { c.capacity = 0; }, "capacity 0");
  expect_corrupted([](auto& c) { c.lane_count = 0; }, "no lanes");
  expect_corrupted([](auto& c) { c.lane_count = 1000; }, "too many lanes");
  expect_corrupted([](auto& c) { c.slot_count = c.capacity = std::uint64_t{1} << 20; },
                   "slots past the segment");
  expect_corrupted([](auto& c) { c.slots_offset = 1 << 30; }, "offset past the segment");
  expect_corrupted([](auto& c) { c.record_size = 16; }, "record size disagrees");
  *config_of(*segment) = good;
  EXPECT_TRUE(Channel<std::uint64_t>::open("bad"));
}

TEST_F(ChannelTest, ImpossibleIndicesAreCorruptedNotTrusted) {
  auto channel = Channel<std::uint64_t>::create("indices", {.capacity = 4});
  ASSERT_TRUE(channel);
  ASSERT_TRUE(channel->try_send(1));
  auto segment = shm::Segment::open("indices", shm::SegmentKind::channel);
  ASSERT_TRUE(segment);
  auto* control =
      reinterpret_cast<ring::RingControl*>(segment->payload().data() + ring::kControlsOffset);
  control->tail.store(1000);  // 1000 records in a ring of 4
  auto received = channel->try_receive();
  ASSERT_FALSE(received);
  EXPECT_EQ(received.error().code(), Errc::corrupted);
  control->tail.store(1);
  control->head.store(50);  // the consumer is ahead of the producer
  // The producer trusts its cached head until it looks like full, then reads the shared one.
  std::optional<Error> refused;
  for (int i = 0; i < 4 && !refused; ++i)
    if (auto sent = channel->try_send(2); !sent) refused = sent.error();
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->code(), Errc::corrupted) << refused->message();
}

TEST_F(ChannelTest, TheWakeFencingIsChosenAtCreateAndEveryHandleAgrees) {
  // Asymmetric (no fence per send and receive) where the kernel has the global expedited
  // membarrier; symmetric when asked for, or where it has not.
  const auto expected =
      sys::has_global_membarrier() ? sync::WakeFencing::asymmetric : sync::WakeFencing::symmetric;
  auto fast = Channel<int>::create("fast");
  ASSERT_TRUE(fast);
  EXPECT_EQ(fast->stats().wake_fencing, expected);
  auto fenced = Channel<int>::create("fenced", {.wake_fencing = sync::WakeFencing::symmetric});
  ASSERT_TRUE(fenced);
  EXPECT_EQ(fenced->stats().wake_fencing, sync::WakeFencing::symmetric);
  auto fast_again = Channel<int>::open("fast");
  auto fenced_again = Channel<int>::open("fenced");
  ASSERT_TRUE(fast_again && fenced_again);
  EXPECT_EQ(fast_again->stats().wake_fencing, expected);
  EXPECT_EQ(fenced_again->stats().wake_fencing, sync::WakeFencing::symmetric);
  // Both work, from a second handle to the first (the consumer).
  ASSERT_TRUE(fast_again->send(5));
  ASSERT_TRUE(fenced_again->send(6));
  auto from_fast = fast->receive_for(1s);
  auto from_fenced = fenced->receive_for(1s);
  ASSERT_TRUE(from_fast && from_fenced);
  EXPECT_EQ(*from_fast, 5);
  EXPECT_EQ(*from_fenced, 6);
  auto unknown = Channel<int>::create("unknown", {.wake_fencing = sync::WakeFencing{7}});
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code(), Errc::invalid_argument);
}

TEST_F(ChannelTest, AnImpossibleWakeFencingFailsOpen) {
  ASSERT_TRUE(Channel<int>::create("fencing"));
  auto segment = shm::Segment::open("fencing", shm::SegmentKind::channel);
  ASSERT_TRUE(segment);
  auto* header = reinterpret_cast<ring::LaneRingHeader*>(segment->payload().data());
  const std::uint32_t good = header->wake_fencing.load();
  header->wake_fencing.store(2);
  auto opened = Channel<int>::open("fencing");
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code(), Errc::corrupted) << opened.error().message();
  header->wake_fencing.store(good);
  EXPECT_TRUE(Channel<int>::open("fencing"));
}

// A record far larger than a stack frame would like: receive copies it straight into the
// returned Result.
struct Block {
  std::array<std::uint64_t, (std::size_t{1} << 20) / 8> words;
};

TEST_F(ChannelTest, AMebibyteRecordArrivesWhole) {
  auto channel = Channel<Block>::create("blocks", {.capacity = 2});
  ASSERT_TRUE(channel);
  auto block = std::make_unique<Block>();
  for (std::uint64_t round = 0; round < 5; ++round) {
    for (std::size_t i = 0; i < block->words.size(); ++i) block->words[i] = round * 1'000'003 + i;
    ASSERT_TRUE(channel->send(*block));
    auto got = std::make_unique<Result<Block>>(channel->receive_for(1s));
    ASSERT_TRUE(*got);
    EXPECT_TRUE(std::equal(block->words.begin(), block->words.end(), (*got)->words.begin()))
        << "round " << round;
  }
}

// Trivially copyable but not default-constructible: received through a copy of its bytes.
struct Pair {
  explicit Pair(int x) : first(x), second(-x) {}
  int first;
  int second;
};

TEST_F(ChannelTest, ARecordWithoutADefaultConstructorArrives) {
  auto channel = Channel<Pair>::create("pairs");
  ASSERT_TRUE(channel);
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(channel->send(Pair(i)));
  for (int i = 1; i <= 3; ++i) {
    auto got = i == 3 ? channel->try_receive() : channel->receive_for(1s);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->first, i);
    EXPECT_EQ(got->second, -i);
  }
}

}  // namespace
}  // namespace conduit
