// Regression (found by the crash torture, tests/torture): a Lifetime::process mailbox or
// channel whose creator was killed must be gone from the namespace once the waiter that found
// the owner dead returned owner_died — not only after some later open reaps it. Before the
// fix every user got owner_died and exited, and the file stayed behind.
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "conduit/msg/channel.hpp"
#include "conduit/msg/mailbox.hpp"
#include "process.hpp"

namespace conduit {
namespace {

using test::Child;
using namespace std::chrono_literals;

class OwnerDeathTest : public test::ProcessTest {
 public:
  /// The files in this test's namespace, read straight from the directory: no conduit call
  /// (which could reap) is made.
  [[nodiscard]] std::vector<std::string> files() const {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(namespace_path()))
      names.push_back(entry.path().filename().string());
    return names;
  }
};

/// A flag in memory shared with children, outside conduit.
std::atomic<int>* shared_flag() {
  void* memory = ::mmap(nullptr, sizeof(std::atomic<int>), PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  return new (memory) std::atomic<int>(0);
}

/// The creator of a Lifetime::process `Object` is SIGKILLed while a receiver blocks on it:
/// the receiver gets owner_died, and nothing is left in the namespace once it has returned.
template <class Object, class Options>
void expect_gone_after_owner_death(const OwnerDeathTest& test, Options options) {
  auto* is_created = shared_flag();
  auto* is_opened = shared_flag();
  Child creator([is_created, options]() -> int {
    auto object = Object::create("owned", options);
    CHILD_CHECK(object.has_value());
    is_created->store(1);
    for (;;) ::pause();
  });
  while (is_created->load() == 0) ::usleep(1000);
  Child receiver([is_opened] {
    auto object = Object::open("owned");
    CHILD_CHECK(object.has_value());
    is_opened->store(1);
    auto got = object->receive();  // blocks until the owner dies
    CHILD_CHECK(!got);
    return got.error().code() == Errc::owner_died ? 0 : 2;
  });
  while (is_opened->load() == 0) ::usleep(1000);  // else its open may find the object gone
  ::usleep(50000);
  (void)creator.kill();
  const auto exit = receiver.wait(10s);
  ASSERT_TRUE(exit.ok()) << exit.describe();
  EXPECT_TRUE(test.files().empty()) << "left in the namespace: " << test.files().front();
}

/// The creator's main thread ends while another of its threads keeps the process, and so
/// the owner lock, for a while: /proc shows the creator a zombie at once, as with a killed
/// multi-threaded process (a sanitizer's background thread) whose last thread is still
/// closing its files. The receiver that reports owner_died must still leave nothing behind.
/// Found by the crash torture under TSan.
template <class Object, class Options>
void expect_gone_after_owner_dies_slowly(const OwnerDeathTest& test, Options options) {
  auto* is_created = shared_flag();
  auto* is_opened = shared_flag();
  Child creator([is_created, is_opened, options]() -> int {
    auto object = Object::create("owned", options);
    CHILD_CHECK(object.has_value());
    // The last thread ends a while after the receiver opened the object (else its open could
    // find it gone), and after the first thread: /proc shows the creator dead meanwhile.
    std::thread([is_opened] {
      while (is_opened->load() == 0) ::usleep(1000);
      std::this_thread::sleep_for(300ms);
      ::_exit(0);
    }).detach();
    is_created->store(1);
    ::syscall(SYS_exit, 0);  // this thread only: the process lives on in the other
    return 0;
  });
  while (is_created->load() == 0) ::usleep(1000);
  Child receiver([is_opened] {
    auto object = Object::open("owned");
    CHILD_CHECK(object.has_value());
    is_opened->store(1);
    auto got = object->receive();
    CHILD_CHECK(!got);
    return got.error().code() == Errc::owner_died ? 0 : 2;
  });
  const auto exit = receiver.wait(10s);
  ASSERT_TRUE(exit.ok()) << exit.describe();
  EXPECT_TRUE(test.files().empty()) << "left in the namespace: " << test.files().front();
}

TEST_F(OwnerDeathTest, ChannelIsRemovedWhenItsOwnersLastThreadEndsAfterTheFirst) {
  expect_gone_after_owner_dies_slowly<Channel<int>>(*this,
                                                    ChannelOptions{.lifetime = Lifetime::process});
}

TEST_F(OwnerDeathTest, MailboxIsRemovedWhenItsOwnersLastThreadEndsAfterTheFirst) {
  expect_gone_after_owner_dies_slowly<Mailbox>(*this,
                                               MailboxOptions{.lifetime = Lifetime::process});
}

TEST_F(OwnerDeathTest, MailboxIsRemovedByTheCallThatFindsItsOwnerDead) {
  expect_gone_after_owner_death<Mailbox>(*this, MailboxOptions{.lifetime = Lifetime::process});
}

TEST_F(OwnerDeathTest, ChannelIsRemovedByTheCallThatFindsItsOwnerDead) {
  expect_gone_after_owner_death<Channel<int>>(*this, ChannelOptions{.lifetime = Lifetime::process});
}

}  // namespace
}  // namespace conduit
