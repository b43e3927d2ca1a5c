// The ring across machines: one rank per process of `mpirun -np N ring_mpi` (on one host or
// many: mpirun --hostfile). The ring itself is ring.hpp, unchanged from ring_local.cpp.
#include <unistd.h>

#include <cstdio>
#include <string>

#include "conduit/mpi/world.hpp"
#include "ring.hpp"

int main(int argc, char** argv) {
  auto world = conduit::mpi::World::init(argc, argv);
  if (!world) {
    std::fprintf(stderr, "init: %s\n", world.error().message().c_str());
    return 1;
  }
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  const std::string name = "rank " + std::to_string(world->rank()) + "@" + host;
  auto done = ring::run(*world, world->rank(), world->size(), name, [](int i) { return i; });
  if (!done) {
    std::fprintf(stderr, "%s\n", done.error().message().c_str());
    return 1;
  }
  return 0;
}
