// Flow control with empties: the consumer first sends N empty messages; the producer takes an
// empty before each item, so at most N items are ever outstanding, whatever the speeds.
#include "example.hpp"

int main() {
  example::use_private_namespace();
  constexpr int kN = 2;
  auto items = example::must(conduit::Mailbox::create("items"), "create items");
  auto empties = example::must(conduit::Mailbox::create("empties"), "create empties");
  const pid_t producer = example::spawn([] {
    auto to_consumer = example::must(conduit::Mailbox::open("items"), "open");
    auto from_consumer = example::must(conduit::Mailbox::open("empties"), "open");
    for (int item = 1; item <= 5; ++item) {
      example::must(from_consumer.receive(), "receive empty");
      example::must(to_consumer.send("item " + std::to_string(item)), "send");
      example::say("producer", "got an empty, sent item " + std::to_string(item));
    }
    return 0;
  });
  for (int i = 0; i < kN; ++i) example::must(empties.send(""), "send empty");
  example::say("consumer", "sent " + std::to_string(kN) + " empties");
  for (int n = 0; n < 5; ++n) {
    auto item = example::must(items.receive(), "receive");
    example::say("consumer", "took " + std::string(item.text()) + ", returns an empty");
    example::must(empties.send(""), "send empty");
  }
  return example::join(producer) ? 0 : 1;
}
