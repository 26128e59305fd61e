/*  abbey kit - publish kits to the log and read them back: load, ls, show
    `kit load` publishes each definition of the files it loads as
    kit.published {name, version, digest, document} (ab_kit_publish). A
    published name+version never changes: every definition is checked
    against the graph first, and if any would change a published version
    nothing at all is appended; the rest go in one batch, so a load is all
    or nothing. Re-publishing the same content is "unchanged".            */
#include "ab_kit.h"
#include "cli_manifest.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char s_usage[] = "Usage: abbey kit COMMAND [ARGS...]\n"
                              "\n"
                              "Kits published in the log (docs/manifest.md, section 8).\n";

static const char s_load_usage[]
    = "Usage: abbey kit load FILE|DIR...\n"
      "\n"
      "Publish every definition of the kit files (a DIR: its *.kit.yaml) as\n"
      "kit.published {name, version, digest, document}. A version already\n"
      "published with the same content is skipped (\"unchanged\"); one published\n"
      "with other content is refused, and then nothing of the load is appended.\n";

static const char s_ls_usage[]
    = "Usage: abbey kit ls [--json]\n"
      "\n"
      "List published kits: NAME VERSION DIGEST DEFINES VERSIONS SEQ.\n"
      "  --json  [{name, version, digest, defines, seq, versions: [{version, digest, seq}]}]\n";

static const char s_show_usage[]
    = "Usage: abbey kit show NAME [--version V] [--json]\n"
      "\n"
      "Print a published kit's document (its latest version unless --version).\n"
      "  NAME         namespace/name, e.g. shop/db\n"
      "  --json       {name, version, digest, seq, ts, versions, document}\n";

static int
s_load (cli_t *cli, int argc, char **argv)
{
    const cli_opt_t opts[] = { { NULL, NULL, NULL } };
    char **pos;
    int prc;
    int npos = cli_parse (cli, argc, argv, s_load_usage, opts, &pos, &prc);
    if (npos < 0)
        return prc;
    if (npos == 0)
        return cli_usage (cli, "expected FILE or DIR to load");

    ab_auto_error ab_error_t *err = NULL;
    cli_replay_t *replay = cli_replay_new (cli);
    ab_diag_t *diag = ab_diag_new ();
    ab_kit_t *kit = ab_kit_new ();
    cli_doc_t *docs = NULL;
    json_t *bodies = json_array ();
    ab_event_t **events = NULL;
    size_t nevents = 0;
    int rc = CLI_OK;
    ssize_t n = cli_docs_read ((const char *const *)pos, (size_t)npos, &docs, diag);
    if (cli_replay_load (replay, 0, 0, &err) < 0) {
        rc = cli_fail_err (cli, err);
        goto done;
    }
    ab_kit_set_lookup (kit, cli_replay_kit_lookup, replay);
    for (ssize_t i = 0; i < n; i++) {
        if (docs[i].compose)
            ab_diag_error_at (diag, docs[i].path,
                              "is a docker-compose file; kit load publishes kits");
        else
            ab_kit_load (kit, docs[i].path, docs[i].text, docs[i].size, diag);
    }
    for (size_t i = 0; ab_diag_errors (diag) == 0 && i < ab_kit_size (kit); i++) {
        json_t *body = ab_kit_publish (kit, ab_kit_name (kit, i), diag);
        if (body)
            json_array_append_new (bodies, body);
    }
    size_t errors = cli_diag_print (diag);
    if (ab_diag_errors (diag)) {
        rc = cli_fail (cli, "invalid: %zu error%s in the kits; nothing was published", errors,
                       errors == 1 ? "" : "s");
        goto done;
    }
    //  Check all first: a load is all or nothing.
    ab_graph_t *graph = cli_replay_graph (replay);
    size_t conflicts = 0;
    size_t i;
    json_t *body;
    json_array_foreach (bodies, i, body)
    {
        const char *name = json_string_value (json_object_get (body, "name"));
        const char *version = json_string_value (json_object_get (body, "version"));
        const char *digest = json_string_value (json_object_get (body, "digest"));
        char path[AB_SUBJ_MAX + 1];
        snprintf (path, sizeof path, "kit/%s", name);
        json_object_set_new (body, "_state", json_string ("new"));
        for (size_t v = 0; v < ab_graph_kit_versions (graph, path); v++) {
            ab_graph_kitver_t kv;
            ab_graph_kit_version (graph, path, v, &kv);
            if (strcmp (kv.version, version))
                continue;
            if (!strcmp (kv.digest, digest))
                json_object_set_new (body, "_state", json_string ("unchanged"));
            else {
                cli_fail (cli,
                          "exists: kit %s version %s was published at seq %" PRIu64
                          " with digest %.12s; this content has digest %.12s. A published "
                          "version never changes: give the definition a new version:",
                          name, version, kv.seq, kv.digest, digest);
                conflicts++;
            }
        }
    }
    if (conflicts) {
        rc = cli_fail (cli, "exists: %zu conflicting version%s; nothing was published", conflicts,
                       conflicts == 1 ? "" : "s");
        goto done;
    }
    events = calloc (json_array_size (bodies) + 1, sizeof *events);
    json_array_foreach (bodies, i, body)
    {
        if (strcmp (json_string_value (json_object_get (body, "_state")), "new"))
            continue;
        json_object_del (body, "_state");
        char path[AB_SUBJ_MAX + 1];
        snprintf (path, sizeof path, "kit/%s", json_string_value (json_object_get (body, "name")));
        size_t size = 0;
        uint8_t *mp = ab_json_to_msgpack (body, &size, &err);
        ab_event_t *event = ab_event_new ("kit.published", path);
        if (!mp || ab_event_set_data (event, mp, size, &err) < 0) {
            free (mp);
            ab_event_destroy (&event);
            rc = cli_fail_err (cli, err);
            goto done;
        }
        free (mp);
        json_object_set_new (body, "_state", json_string ("new"));
        events[nevents++] = event;
    }
    uint64_t *seqs = calloc (nevents + 1, sizeof *seqs);
    ab_logclient_t *client = nevents ? cli_logclient (cli, &err) : NULL;
    if (nevents
        && (!client || ab_logclient_append (client, events, nevents, seqs, 10000, &err) < 0)) {
        free (seqs);
        rc = cli_fail_err (cli, err);
        goto done;
    }
    size_t k = 0;
    json_array_foreach (bodies, i, body)
    {
        bool fresh = !strcmp (json_string_value (json_object_get (body, "_state")), "new");
        printf ("kit %s %s: %s", json_string_value (json_object_get (body, "name")),
                json_string_value (json_object_get (body, "version")),
                fresh ? "published" : "unchanged");
        if (fresh)
            printf (" (seq %" PRIu64 ")", seqs[k++]);
        printf ("\n");
    }
    free (seqs);
done:
    for (size_t e = 0; e < nevents; e++)
        ab_event_destroy (&events[e]);
    free (events);
    json_decref (bodies);
    cli_docs_free (&docs, n > 0 ? (size_t)n : 0);
    ab_kit_destroy (&kit);
    ab_diag_destroy (&diag);
    cli_replay_destroy (&replay);
    return rc;
}

//  The JSON of one published version, with the document decoded.
static json_t *
s_kit_json (cli_replay_t *replay, const char *path, size_t index, bool document)
{
    ab_graph_t *graph = cli_replay_graph (replay);
    ab_graph_kitver_t kv;
    if (ab_graph_kit_version (graph, path, index, &kv) < 0)
        return NULL;
    json_t *doc = kv.document ? ab_msgpack_to_json (kv.document, kv.document_size, NULL) : NULL;
    const char *defines = json_string_value (json_object_get (doc, "defines"));
    json_t *obj = json_pack ("{s:s,s:s,s:s,s:s?,s:I,s:I}", "name", path + 4, "version", kv.version,
                             "digest", kv.digest, "defines", defines, "seq", (json_int_t)kv.seq,
                             "ts", (json_int_t)cli_replay_published_ts (replay, kv.seq));
    if (document)
        json_object_set (obj, "document", doc ? doc : json_null ());
    json_decref (doc);
    return obj;
}

static json_t *
s_versions (cli_replay_t *replay, const char *path)
{
    json_t *list = json_array ();
    size_t n = ab_graph_kit_versions (cli_replay_graph (replay), path);
    for (size_t v = 0; v < n; v++) {
        json_t *one = s_kit_json (replay, path, v, false);
        json_object_del (one, "name");
        json_object_del (one, "defines");
        json_array_append_new (list, one);
    }
    return list;
}

typedef struct {
    cli_replay_t *replay;
    json_t *rows;
} s_ls_t;

static int
s_kit_fn (const char *path, void *arg)
{
    s_ls_t *ls = (s_ls_t *)arg;
    size_t n = ab_graph_kit_versions (cli_replay_graph (ls->replay), path);
    json_t *row = s_kit_json (ls->replay, path, n - 1, false);
    if (row) {
        json_object_set_new (row, "versions", s_versions (ls->replay, path));
        json_array_append_new (ls->rows, row);
    }
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
    s_ls_t ls = { cli_replay_new (cli), json_array () };
    rc = CLI_OK;
    if (cli_replay_load (ls.replay, 0, 0, &err) < 0)
        rc = cli_fail_err (cli, err);
    else {
        ab_graph_each (cli_replay_graph (ls.replay), AB_GRAPH_KIT, NULL, s_kit_fn, &ls);
        if (json) {
            json_dumpf (ls.rows, stdout, JSON_INDENT (2) | JSON_SORT_KEYS);
            fputc ('\n', stdout);
        } else if (json_array_size (ls.rows) == 0)
            printf ("no kits published (publish with 'abbey kit load')\n");
        else {
            printf ("%-24s %-16s %-12s %-8s %8s %6s\n", "NAME", "VERSION", "DIGEST", "DEFINES",
                    "VERSIONS", "SEQ");
            size_t i;
            json_t *row;
            json_array_foreach (ls.rows, i, row)
            {
                const char *defines = json_string_value (json_object_get (row, "defines"));
                printf ("%-24s %-16s %-12.12s %-8s %8zu %6" JSON_INTEGER_FORMAT "\n",
                        json_string_value (json_object_get (row, "name")),
                        json_string_value (json_object_get (row, "version")),
                        json_string_value (json_object_get (row, "digest")),
                        defines ? defines : "-",
                        json_array_size (json_object_get (row, "versions")),
                        json_integer_value (json_object_get (row, "seq")));
            }
        }
    }
    json_decref (ls.rows);
    cli_replay_destroy (&ls.replay);
    return rc;
}

static int
s_show (cli_t *cli, int argc, char **argv)
{
    bool json = false;
    const char *version = NULL;
    const cli_opt_t opts[]
        = { { "version", &version, NULL }, { "json", NULL, &json }, { NULL, NULL, NULL } };
    char **pos;
    int prc;
    int npos = cli_parse (cli, argc, argv, s_show_usage, opts, &pos, &prc);
    if (npos < 0)
        return prc;
    if (npos != 1)
        return cli_usage (cli, "expected one NAME (namespace/name), got %d arguments", npos);
    const char *name = pos[0];
    ab_auto_error ab_error_t *err = NULL;
    cli_replay_t *replay = cli_replay_new (cli);
    int rc = CLI_OK;
    json_t *obj = NULL;
    char path[AB_SUBJ_MAX + 1];
    snprintf (path, sizeof path, "kit/%s", name);
    if (cli_replay_load (replay, 0, 0, &err) < 0) {
        rc = cli_fail_err (cli, err);
        goto done;
    }
    ab_graph_t *graph = cli_replay_graph (replay);
    size_t n = ab_graph_kit_versions (graph, path);
    size_t index = n;
    for (size_t v = 0; version && v < n; v++) {
        ab_graph_kitver_t kv;
        if (ab_graph_kit_version (graph, path, v, &kv) == 0 && !strcmp (kv.version, version))
            index = v;
    }
    if (!version && n)
        index = n - 1;
    if (n == 0) {
        rc = cli_fail (cli, "not-found: no kit \"%s\" is published (see 'abbey kit ls')", name);
        goto done;
    }
    if (index == n) {
        rc = cli_fail (cli, "not-found: kit \"%s\" has no version \"%s\" (see 'abbey kit ls')",
                       name, version);
        goto done;
    }
    obj = s_kit_json (replay, path, index, true);
    json_object_set_new (obj, "versions", s_versions (replay, path));
    if (json)
        json_dumpf (obj, stdout, JSON_INDENT (2) | JSON_SORT_KEYS);
    else {
        char when[40];
        json_t *versions = json_object_get (obj, "versions");
        printf ("kit:       %s\n", name);
        printf ("version:   %s%s\n", json_string_value (json_object_get (obj, "version")),
                index == n - 1 ? " (latest)" : "");
        printf ("digest:    %s\n", json_string_value (json_object_get (obj, "digest")));
        printf ("published: seq %" JSON_INTEGER_FORMAT " at %s\n",
                json_integer_value (json_object_get (obj, "seq")),
                cli_format_time ((uint64_t)json_integer_value (json_object_get (obj, "ts")), when,
                                 sizeof when));
        printf ("versions: ");
        size_t i;
        json_t *one;
        json_array_foreach (versions, i, one)
            printf (" %s", json_string_value (json_object_get (one, "version")));
        printf ("\ndocument:\n");
        json_dumpf (json_object_get (obj, "document"), stdout,
                    JSON_INDENT (2) | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    }
    fputc ('\n', stdout);
done:
    json_decref (obj);
    cli_replay_destroy (&replay);
    return rc;
}

static const cli_cmd_t s_commands[] = { { "load", s_load, "publish the definitions of kit files" },
                                        { "ls", s_ls, "list published kits" },
                                        { "show", s_show, "print a published kit" },
                                        { NULL, NULL, NULL } };

int
cmd_kit (cli_t *cli, int argc, char **argv)
{
    return cli_dispatch (cli, s_commands, s_usage, argc, argv);
}
