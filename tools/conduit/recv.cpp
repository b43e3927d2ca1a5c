// conduit recv NAME [--type T] [--timeout D] [--count N] [--json]: take messages out.
#include <fmt/format.h>

#include "tool.hpp"

namespace conduit::tool {

void add_recv(CLI::App& app, int& exit_code) {
  auto* recv = app.add_subcommand("recv", "Receive messages from a mailbox and print them");
  static std::string name;
  static std::int64_t type = 0;
  static std::string timeout;
  static std::size_t count = 1;
  static bool json = false;
  recv->add_option("name", name, "Mailbox name")->required();
  recv->add_option("-t,--type", type,
                   "Type filter as msgrcv: 0 any, >0 that type, <0 lowest <= |t|");
  recv->add_option("--timeout", timeout, "Wait at most this long for each message; default: wait");
  recv->add_option("-n,--count", count, "How many messages (0 = until none arrives in time)");
  recv->add_flag("--json", json, "Print each message as a JSON line");
  recv->callback([&exit_code] {
    std::optional<std::chrono::nanoseconds> limit;
    if (!timeout.empty()) {
      limit = parse_duration(timeout);
      if (!limit) {
        std::fprintf(stderr, "conduit recv: --timeout %s: not a duration (250ms, 2s)\n",
                     timeout.c_str());
        exit_code = kUsage;
        return;
      }
    }
    auto box = Mailbox::open(name);
    if (!box) {
      exit_code = report(box.error());
      return;
    }
    std::size_t received = 0;
    for (; count == 0 || received < count; ++received) {
      auto message = limit ? box->receive_for(*limit, type) : box->receive(type);
      if (!message) {
        if (message.error().code() == Errc::timed_out && count == 0) break;  // drained
        exit_code = report(message.error());
        if (message.error().code() == Errc::timed_out) exit_code = kNothing;
        return;
      }
      if (json) {
        fmt::print("{}\n", nlohmann::json{{"type", message->type()},
                                          {"sender_pid", message->sender().pid},
                                          {"sequence", message->sequence()},
                                          {"size", message->size()},
                                          {"text", std::string(message->text())}}
                               .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      } else {
        fmt::print("{}\n", message->text());
      }
      std::fflush(stdout);
    }
    exit_code = kOk;
  });
}

}  // namespace conduit::tool
