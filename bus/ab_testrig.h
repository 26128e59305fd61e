/*  ab_testrig - a throwaway cluster for selftests: a temp dir, a fresh key
    directory (ab_keyring_init: every default identity and the sealing
    keypair) and, on request, a busd on loopback ports and a cluster object
    pointing at it. Test support: every failure asserts.

    Rules of the API:
    - Everything a rig returns is borrowed and lives until the rig is
      destroyed; destroying it stops busd and removes the directory.      */
#ifndef AB_TESTRIG_H
#define AB_TESTRIG_H

#include "ab_busd.h"
#include "ab_cluster.h"
#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct _ab_testrig_t ab_testrig_t;

//  New rig in a fresh /tmp/NAME_XXXXXX with keys made in DIR/keys.
ab_testrig_t *ab_testrig_new (const char *name);

//  Stop busd, remove the directory, free and null. Safe on NULL.
void ab_testrig_destroy (ab_testrig_t **self_p);

//  The rig's temp directory and its key directory (DIR/keys).
const char *ab_testrig_dir (ab_testrig_t *self);
const char *ab_testrig_keys (ab_testrig_t *self);

//  The rig's busd on 127.0.0.1 wildcard ports, started on first call.
ab_busd_t *ab_testrig_busd (ab_testrig_t *self, bool verbose);

//  A cluster object with the rig's keys and busd (started if need be), as
//  services and the CLI connect through one.
ab_cluster_t *ab_testrig_cluster (ab_testrig_t *self);

//  A CURVE client socket of identity name, connected to endpoint whose
//  server key is server_key. Linger 0; a SUB subscribes to everything. The
//  caller destroys it.
zsock_t *ab_testrig_client (ab_testrig_t *self, int type, const char *name, const char *server_key,
                            const char *endpoint);

//  A committed note event with seq (and pseq) seq, as logd would publish
//  it, encoded; its prev is zeros. The caller frees it. Needs no rig.
uint8_t *ab_testrig_committed (uint64_t seq, const char *type, size_t *size);

void ab_testrig_test (bool verbose);

#endif
