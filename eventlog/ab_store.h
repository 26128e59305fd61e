/*  ab_store - the hash-chained event log on LevelDB: sequencer, dedupe, reads
    The only writer of seq. A batch of produced events is deduped, sealed
    (seq, ts, src, prev, hash), encoded and written in ONE synced LevelDB
    WriteBatch; the in-memory head moves only after that write succeeds, so
    whatever ab_store_append returned is on disk.

    Layout (keys sort apart by their first byte):
        0x00 + seq (8 bytes, big-endian)     → canonical committed envelope
        'm' 'h'                              → head: seq (8 BE) + hash (32)
        'm' 'f'                              → first seq held (8 BE)
        'p' + producer Z85 (40)              → highest pseq seen (8 BE)
        'd' + producer Z85 (40) + pseq (8 BE)→ seq it got (8 BE)

    Rules of the API:
    - One thread at a time per store (logd's actor owns it).
    - Envelope bytes handed to callbacks are borrowed for the call only.
    - Log time is monotonic: ts = CLOCK_REALTIME ns, but never less than the
      ts of the event before it.
    - pseq 0 means "no dedupe" (CONTRACTS.md).                              */
#ifndef AB_STORE_H
#define AB_STORE_H

#include "ab_error.h"
#include "ab_event.h"
#include <stdbool.h>
#include <stdint.h>

typedef struct _ab_store_t ab_store_t;

//  One produced event in an append batch. The caller fills the inputs; the
//  store fills the outputs on success and leaves them untouched on failure.
typedef struct {
    //  in
    ab_event_t *event;    //  PRODUCED form, borrowed; sealed in place
    const char *src;      //  "ROLE:NAME:KEYID" of the producer, borrowed
    const char *producer; //  producer's Z85 public key (40 chars), borrowed
    //  out
    uint64_t seq;   //  seq committed, or the original seq of a dupe
    bool duplicate; //  true: (producer, pseq) was already logged
    uint8_t *bytes; //  committed envelope (NULL for a duplicate);
                    //  the caller frees it (ab_store_item_clear)
    size_t size;    //  bytes in `bytes`
} ab_store_item_t;

//  Called for each event in a scan, in seq order. Return non-zero to stop.
typedef int (ab_store_fn) (uint64_t seq, const uint8_t *bytes, size_t size, void *arg);

//  Open or create the log in dir (created if missing); restores head and
//  the dedupe state. NULL and *err (storage, corrupt) on failure.
ab_store_t *ab_store_open (const char *dir, ab_error_t **err);

//  Close and null the reference. Safe on NULL.
void ab_store_close (ab_store_t **self_p);

//  Append a batch in one synced write. Items are processed in order; an item
//  whose (producer, pseq) is already in the log, or earlier in the same
//  batch, gets duplicate=true and the original seq, and appends nothing.
//  Returns the number of events appended (≥ 0); on failure returns negative
//  with *err (storage, or oversize if a sealed envelope breaks the frame
//  limit), writes nothing and changes no item and no in-memory state.
int ab_store_append (ab_store_t *self, ab_store_item_t *items, size_t count, ab_error_t **err);

//  Free an item's output bytes and reset its outputs.
void ab_store_item_clear (ab_store_item_t *item);

//  Seq of the last event (0 for an empty log); copies its hash into hash
//  (zeros for an empty log) if hash is not NULL.
uint64_t ab_store_head (ab_store_t *self, uint8_t hash[AB_HASH_SIZE]);

//  First seq the store holds history from (1 until ab_store_truncate). Reading before it is
//  AB_E_TRUNCATED: history that is gone is an error, never a silent gap.
uint64_t ab_store_first (ab_store_t *self);

//  Drop the history before seq `first` (2 ≤ first ≤ head): the events
//  before it are deleted and `first` is recorded, in one synced write. This
//  is what retention calls; reading before `first` is then AB_E_TRUNCATED.
//  The chain from `first` on stays verifiable: its anchor is the prev that
//  event `first` carries. Dedupe rows stay, so a late retry of a dropped
//  event still gets its seq back and appends nothing. Returns 0, or -1 and
//  *err (invalid: out of range; storage).
int ab_store_truncate (ab_store_t *self, uint64_t first, ab_error_t **err);

//  Commit time (ts) of the head event, 0 for an empty log.
uint64_t ab_store_head_ts (ab_store_t *self);

//  Copy of the committed envelope at seq into a malloc'd buffer the caller
//  frees. NULL and *err: not-found (seq > head or 0), truncated (before
//  first), storage.
uint8_t *ab_store_get (ab_store_t *self, uint64_t seq, size_t *size, ab_error_t **err);

//  Decoded event at seq (COMMITTED form); caller destroys. NULL and *err as
//  ab_store_get, or corrupt if the stored bytes do not decode.
ab_event_t *ab_store_event (ab_store_t *self, uint64_t seq, ab_error_t **err);

//  Call fn for each event with seq > after, in order, up to the head as it
//  was when the scan began. Returns the number of events passed to fn, or
//  negative and *err (truncated if after + 1 < first, storage, corrupt on
//  a missing seq). fn's non-zero return stops the scan without error.
int64_t ab_store_scan (ab_store_t *self, uint64_t after, ab_store_fn *fn, void *arg,
                       ab_error_t **err);

//  First seq whose ts is ≥ ts (binary search: log time is monotonic);
//  head + 1 if every event is older. Negative and *err on storage/corrupt.
int64_t ab_store_seq_at_time (ab_store_t *self, uint64_t ts, ab_error_t **err);

//  Recompute the chain over [from, to] (to = 0 or > head means head): each
//  stored value must decode, carry its own seq, hash to its `hash`, and
//  link to the previous event's hash (zeros before seq 1); the head record
//  must match the last event. Returns 0 if intact. Otherwise returns
//  negative with *bad_seq set to the first bad seq and *err (corrupt)
//  naming it and what was wrong; storage errors leave *bad_seq 0.
int ab_store_verify (ab_store_t *self, uint64_t from, uint64_t to, uint64_t *bad_seq,
                     ab_error_t **err);

//  Path of the LevelDB directory. Borrowed.
const char *ab_store_path (ab_store_t *self);

//  Fault injection for tests of the "never ack what is not on disk" path:
//  while set, every append fails with AB_E_STORAGE before writing.
void ab_store_set_fail_writes (ab_store_t *self, bool fail);

void ab_store_test (bool verbose);

#endif
