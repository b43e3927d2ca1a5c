// Fuzzes transport URL parsing (transport/url.hpp): any text is a Url or an invalid_argument,
// never a crash; and a Url that parsed prints (to_string) as a URL that parses back to itself.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "conduit/transport/url.hpp"

namespace {

[[noreturn]] void fail(std::string_view what, std::string_view text, std::string_view printed) {
  std::fprintf(stderr, "url fuzz: %.*s\n  input:   '%.*s'\n  printed: '%.*s'\n",
               static_cast<int>(what.size()), what.data(), static_cast<int>(text.size()),
               text.data(), static_cast<int>(printed.size()), printed.data());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace conduit;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto url = transport::parse_url(text);
  if (!url) {
    if (url.error().code() != Errc::invalid_argument)
      fail("an error other than invalid_argument", text, "");
    if (url.error().message().empty()) fail("an error without a message", text, "");
    return 0;
  }
  (void)transport::scheme_name(url->scheme);
  const std::string printed = url->to_string();
  auto again = transport::parse_url(printed);
  if (!again) fail("to_string() does not parse back", text, printed);
  if (again->scheme != url->scheme || again->host != url->host || again->port != url->port ||
      again->path != url->path || again->is_abstract != url->is_abstract ||
      again->number != url->number) {
    fail("to_string() parses back to another URL", text, printed);
  }
  return 0;
}
