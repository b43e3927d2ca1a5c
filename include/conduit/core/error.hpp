// Errors are values: every fallible conduit call returns Result<T>; nothing on a hot path
// throws. An Error carries a code to branch on and a message that says what and where:
// "mailbox 'jobs': open: not found".
#pragma once

#include <expected>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>

#include "conduit/sys/syscall.hpp"

namespace conduit {

enum class Errc {
  would_block = 1,    // a try_ call found the object full or empty
  timed_out,          // a _for call's timeout passed
  closed,             // the peer or the object is gone or was closed
  owner_died,         // the owner died (a robust mutex is then held by the caller)
  not_found,          // no object of that name
  already_exists,     // create of a name that is taken
  permission_denied,  // the object's mode or the namespace's owner refuses this process
  message_too_large,  // beyond the object's or transport's maximum
  invalid_argument,   // a bad name, size, URL or option
  corrupted,          // shared bytes failed validation: never trusted, never crashed on
  limit_reached,      // memory, descriptors or a configured maximum ran out
  interrupted,        // a signal interrupted a wait that reports it
  io,                 // any other failure of the system
};

/// The std::error_category of conduit's Errc ("conduit").
const std::error_category& conduit_category() noexcept;
std::error_code make_error_code(Errc code) noexcept;
/// A short description of a code: "not found", "timed out".
std::string_view describe(Errc code) noexcept;
/// The Errc for an errno value (the one place errno becomes an Errc).
Errc errc_from_errno(int error) noexcept;

/// Copying an Error is cheap: its message is shared (a reference count, no allocation), so a
/// hot path may build its frequent errors once and return copies of them.
class Error {
 public:
  Error(Errc code, std::string message)
      : code_(code), message_(std::make_shared<const std::string>(std::move(message))) {}
  /// An error with a shared message, such as one built once for a hot path.
  Error(Errc code, std::shared_ptr<const std::string> message) noexcept
      : code_(code), message_(std::move(message)) {}

  /// An error from a failed system call, with `context` (the object and the operation) first:
  /// "shared memory 'a': create: No space left on device (posix_fallocate)".
  static Error from_sys(const sys::SysError& error, std::string_view context);

  [[nodiscard]] Errc code() const noexcept { return code_; }
  /// What failed and where; names the object and the call.
  [[nodiscard]] const std::string& message() const noexcept {
    return message_ != nullptr ? *message_ : no_message();
  }
  [[nodiscard]] std::error_code error_code() const noexcept { return make_error_code(code_); }

  friend bool operator==(const Error& error, Errc code) noexcept { return error.code_ == code; }

 private:
  static const std::string& no_message() noexcept {  // a moved-from Error's
    static const std::string empty;
    return empty;
  }
  Errc code_;
  std::shared_ptr<const std::string> message_;
};

template <class T>
using Result = std::expected<T, Error>;

/// Shorthand for returning an error from a function that returns Result.
[[nodiscard]] inline std::unexpected<Error> fail(Errc code, std::string message) {
  return std::unexpected(Error(code, std::move(message)));
}
[[nodiscard]] inline std::unexpected<Error> fail(const sys::SysError& error,
                                                 std::string_view context) {
  return std::unexpected(Error::from_sys(error, context));
}

}  // namespace conduit

template <>
struct std::is_error_code_enum<conduit::Errc> : std::true_type {};
