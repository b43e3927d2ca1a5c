// Fuzzes segment validation and every object's open and first use of its shared layout: the
// fuzz bytes become a segment file in a fresh namespace, which is then opened as every kind of
// object (SharedMemory, Shared<T>, Channel<T>, Mailbox, and an Endpoint's peer), and whatever
// opens is used: stats, try_receive, try_receive_view, try_send, a loan. A peer that wrote
// these bytes may make a call fail (corrupted, invalid_argument, ...), never crash or hang this
// process or make it touch memory outside the segment.
#include <fcntl.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "conduit/msg/channel.hpp"
#include "conduit/msg/endpoint.hpp"
#include "conduit/msg/endpoint_layout.hpp"
#include "conduit/msg/mailbox.hpp"
#include "conduit/msg/mailbox_layout.hpp"
#include "conduit/shm/segment.hpp"
#include "conduit/shm/shared.hpp"
#include "conduit/shm/shared_memory.hpp"
#include "segment_fuzz.hpp"

namespace {

using namespace conduit;
using fuzz::kObjectName;

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "segment fuzz: %s\n", what.c_str());
  std::abort();
}

std::string& namespace_path() {
  static std::string path;
  return path;
}

std::size_t round_up_to_page(std::size_t n) { return (n + 4095) / 4096 * 4096; }

// A lock whose word names a thread that exists is held, as far as anyone can tell: waiting
// for it is what a lock is for, not a hang (a live peer may hold a lock as long as it likes).
// The target does not forge those: it clears the holder of the mailbox's and the endpoint's
// lock when the bytes name a live thread. Words naming no thread stay: they are a dead holder,
// whose lock is taken over (sync/mutex.hpp).
void release_live_holder(std::vector<std::byte>& file, std::uint32_t kind) {
  std::size_t at = 0;
  if (kind == static_cast<std::uint32_t>(shm::SegmentKind::mailbox)) {
    at = shm::kPayloadOffset + sizeof(msg::MailboxConfig) + offsetof(msg::MailboxState, lock);
  } else if (kind == static_cast<std::uint32_t>(shm::SegmentKind::endpoint)) {
    at = shm::kPayloadOffset + offsetof(msg::EndpointState, lock);
  } else {
    return;
  }
  std::uint32_t word;
  std::memcpy(&word, file.data() + at, sizeof word);  // the Mutex's futex word comes first
  const auto holder = static_cast<pid_t>(word & FUTEX_TID_MASK);  // the holder's bits, as Mutex
  if (holder != 0 && !(::kill(holder, 0) != 0 && errno == ESRCH)) {
    word &= ~FUTEX_TID_MASK;
    std::memcpy(file.data() + at, &word, sizeof word);
  }
}

// The file the input describes (see segment_fuzz.hpp).
std::vector<std::byte> segment_file(const std::uint8_t* data, std::size_t size) {
  shm::SegmentHeader header{};
  std::memcpy(&header, data + fuzz::kHeaderAt, std::min(sizeof header, size - fuzz::kHeaderAt));
  const std::size_t given = size > fuzz::kPayloadAt ? size - fuzz::kPayloadAt : 0;
  const std::size_t payload = round_up_to_page(std::max<std::size_t>(
      {given, 1, std::min<std::uint64_t>(header.payload_size, fuzz::kMaxPayload)}));
  std::vector<std::byte> file(shm::kPayloadOffset + payload);
  if ((data[0] & fuzz::kRawHeader) == 0) {
    header.magic = shm::kSegmentMagic;
    header.layout_version = shm::kSegmentLayoutVersion;
    header.header_size = sizeof(shm::SegmentHeader);
    header.segment_size = file.size();
    header.payload_offset = shm::kPayloadOffset;
    header.checksum = shm::header_checksum(header);
  }
  std::memcpy(file.data(), &header, sizeof header);
  if (given > 0) std::memcpy(file.data() + shm::kPayloadOffset, data + fuzz::kPayloadAt, given);
  release_live_holder(file, header.kind);
  return file;
}

void write_file(const std::vector<std::byte>& file) {
  const std::string path = namespace_path() + "/" + kObjectName;
  ::unlink(path.c_str());
  const int fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) fail("cannot create " + path);
  if (::write(fd, file.data(), file.size()) != static_cast<ssize_t>(file.size())) {
    fail("cannot write " + path);
  }
  ::close(fd);
}

// Empties the namespace between inputs: the fuzzed object and whatever opening it made.
void clear_namespace() {
  std::error_code ignored;
  for (const auto& entry : std::filesystem::directory_iterator(namespace_path(), ignored)) {
    std::filesystem::remove(entry.path(), ignored);
  }
}

// Touches every byte of `bytes`: a span that reaches past its memory faults here.
std::uint64_t touch(std::span<const std::byte> bytes) {
  std::uint64_t sum = 0;
  for (std::byte b : bytes) sum += std::to_integer<unsigned>(b);
  return sum;
}

void check_error(const Error& error, const char* what) {
  if (error.message().empty()) fail(std::string(what) + ": an error without a message");
}

void use_shared_memory() {
  auto memory = SharedMemory::open(kObjectName);
  if (!memory) return check_error(memory.error(), "SharedMemory::open");
  (void)touch(memory->bytes());
}

void use_shared_object() {
  auto tally = Shared<fuzz::Tally>::open(kObjectName);
  if (!tally) return check_error(tally.error(), "Shared::open");
  (*tally)->count += 1;
}

void use_channel() {
  auto channel = Channel<std::uint64_t>::open(kObjectName);
  if (!channel) return check_error(channel.error(), "Channel::open");
  (void)channel->stats();
  (void)channel->depth();
  for (int i = 0; i < 4; ++i) {
    auto got = channel->try_receive();
    if (!got) break;
  }
  std::uint64_t batch[8];
  (void)channel->try_receive_batch(batch);
  (void)channel->try_send(42);
  const std::uint64_t many[3] = {1, 2, 3};
  (void)channel->try_send_batch(many);
  (void)channel->try_receive();
}

void use_mailbox() {
  auto mailbox = Mailbox::open(kObjectName);
  if (!mailbox) return check_error(mailbox.error(), "Mailbox::open");
  const MailboxStats stats = mailbox->stats();
  for (int i = 0; i < 4; ++i) {
    auto got = mailbox->try_receive();
    if (!got) break;
    (void)touch(got->payload());
  }
  if (auto view = mailbox->try_receive_view(); view) (void)touch(view->payload());
  (void)mailbox->try_receive(-5);
  (void)mailbox->try_send(std::string_view("fuzz"), 3);
  if (auto loan = mailbox->try_loan(16); loan) {
    std::memset(loan->bytes().data(), 0x5A, loan->bytes().size());
    // A rendezvous commit waits for a receiver, as send() does: give that loan back instead.
    if (!stats.capacity.is_zero()) (void)loan->commit(7);
  }
  if (auto got = mailbox->try_receive(); got) (void)touch(got->payload());
}

void use_endpoint_peer() {
  auto me = Endpoint::join("fuzzer");
  if (!me) fail("Endpoint::join: " + me.error().message());
  (void)me->try_send(kObjectName, std::string_view("hello"));
  (void)me->try_receive_from(kObjectName);
  (void)me->try_receive();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  char pattern[] = "/dev/shm/conduit-fuzz.XXXXXX";
  if (::mkdtemp(pattern) == nullptr) fail("mkdtemp failed");
  namespace_path() = pattern;
  ::setenv("CONDUIT_NAMESPACE", pattern, 1);
  // The directory goes when the fuzzer exits, whatever it found.
  std::atexit([] {
    std::error_code ignored;
    std::filesystem::remove_all(namespace_path(), ignored);
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const auto file = segment_file(data, size);
  for (auto use :
       {use_shared_memory, use_shared_object, use_channel, use_mailbox, use_endpoint_peer}) {
    write_file(file);  // afresh for each: a use may write into it, or remove it
    use();
  }
  clear_namespace();
  return 0;
}
