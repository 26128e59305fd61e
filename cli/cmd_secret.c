/*  abbey secret - sealed secrets: set, ls, rm
    `set` seals the value here, in the CLI, to the cluster's secrets public
    key (KEYS/secrets.pub) with ab_secret, and appends only the sealed box:
    the plaintext never leaves this process, never is an argument (it would
    show in ps and shell history), and nothing here can open it again. Only
    agents hold the key that opens it (KEYS/agent/secrets.key). `ls` and
    `rm` work on the graph rebuilt from the log, which keeps a digest of each
    secret's box, never the box.                                            */
#include "ab_keyring.h"
#include "ab_secret.h"
#include "cli_replay.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define S_APPEND_TIMEOUT_MS 5000

static const char s_usage[]
    = "Usage: abbey secret COMMAND ...\n"
      "\n"
      "Sealed secrets: values sealed to the cluster's secrets key, so that only\n"
      "agents can open them. Kits use them as <- secret(\"NAME\").\n";

static const char s_set_usage[]
    = "Usage: abbey secret set NAME [--from-file FILE]\n"
      "\n"
      "Seal a value to the cluster's secrets public key and append secret.set:\n"
      "the log keeps only the sealed value. Setting NAME again makes a new version.\n"
      "  NAME              1-64 characters of A-Z a-z 0-9 . _ -, starting with a\n"
      "                    letter or digit\n"
      "  --from-file FILE  read the value from FILE ('-': stdin), byte for byte\n"
      "Without --from-file the value is read from stdin, byte for byte (use\n"
      "printf, not echo, unless you want the newline); on a terminal it is\n"
      "asked for without echo, up to the end of the line. An empty value and\n"
      "values over 64 KiB are refused.\n";

static const char s_ls_usage[]
    = "Usage: abbey secret ls [--json]\n"
      "\n"
      "List the secrets that are set: name, version (number of sets), when the\n"
      "current version was set and by whom (the src of its event). Never values.\n"
      "--json prints an array of {name, version, seq, ts, set_at, src}.\n";

static const char s_rm_usage[]
    = "Usage: abbey secret rm NAME\n"
      "\n"
      "Append secret.removed for NAME. Fails, appending nothing, if no secret\n"
      "NAME is set.\n";

//  Parse a subcommand that takes one secret NAME: 0 with *name set, or -1
//  with the exit code in *rc (help, usage, or a bad name).
static int
s_parse_name (cli_t *cli, int argc, char **argv, const char *usage, const cli_opt_t *opts,
              const char **name, int *rc)
{
    char **pos;
    int n = cli_parse (cli, argc, argv, usage, opts, &pos, rc);
    if (n < 0)
        return -1;
    if (n != 1) {
        *rc = cli_usage (cli, "expected one NAME, got %d arguments", n);
        return -1;
    }
    *name = pos[0];
    if (!ab_secret_name_ok (*name)) {
        *rc = cli_fail (cli,
                        "invalid: bad secret name '%s': use 1-%d characters of A-Z a-z 0-9 . _ -, "
                        "starting with a letter or digit",
                        *name, AB_SECRET_NAME_MAX);
        return -1;
    }
    return 0;
}

//  Read up to AB_SECRET_VALUE_MAX bytes of fd into buf (one byte more
//  tells oversize). Returns the byte count, or -1 with errno.
static ssize_t
s_read_all (int fd, uint8_t *buf)
{
    size_t n = 0;
    while (n <= AB_SECRET_VALUE_MAX) {
        ssize_t r = read (fd, buf + n, AB_SECRET_VALUE_MAX + 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        n += (size_t)r;
    }
    return (ssize_t)n;
}

//  Ask on the terminal without echo; the line, without its newline, is the
//  value. Returns the byte count, or -1 with errno.
static ssize_t
s_read_tty (const char *name, uint8_t *buf)
{
    fprintf (stderr, "Value for secret %s (not shown): ", name);
    fflush (stderr);
    struct termios old, quiet;
    bool restore = tcgetattr (STDIN_FILENO, &old) == 0;
    if (restore) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        quiet.c_lflag |= ECHONL;
        tcsetattr (STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    size_t n = 0;
    ssize_t rc = 0;
    while (n <= AB_SECRET_VALUE_MAX) {
        ssize_t r = read (STDIN_FILENO, buf + n, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            rc = -1;
        if (r <= 0 || buf[n] == '\n')
            break;
        n++;
    }
    if (restore)
        tcsetattr (STDIN_FILENO, TCSAFLUSH, &old);
    return rc < 0 ? -1 : (ssize_t)n;
}

//  The value to seal, from file ("-" or NULL: stdin), in sodium memory
//  (free with ab_secret_free). NULL after printing the error.
static uint8_t *
s_read_value (cli_t *cli, const char *name, const char *file, size_t *size)
{
    bool use_stdin = !file || strcmp (file, "-") == 0;
    const char *what = use_stdin ? "stdin" : file;
    uint8_t *buf = ab_secret_alloc (AB_SECRET_VALUE_MAX + 1);
    if (!buf) {
        cli_fail (cli, "system: out of locked memory for the value");
        return NULL;
    }
    int fd = use_stdin ? STDIN_FILENO : open (file, O_RDONLY | O_CLOEXEC);
    ssize_t n = -1;
    bool tty = use_stdin && isatty (STDIN_FILENO);
    if (fd >= 0)
        n = tty ? s_read_tty (name, buf) : s_read_all (fd, buf);
    int e = errno;
    if (fd >= 0 && !use_stdin)
        close (fd);
    if (n < 0)
        cli_fail (cli, "io: read %s: %s", what, strerror (e));
    else if (n == 0)
        cli_fail (cli, "invalid: %s is empty: a secret needs a value", what);
    else if (n > AB_SECRET_VALUE_MAX)
        cli_fail (cli, "oversize: %s holds more than %d bytes, the limit of a secret's value", what,
                  AB_SECRET_VALUE_MAX);
    if (n <= 0 || n > AB_SECRET_VALUE_MAX) {
        ab_secret_free (&buf);
        return NULL;
    }
    *size = (size_t)n;
    return buf;
}

//  Append one event as the --as identity; prints nothing. 0 or CLI_FAIL.
static int
s_append (cli_t *cli, ab_event_t **event_p, uint64_t *seq)
{
    ab_auto_error ab_error_t *err = NULL;
    ab_logclient_t *client = cli_logclient (cli, &err);
    int rc = client ? ab_logclient_append (client, event_p, 1, seq, S_APPEND_TIMEOUT_MS, &err) : -1;
    ab_event_destroy (event_p);
    return rc < 0 ? cli_fail_err (cli, err) : 0;
}

static int
s_set (cli_t *cli, int argc, char **argv)
{
    const char *from_file = NULL;
    const cli_opt_t opts[] = { { "from-file", &from_file, NULL }, { NULL, NULL, NULL } };
    const char *name;
    int rc;
    //  Check all that can be checked before reading the value.
    if (s_parse_name (cli, argc, argv, s_set_usage, opts, &name, &rc) < 0)
        return rc;
    ab_auto_error ab_error_t *err = NULL;
    ab_auto_free char *keys = cli_keys_dir (cli, &err);
    if (!keys)
        return cli_fail_err (cli, err);
    uint8_t pk[32];
    if (ab_keyring_sealing_keys (keys, pk, NULL, &err) < 0) {
        ab_error_wrap (&err, "the cluster's secrets public key");
        return cli_fail_err (cli, err);
    }
    size_t size = 0;
    uint8_t *value = s_read_value (cli, name, from_file, &size);
    if (!value)
        return CLI_FAIL;
    size_t sealed_size = 0;
    ab_auto_free uint8_t *sealed = ab_secret_seal (pk, value, size, &sealed_size, &err);
    ab_secret_free (&value);
    if (!sealed)
        return cli_fail_err (cli, err);
    ab_event_t *event = ab_secret_event_set (name, sealed, sealed_size, &err);
    if (!event)
        return cli_fail_err (cli, err);
    uint64_t seq = 0;
    if (s_append (cli, &event, &seq))
        return CLI_FAIL;
    printf ("secret %s set (%zu bytes sealed, seq %" PRIu64 ")\n", name, size, seq);
    return CLI_OK;
}

//  The src of each applied secret.set, by seq, gathered during the replay:
//  the graph keeps the seq of a secret's current version, not who set it.
typedef struct {
    uint64_t seq;             //  of a secret.set
    char src[AB_SRC_MAX + 1]; //  its producer
} s_setter_t;

typedef struct {
    s_setter_t *items; //  in seq order
    size_t count;      //  entries in items
    size_t max;        //  allocated
} s_setters_t;

static int
s_setter_fn (const ab_event_t *event, void *arg)
{
    s_setters_t *setters = (s_setters_t *)arg;
    if (strcmp (ab_event_type (event), "secret.set") != 0)
        return 0;
    if (setters->count == setters->max) {
        setters->max = setters->max ? setters->max * 2 : 16;
        setters->items = realloc (setters->items, setters->max * sizeof *setters->items);
        if (!setters->items)
            abort ();
    }
    s_setter_t *item = &setters->items[setters->count++];
    item->seq = ab_event_seq (event);
    snprintf (item->src, sizeof item->src, "%s", ab_event_src (event));
    return 0;
}

static const char *
s_setter (const s_setters_t *setters, uint64_t seq)
{
    size_t lo = 0, hi = setters->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (setters->items[mid].seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < setters->count && setters->items[lo].seq == seq ? setters->items[lo].src : "";
}

typedef struct {
    const ab_graph_t *graph;
    const s_setters_t *setters;
    json_t *rows; //  array of {name, version, seq, ts, set_at, src}
} s_ls_t;

static int
s_ls_fn (const char *path, void *arg)
{
    s_ls_t *ls = (s_ls_t *)arg;
    json_t *res = ab_graph_resource_json (ls->graph, path);
    uint64_t seq = (uint64_t)json_integer_value (json_object_get (res, "seq"));
    uint64_t ts = (uint64_t)json_integer_value (json_object_get (res, "ts"));
    char when[64];
    json_array_append_new (ls->rows, json_pack ("{s:s, s:O, s:I, s:I, s:s, s:s}", "name",
                                                path + strlen ("secret/"), "version",
                                                json_object_get (res, "version"), "seq",
                                                (json_int_t)seq, "ts", (json_int_t)ts, "set_at",
                                                cli_format_time (ts, when, sizeof when), "src",
                                                s_setter (ls->setters, seq)));
    json_decref (res);
    return 0;
}

static int
s_ls (cli_t *cli, int argc, char **argv)
{
    bool json = false;
    const cli_opt_t opts[] = { { "json", NULL, &json }, { NULL, NULL, NULL } };
    char **pos;
    int rc;
    int n = cli_parse (cli, argc, argv, s_ls_usage, opts, &pos, &rc);
    if (n < 0)
        return rc;
    if (n)
        return cli_usage (cli, "unexpected argument '%s'", pos[0]);
    ab_auto_error ab_error_t *err = NULL;
    s_setters_t setters = { NULL, 0, 0 };
    cli_replay_t *replay = cli_replay_new (cli);
    cli_replay_observe (replay, s_setter_fn, &setters);
    if (cli_replay_load (replay, 0, 0, &err) < 0) {
        cli_replay_destroy (&replay);
        free (setters.items);
        return cli_fail_err (cli, err);
    }
    s_ls_t ls = { cli_replay_graph (replay), &setters, json_array () };
    ab_graph_each (ls.graph, AB_GRAPH_SECRET, NULL, s_ls_fn, &ls);
    cli_replay_destroy (&replay);
    free (setters.items);
    if (json) {
        json_dumpf (ls.rows, stdout, JSON_INDENT (2));
        fputc ('\n', stdout);
    } else if (json_array_size (ls.rows) == 0)
        printf ("no secrets set\n");
    else {
        printf ("%-32s %-8s %-25s %s\n", "NAME", "VERSION", "SET AT", "BY");
        size_t i;
        json_t *row;
        json_array_foreach (ls.rows, i, row)
            printf ("%-32s %-8" JSON_INTEGER_FORMAT " %-25s %s\n",
                    json_string_value (json_object_get (row, "name")),
                    json_integer_value (json_object_get (row, "version")),
                    json_string_value (json_object_get (row, "set_at")),
                    json_string_value (json_object_get (row, "src")));
    }
    json_decref (ls.rows);
    return CLI_OK;
}

static int
s_rm (cli_t *cli, int argc, char **argv)
{
    const cli_opt_t opts[] = { { NULL, NULL, NULL } };
    const char *name;
    int rc;
    if (s_parse_name (cli, argc, argv, s_rm_usage, opts, &name, &rc) < 0)
        return rc;
    ab_auto_error ab_error_t *err = NULL;
    cli_replay_t *replay = cli_replay_new (cli);
    if (cli_replay_load (replay, 0, 0, &err) < 0) {
        cli_replay_destroy (&replay);
        return cli_fail_err (cli, err);
    }
    char path[16 + AB_SECRET_NAME_MAX];
    snprintf (path, sizeof path, "secret/%s", name);
    bool is_set = ab_graph_kind (cli_replay_graph (replay), path) == AB_GRAPH_SECRET;
    cli_replay_destroy (&replay);
    if (!is_set)
        return cli_fail (cli, "not-found: no secret '%s' is set (see 'abbey secret ls')", name);
    ab_event_t *event = ab_secret_event_removed (name, &err);
    if (!event)
        return cli_fail_err (cli, err);
    uint64_t seq = 0;
    if (s_append (cli, &event, &seq))
        return CLI_FAIL;
    printf ("secret %s removed (seq %" PRIu64 ")\n", name, seq);
    return CLI_OK;
}

static const cli_cmd_t s_table[]
    = { { "set", s_set, "seal a value (stdin or --from-file) and set NAME to it" },
        { "ls", s_ls, "list secrets: name, version, set at, by whom" },
        { "rm", s_rm, "remove secret NAME" },
        { NULL, NULL, NULL } };

int
cmd_secret (cli_t *cli, int argc, char **argv)
{
    return cli_dispatch (cli, s_table, s_usage, argc, argv);
}
