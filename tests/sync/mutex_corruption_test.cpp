// A Mutex whose memory a peer overwrote: no waiter may wait forever for a holder that is not
// there. (Found by fuzz/segment_fuzz.cpp: a mailbox whose lock bytes were garbage hung open.)
#include <pthread.h>
#include <signal.h>

#include <cerrno>
#include <fstream>
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

pthread_mutex_t& raw(Mutex& mutex) { return *reinterpret_cast<pthread_mutex_t*>(&mutex); }

TEST_F(MutexCorruptionTest, LockWordNamingNoThread_LockIsCorruptedNotAHang) {
  Mutex mutex;
  const pid_t nobody = missing_thread_id();
  ASSERT_NE(nobody, 0);
  raw(mutex).__data.__lock = nobody;  // "held" by a thread that does not exist
  auto locked = mutex.lock();
  ASSERT_FALSE(locked);
  EXPECT_EQ(locked.error().code(), Errc::corrupted) << locked.error().message();
  EXPECT_NE(locked.error().message().find(std::to_string(nobody)), std::string::npos)
      << locked.error().message();
}

TEST_F(MutexCorruptionTest, LockWordNamingNoThread_LockForIsCorruptedNotTimedOut) {
  Mutex mutex;
  const pid_t nobody = missing_thread_id();
  ASSERT_NE(nobody, 0);
  raw(mutex).__data.__lock = nobody;
  auto locked = mutex.lock_for(60s);
  ASSERT_FALSE(locked);
  EXPECT_EQ(locked.error().code(), Errc::corrupted) << locked.error().message();
}

TEST_F(MutexCorruptionTest, TypeWordNotRobust_EveryLockRefuses) {
  Mutex mutex;
  raw(mutex).__data.__kind = PTHREAD_MUTEX_NORMAL;  // a plain mutex: no robust-futex protocol
  raw(mutex).__data.__lock = 2;                     // "held, with waiters"
  EXPECT_FALSE(mutex.try_lock());
  auto locked = mutex.lock();
  ASSERT_FALSE(locked);
  EXPECT_EQ(locked.error().code(), Errc::corrupted) << locked.error().message();
  auto timed = mutex.lock_for(1s);
  ASSERT_FALSE(timed);
  EXPECT_EQ(timed.error().code(), Errc::corrupted) << timed.error().message();
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
