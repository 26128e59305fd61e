/*  ab_busd - the bus hub: an authenticated XSUB/XPUB relay (an actor)       */
//  Selftests assert behaviour: keep assert live in release builds too.
#undef NDEBUG
#include <assert.h>

#include "ab_busd.h"
#include "ab_keyring.h"
#include "ab_testrig.h"
#include "ab_zap.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <string.h>

#define CHECK_MSEC 200   //  how often the keyring is checked for revocations
//  Messages queued per pipe before PUB/XPUB drops. An ev. message is a run
//  of events (up to 1 MiB; ~25 KB for a typical run of 100), so this bounds
//  a slow subscriber's queue to ~50 MB typical, where 100,000 single-event
//  messages once bounded it to ~25 MB.
#define RELAY_HWM 2000
#define BURST 1000       //  messages relayed per socket per loop turn
#define REBIND_TRIES 200 //  x 10 ms: time for libzmq to free a closed port
#define ZAP_DOMAIN "abbey"
#define ZMQ_ZAP_ENFORCE_DOMAIN_OPT 93 //  draft option: fail closed without ZAP

struct _ab_busd_t {
    zactor_t *actor; //  the hub
    char *publish;   //  bound XSUB endpoint
    char *subscribe; //  bound XPUB endpoint
    char *key;       //  our public key, Z85
};

//  Handed to the actor; it fills the outputs before its first signal.
typedef struct {
    const ab_busd_config_t *config;
    int status;        //  0 or -code
    char error[512];   //  why, when status < 0
    char publish[256]; //  bound endpoints
    char subscribe[256];
    char key[AB_KEY_Z85_LEN + 1];
} s_start_t;

typedef struct {
    zsock_t *pipe;         //  to ab_busd_t
    ab_zap_t *zap;         //  the process's ZAP handler, held while we serve
    ab_keyring_t *ring;    //  who is who, for per-message checks
    zcert_t *cert;         //  our identity (server and upstream client)
    char *publish;         //  XSUB endpoint (resolved after the first bind)
    char *subscribe;       //  XPUB endpoint (resolved after the first bind)
    char *upstream;        //  upstream busd's subscribe endpoint, or NULL
    char *upstream_key;    //  its public key
    zsock_t *xsub;         //  publishers connect here
    zsock_t *xpub;         //  subscribers connect here
    zsock_t *up;           //  XSUB connected to the upstream, or NULL
    zpoller_t *poller;     //  pipe + sockets, rebuilt on rebind
    int64_t next_check;    //  zclock_mono of the next keyring check
    bool verbose;          //  log drops and rebinds
    ab_busd_stats_t stats; //  counters
} s_self_t;

static zsock_t *
s_server (s_self_t *self, int type, const char *endpoint, char **bound, ab_error_t **err)
{
    zsock_t *sock = zsock_new (type);
    if (!sock) {
        ab_error_set (err, AB_E_SYSTEM, "cannot create a socket");
        return NULL;
    }
    zcert_apply (self->cert, sock);
    zsock_set_curve_server (sock, 1);
    zsock_set_zap_domain (sock, ZAP_DOMAIN);
    int one = 1;
    //  Where libzmq has it (draft API), refuse clients if ZAP is ever missing.
    zmq_setsockopt (zsock_resolve (sock), ZMQ_ZAP_ENFORCE_DOMAIN_OPT, &one, sizeof one);
    if (type == ZMQ_XPUB)
        zsock_set_sndhwm (sock, RELAY_HWM);
    else
        zsock_set_rcvhwm (sock, RELAY_HWM);
    zsock_set_linger (sock, 0);
    //  Rebinding a port we just closed can fail until libzmq's I/O thread
    //  has released it; retry for a while.
    int rc = zsock_bind (sock, "%s", endpoint);
    for (int i = 0; rc < 0 && bound == NULL && i < REBIND_TRIES; i++) {
        zclock_sleep (10);
        rc = zsock_bind (sock, "%s", endpoint);
    }
    if (rc < 0) {
        ab_error_set (err, AB_E_IO, "bind %s: %s", endpoint, zmq_strerror (zmq_errno ()));
        zsock_destroy (&sock);
        return NULL;
    }
    if (bound)
        *bound = zsock_last_endpoint (sock);
    return sock;
}

static int
s_connect_upstream (s_self_t *self, ab_error_t **err)
{
    if (!self->upstream)
        return 0;
    self->up = zsock_new (ZMQ_XSUB);
    if (!self->up)
        return ab_error_set (err, AB_E_SYSTEM, "cannot create a socket");
    zcert_apply (self->cert, self->up);
    zsock_set_curve_serverkey (self->up, self->upstream_key);
    zsock_set_rcvhwm (self->up, RELAY_HWM);
    zsock_set_linger (self->up, 0);
    if (zsock_connect (self->up, "%s", self->upstream) < 0) {
        zsock_destroy (&self->up);
        return ab_error_set (err, AB_E_INVALID, "upstream %s: %s", self->upstream,
                             zmq_strerror (zmq_errno ()));
    }
    return 0;
}

static void
s_poller_rebuild (s_self_t *self)
{
    zpoller_destroy (&self->poller);
    self->poller = zpoller_new (self->pipe, self->xsub, self->xpub, NULL);
    if (self->up)
        zpoller_add (self->poller, self->up);
}

//  Bind both sides. The first time, endpoints may have wildcards and we
//  keep what they resolved to; later (rebind) we reuse those.
static int
s_bind (s_self_t *self, bool first, ab_error_t **err)
{
    char *bound = NULL;
    self->xsub = s_server (self, ZMQ_XSUB, self->publish, first ? &bound : NULL, err);
    if (!self->xsub)
        return ab_error_wrap (err, "publish side");
    if (first) {
        free (self->publish);
        self->publish = bound;
    }
    bound = NULL;
    self->xpub = s_server (self, ZMQ_XPUB, self->subscribe, first ? &bound : NULL, err);
    if (!self->xpub)
        return ab_error_wrap (err, "subscribe side");
    if (first) {
        free (self->subscribe);
        self->subscribe = bound;
    }
    if (s_connect_upstream (self, err) < 0)
        return -1;
    s_poller_rebuild (self);
    return 0;
}

static void
s_unbind (s_self_t *self)
{
    zpoller_destroy (&self->poller);
    zsock_destroy (&self->xsub);
    zsock_destroy (&self->xpub);
    zsock_destroy (&self->up);
}

//  A key was revoked: drop every connection so that each peer handshakes
//  through ZAP again and the revoked one is refused. Publishers are also
//  checked per message, but subscribers send nothing we could check.
static void
s_rebind (s_self_t *self)
{
    s_unbind (self);
    ab_error_t *err = NULL;
    if (s_bind (self, false, &err) < 0) {
        //  Without our sockets we are useless; say why and keep retrying.
        zsys_error ("busd: rebind after revocation failed: %s", ab_error_msg (err));
        ab_error_destroy (&err);
        s_unbind (self);
        self->poller = zpoller_new (self->pipe, NULL);
        self->next_check = zclock_mono (); //  try again on the next turn
        return;
    }
    self->stats.rebinds++;
    if (self->verbose)
        zsys_info ("busd: a key was revoked; rebound %s and %s", self->publish, self->subscribe);
}

static bool
s_has_prefix (zmq_msg_t *msg, const char *prefix)
{
    size_t n = strlen (prefix);
    return zmq_msg_size (msg) >= n && memcmp (zmq_msg_data (msg), prefix, n) == 0;
}

//  Relay one message from an XSUB (ours or the upstream one) to the XPUB,
//  or drop it. Returns -1 when nothing was waiting.
static int
s_relay (s_self_t *self, zsock_t *from, bool upstream)
{
    zmq_msg_t part;
    zmq_msg_init (&part);
    if (zmq_msg_recv (&part, zsock_resolve (from), ZMQ_DONTWAIT) < 0) {
        zmq_msg_close (&part);
        return -1;
    }
    //  The upstream is authenticated by its server key; anyone else by ZAP,
    //  which set User-Id, rechecked now in case the key was since revoked.
    ab_role_t role = AB_ROLE_BUSD;
    const char *who = "upstream";
    if (!upstream) {
        const char *user_id = zmq_msg_gets (&part, "User-Id");
        const ab_identity_t *id = user_id ? ab_keyring_lookup (self->ring, user_id) : NULL;
        role = id ? id->role : AB_ROLE_NONE;
        who = id ? id->src : "unknown key";
    }
    bool relay = false;
    if (role == AB_ROLE_NONE)
        self->stats.dropped_denied++;
    else if (s_has_prefix (&part, "ev.")) {
        relay = role == AB_ROLE_LOGD || role == AB_ROLE_BUSD;
        if (!relay)
            self->stats.dropped_ev++;
    } else if (s_has_prefix (&part, "sig."))
        relay = true;
    else
        self->stats.dropped_topic++;
    if (!relay && self->verbose)
        zsys_info ("busd: dropped '%.*s' from %s",
                   (int)(zmq_msg_size (&part) > 64 ? 64 : zmq_msg_size (&part)),
                   (const char *)zmq_msg_data (&part), who);

    //  A multipart message arrives whole, so the rest is already here.
    void *out = self->xpub ? zsock_resolve (self->xpub) : NULL;
    while (true) {
        bool more = zmq_msg_more (&part);
        if (relay && out)
            zmq_msg_send (&part, out, (more ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT);
        if (!more)
            break;
        zmq_msg_close (&part);
        zmq_msg_init (&part);
        if (zmq_msg_recv (&part, zsock_resolve (from), 0) < 0)
            break;
    }
    zmq_msg_close (&part);
    if (relay)
        self->stats.relayed++;
    return 0;
}

//  Subscriptions flow the other way: from our XPUB to our XSUB and upstream.
static int
s_subscription (s_self_t *self)
{
    zmq_msg_t msg;
    zmq_msg_init (&msg);
    if (zmq_msg_recv (&msg, zsock_resolve (self->xpub), ZMQ_DONTWAIT) < 0) {
        zmq_msg_close (&msg);
        return -1;
    }
    if (self->up) {
        zmq_msg_t copy;
        zmq_msg_init (&copy);
        zmq_msg_copy (&copy, &msg);
        if (zmq_msg_send (&copy, zsock_resolve (self->up), ZMQ_DONTWAIT) < 0)
            zmq_msg_close (&copy);
    }
    if (zmq_msg_send (&msg, zsock_resolve (self->xsub), ZMQ_DONTWAIT) < 0)
        zmq_msg_close (&msg);
    return 0;
}

static int
s_pipe (s_self_t *self)
{
    char *command = zstr_recv (self->pipe);
    if (!command || streq (command, "$TERM")) {
        zstr_free (&command);
        return -1;
    }
    if (streq (command, "STATS"))
        zsock_send (self->pipe, "88888", self->stats.relayed, self->stats.dropped_ev,
                    self->stats.dropped_denied, self->stats.dropped_topic, self->stats.rebinds);
    else
        zsys_warning ("busd: unknown command %s", command);
    zstr_free (&command);
    return 0;
}

static void
s_self_destroy (s_self_t *self)
{
    s_unbind (self);
    zcert_destroy (&self->cert);
    ab_keyring_destroy (&self->ring);
    //  Last: the ZAP handler must outlive our server sockets.
    ab_zap_destroy (&self->zap);
    free (self->publish);
    free (self->subscribe);
    free (self->upstream);
    free (self->upstream_key);
}

static int
s_self_init (s_self_t *self, const ab_busd_config_t *config, ab_error_t **err)
{
    const char *name = config->identity ? config->identity : "busd";
    self->verbose = config->verbose;
    self->publish = strdup (config->publish);
    self->subscribe = strdup (config->subscribe);
    if (config->upstream) {
        self->upstream = strdup (config->upstream);
        self->upstream_key = strdup (config->upstream_key);
    }
    //  ZAP first: libzmq admits CURVE clients unchecked when no handler runs.
    self->zap = ab_zap_new (config->keys, err);
    if (!self->zap)
        return -1;
    ab_zap_set_verbose (self->zap, config->verbose);
    self->ring = ab_keyring_open (config->keys, err);
    if (!self->ring)
        return -1;
    self->cert = ab_keyring_load_secret (config->keys, name, err);
    if (!self->cert)
        return ab_error_wrap (err, "busd identity");
    const ab_identity_t *id = ab_keyring_lookup (self->ring, zcert_public_txt (self->cert));
    if (!id || id->role != AB_ROLE_BUSD)
        return ab_error_set (err, AB_E_FORBIDDEN, "identity '%s' does not have role busd", name);
    return s_bind (self, true, err);
}

static void
s_busd_actor (zsock_t *pipe, void *args)
{
    s_start_t *start = (s_start_t *)args;
    s_self_t self = { .pipe = pipe };
    ab_error_t *err = NULL;
    if (s_self_init (&self, start->config, &err) < 0) {
        start->status = err ? -(int)err->code : -AB_E_SYSTEM;
        snprintf (start->error, sizeof start->error, "%s", ab_error_msg (err));
        ab_error_destroy (&err);
        s_self_destroy (&self);
        zsock_signal (pipe, 0);
        return;
    }
    snprintf (start->publish, sizeof start->publish, "%s", self.publish);
    snprintf (start->subscribe, sizeof start->subscribe, "%s", self.subscribe);
    snprintf (start->key, sizeof start->key, "%s", zcert_public_txt (self.cert));
    start = NULL; //  belongs to ab_busd_new, which resumes on the signal
    zsock_signal (pipe, 0);

    self.next_check = zclock_mono () + CHECK_MSEC;
    while (true) {
        int64_t wait = self.next_check - zclock_mono ();
        void *which = zpoller_wait (self.poller, wait > 0 ? (int)wait : 0);
        if (which == pipe) {
            if (s_pipe (&self) < 0)
                break;
        } else if (which && which == self.xsub) {
            for (int i = 0; i < BURST && s_relay (&self, self.xsub, false) == 0; i++)
                ;
        } else if (which && which == self.up) {
            for (int i = 0; i < BURST && s_relay (&self, self.up, true) == 0; i++)
                ;
        } else if (which && which == self.xpub) {
            for (int i = 0; i < BURST && s_subscription (&self) == 0; i++)
                ;
        } else if (!which && zpoller_terminated (self.poller))
            break; //  interrupted: the caller is shutting down
        if (zclock_mono () >= self.next_check) {
            self.next_check = zclock_mono () + CHECK_MSEC;
            if (ab_keyring_refresh (self.ring) > 0 || !self.xsub)
                s_rebind (&self);
        }
    }
    s_self_destroy (&self);
}

ab_busd_t *
ab_busd_new (const ab_busd_config_t *config, ab_error_t **err)
{
    assert (config);
    if (!config->keys || !config->publish || !config->subscribe) {
        ab_error_set (err, AB_E_USAGE,
                      "busd needs a key directory, a publish and a subscribe endpoint");
        return NULL;
    }
    if (!config->upstream != !config->upstream_key) {
        ab_error_set (err, AB_E_USAGE, "busd: --upstream and --upstream-key go together");
        return NULL;
    }
    uint8_t bin[32];
    if (config->upstream_key
        && (strlen (config->upstream_key) != AB_KEY_Z85_LEN
            || !zmq_z85_decode (bin, config->upstream_key))) {
        ab_error_set (err, AB_E_INVALID, "busd: upstream key '%s' is not a 40-character Z85 key",
                      config->upstream_key);
        return NULL;
    }
    s_start_t start = { .config = config };
    zactor_t *actor = zactor_new (s_busd_actor, &start);
    if (!actor || start.status < 0) {
        zactor_destroy (&actor);
        ab_error_set (err, start.status < 0 ? (ab_code_t)-start.status : AB_E_SYSTEM, "busd: %s",
                      start.error[0] ? start.error : "cannot start");
        return NULL;
    }
    ab_busd_t *self = calloc (1, sizeof *self);
    assert (self);
    self->actor = actor;
    self->publish = strdup (start.publish);
    self->subscribe = strdup (start.subscribe);
    self->key = strdup (start.key);
    return self;
}

void
ab_busd_destroy (ab_busd_t **self_p)
{
    assert (self_p);
    ab_busd_t *self = *self_p;
    if (self) {
        zactor_destroy (&self->actor);
        free (self->publish);
        free (self->subscribe);
        free (self->key);
        free (self);
        *self_p = NULL;
    }
}

const char *
ab_busd_publish_endpoint (ab_busd_t *self)
{
    assert (self);
    return self->publish;
}

const char *
ab_busd_subscribe_endpoint (ab_busd_t *self)
{
    assert (self);
    return self->subscribe;
}

const char *
ab_busd_public_key (ab_busd_t *self)
{
    assert (self);
    return self->key;
}

void
ab_busd_stats (ab_busd_t *self, ab_busd_stats_t *stats)
{
    assert (self);
    assert (stats);
    memset (stats, 0, sizeof *stats);
    if (zstr_send (self->actor, "STATS") == 0)
        zsock_recv (self->actor, "88888", &stats->relayed, &stats->dropped_ev,
                    &stats->dropped_denied, &stats->dropped_topic, &stats->rebinds);
}

zactor_t *
ab_busd_actor (ab_busd_t *self)
{
    assert (self);
    return self->actor;
}

//  --------------------------------------------------------------------------
//  Selftest

//  Publish topic from pub until sub hears it (PUB drops while connecting).
static bool
s_until_heard (zsock_t *pub, zsock_t *sub, const char *topic, int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    zsock_set_rcvtimeo (sub, 20);
    while (zclock_mono () < deadline) {
        zsock_send (pub, "ss", topic, "warm");
        char *got = NULL, *body = NULL;
        while (zsock_recv (sub, "ss", &got, &body) == 0) {
            bool match = streq (got, topic);
            zstr_free (&got);
            zstr_free (&body);
            if (match)
                return true;
        }
    }
    return false;
}

//  Collect the bodies that arrive on sub within ms into one string.
static void
s_collect (zsock_t *sub, int ms, char *out, size_t size)
{
    *out = 0;
    int64_t deadline = zclock_mono () + ms;
    zsock_set_rcvtimeo (sub, 10);
    while (zclock_mono () < deadline) {
        char *topic = NULL, *body = NULL;
        if (zsock_recv (sub, "ss", &topic, &body) == 0 && body) {
            strncat (out, body, size - strlen (out) - 1);
            strncat (out, ";", size - strlen (out) - 1);
        }
        zstr_free (&topic);
        zstr_free (&body);
    }
}

void
ab_busd_test (bool verbose)
{
    printf (" * ab_busd: ");
    ab_testrig_t *rig = ab_testrig_new ("ab_busd");
    const char *keys = ab_testrig_keys (rig);
    ab_error_t *err = NULL;

    //  bad configurations fail with a reason
    ab_busd_config_t bad = { .keys = keys,
                             .publish = "tcp://127.0.0.1:*",
                             .subscribe = "tcp://127.0.0.1:*",
                             .identity = "admin" };
    assert (ab_busd_new (&bad, &err) == NULL && err->code == AB_E_FORBIDDEN);
    bad.identity = NULL;
    bad.publish = "nonsense://x";
    assert (ab_busd_new (&bad, &err) == NULL && strstr (err->msg, "bind nonsense://x"));

    ab_busd_t *busd = ab_testrig_busd (rig, verbose);
    const char *bkey = ab_busd_public_key (busd);
    assert (strncmp (ab_busd_publish_endpoint (busd), "tcp://127.0.0.1:", 16) == 0);
    assert (!strchr (ab_busd_publish_endpoint (busd), '*'));

    const char *sub_ep = ab_busd_subscribe_endpoint (busd);
    const char *pub_ep = ab_busd_publish_endpoint (busd);
    zsock_t *sub = ab_testrig_client (rig, ZMQ_SUB, "monitor", bkey, sub_ep);
    zsock_t *agent_sub = ab_testrig_client (rig, ZMQ_SUB, "agent", bkey, sub_ep);
    zsock_t *logd = ab_testrig_client (rig, ZMQ_PUB, "logd", bkey, pub_ep);
    zsock_t *admin = ab_testrig_client (rig, ZMQ_PUB, "admin", bkey, pub_ep);
    assert (s_until_heard (logd, sub, "sig.warm-logd", 5000));
    assert (s_until_heard (admin, sub, "sig.warm-admin", 5000));
    assert (s_until_heard (logd, agent_sub, "sig.warm-logd", 5000));
    char got[4096];
    s_collect (sub, 100, got, sizeof got); //  drain warm-ups

    //  ev.* only from logd; sig.* from anyone; other topics from no one
    zsock_send (admin, "ss", "ev.note.added", "forged");
    zsock_send (admin, "ss", "junk.topic", "junk");
    zsock_send (admin, "ss", "sig.metrics.cpu", "metric");
    zsock_send (logd, "ss", "ev.note.added", "committed");
    s_collect (sub, 500, got, sizeof got);
    assert (strstr (got, "committed;"));
    assert (strstr (got, "metric;"));
    assert (!strstr (got, "forged"));
    assert (!strstr (got, "junk"));
    ab_busd_stats_t stats;
    ab_busd_stats (busd, &stats);
    assert (stats.dropped_ev >= 1 && stats.dropped_topic >= 1);
    assert (stats.relayed >= 2);

    //  a two-level tree: a child busd relays what the parent carries
    ab_busd_config_t child_config = { .keys = keys,
                                      .publish = "tcp://127.0.0.1:*",
                                      .subscribe = "tcp://127.0.0.1:*",
                                      .upstream = ab_busd_subscribe_endpoint (busd),
                                      .upstream_key = bkey,
                                      .verbose = verbose };
    ab_busd_t *child = ab_busd_new (&child_config, &err);
    assert (child);
    zsock_t *leaf = ab_testrig_client (rig, ZMQ_SUB, "scheduler", ab_busd_public_key (child),
                                       ab_busd_subscribe_endpoint (child));
    assert (s_until_heard (logd, leaf, "sig.warm-tree", 5000));
    zsock_t *child_admin = ab_testrig_client (rig, ZMQ_PUB, "admin", ab_busd_public_key (child),
                                              ab_busd_publish_endpoint (child));
    assert (s_until_heard (child_admin, leaf, "sig.warm-child", 5000));
    s_collect (leaf, 100, got, sizeof got);
    zsock_send (logd, "ss", "ev.node.joined", "via-tree");
    zsock_send (child_admin, "ss", "ev.node.joined", "forged-at-child");
    s_collect (leaf, 500, got, sizeof got);
    assert (strstr (got, "via-tree;"));
    assert (!strstr (got, "forged-at-child"));
    ab_busd_stats (child, &stats);
    assert (stats.dropped_ev == 1);

    //  a revoked subscriber stops receiving and a revoked publisher stops
    //  reaching anyone within a second; others go on
    zsock_t *costd = ab_testrig_client (rig, ZMQ_PUB, "costd", bkey, pub_ep);
    assert (s_until_heard (costd, sub, "sig.warm-costd", 5000));
    s_collect (sub, 50, got, sizeof got);
    s_collect (agent_sub, 50, got, sizeof got);
    assert (ab_keyring_revoke (keys, "agent", &err) == 0);
    assert (ab_keyring_revoke (keys, "costd", &err) == 0);
    int64_t revoked_at = zclock_mono ();
    int agent_after = 0, monitor_after = 0, costd_after = 0;
    int64_t cutoff = revoked_at + 1000;
    zsock_set_rcvtimeo (agent_sub, 0);
    zsock_set_rcvtimeo (sub, 0);
    for (int i = 0; zclock_mono () < revoked_at + 1800; i++) {
        zsock_send (logd, "ss", "sig.tick", "tick");
        zsock_send (costd, "ss", "sig.cost", "cost");
        zclock_sleep (10);
        char *t = NULL, *b = NULL;
        while (zsock_recv (agent_sub, "ss", &t, &b) == 0) {
            if (zclock_mono () > cutoff)
                agent_after++;
            zstr_free (&t);
            zstr_free (&b);
        }
        while (zsock_recv (sub, "ss", &t, &b) == 0) {
            if (zclock_mono () > cutoff && streq (t, "sig.tick"))
                monitor_after++;
            if (zclock_mono () > cutoff && streq (t, "sig.cost"))
                costd_after++;
            zstr_free (&t);
            zstr_free (&b);
        }
    }
    assert (agent_after == 0);
    assert (costd_after == 0);
    assert (monitor_after > 0);
    ab_busd_stats (busd, &stats);
    assert (stats.rebinds >= 1);
    if (verbose)
        printf ("relayed %" PRIu64 " rebinds %" PRIu64 " ", stats.relayed, stats.rebinds);

    zsock_destroy (&costd);
    zsock_destroy (&leaf);
    zsock_destroy (&child_admin);
    zsock_destroy (&sub);
    zsock_destroy (&agent_sub);
    zsock_destroy (&logd);
    zsock_destroy (&admin);
    ab_busd_destroy (&child);
    ab_error_destroy (&err);
    ab_testrig_destroy (&rig);
    printf ("OK\n");
}
