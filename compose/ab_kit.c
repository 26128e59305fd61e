/*  ab_kit - abbey's own manifest format: kits of services and stacks      */
//  Why: selftests assert behaviour, and the default build type defines NDEBUG.
#undef NDEBUG
#include "ab_kit.h"
#include "ab_expr.h"
#include "ab_field.h"
#include "ab_spec.h"
#include "ab_yaml.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_AT(n) ab_ynode_file (n), ab_ynode_line (n), ab_ynode_col (n)

typedef struct {
    char *name;           //  "ns/name"
    char *ns;             //  namespace part
    ab_ynode_t *node;     //  the definition as written, owned
    bool external;        //  came from the lookup callback
    ab_ynode_t *resolved; //  inheritance applied, owned; NULL until resolved
    json_t *chain;        //  ancestors' names, nearest first
    int state;            //  0 new, 1 resolving, 2 resolved, 3 failed
} s_def_t;

typedef struct {
    char *service;  //  service name or ns/name
    char *variable; //  variable name
    char *value;    //  value text
    char *where;    //  "--set api.pool=20" or "values.yaml:3:9"
} s_override_t;

struct _ab_kit_t {
    s_def_t *defs; //  definitions, local then external
    size_t ndefs;
    size_t alloc;
    size_t nlocal; //  how many came from loaded documents
    s_override_t *overrides;
    size_t noverrides;
    ab_kit_lookup_fn *lookup;
    void *lookup_arg;
    char *first_ns; //  namespace of the first document loaded
};

static const char *const s_service_keys[]
    = { "defines",  "inherits",  "version",     "description", "image",
        "build",    "command",   "entrypoint",  "env",         "ports",
        "replicas", "resources", "volumes",     "checks",      "connections",
        "depends",  "variables", "recovery",    "update",      "affinity",
        "labels",   "user",      "working-dir", "hostname",    NULL };
static const char *const s_stack_keys[]
    = { "defines", "inherits", "version", "description", "members", NULL };

ab_kit_t *
ab_kit_new (void)
{
    return calloc (1, sizeof (ab_kit_t));
}

void
ab_kit_destroy (ab_kit_t **self_p)
{
    assert (self_p);
    ab_kit_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->ndefs; i++) {
        free (self->defs[i].name);
        free (self->defs[i].ns);
        ab_ynode_destroy (&self->defs[i].node);
        ab_ynode_destroy (&self->defs[i].resolved);
        json_decref (self->defs[i].chain);
    }
    free (self->defs);
    for (size_t i = 0; i < self->noverrides; i++) {
        free (self->overrides[i].service);
        free (self->overrides[i].variable);
        free (self->overrides[i].value);
        free (self->overrides[i].where);
    }
    free (self->overrides);
    free (self->first_ns);
    free (self);
    *self_p = NULL;
}

void
ab_kit_set_lookup (ab_kit_t *self, ab_kit_lookup_fn *fn, void *arg)
{
    assert (self);
    self->lookup = fn;
    self->lookup_arg = arg;
}

size_t
ab_kit_size (const ab_kit_t *self)
{
    assert (self);
    return self->nlocal;
}

const char *
ab_kit_name (const ab_kit_t *self, size_t index)
{
    assert (self);
    assert (index < self->nlocal);
    return self->defs[index].name;
}

static s_def_t *
s_find (ab_kit_t *self, const char *name)
{
    for (size_t i = 0; i < self->ndefs; i++)
        if (strcmp (self->defs[i].name, name) == 0)
            return &self->defs[i];
    return NULL;
}

//  "name" → "ns/name" in namespace ns; "a/b" stays. Caller frees.
static char *
s_qualify (const char *ns, const char *name)
{
    char *out = NULL;
    if (strchr (name, '/'))
        return strdup (name);
    if (asprintf (&out, "%s/%s", ns, name) < 0)
        return NULL;
    return out;
}

static bool
s_qualified_ok (const char *name)
{
    const char *slash = strchr (name, '/');
    if (!slash || strchr (slash + 1, '/') || slash - name > AB_SPEC_NAME_MAX)
        return false;
    char ns[AB_SPEC_NAME_MAX + 1];
    memcpy (ns, name, slash - name);
    ns[slash - name] = 0;
    return ab_spec_name_ok (ns) && ab_spec_name_ok (slash + 1);
}

static s_def_t *
s_add_def (ab_kit_t *self, const char *ns, const char *name, ab_ynode_t **node_p, bool external)
{
    if (self->ndefs == self->alloc) {
        size_t alloc = self->alloc ? self->alloc * 2 : 16;
        s_def_t *defs = realloc (self->defs, alloc * sizeof *defs);
        if (!defs)
            return NULL;
        self->defs = defs;
        self->alloc = alloc;
    }
    s_def_t *def = &self->defs[self->ndefs];
    memset (def, 0, sizeof *def);
    def->name = s_qualify (ns, name);
    def->ns = strdup (ns);
    def->node = *node_p;
    def->external = external;
    *node_p = NULL;
    self->ndefs++;
    if (!external) {
        //  Why keep local definitions first: ab_kit_name indexes them, and
        //  external ones are only a cache of lookups.
        size_t at = self->nlocal++;
        if (at != self->ndefs - 1) {
            s_def_t tmp = self->defs[at];
            self->defs[at] = self->defs[self->ndefs - 1];
            self->defs[self->ndefs - 1] = tmp;
        }
        def = &self->defs[at];
    }
    return def;
}

int
ab_kit_load (ab_kit_t *self, const char *file, const char *text, size_t size, ab_diag_t *diag)
{
    assert (self && diag);
    ab_error_t *err = NULL;
    ab_ynode_t *doc = ab_yaml_parse (file, text, size, NULL, &err);
    if (!doc) {
        ab_diag_error_at (diag, NULL, "%s", ab_error_msg (err));
        ab_error_destroy (&err);
        return -1;
    }
    size_t before = ab_diag_errors (diag);
    const char *ns = NULL;
    ab_ynode_t *nsnode = ab_ynode_get (doc, "namespace");
    if (ab_ynode_kind (doc) != AB_YNODE_MAP)
        ab_field_wrong (doc, "(document)", "a map of definitions", diag);
    else if (!nsnode)
        ab_diag_error (
            diag, S_AT (doc),
            "key \"namespace\": missing (every kit document starts with namespace: NAME)");
    else if (ab_field_string (nsnode, "namespace", diag, &ns) == 0 && !ab_spec_name_ok (ns)) {
        ab_diag_error (
            diag, S_AT (nsnode),
            "key \"namespace\": \"%s\" is not a valid name (letters, digits, - _ . up to 63)", ns);
        ns = NULL;
    }
    for (size_t i = 0; ns && i < ab_ynode_size (doc); i++) {
        const char *key = ab_ynode_key (doc, i);
        ab_ynode_t *keynode = ab_ynode_key_at (doc, i);
        ab_ynode_t *def = ab_ynode_at (doc, i);
        if (!strcmp (key, "namespace") || !strncmp (key, "x-", 2))
            continue;
        if (!ab_spec_name_ok (key)) {
            ab_diag_error (diag, S_AT (keynode),
                           "definition \"%s\": not a valid name (letters, digits, - _ . up to 63)",
                           key);
            continue;
        }
        if (ab_field_map (def, key, diag))
            continue;
        if (!ab_ynode_get (def, "defines") && !ab_ynode_get (def, "inherits")) {
            ab_diag_error (diag, S_AT (keynode),
                           "definition \"%s\": needs \"defines: service\", \"defines: stack\" or "
                           "\"inherits: NS/NAME\"",
                           key);
            continue;
        }
        static const char *const kinds[] = { "service", "stack", NULL };
        const ab_ynode_t *defines = ab_ynode_get (def, "defines");
        const char *kind;
        if (defines && ab_field_enum (defines, "defines", kinds, diag, &kind))
            continue;
        char *full = s_qualify (ns, key);
        s_def_t *dup = full ? s_find (self, full) : NULL;
        if (dup && !dup->external) {
            char *where = ab_ynode_where (dup->node);
            ab_diag_error (diag, S_AT (keynode), "definition \"%s\": already defined at %s", full,
                           where ? where : "?");
            free (where);
            free (full);
            continue;
        }
        free (full);
        if (self->nlocal >= AB_KIT_MAX_DEFS) {
            ab_diag_error (diag, S_AT (keynode), "more than %d definitions; limit reached",
                           AB_KIT_MAX_DEFS);
            break;
        }
        ab_ynode_t *copy = ab_ynode_dup (def);
        if (copy)
            s_add_def (self, ns, key, &copy, false);
    }
    if (ns && !self->first_ns)
        self->first_ns = strdup (ns);
    ab_ynode_destroy (&doc);
    return ab_diag_errors (diag) > before ? -1 : 0;
}

static int
s_add_override (ab_kit_t *self, const char *service, const char *variable, const char *value,
                const char *where)
{
    s_override_t *o = realloc (self->overrides, (self->noverrides + 1) * sizeof *o);
    if (!o)
        return -1;
    self->overrides = o;
    o = &self->overrides[self->noverrides++];
    o->service = strdup (service);
    o->variable = strdup (variable);
    o->value = strdup (value);
    o->where = strdup (where);
    return 0;
}

int
ab_kit_set (ab_kit_t *self, const char *assignment, ab_diag_t *diag)
{
    assert (self && assignment && diag);
    const char *eq = strchr (assignment, '=');
    const char *dot = eq ? memrchr (assignment, '.', eq - assignment) : NULL;
    if (!eq || !dot || dot == assignment || dot + 1 == eq)
        return ab_diag_error_at (
            diag, NULL, "--set %s: expected SERVICE.VARIABLE=VALUE, e.g. --set api.pool=20",
            assignment);
    ab_auto_free char *service = strndup (assignment, dot - assignment);
    ab_auto_free char *variable = strndup (dot + 1, eq - dot - 1);
    ab_auto_free char *where = NULL;
    if (asprintf (&where, "--set %s", assignment) < 0)
        return -1;
    return s_add_override (self, service, variable, eq + 1, where);
}

int
ab_kit_values (ab_kit_t *self, const char *file, const char *text, size_t size, ab_diag_t *diag)
{
    assert (self && diag);
    ab_error_t *err = NULL;
    ab_ynode_t *doc = ab_yaml_parse (file, text, size, NULL, &err);
    if (!doc) {
        ab_diag_error_at (diag, NULL, "%s", ab_error_msg (err));
        ab_error_destroy (&err);
        return -1;
    }
    size_t before = ab_diag_errors (diag);
    if (ab_field_map (doc, "(values file)", diag) == 0)
        for (size_t i = 0; i < ab_ynode_size (doc); i++) {
            ab_ynode_t *vars = ab_ynode_at (doc, i);
            if (ab_field_map (vars, ab_ynode_key (doc, i), diag))
                continue;
            for (size_t k = 0; k < ab_ynode_size (vars); k++) {
                const char *value;
                ab_ynode_t *v = ab_ynode_at (vars, k);
                if (ab_field_string (v, ab_ynode_key (vars, k), diag, &value))
                    continue;
                char *where = ab_ynode_where (v);
                s_add_override (self, ab_ynode_key (doc, i), ab_ynode_key (vars, k), value,
                                where ? where : file);
                free (where);
            }
        }
    ab_ynode_destroy (&doc);
    return ab_diag_errors (diag) > before ? -1 : 0;
}

//  --------------------------------------------------------------------------
//  Resolution of names and inheritance

//  A definition by qualified name: loaded, or fetched through the lookup.
//  NULL if none; a failed lookup is reported at `at`.
static s_def_t *
s_get (ab_kit_t *self, const char *name, const ab_ynode_t *at, ab_diag_t *diag)
{
    s_def_t *def = s_find (self, name);
    if (def || !self->lookup || !s_qualified_ok (name))
        return def;
    ab_error_t *err = NULL;
    size_t size = 0;
    char *text = self->lookup (self->lookup_arg, name, &size, &err);
    if (!text) {
        if (err)
            ab_diag_error (diag, S_AT (at), "looking up published kit \"%s\": %s", name,
                           ab_error_msg (err));
        ab_error_destroy (&err);
        return NULL;
    }
    char label[200];
    snprintf (label, sizeof label, "kit:%s", name);
    ab_ynode_t *doc = ab_yaml_parse (label, text, size, NULL, &err);
    free (text);
    if (!doc || ab_ynode_kind (doc) != AB_YNODE_MAP || !ab_ynode_get (doc, "defines")) {
        ab_diag_error (diag, S_AT (at), "published kit \"%s\" is not a definition%s%s", name,
                       err ? ": " : "", err ? ab_error_msg (err) : "");
        ab_error_destroy (&err);
        ab_ynode_destroy (&doc);
        return NULL;
    }
    const char *slash = strchr (name, '/');
    char ns[AB_SPEC_NAME_MAX + 1];
    memcpy (ns, name, slash - name);
    ns[slash - name] = 0;
    return s_add_def (self, ns, slash + 1, &doc, true);
}

static const char *
s_defines (const s_def_t *def)
{
    const ab_ynode_t *node = def->resolved ? def->resolved : def->node;
    const ab_ynode_t *d = ab_ynode_get (node, "defines");
    //  Load checked `defines`; "" covers an inherited chain without one.
    return d && ab_ynode_str (d) ? ab_ynode_str (d) : "";
}

//  Resolve def's inheritance; on a cycle, name it. path holds the chain
//  being resolved (for the message). Returns -1 if def cannot be used.
static int
s_resolve (ab_kit_t *self, size_t index, const char **path, size_t depth, ab_diag_t *diag)
{
    s_def_t *def = &self->defs[index];
    if (def->state == 2)
        return 0;
    if (def->state == 3)
        return -1;
    ab_ynode_t *inh = ab_ynode_get (def->node, "inherits");
    if (!inh) {
        def->resolved = ab_ynode_dup (def->node);
        def->chain = json_array ();
        //  A published document has its inheritance applied; `ancestors`
        //  keeps the chain so it still stands in for its parents.
        const ab_ynode_t *anc = def->external ? ab_ynode_get (def->node, "ancestors") : NULL;
        for (size_t i = 0; anc && i < ab_ynode_size (anc); i++) {
            const char *name = ab_ynode_str (ab_ynode_at (anc, i));
            if (name && s_qualified_ok (name))
                json_array_append_new (def->chain, json_string (name));
        }
        ab_ynode_remove (def->resolved, "ancestors");
        def->state = 2;
        return 0;
    }
    const char *pname;
    if (ab_field_string (inh, "inherits", diag, &pname)) {
        def->state = 3;
        return -1;
    }
    char *parent_name = s_qualify (def->ns, pname);
    path[depth] = def->name;
    def->state = 1;
    int rc = 0;
    s_def_t *parent = parent_name ? s_get (self, parent_name, inh, diag) : NULL;
    //  s_get may grow the array: refresh the pointer.
    def = &self->defs[index];
    if (!parent) {
        char *hint_names[AB_KIT_MAX_DEFS + 1];
        size_t n = 0;
        for (size_t i = 0; i < self->ndefs && n < AB_KIT_MAX_DEFS; i++)
            hint_names[n++] = self->defs[i].name;
        hint_names[n] = NULL;
        const char *hint
            = ab_field_suggest (parent_name ? parent_name : pname, (const char *const *)hint_names);
        if (hint)
            ab_diag_error (diag, S_AT (inh),
                           "key \"inherits\": no kit \"%s\" (did you mean \"%s\"?)",
                           parent_name ? parent_name : pname, hint);
        else
            ab_diag_error (diag, S_AT (inh),
                           "key \"inherits\": no kit \"%s\" is loaded or published",
                           parent_name ? parent_name : pname);
        rc = -1;
    } else if (parent->state == 1) {
        char chain[2048] = "";
        size_t start = 0;
        while (start < depth && strcmp (path[start], parent->name) != 0)
            start++;
        for (size_t k = start; k <= depth; k++) {
            strncat (chain, path[k], sizeof chain - strlen (chain) - 1);
            strncat (chain, " -> ", sizeof chain - strlen (chain) - 1);
        }
        strncat (chain, parent->name, sizeof chain - strlen (chain) - 1);
        ab_diag_error (diag, S_AT (inh), "key \"inherits\": inherits cycle: %s", chain);
        rc = -1;
    } else if (depth + 1 >= AB_KIT_MAX_INHERITS) {
        ab_diag_error (diag, S_AT (inh), "key \"inherits\": chain longer than %d",
                       AB_KIT_MAX_INHERITS);
        rc = -1;
    } else {
        size_t pindex = (size_t)(parent - self->defs);
        rc = s_resolve (self, pindex, path, depth + 1, diag);
        def = &self->defs[index];
        parent = &self->defs[pindex];
        const ab_ynode_t *own = ab_ynode_get (def->node, "defines");
        if (rc == 0 && own && ab_ynode_str (own)
            && strcmp (ab_ynode_str (own), s_defines (parent))) {
            ab_diag_error (diag, S_AT (own),
                           "definition \"%s\" defines %s but inherits \"%s\", which defines %s",
                           def->name, ab_ynode_str (own), parent->name, s_defines (parent));
            rc = -1;
        }
        if (rc == 0) {
            def->resolved = ab_ynode_merge (parent->resolved, def->node);
            ab_ynode_remove (def->resolved, "inherits");
            //  Why: a version names what was published under it, so a child
            //  does not carry its parent's.
            if (!ab_ynode_get (def->node, "version"))
                ab_ynode_remove (def->resolved, "version");
            def->chain = json_array ();
            json_array_append_new (def->chain, json_string (parent->name));
            json_array_extend (def->chain, parent->chain);
        }
    }
    free (parent_name);
    def->state = rc == 0 ? 2 : 3;
    return rc;
}

static s_def_t *
s_resolved (ab_kit_t *self, s_def_t *def, ab_diag_t *diag)
{
    const char *path[AB_KIT_MAX_INHERITS + 1];
    size_t index = (size_t)(def - self->defs);
    //  Why repeat it: the first failure was reported to an earlier diag;
    //  every caller must still learn why this definition is unusable.
    if (def->state == 3)
        return ab_diag_error (diag, S_AT (def->node),
                              "definition \"%s\": cannot be used: its inheritance has an error",
                              def->name),
               NULL;
    if (s_resolve (self, index, path, 0, diag))
        return NULL;
    return &self->defs[index];
}

//  --------------------------------------------------------------------------
//  Compiling one service

typedef struct {
    char *service;        //  name in the stack
    char *def;            //  ns/name of the member definition
    json_t *chain;        //  its ancestors
    const ab_ynode_t *at; //  where it was named
} s_member_t;

typedef struct {
    const char *name;         //  variable name
    const char *type;         //  string int float bool
    const char *env;          //  container env var bound to it, or NULL
    bool required;            //  must have a value
    const ab_ynode_t *node;   //  declaration
    const ab_ynode_t *value;  //  value node, or NULL
    const s_override_t *over; //  deploy-time override, or NULL
    json_t *result;           //  evaluated value (null = none), owned
    int state;                //  0 new, 1 evaluating, 2 done, 3 failed
} s_var_t;

typedef struct {
    ab_kit_t *kit;
    ab_diag_t *diag;
    const char *service; //  this service's name in the stack
    s_member_t *members; //  the stack's services
    size_t nmembers;
    s_var_t *vars;
    size_t nvars;
    json_t *connections; //  name → {target, port}
    json_t *secrets;     //  stack-level secrets referenced, shared
} s_svc_t;

static int s_var_eval (s_svc_t *s, s_var_t *v);

static json_t *
s_cb_variable (void *arg, const char *name, ab_error_t **err)
{
    s_svc_t *s = arg;
    for (size_t i = 0; i < s->nvars; i++)
        if (strcmp (s->vars[i].name, name) == 0) {
            s_var_t *v = &s->vars[i];
            if (v->state == 1) {
                ab_error_set (err, AB_E_INVALID,
                              "variables refer to each other in a cycle through \"%s\"", name);
                return NULL;
            }
            if (s_var_eval (s, v)) {
                ab_error_set (err, AB_E_INVALID, "variable \"%s\" has no valid value", name);
                return NULL;
            }
            return json_incref (v->result);
        }
    ab_error_set (err, AB_E_NOT_FOUND, "service \"%s\" has no variable \"%s\"", s->service, name);
    return NULL;
}

static json_t *
s_cb_connection (void *arg, const char *name, const char *what, ab_error_t **err)
{
    s_svc_t *s = arg;
    json_t *conn = json_object_get (s->connections, name);
    if (!conn) {
        ab_error_set (err, AB_E_NOT_FOUND, "service \"%s\" has no connection \"%s\"", s->service,
                      name);
        return NULL;
    }
    if (!strcmp (what, "hostname"))
        //  Why the service name: netmgr serves each stack's services by name
        //  on the stack's network, as docker-compose does.
        return json_incref (json_object_get (conn, "target"));
    json_t *port = json_object_get (conn, "port");
    if (!port) {
        ab_error_set (err, AB_E_INVALID, "connection \"%s\" has no port", name);
        return NULL;
    }
    return json_incref (port);
}

//  Convert a value to a variable's type; NULL and *err if it cannot be.
static json_t *
s_convert (json_t *value, const char *type, ab_error_t **err)
{
    if (json_is_null (value))
        return json_null ();
    bool secret = json_is_object (value) && json_object_get (value, "secret");
    if (!strcmp (type, "string")) {
        if (secret)
            return json_incref (value);
        char *t = ab_expr_to_text (value);
        json_t *out = t ? json_string (t) : NULL;
        free (t);
        if (!out)
            ab_error_set (err, AB_E_INVALID, "expected a string");
        return out;
    }
    const char *text = json_string_value (value);
    if (!strcmp (type, "int")) {
        if (json_is_integer (value))
            return json_incref (value);
        char *end = NULL;
        long long i = text && *text ? strtoll (text, &end, 10) : 0;
        if (text && *text && !*end)
            return json_integer (i);
    } else if (!strcmp (type, "float")) {
        if (json_is_number (value))
            return json_real (json_number_value (value));
        char *end = NULL;
        double d = text && *text ? strtod (text, &end) : 0;
        if (text && *text && !*end)
            return json_real (d);
    } else if (!strcmp (type, "bool")) {
        if (json_is_boolean (value))
            return json_incref (value);
        if (text && (!strcmp (text, "true") || !strcmp (text, "false")))
            return json_boolean (text[0] == 't');
    }
    char *t = ab_expr_to_text (value);
    ab_error_set (err, AB_E_INVALID, "expected %s, got %s%s%s",
                  !strcmp (type, "int")     ? "an int"
                  : !strcmp (type, "float") ? "a float"
                                            : "a bool",
                  t ? "\"" : "",
                  t        ? t
                  : secret ? "a secret"
                           : "a structure",
                  t ? "\"" : "");
    free (t);
    return NULL;
}

//  A plain YAML scalar as a JSON value, typed as written.
static json_t *
s_literal (const ab_ynode_t *node)
{
    if (ab_ynode_quoted (node))
        return json_string (ab_ynode_str (node));
    return ab_ynode_to_json (node);
}

static int
s_var_eval (s_svc_t *s, s_var_t *v)
{
    if (v->state == 2)
        return 0;
    if (v->state == 3)
        return -1;
    v->state = 1;
    ab_error_t *err = NULL;
    json_t *raw = NULL;
    const ab_ynode_t *at = v->value ? v->value : v->node;
    const char *where_text = NULL;
    if (v->over) {
        raw = json_string (v->over->value);
        where_text = v->over->where;
    } else if (!v->value || ab_ynode_is_null (v->value))
        raw = json_null ();
    else if (ab_ynode_kind (v->value) != AB_YNODE_SCALAR)
        ab_error_set (&err, AB_E_INVALID, "expected a scalar value, got %s",
                      ab_ynode_kind_name (v->value));
    else if (ab_expr_is (ab_ynode_str (v->value)))
        raw = ab_expr_eval (ab_ynode_str (v->value),
                            &(ab_expr_env_t){ s_cb_variable, s_cb_connection, s }, &err);
    else if (ab_expr_has_interpolation (ab_ynode_str (v->value)))
        raw = ab_expr_interpolate (ab_ynode_str (v->value),
                                   &(ab_expr_env_t){ s_cb_variable, s_cb_connection, s }, &err);
    else
        raw = s_literal (v->value);
    json_t *out = raw ? s_convert (raw, v->type, &err) : NULL;
    json_decref (raw);
    if (out && json_is_null (out) && v->required) {
        ab_error_set (&err, AB_E_INVALID,
                      "missing required variable \"%s\" of service \"%s\" (give it a value, or "
                      "--set %s.%s=VALUE)",
                      v->name, s->service, s->service, v->name);
        json_decref (out);
        out = NULL;
    }
    if (!out) {
        //  The required-variable message names the variable itself.
        const char *prefix
            = strncmp (ab_error_msg (err), "missing required", 16) ? "variable \"" : "";
        const char *name = *prefix ? v->name : "";
        const char *suffix = *prefix ? "\": " : "";
        if (where_text)
            ab_diag_error_at (s->diag, where_text, "%s%s%s%s", prefix, name, suffix,
                              ab_error_msg (err));
        else
            ab_diag_error (s->diag, S_AT (at), "%s%s%s%s", prefix, name, suffix,
                           ab_error_msg (err));
        ab_error_destroy (&err);
        v->state = 3;
        return -1;
    }
    v->result = out;
    v->state = 2;
    return 0;
}

//  Parse `variables:` and attach overrides. -1 on a bad declaration.
static int
s_vars_parse (s_svc_t *s, const ab_ynode_t *vars, const char *defname)
{
    if (!vars)
        return 0;
    if (ab_field_map (vars, "variables", s->diag))
        return -1;
    s->vars = calloc (ab_ynode_size (vars) + 1, sizeof *s->vars);
    if (!s->vars)
        return -1;
    static const char *const keys[] = { "type", "env", "value", "required", "description", NULL };
    static const char *const types[] = { "string", "int", "float", "bool", NULL };
    int rc = 0;
    for (size_t i = 0; i < ab_ynode_size (vars); i++) {
        s_var_t *v = &s->vars[s->nvars];
        v->name = ab_ynode_key (vars, i);
        v->node = ab_ynode_key_at (vars, i);
        const ab_ynode_t *decl = ab_ynode_at (vars, i);
        v->type = "string";
        if (ab_ynode_kind (decl) == AB_YNODE_SCALAR) {
            //  Shorthand `pool: 10`: the type is what the literal is.
            v->value = decl;
            int64_t iv;
            double dv;
            bool bv;
            if (!ab_ynode_quoted (decl) && !ab_expr_is (ab_ynode_str (decl))) {
                if (ab_ynode_int (decl, &iv))
                    v->type = "int";
                else if (ab_ynode_number (decl, &dv))
                    v->type = "float";
                else if (ab_ynode_bool (decl, &bv))
                    v->type = "bool";
            }
        } else if (ab_field_map (decl, v->name, s->diag) || ab_field_keys (decl, keys, s->diag)) {
            rc = -1;
            continue;
        } else {
            const ab_ynode_t *n;
            if ((n = ab_ynode_get (decl, "type"))
                && ab_field_enum (n, "type", types, s->diag, &v->type))
                rc = -1;
            if ((n = ab_ynode_get (decl, "env")) && ab_field_string (n, "env", s->diag, &v->env))
                rc = -1;
            if ((n = ab_ynode_get (decl, "required"))
                && ab_field_bool (n, "required", s->diag, &v->required))
                rc = -1;
            v->value = ab_ynode_get (decl, "value");
        }
        s->nvars++;
    }
    for (size_t o = 0; o < s->kit->noverrides; o++) {
        s_override_t *over = &s->kit->overrides[o];
        if (strcmp (over->service, s->service) && strcmp (over->service, defname))
            continue;
        for (size_t i = 0; i < s->nvars; i++)
            if (!strcmp (s->vars[i].name, over->variable))
                s->vars[i].over = over;
    }
    return rc;
}

//  The stack service a target names: the member itself, or a member that
//  inherits from it (a derived kit stands in for its parent).
static const char *
s_member_for (s_svc_t *s, const char *target)
{
    for (size_t i = 0; i < s->nmembers; i++)
        if (!strcmp (s->members[i].def, target))
            return s->members[i].service;
    for (size_t i = 0; i < s->nmembers; i++) {
        size_t k;
        json_t *anc;
        json_array_foreach (s->members[i].chain, k,
                            anc) if (!strcmp (json_string_value (anc), target)) return s->members[i]
            .service;
    }
    return NULL;
}

static int
s_connections (s_svc_t *s, const ab_ynode_t *node, const char *ns, json_t *marks)
{
    s->connections = json_object ();
    if (!node)
        return 0;
    if (ab_field_map (node, "connections", s->diag))
        return -1;
    static const char *const keys[] = { "target", "port", NULL };
    json_t *cmarks = json_object ();
    json_object_set_new (marks, "connections", cmarks);
    int rc = 0;
    for (size_t i = 0; i < ab_ynode_size (node); i++) {
        const char *name = ab_ynode_key (node, i);
        const ab_ynode_t *c = ab_ynode_at (node, i);
        const ab_ynode_t *t = ab_ynode_get (c, "target");
        const char *target;
        if (ab_field_map (c, name, s->diag) || ab_field_keys (c, keys, s->diag)) {
            rc = -1;
            continue;
        }
        if (!t) {
            rc = ab_diag_error (s->diag, S_AT (c), "connection \"%s\": missing key \"target\"",
                                name);
            continue;
        }
        if (ab_field_string (t, "target", s->diag, &target)) {
            rc = -1;
            continue;
        }
        char *full = s_qualify (ns, target);
        const char *svc = full ? s_member_for (s, full) : NULL;
        json_t *conn = json_object ();
        //  An unknown target is kept as written; ab_spec_check reports it.
        json_object_set_new (conn, "target", json_string (svc ? svc : target));
        free (full);
        int64_t port;
        const ab_ynode_t *p = ab_ynode_get (c, "port");
        if (p && ab_field_int (p, "port", 1, 65535, s->diag, &port) == 0)
            json_object_set_new (conn, "port", json_integer (port));
        else if (p)
            rc = -1;
        json_object_set_new (s->connections, name, conn);
        json_object_set_new (cmarks, name, ab_field_mark (t));
    }
    return rc;
}

//  One scalar of a service body with its expression or ${…} evaluated
//  (ab_ynode_map_fn). secret() results are allowed only as a whole value in
//  the env map: a secret must reach the agent as a reference, and env
//  values are the one place a container receives it.
static ab_ynode_t *
s_eval_scalar (void *arg, const ab_ynode_t *node, const char *key, const char *holder)
{
    s_svc_t *s = (s_svc_t *)arg;
    bool secret_ok = holder && !strcmp (holder, "env");
    const char *text = ab_ynode_str (node);
    bool expr = ab_expr_is (text);
    bool interp = !expr && ab_expr_has_interpolation (text);
    if (!expr && !interp)
        return ab_ynode_dup (node);
    ab_error_t *err = NULL;
    ab_expr_env_t env = { s_cb_variable, s_cb_connection, s };
    json_t *v = expr ? ab_expr_eval (text, &env, &err) : ab_expr_interpolate (text, &env, &err);
    if (!v) {
        ab_diag_error (s->diag, S_AT (node), "key \"%s\": %s", key, ab_error_msg (err));
        ab_error_destroy (&err);
        return NULL;
    }
    ab_ynode_t *out = NULL;
    if (json_is_object (v)) {
        if (!secret_ok) {
            ab_diag_error (s->diag, S_AT (node),
                           "key \"%s\": secret() can only be a whole env value", key);
            json_decref (v);
            return NULL;
        }
        out = ab_ynode_new_map (node);
        ab_ynode_t *name
            = ab_ynode_new_scalar (json_string_value (json_object_get (v, "secret")), node);
        ab_ynode_set_quoted (name, true);
        ab_ynode_put (out, "secret", &name);
        json_object_set_new (s->secrets, json_string_value (json_object_get (v, "secret")),
                             json_pack ("{s:s}", "source", "cluster"));
    } else {
        char *t = ab_expr_to_text (v);
        out = ab_ynode_new_scalar (t ? t : "", node);
        //  Strings stay strings; numbers and booleans read as written.
        if (out && json_is_string (v))
            ab_ynode_set_quoted (out, true);
        free (t);
    }
    json_decref (v);
    return out;
}

//  A port: 8080 | "8080:80" | "80/udp" | {port|container, host, protocol}.
static json_t *
s_port (s_svc_t *s, const ab_ynode_t *node)
{
    int64_t container = 0, host = 0;
    const char *protocol = "tcp";
    static const char *const protocols[] = { "tcp", "udp", NULL };
    if (ab_ynode_kind (node) == AB_YNODE_MAP) {
        static const char *const keys[] = { "port", "container", "host", "protocol", NULL };
        if (ab_field_keys (node, keys, s->diag))
            return NULL;
        const ab_ynode_t *c = ab_ynode_get (node, "container") ? ab_ynode_get (node, "container")
                                                               : ab_ynode_get (node, "port");
        const ab_ynode_t *h = ab_ynode_get (node, "host");
        const ab_ynode_t *p = ab_ynode_get (node, "protocol");
        if (!c) {
            ab_diag_error (s->diag, S_AT (node), "key \"ports\": a port map needs \"container\"");
            return NULL;
        }
        if (ab_field_int (c, "container", 1, 65535, s->diag, &container)
            || (h && ab_field_int (h, "host", 1, 65535, s->diag, &host))
            || (p && ab_field_enum (p, "protocol", protocols, s->diag, &protocol)))
            return NULL;
    } else if (ab_ynode_int (node, &container)) {
        if (container < 1 || container > 65535) {
            ab_field_int (node, "ports", 1, 65535, s->diag, &container);
            return NULL;
        }
    } else {
        const char *text = ab_ynode_str (node);
        char proto[8] = "tcp";
        unsigned a = 0, b = 0;
        int used = 0;
        if (!text
            || !((sscanf (text, "%u:%u%n", &a, &b, &used) == 2 && (size_t)used == strlen (text))
                 || (sscanf (text, "%u:%u/%3[a-z]%n", &a, &b, proto, &used) == 3
                     && (size_t)used == strlen (text))
                 || (sscanf (text, "%u/%3[a-z]%n", &b, proto, &used) == 2
                     && (size_t)used == strlen (text))
                 || (sscanf (text, "%u%n", &b, &used) == 1 && (size_t)used == strlen (text)))
            || a > 65535 || b < 1 || b > 65535
            || (strcmp (proto, "tcp") && strcmp (proto, "udp"))) {
            ab_field_wrong (node, "ports",
                            "a port like 8080, \"8080:80\", \"53/udp\" or {container, host}",
                            s->diag);
            return NULL;
        }
        container = b;
        host = a;
        protocol = !strcmp (proto, "udp") ? "udp" : "tcp";
    }
    json_t *port
        = json_pack ("{s:I,s:s}", "container", (json_int_t)container, "protocol", protocol);
    if (host)
        json_object_set_new (port, "host", json_integer (host));
    return port;
}

//  A volume: "name:/path[:ro]" | "/host:/path[:ro]" | {type, source, target, read-only}.
static json_t *
s_volume (s_svc_t *s, const ab_ynode_t *node, json_t *volumes)
{
    const char *type = NULL, *source = NULL, *target = NULL;
    bool ro = false;
    char *buf = NULL;
    if (ab_ynode_kind (node) == AB_YNODE_MAP) {
        static const char *const keys[] = { "type", "source", "target", "read-only", NULL };
        static const char *const types[] = { "volume", "bind", "tmpfs", NULL };
        const ab_ynode_t *n;
        if (ab_field_keys (node, keys, s->diag))
            return NULL;
        if (!(n = ab_ynode_get (node, "target"))) {
            ab_diag_error (s->diag, S_AT (node), "key \"volumes\": a volume map needs \"target\"");
            return NULL;
        }
        if (ab_field_string (n, "target", s->diag, &target)
            || ((n = ab_ynode_get (node, "type"))
                && ab_field_enum (n, "type", types, s->diag, &type))
            || ((n = ab_ynode_get (node, "source"))
                && ab_field_string (n, "source", s->diag, &source))
            || ((n = ab_ynode_get (node, "read-only"))
                && ab_field_bool (n, "read-only", s->diag, &ro)))
            return NULL;
    } else {
        const char *text;
        if (ab_field_string (node, "volumes", s->diag, &text))
            return NULL;
        buf = strdup (text);
        char *first = buf, *second = strchr (buf, ':'), *third = NULL;
        if (second) {
            *second++ = 0;
            third = strchr (second, ':');
            if (third)
                *third++ = 0;
        }
        if (third && strcmp (third, "ro") && strcmp (third, "rw")) {
            ab_field_wrong (node, "volumes", "NAME:/path, /host:/path, with :ro or :rw", s->diag);
            free (buf);
            return NULL;
        }
        ro = third && !strcmp (third, "ro");
        source = second ? first : NULL;
        target = second ? second : first;
    }
    if (!target || target[0] != '/') {
        ab_field_wrong (node, "volumes", "an absolute container path as the target", s->diag);
        free (buf);
        return NULL;
    }
    if (!type)
        type = source && (source[0] == '/' || source[0] == '.') ? "bind" : "volume";
    if (!strcmp (type, "volume") && source && !ab_spec_name_ok (source)) {
        ab_field_wrong (node, "volumes", "a volume name, or a path starting with / or .", s->diag);
        free (buf);
        return NULL;
    }
    json_t *v = json_pack ("{s:s,s:s,s:b}", "type", type, "target", target, "read-only", ro);
    if (source) {
        json_object_set_new (v, "source", json_string (source));
        if (!strcmp (type, "volume"))
            json_object_set_new (volumes, source, json_object ());
    }
    free (buf);
    return v;
}

//  One check: exactly one of exec | shell | http | tcp, plus timing.
static json_t *
s_check (s_svc_t *s, const char *name, const ab_ynode_t *node)
{
    static const char *const keys[] = { "exec",    "shell",   "http",         "tcp", "interval",
                                        "timeout", "retries", "start-period", NULL };
    if (ab_field_map (node, name, s->diag) || ab_field_keys (node, keys, s->diag))
        return NULL;
    json_t *check = json_object ();
    const ab_ynode_t *n;
    int probes = 0, rc = 0;
    if ((n = ab_ynode_get (node, "exec"))) {
        json_t *cmd = ab_field_command (n, "exec", s->diag);
        rc |= cmd ? 0 : -1;
        json_object_set_new (check, "exec", cmd ? cmd : json_null ());
        probes++;
    }
    if ((n = ab_ynode_get (node, "shell"))) {
        const char *cmd;
        rc |= ab_field_string (n, "shell", s->diag, &cmd);
        json_object_set_new (check, "shell", json_string (rc ? "" : cmd));
        probes++;
    }
    if ((n = ab_ynode_get (node, "http"))) {
        static const char *const hkeys[] = { "path", "port", NULL };
        const char *path = "/";
        int64_t port = 0;
        const ab_ynode_t *m;
        if (ab_field_map (n, "http", s->diag) || ab_field_keys (n, hkeys, s->diag))
            rc = -1;
        else if (!(m = ab_ynode_get (n, "port")))
            rc = ab_diag_error (s->diag, S_AT (n), "key \"http\": missing key \"port\"");
        else if (ab_field_int (m, "port", 1, 65535, s->diag, &port)
                 || ((m = ab_ynode_get (n, "path")) && ab_field_string (m, "path", s->diag, &path)))
            rc = -1;
        json_object_set_new (check, "http",
                             json_pack ("{s:s,s:I}", "path", path, "port", (json_int_t)port));
        probes++;
    }
    if ((n = ab_ynode_get (node, "tcp"))) {
        static const char *const tkeys[] = { "port", NULL };
        int64_t port = 0;
        const ab_ynode_t *m;
        if (ab_field_map (n, "tcp", s->diag) || ab_field_keys (n, tkeys, s->diag))
            rc = -1;
        else if (!(m = ab_ynode_get (n, "port")))
            rc = ab_diag_error (s->diag, S_AT (n), "key \"tcp\": missing key \"port\"");
        else if (ab_field_int (m, "port", 1, 65535, s->diag, &port))
            rc = -1;
        json_object_set_new (check, "tcp", json_pack ("{s:I}", "port", (json_int_t)port));
        probes++;
    }
    if (probes != 1)
        rc = ab_diag_error (s->diag, S_AT (node),
                            "check \"%s\": needs exactly one of exec, shell, http, tcp (has %d)",
                            name, probes);
    int64_t interval = 10000, timeout = 5000, retries = 3, start = 0;
    if ((n = ab_ynode_get (node, "interval")))
        rc |= ab_field_duration (n, "interval", s->diag, &interval);
    if ((n = ab_ynode_get (node, "timeout")))
        rc |= ab_field_duration (n, "timeout", s->diag, &timeout);
    if ((n = ab_ynode_get (node, "retries")))
        rc |= ab_field_int (n, "retries", 1, 1000, s->diag, &retries);
    if ((n = ab_ynode_get (node, "start-period")))
        rc |= ab_field_duration (n, "start-period", s->diag, &start);
    json_object_set_new (check, "interval-ms", json_integer (interval));
    json_object_set_new (check, "timeout-ms", json_integer (timeout));
    json_object_set_new (check, "retries", json_integer (retries));
    json_object_set_new (check, "start-period-ms", json_integer (start));
    if (rc) {
        json_decref (check);
        return NULL;
    }
    return check;
}

//  The service's fields, from its evaluated tree. -1 after reporting.
static int
s_service_fields (s_svc_t *s, const ab_ynode_t *t, const char *ns, json_t *svc, json_t *marks,
                  json_t *volumes)
{
    ab_diag_t *diag = s->diag;
    int rc = 0;
    const ab_ynode_t *n;
    const char *str;
    if (!(n = ab_ynode_get (t, "image")))
        rc = ab_diag_error (diag, S_AT (t), "service \"%s\": missing key \"image\"", s->service);
    else if (ab_field_string (n, "image", diag, &str) == 0)
        json_object_set_new (svc, "image", json_string (str));
    else
        rc = -1;
    if ((n = ab_ynode_get (t, "build"))) {
        static const char *const keys[] = { "context", "containerfile", "args", NULL };
        json_t *build = json_object ();
        const ab_ynode_t *m;
        if (ab_field_map (n, "build", diag) || ab_field_keys (n, keys, diag))
            rc = -1;
        else if (!(m = ab_ynode_get (n, "context")))
            rc = ab_diag_error (diag, S_AT (n), "key \"build\": missing key \"context\"");
        else if (ab_field_string (m, "context", diag, &str) == 0)
            json_object_set_new (build, "context", json_string (str));
        if ((m = ab_ynode_get (n, "containerfile"))
            && ab_field_string (m, "containerfile", diag, &str) == 0)
            json_object_set_new (build, "containerfile", json_string (str));
        if ((m = ab_ynode_get (n, "args"))) {
            json_t *args = ab_field_string_map (m, "args", diag);
            rc |= args ? 0 : -1;
            if (args)
                json_object_set_new (build, "args", args);
        }
        json_object_set_new (svc, "build", build);
    }
    const char *cmds[] = { "command", "entrypoint" };
    for (int i = 0; i < 2; i++)
        if ((n = ab_ynode_get (t, cmds[i]))) {
            json_t *cmd = ab_field_command (n, cmds[i], diag);
            rc |= cmd ? 0 : -1;
            if (cmd)
                json_object_set_new (svc, cmds[i], cmd);
        }
    json_t *env = json_object ();
    json_object_set_new (svc, "env", env);
    if ((n = ab_ynode_get (t, "env")) && ab_field_map (n, "env", diag) == 0)
        for (size_t i = 0; i < ab_ynode_size (n); i++) {
            const ab_ynode_t *v = ab_ynode_at (n, i);
            const char *k = ab_ynode_key (n, i);
            if (ab_ynode_kind (v) == AB_YNODE_MAP && ab_ynode_get (v, "secret")
                && ab_ynode_size (v) == 1 && ab_ynode_str (ab_ynode_get (v, "secret"))) {
                //  Written as {secret: NAME} or produced by secret(): same thing.
                const char *secret = ab_ynode_str (ab_ynode_get (v, "secret"));
                json_object_set_new (env, k, json_pack ("{s:s}", "secret", secret));
                json_object_set_new (s->secrets, secret, json_pack ("{s:s}", "source", "cluster"));
            } else if (ab_ynode_is_null (v))
                json_object_set_new (env, k, json_string (""));
            else if (ab_field_string (v, k, diag, &str) == 0)
                json_object_set_new (env, k, json_string (str));
            else
                rc = -1;
        }
    else if (n)
        rc = -1;
    json_t *ports = json_array ();
    json_t *pmarks = json_array ();
    json_object_set_new (svc, "ports", ports);
    json_object_set_new (marks, "ports", pmarks);
    if ((n = ab_ynode_get (t, "ports")) && ab_field_seq (n, "ports", diag) == 0)
        for (size_t i = 0; i < ab_ynode_size (n); i++) {
            json_t *port = s_port (s, ab_ynode_at (n, i));
            if (port) {
                json_array_append_new (ports, port);
                json_array_append_new (pmarks, ab_field_mark (ab_ynode_at (n, i)));
            } else
                rc = -1;
        }
    else if (n)
        rc = -1;
    int64_t replicas = 1;
    if ((n = ab_ynode_get (t, "replicas")))
        rc |= ab_field_int (n, "replicas", 0, AB_SPEC_MAX_REPLICAS, diag, &replicas);
    json_object_set_new (svc, "replicas", json_integer (replicas));
    json_t *res = json_object ();
    json_object_set_new (svc, "resources", res);
    if ((n = ab_ynode_get (t, "resources"))) {
        static const char *const keys[] = { "cpu", "memory", NULL };
        const ab_ynode_t *m;
        int64_t v;
        if (ab_field_map (n, "resources", diag) || ab_field_keys (n, keys, diag))
            rc = -1;
        else {
            if ((m = ab_ynode_get (n, "cpu")) && (rc |= ab_field_cpu (m, "cpu", diag, &v)) == 0)
                json_object_set_new (res, "cpu-millicores", json_integer (v));
            if ((m = ab_ynode_get (n, "memory"))
                && (rc |= ab_field_memory (m, "memory", AB_UNITS_KIT, diag, &v)) == 0)
                json_object_set_new (res, "memory-bytes", json_integer (v));
        }
    }
    json_t *vols = json_array ();
    json_object_set_new (svc, "volumes", vols);
    if ((n = ab_ynode_get (t, "volumes")) && ab_field_seq (n, "volumes", diag) == 0)
        for (size_t i = 0; i < ab_ynode_size (n); i++) {
            json_t *v = s_volume (s, ab_ynode_at (n, i), volumes);
            if (v)
                json_array_append_new (vols, v);
            else
                rc = -1;
        }
    else if (n)
        rc = -1;
    if ((n = ab_ynode_get (t, "checks"))) {
        static const char *const keys[] = { "readiness", "liveness", NULL };
        json_t *checks = json_object ();
        if (ab_field_map (n, "checks", diag) || ab_field_keys (n, keys, diag))
            rc = -1;
        else
            for (size_t i = 0; i < ab_ynode_size (n); i++) {
                json_t *c = s_check (s, ab_ynode_key (n, i), ab_ynode_at (n, i));
                if (c)
                    json_object_set_new (checks, ab_ynode_key (n, i), c);
                else
                    rc = -1;
            }
        json_object_set_new (svc, "checks", checks);
    }
    json_object_set (svc, "connections", s->connections);
    json_t *depends = json_object ();
    json_t *dmarks = json_object ();
    json_object_set_new (svc, "depends", depends);
    json_object_set_new (marks, "depends", dmarks);
    if ((n = ab_ynode_get (t, "depends"))) {
        static const char *const keys[] = { "wait-for", NULL };
        static const char *const wkeys[] = { "services", "timeout", "condition", NULL };
        static const char *const conds[] = { "started", "healthy", NULL };
        const ab_ynode_t *w, *m;
        if (ab_field_map (n, "depends", diag) || ab_field_keys (n, keys, diag))
            rc = -1;
        else if ((w = ab_ynode_get (n, "wait-for"))) {
            const char *cond = "started";
            int64_t timeout = 0;
            if (ab_field_map (w, "wait-for", diag) || ab_field_keys (w, wkeys, diag))
                rc = -1;
            else if (!(m = ab_ynode_get (w, "services")))
                rc = ab_diag_error (diag, S_AT (w), "key \"wait-for\": missing key \"services\"");
            else if (ab_field_seq (m, "services", diag))
                rc = -1;
            else {
                const ab_ynode_t *c;
                if ((c = ab_ynode_get (w, "condition")))
                    rc |= ab_field_enum (c, "condition", conds, diag, &cond);
                if ((c = ab_ynode_get (w, "timeout")))
                    rc |= ab_field_duration (c, "timeout", diag, &timeout);
                for (size_t i = 0; i < ab_ynode_size (m); i++) {
                    const ab_ynode_t *item = ab_ynode_at (m, i);
                    if (ab_field_string (item, "services", diag, &str)) {
                        rc = -1;
                        continue;
                    }
                    char *full = s_qualify (ns, str);
                    const char *target = full ? s_member_for (s, full) : NULL;
                    json_t *dep = json_pack ("{s:s}", "condition", cond);
                    if (timeout)
                        json_object_set_new (dep, "timeout-ms", json_integer (timeout));
                    json_object_set_new (depends, target ? target : str, dep);
                    json_object_set_new (dmarks, target ? target : str, ab_field_mark (item));
                    free (full);
                }
            }
        }
    }
    json_t *recovery
        = json_pack ("{s:s,s:i,s:i}", "restart", "always", "max-restarts", 0, "backoff-ms", 1000);
    json_object_set_new (svc, "recovery", recovery);
    if ((n = ab_ynode_get (t, "recovery"))) {
        static const char *const keys[] = { "restart", "max-restarts", "backoff", NULL };
        static const char *const restarts[] = { "always", "on-failure", "no", NULL };
        const ab_ynode_t *m;
        int64_t v;
        if (ab_field_map (n, "recovery", diag) || ab_field_keys (n, keys, diag))
            rc = -1;
        else {
            if ((m = ab_ynode_get (n, "restart"))
                && (rc |= ab_field_enum (m, "restart", restarts, diag, &str)) == 0)
                json_object_set_new (recovery, "restart", json_string (str));
            if ((m = ab_ynode_get (n, "max-restarts"))
                && (rc |= ab_field_int (m, "max-restarts", 0, 1000000, diag, &v)) == 0)
                json_object_set_new (recovery, "max-restarts", json_integer (v));
            if ((m = ab_ynode_get (n, "backoff"))
                && (rc |= ab_field_duration (m, "backoff", diag, &v)) == 0)
                json_object_set_new (recovery, "backoff-ms", json_integer (v));
        }
    }
    json_t *update
        = json_pack ("{s:i,s:i,s:b}", "max-unavailable", 1, "max-surge", 1, "auto-revert", false);
    json_object_set_new (svc, "update", update);
    if ((n = ab_ynode_get (t, "update"))) {
        static const char *const keys[] = { "max-unavailable", "max-surge", "auto-revert", NULL };
        const ab_ynode_t *m;
        int64_t v;
        bool b;
        if (ab_field_map (n, "update", diag) || ab_field_keys (n, keys, diag))
            rc = -1;
        else {
            if ((m = ab_ynode_get (n, "max-unavailable"))
                && (rc |= ab_field_int (m, "max-unavailable", 0, 1000, diag, &v)) == 0)
                json_object_set_new (update, "max-unavailable", json_integer (v));
            if ((m = ab_ynode_get (n, "max-surge"))
                && (rc |= ab_field_int (m, "max-surge", 0, 1000, diag, &v)) == 0)
                json_object_set_new (update, "max-surge", json_integer (v));
            if ((m = ab_ynode_get (n, "auto-revert"))
                && (rc |= ab_field_bool (m, "auto-revert", diag, &b)) == 0)
                json_object_set_new (update, "auto-revert", json_boolean (b));
        }
    }
    if ((n = ab_ynode_get (t, "affinity"))) {
        static const char *const keys[] = { "tag", "tags", "node", NULL };
        const ab_ynode_t *m;
        json_t *aff = json_object ();
        if (ab_field_map (n, "affinity", diag) || ab_field_keys (n, keys, diag))
            rc = -1;
        else {
            json_t *tags = json_array ();
            const char *tk[] = { "tag", "tags" };
            for (int i = 0; i < 2; i++)
                if ((m = ab_ynode_get (n, tk[i]))) {
                    json_t *list = ab_field_strings (m, tk[i], true, diag);
                    rc |= list ? 0 : -1;
                    if (list)
                        json_array_extend (tags, list);
                    json_decref (list);
                }
            if (json_array_size (tags))
                json_object_set (aff, "tags", tags);
            json_decref (tags);
            if ((m = ab_ynode_get (n, "node"))
                && (rc |= ab_field_string (m, "node", diag, &str)) == 0)
                json_object_set_new (aff, "node", json_string (str));
        }
        json_object_set_new (svc, "affinity", aff);
    }
    json_t *labels = json_object ();
    if ((n = ab_ynode_get (t, "labels"))) {
        json_decref (labels);
        labels = ab_field_string_map (n, "labels", diag);
        rc |= labels ? 0 : -1;
    }
    json_object_set_new (svc, "labels", labels ? labels : json_object ());
    const char *strs[][2]
        = { { "user", "user" }, { "working-dir", "working-dir" }, { "hostname", "hostname" } };
    for (int i = 0; i < 3; i++)
        if ((n = ab_ynode_get (t, strs[i][0]))) {
            if (ab_field_string (n, strs[i][0], diag, &str) == 0)
                json_object_set_new (svc, strs[i][1], json_string (str));
            else
                rc = -1;
        }
    return rc;
}

static void
s_svc_free (s_svc_t *s)
{
    for (size_t i = 0; i < s->nvars; i++)
        json_decref (s->vars[i].result);
    free (s->vars);
    json_decref (s->connections);
}

//  Compile one member into a service object; NULL after reporting.
static json_t *
s_service (ab_kit_t *self, s_member_t *members, size_t nmembers, size_t index, json_t *marks_all,
           json_t *volumes, json_t *secrets, ab_diag_t *diag)
{
    s_member_t *m = &members[index];
    s_def_t *def = s_find (self, m->def);
    const ab_ynode_t *node = def->resolved;
    json_t *marks = json_object ();
    json_object_set_new (marks, "at", ab_field_mark (m->at));
    json_object_set_new (marks_all, m->service, marks);
    s_svc_t s = { .kit = self,
                  .diag = diag,
                  .service = m->service,
                  .members = members,
                  .nmembers = nmembers,
                  .secrets = secrets };
    int rc = ab_field_keys (node, s_service_keys, diag);
    rc |= s_vars_parse (&s, ab_ynode_get (node, "variables"), def->name);
    rc |= s_connections (&s, ab_ynode_get (node, "connections"), def->ns, marks);
    //  Evaluate every variable, used or not, so a bad one is always reported.
    for (size_t i = 0; i < s.nvars; i++)
        rc |= s_var_eval (&s, &s.vars[i]);
    ab_ynode_t *body = ab_ynode_dup (node);
    static const char *const skip[]
        = { "variables", "connections", "defines", "version", "description" };
    for (size_t i = 0; body && i < sizeof skip / sizeof skip[0]; i++)
        ab_ynode_remove (body, skip[i]);
    ab_ynode_t *t = body ? ab_ynode_map (body, "service", s_eval_scalar, &s) : NULL;
    ab_ynode_destroy (&body);
    json_t *svc = json_object ();
    if (!t || s_service_fields (&s, t, def->ns, svc, marks, volumes))
        rc = -1;
    ab_ynode_destroy (&t);
    json_t *env = json_object_get (svc, "env");
    for (size_t i = 0; env && i < s.nvars; i++) {
        s_var_t *v = &s.vars[i];
        if (!v->env || !v->result || json_is_null (v->result))
            continue;
        if (json_is_object (v->result)) {
            json_object_set (env, v->env, v->result);
            json_object_set_new (secrets, json_string_value (json_object_get (v->result, "secret")),
                                 json_pack ("{s:s}", "source", "cluster"));
        } else {
            char *text = ab_expr_to_text (v->result);
            json_object_set_new (env, v->env, json_string (text ? text : ""));
            free (text);
        }
    }
    s_svc_free (&s);
    if (rc) {
        json_decref (svc);
        return NULL;
    }
    return svc;
}

//  --------------------------------------------------------------------------
//  Stacks

//  Find the definition a compile target names.
static s_def_t *
s_target (ab_kit_t *self, const char *target, ab_diag_t *diag)
{
    if (target && strchr (target, '/')) {
        s_def_t *def = s_qualified_ok (target) ? s_get (self, target, NULL, diag) : NULL;
        if (!def)
            ab_diag_error_at (diag, NULL, "no kit \"%s\" is loaded or published", target);
        return def;
    }
    s_def_t *found = NULL;
    size_t matches = 0;
    for (size_t i = 0; i < self->nlocal; i++) {
        s_def_t *def = &self->defs[i];
        const char *name = strchr (def->name, '/') + 1;
        //  A definition that already failed was reported when it failed.
        if (target ? !strcmp (name, target)
                   : def->state != 3 && s_resolved (self, def, diag)
                         && !strcmp (s_defines (def), "stack")) {
            found = def;
            matches++;
        }
    }
    if (matches == 1)
        return found;
    if (target)
        ab_diag_error_at (diag, NULL,
                          matches
                              ? "\"%s\" is defined in several namespaces; name it as NAMESPACE/%s"
                              : "no kit named \"%s\" is loaded%.0s",
                          target, target);
    else if (matches > 1)
        ab_diag_error_at (diag, NULL, "the kit defines %zu stacks; name the one to deploy",
                          matches);
    return NULL;
}

static void
s_members_free (s_member_t *members, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free (members[i].service);
        free (members[i].def);
        json_decref (members[i].chain);
    }
    free (members);
}

json_t *
ab_kit_compile (ab_kit_t *self, const char *target, const char *stack_name, ab_diag_t *diag)
{
    assert (self && diag);
    size_t before = ab_diag_errors (diag);
    s_def_t *root = s_target (self, target, diag);
    size_t root_index = root ? (size_t)(root - self->defs) : 0;
    if (root && !(root = s_resolved (self, root, diag)))
        return NULL;
    if (ab_diag_errors (diag) > before)
        return NULL;
    //  Members: a stack's list, one service, or every loaded service.
    s_member_t *members = calloc (AB_SPEC_MAX_SERVICES + 1, sizeof *members);
    size_t n = 0;
    const char *name = NULL;
    char *source = NULL;
    int rc = 0;
    json_t *names = json_object ();
    if (!members)
        return NULL;
    if (root && !strcmp (s_defines (root), "stack")) {
        const ab_ynode_t *list = ab_ynode_get (root->resolved, "members");
        rc |= ab_field_keys (root->resolved, s_stack_keys, diag);
        if (!list)
            rc = ab_diag_error (diag, S_AT (root->resolved),
                                "stack \"%s\": missing key \"members\"", root->name);
        else if (ab_field_seq (list, "members", diag))
            rc = -1;
        for (size_t i = 0; rc == 0 && i < ab_ynode_size (list); i++) {
            const ab_ynode_t *item = ab_ynode_at (list, i);
            const char *mname;
            if (ab_field_string (item, "members", diag, &mname)) {
                rc = -1;
                continue;
            }
            if (n >= AB_SPEC_MAX_SERVICES) {
                rc = ab_diag_error (diag, S_AT (item), "more than %d members; limit reached",
                                    AB_SPEC_MAX_SERVICES);
                break;
            }
            char *full = s_qualify (self->defs[root_index].ns, mname);
            s_def_t *def = full && s_qualified_ok (full) ? s_get (self, full, item, diag) : NULL;
            root = &self->defs[root_index];
            if (!def) {
                rc = ab_diag_error (diag, S_AT (item),
                                    "member \"%s\": no such kit is loaded or published",
                                    full ? full : mname);
                free (full);
                continue;
            }
            free (full);
            if (!(def = s_resolved (self, def, diag))) {
                rc = -1;
                continue;
            }
            root = &self->defs[root_index];
            if (strcmp (s_defines (def), "service")) {
                rc = ab_diag_error (diag, S_AT (item),
                                    "member \"%s\" is a %s; members must be services", def->name,
                                    s_defines (def));
                continue;
            }
            members[n].def = strdup (def->name);
            members[n].service = strdup (strchr (def->name, '/') + 1);
            members[n].chain = json_incref (def->chain);
            members[n].at = item;
            n++;
        }
        name = strchr (root->name, '/') + 1;
        if (asprintf (&source, "kit:%s", root->name) < 0)
            source = NULL;
    } else {
        for (size_t i = 0; i < self->nlocal && n < AB_SPEC_MAX_SERVICES; i++) {
            s_def_t *def = root ? root : &self->defs[i];
            if (!root && (!s_resolved (self, def, diag) || strcmp (s_defines (def), "service"))) {
                rc |= def->state == 3 ? -1 : 0;
                continue;
            }
            members[n].def = strdup (def->name);
            members[n].service = strdup (strchr (def->name, '/') + 1);
            members[n].chain = json_incref (def->chain);
            members[n].at = ab_ynode_get (def->node, "defines")
                                ? ab_ynode_get (def->node, "defines")
                                : def->node;
            n++;
            if (root)
                break;
        }
        root = root ? &self->defs[root_index] : NULL;
        name = root ? strchr (root->name, '/') + 1 : self->first_ns;
        if (asprintf (&source, "kit:%s", root ? root->name : name ? name : "") < 0)
            source = NULL;
        if (!n && rc == 0)
            rc = ab_diag_error_at (diag, NULL, "nothing to deploy: no service is defined");
    }
    for (size_t i = 0; i < n; i++) {
        json_t *prev = json_object_get (names, members[i].service);
        if (prev)
            rc = ab_diag_error (diag, S_AT (members[i].at),
                                "members \"%s\" and \"%s\" would both be service \"%s\"; a stack's "
                                "service names must differ",
                                json_string_value (prev), members[i].def, members[i].service);
        else
            json_object_set_new (names, members[i].service, json_string (members[i].def));
    }
    json_decref (names);
    if (stack_name)
        name = stack_name;
    if (!name || !ab_spec_name_ok (name))
        rc = ab_diag_error_at (diag, NULL,
                               "stack name \"%s\" is not valid (letters, digits, - _ . up to 63)",
                               name ? name : "");
    json_t *spec = NULL;
    if (rc == 0) {
        spec = json_object ();
        json_t *services = json_object (), *volumes = json_object (), *secrets = json_object ();
        json_t *marks = json_object ();
        json_object_set_new (spec, "stack", json_string (name));
        json_object_set_new (spec, "source", json_string (source ? source : "kit"));
        json_object_set_new (spec, "services", services);
        json_object_set_new (spec, "volumes", volumes);
        json_object_set_new (spec, "secrets", secrets);
        for (size_t i = 0; i < n; i++) {
            json_t *svc = s_service (self, members, n, i, marks, volumes, secrets, diag);
            if (svc)
                json_object_set_new (services, members[i].service, svc);
            else
                rc = -1;
        }
        //  Overrides that matched nothing are mistakes, not no-ops.
        for (size_t o = 0; o < self->noverrides; o++) {
            s_override_t *over = &self->overrides[o];
            bool found = false;
            for (size_t i = 0; i < n && !found; i++)
                if (!strcmp (over->service, members[i].service)
                    || !strcmp (over->service, members[i].def)) {
                    s_def_t *def = s_find (self, members[i].def);
                    const ab_ynode_t *vars = ab_ynode_get (def->resolved, "variables");
                    found = vars && ab_ynode_get (vars, over->variable);
                    if (!found) {
                        rc = ab_diag_error_at (diag, over->where,
                                               "service \"%s\" has no variable \"%s\"",
                                               over->service, over->variable);
                        found = true;
                    }
                }
            if (!found)
                rc = ab_diag_error_at (diag, over->where, "stack \"%s\" has no service \"%s\"",
                                       name, over->service);
        }
        if (rc == 0)
            rc = ab_spec_check (spec, marks, diag);
        if (rc == 0)
            rc = ab_spec_seal (spec) ? -1 : 0;
        json_decref (marks);
    }
    free (source);
    s_members_free (members, n);
    if (rc || ab_diag_errors (diag) > before) {
        json_decref (spec);
        return NULL;
    }
    return spec;
}

const char *
ab_kit_defines (ab_kit_t *self, const char *name, ab_diag_t *diag)
{
    assert (self && name && diag);
    s_def_t *def = s_find (self, name);
    if (!def || def->external || !(def = s_resolved (self, def, diag)))
        return NULL;
    const char *defines = s_defines (def);
    return *defines ? defines : NULL;
}

json_t *
ab_kit_publish (ab_kit_t *self, const char *name, ab_diag_t *diag)
{
    assert (self && name && diag);
    s_def_t *def = s_find (self, name);
    if (!def || def->external) {
        ab_diag_error_at (diag, NULL, "no kit \"%s\" is loaded", name);
        return NULL;
    }
    if (!(def = s_resolved (self, def, diag)))
        return NULL;
    const char *defines = s_defines (def);
    if (!defines || (strcmp (defines, "service") && strcmp (defines, "stack"))) {
        const ab_ynode_t *d = ab_ynode_get (def->resolved, "defines");
        ab_diag_error (diag, S_AT (d ? d : def->resolved),
                       "key \"defines\": expected service or stack, got \"%s\"",
                       defines ? defines : "");
        return NULL;
    }
    if (ab_field_keys (def->resolved, strcmp (defines, "stack") ? s_service_keys : s_stack_keys,
                       diag))
        return NULL;
    json_t *document = ab_ynode_to_json (def->resolved);
    if (document && json_array_size (def->chain))
        json_object_set (document, "ancestors", def->chain);
    char digest[65];
    if (!document || ab_spec_digest (document, digest)) {
        json_decref (document);
        return NULL;
    }
    //  Why: the digest must cover `version` too, or the same version could
    //  name two contents; ab_spec_digest skips a top-level "version", so
    //  hash a wrapper.
    json_t *wrap = json_pack ("{s:O}", "document", document);
    ab_spec_digest (wrap, digest);
    json_decref (wrap);
    const ab_ynode_t *v = ab_ynode_get (def->resolved, "version");
    char version[80];
    if (v && ab_ynode_str (v) && !ab_ynode_is_null (v))
        snprintf (version, sizeof version, "%s", ab_ynode_str (v));
    else
        snprintf (version, sizeof version, "sha-%.12s", digest);
    return json_pack ("{s:s,s:s,s:s,s:o}", "name", def->name, "version", version, "digest", digest,
                      "document", document);
}

//  --------------------------------------------------------------------------
//  Selftest: examples against golden files, every class of mistake against
//  its documented message, overrides, publishing and published lookups.

#include <dirent.h>

#include "ab_golden.h"

static void
s_load (ab_kit_t *kit, const char *rel, ab_diag_t *diag)
{
    size_t size;
    char *text = ab_golden_read (rel, &size);
    assert (text);
    ab_kit_load (kit, rel, text, size, diag);
    free (text);
}

static void
s_dump_diag (const ab_diag_t *diag)
{
    for (size_t i = 0; i < ab_diag_size (diag); i++)
        fprintf (stderr, "  %s\n", ab_diag_text (diag, i));
}

//  Published documents for the lookup test: name → kit.published body.
static char *
s_test_lookup (void *arg, const char *name, size_t *size, ab_error_t **err)
{
    json_t *published = arg;
    json_t *body = json_object_get (published, name);
    if (!strcmp (name, "broken/kit")) {
        ab_error_set (err, AB_E_UNAVAILABLE, "logd did not answer");
        return NULL;
    }
    if (!body)
        return NULL;
    char *text = json_dumps (json_object_get (body, "document"), JSON_COMPACT);
    *size = strlen (text);
    return text;
}

void
ab_kit_test (bool verbose)
{
    printf (" * ab_kit: ");
    //  1. The 3-tier example compiles to its golden spec, deterministically.
    ab_diag_t *diag = ab_diag_new ();
    ab_kit_t *kit = ab_kit_new ();
    s_load (kit, "examples/shop.kit.yaml", diag);
    json_t *shop = ab_kit_compile (kit, NULL, NULL, diag);
    if (!shop)
        s_dump_diag (diag);
    assert (shop && ab_diag_errors (diag) == 0);
    assert (ab_spec_verify (shop));
    ab_golden_check (shop, "testdata/shop.app.json");
    json_t *again = ab_kit_compile (kit, "shop/app", NULL, diag);
    char *a = ab_spec_canonical (shop), *b = ab_spec_canonical (again);
    assert (strcmp (a, b) == 0);
    free (a);
    free (b);
    json_decref (again);
    json_t *api = json_object_get (json_object_get (shop, "services"), "api");
    json_t *env = json_object_get (api, "env");
    assert (!strcmp (json_string_value (json_object_get (env, "DATABASE_URL")),
                     "postgres://db:5432/shop"));
    assert (!strcmp (json_string_value (json_object_get (env, "LOG_LEVEL")), "info"));
    assert (!strcmp (
        json_string_value (json_object_get (json_object_get (env, "POSTGRES_PASSWORD"), "secret")),
        "db-password"));
    assert (
        json_integer_value (json_object_get (json_object_get (api, "resources"), "cpu-millicores"))
        == 500);

    //  A single service deploys alone as a one-service stack.
    json_t *solo = ab_kit_compile (kit, "db", "pg", diag);
    assert (solo && !strcmp (json_string_value (json_object_get (solo, "stack")), "pg"));
    assert (json_object_size (json_object_get (solo, "services")) == 1);
    json_decref (solo);

    //  2. Inheritance with overrides: staging over shop, plus --set.
    s_load (kit, "examples/shop-staging.kit.yaml", diag);
    assert (ab_diag_errors (diag) == 0);
    assert (ab_kit_size (kit) == 8);
    assert (!strcmp (ab_kit_name (kit, 4), "staging/db"));
    assert (!strcmp (ab_kit_defines (kit, "staging/db", diag), "service"));
    assert (!strcmp (ab_kit_defines (kit, "staging/app", diag), "stack"));
    assert (!ab_kit_defines (kit, "staging/nope", diag));
    assert (ab_kit_set (kit, "api.pool=4", diag) == 0);
    json_t *staging = ab_kit_compile (kit, "staging/app", NULL, diag);
    if (!staging)
        s_dump_diag (diag);
    assert (staging);
    ab_golden_check (staging, "testdata/staging.app.json");
    json_t *sapi = json_object_get (json_object_get (staging, "services"), "api");
    assert (
        !strcmp (json_string_value (json_object_get (json_object_get (sapi, "env"), "POOL")), "4"));
    assert (!strcmp (
        json_string_value (json_object_get (json_object_get (sapi, "env"), "LOG_LEVEL")), "debug"));
    json_t *sdb = json_object_get (json_object_get (staging, "services"), "db");
    assert (
        json_integer_value (json_object_get (json_object_get (sdb, "resources"), "cpu-millicores"))
        == 500);
    assert (
        json_integer_value (json_object_get (json_object_get (sdb, "resources"), "memory-bytes"))
        == 256LL << 20);
    json_t *diff = ab_spec_diff (shop, staging);
    char *text = ab_spec_diff_text (diff);
    assert (strstr (text, "    image: \"shop/api:1.4\" -> \"shop/api:1.5-rc1\"\n"));
    assert (strstr (text, "    env.POOL: \"10\" -> \"4\"\n"));
    if (verbose)
        printf ("\n%s", text);
    free (text);
    json_decref (diff);

    //  3. Publishing: a stated version, or one from the digest.
    json_t *published = json_object ();
    for (size_t i = 0; i < 4; i++) {
        json_t *body = ab_kit_publish (kit, ab_kit_name (kit, i), diag);
        assert (body);
        assert (strlen (json_string_value (json_object_get (body, "digest"))) == 64);
        json_object_set_new (published, ab_kit_name (kit, i), body);
    }
    json_t *db = json_object_get (published, "shop/db");
    assert (!strcmp (json_string_value (json_object_get (db, "version")), "15.4-1"));
    const char *apiv
        = json_string_value (json_object_get (json_object_get (published, "shop/api"), "version"));
    assert (!strncmp (apiv, "sha-", 4) && strlen (apiv) == 16);
    json_t *sdb_pub = ab_kit_publish (kit, "staging/db", diag);
    assert (sdb_pub && !json_object_get (json_object_get (sdb_pub, "document"), "inherits"));
    //  ... but it names its ancestors, so it still stands in for them.
    json_t *anc = json_object_get (json_object_get (sdb_pub, "document"), "ancestors");
    assert (json_array_size (anc) == 1
            && !strcmp (json_string_value (json_array_get (anc, 0)), "shop/db"));
    json_t *everything = json_object ();
    for (size_t i = 0; i < ab_kit_size (kit); i++)
        json_object_set_new (everything, ab_kit_name (kit, i),
                             ab_kit_publish (kit, ab_kit_name (kit, i), diag));
    //  The child does not take its parent's version.
    assert (strncmp (json_string_value (json_object_get (sdb_pub, "version")), "sha-", 4) == 0);
    json_decref (sdb_pub);
    assert (!ab_kit_publish (kit, "shop/nope", diag));
    assert (ab_diag_has (diag, "no kit \"shop/nope\" is loaded"));
    ab_kit_destroy (&kit);
    ab_diag_destroy (&diag);

    //  ... and inherits/members resolve against published kits: the same
    //  staging stack compiles from the staging file alone.
    diag = ab_diag_new ();
    kit = ab_kit_new ();
    ab_kit_set_lookup (kit, s_test_lookup, published);
    s_load (kit, "examples/shop-staging.kit.yaml", diag);
    ab_kit_set (kit, "api.pool=4", diag);
    json_t *remote = ab_kit_compile (kit, NULL, NULL, diag);
    if (!remote)
        s_dump_diag (diag);
    assert (remote);
    a = ab_spec_canonical (remote);
    b = ab_spec_canonical (staging);
    assert (strcmp (a, b) == 0);
    free (a);
    free (b);
    json_decref (remote);
    ab_kit_destroy (&kit);
    //  A derived stack deploys from the log alone too (abbey deploy staging/app).
    kit = ab_kit_new ();
    ab_kit_set_lookup (kit, s_test_lookup, everything);
    ab_kit_set (kit, "api.pool=4", diag);
    remote = ab_kit_compile (kit, "staging/app", NULL, diag);
    if (!remote)
        s_dump_diag (diag);
    assert (remote);
    json_object_del (remote, "source");
    json_object_del (remote, "version");
    json_t *local = json_deep_copy (staging);
    json_object_del (local, "source");
    json_object_del (local, "version");
    assert (json_equal (remote, local));
    json_decref (local);
    json_decref (remote);
    json_decref (everything);
    ab_kit_destroy (&kit);
    kit = ab_kit_new ();
    ab_kit_set_lookup (kit, s_test_lookup, published);
    const char *child = "namespace: c\nx:\n  inherits: broken/kit\ny:\n  inherits: shop/dbb\n";
    ab_kit_load (kit, "c.yaml", child, strlen (child), diag);
    assert (!ab_kit_compile (kit, "c/x", NULL, diag));
    assert (ab_diag_has (
        diag, "c.yaml:3:13: looking up published kit \"broken/kit\": logd did not answer"));
    assert (!ab_kit_compile (kit, "c/y", NULL, diag));
    assert (ab_diag_has (
        diag, "c.yaml:5:13: key \"inherits\": no kit \"shop/dbb\" is loaded or published"));
    ab_kit_destroy (&kit);
    ab_diag_destroy (&diag);
    json_decref (published);
    json_decref (staging);
    json_decref (shop);

    //  4. Each class of mistake gives its documented message at line:col
    //     (testdata/errors/NAME.kit.yaml → NAME.expect, one line each).
    char dir[512];
    snprintf (dir, sizeof dir, "%s/testdata/errors", ab_golden_dir ());
    DIR *d = opendir (dir);
    assert (d);
    struct dirent *de;
    int cases = 0;
    while ((de = readdir (d))) {
        size_t len = strlen (de->d_name);
        if (len < 10 || strcmp (de->d_name + len - 9, ".kit.yaml") != 0)
            continue;
        char rel[600], expect[700];
        snprintf (rel, sizeof rel, "testdata/errors/%s", de->d_name);
        snprintf (expect, sizeof expect, "testdata/errors/%.*s.expect", (int)(len - 9), de->d_name);
        diag = ab_diag_new ();
        kit = ab_kit_new ();
        s_load (kit, rel, diag);
        json_t *spec = ab_diag_errors (diag) ? NULL : ab_kit_compile (kit, NULL, NULL, diag);
        assert (!spec);
        char *want = ab_golden_read (expect, NULL);
        if (!want || ab_golden_update ()) {
            char *lines = NULL;
            size_t lines_size = 0;
            FILE *f = open_memstream (&lines, &lines_size);
            assert (f);
            for (size_t i = 0; i < ab_diag_size (diag); i++)
                fprintf (f, "%s\n", ab_diag_text (diag, i));
            fclose (f);
            ab_golden_write (expect, lines);
            free (lines);
            free (want);
            want = ab_golden_read (expect, NULL);
        }
        for (char *line = strtok (want, "\n"); line; line = strtok (NULL, "\n"))
            if (!ab_diag_has (diag, line)) {
                fprintf (stderr, "%s: expected \"%s\", got:\n", rel, line);
                s_dump_diag (diag);
                assert (false);
            }
        if (verbose)
            s_dump_diag (diag);
        free (want);
        ab_kit_destroy (&kit);
        ab_diag_destroy (&diag);
        cases++;
    }
    closedir (d);
    assert (cases >= 9);

    //  5. Overrides that do not fit are errors, never silently dropped.
    diag = ab_diag_new ();
    kit = ab_kit_new ();
    s_load (kit, "examples/shop.kit.yaml", diag);
    assert (ab_kit_set (kit, "nodot=1", diag) == -1);
    assert (ab_diag_has (diag, "--set nodot=1: expected SERVICE.VARIABLE=VALUE"));
    ab_kit_set (kit, "api.pool=many", diag);
    ab_kit_set (kit, "api.pol=3", diag);
    ab_kit_set (kit, "cache.size=3", diag);
    const char *values = "api:\n  pool: {x: 1}\n";
    assert (ab_kit_values (kit, "v.yaml", values, strlen (values), diag) == -1);
    assert (ab_diag_has (diag, "v.yaml:2:9: key \"pool\": expected a string, got a map"));
    assert (!ab_kit_compile (kit, NULL, NULL, diag));
    assert (ab_diag_has (diag,
                         "--set api.pool=many: variable \"pool\": expected an int, got \"many\""));
    assert (ab_diag_has (diag, "--set api.pol=3: service \"api\" has no variable \"pol\""));
    assert (ab_diag_has (diag, "--set cache.size=3: stack \"app\" has no service \"cache\""));
    ab_kit_destroy (&kit);
    ab_diag_destroy (&diag);

    //  A values file sets variables with positions.
    diag = ab_diag_new ();
    kit = ab_kit_new ();
    s_load (kit, "examples/shop.kit.yaml", diag);
    values = "api:\n  pool: 32\n  verbosity: warn\n";
    assert (ab_kit_values (kit, "v.yaml", values, strlen (values), diag) == 0);
    json_t *spec = ab_kit_compile (kit, "app", "shop-prod", diag);
    assert (spec);
    env = json_object_get (json_object_get (json_object_get (spec, "services"), "api"), "env");
    assert (!strcmp (json_string_value (json_object_get (env, "POOL")), "32"));
    assert (!strcmp (json_string_value (json_object_get (env, "LOG_LEVEL")), "warn"));
    assert (!strcmp (json_string_value (json_object_get (spec, "stack")), "shop-prod"));
    json_decref (spec);
    assert (!ab_kit_compile (kit, "nothing", NULL, diag));
    assert (ab_diag_has (diag, "no kit named \"nothing\" is loaded"));
    assert (!ab_kit_compile (kit, "app", "bad/name", diag));
    ab_kit_destroy (&kit);
    ab_diag_destroy (&diag);

    //  6. Malformed documents are reported, not crashed on.
    const char *bad[]
        = { "",
            "[1, 2]",
            "namespace: [x]\n",
            "namespace: ok\nfoo: 3\n",
            "namespace: ok\nfoo: {image: x}\n",
            "namespace: a/b\n",
            "namespace: ok\nbad name: {defines: service}\n",
            "namespace: ok\ns: {defines: service}\ns2: {inherits: s, defines: stack}\n",
            "namespace: ok\ns: {defines: widget, image: x}\n",
            "namespace: ok\nst: {defines: stack, members: [ok/st]}\n" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        diag = ab_diag_new ();
        kit = ab_kit_new ();
        int rc = ab_kit_load (kit, "bad.yaml", bad[i], strlen (bad[i]), diag);
        json_t *out = rc ? NULL : ab_kit_compile (kit, NULL, NULL, diag);
        if (out || ab_diag_errors (diag) == 0) {
            fprintf (stderr, "bad kit %zu was accepted\n", i);
            assert (false);
        }
        ab_kit_destroy (&kit);
        ab_diag_destroy (&diag);
    }
    printf ("OK\n");
}
