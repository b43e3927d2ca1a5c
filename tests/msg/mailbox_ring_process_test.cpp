// The ready ring of a mailbox (see "The ready ring" in msg/mailbox_layout.hpp): ordinary
// messages pass through it without the lock, the rest through the slots, and the two must
// behave as one queue: one order, one capacity, exactly once, whoever dies.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "conduit/core/process.hpp"
#include "conduit/msg/endpoint.hpp"
#include "conduit/msg/mailbox.hpp"
#include "conduit/msg/mailbox_layout.hpp"
#include "conduit/shm/segment.hpp"
#include "numbered_message.hpp"
#include "process.hpp"

namespace conduit {
namespace {

using test::Child;
using namespace std::chrono_literals;

class MailboxRingTest : public test::ProcessTest {};

using test::number_of;
using test::numbered;

// A busy producer and a busy consumer through a small mailbox: the ring fills, the producer
// falls back to the slots (behind the ring) and back again, thousands of times. One order.
TEST_F(MailboxRingTest, StreamThroughRingAndSlotsKeepsOneOrder) {
  constexpr std::uint64_t kCount = 200000;
  auto box = Mailbox::create("stream", {.capacity = Capacity::bounded(4), .max_message_size = 64});
  ASSERT_TRUE(box);
  Child producer([] {
    auto mine = Mailbox::open("stream");
    CHILD_CHECK(mine.has_value());
    for (std::uint64_t i = 0; i < kCount; ++i) {
      const auto bytes = numbered(i);
      for (;;) {
        auto sent = mine->try_send(bytes);
        if (sent) break;
        CHILD_CHECK(sent.error().code() == Errc::would_block);
      }
    }
    return 0;
  });
  for (std::uint64_t i = 0; i < kCount; ++i) {
    auto got = box->try_receive();
    if (!got) {
      ASSERT_EQ(got.error().code(), Errc::would_block) << got.error().message();
      --i;
      continue;
    }
    ASSERT_EQ(number_of(*got), i) << "out of order";
  }
  EXPECT_TRUE(producer.wait(60s).ok());
}

// The ring and the slots are one queue for selective receive too: msgrcv's rules over both.
TEST_F(MailboxRingTest, SelectiveReceiveSeesRingAndSlotsAsOneQueue) {
  auto box = Mailbox::create("types", {.capacity = Capacity::bounded(8), .max_message_size = 64});
  ASSERT_TRUE(box);
  ASSERT_TRUE(box->send(std::string_view("three"), 3));  // the ring
  auto loan = box->loan(3);                              // a slot: sends now go to the slots
  ASSERT_TRUE(loan);
  std::memcpy(loan->bytes().data(), "one", 3);
  ASSERT_TRUE(loan->commit(1));
  ASSERT_TRUE(box->send(std::string_view("two"), 2));
  ASSERT_TRUE(box->send(std::string_view("three again"), 3));
  EXPECT_EQ(box->stats().depth, 4u);
  auto lowest = box->try_receive(-3);  // the lowest type <= 3, wherever it lies
  ASSERT_TRUE(lowest);
  EXPECT_EQ(lowest->text(), "one");
  auto three = box->try_receive(3);  // the oldest three: the ring's
  ASSERT_TRUE(three);
  EXPECT_EQ(three->text(), "three");
  auto any = box->try_receive();
  ASSERT_TRUE(any);
  EXPECT_EQ(any->text(), "two");
  auto last = box->try_receive(-9);
  ASSERT_TRUE(last);
  EXPECT_EQ(last->text(), "three again");
  EXPECT_EQ(box->try_receive().error().code(), Errc::would_block);
  // Empty again: sends use the ring again, in order.
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(box->send(numbered(static_cast<std::uint64_t>(i))));
    auto got = box->try_receive();
    ASSERT_TRUE(got);
    EXPECT_EQ(number_of(*got), static_cast<std::uint64_t>(i));
  }
}

// bounded(n) holds exactly n messages, however they are split between the ring and the slots
// (and a loan or a view holds its place).
TEST_F(MailboxRingTest, CapacityCountsRingSlotsLoansAndViews) {
  auto box = Mailbox::create("three", {.capacity = Capacity::bounded(3), .max_message_size = 64});
  ASSERT_TRUE(box);
  ASSERT_TRUE(box->try_send(std::string_view("a")));  // ring
  auto loan = box->try_loan(1);                       // slot
  ASSERT_TRUE(loan);
  ASSERT_TRUE(box->try_send(std::string_view("b")));  // slot (behind the loan)
  EXPECT_EQ(box->try_send(std::string_view("c")).error().code(), Errc::would_block);
  EXPECT_EQ(box->try_loan(1).error().code(), Errc::would_block);
  loan->cancel();
  ASSERT_TRUE(box->try_send(std::string_view("c")));
  EXPECT_EQ(box->try_send(std::string_view("d")).error().code(), Errc::would_block);
  {
    auto view = box->try_receive_view();  // "a", from the ring: holds its cell
    ASSERT_TRUE(view);
    EXPECT_EQ(view->text(), "a");
    EXPECT_EQ(box->try_send(std::string_view("d")).error().code(), Errc::would_block);
  }
  ASSERT_TRUE(box->try_send(std::string_view("d")));
  for (const char* text : {"b", "c", "d"}) {
    auto got = box->try_receive();
    ASSERT_TRUE(got);
    EXPECT_EQ(got->text(), text);
  }
}

// A message at the ring's head that no receiver wants (its type) must not stop the others:
// the ring's tail comes round to its cell, and senders go to the slots instead.
TEST_F(MailboxRingTest, UnwantedMessageAtTheHeadDoesNotBlockTheOthers) {
  auto box = Mailbox::create("stuck", {.capacity = Capacity::bounded(4), .max_message_size = 64});
  ASSERT_TRUE(box);
  ASSERT_TRUE(box->try_send(std::string_view("unwanted"), 5));
  for (std::uint64_t i = 0; i < 100; ++i) {
    ASSERT_TRUE(box->try_send(numbered(i), 1)) << "message " << i;
    auto got = box->try_receive(1);
    ASSERT_TRUE(got) << got.error().message();
    EXPECT_EQ(number_of(*got), i);
  }
  auto unwanted = box->try_receive();
  ASSERT_TRUE(unwanted);
  EXPECT_EQ(unwanted->text(), "unwanted");
}

// ---- cells that dead processes held (forged in the ring, as a killed process leaves them) ----

// The mailbox's ring as a peer with write access to its file sees it.
struct RingBytes {
  shm::Segment segment;
  msg::MailboxConfig config{};
  msg::RingCell* cell(std::uint64_t position) {
    return reinterpret_cast<msg::RingCell*>(segment.payload().data() + config.ring_offset +
                                            (position % config.ring_cells) * config.ring_stride);
  }
  /// The claim of `position`'s cell (after the cells).
  msg::RingClaim* claim(std::uint64_t position) {
    return reinterpret_cast<msg::RingClaim*>(segment.payload().data() + config.ring_offset +
                                             std::size_t{config.ring_cells} * config.ring_stride) +
           position % config.ring_cells;
  }
  msg::MailboxState* state() {
    return reinterpret_cast<msg::MailboxState*>(segment.payload().data() +
                                                sizeof(msg::MailboxConfig));
  }
};

RingBytes ring_of(const std::string& name, NameUse names = NameUse::user) {
  auto segment = shm::Segment::open(name, shm::SegmentKind::mailbox, names);
  EXPECT_TRUE(segment) << segment.error().message();
  RingBytes ring{std::move(*segment)};
  std::memcpy(&ring.config, ring.segment.payload().data(), sizeof ring.config);
  EXPECT_GT(ring.config.ring_cells, 0u);
  return ring;
}

// Cell 0 as a reader `who` leaves it (its claim: the word, and the holder next to it).
void forge_reader(RingBytes& ring, ProcessId who) {
  ring.cell(0)->word.store(
      msg::CellWord::make(0, msg::CellState::reading, static_cast<std::uint32_t>(who.pid)));
  ring.cell(0)->holder = msg::CellHolder::make(who.pid, who.start_time);
}
void forge_reader(RingBytes& ring, pid_t pid) { forge_reader(ring, ProcessId{pid, 0}); }

// The claim of position 0 as a writer `who` leaves it.
void forge_writer(RingBytes& ring, ProcessId who) {
  ring.claim(0)->word.store(
      msg::CellWord::make(0, msg::CellState::writing, static_cast<std::uint32_t>(who.pid)));
  ring.claim(0)->holder = msg::CellHolder::make(who.pid, who.start_time);
}
void forge_writer(RingBytes& ring, pid_t pid) { forge_writer(ring, ProcessId{pid, 0}); }

pid_t dead_pid() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);
  return child;
}

// A child that lives until killed (by Child's destructor, or kill()), and who it is.
struct Sleeper {
  Child child;
  ProcessId id;
};
Sleeper sleeper() {
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  Child child([&]() -> int {
    const ProcessId me = self();
    CHILD_CHECK(::write(fds[1], &me, sizeof me) == static_cast<ssize_t>(sizeof me));
    for (;;) ::pause();
  });
  ProcessId id{};
  EXPECT_EQ(::read(fds[0], &id, sizeof id), static_cast<ssize_t>(sizeof id));
  ::close(fds[0]);
  ::close(fds[1]);
  return {std::move(child), id};
}

// The claimants a recovery must find dead: a process that ended, and one whose pid a live
// process has now (pid reuse: 32768 pids by default), named by the start time of the dead one.
// Before a claim wrote its claimant's start time with it, a reader or writer killed between the
// two kept its claim for as long as the process under its pid lived.
struct DeadClaimant {
  std::string what;
  ProcessId who;
};
std::vector<DeadClaimant> dead_claimants(const Sleeper& reuser) {
  return {{"a process that ended", {dead_pid(), 0}},
          {"a pid reused by a live process", {reuser.id.pid, reuser.id.start_time + 1}}};
}

// A size past max_message_size in the head's cell (a peer wrote over the ring): the receive
// that finds it says so, the message is dropped, and the next one comes. Through a Mailbox and
// through an Endpoint's link (whose receive looks at the ring its own way).
TEST_F(MailboxRingTest, ForgedSizeInTheRingIsCorruptedAndTheNextMessageComes) {
  auto box = Mailbox::create("forged", {.capacity = Capacity::bounded(4), .max_message_size = 64});
  ASSERT_TRUE(box);
  auto receiver = Endpoint::join("forged-receiver", {.capacity = Capacity::bounded(4)});
  auto sender = Endpoint::join("forged-sender", {.capacity = Capacity::bounded(4)});
  ASSERT_TRUE(receiver && sender);
  // One message each first: the receiver's next receives find their link open and nothing
  // changed (the shortest path).
  ASSERT_TRUE(box->send(std::string_view("zero")));
  ASSERT_TRUE(sender->send("forged-receiver", "zero"));
  ASSERT_TRUE(box->try_receive());
  ASSERT_TRUE(receiver->receive_for(5s));
  for (const std::string_view text : {"first", "second"}) {
    ASSERT_TRUE(box->send(text));
    ASSERT_TRUE(sender->send("forged-receiver", text));
  }
  auto ring = ring_of("forged");
  auto link = ring_of(internal_name({"forged-receiver", "forged-sender", "1"}), NameUse::internal);
  ring.cell(1)->size = ring.config.max_message_size + 1;
  link.cell(1)->size = link.config.max_message_size + 1;

  const auto expect_forged = [](const Result<Message>& got) {
    ASSERT_FALSE(got);
    EXPECT_EQ(got.error().code(), Errc::corrupted);
    EXPECT_NE(got.error().message().find("larger than max_message_size"), std::string::npos)
        << got.error().message();
  };
  expect_forged(box->try_receive());
  expect_forged(receiver->try_receive());
  auto next = box->try_receive();
  ASSERT_TRUE(next) << next.error().message();
  EXPECT_EQ(next->text(), "second");
  next = receiver->try_receive();
  ASSERT_TRUE(next) << next.error().message();
  EXPECT_EQ(next->text(), "second");
  EXPECT_EQ(next->sender_name(), "forged-sender");
}

// A receiver killed while copying a message out had not received it: it is received, once.
TEST_F(MailboxRingTest, MessageADeadReaderWasCopyingIsReceivedOnce) {
  const Sleeper reuser = sleeper();
  int round = 0;
  for (const auto& [what, dead] : dead_claimants(reuser)) {
    SCOPED_TRACE(what);
    const std::string name = "reader-" + std::to_string(round++);
    auto box = Mailbox::create(name, {.capacity = Capacity::bounded(4), .max_message_size = 64});
    ASSERT_TRUE(box);
    ASSERT_TRUE(box->send(std::string_view("first")));
    ASSERT_TRUE(box->send(std::string_view("second")));
    auto ring = ring_of(name);
    forge_reader(ring, dead);
    std::vector<std::string> got;
    for (int i = 0; i < 2; ++i) {
      auto message = box->receive_for(10s);
      ASSERT_TRUE(message) << message.error().message();
      got.push_back(std::string(message->text()));
    }
    std::ranges::sort(got);
    EXPECT_EQ(got, (std::vector<std::string>{"first", "second"}));
    EXPECT_EQ(box->try_receive().error().code(), Errc::would_block);
    EXPECT_EQ(box->stats().depth, 0u);
  }
}

// A receiver killed holding a view had received the message: its cell is freed, the message
// not handed out again.
TEST_F(MailboxRingTest, MessageADeadViewerHeldIsNotReceivedAgain) {
  auto box = Mailbox::create("viewer", {.capacity = Capacity::bounded(1), .max_message_size = 64});
  ASSERT_TRUE(box);
  ASSERT_TRUE(box->send(std::string_view("viewed")));
  auto ring = ring_of("viewer");
  const pid_t dead = dead_pid();
  forge_reader(ring, dead);
  ring.cell(0)->is_viewed = 1;
  // Full (one cell, held) until the dead viewer's cell is recovered; then there is room.
  ASSERT_TRUE(box->send_for(std::string_view("next"), 10s));
  auto got = box->try_receive();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->text(), "next");
  EXPECT_EQ(box->try_receive().error().code(), Errc::would_block);
}

// A sender killed between claiming the tail's cell and publishing it never sent its message:
// the position is given up, and nothing after it waits for it for ever.
TEST_F(MailboxRingTest, CellADeadWriterClaimedIsGivenUp) {
  for (const bool is_tail_moved : {false, true}) {
    SCOPED_TRACE(is_tail_moved ? "the tail moved" : "the tail did not move");
    const std::string name = is_tail_moved ? "moved" : "unmoved";
    auto box = Mailbox::create(name, {.capacity = Capacity::bounded(4), .max_message_size = 64});
    ASSERT_TRUE(box);
    auto ring = ring_of(name);
    const pid_t dead = dead_pid();
    forge_writer(ring, dead);
    if (is_tail_moved) ring.state()->ring_tail.store(1);
    for (std::uint64_t i = 0; i < 10; ++i) {
      ASSERT_TRUE(box->send_for(numbered(i), 10s));
      auto got = box->receive_for(10s);
      ASSERT_TRUE(got) << got.error().message();
      EXPECT_EQ(number_of(*got), i);
    }
    EXPECT_EQ(box->try_receive().error().code(), Errc::would_block);
  }
}

// A dead writer that moved the tail leaves its position's cell empty, and messages behind it:
// a receiver that only polls (try_receive, never a wait) gets them too.
TEST_F(MailboxRingTest, APollerGetsPastTheEmptyCellOfADeadWriter) {
  const Sleeper reuser = sleeper();
  int round = 0;
  for (const auto& [what, dead] : dead_claimants(reuser)) {
    SCOPED_TRACE(what);
    const std::string name = "poller-" + std::to_string(round++);
    auto box = Mailbox::create(name, {.capacity = Capacity::bounded(4), .max_message_size = 64});
    ASSERT_TRUE(box);
    auto ring = ring_of(name);
    forge_writer(ring, dead);
    ring.state()->ring_tail.store(1);
    for (std::uint64_t i = 0; i < 3; ++i) ASSERT_TRUE(box->try_send(numbered(i)));
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    for (std::uint64_t i = 0; i < 3;) {
      auto got = box->try_receive();
      if (!got) {
        ASSERT_EQ(got.error().code(), Errc::would_block) << got.error().message();
        ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "message " << i << " never came";
        continue;
      }
      EXPECT_EQ(number_of(*got), i++);
    }
    EXPECT_EQ(box->stats().depth, 0u);
  }
}

// A writer that published and died before it released its claim: the claim is given back, and
// the cell serves later positions again.
TEST_F(MailboxRingTest, AClaimADeadWriterKeptAfterPublishingIsGivenBack) {
  auto box = Mailbox::create("kept", {.capacity = Capacity::bounded(1), .max_message_size = 64});
  ASSERT_TRUE(box);
  auto ring = ring_of("kept");
  ASSERT_TRUE(box->try_send(numbered(0)));
  forge_writer(ring, dead_pid());  // as it was before the release
  auto first = box->try_receive();
  ASSERT_TRUE(first);
  EXPECT_EQ(number_of(*first), 0u);
  for (std::uint64_t i = 1; i < 20; ++i) {
    ASSERT_TRUE(box->send_for(numbered(i), 10s)) << "message " << i;
    auto got = box->receive_for(10s);
    ASSERT_TRUE(got) << got.error().message();
    EXPECT_EQ(number_of(*got), i);
  }
  // Given back: the claim serves a later position (empty), held by nobody.
  const std::uint64_t claim = ring.claim(0)->word.load();
  EXPECT_EQ(msg::CellWord::state(claim), msg::CellState::empty);
  EXPECT_GT(msg::CellWord::stamp(claim), 0u);
}

// The other way round: claims that name a live process as it is (its start time too) are its,
// not recovered (for much longer than a recovery waits between looks), until it dies.
TEST_F(MailboxRingTest, ALiveClaimantKeepsItsClaimUntilItDies) {
  {
    SCOPED_TRACE("a writer that moved the tail");
    Sleeper writer = sleeper();
    auto box =
        Mailbox::create("writer", {.capacity = Capacity::bounded(4), .max_message_size = 64});
    ASSERT_TRUE(box);
    auto ring = ring_of("writer");
    forge_writer(ring, writer.id);
    ring.state()->ring_tail.store(1);
    ASSERT_TRUE(box->try_send(numbered(1)));
    auto early = box->receive_for(300ms);  // behind position 0, which the writer holds
    ASSERT_FALSE(early);
    EXPECT_EQ(early.error().code(), Errc::timed_out) << early.error().message();
    (void)writer.child.kill();
    auto got = box->receive_for(10s);
    ASSERT_TRUE(got) << got.error().message();
    EXPECT_EQ(number_of(*got), 1u);
  }
  {
    SCOPED_TRACE("a reader");
    Sleeper reader = sleeper();
    auto box =
        Mailbox::create("reader", {.capacity = Capacity::bounded(4), .max_message_size = 64});
    ASSERT_TRUE(box);
    ASSERT_TRUE(box->send(std::string_view("first")));
    ASSERT_TRUE(box->send(std::string_view("second")));
    auto ring = ring_of("reader");
    forge_reader(ring, reader.id);
    auto second = box->receive_for(10s);
    ASSERT_TRUE(second) << second.error().message();
    EXPECT_EQ(second->text(), "second");
    auto early = box->receive_for(300ms);  // "first" is the reader's while it lives
    ASSERT_FALSE(early);
    EXPECT_EQ(early.error().code(), Errc::timed_out) << early.error().message();
    (void)reader.child.kill();
    auto first = box->receive_for(10s);
    ASSERT_TRUE(first) << first.error().message();
    EXPECT_EQ(first->text(), "first");
  }
}

// A receiver killed between freeing a cell and counting it done leaves the count one short for
// ever (found by model/ready_ring.pml): the mailbox must not lose that capacity.
TEST_F(MailboxRingTest, DoneCountLeftShortByADeadReceiverLosesNoCapacity) {
  for (const std::size_t capacity : {1u, 3u}) {
    SCOPED_TRACE("bounded(" + std::to_string(capacity) + ")");
    const std::string name = "short" + std::to_string(capacity);
    auto box =
        Mailbox::create(name, {.capacity = Capacity::bounded(capacity), .max_message_size = 64});
    ASSERT_TRUE(box);
    auto ring = ring_of(name);
    for (std::uint64_t round = 0; round < 3; ++round) {
      ASSERT_TRUE(box->try_send(numbered(round)));
      auto got = box->try_receive();
      ASSERT_TRUE(got);
      ring.state()->ring_done.fetch_sub(1);  // as the killed receiver left it
    }
    for (std::uint64_t i = 0; i < capacity; ++i)
      ASSERT_TRUE(box->try_send(numbered(i))) << "message " << i << " of " << capacity;
    EXPECT_EQ(box->try_send(numbered(99)).error().code(), Errc::would_block);
    for (std::uint64_t i = 0; i < capacity; ++i) {
      auto got = box->try_receive();
      ASSERT_TRUE(got);
      EXPECT_EQ(number_of(*got), i);
    }
    ASSERT_TRUE(box->send_for(numbered(7), 10s));  // a waiting send finds room too
  }
}

// A blocking send whose tail cell a live receiver is still copying out (the ring not full as
// counted: a later message was taken past it) waits for that copy, as for room, and then sends
// through the ring. Queued in the slots instead, it would put every later send behind it there
// (the locked path, for as long as other senders kept the slots busy).
TEST_F(MailboxRingTest, SendWaitsForAReceiverCopyingOutTheTailCell) {
  auto box = Mailbox::create("copying", {.capacity = Capacity::bounded(2), .max_message_size = 64});
  ASSERT_TRUE(box);
  ASSERT_TRUE(box->send(std::string_view("first")));
  ASSERT_TRUE(box->send(std::string_view("second")));
  auto ring = ring_of("copying");
  Child copier([] {  // the receiver copying "first" out, alive for as long as the test needs
    ::pause();
    return 0;
  });
  forge_reader(ring, copier.pid());
  auto second = box->try_receive();  // taken past the copier's cell
  ASSERT_TRUE(second) << second.error().message();
  EXPECT_EQ(second->text(), "second");
  Child sender([] {
    auto mine = Mailbox::open("copying");
    CHILD_CHECK(mine.has_value());
    CHILD_CHECK(mine->send(std::string_view("third")).has_value());
    return 0;
  });
  // While the copy lasts, the send can only wait: position 2 is cell 0's.
  std::this_thread::sleep_for(200ms);
  EXPECT_TRUE(sender.running()) << "the send did not wait for the copy";
  EXPECT_EQ(box->stats().depth, 0u) << "the third message went to the slots";
  // The copier finishes: the cell is free for position 2, one more position is done.
  ring.cell(0)->word.store(msg::CellWord::make(2, msg::CellState::empty));
  ring.state()->ring_done.fetch_add(1);
  EXPECT_TRUE(sender.wait(10s).ok());
  EXPECT_EQ(ring.cell(0)->word.load(), msg::CellWord::make(2, msg::CellState::full))
      << "not sent through the ring";
  auto third = box->receive_for(10s);
  ASSERT_TRUE(third) << third.error().message();
  EXPECT_EQ(third->text(), "third");
  (void)copier.kill();
}

// A view of the tail cell's message may live on, here in the sending process itself: a send does
// not wait for it (it would wait for ever), it queues in the slots, behind the ring.
TEST_F(MailboxRingTest, SendDoesNotWaitForAViewOfTheTailCell) {
  auto box = Mailbox::create("viewing", {.capacity = Capacity::bounded(2), .max_message_size = 64});
  ASSERT_TRUE(box);
  ASSERT_TRUE(box->send(std::string_view("first")));
  ASSERT_TRUE(box->send(std::string_view("second")));
  Child viewer([] {
    auto mine = Mailbox::open("viewing");
    CHILD_CHECK(mine.has_value());
    auto view = mine->receive_view();
    CHILD_CHECK(view.has_value() && view->size() == 5);
    auto second = mine->receive();
    CHILD_CHECK(second.has_value() && second->text() == "second");
    CHILD_CHECK(mine->send(std::string_view("third")).has_value());
    // The view and the third message fill bounded(2).
    CHILD_CHECK(mine->try_send(std::string_view("fourth")).error().code() == Errc::would_block);
    return 0;
  });
  EXPECT_TRUE(viewer.wait(30s).ok()) << "the send waited for the sender's own view";
  auto third = box->receive_for(10s);
  ASSERT_TRUE(third) << third.error().message();
  EXPECT_EQ(third->text(), "third");
}

}  // namespace
}  // namespace conduit
