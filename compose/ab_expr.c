/*  ab_expr - the small, safe expression language of kits                 */
//  Why: selftests assert behaviour, and the default build type defines NDEBUG.
#undef NDEBUG
#include "ab_expr.h"

#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *text; //  whole expression, for messages
    const char *p;    //  cursor
    const ab_expr_env_t *env;
    ab_error_t **err;
    int depth;
} s_ctx_t;

bool
ab_expr_is (const char *text)
{
    return text && strncmp (text, "<- ", 3) == 0;
}

bool
ab_expr_has_interpolation (const char *text)
{
    return text && strstr (text, "${");
}

char *
ab_expr_to_text (const json_t *value)
{
    char *out = NULL;
    if (json_is_string (value))
        return strdup (json_string_value (value));
    if (json_is_integer (value)) {
        if (asprintf (&out, "%lld", (long long)json_integer_value (value)) < 0)
            return NULL;
        return out;
    }
    if (json_is_real (value)) {
        if (asprintf (&out, "%.15g", json_real_value (value)) < 0)
            return NULL;
        return out;
    }
    if (json_is_boolean (value))
        return strdup (json_is_true (value) ? "true" : "false");
    return NULL;
}

static bool
s_is_secret (const json_t *value)
{
    return json_is_object (value) && json_is_string (json_object_get (value, "secret"));
}

static json_t *
s_fail (s_ctx_t *c, const char *fmt, const char *arg)
{
    char msg[256];
    snprintf (msg, sizeof msg, fmt, arg ? arg : "");
    ab_error_set (c->err, AB_E_INVALID, "expression \"%s\": at %d: %s", c->text,
                  (int)(c->p - c->text) + 1, msg);
    return NULL;
}

static void
s_space (s_ctx_t *c)
{
    while (*c->p == ' ' || *c->p == '\t')
        c->p++;
}

static bool
s_name_char (char ch)
{
    return isalnum ((unsigned char)ch) || ch == '-' || ch == '_' || ch == '.';
}

static size_t
s_name (s_ctx_t *c, char *out, size_t size)
{
    size_t n = 0;
    while (s_name_char (*c->p) && n + 1 < size)
        out[n++] = *c->p++;
    out[n] = 0;
    return n;
}

static json_t *s_expr (s_ctx_t *c);

static json_t *
s_call (s_ctx_t *c, const char *fn)
{
    json_t *args = json_array ();
    c->p++; //  '('
    s_space (c);
    if (*c->p != ')')
        for (;;) {
            json_t *arg = s_expr (c);
            if (!arg) {
                json_decref (args);
                return NULL;
            }
            json_array_append_new (args, arg);
            s_space (c);
            if (*c->p == ',') {
                c->p++;
                continue;
            }
            if (*c->p != ')') {
                json_decref (args);
                return s_fail (c, "expected \",\" or \")\"%s", NULL);
            }
            break;
        }
    c->p++; //  ')'
    size_t n = json_array_size (args);
    json_t *out = NULL;
    if (!strcmp (fn, "connection-hostname") || !strcmp (fn, "connection-port")
        || !strcmp (fn, "secret")) {
        const char *name = json_string_value (json_array_get (args, 0));
        if (n != 1 || !name) {
            json_decref (args);
            return s_fail (c, "%s() takes one string argument", fn);
        }
        if (!strcmp (fn, "secret"))
            out = json_pack ("{s:s}", "secret", name);
        else if (!c->env || !c->env->connection) {
            json_decref (args);
            return s_fail (c, "%s(): no connections here", fn);
        } else {
            ab_error_t *e = NULL;
            out = c->env->connection (c->env->arg, name, fn[11] == 'h' ? "hostname" : "port", &e);
            if (!out) {
                s_fail (c, "%s", ab_error_msg (e));
                ab_error_destroy (&e);
            }
        }
    } else if (!strcmp (fn, "default")) {
        if (n < 1) {
            json_decref (args);
            return s_fail (c, "default() needs at least one argument%s", NULL);
        }
        for (size_t i = 0; i < n && !out; i++)
            if (!json_is_null (json_array_get (args, i)))
                out = json_incref (json_array_get (args, i));
        if (!out)
            out = json_null ();
    } else if (!strcmp (fn, "concat")) {
        char *acc = strdup ("");
        for (size_t i = 0; acc && i < n; i++) {
            json_t *v = json_array_get (args, i);
            if (s_is_secret (v)) {
                free (acc);
                json_decref (args);
                return s_fail (c, "concat(): a secret() stays a reference and cannot be combined%s",
                               NULL);
            }
            char *t = ab_expr_to_text (v);
            if (!t) {
                free (acc);
                json_decref (args);
                return s_fail (c, "concat(): an argument has no value (wrap it in default())%s",
                               NULL);
            }
            char *joined = NULL;
            if (asprintf (&joined, "%s%s", acc, t) < 0)
                joined = NULL;
            free (acc);
            free (t);
            acc = joined;
        }
        out = acc ? json_string (acc) : NULL;
        free (acc);
    } else {
        json_decref (args);
        return s_fail (c,
                       "unknown function \"%s\" (functions: connection-hostname, connection-port, "
                       "secret, default, concat)",
                       fn);
    }
    json_decref (args);
    return out;
}

static json_t *
s_expr (s_ctx_t *c)
{
    if (++c->depth > AB_EXPR_MAX_DEPTH)
        return s_fail (c, "nested deeper than 16 calls%s", NULL);
    s_space (c);
    json_t *out = NULL;
    char name[128];
    if (*c->p == '$') {
        c->p++;
        if (!s_name (c, name, sizeof name))
            return s_fail (c, "expected a variable name after \"$\"%s", NULL);
        if (!c->env || !c->env->variable)
            return s_fail (c, "no variables here ($%s)", name);
        ab_error_t *e = NULL;
        out = c->env->variable (c->env->arg, name, &e);
        if (!out) {
            s_fail (c, "%s", ab_error_msg (e));
            ab_error_destroy (&e);
        }
    } else if (*c->p == '"' || *c->p == '\'') {
        char quote = *c->p++;
        size_t len = strlen (c->p);
        char *buf = malloc (len + 1);
        size_t n = 0;
        while (buf && *c->p && *c->p != quote) {
            if (*c->p == '\\' && c->p[1])
                c->p++;
            buf[n++] = *c->p++;
        }
        if (!buf || *c->p != quote) {
            free (buf);
            return s_fail (c, "unterminated string%s", NULL);
        }
        c->p++;
        buf[n] = 0;
        out = json_string (buf);
        free (buf);
    } else if (isdigit ((unsigned char)*c->p) || *c->p == '-') {
        char *end = NULL;
        long long i = strtoll (c->p, &end, 10);
        if (end == c->p)
            return s_fail (c, "expected a number%s", NULL);
        if (*end == '.') {
            double d = strtod (c->p, &end);
            out = json_real (d);
        } else
            out = json_integer (i);
        c->p = end;
    } else if (s_name (c, name, sizeof name)) {
        s_space (c);
        if (*c->p == '(')
            out = s_call (c, name);
        else if (!strcmp (name, "true") || !strcmp (name, "false"))
            out = json_boolean (name[0] == 't');
        else if (!strcmp (name, "null"))
            out = json_null ();
        else
            return s_fail (
                c, "\"%s\" is not a value (use \"…\" for a string, $name for a variable)", name);
    } else
        return s_fail (c, *c->p ? "unexpected character%s" : "expected a value%s", NULL);
    c->depth--;
    return out;
}

json_t *
ab_expr_eval (const char *text, const ab_expr_env_t *env, ab_error_t **err)
{
    assert (text);
    if (ab_expr_is (text))
        text += 3;
    s_ctx_t c = { .text = text, .p = text, .env = env, .err = err };
    json_t *out = s_expr (&c);
    if (!out)
        return NULL;
    s_space (&c);
    if (*c.p) {
        json_decref (out);
        return s_fail (&c, "unexpected text after the expression%s", NULL);
    }
    return out;
}

json_t *
ab_expr_interpolate (const char *text, const ab_expr_env_t *env, ab_error_t **err)
{
    assert (text);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream (&buf, &len);
    if (!f)
        return NULL;
    const char *p = text;
    int rc = 0;
    while (*p && rc == 0) {
        if (p[0] == '$' && p[1] == '$') {
            fputc ('$', f);
            p += 2;
        } else if (p[0] == '$' && p[1] == '{') {
            const char *end = strchr (p, '}');
            size_t n = end ? (size_t)(end - p - 2) : 0;
            if (!end || n == 0 || n > 100) {
                rc = ab_error_set (err, AB_E_INVALID,
                                   "\"%s\": \"${\" must be followed by a variable name and \"}\"",
                                   text);
                break;
            }
            char name[128];
            memcpy (name, p + 2, n);
            name[n] = 0;
            for (size_t i = 0; i < n && rc == 0; i++)
                if (!s_name_char (name[i]))
                    rc = ab_error_set (err, AB_E_INVALID,
                                       "\"%s\": \"${%s}\" is not a variable name", text, name);
            if (rc)
                break;
            ab_error_t *e = NULL;
            json_t *v = env && env->variable ? env->variable (env->arg, name, &e) : NULL;
            char *t = v ? ab_expr_to_text (v) : NULL;
            if (!t)
                rc = ab_error_set (
                    err, AB_E_INVALID, "\"%s\": ${%s}: %s", text, name,
                    !v ? (e ? ab_error_msg (e) : "no variables here")
                    : s_is_secret (v)
                        ? "a secret cannot be interpolated; use it as the whole env value"
                        : "the variable has no value");
            else
                fputs (t, f);
            free (t);
            json_decref (v);
            ab_error_destroy (&e);
            p = end + 1;
        } else
            fputc (*p++, f);
    }
    fclose (f);
    json_t *out = rc ? NULL : json_string (buf);
    free (buf);
    return out;
}

//  --------------------------------------------------------------------------

static json_t *
s_test_var (void *arg, const char *name, ab_error_t **err)
{
    if (!strcmp (name, "pool"))
        return json_integer (10);
    if (!strcmp (name, "host"))
        return json_string ("db");
    if (!strcmp (name, "unset"))
        return json_null ();
    if (!strcmp (name, "pw"))
        return json_pack ("{s:s}", "secret", "db-password");
    ab_error_set (err, AB_E_NOT_FOUND, "no variable \"%s\"", name);
    return NULL;
}

static json_t *
s_test_conn (void *arg, const char *name, const char *what, ab_error_t **err)
{
    if (strcmp (name, "db") != 0) {
        ab_error_set (err, AB_E_NOT_FOUND, "no connection \"%s\"", name);
        return NULL;
    }
    return !strcmp (what, "port") ? json_integer (5432) : json_string ("db");
}

static void
s_check (const ab_expr_env_t *env, const char *text, const char *expect)
{
    ab_error_t *err = NULL;
    json_t *v = ab_expr_eval (text, env, &err);
    if (!v) {
        fprintf (stderr, "%s: %s\n", text, ab_error_msg (err));
        assert (false);
    }
    char *dump = json_dumps (v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
    if (strcmp (dump, expect) != 0) {
        fprintf (stderr, "%s: got %s, expected %s\n", text, dump, expect);
        assert (false);
    }
    free (dump);
    json_decref (v);
}

static void
s_check_fails (const ab_expr_env_t *env, const char *text, const char *needle)
{
    ab_error_t *err = NULL;
    json_t *v = ab_expr_eval (text, env, &err);
    if (v || !strstr (ab_error_msg (err), needle)) {
        fprintf (stderr, "%s: expected error with '%s', got '%s'\n", text, needle,
                 ab_error_msg (err));
        assert (false);
    }
    ab_error_destroy (&err);
}

void
ab_expr_test (bool verbose)
{
    printf (" * ab_expr: ");
    ab_expr_env_t env = { s_test_var, s_test_conn, NULL };
    assert (ab_expr_is ("<- $x"));
    assert (!ab_expr_is ("<-$x"));
    assert (!ab_expr_is ("plain"));
    s_check (&env, "<- connection-hostname(\"db\")", "\"db\"");
    s_check (&env, "<- connection-port('db')", "5432");
    s_check (&env, "<- secret(\"db-password\")", "{\"secret\":\"db-password\"}");
    s_check (&env, "<- $pool", "10");
    s_check (&env, "<- default($unset, 20)", "20");
    s_check (&env, "<- default($pool, 20)", "10");
    s_check (&env, "<- default($unset)", "null");
    s_check (
        &env,
        "<- concat(\"postgres://\", connection-hostname(\"db\"), \":\", connection-port(\"db\"))",
        "\"postgres://db:5432\"");
    s_check (&env, "<- concat($host, \"-\", 1.5, true)", "\"db-1.5true\"");
    s_check (&env, "<-  \"a\\\"b\"  ", "\"a\\\"b\"");
    s_check (&env, "<- -3", "-3");
    s_check_fails (&env, "<- connection-port(\"nope\")", "no connection \"nope\"");
    s_check_fails (&env, "<- $nope", "no variable \"nope\"");
    s_check_fails (&env, "<- concat($unset)", "has no value");
    s_check_fails (&env, "<- concat(\"x\", $pw)", "cannot be combined");
    s_check_fails (&env, "<- exec(\"rm -rf /\")", "unknown function \"exec\"");
    s_check_fails (&env, "<- concat(\"a\"", "at 11: expected \",\" or \")\"");
    s_check_fails (&env, "<- \"open", "unterminated string");
    s_check_fails (&env, "<- $pool extra", "unexpected text");
    s_check_fails (&env, "<- word", "\"word\" is not a value");
    s_check_fails (&env, "<- secret()", "takes one string argument");
    s_check_fails (&env, "<- secret(-\"x\")", "expected a number");
    s_check_fails (&env, "<- ", "expected a value");
    char deep[400] = "<- ";
    for (int i = 0; i < 40; i++)
        strcat (deep, "concat(");
    s_check_fails (&env, deep, "nested deeper than 16");

    ab_error_t *err = NULL;
    json_t *s = ab_expr_interpolate ("http://${host}:${pool}/x $$HOME", &env, &err);
    assert (s && strcmp (json_string_value (s), "http://db:10/x $HOME") == 0);
    json_decref (s);
    assert (!ab_expr_interpolate ("a ${nope} b", &env, &err));
    assert (strstr (err->msg, "${nope}: no variable \"nope\""));
    assert (!ab_expr_interpolate ("${unset}", &env, &err));
    assert (strstr (err->msg, "has no value"));
    assert (!ab_expr_interpolate ("${pw}", &env, &err));
    assert (strstr (err->msg, "a secret cannot be interpolated"));
    assert (!ab_expr_interpolate ("${open", &env, &err));
    assert (!ab_expr_interpolate ("${a b}", &env, &err));
    ab_error_destroy (&err);
    assert (ab_expr_has_interpolation ("x${y}"));
    assert (!ab_expr_has_interpolation ("x$y"));
    printf ("OK\n");
}
