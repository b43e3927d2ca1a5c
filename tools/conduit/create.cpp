// conduit create NAME [--capacity N|zero|unbounded] [--max-size B] [--receivers MODE]
// [--mode 0600] [--lifetime system|process]: make a mailbox from the shell. A process-lifetime
// mailbox lives as long as this command: it stays in the foreground until it is ended.
#include <unistd.h>

#include <fmt/format.h>

#include <charconv>

#include "tool.hpp"

namespace conduit::tool {

void add_create(CLI::App& app, int& exit_code) {
  auto* create = app.add_subcommand("create", "Create a mailbox");
  static std::string name;
  static std::string capacity = "64";
  static std::size_t max_size = 4096;
  static std::string receivers = "any_one";
  static std::string mode = "0600";
  static std::string lifetime = "system";
  create->add_option("name", name, "Mailbox name")->required();
  create->add_option("-c,--capacity", capacity, "N, zero or unbounded (default 64)");
  create->add_option("-s,--max-size", max_size, "Largest message in bytes (default 4096)");
  create->add_option("-r,--receivers", receivers, "any_one, exclusive, broadcast or pair")
      ->check(CLI::IsMember({"any_one", "exclusive", "broadcast", "pair"}));
  create->add_option("-m,--mode", mode, "Permission bits in octal (default 0600)");
  create
      ->add_option("-l,--lifetime", lifetime,
                   "system: until removed (default); process: until this command ends "
                   "(it waits in the foreground)")
      ->check(CLI::IsMember({"system", "process"}));
  create->callback([&exit_code] {
    MailboxOptions options;
    options.max_message_size = max_size;
    if (capacity == "zero") {
      options.capacity = Capacity::zero();
    } else if (capacity == "unbounded") {
      options.capacity = Capacity::unbounded();
    } else {
      std::size_t n = 0;
      auto [end, ec] = std::from_chars(capacity.data(), capacity.data() + capacity.size(), n);
      if (ec != std::errc{} || end != capacity.data() + capacity.size()) {
        std::fprintf(stderr, "conduit create: --capacity %s: want a number, zero or unbounded\n",
                     capacity.c_str());
        exit_code = kUsage;
        return;
      }
      options.capacity = Capacity::bounded(n);
    }
    if (receivers == "exclusive") options.receivers = Receivers::exclusive;
    if (receivers == "broadcast") options.receivers = Receivers::broadcast;
    if (receivers == "pair") options.receivers = Receivers::pair;
    unsigned bits = 0;
    auto [end, ec] = std::from_chars(mode.data(), mode.data() + mode.size(), bits, 8);
    if (ec != std::errc{} || end != mode.data() + mode.size()) {
      std::fprintf(stderr, "conduit create: --mode %s: want octal permission bits\n", mode.c_str());
      exit_code = kUsage;
      return;
    }
    options.mode = static_cast<mode_t>(bits);
    options.lifetime = lifetime == "process" ? Lifetime::process : Lifetime::system;
    auto box = Mailbox::create(name, options);
    if (!box) {
      exit_code = report(box.error());
      return;
    }
    if (options.lifetime == Lifetime::process) {
      fmt::print("mailbox '{}' lives until this command ends (Ctrl-C, or kill {})\n", name,
                 ::getpid());
      std::fflush(stdout);
      for (;;) ::pause();  // a signal ends the process, and the mailbox with it
    }
    exit_code = kOk;
  });
}

}  // namespace conduit::tool
