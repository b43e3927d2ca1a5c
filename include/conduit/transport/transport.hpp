// The classic approaches to interprocess communication behind one surface, addressed by URL:
// a Listener accepts Connections, connect() makes one, pipe_pair() makes two for fork().
//
//   unix:///path  unix://@abstract  tcp://host:port  fifo:///path  mq://name  sysv://key
//   shm://name  file:///path  signal://pid                     (and pipes: pipe_pair())
//
// Every transport keeps message boundaries: one send() is one receive(). Byte streams (pipes,
// FIFOs, Unix and TCP sockets) carry length-prefixed frames (transport/framing.hpp); POSIX and
// System V queues and mailboxes carry one message per native message. A peer that closes, or
// dies, is `closed` on the other side once what it sent before has been received; a truncated
// or malformed frame is `corrupted`, an oversized one `message_too_large` — checked before any
// allocation. Where the kernel object cannot tell that its peer died (mq, sysv, shm, signal),
// the handshake records the peer's ProcessId: a waiting receive checks it every
// kLivenessInterval (mq, shm, signal), or (sysv) a waker thread watches the peer's pidfd and
// posts the record that ends the wait, so a receive sleeps in msgrcv until something comes.
//
// Per scheme (what listen and connect mean; see each mechanism's header comment for details):
//   unix, tcp  a listening socket; accept/connect give a duplex stream connection.
//   fifo       listen makes the FIFO `path`, where clients post requests; each connection is a
//              pair of FIFOs made by the client next to it (duplex).
//   mq         listen makes the POSIX queue /name for requests; each connection is a pair of
//              queues made by the client and unlinked once both ends opened them (duplex).
//   sysv       listen makes the System V queue with that key for requests; each connection is
//              a pair of private queues (duplex). Message::type() is the queue's message type.
//   shm        listen makes the conduit mailbox `name` for requests; each connection is a pair
//              of process-lifetime mailboxes name#<pid>-<n>#up / #down (duplex).
//   file       one-directional: connect opens an appending writer on an existing spool; listen
//              makes the spool and accept gives its one reader, which follows it.
//   signal     one-directional: connect(signal://pid) sends to that process with sigqueue (at
//              most kSignalPayload bytes); listen receives this process's transport_signal()
//              through a signalfd (blocking it in the calling thread: listen before starting
//              threads), and accept gives one receiving connection per sender.
// The direction a one-directional connection lacks fails with invalid_argument, at once.
//
// Largest message (Connection::max_message_size()): framed streams and file kMaxFrameSize
// (64 MiB); mq msgsize_max less 16; sysv msgmax; shm 16 KiB; signal 4 bytes. Message::type()
// is carried by all but signal. Message::sender() is known on unix (SO_PEERCRED), fifo, mq,
// sysv, shm and signal; Message::sequence() counts a connection's received messages from 1.
//
// Connections and listeners are move-only and not thread-safe: use one from one thread at a
// time — except that where is_full_duplex() says so (unix, tcp, fifo, pipe, mq, sysv, shm), one
// thread may send while another receives. Each is usable across fork() by the one process that
// keeps it (the other closes it).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "conduit/core/error.hpp"
#include "conduit/msg/large_buffer.hpp"
#include "conduit/msg/message.hpp"
#include "conduit/sys/clock.hpp"

namespace conduit {

namespace transport {

/// How often a receive that waits on a transport that cannot see its peer die (mq, shm, signal)
/// checks that the peer is alive; also how often a sysv:// connect looks for its listener.
inline constexpr std::chrono::milliseconds kLivenessInterval{50};

/// A deadline, or none (wait as long as it takes).
using Deadline = std::optional<sys::TimePoint>;

/// The one small interface every mechanism implements: one connected end.
class Link {
 public:
  virtual ~Link() = default;
  /// Sends one message. Errors: closed, message_too_large, invalid_argument (direction), io.
  [[nodiscard]] virtual Result<void> send(std::span<const std::byte> payload,
                                          std::int64_t type) = 0;
  /// Hands `message` off where the mechanism can carry descriptors (unix: SCM_RIGHTS on the
  /// connection itself, no size limit, no copy); elsewhere sends a copy of its bytes (so
  /// message_too_large beyond max_message_size()). Errors: as send.
  [[nodiscard]] virtual Result<void> send_large(LargeBuffer& message, std::int64_t type);
  /// Receives one message, waiting until `deadline`. Errors: closed, timed_out, corrupted,
  /// message_too_large, invalid_argument (direction), io.
  [[nodiscard]] virtual Result<Message> receive(Deadline deadline) = 0;
  /// Releases the end; the peer sees closed once it received what was sent before.
  virtual void close() noexcept = 0;
  /// The largest payload send() accepts.
  [[nodiscard]] virtual std::size_t max_message_size() const noexcept = 0;
  /// The URL this end was made from (for messages).
  [[nodiscard]] virtual const std::string& url() const noexcept = 0;
  /// Whether one thread may send while another receives (send and receive share no state).
  [[nodiscard]] virtual bool is_full_duplex() const noexcept { return false; }
};

/// The listening side of a mechanism.
class Acceptor {
 public:
  virtual ~Acceptor() = default;
  /// Waits until `deadline` for the next connection. Errors: timed_out, closed, io.
  [[nodiscard]] virtual Result<std::unique_ptr<Link>> accept(Deadline deadline) = 0;
  /// The URL connect() reaches this listener by (tcp port 0 resolved to the real port).
  [[nodiscard]] virtual const std::string& url() const noexcept = 0;
};

}  // namespace transport

/// One end of a connection. Move-only. A default-constructed or closed Connection answers every
/// call with `closed`.
class Connection {
 public:
  Connection() = default;
  explicit Connection(std::unique_ptr<transport::Link> link) : link_(std::move(link)) {}

  /// Sends one message (framing is the transport's). Blocks while the transport is full.
  /// Errors: closed (the peer is gone or this end was closed), message_too_large (beyond
  /// max_message_size()), invalid_argument (a receive-only end), io.
  [[nodiscard]] Result<void> send(std::span<const std::byte> payload);
  /// As send, with a message type the receiver sees as Message::type() (>= 0; every transport
  /// but signal carries it).
  [[nodiscard]] Result<void> send(std::span<const std::byte> payload, std::int64_t type);
  /// Hands a large message off: on unix:// its sealed memfd travels over the socket
  /// (SCM_RIGHTS) and the receiver's Message maps it copy-on-write (Message::is_handed_off()),
  /// whatever its size; on the other transports its bytes are sent as by send().
  /// Errors: as send.
  [[nodiscard]] Result<void> send_large(LargeBuffer& message, std::int64_t type = 0);
  /// Copies `payload` once into a sealed buffer and hands that off (unix://), or sends it.
  [[nodiscard]] Result<void> send_large(std::span<const std::byte> payload, std::int64_t type = 0);
  [[nodiscard]] Result<void> send(std::string_view text) { return send(bytes_of(text)); }
  [[nodiscard]] Result<void> send(std::string_view text, std::int64_t type) {
    return send(bytes_of(text), type);
  }

  /// Waits for the next message. Errors: closed (the peer closed or died, after everything it
  /// sent was received), corrupted, message_too_large, invalid_argument (a send-only end), io.
  [[nodiscard]] Result<Message> receive();
  /// As receive, but timed_out after `timeout`; a timeout leaves the connection usable.
  [[nodiscard]] Result<Message> receive_for(std::chrono::nanoseconds timeout);

  /// Closes this end now (also done by the destructor).
  void close() noexcept;

  [[nodiscard]] bool is_open() const noexcept { return link_ != nullptr; }
  /// Whether one thread may send while another receives on this connection (unix, tcp, fifo,
  /// pipe, mq, sysv, shm; not the one-way file and signal). close() still wants both quiet.
  [[nodiscard]] bool is_full_duplex() const noexcept {
    return link_ != nullptr && link_->is_full_duplex();
  }
  /// The largest payload send() accepts (0 when closed).
  [[nodiscard]] std::size_t max_message_size() const noexcept;
  /// The URL this connection was made from ("pipe" for pipe_pair).
  [[nodiscard]] std::string url() const;

 private:
  std::unique_ptr<transport::Link> link_;
};

/// The listening side of a URL: accept() gives one Connection per client. Move-only; the
/// destructor removes what listen() made (socket path, FIFO, queue, mailbox).
class Listener {
 public:
  Listener() = default;
  explicit Listener(std::unique_ptr<transport::Acceptor> acceptor)
      : acceptor_(std::move(acceptor)) {}

  /// Waits for the next client. Errors: closed (a default-constructed listener; a file spool
  /// whose one reader was taken), io.
  [[nodiscard]] Result<Connection> accept();
  /// As accept, but timed_out after `timeout`.
  [[nodiscard]] Result<Connection> accept_for(std::chrono::nanoseconds timeout);
  /// The URL that reaches this listener: tcp://host:0 comes back with the port the kernel chose.
  [[nodiscard]] std::string url() const;

 private:
  std::unique_ptr<transport::Acceptor> acceptor_;
};

/// What a byte-stream socket (unix, tcp) carries. `framed` (the default): conduit's frames, so
/// one send() is one receive(). `none`: the bytes as they are, for protocols that delimit their
/// own messages (msgpack-rpc's plain msgpack stream): send() writes the payload alone, receive()
/// returns whatever bytes arrived, however the stream split them (Message::type() is 0, and an
/// empty send writes nothing). Only unix and tcp offer `none`; other schemes: invalid_argument.
enum class Framing { framed, none };

/// Listens on `url`. Errors: invalid_argument (the URL, saying what and where), already_exists
/// (the address is in use), permission_denied, not_found (a missing directory), limit_reached.
[[nodiscard]] Result<Listener> listen(std::string_view url);
/// As listen, with the framing of the connections accepted (see Framing).
[[nodiscard]] Result<Listener> listen(std::string_view url, Framing framing);
/// Connects to `url`. Errors: invalid_argument, not_found / closed (nobody listens there),
/// permission_denied, timed_out (a listener that does not answer the handshake within
/// kHandshakeTimeout), limit_reached.
[[nodiscard]] Result<Connection> connect(std::string_view url);
/// As connect, with the connection's framing (see Framing).
[[nodiscard]] Result<Connection> connect(std::string_view url, Framing framing);
/// Two connected ends over two pipes: full duplex. For fork(): the parent keeps `first` and
/// closes `second`, the child the reverse, so each sees closed when the other goes away.
[[nodiscard]] Result<std::pair<Connection, Connection>> pipe_pair();

namespace transport {
/// How long connect() waits for a listener to answer a handshake (fifo, mq, sysv, shm).
inline constexpr std::chrono::seconds kHandshakeTimeout{10};
/// The most a signal:// message carries.
inline constexpr std::size_t kSignalPayload = 4;
/// The realtime signal signal:// uses (SIGRTMIN + 6). A listening process blocks it.
[[nodiscard]] int transport_signal() noexcept;
}  // namespace transport

}  // namespace conduit
