// unix:// and tcp://: stream sockets carrying frames.
//
// unix:///path binds a socket file at `path`; a socket file left by a listener that died is
// detected (nobody accepts on it) and replaced, a live one is already_exists. The listener
// removes its socket file when it goes away. unix://@name uses the abstract namespace: no file,
// gone with the last descriptor. A Unix connection knows its peer's pid (SO_PEERCRED), which
// received messages carry as Message::sender().
//
// tcp://host:port resolves `host` with getaddrinfo (names, IPv4, [IPv6]) and uses the first
// address that works; port 0 lets the kernel choose, and Listener::url() says which. Nagle is
// off (TCP_NODELAY): a message is sent when send() is called.
//
// Framing::none connections carry the bytes unframed (StreamLink's raw mode).
#include <fcntl.h>
#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "conduit/sys/file.hpp"
#include "conduit/sys/io.hpp"
#include "mechanisms.hpp"
#include "stream_link.hpp"

namespace conduit::transport {
namespace {

struct Address {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family = AF_UNSPEC;
};

Address unix_address(const Url& url) {
  Address address;
  auto* un = reinterpret_cast<sockaddr_un*>(&address.storage);
  un->sun_family = AF_UNIX;
  address.family = AF_UNIX;
  if (url.is_abstract) {
    // Abstract: a NUL first byte, then the name; the length says where it ends.
    std::memcpy(un->sun_path + 1, url.host.data(), url.host.size());
    address.length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + url.host.size());
  } else {
    std::memcpy(un->sun_path, url.path.data(), url.path.size());
    address.length = static_cast<socklen_t>(sizeof(sockaddr_un));
  }
  return address;
}

Result<std::vector<Address>> resolve(const Url& url, bool is_passive, std::string_view operation) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | (is_passive ? AI_PASSIVE : 0);
  addrinfo* found = nullptr;
  const std::string port = std::to_string(url.port);
  // getaddrinfo reports through its return value (EAI_*), not errno.
  const int error = ::getaddrinfo(url.host.c_str(), port.c_str(), &hints, &found);
  if (error != 0) {
    const Errc code = (error == EAI_NONAME || error == EAI_NODATA) ? Errc::not_found : Errc::io;
    return fail(code, fmt::format("{}: {}: cannot resolve host '{}': {}", url.text, operation,
                                  url.host, ::gai_strerror(error)));
  }
  std::vector<Address> addresses;
  for (const addrinfo* entry = found; entry != nullptr; entry = entry->ai_next) {
    Address address;
    std::memcpy(&address.storage, entry->ai_addr, entry->ai_addrlen);
    address.length = entry->ai_addrlen;
    address.family = entry->ai_family;
    addresses.push_back(address);
  }
  ::freeaddrinfo(found);
  return addresses;
}

sys::SysResult<sys::Fd> make_socket(int family) {
  auto fd = sys::call("socket", [&] { return ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0); });
  if (!fd) return std::unexpected(fd.error());
  return sys::Fd(static_cast<int>(*fd));
}

void set_option(int fd, int level, int option, int value) {
  (void)sys::call("setsockopt",
                  [&] { return ::setsockopt(fd, level, option, &value, sizeof value); });
}

ProcessId peer_of(int fd) {
  ucred credentials{};
  socklen_t length = sizeof credentials;
  auto got = sys::call("getsockopt(SO_PEERCRED)", [&] {
    return ::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length);
  });
  if (!got) return {};
  return ProcessId{credentials.pid, 0};
}

// connect(2), once: a connect interrupted by a signal goes on in the background (retrying it
// would fail with EALREADY), so wait for it to finish and read its outcome instead.
sys::SysResult<void> connect_to(int fd, const Address& address) {
  auto connected = sys::call_once("connect", [&] {
    return ::connect(fd, reinterpret_cast<const sockaddr*>(&address.storage), address.length);
  });
  if (connected) return {};
  if (connected.error().code != EINTR) return std::unexpected(connected.error());
  auto ready = sys::wait_ready(fd, POLLOUT, std::nullopt);
  if (!ready) return std::unexpected(ready.error());
  int error = 0;
  socklen_t length = sizeof error;
  auto got = sys::call("getsockopt(SO_ERROR)",
                       [&] { return ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length); });
  if (!got) return std::unexpected(got.error());
  if (error != 0) return std::unexpected(sys::SysError{error, "connect"});
  return {};
}

// Whether a Unix socket file has a listener behind it: a connect that is refused means the
// listener died and left the file.
bool has_listener(const Address& address) {
  auto probe = make_socket(AF_UNIX);
  if (!probe) return true;
  auto connected = connect_to(probe->get(), address);
  return connected || connected.error().code != ECONNREFUSED;
}

class SocketAcceptor final : public Acceptor {
 public:
  SocketAcceptor(sys::Fd socket, Url url, bool is_unix_file, ino_t inode, Framing framing)
      : socket_(std::move(socket)),
        url_(std::move(url)),
        text_(url_.to_string()),
        is_unix_file_(is_unix_file),
        inode_(inode),
        framing_(framing) {}

  ~SocketAcceptor() override {
    // Remove the socket file, unless someone replaced it with their own in the meantime.
    if (!is_unix_file_) return;
    auto st = sys::status_at(AT_FDCWD, url_.path);
    if (st && st->st_ino == inode_) (void)sys::unlink_at(AT_FDCWD, url_.path);
  }

  LinkResult accept(Deadline deadline) override {
    for (;;) {
      auto ready = sys::wait_ready(socket_.get(), POLLIN, deadline);
      if (!ready) return fail(ready.error(), fmt::format("{}: accept", text_));
      if (!*ready) return fail(Errc::timed_out, fmt::format("{}: accept: timed out", text_));
      auto fd = sys::call("accept4", [&] {
        return ::accept4(socket_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      });
      if (!fd) {
        const int code = fd.error().code;
        // The client gave up between poll and accept, or nothing is there yet: wait again.
        if (code == EAGAIN || code == ECONNABORTED || code == EPROTO) continue;
        return fail(fd.error(), fmt::format("{}: accept", text_));
      }
      sys::Fd connection(static_cast<int>(*fd));
      ProcessId peer;
      if (url_.scheme == Scheme::tcp) {
        set_option(connection.get(), IPPROTO_TCP, TCP_NODELAY, 1);
      } else {
        peer = peer_of(connection.get());
      }
      auto link = StreamLink::make(std::move(connection), {}, true, text_, peer,
                                   framing_ == Framing::framed);
      if (!link) return std::unexpected(link.error());
      return std::unique_ptr<Link>(std::move(*link));
    }
  }

  const std::string& url() const noexcept override { return text_; }

 private:
  sys::Fd socket_;
  Url url_;
  std::string text_;
  bool is_unix_file_;
  ino_t inode_;
  Framing framing_;
};

Result<sys::Fd> bind_and_listen(const Address& address, const Url& url) {
  const std::string context = fmt::format("{}: listen", url.text);
  auto fd = make_socket(address.family);
  if (!fd) return fail(fd.error(), context);
  if (address.family != AF_UNIX) set_option(fd->get(), SOL_SOCKET, SO_REUSEADDR, 1);
  auto bound = sys::call("bind", [&] {
    return ::bind(fd->get(), reinterpret_cast<const sockaddr*>(&address.storage), address.length);
  });
  if (!bound) return fail(bound.error(), context);
  auto listening = sys::call("listen", [&] { return ::listen(fd->get(), SOMAXCONN); });
  if (!listening) return fail(listening.error(), context);
  return std::move(*fd);
}

}  // namespace

AcceptorResult listen_socket(const Url& url, Framing framing) {
  if (url.scheme == Scheme::unix_socket) {
    const Address address = unix_address(url);
    auto fd = bind_and_listen(address, url);
    if (!fd && fd.error().code() == Errc::already_exists && !url.is_abstract &&
        !has_listener(address)) {
      // A socket file left by a listener that died: take its place.
      auto st = sys::status_at(AT_FDCWD, url.path);
      if (st && S_ISSOCK(st->st_mode)) {
        (void)sys::unlink_at(AT_FDCWD, url.path);
        fd = bind_and_listen(address, url);
      }
    }
    if (!fd) return std::unexpected(fd.error());
    ino_t inode = 0;
    if (!url.is_abstract) {
      auto st = sys::status_at(AT_FDCWD, url.path);
      if (st) inode = st->st_ino;
    }
    return std::make_unique<SocketAcceptor>(std::move(*fd), url, !url.is_abstract, inode, framing);
  }
  auto addresses = resolve(url, true, "listen");
  if (!addresses) return std::unexpected(addresses.error());
  std::optional<Error> last;
  for (const Address& address : *addresses) {
    auto fd = bind_and_listen(address, url);
    if (!fd) {
      last = fd.error();
      continue;
    }
    // Port 0: the kernel chose one; say which.
    Url bound = url;
    sockaddr_storage local{};
    socklen_t length = sizeof local;
    auto named = sys::call("getsockname", [&] {
      return ::getsockname(fd->get(), reinterpret_cast<sockaddr*>(&local), &length);
    });
    if (named) {
      bound.port = ntohs(local.ss_family == AF_INET6
                             ? reinterpret_cast<const sockaddr_in6*>(&local)->sin6_port
                             : reinterpret_cast<const sockaddr_in*>(&local)->sin_port);
    }
    return std::make_unique<SocketAcceptor>(std::move(*fd), std::move(bound), false, 0, framing);
  }
  if (last) return std::unexpected(*last);
  return fail(Errc::not_found, fmt::format("{}: listen: no address for '{}'", url.text, url.host));
}

LinkResult connect_socket(const Url& url, Framing framing) {
  const std::string context = fmt::format("{}: connect", url.text);
  std::vector<Address> addresses;
  if (url.scheme == Scheme::unix_socket) {
    addresses.push_back(unix_address(url));
  } else {
    auto resolved = resolve(url, false, "connect");
    if (!resolved) return std::unexpected(resolved.error());
    addresses = std::move(*resolved);
  }
  std::optional<Error> last;
  for (const Address& address : addresses) {
    auto fd = make_socket(address.family);
    if (!fd) return fail(fd.error(), context);
    auto connected = connect_to(fd->get(), address);
    if (!connected) {
      last = Error::from_sys(connected.error(), fmt::format("{} (nobody listens there?)", context));
      continue;
    }
    ProcessId peer;
    if (url.scheme == Scheme::tcp) {
      set_option(fd->get(), IPPROTO_TCP, TCP_NODELAY, 1);
    } else {
      peer = peer_of(fd->get());
    }
    auto link = StreamLink::make(std::move(*fd), {}, true, url.to_string(), peer,
                                 framing == Framing::framed);
    if (!link) return std::unexpected(link.error());
    return std::unique_ptr<Link>(std::move(*link));
  }
  if (last) return std::unexpected(*last);
  return fail(Errc::not_found, fmt::format("{}: no address for '{}'", context, url.host));
}

}  // namespace conduit::transport
