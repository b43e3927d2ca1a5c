#include "conduit/transport/url.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <optional>
#include <utility>

#include "conduit/core/name.hpp"

namespace conduit::transport {
namespace {

constexpr std::size_t kMaxSocketPath = 107;  // sizeof(sockaddr_un::sun_path) - 1
constexpr std::int64_t kMaxKey = 0x7fffffff;

struct SchemeEntry {
  std::string_view name;
  Scheme scheme;
};
constexpr std::array kSchemes{
    SchemeEntry{"unix", Scheme::unix_socket},
    SchemeEntry{"tcp", Scheme::tcp},
    SchemeEntry{"fifo", Scheme::fifo},
    SchemeEntry{"file", Scheme::file},
    SchemeEntry{"mq", Scheme::mq},
    SchemeEntry{"sysv", Scheme::sysv},
    SchemeEntry{"shm", Scheme::shm},
    SchemeEntry{"signal", Scheme::signal},
};

// The parser walks the text once, left to right; `at` is where the part being read starts, so
// every error can say where the problem is.
class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) { url_.text = std::string(text); }

  Result<Url> parse() {
    if (text_.find('\0') != std::string_view::npos) return problem(text_.find('\0'), "NUL byte");
    const std::size_t separator = text_.find("://");
    if (separator == std::string_view::npos) return problem(0, "missing '://' after the scheme");
    const std::string_view name = text_.substr(0, separator);
    const auto* entry = std::find_if(kSchemes.begin(), kSchemes.end(),
                                     [&](const SchemeEntry& e) { return e.name == name; });
    if (name.empty()) return problem(0, "missing scheme");
    if (entry == kSchemes.end()) {
      return problem(0, fmt::format("unknown scheme '{}' (known: unix, tcp, fifo, file, mq, "
                                    "sysv, shm, signal)",
                                    name));
    }
    url_.scheme = entry->scheme;
    const std::size_t start = separator + 3;
    const std::string_view rest = text_.substr(start);
    // Authority: up to the first '/' (after a bracketed IPv6 literal); path: the rest.
    std::size_t authority_end = rest.find('/');
    if (!rest.empty() && rest.front() == '[') {
      const std::size_t close = rest.find(']');
      if (close == std::string_view::npos) return problem(start, "'[' without ']'");
      authority_end = rest.find('/', close);
    }
    if (authority_end == std::string_view::npos) authority_end = rest.size();
    const std::string_view authority = rest.substr(0, authority_end);
    const std::string_view path = rest.substr(authority_end);
    const std::size_t path_at = start + authority_end;

    switch (url_.scheme) {
      case Scheme::unix_socket:
        if (!authority.empty() && authority.front() == '@') return abstract(start, rest);
        if (!authority.empty())
          return problem(start, "expected unix:///path or unix://@name, found a host");
        if (auto checked = absolute_path(path_at, path, kMaxSocketPath); checked) return *checked;
        break;
      case Scheme::fifo:
      case Scheme::file:
        if (!authority.empty()) return problem(start, "expected a path after '://' (no host)");
        if (auto checked = absolute_path(path_at, path, 4095); checked) return *checked;
        break;
      case Scheme::tcp:
        if (auto checked = host_and_port(start, authority); checked) return *checked;
        if (!path.empty() && path != "/") return problem(path_at, "tcp URLs have no path");
        break;
      case Scheme::mq:
      case Scheme::shm:
        if (!path.empty()) return problem(path_at, "expected a name, found a path");
        if (!is_valid_name(authority)) {
          return problem(start, "name must be 1 to 200 of [A-Za-z0-9._-], not '.' or '..'");
        }
        url_.host = std::string(authority);
        break;
      case Scheme::sysv:
        if (!path.empty()) return problem(path_at, "expected a key, found a path");
        if (auto checked = number(start, authority, "key", 1, kMaxKey); checked) return *checked;
        break;
      case Scheme::signal:
        if (!path.empty()) return problem(path_at, "expected a pid, found a path");
        if (auto checked = number(start, authority, "pid", 1, kMaxKey); checked) return *checked;
        break;
    }
    return std::move(url_);
  }

 private:
  using Check = std::optional<std::unexpected<Error>>;
  static constexpr Check kFine = std::nullopt;

  std::unexpected<Error> problem(std::size_t at, std::string_view what) const {
    return fail(Errc::invalid_argument,
                fmt::format("{}: {} (at character {})", printable_name(text_), what, at + 1));
  }

  Result<Url> abstract(std::size_t at, std::string_view rest) {
    const std::string_view name = rest.substr(1);
    if (name.empty()) return problem(at + 1, "empty abstract socket name after '@'");
    if (name.size() > kMaxSocketPath) {
      return problem(
          at + 1, fmt::format("abstract name of {} bytes exceeds {}", name.size(), kMaxSocketPath));
    }
    url_.is_abstract = true;
    url_.host = std::string(name);
    return std::move(url_);
  }

  Check absolute_path(std::size_t at, std::string_view path, std::size_t max) {
    if (path.empty() || path == "/") return problem(at, "missing path (expected scheme:///path)");
    if (path.size() > max) {
      return problem(at, fmt::format("path of {} bytes exceeds {}", path.size(), max));
    }
    url_.path = std::string(path);
    return kFine;
  }

  Check host_and_port(std::size_t at, std::string_view authority) {
    std::string_view host;
    std::size_t port_at = 0;
    if (!authority.empty() && authority.front() == '[') {
      const std::size_t close = authority.find(']');
      host = authority.substr(1, close - 1);
      if (host.empty()) return problem(at + 1, "empty IPv6 address in []");
      if (close + 1 == authority.size() || authority[close + 1] != ':') {
        return problem(at + close + 1, "missing ':port' after ']'");
      }
      port_at = close + 2;
    } else {
      const std::size_t colon = authority.rfind(':');
      if (colon == std::string_view::npos) {
        return problem(at + authority.size(), "missing ':port' (expected tcp://host:port)");
      }
      host = authority.substr(0, colon);
      if (host.find(':') != std::string_view::npos) {
        return problem(at, "an IPv6 address must be in brackets: tcp://[::1]:port");
      }
      port_at = colon + 1;
    }
    if (host.empty()) return problem(at, "missing host");
    for (std::size_t i = 0; i < host.size(); ++i) {
      const char c = host[i];
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '-' || c == ':' || c == '_' || c == '%';
      if (!ok) return problem(at + i + (authority.front() == '[' ? 1 : 0), "bad character in host");
    }
    const std::string_view port = authority.substr(port_at);
    if (port.empty()) return problem(at + port_at, "missing port");
    std::uint32_t value = 0;
    const auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (error == std::errc::result_out_of_range) {
      return problem(at + port_at, fmt::format("port {} out of range", port));
    }
    if (error != std::errc() || end != port.data() + port.size()) {
      return problem(at + port_at, fmt::format("port '{}' is not a number", port));
    }
    if (value > 65535) return problem(at + port_at, fmt::format("port {} out of range", value));
    url_.host = std::string(host);
    url_.port = static_cast<std::uint16_t>(value);
    return kFine;
  }

  Check number(std::size_t at, std::string_view digits, std::string_view what, std::int64_t min,
               std::int64_t max) {
    if (digits.empty()) return problem(at, fmt::format("missing {}", what));
    int base = 10;
    std::string_view body = digits;
    if (body.starts_with("0x") || body.starts_with("0X")) {
      if (what != "key") return problem(at, fmt::format("{} must be decimal", what));
      base = 16;
      body.remove_prefix(2);
    }
    std::int64_t value = 0;
    const auto [end, error] = std::from_chars(body.data(), body.data() + body.size(), value, base);
    if (body.empty() || (error != std::errc() && error != std::errc::result_out_of_range) ||
        end != body.data() + body.size() || body.front() == '-' || body.front() == '+') {
      return problem(at, fmt::format("{} '{}' is not a number", what, digits));
    }
    if (error == std::errc::result_out_of_range || value < min || value > max) {
      return problem(at, fmt::format("{} {} out of range ({}..{})", what, digits, min, max));
    }
    url_.number = value;
    return kFine;
  }

  std::string_view text_;
  Url url_;
};

}  // namespace

std::string_view scheme_name(Scheme scheme) noexcept {
  for (const auto& entry : kSchemes) {
    if (entry.scheme == scheme) return entry.name;
  }
  return "?";
}

std::string Url::to_string() const {
  switch (scheme) {
    case Scheme::tcp:
      if (host.find(':') != std::string::npos) return fmt::format("tcp://[{}]:{}", host, port);
      return fmt::format("tcp://{}:{}", host, port);
    case Scheme::unix_socket:
      return is_abstract ? fmt::format("unix://@{}", host) : fmt::format("unix://{}", path);
    case Scheme::fifo:
    case Scheme::file: return fmt::format("{}://{}", scheme_name(scheme), path);
    case Scheme::mq:
    case Scheme::shm: return fmt::format("{}://{}", scheme_name(scheme), host);
    case Scheme::sysv:
    case Scheme::signal: return fmt::format("{}://{}", scheme_name(scheme), number);
  }
  return text;
}

Result<Url> parse_url(std::string_view text) { return Parser(text).parse(); }

}  // namespace conduit::transport
