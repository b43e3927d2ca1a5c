// Process-shared synchronisation, all in one named object. A counting semaphore lets at most
// two of four workers into a room at once; a barrier holds three processes until all have
// arrived; a robust mutex outlives a holder killed by SIGKILL: the next locker is told, repairs
// what the dead holder left half done, and the mutex works again.
#include <signal.h>

#include <atomic>

#include "example.hpp"

struct Room {
  conduit::Semaphore seats{2};  // counting: two units
  std::atomic<int> inside{0};
  std::atomic<int> most_inside{0};
  conduit::Barrier everyone{3};
  conduit::Mutex ledger_lock;
  int from = 100, to = 0;      // a transfer moves 50 from `from` to `to`; guarded by ledger_lock
  conduit::Semaphore held{0};  // the holder says "I hold the lock"
};

int main() {
  example::use_private_namespace();
  auto room = example::must(conduit::Shared<Room>::create("room"), "create");

  std::vector<pid_t> workers;
  for (int w = 1; w <= 4; ++w) {
    workers.push_back(example::spawn([w] {
      auto mine = example::must(conduit::Shared<Room>::open("room"), "open");
      example::must(mine->seats.acquire(), "acquire");
      const int now = ++mine->inside;
      int most = mine->most_inside;
      while (now > most && !mine->most_inside.compare_exchange_weak(most, now)) {
      }
      example::say("semaphore",
                   "worker " + std::to_string(w) + " in (" + std::to_string(now) + " inside)");
      ::usleep(50000);
      --mine->inside;
      mine->seats.release();
      return 0;
    }));
  }
  bool ok = true;
  for (pid_t worker : workers) ok = example::join(worker) && ok;
  example::say("semaphore", "at most " + std::to_string(room->most_inside.load()) +
                                " of 4 workers were inside at once (2 seats)");

  std::vector<pid_t> parties;
  for (int p = 1; p <= 3; ++p) {
    parties.push_back(example::spawn([p] {
      auto mine = example::must(conduit::Shared<Room>::open("room"), "open");
      ::usleep(static_cast<useconds_t>(p) * 50000);  // they arrive one after another
      example::say("barrier", "party " + std::to_string(p) + " arrives and waits");
      const bool is_chosen = example::must(mine->everyone.arrive_and_wait(), "arrive");
      example::say("barrier", "party " + std::to_string(p) + " goes on" +
                                  (is_chosen ? " (chosen for the phase's one job)" : ""));
      return 0;
    }));
  }
  for (pid_t party : parties) ok = example::join(party) && ok;

  const pid_t holder = example::spawn([] {
    auto mine = example::must(conduit::Shared<Room>::open("room"), "open");
    example::must(mine->ledger_lock.lock(), "lock");
    mine->from -= 50;  // half of the transfer: `to` is not credited yet
    example::say("holder", "locked, took 50 from `from`, and is killed before crediting `to`");
    mine->held.release();
    for (;;) ::pause();
    return 0;
  });
  example::must(room->held.acquire(), "wait for the holder");
  ::kill(holder, SIGKILL);
  example::join(holder);
  auto locked = room->ledger_lock.lock();
  if (locked || locked.error().code() != conduit::Errc::owner_died) return 1;
  example::say("parent", "lock(): " + locked.error().message());
  example::say("parent", "holds the lock; finds from=" + std::to_string(room->from) +
                             " to=" + std::to_string(room->to) + ", finishes the transfer");
  room->to += 50;
  room->ledger_lock.make_consistent();
  room->ledger_lock.unlock();
  example::must(room->ledger_lock.lock(), "lock again");
  example::say("parent", "lock() again: ok; from=" + std::to_string(room->from) +
                             " to=" + std::to_string(room->to));
  room->ledger_lock.unlock();
  return ok && room->most_inside <= 2 && room->from + room->to == 100 ? 0 : 1;
}
