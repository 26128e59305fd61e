/*  fuzz_kit - libFuzzer target for the kit loader and compiler (compose/ab_kit)
    Feeds the input as a kit document, as a values file and as a --set
    assignment, then compiles and publishes. Properties: nothing crashes or
    leaks; a failed compile always says why (at least one error line); a
    successful one is sealed (its version verifies), passes the cross-service
    checks, is deterministic (a second compile is byte-identical) and diffs
    empty against itself; every published kit has a 64-digit digest. Checks
    abort() rather than assert so they hold in NDEBUG builds too.          */
#include "ab_diag.h"
#include "ab_kit.h"
#include "ab_spec.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"

//  Published kits for the lookup: one fixed base, so inherits of a
//  published name is exercised too.
static char *
s_lookup (void *arg, const char *name, size_t *size, ab_error_t **err)
{
    (void)arg;
    if (strcmp (name, "base/svc") != 0)
        return NULL;
    const char *doc = "{\"defines\":\"service\",\"image\":\"base:1\",\"ports\":[80],\"variables\":{"
                      "\"n\":{\"type\":\"int\",\"value\":1,\"env\":\"N\"}}}";
    *size = strlen (doc);
    return strdup (doc);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    ab_diag_t *diag = ab_diag_new ();
    ab_kit_t *kit = ab_kit_new ();
    ab_kit_set_lookup (kit, s_lookup, NULL);
    int loaded = ab_kit_load (kit, "fuzz.yaml", (const char *)data, size, diag);
    FUZZ_CHECK (loaded == 0 || ab_diag_errors (diag) > 0);

    //  The same bytes as a values file and a --set (NUL-free prefix).
    ab_diag_t *extra = ab_diag_new ();
    ab_kit_values (kit, "values.yaml", (const char *)data, size, extra);
    char assignment[128];
    size_t n = size < sizeof assignment - 1 ? size : sizeof assignment - 1;
    memcpy (assignment, data, n);
    assignment[n] = 0;
    ab_kit_set (kit, assignment, extra);
    ab_diag_destroy (&extra);

    ab_diag_t *cdiag = ab_diag_new ();
    json_t *spec = ab_kit_compile (kit, NULL, NULL, cdiag);
    if (!spec)
        FUZZ_CHECK (ab_diag_errors (cdiag) > 0 && ab_diag_size (cdiag) > 0
                    && *ab_diag_text (cdiag, 0));
    else {
        FUZZ_CHECK (ab_diag_errors (cdiag) == 0);
        FUZZ_CHECK (ab_spec_verify (spec));
        ab_diag_t *check = ab_diag_new ();
        FUZZ_CHECK (ab_spec_check (spec, NULL, check) == 0);
        ab_diag_destroy (&check);
        ab_diag_t *again_diag = ab_diag_new ();
        json_t *again = ab_kit_compile (kit, NULL, NULL, again_diag);
        FUZZ_CHECK (again);
        char *a = ab_spec_canonical (spec), *b = ab_spec_canonical (again);
        FUZZ_CHECK (a && b && strcmp (a, b) == 0);
        free (a);
        free (b);
        json_t *diff = ab_spec_diff (spec, again);
        FUZZ_CHECK (ab_spec_diff_empty (diff));
        json_decref (diff);
        json_decref (again);
        ab_diag_destroy (&again_diag);
        json_decref (spec);
    }
    ab_diag_destroy (&cdiag);

    for (size_t i = 0; i < ab_kit_size (kit) && i < 16; i++) {
        ab_diag_t *pdiag = ab_diag_new ();
        json_t *body = ab_kit_publish (kit, ab_kit_name (kit, i), pdiag);
        if (body)
            FUZZ_CHECK (strlen (json_string_value (json_object_get (body, "digest"))) == 64);
        else
            FUZZ_CHECK (ab_diag_errors (pdiag) > 0);
        json_decref (body);
        ab_diag_destroy (&pdiag);
    }
    ab_kit_destroy (&kit);
    ab_diag_destroy (&diag);
    return 0;
}
