// A file as the channel: file:///path is an append-only spool. Writers append whole records
// (never interleaved, however many write at once); the one reader follows the file from the
// start. A file outlives its writers, so here they write and exit before anyone reads.
#include "example.hpp"

int main() {
  const std::string url = "file:///tmp/conduit-example-spool." + std::to_string(::getpid());
  auto spool = example::must(conduit::listen(url), "listen");  // makes the file
  example::say("reader", "made the spool " + url);

  std::vector<pid_t> writers;
  for (const char* name : {"writer A", "writer B"}) {
    writers.push_back(example::spawn([&url, name] {
      auto log = example::must(conduit::connect(url), "connect");
      for (int line = 1; line <= 2; ++line)
        example::must(log.send(std::string(name) + ", line " + std::to_string(line)), "append");
      example::say(name, "appended 2 records and exits");
      return 0;
    }));
  }
  bool ok = true;
  for (pid_t writer : writers) ok = example::join(writer) && ok;

  auto reader = example::must(spool.accept(), "accept");
  int records = 0;
  for (;;) {
    auto record = reader.receive();
    if (!record) {
      example::say("reader", "then: " + record.error().message());
      ok = ok && record.error().code() == conduit::Errc::closed;
      break;
    }
    ++records;
    example::say("reader", "read '" + std::string(record->text()) + "'");
  }
  return ok && records == 4 ? 0 : 1;
}
