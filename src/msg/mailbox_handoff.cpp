// Hand-off of large messages through a mailbox: the message's sealed memfd travels by
// descriptor, the slot carries only a HandoffRecord.
//
// Where a descriptor waits between send and receive. The sender may die (SIGKILL) the instant
// send returns, and the message must still be received whole, so the memfd cannot wait in the
// sender (its descriptor table dies with it, and /proc/<pid>/fd with it). It waits instead in
// the receive queue of a Unix SOCK_SEQPACKET socket pair that belongs to the mailbox: a
// descriptor in flight is kept alive by the socket, and the socket by every process that holds
// a duplicate of its ends. Each handle (sender or receiver) holds one: the first handle makes
// the pair, and each later one takes duplicates (pidfd_getfd) from any living process listed in
// MailboxState::holders. So the queued memfds live exactly as long as some process holds the
// mailbox open, and they go with the last of them — or at once when the mailbox is removed
// (remove() drains the queue): nothing leaks, and nothing needs a daemon.
//
// Ordering: a sender puts the record into the socket and publishes the slot in one hold of the
// mailbox lock, and a receiver takes it out under the lock too, so the socket holds exactly
// the records of queued hand-off slots — except after a sender died between the two steps (its
// slot is freed by repair; its record is an orphan). Receivers take messages out of order
// (type filters, several receivers), so a receiver rotates the queue: it takes records one by
// one, keeps its own, puts back those of queued slots and drops orphans.
//
// Limits: pidfd_getfd needs ptrace access to the holder (the same user, as a mailbox's mode
// 0600 implies; a group-shared namespace where users differ cannot hand off: send_large
// returns permission_denied, ordinary messages still work). At most what the socket's buffer
// holds can wait (hundreds of messages): beyond that send_large returns limit_reached. If every
// process holding the mailbox dies, queued hand-offs are lost with the socket; their slots are
// received as `closed`. A receiver killed while it rotates the queue can lose the one record it
// held at that instant.
#include <fcntl.h>

#include <fmt/format.h>

#include <cstring>

#include "conduit/sys/fd_passing.hpp"
#include "conduit/sys/file.hpp"
#include "mailbox_impl.hpp"

namespace conduit {

using namespace msg;

namespace {

// Room for a few hundred records in flight (the kernel caps it at net.core.wmem_max).
constexpr int kSocketBuffer = 4 << 20;

bool same_record(std::span<const std::byte> bytes, const HandoffRecord& record) {
  return bytes.size() == sizeof record && std::memcmp(bytes.data(), &record, sizeof record) == 0;
}

}  // namespace

void Mailbox::Impl::join_handoff() {
  if (handoff_) return;
  const ProcessId me = self();
  // Take duplicates from a living holder: pidfd_open first, then the start-time check, so the
  // pid cannot have been reused for another process in between.
  for (auto& holder : state_->holders) {
    const HandoffHolder entry = holder;  // read once
    if (entry.process.flags == 0) continue;
    const ProcessId process = load(entry.process);
    auto pidfd = sys::pidfd_open(process.pid);
    if (!pidfd || !alive(process)) continue;
    auto send_end = sys::pidfd_get_fd(pidfd->get(), entry.send_fd);
    auto receive_end = sys::pidfd_get_fd(pidfd->get(), entry.receive_fd);
    if (!send_end || !receive_end) {
      if (process.pid != me.pid && !handoff_error_) {
        const auto& failed = !send_end ? send_end.error() : receive_end.error();
        handoff_error_ = Error::from_sys(
            failed, context(fmt::format("hand-off: take the descriptor socket from {}",
                                        to_string(process))));
      }
      continue;
    }
    // The numbers may have been closed and reused since the holder listed them.
    if (sys::inode_of(send_end->get()).value_or(0) != entry.send_inode ||
        sys::inode_of(receive_end->get()).value_or(0) != entry.receive_inode)
      continue;
    handoff_.emplace(HandoffSocket{std::move(*send_end), std::move(*receive_end)});
    break;
  }
  if (!handoff_) {
    // Nobody holds it: anything queued went with the last holder (see "Limits" above).
    auto pair = sys::packet_pair();
    if (!pair) {
      handoff_error_ = Error::from_sys(pair.error(), context("hand-off: socketpair"));
      return;
    }
    (void)sys::set_send_buffer(pair->first.get(), kSocketBuffer);
    handoff_.emplace(HandoffSocket{std::move(pair->first), std::move(pair->second)});
  }
  handoff_error_.reset();
  // List this handle, in a free entry or one whose process died.
  for (std::uint32_t i = 0; i < kMaxHolders; ++i) {
    HandoffHolder& entry = state_->holders[i];
    if (entry.process.flags != 0 && alive(load(entry.process))) continue;
    entry.send_fd = handoff_->send.get();
    entry.receive_fd = handoff_->receive.get();
    entry.send_inode = sys::inode_of(handoff_->send.get()).value_or(0);
    entry.receive_inode = sys::inode_of(handoff_->receive.get()).value_or(0);
    entry.process = store(me, 1);
    holder_index_ = static_cast<int>(i);
    break;
  }
}

void Mailbox::Impl::leave_handoff() {
  if (holder_index_ < 0) return;
  HandoffHolder& entry = state_->holders[holder_index_];
  if (load(entry.process) == self() && entry.send_fd == handoff_->send.get()) entry = {};
  holder_index_ = -1;
}

Result<void> Mailbox::Impl::post_handoff(const LargeBuffer& large, const HandoffRecord& record,
                                         std::string_view operation) {
  if (!handoff_) {
    if (handoff_error_) return std::unexpected(*handoff_error_);
    return fail(Errc::io, context(fmt::format("{}: hand-off unavailable", operation)));
  }
  auto sent =
      sys::send_descriptor(handoff_->send.get(), large.fd(), std::as_bytes(std::span(&record, 1)));
  if (!sent) {
    if (sent.error().code == EAGAIN || sent.error().code == ETOOMANYREFS)
      return fail(Errc::limit_reached,
                  context(fmt::format("{}: too many hand-off messages waiting", operation)));
    return fail(sent.error(), context(fmt::format("{}: hand-off", operation)));
  }
  return {};
}

bool Mailbox::Impl::is_queued_handoff(const HandoffRecord& record) {
  std::int32_t index = state_->queue_head;
  for (std::uint32_t steps = 0; index != kNoSlot && steps < slot_total(); ++steps) {
    SlotHeader* current = slot(index);
    if (current == nullptr) return false;
    if ((current->flags & kSlotHandoff) != 0 && current->size == sizeof record &&
        std::memcmp(slot_payload(index), &record, sizeof record) == 0)
      return true;
    index = current->next;
  }
  return false;
}

Result<sys::Fd> Mailbox::Impl::take_handoff(const HandoffRecord& record, bool is_kept,
                                            std::string_view operation) {
  if (!handoff_) {
    if (handoff_error_) return std::unexpected(*handoff_error_);
    return fail(Errc::io, context(fmt::format("{}: hand-off unavailable", operation)));
  }
  // Every record in the socket but orphans belongs to a queued slot, so after slot_total()
  // records put back we have seen them all.
  for (std::uint32_t steps = 0; steps <= slot_total(); ++steps) {
    std::array<std::byte, sizeof(HandoffRecord) + 1> bytes{};  // + 1: a longer record shows
    auto got = sys::receive_descriptor(handoff_->receive.get(), bytes);
    if (!got) return fail(got.error(), context(fmt::format("{}: hand-off", operation)));
    if (!*got) break;  // empty
    auto& [fd, size, is_truncated] = **got;
    const auto data = std::span<const std::byte>(bytes.data(), size);
    if (!is_truncated && fd.is_open() && same_record(data, record)) {
      if (is_kept) (void)sys::send_descriptor(handoff_->send.get(), fd.get(), data);
      return std::move(fd);
    }
    HandoffRecord other{};
    if (!is_truncated && fd.is_open() && size == sizeof other) {
      std::memcpy(&other, data.data(), sizeof other);
      if (is_queued_handoff(other))
        (void)sys::send_descriptor(handoff_->send.get(), fd.get(), data);
    }
    // Anything else (an orphan, junk) is dropped here: `fd` closes.
  }
  return fail(Errc::closed,
              context(fmt::format("{}: hand-off message of {} bytes lost: every process holding "
                                  "the mailbox closed it or died before it was received",
                                  operation, record.size)));
}

Result<Message> Mailbox::Impl::receive_handoff(std::int32_t index, bool is_kept,
                                               std::string_view operation) {
  SlotHeader* taken = slot(index);
  HandoffRecord record{};
  if (taken->size != sizeof record)
    return fail(Errc::corrupted, context(fmt::format("{}: corrupted: hand-off record", operation)));
  std::memcpy(&record, slot_payload(index), sizeof record);  // read once
  if (record.magic != kHandoffMagic)
    return fail(Errc::corrupted, context(fmt::format("{}: corrupted: hand-off magic", operation)));
  auto fd = take_handoff(record, is_kept, operation);
  if (!fd) return std::unexpected(fd.error());
  return map_handed_off(std::move(*fd), record.size, record.inode, taken->type, load(taken->sender),
                        taken->sequence, context(operation));
}

void Mailbox::Impl::drain_handoff() {
  if (!handoff_) return;
  for (;;) {
    std::array<std::byte, sizeof(HandoffRecord)> bytes{};
    auto got = sys::receive_descriptor(handoff_->receive.get(), bytes);
    if (!got || !*got) return;  // each descriptor taken closes here
  }
}

Result<void> Mailbox::Impl::send_large(LargeBuffer& large, std::int64_t type, bool is_try,
                                       std::optional<sys::TimePoint> deadline) {
  const std::string_view operation = is_try ? "try_send_large" : "send_large";
  if (config_.max_message_size < sizeof(HandoffRecord))
    return fail(Errc::message_too_large,
                context(fmt::format("{}: max_message_size {} is below the {}-byte hand-off record",
                                    operation, config_.max_message_size, sizeof(HandoffRecord))));
  if (auto sealed = large.seal(); !sealed) return sealed;
  auto inode = sys::inode_of(large.fd());
  if (!inode) return fail(inode.error(), context(fmt::format("{}: fstat", operation)));
  HandoffRecord record{kHandoffMagic, large.size(), *inode, self().pid, 0};
  return send(std::as_bytes(std::span(&record, 1)), type, is_try, deadline, false, nullptr, &large);
}

// ---- the public surface ---------------------------------------------------------------------

Result<void> Mailbox::send_large(LargeBuffer& message, std::int64_t type) {
  return impl_->send_large(message, type, false, std::nullopt);
}

Result<void> Mailbox::send_large(std::span<const std::byte> payload, std::int64_t type) {
  auto large = LargeBuffer::copy_of(payload);
  if (!large) return std::unexpected(large.error());
  return send_large(*large, type);
}

Result<void> Mailbox::try_send_large(LargeBuffer& message, std::int64_t type) {
  return impl_->send_large(message, type, true, std::nullopt);
}

Result<void> Mailbox::send_large_for(LargeBuffer& message, std::chrono::nanoseconds timeout,
                                     std::int64_t type) {
  return impl_->send_large(message, type, false, sys::deadline_after(timeout));
}

}  // namespace conduit
