/*  ab_evrun - the body of an `ev.` bus message: a run of committed events  */
//  Selftests assert behaviour: keep assert live in release builds too.
#undef NDEBUG
#include <assert.h>

#include "ab_evrun.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
ab_evrun_free (ab_event_t ***events_p, size_t count)
{
    assert (events_p);
    ab_event_t **events = *events_p;
    if (events) {
        for (size_t i = 0; i < count; i++)
            ab_event_destroy (&events[i]);
        free (events);
        *events_p = NULL;
    }
}

int
ab_evrun_parse (const char *topic, const uint8_t *body, size_t size, ab_event_t ***events_p,
                size_t *count_p, ab_error_t **err)
{
    assert (topic);
    assert (body || size == 0);
    assert (events_p && count_p);
    if (strncmp (topic, "ev.", 3) != 0)
        return ab_error_set (err, AB_E_MALFORMED, "bus: '%s' is not an event topic", topic);
    if (size > AB_EVRUN_MAX)
        return ab_error_set (err, AB_E_OVERSIZE,
                             "bus: events on '%s': body of %zu bytes exceeds the limit of %d",
                             topic, size, AB_EVRUN_MAX);
    if (size == 0)
        return ab_error_set (err, AB_E_MALFORMED, "bus: events on '%s': empty body", topic);
    size_t count = 0, cap = 0;
    ab_event_t **events = NULL;
    int rc = 0;
    for (size_t at = 0; at < size && rc == 0;) {
        size_t used = 0;
        ab_event_t *ev = ab_event_decode_next (body + at, size - at, AB_EVENT_COMMITTED,
                                               AB_FRAME_MAX, &used, err);
        if (!ev) {
            rc = ab_error_wrap (err, "bus: event %zu on '%s'", count, topic);
            break;
        }
        if (strcmp (topic + 3, ab_event_type (ev)) != 0)
            rc = ab_error_set (err, AB_E_MALFORMED,
                               "bus: topic '%s' carries an event of type '%s' (event %zu)", topic,
                               ab_event_type (ev), count);
        else if (count && ab_event_seq (ev) != ab_event_seq (events[count - 1]) + 1)
            rc = ab_error_set (err, AB_E_MALFORMED,
                               "bus: events on '%s': seq %" PRIu64 " follows seq %" PRIu64
                               " (event %zu; a message holds consecutive seqs)",
                               topic, ab_event_seq (ev), ab_event_seq (events[count - 1]), count);
        if (rc) {
            ab_event_destroy (&ev);
            break;
        }
        if (count == cap) {
            cap = cap ? cap * 2 : 8;
            ab_event_t **grown = realloc (events, cap * sizeof *events);
            assert (grown);
            events = grown;
        }
        events[count++] = ev;
        at += used;
    }
    if (rc) {
        ab_evrun_free (&events, count);
        return rc;
    }
    *events_p = events;
    *count_p = count;
    return 0;
}

//  --------------------------------------------------------------------------
//  Selftest

//  Same as ab_testrig_committed: this file is also built alone into the
//  fuzz_evrun target, which does not link the rig (busd, keys).
static uint8_t *
s_committed (uint64_t seq, const char *type, size_t *size)
{
    ab_event_t *ev = ab_event_new (type, "note/selftest");
    assert (ev);
    assert (ab_event_set_data_json (ev, "{\"text\": \"hello\"}", NULL) == 0);
    ab_event_set_pseq (ev, seq);
    uint8_t prev[AB_HASH_SIZE] = { 0 };
    ab_event_seal (ev, seq, 1700000000000000000ull + seq, "logd:logd:selftest", prev);
    uint8_t *buf = ab_event_encode (ev, size, NULL);
    assert (buf);
    ab_event_destroy (&ev);
    return buf;
}

void
ab_evrun_test (bool verbose)
{
    printf (" * ab_evrun: ");
    (void)verbose;
    ab_error_t *err = NULL;
    //  seqs 5, 6, 7 of note.added back to back, and seq 7 of another type
    uint8_t run[4096];
    size_t at = 0, sizes[4];
    uint8_t *evs[4];
    for (int i = 0; i < 4; i++) {
        evs[i] = s_committed (5 + (uint64_t)(i < 3 ? i : 2), i < 3 ? "note.added" : "note.removed",
                              &sizes[i]);
        assert (at + sizes[i] <= sizeof run);
        memcpy (run + at, evs[i], sizes[i]);
        at += sizes[i];
    }
    size_t three = sizes[0] + sizes[1] + sizes[2];
    ab_event_t **events = NULL;
    size_t count = 0;
    assert (ab_evrun_parse ("ev.note.added", run, three, &events, &count, &err) == 0);
    assert (count == 3);
    for (size_t i = 0; i < 3; i++)
        assert (ab_event_seq (events[i]) == 5 + i && ab_event_hash_ok (events[i]));
    ab_evrun_free (&events, count);
    assert (events == NULL);
    //  one event alone is a run of one
    assert (ab_evrun_parse ("ev.note.added", run, sizes[0], &events, &count, &err) == 0);
    assert (count == 1);
    ab_evrun_free (&events, count);

    //  Refused whole, naming the topic and the event: a torn tail, a type
    //  the topic does not name, a seq gap, a non-event topic, empty, oversize
    assert (ab_evrun_parse ("ev.note.added", run, three - 1, &events, &count, &err)
            == -AB_E_MALFORMED);
    assert (strstr (err->msg, "event 2 on 'ev.note.added'") && events == NULL);
    assert (ab_evrun_parse ("ev.note.added", run, at, &events, &count, &err) == -AB_E_MALFORMED);
    assert (strstr (err->msg, "type 'note.removed' (event 3)"));
    memcpy (run + sizes[0], evs[2], sizes[2]); //  5 then 7
    assert (ab_evrun_parse ("ev.note.added", run, sizes[0] + sizes[2], &events, &count, &err)
            == -AB_E_MALFORMED);
    assert (strstr (err->msg, "seq 7 follows seq 5"));
    assert (ab_evrun_parse ("sig.note", run, sizes[0], &events, &count, &err) == -AB_E_MALFORMED);
    assert (ab_evrun_parse ("ev.note.added", run, 0, &events, &count, &err) == -AB_E_MALFORMED);
    assert (ab_evrun_parse ("ev.note.added", run, AB_EVRUN_MAX + 1, &events, &count, &err)
            == -AB_E_OVERSIZE);
    for (int i = 0; i < 4; i++)
        free (evs[i]);
    ab_error_destroy (&err);
    printf ("OK\n");
}
