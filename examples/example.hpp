// What every example shares: a private namespace so runs never collide, children that flush
// before they exit, and a way to stop with a message when a call fails.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

#include "conduit/conduit.hpp"

namespace example {

/// Uses a fresh namespace directory of this run's own (unless CONDUIT_NAMESPACE is set).
inline void use_private_namespace() {
  if (std::getenv("CONDUIT_NAMESPACE") != nullptr) return;
  static std::string path = "/dev/shm/conduit-example." + std::to_string(::getpid());
  ::setenv("CONDUIT_NAMESPACE", path.c_str(), 1);
  std::atexit([] {
    if (::getpid() == std::stoi(path.substr(path.rfind('.') + 1)))
      std::system(("rm -rf " + path).c_str());
  });
}

/// The value, or print the error and exit.
template <class T>
T must(conduit::Result<T> result, const char* what) {
  if (!result) {
    std::fprintf(stderr, "%s: %s\n", what, result.error().message().c_str());
    std::exit(1);
  }
  if constexpr (!std::is_void_v<T>) return std::move(*result);
}

/// Runs `body` in a child process; returns its pid.
template <class F>
pid_t spawn(F body) {
  std::fflush(stdout);
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int code = body();
    std::fflush(stdout);
    ::_exit(code);
  }
  return pid;
}

/// Waits for a child; true if it exited with 0.
inline bool join(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

inline void say(const char* who, const std::string& what) {
  std::printf("  %-10s %s\n", who, what.c_str());
  std::fflush(stdout);
}

}  // namespace example
