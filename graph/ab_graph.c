/*  ab_graph - the resource graph: a pure, deterministic projection of events
    One switch on the event type (ab_graph_apply); each handler first reads
    and checks everything it needs from the subject and the msgpack data,
    and only then changes the graph, so a rejection never leaves half an
    event applied. Data is walked as msgpack objects (no JSON on the apply
    path); resources live in one path-keyed hash table and are sorted only
    when walked for output or the digest.                                   */
//  Selftests assert behaviour: keep assert live in release builds too.
#undef NDEBUG
#include <assert.h>

#include "ab_graph.h"
#include "ab_catalog.h"
#include "ab_pathmap.h"

#include <inttypes.h>
#include <math.h>
#include <msgpack.h>
#include <sodium.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

#define S_NAME_MAX 128  //  bytes in a name taken from data (service, holder)
#define S_TEXT_MAX 4096 //  bytes in free text taken from data (reason, image)
#define S_REPLICAS_MAX 100000
#define S_RING 8     //  rejections kept for humans
#define S_SEGS_MAX 8 //  path segments we look at

//  States. Static strings: a resource points at one of these.
static const char S_READY[] = "ready";
static const char S_LEFT[] = "left";
static const char S_LOST[] = "lost";
static const char S_DEPLOYING[] = "deploying";
static const char S_REMOVED[] = "removed";
static const char S_FAILED[] = "failed";
static const char S_ACTIVE[] = "active";
static const char S_PLACED[] = "placed";
static const char S_RUNNING[] = "running";
static const char S_HEALTHY[] = "healthy";
static const char S_UNHEALTHY[] = "unhealthy";
static const char S_EXITED[] = "exited";
static const char S_STOPPING[] = "stopping";
static const char S_STOPPED[] = "stopped";
static const char S_HELD[] = "held";
static const char S_LAPSED[] = "lapsed";
static const char S_RELEASED[] = "released";
static const char S_SET[] = "set";
static const char S_PUBLISHED[] = "published";

// clang-format off
static const char *s_kind_names[][2] = {
    [AB_GRAPH_NONE] = { NULL, NULL },
#define AB_GRAPH_KIND_ROW(e, s, p) [AB_GRAPH_##e] = { s, p },
    AB_GRAPH_KIND_MAP (AB_GRAPH_KIND_ROW)
#undef AB_GRAPH_KIND_ROW
};
// clang-format on

typedef struct {
    char *key; //  owned
    char *val; //  owned
} s_label_t;

typedef struct {
    char *name;    //  connection name in the spec
    char *target;  //  target as written
    char *service; //  resolved path of a service in the same stack, or NULL
} s_conn_t;

typedef struct {
    char *version;   //  as published
    char *digest;    //  of the normalized document
    uint64_t seq;    //  event that published it
    uint8_t *doc;    //  msgpack of the document, or NULL
    size_t doc_size; //  bytes in doc
} s_kitver_t;

typedef struct _s_res_t s_res_t;
struct _s_res_t {
    ab_graph_kind_t kind; //  what it is
    char *path;           //  owned; also the key in the table
    size_t path_len;      //  bytes in path
    const char *state;    //  static state string (leases: see s_state)
    char *reason;         //  owned, last failure reason or NULL
    uint64_t seq;         //  last event that changed it
    uint64_t ts;          //  log time of that event
    s_res_t *parent;      //  service -> stack, instance -> service
    s_res_t **kids;       //  stack -> services, service -> instances
    size_t nkids;         //  entries in kids
    size_t maxkids;       //  allocated in kids
    size_t kid_index;     //  our index in parent->kids, for O(1) removal
    //  node
    double cpu;        //  cores
    uint64_t memory;   //  bytes
    s_label_t *labels; //  sorted by key
    size_t nlabels;    //  entries in labels
    //  stack
    char *version;    //  of the spec
    uint8_t *spec;    //  msgpack of the spec as deployed
    size_t spec_size; //  bytes in spec
    //  service
    int64_t replicas; //  desired
    char *image;      //  image reference or NULL
    s_conn_t *conns;  //  service -> service edges, sorted by name
    size_t nconns;    //  entries in conns
    //  instance
    s_res_t *node;     //  instance -> node; nodes are never dropped
    int64_t exit_code; //  from instance.exited
    bool has_exit;     //  exit_code is meaningful
    uint64_t restarts; //  instance.restarted count
    //  lease
    char *holder;      //  who holds or last held it
    uint64_t ttl_ms;   //  0: no expiry
    uint64_t acquired; //  log time of acquired or last renewed
    uint64_t expires;  //  log time after which it lapses; 0: never
    //  secret
    uint64_t generation; //  secret.set count
    uint8_t digest[32];  //  BLAKE2b-256 of the ciphertext
    uint64_t size;       //  bytes of ciphertext
    //  kit
    s_kitver_t *kitvers; //  in publication order
    size_t nkitvers;     //  entries in kitvers
};

typedef struct {
    uint64_t seq;   //  of the note.added event
    uint64_t ts;    //  its log time
    size_t size;    //  bytes in data
    uint8_t data[]; //  msgpack map as appended
} s_note_t;

typedef struct {
    char *path;       //  owned; key in the notes table
    size_t path_len;  //  bytes in path
    s_note_t **notes; //  in seq order
    size_t count;     //  entries in notes
    size_t max;       //  allocated
} s_notes_t;

struct _ab_graph_t {
    ab_pathmap_t *res;             //  path -> s_res_t
    ab_pathmap_t *notes;           //  path -> s_notes_t
    ab_pathmap_t *types;           //  type name -> ab_evtype_t
    size_t count[AB_GRAPH__COUNT]; //  resources per kind
    uint64_t seq;                  //  last event consumed
    uint64_t now;                  //  largest ts consumed
    uint64_t applied;              //  events applied
    uint64_t unknown;              //  events skipped: unknown type
    uint64_t rejected;             //  events rejected: unusable data
    char *ring[S_RING];            //  last rejection messages
    size_t ring_next;              //  next slot in ring
    uint64_t ring_count;           //  rejections ever written to ring
    msgpack_zone zone;             //  scratch for unpacking data, reused
    s_res_t **sorted;              //  every resource in canonical order, a cache
    size_t nsorted;                //  entries in sorted
    bool dirty;                    //  resources were added or dropped since sorting
};

//  What a handler sees of the event being applied.
typedef struct {
    ab_graph_t *self;
    uint64_t seq;                //  event seq
    uint64_t ts;                 //  graph time after this event
    const char *subj;            //  event subject
    size_t subj_len;             //  bytes in subj
    const char *seg[S_SEGS_MAX]; //  subject segments (not NUL-terminated)
    size_t seglen[S_SEGS_MAX];   //  their lengths
    size_t nsegs;                //  segments in subject (may exceed S_SEGS_MAX)
    const msgpack_object *data;  //  the data map
    const uint8_t *raw;          //  data bytes
    size_t raw_size;             //  bytes in raw
    char why[512];               //  reason of a rejection
} s_ctx_t;

typedef struct {
    const char *ptr; //  not NUL-terminated
    size_t len;
} s_str_t;

//  ---------------------------------------------------------------------------
//  Small helpers

static char *
s_strndup (const char *s, size_t len)
{
    char *copy = malloc (len + 1);
    assert (copy);
    memcpy (copy, s, len);
    copy[len] = 0;
    return copy;
}

static char *
s_sdup (s_str_t s)
{
    return s.ptr ? s_strndup (s.ptr, s.len) : NULL;
}

static void
s_replace (char **slot, char *value)
{
    free (*slot);
    *slot = value;
}

static int s_reject (s_ctx_t *ctx, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

static int
s_reject (s_ctx_t *ctx, const char *fmt, ...)
{
    va_list args;
    va_start (args, fmt);
    vsnprintf (ctx->why, sizeof ctx->why, fmt, args);
    va_end (args);
    return -1;
}

static const char *
s_mp_type (const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        return "nil";
    case MSGPACK_OBJECT_BOOLEAN:
        return "a boolean";
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        return "a positive integer";
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return "a negative integer";
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return "a float";
    case MSGPACK_OBJECT_STR:
        return "a string";
    case MSGPACK_OBJECT_ARRAY:
        return "an array";
    case MSGPACK_OBJECT_MAP:
        return "a map";
    case MSGPACK_OBJECT_BIN:
        return "binary";
    case MSGPACK_OBJECT_EXT:
        return "an ext";
    }
    return "something unknown";
}

//  Value under key in a msgpack map, NULL if absent.
static const msgpack_object *
s_get (const msgpack_object *map, const char *key)
{
    size_t len = strlen (key);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == len
            && memcmp (k->via.str.ptr, key, len) == 0)
            return &map->via.map.ptr[i].val;
    }
    return NULL;
}

//  The test s_check_str makes, without a message: callers that would
//  format the field's path for the message do so only when it fails
//  (formatting it for every event was 7 % of a rebuild).
static inline bool
s_str_ok (const msgpack_object *o, size_t max)
{
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size <= max
           && !memchr (o->via.str.ptr, 0, o->via.str.size);
}

//  A string we may keep: no NUL (we store C strings), within max bytes,
//  and, for names, non-empty.
static int
s_check_str (s_ctx_t *ctx, const char *where, const msgpack_object *o, size_t max, bool name,
             s_str_t *out)
{
    if (o->type != MSGPACK_OBJECT_STR)
        return s_reject (ctx, "%s: expected a string, got %s", where, s_mp_type (o));
    if (o->via.str.size > max)
        return s_reject (ctx, "%s: longer than %zu bytes", where, max);
    if (memchr (o->via.str.ptr, 0, o->via.str.size))
        return s_reject (ctx, "%s: contains a NUL byte", where);
    if (name && (o->via.str.size == 0 || memchr (o->via.str.ptr, '/', o->via.str.size)))
        return s_reject (ctx, "%s: expected a non-empty name without '/'", where);
    out->ptr = o->via.str.ptr;
    out->len = o->via.str.size;
    return 0;
}

//  String field of map. Absent and optional leaves *out as {NULL, 0}.
static int
s_str_field (s_ctx_t *ctx, const msgpack_object *map, const char *where, const char *key,
             bool required, size_t max, s_str_t *out)
{
    out->ptr = NULL;
    out->len = 0;
    const msgpack_object *o = s_get (map, key);
    if (o && s_str_ok (o, max)) {
        out->ptr = o->via.str.ptr;
        out->len = o->via.str.size;
        return 0;
    }
    char at[160];
    snprintf (at, sizeof at, "%s.%s", where, key);
    if (!o)
        return required ? s_reject (ctx, "%s: missing (a string is required)", at) : 0;
    return s_check_str (ctx, at, o, max, false, out);
}

//  Non-negative integer field of map; absent and optional leaves *out alone.
static int
s_uint_field (s_ctx_t *ctx, const msgpack_object *map, const char *where, const char *key,
              bool required, uint64_t max, uint64_t *out)
{
    const msgpack_object *o = s_get (map, key);
    if (!o)
        return required ? s_reject (ctx, "%s.%s: missing (a non-negative integer is required)",
                                    where, key)
                        : 0;
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return s_reject (ctx, "%s.%s: expected a non-negative integer, got %s", where, key,
                         s_mp_type (o));
    if (o->via.u64 > max)
        return s_reject (ctx, "%s.%s: %" PRIu64 " is more than %" PRIu64, where, key, o->via.u64,
                         max);
    *out = o->via.u64;
    return 0;
}

//  ---------------------------------------------------------------------------
//  Resources

static s_res_t *
s_find (const ab_graph_t *self, const char *path, size_t len)
{
    return (s_res_t *)ab_pathmap_lookup (self->res, path, len);
}

static s_res_t *
s_find_c (const ab_graph_t *self, const char *path)
{
    return path ? s_find (self, path, strlen (path)) : NULL;
}

static s_res_t *
s_res_new (ab_graph_t *self, ab_graph_kind_t kind, const char *path, size_t len)
{
    s_res_t *res = calloc (1, sizeof *res);
    assert (res);
    res->kind = kind;
    res->path = s_strndup (path, len);
    res->path_len = len;
    ab_pathmap_insert (self->res, res->path, len, res);
    self->count[kind]++;
    self->dirty = true;
    return res;
}

static void
s_conns_free (s_res_t *res)
{
    for (size_t i = 0; i < res->nconns; i++) {
        free (res->conns[i].name);
        free (res->conns[i].target);
        free (res->conns[i].service);
    }
    free (res->conns);
    res->conns = NULL;
    res->nconns = 0;
}

static void
s_labels_free (s_res_t *res)
{
    for (size_t i = 0; i < res->nlabels; i++) {
        free (res->labels[i].key);
        free (res->labels[i].val);
    }
    free (res->labels);
    res->labels = NULL;
    res->nlabels = 0;
}

static void
s_res_free (s_res_t *res)
{
    free (res->path);
    free (res->reason);
    free (res->kids);
    s_labels_free (res);
    free (res->version);
    free (res->spec);
    free (res->image);
    s_conns_free (res);
    free (res->holder);
    for (size_t i = 0; i < res->nkitvers; i++) {
        free (res->kitvers[i].version);
        free (res->kitvers[i].digest);
        free (res->kitvers[i].doc);
    }
    free (res->kitvers);
    free (res);
}

static void
s_adopt (s_res_t *parent, s_res_t *kid)
{
    if (parent->nkids == parent->maxkids) {
        parent->maxkids = parent->maxkids ? parent->maxkids * 2 : 4;
        parent->kids = realloc (parent->kids, parent->maxkids * sizeof (s_res_t *));
        assert (parent->kids);
    }
    kid->parent = parent;
    kid->kid_index = parent->nkids;
    parent->kids[parent->nkids++] = kid;
}

//  Remove res and everything under it from the graph, and free them.
static void
s_drop (ab_graph_t *self, s_res_t *res)
{
    while (res->nkids)
        s_drop (self, res->kids[res->nkids - 1]);
    if (res->parent) {
        //  Swap-remove: kids are unordered, output sorts anyway.
        s_res_t *parent = res->parent;
        s_res_t *last = parent->kids[--parent->nkids];
        parent->kids[res->kid_index] = last;
        last->kid_index = res->kid_index;
    }
    void *item = ab_pathmap_remove (self->res, res->path, res->path_len);
    assert (item == res);
    self->count[res->kind]--;
    self->dirty = true;
    s_res_free (res);
}

static void
s_touch (s_ctx_t *ctx, s_res_t *res, const char *state)
{
    res->state = state;
    res->seq = ctx->seq;
    res->ts = ctx->ts;
}

//  A lease's state depends on the graph's log time.
static const char *
s_state (const ab_graph_t *self, const s_res_t *res)
{
    if (res->kind == AB_GRAPH_LEASE && res->state == S_HELD && res->expires
        && self->now > res->expires)
        return S_LAPSED;
    return res->state;
}

static bool
s_instance_live (const s_res_t *res)
{
    return res->state == S_PLACED || res->state == S_RUNNING || res->state == S_HEALTHY
           || res->state == S_UNHEALTHY || res->state == S_STOPPING;
}

//  ---------------------------------------------------------------------------
//  Subjects

//  Split ctx->subj on '/'. Empty segments are refused.
static int
s_split (s_ctx_t *ctx)
{
    const char *p = ctx->subj;
    const char *end = p + ctx->subj_len;
    ctx->nsegs = 0;
    if (ctx->subj_len == 0)
        return s_reject (ctx, "subject is empty");
    while (true) {
        const char *slash = memchr (p, '/', (size_t)(end - p));
        const char *stop = slash ? slash : end;
        if (stop == p)
            return s_reject (ctx, "subject '%s' has an empty segment", ctx->subj);
        if (ctx->nsegs < S_SEGS_MAX) {
            ctx->seg[ctx->nsegs] = p;
            ctx->seglen[ctx->nsegs] = (size_t)(stop - p);
        }
        ctx->nsegs++;
        if (!slash)
            return 0;
        p = slash + 1;
    }
}

static bool
s_seg_is (const s_ctx_t *ctx, size_t i, const char *lit)
{
    size_t len = strlen (lit);
    return i < ctx->nsegs && i < S_SEGS_MAX && ctx->seglen[i] == len
           && memcmp (ctx->seg[i], lit, len) == 0;
}

//  Subject must be "<root>/<name>", "stack/<s>/svc/<v>" or
//  "stack/<s>/svc/<v>/<n>"; form names the one expected.
static int
s_subject (s_ctx_t *ctx, const char *root, size_t nsegs, const char *form)
{
    if (s_split (ctx))
        return -1;
    bool ok = ctx->nsegs == nsegs && s_seg_is (ctx, 0, root);
    if (ok && nsegs >= 4)
        ok = s_seg_is (ctx, 2, "svc");
    if (!ok)
        return s_reject (ctx, "subject '%s' is not of the form %s", ctx->subj, form);
    return 0;
}

//  ---------------------------------------------------------------------------
//  Handlers: node.*

//  Whether node already has exactly these (checked, distinct) labels.
static bool
s_labels_same (const s_res_t *node, const msgpack_object *labels, uint32_t nlabels)
{
    if (node->nlabels != nlabels)
        return false;
    for (uint32_t i = 0; i < nlabels; i++) {
        const msgpack_object_kv *kv = &labels->via.map.ptr[i];
        bool found = false;
        for (size_t j = 0; j < node->nlabels && !found; j++) {
            const s_label_t *l = &node->labels[j];
            found = strlen (l->key) == kv->key.via.str.size
                    && memcmp (l->key, kv->key.via.str.ptr, kv->key.via.str.size) == 0;
            if (found && (strlen (l->val) != kv->val.via.str.size
                          || memcmp (l->val, kv->val.via.str.ptr, kv->val.via.str.size) != 0))
                return false;
        }
        if (!found)
            return false;
    }
    return true;
}

static int
s_node_joined (s_ctx_t *ctx)
{
    ab_graph_t *self = ctx->self;
    if (s_subject (ctx, "node", 2, "node/<node>"))
        return -1;
    const msgpack_object *cpu = s_get (ctx->data, "cpu");
    if (!cpu)
        return s_reject (ctx, "data.cpu: missing (cores, a number, is required)");
    double cores;
    if (cpu->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        cores = (double)cpu->via.u64;
    else if (cpu->type == MSGPACK_OBJECT_FLOAT32 || cpu->type == MSGPACK_OBJECT_FLOAT64)
        cores = cpu->via.f64;
    else
        return s_reject (ctx, "data.cpu: expected a non-negative number, got %s", s_mp_type (cpu));
    if (!isfinite (cores) || cores < 0)
        return s_reject (ctx, "data.cpu: expected a finite non-negative number");
    uint64_t memory = 0;
    if (s_uint_field (ctx, ctx->data, "data", "memory", true, UINT64_MAX, &memory))
        return -1;
    const msgpack_object *labels = s_get (ctx->data, "labels");
    if (labels && labels->type != MSGPACK_OBJECT_MAP)
        return s_reject (ctx, "data.labels: expected a map of strings, got %s", s_mp_type (labels));
    uint32_t nlabels = labels ? labels->via.map.size : 0;
    for (uint32_t i = 0; i < nlabels; i++) {
        s_str_t k, v;
        if (s_check_str (ctx, "data.labels key", &labels->via.map.ptr[i].key, S_NAME_MAX, false,
                         &k))
            return -1;
        if (!s_str_ok (&labels->via.map.ptr[i].val, S_TEXT_MAX)) {
            char at[S_NAME_MAX + 16];
            snprintf (at, sizeof at, "data.labels.%.*s", (int)k.len, k.ptr);
            if (s_check_str (ctx, at, &labels->via.map.ptr[i].val, S_TEXT_MAX, false, &v))
                return -1;
        }
        for (uint32_t j = 0; j < i; j++) {
            const msgpack_object *other = &labels->via.map.ptr[j].key;
            if (other->via.str.size == k.len && memcmp (other->via.str.ptr, k.ptr, k.len) == 0)
                return s_reject (ctx, "data.labels: key '%.*s' appears twice", (int)k.len, k.ptr);
        }
    }
    //  Checked; now change.
    s_res_t *node = s_find (self, ctx->subj, ctx->subj_len);
    if (!node)
        node = s_res_new (self, AB_GRAPH_NODE, ctx->subj, ctx->subj_len);
    node->cpu = cores == 0 ? 0 : cores; //  no -0 in the digest
    node->memory = memory;
    if (s_labels_same (node, labels, nlabels))
        nlabels = 0; //  a re-announce with the same labels: keep them
    else if (nlabels == 0)
        s_labels_free (node);
    if (nlabels) {
        //  Changed labels: strings of a key or value the node already has
        //  are moved over, not freed and copied again.
        s_label_t *old = node->labels;
        size_t nold = node->nlabels;
        node->labels = calloc (nlabels, sizeof (s_label_t));
        assert (node->labels);
        node->nlabels = 0;
        for (uint32_t i = 0; i < nlabels; i++) {
            const msgpack_object_kv *kv = &labels->via.map.ptr[i];
            s_str_t k = { kv->key.via.str.ptr, kv->key.via.str.size };
            s_str_t v = { kv->val.via.str.ptr, kv->val.via.str.size };
            s_label_t label = { NULL, NULL };
            for (size_t j = 0; j < nold && !label.key; j++)
                if (old[j].key && strlen (old[j].key) == k.len
                    && memcmp (old[j].key, k.ptr, k.len) == 0) {
                    label.key = old[j].key;
                    old[j].key = NULL;
                    if (strlen (old[j].val) == v.len && memcmp (old[j].val, v.ptr, v.len) == 0) {
                        label.val = old[j].val;
                        old[j].val = NULL;
                    }
                }
            if (!label.key)
                label.key = s_strndup (k.ptr, k.len);
            if (!label.val)
                label.val = s_strndup (v.ptr, v.len);
            //  Insertion sort by key: label sets are small.
            size_t at = node->nlabels;
            while (at > 0 && strcmp (node->labels[at - 1].key, label.key) > 0) {
                node->labels[at] = node->labels[at - 1];
                at--;
            }
            node->labels[at] = label;
            node->nlabels++;
        }
        for (size_t j = 0; j < nold; j++) {
            free (old[j].key);
            free (old[j].val);
        }
        free (old);
    }
    s_replace (&node->reason, NULL);
    s_touch (ctx, node, S_READY);
    return 0;
}

static int
s_node_gone (s_ctx_t *ctx, const char *state)
{
    if (s_subject (ctx, "node", 2, "node/<node>"))
        return -1;
    s_str_t reason;
    if (s_str_field (ctx, ctx->data, "data", "reason", false, S_TEXT_MAX, &reason))
        return -1;
    s_res_t *node = s_find (ctx->self, ctx->subj, ctx->subj_len);
    if (!node)
        return s_reject (ctx, "no node %s has joined", ctx->subj);
    s_replace (&node->reason, s_sdup (reason));
    s_touch (ctx, node, state);
    return 0;
}

//  ---------------------------------------------------------------------------
//  Handlers: stack.*, service.scaled

typedef struct {
    s_str_t name;                //  service name (key in spec.services)
    uint64_t replicas;           //  desired, default 1
    s_str_t image;               //  or {NULL, 0}
    const msgpack_object *conns; //  map or array, or NULL
} s_svc_spec_t;

//  One connection entry: name -> "target" | {target: "..."}; or, in a list,
//  "target" (named after itself).
static int
s_conn_parse (s_ctx_t *ctx, const char *where, const msgpack_object *conns, uint32_t i,
              s_str_t *name, s_str_t *target)
{
    char at[256];
    const msgpack_object *val;
    if (conns->type == MSGPACK_OBJECT_MAP) {
        snprintf (at, sizeof at, "%s key", where);
        if (s_check_str (ctx, at, &conns->via.map.ptr[i].key, S_NAME_MAX, true, name))
            return -1;
        val = &conns->via.map.ptr[i].val;
        snprintf (at, sizeof at, "%s.%.*s", where, (int)name->len, name->ptr);
    } else {
        val = &conns->via.array.ptr[i];
        snprintf (at, sizeof at, "%s[%u]", where, i);
    }
    if (val->type == MSGPACK_OBJECT_MAP) {
        if (s_str_field (ctx, val, at, "target", true, S_TEXT_MAX, target))
            return -1;
    } else if (s_check_str (ctx, at, val, S_TEXT_MAX, false, target))
        return -1;
    if (target->len == 0)
        return s_reject (ctx, "%s: the target is empty", at);
    if (conns->type != MSGPACK_OBJECT_MAP)
        *name = *target;
    return 0;
}

//  Resolve a connection target to a service of the same stack: by exact
//  name, else by its last '/'-segment ("shop/db" -> "db"). NULL if neither.
static char *
s_conn_resolve (ab_graph_t *self, s_res_t *stack, const char *target)
{
    const char *names[2] = { target, strrchr (target, '/') };
    if (names[1])
        names[1]++;
    for (int i = 0; i < 2; i++) {
        if (!names[i] || !*names[i] || strchr (names[i], '/'))
            continue;
        char path[AB_SUBJ_MAX + S_TEXT_MAX + 8];
        int len = snprintf (path, sizeof path, "%s/svc/%s", stack->path, names[i]);
        if (len > 0 && (size_t)len < sizeof path && s_find (self, path, (size_t)len))
            return s_strndup (path, (size_t)len);
    }
    return NULL;
}

static int
s_stack_deployed (s_ctx_t *ctx)
{
    ab_graph_t *self = ctx->self;
    if (s_subject (ctx, "stack", 2, "stack/<stack>"))
        return -1;
    const msgpack_object *spec = s_get (ctx->data, "spec");
    if (!spec)
        return s_reject (ctx, "data.spec: missing (the normalized stack spec, a map)");
    if (spec->type != MSGPACK_OBJECT_MAP)
        return s_reject (ctx, "data.spec: expected a map, got %s", s_mp_type (spec));
    //  version: in data, else in the spec; a string or an integer.
    const msgpack_object *version = s_get (ctx->data, "version");
    const char *vwhere = "data.version";
    if (!version) {
        version = s_get (spec, "version");
        vwhere = "data.spec.version";
    }
    if (!version)
        return s_reject (ctx, "data.version: missing (a string or integer is required)");
    char vbuf[32];
    s_str_t vstr;
    if (version->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        snprintf (vbuf, sizeof vbuf, "%" PRIu64, version->via.u64);
        vstr.ptr = vbuf;
        vstr.len = strlen (vbuf);
    } else if (s_check_str (ctx, vwhere, version, S_NAME_MAX, false, &vstr))
        return -1;
    if (vstr.len == 0)
        return s_reject (ctx, "%s: is empty", vwhere);

    const msgpack_object *services = s_get (spec, "services");
    if (!services)
        return s_reject (ctx, "data.spec.services: missing (a map of service name to spec)");
    if (services->type != MSGPACK_OBJECT_MAP)
        return s_reject (ctx, "data.spec.services: expected a map, got %s", s_mp_type (services));
    uint32_t nsvc = services->via.map.size;
    ab_auto_free s_svc_spec_t *svcs = calloc (nsvc ? nsvc : 1, sizeof (s_svc_spec_t));
    assert (svcs);
    for (uint32_t i = 0; i < nsvc; i++) {
        s_svc_spec_t *svc = &svcs[i];
        const msgpack_object_kv *kv = &services->via.map.ptr[i];
        if (s_check_str (ctx, "data.spec.services key", &kv->key, S_NAME_MAX, true, &svc->name))
            return -1;
        char at[S_NAME_MAX + 32];
        snprintf (at, sizeof at, "data.spec.services.%.*s", (int)svc->name.len, svc->name.ptr);
        //  Room for "/<n>" of its instances within the subject limit.
        if (ctx->subj_len + 5 + svc->name.len + 12 > AB_SUBJ_MAX)
            return s_reject (ctx, "%s: name too long for instance subjects (max %d bytes)", at,
                             AB_SUBJ_MAX);
        for (uint32_t j = 0; j < i; j++)
            if (svcs[j].name.len == svc->name.len
                && memcmp (svcs[j].name.ptr, svc->name.ptr, svc->name.len) == 0)
                return s_reject (ctx, "%s: service appears twice", at);
        if (kv->val.type != MSGPACK_OBJECT_MAP)
            return s_reject (ctx, "%s: expected a map, got %s", at, s_mp_type (&kv->val));
        svc->replicas = 1;
        if (s_uint_field (ctx, &kv->val, at, "replicas", false, S_REPLICAS_MAX, &svc->replicas))
            return -1;
        if (s_str_field (ctx, &kv->val, at, "image", false, S_TEXT_MAX, &svc->image))
            return -1;
        svc->conns = s_get (&kv->val, "connections");
        if (svc->conns && svc->conns->type == MSGPACK_OBJECT_NIL)
            svc->conns = NULL;
        if (svc->conns) {
            char cat[S_NAME_MAX + 48];
            snprintf (cat, sizeof cat, "%s.connections", at);
            if (svc->conns->type != MSGPACK_OBJECT_MAP && svc->conns->type != MSGPACK_OBJECT_ARRAY)
                return s_reject (ctx, "%s: expected a map or a list, got %s", cat,
                                 s_mp_type (svc->conns));
            uint32_t n = svc->conns->type == MSGPACK_OBJECT_MAP ? svc->conns->via.map.size
                                                                : svc->conns->via.array.size;
            for (uint32_t c = 0; c < n; c++) {
                s_str_t name, target;
                if (s_conn_parse (ctx, cat, svc->conns, c, &name, &target))
                    return -1;
            }
        }
    }
    //  Keep the spec as data: re-packed from the parsed object, which gives
    //  the same bytes for the same spec.
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    if (msgpack_pack_object (&pk, *spec) != 0) {
        msgpack_sbuffer_destroy (&sbuf);
        return s_reject (ctx, "data.spec: cannot be re-encoded");
    }

    //  Checked; now change.
    s_res_t *stack = s_find (self, ctx->subj, ctx->subj_len);
    if (!stack)
        stack = s_res_new (self, AB_GRAPH_STACK, ctx->subj, ctx->subj_len);
    s_replace (&stack->version, s_sdup (vstr));
    free (stack->spec);
    stack->spec_size = sbuf.size;
    stack->spec = (uint8_t *)msgpack_sbuffer_release (&sbuf);
    msgpack_sbuffer_destroy (&sbuf);
    s_replace (&stack->reason, NULL);
    s_touch (ctx, stack, S_DEPLOYING);

    //  Services no longer in the spec go, with their instances (the same
    //  rule as stack.removed: an instance exists while it is wanted).
    for (size_t k = stack->nkids; k-- > 0;) {
        s_res_t *svc = stack->kids[k];
        const char *name = svc->path + stack->path_len + 5; //  after "/svc/"
        bool kept = false;
        for (uint32_t i = 0; i < nsvc && !kept; i++)
            kept = svcs[i].name.len == strlen (name)
                   && memcmp (svcs[i].name.ptr, name, svcs[i].name.len) == 0;
        if (!kept)
            s_drop (self, svc);
    }
    char path[AB_SUBJ_MAX + S_NAME_MAX + 8];
    for (uint32_t i = 0; i < nsvc; i++) {
        int len = snprintf (path, sizeof path, "%s/svc/%.*s", stack->path, (int)svcs[i].name.len,
                            svcs[i].name.ptr);
        s_res_t *svc = s_find (self, path, (size_t)len);
        if (!svc) {
            svc = s_res_new (self, AB_GRAPH_SERVICE, path, (size_t)len);
            s_adopt (stack, svc);
        }
        svc->replicas = (int64_t)svcs[i].replicas;
        s_replace (&svc->image, s_sdup (svcs[i].image));
        s_touch (ctx, svc, S_ACTIVE);
    }
    //  Connections last, so that targets among this spec's services resolve.
    for (uint32_t i = 0; i < nsvc; i++) {
        int len = snprintf (path, sizeof path, "%s/svc/%.*s", stack->path, (int)svcs[i].name.len,
                            svcs[i].name.ptr);
        s_res_t *svc = s_find (self, path, (size_t)len);
        assert (svc);
        s_conns_free (svc);
        const msgpack_object *conns = svcs[i].conns;
        if (!conns)
            continue;
        uint32_t n
            = conns->type == MSGPACK_OBJECT_MAP ? conns->via.map.size : conns->via.array.size;
        svc->conns = calloc (n ? n : 1, sizeof (s_conn_t));
        assert (svc->conns);
        for (uint32_t c = 0; c < n; c++) {
            s_str_t name, target;
            int rc = s_conn_parse (ctx, "", conns, c, &name, &target);
            assert (rc == 0); //  checked above
            s_conn_t conn = { s_sdup (name), s_sdup (target), NULL };
            conn.service = s_conn_resolve (self, stack, conn.target);
            size_t at = svc->nconns;
            while (at > 0 && strcmp (svc->conns[at - 1].name, conn.name) > 0) {
                svc->conns[at] = svc->conns[at - 1];
                at--;
            }
            svc->conns[at] = conn;
            svc->nconns++;
        }
    }
    return 0;
}

static int
s_stack_removed (s_ctx_t *ctx)
{
    if (s_subject (ctx, "stack", 2, "stack/<stack>"))
        return -1;
    s_res_t *stack = s_find (ctx->self, ctx->subj, ctx->subj_len);
    if (!stack)
        return s_reject (ctx, "no stack %s was deployed", ctx->subj);
    while (stack->nkids)
        s_drop (ctx->self, stack->kids[stack->nkids - 1]);
    s_replace (&stack->reason, NULL);
    s_touch (ctx, stack, S_REMOVED);
    return 0;
}

//  stack.ready and stack.failed: an outcome for a deployed stack.
static int
s_stack_outcome (s_ctx_t *ctx, const char *state)
{
    if (s_subject (ctx, "stack", 2, "stack/<stack>"))
        return -1;
    s_str_t service = { NULL, 0 }, reason = { NULL, 0 };
    if (state == S_FAILED) {
        if (s_str_field (ctx, ctx->data, "data", "reason", true, S_TEXT_MAX, &reason)
            || s_str_field (ctx, ctx->data, "data", "service", false, S_NAME_MAX, &service))
            return -1;
    }
    s_res_t *stack = s_find (ctx->self, ctx->subj, ctx->subj_len);
    if (!stack)
        return s_reject (ctx, "no stack %s was deployed", ctx->subj);
    if (stack->state == S_REMOVED)
        return s_reject (ctx, "stack %s was removed at seq %" PRIu64, ctx->subj, stack->seq);
    char *why = NULL;
    if (reason.ptr) {
        size_t size = service.len + reason.len + 3;
        why = malloc (size);
        assert (why);
        if (service.ptr)
            snprintf (why, size, "%.*s: %.*s", (int)service.len, service.ptr, (int)reason.len,
                      reason.ptr);
        else
            snprintf (why, size, "%.*s", (int)reason.len, reason.ptr);
    }
    s_replace (&stack->reason, why);
    s_touch (ctx, stack, state);
    return 0;
}

static int
s_service_scaled (s_ctx_t *ctx)
{
    if (s_subject (ctx, "stack", 4, "stack/<stack>/svc/<service>"))
        return -1;
    uint64_t replicas = 0;
    if (s_uint_field (ctx, ctx->data, "data", "replicas", true, S_REPLICAS_MAX, &replicas))
        return -1;
    s_res_t *svc = s_find (ctx->self, ctx->subj, ctx->subj_len);
    if (!svc)
        return s_reject (ctx, "no service %s is deployed", ctx->subj);
    svc->replicas = (int64_t)replicas;
    s_touch (ctx, svc, svc->state);
    return 0;
}

//  ---------------------------------------------------------------------------
//  Handlers: instance.*

static int
s_instance_placed (s_ctx_t *ctx)
{
    ab_graph_t *self = ctx->self;
    if (s_subject (ctx, "stack", 5, "stack/<stack>/svc/<service>/<n>"))
        return -1;
    s_str_t node_name;
    if (s_str_field (ctx, ctx->data, "data", "node", true, S_NAME_MAX + 5, &node_name))
        return -1;
    //  Accept "n1" or "node/n1".
    char node_path[S_NAME_MAX + 16];
    int nlen;
    if (node_name.len > 5 && memcmp (node_name.ptr, "node/", 5) == 0)
        nlen = snprintf (node_path, sizeof node_path, "%.*s", (int)node_name.len, node_name.ptr);
    else
        nlen = snprintf (node_path, sizeof node_path, "node/%.*s", (int)node_name.len,
                         node_name.ptr);
    if (node_name.len == 0 || memchr (node_path + 5, '/', (size_t)nlen - 5))
        return s_reject (ctx, "data.node: '%.*s' is not a node name", (int)node_name.len,
                         node_name.ptr);
    s_res_t *node = s_find (self, node_path, (size_t)nlen);
    if (!node)
        return s_reject (ctx, "data.node: no node %s has joined", node_path);
    size_t svc_len = (size_t)(ctx->seg[4] - ctx->subj) - 1;
    s_res_t *svc = s_find (self, ctx->subj, svc_len);
    if (!svc)
        return s_reject (ctx, "no service %.*s is deployed", (int)svc_len, ctx->subj);
    s_res_t *inst = s_find (self, ctx->subj, ctx->subj_len);
    if (inst && s_instance_live (inst))
        return s_reject (ctx, "instance is already placed on %s (%s)", inst->node->path,
                         inst->state);
    //  Checked; now change. A finished instance is placed afresh.
    if (!inst) {
        inst = s_res_new (self, AB_GRAPH_INSTANCE, ctx->subj, ctx->subj_len);
        s_adopt (svc, inst);
    }
    inst->node = node;
    inst->has_exit = false;
    inst->exit_code = 0;
    inst->restarts = 0;
    s_replace (&inst->reason, NULL);
    s_touch (ctx, inst, S_PLACED);
    return 0;
}

//  Every other instance event: the instance must have been placed.
static int
s_instance_event (s_ctx_t *ctx, ab_evtype_t type)
{
    if (s_subject (ctx, "stack", 5, "stack/<stack>/svc/<service>/<n>"))
        return -1;
    int64_t code = 0;
    s_str_t reason = { NULL, 0 };
    if (type == AB_EV_INSTANCE_EXITED) {
        const msgpack_object *o = s_get (ctx->data, "code");
        if (!o)
            return s_reject (ctx, "data.code: missing (the exit code, an integer, is required)");
        if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX)
            code = (int64_t)o->via.u64;
        else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
            code = o->via.i64;
        else
            return s_reject (ctx, "data.code: expected an integer, got %s", s_mp_type (o));
    }
    if (s_str_field (ctx, ctx->data, "data", "reason", type == AB_EV_INSTANCE_FAILED, S_TEXT_MAX,
                     &reason))
        return -1;
    s_res_t *inst = s_find (ctx->self, ctx->subj, ctx->subj_len);
    if (!inst)
        return s_reject (ctx, "no instance %s was placed", ctx->subj);
    const char *state = NULL;
    switch (type) {
    case AB_EV_INSTANCE_STARTED:
        state = S_RUNNING;
        break;
    case AB_EV_INSTANCE_HEALTHY:
        state = S_HEALTHY;
        break;
    case AB_EV_INSTANCE_UNHEALTHY:
        state = S_UNHEALTHY;
        break;
    case AB_EV_INSTANCE_EXITED:
        state = S_EXITED;
        break;
    case AB_EV_INSTANCE_RESTARTED:
        state = S_RUNNING;
        break;
    case AB_EV_INSTANCE_FAILED:
        state = S_FAILED;
        break;
    case AB_EV_INSTANCE_STOP_REQUESTED:
        state = S_STOPPING;
        break;
    case AB_EV_INSTANCE_STOPPED:
        state = S_STOPPED;
        break;
    case AB_EV_INSTANCE_LOST:
        state = S_LOST;
        break;
    default:
        assert (false);
    }
    if (type == AB_EV_INSTANCE_EXITED) {
        inst->exit_code = code;
        inst->has_exit = true;
    }
    if (type == AB_EV_INSTANCE_RESTARTED)
        inst->restarts++;
    //  Any event that reports a reason replaces the last one; a started or
    //  healthy instance has no failure to explain any more.
    if (reason.ptr || state == S_RUNNING || state == S_HEALTHY)
        s_replace (&inst->reason, s_sdup (reason));
    s_touch (ctx, inst, state);
    return 0;
}

//  ---------------------------------------------------------------------------
//  Handlers: lease.*

static int
s_lease_event (s_ctx_t *ctx, ab_evtype_t type)
{
    ab_graph_t *self = ctx->self;
    if (s_split (ctx))
        return -1;
    if (ctx->nsegs < 2 || !s_seg_is (ctx, 0, "lease"))
        return s_reject (ctx, "subject '%s' is not of the form lease/<name>", ctx->subj);
    s_str_t holder;
    uint64_t ttl_ms = 0;
    bool has_ttl = s_get (ctx->data, "ttl_ms") != NULL;
    if (s_str_field (ctx, ctx->data, "data", "holder", true, S_NAME_MAX, &holder)
        || s_uint_field (ctx, ctx->data, "data", "ttl_ms", false, UINT64_MAX / 2000000, &ttl_ms))
        return -1;
    if (holder.len == 0)
        return s_reject (ctx, "data.holder: is empty");
    s_res_t *lease = s_find (self, ctx->subj, ctx->subj_len);
    const char *state = lease ? s_state (self, lease) : NULL;
    bool mine = lease && strlen (lease->holder) == holder.len
                && memcmp (lease->holder, holder.ptr, holder.len) == 0;
    //  ctx->ts is already the graph's time, so s_state judged at this event.
    if (type == AB_EV_LEASE_ACQUIRED) {
        if (state == S_HELD && !mine)
            return s_reject (ctx, "lease is held by %s until ts %" PRIu64, lease->holder,
                             lease->expires);
        if (!lease)
            lease = s_res_new (self, AB_GRAPH_LEASE, ctx->subj, ctx->subj_len);
        if (!mine) //  same holder: keep the string
            s_replace (&lease->holder, s_sdup (holder));
        lease->ttl_ms = ttl_ms;
    } else if (type == AB_EV_LEASE_RENEWED) {
        if (!lease)
            return s_reject (ctx, "no lease %s was acquired", ctx->subj);
        if (!mine)
            return s_reject (ctx, "lease is %s by %s, not %.*s", state, lease->holder,
                             (int)holder.len, holder.ptr);
        if (state != S_HELD)
            return s_reject (ctx, "lease is %s; acquire it again", state);
        if (has_ttl)
            lease->ttl_ms = ttl_ms;
    } else {
        if (!lease)
            return s_reject (ctx, "no lease %s was acquired", ctx->subj);
        if (!mine)
            return s_reject (ctx, "lease is %s by %s, not %.*s", state, lease->holder,
                             (int)holder.len, holder.ptr);
        s_touch (ctx, lease, S_RELEASED);
        return 0;
    }
    lease->acquired = ctx->ts;
    lease->expires = lease->ttl_ms ? ctx->ts + lease->ttl_ms * 1000000 : 0;
    s_touch (ctx, lease, S_HELD);
    return 0;
}

//  ---------------------------------------------------------------------------
//  Handlers: note.added, kit.published, secret.*

static int
s_note_added (s_ctx_t *ctx)
{
    ab_graph_t *self = ctx->self;
    if (s_split (ctx))
        return -1;
    s_notes_t *notes = ab_pathmap_lookup (self->notes, ctx->subj, ctx->subj_len);
    if (!notes) {
        notes = calloc (1, sizeof *notes);
        assert (notes);
        notes->path = s_strndup (ctx->subj, ctx->subj_len);
        notes->path_len = ctx->subj_len;
        ab_pathmap_insert (self->notes, notes->path, notes->path_len, notes);
    }
    if (notes->count == notes->max) {
        notes->max = notes->max ? notes->max * 2 : 2;
        notes->notes = realloc (notes->notes, notes->max * sizeof (s_note_t *));
        assert (notes->notes);
    }
    s_note_t *note = malloc (sizeof *note + ctx->raw_size);
    assert (note);
    note->seq = ctx->seq;
    note->ts = ctx->ts;
    note->size = ctx->raw_size;
    memcpy (note->data, ctx->raw, ctx->raw_size);
    notes->notes[notes->count++] = note;
    return 0;
}

//  data.name, if given, must name the subject (either "ns/name" or "name").
static int
s_name_matches (s_ctx_t *ctx, size_t first_seg)
{
    s_str_t name;
    if (s_str_field (ctx, ctx->data, "data", "name", false, AB_SUBJ_MAX, &name))
        return -1;
    if (!name.ptr)
        return 0;
    const char *full = ctx->seg[first_seg];
    size_t full_len = ctx->subj_len - (size_t)(full - ctx->subj);
    const char *last = ctx->seg[ctx->nsegs - 1];
    size_t last_len = ctx->seglen[ctx->nsegs - 1];
    if ((name.len == full_len && memcmp (name.ptr, full, full_len) == 0)
        || (name.len == last_len && memcmp (name.ptr, last, last_len) == 0))
        return 0;
    return s_reject (ctx, "data.name: '%.*s' does not match subject %s", (int)name.len, name.ptr,
                     ctx->subj);
}

static int
s_kit_published (s_ctx_t *ctx)
{
    if (s_subject (ctx, "kit", 3, "kit/<namespace>/<name>") || s_name_matches (ctx, 1))
        return -1;
    s_str_t version, digest;
    if (s_str_field (ctx, ctx->data, "data", "version", true, S_NAME_MAX, &version)
        || s_str_field (ctx, ctx->data, "data", "digest", true, S_NAME_MAX, &digest))
        return -1;
    if (version.len == 0 || digest.len == 0)
        return s_reject (ctx, "data.%s: is empty", version.len ? "digest" : "version");
    s_res_t *kit = s_find (ctx->self, ctx->subj, ctx->subj_len);
    for (size_t i = 0; kit && i < kit->nkitvers; i++) {
        s_kitver_t *kv = &kit->kitvers[i];
        if (strlen (kv->version) != version.len || memcmp (kv->version, version.ptr, version.len))
            continue;
        if (strlen (kv->digest) == digest.len && memcmp (kv->digest, digest.ptr, digest.len) == 0)
            return 0; //  the same content again: a no-op
        return s_reject (ctx,
                         "version %.*s was published at seq %" PRIu64
                         " with digest %s; a published version never changes",
                         (int)version.len, version.ptr, kv->seq, kv->digest);
    }
    const msgpack_object *doc = s_get (ctx->data, "document");
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    if (doc) {
        msgpack_packer pk;
        msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
        if (msgpack_pack_object (&pk, *doc) != 0) {
            msgpack_sbuffer_destroy (&sbuf);
            return s_reject (ctx, "data.document: cannot be re-encoded");
        }
    }
    if (!kit)
        kit = s_res_new (ctx->self, AB_GRAPH_KIT, ctx->subj, ctx->subj_len);
    kit->kitvers = realloc (kit->kitvers, (kit->nkitvers + 1) * sizeof (s_kitver_t));
    assert (kit->kitvers);
    s_kitver_t *kv = &kit->kitvers[kit->nkitvers++];
    kv->version = s_sdup (version);
    kv->digest = s_sdup (digest);
    kv->seq = ctx->seq;
    kv->doc_size = sbuf.size;
    kv->doc = sbuf.size ? (uint8_t *)msgpack_sbuffer_release (&sbuf) : NULL;
    msgpack_sbuffer_destroy (&sbuf);
    s_touch (ctx, kit, S_PUBLISHED);
    return 0;
}

static int
s_secret_event (s_ctx_t *ctx, ab_evtype_t type)
{
    if (s_subject (ctx, "secret", 2, "secret/<name>") || s_name_matches (ctx, 1))
        return -1;
    s_res_t *secret = s_find (ctx->self, ctx->subj, ctx->subj_len);
    if (type == AB_EV_SECRET_REMOVED) {
        if (!secret)
            return s_reject (ctx, "no secret %s is set", ctx->subj);
        s_drop (ctx->self, secret);
        return 0;
    }
    const msgpack_object *ct = s_get (ctx->data, "ciphertext");
    if (!ct)
        return s_reject (ctx, "data.ciphertext: missing (the sealed value is required)");
    const char *bytes;
    size_t size;
    if (ct->type == MSGPACK_OBJECT_BIN) {
        bytes = ct->via.bin.ptr;
        size = ct->via.bin.size;
    } else if (ct->type == MSGPACK_OBJECT_STR) {
        bytes = ct->via.str.ptr;
        size = ct->via.str.size;
    } else
        return s_reject (ctx, "data.ciphertext: expected binary or a string, got %s",
                         s_mp_type (ct));
    if (size == 0)
        return s_reject (ctx, "data.ciphertext: is empty");
    if (!secret)
        secret = s_res_new (ctx->self, AB_GRAPH_SECRET, ctx->subj, ctx->subj_len);
    //  Keep a digest, not the ciphertext: the graph stays small and the
    //  dump can say "which value" without carrying it.
    crypto_generichash (secret->digest, sizeof secret->digest, (const unsigned char *)bytes, size,
                        NULL, 0);
    secret->size = size;
    secret->generation++;
    s_touch (ctx, secret, S_SET);
    return 0;
}

//  ---------------------------------------------------------------------------
//  The graph

ab_graph_t *
ab_graph_new (void)
{
    ab_graph_t *self = calloc (1, sizeof *self);
    assert (self);
    self->res = ab_pathmap_new ();
    self->notes = ab_pathmap_new ();
    self->types = ab_pathmap_new ();
    //  Our own type table: ab_catalog_type scans linearly, and this is
    //  looked up once per event in a rebuild.
    for (int t = 1; t < AB_EV__COUNT; t++) {
        const char *name = ab_catalog_name ((ab_evtype_t)t);
        ab_pathmap_insert (self->types, name, strlen (name), (void *)(intptr_t)t);
    }
    bool ok = msgpack_zone_init (&self->zone, 4096);
    assert (ok);
    if (sodium_init () < 0)
        assert (false);
    return self;
}

static void
s_notes_free (s_notes_t *notes)
{
    for (size_t i = 0; i < notes->count; i++)
        free (notes->notes[i]);
    free (notes->notes);
    free (notes->path);
    free (notes);
}

void
ab_graph_destroy (ab_graph_t **self_p)
{
    assert (self_p);
    ab_graph_t *self = *self_p;
    if (!self)
        return;
    size_t cursor = 0;
    s_res_t *res;
    while ((res = ab_pathmap_next (self->res, &cursor)))
        s_res_free (res);
    cursor = 0;
    s_notes_t *notes;
    while ((notes = ab_pathmap_next (self->notes, &cursor)))
        s_notes_free (notes);
    ab_pathmap_destroy (&self->res);
    ab_pathmap_destroy (&self->notes);
    ab_pathmap_destroy (&self->types);
    for (int i = 0; i < S_RING; i++)
        free (self->ring[i]);
    msgpack_zone_destroy (&self->zone);
    free (self->sorted);
    free (self);
    *self_p = NULL;
}

int
ab_graph_apply (ab_graph_t *self, const ab_event_t *event, ab_error_t **err)
{
    assert (self);
    assert (event);
    uint64_t seq = ab_event_seq (event);
    const char *type = ab_event_type (event);
    const char *subj = ab_event_subj (event);
    if (seq <= self->seq)
        return ab_error_set (err, AB_E_INVALID,
                             "graph: event seq %" PRIu64
                             " (%s %s) is not after the graph's seq %" PRIu64,
                             seq, type, subj, self->seq);
    //  The event is consumed whatever happens next.
    self->seq = seq;
    uint64_t ts = ab_event_ts (event);
    if (ts > self->now)
        self->now = ts; //  log time never runs backwards in the graph

    ab_evtype_t evtype
        = (ab_evtype_t)(intptr_t)ab_pathmap_lookup (self->types, type, strlen (type));
    s_ctx_t ctx;
    ctx.self = self;
    ctx.seq = seq;
    ctx.ts = self->now;
    ctx.subj = subj;
    ctx.subj_len = strlen (subj);
    ctx.nsegs = 0;
    ctx.why[0] = 0;
    ctx.raw = ab_event_data (event, &ctx.raw_size);
    static const uint8_t empty_map[] = { 0x80 };
    if (!ctx.raw || ctx.raw_size == 0) {
        ctx.raw = empty_map;
        ctx.raw_size = sizeof empty_map;
    }
    msgpack_object data;
    int rc = -1;
    if (evtype != AB_EV_UNKNOWN) {
        size_t off = 0;
        msgpack_zone_clear (&self->zone);
        msgpack_unpack_return urc
            = msgpack_unpack ((const char *)ctx.raw, ctx.raw_size, &off, &self->zone, &data);
        ctx.data = &data;
        if (urc != MSGPACK_UNPACK_SUCCESS || off != ctx.raw_size)
            s_reject (&ctx, "data: malformed msgpack");
        else if (data.type != MSGPACK_OBJECT_MAP)
            s_reject (&ctx, "data: expected a map, got %s", s_mp_type (&data));
    }
    if (ctx.why[0] == 0) {
        switch (evtype) {
        case AB_EV_NODE_JOINED:
            rc = s_node_joined (&ctx);
            break;
        case AB_EV_NODE_LEFT:
            rc = s_node_gone (&ctx, S_LEFT);
            break;
        case AB_EV_NODE_LOST:
            rc = s_node_gone (&ctx, S_LOST);
            break;
        case AB_EV_STACK_DEPLOYED:
            rc = s_stack_deployed (&ctx);
            break;
        case AB_EV_STACK_REMOVED:
            rc = s_stack_removed (&ctx);
            break;
        case AB_EV_STACK_READY:
            rc = s_stack_outcome (&ctx, S_READY);
            break;
        case AB_EV_STACK_FAILED:
            rc = s_stack_outcome (&ctx, S_FAILED);
            break;
        case AB_EV_SERVICE_SCALED:
            rc = s_service_scaled (&ctx);
            break;
        case AB_EV_INSTANCE_PLACED:
            rc = s_instance_placed (&ctx);
            break;
        case AB_EV_INSTANCE_STARTED:
        case AB_EV_INSTANCE_HEALTHY:
        case AB_EV_INSTANCE_UNHEALTHY:
        case AB_EV_INSTANCE_EXITED:
        case AB_EV_INSTANCE_RESTARTED:
        case AB_EV_INSTANCE_FAILED:
        case AB_EV_INSTANCE_STOP_REQUESTED:
        case AB_EV_INSTANCE_STOPPED:
        case AB_EV_INSTANCE_LOST:
            rc = s_instance_event (&ctx, evtype);
            break;
        case AB_EV_LEASE_ACQUIRED:
        case AB_EV_LEASE_RENEWED:
        case AB_EV_LEASE_RELEASED:
            rc = s_lease_event (&ctx, evtype);
            break;
        case AB_EV_NOTE_ADDED:
            rc = s_note_added (&ctx);
            break;
        case AB_EV_KIT_PUBLISHED:
            rc = s_kit_published (&ctx);
            break;
        case AB_EV_SECRET_SET:
        case AB_EV_SECRET_REMOVED:
            rc = s_secret_event (&ctx, evtype);
            break;
        case AB_EV_UNKNOWN:
        case AB_EV__COUNT:
            //  A type newer than this build: skip and count (STYLE 9).
            self->unknown++;
            return 1;
        }
    }
    if (rc == 0) {
        self->applied++;
        return 0;
    }
    self->rejected++;
    char msg[768];
    snprintf (msg, sizeof msg, "seq %" PRIu64 " %s %s: %s", seq, type, subj, ctx.why);
    s_replace (&self->ring[self->ring_next], strdup (msg));
    self->ring_next = (self->ring_next + 1) % S_RING;
    self->ring_count++;
    return ab_error_set (err, AB_E_INVALID, "graph: %s", msg);
}

uint64_t
ab_graph_seq (const ab_graph_t *self)
{
    assert (self);
    return self->seq;
}

uint64_t
ab_graph_ts (const ab_graph_t *self)
{
    assert (self);
    return self->now;
}

void
ab_graph_stats (const ab_graph_t *self, uint64_t *applied, uint64_t *unknown, uint64_t *rejected)
{
    assert (self);
    if (applied)
        *applied = self->applied;
    if (unknown)
        *unknown = self->unknown;
    if (rejected)
        *rejected = self->rejected;
}

const char *
ab_graph_last_rejection (const ab_graph_t *self)
{
    assert (self);
    const char *last = self->ring[(self->ring_next + S_RING - 1) % S_RING];
    return last ? last : "";
}

size_t
ab_graph_count (const ab_graph_t *self, ab_graph_kind_t kind)
{
    assert (self);
    return kind > AB_GRAPH_NONE && kind < AB_GRAPH__COUNT ? self->count[kind] : 0;
}

ab_graph_kind_t
ab_graph_kind (const ab_graph_t *self, const char *path)
{
    assert (self);
    s_res_t *res = s_find_c (self, path);
    return res ? res->kind : AB_GRAPH_NONE;
}

const char *
ab_graph_state (const ab_graph_t *self, const char *path)
{
    assert (self);
    s_res_t *res = s_find_c (self, path);
    return res ? s_state (self, res) : NULL;
}

const char *
ab_graph_reason (const ab_graph_t *self, const char *path)
{
    assert (self);
    s_res_t *res = s_find_c (self, path);
    return res ? res->reason : NULL;
}

int64_t
ab_graph_replicas (const ab_graph_t *self, const char *path)
{
    assert (self);
    s_res_t *res = s_find_c (self, path);
    return res && res->kind == AB_GRAPH_SERVICE ? res->replicas : -1;
}

const char *
ab_graph_instance_node (const ab_graph_t *self, const char *path)
{
    assert (self);
    s_res_t *res = s_find_c (self, path);
    return res && res->kind == AB_GRAPH_INSTANCE ? res->node->path : NULL;
}

const char *
ab_graph_lease_holder (const ab_graph_t *self, const char *path)
{
    assert (self);
    s_res_t *res = s_find_c (self, path);
    return res && res->kind == AB_GRAPH_LEASE && s_state (self, res) == S_HELD ? res->holder : NULL;
}

size_t
ab_graph_notes (const ab_graph_t *self, const char *path)
{
    assert (self);
    s_notes_t *notes = path ? ab_pathmap_lookup (self->notes, path, strlen (path)) : NULL;
    return notes ? notes->count : 0;
}

const uint8_t *
ab_graph_stack_spec (const ab_graph_t *self, const char *path, size_t *size)
{
    assert (self);
    assert (size);
    s_res_t *res = s_find_c (self, path);
    if (!res || res->kind != AB_GRAPH_STACK) {
        *size = 0;
        return NULL;
    }
    *size = res->spec_size;
    return res->spec;
}

size_t
ab_graph_kit_versions (const ab_graph_t *self, const char *path)
{
    assert (self);
    s_res_t *res = s_find_c (self, path);
    return res && res->kind == AB_GRAPH_KIT ? res->nkitvers : 0;
}

int
ab_graph_kit_version (const ab_graph_t *self, const char *path, size_t index,
                      ab_graph_kitver_t *out)
{
    assert (self);
    assert (out);
    s_res_t *res = s_find_c (self, path);
    if (!res || res->kind != AB_GRAPH_KIT || index >= res->nkitvers)
        return -1;
    const s_kitver_t *kv = &res->kitvers[index];
    out->version = kv->version;
    out->digest = kv->digest;
    out->seq = kv->seq;
    out->document = kv->doc;
    out->document_size = kv->doc_size;
    return 0;
}

const char *
ab_graph_kind_name (ab_graph_kind_t kind)
{
    return kind > AB_GRAPH_NONE && kind < AB_GRAPH__COUNT ? s_kind_names[kind][0] : NULL;
}

const char *
ab_graph_kind_plural (ab_graph_kind_t kind)
{
    return kind > AB_GRAPH_NONE && kind < AB_GRAPH__COUNT ? s_kind_names[kind][1] : NULL;
}

//  ---------------------------------------------------------------------------
//  Canonical walks

static int
s_res_cmp (const void *a, const void *b)
{
    const s_res_t *x = *(const s_res_t *const *)a;
    const s_res_t *y = *(const s_res_t *const *)b;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    return strcmp (x->path, y->path);
}

static int
s_notes_cmp (const void *a, const void *b)
{
    const s_notes_t *x = *(const s_notes_t *const *)a;
    const s_notes_t *y = *(const s_notes_t *const *)b;
    return strcmp (x->path, y->path);
}

//  Every item of map, sorted with cmp. Caller frees the array.
static void **
s_sorted (const ab_pathmap_t *map, int (*cmp) (const void *, const void *), size_t *count)
{
    size_t n = ab_pathmap_size (map);
    void **items = malloc ((n ? n : 1) * sizeof (void *));
    assert (items);
    size_t cursor = 0, i = 0;
    void *item;
    while ((item = ab_pathmap_next (map, &cursor)))
        items[i++] = item;
    assert (i == n);
    qsort (items, n, sizeof (void *), cmp);
    *count = n;
    return items;
}

//  A resource's kids in canonical order. Caller frees the array.
static s_res_t **
s_kids_sorted (const s_res_t *r)
{
    s_res_t **kids = malloc ((r->nkids ? r->nkids : 1) * sizeof (s_res_t *));
    assert (kids);
    if (r->nkids)
        memcpy (kids, r->kids, r->nkids * sizeof (s_res_t *));
    qsort (kids, r->nkids, sizeof (s_res_t *), s_res_cmp);
    return kids;
}

//  Every resource in canonical order, borrowed until the next apply. Sorted
//  again only after resources were added or dropped: readers such as the
//  scheduler walk the graph many times between changes. The cache is not
//  part of the graph's value, so refreshing it from a const graph is fine.
static s_res_t *const *
s_resources (const ab_graph_t *self, size_t *count)
{
    ab_graph_t *mutable_self = (ab_graph_t *)self;
    if (self->dirty || !self->sorted) {
        free (mutable_self->sorted);
        mutable_self->sorted = (s_res_t **)s_sorted (self->res, s_res_cmp, &mutable_self->nsorted);
        mutable_self->dirty = false;
    }
    *count = self->nsorted;
    return self->sorted;
}

size_t
ab_graph_each (const ab_graph_t *self, ab_graph_kind_t kind, const char *prefix, ab_graph_fn *fn,
               void *arg)
{
    assert (self);
    assert (fn);
    size_t n, visited = 0;
    s_res_t *const *all = s_resources (self, &n);
    if (!prefix)
        prefix = "";
    size_t plen = strlen (prefix);
    //  Binary search for the first (kind, path >= prefix); matches follow
    //  in one run, since paths with a common prefix sort together.
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (all[mid]->kind < kind
            || (all[mid]->kind == kind && strcmp (all[mid]->path, prefix) < 0))
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < n && all[i]->kind == kind; i++) {
        if (strncmp (all[i]->path, prefix, plen) != 0)
            break;
        visited++;
        if (fn (all[i]->path, arg))
            break;
    }
    return visited;
}

//  Digest writers: every field length-prefixed (or fixed width), and NULL
//  distinct from "", so that no two different graphs walk to the same bytes.
static void
s_dig_u64 (crypto_generichash_state *st, uint64_t v)
{
    uint8_t le[8];
    for (int i = 0; i < 8; i++)
        le[i] = (uint8_t)(v >> (8 * i));
    crypto_generichash_update (st, le, 8);
}

static void
s_dig_bytes (crypto_generichash_state *st, const void *p, size_t len)
{
    s_dig_u64 (st, len);
    if (len)
        crypto_generichash_update (st, p, len);
}

static void
s_dig_str (crypto_generichash_state *st, const char *s)
{
    if (s)
        s_dig_bytes (st, s, strlen (s));
    else
        s_dig_u64 (st, UINT64_MAX);
}

void
ab_graph_digest (const ab_graph_t *self, uint8_t out[32])
{
    assert (self);
    crypto_generichash_state st;
    crypto_generichash_init (&st, NULL, 0, 32);
    s_dig_str (&st, "abbey-graph-v1");
    size_t n;
    s_res_t *const *all = s_resources (self, &n);
    s_dig_u64 (&st, n);
    for (size_t i = 0; i < n; i++) {
        const s_res_t *r = all[i];
        s_dig_u64 (&st, (uint64_t)r->kind);
        s_dig_str (&st, r->path);
        s_dig_str (&st, s_state (self, r));
        s_dig_str (&st, r->reason);
        s_dig_u64 (&st, r->seq);
        s_dig_u64 (&st, r->ts);
        switch (r->kind) {
        case AB_GRAPH_NODE: {
            uint64_t bits;
            memcpy (&bits, &r->cpu, sizeof bits);
            s_dig_u64 (&st, bits);
            s_dig_u64 (&st, r->memory);
            s_dig_u64 (&st, r->nlabels);
            for (size_t l = 0; l < r->nlabels; l++) {
                s_dig_str (&st, r->labels[l].key);
                s_dig_str (&st, r->labels[l].val);
            }
            break;
        }
        case AB_GRAPH_STACK:
            s_dig_str (&st, r->version);
            s_dig_bytes (&st, r->spec, r->spec_size);
            break;
        case AB_GRAPH_SERVICE:
            s_dig_u64 (&st, (uint64_t)r->replicas);
            s_dig_str (&st, r->image);
            s_dig_u64 (&st, r->nconns);
            for (size_t c = 0; c < r->nconns; c++) {
                s_dig_str (&st, r->conns[c].name);
                s_dig_str (&st, r->conns[c].target);
                s_dig_str (&st, r->conns[c].service);
            }
            break;
        case AB_GRAPH_INSTANCE:
            s_dig_str (&st, r->node->path);
            s_dig_u64 (&st, r->has_exit);
            s_dig_u64 (&st, (uint64_t)r->exit_code);
            s_dig_u64 (&st, r->restarts);
            break;
        case AB_GRAPH_LEASE:
            s_dig_str (&st, r->holder);
            s_dig_u64 (&st, r->ttl_ms);
            s_dig_u64 (&st, r->acquired);
            s_dig_u64 (&st, r->expires);
            break;
        case AB_GRAPH_SECRET:
            s_dig_u64 (&st, r->generation);
            s_dig_bytes (&st, r->digest, sizeof r->digest);
            s_dig_u64 (&st, r->size);
            break;
        case AB_GRAPH_KIT:
            s_dig_u64 (&st, r->nkitvers);
            for (size_t k = 0; k < r->nkitvers; k++) {
                s_dig_str (&st, r->kitvers[k].version);
                s_dig_str (&st, r->kitvers[k].digest);
                s_dig_u64 (&st, r->kitvers[k].seq);
                s_dig_bytes (&st, r->kitvers[k].doc, r->kitvers[k].doc_size);
            }
            break;
        default:
            break;
        }
    }
    ab_auto_free s_notes_t **notes = (s_notes_t **)s_sorted (self->notes, s_notes_cmp, &n);
    s_dig_u64 (&st, n);
    for (size_t i = 0; i < n; i++) {
        s_dig_str (&st, notes[i]->path);
        s_dig_u64 (&st, notes[i]->count);
        for (size_t k = 0; k < notes[i]->count; k++) {
            const s_note_t *note = notes[i]->notes[k];
            s_dig_u64 (&st, note->seq);
            s_dig_u64 (&st, note->ts);
            s_dig_bytes (&st, note->data, note->size);
        }
    }
    crypto_generichash_final (&st, out, 32);
}

//  ---------------------------------------------------------------------------
//  JSON and print

static json_t *
s_mp_json (const uint8_t *mp, size_t size)
{
    json_t *json = mp ? ab_msgpack_to_json (mp, size, NULL) : NULL;
    return json ? json : json_null ();
}

static json_t *
s_hex_json (const uint8_t *bytes, size_t len)
{
    char hex[2 * 64 + 1];
    assert (len <= 64);
    sodium_bin2hex (hex, sizeof hex, bytes, len);
    return json_string (hex);
}

static void
s_set_str (json_t *obj, const char *key, const char *value)
{
    json_object_set_new (obj, key, value ? json_string (value) : json_null ());
}

static json_t *
s_res_json (const ab_graph_t *self, const s_res_t *r)
{
    json_t *obj = json_object ();
    s_set_str (obj, "state", s_state (self, r));
    if (r->reason)
        s_set_str (obj, "reason", r->reason);
    json_object_set_new (obj, "seq", json_integer ((json_int_t)r->seq));
    json_object_set_new (obj, "ts", json_integer ((json_int_t)r->ts));
    switch (r->kind) {
    case AB_GRAPH_NODE: {
        json_object_set_new (obj, "cpu", json_real (r->cpu));
        json_object_set_new (obj, "memory", json_integer ((json_int_t)r->memory));
        json_t *labels = json_object ();
        for (size_t l = 0; l < r->nlabels; l++)
            s_set_str (labels, r->labels[l].key, r->labels[l].val);
        json_object_set_new (obj, "labels", labels);
        json_object_set_new (obj, "instances", json_array ()); //  filled by the caller
        break;
    }
    case AB_GRAPH_STACK: {
        s_set_str (obj, "version", r->version);
        json_t *services = json_array ();
        ab_auto_free s_res_t **kids = s_kids_sorted (r);
        for (size_t k = 0; k < r->nkids; k++)
            json_array_append_new (services, json_string (kids[k]->path));
        json_object_set_new (obj, "services", services);
        json_object_set_new (obj, "spec", s_mp_json (r->spec, r->spec_size));
        break;
    }
    case AB_GRAPH_SERVICE: {
        s_set_str (obj, "stack", r->parent->path);
        json_object_set_new (obj, "replicas", json_integer (r->replicas));
        s_set_str (obj, "image", r->image);
        json_t *conns = json_array ();
        for (size_t c = 0; c < r->nconns; c++) {
            json_t *conn = json_object ();
            s_set_str (conn, "name", r->conns[c].name);
            s_set_str (conn, "target", r->conns[c].target);
            s_set_str (conn, "service", r->conns[c].service);
            json_array_append_new (conns, conn);
        }
        json_object_set_new (obj, "connections", conns);
        size_t running = 0;
        for (size_t k = 0; k < r->nkids; k++)
            running += r->kids[k]->state == S_RUNNING || r->kids[k]->state == S_HEALTHY;
        json_object_set_new (obj, "instances", json_integer ((json_int_t)r->nkids));
        json_object_set_new (obj, "running", json_integer ((json_int_t)running));
        break;
    }
    case AB_GRAPH_INSTANCE:
        s_set_str (obj, "service", r->parent->path);
        s_set_str (obj, "node", r->node->path);
        json_object_set_new (obj, "restarts", json_integer ((json_int_t)r->restarts));
        if (r->has_exit)
            json_object_set_new (obj, "exit_code", json_integer (r->exit_code));
        break;
    case AB_GRAPH_LEASE:
        s_set_str (obj, "holder", r->holder);
        json_object_set_new (obj, "ttl_ms", json_integer ((json_int_t)r->ttl_ms));
        json_object_set_new (obj, "acquired", json_integer ((json_int_t)r->acquired));
        json_object_set_new (obj, "expires",
                             r->expires ? json_integer ((json_int_t)r->expires) : json_null ());
        break;
    case AB_GRAPH_SECRET:
        json_object_set_new (obj, "version", json_integer ((json_int_t)r->generation));
        json_object_set_new (obj, "digest", s_hex_json (r->digest, sizeof r->digest));
        json_object_set_new (obj, "size", json_integer ((json_int_t)r->size));
        break;
    case AB_GRAPH_KIT: {
        const s_kitver_t *latest = &r->kitvers[r->nkitvers - 1];
        s_set_str (obj, "version", latest->version);
        s_set_str (obj, "digest", latest->digest);
        json_t *versions = json_array ();
        for (size_t k = 0; k < r->nkitvers; k++) {
            json_t *v = json_object ();
            s_set_str (v, "version", r->kitvers[k].version);
            s_set_str (v, "digest", r->kitvers[k].digest);
            json_object_set_new (v, "seq", json_integer ((json_int_t)r->kitvers[k].seq));
            json_array_append_new (versions, v);
        }
        json_object_set_new (obj, "versions", versions);
        break;
    }
    default:
        break;
    }
    return obj;
}

static json_t *
s_notes_json (const s_notes_t *notes)
{
    json_t *list = json_array ();
    for (size_t k = 0; k < notes->count; k++) {
        const s_note_t *note = notes->notes[k];
        json_t *obj = json_object ();
        json_object_set_new (obj, "seq", json_integer ((json_int_t)note->seq));
        json_object_set_new (obj, "ts", json_integer ((json_int_t)note->ts));
        json_object_set_new (obj, "data", s_mp_json (note->data, note->size));
        json_array_append_new (list, obj);
    }
    return list;
}

json_t *
ab_graph_resource_json (const ab_graph_t *self, const char *path)
{
    assert (self);
    s_res_t *res = s_find_c (self, path);
    if (!res)
        return NULL;
    json_t *obj = s_res_json (self, res);
    json_object_set_new (obj, "kind", json_string (ab_graph_kind_name (res->kind)));
    if (res->kind == AB_GRAPH_NODE) {
        json_t *list = json_object_get (obj, "instances");
        size_t n;
        s_res_t *const *all = s_resources (self, &n);
        for (size_t i = 0; i < n; i++)
            if (all[i]->kind == AB_GRAPH_INSTANCE && all[i]->node == res)
                json_array_append_new (list, json_string (all[i]->path));
    }
    s_notes_t *notes = ab_pathmap_lookup (self->notes, res->path, res->path_len);
    if (notes)
        json_object_set_new (obj, "notes", s_notes_json (notes));
    return obj;
}

json_t *
ab_graph_to_json (const ab_graph_t *self)
{
    assert (self);
    json_t *root = json_object ();
    uint8_t digest[32];
    ab_graph_digest (self, digest);
    json_object_set_new (root, "seq", json_integer ((json_int_t)self->seq));
    json_object_set_new (root, "ts", json_integer ((json_int_t)self->now));
    json_object_set_new (root, "digest", s_hex_json (digest, sizeof digest));
    json_t *stats = json_object ();
    json_object_set_new (stats, "applied", json_integer ((json_int_t)self->applied));
    json_object_set_new (stats, "unknown", json_integer ((json_int_t)self->unknown));
    json_object_set_new (stats, "rejected", json_integer ((json_int_t)self->rejected));
    json_t *ring = json_array ();
    size_t kept = self->ring_count < S_RING ? (size_t)self->ring_count : S_RING;
    for (size_t i = 0; i < kept; i++)
        json_array_append_new (
            ring, json_string (self->ring[(self->ring_next + S_RING - kept + i) % S_RING]));
    json_object_set_new (stats, "last_rejections", ring);
    json_object_set_new (root, "stats", stats);
    json_t *kinds[AB_GRAPH__COUNT] = { NULL };
    for (int k = 1; k < AB_GRAPH__COUNT; k++) {
        kinds[k] = json_object ();
        json_object_set_new (root, s_kind_names[k][1], kinds[k]);
    }
    size_t n;
    s_res_t *const *all = s_resources (self, &n);
    for (size_t i = 0; i < n; i++) {
        json_object_set_new (kinds[all[i]->kind], all[i]->path, s_res_json (self, all[i]));
        //  Nodes sort before instances, so the node's object exists here.
        if (all[i]->kind == AB_GRAPH_INSTANCE) {
            json_t *node = json_object_get (kinds[AB_GRAPH_NODE], all[i]->node->path);
            json_array_append_new (json_object_get (node, "instances"), json_string (all[i]->path));
        }
    }
    json_t *notes_obj = json_object ();
    ab_auto_free s_notes_t **notes = (s_notes_t **)s_sorted (self->notes, s_notes_cmp, &n);
    for (size_t i = 0; i < n; i++)
        json_object_set_new (notes_obj, notes[i]->path, s_notes_json (notes[i]));
    json_object_set_new (root, "notes", notes_obj);
    return root;
}

//  Log time as RFC 3339 UTC with ms, for humans; deterministic (no zone).
static const char *
s_time (uint64_t ns, char buf[40])
{
    time_t secs = (time_t)(ns / 1000000000u);
    struct tm tm;
    if (!gmtime_r (&secs, &tm) || strftime (buf, 40, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
        snprintf (buf, 40, "%" PRIu64 "ns", ns);
    else
        snprintf (buf + strlen (buf), 40 - strlen (buf), ".%03uZ",
                  (unsigned)(ns / 1000000u % 1000u));
    return buf;
}

static void
s_print_notes (const ab_graph_t *self, FILE *out, const char *path, int indent)
{
    s_notes_t *notes = ab_pathmap_lookup (self->notes, path, strlen (path));
    for (size_t k = 0; notes && k < notes->count; k++) {
        json_t *data = s_mp_json (notes->notes[k]->data, notes->notes[k]->size);
        char *text = json_dumps (data, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        fprintf (out, "%*snote seq %" PRIu64 ": %s\n", indent, "", notes->notes[k]->seq,
                 text ? text : "?");
        free (text);
        json_decref (data);
    }
}

static void
s_print_instance (const ab_graph_t *self, FILE *out, const s_res_t *r, int indent, bool node)
{
    fprintf (out, "%*s%s  %s", indent, "", r->path, s_state (self, r));
    if (node)
        fprintf (out, "  on %s", r->node->path);
    if (r->has_exit)
        fprintf (out, "  exit %" PRId64, r->exit_code);
    if (r->restarts)
        fprintf (out, "  restarts %" PRIu64, r->restarts);
    if (r->reason)
        fprintf (out, "  (%s)", r->reason);
    fprintf (out, "\n");
    s_print_notes (self, out, r->path, indent + 2);
}

void
ab_graph_print (const ab_graph_t *self, FILE *out)
{
    assert (self);
    assert (out);
    uint8_t digest[32];
    char hex[65];
    ab_graph_digest (self, digest);
    sodium_bin2hex (hex, sizeof hex, digest, sizeof digest);
    char when[40];
    fprintf (out, "graph at seq %" PRIu64 ", log time %s\ndigest %s\n", self->seq,
             s_time (self->now, when), hex);
    fprintf (out, "events: %" PRIu64 " applied, %" PRIu64 " unknown, %" PRIu64 " rejected\n",
             self->applied, self->unknown, self->rejected);
    if (self->rejected)
        fprintf (out, "last rejected: %s\n", ab_graph_last_rejection (self));
    size_t n;
    s_res_t *const *all = s_resources (self, &n);
    for (int kind = 1; kind < AB_GRAPH__COUNT; kind++) {
        //  Services and instances are printed under their stacks and nodes.
        if (kind == AB_GRAPH_SERVICE || kind == AB_GRAPH_INSTANCE || !self->count[kind])
            continue;
        fprintf (out, "%s (%zu)\n", s_kind_names[kind][1], self->count[kind]);
        for (size_t i = 0; i < n; i++) {
            const s_res_t *r = all[i];
            if ((int)r->kind != kind)
                continue;
            fprintf (out, "  %s  %s", r->path, s_state (self, r));
            if (kind == AB_GRAPH_NODE) {
                fprintf (out, "  cpu %g  memory %" PRIu64, r->cpu, r->memory);
                for (size_t l = 0; l < r->nlabels; l++)
                    fprintf (out, "%s%s=%s", l ? "," : "  labels ", r->labels[l].key,
                             r->labels[l].val);
            } else if (kind == AB_GRAPH_STACK)
                fprintf (out, "  version %s", r->version);
            else if (kind == AB_GRAPH_LEASE) {
                fprintf (out, "  holder %s", r->holder);
                if (r->expires)
                    fprintf (out, "  expires %s", s_time (r->expires, when));
            } else if (kind == AB_GRAPH_SECRET) {
                sodium_bin2hex (hex, sizeof hex, r->digest, sizeof r->digest);
                fprintf (out, "  version %" PRIu64 "  digest %.16s", r->generation, hex);
            } else if (kind == AB_GRAPH_KIT)
                fprintf (out, "  version %s  digest %s", r->kitvers[r->nkitvers - 1].version,
                         r->kitvers[r->nkitvers - 1].digest);
            if (r->reason)
                fprintf (out, "  (%s)", r->reason);
            fprintf (out, "\n");
            s_print_notes (self, out, r->path, 4);
            if (kind == AB_GRAPH_NODE) {
                for (size_t j = 0; j < n; j++)
                    if (all[j]->kind == AB_GRAPH_INSTANCE && all[j]->node == r)
                        fprintf (out, "    %s  %s\n", all[j]->path, s_state (self, all[j]));
            }
            if (kind != AB_GRAPH_STACK)
                continue;
            ab_auto_free s_res_t **svcs = s_kids_sorted (r);
            for (size_t j = 0; j < r->nkids; j++) {
                const s_res_t *svc = svcs[j];
                fprintf (out, "    service %s  replicas %" PRId64, svc->path + r->path_len + 5,
                         svc->replicas);
                if (svc->image)
                    fprintf (out, "  image %s", svc->image);
                for (size_t c = 0; c < svc->nconns; c++)
                    fprintf (out, "%s%s -> %s", c ? ", " : "  connects ", svc->conns[c].name,
                             svc->conns[c].service ? svc->conns[c].service : svc->conns[c].target);
                fprintf (out, "\n");
                s_print_notes (self, out, svc->path, 6);
                ab_auto_free s_res_t **insts = s_kids_sorted (svc);
                for (size_t m = 0; m < svc->nkids; m++)
                    s_print_instance (self, out, insts[m], 6, true);
            }
        }
    }
    //  Notes on paths that are not (or no longer) resources.
    ab_auto_free s_notes_t **notes = (s_notes_t **)s_sorted (self->notes, s_notes_cmp, &n);
    bool header = false;
    for (size_t i = 0; i < n; i++) {
        if (s_find (self, notes[i]->path, notes[i]->path_len))
            continue;
        if (!header)
            fprintf (out, "notes\n");
        header = true;
        fprintf (out, "  %s\n", notes[i]->path);
        s_print_notes (self, out, notes[i]->path, 4);
    }
}

//  ---------------------------------------------------------------------------
//  Selftest

#define S_T0 1700000000000000000ull //  log time of the first test event, ns
#define S_MS 1000000ull

static bool
streq (const char *a, const char *b)
{
    return a && b && strcmp (a, b) == 0;
}

typedef struct {
    char paths[8][64]; //  first paths visited
    int n;             //  paths visited
} s_seen_t;

static int
s_collect (const char *path, void *arg)
{
    s_seen_t *seen = (s_seen_t *)arg;
    if (seen->n < 8)
        snprintf (seen->paths[seen->n], sizeof seen->paths[0], "%s", path);
    seen->n++;
    return 0;
}

typedef struct {
    const char *type;
    const char *subj;
    const char *json; //  data, or NULL for {}
} s_step_t;

//  A committed event as logd would seal it: seq, and ts in ms after S_T0.
static ab_event_t *
s_event (uint64_t seq, uint64_t ts_ms, const char *type, const char *subj, const char *json)
{
    ab_event_t *event = ab_event_new (type, subj);
    assert (event);
    if (json) {
        ab_auto_error ab_error_t *err = NULL;
        int rc = ab_event_set_data_json (event, json, &err);
        if (rc)
            fprintf (stderr, "bad test data %s: %s\n", json, ab_error_msg (err));
        assert (rc == 0);
    }
    uint8_t prev[AB_HASH_SIZE] = { 0 };
    ab_event_seal (event, seq, S_T0 + ts_ms * S_MS, "admin:admin:TESTKEY1", prev);
    return event;
}

//  Apply one event; returns what ab_graph_apply returned. On rejection
//  checks the promise: the digest did not move (unless leases exist: log
//  time passes with any event, and a lease may lapse with it).
static int
s_apply (ab_graph_t *graph, uint64_t seq, uint64_t ts_ms, const char *type, const char *subj,
         const char *json, ab_error_t **err)
{
    ab_event_t *event = s_event (seq, ts_ms, type, subj, json);
    uint8_t before[32], after[32];
    ab_graph_digest (graph, before);
    int rc = ab_graph_apply (graph, event, err);
    ab_graph_digest (graph, after);
    if (rc < 0 && ab_graph_count (graph, AB_GRAPH_LEASE) == 0)
        assert (memcmp (before, after, 32) == 0);
    ab_event_destroy (&event);
    return rc;
}

//  The digest of graph is the pinned hex: the same events must give the
//  same graph on every build (a change to apply that moves this is a
//  change of what the log means, not an optimisation).
static void
s_assert_digest (const ab_graph_t *graph, const char *what, const char *want)
{
    uint8_t digest[32];
    ab_graph_digest (graph, digest);
    char hex[65];
    sodium_bin2hex (hex, sizeof hex, digest, sizeof digest);
    if (!streq (hex, want))
        fprintf (stderr, "\n%s: digest %s, pinned %s\n", what, hex, want);
    assert (streq (hex, want));
}

//  Apply steps with seq from first, ts one ms apart; all must apply.
static uint64_t
s_script (ab_graph_t *graph, uint64_t first, const s_step_t *steps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        ab_auto_error ab_error_t *err = NULL;
        int rc = s_apply (graph, first + i, first + i, steps[i].type, steps[i].subj, steps[i].json,
                          &err);
        if (rc != 0)
            fprintf (stderr, "step %zu %s %s: rc %d %s\n", i, steps[i].type, steps[i].subj, rc,
                     ab_error_msg (err));
        assert (rc == 0);
    }
    return first + n;
}

static int
s_stop (const char *path, void *arg)
{
    return 1;
}

static const s_step_t s_lifecycle[] = {
    { "node.joined", "node/n1",
      "{\"cpu\": 4, \"memory\": 8589934592, \"labels\": {\"zone\": \"a\", \"disk\": \"ssd\"}}" },
    { "node.joined", "node/n2", "{\"cpu\": 0.5, \"memory\": 1073741824}" },
    { "stack.deployed", "stack/web",
      "{\"version\": \"v1\", \"spec\": {\"services\": {"
      "\"api\": {\"replicas\": 2, \"image\": \"shop/api:1.4\","
      "          \"connections\": {\"db\": {\"target\": \"shop/db\", \"port\": 5432}}},"
      "\"db\": {\"image\": \"postgres:15\"}}}}" },
    { "instance.placed", "stack/web/svc/api/1", "{\"node\": \"n1\"}" },
    { "instance.placed", "stack/web/svc/api/2", "{\"node\": \"node/n2\"}" },
    { "instance.placed", "stack/web/svc/db/1", "{\"node\": \"n1\"}" },
    { "instance.started", "stack/web/svc/api/1", NULL },
    { "instance.healthy", "stack/web/svc/api/1", NULL },
    { "instance.started", "stack/web/svc/api/2", NULL },
    { "instance.exited", "stack/web/svc/api/2", "{\"code\": 137}" },
    { "instance.restarted", "stack/web/svc/api/2", NULL },
    { "instance.started", "stack/web/svc/db/1", NULL },
    { "stack.ready", "stack/web", NULL },
    { "note.added", "stack/web", "{\"msg\": \"rollout approved\", \"by\": [\"ann\", 2]}" },
    { "note.added", "stack/nope", "{\"msg\": \"orphan\"}" },
    { "service.scaled", "stack/web/svc/api", "{\"replicas\": 3}" },
    { "lease.acquired", "lease/sched", "{\"holder\": \"s1\", \"ttl_ms\": 1000}" },
    { "secret.set", "secret/db", "{\"name\": \"db\", \"ciphertext\": \"c2VjcmV0LXNlYWxlZA\"}" },
    { "kit.published", "kit/shop/app",
      "{\"name\": \"shop/app\", \"version\": \"1.0\", \"digest\": \"abc\", \"document\": {\"x\": "
      "1}}" },
    { "instance.failed", "stack/web/svc/db/1", "{\"reason\": \"oom killed\"}" },
    { "node.lost", "node/n2", NULL },
    { "note.added", "stack/web/svc/api/1", "{\"msg\": \"looked fine\"}" },
};
#define S_NLIFE (sizeof s_lifecycle / sizeof s_lifecycle[0])

static void
s_test_lifecycle (bool verbose)
{
    ab_graph_t *graph = ab_graph_new ();
    uint8_t empty[32];
    ab_graph_digest (graph, empty);
    uint64_t next = s_script (graph, 1, s_lifecycle, S_NLIFE);
    assert (ab_graph_seq (graph) == S_NLIFE);
    assert (ab_graph_ts (graph) == S_T0 + S_NLIFE * S_MS);
    assert (ab_graph_count (graph, AB_GRAPH_NODE) == 2);
    assert (ab_graph_count (graph, AB_GRAPH_STACK) == 1);
    assert (ab_graph_count (graph, AB_GRAPH_SERVICE) == 2);
    assert (ab_graph_count (graph, AB_GRAPH_INSTANCE) == 3);
    assert (ab_graph_count (graph, AB_GRAPH_LEASE) == 1);
    assert (ab_graph_count (graph, AB_GRAPH_SECRET) == 1);
    assert (ab_graph_count (graph, AB_GRAPH_KIT) == 1);
    assert (ab_graph_count (graph, AB_GRAPH_NETWORK) == 0);
    assert (ab_graph_kit_versions (graph, "kit/shop/app") == 1);
    assert (ab_graph_kit_versions (graph, "stack/web") == 0);
    ab_graph_kitver_t kv;
    assert (ab_graph_kit_version (graph, "kit/shop/app", 0, &kv) == 0);
    assert (streq (kv.version, "1.0") && streq (kv.digest, "abc") && kv.document_size > 0);
    assert (ab_graph_kit_version (graph, "kit/shop/app", 1, &kv) == -1);
    assert (streq (ab_graph_state (graph, "node/n1"), "ready"));
    assert (streq (ab_graph_state (graph, "node/n2"), "lost"));
    assert (streq (ab_graph_state (graph, "stack/web"), "ready"));
    assert (streq (ab_graph_state (graph, "stack/web/svc/api/1"), "healthy"));
    assert (streq (ab_graph_state (graph, "stack/web/svc/api/2"), "running"));
    assert (streq (ab_graph_state (graph, "stack/web/svc/db/1"), "failed"));
    assert (streq (ab_graph_reason (graph, "stack/web/svc/db/1"), "oom killed"));
    assert (ab_graph_state (graph, "stack/web/svc/db/2") == NULL);
    assert (ab_graph_kind (graph, "stack/web/svc/api") == AB_GRAPH_SERVICE);
    assert (ab_graph_kind (graph, "stack/nope") == AB_GRAPH_NONE);
    assert (ab_graph_replicas (graph, "stack/web/svc/api") == 3);
    assert (ab_graph_replicas (graph, "stack/web/svc/db") == 1);
    assert (ab_graph_replicas (graph, "stack/web") == -1);
    assert (streq (ab_graph_instance_node (graph, "stack/web/svc/api/2"), "node/n2"));
    assert (streq (ab_graph_instance_node (graph, "stack/web/svc/db/1"), "node/n1"));
    assert (streq (ab_graph_lease_holder (graph, "lease/sched"), "s1"));
    assert (ab_graph_notes (graph, "stack/web") == 1);
    assert (ab_graph_notes (graph, "stack/nope") == 1);
    assert (ab_graph_notes (graph, "node/n1") == 0);
    size_t spec_size;
    assert (ab_graph_stack_spec (graph, "stack/web", &spec_size) && spec_size > 20);
    assert (ab_graph_stack_spec (graph, "node/n1", &spec_size) == NULL);

    //  Edges: service -> service, instance -> node and service.
    json_t *api = ab_graph_resource_json (graph, "stack/web/svc/api");
    assert (api);
    json_t *conn = json_array_get (json_object_get (api, "connections"), 0);
    assert (streq (json_string_value (json_object_get (conn, "name")), "db"));
    assert (streq (json_string_value (json_object_get (conn, "target")), "shop/db"));
    assert (streq (json_string_value (json_object_get (conn, "service")), "stack/web/svc/db"));
    assert (streq (json_string_value (json_object_get (api, "stack")), "stack/web"));
    assert (json_integer_value (json_object_get (api, "running")) == 2);
    json_decref (api);
    json_t *inst = ab_graph_resource_json (graph, "stack/web/svc/api/2");
    assert (json_integer_value (json_object_get (inst, "exit_code")) == 137);
    assert (json_integer_value (json_object_get (inst, "restarts")) == 1);
    assert (streq (json_string_value (json_object_get (inst, "service")), "stack/web/svc/api"));
    json_decref (inst);
    json_t *n1 = ab_graph_resource_json (graph, "node/n1");
    assert (json_array_size (json_object_get (n1, "instances")) == 2);
    assert (streq (json_string_value (json_object_get (json_object_get (n1, "labels"), "disk")),
                   "ssd"));
    json_decref (n1);

    //  Walks are sorted and filtered.
    s_seen_t seen = { .n = 0 };
    size_t visited
        = ab_graph_each (graph, AB_GRAPH_INSTANCE, "stack/web/svc/api/", s_collect, &seen);
    assert (visited == 2 && seen.n == 2);
    assert (streq (seen.paths[0], "stack/web/svc/api/1"));
    assert (streq (seen.paths[1], "stack/web/svc/api/2"));
    seen.n = 0;
    assert (ab_graph_each (graph, AB_GRAPH_NODE, NULL, s_collect, &seen) == 2);
    assert (streq (seen.paths[0], "node/n1") && streq (seen.paths[1], "node/n2"));
    seen.n = 0;
    assert (ab_graph_each (graph, AB_GRAPH_INSTANCE, NULL, s_collect, &seen) == 3);
    assert (streq (seen.paths[2], "stack/web/svc/db/1"));
    assert (ab_graph_each (graph, AB_GRAPH_INSTANCE, "stack/zzz/", s_collect, &seen) == 0);
    assert (ab_graph_each (graph, AB_GRAPH_SERVICE, "stack/web/svc/", s_stop, NULL) == 1);

    //  A re-deploy without db drops db and its instance; api keeps its own.
    ab_auto_error ab_error_t *err = NULL;
    assert (s_apply (graph, next++, 100, "stack.deployed", "stack/web",
                     "{\"version\": 2, \"spec\": {\"services\": {\"api\": {\"replicas\": 1}}}}",
                     &err)
            == 0);
    assert (streq (ab_graph_state (graph, "stack/web"), "deploying"));
    assert (ab_graph_count (graph, AB_GRAPH_SERVICE) == 1);
    assert (ab_graph_count (graph, AB_GRAPH_INSTANCE) == 2);
    assert (ab_graph_state (graph, "stack/web/svc/db") == NULL);
    assert (ab_graph_replicas (graph, "stack/web/svc/api") == 1);
    assert (streq (ab_graph_state (graph, "stack/web/svc/api/1"), "healthy"));
    //  A finished instance may be placed again; a live one may not.
    assert (s_apply (graph, next++, 101, "instance.stopped", "stack/web/svc/api/2", NULL, &err)
            == 0);
    assert (s_apply (graph, next++, 102, "instance.placed", "stack/web/svc/api/2",
                     "{\"node\": \"n1\"}", &err)
            == 0);
    assert (streq (ab_graph_instance_node (graph, "stack/web/svc/api/2"), "node/n1"));
    assert (s_apply (graph, next++, 103, "instance.placed", "stack/web/svc/api/2",
                     "{\"node\": \"n1\"}", &err)
            < 0);
    assert (strstr (ab_error_msg (err), "already placed"));
    //  stack.removed drops services and instances; notes stay.
    assert (s_apply (graph, next++, 104, "stack.removed", "stack/web", NULL, &err) == 0);
    assert (streq (ab_graph_state (graph, "stack/web"), "removed"));
    assert (ab_graph_count (graph, AB_GRAPH_SERVICE) == 0);
    assert (ab_graph_count (graph, AB_GRAPH_INSTANCE) == 0);
    assert (ab_graph_notes (graph, "stack/web/svc/api/1") == 1);
    assert (s_apply (graph, next++, 105, "stack.ready", "stack/web", NULL, &err) < 0);
    uint8_t digest[32];
    ab_graph_digest (graph, digest);
    assert (memcmp (digest, empty, 32) != 0);
    if (verbose)
        ab_graph_print (graph, stdout);
    ab_graph_destroy (&graph);
    assert (graph == NULL);
}

//  Bad input is rejected with a message naming the field, and changes
//  nothing (s_apply checks the digest); unknown types are skipped.
static void
s_test_rejections (bool verbose)
{
    ab_graph_t *graph = ab_graph_new ();
    uint64_t seq = s_script (graph, 1, s_lifecycle, S_NLIFE);
    static const struct {
        const char *type, *subj, *json, *expect;
    } bad[] = {
        { "instance.exited", "stack/web/svc/api/1", "{\"code\": \"x\"}",
          "data.code: expected an integer" },
        { "instance.exited", "stack/web/svc/api/1", NULL, "data.code: missing" },
        { "stack.deployed", "stack/bad",
          "{\"version\": \"v1\", \"spec\": {\"services\": {\"a\": {\"replicas\": 1}, \"b\": "
          "{\"replicas\": \"many\"}}}}",
          "data.spec.services.b.replicas: expected a non-negative integer" },
        //  A re-deploy whose last service is bad must not touch the others.
        { "stack.deployed", "stack/web",
          "{\"version\": \"v9\", \"spec\": {\"services\": {\"api\": {\"replicas\": 7}, \"db/x\": "
          "{}}}}",
          "data.spec.services key: expected a non-empty name without '/'" },
        { "stack.deployed", "stack/web",
          "{\"version\": \"v9\", \"spec\": {\"services\": {\"api\": {\"connections\": [\"db\", "
          "3]}}}}",
          "connections[1]: expected a string" },
        { "stack.deployed", "stack/web", "{\"spec\": {\"services\": {}}}",
          "data.version: missing" },
        { "stack.deployed", "stack/web/x", "{\"version\": 1, \"spec\": {\"services\": {}}}",
          "is not of the form stack/<stack>" },
        { "node.joined", "node/n3", "{\"cpu\": \"lots\", \"memory\": 1}", "data.cpu: expected" },
        { "node.joined", "node/n3", "{\"cpu\": -1, \"memory\": 1}", "data.cpu: expected" },
        { "node.joined", "node/n3", "{\"cpu\": 1}", "data.memory: missing" },
        { "node.joined", "node/n3", "{\"cpu\": 1, \"memory\": 1, \"labels\": {\"a\": 1}}",
          "data.labels.a: expected a string" },
        { "node.left", "node/n9", NULL, "no node node/n9" },
        { "instance.placed", "stack/web/svc/api/9", "{\"node\": \"n9\"}", "no node node/n9" },
        { "instance.placed", "stack/web/svc/zzz/1", "{\"node\": \"n1\"}",
          "no service stack/web/svc/zzz" },
        { "instance.placed", "stack/web/svc/api/9", "{\"node\": 5}",
          "data.node: expected a string" },
        { "instance.started", "stack/web/svc/api", NULL,
          "not of the form stack/<stack>/svc/<service>/<n>" },
        { "instance.started", "stack/web//api/1", NULL, "empty segment" },
        { "instance.started", "stack/web/svc/api/77", NULL, "no instance" },
        { "instance.failed", "stack/web/svc/api/1", NULL, "data.reason: missing" },
        { "service.scaled", "stack/web/svc/api", "{\"replicas\": -2}",
          "data.replicas: expected a non-negative" },
        { "service.scaled", "stack/web/svc/api", "{\"replicas\": 100001}", "is more than" },
        { "stack.failed", "stack/web", "{}", "data.reason: missing" },
        { "lease.acquired", "lease/sched", "{\"holder\": \"s2\", \"ttl_ms\": 1000}", "held by s1" },
        { "lease.released", "lease/sched", "{\"holder\": \"s2\"}", "not s2" },
        { "lease.renewed", "lease/other", "{\"holder\": \"s2\"}", "no lease lease/other" },
        { "kit.published", "kit/shop/app", "{\"version\": \"1.0\", \"digest\": \"def\"}",
          "never changes" },
        { "kit.published", "kit/shop/app",
          "{\"name\": \"other\", \"version\": \"2\", \"digest\": \"d\"}", "does not match" },
        { "secret.set", "secret/db", "{\"ciphertext\": 7}", "data.ciphertext: expected binary" },
        { "secret.removed", "secret/nope", NULL, "no secret" },
        { "note.added", "", "{}", "subject is empty" },
    };
    size_t nbad = sizeof bad / sizeof bad[0];
    uint8_t before[32], after[32];
    ab_graph_digest (graph, before);
    for (size_t i = 0; i < nbad; i++) {
        ab_auto_error ab_error_t *err = NULL;
        int rc = s_apply (graph, seq++, 50, bad[i].type, bad[i].subj, bad[i].json, &err);
        if (rc >= 0 || !strstr (ab_error_msg (err), bad[i].expect))
            fprintf (stderr, "case %zu: rc %d, message '%s', expected '%s'\n", i, rc,
                     ab_error_msg (err), bad[i].expect);
        assert (rc == -AB_E_INVALID);
        assert (err && err->code == AB_E_INVALID);
        assert (strstr (ab_error_msg (err), bad[i].expect));
        //  The message names where: seq, type and subject.
        assert (strstr (ab_error_msg (err), bad[i].type));
        assert (strstr (ab_graph_last_rejection (graph), bad[i].expect));
        if (verbose)
            printf ("\n   rejected: %s", ab_error_msg (err));
    }
    ab_graph_digest (graph, after);
    assert (memcmp (before, after, 32) == 0);
    assert (ab_graph_state (graph, "stack/bad") == NULL);
    assert (ab_graph_state (graph, "stack/bad/svc/a") == NULL);
    assert (ab_graph_replicas (graph, "stack/web/svc/api") == 3);
    assert (streq (ab_graph_state (graph, "stack/web"), "ready"));

    //  An unknown type is skipped and counted, not an error.
    ab_auto_error ab_error_t *err = NULL;
    assert (s_apply (graph, seq++, 60, "widget.spun", "widget/w1", "{\"speed\": 3}", &err) == 1);
    assert (err == NULL);
    uint64_t applied, unknown, rejected;
    ab_graph_stats (graph, &applied, &unknown, &rejected);
    assert (applied == S_NLIFE && unknown == 1 && rejected == nbad);
    ab_graph_digest (graph, after);
    assert (memcmp (before, after, 32) == 0);
    assert (ab_graph_seq (graph) == seq - 1);

    //  An event that is not after the graph's seq changes nothing at all.
    assert (s_apply (graph, 3, 70, "node.joined", "node/n7", "{\"cpu\": 1, \"memory\": 1}", &err)
            == -AB_E_INVALID);
    assert (strstr (ab_error_msg (err), "not after"));
    ab_graph_stats (graph, &applied, &unknown, &rejected);
    assert (applied == S_NLIFE && unknown == 1 && rejected == nbad);
    assert (ab_graph_seq (graph) == seq - 1);
    assert (ab_graph_state (graph, "node/n7") == NULL);

    //  The JSON dump keeps the last few rejections.
    json_t *json = ab_graph_to_json (graph);
    json_t *ring = json_object_get (json_object_get (json, "stats"), "last_rejections");
    assert (json_array_size (ring) == S_RING);
    assert (strstr (json_string_value (json_array_get (ring, S_RING - 1)), "subject is empty"));
    json_decref (json);
    ab_graph_destroy (&graph);
}

//  Leases lapse by log time: an event's ts, never the wall clock.
static void
s_test_leases (bool verbose)
{
    ab_graph_t *graph = ab_graph_new ();
    ab_auto_error ab_error_t *err = NULL;
    assert (s_apply (graph, 1, 0, "lease.acquired", "lease/sched",
                     "{\"holder\": \"s1\", \"ttl_ms\": 1000}", &err)
            == 0);
    assert (streq (ab_graph_lease_holder (graph, "lease/sched"), "s1"));
    //  Any later event moves time: at +1000 ms exactly it is still held.
    assert (s_apply (graph, 2, 1000, "note.added", "x", NULL, &err) == 0);
    assert (streq (ab_graph_state (graph, "lease/sched"), "held"));
    uint8_t held[32], lapsed[32];
    ab_graph_digest (graph, held);
    //  Renewal by the holder extends it from the renewal's ts.
    assert (s_apply (graph, 3, 1000, "lease.renewed", "lease/sched", "{\"holder\": \"s1\"}", &err)
            == 0);
    assert (s_apply (graph, 4, 1999, "widget.spun", "x", NULL, &err) == 1);
    assert (streq (ab_graph_lease_holder (graph, "lease/sched"), "s1"));
    //  A rejected event is still log time passing.
    assert (s_apply (graph, 5, 2001, "node.left", "node/none", NULL, &err) < 0);
    assert (ab_graph_lease_holder (graph, "lease/sched") == NULL);
    assert (streq (ab_graph_state (graph, "lease/sched"), "lapsed"));
    ab_graph_digest (graph, lapsed);
    assert (memcmp (held, lapsed, 32) != 0);
    //  Lapsed: the old holder cannot renew, anyone may acquire.
    assert (s_apply (graph, 6, 2002, "lease.renewed", "lease/sched", "{\"holder\": \"s1\"}", &err)
            < 0);
    assert (strstr (ab_error_msg (err), "lapsed"));
    assert (s_apply (graph, 7, 2003, "lease.acquired", "lease/sched",
                     "{\"holder\": \"s2\", \"ttl_ms\": 10}", &err)
            == 0);
    assert (streq (ab_graph_lease_holder (graph, "lease/sched"), "s2"));
    assert (s_apply (graph, 8, 2004, "lease.released", "lease/sched", "{\"holder\": \"s2\"}", &err)
            == 0);
    assert (streq (ab_graph_state (graph, "lease/sched"), "released"));
    assert (ab_graph_lease_holder (graph, "lease/sched") == NULL);
    //  No ttl: held until released, however much time passes.
    assert (s_apply (graph, 9, 2005, "lease.acquired", "lease/leader", "{\"holder\": \"s3\"}", &err)
            == 0);
    assert (s_apply (graph, 10, 99999999, "note.added", "x", NULL, &err) == 0);
    assert (streq (ab_graph_lease_holder (graph, "lease/leader"), "s3"));
    //  Log time never runs backwards: an older ts does not revive a lease.
    assert (s_apply (graph, 11, 5, "note.added", "x", NULL, &err) == 0);
    assert (ab_graph_ts (graph) == S_T0 + 99999999 * S_MS);
    ab_graph_destroy (&graph);
}

//  Same events, same digest: from the originals or from decoded copies, in
//  separate graphs. A different order or a different event: another digest.
static void
s_test_determinism (bool verbose)
{
    ab_graph_t *a = ab_graph_new ();
    ab_graph_t *b = ab_graph_new ();
    ab_graph_t *c = ab_graph_new ();
    ab_graph_t *d = ab_graph_new ();
    for (size_t i = 0; i < S_NLIFE; i++) {
        const s_step_t *step = &s_lifecycle[i];
        ab_event_t *event = s_event (i + 1, i + 1, step->type, step->subj, step->json);
        ab_auto_error ab_error_t *err = NULL;
        assert (ab_graph_apply (a, event, &err) == 0);
        //  b: through the wire format.
        size_t size;
        ab_auto_free uint8_t *wire = ab_event_encode (event, &size, &err);
        assert (wire);
        ab_event_t *copy = ab_event_decode (wire, size, AB_EVENT_COMMITTED, AB_FRAME_MAX, &err);
        assert (copy);
        assert (ab_graph_apply (b, copy, &err) == 0);
        ab_event_destroy (&copy);
        ab_event_destroy (&event);
        //  c: the two notes swapped (same seqs), d: api scaled to 4, not 3.
        size_t j = i;
        if (streq (step->type, "note.added") && streq (step->subj, "stack/web"))
            j = i + 1;
        else if (streq (step->type, "note.added") && streq (step->subj, "stack/nope"))
            j = i - 1;
        const s_step_t *other = &s_lifecycle[j];
        event = s_event (i + 1, i + 1, other->type, other->subj, other->json);
        assert (ab_graph_apply (c, event, &err) == 0);
        ab_event_destroy (&event);
        const char *json = streq (step->type, "service.scaled") ? "{\"replicas\": 4}" : step->json;
        event = s_event (i + 1, i + 1, step->type, step->subj, json);
        assert (ab_graph_apply (d, event, &err) == 0);
        ab_event_destroy (&event);
    }
    uint8_t da[32], db[32], dc[32], dd[32], again[32];
    ab_graph_digest (a, da);
    ab_graph_digest (b, db);
    ab_graph_digest (c, dc);
    ab_graph_digest (d, dd);
    ab_graph_digest (a, again);
    assert (memcmp (da, db, 32) == 0);
    assert (memcmp (da, again, 32) == 0);
    assert (memcmp (da, dc, 32) != 0);
    assert (memcmp (da, dd, 32) != 0);
    assert (memcmp (dc, dd, 32) != 0);
    //  The digest in the dump is the digest.
    char hex[65];
    sodium_bin2hex (hex, sizeof hex, da, 32);
    json_t *json = ab_graph_to_json (b);
    assert (streq (json_string_value (json_object_get (json, "digest")), hex));
    json_decref (json);
    ab_graph_destroy (&a);
    ab_graph_destroy (&b);
    ab_graph_destroy (&c);
    ab_graph_destroy (&d);
}

//  What `abbey graph` prints is in `abbey graph --json`, and no secret's
//  ciphertext is in either.
static void
s_test_output (bool verbose)
{
    ab_graph_t *graph = ab_graph_new ();
    s_script (graph, 1, s_lifecycle, S_NLIFE);
    ab_auto_free char *text = NULL;
    size_t text_size = 0;
    FILE *out = open_memstream (&text, &text_size);
    assert (out);
    ab_graph_print (graph, out);
    fclose (out);
    json_t *json = ab_graph_to_json (graph);
    assert (json_integer_value (json_object_get (json, "seq")) == (json_int_t)S_NLIFE);
    json_t *stats = json_object_get (json, "stats");
    assert (json_integer_value (json_object_get (stats, "applied")) == (json_int_t)S_NLIFE);
    assert (json_integer_value (json_object_get (stats, "unknown")) == 0);
    assert (strstr (text, json_string_value (json_object_get (json, "digest"))));
    //  Every resource the dump has, with its state, is in the printout.
    size_t resources = 0;
    for (int k = 1; k < AB_GRAPH__COUNT; k++) {
        json_t *kind = json_object_get (json, ab_graph_kind_plural ((ab_graph_kind_t)k));
        assert (json_is_object (kind));
        assert (json_object_size (kind) == ab_graph_count (graph, (ab_graph_kind_t)k));
        const char *path;
        json_t *res;
        json_object_foreach (kind, path, res)
        {
            resources++;
            const char *state = json_string_value (json_object_get (res, "state"));
            char line[256];
            snprintf (line, sizeof line, "%s  %s",
                      k == AB_GRAPH_SERVICE ? strrchr (path, '/') + 1 : path,
                      k == AB_GRAPH_SERVICE ? "replicas" : state);
            if (!strstr (text, line))
                fprintf (stderr, "'%s' not printed:\n%s", line, text);
            assert (strstr (text, line));
        }
    }
    assert (resources == 11);
    json_t *nodes = json_object_get (json, "nodes");
    json_t *n1_instances = json_object_get (json_object_get (nodes, "node/n1"), "instances");
    assert (json_array_size (n1_instances) == 2);
    assert (streq (json_string_value (json_array_get (n1_instances, 0)), "stack/web/svc/api/1"));
    json_t *notes = json_object_get (json, "notes");
    json_t *orphan = json_array_get (json_object_get (notes, "stack/nope"), 0);
    assert (streq (json_string_value (json_object_get (json_object_get (orphan, "data"), "msg")),
                   "orphan"));
    assert (strstr (text, "\"msg\":\"orphan\""));
    assert (strstr (text, "\"msg\":\"rollout approved\""));
    assert (strstr (text, "oom killed"));
    json_t *stack = json_object_get (json_object_get (json, "stacks"), "stack/web");
    json_t *spec_api
        = json_object_get (json_object_get (json_object_get (stack, "spec"), "services"), "api");
    assert (streq (json_string_value (json_object_get (spec_api, "image")), "shop/api:1.4"));
    json_t *secret = json_object_get (json_object_get (json, "secrets"), "secret/db");
    assert (json_integer_value (json_object_get (secret, "version")) == 1);
    assert (strlen (json_string_value (json_object_get (secret, "digest"))) == 64);
    ab_auto_free char *dump = json_dumps (json, JSON_COMPACT);
    assert (dump && !strstr (dump, "c2VjcmV0LXNlYWxlZA"));
    assert (!strstr (text, "c2VjcmV0LXNlYWxlZA"));
    if (verbose)
        printf ("\n%s%s\n", text, dump);
    json_decref (json);
    ab_graph_destroy (&graph);
}

static double
s_now (void)
{
    struct timespec t;
    clock_gettime (CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

//  A rebuild: decode envelopes and apply them. Timed in verbose mode; the
//  figures that count are in bench/, on a quiet machine.
static void
s_test_rebuild (bool verbose)
{
    const size_t total = verbose ? 1000000 : 100000;
    const size_t nodes = 20, services = 10, per_service = 50;
    uint8_t **wire = calloc (total, sizeof (uint8_t *));
    size_t *sizes = calloc (total, sizeof (size_t));
    assert (wire && sizes);
    size_t n = 0;
    char subj[128], json[1024];
    static const char *cycle[] = { "instance.started", "instance.healthy",   "instance.unhealthy",
                                   "instance.exited",  "instance.restarted", "note.added" };
    while (n < total) {
        const char *type;
        if (n < nodes) {
            type = "node.joined";
            snprintf (subj, sizeof subj, "node/n%zu", n);
            snprintf (json, sizeof json, "{\"cpu\": 8, \"memory\": 17179869184}");
        } else if (n < nodes + 1) {
            type = "stack.deployed";
            snprintf (subj, sizeof subj, "stack/big");
            char *p = json + sprintf (json, "{\"version\": \"v1\", \"spec\": {\"services\": {");
            for (size_t s = 0; s < services; s++)
                p += sprintf (p, "%s\"s%zu\": {\"replicas\": %zu}", s ? "," : "", s, per_service);
            sprintf (p, "}}}");
        } else if (n < nodes + 1 + services * per_service) {
            size_t i = n - nodes - 1;
            type = "instance.placed";
            snprintf (subj, sizeof subj, "stack/big/svc/s%zu/%zu", i / per_service,
                      i % per_service);
            snprintf (json, sizeof json, "{\"node\": \"n%zu\"}", i % nodes);
        } else {
            size_t i = n * 7919 % (services * per_service);
            type = cycle[n % 6];
            snprintf (subj, sizeof subj, "stack/big/svc/s%zu/%zu", i / per_service,
                      i % per_service);
            if (n % 6 == 3)
                snprintf (json, sizeof json, "{\"code\": %zu}", n % 3);
            else if (n % 6 == 5)
                snprintf (json, sizeof json, "{\"msg\": \"checked\", \"n\": %zu}", n);
            else
                snprintf (json, sizeof json, "{}");
        }
        ab_event_t *event = s_event (n + 1, n, type, subj, json);
        uint8_t *encoded = ab_event_encode (event, &sizes[n], NULL);
        assert (encoded);
        //  A right-sized copy: encoders may hand out roomy buffers.
        wire[n] = malloc (sizes[n]);
        assert (wire[n]);
        memcpy (wire[n], encoded, sizes[n]);
        free (encoded);
        ab_event_destroy (&event);
        n++;
    }
    ab_graph_t *graph = ab_graph_new ();
    double t0 = s_now ();
    for (size_t i = 0; i < total; i++) {
        ab_event_t *event
            = ab_event_decode (wire[i], sizes[i], AB_EVENT_COMMITTED, AB_FRAME_MAX, NULL);
        assert (event);
        int rc = ab_graph_apply (graph, event, NULL);
        assert (rc == 0);
        ab_event_destroy (&event);
    }
    double t1 = s_now ();
    assert (ab_graph_seq (graph) == total);
    assert (ab_graph_count (graph, AB_GRAPH_INSTANCE) == services * per_service);
    uint8_t digest[32];
    ab_graph_digest (graph, digest);
    double t2 = s_now ();
    if (verbose)
        printf (
            "\n   rebuild: %zu events in %.3f s = %.0f events/s (decode + apply); digest %.3f ms",
            total, t1 - t0, total / (t1 - t0), (t2 - t1) * 1e3);
    //  The same wire events again, applied to a second graph: same digest.
    ab_graph_t *again = ab_graph_new ();
    for (size_t i = 0; i < total; i++) {
        ab_event_t *event
            = ab_event_decode (wire[i], sizes[i], AB_EVENT_COMMITTED, AB_FRAME_MAX, NULL);
        ab_graph_apply (again, event, NULL);
        ab_event_destroy (&event);
    }
    uint8_t digest2[32];
    ab_graph_digest (again, digest2);
    assert (memcmp (digest, digest2, 32) == 0);
    ab_graph_destroy (&again);
    ab_graph_destroy (&graph);
    for (size_t i = 0; i < total; i++)
        free (wire[i]);
    free (wire);
    free (sizes);
}

//  Every known type with data of every wrong shape, on subjects of every
//  form: each event is applied or rejected, none crashes or half-applies.
static void
s_test_garbage (bool verbose)
{
    static const char *subjects[] = { "node/n1",
                                      "stack/web",
                                      "stack/web/svc/api",
                                      "stack/web/svc/api/1",
                                      "stack/web/svc/api/1/x",
                                      "lease/sched",
                                      "kit/shop/app",
                                      "secret/db",
                                      "x",
                                      "a/",
                                      "/a" };
    static const char *values[] = { "null",
                                    "true",
                                    "-1",
                                    "0",
                                    "9223372036854775807",
                                    "1.5",
                                    "-0.0",
                                    "\"\"",
                                    "\"n1\"",
                                    "\"a/b\"",
                                    "[]",
                                    "[1, \"x\"]",
                                    "{}",
                                    "{\"target\": 1}",
                                    "{\"services\": []}",
                                    "{\"services\": {\"a\": 1}}",
                                    "{\"services\": {\"\": {}}}" };
    static const char *fields[] = { "cpu",     "memory",   "labels",     "spec",
                                    "version", "replicas", "node",       "code",
                                    "reason",  "service",  "holder",     "ttl_ms",
                                    "digest",  "name",     "ciphertext", "document" };
    size_t nsubj = sizeof subjects / sizeof subjects[0];
    size_t nval = sizeof values / sizeof values[0];
    size_t nfield = sizeof fields / sizeof fields[0];
    ab_graph_t *graph = ab_graph_new ();
    uint64_t seq = s_script (graph, 1, s_lifecycle, S_NLIFE);
    size_t applied = 0, rejected = 0;
    for (int t = 1; t < AB_EV__COUNT; t++)
        for (size_t s = 0; s < nsubj; s++)
            for (size_t f = 0; f < nfield; f++) {
                char json[256];
                snprintf (json, sizeof json, "{\"%s\": %s, \"holder\": \"s9\"}", fields[f],
                          values[(t * 7 + s * 3 + f) % nval]);
                if (streq (fields[f], "holder"))
                    snprintf (json, sizeof json, "{\"holder\": %s}", values[(t + s + f) % nval]);
                ab_auto_error ab_error_t *err = NULL;
                int rc = s_apply (graph, seq, seq, ab_catalog_name ((ab_evtype_t)t), subjects[s],
                                  json, &err);
                seq++;
                assert (rc == 0 || (rc == -AB_E_INVALID && err && *ab_error_msg (err)));
                applied += rc == 0;
                rejected += rc < 0;
            }
    uint64_t a, u, r;
    ab_graph_stats (graph, &a, &u, &r);
    assert (a == S_NLIFE + applied && u == 0 && r == rejected);
    assert (rejected > applied);
    //  Still whole: it prints and dumps.
    FILE *null = fopen ("/dev/null", "w");
    assert (null);
    ab_graph_print (graph, null);
    fclose (null);
    json_t *json = ab_graph_to_json (graph);
    assert (json);
    json_decref (json);
    s_assert_digest (graph, "garbage", "1c65723add4ccb0330729b1ab6e3d607d9a480d4e51964b26e8fe4a191ee3dc0");
    if (verbose)
        printf ("\n   garbage: %zu applied, %zu rejected", applied, rejected);
    ab_graph_destroy (&graph);
}

//  A rebuild-like mix, as bench-rebuild stores it: nodes re-announcing
//  with changing labels, leases acquired, renewed and contended, and
//  some data every handler refuses. Pinned.
static void
s_test_pinned (bool verbose)
{
    (void)verbose;
    ab_graph_t *graph = ab_graph_new ();
    uint64_t seq = 1;
    char subj[64], json[256];
    for (uint64_t i = 0; i < 3000; i++, seq++) {
        const char *type;
        if (i % 2 == 0 || i < 40) {
            type = "node.joined";
            snprintf (subj, sizeof subj, "node/n%" PRIu64, i % 40);
            snprintf (json, sizeof json,
                      "{\"cpu\": %s, \"memory\": %" PRIu64 ", \"labels\": {\"zone\": \"z%" PRIu64
                      "\", \"rack\": \"r%" PRIu64 "\"%s}}",
                      i % 7 == 0 ? "2.5" : "4", 8589934592 + i % 3, i % 3, i % 11,
                      i % 13 == 0 ? ", \"gpu\": \"yes\"" : "");
        } else if (i % 17 == 1) {
            type = i % 34 == 1 ? "lease.released" : "node.left";
            snprintf (subj, sizeof subj, "%s%" PRIu64, i % 34 == 1 ? "lease/work-" : "node/n",
                      i % 40);
            snprintf (json, sizeof json, "{\"holder\": \"s%" PRIu64 "\"}", i % 5);
        } else {
            static const char *types[] = { "lease.acquired", "lease.renewed", "lease.acquired" };
            type = types[i % 3];
            snprintf (subj, sizeof subj, "lease/work-%" PRIu64, i % 40);
            snprintf (json, sizeof json,
                      i % 19 == 0 ? "{\"holder\": 7}"
                                  : "{\"holder\": \"s%" PRIu64 "\", \"ttl_ms\": %" PRIu64 "}",
                      i % 5, (i % 4) * 10);
        }
        ab_event_t *event = s_event (seq, seq * 3, type, subj, json);
        ab_graph_apply (graph, event, NULL);
        ab_event_destroy (&event);
    }
    uint64_t a, u, r;
    ab_graph_stats (graph, &a, &u, &r);
    assert (a > 1500 && r > 100);
    s_assert_digest (graph, "pinned mix", "41f11787e9b8dd42610d47eddb7842cd2c224e54dac138ec6c1021ec5a0a4bdd");
    ab_graph_destroy (&graph);
    //  And the lifecycle script.
    graph = ab_graph_new ();
    s_script (graph, 1, s_lifecycle, S_NLIFE);
    s_assert_digest (graph, "lifecycle", "28065dd8c05fe4b4d4b3017f9adc268c0fcfa48d0fc82645b73530c32ca01228");
    ab_graph_destroy (&graph);
}

void
ab_graph_test (bool verbose)
{
    printf (" * ab_graph: ");
    s_test_lifecycle (verbose);
    s_test_rejections (verbose);
    s_test_leases (verbose);
    s_test_determinism (verbose);
    s_test_output (verbose);
    s_test_garbage (verbose);
    s_test_rebuild (verbose);
    s_test_pinned (verbose);
    printf ("OK\n");
}
