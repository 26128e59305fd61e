/*  ab_follower - every committed event exactly once, in seq order (Clone)
    The zguide Clone pattern, the way services and `abbey events` read the
    log: SUBSCRIBE to busd's "ev." stream first (live events are buffered),
    READ from logd from the cursor to the head, then switch to live: drop
    what is already consumed (seq ≤ cursor), hand out seq == cursor + 1, and
    on a gap (seq > cursor + 1: the PUB dropped messages for a slow
    subscriber) READ the missing range from logd. When nothing arrives for
    an idle interval it asks logd for HEAD and reads if behind, because a
    message dropped at the tail of a burst would otherwise never be noticed.

        busd ──ev.* (lossy)──► SUB ─┐
                                    ├─► reorder/dedupe ─► chain check ─► filter ─► next()
        logd ◄──READ/HEAD── DEALER ─┘   (gaps and idle)

    Every event handed out links to the one before it: its prev is the
    previous event's hash and its own hash recomputes; a mismatch is
    AB_E_CORRUPT naming the seq (nothing is handed out, the buffers are
    dropped and the next call reads again from logd). History logd no
    longer holds is AB_E_TRUNCATED, never a silent gap.

    Rules of the API:
    - `from` is the first seq wanted (≥ 1): events with seq ≥ from are
      handed out. A service resuming after its cursor C passes C + 1.
    - Filters (type prefixes: any of them; one subject prefix) are applied
      here, after the gap and chain checks: the follower sees every seq.
      Filtered-out events still move the cursor.
    - Sockets are opened on the first ab_follower_next, so the setters take
      effect only when called before it.
    - ab_follower_next returns NULL with *err unset when nothing new came
      within the timeout. NULL with *err set is a failure: AB_E_CORRUPT and
      AB_E_TRUNCATED are final for that range; AB_E_TIMEOUT /
      AB_E_UNAVAILABLE (logd did not answer a READ/HEAD) leave the follower
      usable, so call again. A READ may block up to the log client's
      timeout (5 s) regardless of timeout_ms.
    - Not thread-safe: one follower per thread.                            */
#ifndef AB_FOLLOWER_H
#define AB_FOLLOWER_H

#include "ab_cluster.h"
#include "ab_error.h"
#include "ab_event.h"
#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct _ab_follower_t ab_follower_t;

//  Counters, for tests and for operators wondering why a follower is busy.
typedef struct {
    uint64_t delivered;      //  events handed out by next (after filters)
    uint64_t filtered;       //  events consumed but filtered out
    uint64_t live;           //  events taken from the bus and consumed
    uint64_t read;           //  events read from logd and consumed
    uint64_t stale;          //  live events dropped: already consumed
    uint64_t malformed;      //  bus messages that failed to decode
    uint64_t gap_fills;      //  READs to fill a gap in live seqs
    uint64_t idle_fills;     //  HEADs after an idle interval that found us behind
    uint64_t overflow;       //  live events dropped: the buffer was full
} ab_follower_stats_t;

//  Follow the log of a cluster as identity `name` (NULL: "admin") from seq
//  `from` (≥ 1). Checks the identity's secret key now; connects lazily.
//  NULL and *err if the key cannot be loaded or from is 0.
ab_follower_t *ab_follower_new (ab_cluster_t *cluster, const char *name, uint64_t from,
                                ab_error_t **err);

//  Close and null. Safe on NULL.
void ab_follower_destroy (ab_follower_t **self_p);

//  Hand out only events whose type starts with prefix; call again to add
//  more (any may match). AB_E_INVALID if longer than AB_TYPE_MAX.
int ab_follower_add_type (ab_follower_t *self, const char *prefix, ab_error_t **err);

//  Hand out only events whose subject starts with prefix (replaces the
//  previous one; NULL clears). AB_E_INVALID if longer than AB_SUBJ_MAX.
int ab_follower_set_subject (ab_follower_t *self, const char *prefix, ab_error_t **err);

//  History only (`abbey events` without --follow): no bus; read up to the
//  head logd reports on the first next, then next returns NULL at once
//  and ab_follower_caught_up is true.
void ab_follower_set_history_only (ab_follower_t *self, bool history_only);

//  Idle interval after which the follower asks logd for HEAD (default
//  500 ms). Lower is quicker to notice a dropped tail; higher is quieter.
void ab_follower_set_idle (ab_follower_t *self, int idle_ms);

//  Receive high-water mark and kernel buffer of the SUB socket (0: the
//  defaults). Small values make a slow follower drop on the bus early;
//  tests use them to prove the gap path.
void ab_follower_set_rcvhwm (ab_follower_t *self, int rcvhwm, int rcvbuf);

//  Next event in seq order, waiting up to timeout_ms (-1 forever, 0 not at
//  all). The caller owns and destroys it. NULL: see the rules above.
ab_event_t *ab_follower_next (ab_follower_t *self, int timeout_ms, ab_error_t **err);

//  True when every event up to the head logd last reported has been
//  consumed (handed out or filtered). In history-only mode, true once
//  next has reached the head it stops at.
bool ab_follower_caught_up (ab_follower_t *self);

//  Last seq consumed (from - 1 before the first). A service stores it
//  and passes cursor + 1 as `from` when it restarts.
uint64_t ab_follower_cursor (ab_follower_t *self);

//  The SUB socket, to poll with a service's other sockets (then call next
//  with timeout 0); NULL before the first next or in history-only mode.
//  Poll with a timeout ≤ the idle interval, and call next when it expires,
//  so a dropped tail is still noticed. Borrowed.
zsock_t *ab_follower_socket (ab_follower_t *self);

//  Counters since the follower was made.
void ab_follower_stats (ab_follower_t *self, ab_follower_stats_t *stats);

void ab_follower_test (bool verbose);

#endif
