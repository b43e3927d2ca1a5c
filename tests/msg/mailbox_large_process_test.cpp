// Hand-off of large messages (send_large): beyond max_message_size, without copies. The
// receiver maps the sender's sealed memfd copy-on-write: it shares the pages until it writes,
// writes stay private on both sides, the sender cannot change what was sent, descriptors and
// memory do not leak, and a sender killed right after sending does not take its message along.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>

#include "conduit/msg/endpoint.hpp"
#include "conduit/msg/large_buffer.hpp"
#include "conduit/msg/mailbox.hpp"
#include "large_pattern.hpp"
#include "process.hpp"

namespace conduit {
namespace {

using test::anonymous_bytes;
using test::Child;
using test::count_wrong;
using test::fill;
using namespace std::chrono_literals;

class MailboxLargeTest : public test::ProcessTest {};

constexpr std::size_t kMiB = std::size_t{1} << 20;
constexpr std::size_t kPage = 4096;

/// Shared memory in use system-wide (/proc/meminfo Shmem: tmpfs and memfd pages), in bytes.
std::size_t system_shmem_bytes() { return test::proc_kib_field("/proc/meminfo", "Shmem:"); }

std::size_t open_descriptors() {
  std::size_t count = 0;
  DIR* directory = ::opendir("/proc/self/fd");
  while (::readdir(directory) != nullptr) ++count;
  ::closedir(directory);
  return count;
}

bool is_mapped(const void* address) {
  unsigned char resident = 0;
  return ::mincore(const_cast<void*>(address), 1, &resident) == 0;
}

TEST_F(MailboxLargeTest, HandOff_256MiB_SharesPagesUntilTheReceiverWrites) {
  constexpr std::size_t kSize = 256 * kMiB;
  // Default options: a 4 KiB max_message_size, far below the message.
  ASSERT_TRUE(Mailbox::create("big"));
  ASSERT_TRUE(Mailbox::create("to_receiver"));
  ASSERT_TRUE(Mailbox::create("to_sender"));
  Child receiver([] {
    auto box = Mailbox::open("big");
    auto from_sender = Mailbox::open("to_receiver");
    auto to_sender = Mailbox::open("to_sender");
    CHILD_CHECK(box && from_sender && to_sender);
    const std::size_t before = anonymous_bytes();
    auto message = box->receive_for(60s);
    CHILD_CHECK(message.has_value());
    CHILD_CHECK(message->size() == kSize);
    CHILD_CHECK(message->is_handed_off());
    CHILD_CHECK(message->type() == 9);
    // Read every byte's word: all there, and no private copy made for reading.
    CHILD_CHECK(count_wrong(message->payload(), 1) == 0);
    const std::size_t after_reading = anonymous_bytes();
    std::fprintf(stderr, "receiver anonymous: before %zu KiB, after reading 256 MiB %zu KiB\n",
                 before / 1024, after_reading / 1024);
    // Under TSan every byte read gets shadow memory, counted as anonymous: no figure to check.
    CHILD_CHECK(test::kUnderThreadSanitizer ||
                after_reading < before + 16 * kMiB + test::shadow_of(kSize));
    // The sender writes its own view after sending: we must not see it.
    auto written = from_sender->receive_for(60s);
    CHILD_CHECK(written && written->text() == "sender wrote");
    CHILD_CHECK(count_wrong(message->payload().first(kPage), 1) == 0);
    // Writing 8 MiB copies those pages only, privately.
    auto mine = message->writable_payload();
    CHILD_CHECK(mine.size() == kSize);
    std::memset(mine.data() + kPage, 0xee, 8 * kMiB);
    const std::size_t after_writing = anonymous_bytes();
    std::fprintf(stderr, "receiver anonymous after writing 8 MiB: %zu KiB\n", after_writing / 1024);
    CHILD_CHECK(after_writing >= after_reading + 8 * kMiB);
    CHILD_CHECK(test::kUnderThreadSanitizer || after_writing < after_reading + 24 * kMiB);
    CHILD_CHECK(count_wrong(message->payload().subspan(kPage + 8 * kMiB), 1, kPage + 8 * kMiB) ==
                0);
    CHILD_CHECK(to_sender->send("receiver wrote"));
    return 0;
  });
  auto box = Mailbox::open("big");
  auto to_receiver = Mailbox::open("to_receiver");
  auto from_receiver = Mailbox::open("to_sender");
  ASSERT_TRUE(box && to_receiver && from_receiver);
  auto buffer = LargeBuffer::create(kSize);
  ASSERT_TRUE(buffer) << buffer.error().message();
  fill(buffer->bytes(), 1);
  auto sent = box->send_large(*buffer, 9);
  ASSERT_TRUE(sent) << sent.error().message();
  EXPECT_TRUE(buffer->is_sealed());
  // After the seal the sender's view is copy-on-write as well.
  std::memset(buffer->bytes().data(), 0x55, kPage);
  ASSERT_TRUE(to_receiver->send("sender wrote"));
  auto done = from_receiver->receive_for(60s);
  ASSERT_TRUE(done) << done.error().message();
  EXPECT_EQ(done->text(), "receiver wrote");
  EXPECT_EQ(count_wrong(buffer->bytes().subspan(kPage), 1, kPage), 0u)
      << "the receiver's write leaked";
  EXPECT_TRUE(receiver.wait(120s).ok());
}

TEST_F(MailboxLargeTest, SealedBuffer_CannotBeChangedBySender) {
  auto buffer = LargeBuffer::create(kMiB);
  ASSERT_TRUE(buffer);
  fill(buffer->bytes(), 2);
  auto box = Mailbox::create("sealed");
  ASSERT_TRUE(box);
  ASSERT_TRUE(box->send_large(*buffer));
  const int fd = buffer->fd();
  const char byte = 'x';
  EXPECT_EQ(::pwrite(fd, &byte, 1, 0), -1);
  EXPECT_EQ(errno, EPERM);
  EXPECT_EQ(::ftruncate(fd, 0), -1);
  EXPECT_EQ(::ftruncate(fd, 2 * kMiB), -1);
  EXPECT_EQ(::fallocate(fd, 0, 0, 4 * kMiB), -1);
  EXPECT_EQ(::mmap(nullptr, kMiB, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), MAP_FAILED);
  EXPECT_EQ(::fcntl(fd, F_ADD_SEALS, 0), -1) << "the seals themselves are sealed";
  auto got = box->try_receive();
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(count_wrong(got->payload(), 2), 0u);
}

TEST_F(MailboxLargeTest, ReceivedMessage_KeepsNoDescriptorAndUnmapsWhenDestroyed) {
  auto box = Mailbox::create("fds");
  ASSERT_TRUE(box);
  Child sender([] {
    auto out = Mailbox::open("fds");
    CHILD_CHECK(out.has_value());
    for (std::uint64_t i = 0; i < 20; ++i) {
      std::vector<std::byte> bytes(kMiB + i * 777);
      fill(bytes, i);
      CHILD_CHECK(out->send_large(bytes, static_cast<std::int64_t>(i + 1)));
    }
    return 0;
  });
  ASSERT_TRUE(sender.wait().ok());
  const std::size_t descriptors = open_descriptors();
  for (std::uint64_t i = 0; i < 20; ++i) {
    const void* address = nullptr;
    {
      auto got = box->try_receive();
      ASSERT_TRUE(got) << got.error().message();
      ASSERT_EQ(got->size(), kMiB + i * 777);
      EXPECT_EQ(count_wrong(got->payload(), i), 0u);
      EXPECT_EQ(open_descriptors(), descriptors) << "the memfd closes once mapped";
      address = got->payload().data();
      EXPECT_TRUE(is_mapped(address));
    }
    EXPECT_FALSE(is_mapped(address)) << "the mapping goes with the Message";
  }
  EXPECT_EQ(open_descriptors(), descriptors);
  EXPECT_EQ(box->try_receive().error().code(), Errc::would_block);
}

TEST_F(MailboxLargeTest, UnreadHandOffs_AreFreedWhenTheMailboxIsRemoved) {
  constexpr std::size_t kSize = 256 * kMiB;
  auto box = Mailbox::create("unread");
  ASSERT_TRUE(box);
  const std::size_t descriptors = open_descriptors();
  ASSERT_TRUE(test::run_in_child([] {
                auto out = Mailbox::open("unread");
                CHILD_CHECK(out.has_value());
                auto buffer = LargeBuffer::create(kSize);
                CHILD_CHECK(buffer.has_value());
                fill(buffer->bytes(), 3);
                CHILD_CHECK(out->send_large(*buffer));
                return 0;
              }).ok());
  // The sender is gone; its 256 MiB wait in the mailbox's socket, held by this handle only.
  EXPECT_EQ(open_descriptors(), descriptors)
      << "a queued hand-off costs the receiver no descriptor";
  EXPECT_EQ(box->stats().depth, 1u);
  // Shmem is system-wide: another process may change it meanwhile, but not by 200 MiB the
  // other way at this very moment.
  const std::size_t before = system_shmem_bytes();
  ASSERT_TRUE(Mailbox::remove("unread"));
  const std::size_t after = system_shmem_bytes();
  std::fprintf(stderr, "Shmem before remove %zu MiB, after %zu MiB\n", before / kMiB, after / kMiB);
  EXPECT_LT(after + 200 * kMiB, before) << "the unread message's memory was not freed";
  EXPECT_EQ(open_descriptors(), descriptors);
}

TEST_F(MailboxLargeTest, SenderKilledAfterSend_ReceiverStillReadsTheWholeMessage) {
  constexpr std::size_t kSize = 64 * kMiB;
  auto box = Mailbox::create("orphan");
  ASSERT_TRUE(box);
  Child sender([] {
    auto out = Mailbox::open("orphan");
    CHILD_CHECK(out.has_value());
    auto buffer = LargeBuffer::create(kSize);
    CHILD_CHECK(buffer.has_value());
    fill(buffer->bytes(), 4);
    CHILD_CHECK(out->send_large(*buffer, 4));
    ::kill(::getpid(), SIGKILL);  // the instant send returned
    return 1;
  });
  const pid_t sender_pid = sender.pid();
  const auto exit = sender.wait();
  ASSERT_EQ(exit.signal, SIGKILL) << exit.describe();
  auto got = box->receive_for(30s);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(got->type(), 4);
  EXPECT_EQ(got->sender().pid, sender_pid);
  ASSERT_EQ(got->size(), kSize);
  EXPECT_EQ(count_wrong(got->payload(), 4), 0u);
}

TEST_F(MailboxLargeTest, HandOffsAndCopies_MixAndAreSelectedByType) {
  auto box = Mailbox::create("mixed", {.capacity = Capacity::bounded(8)});
  ASSERT_TRUE(box);
  ASSERT_TRUE(test::run_in_child([] {
                auto out = Mailbox::open("mixed");
                CHILD_CHECK(out.has_value());
                for (std::uint64_t type = 1; type <= 3; ++type) {
                  std::vector<std::byte> bytes(2 * kMiB);
                  fill(bytes, type);
                  CHILD_CHECK(out->send_large(bytes, static_cast<std::int64_t>(type)));
                  CHILD_CHECK(out->send("small", static_cast<std::int64_t>(type + 10)));
                }
                return 0;
              }).ok());
  // Out of order: the socket's queue is rotated to find each one.
  for (std::int64_t type : {3, 12, 1, 11, 2, 13}) {
    auto got = box->try_receive(type);
    ASSERT_TRUE(got) << got.error().message();
    EXPECT_EQ(got->type(), type);
    if (type < 10) {
      EXPECT_TRUE(got->is_handed_off());
      EXPECT_EQ(count_wrong(got->payload(), static_cast<std::uint64_t>(type)), 0u);
    } else {
      EXPECT_EQ(got->text(), "small");
    }
  }
  EXPECT_EQ(box->try_receive().error().code(), Errc::would_block);
}

TEST_F(MailboxLargeTest, Broadcast_EveryReceiverMapsTheSameHandOff) {
  ASSERT_TRUE(Mailbox::create("all", {.receivers = Receivers::broadcast}));
  auto first = Mailbox::open("all");
  auto second = Mailbox::open("all");
  ASSERT_TRUE(first && second);
  ASSERT_TRUE(test::run_in_child([] {
                auto out = Mailbox::open("all", MailboxRole::sender);
                CHILD_CHECK(out.has_value());
                std::vector<std::byte> bytes(3 * kMiB);
                fill(bytes, 5);
                CHILD_CHECK(out->send_large(bytes));
                return 0;
              }).ok());
  auto a = first->try_receive();
  auto b = second->try_receive();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(count_wrong(a->payload(), 5), 0u);
  std::memset(a->writable_payload().data(), 0, kPage);
  EXPECT_EQ(count_wrong(b->payload(), 5), 0u) << "one receiver's write is private to it";
}

TEST_F(MailboxLargeTest, ZeroCapacity_HandOffIsARendezvous) {
  ASSERT_TRUE(Mailbox::create("meet", {.capacity = Capacity::zero()}));
  Child receiver([] {
    auto in = Mailbox::open("meet");
    CHILD_CHECK(in.has_value());
    auto got = in->receive_for(30s);
    CHILD_CHECK(got.has_value());
    CHILD_CHECK(count_wrong(got->payload(), 6) == 0);
    return 0;
  });
  auto box = Mailbox::open("meet");
  ASSERT_TRUE(box);
  auto buffer = LargeBuffer::create(5 * kMiB);
  ASSERT_TRUE(buffer);
  fill(buffer->bytes(), 6);
  ASSERT_TRUE(box->send_large(*buffer));
  EXPECT_TRUE(receiver.wait().ok());
  // Nobody waits now: a timed hand-off is withdrawn, its descriptor with it.
  EXPECT_EQ(box->send_large_for(*buffer, 50ms).error().code(), Errc::timed_out);
  EXPECT_EQ(box->try_receive().error().code(), Errc::would_block);
}

TEST_F(MailboxLargeTest, TinyMailbox_RefusesHandOffClearly) {
  auto box = Mailbox::create("tiny", {.max_message_size = 16});
  ASSERT_TRUE(box);
  std::vector<std::byte> bytes(100);
  auto sent = box->send_large(bytes);
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().code(), Errc::message_too_large);
  EXPECT_NE(sent.error().message().find("tiny"), std::string::npos) << sent.error().message();
}

TEST_F(MailboxLargeTest, Endpoint_SendLargeReachesThePeer) {
  Child peer([] {
    auto me = Endpoint::join("bob");
    CHILD_CHECK(me.has_value());
    auto got = me->receive_from_for("alice", 30s);
    CHILD_CHECK(got.has_value());
    CHILD_CHECK(got->size() == 32 * kMiB);
    CHILD_CHECK(got->is_handed_off());
    CHILD_CHECK(count_wrong(got->payload(), 7) == 0);
    CHILD_CHECK(me->send("alice", "thanks"));
    return 0;
  });
  auto me = Endpoint::join("alice");
  ASSERT_TRUE(me);
  std::vector<std::byte> bytes(32 * kMiB);
  fill(bytes, 7);
  Result<void> sent;
  for (int attempt = 0; attempt < 3000; ++attempt) {  // until bob has joined
    sent = me->send_large("bob", bytes);
    if (sent || sent.error().code() != Errc::not_found) break;
    ::usleep(1000);
  }
  ASSERT_TRUE(sent) << sent.error().message();
  auto thanks = me->receive_from_for("bob", 30s);
  ASSERT_TRUE(thanks) << thanks.error().message();
  EXPECT_EQ(thanks->text(), "thanks");
  EXPECT_TRUE(peer.wait().ok());
}

}  // namespace
}  // namespace conduit
