// A mailbox whose shared bytes a peer overwrote fails with `corrupted`; it never hangs the
// process that opens or uses it. (Found by fuzz/segment_fuzz.cpp: garbage in the mailbox's lock
// made Mailbox::open wait forever for a holder that did not exist.)
#include <atomic>
#include <chrono>
#include <cstddef>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "conduit/msg/mailbox.hpp"
#include "conduit/msg/mailbox_layout.hpp"
#include "conduit/shm/segment.hpp"
#include "process.hpp"

namespace conduit {
namespace {

using test::missing_thread_id;

// The fixture's watchdog turns a regression (a hang) into a failure.
class MailboxCorruptionTest : public test::ProcessTest {};

// A 32-bit word of the mailbox's lock (sync/mutex.hpp lays them out: the futex word at 0, the
// kind word at 4), as a peer with write access to its file sees it.
std::atomic<std::uint32_t>& lock_word(const shm::Segment& segment, std::size_t offset) {
  auto* state =
      reinterpret_cast<msg::MailboxState*>(segment.payload().data() + sizeof(msg::MailboxConfig));
  return *reinterpret_cast<std::atomic<std::uint32_t>*>(reinterpret_cast<std::byte*>(&state->lock) +
                                                        offset);
}

// A lock word naming a thread that does not exist is a holder that died: the lock is taken
// over, the mailbox repaired from its slots, and nothing queued is lost.
// These look at the lock: messages larger than the ready ring's (msg::kRingMaxMessage) make a
// mailbox without one, whose every send and receive takes the lock.
constexpr std::size_t kLockedOnly = msg::kRingMaxMessage * 2;

TEST_F(MailboxCorruptionTest, LockHeldByNoThread_TakenOverAndNothingLost) {
  auto mailbox =
      Mailbox::create("box", {.capacity = Capacity::bounded(2), .max_message_size = kLockedOnly});
  ASSERT_TRUE(mailbox) << mailbox.error().message();
  ASSERT_TRUE(mailbox->try_send(std::string_view("before")));
  auto segment = shm::Segment::open("box", shm::SegmentKind::mailbox);
  ASSERT_TRUE(segment) << segment.error().message();
  const pid_t nobody = missing_thread_id();
  ASSERT_NE(nobody, 0);
  lock_word(*segment, 0) = static_cast<std::uint32_t>(nobody);

  auto opened = Mailbox::open("box");
  ASSERT_TRUE(opened) << opened.error().message();
  auto got = opened->receive_for(std::chrono::seconds(30));
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(got->text(), "before");
  ASSERT_TRUE(mailbox->try_send(std::string_view("after")));
  auto again = opened->try_receive();
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(again->text(), "after");
}

TEST_F(MailboxCorruptionTest, LockKindOverwritten_ReceiveIsCorrupted) {
  auto mailbox =
      Mailbox::create("box", {.capacity = Capacity::bounded(2), .max_message_size = kLockedOnly});
  ASSERT_TRUE(mailbox) << mailbox.error().message();
  ASSERT_TRUE(mailbox->try_send(std::string_view("before")));
  auto segment = shm::Segment::open("box", shm::SegmentKind::mailbox);
  ASSERT_TRUE(segment) << segment.error().message();
  lock_word(*segment, 4) = 0;  // not a mutex's kind
  lock_word(*segment, 0) = 2;  // "held"

  auto got = mailbox->try_receive();
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code(), Errc::corrupted) << got.error().message();
}

// Found by fuzz/segment_fuzz.cpp: a forged slot total made repair try to map a missing
// extension once for each of two billion slots.
TEST_F(MailboxCorruptionTest, ForgedSlotTotalAndRepairDue_OpenAndUseStillWork) {
  auto mailbox = Mailbox::create("box", {.capacity = Capacity::unbounded()});
  ASSERT_TRUE(mailbox) << mailbox.error().message();
  ASSERT_TRUE(mailbox->try_send(std::string_view("kept")));
  auto segment = shm::Segment::open("box", shm::SegmentKind::mailbox);
  ASSERT_TRUE(segment) << segment.error().message();
  auto* state =
      reinterpret_cast<msg::MailboxState*>(segment->payload().data() + sizeof(msg::MailboxConfig));
  // The total 24 extensions would give (none exists), and "its last holder died holding the
  // lock", so the next locker repairs.
  state->slot_total = msg::kUnboundedInitialSlots * ((2u << msg::kMaxExtensions) - 1);
  state->is_held = 1;

  auto opened = Mailbox::open("box");
  ASSERT_TRUE(opened) << opened.error().message();
  auto got = opened->try_receive();
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(got->text(), "kept");
}

// Found by the crash torture (mailbox-unbounded-broadcast under ASan): a broadcast receiver
// killed inside receive, after it cleared its bit of the last-wanted message and before it
// unlinked it, left a queued message nobody wanted; repair kept it, so it sat at the head of
// the queue for ever and counted in depth (a bounded mailbox lost that capacity for good).
TEST_F(MailboxCorruptionTest, BroadcastMessageNobodyWantsAfterARepair_IsFreedNotKept) {
  auto mailbox =
      Mailbox::create("box", {.capacity = Capacity::bounded(2), .receivers = Receivers::broadcast});
  ASSERT_TRUE(mailbox) << mailbox.error().message();
  auto receiver = Mailbox::open("box");  // a broadcast receiver from open on
  ASSERT_TRUE(receiver) << receiver.error().message();
  ASSERT_TRUE(mailbox->try_send(std::string_view("taken by the dead")));
  ASSERT_TRUE(mailbox->try_send(std::string_view("next")));
  ASSERT_EQ(mailbox->stats().depth, 2U);

  auto segment = shm::Segment::open("box", shm::SegmentKind::mailbox);
  ASSERT_TRUE(segment) << segment.error().message();
  std::byte* payload = segment->payload().data();
  const auto* config = reinterpret_cast<const msg::MailboxConfig*>(payload);
  auto* state = reinterpret_cast<msg::MailboxState*>(payload + sizeof(msg::MailboxConfig));
  auto* head = reinterpret_cast<msg::SlotHeader*>(payload + config->slots_offset +
                                                  static_cast<std::size_t>(state->queue_head) *
                                                      config->slot_stride);
  head->pending = 0;   // its last receiver cleared its bit...
  state->is_held = 1;  // ...and died holding the lock, before unlinking it

  auto got = receiver->try_receive();  // repairs first
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(got->text(), "next");
  EXPECT_EQ(mailbox->stats().depth, 0U);
  // Both slots are free again: the mailbox holds two messages, as bounded(2) promises.
  EXPECT_TRUE(mailbox->try_send(std::string_view("one")));
  EXPECT_TRUE(mailbox->try_send(std::string_view("two")));
}

// A grower killed after it recorded an extension (slot_total) and before it counted it
// (extension_count): the next grower took the recorded extension for a leftover and replaced
// its file, while the processes that had mapped it kept reading the old one.
TEST_F(MailboxCorruptionTest, GrowerDiedBeforeCountingItsExtension_NextGrowthKeepsEveryMessage) {
  auto mailbox = Mailbox::create("box", {.capacity = Capacity::unbounded()});
  ASSERT_TRUE(mailbox) << mailbox.error().message();
  auto receiver = Mailbox::open("box");
  ASSERT_TRUE(receiver) << receiver.error().message();
  constexpr int kFirst = static_cast<int>(msg::kUnboundedInitialSlots) + 10;  // one extension
  for (int i = 0; i < kFirst; ++i)
    ASSERT_TRUE(mailbox->try_send(std::string_view(fmt::format("m{}", i))));
  auto segment = shm::Segment::open("box", shm::SegmentKind::mailbox);
  ASSERT_TRUE(segment) << segment.error().message();
  auto* state =
      reinterpret_cast<msg::MailboxState*>(segment->payload().data() + sizeof(msg::MailboxConfig));
  ASSERT_EQ(state->extension_count, 1U);
  state->extension_count = 0;  // the count the dead grower did not store
  // The receiver maps the first extension now, then the sender grows again.
  for (int i = 0; i < kFirst; ++i) {
    auto got = receiver->try_receive();
    ASSERT_TRUE(got) << got.error().message();
    ASSERT_EQ(got->text(), fmt::format("m{}", i));
  }
  constexpr int kSecond = 4 * static_cast<int>(msg::kUnboundedInitialSlots);  // grows again
  for (int i = 0; i < kSecond; ++i)
    ASSERT_TRUE(mailbox->try_send(std::string_view(fmt::format("n{}", i))));
  for (int i = 0; i < kSecond; ++i) {
    auto got = receiver->try_receive();
    ASSERT_TRUE(got) << "n" << i << ": " << got.error().message();
    ASSERT_EQ(got->text(), fmt::format("n{}", i));
  }
  EXPECT_EQ(receiver->try_receive().error().code(), Errc::would_block);
}

}  // namespace
}  // namespace conduit
