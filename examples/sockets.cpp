// Sockets: the same client and server over TCP (an IP address and a port; port 0 lets the
// kernel choose one) and over a Unix socket (a path). Only the URL differs. A Unix socket also
// tells the server who the client is (SO_PEERCRED); TCP cannot.
#include "example.hpp"

namespace {

bool serve_one(const std::string& url) {
  auto server = example::must(conduit::listen(url), "listen");
  example::say("server", "listens on " + server.url());
  const pid_t client = example::spawn([url = server.url()] {
    auto link = example::must(conduit::connect(url), "connect");
    example::must(link.send("what time is it?"), "send");
    auto reply = example::must(link.receive(), "receive");
    example::say("client", "got '" + std::string(reply.text()) + "'");
    return 0;
  });
  auto link = example::must(server.accept(), "accept");
  auto request = example::must(link.receive(), "receive");
  const pid_t sender = request.sender().pid;
  example::say("server",
               "got '" + std::string(request.text()) + "' from " +
                   (sender != 0 ? "pid " + std::to_string(sender) : "an unknown process"));
  example::must(link.send("time to read the next example"), "send");
  return example::join(client);
}

}  // namespace

int main() {
  const bool tcp = serve_one("tcp://127.0.0.1:0");
  const bool unix_socket =
      serve_one("unix:///tmp/conduit-example-socket." + std::to_string(::getpid()));
  return tcp && unix_socket ? 0 : 1;
}
