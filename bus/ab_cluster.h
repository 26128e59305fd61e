/*  ab_cluster - the cluster file: where the daemons are and their keys
    `abbey dev up` writes it; every client reads it to find logd and busd.
    Format (docs/CONTRACTS.md):
        name: dev
        keys: /abs/path/keys
        data: /abs/path/data
        logd:
          endpoint: tcp://127.0.0.1:PORT
          public-key: Z85
        busd:
          publish: tcp://127.0.0.1:PORT     # XSUB side, publishers connect
          subscribe: tcp://127.0.0.1:PORT   # XPUB side, subscribers connect
          public-key: Z85

    Rules of the API:
    - Loading is strict: unknown keys, missing required keys (name, keys,
      logd.*, busd.*), non-scalar values, bad endpoints (tcp://, ipc://,
      inproc://) and keys that are not 40 Z85 characters are errors naming
      FILE:LINE:COLUMN and the key. `data` is optional.
    - Getters return borrowed strings ("" when unset).
    - Saving writes a temporary file and renames it, so a reader never sees
      half a file.                                                          */
#ifndef AB_CLUSTER_H
#define AB_CLUSTER_H

#include "ab_error.h"
#include <czmq.h>

typedef struct _ab_cluster_t ab_cluster_t;

//  Which daemon socket ab_cluster_socket connects to.
typedef enum {
    AB_CLUSTER_LOGD = 0,      //  logd's ROUTER (use ZMQ_DEALER)
    AB_CLUSTER_BUSD_PUBLISH,  //  busd's XSUB side (use ZMQ_PUB)
    AB_CLUSTER_BUSD_SUBSCRIBE //  busd's XPUB side (use ZMQ_SUB / ZMQ_XSUB)
} ab_cluster_target_t;

//  Empty cluster named name, for `abbey dev up` to fill and save.
ab_cluster_t *ab_cluster_new (const char *name);

//  Free and null. Safe on NULL.
void ab_cluster_destroy (ab_cluster_t **self_p);

//  Parse a cluster file. NULL and *err (naming file:line:column) on failure.
ab_cluster_t *ab_cluster_load (const char *path, ab_error_t **err);

//  Parse cluster YAML from memory; `origin` names it in errors.
ab_cluster_t *ab_cluster_parse (const char *text, size_t size, const char *origin,
                                ab_error_t **err);

//  Write the file (atomically). Fails if a required field is unset.
int ab_cluster_save (ab_cluster_t *self, const char *path, ab_error_t **err);

//  Path of the cluster file to use: arg (a --cluster value) if not NULL,
//  else $ABBEY_CLUSTER, else $ABBEY_HOME/dev/cluster.yaml (ABBEY_HOME
//  defaults to $HOME/.abbey). The caller frees it. The file must exist;
//  if not, the error tells the user to run `abbey dev up`.
char *ab_cluster_resolve (const char *arg, ab_error_t **err);

//  ab_cluster_resolve then ab_cluster_load.
ab_cluster_t *ab_cluster_find (const char *arg, ab_error_t **err);

//  $ABBEY_HOME or $HOME/.abbey; the caller frees it.
char *ab_cluster_home (void);

//  Getters. Borrowed; "" when unset.
const char *ab_cluster_name (ab_cluster_t *self);
const char *ab_cluster_path (ab_cluster_t *self); //  file loaded or saved
const char *ab_cluster_keys (ab_cluster_t *self);
const char *ab_cluster_data (ab_cluster_t *self);
const char *ab_cluster_logd_endpoint (ab_cluster_t *self);
const char *ab_cluster_logd_key (ab_cluster_t *self);
const char *ab_cluster_busd_publish (ab_cluster_t *self);
const char *ab_cluster_busd_subscribe (ab_cluster_t *self);
const char *ab_cluster_busd_key (ab_cluster_t *self);

//  Setters; values are copied and checked when saved.
void ab_cluster_set_keys (ab_cluster_t *self, const char *dir);
void ab_cluster_set_data (ab_cluster_t *self, const char *dir);
void ab_cluster_set_logd (ab_cluster_t *self, const char *endpoint, const char *key);
void ab_cluster_set_busd (ab_cluster_t *self, const char *publish, const char *subscribe,
                          const char *key);

//  Make a CURVE client socket of `type` (ZMQ_DEALER, ZMQ_PUB, ZMQ_SUB...)
//  as identity `name` (its secret cert from the cluster's key directory),
//  with the target daemon's public key as server key, connected to the
//  target's endpoint. The caller destroys it. NULL and *err on failure.
zsock_t *ab_cluster_socket (ab_cluster_t *self, int type, ab_cluster_target_t target,
                            const char *name, ab_error_t **err);

//  The same for any endpoint: a CURVE client socket of type, identity
//  name from keys_dir, server_key (Z85), connected to endpoint.
zsock_t *ab_curve_client (int type, const char *keys_dir, const char *name, const char *server_key,
                          const char *endpoint, ab_error_t **err);

void ab_cluster_test (bool verbose);

#endif
