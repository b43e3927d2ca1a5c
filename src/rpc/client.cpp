#include "conduit/rpc/client.hpp"

#include <fmt/format.h>

#include <atomic>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "wire.hpp"

namespace conduit::rpc {
namespace detail {
namespace {

/// How often the reader looks whether the client is being destroyed.
constexpr std::chrono::milliseconds kStopCheck{100};

/// The text of a response's error object: a string as it is, anything else as msgpack prints it.
std::string error_text(const msgpack::object& error) {
  if (error.type == msgpack::type::STR) return error.as<std::string>();
  std::ostringstream text;
  text << error;
  return text.str();
}

}  // namespace

struct ClientState {
  std::unique_ptr<Wire> wire;
  std::mutex mutex;  // pending, next_id, closed_error
  std::map<std::uint32_t, Completion> pending;
  std::uint32_t next_id = 0;
  std::optional<Error> closed_error;  // set once the reader ended: every later call gets it
  std::atomic<bool> is_stopping{false};
  std::thread reader;

  /// Reads responses until the connection ends or the client is destroyed.
  void read() {
    for (;;) {
      if (is_stopping.load(std::memory_order_relaxed)) {
        end(Error(Errc::closed, fmt::format("rpc client {}: closed", wire->url())));
        return;
      }
      auto got = wire->next(kStopCheck);
      if (!got) {
        end(Error(Errc::closed, fmt::format("rpc client {}: the connection ended: {}", wire->url(),
                                            got.error().message())));
        return;
      }
      if (*got) deliver((*got)->get());
    }
  }

  /// Hands a response to its call; anything else (and answers nobody waits for) is dropped.
  void deliver(const msgpack::object& message) {
    if (message.type != msgpack::type::ARRAY || message.via.array.size != 4) return;
    const msgpack::object* fields = message.via.array.ptr;
    if (fields[0].type != msgpack::type::POSITIVE_INTEGER ||
        fields[0].via.u64 != static_cast<std::uint64_t>(MessageKind::response) ||
        fields[1].type != msgpack::type::POSITIVE_INTEGER) {
      return;
    }
    Completion completion;
    {
      const std::lock_guard lock(mutex);
      auto found = pending.find(static_cast<std::uint32_t>(fields[1].via.u64));
      if (found == pending.end()) return;
      completion = std::move(found->second);
      pending.erase(found);
    }
    if (fields[2].type != msgpack::type::NIL) {
      completion(std::unexpected(
          Error(Errc::io, fmt::format("rpc server {}: {}", wire->url(), error_text(fields[2])))));
    } else {
      completion(&fields[3]);
    }
  }

  /// The connection is over: fail every call still waiting.
  void end(const Error& error) {
    std::map<std::uint32_t, Completion> orphans;
    {
      const std::lock_guard lock(mutex);
      closed_error = error;
      orphans.swap(pending);
    }
    for (auto& [id, completion] : orphans) completion(std::unexpected(error));
  }
};

}  // namespace detail

Client::Client(std::unique_ptr<detail::ClientState> state) : state_(std::move(state)) {}

Client::Client(Client&&) noexcept = default;

Client& Client::operator=(Client&& other) noexcept {
  if (this != &other) {
    shut_down();
    state_ = std::move(other.state_);
  }
  return *this;
}

Client::~Client() { shut_down(); }

void Client::shut_down() noexcept {
  if (!state_) return;
  state_->is_stopping.store(true);
  if (state_->reader.joinable()) state_->reader.join();
  state_.reset();
}

Result<Client> Client::connect(std::string_view url) {
  auto wire = detail::Wire::connect(url);
  if (!wire) return std::unexpected(wire.error());
  auto state = std::make_unique<detail::ClientState>();
  state->wire = std::move(*wire);
  state->reader = std::thread([raw = state.get()] { raw->read(); });
  return Client(std::move(state));
}

bool Client::is_connected() const noexcept {
  if (!state_) return false;
  const std::lock_guard lock(state_->mutex);
  return !state_->closed_error.has_value();
}

Result<std::uint32_t> Client::send_request(std::string_view method, const msgpack::sbuffer& params,
                                           detail::Completion completion) {
  if (!state_) return fail(Errc::closed, "rpc client: call: not open (moved from)");
  std::uint32_t id = 0;
  {
    const std::lock_guard lock(state_->mutex);
    if (state_->closed_error) return std::unexpected(*state_->closed_error);
    id = state_->next_id++;
    state_->pending.emplace(id, std::move(completion));
  }
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> packer(buffer);
  packer.pack_array(4);
  packer.pack(static_cast<std::uint8_t>(MessageKind::request));
  packer.pack(id);
  packer.pack(method);
  buffer.write(params.data(), params.size());
  if (auto sent = state_->wire->send({buffer.data(), buffer.size()}); !sent) {
    (void)cancel(id);
    return std::unexpected(sent.error());
  }
  return id;
}

Result<void> Client::send_notification(std::string_view method, const msgpack::sbuffer& params) {
  if (!state_) return fail(Errc::closed, "rpc client: notify: not open (moved from)");
  {
    const std::lock_guard lock(state_->mutex);
    if (state_->closed_error) return std::unexpected(*state_->closed_error);
  }
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> packer(buffer);
  packer.pack_array(3);
  packer.pack(static_cast<std::uint8_t>(MessageKind::notification));
  packer.pack(method);
  buffer.write(params.data(), params.size());
  return state_->wire->send({buffer.data(), buffer.size()});
}

bool Client::cancel(std::uint32_t id) {
  const std::lock_guard lock(state_->mutex);
  return state_->pending.erase(id) == 1;
}

}  // namespace conduit::rpc
