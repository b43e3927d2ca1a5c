// Selective receive by type, exactly as System V msgrcv: 0 takes the oldest message; a
// positive type the oldest of that type; a negative one the oldest of the lowest type <= |t|.
#include "example.hpp"

int main() {
  example::use_private_namespace();
  auto box = example::must(conduit::Mailbox::create("typed"), "create");
  const pid_t sender = example::spawn([] {
    auto mine = example::must(conduit::Mailbox::open("typed"), "open");
    for (const auto& [type, text] : std::vector<std::pair<int, const char*>>{
             {3, "routine"}, {1, "urgent"}, {2, "normal"}, {3, "routine again"}})
      example::must(mine.send(text, type), "send");
    return 0;
  });
  if (!example::join(sender)) return 1;
  for (const std::int64_t filter : {2, -3, 0, 3}) {
    auto message = example::must(box.receive(filter), "receive");
    example::say("receiver", "receive(" + std::to_string(filter) + ") -> type " +
                                 std::to_string(message.type()) + " '" +
                                 std::string(message.text()) + "'");
  }
  return 0;
}
