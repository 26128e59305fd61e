/*  ab_event - the event envelope (DESIGN.md "Event envelope") and its codec
    An event is a msgpack map. Producers set type, subj, pseq and data;
    abbey-logd seals it with seq, ts, src, prev and hash. The canonical
    encoding writes the keys in one fixed order (seq ts type subj src pseq
    prev hash data, absent fields skipped) and is what is stored, sent and,
    without `hash`, hashed:
        hash = BLAKE2b-256 (prev ‖ canonical encoding without hash)

    Rules of the API:
    - `data` is kept as the producer's msgpack bytes of a map, validated on
      the way in (well formed, a map, nesting ≤ 32, no trailing bytes).
    - Decoding is strict: every field's msgpack type is checked, strings
      are UTF-8 without NUL and within their limits, unknown keys, duplicate
      keys and trailing bytes are errors, the frame is ≤ max_size. An error
      names the field and what was expected.
    - Returned const pointers are borrowed from the event.                  */
#ifndef AB_EVENT_H
#define AB_EVENT_H

#include "ab_error.h"
#include <jansson.h>
#include <stdint.h>

#define AB_HASH_SIZE   32                //  BLAKE2b-256
#define AB_FRAME_MAX   (1024 * 1024)     //  default size limit of one envelope
#define AB_TYPE_MAX    64                //  bytes in `type`
#define AB_SUBJ_MAX    256               //  bytes in `subj`
#define AB_SRC_MAX     128               //  bytes in `src`

//  What ab_event_decode requires to be present.
typedef enum {
    AB_EVENT_PRODUCED = 0,  //  type, subj, pseq, data; no logd fields
    AB_EVENT_COMMITTED = 1  //  every field, sealed by logd
} ab_event_form_t;

typedef struct _ab_event_t ab_event_t;

//  New producer event with an empty data map. type and subj are copied;
//  validity (catalog, limits) is checked by encode/decode, not here.
ab_event_t *ab_event_new (const char *type, const char *subj);

//  Free and null. Safe on NULL.
void ab_event_destroy (ab_event_t **self_p);

//  Deep copy.
ab_event_t *ab_event_dup (const ab_event_t *self);

//  Set data from msgpack bytes of a map (copied). Fails, changing nothing,
//  unless the bytes are exactly one well-formed map.
int ab_event_set_data (ab_event_t *self, const uint8_t *mp, size_t size, ab_error_t **err);

//  Set data from JSON text; must be a JSON object. Error names line:column.
int ab_event_set_data_json (ab_event_t *self, const char *json, ab_error_t **err);

//  Set the producer's counter used for dedupe.
void ab_event_set_pseq (ab_event_t *self, uint64_t pseq);

//  Getters. Unset numbers are 0, unset strings "", unset hashes zeros.
uint64_t ab_event_seq (const ab_event_t *self);
uint64_t ab_event_ts (const ab_event_t *self);
uint64_t ab_event_pseq (const ab_event_t *self);
const char *ab_event_type (const ab_event_t *self);
const char *ab_event_subj (const ab_event_t *self);
const char *ab_event_src (const ab_event_t *self);
const uint8_t *ab_event_prev (const ab_event_t *self);
const uint8_t *ab_event_hash (const ab_event_t *self);
const uint8_t *ab_event_data (const ab_event_t *self, size_t *size);

//  Seal as logd does: set seq, ts, src and prev, then compute hash.
void ab_event_seal (ab_event_t *self, uint64_t seq, uint64_t ts, const char *src,
                    const uint8_t prev[AB_HASH_SIZE]);

//  Recompute the hash; true if it matches the stored one.
bool ab_event_hash_ok (const ab_event_t *self);

//  Canonical encoding. Returns a malloc'd buffer the caller frees, or NULL
//  and *err if the event breaks a limit (empty type, oversize...).
uint8_t *ab_event_encode (const ab_event_t *self, size_t *size, ab_error_t **err);

//  Strict decode of one envelope. NULL and *err on any violation.
ab_event_t *ab_event_decode (const uint8_t *buf, size_t size, ab_event_form_t form,
                             size_t max_size, ab_error_t **err);

//  JSON view for humans and auditors: {seq, ts, type, subj, src, pseq,
//  prev, hash (hex), data (as JSON)}. Caller owns the reference.
json_t *ab_event_to_json (const ab_event_t *self);

//  Convert msgpack bytes to JSON and back (bin → base64 string, ext → error).
json_t *ab_msgpack_to_json (const uint8_t *mp, size_t size, ab_error_t **err);
uint8_t *ab_json_to_msgpack (const json_t *json, size_t *size, ab_error_t **err);

void ab_event_test (bool verbose);

#endif
