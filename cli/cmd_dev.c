/*  abbey dev - a local single-node cluster: up, status, down
    `up` makes DIR (keys, free loopback ports, cluster.yaml) the first time,
    then starts each daemon of the table below that is not running, as a
    background process (double fork + setsid, output to DIR/logs/NAME.log,
    pid in DIR/run/NAME.pid), and returns once each one answers. An existing
    DIR keeps its keys, data and ports. Adding a service is one table row.

        DIR/cluster.yaml      endpoints and server keys (ab_cluster)
        DIR/keys/             the cluster key directory (ab_keyring)
        DIR/data/log/         logd's LevelDB
        DIR/logs/NAME.log     each daemon's stdout and stderr
        DIR/run/NAME.pid      each daemon's pid                            */
#include "ab_keyring.h"
#include "cli_common.h"

#include <sodium.h>
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define S_READY_MS   10000   //  how long up waits for a daemon to answer
#define S_STOP_MS    5000    //  how long down waits after SIGTERM
#define S_PATH_MAX   4096
#define S_LOG_MARK   "--- abbey dev up: started"
#define S_DIR_MAX    3072    //  dev dir length, leaving room for DIR/sub/NAME

typedef struct _s_dev_t s_dev_t;

//  A daemon's readiness probe: 0 once it answers, else negative and *err.
typedef int (s_ready_fn) (s_dev_t *dev, int timeout_ms, ab_error_t **err);

static s_ready_fn s_ready_busd;
static s_ready_fn s_ready_logd;

//  The daemons, in start order (stopped in reverse). Arguments are split on
//  spaces, then {placeholders} are replaced: {dir} {cluster} {keys} {data}
//  {logd.endpoint} {logd.key} {busd.publish} {busd.subscribe} {busd.key}.
//  A NULL probe means "still alive after a moment".
static const struct {
    const char *name;      //  short name: pid, log and status
    const char *binary;    //  executable beside `abbey`
    const char *args;      //  argument template
    const char *endpoint;  //  what status shows, a template too
    s_ready_fn *ready;     //  how up knows it serves
} s_daemons[] = {
    { "busd", "abbey-busd", "--keys {keys} --publish {busd.publish} --subscribe {busd.subscribe}",
      "{busd.subscribe}", s_ready_busd },
    { "logd", "abbey-logd",
      "--keys {keys} --data {data}/log --endpoint {logd.endpoint} --bus {busd.publish} "
      "--bus-key {busd.key}",
      "{logd.endpoint}", s_ready_logd },
};
#define S_NDAEMONS (sizeof s_daemons / sizeof s_daemons[0])

struct _s_dev_t {
    char dir[S_DIR_MAX];       //  absolute dev directory
    char bindir[S_PATH_MAX];   //  where abbey and the daemons are
    ab_cluster_t *cluster;     //  DIR/cluster.yaml, loaded or made
};

static const char s_usage[]
    = "Usage: abbey dev COMMAND [--dir DIR]\n"
      "\n"
      "Run a local single-node cluster in DIR. Without --dir: the folder of\n"
      "--cluster FILE or $ABBEY_CLUSTER if set, else $ABBEY_HOME/dev\n"
      "(ABBEY_HOME defaults to ~/.abbey). Daemons log to DIR/logs/NAME.log.\n";

static const char s_up_usage[]
    = "Usage: abbey dev up [--dir DIR]\n"
      "\n"
      "Start the daemons in the background and return once they answer.\n"
      "A new DIR gets a fresh key directory, free loopback ports and\n"
      "DIR/cluster.yaml; an existing one keeps its keys, data and ports and\n"
      "restarts whichever daemon is not running.\n";

static const char s_status_usage[]
    = "Usage: abbey dev status [--dir DIR] [--json]\n"
      "\n"
      "List each daemon: name, pid, endpoint, state (running or stopped).\n"
      "Exit 1 if any is not running. --json prints {dir, cluster, daemons:\n"
      "[{name, pid, endpoint, state, log}]}.\n";

static const char s_down_usage[]
    = "Usage: abbey dev down [--dir DIR]\n"
      "\n"
      "Stop the daemons (SIGTERM, then SIGKILL after 5 s). Keys, data and\n"
      "ports stay for the next 'abbey dev up'.\n";

//  ---------------------------------------------------------------------
//  Paths and the daemon table's templates

static void
s_path (const s_dev_t *dev, char *out, const char *fmt, const char *name)
{
    char rel[256];
    snprintf (rel, sizeof rel, fmt, name);
    snprintf (out, S_PATH_MAX, "%s/%s", dev->dir, rel);
}

//  Value of one placeholder, or NULL if the name is unknown.
static const char *
s_placeholder (s_dev_t *dev, const char *name, size_t len, char *buf)
{
#define S_IS(lit) (len == strlen (lit) && strncmp (name, lit, len) == 0)
    ab_cluster_t *c = dev->cluster;
    if (S_IS ("dir"))
        return dev->dir;
    if (S_IS ("cluster")) {
        s_path (dev, buf, "%s", "cluster.yaml");
        return buf;
    }
    if (S_IS ("keys"))
        return ab_cluster_keys (c);
    if (S_IS ("data"))
        return ab_cluster_data (c);
    if (S_IS ("logd.endpoint"))
        return ab_cluster_logd_endpoint (c);
    if (S_IS ("logd.key"))
        return ab_cluster_logd_key (c);
    if (S_IS ("busd.publish"))
        return ab_cluster_busd_publish (c);
    if (S_IS ("busd.subscribe"))
        return ab_cluster_busd_subscribe (c);
    if (S_IS ("busd.key"))
        return ab_cluster_busd_key (c);
    return NULL;
#undef S_IS
}

//  Expand {placeholders} in one template word. Caller frees.
static char *
s_expand (s_dev_t *dev, const char *word, size_t len)
{
    char *out = NULL;
    size_t size = 0;
    FILE *stream = open_memstream (&out, &size);
    assert (stream);
    for (size_t i = 0; i < len; i++) {
        const char *close = word[i] == '{' ? memchr (word + i, '}', len - i) : NULL;
        char buf[S_PATH_MAX];
        const char *value
          = close ? s_placeholder (dev, word + i + 1, (size_t) (close - word - i - 1), buf) : NULL;
        //  An unknown placeholder is a bug in the table, not user input.
        assert (!close || value);
        if (value) {
            fputs (value, stream);
            i = (size_t) (close - word);
        }
        else
            fputc (word[i], stream);
    }
    fclose (stream);
    return out;
}

//  argv for daemon i: the binary's path, then the expanded template.
static char **
s_argv (s_dev_t *dev, size_t i)
{
    size_t cap = 4;
    for (const char *p = s_daemons[i].args; *p; p++)
        cap += *p == ' ';
    char **argv = calloc (cap, sizeof *argv);
    assert (argv);
    size_t n = 0;
    if (asprintf (&argv[n++], "%s/%s", dev->bindir, s_daemons[i].binary) < 0)
        assert (false);
    const char *p = s_daemons[i].args;
    while (*p) {
        const char *end = strchr (p, ' ');
        size_t len = end ? (size_t) (end - p) : strlen (p);
        if (len)
            argv[n++] = s_expand (dev, p, len);
        p += len;
        while (*p == ' ')
            p++;
    }
    argv[n] = NULL;
    return argv;
}

static void
s_argv_free (char ***argv_p)
{
    char **argv = *argv_p;
    for (size_t i = 0; argv && argv[i]; i++)
        free (argv[i]);
    free (argv);
    *argv_p = NULL;
}

//  ---------------------------------------------------------------------
//  Processes

//  pid from DIR/run/NAME.pid, 0 if there is none or it is unreadable.
static pid_t
s_read_pid (const s_dev_t *dev, size_t i)
{
    char path[S_PATH_MAX];
    s_path (dev, path, "run/%s.pid", s_daemons[i].name);
    FILE *file = fopen (path, "r");
    if (!file)
        return 0;
    long pid = 0;
    if (fscanf (file, "%ld", &pid) != 1 || pid <= 1 || pid > INT_MAX)
        pid = 0;
    fclose (file);
    return (pid_t) pid;
}

//  True if pid is alive, not a zombie, and runs daemon i's binary: a pid
//  file can outlive its process and the pid be reused by something else.
static bool
s_alive (size_t i, pid_t pid)
{
    if (pid <= 1 || (kill (pid, 0) < 0 && errno != EPERM))
        return false;
    char path[64], buf[S_PATH_MAX];
    snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
    FILE *file = fopen (path, "r");
    if (!file)
        return false;
    size_t n = fread (buf, 1, sizeof buf - 1, file);
    fclose (file);
    buf[n] = 0;
    //  Field 3 (state) follows the last ')' of the command name.
    const char *paren = strrchr (buf, ')');
    if (!paren || paren[1] != ' ' || paren[2] == 'Z' || paren[2] == 'X')
        return false;
    snprintf (path, sizeof path, "/proc/%d/exe", (int) pid);
    ssize_t len = readlink (path, buf, sizeof buf - 1);
    if (len < 0)
        return errno == EACCES;   //  alive but not ours to inspect: trust the pid file
    buf[len] = 0;
    const char *base = strrchr (buf, '/');
    base = base ? base + 1 : buf;
    //  A rebuilt binary shows as "abbey-logd (deleted)": still that daemon.
    size_t blen = strlen (s_daemons[i].binary);
    return strncmp (base, s_daemons[i].binary, blen) == 0
        && (base[blen] == 0 || base[blen] == ' ');
}

//  Start daemon i in the background: double fork so it is reparented to
//  init and outlives us, setsid so a terminal's signals do not reach it.
//  The grandchild reports a failed exec through a close-on-exec pipe.
static int
s_spawn (s_dev_t *dev, size_t i, ab_error_t **err)
{
    char log_path[S_PATH_MAX], pid_path[S_PATH_MAX], tmp_path[S_PATH_MAX + 8];
    s_path (dev, log_path, "logs/%s.log", s_daemons[i].name);
    s_path (dev, pid_path, "run/%s.pid", s_daemons[i].name);
    snprintf (tmp_path, sizeof tmp_path, "%s.tmp", pid_path);
    char **argv __attribute__ ((cleanup (s_argv_free))) = s_argv (dev, i);
    if (access (argv[0], X_OK) < 0)
        return ab_error_errno (err, AB_E_NOT_FOUND, errno, "%s", argv[0]);

    int logfd = open (log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (logfd < 0)
        return ab_error_errno (err, AB_E_IO, errno, "%s", log_path);
    //  The log keeps every run; a marker lets a reader (and the failure
    //  report of up) find where this one starts.
    char when[40], marker[128];
    int mlen = snprintf (marker, sizeof marker, "%s %s\n", S_LOG_MARK,
                         cli_format_time (cli_now_ns (), when, sizeof when));
    if (write (logfd, marker, (size_t) mlen) != mlen) {
        close (logfd);
        return ab_error_errno (err, AB_E_IO, errno, "%s", log_path);
    }
    int report[2];
    if (pipe2 (report, O_CLOEXEC) < 0) {
        close (logfd);
        return ab_error_errno (err, AB_E_SYSTEM, errno, "pipe");
    }
    fflush (NULL);
    pid_t child = fork ();
    if (child < 0) {
        close (logfd);
        close (report[0]);
        close (report[1]);
        return ab_error_errno (err, AB_E_SYSTEM, errno, "fork");
    }
    if (child == 0) {
        //  Only async-signal-safe calls from here to exec.
        close (report[0]);
        setsid ();
        pid_t grandchild = fork ();
        if (grandchild < 0)
            _exit (1);
        if (grandchild > 0) {
            char text[32];
            int len = 0;
            for (long v = grandchild, d = 1000000000; d; d /= 10)
                if (v / d || len || d == 1)
                    text[len++] = (char) ('0' + (v / d) % 10);
            text[len++] = '\n';
            int fd = open (tmp_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fd < 0 || write (fd, text, (size_t) len) != len || close (fd) < 0
                || rename (tmp_path, pid_path) < 0)
                _exit (1);
            _exit (0);
        }
        int devnull = open ("/dev/null", O_RDONLY);
        if (devnull < 0 || dup2 (devnull, 0) < 0 || dup2 (logfd, 1) < 0 || dup2 (logfd, 2) < 0)
            _exit (127);
        //  Keep nothing of ours open in the daemon but the report pipe,
        //  which exec closes.
        if (report[1] != 3 && (dup3 (report[1], 3, O_CLOEXEC) < 0))
            _exit (127);
        close_range (4, ~0u, 0);
        //  exec keeps the signal mask and ignored signals: give the daemon
        //  a clean slate whatever this process had set up.
        sigset_t none;
        sigemptyset (&none);
        sigprocmask (SIG_SETMASK, &none, NULL);
        signal (SIGPIPE, SIG_DFL);
        signal (SIGINT, SIG_DFL);
        signal (SIGTERM, SIG_DFL);
        execv (argv[0], argv);
        int e = errno;
        if (write (3, &e, sizeof e) < 0)
            _exit (127);
        _exit (127);
    }
    close (logfd);
    close (report[1]);
    int status = 0;
    while (waitpid (child, &status, 0) < 0 && errno == EINTR)
        ;
    int exec_errno = 0;
    ssize_t got;
    while ((got = read (report[0], &exec_errno, sizeof exec_errno)) < 0 && errno == EINTR)
        ;
    close (report[0]);
    if (got == (ssize_t) sizeof exec_errno)
        return ab_error_errno (err, AB_E_SYSTEM, exec_errno, "exec %s", argv[0]);
    if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
        return ab_error_set (err, AB_E_SYSTEM, "starting %s failed (pid file %s)",
                             s_daemons[i].name, pid_path);
    return 0;
}

static void
s_sleep_ms (int ms)
{
    struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };
    nanosleep (&ts, NULL);
}

static int64_t
s_mono_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

//  Stop daemon i if it runs: SIGTERM, wait, then SIGKILL. Returns its pid
//  (0 if it was not running) or negative with *err if it would not die.
static int
s_stop (s_dev_t *dev, size_t i, ab_error_t **err)
{
    pid_t pid = s_read_pid (dev, i);
    char pid_path[S_PATH_MAX];
    s_path (dev, pid_path, "run/%s.pid", s_daemons[i].name);
    if (!s_alive (i, pid)) {
        unlink (pid_path);
        return 0;
    }
    kill (pid, SIGTERM);
    int64_t deadline = s_mono_ms () + S_STOP_MS;
    while (s_alive (i, pid) && s_mono_ms () < deadline)
        s_sleep_ms (20);
    if (s_alive (i, pid)) {
        fprintf (stderr, "abbey dev down: %s (pid %d) ignored SIGTERM for %d s: SIGKILL\n",
                 s_daemons[i].name, (int) pid, S_STOP_MS / 1000);
        kill (pid, SIGKILL);
        deadline = s_mono_ms () + 2000;
        while (s_alive (i, pid) && s_mono_ms () < deadline)
            s_sleep_ms (20);
        if (s_alive (i, pid))
            return ab_error_set (err, AB_E_SYSTEM, "%s (pid %d) survived SIGKILL",
                                 s_daemons[i].name, (int) pid);
    }
    unlink (pid_path);
    return (int) pid;
}

//  ---------------------------------------------------------------------
//  Readiness probes

//  logd answers HEAD.
static int
s_ready_logd (s_dev_t *dev, int timeout_ms, ab_error_t **err)
{
    ab_cluster_t *c = dev->cluster;
    zcert_t *cert = ab_keyring_load_secret (ab_cluster_keys (c), "admin", err);
    if (!cert)
        return -AB_E_NOT_FOUND;
    ab_logclient_t *client
      = ab_logclient_new (ab_cluster_logd_endpoint (c), ab_cluster_logd_key (c), cert, err);
    zcert_destroy (&cert);
    if (!client)
        return -AB_E_INVALID;
    ab_logclient_set_timeout (client, timeout_ms);
    int64_t head = ab_logclient_head (client, NULL, err);
    ab_logclient_destroy (&client);
    return head < 0 ? (int) head : 0;
}

//  busd completes a CURVE handshake with a subscriber: a socket monitor on
//  the SUB side reports it (connect alone succeeds whether or not anyone
//  listens, so it proves nothing).
static int
s_ready_busd (s_dev_t *dev, int timeout_ms, ab_error_t **err)
{
    ab_cluster_t *c = dev->cluster;
    zcert_t *cert = ab_keyring_load_secret (ab_cluster_keys (c), "admin", err);
    if (!cert)
        return -AB_E_NOT_FOUND;
    zsock_t *sub = zsock_new (ZMQ_SUB);
    assert (sub);
    zcert_apply (cert, sub);
    zcert_destroy (&cert);
    zsock_set_curve_serverkey (sub, ab_cluster_busd_key (c));
    char monitor_ep[64];
    snprintf (monitor_ep, sizeof monitor_ep, "inproc://abbey-dev-busd-%p", (void *) sub);
    int rc = zmq_socket_monitor (zsock_resolve (sub), monitor_ep,
                                 ZMQ_EVENT_HANDSHAKE_SUCCEEDED
                                   | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH
                                   | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
                                   | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL);
    //  The monitor binds monitor_ep; our end connects (">").
    char monitor_connect[72];
    snprintf (monitor_connect, sizeof monitor_connect, ">%s", monitor_ep);
    zsock_t *monitor = rc == 0 ? zsock_new_pair (monitor_connect) : NULL;
    if (!monitor || zsock_connect (sub, "%s", ab_cluster_busd_subscribe (c)) < 0) {
        zsock_destroy (&monitor);
        zsock_destroy (&sub);
        return ab_error_set (err, AB_E_SYSTEM, "busd probe: cannot set up a subscriber");
    }
    int result = ab_error_set (err, AB_E_TIMEOUT, "busd %s: no subscriber handshake",
                               ab_cluster_busd_subscribe (c));
    zpoller_t *poller = zpoller_new (monitor, NULL);
    int64_t deadline = s_mono_ms () + timeout_ms;
    while (s_mono_ms () < deadline) {
        if (!zpoller_wait (poller, (int) (deadline - s_mono_ms ())))
            break;
        zmsg_t *msg = zmsg_recv (monitor);
        zframe_t *frame = msg ? zmsg_first (msg) : NULL;
        uint16_t event = 0;
        if (frame && zframe_size (frame) >= 2)
            memcpy (&event, zframe_data (frame), 2);
        zmsg_destroy (&msg);
        if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
            ab_error_destroy (err);
            result = 0;
            break;
        }
        if (event) {
            result = ab_error_set (err, AB_E_DENIED,
                                   "busd %s refused the admin key (handshake failed)",
                                   ab_cluster_busd_subscribe (c));
            break;
        }
    }
    zpoller_destroy (&poller);
    zmq_socket_monitor (zsock_resolve (sub), NULL, 0);
    zsock_destroy (&monitor);
    zsock_destroy (&sub);
    return result;
}

//  Wait until daemon i answers or S_READY_MS pass; a daemon that exits in
//  the meantime fails at once.
static int
s_wait_ready (s_dev_t *dev, size_t i, ab_error_t **err)
{
    int64_t deadline = s_mono_ms () + S_READY_MS;
    pid_t pid = 0;
    while (true) {
        //  The pid file is written before the first fork returns, so it
        //  is there by now; re-read in case of a restart in between.
        pid = s_read_pid (dev, i);
        if (!s_alive (i, pid))
            return ab_error_set (err, AB_E_UNAVAILABLE, "%s exited before it answered",
                                 s_daemons[i].name);
        int64_t left = deadline - s_mono_ms ();
        if (left <= 0)
            break;
        if (!s_daemons[i].ready) {
            s_sleep_ms (300);
            if (s_alive (i, pid))
                return 0;
            continue;
        }
        ab_error_destroy (err);
        int rc = s_daemons[i].ready (dev, left < 1000 ? (int) left : 1000, err);
        if (rc == 0)
            return 0;
        if (rc == -AB_E_DENIED || rc == -AB_E_NOT_FOUND)
            return rc;
        s_sleep_ms (50);
    }
    return ab_error_wrap (err, "%s (pid %d) did not answer within %d s", s_daemons[i].name,
                          (int) pid, S_READY_MS / 1000);
}

//  Print the last lines of a daemon's log, where the reason usually is.
static void
s_show_log_tail (const s_dev_t *dev, size_t i)
{
    char path[S_PATH_MAX];
    s_path (dev, path, "logs/%s.log", s_daemons[i].name);
    FILE *file = fopen (path, "r");
    if (!file)
        return;
    char lines[5][512];
    int n = 0;
    char line[512];
    while (fgets (line, sizeof line, file)) {
        if (strncmp (line, S_LOG_MARK, strlen (S_LOG_MARK)) == 0) {
            n = 0;   //  an earlier run's lines are not this failure's
            continue;
        }
        snprintf (lines[n++ % 5], sizeof lines[0], "%s", line);
    }
    fclose (file);
    int first = n > 5 ? n - 5 : 0;
    for (int k = first; k < n; k++)
        fprintf (stderr, "  %s: %s%s", s_daemons[i].name, lines[k % 5],
                 strchr (lines[k % 5], '\n') ? "" : "\n");
}

//  ---------------------------------------------------------------------
//  The dev directory

//  Free loopback TCP ports, held open together so they are distinct.
static int
s_free_ports (int *ports, size_t n, ab_error_t **err)
{
    int fds[8];
    assert (n <= 8);
    int rc = 0;
    size_t opened = 0;
    for (; opened < n; opened++) {
        //  Below the kernel's ephemeral range (32768-60999): a daemon that
        //  restarts on its recorded port must not find it taken by some
        //  client connection's source port.
        struct sockaddr_in addr = { .sin_family = AF_INET };
        addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
        fds[opened] = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int bound = -1;
        for (int tries = 0; fds[opened] >= 0 && bound < 0 && tries < 200; tries++) {
            addr.sin_port = htons ((uint16_t) (20000 + randombytes_uniform (12768)));
            bound = bind (fds[opened], (struct sockaddr *) &addr, sizeof addr);
        }
        if (fds[opened] < 0 || bound < 0) {
            rc = ab_error_errno (err, AB_E_SYSTEM, errno, "finding a free loopback port");
            if (fds[opened] >= 0)
                close (fds[opened]);
            break;
        }
        ports[opened] = ntohs (addr.sin_port);
    }
    for (size_t k = 0; k < opened; k++)
        close (fds[k]);
    return rc;
}

static int
s_mkdir (const char *path, mode_t mode, ab_error_t **err)
{
    char buf[S_PATH_MAX];
    snprintf (buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir (buf, 0755) < 0 && errno != EEXIST)
                return ab_error_errno (err, AB_E_IO, errno, "mkdir %s", buf);
            *p = '/';
        }
    if (mkdir (buf, mode) < 0 && errno != EEXIST)
        return ab_error_errno (err, AB_E_IO, errno, "mkdir %s", buf);
    return 0;
}

//  Fill dev->dir (absolute) and dev->bindir. create: make DIR if missing.
static int
s_dev_open (cli_t *cli, s_dev_t *dev, const char *dir_arg, bool create, ab_error_t **err)
{
    ab_auto_free char *dflt = dir_arg ? NULL : cli_dev_dir (cli);
    const char *dir = dir_arg ? dir_arg : dflt;
    if (create && s_mkdir (dir, 0755, err) < 0)
        return -AB_E_IO;
    char real[PATH_MAX];
    if (!realpath (dir, real))
        return ab_error_errno (err, AB_E_NOT_FOUND, errno,
                               "%s: no dev cluster here (run 'abbey dev up')", dir);
    if (strlen (real) >= S_DIR_MAX)
        return ab_error_set (err, AB_E_INVALID, "%s: path too long for a dev dir", real);
    memcpy (dev->dir, real, strlen (real) + 1);
    char self[S_PATH_MAX];
    ssize_t len = readlink ("/proc/self/exe", self, sizeof self - 1);
    if (len < 0)
        return ab_error_errno (err, AB_E_SYSTEM, errno, "readlink /proc/self/exe");
    self[len] = 0;
    char *slash = strrchr (self, '/');
    if (slash)
        *slash = 0;
    snprintf (dev->bindir, sizeof dev->bindir, "%s", self);
    return 0;
}

//  Load DIR/cluster.yaml into dev->cluster.
static int
s_dev_load (s_dev_t *dev, ab_error_t **err)
{
    char path[S_PATH_MAX];
    s_path (dev, path, "%s", "cluster.yaml");
    if (access (path, F_OK) < 0)
        return ab_error_set (err, AB_E_NOT_FOUND,
                             "%s: no dev cluster here (run 'abbey dev up --dir %s')", dev->dir,
                             dev->dir);
    dev->cluster = ab_cluster_load (path, err);
    return dev->cluster ? 0 : -AB_E_INVALID;
}

//  First up in DIR: keys (unless there already are some), ports, cluster.yaml.
static int
s_dev_create (s_dev_t *dev, ab_error_t **err)
{
    char keys[S_PATH_MAX], data[S_PATH_MAX], probe[S_PATH_MAX], path[S_PATH_MAX];
    s_path (dev, keys, "%s", "keys");
    s_path (dev, data, "%s", "data");
    s_path (dev, probe, "%s", "keys/public");
    s_path (dev, path, "%s", "cluster.yaml");
    if (access (probe, F_OK) < 0 && ab_keyring_init (keys, err) < 0)
        return ab_error_wrap (err, "keys init %s", keys);
    if (s_mkdir (data, 0700, err) < 0)
        return -AB_E_IO;
    char logd_key[AB_KEY_Z85_LEN + 1], busd_key[AB_KEY_Z85_LEN + 1];
    if (ab_keyring_public_key (keys, "logd", logd_key, err) < 0
        || ab_keyring_public_key (keys, "busd", busd_key, err) < 0)
        return ab_error_wrap (err, "%s", keys);
    int ports[3];
    if (s_free_ports (ports, 3, err) < 0)
        return -AB_E_SYSTEM;
    char logd_ep[64], pub_ep[64], sub_ep[64];
    snprintf (logd_ep, sizeof logd_ep, "tcp://127.0.0.1:%d", ports[0]);
    snprintf (pub_ep, sizeof pub_ep, "tcp://127.0.0.1:%d", ports[1]);
    snprintf (sub_ep, sizeof sub_ep, "tcp://127.0.0.1:%d", ports[2]);
    ab_cluster_t *cluster = ab_cluster_new ("dev");
    ab_cluster_set_keys (cluster, keys);
    ab_cluster_set_data (cluster, data);
    ab_cluster_set_logd (cluster, logd_ep, logd_key);
    ab_cluster_set_busd (cluster, pub_ep, sub_ep, busd_key);
    if (ab_cluster_save (cluster, path, err) < 0) {
        ab_cluster_destroy (&cluster);
        return ab_error_wrap (err, "%s", path);
    }
    dev->cluster = cluster;
    return 0;
}

static void
s_dev_close (s_dev_t *dev)
{
    ab_cluster_destroy (&dev->cluster);
}

//  Options of every dev subcommand: [--dir DIR] and, for status, [--json];
//  no arguments. 0, or -1 with the exit code in *rc.
static int
s_parse (cli_t *cli, int argc, char **argv, const char *usage, const char **dir, bool *json,
         int *rc)
{
    const cli_opt_t opts[]
        = { { "dir", dir, NULL }, { json ? "json" : NULL, NULL, json }, { NULL, NULL, NULL } };
    char **pos;
    int n = cli_parse (cli, argc, argv, usage, opts, &pos, rc);
    if (n > 0)
        *rc = cli_usage (cli, "unexpected argument '%s'", pos[0]);
    return n == 0 ? 0 : -1;
}

//  ---------------------------------------------------------------------
//  Commands

static int
s_status_print (cli_t *cli, s_dev_t *dev, bool json)
{
    int down = 0;
    json_t *array = json_array ();
    for (size_t i = 0; i < S_NDAEMONS; i++) {
        pid_t pid = s_read_pid (dev, i);
        bool running = s_alive (i, pid);
        down += !running;
        ab_auto_free char *endpoint
          = s_expand (dev, s_daemons[i].endpoint, strlen (s_daemons[i].endpoint));
        char log_path[S_PATH_MAX];
        s_path (dev, log_path, "logs/%s.log", s_daemons[i].name);
        json_array_append_new (
          array, json_pack ("{s:s, s:o, s:s, s:s, s:s}", "name", s_daemons[i].name, "pid",
                            running ? json_integer (pid) : json_null (), "endpoint", endpoint,
                            "state", running ? "running" : "stopped", "log", log_path));
    }
    if (json) {
        char cluster_path[S_PATH_MAX];
        s_path (dev, cluster_path, "%s", "cluster.yaml");
        json_t *obj = json_pack ("{s:s, s:s, s:o}", "dir", dev->dir, "cluster", cluster_path,
                                 "daemons", array);
        json_dumpf (obj, stdout, JSON_INDENT (2));
        fputc ('\n', stdout);
        json_decref (obj);
    }
    else {
        printf ("%-6s %-8s %-28s %s\n", "NAME", "PID", "ENDPOINT", "STATE");
        size_t k;
        json_t *row;
        json_array_foreach (array, k, row)
        {
            json_t *pid = json_object_get (row, "pid");
            char pid_text[16] = "-";
            if (json_is_integer (pid))
                snprintf (pid_text, sizeof pid_text, "%lld", (long long) json_integer_value (pid));
            printf ("%-6s %-8s %-28s %s\n", json_string_value (json_object_get (row, "name")),
                    pid_text, json_string_value (json_object_get (row, "endpoint")),
                    json_string_value (json_object_get (row, "state")));
        }
        json_decref (array);
    }
    if (down)
        fprintf (stderr, "abbey %s: %d of %zu daemons not running (see %s/logs)\n",
                 cli_cmd (cli), down, S_NDAEMONS, dev->dir);
    return down ? CLI_FAIL : CLI_OK;
}

static int
s_up (cli_t *cli, int argc, char **argv)
{
    const char *dir = NULL;
    int rc;
    if (s_parse (cli, argc, argv, s_up_usage, &dir, NULL, &rc) < 0)
        return rc;
    s_dev_t dev = { .cluster = NULL };
    ab_auto_error ab_error_t *err = NULL;
    char sub[S_PATH_MAX];
    if (s_dev_open (cli, &dev, dir, true, &err) < 0)
        return cli_fail_err (cli, err);
    s_path (&dev, sub, "%s", "logs");
    if (s_mkdir (sub, 0755, &err) < 0)
        return cli_fail_err (cli, err);
    s_path (&dev, sub, "%s", "run");
    if (s_mkdir (sub, 0755, &err) < 0)
        return cli_fail_err (cli, err);
    s_path (&dev, sub, "%s", "cluster.yaml");
    bool fresh = access (sub, F_OK) < 0;
    if ((fresh ? s_dev_create (&dev, &err) : s_dev_load (&dev, &err)) < 0) {
        s_dev_close (&dev);
        return cli_fail_err (cli, err);
    }
    for (size_t i = 0; i < S_NDAEMONS; i++) {
        pid_t pid = s_read_pid (&dev, i);
        bool started = false;
        if (!s_alive (i, pid)) {
            if (s_spawn (&dev, i, &err) < 0) {
                ab_error_wrap (&err, "starting %s", s_daemons[i].name);
                s_dev_close (&dev);
                return cli_fail_err (cli, err);
            }
            started = true;
        }
        //  Wait for each before starting the next: logd publishes to busd.
        if (s_wait_ready (&dev, i, &err) < 0) {
            char log_path[S_PATH_MAX];
            s_path (&dev, log_path, "logs/%s.log", s_daemons[i].name);
            cli_fail (cli, "%s: %s; see %s", ab_error_name (err ? err->code : AB_E_SYSTEM),
                      ab_error_msg (err), log_path);
            s_show_log_tail (&dev, i);
            s_dev_close (&dev);
            return CLI_FAIL;
        }
        printf ("%s %s (pid %d)\n", s_daemons[i].name, started ? "started" : "running",
                (int) s_read_pid (&dev, i));
    }
    printf ("cluster %s/cluster.yaml%s\n", dev.dir, fresh ? " (new)" : "");
    s_dev_close (&dev);
    return CLI_OK;
}

static int
s_status (cli_t *cli, int argc, char **argv)
{
    const char *dir = NULL;
    bool json = false;
    int rc;
    if (s_parse (cli, argc, argv, s_status_usage, &dir, &json, &rc) < 0)
        return rc;
    s_dev_t dev = { .cluster = NULL };
    ab_auto_error ab_error_t *err = NULL;
    if (s_dev_open (cli, &dev, dir, false, &err) < 0 || s_dev_load (&dev, &err) < 0) {
        s_dev_close (&dev);
        return cli_fail_err (cli, err);
    }
    rc = s_status_print (cli, &dev, json);
    s_dev_close (&dev);
    return rc;
}

static int
s_down (cli_t *cli, int argc, char **argv)
{
    const char *dir = NULL;
    int rc;
    if (s_parse (cli, argc, argv, s_down_usage, &dir, NULL, &rc) < 0)
        return rc;
    s_dev_t dev = { .cluster = NULL };
    ab_auto_error ab_error_t *err = NULL;
    if (s_dev_open (cli, &dev, dir, false, &err) < 0)
        return cli_fail_err (cli, err);
    rc = CLI_OK;
    for (size_t k = S_NDAEMONS; k-- > 0;) {
        int pid = s_stop (&dev, k, &err);
        if (pid < 0) {
            cli_fail_err (cli, err);
            rc = CLI_FAIL;
        }
        else if (pid > 0)
            printf ("%s stopped (pid %d)\n", s_daemons[k].name, pid);
        else
            printf ("%s was not running\n", s_daemons[k].name);
    }
    s_dev_close (&dev);
    return rc;
}

static const cli_cmd_t s_table[] = {
    { "up", s_up, "start the local cluster (creating it the first time)" },
    { "status", s_status, "each daemon's pid, endpoint and state" },
    { "down", s_down, "stop the daemons, keeping keys and data" },
    { NULL, NULL, NULL }
};

int
cmd_dev (cli_t *cli, int argc, char **argv)
{
    return cli_dispatch (cli, s_table, s_usage, argc, argv);
}
