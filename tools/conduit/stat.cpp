// conduit stat NAME: everything conduit knows about one object.
#include <fmt/format.h>

#include "tool.hpp"

namespace conduit::tool {

void add_stat(CLI::App& app, int& exit_code) {
  auto* stat = app.add_subcommand("stat", "Show everything about one object");
  static std::string name;
  static bool json = false;
  stat->add_option("name", name, "Object name")->required();
  stat->add_flag("--json", json, "Print JSON");
  stat->callback([&exit_code] {
    if (auto valid = check_name("object", name, NameUse::internal); !valid) {
      exit_code = report(valid.error());
      return;
    }
    const ObjectInfo info = describe(name);
    if (info.kind == "gone" || info.kind == "unknown") {
      exit_code = report(Error(Errc::not_found, info.problem));
      return;
    }
    if (json) {
      fmt::print("{}\n", to_json(info).dump(2));
      exit_code = kOk;
      return;
    }
    const auto show = [](std::string_view label, const auto& value) {
      fmt::print("{:<13}{}\n", fmt::format("{}:", label), value);
    };
    const auto pids = [](const std::vector<ProcessId>& processes) {
      std::string text;
      for (const auto& process : processes) text += fmt::format("{} ", process.pid);
      return text.empty() ? std::string("-") : text;
    };
    show("name", info.name);
    show("kind", info.kind);
    show("owner", fmt::format("pid {} ({})", info.owner.pid, info.owner_alive ? "alive" : "dead"));
    show("lifetime", info.lifetime);
    show("mode", fmt::format("{:04o}", info.mode));
    show("bytes", info.bytes);
    if (!info.problem.empty()) show("problem", info.problem);
    if (const auto& box = info.mailbox) {
      show("capacity", capacity_text(box->capacity));
      show("depth", box->depth);
      show("max size", box->max_message_size);
      show("receivers", receivers_text(box->receivers));
      show("attached", pids(box->attached));
      show("slots", box->slots);
      show("ring cells", box->ring_cells);
      show("sent", box->sent);
      show("received", box->received);
      show("would block", box->would_block);
      show("dropped", box->dropped);
    }
    if (const auto& ring = info.channel) {
      show("capacity", fmt::format("{} per producer", ring->capacity));
      show("depth", ring->depth);
      show("producers",
           fmt::format("{} ({} lane{})", ring->producers == Producers::one ? "one" : "many",
                       ring->lanes, ring->lanes == 1 ? "" : "s"));
      show("record size", ring->record_size);
      show("consumer",
           ring->consumer.pid == 0 ? std::string("-") : fmt::format("pid {}", ring->consumer.pid));
      show("attached", pids(ring->producers_attached));
      show("closed", ring->is_closed ? "yes" : "no");
    }
    exit_code = info.kind == "corrupted" ? kFailed : kOk;
  });
}

}  // namespace conduit::tool
