/*  ab_zap - the process's ZAP handler (RFC 27): CURVE keys from the keyring  */
//  Selftests assert behaviour: keep assert live in release builds too.
#undef NDEBUG
#include <assert.h>

#include "ab_zap.h"
#include "ab_keyring.h"
#include "ab_testrig.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"

//  ZAP request frames (RFC 27), numbered as on the wire.
enum {
    ZAP_VERSION = 0, //  "1.0"
    ZAP_REQUEST_ID,  //  echoed in the reply
    ZAP_DOMAIN,      //  the server socket's ZAP domain
    ZAP_ADDRESS,     //  peer IP address
    ZAP_ROUTING_ID,  //  peer routing id
    ZAP_MECHANISM,   //  "NULL", "PLAIN" or "CURVE"
    ZAP_CREDENTIALS  //  CURVE: the client's 32-byte public key
};

struct _ab_zap_t {
    int unused; //  a handle: all state is the shared handler below
};

//  The one handler of the process, shared by every handle.
static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static zactor_t *s_actor;           //  the running handler, or NULL
static char *s_dir;                 //  its key directory (resolved)
static int s_refs;                  //  live handles
static _Atomic uint64_t s_accepted; //  requests answered 200
static _Atomic uint64_t s_denied;   //  requests answered 400
static atomic_bool s_verbose;       //  log each decision

typedef struct {
    const char *dir; //  key directory to serve
    int status;      //  set by the actor before it signals: 0 or -code
    char error[256]; //  why, when status < 0
} s_start_t;

static void
s_reply (zsock_t *handler, const char *request_id, size_t id_size, const char *code,
         const char *text, const char *user_id)
{
    zmsg_t *reply = zmsg_new ();
    zmsg_addstr (reply, "1.0");
    zmsg_addmem (reply, request_id, id_size);
    zmsg_addstr (reply, code);
    zmsg_addstr (reply, text);
    zmsg_addstr (reply, user_id);
    zmsg_addmem (reply, "", 0); //  metadata: none
    zmsg_send (&reply, handler);
}

//  Answer one request. A REP socket must reply to every request, even a
//  malformed one, or it stops serving.
static void
s_handle (zsock_t *handler, ab_keyring_t *ring)
{
    zmsg_t *request = zmsg_recv (handler);
    if (!request)
        return;
    zframe_t *frames[ZAP_CREDENTIALS + 2] = { NULL };
    size_t n = 0;
    for (zframe_t *f = zmsg_first (request); f && n < sizeof frames / sizeof frames[0];
         f = zmsg_next (request))
        frames[n++] = f;
    const char *rid = n > ZAP_REQUEST_ID ? (const char *)zframe_data (frames[ZAP_REQUEST_ID]) : "";
    size_t rid_size = n > ZAP_REQUEST_ID ? zframe_size (frames[ZAP_REQUEST_ID]) : 0;

    if (n < ZAP_CREDENTIALS || !zframe_streq (frames[ZAP_VERSION], "1.0")) {
        s_reply (handler, rid, rid_size, "500", "malformed ZAP request", "");
        s_denied++;
        zmsg_destroy (&request);
        return;
    }
    char *address = zframe_strdup (frames[ZAP_ADDRESS]);
    const ab_identity_t *id = NULL;
    const char *why = "mechanism not allowed: abbey accepts CURVE only";
    if (zframe_streq (frames[ZAP_MECHANISM], "CURVE")) {
        why = "malformed CURVE credentials";
        if (n > ZAP_CREDENTIALS && zframe_size (frames[ZAP_CREDENTIALS]) == 32) {
            //  No throttle here: a handshake is rare, and a revoked key must
            //  not start a session on a view up to 100 ms stale.
            ab_keyring_refresh (ring);
            id = ab_keyring_lookup_bin (ring, zframe_data (frames[ZAP_CREDENTIALS]));
            why = "key is not in the cluster key directory or was revoked";
        }
    }
    if (id) {
        s_reply (handler, rid, rid_size, "200", "OK", id->key);
        s_accepted++;
        if (s_verbose)
            zsys_info ("zap: accept %s from %s", id->src, address);
    } else {
        s_reply (handler, rid, rid_size, "400", why, "");
        s_denied++;
        if (s_verbose)
            zsys_info ("zap: deny %s: %s", address, why);
    }
    free (address);
    zmsg_destroy (&request);
}

static void
s_zap_actor (zsock_t *pipe, void *args)
{
    s_start_t *start = (s_start_t *)args;
    ab_error_t *err = NULL;
    ab_keyring_t *ring = ab_keyring_open (start->dir, &err);
    zsock_t *handler = NULL;
    if (!ring)
        start->status = -(int)err->code;
    else {
        handler = zsock_new (ZMQ_REP);
        //  A handler just destroyed frees the inproc name only once libzmq
        //  reaps its socket, so give a predecessor a moment to go.
        int rc = handler ? zsock_bind (handler, ZAP_ENDPOINT) : -1;
        for (int tries = 0; handler && rc < 0 && tries < 100; tries++) {
            zclock_sleep (10);
            rc = zsock_bind (handler, ZAP_ENDPOINT);
        }
        if (rc < 0)
            start->status = -AB_E_EXISTS;
    }
    if (start->status < 0) {
        snprintf (start->error, sizeof start->error, "%s",
                  err ? ab_error_msg (err)
                      : "cannot bind " ZAP_ENDPOINT ": another ZAP handler runs in this process");
        ab_error_destroy (&err);
        zsock_destroy (&handler);
        ab_keyring_destroy (&ring);
        zsock_signal (pipe, 0);
        return;
    }
    zsock_signal (pipe, 0);

    //  Interrupts are ignored (nonstop): servers must not outlive their ZAP
    //  handler (libzmq would then let CURVE clients in unchecked), so only
    //  $TERM, sent when the last handle goes, ends us.
    zpoller_t *poller = zpoller_new (pipe, handler, NULL);
    zpoller_set_nonstop (poller, true);
    while (true) {
        zsock_t *which = (zsock_t *)zpoller_wait (poller, 1000);
        if (which == pipe) {
            char *command = zstr_recv (pipe);
            bool term = !command || streq (command, "$TERM");
            zstr_free (&command);
            if (term)
                break;
        } else if (which == handler)
            s_handle (handler, ring);
    }
    zpoller_destroy (&poller);
    zsock_destroy (&handler);
    ab_keyring_destroy (&ring);
}

ab_zap_t *
ab_zap_new (const char *keys_dir, ab_error_t **err)
{
    assert (keys_dir);
    char resolved[PATH_MAX];
    if (!realpath (keys_dir, resolved)) {
        ab_error_errno (err, AB_E_NOT_FOUND, errno, "zap: key directory %s", keys_dir);
        return NULL;
    }
    ab_zap_t *self = calloc (1, sizeof *self);
    if (!self) {
        ab_error_set (err, AB_E_SYSTEM, "out of memory");
        return NULL;
    }
    pthread_mutex_lock (&s_lock);
    if (s_actor) {
        if (!streq (s_dir, resolved)) {
            ab_error_set (err, AB_E_EXISTS,
                          "zap: this process already authenticates against %s, not %s", s_dir,
                          resolved);
            free (self);
            self = NULL;
        } else
            s_refs++;
        pthread_mutex_unlock (&s_lock);
        return self;
    }
    s_start_t start = { .dir = resolved, .status = 0 };
    //  zactor_new returns after the actor's first signal, so start is set.
    zactor_t *actor = zactor_new (s_zap_actor, &start);
    if (!actor || start.status < 0) {
        zactor_destroy (&actor);
        ab_error_set (err, start.status < 0 ? (ab_code_t)-start.status : AB_E_SYSTEM, "zap: %s",
                      start.error[0] ? start.error : "cannot start the handler");
        free (self);
        pthread_mutex_unlock (&s_lock);
        return NULL;
    }
    s_actor = actor;
    s_dir = strdup (resolved);
    s_refs = 1;
    pthread_mutex_unlock (&s_lock);
    return self;
}

void
ab_zap_destroy (ab_zap_t **self_p)
{
    assert (self_p);
    if (!*self_p)
        return;
    pthread_mutex_lock (&s_lock);
    assert (s_refs > 0);
    if (--s_refs == 0) {
        zactor_destroy (&s_actor);
        free (s_dir);
        s_dir = NULL;
    }
    pthread_mutex_unlock (&s_lock);
    free (*self_p);
    *self_p = NULL;
}

void
ab_zap_counts (ab_zap_t *self, uint64_t *accepted, uint64_t *denied)
{
    assert (self);
    if (accepted)
        *accepted = s_accepted;
    if (denied)
        *denied = s_denied;
}

void
ab_zap_set_verbose (ab_zap_t *self, bool verbose)
{
    assert (self);
    s_verbose = verbose;
}

//  --------------------------------------------------------------------------
//  Selftest

//  A CURVE client socket of type as identity name, connected to endpoint.
static zsock_t *
s_test_client (int type, const char *dir, const char *name, zcert_t *own, const char *server_key,
               const char *endpoint)
{
    zsock_t *sock = zsock_new (type);
    assert (sock);
    zcert_t *cert = own ? own : ab_keyring_load_secret (dir, name, NULL);
    assert (cert);
    zcert_apply (cert, sock);
    if (!own)
        zcert_destroy (&cert);
    zsock_set_curve_serverkey (sock, server_key);
    if (type == ZMQ_SUB)
        zsock_set_subscribe (sock, "");
    assert (zsock_connect (sock, "%s", endpoint) == 0);
    return sock;
}

void
ab_zap_test (bool verbose)
{
    printf (" * ab_zap: ");
    ab_testrig_t *rig = ab_testrig_new ("ab_zap");
    const char *dir = ab_testrig_keys (rig);
    char other[PATH_MAX];
    snprintf (other, sizeof other, "%s/other", ab_testrig_dir (rig));
    ab_error_t *err = NULL;
    assert (ab_keyring_init (other, &err) == 0);

    ab_zap_t *zap = ab_zap_new (dir, &err);
    assert (zap);
    ab_zap_set_verbose (zap, verbose);
    //  shared by a second handle on the same directory, refused for another
    ab_zap_t *zap2 = ab_zap_new (dir, &err);
    assert (zap2);
    assert (ab_zap_new (other, &err) == NULL && err->code == AB_E_EXISTS);
    ab_zap_destroy (&zap2);
    assert (zap2 == NULL);

    //  A CURVE server: ROUTER to see the User-Id, PUB to see what reaches whom.
    zcert_t *server = ab_keyring_load_secret (dir, "busd", &err);
    assert (server);
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    zsock_t *pub = zsock_new (ZMQ_PUB);
    zcert_apply (server, router);
    zcert_apply (server, pub);
    zsock_set_curve_server (router, 1);
    zsock_set_curve_server (pub, 1);
    assert (zsock_bind (router, "tcp://127.0.0.1:*") > 0);
    assert (zsock_bind (pub, "tcp://127.0.0.1:*") > 0);
    char *router_ep = zsock_last_endpoint (router);
    char *pub_ep = zsock_last_endpoint (pub);
    const char *skey = zcert_public_txt (server);

    char admin_key[AB_KEY_Z85_LEN + 1];
    assert (ab_keyring_public_key (dir, "admin", admin_key, &err) == 0);
    zsock_t *admin = s_test_client (ZMQ_DEALER, dir, "admin", NULL, skey, router_ep);
    zcert_t *stranger_cert = ab_keyring_load_secret (other, "admin", &err);
    assert (stranger_cert);
    zsock_t *stranger = s_test_client (ZMQ_DEALER, dir, NULL, stranger_cert, skey, router_ep);
    zsock_t *plain = zsock_new (ZMQ_DEALER); //  no CURVE at all
    zsock_connect (plain, "%s", router_ep);
    zstr_send (stranger, "from stranger");
    zstr_send (plain, "from plain");
    zstr_send (admin, "from admin");

    //  Only admin's message arrives, carrying its key as User-Id.
    zsock_set_rcvtimeo (router, 2000);
    zmq_msg_t part;
    zmq_msg_init (&part);
    assert (zmq_msg_recv (&part, zsock_resolve (router), 0) >= 0); //  routing id
    const char *user_id = zmq_msg_gets (&part, "User-Id");
    assert (user_id && streq (user_id, admin_key));
    assert (zmq_msg_recv (&part, zsock_resolve (router), 0) >= 0);
    assert (zmq_msg_size (&part) == 10 && memcmp (zmq_msg_data (&part), "from admin", 10) == 0);
    zsock_set_rcvtimeo (router, 300);
    assert (zmq_msg_recv (&part, zsock_resolve (router), 0) < 0);
    zmq_msg_close (&part);

    //  A subscriber with a foreign key receives nothing; a member does.
    zsock_t *good_sub = s_test_client (ZMQ_SUB, dir, "monitor", NULL, skey, pub_ep);
    zsock_t *bad_sub = s_test_client (ZMQ_SUB, dir, NULL, stranger_cert, skey, pub_ep);
    zsock_set_rcvtimeo (good_sub, 100);
    zsock_set_rcvtimeo (bad_sub, 0);
    char *got = NULL;
    int64_t deadline = zclock_mono () + 3000;
    while (!got && zclock_mono () < deadline) {
        zstr_send (pub, "sig.hello");
        got = zstr_recv (good_sub);
    }
    assert (got && streq (got, "sig.hello"));
    zstr_free (&got);
    for (int i = 0; i < 5; i++)
        zstr_send (pub, "sig.hello");
    zclock_sleep (200);
    got = zstr_recv (bad_sub);
    assert (got == NULL);

    uint64_t accepted = 0, denied = 0;
    ab_zap_counts (zap, &accepted, &denied);
    assert (accepted >= 2); //  admin, monitor
    assert (denied >= 2);   //  the stranger twice (plain fails before ZAP)

    //  A revoked key cannot start a new session.
    assert (ab_keyring_revoke (dir, "scheduler", &err) == 0);
    char base[PATH_MAX + 64];
    snprintf (base, sizeof base, "%s/secret/scheduler.cert", dir);
    zcert_t *sched = zcert_load (base); //  load_secret refuses revoked names
    assert (sched);
    zsock_t *revoked = s_test_client (ZMQ_DEALER, dir, NULL, sched, skey, router_ep);
    zstr_send (revoked, "from revoked");
    assert (zmq_recv (zsock_resolve (router), base, sizeof base, 0) < 0); //  300 ms timeout

    zsock_destroy (&revoked);
    zcert_destroy (&sched);
    zsock_destroy (&good_sub);
    zsock_destroy (&bad_sub);
    zsock_destroy (&admin);
    zsock_destroy (&stranger);
    zsock_destroy (&plain);
    zsock_destroy (&router);
    zsock_destroy (&pub);
    zstr_free (&router_ep);
    zstr_free (&pub_ep);
    zcert_destroy (&server);
    zcert_destroy (&stranger_cert);
    ab_zap_destroy (&zap);
    assert (zap == NULL);

    //  With the last handle gone, another directory may be served.
    zap = ab_zap_new (other, &err);
    assert (zap);
    ab_zap_destroy (&zap);
    assert (ab_zap_new ("/nonexistent/abbey-keys", &err) == NULL);
    assert (err->code == AB_E_NOT_FOUND);
    ab_error_destroy (&err);
    ab_testrig_destroy (&rig);
    printf ("OK\n");
}
