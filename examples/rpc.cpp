// Client–server: remote procedure calls with msgpack-rpc. The server, in a child process,
// binds plain C++ functions; the client calls them by name and gets typed results, errors
// included. Over unix:// the wire is the plain msgpack stream any msgpack-rpc peer speaks.
#include "example.hpp"

int main() {
  example::use_private_namespace();
  const std::string url = "unix://" + std::string(std::getenv("CONDUIT_NAMESPACE")) + "-rpc.sock";
  auto [parent_end, child_end] = example::must(conduit::pipe_pair(), "pipe_pair");
  const pid_t server = example::spawn([&, &child_end = child_end, &parent_end = parent_end] {
    parent_end.close();
    conduit::rpc::Server s;
    s.bind("add", [](int a, int b) { return a + b; });
    s.bind("divide", [](double a, double b) {
      if (b == 0) throw std::domain_error("division by zero");
      return a / b;
    });
    example::must(s.start(url), "start");
    example::say("server", "serving add and divide on " + s.url());
    example::must(child_end.send("ready"), "send");
    (void)child_end.receive();  // until the client is done
    s.stop();
    return 0;
  });
  child_end.close();
  example::must(parent_end.receive(), "receive");
  auto c = example::must(conduit::rpc::Client::connect(url), "connect");
  conduit::Result<int> r = c.call<int>("add", 1, 2);
  example::say("client", "add(1, 2) = " + std::to_string(example::must(std::move(r), "add")));
  auto quotient = c.call<double>("divide", 1.0, 0.0);
  example::say("client", "divide(1, 0): " + quotient.error().message());
  auto missing = c.call<int>("multiply", 2, 3);
  example::say("client", "multiply(2, 3): " + missing.error().message());
  parent_end.close();
  return example::join(server) ? 0 : 1;
}
