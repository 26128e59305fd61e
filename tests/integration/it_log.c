/*  it-log - integration tests of the log, the bus and the follower
    Real abbey-logd and abbey-busd processes on loopback (ephemeral ports),
    a real key directory made with the bus library, real LevelDB in a
    mkdtemp directory. One scenario per subcommand; each kills its daemons
    and removes its directory on the way out, whatever happens.

        it-log BINDIR load     4 producers x 10,000, follower sees each once
        it-log BINDIR crash    kill -9 logd under load, restart, retry
        it-log BINDIR slow     slow subscriber falls behind, still gets all
        it-log BINDIR auth     unknown key, revoked key, forbidden type
        it-log BINDIR bad      malformed, oversize, unknown type → NACK
        it-log BINDIR flip     one flipped byte → verify names the seq

    Failures print "FAIL file:line: what" and exit 1.                       */
#include "ab_evrun.h"
#include "ab_cluster.h"
#include "ab_event.h"
#include "ab_follower.h"
#include "ab_keyring.h"
#include "ab_logclient.h"
#include "ab_proto.h"
#include "ab_store.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <sodium.h>
#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <leveldb/c.h>
#include <msgpack.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

//  Daemons bind a random port below the kernel's ephemeral range
//  (32768-60999), so a restart on the same port cannot lose it to some
//  client connection's source port in the meantime. libsodium picks it:
//  CZMQ's ":!" seeds random() from the clock, so tests started in the same
//  second would all draw the same port.
static char *s_any_port (void);
#define S_ANY_PORT s_any_port ()

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf (stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                  \
            fprintf (stderr, __VA_ARGS__);                                                         \
            fputc ('\n', stderr);                                                                  \
            exit (1);                                                                              \
        }                                                                                          \
    } while (0)

#define S_WATCHDOG_S 58 //  every scenario must end before this

typedef struct {
    char bin[512]; //  directory holding abbey-logd, abbey-busd
    char dir[64];  //  mkdtemp root, removed at exit
    char keys[128];
    char data[128];
    char cluster_path[128];
    pid_t busd;
    pid_t logd;
    char logd_ep[256];
    char logd_key[AB_KEY_Z85_LEN + 1];
    char pub_ep[256];
    char sub_ep[256];
    char busd_key[AB_KEY_Z85_LEN + 1];
    ab_cluster_t *cluster;
} s_rig_t;

static s_rig_t s_rig; //  global: the exit and alarm handlers need it

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
s_kill (pid_t *pid)
{
    if (*pid > 0) {
        kill (*pid, SIGKILL);
        waitpid (*pid, NULL, 0);
    }
    *pid = 0;
}

static void
s_cleanup (void)
{
    s_kill (&s_rig.logd);
    s_kill (&s_rig.busd);
    ab_cluster_destroy (&s_rig.cluster);
    if (*s_rig.dir) {
        zdir_t *dir = zdir_new (s_rig.dir, NULL);
        if (dir) {
            zdir_remove (dir, true);
            zdir_destroy (&dir);
        }
        *s_rig.dir = 0;
    }
}

//  A hung or interrupted scenario must still take its daemons down and
//  remove its directory; only async-signal-safe calls here (kill, fork,
//  execv, waitpid, _exit).
static void
s_on_signal (int sig)
{
    static const char msg[] = "FAIL it-log: watchdog or signal: cleaning up\n";
    if (write (2, msg, sizeof msg - 1) < 0) {
    }
    if (s_rig.logd > 0)
        kill (s_rig.logd, SIGKILL);
    if (s_rig.busd > 0)
        kill (s_rig.busd, SIGKILL);
    if (*s_rig.dir) {
        pid_t pid = fork ();
        if (pid == 0) {
            char *argv[] = { "/bin/rm", "-rf", s_rig.dir, NULL };
            execv (argv[0], argv);
            _exit (127);
        }
        if (pid > 0)
            waitpid (pid, NULL, 0);
    }
    _exit (sig == SIGALRM ? 1 : 128 + sig);
}

//  Start a daemon with its stdout on a pipe; copy its first line (where it
//  says what it bound) into line. The child dies with us (PDEATHSIG).
static pid_t
s_spawn (char *const argv[], char *line, size_t size)
{
    int fds[2];
    CHECK (pipe (fds) == 0, "pipe: %s", strerror (errno));
    pid_t pid = fork ();
    CHECK (pid >= 0, "fork: %s", strerror (errno));
    if (pid == 0) {
        prctl (PR_SET_PDEATHSIG, SIGKILL);
        dup2 (fds[1], 1);
        close (fds[0]);
        close (fds[1]);
        execv (argv[0], argv);
        fprintf (stderr, "exec %s: %s\n", argv[0], strerror (errno));
        _exit (127);
    }
    close (fds[1]);
    size_t len = 0;
    double give_up = s_now () + 10;
    while (len < size - 1 && s_now () < give_up) {
        struct pollfd p = { fds[0], POLLIN, 0 };
        if (poll (&p, 1, 100) <= 0)
            continue;
        ssize_t n = read (fds[0], line + len, 1);
        if (n <= 0)
            break;
        if (line[len] == '\n')
            break;
        len++;
    }
    line[len] = 0;
    //  Keep the pipe open (leaked on purpose): a daemon that prints again
    //  must not die of SIGPIPE. One fd per start is fine for a test.
    CHECK (len > 0, "%s did not say it was ready", argv[0]);
    return pid;
}

static void
s_start_logd (const char *endpoint)
{
    char exe[600], line[1024];
    snprintf (exe, sizeof exe, "%s/abbey-logd", s_rig.bin);
    char *argv[] = { exe,          "--keys",     s_rig.keys,       "--data",
                     s_rig.data,   "--endpoint", (char *)endpoint, "--bus",
                     s_rig.pub_ep, "--bus-key",  s_rig.busd_key,   NULL };
    s_rig.logd = s_spawn (argv, line, sizeof line);
    char ep[256], key[64];
    CHECK (sscanf (line, "abbey-logd: serving %255s (key %40s", ep, key) == 2,
           "unexpected logd banner '%s'", line);
    snprintf (s_rig.logd_ep, sizeof s_rig.logd_ep, "%s", ep);
    snprintf (s_rig.logd_key, sizeof s_rig.logd_key, "%.40s", key);
}

static void
s_rig_start (const char *bin)
{
    ab_error_t *err = NULL;
    snprintf (s_rig.bin, sizeof s_rig.bin, "%s", bin);
    strcpy (s_rig.dir, "/tmp/abbey-it-log-XXXXXX");
    CHECK (mkdtemp (s_rig.dir), "mkdtemp: %s", strerror (errno));
    atexit (s_cleanup);
    signal (SIGALRM, s_on_signal);
    signal (SIGTERM, s_on_signal);
    signal (SIGINT, s_on_signal);
    alarm (S_WATCHDOG_S);
    snprintf (s_rig.keys, sizeof s_rig.keys, "%s/keys", s_rig.dir);
    snprintf (s_rig.data, sizeof s_rig.data, "%s/data", s_rig.dir);
    snprintf (s_rig.cluster_path, sizeof s_rig.cluster_path, "%s/cluster.yaml", s_rig.dir);
    CHECK (ab_keyring_init (s_rig.keys, &err) == 0, "keys init: %s", ab_error_msg (err));
    for (int i = 1; i <= 4; i++) {
        char name[24];
        snprintf (name, sizeof name, "producer%d", i);
        CHECK (ab_keyring_add (s_rig.keys, "admin", name, &err) == 0, "keys add: %s",
               ab_error_msg (err));
    }
    char exe[600], line[1024];
    snprintf (exe, sizeof exe, "%s/abbey-busd", bin);
    char *argv[]
        = { exe, "--keys", s_rig.keys, "--publish", S_ANY_PORT, "--subscribe", S_ANY_PORT, NULL };
    s_rig.busd = s_spawn (argv, line, sizeof line);
    CHECK (sscanf (line, "abbey-busd ready: publish %255s subscribe %255s key %40s", s_rig.pub_ep,
                   s_rig.sub_ep, s_rig.busd_key)
               == 3,
           "unexpected busd banner '%s'", line);
    s_start_logd (S_ANY_PORT);
    s_rig.cluster = ab_cluster_new ("it-log");
    ab_cluster_set_keys (s_rig.cluster, s_rig.keys);
    ab_cluster_set_data (s_rig.cluster, s_rig.data);
    ab_cluster_set_logd (s_rig.cluster, s_rig.logd_ep, s_rig.logd_key);
    ab_cluster_set_busd (s_rig.cluster, s_rig.pub_ep, s_rig.sub_ep, s_rig.busd_key);
    CHECK (ab_cluster_save (s_rig.cluster, s_rig.cluster_path, &err) == 0, "cluster save: %s",
           ab_error_msg (err));
}

static ab_logclient_t *
s_client (const char *name)
{
    ab_error_t *err = NULL;
    ab_logclient_t *client = ab_logclient_new_cluster (s_rig.cluster, name, &err);
    CHECK (client, "log client as %s: %s", name, ab_error_msg (err));
    return client;
}

static uint64_t
s_head (void)
{
    ab_error_t *err = NULL;
    ab_logclient_t *client = s_client ("monitor");
    int64_t head = ab_logclient_head (client, NULL, &err);
    CHECK (head >= 0, "head: %s", ab_error_msg (err));
    ab_logclient_destroy (&client);
    return (uint64_t)head;
}

static ab_event_t *
s_note (const char *subj, uint64_t n)
{
    ab_event_t *event = ab_event_new ("note.added", subj);
    //  ~250 bytes encoded once sealed, like the benchmarks
    char json[200];
    snprintf (json, sizeof json,
              "{\"n\": %" PRIu64 ", \"text\": \"integration test of the abbey event log, "
              "padded to look like a real event\"}",
              n);
    ab_error_t *err = NULL;
    CHECK (ab_event_set_data_json (event, json, &err) == 0, "data: %s", ab_error_msg (err));
    return event;
}

//  count events in synchronous APPENDs of `per` (≤ 250) each.
static void
s_append_by (const char *name, size_t count, size_t per)
{
    ab_logclient_t *client = s_client (name);
    ab_event_t *batch[250];
    for (size_t done = 0; done < count;) {
        size_t n = count - done < per ? count - done : per;
        for (size_t i = 0; i < n; i++)
            batch[i] = s_note ("stack/it", done + i);
        ab_error_t *err = NULL;
        int rc = ab_logclient_append (client, batch, n, NULL, 10000, &err);
        CHECK (rc == 0, "append: %s", ab_error_msg (err));
        for (size_t i = 0; i < n; i++)
            ab_event_destroy (&batch[i]);
        done += n;
    }
    ab_logclient_destroy (&client);
}

static void
s_append_n (const char *name, size_t count)
{
    s_append_by (name, count, 250);
}

//  --------------------------------------------------------------------------
//  Producers: a window of pipelined APPENDs; on a timeout (logd gone),
//  resend everything in flight until it is acked (same pseqs: dedupe).

#define S_PER_PRODUCER 10000
#define S_PER_APPEND 100
#define S_WINDOW 4

typedef struct {
    int id;                         //  1..4
    uint64_t seqs[S_PER_PRODUCER];  //  seq acked for the i-th event
    uint64_t pseqs[S_PER_PRODUCER]; //  pseq the client gave it
    uint64_t resends;               //  times the window was resent
    char error[512];                //  first failure, "" if none
} s_producer_t;

typedef struct {
    uint64_t reqid;
    size_t first; //  index of its first event
    size_t count;
} s_flight_t;

static void *
s_producer (void *arg)
{
    s_producer_t *p = (s_producer_t *)arg;
    char name[24];
    snprintf (name, sizeof name, "producer%d", p->id);
    ab_error_t *err = NULL;
    ab_logclient_t *client = ab_logclient_new_cluster (s_rig.cluster, name, &err);
    if (!client) {
        snprintf (p->error, sizeof p->error, "%s", ab_error_msg (err));
        ab_error_destroy (&err);
        return NULL;
    }
    ab_logclient_set_timeout (client, 1000);
    s_flight_t flights[S_WINDOW * 2];
    size_t nflights = 0, sent = 0, acked = 0;
    double give_up = s_now () + 45;
    while (acked < S_PER_PRODUCER && s_now () < give_up) {
        while (nflights < S_WINDOW && sent < S_PER_PRODUCER) {
            ab_event_t *batch[S_PER_APPEND];
            size_t n = 0;
            for (; n < S_PER_APPEND && sent + n < S_PER_PRODUCER; n++)
                batch[n] = s_note ("stack/it", sent + n);
            int64_t reqid = ab_logclient_send_append (client, batch, n, &err);
            for (size_t i = 0; i < n; i++) {
                p->pseqs[sent + i] = ab_event_pseq (batch[i]);
                ab_event_destroy (&batch[i]);
            }
            if (reqid < 0) {
                snprintf (p->error, sizeof p->error, "send: %s", ab_error_msg (err));
                goto done;
            }
            flights[nflights++] = (s_flight_t){ (uint64_t)reqid, sent, n };
            sent += n;
        }
        uint64_t reqid = 0;
        const uint64_t *seqs = NULL;
        size_t count = 0;
        int rc = ab_logclient_recv_reply (client, &reqid, &seqs, &count, 1000, &err);
        if (rc == -AB_E_TIMEOUT && reqid == 0) {
            ab_error_destroy (&err);
            p->resends++;
            if (ab_logclient_resend (client, &err) < 0)
                ab_error_destroy (&err);
            continue;
        }
        if (rc < 0) {
            snprintf (p->error, sizeof p->error, "reply: %s", ab_error_msg (err));
            goto done;
        }
        size_t f = 0;
        while (f < nflights && flights[f].reqid != reqid)
            f++;
        if (f == nflights)
            continue; //  a late answer to a resent request we already have
        if (count != flights[f].count) {
            snprintf (p->error, sizeof p->error, "ack of %zu seqs for %zu events", count,
                      flights[f].count);
            goto done;
        }
        memcpy (&p->seqs[flights[f].first], seqs, count * sizeof (uint64_t));
        acked += count;
        flights[f] = flights[--nflights];
    }
    if (acked < S_PER_PRODUCER)
        snprintf (p->error, sizeof p->error, "only %zu of %d acked in time", acked, S_PER_PRODUCER);
done:
    ab_error_destroy (&err);
    ab_logclient_destroy (&client);
    return NULL;
}

//  Follow from 1 until `last`, checking each seq is exactly the next one.
//  Tolerates logd being away (timeouts) while it restarts.
typedef struct {
    uint64_t last;
    int sleep_us;             //  per event: a slow subscriber...
    volatile int *slow_until; //  ...while this is 0 (NULL: always)
    int rcvhwm;               //  0: default
    uint64_t got;
    ab_follower_stats_t stats;
    char error[512];
} s_follow_t;

static void *
s_follow (void *arg)
{
    s_follow_t *fo = (s_follow_t *)arg;
    ab_error_t *err = NULL;
    ab_follower_t *f = ab_follower_new (s_rig.cluster, "monitor", 1, &err);
    if (!f) {
        snprintf (fo->error, sizeof fo->error, "%s", ab_error_msg (err));
        ab_error_destroy (&err);
        return NULL;
    }
    if (fo->rcvhwm)
        ab_follower_set_rcvhwm (f, fo->rcvhwm, 4096);
    double give_up = s_now () + 50;
    while (fo->got < fo->last && s_now () < give_up) {
        ab_event_t *event = ab_follower_next (f, 200, &err);
        if (!event) {
            if (err && err->code != AB_E_TIMEOUT && err->code != AB_E_UNAVAILABLE) {
                snprintf (fo->error, sizeof fo->error, "%s", ab_error_msg (err));
                break;
            }
            ab_error_destroy (&err);
            continue;
        }
        uint64_t seq = ab_event_seq (event);
        ab_event_destroy (&event);
        if (seq != fo->got + 1) {
            snprintf (fo->error, sizeof fo->error, "follower gave seq %" PRIu64 " after %" PRIu64,
                      seq, fo->got);
            break;
        }
        __atomic_store_n (&fo->got, seq, __ATOMIC_RELAXED);
        if (fo->sleep_us && (!fo->slow_until || !*fo->slow_until))
            usleep ((useconds_t)fo->sleep_us);
    }
    if (!*fo->error && fo->got < fo->last)
        snprintf (fo->error, sizeof fo->error, "follower got %" PRIu64 " of %" PRIu64, fo->got,
                  fo->last);
    ab_follower_stats (f, &fo->stats);
    ab_error_destroy (&err);
    ab_follower_destroy (&f);
    return NULL;
}

//  Read the whole log back and check what the producers were told: gapless
//  1..total, every acked (producer, pseq) at exactly the seq it was acked
//  with and nowhere else.
typedef struct {
    uint64_t next;
    uint64_t *pseq_at; //  pseq of each seq
    char (*src_at)[AB_SRC_MAX + 1];
} s_scan_t;

static int
s_scan_fn (ab_event_t **event_p, void *arg)
{
    s_scan_t *scan = (s_scan_t *)arg;
    uint64_t seq = ab_event_seq (*event_p);
    CHECK (seq == scan->next, "read gave seq %" PRIu64 ", expected %" PRIu64, seq, scan->next);
    scan->pseq_at[seq] = ab_event_pseq (*event_p);
    snprintf (scan->src_at[seq], AB_SRC_MAX + 1, "%s", ab_event_src (*event_p));
    scan->next++;
    return 0;
}

static void
s_check_log (s_producer_t *producers, int nproducers, uint64_t total)
{
    uint64_t head = s_head ();
    CHECK (head == total, "head is %" PRIu64 ", expected %" PRIu64 " (lost or duplicated)", head,
           total);
    s_scan_t scan
        = { 1, calloc (total + 1, sizeof (uint64_t)), calloc (total + 1, AB_SRC_MAX + 1) };
    ab_logclient_t *client = s_client ("monitor");
    ab_error_t *err = NULL;
    int64_t n = ab_logclient_read (client, 1, 0, s_scan_fn, &scan, &err);
    CHECK (n == (int64_t)total, "read %" PRId64 " events: %s", n, ab_error_msg (err));
    ab_logclient_destroy (&client);
    uint8_t *claimed = calloc (total + 1, 1);
    for (int p = 0; p < nproducers; p++) {
        char name[24];
        snprintf (name, sizeof name, ":producer%d:", producers[p].id);
        for (size_t i = 0; i < S_PER_PRODUCER; i++) {
            uint64_t seq = producers[p].seqs[i];
            CHECK (seq >= 1 && seq <= total, "producer%d event %zu acked with seq %" PRIu64,
                   producers[p].id, i, seq);
            CHECK (!claimed[seq], "seq %" PRIu64 " acked twice", seq);
            claimed[seq] = 1;
            CHECK (scan.pseq_at[seq] == producers[p].pseqs[i] && strstr (scan.src_at[seq], name),
                   "seq %" PRIu64 " holds %s pseq %" PRIu64 ", acked to producer%d pseq %" PRIu64,
                   seq, scan.src_at[seq], scan.pseq_at[seq], producers[p].id,
                   producers[p].pseqs[i]);
        }
    }
    free (claimed);
    free (scan.pseq_at);
    free (scan.src_at);
}

//  Stop logd (it must not hold LevelDB's lock) and verify the chain offline.
static uint64_t
s_verify_offline (void)
{
    s_kill (&s_rig.logd);
    ab_error_t *err = NULL;
    ab_store_t *store = ab_store_open (s_rig.data, &err);
    CHECK (store, "store open: %s", ab_error_msg (err));
    uint64_t bad = 0;
    int rc = ab_store_verify (store, 1, 0, &bad, &err);
    if (rc < 0)
        fprintf (stderr, "verify: %s\n", ab_error_msg (err));
    ab_error_destroy (&err);
    ab_store_close (&store);
    return rc < 0 ? (bad ? bad : UINT64_MAX) : 0;
}

static int
s_load (bool crash)
{
    s_producer_t *producers = calloc (4, sizeof (s_producer_t));
    pthread_t tids[4], ftid;
    s_follow_t fo = { .last = 4 * S_PER_PRODUCER };
    pthread_create (&ftid, NULL, s_follow, &fo);
    double t0 = s_now ();
    for (int i = 0; i < 4; i++) {
        producers[i].id = i + 1;
        pthread_create (&tids[i], NULL, s_producer, &producers[i]);
    }
    uint64_t killed_at = 0;
    if (crash) {
        //  Kill in the middle: once a quarter of the events are in.
        while (s_head () < S_PER_PRODUCER && s_now () - t0 < 30)
            usleep (2000);
        char ep[256];
        snprintf (ep, sizeof ep, "%s", s_rig.logd_ep);
        s_kill (&s_rig.logd);
        ab_error_t *err = NULL;
        ab_store_t *store = ab_store_open (s_rig.data, &err);
        CHECK (store, "store open after kill: %s", ab_error_msg (err));
        killed_at = ab_store_head (store, NULL);
        ab_store_close (&store);
        usleep (300 * 1000);
        s_start_logd (ep);
        CHECK (streq (ep, s_rig.logd_ep), "logd restarted on %s, not %s", s_rig.logd_ep, ep);
    }
    uint64_t resends = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join (tids[i], NULL);
        CHECK (!*producers[i].error, "producer%d: %s", i + 1, producers[i].error);
        resends += producers[i].resends;
    }
    double dt = s_now () - t0;
    pthread_join (ftid, NULL);
    CHECK (!*fo.error, "%s", fo.error);
    printf ("40000 events from 4 producers in %.2f s; follower: live %" PRIu64 " read %" PRIu64
            " gap fills %" PRIu64 "\n",
            dt, fo.stats.live, fo.stats.read, fo.stats.gap_fills);
    s_check_log (producers, 4, 4 * S_PER_PRODUCER);
    if (crash) {
        printf ("logd killed at head %" PRIu64 "; producers resent their windows %" PRIu64
                " times\n",
                killed_at, resends);
        CHECK (killed_at > 0 && killed_at < 4 * S_PER_PRODUCER,
               "kill at %" PRIu64 " was not in the middle", killed_at);
        CHECK (resends > 0, "no producer had to resend: the crash proved nothing");
    }
    uint64_t bad = s_verify_offline ();
    CHECK (bad == 0, "chain broken at seq %" PRIu64, bad);
    free (producers);
    return 0;
}

//  --------------------------------------------------------------------------

static int
s_slow (void)
{
    //  busd queues up to 2,000 messages per subscriber (RELAY_HWM) before
    //  its XPUB drops, and a message is one commit's run of events: the
    //  flood is 8,000 commits of 20 events, well past that.
    //  It sleeps per event while the flood lasts, then catches up at full
    //  speed, which keeps the test short.
    static volatile int flood_over = 0;
    s_follow_t fo = { .last = 160000, .sleep_us = 10, .slow_until = &flood_over, .rcvhwm = 10 };
    pthread_t ftid;
    pthread_create (&ftid, NULL, s_follow, &fo);
    //  Let it subscribe and reach the (empty) head, then flood.
    usleep (500 * 1000);
    s_append_by ("admin", 160000, 20);
    flood_over = 1;
    pthread_join (ftid, NULL);
    CHECK (!*fo.error, "%s", fo.error);
    printf ("slow follower: live %" PRIu64 " read %" PRIu64 " gap fills %" PRIu64
            " idle fills %" PRIu64 " stale %" PRIu64 "\n",
            fo.stats.live, fo.stats.read, fo.stats.gap_fills, fo.stats.idle_fills, fo.stats.stale);
    //  Proof the recovery path ran: the log was empty when the follower
    //  started, so every event it READ is one the bus dropped for it (found
    //  by a gap in live seqs, or by the idle HEAD when the tail was lost).
    CHECK (fo.stats.read > 0 && fo.stats.gap_fills + fo.stats.idle_fills > 0,
           "the bus dropped nothing: the test proved nothing");
    CHECK (fo.stats.live > 0, "nothing came live: the bus was not used");
    return 0;
}

//  --------------------------------------------------------------------------

//  A raw SUB on busd with cert; counts the events its "ev." messages
//  carry (a message holds a run of them) for ms.
static int
s_count_sub (zsock_t *sub, int ms)
{
    int count = 0;
    double until = s_now () + ms / 1000.0;
    while (s_now () < until) {
        zmq_pollitem_t item = { zsock_resolve (sub), 0, ZMQ_POLLIN, 0 };
        if (zmq_poll (&item, 1, 50) > 0) {
            zmsg_t *msg = zmsg_recv (sub);
            char *topic = zmsg_popstr (msg);
            zframe_t *body = zmsg_pop (msg);
            ab_event_t **events = NULL;
            size_t n = 0;
            CHECK (topic && body
                       && ab_evrun_parse (topic, zframe_data (body), zframe_size (body), &events,
                                          &n, NULL)
                              == 0,
                   "a bus message did not parse");
            ab_evrun_free (&events, n);
            free (topic);
            zframe_destroy (&body);
            zmsg_destroy (&msg);
            count += (int)n;
        }
    }
    return count;
}

static zsock_t *
s_sub_with (zcert_t *cert)
{
    zsock_t *sub = zsock_new (ZMQ_SUB);
    zcert_apply (cert, sub);
    zsock_set_curve_serverkey (sub, s_rig.busd_key);
    zsock_set_subscribe (sub, "ev.");
    zsock_set_linger (sub, 0);
    CHECK (zsock_connect (sub, "%s", s_rig.sub_ep) == 0, "connect sub");
    return sub;
}

//  Wait until sub really receives: the CURVE handshake and the subscription
//  can take a while on a loaded machine, so probe with appends rather than
//  trusting a fixed sleep. Drains what it received.
static void
s_sub_ready (zsock_t *sub)
{
    double until = s_now () + 15.0;
    while (s_now () < until) {
        s_append_n ("admin", 1);
        if (s_count_sub (sub, 300) > 0) {
            s_count_sub (sub, 200);
            return;
        }
    }
    CHECK (false, "subscriber never received a probe event within 15 s");
}

static char *
s_any_port (void)
{
    static char ep[64][40];
    static int next;
    char *out = ep[next++ % 64];
    for (int tries = 0; tries < 500; tries++) {
        int port = 20000 + (int)randombytes_uniform (12768);
        struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons ((uint16_t)port) };
        addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
        int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int ok = fd >= 0 && bind (fd, (struct sockaddr *)&addr, sizeof addr) == 0;
        if (fd >= 0)
            close (fd);
        if (ok) {
            snprintf (out, 40, "tcp://127.0.0.1:%d", port);
            return out;
        }
    }
    CHECK (false, "no free loopback port in 20000-32767");
    return NULL;
}

static int
s_auth (void)
{
    ab_error_t *err = NULL;
    s_append_n ("admin", 5);
    uint64_t head = s_head ();

    //  1. A key that is not in the directory: no append, nothing received.
    zcert_t *stranger = zcert_new ();
    ab_logclient_t *client = ab_logclient_new (s_rig.logd_ep, s_rig.logd_key, stranger, &err);
    CHECK (client, "client: %s", ab_error_msg (err));
    ab_event_t *event = s_note ("stack/it", 1);
    int rc = ab_logclient_append (client, &event, 1, NULL, 1500, &err);
    CHECK (rc < 0 && (err->code == AB_E_TIMEOUT || err->code == AB_E_DENIED),
           "stranger's append: rc %d %s", rc, ab_error_msg (err));
    printf ("unknown key, append: %s\n", ab_error_msg (err));
    ab_error_destroy (&err);
    ab_event_destroy (&event);
    ab_logclient_destroy (&client);
    CHECK (s_head () == head, "a stranger's append changed the head");
    zsock_t *stranger_sub = s_sub_with (stranger);
    zcert_t *monitor = ab_keyring_load_secret (s_rig.keys, "monitor", &err);
    CHECK (monitor, "%s", ab_error_msg (err));
    zsock_t *monitor_sub = s_sub_with (monitor);
    s_sub_ready (monitor_sub);
    usleep (200 * 1000); //  the stranger has had as long to try
    s_append_n ("admin", 3);
    CHECK (s_count_sub (monitor_sub, 500) == 3, "the monitor did not receive the 3 events");
    CHECK (s_count_sub (stranger_sub, 100) == 0, "a stranger received events");
    zsock_destroy (&stranger_sub);
    zsock_destroy (&monitor_sub);
    zcert_destroy (&stranger);
    zcert_destroy (&monitor);

    //  2. Revocation stops a live connection on both daemons within ~1 s.
    CHECK (ab_keyring_add (s_rig.keys, "admin", "leaver", &err) == 0, "%s", ab_error_msg (err));
    ab_logclient_t *leaver = s_client ("leaver");
    event = s_note ("stack/it", 2);
    CHECK (ab_logclient_append (leaver, &event, 1, NULL, 5000, &err) == 0, "leaver append: %s",
           ab_error_msg (err));
    ab_event_destroy (&event);
    zcert_t *leaver_cert = ab_keyring_load_secret (s_rig.keys, "leaver", &err);
    CHECK (leaver_cert, "%s", ab_error_msg (err));
    zsock_t *leaver_sub = s_sub_with (leaver_cert);
    s_sub_ready (leaver_sub);
    s_append_n ("admin", 2);
    CHECK (s_count_sub (leaver_sub, 500) == 2, "leaver did not receive before revocation");
    CHECK (ab_keyring_revoke (s_rig.keys, "leaver", &err) == 0, "%s", ab_error_msg (err));
    double t0 = s_now ();
    usleep (1000 * 1000);
    head = s_head ();
    event = s_note ("stack/it", 3);
    ab_logclient_set_timeout (leaver, 1000);
    rc = ab_logclient_append (leaver, &event, 1, NULL, 1500, &err);
    CHECK (rc < 0, "a revoked key appended, 1 s after revocation");
    printf ("revoked key after %.1f s, append: %s (%s)\n", s_now () - t0, ab_error_name (err->code),
            ab_error_msg (err));
    CHECK (err->code == AB_E_DENIED || err->code == AB_E_TIMEOUT, "revoked append: %s",
           ab_error_msg (err));
    ab_error_destroy (&err);
    ab_event_destroy (&event);
    ab_logclient_destroy (&leaver);
    CHECK (s_head () == head, "a revoked key's append changed the head");
    s_count_sub (leaver_sub, 100); //  drain anything from before
    s_append_n ("admin", 2);
    int leaked = s_count_sub (leaver_sub, 700);
    CHECK (leaked == 0, "a revoked key still received %d events", leaked);
    zsock_destroy (&leaver_sub);
    zcert_destroy (&leaver_cert);

    //  3. A role appending a type it may not: forbidden, naming both.
    ab_logclient_t *agent = s_client ("agent");
    event = s_note ("stack/it", 4);
    head = s_head ();
    rc = ab_logclient_append (agent, &event, 1, NULL, 5000, &err);
    CHECK (rc == -AB_E_FORBIDDEN, "agent note.added: rc %d %s", rc, ab_error_msg (err));
    CHECK (strstr (ab_error_msg (err), "agent") && strstr (ab_error_msg (err), "note.added"),
           "forbidden message names neither role nor type: %s", ab_error_msg (err));
    printf ("agent appending note.added: %s\n", ab_error_msg (err));
    ab_error_destroy (&err);
    ab_event_destroy (&event);
    ab_logclient_destroy (&agent);
    CHECK (s_head () == head, "a forbidden append changed the head");
    return 0;
}

//  --------------------------------------------------------------------------

//  Send one raw request frame as admin and decode the single reply.
static void
s_raw (zsock_t *dealer, const uint8_t *frame, size_t size, ab_proto_reply_t *reply)
{
    CHECK (zmq_send (zsock_resolve (dealer), frame, size, 0) == (int)size, "send raw");
    zmq_pollitem_t item = { zsock_resolve (dealer), 0, ZMQ_POLLIN, 0 };
    CHECK (zmq_poll (&item, 1, 5000) == 1, "logd did not answer a bad request");
    zframe_t *f = zframe_recv (dealer);
    ab_error_t *err = NULL;
    CHECK (ab_proto_decode_reply (zframe_data (f), zframe_size (f), reply, &err) == 0, "reply: %s",
           ab_error_msg (err));
    zframe_destroy (&f);
}

static void
s_expect_nack (zsock_t *dealer, const uint8_t *frame, size_t size, ab_code_t code,
               const char *mentions, const char *what)
{
    uint64_t head = s_head ();
    ab_proto_reply_t reply = { 0 };
    s_raw (dealer, frame, size, &reply);
    CHECK (reply.op == AB_PROTO_NACK && reply.code == code, "%s: got op %d code %s (%s)", what,
           reply.op, ab_error_name (reply.code), reply.message ? reply.message : "");
    CHECK (!mentions || (reply.message && strstr (reply.message, mentions)),
           "%s: the NACK does not name '%s': %s", what, mentions, reply.message);
    printf ("%-26s NACK %s: %s\n", what, ab_error_name (reply.code), reply.message);
    ab_proto_reply_clear (&reply);
    CHECK (s_head () == head, "%s changed the log", what);
}

static int
s_bad (void)
{
    ab_error_t *err = NULL;
    s_append_n ("admin", 10);
    zsock_t *dealer
        = ab_curve_client (ZMQ_DEALER, s_rig.keys, "admin", s_rig.logd_key, s_rig.logd_ep, &err);
    CHECK (dealer, "dealer: %s", ab_error_msg (err));

    //  1. Not msgpack at all.
    const uint8_t junk[] = { 0xc1, 0xff, 0x00, 0x13 };
    s_expect_nack (dealer, junk, sizeof junk, AB_E_MALFORMED, NULL, "malformed frame");

    //  2. A well-formed APPEND carrying one envelope that is not msgpack.
    ab_event_t *good = s_note ("stack/it", 1);
    size_t good_size;
    uint8_t *good_bytes = ab_event_encode (good, &good_size, &err);
    CHECK (good_bytes, "encode: %s", ab_error_msg (err));
    const uint8_t bad_env[] = { 0x83, 0xa4, 't', 'y', 'p', 'e' }; //  truncated map
    ab_proto_blob_t envs[2] = { { good_bytes, good_size }, { bad_env, sizeof bad_env } };
    size_t size;
    uint8_t *frame = ab_proto_encode_append (99, envs, 2, &size);
    s_expect_nack (dealer, frame, size, AB_E_MALFORMED, NULL, "malformed envelope");
    free (frame);

    //  3. An envelope over the size limit. The codec will not build one
    //  (its limits hold on the way out too), so pack it by hand.
    size_t text = AB_FRAME_MAX + 1024;
    char *filler = malloc (text);
    memset (filler, 'x', text);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 4);
    msgpack_pack_str_with_body (&pk, "type", 4);
    msgpack_pack_str_with_body (&pk, "note.added", 10);
    msgpack_pack_str_with_body (&pk, "subj", 4);
    msgpack_pack_str_with_body (&pk, "stack/it", 8);
    msgpack_pack_str_with_body (&pk, "pseq", 4);
    msgpack_pack_uint64 (&pk, 12345);
    msgpack_pack_str_with_body (&pk, "data", 4);
    msgpack_pack_map (&pk, 1);
    msgpack_pack_str_with_body (&pk, "text", 4);
    msgpack_pack_str_with_body (&pk, filler, text);
    free (filler);
    size_t big_size = sb.size;
    uint8_t *big_bytes = (uint8_t *)sb.data; //  freed with free() below
    ab_proto_blob_t big_env = { big_bytes, big_size };
    frame = ab_proto_encode_append (100, &big_env, 1, &size);
    s_expect_nack (dealer, frame, size, AB_E_OVERSIZE, NULL, "oversize envelope");
    free (frame);
    free (big_bytes);

    //  4. A type the catalog does not have.
    ab_event_t *odd = ab_event_new ("bogus.happened", "stack/it");
    ab_event_set_pseq (odd, 777);
    size_t odd_size;
    uint8_t *odd_bytes = ab_event_encode (odd, &odd_size, &err);
    CHECK (odd_bytes, "encode: %s", ab_error_msg (err));
    ab_proto_blob_t odd_env = { odd_bytes, odd_size };
    frame = ab_proto_encode_append (101, &odd_env, 1, &size);
    s_expect_nack (dealer, frame, size, AB_E_UNKNOWN_TYPE, "bogus.happened", "unknown type");
    free (frame);
    free (odd_bytes);
    ab_event_destroy (&odd);

    //  logd keeps serving: the good envelope alone is accepted.
    ab_proto_blob_t one = { good_bytes, good_size };
    frame = ab_proto_encode_append (102, &one, 1, &size);
    uint64_t head = s_head ();
    ab_proto_reply_t reply = { 0 };
    s_raw (dealer, frame, size, &reply);
    CHECK (reply.op == AB_PROTO_ACK && reply.count == 1 && reply.seqs[0] == head + 1,
           "a good append after the bad ones was not acked as seq %" PRIu64, head + 1);
    ab_proto_reply_clear (&reply);
    free (frame);
    free (good_bytes);
    ab_event_destroy (&good);
    zsock_destroy (&dealer);
    return 0;
}

//  --------------------------------------------------------------------------

//  Restart logd on the rig's data and point the cluster file at it, so
//  the `abbey` CLI can be run against it. False if abbey is not built.
static bool
s_cli_ready (void)
{
    char abbey[600];
    snprintf (abbey, sizeof abbey, "%s/abbey", s_rig.bin);
    if (access (abbey, X_OK) != 0)
        return false;
    s_start_logd (s_rig.logd_ep);
    ab_cluster_set_logd (s_rig.cluster, s_rig.logd_ep, s_rig.logd_key);
    ab_error_t *err = NULL;
    CHECK (ab_cluster_save (s_rig.cluster, s_rig.cluster_path, &err) == 0, "save: %s",
           ab_error_msg (err));
    return true;
}

//  Run `abbey ARGS` on the rig's cluster; its stdout and stderr into text.
//  Returns its exit code.
static int
s_cli (const char *args, char *text, size_t size)
{
    char cmd[1400];
    snprintf (cmd, sizeof cmd, "'%s/abbey' %s --cluster '%s' 2>&1", s_rig.bin, args,
              s_rig.cluster_path);
    FILE *out = popen (cmd, "r");
    CHECK (out, "popen");
    size_t n = fread (text, 1, size - 1, out);
    text[n] = 0;
    int status = pclose (out);
    CHECK (WIFEXITED (status), "abbey %s did not exit", args);
    return WEXITSTATUS (status);
}

static int
s_flip (void)
{
    const uint64_t victim = 37;
    s_append_n ("admin", 100);
    CHECK (s_verify_offline () == 0, "the chain was broken before the flip");
    //  Flip one byte of the stored value of seq 37, inside the data text so
    //  it still decodes: only the hash can tell.
    leveldb_options_t *opt = leveldb_options_create ();
    char *errmsg = NULL;
    leveldb_t *db = leveldb_open (opt, s_rig.data, &errmsg);
    CHECK (db, "leveldb open: %s", errmsg);
    uint8_t key[9] = { 0 };
    for (int b = 0; b < 8; b++)
        key[1 + b] = (uint8_t)(victim >> (56 - 8 * b));
    leveldb_readoptions_t *ro = leveldb_readoptions_create ();
    size_t vlen = 0;
    char *value = leveldb_get (db, ro, (const char *)key, sizeof key, &vlen, &errmsg);
    CHECK (value && vlen > 0, "seq %" PRIu64 " not stored under 0x00+BE seq", victim);
    char *at = memmem (value, vlen, "padded", 6);
    CHECK (at, "the stored value does not hold the data text");
    at[0] ^= 0x20; //  'p' → 'P'
    leveldb_writeoptions_t *wo = leveldb_writeoptions_create ();
    leveldb_writeoptions_set_sync (wo, 1);
    leveldb_put (db, wo, (const char *)key, sizeof key, value, vlen, &errmsg);
    CHECK (!errmsg, "leveldb put: %s", errmsg);
    leveldb_free (value);
    leveldb_writeoptions_destroy (wo);
    leveldb_readoptions_destroy (ro);
    leveldb_close (db);
    leveldb_options_destroy (opt);

    uint64_t bad = s_verify_offline ();
    CHECK (bad == victim, "verify named seq %" PRIu64 ", not %" PRIu64, bad, victim);
    printf ("offline verify names seq %" PRIu64 "\n", bad);

    //  The CLI, when built, must say the same through a running logd.
    if (s_cli_ready ()) {
        char text[4096];
        int status = s_cli ("log verify", text, sizeof text);
        printf ("abbey log verify: exit %d: %s", status, text);
        CHECK (status == 1, "abbey log verify did not exit 1");
        CHECK (strstr (text, "37"), "abbey log verify did not name seq 37");
    }
    return 0;
}

//  History the log no longer holds (retention dropped seqs 1..40) is an
//  explicit error everywhere a user asks for it, never a silent gap; what
//  is held still reads and verifies.
static int
s_truncated (void)
{
    s_append_n ("admin", 100);
    s_kill (&s_rig.logd);
    ab_error_t *err = NULL;
    ab_store_t *store = ab_store_open (s_rig.data, &err);
    CHECK (store, "store open: %s", ab_error_msg (err));
    CHECK (ab_store_truncate (store, 41, &err) == 0, "truncate: %s", ab_error_msg (err));
    ab_store_close (&store);
    CHECK (s_verify_offline () == 0, "the chain from seq 41 does not verify");
    if (!s_cli_ready ())
        return 0;
    char text[1 << 16];
    int status = s_cli ("events --from 1", text, sizeof text);
    printf ("abbey events --from 1: exit %d: %s", status, text);
    CHECK (status == 1 && strstr (text, "truncated") && strstr (text, "41"),
           "events --from 1 did not fail naming seq 41");
    CHECK (!strstr (text, "note.added"), "events --from 1 printed events before failing");
    status = s_cli ("graph", text, sizeof text);
    CHECK (status == 1 && strstr (text, "truncated"), "graph did not fail: %s", text);
    status = s_cli ("events --from 41 --json", text, sizeof text);
    size_t lines = 0;
    for (const char *p = text; (p = strchr (p, '\n')); p++)
        lines++;
    CHECK (status == 0 && lines == 60, "events --from 41: exit %d, %zu lines", status, lines);
    status = s_cli ("log verify", text, sizeof text);
    CHECK (status == 0, "log verify of the held history: exit %d: %s", status, text);
    CHECK (strstr (text, "holds history from seq 41")
               && strstr (text, "verified 41..100: 60 events"),
           "log verify did not say what it verified: %s", text);
    printf ("abbey log verify: %s", text);
    return 0;
}

int
main (int argc, char **argv)
{
    if (argc != 3) {
        fprintf (stderr, "usage: it-log BINDIR load|crash|slow|auth|bad|flip|truncated\n");
        return 2;
    }
    //  Our own sockets must not take over SIGINT/SIGTERM handling.
    zsys_handler_set (NULL);
    //  CZMQ's first-use set-up is not thread-safe: do it here, before the
    //  scenarios start threads that each open sockets at once.
    zsys_init ();
    const char *what = argv[2];
    if (!streq (what, "load") && !streq (what, "crash") && !streq (what, "slow")
        && !streq (what, "auth") && !streq (what, "bad") && !streq (what, "flip")
        && !streq (what, "truncated")) {
        fprintf (stderr, "it-log: unknown scenario '%s'\n", what);
        return 2;
    }
    s_rig_start (argv[1]);
    int rc = streq (what, "load")    ? s_load (false)
             : streq (what, "crash") ? s_load (true)
             : streq (what, "slow")  ? s_slow ()
             : streq (what, "auth")  ? s_auth ()
             : streq (what, "bad")   ? s_bad ()
             : streq (what, "flip")  ? s_flip ()
                                     : s_truncated ();
    printf ("it-log %s: %s\n", what, rc == 0 ? "OK" : "FAILED");
    return rc;
}
