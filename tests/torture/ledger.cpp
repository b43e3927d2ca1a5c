#include "ledger.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>

namespace conduit::torture {
namespace {

std::uint64_t fnv(std::span<const std::byte> bytes) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const std::byte b : bytes) h = (h ^ static_cast<std::uint64_t>(b)) * 0x100000001b3ULL;
  return h;
}

template <class T>
std::span<const std::byte> bytes_before_checksum(const T& value) noexcept {
  return {reinterpret_cast<const std::byte*>(&value), offsetof(T, checksum)};
}

constexpr std::size_t kHeader = 16;  // id, tick
constexpr std::size_t kTrailer = 8;  // checksum

}  // namespace

std::uint64_t mix(std::uint64_t value) noexcept {
  value ^= value >> 33;
  value *= 0xff51afd7ed558ccdULL;
  value ^= value >> 33;
  value *= 0xc4ceb9fe1a85ec53ULL;
  return value ^ (value >> 33);
}

std::size_t payload_size(std::uint64_t id) noexcept { return 32 + mix(id) % 512; }

void make_payload(std::uint64_t id, std::uint64_t tick, std::span<std::byte> into) noexcept {
  std::memcpy(into.data(), &id, 8);
  std::memcpy(into.data() + 8, &tick, 8);
  const std::uint64_t seed = mix(id ^ 0x5bd1e995);
  for (std::size_t i = kHeader; i + kTrailer < into.size(); ++i)
    into[i] = static_cast<std::byte>(mix(seed + i));
  const std::uint64_t sum = fnv(into.first(into.size() - kTrailer));
  std::memcpy(into.data() + into.size() - kTrailer, &sum, 8);
}

Decoded check_payload(std::span<const std::byte> payload) noexcept {
  Decoded decoded;
  if (payload.size() < kHeader + kTrailer) return decoded;
  std::memcpy(&decoded.id, payload.data(), 8);
  std::memcpy(&decoded.tick, payload.data() + 8, 8);
  std::uint64_t sum = 0;
  std::memcpy(&sum, payload.data() + payload.size() - kTrailer, 8);
  decoded.is_intact = payload.size() == payload_size(decoded.id) &&
                      sum == fnv(payload.first(payload.size() - kTrailer));
  return decoded;
}

Record Record::make(std::uint64_t id, std::uint64_t tick) noexcept {
  Record record{};
  record.id = id;
  record.tick = tick;
  for (std::uint64_t k = 0; k < 5; ++k) record.filler[k] = mix(id * 5 + k);
  record.checksum = fnv(bytes_before_checksum(record));
  return record;
}

bool Record::is_intact() const noexcept {
  if (checksum != fnv(bytes_before_checksum(*this))) return false;
  for (std::uint64_t k = 0; k < 5; ++k)
    if (filler[k] != mix(id * 5 + k)) return false;
  return true;
}

bool Entry::is_intact() const noexcept { return checksum == fnv(bytes_before_checksum(*this)); }

Board* make_board() {
  void* memory =
      ::mmap(nullptr, sizeof(Board), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) return nullptr;
  return new (memory) Board{};
}

bool append(int log_fd, EntryKind kind, std::uint32_t worker, std::uint64_t id,
            std::uint64_t tick) noexcept {
  Entry entry{kind, worker, id, tick, 0};
  entry.checksum = fnv(bytes_before_checksum(entry));
  for (;;) {
    const ssize_t written = ::write(log_fd, &entry, sizeof entry);
    if (written == sizeof entry) return true;
    if (written < 0 && errno == EINTR) continue;
    return false;
  }
}

LogContents read_log(const char* path) {
  LogContents contents;
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return contents;
  Entry entry{};
  for (;;) {
    const ssize_t got = ::read(fd, &entry, sizeof entry);
    if (got == 0) break;
    if (got != sizeof entry) {
      ++contents.damaged;
      break;
    }
    if (entry.is_intact())
      contents.entries.push_back(entry);
    else
      ++contents.damaged;
  }
  ::close(fd);
  return contents;
}

std::int64_t monotonic_ns() noexcept {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return std::int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
}

}  // namespace conduit::torture
