/*  abbey ls - the stacks of the cluster, from the graph rebuilt here
    One row per stack: name, version (short), services, ready/desired
    instances, state and age since its current stack.deployed (log time).
    Removed stacks stay in the graph for history; --all shows them.       */
#include "cli_stack.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char s_usage[]
    = "Usage: abbey ls [--all] [--json]\n"
      "\n"
      "List stacks: NAME VERSION SERVICES READY STATE AGE.\n"
      "  READY   instances ready / desired (ready: healthy, or running when the\n"
      "          service has no readiness check)\n"
      "  AGE     since the stack's current version was deployed\n"
      "  --all   also the stacks that were removed\n"
      "  --json  [{name, version, services, desired, placed, started, ready, state,\n"
      "           reason, deployed_seq, deployed_ts}]\n";

typedef struct {
    cli_replay_t *replay;
    bool all;
    json_t *rows;
} s_ls_t;

static int
s_stack_fn (const char *path, void *arg)
{
    s_ls_t *ls = (s_ls_t *)arg;
    ab_graph_t *graph = cli_replay_graph (ls->replay);
    const char *state = ab_graph_state (graph, path);
    if (!ls->all && state && !strcmp (state, "removed"))
        return 0;
    const char *name = path + strlen ("stack/");
    json_t *spec = cli_replay_stack_spec (ls->replay, name);
    cli_counts_t total = { 0 };
    if (strcmp (state, "removed"))
        cli_stack_totals (graph, name, spec, &total);
    uint64_t seq = 0, ts = 0;
    cli_replay_deployed (ls->replay, name, &seq, &ts);
    const char *reason = ab_graph_reason (graph, path);
    json_t *row = json_pack (
        "{s:s,s:s?,s:I,s:I,s:I,s:I,s:I,s:s,s:s?,s:I,s:I}", "name", name, "version",
        json_string_value (json_object_get (spec, "version")), "services",
        (json_int_t)json_object_size (json_object_get (spec, "services")), "desired",
        (json_int_t)total.desired, "placed", (json_int_t)total.placed, "started",
        (json_int_t)total.started, "ready", (json_int_t)total.ready, "state", state, "reason",
        reason, "deployed_seq", (json_int_t)seq, "deployed_ts", (json_int_t)ts);
    json_array_append_new (ls->rows, row);
    json_decref (spec);
    return 0;
}

int
cmd_ls (cli_t *cli, int argc, char **argv)
{
    bool json = false;
    s_ls_t ls = { .all = false };
    const cli_opt_t opts[]
        = { { "all", NULL, &ls.all }, { "json", NULL, &json }, { NULL, NULL, NULL } };
    char **pos;
    int rc;
    int n = cli_parse (cli, argc, argv, s_usage, opts, &pos, &rc);
    if (n < 0)
        return rc;
    if (n)
        return cli_usage (cli, "unexpected argument '%s'", pos[0]);
    ab_auto_error ab_error_t *err = NULL;
    ls.replay = cli_replay_new (cli);
    if (cli_replay_load (ls.replay, 0, 0, &err) < 0) {
        cli_replay_destroy (&ls.replay);
        return cli_fail_err (cli, err);
    }
    ls.rows = json_array ();
    ab_graph_each (cli_replay_graph (ls.replay), AB_GRAPH_STACK, NULL, s_stack_fn, &ls);
    if (json) {
        json_dumpf (ls.rows, stdout, JSON_INDENT (2) | JSON_SORT_KEYS);
        fputc ('\n', stdout);
    } else if (json_array_size (ls.rows) == 0)
        printf ("no stacks (deploy one with 'abbey deploy')\n");
    else {
        printf ("%-20s %-12s %8s %9s %-10s %s\n", "NAME", "VERSION", "SERVICES", "READY", "STATE",
                "AGE");
        uint64_t now = cli_now_ns ();
        size_t i;
        json_t *row;
        json_array_foreach (ls.rows, i, row)
        {
            char ready[48], age[32];
            snprintf (ready, sizeof ready, "%" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT,
                      json_integer_value (json_object_get (row, "ready")),
                      json_integer_value (json_object_get (row, "desired")));
            const char *version = json_string_value (json_object_get (row, "version"));
            printf (
                "%-20s %-12.12s %8" JSON_INTEGER_FORMAT " %9s %-10s %s\n",
                json_string_value (json_object_get (row, "name")), version ? version : "-",
                json_integer_value (json_object_get (row, "services")), ready,
                json_string_value (json_object_get (row, "state")),
                cli_format_age ((uint64_t)json_integer_value (json_object_get (row, "deployed_ts")),
                                now, age, sizeof age));
        }
    }
    json_decref (ls.rows);
    cli_replay_destroy (&ls.replay);
    return CLI_OK;
}
