/*  cli_stack - a stack's progress from the graph; durations and ages       */
#include "cli_stack.h"
#include "ab_units.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    ab_graph_t *graph;
    bool has_check; //  the service has a readiness check
    cli_counts_t *out;
} s_count_t;

static int
s_count_fn (const char *path, void *arg)
{
    s_count_t *c = (s_count_t *)arg;
    const char *state = ab_graph_state (c->graph, path);
    if (!state)
        return 0;
    bool running = !strcmp (state, "running");
    bool healthy = !strcmp (state, "healthy");
    bool started = running || healthy || !strcmp (state, "unhealthy");
    if (started || !strcmp (state, "placed") || !strcmp (state, "stopping"))
        c->out->placed++;
    if (started)
        c->out->started++;
    if (healthy || (running && !c->has_check))
        c->out->ready++;
    return 0;
}

void
cli_stack_counts (ab_graph_t *graph, const char *stack, const char *service, const json_t *svc,
                  cli_counts_t *out)
{
    assert (graph && stack && service && out);
    memset (out, 0, sizeof *out);
    char path[AB_SUBJ_MAX + 1];
    snprintf (path, sizeof path, "stack/%s/svc/%s", stack, service);
    out->desired = ab_graph_replicas (graph, path);
    if (out->desired < 0) {
        json_t *replicas = json_object_get (svc, "replicas");
        out->desired = json_is_integer (replicas) ? json_integer_value (replicas) : 1;
    }
    s_count_t c
        = { graph, json_object_get (json_object_get (svc, "checks"), "readiness") != NULL, out };
    //  The trailing slash keeps service "api" from counting "api2".
    strncat (path, "/", sizeof path - strlen (path) - 1);
    ab_graph_each (graph, AB_GRAPH_INSTANCE, path, s_count_fn, &c);
}

void
cli_stack_totals (ab_graph_t *graph, const char *stack, const json_t *spec, cli_counts_t *out)
{
    assert (out);
    memset (out, 0, sizeof *out);
    const char *name;
    json_t *svc;
    json_object_foreach ((json_t *)json_object_get (spec, "services"), name, svc)
    {
        cli_counts_t one;
        cli_stack_counts (graph, stack, name, svc, &one);
        out->desired += one.desired;
        out->placed += one.placed;
        out->started += one.started;
        out->ready += one.ready;
    }
}

int
cli_parse_duration (const char *what, const char *text, int64_t *ms, ab_error_t **err)
{
    assert (ms);
    int64_t value = 0;
    ab_error_t *inner = NULL;
    if (ab_units_duration (text, &value, &inner) < 0 || value <= 0) {
        ab_error_set (err, AB_E_USAGE, "%s: expected a duration like 30s, 5m or 1m30s, got '%s'",
                      what, text);
        ab_error_destroy (&inner);
        return -1;
    }
    *ms = value;
    return 0;
}

const char *
cli_format_age (uint64_t since_ns, uint64_t now_ns, char *buf, size_t size)
{
    uint64_t s = now_ns > since_ns ? (now_ns - since_ns) / 1000000000ull : 0;
    if (s < 120)
        snprintf (buf, size, "%" PRIu64 "s", s);
    else if (s < 7200)
        snprintf (buf, size, "%" PRIu64 "m", s / 60);
    else if (s < 172800)
        snprintf (buf, size, "%" PRIu64 "h", s / 3600);
    else
        snprintf (buf, size, "%" PRIu64 "d", s / 86400);
    return buf;
}

const char *
cli_format_ms (int64_t ms, char *buf, size_t size)
{
    int64_t s = ms / 1000;
    if (ms % 1000)
        snprintf (buf, size, "%" PRId64 "ms", ms);
    else if (s < 60)
        snprintf (buf, size, "%" PRId64 "s", s);
    else if (s % 60 == 0)
        snprintf (buf, size, "%" PRId64 "m", s / 60);
    else
        snprintf (buf, size, "%" PRId64 "m%" PRId64 "s", s / 60, s % 60);
    return buf;
}
