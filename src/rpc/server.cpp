#include "conduit/rpc/server.hpp"

#include <fmt/format.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <list>
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

struct ServerState {
  mutable std::mutex mutex;  // handlers, url
  std::map<std::string, std::shared_ptr<const Handler>, std::less<>> handlers;
  std::string url;
  std::atomic<bool> is_serving{false};
  std::atomic<bool> is_stopping{false};
  std::thread background;
  Workers workers;  // run the requests of every connection

  struct Session {
    std::thread thread;
    std::atomic<bool> is_done{false};
  };

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

  /// Serves one connection until it closes, breaks or the server stops.
  void serve_connection(const std::shared_ptr<Wire>& wire) {
    // Requests run on workers (a busy one never holds up the next request); the connection
    // waits for them before it ends.
    std::mutex running_mutex;
    std::condition_variable running_changed;
    std::size_t running = 0;
    while (!is_stopping.load(std::memory_order_relaxed)) {
      auto got = wire->next(kStopCheck);
      if (!got) {
        if (got.error().code() != Errc::closed) {
          log_line(fmt::format("closing the connection: {}", got.error().message()));
        }
        break;
      }
      if (!*got) continue;
      auto handle = std::make_shared<msgpack::object_handle>(std::move(**got));
      const msgpack::object& message = handle->get();
      if (!dispatch(wire, handle, message, running_mutex, running_changed, running)) {
        log_line(
            fmt::format("{}: closing the connection: not a msgpack-rpc request or "
                        "notification",
                        wire->url()));
        break;
      }
    }
    std::unique_lock lock(running_mutex);
    running_changed.wait(lock, [&] { return running == 0; });
  }

  /// Handles one incoming object; false when it is not an rpc request or notification.
  bool dispatch(const std::shared_ptr<Wire>& wire,
                const std::shared_ptr<msgpack::object_handle>& handle,
                const msgpack::object& message, std::mutex& running_mutex,
                std::condition_variable& running_changed, std::size_t& running) {
    auto call = parse_call(message);
    if (!call) return false;
    if (call->kind == MessageKind::notification) {
      auto answer = run(0, call->method, *call->params);
      (void)answer;  // a notification is never answered
      return true;
    }
    {
      const std::lock_guard lock(running_mutex);
      ++running;
    }
    workers.run(
        [this, wire, handle, call = std::move(*call), &running_mutex, &running_changed, &running] {
          const std::string& method = call.method;
          const msgpack::sbuffer answer = run(call.id, method, *call.params);
          if (auto sent = wire->send({answer.data(), answer.size()}); !sent) {
            if (sent.error().code() != Errc::closed) {
              log_line(fmt::format("answering '{}': {}", method, sent.error().message()));
            }
          }
          const std::lock_guard lock(running_mutex);
          --running;
          running_changed.notify_all();
        });
    return true;
  }

  /// Accepts until stopped; a thread per connection.
  void accept_loop(Listener& listener) {
    std::list<std::unique_ptr<Session>> sessions;
    const auto reap = [&](bool is_all) {
      for (auto it = sessions.begin(); it != sessions.end();) {
        if (is_all || (*it)->is_done.load(std::memory_order_acquire)) {
          (*it)->thread.join();
          it = sessions.erase(it);
        } else {
          ++it;
        }
      }
    };
    while (!is_stopping.load(std::memory_order_relaxed)) {
      reap(false);
      auto accepted = listener.accept_for(kStopCheck);
      if (!accepted) {
        if (accepted.error().code() == Errc::timed_out) continue;
        log_line(fmt::format("{}: accept: {}", listener.url(), accepted.error().message()));
        continue;
      }
      auto wire = std::make_shared<Wire>(std::move(*accepted), is_stream_url(listener.url()));
      auto session = std::make_unique<Session>();
      Session* raw = session.get();
      // is_done's release pairs with the acquire in reap(): a session seen done has finished.
      session->thread = std::thread([this, wire, raw] {
        serve_connection(wire);
        raw->is_done.store(true, std::memory_order_release);
      });
      sessions.push_back(std::move(session));
    }
    reap(true);
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
