// mpi::World when the rest of a two-part message cannot be sent, under mpirun -np 3 (ranks 0
// and 1 take part). MPI_Send and its kin are wrapped here through MPI's profiling interface
// (PMPI_*): armed, the wrapper lets a given number of sends through and fails the next one
// without sending it, as a failing link would. The World is built from the library unchanged;
// only this program's MPI entry points differ.
//
// What must hold: the sender's call fails and says the message is lost; the receiver gets an
// error in place of the message instead of waiting for the rest for ever; and both go on, the
// next messages arriving whole.
#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <string>
#include <vector>

#include "../../src/mpi/receive_buffers.hpp"  // kFirstPart: where World splits a message in two
#include "conduit/mpi/world.hpp"
#include "mpi_test_main.hpp"

using namespace std::chrono_literals;
using conduit::Capacity;
using conduit::Errc;
using conduit::mpi::kFirstPart;
using conduit::mpi::World;
using conduit::mpi::WorldOptions;

namespace {

// Sends still let through before one fails; negative: none fails. One thread per rank.
int sends_before_failure = -1;

bool fails_now() {
  if (sends_before_failure < 0) return false;
  return sends_before_failure-- == 0;
}

}  // namespace

// The profiling interface: these replace the library's entry points for this program, and
// call MPI's own through their PMPI_ names.
int MPI_Send(const void* buffer, int count, MPI_Datatype type, int rank, int tag, MPI_Comm comm) {
  if (fails_now()) return MPI_ERR_OTHER;
  return PMPI_Send(buffer, count, type, rank, tag, comm);
}
int MPI_Ssend(const void* buffer, int count, MPI_Datatype type, int rank, int tag, MPI_Comm comm) {
  if (fails_now()) return MPI_ERR_OTHER;
  return PMPI_Ssend(buffer, count, type, rank, tag, comm);
}
int MPI_Isend(const void* buffer, int count, MPI_Datatype type, int rank, int tag, MPI_Comm comm,
              MPI_Request* request) {
  if (fails_now()) return MPI_ERR_OTHER;
  return PMPI_Isend(buffer, count, type, rank, tag, comm, request);
}
int MPI_Issend(const void* buffer, int count, MPI_Datatype type, int rank, int tag, MPI_Comm comm,
               MPI_Request* request) {
  if (fails_now()) return MPI_ERR_OTHER;
  return PMPI_Issend(buffer, count, type, rank, tag, comm, request);
}

namespace {

World* world = nullptr;
constexpr auto kPatience = 60s;
constexpr std::size_t kLarge = kFirstPart + 1000;

using conduit::mpi::test::pattern;

// Rank 1's side of every case: an error where the broken message was (if `broken`), then the
// two messages sent after it, whole.
void expect_error_then_whole_messages(World& w, bool broken) {
  if (broken) {
    auto lost = w.receive_from(0, 5);  // blocking: before the fix, this waited for ever
    ASSERT_FALSE(lost) << "a message of " << lost->size() << " bytes arrived";
    std::printf("receiver: %s\n", lost.error().message().c_str());
    EXPECT_EQ(lost.error().code(), Errc::io) << lost.error().message();
    EXPECT_NE(lost.error().message().find("rank 0"), std::string::npos) << lost.error().message();
    EXPECT_NE(lost.error().message().find("lost"), std::string::npos) << lost.error().message();
  }
  auto small = w.receive_from_for(0, kPatience, 5);
  ASSERT_TRUE(small) << small.error().message();
  EXPECT_EQ(small->text(), "after");
  auto large = w.receive_from_for(0, kPatience, 5);
  ASSERT_TRUE(large) << large.error().message();
  ASSERT_EQ(large->size(), kLarge);
  EXPECT_TRUE(std::ranges::equal(large->payload(), pattern(kLarge, 2)));
}

void send_the_next_messages(World& w) {
  ASSERT_TRUE(w.send(1, "after", 5));
  auto sent = w.send(1, pattern(kLarge, 2), 5);
  ASSERT_TRUE(sent) << sent.error().message();
}

void expect_lost(const conduit::Result<void>& sent, Errc code) {
  ASSERT_FALSE(sent);
  std::printf("sender: %s\n", sent.error().message().c_str());
  EXPECT_EQ(sent.error().code(), code) << sent.error().message();
  EXPECT_NE(sent.error().message().find("lost"), std::string::npos) << sent.error().message();
}

void blocking_send_whose_rest_fails(World& w) {
  if (w.rank() == 0) {
    sends_before_failure = 1;  // the first part goes, the rest fails
    const auto sent = w.send(1, pattern(kLarge, 1), 5);
    sends_before_failure = -1;
    expect_lost(sent, Errc::io);
    send_the_next_messages(w);
  } else if (w.rank() == 1) {
    expect_error_then_whole_messages(w, true);
  }
  ASSERT_TRUE(world->barrier());
}

TEST(SplitFailure, BlockingSend_RestFails_ReceiverGetsAnErrorNotAHang) {
  blocking_send_whose_rest_fails(*world);
}

TEST(SplitFailure, ZeroCapacityBlockingSend_RestFails_ReceiverGetsAnErrorNotAHang) {
  auto zero = World::init(WorldOptions{Capacity::zero()});
  ASSERT_TRUE(zero) << zero.error().message();
  blocking_send_whose_rest_fails(*zero);
}

// A message of exactly kFirstPart bytes has an empty rest: it must still tell a rest from the
// notice that replaces a failed one.
TEST(SplitFailure, MessageOfExactlyTheFirstPart_ArrivesWhole) {
  if (world->rank() == 0) {
    ASSERT_TRUE(world->send(1, pattern(kFirstPart, 3), 5));
  } else if (world->rank() == 1) {
    auto message = world->receive_from_for(0, kPatience, 5);
    ASSERT_TRUE(message) << message.error().message();
    ASSERT_EQ(message->size(), kFirstPart);
    EXPECT_TRUE(std::ranges::equal(message->payload(), pattern(kFirstPart, 3)));
  }
  ASSERT_TRUE(world->barrier());
}

// send_for posts both parts at once: when the rest cannot be posted, the first part is withdrawn
// if MPI can, else the receiver is told. Rank 0 says which, on another type.
TEST(SplitFailure, TimedSend_RestCannotBePosted_NeverHalfDelivered) {
  if (world->rank() == 0) {
    sends_before_failure = 1;
    const auto sent = world->send_for(1, pattern(kLarge, 1), kPatience, 5);
    sends_before_failure = -1;
    expect_lost(sent, Errc::io);
    const bool withdrawn = sent.error().message().find("withdrawn") != std::string::npos;
    ASSERT_TRUE(world->send(1, withdrawn ? "withdrawn" : "broken", 4));
    send_the_next_messages(*world);
  } else if (world->rank() == 1) {
    auto fate = world->receive_from_for(0, kPatience, 4);
    ASSERT_TRUE(fate) << fate.error().message();
    expect_error_then_whole_messages(*world, fate->text() == "broken");
  }
  ASSERT_TRUE(world->barrier());
}

}  // namespace

int main(int argc, char** argv) {
  return conduit::mpi::test::run_world_tests(argc, argv, 2, "split_failure_mpi", world);
}
