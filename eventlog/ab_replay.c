/*  ab_replay - replay a local store on two threads: what a rebuild runs   */
//  Selftests assert behaviour: keep assert live in release builds too.
#undef NDEBUG
#include <assert.h>

#include "ab_replay.h"

#include <czmq.h>
#include <inttypes.h>
#include <leveldb/c.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#define S_BATCH 256 //  events per batch handed between the threads
#define S_RING 32   //  batches in flight: bounds memory to ~8k events

//  A batch's hash check: done by whichever thread claims it first.
enum { S_UNCHECKED, S_CLAIMED, S_CHECKED };

typedef struct {
    ab_event_t *events[S_BATCH];
    size_t count;
    atomic_int state; //  S_UNCHECKED → S_CLAIMED → S_CHECKED
    size_t bad;       //  once checked: index of the first bad hash, or count
} s_batch_t;

typedef struct {
    ab_store_t *store;
    uint64_t after;
    pthread_mutex_t lock;
    pthread_cond_t changed;  //  head, tail, done or a batch's state moved
    s_batch_t ring[S_RING];  //  batches [head, tail) are the caller's to take
    uint64_t head, tail;     //  counters; slot = counter % S_RING
    bool done;               //  the worker has published all it will
    bool stop;               //  the caller wants no more
    ab_error_t *error;       //  why the worker stopped early, or NULL
    s_batch_t fill;          //  the worker's batch being filled
    ab_event_t *spent[S_BATCH]; //  the worker's: events the caller is done with
    size_t nspent;              //  entries in spent, freed one per decode
} s_shared_t;

//  Worker: free the events in spent. Freed one before each decode instead,
//  a freed block is the next malloc's (glibc's per-thread cache holds 7 of
//  a size); freeing a whole batch at once overflowed it into the arena.
static void
s_spent_free (s_shared_t *sh)
{
    while (sh->nspent)
        ab_event_destroy (&sh->spent[--sh->nspent]);
}

#define S_AHEAD 4 //  events prefetched ahead of the one being read

static void
s_check (s_batch_t *b)
{
    size_t bad = b->count;
    for (size_t i = 0; i < S_AHEAD && i < b->count; i++)
        ab_event_prefetch (b->events[i]);
    for (size_t i = 0; i < b->count && bad == b->count; i++) {
        if (i + S_AHEAD < b->count)
            ab_event_prefetch (b->events[i + S_AHEAD]);
        if (!ab_event_hash_ok (b->events[i]))
            bad = i;
    }
    b->bad = bad;
    atomic_store (&b->state, S_CHECKED);
}

//  Claim a published batch nobody has checked, newest first (the caller
//  takes the oldest), or NULL. Called with the lock held.
static s_batch_t *
s_claim_newest (s_shared_t *sh)
{
    for (uint64_t i = sh->tail; i-- > sh->head;) {
        s_batch_t *b = &sh->ring[i % S_RING];
        int expected = S_UNCHECKED;
        if (atomic_compare_exchange_strong (&b->state, &expected, S_CLAIMED))
            return b;
    }
    return NULL;
}

//  Worker: hand the filled batch over, checking hashes while the ring is
//  full. Returns -1 if the caller stopped.
static int
s_publish (s_shared_t *sh)
{
    pthread_mutex_lock (&sh->lock);
    while (sh->tail - sh->head == S_RING && !sh->stop) {
        s_batch_t *b = s_claim_newest (sh);
        if (b) {
            pthread_mutex_unlock (&sh->lock);
            s_check (b);
            pthread_mutex_lock (&sh->lock);
            pthread_cond_broadcast (&sh->changed);
        }
        else
            pthread_cond_wait (&sh->changed, &sh->lock);
    }
    bool stop = sh->stop;
    if (!stop) {
        s_batch_t *slot = &sh->ring[sh->tail % S_RING];
        //  The caller leaves the events it is done with in the slot: they
        //  are freed by this thread, which allocated them (a free from the
        //  other thread contends for this thread's malloc arena), one
        //  before each decode (s_spent_free).
        s_spent_free (sh);
        for (size_t i = 0; i < slot->count; i++)
            if (slot->events[i])
                sh->spent[sh->nspent++] = slot->events[i];
        memcpy (slot->events, sh->fill.events, sh->fill.count * sizeof (ab_event_t *));
        slot->count = sh->fill.count;
        atomic_store (&slot->state, S_UNCHECKED);
        sh->tail++;
        pthread_cond_broadcast (&sh->changed);
    }
    pthread_mutex_unlock (&sh->lock);
    if (stop)
        for (size_t i = 0; i < sh->fill.count; i++)
            ab_event_destroy (&sh->fill.events[i]);
    sh->fill.count = 0;
    return stop ? -1 : 0;
}

static int
s_scan_fn (uint64_t seq, const uint8_t *bytes, size_t size, void *arg)
{
    s_shared_t *sh = (s_shared_t *) arg;
    if (sh->nspent)
        ab_event_destroy (&sh->spent[--sh->nspent]);
    ab_error_t *derr = NULL;
    ab_event_t *ev = ab_event_decode (bytes, size, AB_EVENT_COMMITTED, AB_FRAME_MAX, &derr);
    if (!ev || ab_event_seq (ev) != seq) {
        ab_error_set (&sh->error, AB_E_CORRUPT, "seq %" PRIu64 ": %s%s", seq,
                      ev ? "stored envelope carries another seq"
                         : "stored envelope does not decode: ",
                      ev ? "" : ab_error_msg (derr));
        ab_error_destroy (&derr);
        ab_event_destroy (&ev);
        return 1;
    }
    sh->fill.events[sh->fill.count++] = ev;
    if (sh->fill.count == S_BATCH && s_publish (sh) < 0)
        return 1;
    return 0;
}

static void *
s_worker (void *arg)
{
    s_shared_t *sh = (s_shared_t *) arg;
    ab_error_t *err = NULL;
    if (ab_store_scan (sh->store, sh->after, s_scan_fn, sh, &err) < 0 && !sh->error) {
        sh->error = err;
        err = NULL;
    }
    ab_error_destroy (&err);
    if (sh->fill.count)
        s_publish (sh);
    s_spent_free (sh);
    pthread_mutex_lock (&sh->lock);
    sh->done = true;
    pthread_cond_broadcast (&sh->changed);
    pthread_mutex_unlock (&sh->lock);
    return NULL;
}

int64_t
ab_replay_store (ab_store_t *store, uint64_t after, ab_replay_fn *fn, void *arg, ab_error_t **err)
{
    assert (store);
    assert (fn);
    if (after + 1 < ab_store_first (store))
        return ab_error_set (err, AB_E_TRUNCATED,
                             "replay from seq %" PRIu64 ": the log holds history from seq %" PRIu64,
                             after + 1, ab_store_first (store));
    uint8_t prev[AB_HASH_SIZE] = { 0 };
    if (after > 0 && after <= ab_store_head (store, NULL)) {
        ab_event_t *ev = ab_store_event (store, after, err);
        if (!ev)
            return ab_error_wrap (err, "replay from seq %" PRIu64, after + 1);
        memcpy (prev, ab_event_hash (ev), AB_HASH_SIZE);
        ab_event_destroy (&ev);
    }
    s_shared_t *sh = calloc (1, sizeof *sh);
    assert (sh);
    sh->store = store;
    sh->after = after;
    pthread_mutex_init (&sh->lock, NULL);
    pthread_cond_init (&sh->changed, NULL);
    pthread_t worker;
    int prc = pthread_create (&worker, NULL, s_worker, sh);
    assert (prc == 0);

    int64_t passed = 0;
    int rc = 0;
    bool stopped = false;
    while (!stopped) {
        pthread_mutex_lock (&sh->lock);
        while (sh->head == sh->tail && !sh->done)
            pthread_cond_wait (&sh->changed, &sh->lock);
        if (sh->head == sh->tail) {
            pthread_mutex_unlock (&sh->lock);
            break;
        }
        s_batch_t *b = &sh->ring[sh->head % S_RING];
        pthread_mutex_unlock (&sh->lock);
        int expected = S_UNCHECKED;
        if (atomic_compare_exchange_strong (&b->state, &expected, S_CLAIMED))
            s_check (b);
        else {
            //  The worker is checking it: wait for its broadcast
            pthread_mutex_lock (&sh->lock);
            while (atomic_load (&b->state) != S_CHECKED)
                pthread_cond_wait (&sh->changed, &sh->lock);
            pthread_mutex_unlock (&sh->lock);
        }
        for (size_t i = 0; i < S_AHEAD && i < b->count; i++)
            ab_event_prefetch (b->events[i]);
        for (size_t i = 0; i < b->count; i++) {
            if (i + S_AHEAD < b->count)
                ab_event_prefetch (b->events[i + S_AHEAD]);
            ab_event_t *ev = b->events[i];
            uint64_t seq = ab_event_seq (ev);
            if (!stopped && i == b->bad) {
                rc = ab_error_set (err, AB_E_CORRUPT,
                                   "seq %" PRIu64 ": hash does not match the event's contents",
                                   seq);
                stopped = true;
            }
            else if (!stopped && memcmp (ab_event_prev (ev), prev, AB_HASH_SIZE) != 0) {
                rc = ab_error_set (err, AB_E_CORRUPT,
                                   "seq %" PRIu64 ": prev is not the hash of seq %" PRIu64
                                   ": the chain is broken",
                                   seq, seq - 1);
                stopped = true;
            }
            else if (!stopped) {
                memcpy (prev, ab_event_hash (ev), AB_HASH_SIZE);
                passed++;
                if (fn (&ev, arg))
                    stopped = true;
            }
            b->events[i] = ev; //  NULL if fn kept it; else the worker frees it
        }
        pthread_mutex_lock (&sh->lock);
        sh->head++;
        if (stopped)
            sh->stop = true;
        pthread_cond_broadcast (&sh->changed);
        pthread_mutex_unlock (&sh->lock);
    }
    pthread_join (worker, NULL);
    //  What was handed over and what the worker published after we stopped
    for (size_t s = 0; s < S_RING; s++)
        for (size_t i = 0; i < sh->ring[s].count; i++)
            ab_event_destroy (&sh->ring[s].events[i]);
    if (rc == 0 && !stopped && sh->error) {
        //  Everything before the worker's failure was handed over
        rc = -(int) sh->error->code;
        if (err && !*err) {
            *err = sh->error;
            sh->error = NULL;
        }
    }
    ab_error_destroy (&sh->error);
    pthread_cond_destroy (&sh->changed);
    pthread_mutex_destroy (&sh->lock);
    free (sh);
    return rc < 0 ? rc : passed;
}

//  --------------------------------------------------------------------------
//  Selftest

typedef struct {
    uint64_t next;     //  seq expected next
    uint64_t stop_at;  //  return 1 after this seq (0: never)
    bool slow;         //  dawdle now and then, so the ring fills
} s_count_t;

static int
s_count_fn (ab_event_t **event_p, void *arg)
{
    s_count_t *c = (s_count_t *) arg;
    uint64_t seq = ab_event_seq (*event_p);
    assert (seq == c->next);
    c->next++;
    if (c->slow && seq % 2000 == 0)
        zclock_sleep (2);
    if (seq % 3 == 0) {
        //  fn may keep an event
        ab_event_t *kept = *event_p;
        *event_p = NULL;
        ab_event_destroy (&kept);
    }
    return c->stop_at && seq == c->stop_at;
}

//  Overwrite the stored value of seq in the (closed) store at dir.
static void
s_poke (const char *dir, uint64_t seq, const uint8_t *value, size_t size)
{
    leveldb_options_t *opt = leveldb_options_create ();
    char *errptr = NULL;
    leveldb_t *db = leveldb_open (opt, dir, &errptr);
    assert (db);
    uint8_t key[9] = { 0 };
    for (int i = 0; i < 8; i++)
        key[1 + i] = (uint8_t) (seq >> (56 - 8 * i));
    leveldb_writeoptions_t *wo = leveldb_writeoptions_create ();
    leveldb_put (db, wo, (const char *) key, 9, (const char *) value, size, &errptr);
    assert (!errptr);
    leveldb_writeoptions_destroy (wo);
    leveldb_close (db);
    leveldb_options_destroy (opt);
}

void
ab_replay_test (bool verbose)
{
    printf (" * ab_replay: ");
    (void) verbose;
    char dir[] = "/tmp/ab_replay_XXXXXX";
    assert (mkdtemp (dir));
    ab_error_t *err = NULL;
    ab_store_t *store = ab_store_open (dir, &err);
    assert (store);
    const uint64_t total = 20000; //  more than the ring holds
    ab_store_item_t items[500];
    ab_event_t *batch[500];
    for (uint64_t done = 0; done < total; done += 500) {
        for (size_t i = 0; i < 500; i++) {
            batch[i] = ab_event_new ("note.added", "stack/replay");
            assert (ab_event_set_data_json (batch[i], "{\"text\": \"replayed\"}", &err) == 0);
            ab_event_set_pseq (batch[i], done + i + 1);
            items[i] = (ab_store_item_t) { .event = batch[i],
                                           .src = "admin:admin:Replay00",
                                           .producer = "Replay00Replay00Replay00Replay0000000000" };
        }
        assert (ab_store_append (store, items, 500, &err) == 500);
        for (size_t i = 0; i < 500; i++) {
            ab_store_item_clear (&items[i]);
            ab_event_destroy (&batch[i]);
        }
    }

    //  Everything, in order; slowly, so the worker also checks hashes
    s_count_t c = { .next = 1 };
    assert (ab_replay_store (store, 0, s_count_fn, &c, &err) == (int64_t) total);
    assert (c.next == total + 1);
    c = (s_count_t) { .next = 1, .slow = true };
    assert (ab_replay_store (store, 0, s_count_fn, &c, &err) == (int64_t) total);
    //  From the middle (chained to the event before), and stopped by fn
    c = (s_count_t) { .next = 12001 };
    assert (ab_replay_store (store, 12000, s_count_fn, &c, &err) == (int64_t) (total - 12000));
    c = (s_count_t) { .next = 1, .stop_at = 700 };
    assert (ab_replay_store (store, 0, s_count_fn, &c, &err) == 700);
    c = (s_count_t) { .next = total + 1 };
    assert (ab_replay_store (store, total, s_count_fn, &c, &err) == 0);

    //  A flipped byte: everything before it is applied, then corrupt
    size_t size = 0;
    uint8_t *good = ab_store_get (store, 12345, &size, &err);
    assert (good);
    ab_store_close (&store);
    uint8_t *bad = malloc (size);
    memcpy (bad, good, size);
    uint8_t *r = memmem (bad, size, "replayed", 8);
    assert (r);
    *r ^= 1;
    s_poke (dir, 12345, bad, size);
    store = ab_store_open (dir, &err);
    assert (store);
    c = (s_count_t) { .next = 1 };
    assert (ab_replay_store (store, 0, s_count_fn, &c, &err) == -AB_E_CORRUPT);
    assert (c.next == 12345 && strstr (err->msg, "seq 12345: hash does not match"));
    ab_error_destroy (&err);
    //  Bytes that do not decode
    ab_store_close (&store);
    s_poke (dir, 12345, good, size);
    s_poke (dir, 15000, (const uint8_t *) "\xc1junk", 5);
    store = ab_store_open (dir, &err);
    assert (store);
    c = (s_count_t) { .next = 1 };
    assert (ab_replay_store (store, 0, s_count_fn, &c, &err) == -AB_E_CORRUPT);
    assert (c.next == 15000 && strstr (err->msg, "seq 15000: stored envelope does not decode"));
    ab_error_destroy (&err);

    free (good);
    free (bad);
    ab_store_close (&store);
    zdir_t *d = zdir_new (dir, NULL);
    zdir_remove (d, true);
    zdir_destroy (&d);
    printf ("OK\n");
}
