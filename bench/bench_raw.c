/*  bench_raw - raw baselines for the log benchmarks: what LevelDB and CURVE
    alone can do on this machine, with the same payloads abbey sends.
    Every figure abbey's own benchmarks print is meant to be read beside
    one of these, measured in the same run (bench/run).

    bench-raw leveldb [--events N] [--batch B] [--threads T] [--size S]
        synced WriteBatches of B values of S bytes, keys big-endian seq,
        from T threads (LevelDB merges concurrent writers into one sync)
    bench-raw curve [--events N] [--batch B] [--threads T] [--size S]
        CURVE PUSH→PULL over loopback TCP, B payloads of S bytes per message,
        T pushers each with its own socket and key

    bench-raw leveldb-lat [--events N] [--size S]
        latency p50/p99 of one synced put of S bytes (the floor of an ack)
    bench-raw curve-rtt [--events N] [--size S]
        round trip p50/p99 of S bytes DEALER→ROUTER→DEALER over CURVE
        (the floor of one hop there and back)

    Each prints RESULT <name> <value> <unit> lines.                         */
#include <czmq.h>
#include <leveldb/c.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    long events;    //  total events across all threads
    int batch;      //  events per synced write / per message
    int threads;    //  producer threads
    int size;       //  bytes per event
} s_args_t;

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
s_parse (int argc, char **argv, s_args_t *a)
{
    for (int i = 2; i < argc; i += 2) {
        if (i + 1 >= argc)
            return -1;
        long v = strtol (argv[i + 1], NULL, 10);
        if (v <= 0)
            return -1;
        if (streq (argv[i], "--events"))
            a->events = v;
        else if (streq (argv[i], "--batch"))
            a->batch = (int) v;
        else if (streq (argv[i], "--threads"))
            a->threads = (int) v;
        else if (streq (argv[i], "--size"))
            a->size = (int) v;
        else
            return -1;
    }
    return 0;
}

//  --- LevelDB ------------------------------------------------------------

typedef struct {
    leveldb_t *db;
    const s_args_t *a;
    int id;             //  thread index: keys are disjoint per thread
    char *errmsg;       //  first LevelDB error, owned
} s_ldb_job_t;

static void *
s_ldb_writer (void *arg)
{
    s_ldb_job_t *job = (s_ldb_job_t *) arg;
    const s_args_t *a = job->a;
    long mine = a->events / a->threads;
    char *value = malloc (a->size);
    memset (value, 'v', a->size);
    leveldb_writeoptions_t *wo = leveldb_writeoptions_create ();
    leveldb_writeoptions_set_sync (wo, 1);
    leveldb_writebatch_t *wb = leveldb_writebatch_create ();
    uint64_t seq = (uint64_t) job->id * (uint64_t) mine;
    for (long done = 0; done < mine && !job->errmsg;) {
        leveldb_writebatch_clear (wb);
        for (int i = 0; i < a->batch && done < mine; i++, done++) {
            uint8_t key[8];
            seq++;
            for (int b = 0; b < 8; b++)
                key[b] = (uint8_t) (seq >> (56 - 8 * b));
            //  vary the value so LevelDB's compression cannot cheat
            memcpy (value, &seq, sizeof seq);
            leveldb_writebatch_put (wb, (char *) key, 8, value, a->size);
        }
        leveldb_write (job->db, wo, wb, &job->errmsg);
    }
    leveldb_writebatch_destroy (wb);
    leveldb_writeoptions_destroy (wo);
    free (value);
    return NULL;
}

static int
s_leveldb (const s_args_t *a)
{
    char dir[] = "/tmp/abbey-bench-ldb-XXXXXX";
    if (!mkdtemp (dir)) {
        perror ("mkdtemp");
        return 1;
    }
    leveldb_options_t *opt = leveldb_options_create ();
    leveldb_options_set_create_if_missing (opt, 1);
    char *errmsg = NULL;
    leveldb_t *db = leveldb_open (opt, dir, &errmsg);
    if (!db) {
        fprintf (stderr, "bench-raw: leveldb open %s: %s\n", dir, errmsg);
        return 1;
    }
    s_ldb_job_t jobs[64];
    pthread_t tids[64];
    double t0 = s_now ();
    for (int t = 0; t < a->threads; t++) {
        jobs[t] = (s_ldb_job_t) { db, a, t, NULL };
        pthread_create (&tids[t], NULL, s_ldb_writer, &jobs[t]);
    }
    int rc = 0;
    for (int t = 0; t < a->threads; t++) {
        pthread_join (tids[t], NULL);
        if (jobs[t].errmsg) {
            fprintf (stderr, "bench-raw: leveldb write: %s\n", jobs[t].errmsg);
            leveldb_free (jobs[t].errmsg);
            rc = 1;
        }
    }
    double dt = s_now () - t0;
    leveldb_close (db);
    leveldb_destroy_db (opt, dir, &errmsg);
    leveldb_free (errmsg);
    leveldb_options_destroy (opt);
    rmdir (dir);
    if (rc == 0)
        printf ("RESULT raw-leveldb-sync/batch=%d/threads=%d %.0f ev/s\n", a->batch,
                a->threads, (a->events / a->threads * a->threads) / dt);
    return rc;
}

//  --- CURVE PUSH/PULL ----------------------------------------------------

typedef struct {
    const char *endpoint;
    const char *server_key;     //  Z85 public key of the PULL side
    const s_args_t *a;
} s_push_job_t;

static void *
s_pusher (void *arg)
{
    s_push_job_t *job = (s_push_job_t *) arg;
    const s_args_t *a = job->a;
    zcert_t *cert = zcert_new ();
    zsock_t *push = zsock_new (ZMQ_PUSH);
    zcert_apply (cert, push);
    zsock_set_curve_serverkey (push, job->server_key);
    zsock_set_sndhwm (push, 10000);
    //  CZMQ defaults linger to 0: without this, what is still queued at
    //  destroy is dropped and the receiver waits forever
    zsock_set_linger (push, -1);
    zsock_connect (push, "%s", job->endpoint);
    long mine = a->events / a->threads;
    size_t len = (size_t) a->size * a->batch;
    uint8_t *payload = malloc (len);
    memset (payload, 'p', len);
    for (long done = 0; done < mine; done += a->batch) {
        zmq_send (zsock_resolve (push), payload, len, 0);
    }
    free (payload);
    zsock_destroy (&push);
    zcert_destroy (&cert);
    return NULL;
}

static int
s_curve (const s_args_t *a)
{
    //  A real ZAP handler allowing any CURVE key, so the handshake path is
    //  the same shape as abbey's (abbey's handler also checks a directory).
    zactor_t *auth = zactor_new (zauth, NULL);
    zstr_sendx (auth, "CURVE", CURVE_ALLOW_ANY, NULL);
    zsock_wait (auth);
    zcert_t *server = zcert_new ();
    zsock_t *pull = zsock_new (ZMQ_PULL);
    zcert_apply (server, pull);
    zsock_set_curve_server (pull, 1);
    zsock_set_zap_domain (pull, "bench");
    zsock_set_rcvhwm (pull, 10000);
    zsock_set_rcvtimeo (pull, 10000);
    if (zsock_bind (pull, "tcp://127.0.0.1:*") < 0) {
        fprintf (stderr, "bench-raw: bind: %s\n", zmq_strerror (zmq_errno ()));
        return 1;
    }
    const char *endpoint = zsock_endpoint (pull);
    s_push_job_t job = { endpoint, zcert_public_txt (server), a };
    pthread_t tids[64];
    long mine = a->events / a->threads;
    long msgs_each = (mine + a->batch - 1) / a->batch;
    long total_msgs = msgs_each * a->threads;
    double t0 = 0;
    for (int t = 0; t < a->threads; t++)
        pthread_create (&tids[t], NULL, s_pusher, &job);
    zmq_msg_t msg;
    zmq_msg_init (&msg);
    int rc = 0;
    for (long got = 0; got < total_msgs; got++) {
        if (zmq_msg_recv (&msg, zsock_resolve (pull), 0) < 0) {
            fprintf (stderr, "bench-raw: recv: %s\n", zmq_strerror (zmq_errno ()));
            rc = 1;
            break;
        }
        //  the clock starts at the first message: handshakes are not throughput
        if (got == 0)
            t0 = s_now ();
    }
    double dt = s_now () - t0;
    zmq_msg_close (&msg);
    for (int t = 0; t < a->threads; t++)
        pthread_join (tids[t], NULL);
    zsock_destroy (&pull);
    zcert_destroy (&server);
    zactor_destroy (&auth);
    if (rc == 0)
        printf ("RESULT raw-curve-pushpull/batch=%d/threads=%d %.0f ev/s\n", a->batch,
                a->threads, (double) (total_msgs - 1) * a->batch / dt);
    return rc;
}

//  --- latency baselines --------------------------------------------------

static int
s_cmp_double (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

static void
s_print_lat (const char *name, double *v, long n)
{
    qsort (v, (size_t) n, sizeof (double), s_cmp_double);
    printf ("RESULT %s-p50 %.3f ms\n", name, v[n / 2] * 1e3);
    printf ("RESULT %s-p99 %.3f ms\n", name, v[n * 99 / 100] * 1e3);
}

static int
s_leveldb_lat (const s_args_t *a)
{
    char dir[] = "/tmp/abbey-bench-ldb-XXXXXX";
    if (!mkdtemp (dir)) {
        perror ("mkdtemp");
        return 1;
    }
    leveldb_options_t *opt = leveldb_options_create ();
    leveldb_options_set_create_if_missing (opt, 1);
    char *errmsg = NULL;
    leveldb_t *db = leveldb_open (opt, dir, &errmsg);
    if (!db) {
        fprintf (stderr, "bench-raw: leveldb open %s: %s\n", dir, errmsg);
        return 1;
    }
    leveldb_writeoptions_t *wo = leveldb_writeoptions_create ();
    leveldb_writeoptions_set_sync (wo, 1);
    char *value = calloc (1, (size_t) a->size);
    double *lat = calloc ((size_t) a->events, sizeof (double));
    int rc = 0;
    for (long i = 0; i < a->events; i++) {
        uint64_t key = __builtin_bswap64 ((uint64_t) i + 1);
        memcpy (value, &i, sizeof i);
        double t0 = s_now ();
        leveldb_put (db, wo, (char *) &key, 8, value, (size_t) a->size, &errmsg);
        lat[i] = s_now () - t0;
        if (errmsg) {
            fprintf (stderr, "bench-raw: leveldb put: %s\n", errmsg);
            rc = 1;
            break;
        }
    }
    if (rc == 0)
        s_print_lat ("raw-leveldb-sync-put", lat, a->events);
    free (lat);
    free (value);
    leveldb_writeoptions_destroy (wo);
    leveldb_close (db);
    leveldb_destroy_db (opt, dir, &errmsg);
    leveldb_free (errmsg);
    leveldb_options_destroy (opt);
    rmdir (dir);
    return rc;
}

static void
s_echo (zsock_t *pipe, void *args)
{
    zsock_t *router = (zsock_t *) args;
    zsock_signal (pipe, 0);
    zpoller_t *poller = zpoller_new (pipe, router, NULL);
    while (true) {
        void *which = zpoller_wait (poller, -1);
        if (which != router)
            break;
        zmsg_t *msg = zmsg_recv (router);
        zmsg_send (&msg, router);
    }
    zpoller_destroy (&poller);
}

static int
s_curve_rtt (const s_args_t *a)
{
    zactor_t *auth = zactor_new (zauth, NULL);
    zstr_sendx (auth, "CURVE", CURVE_ALLOW_ANY, NULL);
    zsock_wait (auth);
    zcert_t *server = zcert_new ();
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    zcert_apply (server, router);
    zsock_set_curve_server (router, 1);
    zsock_set_zap_domain (router, "bench");
    if (zsock_bind (router, "tcp://127.0.0.1:*") < 0)
        return 1;
    zactor_t *echo = zactor_new (s_echo, router);
    zcert_t *client = zcert_new ();
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    zcert_apply (client, dealer);
    zsock_set_curve_serverkey (dealer, zcert_public_txt (server));
    zsock_set_rcvtimeo (dealer, 5000);
    zsock_connect (dealer, "%s", zsock_endpoint (router));
    uint8_t *payload = calloc (1, (size_t) a->size);
    double *lat = calloc ((size_t) a->events, sizeof (double));
    int rc = 0;
    for (long i = -100; i < a->events; i++) {    //  100 warm-up trips
        double t0 = s_now ();
        zmq_send (zsock_resolve (dealer), payload, (size_t) a->size, 0);
        zmq_msg_t msg;
        zmq_msg_init (&msg);
        int n = zmq_msg_recv (&msg, zsock_resolve (dealer), 0);
        zmq_msg_close (&msg);
        if (n < 0) {
            fprintf (stderr, "bench-raw: no echo\n");
            rc = 1;
            break;
        }
        if (i >= 0)
            lat[i] = s_now () - t0;
    }
    if (rc == 0)
        s_print_lat ("raw-curve-rtt", lat, a->events);
    free (lat);
    free (payload);
    zsock_destroy (&dealer);
    zactor_destroy (&echo);
    zsock_destroy (&router);
    zcert_destroy (&client);
    zcert_destroy (&server);
    zactor_destroy (&auth);
    return rc;
}

int
main (int argc, char **argv)
{
    s_args_t a = { 200000, 64, 1, 250 };
    if (argc < 2 || s_parse (argc, argv, &a) < 0 || a.threads > 64) {
        fprintf (stderr, "usage: bench-raw leveldb|curve|leveldb-lat|curve-rtt [--events N] [--batch B] "
                         "[--threads T≤64] [--size S]\n");
        return 2;
    }
    if (streq (argv[1], "leveldb"))
        return s_leveldb (&a);
    if (streq (argv[1], "curve"))
        return s_curve (&a);
    if (streq (argv[1], "leveldb-lat"))
        return s_leveldb_lat (&a);
    if (streq (argv[1], "curve-rtt"))
        return s_curve_rtt (&a);
    fprintf (stderr, "bench-raw: unknown benchmark '%s'\n", argv[1]);
    return 2;
}
