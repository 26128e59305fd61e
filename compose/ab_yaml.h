/*  ab_yaml - a YAML document as a small tree of map/seq/scalar nodes that
    remember file:line:column, so every manifest error can say where.
    Read with libyaml's event parser; anchors and aliases are expanded and
    the `<<` merge key is applied at load, so compilers see plain trees.

    Rules of the API:
    - A node tree is owned by its root: destroy the root, never a child.
      Children, keys and strings returned by accessors are borrowed.
    - Parsing enforces limits (bytes, nesting depth, nodes after alias
      expansion) and rejects duplicate keys and non-scalar keys; on any
      failure it returns NULL with an error naming file:line:col.
    - Positions are 1-based. Scalars keep their text exactly as written;
      `quoted` tells whether it was written in quotes (or a block), which
      decides that `"5"` is a string where `5` is a number.              */
#ifndef AB_YAML_H
#define AB_YAML_H

#include "ab_error.h"
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AB_YAML_MAX_SIZE (1024 * 1024) //  bytes of one document
#define AB_YAML_MAX_DEPTH 64           //  nesting of maps and lists
#define AB_YAML_MAX_NODES 100000       //  nodes, after aliases are expanded
#define AB_YAML_MAX_ENTRIES 10000      //  entries of one map or list

typedef enum { AB_YNODE_SCALAR = 0, AB_YNODE_MAP = 1, AB_YNODE_SEQ = 2 } ab_ykind_t;

typedef struct {
    size_t max_size;  //  0 means AB_YAML_MAX_SIZE
    size_t max_depth; //  0 means AB_YAML_MAX_DEPTH
    size_t max_nodes; //  0 means AB_YAML_MAX_NODES
} ab_yaml_limits_t;

typedef struct _ab_ynode_t ab_ynode_t;

//  Parse one document from text (not NUL-terminated necessarily). `file`
//  names it in positions. An empty document gives an empty map. limits
//  may be NULL for the defaults.
ab_ynode_t *ab_yaml_parse (const char *file, const char *text, size_t size,
                           const ab_yaml_limits_t *limits, ab_error_t **err);

//  Free a whole tree and null the reference. Safe on NULL.
void ab_ynode_destroy (ab_ynode_t **self_p);

//  Deep copy, positions kept.
ab_ynode_t *ab_ynode_dup (const ab_ynode_t *self);

//  Rewrites one scalar value for ab_ynode_map: returns its replacement (a
//  new node the copy takes), or NULL after reporting why. key: the map key
//  nearest above the scalar (a list item has its list's key); holder: the
//  key of the map that holds the scalar directly, NULL if a list holds it.
typedef ab_ynode_t *(ab_ynode_map_fn)(void *arg, const ab_ynode_t *scalar, const char *key,
                                      const char *holder);

//  Deep copy of node with every scalar value (keys are not values) passed
//  through fn; key is the key node itself is under. Goes on after a scalar
//  fails, so every problem is reported, and then returns NULL.
ab_ynode_t *ab_ynode_map (const ab_ynode_t *node, const char *key, ab_ynode_map_fn *fn, void *arg);

//  New empty map / list / scalar (not quoted) positioned like `at` (may
//  be NULL).
ab_ynode_t *ab_ynode_new_map (const ab_ynode_t *at);
ab_ynode_t *ab_ynode_new_seq (const ab_ynode_t *at);
ab_ynode_t *ab_ynode_new_scalar (const char *text, const ab_ynode_t *at);

ab_ykind_t ab_ynode_kind (const ab_ynode_t *self);
//  "a map", "a list", "a scalar": for "expected a map, got a list".
const char *ab_ynode_kind_name (const ab_ynode_t *self);
const char *ab_ynode_file (const ab_ynode_t *self);
size_t ab_ynode_line (const ab_ynode_t *self);
size_t ab_ynode_col (const ab_ynode_t *self);
//  "file:line:col". Caller frees.
char *ab_ynode_where (const ab_ynode_t *self);

//  Scalar text, NULL if not a scalar.
const char *ab_ynode_str (const ab_ynode_t *self);
//  True if the scalar was quoted or a block scalar.
bool ab_ynode_quoted (const ab_ynode_t *self);
//  Mark a scalar as quoted (a string whatever it looks like) or plain.
void ab_ynode_set_quoted (ab_ynode_t *self, bool quoted);
//  True for a plain null scalar: empty, ~, null.
bool ab_ynode_is_null (const ab_ynode_t *self);
//  Plain scalar as an integer (decimal, 0x, 0o); false if it is not one
//  or is out of range.
bool ab_ynode_int (const ab_ynode_t *self, int64_t *out);
//  Plain scalar as a number (int or float); false if not.
bool ab_ynode_number (const ab_ynode_t *self, double *out);
//  Plain scalar as true/false; false if not one.
bool ab_ynode_bool (const ab_ynode_t *self, bool *out);

//  Entries of a map or items of a list; 0 for a scalar.
size_t ab_ynode_size (const ab_ynode_t *self);
//  Value of the map entry or list item at index.
ab_ynode_t *ab_ynode_at (const ab_ynode_t *self, size_t index);
//  Key node of the map entry at index (a scalar).
ab_ynode_t *ab_ynode_key_at (const ab_ynode_t *self, size_t index);
//  Key text of the map entry at index.
const char *ab_ynode_key (const ab_ynode_t *self, size_t index);
//  Map value for key, NULL if absent or self is not a map.
ab_ynode_t *ab_ynode_get (const ab_ynode_t *self, const char *key);

//  Set key in map to value (taking ownership), replacing any entry.
void ab_ynode_put (ab_ynode_t *self, const char *key, ab_ynode_t **value_p);
//  Append an entry to a map with a copy of key (position kept), taking
//  the value. For rebuilding a map whose keys are already distinct.
void ab_ynode_append (ab_ynode_t *self, const ab_ynode_t *key, ab_ynode_t **value_p);
//  Append an item to a list, taking ownership.
void ab_ynode_push (ab_ynode_t *self, ab_ynode_t **item_p);
//  Remove key from map; no-op if absent.
void ab_ynode_remove (ab_ynode_t *self, const char *key);

//  Deep merge: a new tree of `over` applied on `base`. Maps merge key by
//  key (recursively); scalars and lists in `over` replace. Either may be
//  NULL (gives a copy of the other).
ab_ynode_t *ab_ynode_merge (const ab_ynode_t *base, const ab_ynode_t *over);

//  JSON for a tree: plain scalars typed by the YAML 1.2 core schema
//  (null, bool, int, float), quoted scalars strings. Caller owns it.
json_t *ab_ynode_to_json (const ab_ynode_t *self);

void ab_yaml_test (bool verbose);

#endif
