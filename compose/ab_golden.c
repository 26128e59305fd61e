/*  ab_golden - test files for the compose selftests: read, write, compare  */
//  Selftests assert behaviour: keep assert live in release builds too.
#undef NDEBUG
#include <assert.h>

#include "ab_golden.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef ABBEY_COMPOSE_DIR
#define ABBEY_COMPOSE_DIR "compose"
#endif

const char *
ab_golden_dir (void)
{
    return ABBEY_COMPOSE_DIR;
}

char *
ab_golden_read (const char *rel, size_t *size)
{
    assert (rel);
    char path[1024];
    snprintf (path, sizeof path, "%s/%s", ABBEY_COMPOSE_DIR, rel);
    FILE *f = fopen (path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream (&buf, &len);
    assert (out);
    char chunk[4096];
    size_t n;
    while ((n = fread (chunk, 1, sizeof chunk, f)) > 0)
        fwrite (chunk, 1, n, out);
    fclose (f);
    fclose (out);
    if (size)
        *size = len;
    return buf;
}

void
ab_golden_write (const char *rel, const char *text)
{
    assert (rel);
    assert (text);
    char path[1024];
    snprintf (path, sizeof path, "%s/%s", ABBEY_COMPOSE_DIR, rel);
    FILE *f = fopen (path, "w");
    assert (f);
    fputs (text, f);
    assert (fclose (f) == 0);
}

bool
ab_golden_update (void)
{
    return getenv ("ABBEY_UPDATE_GOLDEN") != NULL;
}

void
ab_golden_check (const json_t *value, const char *rel)
{
    char *text = json_dumps (value, JSON_SORT_KEYS | JSON_INDENT (2));
    assert (text);
    if (ab_golden_update ()) {
        size_t len = strlen (text);
        text = realloc (text, len + 2);
        assert (text);
        strcpy (text + len, "\n");
        ab_golden_write (rel, text);
    }
    char *want = ab_golden_read (rel, NULL);
    if (!want || strncmp (want, text, strlen (text)) != 0) {
        fprintf (stderr, "golden mismatch: %s/%s (regenerate with ABBEY_UPDATE_GOLDEN=1)\n%s\n",
                 ABBEY_COMPOSE_DIR, rel, text);
        assert (false);
    }
    free (want);
    free (text);
}

void
ab_golden_test (bool verbose)
{
    (void)verbose;
    printf (" * ab_golden: ");
    //  reads what is there, byte for byte, and says NULL for what is not
    size_t size = 0;
    char *text = ab_golden_read ("examples/shop.kit.yaml", &size);
    assert (text && size == strlen (text) && strstr (text, "defines:"));
    free (text);
    assert (ab_golden_read ("examples/no-such-file", &size) == NULL);
    //  a golden file matches the value it holds
    text = ab_golden_read ("testdata/webapp.json", NULL);
    assert (text);
    json_t *value = json_loads (text, 0, NULL);
    assert (value);
    ab_golden_check (value, "testdata/webapp.json");
    json_decref (value);
    free (text);
    printf ("OK\n");
}
