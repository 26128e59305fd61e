/*  abbey events - print events: history, then live with --follow
    History comes from logd by READ; with --follow a Clone-pattern follower
    (ab_follower) takes over from the last seq printed, so every event is
    printed exactly once, in seq order, with no gap between history and
    live. Filters are applied here, not on the bus: the follower must see
    every seq to notice gaps.                                               */
#include "cli_common.h"
#include "ab_follower.h"

#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

static const char s_usage[]
    = "Usage: abbey events [--from SEQ | --since TIME] [--follow] [--type PREFIX]...\n"
      "                    [--subject PREFIX] [--json]\n"
      "\n"
      "Print events from the log, oldest first.\n"
      "  --from SEQ        start at SEQ (default 1)\n"
      "  --since TIME      start at the first event committed at or after TIME:\n"
      "                    RFC 3339 (2026-11-23T12:00:00Z) or a duration ago (10m, 2h)\n"
      "  --follow          after the history, print new events as they commit\n"
      "                    (until interrupted)\n"
      "  --type PREFIX     only types starting with PREFIX (repeatable: any of them)\n"
      "  --subject PREFIX  only subjects starting with PREFIX\n"
      "  --json            one JSON object per line: {seq, ts, type, subj, src,\n"
      "                    pseq, prev, hash, data}\n"
      "Human lines: SEQ TIME TYPE SUBJECT SRC DATA.\n"
      "History the log no longer holds is an error, never a silent gap.\n";

#define S_TYPES_MAX 32

typedef struct {
    const char *types[S_TYPES_MAX]; //  --type prefixes, any may match
    size_t ntypes;
    const char *subject;            //  --subject prefix, or NULL
    bool json;                      //  JSON lines
    uint64_t last;                  //  last seq seen (printed or filtered)
    bool failed;                    //  writing to stdout failed
} s_events_t;

static bool
s_match (const s_events_t *self, const ab_event_t *event)
{
    if (self->subject
        && strncmp (ab_event_subj (event), self->subject, strlen (self->subject)) != 0)
        return false;
    if (self->ntypes == 0)
        return true;
    for (size_t i = 0; i < self->ntypes; i++)
        if (strncmp (ab_event_type (event), self->types[i], strlen (self->types[i])) == 0)
            return true;
    return false;
}

//  Print one event if it passes the filters; non-zero if stdout failed.
static int
s_print (s_events_t *self, const ab_event_t *event)
{
    self->last = ab_event_seq (event);
    if (!s_match (self, event))
        return 0;
    json_t *obj = ab_event_to_json (event);
    if (!obj)
        return 0;
    if (self->json)
        json_dumpf (obj, stdout, JSON_COMPACT);
    else {
        char when[40];
        char *data = json_dumps (json_object_get (obj, "data"), JSON_COMPACT | JSON_ENCODE_ANY);
        printf ("%" PRIu64 " %s %s %s %s %s", ab_event_seq (event),
                cli_format_time (ab_event_ts (event), when, sizeof when), ab_event_type (event),
                ab_event_subj (event), ab_event_src (event), data ? data : "{}");
        free (data);
    }
    fputc ('\n', stdout);
    json_decref (obj);
    //  Flush per event: a reader of a pipe (tail, jq, a test) sees each one
    //  as it commits rather than when a buffer fills.
    if (fflush (stdout) != 0 || ferror (stdout))
        self->failed = true;
    return self->failed;
}

static int
s_history_fn (ab_event_t **event_p, void *arg)
{
    return s_print ((s_events_t *) arg, *event_p);
}

//  Live: a follower from the seq after the last one seen, until interrupted
//  (CZMQ turns SIGINT/SIGTERM into zsys_interrupted) or a final error.
static int
s_follow (cli_t *cli, s_events_t *self, ab_error_t **err)
{
    ab_cluster_t *cluster = cli_cluster (cli, err);
    if (!cluster)
        return -AB_E_UNAVAILABLE;
    ab_follower_t *follower = ab_follower_new (cluster, cli_as (cli), self->last + 1, err);
    if (!follower)
        return -AB_E_UNAVAILABLE;
    int rc = 0;
    while (!zsys_interrupted && !self->failed) {
        ab_event_t *event = ab_follower_next (follower, 500, err);
        if (event) {
            s_print (self, event);
            ab_event_destroy (&event);
        }
        else if (*err && ((*err)->code == AB_E_TIMEOUT || (*err)->code == AB_E_UNAVAILABLE)) {
            //  logd did not answer a READ or HEAD: it may be restarting.
            //  Say so once per failure and keep following.
            if (!zsys_interrupted)
                fprintf (stderr, "abbey %s: %s (still following)\n", cli_cmd (cli),
                         ab_error_msg (*err));
            ab_error_destroy (err);
        }
        else if (*err) {
            rc = -(int) (*err)->code;
            break;
        }
    }
    ab_follower_destroy (&follower);
    return rc;
}

int
cmd_events (cli_t *cli, int argc, char **argv)
{
    if (cli_wants_help (argc, argv)) {
        fputs (s_usage, stdout);
        return CLI_OK;
    }
    static const struct option opts[] = { { "from", required_argument, NULL, 'f' },
                                          { "since", required_argument, NULL, 's' },
                                          { "follow", no_argument, NULL, 'F' },
                                          { "type", required_argument, NULL, 't' },
                                          { "subject", required_argument, NULL, 'S' },
                                          { "json", no_argument, NULL, 'j' },
                                          { NULL, 0, NULL, 0 } };
    s_events_t self = { .ntypes = 0 };
    const char *from_arg = NULL;
    const char *since_arg = NULL;
    bool follow = false;
    ab_auto_error ab_error_t *err = NULL;
    cli_getopt_reset ();
    int c;
    while ((c = getopt_long (argc, argv, ":", opts, NULL)) != -1) {
        if (c == 'f')
            from_arg = optarg;
        else if (c == 's')
            since_arg = optarg;
        else if (c == 'F')
            follow = true;
        else if (c == 't') {
            if (self.ntypes == S_TYPES_MAX)
                return cli_usage (cli, "at most %d --type options", S_TYPES_MAX);
            self.types[self.ntypes++] = optarg;
        }
        else if (c == 'S')
            self.subject = optarg;
        else if (c == 'j')
            self.json = true;
        else
            return cli_bad_option (cli, c, argv);
    }
    if (optind < argc)
        return cli_usage (cli, "unexpected argument '%s'", argv[optind]);
    if (from_arg && since_arg)
        return cli_usage (cli, "--from and --since exclude each other");
    uint64_t from = 1;
    uint64_t since = 0;
    if (from_arg && cli_parse_seq (from_arg, 1, "--from", &from, &err) < 0)
        return cli_usage (cli, "%s", ab_error_msg (err));
    if (since_arg && cli_parse_time (since_arg, cli_now_ns (), &since, &err) < 0)
        return cli_usage (cli, "--since: %s", ab_error_msg (err));

    ab_logclient_t *client = cli_logclient (cli, &err);
    if (!client)
        return cli_fail_err (cli, err);
    int64_t head = ab_logclient_head (client, NULL, &err);
    if (head < 0)
        return cli_fail_err (cli, err);
    if (since_arg) {
        //  Log time never goes backwards, so this is a binary search.
        int64_t seq = ab_logclient_seq_at_time (client, since, &err);
        if (seq < 0)
            return cli_fail_err (cli, err);
        from = (uint64_t) seq;
    }

    self.last = from - 1;
    if (from <= (uint64_t) head
        && cli_read_range (cli, from, (uint64_t) head, s_history_fn, &self, &err) < 0)
        return cli_fail_err (cli, err);
    if (self.failed)
        return cli_fail (cli, "writing to standard output failed");
    //  --from past the head: nothing to show yet, and a follower starts
    //  there, so the first live event printed is exactly `from`.
    if (follow && s_follow (cli, &self, &err) < 0)
        return cli_fail_err (cli, err);
    return self.failed ? cli_fail (cli, "writing to standard output failed") : CLI_OK;
}
