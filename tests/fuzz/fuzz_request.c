/*  fuzz_request - libFuzzer target for the abbey-logd request parser
    (eventlog/ab_proto) and, on the same bytes, the reply parser clients use.
    A request that decodes must re-encode to bytes that decode to the same
    request; an APPEND's envelopes are then checked as logd does, for every
    role, and a refusal must name an event index inside the request. Every
    refusal carries a message and an error from the table. Checks abort()
    rather than assert so they hold in NDEBUG builds too.                  */
#include "ab_proto.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"

static void
s_refused (ab_error_t **err)
{
    FUZZ_CHECK (err && *err && (*err)->msg && *(*err)->msg);
    FUZZ_CHECK ((*err)->code > AB_OK && (*err)->code < AB_E__COUNT);
    ab_error_destroy (err);
}

static void
s_request (const uint8_t *data, size_t size)
{
    ab_proto_request_t req;
    ab_error_t *err = NULL;
    if (ab_proto_decode_request (data, size, AB_PROTO_PRODUCED_MAX, &req, &err)) {
        FUZZ_CHECK (err->code == AB_E_MALFORMED || err->code == AB_E_OVERSIZE);
        FUZZ_CHECK (req.bad_index < 0 || req.bad_index < AB_PROTO_APPEND_MAX);
        s_refused (&err);
        ab_proto_request_clear (&req);
        return;
    }
    //  Round trip: our encoding of what we understood decodes the same.
    size_t n = 0;
    uint8_t *again = NULL;
    if (req.op == AB_PROTO_APPEND) {
        FUZZ_CHECK (req.count >= 1 && req.count <= AB_PROTO_APPEND_MAX);
        again = ab_proto_encode_append (req.reqid, req.envs, req.count, &n);
    } else if (req.op == AB_PROTO_READ) {
        FUZZ_CHECK (req.from >= 1);
        again = ab_proto_encode_read (req.reqid, req.from, req.max_events, req.max_bytes, &n);
    } else {
        FUZZ_CHECK (req.op == AB_PROTO_HEAD);
        again = ab_proto_encode_head (req.reqid, &n);
    }
    FUZZ_CHECK (again);
    ab_proto_request_t req2;
    FUZZ_CHECK (ab_proto_decode_request (again, n, AB_PROTO_PRODUCED_MAX, &req2, &err) == 0);
    FUZZ_CHECK (req2.op == req.op && req2.reqid == req.reqid && req2.count == req.count);
    FUZZ_CHECK (req2.from == req.from && req2.max_events == req.max_events
                && req2.max_bytes == req.max_bytes);
    for (size_t i = 0; i < req.count; i++)
        FUZZ_CHECK (req2.envs[i].size == req.envs[i].size
                    && memcmp (req2.envs[i].data, req.envs[i].data, req.envs[i].size) == 0);
    ab_proto_request_clear (&req2);
    free (again);

    //  What logd does next with an APPEND, for every role.
    if (req.op == AB_PROTO_APPEND) {
        for (int role = AB_ROLE_NONE; role < AB_ROLE__COUNT; role++) {
            ab_event_t **events = NULL;
            size_t bad = 0;
            if (ab_proto_check_append (&req, (ab_role_t)role, AB_PROTO_PRODUCED_MAX, &events, &bad,
                                       &err)
                == 0) {
                FUZZ_CHECK (events && err == NULL);
                for (size_t i = 0; i < req.count; i++) {
                    FUZZ_CHECK (events[i]);
                    ab_evtype_t t = ab_catalog_type (ab_event_type (events[i]));
                    FUZZ_CHECK (t != AB_EV_UNKNOWN && ab_catalog_allows ((ab_role_t)role, t));
                }
                ab_proto_events_destroy (&events, req.count);
            } else {
                FUZZ_CHECK (events == NULL && bad < req.count);
                s_refused (&err);
            }
        }
    }
    ab_proto_request_clear (&req);
}

static void
s_reply (const uint8_t *data, size_t size)
{
    ab_proto_reply_t reply;
    ab_error_t *err = NULL;
    if (ab_proto_decode_reply (data, size, &reply, &err)) {
        FUZZ_CHECK (err->code == AB_E_MALFORMED || err->code == AB_E_SYSTEM);
        s_refused (&err);
    } else if (reply.op == AB_PROTO_NACK)
        FUZZ_CHECK (reply.message && reply.code > AB_OK && reply.code < AB_E__COUNT);
    ab_proto_reply_clear (&reply);
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    s_request (data, size);
    s_reply (data, size);
    return 0;
}
