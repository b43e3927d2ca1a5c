/*
 * A model of the ready ring of a bounded Mailbox (src/msg/mailbox_ring.cpp, "The ready ring" in
 * include/conduit/msg/mailbox_layout.hpp), layout 9, checked with spin in every interleaving:
 * N = 2 cells, two senders (MSGS and MSGS2 numbered messages, one at a time), RECEIVERS type-0
 * receivers (2, or 1), and one process, VICTIM, that may be SIGKILLed before any step, for ever,
 * leaving whatever claim it holds (senders are alike, and receivers: VICTIM=1 and VICTIM=3 cover
 * the death of any one; a run with a victim covers no death too).
 *
 * Each cell has two words: the cell word (stamp, state, holder): empty(p), free for position p;
 * full(p), the message of position p; reading(p, pid), a receiver copies it out; and the claim
 * word (claim_stamp, claim_state, claim_holder): empty(p), a sender of position p may claim it;
 * writing(p, pid), that sender holds position p. Receivers poll the cell word only; a sender
 * claims on the claim word and touches the cell word only to publish. A process number here
 * names one process for ever: in the C++ (layout 10) a claim writes its claimant's pid and
 * start time in one 16-byte compare-exchange, and a recovery compare-exchanges both words as
 * it read them, so a pid reused by a later process is not taken for the claimant.
 *
 * What it models, step for step (one load, store or compare-exchange of shared memory a step,
 * with the local work around it, which nobody else sees):
 *   - ring_send: reads the tail (room is not counted first: the tail's cell is free exactly
 *     when there is room). Then, for the position p it read:
 *       1. claims it: compare-exchange the claim word empty(p) -> writing(p, me); failing, a
 *          claim word of a later position: the view of the tail was stale, look again; of p
 *          (writing) or an older one: busy, ring_recover(p) and "obstructed" (the real sender
 *          queues in the slots, behind the ring: here the message is not sent, and the sender
 *          retries it or stops). The C++ first waits a bounded while for the claim or the tail
 *          to change, and then reads the tail again: the retry here;
 *       2. loads the cell word: not empty(p) (an older message is still in it): gives the claim
 *          back (a store of empty(p), as in the C++ since layout 10; a compare-exchange from
 *          writing(p, me) before, the same while the claimant lives), then reads done: full (tail - done >= N),
 *          ring_recover(head) and wait for room; else loads the cell word once more: empty(p)
 *          (a receiver emptied it between the loads), back to 1; p or a later position
 *          (another sender claimed p since the claim went back), the tail is read again; an
 *          older message being read (no views here: a receiver copying it out), the wait of
 *          RingSend::held (the C++ spins a bounded while first, then sleeps): until the cell
 *          changes, or a slice ends while a dead process holds a cell or a claim; then the
 *          tail is read again; else ring_recover(p), obstructed;
 *       3. moves the tail: a store of p + 1 (only the holder of p's claim moves the tail from p:
 *          asserted);
 *       4. writes the message and publishes it: compare-exchange the cell word empty(p) ->
 *          full(p) (one step here: nobody reads an empty cell's bytes, and the receiver's checks
 *          would see a message torn or overwritten). It can fail only if a recovery gave the
 *          position up, which it does only for a dead claimant: asserted; the branch (the
 *          message not sent, the claim not touched, obstructed) is kept as in the C++;
 *       5. releases the claim: a store of empty(p + N) (as in the C++ since layout 10; a
 *          compare-exchange before, as in 2); send() then returns;
 *   - ring_scan + ring_take for type 0, cell by cell from ring_head: a cell whose stamp is
 *     ahead is done (the done prefix grows); an older stamp ends the scan; full(p) is taken by
 *     compare-exchange full(p) -> reading(p, me) (failing: the next cell), copied out and freed
 *     with one store of empty(p + N), then ring_done is counted (a second step); empty(p) is
 *     offered to ring_recover (a writer may hold p's claim, at work or dead) and ends the scan:
 *     an empty cell is never passed; reading(p) (another receiver's) is offered to ring_recover
 *     and passed while p + 1 < tail. At most 2N cells, and none N past the done prefix. Then the
 *     head moves past the done prefix by compare-exchange;
 *   - ring_recover of a cell (see recover() for the steps): a cell word reading(p) whose reader
 *     is dead (the oracle alive[]) becomes full(p) again (no views here, so is_viewed is never
 *     set); a claim word writing(p) whose writer is dead: by the cell word and the tail, the
 *     claim goes back as empty(p) (it died before moving the tail: the next sender writes p),
 *     or the position is given up (it moved the tail and never published, as the claim word,
 *     loaded once more after the tail, confirms: the cell becomes empty(p + N), then the
 *     claim, then the position is counted done), or the claim becomes empty(p + N) (it
 *     published, then died). The scan's and the sender's calls are
 *     rate-limited in the C++ (kReclaimInterval, kEmptyLooksPerRecovery): here each may look or
 *     not. A wait's slice ends with a look at every cell (both words);
 *   - waits: a receiver that took nothing waits until a message may have become takeable (see
 *     `stale`), or for a slice to end while a dead process holds a cell or a claim; a sender
 *     that found the ring full waits for room, or for a dead process's cell or claim to recover.
 *     A wait that nothing ends is a deadlock, which spin reports as an invalid end state.
 * Positions are not taken modulo anything: no stamp reaches 2^8 here (a few claims in all), so
 * the 40-bit wrap of the C++ and its signed distance are plain differences. Memory is
 * sequentially consistent, as in lane_ring.pml: this checks the protocol's logic.
 *
 * Found by this model (layout 9 as first drafted): recovery of a dead writer's claim loaded the
 * claim word, asked, loaded the cell word and the tail, and gave the position up on "empty(p),
 * tail != p" without looking at the claim word again. Between its loads another recoverer could
 * give the same claim back (empty(p): it had died before moving the tail), a live sender claim p
 * and move the tail: the late recoverer then read the new tail, and gave up the live sender's
 * position (cell empty(p) -> empty(p + N)). The live sender's publish failed, its claim stayed
 * writing(p) while it lived, and every later sender of the cell found it busy: the ring went
 * through the slots for as long as that sender lived. The fix: load the claim word again after
 * the tail (still writing(p, pid), so it was all along: the tail moved under the dead one's
 * claim); model/check keeps the draft as a mutant (ready_ring_void_live_claim).
 *
 * Checked: a message is received only if a sender published it (a dead writer's never is);
 * never twice; every message published (every send that returned, and one whose sender died
 * just after) is received once, by the receivers or by a final receiver that drains the ring
 * after everyone else finished or died; each receiver sees each sender's messages in order
 * (but a message a dead reader held, which recovery hands out again late: by design); no
 * deadlock (a live receiver waiting for a sent message gets it; a sender waiting for room while
 * a receiver lives gets it); a live sender's publish never fails, and only the holder of p's
 * claim moves the tail from p; and after the drain every cell word and every claim word is
 * empty, for the same position, the cell's next at or past the tail, and every position
 * claimed is counted done -- but for the counts lost with a process killed between freeing a
 * cell and counting it (`uncounted`; -DEXACT_CAPACITY asserts there are none, and spin shows
 * the kill: see model/check). The C++ keeps such a count short, and loses no capacity for it:
 * when the count says full but the tail's cell is free, it counts the cells
 * (Mailbox::Impl::ring_has_room, tested by
 * MailboxRingTest.DoneCountLeftShortByADeadReceiverLosesNoCapacity); not modelled.
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

/* A cell word's state, as CellState (WRITING only in a claim word). */
#define EMPTY 0
#define WRITING 1
#define FULL 2
#define READING 3

/* The ring. A cell's word is (stamp[i], state[i], holder[i]): EMPTY, FULL or READING, always
 * changed in one step; its claim word is (claim_stamp[i], claim_state[i], claim_holder[i]):
 * EMPTY or WRITING, always changed in one step. */
byte tail, head, done;
byte stamp[N];
byte state[N];
byte holder[N];              /* reading: the receiver's process number */
byte payload[N];             /* the message's bytes: its id */
byte claim_stamp[N];
byte claim_state[N];
byte claim_holder[N];        /* writing: the sender's process number */

/* Processes: 1, 2 senders; 3, 4 receivers; 5 the final drain. alive[] is the oracle that
 * ring_recover asks ("does the claimant live?"): false once a process died or returned. */
bool alive[6];
bool kill_requested;
byte senders_finished;       /* returned or died */
byte finished;               /* senders and receivers that returned or died */
/* Per receiver: a message may have become takeable since its last look began (a cell became
 * full, or done by recovery, the head moved, a process died). Its wait ends on it, as the real
 * one ends on a wake (publish, recovery) or at the end of a slice: so a wait that nothing ends
 * is a deadlock. Other changes (a claim taken, given back or released, a tail moving, a cell
 * freed) make nothing takeable. */
bool stale[6];
#define CHANGED stale[3] = true; stale[4] = true

/* What the application sees, and ghosts. */
bool published[IDS];         /* full(p) stored with this message (the send then returns) */
byte received[IDS];          /* receive() returned it, how many times */
bool recovered[IDS];         /* a dead reader held it, recovery handed it out again */
byte last[3 * SENDERS];      /* per receiver (3, 4, drain), per sender: the last id it received */
/* Positions made free or given up (their cell's stamp moved on) but not yet counted in `done`:
 * each is counted by the process that freed it, one step later (a fetch_add after the store),
 * so a death in between loses its count for ever (the known bug, see model/check). */
byte uncounted;
#define FREED uncounted++
#define COUNT_DONE atomic { done++; uncounted-- }

/* A cell or a claim whose claimant is dead: recovery would act on it. */
#define DEAD_CLAIM(i) ((state[i] == READING && !alive[holder[i]]) || \
                       (claim_state[i] == WRITING && !alive[claim_holder[i]]))
#define DEAD_CLAIMS (DEAD_CLAIM(0) || DEAD_CLAIM(1))
#define RECEIVERS_ALIVE (alive[3] || alive[4])

/*
 * ring_recover for the cell `cc`: first the cell word, then the claim word.
 * a) The cell word: the look loads it and asks whether the reader lives in one step: once the
 *    reader is dead nothing else changes the word (a word never comes back: a new claim names
 *    another process), and the only action is a compare-exchange of that word, so a look split
 *    in two would do the same. reading(p, dead) -> full(p).
 * b) The claim word: one load; then the question and the load of the cell word (one step: a
 *    process once dead stays dead, so asking at the load rather than a little before it loses
 *    no run); then the load of the tail; then, by what they say (r_stamp is the claim's
 *    position p; each compare-exchange of the claim word expects writing(p, pid), which never
 *    comes back once gone: a dead process claims nothing):
 *      cell empty(p) and tail == p, or the cell's stamp < p: claim writing(p) -> empty(p);
 *      cell empty(p) and tail != p: one more load of the claim word (still writing(p, pid)?
 *        else stop: see the header), then cell empty(p) -> empty(p + N) (failing: stop:
 *        another recovered it), then the claim writing(p) -> empty(p + N), then counted done
 *        (cell first: a recoverer killed in between leaves a claim found dead again later and
 *        a count short, never a cell that blocks the ring);
 *      otherwise (the cell full(p), reading(p), or past p): claim writing(p) -> empty(p + N).
 * Only the C++'s use of the head (to place the stamp, modulo 2^40) is left out: no stamp wraps
 * here.
 */
#define R_NONE 0
#define R_BACK 1       /* claim writing(p) -> empty(p) */
#define R_VOID 2       /* cell empty(p) -> empty(p + N), claim writing(p) -> empty(p + N), count */
#define R_RELEASE 3    /* claim writing(p) -> empty(p + N) */
inline recover(cc) {
  atomic {   /* a) look: a dead reader's cell? */
    if
    :: state[cc] == READING && !alive[holder[cc]] -> r_stamp = stamp[cc]; r_holder = holder[cc]; r_ok = true
    :: else -> skip
    fi
  }
  if
  :: r_ok ->
     atomic {   /* compare-exchange reading(p, pid) -> full(p): fails if another recovered it */
       if
       :: stamp[cc] == r_stamp && state[cc] == READING && holder[cc] == r_holder ->
          recovered[payload[cc]] = true; state[cc] = FULL; holder[cc] = 0; CHANGED
       :: else -> skip
       fi;
       r_stamp = 0; r_holder = 0; r_ok = false
     }
  :: else -> skip
  fi;
  atomic {   /* b) load the claim word: a writer's claim? */
    if
    :: claim_state[cc] == WRITING -> r_stamp = claim_stamp[cc]; r_holder = claim_holder[cc]; r_ok = true
    :: else -> skip
    fi
  }
  if
  :: r_ok ->
     atomic {   /* does the claimant live? if not, load the cell word */
       if
       :: !alive[r_holder] -> r_cstamp = stamp[cc]; r_cstate = state[cc]
       :: else -> r_stamp = 0; r_holder = 0; r_ok = false
       fi
     }
  :: else -> skip
  fi;
  if
  :: r_ok ->
     atomic {   /* load the tail, and decide */
       r_tail = tail;
       if
       :: r_cstamp < r_stamp || (r_cstamp == r_stamp && r_cstate == EMPTY && r_tail == r_stamp) ->
          r_act = R_BACK
       :: r_cstamp == r_stamp && r_cstate == EMPTY && r_tail != r_stamp -> r_act = R_VOID
       :: else -> r_act = R_RELEASE
       fi;
       r_cstamp = 0; r_cstate = 0; r_tail = 0
     }
     if
     :: r_act == R_VOID ->
        /* load the claim word again: if it is still the dead one's, it was all along, so the
         * tail moved on under this claim (else, gone: another recovered it, and the tail may
         * have moved under a new claim of p, whose cell must not be given up) */
        atomic {
          if
          :: claim_stamp[cc] == r_stamp && claim_state[cc] == WRITING && claim_holder[cc] == r_holder -> skip
          :: else -> r_act = R_NONE   /* the claim moved on */
          fi
        }
     :: else -> skip
     fi;
     if
     :: r_act == R_VOID ->
        /* it moved the tail and never published: the position is given up, the cell first:
         * compare-exchange empty(p) -> empty(p + N) (failing: another recovered it) */
        atomic {
          if
          :: stamp[cc] == r_stamp && state[cc] == EMPTY -> stamp[cc] = r_stamp + N; CHANGED; FREED
          :: else -> r_act = R_NONE
          fi
        }
     :: else -> skip
     fi;
     atomic {   /* the claim: compare-exchange writing(p, pid) -> empty(p) or empty(p + N) */
       if
       :: r_act != R_NONE && claim_stamp[cc] == r_stamp && claim_state[cc] == WRITING && claim_holder[cc] == r_holder ->
          if
          :: r_act == R_BACK -> skip       /* it died before moving the tail: p is free again */
          :: else -> claim_stamp[cc] = r_stamp + N   /* published, or given up */
          fi;
          claim_state[cc] = EMPTY; claim_holder[cc] = 0
       :: else -> skip
       fi;
       r_stamp = 0; r_holder = 0; r_ok = false;
       if
       :: r_act != R_VOID -> r_act = R_NONE
       :: else -> skip
       fi
     }
     if
     :: r_act == R_VOID -> atomic { COUNT_DONE; r_act = R_NONE }   /* one more position done (a dead writer's) */
     :: else -> skip
     fi
  :: else -> skip
  fi
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
          :: w_stamp == q && w_state == FULL -> act = A_TAKE
          :: w_stamp == q && (w_state == EMPTY || w_state == READING) -> act = A_BUSY
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
        /* empty(q): no sender reached q yet, or a writer holds q's claim (at work, or dead);
         * reading(q): another receiver copies it out (or a dead one held it) */
        maybe_recover(c);
        atomic {
          if
          :: w_state == EMPTY -> act = A_STOP   /* never passed: nothing after it first */
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

#define RECOVER_LOCALS \
  byte r_stamp, r_holder, r_cstamp, r_cstate, r_tail, r_act; bool r_ok
#define SENDER_LOCALS \
  byte k, id, p, c, w_stamp, w_state; bool ok; \
  RECOVER_LOCALS
/* A process that returned or died: its locals are of no more use (zeroed: fewer states). */
#define RECOVER_GONE r_stamp = 0; r_holder = 0; r_cstamp = 0; r_cstate = 0; r_tail = 0; r_act = 0; r_ok = false
#define SENDER_GONE k = 0; id = 0; p = 0; c = 0; w_stamp = 0; w_state = 0; ok = false; RECOVER_GONE

/* ring_send of MSGS messages, one at a time, by sender `me`. */
inline send_all(me, first_id, count) {
  id = first_id;
  do
  :: k == count -> break
  :: k < count ->
send:
     atomic { p = tail; c = 0; w_stamp = 0; w_state = 0 };
claim:
     /* 1. claim position p: compare-exchange the claim word empty(p) -> writing(p, me) */
     atomic {
       c = p % N;
       if
       :: claim_stamp[c] == p && claim_state[c] == EMPTY -> claim_state[c] = WRITING; claim_holder[c] = me; ok = true
       :: else -> w_stamp = claim_stamp[c]; w_state = claim_state[c]; ok = false
       fi
     }
     if
     :: ok ->
        /* 2. one load of the cell word: empty(p), or an older message still in it */
        atomic { ok = (stamp[c] == p && state[c] == EMPTY) }
        if
        :: ok ->
           /* 3. move the tail: a store (only the holder of p's claim moves the tail from p) */
           atomic { assert(tail == p); tail = p + 1 };
           /* 4. write the message and publish it: compare-exchange empty(p) -> full(p) (nobody
            * reads an empty cell's bytes) */
           atomic {
             if
             :: stamp[c] == p && state[c] == EMPTY ->
                payload[c] = id; state[c] = FULL; published[id] = true; CHANGED; ok = true
             :: else -> ok = false
             fi
           }
           if
           :: ok ->
              /* 5. release the claim for the cell's next position: send() returns */
              atomic {
                claim_stamp[c] = p + N; claim_state[c] = EMPTY; claim_holder[c] = 0;
                k++; id = first_id + k; ok = false; c = 0; p = 0
              }
           :: else ->
              /* a recovery gave the position up: the message is not sent, the claim not
               * touched; obstructed. Recovery gives up only a dead claimant's position, so
               * never while this sender lives: */
              assert(!alive[me]);
              goto busy
           fi
        :: else ->
           /* an older message still in the cell: give the claim back */
           atomic { claim_state[c] = EMPTY; claim_holder[c] = 0 };
           atomic { ok = (done <= p && p - done >= N) }
           if
           :: ok ->
              /* full: a dead one's (the head's cell)? */
              atomic { c = head % N; ok = false }
              maybe_recover(c);
              /* wait for room, or for the end of a slice while a dead process holds a cell or
               * a claim; with no receiver left, a full ring stays full: the sender stops (a
               * real one waits) */
              atomic { tail - done < N || DEAD_CLAIMS || !RECEIVERS_ALIVE };
              recover_all();
              if
              :: atomic { !RECEIVERS_ALIVE -> c = 0; p = 0 }; break
              :: else -> goto send
              fi
           :: else ->
              /* not full as counted: a receiver may have emptied the cell between the two loads
               * (it empties the cell, then counts it done): one more load of the cell word;
               * free now, p is claimed again; else obstructed (bounded to 4 tries in the C++) */
              atomic { ok = (stamp[c] == p && state[c] == EMPTY); w_stamp = stamp[c]; w_state = state[c] }
              if
              :: ok -> ok = false; goto claim
              :: !ok && w_stamp >= p -> goto send   /* p was claimed by another meanwhile */
              :: !ok && w_stamp < p && w_state == READING ->
                 /* a receiver copies the older message out (RingSend::held): wait for the cell
                  * to change, as for room (its finish wakes senders), or for the end of a slice
                  * while a dead process holds a cell or a claim; then look again */
                 maybe_recover(c);
                 atomic { stamp[c] != w_stamp || state[c] != READING || DEAD_CLAIMS };
                 recover_all();
                 goto send
              :: else -> goto busy
              fi
           fi
        fi
     :: else ->
        if
        :: w_stamp > p -> atomic { p = tail; w_stamp = 0; w_state = 0 }; goto claim   /* a stale view of the tail */
        :: w_stamp < p || w_state == WRITING ->
busy:
           /* busy: obstructed (the real sender queues in the slots, behind the ring) */
           maybe_recover(c);
           if
           :: goto send                    /* retry this message */
           :: break                        /* or stop sending */
           fi
        fi
     fi
  od
}

proctype Sender(byte me; byte first_id; byte count) {
  SENDER_LOCALS;
  send_all(me, first_id, count);
  atomic { alive[me] = false; senders_finished++; finished++; SENDER_GONE }
}

/* The sender that may be killed at any step (only one process may die: see Killer). */
proctype DoomedSender(byte me; byte first_id; byte count) {
  SENDER_LOCALS;
  {
    send_all(me, first_id, count);
    atomic { alive[me] = false; senders_finished++; finished++; SENDER_GONE }
  } unless {
    kill_requested ->
      atomic { alive[me] = false; senders_finished++; finished++; CHANGED; SENDER_GONE }   /* SIGKILL */
  }
}

#define RECEIVER_LOCALS \
  byte first, until, q, c, w_stamp, w_state, seen_tail, id, act; bool ok, taken; \
  RECOVER_LOCALS
#define RECEIVER_GONE \
  first = 0; until = 0; q = 0; c = 0; w_stamp = 0; w_state = 0; seen_tail = 0; id = 0; act = 0; \
  ok = false; taken = false; RECOVER_GONE

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
           /* the end of a slice (while a dead process holds a cell or a claim, or the senders
            * are finished): recover; stop when the senders are finished and nothing changed
            * since a look that found nothing */
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
  atomic { alive[me] = false; finished++; RECEIVER_GONE }
}

proctype DoomedReceiver(byte me) {
  RECEIVER_LOCALS;
  {
    receive_all(me);
    atomic { alive[me] = false; finished++; RECEIVER_GONE }
  } unless {
    kill_requested ->
      atomic { alive[me] = false; finished++; CHANGED; RECEIVER_GONE }   /* SIGKILL */
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
    stamp[1] = 1; claim_stamp[1] = 1;      /* cell i is for position i first */
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
    /* every cell and claim free, for the same position: the next one of the cell at or past
     * the tail (the ring works on) */
    for (c : 0 .. N - 1) {
      assert(state[c] == EMPTY && claim_state[c] == EMPTY);
      assert(claim_stamp[c] == stamp[c] && stamp[c] >= tail && stamp[c] < tail + N && stamp[c] % N == c)
    }
  }
}
