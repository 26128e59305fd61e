/*  bench_log - durable appends through abbey-logd, and their latency
    busd and logd run in this process as the same actors the daemons run
    (STYLE 7), on loopback TCP with CURVE, a real key directory and LevelDB
    in a mkdtemp directory; producers are threads with their own sockets
    and identities, as separate services would be.

    bench-log throughput [--producers P] [--batch B] [--window W] [--events N]
        P producers, each keeping W APPENDs of B ~250-byte events in flight;
        events/s from the first send to the last ACK.
    bench-log latency --rate R [--seconds S]
        one producer paced at R events/s (APPENDs every 100 µs carrying what
        is due), one ab_follower subscriber; append→ack and
        append→subscriber latency p50/p99.

    Output lines: RESULT <name> <value> <unit>                              */
#include "ab_busd.h"
#include "ab_cluster.h"
#include "ab_follower.h"
#include "ab_keyring.h"
#include "ab_logclient.h"
#include "ab_logd.h"

#include <czmq.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define S_MAX_PRODUCERS 16

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
    fprintf (stderr, "bench-log: %s: %s\n", what, ab_error_msg (err));
    exit (1);
}

typedef struct {
    char dir[64];
    char keys[128];
    char data[128];
    ab_busd_t *busd;
    ab_logd_t *logd;
    ab_cluster_t *cluster;
} s_rig_t;

static void
s_rig_start (s_rig_t *rig, int producers)
{
    ab_error_t *err = NULL;
    strcpy (rig->dir, "/tmp/abbey-bench-log-XXXXXX");
    if (!mkdtemp (rig->dir)) {
        perror ("mkdtemp");
        exit (1);
    }
    snprintf (rig->keys, sizeof rig->keys, "%s/keys", rig->dir);
    snprintf (rig->data, sizeof rig->data, "%s/data", rig->dir);
    if (ab_keyring_init (rig->keys, &err) < 0)
        s_die ("keys", err);
    for (int i = 0; i < producers; i++) {
        char name[24];
        snprintf (name, sizeof name, "producer%d", i);
        if (ab_keyring_add (rig->keys, "admin", name, &err) < 0)
            s_die ("keys add", err);
    }
    ab_busd_config_t bc = { .keys = rig->keys,
                            .publish = "tcp://127.0.0.1:*",
                            .subscribe = "tcp://127.0.0.1:*" };
    rig->busd = ab_busd_new (&bc, &err);
    if (!rig->busd)
        s_die ("busd", err);
    ab_logd_config_t lc = { .keys_dir = rig->keys,
                            .data_dir = rig->data,
                            .endpoint = "tcp://127.0.0.1:*",
                            .bus_endpoint = ab_busd_publish_endpoint (rig->busd),
                            .bus_key = ab_busd_public_key (rig->busd) };
    rig->logd = ab_logd_new (&lc, &err);
    if (!rig->logd)
        s_die ("logd", err);
    rig->cluster = ab_cluster_new ("bench");
    ab_cluster_set_keys (rig->cluster, rig->keys);
    ab_cluster_set_logd (rig->cluster, ab_logd_endpoint (rig->logd),
                         ab_logd_public_key (rig->logd));
    ab_cluster_set_busd (rig->cluster, ab_busd_publish_endpoint (rig->busd),
                         ab_busd_subscribe_endpoint (rig->busd), ab_busd_public_key (rig->busd));
}

static void
s_rig_stop (s_rig_t *rig)
{
    ab_cluster_destroy (&rig->cluster);
    ab_logd_destroy (&rig->logd);
    ab_busd_destroy (&rig->busd);
    zdir_t *dir = zdir_new (rig->dir, NULL);
    if (dir) {
        zdir_remove (dir, true);
        zdir_destroy (&dir);
    }
}

//  A note.added whose committed envelope is ~250 bytes (seq, ts, src,
//  prev, hash take ~150 of them).
static ab_event_t *
s_event (uint64_t n)
{
    ab_event_t *event = ab_event_new ("note.added", "stack/bench/svc/api/1");
    char json[160];
    snprintf (json, sizeof json, "{\"n\": %" PRIu64 ", \"text\": \"benchmark event, "
              "about the size of a typical instance event\"}", n);
    ab_error_t *err = NULL;
    if (ab_event_set_data_json (event, json, &err) < 0)
        s_die ("data", err);
    return event;
}

//  --- throughput ----------------------------------------------------------

typedef struct {
    s_rig_t *rig;
    int id;
    long events;
    int batch;
    int window;
    double t_first;          //  first send
    double t_last;           //  last ack
} s_producer_t;

static void *
s_producer (void *arg)
{
    s_producer_t *p = (s_producer_t *) arg;
    char name[24];
    snprintf (name, sizeof name, "producer%d", p->id);
    ab_error_t *err = NULL;
    ab_logclient_t *client = ab_logclient_new_cluster (p->rig->cluster, name, &err);
    if (!client)
        s_die ("client", err);
    //  Pre-build one batch: the benchmark measures logd, not event building.
    //  pseqs must differ per APPEND, so they are set per send.
    ab_event_t **batch = calloc ((size_t) p->batch, sizeof (ab_event_t *));
    for (int i = 0; i < p->batch; i++)
        batch[i] = s_event ((uint64_t) i);
    uint64_t pseq = (uint64_t) time (NULL) * 1000000000ull + (uint64_t) p->id * 100000000ull;
    long sent = 0, acked = 0;
    size_t inflight = 0;
    //  Handshake first, outside the clock.
    if (ab_logclient_head (client, NULL, &err) < 0)
        s_die ("head", err);
    p->t_first = s_now ();
    while (acked < p->events) {
        while ((int) inflight < p->window && sent < p->events) {
            for (int i = 0; i < p->batch; i++)
                ab_event_set_pseq (batch[i], ++pseq);
            if (ab_logclient_send_append (client, batch, (size_t) p->batch, &err) < 0)
                s_die ("send", err);
            sent += p->batch;
            inflight++;
        }
        uint64_t reqid;
        const uint64_t *seqs;
        size_t count;
        if (ab_logclient_recv_reply (client, &reqid, &seqs, &count, 10000, &err) < 0)
            s_die ("reply", err);
        acked += (long) count;
        inflight--;
    }
    p->t_last = s_now ();
    for (int i = 0; i < p->batch; i++)
        ab_event_destroy (&batch[i]);
    free (batch);
    ab_logclient_destroy (&client);
    return NULL;
}

static int
s_throughput (int producers, int batch, int window, long events)
{
    s_rig_t rig;
    s_rig_start (&rig, producers);
    s_producer_t ps[S_MAX_PRODUCERS];
    pthread_t tids[S_MAX_PRODUCERS];
    long each = events / producers / batch * batch;
    for (int i = 0; i < producers; i++) {
        ps[i] = (s_producer_t) { &rig, i, each, batch, window, 0, 0 };
        pthread_create (&tids[i], NULL, s_producer, &ps[i]);
    }
    double t0 = 1e18, t1 = 0;
    for (int i = 0; i < producers; i++) {
        pthread_join (tids[i], NULL);
        if (ps[i].t_first < t0)
            t0 = ps[i].t_first;
        if (ps[i].t_last > t1)
            t1 = ps[i].t_last;
    }
    //  Trust but verify: the log holds exactly what was acked.
    ab_error_t *err = NULL;
    ab_logclient_t *client = ab_logclient_new_cluster (rig.cluster, "monitor", &err);
    int64_t head = client ? ab_logclient_head (client, NULL, &err) : -1;
    ab_logclient_destroy (&client);
    if (head != (int64_t) each * producers) {
        fprintf (stderr, "bench-log: head %" PRId64 " after %ld acked appends\n", head,
                 each * producers);
        return 1;
    }
    printf ("RESULT logd-append/producers=%d/batch=%d/window=%d %.0f ev/s\n", producers, batch,
            window, (double) each * producers / (t1 - t0));
    s_rig_stop (&rig);
    return 0;
}

//  --- latency ------------------------------------------------------------

typedef struct {
    s_rig_t *rig;
    double rate;
    double seconds;
    double *sent_at;          //  by seq: when the APPEND holding it was sent
    double *acked_at;         //  by seq
    double *seen_at;          //  by seq: when the follower handed it out
    uint64_t max_seq;         //  size of the arrays - 1
    uint64_t total;           //  events appended
    volatile int done;        //  producer finished
} s_lat_t;

typedef struct {
    uint64_t reqid;
    double at;
    size_t count;
} s_req_t;

static void *
s_paced_producer (void *arg)
{
    s_lat_t *lat = (s_lat_t *) arg;
    ab_error_t *err = NULL;
    ab_logclient_t *client = ab_logclient_new_cluster (lat->rig->cluster, "producer0", &err);
    if (!client)
        s_die ("client", err);
    if (ab_logclient_head (client, NULL, &err) < 0)
        s_die ("head", err);
    uint64_t target = (uint64_t) (lat->rate * lat->seconds);
    ab_event_t **batch = calloc (1000, sizeof (ab_event_t *));
    for (int i = 0; i < 1000; i++)
        batch[i] = s_event ((uint64_t) i);
    uint64_t pseq = (uint64_t) time (NULL) * 1000000000ull;
    s_req_t *reqs = calloc (target + 1, sizeof (s_req_t));
    size_t nreqs = 0;
    uint64_t sent = 0, acked = 0;
    double t0 = s_now ();
    while (acked < target) {
        double now = s_now ();
        uint64_t due = (uint64_t) ((now - t0) * lat->rate);
        if (due > target)
            due = target;
        if (due > sent) {
            size_t n = due - sent > 1000 ? 1000 : (size_t) (due - sent);
            for (size_t i = 0; i < n; i++)
                ab_event_set_pseq (batch[i], ++pseq);
            double at = s_now ();
            int64_t reqid = ab_logclient_send_append (client, batch, n, &err);
            if (reqid < 0)
                s_die ("send", err);
            reqs[nreqs++] = (s_req_t) { (uint64_t) reqid, at, n };
            sent += n;
            continue;
        }
        uint64_t reqid;
        const uint64_t *seqs;
        size_t count;
        int rc = -AB_E_TIMEOUT;
        if (ab_logclient_inflight (client) > 0)
            rc = ab_logclient_recv_reply (client, &reqid, &seqs, &count, 0, &err);
        if (rc == 0) {
            double at = s_now ();
            //  reqids grow by one per request: its send time is found by
            //  index (a backwards search cost O(backlog) per reply once
            //  saturated, and made the saturation worse)
            size_t r = nreqs ? (size_t) (reqid - reqs[0].reqid) + 1 : 0;
            if (r > nreqs || reqs[r - 1].reqid != reqid)
                r = 0;
            for (size_t i = 0; i < count && r > 0; i++)
                if (seqs[i] <= lat->max_seq) {
                    lat->sent_at[seqs[i]] = reqs[r - 1].at;
                    lat->acked_at[seqs[i]] = at;
                }
            acked += count;
        }
        else if (rc == -AB_E_TIMEOUT)
            ab_error_destroy (&err);
        else
            s_die ("reply", err);
        //  Nothing to do this instant: yield a little without losing the pace.
        if (rc != 0)
            usleep (20);
    }
    lat->total = acked;
    lat->done = 1;
    for (int i = 0; i < 1000; i++)
        ab_event_destroy (&batch[i]);
    free (batch);
    free (reqs);
    ab_logclient_destroy (&client);
    return NULL;
}

static int
s_cmp_double (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

static void
s_percentiles (const char *name, double rate, double *v, size_t n)
{
    if (n == 0) {
        printf ("RESULT %s/rate=%.0f nan ms (no samples)\n", name, rate);
        return;
    }
    qsort (v, n, sizeof (double), s_cmp_double);
    printf ("RESULT %s-p50/rate=%.0f %.3f ms\n", name, rate, v[n / 2] * 1e3);
    printf ("RESULT %s-p99/rate=%.0f %.3f ms\n", name, rate, v[n * 99 / 100] * 1e3);
}

static int
s_latency (double rate, double seconds)
{
    s_rig_t rig;
    s_rig_start (&rig, 1);
    s_lat_t lat = { .rig = &rig, .rate = rate, .seconds = seconds };
    lat.max_seq = (uint64_t) (rate * seconds) + 1;
    lat.sent_at = calloc (lat.max_seq + 1, sizeof (double));
    lat.acked_at = calloc (lat.max_seq + 1, sizeof (double));
    lat.seen_at = calloc (lat.max_seq + 1, sizeof (double));
    ab_error_t *err = NULL;
    ab_follower_t *f = ab_follower_new (rig.cluster, "monitor", 1, &err);
    if (!f)
        s_die ("follower", err);
    //  Let the follower subscribe and settle before the clock starts.
    ab_follower_next (f, 300, &err);
    ab_error_destroy (&err);
    pthread_t tid;
    pthread_create (&tid, NULL, s_paced_producer, &lat);
    uint64_t seen = 0;
    double give_up = s_now () + seconds + 30;
    while (s_now () < give_up && !(lat.done && seen >= lat.total)) {
        ab_event_t *event = ab_follower_next (f, 100, &err);
        if (!event) {
            ab_error_destroy (&err);
            continue;
        }
        uint64_t seq = ab_event_seq (event);
        if (seq <= lat.max_seq)
            lat.seen_at[seq] = s_now ();
        seen++;
        ab_event_destroy (&event);
    }
    pthread_join (tid, NULL);
    ab_follower_stats_t st;
    ab_follower_stats (f, &st);
    ab_follower_destroy (&f);
    double *ack = calloc (lat.max_seq + 1, sizeof (double));
    double *sub = calloc (lat.max_seq + 1, sizeof (double));
    size_t nack = 0, nsub = 0;
    //  Skip the first 5 % as warm-up.
    for (uint64_t s = lat.max_seq / 20 + 1; s <= lat.max_seq; s++) {
        if (lat.sent_at[s] > 0 && lat.acked_at[s] > 0)
            ack[nack++] = lat.acked_at[s] - lat.sent_at[s];
        if (lat.sent_at[s] > 0 && lat.seen_at[s] > 0)
            sub[nsub++] = lat.seen_at[s] - lat.sent_at[s];
    }
    s_percentiles ("append-ack", rate, ack, nack);
    s_percentiles ("append-subscriber", rate, sub, nsub);
    printf ("INFO latency rate=%.0f: %" PRIu64 " events, follower live %" PRIu64 " read %" PRIu64
            " gap fills %" PRIu64 "\n", rate, lat.total, st.live, st.read, st.gap_fills);
    free (ack);
    free (sub);
    free (lat.sent_at);
    free (lat.acked_at);
    free (lat.seen_at);
    s_rig_stop (&rig);
    return 0;
}

int
main (int argc, char **argv)
{
    int producers = 1, batch = 100, window = 8;
    long events = 400000;
    double rate = 10000, seconds = 5;
    if (argc < 2)
        goto usage;
    for (int i = 2; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (streq (k, "--producers"))
            producers = atoi (v);
        else if (streq (k, "--batch"))
            batch = atoi (v);
        else if (streq (k, "--window"))
            window = atoi (v);
        else if (streq (k, "--events"))
            events = atol (v);
        else if (streq (k, "--rate"))
            rate = atof (v);
        else if (streq (k, "--seconds"))
            seconds = atof (v);
        else
            goto usage;
    }
    if (argc % 2 != 0 || producers < 1 || producers > S_MAX_PRODUCERS || batch < 1
        || batch > 10000 || window < 1 || events < 1 || rate <= 0 || seconds <= 0)
        goto usage;
    //  The actors' sockets must not swallow Ctrl-C for a benchmark.
    zsys_handler_set (NULL);
    //  The daemons are separate processes, each with its own ZeroMQ I/O
    //  thread doing its CURVE work; in one process they would all share
    //  CZMQ's single default I/O thread. ABBEY_BENCH_IO_THREADS overrides.
    const char *io = getenv ("ABBEY_BENCH_IO_THREADS");
    zsys_set_io_threads (io ? (size_t) atoi (io) : 2);
    if (streq (argv[1], "throughput"))
        return s_throughput (producers, batch, window, events);
    if (streq (argv[1], "latency"))
        return s_latency (rate, seconds);
usage:
    fprintf (stderr, "usage: bench-log throughput [--producers P] [--batch B] [--window W] "
                     "[--events N]\n"
                     "       bench-log latency [--rate R] [--seconds S]\n");
    return 2;
}
