#include "conduit/transport/url.hpp"

#include <gtest/gtest.h>

namespace conduit::transport {
namespace {

Url parsed(std::string_view text) {
  auto url = parse_url(text);
  EXPECT_TRUE(url) << text << ": " << url.error().message();
  return url ? *url : Url{};
}

std::string problem(std::string_view text) {
  auto url = parse_url(text);
  EXPECT_FALSE(url) << text << " parsed";
  if (url) return {};
  EXPECT_EQ(url.error().code(), Errc::invalid_argument);
  return url.error().message();
}

TEST(Url, UnixPathAndAbstractName) {
  const Url path = parsed("unix:///run/app.sock");
  EXPECT_EQ(path.scheme, Scheme::unix_socket);
  EXPECT_EQ(path.path, "/run/app.sock");
  EXPECT_FALSE(path.is_abstract);
  const Url abstract = parsed("unix://@app/v1:x");
  EXPECT_TRUE(abstract.is_abstract);
  EXPECT_EQ(abstract.host, "app/v1:x");
  EXPECT_EQ(abstract.to_string(), "unix://@app/v1:x");
}

TEST(Url, TcpHostsAndPorts) {
  const Url v4 = parsed("tcp://127.0.0.1:8080");
  EXPECT_EQ(v4.scheme, Scheme::tcp);
  EXPECT_EQ(v4.host, "127.0.0.1");
  EXPECT_EQ(v4.port, 8080);
  const Url v6 = parsed("tcp://[::1]:9");
  EXPECT_EQ(v6.host, "::1");
  EXPECT_EQ(v6.port, 9);
  EXPECT_EQ(v6.to_string(), "tcp://[::1]:9");
  const Url name = parsed("tcp://localhost:0");
  EXPECT_EQ(name.host, "localhost");
  EXPECT_EQ(name.port, 0);
  EXPECT_EQ(parsed("tcp://example.org:65535").port, 65535);
  EXPECT_EQ(parsed("tcp://h:1/").port, 1);  // a bare trailing slash is no path
}

TEST(Url, TcpErrorsSayWhatAndWhere) {
  EXPECT_EQ(problem("tcp://host:99999"),
            "tcp://host:99999: port 99999 out of range (at character 12)");
  EXPECT_EQ(problem("tcp://host:123456789012345678901"),
            "tcp://host:123456789012345678901: port 123456789012345678901 out of range (at "
            "character 12)");
  EXPECT_EQ(problem("tcp://host:http"),
            "tcp://host:http: port 'http' is not a number (at character 12)");
  EXPECT_EQ(problem("tcp://host"),
            "tcp://host: missing ':port' (expected tcp://host:port) (at character 11)");
  EXPECT_EQ(problem("tcp://host:"), "tcp://host:: missing port (at character 12)");
  EXPECT_EQ(problem("tcp://:80"), "tcp://:80: missing host (at character 7)");
  EXPECT_EQ(problem("tcp://::1:80"),
            "tcp://::1:80: an IPv6 address must be in brackets: tcp://[::1]:port (at character 7)");
  EXPECT_EQ(problem("tcp://[::1]"), "tcp://[::1]: missing ':port' after ']' (at character 12)");
  EXPECT_EQ(problem("tcp://[::1:80"), "tcp://[::1:80: '[' without ']' (at character 7)");
  EXPECT_EQ(problem("tcp://[]:80"), "tcp://[]:80: empty IPv6 address in [] (at character 8)");
  EXPECT_EQ(problem("tcp://h:80/x"), "tcp://h:80/x: tcp URLs have no path (at character 11)");
  EXPECT_EQ(problem("tcp://h st:80"), "tcp://h st:80: bad character in host (at character 8)");
}

TEST(Url, SchemesAndTheirShapes) {
  EXPECT_EQ(problem("nope"), "nope: missing '://' after the scheme (at character 1)");
  EXPECT_EQ(problem("://x"), "://x: missing scheme (at character 1)");
  EXPECT_NE(problem("http://x:1").find("unknown scheme 'http'"), std::string::npos);
  EXPECT_EQ(problem("unix://"), "unix://: missing path (expected scheme:///path) (at character 8)");
  EXPECT_EQ(problem("unix://host/x"),
            "unix://host/x: expected unix:///path or unix://@name, found a host (at character 8)");
  EXPECT_EQ(problem("unix://@"), "unix://@: empty abstract socket name after '@' (at character 9)");
  EXPECT_NE(problem("unix:///" + std::string(200, 'a')).find("exceeds 107"), std::string::npos);
  EXPECT_EQ(problem("fifo://relative"),
            "fifo://relative: expected a path after '://' (no host) (at character 8)");
  EXPECT_EQ(parsed("fifo:///tmp/f").path, "/tmp/f");
  EXPECT_EQ(parsed("file:///var/spool/x").path, "/var/spool/x");
  EXPECT_EQ(problem(std::string("file:///a\0b", 11)),
            "file:///a\\x00b: NUL byte (at character 10)");
}

TEST(Url, NamesKeysAndPids) {
  EXPECT_EQ(parsed("mq://jobs").host, "jobs");
  EXPECT_EQ(parsed("shm://jobs.v2").host, "jobs.v2");
  EXPECT_EQ(problem("mq://a/b"), "mq://a/b: expected a name, found a path (at character 7)");
  EXPECT_NE(problem("shm://a#b").find("name must be"), std::string::npos);
  EXPECT_NE(problem("mq://..").find("name must be"), std::string::npos);
  EXPECT_EQ(parsed("sysv://1234").number, 1234);
  EXPECT_EQ(parsed("sysv://0x1F").number, 31);
  EXPECT_EQ(problem("sysv://0"), "sysv://0: key 0 out of range (1..2147483647) (at character 8)");
  EXPECT_EQ(problem("sysv://-5"), "sysv://-5: key '-5' is not a number (at character 8)");
  EXPECT_EQ(problem("sysv://99999999999"),
            "sysv://99999999999: key 99999999999 out of range (1..2147483647) (at character 8)");
  EXPECT_EQ(problem("sysv://12ab"), "sysv://12ab: key '12ab' is not a number (at character 8)");
  EXPECT_EQ(parsed("signal://42").number, 42);
  EXPECT_EQ(problem("signal://0x10"), "signal://0x10: pid must be decimal (at character 10)");
  EXPECT_EQ(problem("signal://"), "signal://: missing pid (at character 10)");
}

TEST(Url, ToStringRoundTrips) {
  for (const char* text :
       {"unix:///a/b", "unix://@n", "tcp://h:1", "tcp://[fe80::1]:2", "fifo:///f", "file:///f",
        "mq://q", "shm://s", "sysv://7", "signal://9"}) {
    EXPECT_EQ(parsed(text).to_string(), text);
  }
}

}  // namespace
}  // namespace conduit::transport
