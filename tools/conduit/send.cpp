// conduit send NAME [--type T] [--timeout D] [--file F | TEXT]: one message into a mailbox.
#include <fmt/format.h>

#include <fstream>
#include <iterator>

#include "tool.hpp"

namespace conduit::tool {

void add_send(CLI::App& app, int& exit_code) {
  auto* send = app.add_subcommand("send", "Send one message to a mailbox");
  static std::string name;
  static std::string text;
  static std::string file;
  static std::int64_t type = 0;
  static std::string timeout;
  send->add_option("name", name, "Mailbox name")->required();
  auto* text_option = send->add_option("text", text, "The message text");
  send->add_option("-f,--file", file, "Send the bytes of this file ('-' = standard input)")
      ->excludes(text_option);
  send->add_option("-t,--type", type, "Message type (System V style; 0 = none)");
  send->add_option("--timeout", timeout, "Give up after this long (250ms, 2s); default: wait");
  send->callback([&exit_code] {
    std::string payload = text;
    if (!file.empty()) {
      std::ifstream in;
      std::istream* source = &std::cin;
      if (file != "-") {
        in.open(file, std::ios::binary);
        if (!in) {
          exit_code = report(Error(Errc::not_found, fmt::format("send: cannot read '{}'", file)));
          return;
        }
        source = &in;
      }
      payload.assign(std::istreambuf_iterator<char>(*source), std::istreambuf_iterator<char>());
    }
    auto box = Mailbox::open(name, MailboxRole::sender);
    if (!box) {
      exit_code = report(box.error());
      return;
    }
    Result<void> sent;
    if (timeout.empty()) {
      sent = box->send(payload, type);
    } else {
      const auto limit = parse_duration(timeout);
      if (!limit) {
        std::fprintf(stderr, "conduit send: --timeout %s: not a duration (250ms, 2s)\n",
                     timeout.c_str());
        exit_code = kUsage;
        return;
      }
      sent = box->send_for(payload, *limit, type);
    }
    if (!sent) {
      exit_code = report(sent.error());
      if (sent.error().code() == Errc::timed_out) exit_code = kNothing;
      return;
    }
    exit_code = kOk;
  });
}

}  // namespace conduit::tool
