/*  ab_logd - abbey-logd as an actor: the log's only writer
    A ROUTER (CURVE server, ZAP-authenticated against the key directory)
    answers APPEND, READ and HEAD (ab_proto). Appends are group-committed:
    every request ready in one loop turn is validated and all valid appends
    go into ONE synced write; only then are they ACKed, and only then is
    each committed event published to busd as `ev.<type>` + envelope.

    Rules of the API:
    - ab_logd_new starts the actor and returns once it serves (or failed to
      start: NULL and *err). ab_logd_destroy stops it ($TERM) and joins.
    - Every request is authorised per message: the ZAP User-Id (client's Z85
      key) is looked up in the key ring, so a revoked key is refused at once
      (NACK denied) even on a live connection.
    - A storage failure makes logd NACK `storage` to every append from then
      on, and say so on stderr: it never acks what is not on disk.          */
#ifndef AB_LOGD_H
#define AB_LOGD_H

#include "ab_error.h"
#include <czmq.h>
#include <stdbool.h>

typedef struct {
    const char *keys_dir;     //  cluster key directory (CONTRACTS.md)
    const char *data_dir;     //  LevelDB directory, created if missing
    const char *endpoint;     //  ROUTER bind endpoint; "tcp://127.0.0.1:*" ok
    const char *bus_endpoint; //  busd publish (XSUB) endpoint, NULL: none
    const char *bus_key;      //  busd public key (Z85), with bus_endpoint
    const char *identity;     //  logd's name in keys_dir, NULL: "logd"
    bool verbose;             //  log each request to stderr
} ab_logd_config_t;

typedef struct _ab_logd_t ab_logd_t;

//  Start logd. The config is copied. NULL and *err if it cannot start
//  (keys, storage, bind).
ab_logd_t *ab_logd_new (const ab_logd_config_t *config, ab_error_t **err);

//  Stop, join and null the reference. Safe on NULL.
void ab_logd_destroy (ab_logd_t **self_p);

//  Endpoint clients connect to (the wildcard port resolved). Borrowed.
const char *ab_logd_endpoint (ab_logd_t *self);

//  logd's CURVE public key (Z85). Borrowed.
const char *ab_logd_public_key (ab_logd_t *self);

//  The actor's pipe, to poll for its death (it sends nothing else).
zactor_t *ab_logd_actor (ab_logd_t *self);

//  Counters: head seq, events appended and group commits since start.
void ab_logd_stats (ab_logd_t *self, uint64_t *head, uint64_t *appended, uint64_t *commits);

//  Test hook for the "never ack what is not on disk" path: from now on
//  every synced write fails as a disk error would.
void ab_logd_fail_writes (ab_logd_t *self);

//  The actor function (STYLE 7); args is an ab_logd_config_t *. Prefer
//  ab_logd_new, which checks how the start went.
void ab_logd_actor_fn (zsock_t *pipe, void *args);

void ab_logd_test (bool verbose);

#endif
