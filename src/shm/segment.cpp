#include "conduit/shm/segment.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <chrono>
#include <cstring>
#include <limits>
#include <thread>

#include "conduit/core/digest.hpp"
#include "conduit/core/name.hpp"
#include "conduit/sys/file.hpp"
#include "owner_locks.hpp"

namespace conduit::shm {
namespace {

std::string context(SegmentKind kind, std::string_view name, std::string_view operation) {
  return fmt::format("{} '{}': {}", kind_name(kind), printable_name(name), operation);
}

constexpr std::size_t kPage = 4096;

std::size_t round_up(std::size_t n, std::size_t to) { return (n + to - 1) / to * to; }

// The creator's flock is exclusive; a prober asks for a shared lock, so any number of probers
// can find a dead owner at once while a live owner refuses them all.
bool owner_lock_is_free(int fd) {
  auto acquired = sys::try_lock(fd, sys::LockMode::shared);
  if (!acquired || !*acquired) return false;
  sys::unlock(fd);
  return true;
}

// Reads just the header of `fd` (for reaping and kind checks, where mapping is not needed).
std::optional<SegmentHeader> read_header(int fd) {
  SegmentHeader header{};
  auto n = sys::call("pread", [&] { return ::pread(fd, &header, sizeof header, 0); });
  if (!n || static_cast<std::size_t>(*n) != sizeof header) return std::nullopt;
  if (header.magic != kSegmentMagic || header.checksum != header_checksum(header))
    return std::nullopt;
  return header;
}

bool same_file(const struct stat& a, const struct stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

// With the namespace lock held: removes the objects conduit made for `name`'s own use
// ("name#..."), which live and die with it.
void remove_dependents(const Namespace& space, const std::string& name) {
  auto names = sys::list_directory(space.fd());
  if (!names) return;
  const std::string prefix = name + "#";
  for (const auto& entry : *names)
    if (entry.starts_with(prefix)) (void)sys::unlink_at(space.fd(), entry);
}

// With the namespace lock held: removes `name` if it is a process-lifetime object whose creator
// died. The lock keeps a new object of the same name from appearing between check and unlink.
Result<bool> reap_locked(const Namespace& space, const std::string& name) {
  auto fd = sys::open_at(space.fd(), name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  if (!fd) return false;
  const auto header = read_header(fd->get());
  if (!header || header->lifetime != static_cast<std::uint32_t>(Lifetime::process)) return false;
  if (!owner_lock_is_free(fd->get())) return false;
  auto opened = sys::status(fd->get());
  auto named = sys::status_at(space.fd(), name);
  if (!opened || !named || !same_file(*opened, *named)) return false;
  if (auto removed = sys::unlink_at(space.fd(), name); !removed && removed.error().code != ENOENT)
    return fail(removed.error(), context(static_cast<SegmentKind>(header->kind), name, "reap"));
  remove_dependents(space, name);
  return true;
}

}  // namespace

const char* kind_name(SegmentKind kind) noexcept {
  switch (kind) {
    case SegmentKind::raw: return "shared memory";
    case SegmentKind::object: return "shared object";
    case SegmentKind::channel: return "channel";
    case SegmentKind::mailbox: return "mailbox";
    case SegmentKind::endpoint: return "endpoint";
    case SegmentKind::extension: return "extension";
  }
  return "segment";
}

bool is_known_kind(std::uint32_t value) noexcept {
  return value >= static_cast<std::uint32_t>(SegmentKind::raw) &&
         value <= static_cast<std::uint32_t>(SegmentKind::extension);
}

std::uint64_t header_checksum(const SegmentHeader& header) noexcept {
  return fnv1a_64(
      {reinterpret_cast<const unsigned char*>(&header), offsetof(SegmentHeader, checksum)});
}

Result<SegmentHeader> validate_segment(std::span<const std::byte> bytes, std::string_view context) {
  const auto corrupted = [&](std::string_view what) {
    return fail(Errc::corrupted, fmt::format("{}: corrupted: {}", context, what));
  };
  if (bytes.size() < kPayloadOffset)
    return corrupted(fmt::format("{} bytes, shorter than a segment header", bytes.size()));
  // One copy, then every check on the copy: a peer writing meanwhile cannot slip a value past
  // a check and change it before use.
  SegmentHeader header;
  std::memcpy(&header, bytes.data(), sizeof header);
  if (header.magic != kSegmentMagic) return corrupted("bad magic: not a conduit segment");
  if (header.layout_version != kSegmentLayoutVersion)
    return corrupted(fmt::format("layout version {}, this build reads {}", header.layout_version,
                                 kSegmentLayoutVersion));
  if (header.header_size != sizeof(SegmentHeader))
    return corrupted(fmt::format("header size {}", header.header_size));
  if (header.checksum != header_checksum(header)) return corrupted("header checksum mismatch");
  if (header.segment_size != bytes.size())
    return corrupted(
        fmt::format("header says {} bytes, file has {}", header.segment_size, bytes.size()));
  if (header.payload_offset != kPayloadOffset)
    return corrupted(fmt::format("payload offset {}", header.payload_offset));
  if (header.payload_size == 0 || header.payload_size > bytes.size() - kPayloadOffset)
    return corrupted(
        fmt::format("payload of {} bytes does not fit in {}", header.payload_size, bytes.size()));
  if (!is_known_kind(header.kind)) return corrupted(fmt::format("unknown kind {}", header.kind));
  if (header.lifetime > static_cast<std::uint32_t>(Lifetime::system))
    return corrupted(fmt::format("unknown lifetime {}", header.lifetime));
  if (header.type_size > header.payload_size ||
      (header.type_align != 0 && (header.type_align & (header.type_align - 1)) != 0) ||
      header.type_align > kPayloadOffset)
    return corrupted(
        fmt::format("type size {} / alignment {}", header.type_size, header.type_align));
  return header;
}

Result<Segment> Segment::create(std::string_view name, const SegmentSpec& spec,
                                const Initializer& initialize) {
  const auto where = [&](std::string_view operation) {
    return context(spec.kind, name, operation);
  };
  if (auto valid = check_name(kind_name(spec.kind), name, spec.names); !valid)
    return std::unexpected(valid.error());
  if (spec.payload_size == 0) return fail(Errc::invalid_argument, where("create: size 0"));
  if (spec.payload_size > std::numeric_limits<std::size_t>::max() / 4)
    return fail(Errc::limit_reached,
                where(fmt::format("create: size {} too large", spec.payload_size)));
  if ((spec.mode & ~mode_t{0777}) != 0 || (spec.mode & 0600) != 0600)
    return fail(Errc::invalid_argument,
                where(fmt::format("create: mode {:04o}: must be within 0777 and give the owner "
                                  "read and write",
                                  spec.mode)));
  auto space = Namespace::current();
  if (!space) return std::unexpected(space.error());
  const std::string file_name(name);
  const std::size_t segment_size = kPayloadOffset + round_up(spec.payload_size, kPage);

  // An unnamed file: nobody can open it until it is complete and linked below.
  auto file = sys::open_at(space->fd(), ".", O_TMPFILE | O_RDWR, spec.mode);
  if (!file) return fail(file.error(), where("create"));
  // The umask may have cleared bits of the mode asked for; the object gets exactly that mode.
  if (auto chmod = sys::call("fchmod", [&] { return ::fchmod(file->get(), spec.mode); }); !chmod)
    return fail(chmod.error(), where("create"));
  if (auto reserved = sys::allocate(file->get(), segment_size); !reserved) {
    if (reserved.error().code == ENOSPC || reserved.error().code == EFBIG)
      return fail(Errc::limit_reached,
                  where(fmt::format("create: cannot reserve {} bytes in '{}' (tmpfs full?)",
                                    segment_size, space->path())));
    return fail(reserved.error(), where("create"));
  }
  // For a process-lifetime object the creator's flock lives on `file`'s open file description,
  // which the registry keeps; everything else (the mapping above all: a mapping holds its file
  // description, and forked children inherit mappings) uses a description of its own, so that
  // nothing but the registry can keep the lock alive.
  const bool is_process_owned = spec.lifetime == Lifetime::process;
  sys::Fd handle_file;
  if (is_process_owned) {
    auto reopened = sys::open_at(AT_FDCWD, "/proc/self/fd/" + std::to_string(file->get()), O_RDWR);
    if (!reopened) return fail(reopened.error(), where("create"));
    handle_file = std::move(*reopened);
  }
  const int mapped_fd = is_process_owned ? handle_file.get() : file->get();
  auto mapping = sys::Mapping::shared(mapped_fd, segment_size);
  if (!mapping) return fail(mapping.error(), where("create"));

  const ProcessId creator = self();
  SegmentHeader header{};
  header.magic = kSegmentMagic;
  header.layout_version = kSegmentLayoutVersion;
  header.header_size = sizeof(SegmentHeader);
  header.segment_size = segment_size;
  header.payload_offset = kPayloadOffset;
  header.payload_size = spec.payload_size;
  header.kind = static_cast<std::uint32_t>(spec.kind);
  header.lifetime = static_cast<std::uint32_t>(spec.lifetime);
  header.creator_pid = creator.pid;
  header.creator_start_time = creator.start_time;
  header.type_size = spec.type_size;
  header.type_align = spec.type_align;
  header.checksum = header_checksum(header);
  std::memcpy(mapping->data(), &header, sizeof header);
  if (initialize) {
    if (auto initialized = initialize(mapping->bytes().subspan(kPayloadOffset, spec.payload_size));
        !initialized)
      return std::unexpected(initialized.error());
  }

  if (is_process_owned) {
    auto locked = sys::try_lock(file->get(), sys::LockMode::exclusive);
    if (!locked || !*locked) return fail(Errc::io, where("create: cannot take the owner lock"));
  }
  {
    auto guard = space->lock();
    if (!guard) return std::unexpected(guard.error());
    auto linked = sys::link_unnamed(file->get(), space->fd(), file_name);
    if (!linked && linked.error().code == EEXIST) {
      auto reaped = reap_locked(*space, file_name);
      if (!reaped) return std::unexpected(reaped.error());
      if (*reaped) linked = sys::link_unnamed(file->get(), space->fd(), file_name);
    }
    if (!linked) {
      if (linked.error().code == EEXIST)
        return fail(Errc::already_exists, where("create: already exists"));
      return fail(linked.error(), where("create"));
    }
  }
  if (is_process_owned)
    detail::hold_owner_lock(std::move(*file));  // for the rest of this process's life
  else
    handle_file = std::move(*file);
  return Segment(std::move(*space), file_name, std::move(handle_file), std::move(*mapping), header);
}

Result<Segment> Segment::open(std::string_view name, SegmentKind kind, NameUse names) {
  return open_checked(name, kind, names);
}

Result<Segment> Segment::inspect(std::string_view name) {
  return open_checked(name, std::nullopt, NameUse::internal);
}

Result<Segment> Segment::open_checked(std::string_view name, std::optional<SegmentKind> kind,
                                      NameUse names) {
  const SegmentKind shown = kind.value_or(SegmentKind::raw);
  const auto where = [&](std::string_view operation) {
    return kind ? context(shown, name, operation)
                : fmt::format("object '{}': {}", printable_name(name), operation);
  };
  if (auto valid = check_name(kind ? kind_name(shown) : "object", name, names); !valid)
    return std::unexpected(valid.error());
  auto space = Namespace::current();
  if (!space) return std::unexpected(space.error());
  const std::string file_name(name);
  // O_NONBLOCK: a FIFO planted under the name must not block the open.
  auto file = sys::open_at(space->fd(), file_name, O_RDWR | O_NOFOLLOW | O_NONBLOCK);
  if (!file) {
    switch (file.error().code) {
      case ENOENT: return fail(Errc::not_found, where("open: not found"));
      case ELOOP: return fail(Errc::permission_denied, where("open: is a symbolic link, refused"));
      default: return fail(file.error(), where("open"));
    }
  }
  auto st = sys::status(file->get());
  if (!st) return fail(st.error(), where("open"));
  if (!S_ISREG(st->st_mode))
    return fail(Errc::corrupted, where("open: corrupted: not a regular file"));
  if (static_cast<std::size_t>(st->st_size) < kPayloadOffset)
    return fail(Errc::corrupted, where(fmt::format("open: corrupted: {} bytes, shorter than a "
                                                   "segment header",
                                                   st->st_size)));
  auto mapping = sys::Mapping::shared(file->get(), static_cast<std::size_t>(st->st_size));
  if (!mapping) return fail(mapping.error(), where("open"));
  auto header = validate_segment(mapping->bytes(), where("open"));
  if (!header) return std::unexpected(header.error());
  if (kind && header->kind != static_cast<std::uint32_t>(*kind))
    return fail(
        Errc::invalid_argument,
        where(fmt::format("open: is a {}, not a {}",
                          kind_name(static_cast<SegmentKind>(header->kind)), kind_name(*kind))));
  if (header->lifetime == static_cast<std::uint32_t>(Lifetime::process) &&
      owner_lock_is_free(file->get())) {
    mapping->reset();
    file->reset();
    auto guard = space->lock();
    if (!guard) return std::unexpected(guard.error());
    if (auto reaped = reap_locked(*space, file_name); !reaped)
      return std::unexpected(reaped.error());
    return fail(Errc::not_found,
                where(fmt::format("open: not found (its creator, pid {}, died; removed)",
                                  header->creator_pid)));
  }
  return Segment(std::move(*space), file_name, std::move(*file), std::move(*mapping), *header);
}

Result<void> Segment::remove(std::string_view name, std::optional<SegmentKind> kind,
                             NameUse names) {
  const SegmentKind shown = kind.value_or(SegmentKind::raw);
  const auto where = [&](std::string_view operation) {
    return kind ? context(shown, name, operation)
                : fmt::format("object '{}': {}", printable_name(name), operation);
  };
  if (auto valid = check_name(kind ? kind_name(shown) : "object", name, names); !valid)
    return std::unexpected(valid.error());
  auto space = Namespace::current();
  if (!space) return std::unexpected(space.error());
  const std::string file_name(name);
  auto guard = space->lock();
  if (!guard) return std::unexpected(guard.error());
  auto file = sys::open_at(space->fd(), file_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  if (file) {
    // A readable header of another kind is refused; an unreadable one is removable, so that a
    // corrupted object can always be cleaned up.
    if (const auto header = read_header(file->get());
        header && kind && header->kind != static_cast<std::uint32_t>(*kind))
      return fail(
          Errc::invalid_argument,
          where(fmt::format("remove: is a {}, not a {}",
                            kind_name(static_cast<SegmentKind>(header->kind)), kind_name(*kind))));
    if (auto st = sys::status(file->get())) detail::release_owner_lock(st->st_dev, st->st_ino);
  } else if (file.error().code == ENOENT) {
    return fail(Errc::not_found, where("remove: not found"));
  }
  if (auto removed = sys::unlink_at(space->fd(), file_name); !removed) {
    if (removed.error().code == ENOENT) return fail(Errc::not_found, where("remove: not found"));
    return fail(removed.error(), where("remove"));
  }
  remove_dependents(*space, file_name);
  return {};
}

Result<bool> Segment::reap_if_dead(std::string_view name) {
  if (auto valid = check_name("object", name, NameUse::internal); !valid)
    return std::unexpected(valid.error());
  auto space = Namespace::current();
  if (!space) return std::unexpected(space.error());
  auto guard = space->lock();
  if (!guard) return std::unexpected(guard.error());
  return reap_locked(*space, std::string(name));
}

Result<struct stat> Segment::status() const {
  auto st = sys::status(file_.get());
  if (!st) return fail(st.error(), context(kind(), name_, "stat"));
  return *st;
}

Result<bool> Segment::reap_if_owner_died() const {
  if (is_owner_alive() && !await_dead_owners_lock()) return false;
  // Under the namespace lock, reap_locked looks again: a new object that took the name since
  // has a live owner and stays.
  auto guard = namespace_.lock();
  if (!guard) return std::unexpected(guard.error());
  return reap_locked(namespace_, name_);
}

// A killed creator shows dead in /proc (a zombie) as soon as its main thread is gone, while
// another of its threads may still be closing its files, and so still hold the lock, for a
// moment (a sanitizer's background thread makes this common). A caller that saw the creator
// dead and reported owner_died must then still reap, or the name outlives every user: wait
// for the lock, a bounded while. Bounded because a child the creator forked shares its lock
// and may keep it for as long as it lives.
bool Segment::await_dead_owners_lock() const {
  if (lifetime() != Lifetime::process || alive(creator())) return false;
  constexpr auto kPatience = std::chrono::seconds(1);
  const auto give_up = std::chrono::steady_clock::now() + kPatience;
  while (std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (!is_owner_alive()) return true;
  }
  return false;
}

bool Segment::is_owner_alive() const {
  if (lifetime() != Lifetime::process) return true;
  return !owner_lock_is_free(file_.get());
}

bool Segment::is_linked() const {
  auto opened = sys::status(file_.get());
  auto named = sys::status_at(namespace_.fd(), name_);
  return opened && named && same_file(*opened, *named);
}

}  // namespace conduit::shm
