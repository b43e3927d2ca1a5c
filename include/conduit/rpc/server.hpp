// A msgpack-rpc server over any conduit transport (rpc/protocol.hpp says what is on the wire).
//
//   rpc::Server s;
//   s.bind("add", [](int a, int b) { return a + b; });
//   s.serve("unix:///tmp/calc.sock");          // blocks until stop(); or start() + stop()
//
// On unix:// and tcp:// the wire is the plain msgpack stream (any msgpack-rpc client can call
// it); on the message transports (mq, sysv, shm, fifo) one message carries one msgpack object.
// Each connection is read by one worker thread at a time, and a request runs on the thread
// that read it, so its answer leaves with no hand-off between threads. A request that runs for
// longer than about 1 ms has the reading of its connection handed on to another worker (an
// idle one, or a new one when all are busy): a slow handler holds up other clients not at all,
// and the requests behind it on its own connection by about that long; answers may then leave
// out of order (matched by msgid). Notifications run on the connection's reader, in the order
// they came, before any request read after them.
// A handler that throws, an unknown method, a wrong argument count or type: an error response
// naming the problem, never a crash. Malformed msgpack, or msgpack that is not an rpc message:
// that connection is closed with a line on stderr, and the server goes on serving the others.
// bind() is thread-safe and may be called while serving; handlers run concurrently.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "conduit/core/error.hpp"
#include "conduit/rpc/protocol.hpp"

namespace conduit::rpc {

namespace detail {
struct ServerState;
}

class Server {
 public:
  Server();
  ~Server();  // stop()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Binds `name` to `handler`, a callable whose argument and result types are msgpack-able
  /// (its result may be void: the response's result is nil). Rebinding a name replaces it.
  template <class F>
  void bind(std::string name, F handler) {
    add(std::move(name), detail::adapt(std::move(handler)));
  }

  /// Listens on `url` and serves until stop() is called (from another thread). Errors: those
  /// of conduit::listen; invalid_argument when already serving.
  [[nodiscard]] Result<void> serve(std::string_view url);
  /// Listens on `url` and serves in a background thread; returns once listening, so clients
  /// may connect at once. Errors: as serve.
  [[nodiscard]] Result<void> start(std::string_view url);
  /// Stops serving: no new connections, open ones are closed after the requests they are
  /// running have been answered (it is noticed within 100 ms). After start() it
  /// waits for that; a serve() running in another thread returns once it is done. Idempotent.
  void stop();
  /// The URL clients reach this server by once it listens (tcp port 0: the port chosen); empty
  /// before.
  [[nodiscard]] std::string url() const;

 private:
  void add(std::string name, detail::Handler handler);

  std::unique_ptr<detail::ServerState> state_;
};

}  // namespace conduit::rpc
