/*  ab_yaml - YAML documents as positioned node trees                      */
//  Why: selftests assert behaviour, and the default build type defines NDEBUG.
#undef NDEBUG
#include "ab_yaml.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

struct _ab_ynode_t {
    ab_ykind_t kind;    //  scalar, map or seq
    char *file;         //  file the node was read from, owned
    size_t line;        //  1-based
    size_t col;         //  1-based
    char *text;         //  scalar text, owned; NULL otherwise
    bool quoted;        //  scalar written quoted or as a block
    size_t size;        //  entries (map) or items (seq)
    size_t alloc;       //  slots allocated in keys/items
    ab_ynode_t **keys;  //  map keys (scalars), owned
    ab_ynode_t **items; //  map values or seq items, owned
};

static ab_ynode_t *
s_node_new (ab_ykind_t kind, const char *file, size_t line, size_t col)
{
    ab_ynode_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->kind = kind;
    self->file = strdup (file ? file : "-");
    self->line = line;
    self->col = col;
    if (!self->file) {
        free (self);
        return NULL;
    }
    return self;
}

void
ab_ynode_destroy (ab_ynode_t **self_p)
{
    assert (self_p);
    ab_ynode_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->size; i++) {
        if (self->keys)
            ab_ynode_destroy (&self->keys[i]);
        ab_ynode_destroy (&self->items[i]);
    }
    free (self->keys);
    free (self->items);
    free (self->text);
    free (self->file);
    free (self);
    *self_p = NULL;
}

//  Append (key, value) to a map or value to a seq; takes both.
static int
s_append (ab_ynode_t *self, ab_ynode_t *key, ab_ynode_t *value)
{
    if (self->size == self->alloc) {
        size_t alloc = self->alloc ? self->alloc * 2 : 4;
        ab_ynode_t **items = realloc (self->items, alloc * sizeof *items);
        if (!items)
            return -1;
        self->items = items;
        if (self->kind == AB_YNODE_MAP) {
            ab_ynode_t **keys = realloc (self->keys, alloc * sizeof *keys);
            if (!keys)
                return -1;
            self->keys = keys;
        }
        self->alloc = alloc;
    }
    if (self->kind == AB_YNODE_MAP)
        self->keys[self->size] = key;
    self->items[self->size++] = value;
    return 0;
}

ab_ynode_t *
ab_ynode_dup (const ab_ynode_t *self)
{
    if (!self)
        return NULL;
    ab_ynode_t *copy = s_node_new (self->kind, self->file, self->line, self->col);
    if (!copy)
        return NULL;
    copy->quoted = self->quoted;
    if (self->text && !(copy->text = strdup (self->text)))
        goto fail;
    for (size_t i = 0; i < self->size; i++) {
        ab_ynode_t *key = self->kind == AB_YNODE_MAP ? ab_ynode_dup (self->keys[i]) : NULL;
        ab_ynode_t *value = ab_ynode_dup (self->items[i]);
        if (!value || (self->kind == AB_YNODE_MAP && !key) || s_append (copy, key, value)) {
            ab_ynode_destroy (&key);
            ab_ynode_destroy (&value);
            goto fail;
        }
    }
    return copy;
fail:
    ab_ynode_destroy (&copy);
    return NULL;
}

static ab_ynode_t *
s_map (const ab_ynode_t *node, const char *key, const char *holder, ab_ynode_map_fn *fn, void *arg)
{
    if (node->kind == AB_YNODE_SCALAR)
        return fn (arg, node, key, holder);
    bool map = node->kind == AB_YNODE_MAP;
    ab_ynode_t *copy = map ? ab_ynode_new_map (node) : ab_ynode_new_seq (node);
    bool ok = copy != NULL;
    for (size_t i = 0; copy && i < node->size; i++) {
        const char *k = map ? node->keys[i]->text : key;
        ab_ynode_t *v = s_map (node->items[i], k, map ? key : NULL, fn, arg);
        if (!v)
            ok = false;
        else if (map)
            ab_ynode_append (copy, node->keys[i], &v);
        else
            ab_ynode_push (copy, &v);
    }
    if (!ok)
        ab_ynode_destroy (&copy);
    return copy;
}

ab_ynode_t *
ab_ynode_map (const ab_ynode_t *node, const char *key, ab_ynode_map_fn *fn, void *arg)
{
    assert (node && key && fn);
    return s_map (node, key, NULL, fn, arg);
}

ab_ynode_t *
ab_ynode_new_map (const ab_ynode_t *at)
{
    return s_node_new (AB_YNODE_MAP, at ? at->file : "-", at ? at->line : 0, at ? at->col : 0);
}

ab_ynode_t *
ab_ynode_new_seq (const ab_ynode_t *at)
{
    return s_node_new (AB_YNODE_SEQ, at ? at->file : "-", at ? at->line : 0, at ? at->col : 0);
}

void
ab_ynode_append (ab_ynode_t *self, const ab_ynode_t *key, ab_ynode_t **value_p)
{
    assert (self && self->kind == AB_YNODE_MAP);
    assert (key && value_p && *value_p);
    ab_ynode_t *k = ab_ynode_dup (key);
    if (k && s_append (self, k, *value_p) == 0)
        *value_p = NULL;
    else {
        ab_ynode_destroy (&k);
        ab_ynode_destroy (value_p);
    }
}

void
ab_ynode_push (ab_ynode_t *self, ab_ynode_t **item_p)
{
    assert (self && self->kind == AB_YNODE_SEQ);
    assert (item_p && *item_p);
    if (s_append (self, NULL, *item_p) == 0)
        *item_p = NULL;
    else
        ab_ynode_destroy (item_p);
}

ab_ynode_t *
ab_ynode_new_scalar (const char *text, const ab_ynode_t *at)
{
    assert (text);
    ab_ynode_t *self
        = s_node_new (AB_YNODE_SCALAR, at ? at->file : "-", at ? at->line : 0, at ? at->col : 0);
    if (self && !(self->text = strdup (text)))
        ab_ynode_destroy (&self);
    return self;
}

ab_ykind_t
ab_ynode_kind (const ab_ynode_t *self)
{
    assert (self);
    return self->kind;
}

const char *
ab_ynode_kind_name (const ab_ynode_t *self)
{
    assert (self);
    return self->kind == AB_YNODE_MAP   ? "a map"
           : self->kind == AB_YNODE_SEQ ? "a list"
                                        : "a scalar";
}

const char *
ab_ynode_file (const ab_ynode_t *self)
{
    assert (self);
    return self->file;
}

size_t
ab_ynode_line (const ab_ynode_t *self)
{
    assert (self);
    return self->line;
}

size_t
ab_ynode_col (const ab_ynode_t *self)
{
    assert (self);
    return self->col;
}

char *
ab_ynode_where (const ab_ynode_t *self)
{
    assert (self);
    char *where = NULL;
    if (asprintf (&where, "%s:%zu:%zu", self->file, self->line, self->col) < 0)
        return NULL;
    return where;
}

const char *
ab_ynode_str (const ab_ynode_t *self)
{
    assert (self);
    return self->kind == AB_YNODE_SCALAR ? self->text : NULL;
}

bool
ab_ynode_quoted (const ab_ynode_t *self)
{
    assert (self);
    return self->quoted;
}

void
ab_ynode_set_quoted (ab_ynode_t *self, bool quoted)
{
    assert (self);
    self->quoted = quoted;
}

bool
ab_ynode_is_null (const ab_ynode_t *self)
{
    assert (self);
    if (self->kind != AB_YNODE_SCALAR || self->quoted)
        return false;
    const char *t = self->text;
    return !*t || !strcmp (t, "~") || !strcmp (t, "null") || !strcmp (t, "Null")
           || !strcmp (t, "NULL");
}

bool
ab_ynode_int (const ab_ynode_t *self, int64_t *out)
{
    assert (self);
    if (self->kind != AB_YNODE_SCALAR || self->quoted || !*self->text)
        return false;
    const char *t = self->text;
    int base = 10;
    bool neg = false;
    if (*t == '-' || *t == '+')
        neg = *t++ == '-';
    if (t[0] == '0' && (t[1] == 'x' || t[1] == 'o')) {
        base = t[1] == 'x' ? 16 : 8;
        t += 2;
    }
    if (!*t)
        return false;
    for (const char *p = t; *p; p++)
        if (!(base == 16 ? (p[0] >= '0' && p[0] <= '9') || (p[0] >= 'a' && p[0] <= 'f')
                               || (p[0] >= 'A' && p[0] <= 'F')
                         : p[0] >= '0' && p[0] < '0' + base))
            return false;
    errno = 0;
    unsigned long long v = strtoull (t, NULL, base);
    if (errno || v > (unsigned long long)INT64_MAX)
        return false;
    if (out)
        *out = neg ? -(int64_t)v : (int64_t)v;
    return true;
}

bool
ab_ynode_number (const ab_ynode_t *self, double *out)
{
    assert (self);
    int64_t i;
    if (ab_ynode_int (self, &i)) {
        if (out)
            *out = (double)i;
        return true;
    }
    if (self->kind != AB_YNODE_SCALAR || self->quoted)
        return false;
    //  Core schema float: [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
    const char *p = self->text;
    if (*p == '-' || *p == '+')
        p++;
    size_t digits = 0;
    while (*p >= '0' && *p <= '9')
        p++, digits++;
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9')
            p++, digits++;
    }
    if (!digits)
        return false;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '-' || *p == '+')
            p++;
        if (!(*p >= '0' && *p <= '9'))
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p)
        return false;
    double v = strtod (self->text, NULL);
    if (!isfinite (v))
        return false;
    if (out)
        *out = v;
    return true;
}

bool
ab_ynode_bool (const ab_ynode_t *self, bool *out)
{
    assert (self);
    if (self->kind != AB_YNODE_SCALAR || self->quoted)
        return false;
    const char *t = self->text;
    bool value;
    if (!strcmp (t, "true") || !strcmp (t, "True") || !strcmp (t, "TRUE"))
        value = true;
    else if (!strcmp (t, "false") || !strcmp (t, "False") || !strcmp (t, "FALSE"))
        value = false;
    else
        return false;
    if (out)
        *out = value;
    return true;
}

size_t
ab_ynode_size (const ab_ynode_t *self)
{
    assert (self);
    return self->size;
}

ab_ynode_t *
ab_ynode_at (const ab_ynode_t *self, size_t index)
{
    assert (self);
    assert (index < self->size);
    return self->items[index];
}

ab_ynode_t *
ab_ynode_key_at (const ab_ynode_t *self, size_t index)
{
    assert (self);
    assert (self->kind == AB_YNODE_MAP && index < self->size);
    return self->keys[index];
}

const char *
ab_ynode_key (const ab_ynode_t *self, size_t index)
{
    return ab_ynode_key_at (self, index)->text;
}

static ssize_t
s_find (const ab_ynode_t *self, const char *key)
{
    if (self->kind != AB_YNODE_MAP)
        return -1;
    for (size_t i = 0; i < self->size; i++)
        if (strcmp (self->keys[i]->text, key) == 0)
            return (ssize_t)i;
    return -1;
}

ab_ynode_t *
ab_ynode_get (const ab_ynode_t *self, const char *key)
{
    assert (self);
    ssize_t i = s_find (self, key);
    return i < 0 ? NULL : self->items[i];
}

void
ab_ynode_put (ab_ynode_t *self, const char *key, ab_ynode_t **value_p)
{
    assert (self && self->kind == AB_YNODE_MAP);
    assert (value_p && *value_p);
    ssize_t i = s_find (self, key);
    if (i >= 0) {
        ab_ynode_destroy (&self->items[i]);
        self->items[i] = *value_p;
        *value_p = NULL;
        return;
    }
    ab_ynode_t *k = ab_ynode_new_scalar (key, *value_p);
    if (k && s_append (self, k, *value_p) == 0)
        *value_p = NULL;
    else {
        ab_ynode_destroy (&k);
        ab_ynode_destroy (value_p);
    }
}

void
ab_ynode_remove (ab_ynode_t *self, const char *key)
{
    assert (self);
    ssize_t i = s_find (self, key);
    if (i < 0)
        return;
    ab_ynode_destroy (&self->keys[i]);
    ab_ynode_destroy (&self->items[i]);
    memmove (self->keys + i, self->keys + i + 1, (self->size - i - 1) * sizeof *self->keys);
    memmove (self->items + i, self->items + i + 1, (self->size - i - 1) * sizeof *self->items);
    self->size--;
}

ab_ynode_t *
ab_ynode_merge (const ab_ynode_t *base, const ab_ynode_t *over)
{
    if (!base || !over || base->kind != AB_YNODE_MAP || over->kind != AB_YNODE_MAP)
        return ab_ynode_dup (over ? over : base);
    //  Why the child's position for the merged map: errors about the
    //  result point at what the user wrote last.
    ab_ynode_t *out = ab_ynode_dup (base);
    if (!out)
        return NULL;
    free (out->file);
    out->file = strdup (over->file);
    out->line = over->line;
    out->col = over->col;
    if (!out->file) {
        ab_ynode_destroy (&out);
        return NULL;
    }
    for (size_t i = 0; i < over->size; i++) {
        ab_ynode_t *value
            = ab_ynode_merge (ab_ynode_get (base, over->keys[i]->text), over->items[i]);
        if (!value) {
            ab_ynode_destroy (&out);
            return NULL;
        }
        ab_ynode_put (out, over->keys[i]->text, &value);
    }
    return out;
}

json_t *
ab_ynode_to_json (const ab_ynode_t *self)
{
    assert (self);
    if (self->kind == AB_YNODE_MAP) {
        json_t *obj = json_object ();
        for (size_t i = 0; obj && i < self->size; i++)
            json_object_set_new (obj, self->keys[i]->text, ab_ynode_to_json (self->items[i]));
        return obj;
    }
    if (self->kind == AB_YNODE_SEQ) {
        json_t *arr = json_array ();
        for (size_t i = 0; arr && i < self->size; i++)
            json_array_append_new (arr, ab_ynode_to_json (self->items[i]));
        return arr;
    }
    int64_t i;
    double d;
    bool b;
    if (ab_ynode_is_null (self))
        return json_null ();
    if (ab_ynode_bool (self, &b))
        return json_boolean (b);
    if (ab_ynode_int (self, &i))
        return json_integer (i);
    if (ab_ynode_number (self, &d))
        return json_real (d);
    return json_string (self->text);
}

//  --------------------------------------------------------------------------
//  Parser: libyaml events onto an explicit stack (depth is bounded, so a
//  deeply nested document cannot overflow the C stack).

typedef struct {
    ab_ynode_t *node; //  map or seq being filled
    ab_ynode_t *key;  //  pending map key, or NULL
    char *anchor;     //  anchor to register when the node completes, owned
} s_frame_t;

typedef struct {
    char *name;       //  anchor name, owned
    ab_ynode_t *node; //  the anchored node (owned by the tree)
} s_anchor_t;

typedef struct {
    const char *file;
    ab_yaml_limits_t limits;
    s_frame_t *stack; //  max_depth + 1 frames
    size_t depth;     //  frames in use
    s_anchor_t *anchors;
    size_t anchor_count;
    size_t anchor_alloc;
    size_t nodes; //  nodes made so far, aliases included
    ab_ynode_t *root;
} s_parser_t;

static size_t
s_count (const ab_ynode_t *node, size_t budget)
{
    size_t n = 1 + (node->kind == AB_YNODE_MAP ? node->size : 0);
    for (size_t i = 0; i < node->size && n <= budget; i++)
        n += s_count (node->items[i], budget - n);
    return n;
}

static int
s_register_anchor (s_parser_t *p, char **name_p, ab_ynode_t *node)
{
    if (!*name_p)
        return 0;
    if (p->anchor_count == p->anchor_alloc) {
        size_t alloc = p->anchor_alloc ? p->anchor_alloc * 2 : 8;
        s_anchor_t *a = realloc (p->anchors, alloc * sizeof *a);
        if (!a)
            return -1;
        p->anchors = a;
        p->anchor_alloc = alloc;
    }
    p->anchors[p->anchor_count].name = *name_p;
    p->anchors[p->anchor_count].node = node;
    p->anchor_count++;
    *name_p = NULL;
    return 0;
}

static int
s_err (ab_error_t **err, const char *file, size_t line, size_t col, const char *fmt,
       const char *arg)
{
    char msg[512];
    snprintf (msg, sizeof msg, fmt, arg ? arg : "");
    return ab_error_set (err, AB_E_INVALID, "%s:%zu:%zu: %s", file, line, col, msg);
}

//  Apply `<<` merge keys in a completed map: entries of the merged map(s)
//  are added unless the map already has the key.
static int
s_apply_merge (ab_ynode_t *map, ab_error_t **err)
{
    ssize_t at = s_find (map, "<<");
    if (at < 0 || map->keys[at]->quoted)
        return 0;
    ab_ynode_t *keynode = map->keys[at];
    ab_ynode_t *src = map->items[at];
    map->items[at] = NULL;
    ab_ynode_t *k = keynode;
    map->keys[at] = NULL;
    memmove (map->keys + at, map->keys + at + 1, (map->size - at - 1) * sizeof *map->keys);
    memmove (map->items + at, map->items + at + 1, (map->size - at - 1) * sizeof *map->items);
    map->size--;
    int rc = 0;
    size_t n = src->kind == AB_YNODE_SEQ ? src->size : 1;
    for (size_t s = 0; s < n && rc == 0; s++) {
        ab_ynode_t *from = src->kind == AB_YNODE_SEQ ? src->items[s] : src;
        if (from->kind != AB_YNODE_MAP) {
            rc = s_err (err, from->file, from->line, from->col,
                        "merge key \"<<\": expected a map or a list of maps%s", NULL);
            break;
        }
        for (size_t i = 0; i < from->size; i++) {
            if (s_find (map, from->keys[i]->text) >= 0)
                continue;
            ab_ynode_t *kc = ab_ynode_dup (from->keys[i]);
            ab_ynode_t *vc = ab_ynode_dup (from->items[i]);
            if (!kc || !vc || s_append (map, kc, vc)) {
                ab_ynode_destroy (&kc);
                ab_ynode_destroy (&vc);
                rc = ab_error_set (err, AB_E_SYSTEM, "out of memory");
                break;
            }
        }
    }
    ab_ynode_destroy (&k);
    ab_ynode_destroy (&src);
    return rc;
}

//  Attach a completed node to its parent frame, or make it the root.
static int
s_attach (s_parser_t *p, ab_ynode_t *node, ab_error_t **err)
{
    if (p->depth == 0) {
        if (p->root) {
            ab_ynode_t *n = node;
            int rc = s_err (err, node->file, node->line, node->col,
                            "only one YAML document per file is allowed%s", NULL);
            ab_ynode_destroy (&n);
            return rc;
        }
        p->root = node;
        return 0;
    }
    s_frame_t *top = &p->stack[p->depth - 1];
    //  Why a cap per collection: duplicate-key checks are linear per key, so
    //  one huge map would cost quadratic time on hostile input.
    if (top->node->size >= AB_YAML_MAX_ENTRIES) {
        int rc = s_err (err, node->file, node->line, node->col,
                        "more than 10000 entries in one %s; limit reached",
                        top->node->kind == AB_YNODE_MAP ? "map" : "list");
        ab_ynode_destroy (&node);
        return rc;
    }
    if (top->node->kind == AB_YNODE_SEQ) {
        if (s_append (top->node, NULL, node)) {
            ab_ynode_destroy (&node);
            return ab_error_set (err, AB_E_SYSTEM, "out of memory");
        }
        return 0;
    }
    if (!top->key) {
        if (node->kind != AB_YNODE_SCALAR) {
            int rc = s_err (err, node->file, node->line, node->col,
                            "a map key must be a scalar, not %s", ab_ynode_kind_name (node));
            ab_ynode_destroy (&node);
            return rc;
        }
        if (s_find (top->node, node->text) >= 0 && strcmp (node->text, "<<") != 0) {
            int rc = s_err (err, node->file, node->line, node->col, "key \"%s\": duplicate key",
                            node->text);
            ab_ynode_destroy (&node);
            return rc;
        }
        top->key = node;
        return 0;
    }
    ab_ynode_t *key = top->key;
    top->key = NULL;
    if (s_append (top->node, key, node)) {
        ab_ynode_destroy (&key);
        ab_ynode_destroy (&node);
        return ab_error_set (err, AB_E_SYSTEM, "out of memory");
    }
    return 0;
}

static int
s_count_node (s_parser_t *p, const yaml_mark_t *mark, size_t n, ab_error_t **err)
{
    p->nodes += n;
    if (p->nodes > p->limits.max_nodes) {
        char lim[32];
        snprintf (lim, sizeof lim, "%zu", p->limits.max_nodes);
        return s_err (err, p->file, mark->line + 1, mark->column + 1,
                      "document has more than %s nodes (aliases expanded); limit reached", lim);
    }
    return 0;
}

static int
s_handle (s_parser_t *p, yaml_event_t *ev, ab_error_t **err)
{
    const yaml_mark_t *m = &ev->start_mark;
    size_t line = m->line + 1, col = m->column + 1;
    switch (ev->type) {
    case YAML_SCALAR_EVENT: {
        if (s_count_node (p, m, 1, err))
            return -1;
        ab_ynode_t *node = s_node_new (AB_YNODE_SCALAR, p->file, line, col);
        if (!node
            || !(node->text = strndup ((char *)ev->data.scalar.value, ev->data.scalar.length))) {
            ab_ynode_destroy (&node);
            return ab_error_set (err, AB_E_SYSTEM, "out of memory");
        }
        if (strlen (node->text) != ev->data.scalar.length) {
            ab_ynode_destroy (&node);
            return s_err (err, p->file, line, col, "scalar contains a NUL character%s", NULL);
        }
        const char *tag = (const char *)ev->data.scalar.tag;
        node->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE
                       || (tag && strcmp (tag, "tag:yaml.org,2002:str") == 0);
        char *anchor = ev->data.scalar.anchor ? strdup ((char *)ev->data.scalar.anchor) : NULL;
        if (s_register_anchor (p, &anchor, node)) {
            free (anchor);
            ab_ynode_destroy (&node);
            return ab_error_set (err, AB_E_SYSTEM, "out of memory");
        }
        return s_attach (p, node, err);
    }
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        if (p->depth >= p->limits.max_depth) {
            char lim[32];
            snprintf (lim, sizeof lim, "%zu", p->limits.max_depth);
            return s_err (err, p->file, line, col, "nesting deeper than %s levels", lim);
        }
        if (s_count_node (p, m, 1, err))
            return -1;
        bool map = ev->type == YAML_MAPPING_START_EVENT;
        ab_ynode_t *node = s_node_new (map ? AB_YNODE_MAP : AB_YNODE_SEQ, p->file, line, col);
        if (!node)
            return ab_error_set (err, AB_E_SYSTEM, "out of memory");
        const yaml_char_t *anchor
            = map ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;
        s_frame_t *f = &p->stack[p->depth++];
        f->node = node;
        f->key = NULL;
        f->anchor = anchor ? strdup ((char *)anchor) : NULL;
        return 0;
    }
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT: {
        assert (p->depth > 0);
        s_frame_t *f = &p->stack[--p->depth];
        ab_ynode_t *node = f->node;
        f->node = NULL;
        if (node->kind == AB_YNODE_MAP && s_apply_merge (node, err)) {
            free (f->anchor);
            f->anchor = NULL;
            ab_ynode_destroy (&node);
            return -1;
        }
        if (s_register_anchor (p, &f->anchor, node)) {
            free (f->anchor);
            f->anchor = NULL;
            ab_ynode_destroy (&node);
            return ab_error_set (err, AB_E_SYSTEM, "out of memory");
        }
        return s_attach (p, node, err);
    }
    case YAML_ALIAS_EVENT: {
        const char *name = (const char *)ev->data.alias.anchor;
        ab_ynode_t *target = NULL;
        //  Why search from the end: a redefined anchor means its latest node.
        for (size_t i = p->anchor_count; i > 0 && !target; i--)
            if (strcmp (p->anchors[i - 1].name, name) == 0)
                target = p->anchors[i - 1].node;
        if (!target)
            return s_err (err, p->file, line, col,
                          "alias *%s refers to no complete anchor above it", name);
        size_t budget = p->limits.max_nodes - p->nodes + 1;
        if (s_count_node (p, m, s_count (target, budget), err))
            return -1;
        ab_ynode_t *copy = ab_ynode_dup (target);
        if (!copy)
            return ab_error_set (err, AB_E_SYSTEM, "out of memory");
        return s_attach (p, copy, err);
    }
    default:
        return 0;
    }
}

ab_ynode_t *
ab_yaml_parse (const char *file, const char *text, size_t size, const ab_yaml_limits_t *limits,
               ab_error_t **err)
{
    assert (text || size == 0);
    if (!file)
        file = "-";
    s_parser_t p = { .file = file };
    p.limits.max_size = limits && limits->max_size ? limits->max_size : AB_YAML_MAX_SIZE;
    p.limits.max_depth = limits && limits->max_depth ? limits->max_depth : AB_YAML_MAX_DEPTH;
    p.limits.max_nodes = limits && limits->max_nodes ? limits->max_nodes : AB_YAML_MAX_NODES;
    if (size > p.limits.max_size) {
        ab_error_set (err, AB_E_OVERSIZE, "%s: file is %zu bytes; the limit is %zu", file, size,
                      p.limits.max_size);
        return NULL;
    }
    if (memchr (text, 0, size)) {
        ab_error_set (err, AB_E_INVALID, "%s: file contains a NUL byte; not a YAML text", file);
        return NULL;
    }
    p.stack = calloc (p.limits.max_depth + 1, sizeof *p.stack);
    yaml_parser_t parser;
    if (!p.stack || !yaml_parser_initialize (&parser)) {
        free (p.stack);
        ab_error_set (err, AB_E_SYSTEM, "out of memory");
        return NULL;
    }
    yaml_parser_set_input_string (&parser, (const unsigned char *)(text ? text : ""), size);
    int rc = 0;
    bool done = false;
    while (!done && rc == 0) {
        yaml_event_t ev;
        if (!yaml_parser_parse (&parser, &ev)) {
            const yaml_mark_t *m = parser.problem_mark.line || parser.problem_mark.column
                                       ? &parser.problem_mark
                                       : &parser.context_mark;
            ab_error_set (err, AB_E_INVALID, "%s:%zu:%zu: YAML syntax: %s%s%s", file, m->line + 1,
                          m->column + 1, parser.problem ? parser.problem : "error",
                          parser.context ? " " : "", parser.context ? parser.context : "");
            rc = -1;
            break;
        }
        done = ev.type == YAML_STREAM_END_EVENT;
        rc = s_handle (&p, &ev, err);
        yaml_event_delete (&ev);
    }
    yaml_parser_delete (&parser);
    for (size_t i = 0; i < p.depth; i++) {
        ab_ynode_destroy (&p.stack[i].node);
        ab_ynode_destroy (&p.stack[i].key);
        free (p.stack[i].anchor);
    }
    free (p.stack);
    for (size_t i = 0; i < p.anchor_count; i++)
        free (p.anchors[i].name);
    free (p.anchors);
    if (rc) {
        ab_ynode_destroy (&p.root);
        return NULL;
    }
    if (!p.root || ab_ynode_is_null (p.root)) {
        ab_ynode_destroy (&p.root);
        p.root = s_node_new (AB_YNODE_MAP, file, 1, 1);
    }
    return p.root;
}

//  --------------------------------------------------------------------------

//  ab_ynode_map_fn for the selftest: "key|holder|text", refusing "bad".
static ab_ynode_t *
s_tag_fn (void *arg, const ab_ynode_t *scalar, const char *key, const char *holder)
{
    int *calls = (int *)arg;
    (*calls)++;
    if (!strcmp (ab_ynode_str (scalar), "bad"))
        return NULL;
    char text[128];
    snprintf (text, sizeof text, "%s|%s|%s", key, holder ? holder : "-", ab_ynode_str (scalar));
    return ab_ynode_new_scalar (text, scalar);
}

static ab_ynode_t *
s_parse_str (const char *text, ab_error_t **err)
{
    return ab_yaml_parse ("t.yaml", text, strlen (text), NULL, err);
}

void
ab_yaml_test (bool verbose)
{
    printf (" * ab_yaml: ");
    ab_error_t *err = NULL;
    ab_ynode_t *doc = s_parse_str ("namespace: shop\ndb:\n  image: postgres:15\n  ports: [5432, "
                                   "\"80\"]\n  cpu: 0.5\n  on: true\n  none: ~\n",
                                   &err);
    assert (doc && !err);
    assert (ab_ynode_kind (doc) == AB_YNODE_MAP);
    assert (ab_ynode_size (doc) == 2);
    assert (strcmp (ab_ynode_key (doc, 0), "namespace") == 0);
    ab_ynode_t *db = ab_ynode_get (doc, "db");
    assert (db && ab_ynode_line (db) == 3 && ab_ynode_col (db) == 3);
    ab_ynode_t *image = ab_ynode_get (db, "image");
    assert (strcmp (ab_ynode_str (image), "postgres:15") == 0);
    assert (ab_ynode_line (image) == 3 && ab_ynode_col (image) == 10);
    ab_ynode_t *ports = ab_ynode_get (db, "ports");
    assert (ab_ynode_kind (ports) == AB_YNODE_SEQ && ab_ynode_size (ports) == 2);
    int64_t i = 0;
    assert (ab_ynode_int (ab_ynode_at (ports, 0), &i) && i == 5432);
    assert (!ab_ynode_int (ab_ynode_at (ports, 1), &i)); //  quoted: a string
    assert (ab_ynode_quoted (ab_ynode_at (ports, 1)));
    assert (ab_ynode_line (ab_ynode_at (ports, 1)) == 4
            && ab_ynode_col (ab_ynode_at (ports, 1)) == 17);
    double d = 0;
    assert (ab_ynode_number (ab_ynode_get (db, "cpu"), &d) && d == 0.5);
    assert (!ab_ynode_int (ab_ynode_get (db, "cpu"), &i));
    bool b = false;
    assert (ab_ynode_bool (ab_ynode_get (db, "on"), &b) && b);
    assert (ab_ynode_is_null (ab_ynode_get (db, "none")));
    assert (ab_ynode_get (db, "missing") == NULL);
    char *where = ab_ynode_where (image);
    assert (strcmp (where, "t.yaml:3:10") == 0);
    free (where);

    json_t *json = ab_ynode_to_json (doc);
    char *text = json_dumps (json, JSON_SORT_KEYS | JSON_COMPACT);
    assert (strcmp (text, "{\"db\":{\"cpu\":0.5,\"image\":\"postgres:15\",\"none\":null,\"on\":"
                          "true,\"ports\":[5432,\"80\"]},\"namespace\":\"shop\"}")
            == 0);
    free (text);
    json_decref (json);

    //  Merge: maps merge, scalars and lists replace; positions come from the child.
    ab_ynode_t *child = s_parse_str ("image: postgres:16\nports: [1]\nextra: {a: 1}\n", &err);
    ab_ynode_t *merged = ab_ynode_merge (db, child);
    assert (strcmp (ab_ynode_str (ab_ynode_get (merged, "image")), "postgres:16") == 0);
    assert (ab_ynode_size (ab_ynode_get (merged, "ports")) == 1);
    assert (ab_ynode_get (merged, "cpu") && ab_ynode_get (merged, "extra"));
    assert (ab_ynode_line (ab_ynode_get (merged, "image")) == 1);
    ab_ynode_remove (merged, "extra");
    assert (!ab_ynode_get (merged, "extra"));
    ab_ynode_destroy (&merged);
    ab_ynode_destroy (&child);
    ab_ynode_destroy (&doc);

    //  Anchors, aliases and the merge key.
    doc = s_parse_str (
        "x-base: &base {image: a, env: {A: 1}}\nsvc:\n  <<: *base\n  image: b\nlist: [*base]\n",
        &err);
    assert (doc);
    ab_ynode_t *svc = ab_ynode_get (doc, "svc");
    assert (strcmp (ab_ynode_str (ab_ynode_get (svc, "image")), "b") == 0);
    assert (ab_ynode_get (ab_ynode_get (svc, "env"), "A"));
    assert (!ab_ynode_get (svc, "<<"));
    assert (ab_ynode_size (ab_ynode_get (doc, "list")) == 1);
    ab_ynode_destroy (&doc);

    //  Empty documents are empty maps.
    doc = ab_yaml_parse ("e.yaml", "", 0, NULL, &err);
    assert (doc && ab_ynode_kind (doc) == AB_YNODE_MAP && ab_ynode_size (doc) == 0);
    ab_ynode_destroy (&doc);

    //  Errors name file:line:col and change nothing.
    assert (!s_parse_str ("a: 1\nb: [1, 2\n", &err));
    assert (err && strstr (err->msg, "t.yaml:") && strstr (err->msg, "YAML syntax"));
    assert (!s_parse_str ("a: 1\nb: 2\na: 3\n", &err));
    assert (strcmp (err->msg, "t.yaml:3:1: key \"a\": duplicate key") == 0);
    assert (!s_parse_str ("? [a]\n: 1\n", &err));
    assert (strstr (err->msg, "a map key must be a scalar"));
    assert (!s_parse_str ("a: *nope\n", &err));
    assert (strstr (err->msg, "t.yaml:1:4: alias *nope"));
    assert (!s_parse_str ("a: 1\n---\nb: 2\n", &err));
    assert (strstr (err->msg, "only one YAML document"));
    assert (!ab_yaml_parse ("z.yaml", "a: 1\0", 5, NULL, &err));
    assert (strstr (err->msg, "NUL"));
    {
        char *wide = malloc (10002 * 3 + 3);
        char *w = wide;
        *w++ = '[';
        for (int k = 0; k < 10002; k++)
            w += sprintf (w, "1,");
        w[-1] = ']';
        *w = 0;
        assert (!ab_yaml_parse ("w.yaml", wide, strlen (wide), NULL, &err));
        assert (strstr (err->msg, "more than 10000 entries in one list"));
        free (wide);
    }

    //  ab_ynode_map: every scalar value through fn with its key and the key
    //  of the map holding it; keys untouched; positions kept; any failure
    //  fails the copy after every scalar was seen.
    {
        ab_ynode_t *t = s_parse_str ("env: {A: x}\nlist: [y, {B: z}]\n", &err);
        assert (t);
        int calls = 0;
        ab_ynode_t *m = ab_ynode_map (t, "top", s_tag_fn, &calls);
        assert (m && calls == 3);
        assert (!strcmp (ab_ynode_str (ab_ynode_get (ab_ynode_get (m, "env"), "A")), "A|env|x"));
        const ab_ynode_t *list = ab_ynode_get (m, "list");
        assert (!strcmp (ab_ynode_str (ab_ynode_at (list, 0)), "list|-|y"));
        const ab_ynode_t *b = ab_ynode_get (ab_ynode_at (list, 1), "B");
        assert (!strcmp (ab_ynode_str (b), "B|list|z") && ab_ynode_line (b) == 2);
        ab_ynode_destroy (&m);
        ab_ynode_destroy (&t);
        t = s_parse_str ("a: bad\nb: [bad, ok]\n", &err);
        calls = 0;
        assert (!ab_ynode_map (t, "top", s_tag_fn, &calls) && calls == 3);
        ab_ynode_destroy (&t);
    }

    //  Limits: size, depth, and alias expansion ("billion laughs").
    ab_yaml_limits_t small = { .max_size = 4 };
    assert (!ab_yaml_parse ("big.yaml", "a: 12345", 8, &small, &err));
    assert (err->code == AB_E_OVERSIZE && strstr (err->msg, "big.yaml: file is 8 bytes"));
    char deep[400];
    memset (deep, '[', 200);
    memset (deep + 200, ']', 200);
    assert (!ab_yaml_parse ("d.yaml", deep, sizeof deep, NULL, &err));
    assert (strstr (err->msg, "nesting deeper than 64 levels"));
    const char *laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, "
                         "*a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, "
                         "*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, "
                         "*d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n";
    assert (!s_parse_str (laughs, &err));
    assert (strstr (err->msg, "more than 100000 nodes"));
    ab_error_destroy (&err);
    if (verbose)
        printf ("(limits held) ");
    printf ("OK\n");
}
