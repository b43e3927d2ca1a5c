// A program outside the tree that uses the installed conduit::mpi: rank 0 sends, rank 1 replies.
#include <conduit/mpi/world.hpp>

#include <cstdio>

int main(int argc, char** argv) {
  auto world = conduit::mpi::World::init(argc, argv);
  if (!world) {
    std::fprintf(stderr, "%s\n", world.error().message().c_str());
    return 1;
  }
  if (world->size() < 2) return world->rank() == 0 ? 0 : 1;
  if (world->rank() == 0) {
    if (!world->send(1, "ping")) return 1;
    auto reply = world->receive_from(1);
    if (!reply || reply->text() != "pong") return 1;
    std::printf("consumer_mpi: rank 1 answered '%.*s'\n", static_cast<int>(reply->text().size()),
                reply->text().data());
  } else if (world->rank() == 1) {
    auto ping = world->receive();
    if (!ping || ping->sender().pid != 0 || !world->send(0, "pong")) return 1;
  }
  return 0;
}
