// Message queues, POSIX (mq://name) and System V (sysv://key): the kernel keeps each message
// whole, with its type, until it is received. The same client and server run over both; only
// the URL differs. The queues know the sending process, and a message's type travels with it.
#include "example.hpp"

namespace {

bool serve_one(const std::string& url) {
  auto server = example::must(conduit::listen(url), "listen");
  example::say("server", "listens on " + server.url());
  const pid_t client = example::spawn([&url] {
    auto link = example::must(conduit::connect(url), "connect");
    example::must(link.send("order 17", /*type=*/1), "send");
    example::must(link.send("invoice 17", /*type=*/2), "send");
    auto reply = example::must(link.receive(), "receive");
    example::say("client", "got '" + std::string(reply.text()) + "'");
    return 0;
  });
  auto link = example::must(server.accept(), "accept");
  for (int n = 0; n < 2; ++n) {
    auto message = example::must(link.receive(), "receive");
    example::say("server", "got '" + std::string(message.text()) + "' of type " +
                               std::to_string(message.type()) + " from pid " +
                               std::to_string(message.sender().pid));
  }
  example::must(link.send("both filed"), "send");
  return example::join(client);
}

}  // namespace

int main() {
  const auto pid = std::to_string(::getpid());
  const bool posix = serve_one("mq://conduit-example." + pid);
  // A System V key is a number; ftok(3) would derive one from a path. This one is the pid's.
  const bool system_v = serve_one("sysv://" + std::to_string(0x43000000 | (::getpid() & 0xffffff)));
  return posix && system_v ? 0 : 1;
}
