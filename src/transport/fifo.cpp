// fifo:///path: named pipes, the textbook client–server way.
//
// listen makes the FIFO `path`, the well-known place where clients post connection requests
// (fixed-size records, smaller than PIPE_BUF, so concurrent requests never interleave). A client
// makes two FIFOs of its own beside it, path#<pid>-<n>.up (client to server) and .down, posts a
// request naming them, and waits for the listener's answer on .down; once both ends have opened
// both FIFOs the client unlinks them, so nothing is left behind. Each connection is then a pair
// of pipes: a peer that closes or dies is end-of-file (closed) on the other side.
// A FIFO at `path` whose listener died (nobody reads it) is replaced by the next listen.
#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

#include "conduit/sys/file.hpp"
#include "conduit/sys/io.hpp"
#include "mechanisms.hpp"
#include "stream_link.hpp"

namespace conduit::transport {
namespace {

constexpr std::uint32_t kRequestMagic = 0x51464443;  // "CDFQ"
constexpr std::uint32_t kAnswerMagic = 0x41464443;   // "CDFA"

// A connection request or its answer: 24 bytes, written with one write(2) (atomic: < PIPE_BUF).
struct Handshake {
  std::uint32_t magic;
  std::int32_t pid;
  std::uint64_t start_time;
  std::uint64_t serial;  // the client's n in path#<pid>-<n>
};
static_assert(sizeof(Handshake) == 24);

std::string side_name(const std::string& path, std::int32_t pid, std::uint64_t serial,
                      std::string_view side) {
  return fmt::format("{}#{}-{}.{}", path, pid, serial, side);
}

sys::SysResult<void> make_fifo(const std::string& path) {
  auto made = sys::call("mkfifo", [&] { return ::mkfifo(path.c_str(), 0600); });
  if (!made) return std::unexpected(made.error());
  return {};
}

void remove_file(const std::string& path) {
  (void)sys::call("unlink", [&] { return ::unlink(path.c_str()); });
}

// Whether someone reads the FIFO at `path`: opening it to write without blocking fails with
// ENXIO when nobody does.
bool has_reader(const std::string& path) {
  auto probe = sys::open_at(AT_FDCWD, path, O_WRONLY | O_NONBLOCK);
  return probe.has_value() || probe.error().code != ENXIO;
}

class FifoAcceptor final : public Acceptor {
 public:
  FifoAcceptor(std::string path, sys::Fd requests, sys::Fd keep_open, ino_t inode)
      : path_(std::move(path)),
        url_("fifo://" + path_),
        requests_(std::move(requests)),
        keep_open_(std::move(keep_open)),
        inode_(inode) {}

  ~FifoAcceptor() override {
    struct stat st{};
    auto found = sys::call("lstat", [&] { return ::lstat(path_.c_str(), &st); });
    if (found && st.st_ino == inode_) remove_file(path_);
  }

  LinkResult accept(Deadline deadline) override {
    for (;;) {
      Handshake request{};
      std::size_t got = 0;
      while (got < sizeof request) {
        auto n = sys::read_some(requests_.get(),
                                std::as_writable_bytes(std::span(&request, 1)).subspan(got));
        if (n) {
          got += *n;
          continue;
        }
        if (n.error().code != EAGAIN) return fail(n.error(), fmt::format("{}: accept", url_));
        auto ready = sys::wait_ready(requests_.get(), POLLIN, deadline);
        if (!ready) return fail(ready.error(), fmt::format("{}: accept", url_));
        if (!*ready) return fail(Errc::timed_out, fmt::format("{}: accept: timed out", url_));
      }
      if (request.magic != kRequestMagic) continue;  // not a conduit request: ignore it
      auto link = answer(request);
      if (link) return link;
      // The client went away before we could answer: wait for the next one.
    }
  }

  const std::string& url() const noexcept override { return url_; }

 private:
  LinkResult answer(const Handshake& request) {
    const std::string up = side_name(path_, request.pid, request.serial, "up");
    const std::string down = side_name(path_, request.pid, request.serial, "down");
    auto in = sys::open_at(AT_FDCWD, up, O_RDONLY | O_NONBLOCK | O_NOFOLLOW);
    if (!in) return fail(in.error(), fmt::format("{}: accept", url_));
    auto out = sys::open_at(AT_FDCWD, down, O_WRONLY | O_NONBLOCK | O_NOFOLLOW);
    if (!out) return fail(out.error(), fmt::format("{}: accept", url_));
    const ProcessId me = self();
    const Handshake reply{kAnswerMagic, me.pid, me.start_time, request.serial};
    if (auto written = sys::write_all(out->get(), &reply, sizeof reply); !written) {
      return fail(written.error(), fmt::format("{}: accept", url_));
    }
    auto link = StreamLink::make(std::move(*in), std::move(*out), false, url_,
                                 ProcessId{request.pid, request.start_time});
    if (!link) return std::unexpected(link.error());
    return std::unique_ptr<Link>(std::move(*link));
  }

  std::string path_;
  std::string url_;
  sys::Fd requests_;
  sys::Fd keep_open_;  // a writer of our own: reading never sees end-of-file between clients
  ino_t inode_;
};

}  // namespace

AcceptorResult listen_fifo(const Url& url) {
  const std::string context = fmt::format("{}: listen", url.text);
  auto made = make_fifo(url.path);
  if (!made && made.error().code == EEXIST) {
    struct stat st{};
    auto found = sys::call("lstat", [&] { return ::lstat(url.path.c_str(), &st); });
    if (found && S_ISFIFO(st.st_mode) && !has_reader(url.path)) {
      remove_file(url.path);  // left by a listener that died
      made = make_fifo(url.path);
    }
  }
  if (!made) return fail(made.error(), context);
  auto requests = sys::open_at(AT_FDCWD, url.path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW);
  if (!requests) return fail(requests.error(), context);
  auto keep_open = sys::open_at(AT_FDCWD, url.path, O_WRONLY | O_NONBLOCK | O_NOFOLLOW);
  if (!keep_open) return fail(keep_open.error(), context);
  auto st = sys::status(requests->get());
  if (!st) return fail(st.error(), context);
  return std::make_unique<FifoAcceptor>(url.path, std::move(*requests), std::move(*keep_open),
                                        st->st_ino);
}

LinkResult connect_fifo(const Url& url) {
  static std::atomic<std::uint64_t> next_serial{0};
  const std::string context = fmt::format("{}: connect", url.text);
  const ProcessId me = self();
  const std::uint64_t serial = next_serial.fetch_add(1, std::memory_order_relaxed);
  const std::string up = side_name(url.path, me.pid, serial, "up");
  const std::string down = side_name(url.path, me.pid, serial, "down");
  if (auto made = make_fifo(up); !made) return fail(made.error(), context);
  if (auto made = make_fifo(down); !made) {
    remove_file(up);
    return fail(made.error(), context);
  }
  // From here on both names go away however connect ends: the listener opens them before it
  // answers, and we open ours before we unlink.
  struct Unlink {
    const std::string& a;
    const std::string& b;
    ~Unlink() {
      remove_file(a);
      remove_file(b);
    }
  } unlink_both{up, down};

  auto in = sys::open_at(AT_FDCWD, down, O_RDONLY | O_NONBLOCK | O_NOFOLLOW);
  if (!in) return fail(in.error(), context);
  // A FIFO read without any writer is end-of-file. Hold .up open (read-write: Linux allows it
  // without a reader) until our real write end is open, so the listener never reads a false
  // end-of-file in between.
  auto placeholder = sys::open_at(AT_FDCWD, up, O_RDWR | O_NONBLOCK | O_NOFOLLOW);
  if (!placeholder) return fail(placeholder.error(), context);
  {
    auto requests = sys::open_at(AT_FDCWD, url.path, O_WRONLY | O_NONBLOCK | O_NOFOLLOW);
    if (!requests) {
      return fail(requests.error(), fmt::format("{} (nobody listens there)", context));
    }
    const Handshake request{kRequestMagic, me.pid, me.start_time, serial};
    if (auto written = sys::write_all(requests->get(), &request, sizeof request); !written) {
      return fail(written.error(), context);
    }
  }
  // Wait for the answer, checking now and then that the listener is still there.
  const auto give_up = sys::deadline_after(kHandshakeTimeout);
  Handshake reply{};
  std::size_t got = 0;
  // A FIFO read without a writer is end-of-file, so poll first: poll reports nothing until
  // the listener has opened .down (and POLLHUP only if it then closed it again).
  while (got < sizeof reply) {
    if (sys::now() >= give_up) {
      return fail(Errc::timed_out, fmt::format("{}: the listener did not answer", context));
    }
    auto ready = sys::wait_ready(in->get(), POLLIN,
                                 std::min(give_up, sys::deadline_after(kLivenessInterval)));
    if (!ready) return fail(ready.error(), context);
    if (!*ready) {
      if (!has_reader(url.path)) {
        return fail(Errc::closed, fmt::format("{}: the listener went away", context));
      }
      continue;
    }
    auto n = sys::read_some(in->get(), std::as_writable_bytes(std::span(&reply, 1)).subspan(got));
    if (n && *n > 0) {
      got += *n;
      continue;
    }
    if (n) return fail(Errc::closed, fmt::format("{}: the listener went away", context));
    if (n.error().code != EAGAIN) return fail(n.error(), context);
  }
  if (reply.magic != kAnswerMagic || reply.serial != serial) {
    return fail(Errc::corrupted, fmt::format("{}: malformed answer from the listener", context));
  }
  auto out = sys::open_at(AT_FDCWD, up, O_WRONLY | O_NONBLOCK | O_NOFOLLOW);
  if (!out) return fail(out.error(), context);
  placeholder->reset();
  auto link = StreamLink::make(std::move(*in), std::move(*out), false, url.to_string(),
                               ProcessId{reply.pid, reply.start_time});
  if (!link) return std::unexpected(link.error());
  return std::unique_ptr<Link>(std::move(*link));
}

}  // namespace conduit::transport
