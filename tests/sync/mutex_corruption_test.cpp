// A Mutex whose memory a peer overwrote: no waiter may wait forever for a holder that is not
// there, and no call may do more than fail. (Found by fuzz/segment_fuzz.cpp: a mailbox whose
// lock bytes were garbage hung open.)
#include <atomic>
#include <cstddef>
#include <thread>

#include <gtest/gtest.h>

#include "conduit/sync/event.hpp"
#include "conduit/sync/mutex.hpp"
#include "process.hpp"

namespace conduit {
namespace {

using test::missing_thread_id;

using namespace std::chrono_literals;

// The fixture's watchdog turns a regression (a hang) into a failure.
class MutexCorruptionTest : public test::ProcessTest {};

// The mutex's words as mutex.hpp lays them out (a peer sees just these bytes).
std::atomic<std::uint32_t>& word_at(Mutex& mutex, std::size_t offset) {
  return *reinterpret_cast<std::atomic<std::uint32_t>*>(reinterpret_cast<std::byte*>(&mutex) +
                                                        offset);
}
std::atomic<std::uint32_t>& futex_word(Mutex& mutex) { return word_at(mutex, 0); }
std::atomic<std::uint32_t>& kind_word(Mutex& mutex) { return word_at(mutex, 4); }
std::atomic<std::uint32_t>& state_word(Mutex& mutex) { return word_at(mutex, 8); }

// A made-up holder is a dead holder: the lock is taken over (owner_died), then works again.
void expect_taken_over(Mutex& mutex, Result<void> locked) {
  ASSERT_FALSE(locked);
  ASSERT_EQ(locked.error().code(), Errc::owner_died) << locked.error().message();
  mutex.make_consistent();
  mutex.unlock();
  ASSERT_TRUE(mutex.lock());
  mutex.unlock();
  EXPECT_EQ(futex_word(mutex).load(), 0U);
}

TEST_F(MutexCorruptionTest, LockWordNamingNoThread_LockTakesItOverNotAHang) {
  Mutex mutex;
  const pid_t nobody = missing_thread_id();
  ASSERT_NE(nobody, 0);
  futex_word(mutex) = static_cast<std::uint32_t>(nobody);  // "held" by a thread that is not
  EXPECT_FALSE(mutex.try_lock());                          // try_lock does not look at /proc
  expect_taken_over(mutex, mutex.lock());
}

TEST_F(MutexCorruptionTest, LockWordNamingNoThreadWithWaiters_LockForTakesItOverNotTimedOut) {
  Mutex mutex;
  const pid_t nobody = missing_thread_id();
  ASSERT_NE(nobody, 0);
  futex_word(mutex) = static_cast<std::uint32_t>(nobody) | 0x8000'0000U;
  expect_taken_over(mutex, mutex.lock_for(60s));
}

TEST_F(MutexCorruptionTest, KindWordOverwritten_EveryLockRefuses) {
  Mutex mutex;
  kind_word(mutex) = 0x1234;
  futex_word(mutex) = 2;  // "held"
  EXPECT_FALSE(mutex.try_lock());
  auto locked = mutex.lock();
  ASSERT_FALSE(locked);
  EXPECT_EQ(locked.error().code(), Errc::corrupted) << locked.error().message();
  auto timed = mutex.lock_for(1s);
  ASSERT_FALSE(timed);
  EXPECT_EQ(timed.error().code(), Errc::corrupted) << timed.error().message();
}

TEST_F(MutexCorruptionTest, StateWordOverwritten_LockIsCorruptedAndNotLeftHeld) {
  Mutex mutex;
  state_word(mutex) = 77;
  EXPECT_FALSE(mutex.try_lock());
  auto locked = mutex.lock();
  ASSERT_FALSE(locked);
  EXPECT_EQ(locked.error().code(), Errc::corrupted) << locked.error().message();
  EXPECT_NE(locked.error().message().find("77"), std::string::npos) << locked.error().message();
  EXPECT_EQ(futex_word(mutex).load(), 0U);  // refused, and given back
}

TEST_F(MutexCorruptionTest, LiveHolder_LockForTimesOutAndIsNotCalledCorrupted) {
  Mutex mutex;
  Event held, done;
  std::thread holder([&] {
    ASSERT_TRUE(mutex.lock());
    held.set();
    ASSERT_TRUE(done.wait());
    mutex.unlock();
  });
  ASSERT_TRUE(held.wait());
  // Long enough for a few holder checks: the live holder must pass every one.
  auto locked = mutex.lock_for(350ms);
  ASSERT_FALSE(locked);
  EXPECT_EQ(locked.error().code(), Errc::timed_out) << locked.error().message();
  done.set();
  holder.join();
  ASSERT_TRUE(mutex.lock());
  mutex.unlock();
}

}  // namespace
}  // namespace conduit
