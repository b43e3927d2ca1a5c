#include "conduit/rpc/client.hpp"

#include <fmt/format.h>

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "conduit/sys/clock.hpp"
#include "wire.hpp"

namespace conduit::rpc {
namespace detail {
namespace {

/// How often the background reader looks whether the client is being destroyed.
constexpr std::chrono::milliseconds kStopCheck{100};
/// How long a calling thread reads in one go when its call has no timeout (it reads again).
constexpr std::chrono::milliseconds kCallerSlice{60'000};

/// The text of a response's error object: a string as it is, anything else as msgpack prints it.
std::string error_text(const msgpack::object& error) {
  if (error.type == msgpack::type::STR) return error.as<std::string>();
  std::ostringstream text;
  text << error;
  return text.str();
}

}  // namespace

// Who reads the responses: whoever needs one, one thread at a time (a leader/follower scheme).
//
// A response read by a thread other than the one waiting for it costs a hand-off, a futex wake
// and a context switch (10-20 us here), about as much as the round trip itself. So a thread in
// call() does not wait for a reader thread to wake it: when nobody is reading (`is_reading`),
// it takes the connection and reads until its own answer comes; a lone synchronous call thus
// sends and receives on one thread, as a hand-written socket client would. Answers it reads
// for other calls it delivers to them (their completion runs on its thread, and their waiter is
// woken). When it has its answer it stops reading and, if calls are still waiting, passes
// reading on: to a waiting caller first (which then reads its own answer), else to the
// background thread, which reads only while async_call()s wait and no caller reads: a future
// cannot read for itself. The token `is_reading` and every list are under `mutex`; reading
// itself is done without the lock, so calls may be sent meanwhile.
struct ClientState {
  /// A thread waiting in call(): woken when its answer has landed or when it may read.
  struct Waiter {
    std::condition_variable changed;
    bool is_answered = false;  // its completion has run
  };
  struct Pending {
    Completion completion;
    Waiter* waiter = nullptr;  // nullptr: an async call, completed by whoever reads
  };

  std::unique_ptr<Wire> wire;
  std::mutex mutex;  // everything below
  std::map<std::uint32_t, Pending> pending;
  std::uint32_t next_id = 0;
  std::optional<Error> closed_error;  // set once the connection ended: every later call gets it
  bool is_reading = false;            // a thread is reading the connection
  std::size_t async_waiting = 0;      // entries of `pending` with no waiter
  std::deque<Waiter*> followers;      // callers waiting while another thread reads
  bool is_stopping = false;
  std::condition_variable background_changed;
  std::thread background;  // started by the first async call

  /// Nobody reads but someone waits for an answer: wake the one who should read.
  void pass_reading(std::unique_lock<std::mutex>& /*held*/) {
    if (is_reading) return;
    if (!followers.empty()) {
      followers.front()->changed.notify_one();
    } else if (async_waiting > 0) {
      background_changed.notify_one();
    }
  }

  /// Registers a call; its id. Errors: closed.
  Result<std::uint32_t> add(Completion completion, Waiter* waiter) {
    const std::lock_guard lock(mutex);
    if (closed_error) return std::unexpected(*closed_error);
    const std::uint32_t id = next_id++;
    pending.emplace(id, Pending{std::move(completion), waiter});
    if (waiter == nullptr) ++async_waiting;
    return id;
  }

  /// Forgets call `id`; false when its answer is already being delivered.
  bool cancel(std::uint32_t id, std::unique_lock<std::mutex>& /*held*/) {
    auto found = pending.find(id);
    if (found == pending.end()) return false;
    if (found->second.waiter == nullptr) --async_waiting;
    pending.erase(found);
    return true;
  }

  /// Takes call `id` out of `pending` for its answer to be delivered.
  std::optional<Pending> take(std::uint32_t id) {
    const std::lock_guard lock(mutex);
    auto found = pending.find(id);
    if (found == pending.end()) return std::nullopt;
    Pending taken = std::move(found->second);
    pending.erase(found);
    if (taken.waiter == nullptr) --async_waiting;
    return taken;
  }

  /// Runs a taken call's completion, then tells its waiter. The waiter's frame holds the result,
  /// so it must not return before is_answered is set (under the mutex, after the completion).
  void complete(Pending& call, Result<const msgpack::object*> reply) {
    call.completion(std::move(reply));
    if (call.waiter == nullptr) return;
    const std::lock_guard lock(mutex);
    call.waiter->is_answered = true;
    call.waiter->changed.notify_one();
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
    auto call = take(static_cast<std::uint32_t>(fields[1].via.u64));
    if (!call) return;
    if (fields[2].type != msgpack::type::NIL) {
      complete(*call, std::unexpected(Error(Errc::io, fmt::format("rpc server {}: {}", wire->url(),
                                                                  error_text(fields[2])))));
    } else {
      complete(*call, &fields[3]);
    }
  }

  /// The connection is over: every later call fails with `error`, and every call waiting now.
  void end(const Error& error) {
    std::map<std::uint32_t, Pending> orphans;
    {
      const std::lock_guard lock(mutex);
      if (!closed_error) closed_error = error;
      orphans.swap(pending);
      async_waiting = 0;
    }
    for (auto& [id, call] : orphans) complete(call, std::unexpected(error));
  }

  /// Reads one object (waiting up to `wait`) and delivers it; false when the connection ended.
  /// The caller holds the reading token.
  bool read_once(std::chrono::milliseconds wait) {
    auto got = wire->next(wait);
    if (!got) {
      end(Error(Errc::closed, fmt::format("rpc client {}: the connection ended: {}", wire->url(),
                                          got.error().message())));
      return false;
    }
    if (*got) deliver((*got)->get());
    return true;
  }

  /// A caller's wait for its answer, reading when nobody else does. false: `deadline` passed
  /// first (the call is then forgotten, and its completion never runs).
  bool wait(std::uint32_t id, Waiter& waiter, std::optional<sys::TimePoint> deadline) {
    std::unique_lock lock(mutex);
    for (;;) {
      if (waiter.is_answered) break;
      if (deadline && sys::now() >= deadline) {
        if (cancel(id, lock)) {
          pass_reading(lock);
          return false;
        }
        // Its answer is being delivered: the completion is running; wait for it to finish.
        waiter.changed.wait(lock, [&] { return waiter.is_answered; });
        break;
      }
      if (is_reading) {
        followers.push_back(&waiter);
        const auto woken = [&] { return waiter.is_answered || !is_reading; };
        if (deadline) {
          waiter.changed.wait_until(lock, *deadline, woken);
        } else {
          waiter.changed.wait(lock, woken);
        }
        std::erase(followers, &waiter);
        continue;
      }
      is_reading = true;
      lock.unlock();
      for (bool is_open = true; is_open;) {
        auto wait = kCallerSlice;
        if (deadline) {
          const auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline - sys::now());
          if (left <= std::chrono::milliseconds::zero()) break;
          wait = std::min(wait, left);
        }
        is_open = read_once(wait);
        // While this thread holds the reading token, only it completes calls (in read_once), so
        // it reads its own write here: no lock needed.
        if (waiter.is_answered) break;
      }
      lock.lock();
      is_reading = false;
    }
    pass_reading(lock);
    return true;
  }

  /// The background reader: reads while async calls wait and no caller reads.
  void read_for_async_calls() {
    std::unique_lock lock(mutex);
    for (;;) {
      background_changed.wait(lock, [&] {
        return is_stopping || (!is_reading && async_waiting > 0 && followers.empty());
      });
      if (is_stopping) return;
      is_reading = true;
      lock.unlock();
      bool is_open = true;
      for (;;) {
        is_open = read_once(kStopCheck);
        lock.lock();
        // A caller that came meanwhile reads its own answer; the destructor wants the thread.
        if (!is_open || is_stopping || async_waiting == 0 || !followers.empty()) break;
        lock.unlock();
      }
      is_reading = false;
      if (is_stopping) return;
      pass_reading(lock);
      if (!is_open) return;
    }
  }
};

}  // namespace detail

Client::Client(std::shared_ptr<detail::ClientState> state) : state_(std::move(state)) {}

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
  auto state = std::move(state_);
  bool is_background_reading = false;
  {
    const std::lock_guard lock(state->mutex);
    state->is_stopping = true;
    // No caller can be reading (a call in progress would be using this Client): only the
    // background thread, for async calls.
    is_background_reading = state->is_reading;
    state->background_changed.notify_one();
  }
  state->end(Error(Errc::closed, fmt::format("rpc client {}: closed", state->wire->url())));
  if (!state->background.joinable()) return;
  if (is_background_reading) {
    // It is waiting in a receive that nothing here can cut short (a Connection cannot be woken
    // from another thread): let it finish on its own, within kStopCheck, holding the state;
    // the connection closes when it lets go.
    state->background.detach();
  } else {
    state->background.join();
  }
}

Result<Client> Client::connect(std::string_view url) {
  auto wire = detail::Wire::connect(url);
  if (!wire) return std::unexpected(wire.error());
  auto state = std::make_shared<detail::ClientState>();
  state->wire = std::move(*wire);
  return Client(std::move(state));
}

bool Client::is_connected() const noexcept {
  if (!state_) return false;
  std::unique_lock lock(state_->mutex);
  if (state_->closed_error) return false;
  if (state_->is_reading) return true;  // the reader will see the end when it comes
  // Nobody reads: look whether the server has closed, without waiting.
  state_->is_reading = true;
  lock.unlock();
  (void)state_->read_once(std::chrono::milliseconds::zero());
  lock.lock();
  state_->is_reading = false;
  state_->pass_reading(lock);
  return !state_->closed_error.has_value();
}

namespace {

msgpack::sbuffer pack_request(std::uint32_t id, std::string_view method,
                              const msgpack::sbuffer& params) {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> packer(buffer);
  packer.pack_array(4);
  packer.pack(static_cast<std::uint8_t>(MessageKind::request));
  packer.pack(id);
  packer.pack(method);
  buffer.write(params.data(), params.size());
  return buffer;
}

}  // namespace

Result<std::uint32_t> Client::send_request(std::string_view method, const msgpack::sbuffer& params,
                                           detail::Completion completion) {
  if (!state_) return fail(Errc::closed, "rpc client: call: not open (moved from)");
  auto& state = *state_;
  auto id = state.add(std::move(completion), nullptr);
  if (!id) return id;
  {
    const std::lock_guard lock(state.mutex);
    if (!state.background.joinable()) {
      state.background = std::thread([shared = state_] { shared->read_for_async_calls(); });
    }
  }
  const msgpack::sbuffer buffer = pack_request(*id, method, params);
  auto sent = state.wire->send({buffer.data(), buffer.size()});
  std::unique_lock lock(state.mutex);
  // A failed send whose call the connection's end already failed (with closed) is reported
  // through the completion, as the call's outcome.
  if (!sent && state.cancel(*id, lock)) return std::unexpected(sent.error());
  state.pass_reading(lock);
  return id;
}

Result<void> Client::call_and_wait(std::string_view method, const msgpack::sbuffer& params,
                                   detail::Completion completion,
                                   std::optional<std::chrono::nanoseconds> timeout) {
  if (!state_) return fail(Errc::closed, "rpc client: call: not open (moved from)");
  auto& state = *state_;
  std::optional<sys::TimePoint> deadline;
  if (timeout) deadline = sys::deadline_after(*timeout);
  detail::ClientState::Waiter waiter;
  auto id = state.add(std::move(completion), &waiter);
  if (!id) return std::unexpected(id.error());
  const msgpack::sbuffer buffer = pack_request(*id, method, params);
  if (auto sent = state.wire->send({buffer.data(), buffer.size()}); !sent) {
    std::unique_lock lock(state.mutex);
    if (state.cancel(*id, lock)) return std::unexpected(sent.error());
    // The connection ended meanwhile and the call was failed with closed: take that.
    waiter.changed.wait(lock, [&] { return waiter.is_answered; });
    return {};
  }
  if (!state.wait(*id, waiter, deadline)) {
    return fail(Errc::timed_out,
                fmt::format("rpc call '{}': no answer within the timeout", method));
  }
  return {};
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

}  // namespace conduit::rpc
