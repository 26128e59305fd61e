/*  ab_diag - a list of positioned errors and warnings                     */
//  Why: selftests assert behaviour, and the default build type defines NDEBUG.
#undef NDEBUG
#include "ab_diag.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    ab_severity_t severity; //  error or warning
    char *text;             //  "file:line:col: message", owned
} s_entry_t;

struct _ab_diag_t {
    s_entry_t items[AB_DIAG_MAX + 1]; //  the last slot holds the "too many" line
    size_t size;                      //  entries kept
    size_t errors;                    //  errors added, kept or not
    size_t warnings;                  //  warnings added, kept or not
};

ab_diag_t *
ab_diag_new (void)
{
    return calloc (1, sizeof (ab_diag_t));
}

void
ab_diag_destroy (ab_diag_t **self_p)
{
    assert (self_p);
    ab_diag_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->size; i++)
        free (self->items[i].text);
    free (self);
    *self_p = NULL;
}

static void
s_add (ab_diag_t *self, ab_severity_t severity, const char *where, const char *fmt, va_list ap)
{
    if (severity == AB_DIAG_ERROR)
        self->errors++;
    else
        self->warnings++;
    if (self->size > AB_DIAG_MAX)
        return;
    char *msg = NULL;
    char *text = NULL;
    if (self->size == AB_DIAG_MAX) {
        //  Why: one line telling the user more exist beats silent truncation.
        text = strdup ("too many problems; stopped listing them here");
        severity = AB_DIAG_ERROR;
    } else {
        if (vasprintf (&msg, fmt, ap) < 0)
            return;
        if (where && *where) {
            if (asprintf (&text, "%s: %s", where, msg) < 0)
                text = NULL;
            free (msg);
        } else
            text = msg;
    }
    if (!text)
        return;
    self->items[self->size].severity = severity;
    self->items[self->size].text = text;
    self->size++;
}

static char *
s_where (const char *file, size_t line, size_t col)
{
    char *where = NULL;
    if (asprintf (&where, "%s:%zu:%zu", file ? file : "-", line, col) < 0)
        return NULL;
    return where;
}

int
ab_diag_error (ab_diag_t *self, const char *file, size_t line, size_t col, const char *fmt, ...)
{
    assert (self);
    ab_auto_free char *where = s_where (file, line, col);
    va_list ap;
    va_start (ap, fmt);
    s_add (self, AB_DIAG_ERROR, where, fmt, ap);
    va_end (ap);
    return -1;
}

void
ab_diag_warn (ab_diag_t *self, const char *file, size_t line, size_t col, const char *fmt, ...)
{
    assert (self);
    ab_auto_free char *where = s_where (file, line, col);
    va_list ap;
    va_start (ap, fmt);
    s_add (self, AB_DIAG_WARNING, where, fmt, ap);
    va_end (ap);
}

int
ab_diag_error_at (ab_diag_t *self, const char *where, const char *fmt, ...)
{
    assert (self);
    va_list ap;
    va_start (ap, fmt);
    s_add (self, AB_DIAG_ERROR, where, fmt, ap);
    va_end (ap);
    return -1;
}

size_t
ab_diag_errors (const ab_diag_t *self)
{
    assert (self);
    return self->errors;
}

size_t
ab_diag_warnings (const ab_diag_t *self)
{
    assert (self);
    return self->warnings;
}

size_t
ab_diag_size (const ab_diag_t *self)
{
    assert (self);
    return self->size;
}

ab_severity_t
ab_diag_severity (const ab_diag_t *self, size_t index)
{
    assert (self);
    assert (index < self->size);
    return self->items[index].severity;
}

const char *
ab_diag_text (const ab_diag_t *self, size_t index)
{
    assert (self);
    assert (index < self->size);
    return self->items[index].text;
}

bool
ab_diag_has (const ab_diag_t *self, const char *needle)
{
    assert (self);
    for (size_t i = 0; i < self->size; i++)
        if (strstr (self->items[i].text, needle))
            return true;
    return false;
}

char *
ab_diag_join (const ab_diag_t *self, ab_severity_t severity)
{
    assert (self);
    size_t len = 1;
    for (size_t i = 0; i < self->size; i++)
        len += strlen (self->items[i].text) + 10;
    char *out = malloc (len);
    if (!out)
        return NULL;
    char *p = out;
    *p = 0;
    for (size_t i = 0; i < self->size; i++) {
        if (self->items[i].severity != severity)
            continue;
        p += sprintf (p, "%s%s%s", p == out ? "" : "\n",
                      severity == AB_DIAG_WARNING ? "warning: " : "", self->items[i].text);
    }
    return out;
}

int
ab_diag_to_error (const ab_diag_t *self, ab_error_t **err)
{
    assert (self);
    if (self->errors == 0)
        return 0;
    ab_auto_free char *all = ab_diag_join (self, AB_DIAG_ERROR);
    return ab_error_set (err, AB_E_INVALID, "%s", all ? all : "invalid manifest");
}

void
ab_diag_test (bool verbose)
{
    printf (" * ab_diag: ");
    ab_diag_t *diag = ab_diag_new ();
    assert (diag);
    assert (ab_diag_to_error (diag, NULL) == 0);
    assert (ab_diag_error (diag, "k.yaml", 3, 5, "key \"%s\": unknown key", "reourses") == -1);
    ab_diag_warn (diag, "c.yml", 7, 3, "key \"%s\" is not supported; ignored", "logging");
    ab_diag_error_at (diag, NULL, "no position");
    assert (ab_diag_errors (diag) == 2);
    assert (ab_diag_warnings (diag) == 1);
    assert (ab_diag_size (diag) == 3);
    assert (strcmp (ab_diag_text (diag, 0), "k.yaml:3:5: key \"reourses\": unknown key") == 0);
    assert (ab_diag_severity (diag, 1) == AB_DIAG_WARNING);
    assert (strcmp (ab_diag_text (diag, 2), "no position") == 0);
    assert (ab_diag_has (diag, "logging"));
    assert (!ab_diag_has (diag, "nope"));
    ab_auto_free char *warns = ab_diag_join (diag, AB_DIAG_WARNING);
    assert (strcmp (warns, "warning: c.yml:7:3: key \"logging\" is not supported; ignored") == 0);
    ab_error_t *err = NULL;
    assert (ab_diag_to_error (diag, &err) == -AB_E_INVALID);
    assert (strcmp (err->msg, "k.yaml:3:5: key \"reourses\": unknown key\nno position") == 0);
    ab_error_destroy (&err);

    //  Hostile input cannot grow the list without bound.
    for (int i = 0; i < 1000; i++)
        ab_diag_error (diag, "f", 1, 1, "e%d", i);
    assert (ab_diag_errors (diag) == 1002);
    assert (ab_diag_size (diag) == AB_DIAG_MAX + 1);
    assert (ab_diag_has (diag, "too many problems"));
    ab_diag_destroy (&diag);
    assert (diag == NULL);
    ab_diag_destroy (&diag);
    printf ("OK\n");
}
