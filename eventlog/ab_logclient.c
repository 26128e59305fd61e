/*  ab_logclient - a DEALER client of abbey-logd: append, read, head
    Requests carry a reqid; a reply whose reqid is not one we wait for
    (left over from a request we gave up on) is dropped, so a client can
    time out, reconnect and resend without confusing old and new answers. */
//  Selftests assert behaviour: keep assert live in release builds too.
#undef NDEBUG
#include <assert.h>

#include "ab_logclient.h"
#include "ab_keyring.h"
#include "ab_proto.h"

#include <sys/random.h>
#include <time.h>
#include <unistd.h>

//  Low bits of a client-assigned pseq that tell concurrent clients apart.
//  ms since 1970 (41 bits) + 20 leaves room until the year 2248.
#define S_SESSION_BITS 20

//  A sent append waiting for its reply.
typedef struct {
    uint64_t reqid;
    uint8_t *buf; //  the encoded APPEND, kept for resending
    size_t size;
    size_t count; //  events in it
} s_inflight_t;

struct _ab_logclient_t {
    char *endpoint;                      //  logd's ROUTER
    char server_key[AB_KEY_Z85_LEN + 1]; //  logd's public key
    char public_key[AB_KEY_Z85_LEN + 1]; //  ours
    char secret_key[AB_KEY_Z85_LEN + 1]; //  ours
    zsock_t *dealer;                     //  recreated by resend
    uint64_t next_reqid;
    uint64_t pseq_counter; //  seeded from CLOCK_REALTIME ms
    uint64_t pseq_session; //  S_SESSION_BITS random bits
    int timeout_ms;        //  read and head
    bool check_hashes;     //  reads recompute each event's hash
    zlistx_t *inflight;    //  s_inflight_t *, oldest first
    uint64_t *acked;       //  seqs of the last ACK, lent out
    size_t acked_cap;
};

static int64_t
s_now_ms (void)
{
    return zclock_mono ();
}

static void
s_inflight_destroy (void **item_p)
{
    s_inflight_t *f = (s_inflight_t *)*item_p;
    if (f) {
        free (f->buf);
        free (f);
        *item_p = NULL;
    }
}

static int
s_connect (ab_logclient_t *self, ab_error_t **err)
{
    zsock_destroy (&self->dealer);
    self->dealer = zsock_new (ZMQ_DEALER);
    if (!self->dealer)
        return ab_error_set (err, AB_E_SYSTEM, "logd %s: cannot create a socket", self->endpoint);
    zsock_set_curve_publickey (self->dealer, self->public_key);
    zsock_set_curve_secretkey (self->dealer, self->secret_key);
    zsock_set_curve_serverkey (self->dealer, self->server_key);
    //  Unsent requests die with the socket: a resend replaces them.
    zsock_set_linger (self->dealer, 0);
    zsock_set_sndhwm (self->dealer, 100000);
    zsock_set_rcvhwm (self->dealer, 100000);
    if (zsock_connect (self->dealer, "%s", self->endpoint) < 0) {
        int e = zmq_errno ();
        zsock_destroy (&self->dealer);
        return ab_error_errno (err, AB_E_INVALID, e, "logd %s: cannot connect", self->endpoint);
    }
    return 0;
}

static bool
s_z85_key_ok (const char *key)
{
    if (!key || strlen (key) != AB_KEY_Z85_LEN)
        return false;
    uint8_t bin[32];
    return zmq_z85_decode (bin, key) != NULL;
}

ab_logclient_t *
ab_logclient_new (const char *endpoint, const char *server_key, zcert_t *cert, ab_error_t **err)
{
    if (!endpoint || !*endpoint) {
        ab_error_set (err, AB_E_INVALID, "logd client: no endpoint");
        return NULL;
    }
    if (!s_z85_key_ok (server_key)) {
        ab_error_set (err, AB_E_INVALID,
                      "logd client: server key '%s' is not a 40-character Z85 key",
                      server_key ? server_key : "");
        return NULL;
    }
    if (!cert || !s_z85_key_ok (zcert_secret_txt (cert))
        || streq (zcert_secret_txt (cert), "0000000000000000000000000000000000000000")) {
        ab_error_set (err, AB_E_INVALID, "logd client: the certificate holds no secret key");
        return NULL;
    }
    ab_logclient_t *self = calloc (1, sizeof *self);
    assert (self);
    self->endpoint = strdup (endpoint);
    snprintf (self->server_key, sizeof self->server_key, "%s", server_key);
    snprintf (self->public_key, sizeof self->public_key, "%s", zcert_public_txt (cert));
    snprintf (self->secret_key, sizeof self->secret_key, "%s", zcert_secret_txt (cert));
    self->timeout_ms = 5000;
    self->check_hashes = true;
    self->next_reqid = 1;
    //  pseq = counter << S_SESSION_BITS | session. The counter is seeded
    //  from the wall clock (CONTRACTS.md) so a restarted producer starts
    //  past what it used before; the random session keeps concurrent
    //  clients that share a key (four benchmark producers as admin, two
    //  CLIs started in the same instant) from reusing each other's pseqs,
    //  which a plain clock seed does as soon as one sends more events than
    //  the ns between their starts.
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    self->pseq_counter = (uint64_t)ts.tv_sec * 1000ull + (uint64_t)ts.tv_nsec / 1000000;
    uint32_t r = 0;
    if (getrandom (&r, sizeof r, 0) != sizeof r)
        r = (uint32_t)ts.tv_nsec ^ (uint32_t)getpid () << 8;
    self->pseq_session = r & ((1u << S_SESSION_BITS) - 1);
    self->inflight = zlistx_new ();
    zlistx_set_destructor (self->inflight, s_inflight_destroy);
    if (s_connect (self, err)) {
        ab_logclient_destroy (&self);
        return NULL;
    }
    return self;
}

ab_logclient_t *
ab_logclient_new_cluster (ab_cluster_t *cluster, const char *name, ab_error_t **err)
{
    assert (cluster);
    if (!name)
        name = "admin";
    zcert_t *cert = ab_keyring_load_secret (ab_cluster_keys (cluster), name, err);
    if (!cert) {
        ab_error_wrap (err, "logd client as %s", name);
        return NULL;
    }
    ab_logclient_t *self = ab_logclient_new (ab_cluster_logd_endpoint (cluster),
                                             ab_cluster_logd_key (cluster), cert, err);
    zcert_destroy (&cert);
    return self;
}

void
ab_logclient_destroy (ab_logclient_t **self_p)
{
    assert (self_p);
    ab_logclient_t *self = *self_p;
    if (!self)
        return;
    zsock_destroy (&self->dealer);
    zlistx_destroy (&self->inflight);
    free (self->acked);
    free (self->endpoint);
    //  Do not leave the secret key in freed memory.
    memset (self->secret_key, 0, sizeof self->secret_key);
    free (self);
    *self_p = NULL;
}

void
ab_logclient_set_timeout (ab_logclient_t *self, int timeout_ms)
{
    assert (self);
    self->timeout_ms = timeout_ms > 0 ? timeout_ms : 1;
}

void
ab_logclient_set_check_hashes (ab_logclient_t *self, bool check)
{
    assert (self);
    self->check_hashes = check;
}

const char *
ab_logclient_endpoint (ab_logclient_t *self)
{
    assert (self);
    return self->endpoint;
}

size_t
ab_logclient_inflight (ab_logclient_t *self)
{
    assert (self);
    return zlistx_size (self->inflight);
}

//  --------------------------------------------------------------------------
//  Sending and receiving frames

//  Send one frame, waiting ≤ timeout_ms for the socket to take it (a
//  DEALER whose connection failed its handshake has nowhere to queue).
static int
s_send_frame (ab_logclient_t *self, const uint8_t *buf, size_t size, int timeout_ms,
              ab_error_t **err)
{
    void *sock = zsock_resolve (self->dealer);
    if (zmq_send (sock, buf, size, ZMQ_DONTWAIT) >= 0)
        return 0;
    if (timeout_ms > 0 && zmq_errno () == EAGAIN) {
        zmq_pollitem_t item = { sock, 0, ZMQ_POLLOUT, 0 };
        if (zmq_poll (&item, 1, timeout_ms) > 0 && zmq_send (sock, buf, size, ZMQ_DONTWAIT) >= 0)
            return 0;
    }
    return ab_error_set (err, AB_E_TIMEOUT, "logd %s: not connected, could not send within %d ms",
                         self->endpoint, timeout_ms);
}

//  Wait ≤ timeout_ms for one reply frame and decode it into reply.
//  0, or -AB_E_TIMEOUT, or another negative code (malformed reply).
static int
s_recv (ab_logclient_t *self, int timeout_ms, ab_proto_reply_t *reply, zmq_msg_t *msg,
        ab_error_t **err)
{
    zmq_pollitem_t item = { zsock_resolve (self->dealer), 0, ZMQ_POLLIN, 0 };
    int64_t deadline = s_now_ms () + (timeout_ms < 0 ? 0 : timeout_ms);
    while (true) {
        int64_t left = deadline - s_now_ms ();
        if (left < 0)
            left = 0;
        int rc = zmq_poll (&item, 1, (long)left);
        if (rc < 0 && zmq_errno () != EINTR)
            return ab_error_errno (err, AB_E_UNAVAILABLE, zmq_errno (), "logd %s", self->endpoint);
        if (rc > 0)
            break;
        if (rc < 0 && zsys_interrupted)
            return ab_error_set (err, AB_E_UNAVAILABLE, "logd %s: interrupted", self->endpoint);
        if (s_now_ms () >= deadline)
            return ab_error_set (err, AB_E_TIMEOUT, "logd %s did not answer within %d ms",
                                 self->endpoint, timeout_ms);
    }
    zmq_msg_close (msg);
    zmq_msg_init (msg);
    if (zmq_msg_recv (msg, zsock_resolve (self->dealer), 0) < 0)
        return ab_error_errno (err, AB_E_UNAVAILABLE, zmq_errno (), "logd %s", self->endpoint);
    //  Swallow any extra frames: logd's replies are one frame.
    bool broken = zmq_msg_more (msg);
    while (zmq_msg_more (msg)) {
        zmq_msg_t junk;
        zmq_msg_init (&junk);
        zmq_msg_recv (&junk, zsock_resolve (self->dealer), 0);
        bool more = zmq_msg_more (&junk);
        zmq_msg_close (&junk);
        if (!more)
            break;
    }
    if (broken)
        return ab_error_set (err, AB_E_PROTOCOL, "logd %s: reply of several frames",
                             self->endpoint);
    ab_proto_reply_clear (reply);
    if (ab_proto_decode_reply (zmq_msg_data (msg), zmq_msg_size (msg), reply, err)) {
        ab_error_wrap (err, "logd %s: bad reply", self->endpoint);
        return -AB_E_PROTOCOL;
    }
    return 0;
}

//  The NACK in reply as an error of its code and logd's message.
static int
s_nack_error (ab_logclient_t *self, ab_proto_reply_t *reply, ab_error_t **err)
{
    ab_code_t code = reply->code == AB_OK ? AB_E_PROTOCOL : reply->code;
    const char *msg = reply->message && *reply->message ? reply->message : ab_error_default (code);
    return ab_error_set (err, code, "%s", msg);
}

//  --------------------------------------------------------------------------
//  Appends

int64_t
ab_logclient_send_append (ab_logclient_t *self, ab_event_t **events, size_t n, ab_error_t **err)
{
    assert (self);
    if (!events || n == 0)
        return ab_error_set (err, AB_E_INVALID, "append: no events");
    if (n > AB_PROTO_APPEND_MAX)
        return ab_error_set (err, AB_E_OVERSIZE, "append: %zu events, more than %d per request", n,
                             AB_PROTO_APPEND_MAX);
    ab_proto_blob_t *blobs = calloc (n, sizeof *blobs);
    assert (blobs);
    int rc = 0;
    size_t i;
    for (i = 0; i < n; i++) {
        if (!events[i]) {
            rc = ab_error_set (err, AB_E_INVALID, "append: event %zu is NULL", i);
            break;
        }
        if (ab_event_pseq (events[i]) == 0)
            ab_event_set_pseq (events[i],
                               (self->pseq_counter++ << S_SESSION_BITS) | self->pseq_session);
        size_t size;
        uint8_t *bytes = ab_event_encode (events[i], &size, err);
        if (!bytes) {
            rc = ab_error_wrap (err, "append: event %zu", i);
            break;
        }
        if (size > AB_PROTO_PRODUCED_MAX) {
            free (bytes);
            rc = ab_error_set (err, AB_E_OVERSIZE,
                               "append: event %zu: %zu bytes, more than the limit of %d", i, size,
                               AB_PROTO_PRODUCED_MAX);
            break;
        }
        blobs[i] = (ab_proto_blob_t){ bytes, size };
    }
    s_inflight_t *f = NULL;
    if (rc == 0) {
        f = calloc (1, sizeof *f);
        assert (f);
        f->reqid = self->next_reqid++;
        f->count = n;
        f->buf = ab_proto_encode_append (f->reqid, blobs, n, &f->size);
        if (!f->buf)
            rc = ab_error_set (err, AB_E_SYSTEM, "append: out of memory");
        else if (f->size > AB_PROTO_REQUEST_MAX)
            rc = ab_error_set (err, AB_E_OVERSIZE, "append: request of %zu bytes, more than %u",
                               f->size, AB_PROTO_REQUEST_MAX);
    }
    for (size_t j = 0; j < n; j++)
        free ((void *)blobs[j].data);
    free (blobs);
    if (rc < 0) {
        s_inflight_destroy ((void **)&f);
        return rc;
    }
    //  Not sent (no connection to queue on) is not a failure: the request
    //  stays in flight, a reply times out and ab_logclient_resend retries.
    s_send_frame (self, f->buf, f->size, 0, NULL);
    zlistx_add_end (self->inflight, f);
    return (int64_t)f->reqid;
}

//  Find the in-flight request for reqid; its list handle or NULL.
static void *
s_find_inflight (ab_logclient_t *self, uint64_t reqid)
{
    for (s_inflight_t *f = zlistx_first (self->inflight); f; f = zlistx_next (self->inflight))
        if (f->reqid == reqid)
            return zlistx_cursor (self->inflight);
    return NULL;
}

int
ab_logclient_recv_reply (ab_logclient_t *self, uint64_t *reqid_out, const uint64_t **seqs_out,
                         size_t *count_out, int timeout_ms, ab_error_t **err)
{
    assert (self);
    assert (reqid_out);
    *reqid_out = 0;
    if (seqs_out)
        *seqs_out = NULL;
    if (count_out)
        *count_out = 0;
    if (zlistx_size (self->inflight) == 0)
        return ab_error_set (err, AB_E_INVALID, "append: no request in flight");
    ab_proto_reply_t reply = { 0 };
    zmq_msg_t msg;
    zmq_msg_init (&msg);
    int64_t deadline = s_now_ms () + timeout_ms;
    int rc;
    while (true) {
        int64_t left = deadline - s_now_ms ();
        rc = s_recv (self, left > 0 ? (int)left : 0, &reply, &msg, err);
        if (rc == -AB_E_PROTOCOL)
            continue; //  a broken reply: keep waiting for a good one
        if (rc < 0)
            break;
        void *handle = reply.op == AB_PROTO_ACK || reply.op == AB_PROTO_NACK
                           ? s_find_inflight (self, reply.reqid)
                           : NULL;
        //  A NACK with reqid 0 answers a request logd could not parse; with
        //  one request in flight it can only be that one.
        if (!handle && reply.op == AB_PROTO_NACK && reply.reqid == 0
            && zlistx_size (self->inflight) == 1)
            handle = zlistx_first (self->inflight) ? zlistx_cursor (self->inflight) : NULL;
        if (!handle)
            continue; //  stale: a reply to a request we resent or gave up on
        s_inflight_t *f = (s_inflight_t *)zlistx_handle_item (handle);
        *reqid_out = f->reqid;
        if (reply.op == AB_PROTO_NACK)
            rc = s_nack_error (self, &reply, err);
        else if (reply.count != f->count)
            rc = ab_error_set (err, AB_E_PROTOCOL, "logd %s: ACK of %zu seqs for %zu events",
                               self->endpoint, reply.count, f->count);
        else {
            if (reply.count > self->acked_cap) {
                self->acked_cap = reply.count;
                self->acked = realloc (self->acked, self->acked_cap * sizeof *self->acked);
                assert (self->acked);
            }
            memcpy (self->acked, reply.seqs, reply.count * sizeof *self->acked);
            if (seqs_out)
                *seqs_out = self->acked;
            if (count_out)
                *count_out = reply.count;
            rc = 0;
        }
        zlistx_delete (self->inflight, handle);
        break;
    }
    ab_proto_reply_clear (&reply);
    zmq_msg_close (&msg);
    return rc;
}

int
ab_logclient_resend (ab_logclient_t *self, ab_error_t **err)
{
    assert (self);
    if (s_connect (self, err))
        return -AB_E_INVALID;
    for (s_inflight_t *f = zlistx_first (self->inflight); f; f = zlistx_next (self->inflight))
        if (s_send_frame (self, f->buf, f->size, 0, NULL))
            break; //  still not connected: the next timeout resends again
    return 0;
}

int
ab_logclient_append (ab_logclient_t *self, ab_event_t **events, size_t n, uint64_t *seqs_out,
                     int timeout_ms, ab_error_t **err)
{
    assert (self);
    if (zlistx_size (self->inflight) > 0)
        return ab_error_set (err, AB_E_INVALID,
                             "append: pipelined appends are in flight; collect them first");
    int64_t reqid = ab_logclient_send_append (self, events, n, err);
    if (reqid < 0)
        return (int)reqid;
    int64_t deadline = s_now_ms () + timeout_ms;
    //  Wait 1 s, then resend with the same pseqs and wait twice as long:
    //  a slow logd is not hammered, a restarted one is reached quickly.
    int attempt_ms = 1000;
    while (true) {
        int64_t left = deadline - s_now_ms ();
        int wait = left < attempt_ms ? (int)(left > 0 ? left : 0) : attempt_ms;
        uint64_t got = 0;
        const uint64_t *seqs = NULL;
        size_t count = 0;
        ab_error_t *rerr = NULL;
        int rc = ab_logclient_recv_reply (self, &got, &seqs, &count, wait, &rerr);
        if (rc == 0) {
            if (seqs_out)
                memcpy (seqs_out, seqs, count * sizeof *seqs_out);
            return 0;
        }
        if (rc != -AB_E_TIMEOUT || s_now_ms () >= deadline) {
            if (rc == -AB_E_TIMEOUT) {
                //  Give up on it: a late ACK must not be taken for another's.
                zlistx_purge (self->inflight);
                ab_error_destroy (&rerr);
                return ab_error_set (err, AB_E_TIMEOUT,
                                     "append: logd %s did not answer within %d ms", self->endpoint,
                                     timeout_ms);
            }
            if (err) {
                ab_error_destroy (err);
                *err = rerr;
            } else
                ab_error_destroy (&rerr);
            return rc;
        }
        ab_error_destroy (&rerr);
        if (ab_logclient_resend (self, err)) {
            zlistx_purge (self->inflight);
            return -AB_E_UNAVAILABLE;
        }
        attempt_ms *= 2;
    }
}

//  --------------------------------------------------------------------------
//  Reads

//  HEAD: head seq (result), its hash and the first seq held (if not NULL).
static int64_t
s_head (ab_logclient_t *self, uint8_t hash[AB_HASH_SIZE], uint64_t *first, ab_error_t **err)
{
    assert (self);
    uint64_t reqid = self->next_reqid++;
    size_t size;
    uint8_t *buf = ab_proto_encode_head (reqid, &size);
    if (!buf)
        return ab_error_set (err, AB_E_SYSTEM, "head: out of memory");
    int rc = s_send_frame (self, buf, size, self->timeout_ms, err);
    free (buf);
    if (rc)
        return rc;
    ab_proto_reply_t reply = { 0 };
    zmq_msg_t msg;
    zmq_msg_init (&msg);
    int64_t deadline = s_now_ms () + self->timeout_ms;
    int64_t result;
    while (true) {
        int64_t left = deadline - s_now_ms ();
        rc = s_recv (self, left > 0 ? (int)left : 0, &reply, &msg, err);
        if (rc == -AB_E_PROTOCOL)
            continue;
        if (rc < 0) {
            result = rc;
            break;
        }
        if (reply.reqid != reqid)
            continue;
        if (reply.op == AB_PROTO_NACK)
            result = s_nack_error (self, &reply, err);
        else if (reply.op != AB_PROTO_HEAD)
            result = ab_error_set (err, AB_E_PROTOCOL, "logd %s: answered HEAD with something else",
                                   self->endpoint);
        else {
            if (hash)
                memcpy (hash, reply.head_hash, AB_HASH_SIZE);
            if (first)
                *first = reply.first;
            result = reply.head_seq > INT64_MAX ? INT64_MAX : (int64_t)reply.head_seq;
        }
        break;
    }
    ab_proto_reply_clear (&reply);
    zmq_msg_close (&msg);
    return result;
}

int64_t
ab_logclient_head (ab_logclient_t *self, uint8_t hash[AB_HASH_SIZE], ab_error_t **err)
{
    return s_head (self, hash, NULL, err);
}

int64_t
ab_logclient_first (ab_logclient_t *self, ab_error_t **err)
{
    uint64_t first = 1;
    int64_t rc = s_head (self, NULL, &first, err);
    return rc < 0 ? rc : (int64_t)first;
}

//  One READ round: events from `next` until END. Updates *next, *prev and
//  *handed; sets *stopped if fn asked to stop, *head to logd's head.
typedef struct {
    uint64_t next;                   //  seq expected next
    uint8_t prev[AB_HASH_SIZE];      //  hash it must link to
    bool prev_known;                 //  false until the first event (unless from = 1)
    int64_t handed;                  //  events given to fn
    bool stopped;                    //  fn returned non-zero
    uint64_t head;                   //  from END
    uint8_t head_hash[AB_HASH_SIZE]; //  from END
    uint64_t bad;                    //  seq that failed a check, 0 if none
} s_read_state_t;

static int
s_read_round (ab_logclient_t *self, s_read_state_t *st, uint32_t want, ab_logclient_fn *fn,
              void *arg, ab_error_t **err)
{
    uint64_t reqid = self->next_reqid++;
    size_t size;
    uint8_t *buf = ab_proto_encode_read (reqid, st->next, want, 0, &size);
    if (!buf)
        return ab_error_set (err, AB_E_SYSTEM, "read: out of memory");
    int rc = s_send_frame (self, buf, size, self->timeout_ms, err);
    free (buf);
    if (rc)
        return rc;
    ab_proto_reply_t reply = { 0 };
    zmq_msg_t msg;
    zmq_msg_init (&msg);
    rc = 0;
    while (rc == 0) {
        //  The timeout is per reply: a long read is fine while it flows.
        int r = s_recv (self, self->timeout_ms, &reply, &msg, err);
        if (r == -AB_E_PROTOCOL) {
            rc = r;
            break;
        }
        if (r < 0) {
            rc = r;
            break;
        }
        if (reply.reqid != reqid)
            continue;
        if (reply.op == AB_PROTO_NACK) {
            rc = s_nack_error (self, &reply, err);
            break;
        }
        if (reply.op == AB_PROTO_END) {
            st->head = reply.head_seq;
            memcpy (st->head_hash, reply.head_hash, AB_HASH_SIZE);
            break;
        }
        if (reply.op != AB_PROTO_EVENTS) {
            rc = ab_error_set (err, AB_E_PROTOCOL, "logd %s: answered READ with something else",
                               self->endpoint);
            break;
        }
        for (size_t i = 0; i < reply.count && !st->stopped; i++) {
            ab_error_t *derr = NULL;
            ab_event_t *ev = ab_event_decode (reply.envs[i].data, reply.envs[i].size,
                                              AB_EVENT_COMMITTED, AB_FRAME_MAX, &derr);
            if (!ev) {
                st->bad = st->next;
                rc = ab_error_set (err, AB_E_CORRUPT,
                                   "read: seq %" PRIu64 " from logd does not decode: %s", st->next,
                                   ab_error_msg (derr));
                ab_error_destroy (&derr);
                break;
            }
            if (ab_event_seq (ev) != st->next) {
                st->bad = st->next;
                rc = ab_error_set (err, AB_E_PROTOCOL,
                                   "read: expected seq %" PRIu64 ", logd sent %" PRIu64, st->next,
                                   ab_event_seq (ev));
                ab_event_destroy (&ev);
                break;
            }
            if (self->check_hashes && !ab_event_hash_ok (ev)) {
                rc = ab_error_set (err, AB_E_CORRUPT,
                                   "read: seq %" PRIu64 ": hash does not match its content",
                                   st->next);
                st->bad = st->next;
                ab_event_destroy (&ev);
                break;
            }
            if (st->prev_known && memcmp (ab_event_prev (ev), st->prev, AB_HASH_SIZE) != 0) {
                rc = ab_error_set (err, AB_E_CORRUPT,
                                   "read: seq %" PRIu64
                                   " does not link to the hash of seq %" PRIu64,
                                   st->next, st->next - 1);
                st->bad = st->next;
                ab_event_destroy (&ev);
                break;
            }
            memcpy (st->prev, ab_event_hash (ev), AB_HASH_SIZE);
            st->prev_known = true;
            st->next++;
            st->handed++;
            if (fn (&ev, arg))
                st->stopped = true;
            ab_event_destroy (&ev);
        }
        if (st->stopped)
            break; //  the rest of this READ's replies are dropped as stale
    }
    ab_proto_reply_clear (&reply);
    zmq_msg_close (&msg);
    return rc;
}

//  Read into st from st->next, up to max_events (0: to the head).
static int
s_read (ab_logclient_t *self, s_read_state_t *st, uint64_t max_events, ab_logclient_fn *fn,
        void *arg, ab_error_t **err)
{
    while (!st->stopped && (max_events == 0 || (uint64_t)st->handed < max_events)) {
        uint64_t left = max_events ? max_events - (uint64_t)st->handed : AB_PROTO_READ_EVENTS_MAX;
        uint32_t want = left > AB_PROTO_READ_EVENTS_MAX ? AB_PROTO_READ_EVENTS_MAX : (uint32_t)left;
        int64_t before = st->handed;
        int rc = s_read_round (self, st, want, fn, arg, err);
        if (rc < 0)
            return rc;
        //  Done at the head, or if logd had nothing more to give.
        if (st->next > st->head || st->handed == before)
            break;
    }
    return 0;
}

int64_t
ab_logclient_read (ab_logclient_t *self, uint64_t from, uint64_t max_events, ab_logclient_fn *fn,
                   void *arg, ab_error_t **err)
{
    assert (self);
    assert (fn);
    if (from == 0)
        return ab_error_set (err, AB_E_INVALID, "read: seq starts at 1");
    s_read_state_t st = { .next = from, .prev_known = from == 1 };
    int rc = s_read (self, &st, max_events, fn, arg, err);
    return rc < 0 ? rc : st.handed;
}

static int
s_keep_first (ab_event_t **event_p, void *arg)
{
    ab_event_t **slot = (ab_event_t **)arg;
    *slot = *event_p;
    *event_p = NULL;
    return 1;
}

//  The event at seq, read alone; NULL and *err (not-found past the head).
static ab_event_t *
s_read_one (ab_logclient_t *self, uint64_t seq, uint64_t *bad, ab_error_t **err)
{
    ab_event_t *event = NULL;
    s_read_state_t st = { .next = seq };
    if (s_read (self, &st, 1, s_keep_first, &event, err) < 0) {
        if (bad)
            *bad = st.bad;
        return NULL;
    }
    if (!event)
        ab_error_set (err, AB_E_NOT_FOUND, "seq %" PRIu64 " is past the head (%" PRIu64 ")", seq,
                      st.head);
    return event;
}

static int
s_ignore (ab_event_t **event_p, void *arg)
{
    return 0;
}

int
ab_logclient_verify (ab_logclient_t *self, uint64_t from, uint64_t to, uint64_t *bad_seq,
                     ab_error_t **err)
{
    assert (self);
    assert (bad_seq);
    *bad_seq = 0;
    //  Verify what the log holds: nothing before its first seq.
    int64_t first = ab_logclient_first (self, err);
    if (first < 0)
        return (int)first;
    if (from < (uint64_t)first)
        from = (uint64_t)first;
    if (to && to < from)
        return 0;
    s_read_state_t st = { .next = from, .prev_known = from == 1 };
    if (from > 1 && from == (uint64_t)first) {
        //  Nothing before it is held: the anchor is the prev it carries.
        bool saved = self->check_hashes;
        self->check_hashes = true;
        ab_event_t *oldest = s_read_one (self, from, bad_seq, err);
        self->check_hashes = saved;
        if (!oldest)
            return err && *err ? -(int)(*err)->code : -AB_E_CORRUPT;
        memcpy (st.prev, ab_event_prev (oldest), AB_HASH_SIZE);
        st.prev_known = true;
        ab_event_destroy (&oldest);
    } else if (from > 1) {
        //  The link into the range: the hash the event before it carries.
        bool saved = self->check_hashes;
        self->check_hashes = true;
        ab_event_t *before = s_read_one (self, from - 1, bad_seq, err);
        self->check_hashes = saved;
        if (!before)
            return err && *err ? -(int)(*err)->code : -AB_E_CORRUPT;
        memcpy (st.prev, ab_event_hash (before), AB_HASH_SIZE);
        st.prev_known = true;
        ab_event_destroy (&before);
    }
    bool saved = self->check_hashes;
    self->check_hashes = true;
    int rc = s_read (self, &st, to ? to - from + 1 : 0, s_ignore, NULL, err);
    self->check_hashes = saved;
    if (rc < 0) {
        *bad_seq = st.bad;
        return rc;
    }
    //  Ran to the head: the head logd reports must be the last hash read.
    if (st.handed > 0 && st.next == st.head + 1
        && memcmp (st.prev, st.head_hash, AB_HASH_SIZE) != 0) {
        *bad_seq = st.head;
        return ab_error_set (err, AB_E_CORRUPT, "seq %" PRIu64 ": hash differs from logd's head",
                             st.head);
    }
    return 0;
}

int64_t
ab_logclient_seq_at_time (ab_logclient_t *self, uint64_t ts, ab_error_t **err)
{
    assert (self);
    int64_t head = ab_logclient_head (self, NULL, err);
    if (head < 0)
        return head;
    uint64_t lo = 1, hi = (uint64_t)head + 1;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        ab_event_t *ev = s_read_one (self, mid, NULL, err);
        if (!ev)
            return err && *err ? -(int64_t)(*err)->code : -AB_E_CORRUPT;
        uint64_t mts = ab_event_ts (ev);
        ab_event_destroy (&ev);
        if (mts < ts)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (int64_t)lo;
}

//  --------------------------------------------------------------------------
//  Selftest: pipelining, chunked reads, stopping, timeouts, bad input

#include "ab_logd.h"
#include <ftw.h>
#include <leveldb/c.h>

static int
s_rm_one (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove (path);
}

typedef struct {
    uint64_t next;
    uint64_t stop_at; //  0: never
} s_count_t;

static int
s_count (ab_event_t **event_p, void *arg)
{
    s_count_t *c = (s_count_t *)arg;
    assert (ab_event_seq (*event_p) == c->next);
    c->next++;
    return c->stop_at && ab_event_seq (*event_p) >= c->stop_at;
}

void
ab_logclient_test (bool verbose)
{
    printf (" * ab_logclient: ");
    if (verbose)
        printf ("\n");
    ab_error_t *err = NULL;
    zcert_t *cert = zcert_new ();
    uint8_t no_secret[32] = { 0 };
    zcert_t *public_only = zcert_new_from (zcert_public_key (cert), no_secret);
    //  Bad input to new: errors, not crashes.
    assert (!ab_logclient_new (NULL, zcert_public_txt (cert), cert, &err));
    assert (err->code == AB_E_INVALID);
    ab_error_destroy (&err);
    assert (!ab_logclient_new ("tcp://127.0.0.1:1", "short", cert, &err));
    assert (err->code == AB_E_INVALID && strstr (err->msg, "Z85"));
    ab_error_destroy (&err);
    assert (!ab_logclient_new ("tcp://127.0.0.1:1", zcert_public_txt (cert), public_only, &err));
    assert (err->code == AB_E_INVALID && strstr (err->msg, "secret"));
    ab_error_destroy (&err);
    assert (!ab_logclient_new ("nonsense", zcert_public_txt (cert), cert, &err));
    assert (err->code == AB_E_INVALID);
    ab_error_destroy (&err);
    zcert_destroy (&public_only);

    //  Nobody listening: a timeout, in about the time asked for.
    {
        //  A TCP listener that never speaks ZMTP: the handshake never ends.
        //  (A port "free a moment ago" is not: tests run in parallel.)
        zsock_t *mute = zsock_new (ZMQ_STREAM);
        assert (zsock_bind (mute, "tcp://127.0.0.1:*") > 0);
        char *ep = zsock_last_endpoint (mute);
        ab_logclient_t *lonely = ab_logclient_new (ep, zcert_public_txt (cert), cert, &err);
        assert (lonely);
        ab_logclient_set_timeout (lonely, 300);
        int64_t t0 = zclock_mono ();
        assert (ab_logclient_head (lonely, NULL, &err) == -AB_E_TIMEOUT);
        assert (zclock_mono () - t0 >= 250 && zclock_mono () - t0 < 2000);
        assert (strstr (err->msg, ep));
        ab_error_destroy (&err);
        ab_event_t *ev = ab_event_new ("note.added", "stack/x");
        assert (ab_logclient_append (lonely, &ev, 1, NULL, 300, &err) == -AB_E_TIMEOUT);
        assert (ab_logclient_inflight (lonely) == 0);
        ab_error_destroy (&err);
        assert (ab_logclient_append (lonely, NULL, 0, NULL, 300, &err) == -AB_E_INVALID);
        ab_error_destroy (&err);
        uint64_t rid;
        assert (ab_logclient_recv_reply (lonely, &rid, NULL, NULL, 10, &err) == -AB_E_INVALID);
        ab_error_destroy (&err);
        ab_event_destroy (&ev);
        ab_logclient_destroy (&lonely);
        zsock_destroy (&mute);
        free (ep);
    }
    zcert_destroy (&cert);

    //  A real logd: pipelined batches, then reads.
    char tmp[] = "/tmp/ab_logclient_test.XXXXXX";
    assert (mkdtemp (tmp));
    char keys[64], data[64];
    snprintf (keys, sizeof keys, "%s/keys", tmp);
    snprintf (data, sizeof data, "%s/data", tmp);
    assert (ab_keyring_init (keys, &err) == 0);
    //  logd serves even when the busd it publishes to is not there: PUB
    //  connects lazily and drops, it never blocks the log.
    zcert_t *nobody = zcert_new ();
    zsock_t *probe = zsock_new_router ("tcp://127.0.0.1:*");
    char *dead_bus = zsock_last_endpoint (probe);
    zsock_destroy (&probe);
    //  ipc: a restart below binds the same endpoint again, and a TCP port
    //  let go can be taken by a test running beside this one.
    char ipc[96];
    snprintf (ipc, sizeof ipc, "ipc://%s/logd.sock", tmp);
    ab_logd_config_t cfg = { .keys_dir = keys,
                             .data_dir = data,
                             .endpoint = ipc,
                             .bus_endpoint = dead_bus,
                             .bus_key = zcert_public_txt (nobody),
                             .verbose = verbose };
    ab_logd_t *logd = ab_logd_new (&cfg, &err);
    assert (logd);
    zcert_t *sched = ab_keyring_load_secret (keys, "scheduler", &err);
    assert (sched);
    ab_logclient_t *client
        = ab_logclient_new (ab_logd_endpoint (logd), ab_logd_public_key (logd), sched, &err);
    assert (client);
    zcert_destroy (&sched);

    //  20 requests of 100 events, at most 8 in flight.
    const size_t per = 100, requests = 20, window = 8;
    ab_event_t **batch = calloc (per, sizeof *batch);
    assert (batch);
    size_t sent = 0, acked = 0;
    uint64_t expect_next = 1;
    while (acked < requests) {
        while (sent < requests && ab_logclient_inflight (client) < window) {
            for (size_t i = 0; i < per; i++) {
                char subj[64];
                snprintf (subj, sizeof subj, "stack/s/svc/api/%zu", sent * per + i);
                batch[i] = ab_event_new ("instance.placed", subj);
                assert (ab_event_set_data_json (batch[i], "{\"node\": \"n1\"}", &err) == 0);
            }
            assert (ab_logclient_send_append (client, batch, per, &err) > 0);
            for (size_t i = 0; i < per; i++)
                ab_event_destroy (&batch[i]);
            sent++;
        }
        uint64_t rid;
        const uint64_t *seqs;
        size_t count;
        assert (ab_logclient_recv_reply (client, &rid, &seqs, &count, 5000, &err) == 0);
        assert (count == per);
        //  One DEALER, one logd loop: replies come back in request order.
        for (size_t i = 0; i < count; i++)
            assert (seqs[i] == expect_next++);
        acked++;
    }
    free (batch);
    assert (ab_logclient_head (client, NULL, &err) == (int64_t)(per * requests));

    //  Read everything (several READ rounds when over the per-READ cap is
    //  not needed for 2000; max_events splits it instead), in order.
    s_count_t c = { .next = 1 };
    assert (ab_logclient_read (client, 1, 0, s_count, &c, &err) == (int64_t)(per * requests));
    assert (c.next == per * requests + 1);
    c = (s_count_t){ .next = 150 };
    assert (ab_logclient_read (client, 150, 700, s_count, &c, &err) == 700);
    assert (c.next == 850);
    //  Stopping early leaves stale replies behind; the next call ignores them.
    c = (s_count_t){ .next = 1, .stop_at = 10 };
    assert (ab_logclient_read (client, 1, 0, s_count, &c, &err) == 10);
    assert (ab_logclient_head (client, NULL, &err) == (int64_t)(per * requests));
    assert (ab_logclient_read (client, 0, 0, s_count, &c, &err) == -AB_E_INVALID);
    ab_error_destroy (&err);
    //  Past the head: nothing, no error.
    c = (s_count_t){ .next = per * requests + 1 };
    assert (ab_logclient_read (client, per * requests + 1, 0, s_count, &c, &err) == 0);

    //  logd goes away with an append in flight and comes back on the same
    //  endpoint: the resend is acked once, with gapless seqs; resending the
    //  same events again (a lost ACK) gets the same seqs back.
    {
        char *endpoint = strdup (ab_logd_endpoint (logd));
        ab_logd_destroy (&logd);
        ab_event_t *two[2] = { ab_event_new ("instance.placed", "stack/s/svc/api/x"),
                               ab_event_new ("instance.placed", "stack/s/svc/api/y") };
        int64_t rq = ab_logclient_send_append (client, two, 2, &err);
        assert (rq > 0);
        uint64_t rid;
        const uint64_t *seqs;
        size_t count;
        assert (ab_logclient_recv_reply (client, &rid, &seqs, &count, 200, &err) == -AB_E_TIMEOUT);
        assert (rid == 0 && ab_logclient_inflight (client) == 1);
        ab_error_destroy (&err);
        ab_logd_config_t again = cfg;
        again.endpoint = endpoint;
        logd = ab_logd_new (&again, &err);
        assert (logd);
        assert (ab_logclient_resend (client, &err) == 0);
        assert (ab_logclient_recv_reply (client, &rid, &seqs, &count, 5000, &err) == 0);
        assert (rid == (uint64_t)rq && count == 2);
        assert (seqs[0] == per * requests + 1 && seqs[1] == per * requests + 2);
        uint64_t same[2];
        assert (ab_logclient_append (client, two, 2, same, 5000, &err) == 0);
        assert (same[0] == per * requests + 1 && same[1] == per * requests + 2);
        assert (ab_logclient_head (client, NULL, &err) == (int64_t)(per * requests) + 2);
        ab_event_destroy (&two[0]);
        ab_event_destroy (&two[1]);
        free (endpoint);
    }
    const uint64_t total = per * requests + 2;

    //  Verify over the wire, and seq_at_time for --since.
    uint64_t bad = 99;
    assert (ab_logclient_verify (client, 1, 0, &bad, &err) == 0 && bad == 0);
    assert (ab_logclient_verify (client, 100, 200, &bad, &err) == 0 && bad == 0);
    ab_event_t *e500 = NULL;
    c = (s_count_t){ .next = 500 };
    assert (ab_logclient_seq_at_time (client, 0, &err) == 1);
    assert (ab_logclient_seq_at_time (client, UINT64_MAX, &err) == (int64_t)total + 1);
    {
        s_read_state_t st = { .next = 500 };
        assert (s_read (client, &st, 1, s_keep_first, &e500, &err) == 0 && e500);
        int64_t at = ab_logclient_seq_at_time (client, ab_event_ts (e500), &err);
        //  Events of one group commit share a ts: the first of them.
        assert (at >= 1 && at <= 500);
        ab_event_t *first = NULL;
        st = (s_read_state_t){ .next = (uint64_t)at };
        assert (s_read (client, &st, 1, s_keep_first, &first, &err) == 0 && first);
        assert (ab_event_ts (first) == ab_event_ts (e500));
        ab_event_destroy (&first);
        ab_event_destroy (&e500);
    }

    //  Flip one byte of seq 777 on disk: readers and verify name it.
    ab_logclient_destroy (&client);
    ab_logd_destroy (&logd);
    {
        char *errptr = NULL;
        leveldb_options_t *o = leveldb_options_create ();
        leveldb_t *db = leveldb_open (o, data, &errptr);
        assert (db && !errptr);
        leveldb_readoptions_t *ro = leveldb_readoptions_create ();
        leveldb_writeoptions_t *wo = leveldb_writeoptions_create ();
        uint8_t key[9] = { 0, 0, 0, 0, 0, 0, 0, 0x03, 0x09 }; //  777
        size_t vlen;
        char *v = leveldb_get (db, ro, (char *)key, 9, &vlen, &errptr);
        assert (v && vlen > 20);
        v[vlen - 1] ^= 0x01; //  "n1" → "n0": still decodes, hash breaks
        leveldb_put (db, wo, (char *)key, 9, v, vlen, &errptr);
        assert (!errptr);
        leveldb_free (v);
        leveldb_readoptions_destroy (ro);
        leveldb_writeoptions_destroy (wo);
        leveldb_close (db);
        leveldb_options_destroy (o);
    }
    logd = ab_logd_new (&cfg, &err);
    assert (logd);
    sched = ab_keyring_load_secret (keys, "scheduler", &err);
    client = ab_logclient_new (ab_logd_endpoint (logd), ab_logd_public_key (logd), sched, &err);
    assert (client);
    zcert_destroy (&sched);
    assert (ab_logclient_verify (client, 1, 0, &bad, &err) == -AB_E_CORRUPT);
    assert (bad == 777 && strstr (err->msg, "seq 777"));
    ab_error_destroy (&err);
    assert (ab_logclient_verify (client, 1, 776, &bad, &err) == 0 && bad == 0);
    //  A range after it links through it: still named.
    assert (ab_logclient_verify (client, 778, 0, &bad, &err) == -AB_E_CORRUPT && bad == 777);
    ab_error_destroy (&err);
    c = (s_count_t){ .next = 700 };
    assert (ab_logclient_read (client, 700, 0, s_count, &c, &err) == -AB_E_CORRUPT);
    assert (c.next == 777);
    ab_error_destroy (&err);
    //  A reader that trusts logd skips the hash, not the seq and prev checks.
    ab_logclient_set_check_hashes (client, false);
    c = (s_count_t){ .next = 700 };
    assert (ab_logclient_read (client, 700, 100, s_count, &c, &err) == 100);
    assert (ab_logclient_verify (client, 1, 0, &bad, &err) == -AB_E_CORRUPT && bad == 777);
    ab_error_destroy (&err);

    ab_logclient_destroy (&client);
    assert (client == NULL);
    ab_logd_destroy (&logd);
    zcert_destroy (&nobody);
    free (dead_bus);
    assert (nftw (tmp, s_rm_one, 16, FTW_DEPTH | FTW_PHYS) == 0);
    printf ("OK\n");
}
