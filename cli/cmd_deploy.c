/*  abbey deploy - compile a stack, append stack.deployed, wait for the outcome
    Kits (local files first, then published kits from the log) or a
    docker-compose file compile into the normalized spec; nothing is
    appended unless it is valid and deployable, and nothing is appended
    when the same version is already deployed. Then, unless --detach, the
    deploy follows the log until stack.ready (exit 0), stack.failed (exit
    1, with the reason) or the timeout (exit 2, naming each service that is
    not ready and the last event seen for it).                              */
#include "ab_spec.h"
#include "cli_manifest.h"
#include "cli_stack.h"
#include "cli_wait.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char s_usage[]
    = "Usage: abbey deploy FILE|DIR|NAME... [--name STACK] [--set S.VAR=VALUE]...\n"
      "                    [--values FILE] [-f COMPOSEFILE] [--profile P]...\n"
      "                    [--detach | --wait] [--timeout DURATION]\n"
      "\n"
      "Compile a stack, append stack.deployed and wait until it is ready.\n" CLI_MANIFEST_HELP
      "  --wait             follow the log until stack.ready (exit 0), stack.failed\n"
      "                     (exit 1) or the timeout (exit 2) (the default)\n"
      "  --detach           return once the deploy is in the log\n"
      "  --timeout D        how long --wait waits (default 5m; 30s, 1m30s...)\n"
      "Deploying the version already deployed appends nothing (\"unchanged\").\n";

int
cmd_deploy (cli_t *cli, int argc, char **argv)
{
    if (cli_wants_help (argc, argv)) {
        fputs (s_usage, stdout);
        return CLI_OK;
    }
    static const struct option opts[] = { CLI_MANIFEST_OPTIONS,
                                          { "wait", no_argument, NULL, 'w' },
                                          { "detach", no_argument, NULL, 'd' },
                                          { "timeout", required_argument, NULL, 't' },
                                          { NULL, 0, NULL, 0 } };
    cli_manifest_t manifest = { .ninputs = 0 };
    bool wait = false, detach = false;
    int64_t timeout_ms = 5 * 60 * 1000;
    ab_auto_error ab_error_t *err = NULL;
    cli_getopt_reset ();
    int c;
    //  "-" first: positionals come back in order as 1, mixed with options.
    while ((c = getopt_long (argc, argv, "-:f:", opts, NULL)) != -1) {
        if (c == 1) {
            if (cli_manifest_arg (&manifest, optarg, &err) < 0)
                return cli_usage (cli, "%s", ab_error_msg (err));
        } else if (c == 'w')
            wait = true;
        else if (c == 'd')
            detach = true;
        else if (c == 't') {
            if (cli_parse_duration ("--timeout", optarg, &timeout_ms, &err) < 0)
                return cli_usage (cli, "%s", ab_error_msg (err));
        } else {
            int taken = cli_manifest_option (&manifest, c, optarg, &err);
            if (taken < 0)
                return cli_usage (cli, "%s", ab_error_msg (err));
            if (!taken)
                return cli_bad_option (cli, c, argv);
        }
    }
    if (wait && detach)
        return cli_usage (cli, "--wait and --detach exclude each other");
    if (!manifest.ninputs && !manifest.compose && !manifest.target)
        return cli_usage (cli, "nothing to deploy: give FILE, DIR, -f COMPOSEFILE or NAME");

    //  The graph first: published kits and the deployed version come from it.
    cli_replay_t *replay = cli_replay_new (cli);
    ab_diag_t *diag = ab_diag_new ();
    json_t *spec = NULL;
    int rc = CLI_OK;
    if (cli_replay_load (replay, 0, 0, &err) < 0) {
        rc = cli_fail_err (cli, err);
        goto done;
    }
    spec = cli_manifest_compile (&manifest, replay, diag, &err);
    size_t errors = cli_diag_print (diag);
    if (!spec && err) {
        rc = cli_fail_err (cli, err);
        goto done;
    }
    if (!spec) {
        rc = cli_fail (cli, "invalid: %zu error%s in the manifest; nothing was deployed", errors,
                       errors == 1 ? "" : "s");
        goto done;
    }
    if (ab_spec_deployable (spec, &err) < 0) {
        ab_error_wrap (&err, "nothing was deployed");
        rc = cli_fail_err (cli, err);
        goto done;
    }
    const char *name = json_string_value (json_object_get (spec, "stack"));
    const char *version = json_string_value (json_object_get (spec, "version"));
    char path[AB_SUBJ_MAX + 1];
    snprintf (path, sizeof path, "stack/%s", name);
    ab_graph_t *graph = cli_replay_graph (replay);
    const char *state = ab_graph_state (graph, path);
    json_t *deployed = cli_replay_stack_spec (replay, name);
    const char *deployed_version = json_string_value (json_object_get (deployed, "version"));
    bool unchanged = state && strcmp (state, "removed") && deployed_version
                     && !strcmp (deployed_version, version);
    json_decref (deployed);
    uint64_t since = 0;
    if (unchanged) {
        cli_replay_deployed (replay, name, &since, NULL);
        printf ("stack %s unchanged: version %.12s is deployed (seq %" PRIu64 ", %s)\n", name,
                version, since, state);
        fflush (stdout);
        if (detach || !strcmp (state, "ready"))
            goto done;
        if (!strcmp (state, "failed")) {
            const char *reason = ab_graph_reason (graph, path);
            rc = cli_fail (cli,
                           "failed: stack %s: %s (change the manifest, or 'abbey rm %s' "
                           "and deploy again)",
                           name, reason ? reason : "no reason given", name);
            goto done;
        }
    } else {
        //  docs/events.md: data {spec, version}.
        json_t *data = json_pack ("{s:O,s:s}", "spec", spec, "version", version);
        size_t size = 0;
        uint8_t *mp = ab_json_to_msgpack (data, &size, &err);
        json_decref (data);
        ab_event_t *event = ab_event_new ("stack.deployed", path);
        ab_logclient_t *client = cli_logclient (cli, &err);
        if (!mp || !client || ab_event_set_data (event, mp, size, &err) < 0
            || ab_logclient_append (client, &event, 1, &since, 5000, &err) < 0) {
            free (mp);
            ab_event_destroy (&event);
            rc = cli_fail_err (cli, err);
            goto done;
        }
        free (mp);
        ab_event_destroy (&event);
        printf ("stack %s deployed: version %.12s, %zu service%s (seq %" PRIu64 ")\n", name,
                version, json_object_size (json_object_get (spec, "services")),
                json_object_size (json_object_get (spec, "services")) == 1 ? "" : "s", since);
        fflush (stdout);
        if (detach)
            goto done;
    }
    rc = cli_wait_stack (cli, replay, name, spec, since, timeout_ms, CLI_WAIT_READY);
done:
    json_decref (spec);
    ab_diag_destroy (&diag);
    cli_replay_destroy (&replay);
    return rc;
}
