// The ring on one machine: three processes, each a conduit::Endpoint named "node<i>", over
// shared memory. The ring itself is ring.hpp, unchanged from ring_mpi.cpp.
#include <string>
#include <vector>

#include "../example.hpp"
#include "ring.hpp"

int main() {
  example::use_private_namespace();
  constexpr int kNodes = 3;
  // Every node joins before any sends (an Endpoint sends only to endpoints that have joined;
  // mpi::World gives this for free: every rank exists once init returns).
  (void)conduit::Shared<conduit::Barrier>::remove("ring.joined");
  auto joined =
      example::must(conduit::Shared<conduit::Barrier>::create("ring.joined", kNodes), "barrier");
  std::vector<pid_t> nodes;
  for (int index = 0; index < kNodes; ++index) {
    nodes.push_back(example::spawn([index] {
      const std::string name = "node" + std::to_string(index);
      auto node = example::must(conduit::Endpoint::join(name), "join");
      auto all_joined =
          example::must(conduit::Shared<conduit::Barrier>::open("ring.joined"), "open");
      example::must(all_joined->arrive_and_wait(), "arrive");
      example::must(
          ring::run(node, index, kNodes, name, [](int i) { return "node" + std::to_string(i); }),
          "ring");
      return 0;
    }));
  }
  bool ok = true;
  for (pid_t node : nodes) ok = example::join(node) && ok;
  (void)conduit::Shared<conduit::Barrier>::remove("ring.joined");
  return ok ? 0 : 1;
}
