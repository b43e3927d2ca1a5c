// Shared memory segments: named (a file in the namespace, opened by name from any process) and
// anonymous (a memfd, shared by fork() or by passing its descriptor).
//
// A named segment is a Segment of kind `raw`: its header is validated on every open, and a
// Lifetime::process segment disappears when its creator dies. An anonymous segment is sealed
// against shrinking and growing, so a peer holding its descriptor cannot make readers fault.
// The bytes themselves are unsynchronised: use sync/ primitives or atomics inside them.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include "conduit/core/error.hpp"
#include "conduit/core/process.hpp"
#include "conduit/shm/segment.hpp"

namespace conduit {

struct SegmentOptions {
  std::size_t size = 0;  // usable bytes; rounded up to whole pages in the file
  mode_t mode = 0600;
  Lifetime lifetime = Lifetime::system;
};

class SharedMemory {
 public:
  /// Creates named segment `name` with `options.size` zeroed bytes. Errors: invalid_argument
  /// (name, size 0, mode), already_exists, limit_reached (/dev/shm full), permission_denied.
  [[nodiscard]] static Result<SharedMemory> create(std::string_view name, SegmentOptions options);
  /// Opens named segment `name`. Errors: not_found, corrupted, permission_denied,
  /// invalid_argument (the name holds another kind of object).
  [[nodiscard]] static Result<SharedMemory> open(std::string_view name);
  /// An unnamed segment of `size` zeroed bytes in a sealed memfd: shared with children across
  /// fork(), or with any process that receives fd() (see adopt).
  [[nodiscard]] static Result<SharedMemory> anonymous(std::size_t size);
  /// Maps an anonymous segment whose descriptor this process received (SCM_RIGHTS,
  /// pidfd_getfd). Takes ownership of `fd`. Errors: invalid_argument (not a sealed memfd).
  [[nodiscard]] static Result<SharedMemory> adopt(int fd);
  /// Removes named segment `name`; processes that have it open keep their mapping.
  [[nodiscard]] static Result<void> remove(std::string_view name);

  /// The usable bytes (`options.size` of them for a named segment).
  [[nodiscard]] std::span<std::byte> bytes() const noexcept { return bytes_; }
  [[nodiscard]] std::size_t size() const noexcept { return bytes_.size(); }
  /// The descriptor of the file or memfd behind the segment.
  [[nodiscard]] int fd() const noexcept;
  /// The name; empty for an anonymous segment.
  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  [[nodiscard]] Lifetime lifetime() const noexcept { return lifetime_; }

 private:
  struct Anonymous {
    sys::Fd file;
    sys::Mapping mapping;
  };
  SharedMemory(std::variant<shm::Segment, Anonymous> storage, std::span<std::byte> bytes,
               std::string name, Lifetime lifetime)
      : storage_(std::move(storage)), bytes_(bytes), name_(std::move(name)), lifetime_(lifetime) {}

  std::variant<shm::Segment, Anonymous> storage_;
  std::span<std::byte> bytes_;
  std::string name_;
  Lifetime lifetime_;
};

}  // namespace conduit
