// A program outside the tree that uses the installed conduit.
#include <conduit/conduit.hpp>

#include <cstdio>

int main() {
  auto number = conduit::Shared<int>::create("installed", 41);
  if (!number) {
    std::fprintf(stderr, "%s\n", number.error().message().c_str());
    return 1;
  }
  ++**number;
  auto again = conduit::Shared<int>::open("installed");
  if (!again || **again != 42) return 1;
  std::printf("consumer: shared object reads %d\n", **again);
  return conduit::Shared<int>::remove("installed") ? 0 : 1;
}
