#include "conduit/core/error.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>

namespace conduit {
namespace {

class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "conduit"; }
  std::string message(int code) const override {
    return std::string(describe(static_cast<Errc>(code)));
  }
};

}  // namespace

const std::error_category& conduit_category() noexcept {
  static const Category category;
  return category;
}

std::error_code make_error_code(Errc code) noexcept {
  return {static_cast<int>(code), conduit_category()};
}

std::string_view describe(Errc code) noexcept {
  switch (code) {
    case Errc::would_block: return "would block";
    case Errc::timed_out: return "timed out";
    case Errc::closed: return "closed";
    case Errc::owner_died: return "owner died";
    case Errc::not_found: return "not found";
    case Errc::already_exists: return "already exists";
    case Errc::permission_denied: return "permission denied";
    case Errc::message_too_large: return "message too large";
    case Errc::invalid_argument: return "invalid argument";
    case Errc::corrupted: return "corrupted";
    case Errc::limit_reached: return "limit reached";
    case Errc::interrupted: return "interrupted";
    case Errc::io: return "I/O error";
  }
  return "unknown error";
}

Errc errc_from_errno(int error) noexcept {
  switch (error) {
    case EAGAIN: return Errc::would_block;
    case ETIMEDOUT: return Errc::timed_out;
    case EPIPE:
    case ECONNRESET:
    case ECONNREFUSED:
    case ENOTCONN:
    case ESHUTDOWN:
    case EIDRM: return Errc::closed;
    case EOWNERDEAD: return Errc::owner_died;
    case ENOENT:
    case ESRCH:
    case ENXIO: return Errc::not_found;
    case EEXIST:
    case EADDRINUSE: return Errc::already_exists;
    case EACCES:
    case EPERM:
    case ELOOP:  // O_NOFOLLOW met a symbolic link: refused, as a foreign object would be
      return Errc::permission_denied;
    case EMSGSIZE:
    case E2BIG:
    case EFBIG: return Errc::message_too_large;
    case EINVAL:
    case ENAMETOOLONG:
    case ENOTDIR:
    case EISDIR: return Errc::invalid_argument;
    case ENOSPC:
    case ENOMEM:
    case EMFILE:
    case ENFILE:
    case EDQUOT:
    case ENOBUFS: return Errc::limit_reached;
    case EINTR: return Errc::interrupted;
    default: return Errc::io;
  }
}

Error Error::from_sys(const sys::SysError& error, std::string_view context) {
  return Error(errc_from_errno(error.code),
               fmt::format("{}: {} ({})", context, std::strerror(error.code), error.call));
}

}  // namespace conduit
