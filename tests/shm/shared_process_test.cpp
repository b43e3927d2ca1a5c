#include "conduit/shm/shared.hpp"

#include <array>
#include <atomic>

#include "process.hpp"

namespace conduit {
namespace {

struct Board {
  Board(int first, int second) : a(first), b(second) {}
  std::atomic<int> a;
  std::atomic<int> b;
  std::array<char, 32> note{};
};

class SharedTest : public test::ProcessTest {};

TEST_F(SharedTest, ConstructedOnceAndSharedByName) {
  auto board = Shared<Board>::create("board", 3, 4);
  ASSERT_TRUE(board) << board.error().message();
  EXPECT_EQ((*board)->a, 3);
  auto exit = test::run_in_child([] {
    auto mine = Shared<Board>::open("board");
    CHILD_CHECK(mine.has_value());
    CHILD_CHECK((*mine)->b == 4);
    for (int i = 0; i < 10000; ++i) (*mine)->a.fetch_add(1);
    return 0;
  });
  ASSERT_TRUE(exit.ok()) << exit.describe();
  EXPECT_EQ((*board)->a, 10003);
  EXPECT_EQ((**board).b, 4);
}

TEST_F(SharedTest, OpenWithATypeOfAnotherSizeIsRefused) {
  ASSERT_TRUE(Shared<std::uint32_t>::create("counter", 1u));
  auto wrong = Shared<std::uint64_t>::open("counter");
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code(), Errc::invalid_argument);
  EXPECT_EQ(wrong.error().message(),
            "shared object 'counter': open: holds a type of size 4 and alignment 4, not 8 and 8");
  EXPECT_TRUE(Shared<std::uint32_t>::open("counter"));
}

TEST_F(SharedTest, RemoveThenOpenIsNotFound) {
  ASSERT_TRUE(Shared<int>::create("gone", 1));
  ASSERT_TRUE(Shared<int>::remove("gone"));
  EXPECT_EQ(Shared<int>::open("gone").error().code(), Errc::not_found);
}

TEST_F(SharedTest, ProcessLifetimeObjectGoesWithItsCreator) {
  auto exit = test::run_in_child([] {
    auto mine = Shared<int>::create_with("short-lived", {.lifetime = Lifetime::process}, 5);
    CHILD_CHECK(mine.has_value());
    auto again = Shared<int>::open("short-lived");
    CHILD_CHECK(again.has_value() && **again == 5);
    return 0;
  });
  ASSERT_TRUE(exit.ok()) << exit.describe();
  EXPECT_EQ(Shared<int>::open("short-lived").error().code(), Errc::not_found);
}

}  // namespace
}  // namespace conduit
