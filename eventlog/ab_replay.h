/*  ab_replay - replay a local store on two threads: what a rebuild runs
    A rebuild (a service's start, bench-rebuild) decodes, hash-checks and
    chains every stored event, then applies it. Done in one thread that is
    ~1 µs per event; here a worker thread scans and decodes while the
    caller's thread applies, and whichever thread would otherwise wait
    hash-checks the next batch, so both cores stay busy.

        worker: ab_store_scan ─ decode ─► ring of batches ─► caller: chain ─ fn
                       └── hash-check a batch the caller has not reached ──┘

    Rules of the API:
    - Events reach fn in seq order, each decoded strictly (COMMITTED), its
      hash recomputed and its prev equal to the hash of the event before
      (of event `after`, or zeros from seq 1). The first event that breaks
      this stops the replay: everything before it has been handed to fn,
      nothing after it is, and the error (AB_E_CORRUPT) names its seq.
    - fn runs in the caller's thread and owns *event_p if it nulls it;
      otherwise the event is destroyed after fn returns. fn's non-zero
      return stops the replay without error.
    - The store is read by the worker thread only while the call lasts; the
      caller must not use it from elsewhere meanwhile (ab_store's rule).  */
#ifndef AB_REPLAY_H
#define AB_REPLAY_H

#include "ab_store.h"

typedef int (ab_replay_fn) (ab_event_t **event_p, void *arg);

//  Replay every event with seq > after, up to the head as it was when the
//  replay began. Returns the number of events handed to fn, or negative and
//  *err: truncated (after + 1 < first), storage, corrupt (naming the seq).
int64_t ab_replay_store (ab_store_t *store, uint64_t after, ab_replay_fn *fn, void *arg,
                         ab_error_t **err);

void ab_replay_test (bool verbose);

#endif
