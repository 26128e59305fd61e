/*  ab_units - the units of manifests: cpu, memory and durations
    Manifests say `500m` cpu, `512Mi` memory, `1m30s`; the normalized spec
    holds integers (millicores, bytes, milliseconds) so its canonical form
    and digest never depend on how a number was spelled.

    Rules of the API:
    - Each parser reads the whole text or fails; on failure it returns -1,
      sets *err (AB_E_INVALID) saying what was expected and leaves *out.
    - Messages do not include a position: the caller prefixes one.       */
#ifndef AB_UNITS_H
#define AB_UNITS_H

#include "ab_error.h"
#include <stdbool.h>
#include <stdint.h>

//  Which spelling of memory units a manifest uses.
typedef enum {
    AB_UNITS_KIT = 0,    //  512Mi, 2Gi (binary), 1G, 500M (decimal), plain bytes
    AB_UNITS_COMPOSE = 1 //  docker-compose: b k kb m mb g gb (binary, any case)
} ab_units_style_t;

//  CPU: cores ("0.5", "2") or millicores ("500m") → millicores (> 0).
int ab_units_cpu (const char *text, int64_t *millicores, ab_error_t **err);

//  Memory → bytes (> 0).
int ab_units_memory (const char *text, ab_units_style_t style, int64_t *bytes, ab_error_t **err);

//  Duration: one or more number+unit (ns us ms s m h), e.g. "500ms",
//  "1m30s", "1.5s" → whole milliseconds (≥ 0).
int ab_units_duration (const char *text, int64_t *ms, ab_error_t **err);

void ab_units_test (bool verbose);

#endif
