// Zero-copy on a mailbox: loans written in place and committed, views read in place and
// released, across processes, and what a process killed holding either leaves behind.
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "conduit/msg/loan.hpp"
#include "conduit/msg/mailbox.hpp"
#include "conduit/shm/shared_memory.hpp"
#include "process.hpp"

namespace conduit {
namespace {

using test::Child;
using namespace std::chrono_literals;

class MailboxLoanTest : public test::ProcessTest {};

std::atomic<int>* shared_flag(std::optional<SharedMemory>& keep) {
  auto memory = SharedMemory::anonymous(sizeof(std::atomic<int>));
  EXPECT_TRUE(memory);
  keep.emplace(std::move(*memory));
  return ::new (keep->bytes().data()) std::atomic<int>(0);
}

std::byte pattern(std::size_t i) { return static_cast<std::byte>((i * 131 + 7) & 0xff); }

TEST_F(MailboxLoanTest, LoanCommitAndReceiveViewRoundTripAcrossProcesses) {
  constexpr std::size_t kSize = 48 * 1024;
  ASSERT_TRUE(
      Mailbox::create("big", {.capacity = Capacity::bounded(2), .max_message_size = kSize}));
  Child sender([] {
    auto box = Mailbox::open("big");
    CHILD_CHECK(box.has_value());
    auto loan = box->loan(kSize);
    CHILD_CHECK(loan.has_value());
    CHILD_CHECK(loan->size() == kSize);
    for (std::size_t i = 0; i < kSize; ++i) loan->bytes()[i] = pattern(i);
    CHILD_CHECK(loan->commit(7).has_value());
    CHILD_CHECK(!loan->is_active());
    return 0;
  });
  auto box = Mailbox::open("big");
  ASSERT_TRUE(box);
  auto view = box->receive_view_for(30s);
  ASSERT_TRUE(view) << view.error().message();
  EXPECT_EQ(view->type(), 7);
  EXPECT_EQ(view->sender().pid, sender.pid());
  ASSERT_EQ(view->size(), kSize);
  std::size_t wrong = 0;
  for (std::size_t i = 0; i < kSize; ++i) wrong += view->payload()[i] != pattern(i) ? 1 : 0;
  EXPECT_EQ(wrong, 0u);
  EXPECT_TRUE(sender.wait().ok());
  view->release();
  EXPECT_TRUE(view->payload().empty());
  const auto stats = box->stats();
  EXPECT_EQ(stats.depth, 0u);
  EXPECT_EQ(stats.sent, 1u);
  EXPECT_EQ(stats.received, 1u);
}

TEST_F(MailboxLoanTest, CommitOfAPrefixSendsOnlyThoseBytes) {
  auto box = Mailbox::create("short", {.max_message_size = 1024});
  ASSERT_TRUE(box);
  auto loan = box->loan(1024);
  ASSERT_TRUE(loan);
  std::memcpy(loan->bytes().data(), "hello", 5);
  ASSERT_TRUE(loan->commit_prefix(5, 3));
  EXPECT_EQ(loan->commit().error().code(), Errc::invalid_argument) << "a loan commits once";
  auto got = box->try_receive(3);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->text(), "hello");
  EXPECT_EQ(box->loan(1025).error().code(), Errc::message_too_large);
}

TEST_F(MailboxLoanTest, DroppedLoanIsNotSentAndItsSlotIsReusable) {
  ASSERT_TRUE(Mailbox::create("one", {.capacity = Capacity::bounded(1), .max_message_size = 256}));
  auto box = Mailbox::open("one");
  ASSERT_TRUE(box);
  auto exit = test::run_in_child([] {
    auto mine = Mailbox::open("one");
    CHILD_CHECK(mine.has_value());
    auto loan = mine->loan(64);
    CHILD_CHECK(loan.has_value());
    std::memset(loan->bytes().data(), 'x', 64);
    // The loan holds the only slot.
    CHILD_CHECK(mine->try_send("no room").error().code() == Errc::would_block);
    CHILD_CHECK(mine->try_loan(8).error().code() == Errc::would_block);
    return 0;  // dropped uncommitted
  });
  ASSERT_TRUE(exit.ok()) << exit.describe();
  EXPECT_EQ(box->try_receive().error().code(), Errc::would_block) << "a dropped loan was sent";
  ASSERT_TRUE(box->try_send("after")) << "the dropped loan's slot was not given back";
  auto got = box->try_receive();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->text(), "after");
  {
    auto loan = box->loan(16);
    ASSERT_TRUE(loan);
    loan->cancel();
    EXPECT_FALSE(loan->is_active());
  }
  EXPECT_TRUE(box->try_send("again"));
}

TEST_F(MailboxLoanTest, ViewHoldsItsSlotUntilDestroyed) {
  ASSERT_TRUE(Mailbox::create("one", {.capacity = Capacity::bounded(1), .max_message_size = 256}));
  auto exit = test::run_in_child([] {
    auto mine = Mailbox::open("one");
    CHILD_CHECK(mine.has_value());
    CHILD_CHECK(mine->send("first").has_value());
    return 0;
  });
  ASSERT_TRUE(exit.ok()) << exit.describe();
  auto box = Mailbox::open("one");
  ASSERT_TRUE(box);
  {
    auto view = box->try_receive_view();
    ASSERT_TRUE(view) << view.error().message();
    EXPECT_EQ(view->text(), "first");
    EXPECT_EQ(box->stats().depth, 0u);
    EXPECT_EQ(box->try_send("second").error().code(), Errc::would_block)
        << "the view's slot was reused while the view lives";
    EXPECT_EQ(view->text(), "first");
    MessageView moved = std::move(*view);
    EXPECT_TRUE(view->payload().empty());
    EXPECT_EQ(moved.text(), "first");
    EXPECT_EQ(box->try_receive_view().error().code(), Errc::would_block);
  }
  ASSERT_TRUE(box->try_send("second")) << "the destroyed view did not free its slot";
  auto got = box->receive_view_for(5s);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->text(), "second");
}

TEST_F(MailboxLoanTest, LoanOnAFullMailboxWaitsUntilAViewIsReleased) {
  ASSERT_TRUE(Mailbox::create("one", {.capacity = Capacity::bounded(1), .max_message_size = 64}));
  auto box = Mailbox::open("one");
  ASSERT_TRUE(box);
  ASSERT_TRUE(box->try_send("first"));
  std::optional<SharedMemory> keep;
  std::atomic<int>* is_loaning = shared_flag(keep);
  Child lender([is_loaning] {
    auto mine = Mailbox::open("one");
    CHILD_CHECK(mine.has_value());
    is_loaning->store(1);
    auto loan = mine->loan(6);  // the mailbox is full: waits for the slot
    CHILD_CHECK(loan.has_value());
    std::memcpy(loan->bytes().data(), "second", 6);
    CHILD_CHECK(loan->commit().has_value());
    return 0;
  });
  while (is_loaning->load() == 0) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(50ms);  // time to go to sleep: a loan that returned now is a bug
  EXPECT_TRUE(lender.running()) << "loan() returned while every slot was queued";
  {
    auto view = box->receive_view_for(5s);
    ASSERT_TRUE(view) << view.error().message();
    EXPECT_EQ(view->text(), "first");
    std::this_thread::sleep_for(50ms);
    EXPECT_TRUE(lender.running()) << "loan() took the slot of a view still held";
  }
  auto got = box->receive_for(30s);  // the released view's slot went to the loan
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(got->text(), "second");
  EXPECT_TRUE(lender.wait().ok());
}

TEST_F(MailboxLoanTest, ViewOutlivesItsMailboxHandle) {
  std::optional<MessageView> view;
  {
    auto box = Mailbox::create("brief", {.max_message_size = 64});
    ASSERT_TRUE(box);
    ASSERT_TRUE(box->send("kept"));
    auto got = box->receive_view();
    ASSERT_TRUE(got);
    view.emplace(std::move(*got));
  }
  EXPECT_EQ(view->text(), "kept");
  view.reset();
  auto box = Mailbox::open("brief");
  ASSERT_TRUE(box);
  EXPECT_EQ(box->stats().depth, 0u);
  EXPECT_TRUE(box->try_send("room"));
}

TEST_F(MailboxLoanTest, SendAndWaitGetsItsReceiptWhenAViewTakesTheMessage) {
  ASSERT_TRUE(Mailbox::create("ack", {.capacity = Capacity::bounded(1), .max_message_size = 64}));
  std::optional<SharedMemory> keep;
  auto* done = shared_flag(keep);
  Child receiver([&] {
    auto box = Mailbox::open("ack");
    CHILD_CHECK(box.has_value());
    auto view = box->receive_view();
    CHILD_CHECK(view && view->text() == "ping");
    while (done->load() == 0) ::usleep(1000);  // hold the view past the sender's return
    CHILD_CHECK(view->text() == "ping");
    return 0;
  });
  auto box = Mailbox::open("ack");
  ASSERT_TRUE(box);
  auto receipt = box->send_and_wait("ping");
  ASSERT_TRUE(receipt) << receipt.error().message();
  EXPECT_EQ(receipt->receiver.pid, receiver.pid());
  done->store(1);
  EXPECT_TRUE(receiver.wait().ok());
  ASSERT_TRUE(box->send_for("pong", 5s)) << "the released view's slot is free again";
}

TEST_F(MailboxLoanTest, ZeroCapacityCommitReturnsOnceReceived) {
  ASSERT_TRUE(Mailbox::create("meet", {.capacity = Capacity::zero(), .max_message_size = 64}));
  std::optional<SharedMemory> keep;
  auto* receiving = shared_flag(keep);
  Child receiver([&] {
    auto box = Mailbox::open("meet");
    CHILD_CHECK(box.has_value());
    ::usleep(100000);
    receiving->store(1);
    auto view = box->receive_view();
    CHILD_CHECK(view && view->text() == "hand");
    return 0;
  });
  auto box = Mailbox::open("meet");
  ASSERT_TRUE(box);
  auto loan = box->loan(4);
  ASSERT_TRUE(loan);
  std::memcpy(loan->bytes().data(), "hand", 4);
  ASSERT_TRUE(loan->commit());
  EXPECT_EQ(receiving->load(), 1) << "commit returned before any receiver took the message";
  EXPECT_TRUE(receiver.wait().ok());
}

TEST_F(MailboxLoanTest, ProcessKilledHoldingALoanLeavesTheMailboxUsable) {
  ASSERT_TRUE(Mailbox::create("one", {.capacity = Capacity::bounded(1), .max_message_size = 256}));
  std::optional<SharedMemory> keep;
  auto* holding = shared_flag(keep);
  Child writer([&]() -> int {
    auto box = Mailbox::open("one");
    CHILD_CHECK(box.has_value());
    auto loan = box->loan(200);
    CHILD_CHECK(loan.has_value());
    std::memset(loan->bytes().data(), 'h', 100);  // half written
    holding->store(1);
    for (;;) ::pause();
  });
  while (holding->load() == 0) ::usleep(1000);
  auto box = Mailbox::open("one");
  ASSERT_TRUE(box);
  EXPECT_EQ(box->try_send("full").error().code(), Errc::would_block) << "a live loan's slot";
  writer.kill();
  ASSERT_TRUE(box->send_for("after", 5s)) << "the dead writer's slot was not reclaimed";
  auto got = box->try_receive();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->text(), "after") << "the half-written loan was delivered";
  EXPECT_EQ(box->try_receive().error().code(), Errc::would_block);
}

TEST_F(MailboxLoanTest, ProcessKilledHoldingAViewLeavesTheMailboxUsableAndTheMessageReceived) {
  ASSERT_TRUE(Mailbox::create("one", {.capacity = Capacity::bounded(1), .max_message_size = 256}));
  auto box = Mailbox::open("one");
  ASSERT_TRUE(box);
  ASSERT_TRUE(box->send("once"));
  std::optional<SharedMemory> keep;
  auto* holding = shared_flag(keep);
  Child reader([&]() -> int {
    auto mine = Mailbox::open("one");
    CHILD_CHECK(mine.has_value());
    auto view = mine->receive_view();
    CHILD_CHECK(view && view->text() == "once");
    holding->store(1);
    for (;;) ::pause();
  });
  while (holding->load() == 0) ::usleep(1000);
  EXPECT_EQ(box->try_send("full").error().code(), Errc::would_block) << "a live view's slot";
  reader.kill();
  ASSERT_TRUE(box->send_for("next", 5s)) << "the dead reader's slot was not reclaimed";
  auto got = box->try_receive();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->text(), "next") << "exactly once: the dead reader had received 'once'";
  EXPECT_EQ(box->try_receive().error().code(), Errc::would_block);
  EXPECT_EQ(box->stats().received, 2u);
}

TEST_F(MailboxLoanTest, BroadcastViewsAreOfACopyAndEveryReceiverGetsOne) {
  auto box = Mailbox::create("news",
                             {.capacity = Capacity::bounded(4), .receivers = Receivers::broadcast});
  ASSERT_TRUE(box);
  auto other = Mailbox::open("news");  // a receiver from open
  ASSERT_TRUE(other);
  ASSERT_EQ(box->try_receive_view().error().code(), Errc::would_block);  // now a receiver too
  ASSERT_TRUE(box->send("all"));
  auto mine = box->try_receive_view();
  ASSERT_TRUE(mine);
  auto theirs = other->try_receive_view();
  ASSERT_TRUE(theirs);
  EXPECT_EQ(mine->text(), "all");
  EXPECT_EQ(theirs->text(), "all");
  EXPECT_EQ(box->stats().depth, 0u);
}

TEST_F(MailboxLoanTest, ReceivedMessagesKeepTheirBytesWhileHeld) {
  // Received payloads come from a per-handle pool of buffers: one still held is never reused.
  auto box = Mailbox::create("pool", {.capacity = Capacity::bounded(64), .max_message_size = 64});
  ASSERT_TRUE(box);
  std::vector<Message> held;
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(box->send(std::to_string(round * 100 + i)));
    for (int i = 0; i < 20; ++i) {
      auto got = box->try_receive();
      ASSERT_TRUE(got);
      if (i % 2 == 0) held.push_back(*got);  // the odd ones go back to the pool at once
    }
  }
  ASSERT_EQ(held.size(), 30u);
  for (std::size_t k = 0; k < held.size(); ++k) {
    const int round = static_cast<int>(k / 10);
    const int i = static_cast<int>(k % 10) * 2;
    EXPECT_EQ(held[k].text(), std::to_string(round * 100 + i));
  }
}

TEST_F(MailboxLoanTest, ThreadsShareAMailboxAndPassReceivedMessagesOn) {
  // In one process (where a thread sanitizer can watch): a sender thread sends and loans, a
  // receiver thread receives copies and views, and hands every Message to a third thread that
  // reads and drops it while the receiver's buffer pool reuses what comes back.
  constexpr std::uint64_t kCount = 10000;
  ASSERT_TRUE(
      Mailbox::create("threads", {.capacity = Capacity::bounded(8), .max_message_size = 64}));
  std::atomic<std::uint64_t> sum{0};
  std::atomic<bool> is_done{false};
  std::vector<Message> handed;
  std::atomic_flag handing;
  std::thread sender([] {
    auto box = Mailbox::open("threads");
    ASSERT_TRUE(box);
    for (std::uint64_t i = 1; i <= kCount; ++i) {
      if (i % 2 == 0) {
        ASSERT_TRUE(box->send(bytes_of(i)));
      } else {
        auto loan = box->loan(sizeof i);
        ASSERT_TRUE(loan);
        std::memcpy(loan->bytes().data(), &i, sizeof i);
        ASSERT_TRUE(loan->commit());
      }
    }
  });
  std::thread reader([&] {
    for (;;) {
      const bool was_done = is_done.load();  // set after the last hand-over
      std::vector<Message> mine;
      while (handing.test_and_set(std::memory_order_acquire)) std::this_thread::yield();
      mine.swap(handed);
      handing.clear(std::memory_order_release);
      for (const auto& message : mine) {
        std::uint64_t value = 0;
        std::memcpy(&value, message.payload().data(), sizeof value);
        sum.fetch_add(value);
      }
      if (was_done && mine.empty()) return;
    }
  });
  auto box = Mailbox::open("threads");
  ASSERT_TRUE(box);
  for (std::uint64_t received = 0; received < kCount; ++received) {
    if (received % 3 == 0) {
      auto view = box->receive_view_for(30s);
      ASSERT_TRUE(view) << view.error().message();
      std::uint64_t value = 0;
      std::memcpy(&value, view->payload().data(), sizeof value);
      sum.fetch_add(value);
    } else {
      auto message = box->receive_for(30s);
      ASSERT_TRUE(message) << message.error().message();
      while (handing.test_and_set(std::memory_order_acquire)) std::this_thread::yield();
      handed.push_back(std::move(*message));
      handing.clear(std::memory_order_release);
    }
  }
  sender.join();
  is_done.store(true);
  reader.join();
  EXPECT_EQ(sum.load(), kCount * (kCount + 1) / 2);
}

}  // namespace
}  // namespace conduit
