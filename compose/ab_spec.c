/*  ab_spec - the normalized desired state of a stack                      */
//  Why: selftests assert behaviour, and the default build type defines NDEBUG.
#undef NDEBUG
#include "ab_spec.h"

#include <assert.h>
#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool
ab_spec_name_ok (const char *name)
{
    if (!name || !isalnum ((unsigned char)name[0]))
        return false;
    size_t n = 0;
    for (const char *p = name; *p; p++, n++)
        if (!(isalnum ((unsigned char)*p) || *p == '_' || *p == '.' || *p == '-'))
            return false;
    return n <= AB_SPEC_NAME_MAX;
}

char *
ab_spec_canonical (const json_t *value)
{
    assert (value);
    return json_dumps (value, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY);
}

int
ab_spec_digest (const json_t *value, char hex[65])
{
    assert (value);
    json_t *copy = json_copy ((json_t *)value);
    if (!copy)
        return -1;
    if (json_is_object (copy))
        json_object_del (copy, "version");
    char *text = ab_spec_canonical (copy);
    json_decref (copy);
    if (!text)
        return -1;
    unsigned char hash[crypto_generichash_BYTES];
    crypto_generichash (hash, sizeof hash, (const unsigned char *)text, strlen (text), NULL, 0);
    free (text);
    sodium_bin2hex (hex, 65, hash, sizeof hash);
    return 0;
}

int
ab_spec_seal (json_t *spec)
{
    assert (spec);
    char hex[65];
    if (ab_spec_digest (spec, hex))
        return -1;
    return json_object_set_new (spec, "version", json_string (hex));
}

bool
ab_spec_verify (const json_t *spec)
{
    assert (spec);
    char hex[65];
    const char *version = json_string_value (json_object_get (spec, "version"));
    return version && ab_spec_digest (spec, hex) == 0 && strcmp (hex, version) == 0;
}

static int
s_strcmp (const void *a, const void *b)
{
    return strcmp (*(const char *const *)a, *(const char *const *)b);
}

//  Keys of an object in byte order: jansson iterates in insertion order,
//  and error order must not depend on how the input was written.
static const char **
s_sorted_keys (const json_t *obj, size_t *count)
{
    size_t n = json_object_size (obj);
    const char **keys = calloc (n + 1, sizeof *keys);
    if (!keys) {
        *count = 0;
        return NULL;
    }
    size_t i = 0;
    const char *key;
    json_t *value;
    json_object_foreach ((json_t *)obj, key, value) keys[i++] = key;
    qsort (keys, i, sizeof *keys, s_strcmp);
    *count = i;
    return keys;
}

static const char *
s_mark (const json_t *marks, const char *service, const char *what, const char *key, size_t index)
{
    const json_t *m = json_object_get (json_object_get (marks, service), what);
    if (json_is_array (m))
        m = json_array_get (m, index);
    else if (key)
        m = json_object_get (m, key);
    if (!json_is_string (m))
        m = json_object_get (json_object_get (marks, service), "at");
    return json_string_value (m);
}

//  Depth-first search for a depends cycle from `name`. state: 0 new,
//  1 on the current path, 2 done. path holds the current chain.
static int
s_cycle_dfs (const json_t *services, const char *name, json_t *state, const char **path,
             size_t depth, const json_t *marks, ab_diag_t *diag)
{
    json_object_set_new (state, name, json_integer (1));
    path[depth] = name;
    const json_t *depends = json_object_get (json_object_get (services, name), "depends");
    size_t n;
    ab_auto_free const char **deps = s_sorted_keys (depends, &n);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (!json_object_get (services, deps[i]))
            continue; //  reported as unknown elsewhere
        json_int_t st = json_integer_value (json_object_get (state, deps[i]));
        if (st == 1) {
            //  Why the whole chain in the message: a user fixes a cycle by
            //  seeing every edge of it, not just the one that closed it.
            size_t start = 0;
            while (strcmp (path[start], deps[i]) != 0)
                start++;
            char chain[2048] = "";
            for (size_t k = start; k <= depth; k++) {
                strncat (chain, path[k], sizeof chain - strlen (chain) - 1);
                strncat (chain, " -> ", sizeof chain - strlen (chain) - 1);
            }
            strncat (chain, deps[i], sizeof chain - strlen (chain) - 1);
            ab_diag_error_at (diag, s_mark (marks, name, "depends", deps[i], 0),
                              "service \"%s\": depends cycle: %s", name, chain);
            rc = -1;
        } else if (st == 0)
            rc = s_cycle_dfs (services, deps[i], state, path, depth + 1, marks, diag);
    }
    json_object_set_new (state, name, json_integer (2));
    return rc;
}

int
ab_spec_check (const json_t *spec, const json_t *marks, ab_diag_t *diag)
{
    assert (spec && diag);
    size_t before = ab_diag_errors (diag);
    const json_t *services = json_object_get (spec, "services");
    size_t n;
    ab_auto_free const char **names = s_sorted_keys (services, &n);
    if (n > AB_SPEC_MAX_SERVICES)
        return ab_diag_error_at (diag, NULL, "stack \"%s\" has %zu services; the limit is %d",
                                 json_string_value (json_object_get (spec, "stack")), n,
                                 AB_SPEC_MAX_SERVICES);
    json_t *host_ports = json_object ();
    for (size_t i = 0; i < n; i++) {
        const char *name = names[i];
        const json_t *svc = json_object_get (services, name);
        const char *key;
        json_t *value;
        json_object_foreach ((json_t *)json_object_get (svc, "depends"), key,
                             value) if (!json_object_get (services, key))
            ab_diag_error_at (
                diag, s_mark (marks, name, "depends", key, 0),
                "service \"%s\": depends on \"%s\", which is not a service of this stack", name,
                key);
        json_object_foreach ((json_t *)json_object_get (svc, "connections"), key, value)
        {
            const char *target = json_string_value (json_object_get (value, "target"));
            if (!target || !json_object_get (services, target))
                ab_diag_error_at (diag, s_mark (marks, name, "connections", key, 0),
                                  "connection \"%s\": unknown target \"%s\": no service of that "
                                  "name in stack \"%s\"",
                                  key, target ? target : "",
                                  json_string_value (json_object_get (spec, "stack")));
        }
        size_t index;
        json_array_foreach ((json_t *)json_object_get (svc, "ports"), index, value)
        {
            json_int_t host = json_integer_value (json_object_get (value, "host"));
            if (!host)
                continue;
            char port[64];
            snprintf (port, sizeof port, "%lld/%s", (long long)host,
                      json_string_value (json_object_get (value, "protocol")));
            const char *owner = json_string_value (json_object_get (host_ports, port));
            if (owner)
                ab_diag_error_at (diag, s_mark (marks, name, "ports", NULL, index),
                                  "service \"%s\": host port %s is already published by service "
                                  "\"%s\" in this stack",
                                  name, port, owner);
            else
                json_object_set_new (host_ports, port, json_string (name));
        }
    }
    json_decref (host_ports);

    json_t *state = json_object ();
    ab_auto_free const char **path = calloc (n + 1, sizeof *path);
    for (size_t i = 0; path && i < n; i++)
        if (json_integer_value (json_object_get (state, names[i])) == 0)
            s_cycle_dfs (services, names[i], state, path, 0, marks, diag);
    json_decref (state);
    return ab_diag_errors (diag) > before ? -1 : 0;
}

int
ab_spec_deployable (const json_t *spec, ab_error_t **err)
{
    assert (spec);
    size_t n;
    ab_auto_free const char **names = s_sorted_keys (json_object_get (spec, "services"), &n);
    for (size_t i = 0; i < n; i++) {
        const json_t *svc = json_object_get (json_object_get (spec, "services"), names[i]);
        if (json_object_get (svc, "build"))
            return ab_error_set (err, AB_E_INVALID,
                                 "service \"%s\": build: is recorded, but abbey's builder does not "
                                 "exist yet; build and push the image yourself and set image:",
                                 names[i]);
        if (!json_is_string (json_object_get (svc, "image")))
            return ab_error_set (err, AB_E_INVALID, "service \"%s\" has no image", names[i]);
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  Diff

static void
s_change (json_t *list, const char *field, const json_t *from, const json_t *to)
{
    json_t *row = json_object ();
    json_object_set_new (row, "field", json_string (field));
    json_object_set (row, "from", from ? (json_t *)from : json_null ());
    json_object_set (row, "to", to ? (json_t *)to : json_null ());
    json_array_append_new (list, row);
}

//  Recurse through objects; anything else that differs is one change.
static void
s_diff_value (json_t *list, const char *prefix, const json_t *a, const json_t *b)
{
    if (a && b && json_equal ((json_t *)a, (json_t *)b))
        return;
    if (!json_is_object (a) || !json_is_object (b)) {
        s_change (list, prefix, a, b);
        return;
    }
    json_t *both = json_object ();
    json_object_update (both, (json_t *)a);
    json_object_update (both, (json_t *)b);
    size_t n;
    ab_auto_free const char **keys = s_sorted_keys (both, &n);
    for (size_t i = 0; i < n; i++) {
        char field[512];
        snprintf (field, sizeof field, "%s%s%s", prefix, *prefix ? "." : "", keys[i]);
        s_diff_value (list, field, json_object_get (a, keys[i]), json_object_get (b, keys[i]));
    }
    json_decref (both);
}

json_t *
ab_spec_diff (const json_t *old_spec, const json_t *new_spec)
{
    assert (new_spec);
    json_t *diff = json_object ();
    json_t *added = json_array (), *removed = json_array (), *changed = json_object (),
           *stack = json_array ();
    const json_t *olds = json_object_get (old_spec, "services");
    const json_t *news = json_object_get (new_spec, "services");
    json_t *all = json_object ();
    if (olds)
        json_object_update (all, (json_t *)olds);
    json_object_update (all, (json_t *)news);
    size_t n;
    ab_auto_free const char **names = s_sorted_keys (all, &n);
    for (size_t i = 0; i < n; i++) {
        const json_t *a = json_object_get (olds, names[i]);
        const json_t *b = json_object_get (news, names[i]);
        if (!a)
            json_array_append_new (added, json_string (names[i]));
        else if (!b)
            json_array_append_new (removed, json_string (names[i]));
        else {
            json_t *list = json_array ();
            s_diff_value (list, "", a, b);
            if (json_array_size (list))
                json_object_set (changed, names[i], list);
            json_decref (list);
        }
    }
    json_decref (all);
    //  Top-level fields other than services; version follows the content.
    json_t *top = json_object ();
    if (old_spec)
        json_object_update (top, (json_t *)old_spec);
    json_object_update (top, (json_t *)new_spec);
    ab_auto_free const char **keys = s_sorted_keys (top, &n);
    for (size_t i = 0; old_spec && i < n; i++)
        if (strcmp (keys[i], "services") && strcmp (keys[i], "version"))
            s_diff_value (stack, keys[i], json_object_get (old_spec, keys[i]),
                          json_object_get (new_spec, keys[i]));
    json_decref (top);
    json_object_set_new (diff, "added", added);
    json_object_set_new (diff, "removed", removed);
    json_object_set_new (diff, "changed", changed);
    json_object_set_new (diff, "stack", stack);
    return diff;
}

bool
ab_spec_diff_empty (const json_t *diff)
{
    assert (diff);
    return !json_array_size (json_object_get (diff, "added"))
           && !json_array_size (json_object_get (diff, "removed"))
           && !json_object_size (json_object_get (diff, "changed"))
           && !json_array_size (json_object_get (diff, "stack"));
}

static void
s_append_changes (FILE *f, const json_t *list)
{
    size_t i;
    json_t *row;
    json_array_foreach ((json_t *)list, i, row)
    {
        ab_auto_free char *from = ab_spec_canonical (json_object_get (row, "from"));
        ab_auto_free char *to = ab_spec_canonical (json_object_get (row, "to"));
        fprintf (f, "    %s: %s -> %s\n", json_string_value (json_object_get (row, "field")),
                 from ? from : "?", to ? to : "?");
    }
}

char *
ab_spec_diff_text (const json_t *diff)
{
    assert (diff);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream (&buf, &len);
    if (!f)
        return NULL;
    size_t i;
    json_t *v;
    if (json_array_size (json_object_get (diff, "stack"))) {
        fprintf (f, "~ stack\n");
        s_append_changes (f, json_object_get (diff, "stack"));
    }
    json_array_foreach (json_object_get (diff, "added"), i, v)
        fprintf (f, "+ service %s\n", json_string_value (v));
    json_array_foreach (json_object_get (diff, "removed"), i, v)
        fprintf (f, "- service %s\n", json_string_value (v));
    size_t n;
    ab_auto_free const char **names = s_sorted_keys (json_object_get (diff, "changed"), &n);
    for (size_t k = 0; k < n; k++) {
        fprintf (f, "~ service %s\n", names[k]);
        s_append_changes (f, json_object_get (json_object_get (diff, "changed"), names[k]));
    }
    if (ab_spec_diff_empty (diff))
        fprintf (f, "no changes\n");
    fclose (f);
    return buf;
}

//  --------------------------------------------------------------------------

void
ab_spec_test (bool verbose)
{
    printf (" * ab_spec: ");
    assert (ab_spec_name_ok ("web"));
    assert (ab_spec_name_ok ("my_app.v2-1"));
    assert (!ab_spec_name_ok (""));
    assert (!ab_spec_name_ok ("-x"));
    assert (!ab_spec_name_ok ("a/b"));
    assert (!ab_spec_name_ok ("0123456789012345678901234567890123456789012345678901234567890123"));

    json_error_t jerr;
    json_t *spec = json_loads (
        "{\"stack\":\"shop\",\"source\":\"kit:shop/"
        "app\",\"services\":{\"web\":{\"image\":\"w:1\",\"ports\":[{\"container\":80,\"host\":8080,"
        "\"protocol\":\"tcp\"}],\"depends\":{\"api\":{\"condition\":\"started\"}},\"connections\":{"
        "\"api\":{\"target\":\"api\",\"port\":8080}}},\"api\":{\"image\":\"a:1\",\"ports\":[],"
        "\"depends\":{},\"connections\":{}}}}",
        0, &jerr);
    assert (spec);
    ab_diag_t *diag = ab_diag_new ();
    assert (ab_spec_check (spec, NULL, diag) == 0);
    assert (ab_spec_deployable (spec, NULL) == 0);

    //  The version is a digest of the canonical text, independent of key order.
    assert (ab_spec_seal (spec) == 0);
    assert (ab_spec_verify (spec));
    const char *version = json_string_value (json_object_get (spec, "version"));
    assert (strlen (version) == 64);
    json_t *reordered = json_loads (
        "{\"services\":{\"api\":{\"connections\":{},\"depends\":{},\"ports\":[],\"image\":\"a:1\"},"
        "\"web\":{\"connections\":{\"api\":{\"port\":8080,\"target\":\"api\"}},\"depends\":{"
        "\"api\":{\"condition\":\"started\"}},\"ports\":[{\"protocol\":\"tcp\",\"host\":8080,"
        "\"container\":80}],\"image\":\"w:1\"}},\"source\":\"kit:shop/app\",\"stack\":\"shop\"}",
        0, &jerr);
    char hex[65];
    assert (ab_spec_digest (reordered, hex) == 0 && strcmp (hex, version) == 0);
    char *a = ab_spec_canonical (spec);
    assert (ab_spec_seal (reordered) == 0);
    char *b = ab_spec_canonical (reordered);
    assert (strcmp (a, b) == 0);
    assert (strncmp (a, "{\"services\":{\"api\":{", 20) == 0);
    free (a);
    free (b);

    //  Diff: a changed image, an added service, a removed one.
    json_t *next = json_deep_copy (spec);
    json_t *web = json_object_get (json_object_get (next, "services"), "web");
    json_object_set_new (web, "image", json_string ("w:2"));
    json_object_set_new (json_object_get (next, "services"), "cache",
                         json_pack ("{s:s}", "image", "redis:7"));
    json_object_del (json_object_get (next, "services"), "api");
    json_object_del (web, "depends");
    json_object_del (web, "connections");
    assert (ab_spec_seal (next) == 0);
    assert (!ab_spec_verify (spec)
            || strcmp (json_string_value (json_object_get (next, "version")), version) != 0);
    json_t *diff = ab_spec_diff (spec, next);
    assert (!ab_spec_diff_empty (diff));
    char *text = ab_spec_diff_text (diff);
    assert (strstr (text, "+ service cache\n"));
    assert (strstr (text, "- service api\n"));
    assert (strstr (text, "~ service web\n"));
    assert (strstr (text, "    image: \"w:1\" -> \"w:2\"\n"));
    assert (strstr (text, "    depends: {\"api\":{\"condition\":\"started\"}} -> null\n"));
    assert (!strstr (text, "version"));
    if (verbose)
        printf ("\n%s", text);
    free (text);
    json_decref (diff);
    diff = ab_spec_diff (spec, spec);
    assert (ab_spec_diff_empty (diff));
    text = ab_spec_diff_text (diff);
    assert (strcmp (text, "no changes\n") == 0);
    free (text);
    json_decref (diff);
    diff = ab_spec_diff (NULL, spec);
    assert (json_array_size (json_object_get (diff, "added")) == 2);
    json_decref (diff);

    //  Cross-service errors point at their marks.
    json_object_set_new (
        json_object_get (json_object_get (next, "services"), "cache"), "ports",
        json_pack ("[{s:i,s:i,s:s}]", "container", 6379, "host", 8080, "protocol", "tcp"));
    json_object_set_new (json_object_get (json_object_get (next, "services"), "cache"), "depends",
                         json_pack ("{s:{},s:{}}", "web", "nope"));
    json_object_set_new (web, "depends", json_pack ("{s:{}}", "cache"));
    json_object_set_new (web, "connections", json_pack ("{s:{s:s}}", "db", "target", "shop/db"));
    json_t *marks
        = json_pack ("{s:{s:s,s:[s],s:{s:s}},s:{s:s,s:{s:s}}}", "cache", "at", "f.yaml:10:3",
                     "ports", "f.yaml:12:9", "depends", "web", "f.yaml:14:7", "web", "at",
                     "f.yaml:2:3", "connections", "db", "f.yaml:5:7");
    assert (ab_spec_check (next, marks, diag) == -1);
    if (verbose)
        for (size_t i = 0; i < ab_diag_size (diag); i++)
            printf ("%s\n", ab_diag_text (diag, i));
    assert (
        ab_diag_has (diag, "f.yaml:12:9: service \"web\": host port 8080/tcp is already published "
                           "by service \"cache\" in this stack")
        || ab_diag_has (
            diag, "service \"web\": host port 8080/tcp is already published by service \"cache\""));
    assert (ab_diag_has (diag, "f.yaml:10:3: service \"cache\": depends on \"nope\", which is not "
                               "a service of this stack"));
    assert (ab_diag_has (diag, "f.yaml:5:7: connection \"db\": unknown target \"shop/db\": no "
                               "service of that name in stack \"shop\""));
    assert (
        ab_diag_has (diag, "f.yaml:2:3: service \"web\": depends cycle: cache -> web -> cache"));
    assert (ab_diag_errors (diag) == 4);

    //  Deployability: a build is recorded but not deployable yet.
    json_object_set_new (web, "build", json_pack ("{s:s}", "context", "."));
    ab_error_t *err = NULL;
    assert (ab_spec_deployable (next, &err) < 0);
    assert (strstr (err->msg,
                    "service \"web\": build: is recorded, but abbey's builder does not exist yet"));
    ab_error_destroy (&err);
    json_decref (marks);
    json_decref (next);
    json_decref (reordered);
    json_decref (spec);
    ab_diag_destroy (&diag);
    printf ("OK\n");
}
