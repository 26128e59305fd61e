/*  ab_event - the event envelope (DESIGN.md "Event envelope") and its codec
    An event is a msgpack map. Producers set type, subj, pseq and data;
    abbey-logd seals it with seq, ts, src, prev and hash. The canonical
    encoding writes the keys in one fixed order (seq ts type subj src pseq
    prev hash data, absent fields skipped: a produced event has only type
    subj pseq data) and is what is stored, sent and, without `hash`, hashed:
        hash = BLAKE2b-256 (prev ‖ canonical encoding without hash)

    Rules of the API:
    - Decoding requires the canonical key order in both forms. It makes the
      encoding unambiguous and lets the codec keep `data` as a slice of the
      frame (it is always last). Integer widths need not be minimal; encode
      writes them minimal, so decode → encode is canonical.
    - `data` is kept as the producer's msgpack bytes of a map, validated on
      the way in: well formed, a map, nesting ≤ 32 maps/arrays (the data map
      counts as 1), string keys without NUL, no duplicate keys, UTF-8
      strings, integers within int64, finite floats, no ext values, no
      trailing bytes. So every valid event has a JSON view, and msgpack-c's
      unpacker accepts every valid data.
    - Decoding is strict: every field's msgpack type is checked (seq ts pseq
      unsigned integers, type subj src strings, prev hash bin 32, data map);
      `type` is noun.verb (`[a-z][a-z0-9-]*` twice, joined by one dot, ≤ 64
      bytes); subj and src are non-empty UTF-8 without whitespace or control
      characters, ≤ 256 and ≤ 128 bytes; a committed seq is ≥ 1. Unknown,
      duplicate and out-of-order keys, missing fields, logd fields in a
      produced event, and trailing bytes are errors; the frame is
      ≤ max_size. An error names the field and what was expected:
        envelope: field "seq": expected unsigned integer, got string
      Codes: AB_E_OVERSIZE for size, AB_E_MALFORMED for everything else.
    - The catalog (ab_catalog) is not consulted: an unknown but well-formed
      type decodes, so replay of newer logs works; logd checks the catalog.
    - Encode refuses (AB_E_INVALID) what decode would refuse, and frames
      over AB_FRAME_MAX (AB_E_OVERSIZE), so what encodes always decodes.
    - Returned const pointers are borrowed from the event. All functions
      are reentrant; an event is not shared between threads unlocked.    */
#ifndef AB_EVENT_H
#define AB_EVENT_H

#include "ab_error.h"
#include <jansson.h>
#include <stdint.h>

#define AB_HASH_SIZE 32            //  BLAKE2b-256
#define AB_FRAME_MAX (1024 * 1024) //  default size limit of one envelope
#define AB_TYPE_MAX 64             //  bytes in `type`
#define AB_SUBJ_MAX 256            //  bytes in `subj`
#define AB_SRC_MAX 128             //  bytes in `src`

//  What ab_event_decode requires to be present.
typedef enum {
    AB_EVENT_PRODUCED = 0, //  type, subj, pseq, data; no logd fields
    AB_EVENT_COMMITTED = 1 //  every field, sealed by logd
} ab_event_form_t;

typedef struct _ab_event_t ab_event_t;

//  New producer event with an empty data map, or NULL when out of memory.
//  type and subj are copied; their shape and limits are checked by encode,
//  not here (so a bad literal gets an error, not an abort).
ab_event_t *ab_event_new (const char *type, const char *subj);

//  Free and null. Safe on NULL.
void ab_event_destroy (ab_event_t **self_p);

//  Deep copy, or NULL when out of memory.
ab_event_t *ab_event_dup (const ab_event_t *self);

//  Set data from msgpack bytes of a map (copied). Fails, changing nothing,
//  unless the bytes are exactly one valid data map (rules above).
int ab_event_set_data (ab_event_t *self, const uint8_t *mp, size_t size, ab_error_t **err);

//  Set data from JSON text; must be a JSON object without duplicate keys.
//  Error names line:column. Fails changing nothing.
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

//  Seal as logd does: set seq (≥ 1), ts, src (copied) and prev, then
//  compute hash. The event is in committed form from then on.
void ab_event_seal (ab_event_t *self, uint64_t seq, uint64_t ts, const char *src,
                    const uint8_t prev[AB_HASH_SIZE]);

//  Recompute the hash; true if it matches the stored one. False for an
//  event that was never sealed. A decoded committed event whose bytes were
//  exactly the canonical encoding (what logd writes) is hashed over those
//  bytes in place, without re-encoding; any other is re-encoded first, so
//  the result is the same either way.
bool ab_event_hash_ok (const ab_event_t *self);

//  A hint, no effect on behaviour: the thread calling it is about to read
//  this event (decoded by another thread): start fetching into the cache
//  what hash_ok, the accessors and data read. What a replay calls a few
//  events ahead (eventlog/ab_replay).
void ab_event_prefetch (const ab_event_t *self);

//  Canonical encoding. Returns a malloc'd buffer the caller frees, or NULL
//  and *err if the event breaks a limit: AB_E_INVALID for a bad field
//  (empty type...), AB_E_OVERSIZE over AB_FRAME_MAX (sealing adds ~220
//  bytes, so logd must NACK an event that outgrows the limit once sealed).
uint8_t *ab_event_encode (const ab_event_t *self, size_t *size, ab_error_t **err);

//  Strict decode of one envelope in the given form. max_size 0 means
//  AB_FRAME_MAX. NULL and *err on any violation. One allocation per event.
ab_event_t *ab_event_decode (const uint8_t *buf, size_t size, ab_event_form_t form, size_t max_size,
                             ab_error_t **err);

//  Strict decode of the envelope that starts buf, for a stream of
//  envelopes back to back (a bus message body): *used gets its length; the
//  bytes after it are not looked at. Otherwise as ab_event_decode, with
//  max_size bounding this envelope. Empty input is AB_E_MALFORMED.
ab_event_t *ab_event_decode_next (const uint8_t *buf, size_t size, ab_event_form_t form,
                                  size_t max_size, size_t *used, ab_error_t **err);

//  JSON view for humans and auditors: {seq, ts, type, subj, src, pseq,
//  prev, hash (hex), data (as JSON)}, logd fields only once sealed, keys
//  in canonical order. A u64 above 2^63-1 becomes a decimal string.
//  Caller owns the reference.
json_t *ab_event_to_json (const ab_event_t *self);

//  Convert one msgpack value (no trailing bytes) to JSON and back. bin →
//  base64 string; ext, NaN/inf, u64 > 2^63-1, non-string or duplicate map
//  keys → error; nesting ≤ 32. The msgpack is malloc'd, caller frees.
json_t *ab_msgpack_to_json (const uint8_t *mp, size_t size, ab_error_t **err);
uint8_t *ab_json_to_msgpack (const json_t *json, size_t *size, ab_error_t **err);

void ab_event_test (bool verbose);

#endif
