// A signal as a message: signal://pid sends to a process with sigqueue(3), a realtime signal
// whose value carries up to 4 bytes. The smallest message there is, and the receiver learns
// which process sent it. The receiver listens first: listening blocks the signal, which would
// otherwise end the process, and reads it from a signalfd instead.
#include "example.hpp"

int main() {
  const std::string url = "signal://" + std::to_string(::getpid());
  auto listener = example::must(conduit::listen(url), "listen");  // before any thread starts
  example::say("receiver", "listens on " + url);

  const pid_t sender = example::spawn([&url] {
    auto link = example::must(conduit::connect(url), "connect");
    for (const char* word : {"tick", "tock", "bye"}) example::must(link.send(word), "send");
    auto too_big = link.send("hello!");
    example::say("sender", "send(\"hello!\"): " + too_big.error().message());
    return too_big.error().code() == conduit::Errc::message_too_large ? 0 : 1;
  });
  auto link = example::must(listener.accept(), "accept");
  bool ok = true;
  for (;;) {
    auto message = link.receive();
    if (!message) {
      example::say("receiver", "then: " + message.error().message());
      ok = message.error().code() == conduit::Errc::closed;
      break;
    }
    example::say("receiver", "signal from pid " + std::to_string(message->sender().pid) +
                                 " carrying '" + std::string(message->text()) + "'");
  }
  return example::join(sender) && ok ? 0 : 1;
}
