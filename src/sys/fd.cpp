#include "conduit/sys/fd.hpp"

#include <unistd.h>

namespace conduit::sys {

void Fd::reset(int fd) noexcept {
  // close() is not retried on EINTR: Linux releases the descriptor before it can fail, and a
  // retry could close a descriptor another thread just opened.
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

}  // namespace conduit::sys
