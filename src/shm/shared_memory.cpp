#include "conduit/shm/shared_memory.hpp"

#include <fcntl.h>

#include <fmt/format.h>

#include "conduit/sys/file.hpp"

namespace conduit {
namespace {

constexpr int kAnonymousSeals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;

}  // namespace

Result<SharedMemory> SharedMemory::create(std::string_view name, SegmentOptions options) {
  shm::SegmentSpec spec;
  spec.kind = shm::SegmentKind::raw;
  spec.payload_size = options.size;
  spec.lifetime = options.lifetime;
  spec.mode = options.mode;
  auto segment = shm::Segment::create(name, spec);
  if (!segment) return std::unexpected(segment.error());
  const auto bytes = segment->payload();
  return SharedMemory(std::move(*segment), bytes, std::string(name), options.lifetime);
}

Result<SharedMemory> SharedMemory::open(std::string_view name) {
  auto segment = shm::Segment::open(name, shm::SegmentKind::raw);
  if (!segment) return std::unexpected(segment.error());
  const auto bytes = segment->payload();
  const auto lifetime = segment->lifetime();
  return SharedMemory(std::move(*segment), bytes, std::string(name), lifetime);
}

Result<SharedMemory> SharedMemory::anonymous(std::size_t size) {
  const auto where = [](std::string_view what) {
    return fmt::format("anonymous shared memory: create: {}", what);
  };
  if (size == 0) return fail(Errc::invalid_argument, where("size 0"));
  auto file = sys::memfd("conduit-anonymous");
  if (!file) return fail(file.error(), where("memfd"));
  if (auto reserved = sys::allocate(file->get(), size); !reserved)
    return fail(reserved.error(), where(fmt::format("cannot reserve {} bytes", size)));
  if (auto sealed = sys::seal(file->get(), kAnonymousSeals); !sealed)
    return fail(sealed.error(), where("seal"));
  auto mapping = sys::Mapping::shared(file->get(), size);
  if (!mapping) return fail(mapping.error(), where("map"));
  const auto bytes = mapping->bytes();
  return SharedMemory(Anonymous{std::move(*file), std::move(*mapping)}, bytes, {},
                      Lifetime::process);
}

Result<SharedMemory> SharedMemory::adopt(int fd) {
  sys::Fd file(fd);
  const auto where = [&](std::string_view what) {
    return fmt::format("anonymous shared memory: adopt fd {}: {}", fd, what);
  };
  // Only a memfd sealed against shrinking can be mapped safely: otherwise the sender could
  // truncate it under us and turn our reads into SIGBUS.
  auto seals = sys::call("fcntl(F_GET_SEALS)", [&] { return ::fcntl(file.get(), F_GET_SEALS); });
  if (!seals) return fail(Errc::invalid_argument, where("not a memfd"));
  if ((*seals & F_SEAL_SHRINK) == 0)
    return fail(Errc::invalid_argument, where("not sealed against shrinking"));
  auto st = sys::status(file.get());
  if (!st) return fail(st.error(), where("stat"));
  if (st->st_size <= 0) return fail(Errc::invalid_argument, where("empty"));
  auto mapping = sys::Mapping::shared(file.get(), static_cast<std::size_t>(st->st_size));
  if (!mapping) return fail(mapping.error(), where("map"));
  const auto bytes = mapping->bytes();
  return SharedMemory(Anonymous{std::move(file), std::move(*mapping)}, bytes, {},
                      Lifetime::process);
}

Result<void> SharedMemory::remove(std::string_view name) {
  return shm::Segment::remove(name, shm::SegmentKind::raw);
}

int SharedMemory::fd() const noexcept {
  if (const auto* segment = std::get_if<shm::Segment>(&storage_)) return segment->fd();
  return std::get<Anonymous>(storage_).file.get();
}

}  // namespace conduit
