#include "conduit/rpc/protocol.hpp"

namespace conduit::rpc::detail {

std::optional<Call> parse_call(const msgpack::object& message) {
  if (message.type != msgpack::type::ARRAY || message.via.array.size < 3) return std::nullopt;
  const msgpack::object* fields = message.via.array.ptr;
  if (fields[0].type != msgpack::type::POSITIVE_INTEGER) return std::nullopt;
  const std::uint64_t kind = fields[0].via.u64;
  const auto text = [](const msgpack::object& field) {
    return std::string(field.via.str.ptr, field.via.str.size);
  };
  if (kind == static_cast<std::uint64_t>(MessageKind::notification)) {
    if (message.via.array.size != 3 || fields[1].type != msgpack::type::STR) return std::nullopt;
    return Call{MessageKind::notification, 0, text(fields[1]), &fields[2]};
  }
  if (kind != static_cast<std::uint64_t>(MessageKind::request) || message.via.array.size != 4 ||
      fields[1].type != msgpack::type::POSITIVE_INTEGER || fields[2].type != msgpack::type::STR) {
    return std::nullopt;
  }
  return Call{MessageKind::request, fields[1].via.u64, text(fields[2]), &fields[3]};
}

}  // namespace conduit::rpc::detail
