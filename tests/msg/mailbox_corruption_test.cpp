// A mailbox whose shared bytes a peer overwrote fails with `corrupted`; it never hangs the
// process that opens or uses it. (Found by fuzz/segment_fuzz.cpp: garbage in the mailbox's lock
// made Mailbox::open wait forever for a holder that did not exist.)
#include <pthread.h>
#include <signal.h>

#include <cerrno>
#include <fstream>

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

// The mailbox's lock, as a peer with write access to its file sees it.
pthread_mutex_t& lock_of(const shm::Segment& segment) {
  auto* state =
      reinterpret_cast<msg::MailboxState*>(segment.payload().data() + sizeof(msg::MailboxConfig));
  return *reinterpret_cast<pthread_mutex_t*>(&state->lock);
}

TEST_F(MailboxCorruptionTest, LockHeldByNoThread_OpenIsCorrupted) {
  auto mailbox = Mailbox::create("box", {.capacity = Capacity::bounded(2)});
  ASSERT_TRUE(mailbox) << mailbox.error().message();
  auto segment = shm::Segment::open("box", shm::SegmentKind::mailbox);
  ASSERT_TRUE(segment) << segment.error().message();
  const pid_t nobody = missing_thread_id();
  ASSERT_NE(nobody, 0);
  lock_of(*segment).__data.__lock = nobody;

  auto opened = Mailbox::open("box");
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code(), Errc::corrupted) << opened.error().message();
  // The handle made before the damage sees it too, on its next locked operation.
  auto sent = mailbox->try_send(std::string_view("x"));
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().code(), Errc::corrupted) << sent.error().message();
}

TEST_F(MailboxCorruptionTest, LockNotRobust_ReceiveIsCorrupted) {
  auto mailbox = Mailbox::create("box", {.capacity = Capacity::bounded(2)});
  ASSERT_TRUE(mailbox) << mailbox.error().message();
  ASSERT_TRUE(mailbox->try_send(std::string_view("before")));
  auto segment = shm::Segment::open("box", shm::SegmentKind::mailbox);
  ASSERT_TRUE(segment) << segment.error().message();
  lock_of(*segment).__data.__kind = PTHREAD_MUTEX_NORMAL;
  lock_of(*segment).__data.__lock = 2;

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

}  // namespace
}  // namespace conduit
