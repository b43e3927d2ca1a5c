// conduit rm NAME... | rm --dead: remove objects.
#include <fmt/format.h>

#include "tool.hpp"

namespace conduit::tool {

void add_rm(CLI::App& app, int& exit_code) {
  auto* rm = app.add_subcommand("rm", "Remove objects (those blocked on them get closed)");
  static std::vector<std::string> names;
  static bool dead = false;
  rm->add_option("names", names, "Object names");
  rm->add_flag("--dead", dead, "Remove every process-lifetime object whose owner died");
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
      int reaped = 0;
      for (const auto& name : *all) {
        if (name.find('#') != std::string::npos) continue;  // they go with their owner
        if (auto removed = shm::Segment::reap_if_dead(name); removed && *removed) {
          fmt::print("removed {} (its owner died)\n", name);
          ++reaped;
        }
      }
      fmt::print("{} object{} reaped\n", reaped, reaped == 1 ? "" : "s");
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
