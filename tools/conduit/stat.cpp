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
    fmt::print(
        "name:       {}\nkind:       {}\nowner:      pid {} ({})\nlifetime:   {}\n"
        "mode:       {:04o}\nbytes:      {}\n",
        info.name, info.kind, info.owner.pid, info.owner_alive ? "alive" : "dead", info.lifetime,
        info.mode, info.bytes);
    if (!info.problem.empty()) fmt::print("problem:    {}\n", info.problem);
    if (const auto& box = info.mailbox) {
      std::string attached;
      for (const auto& process : box->attached) attached += fmt::format("{} ", process.pid);
      fmt::print(
          "capacity:   {}\ndepth:      {}\nmax size:   {}\nreceivers:  {}\n"
          "attached:   {}\nslots:      {}\nsent:       {}\nreceived:   {}\n"
          "would block: {}\ndropped:    {}\n",
          capacity_text(box->capacity), box->depth, box->max_message_size,
          receivers_text(box->receivers), attached.empty() ? "-" : attached, box->slots, box->sent,
          box->received, box->would_block, box->dropped);
    }
    if (const auto& ring = info.channel) {
      std::string producers;
      for (const auto& process : ring->producers_attached)
        producers += fmt::format("{} ", process.pid);
      fmt::print(
          "capacity:   {} per producer\ndepth:      {}\nproducers:  {} ({} lane{})\n"
          "record size: {}\nconsumer:   {}\nattached:   {}\nclosed:     {}\n",
          ring->capacity, ring->depth, ring->producers == Producers::one ? "one" : "many",
          ring->lanes, ring->lanes == 1 ? "" : "s", ring->record_size,
          ring->consumer.pid == 0 ? std::string("-") : fmt::format("pid {}", ring->consumer.pid),
          producers.empty() ? "-" : producers, ring->is_closed ? "yes" : "no");
    }
    exit_code = info.kind == "corrupted" ? kFailed : kOk;
  });
}

}  // namespace conduit::tool
