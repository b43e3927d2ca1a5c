#include "workers.hpp"

#include <unistd.h>

#include <cstdio>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include "conduit/msg/channel.hpp"

namespace conduit::torture {
namespace {

using namespace std::chrono_literals;

/// Ends a worker whose object went away with its process-lifetime owner: that is the
/// expected end of an owner round, not a failure.
bool is_owner_gone(const Error& error) {
  return error.code() == Errc::owner_died || error.code() == Errc::not_found;
}

/// The slot bookkeeping around every conduit call and logged message.
class Tracker {
 public:
  explicit Tracker(const WorkerContext& context)
      : context_(context), slot_(context.board->slots[context.slot]) {}

  void enter_call(Phase phase = Phase::in_call) {
    slot_.phase.store(static_cast<std::uint32_t>(phase));
    slot_.call_started_ns.store(monotonic_ns());
  }
  void leave_call() {
    slot_.call_started_ns.store(0);
    slot_.operations.fetch_add(1, std::memory_order_relaxed);
  }
  /// Records the message this worker now holds unlogged: the id first, then the phase, so a
  /// supervisor that reads the phase after the kill also reads the id (seq_cst stores, and the
  /// death of the process orders them before the supervisor's reads).
  void hold(Phase phase, std::uint64_t id, std::uint64_t tick) {
    slot_.held_id.store(id);
    slot_.held_tick.store(tick);
    slot_.phase.store(static_cast<std::uint32_t>(phase));
  }
  void idle() { slot_.phase.store(static_cast<std::uint32_t>(Phase::idle)); }

  /// Appends an entry, or ends the worker: a message the log lost would look lost.
  void log(EntryKind kind, std::uint64_t id, std::uint64_t tick = 0) {
    if (!append(context_.log_fd, kind, context_.incarnation, id, tick)) ::_exit(kExitLogFailed);
  }
  [[noreturn]] void fail(const Error& error, const char* where) {
    std::fprintf(stderr, "torture %s worker %u: %s: %s\n", context_.scenario->name,
                 context_.incarnation, where, error.message().c_str());
    log(EntryKind::error, static_cast<std::uint64_t>(error.code()));
    ::_exit(kExitUnexpectedError);
  }

 private:
  const WorkerContext& context_;
  WorkerSlot& slot_;
};

bool is_stopping(const Board& board) { return board.stop_producers.load() != 0; }
bool is_draining(const Board& board) { return board.drain.load() != 0; }

/// How a producer sends one message: blocking, timed, non-blocking, or through a loan.
enum class SendForm { send, send_for, try_send, loan };

template <class Object>
Result<void> send_one(Object& object, SendForm form, std::uint64_t id, std::uint64_t tick,
                      std::chrono::nanoseconds timeout, std::vector<std::byte>& buffer) {
  if constexpr (std::is_same_v<Object, Mailbox>) {
    buffer.resize(payload_size(id));
    make_payload(id, tick, buffer);
    switch (form) {
      case SendForm::send: return object.send(std::span<const std::byte>(buffer));
      case SendForm::send_for: return object.send_for(std::span<const std::byte>(buffer), timeout);
      case SendForm::try_send: return object.try_send(std::span<const std::byte>(buffer));
      case SendForm::loan: {
        auto loan = object.loan_for(buffer.size(), timeout);
        if (!loan) return std::unexpected(loan.error());
        std::memcpy(loan->bytes().data(), buffer.data(), buffer.size());
        return loan->commit();
      }
    }
  } else {
    const Record record = Record::make(id, tick);
    switch (form) {
      case SendForm::send: return object.send(record);
      case SendForm::send_for: return object.send_for(record, timeout);
      case SendForm::try_send: return object.try_send(record);
      case SendForm::loan: {
        auto loan = object.loan_for(timeout);
        if (!loan) return std::unexpected(loan.error());
        // Written in two halves so that a kill between them would leave a torn record.
        std::memcpy(loan->bytes().data(), &record, 32);
        std::memcpy(loan->bytes().data() + 32, reinterpret_cast<const std::byte*>(&record) + 32,
                    32);
        return loan->commit();
      }
    }
  }
  return {};
}

template <class Object>
int produce(const WorkerContext& context, Object& object) {
  Tracker tracker(context);
  std::mt19937_64 random(context.seed);
  std::vector<std::byte> buffer;
  const bool is_unbounded = context.scenario->carrier == Carrier::mailbox &&
                            context.scenario->mailbox.capacity.is_unbounded();
  std::uint32_t sequence = 0;
  while (!is_stopping(*context.board)) {
    const std::uint64_t id = message_id(context.incarnation, sequence);
    // The tick is taken before the send starts: a broadcast receiver that attached at an
    // earlier tick must get this message.
    const std::uint64_t tick = context.board->clock.fetch_add(1) + 1;
    const auto form = static_cast<SendForm>(random() % 4);
    const auto timeout = std::chrono::microseconds(500 + random() % 20'000);
    tracker.enter_call();
    auto sent = send_one(object, form, id, tick, timeout, buffer);
    tracker.leave_call();
    if (sent) {
      tracker.hold(Phase::taken, id, tick);
      tracker.log(EntryKind::sent, id, tick);
      tracker.idle();
      ++sequence;
      if constexpr (std::is_same_v<Object, Mailbox>) {
        // An unbounded mailbox grows without a receiver to hold it back; keep it small.
        if (is_unbounded && sequence % 64 == 0)
          while (object.stats().depth > 2048 && !is_stopping(*context.board))
            std::this_thread::sleep_for(200us);
      }
      continue;
    }
    tracker.idle();
    switch (sent.error().code()) {
      case Errc::would_block:
      case Errc::timed_out: std::this_thread::sleep_for(50us); break;
      // A channel producer blocked on a full lane whose consumer died is told so; the next
      // consumer is on its way.
      case Errc::closed:
        if (context.scenario->carrier == Carrier::channel &&
            context.scenario->rounds == RoundKind::steady) {
          std::this_thread::sleep_for(200us);
          break;
        }
        return 0;
      case Errc::owner_died:
        if (context.scenario->rounds == RoundKind::owner) return 0;
        tracker.fail(sent.error(), "send");
      default: tracker.fail(sent.error(), "send");
    }
  }
  return 0;
}

/// How a consumer takes one message: timed, non-blocking, or as a view.
enum class ReceiveForm { receive_for, try_receive, view_for };

/// The id and tick a message says it carries (zero if too short), read before it is checked:
/// the slot must name the message as soon as the receiver holds it.
std::pair<std::uint64_t, std::uint64_t> label_of(std::span<const std::byte> bytes) {
  std::uint64_t words[2] = {0, 0};
  std::memcpy(words, bytes.data(), std::min(bytes.size(), sizeof words));
  return {words[0], words[1]};
}

bool is_intact(std::span<const std::byte> bytes, bool is_channel) {
  if (!is_channel) return check_payload(bytes).is_intact;
  if (bytes.size() != sizeof(Record)) return false;
  Record record;
  std::memcpy(&record, bytes.data(), sizeof record);
  return record.is_intact();
}

/// One receive: logs it, or says why there was nothing. Returns the error, if any.
template <class Object>
std::optional<Error> consume_one(Tracker& tracker, Object& object, ReceiveForm form,
                                 std::chrono::nanoseconds timeout) {
  constexpr bool is_channel = std::is_same_v<Object, Channel<Record>>;
  // A channel view consumes nothing until released; a mailbox view is a receipt (loan.hpp).
  tracker.enter_call(is_channel && form == ReceiveForm::view_for ? Phase::in_keeping_call
                                                                 : Phase::in_call);
  if (form == ReceiveForm::view_for) {
    auto view = object.receive_view_for(timeout);
    tracker.leave_call();
    if (!view) {
      tracker.idle();
      return view.error();
    }
    std::span<const std::byte> bytes;
    if constexpr (is_channel)
      bytes = view->bytes();
    else
      bytes = view->payload();
    const auto [id, tick] = label_of(bytes);
    tracker.hold(Phase::viewing, id, tick);
    const bool is_whole = is_intact(bytes, is_channel);
    tracker.log(is_whole ? EntryKind::received : EntryKind::torn, id, tick);
    // A channel view's record goes back to the next consumer if this one dies holding it:
    // logged and not released, a kill makes it a second receipt, which the supervisor expects.
    if (is_channel) tracker.hold(Phase::viewed_logged, id, tick);
    {
      const auto released = std::move(*view);
    }
    tracker.idle();
    return std::nullopt;
  }
  if constexpr (is_channel) {
    auto record =
        form == ReceiveForm::receive_for ? object.receive_for(timeout) : object.try_receive();
    tracker.leave_call();
    if (!record) {
      tracker.idle();
      return record.error();
    }
    tracker.hold(Phase::taken, record->id, record->tick);
    tracker.log(record->is_intact() ? EntryKind::received : EntryKind::torn, record->id,
                record->tick);
  } else {
    auto message =
        form == ReceiveForm::receive_for ? object.receive_for(timeout) : object.try_receive();
    tracker.leave_call();
    if (!message) {
      tracker.idle();
      return message.error();
    }
    const auto [id, tick] = label_of(message->payload());
    tracker.hold(Phase::taken, id, tick);
    tracker.log(is_intact(message->payload(), false) ? EntryKind::received : EntryKind::torn, id,
                tick);
  }
  tracker.idle();
  return std::nullopt;
}

template <class Object>
int consume(const WorkerContext& context, Object& object) {
  Tracker tracker(context);
  std::mt19937_64 random(context.seed);
  if (context.scenario->mailbox.receivers == Receivers::broadcast &&
      context.scenario->carrier == Carrier::mailbox)
    tracker.log(EntryKind::attached, 0, context.board->clock.fetch_add(1) + 1);
  for (;;) {
    // Read before the call: a call that then finds nothing, after the producers stopped,
    // proves the carrier drained.
    const bool was_draining = is_draining(*context.board);
    const auto form = static_cast<ReceiveForm>(random() % 3);
    const auto timeout = std::chrono::microseconds(500 + random() % 50'000);
    const auto error = consume_one(tracker, object, form, timeout);
    if (!error) continue;
    switch (error->code()) {
      case Errc::would_block:
      case Errc::timed_out:
        // Only a non-blocking call that found nothing proves the carrier drained. A timed
        // call may have spent its time waiting for the mailbox's lock (its holder descheduled
        // on a loaded machine) while messages for this receiver were queued: ending then lost
        // the tail of a slow broadcast receiver's backlog (the mailbox-unbounded-broadcast
        // losses under ASan). The messages were still queued for it.
        if (was_draining && error->code() == Errc::would_block) {
          tracker.log(EntryKind::done, 0);
          return 0;
        }
        if (form == ReceiveForm::try_receive) std::this_thread::sleep_for(100us);
        break;
      // Another consumer holds the channel or the exclusive mailbox: it drains it.
      case Errc::permission_denied:
        if (was_draining) return 0;
        std::this_thread::sleep_for(1ms);
        break;
      case Errc::closed:
        if (context.scenario->rounds == RoundKind::owner) return 0;
        // A channel whose producers all died is closed until the next producer comes.
        if (context.scenario->carrier == Carrier::channel) {
          if (was_draining) {
            tracker.log(EntryKind::done, 0);
            return 0;
          }
          std::this_thread::sleep_for(200us);
          break;
        }
        tracker.fail(*error, "receive");
      case Errc::owner_died:
        if (context.scenario->rounds == RoundKind::owner) return 0;
        tracker.fail(*error, "receive");
      default: tracker.fail(*error, "receive");
    }
  }
}

Result<Channel<Record>> open_channel(const WorkerContext& context) {
  return Channel<Record>::open(context.object);
}

Result<Mailbox> open_mailbox(const WorkerContext& context, MailboxRole role) {
  return Mailbox::open(context.object, role);
}

/// Waits for the round's creator to have made the object (pair and owner rounds).
void wait_until_ready(const Board& board) {
  while (board.ready.load() == 0) std::this_thread::sleep_for(100us);
}

}  // namespace

int run_producer(const WorkerContext& context) {
  Tracker tracker(context);
  const Scenario& scenario = *context.scenario;
  if (scenario.rounds != RoundKind::steady) wait_until_ready(*context.board);
  if (scenario.carrier == Carrier::channel) {
    auto channel = open_channel(context);
    if (!channel) {
      if (scenario.rounds == RoundKind::owner && is_owner_gone(channel.error())) return 0;
      tracker.fail(channel.error(), "open");
    }
    return produce(context, *channel);
  }
  const auto role = scenario.mailbox.receivers == Receivers::broadcast
                        ? MailboxRole::sender
                        : MailboxRole::sender_and_receiver;
  auto box = open_mailbox(context, role);
  if (!box) {
    if (scenario.rounds == RoundKind::owner && is_owner_gone(box.error())) return 0;
    tracker.fail(box.error(), "open");
  }
  return produce(context, *box);
}

int run_consumer(const WorkerContext& context) {
  Tracker tracker(context);
  const Scenario& scenario = *context.scenario;
  if (scenario.rounds == RoundKind::pair) {
    // A pair mailbox joins exactly two processes: its consumer creates it, so the supervisor
    // is not one of the two.
    auto box = Mailbox::create(context.object, scenario.mailbox);
    if (!box) tracker.fail(box.error(), "create");
    context.board->ready.store(1);
    return consume(context, *box);
  }
  if (scenario.rounds == RoundKind::owner) wait_until_ready(*context.board);
  if (scenario.carrier == Carrier::channel) {
    auto channel = open_channel(context);
    if (!channel) {
      if (scenario.rounds == RoundKind::owner && is_owner_gone(channel.error())) return 0;
      tracker.fail(channel.error(), "open");
    }
    return consume(context, *channel);
  }
  auto box = open_mailbox(context, MailboxRole::sender_and_receiver);
  if (!box) {
    if (scenario.rounds == RoundKind::owner && is_owner_gone(box.error())) return 0;
    tracker.fail(box.error(), "open");
  }
  return consume(context, *box);
}

int run_owner(const WorkerContext& context) {
  Tracker tracker(context);
  if (context.scenario->carrier == Carrier::channel) {
    auto channel = Channel<Record>::create(
        context.object,
        {.capacity = 64, .producers = Producers::many, .lifetime = Lifetime::process});
    if (!channel) tracker.fail(channel.error(), "create");
    context.board->ready.store(1);
    for (;;) ::pause();
  }
  MailboxOptions options = context.scenario->mailbox;
  options.lifetime = Lifetime::process;
  auto box = Mailbox::create(context.object, options);
  if (!box) tracker.fail(box.error(), "create");
  context.board->ready.store(1);
  for (;;) ::pause();
}

}  // namespace conduit::torture
