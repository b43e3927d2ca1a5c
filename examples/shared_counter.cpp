// Two processes share one object by name: the parent creates a Shared<Tally>, a child opens it
// by name and adds to it, the parent waits for the child and reads what it wrote.
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>

#include "conduit/conduit.hpp"
#include "example.hpp"  // only for use_private_namespace: runs never collide

struct Tally {
  std::atomic<std::uint64_t> count{0};
  std::atomic<pid_t> last_writer{0};
};

int main() {
  example::use_private_namespace();
  auto tally = conduit::Shared<Tally>::create("tour.tally");
  if (!tally) {
    std::fprintf(stderr, "create: %s\n", tally.error().message().c_str());
    return 1;
  }
  std::printf("parent %d: created shared object 'tour.tally'\n", ::getpid());
  std::fflush(stdout);  // so the child does not inherit and repeat buffered output

  const pid_t child = ::fork();
  if (child == 0) {
    auto mine = conduit::Shared<Tally>::open("tour.tally");
    if (!mine) {
      std::fprintf(stderr, "child: open: %s\n", mine.error().message().c_str());
      _exit(1);
    }
    for (int i = 0; i < 1000; ++i) (*mine)->count.fetch_add(1);
    (*mine)->last_writer = ::getpid();
    std::printf("child %d: opened it by name and added 1000\n", ::getpid());
    std::fflush(stdout);
    _exit(0);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  std::printf("parent %d: count = %llu, last written by pid %d\n", ::getpid(),
              static_cast<unsigned long long>((*tally)->count.load()),
              (*tally)->last_writer.load());
  (void)conduit::Shared<Tally>::remove("tour.tally");
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 && (*tally)->count == 1000 ? 0 : 1;
}
