#include "conduit/rpc/server.hpp"

#include <fmt/format.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "conduit/sys/clock.hpp"
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

/// How long a request may run on the thread that read it before a worker takes over reading
/// its connection (see "Who runs a request" below).
constexpr std::chrono::milliseconds kHandOnAfter{1};
/// How long the watch over running requests keeps looking after the last one ended; then it
/// sleeps until the next one starts.
constexpr std::chrono::milliseconds kWatchIdle{100};

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
  std::atomic<std::size_t> answering{0};  // half duplex: requests being answered
};

/// A request running on the thread that read it, as the watch sees it (under watch_mutex).
struct RunningRequest {
  std::shared_ptr<Session> session;
  sys::TimePoint since;
  bool is_handed_on = false;  // the watch gave the reading of the session to another worker
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
  std::mutex watch_mutex;    // the fields below, and every RunningRequest
  std::condition_variable watch_changed;
  std::vector<RunningRequest*> running;  // each in the frame of the thread running it
  bool is_watch_asleep = false;
  bool is_watch_ending = false;

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
  // Each connection is read by one thread at a time, a worker. Handing each request from that
  // reader to another thread costs a futex wake and a context switch on the way of every
  // answer; so does handing the *reading* on to another worker before running the request on
  // the reader (measured: about 0.2x of the raw socket round trip either way, here). So the
  // reader runs the request itself and then reads on, as a thread per connection would, and
  // the answer leaves with no other thread involved. What that alone would break: a slow
  // handler would hold up the requests pipelined behind it on its connection (msgpack-rpc lets
  // a client send many before the first answer, and the answers may come out of order). So a
  // watch thread looks, every kHandOnAfter while requests run, for a reader that has been
  // running one for longer than that, and hands the reading of its connection on to another
  // worker; the slow request's thread then ends its turn when it has answered. A slow handler
  // thus holds up the requests behind it by about kHandOnAfter, and other connections not at
  // all. The watch sleeps when no request has run for kWatchIdle, and the next one to start
  // wakes it: that wake is the only one, and only after an idle spell.
  //
  // Why it ticks (every kHandOnAfter) while calls flow rather than sleep until a request is
  // due: noticing that a request has run kHandOnAfter needs a timer armed for each request, and
  // only an awake thread can arm one. A watch that slept until woken by the next request to
  // start would cost every call a FUTEX_WAKE on the reader's way to the answer, and then wake
  // again at that request's due time, long after it ended: about two wakes per kHandOnAfter
  // under a steady flow instead of one (tried: strace counted more futex calls per call over
  // unix://, not fewer). A reader cannot time itself: the one that could notice is the one
  // stuck in the handler. So the tick stays, bounded to the flow and kWatchIdle after it.
  //
  // Notifications run on the reader before it reads on, so they run in the order they came,
  // before any request read after them.
  //
  // A half-duplex connection (its sends and receives take turns; none of conduit's two-way
  // transports is, but a Connection may say so) receives in one long
  // wait while no answer is in progress, as no sender can come meanwhile; in slices (so that
  // an answer can get in) only while a handed-on reader reads beside a running request.

  /// Reads `session` until the connection ends or breaks, the server stops, or the watch hands
  /// the reading on while this thread runs a request.
  void read(const std::shared_ptr<Session>& session) {
    Wire& wire = *session->wire;
    while (!is_stopping.load(std::memory_order_relaxed)) {
      // Acquire pairs with the release in answer(): an answer counted out has been sent.
      const bool may_send_meanwhile =
          !session->is_full_duplex && session->answering.load(std::memory_order_acquire) > 0;
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
      // Counted before the watch may hand the reading on: the next reader must see it.
      if (!session->is_full_duplex) session->answering.fetch_add(1, std::memory_order_relaxed);
      RunningRequest request{session, sys::now()};
      start_running(request);
      answer(*session, *call);
      if (!stop_running(request)) return;  // another worker reads the connection now
    }
  }

  /// Runs the request and sends its answer; then counts the answer out (half duplex).
  void answer(Session& session, const Call& call) {
    const msgpack::sbuffer answer = run(call.id, call.method, *call.params);
    if (auto sent = session.wire->send({answer.data(), answer.size()}); !sent) {
      if (sent.error().code() != Errc::closed) {
        log_line(fmt::format("answering '{}': {}", call.method, sent.error().message()));
      }
    }
    // Release pairs with the acquire in read(): a reader that sees no answer in progress
    // receives in one wait, after this send.
    if (!session.is_full_duplex) session.answering.fetch_sub(1, std::memory_order_release);
  }

  /// A reader starts running `request`: the watch looks after it.
  void start_running(RunningRequest& request) {
    const std::lock_guard lock(watch_mutex);
    running.push_back(&request);
    if (is_watch_asleep) watch_changed.notify_one();
  }

  /// `request` is answered: whether its thread still reads the session.
  bool stop_running(RunningRequest& request) {
    const std::lock_guard lock(watch_mutex);
    std::erase(running, &request);
    return !request.is_handed_on;
  }

  /// The watch: hands the reading of a connection on when its reader runs a request for longer
  /// than kHandOnAfter.
  void watch() {
    std::unique_lock lock(watch_mutex);
    auto last_busy = sys::now();
    while (!is_watch_ending) {
      const auto now = sys::now();
      std::vector<std::shared_ptr<Session>> slow;
      for (RunningRequest* request : running) {
        if (!request->is_handed_on && now - request->since >= kHandOnAfter) {
          request->is_handed_on = true;
          slow.push_back(request->session);
        }
      }
      if (!running.empty()) last_busy = now;
      if (!slow.empty()) {
        lock.unlock();
        for (auto& session : slow) workers.run([this, session] { read(session); });
        slow.clear();
        lock.lock();
        continue;
      }
      if (running.empty() && now - last_busy >= kWatchIdle) {
        is_watch_asleep = true;
        watch_changed.wait(lock, [&] { return is_watch_ending || !running.empty(); });
        is_watch_asleep = false;
        last_busy = sys::now();
      } else {
        watch_changed.wait_for(lock, kHandOnAfter);
      }
    }
  }

  /// Accepts until stopped; each connection is read by a worker.
  void accept_loop(Listener& listener) {
    {
      const std::lock_guard lock(watch_mutex);
      is_watch_ending = false;
    }
    std::thread watcher([this] { watch(); });
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
    {
      const std::lock_guard lock(watch_mutex);
      is_watch_ending = true;
      watch_changed.notify_one();
    }
    watcher.join();
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
