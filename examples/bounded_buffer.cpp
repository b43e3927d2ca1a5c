// The bounded buffer: a producer and a consumer share a mailbox that holds 3 messages. The
// producer blocks while it is full; the consumer blocks while it is empty.
#include "example.hpp"

using namespace std::chrono_literals;

int main() {
  example::use_private_namespace();
  auto box = example::must(
      conduit::Mailbox::create("buffer", {.capacity = conduit::Capacity::bounded(3)}), "create");
  const pid_t producer = example::spawn([] {
    auto mine = example::must(conduit::Mailbox::open("buffer"), "open");
    for (int item = 1; item <= 6; ++item) {
      const std::string text = std::to_string(item);
      if (!mine.try_send(text)) {
        example::say("producer", "buffer full: waits for the consumer");
        example::must(mine.send(text), "send");
      }
      example::say("producer", "put item " + text);
    }
    return 0;
  });
  ::usleep(100000);  // let the producer fill the buffer first
  for (int n = 0; n < 6; ++n) {
    auto item = example::must(box.receive(), "receive");
    example::say("consumer", "took item " + std::string(item.text()));
    ::usleep(20000);
  }
  return example::join(producer) ? 0 : 1;
}
