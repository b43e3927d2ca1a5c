#include "conduit/msg/large_buffer.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cstring>
#include <limits>

#include "conduit/sys/fd_passing.hpp"
#include "conduit/sys/file.hpp"

namespace conduit {

namespace {
constexpr int kSeals = F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
}  // namespace

Result<LargeBuffer> LargeBuffer::create(std::size_t size) {
  const auto where = [&](std::string_view what) {
    return fmt::format("large message of {} bytes: create: {}", size, what);
  };
  if (size > static_cast<std::size_t>(std::numeric_limits<off_t>::max()))
    return fail(Errc::invalid_argument, where("too large for a file"));
  auto file = sys::memfd("conduit-large");
  if (!file) return fail(file.error(), where("memfd"));
  if (size == 0) return LargeBuffer(std::move(*file), sys::Mapping(), 0);
  // Reserved, not only sized: a full memory turns into limit_reached here, never into SIGBUS
  // on a page first touched later (by the writer or by a receiver).
  if (auto reserved = sys::allocate(file->get(), size); !reserved) {
    if (reserved.error().code == ENOSPC || reserved.error().code == ENOMEM)
      return fail(Errc::limit_reached, where("no memory left"));
    return fail(reserved.error(), where("fallocate"));
  }
  auto mapping = sys::Mapping::shared(file->get(), size);
  if (!mapping) return fail(mapping.error(), where("mmap"));
  return LargeBuffer(std::move(*file), std::move(*mapping), size);
}

Result<LargeBuffer> LargeBuffer::copy_of(std::span<const std::byte> bytes) {
  auto buffer = create(bytes.size());
  if (!buffer) return buffer;
  if (!bytes.empty()) std::memcpy(buffer->bytes().data(), bytes.data(), bytes.size());
  if (auto sealed = buffer->seal(); !sealed) return std::unexpected(sealed.error());
  return buffer;
}

Result<void> LargeBuffer::seal() {
  if (is_sealed_) return {};
  const auto where = [&](std::string_view what) {
    return fmt::format("large message of {} bytes: seal: {}", size_, what);
  };
  // F_SEAL_WRITE is refused (EBUSY) while a shared writable mapping exists: swap ours for a
  // private one first. Both map the same pages; nothing is copied.
  sys::Mapping private_view;
  if (size_ != 0) {
    auto mapped = sys::Mapping::copy_on_write(file_.get(), size_);
    if (!mapped) return fail(mapped.error(), where("mmap"));
    private_view = std::move(*mapped);
  }
  mapping_ = std::move(private_view);
  if (auto sealed = sys::seal(file_.get(), kSeals); !sealed)
    return fail(sealed.error(), where("fcntl(F_ADD_SEALS)"));
  is_sealed_ = true;
  return {};
}

Result<Message> map_handed_off(sys::Fd fd, std::uint64_t size, std::uint64_t inode,
                               std::int64_t type, ProcessId sender, std::uint64_t sequence,
                               std::string_view where) {
  constexpr int kRequired = F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW;
  const auto st = sys::status(fd.get());
  const int seals = sys::seals_of(fd.get()).value_or(0);
  if (!st || (inode != 0 && static_cast<std::uint64_t>(st->st_ino) != inode) ||
      (seals & kRequired) != kRequired || static_cast<std::uint64_t>(st->st_size) < size)
    return fail(Errc::corrupted,
                fmt::format("{}: corrupted: the hand-off descriptor is not a sealed memfd of {} "
                            "bytes",
                            where, size));
  if (size == 0) return Message(std::vector<std::byte>{}, type, sender, sequence);
  auto mapping = sys::Mapping::copy_on_write(fd.get(), size);
  if (!mapping) return fail(mapping.error(), fmt::format("{}: hand-off: mmap", where));
  auto owner = std::make_shared<sys::Mapping>(std::move(*mapping));
  const std::span<std::byte> bytes = owner->bytes();
  return Message::of_private_mapping(bytes, std::move(owner), type, sender, sequence);
}

}  // namespace conduit
