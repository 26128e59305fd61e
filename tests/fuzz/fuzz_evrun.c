/*  fuzz_evrun - libFuzzer target for the ev. bus message body (bus/ab_evrun)
    Input: one byte L, then L bytes of topic, then the body. What parses
    must hold its promises: count ≥ 1, every event of the topic's type,
    seqs consecutive, and the events' canonical encodings back to back
    parse again to the same seqs and hashes. A refusal names an error from
    the table. Checks abort() rather than assert so they hold in NDEBUG
    builds too.                                                             */
#include "ab_evrun.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 1 || (size_t)data[0] + 1 > size)
        return 0;
    char topic[256];
    memcpy (topic, data + 1, data[0]);
    topic[data[0]] = 0;
    const uint8_t *body = data + 1 + data[0];
    size_t body_size = size - 1 - data[0];
    ab_error_t *err = NULL;
    ab_event_t **events = NULL;
    size_t count = 0;
    if (ab_evrun_parse (topic, body, body_size, &events, &count, &err) < 0) {
        FUZZ_CHECK (err && err->msg && *err->msg);
        FUZZ_CHECK (err->code == AB_E_MALFORMED || err->code == AB_E_OVERSIZE);
        FUZZ_CHECK (events == NULL);
        ab_error_destroy (&err);
        return 0;
    }
    FUZZ_CHECK (err == NULL && events && count >= 1);
    uint8_t *again = NULL;
    size_t again_size = 0;
    for (size_t i = 0; i < count; i++) {
        FUZZ_CHECK (strcmp (ab_event_type (events[i]), topic + 3) == 0);
        FUZZ_CHECK (i == 0 || ab_event_seq (events[i]) == ab_event_seq (events[i - 1]) + 1);
        size_t n = 0;
        uint8_t *enc = ab_event_encode (events[i], &n, &err);
        FUZZ_CHECK (enc);
        again = realloc (again, again_size + n);
        FUZZ_CHECK (again);
        memcpy (again + again_size, enc, n);
        again_size += n;
        free (enc);
    }
    ab_event_t **events2 = NULL;
    size_t count2 = 0;
    //  canonical encodings are never longer, so they fit the limit too
    FUZZ_CHECK (ab_evrun_parse (topic, again, again_size, &events2, &count2, &err) == 0);
    FUZZ_CHECK (count2 == count);
    for (size_t i = 0; i < count; i++) {
        FUZZ_CHECK (ab_event_seq (events2[i]) == ab_event_seq (events[i]));
        FUZZ_CHECK (ab_event_hash_ok (events2[i]) == ab_event_hash_ok (events[i]));
    }
    ab_evrun_free (&events, count);
    ab_evrun_free (&events2, count2);
    free (again);
    return 0;
}
