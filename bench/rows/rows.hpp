// The rows the harness can run: the physical limit, the raw kernel mechanisms, the library
// peers, and conduit. Each returns a factory per row.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "conduit/core/error.hpp"

#include "../harness/harness.hpp"

namespace bench {

using RoundTripFactory = Factory<RoundTrip>;
using StreamFactory = Factory<Stream>;
using LoopFactory = Factory<Loop>;

// The limit and the raw kernel mechanisms (raw.cpp, raw_stream.cpp).
RoundTripFactory atomic_limit();     // busy: two processes ping-pong an atomic in shared memory
RoundTripFactory futex_pingpong();   // blocking: raw FUTEX_WAIT / FUTEX_WAKE
RoundTripFactory posix_semaphore();  // blocking: sem_t in shared memory
RoundTripFactory pipe_pair();        // blocking: two pipes
RoundTripFactory eventfd_pair();     // blocking: two eventfds + shared memory for the bytes
RoundTripFactory socketpair_stream();
RoundTripFactory socketpair_seqpacket();
RoundTripFactory posix_mq();
RoundTripFactory sysv_msgq();

RoundTripFactory raw_unix_socket();   // blocking: a stream socket bound to a path, accept/connect
RoundTripFactory raw_tcp_loopback();  // blocking: TCP over 127.0.0.1, TCP_NODELAY
RoundTripFactory raw_fifo_pair();     // blocking: two named pipes
RoundTripFactory raw_sigqueue();      // blocking: sigqueue + sigwaitinfo, 4 bytes in the value
RoundTripFactory raw_file_spool();    // two append-only files, read with pread and short sleeps

StreamFactory ring_limit_stream();            // busy: a plain SPSC ring in shared memory, the limit
StreamFactory pipe_stream();                  // blocking
StreamFactory posix_mq_stream();              // blocking
StreamFactory socketpair_stream_stream();     // blocking: Unix socketpair, SOCK_STREAM
StreamFactory socketpair_seqpacket_stream();  // blocking: Unix socketpair, SOCK_SEQPACKET

LoopFactory pthread_mutex_loop();    // uncontended lock/unlock, robust process-shared
LoopFactory posix_semaphore_loop();  // uncontended sem_post/sem_wait

// Library peers (peers.cpp). Each names its wait; `busy` rows poll with the library's
// non-blocking call, `blocking` rows use its blocking call.
RoundTripFactory boost_message_queue(Wait wait);
RoundTripFactory zeromq_ipc();
RoundTripFactory nng_ipc();
RoundTripFactory iceoryx(Wait wait);  // needs iox-roudi running (bench/run starts it)
StreamFactory boost_message_queue_stream();
StreamFactory zeromq_push_pull();

// conduit (conduit_rows.cpp). Busy rows poll with try_ calls; blocking rows set the wait
// strategy's spin to 0 (sleep at once, like the blocking peers); adaptive rows spin, then sleep.
RoundTripFactory conduit_semaphore(Wait wait);
RoundTripFactory conduit_mailbox(Wait wait);
RoundTripFactory conduit_endpoint(Wait wait);
/// Zero capacity (a rendezvous): each send returns once the other side took the message.
RoundTripFactory conduit_mailbox_rendezvous(Wait wait);
RoundTripFactory conduit_endpoint_rendezvous(Wait wait);
StreamFactory conduit_mailbox_stream(Wait wait);
// Channel<T> (channel_rows.cpp): records of exactly the payload's size (8 B ... 1 MiB).
RoundTripFactory conduit_channel(Wait wait);
StreamFactory conduit_channel_stream(Wait wait, bool zero_copy = false);
// conduit's transports (transport_rows.cpp): a round trip through Connection, blocking.
RoundTripFactory conduit_connection(const char* scheme);  // "unix", "tcp", "fifo", "mq",
                                                          // "sysv", "shm", "signal", "file"
RoundTripFactory conduit_pipe_pair();
// rpc (rpc_rows.cpp): rpc::Client::call of an echo over `scheme` ("shm", "unix").
RoundTripFactory conduit_rpc(const char* scheme);
// Large messages, one way with a one-byte answer (large_rows.cpp): hand-off (the sealed
// buffer reused, or send_large(span) copying once) beside copies through a Mailbox, a pipe and
// a Unix stream socket.
RoundTripFactory conduit_large_handoff();
RoundTripFactory conduit_large_handoff_copy();
RoundTripFactory conduit_large_mailbox_copy();
RoundTripFactory large_pipe();
RoundTripFactory large_socket();
LoopFactory conduit_mutex_loop();
LoopFactory conduit_semaphore_loop();
// Mailbox rows (mailbox_rows.cpp): any_one with `receivers` receiving processes; `senders`
// sending processes into one receiver; loans and views (zero-copy) instead of copies.
StreamFactory conduit_mailbox_any_one_stream(Wait wait, int receivers);
StreamFactory conduit_mailbox_many_senders_stream(Wait wait, int senders);
StreamFactory conduit_mailbox_loan_stream(Wait wait);

/// Throws with errno's text when `ok` is false (rows report setup failures as their error).
inline void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string(what) + ": " + std::strerror(errno));
}

/// Every streamed message carries its index in its first bytes (when it has room), so the
/// consumer can check that each arrives whole and in order.
inline void stamp(std::vector<char>& message, std::uint64_t index) {
  std::memcpy(message.data(), &index, std::min(sizeof index, message.size()));
}
inline void verify(const char* data, std::size_t size, std::uint64_t index) {
  std::uint64_t seen = 0;
  std::memcpy(&seen, data, std::min(sizeof seen, size));
  std::uint64_t expected = 0;
  std::memcpy(&expected, &index, std::min(sizeof index, size));
  if (seen != expected) throw std::runtime_error("message out of order or torn");
}

/// Reads every byte of a message read in place (a sum of 8-byte words, with the tail's bytes):
/// a zero-copy row's consumer uses what it received, as a copying row's receive copies it all.
/// Four running sums, so that the loads and adds overlap: one sum is a chain of dependent
/// adds, about 200 ns per 4 KiB on the EPYC VM, slower than the copying rows' memcpy (then
/// the consumer fell behind and the ring ran full); four take about 120 ns.
inline std::uint64_t sum_bytes(std::span<const std::byte> bytes) {
  std::uint64_t sums[4] = {0, 0, 0, 0};
  std::size_t at = 0;
  for (; at + sizeof sums <= bytes.size(); at += sizeof sums) {
    std::uint64_t words[4];
    std::memcpy(words, bytes.data() + at, sizeof words);
    sums[0] += words[0];
    sums[1] += words[1];
    sums[2] += words[2];
    sums[3] += words[3];
  }
  std::uint64_t sum = sums[0] + sums[1] + sums[2] + sums[3];
  for (; at + sizeof sum <= bytes.size(); at += sizeof sum) {
    std::uint64_t word = 0;
    std::memcpy(&word, bytes.data() + at, sizeof word);
    sum += word;
  }
  for (; at < bytes.size(); ++at) sum += static_cast<std::uint64_t>(bytes[at]);
  return sum;
}

/// The value of a conduit Result, or a throw with its error's message (the row's error).
template <class T>
T must(conduit::Result<T> result) {
  if (!result) throw std::runtime_error(result.error().message());
  if constexpr (!std::is_void_v<T>) return std::move(*result);
}

/// Reads or writes exactly `size` bytes of a blocking descriptor (retrying EINTR and short
/// transfers); a closed or failed descriptor ends the process with status 3 (raw.cpp).
void read_exact(int fd, void* data, std::size_t size);
void write_exact(int fd, const void* data, std::size_t size);

/// Throws unless this process runs one thread: a process-directed signal reaches any thread
/// that does not block it, and its default action ends the process (raw_transport.cpp).
void require_single_thread(const char* row);

/// A unique name for this row's objects: the parent's pid and a per-process counter.
std::string unique_name(const char* prefix);

}  // namespace bench
