/*  ab_bus - a bus client: subscribe to events and signals, publish signals  */
//  Selftests assert behaviour: keep assert live in release builds too.
#undef NDEBUG
#include <assert.h>

#include "ab_bus.h"
#include "ab_busd.h"
#include "ab_keyring.h"
#include "ab_testrig.h"

#include <errno.h>
#include <limits.h>
#include <msgpack.h>
#include <string.h>

#define SUB_HWM 2000 //  messages (runs of events) a client may lag before the bus drops

//  A bus message is two frames (docs/CONTRACTS.md "Bus topics"):
enum {
    FRAME_TOPIC = 0, //  "ev.<type>" or "sig.<...>"
    FRAME_BODY = 1,  //  envelope (ev.) or msgpack map (sig.)
    FRAMES = 2
};

struct _ab_bus_t {
    zsock_t *sub; //  connected to busd's XPUB side
    zsock_t *pub; //  connected to busd's XSUB side, or NULL
};

ab_bus_t *
ab_bus_connect (const char *keys_dir, const char *name, const char *publish, const char *subscribe,
                const char *busd_key, ab_error_t **err)
{
    assert (keys_dir);
    assert (subscribe);
    ab_bus_t *self = calloc (1, sizeof *self);
    assert (self);
    self->sub = ab_curve_client (ZMQ_SUB, keys_dir, name, busd_key, subscribe, err);
    if (!self->sub) {
        ab_error_wrap (err, "bus subscribe side");
        ab_bus_destroy (&self);
        return NULL;
    }
    //  Large enough for a burst; beyond it, followers read the gap from logd.
    zsock_set_rcvhwm (self->sub, SUB_HWM);
    if (publish) {
        self->pub = ab_curve_client (ZMQ_PUB, keys_dir, name, busd_key, publish, err);
        if (!self->pub) {
            ab_error_wrap (err, "bus publish side");
            ab_bus_destroy (&self);
            return NULL;
        }
    }
    return self;
}

ab_bus_t *
ab_bus_new (ab_cluster_t *cluster, const char *name, ab_error_t **err)
{
    assert (cluster);
    ab_bus_t *self
        = ab_bus_connect (ab_cluster_keys (cluster), name, ab_cluster_busd_publish (cluster),
                          ab_cluster_busd_subscribe (cluster), ab_cluster_busd_key (cluster), err);
    if (!self)
        ab_error_wrap (err, "cluster %s", ab_cluster_path (cluster));
    return self;
}

void
ab_bus_destroy (ab_bus_t **self_p)
{
    assert (self_p);
    ab_bus_t *self = *self_p;
    if (self) {
        zsock_destroy (&self->sub);
        zsock_destroy (&self->pub);
        free (self);
        *self_p = NULL;
    }
}

static int
s_check_prefix (const char *prefix, ab_error_t **err)
{
    if (!prefix)
        return ab_error_set (err, AB_E_INVALID, "subscribe: no prefix given");
    if (strlen (prefix) > AB_TOPIC_MAX)
        return ab_error_set (err, AB_E_INVALID, "subscribe: prefix longer than %d bytes",
                             AB_TOPIC_MAX);
    return 0;
}

int
ab_bus_subscribe (ab_bus_t *self, const char *prefix, ab_error_t **err)
{
    assert (self);
    if (s_check_prefix (prefix, err) < 0)
        return -AB_E_INVALID;
    zsock_set_subscribe (self->sub, prefix);
    return 0;
}

int
ab_bus_unsubscribe (ab_bus_t *self, const char *prefix, ab_error_t **err)
{
    assert (self);
    if (s_check_prefix (prefix, err) < 0)
        return -AB_E_INVALID;
    zsock_set_unsubscribe (self->sub, prefix);
    return 0;
}

//  True if buf is exactly one msgpack map.
static bool
s_is_map (const uint8_t *buf, size_t size)
{
    msgpack_unpacked result;
    msgpack_unpacked_init (&result);
    size_t off = 0;
    msgpack_unpack_return rc = msgpack_unpack_next (&result, (const char *)buf, size, &off);
    bool ok = rc == MSGPACK_UNPACK_SUCCESS && result.data.type == MSGPACK_OBJECT_MAP && off == size;
    msgpack_unpacked_destroy (&result);
    return ok;
}

void
ab_bus_msg_destroy (ab_bus_msg_t **msg_p)
{
    assert (msg_p);
    ab_bus_msg_t *msg = *msg_p;
    if (msg) {
        free (msg->topic);
        ab_evrun_free (&msg->events, msg->count);
        free (msg->body);
        free (msg);
        *msg_p = NULL;
    }
}

//  Topic as a C string, or NULL if it has a NUL byte or is too long.
static char *
s_topic (zmq_msg_t *frame)
{
    size_t size = zmq_msg_size (frame);
    if (size == 0 || size > AB_TOPIC_MAX || memchr (zmq_msg_data (frame), 0, size))
        return NULL;
    char *topic = malloc (size + 1);
    assert (topic);
    memcpy (topic, zmq_msg_data (frame), size);
    topic[size] = 0;
    return topic;
}

//  Build a message from the two frames, or fail naming the topic.
static ab_bus_msg_t *
s_decode (zmq_msg_t frames[FRAMES], ab_error_t **err)
{
    char *topic = s_topic (&frames[FRAME_TOPIC]);
    if (!topic) {
        ab_error_set (err, AB_E_MALFORMED, "bus: topic frame is empty, too long or not text");
        return NULL;
    }
    const uint8_t *body = zmq_msg_data (&frames[FRAME_BODY]);
    size_t size = zmq_msg_size (&frames[FRAME_BODY]);
    ab_bus_msg_t *msg = calloc (1, sizeof *msg);
    assert (msg);
    msg->topic = topic;
    if (strncmp (topic, "ev.", 3) == 0) {
        msg->kind = AB_BUS_EVENT;
        if (ab_evrun_parse (topic, body, size, &msg->events, &msg->count, err) < 0) {
            ab_bus_msg_destroy (&msg);
            return NULL;
        }
    } else if (strncmp (topic, "sig.", 4) == 0) {
        msg->kind = AB_BUS_SIGNAL;
        if (!s_is_map (body, size)) {
            ab_error_set (err, AB_E_MALFORMED, "bus: signal '%s' is not one msgpack map", topic);
            ab_bus_msg_destroy (&msg);
            return NULL;
        }
        msg->body = malloc (size ? size : 1);
        assert (msg->body);
        memcpy (msg->body, body, size);
        msg->size = size;
    } else {
        ab_error_set (err, AB_E_MALFORMED, "bus: unexpected topic '%s' (not ev. or sig.)", topic);
        ab_bus_msg_destroy (&msg);
    }
    return msg;
}

ab_bus_msg_t *
ab_bus_recv (ab_bus_t *self, int timeout_ms, ab_error_t **err)
{
    assert (self);
    void *sub = zsock_resolve (self->sub);
    zmq_pollitem_t item = { sub, 0, ZMQ_POLLIN, 0 };
    int rc = zmq_poll (&item, 1, timeout_ms);
    if (rc < 0) {
        ab_error_set (err, AB_E_UNAVAILABLE, "bus: interrupted");
        return NULL;
    }
    if (rc == 0) {
        ab_error_set (err, AB_E_TIMEOUT, "bus: nothing within %d ms", timeout_ms);
        return NULL;
    }
    //  Read the whole multipart message, whatever its shape, so that a bad
    //  one is consumed and the next recv starts on a message boundary.
    zmq_msg_t frames[FRAMES];
    size_t count = 0;
    bool more = true;
    while (more) {
        zmq_msg_t part;
        zmq_msg_init (&part);
        if (zmq_msg_recv (&part, sub, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&part);
            break;
        }
        more = zmq_msg_more (&part);
        if (count < FRAMES)
            frames[count] = part; //  moved: closed below
        else
            zmq_msg_close (&part);
        count++;
    }
    ab_bus_msg_t *msg = NULL;
    if (count != FRAMES)
        ab_error_set (err, AB_E_MALFORMED, "bus: message has %zu frames, expected %d (topic, body)",
                      count, FRAMES);
    else
        msg = s_decode (frames, err);
    for (size_t i = 0; i < count && i < FRAMES; i++)
        zmq_msg_close (&frames[i]);
    return msg;
}

int
ab_bus_publish (ab_bus_t *self, const char *topic, const uint8_t *body, size_t size,
                ab_error_t **err)
{
    assert (self);
    if (!self->pub)
        return ab_error_set (err, AB_E_INVALID, "publish: this client has no publish endpoint");
    if (!topic || strncmp (topic, "sig.", 4) != 0)
        return ab_error_set (err, AB_E_FORBIDDEN,
                             "publish '%s': only sig. topics go on the bus; events are appended "
                             "to logd",
                             topic ? topic : "");
    if (strlen (topic) > AB_TOPIC_MAX)
        return ab_error_set (err, AB_E_INVALID, "publish: topic longer than %d bytes",
                             AB_TOPIC_MAX);
    if (!body || !s_is_map (body, size))
        return ab_error_set (err, AB_E_MALFORMED, "publish '%s': body must be one msgpack map",
                             topic);
    void *pub = zsock_resolve (self->pub);
    //  PUB never blocks: with no busd or a full queue the signal is dropped,
    //  which is what a signal may be.
    if (zmq_send (pub, topic, strlen (topic), ZMQ_SNDMORE) < 0 || zmq_send (pub, body, size, 0) < 0)
        return ab_error_set (err, AB_E_IO, "publish '%s': %s", topic, zmq_strerror (zmq_errno ()));
    return 0;
}

zsock_t *
ab_bus_sub_socket (ab_bus_t *self)
{
    assert (self);
    return self->sub;
}

zsock_t *
ab_bus_pub_socket (ab_bus_t *self)
{
    assert (self);
    return self->pub;
}

//  --------------------------------------------------------------------------
//  Selftest

static void
s_send2 (zsock_t *pub, const char *topic, const void *body, size_t size)
{
    zmq_send (zsock_resolve (pub), topic, strlen (topic), ZMQ_SNDMORE);
    zmq_send (zsock_resolve (pub), body, size, 0);
}

void
ab_bus_test (bool verbose)
{
    printf (" * ab_bus: ");
    ab_testrig_t *rig = ab_testrig_new ("ab_bus");
    const char *keys = ab_testrig_keys (rig);
    ab_busd_t *busd = ab_testrig_busd (rig, verbose);
    ab_error_t *err = NULL;

    //  through a cluster object, as services and the CLI connect
    ab_cluster_t *cluster = ab_testrig_cluster (rig);
    assert (ab_bus_new (cluster, "nobody", &err) == NULL && err->code == AB_E_NOT_FOUND);
    ab_bus_t *bus = ab_bus_new (cluster, "monitor", &err);
    assert (bus);
    ab_bus_t *admin = ab_bus_new (cluster, "admin", &err);
    assert (admin);
    assert (ab_bus_subscribe (bus, "ev.note.", &err) == 0);
    assert (ab_bus_subscribe (bus, "sig.", &err) == 0);
    char big[AB_TOPIC_MAX + 2];
    memset (big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    assert (ab_bus_subscribe (bus, big, &err) == -AB_E_INVALID);

    //  publishing: sig. with a map only
    uint8_t map[] = { 0x81, 0xa1, 'n', 0x01 }; //  {"n": 1}
    uint8_t notmap[] = { 0x93, 1, 2, 3 };      //  [1, 2, 3]
    assert (ab_bus_publish (admin, "ev.note.added", map, sizeof map, &err) == -AB_E_FORBIDDEN);
    assert (strstr (err->msg, "appended to logd"));
    assert (ab_bus_publish (admin, "sig.x", notmap, sizeof notmap, &err) == -AB_E_MALFORMED);
    assert (ab_bus_publish (admin, "sig.x", map, sizeof map - 1, &err) == -AB_E_MALFORMED);

    //  wait until admin's signals get through (PUB drops while connecting)
    ab_bus_msg_t *msg = NULL;
    int64_t deadline = zclock_mono () + 5000;
    while (!msg && zclock_mono () < deadline) {
        assert (ab_bus_publish (admin, "sig.hello", map, sizeof map, &err) == 0);
        msg = ab_bus_recv (bus, 20, &err);
        if (!msg)
            assert (err->code == AB_E_TIMEOUT);
    }
    assert (msg && msg->kind == AB_BUS_SIGNAL && streq (msg->topic, "sig.hello"));
    assert (msg->size == sizeof map && memcmp (msg->body, map, sizeof map) == 0);
    ab_bus_msg_destroy (&msg);
    assert (msg == NULL);
    while ((msg = ab_bus_recv (bus, 100, NULL)))
        ab_bus_msg_destroy (&msg);

    //  committed events from logd, decoded; bad ones reported and skipped
    zsock_t *logd = ab_testrig_client (rig, ZMQ_PUB, "logd", ab_busd_public_key (busd),
                                       ab_busd_publish_endpoint (busd));
    size_t size = 0;
    uint8_t *ev1 = ab_testrig_committed (1, "note.added", &size);
    deadline = zclock_mono () + 5000;
    while (!msg && zclock_mono () < deadline) {
        s_send2 (logd, "ev.note.added", ev1, size);
        msg = ab_bus_recv (bus, 20, NULL);
    }
    assert (msg && msg->kind == AB_BUS_EVENT && msg->count == 1);
    assert (ab_event_seq (msg->events[0]) == 1
            && streq (ab_event_type (msg->events[0]), "note.added"));
    ab_bus_msg_destroy (&msg);
    while ((msg = ab_bus_recv (bus, 100, NULL)))
        ab_bus_msg_destroy (&msg);

    s_send2 (logd, "ev.note.added", "\xc1garbage", 8);
    s_send2 (logd, "ev.note.removed", ev1, size);         //  topic and type disagree
    zmq_send (zsock_resolve (logd), "sig.lonely", 10, 0); //  one frame only
    uint8_t *ev2 = ab_testrig_committed (2, "note.added", &size);
    s_send2 (logd, "ev.note.added", ev2, size);
    assert (ab_bus_recv (bus, 2000, &err) == NULL);
    assert (err->code == AB_E_MALFORMED && strstr (err->msg, "ev.note.added"));
    assert (ab_bus_recv (bus, 2000, &err) == NULL);
    assert (err->code == AB_E_MALFORMED && strstr (err->msg, "'ev.note.removed' carries"));
    assert (ab_bus_recv (bus, 2000, &err) == NULL);
    assert (err->code == AB_E_MALFORMED && strstr (err->msg, "1 frames"));
    msg = ab_bus_recv (bus, 2000, &err);
    assert (msg && msg->count == 1 && ab_event_seq (msg->events[0]) == 2);
    ab_bus_msg_destroy (&msg);

    //  A run of events in one message: envelopes back to back, consecutive
    //  seqs, one type; a gap, a stranger or a torn tail spoils it whole
    size_t s3, s4, so;
    uint8_t *ev3 = ab_testrig_committed (3, "note.added", &s3);
    uint8_t *ev4 = ab_testrig_committed (4, "note.added", &s4);
    uint8_t *other = ab_testrig_committed (4, "note.removed", &so);
    uint8_t run[4096];
    assert (size + s3 + s4 + so <= sizeof run);
    memcpy (run, ev2, size);
    memcpy (run + size, ev3, s3);
    memcpy (run + size + s3, ev4, s4);
    s_send2 (logd, "ev.note.added", run, size + s3 + s4);
    msg = ab_bus_recv (bus, 2000, &err);
    assert (msg && msg->kind == AB_BUS_EVENT && msg->count == 3);
    for (size_t i = 0; i < 3; i++)
        assert (ab_event_seq (msg->events[i]) == 2 + i && ab_event_hash_ok (msg->events[i]));
    ab_bus_msg_destroy (&msg);
    s_send2 (logd, "ev.note.added", run, size + s3 / 2); //  2 then half of 3
    memcpy (run + size, ev4, s4);
    s_send2 (logd, "ev.note.added", run, size + s4); //  2 then 4
    memcpy (run + size, ev3, s3);
    memcpy (run + size + s3, other, so);
    s_send2 (logd, "ev.note.added", run, size + s3 + so); //  2, 3, then another type
    assert (ab_bus_recv (bus, 2000, &err) == NULL && err->code == AB_E_MALFORMED);
    assert (ab_bus_recv (bus, 2000, &err) == NULL && err->code == AB_E_MALFORMED);
    assert (strstr (err->msg, "seq 4 follows seq 2"));
    assert (ab_bus_recv (bus, 2000, &err) == NULL && err->code == AB_E_MALFORMED);
    assert (strstr (err->msg, "type 'note.removed' (event 2)"));
    free (ev3);
    free (ev4);
    free (other);

    //  unsubscribe stops delivery; the sub socket is pollable
    assert (ab_bus_unsubscribe (bus, "ev.note.", &err) == 0);
    zclock_sleep (100);
    s_send2 (logd, "ev.note.added", ev2, size);
    assert (ab_bus_recv (bus, 300, &err) == NULL && err->code == AB_E_TIMEOUT);
    assert (ab_bus_sub_socket (bus) && ab_bus_pub_socket (admin));

    ab_bus_t *listener = ab_bus_connect (keys, "scheduler", NULL, ab_busd_subscribe_endpoint (busd),
                                         ab_busd_public_key (busd), &err);
    assert (listener && ab_bus_pub_socket (listener) == NULL);
    assert (ab_bus_publish (listener, "sig.x", map, sizeof map, &err) == -AB_E_INVALID);
    ab_bus_destroy (&listener);

    free (ev1);
    free (ev2);
    zsock_destroy (&logd);
    ab_bus_destroy (&bus);
    ab_bus_destroy (&admin);
    assert (bus == NULL);
    ab_error_destroy (&err);
    ab_testrig_destroy (&rig);
    printf ("OK\n");
}
