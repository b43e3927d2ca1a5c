// A mailbox reuses its slots at once: the slot a receive frees is the one the next send fills.
// Each handle guesses which slot its next send or receive will use (to fetch it early); these
// tests check that a wrong guess — a slot another receiver took, a message taken out of order
// by a type filter — never changes what is received.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "conduit/msg/mailbox.hpp"
#include "numbered_message.hpp"
#include "process.hpp"

namespace conduit {
namespace {

using test::Child;
using namespace std::chrono_literals;

class MailboxSlotReuseTest : public test::ProcessTest {};

using test::numbered;

std::array<std::byte, test::kNumberedSize> message_for(std::uint64_t i) { return numbered(i); }

std::int64_t type_for(std::uint64_t i) { return static_cast<std::int64_t>(1 + i % 3); }

// The number in a message, or ~0 when it is not exactly message i, of its type.
std::uint64_t checked_number(const Message& message) {
  const std::uint64_t i = test::number_of(message);
  if (i == ~std::uint64_t{0} || message.type() != type_for(i)) return ~std::uint64_t{0};
  return i;
}

TEST_F(MailboxSlotReuseTest, TypeFilteredAndPlainReceivesOverReusedSlotsKeepEachTypesOrder) {
  constexpr std::uint64_t kCount = 20000;
  auto box = Mailbox::create("reuse", {.capacity = Capacity::bounded(3), .max_message_size = 64});
  ASSERT_TRUE(box);
  Child sender([] {
    auto mine = Mailbox::open("reuse");
    CHILD_CHECK(mine.has_value());
    for (std::uint64_t i = 0; i < kCount; ++i) {
      const auto bytes = message_for(i);
      CHILD_CHECK(mine->send(std::span<const std::byte>(bytes), type_for(i)).has_value());
    }
    return 0;
  });
  // Types cycle 1, 2, 3 and the mailbox holds three: a filter always finds its type in time.
  const std::array<std::int64_t, 5> filters = {0, 2, -1, 3, 0};
  std::array<std::int64_t, 4> last_of_type = {-1, -1, -1, -1};
  std::vector<bool> seen(kCount, false);
  std::uint64_t sum = 0;
  for (std::uint64_t n = 0; n < kCount; ++n) {
    const std::int64_t filter = filters[n % filters.size()];
    auto got = n % 7 == 0 ? box->try_receive(filter) : box->receive_for(10s, filter);
    if (!got && got.error().code() == Errc::would_block) got = box->receive_for(10s, filter);
    ASSERT_TRUE(got) << got.error().message();
    const std::uint64_t i = checked_number(*got);
    ASSERT_LT(i, kCount) << "message " << n << " is torn or not one that was sent";
    if (filter > 0) ASSERT_EQ(got->type(), filter);
    if (filter < 0) ASSERT_LE(got->type(), -filter);
    ASSERT_FALSE(seen[i]) << "message " << i << " received twice";
    seen[i] = true;
    auto& last = last_of_type[static_cast<std::size_t>(got->type())];
    ASSERT_LT(last, static_cast<std::int64_t>(i)) << "type " << got->type() << " out of order";
    last = static_cast<std::int64_t>(i);
    sum += i;
  }
  EXPECT_EQ(sum, kCount * (kCount - 1) / 2);
  EXPECT_TRUE(sender.wait(30s).ok());
  EXPECT_EQ(box->try_receive().error().code(), Errc::would_block);
}

TEST_F(MailboxSlotReuseTest, TwoReceivingProcessesTakeEveryMessageOnceIntact) {
  constexpr std::uint64_t kCount = 20000;
  auto box = Mailbox::create("shared", {.capacity = Capacity::bounded(2), .max_message_size = 64});
  ASSERT_TRUE(box);
  // Each receiver takes its share and reports the sum and count of what it took through a
  // message of its own (type 9) to the parent's mailbox.
  auto results = Mailbox::create("results", {.capacity = Capacity::bounded(4)});
  ASSERT_TRUE(results);
  const auto receiver = [] {
    auto mine = Mailbox::open("shared");
    auto out = Mailbox::open("results");
    CHILD_CHECK(mine.has_value() && out.has_value());
    std::array<std::uint64_t, 2> tally{};  // sum, count
    for (;;) {
      auto got = mine->receive_for(10s);
      CHILD_CHECK(got.has_value());
      if (got->size() == 0) break;  // the end marker: one for each receiver
      const std::uint64_t i = checked_number(*got);
      CHILD_CHECK(i < kCount);
      tally[0] += i;
      ++tally[1];
    }
    CHILD_CHECK(out->send(std::span<const std::byte>(
                              reinterpret_cast<const std::byte*>(tally.data()), sizeof tally),
                          9)
                    .has_value());
    return 0;
  };
  Child first(receiver);
  Child second(receiver);
  for (std::uint64_t i = 0; i < kCount; ++i) {
    const auto bytes = message_for(i);
    ASSERT_TRUE(box->send(std::span<const std::byte>(bytes), type_for(i)));
  }
  ASSERT_TRUE(box->send(std::span<const std::byte>()));
  ASSERT_TRUE(box->send(std::span<const std::byte>()));
  std::uint64_t sum = 0, count = 0;
  for (int r = 0; r < 2; ++r) {
    auto got = results->receive_for(30s);
    ASSERT_TRUE(got) << got.error().message();
    ASSERT_EQ(got->size(), 2 * sizeof(std::uint64_t));
    std::array<std::uint64_t, 2> tally{};
    std::memcpy(tally.data(), got->payload().data(), sizeof tally);
    sum += tally[0];
    count += tally[1];
  }
  EXPECT_EQ(count, kCount);
  EXPECT_EQ(sum, kCount * (kCount - 1) / 2);
  EXPECT_TRUE(first.wait(30s).ok());
  EXPECT_TRUE(second.wait(30s).ok());
}

}  // namespace
}  // namespace conduit
