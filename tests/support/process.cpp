#include "process.hpp"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>
#include <utility>

namespace conduit::test {
namespace {

Exit decode(int status) {
  Exit exit;
  if (WIFEXITED(status)) exit.code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) exit.signal = WTERMSIG(status);
  return exit;
}

}  // namespace

std::string Exit::describe() const {
  if (timed_out) return "timed out (killed by the watchdog)";
  if (signal != 0) return "killed by signal " + std::to_string(signal);
  return "exited with code " + std::to_string(code);
}

Child::Child(const std::function<int()>& body) {
  std::fflush(nullptr);  // the child must not inherit and repeat buffered output
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    int code = 101;
    try {
      code = body();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child: exception: %s\n", e.what());
    } catch (...) {
      std::fprintf(stderr, "child: unknown exception\n");
    }
    std::fflush(nullptr);
    ::_exit(code);
  }
}

Child::Child(Child&& other) noexcept : pid_(std::exchange(other.pid_, -1)) {}

Child::~Child() {
  if (pid_ > 0) (void)kill();
}

bool Child::running() const {
  if (pid_ <= 0) return false;
  siginfo_t info{};
  if (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) != 0)
    return false;
  return info.si_pid == 0;
}

Exit Child::wait(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return Exit{};
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto pause = 100us;
  for (;;) {
    int status = 0;
    const pid_t done = ::waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      pid_ = -1;
      return decode(status);
    }
    if (done < 0 && errno != EINTR) {
      pid_ = -1;
      return Exit{};
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      Exit exit = kill();
      exit.timed_out = true;
      return exit;
    }
    std::this_thread::sleep_for(pause);
    pause = std::min<std::chrono::microseconds>(pause * 2, 20ms);
  }
}

Exit Child::kill(int signal) {
  if (pid_ <= 0) return Exit{};
  ::kill(pid_, signal);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  return decode(status);
}

Exit run_in_child(const std::function<int()>& body, std::chrono::milliseconds timeout) {
  Child child(body);
  return child.wait(timeout);
}

void ProcessTest::SetUp() {
  char path[] = "/dev/shm/conduit-test.XXXXXX";
  ASSERT_NE(::mkdtemp(path), nullptr) << "mkdtemp in /dev/shm failed";
  namespace_path_ = path;
  ::setenv("CONDUIT_NAMESPACE", path, 1);
  // A whole-test watchdog: SIGALRM's default action ends the test process, which ctest
  // reports as a failure instead of hanging until its own timeout.
  ::alarm(240);
}

void ProcessTest::TearDown() {
  ::alarm(0);
  std::error_code ignored;
  std::filesystem::remove_all(namespace_path_, ignored);
  ::unsetenv("CONDUIT_NAMESPACE");
}

pid_t missing_thread_id() {
  int pid_max = 32768;
  std::ifstream("/proc/sys/kernel/pid_max") >> pid_max;
  for (pid_t id = pid_max - 1; id > 1; --id) {
    if (::kill(id, 0) != 0 && errno == ESRCH) return id;
  }
  return 0;
}

}  // namespace conduit::test
