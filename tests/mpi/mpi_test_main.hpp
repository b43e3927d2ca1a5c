// What every MPI test program shares: its payload pattern, and a main() that joins the world,
// checks there are enough ranks and runs the tests.
#pragma once

#include <cstddef>
#include <cstdio>
#include <vector>

#include <gtest/gtest.h>

#include "conduit/mpi/world.hpp"

namespace conduit::mpi::test {

/// `size` bytes that depend on their index and `seed`: a shifted or mixed-up copy shows.
inline std::vector<std::byte> pattern(std::size_t size, int seed) {
  std::vector<std::byte> bytes(size);
  for (std::size_t i = 0; i < size; ++i)
    bytes[i] = static_cast<std::byte>((i * 131 + static_cast<std::size_t>(seed)) & 0xff);
  return bytes;
}

/// main() of a test program run under mpirun: joins the world (kept in `world`), then runs
/// every test; 1 when the world cannot be joined or has fewer than `ranks` ranks.
inline int run_world_tests(int argc, char** argv, int ranks, const char* program, World*& world) {
  auto joined = World::init(argc, argv);
  if (!joined) {
    std::fprintf(stderr, "%s\n", joined.error().message().c_str());
    return 1;
  }
  world = &*joined;
  ::testing::InitGoogleTest(&argc, argv);
  if (world->size() < ranks) {
    std::fprintf(stderr, "%s: needs at least %d ranks (mpirun -np %d), has %d\n", program, ranks,
                 ranks, world->size());
    return 1;
  }
  return RUN_ALL_TESTS();
}

}  // namespace conduit::mpi::test
