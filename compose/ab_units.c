/*  ab_units - cpu, memory and duration units                              */
//  Why: selftests assert behaviour, and the default build type defines NDEBUG.
#undef NDEBUG
#include "ab_units.h"

#include <assert.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Largest value we accept after scaling: well inside int64 and double's
//  exact integers, so no rounding surprises.
#define S_MAX 1e15

//  Read a non-negative decimal number at *p ("12", "0.5", ".5"); advance.
static bool
s_number (const char **p, double *out)
{
    const char *s = *p;
    size_t digits = 0;
    while (isdigit ((unsigned char)*s))
        s++, digits++;
    if (*s == '.') {
        s++;
        while (isdigit ((unsigned char)*s))
            s++, digits++;
    }
    if (!digits || s - *p > 32)
        return false;
    char buf[40];
    memcpy (buf, *p, s - *p);
    buf[s - *p] = 0;
    *out = strtod (buf, NULL);
    *p = s;
    return true;
}

int
ab_units_cpu (const char *text, int64_t *millicores, ab_error_t **err)
{
    assert (text && millicores);
    const char *p = text;
    double v;
    if (!s_number (&p, &v) || (*p && strcmp (p, "m") != 0))
        return ab_error_set (err, AB_E_INVALID,
                             "\"%s\" is not a cpu amount (expected cores like 0.5 or 2, or "
                             "millicores like 500m)",
                             text),
               -1;
    double m = *p == 'm' ? v : v * 1000.0;
    if (m > S_MAX || llround (m) <= 0)
        return ab_error_set (err, AB_E_INVALID,
                             "\"%s\" is not a usable cpu amount (at least 1m, i.e. 0.001 cores)",
                             text),
               -1;
    *millicores = llround (m);
    return 0;
}

int
ab_units_memory (const char *text, ab_units_style_t style, int64_t *bytes, ab_error_t **err)
{
    assert (text && bytes);
    const char *p = text;
    double v;
    const char *expected
        = style == AB_UNITS_KIT
              ? "expected bytes, or a number with K, M, G, T (powers of 1000) or Ki, Mi, Gi, Ti "
                "(powers of 1024), e.g. 512Mi"
              : "expected bytes, or a number with b, k, m, g (powers of 1024), e.g. 512m";
    if (!s_number (&p, &v))
        return ab_error_set (err, AB_E_INVALID, "\"%s\" is not a memory size (%s)", text, expected),
               -1;
    double scale = 0;
    if (style == AB_UNITS_KIT) {
        static const struct {
            const char *unit;
            double scale;
        } units[] = {
            { "", 1 },
            { "B", 1 },
            { "K", 1e3 },
            { "M", 1e6 },
            { "G", 1e9 },
            { "T", 1e12 },
            { "Ki", 1024.0 },
            { "Mi", 1048576.0 },
            { "Gi", 1073741824.0 },
            { "Ti", 1099511627776.0 },
            { "k", 1e3 },
        };
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
            if (strcmp (p, units[i].unit) == 0)
                scale = units[i].scale;
        if (scale == 0
            && (!strcmp (p, "m") || !strcmp (p, "mi") || !strcmp (p, "g") || !strcmp (p, "gi")))
            //  Why a hint: "512m" is millibytes in Kubernetes spelling and
            //  megabytes in docker's; make the user say which.
            return ab_error_set (err, AB_E_INVALID,
                                 "\"%s\" is not a memory size: unit \"%s\" is ambiguous (did you "
                                 "mean %.*s%ci?)",
                                 text, p, (int)(p - text), text, toupper ((unsigned char)*p)),
                   -1;
    } else {
        char unit[4] = "";
        size_t n = strlen (p);
        if (n < sizeof unit)
            for (size_t i = 0; i <= n; i++)
                unit[i] = (char)tolower ((unsigned char)p[i]);
        static const struct {
            const char *unit;
            double scale;
        } units[] = {
            { "", 1 },          { "b", 1 },          { "k", 1024.0 },       { "kb", 1024.0 },
            { "m", 1048576.0 }, { "mb", 1048576.0 }, { "g", 1073741824.0 }, { "gb", 1073741824.0 },
        };
        for (size_t i = 0; n < sizeof unit && i < sizeof units / sizeof units[0]; i++)
            if (strcmp (unit, units[i].unit) == 0)
                scale = units[i].scale;
    }
    if (scale == 0)
        return ab_error_set (err, AB_E_INVALID, "\"%s\" is not a memory size (%s)", text, expected),
               -1;
    double b = v * scale;
    if (b > S_MAX || llround (b) <= 0)
        return ab_error_set (err, AB_E_INVALID, "\"%s\" is not a usable memory size", text), -1;
    *bytes = llround (b);
    return 0;
}

int
ab_units_duration (const char *text, int64_t *ms, ab_error_t **err)
{
    assert (text && ms);
    static const struct {
        const char *unit;
        double ms;
    } units[] = {
        { "ns", 1e-6 }, { "us", 1e-3 }, { "ms", 1 }, { "s", 1e3 }, { "m", 6e4 }, { "h", 3.6e6 },
    };
    const char *p = text;
    double total = 0;
    int parts = 0;
    while (*p) {
        double v;
        if (!s_number (&p, &v))
            break;
        size_t len = 0;
        while (isalpha ((unsigned char)p[len]))
            len++;
        double scale = 0;
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
            if (len == strlen (units[i].unit) && strncmp (p, units[i].unit, len) == 0)
                scale = units[i].ms;
        if (scale == 0) {
            parts = 0;
            break;
        }
        total += v * scale;
        p += len;
        parts++;
    }
    if (*p || parts == 0)
        return ab_error_set (err, AB_E_INVALID,
                             "\"%s\" is not a duration (expected a number with a unit: ms, s, m or "
                             "h, e.g. 500ms, 2s, 1m30s)",
                             text),
               -1;
    if (total > S_MAX)
        return ab_error_set (err, AB_E_INVALID, "\"%s\" is too long a duration", text), -1;
    *ms = llround (total);
    return 0;
}

void
ab_units_test (bool verbose)
{
    printf (" * ab_units: ");
    ab_error_t *err = NULL;
    int64_t v = 0;
    assert (ab_units_cpu ("0.5", &v, &err) == 0 && v == 500);
    assert (ab_units_cpu ("2", &v, &err) == 0 && v == 2000);
    assert (ab_units_cpu ("500m", &v, &err) == 0 && v == 500);
    assert (ab_units_cpu ("0.25", &v, &err) == 0 && v == 250);
    v = 7;
    assert (ab_units_cpu ("1.5x", &v, &err) == -1 && v == 7);
    assert (strstr (err->msg, "\"1.5x\" is not a cpu amount"));
    assert (ab_units_cpu ("0", &v, &err) == -1);
    assert (ab_units_cpu ("-1", &v, &err) == -1);
    assert (ab_units_cpu ("", &v, &err) == -1);

    assert (ab_units_memory ("512Mi", AB_UNITS_KIT, &v, &err) == 0 && v == 512LL * 1024 * 1024);
    assert (ab_units_memory ("2Gi", AB_UNITS_KIT, &v, &err) == 0 && v == 2LL << 30);
    assert (ab_units_memory ("1G", AB_UNITS_KIT, &v, &err) == 0 && v == 1000000000LL);
    assert (ab_units_memory ("1.5Gi", AB_UNITS_KIT, &v, &err) == 0 && v == 3LL << 29);
    assert (ab_units_memory ("4096", AB_UNITS_KIT, &v, &err) == 0 && v == 4096);
    assert (ab_units_memory ("512m", AB_UNITS_KIT, &v, &err) == -1);
    assert (strstr (err->msg, "did you mean 512Mi?"));
    assert (ab_units_memory ("12XB", AB_UNITS_KIT, &v, &err) == -1);
    assert (strstr (err->msg, "is not a memory size"));
    assert (ab_units_memory ("512m", AB_UNITS_COMPOSE, &v, &err) == 0 && v == 512LL << 20);
    assert (ab_units_memory ("1GB", AB_UNITS_COMPOSE, &v, &err) == 0 && v == 1LL << 30);
    assert (ab_units_memory ("100k", AB_UNITS_COMPOSE, &v, &err) == 0 && v == 102400);
    assert (ab_units_memory ("1Gi", AB_UNITS_COMPOSE, &v, &err) == -1);
    assert (ab_units_memory ("99999999999999999999Ti", AB_UNITS_KIT, &v, &err) == -1);

    assert (ab_units_duration ("500ms", &v, &err) == 0 && v == 500);
    assert (ab_units_duration ("2s", &v, &err) == 0 && v == 2000);
    assert (ab_units_duration ("1m", &v, &err) == 0 && v == 60000);
    assert (ab_units_duration ("1m30s", &v, &err) == 0 && v == 90000);
    assert (ab_units_duration ("1.5s", &v, &err) == 0 && v == 1500);
    assert (ab_units_duration ("1h", &v, &err) == 0 && v == 3600000);
    assert (ab_units_duration ("0s", &v, &err) == 0 && v == 0);
    assert (ab_units_duration ("10", &v, &err) == -1);
    assert (strstr (err->msg, "\"10\" is not a duration"));
    assert (ab_units_duration ("5 s", &v, &err) == -1);
    assert (ab_units_duration ("5sec", &v, &err) == -1);
    assert (ab_units_duration ("", &v, &err) == -1);
    ab_error_destroy (&err);
    printf ("OK\n");
}
