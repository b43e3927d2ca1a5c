// A named segment: a file in the namespace, mapped shared, starting with a validated
// SegmentHeader (segment_layout.hpp). Every named object (SharedMemory, Shared<T>, Channel,
// Mailbox) lives in one; higher layers build on this type rather than on files.
//
// Creation is atomic: the file is made unnamed (O_TMPFILE), reserved (posix_fallocate), its
// header and initial contents written, and only then linked under its name (exclusive, like
// O_EXCL). A process that dies inside create leaves nothing behind; an open never sees a
// half-initialised object.
//
// Lifetime::process: the creator holds a flock on the file for as long as it lives. Forked
// children drop their inherited copy of that hold in a fork handler, so the object goes with
// its creator, not with its children (a child that has not yet run since fork() still holds
// the copy: the object can outlive its creator by that moment). Any open that finds the lock free
// removes the object and reports not_found. No daemon is involved.
//
// Not protected against a peer with write permission that truncates the file: readers of the
// lost pages get SIGBUS (tmpfs files cannot be sealed). Objects that need that protection use
// sealed memfds instead (SharedMemory::anonymous).
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "conduit/core/error.hpp"
#include "conduit/core/name.hpp"
#include "conduit/core/namespace.hpp"
#include "conduit/core/process.hpp"
#include "conduit/shm/segment_layout.hpp"
#include "conduit/sys/fd.hpp"
#include "conduit/sys/mapping.hpp"

namespace conduit::shm {

struct SegmentSpec {
  SegmentKind kind = SegmentKind::raw;
  std::size_t payload_size = 0;
  Lifetime lifetime = Lifetime::system;
  mode_t mode = 0600;
  std::uint64_t type_size = 0;    // sizeof(T) for typed objects, checked on open
  std::uint32_t type_align = 0;   // alignof(T)
  NameUse names = NameUse::user;  // internal: names made by conduit itself ('#')
};

/// Checks a segment's bytes: magic, version, sizes and offsets within `bytes`, known kind,
/// checksum. Reads the header once into a local copy (a peer may change it meanwhile) and
/// returns that copy. `context` starts error messages ("mailbox 'jobs': open").
[[nodiscard]] Result<SegmentHeader> validate_segment(std::span<const std::byte> bytes,
                                                     std::string_view context);

class Segment {
 public:
  using Initializer = std::function<Result<void>(std::span<std::byte> payload)>;

  /// Creates segment `name` in the current namespace; `initialize` fills the payload (zeroed)
  /// before anyone can open it. Errors: invalid_argument (name, size 0, mode), already_exists
  /// (a live object has the name; a dead process-lifetime one is reaped first),
  /// limit_reached (/dev/shm full), permission_denied, and whatever `initialize` returns.
  [[nodiscard]] static Result<Segment> create(std::string_view name, const SegmentSpec& spec,
                                              const Initializer& initialize = {});

  /// Opens segment `name`, which must hold `kind`. Errors: not_found (also when a
  /// process-lifetime object's creator died: the object is removed), corrupted (header fails
  /// validation), invalid_argument (another kind of object), permission_denied.
  [[nodiscard]] static Result<Segment> open(std::string_view name, SegmentKind kind,
                                            NameUse names = NameUse::user);

  /// Opens whatever segment `name` holds, for inspection (`conduit ls`).
  [[nodiscard]] static Result<Segment> inspect(std::string_view name);

  /// Removes `name` from the namespace (open handles keep their memory until they close), and
  /// with it the objects conduit made for it ("name#...", see NameUse::internal).
  /// With a kind, refuses to remove another kind of object (unless its header is unreadable).
  /// Errors: not_found, permission_denied, invalid_argument.
  [[nodiscard]] static Result<void> remove(std::string_view name,
                                           std::optional<SegmentKind> kind = std::nullopt,
                                           NameUse names = NameUse::user);

  /// Removes the process-lifetime object `name` if its creator died. Returns whether it did.
  [[nodiscard]] static Result<bool> reap_if_dead(std::string_view name);

  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  [[nodiscard]] const Namespace& space() const noexcept { return namespace_; }
  [[nodiscard]] const SegmentHeader& header() const noexcept { return header_; }
  [[nodiscard]] SegmentKind kind() const noexcept { return static_cast<SegmentKind>(header_.kind); }
  [[nodiscard]] Lifetime lifetime() const noexcept {
    return static_cast<Lifetime>(header_.lifetime);
  }
  [[nodiscard]] ProcessId creator() const noexcept {
    return {header_.creator_pid, header_.creator_start_time};
  }
  /// The object's bytes: payload_size bytes at payload_offset.
  [[nodiscard]] std::span<std::byte> payload() const noexcept {
    return mapping_.bytes().subspan(header_.payload_offset, header_.payload_size);
  }
  /// The whole mapped file, header included.
  [[nodiscard]] std::span<std::byte> bytes() const noexcept { return mapping_.bytes(); }
  [[nodiscard]] int fd() const noexcept { return file_.get(); }
  /// The file's permission bits and owner, as the kernel checks them.
  [[nodiscard]] Result<struct stat> status() const;

  /// For Lifetime::process: whether the creator still holds its lock (true for system objects).
  /// One flock system call; for waiters that must notice an owner's death.
  [[nodiscard]] bool is_owner_alive() const;

  /// For Lifetime::process: removes this object's name (and its dependents) if its creator
  /// died. The call that finds the owner dead does this, so the name is free at once, not only
  /// after some later open. Returns whether it removed it; false for system objects.
  [[nodiscard]] Result<bool> reap_if_owner_died() const;

  /// Whether the name still refers to this segment's file (false once removed or replaced).
  [[nodiscard]] bool is_linked() const;

 private:
  /// For a creator /proc shows dead: waits a bounded while for its lock to be released.
  /// Returns whether it was.
  [[nodiscard]] bool await_dead_owners_lock() const;

  Segment(Namespace space, std::string name, sys::Fd file, sys::Mapping mapping,
          SegmentHeader header)
      : namespace_(std::move(space)),
        name_(std::move(name)),
        file_(std::move(file)),
        mapping_(std::move(mapping)),
        header_(header) {}
  static Result<Segment> open_checked(std::string_view name, std::optional<SegmentKind> kind,
                                      NameUse names);

  Namespace namespace_;  // where the name lives, even if CONDUIT_NAMESPACE changes later
  std::string name_;
  sys::Fd file_;
  sys::Mapping mapping_;
  SegmentHeader header_{};
};

}  // namespace conduit::shm
