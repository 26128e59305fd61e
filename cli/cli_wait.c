/*  cli_wait - follow the log until a stack reaches an outcome              */
#include "cli_wait.h"
#include "ab_follower.h"
#include "cli_stack.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define S_POLL_MS 1000 //  longest wait for one event: the live line's tick

typedef struct {
    cli_t *cli;
    cli_replay_t *replay;
    const char *name;   //  stack name
    const json_t *spec; //  as deployed
    uint64_t since;     //  seq of the event whose outcome we wait for
    cli_wait_mode_t mode;
    char stack_path[AB_SUBJ_MAX + 1]; //  stack/NAME
    char svc_prefix[AB_SUBJ_MAX + 1]; //  stack/NAME/svc/
    json_t *last;                     //  service → the last event seen for it, as text
    json_t *shown;                    //  service → its progress line as last printed
    bool tty;                         //  stdout is a terminal: keep a live line
    bool live;                        //  the live line is on screen
} s_wait_t;

static int64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
s_clear_live (s_wait_t *w)
{
    if (w->live) {
        fputs ("\r\033[K", stdout);
        fflush (stdout);
        w->live = false;
    }
}

//  Counts of one service; until the graph has applied the deploy, the
//  replicas wanted are the new spec's, not the version before.
static void
s_counts (s_wait_t *w, const char *service, const json_t *svc, cli_counts_t *counts)
{
    cli_stack_counts (cli_replay_graph (w->replay), w->name, service, svc, counts);
    json_t *replicas = json_object_get (svc, "replicas");
    if (ab_graph_seq (cli_replay_graph (w->replay)) < w->since && json_is_integer (replicas))
        counts->desired = json_integer_value (replicas);
}

static void
s_progress_line (s_wait_t *w, const char *service, const json_t *svc, char *buf, size_t size,
                 cli_counts_t *counts)
{
    s_counts (w, service, svc, counts);
    snprintf (buf, size,
              "service %s: placed %zu/%" PRId64 ", started %zu/%" PRId64 ", ready %zu/%" PRId64,
              service, counts->placed, counts->desired, counts->started, counts->desired,
              counts->ready, counts->desired);
}

//  Print a line per service whose progress changed (print false: only
//  remember them, for the state we start from).
static void
s_progress (s_wait_t *w, bool print)
{
    const char *service;
    json_t *svc;
    json_object_foreach ((json_t *)json_object_get (w->spec, "services"), service, svc)
    {
        char line[512];
        cli_counts_t counts;
        s_progress_line (w, service, svc, line, sizeof line, &counts);
        const char *before = json_string_value (json_object_get (w->shown, service));
        if (before && !strcmp (before, line))
            continue;
        json_object_set_new (w->shown, service, json_string (line));
        if (print) {
            s_clear_live (w);
            printf ("%s\n", line);
            fflush (stdout);
        }
    }
}

static int
s_nop_fn (const char *path, void *arg)
{
    (void)path;
    (void)arg;
    return 0;
}

static int
s_list_fn (const char *path, void *arg)
{
    s_wait_t *w = (s_wait_t *)arg;
    fprintf (stderr, "  %s: %s\n", path, ab_graph_state (cli_replay_graph (w->replay), path));
    return 0;
}

static size_t
s_instances (s_wait_t *w)
{
    return ab_graph_each (cli_replay_graph (w->replay), AB_GRAPH_INSTANCE, w->svc_prefix, s_nop_fn,
                          NULL);
}

//  Remember the event as the last one seen for its service.
static void
s_note_service_event (s_wait_t *w, const ab_event_t *event)
{
    const char *subj = ab_event_subj (event);
    size_t len = strlen (w->svc_prefix);
    if (strncmp (subj, w->svc_prefix, len) != 0)
        return;
    char service[AB_SUBJ_MAX + 1];
    snprintf (service, sizeof service, "%s", subj + len);
    char *slash = strchr (service, '/');
    if (slash)
        *slash = 0;
    json_t *obj = ab_event_to_json (event);
    char *data
        = obj ? json_dumps (json_object_get (obj, "data"), JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    char *text = NULL;
    if (asprintf (&text, "seq %" PRIu64 " %s %s %s", ab_event_seq (event), ab_event_type (event),
                  subj, data ? data : "{}")
        < 0)
        text = NULL;
    if (text)
        json_object_set_new (w->last, service, json_string (text));
    free (text);
    free (data);
    json_decref (obj);
}

//  Apply one event; the exit code if it decides the wait, else -1.
static int
s_on_event (s_wait_t *w, const ab_event_t *event)
{
    int rc = cli_replay_apply (w->replay, event);
    uint64_t seq = ab_event_seq (event);
    if (seq < w->since)
        return -1;
    const char *type = ab_event_type (event);
    if (seq > w->since && rc == 0 && !strcmp (ab_event_subj (event), w->stack_path)) {
        if (!strcmp (type, "stack.deployed")) {
            s_clear_live (w);
            return cli_fail (w->cli,
                             "failed: stack %s was deployed again at seq %" PRIu64
                             " while waiting (see 'abbey ls')",
                             w->name, seq);
        }
        if (w->mode == CLI_WAIT_READY && !strcmp (type, "stack.removed")) {
            s_clear_live (w);
            return cli_fail (w->cli,
                             "failed: stack %s was removed at seq %" PRIu64 " while waiting",
                             w->name, seq);
        }
        if (w->mode == CLI_WAIT_READY && !strcmp (type, "stack.ready")) {
            s_progress (w, true);
            s_clear_live (w);
            printf ("stack %s is ready (seq %" PRIu64 ")\n", w->name, seq);
            return CLI_OK;
        }
        if (w->mode == CLI_WAIT_READY && !strcmp (type, "stack.failed")) {
            s_progress (w, true);
            s_clear_live (w);
            const char *reason = ab_graph_reason (cli_replay_graph (w->replay), w->stack_path);
            return cli_fail (w->cli, "failed: stack %s: %s (seq %" PRIu64 ")", w->name,
                             reason ? reason : "no reason given", seq);
        }
    }
    if (seq > w->since)
        s_note_service_event (w, event);
    if (w->mode == CLI_WAIT_READY)
        s_progress (w, seq > w->since);
    else if (s_instances (w) == 0) {
        s_clear_live (w);
        printf ("stack %s: no instances left\n", w->name);
        return CLI_OK;
    }
    return -1;
}

static void
s_live (s_wait_t *w, int64_t left_ms)
{
    if (!w->tty)
        return;
    char left[32];
    cli_format_ms ((left_ms + 999) / 1000 * 1000, left, sizeof left);
    if (w->mode == CLI_WAIT_READY) {
        cli_counts_t total = { 0 };
        const char *service;
        json_t *svc;
        json_object_foreach ((json_t *)json_object_get (w->spec, "services"), service, svc)
        {
            cli_counts_t one;
            s_counts (w, service, svc, &one);
            total.desired += one.desired;
            total.ready += one.ready;
        }
        printf ("\r\033[Kwaiting for stack %s: ready %zu/%" PRId64 " instances, %s left", w->name,
                total.ready, total.desired, left);
    } else
        printf ("\r\033[Kwaiting for stack %s: %zu instances left, %s left", w->name,
                s_instances (w), left);
    fflush (stdout);
    w->live = true;
}

static int
s_timeout (s_wait_t *w, int64_t timeout_ms)
{
    s_clear_live (w);
    char after[32];
    cli_format_ms (timeout_ms, after, sizeof after);
    if (w->mode == CLI_WAIT_GONE) {
        cli_fail (w->cli, "timeout: stack %s still has %zu instance%s after %s:", w->name,
                  s_instances (w), s_instances (w) == 1 ? "" : "s", after);
        ab_graph_each (cli_replay_graph (w->replay), AB_GRAPH_INSTANCE, w->svc_prefix, s_list_fn,
                       w);
        return CLI_USAGE; //  2: the documented exit code of a timeout
    }
    cli_fail (w->cli, "timeout: stack %s is not ready after %s; not ready:", w->name, after);
    size_t listed = 0;
    const char *service;
    json_t *svc;
    json_object_foreach ((json_t *)json_object_get (w->spec, "services"), service, svc)
    {
        cli_counts_t counts;
        s_counts (w, service, svc, &counts);
        if ((int64_t)counts.ready >= counts.desired)
            continue;
        const char *last = json_string_value (json_object_get (w->last, service));
        fprintf (stderr, "  service %s: ready %zu/%" PRId64 "; last event: %s\n", service,
                 counts.ready, counts.desired, last ? last : "no events yet");
        listed++;
    }
    if (!listed)
        fprintf (stderr, "  every service has its instances ready, but no stack.ready came "
                         "(is a scheduler running?)\n");
    return CLI_USAGE;
}

int
cli_wait_stack (cli_t *cli, cli_replay_t *replay, const char *name, const json_t *spec,
                uint64_t since, int64_t timeout_ms, cli_wait_mode_t mode)
{
    assert (cli && replay && name);
    s_wait_t w = { .cli = cli,
                   .replay = replay,
                   .name = name,
                   .spec = spec,
                   .since = since,
                   .mode = mode,
                   .last = json_object (),
                   .shown = json_object (),
                   .tty = isatty (STDOUT_FILENO) == 1 };
    snprintf (w.stack_path, sizeof w.stack_path, "stack/%s", name);
    snprintf (w.svc_prefix, sizeof w.svc_prefix, "stack/%s/svc/", name);
    int rc = -1;
    ab_graph_t *graph = cli_replay_graph (replay);
    if (mode == CLI_WAIT_READY)
        s_progress (&w, false);
    else if (ab_graph_seq (graph) >= since && s_instances (&w) == 0) {
        printf ("stack %s: no instances left\n", name);
        rc = CLI_OK;
    }
    ab_auto_error ab_error_t *err = NULL;
    ab_follower_t *follower = NULL;
    ab_cluster_t *cluster = rc < 0 ? cli_cluster (cli, &err) : NULL;
    if (rc < 0 && cluster)
        follower = ab_follower_new (cluster, cli_as (cli), ab_graph_seq (graph) + 1, &err);
    if (rc < 0 && !follower)
        rc = cli_fail_err (cli, err);
    int64_t deadline = s_now_ms () + timeout_ms;
    while (rc < 0) {
        int64_t left = deadline - s_now_ms ();
        if (left <= 0) {
            rc = s_timeout (&w, timeout_ms);
            break;
        }
        if (zsys_interrupted) {
            s_clear_live (&w);
            rc = cli_fail (cli, "failed: interrupted; stopped waiting, the stack is not changed by "
                                "that (see 'abbey ls')");
            break;
        }
        s_live (&w, left);
        ab_event_t *event
            = ab_follower_next (follower, left < S_POLL_MS ? (int)left : S_POLL_MS, &err);
        if (event) {
            rc = s_on_event (&w, event);
            ab_event_destroy (&event);
        } else if (err && (err->code == AB_E_TIMEOUT || err->code == AB_E_UNAVAILABLE))
            ab_error_destroy (&err); //  logd may be restarting: keep following
        else if (err) {
            s_clear_live (&w);
            rc = cli_fail_err (cli, err);
        }
    }
    ab_follower_destroy (&follower);
    json_decref (w.last);
    json_decref (w.shown);
    fflush (stdout);
    return rc;
}
