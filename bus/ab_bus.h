/*  ab_bus - a bus client: subscribe to events and signals, publish signals
    Services and the CLI use it to hear committed events (`ev.<type>` +
    a run of envelopes, published only by logd) and ephemeral signals
    (`sig.<...>` + msgpack map). It holds a SUB socket connected to busd's
    subscribe side and, for publishing, a PUB socket connected to busd's
    publish side; both are CURVE clients with the caller's identity.

    Rules of the API:
    - An `ev.` message carries one or more committed events of one type
      with consecutive seqs (ab_evrun: their envelopes back to back, each
      decoded strictly); a malformed message is consumed whole and reported
      as AB_E_MALFORMED naming the topic; the next recv goes on.
    - ab_bus_publish takes only `sig.` topics and a body that is one
      msgpack map; events go to logd (APPEND), never onto the bus directly.
    - The bus is lossy (PUB drops for slow subscribers and while connecting):
      followers detect seq gaps and read them from logd.
    - Not thread-safe: one ab_bus_t per thread.                             */
#ifndef AB_BUS_H
#define AB_BUS_H

#include "ab_cluster.h"
#include "ab_error.h"
#include "ab_event.h"
#include "ab_evrun.h"
#include <czmq.h>

#define AB_TOPIC_MAX 128 //  bytes in a topic

typedef enum {
    AB_BUS_EVENT = 1, //  committed event: ev.<type>
    AB_BUS_SIGNAL = 2 //  ephemeral signal: sig.<...>
} ab_bus_kind_t;

typedef struct {
    ab_bus_kind_t kind;  //  event or signal
    char *topic;         //  the topic frame, NUL-terminated
    ab_event_t **events; //  AB_BUS_EVENT: the decoded events, seq order
    size_t count;        //  AB_BUS_EVENT: events in events (≥ 1)
    uint8_t *body;       //  AB_BUS_SIGNAL: the msgpack map bytes
    size_t size;         //  AB_BUS_SIGNAL: bytes in body
} ab_bus_msg_t;

typedef struct _ab_bus_t ab_bus_t;

//  Connect as identity `name` to the busd of a cluster file. Subscribes to
//  nothing yet. NULL and *err if the identity cannot be loaded.
ab_bus_t *ab_bus_new (ab_cluster_t *cluster, const char *name, ab_error_t **err);

//  The same with explicit endpoints; publish may be NULL (receive only).
ab_bus_t *ab_bus_connect (const char *keys_dir, const char *name, const char *publish,
                          const char *subscribe, const char *busd_key, ab_error_t **err);

//  Close and null. Safe on NULL.
void ab_bus_destroy (ab_bus_t **self_p);

//  Receive topics starting with prefix ("ev.", "ev.instance.", "sig.metrics";
//  "" means everything). Prefix longer than AB_TOPIC_MAX is AB_E_INVALID.
int ab_bus_subscribe (ab_bus_t *self, const char *prefix, ab_error_t **err);
int ab_bus_unsubscribe (ab_bus_t *self, const char *prefix, ab_error_t **err);

//  Next message, waiting up to timeout_ms (-1 forever, 0 not at all).
//  NULL and *err: AB_E_TIMEOUT, AB_E_MALFORMED (consumed, go on), or
//  AB_E_UNAVAILABLE when interrupted.
ab_bus_msg_t *ab_bus_recv (ab_bus_t *self, int timeout_ms, ab_error_t **err);

//  Free a message and null the reference. Safe on NULL.
void ab_bus_msg_destroy (ab_bus_msg_t **msg_p);

//  Publish a signal: topic must start with "sig." and be at most
//  AB_TOPIC_MAX bytes; body must be exactly one msgpack map.
int ab_bus_publish (ab_bus_t *self, const char *topic, const uint8_t *body, size_t size,
                    ab_error_t **err);

//  The SUB socket, to poll with zpoller/zloop; read it with ab_bus_recv
//  (timeout 0). Borrowed.
zsock_t *ab_bus_sub_socket (ab_bus_t *self);

//  The PUB socket, or NULL if connected without a publish endpoint.
zsock_t *ab_bus_pub_socket (ab_bus_t *self);

void ab_bus_test (bool verbose);

#endif
