// mpi::World under mpirun -np 3 (at least 2 ranks; some cases need 3). Every rank runs every
// test; each test is collective and ends with a barrier, so no message leaks into the next.
// Receives in tests wait at most kPatience, so a failing rank makes its peers fail, not hang.
#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "../../src/mpi/receive_buffers.hpp"  // kFirstPart: where World splits a message in two
#include "conduit/mpi/world.hpp"
#include "mpi_test_main.hpp"

using namespace std::chrono_literals;
using conduit::Capacity;
using conduit::Errc;
using conduit::Message;
using conduit::mpi::kFirstPart;
using conduit::mpi::World;
using conduit::mpi::WorldOptions;

namespace {

World* world = nullptr;
constexpr auto kPatience = 60s;

Message receive_from(World& w, int rank, std::int64_t type = 0) {
  auto message = w.receive_from_for(rank, kPatience, type);
  EXPECT_TRUE(message) << message.error().message();
  return message ? *message : Message{};
}

void barrier() { ASSERT_TRUE(world->barrier()); }

TEST(World, RankAndSize_DescribeTheJob) {
  EXPECT_GE(world->size(), 3);
  EXPECT_GE(world->rank(), 0);
  EXPECT_LT(world->rank(), world->size());
  EXPECT_GE(world->max_type(), 32767);
}

TEST(World, Ring_TokenVisitsEveryRankInOrder) {
  const int n = world->size();
  const int me = world->rank();
  const int next = (me + 1) % n;
  const int previous = (me + n - 1) % n;
  if (me == 0) {
    ASSERT_TRUE(world->send(next, "0"));
    const Message back = receive_from(*world, previous);
    std::string expected = "0";
    for (int rank = 1; rank < n; ++rank) expected += "," + std::to_string(rank);
    EXPECT_EQ(back.text(), expected);
    EXPECT_EQ(back.sender().pid, previous);
  } else {
    const Message token = receive_from(*world, previous);
    EXPECT_EQ(token.sender().pid, previous);
    ASSERT_TRUE(world->send(next, std::string(token.text()) + "," + std::to_string(me)));
  }
  barrier();
}

TEST(World, ReceiveFromAnyone_SenderIsTheSendingRank) {
  if (world->rank() == 0) {
    std::set<int> senders;
    for (int i = 1; i < world->size(); ++i) {
      auto message = world->receive_for(kPatience);
      ASSERT_TRUE(message) << message.error().message();
      EXPECT_EQ(message->text(), "from " + std::to_string(message->sender().pid));
      EXPECT_EQ(message->sender_name(), std::to_string(message->sender().pid));
      senders.insert(message->sender().pid);
    }
    EXPECT_EQ(senders.size(), static_cast<std::size_t>(world->size() - 1));
    EXPECT_EQ(*senders.begin(), 1);
  } else {
    ASSERT_TRUE(world->send(0, "from " + std::to_string(world->rank())));
  }
  barrier();
}

TEST(World, ReceiveFrom_TakesOnlyThatRanksMessages) {
  if (world->rank() == 0) {
    // Both have sent (the barrier); receive_from(2) must skip rank 1's message.
    barrier();
    const Message from_two = receive_from(*world, 2);
    EXPECT_EQ(from_two.text(), "two");
    const Message from_one = receive_from(*world, 1);
    EXPECT_EQ(from_one.text(), "one");
  } else {
    if (world->rank() <= 2) ASSERT_TRUE(world->send(0, world->rank() == 1 ? "one" : "two"));
    barrier();
  }
  barrier();
}

TEST(World, Types_AreTags_ReceiveSelectsByType) {
  if (world->rank() == 1) {
    ASSERT_TRUE(world->send(0, "five", 5));
    ASSERT_TRUE(world->send(0, "seven", 7));
    ASSERT_TRUE(world->send(0, "another five", 5));
  } else if (world->rank() == 0) {
    const Message seven = receive_from(*world, 1, 7);
    EXPECT_EQ(seven.text(), "seven");
    EXPECT_EQ(seven.type(), 7);
    const Message five = receive_from(*world, 1, 5);
    EXPECT_EQ(five.text(), "five");
    EXPECT_EQ(five.type(), 5);
    auto any = world->receive_for(kPatience);  // filter 0: any type
    ASSERT_TRUE(any) << any.error().message();
    EXPECT_EQ(any->text(), "another five");
    EXPECT_EQ(any->type(), 5);
  }
  barrier();
}

TEST(World, Types_OutOfRangeAreInvalidArgument) {
  auto negative = world->send(0, "x", -1);
  ASSERT_FALSE(negative);
  EXPECT_EQ(negative.error().code(), Errc::invalid_argument);
  auto too_big = world->send(0, "x", world->max_type() + 1);
  ASSERT_FALSE(too_big);
  EXPECT_EQ(too_big.error().code(), Errc::invalid_argument);
  auto lowest_filter = world->try_receive(-3);
  ASSERT_FALSE(lowest_filter);
  EXPECT_EQ(lowest_filter.error().code(), Errc::invalid_argument);
  barrier();
}

TEST(World, BadRank_IsInvalidArgumentNamingRankAndSize) {
  const int size = world->size();
  auto send = world->send(size + 4, "x");
  ASSERT_FALSE(send);
  EXPECT_EQ(send.error().code(), Errc::invalid_argument);
  EXPECT_EQ(send.error().message(), "mpi rank " + std::to_string(world->rank()) +
                                        ": send to rank " + std::to_string(size + 4) +
                                        ": invalid rank (size " + std::to_string(size) + ")");
  EXPECT_EQ(world->send(-1, "x").error().code(), Errc::invalid_argument);
  EXPECT_EQ(world->try_send(size, "x").error().code(), Errc::invalid_argument);
  EXPECT_EQ(world->send_for(size, "x", 10ms).error().code(), Errc::invalid_argument);
  EXPECT_EQ(world->receive_from(size).error().code(), Errc::invalid_argument);
  EXPECT_EQ(world->receive_from(-1).error().code(), Errc::invalid_argument);
  EXPECT_EQ(world->try_receive_from(size).error().code(), Errc::invalid_argument);
  EXPECT_EQ(world->receive_from_for(size, 10ms).error().code(), Errc::invalid_argument);
  barrier();
}

TEST(World, Timeouts_EmptyReceivesReportTimedOutOrWouldBlock) {
  const int other = (world->rank() + 1) % world->size();
  auto timed = world->receive_from_for(other, 20ms);
  ASSERT_FALSE(timed);
  EXPECT_EQ(timed.error().code(), Errc::timed_out);
  auto any = world->receive_for(20ms);
  ASSERT_FALSE(any);
  EXPECT_EQ(any.error().code(), Errc::timed_out);
  auto once = world->try_receive();
  ASSERT_FALSE(once);
  EXPECT_EQ(once.error().code(), Errc::would_block);
  auto once_from = world->try_receive_from(other);
  ASSERT_FALSE(once_from);
  EXPECT_EQ(once_from.error().code(), Errc::would_block);
  barrier();
}

// Zero capacity: MPI_Ssend. A send with nobody receiving cannot complete.
TEST(World, ZeroCapacity_SendForTimesOutWhenNobodyReceives) {
  auto zero = World::init(WorldOptions{Capacity::zero()});
  ASSERT_TRUE(zero) << zero.error().message();
  if (zero->rank() == 0) {
    auto sent = zero->send_for(1, "unwanted", 50ms, 3);
    ASSERT_FALSE(sent);
    EXPECT_EQ(sent.error().code(), Errc::timed_out) << sent.error().message();
    auto tried = zero->try_send(1, "also unwanted", 3);
    ASSERT_FALSE(tried);
    EXPECT_EQ(tried.error().code(), Errc::would_block) << tried.error().message();
    std::printf("rank 0: %s\nrank 0: %s\n", sent.error().message().c_str(),
                tried.error().message().c_str());
    // Tell rank 1 how many could not be withdrawn (Open MPI cannot cancel sends), to drain.
    const bool stays = sent.error().message().find("stays posted") != std::string::npos;
    const bool tried_stays = tried.error().message().find("stays posted") != std::string::npos;
    ASSERT_TRUE(world->send(1, std::to_string(int{stays} + int{tried_stays}), 4));
  } else if (zero->rank() == 1) {
    const Message left = receive_from(*world, 0, 4);
    for (int i = 0; i < std::stoi(std::string(left.text())); ++i) {
      const Message drained = receive_from(*world, 0, 3);
      EXPECT_NE(drained.text().find("unwanted"), std::string::npos);
    }
  }
  barrier();
}

TEST(World, ZeroCapacity_SendReturnsOnlyAfterReceive) {
  auto zero = World::init(WorldOptions{Capacity::zero()});
  ASSERT_TRUE(zero) << zero.error().message();
  if (zero->rank() == 0) {
    ASSERT_TRUE(zero->send(1, "rendezvous", 6));
    ASSERT_TRUE(world->send(2, "my send returned", 7));  // rank 2 passes it on to rank 1
  } else if (zero->rank() == 2) {
    const Message note = receive_from(*world, 0, 7);
    ASSERT_TRUE(world->send(1, note.text(), 7));
  } else if (zero->rank() == 1) {
    // Rank 0's send cannot have returned before this rank received: no note can come yet.
    auto early = world->receive_from_for(2, 200ms, 7);
    ASSERT_FALSE(early) << "rank 0's zero-capacity send returned before anyone received";
    EXPECT_EQ(early.error().code(), Errc::timed_out);
    const Message message = receive_from(*zero, 0, 6);
    EXPECT_EQ(message.text(), "rendezvous");
    EXPECT_EQ(receive_from(*world, 2, 7).text(), "my send returned");
  }
  barrier();
}

TEST(World, ZeroCapacity_SendForSucceedsWhenReceived) {
  auto zero = World::init(WorldOptions{Capacity::zero()});
  ASSERT_TRUE(zero) << zero.error().message();
  if (zero->rank() == 1) {
    auto sent = zero->send_for(0, "taken", kPatience, 8);
    EXPECT_TRUE(sent) << sent.error().message();
  } else if (zero->rank() == 0) {
    EXPECT_EQ(receive_from(*zero, 1, 8).text(), "taken");
  }
  barrier();
}

using conduit::mpi::test::pattern;

TEST(World, LargeMessages_8MiBArriveWhole) {
  constexpr std::size_t kSize = 8u << 20;
  if (world->rank() == 0) {
    ASSERT_TRUE(world->send(1, pattern(kSize, 1), 2));
    auto message = world->receive_for(kPatience, 2);
    ASSERT_TRUE(message) << message.error().message();
    EXPECT_EQ(message->sender().pid, 2);
    ASSERT_EQ(message->size(), kSize);
    EXPECT_TRUE(std::ranges::equal(message->payload(), pattern(kSize, 2)));
  } else if (world->rank() == 1) {
    const Message message = receive_from(*world, 0, 2);
    ASSERT_EQ(message.size(), kSize);
    EXPECT_TRUE(std::ranges::equal(message.payload(), pattern(kSize, 1)));
  } else if (world->rank() == 2) {
    auto sent = world->send_for(0, pattern(kSize, 2), kPatience, 2);  // timed form, received
    EXPECT_TRUE(sent) << sent.error().message();
  }
  barrier();
}

TEST(World, EmptyMessage_Arrives) {
  if (world->rank() == 1) {
    ASSERT_TRUE(world->send(0, std::span<const std::byte>{}));
  } else if (world->rank() == 0) {
    const Message message = receive_from(*world, 1);
    EXPECT_EQ(message.size(), 0u);
    EXPECT_EQ(message.sender().pid, 1);
  }
  barrier();
}

// Sizes on both sides of the split: one MPI message below kFirstPart, two from it on (the rest
// repeats the first part's last byte, so it is never empty).
const std::vector<std::size_t> kSplitSizes{
    0, 1, kFirstPart - 1, kFirstPart, kFirstPart + 1, 2 * kFirstPart, 3 * kFirstPart + 5, 64};

// Message i of rank r: kSplitSizes[i] bytes of pattern(size, seed(r, i)), type i + 1.
int seed(int rank, std::size_t index) { return rank * 31 + static_cast<int>(index); }

void expect_split_message(const Message& message, int sender) {
  ASSERT_EQ(message.sender().pid, sender);
  ASSERT_GE(message.type(), 1);
  ASSERT_LE(message.type(), static_cast<std::int64_t>(kSplitSizes.size()));
  const auto index = static_cast<std::size_t>(message.type() - 1);
  ASSERT_EQ(message.size(), kSplitSizes[index]) << "message " << index << " from rank " << sender;
  EXPECT_TRUE(
      std::ranges::equal(message.payload(), pattern(kSplitSizes[index], seed(sender, index))))
      << "message " << index << " from rank " << sender << " arrived with other bytes";
  EXPECT_EQ(message.sender_name(), std::to_string(sender));
}

void send_split_sizes(World& w, int to) {
  for (std::size_t i = 0; i < kSplitSizes.size(); ++i) {
    auto sent =
        w.send(to, pattern(kSplitSizes[i], seed(w.rank(), i)), static_cast<std::int64_t>(i + 1));
    EXPECT_TRUE(sent) << sent.error().message();
  }
}

TEST(World, Split_SizesAtAndAroundTheSplitArriveWhole_BlockingAndTimed) {
  if (world->rank() == 1) {
    send_split_sizes(*world, 0);  // taken by the blocking receive_from
    send_split_sizes(*world, 0);  // taken by the timed receive_from_for
  } else if (world->rank() == 0) {
    for (std::size_t i = 0; i < kSplitSizes.size(); ++i) {
      auto message = world->receive_from(1);
      ASSERT_TRUE(message) << message.error().message();
      EXPECT_EQ(message->type(), static_cast<std::int64_t>(i + 1));  // in the order sent
      expect_split_message(*message, 1);
    }
    for (std::size_t i = 0; i < kSplitSizes.size(); ++i) {
      const Message message = receive_from(*world, 1);
      EXPECT_EQ(message.type(), static_cast<std::int64_t>(i + 1));
      expect_split_message(message, 1);
    }
  }
  barrier();
}

TEST(World, Split_MixedSizesFromSeveralSenders_ReceiveKeepsEachWholeAndInOrder) {
  constexpr int kRounds = 3;
  if (world->rank() == 0) {
    // Every other rank sends at once, so their two-part messages interleave in MPI's queues.
    std::vector<std::int64_t> last_type(static_cast<std::size_t>(world->size()), 0);
    const std::size_t expected =
        kRounds * kSplitSizes.size() * static_cast<std::size_t>(world->size() - 1);
    for (std::size_t k = 0; k < expected; ++k) {
      auto message = world->receive();  // blocking, from anyone
      ASSERT_TRUE(message) << message.error().message();
      const int sender = message->sender().pid;
      ASSERT_GT(sender, 0);
      ASSERT_LT(sender, world->size());
      expect_split_message(*message, sender);
      // From one sender, in the order sent: types 1..n, then again.
      auto& last = last_type[static_cast<std::size_t>(sender)];
      EXPECT_EQ(message->type(), last % static_cast<std::int64_t>(kSplitSizes.size()) + 1)
          << "from rank " << sender;
      last = message->type();
    }
  } else {
    for (int round = 0; round < kRounds; ++round) send_split_sizes(*world, 0);
  }
  barrier();
}

TEST(World, Split_TypeFilterPassesOverATwoPartMessageOfAnotherType) {
  // Rank 1's two-part type 5 (whose first part waits at rank 0 when rank 0 receives) must be
  // passed over whole by a receive of type 7, and then arrive whole. Its send blocks until rank
  // 0 takes it (beyond MPI's eager limit), so the type 7 comes from rank 2.
  const std::size_t large = 2 * kFirstPart + 3;
  if (world->rank() == 1) {
    EXPECT_TRUE(world->send(0, pattern(large, 5), 5));
    EXPECT_TRUE(world->send(0, pattern(10, 55), 5));
  } else if (world->rank() == 2) {
    EXPECT_TRUE(world->send(0, pattern(kFirstPart, 7), 7));
  } else if (world->rank() == 0) {
    // Time for rank 1's first part to arrive (World's communicator cannot be probed from here;
    // if it comes later, the receives below must still sort it out).
    std::this_thread::sleep_for(100ms);
    auto seven = world->receive(7);
    ASSERT_TRUE(seven) << seven.error().message();
    EXPECT_EQ(seven->sender().pid, 2);
    ASSERT_EQ(seven->size(), kFirstPart);
    EXPECT_TRUE(std::ranges::equal(seven->payload(), pattern(kFirstPart, 7)));
    auto five = world->receive();
    ASSERT_TRUE(five) << five.error().message();
    EXPECT_EQ(five->type(), 5);
    ASSERT_EQ(five->size(), large);
    EXPECT_TRUE(std::ranges::equal(five->payload(), pattern(large, 5)));
    const Message small_five = receive_from(*world, 1, 5);
    EXPECT_TRUE(std::ranges::equal(small_five.payload(), pattern(10, 55)));
  }
  barrier();
}

TEST(World, HeldMessages_KeepTheirBytesWhileMoreArrive) {
  // More messages held at once than the receiver has pooled buffers: none may be overwritten.
  constexpr std::size_t kHeld = 3 * conduit::mpi::ReceiveBuffers::kBuffers;
  if (world->rank() == 1) {
    for (std::size_t i = 0; i < kHeld; ++i)
      ASSERT_TRUE(world->send(0, pattern(100 + i, static_cast<int>(i)), 1));
  } else if (world->rank() == 0) {
    std::vector<Message> held;
    for (std::size_t i = 0; i < kHeld; ++i) {
      auto message = world->receive_from(1, 1);
      ASSERT_TRUE(message) << message.error().message();
      held.push_back(*message);
      if (i == kHeld / 2) held.erase(held.begin(), held.begin() + 3);  // some become free again
    }
    for (const Message& message : held) {
      const std::size_t i = message.size() - 100;
      EXPECT_TRUE(std::ranges::equal(message.payload(), pattern(100 + i, static_cast<int>(i))))
          << "held message " << i << " was overwritten";
    }
  }
  barrier();
}

// try_send and send_for of a two-part message that nobody receives yet: it is withdrawn whole or
// stays posted whole (Open MPI cannot cancel sends), never half.
TEST(World, Split_ZeroCapacityTimedSendsOfLargeMessages_NeverHalfDelivered) {
  auto zero = World::init(WorldOptions{Capacity::zero()});
  ASSERT_TRUE(zero) << zero.error().message();
  const std::size_t large = kFirstPart + 1000;
  if (zero->rank() == 0) {
    auto sent = zero->send_for(1, pattern(large, 1), 50ms, 3);
    ASSERT_FALSE(sent);
    EXPECT_EQ(sent.error().code(), Errc::timed_out) << sent.error().message();
    auto tried = zero->try_send(1, pattern(large, 2), 3);
    ASSERT_FALSE(tried);
    EXPECT_EQ(tried.error().code(), Errc::would_block) << tried.error().message();
    const bool stays = sent.error().message().find("stays posted") != std::string::npos;
    const bool tried_stays = tried.error().message().find("stays posted") != std::string::npos;
    ASSERT_TRUE(world->send(1, std::string(stays ? "1" : "0") + (tried_stays ? "1" : "0"), 4));
    // A zero-capacity send of a two-part message, received: returns once both parts are taken.
    ASSERT_TRUE(zero->send(1, pattern(large, 3), 6));
  } else if (zero->rank() == 1) {
    const Message left = receive_from(*world, 0, 4);
    ASSERT_EQ(left.size(), 2u);
    for (int k = 0; k < 2; ++k) {
      if (left.text()[static_cast<std::size_t>(k)] != '1') continue;
      const Message drained = receive_from(*zero, 0, 3);
      ASSERT_EQ(drained.size(), large);
      EXPECT_TRUE(std::ranges::equal(drained.payload(), pattern(large, k + 1)));
    }
    auto stray = zero->receive_from_for(0, 100ms, 3);  // nothing else of type 3: no lone rest
    EXPECT_FALSE(stray);
    auto whole = zero->receive_from(0, 6);
    ASSERT_TRUE(whole) << whole.error().message();
    ASSERT_EQ(whole->size(), large);
    EXPECT_TRUE(std::ranges::equal(whole->payload(), pattern(large, 3)));
  }
  barrier();
}

// The program's own MPI traffic on MPI_COMM_WORLD and the Worlds' messages never meet: a raw
// message (here a large one, which World's protocol would misread) waits for a raw receive.
TEST(World, RawMpiTraffic_IsNotSeenByWorld) {
  const std::size_t large = 2 * kFirstPart;
  if (world->rank() == 1) {
    std::vector<std::byte> raw = pattern(large, 9);
    MPI_Request request = MPI_REQUEST_NULL;
    ASSERT_EQ(
        MPI_Isend(raw.data(), static_cast<int>(large), MPI_BYTE, 0, 9, MPI_COMM_WORLD, &request),
        MPI_SUCCESS);
    EXPECT_TRUE(world->send(0, "from the world", 9));
    EXPECT_EQ(MPI_Wait(&request, MPI_STATUS_IGNORE), MPI_SUCCESS);
  } else if (world->rank() == 0) {
    int waiting = 0;
    const auto deadline = std::chrono::steady_clock::now() + kPatience;
    while (waiting == 0 && std::chrono::steady_clock::now() < deadline)
      MPI_Iprobe(1, 9, MPI_COMM_WORLD, &waiting, MPI_STATUS_IGNORE);
    ASSERT_NE(waiting, 0) << "rank 1's raw message never arrived";
    auto message = world->receive_from(1, 9);  // blocking: the raw message is there, unseen
    ASSERT_TRUE(message) << message.error().message();
    EXPECT_EQ(message->text(), "from the world");
    auto any = world->try_receive();
    EXPECT_FALSE(any) << "a World received raw MPI traffic of " << any->size() << " bytes";
    std::vector<std::byte> raw(large);
    ASSERT_EQ(MPI_Recv(raw.data(), static_cast<int>(large), MPI_BYTE, 1, 9, MPI_COMM_WORLD,
                       MPI_STATUS_IGNORE),
              MPI_SUCCESS);
    EXPECT_TRUE(std::ranges::equal(raw, pattern(large, 9)));
  }
  barrier();
}

}  // namespace

int main(int argc, char** argv) {
  return conduit::mpi::test::run_world_tests(argc, argv, 3, "world_mpi", world);
}
