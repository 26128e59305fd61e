/*  ab_field - typed reads of manifest nodes, with positioned errors       */
//  Why: selftests assert behaviour, and the default build type defines NDEBUG.
#undef NDEBUG
#include "ab_field.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_AT(n) ab_ynode_file (n), ab_ynode_line (n), ab_ynode_col (n)

static size_t
s_distance (const char *a, const char *b)
{
    size_t la = strlen (a), lb = strlen (b);
    if (la > 64 || lb > 64)
        return 1000;
    size_t row[65];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = diag + cost;
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

const char *
ab_field_suggest (const char *word, const char *const *choices)
{
    assert (word && choices);
    const char *best = NULL;
    size_t best_d = 1000;
    for (size_t i = 0; choices[i]; i++) {
        size_t d = s_distance (word, choices[i]);
        if (d < best_d) {
            best_d = d;
            best = choices[i];
        }
    }
    //  Why this bound: two edits, or a third of the word, is a typo; more
    //  is a different word and a suggestion would mislead.
    size_t len = strlen (word);
    size_t limit = len / 3 > 2 ? len / 3 : 2;
    return best && best_d <= limit && best_d < len ? best : NULL;
}

int
ab_field_keys (const ab_ynode_t *map, const char *const *allowed, ab_diag_t *diag)
{
    assert (map && allowed && diag);
    int rc = 0;
    for (size_t i = 0; ab_ynode_kind (map) == AB_YNODE_MAP && i < ab_ynode_size (map); i++) {
        const char *key = ab_ynode_key (map, i);
        bool known = false;
        for (size_t k = 0; allowed[k] && !known; k++)
            known = strcmp (key, allowed[k]) == 0;
        if (known)
            continue;
        const char *hint = ab_field_suggest (key, allowed);
        const ab_ynode_t *at = ab_ynode_key_at (map, i);
        if (hint)
            ab_diag_error (diag, S_AT (at), "key \"%s\": unknown key (did you mean \"%s\"?)", key,
                           hint);
        else
            ab_diag_error (diag, S_AT (at), "key \"%s\": unknown key", key);
        rc = -1;
    }
    return rc;
}

int
ab_field_wrong (const ab_ynode_t *node, const char *key, const char *what, ab_diag_t *diag)
{
    assert (node && diag);
    if (ab_ynode_kind (node) == AB_YNODE_SCALAR) {
        const char *text = ab_ynode_str (node);
        if (ab_ynode_is_null (node))
            return ab_diag_error (diag, S_AT (node), "key \"%s\": expected %s, got nothing", key,
                                  what);
        return ab_diag_error (diag, S_AT (node), "key \"%s\": expected %s, got \"%.40s%s\"", key,
                              what, text, strlen (text) > 40 ? "…" : "");
    }
    return ab_diag_error (diag, S_AT (node), "key \"%s\": expected %s, got %s", key, what,
                          ab_ynode_kind_name (node));
}

int
ab_field_map (const ab_ynode_t *node, const char *key, ab_diag_t *diag)
{
    assert (node);
    return ab_ynode_kind (node) == AB_YNODE_MAP ? 0 : ab_field_wrong (node, key, "a map", diag);
}

int
ab_field_seq (const ab_ynode_t *node, const char *key, ab_diag_t *diag)
{
    assert (node);
    return ab_ynode_kind (node) == AB_YNODE_SEQ ? 0 : ab_field_wrong (node, key, "a list", diag);
}

int
ab_field_string (const ab_ynode_t *node, const char *key, ab_diag_t *diag, const char **out)
{
    assert (node && out);
    if (ab_ynode_kind (node) != AB_YNODE_SCALAR || ab_ynode_is_null (node))
        return ab_field_wrong (node, key, "a string", diag);
    *out = ab_ynode_str (node);
    return 0;
}

int
ab_field_int (const ab_ynode_t *node, const char *key, int64_t min, int64_t max, ab_diag_t *diag,
              int64_t *out)
{
    assert (node && out);
    int64_t v;
    //  Why accept a quoted integer: docker-compose files often quote numbers
    //  ("3") and mean the number.
    const char *text = ab_ynode_str (node);
    if (text && ab_ynode_quoted (node)) {
        ab_ynode_t *plain = ab_ynode_new_scalar (text, node);
        bool ok = plain && ab_ynode_int (plain, &v);
        ab_ynode_destroy (&plain);
        if (!ok)
            return ab_field_wrong (node, key, "an integer", diag);
    } else if (!ab_ynode_int (node, &v))
        return ab_field_wrong (node, key, "an integer", diag);
    if (v < min || v > max)
        return ab_diag_error (diag, S_AT (node),
                              "key \"%s\": %lld is out of range (expected %lld to %lld)", key,
                              (long long)v, (long long)min, (long long)max);
    *out = v;
    return 0;
}

int
ab_field_bool (const ab_ynode_t *node, const char *key, ab_diag_t *diag, bool *out)
{
    assert (node && out);
    if (!ab_ynode_bool (node, out))
        return ab_field_wrong (node, key, "true or false", diag);
    return 0;
}

typedef int (s_unit_fn) (const char *text, int64_t *out, ab_error_t **err);

static int
s_unit (const ab_ynode_t *node, const char *key, ab_diag_t *diag, int64_t *out, s_unit_fn *fn,
        const char *what)
{
    const char *text = ab_ynode_str (node);
    if (!text || ab_ynode_is_null (node))
        return ab_field_wrong (node, key, what, diag);
    ab_error_t *err = NULL;
    if (fn (text, out, &err)) {
        ab_diag_error (diag, S_AT (node), "key \"%s\": %s", key, ab_error_msg (err));
        ab_error_destroy (&err);
        return -1;
    }
    return 0;
}

int
ab_field_duration (const ab_ynode_t *node, const char *key, ab_diag_t *diag, int64_t *ms)
{
    assert (node && ms);
    return s_unit (node, key, diag, ms, ab_units_duration, "a duration like 500ms, 2s or 1m");
}

int
ab_field_cpu (const ab_ynode_t *node, const char *key, ab_diag_t *diag, int64_t *millicores)
{
    assert (node && millicores);
    return s_unit (node, key, diag, millicores, ab_units_cpu, "cores like 0.5 or 500m");
}

static int
s_memory_kit (const char *text, int64_t *out, ab_error_t **err)
{
    return ab_units_memory (text, AB_UNITS_KIT, out, err);
}

static int
s_memory_compose (const char *text, int64_t *out, ab_error_t **err)
{
    return ab_units_memory (text, AB_UNITS_COMPOSE, out, err);
}

int
ab_field_memory (const ab_ynode_t *node, const char *key, ab_units_style_t style, ab_diag_t *diag,
                 int64_t *bytes)
{
    assert (node && bytes);
    return s_unit (node, key, diag, bytes, style == AB_UNITS_KIT ? s_memory_kit : s_memory_compose,
                   "a memory size like 512Mi");
}

int
ab_field_enum (const ab_ynode_t *node, const char *key, const char *const *choices, ab_diag_t *diag,
               const char **out)
{
    assert (node && choices && out);
    const char *text = ab_ynode_str (node);
    for (size_t i = 0; text && choices[i]; i++)
        if (strcmp (text, choices[i]) == 0) {
            *out = choices[i];
            return 0;
        }
    char list[256] = "";
    for (size_t i = 0; choices[i]; i++) {
        strncat (list, i ? ", " : "", sizeof list - strlen (list) - 1);
        strncat (list, choices[i], sizeof list - strlen (list) - 1);
    }
    char what[300];
    snprintf (what, sizeof what, "one of %s", list);
    return ab_field_wrong (node, key, what, diag);
}

json_t *
ab_field_strings (const ab_ynode_t *node, const char *key, bool single, ab_diag_t *diag)
{
    assert (node);
    json_t *out = json_array ();
    if (single && ab_ynode_kind (node) == AB_YNODE_SCALAR && !ab_ynode_is_null (node)) {
        json_array_append_new (out, json_string (ab_ynode_str (node)));
        return out;
    }
    if (ab_ynode_kind (node) != AB_YNODE_SEQ) {
        ab_field_wrong (node, key, single ? "a string or a list of strings" : "a list of strings",
                        diag);
        json_decref (out);
        return NULL;
    }
    for (size_t i = 0; i < ab_ynode_size (node); i++) {
        const char *s;
        if (ab_field_string (ab_ynode_at (node, i), key, diag, &s)) {
            json_decref (out);
            return NULL;
        }
        json_array_append_new (out, json_string (s));
    }
    return out;
}

json_t *
ab_field_command (const ab_ynode_t *node, const char *key, ab_diag_t *diag)
{
    assert (node);
    if (ab_ynode_kind (node) != AB_YNODE_SCALAR || ab_ynode_is_null (node))
        return ab_field_strings (node, key, false, diag);
    const char *p = ab_ynode_str (node);
    json_t *out = json_array ();
    size_t len = strlen (p);
    char *word = malloc (len + 1);
    if (!word) {
        json_decref (out);
        return NULL;
    }
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == '\n')
            p++;
        if (!*p)
            break;
        size_t n = 0;
        char quote = 0;
        while (*p && (quote || !(*p == ' ' || *p == '\t' || *p == '\n'))) {
            if (quote == '\'' && *p == '\'')
                quote = 0;
            else if (quote == '"' && *p == '"')
                quote = 0;
            else if (!quote && (*p == '\'' || *p == '"'))
                quote = *p;
            else if (*p == '\\' && quote != '\'' && p[1])
                word[n++] = *++p;
            else
                word[n++] = *p;
            p++;
        }
        if (quote) {
            free (word);
            json_decref (out);
            ab_field_wrong (node, key, "a command with balanced quotes", diag);
            return NULL;
        }
        word[n] = 0;
        json_array_append_new (out, json_string (word));
    }
    free (word);
    return out;
}

json_t *
ab_field_string_map (const ab_ynode_t *node, const char *key, ab_diag_t *diag)
{
    assert (node);
    if (ab_field_map (node, key, diag))
        return NULL;
    json_t *out = json_object ();
    for (size_t i = 0; i < ab_ynode_size (node); i++) {
        const ab_ynode_t *v = ab_ynode_at (node, i);
        if (ab_ynode_is_null (v))
            continue;
        const char *s;
        if (ab_field_string (v, ab_ynode_key (node, i), diag, &s)) {
            json_decref (out);
            return NULL;
        }
        json_object_set_new (out, ab_ynode_key (node, i), json_string (s));
    }
    return out;
}

json_t *
ab_field_mark (const ab_ynode_t *node)
{
    assert (node);
    char *where = ab_ynode_where (node);
    json_t *mark = json_string (where ? where : "");
    free (where);
    return mark;
}

void
ab_field_test (bool verbose)
{
    printf (" * ab_field: ");
    static const char *const keys[] = { "image", "resources", "replicas", "ports", NULL };
    assert (strcmp (ab_field_suggest ("reourses", keys), "resources") == 0);
    assert (strcmp (ab_field_suggest ("imag", keys), "image") == 0);
    assert (ab_field_suggest ("zzzzzz", keys) == NULL);
    assert (ab_field_suggest ("x", keys) == NULL);

    const char *text = "svc:\n  image: web\n  reourses: {}\n  replicas: three\n  cpu: 1.5x\n  big: "
                       "99999\n  restart: sometimes\n  command: echo 'hello world' \"a b\" c\\ d\n "
                       " bad: \"unterminated 'q\"\n  labels: {a: 1, b: x, c: ~}\n  list: [a, 1, "
                       "true]\n  quoted: \"3\"\n  wait: 2s\n  mem: 512m\n  on: yes\n";
    ab_error_t *err = NULL;
    ab_ynode_t *doc = ab_yaml_parse ("f.yaml", text, strlen (text), NULL, &err);
    assert (doc);
    ab_ynode_t *svc = ab_ynode_get (doc, "svc");
    ab_diag_t *diag = ab_diag_new ();
    static const char *const allowed[]
        = { "image",  "resources", "replicas", "cpu",  "big", "restart", "command", "bad",
            "labels", "list",      "quoted",   "wait", "mem", "on",      NULL };
    assert (ab_field_keys (svc, allowed, diag) == -1);
    assert (ab_diag_has (
        diag, "f.yaml:3:3: key \"reourses\": unknown key (did you mean \"resources\"?)"));
    int64_t v = 0;
    assert (ab_field_int (ab_ynode_get (svc, "replicas"), "replicas", 0, 100, diag, &v) == -1);
    assert (
        ab_diag_has (diag, "f.yaml:4:13: key \"replicas\": expected an integer, got \"three\""));
    assert (ab_field_int (ab_ynode_get (svc, "big"), "big", 0, 100, diag, &v) == -1);
    assert (
        ab_diag_has (diag, "f.yaml:6:8: key \"big\": 99999 is out of range (expected 0 to 100)"));
    assert (ab_field_int (ab_ynode_get (svc, "quoted"), "quoted", 0, 100, diag, &v) == 0 && v == 3);
    assert (ab_field_cpu (ab_ynode_get (svc, "cpu"), "cpu", diag, &v) == -1);
    assert (ab_diag_has (diag, "f.yaml:5:8: key \"cpu\": \"1.5x\" is not a cpu amount"));
    assert (ab_field_memory (ab_ynode_get (svc, "mem"), "memory", AB_UNITS_KIT, diag, &v) == -1);
    assert (ab_diag_has (diag, "did you mean 512Mi?"));
    assert (ab_field_memory (ab_ynode_get (svc, "mem"), "memory", AB_UNITS_COMPOSE, diag, &v) == 0
            && v == 512LL << 20);
    assert (ab_field_duration (ab_ynode_get (svc, "wait"), "wait", diag, &v) == 0 && v == 2000);
    static const char *const restarts[] = { "no", "always", "on-failure", NULL };
    const char *s = NULL;
    assert (ab_field_enum (ab_ynode_get (svc, "restart"), "restart", restarts, diag, &s) == -1);
    assert (ab_diag_has (
        diag, "key \"restart\": expected one of no, always, on-failure, got \"sometimes\""));
    bool b;
    assert (ab_field_bool (ab_ynode_get (svc, "on"), "on", diag, &b) == -1);
    assert (ab_field_string (ab_ynode_get (svc, "image"), "image", diag, &s) == 0
            && strcmp (s, "web") == 0);
    assert (ab_field_string (ab_ynode_get (svc, "labels"), "image", diag, &s) == -1);
    assert (ab_diag_has (diag, "key \"image\": expected a string, got a map"));

    json_t *cmd = ab_field_command (ab_ynode_get (svc, "command"), "command", diag);
    char *dump = json_dumps (cmd, JSON_COMPACT);
    assert (strcmp (dump, "[\"echo\",\"hello world\",\"a b\",\"c d\"]") == 0);
    free (dump);
    json_decref (cmd);
    assert (ab_field_command (ab_ynode_get (svc, "bad"), "bad", diag) == NULL);
    json_t *labels = ab_field_string_map (ab_ynode_get (svc, "labels"), "labels", diag);
    dump = json_dumps (labels, JSON_COMPACT | JSON_SORT_KEYS);
    assert (strcmp (dump, "{\"a\":\"1\",\"b\":\"x\"}") == 0);
    free (dump);
    json_decref (labels);
    json_t *list = ab_field_strings (ab_ynode_get (svc, "list"), "list", false, diag);
    assert (json_array_size (list) == 3);
    assert (strcmp (json_string_value (json_array_get (list, 2)), "true") == 0);
    json_decref (list);
    assert (ab_field_strings (ab_ynode_get (svc, "image"), "list", false, diag) == NULL);
    json_t *mark = ab_field_mark (ab_ynode_get (svc, "image"));
    assert (strcmp (json_string_value (mark), "f.yaml:2:10") == 0);
    json_decref (mark);
    if (verbose)
        for (size_t i = 0; i < ab_diag_size (diag); i++)
            printf ("\n  %s", ab_diag_text (diag, i));
    ab_diag_destroy (&diag);
    ab_ynode_destroy (&doc);
    printf ("OK\n");
}
