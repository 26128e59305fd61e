/*  ab_logd - abbey-logd as an actor: the log's only writer
    One loop turn = one group commit:

        ROUTER ──► drain every ready request (≤ S_GROUP_EVENTS / S_GROUP_BYTES)
                     │  User-Id → keyring → role        (denied)
                     │  decode + check each envelope    (malformed, oversize,
                     │                                   unknown-type, forbidden)
                     ├─ APPEND ok → items of one batch
                     └─ READ, HEAD → queued
                   ab_store_append (one synced WriteBatch)
                   ACK every append (or NACK storage to all of them)
                   PUB ev.<type> + envelopes, one per same-type run ──► busd
                   serve the queued READs and HEADs (they see the commit)

    Replies go out only after the write returned: persist before ack,
    ack before publish (STYLE 10).                                         */
//  Selftests assert behaviour: keep assert live in release builds too.
#undef NDEBUG
#include <assert.h>

#include "ab_logd.h"
#include "ab_evrun.h"
#include "ab_keyring.h"
#include "ab_proto.h"
#include "ab_store.h"
#include "ab_zap.h"

#include <ftw.h>
#include <stdio.h>
#include <string.h>

#define S_GROUP_EVENTS 20000      //  events per group commit
#define S_GROUP_BYTES (16u << 20) //  request bytes per group commit
#define S_GROUP_MSGS 4096         //  requests per loop turn
#define S_ROUTING_MAX 256         //  ROUTER routing-id bytes

//  --------------------------------------------------------------------------
//  The actor's state

//  A request waiting for the group commit (APPEND) or for it to be over.
typedef struct {
    uint8_t rid[S_ROUTING_MAX]; //  ROUTER routing id of the sender
    size_t rid_size;
    ab_proto_op_t op;
    uint64_t reqid;
    //  APPEND
    ab_event_t **events; //  checked events, owned
    size_t count;
    size_t first_item;              //  index of its first item in the batch
    char src[AB_NAME_MAX * 2 + 16]; //  producer's "ROLE:NAME:KEYID"
    char key[AB_KEY_Z85_LEN + 1];   //  producer's Z85 key (dedupe)
    //  READ
    uint64_t from;
    uint32_t max_events;
    uint32_t max_bytes;
} s_pending_t;

typedef struct {
    zsock_t *pipe;         //  actor pipe
    ab_logd_config_t cfg;  //  copied strings
    ab_keyring_t *keyring; //  per-request identity lookups
    ab_zap_t *zap;         //  CURVE handshake authentication
    zcert_t *cert;         //  logd's secret cert
    zsock_t *router;       //  clients
    void *router_h;        //  its libzmq handle
    zsock_t *pub;          //  to busd, NULL if no bus
    ab_store_t *store;
    char *endpoint;      //  bound endpoint
    bool storage_failed; //  after a failed write: NACK storage forever
    bool terminated;
    s_pending_t *pending; //  this turn's requests
    size_t npending, cap_pending;
    ab_store_item_t *items; //  this turn's batch
    size_t nitems, cap_items;
    uint64_t stat_appended; //  events appended since start
    uint64_t stat_commits;  //  group commits since start
} self_t;

static char *
s_strdup_or_null (const char *s)
{
    return s ? strdup (s) : NULL;
}

static void
s_config_free (ab_logd_config_t *cfg)
{
    free ((char *)cfg->keys_dir);
    free ((char *)cfg->data_dir);
    free ((char *)cfg->endpoint);
    free ((char *)cfg->bus_endpoint);
    free ((char *)cfg->bus_key);
    free ((char *)cfg->identity);
    memset (cfg, 0, sizeof *cfg);
}

static void
s_config_copy (ab_logd_config_t *dst, const ab_logd_config_t *src)
{
    dst->keys_dir = s_strdup_or_null (src->keys_dir);
    dst->data_dir = s_strdup_or_null (src->data_dir);
    dst->endpoint = s_strdup_or_null (src->endpoint);
    dst->bus_endpoint = s_strdup_or_null (src->bus_endpoint);
    dst->bus_key = s_strdup_or_null (src->bus_key);
    dst->identity = s_strdup_or_null (src->identity ? src->identity : "logd");
    dst->verbose = src->verbose;
}

static void
s_self_destroy (self_t **self_p)
{
    self_t *self = *self_p;
    if (!self)
        return;
    zsock_destroy (&self->router);
    zsock_destroy (&self->pub);
    ab_zap_destroy (&self->zap);
    ab_keyring_destroy (&self->keyring);
    zcert_destroy (&self->cert);
    ab_store_close (&self->store);
    for (size_t i = 0; i < self->npending; i++)
        ab_proto_events_destroy (&self->pending[i].events, self->pending[i].count);
    free (self->pending);
    free (self->items);
    free (self->endpoint);
    s_config_free (&self->cfg);
    free (self);
    *self_p = NULL;
}

//  Open keys, store and sockets. NULL and *err on failure.
static self_t *
s_self_new (zsock_t *pipe, const ab_logd_config_t *cfg, ab_error_t **err)
{
    self_t *self = calloc (1, sizeof *self);
    assert (self);
    self->pipe = pipe;
    s_config_copy (&self->cfg, cfg);
    if (!self->cfg.keys_dir || !self->cfg.data_dir || !self->cfg.endpoint) {
        ab_error_set (err, AB_E_USAGE, "needs a key directory, a data directory and an endpoint");
        goto fail;
    }
    if (self->cfg.bus_endpoint) {
        uint8_t bin[32];
        const char *key = self->cfg.bus_key;
        if (!key || strlen (key) != AB_KEY_Z85_LEN || !zmq_z85_decode (bin, key)) {
            ab_error_set (err, AB_E_USAGE, "busd key '%s' is not a 40-character Z85 public key",
                          key ? key : "");
            goto fail;
        }
    }
    self->keyring = ab_keyring_open (self->cfg.keys_dir, err);
    if (!self->keyring)
        goto fail;
    self->cert = ab_keyring_load_secret (self->cfg.keys_dir, self->cfg.identity, err);
    if (!self->cert)
        goto fail;
    self->store = ab_store_open (self->cfg.data_dir, err);
    if (!self->store)
        goto fail;
    //  The ZAP handler must exist before the CURVE server binds, or libzmq
    //  lets clients in unauthenticated.
    self->zap = ab_zap_new (self->cfg.keys_dir, err);
    if (!self->zap)
        goto fail;
    if (self->cfg.verbose)
        ab_zap_set_verbose (self->zap, true);

    self->router = zsock_new (ZMQ_ROUTER);
    assert (self->router);
    zcert_apply (self->cert, self->router);
    zsock_set_curve_server (self->router, 1);
    zsock_set_zap_domain (self->router, "abbey");
    zsock_set_maxmsgsize (self->router, (int64_t)AB_PROTO_REQUEST_MAX + 64);
    //  Pipelining producers keep many requests in flight; replies to a
    //  client that stopped reading are dropped by ROUTER, never block us.
    zsock_set_rcvhwm (self->router, 100000);
    zsock_set_sndhwm (self->router, 100000);
    zsock_set_linger (self->router, 0);
    if (zsock_bind (self->router, "%s", self->cfg.endpoint) < 0) {
        ab_error_errno (err, AB_E_IO, zmq_errno (), "bind %s", self->cfg.endpoint);
        goto fail;
    }
    self->endpoint = zsock_last_endpoint (self->router);
    self->router_h = zsock_resolve (self->router);

    if (self->cfg.bus_endpoint) {
        self->pub = zsock_new (ZMQ_PUB);
        assert (self->pub);
        zcert_apply (self->cert, self->pub);
        zsock_set_curve_serverkey (self->pub, self->cfg.bus_key);
        //  Bursts of group commits must not be dropped on our side; busd
        //  and subscribers may still drop, followers fill gaps by seq. A
        //  message is one run of a commit (≤ 1 MiB, CONTRACTS.md).
        zsock_set_sndhwm (self->pub, 10000);
        zsock_set_linger (self->pub, 200);
        if (zsock_connect (self->pub, "%s", self->cfg.bus_endpoint) < 0) {
            ab_error_errno (err, AB_E_IO, zmq_errno (), "connect to busd %s",
                            self->cfg.bus_endpoint);
            goto fail;
        }
    }
    return self;
fail:
    ab_error_wrap (err, "logd");
    s_self_destroy (&self);
    return NULL;
}

//  --------------------------------------------------------------------------
//  Replies

static void
s_send (self_t *self, const uint8_t *rid, size_t rid_size, uint8_t *buf, size_t size)
{
    if (!buf)
        return; //  out of memory encoding: the client will time out and retry
    //  ROUTER drops what it cannot route (peer gone, HWM): never blocks.
    if (zmq_send (self->router_h, rid, rid_size, ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0)
        zmq_send (self->router_h, buf, size, ZMQ_DONTWAIT);
    free (buf);
}

static void
s_nack (self_t *self, const uint8_t *rid, size_t rid_size, uint64_t reqid, ab_code_t code,
        const char *message, int64_t index)
{
    if (self->cfg.verbose)
        zsys_info ("logd: NACK %" PRIu64 " %s: %s", reqid, ab_error_name (code), message);
    size_t size;
    uint8_t *buf = ab_proto_encode_nack (reqid, code, message, index, &size);
    s_send (self, rid, rid_size, buf, size);
}

//  --------------------------------------------------------------------------
//  One request

static s_pending_t *
s_pending_add (self_t *self)
{
    if (self->npending == self->cap_pending) {
        self->cap_pending = self->cap_pending ? self->cap_pending * 2 : 64;
        self->pending = realloc (self->pending, self->cap_pending * sizeof *self->pending);
        assert (self->pending);
    }
    s_pending_t *p = &self->pending[self->npending++];
    memset (p, 0, sizeof *p);
    return p;
}

//  Handle one received request (rid + body). Returns the events it added
//  to the batch.
static size_t
s_request (self_t *self, const uint8_t *rid, size_t rid_size, zmq_msg_t *body)
{
    const uint8_t *buf = zmq_msg_data (body);
    size_t len = zmq_msg_size (body);
    ab_proto_request_t req;
    ab_error_t *err = NULL;
    int rc = ab_proto_decode_request (buf, len, AB_PROTO_PRODUCED_MAX, &req, &err);

    //  Who sent it: asked on every message, so a revocation stops a peer
    //  that is already connected.
    const char *user_id = zmq_msg_gets (body, "User-Id");
    const ab_identity_t *id = user_id ? ab_keyring_lookup (self->keyring, user_id) : NULL;
    if (!id && user_id) {
        //  ZAP let it in, so it may be a key added since the view's last
        //  (throttled) reload: check the directory now before refusing.
        ab_keyring_refresh (self->keyring);
        id = ab_keyring_lookup (self->keyring, user_id);
    }
    if (!id) {
        s_nack (self, rid, rid_size, req.reqid, AB_E_DENIED,
                "your key is not in the cluster key directory or was revoked", -1);
        goto done;
    }
    if (rc < 0) {
        s_nack (self, rid, rid_size, req.reqid, err ? err->code : AB_E_MALFORMED,
                ab_error_msg (err), req.bad_index);
        goto done;
    }
    if (req.op == AB_PROTO_APPEND) {
        if (self->storage_failed) {
            s_nack (self, rid, rid_size, req.reqid, AB_E_STORAGE,
                    "the log is not accepting appends after a storage error", -1);
            goto done;
        }
        ab_event_t **events = NULL;
        size_t bad = 0;
        if (ab_proto_check_append (&req, id->role, AB_PROTO_PRODUCED_MAX, &events, &bad, &err)) {
            s_nack (self, rid, rid_size, req.reqid, err ? err->code : AB_E_MALFORMED,
                    ab_error_msg (err), (int64_t)bad);
            goto done;
        }
        s_pending_t *p = s_pending_add (self);
        memcpy (p->rid, rid, rid_size);
        p->rid_size = rid_size;
        p->op = AB_PROTO_APPEND;
        p->reqid = req.reqid;
        p->events = events;
        p->count = req.count;
        p->first_item = self->nitems;
        snprintf (p->src, sizeof p->src, "%s", id->src);
        snprintf (p->key, sizeof p->key, "%s", id->key);
        self->nitems += req.count;
        ab_proto_request_clear (&req);
        return p->count;
    }
    //  READ and HEAD wait until this turn's appends are committed.
    s_pending_t *p = s_pending_add (self);
    memcpy (p->rid, rid, rid_size);
    p->rid_size = rid_size;
    p->op = req.op;
    p->reqid = req.reqid;
    p->from = req.from;
    p->max_events = req.max_events;
    p->max_bytes = req.max_bytes;
done:
    ab_proto_request_clear (&req);
    ab_error_destroy (&err);
    return 0;
}

//  --------------------------------------------------------------------------
//  Group commit

//  Storage failures are sticky: after a failed synced write we cannot know
//  what the disk holds, so stop accepting appends (never ack what is not
//  on disk) and say so once.
static void
s_check_storage (self_t *self, int rc, ab_error_t *err)
{
    if (rc < 0 && err && err->code == AB_E_STORAGE && !self->storage_failed) {
        self->storage_failed = true;
        fprintf (stderr, "abbey-logd: storage error, no longer accepting appends: %s\n",
                 ab_error_msg (err));
    }
}

//  ACK p with its items' seqs, or NACK it with err.
static void
s_answer (self_t *self, s_pending_t *p, int rc, ab_error_t *err)
{
    if (rc < 0) {
        s_nack (self, p->rid, p->rid_size, p->reqid, err ? err->code : AB_E_STORAGE,
                err ? ab_error_msg (err) : NULL, -1);
        return;
    }
    uint64_t seqs_local[64] = { 0 };
    uint64_t *seqs = p->count <= 64 ? seqs_local : malloc (p->count * sizeof *seqs);
    assert (seqs);
    for (size_t j = 0; j < p->count; j++)
        seqs[j] = self->items[p->first_item + j].seq;
    size_t size;
    uint8_t *buf = ab_proto_encode_ack (p->reqid, seqs, p->count, &size);
    s_send (self, p->rid, p->rid_size, buf, size);
    if (seqs != seqs_local)
        free (seqs);
}

static void s_publish (self_t *self);

static void
s_commit (self_t *self)
{
    if (self->nitems == 0)
        return;
    if (self->nitems > self->cap_items) {
        self->cap_items = self->nitems * 2;
        self->items = realloc (self->items, self->cap_items * sizeof *self->items);
        assert (self->items);
    }
    memset (self->items, 0, self->nitems * sizeof *self->items);
    size_t appends = 0;
    for (size_t i = 0; i < self->npending; i++) {
        s_pending_t *p = &self->pending[i];
        if (p->op != AB_PROTO_APPEND)
            continue;
        appends++;
        for (size_t j = 0; j < p->count; j++) {
            ab_store_item_t *item = &self->items[p->first_item + j];
            item->event = p->events[j];
            item->src = p->src;
            item->producer = p->key;
        }
    }
    ab_error_t *err = NULL;
    int rc = ab_store_append (self->store, self->items, self->nitems, &err);
    s_check_storage (self, rc, err);
    int appended = rc > 0 ? rc : 0;
    if (rc >= 0 || err->code == AB_E_STORAGE || appends == 1) {
        for (size_t i = 0; i < self->npending; i++)
            if (self->pending[i].op == AB_PROTO_APPEND)
                s_answer (self, &self->pending[i], rc, err);
    } else {
        //  One request broke the shared batch in a way its checks could not
        //  see (a sealed envelope over the limit): commit each request on its
        //  own so the others still go through.
        ab_error_destroy (&err);
        for (size_t i = 0; i < self->npending; i++) {
            s_pending_t *p = &self->pending[i];
            if (p->op != AB_PROTO_APPEND)
                continue;
            int prc
                = self->storage_failed
                      ? ab_error_set (&err, AB_E_STORAGE,
                                      "the log is not accepting appends after a storage error")
                      : ab_store_append (self->store, self->items + p->first_item, p->count, &err);
            s_check_storage (self, prc, err);
            if (prc > 0)
                appended += prc;
            s_answer (self, p, prc, err);
            ab_error_destroy (&err);
        }
    }
    if (appended) {
        self->stat_appended += (uint64_t)appended;
        self->stat_commits++;
        //  Publish after the ACKs: subscribers never see what a producer
        //  could still be told failed. Items without bytes were duplicates
        //  or not committed.
        if (self->pub)
            s_publish (self);
        if (self->cfg.verbose)
            zsys_info ("logd: committed %d events, head %" PRIu64, appended,
                       ab_store_head (self->store, NULL));
    }
    for (size_t i = 0; i < self->nitems; i++)
        ab_store_item_clear (&self->items[i]);
    ab_error_destroy (&err);
}

//  Publish the events just committed: one message per run of consecutive
//  events of one type, topic `ev.<type>` and their envelopes back to back
//  (CONTRACTS.md "Bus topics"). CURVE boxes and ZeroMQ handles each message
//  separately, so a run of 100 costs about what one event did.
static void
s_publish (self_t *self)
{
    void *pub = zsock_resolve (self->pub);
    size_t i = 0;
    while (i < self->nitems) {
        ab_store_item_t *first = &self->items[i];
        if (first->duplicate || !first->bytes) {
            i++;
            continue;
        }
        //  Items without bytes (dupes, failed requests) took no seq, so the
        //  committed items of a run have consecutive seqs.
        const char *type = ab_event_type (first->event);
        size_t total = 0, end = i;
        for (; end < self->nitems; end++) {
            ab_store_item_t *item = &self->items[end];
            if (item->duplicate || !item->bytes)
                continue;
            if (!streq (ab_event_type (item->event), type) || total + item->size > AB_EVRUN_MAX)
                break;
            total += item->size;
        }
        char topic[3 + AB_TYPE_MAX + 1];
        int tlen = snprintf (topic, sizeof topic, "ev.%s", type);
        zmq_msg_t body;
        zmq_msg_init_size (&body, total);
        uint8_t *at = zmq_msg_data (&body);
        for (; i < end; i++) {
            ab_store_item_t *item = &self->items[i];
            if (item->duplicate || !item->bytes)
                continue;
            memcpy (at, item->bytes, item->size);
            at += item->size;
        }
        //  PUB never blocks: a full queue drops, followers read the gap
        if (zmq_send (pub, topic, (size_t)tlen, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0
            || zmq_msg_send (&body, pub, ZMQ_DONTWAIT) < 0)
            zmq_msg_close (&body);
    }
}

//  --------------------------------------------------------------------------
//  READ and HEAD

typedef struct {
    self_t *self;
    s_pending_t *p;
    ab_proto_blob_t *envs; //  copies, owned
    size_t count, cap;
    size_t bytes; //  in this EVENTS reply
    size_t total_events;
    size_t total_bytes;
    size_t max_events;
    size_t max_bytes;
} s_read_t;

static void
s_read_flush (s_read_t *r)
{
    if (r->count == 0)
        return;
    size_t size;
    uint8_t *buf = ab_proto_encode_events (r->p->reqid, r->envs, r->count, &size);
    s_send (r->self, r->p->rid, r->p->rid_size, buf, size);
    for (size_t i = 0; i < r->count; i++)
        free ((void *)r->envs[i].data);
    r->count = 0;
    r->bytes = 0;
}

static int
s_read_one (uint64_t seq, const uint8_t *bytes, size_t size, void *arg)
{
    s_read_t *r = (s_read_t *)arg;
    //  Always at least one event per READ, even if it alone is over max_bytes.
    if (r->total_events > 0 && r->total_bytes + size > r->max_bytes)
        return 1;
    if (r->count == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 256;
        r->envs = realloc (r->envs, r->cap * sizeof *r->envs);
        assert (r->envs);
    }
    uint8_t *copy = malloc (size ? size : 1);
    assert (copy);
    memcpy (copy, bytes, size);
    r->envs[r->count++] = (ab_proto_blob_t){ copy, size };
    r->bytes += size;
    r->total_bytes += size;
    r->total_events++;
    if (r->bytes >= AB_PROTO_EVENTS_BYTES)
        s_read_flush (r);
    return r->total_events >= r->max_events;
}

static void
s_serve (self_t *self, s_pending_t *p)
{
    uint8_t hash[AB_HASH_SIZE];
    size_t size;
    if (p->op == AB_PROTO_HEAD) {
        uint64_t head = ab_store_head (self->store, hash);
        uint8_t *buf = ab_proto_encode_head_reply (p->reqid, head, hash,
                                                   ab_store_first (self->store), &size);
        s_send (self, p->rid, p->rid_size, buf, size);
        return;
    }
    assert (p->op == AB_PROTO_READ);
    if (p->from < ab_store_first (self->store)) {
        char msg[128];
        snprintf (msg, sizeof msg,
                  "read from seq %" PRIu64 ": the log holds history from seq %" PRIu64, p->from,
                  ab_store_first (self->store));
        s_nack (self, p->rid, p->rid_size, p->reqid, AB_E_TRUNCATED, msg, -1);
        return;
    }
    s_read_t r = { .self = self, .p = p };
    r.max_events = p->max_events && p->max_events < AB_PROTO_READ_EVENTS_MAX
                       ? p->max_events
                       : AB_PROTO_READ_EVENTS_MAX;
    r.max_bytes = p->max_bytes && p->max_bytes < AB_PROTO_READ_BYTES_MAX ? p->max_bytes
                                                                         : AB_PROTO_READ_BYTES_MAX;
    ab_error_t *err = NULL;
    int64_t rc = ab_store_scan (self->store, p->from - 1, s_read_one, &r, &err);
    if (rc < 0) {
        for (size_t i = 0; i < r.count; i++)
            free ((void *)r.envs[i].data);
        free (r.envs);
        s_nack (self, p->rid, p->rid_size, p->reqid, err->code, ab_error_msg (err), -1);
        ab_error_destroy (&err);
        return;
    }
    s_read_flush (&r);
    free (r.envs);
    uint64_t head = ab_store_head (self->store, hash);
    uint8_t *buf = ab_proto_encode_end (p->reqid, head, hash, &size);
    s_send (self, p->rid, p->rid_size, buf, size);
}

//  --------------------------------------------------------------------------
//  The loop

//  Receive one request without blocking. 1 handled, 0 nothing ready.
static int
s_recv_one (self_t *self, size_t *events_added, size_t *bytes)
{
    zmq_msg_t rid, body;
    zmq_msg_init (&rid);
    int n = zmq_msg_recv (&rid, self->router_h, ZMQ_DONTWAIT);
    if (n < 0) {
        zmq_msg_close (&rid);
        return 0;
    }
    //  ROUTER: routing id, then the request frame; anything else is broken.
    zmq_msg_init (&body);
    bool ok = zmq_msg_more (&rid) && zmq_msg_recv (&body, self->router_h, 0) >= 0;
    bool extra = false;
    while (ok && zmq_msg_more (&body)) {
        //  Swallow extra frames: a request is exactly one frame.
        zmq_msg_t junk;
        zmq_msg_init (&junk);
        zmq_msg_recv (&junk, self->router_h, 0);
        bool more = zmq_msg_more (&junk);
        zmq_msg_close (&junk);
        extra = true;
        if (!more)
            break;
    }
    size_t rid_size = zmq_msg_size (&rid);
    if (ok && rid_size <= S_ROUTING_MAX) {
        *bytes += zmq_msg_size (&body);
        if (extra)
            s_nack (self, zmq_msg_data (&rid), rid_size, 0, AB_E_MALFORMED,
                    "request: a request is one frame, got several", -1);
        else
            *events_added += s_request (self, zmq_msg_data (&rid), rid_size, &body);
    }
    zmq_msg_close (&body);
    zmq_msg_close (&rid);
    return 1;
}

static void
s_turn (self_t *self)
{
    size_t events = 0, bytes = 0, msgs = 0;
    while (events < S_GROUP_EVENTS && bytes < S_GROUP_BYTES && msgs < S_GROUP_MSGS
           && s_recv_one (self, &events, &bytes))
        msgs++;
    s_commit (self);
    for (size_t i = 0; i < self->npending; i++) {
        s_pending_t *p = &self->pending[i];
        if (p->op == AB_PROTO_APPEND)
            ab_proto_events_destroy (&p->events, p->count);
        else
            s_serve (self, p);
    }
    self->npending = 0;
    self->nitems = 0;
}

static void
s_pipe (self_t *self)
{
    zmsg_t *msg = zmsg_recv (self->pipe);
    if (!msg) {
        self->terminated = true;
        return;
    }
    char *cmd = zmsg_popstr (msg);
    if (!cmd || streq (cmd, "$TERM"))
        self->terminated = true;
    else if (streq (cmd, "FAIL-WRITES")) {
        ab_store_set_fail_writes (self->store, true);
        zsock_signal (self->pipe, 0);
    } else if (streq (cmd, "STATS"))
        zsock_send (self->pipe, "888", ab_store_head (self->store, NULL), self->stat_appended,
                    self->stat_commits);
    free (cmd);
    zmsg_destroy (&msg);
}

void
ab_logd_actor_fn (zsock_t *pipe, void *args)
{
    const ab_logd_config_t *cfg = (const ab_logd_config_t *)args;
    ab_error_t *err = NULL;
    self_t *self = s_self_new (pipe, cfg, &err);
    zsock_signal (pipe, 0);
    if (!self) {
        //  Tell ab_logd_new why, then wait for $TERM as every actor must.
        zsock_send (pipe, "ss", ab_error_name (err ? err->code : AB_E_SYSTEM), ab_error_msg (err));
        ab_error_destroy (&err);
        char *cmd;
        while ((cmd = zstr_recv (pipe))) {
            bool term = streq (cmd, "$TERM");
            free (cmd);
            if (term)
                break;
        }
        return;
    }
    uint8_t hash[AB_HASH_SIZE];
    uint64_t head = ab_store_head (self->store, hash);
    zsock_send (pipe, "sss", "ok", self->endpoint, zcert_public_txt (self->cert));
    if (cfg->verbose)
        zsys_info ("logd: serving %s, data %s, head %" PRIu64, self->endpoint, self->cfg.data_dir,
                   head);

    zmq_pollitem_t items[]
        = { { zsock_resolve (pipe), 0, ZMQ_POLLIN, 0 }, { self->router_h, 0, ZMQ_POLLIN, 0 } };
    while (!self->terminated) {
        //  EINTR (a signal) just loops: main decides when we stop.
        if (zmq_poll (items, 2, -1) < 0) {
            if (zmq_errno () == ETERM)
                break;
            continue;
        }
        if (items[0].revents & ZMQ_POLLIN)
            s_pipe (self);
        if (!self->terminated && (items[1].revents & ZMQ_POLLIN))
            s_turn (self);
    }
    s_self_destroy (&self);
}

//  --------------------------------------------------------------------------
//  The handle

struct _ab_logd_t {
    zactor_t *actor;
    ab_logd_config_t cfg; //  what the actor reads at start
    char *endpoint;
    char *public_key;
};

ab_logd_t *
ab_logd_new (const ab_logd_config_t *config, ab_error_t **err)
{
    assert (config);
    ab_logd_t *self = calloc (1, sizeof *self);
    assert (self);
    s_config_copy (&self->cfg, config);
    self->actor = zactor_new (ab_logd_actor_fn, &self->cfg);
    if (!self->actor) {
        ab_error_set (err, AB_E_SYSTEM, "logd: cannot start its thread");
        ab_logd_destroy (&self);
        return NULL;
    }
    char *status = NULL, *a = NULL, *b = NULL;
    if (zsock_recv (self->actor, "sss", &status, &a, &b) < 0 || !status) {
        ab_error_set (err, AB_E_SYSTEM, "logd: actor did not report how it started");
        ab_logd_destroy (&self);
        return NULL;
    }
    if (streq (status, "ok")) {
        self->endpoint = a;
        self->public_key = b;
        free (status);
        return self;
    }
    //  status is the error name, a the message.
    ab_error_set (err, ab_error_from_name (status), "%s", a ? a : "logd failed to start");
    free (status);
    free (a);
    free (b);
    ab_logd_destroy (&self);
    return NULL;
}

void
ab_logd_destroy (ab_logd_t **self_p)
{
    assert (self_p);
    ab_logd_t *self = *self_p;
    if (!self)
        return;
    zactor_destroy (&self->actor);
    s_config_free (&self->cfg);
    free (self->endpoint);
    free (self->public_key);
    free (self);
    *self_p = NULL;
}

const char *
ab_logd_endpoint (ab_logd_t *self)
{
    assert (self);
    return self->endpoint;
}

const char *
ab_logd_public_key (ab_logd_t *self)
{
    assert (self);
    return self->public_key;
}

zactor_t *
ab_logd_actor (ab_logd_t *self)
{
    assert (self);
    return self->actor;
}

void
ab_logd_fail_writes (ab_logd_t *self)
{
    assert (self);
    zstr_send (self->actor, "FAIL-WRITES");
    zsock_wait (self->actor);
}

void
ab_logd_stats (ab_logd_t *self, uint64_t *head, uint64_t *appended, uint64_t *commits)
{
    assert (self);
    uint64_t h = 0, a = 0, c = 0;
    zstr_send (self->actor, "STATS");
    zsock_recv (self->actor, "888", &h, &a, &c);
    if (head)
        *head = h;
    if (appended)
        *appended = a;
    if (commits)
        *commits = c;
}

//  --------------------------------------------------------------------------
//  Selftest: logd and ab_logclient in-process over loopback, real keys

#include "ab_busd.h"
#include "ab_cluster.h"
#include "ab_logclient.h"

static int
s_rm_one (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove (path);
}

static ab_logclient_t *
s_client (ab_logd_t *logd, const char *keys, const char *name)
{
    ab_error_t *err = NULL;
    zcert_t *cert = ab_keyring_load_secret (keys, name, &err);
    assert (cert);
    ab_logclient_t *client
        = ab_logclient_new (ab_logd_endpoint (logd), ab_logd_public_key (logd), cert, &err);
    assert (client);
    zcert_destroy (&cert);
    ab_logclient_set_timeout (client, 3000);
    return client;
}

//  Append one event of type; returns the call's result and its seq.
static int
s_append (ab_logclient_t *client, const char *type, uint64_t *seq, ab_error_t **err)
{
    ab_event_t *ev = ab_event_new (type, "stack/shop");
    assert (ev);
    int rc = ab_logclient_append (client, &ev, 1, seq, 3000, err);
    ab_event_destroy (&ev);
    return rc;
}

typedef struct {
    ab_event_t *events[16];
    size_t count;
} s_collect_t;

static int
s_collect (ab_event_t **event_p, void *arg)
{
    s_collect_t *c = (s_collect_t *)arg;
    assert (c->count < 16);
    c->events[c->count++] = *event_p;
    *event_p = NULL;
    return 0;
}

static void
s_collect_clear (s_collect_t *c)
{
    for (size_t i = 0; i < c->count; i++)
        ab_event_destroy (&c->events[i]);
    c->count = 0;
}

//  Send a raw frame as admin and return the decoded reply (NACK expected).
static void
s_raw_request (zsock_t *raw, const uint8_t *buf, size_t size, ab_proto_reply_t *reply)
{
    assert (zmq_send (zsock_resolve (raw), buf, size, 0) == (int)size);
    zframe_t *frame = zframe_recv (raw);
    assert (frame);
    ab_error_t *err = NULL;
    assert (ab_proto_decode_reply (zframe_data (frame), zframe_size (frame), reply, &err) == 0);
    zframe_destroy (&frame);
}

void
ab_logd_test (bool verbose)
{
    printf (" * ab_logd: ");
    if (verbose)
        printf ("\n");
    char tmp[] = "/tmp/ab_logd_test.XXXXXX";
    assert (mkdtemp (tmp));
    char keys[64], data[64];
    snprintf (keys, sizeof keys, "%s/keys", tmp);
    snprintf (data, sizeof data, "%s/data", tmp);
    ab_error_t *err = NULL;
    assert (ab_keyring_init (keys, &err) == 0);

    ab_busd_config_t bcfg = { .keys = keys,
                              .publish = "tcp://127.0.0.1:*",
                              .subscribe = "tcp://127.0.0.1:*",
                              .verbose = verbose };
    ab_busd_t *busd = ab_busd_new (&bcfg, &err);
    assert (busd);
    ab_logd_config_t cfg = { .keys_dir = keys,
                             .data_dir = data,
                             .endpoint = "tcp://127.0.0.1:*",
                             .bus_endpoint = ab_busd_publish_endpoint (busd),
                             .bus_key = ab_busd_public_key (busd),
                             .verbose = verbose };
    ab_logd_t *logd = ab_logd_new (&cfg, &err);
    if (!logd)
        fprintf (stderr, "logd: %s\n", ab_error_msg (err));
    assert (logd);
    assert (strncmp (ab_logd_endpoint (logd), "tcp://127.0.0.1:", 16) == 0);

    //  A bad start is an error, not a crash: the key dir lacks the identity.
    ab_logd_config_t bad = cfg;
    bad.identity = "nobody";
    assert (ab_logd_new (&bad, &err) == NULL);
    assert (err && err->code == AB_E_NOT_FOUND);
    ab_error_destroy (&err);
    bad = cfg;
    bad.bus_key = "not-a-key";
    assert (ab_logd_new (&bad, &err) == NULL);
    assert (err && err->code == AB_E_USAGE && strstr (err->msg, "Z85"));
    ab_error_destroy (&err);
    //  A second logd on the same data is refused (LevelDB's lock).
    assert (ab_logd_new (&cfg, &err) == NULL);
    assert (err && err->code == AB_E_STORAGE && strstr (err->msg, data));
    ab_error_destroy (&err);
    char data2[80];
    snprintf (data2, sizeof data2, "%s/data2", tmp);
    bad = cfg;
    bad.data_dir = data2;
    bad.endpoint = "bogus";
    assert (ab_logd_new (&bad, &err) == NULL);
    assert (err && err->code == AB_E_IO && strstr (err->msg, "bind bogus"));
    ab_error_destroy (&err);

    zsock_t *sub = ab_curve_client (ZMQ_SUB, keys, "monitor", ab_busd_public_key (busd),
                                    ab_busd_subscribe_endpoint (busd), &err);
    assert (sub);
    zsock_set_subscribe (sub, "ev.");
    ab_logclient_t *admin = s_client (logd, keys, "admin");

    //  Append and ACK: seqs from 1.
    ab_event_t *three[3];
    for (int i = 0; i < 3; i++) {
        three[i] = ab_event_new ("note.added", "stack/shop");
        assert (ab_event_set_data_json (three[i], "{\"text\": \"rollout approved\"}", &err) == 0);
    }
    uint64_t seqs[3] = { 0 };
    assert (ab_logclient_append (admin, three, 3, seqs, 3000, &err) == 0);
    assert (seqs[0] == 1 && seqs[1] == 2 && seqs[2] == 3);
    assert (ab_event_pseq (three[0]) != 0 && ab_event_pseq (three[1]) > ab_event_pseq (three[0]));

    //  HEAD and READ.
    uint8_t hash[AB_HASH_SIZE];
    assert (ab_logclient_head (admin, hash, &err) == 3);
    s_collect_t got = { .count = 0 };
    assert (ab_logclient_read (admin, 1, 0, s_collect, &got, &err) == 3);
    assert (got.count == 3);
    for (size_t i = 0; i < 3; i++) {
        assert (ab_event_seq (got.events[i]) == i + 1);
        assert (streq (ab_event_type (got.events[i]), "note.added"));
        assert (strncmp (ab_event_src (got.events[i]), "admin:admin:", 12) == 0);
        assert (ab_event_hash_ok (got.events[i]));
    }
    assert (memcmp (hash, ab_event_hash (got.events[2]), AB_HASH_SIZE) == 0);
    s_collect_clear (&got);
    assert (ab_logclient_read (admin, 2, 1, s_collect, &got, &err) == 1);
    assert (got.count == 1 && ab_event_seq (got.events[0]) == 2);
    s_collect_clear (&got);
    assert (ab_logclient_read (admin, 4, 0, s_collect, &got, &err) == 0);

    //  Dedupe: the same events again (their pseqs are now set) get the
    //  original seqs and append nothing.
    uint64_t again[3] = { 0 };
    assert (ab_logclient_append (admin, three, 3, again, 3000, &err) == 0);
    assert (again[0] == 1 && again[2] == 3);
    assert (ab_logclient_head (admin, NULL, &err) == 3);
    //  A pipelined request resent at once on a new socket: ACKed once, two
    //  events appended whichever copy logd saw first.
    int64_t reqid = ab_logclient_send_append (admin, three, 2, &err);
    assert (reqid > 0);
    ab_event_t *fresh[2]
        = { ab_event_new ("note.added", "stack/a"), ab_event_new ("note.added", "stack/b") };
    ab_event_set_pseq (fresh[0], 0);
    assert (ab_logclient_send_append (admin, fresh, 2, &err) > reqid);
    assert (ab_logclient_inflight (admin) == 2);
    assert (ab_logclient_resend (admin, &err) == 0);
    uint64_t rid;
    const uint64_t *acked;
    size_t nacked;
    assert (ab_logclient_recv_reply (admin, &rid, &acked, &nacked, 3000, &err) == 0);
    assert (rid == (uint64_t)reqid && nacked == 2 && acked[0] == 1 && acked[1] == 2);
    assert (ab_logclient_recv_reply (admin, &rid, &acked, &nacked, 3000, &err) == 0);
    assert (nacked == 2 && acked[0] == 4 && acked[1] == 5);
    assert (ab_logclient_inflight (admin) == 0);
    assert (ab_logclient_head (admin, NULL, &err) == 5);

    //  Published on the bus after commit: ev.<type> + the committed envelopes.
    //  The SUB may have joined late, so append until one arrives.
    bool heard = false;
    for (int tries = 0; tries < 50 && !heard; tries++) {
        uint64_t seq;
        assert (s_append (admin, "note.added", &seq, &err) == 0);
        zpoller_t *poller = zpoller_new (sub, NULL);
        while (zpoller_wait (poller, 100)) {
            char *topic = NULL;
            zframe_t *env = NULL;
            assert (zsock_recv (sub, "sf", &topic, &env) == 0);
            assert (streq (topic, "ev.note.added"));
            //  (earlier multi-event appends come as one message each)
            ab_event_t **evs = NULL;
            size_t n = 0;
            assert (ab_evrun_parse (topic, zframe_data (env), zframe_size (env), &evs, &n, &err)
                    == 0);
            for (size_t k = 0; k < n; k++)
                assert (ab_event_seq (evs[k]) >= 1 && ab_event_hash_ok (evs[k]));
            heard = true;
            ab_evrun_free (&evs, n);
            free (topic);
            zframe_destroy (&env);
        }
        zpoller_destroy (&poller);
    }
    assert (heard);
    zpoller_t *drain = zpoller_new (sub, NULL);
    while (zpoller_wait (drain, 200)) {
        zmsg_t *m = zmsg_recv (sub);
        zmsg_destroy (&m);
    }
    //  One APPEND of added, added, left, added: a message per same-type
    //  run, its envelopes back to back, seqs consecutive across messages.
    uint64_t before = (uint64_t)ab_logclient_head (admin, NULL, &err);
    const char *types[4] = { "note.added", "note.added", "node.left", "note.added" };
    ab_event_t *runs[4];
    for (int i = 0; i < 4; i++)
        runs[i] = ab_event_new (types[i], "stack/shop");
    uint64_t rseqs[4];
    assert (ab_logclient_append (admin, runs, 4, rseqs, 3000, &err) == 0);
    const size_t want_counts[3] = { 2, 1, 1 };
    uint64_t next = before + 1;
    for (size_t m = 0; m < 3; m++) {
        assert (zpoller_wait (drain, 3000));
        char *topic = NULL;
        zframe_t *body = NULL;
        assert (zsock_recv (sub, "sf", &topic, &body) == 0);
        ab_event_t **evs = NULL;
        size_t n = 0;
        assert (ab_evrun_parse (topic, zframe_data (body), zframe_size (body), &evs, &n, &err)
                == 0);
        assert (n == want_counts[m]);
        assert (streq (topic, m == 1 ? "ev.node.left" : "ev.note.added"));
        for (size_t k = 0; k < n; k++)
            assert (ab_event_seq (evs[k]) == next++ && ab_event_hash_ok (evs[k]));
        ab_evrun_free (&evs, n);
        free (topic);
        zframe_destroy (&body);
    }
    assert (next == before + 5);
    zpoller_destroy (&drain);
    for (int i = 0; i < 4; i++)
        ab_event_destroy (&runs[i]);
    uint64_t head = (uint64_t)ab_logclient_head (admin, NULL, &err);

    //  A role appending a type it may not: forbidden, naming both.
    ab_logclient_t *monitor = s_client (logd, keys, "monitor");
    assert (s_append (monitor, "note.added", NULL, &err) == -AB_E_FORBIDDEN);
    assert (strstr (err->msg, "monitor") && strstr (err->msg, "note.added"));
    ab_error_destroy (&err);
    //  Reads are open to every active key.
    assert (ab_logclient_head (monitor, NULL, &err) == (int64_t)head);

    //  Unknown type in a batch: the whole batch is refused, naming event 1.
    ab_event_t *mixed[2]
        = { ab_event_new ("note.added", "stack/shop"), ab_event_new ("bogus.thing", "x/y") };
    assert (ab_logclient_append (admin, mixed, 2, NULL, 3000, &err) == -AB_E_UNKNOWN_TYPE);
    assert (strstr (err->msg, "event 1") && strstr (err->msg, "bogus.thing"));
    ab_error_destroy (&err);
    assert (ab_logclient_head (admin, NULL, &err) == (int64_t)head);

    //  Malformed and oversize frames: NACK, log unchanged, logd serves on.
    zsock_t *raw = ab_curve_client (ZMQ_DEALER, keys, "admin", ab_logd_public_key (logd),
                                    ab_logd_endpoint (logd), &err);
    assert (raw);
    zsock_set_rcvtimeo (raw, 3000);
    ab_proto_reply_t reply = { 0 };
    s_raw_request (raw, (const uint8_t *)"\xc1garbage", 8, &reply);
    assert (reply.op == AB_PROTO_NACK && reply.code == AB_E_MALFORMED && reply.reqid == 0);
    if (verbose)
        printf ("  malformed → %s\n", reply.message);
    ab_proto_reply_clear (&reply);
    size_t big = AB_FRAME_MAX + 10;
    uint8_t *huge = calloc (1, big);
    assert (huge);
    ab_proto_blob_t blobs[2] = { { (const uint8_t *)"\x80", 1 }, { huge, big } };
    size_t size;
    uint8_t *frame = ab_proto_encode_append (77, blobs, 2, &size);
    s_raw_request (raw, frame, size, &reply);
    assert (reply.op == AB_PROTO_NACK && reply.code == AB_E_OVERSIZE && reply.reqid == 77);
    assert (reply.index == 1);
    ab_proto_reply_clear (&reply);
    free (frame);
    free (huge);
    frame = ab_proto_encode_append (78, blobs, 1, &size); //  "\x80": an empty map
    s_raw_request (raw, frame, size, &reply);
    assert (reply.op == AB_PROTO_NACK && reply.code == AB_E_MALFORMED && reply.index == 0);
    ab_proto_reply_clear (&reply);
    free (frame);
    //  Two frames where one is expected.
    zstr_sendm (raw, "one");
    zstr_send (raw, "two");
    zframe_t *rf = zframe_recv (raw);
    assert (rf);
    assert (ab_proto_decode_reply (zframe_data (rf), zframe_size (rf), &reply, &err) == 0);
    assert (reply.code == AB_E_MALFORMED);
    ab_proto_reply_clear (&reply);
    zframe_destroy (&rf);
    assert (ab_logclient_head (admin, NULL, &err) == (int64_t)head);
    zsock_destroy (&raw);

    //  A key not in the directory gets no answer at all.
    zcert_t *stranger_cert = zcert_new ();
    ab_logclient_t *stranger = ab_logclient_new (ab_logd_endpoint (logd), ab_logd_public_key (logd),
                                                 stranger_cert, &err);
    assert (stranger);
    ab_event_t *ev = ab_event_new ("note.added", "stack/shop");
    assert (ab_logclient_append (stranger, &ev, 1, NULL, 500, &err) == -AB_E_TIMEOUT);
    ab_error_destroy (&err);
    ab_event_destroy (&ev);
    ab_logclient_destroy (&stranger);
    zcert_destroy (&stranger_cert);
    assert (ab_logclient_head (admin, NULL, &err) == (int64_t)head);

    //  A revoked key is refused on its live connection within ~1 s.
    assert (ab_keyring_add (keys, "admin", "ops", &err) == 0);
    ab_logclient_t *ops = s_client (logd, keys, "ops");
    uint64_t seq;
    assert (s_append (ops, "note.added", &seq, &err) == 0);
    assert (seq == head + 1);
    head++;
    assert (ab_keyring_revoke (keys, "ops", &err) == 0);
    int64_t revoked_at = zclock_mono ();
    int rc;
    while ((rc = s_append (ops, "note.added", &seq, &err)) == 0) {
        head++;
        assert (zclock_mono () - revoked_at < 1500);
        zclock_sleep (50);
    }
    assert (rc == -AB_E_DENIED);
    assert (zclock_mono () - revoked_at < 1500);
    ab_error_destroy (&err);
    ab_logclient_destroy (&ops);
    assert (ab_logclient_head (admin, NULL, &err) == (int64_t)head);

    //  Restart on the same data: head and dedupe come back.
    ab_logclient_destroy (&admin);
    ab_logclient_destroy (&monitor);
    ab_logd_destroy (&logd);
    logd = ab_logd_new (&cfg, &err);
    assert (logd);
    admin = s_client (logd, keys, "admin");
    assert (ab_logclient_head (admin, NULL, &err) == (int64_t)head);
    uint64_t after[3] = { 0 };
    assert (ab_logclient_append (admin, three, 3, after, 3000, &err) == 0);
    assert (after[0] == 1 && after[1] == 2 && after[2] == 3);
    assert (ab_logclient_head (admin, NULL, &err) == (int64_t)head);

    //  A storage error: NACK storage from then on, reads still served.
    ab_logd_fail_writes (logd);
    assert (s_append (admin, "note.added", NULL, &err) == -AB_E_STORAGE);
    ab_error_destroy (&err);
    assert (s_append (admin, "note.added", NULL, &err) == -AB_E_STORAGE);
    ab_error_destroy (&err);
    assert (ab_logclient_head (admin, NULL, &err) == (int64_t)head);
    uint64_t shead = 0, appended = 0, commits = 0;
    ab_logd_stats (logd, &shead, &appended, &commits);
    assert (shead == head && appended == 0 && commits == 0);

    for (int i = 0; i < 3; i++)
        ab_event_destroy (&three[i]);
    ab_event_destroy (&fresh[0]);
    ab_event_destroy (&fresh[1]);
    ab_event_destroy (&mixed[0]);
    ab_event_destroy (&mixed[1]);
    ab_logclient_destroy (&admin);
    zsock_destroy (&sub);
    ab_logd_destroy (&logd);
    ab_busd_destroy (&busd);
    assert (nftw (tmp, s_rm_one, 16, FTW_DEPTH | FTW_PHYS) == 0);
    printf ("OK\n");
}
