/*  abbey diff - what a deploy would change, like a plan
    Compiles exactly as `abbey deploy` does and compares the result field by
    field (ab_spec_diff) with the spec of the stack as deployed; a stack
    that is not deployed (or was removed) shows every service as added.
    Appends nothing.                                                        */
#include "ab_spec.h"
#include "cli_manifest.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLI_DIFF_CHANGES 3 //  --exit-code: the deploy would change something

static const char s_usage[]
    = "Usage: abbey diff FILE|DIR|NAME... [--name STACK] [--set S.VAR=VALUE]...\n"
      "                  [--values FILE] [-f COMPOSEFILE] [--profile P]... [--json]\n"
      "                  [--exit-code]\n"
      "\n"
      "Show what deploying these manifests would change in the deployed stack:\n"
      "services added (+), removed (-) and changed (~), field by field.\n" CLI_MANIFEST_HELP
      "  --json             {stack, from, to, added, removed, changed, stack_fields}\n"
      "  --exit-code        exit 3 when a deploy would change something, 0 when\n"
      "                     not (1 and 2 keep meaning failure and usage), for scripts\n"
      "Prints \"no changes\" when the deployed version is the same.\n";

int
cmd_diff (cli_t *cli, int argc, char **argv)
{
    if (cli_wants_help (argc, argv)) {
        fputs (s_usage, stdout);
        return CLI_OK;
    }
    static const struct option opts[] = { CLI_MANIFEST_OPTIONS,
                                          { "json", no_argument, NULL, 'j' },
                                          { "exit-code", no_argument, NULL, 'x' },
                                          { NULL, 0, NULL, 0 } };
    cli_manifest_t manifest = { .ninputs = 0 };
    bool json = false, exit_code = false;
    ab_auto_error ab_error_t *err = NULL;
    cli_getopt_reset ();
    int c;
    while ((c = getopt_long (argc, argv, "-:f:", opts, NULL)) != -1) {
        if (c == 1) {
            if (cli_manifest_arg (&manifest, optarg, &err) < 0)
                return cli_usage (cli, "%s", ab_error_msg (err));
        } else if (c == 'j')
            json = true;
        else if (c == 'x')
            exit_code = true;
        else {
            int taken = cli_manifest_option (&manifest, c, optarg, &err);
            if (taken < 0)
                return cli_usage (cli, "%s", ab_error_msg (err));
            if (!taken)
                return cli_bad_option (cli, c, argv);
        }
    }
    if (!manifest.ninputs && !manifest.compose && !manifest.target)
        return cli_usage (cli, "nothing to compare: give FILE, DIR, -f COMPOSEFILE or NAME");

    cli_replay_t *replay = cli_replay_new (cli);
    ab_diag_t *diag = ab_diag_new ();
    json_t *spec = NULL, *deployed = NULL, *diff = NULL;
    int rc = CLI_OK;
    if (cli_replay_load (replay, 0, 0, &err) < 0) {
        rc = cli_fail_err (cli, err);
        goto done;
    }
    spec = cli_manifest_compile (&manifest, replay, diag, &err);
    size_t errors = cli_diag_print (diag);
    if (!spec) {
        rc = err ? cli_fail_err (cli, err)
                 : cli_fail (cli, "invalid: %zu error%s in the manifest", errors,
                             errors == 1 ? "" : "s");
        goto done;
    }
    const char *name = json_string_value (json_object_get (spec, "stack"));
    char path[AB_SUBJ_MAX + 1];
    snprintf (path, sizeof path, "stack/%s", name);
    const char *state = ab_graph_state (cli_replay_graph (replay), path);
    //  A removed stack keeps its last spec for history; a deploy starts anew.
    if (state && strcmp (state, "removed"))
        deployed = cli_replay_stack_spec (replay, name);
    diff = ab_spec_diff (deployed, spec);
    const char *from = json_string_value (json_object_get (deployed, "version"));
    const char *to = json_string_value (json_object_get (spec, "version"));
    if (json) {
        json_t *out = json_pack ("{s:s,s:s?,s:s,s:O,s:O,s:O,s:O}", "stack", name, "from", from,
                                 "to", to, "added", json_object_get (diff, "added"), "removed",
                                 json_object_get (diff, "removed"), "changed",
                                 json_object_get (diff, "changed"), "stack_fields",
                                 json_object_get (diff, "stack"));
        json_dumpf (out, stdout, JSON_INDENT (2) | JSON_SORT_KEYS);
        fputc ('\n', stdout);
        json_decref (out);
    } else if (ab_spec_diff_empty (diff))
        printf ("stack %s: no changes (version %.12s is deployed)\n", name, to);
    else {
        char *text = ab_spec_diff_text (diff);
        if (from)
            printf ("stack %s: version %.12s (deployed) -> %.12s\n", name, from, to);
        else
            printf ("stack %s: not deployed -> version %.12s\n", name, to);
        fputs (text ? text : "", stdout);
        if (text && *text && text[strlen (text) - 1] != '\n')
            fputc ('\n', stdout);
        free (text);
    }
    if (exit_code && !ab_spec_diff_empty (diff))
        rc = CLI_DIFF_CHANGES;
done:
    json_decref (diff);
    json_decref (deployed);
    json_decref (spec);
    ab_diag_destroy (&diag);
    cli_replay_destroy (&replay);
    return rc;
}
