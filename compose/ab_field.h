/*  ab_field - typed reads of manifest nodes, with positioned errors
    Both compilers (kits and docker-compose files) read values through
    these, so a mistake reads the same wherever it is made:
        k.yaml:7:5: key "replicas": expected an integer, got "three"
        k.yaml:3:3: key "reourses": unknown key (did you mean "resources"?)

    Rules of the API:
    - Every reader adds an error to diag and returns -1 (or NULL) on a bad
      value; on success it returns 0 and sets *out. It never asserts on the
      node's content.
    - `key` is the name shown in messages (the map key the value sits under).
    - Returned json_t are the caller's; returned strings are borrowed from
      the node.                                                            */
#ifndef AB_FIELD_H
#define AB_FIELD_H

#include "ab_diag.h"
#include "ab_units.h"
#include "ab_yaml.h"
#include <jansson.h>

//  Closest of choices (NULL-terminated) to word by edit distance, or NULL
//  if nothing is close enough to be a plausible typo.
const char *ab_field_suggest (const char *word, const char *const *choices);

//  Error for every key of map not in allowed (NULL-terminated), with a
//  "did you mean" when one is close. -1 if any.
int ab_field_keys (const ab_ynode_t *map, const char *const *allowed, ab_diag_t *diag);

//  Error "key K: expected WHAT, got …" at node. Always -1.
int ab_field_wrong (const ab_ynode_t *node, const char *key, const char *what, ab_diag_t *diag);

//  node must be a map / a list.
int ab_field_map (const ab_ynode_t *node, const char *key, ab_diag_t *diag);
int ab_field_seq (const ab_ynode_t *node, const char *key, ab_diag_t *diag);

//  A non-null scalar, as written (numbers and booleans as their text).
int ab_field_string (const ab_ynode_t *node, const char *key, ab_diag_t *diag, const char **out);

//  An integer in [min, max].
int ab_field_int (const ab_ynode_t *node, const char *key, int64_t min, int64_t max,
                  ab_diag_t *diag, int64_t *out);

int ab_field_bool (const ab_ynode_t *node, const char *key, ab_diag_t *diag, bool *out);

//  Units: see ab_units. cpu accepts plain numbers (cores) too.
int ab_field_duration (const ab_ynode_t *node, const char *key, ab_diag_t *diag, int64_t *ms);
int ab_field_cpu (const ab_ynode_t *node, const char *key, ab_diag_t *diag, int64_t *millicores);
int ab_field_memory (const ab_ynode_t *node, const char *key, ab_units_style_t style,
                     ab_diag_t *diag, int64_t *bytes);

//  One of choices (NULL-terminated).
int ab_field_enum (const ab_ynode_t *node, const char *key, const char *const *choices,
                   ab_diag_t *diag, const char **out);

//  A list of scalars → JSON array of strings; a single scalar gives a
//  one-item list when `single` is true.
json_t *ab_field_strings (const ab_ynode_t *node, const char *key, bool single, ab_diag_t *diag);

//  A command: a list of scalars, or a string split like a shell would
//  (whitespace, '…', "…" and \ escapes; no expansion). Array of strings.
json_t *ab_field_command (const ab_ynode_t *node, const char *key, ab_diag_t *diag);

//  A map of scalar values → JSON object of strings (null values skipped).
json_t *ab_field_string_map (const ab_ynode_t *node, const char *key, ab_diag_t *diag);

//  "file:line:col" of node as a JSON string (for ab_spec marks).
json_t *ab_field_mark (const ab_ynode_t *node);

void ab_field_test (bool verbose);

#endif
