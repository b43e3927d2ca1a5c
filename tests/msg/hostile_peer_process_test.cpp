// A hostile peer (DESIGN: "a corrupted or hostile peer can make a call fail with corrupted; it
// can never make this process crash, hang forever or touch memory outside the segment"):
// another process maps a live mailbox's file and scribbles random bytes over it while a sender
// and a receiver use it. The receiver must get messages or errors — never a crash, never a
// hang (a watchdog kills it after 30 s and the test fails).
//
// Truncating the file is left out on purpose: mailbox.hpp says a peer with write permission
// that shrinks the file turns reads into SIGBUS (tmpfs files cannot be sealed).
//
// The lock is scribbled too, all 40 bytes of it: conduit's Mutex keeps no pointers in shared
// memory (sync/mutex.hpp), so a made-up lock word is at worst a dead holder to take over, and
// the "links" rounds overwrite the lock's bytes on purpose. (Until the Mutex had its own
// futex word, it was glibc's robust mutex, whose robust-list pointers sat in those bytes, and
// the receiver crashed inside pthread_mutex_unlock.)
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>

#include "conduit/msg/mailbox.hpp"
#include "process.hpp"

namespace conduit {
namespace {

using test::Child;
using namespace std::chrono_literals;

class HostilePeerTest : public test::ProcessTest {};

/// What the receiver saw, in memory shared with the parent (outside conduit).
struct Tally {
  std::atomic<std::uint64_t> intact, altered, corrupted, timed_out, other_errors, closed;
};

Tally* shared_tally() {
  void* memory =
      ::mmap(nullptr, sizeof(Tally), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  return new (memory) Tally{};
}

constexpr std::size_t kMaxMessage = 256;

/// A payload whose last byte is a checksum of the others: the scribbler may change payload
/// bytes (they are the user's), which the receiver counts as `altered`.
std::string payload(std::uint64_t n) {
  std::string text(16 + n % 200, '\0');
  for (std::size_t i = 0; i + 1 < text.size(); ++i) text[i] = static_cast<char>('a' + (n + i) % 26);
  unsigned char sum = 0;
  for (std::size_t i = 0; i + 1 < text.size(); ++i) sum += static_cast<unsigned char>(text[i]);
  text.back() = static_cast<char>(sum);
  return text;
}

bool is_intact(std::span<const std::byte> bytes) {
  if (bytes.empty()) return false;
  unsigned char sum = 0;
  for (std::size_t i = 0; i + 1 < bytes.size(); ++i) sum += static_cast<unsigned char>(bytes[i]);
  return sum == static_cast<unsigned char>(bytes.back());
}

/// One round: a sender, a receiver and a scribbler on one mailbox for `duration`.
void run_round(const std::string& name, MailboxOptions options, std::uint64_t seed,
               const std::string& path, Tally* tally, std::chrono::milliseconds duration,
               bool is_lock_targeted) {
  ASSERT_TRUE(Mailbox::create(name, options));
  const auto until = [duration] { return std::chrono::steady_clock::now() + duration; };
  Child sender([&] {
    auto box = Mailbox::open(name);
    if (!box) return 0;  // refused at open (the scribbler got there first) is fine
    const auto end = until();
    for (std::uint64_t n = 0; std::chrono::steady_clock::now() < end; ++n)
      (void)box->send_for(std::string_view(payload(n)), 2ms);  // errors are expected here
    return 0;
  });
  Child receiver([&] {
    auto box = Mailbox::open(name);
    if (!box) return 0;  // the scribbler may have got there first: refused at open is fine
    const auto end = until() + 100ms;
    while (std::chrono::steady_clock::now() < end) {
      auto got = box->receive_for(2ms);
      if (got) {
        // Whatever the header says, a message handed out is within the configured size.
        CHILD_CHECK(got->payload().size() <= kMaxMessage);
        (is_intact(got->payload()) ? tally->intact : tally->altered).fetch_add(1);
        continue;
      }
      switch (got.error().code()) {
        case Errc::corrupted: tally->corrupted.fetch_add(1); break;
        case Errc::timed_out:
        case Errc::would_block: tally->timed_out.fetch_add(1); break;
        // A scribbled flag can say removed, or name an exclusive holder or a dead owner:
        // refusals, not crashes.
        case Errc::closed: tally->closed.fetch_add(1); break;
        default: tally->other_errors.fetch_add(1); break;
      }
    }
    return 0;
  });
  Child scribbler([&] {
    const int fd = ::open(path.c_str(), O_RDWR);
    CHILD_CHECK(fd >= 0);
    struct stat st{};
    CHILD_CHECK(::fstat(fd, &st) == 0);
    const auto size = static_cast<std::size_t>(st.st_size);
    auto* bytes = static_cast<unsigned char*>(
        ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    CHILD_CHECK(bytes != MAP_FAILED);
    // The mailbox lock: the segment header says where the payload starts (u64 at offset 24);
    // MailboxConfig (128 bytes) precedes the state, whose first member is the lock (40 bytes).
    std::uint64_t payload_offset = 0;
    std::memcpy(&payload_offset, bytes + 24, sizeof payload_offset);
    const std::size_t lock = payload_offset + 128;
    std::mt19937_64 random(seed);
    const auto end = until();
    while (std::chrono::steady_clock::now() < end) {
      // Mostly a few bytes anywhere; sometimes whole words of 0, all ones or huge values,
      // which are what sizes, indices and counts go wrong with.
      // Lock-targeted rounds aim every other scribble at the lock's bytes.
      const bool is_at_lock = is_lock_targeted && random() % 2 == 0 && lock + 40 <= size;
      const std::size_t at = is_at_lock ? lock + random() % 40 : random() % size;
      switch (random() % 4) {
        case 0: bytes[at] = static_cast<unsigned char>(random()); break;
        case 1: bytes[at] ^= static_cast<unsigned char>(1u << (random() % 8)); break;
        default: {
          const std::size_t word = at & ~std::size_t{7};
          if (word + 8 > size) break;
          const std::uint64_t values[] = {0, ~std::uint64_t{0}, std::uint64_t{1} << 40, random(),
                                          0x7fffffff};
          std::memcpy(bytes + word, &values[random() % 5], 8);
        }
      }
      ::usleep(static_cast<useconds_t>(random() % 200));
    }
    return 0;
  });
  // The scribbler and the sender end on their own; the receiver must too.
  (void)scribbler.wait(30s);
  const auto received = receiver.wait(30s);
  EXPECT_FALSE(received.timed_out) << "the receiver hung";
  EXPECT_EQ(received.signal, 0) << "the receiver crashed: " << received.describe();
  EXPECT_TRUE(received.ok()) << received.describe();
  const auto sent = sender.wait(30s);
  EXPECT_FALSE(sent.timed_out) << "the sender hung";
  EXPECT_EQ(sent.signal, 0) << "the sender crashed: " << sent.describe();
  (void)Mailbox::remove(name);
}

void run_rounds(const HostilePeerTest& test, const std::string& path_base, MailboxOptions options,
                const char* what, bool is_lock_targeted = false) {
  Tally* tally = shared_tally();
  constexpr int kRounds = 12;
  for (int round = 0; round < kRounds; ++round) {
    const std::string name = std::string(what) + std::to_string(round);
    SCOPED_TRACE(name);
    run_round(name, options, 1000 + round, path_base + "/" + name, tally, 150ms, is_lock_targeted);
    if (::testing::Test::HasFatalFailure()) return;
  }
  std::printf(
      "%s: %d rounds: intact %llu, altered %llu, corrupted %llu, timed out %llu, "
      "closed %llu, other errors %llu\n",
      what, kRounds, static_cast<unsigned long long>(tally->intact.load()),
      static_cast<unsigned long long>(tally->altered.load()),
      static_cast<unsigned long long>(tally->corrupted.load()),
      static_cast<unsigned long long>(tally->timed_out.load()),
      static_cast<unsigned long long>(tally->closed.load()),
      static_cast<unsigned long long>(tally->other_errors.load()));
  (void)test;
}

TEST_F(HostilePeerTest, ScribbledBoundedMailbox_ReceiverGetsMessagesOrErrorsNeverCrashesOrHangs) {
  run_rounds(*this, namespace_path(),
             {.capacity = Capacity::bounded(8), .max_message_size = kMaxMessage}, "bounded");
}

TEST_F(HostilePeerTest,
       ScribbledZeroCapacityMailbox_ReceiverGetsMessagesOrErrorsNeverCrashesOrHangs) {
  run_rounds(*this, namespace_path(),
             {.capacity = Capacity::zero(), .max_message_size = kMaxMessage}, "zero");
}

TEST_F(HostilePeerTest, ScribbledBroadcastMailbox_ReceiverGetsMessagesOrErrorsNeverCrashesOrHangs) {
  run_rounds(*this, namespace_path(),
             {.capacity = Capacity::bounded(8),
              .max_message_size = kMaxMessage,
              .receivers = Receivers::broadcast},
             "broadcast");
}

// The bytes that were glibc's robust-list pointers, and the rest of the lock.
TEST_F(HostilePeerTest, ScribbledLock_ReceiverNeverCrashes) {
  run_rounds(*this, namespace_path(),
             {.capacity = Capacity::bounded(8), .max_message_size = kMaxMessage}, "lock", true);
}

}  // namespace
}  // namespace conduit
