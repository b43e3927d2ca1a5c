// What cli_test.py cannot make with the conduit command itself: objects of the kinds the
// command only inspects. `cli_fixture channel NAME N` creates Channel<uint64_t> NAME (capacity
// 8, system lifetime), sends 0..N-1 into it, and exits.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "conduit/conduit.hpp"

int main(int argc, char** argv) {
  if (argc != 4 || std::string_view(argv[1]) != "channel") {
    std::fprintf(stderr, "usage: cli_fixture channel NAME N\n");
    return 2;
  }
  auto channel = conduit::Channel<std::uint64_t>::create(argv[2], {.capacity = 8});
  if (!channel) {
    std::fprintf(stderr, "cli_fixture: %s\n", channel.error().message().c_str());
    return 1;
  }
  for (std::uint64_t i = 0, n = std::strtoull(argv[3], nullptr, 10); i < n; ++i) {
    if (auto sent = channel->try_send(i); !sent) {
      std::fprintf(stderr, "cli_fixture: %s\n", sent.error().message().c_str());
      return 1;
    }
  }
  return 0;
}
