/*  abbey rm - remove a stack: append stack.removed
    The graph drops the stack's services and instances and keeps the stack
    itself (state removed, last spec) for history. --wait follows the log
    until the graph holds no instance of the stack.                        */
#include "cli_stack.h"
#include "cli_wait.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char s_usage[]
    = "Usage: abbey rm STACK [--wait] [--timeout DURATION]\n"
      "\n"
      "Remove a deployed stack (appends stack.removed).\n"
      "  --wait        follow the log until no instance of the stack is left\n"
      "  --timeout D   how long --wait waits (default 5m; exit 2 past it)\n";

int
cmd_rm (cli_t *cli, int argc, char **argv)
{
    if (cli_wants_help (argc, argv)) {
        fputs (s_usage, stdout);
        return CLI_OK;
    }
    static const struct option opts[] = { { "wait", no_argument, NULL, 'w' },
                                          { "timeout", required_argument, NULL, 't' },
                                          { NULL, 0, NULL, 0 } };
    bool wait = false;
    int64_t timeout_ms = 5 * 60 * 1000;
    ab_auto_error ab_error_t *err = NULL;
    cli_getopt_reset ();
    int c;
    while ((c = getopt_long (argc, argv, ":", opts, NULL)) != -1) {
        if (c == 'w')
            wait = true;
        else if (c == 't') {
            if (cli_parse_duration ("--timeout", optarg, &timeout_ms, &err) < 0)
                return cli_usage (cli, "%s", ab_error_msg (err));
        } else
            return cli_bad_option (cli, c, argv);
    }
    if (argc - optind != 1)
        return cli_usage (cli, "expected one STACK, got %d arguments", argc - optind);
    const char *name = argv[optind];
    cli_replay_t *replay = cli_replay_new (cli);
    int rc = CLI_OK;
    char path[AB_SUBJ_MAX + 1];
    snprintf (path, sizeof path, "stack/%s", name);
    const char *state = NULL;
    uint64_t seq = 0;
    ab_event_t *event = NULL;
    if (cli_replay_load (replay, 0, 0, &err) < 0) {
        rc = cli_fail_err (cli, err);
        goto done;
    }
    state = ab_graph_state (cli_replay_graph (replay), path);
    if (!state || ab_graph_kind (cli_replay_graph (replay), path) != AB_GRAPH_STACK) {
        rc = cli_fail (cli, "not-found: no stack \"%s\" (see 'abbey ls')", name);
        goto done;
    }
    if (!strcmp (state, "removed")) {
        uint64_t when = 0;
        ab_graph_t *graph = cli_replay_graph (replay);
        json_t *res = ab_graph_resource_json (graph, path);
        when = (uint64_t)json_integer_value (json_object_get (res, "seq"));
        json_decref (res);
        rc = cli_fail (cli, "not-found: stack \"%s\" is already removed (seq %" PRIu64 ")", name,
                       when);
        goto done;
    }
    event = ab_event_new ("stack.removed", path);
    ab_logclient_t *client = cli_logclient (cli, &err);
    if (!client || ab_logclient_append (client, &event, 1, &seq, 5000, &err) < 0) {
        rc = cli_fail_err (cli, err);
        goto done;
    }
    printf ("stack %s removed (seq %" PRIu64 ")\n", name, seq);
    fflush (stdout);
    if (wait)
        rc = cli_wait_stack (cli, replay, name, NULL, seq, timeout_ms, CLI_WAIT_GONE);
done:
    ab_event_destroy (&event);
    cli_replay_destroy (&replay);
    return rc;
}
