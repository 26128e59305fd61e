/*  abbey inspect - a stack's normalized spec as deployed
    The spec is the one the graph kept from the stack's last stack.deployed,
    so it is exactly what the scheduler and agents read. The human form adds
    the deploy's seq and time, the state and the counts.                   */
#include "cli_stack.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char s_usage[]
    = "Usage: abbey inspect STACK [--json]\n"
      "\n"
      "Print the normalized spec of STACK as deployed (docs/manifest.md, section 10),\n"
      "after its version, deploy seq and time, and state.\n"
      "  --json  the spec alone, as deployed\n";

int
cmd_inspect (cli_t *cli, int argc, char **argv)
{
    bool json = false;
    const cli_opt_t opts[] = { { "json", NULL, &json }, { NULL, NULL, NULL } };
    char **pos;
    int rc;
    int n = cli_parse (cli, argc, argv, s_usage, opts, &pos, &rc);
    if (n < 0)
        return rc;
    if (n != 1)
        return cli_usage (cli, "expected one STACK, got %d arguments", n);
    const char *name = pos[0];
    ab_auto_error ab_error_t *err = NULL;
    cli_replay_t *replay = cli_replay_new (cli);
    if (cli_replay_load (replay, 0, 0, &err) < 0) {
        cli_replay_destroy (&replay);
        return cli_fail_err (cli, err);
    }
    rc = CLI_OK;
    json_t *spec = cli_replay_stack_spec (replay, name);
    if (!spec)
        rc = cli_fail (cli, "not-found: no stack \"%s\" was ever deployed (see 'abbey ls')", name);
    else if (json) {
        json_dumpf (spec, stdout, JSON_INDENT (2) | JSON_SORT_KEYS);
        fputc ('\n', stdout);
    } else {
        char path[AB_SUBJ_MAX + 1], when[40], age[32];
        snprintf (path, sizeof path, "stack/%s", name);
        ab_graph_t *graph = cli_replay_graph (replay);
        const char *state = ab_graph_state (graph, path);
        const char *reason = ab_graph_reason (graph, path);
        uint64_t seq = 0, ts = 0;
        cli_replay_deployed (replay, name, &seq, &ts);
        printf ("stack:    %s\n", name);
        printf ("version:  %s\n", json_string_value (json_object_get (spec, "version")));
        printf ("source:   %s\n", json_string_value (json_object_get (spec, "source")));
        printf ("deployed: seq %" PRIu64 " at %s (%s ago)\n", seq,
                cli_format_time (ts, when, sizeof when),
                cli_format_age (ts, cli_now_ns (), age, sizeof age));
        printf ("state:    %s%s%s\n", state, reason ? ": " : "", reason ? reason : "");
        if (strcmp (state, "removed")) {
            const char *service;
            json_t *svc;
            json_object_foreach (json_object_get (spec, "services"), service, svc)
            {
                cli_counts_t counts;
                cli_stack_counts (graph, name, service, svc, &counts);
                printf ("service %s: placed %zu/%" PRId64 ", started %zu/%" PRId64
                        ", ready %zu/%" PRId64 "\n",
                        service, counts.placed, counts.desired, counts.started, counts.desired,
                        counts.ready, counts.desired);
            }
        }
        printf ("spec:\n");
        json_dumpf (spec, stdout, JSON_INDENT (2) | JSON_SORT_KEYS);
        fputc ('\n', stdout);
    }
    json_decref (spec);
    cli_replay_destroy (&replay);
    return rc;
}
