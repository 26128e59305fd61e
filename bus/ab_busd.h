/*  ab_busd - the bus hub: an authenticated XSUB/XPUB relay (an actor)
    Publishers (logd, signal publishers) connect PUB sockets to the
    `publish` endpoint (our XSUB); subscribers connect SUB sockets to the
    `subscribe` endpoint (our XPUB). Both are CURVE servers behind ab_zap.

        logd PUB ──ev.*──►┐                      ┌──► SUB (scheduler)
        agent PUB ─sig.*─►├─ XSUB ─ check ─ XPUB ┼──► SUB (cli follow)
        upstream XPUB ───►┘   ▲ subscriptions ◄──┘──► busd child (tree)

    Every message's sender is checked with its ZAP User-Id against the
    keyring: `ev.` topics are relayed only from role logd or busd, `sig.`
    from any active identity; anything else is dropped and counted. With an
    upstream, busd also connects an XSUB to the upstream busd's subscribe
    endpoint as a CURVE client with its own `busd` identity, forwards its
    subscriptions there and relays what comes back: relays form a tree.
    When the keyring loses a key (revoke), both bound sockets are recreated
    on the same endpoints so connected subscribers re-handshake through ZAP
    and the revoked one is refused (within ~0.5 s).
    PUB/XPUB drop when a subscriber is slow: by design, followers fill gaps
    from logd by seq.

    Rules of the API:
    - Endpoints may use a wildcard port (tcp://127.0.0.1:*); the getters
      return the bound ones.
    - ab_busd_new returns once the sockets are bound, or fails with *err.   */
#ifndef AB_BUSD_H
#define AB_BUSD_H

#include "ab_error.h"
#include <czmq.h>

typedef struct {
    const char *keys;         //  cluster key directory (required)
    const char *publish;      //  XSUB bind endpoint (required)
    const char *subscribe;    //  XPUB bind endpoint (required)
    const char *upstream;     //  upstream busd's subscribe endpoint, or NULL
    const char *upstream_key; //  upstream busd's Z85 public key (with upstream)
    const char *identity;     //  our identity in keys; NULL means "busd"
    bool verbose;             //  log drops and rebinds
} ab_busd_config_t;

typedef struct {
    uint64_t relayed;        //  messages passed to subscribers
    uint64_t dropped_ev;     //  ev.* from a role that may not publish events
    uint64_t dropped_denied; //  sender unknown or revoked
    uint64_t dropped_topic;  //  topic neither ev. nor sig.
    uint64_t rebinds;        //  socket recreations after a revocation
} ab_busd_stats_t;

typedef struct _ab_busd_t ab_busd_t;

//  Start the hub. NULL and *err if keys, identity or a bind fails.
ab_busd_t *ab_busd_new (const ab_busd_config_t *config, ab_error_t **err);

//  Stop and null. Safe on NULL.
void ab_busd_destroy (ab_busd_t **self_p);

//  Bound endpoints and our public key (Z85). Borrowed.
const char *ab_busd_publish_endpoint (ab_busd_t *self);
const char *ab_busd_subscribe_endpoint (ab_busd_t *self);
const char *ab_busd_public_key (ab_busd_t *self);

//  Counters, read from the actor.
void ab_busd_stats (ab_busd_t *self, ab_busd_stats_t *stats);

//  The actor, to poll with the rest of a program (it sends nothing
//  unsolicited). Borrowed.
zactor_t *ab_busd_actor (ab_busd_t *self);

void ab_busd_test (bool verbose);

#endif
