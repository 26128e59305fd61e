/*  ab_spec - the normalized desired state of a stack, one model for kits
    and docker-compose files: canonical form, version digest, the checks
    that span services, deployability and a field-by-field diff.

    A spec is a jansson object (docs/manifest.md, "Normalized model"):
        { "stack": NAME, "source": "kit:ns/name" | "compose:FILE",
          "version": HEX, "services": { NAME: SERVICE, … },
          "volumes": { NAME: {…} }, "secrets": [ NAME, … ] }
    Numbers are integers only (millicores, bytes, milliseconds), so the
    canonical text — json_dumps (JSON_SORT_KEYS | JSON_COMPACT) — is
    byte-identical for the same input, and `version` is the hex
    BLAKE2b-256 of the canonical text of the spec without `version`.

    Rules of the API:
    - Functions never keep references to their arguments. Returned json_t
      and char * are the caller's.
    - "marks" is a parallel object the compilers fill with positions
      ("file:line:col") so cross-service errors point at the right line:
        { "SERVICE": { "at": POS, "ports": [POS…], "depends": {S: POS},
                       "connections": {NAME: POS} } }                      */
#ifndef AB_SPEC_H
#define AB_SPEC_H

#include "ab_diag.h"
#include "ab_error.h"
#include <jansson.h>
#include <stdbool.h>

#define AB_SPEC_MAX_SERVICES 256 //  services in one stack
#define AB_SPEC_MAX_REPLICAS 1000
#define AB_SPEC_NAME_MAX 63 //  a DNS label

//  True if name can name a stack or service: 1..63 of [a-zA-Z0-9_.-],
//  starting with a letter or digit.
bool ab_spec_name_ok (const char *name);

//  Canonical JSON text of any value. Caller frees.
char *ab_spec_canonical (const json_t *value);

//  Hex BLAKE2b-256 (64 chars + NUL) of the canonical text of value,
//  ignoring a top-level "version" key. Returns 0, or -1 on no memory.
int ab_spec_digest (const json_t *value, char hex[65]);

//  Checks spanning services: count limit, depends on unknown services and
//  depends cycles (naming the cycle), connections to unknown targets, the
//  same host port twice. Adds errors to diag at marks; returns -1 if any.
int ab_spec_check (const json_t *spec, const json_t *marks, ab_diag_t *diag);

//  Set spec.version from the digest. Call last, after all edits.
int ab_spec_seal (json_t *spec);

//  True if spec.version matches its content.
bool ab_spec_verify (const json_t *spec);

//  What a deploy needs beyond validity: no service may need a build yet.
//  -1 and *err naming the service otherwise.
int ab_spec_deployable (const json_t *spec, ab_error_t **err);

//  Field-by-field difference, old (may be NULL: nothing deployed) → new:
//    { "added": [S…], "removed": [S…],
//      "changed": { S: [ {"field": "env.POOL", "from": V, "to": V}, … ] },
//      "stack": [ {"field", "from", "to"} … ] }   (top level, not services)
//  Absent values are JSON null. Lists compare whole.
json_t *ab_spec_diff (const json_t *old_spec, const json_t *new_spec);

//  True if a diff has no changes at all.
bool ab_spec_diff_empty (const json_t *diff);

//  The diff as lines for a terminal, like a plan:
//    + service cache
//    - service old
//    ~ service api
//        image: "shop/api:1.4" -> "shop/api:1.5"
//  Caller frees.
char *ab_spec_diff_text (const json_t *diff);

void ab_spec_test (bool verbose);

#endif
