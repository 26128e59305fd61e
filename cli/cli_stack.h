/*  cli_stack - reading a stack's progress out of the graph, and the
    durations and ages the stack commands print and accept.

    An instance counts as placed while it is live (placed, running,
    healthy, unhealthy, stopping), as started once its container runs
    (running, healthy, unhealthy), and as ready when it is healthy, or
    running if its service has no readiness check (nothing will ever call
    it healthy then), the way docker-compose tells service_started from
    service_healthy.                                                        */
#ifndef CLI_STACK_H
#define CLI_STACK_H

#include "cli_replay.h"
#include <jansson.h>
#include <stdint.h>

typedef struct {
    int64_t desired; //  replicas wanted (the graph's, else the spec's)
    size_t placed;   //  live instances
    size_t started;  //  instances whose container runs
    size_t ready;    //  instances ready (see above)
} cli_counts_t;

//  Counts of service `service` of stack `stack`; svc is its spec (for the
//  readiness check and the replicas when the graph has none yet).
void cli_stack_counts (ab_graph_t *graph, const char *stack, const char *service, const json_t *svc,
                       cli_counts_t *out);

//  Sum of the counts of every service in spec.
void cli_stack_totals (ab_graph_t *graph, const char *stack, const json_t *spec, cli_counts_t *out);

//  Parse a duration ("5m", "30s", "1m30s", "500ms") into ms > 0; what names
//  the option in the error (usage).
int cli_parse_duration (const char *what, const char *text, int64_t *ms, ab_error_t **err);

//  A short age for tables: "12s", "5m", "3h", "2d". Returns buf.
const char *cli_format_age (uint64_t since_ns, uint64_t now_ns, char *buf, size_t size);

//  A duration in ms as "2s", "1m30s", "500ms". Returns buf.
const char *cli_format_ms (int64_t ms, char *buf, size_t size);

#endif
