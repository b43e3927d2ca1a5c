// The one door to the kernel: every system call conduit makes goes through `call`, which
// retries EINTR and captures errno in one place. Nothing above sys/ reads errno; core/ turns a
// SysError into an Error (core/error.hpp).
#pragma once

#include <cerrno>
#include <expected>

namespace conduit::sys {

/// A failed system call: the errno it left and the call's name, for messages.
struct SysError {
  int code;
  const char* call;
};

template <class T>
using SysResult = std::expected<T, SysError>;

/// Runs `f` (a raw system call returning -1 and setting errno on failure) until it does not fail
/// with EINTR. Returns its non-negative result, or the errno it failed with.
template <class F>
[[nodiscard]] SysResult<long> call(const char* name, F&& f) {
  for (;;) {
    const long result = static_cast<long>(f());
    if (result != -1) return result;
    if (errno != EINTR) return std::unexpected(SysError{errno, name});
  }
}

/// As `call`, but returns EINTR to the caller instead of retrying: for waits that must notice
/// a signal (sigwaitinfo, a blocking read a user wants to interrupt).
template <class F>
[[nodiscard]] SysResult<long> call_once(const char* name, F&& f) {
  const long result = static_cast<long>(f());
  if (result != -1) return result;
  return std::unexpected(SysError{errno, name});
}

}  // namespace conduit::sys
