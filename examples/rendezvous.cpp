// Zero capacity: a rendezvous. send() returns only once a receiver has taken the message, so
// sender and receiver meet. With nobody receiving, a timed send gives up and leaves nothing.
#include "example.hpp"

using namespace std::chrono_literals;

int main() {
  example::use_private_namespace();
  auto box = example::must(
      conduit::Mailbox::create("meet", {.capacity = conduit::Capacity::zero()}), "create");
  auto alone = box.send_for("anyone?", 100ms);
  example::say("sender", std::string("send_for with nobody there: ") + alone.error().message());
  const pid_t receiver = example::spawn([] {
    auto mine = example::must(conduit::Mailbox::open("meet"), "open");
    example::say("receiver", "busy for 200 ms before it receives");
    ::usleep(200000);
    auto message = example::must(mine.receive(), "receive");
    example::say("receiver", "took '" + std::string(message.text()) + "'");
    return 0;
  });
  const auto start = std::chrono::steady_clock::now();
  example::must(box.send("hello"), "send");
  const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  example::say("sender", "send returned after " + std::to_string(waited.count()) +
                             " ms, once the receiver took it");
  return example::join(receiver) ? 0 : 1;
}
