/*  ab_graph - the resource graph: a pure, deterministic projection of events
    Every service keeps its view of the cluster as ab_graph_apply () over the
    committed events it has seen, in seq order. Nothing else changes a graph,
    and nothing but the events goes in: time is the events' `ts` (log time),
    never the wall clock, so the same events give the same graph and the
    same digest in any process at any time. docs/events.md says what each
    event type does here.

    Rules of the API:
    - Apply committed events in increasing seq. Each one is either applied,
      skipped (a type this build does not know: counted, never an error) or
      rejected (its subject or data is unusable for its type: counted, the
      reason kept, and nothing in the graph changes). A rejected or skipped
      event still moves the graph's seq and time forward: it was consumed.
    - Paths are the `subj` paths of events: "node/n1", "stack/web",
      "stack/web/svc/api", "stack/web/svc/api/3", "lease/x", "secret/db".
    - Returned const strings are borrowed from the graph and stay valid
      until the next ab_graph_apply. Returned json_t references are the
      caller's (json_decref).
    - A graph is not thread-safe; one owner applies and reads.              */
#ifndef AB_GRAPH_H
#define AB_GRAPH_H

#include "ab_error.h"
#include "ab_event.h"
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

//  X (ENUM, "singular", "plural"). The order is the canonical walk order of
//  the digest, the JSON dump and the printout.
#define AB_GRAPH_KIND_MAP(X)                                                                       \
    X (NODE, "node", "nodes")                                                                      \
    X (STACK, "stack", "stacks")                                                                   \
    X (SERVICE, "service", "services")                                                             \
    X (INSTANCE, "instance", "instances")                                                          \
    X (NETWORK, "network", "networks")                                                             \
    X (ENDPOINT, "endpoint", "endpoints")                                                          \
    X (IMAGE, "image", "images")                                                                   \
    X (BUILD, "build", "builds")                                                                   \
    X (VOLUME, "volume", "volumes")                                                                \
    X (SECRET, "secret", "secrets")                                                                \
    X (COST, "cost", "costs")                                                                      \
    X (KIT, "kit", "kits")                                                                         \
    X (LEASE, "lease", "leases")

typedef enum {
    AB_GRAPH_NONE = 0,
#define AB_GRAPH_KIND_ENUM(e, s, p) AB_GRAPH_##e,
    AB_GRAPH_KIND_MAP (AB_GRAPH_KIND_ENUM)
#undef AB_GRAPH_KIND_ENUM
        AB_GRAPH__COUNT
} ab_graph_kind_t;

typedef struct _ab_graph_t ab_graph_t;

//  Called per path by ab_graph_each; return non-zero to stop the walk.
typedef int (ab_graph_fn) (const char *path, void *arg);

//  New empty graph at seq 0.
ab_graph_t *ab_graph_new (void);

//  Free and null. Safe on NULL.
void ab_graph_destroy (ab_graph_t **self_p);

//  Apply one committed event. Returns 0 if applied, 1 if skipped because
//  its type is unknown, or a negative code with *err naming seq, type,
//  subject and the offending field when rejected (the graph is unchanged
//  but for seq, time and the rejected count). An event whose seq is not
//  after the graph's seq is refused with -AB_E_INVALID and changes nothing
//  at all.
int ab_graph_apply (ab_graph_t *self, const ab_event_t *event, ab_error_t **err);

//  Seq of the last event consumed; 0 for a new graph.
uint64_t ab_graph_seq (const ab_graph_t *self);

//  Log time of the graph: the largest ts consumed, ns since epoch.
uint64_t ab_graph_ts (const ab_graph_t *self);

//  Counters of consumed events. Any pointer may be NULL.
void ab_graph_stats (const ab_graph_t *self, uint64_t *applied, uint64_t *unknown,
                     uint64_t *rejected);

//  Message of the last rejection, "" if none.
const char *ab_graph_last_rejection (const ab_graph_t *self);

//  Number of resources of a kind (notes are not a kind: see ab_graph_notes).
size_t ab_graph_count (const ab_graph_t *self, ab_graph_kind_t kind);

//  Kind of the resource at path, AB_GRAPH_NONE if there is none.
ab_graph_kind_t ab_graph_kind (const ab_graph_t *self, const char *path);

//  State of the resource at path ("ready", "running", "held"...), NULL if
//  there is none. A lease's state is judged at the graph's log time.
const char *ab_graph_state (const ab_graph_t *self, const char *path);

//  Reason given with the last failure (stack.failed, instance.failed), or
//  NULL.
const char *ab_graph_reason (const ab_graph_t *self, const char *path);

//  Desired replicas of the service at path, -1 if path is not a service.
int64_t ab_graph_replicas (const ab_graph_t *self, const char *path);

//  Path of the node an instance is placed on ("node/n1"), or NULL.
const char *ab_graph_instance_node (const ab_graph_t *self, const char *path);

//  Holder of the lease at path if it is held at the graph's log time,
//  else NULL (released, lapsed or no such lease).
const char *ab_graph_lease_holder (const ab_graph_t *self, const char *path);

//  Number of notes kept under path (a resource or not).
size_t ab_graph_notes (const ab_graph_t *self, const char *path);

//  Msgpack bytes of a stack's spec as deployed, NULL if path is no stack.
const uint8_t *ab_graph_stack_spec (const ab_graph_t *self, const char *path, size_t *size);

//  One published version of a kit, borrowed from the graph.
typedef struct {
    const char *version;     //  as published
    const char *digest;      //  hex digest of the normalized document
    uint64_t seq;            //  event that published it
    const uint8_t *document; //  msgpack of the document, NULL if none was given
    size_t document_size;    //  bytes in document
} ab_graph_kitver_t;

//  Versions published for the kit at path ("kit/shop/db"), 0 if none.
size_t ab_graph_kit_versions (const ab_graph_t *self, const char *path);

//  Version index (0: first published; the last is the latest) of the kit at
//  path into *out. -1 if there is no such kit or version.
int ab_graph_kit_version (const ab_graph_t *self, const char *path, size_t index,
                          ab_graph_kitver_t *out);

//  Call fn for each resource of kind whose path starts with prefix (NULL
//  for all), in canonical (sorted) order. Returns how many were visited.
//  fn may read the graph but must not apply events to it.
size_t ab_graph_each (const ab_graph_t *self, ab_graph_kind_t kind, const char *prefix,
                      ab_graph_fn *fn, void *arg);

//  One resource as JSON (as in the dump), NULL if there is none.
json_t *ab_graph_resource_json (const ab_graph_t *self, const char *path);

//  The whole graph: {seq, ts, digest (hex), stats {applied, unknown,
//  rejected, last_rejections [..]}, one object per kind keyed by path,
//  notes {path: [{seq, ts, data}]}}.
json_t *ab_graph_to_json (const ab_graph_t *self);

//  Human-readable tree: nodes with their instances, stacks with services
//  and instances, leases, secrets, kits, and notes under what they annotate.
void ab_graph_print (const ab_graph_t *self, FILE *out);

//  BLAKE2b-256 over a canonical walk of every resource and note (sorted by
//  kind, then path; each field length-prefixed). Counters and seq are not
//  part of it: the digest names the state, not how it was reached.
void ab_graph_digest (const ab_graph_t *self, uint8_t out[32]);

//  Names of a kind; NULL out of range.
const char *ab_graph_kind_name (ab_graph_kind_t kind);
const char *ab_graph_kind_plural (ab_graph_kind_t kind);

void ab_graph_test (bool verbose);

#endif
