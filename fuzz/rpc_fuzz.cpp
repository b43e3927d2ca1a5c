// Fuzzes msgpack-rpc request decoding as the server runs it: the fuzz bytes arrive on a
// connection in chunks the input chooses, the rpc wire cuts them into msgpack objects with its
// streaming unpacker, each object is parsed as a call (rpc/protocol.hpp parse_call), and a call
// to a bound method converts its params through the handler adapter, as Server does. Malformed
// msgpack must end the connection with `corrupted`; nothing may crash, hang or allocate without
// bound.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "conduit/rpc/protocol.hpp"
#include "conduit/transport/transport.hpp"
#include "rpc/wire.hpp"

namespace {

using namespace conduit;

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "rpc fuzz: %s\n", what.c_str());
  std::abort();
}

// Handlers of the shapes users bind, each converting its arguments differently.
const std::map<std::string, rpc::detail::Handler>& handlers() {
  static const auto* bound = new std::map<std::string, rpc::detail::Handler>{
      // Summed in 64 bits: the fuzzer sends INT_MAX + 1, and an overflow here would be a bug in
      // this handler, not in conduit.
      {"add", rpc::detail::adapt([](int a, int b) { return std::int64_t{a} + b; })},
      {"echo", rpc::detail::adapt([](const std::string& text) { return text; })},
      {"sum", rpc::detail::adapt([](const std::vector<double>& values) {
         double total = 0;
         for (double v : values) total += v;
         return total;
       })},
      {"count", rpc::detail::adapt(
                    [](const std::map<std::string, std::int64_t>& table) { return table.size(); })},
      {"mixed", rpc::detail::adapt([](std::uint64_t n, bool flag, std::vector<char> bytes,
                                      std::tuple<int, std::string> pair) {
         return std::to_string(n) + (flag ? "+" : "-") + std::to_string(bytes.size()) +
                std::get<1>(pair);
       })},
      {"nothing", rpc::detail::adapt([] {})},
  };
  return *bound;
}

void run(const rpc::detail::Call& call) {
  if (call.params == nullptr) fail("a call without params");
  auto found = handlers().find(call.method);
  if (found == handlers().end()) return;
  msgpack::sbuffer result;
  try {
    found->second(*call.params, result);
  } catch (const rpc::detail::ArgumentError&) {
    // Bad arguments: the server answers with an error response.
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // The first byte chooses the chunk size each send carries (1..256 bytes); the rest is the
  // byte stream a client sent.
  if (size < 1) return 0;
  const std::size_t chunk = std::size_t{data[0]} + 1;
  const std::span<const std::uint8_t> stream(data + 1, size - 1);

  auto ends = conduit::pipe_pair();
  if (!ends) fail("pipe_pair: " + ends.error().message());
  // A peer on a byte stream: the wire's streaming unpacker sees the bytes as they come.
  rpc::detail::Wire wire(std::move(ends->second), /*is_stream=*/true);
  Connection& client = ends->first;

  std::size_t sent = 0;
  bool is_done = false;
  const auto take_objects = [&](std::chrono::milliseconds wait) {
    for (;;) {
      auto next = wire.next(wait);
      if (!next) {
        const Errc code = next.error().code();
        if (code != Errc::closed && code != Errc::corrupted) {
          fail("the wire failed with an unexpected error: " + next.error().message());
        }
        is_done = true;
        return;
      }
      if (!*next) return;  // nothing whole yet
      if (auto call = rpc::detail::parse_call((*next)->get())) run(*call);
    }
  };
  while (sent < stream.size() && !is_done) {
    const std::size_t n = std::min(chunk, stream.size() - sent);
    if (auto ok = client.send(std::as_bytes(stream.subspan(sent, n))); !ok) {
      fail("send: " + ok.error().message());
    }
    sent += n;
    take_objects(std::chrono::milliseconds(0));
  }
  client.close();
  while (!is_done) take_objects(std::chrono::milliseconds(1000));
  return 0;
}
