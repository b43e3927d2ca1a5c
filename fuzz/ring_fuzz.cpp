// Fuzzes the variable-size record ring (ring/byte_ring.hpp) that mailboxes carry their messages
// in: a ring whose control block and records are laid out from the fuzz bytes, as a hostile or
// broken peer could leave them in shared memory. The reader must return records that lie inside
// the data, or corrupted, and stop; a writer taking such a ring over must claim only memory
// inside the data. The ring's memory is exactly its size, so ASan reports any step outside.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>

#include "conduit/ring/byte_ring.hpp"

namespace {

using namespace conduit::ring;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "ring fuzz: %s\n", what);
  std::abort();
}

struct FreeBytes {
  void operator()(std::byte* bytes) const { std::free(bytes); }
};

bool is_inside(std::span<const std::byte> part, const ByteRingGeometry& ring) {
  const auto* begin = ring.data;
  const auto* end = ring.data + ring.capacity;
  return part.empty() || (part.data() >= begin && part.data() + part.size() <= end);
}

// Reads every record there is (at most `limit`), touching each payload byte.
std::uint64_t drain(ByteRingReader& reader, const ByteRingGeometry& ring, int limit) {
  std::uint64_t checksum = 0;
  for (int i = 0; i < limit; ++i) {
    auto record = reader.peek();
    if (!record || !*record) break;
    if (!is_inside((*record)->payload, ring)) fail("a record outside the ring's data");
    for (std::byte b : (*record)->payload) checksum += std::to_integer<unsigned>(b);
    reader.release();
  }
  return checksum;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Byte 0: the capacity (64 << 0..7 bytes); byte 1: how many records a writer then tries to
  // add; the rest: the control block and the data, zero beyond the input.
  if (size < 2) return 0;
  const std::uint64_t capacity = kMinByteRingCapacity << (data[0] % 8);
  const int writes = data[1] % 16;
  const std::uint64_t ring_size = byte_ring_size(capacity);
  std::unique_ptr<std::byte, FreeBytes> memory(
      static_cast<std::byte*>(std::aligned_alloc(64, ring_size)));
  std::memset(memory.get(), 0, ring_size);
  std::memcpy(memory.get(), data + 2, std::min<std::size_t>(size - 2, ring_size));
  const std::span<std::byte> bytes(memory.get(), ring_size);

  auto ring = map_byte_ring(bytes, capacity);
  if (!ring) fail("map_byte_ring refused a valid capacity");
  const int limit = static_cast<int>(capacity / sizeof(RecordHeader)) + 2;

  ByteRingReader reader(*ring);
  (void)drain(reader, *ring, limit);

  // A writer taking over the ring as it is: whatever it claims must lie inside the data.
  ByteRingWriter writer(*ring);
  for (int i = 0; i < writes; ++i) {
    const std::size_t want = (static_cast<std::size_t>(data[(2 + i) % size]) * 7) % capacity;
    auto claimed = writer.claim(want);
    if (!claimed) break;  // corrupted
    if (!*claimed) continue;
    if ((*claimed)->size() != want) fail("a claim of another size than asked");
    if (!is_inside(**claimed, *ring)) fail("a claim outside the ring's data");
    std::memset((*claimed)->data(), 0xA5, (*claimed)->size());
    (void)writer.commit(i);
  }
  (void)drain(reader, *ring, limit);
  return 0;
}
