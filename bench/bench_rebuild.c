/*  bench_rebuild - rebuild the resource graph from a stored log
    Writes N events (~250 bytes each, a mix the graph applies: nodes joining
    and re-announcing with labels, leases acquired and renewed) into a fresh
    store with ab_store, closes it, then times on the same store:
      raw      a LevelDB iterator over every event value (the floor)
      decode   ab_store_scan + strict decode (and, separately, + hash
               recompute + chain check)
      rebuild  the same, then ab_graph_apply, in one thread
      rebuild, 2 threads: ab_replay_store (scan + decode in a worker, hash
               checks shared, apply in the caller): what a rebuild runs

    bench-rebuild [--events N] [--store DIR] [--only rebuild]
    --store DIR      use (and keep) DIR: filled only if it holds no events,
                     so a profiler can run the timed part alone
    --only rebuild   time the two-thread rebuild only
    Output lines: RESULT <name> <events/s> ev/s                             */
#include "ab_graph.h"
#include "ab_replay.h"
#include "ab_store.h"

#include <czmq.h>
#include <inttypes.h>
#include <leveldb/c.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
s_die (const char *what, ab_error_t *err)
{
    fprintf (stderr, "bench-rebuild: %s: %s\n", what, ab_error_msg (err));
    exit (1);
}

#define S_NODES  1000
#define S_LEASES 1000
#define S_BATCH  1000

static ab_event_t *
s_event (uint64_t i)
{
    char subj[64], json[256];
    ab_event_t *event;
    if (i < S_NODES || i % 2 == 0) {
        snprintf (subj, sizeof subj, "node/n%" PRIu64, i % S_NODES);
        event = ab_event_new ("node.joined", subj);
        snprintf (json, sizeof json,
                  "{\"cpu\": 4, \"memory\": 8589934592, \"labels\": {\"zone\": \"z%" PRIu64
                  "\", \"rack\": \"r%" PRIu64 "\", \"kernel\": \"6.1.0-13-amd64\"}}",
                  i % 3, i % 40);
    }
    else {
        snprintf (subj, sizeof subj, "lease/work-%" PRIu64, i % S_LEASES);
        event = ab_event_new ("lease.acquired", subj);
        snprintf (json, sizeof json,
                  "{\"holder\": \"scheduler:scheduler-%" PRIu64 "\", \"ttl_ms\": 30000, "
                  "\"note\": \"bench lease payload\"}", i % S_LEASES);
    }
    ab_error_t *err = NULL;
    if (ab_event_set_data_json (event, json, &err) < 0)
        s_die ("data", err);
    ab_event_set_pseq (event, i + 1);
    return event;
}

static void
s_fill (const char *dir, uint64_t events)
{
    ab_error_t *err = NULL;
    ab_store_t *store = ab_store_open (dir, &err);
    if (!store)
        s_die ("store open", err);
    ab_store_item_t items[S_BATCH];
    ab_event_t *batch[S_BATCH];
    const char *producer = "Bench0000Bench0000Bench0000Bench00000000";
    size_t bytes = 0;
    for (uint64_t done = 0; done < events;) {
        size_t n = events - done < S_BATCH ? (size_t) (events - done) : S_BATCH;
        for (size_t i = 0; i < n; i++) {
            batch[i] = s_event (done + i);
            items[i] = (ab_store_item_t) { .event = batch[i],
                                           .src = "admin:admin:Bench000",
                                           .producer = producer };
        }
        if (ab_store_append (store, items, n, &err) < 0)
            s_die ("append", err);
        for (size_t i = 0; i < n; i++) {
            bytes += items[i].size;
            ab_store_item_clear (&items[i]);
            ab_event_destroy (&batch[i]);
        }
        done += n;
    }
    printf ("INFO stored %" PRIu64 " events, %.0f bytes each on average\n", events,
            (double) bytes / (double) events);
    ab_store_close (&store);
}

typedef struct {
    bool check;                  //  recompute hashes and check the chain
    ab_graph_t *graph;           //  NULL: decode and check only
    uint8_t prev[AB_HASH_SIZE];
    uint64_t count;
} s_replay_t;

static int
s_replay_fn (uint64_t seq, const uint8_t *bytes, size_t size, void *arg)
{
    s_replay_t *r = (s_replay_t *) arg;
    ab_error_t *err = NULL;
    ab_event_t *event = ab_event_decode (bytes, size, AB_EVENT_COMMITTED, AB_FRAME_MAX, &err);
    if (!event)
        s_die ("decode", err);
    if (r->check && (!ab_event_hash_ok (event) || memcmp (ab_event_prev (event), r->prev, AB_HASH_SIZE) != 0)) {
        fprintf (stderr, "bench-rebuild: seq %" PRIu64 " does not chain\n", seq);
        exit (1);
    }
    memcpy (r->prev, ab_event_hash (event), AB_HASH_SIZE);
    if (r->graph && ab_graph_apply (r->graph, event, &err) < 0)
        s_die ("apply", err);
    ab_event_destroy (&event);
    r->count++;
    return 0;
}

static double
s_replay (const char *dir, bool check, bool graph, uint64_t events)
{
    ab_error_t *err = NULL;
    ab_store_t *store = ab_store_open (dir, &err);
    if (!store)
        s_die ("store open", err);
    s_replay_t r = { .check = check, .graph = graph ? ab_graph_new () : NULL };
    double t0 = s_now ();
    if (ab_store_scan (store, 0, s_replay_fn, &r, &err) < 0)
        s_die ("scan", err);
    double dt = s_now () - t0;
    if (r.count != events) {
        fprintf (stderr, "bench-rebuild: replayed %" PRIu64 " of %" PRIu64 "\n", r.count, events);
        exit (1);
    }
    if (r.graph) {
        uint64_t applied = 0, unknown = 0, rejected = 0;
        ab_graph_stats (r.graph, &applied, &unknown, &rejected);
        printf ("INFO graph: applied %" PRIu64 " unknown %" PRIu64 " rejected %" PRIu64
                ", %zu nodes, %zu leases\n", applied, unknown, rejected,
                ab_graph_count (r.graph, AB_GRAPH_NODE), ab_graph_count (r.graph, AB_GRAPH_LEASE));
        ab_graph_destroy (&r.graph);
    }
    ab_store_close (&store);
    return (double) events / dt;
}

static int
s_apply_fn (ab_event_t **event_p, void *arg)
{
    ab_error_t *err = NULL;
    if (ab_graph_apply ((ab_graph_t *) arg, *event_p, &err) < 0)
        s_die ("apply", err);
    return 0;
}

static double
s_replay2 (const char *dir, uint64_t events)
{
    ab_error_t *err = NULL;
    ab_store_t *store = ab_store_open (dir, &err);
    if (!store)
        s_die ("store open", err);
    ab_graph_t *graph = ab_graph_new ();
    double t0 = s_now ();
    int64_t n = ab_replay_store (store, 0, s_apply_fn, graph, &err);
    double dt = s_now () - t0;
    if (n < 0)
        s_die ("replay", err);
    if ((uint64_t) n != events) {
        fprintf (stderr, "bench-rebuild: replayed %" PRId64 " of %" PRIu64 "\n", n, events);
        exit (1);
    }
    ab_graph_destroy (&graph);
    ab_store_close (&store);
    return (double) events / dt;
}

static double
s_raw_scan (const char *dir, uint64_t events)
{
    leveldb_options_t *opt = leveldb_options_create ();
    char *errmsg = NULL;
    leveldb_t *db = leveldb_open (opt, dir, &errmsg);
    if (!db) {
        fprintf (stderr, "bench-rebuild: leveldb open: %s\n", errmsg);
        exit (1);
    }
    leveldb_readoptions_t *ro = leveldb_readoptions_create ();
    leveldb_iterator_t *it = leveldb_create_iterator (db, ro);
    uint64_t count = 0, sum = 0;
    double t0 = s_now ();
    const char start[1] = { 0 };
    for (leveldb_iter_seek (it, start, 1); leveldb_iter_valid (it); leveldb_iter_next (it)) {
        size_t klen, vlen;
        const char *key = leveldb_iter_key (it, &klen);
        if (klen != 9 || key[0] != 0)
            break;          //  past the events (metadata keys sort after 0x00)
        const char *value = leveldb_iter_value (it, &vlen);
        //  touch the bytes, as any reader must
        sum += (uint8_t) value[vlen / 2] + vlen;
        count++;
    }
    double dt = s_now () - t0;
    leveldb_iter_destroy (it);
    leveldb_readoptions_destroy (ro);
    leveldb_close (db);
    leveldb_options_destroy (opt);
    if (count != events) {
        fprintf (stderr, "bench-rebuild: raw scan saw %" PRIu64 " of %" PRIu64 " (%" PRIu64 ")\n",
                 count, events, sum);
        exit (1);
    }
    return (double) events / dt;
}

static uint64_t
s_stored (const char *dir)
{
    ab_error_t *err = NULL;
    ab_store_t *store = ab_store_open (dir, &err);
    if (!store)
        s_die ("store open", err);
    uint64_t head = ab_store_head (store, NULL);
    ab_store_close (&store);
    return head;
}

int
main (int argc, char **argv)
{
    uint64_t events = 1000000;
    const char *store = NULL;
    bool only_rebuild = false;
    for (int i = 1; i < argc; i++) {
        if (streq (argv[i], "--events") && i + 1 < argc && atol (argv[i + 1]) > 0)
            events = (uint64_t) atol (argv[++i]);
        else if (streq (argv[i], "--store") && i + 1 < argc)
            store = argv[++i];
        else if (streq (argv[i], "--only") && i + 1 < argc && streq (argv[i + 1], "rebuild")) {
            only_rebuild = true;
            i++;
        }
        else {
            fprintf (stderr, "usage: bench-rebuild [--events N] [--store DIR] [--only rebuild]\n");
            return 2;
        }
    }
    char tmp[] = "/tmp/abbey-bench-rebuild-XXXXXX";
    const char *dir = store;
    if (!dir) {
        if (!mkdtemp (tmp)) {
            perror ("mkdtemp");
            return 1;
        }
        dir = tmp;
    }
    uint64_t stored = s_stored (dir);
    if (stored == 0) {
        double t0 = s_now ();
        s_fill (dir, events);
        printf ("INFO filled the store in %.1f s\n", s_now () - t0);
    }
    else if (stored != events) {
        fprintf (stderr, "bench-rebuild: %s holds %" PRIu64 " events, not %" PRIu64 "\n", dir,
                 stored, events);
        return 1;
    }
    fflush (stdout);
    if (only_rebuild) {
        double rebuild2 = s_replay2 (dir, events);
        printf ("RESULT graph-rebuild/events=%" PRIu64 " %.0f ev/s\n", events, rebuild2);
        return 0;
    }
    //  Raw first and last-but-one: the page cache is warm for all three.
    double raw = s_raw_scan (dir, events);
    double decode_only = s_replay (dir, false, false, events);
    double decode = s_replay (dir, true, false, events);
    double rebuild = s_replay (dir, true, true, events);
    double rebuild2 = s_replay2 (dir, events);
    printf ("RESULT raw-leveldb-scan/events=%" PRIu64 " %.0f ev/s\n", events, raw);
    printf ("RESULT decode-only/events=%" PRIu64 " %.0f ev/s\n", events, decode_only);
    printf ("RESULT decode-hash-chain/events=%" PRIu64 " %.0f ev/s\n", events, decode);
    printf ("RESULT graph-rebuild-1thread/events=%" PRIu64 " %.0f ev/s\n", events, rebuild);
    printf ("RESULT graph-rebuild/events=%" PRIu64 " %.0f ev/s\n", events, rebuild2);
    if (!store) {
        zdir_t *d = zdir_new (dir, NULL);
        if (d) {
            zdir_remove (d, true);
            zdir_destroy (&d);
        }
    }
    return 0;
}
