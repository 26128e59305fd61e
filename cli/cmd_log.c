/*  abbey log - the log itself: head, verify, export
    verify reads the events over the wire and recomputes the hash chain in
    this process, so an auditor need not trust logd: every event must carry
    the next seq, link to the hash of the one before (zeros before seq 1)
    and hash to its own `hash`; the last one must match logd's head.        */
#include "cli_common.h"

#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

static const char s_usage[] = "Usage: abbey log COMMAND ...\n"
                              "\n"
                              "Inspect and audit the event log.\n";

static const char s_head_usage[]
    = "Usage: abbey log head [--json]\n"
      "\n"
      "Print the seq and hash of the last event (seq 0 for an empty log).\n"
      "--json prints {seq, hash}.\n";

static const char s_verify_usage[]
    = "Usage: abbey log verify [--from SEQ] [--to SEQ]\n"
      "\n"
      "Read events FROM..TO (default: the whole log) and recompute the hash\n"
      "chain here: each event must hash to its stored hash and link to the\n"
      "hash of the event before it. Exit 0 printing the range verified, or\n"
      "exit 1 naming the first bad seq and why.\n";

static const char s_export_usage[]
    = "Usage: abbey log export [--from SEQ] [--to SEQ]\n"
      "\n"
      "Write events FROM..TO (default: the whole log) as JSON lines for an\n"
      "auditor: {seq, ts, type, subj, src, pseq, prev, hash, data}, with\n"
      "prev and hash in hex.\n";

//  Parse --from/--to (and --json if json is not NULL); 0 means unset.
//  Returns -1 with *rc set when the command should end now.
static int
s_parse (cli_t *cli, int argc, char **argv, const char *usage, uint64_t *from, uint64_t *to,
         bool *json, int *rc)
{
    if (cli_wants_help (argc, argv)) {
        fputs (usage, stdout);
        *rc = CLI_OK;
        return -1;
    }
    static const struct option range_opts[] = { { "from", required_argument, NULL, 'f' },
                                                { "to", required_argument, NULL, 't' },
                                                { NULL, 0, NULL, 0 } };
    static const struct option json_opts[]
        = { { "json", no_argument, NULL, 'j' }, { NULL, 0, NULL, 0 } };
    ab_auto_error ab_error_t *err = NULL;
    cli_getopt_reset ();
    int c;
    while ((c = getopt_long (argc, argv, ":", json ? json_opts : range_opts, NULL)) != -1) {
        if (c == 'j')
            *json = true;
        else if (c == 'f' || c == 't') {
            if (cli_parse_seq (optarg, 1, c == 'f' ? "--from" : "--to", c == 'f' ? from : to, &err)
                < 0) {
                *rc = cli_usage (cli, "%s", ab_error_msg (err));
                return -1;
            }
        } else {
            *rc = cli_bad_option (cli, c, argv);
            return -1;
        }
    }
    if (optind < argc) {
        *rc = cli_usage (cli, "unexpected argument '%s'", argv[optind]);
        return -1;
    }
    if (from && to && *from && *to && *from > *to) {
        *rc = cli_usage (cli, "--from %" PRIu64 " is after --to %" PRIu64, *from, *to);
        return -1;
    }
    return 0;
}

static int
s_head (cli_t *cli, int argc, char **argv)
{
    bool json = false;
    int rc;
    if (s_parse (cli, argc, argv, s_head_usage, NULL, NULL, &json, &rc) < 0)
        return rc;
    ab_auto_error ab_error_t *err = NULL;
    ab_logclient_t *client = cli_logclient (cli, &err);
    if (!client)
        return cli_fail_err (cli, err);
    uint8_t hash[AB_HASH_SIZE];
    int64_t head = ab_logclient_head (client, hash, &err);
    if (head < 0)
        return cli_fail_err (cli, err);
    char hex[2 * AB_HASH_SIZE + 1];
    cli_hex (hash, AB_HASH_SIZE, hex);
    if (json) {
        json_t *obj = json_pack ("{s:I, s:s}", "seq", (json_int_t)head, "hash", hex);
        json_dumpf (obj, stdout, JSON_COMPACT);
        fputc ('\n', stdout);
        json_decref (obj);
    } else
        printf ("seq %" PRId64 " hash %s\n", head, hex);
    return CLI_OK;
}

//  Where a range ends: --to, else the head now. Fails if --to is past it.
static int
s_range_end (cli_t *cli, uint64_t to, uint64_t *end, uint8_t head_hash[AB_HASH_SIZE],
             ab_error_t **err)
{
    ab_logclient_t *client = cli_logclient (cli, err);
    if (!client)
        return -AB_E_UNAVAILABLE;
    int64_t head = ab_logclient_head (client, head_hash, err);
    if (head < 0)
        return (int)head;
    if (to > (uint64_t)head)
        return ab_error_set (err, AB_E_NOT_FOUND, "--to %" PRIu64 ": the log ends at seq %" PRId64,
                             to, head);
    *end = to ? to : (uint64_t)head;
    return 0;
}

static int
s_verify (cli_t *cli, int argc, char **argv)
{
    uint64_t from = 0, to = 0;
    int rc;
    if (s_parse (cli, argc, argv, s_verify_usage, &from, &to, NULL, &rc) < 0)
        return rc;
    if (!from)
        from = 1;
    ab_auto_error ab_error_t *err = NULL;
    uint64_t end = 0;
    uint8_t head_hash[AB_HASH_SIZE];
    if (s_range_end (cli, to, &end, head_hash, &err) < 0)
        return cli_fail_err (cli, err);
    if (end == 0) {
        printf ("the log is empty: nothing to verify\n");
        return CLI_OK;
    }
    if (from > end)
        return cli_fail (cli, "--from %" PRIu64 ": the log ends at seq %" PRIu64, from, end);
    //  What the log no longer holds cannot be verified: say so, and verify
    //  what it holds, anchored by the prev its first event carries.
    int64_t first = ab_logclient_first (cli_logclient (cli, NULL), &err);
    if (first < 0)
        return cli_fail_err (cli, err);
    if (from < (uint64_t)first) {
        fprintf (stderr,
                 "abbey %s: the log holds history from seq %" PRId64
                 "; earlier history was dropped\n",
                 cli_cmd (cli), first);
        from = (uint64_t)first;
    }
    //  ab_logclient_verify does the work in this process: decode, seq,
    //  hash, link to from - 1 (zeros before seq 1) and, to the head, logd's
    //  head hash. Nothing logd says about its own integrity is taken.
    uint64_t bad = 0;
    if (ab_logclient_verify (cli_logclient (cli, NULL), from, end, &bad, &err) < 0) {
        if (!bad)
            return cli_fail_err (cli, err);
        if (bad > from)
            fprintf (stderr, "abbey %s: %" PRIu64 "..%" PRIu64 " intact\n", cli_cmd (cli), from,
                     bad - 1);
        return cli_fail (cli, "seq %" PRIu64 " is bad: %s", bad, ab_error_msg (err));
    }
    printf ("verified %" PRIu64 "..%" PRIu64 ": %" PRIu64 " event%s, chain intact\n", from, end,
            end - from + 1, end == from ? "" : "s");
    return CLI_OK;
}

static int
s_export_fn (ab_event_t **event_p, void *arg)
{
    json_t *obj = ab_event_to_json (*event_p);
    if (!obj)
        return 1;
    int rc = json_dumpf (obj, stdout, JSON_COMPACT);
    fputc ('\n', stdout);
    json_decref (obj);
    return rc != 0 || ferror (stdout);
}

static int
s_export (cli_t *cli, int argc, char **argv)
{
    uint64_t from = 0, to = 0;
    int rc;
    if (s_parse (cli, argc, argv, s_export_usage, &from, &to, NULL, &rc) < 0)
        return rc;
    if (!from)
        from = 1;
    ab_auto_error ab_error_t *err = NULL;
    uint64_t end = 0;
    uint8_t head_hash[AB_HASH_SIZE];
    if (s_range_end (cli, to, &end, head_hash, &err) < 0)
        return cli_fail_err (cli, err);
    if (end == 0 || from > end)
        return CLI_OK;
    int64_t n = cli_read_range (cli, from, end, s_export_fn, NULL, &err);
    if (n < 0)
        return cli_fail_err (cli, err);
    if (fflush (stdout) != 0 || ferror (stdout))
        return cli_fail (cli, "writing the export failed");
    if ((uint64_t)n != end - from + 1)
        return cli_fail (cli, "exported %" PRId64 " of %" PRIu64 " events", n, end - from + 1);
    return CLI_OK;
}

static const cli_cmd_t s_table[]
    = { { "head", s_head, "seq and hash of the last event" },
        { "verify", s_verify, "recompute the hash chain; exit 1 names the first bad seq" },
        { "export", s_export, "events as JSON lines for an auditor" },
        { NULL, NULL, NULL } };

int
cmd_log (cli_t *cli, int argc, char **argv)
{
    return cli_dispatch (cli, s_table, s_usage, argc, argv);
}
