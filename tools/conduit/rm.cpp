// conduit rm NAME... | rm --dead [--json]: remove objects.
#include <fmt/format.h>

#include "tool.hpp"

namespace conduit::tool {

void add_rm(CLI::App& app, int& exit_code) {
  auto* rm = app.add_subcommand("rm", "Remove objects (those blocked on them get closed)");
  static std::vector<std::string> names;
  static bool dead = false;
  static bool json = false;
  rm->add_option("names", names, "Object names");
  auto* dead_flag =
      rm->add_flag("--dead", dead, "Remove every process-lifetime object whose owner died");
  rm->add_flag("--json", json, "With --dead: print the names removed as JSON")->needs(dead_flag);
  rm->callback([&exit_code] {
    exit_code = kOk;
    if (dead) {
      auto space = Namespace::current();
      if (!space) {
        exit_code = report(space.error());
        return;
      }
      auto all = space->names();
      if (!all) {
        exit_code = report(all.error());
        return;
      }
      std::vector<std::string> reaped;
      for (const auto& name : *all) {
        if (name.find('#') != std::string::npos) continue;  // they go with their owner
        if (auto removed = shm::Segment::reap_if_dead(name); removed && *removed) {
          if (!json) fmt::print("removed {} (its owner died)\n", name);
          reaped.push_back(name);
        }
      }
      if (json)
        fmt::print("{}\n", nlohmann::json{{"removed", reaped}}.dump(2));
      else
        fmt::print("{} object{} reaped\n", reaped.size(), reaped.size() == 1 ? "" : "s");
    }
    if (names.empty() && !dead) {
      std::fprintf(stderr, "conduit rm: name an object, or --dead\n");
      exit_code = kUsage;
    }
    for (const auto& name : names) {
      // A mailbox is removed through Mailbox::remove, which wakes its waiters first.
      auto info = shm::Segment::inspect(name);
      Result<void> removed = info && info->kind() == shm::SegmentKind::mailbox
                                 ? Mailbox::remove(name)
                                 : shm::Segment::remove(name);
      if (!removed) exit_code = report(removed.error());
    }
  });
}

}  // namespace conduit::tool
