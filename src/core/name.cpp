#include "conduit/core/name.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <optional>

namespace conduit {
namespace {

bool is_name_character(char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

bool is_valid_part(std::string_view part) noexcept {
  return !part.empty() && part.size() <= kMaxNameLength && part != "." && part != ".." &&
         std::ranges::all_of(part, is_name_character);
}

/// The first of the '#'-separated parts of `name` that is not a valid name, if one is not.
std::optional<std::string_view> first_invalid_part(std::string_view name) noexcept {
  for (std::size_t start = 0;;) {
    const auto end = name.find('#', start);
    const std::string_view part = name.substr(start, end - start);
    if (!is_valid_part(part)) return part;
    if (end == std::string_view::npos) return std::nullopt;
    start = end + 1;
  }
}

}  // namespace

bool is_valid_name(std::string_view name, NameUse use) noexcept {
  if (use == NameUse::user || name.find('#') == std::string_view::npos) return is_valid_part(name);
  return name.size() <= kMaxInternalNameLength && !first_invalid_part(name);
}

std::string internal_name(std::initializer_list<std::string_view> parts) {
  std::string name;
  for (const auto part : parts) {
    if (!name.empty()) name += '#';
    name += part;
  }
  return name;
}

std::string printable_name(std::string_view name) {
  constexpr std::size_t kShown = 64;
  std::string text;
  for (const char c : name.substr(0, kShown)) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte >= 0x7f || c == '\'' || c == '\\')
      text += fmt::format("\\x{:02x}", byte);
    else
      text += c;
  }
  if (name.size() > kShown) text += fmt::format("...({} bytes)", name.size());
  return text;
}

Result<void> check_name(std::string_view kind, std::string_view name, NameUse use) {
  if (is_valid_name(name, use)) return {};
  const std::string shown = printable_name(name);
  if (use == NameUse::internal && name.find('#') != std::string_view::npos) {
    // Which part is wrong, said of that part (its own message), within the whole name.
    if (name.size() > kMaxInternalNameLength)
      return fail(Errc::invalid_argument,
                  fmt::format("{} '{}': invalid internal name: {} characters, at most {}", kind,
                              shown, name.size(), kMaxInternalNameLength));
    if (const auto part = first_invalid_part(name)) {
      const auto valid = check_name("part", *part);
      return fail(Errc::invalid_argument, fmt::format("{} '{}': invalid internal name: {}", kind,
                                                      shown, valid.error().message()));
    }
  }
  if (name.empty())
    return fail(Errc::invalid_argument, fmt::format("{} '': invalid name: empty", kind));
  if (name.size() > kMaxNameLength)
    return fail(Errc::invalid_argument,
                fmt::format("{} '{}': invalid name: {} characters, at most {}", kind, shown,
                            name.size(), kMaxNameLength));
  if (name == "." || name == "..")
    return fail(Errc::invalid_argument,
                fmt::format("{} '{}': invalid name: reserved", kind, shown));
  const auto bad = std::ranges::find_if_not(name, is_name_character);
  return fail(
      Errc::invalid_argument,
      fmt::format("{} '{}': invalid name: character {} at position {}; only "
                  "[A-Za-z0-9._-] are allowed",
                  kind, shown, printable_name(std::string_view(&*bad, 1)), bad - name.begin()));
}

}  // namespace conduit
