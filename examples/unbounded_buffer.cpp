// The unbounded buffer: send never blocks. A producer puts 100,000 messages into a mailbox
// nobody reads yet; the mailbox grows in shared memory, then a consumer takes them all.
#include "example.hpp"

int main() {
  example::use_private_namespace();
  auto box = example::must(
      conduit::Mailbox::create(
          "heap", {.capacity = conduit::Capacity::unbounded(), .max_message_size = 64}),
      "create");
  const pid_t producer = example::spawn([] {
    auto mine = example::must(conduit::Mailbox::open("heap"), "open");
    for (std::uint64_t i = 0; i < 100000; ++i)
      example::must(mine.try_send(conduit::bytes_of(i)), "try_send");
    example::say("producer", "sent 100000 messages without ever blocking");
    return 0;
  });
  if (!example::join(producer)) return 1;
  const auto stats = box.stats();
  example::say("mailbox", "holds " + std::to_string(stats.depth) + " messages in " +
                              std::to_string(stats.slots) + " slots");
  std::uint64_t taken = 0;
  while (box.try_receive()) ++taken;
  example::say("consumer", "took " + std::to_string(taken) + " messages");
  return taken == 100000 ? 0 : 1;
}
