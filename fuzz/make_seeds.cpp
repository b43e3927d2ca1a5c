// Writes the seed corpora in fuzz/corpus/ from valid inputs made by conduit itself: real
// segment files of every object kind, frames, byte rings with records in them, msgpack-rpc
// calls, URLs of every scheme. Run it when a layout changes:
//   build/fuzz/fuzz/fuzz_make_seeds fuzz/corpus
#include <stdlib.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <msgpack.hpp>

#include "conduit/msg/channel.hpp"
#include "conduit/msg/endpoint.hpp"
#include "conduit/msg/mailbox.hpp"
#include "conduit/msg/mailbox_layout.hpp"
#include "conduit/ring/byte_ring.hpp"
#include "conduit/shm/shared.hpp"
#include "conduit/shm/shared_memory.hpp"
#include "conduit/transport/framing.hpp"
#include "segment_fuzz.hpp"

namespace {

using namespace conduit;
namespace fs = std::filesystem;
using Bytes = std::vector<std::uint8_t>;

fs::path corpus;

void must(bool ok, const std::string& what) {
  if (!ok) {
    std::fprintf(stderr, "make_seeds: %s\n", what.c_str());
    std::exit(1);
  }
}

void write_seed(const std::string& target, const std::string& name, const Bytes& bytes) {
  fs::create_directories(corpus / target);
  std::ofstream out(corpus / target / name, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  must(out.good(), "cannot write seed " + target + "/" + name);
}

void append(Bytes& to, const void* from, std::size_t size) {
  const auto* bytes = static_cast<const std::uint8_t*>(from);
  to.insert(to.end(), bytes, bytes + size);
}

// --- segment: the object's file as the target lays it out (control, header, payload) ---

void segment_seed(const std::string& name, const fs::path& space) {
  std::ifstream in(space / fuzz::kObjectName, std::ios::binary);
  Bytes file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  must(file.size() > shm::kPayloadOffset, "segment file too small");
  Bytes seed{0};
  append(seed, file.data(), sizeof(shm::SegmentHeader));
  // The payload without its trailing zeros: the target pads with zeros to the header's size.
  std::size_t end = file.size();
  while (end > shm::kPayloadOffset && file[end - 1] == 0) --end;
  seed.insert(seed.end(), file.begin() + shm::kPayloadOffset,
              file.begin() + static_cast<long>(end));
  write_seed("segment", name, seed);
  fs::remove(space / fuzz::kObjectName);
}

void segment_seeds() {
  char pattern[] = "/dev/shm/conduit-seeds.XXXXXX";
  must(::mkdtemp(pattern) != nullptr, "mkdtemp");
  const fs::path space = pattern;
  ::setenv("CONDUIT_NAMESPACE", pattern, 1);
  const std::string hello = "hello";

  must(SharedMemory::create(fuzz::kObjectName, {.size = 256}).has_value(), "shared memory");
  segment_seed("shared_memory", space);

  {
    auto tally = Shared<fuzz::Tally>::create(fuzz::kObjectName, fuzz::Tally{7, 1, 42});
    must(tally.has_value(), "shared object");
  }
  segment_seed("shared_object", space);

  for (auto producers : {Producers::one, Producers::many}) {
    auto channel =
        Channel<std::uint64_t>::create(fuzz::kObjectName, {.capacity = 8, .producers = producers});
    must(channel.has_value(), "channel");
    must(channel->try_send(1).has_value() && channel->try_send(2).has_value(), "channel send");
    segment_seed(producers == Producers::one ? "channel_one" : "channel_many", space);
  }

  struct MailboxSeed {
    const char* name;
    MailboxOptions options;
  };
  const MailboxSeed mailboxes[] = {
      {"mailbox_bounded", {.capacity = Capacity::bounded(4), .max_message_size = 64}},
      {"mailbox_zero", {.capacity = Capacity::zero(), .max_message_size = 64}},
      {"mailbox_broadcast",
       {.capacity = Capacity::bounded(4),
        .max_message_size = 64,
        .receivers = Receivers::broadcast}},
      {"mailbox_exclusive",
       {.capacity = Capacity::bounded(2),
        .max_message_size = 32,
        .receivers = Receivers::exclusive}},
  };
  for (const auto& seed : mailboxes) {
    auto mailbox = Mailbox::create(fuzz::kObjectName, seed.options);
    must(mailbox.has_value(), std::string("mailbox ") + seed.name);
    if (!seed.options.capacity.is_zero()) {
      must(mailbox->try_send(std::string_view(hello), 3).has_value(), "mailbox send");
      must(mailbox->try_send(std::string_view("x"), 1).has_value(), "mailbox send");
    }
    segment_seed(seed.name, space);
  }
  {
    // Messages in both of a bounded mailbox's queues: the ready ring, and a slot behind it.
    auto mailbox = Mailbox::create(fuzz::kObjectName,
                                   {.capacity = Capacity::bounded(4), .max_message_size = 64});
    must(mailbox.has_value(), "mailbox_ring_and_slots");
    must(mailbox->try_send(std::string_view(hello), 3).has_value(), "mailbox send");
    auto loan = mailbox->try_loan(4);
    must(loan.has_value(), "mailbox loan");
    std::memcpy(loan->bytes().data(), "slot", 4);
    must(loan->commit(2).has_value(), "mailbox commit");
    must(mailbox->try_send(std::string_view("x"), 1).has_value(), "mailbox send");
    segment_seed("mailbox_ring_and_slots", space);
  }

  // Regressions found by this target, remade for the current layout (a seed of an older
  // layout stops at the version check): garbage in the mailbox's lock (open waited for ever
  // for a holder that did not exist), and a forged slot total with a repair due (repair tried
  // to map a missing extension once for each of two billion slots).
  const auto forge = [&](const char* name, MailboxOptions options, auto&& change) {
    {
      auto mailbox = Mailbox::create(fuzz::kObjectName, options);
      must(mailbox.has_value(), std::string("mailbox ") + name);
      must(mailbox->try_send(std::string_view(hello), 3).has_value(), "mailbox send");
    }
    std::fstream file(space / fuzz::kObjectName, std::ios::in | std::ios::out | std::ios::binary);
    const std::size_t state_at =
        shm::kPayloadOffset + (sizeof(msg::MailboxConfig) + 63) / 64 * 64;  // kStateOffset
    Bytes state(sizeof(msg::MailboxState));
    file.seekg(static_cast<std::streamoff>(state_at));
    file.read(reinterpret_cast<char*>(state.data()), static_cast<std::streamsize>(state.size()));
    change(*reinterpret_cast<msg::MailboxState*>(state.data()));
    file.seekp(static_cast<std::streamoff>(state_at));
    file.write(reinterpret_cast<const char*>(state.data()),
               static_cast<std::streamsize>(state.size()));
    must(file.good(), std::string("forging ") + name);
    file.close();
    segment_seed(name, space);
  };
  forge("regression_mailbox_forged_mutex",
        {.capacity = Capacity::bounded(4), .max_message_size = 64}, [](msg::MailboxState& state) {
          // The futex word (the mutex's first word) names a thread that cannot exist.
          std::uint32_t holder = 0x3fffff;
          std::memcpy(static_cast<void*>(&state.lock), &holder, sizeof holder);
        });
  forge("regression_mailbox_forged_slot_total",
        {.capacity = Capacity::unbounded(), .max_message_size = 64}, [](msg::MailboxState& state) {
          state.slot_total = msg::kUnboundedInitialSlots * ((2u << msg::kMaxExtensions) - 1);
          state.is_held = 1;
        });

  {
    auto endpoint = Endpoint::join(fuzz::kObjectName,
                                   {.capacity = Capacity::bounded(2), .max_message_size = 32});
    must(endpoint.has_value(), "endpoint");
    segment_seed("endpoint", space);
  }
  fs::remove_all(space);
}

// --- framing: chunk-size byte, then frames ---

void frame(Bytes& to, std::string_view payload, std::int64_t type) {
  const transport::FrameHeader header{transport::kFrameMagic,
                                      static_cast<std::uint32_t>(payload.size()), type};
  append(to, &header, sizeof header);
  append(to, payload.data(), payload.size());
}

void framing_seeds() {
  Bytes one{255};
  frame(one, "hello", 3);
  write_seed("framing", "one_frame", one);
  Bytes split{6};
  frame(split, "", 0);
  frame(split, "a message split across reads", -1);
  frame(split, std::string(300, 'z'), 1 << 20);
  write_seed("framing", "three_frames_split", split);
  Bytes truncated{15};
  frame(truncated, "cut short", 9);
  truncated.resize(truncated.size() - 4);
  write_seed("framing", "truncated", truncated);
}

// --- ring: capacity selector, writes, then the control block and data of a used ring ---

void ring_seeds() {
  for (unsigned shift : {0u, 2u}) {
    const std::uint64_t capacity = ring::kMinByteRingCapacity << shift;
    std::vector<std::byte> memory(ring::byte_ring_size(capacity) + 64);
    auto* aligned = reinterpret_cast<std::byte*>(
        (reinterpret_cast<std::uintptr_t>(memory.data()) + 63) / 64 * 64);
    const std::span<std::byte> bytes(aligned, ring::byte_ring_size(capacity));
    ring::initialize_byte_ring(bytes, capacity);
    auto geometry = ring::map_byte_ring(bytes, capacity);
    must(geometry.has_value(), "map_byte_ring");
    ring::ByteRingWriter writer(*geometry);
    ring::ByteRingReader reader(*geometry);
    // Enough records, some read, that the ring has wrapped and holds a padding record.
    for (int i = 0; i < 12; ++i) {
      auto claim = writer.claim(static_cast<std::size_t>(1 + (i * 5) % writer.max_payload()));
      must(claim.has_value(), "claim");
      if (!*claim) {
        auto record = reader.peek();
        must(record.has_value() && record->has_value(), "peek");
        reader.release();
        continue;
      }
      std::memset((*claim)->data(), 'a' + i, (*claim)->size());
      (void)writer.commit(i);
    }
    Bytes seed{static_cast<std::uint8_t>(shift), 4};
    append(seed, bytes.data(), bytes.size());
    write_seed("ring", "used_" + std::to_string(capacity), seed);
  }
}

// --- rpc: chunk-size byte, then msgpack calls ---

template <class... Fields>
void pack_array(msgpack::sbuffer& into, const Fields&... fields) {
  msgpack::packer<msgpack::sbuffer> packer(into);
  packer.pack_array(sizeof...(Fields));
  (packer.pack(fields), ...);
}

void rpc_seed(const std::string& name, std::uint8_t chunk, const msgpack::sbuffer& calls) {
  Bytes seed{chunk};
  append(seed, calls.data(), calls.size());
  write_seed("rpc", name, seed);
}

void rpc_seeds() {
  msgpack::sbuffer add;
  pack_array(add, 0, 1, std::string("add"), std::vector<int>{1, 2});
  rpc_seed("request_add", 255, add);

  msgpack::sbuffer several;
  pack_array(several, 2, std::string("echo"), std::vector<std::string>{"hi"});
  pack_array(several, 0, 7, std::string("sum"),
             std::make_tuple(std::vector<double>{1.5, 2.5, -3.0}));
  std::map<std::string, std::int64_t> table{{"a", 1}, {"b", 2}};
  pack_array(several, 0, 8, std::string("count"), std::make_tuple(table));
  pack_array(several, 0, 9, std::string("nothing"), std::vector<int>{});
  rpc_seed("several_split", 3, several);

  msgpack::sbuffer mixed;
  pack_array(mixed, 0, 10, std::string("mixed"),
             std::make_tuple(std::uint64_t{1} << 40, true, std::vector<char>{'x', 'y'},
                             std::make_tuple(5, std::string("five"))));
  pack_array(mixed, 0, 11, std::string("add"), std::make_tuple(std::string("one"), 2));
  pack_array(mixed, 1, 12, msgpack::type::nil_t(), 3);  // a response: not a call
  rpc_seed("mixed_and_bad", 40, mixed);
}

// --- url: one of each scheme, and a few that are wrong ---

void url_seeds() {
  const char* urls[] = {
      "tcp://127.0.0.1:8080", "tcp://[::1]:0", "tcp://localhost:65535", "unix:///tmp/conduit.sock",
      "unix://@abstract",     "fifo:///tmp/f", "file:///var/spool/x",   "mq://queue.1",
      "shm://box_2",          "sysv://0x1234", "signal://4242",         "tcp://host:99999"};
  int i = 0;
  for (const char* url : urls) {
    Bytes seed;
    append(seed, url, std::strlen(url));
    write_seed("url", "url_" + std::to_string(i++), seed);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus dir>\n", argv[0]);
    return 2;
  }
  corpus = argv[1];
  segment_seeds();
  framing_seeds();
  ring_seeds();
  rpc_seeds();
  url_seeds();
  return 0;
}
