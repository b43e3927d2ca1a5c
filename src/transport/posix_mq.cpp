// mq://name: POSIX message queues, one message per queued message (native boundaries).
//
// listen creates the request queue /name. A client creates two queues of its own,
// /name#<pid>-<n>.up (client to listener) and .down, posts a request naming them on /name and
// waits for the answer on .down; then it unlinks both, so they vanish with the last descriptor,
// even if both ends die.
//
// Queue memory is charged to the user who creates the queue, against RLIMIT_MSGQUEUE
// (`ulimit -q`, 800 KiB by default): a queue of n records of s bytes costs about n * (s + 96).
// Queues sized at the system's maximum message (msgsize_max, 8 KiB by default) would let a user
// hold only five connections. So each queue holds min(10, msg_max) records of at most
// kRecordSize bytes (a 16-byte header, type and kind, then payload), about 11 KiB, and a
// message longer than one record travels as several: `part` records, then a `data` record that
// ends it. A message may still be as long as msgsize_max less the header, as when it was one
// record. connect answers a queue-memory EMFILE with limit_reached naming the limit.
//
// A queue cannot tell that its reader or writer died: see queue_link.hpp. close() posts a close
// record at a higher priority than data, so the peer sees it even behind a full queue of data
// it has not read yet; it then takes what is left and answers closed. A send waiting for room
// must see that record too, in the incoming queue: if no thread is receiving, it takes the
// incoming records itself (keeping the messages for receive); if one is, that receiver sees the
// record and tells the send through a flag. So one thread may send while another receives
// (full duplex), and neither waits in slices for the other. If the peer's queue is
// full when close() runs, the record waits at most kCloseWait for room; past that the peer
// learns of the close only when this process exits.
// The listener's answer to a request goes at a priority above the close record's, so a listener
// that closes right after accept still reaches the client's connect with its answer first.
// Each end holds its incoming queue twice: non-blocking, to take what is there, and blocking,
// for a receive that waits with no deadline to wait and take in one mq_timedreceive.
// The request queue of a listener that died stays until mq_unlink (as every POSIX queue does):
// listen on that name is then already_exists.
#include <fcntl.h>
#include <fmt/format.h>
#include <mqueue.h>
#include <poll.h>
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstring>
#include <deque>
#include <mutex>
#include <vector>

#include "conduit/sys/file.hpp"
#include "conduit/sys/io.hpp"
#include "mechanisms.hpp"
#include "queue_link.hpp"

namespace conduit::transport {
namespace {

constexpr std::chrono::milliseconds kCloseWait{1000};
constexpr long kRequestSize = sizeof(QueueHeader) + sizeof(QueueHandshake);
constexpr unsigned kDataPriority = 0;
constexpr unsigned kClosePriority = 1;
// Above the close record's: a listener may close right after accept, and its close record
// must not reach the client before the answer that the client's connect is waiting for.
constexpr unsigned kAnswerPriority = 2;

long read_limit(const char* path, long fallback) {
  auto text = sys::read_small_file(path);
  if (!text) return fallback;
  long value = 0;
  const auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), value);
  return error == std::errc() && value > 0 ? value : fallback;
}

/// The largest record a queue may hold here (a message may be this long less the header).
long message_size_limit() { return read_limit("/proc/sys/fs/mqueue/msgsize_max", 8192); }
/// How many records a queue holds.
long depth_limit() { return std::min(10L, read_limit("/proc/sys/fs/mqueue/msg_max", 10)); }

/// The size of one record of a connection's queues: small, so that a user's queue-memory
/// budget (RLIMIT_MSGQUEUE) holds many connections; longer messages travel as several records.
constexpr long kRecordSize = 1024;
long record_size() { return std::min(kRecordSize, message_size_limit()); }

/// What the kernel charges for a queue (ipc/mqueue.c: a struct msg_msg and a priority-tree
/// node, 48 bytes each on 64-bit Linux, per record, beside the records themselves).
long queue_cost(long size, long depth) { return depth * (size + 96); }

/// mq_open's EMFILE, when creating queues, usually means this user's queue memory is spent.
Error queue_memory_error(const sys::SysError& error, const std::string& context) {
  rlimit limit{};
  auto got = sys::call("getrlimit", [&] { return ::getrlimit(RLIMIT_MSGQUEUE, &limit); });
  const std::string now = !got ? "unknown"
                          : limit.rlim_cur == RLIM_INFINITY
                              ? "unlimited"
                              : fmt::format("{} bytes", limit.rlim_cur);
  return Error(Errc::limit_reached,
               fmt::format("{}: the per-user limit on POSIX queue memory is reached "
                           "(RLIMIT_MSGQUEUE, `ulimit -q`: {}; each mq:// connection takes about "
                           "{} bytes of it, in two queues), or this process is out of descriptors "
                           "(mq_open: {})",
                           context, now, 2 * queue_cost(record_size(), depth_limit()),
                           std::strerror(error.code)));
}

class Queue {
 public:
  Queue() = default;
  explicit Queue(mqd_t queue) : queue_(queue) {}
  Queue(Queue&& other) noexcept : queue_(std::exchange(other.queue_, mqd_t(-1))) {}
  Queue& operator=(Queue&& other) noexcept {
    std::swap(queue_, other.queue_);
    return *this;
  }
  ~Queue() { reset(); }
  void reset() noexcept {
    // Not retried on EINTR, as close(2) is not: the descriptor is gone either way.
    if (queue_ != mqd_t(-1)) (void)sys::call_once("mq_close", [&] { return ::mq_close(queue_); });
    queue_ = mqd_t(-1);
  }
  [[nodiscard]] mqd_t get() const noexcept { return queue_; }
  [[nodiscard]] explicit operator bool() const noexcept { return queue_ != mqd_t(-1); }

 private:
  mqd_t queue_ = mqd_t(-1);
};

/// Non-blocking unless `is_waiting` (a descriptor to wait in mq_timedreceive with).
sys::SysResult<Queue> open_queue(const std::string& name, int flags, long size, long depth,
                                 bool is_waiting = false) {
  mq_attr attributes{};
  attributes.mq_maxmsg = depth;
  attributes.mq_msgsize = size;
  auto queue = sys::call("mq_open", [&] {
    return ::mq_open(name.c_str(), flags | O_CLOEXEC | (is_waiting ? 0 : O_NONBLOCK), 0600,
                     (flags & O_CREAT) ? &attributes : nullptr);
  });
  if (!queue) return std::unexpected(queue.error());
  return Queue(static_cast<mqd_t>(*queue));
}

void unlink_queue(const std::string& name) {
  (void)sys::call("mq_unlink", [&] { return ::mq_unlink(name.c_str()); });
}

/// One non-blocking send of header + payload. EAGAIN when full.
sys::SysResult<void> post(mqd_t queue, RecordKind kind, std::int64_t type,
                          std::span<const std::byte> payload, unsigned priority,
                          std::vector<std::byte>& scratch) {
  const QueueHeader header{kQueueMagic, kind, type};
  scratch.resize(sizeof header + payload.size());
  std::memcpy(scratch.data(), &header, sizeof header);
  if (!payload.empty()) std::memcpy(scratch.data() + sizeof header, payload.data(), payload.size());
  auto sent = sys::call("mq_send", [&] {
    return ::mq_send(queue, reinterpret_cast<const char*>(scratch.data()), scratch.size(),
                     priority);
  });
  if (!sent) return std::unexpected(sent.error());
  return {};
}

/// One non-blocking receive into `buffer`; its size. EAGAIN when empty.
sys::SysResult<std::size_t> take(mqd_t queue, std::vector<std::byte>& buffer) {
  auto got = sys::call("mq_receive", [&] {
    return ::mq_receive(queue, reinterpret_cast<char*>(buffer.data()), buffer.size(), nullptr);
  });
  if (!got) return std::unexpected(got.error());
  return static_cast<std::size_t>(*got);
}

/// One receive into `buffer` on a blocking descriptor, waiting until `until` on CLOCK_REALTIME
/// (the only clock mq_timedreceive knows); its size. ETIMEDOUT when nothing came in time.
sys::SysResult<std::size_t> take_waiting(mqd_t queue, std::vector<std::byte>& buffer,
                                         const timespec& until) {
  auto got = sys::call("mq_timedreceive", [&] {
    return ::mq_timedreceive(queue, reinterpret_cast<char*>(buffer.data()), buffer.size(), nullptr,
                             &until);
  });
  if (!got) return std::unexpected(got.error());
  return static_cast<std::size_t>(*got);
}

/// kLivenessInterval from now on CLOCK_REALTIME (read through the vDSO: no system call).
timespec realtime_slice_end() {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  const auto slice = std::chrono::duration_cast<std::chrono::nanoseconds>(kLivenessInterval);
  const long nanoseconds = now.tv_nsec + static_cast<long>(slice.count() % 1'000'000'000);
  now.tv_sec += static_cast<time_t>(slice.count() / 1'000'000'000) + nanoseconds / 1'000'000'000;
  now.tv_nsec = nanoseconds % 1'000'000'000;
  return now;
}

class MqLink final : public Link {
 public:
  /// `record_size`: the queues' message size; `message_size`: the longest record a queue could
  /// be made for here (msgsize_max), which bounds a message as if it were one record.
  /// `in_waiting`: the incoming queue again, blocking (see receive()).
  MqLink(Queue in, Queue in_waiting, Queue out, std::size_t record_size, std::size_t message_size,
         ProcessId peer, std::string url)
      : in_(std::move(in)),
        in_waiting_(std::move(in_waiting)),
        out_(std::move(out)),
        record_size_(record_size),
        message_size_(message_size),
        peer_(peer),
        url_(std::move(url)),
        buffer_(record_size) {}

  ~MqLink() override { close(); }

  Result<void> send(std::span<const std::byte> payload, std::int64_t type) override {
    if (payload.size() > max_message_size()) {
      return fail(Errc::message_too_large,
                  fmt::format("{}: send: message of {} bytes exceeds the limit of {} (msgsize_max "
                              "{} less the {}-byte header)",
                              url_, payload.size(), max_message_size(), message_size_,
                              sizeof(QueueHeader)));
    }
    // All records but the last are parts; the last, a data record, ends the message.
    const std::size_t per_record = record_size_ - sizeof(QueueHeader);
    for (;;) {
      const bool is_last = payload.size() <= per_record;
      const auto record = payload.first(is_last ? payload.size() : per_record);
      if (auto sent = send_record(is_last ? RecordKind::data : RecordKind::part, type, record);
          !sent) {
        return sent;
      }
      if (is_last) break;
      payload = payload.subspan(per_record);
    }
    has_sent_since_receive_.store(true, std::memory_order_relaxed);
    return {};
  }

  /// One record, waiting while the peer's queue is full.
  Result<void> send_record(RecordKind kind, std::int64_t type, std::span<const std::byte> record) {
    for (;;) {
      if (is_peer_closed_.load(std::memory_order_relaxed)) return closed("send");
      auto sent = post(out_.get(), kind, type, record, kDataPriority, scratch_);
      if (sent) return {};
      if (sent.error().code != EAGAIN) return fail(sent.error(), fmt::format("{}: send", url_));
      // Full: wait for room, and meanwhile look for a close record or a dead peer.
      auto ready = sys::wait_ready(out_.get(), POLLOUT, slice_end(std::nullopt));
      if (!ready) return fail(ready.error(), fmt::format("{}: send", url_));
      if (*ready) continue;
      if (!alive(peer_)) return closed("send");
      // A thread in receive() holds `receiving_` and will see a close record itself.
      if (std::unique_lock lock(receiving_, std::try_to_lock); lock.owns_lock()) {
        if (auto looked = stash_incoming(); !looked) return std::unexpected(looked.error());
      }
    }
  }

  Result<Message> receive(Deadline deadline) override {
    const std::lock_guard lock(receiving_);
    for (;;) {
      if (!stash_.empty()) {
        Message message = std::move(stash_.front());
        stash_.pop_front();
        return message;
      }
      // After a send, the answer is seldom there yet. With no deadline, one system call waits
      // for it and takes it: mq_timedreceive on a blocking descriptor of the incoming queue,
      // for one liveness slice. Its time is on CLOCK_REALTIME, which a clock step stretches:
      // a step back by S while it waits delays noticing a dead peer by S, nothing else. With
      // a deadline, which must hold on the monotonic clock, wait first (ppoll), then take (two
      // system calls) rather than try, wait, take again (three).
      if (has_sent_since_receive_.exchange(false, std::memory_order_relaxed) &&
          !is_peer_closed_.load(std::memory_order_relaxed)) {
        if (!deadline) {
          auto got = take_one(true);
          if (!got) return std::unexpected(got.error());
          if (*got) return std::move(**got);
          // Nothing in the slice (not a close record, not the first parts of a message): a
          // dead peer sends nothing more.
          if (!is_peer_closed_.load(std::memory_order_relaxed) && gathered_.empty() &&
              !alive(peer_))
            is_peer_closed_.store(true, std::memory_order_relaxed);
          continue;
        }
        auto ready = sys::wait_ready(in_.get(), POLLIN, slice_end(deadline));
        if (!ready) return fail(ready.error(), fmt::format("{}: receive", url_));
        if (!*ready) {
          if (expired(deadline))
            return fail(Errc::timed_out, fmt::format("{}: receive: timed out", url_));
          // Dead: take what is left, then closed.
          if (!alive(peer_)) is_peer_closed_.store(true, std::memory_order_relaxed);
          continue;
        }
      }
      auto got = take_one();
      if (!got) return std::unexpected(got.error());
      if (*got) return std::move(**got);
      // Its close record, and nothing behind.
      if (is_peer_closed_.load(std::memory_order_relaxed)) return closed("receive");
      if (expired(deadline))
        return fail(Errc::timed_out, fmt::format("{}: receive: timed out", url_));
      auto ready = sys::wait_ready(in_.get(), POLLIN, slice_end(deadline));
      if (!ready) return fail(ready.error(), fmt::format("{}: receive", url_));
      // Dead: take what is left, then closed.
      if (!*ready && !alive(peer_)) is_peer_closed_.store(true, std::memory_order_relaxed);
    }
  }

  void close() noexcept override {
    if (!out_) return;
    // Tell the peer, waiting a little for room if its queue is full.
    const auto give_up = sys::deadline_after(kCloseWait);
    for (;;) {
      auto sent = post(out_.get(), RecordKind::close, 0, {}, kClosePriority, scratch_);
      if (sent || sent.error().code != EAGAIN || sys::now() >= give_up || !alive(peer_)) break;
      (void)sys::wait_ready(out_.get(), POLLOUT, slice_end(give_up));
    }
    in_.reset();
    in_waiting_.reset();
    out_.reset();
  }

  std::size_t max_message_size() const noexcept override {
    return message_size_ - sizeof(QueueHeader);
  }
  const std::string& url() const noexcept override { return url_; }
  bool is_full_duplex() const noexcept override { return true; }

 private:
  std::unexpected<Error> closed(std::string_view operation) const {
    return fail(Errc::closed, fmt::format("{}: {}: the peer closed or died", url_, operation));
  }

  /// (Under `receiving_`.) One message from the incoming queue, if the whole of it is there: data
  /// becomes a Message (its parts gathered first); a close record sets is_peer_closed_ (and is not
  /// returned). A message only partly there stays gathered for the next call. `is_waiting`: the
  /// first record may be waited for, one liveness slice (in_waiting_).
  Result<std::optional<Message>> take_one(bool is_waiting = false) {
    for (;;) {
      auto got = is_waiting ? take_waiting(in_waiting_.get(), buffer_, realtime_slice_end())
                            : take(in_.get(), buffer_);
      is_waiting = false;
      if (!got) {
        if (got.error().code == EAGAIN || got.error().code == ETIMEDOUT)
          return std::optional<Message>();
        return fail(got.error(), fmt::format("{}: receive", url_));
      }
      QueueHeader header{};
      if (*got < sizeof header) {
        return fail(Errc::corrupted, fmt::format("{}: receive: record of {} bytes is shorter "
                                                 "than its header",
                                                 url_, *got));
      }
      std::memcpy(&header, buffer_.data(), sizeof header);
      if (header.magic != kQueueMagic ||
          (header.kind != RecordKind::data && header.kind != RecordKind::close &&
           header.kind != RecordKind::part)) {
        return fail(Errc::corrupted, fmt::format("{}: receive: malformed record", url_));
      }
      if (header.kind == RecordKind::close) {
        is_peer_closed_.store(true, std::memory_order_relaxed);
        continue;  // what it sent before closing is still queued behind the record
      }
      const auto record = std::span(buffer_).subspan(sizeof header, *got - sizeof header);
      if (header.kind == RecordKind::data && gathered_.empty()) {
        return std::optional<Message>(copied_message(record, header.type, peer_, ++received_));
      }
      if (gathered_.size() + record.size() > max_message_size()) {
        return fail(Errc::corrupted, fmt::format("{}: receive: a message in parts runs past the "
                                                 "limit of {} bytes",
                                                 url_, max_message_size()));
      }
      gathered_.insert(gathered_.end(), record.begin(), record.end());
      if (header.kind == RecordKind::part) continue;
      auto message = copied_message(gathered_, header.type, peer_, ++received_);
      gathered_.clear();
      return std::optional<Message>(std::move(message));
    }
  }

  /// (Under `receiving_`.) While a send waits: move what has arrived into the stash, to see a
  /// close record.
  Result<void> stash_incoming() {
    for (;;) {
      auto got = take_one();
      if (!got) return std::unexpected(got.error());
      if (!*got) return {};
      stash_.push_back(std::move(**got));
    }
  }

  Queue in_, in_waiting_, out_;
  std::size_t record_size_, message_size_;
  ProcessId peer_;
  std::string url_;
  std::vector<std::byte> scratch_;  // the sender's
  // The receiving side: whoever holds `receiving_` (receive(), or a send that waits for room
  // while nobody receives) owns what follows it.
  std::mutex receiving_;
  std::vector<std::byte> buffer_;
  std::vector<std::byte> gathered_;  // the parts of a message still arriving
  std::deque<Message> stash_;
  std::uint64_t received_ = 0;
  // Set by the receiving side, read by both: relaxed, as nothing else is published with it.
  std::atomic<bool> is_peer_closed_ = false;
  std::atomic<bool> has_sent_since_receive_ = false;  // then receive waits before it tries
};

std::string pair_name(const Url& url, const QueueHandshake& handshake, std::string_view side) {
  return fmt::format("/{}#{}-{}.{}", url.host, handshake.pid, handshake.serial, side);
}

class MqAcceptor final : public Acceptor {
 public:
  MqAcceptor(Url url, Queue requests)
      : url_(std::move(url)), text_(url_.to_string()), requests_(std::move(requests)) {}
  ~MqAcceptor() override { unlink_queue("/" + url_.host); }

  LinkResult accept(Deadline deadline) override {
    std::vector<std::byte> buffer(kRequestSize);
    for (;;) {
      auto got = take(requests_.get(), buffer);
      if (!got) {
        if (got.error().code != EAGAIN) return fail(got.error(), fmt::format("{}: accept", text_));
        auto ready = sys::wait_ready(requests_.get(), POLLIN, deadline);
        if (!ready) return fail(ready.error(), fmt::format("{}: accept", text_));
        if (!*ready) return fail(Errc::timed_out, fmt::format("{}: accept: timed out", text_));
        continue;
      }
      QueueHeader header{};
      QueueHandshake request{};
      if (*got != kRequestSize) continue;  // not a conduit request: ignore it
      std::memcpy(&header, buffer.data(), sizeof header);
      std::memcpy(&request, buffer.data() + sizeof header, sizeof request);
      if (header.magic != kQueueMagic || header.kind != RecordKind::request) continue;
      auto link = answer(request);
      if (link) return link;
      // The client went away before we could answer: wait for the next one.
    }
  }

  const std::string& url() const noexcept override { return text_; }

 private:
  LinkResult answer(const QueueHandshake& request) {
    const std::string context = fmt::format("{}: accept", text_);
    auto in = open_queue(pair_name(url_, request, "up"), O_RDONLY, 0, 0);
    if (!in) return fail(in.error(), context);
    auto in_waiting = open_queue(pair_name(url_, request, "up"), O_RDONLY, 0, 0, true);
    if (!in_waiting) return fail(in_waiting.error(), context);
    auto out = open_queue(pair_name(url_, request, "down"), O_WRONLY, 0, 0);
    if (!out) return fail(out.error(), context);
    mq_attr attributes{};
    auto got = sys::call("mq_getattr", [&] { return ::mq_getattr(in->get(), &attributes); });
    if (!got) return fail(got.error(), context);
    const QueueHandshake reply = handshake_of(self(), request.serial);
    std::vector<std::byte> scratch;
    auto sent = post(out->get(), RecordKind::answer, 0, std::as_bytes(std::span(&reply, 1)),
                     kAnswerPriority, scratch);
    if (!sent) return fail(sent.error(), context);
    return std::make_unique<MqLink>(std::move(*in), std::move(*in_waiting), std::move(*out),
                                    static_cast<std::size_t>(attributes.mq_msgsize),
                                    static_cast<std::size_t>(message_size_limit()),
                                    process_of(request), text_);
  }

  Url url_;
  std::string text_;
  Queue requests_;
};

}  // namespace

AcceptorResult listen_mq(const Url& url) {
  auto requests =
      open_queue("/" + url.host, O_CREAT | O_EXCL | O_RDONLY, kRequestSize, depth_limit());
  if (!requests) return fail(requests.error(), fmt::format("{}: listen", url.text));
  return std::make_unique<MqAcceptor>(url, std::move(*requests));
}

LinkResult connect_mq(const Url& url) {
  const std::string context = fmt::format("{}: connect", url.text);
  const QueueHandshake request = handshake_of(self(), next_serial());
  const std::string up = pair_name(url, request, "up");
  const std::string down = pair_name(url, request, "down");
  auto requests = open_queue("/" + url.host, O_WRONLY, 0, 0);
  if (!requests) return fail(requests.error(), fmt::format("{} (nobody listens there)", context));
  const long size = record_size();
  auto out = open_queue(up, O_CREAT | O_EXCL | O_WRONLY, size, depth_limit());
  if (!out) {
    if (out.error().code == EMFILE)
      return std::unexpected(queue_memory_error(out.error(), context));
    return fail(out.error(), context);
  }
  auto in = open_queue(down, O_CREAT | O_EXCL | O_RDONLY, size, depth_limit());
  if (!in) {
    unlink_queue(up);
    if (in.error().code == EMFILE) return std::unexpected(queue_memory_error(in.error(), context));
    return fail(in.error(), context);
  }
  auto in_waiting = open_queue(down, O_RDONLY, 0, 0, true);
  if (!in_waiting) {
    unlink_queue(up);
    unlink_queue(down);
    return fail(in_waiting.error(), context);
  }
  // However connect ends, the names go: the listener has opened both before it answers.
  struct Unlink {
    const std::string& a;
    const std::string& b;
    ~Unlink() {
      unlink_queue(a);
      unlink_queue(b);
    }
  } unlink_both{up, down};

  std::vector<std::byte> scratch;
  const auto give_up = sys::deadline_after(kHandshakeTimeout);
  for (;;) {
    auto sent = post(requests->get(), RecordKind::request, 0, std::as_bytes(std::span(&request, 1)),
                     kDataPriority, scratch);
    if (sent) break;
    if (sent.error().code != EAGAIN) return fail(sent.error(), context);
    auto ready = sys::wait_ready(requests->get(), POLLOUT, give_up);
    if (!ready) return fail(ready.error(), context);
    if (!*ready)
      return fail(Errc::timed_out, fmt::format("{}: the listener is not taking "
                                               "requests",
                                               context));
  }
  std::vector<std::byte> buffer(static_cast<std::size_t>(size));
  for (;;) {
    auto got = take(in->get(), buffer);
    if (got) {
      QueueHeader header{};
      QueueHandshake reply{};
      if (*got != kRequestSize) return fail(Errc::corrupted, context + ": malformed answer");
      std::memcpy(&header, buffer.data(), sizeof header);
      std::memcpy(&reply, buffer.data() + sizeof header, sizeof reply);
      if (header.magic != kQueueMagic || header.kind != RecordKind::answer ||
          reply.serial != request.serial) {
        return fail(Errc::corrupted, context + ": malformed answer");
      }
      return std::make_unique<MqLink>(
          std::move(*in), std::move(*in_waiting), std::move(*out), static_cast<std::size_t>(size),
          static_cast<std::size_t>(message_size_limit()), process_of(reply), url.to_string());
    }
    if (got.error().code != EAGAIN) return fail(got.error(), context);
    auto ready = sys::wait_ready(in->get(), POLLIN, give_up);
    if (!ready) return fail(ready.error(), context);
    if (!*ready)
      return fail(Errc::timed_out, fmt::format("{}: the listener did not answer", context));
  }
}

}  // namespace conduit::transport
