/*  abbey validate - check manifests and print every mistake at once
    Kit files are loaded together (they may inherit from each other; what
    they do not define is looked up among published kits, if a cluster is
    reachable) and every stack they define is compiled, every definition
    checked; each docker-compose file is compiled on its own with all its
    profiles active. Errors and warnings print as file:line:col lines.
    Appends nothing.                                                        */
#include "ab_kit.h"
#include "ab_spec.h"
#include "cli_manifest.h"

#include <stdio.h>
#include <string.h>

static const char s_usage[]
    = "Usage: abbey validate FILE|DIR...\n"
      "\n"
      "Check kit files (*.kit.yaml, or any kit YAML) and docker-compose files\n"
      "(detected by a top-level services: map) and print every error and\n"
      "warning as file:line:col, and what a deploy would still refuse (a\n"
      "service that needs build: before abbey has a builder). Exit 1 if there\n"
      "is any error.\n";

//  Kits: every stack compiled, every definition checked. Returns the
//  number of stacks that compiled.
static size_t
s_validate_kits (cli_replay_t *replay, const cli_doc_t *docs, size_t n, ab_diag_t *diag)
{
    ab_kit_t *kit = ab_kit_new ();
    ab_kit_set_lookup (kit, cli_replay_kit_lookup, replay);
    for (size_t i = 0; i < n; i++)
        if (!docs[i].compose)
            ab_kit_load (kit, docs[i].path, docs[i].text, docs[i].size, diag);
    size_t stacks = 0, compiled = 0;
    for (size_t i = 0; i < ab_kit_size (kit); i++) {
        const char *name = ab_kit_name (kit, i);
        const char *defines = ab_kit_defines (kit, name, diag);
        //  Publishing checks a definition's keys after inheritance, alone.
        json_t *body = defines ? ab_kit_publish (kit, name, diag) : NULL;
        json_decref (body);
        if (defines && !strcmp (defines, "stack")) {
            stacks++;
            json_t *spec = ab_kit_compile (kit, name, NULL, diag);
            compiled += spec != NULL;
            json_decref (spec);
        }
    }
    //  Without a stack, a deploy makes one of every service: check that.
    if (stacks == 0 && ab_kit_size (kit) > 0) {
        json_t *spec = ab_kit_compile (kit, NULL, NULL, diag);
        compiled += spec != NULL;
        json_decref (spec);
    }
    ab_kit_destroy (&kit);
    return compiled;
}

int
cmd_validate (cli_t *cli, int argc, char **argv)
{
    const cli_opt_t opts[] = { { NULL, NULL, NULL } };
    char **pos;
    int prc;
    int npos = cli_parse (cli, argc, argv, s_usage, opts, &pos, &prc);
    if (npos < 0)
        return prc;
    if (npos == 0)
        return cli_usage (cli, "expected FILE or DIR to validate");
    ab_diag_t *diag = ab_diag_new ();
    cli_replay_t *replay = cli_replay_new (cli);
    cli_doc_t *docs = NULL;
    ssize_t n = cli_docs_read ((const char *const *)pos, (size_t)npos, &docs, diag);
    size_t nkits = 0;
    for (ssize_t i = 0; i < n; i++) {
        if (!docs[i].compose) {
            nkits++;
            continue;
        }
        static const char *const all[] = { "*", NULL };
        json_t *spec = cli_manifest_compose (&docs[i], NULL, all, diag);
        //  Valid is not enough if deploy would still refuse it (build:).
        ab_error_t *why = NULL;
        if (spec && ab_spec_deployable (spec, &why) < 0) {
            ab_diag_error_at (diag, docs[i].path, "%s", ab_error_msg (why));
            ab_error_destroy (&why);
            json_decref (spec);
            spec = NULL;
        }
        if (spec)
            printf ("%s: docker-compose, stack %s, %zu services\n", docs[i].path,
                    json_string_value (json_object_get (spec, "stack")),
                    json_object_size (json_object_get (spec, "services")));
        json_decref (spec);
    }
    if (nkits) {
        size_t before = ab_diag_errors (diag);
        size_t stacks = s_validate_kits (replay, docs, (size_t)n, diag);
        if (ab_diag_errors (diag) == before)
            printf ("%zu kit file%s: %zu stack%s compiled\n", nkits, nkits == 1 ? "" : "s", stacks,
                    stacks == 1 ? "" : "s");
    }
    cli_docs_free (&docs, n > 0 ? (size_t)n : 0);
    size_t errors = cli_diag_print (diag);
    int rc = CLI_OK;
    if (ab_diag_errors (diag))
        rc = cli_fail (cli, "invalid: %zu error%s, %zu warning%s", errors, errors == 1 ? "" : "s",
                       ab_diag_warnings (diag), ab_diag_warnings (diag) == 1 ? "" : "s");
    else
        printf ("ok: no errors, %zu warning%s\n", ab_diag_warnings (diag),
                ab_diag_warnings (diag) == 1 ? "" : "s");
    cli_replay_destroy (&replay);
    ab_diag_destroy (&diag);
    return rc;
}
