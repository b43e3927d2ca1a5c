/*
 * A model of the zero-capacity (rendezvous) hand-shake of Mailbox (src/msg/mailbox_transfer.cpp),
 * checked with spin in every interleaving: one sender and one receiver, either of which may be
 * SIGKILLed before any step (the receiver is then restarted).
 *
 * What it models, step for step:
 *   - the mailbox lock is a robust mutex: a locker that finds its holder dead takes it with
 *     owner_died and repairs the slots before anything else (Mailbox::Impl::repair): a slot a
 *     dead sender was writing is freed; a delivered slot whose sender died (nobody waits for
 *     its receipt any more) is freed;
 *   - send: under the lock, claim the slot (writing), copy, queue it asking for a receipt;
 *     then, each time it looks, under the lock: delivered → free the slot, send returns
 *     success; still queued and the deadline passed → withdraw it (free), send returns
 *     timed_out;
 *   - receive: under the lock, take a queued message (copy it out, then mark it delivered
 *     with one store: receive has it).
 *
 * Checked: a message whose send returned success was received exactly once; a message whose
 * send timed out was never received ("not left behind"); nothing is received twice; no
 * deadlock.
 */

#define FREE 0
#define WRITING 1
#define QUEUED 2
#define DELIVERED 3
#define MSGS 2

byte lock_holder;            /* 0: free; else the process number */
bool alive[4];               /* 1: sender, 2 and 3: receiver incarnations */
bool kill_requested[4];
byte kills;

byte slot_state = FREE;
byte slot_id;
byte slot_sender;

bool succeeded[MSGS + 1];    /* send returned success */
bool timed_out[MSGS + 1];    /* send returned timed_out */
byte received[MSGS + 1];
bool sender_done;

/* Takes the lock; a dead holder's lock is taken over with a repair first. */
inline lock(me) {
  atomic {
    lock_holder == 0 || !alive[lock_holder] ->
    if
    :: lock_holder != 0 ->   /* owner_died: repair */
       if
       :: slot_state == WRITING -> slot_state = FREE
       :: slot_state == DELIVERED && !alive[slot_sender] -> slot_state = FREE
       :: else -> skip
       fi
    :: else -> skip
    fi;
    lock_holder = me
  }
}
inline unlock() { lock_holder = 0 }

proctype Sender() {
  byte id = 1;
  alive[1] = true;
  {
    do
    :: id > MSGS -> break
    :: id <= MSGS ->
       lock(1);
       if
       :: slot_state == FREE ->
          slot_state = WRITING;          /* claim */
          slot_id = id;                  /* copy */
          slot_sender = 1;
          slot_state = QUEUED;           /* publish, asking for a receipt */
          unlock();
          do                             /* wait for the receipt, or give up */
          :: lock(1);
             if
             :: slot_state == DELIVERED && slot_id == id ->
                slot_state = FREE; unlock(); succeeded[id] = true; break
             :: slot_state == QUEUED && slot_id == id ->
                if
                :: slot_state = FREE; unlock(); timed_out[id] = true; break   /* deadline */
                :: unlock()                                                     /* wait on */
                fi
             fi
          od;
          id++
       :: else -> unlock()               /* full: wait for space */
       fi
    od;
    atomic { sender_done = true; alive[1] = false }
  } unless {
    kill_requested[1] -> atomic { alive[1] = false; sender_done = true }
  }
}

proctype Receiver(byte me; byte restarts_left) {
  byte taken;
  alive[me] = true;
  {
    do
    :: sender_done && slot_state != QUEUED && slot_state != WRITING -> break
    :: else ->
       lock(me);
       if
       :: slot_state == QUEUED ->
          taken = slot_id;               /* copy out ... */
          atomic {                       /* ... and mark it delivered: receive has it */
            slot_state = DELIVERED;
            received[taken]++;
            assert(received[taken] == 1)
          }
       :: else -> skip
       fi;
       unlock()
    od;
    /* Every send that succeeded was received once; none that timed out was received. */
    for (taken : 1 .. MSGS) {
      assert(!succeeded[taken] || received[taken] == 1);
      assert(!timed_out[taken] || received[taken] == 0)
    }
  } unless {
    kill_requested[me] ->
      atomic {
        alive[me] = false;
        if
        :: restarts_left > 0 -> run Receiver(me + 1, restarts_left - 1)
        :: else -> skip
        fi
      }
  }
}

/* At most one kill, of the sender or the first receiver, at any moment (or none). */
active proctype Killer() {
  if
  :: atomic { alive[1] -> kill_requested[1] = true; kills++ }
  :: atomic { alive[2] -> kill_requested[2] = true; kills++ }
  :: skip
  fi
}

init {
  atomic {
    run Receiver(2, 1);
    run Sender()
  }
}
