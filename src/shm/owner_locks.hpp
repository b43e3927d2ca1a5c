// The flocks by which creators of Lifetime::process objects show they are alive. Private to
// shm/. A lock is held for the rest of the creator's life (not the life of one handle), and is
// dropped in every forked child so that the object goes with its creator, not its children.
#pragma once

#include <sys/types.h>

#include "conduit/sys/fd.hpp"

namespace conduit::shm::detail {

/// Keeps `lock` (an open file description holding the creator's flock) until this process
/// exits, or until release_owner_lock for its file. Also closes held locks whose files were
/// removed meanwhile.
void hold_owner_lock(sys::Fd lock);

/// Drops the hold on file (device, inode), if this process holds one.
void release_owner_lock(dev_t device, ino_t inode);

}  // namespace conduit::shm::detail
