// Strings a process keeps for its whole life, handed out as shared pointers that own nothing.
//
// A std::shared_ptr copied and dropped once per message (an Endpoint's sender name in every
// Message, a try_ call's prebuilt would_block Error on every empty poll) costs two atomic
// read-modify-writes once the process has a thread. A string that is never freed needs no
// count (for an Endpoint's sender names the count measured about a tenth of the atomic limit
// per busy round trip; for a Mailbox's empty try_receive, about 6 of its 23 ns): kept_string
// hands out a pointer to its copy in a table that lives as long as the
// process, with no owner (an aliasing std::shared_ptr whose control block is null), so copies
// cost a few plain moves, and a Message or an Error that outlives the object that made it still
// reads the string. Strings are kept once each, by value; the first kKeptStrings distinct ones
// are kept, later ones are returned counted as usual (so a process that opens a million
// differently named objects does not grow for ever: at most about kKeptStrings * 300 bytes).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

namespace conduit {

/// How many distinct strings a process keeps for its life.
inline constexpr std::size_t kKeptStrings = 4096;

/// `text`, kept for the life of the process while fewer than kKeptStrings distinct strings
/// are (the pointer then owns nothing), else in a string of its own (counted). Thread-safe,
/// and safe in a child forked while another thread is in it.
[[nodiscard]] std::shared_ptr<const std::string> kept_string(const std::string& text);

}  // namespace conduit
