// The one helper multi-process tests need: run code in a forked child under a watchdog, and
// give every test a fresh namespace of its own.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>

#include <gtest/gtest.h>

namespace conduit::test {

using namespace std::chrono_literals;

/// How a child ended.
struct Exit {
  bool timed_out = false;  // the watchdog killed it
  int code = -1;           // exit status, when it exited
  int signal = 0;          // the signal that killed it, when one did
  [[nodiscard]] bool ok() const { return !timed_out && signal == 0 && code == 0; }
  [[nodiscard]] std::string describe() const;
};

/// A forked child running `body`; its exit code is body's return value (an exception is 101).
/// The destructor SIGKILLs and reaps a child still running, so a failing test leaves no orphan.
class Child {
 public:
  explicit Child(const std::function<int()>& body);
  Child(Child&& other) noexcept;
  Child& operator=(Child&&) = delete;
  ~Child();

  [[nodiscard]] pid_t pid() const { return pid_; }
  /// Waits at most `timeout`; past it the child is SIGKILLed and the Exit says timed_out.
  Exit wait(std::chrono::milliseconds timeout = 60s);
  /// Sends `signal` (default SIGKILL) and reaps the child.
  Exit kill(int signal = 9);
  /// Whether the child has not ended yet (does not reap).
  [[nodiscard]] bool running() const;

 private:
  pid_t pid_ = -1;
};

/// Runs `body` in a child and waits for it under the watchdog.
Exit run_in_child(const std::function<int()>& body, std::chrono::milliseconds timeout = 60s);

// __has_feature: clang, and GCC from 14 (GCC says which sanitizer by its own macros).
#if defined(__has_feature)
#define CONDUIT_TEST_HAS_FEATURE(feature) __has_feature(feature)
#else
#define CONDUIT_TEST_HAS_FEATURE(feature) 0
#endif

/// Whether this is a ThreadSanitizer build. TSan keeps shadow memory, as anonymous pages, for
/// every byte the program touches, and tracks pthread mutexes by their memory: tests that
/// measure a process's memory, or that let another process rewrite a mutex, say what they skip.
#if defined(__SANITIZE_THREAD__) || CONDUIT_TEST_HAS_FEATURE(thread_sanitizer)
inline constexpr bool kUnderThreadSanitizer = true;
#else
inline constexpr bool kUnderThreadSanitizer = false;
#endif

/// Whether this is an AddressSanitizer build. ASan checks each byte read against its shadow
/// memory (one byte per 8): on some kernels reading a large mapping commits that shadow, and it
/// is counted as this process's anonymous memory (see shadow_of).
#if defined(__SANITIZE_ADDRESS__) || CONDUIT_TEST_HAS_FEATURE(address_sanitizer)
inline constexpr bool kUnderAddressSanitizer = true;
#else
inline constexpr bool kUnderAddressSanitizer = false;
#endif

/// The anonymous memory a sanitizer may commit for reading `bytes` (ASan's shadow), on top of
/// what the code under test uses: far below a copy of those bytes.
constexpr std::size_t shadow_of(std::size_t bytes) {
  return kUnderAddressSanitizer ? bytes / 8 : 0;
}

/// A thread id that no thread has now (counted down from the top of the id space); 0 if none.
/// For forging a lock word whose holder does not exist.
pid_t missing_thread_id();

/// Base fixture: a fresh namespace directory (CONDUIT_NAMESPACE) for each test, removed after,
/// and a whole-test watchdog (SIGALRM) so that a hang in the test process itself fails.
class ProcessTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  [[nodiscard]] const std::string& namespace_path() const { return namespace_path_; }

 private:
  std::string namespace_path_;
};

}  // namespace conduit::test

/// A check inside a child: on failure print where and exit with code 100 (the parent's
/// EXPECT on the Exit then fails the test with the printed reason).
#define CHILD_CHECK(condition)                                                                 \
  do {                                                                                         \
    if (!(condition)) {                                                                        \
      std::fprintf(stderr, "%s:%d: child check failed: %s\n", __FILE__, __LINE__, #condition); \
      std::fflush(stderr);                                                                     \
      ::_exit(100);                                                                            \
    }                                                                                          \
  } while (false)
