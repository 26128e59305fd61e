/*  cli_replay - the resource graph rebuilt from the log, for the commands
    that read cluster state (graph, ls, inspect, diff, deploy, rm, kit).
    The graph is built here by ab_graph_apply over every event from seq 1,
    the same pure projection every service runs, and kept current by
    applying what a follower hands out. Beside the graph it remembers two
    facts the graph does not keep: the seq and log time of the stack.deployed
    that set each stack's spec (for ages), and the log time of each
    kit.published that the graph accepted.

    Rules of the API:
    - A replay borrows the cli_t it is made with; the graph is borrowed too
      and lives as long as the replay.
    - Apply events in seq order, each once (the graph refuses the rest).
    - Returned json_t and char * are the caller's.                          */
#ifndef CLI_REPLAY_H
#define CLI_REPLAY_H

#include "ab_event.h"
#include "ab_graph.h"
#include "cli_common.h"
#include <jansson.h>

typedef struct _cli_replay_t cli_replay_t;

//  New replay at seq 0 over the cluster of cli.
cli_replay_t *cli_replay_new (cli_t *cli);

//  Sees each event a load reads before the graph does (for facts the graph
//  does not keep, such as who set each secret version); non-zero stops the
//  load there, without applying that event.
typedef int (cli_replay_fn) (const ab_event_t *event, void *arg);

//  Call fn for every event cli_replay_load reads from now on (NULL: none).
void cli_replay_observe (cli_replay_t *self, cli_replay_fn *fn, void *arg);

//  Free and null. Safe on NULL.
void cli_replay_destroy (cli_replay_t **self_p);

//  Read and apply the events after the graph's seq up to `to` (0: the head
//  as it is now). until_ts, if not 0, stops before the first event
//  committed after it. Returns the graph's seq, or negative and *err.
int64_t cli_replay_load (cli_replay_t *self, uint64_t to, uint64_t until_ts, ab_error_t **err);

//  True once cli_replay_load has succeeded.
bool cli_replay_loaded (cli_replay_t *self);

//  Apply one event (the next in seq order). Returns ab_graph_apply's result.
int cli_replay_apply (cli_replay_t *self, const ab_event_t *event);

//  The graph. Borrowed.
ab_graph_t *cli_replay_graph (cli_replay_t *self);

//  Events the graph rejected during this replay.
uint64_t cli_replay_rejected (cli_replay_t *self);

//  Seq and log time of the stack.deployed that set the current spec of
//  stack NAME; false if it was never deployed. Either pointer may be NULL.
bool cli_replay_deployed (cli_replay_t *self, const char *name, uint64_t *seq, uint64_t *ts);

//  Log time of the kit.published event at seq, 0 if unknown.
uint64_t cli_replay_published_ts (cli_replay_t *self, uint64_t seq);

//  The spec of stack NAME as last deployed, NULL if it was never deployed.
json_t *cli_replay_stack_spec (cli_replay_t *self, const char *name);

//  ab_kit_lookup_fn over the published kits of the graph (arg: the replay):
//  the document of the latest version of kit "ns/name" as JSON text. Loads
//  the replay to the head first if it is not loaded yet.
char *cli_replay_kit_lookup (void *arg, const char *name, size_t *size, ab_error_t **err);

#endif
