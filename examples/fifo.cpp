// A FIFO (named pipe): a pipe with a name in the file system, so processes that share no
// ancestor's descriptors can find each other. The server's FIFO is the well-known place where
// clients ask for a connection; each connection is then a private pair of pipes (duplex).
#include <sys/stat.h>

#include "example.hpp"

int main() {
  const std::string path = "/tmp/conduit-example-fifo." + std::to_string(::getpid());
  auto server = example::must(conduit::listen("fifo://" + path), "listen");
  struct stat st{};
  const bool is_fifo = ::stat(path.c_str(), &st) == 0 && S_ISFIFO(st.st_mode);
  example::say("server", "listens on " + server.url() + (is_fifo ? " (a FIFO on disk)" : ""));

  std::vector<pid_t> clients;
  for (const char* name : {"client A", "client B"}) {
    clients.push_back(example::spawn([&path, name] {
      // Only the path is shared: the client opens it by name, as an unrelated process would.
      auto link = example::must(conduit::connect("fifo://" + path), "connect");
      example::must(link.send(std::string("hello from ") + name), "send");
      auto reply = example::must(link.receive(), "receive");
      example::say(name, "got '" + std::string(reply.text()) + "'");
      return 0;
    }));
  }
  for (std::size_t n = 0; n < clients.size(); ++n) {
    auto link = example::must(server.accept(), "accept");
    auto request = example::must(link.receive(), "receive");
    example::say("server", "got '" + std::string(request.text()) + "' from pid " +
                               std::to_string(request.sender().pid));
    example::must(link.send("welcome"), "send");
  }
  bool ok = true;
  for (pid_t client : clients) ok = example::join(client) && ok;
  return ok ? 0 : 1;
}
