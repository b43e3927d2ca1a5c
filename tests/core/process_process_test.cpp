#include "conduit/core/process.hpp"

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>

#include "conduit/shm/shared_memory.hpp"
#include "process.hpp"

namespace conduit {
namespace {

TEST(ProcessId, SelfIsThisProcessAndAlive) {
  const ProcessId me = self();
  EXPECT_EQ(me.pid, ::getpid());
  EXPECT_NE(me.start_time, 0u);
  EXPECT_TRUE(alive(me));
  EXPECT_EQ(self(), me);
}

TEST(ProcessId, ChildSeesItsOwnIdentityAfterFork) {
  const ProcessId parent = self();
  auto shared = SharedMemory::anonymous(sizeof(ProcessId));
  ASSERT_TRUE(shared);
  auto* slot = reinterpret_cast<ProcessId*>(shared->bytes().data());
  auto exit = test::run_in_child([&] {
    *slot = self();
    CHILD_CHECK(slot->pid == ::getpid());
    CHILD_CHECK(alive(parent));
    return 0;
  });
  ASSERT_TRUE(exit.ok()) << exit.describe();
  EXPECT_NE(slot->pid, parent.pid);
  EXPECT_FALSE(alive(*slot)) << "the child exited and was reaped";
}

TEST(ProcessId, ZombieCountsAsDead) {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ProcessId id{child, 0};
  // Not reaped yet: a zombie. Wait until it is one.
  siginfo_t info{};
  ASSERT_EQ(::waitid(P_PID, static_cast<id_t>(child), &info, WEXITED | WNOWAIT), 0);
  EXPECT_FALSE(alive(id));
  ::waitpid(child, nullptr, 0);
}

// A process that cannot read /proc (here: out of descriptors) must not take the living for
// dead: their locks would be broken and their messages handed out twice.
TEST(ProcessId, UnreadableProcCountsTheLivingAsAlive) {
  const ProcessId parent = self();
  const pid_t gone = [] {
    const pid_t child = ::fork();
    if (child == 0) ::_exit(0);
    ::waitpid(child, nullptr, 0);
    return child;
  }();
  auto exit = test::run_in_child([&] {
    // Every descriptor taken: no file can be opened.
    const rlimit none{0, 0};
    CHILD_CHECK(::setrlimit(RLIMIT_NOFILE, &none) == 0);
    CHILD_CHECK(alive(parent));
    CHILD_CHECK(alive(ProcessId{parent.pid, 0}));
    CHILD_CHECK(!alive(ProcessId{gone, 0}));
    return 0;
  });
  EXPECT_TRUE(exit.ok()) << exit.describe();
}

TEST(ProcessId, AnotherStartTimeIsAnotherProcess) {
  ProcessId reused = self();
  reused.start_time += 1;  // the same pid, started at another time: a different process
  EXPECT_FALSE(alive(reused));
  EXPECT_FALSE(alive(ProcessId{0, 0}));
  EXPECT_FALSE(alive(ProcessId{-5, 0}));
  EXPECT_EQ(to_string(ProcessId{1234, 1}), "pid 1234");
}

}  // namespace
}  // namespace conduit
