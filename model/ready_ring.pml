/*
 * A model of the ready ring of a bounded Mailbox (src/msg/mailbox_ring.cpp, "The ready ring" in
 * include/conduit/msg/mailbox_layout.hpp), checked with spin in every interleaving: N = 2 cells,
 * two senders (MSGS and MSGS2 numbered messages, one at a time), RECEIVERS type-0 receivers (2,
 * or 1), and one process, VICTIM, that may be SIGKILLed before any step, for ever, leaving
 * whatever claim it holds in its cell (senders are alike, and receivers: VICTIM=1 and VICTIM=3
 * cover the death of any one; a run with a victim covers no death too).
 *
 * What it models, step for step (one load, store or compare-exchange of shared memory a step,
 * with the local work around it, which nobody else sees):
 *   - ring_send: reads the tail; room when tail - done < N, done as this handle last read it,
 *     read afresh only when that says full (done_seen_); full: ring_recover(head) and wait for
 *     room. Then claims the tail's cell (compare-exchange empty(p) -> writing(p, me)), moves the
 *     tail (compare-exchange p -> p + 1; failing, the cell is given back as done), writes the
 *     message and stores full(p) (one step here: only a cell's holder touches its bytes, and the
 *     receiver's checks would see a message torn or overwritten); send() then returns. A cell of
 *     a later position: the view of the tail was stale, look again; a busy cell or an older
 *     position: ring_recover(p) and "obstructed" (the real sender queues in the slots, behind
 *     the ring: here the message is not sent, and the sender retries it or stops);
 *   - ring_scan + ring_take for type 0, cell by cell from ring_head: a cell whose stamp is
 *     ahead is done (the done prefix grows); empty(p) or an older stamp ends the scan; full(p) is
 *     taken by compare-exchange full(p) -> reading(p, me) (failing: the next cell), copied out
 *     and freed with one store of empty(p + N), then ring_done is counted (a second step); a
 *     busy cell is offered to ring_recover; writing(p) ends the scan; reading(p) (another
 *     receiver's) is passed while p + 1 < tail. At most 2N cells, and none N past the done
 *     prefix. Then the head moves past the done prefix by compare-exchange;
 *   - ring_recover: a cell writing(p) or reading(p) whose claimant is dead (the oracle alive[])
 *     becomes, by compare-exchange: writing, tail == p: empty(p) (the next sender writes p);
 *     writing, tail past p: empty(p + N), then counted done; reading: full(p) again (no views
 *     here, so is_viewed is never set). The scan's and the sender's calls are rate-limited in
 *     the C++ (kReclaimInterval): here each may look or not. A wait's slice ends with a look at
 *     every cell;
 *   - waits: a receiver that took nothing waits until a message may have become takeable (see
 *     `stale`), or for a slice to end while a dead process holds a cell; a sender that found the
 *     ring full waits for room, or for a dead process's cell to recover. A wait that nothing
 *     ends is a deadlock, which spin reports as an invalid end state.
 * Positions are not taken modulo anything: no stamp reaches 2^8 here (a few claims in all), so
 * the 40-bit wrap of the C++ and its signed distance are plain differences. Memory is
 * sequentially consistent, as in lane_ring.pml: this checks the protocol's logic.
 *
 * Checked: a message is received only if a sender published it (a dead writer's never is);
 * never twice; every message published (every send that returned, and one whose sender died
 * just after) is received once, by the receivers or by a final receiver that drains the ring
 * after everyone else finished or died; each receiver sees each sender's messages in order
 * (but a message a dead reader held, which recovery hands out again late: by design); no
 * deadlock (a live receiver waiting for a sent message gets it; a sender waiting for room while
 * a receiver lives gets it); and after the drain every cell is empty and every position claimed
 * is counted done -- but for the counts lost with a process killed between freeing a cell and
 * counting it (`uncounted`; -DEXACT_CAPACITY asserts there are none, and spin shows the kill:
 * see model/check). The C++ keeps such a count short, and loses no capacity for it: when the
 * count says full but the tail's cell is free, it counts the cells (Mailbox::Impl::ring_has_room,
 * tested by MailboxRingTest.DoneCountLeftShortByADeadReceiverLosesNoCapacity); not modelled.
 */

#define N 2
#ifndef MSGS
#define MSGS 2         /* message ids each sender has (ctest: 2; model/check --full: 3) */
#endif
#ifndef MSGS2
#define MSGS2 MSGS     /* messages the second sender sends (at most MSGS) */
#endif
#ifndef RECEIVERS
#define RECEIVERS 2
#endif
#ifndef VICTIM
#define VICTIM 0       /* the process that may be killed: 1 a sender, 3 a receiver; 0 none */
#endif
#define SENDERS 2
#define IDS (1 + SENDERS * MSGS)    /* message ids 1 .. SENDERS * MSGS */
#define DRAIN 5                     /* the final receiver's process number */

/* A cell's state, as CellState. */
#define EMPTY 0
#define WRITING 1
#define FULL 2
#define READING 3

/* The ring. A cell's word is (stamp[i], state[i], holder[i]): always changed in one step. */
byte tail, head, done;
byte stamp[N];
byte state[N];
byte holder[N];              /* writing / reading: the claimant's process number */
byte payload[N];             /* the message's bytes: its id */

/* Processes: 1, 2 senders; 3, 4 receivers; 5 the final drain. alive[] is the oracle that
 * ring_recover asks ("does the claimant live?"): false once a process died or returned. */
bool alive[6];
bool kill_requested;
byte senders_finished;       /* returned or died */
byte finished;               /* senders and receivers that returned or died */
/* Per receiver: a message may have become takeable since its last look began (a cell became
 * full, or done by recovery, the head moved, a process died). Its wait ends on it, as the real
 * one ends on a wake (publish, recovery) or at the end of a slice: so a wait that nothing ends
 * is a deadlock. Other changes (a claim, a tail moving, a cell freed) make nothing takeable. */
bool stale[6];
#define CHANGED stale[3] = true; stale[4] = true

/* What the application sees, and ghosts. */
bool published[IDS];         /* full(p) stored with this message (the send then returned) */
byte received[IDS];          /* receive() returned it, how many times */
bool recovered[IDS];         /* a dead reader held it, recovery handed it out again */
byte last[3 * SENDERS];      /* per receiver (3, 4, drain), per sender: the last id it received */
/* Positions made free or given up (their cell's stamp moved on) but not yet counted in `done`:
 * each is counted by the process that freed it, one step later (a fetch_add after the store),
 * so a death in between loses its count for ever (the known bug, see model/check). */
byte uncounted;
#define FREED uncounted++
#define COUNT_DONE atomic { done++; uncounted-- }

/* A cell whose claimant is dead: recovery would act on it. */
#define DEAD_CLAIM(i) ((state[i] == WRITING || state[i] == READING) && !alive[holder[i]])
#define DEAD_CLAIMS (DEAD_CLAIM(0) || DEAD_CLAIM(1))
#define RECEIVERS_ALIVE (alive[3] || alive[4])

/*
 * ring_recover for the cell `cc`. The look loads the word and asks whether the claimant lives
 * (and, for a writer, loads the tail) in one step: once the claimant is dead nothing else
 * changes what these say (a claimed cell holds the tail, and a word never comes back: a new
 * claim names another process), so later looks would say the same. Only the C++'s use of the
 * head (to place the stamp, modulo 2^40) is left out: no stamp wraps here.
 */
inline recover(cc) {
  atomic {
    if
    :: (state[cc] == WRITING || state[cc] == READING) && !alive[holder[cc]] ->
       r_stamp = stamp[cc]; r_state = state[cc]; r_holder = holder[cc];
       if
       :: r_state == READING -> r_new_stamp = r_stamp; r_new_state = FULL; r_done = false
       :: r_state == WRITING && tail == r_stamp -> r_new_stamp = r_stamp; r_new_state = EMPTY; r_done = false
       :: r_state == WRITING && tail != r_stamp -> r_new_stamp = r_stamp + N; r_new_state = EMPTY; r_done = true
       fi
    :: else -> r_stamp = 255       /* nothing to recover */
    fi
  }
  if
  :: r_stamp != 255 ->
     atomic {   /* compare-exchange: fails if it moved on, or another recovered it */
       if
       :: stamp[cc] == r_stamp && state[cc] == r_state && holder[cc] == r_holder ->
          if
          :: r_state == READING -> recovered[payload[cc]] = true
          :: else -> skip
          fi;
          stamp[cc] = r_new_stamp; state[cc] = r_new_state; holder[cc] = 0; CHANGED;
          if
          :: r_done -> FREED
          :: else -> skip
          fi
       :: else -> r_done = false
       fi
     }
     if
     :: r_done -> COUNT_DONE       /* one more position done (a writer's that died) */
     :: else -> skip
     fi
  :: else -> skip
  fi;
  atomic { r_stamp = 0; r_state = 0; r_holder = 0; r_new_stamp = 0; r_new_state = 0; r_done = false }
}

/* A rate-limited ring_recover(position): it may look, or not this time. */
inline maybe_recover(cc) {
  if
  :: recover(cc)
  :: skip
  fi
}

/* The slice's ring_recover(nullopt): every cell. */
inline recover_all() {
  recover(0);
  recover(1)
}

/*
 * ring_scan + ring_take of type 0 by process `me`: sets `taken`. Each step is one load, store or
 * compare-exchange of the ring, with the local work around it (which the others cannot see).
 * Locals of the caller: first, until (done_until), q (the position), c, w_stamp, w_state (the
 * word as loaded), seen_tail (255: not read yet), id, ok, act.
 */
#define A_NEXT 0
#define A_STOP 1
#define A_TAKE 2
#define A_BUSY 3
inline scan_take(me) {
  atomic { stale[me] = false; taken = false; first = head; until = first; q = first; seen_tail = 255 }
  do
  :: atomic {
       if
       :: q - until >= N || q - first >= 2 * N -> act = A_STOP
       :: else ->
          c = q % N;
          w_stamp = stamp[c]; w_state = state[c];   /* one load of the word */
          if
          :: w_stamp > q ->                /* done: the cell serves a later position now */
             if
             :: until == q -> until++
             :: else -> skip
             fi;
             q++;
             act = A_NEXT
          :: w_stamp < q -> act = A_STOP   /* cannot be (a peer wrote over the ring) */
          :: w_stamp == q && w_state == EMPTY -> act = A_STOP   /* no sender reached q yet */
          :: w_stamp == q && w_state == FULL -> act = A_TAKE
          :: w_stamp == q && (w_state == WRITING || w_state == READING) -> act = A_BUSY
          fi
       fi
     }
     if
     :: act == A_STOP -> break
     :: act == A_NEXT -> skip
     :: act == A_TAKE ->
        atomic {                           /* take: compare-exchange full(q) -> reading(q, me) */
          if
          :: stamp[c] == q && state[c] == FULL -> state[c] = READING; holder[c] = me; ok = true
          :: else -> ok = false; q++       /* another receiver took it: the next one */
          fi
        }
        if
        :: ok ->
           /* copy it out and free the cell with one store (only the cell's holder reads or
            * writes the bytes of a claimed cell, which the checks below would catch otherwise):
            * receive has it */
           atomic {
             id = payload[c];
             stamp[c] = q + N; state[c] = EMPTY; holder[c] = 0; FREED;
             assert(id >= 1 && id < IDS && published[id]);   /* never one not sent */
             received[id]++;
             assert(received[id] == 1);    /* never twice */
             /* in order, per sender (a recovered message comes late by design) */
             assert(recovered[id] || id > last[(me - 3) * SENDERS + (id - 1) / MSGS]);
             if
             :: id > last[(me - 3) * SENDERS + (id - 1) / MSGS] ->
                last[(me - 3) * SENDERS + (id - 1) / MSGS] = id
             :: else -> skip
             fi
           }
           COUNT_DONE;                     /* ring_finish: one more position done */
           atomic {
             if
             :: until == q -> until++
             :: else -> skip
             fi;
             taken = true
           }
           break
        :: else -> skip
        fi
     :: act == A_BUSY ->
        maybe_recover(c);
        atomic {
          if
          :: w_state == WRITING -> act = A_STOP   /* a writer at work: nothing after it first */
          :: else ->
             /* another receiver copying one out: look further, at positions senders reached */
             if
             :: seen_tail == 255 -> seen_tail = tail
             :: else -> skip
             fi;
             if
             :: q + 1 >= seen_tail -> act = A_STOP
             :: else -> q++
             fi
          fi
        }
        if
        :: act == A_STOP -> break
        :: else -> skip
        fi
     fi
  od;
  atomic {
    if
    :: until != first && head == first -> head = until; CHANGED   /* move the head past the done prefix */
    :: else -> skip
    fi;
    first = 0; until = 0; q = 0; c = 0; w_stamp = 0; w_state = 0; seen_tail = 0; id = 0; ok = false; act = 0
  }
}

#define SENDER_LOCALS \
  byte k, id, p, seen_done, c, w_stamp, w_state, expected; bool ok; \
  byte r_stamp, r_state, r_holder, r_new_stamp, r_new_state; bool r_done

/* ring_send of MSGS messages, one at a time, by sender `me`. */
inline send_all(me, first_id, count) {
  do
  :: k == count -> break
  :: k < count ->
     id = first_id + k;
send:
     /* room: done as last read says so, or as read afresh (done_seen_) */
     atomic { p = tail; ok = (seen_done > p || p - seen_done >= N) }
     if
     :: ok ->
        atomic { seen_done = done; ok = (seen_done <= p && p - seen_done >= N) }
        if
        :: ok ->
           /* full: a dead one's (the head's cell)? */
           atomic { c = head % N; ok = false }
           maybe_recover(c);
           /* wait for room, or for the end of a slice while a dead process holds a cell; with
            * no receiver left, a full ring stays full: the sender stops (a real one waits) */
           atomic { tail - done < N || DEAD_CLAIMS || !RECEIVERS_ALIVE };
           recover_all();
           if
           :: atomic { !RECEIVERS_ALIVE -> c = 0; p = 0 }; break
           :: else -> goto send
           fi
        :: else -> skip
        fi
     :: else -> skip
     fi;
claim:
     /* claim the tail's cell: compare-exchange empty(p) -> writing(p, me) */
     atomic {
       c = p % N;
       if
       :: stamp[c] == p && state[c] == EMPTY -> state[c] = WRITING; holder[c] = me; ok = true
       :: else -> w_stamp = stamp[c]; w_state = state[c]; ok = false
       fi
     }
     if
     :: ok ->
        /* then move the tail: compare-exchange p -> p + 1 */
        atomic { if :: tail == p -> tail = p + 1 :: else -> expected = tail; ok = false fi }
        if
        :: ok ->
           /* write the message and publish it (nobody reads a claimed cell's bytes but its
            * holder): send() returns */
           atomic { payload[c] = id; state[c] = FULL; holder[c] = 0; published[id] = true; CHANGED };
           k++
        :: else ->
           /* the tail had moved on (cannot be): the position is given up as done */
           atomic { stamp[c] = p + N; state[c] = EMPTY; holder[c] = 0; CHANGED; FREED };
           COUNT_DONE;
           p = expected;
           goto claim
        fi
     :: else ->
        if
        :: w_stamp > p -> atomic { p = tail }; goto claim   /* a stale view of the tail */
        :: w_stamp < p || w_state != EMPTY ->
           /* busy: obstructed (the real sender queues in the slots, behind the ring) */
           maybe_recover(c);
           if
           :: goto send                    /* retry this message */
           :: break                        /* or stop sending */
           fi
        :: else -> atomic { p = tail }; goto claim   /* free, but it changed meanwhile */
        fi
     fi;
     atomic { w_stamp = 0; w_state = 0; ok = false; expected = 0; c = 0; p = 0 }
  od
}

proctype Sender(byte me; byte first_id; byte count) {
  SENDER_LOCALS;
  send_all(me, first_id, count);
  atomic { alive[me] = false; senders_finished++; finished++ }
}

/* The sender that may be killed at any step (only one process may die: see Killer). */
proctype DoomedSender(byte me; byte first_id; byte count) {
  SENDER_LOCALS;
  {
    send_all(me, first_id, count);
    atomic { alive[me] = false; senders_finished++; finished++ }
  } unless {
    kill_requested ->
      atomic { alive[me] = false; senders_finished++; finished++; CHANGED }   /* SIGKILL */
  }
}

#define RECEIVER_LOCALS \
  byte first, until, q, c, w_stamp, w_state, seen_tail, id, act; bool ok, taken; \
  byte r_stamp, r_state, r_holder, r_new_stamp, r_new_state; bool r_done

/* Receives (type 0) until the senders are finished and nothing is left to take. */
inline receive_all(me) {
  do
  :: scan_take(me);
     if
     :: taken -> skip
     :: else ->
        if
        :: stale[me] -> skip               /* woken: look again */
        :: atomic { DEAD_CLAIMS || senders_finished == SENDERS } ->
           /* the end of a slice (while a dead process holds a cell, or the senders are
            * finished): recover; stop when the senders are finished and nothing changed since
            * a look that found nothing */
           recover_all();
           if
           :: atomic { !stale[me] && senders_finished == SENDERS } -> break
           :: else -> skip
           fi
        fi
     fi
  od
}

proctype Receiver(byte me) {
  RECEIVER_LOCALS;
  receive_all(me);
  atomic { alive[me] = false; finished++ }
}

proctype DoomedReceiver(byte me) {
  RECEIVER_LOCALS;
  {
    receive_all(me);
    atomic { alive[me] = false; finished++ }
  } unless {
    kill_requested ->
      atomic { alive[me] = false; finished++; CHANGED }   /* SIGKILL */
  }
}

/* Kills the victim at any step, or never. Senders are alike, and receivers, so a run with
 * VICTIM 1 and one with VICTIM 3 check the death of any one of them. */
active proctype Killer() {
#if VICTIM != 0
  if
  :: atomic { alive[VICTIM] -> kill_requested = true }
  :: skip
  fi
#else
  skip
#endif
}

init {
  RECEIVER_LOCALS;
  atomic {
    stamp[1] = 1;                          /* cell i is for position i first */
    alive[1] = true; alive[2] = true; alive[3] = true;
#if VICTIM == 1
    run DoomedSender(1, 1, MSGS);
#else
    run Sender(1, 1, MSGS);
#endif
    run Sender(2, 1 + MSGS, MSGS2);
#if VICTIM == 3
    run DoomedReceiver(3);
#else
    run Receiver(3);
#endif
#if RECEIVERS == 2
    alive[4] = true;
    run Receiver(4);
#endif
  }
  finished == SENDERS + RECEIVERS;
  /* The final receiver: drains the ring (recovering what the dead hold), then checks. */
  atomic {
    alive[DRAIN] = true;
    do
    :: recover_all();
       scan_take(DRAIN);
       if
       :: taken -> skip
       :: else -> break
       fi
    od;
    for (id : 1 .. IDS - 1) {
      assert(!published[id] || received[id] == 1)   /* every message sent: received once */
    }
    /* every position claimed is done, but for counts lost with a process that died between
     * freeing a cell and counting it (the known bug) */
    assert(tail == done + uncounted);
#ifdef EXACT_CAPACITY
    assert(uncounted == 0);                /* no capacity lost */
#endif
    assert(state[0] == EMPTY && state[1] == EMPTY)
  }
}
