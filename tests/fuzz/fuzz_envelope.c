/*  fuzz_envelope - libFuzzer target for the envelope decoder (bus/ab_event)
    Feeds the input to ab_event_decode in both forms. Whatever decodes must
    be canonical-stable: it encodes, the encoding decodes again, and that
    re-encodes to the very same bytes. Its JSON view must exist (data is
    validated to be JSON-representable). The input is also tried as a bare
    data map, cross-checked against msgpack-c's unpacker. Checks abort() rather than assert
    so they hold in NDEBUG builds too.                                      */
#include "ab_event.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"

static void
s_one (const uint8_t *data, size_t size, ab_event_form_t form)
{
    ab_error_t *err = NULL;
    ab_event_t *e = ab_event_decode (data, size, form, 0, &err);
    if (!e) {
        //  Every refusal says why, and names an error from the table
        FUZZ_CHECK (err && err->msg && *err->msg);
        FUZZ_CHECK (err->code == AB_E_MALFORMED || err->code == AB_E_OVERSIZE);
        ab_error_destroy (&err);
        return;
    }
    FUZZ_CHECK (err == NULL);
    size_t n1 = 0, n2 = 0;
    uint8_t *b1 = ab_event_encode (e, &n1, &err);
    if (!b1)
        fprintf (stderr, "fuzz_envelope: encode failed: %s\n", ab_error_msg (err));
    FUZZ_CHECK (b1);
    ab_event_t *e2 = ab_event_decode (b1, n1, form, 0, &err);
    if (!e2)
        fprintf (stderr, "fuzz_envelope: re-decode failed: %s\n", ab_error_msg (err));
    FUZZ_CHECK (e2);
    uint8_t *b2 = ab_event_encode (e2, &n2, &err);
    FUZZ_CHECK (b2 && n1 == n2 && memcmp (b1, b2, n1) == 0);
    //  The hash is a function of the canonical bytes
    FUZZ_CHECK (ab_event_hash_ok (e) == ab_event_hash_ok (e2));
    //  A copy encodes the same
    ab_event_t *e3 = ab_event_dup (e);
    size_t n3 = 0;
    uint8_t *b3 = ab_event_encode (e3, &n3, &err);
    FUZZ_CHECK (b3 && n3 == n1 && memcmp (b1, b3, n1) == 0);
    //  Every valid event has a JSON view, data included
    json_t *j = ab_event_to_json (e);
    FUZZ_CHECK (j && json_is_object (json_object_get (j, "data")));
    json_decref (j);
    free (b1);
    free (b2);
    free (b3);
    ab_event_destroy (&e);
    ab_event_destroy (&e2);
    ab_event_destroy (&e3);
}

//  The input as a data map alone: what the validator accepts, msgpack-c's
//  unpacker must accept too (JSON view), and JSON → msgpack → JSON must be
//  stable and accepted again as data.
static void
s_data (const uint8_t *data, size_t size)
{
    ab_event_t *e = ab_event_new ("note.added", "stack/fuzz");
    ab_error_t *err = NULL;
    if (ab_event_set_data (e, data, size, &err) == 0) {
        json_t *j = ab_msgpack_to_json (data, size, &err);
        if (!j)
            fprintf (stderr, "fuzz_envelope: valid data has no JSON view: %s\n",
                     ab_error_msg (err));
        FUZZ_CHECK (j && json_is_object (j));
        size_t n = 0;
        uint8_t *mp = ab_json_to_msgpack (j, &n, &err);
        FUZZ_CHECK (mp);
        FUZZ_CHECK (ab_event_set_data (e, mp, n, &err) == 0);
        json_t *j2 = ab_msgpack_to_json (mp, n, &err);
        FUZZ_CHECK (j2 && json_equal (j, j2));
        json_decref (j);
        json_decref (j2);
        free (mp);
    } else
        FUZZ_CHECK (err && err->msg && *err->msg);
    ab_error_destroy (&err);
    ab_event_destroy (&e);
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    s_one (data, size, AB_EVENT_PRODUCED);
    s_one (data, size, AB_EVENT_COMMITTED);
    s_data (data, size);
    return 0;
}
