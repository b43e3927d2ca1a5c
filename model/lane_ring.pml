/*
 * A model of the multi-producer ring behind Channel<T> (src/ring/lane_ring.cpp,
 * include/conduit/ring/spsc_ring.hpp), checked with spin in every interleaving:
 * two producers and one consumer, any of which may be SIGKILLed before any step and restarted.
 *
 * What it models, step for step:
 *   - a producer claims a lane by compare-and-swap of the lane's owner word, taking a lane that
 *     is free or whose owner is dead, and reads the lane's tail and head once (the
 *     read-modify-write takeover of spsc_ring.hpp (4));
 *   - it writes a record into the slot past the tail in two steps (a record is several words:
 *     a death between them leaves a torn slot), then publishes it with one store of the tail;
 *     only then does send() return, and the application logs the message as sent;
 *   - the consumer polls the lanes in turn, reads the record at the head in two steps, and
 *     releases it with one store of the head; only then does receive() return;
 *   - a killed process loses everything but shared memory; its restart claims a lane (or the
 *     consumer role) anew and goes on with new message numbers.
 * Memory is sequentially consistent here: the C++ acquire/release argument for the same steps
 * is written beside each atomic in spsc_ring.hpp; this model checks the protocol's logic
 * (which step publishes what, what a death in between leaves), not the hardware's ordering.
 *
 * Checked: no torn record is ever received; no message is received twice; every message whose
 * send returned is received; no deadlock (every end state is a valid one).
 */

#define LANES 2
#ifndef CAP
#define CAP 2          /* records per lane (ctest checks CAP=1; make model checks 2) */
#endif
#define MSGS 2         /* messages each incarnation of a producer sends */
#define INCARNATIONS 2 /* each producer may be killed once and restarted once */
#define IDS 9          /* message ids: 1 + producer * INCARNATIONS * MSGS + ... < IDS */

byte tail[LANES];
byte head[LANES];
byte owner[LANES];           /* 0: free; else the incarnation's process number + 1 */
byte slot_a[LANES * CAP];    /* a record's two halves: equal unless torn */
byte slot_b[LANES * CAP];
bool alive[8];               /* by process number + 1: 1..4 producers, 5..6 consumers */
bool kill_requested[8];

bool logged[IDS];            /* send() returned */
byte received[IDS];          /* receive() returned it, how many times */
byte producers_done;         /* incarnations that finished or died with no restart left */
byte kills;

/* A producer incarnation: `me` is its process number (1-based), `first` its first message id. */
proctype Producer(byte me; byte first; byte restarts_left) {
  byte lane = 255, t, h, id, sent = 0, index, l;
  alive[me] = true;
  {
    /* claim a lane: free, or owned by a dead process */
    do
    :: lane != 255 -> break
    :: lane == 255 ->
       for (l : 0 .. LANES - 1) {
         atomic {
           if
           :: lane == 255 && (owner[l] == 0 || !alive[owner[l]]) -> owner[l] = me; lane = l
           :: else -> skip
           fi
         }
       }
    od;
    t = tail[lane];
    h = head[lane];
    do
    :: sent == MSGS -> break
    :: sent < MSGS ->
       id = first + sent;
       /* wait for space: the lane's head, re-read until the lane is not full (a blocking
        * guard: spin's way of saying "re-read until", without the states of each re-read) */
       (t - h) < CAP || (t - head[lane]) < CAP;
       h = head[lane];
       index = lane * CAP + (t % CAP);
       slot_a[index] = id;       /* claim: write the record ... */
       slot_b[index] = id;
       t = t + 1;
       tail[lane] = t;           /* ... and publish it with one store */
       logged[id] = true;        /* send() returned: the application logs it */
       sent++
    od;
    owner[lane] = 0;             /* detach */
    atomic { alive[me] = false; producers_done++ }
  } unless {
    kill_requested[me] ->
      atomic {
        alive[me] = false;       /* SIGKILL: nothing of this process runs any more */
        if
        :: restarts_left > 0 -> run Producer(me + 2, first + MSGS, restarts_left - 1)
        :: else -> producers_done++
        fi
      }
  }
}

proctype Consumer(byte me; byte restarts_left) {
  byte l, h, index, a, b;
  alive[me] = true;
  {
    do
    :: producers_done == 2 && tail[0] == head[0] && tail[1] == head[1] -> break
    /* Poll the lanes: take from any lane that holds a record. Every order is explored, the
     * fair turn-taking of LaneConsumer among them. */
    :: tail[0] != head[0] -> l = 0; goto take
    :: tail[1] != head[1] -> l = 1;
take:
       h = head[l];              /* ours: only the consumer writes it (a restart re-reads it) */
       index = l * CAP + (h % CAP);
       a = slot_a[index];        /* read the record ... */
       b = slot_b[index];
       assert(a == b);           /* never torn */
       /* ... and release it with one store of the head. The record is then this
        * process's: receive() has it (copied out), so a death after this store is a
        * death of a process that received the message, counted as received here. */
       atomic {
         head[l] = h + 1;
         received[a]++;
         assert(received[a] == 1)   /* never twice */
       }
    od;
    /* every message whose send returned was received */
    for (a : 1 .. IDS - 1) {
      assert(!logged[a] || received[a] == 1)
    }
  } unless {
    kill_requested[me] ->
      atomic {
        alive[me] = false;
        if
        :: restarts_left > 0 -> run Consumer(me + 1, restarts_left - 1)
        :: else -> assert(false)  /* never chosen: the killer leaves one consumer alive */
        fi
      }
  }
}

/* Kills any process at any moment: at most one kill in all, to keep the state space small
 * enough for every interleaving (a kill of each producer incarnation and of the consumer are
 * all explored, one per run of the model). */
active proctype Killer() {
  byte victim;
  do
  :: kills == 0 ->
     if
     :: victim = 1 :: victim = 2 :: victim = 5
     fi;
     atomic { if :: alive[victim] -> kill_requested[victim] = true; kills++ :: else -> skip fi }
  :: kills == 0 -> break   /* or nobody dies */
  :: kills > 0 -> break
  od
}

init {
  atomic {
    run Consumer(5, 1);
    run Producer(1, 1, 1);   /* producer 0: ids 1, 2, then its restart 3, 4 */
    run Producer(2, 5, 1)    /* producer 1: ids 5, 6, then its restart 7, 8 */
  }
}
