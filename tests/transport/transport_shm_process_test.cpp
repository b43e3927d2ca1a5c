// shm:// beyond the conformance suite: a received message is the mailbox's own, renumbered, not
// wrapped (no allocation per message on the receiving side).
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "conduit/transport/transport.hpp"
#include "process.hpp"

// The sanitizers' runtimes define operator new and delete themselves: there, nothing is counted
// and the test says it skips.
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define CONDUIT_COUNTS_ALLOCATIONS 0
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define CONDUIT_COUNTS_ALLOCATIONS 0
#endif
#endif
#ifndef CONDUIT_COUNTS_ALLOCATIONS
#define CONDUIT_COUNTS_ALLOCATIONS 1
#endif

namespace {

// Counts this process's allocations through operator new while `counting` is set (the whole
// test program shares the replacement; it only counts here).
std::atomic<bool> counting{false};
std::atomic<std::size_t> allocations{0};

}  // namespace

#if CONDUIT_COUNTS_ALLOCATIONS
void* operator new(std::size_t size) {
  if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* memory = std::malloc(size != 0 ? size : 1)) return memory;
  throw std::bad_alloc();
}
void operator delete(void* memory) noexcept { std::free(memory); }
void operator delete(void* memory, std::size_t) noexcept { std::free(memory); }
#endif

namespace conduit {
namespace {

using test::Child;
using namespace std::chrono_literals;

class ShmTransportTest : public test::ProcessTest {};

// The sender queues kMessages (under the link's 32) and waits for a word back; the receiver
// takes a few to warm up, then counts its allocations over the rest. Before: one make_shared
// per message (the received Message was wrapped to renumber it).
TEST_F(ShmTransportTest, Receive_AllocatesNothingPerMessage) {
  if (!CONDUIT_COUNTS_ALLOCATIONS) GTEST_SKIP() << "a sanitizer's runtime owns operator new";
  constexpr int kMessages = 24;
  constexpr int kWarmUp = 4;
  auto listener = listen("shm://alloc-" + std::to_string(::getpid()));
  ASSERT_TRUE(listener) << listener.error().message();
  const std::string url = listener->url();
  Child child([&] {
    auto connection = connect(url);
    if (!connection) return 1;
    for (int i = 0; i < kMessages; ++i) {
      const std::string text = "message " + std::to_string(i);
      if (!connection->send(bytes_of(text), i)) return 2;
    }
    return connection->receive_for(30s) ? 0 : 3;
  });
  auto connection = listener->accept_for(30s);
  ASSERT_TRUE(connection) << connection.error().message();

  std::vector<std::string> texts;
  std::vector<std::uint64_t> sequences;
  texts.reserve(kMessages);
  sequences.reserve(kMessages);
  const auto take = [&](int count) {
    for (int i = 0; i < count; ++i) {
      auto message = connection->receive_for(30s);
      if (!message) return false;
      sequences.push_back(message->sequence());
      if (message->type() == static_cast<std::int64_t>(texts.size()))
        texts.emplace_back(message->text());  // short: in the string's own storage
    }
    return true;
  };
  ASSERT_TRUE(take(kWarmUp));
  allocations = 0;
  counting = true;
  const bool is_taken = take(kMessages - kWarmUp);
  counting = false;
  ASSERT_TRUE(is_taken);
  EXPECT_EQ(allocations.load(), 0u);

  ASSERT_EQ(texts.size(), static_cast<std::size_t>(kMessages));  // whole, in order, typed
  for (int i = 0; i < kMessages; ++i) {
    EXPECT_EQ(texts[static_cast<std::size_t>(i)], "message " + std::to_string(i));
    EXPECT_EQ(sequences[static_cast<std::size_t>(i)], static_cast<std::uint64_t>(i + 1));
  }
  ASSERT_TRUE(connection->send(bytes_of(std::string_view("done"))));
  EXPECT_TRUE(child.wait().ok());
}

}  // namespace
}  // namespace conduit
