// Direct naming: processes name each other. Symmetric: the server receives from a named
// client. Asymmetric: it receives from anyone and the message says who sent it.
#include "example.hpp"

int main() {
  example::use_private_namespace();
  auto server = example::must(conduit::Endpoint::join("server"), "join");
  std::vector<pid_t> clients;
  for (const char* name : {"alice", "bob"}) {
    clients.push_back(example::spawn([name] {
      auto me = example::must(conduit::Endpoint::join(name), "join");
      example::must(me.send("server", std::string("hello from ") + name), "send");
      auto reply = example::must(me.receive_from("server"), "receive_from");
      example::say(name, "got '" + std::string(reply.text()) + "'");
      return 0;
    }));
  }
  // Asymmetric: whoever comes first.
  for (int i = 0; i < 2; ++i) {
    auto message = example::must(server.receive(), "receive");
    example::say("server", "receive() got '" + std::string(message.text()) + "' from " +
                               message.sender_name());
    example::must(server.send(message.sender_name(), "welcome, " + message.sender_name()), "send");
  }
  bool ok = true;
  for (pid_t client : clients) ok = example::join(client) && ok;
  // Symmetric: only from the one named.
  const pid_t carol = example::spawn([] {
    auto me = example::must(conduit::Endpoint::join("carol"), "join");
    example::must(me.send("server", "carol's note"), "send");
    example::must(me.receive_from("server"), "wait");
    return 0;
  });
  auto note = example::must(server.receive_from("carol"), "receive_from");
  example::say("server", "receive_from(\"carol\") got '" + std::string(note.text()) + "'");
  example::must(server.send("carol", "bye"), "send");
  return example::join(carol) && ok ? 0 : 1;
}
