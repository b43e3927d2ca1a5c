#include "conduit/core/kept_string.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "conduit/core/error.hpp"
#include "process.hpp"

namespace conduit {
namespace {

// A kept string is one copy per text, and the pointers to it own nothing: copying one costs no
// reference count, and it outlives every Error made with it.
TEST(KeptString, SameTextSameCopyOwnedByNobody) {
  auto first = kept_string("mailbox 'jobs': try_receive: no message");
  auto second = kept_string(std::string("mailbox 'jobs': try_receive: no message"));
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first.get(), second.get());
  EXPECT_EQ(first.use_count(), 0) << "no control block";
  EXPECT_EQ(*first, "mailbox 'jobs': try_receive: no message");
  std::optional<Error> error;
  error.emplace(Errc::would_block, first);
  const Error copy = *error;
  error.reset();
  first.reset();
  second.reset();
  EXPECT_EQ(copy.message(), "mailbox 'jobs': try_receive: no message");
  EXPECT_EQ(kept_string("").use_count(), 0) << "the empty string is kept too";
}

// Past kKeptStrings distinct texts a process keeps no more: later ones are counted strings of
// their own (the texts kept before stay kept).
TEST(KeptString, BeyondTheLimitStringsAreCounted) {
  auto exit = test::run_in_child([] {
    const auto first = kept_string("text 0");
    for (std::size_t i = 1; i < kKeptStrings + 10; ++i)
      (void)kept_string(fmt::format("text {}", i));
    CHILD_CHECK(kept_string("text 0").get() == first.get());
    const auto counted = kept_string(fmt::format("text {}", kKeptStrings + 100));
    CHILD_CHECK(counted.use_count() == 1);
    CHILD_CHECK(*counted == fmt::format("text {}", kKeptStrings + 100));
    CHILD_CHECK(kept_string(*counted).get() != counted.get());  // not kept: a new copy
    return 0;
  });
  EXPECT_TRUE(exit.ok()) << exit.describe();
}

// A child forked while another thread keeps strings can keep its own (the table's lock is not
// left held in it).
TEST(KeptString, AChildForkedWhileAThreadKeepsStringsKeepsItsOwn) {
  std::atomic<bool> stop = false;
  std::thread keeping([&] {
    for (int i = 0; !stop.load(); ++i) (void)kept_string(fmt::format("thread {}", i % 1000));
  });
  for (int round = 0; round < 100; ++round) {
    auto exit = test::run_in_child(
        [round] {
          return *kept_string(fmt::format("child {}", round)) == fmt::format("child {}", round) ? 0
                                                                                                : 1;
        },
        std::chrono::seconds(20));
    EXPECT_TRUE(exit.ok()) << "round " << round << ": " << exit.describe();
  }
  stop = true;
  keeping.join();
}

}  // namespace
}  // namespace conduit
