// file:///path: an append-only spool file. One-directional.
//
// listen creates the spool (O_EXCL: an existing file is already_exists) and removes it when the
// Listener goes away; accept gives its one reader, which follows the spool from the start as it
// grows (further accepts are closed). connect opens an existing spool as an appending writer
// (not_found when nobody listens); several writers may append at once. A writer's receive and
// the reader's send are invalid_argument, at once.
//
// Records are frames (transport/framing.hpp). A writer appends each one whole in one writev(2)
// on its O_APPEND descriptor, and that alone keeps the records of several writers from
// interleaving: POSIX has an O_APPEND write find the end of the file and write there with no
// other change to the file between, and Linux writes a regular file under the inode's lock for
// the whole call (tmpfs, ext4, xfs, btrfs: one writer's bytes land contiguously, whatever the
// size up to the 2 GiB a single write takes, far above kMaxFrameSize). So no lock per record
// (an OFD lock cost two fcntl per message). Not on NFS, whose clients emulate O_APPEND: keep
// spools on a local file system. A write cut short (the file system full, a size limit, the
// writer dying) leaves a torn record, lock or no lock; the writer then stops appending. Each writer
// holds a shared flock on the spool for as long as it is connected and appends a hello record
// (kHelloMagic) first: the reader answers closed once it has read everything, has seen a hello,
// and no writer holds the flock any more — a writer that closed or died. A record cut short
// with no writer left to finish it is corrupted. Each record ends in its magic's end mark
// and its length again (RecordEnd): a record cut short that other writers' records followed
// would otherwise read as one record made of its bytes and theirs. The reader finds the end
// mark missing, says `corrupted` (naming the offset), and stays there, as a framed stream out
// of step does (framing.hpp). A writer's descriptor inherited by fork()
// keeps its flock: close it in the process that does not write.
// Waiting for a spool to grow polls with a short sleep (TODO(perf): inotify).
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstring>
#include <type_traits>
#include <vector>

#include "backoff.hpp"
#include "conduit/sys/file.hpp"
#include "conduit/sys/io.hpp"
#include "conduit/transport/framing.hpp"
#include "mechanisms.hpp"

namespace conduit::transport {
namespace {

constexpr std::uint32_t kHelloMagic = 0x48464443;      // "CDFH": a writer connected
constexpr std::uint32_t kRecordEndMagic = 0x45464443;  // "CDFE": ends every record

/// What follows each record's payload (see the top of this file).
struct RecordEnd {
  std::uint32_t magic;
  std::uint32_t length;  // the payload's, as in the header
};
static_assert(sizeof(RecordEnd) == 8 && std::is_trivially_copyable_v<RecordEnd>);
// What one look at the spool reads: records up to this long (with their header) take one pread.
constexpr std::size_t kReadAhead = 16 * 1024;
// Looks at a spool with nothing new before the reader asks whether any writer is left.
constexpr int kLooksBeforeWriterCheck = 3;

std::unexpected<Error> wrong_direction(const std::string& url, std::string_view operation,
                                       std::string_view why) {
  return fail(Errc::invalid_argument, fmt::format("{}: {}: {} (file:// is one-directional: "
                                                  "connect appends, the listener's connection "
                                                  "reads)",
                                                  url, operation, why));
}

class SpoolWriter final : public Link {
 public:
  SpoolWriter(sys::Fd fd, std::string url) : fd_(std::move(fd)), url_(std::move(url)) {}

  Result<void> append(std::uint32_t magic, std::span<const std::byte> payload, std::int64_t type) {
    if (!fd_) return fail(Errc::closed, fmt::format("{}: send: closed", url_));
    const auto length = static_cast<std::uint32_t>(payload.size());
    const FrameHeader header{magic, length, type};
    const RecordEnd end{kRecordEndMagic, length};
    iovec parts[3] = {{const_cast<FrameHeader*>(&header), sizeof header},
                      {const_cast<std::byte*>(payload.data()), payload.size()},
                      {const_cast<RecordEnd*>(&end), sizeof end}};
    // One call, never a second for the rest: bytes appended later could land after another
    // writer's record (see the top of this file).
    auto written = sys::call("writev", [&] { return ::writev(fd_.get(), parts, 3); });
    if (!written) return fail(written.error(), fmt::format("{}: send", url_));
    const std::size_t whole = sizeof header + payload.size() + sizeof end;
    if (static_cast<std::size_t>(*written) != whole) {
      fd_.reset();  // no more records behind a torn one; the reader sees this writer gone
      return fail(Errc::io, fmt::format("{}: send: the record was cut short after {} of {} "
                                        "bytes (the file system took no more: full, or a size "
                                        "limit); this writer is closed",
                                        url_, *written, whole));
    }
    return {};
  }

  Result<void> send(std::span<const std::byte> payload, std::int64_t type) override {
    if (payload.size() > kMaxFrameSize) {
      return fail(Errc::message_too_large,
                  fmt::format("{}: send: message of {} bytes exceeds the frame limit {}", url_,
                              payload.size(), kMaxFrameSize));
    }
    return append(kFrameMagic, payload, type);
  }
  Result<Message> receive(Deadline) override {
    return wrong_direction(url_, "receive", "this end appends");
  }
  void close() noexcept override { fd_.reset(); }  // releases the presence flock
  std::size_t max_message_size() const noexcept override { return kMaxFrameSize; }
  const std::string& url() const noexcept override { return url_; }

 private:
  sys::Fd fd_;
  std::string url_;
};

class SpoolReader final : public Link {
 public:
  SpoolReader(sys::Fd fd, std::string url)
      : fd_(std::move(fd)), url_(std::move(url)), buffer_(kReadAhead) {}

  Result<void> send(std::span<const std::byte>, std::int64_t) override {
    return wrong_direction(url_, "send", "this end reads");
  }

  Result<Message> receive(Deadline deadline) override {
    if (!fd_) return fail(Errc::closed, fmt::format("{}: receive: closed", url_));
    Backoff backoff;
    bool is_final_look = false;
    int looks = 0;
    for (;;) {
      ++looks;
      // One pread for the header and, when it fits in the buffer, the whole record behind it.
      auto got = read_once_at(offset_, buffer_);
      if (!got) return std::unexpected(got.error());
      FrameHeader header{};
      if (*got >= sizeof header) {
        std::memcpy(&header, buffer_.data(), sizeof header);
        if (header.magic != kFrameMagic && header.magic != kHelloMagic) {
          return fail(Errc::corrupted, fmt::format("{}: receive: bad record magic {:#010x} at "
                                                   "offset {}",
                                                   url_, header.magic, offset_));
        }
        if (header.length > kMaxFrameSize) {
          return fail(Errc::message_too_large,
                      fmt::format("{}: receive: record of {} bytes at offset {} exceeds the "
                                  "frame limit {}",
                                  url_, header.length, offset_, kMaxFrameSize));
        }
        const std::size_t record_size = sizeof header + header.length + sizeof(RecordEnd);
        if (*got >= record_size) {
          auto is_message = take_record(buffer_.data() + sizeof header + header.length, header);
          if (!is_message) return std::unexpected(is_message.error());
          if (!*is_message) continue;
          return copied_message(std::span(buffer_).subspan(sizeof header, header.length),
                                header.type, ProcessId{}, ++received_);
        }
        // Longer than the buffer: allocate only once the whole record is in the spool, so a
        // header alone (a writer still appending, or a forged length) costs no memory, however
        // often it is looked at.
        if (record_size > buffer_.size()) {
          auto spool = sys::status(fd_.get());
          if (!spool) return fail(spool.error(), fmt::format("{}: receive", url_));
          const auto spool_size = static_cast<std::uint64_t>(spool->st_size);
          if (spool_size >= offset_ + record_size) {
            // The payload and its end mark, read as one.
            std::vector<std::byte> body(header.length + sizeof(RecordEnd));  // limit checked
            auto body_got = read_at(offset_ + sizeof header, body);
            if (!body_got) return std::unexpected(body_got.error());
            if (*body_got == body.size()) {
              auto is_message = take_record(body.data() + header.length, header);
              if (!is_message) return std::unexpected(is_message.error());
              if (!*is_message) continue;
              body.resize(header.length);
              return Message(std::move(body), header.type, ProcessId{}, ++received_);
            }
          }
        }
      }
      // Nothing whole to read yet. Written out and no writer left: the end. (A reader that keeps
      // up finds nothing at its first looks, and the writer is seldom gone: the check, a flock,
      // waits for a few pauses, or for the deadline.)
      const bool is_expired = expired(deadline);
      const bool is_partial = *got > 0;
      if ((looks > kLooksBeforeWriterCheck || is_expired) && has_seen_writer_ && !has_writer()) {
        // The last writer may have appended just before it left: look once more first.
        if (!is_final_look) {
          is_final_look = true;
          continue;
        }
        if (is_partial) {
          return fail(Errc::corrupted, fmt::format("{}: receive: the spool ends inside a record "
                                                   "at offset {} and no writer is left",
                                                   url_, offset_));
        }
        return fail(Errc::closed, fmt::format("{}: receive: every writer closed", url_));
      }
      is_final_look = false;
      if (is_expired) return fail(Errc::timed_out, fmt::format("{}: receive: timed out", url_));
      backoff.pause(deadline);
    }
  }

  void close() noexcept override { fd_.reset(); }
  std::size_t max_message_size() const noexcept override { return kMaxFrameSize; }
  const std::string& url() const noexcept override { return url_; }

 private:
  /// Takes the whole record at offset_ with `header` (`end_bytes`: the bytes after its
  /// payload): corrupted when its end mark is not there; else past it, and true when it is a
  /// message (false: a writer's hello, noted).
  Result<bool> take_record(const std::byte* end_bytes, const FrameHeader& header) {
    RecordEnd end{};
    std::memcpy(&end, end_bytes, sizeof end);
    if (end.magic == kRecordEndMagic && end.length == header.length) {
      offset_ += sizeof header + header.length + sizeof end;
      if (header.magic != kHelloMagic) return true;
      has_seen_writer_ = true;
      return false;
    }
    return fail(Errc::corrupted,
                fmt::format("{}: receive: the record of {} bytes at offset {} has no end mark "
                            "after it (its writer was cut short, and other records follow it)",
                            url_, header.length, offset_));
  }

  /// Reads up to into.size() bytes at `offset`; fewer at the end of the spool.
  Result<std::size_t> read_at(std::uint64_t offset, std::span<std::byte> into) {
    std::size_t got = 0;
    while (got < into.size()) {
      auto n = sys::call("pread", [&] {
        return ::pread(fd_.get(), into.data() + got, into.size() - got,
                       static_cast<off_t>(offset + got));
      });
      if (!n) return fail(n.error(), fmt::format("{}: receive", url_));
      if (*n == 0) break;
      got += static_cast<std::size_t>(*n);
    }
    return got;
  }

  /// One pread of up to into.size() bytes at `offset` (a regular file gives all it has).
  Result<std::size_t> read_once_at(std::uint64_t offset, std::span<std::byte> into) {
    auto n = sys::call("pread", [&] {
      return ::pread(fd_.get(), into.data(), into.size(), static_cast<off_t>(offset));
    });
    if (!n) return fail(n.error(), fmt::format("{}: receive", url_));
    return static_cast<std::size_t>(*n);
  }

  /// Whether a writer is connected: it holds the shared flock that an exclusive one would wait
  /// for. (The exclusive lock is let go at once, so writers can join later.)
  bool has_writer() {
    auto free = sys::try_lock(fd_.get(), sys::LockMode::exclusive);
    if (!free) return true;
    if (*free) sys::unlock(fd_.get());
    return !*free;
  }

  sys::Fd fd_;
  std::string url_;
  std::uint64_t offset_ = 0;
  std::vector<std::byte> buffer_;  // read ahead: a header and, if it fits, its record
  bool has_seen_writer_ = false;
  std::uint64_t received_ = 0;
};

class SpoolAcceptor final : public Acceptor {
 public:
  SpoolAcceptor(std::string path, sys::Fd reader, ino_t inode)
      : path_(std::move(path)),
        url_("file://" + path_),
        reader_(std::move(reader)),
        inode_(inode) {}
  ~SpoolAcceptor() override {
    auto st = sys::status_at(AT_FDCWD, path_);
    if (st && st->st_ino == inode_) (void)sys::unlink_at(AT_FDCWD, path_);
  }

  LinkResult accept(Deadline) override {
    if (!reader_) {
      return fail(Errc::closed, fmt::format("{}: accept: the spool has one reader, and it was "
                                            "taken",
                                            url_));
    }
    return std::make_unique<SpoolReader>(std::move(reader_), url_);
  }
  const std::string& url() const noexcept override { return url_; }

 private:
  std::string path_;
  std::string url_;
  sys::Fd reader_;
  ino_t inode_;
};

}  // namespace

AcceptorResult listen_file(const Url& url) {
  const std::string context = fmt::format("{}: listen", url.text);
  auto made = sys::open_at(AT_FDCWD, url.path, O_RDONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
  if (!made) return fail(made.error(), context);
  auto st = sys::status(made->get());
  if (!st) return fail(st.error(), context);
  return std::make_unique<SpoolAcceptor>(url.path, std::move(*made), st->st_ino);
}

LinkResult connect_file(const Url& url) {
  const std::string context = fmt::format("{}: connect", url.text);
  auto fd = sys::open_at(AT_FDCWD, url.path, O_WRONLY | O_APPEND | O_NOFOLLOW);
  if (!fd) return fail(fd.error(), fmt::format("{} (nobody listens there)", context));
  // Whole records rest on O_APPEND writes to a regular file (see the top of this file).
  auto st = sys::status(fd->get());
  if (!st) return fail(st.error(), context);
  if (!S_ISREG(st->st_mode))
    return fail(Errc::invalid_argument,
                fmt::format("{}: {} is not a regular file (a spool is one)", context, url.path));
  // Present from now until this descriptor closes; then hello, so the reader knows we came.
  if (auto locked = sys::lock(fd->get(), sys::LockMode::shared); !locked) {
    return fail(locked.error(), context);
  }
  auto writer = std::make_unique<SpoolWriter>(std::move(*fd), url.to_string());
  const ProcessId me = self();
  const std::uint64_t hello[2] = {static_cast<std::uint64_t>(me.pid), me.start_time};
  if (auto said = writer->append(kHelloMagic, std::as_bytes(std::span(hello)), 0); !said) {
    return std::unexpected(said.error());
  }
  return writer;
}

}  // namespace conduit::transport
