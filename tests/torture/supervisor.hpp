// The supervisor of the crash torture: runs one scenario's rounds, SIGKILLs its workers at
// random instants and restarts them, watches for hangs, and checks the log afterwards.
#pragma once

#include <cstdint>
#include <string>

#include "workers.hpp"

namespace conduit::torture {

/// The figures of one scenario (and, summed, of the run).
struct Figures {
  std::uint64_t kills = 0;
  std::uint64_t producer_kills_in_call = 0;  // killed inside send: the message may or may not go
  std::uint64_t consumer_kills_in_call = 0;  // killed inside receive
  std::uint64_t sent = 0;                    // sends that returned success and were logged
  std::uint64_t sent_unlogged = 0;  // send returned success, the producer died before logging
                                    // (the supervisor read the id from the dead one's slot)
  std::uint64_t received = 0;       // receive entries in the log
  std::uint64_t checked = 0;        // messages whose delivery was checked
  std::uint64_t lost = 0;
  std::uint64_t duplicated = 0;
  std::uint64_t torn = 0;
  std::uint64_t reordered = 0;               // channel: a producer's records out of order
  std::uint64_t taken_by_dead = 0;           // taken by a receiver that died before logging it (the
                                             // supervisor knows which from the dead one's slot)
  std::uint64_t unaccounted_in_receive = 0;  // logged-sent, never received, not known to be
                                             // held: taken inside a receive that was killed
                                             // (allowed up to consumer_kills_in_call)
  std::uint64_t received_send_not_logged = 0;  // the producer died between send and log
  std::uint64_t broadcast_receivers_checked = 0;
  std::uint64_t stranded = 0;  // left in the carrier after its consumers said it was empty
  std::uint64_t hangs = 0;
  std::uint64_t leaked_files = 0;
  std::uint64_t leaked_until_next_call = 0;  // owner rounds where everyone died: files the
                                             // next conduit call removed (no daemon)
  std::uint64_t unexpected_exits = 0;        // a worker crashed or reported an error
  std::uint64_t damaged_log_entries = 0;
  std::uint64_t rounds = 0;

  [[nodiscard]] std::uint64_t violations() const;
  void add(const Figures& other);
};

struct RunOptions {
  std::uint64_t seed = 1;
  std::int64_t hang_timeout_ns = 30'000'000'000;
  std::string directory;           // for the logs
  bool may_kill_producers = true;  // --victims: whom the steady rounds kill
  bool may_kill_consumers = true;
};

/// Runs `scenario` until `kills` workers were killed; returns its figures.
Figures run_scenario(const Scenario& scenario, std::uint64_t kills, const RunOptions& options);

}  // namespace conduit::torture
