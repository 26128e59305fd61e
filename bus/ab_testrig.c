/*  ab_testrig - a throwaway cluster for selftests                          */
//  Selftests assert behaviour: keep assert live in release builds too.
#undef NDEBUG
#include <assert.h>

#include "ab_testrig.h"
#include "ab_event.h"
#include "ab_keyring.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct _ab_testrig_t {
    char dir[256];         //  mkdtemp root, removed on destroy
    char keys[PATH_MAX];   //  dir/keys
    ab_busd_t *busd;       //  started by ab_testrig_busd, or NULL
    ab_cluster_t *cluster; //  made by ab_testrig_cluster, or NULL
};

ab_testrig_t *
ab_testrig_new (const char *name)
{
    assert (name);
    ab_testrig_t *self = calloc (1, sizeof *self);
    assert (self);
    snprintf (self->dir, sizeof self->dir, "/tmp/%s_XXXXXX", name);
    assert (mkdtemp (self->dir));
    snprintf (self->keys, sizeof self->keys, "%s/keys", self->dir);
    ab_error_t *err = NULL;
    if (ab_keyring_init (self->keys, &err) < 0) {
        fprintf (stderr, "ab_testrig: %s\n", ab_error_msg (err));
        assert (false);
    }
    return self;
}

void
ab_testrig_destroy (ab_testrig_t **self_p)
{
    assert (self_p);
    ab_testrig_t *self = *self_p;
    if (!self)
        return;
    ab_cluster_destroy (&self->cluster);
    ab_busd_destroy (&self->busd);
    zdir_t *d = zdir_new (self->dir, NULL);
    if (d)
        zdir_remove (d, true);
    zdir_destroy (&d);
    free (self);
    *self_p = NULL;
}

const char *
ab_testrig_dir (ab_testrig_t *self)
{
    assert (self);
    return self->dir;
}

const char *
ab_testrig_keys (ab_testrig_t *self)
{
    assert (self);
    return self->keys;
}

ab_busd_t *
ab_testrig_busd (ab_testrig_t *self, bool verbose)
{
    assert (self);
    if (!self->busd) {
        ab_busd_config_t config = { .keys = self->keys,
                                    .publish = "tcp://127.0.0.1:*",
                                    .subscribe = "tcp://127.0.0.1:*",
                                    .verbose = verbose };
        ab_error_t *err = NULL;
        self->busd = ab_busd_new (&config, &err);
        if (!self->busd) {
            fprintf (stderr, "ab_testrig: busd: %s\n", ab_error_msg (err));
            assert (false);
        }
    }
    return self->busd;
}

ab_cluster_t *
ab_testrig_cluster (ab_testrig_t *self)
{
    assert (self);
    if (!self->cluster) {
        ab_busd_t *busd = ab_testrig_busd (self, false);
        self->cluster = ab_cluster_new ("selftest");
        assert (self->cluster);
        ab_cluster_set_keys (self->cluster, self->keys);
        ab_cluster_set_busd (self->cluster, ab_busd_publish_endpoint (busd),
                             ab_busd_subscribe_endpoint (busd), ab_busd_public_key (busd));
    }
    return self->cluster;
}

zsock_t *
ab_testrig_client (ab_testrig_t *self, int type, const char *name, const char *server_key,
                   const char *endpoint)
{
    assert (self);
    ab_error_t *err = NULL;
    zsock_t *sock = ab_curve_client (type, self->keys, name, server_key, endpoint, &err);
    if (!sock) {
        fprintf (stderr, "ab_testrig: client %s: %s\n", name, ab_error_msg (err));
        assert (false);
    }
    zsock_set_linger (sock, 0);
    if (type == ZMQ_SUB)
        zsock_set_subscribe (sock, "");
    return sock;
}

uint8_t *
ab_testrig_committed (uint64_t seq, const char *type, size_t *size)
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
ab_testrig_test (bool verbose)
{
    printf (" * ab_testrig: ");
    ab_testrig_t *rig = ab_testrig_new ("ab_testrig");
    char dir[PATH_MAX];
    snprintf (dir, sizeof dir, "%s", ab_testrig_dir (rig));
    assert (zsys_file_exists (dir));
    char path[PATH_MAX + 32];
    snprintf (path, sizeof path, "%s/public/admin.cert", ab_testrig_keys (rig));
    assert (zsys_file_exists (path));

    //  busd and cluster are made once; a client of the rig reaches busd
    ab_busd_t *busd = ab_testrig_busd (rig, verbose);
    assert (busd && ab_testrig_busd (rig, verbose) == busd);
    ab_cluster_t *cluster = ab_testrig_cluster (rig);
    assert (cluster && ab_testrig_cluster (rig) == cluster);
    assert (streq (ab_cluster_keys (cluster), ab_testrig_keys (rig)));
    zsock_t *sub = ab_testrig_client (rig, ZMQ_SUB, "monitor", ab_busd_public_key (busd),
                                      ab_busd_subscribe_endpoint (busd));
    zsock_t *pub = ab_testrig_client (rig, ZMQ_PUB, "admin", ab_busd_public_key (busd),
                                      ab_busd_publish_endpoint (busd));
    zsock_set_rcvtimeo (sub, 20);
    bool heard = false;
    for (int64_t end = zclock_mono () + 5000; !heard && zclock_mono () < end;) {
        zsock_send (pub, "ss", "sig.rig", "hello");
        char *topic = NULL, *body = NULL;
        if (zsock_recv (sub, "ss", &topic, &body) == 0)
            heard = streq (topic, "sig.rig") && streq (body, "hello");
        zstr_free (&topic);
        zstr_free (&body);
    }
    assert (heard);
    zsock_destroy (&sub);
    zsock_destroy (&pub);

    //  destroy takes it all down
    ab_testrig_destroy (&rig);
    assert (rig == NULL);
    assert (!zsys_file_exists (dir));
    ab_testrig_destroy (&rig);
    printf ("OK\n");
}
