/*  cli_replay - the resource graph rebuilt from the log                    */
#include "cli_replay.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct _cli_replay_t {
    cli_t *cli;             //  borrowed
    ab_graph_t *graph;      //  the projection
    uint64_t until_ts;      //  load: stop before events newer than this; 0: none
    uint64_t rejected;      //  events the graph refused
    bool loaded;            //  a load succeeded
    json_t *deploys;        //  stack name → [seq, ts] of its current stack.deployed
    json_t *published;      //  "seq" → ts of accepted kit.published events
    ab_error_t *lookup_err; //  why the lookup's load failed: said once per name, tried once
    cli_replay_fn *observer; //  sees each loaded event first, or NULL
    void *observer_arg;      //  for observer
};

cli_replay_t *
cli_replay_new (cli_t *cli)
{
    assert (cli);
    cli_replay_t *self = calloc (1, sizeof *self);
    assert (self);
    self->cli = cli;
    self->graph = ab_graph_new ();
    self->deploys = json_object ();
    self->published = json_object ();
    return self;
}

void
cli_replay_observe (cli_replay_t *self, cli_replay_fn *fn, void *arg)
{
    assert (self);
    self->observer = fn;
    self->observer_arg = arg;
}

void
cli_replay_destroy (cli_replay_t **self_p)
{
    assert (self_p);
    cli_replay_t *self = *self_p;
    if (!self)
        return;
    ab_graph_destroy (&self->graph);
    json_decref (self->deploys);
    json_decref (self->published);
    ab_error_destroy (&self->lookup_err);
    free (self);
    *self_p = NULL;
}

int
cli_replay_apply (cli_replay_t *self, const ab_event_t *event)
{
    assert (self);
    ab_auto_error ab_error_t *err = NULL;
    //  A rejected event is part of the history too: the graph counts it and
    //  keeps its reason, and the replay goes on as every service's does.
    int rc = ab_graph_apply (self->graph, event, &err);
    if (rc < 0) {
        self->rejected++;
        return rc;
    }
    if (rc > 0)
        return rc;
    const char *type = ab_event_type (event);
    const char *subj = ab_event_subj (event);
    if (strcmp (type, "stack.deployed") == 0 && strncmp (subj, "stack/", 6) == 0)
        json_object_set_new (
            self->deploys, subj + 6,
            json_pack ("[I,I]", (json_int_t)ab_event_seq (event), (json_int_t)ab_event_ts (event)));
    else if (strcmp (type, "kit.published") == 0) {
        char key[32];
        snprintf (key, sizeof key, "%" PRIu64, ab_event_seq (event));
        json_object_set_new (self->published, key, json_integer ((json_int_t)ab_event_ts (event)));
    }
    return rc;
}

static int
s_apply_fn (ab_event_t **event_p, void *arg)
{
    cli_replay_t *self = (cli_replay_t *)arg;
    if (self->until_ts && ab_event_ts (*event_p) > self->until_ts)
        return 1;
    if (self->observer && self->observer (*event_p, self->observer_arg))
        return 1;
    cli_replay_apply (self, *event_p);
    return 0;
}

int64_t
cli_replay_load (cli_replay_t *self, uint64_t to, uint64_t until_ts, ab_error_t **err)
{
    assert (self);
    ab_logclient_t *client = cli_logclient (self->cli, err);
    if (!client)
        return -AB_E_UNAVAILABLE;
    int64_t head = ab_logclient_head (client, NULL, err);
    if (head < 0)
        return head;
    if (to == 0 || to > (uint64_t)head)
        to = (uint64_t)head;
    self->until_ts = until_ts;
    uint64_t from = ab_graph_seq (self->graph) + 1;
    if (from <= to) {
        int64_t rc = cli_read_range (self->cli, from, to, s_apply_fn, self, err);
        if (rc < 0)
            return rc;
    }
    self->until_ts = 0;
    self->loaded = true;
    return (int64_t)ab_graph_seq (self->graph);
}

bool
cli_replay_loaded (cli_replay_t *self)
{
    assert (self);
    return self->loaded;
}

ab_graph_t *
cli_replay_graph (cli_replay_t *self)
{
    assert (self);
    return self->graph;
}

uint64_t
cli_replay_rejected (cli_replay_t *self)
{
    assert (self);
    return self->rejected;
}

bool
cli_replay_deployed (cli_replay_t *self, const char *name, uint64_t *seq, uint64_t *ts)
{
    assert (self);
    json_t *row = json_object_get (self->deploys, name);
    if (!row)
        return false;
    if (seq)
        *seq = (uint64_t)json_integer_value (json_array_get (row, 0));
    if (ts)
        *ts = (uint64_t)json_integer_value (json_array_get (row, 1));
    return true;
}

uint64_t
cli_replay_published_ts (cli_replay_t *self, uint64_t seq)
{
    assert (self);
    char key[32];
    snprintf (key, sizeof key, "%" PRIu64, seq);
    return (uint64_t)json_integer_value (json_object_get (self->published, key));
}

json_t *
cli_replay_stack_spec (cli_replay_t *self, const char *name)
{
    assert (self);
    char path[AB_SUBJ_MAX + 8];
    snprintf (path, sizeof path, "stack/%s", name);
    size_t size = 0;
    const uint8_t *spec = ab_graph_stack_spec (self->graph, path, &size);
    if (!spec || !size)
        return NULL;
    return ab_msgpack_to_json (spec, size, NULL);
}

char *
cli_replay_kit_lookup (void *arg, const char *name, size_t *size, ab_error_t **err)
{
    cli_replay_t *self = (cli_replay_t *)arg;
    assert (self);
    //  Without a reachable cluster every lookup would wait for logd again.
    if (!self->loaded && !self->lookup_err)
        cli_replay_load (self, 0, 0, &self->lookup_err);
    if (!self->loaded) {
        ab_error_set (err, self->lookup_err->code, "%s", ab_error_msg (self->lookup_err));
        return NULL;
    }
    char path[AB_SUBJ_MAX + 8];
    snprintf (path, sizeof path, "kit/%s", name);
    size_t n = ab_graph_kit_versions (self->graph, path);
    ab_graph_kitver_t kv;
    if (n == 0 || ab_graph_kit_version (self->graph, path, n - 1, &kv) < 0)
        return NULL;
    if (!kv.document) {
        ab_error_set (err, AB_E_INVALID, "kit %s %s was published without a document", name,
                      kv.version);
        return NULL;
    }
    json_t *doc = ab_msgpack_to_json (kv.document, kv.document_size, err);
    if (!doc)
        return NULL;
    char *text = json_dumps (doc, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref (doc);
    if (text)
        *size = strlen (text);
    return text;
}
