/*  ab_evrun - the body of an `ev.` bus message: a run of committed events
    logd publishes one bus message per run of consecutive events of one
    type in a commit batch: topic `ev.<type>`, body the canonical envelopes
    back to back (a msgpack stream), at most AB_EVRUN_MAX bytes. CURVE and
    ZeroMQ cost per message, so a run of 100 costs about what one event did
    (docs/CONTRACTS.md "Bus topics", bus/README.md).

    Rules of the API:
    - Parsing is strict: every envelope decodes (ab_event_decode_next,
      COMMITTED), has the topic's type, and follows the one before it by
      exactly one seq. Anything else refuses the whole body (AB_E_MALFORMED,
      AB_E_OVERSIZE), naming the topic and the index of the event.
    - Pure: no sockets, reentrant.                                          */
#ifndef AB_EVRUN_H
#define AB_EVRUN_H

#include "ab_error.h"
#include "ab_event.h"

#define AB_EVRUN_MAX (1024 * 1024) //  bytes in the body of an ev. message

//  Parse the body of an `ev.` message under topic (as received). On success
//  *events is a malloc'd array of *count ≥ 1 events in seq order, the
//  caller's to release with ab_evrun_free; negative and *err otherwise.
int ab_evrun_parse (const char *topic, const uint8_t *body, size_t size, ab_event_t ***events,
                    size_t *count, ab_error_t **err);

//  Destroy count events, free the array and null the reference. Safe on NULL.
void ab_evrun_free (ab_event_t ***events_p, size_t count);

void ab_evrun_test (bool verbose);

#endif
