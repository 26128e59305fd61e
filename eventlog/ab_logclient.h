/*  ab_logclient - a DEALER client of abbey-logd: append, read, head
    Used by the CLI, services, followers, tests and benchmarks. Speaks
    ab_proto over CURVE as the identity in the given certificate.

    Rules of the API:
    - One thread per client (it owns a ZeroMQ socket).
    - Appends are idempotent: an event whose pseq is 0 gets one, written
      back into the event, so a resend after a timeout carries the same
      pseq and logd's dedupe answers with the original seq. Assigned pseqs
      are (counter << 20 | session): the counter is seeded from
      CLOCK_REALTIME ms (CONTRACTS.md: a restart never reuses a pseq), the
      20-bit session is random per client so concurrent clients sharing a
      key do not collide. A caller that sets its own pseqs must keep them
      unique per key.
    - A NACK becomes an ab_error_t whose code is the NACK's error name and
      whose message is logd's. No answer in time is AB_E_TIMEOUT.
    - Read hands events over in seq order, each exactly once, as owned
      ab_event_t (decoded strictly, COMMITTED form).                        */
#ifndef AB_LOGCLIENT_H
#define AB_LOGCLIENT_H

#include "ab_cluster.h"
#include "ab_error.h"
#include "ab_event.h"
#include <czmq.h>
#include <stdint.h>

typedef struct _ab_logclient_t ab_logclient_t;

//  Called for each event of a read, in seq order. Take the event by nulling
//  *event_p, or leave it to be destroyed. Return non-zero to stop the read.
typedef int (ab_logclient_fn) (ab_event_t **event_p, void *arg);

//  Connect to logd at endpoint, whose CURVE public key is server_key (Z85),
//  as the identity in cert (which must hold a secret key; its keys are
//  copied, cert stays the caller's). NULL and *err (invalid) on bad input.
//  Connecting is lazy: a logd that is down shows up as a timeout later.
ab_logclient_t *ab_logclient_new (const char *endpoint, const char *server_key, zcert_t *cert,
                                  ab_error_t **err);

//  Connect to the logd of a cluster file as identity `name` (its secret
//  cert from the cluster's key directory; NULL means "admin").
ab_logclient_t *ab_logclient_new_cluster (ab_cluster_t *cluster, const char *name,
                                          ab_error_t **err);

//  Close and null the reference. Safe on NULL.
void ab_logclient_destroy (ab_logclient_t **self_p);

//  Timeout for read and head requests, in ms (default 5000).
void ab_logclient_set_timeout (ab_logclient_t *self, int timeout_ms);

//  Whether reads recompute each event's hash (default true). A bulk
//  reader that trusts logd (a rebuild) may turn it off; seq and prev-link
//  checks stay, and ab_logclient_verify always checks.
void ab_logclient_set_check_hashes (ab_logclient_t *self, bool check);

//  Append n events and wait for the ACK: fills seqs_out[n] (may be NULL).
//  Assigns pseq to events with pseq 0 (events are modified). If logd does
//  not answer, reconnects and resends the same bytes until timeout_ms has
//  passed in all. Returns 0, or negative and *err: the NACK's code and
//  message (index of the offending event in it), timeout, invalid.
int ab_logclient_append (ab_logclient_t *self, ab_event_t **events, size_t n, uint64_t *seqs_out,
                         int timeout_ms, ab_error_t **err);

//  Pipelined append: encode and send one APPEND without waiting (pseqs as
//  ab_logclient_append). Returns its reqid (> 0), or negative and *err.
//  The request stays in flight until its reply is received.
int64_t ab_logclient_send_append (ab_logclient_t *self, ab_event_t **events, size_t n,
                                  ab_error_t **err);

//  Receive the next reply to an in-flight append, waiting ≤ timeout_ms.
//  On ACK returns 0, *reqid_out = its reqid, *seqs_out = its seqs (borrowed,
//  valid until the next call on this client) and *count_out their number.
//  On NACK returns negative with *reqid_out set and *err from the NACK.
//  On timeout returns -AB_E_TIMEOUT with *reqid_out = 0: the caller may
//  ab_logclient_resend, or give up.
int ab_logclient_recv_reply (ab_logclient_t *self, uint64_t *reqid_out, const uint64_t **seqs_out,
                             size_t *count_out, int timeout_ms, ab_error_t **err);

//  Appends sent and not yet answered.
size_t ab_logclient_inflight (ab_logclient_t *self);

//  Reconnect (a fresh socket) and resend every in-flight append, same
//  reqids and bytes; replies to the old socket are lost, dedupe makes the
//  resend safe. 0 or negative and *err.
int ab_logclient_resend (ab_logclient_t *self, ab_error_t **err);

//  Read events with seq ≥ from, in order, calling fn for each, up to
//  max_events of them (0: up to the head as logd saw it when the read
//  ended). Checks that seqs are gapless from `from`, each event's hash
//  matches its content and its prev is the hash of the one before. Returns the number of events
//  handed to fn, or negative and *err: truncated (history before logd's first seq), timeout,
//  protocol/corrupt (logd sent something wrong).
int64_t ab_logclient_read (ab_logclient_t *self, uint64_t from, uint64_t max_events,
                           ab_logclient_fn *fn, void *arg, ab_error_t **err);

//  Recompute the chain over [from, to] as logd serves it (to = 0: the
//  head): every event decodes, carries its seq, hashes to its `hash` and
//  links to the one before; reading to the head, logd's head hash must be
//  the last one's; from - 1 is read too, as the link into the range. A
//  from before logd's first seq starts at it (what the log holds is what
//  can be verified), anchored by the prev the first event carries. 0 if
//  intact; else negative, *bad_seq = the first bad seq and *err (corrupt)
//  naming it; *bad_seq 0 for other failures (timeout...).
int ab_logclient_verify (ab_logclient_t *self, uint64_t from, uint64_t to, uint64_t *bad_seq,
                         ab_error_t **err);

//  First seq whose ts (log time, ns) is ≥ ts, head + 1 if none: a binary
//  search of single-event reads (log time is monotonic). For `--since`.
//  Negative and *err on failure (truncated, timeout...).
int64_t ab_logclient_seq_at_time (ab_logclient_t *self, uint64_t ts, ab_error_t **err);

//  Head seq of the log (0 when empty); copies its hash into hash if not
//  NULL. Negative and *err on failure (timeout, ...).
int64_t ab_logclient_head (ab_logclient_t *self, uint8_t hash[AB_HASH_SIZE], ab_error_t **err);

//  First seq logd still holds (1 until retention drops history; reading
//  before it is AB_E_TRUNCATED). Negative and *err on failure.
int64_t ab_logclient_first (ab_logclient_t *self, ab_error_t **err);

//  Endpoint this client talks to. Borrowed.
const char *ab_logclient_endpoint (ab_logclient_t *self);

void ab_logclient_test (bool verbose);

#endif
