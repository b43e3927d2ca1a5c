// Transport URLs: scheme://authority/path, parsed once by one small parser and checked for the
// scheme they name. A bad URL is invalid_argument saying what is wrong and where:
//   "tcp://host:99999: port 99999 out of range (at character 12)".
//
//   unix:///path        path: absolute, at most 107 bytes (sun_path)
//   unix://@name        abstract socket `name` (everything after '@', 1..107 bytes)
//   tcp://host:port     host: a name, an IPv4 literal or [IPv6]; port 0..65535 (0: any, listen)
//   fifo:///path        path: absolute
//   file:///path        path: absolute
//   mq://name  shm://name   name: [A-Za-z0-9._-]{1,200}
//   sysv://key          key: decimal or 0x-hexadecimal, non-zero, fits a key_t (31 bits)
//   signal://pid        pid: decimal, > 0
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "conduit/core/error.hpp"

namespace conduit::transport {

enum class Scheme { unix_socket, tcp, fifo, file, mq, sysv, shm, signal };

/// The URL scheme's name ("unix", "tcp", ...).
[[nodiscard]] std::string_view scheme_name(Scheme scheme) noexcept;

struct Url {
  Scheme scheme = Scheme::tcp;
  std::string host;          // tcp host (IPv6 without brackets); mq/shm name; unix abstract name
  std::uint16_t port = 0;    // tcp
  std::string path;          // unix, fifo, file: the absolute path
  bool is_abstract = false;  // unix://@name
  std::int64_t number = 0;   // sysv key, signal pid
  std::string text;          // the URL as given

  /// The URL with a host and port put back together (IPv6 in brackets): for tcp after the
  /// kernel chose a port.
  [[nodiscard]] std::string to_string() const;
};

/// Parses and checks `text`. Errors: invalid_argument naming the problem and its position.
[[nodiscard]] Result<Url> parse_url(std::string_view text);

}  // namespace conduit::transport
