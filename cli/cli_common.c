/*  cli_common - what every `abbey` subcommand shares                      */
#include "cli_common.h"
#include "ab_keyring.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct _cli_t {
    char *cluster; //  --cluster FILE, or NULL
    char *as;      //  --as NAME
    char cmd[64];  //  command path for error prefixes, "log verify"
    ab_cluster_t *cluster_file;   //  loaded on first use
    ab_logclient_t *logclient;    //  made on first use
};

cli_t *
cli_new (const char *cluster, const char *as)
{
    cli_t *self = calloc (1, sizeof *self);
    assert (self);
    self->cluster = cluster ? strdup (cluster) : NULL;
    self->as = strdup (as ? as : "admin");
    return self;
}

void
cli_destroy (cli_t **self_p)
{
    assert (self_p);
    cli_t *self = *self_p;
    if (!self)
        return;
    ab_logclient_destroy (&self->logclient);
    ab_cluster_destroy (&self->cluster_file);
    free (self->cluster);
    free (self->as);
    free (self);
    *self_p = NULL;
}

const char *
cli_as (cli_t *self)
{
    assert (self);
    return self->as;
}

const char *
cli_cmd (cli_t *self)
{
    assert (self);
    return self->cmd;
}

char *
cli_dev_dir (cli_t *self)
{
    assert (self);
    const char *file = self->cluster ? self->cluster : getenv ("ABBEY_CLUSTER");
    if (file && *file) {
        char *dir = strdup (file);
        assert (dir);
        char *slash = strrchr (dir, '/');
        if (slash == dir)
            dir[1] = 0;
        else if (slash)
            *slash = 0;
        else
            strcpy (dir, ".");
        return dir;
    }
    ab_auto_free char *home = ab_cluster_home ();
    char *path = NULL;
    if (!home || asprintf (&path, "%s/dev", home) < 0)
        path = NULL;
    assert (path);
    return path;
}

ab_cluster_t *
cli_cluster (cli_t *self, ab_error_t **err)
{
    assert (self);
    if (!self->cluster_file)
        self->cluster_file = ab_cluster_find (self->cluster, err);
    return self->cluster_file;
}

char *
cli_keys_dir (cli_t *self, ab_error_t **err)
{
    ab_cluster_t *cluster = cli_cluster (self, err);
    if (!cluster)
        return NULL;
    if (!*ab_cluster_keys (cluster)) {
        ab_error_set (err, AB_E_INVALID, "%s: no key directory (keys:)",
                      ab_cluster_path (cluster));
        return NULL;
    }
    return strdup (ab_cluster_keys (cluster));
}

ab_logclient_t *
cli_logclient (cli_t *self, ab_error_t **err)
{
    assert (self);
    if (self->logclient)
        return self->logclient;
    ab_cluster_t *cluster = cli_cluster (self, err);
    if (!cluster)
        return NULL;
    zcert_t *cert = ab_keyring_load_secret (ab_cluster_keys (cluster), self->as, err);
    if (!cert) {
        ab_error_wrap (err, "identity '%s' (--as)", self->as);
        return NULL;
    }
    self->logclient = ab_logclient_new (ab_cluster_logd_endpoint (cluster),
                                        ab_cluster_logd_key (cluster), cert, err);
    zcert_destroy (&cert);
    if (!self->logclient)
        ab_error_wrap (err, "logd %s", ab_cluster_logd_endpoint (cluster));
    return self->logclient;
}

#define S_READ_BATCH 10000   //  events per READ: logd's cap

typedef struct {
    ab_logclient_fn *fn;  //  the caller's
    void *arg;
    uint64_t to;          //  last seq wanted
    uint64_t next;        //  seq expected next
    int64_t passed;       //  events handed to fn
    bool stop;            //  fn or `to` ended the read
} s_range_t;

static int
s_range_fn (ab_event_t **event_p, void *arg)
{
    s_range_t *range = (s_range_t *) arg;
    uint64_t seq = ab_event_seq (*event_p);
    range->next = seq + 1;
    range->passed++;
    if (range->fn (event_p, range->arg) || seq >= range->to)
        range->stop = true;
    return range->stop;
}

int64_t
cli_read_range (cli_t *self, uint64_t from, uint64_t to, ab_logclient_fn *fn, void *arg,
                ab_error_t **err)
{
    assert (self);
    assert (fn);
    ab_logclient_t *client = cli_logclient (self, err);
    if (!client)
        return -AB_E_UNAVAILABLE;
    if (to == 0) {
        int64_t head = ab_logclient_head (client, NULL, err);
        if (head < 0)
            return head;
        to = (uint64_t) head;
    }
    s_range_t range = { fn, arg, to, from, 0, false };
    while (!range.stop && range.next <= to) {
        uint64_t want = to - range.next + 1;
        if (want > S_READ_BATCH)
            want = S_READ_BATCH;
        uint64_t before = range.next;
        int64_t rc = ab_logclient_read (client, range.next, want, s_range_fn, &range, err);
        if (rc < 0)
            return rc;
        //  An empty answer below `to` means the log is shorter than the
        //  head we were told: stop rather than spin.
        if (range.next == before)
            break;
    }
    return range.passed;
}

static void
s_prefix (cli_t *self)
{
    if (*self->cmd)
        fprintf (stderr, "abbey %s: ", self->cmd);
    else
        fputs ("abbey: ", stderr);
}

int
cli_fail (cli_t *self, const char *fmt, ...)
{
    assert (self);
    s_prefix (self);
    va_list ap;
    va_start (ap, fmt);
    vfprintf (stderr, fmt, ap);
    va_end (ap);
    fputc ('\n', stderr);
    return CLI_FAIL;
}

int
cli_fail_err (cli_t *self, const ab_error_t *err)
{
    assert (self);
    if (!err)
        return cli_fail (self, "failed (no error detail)");
    cli_fail (self, "%s: %s", ab_error_name (err->code), ab_error_msg (err));
    //  CURVE gives a refused key no answer at all, so a timeout has two
    //  usual causes; name both rather than leave the user guessing.
    if (err->code == AB_E_TIMEOUT || err->code == AB_E_UNAVAILABLE)
        fprintf (stderr, "abbey %s: is the daemon running ('abbey dev status')? is identity "
                         "'%s' still in the cluster key directory ('abbey keys list')?\n",
                 self->cmd, self->as);
    return CLI_FAIL;
}

int
cli_usage (cli_t *self, const char *fmt, ...)
{
    assert (self);
    s_prefix (self);
    va_list ap;
    va_start (ap, fmt);
    vfprintf (stderr, fmt, ap);
    va_end (ap);
    fprintf (stderr, " (see 'abbey%s%s --help')\n", *self->cmd ? " " : "", self->cmd);
    return CLI_USAGE;
}

bool
cli_wants_help (int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp (argv[i], "--") == 0)
            return false;
        if (strcmp (argv[i], "--help") == 0 || strcmp (argv[i], "-h") == 0)
            return true;
    }
    return false;
}

static void
s_print_table (const char *usage, const cli_cmd_t *table)
{
    fputs (usage, stdout);
    printf ("\nCommands:\n");
    for (int i = 0; table[i].name; i++)
        printf ("  %-10s %s\n", table[i].name, table[i].summary);
}

int
cli_dispatch (cli_t *self, const cli_cmd_t *table, const char *usage, int argc,
              char **argv)
{
    assert (self);
    assert (table);
    //  The group's own --help applies only when it comes before a subcommand;
    //  "abbey dev up --help" is up's business.
    if (argc < 2 || strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0
        || strcmp (argv[1], "help") == 0) {
        s_print_table (usage, table);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    if (argv[1][0] == '-')
        return cli_usage (self, "unknown option '%s'", argv[1]);
    for (int i = 0; table[i].name; i++)
        if (strcmp (table[i].name, argv[1]) == 0) {
            size_t len = strlen (self->cmd);
            snprintf (self->cmd + len, sizeof self->cmd - len, "%s%s", len ? " " : "",
                      table[i].name);
            return table[i].fn (self, argc - 1, argv + 1);
        }
    return cli_usage (self, "unknown command '%s'", argv[1]);
}

int
cli_bad_option (cli_t *self, int c, char **argv)
{
    const char *arg = argv[optind - 1];
    if (c == ':')
        return cli_usage (self, "option '%s' needs a value", arg);
    return cli_usage (self, "unknown option '%s'", arg);
}

void
cli_getopt_reset (void)
{
    //  0, not 1: glibc then re-initialises its permutation state too.
    optind = 0;
    opterr = 0;
}

int
cli_parse (cli_t *self, int argc, char **argv, const char *usage, const cli_opt_t *opts,
           char ***pos, int *rc)
{
    assert (self);
    assert (opts);
    if (cli_wants_help (argc, argv)) {
        fputs (usage, stdout);
        *rc = CLI_OK;
        return -1;
    }
    //  getopt's table from ours; val 0x100 + row keeps clear of '?' and ':'.
    struct option longopts[CLI_OPTS_MAX + 1] = { { NULL, 0, NULL, 0 } };
    size_t n = 0;
    for (; opts[n].name; n++) {
        assert (n < CLI_OPTS_MAX);
        assert (!opts[n].value != !opts[n].flag);
        longopts[n]
            = (struct option){ opts[n].name, opts[n].value ? required_argument : no_argument, NULL,
                               0x100 + (int)n };
    }
    cli_getopt_reset ();
    int c;
    while ((c = getopt_long (argc, argv, ":", longopts, NULL)) != -1) {
        if (c < 0x100 || c >= 0x100 + (int)n) {
            *rc = cli_bad_option (self, c, argv);
            return -1;
        }
        const cli_opt_t *opt = &opts[c - 0x100];
        if (opt->value)
            *opt->value = optarg;
        else
            *opt->flag = true;
    }
    *pos = argv + optind;
    return argc - optind;
}

int
cli_parse_timeout (const char *text, int *ms_out, ab_error_t **err)
{
    char *end = NULL;
    errno = 0;
    double secs = text ? strtod (text, &end) : 0;
    if (!text || !*text || errno || *end || !(secs > 0) || secs > 86400)
        return ab_error_set (err, AB_E_USAGE,
                             "--timeout: expected seconds between 0 and 86400, got '%s'",
                             text ? text : "");
    *ms_out = (int) (secs * 1000 + 0.5);
    if (*ms_out < 1)
        *ms_out = 1;
    return 0;
}

int
cli_parse_seq (const char *text, uint64_t min, const char *what, uint64_t *out,
               ab_error_t **err)
{
    assert (out);
    if (!text || !*text || !isdigit ((unsigned char) *text))
        return ab_error_set (err, AB_E_USAGE, "%s: expected a sequence number, got '%s'",
                             what, text ? text : "");
    errno = 0;
    char *end = NULL;
    unsigned long long value = strtoull (text, &end, 10);
    if (errno || *end)
        return ab_error_set (err, AB_E_USAGE, "%s: expected a sequence number, got '%s'",
                             what, text);
    if (value < min)
        return ab_error_set (err, AB_E_USAGE, "%s: must be at least %llu, got %llu", what,
                             (unsigned long long) min, value);
    *out = value;
    return 0;
}

uint64_t
cli_now_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (uint64_t) ts.tv_sec * 1000000000ull + (uint64_t) ts.tv_nsec;
}

//  Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's
//  algorithm); avoids timegm's dependence on the TZ environment.
static int64_t
s_days_from_civil (int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned) (y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t) doe - 719468;
}

static int
s_digits (const char **p, int n, int *out)
{
    int value = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit ((unsigned char) (*p)[i]))
            return -1;
        value = value * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = value;
    return 0;
}

static int
s_parse_rfc3339 (const char *text, uint64_t *out)
{
    const char *p = text;
    int year, mon, day, hour, min, sec;
    if (s_digits (&p, 4, &year) || *p++ != '-' || s_digits (&p, 2, &mon) || *p++ != '-'
        || s_digits (&p, 2, &day) || (*p != 'T' && *p != 't' && *p != ' '))
        return -1;
    p++;
    if (s_digits (&p, 2, &hour) || *p++ != ':' || s_digits (&p, 2, &min) || *p++ != ':'
        || s_digits (&p, 2, &sec))
        return -1;
    static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (year < 1970 || mon < 1 || mon > 12 || day < 1 || day > mdays[mon - 1]
        || (mon == 2 && day == 29 && !leap) || hour > 23 || min > 59 || sec > 60)
        return -1;
    uint64_t frac = 0;
    if (*p == '.') {
        p++;
        int n = 0;
        uint64_t scale = 100000000;
        while (isdigit ((unsigned char) *p)) {
            if (n++ < 9) {
                frac += (uint64_t) (*p - '0') * scale;
                scale /= 10;
            }
            p++;
        }
        if (n == 0)
            return -1;
    }
    int64_t offset = 0;
    if (*p == 'Z' || *p == 'z')
        p++;
    else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1;
        int oh, om;
        if (s_digits (&p, 2, &oh) || *p++ != ':' || s_digits (&p, 2, &om) || oh > 23
            || om > 59)
            return -1;
        offset = sign * (oh * 3600 + om * 60);
    }
    else
        return -1;
    if (*p)
        return -1;
    int64_t secs = s_days_from_civil (year, (unsigned) mon, (unsigned) day) * 86400
                 + hour * 3600 + min * 60 + sec - offset;
    if (secs < 0)
        return -1;
    *out = (uint64_t) secs * 1000000000ull + frac;
    return 0;
}

static int
s_parse_duration (const char *text, uint64_t *out)
{
    const char *p = text;
    uint64_t total = 0;
    if (!*p)
        return -1;
    while (*p) {
        if (!isdigit ((unsigned char) *p))
            return -1;
        uint64_t n = 0;
        while (isdigit ((unsigned char) *p)) {
            if (n > UINT64_MAX / 10)
                return -1;
            n = n * 10 + (uint64_t) (*p++ - '0');
        }
        uint64_t unit;
        if (strncmp (p, "ms", 2) == 0) {
            unit = 1000000ull;
            p += 2;
        }
        else if (*p == 's')
            unit = 1000000000ull, p++;
        else if (*p == 'm')
            unit = 60ull * 1000000000ull, p++;
        else if (*p == 'h')
            unit = 3600ull * 1000000000ull, p++;
        else if (*p == 'd')
            unit = 86400ull * 1000000000ull, p++;
        else
            return -1;
        if (n > (UINT64_MAX - total) / unit)
            return -1;
        total += n * unit;
    }
    *out = total;
    return 0;
}

int
cli_parse_time (const char *text, uint64_t now_ns, uint64_t *out, ab_error_t **err)
{
    assert (out);
    uint64_t value;
    if (text && s_parse_rfc3339 (text, &value) == 0) {
        *out = value;
        return 0;
    }
    if (text && s_parse_duration (text, &value) == 0) {
        *out = value > now_ns ? 0 : now_ns - value;
        return 0;
    }
    return ab_error_set (err, AB_E_USAGE,
                         "time '%s': expected RFC 3339 (2026-11-23T12:00:00Z) or a "
                         "duration ago (10m, 2h, 1h30m, 3d)",
                         text ? text : "");
}

const char *
cli_format_time (uint64_t ns, char *buf, size_t size)
{
    time_t secs = (time_t) (ns / 1000000000ull);
    struct tm tm;
    gmtime_r (&secs, &tm);
    char base[32];
    strftime (base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf (buf, size, "%s.%03uZ", base, (unsigned) (ns % 1000000000ull / 1000000ull));
    return buf;
}

char *
cli_hex (const uint8_t *bytes, size_t size, char *buf)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < size; i++) {
        buf[2 * i] = digits[bytes[i] >> 4];
        buf[2 * i + 1] = digits[bytes[i] & 15];
    }
    buf[2 * size] = 0;
    return buf;
}
