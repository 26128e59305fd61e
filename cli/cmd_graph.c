/*  abbey graph - replay the log and print the resource graph and its digest
    The graph is rebuilt here from seq 1 through ab_graph_apply, the same
    pure projection every service runs, so two runs at the same seq print
    the same digest whatever process or machine they run in.               */
#include "cli_replay.h"

#include <ctype.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>

static const char s_usage[]
    = "Usage: abbey graph [--at SEQ | --at TIME] [--json]\n"
      "\n"
      "Replay the log from seq 1 and print the resource graph and its digest.\n"
      "  --at SEQ   stop after event SEQ (past the head means the head)\n"
      "  --at TIME  stop at the last event committed at or before TIME:\n"
      "             RFC 3339 (2026-11-23T12:00:00Z) or a duration ago (10m, 2h)\n"
      "  --json     print {seq, ts, digest, stats, <kind>: {path: resource}, notes}\n";

int
cmd_graph (cli_t *cli, int argc, char **argv)
{
    const char *at = NULL;
    bool json = false;
    const cli_opt_t opts[] = { { "at", &at, NULL }, { "json", NULL, &json }, { NULL, NULL, NULL } };
    char **pos;
    int rc;
    int n = cli_parse (cli, argc, argv, s_usage, opts, &pos, &rc);
    if (n < 0)
        return rc;
    if (n)
        return cli_usage (cli, "unexpected argument '%s'", pos[0]);

    ab_auto_error ab_error_t *err = NULL;
    uint64_t to_seq = 0;
    uint64_t until_ts = 0;
    bool all_digits = at && *at;
    for (const char *p = at; p && *p; p++)
        all_digits = all_digits && isdigit ((unsigned char) *p);
    if (all_digits) {
        if (cli_parse_seq (at, 0, "--at", &to_seq, &err) < 0)
            return cli_usage (cli, "%s", ab_error_msg (err));
    }
    else if (at && cli_parse_time (at, cli_now_ns (), &until_ts, &err) < 0)
        return cli_usage (cli, "--at: %s", ab_error_msg (err));

    cli_replay_t *replay = cli_replay_new (cli);
    //  until_ts 0 would mean "no limit": a time before the epoch is nothing;
    //  and --at 0 is the empty graph, not the head.
    bool empty = (at && !all_digits && until_ts == 0) || (all_digits && to_seq == 0);
    if (!empty && cli_replay_load (replay, all_digits ? to_seq : 0, until_ts, &err) < 0) {
        cli_replay_destroy (&replay);
        return cli_fail_err (cli, err);
    }
    ab_graph_t *graph = cli_replay_graph (replay);
    uint8_t digest[32];
    char hex[65];
    ab_graph_digest (graph, digest);
    cli_hex (digest, sizeof digest, hex);
    if (json) {
        //  Already {seq, ts, digest, stats, <kind>: {...}, notes}.
        json_t *obj = ab_graph_to_json (graph);
        json_dumpf (obj, stdout, JSON_INDENT (2) | JSON_SORT_KEYS);
        fputc ('\n', stdout);
        json_decref (obj);
    }
    else {
        ab_graph_print (graph, stdout);
        printf ("seq %" PRIu64 " digest %s", ab_graph_seq (graph), hex);
        if (cli_replay_rejected (replay))
            printf (" (%" PRIu64 " event%s rejected; see --json stats)", cli_replay_rejected (replay),
                    cli_replay_rejected (replay) == 1 ? "" : "s");
        printf ("\n");
    }
    cli_replay_destroy (&replay);
    return CLI_OK;
}
