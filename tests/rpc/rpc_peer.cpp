// A conduit msgpack-rpc peer for the interoperability test (interop_test.py), which drives it
// against an independent implementation (Python's msgpack):
//   rpc_peer serve URL   serves add, concat, fail, record, recorded; prints the URL it listens
//                        on, then serves until its standard input closes
//   rpc_peer call URL    calls a server there and checks every answer; exit 0 when all fit
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <stdexcept>
#include <string>

#include "conduit/rpc/client.hpp"
#include "conduit/rpc/server.hpp"

namespace {

int serve(const std::string& url) {
  conduit::rpc::Server server;
  static std::atomic<int> recorded{0};
  server.bind("add", [](int a, int b) { return a + b; });
  server.bind("concat", [](const std::string& a, const std::string& b) { return a + b; });
  server.bind("fail", [](const std::string& why) -> int { throw std::runtime_error(why); });
  server.bind("record", [](int value) { recorded.store(value); });
  server.bind("recorded", [] { return recorded.load(); });
  if (auto started = server.start(url); !started) {
    std::fprintf(stderr, "rpc_peer: %s\n", started.error().message().c_str());
    return 1;
  }
  std::printf("%s\n", server.url().c_str());
  std::fflush(stdout);
  char byte = 0;
  while (::read(STDIN_FILENO, &byte, 1) > 0) {
  }
  server.stop();
  return 0;
}

int failures = 0;

void check(bool is_ok, const std::string& what) {
  if (!is_ok) {
    std::fprintf(stderr, "rpc_peer: failed: %s\n", what.c_str());
    ++failures;
  }
}

int call(const std::string& url) {
  auto client = conduit::rpc::Client::connect(url);
  if (!client) {
    std::fprintf(stderr, "rpc_peer: %s\n", client.error().message().c_str());
    return 1;
  }
  auto sum = client->call<int>("add", 1, 2);
  check(sum && *sum == 3, "add(1, 2) == 3");
  auto joined = client->call<std::string>("concat", std::string("con"), std::string("duit"));
  check(joined && *joined == "conduit", "concat");
  auto failed = client->call<int>("fail", std::string("as asked"));
  check(!failed && failed.error().message().find("as asked") != std::string::npos,
        "fail gives the server's error text");
  check(client->notify("record", 9).has_value(), "notify");
  auto seen = client->call<int>("recorded");
  check(seen && *seen == 9, "recorded after the notification");
  auto first = client->async_call<int>("add", 10, 1);
  auto second = client->async_call<int>("add", 20, 2);
  auto a = first.get();
  auto b = second.get();
  check(a && *a == 11 && b && *b == 22, "two calls in flight");
  if (failures == 0) std::printf("ok\n");
  return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: rpc_peer serve|call URL\n");
    return 2;
  }
  const std::string verb = argv[1];
  if (verb == "serve") return serve(argv[2]);
  if (verb == "call") return call(argv[2]);
  std::fprintf(stderr, "rpc_peer: unknown verb '%s'\n", verb.c_str());
  return 2;
}
