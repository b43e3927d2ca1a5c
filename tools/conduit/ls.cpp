// conduit ls: every object in the namespace.
#include <fmt/format.h>

#include "tool.hpp"

namespace conduit::tool {

void add_ls(CLI::App& app, int& exit_code) {
  auto* ls = app.add_subcommand("ls", "List the objects in the namespace");
  static bool json = false;
  static bool all = false;
  ls->add_flag("--json", json, "Print JSON");
  ls->add_flag("-a,--all", all, "Include the objects conduit made for its own use (name#...)");
  ls->callback([&exit_code] {
    auto space = Namespace::current();
    if (!space) {
      exit_code = report(space.error());
      return;
    }
    auto names = space->names();
    if (!names) {
      exit_code = report(names.error());
      return;
    }
    nlohmann::json listing = nlohmann::json::array();
    if (!json)
      fmt::print("{:<14} {:<32} {:>8} {:<6} {:<5} {:>10} {:>12}\n", "KIND", "NAME", "OWNER",
                 "ALIVE", "MODE", "BYTES", "DEPTH/CAP");
    for (const auto& name : *names) {
      if (!all && name.find('#') != std::string::npos) continue;
      const ObjectInfo info = describe(name);
      if (info.kind == "gone") continue;
      if (json) {
        listing.push_back(to_json(info));
        continue;
      }
      fmt::print("{:<14} {:<32} {:>8} {:<6} {:04o}  {:>10} {:>12}\n", info.kind, info.name,
                 info.owner.pid, info.owner_alive ? "yes" : "no", info.mode, info.bytes,
                 depth_text(info));
    }
    if (json) fmt::print("{}\n", listing.dump(2));
    exit_code = kOk;
  });
}

}  // namespace conduit::tool
