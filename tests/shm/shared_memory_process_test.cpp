#include "conduit/shm/shared_memory.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "conduit/core/namespace.hpp"
#include "conduit/shm/shared.hpp"
#include "process.hpp"

namespace conduit {
namespace {

using test::Child;
using test::run_in_child;
using namespace std::chrono_literals;

class SharedMemoryTest : public test::ProcessTest {
 protected:
  std::size_t files_in_namespace() const {
    return static_cast<std::size_t>(
        std::distance(std::filesystem::directory_iterator(namespace_path()),
                      std::filesystem::directory_iterator()));
  }
  std::string file_of(std::string_view name) const {
    return namespace_path() + "/" + std::string(name);
  }
};

TEST_F(SharedMemoryTest, BadNamesAreRefusedBeforeAnyFileIsTouched) {
  const std::string names[] = {"",
                               "..",
                               ".",
                               "a/b",
                               std::string(201, 'n'),
                               "with space",
                               std::string("nul\0x", 5),
                               "../escape",
                               "/etc/passwd"};
  for (const auto& name : names) {
    auto created = SharedMemory::create(name, {.size = 64});
    ASSERT_FALSE(created) << name;
    EXPECT_EQ(created.error().code(), Errc::invalid_argument) << created.error().message();
    auto opened = SharedMemory::open(name);
    ASSERT_FALSE(opened);
    EXPECT_EQ(opened.error().code(), Errc::invalid_argument);
    EXPECT_EQ(SharedMemory::remove(name).error().code(), Errc::invalid_argument);
  }
  EXPECT_EQ(files_in_namespace(), 0u);
}

TEST_F(SharedMemoryTest, CreateTwiceIsAlreadyExistsAndOpenMissingIsNotFound) {
  auto first = SharedMemory::create("jobs", {.size = 100});
  ASSERT_TRUE(first) << first.error().message();
  auto second = SharedMemory::create("jobs", {.size = 100});
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code(), Errc::already_exists);
  EXPECT_EQ(second.error().message(), "shared memory 'jobs': create: already exists");

  auto missing = SharedMemory::open("nothing-here");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), Errc::not_found);
  EXPECT_EQ(missing.error().message(), "shared memory 'nothing-here': open: not found");
  EXPECT_EQ(missing.error().error_code(), Errc::not_found);
  EXPECT_STREQ(missing.error().error_code().category().name(), "conduit");
}

TEST_F(SharedMemoryTest, SizeZeroAndBadModesAreInvalid) {
  EXPECT_EQ(SharedMemory::create("z", {.size = 0}).error().code(), Errc::invalid_argument);
  EXPECT_EQ(SharedMemory::create("m", {.size = 8, .mode = 0400}).error().code(),
            Errc::invalid_argument);
  EXPECT_EQ(SharedMemory::create("m", {.size = 8, .mode = 04600}).error().code(),
            Errc::invalid_argument);
}

TEST_F(SharedMemoryTest, ChildOpensByNameAndWritesParentReads) {
  auto segment = SharedMemory::create("board", {.size = 1 << 20});
  ASSERT_TRUE(segment) << segment.error().message();
  EXPECT_EQ(segment->size(), 1u << 20);
  EXPECT_EQ(segment->name(), "board");
  auto exit = run_in_child([] {
    auto mine = SharedMemory::open("board");
    CHILD_CHECK(mine.has_value());
    CHILD_CHECK(mine->size() == (1u << 20));
    for (std::size_t i = 0; i < mine->size(); ++i) mine->bytes()[i] = std::byte(i * 7);
    return 0;
  });
  ASSERT_TRUE(exit.ok()) << exit.describe();
  for (std::size_t i = 0; i < segment->size(); ++i)
    ASSERT_EQ(segment->bytes()[i], std::byte(i * 7)) << "at " << i;
}

TEST_F(SharedMemoryTest, CreatedWithExactlyTheModeAskedForDespiteUmask) {
  const mode_t old = ::umask(077);
  auto segment = SharedMemory::create("shared-with-group", {.size = 64, .mode = 0660});
  ::umask(old);
  ASSERT_TRUE(segment) << segment.error().message();
  struct stat st{};
  ASSERT_EQ(::stat(file_of("shared-with-group").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
}

TEST_F(SharedMemoryTest, AnonymousIsSharedAcrossFork) {
  auto segment = SharedMemory::anonymous(8192);
  ASSERT_TRUE(segment) << segment.error().message();
  EXPECT_TRUE(segment->name().empty());
  auto* counter = reinterpret_cast<std::atomic<std::uint64_t>*>(segment->bytes().data());
  auto exit = run_in_child([&] {
    counter->store(42);
    std::memcpy(segment->bytes().data() + 100, "from the child", 15);
    return 0;
  });
  ASSERT_TRUE(exit.ok()) << exit.describe();
  EXPECT_EQ(counter->load(), 42u);
  EXPECT_STREQ(reinterpret_cast<const char*>(segment->bytes().data() + 100), "from the child");
  EXPECT_EQ(files_in_namespace(), 0u);
}

TEST_F(SharedMemoryTest, AnonymousCanBeAdoptedFromItsDescriptorAndCannotShrink) {
  auto segment = SharedMemory::anonymous(4096);
  ASSERT_TRUE(segment);
  segment->bytes()[10] = std::byte{9};
  // The descriptor reaches another holder (here: a dup, as SCM_RIGHTS would deliver it).
  auto adopted = SharedMemory::adopt(::fcntl(segment->fd(), F_DUPFD_CLOEXEC, 0));
  ASSERT_TRUE(adopted) << adopted.error().message();
  EXPECT_EQ(adopted->bytes()[10], std::byte{9});
  EXPECT_NE(::ftruncate(segment->fd(), 0), 0) << "sealed: shrinking must fail";
  EXPECT_EQ(errno, EPERM);
  const int plain = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  auto refused = SharedMemory::adopt(plain);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), Errc::invalid_argument);
}

TEST_F(SharedMemoryTest, ProcessLifetimeSegmentVanishesWhenItsCreatorIsKilled) {
  Child creator([]() -> int {
    auto segment = SharedMemory::create("mine", {.size = 4096, .lifetime = Lifetime::process});
    CHILD_CHECK(segment.has_value());
    segment->bytes()[0] = std::byte{1};
    for (;;) ::pause();
  });
  // Wait until the creator has published it.
  bool seen = false;
  for (int i = 0; i < 5000 && !seen; ++i) {
    auto opened = SharedMemory::open("mine");
    seen = opened && opened->bytes()[0] == std::byte{1};
    if (!seen) ::usleep(1000);
  }
  ASSERT_TRUE(seen);
  EXPECT_TRUE(SharedMemory::open("mine")) << "alive creator: still there";
  creator.kill(SIGKILL);
  auto after = SharedMemory::open("mine");
  ASSERT_FALSE(after);
  EXPECT_EQ(after.error().code(), Errc::not_found) << after.error().message();
  EXPECT_FALSE(std::filesystem::exists(file_of("mine"))) << "reaped by the open";
  // The name is reusable at once.
  EXPECT_TRUE(SharedMemory::create("mine", {.size = 64}));
}

TEST_F(SharedMemoryTest, ProcessLifetimeSegmentIsNotKeptAliveByTheCreatorsChildren) {
  auto shared_pid = SharedMemory::anonymous(sizeof(std::atomic<pid_t>));
  ASSERT_TRUE(shared_pid);
  auto* grandchild_pid = reinterpret_cast<std::atomic<pid_t>*>(shared_pid->bytes().data());
  auto exit = run_in_child([&]() -> int {
    auto segment = SharedMemory::create("parented", {.size = 64, .lifetime = Lifetime::process});
    CHILD_CHECK(segment.has_value());
    // A grandchild that outlives its parent (the creator) must not keep the object alive.
    const pid_t grandchild = ::fork();
    if (grandchild == 0) {
      for (;;) ::pause();
    }
    grandchild_pid->store(grandchild);
    ::_exit(0);  // the creator dies; its grandchild lives on
  });
  ASSERT_TRUE(exit.ok()) << exit.describe();
  // The grandchild drops its inherited copy of the lock in its own fork handler, which may run
  // a moment after the creator has exited; from then on the object is gone for good.
  Result<SharedMemory> after = fail(Errc::io, "not tried");
  for (int i = 0; i < 10000; ++i) {
    after = SharedMemory::open("parented");
    if (!after) break;
    ::usleep(1000);
  }
  ::kill(grandchild_pid->load(), SIGKILL);
  ASSERT_FALSE(after) << "the grandchild kept the creator's object alive";
  EXPECT_EQ(after.error().code(), Errc::not_found);
}

TEST_F(SharedMemoryTest, ProcessLifetimeOfADeadCreatorIsReapedByCreate) {
  auto exit = run_in_child([] {
    auto segment = SharedMemory::create("again", {.size = 64, .lifetime = Lifetime::process});
    CHILD_CHECK(segment.has_value());
    return 0;
  });
  ASSERT_TRUE(exit.ok());
  ASSERT_TRUE(std::filesystem::exists(file_of("again"))) << "not reaped yet: nobody looked";
  auto created = SharedMemory::create("again", {.size = 64});
  EXPECT_TRUE(created) << created.error().message();
}

TEST_F(SharedMemoryTest, SystemLifetimeSurvivesItsCreatorUntilRemoved) {
  auto exit = run_in_child([] {
    auto segment = SharedMemory::create("lasting", {.size = 64});
    CHILD_CHECK(segment.has_value());
    segment->bytes()[5] = std::byte{5};
    return 0;
  });
  ASSERT_TRUE(exit.ok());
  auto opened = SharedMemory::open("lasting");
  ASSERT_TRUE(opened) << opened.error().message();
  EXPECT_EQ(opened->bytes()[5], std::byte{5});
  ASSERT_TRUE(SharedMemory::remove("lasting"));
  EXPECT_EQ(SharedMemory::open("lasting").error().code(), Errc::not_found);
  EXPECT_EQ(SharedMemory::remove("lasting").error().code(), Errc::not_found);
  EXPECT_EQ(opened->bytes()[5], std::byte{5}) << "an open handle keeps its memory";
}

TEST_F(SharedMemoryTest, OpenRefusesAnotherKindOfObject) {
  ASSERT_TRUE(Shared<int>::create("an-int", 7));
  auto opened = SharedMemory::open("an-int");
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code(), Errc::invalid_argument);
  EXPECT_EQ(opened.error().message(),
            "shared memory 'an-int': open: is a shared object, not a shared memory");
  EXPECT_EQ(SharedMemory::remove("an-int").error().code(), Errc::invalid_argument);
}

TEST_F(SharedMemoryTest, SymbolicLinkInTheNamespaceIsRefused) {
  ASSERT_TRUE(SharedMemory::create("real", {.size = 64}));
  std::filesystem::create_symlink(file_of("real"), file_of("link"));
  auto opened = SharedMemory::open("link");
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code(), Errc::permission_denied) << opened.error().message();
}

// Tests run as root: the child drops to `nobody` before it opens.
int open_as_nobody(const char* name) {
  const passwd* nobody = ::getpwnam("nobody");
  CHILD_CHECK(nobody != nullptr);
  CHILD_CHECK(::setgid(nobody->pw_gid) == 0);
  CHILD_CHECK(::setuid(nobody->pw_uid) == 0);
  auto opened = SharedMemory::open(name);
  CHILD_CHECK(!opened);
  return opened.error().code() == Errc::permission_denied ? 0 : 2;
}

TEST_F(SharedMemoryTest, OwnerOnlyObjectCannotBeOpenedByAnotherUser) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to switch to another uid";
  // The namespace itself admits others, so the object's own 0600 is what refuses.
  ASSERT_EQ(::chmod(namespace_path().c_str(), 0755), 0);
  ASSERT_TRUE(SharedMemory::create("private", {.size = 64, .mode = 0600}));
  auto exit = run_in_child([] { return open_as_nobody("private"); });
  EXPECT_TRUE(exit.ok()) << exit.describe();
}

TEST_F(SharedMemoryTest, DefaultNamespaceOwnedBySomeoneElseIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to switch to another uid";
  const passwd* nobody = ::getpwnam("nobody");
  ASSERT_NE(nobody, nullptr);
  const std::string planted = "/dev/shm/conduit." + std::to_string(nobody->pw_uid);
  std::error_code ignored;
  std::filesystem::remove_all(planted, ignored);
  // Another user (root here) planted the directory that nobody's default namespace would use.
  ASSERT_EQ(::mkdir(planted.c_str(), 0777), 0);
  ASSERT_EQ(::chmod(planted.c_str(), 0777), 0);
  auto exit = run_in_child([&] {
    ::unsetenv("CONDUIT_NAMESPACE");
    CHILD_CHECK(::setgid(nobody->pw_gid) == 0);
    CHILD_CHECK(::setuid(nobody->pw_uid) == 0);
    auto space = Namespace::current();
    CHILD_CHECK(!space);
    CHILD_CHECK(space.error().code() == Errc::permission_denied);
    CHILD_CHECK(space.error().message().find("owned by uid 0") != std::string::npos);
    return 0;
  });
  std::filesystem::remove_all(planted, ignored);
  EXPECT_TRUE(exit.ok()) << exit.describe();
}

TEST_F(SharedMemoryTest, NamespaceThatIsASymbolicLinkIsRefused) {
  const std::string link = namespace_path() + "-link";
  std::filesystem::create_directory_symlink(namespace_path(), link);
  ::setenv("CONDUIT_NAMESPACE", link.c_str(), 1);
  auto created = SharedMemory::create("x", {.size = 64});
  std::filesystem::remove(link);
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error().code(), Errc::permission_denied) << created.error().message();
}

// A process SIGKILLed while it holds the namespace lock, after another of its threads forked
// a child that lives on: the lock is free at once, not held until that child exits (it shares
// the lock's open file description, and closes its copy in its fork handler, which has run
// once the child's own code runs).
TEST_F(SharedMemoryTest, NamespaceLockOfAKilledHolderIsFreeWhileAChildItForkedLives) {
  struct Shared {
    std::atomic<pid_t> grandchild{0};
    std::atomic<bool> is_grandchild_running{false};  // past its fork handlers
    std::atomic<bool> is_holding{false};
  };
  auto memory = SharedMemory::anonymous(sizeof(Shared));
  ASSERT_TRUE(memory);
  auto* shared = new (memory->bytes().data()) Shared();
  Child holder([&] {
    auto space = Namespace::current();
    CHILD_CHECK(space);
    auto guard = space->lock();
    CHILD_CHECK(guard);
    std::thread forker([&] {
      const pid_t child = ::fork();
      if (child == 0) {
        shared->is_grandchild_running = true;
        ::sleep(60);
        ::_exit(0);
      }
      shared->grandchild = child;
    });
    forker.join();
    for (int i = 0; i < 20'000 && !shared->is_grandchild_running; ++i) ::usleep(1000);
    shared->is_holding = true;
    ::pause();  // killed here, holding the lock
    return 0;
  });
  for (int i = 0; i < 20'000 && !shared->is_holding; ++i) ::usleep(1000);
  ASSERT_TRUE(shared->is_holding) << "the holder never took the lock";
  const auto is_locked = [&] {
    const int fd = ::open(namespace_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    const bool locked = ::flock(fd, LOCK_EX | LOCK_NB) != 0;
    ::close(fd);
    return locked;
  };
  EXPECT_TRUE(is_locked()) << "the child's close released its parent's lock";
  holder.kill();
  EXPECT_FALSE(is_locked()) << "the child forked while the lock was held keeps it";
  auto exit = run_in_child([] { return SharedMemory::create("after", {.size = 64}) ? 0 : 1; }, 20s);
  EXPECT_TRUE(exit.ok()) << exit.describe();
  if (shared->grandchild > 0) ::kill(shared->grandchild, SIGKILL);
}

TEST_F(SharedMemoryTest, FullTmpfsIsLimitReachedNotACrash) {
  auto huge = SharedMemory::create("huge", {.size = std::size_t{1} << 50});
  ASSERT_FALSE(huge);
  EXPECT_EQ(huge.error().code(), Errc::limit_reached) << huge.error().message();
  EXPECT_EQ(files_in_namespace(), 0u) << "nothing left behind";
}

TEST_F(SharedMemoryTest, CreatorKilledInsideCreateLeavesTheNameFree) {
  // Kill creators at many moments, including inside create: the name must never be left
  // half-made — either absent or a complete, openable segment.
  for (int round = 0; round < 20; ++round) {
    Child creator([] {
      for (int i = 0;; ++i) {
        auto segment = SharedMemory::create("racy", {.size = 1 << 16});
        if (segment) (void)SharedMemory::remove("racy");
      }
      return 0;
    });
    ::usleep(static_cast<useconds_t>(200 + round * 150));
    creator.kill(SIGKILL);
    auto opened = SharedMemory::open("racy");
    if (opened) {
      EXPECT_EQ(opened->size(), 1u << 16);
      ASSERT_TRUE(SharedMemory::remove("racy"));
    } else {
      EXPECT_EQ(opened.error().code(), Errc::not_found) << opened.error().message();
    }
  }
}

}  // namespace
}  // namespace conduit

namespace conduit {
namespace {

class DependentsTest : public test::ProcessTest {};

Result<shm::Segment> make_dependent(std::string_view owner) {
  shm::SegmentSpec spec;
  spec.kind = shm::SegmentKind::extension;
  spec.payload_size = 64;
  spec.names = NameUse::internal;
  return shm::Segment::create(internal_name({owner, "x1"}), spec);
}

TEST_F(DependentsTest, InternalNamesAreRefusedToUsersAndGoWithTheirOwner) {
  EXPECT_EQ(SharedMemory::create("a#x1", {.size = 64}).error().code(), Errc::invalid_argument);
  ASSERT_TRUE(SharedMemory::create("a", {.size = 64}));
  ASSERT_TRUE(SharedMemory::create("ab", {.size = 64}));
  ASSERT_TRUE(make_dependent("a"));
  ASSERT_TRUE(make_dependent("ab"));
  ASSERT_TRUE(SharedMemory::remove("a"));
  EXPECT_FALSE(std::filesystem::exists(namespace_path() + "/a#x1"));
  EXPECT_TRUE(std::filesystem::exists(namespace_path() + "/ab#x1")) << "only a's own";
}

TEST_F(DependentsTest, ReapingADeadOwnersObjectTakesItsDependentsToo) {
  auto exit = test::run_in_child([] {
    CHILD_CHECK(SharedMemory::create("p", {.size = 64, .lifetime = Lifetime::process}).has_value());
    CHILD_CHECK(make_dependent("p").has_value());
    return 0;
  });
  ASSERT_TRUE(exit.ok()) << exit.describe();
  EXPECT_EQ(SharedMemory::open("p").error().code(), Errc::not_found);
  EXPECT_TRUE(std::filesystem::is_empty(namespace_path()));
}

}  // namespace
}  // namespace conduit
