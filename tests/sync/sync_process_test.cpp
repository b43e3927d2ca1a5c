#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

#include "conduit/shm/shared.hpp"
#include "conduit/sync/barrier.hpp"
#include "conduit/sync/event.hpp"
#include "conduit/sync/mutex.hpp"
#include "conduit/sync/semaphore.hpp"
#include "conduit/sync/spin_lock.hpp"
#include "process.hpp"

namespace conduit {
namespace {

using test::Child;
using namespace std::chrono_literals;

class SyncTest : public test::ProcessTest {};

struct Guarded {
  Mutex mutex;
  std::uint64_t counter = 0;  // deliberately not atomic: the lock is what protects it
  std::atomic<int> holding{0};
};

TEST_F(SyncTest, RobustMutexHolderKilledNextLockGetsOwnerDiedThenRecovers) {
  auto shared = Shared<Guarded>::create("guarded");
  ASSERT_TRUE(shared) << shared.error().message();
  Child holder([]() -> int {
    auto mine = Shared<Guarded>::open("guarded");
    CHILD_CHECK(mine.has_value());
    CHILD_CHECK((*mine)->mutex.lock().has_value());
    (*mine)->counter = 41;  // a half-done update
    (*mine)->holding = 1;
    for (;;) ::pause();
  });
  while ((*shared)->holding == 0) ::usleep(1000);
  holder.kill(SIGKILL);
  auto locked = (*shared)->mutex.lock();
  ASSERT_FALSE(locked);
  EXPECT_EQ(locked.error().code(), Errc::owner_died) << locked.error().message();
  // We hold it now: repair, mark consistent, and it works as before.
  (*shared)->counter = 42;
  (*shared)->mutex.make_consistent();
  (*shared)->mutex.unlock();
  ASSERT_TRUE((*shared)->mutex.lock());
  EXPECT_EQ((*shared)->counter, 42u);
  (*shared)->mutex.unlock();
}

TEST_F(SyncTest, MutexLeftInconsistentReportsAnErrorNotAHang) {
  auto shared = Shared<Guarded>::create("guarded");
  ASSERT_TRUE(shared);
  auto exit = test::run_in_child([]() -> int {
    auto mine = Shared<Guarded>::open("guarded");
    CHILD_CHECK(mine && (*mine)->mutex.lock());
    ::_exit(0);  // dies holding it
  });
  ASSERT_TRUE(exit.ok());
  ASSERT_EQ((*shared)->mutex.lock().error().code(), Errc::owner_died);
  (*shared)->mutex.unlock();  // without make_consistent()
  auto again = (*shared)->mutex.lock_for(1s);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), Errc::closed) << again.error().message();
}

TEST_F(SyncTest, MutexLockForTimesOut) {
  auto shared = Shared<Guarded>::create("guarded");
  ASSERT_TRUE(shared);
  ASSERT_TRUE((*shared)->mutex.lock());
  auto exit = test::run_in_child([] {
    auto mine = Shared<Guarded>::open("guarded");
    CHILD_CHECK(mine.has_value());
    CHILD_CHECK(!(*mine)->mutex.try_lock());
    auto locked = (*mine)->mutex.lock_for(50ms);
    CHILD_CHECK(!locked && locked.error().code() == Errc::timed_out);
    return 0;
  });
  EXPECT_TRUE(exit.ok()) << exit.describe();
  (*shared)->mutex.unlock();
}

/// Four processes each add 1 to T::counter 100,000 times, each time through `round(T&, process,
/// i)`, which takes the guard, counts, and gives it back (false: it failed). The total says
/// whether the guard kept them apart; `after(T&)` looks at the rest.
template <class T, class Round, class After = void (*)(T&)>
void count_in_four_processes(const char* name, Round round, After after = [](T&) {}) {
  constexpr int kProcesses = 4;
  constexpr int kRounds = 100000;
  auto shared = Shared<T>::create(name);
  ASSERT_TRUE(shared);
  std::vector<Child> workers;
  for (int p = 0; p < kProcesses; ++p) {
    workers.emplace_back([name, p, round] {
      auto mine = Shared<T>::open(name);
      CHILD_CHECK(mine.has_value());
      for (int i = 0; i < kRounds; ++i) CHILD_CHECK(round(**mine, p, i));
      return 0;
    });
  }
  for (auto& worker : workers) EXPECT_TRUE(worker.wait(120s).ok());
  EXPECT_EQ((*shared)->counter, std::uint64_t{kProcesses} * kRounds);
  after(**shared);
}

TEST_F(SyncTest, MutexGuardsACounterAcrossFourProcesses) {
  count_in_four_processes<Guarded>("guarded", [](Guarded& guarded, int p, int i) {
    // Every form of taking it, so that sleepers and spinners mix.
    if (i % 3 == 0 && guarded.mutex.try_lock()) {
    } else if (p % 2 == 0) {
      if (!guarded.mutex.lock()) return false;
    } else {
      if (!guarded.mutex.lock_for(60s)) return false;
    }
    const bool is_alone = guarded.holding.fetch_add(1) == 0;
    ++guarded.counter;
    guarded.holding.fetch_sub(1);
    guarded.mutex.unlock();
    return is_alone;
  });
}

TEST_F(SyncTest, MutexHolderKilledWhileThreeWaitersSleep_OneGetsOwnerDiedNoneHangs) {
  auto shared = Shared<Guarded>::create("guarded");
  ASSERT_TRUE(shared);
  Child holder([]() -> int {
    auto mine = Shared<Guarded>::open("guarded");
    CHILD_CHECK(mine && (*mine)->mutex.lock());
    (*mine)->holding = 1;
    for (;;) ::pause();
  });
  while ((*shared)->holding == 0) ::usleep(1000);
  std::vector<Child> waiters;
  for (int w = 0; w < 3; ++w) {
    waiters.emplace_back([]() -> int {
      auto mine = Shared<Guarded>::open("guarded");
      CHILD_CHECK(mine.has_value());
      auto locked = (*mine)->mutex.lock();
      const bool is_repairer = !locked;
      CHILD_CHECK(locked || locked.error().code() == Errc::owner_died);
      if (is_repairer) (*mine)->mutex.make_consistent();
      ++(*mine)->counter;
      (*mine)->mutex.unlock();
      return is_repairer ? 7 : 0;
    });
  }
  ::usleep(50000);  // let them fall asleep behind the holder
  holder.kill(SIGKILL);
  int repairers = 0;
  for (auto& waiter : waiters) {
    auto exit = waiter.wait(60s);
    ASSERT_TRUE(!exit.timed_out && exit.signal == 0) << exit.describe();
    EXPECT_TRUE(exit.code == 0 || exit.code == 7) << exit.describe();
    repairers += exit.code == 7 ? 1 : 0;
  }
  EXPECT_EQ(repairers, 1);
  ASSERT_TRUE((*shared)->mutex.lock());
  EXPECT_EQ((*shared)->counter, 3u);
  (*shared)->mutex.unlock();
}

TEST(Mutex, HolderThreadExitsHoldingIt_NextLockGetsOwnerDied) {
  Guarded guarded;
  std::thread([&] { ASSERT_TRUE(guarded.mutex.lock()); }).join();  // ends holding it
  auto locked = guarded.mutex.lock();
  ASSERT_FALSE(locked);
  EXPECT_EQ(locked.error().code(), Errc::owner_died) << locked.error().message();
  guarded.mutex.make_consistent();
  guarded.mutex.unlock();
  EXPECT_TRUE(guarded.mutex.try_lock());
  guarded.mutex.unlock();
}

struct Counted {
  Semaphore semaphore{1, 1};
  std::uint64_t counter = 0;
};

TEST_F(SyncTest, SemaphoreGuardsACounterAcrossFourProcesses) {
  count_in_four_processes<Counted>(
      "counted",
      [](Counted& counted, int, int) {
        if (!counted.semaphore.acquire()) return false;
        ++counted.counter;
        counted.semaphore.release();
        return true;
      },
      [](Counted& counted) { EXPECT_EQ(counted.semaphore.value(), 1u); });
}

TEST(Semaphore, CountsAndClampsAtMax) {
  Semaphore binary(0, 1);
  EXPECT_FALSE(binary.try_acquire());
  binary.release();
  binary.release();  // clamped: still 1
  EXPECT_EQ(binary.value(), 1u);
  EXPECT_TRUE(binary.try_acquire());
  EXPECT_FALSE(binary.try_acquire());
  Semaphore counting(2);
  EXPECT_TRUE(counting.try_acquire());
  EXPECT_TRUE(counting.try_acquire());
  EXPECT_FALSE(counting.try_acquire());
  counting.release(3);
  EXPECT_EQ(counting.value(), 3u);
  auto timed = binary.acquire_for(20ms);
  ASSERT_FALSE(timed);
  EXPECT_EQ(timed.error().code(), Errc::timed_out);
}

struct Phases {
  static constexpr int kParties = 3;
  static constexpr int kPhases = 10000;
  Barrier barrier{kParties};
  std::atomic<std::uint32_t> arrivals[kPhases];
  std::atomic<std::uint32_t> winners[kPhases];
  std::atomic<std::uint32_t> early{0};
};

int run_phases(Phases& phases) {
  for (int phase = 0; phase < Phases::kPhases; ++phase) {
    phases.arrivals[phase].fetch_add(1);
    auto result = phases.barrier.arrive_and_wait();
    if (!result) return 2;
    // Nobody passes early: everyone of this phase arrived before anyone left.
    if (phases.arrivals[phase].load() != Phases::kParties) phases.early.fetch_add(1);
    if (*result) phases.winners[phase].fetch_add(1);
  }
  return 0;
}

TEST_F(SyncTest, BarrierThreeProcessesTenThousandPhases) {
  auto shared = Shared<Phases>::create("phases");
  ASSERT_TRUE(shared);
  std::vector<Child> parties;
  for (int p = 0; p < Phases::kParties; ++p) {
    parties.emplace_back([] {
      auto mine = Shared<Phases>::open("phases");
      CHILD_CHECK(mine.has_value());
      return run_phases(**mine);
    });
  }
  for (auto& party : parties) EXPECT_TRUE(party.wait(120s).ok());
  EXPECT_EQ((*shared)->early.load(), 0u);
  for (int phase = 0; phase < Phases::kPhases; ++phase)
    ASSERT_EQ((*shared)->winners[phase].load(), 1u) << "phase " << phase;
}

TEST(Barrier, ThreadsTooForTsan) {
  auto phases = std::make_unique<Phases>();
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int p = 0; p < Phases::kParties; ++p)
    threads.emplace_back([&] { failures += run_phases(*phases) != 0; });
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(phases->early.load(), 0u);
  for (int phase = 0; phase < Phases::kPhases; ++phase)
    ASSERT_EQ(phases->winners[phase].load(), 1u);
}

TEST(Semaphore, ThreadsGuardACounterForTsan) {
  Counted counted;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        ASSERT_TRUE(counted.semaphore.acquire());
        ++counted.counter;
        counted.semaphore.release();
      }
    });
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(counted.counter, 80000u);
}

TEST(Mutex, ThreadsGuardACounterForTsan) {
  Guarded guarded;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        ASSERT_TRUE(guarded.mutex.lock());
        ++guarded.counter;
        guarded.mutex.unlock();
      }
    });
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(guarded.counter, 80000u);
}

struct Spun {
  SpinLock lock;
  std::uint64_t counter = 0;
};

TEST_F(SyncTest, SpinLockAcrossProcesses) {
  auto shared = Shared<Spun>::create("spun");
  ASSERT_TRUE(shared);
  std::vector<Child> workers;
  for (int p = 0; p < 2; ++p) {
    workers.emplace_back([] {
      auto mine = Shared<Spun>::open("spun");
      CHILD_CHECK(mine.has_value());
      for (int i = 0; i < 100000; ++i) {
        (*mine)->lock.lock();
        ++(*mine)->counter;
        (*mine)->lock.unlock();
      }
      return 0;
    });
  }
  for (auto& worker : workers) EXPECT_TRUE(worker.wait(120s).ok());
  EXPECT_EQ((*shared)->counter, 200000u);
  EXPECT_TRUE((*shared)->lock.try_lock());
  EXPECT_FALSE((*shared)->lock.try_lock());
}

struct Signals {
  Event ready;
  Event go;
};

TEST_F(SyncTest, EventAcrossProcessesAndTimeout) {
  auto shared = Shared<Signals>::create("signals");
  ASSERT_TRUE(shared);
  auto timed = (*shared)->go.wait_for(20ms);
  ASSERT_FALSE(timed);
  EXPECT_EQ(timed.error().code(), Errc::timed_out);
  Child waiter([] {
    auto mine = Shared<Signals>::open("signals");
    CHILD_CHECK(mine.has_value());
    (*mine)->ready.set();
    CHILD_CHECK((*mine)->go.wait().has_value());
    CHILD_CHECK((*mine)->go.wait_for(0ns).has_value());  // manual reset: still set
    return 0;
  });
  ASSERT_TRUE((*shared)->ready.wait_for(30s));
  ::usleep(20000);  // the waiter is most likely asleep on the futex by now
  (*shared)->go.set();
  EXPECT_TRUE(waiter.wait().ok());
  (*shared)->go.reset();
  EXPECT_FALSE((*shared)->go.is_set());
}

TEST_F(SyncTest, ProcessDyingWhileWaitingDoesNotBreakTheSemaphore) {
  auto shared = Shared<Counted>::create("counted");
  ASSERT_TRUE(shared);
  ASSERT_TRUE((*shared)->semaphore.try_acquire());  // now 0: the child will sleep
  Child sleeper([]() -> int {
    auto mine = Shared<Counted>::open("counted");
    CHILD_CHECK(mine.has_value());
    (void)(*mine)->semaphore.acquire();
    return 0;
  });
  ::usleep(50000);
  sleeper.kill(SIGKILL);
  (*shared)->semaphore.release();
  EXPECT_TRUE((*shared)->semaphore.try_acquire()) << "the dead waiter took nothing";
  Child taker([] {
    auto mine = Shared<Counted>::open("counted");
    CHILD_CHECK(mine.has_value());
    CHILD_CHECK((*mine)->semaphore.acquire_for(10s).has_value());
    return 0;
  });
  ::usleep(20000);
  (*shared)->semaphore.release();
  auto exit = taker.wait();
  EXPECT_TRUE(exit.ok()) << exit.describe();
}

}  // namespace
}  // namespace conduit
