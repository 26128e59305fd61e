/*  ab_store - the hash-chained event log on LevelDB: sequencer, dedupe, reads
    Everything one append changes (events, dedupe rows, per-producer
    highest pseq, head) goes into one WriteBatch written with sync=true, so
    a crash leaves either all of it or none of it on disk.                 */
//  Selftests assert behaviour: keep assert live in release builds too.
#undef NDEBUG
#include <assert.h>

#include "ab_store.h"

#include <assert.h>
#include <czmq.h>
#include <ftw.h>
#include <leveldb/c.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define S_KEY_EVENT 0x00                   //  + seq BE
#define S_KEY_META 'm'                     //  + 'h' head, + 'f' first
#define S_KEY_PSEQ 'p'                     //  + producer Z85: highest pseq
#define S_KEY_DEDUPE 'd'                   //  + producer Z85 + pseq BE: seq
#define S_PRODUCER_MAX 64                  //  producer key bytes we accept (Z85 is 40)
#define S_HEAD_SIZE (8 + AB_HASH_SIZE + 8) //  seq, hash, ts

struct _ab_store_t {
    char *path; //  LevelDB directory
    leveldb_t *db;
    leveldb_options_t *options;
    leveldb_cache_t *cache;          //  block cache for reads
    leveldb_filterpolicy_t *filter;  //  bloom filter: dedupe lookups miss cheaply
    leveldb_writeoptions_t *wsync;   //  sync=true: acked means on disk
    leveldb_readoptions_t *rdefault; //  point lookups
    leveldb_readoptions_t *rscan;    //  scans don't evict the cache
    uint64_t head;                   //  last seq, 0 = empty
    uint8_t head_hash[AB_HASH_SIZE]; //  its hash, zeros when empty
    uint64_t head_ts;                //  its ts, 0 when empty
    uint64_t first;                  //  first seq held
    zhashx_t *highest;               //  producer Z85 → uint64_t * highest pseq
    bool fail_writes;                //  test hook: fail appends
};

static void
s_put_be64 (uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static uint64_t
s_get_be64 (const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static void
s_event_key (uint8_t key[9], uint64_t seq)
{
    key[0] = S_KEY_EVENT;
    s_put_be64 (key + 1, seq);
}

//  'd' + producer + pseq; returns the key length.
static size_t
s_dedupe_key (uint8_t *key, const char *producer, size_t plen, uint64_t pseq)
{
    key[0] = S_KEY_DEDUPE;
    memcpy (key + 1, producer, plen);
    s_put_be64 (key + 1 + plen, pseq);
    return 1 + plen + 8;
}

static uint64_t
s_now_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

//  Turn a LevelDB error string into ours and free it.
static int
s_ldb_error (ab_error_t **err, char *errptr, const char *what, ab_store_t *self)
{
    int rc = ab_error_set (err, AB_E_STORAGE, "%s %s: %s", what, self->path,
                           errptr ? errptr : "unknown LevelDB error");
    leveldb_free (errptr);
    return rc;
}

static void
s_free_p (void *p)
{
    free (*(void **)p);
}

//  --------------------------------------------------------------------------
//  Open, close

static int
s_restore (ab_store_t *self, ab_error_t **err)
{
    char *errptr = NULL;
    size_t len;
    char *v = leveldb_get (self->db, self->rdefault, "mh", 2, &len, &errptr);
    if (errptr)
        return s_ldb_error (err, errptr, "read head of", self);
    if (v) {
        if (len != S_HEAD_SIZE) {
            leveldb_free (v);
            return ab_error_set (err, AB_E_CORRUPT, "%s: head record of %zu bytes, expected %d",
                                 self->path, len, S_HEAD_SIZE);
        }
        self->head = s_get_be64 ((uint8_t *)v);
        memcpy (self->head_hash, v + 8, AB_HASH_SIZE);
        self->head_ts = s_get_be64 ((uint8_t *)v + 8 + AB_HASH_SIZE);
        leveldb_free (v);
    }
    v = leveldb_get (self->db, self->rdefault, "mf", 2, &len, &errptr);
    if (errptr)
        return s_ldb_error (err, errptr, "read first seq of", self);
    self->first = 1;
    if (v) {
        if (len == 8)
            self->first = s_get_be64 ((uint8_t *)v);
        leveldb_free (v);
        if (len != 8 || self->first == 0)
            return ab_error_set (err, AB_E_CORRUPT, "%s: bad first-seq record", self->path);
    }
    //  The head record is written in the same batch as its events: an event
    //  after it means the directory was tampered with or mixed up.
    uint8_t key[9];
    s_event_key (key, self->head + 1);
    v = leveldb_get (self->db, self->rdefault, (char *)key, 9, &len, &errptr);
    if (errptr)
        return s_ldb_error (err, errptr, "read", self);
    if (v) {
        leveldb_free (v);
        return ab_error_set (err, AB_E_CORRUPT,
                             "%s: head record says seq %" PRIu64 " but seq %" PRIu64 " is stored",
                             self->path, self->head, self->head + 1);
    }

    //  Per-producer highest pseq: one row per producer, so this is small.
    leveldb_iterator_t *it = leveldb_create_iterator (self->db, self->rscan);
    leveldb_iter_seek (it, "p", 1);
    for (; leveldb_iter_valid (it); leveldb_iter_next (it)) {
        size_t klen, vlen;
        const char *k = leveldb_iter_key (it, &klen);
        if (klen < 1 || k[0] != S_KEY_PSEQ)
            break;
        const char *val = leveldb_iter_value (it, &vlen);
        if (klen - 1 > S_PRODUCER_MAX || vlen != 8) {
            leveldb_iter_destroy (it);
            return ab_error_set (err, AB_E_CORRUPT, "%s: bad producer record", self->path);
        }
        char producer[S_PRODUCER_MAX + 1];
        memcpy (producer, k + 1, klen - 1);
        producer[klen - 1] = 0;
        uint64_t *h = malloc (sizeof *h);
        assert (h);
        *h = s_get_be64 ((const uint8_t *)val);
        zhashx_update (self->highest, producer, h);
    }
    leveldb_iter_get_error (it, &errptr);
    leveldb_iter_destroy (it);
    if (errptr)
        return s_ldb_error (err, errptr, "scan producers of", self);
    return 0;
}

ab_store_t *
ab_store_open (const char *dir, ab_error_t **err)
{
    if (!dir || !*dir) {
        ab_error_set (err, AB_E_INVALID, "store: no data directory given");
        return NULL;
    }
    if (zsys_dir_create ("%s", dir) != 0) {
        ab_error_errno (err, AB_E_STORAGE, errno, "store: create %s", dir);
        return NULL;
    }
    ab_store_t *self = calloc (1, sizeof *self);
    assert (self);
    self->path = strdup (dir);
    self->highest = zhashx_new ();
    zhashx_set_destructor (self->highest, (zhashx_destructor_fn *)s_free_p);
    self->options = leveldb_options_create ();
    leveldb_options_set_create_if_missing (self->options, 1);
    //  Sequential keys and large synced batches: a bigger memtable means
    //  fewer, larger level-0 files and less compaction per event.
    leveldb_options_set_write_buffer_size (self->options, 64u << 20);
    leveldb_options_set_max_file_size (self->options, 32u << 20);
    //  Snappy stays on (LevelDB's default). Measured without it: raw scans
    //  1.5x faster, rebuilds no different (decode and apply dominate), but
    //  durable appends 5-15 % slower, as flushes and compactions write the
    //  2.6x larger tables: envelopes do compress (keys, types, src repeat;
    //  1M bench events: 97 MB of tables with snappy, 256 MB without).
    self->cache = leveldb_cache_create_lru (32u << 20);
    leveldb_options_set_cache (self->options, self->cache);
    self->filter = leveldb_filterpolicy_create_bloom (10);
    leveldb_options_set_filter_policy (self->options, self->filter);
    self->wsync = leveldb_writeoptions_create ();
    leveldb_writeoptions_set_sync (self->wsync, 1);
    self->rdefault = leveldb_readoptions_create ();
    self->rscan = leveldb_readoptions_create ();
    leveldb_readoptions_set_fill_cache (self->rscan, 0);
    self->first = 1;

    char *errptr = NULL;
    self->db = leveldb_open (self->options, dir, &errptr);
    if (!self->db) {
        s_ldb_error (err, errptr, "store: open", self);
        ab_store_close (&self);
        return NULL;
    }
    if (s_restore (self, err)) {
        ab_error_wrap (err, "store: open");
        ab_store_close (&self);
        return NULL;
    }
    return self;
}

void
ab_store_close (ab_store_t **self_p)
{
    assert (self_p);
    ab_store_t *self = *self_p;
    if (!self)
        return;
    if (self->db)
        leveldb_close (self->db);
    leveldb_options_destroy (self->options);
    leveldb_cache_destroy (self->cache);
    leveldb_filterpolicy_destroy (self->filter);
    leveldb_writeoptions_destroy (self->wsync);
    leveldb_readoptions_destroy (self->rdefault);
    leveldb_readoptions_destroy (self->rscan);
    zhashx_destroy (&self->highest);
    free (self->path);
    free (self);
    *self_p = NULL;
}

//  --------------------------------------------------------------------------
//  Append

//  Per-batch working state, thrown away on failure.
typedef struct {
    uint64_t seq;
    bool duplicate;
    uint8_t *bytes;
    size_t size;
} s_out_t;

//  Look (producer, pseq) up on disk: 1 found (*seq set), 0 not, <0 error.
static int
s_dedupe_lookup (ab_store_t *self, const char *producer, size_t plen, uint64_t pseq, uint64_t *seq,
                 ab_error_t **err)
{
    uint8_t key[1 + S_PRODUCER_MAX + 8];
    size_t klen = s_dedupe_key (key, producer, plen, pseq);
    char *errptr = NULL;
    size_t vlen;
    char *v = leveldb_get (self->db, self->rdefault, (char *)key, klen, &vlen, &errptr);
    if (errptr)
        return s_ldb_error (err, errptr, "dedupe lookup in", self);
    if (!v)
        return 0;
    int rc = 1;
    if (vlen == 8)
        *seq = s_get_be64 ((uint8_t *)v);
    else
        rc = ab_error_set (err, AB_E_CORRUPT, "%s: dedupe record of %zu bytes", self->path, vlen);
    leveldb_free (v);
    return rc;
}

static void
s_batch_row (zhashx_t *rows, const char *producer, uint64_t pseq, uint64_t seq)
{
    char rowkey[S_PRODUCER_MAX + 24];
    snprintf (rowkey, sizeof rowkey, "%s/%" PRIu64, producer, pseq);
    uint64_t *row = malloc (sizeof *row);
    assert (row);
    *row = seq;
    zhashx_update (rows, rowkey, row);
}

//  The rows of items [0, upto) appended so far in this batch.
static zhashx_t *
s_batch_rows (ab_store_item_t *items, s_out_t *out, size_t upto)
{
    zhashx_t *rows = zhashx_new ();
    assert (rows);
    zhashx_set_destructor (rows, (zhashx_destructor_fn *)s_free_p);
    for (size_t i = 0; i < upto; i++) {
        uint64_t pseq = ab_event_pseq (items[i].event);
        if (pseq && !out[i].duplicate)
            s_batch_row (rows, items[i].producer, pseq, out[i].seq);
    }
    return rows;
}

int
ab_store_append (ab_store_t *self, ab_store_item_t *items, size_t count, ab_error_t **err)
{
    assert (self);
    assert (items || count == 0);
    if (count == 0)
        return 0;
    if (self->fail_writes)
        return ab_error_set (err, AB_E_STORAGE, "append to %s: writes are failing (injected)",
                             self->path);

    s_out_t *out = calloc (count, sizeof *out);
    assert (out);
    //  Dedupe rows and highest pseqs this batch adds: "producer\0pseq" → seq,
    //  and producer → highest, applied to self->highest only on success.
    //  "producer/pseq" → seq of this batch's rows, built only when an item
    //  could repeat an earlier one (its pseq is not above its producer's
    //  highest so far): the usual ascending pseqs cost no row keys at all.
    zhashx_t *batch_rows = NULL;
    zhashx_t *batch_high = zhashx_new ();
    zhashx_set_destructor (batch_high, (zhashx_destructor_fn *)s_free_p);
    leveldb_writebatch_t *wb = leveldb_writebatch_create ();

    uint64_t seq = self->head;
    uint8_t prev[AB_HASH_SIZE];
    memcpy (prev, self->head_hash, AB_HASH_SIZE);
    //  Log time never goes backwards, even if the wall clock does.
    uint64_t ts = s_now_ns ();
    if (ts < self->head_ts)
        ts = self->head_ts;
    int rc = 0;
    int appended = 0;

    for (size_t i = 0; i < count; i++) {
        ab_store_item_t *item = &items[i];
        assert (item->event && item->src && item->producer);
        size_t plen = strlen (item->producer);
        if (plen == 0 || plen > S_PRODUCER_MAX) {
            rc = ab_error_set (err, AB_E_INVALID, "append item %zu: producer key of %zu bytes", i,
                               plen);
            goto done;
        }
        uint64_t pseq = ab_event_pseq (item->event);
        const uint64_t *so_far = zhashx_lookup (batch_high, item->producer);
        if (!so_far)
            so_far = zhashx_lookup (self->highest, item->producer);
        if (pseq && so_far && pseq <= *so_far) {
            if (!batch_rows)
                batch_rows = s_batch_rows (items, out, i);
            char rowkey[S_PRODUCER_MAX + 24];
            snprintf (rowkey, sizeof rowkey, "%s/%" PRIu64, item->producer, pseq);
            uint64_t *dup = zhashx_lookup (batch_rows, rowkey);
            uint64_t found = 0;
            int hit = 0;
            if (dup) {
                found = *dup;
                hit = 1;
            } else {
                uint64_t *high = zhashx_lookup (self->highest, item->producer);
                //  Only a pseq at or below what this producer already used
                //  can be a retry: the common case costs no disk read.
                if (high && pseq <= *high) {
                    hit = s_dedupe_lookup (self, item->producer, plen, pseq, &found, err);
                    if (hit < 0) {
                        rc = hit;
                        goto done;
                    }
                }
            }
            if (hit) {
                out[i].seq = found;
                out[i].duplicate = true;
                continue;
            }
        }
        seq++;
        ab_event_seal (item->event, seq, ts, item->src, prev);
        ab_error_t *eerr = NULL;
        out[i].bytes = ab_event_encode (item->event, &out[i].size, &eerr);
        if (!out[i].bytes || out[i].size > AB_FRAME_MAX) {
            rc = ab_error_set (err, eerr ? eerr->code : AB_E_OVERSIZE,
                               "append item %zu: sealed envelope: %s", i,
                               eerr ? ab_error_msg (eerr) : "larger than the frame limit");
            ab_error_destroy (&eerr);
            goto done;
        }
        out[i].seq = seq;
        uint8_t key[9];
        s_event_key (key, seq);
        leveldb_writebatch_put (wb, (char *)key, 9, (char *)out[i].bytes, out[i].size);
        memcpy (prev, ab_event_hash (item->event), AB_HASH_SIZE);
        appended++;
        if (pseq) {
            uint8_t dkey[1 + S_PRODUCER_MAX + 8], val[8];
            size_t dlen = s_dedupe_key (dkey, item->producer, plen, pseq);
            s_put_be64 (val, seq);
            leveldb_writebatch_put (wb, (char *)dkey, dlen, (char *)val, 8);
            if (batch_rows)
                s_batch_row (batch_rows, item->producer, pseq, seq);
            uint64_t *high = zhashx_lookup (batch_high, item->producer);
            if (!high) {
                uint64_t *old = zhashx_lookup (self->highest, item->producer);
                high = malloc (sizeof *high);
                assert (high);
                *high = old ? *old : 0;
                zhashx_insert (batch_high, item->producer, high);
            }
            if (pseq > *high)
                *high = pseq;
        }
    }
    if (appended == 0 && zhashx_size (batch_high) == 0)
        goto done; //  all duplicates: nothing to write

    //  Per-producer highest pseq rows, then the head.
    for (uint64_t *high = zhashx_first (batch_high); high; high = zhashx_next (batch_high)) {
        const char *producer = zhashx_cursor (batch_high);
        uint8_t pkey[1 + S_PRODUCER_MAX], val[8];
        size_t plen = strlen (producer);
        pkey[0] = S_KEY_PSEQ;
        memcpy (pkey + 1, producer, plen);
        s_put_be64 (val, *high);
        leveldb_writebatch_put (wb, (char *)pkey, 1 + plen, (char *)val, 8);
    }
    uint8_t head[S_HEAD_SIZE];
    s_put_be64 (head, seq);
    memcpy (head + 8, prev, AB_HASH_SIZE);
    s_put_be64 (head + 8 + AB_HASH_SIZE, appended ? ts : self->head_ts);
    leveldb_writebatch_put (wb, "mh", 2, (char *)head, S_HEAD_SIZE);

    char *errptr = NULL;
    leveldb_write (self->db, self->wsync, wb, &errptr);
    if (errptr) {
        rc = s_ldb_error (err, errptr, "synced write to", self);
        goto done;
    }
    //  On disk: now, and only now, memory follows.
    for (uint64_t *high = zhashx_first (batch_high); high; high = zhashx_next (batch_high)) {
        uint64_t *h = malloc (sizeof *h);
        assert (h);
        *h = *high;
        zhashx_update (self->highest, zhashx_cursor (batch_high), h);
    }
    if (appended) {
        self->head = seq;
        memcpy (self->head_hash, prev, AB_HASH_SIZE);
        self->head_ts = ts;
    }

done:
    if (rc == 0) {
        for (size_t i = 0; i < count; i++) {
            items[i].seq = out[i].seq;
            items[i].duplicate = out[i].duplicate;
            items[i].bytes = out[i].bytes;
            items[i].size = out[i].size;
        }
    } else
        for (size_t i = 0; i < count; i++)
            free (out[i].bytes);
    free (out);
    zhashx_destroy (&batch_rows);
    zhashx_destroy (&batch_high);
    leveldb_writebatch_destroy (wb);
    return rc < 0 ? rc : appended;
}

void
ab_store_item_clear (ab_store_item_t *item)
{
    assert (item);
    free (item->bytes);
    item->bytes = NULL;
    item->size = 0;
    item->seq = 0;
    item->duplicate = false;
}

//  --------------------------------------------------------------------------
//  Reads

uint64_t
ab_store_head (ab_store_t *self, uint8_t hash[AB_HASH_SIZE])
{
    assert (self);
    if (hash)
        memcpy (hash, self->head_hash, AB_HASH_SIZE);
    return self->head;
}

uint64_t
ab_store_first (ab_store_t *self)
{
    assert (self);
    return self->first;
}

uint64_t
ab_store_head_ts (ab_store_t *self)
{
    assert (self);
    return self->head_ts;
}

const char *
ab_store_path (ab_store_t *self)
{
    assert (self);
    return self->path;
}

void
ab_store_set_fail_writes (ab_store_t *self, bool fail)
{
    assert (self);
    self->fail_writes = fail;
}

uint8_t *
ab_store_get (ab_store_t *self, uint64_t seq, size_t *size, ab_error_t **err)
{
    assert (self);
    assert (size);
    if (seq == 0 || seq > self->head) {
        ab_error_set (err, AB_E_NOT_FOUND, "seq %" PRIu64 ": not in the log (head is %" PRIu64 ")",
                      seq, self->head);
        return NULL;
    }
    if (seq < self->first) {
        ab_error_set (err, AB_E_TRUNCATED,
                      "seq %" PRIu64 ": the log holds history from seq %" PRIu64, seq, self->first);
        return NULL;
    }
    uint8_t key[9];
    s_event_key (key, seq);
    char *errptr = NULL;
    size_t len;
    char *v = leveldb_get (self->db, self->rdefault, (char *)key, 9, &len, &errptr);
    if (errptr) {
        s_ldb_error (err, errptr, "read", self);
        return NULL;
    }
    if (!v) {
        ab_error_set (err, AB_E_CORRUPT, "seq %" PRIu64 ": missing from %s (head is %" PRIu64 ")",
                      seq, self->path, self->head);
        return NULL;
    }
    uint8_t *copy = malloc (len ? len : 1);
    assert (copy);
    memcpy (copy, v, len);
    leveldb_free (v);
    *size = len;
    return copy;
}

ab_event_t *
ab_store_event (ab_store_t *self, uint64_t seq, ab_error_t **err)
{
    assert (self);
    size_t size;
    uint8_t *bytes __attribute__ ((cleanup (s_free_p))) = ab_store_get (self, seq, &size, err);
    if (!bytes)
        return NULL;
    ab_error_t *derr = NULL;
    ab_event_t *ev = ab_event_decode (bytes, size, AB_EVENT_COMMITTED, AB_FRAME_MAX, &derr);
    if (!ev) {
        ab_error_set (err, AB_E_CORRUPT, "seq %" PRIu64 ": stored envelope does not decode: %s",
                      seq, ab_error_msg (derr));
        ab_error_destroy (&derr);
    }
    return ev;
}

//  Scan (after, end]; end ≤ head.
static int64_t
s_scan (ab_store_t *self, uint64_t after, uint64_t end, ab_store_fn *fn, void *arg,
        ab_error_t **err)
{
    if (after >= end)
        return 0;
    leveldb_iterator_t *it = leveldb_create_iterator (self->db, self->rscan);
    uint8_t key[9];
    s_event_key (key, after + 1);
    leveldb_iter_seek (it, (char *)key, 9);
    int64_t passed = 0;
    int64_t rc = 0;
    for (uint64_t want = after + 1; want <= end; want++) {
        size_t klen = 0, vlen;
        const char *k = leveldb_iter_valid (it) ? leveldb_iter_key (it, &klen) : NULL;
        if (!k || klen != 9 || k[0] != S_KEY_EVENT || s_get_be64 ((const uint8_t *)k + 1) != want) {
            char *errptr = NULL;
            leveldb_iter_get_error (it, &errptr);
            if (errptr)
                rc = s_ldb_error (err, errptr, "scan", self);
            else
                rc = ab_error_set (err, AB_E_CORRUPT,
                                   "seq %" PRIu64 ": missing from %s (head is %" PRIu64 ")", want,
                                   self->path, end);
            break;
        }
        const char *v = leveldb_iter_value (it, &vlen);
        passed++;
        if (fn (want, (const uint8_t *)v, vlen, arg))
            break;
        leveldb_iter_next (it);
    }
    leveldb_iter_destroy (it);
    return rc < 0 ? rc : passed;
}

int64_t
ab_store_scan (ab_store_t *self, uint64_t after, ab_store_fn *fn, void *arg, ab_error_t **err)
{
    assert (self);
    assert (fn);
    if (after + 1 < self->first)
        return ab_error_set (err, AB_E_TRUNCATED,
                             "read from seq %" PRIu64 ": the log holds history from seq %" PRIu64,
                             after + 1, self->first);
    return s_scan (self, after, self->head, fn, arg, err);
}

int
ab_store_truncate (ab_store_t *self, uint64_t first, ab_error_t **err)
{
    assert (self);
    if (first < 2 || first > self->head)
        return ab_error_set (err, AB_E_INVALID,
                             "truncate before seq %" PRIu64 ": must be in 2..%" PRIu64
                             " (the head), so the log keeps at least one event",
                             first, self->head);
    if (first <= self->first)
        return 0;
    leveldb_writebatch_t *wb = leveldb_writebatch_create ();
    uint8_t key[9];
    for (uint64_t seq = self->first; seq < first; seq++) {
        s_event_key (key, seq);
        leveldb_writebatch_delete (wb, (char *)key, sizeof key);
    }
    uint8_t val[8];
    s_put_be64 (val, first);
    leveldb_writebatch_put (wb, "mf", 2, (char *)val, sizeof val);
    char *errptr = NULL;
    leveldb_write (self->db, self->wsync, wb, &errptr);
    leveldb_writebatch_destroy (wb);
    if (errptr)
        return s_ldb_error (err, errptr, "synced truncate of", self);
    self->first = first;
    return 0;
}

int64_t
ab_store_seq_at_time (ab_store_t *self, uint64_t ts, ab_error_t **err)
{
    assert (self);
    uint64_t lo = self->first, hi = self->head + 1;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        ab_event_t *ev = ab_store_event (self, mid, err);
        if (!ev)
            return err && *err ? -(int64_t)(*err)->code : -AB_E_CORRUPT;
        uint64_t mts = ab_event_ts (ev);
        ab_event_destroy (&ev);
        if (mts < ts)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (int64_t)lo;
}

//  --------------------------------------------------------------------------
//  Verify

typedef struct {
    uint8_t prev[AB_HASH_SIZE]; //  hash the next event must link to
    uint64_t bad;               //  first bad seq, 0 while intact
    uint64_t last;              //  last seq the scan handed over
    ab_error_t **err;
} s_verify_t;

static int
s_verify_one (uint64_t seq, const uint8_t *bytes, size_t size, void *arg)
{
    s_verify_t *v = (s_verify_t *)arg;
    v->last = seq;
    ab_error_t *derr = NULL;
    ab_event_t *ev = ab_event_decode (bytes, size, AB_EVENT_COMMITTED, AB_FRAME_MAX, &derr);
    if (!ev) {
        ab_error_set (v->err, AB_E_CORRUPT, "seq %" PRIu64 ": stored envelope does not decode: %s",
                      seq, ab_error_msg (derr));
        ab_error_destroy (&derr);
    } else if (ab_event_seq (ev) != seq)
        ab_error_set (v->err, AB_E_CORRUPT, "seq %" PRIu64 ": envelope carries seq %" PRIu64, seq,
                      ab_event_seq (ev));
    else if (!ab_event_hash_ok (ev))
        ab_error_set (v->err, AB_E_CORRUPT, "seq %" PRIu64 ": hash does not match the content",
                      seq);
    else if (memcmp (ab_event_prev (ev), v->prev, AB_HASH_SIZE) != 0)
        ab_error_set (v->err, AB_E_CORRUPT, "seq %" PRIu64 ": prev is not the hash of seq %" PRIu64,
                      seq, seq - 1);
    else {
        memcpy (v->prev, ab_event_hash (ev), AB_HASH_SIZE);
        ab_event_destroy (&ev);
        return 0;
    }
    ab_event_destroy (&ev);
    v->bad = seq;
    return 1;
}

int
ab_store_verify (ab_store_t *self, uint64_t from, uint64_t to, uint64_t *bad_seq, ab_error_t **err)
{
    assert (self);
    assert (bad_seq);
    *bad_seq = 0;
    if (from < self->first)
        from = self->first;
    if (to == 0 || to > self->head)
        to = self->head;
    if (from > to)
        return 0;
    s_verify_t v = { .bad = 0, .err = err };
    memset (v.prev, 0, AB_HASH_SIZE);
    if (from > 1 && from == self->first) {
        //  Nothing before it is held: the anchor is the prev it carries.
        ab_event_t *oldest = ab_store_event (self, from, err);
        if (!oldest) {
            *bad_seq = from;
            return err && *err ? -(int)(*err)->code : -AB_E_CORRUPT;
        }
        memcpy (v.prev, ab_event_prev (oldest), AB_HASH_SIZE);
        ab_event_destroy (&oldest);
    } else if (from > 1) {
        //  The link into the range: the hash the event before it carries.
        ab_event_t *before = ab_store_event (self, from - 1, err);
        if (!before) {
            *bad_seq = from - 1;
            return err && *err ? -(int)(*err)->code : -AB_E_CORRUPT;
        }
        memcpy (v.prev, ab_event_hash (before), AB_HASH_SIZE);
        ab_event_destroy (&before);
    }
    int64_t n = s_scan (self, from - 1, to, s_verify_one, &v, err);
    if (v.bad) {
        *bad_seq = v.bad;
        return -AB_E_CORRUPT;
    }
    if (n < 0) {
        //  s_scan stopped at a missing seq: the one after the last seen.
        if (err && *err && (*err)->code == AB_E_CORRUPT)
            *bad_seq = v.last ? v.last + 1 : from;
        return (int)n;
    }
    if (to == self->head && memcmp (v.prev, self->head_hash, AB_HASH_SIZE) != 0) {
        *bad_seq = to;
        return ab_error_set (err, AB_E_CORRUPT,
                             "seq %" PRIu64 ": hash differs from the head record", to);
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  Selftest

static int
s_rm_one (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove (path);
}

//  rm -rf for the test's temp dir.
static int
s_rmtree (const char *dir)
{
    return nftw (dir, s_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

typedef struct {
    uint64_t next;
    int count;
    int stop_after;
} s_scan_check_t;

static int
s_scan_check (uint64_t seq, const uint8_t *bytes, size_t size, void *arg)
{
    s_scan_check_t *c = (s_scan_check_t *)arg;
    assert (seq == c->next);
    ab_event_t *ev = ab_event_decode (bytes, size, AB_EVENT_COMMITTED, AB_FRAME_MAX, NULL);
    assert (ev);
    assert (ab_event_seq (ev) == seq);
    ab_event_destroy (&ev);
    c->next++;
    c->count++;
    return c->stop_after && c->count >= c->stop_after;
}

//  Append one note.added with pseq from producer; returns its item seq.
static uint64_t
s_append_one (ab_store_t *store, const char *producer, uint64_t pseq, bool *dup)
{
    ab_event_t *ev = ab_event_new ("note.added", "stack/shop");
    ab_event_set_pseq (ev, pseq);
    ab_store_item_t item = { .event = ev, .src = "admin:admin:ABCDEFGH", .producer = producer };
    ab_error_t *err = NULL;
    int rc = ab_store_append (store, &item, 1, &err);
    assert (rc >= 0);
    assert (!err);
    uint64_t seq = item.seq;
    if (dup)
        *dup = item.duplicate;
    ab_store_item_clear (&item);
    ab_event_destroy (&ev);
    return seq;
}

void
ab_store_test (bool verbose)
{
    printf (" * ab_store: ");
    if (verbose)
        printf ("\n");
    char dir[] = "/tmp/ab_store_test.XXXXXX";
    assert (mkdtemp (dir));
    char path[64];
    snprintf (path, sizeof path, "%s/log", dir);
    const char *alice = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    const char *bob = "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB";

    ab_error_t *err = NULL;
    ab_store_t *store = ab_store_open (path, &err);
    assert (store);
    uint8_t hash[AB_HASH_SIZE], zeros[AB_HASH_SIZE] = { 0 };
    assert (ab_store_head (store, hash) == 0);
    assert (memcmp (hash, zeros, AB_HASH_SIZE) == 0);
    assert (ab_store_first (store) == 1);

    //  A batch of 10: seqs 1..10, chained, ts monotonic.
    ab_event_t *events[10];
    ab_store_item_t items[10];
    memset (items, 0, sizeof items);
    for (int i = 0; i < 10; i++) {
        events[i] = ab_event_new ("note.added", "stack/shop");
        ab_event_set_pseq (events[i], 100 + i);
        items[i].event = events[i];
        items[i].src = "admin:admin:AAAAAAAA";
        items[i].producer = alice;
    }
    assert (ab_store_append (store, items, 10, &err) == 10);
    for (int i = 0; i < 10; i++) {
        assert (items[i].seq == (uint64_t)i + 1);
        assert (!items[i].duplicate && items[i].bytes && items[i].size > 0);
        ab_event_t *ev = ab_event_decode (items[i].bytes, items[i].size, AB_EVENT_COMMITTED,
                                          AB_FRAME_MAX, &err);
        assert (ev);
        assert (ab_event_seq (ev) == (uint64_t)i + 1);
        assert (streq (ab_event_src (ev), "admin:admin:AAAAAAAA"));
        assert (ab_event_hash_ok (ev));
        if (i == 0)
            assert (memcmp (ab_event_prev (ev), zeros, AB_HASH_SIZE) == 0);
        ab_event_destroy (&ev);
        ab_store_item_clear (&items[i]);
    }
    assert (ab_store_head (store, hash) == 10);
    assert (memcmp (hash, ab_event_hash (events[9]), AB_HASH_SIZE) == 0);
    for (int i = 0; i < 10; i++)
        ab_event_destroy (&events[i]);

    //  Dedupe: a retry of pseq 105 gets seq 6 back and appends nothing.
    bool dup = false;
    assert (s_append_one (store, alice, 105, &dup) == 6 && dup);
    assert (ab_store_head (store, NULL) == 10);
    //  Same pseq from another producer is a different event.
    assert (s_append_one (store, bob, 105, &dup) == 11 && !dup);
    //  pseq 0: never deduped.
    assert (s_append_one (store, alice, 0, &dup) == 12 && !dup);
    assert (s_append_one (store, alice, 0, &dup) == 13 && !dup);
    //  Out-of-order pseq below the highest that was never used: appended.
    assert (s_append_one (store, alice, 50, &dup) == 14 && !dup);
    assert (s_append_one (store, alice, 50, &dup) == 14 && dup);
    //  Twice in one batch: the second is a duplicate of the first.
    {
        ab_event_t *a = ab_event_new ("note.added", "x/1"), *b = ab_event_new ("note.added", "x/1");
        ab_event_set_pseq (a, 500);
        ab_event_set_pseq (b, 500);
        ab_store_item_t two[2] = { { .event = a, .src = "admin:a:A", .producer = bob },
                                   { .event = b, .src = "admin:a:A", .producer = bob } };
        assert (ab_store_append (store, two, 2, &err) == 1);
        assert (two[0].seq == 15 && !two[0].duplicate);
        assert (two[1].seq == 15 && two[1].duplicate && !two[1].bytes);
        ab_store_item_clear (&two[0]);
        ab_store_item_clear (&two[1]);
        ab_event_destroy (&a);
        ab_event_destroy (&b);
    }

    //  A failing write changes nothing and reports storage.
    ab_store_set_fail_writes (store, true);
    {
        ab_event_t *ev = ab_event_new ("note.added", "x/2");
        ab_event_set_pseq (ev, 900);
        ab_store_item_t item = { .event = ev, .src = "admin:a:A", .producer = bob };
        assert (ab_store_append (store, &item, 1, &err) == -AB_E_STORAGE);
        assert (err && err->code == AB_E_STORAGE);
        assert (item.seq == 0 && !item.bytes);
        ab_error_destroy (&err);
        ab_event_destroy (&ev);
    }
    ab_store_set_fail_writes (store, false);
    assert (ab_store_head (store, NULL) == 15);

    //  Reads.
    size_t size;
    uint8_t *bytes = ab_store_get (store, 3, &size, &err);
    assert (bytes && size > 0);
    free (bytes);
    assert (!ab_store_get (store, 16, &size, &err));
    assert (err && err->code == AB_E_NOT_FOUND);
    ab_error_destroy (&err);
    assert (!ab_store_get (store, 0, &size, &err));
    ab_error_destroy (&err);
    s_scan_check_t sc = { .next = 4 };
    assert (ab_store_scan (store, 3, s_scan_check, &sc, &err) == 12);
    assert (sc.next == 16);
    sc = (s_scan_check_t){ .next = 1, .stop_after = 5 };
    assert (ab_store_scan (store, 0, s_scan_check, &sc, &err) == 5);
    assert (ab_store_scan (store, 15, s_scan_check, &sc, &err) == 0);

    uint64_t bad = 99;
    assert (ab_store_verify (store, 1, 0, &bad, &err) == 0 && bad == 0);
    assert (ab_store_verify (store, 4, 9, &bad, &err) == 0 && bad == 0);

    //  seq_at_time: events 1..10 share a ts; later ones are ≥ it.
    ab_event_t *e1 = ab_store_event (store, 1, &err);
    ab_event_t *e11 = ab_store_event (store, 11, &err);
    assert (e1 && e11);
    uint64_t t1 = ab_event_ts (e1), t11 = ab_event_ts (e11);
    assert (t11 >= t1);
    assert (ab_store_seq_at_time (store, 0, &err) == 1);
    assert (ab_store_seq_at_time (store, t1, &err) == 1);
    if (t11 > t1)
        assert (ab_store_seq_at_time (store, t1 + 1, &err) == 11);
    assert (ab_store_seq_at_time (store, ab_store_head_ts (store) + 1, &err) == 16);
    ab_event_destroy (&e1);
    ab_event_destroy (&e11);

    //  Restart: head, hash and dedupe state come back from disk.
    ab_store_head (store, hash);
    ab_store_close (&store);
    assert (store == NULL);
    store = ab_store_open (path, &err);
    assert (store);
    uint8_t hash2[AB_HASH_SIZE];
    assert (ab_store_head (store, hash2) == 15);
    assert (memcmp (hash, hash2, AB_HASH_SIZE) == 0);
    assert (s_append_one (store, alice, 109, &dup) == 10 && dup);
    assert (s_append_one (store, bob, 500, &dup) == 15 && dup);
    assert (s_append_one (store, alice, 110, &dup) == 16 && !dup);
    assert (ab_store_verify (store, 1, 0, &bad, &err) == 0);

    //  Flip one byte of seq 7's stored value: verify names seq 7.
    {
        size_t vlen;
        uint8_t *v = ab_store_get (store, 7, &vlen, &err);
        assert (v);
        v[vlen / 2] ^= 0x20;
        uint8_t key[9];
        s_event_key (key, 7);
        char *errptr = NULL;
        leveldb_put (store->db, store->wsync, (char *)key, 9, (char *)v, vlen, &errptr);
        assert (!errptr);
        free (v);
    }
    assert (ab_store_verify (store, 1, 0, &bad, &err) == -AB_E_CORRUPT);
    assert (bad == 7);
    assert (strstr (err->msg, "seq 7"));
    if (verbose)
        printf ("  verify: %s\n", err->msg);
    ab_error_destroy (&err);
    //  A range that ends before it is intact.
    assert (ab_store_verify (store, 1, 6, &bad, &err) == 0);

    //  A missing seq is named too.
    {
        uint8_t key[9];
        s_event_key (key, 12);
        char *errptr = NULL;
        leveldb_delete (store->db, store->wsync, (char *)key, 9, &errptr);
        assert (!errptr);
    }
    assert (ab_store_verify (store, 9, 0, &bad, &err) == -AB_E_CORRUPT && bad == 12);
    assert (strstr (err->msg, "seq 12"));
    ab_error_destroy (&err);

    //  Truncate a stored value to garbage: decode failure counts as bad.
    {
        uint8_t key[9];
        s_event_key (key, 3);
        char *errptr = NULL;
        leveldb_put (store->db, store->wsync, (char *)key, 9, "\xc1", 1, &errptr);
        assert (!errptr);
    }
    assert (ab_store_verify (store, 1, 0, &bad, &err) == -AB_E_CORRUPT && bad == 3);
    assert (strstr (err->msg, "does not decode"));
    ab_error_destroy (&err);

    //  History the store no longer holds is an explicit error, never a gap.
    {
        assert (ab_store_truncate (store, 1, &err) == -AB_E_INVALID);
        ab_error_destroy (&err);
        assert (ab_store_truncate (store, ab_store_head (store, NULL) + 1, &err) == -AB_E_INVALID);
        ab_error_destroy (&err);
        assert (ab_store_truncate (store, 5, &err) == 0);
        assert (ab_store_first (store) == 5);
        assert (ab_store_truncate (store, 3, &err) == 0 && ab_store_first (store) == 5);
        ab_store_close (&store);
        store = ab_store_open (path, &err);
        assert (store && ab_store_first (store) == 5);
        assert (!ab_store_get (store, 4, &size, &err));
        assert (err && err->code == AB_E_TRUNCATED && strstr (err->msg, "from seq 5"));
        ab_error_destroy (&err);
        sc = (s_scan_check_t){ .next = 5, .stop_after = 2 }; //  seq 7 is corrupt
        assert (ab_store_scan (store, 3, s_scan_check, &sc, &err) == -AB_E_TRUNCATED);
        ab_error_destroy (&err);
        assert (ab_store_scan (store, 4, s_scan_check, &sc, &err) == 2);
        //  seq_at_time searches only what is held.
        assert (ab_store_seq_at_time (store, 0, &err) == 5);
    }

    //  A truncated chain still verifies from its first event, and a
    //  retry of a dropped event's pseq still gets its seq back.
    {
        char tpath[80];
        snprintf (tpath, sizeof tpath, "%s/trunc", dir);
        ab_store_t *t = ab_store_open (tpath, &err);
        assert (t);
        for (uint64_t p = 1; p <= 20; p++)
            assert (s_append_one (t, alice, p, &dup) == p && !dup);
        assert (ab_store_truncate (t, 8, &err) == 0);
        uint64_t tbad = 0;
        assert (ab_store_verify (t, 1, 0, &tbad, &err) == 0 && tbad == 0);
        assert (ab_store_verify (t, 8, 12, &tbad, &err) == 0);
        assert (s_append_one (t, alice, 3, &dup) == 3 && dup);
        assert (ab_store_head (t, NULL) == 20);
        ab_store_close (&t);
        t = ab_store_open (tpath, &err);
        assert (t && ab_store_first (t) == 8);
        assert (ab_store_verify (t, 1, 0, &tbad, &err) == 0);
        ab_store_close (&t);
    }

    //  Bad input: an empty path is an error, not a crash.
    assert (!ab_store_open ("", &err));
    assert (err && err->code == AB_E_INVALID);
    ab_error_destroy (&err);

    ab_store_close (&store);

    //  Dedupe rows of one batch: pseqs up, then back to one used earlier in
    //  the batch, one used before a restart, and one below the highest that
    //  was never used.
    snprintf (path, sizeof path, "%s/log2", dir);
    store = ab_store_open (path, &err);
    assert (store);
    assert (s_append_one (store, alice, 109, &dup) == 1 && !dup);
    ab_store_close (&store);
    store = ab_store_open (path, &err);
    assert (store);
    {
        const uint64_t pseqs[5] = { 600, 601, 600, 109, 550 };
        const char *who[5] = { bob, bob, bob, alice, bob };
        ab_event_t *evs[5];
        ab_store_item_t five[5];
        for (int i = 0; i < 5; i++) {
            evs[i] = ab_event_new ("note.added", "x/3");
            ab_event_set_pseq (evs[i], pseqs[i]);
            five[i] = (ab_store_item_t){ .event = evs[i], .src = "admin:a:A", .producer = who[i] };
        }
        assert (ab_store_append (store, five, 5, &err) == 3);
        assert (five[0].seq == 2 && !five[0].duplicate);
        assert (five[1].seq == 3 && !five[1].duplicate);
        assert (five[2].seq == 2 && five[2].duplicate);
        assert (five[3].seq == 1 && five[3].duplicate);
        assert (five[4].seq == 4 && !five[4].duplicate);
        for (int i = 0; i < 5; i++) {
            ab_store_item_clear (&five[i]);
            ab_event_destroy (&evs[i]);
        }
    }
    assert (s_append_one (store, bob, 601, &dup) == 3 && dup);
    assert (s_append_one (store, bob, 550, &dup) == 4 && dup);
    ab_store_close (&store);
    assert (s_rmtree (dir) == 0);
    printf ("OK\n");
}
