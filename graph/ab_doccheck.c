/*  ab_doccheck - docs/events.md agrees with the authorization table      */
//  Selftests assert behaviour: keep assert live in release builds too.
#undef NDEBUG
#include <assert.h>

#include "ab_doccheck.h"
#include "ab_catalog.h"
#include "ab_event.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

//  Roles that may emit type, as the doc must list them.
static void
s_roles (ab_evtype_t type, char *out, size_t size)
{
    out[0] = 0;
    for (int r = 1; r < AB_ROLE__COUNT; r++)
        if (ab_catalog_allows ((ab_role_t)r, type)) {
            size_t used = strlen (out);
            snprintf (out + used, size - used, "%s%s", used ? ", " : "",
                      ab_role_name ((ab_role_t)r));
        }
}

//  Next line of text at *p: sets *line (not NUL-terminated) and *len,
//  advances *p; false at the end.
static bool
s_next_line (const char **p, const char **line, size_t *len)
{
    if (!**p)
        return false;
    const char *nl = strchr (*p, '\n');
    *line = *p;
    *len = nl ? (size_t)(nl - *p) : strlen (*p);
    if (*len && (*line)[*len - 1] == '\r')
        (*len)--;
    *p = nl ? nl + 1 : *p + strlen (*p);
    return true;
}

//  Next non-blank line, counting lines in *lineno.
static bool
s_next_content (const char **p, const char **line, size_t *len, int *lineno)
{
    while (s_next_line (p, line, len)) {
        (*lineno)++;
        if (*len)
            return true;
    }
    return false;
}

static bool
s_has_prefix (const char *line, size_t len, const char *prefix)
{
    size_t plen = strlen (prefix);
    return len >= plen && memcmp (line, prefix, plen) == 0;
}

int
ab_doccheck_events (const char *text, const char *name, ab_error_t **err)
{
    assert (text);
    assert (name);
    int seen_at[AB_EV__COUNT] = { 0 }; //  line of each type's section
    const char *p = text;
    const char *line;
    size_t len;
    int lineno = 0;
    while (s_next_line (&p, &line, &len)) {
        lineno++;
        if (!s_has_prefix (line, len, "### `"))
            continue;
        if (len < 7 || line[len - 1] != '`')
            return ab_error_set (err, AB_E_INVALID,
                                 "%s:%d: a type heading is ### `type`, with nothing after", name,
                                 lineno);
        char type[AB_TYPE_MAX + 1];
        size_t tlen = len - 6;
        if (tlen > AB_TYPE_MAX)
            return ab_error_set (err, AB_E_INVALID, "%s:%d: type name too long", name, lineno);
        memcpy (type, line + 5, tlen);
        type[tlen] = 0;
        ab_evtype_t evtype = ab_catalog_type (type);
        if (evtype == AB_EV_UNKNOWN)
            return ab_error_set (err, AB_E_INVALID,
                                 "%s:%d: `%s` is not in the catalog (bus/ab_catalog.h)", name,
                                 lineno, type);
        if (seen_at[evtype])
            return ab_error_set (err, AB_E_INVALID, "%s:%d: `%s` already has a section at line %d",
                                 name, lineno, type, seen_at[evtype]);
        seen_at[evtype] = lineno;
        //  "Emitted by: ..." then "Subject: `...`".
        char want[256], got[256];
        s_roles (evtype, want, sizeof want);
        int heading = lineno;
        if (!s_next_content (&p, &line, &len, &lineno) || !s_has_prefix (line, len, "Emitted by: "))
            return ab_error_set (err, AB_E_INVALID,
                                 "%s:%d: section `%s` (line %d) must go on with \"Emitted by: %s\"",
                                 name, lineno, type, heading, want);
        snprintf (got, sizeof got, "%.*s", (int)(len - 12), line + 12);
        if (strcmp (got, want) != 0)
            return ab_error_set (
                err, AB_E_INVALID,
                "%s:%d: `%s` is emitted by \"%s\" in the catalog, the doc says \"%s\"", name,
                lineno, type, want, got);
        snprintf (want, sizeof want, "Subject: `%s`", ab_catalog_subject (evtype));
        if (!s_next_content (&p, &line, &len, &lineno) || len != strlen (want)
            || memcmp (line, want, len) != 0)
            return ab_error_set (err, AB_E_INVALID, "%s:%d: `%s` must go on with \"%s\"", name,
                                 lineno, type, want);
    }
    for (int t = 1; t < AB_EV__COUNT; t++)
        if (!seen_at[t])
            return ab_error_set (err, AB_E_INVALID,
                                 "%s: no section for `%s`, which the catalog has", name,
                                 ab_catalog_name ((ab_evtype_t)t));
    return 0;
}

int
ab_doccheck_events_file (const char *path, ab_error_t **err)
{
    assert (path);
    FILE *file = fopen (path, "r");
    if (!file)
        return ab_error_errno (err, AB_E_IO, errno, "open %s", path);
    ab_auto_free char *text = NULL;
    size_t size = 0;
    ssize_t got = getdelim (&text, &size, 0, file); //  the whole file: it has no NUL
    int read_errno = errno;
    fclose (file);
    if (got < 0 && !text)
        return ab_error_errno (err, AB_E_IO, read_errno, "read %s", path);
    return ab_doccheck_events (got < 0 ? "" : text, path, err);
}

//  A doc for the real catalog, generated, so the test can break it on purpose.
static char *
s_good_doc (void)
{
    size_t size = 0;
    char *text = NULL;
    FILE *out = open_memstream (&text, &size);
    assert (out);
    fprintf (out, "# Events\n\nIntro `text`.\n\n## Nodes\n\n");
    for (int t = 1; t < AB_EV__COUNT; t++) {
        char roles[256];
        s_roles ((ab_evtype_t)t, roles, sizeof roles);
        fprintf (out, "### `%s`\n\nEmitted by: %s\nSubject: `%s`\n\nWhat it does.\n\n",
                 ab_catalog_name ((ab_evtype_t)t), roles, ab_catalog_subject ((ab_evtype_t)t));
    }
    fclose (out);
    return text;
}

//  text with the first occurrence of from replaced by to.
static char *
s_edit (const char *text, const char *from, const char *to)
{
    const char *at = strstr (text, from);
    assert (at);
    char *out = malloc (strlen (text) + strlen (to) + 1);
    assert (out);
    size_t head = (size_t)(at - text);
    memcpy (out, text, head);
    strcpy (out + head, to);
    strcat (out, at + strlen (from));
    return out;
}

void
ab_doccheck_test (bool verbose)
{
    printf (" * ab_doccheck: ");
    //  The real doc agrees with the real catalog.
    ab_auto_error ab_error_t *err = NULL;
    int rc = ab_doccheck_events_file (ABBEY_SOURCE_DIR "/docs/events.md", &err);
    if (rc)
        fprintf (stderr, "\n%s\n", ab_error_msg (err));
    assert (rc == 0);

    //  And the check can fail: each kind of disagreement is caught.
    ab_auto_free char *good = s_good_doc ();
    assert (ab_doccheck_events (good, "t.md", &err) == 0);
    static const struct {
        const char *from, *to, *expect;
    } cases[] = {
        { "Emitted by: agent\nSubject: `node/<node>`", "Emitted by: admin\nSubject: `node/<node>`",
          "the doc says \"admin\"" },
        { "Emitted by: admin, agent", "Emitted by: agent, admin", "emitted by \"admin, agent\"" },
        { "Emitted by: admin, agent", "Emitted by: admin, agent, monitor", "the doc says" },
        { "### `node.lost`", "### `node.vanished`", "`node.vanished` is not in the catalog" },
        { "### `note.added`", "### `node.joined`", "already has a section" },
        { "### `secret.removed`", "### secret.removed", "no section for `secret.removed`" },
        { "Subject: `lease/<name>`", "Subject: `lease/<id>`",
          "must go on with \"Subject: `lease/<name>`\"" },
        { "### `stack.ready`\n\nEmitted by", "### `stack.ready`\n\nEmitted from",
          "must go on with \"Emitted by: scheduler\"" },
        { "### `stack.ready`", "### `stack.ready` (outcome)", "with nothing after" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ab_auto_free char *bad = s_edit (good, cases[i].from, cases[i].to);
        ab_error_destroy (&err);
        rc = ab_doccheck_events (bad, "t.md", &err);
        if (rc == 0 || !strstr (ab_error_msg (err), cases[i].expect))
            fprintf (stderr, "\ncase %zu: rc %d '%s'\n", i, rc, ab_error_msg (err));
        assert (rc == -AB_E_INVALID);
        assert (strstr (ab_error_msg (err), cases[i].expect));
        assert (strstr (ab_error_msg (err), "t.md"));
        if (verbose)
            printf ("\n   %s", ab_error_msg (err));
    }
    ab_error_destroy (&err);
    assert (ab_doccheck_events_file ("/nonexistent/events.md", &err) == -AB_E_IO);
    printf ("OK\n");
}
