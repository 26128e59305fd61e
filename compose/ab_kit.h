/*  ab_kit - abbey's own manifest format: kits of services and stacks
    A kit document has a `namespace` and definitions, each `defines:
    service` or `defines: stack`, which may `inherits:` another definition
    (deep merge: maps merge key by key, scalars and lists replace). Typed
    variables, connections, expressions (ab_expr) and units (ab_units)
    compile into the normalized spec of ab_spec. docs/manifest.md is the
    user's reference.

        load(file…) ─► definitions ─► resolve inherits (local, then lookup)
        set/values  ─► overrides        │
                                        ▼
                    compile(stack) ─► spec {stack, version, services…}
                    publish(name)  ─► {name, version, digest, document}

    Rules of the API:
    - Pure: the caller reads files and passes text; published kits come
      through the lookup callback. Nothing here touches sockets, disk or
      the clock.
    - Every problem goes to the ab_diag_t given, positioned at
      file:line:col; functions go on after an error to find the rest.
      A compile or publish with any error returns NULL.
    - Returned json_t are the caller's; returned strings are borrowed.     */
#ifndef AB_KIT_H
#define AB_KIT_H

#include "ab_diag.h"
#include "ab_error.h"
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define AB_KIT_MAX_INHERITS 32 //  length of an inheritance chain
#define AB_KIT_MAX_DEFS 1024   //  definitions in one kit set

typedef struct _ab_kit_t ab_kit_t;

//  Look up a published kit by "ns/name". Return its document (the JSON of
//  kit.published's `document`, or any YAML of one definition) as malloc'd
//  text with *size, or NULL: with *err unset when no such kit is published,
//  with *err set when the lookup itself failed.
typedef char *(ab_kit_lookup_fn)(void *arg, const char *name, size_t *size, ab_error_t **err);

//  New empty kit set.
ab_kit_t *ab_kit_new (void);

//  Free and null. Safe on NULL.
void ab_kit_destroy (ab_kit_t **self_p);

//  Where `inherits`, `members` and connection targets look when a name is
//  not defined in a loaded document.
void ab_kit_set_lookup (ab_kit_t *self, ab_kit_lookup_fn *fn, void *arg);

//  Load one kit document; file names it in messages. Definitions found
//  valid are added even if others are not; returns -1 if any error.
int ab_kit_load (ab_kit_t *self, const char *file, const char *text, size_t size, ab_diag_t *diag);

//  Override a variable at deploy time: "SERVICE.VARIABLE=VALUE" (SERVICE is
//  the service's name in the stack, or its ns/name). Checked at compile.
int ab_kit_set (ab_kit_t *self, const char *assignment, ab_diag_t *diag);

//  Overrides from a values file: { SERVICE: { VARIABLE: VALUE, … }, … }.
int ab_kit_values (ab_kit_t *self, const char *file, const char *text, size_t size,
                   ab_diag_t *diag);

//  Definitions loaded from documents, in load order, as "ns/name".
size_t ab_kit_size (const ab_kit_t *self);
const char *ab_kit_name (const ab_kit_t *self, size_t index);

//  What a loaded definition defines after inheritance: "service" or
//  "stack"; NULL if it is not loaded or its inheritance fails (errors to
//  diag). For `abbey kit ls` and for validating every stack of a file.
const char *ab_kit_defines (ab_kit_t *self, const char *name, ab_diag_t *diag);

//  Compile a stack into a sealed normalized spec. target: "ns/name" or a
//  unique "name" of a stack or a service (a service alone makes a one-service
//  stack); NULL picks the only stack loaded, or makes one of all loaded
//  services. stack_name, if not NULL, replaces the default name (the
//  definition's name). NULL and errors in diag on any problem.
json_t *ab_kit_compile (ab_kit_t *self, const char *target, const char *stack_name,
                        ab_diag_t *diag);

//  The kit.published body for a loaded definition "ns/name":
//  {name, version, digest, document}. document is the definition with
//  inheritance applied, as canonical JSON-able data; digest is its hex
//  BLAKE2b-256; version is the definition's `version:` or "sha-" and the
//  first 12 digits of the digest.
json_t *ab_kit_publish (ab_kit_t *self, const char *name, ab_diag_t *diag);

void ab_kit_test (bool verbose);

#endif
