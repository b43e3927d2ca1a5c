// The wait strategy's second protocol (sync/wait.hpp): data published with a plain store and
// notify_sleepers(), waited for with wait_slice(is_ready, ...). A lost wake-up here is a hang
// (the waits have no deadline and a slice of an hour), which the watchdog turns into a failure.
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "conduit/sync/wait.hpp"
#include "conduit/sys/membarrier.hpp"
#include "process.hpp"

namespace conduit {
namespace {

using namespace std::chrono_literals;

class WaitTest : public test::ProcessTest {};

/// Two counters, each written by one side with a plain release store, and a wait word each.
struct PingPong {
  alignas(64) std::atomic<std::uint64_t> ping{0};
  alignas(64) std::atomic<std::uint64_t> pong{0};
  alignas(64) sync::WaitWord ping_word;
  alignas(64) sync::WaitWord pong_word;
};

/// Waits (no deadline; slices of an hour: no liveness poll rescues a lost wake-up) until
/// `counter` reaches `value`; marking each sleep with a bump when `mark` says so.
void await(std::atomic<std::uint64_t>& counter, sync::WaitWord& word, std::uint64_t value,
           sync::WakeFencing fencing, sync::SleepMark mark = sync::SleepMark::none) {
  // Acquire: pairs with the release store of the other side.
  const auto is_ready = [&] { return counter.load(std::memory_order_acquire) >= value; };
  while (!is_ready())
    (void)sync::wait_slice(is_ready, word, std::nullopt, std::chrono::hours(1), fencing, nullptr,
                           mark);
}

/// The waker's side after publishing: notify_sleepers(), or, for sleepers that mark their
/// sleeps, a look at the flag and wake_all_once() (`woken_at`: this waker's own).
void wake(sync::WaitWord& word, sync::WakeFencing fencing, sync::SleepMark mark,
          std::uint32_t& woken_at) {
  if (mark == sync::SleepMark::none) return word.notify_sleepers(fencing);
  if (sync::WaitWord::has_sleepers(word.sleepers, fencing)) word.wake_all_once(woken_at);
}

/// `exchanges` round trips between two processes, each side waiting with `spin` rounds and
/// fencing as `fencing` says (asymmetric: both processes registered for membarrier).
test::Exit ping_pong(std::uint64_t exchanges, std::uint32_t spin,
                     sync::WakeFencing fencing = sync::WakeFencing::symmetric,
                     sync::SleepMark mark = sync::SleepMark::none) {
  void* memory =
      ::mmap(nullptr, sizeof(PingPong), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) return {};
  auto* shared = new (memory) PingPong;
  sync::set_spin_rounds(spin);
  const bool is_asymmetric = fencing == sync::WakeFencing::asymmetric;
  if (is_asymmetric && !sys::register_for_global_membarrier()) return {};
  test::Child server([&] {
    CHILD_CHECK(!is_asymmetric || sys::register_for_global_membarrier());
    std::uint32_t woken_at = 0;
    for (std::uint64_t i = 1; i <= exchanges; ++i) {
      await(shared->ping, shared->ping_word, i, fencing, mark);
      shared->pong.store(i, std::memory_order_release);
      wake(shared->pong_word, fencing, mark, woken_at);
    }
    return 0;
  });
  std::uint32_t woken_at = 0;
  for (std::uint64_t i = 1; i <= exchanges; ++i) {
    shared->ping.store(i, std::memory_order_release);
    wake(shared->ping_word, fencing, mark, woken_at);
    await(shared->pong, shared->pong_word, i, fencing, mark);
  }
  auto exit = server.wait(120s);
  sync::set_spin_rounds(sync::kSpinRounds);
  ::munmap(memory, sizeof(PingPong));
  return exit;
}

TEST_F(WaitTest, SleepersArePublishedToWithAPlainStoreAndNeverMissAWakeUp) {
  // Spin 0: every wait that finds nothing flags itself and sleeps, so each exchange runs the
  // sleeping side of the protocol against a waker that may be just publishing.
  const auto exit = ping_pong(20'000, 0);
  EXPECT_TRUE(exit.ok()) << exit.describe();
}

TEST_F(WaitTest, SpinningThenSleepingNeverMissesAWakeUp) {
  // A short spin: waits end in the spin, or just after it, racing the waker's flag check.
  const auto exit = ping_pong(20'000, 4);
  EXPECT_TRUE(exit.ok()) << exit.describe();
}

/// `exchanges` round trips in which only the child sleeps: the parent busy-polls for the
/// answer, then publishes the next request after a random handful of `pause`s, so that its
/// publish and its look at the sleeper flag land at every moment of the child's going to
/// sleep (flag, fence, last look). Where wakers and sleepers do not order that race, a
/// wake-up is lost and the child sleeps for an hour: the watchdog fails the test.
test::Exit ping_pong_with_a_busy_poller(std::uint64_t exchanges, sync::WakeFencing fencing,
                                        sync::SleepMark mark = sync::SleepMark::none) {
  void* memory =
      ::mmap(nullptr, sizeof(PingPong), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) return {};
  auto* shared = new (memory) PingPong;
  const bool is_asymmetric = fencing == sync::WakeFencing::asymmetric;
  if (is_asymmetric && !sys::register_for_global_membarrier()) return {};
  test::Child server([&] {
    CHILD_CHECK(!is_asymmetric || sys::register_for_global_membarrier());
    sync::set_spin_rounds(0);
    for (std::uint64_t i = 1; i <= exchanges; ++i) {
      await(shared->ping, shared->ping_word, i, fencing, mark);
      shared->pong.store(i, std::memory_order_release);
      shared->pong_word.notify_sleepers(fencing);
    }
    return 0;
  });
  std::minstd_rand random(std::random_device{}());
  std::uint32_t woken_at = 0;
  for (std::uint64_t i = 1; i <= exchanges; ++i) {
    const auto pauses = random() % 64;
    for (std::uint32_t k = 0; k < pauses; ++k) sync::relax();
    shared->ping.store(i, std::memory_order_release);
    wake(shared->ping_word, fencing, mark, woken_at);
    // Acquire: pairs with the child's release store.
    while (shared->pong.load(std::memory_order_acquire) < i) sync::relax();
  }
  auto exit = server.wait(120s);
  ::munmap(memory, sizeof(PingPong));
  return exit;
}

TEST_F(WaitTest, ABusyWakerRacingASleeperNeverLosesAWakeUp) {
  const auto exit = ping_pong_with_a_busy_poller(200'000, sync::WakeFencing::symmetric);
  EXPECT_TRUE(exit.ok()) << exit.describe();
}

// The asymmetric form: the wakers take only a compiler barrier, each sleeper a membarrier.
TEST_F(WaitTest, AsymmetricFencing_SleepersNeverMissAWakeUp) {
  if (!sys::has_global_membarrier()) GTEST_SKIP() << "no MEMBARRIER_CMD_GLOBAL_EXPEDITED here";
  const auto exit = ping_pong(20'000, 0, sync::WakeFencing::asymmetric);
  EXPECT_TRUE(exit.ok()) << exit.describe();
}

TEST_F(WaitTest, AsymmetricFencing_SpinningThenSleepingNeverMissesAWakeUp) {
  if (!sys::has_global_membarrier()) GTEST_SKIP() << "no MEMBARRIER_CMD_GLOBAL_EXPEDITED here";
  const auto exit = ping_pong(20'000, 4, sync::WakeFencing::asymmetric);
  EXPECT_TRUE(exit.ok()) << exit.describe();
}

TEST_F(WaitTest, AsymmetricFencing_ABusyWakerRacingASleeperNeverLosesAWakeUp) {
  if (!sys::has_global_membarrier()) GTEST_SKIP() << "no MEMBARRIER_CMD_GLOBAL_EXPEDITED here";
  const auto exit = ping_pong_with_a_busy_poller(200'000, sync::WakeFencing::asymmetric);
  EXPECT_TRUE(exit.ok()) << exit.describe();
}

// Marked sleeps (SleepMark::bump) and wakers that wake each sleep once (wake_all_once): the
// same races, with wakers that skip the wake when the word has not moved since their last.
TEST_F(WaitTest, MarkedSleeps_WakingOncePerSleepNeverMissesAWakeUp) {
  const auto exit = ping_pong(20'000, 0, sync::WakeFencing::symmetric, sync::SleepMark::bump);
  EXPECT_TRUE(exit.ok()) << exit.describe();
}

TEST_F(WaitTest, MarkedSleeps_ABusyWakerRacingASleeperNeverLosesAWakeUp) {
  const auto exit =
      ping_pong_with_a_busy_poller(200'000, sync::WakeFencing::symmetric, sync::SleepMark::bump);
  EXPECT_TRUE(exit.ok()) << exit.describe();
}

TEST_F(WaitTest, MarkedSleeps_AsymmetricFencing_NeverMissAWakeUp) {
  if (!sys::has_global_membarrier()) GTEST_SKIP() << "no MEMBARRIER_CMD_GLOBAL_EXPEDITED here";
  const auto exit = ping_pong(20'000, 0, sync::WakeFencing::asymmetric, sync::SleepMark::bump);
  EXPECT_TRUE(exit.ok()) << exit.describe();
}

TEST_F(WaitTest, MarkedSleeps_AsymmetricFencing_ABusyWakerRacingASleeperNeverLosesAWakeUp) {
  if (!sys::has_global_membarrier()) GTEST_SKIP() << "no MEMBARRIER_CMD_GLOBAL_EXPEDITED here";
  const auto exit =
      ping_pong_with_a_busy_poller(200'000, sync::WakeFencing::asymmetric, sync::SleepMark::bump);
  EXPECT_TRUE(exit.ok()) << exit.describe();
}

TEST(WaitWord, WakeAllOnceWakesEachMarkedSleepOnce) {
  // A sleeper that stays flagged (as through its membarrier) is woken by the first wake only;
  // a new sleep (a new mark) is woken again.
  sync::WaitWord word;
  std::uint32_t woken_at = 0;
  word.word.fetch_add(1);  // a marking sleeper's bump
  word.flag_sleeper();     // ... and its flag, left up
  const std::uint32_t marked = word.value();
  word.wake_all_once(woken_at);
  EXPECT_EQ(word.value(), marked + 1) << "the first wake bumps";
  word.wake_all_once(woken_at);
  word.wake_all_once(woken_at);
  EXPECT_EQ(word.value(), marked + 1) << "the same sleep is not woken again";
  word.unflag_sleeper();
  word.word.fetch_add(1);  // the next sleep's mark
  word.flag_sleeper();
  word.wake_all_once(woken_at);
  EXPECT_EQ(word.value(), marked + 3) << "a new sleep is woken";
  word.unflag_sleeper();
}

TEST(WaitWord, AMarkedSleepBumpsTheWordBeforeSleeping) {
  sync::WaitWord word;
  sync::set_spin_rounds(0);
  const std::uint32_t before = word.value();
  EXPECT_EQ(sync::wait_slice([] { return false; }, word, std::nullopt, 1ms,
                             sync::WakeFencing::symmetric, nullptr, sync::SleepMark::bump),
            sync::SliceEnd::slice_over);
  EXPECT_EQ(word.value(), before + 1);
  EXPECT_EQ(word.sleepers.load(), 0u) << "the flag is down again";
  EXPECT_EQ(sync::wait_slice([] { return false; }, word, std::nullopt, 1ms),
            sync::SliceEnd::slice_over);
  EXPECT_EQ(word.value(), before + 1) << "an unmarked sleep leaves the word alone";
  sync::set_spin_rounds(sync::kSpinRounds);
}

TEST(WaitWord, NotifySleepersWithNobodyAsleepLeavesTheWordAlone) {
  // The fast path of a waker: no sleeper flagged, no bump (nothing written, no system call).
  sync::WaitWord word;
  const std::uint32_t before = word.value();
  word.notify_sleepers();
  EXPECT_EQ(word.value(), before);
  word.flag_sleeper();
  word.notify_sleepers();  // a flagged sleeper: the word moves (and FUTEX_WAKE wakes nobody)
  word.unflag_sleeper();
  EXPECT_NE(word.value(), before);
}

TEST(WaitWord, WaitSliceReturnsAtOnceWhenReadyAndTimesOutWhenNot) {
  sync::WaitWord word;
  EXPECT_EQ(sync::wait_slice([] { return true; }, word, std::nullopt, 1h), sync::SliceEnd::moved);
  const auto past = sys::now() - 1ms;
  EXPECT_EQ(sync::wait_slice([] { return false; }, word, past, 1h),
            sync::SliceEnd::deadline_passed);
  EXPECT_EQ(sync::wait_slice([] { return false; }, word, std::nullopt, 1ms),
            sync::SliceEnd::slice_over);
  EXPECT_EQ(word.sleepers.load(), 0u) << "the flag comes down again";
}

// ---- the spin setting of a fresh process ----
// The setting is read from the environment by its first user, so each case runs in a process
// of its own: this test binary again (/proc/self/exe), running only SpinRoundsOfThisProcess,
// which exits with kAsExpected or kNotAsExpected instead of reporting (so that a filter that
// matched nothing cannot pass).
constexpr const char* kExpectVariable = "CONDUIT_TEST_EXPECT_SPIN_ROUNDS";
constexpr const char* kSetFirstVariable = "CONDUIT_TEST_SET_SPIN_ROUNDS_FIRST";
constexpr int kAsExpected = 42;
constexpr int kNotAsExpected = 43;

/// Runs SpinRoundsOfThisProcess in a fresh process with CONDUIT_SPIN_ROUNDS = `value` (unset
/// when none); `set_first`: that process calls set_spin_rounds(*set_first) before any use.
test::Exit spin_rounds_in_fresh_process(std::optional<std::string> value, std::uint32_t expected,
                                        std::optional<std::uint32_t> set_first = std::nullopt) {
  return test::run_in_child([&] {
    if (value) {
      ::setenv("CONDUIT_SPIN_ROUNDS", value->c_str(), 1);
    } else {
      ::unsetenv("CONDUIT_SPIN_ROUNDS");
    }
    ::setenv(kExpectVariable, std::to_string(expected).c_str(), 1);
    if (set_first) {
      ::setenv(kSetFirstVariable, std::to_string(*set_first).c_str(), 1);
    } else {
      ::unsetenv(kSetFirstVariable);
    }
    std::string filter = "--gtest_filter=WaitTest.SpinRoundsOfThisProcess";
    std::string name = "wait_process_test";
    std::vector<char*> argv{name.data(), filter.data(), nullptr};
    ::execv("/proc/self/exe", argv.data());
    return 99;  // exec failed
  });
}

/// Not a test of its own: what spin_rounds_in_fresh_process runs (skipped otherwise).
TEST_F(WaitTest, SpinRoundsOfThisProcess) {
  const char* expected = std::getenv(kExpectVariable);
  if (expected == nullptr) GTEST_SKIP() << "run by SpinRoundsComeFromTheEnvironment";
  if (const char* first = std::getenv(kSetFirstVariable); first != nullptr)
    sync::set_spin_rounds(static_cast<std::uint32_t>(std::stoul(first)));
  // Two looks: the first reads the environment, the second what the first kept.
  const bool is_expected = std::to_string(sync::spin_rounds()) == expected &&
                           std::to_string(sync::spin_rounds()) == expected;
  std::_Exit(is_expected ? kAsExpected : kNotAsExpected);
}

TEST_F(WaitTest, SpinRoundsComeFromTheEnvironment) {
  const auto check = [](std::optional<std::string> value, std::uint32_t expected,
                        std::optional<std::uint32_t> set_first = std::nullopt) {
    const test::Exit exit = spin_rounds_in_fresh_process(value, expected, set_first);
    EXPECT_EQ(exit.code, kAsExpected)
        << "CONDUIT_SPIN_ROUNDS=" << value.value_or("(unset)") << ": " << exit.describe();
  };
  check(std::nullopt, sync::kSpinRounds);
  check("7", 7);
  check("0", 0);                     // never spin
  check("4294967295", 4294967295u);  // the largest count is a count, not "not read yet"
  // Anything but a whole decimal number keeps the default.
  check("", sync::kSpinRounds);
  check("abc", sync::kSpinRounds);
  check("12x", sync::kSpinRounds);
  check("-1", sync::kSpinRounds);
  check("4294967296", sync::kSpinRounds);
  // set_spin_rounds before the first use wins over the environment.
  check("7", 5, 5u);
}

}  // namespace
}  // namespace conduit
