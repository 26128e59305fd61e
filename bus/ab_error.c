/*  ab_error - the one error table of abbey                               */
#include "ab_error.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    const char *msg;
} s_table[] = {
    [AB_OK] = { "ok", "success" },
#define AB_ERROR_ROW(e, n, m) [AB_E_##e] = { n, m },
    AB_ERROR_MAP (AB_ERROR_ROW)
#undef AB_ERROR_ROW
};

const char *
ab_error_name (ab_code_t code)
{
    return (unsigned) code < AB_E__COUNT ? s_table[code].name : "unknown";
}

const char *
ab_error_default (ab_code_t code)
{
    return (unsigned) code < AB_E__COUNT ? s_table[code].msg : "unknown error";
}

ab_code_t
ab_error_from_name (const char *name)
{
    for (int i = 0; name && i < AB_E__COUNT; i++)
        if (strcmp (s_table[i].name, name) == 0)
            return (ab_code_t) i;
    return AB_E_PROTOCOL;
}

const char *
ab_error_msg (const ab_error_t *err)
{
    return err && err->msg ? err->msg : "";
}

static int
s_vset (ab_error_t **err, ab_code_t code, const char *suffix, const char *fmt, va_list ap)
{
    assert (code > AB_OK && code < AB_E__COUNT);
    if (!err)
        return -(int) code;
    ab_error_destroy (err);
    char *msg = NULL;
    if (!fmt || !*fmt)
        msg = strdup (s_table[code].msg);
    else if (vasprintf (&msg, fmt, ap) < 0)
        msg = NULL;
    if (msg && suffix) {
        char *full = NULL;
        if (asprintf (&full, "%s: %s", msg, suffix) >= 0) {
            free (msg);
            msg = full;
        }
    }
    ab_error_t *e = calloc (1, sizeof *e);
    if (!e) {
        free (msg);
        return -(int) code;
    }
    e->code = code;
    e->msg = msg ? msg : strdup (s_table[code].msg);
    *err = e;
    return -(int) code;
}

int
ab_error_set (ab_error_t **err, ab_code_t code, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    int rc = s_vset (err, code, NULL, fmt, ap);
    va_end (ap);
    return rc;
}

int
ab_error_errno (ab_error_t **err, ab_code_t code, int errnum, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    int rc = s_vset (err, code, strerror (errnum), fmt, ap);
    va_end (ap);
    return rc;
}

int
ab_error_wrap (ab_error_t **err, const char *fmt, ...)
{
    if (!err || !*err)
        return -(int) AB_E_INVALID;
    char *ctx = NULL;
    va_list ap;
    va_start (ap, fmt);
    int n = vasprintf (&ctx, fmt, ap);
    va_end (ap);
    if (n >= 0) {
        char *full = NULL;
        if (asprintf (&full, "%s: %s", ctx, (*err)->msg ? (*err)->msg : "") >= 0) {
            free ((*err)->msg);
            (*err)->msg = full;
        }
        free (ctx);
    }
    return -(int) (*err)->code;
}

void
ab_error_destroy (ab_error_t **err)
{
    if (err && *err) {
        free ((*err)->msg);
        free (*err);
        *err = NULL;
    }
}

void
ab_error_test (bool verbose)
{
    printf (" * ab_error: ");
    ab_error_t *err = NULL;
    assert (ab_error_set (&err, AB_E_FORBIDDEN, "role %s may not append %s", "agent", "stack.deployed")
            == -AB_E_FORBIDDEN);
    assert (err->code == AB_E_FORBIDDEN);
    assert (strcmp (err->msg, "role agent may not append stack.deployed") == 0);
    ab_error_wrap (&err, "append %s", "x");
    assert (strcmp (err->msg, "append x: role agent may not append stack.deployed") == 0);
    assert (strcmp (ab_error_name (err->code), "forbidden") == 0);
    assert (ab_error_from_name ("forbidden") == AB_E_FORBIDDEN);
    assert (ab_error_from_name ("no-such") == AB_E_PROTOCOL);
    ab_error_set (&err, AB_E_STORAGE, NULL);
    assert (strcmp (err->msg, ab_error_default (AB_E_STORAGE)) == 0);
    ab_error_errno (&err, AB_E_IO, ENOENT, "open %s", "/x");
    assert (strstr (err->msg, "open /x: "));
    ab_error_destroy (&err);
    assert (err == NULL);
    ab_error_destroy (&err);
    assert (ab_error_set (NULL, AB_E_IO, "dropped") == -AB_E_IO);
    {
        ab_auto_free char *p = strdup ("freed by cleanup");
        (void) p;
    }
    printf ("OK\n");
}
