// Fuzzes the framed byte-stream decoder (transport/framing.hpp) as pipes, FIFOs and sockets run
// it: StreamLink reading a pipe that carries the fuzz bytes, delivered in chunks whose sizes the
// input picks, so that headers and bodies arrive split at every place. Checks what it decodes
// against the bytes themselves: every message is a whole frame of the input, in order, and the
// stream ends with the error its last bytes call for (closed after whole frames; corrupted for
// a bad magic or a truncated frame; message_too_large for a length over kMaxFrameSize).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>

#include "conduit/sys/clock.hpp"
#include "conduit/transport/framing.hpp"
#include "transport/stream_link.hpp"

namespace {

using namespace conduit;
using transport::FrameHeader;

[[noreturn]] void fail(const char* what, std::size_t offset) {
  std::fprintf(stderr, "framing fuzz: %s (at input offset %zu)\n", what, offset);
  std::abort();
}

// What the stream must end with once the bytes from `offset` on are all that is left.
Errc expected_end(std::span<const std::uint8_t> rest) {
  if (rest.empty()) return Errc::closed;
  if (rest.size() < sizeof(FrameHeader)) return Errc::corrupted;
  FrameHeader header;
  std::memcpy(&header, rest.data(), sizeof header);
  if (header.magic != transport::kFrameMagic) return Errc::corrupted;
  if (header.length > transport::kMaxFrameSize) return Errc::message_too_large;
  return Errc::corrupted;  // a frame the stream cuts short
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // The first byte chooses the chunk size (1..256 bytes); the rest is the stream. A pipe holds
  // 64 KiB, and everything is written before the last receive: keep under that.
  if (size < 1) return 0;
  const std::size_t chunk = std::size_t{data[0]} + 1;
  const std::span<const std::uint8_t> stream(data + 1, std::min<std::size_t>(size - 1, 60000));

  int ends[2];
  if (::pipe2(ends, O_CLOEXEC) != 0) fail("pipe2 failed", 0);
  sys::Fd write_end(ends[1]);
  auto link = transport::StreamLink::make(sys::Fd(ends[0]), sys::Fd(), false, "fuzz");
  if (!link) fail("StreamLink::make failed", 0);

  std::size_t written = 0, offset = 0;
  const auto check_message = [&](const Message& message) {
    if (stream.size() - offset < sizeof(FrameHeader)) fail("a message past the input", offset);
    FrameHeader header;
    std::memcpy(&header, stream.data() + offset, sizeof header);
    const auto payload = message.payload();
    if (header.magic != transport::kFrameMagic) fail("a message from a bad magic", offset);
    if (header.length != payload.size()) fail("a message of the wrong length", offset);
    if (header.type != message.type()) fail("a message of the wrong type", offset);
    if (stream.size() - offset - sizeof header < payload.size())
      fail("a message past the input", offset);
    if (!payload.empty() &&
        std::memcmp(payload.data(), stream.data() + offset + sizeof header, payload.size()) != 0) {
      fail("a message with other bytes than were sent", offset);
    }
    offset += sizeof header + payload.size();
  };

  // Chunk by chunk: after each, take whatever whole messages are there without waiting.
  bool is_broken = false;
  while (written < stream.size() && !is_broken) {
    const std::size_t n = std::min(chunk, stream.size() - written);
    if (::write(write_end.get(), stream.data() + written, n) != static_cast<ssize_t>(n)) {
      fail("write to the pipe failed", written);
    }
    written += n;
    for (;;) {
      auto got = (*link)->receive(sys::now());
      if (got) {
        check_message(*got);
        continue;
      }
      if (got.error().code() != Errc::timed_out) is_broken = true;
      break;
    }
  }
  write_end.reset();
  // Then to the end of the stream.
  for (;;) {
    auto got = (*link)->receive(std::nullopt);
    if (got) {
      check_message(*got);
      continue;
    }
    if (got.error().code() != expected_end(stream.subspan(offset))) {
      fail("the stream ended with an unexpected error", offset);
    }
    // A stream that lost its framing says so again, and does not read on.
    if (got.error().code() != Errc::closed) {
      auto again = (*link)->receive(std::nullopt);
      if (again || again.error().code() != got.error().code()) {
        fail("a broken stream did not stay broken", offset);
      }
    }
    break;
  }
  return 0;
}
