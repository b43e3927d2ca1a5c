#include "conduit/rpc/server.hpp"

#include <fmt/format.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <thread>

#include "wire.hpp"
#include "workers.hpp"

namespace conduit::rpc {
namespace detail {
namespace {

/// How often the accept and receive loops look whether stop() was called.
constexpr std::chrono::milliseconds kStopCheck{100};

void log_line(const std::string& line) {
  std::fprintf(stderr, "conduit rpc server: %s\n", line.c_str());
  std::fflush(stderr);
}

/// Packs [1, msgid, error, result]: `error` a string, or nil with `result`'s packed bytes.
msgpack::sbuffer response(std::uint64_t id, const std::string* error,
                          const msgpack::sbuffer* result) {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> packer(buffer);
  packer.pack_array(4);
  packer.pack(static_cast<std::uint8_t>(MessageKind::response));
  packer.pack(id);
  if (error != nullptr) {
    packer.pack(*error);
    packer.pack_nil();
  } else {
    packer.pack_nil();
    buffer.write(result->data(), result->size());
  }
  return buffer;
}

}  // namespace

/// How long a reader of a half-duplex connection (mq) waits for the answers in progress to
/// leave before it takes the connection anyway (then an answer waits for its receive slice).
constexpr std::chrono::milliseconds kHalfDuplexPatience{1};

struct ServerState;

/// One client's connection, shared by the jobs that read and answer it. It ends when the last
/// of them lets go: after the reader stopped and every request read was answered.
struct Session {
  Session(ServerState& owner, std::unique_ptr<Wire> connection);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  ServerState& server;
  std::unique_ptr<Wire> wire;
  bool is_full_duplex;
  // Half duplex only: requests being answered, and whether a reader waits for them to leave.
  std::mutex mutex;
  std::condition_variable answered;
  std::size_t answering = 0;
  bool has_reader_waiting = false;
};

struct ServerState {
  mutable std::mutex mutex;  // handlers, url
  std::map<std::string, std::shared_ptr<const Handler>, std::less<>> handlers;
  std::string url;
  std::atomic<bool> is_serving{false};
  std::atomic<bool> is_stopping{false};
  std::thread background;
  Workers workers;  // read and answer the connections
  std::mutex sessions_mutex;
  std::condition_variable sessions_changed;
  std::size_t sessions = 0;  // open connections

  std::shared_ptr<const Handler> find(std::string_view name) const {
    const std::lock_guard lock(mutex);
    auto found = handlers.find(name);
    return found == handlers.end() ? nullptr : found->second;
  }

  /// Runs `method` on `params`: the packed response (nil error and the result, or the error).
  msgpack::sbuffer run(std::uint64_t id, const std::string& method, const msgpack::object& params) {
    std::string error;
    auto handler = find(method);
    if (!handler) {
      error = fmt::format("unknown method '{}'", method);
    } else {
      msgpack::sbuffer result;
      try {
        (*handler)(params, result);
        return response(id, nullptr, &result);
      } catch (const ArgumentError& bad) {
        error = fmt::format("method '{}': bad arguments: {}", method, bad.what());
      } catch (const std::exception& thrown) {
        error = fmt::format("method '{}' failed: {}", method, thrown.what());
      } catch (...) {
        error = fmt::format("method '{}' failed: it threw a non-standard exception", method);
      }
    }
    return response(id, &error, nullptr);
  }

  // Who runs a request: the thread that read it.
  //
  // Handing a request from the thread that read it to another that runs it costs a futex wake
  // and a context switch (10-20 us here) on the way of every answer. So the reader runs the
  // request itself, and instead hands on the *reading*: before running the handler it gives
  // the job "read this connection" to an idle worker. The answer then leaves from the thread
  // that read the request, with nothing in between; waking the next reader happens beside
  // it, not before it. A request arriving while the handler runs is read by that next reader
  // and runs at once on its thread, so a slow handler still holds up neither other clients nor
  // later requests on its own connection (they are answered out of order, matched by msgid),
  // as before. Running the handler on the reader and reading on inline, as a thread per
  // connection would, was the other choice: cheaper, but one slow call would then hold up the
  // calls pipelined behind it. Notifications run on the reader before it reads on, so they run
  // in the order they came, before any request read after them.
  //
  // A half-duplex connection (mq: its sends and receives take turns) cannot be read while an
  // answer is sent: there the next reader waits until the answers in progress have left, or
  // kHalfDuplexPatience, so that an answer rarely waits for a receive slice; and while no
  // answer is in progress it receives in one long wait, as no sender can come meanwhile.

  /// Reads `session` until a request comes (then hands the reading on and answers it), the
  /// connection ends or breaks, or the server stops.
  void read(const std::shared_ptr<Session>& session) {
    Wire& wire = *session->wire;
    while (!is_stopping.load(std::memory_order_relaxed)) {
      const bool may_send_meanwhile = !session->is_full_duplex && !wait_for_answers(*session);
      auto got = wire.next(kStopCheck, may_send_meanwhile);
      if (!got) {
        if (got.error().code() != Errc::closed) {
          log_line(fmt::format("closing the connection: {}", got.error().message()));
        }
        return;
      }
      if (!*got) continue;
      auto call = parse_call((*got)->get());
      if (!call) {
        log_line(fmt::format(
            "{}: closing the connection: not a msgpack-rpc request or notification", wire.url()));
        return;
      }
      if (call->kind == MessageKind::notification) {
        (void)run(0, call->method, *call->params);  // a notification is never answered
        continue;
      }
      if (!session->is_full_duplex) {
        const std::lock_guard lock(session->mutex);
        ++session->answering;
      }
      workers.run([this, session] { read(session); });
      answer(*session, *call);
      return;
    }
  }

  /// Half duplex: waits until no answer is in progress, or kHalfDuplexPatience; whether none is.
  bool wait_for_answers(Session& session) {
    std::unique_lock lock(session.mutex);
    session.has_reader_waiting = true;
    const bool is_quiet = session.answered.wait_for(lock, kHalfDuplexPatience,
                                                    [&] { return session.answering == 0; });
    session.has_reader_waiting = false;
    return is_quiet;
  }

  void answer(Session& session, const Call& call) {
    const msgpack::sbuffer answer = run(call.id, call.method, *call.params);
    if (auto sent = session.wire->send({answer.data(), answer.size()}); !sent) {
      if (sent.error().code() != Errc::closed) {
        log_line(fmt::format("answering '{}': {}", call.method, sent.error().message()));
      }
    }
    if (!session.is_full_duplex) {
      const std::lock_guard lock(session.mutex);
      --session.answering;
      if (session.answering == 0 && session.has_reader_waiting) session.answered.notify_one();
    }
  }

  /// Accepts until stopped; each connection is read by a worker.
  void accept_loop(Listener& listener) {
    while (!is_stopping.load(std::memory_order_relaxed)) {
      auto accepted = listener.accept_for(kStopCheck);
      if (!accepted) {
        if (accepted.error().code() == Errc::timed_out) continue;
        log_line(fmt::format("{}: accept: {}", listener.url(), accepted.error().message()));
        continue;
      }
      auto session = std::make_shared<Session>(
          *this, std::make_unique<Wire>(std::move(*accepted), is_stream_url(listener.url())));
      workers.run([this, session] { read(session); });
    }
    // The readers see the stop within kStopCheck; each connection closes once answered.
    {
      std::unique_lock lock(sessions_mutex);
      sessions_changed.wait(lock, [&] { return sessions == 0; });
    }
    workers.shut_down();  // every request was answered: only idle workers are left
  }

  Result<Listener> begin(std::string_view address) {
    if (is_serving.exchange(true)) {
      return fail(Errc::invalid_argument,
                  fmt::format("rpc server: serve {}: already serving {}", address, url));
    }
    is_stopping.store(false);
    auto listener = listen_for_rpc(address);
    if (!listener) {
      is_serving.store(false);
      return std::unexpected(listener.error());
    }
    const std::lock_guard lock(mutex);
    url = listener->url();
    return listener;
  }
};

Session::Session(ServerState& owner, std::unique_ptr<Wire> connection)
    : server(owner), wire(std::move(connection)), is_full_duplex(wire->is_full_duplex()) {
  const std::lock_guard lock(server.sessions_mutex);
  ++server.sessions;
}

Session::~Session() {
  wire.reset();  // closes the connection before the server may count it gone
  const std::lock_guard lock(server.sessions_mutex);
  --server.sessions;
  server.sessions_changed.notify_all();
}

}  // namespace detail

Server::Server() : state_(std::make_unique<detail::ServerState>()) {}

Server::~Server() { stop(); }

void Server::add(std::string name, detail::Handler handler) {
  const std::lock_guard lock(state_->mutex);
  state_->handlers[std::move(name)] = std::make_shared<const detail::Handler>(std::move(handler));
}

Result<void> Server::serve(std::string_view url) {
  auto listener = state_->begin(url);
  if (!listener) return std::unexpected(listener.error());
  state_->accept_loop(*listener);
  state_->is_serving.store(false);
  return {};
}

Result<void> Server::start(std::string_view url) {
  auto listener = state_->begin(url);
  if (!listener) return std::unexpected(listener.error());
  state_->background =
      std::thread([state = state_.get(), listener = std::move(*listener)]() mutable {
        state->accept_loop(listener);
      });
  return {};
}

void Server::stop() {
  state_->is_stopping.store(true);
  if (state_->background.joinable()) {
    state_->background.join();
    state_->is_serving.store(false);
  }
}

std::string Server::url() const {
  const std::lock_guard lock(state_->mutex);
  return state_->url;
}

}  // namespace conduit::rpc
