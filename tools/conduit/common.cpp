#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>

#include "tool.hpp"

namespace conduit::tool {

std::string capacity_text(const Capacity& capacity) {
  switch (capacity.kind) {
    case Capacity::Kind::zero: return "zero";
    case Capacity::Kind::bounded: return fmt::format("{}", capacity.limit);
    case Capacity::Kind::unbounded: return "unbounded";
  }
  return "?";
}

std::string receivers_text(Receivers receivers) {
  switch (receivers) {
    case Receivers::any_one: return "any_one";
    case Receivers::exclusive: return "exclusive";
    case Receivers::broadcast: return "broadcast";
    case Receivers::pair: return "pair";
  }
  return "?";
}

ObjectInfo describe(const std::string& name) {
  ObjectInfo info;
  info.name = name;
  auto segment = shm::Segment::inspect(name);
  if (!segment) {
    // not_found: gone meanwhile, or a process-lifetime object of a dead owner, reaped just now.
    info.kind = segment.error().code() == Errc::corrupted   ? "corrupted"
                : segment.error().code() == Errc::not_found ? "gone"
                                                            : "unknown";
    info.problem = segment.error().message();
    return info;
  }
  info.kind = shm::kind_name(segment->kind());
  info.owner = segment->creator();
  info.lifetime = segment->lifetime() == Lifetime::process ? "process" : "system";
  info.owner_alive = segment->lifetime() == Lifetime::process ? segment->is_owner_alive()
                                                              : alive(segment->creator());
  if (auto st = segment->status()) {
    info.mode = st->st_mode & 07777;
    info.bytes = static_cast<std::uint64_t>(st->st_size);
  }
  if (segment->kind() == shm::SegmentKind::mailbox && name.find('#') == std::string::npos) {
    if (auto box = Mailbox::open(name, MailboxRole::observer))
      info.mailbox = box->stats();
    else
      info.problem = box.error().message();
  }
  if (segment->kind() == shm::SegmentKind::channel) {
    // Opening a channel claims no role (that happens on the first send or receive).
    const auto& header = segment->header();
    if (auto ring = msg::ChannelCore::open(name, header.type_size, header.type_align))
      info.channel = (*ring)->stats();
    else
      info.problem = ring.error().message();
  }
  return info;
}

std::string depth_text(const ObjectInfo& info) {
  if (info.mailbox)
    return fmt::format("{}/{}", info.mailbox->depth, capacity_text(info.mailbox->capacity));
  if (info.channel) {
    // A channel's capacity is per producer lane: the ring holds up to lanes x capacity.
    const ChannelStats& stats = *info.channel;
    return stats.lanes > 1 ? fmt::format("{}/{}x{}", stats.depth, stats.lanes, stats.capacity)
                           : fmt::format("{}/{}", stats.depth, stats.capacity);
  }
  return "-";
}

nlohmann::json to_json(const ObjectInfo& info) {
  nlohmann::json json{{"name", info.name},           {"kind", info.kind},
                      {"owner_pid", info.owner.pid}, {"owner_alive", info.owner_alive},
                      {"lifetime", info.lifetime},   {"mode", fmt::format("{:04o}", info.mode)},
                      {"bytes", info.bytes}};
  if (!info.problem.empty()) json["problem"] = info.problem;
  if (info.mailbox) {
    const MailboxStats& stats = *info.mailbox;
    nlohmann::json attached = nlohmann::json::array();
    for (const auto& process : stats.attached) attached.push_back(process.pid);
    json["mailbox"] = {{"capacity", capacity_text(stats.capacity)},
                       {"depth", stats.depth},
                       {"max_message_size", stats.max_message_size},
                       {"receivers", receivers_text(stats.receivers)},
                       {"attached", attached},
                       {"slots", stats.slots},
                       {"ring_cells", stats.ring_cells},
                       {"sent", stats.sent},
                       {"received", stats.received},
                       {"would_block", stats.would_block},
                       {"dropped", stats.dropped}};
  }
  if (info.channel) {
    const ChannelStats& stats = *info.channel;
    nlohmann::json producers = nlohmann::json::array();
    for (const auto& process : stats.producers_attached) producers.push_back(process.pid);
    json["channel"] = {{"capacity", stats.capacity},
                       {"depth", stats.depth},
                       {"producers", stats.producers == Producers::one ? "one" : "many"},
                       {"lanes", stats.lanes},
                       {"record_size", stats.record_size},
                       {"consumer_pid", stats.consumer.pid},
                       {"producers_attached", producers},
                       {"closed", stats.is_closed}};
  }
  return json;
}

std::optional<std::chrono::nanoseconds> parse_duration(const std::string& text) {
  double value = 0;
  const char* end = text.data() + text.size();
  auto [rest, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc{} || value < 0) return std::nullopt;
  const std::string_view unit(rest, static_cast<std::size_t>(end - rest));
  double scale = 0;
  if (unit.empty() || unit == "s")
    scale = 1e9;
  else if (unit == "ms")
    scale = 1e6;
  else if (unit == "us")
    scale = 1e3;
  else if (unit == "ns")
    scale = 1;
  else if (unit == "m")
    scale = 60e9;
  else
    return std::nullopt;
  return std::chrono::nanoseconds(static_cast<std::int64_t>(value * scale));
}

std::string find_program(const std::string& program) {
  const char* path = std::getenv("PATH");
  const std::string paths = path != nullptr ? path : "/usr/bin:/bin";
  for (std::size_t start = 0; start <= paths.size();) {
    const auto end = std::min(paths.find(':', start), paths.size());
    std::string candidate = paths.substr(start, end - start) + "/" + program;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return {};
}

int report(const Error& error) {
  std::fprintf(stderr, "conduit: %s\n", error.message().c_str());
  return kFailed;
}

}  // namespace conduit::tool
