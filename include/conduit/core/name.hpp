// Object names: [A-Za-z0-9._-]{1,200}, and never "." or "..". A name is checked before any
// file is touched, so a bad name can never reach the file system.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>

#include "conduit/core/error.hpp"

namespace conduit {

inline constexpr std::size_t kMaxNameLength = 200;
/// An internal name (parts of at most kMaxNameLength joined by '#') is a file name: at most
/// 255 bytes. Where joining whole names would be longer, conduit joins digests of them.
inline constexpr std::size_t kMaxInternalNameLength = 255;

/// Who a name is for. Users name objects with `user` names. conduit names the objects it makes
/// for its own use (an endpoint's links, an unbounded mailbox's extensions) by joining user
/// names with '#', a character no user name has, so the two can never collide.
enum class NameUse { user, internal };

/// Whether `name` is a valid object name.
[[nodiscard]] bool is_valid_name(std::string_view name, NameUse use = NameUse::user) noexcept;

/// Success, or invalid_argument naming the object kind and the (escaped) name:
/// "mailbox 'a/b': invalid name: only [A-Za-z0-9._-] are allowed".
[[nodiscard]] Result<void> check_name(std::string_view kind, std::string_view name,
                                      NameUse use = NameUse::user);

/// The internal name joining `parts` with '#'.
[[nodiscard]] std::string internal_name(std::initializer_list<std::string_view> parts);

/// `name` made printable for messages: control and non-ASCII bytes as \xNN, long names cut.
[[nodiscard]] std::string printable_name(std::string_view name);

}  // namespace conduit
