// The processes the crash torture kills: producers and consumers of one carrier (a Channel or a
// Mailbox in one of its modes), and the creators of pair and process-lifetime objects. Each
// runs in a forked child until told to stop (Board) or killed; it logs every successful send
// and every receive to the log (ledger.hpp) and keeps its WorkerSlot up to date, so the
// supervisor can account for the message a worker held when it was killed.
#pragma once

#include <cstdint>
#include <string>

#include "conduit/msg/mailbox.hpp"
#include "ledger.hpp"

namespace conduit::torture {

enum class Carrier { channel, mailbox };

/// Rounds: steady (one object, workers killed and restarted), pair (a pair mailbox per round;
/// its producer is killed once and cannot be replaced), owner (a Lifetime::process object per
/// round whose creator is killed).
enum class RoundKind { steady, pair, owner };

struct Scenario {
  const char* name;
  Carrier carrier;
  RoundKind rounds;
  MailboxOptions mailbox;  // mailbox scenarios
  int producers;
  int consumers;
};

struct WorkerContext {
  const Scenario* scenario;
  std::string object;  // the carrier's name
  Board* board;
  int slot;
  std::uint32_t incarnation;
  int log_fd;
  std::uint64_t seed;
};

// Exit codes of a worker: 0 clean (stopped, drained, or its object's owner died); anything
// else is a violation the supervisor reports.
constexpr int kExitUnexpectedError = 2;
constexpr int kExitLogFailed = 3;

int run_producer(const WorkerContext& context);
int run_consumer(const WorkerContext& context);
/// Owner rounds: creates the round's Lifetime::process object (the scenario's carrier) and
/// waits to be killed. (In pair rounds the consumer creates the mailbox: see run_consumer.)
int run_owner(const WorkerContext& context);

}  // namespace conduit::torture
