// The namespace: the directory on tmpfs where named objects live, one file per object.
//
// By default /dev/shm/conduit.<uid>/, created 0700 and refused unless this user owns it and
// nobody else may enter (private to the user, like a private System V key). CONDUIT_NAMESPACE
// selects another directory, for instance a group-shared one: then the directory's own mode
// decides who may use it. Either way a symbolic link in place of the directory is refused, and
// every object file is opened relative to the checked directory descriptor with O_NOFOLLOW.
#pragma once

#include <string>
#include <vector>

#include "conduit/core/error.hpp"
#include "conduit/sys/fd.hpp"

namespace conduit {

class Namespace {
 public:
  /// The namespace of this process: $CONDUIT_NAMESPACE if set and non-empty, else
  /// /dev/shm/conduit.<uid>. Created if missing. Errors: permission_denied (foreign owner,
  /// open to others, a symbolic link), invalid_argument (not a directory), io.
  [[nodiscard]] static Result<Namespace> current();

  /// The namespace at `path`, as if CONDUIT_NAMESPACE named it.
  [[nodiscard]] static Result<Namespace> at(std::string path);

  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  /// The directory descriptor every object file is resolved against.
  [[nodiscard]] int fd() const noexcept { return directory_.get(); }

  /// Held while a name is created, removed or reaped, so that a process reaping a dead owner's
  /// object can never remove a new object that reused the name in between. A flock on the
  /// directory: released when the holder dies, so a crash never leaves the namespace locked.
  class Guard {
   public:
    explicit Guard(sys::Fd lock) : lock_(std::move(lock)) {}
    Guard(Guard&&) noexcept = default;
    Guard& operator=(Guard&&) = delete;
    /// Unlocks before it closes: a child forked meanwhile shares the lock's open file
    /// description, and a close alone would leave the namespace locked until the child exits.
    /// (Such a child closes its copy at once, so that a holder killed before it unlocks leaves
    /// the namespace unlocked all the same.)
    ~Guard();

   private:
    friend class Namespace;
    sys::Fd lock_;
  };
  [[nodiscard]] Result<Guard> lock() const;

  /// The names of the files in the namespace, sorted.
  [[nodiscard]] Result<std::vector<std::string>> names() const;

 private:
  Namespace(std::string path, sys::Fd directory)
      : path_(std::move(path)), directory_(std::move(directory)) {}
  static Result<Namespace> open(std::string path, bool is_private);

  std::string path_;
  sys::Fd directory_;
};

}  // namespace conduit
