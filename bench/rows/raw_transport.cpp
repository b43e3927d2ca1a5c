// The raw mechanisms conduit's transports wrap, written the plain way, for the transport rows:
// a stream socket bound to a path, TCP over loopback, a pair of named pipes, realtime signals,
// a pair of append-only files.
// Each is set up the way its conduit transport is (the parent listens, a fresh child connects
// every block) and carries the payload with no framing: both sides know its size.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "rows.hpp"

namespace bench {
namespace {

// The parent listens; each block's child connects and the parent accepts on its first ping
// (the warm-up round trips, which are not timed).
class RawSocket final : public RoundTrip {
 public:
  explicit RawSocket(int family) : family_(family) {}
  std::string name() const override {
    return family_ == AF_UNIX ? "raw unix socket (path)" : "raw TCP loopback";
  }
  Wait wait() const override { return Wait::blocking; }
  void prepare(std::size_t payload) override {
    buffer_.assign(payload, 'x');
    listener_ = ::socket(family_, SOCK_STREAM | SOCK_CLOEXEC, 0);
    check(listener_ >= 0, "socket");
    if (family_ == AF_UNIX) {
      path_ = "/tmp/" + unique_name("bench-raw-unix") + ".sock";
      unix_ = sockaddr_un{};
      unix_.sun_family = AF_UNIX;
      std::strncpy(unix_.sun_path, path_.c_str(), sizeof unix_.sun_path - 1);
      check(::bind(listener_, address(), length()) == 0, "bind");
    } else {
      inet_ = sockaddr_in{};
      inet_.sin_family = AF_INET;
      inet_.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      check(::bind(listener_, address(), length()) == 0, "bind");
      socklen_t size = sizeof inet_;
      check(::getsockname(listener_, reinterpret_cast<sockaddr*>(&inet_), &size) == 0,
            "getsockname");  // the port the kernel chose
    }
    check(::listen(listener_, 4) == 0, "listen");
  }
  void begin_block() override { close_peer(); }
  void serve(std::size_t count) override {
    const int fd = ::socket(family_, SOCK_STREAM | SOCK_CLOEXEC, 0);
    check(fd >= 0 && ::connect(fd, address(), length()) == 0, "connect");
    no_delay(fd);
    std::vector<char> copy(buffer_.size());
    for (std::size_t i = 0; i < count; ++i) {
      read_exact(fd, copy.data(), copy.size());
      write_exact(fd, copy.data(), copy.size());
    }
    ::close(fd);
  }
  void ping() override {
    if (peer_ < 0) {
      peer_ = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      check(peer_ >= 0, "accept");
      no_delay(peer_);
    }
    write_exact(peer_, buffer_.data(), buffer_.size());
    read_exact(peer_, buffer_.data(), buffer_.size());
  }
  void cleanup() override {
    close_peer();
    ::close(listener_);
    if (!path_.empty()) ::unlink(path_.c_str());
  }

 private:
  const sockaddr* address() const {
    return family_ == AF_UNIX ? reinterpret_cast<const sockaddr*>(&unix_)
                              : reinterpret_cast<const sockaddr*>(&inet_);
  }
  socklen_t length() const { return family_ == AF_UNIX ? sizeof unix_ : sizeof inet_; }
  void no_delay(int fd) const {
    const int on = 1;
    if (family_ == AF_INET) ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  }
  void close_peer() {
    if (peer_ >= 0) ::close(peer_);
    peer_ = -1;
  }
  int family_;
  int listener_ = -1, peer_ = -1;
  std::string path_;
  sockaddr_un unix_{};
  sockaddr_in inet_{};
  std::vector<char> buffer_;
};

// Two FIFOs made by the parent; each block's child opens them, the parent on its first ping
// (in the same order, so neither open waits for ever).
class RawFifoPair final : public RoundTrip {
 public:
  std::string name() const override { return "raw FIFO pair"; }
  Wait wait() const override { return Wait::blocking; }
  void prepare(std::size_t payload) override {
    buffer_.assign(payload, 'x');
    const std::string base = "/tmp/" + unique_name("bench-raw-fifo");
    down_ = base + ".down";
    up_ = base + ".up";
    check(::mkfifo(down_.c_str(), 0600) == 0 && ::mkfifo(up_.c_str(), 0600) == 0, "mkfifo");
  }
  void begin_block() override { close_ends(); }
  void serve(std::size_t count) override {
    const int in = ::open(down_.c_str(), O_RDONLY | O_CLOEXEC);
    const int out = ::open(up_.c_str(), O_WRONLY | O_CLOEXEC);
    check(in >= 0 && out >= 0, "open FIFO");
    std::vector<char> copy(buffer_.size());
    for (std::size_t i = 0; i < count; ++i) {
      read_exact(in, copy.data(), copy.size());
      write_exact(out, copy.data(), copy.size());
    }
    ::close(in);
    ::close(out);
  }
  void ping() override {
    if (out_ < 0) {
      out_ = ::open(down_.c_str(), O_WRONLY | O_CLOEXEC);
      in_ = ::open(up_.c_str(), O_RDONLY | O_CLOEXEC);
      check(in_ >= 0 && out_ >= 0, "open FIFO");
    }
    write_exact(out_, buffer_.data(), buffer_.size());
    read_exact(in_, buffer_.data(), buffer_.size());
  }
  void cleanup() override {
    close_ends();
    ::unlink(down_.c_str());
    ::unlink(up_.c_str());
  }

 private:
  void close_ends() {
    if (in_ >= 0) ::close(in_);
    if (out_ >= 0) ::close(out_);
    in_ = out_ = -1;
  }
  std::string down_, up_;
  int in_ = -1, out_ = -1;
  std::vector<char> buffer_;
};

// A realtime signal each way, its value carrying 4 bytes; both sides wait in sigwaitinfo. The
// parent blocks the signal before the fork (the child inherits the mask); the child announces
// itself with a first signal, which tells the parent its pid.
class RawSigqueue final : public RoundTrip {
 public:
  std::string name() const override { return "raw sigqueue/sigwaitinfo"; }
  Wait wait() const override { return Wait::blocking; }
  void prepare(std::size_t) override {
    require_single_thread("raw sigqueue");
    signal_ = SIGRTMIN + 7;  // not conduit's signal:// one (SIGRTMIN + 6)
    sigemptyset(&set_);
    sigaddset(&set_, signal_);
    check(::pthread_sigmask(SIG_BLOCK, &set_, nullptr) == 0, "pthread_sigmask");
  }
  void begin_block() override { child_ = 0; }
  void serve(std::size_t count) override {
    const pid_t parent = ::getppid();
    check(::sigqueue(parent, signal_, sigval{.sival_int = 0}) == 0, "sigqueue");
    for (std::size_t i = 0; i < count; ++i) {
      siginfo_t info{};
      if (take(info) != 0) ::_exit(3);
      if (::sigqueue(parent, signal_, info.si_value) != 0) ::_exit(3);
    }
  }
  void ping() override {
    siginfo_t info{};
    if (child_ == 0) {
      check(take(info) == 0, "sigwaitinfo");
      child_ = info.si_pid;
    }
    check(::sigqueue(child_, signal_, sigval{.sival_int = value_}) == 0, "sigqueue");
    check(take(info) == 0, "sigwaitinfo");
    value_ = info.si_value.sival_int + 1;
  }

 private:
  int take(siginfo_t& info) const {
    for (;;) {
      if (::sigwaitinfo(&set_, &info) == signal_) return 0;
      if (errno != EINTR) return -1;
    }
  }
  int signal_ = 0;
  sigset_t set_{};
  pid_t child_ = 0;
  int value_ = 0;
};

// Two append-only files, one each way, as file:// uses them: the writer appends the payload
// with one write (O_APPEND), the reader reads at its own offset with pread and, while nothing
// is there, sleeps as file:// does (20 us, doubling to 2 ms: files cannot be waited on). So
// the conduit row's ratio is what its framing, append lock and end-of-spool checks add. The
// files are made fresh each block, before the fork, and both processes use the descriptors.
class RawFileSpool final : public RoundTrip {
 public:
  std::string name() const override { return "raw append-only files"; }
  Wait wait() const override { return Wait::blocking; }
  void prepare(std::size_t payload) override { buffer_.assign(payload, 'x'); }
  void begin_block() override {
    close_files();
    const std::string base = "/tmp/" + unique_name("bench-raw-file");
    down_ = base + ".down";
    up_ = base + ".up";
    down_out_ = ::open(down_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    up_out_ = ::open(up_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    down_in_ = ::open(down_.c_str(), O_RDONLY | O_CLOEXEC);
    up_in_ = ::open(up_.c_str(), O_RDONLY | O_CLOEXEC);
    check(down_out_ >= 0 && up_out_ >= 0 && down_in_ >= 0 && up_in_ >= 0, "open spool");
    offset_ = 0;
  }
  void serve(std::size_t count) override {
    std::vector<char> copy(buffer_.size());
    off_t offset = 0;
    for (std::size_t i = 0; i < count; ++i) {
      take(down_in_, offset, copy);
      write_exact(up_out_, copy.data(), copy.size());
    }
  }
  void ping() override {
    write_exact(down_out_, buffer_.data(), buffer_.size());
    take(up_in_, offset_, buffer_);
  }
  void cleanup() override { close_files(); }

 private:
  // Reads the next record at `offset`, sleeping between looks until it is all there.
  static void take(int fd, off_t& offset, std::vector<char>& into) {
    std::size_t got = 0;
    auto pause = std::chrono::microseconds(20);
    while (got < into.size()) {
      const ssize_t n =
          ::pread(fd, into.data() + got, into.size() - got, offset + static_cast<off_t>(got));
      if (n < 0 && errno != EINTR) ::_exit(3);
      if (n > 0) {
        got += static_cast<std::size_t>(n);
        continue;
      }
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::microseconds(2000));
    }
    offset += static_cast<off_t>(got);
  }
  void close_files() {
    for (int* fd : {&down_out_, &up_out_, &down_in_, &up_in_}) {
      if (*fd >= 0) ::close(*fd);
      *fd = -1;
    }
    if (!down_.empty()) ::unlink(down_.c_str());
    if (!up_.empty()) ::unlink(up_.c_str());
    down_.clear();
    up_.clear();
  }
  std::string down_, up_;
  int down_out_ = -1, up_out_ = -1, down_in_ = -1, up_in_ = -1;
  off_t offset_ = 0;
  std::vector<char> buffer_;
};

}  // namespace

void require_single_thread(const char* row) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Threads:", 0) != 0) continue;
    if (std::stoi(line.substr(8)) == 1) return;
    throw std::runtime_error(std::string(row) +
                             ": this process runs other threads, which a signal could reach "
                             "(run the signal rows first)");
  }
}

RoundTripFactory raw_unix_socket() {
  return [] { return std::make_unique<RawSocket>(AF_UNIX); };
}
RoundTripFactory raw_tcp_loopback() {
  return [] { return std::make_unique<RawSocket>(AF_INET); };
}
RoundTripFactory raw_fifo_pair() {
  return [] { return std::make_unique<RawFifoPair>(); };
}
RoundTripFactory raw_file_spool() {
  return [] { return std::make_unique<RawFileSpool>(); };
}
RoundTripFactory raw_sigqueue() {
  return [] { return std::make_unique<RawSigqueue>(); };
}

}  // namespace bench
