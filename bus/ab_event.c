/*  ab_event - the event envelope and its strict, canonical codec

    Decoding walks the msgpack bytes with a small strict reader instead of
    building a msgpack_object tree: it is the hot path of abbey-logd (every
    append) and of every graph rebuild (every stored event), and walking the
    bytes in place needs no zone, gives exact byte offsets for errors, and
    lets `data` be kept as the producer's bytes by slicing, since canonical
    key order puts it last. Encoding uses msgpack-c's packer writing into a
    buffer sized up front; the JSON bridges use msgpack-c's unpacker.

    What `data` may hold is chosen so that every valid event can be shown
    as JSON (ab_event_to_json never loses an event): string keys, no
    duplicate keys, UTF-8 strings, integers within int64, finite floats,
    no ext values, nesting ≤ AB_DATA_DEPTH containers (which is also
    msgpack-c's unpacker stack depth, so consumers can unpack any data).  */
#include "ab_event.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <msgpack.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define AB_DATA_DEPTH 32 //  containers from the data map down, inclusive
#define S_HEAD_MAX 640   //  encoded envelope without data's value (≤ 588)
#define S_SMALL_MAP 16   //  maps up to this size check duplicates pairwise

struct _ab_event_t {
    //  What a replay reads of every event first, packed together (see
    //  ab_event_prefetch): the inline strings come after.
    uint64_t seq;               //  position in the log, 0 until sealed
    uint64_t ts;                //  commit time, ns since epoch
    uint64_t pseq;              //  producer's counter for dedupe
    bool sealed;                //  logd fields are set: committed form
    bool data_owned;            //  data is a separate malloc to free
    uint8_t prev[AB_HASH_SIZE]; //  hash of event seq-1
    uint8_t hash[AB_HASH_SIZE]; //  this event's hash
    const uint8_t *data;        //  msgpack map: static, inline or owned
    size_t data_size;
    //  Decoded committed events keep their envelope bytes (inline, data is
    //  its tail). When those bytes are the canonical encoding, the hash is
    //  checked over them in place instead of re-encoding (hash_ok).
    const uint8_t *raw;  //  canonical envelope bytes, or NULL
    size_t raw_size;     //  bytes in raw
    size_t raw_hash_at;  //  offset of the key "hash"
    size_t raw_hash_end; //  offset just past the hash value
    size_t type_len;            //  true length; may exceed the buffer,
    size_t subj_len;            //  so encode can refuse what new()
    size_t src_len;             //  was given instead of truncating it
    char type[AB_TYPE_MAX + 1]; //  inline strings: decode is one malloc
    char subj[AB_SUBJ_MAX + 1];
    char src[AB_SRC_MAX + 1];
};

//  Canonical key order. Bit i of a field mask is s_keys[i].
typedef enum {
    F_SEQ,
    F_TS,
    F_TYPE,
    F_SUBJ,
    F_SRC,
    F_PSEQ,
    F_PREV,
    F_HASH,
    F_DATA,
    F__COUNT
} s_field_t;
static const char *s_keys[F__COUNT]
    = { "seq", "ts", "type", "subj", "src", "pseq", "prev", "hash", "data" };
#define S_PRODUCED ((1u << F_TYPE) | (1u << F_SUBJ) | (1u << F_PSEQ) | (1u << F_DATA))
#define S_COMMITTED ((1u << F__COUNT) - 1)

static const uint8_t s_empty_map[1] = { 0x80 };

// --------------------------------------------------------------------------
//  Strict msgpack reader

typedef enum {
    K_NIL,
    K_BOOL,
    K_UINT,
    K_NINT,
    K_FLOAT,
    K_STR,
    K_BIN,
    K_ARRAY,
    K_MAP,
    K_EXT,
    K_BAD
} s_kind_t;
static const char *s_kind_names[]
    = { "nil",   "boolean", "unsigned integer", "negative integer",     "float", "string", "binary",
        "array", "map",     "extension",        "the invalid byte 0xc1" };

typedef struct {
    s_kind_t kind;
    uint64_t u;          //  unsigned value, or length/count
    int64_t i;           //  negative value
    double f;            //  float value
    const uint8_t *body; //  str/bin/ext bytes
    int8_t ext_type;
} s_obj_t;

typedef struct {
    const uint8_t *key; //  map key, or NULL for an array index
    size_t klen;
    uint64_t index;
} s_step_t;

typedef struct {
    const uint8_t *base, *p, *end;
    const char *prefix; //  "envelope" or "data": first word of errors
    const char *field;  //  envelope field being read, or NULL
    size_t plen;        //  steps of path below the data map
    s_step_t path[AB_DATA_DEPTH + 1];
} s_rd_t;

//  A reader over [p, p + size). path is left as it is: only its first
//  plen steps are ever read (zeroing all of it was ~10 % of a decode).
static inline void
s_rd_init (s_rd_t *rd, const uint8_t *p, size_t size, const char *prefix)
{
    rd->base = rd->p = p;
    rd->end = p + size;
    rd->prefix = prefix;
    rd->field = NULL;
    rd->plen = 0;
}

//  Printable, bounded rendering of untrusted bytes for messages.
static void
s_quote (const uint8_t *p, size_t n, char *out, size_t cap)
{
    assert (cap >= 16);
    size_t o = 0;
    out[o++] = '"';
    for (size_t i = 0; i < n; i++) {
        if (o + 8 >= cap) {
            memcpy (out + o, "...", 3);
            o += 3;
            break;
        }
        uint8_t c = p[i];
        if (c == '"' || c == '\\')
            o += (size_t)snprintf (out + o, cap - o, "\\%c", c);
        else if (c >= 0x20 && c < 0x7f)
            out[o++] = (char)c;
        else
            o += (size_t)snprintf (out + o, cap - o, "\\x%02x", c);
    }
    out[o++] = '"';
    out[o] = 0;
}

//  Path to the current value inside data: data.spec.ports[2]
static void
s_path (const s_rd_t *rd, char *out, size_t cap)
{
    size_t o = (size_t)snprintf (out, cap, "data");
    for (size_t i = 0; i < rd->plen && o + 1 < cap; i++) {
        const s_step_t *s = &rd->path[i];
        if (s->key) {
            size_t n = s->klen > 40 ? 40 : s->klen;
            char k[48];
            size_t j = 0;
            for (size_t x = 0; x < n; x++)
                k[j++] = s->key[x] >= 0x20 && s->key[x] < 0x7f ? (char)s->key[x] : '?';
            k[j] = 0;
            o += (size_t)snprintf (out + o, cap - o, ".%s%s", k, n < s->klen ? "..." : "");
        } else
            o += (size_t)snprintf (out + o, cap - o, "[%" PRIu64 "]", s->index);
    }
}

//  Error with the reader's context: prefix, field, path inside data.
static int s_fail (const s_rd_t *rd, ab_error_t **err, ab_code_t code, const char *fmt, ...)
    __attribute__ ((format (printf, 4, 5)));
static int
s_fail (const s_rd_t *rd, ab_error_t **err, ab_code_t code, const char *fmt, ...)
{
    if (!err)
        return -(int)code;
    char what[512];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (what, sizeof what, fmt, ap);
    va_end (ap);
    char field[32] = "";
    if (rd->field)
        snprintf (field, sizeof field, "field \"%s\": ", rd->field);
    char where[320] = "";
    if (rd->plen) {
        char path[300];
        s_path (rd, path, sizeof path);
        snprintf (where, sizeof where, "at %s: ", path);
    }
    return ab_error_set (err, code, "%s: %s%s%s", rd->prefix, field, where, what);
}

static int
s_truncated (const s_rd_t *rd, ab_error_t **err)
{
    return s_fail (rd, err, AB_E_MALFORMED,
                   "truncated: the value at byte %zu runs past the end of the %zu-byte frame",
                   (size_t)(rd->p - rd->base), (size_t)(rd->end - rd->base));
}

static inline uint64_t
s_be (const uint8_t *q, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | q[i];
    return v;
}

//  Read one object's header (and, for str/bin/ext, its body); advance.
static int
s_head (s_rd_t *rd, s_obj_t *o, ab_error_t **err)
{
    if (rd->p >= rd->end)
        return s_truncated (rd, err);
    const uint8_t b = rd->p[0];
    const uint8_t *q = rd->p + 1;
    size_t left = (size_t)(rd->end - q);
    size_t hdr = 0;  //  header bytes after the type byte
    size_t body = 0; //  body bytes of str/bin/ext
    bool has_body = false;
    o->body = NULL;
    if (b <= 0x7f) {
        o->kind = K_UINT;
        o->u = b;
    } else if (b <= 0x8f) {
        o->kind = K_MAP;
        o->u = b & 0x0f;
    } else if (b <= 0x9f) {
        o->kind = K_ARRAY;
        o->u = b & 0x0f;
    } else if (b <= 0xbf) {
        o->kind = K_STR;
        body = b & 0x1f;
        has_body = true;
    } else if (b >= 0xe0) {
        o->kind = K_NINT;
        o->i = (int8_t)b;
    } else {
        switch (b) {
        case 0xc0:
            o->kind = K_NIL;
            break;
        case 0xc2:
        case 0xc3:
            o->kind = K_BOOL;
            o->u = b & 1;
            break;
        case 0xc4:
        case 0xc5:
        case 0xc6:
        case 0xd9:
        case 0xda:
        case 0xdb:
            o->kind = b <= 0xc6 ? K_BIN : K_STR;
            hdr = b <= 0xc6 ? (size_t)1 << (b - 0xc4) : (size_t)1 << (b - 0xd9);
            if (left < hdr)
                return s_truncated (rd, err);
            body = (size_t)s_be (q, hdr);
            has_body = true;
            break;
        case 0xc7:
        case 0xc8:
        case 0xc9:
            o->kind = K_EXT;
            hdr = ((size_t)1 << (b - 0xc7)) + 1;
            if (left < hdr)
                return s_truncated (rd, err);
            body = (size_t)s_be (q, hdr - 1);
            o->ext_type = (int8_t)q[hdr - 1];
            has_body = true;
            break;
        case 0xd4:
        case 0xd5:
        case 0xd6:
        case 0xd7:
        case 0xd8:
            o->kind = K_EXT;
            hdr = 1;
            if (left < hdr)
                return s_truncated (rd, err);
            o->ext_type = (int8_t)q[0];
            body = (size_t)1 << (b - 0xd4);
            has_body = true;
            break;
        case 0xca:
        case 0xcb:
            o->kind = K_FLOAT;
            hdr = b == 0xca ? 4 : 8;
            if (left < hdr)
                return s_truncated (rd, err);
            if (b == 0xca) {
                uint32_t w = (uint32_t)s_be (q, 4);
                float f;
                memcpy (&f, &w, 4);
                o->f = f;
            } else {
                uint64_t w = s_be (q, 8);
                memcpy (&o->f, &w, 8);
            }
            break;
        case 0xcc:
        case 0xcd:
        case 0xce:
        case 0xcf:
            o->kind = K_UINT;
            hdr = (size_t)1 << (b - 0xcc);
            if (left < hdr)
                return s_truncated (rd, err);
            o->u = s_be (q, hdr);
            break;
        case 0xd0:
        case 0xd1:
        case 0xd2:
        case 0xd3: {
            hdr = (size_t)1 << (b - 0xd0);
            if (left < hdr)
                return s_truncated (rd, err);
            //  Sign-extend from the top bit of the hdr-byte value
            uint64_t w = s_be (q, hdr);
            unsigned shift = (unsigned)(64 - 8 * hdr);
            int64_t v = shift ? (int64_t)(w << shift) >> shift : (int64_t)w;
            if (v >= 0) {
                o->kind = K_UINT;
                o->u = (uint64_t)v;
            } else {
                o->kind = K_NINT;
                o->i = v;
            }
            break;
        }
        case 0xdc:
        case 0xdd:
        case 0xde:
        case 0xdf:
            o->kind = b <= 0xdd ? K_ARRAY : K_MAP;
            hdr = (b == 0xdc || b == 0xde) ? 2 : 4;
            if (left < hdr)
                return s_truncated (rd, err);
            o->u = s_be (q, hdr);
            break;
        default:
            o->kind = K_BAD;
            return s_fail (rd, err, AB_E_MALFORMED, "byte 0x%02x at offset %zu is not msgpack", b,
                           (size_t)(rd->p - rd->base));
        }
    }
    if (has_body) {
        if (left - hdr < body)
            return s_truncated (rd, err);
        o->u = body;
        o->body = q + hdr;
    }
    rd->p = q + hdr + body;
    return 0;
}

// --------------------------------------------------------------------------
//  Text checks

//  Decode one UTF-8 sequence; 0 if invalid (overlong, surrogate, > U+10FFFF).
static inline size_t
s_utf8_next (const uint8_t *p, const uint8_t *end, uint32_t *cp)
{
    uint8_t c = p[0];
    size_t n;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if ((c & 0xe0) == 0xc0) {
        n = 2;
        v = c & 0x1f;
        min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
        n = 3;
        v = c & 0x0f;
        min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
        n = 4;
        v = c & 0x07;
        min = 0x10000;
    } else
        return 0;
    if ((size_t)(end - p) < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (p[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return n;
}

//  Offset of the first byte that is not valid UTF-8 (or a NUL, unless
//  allowed), or -1 if the string is clean. ASCII runs take the fast path.
static ptrdiff_t
s_utf8_bad (const uint8_t *p, size_t n, bool allow_nul)
{
    const uint8_t *s = p, *end = p + n;
    while (p < end) {
        if (*p < 0x80) {
            if (*p == 0 && !allow_nul)
                return p - s;
            p++;
            continue;
        }
        uint32_t cp;
        size_t k = s_utf8_next (p, end, &cp);
        if (!k)
            return p - s;
        p += k;
    }
    return -1;
}

static bool
s_is_space_or_control (uint32_t c)
{
    return c <= 0x20 || (c >= 0x7f && c <= 0xa0) || c == 0x1680 || (c >= 0x2000 && c <= 0x200a)
           || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000
           || c == 0xfeff;
}

//  subj and src: non-empty, within max, UTF-8, printable, no whitespace.
//  Writes what is wrong into why and returns false.
static bool
s_text_ok (const uint8_t *p, size_t n, size_t max, char *why, size_t cap)
{
    if (n == 0 || n > max) {
        snprintf (why, cap, "expected 1 to %zu bytes, got %zu", max, n);
        return false;
    }
    const uint8_t *s = p, *end = p + n;
    while (p < end) {
        uint32_t cp;
        size_t k = s_utf8_next (p, end, &cp);
        if (!k) {
            snprintf (why, cap, "byte %zu is not valid UTF-8", (size_t)(p - s));
            return false;
        }
        if (s_is_space_or_control (cp)) {
            snprintf (why, cap,
                      "byte %zu is whitespace or a control character (U+%04X); expected printable "
                      "text without spaces",
                      (size_t)(p - s), cp);
            return false;
        }
        p += k;
    }
    return true;
}

//  type: noun.verb, each part [a-z][a-z0-9-]*, at most AB_TYPE_MAX bytes.
static bool
s_type_ok (const uint8_t *p, size_t n, char *why, size_t cap)
{
    if (n == 0 || n > AB_TYPE_MAX) {
        snprintf (why, cap, "expected 1 to %d bytes, got %zu", AB_TYPE_MAX, n);
        return false;
    }
    int dots = 0;
    bool ok = true;
    bool start = true; //  at the first byte of a part
    for (size_t i = 0; i < n && ok; i++) {
        uint8_t c = p[i];
        if (c == '.') {
            ok = !start && ++dots == 1;
            start = true;
        } else if (start) {
            ok = c >= 'a' && c <= 'z';
            start = false;
        } else
            ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    }
    if (!ok || dots != 1 || start) {
        char q[96];
        s_quote (p, n, q, sizeof q);
        snprintf (why, cap,
                  "expected noun.verb in lowercase letters, digits and '-' (like \"node.joined\"), "
                  "got %s",
                  q);
        return false;
    }
    return true;
}

// --------------------------------------------------------------------------
//  data validation

typedef struct {
    const uint8_t *p;
    size_t n;
} s_key_t;

static int
s_key_cmp (const void *a, const void *b)
{
    const s_key_t *x = a, *y = b;
    if (x->n != y->n)
        return x->n < y->n ? -1 : 1;
    return memcmp (x->p, y->p, x->n);
}

static int s_check_value (s_rd_t *rd, size_t depth, ab_error_t **err);

static int
s_check_map (s_rd_t *rd, uint64_t n, size_t depth, ab_error_t **err)
{
    //  Each entry takes at least two bytes: refuse absurd counts up front,
    //  before anything is allocated for them.
    size_t left = (size_t)(rd->end - rd->p);
    if (n > left / 2)
        return s_fail (rd, err, AB_E_MALFORMED,
                       "truncated: a map of %" PRIu64 " entries cannot fit in the %zu bytes left",
                       n, left);
    s_key_t small[S_SMALL_MAP];
    ab_auto_free s_key_t *heap = NULL;
    s_key_t *keys = small;
    if (n > S_SMALL_MAP) {
        heap = malloc (n * sizeof *heap);
        if (!heap)
            return s_fail (rd, err, AB_E_SYSTEM, "out of memory");
        keys = heap;
    }
    for (uint64_t i = 0; i < n; i++) {
        s_obj_t k;
        int rc = s_head (rd, &k, err);
        if (rc)
            return rc;
        if (k.kind != K_STR)
            return s_fail (rd, err, AB_E_MALFORMED, "map keys must be strings, got %s",
                           s_kind_names[k.kind]);
        ptrdiff_t bad = s_utf8_bad (k.body, k.u, false);
        if (bad >= 0)
            return s_fail (rd, err, AB_E_MALFORMED, "key: byte %td is %s", bad,
                           k.body[bad] ? "not valid UTF-8" : "NUL");
        keys[i] = (s_key_t){ k.body, k.u };
        if (n <= S_SMALL_MAP)
            for (uint64_t j = 0; j < i; j++)
                if (keys[j].n == k.u && memcmp (keys[j].p, k.body, k.u) == 0) {
                    char q[96];
                    s_quote (k.body, k.u, q, sizeof q);
                    return s_fail (rd, err, AB_E_MALFORMED, "duplicate key %s", q);
                }
        rd->path[rd->plen++] = (s_step_t){ k.body, k.u, 0 };
        rc = s_check_value (rd, depth, err);
        rd->plen--;
        if (rc)
            return rc;
    }
    if (n > S_SMALL_MAP) {
        qsort (keys, n, sizeof *keys, s_key_cmp);
        for (uint64_t i = 1; i < n; i++)
            if (s_key_cmp (&keys[i - 1], &keys[i]) == 0) {
                char q[96];
                s_quote (keys[i].p, keys[i].n, q, sizeof q);
                return s_fail (rd, err, AB_E_MALFORMED, "duplicate key %s", q);
            }
    }
    return 0;
}

//  One value inside data; depth counts the containers above it.
static int
s_check_value (s_rd_t *rd, size_t depth, ab_error_t **err)
{
    s_obj_t o;
    int rc = s_head (rd, &o, err);
    if (rc)
        return rc;
    switch (o.kind) {
    case K_NIL:
    case K_BOOL:
    case K_NINT:
    case K_BIN:
        return 0;
    case K_UINT:
        if (o.u > INT64_MAX)
            return s_fail (rd, err, AB_E_MALFORMED,
                           "integer %" PRIu64
                           " is out of range (data integers must fit a signed 64-bit JSON integer)",
                           o.u);
        return 0;
    case K_FLOAT:
        if (!isfinite (o.f))
            return s_fail (rd, err, AB_E_MALFORMED,
                           "NaN and infinity are not allowed (JSON cannot carry them)");
        return 0;
    case K_STR: {
        ptrdiff_t bad = s_utf8_bad (o.body, o.u, true);
        if (bad >= 0)
            return s_fail (rd, err, AB_E_MALFORMED, "string: byte %td is not valid UTF-8", bad);
        return 0;
    }
    case K_EXT:
        return s_fail (rd, err, AB_E_MALFORMED, "extension values (type %d) are not allowed",
                       o.ext_type);
    case K_ARRAY:
    case K_MAP:
        if (depth + 1 > AB_DATA_DEPTH)
            return s_fail (rd, err, AB_E_MALFORMED, "nesting deeper than %d maps and arrays",
                           AB_DATA_DEPTH);
        if (o.kind == K_MAP)
            return s_check_map (rd, o.u, depth + 1, err);
        if (o.u > (size_t)(rd->end - rd->p))
            return s_fail (rd, err, AB_E_MALFORMED,
                           "truncated: an array of %" PRIu64
                           " elements cannot fit in the %zu bytes left",
                           o.u, (size_t)(rd->end - rd->p));
        for (uint64_t i = 0; i < o.u; i++) {
            rd->path[rd->plen++] = (s_step_t){ NULL, 0, i };
            rc = s_check_value (rd, depth + 1, err);
            rd->plen--;
            if (rc)
                return rc;
        }
        return 0;
    case K_BAD:
        break;
    }
    return s_fail (rd, err, AB_E_MALFORMED, "invalid msgpack");
}

//  The data map: one map whose contents pass s_check_value.
static int
s_check_data (s_rd_t *rd, ab_error_t **err)
{
    const uint8_t *start = rd->p;
    s_obj_t o;
    int rc = s_head (rd, &o, err);
    if (rc)
        return rc;
    if (o.kind != K_MAP) {
        rd->p = start;
        return s_fail (rd, err, AB_E_MALFORMED, "expected map, got %s", s_kind_names[o.kind]);
    }
    return s_check_map (rd, o.u, 1, err);
}

// --------------------------------------------------------------------------
//  Construction and access

static void
s_copy_str (char *dst, size_t cap, size_t *len, const char *src, size_t n)
{
    *len = n;
    if (n > cap)
        n = cap;
    memcpy (dst, src, n);
    dst[n] = 0;
}

ab_event_t *
ab_event_new (const char *type, const char *subj)
{
    assert (type);
    assert (subj);
    ab_event_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    s_copy_str (self->type, AB_TYPE_MAX, &self->type_len, type, strlen (type));
    s_copy_str (self->subj, AB_SUBJ_MAX, &self->subj_len, subj, strlen (subj));
    self->data = s_empty_map;
    self->data_size = sizeof s_empty_map;
    return self;
}

void
ab_event_destroy (ab_event_t **self_p)
{
    assert (self_p);
    ab_event_t *self = *self_p;
    if (self) {
        if (self->data_owned)
            free ((void *)self->data);
        free (self);
        *self_p = NULL;
    }
}

ab_event_t *
ab_event_dup (const ab_event_t *self)
{
    assert (self);
    ab_event_t *copy = malloc (sizeof *copy + (self->raw ? self->raw_size : self->data_size));
    if (!copy)
        return NULL;
    *copy = *self;
    uint8_t *bytes = (uint8_t *)(copy + 1);
    if (self->raw) {
        //  data is the tail of raw: keep it so
        memcpy (bytes, self->raw, self->raw_size);
        copy->raw = bytes;
        copy->data = bytes + (self->data - self->raw);
    }
    else {
        memcpy (bytes, self->data, self->data_size);
        copy->data = bytes;
    }
    copy->data_owned = false;
    return copy;
}

int
ab_event_set_data (ab_event_t *self, const uint8_t *mp, size_t size, ab_error_t **err)
{
    assert (self);
    assert (mp || size == 0);
    if (size > AB_FRAME_MAX)
        return ab_error_set (err, AB_E_OVERSIZE, "data: %zu bytes exceeds the limit of %d", size,
                             AB_FRAME_MAX);
    if (size == 0)
        return ab_error_set (err, AB_E_MALFORMED, "data: empty; expected a msgpack map");
    s_rd_t rd;
    s_rd_init (&rd, mp, size, "data");
    int rc = s_check_data (&rd, err);
    if (rc)
        return rc;
    if (rd.p < rd.end)
        return ab_error_set (err, AB_E_MALFORMED, "data: %zu trailing bytes after the map",
                             (size_t)(rd.end - rd.p));
    uint8_t *copy = malloc (size);
    if (!copy)
        return ab_error_set (err, AB_E_SYSTEM, "data: out of memory");
    memcpy (copy, mp, size);
    if (self->data_owned)
        free ((void *)self->data);
    self->raw = NULL; //  no longer what was decoded
    self->data = copy;
    self->data_size = size;
    self->data_owned = true;
    return 0;
}

void
ab_event_set_pseq (ab_event_t *self, uint64_t pseq)
{
    assert (self);
    self->pseq = pseq;
    self->raw = NULL; //  no longer what was decoded
}

uint64_t
ab_event_seq (const ab_event_t *self)
{
    assert (self);
    return self->seq;
}

uint64_t
ab_event_ts (const ab_event_t *self)
{
    assert (self);
    return self->ts;
}

uint64_t
ab_event_pseq (const ab_event_t *self)
{
    assert (self);
    return self->pseq;
}

const char *
ab_event_type (const ab_event_t *self)
{
    assert (self);
    return self->type;
}

const char *
ab_event_subj (const ab_event_t *self)
{
    assert (self);
    return self->subj;
}

const char *
ab_event_src (const ab_event_t *self)
{
    assert (self);
    return self->src;
}

const uint8_t *
ab_event_prev (const ab_event_t *self)
{
    assert (self);
    return self->prev;
}

const uint8_t *
ab_event_hash (const ab_event_t *self)
{
    assert (self);
    return self->hash;
}

const uint8_t *
ab_event_data (const ab_event_t *self, size_t *size)
{
    assert (self);
    if (size)
        *size = self->data_size;
    return self->data;
}

void
ab_event_prefetch (const ab_event_t *self)
{
    //  Fixed-size lines, read nothing: a load here would wait for the very
    //  miss the hint is to hide. The header, type and the start of subj
    //  are the struct's first 256 bytes; a decoded event's bytes follow it.
    const char *p = (const char *)self;
    for (size_t at = 0; at < 256; at += 64)
        __builtin_prefetch (p + at);
    const char *bytes = (const char *)(self + 1);
    for (size_t at = 0; at < 320; at += 64)
        __builtin_prefetch (bytes + at);
}

// --------------------------------------------------------------------------
//  Canonical encoding and the hash

typedef struct {
    uint8_t *p;
    size_t len, cap;
} s_out_t;

static int
s_out_write (void *data, const char *buf, size_t len)
{
    s_out_t *out = data;
    if (len > out->cap - out->len)
        return -1;
    memcpy (out->p + out->len, buf, len);
    out->len += len;
    return 0;
}

static inline size_t
s_min (size_t a, size_t b)
{
    return a < b ? a : b;
}

//  Everything of the canonical encoding up to and including the key
//  "data"; its value (the data bytes) follows. Returns the length.
static size_t
s_write_head (const ab_event_t *self, bool with_hash, uint8_t *buf, size_t cap)
{
    s_out_t out = { buf, 0, cap };
    msgpack_packer pk;
    msgpack_packer_init (&pk, &out, s_out_write);
    int rc = msgpack_pack_map (&pk, self->sealed ? (with_hash ? 9 : 8) : 4);
    if (self->sealed) {
        rc |= msgpack_pack_str_with_body (&pk, "seq", 3);
        rc |= msgpack_pack_uint64 (&pk, self->seq);
        rc |= msgpack_pack_str_with_body (&pk, "ts", 2);
        rc |= msgpack_pack_uint64 (&pk, self->ts);
    }
    rc |= msgpack_pack_str_with_body (&pk, "type", 4);
    rc |= msgpack_pack_str_with_body (&pk, self->type, s_min (self->type_len, AB_TYPE_MAX));
    rc |= msgpack_pack_str_with_body (&pk, "subj", 4);
    rc |= msgpack_pack_str_with_body (&pk, self->subj, s_min (self->subj_len, AB_SUBJ_MAX));
    if (self->sealed) {
        rc |= msgpack_pack_str_with_body (&pk, "src", 3);
        rc |= msgpack_pack_str_with_body (&pk, self->src, s_min (self->src_len, AB_SRC_MAX));
    }
    rc |= msgpack_pack_str_with_body (&pk, "pseq", 4);
    rc |= msgpack_pack_uint64 (&pk, self->pseq);
    if (self->sealed) {
        rc |= msgpack_pack_str_with_body (&pk, "prev", 4);
        rc |= msgpack_pack_bin_with_body (&pk, self->prev, AB_HASH_SIZE);
        if (with_hash) {
            rc |= msgpack_pack_str_with_body (&pk, "hash", 4);
            rc |= msgpack_pack_bin_with_body (&pk, self->hash, AB_HASH_SIZE);
        }
    }
    rc |= msgpack_pack_str_with_body (&pk, "data", 4);
    assert (rc == 0); //  S_HEAD_MAX bounds every field at its limit
    (void)rc;
    return out.len;
}

static pthread_once_t s_sodium_once = PTHREAD_ONCE_INIT;
static void
s_sodium_init (void)
{
    //  Picks the fastest BLAKE2b for this CPU; hashing works without it
    if (sodium_init () < 0)
        fprintf (stderr, "ab_event: sodium_init failed, using portable BLAKE2b\n");
}

static void
s_compute_hash (const ab_event_t *self, uint8_t out[AB_HASH_SIZE])
{
    pthread_once (&s_sodium_once, s_sodium_init);
    uint8_t head[S_HEAD_MAX];
    size_t head_len = s_write_head (self, false, head, sizeof head);
    crypto_generichash_state st;
    crypto_generichash_init (&st, NULL, 0, AB_HASH_SIZE);
    crypto_generichash_update (&st, self->prev, AB_HASH_SIZE);
    crypto_generichash_update (&st, head, head_len);
    crypto_generichash_update (&st, self->data, self->data_size);
    crypto_generichash_final (&st, out, AB_HASH_SIZE);
}

void
ab_event_seal (ab_event_t *self, uint64_t seq, uint64_t ts, const char *src,
               const uint8_t prev[AB_HASH_SIZE])
{
    assert (self);
    assert (seq > 0); //  seq is gapless from 1
    assert (src);
    assert (prev);
    self->seq = seq;
    self->ts = ts;
    s_copy_str (self->src, AB_SRC_MAX, &self->src_len, src, strlen (src));
    memcpy (self->prev, prev, AB_HASH_SIZE);
    self->sealed = true;
    self->raw = NULL; //  the fields changed: the decoded bytes are stale
    s_compute_hash (self, self->hash);
}

//  The hash over the envelope bytes as decoded, which decode found to be the
//  canonical encoding: prev ‖ the same bytes with the map header saying 8
//  entries and the hash entry cut out. Equal to s_compute_hash's result
//  without encoding anything.
static void
s_raw_hash (const ab_event_t *self, uint8_t out[AB_HASH_SIZE])
{
    pthread_once (&s_sodium_once, s_sodium_init);
    static const uint8_t map8 = 0x88; //  fixmap of 8: the envelope less hash
    crypto_generichash_state st;
    crypto_generichash_init (&st, NULL, 0, AB_HASH_SIZE);
    crypto_generichash_update (&st, self->prev, AB_HASH_SIZE);
    crypto_generichash_update (&st, &map8, 1);
    crypto_generichash_update (&st, self->raw + 1, self->raw_hash_at - 1);
    crypto_generichash_update (&st, self->raw + self->raw_hash_end,
                               self->raw_size - self->raw_hash_end);
    crypto_generichash_final (&st, out, AB_HASH_SIZE);
}

bool
ab_event_hash_ok (const ab_event_t *self)
{
    assert (self);
    if (!self->sealed)
        return false;
    uint8_t h[AB_HASH_SIZE];
    if (self->raw)
        s_raw_hash (self, h);
    else
        s_compute_hash (self, h);
    return memcmp (h, self->hash, AB_HASH_SIZE) == 0;
}

//  The producer-set strings (and src once sealed) must pass the same checks
//  decode applies, so that encode never writes what decode would refuse.
static int
s_validate (const ab_event_t *self, ab_error_t **err)
{
    char why[256];
    if (!s_type_ok ((const uint8_t *)self->type, self->type_len, why, sizeof why))
        return ab_error_set (err, AB_E_INVALID, "envelope: field \"type\": %s", why);
    if (!s_text_ok ((const uint8_t *)self->subj, self->subj_len, AB_SUBJ_MAX, why, sizeof why))
        return ab_error_set (err, AB_E_INVALID, "envelope: field \"subj\": %s", why);
    if (self->sealed
        && !s_text_ok ((const uint8_t *)self->src, self->src_len, AB_SRC_MAX, why, sizeof why))
        return ab_error_set (err, AB_E_INVALID, "envelope: field \"src\": %s", why);
    return 0;
}

uint8_t *
ab_event_encode (const ab_event_t *self, size_t *size, ab_error_t **err)
{
    assert (self);
    assert (size);
    if (s_validate (self, err))
        return NULL;
    uint8_t head[S_HEAD_MAX];
    size_t head_len = s_write_head (self, true, head, sizeof head);
    size_t total = head_len + self->data_size;
    if (total > AB_FRAME_MAX) {
        ab_error_set (err, AB_E_OVERSIZE, "envelope: frame of %zu bytes exceeds the limit of %d",
                      total, AB_FRAME_MAX);
        return NULL;
    }
    uint8_t *buf = malloc (total);
    if (!buf) {
        ab_error_set (err, AB_E_SYSTEM, "envelope: out of memory");
        return NULL;
    }
    memcpy (buf, head, head_len);
    memcpy (buf + head_len, self->data, self->data_size);
    *size = total;
    return buf;
}

// --------------------------------------------------------------------------
//  Decoding

static int
s_key_index (const uint8_t *k, size_t n)
{
    //  Hot: once per key of every decoded event. Lengths are 2 to 4, so a
    //  key compares as one integer, its bytes and its length: no memcmp.
#define S_K(a, b, c, d, len)                                                                   \
    ((uint64_t)(a) | (uint64_t)(b) << 8 | (uint64_t)(c) << 16 | (uint64_t)(d) << 24               \
     | (uint64_t)(len) << 32)
    static const uint64_t packed[F__COUNT] = {
        S_K ('s', 'e', 'q', 0, 3),   S_K ('t', 's', 0, 0, 2),     S_K ('t', 'y', 'p', 'e', 4),
        S_K ('s', 'u', 'b', 'j', 4), S_K ('s', 'r', 'c', 0, 3),   S_K ('p', 's', 'e', 'q', 4),
        S_K ('p', 'r', 'e', 'v', 4), S_K ('h', 'a', 's', 'h', 4), S_K ('d', 'a', 't', 'a', 4)
    };
    if (n < 2 || n > 4)
        return -1;
    uint64_t v = S_K (k[0], k[1], n > 2 ? k[2] : 0, n > 3 ? k[3] : 0, n);
#undef S_K
    for (int i = 0; i < F__COUNT; i++)
        if (packed[i] == v)
            return i;
    return -1;
}

static int
s_read_uint (s_rd_t *rd, uint64_t *v, ab_error_t **err)
{
    s_obj_t o;
    if (s_head (rd, &o, err))
        return -1;
    if (o.kind != K_UINT)
        return s_fail (rd, err, AB_E_MALFORMED, "expected unsigned integer, got %s",
                       s_kind_names[o.kind]);
    *v = o.u;
    return 0;
}

static int
s_read_str (s_rd_t *rd, s_field_t f, const uint8_t **p, size_t *n, ab_error_t **err)
{
    s_obj_t o;
    if (s_head (rd, &o, err))
        return -1;
    if (o.kind != K_STR)
        return s_fail (rd, err, AB_E_MALFORMED, "expected string, got %s", s_kind_names[o.kind]);
    char why[256];
    bool ok = f == F_TYPE ? s_type_ok (o.body, o.u, why, sizeof why)
                          : s_text_ok (o.body, o.u, f == F_SUBJ ? AB_SUBJ_MAX : AB_SRC_MAX, why,
                                       sizeof why);
    if (!ok)
        return s_fail (rd, err, AB_E_MALFORMED, "%s", why);
    *p = o.body;
    *n = o.u;
    return 0;
}

static int
s_read_hash (s_rd_t *rd, uint8_t out[AB_HASH_SIZE], ab_error_t **err)
{
    s_obj_t o;
    if (s_head (rd, &o, err))
        return -1;
    if (o.kind != K_BIN)
        return s_fail (rd, err, AB_E_MALFORMED, "expected bin 32, got %s", s_kind_names[o.kind]);
    if (o.u != AB_HASH_SIZE)
        return s_fail (rd, err, AB_E_MALFORMED, "expected bin 32, got bin %" PRIu64, o.u);
    memcpy (out, o.body, AB_HASH_SIZE);
    return 0;
}

//  Header bytes msgpack-c writes (so the canonical encoding has) for an
//  unsigned integer u and for a string of n bytes. Decode accepts wider
//  headers; it then hashes by re-encoding instead of in place.
static inline size_t
s_uint_hdr (uint64_t u)
{
    return u < 128 ? 1 : u < 256 ? 2 : u < 65536 ? 3 : u <= UINT32_MAX ? 5 : 9;
}

static inline size_t
s_str_hdr (size_t n)
{
    return n < 32 ? 1 : n < 256 ? 2 : n < 65536 ? 3 : 5;
}

//  Decode the envelope that starts buf. With used NULL it must be all of
//  buf; otherwise *used gets its length and bytes after it are left alone.
static ab_event_t *
s_decode (const uint8_t *buf, size_t size, ab_event_form_t form, size_t max_size, size_t *used,
          ab_error_t **err)
{
    assert (buf || size == 0);
    assert (form == AB_EVENT_PRODUCED || form == AB_EVENT_COMMITTED);
    if (max_size == 0)
        max_size = AB_FRAME_MAX;
    if (!used && size > max_size) {
        ab_error_set (err, AB_E_OVERSIZE, "envelope: frame of %zu bytes exceeds the limit of %zu",
                      size, max_size);
        return NULL;
    }
    if (size == 0) {
        ab_error_set (err, AB_E_MALFORMED, "envelope: empty frame");
        return NULL;
    }
    s_rd_t rd;
    s_rd_init (&rd, buf, size, "envelope");
    s_obj_t top;
    if (s_head (&rd, &top, err))
        return NULL;
    if (top.kind != K_MAP) {
        s_fail (&rd, err, AB_E_MALFORMED, "expected a map, got %s", s_kind_names[top.kind]);
        return NULL;
    }
    const unsigned allowed = form == AB_EVENT_COMMITTED ? S_COMMITTED : S_PRODUCED;
    unsigned seen = 0;
    int last = -1;
    uint64_t nums[F__COUNT] = { 0 };
    const uint8_t *str[F__COUNT] = { NULL };
    size_t len[F__COUNT] = { 0 };
    uint8_t prev[AB_HASH_SIZE] = { 0 }, hash[AB_HASH_SIZE] = { 0 };
    const uint8_t *data = NULL;
    size_t data_size = 0;
    //  Whether buf is byte for byte the canonical encoding: the 9-entry
    //  fixmap, then every key and value header as msgpack-c writes it
    //  (data's bytes are hashed as they are, so they need no check).
    bool canon = form == AB_EVENT_COMMITTED && buf[0] == 0x89;
    size_t hash_at = 0, hash_end = 0;

    for (uint64_t i = 0; i < top.u; i++) {
        rd.field = NULL;
        const uint8_t *at = rd.p;
        s_obj_t k;
        if (s_head (&rd, &k, err))
            return NULL;
        if (k.kind != K_STR) {
            s_fail (&rd, err, AB_E_MALFORMED, "key at byte %zu: expected string, got %s",
                    (size_t)(at - buf), s_kind_names[k.kind]);
            return NULL;
        }
        int f = s_key_index (k.body, k.u);
        if (f < 0) {
            char q[96];
            s_quote (k.body, k.u, q, sizeof q);
            s_fail (&rd, err, AB_E_MALFORMED, "unknown key %s", q);
            return NULL;
        }
        if (seen & (1u << f)) {
            s_fail (&rd, err, AB_E_MALFORMED, "duplicate key \"%s\"", s_keys[f]);
            return NULL;
        }
        if (!(allowed & (1u << f))) {
            s_fail (&rd, err, AB_E_MALFORMED,
                    "field \"%s\" is set by abbey-logd and not allowed in a produced event",
                    s_keys[f]);
            return NULL;
        }
        if (f < last) {
            s_fail (&rd, err, AB_E_MALFORMED,
                    "key \"%s\" out of order: the canonical order is seq ts type subj src pseq "
                    "prev hash data",
                    s_keys[f]);
            return NULL;
        }
        seen |= 1u << f;
        last = f;
        rd.field = s_keys[f];
        canon = canon && (size_t)(rd.p - at) == 1 + k.u; //  fixstr key
        const uint8_t *v = rd.p;
        int rc = 0;
        switch ((s_field_t)f) {
        case F_SEQ:
        case F_TS:
        case F_PSEQ:
            rc = s_read_uint (&rd, &nums[f], err);
            //  (only once read: a failed read may have stopped at the end)
            canon = canon && rc == 0 && (v[0] <= 0x7f || (v[0] >= 0xcc && v[0] <= 0xcf))
                    && (size_t)(rd.p - v) == s_uint_hdr (nums[f]);
            break;
        case F_TYPE:
        case F_SUBJ:
        case F_SRC:
            rc = s_read_str (&rd, (s_field_t)f, &str[f], &len[f], err);
            canon = canon && (size_t)(rd.p - v) == s_str_hdr (len[f]) + len[f];
            break;
        case F_PREV:
            rc = s_read_hash (&rd, prev, err);
            canon = canon && (size_t)(rd.p - v) == 2 + AB_HASH_SIZE; //  bin 8
            break;
        case F_HASH:
            rc = s_read_hash (&rd, hash, err);
            canon = canon && (size_t)(rd.p - v) == 2 + AB_HASH_SIZE;
            hash_at = (size_t)(at - buf);
            hash_end = (size_t)(rd.p - buf);
            break;
        case F_DATA:
            data = rd.p;
            rc = s_check_data (&rd, err);
            data_size = (size_t)(rd.p - data);
            break;
        case F__COUNT:
            break;
        }
        if (rc)
            return NULL;
    }
    rd.field = NULL;
    for (int f = 0; f < F__COUNT; f++)
        if ((allowed & (1u << f)) && !(seen & (1u << f))) {
            s_fail (&rd, err, AB_E_MALFORMED, "missing field \"%s\"", s_keys[f]);
            return NULL;
        }
    if (!used && rd.p < rd.end) {
        s_fail (&rd, err, AB_E_MALFORMED, "%zu trailing bytes after the map",
                (size_t)(rd.end - rd.p));
        return NULL;
    }
    if (used) {
        size = (size_t)(rd.p - buf); //  this envelope only, from here on
        if (size > max_size) {
            ab_error_set (err, AB_E_OVERSIZE,
                          "envelope: frame of %zu bytes exceeds the limit of %zu", size,
                          max_size);
            return NULL;
        }
    }
    if (form == AB_EVENT_COMMITTED && nums[F_SEQ] == 0) {
        ab_error_set (err, AB_E_MALFORMED,
                      "envelope: field \"seq\": expected 1 or more (seq counts from 1), got 0");
        return NULL;
    }

    //  A committed event keeps its whole envelope (data is its tail), so
    //  hash_ok can hash it in place; a produced one only needs its data.
    size_t keep = form == AB_EVENT_COMMITTED ? size : data_size;
    ab_event_t *self = malloc (sizeof *self + keep);
    if (!self) {
        ab_error_set (err, AB_E_SYSTEM, "envelope: out of memory");
        return NULL;
    }
    self->seq = nums[F_SEQ];
    self->ts = nums[F_TS];
    self->pseq = nums[F_PSEQ];
    self->sealed = form == AB_EVENT_COMMITTED;
    self->data_owned = false;
    memcpy (self->prev, prev, AB_HASH_SIZE);
    memcpy (self->hash, hash, AB_HASH_SIZE);
    s_copy_str (self->type, AB_TYPE_MAX, &self->type_len, (const char *)str[F_TYPE], len[F_TYPE]);
    s_copy_str (self->subj, AB_SUBJ_MAX, &self->subj_len, (const char *)str[F_SUBJ], len[F_SUBJ]);
    if (str[F_SRC])
        s_copy_str (self->src, AB_SRC_MAX, &self->src_len, (const char *)str[F_SRC], len[F_SRC]);
    else {
        self->src[0] = 0;
        self->src_len = 0;
    }
    uint8_t *bytes = (uint8_t *)(self + 1);
    memcpy (bytes, form == AB_EVENT_COMMITTED ? buf : data, keep);
    self->data = form == AB_EVENT_COMMITTED ? bytes + (data - buf) : bytes;
    self->data_size = data_size;
    self->raw = canon ? bytes : NULL;
    self->raw_size = size;
    self->raw_hash_at = hash_at;
    self->raw_hash_end = hash_end;
    if (used)
        *used = size;
    return self;
}

ab_event_t *
ab_event_decode (const uint8_t *buf, size_t size, ab_event_form_t form, size_t max_size,
                 ab_error_t **err)
{
    return s_decode (buf, size, form, max_size, NULL, err);
}

ab_event_t *
ab_event_decode_next (const uint8_t *buf, size_t size, ab_event_form_t form, size_t max_size,
                      size_t *used, ab_error_t **err)
{
    assert (used);
    return s_decode (buf, size, form, max_size, used, err);
}

// --------------------------------------------------------------------------
//  JSON bridges

//  Path for JSON conversion errors, jq style: $.spec.ports[2]
typedef struct {
    char buf[256];
    size_t len;
} s_jpath_t;

static size_t
s_jpath_push_key (s_jpath_t *jp, const char *k, size_t n)
{
    size_t mark = jp->len;
    if (jp->len + 2 < sizeof jp->buf) {
        jp->buf[jp->len++] = '.';
        for (size_t i = 0; i < n && jp->len + 1 < sizeof jp->buf; i++)
            jp->buf[jp->len++]
                = (unsigned char)k[i] >= 0x20 && (unsigned char)k[i] < 0x7f ? k[i] : '?';
        jp->buf[jp->len] = 0;
    }
    return mark;
}

static size_t
s_jpath_push_index (s_jpath_t *jp, size_t i)
{
    size_t mark = jp->len;
    int n = snprintf (jp->buf + jp->len, sizeof jp->buf - jp->len, "[%zu]", i);
    if (n > 0 && jp->len + (size_t)n < sizeof jp->buf)
        jp->len += (size_t)n;
    jp->buf[jp->len] = 0;
    return mark;
}

static void
s_jpath_pop (s_jpath_t *jp, size_t mark)
{
    jp->len = mark;
    jp->buf[mark] = 0;
}

static json_t *
s_mp_to_json (const msgpack_object *o, s_jpath_t *jp, ab_error_t **err)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        return json_null ();
    case MSGPACK_OBJECT_BOOLEAN:
        return json_boolean (o->via.boolean);
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        if (o->via.u64 > INT64_MAX) {
            ab_error_set (err, AB_E_INVALID,
                          "msgpack to JSON: at %s: integer %" PRIu64 " does not fit a JSON integer",
                          jp->buf, o->via.u64);
            return NULL;
        }
        return json_integer ((json_int_t)o->via.u64);
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return json_integer ((json_int_t)o->via.i64);
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        if (!isfinite (o->via.f64)) {
            ab_error_set (err, AB_E_INVALID,
                          "msgpack to JSON: at %s: NaN and infinity have no JSON form", jp->buf);
            return NULL;
        }
        return json_real (o->via.f64);
    case MSGPACK_OBJECT_STR: {
        //  msgpack-c may leave ptr NULL for an empty string
        json_t *s = json_stringn (o->via.str.size ? o->via.str.ptr : "", o->via.str.size);
        if (!s)
            ab_error_set (err, AB_E_INVALID, "msgpack to JSON: at %s: string is not valid UTF-8",
                          jp->buf);
        return s;
    }
    case MSGPACK_OBJECT_BIN: {
        size_t cap = sodium_base64_ENCODED_LEN (o->via.bin.size, sodium_base64_VARIANT_ORIGINAL);
        ab_auto_free char *b64 = malloc (cap);
        if (!b64) {
            ab_error_set (err, AB_E_SYSTEM, "msgpack to JSON: out of memory");
            return NULL;
        }
        sodium_bin2base64 (b64, cap, (const unsigned char *)(o->via.bin.size ? o->via.bin.ptr : ""),
                           o->via.bin.size, sodium_base64_VARIANT_ORIGINAL);
        return json_string (b64);
    }
    case MSGPACK_OBJECT_EXT:
        ab_error_set (err, AB_E_INVALID,
                      "msgpack to JSON: at %s: extension values (type %d) have no JSON form",
                      jp->buf, o->via.ext.type);
        return NULL;
    case MSGPACK_OBJECT_ARRAY: {
        json_t *a = json_array ();
        for (uint32_t i = 0; a && i < o->via.array.size; i++) {
            size_t mark = s_jpath_push_index (jp, i);
            json_t *v = s_mp_to_json (&o->via.array.ptr[i], jp, err);
            s_jpath_pop (jp, mark);
            if (!v || json_array_append_new (a, v)) {
                json_decref (a);
                return NULL;
            }
        }
        return a;
    }
    case MSGPACK_OBJECT_MAP: {
        json_t *m = json_object ();
        for (uint32_t i = 0; m && i < o->via.map.size; i++) {
            const msgpack_object_kv *kv = &o->via.map.ptr[i];
            if (kv->key.type != MSGPACK_OBJECT_STR) {
                ab_error_set (err, AB_E_INVALID, "msgpack to JSON: at %s: map keys must be strings",
                              jp->buf);
                json_decref (m);
                return NULL;
            }
            size_t kn = kv->key.via.str.size;
            const char *k = kn ? kv->key.via.str.ptr : ""; //  ptr may be NULL when empty
            size_t mark = s_jpath_push_key (jp, k, kn);
            if (json_object_getn (m, k, kn)) {
                ab_error_set (err, AB_E_INVALID, "msgpack to JSON: at %s: duplicate key", jp->buf);
                json_decref (m);
                return NULL;
            }
            json_t *v = s_mp_to_json (&kv->val, jp, err);
            if (!v) {
                json_decref (m);
                return NULL;
            }
            if (json_object_setn_new (m, k, kn, v)) {
                ab_error_set (err, AB_E_INVALID, "msgpack to JSON: at %s: key is not valid UTF-8",
                              jp->buf);
                json_decref (m);
                return NULL;
            }
            s_jpath_pop (jp, mark);
        }
        return m;
    }
    }
    ab_error_set (err, AB_E_INVALID, "msgpack to JSON: at %s: unknown msgpack type", jp->buf);
    return NULL;
}

json_t *
ab_msgpack_to_json (const uint8_t *mp, size_t size, ab_error_t **err)
{
    assert (mp || size == 0);
    if (size == 0) {
        ab_error_set (err, AB_E_MALFORMED, "msgpack to JSON: empty input");
        return NULL;
    }
    msgpack_zone zone;
    if (!msgpack_zone_init (&zone, 2048)) {
        ab_error_set (err, AB_E_SYSTEM, "msgpack to JSON: out of memory");
        return NULL;
    }
    msgpack_object obj;
    size_t off = 0;
    msgpack_unpack_return rc = msgpack_unpack ((const char *)mp, size, &off, &zone, &obj);
    json_t *json = NULL;
    if (rc == MSGPACK_UNPACK_SUCCESS && off == size) {
        s_jpath_t jp = { "$", 1 };
        json = s_mp_to_json (&obj, &jp, err);
    } else if (rc == MSGPACK_UNPACK_SUCCESS || rc == MSGPACK_UNPACK_EXTRA_BYTES)
        ab_error_set (err, AB_E_MALFORMED, "msgpack to JSON: %zu trailing bytes after the value",
                      size - off);
    else if (rc == MSGPACK_UNPACK_CONTINUE)
        ab_error_set (err, AB_E_MALFORMED,
                      "msgpack to JSON: truncated: %zu bytes end inside a value", size);
    else if (rc == MSGPACK_UNPACK_NOMEM_ERROR)
        ab_error_set (err, AB_E_MALFORMED,
                      "msgpack to JSON: nesting deeper than %d maps and arrays", AB_DATA_DEPTH);
    else
        ab_error_set (err, AB_E_MALFORMED, "msgpack to JSON: not valid msgpack");
    msgpack_zone_destroy (&zone);
    return json;
}

static int
s_pack_json (msgpack_packer *pk, const json_t *j, size_t depth, s_jpath_t *jp, ab_error_t **err)
{
    int rc = 0; //  the packer fails only when the sbuffer cannot grow
    if (!json_is_array (j) && !json_is_object (j)) {
        switch (json_typeof (j)) {
        case JSON_NULL:
            rc = msgpack_pack_nil (pk);
            break;
        case JSON_TRUE:
            rc = msgpack_pack_true (pk);
            break;
        case JSON_FALSE:
            rc = msgpack_pack_false (pk);
            break;
        case JSON_INTEGER:
            rc = msgpack_pack_int64 (pk, json_integer_value (j));
            break;
        case JSON_REAL:
            rc = msgpack_pack_double (pk, json_real_value (j));
            break;
        case JSON_STRING:
            rc = msgpack_pack_str_with_body (pk, json_string_value (j), json_string_length (j));
            break;
        case JSON_ARRAY:
        case JSON_OBJECT:
            break;
        }
        return rc ? ab_error_set (err, AB_E_SYSTEM, "JSON to msgpack: out of memory") : 0;
    }
    if (depth + 1 > AB_DATA_DEPTH)
        return ab_error_set (err, AB_E_INVALID,
                             "JSON to msgpack: at %s: nesting deeper than %d objects and arrays",
                             jp->buf, AB_DATA_DEPTH);
    if (json_is_array (j)) {
        size_t n = json_array_size (j);
        if (msgpack_pack_array (pk, n))
            return ab_error_set (err, AB_E_SYSTEM, "JSON to msgpack: out of memory");
        for (size_t i = 0; i < n; i++) {
            size_t mark = s_jpath_push_index (jp, i);
            rc = s_pack_json (pk, json_array_get (j, i), depth + 1, jp, err);
            s_jpath_pop (jp, mark);
            if (rc)
                return rc;
        }
        return 0;
    }
    if (msgpack_pack_map (pk, json_object_size (j)))
        return ab_error_set (err, AB_E_SYSTEM, "JSON to msgpack: out of memory");
    json_t *obj = (json_t *)j; //  jansson's iterator API is not const
    for (void *it = json_object_iter (obj); it; it = json_object_iter_next (obj, it)) {
        const char *k = json_object_iter_key (it);
        size_t kn = json_object_iter_key_len (it);
        if (msgpack_pack_str_with_body (pk, k, kn))
            return ab_error_set (err, AB_E_SYSTEM, "JSON to msgpack: out of memory");
        size_t mark = s_jpath_push_key (jp, k, kn);
        rc = s_pack_json (pk, json_object_iter_value (it), depth + 1, jp, err);
        s_jpath_pop (jp, mark);
        if (rc)
            return rc;
    }
    return 0;
}

static void
s_sbuffer_destroy (msgpack_sbuffer *sb)
{
    msgpack_sbuffer_destroy (sb);
}

uint8_t *
ab_json_to_msgpack (const json_t *json, size_t *size, ab_error_t **err)
{
    assert (json);
    assert (size);
    __attribute__ ((cleanup (s_sbuffer_destroy))) msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
    s_jpath_t jp = { "$", 1 };
    if (s_pack_json (&pk, json, 0, &jp, err))
        return NULL;
    *size = sb.size;
    return (uint8_t *)msgpack_sbuffer_release (&sb);
}

int
ab_event_set_data_json (ab_event_t *self, const char *json, ab_error_t **err)
{
    assert (self);
    assert (json);
    json_error_t jerr;
    json_t *root = json_loads (json, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return ab_error_set (err, AB_E_INVALID, "data: JSON error at line %d, column %d: %s",
                             jerr.line, jerr.column, jerr.text);
    static const char *names[]
        = { "object", "array", "string", "integer", "real", "true", "false", "null" };
    if (!json_is_object (root)) {
        int rc = ab_error_set (err, AB_E_INVALID, "data: expected a JSON object, got %s",
                               names[json_typeof (root)]);
        json_decref (root);
        return rc;
    }
    size_t size = 0;
    uint8_t *mp = ab_json_to_msgpack (root, &size, err);
    json_decref (root);
    if (!mp)
        return ab_error_wrap (err, "data");
    int rc = ab_event_set_data (self, mp, size, err);
    free (mp);
    return rc;
}

//  u64 that JSON cannot hold as an integer becomes a decimal string.
static json_t *
s_json_u64 (uint64_t v)
{
    if (v <= INT64_MAX)
        return json_integer ((json_int_t)v);
    char s[24];
    snprintf (s, sizeof s, "%" PRIu64, v);
    return json_string (s);
}

static json_t *
s_json_hex (const uint8_t h[AB_HASH_SIZE])
{
    char hex[AB_HASH_SIZE * 2 + 1];
    sodium_bin2hex (hex, sizeof hex, h, AB_HASH_SIZE);
    return json_string (hex);
}

json_t *
ab_event_to_json (const ab_event_t *self)
{
    assert (self);
    json_t *j = json_object ();
    if (!j)
        return NULL;
    if (self->sealed) {
        json_object_set_new (j, "seq", s_json_u64 (self->seq));
        json_object_set_new (j, "ts", s_json_u64 (self->ts));
    }
    //  Strings from decode are valid UTF-8; from new() they may not be yet,
    //  and then json_stringn gives NULL, which set_new ignores.
    json_object_set_new (j, "type", json_stringn (self->type, s_min (self->type_len, AB_TYPE_MAX)));
    json_object_set_new (j, "subj", json_stringn (self->subj, s_min (self->subj_len, AB_SUBJ_MAX)));
    if (self->sealed)
        json_object_set_new (j, "src", json_stringn (self->src, s_min (self->src_len, AB_SRC_MAX)));
    json_object_set_new (j, "pseq", s_json_u64 (self->pseq));
    if (self->sealed) {
        json_object_set_new (j, "prev", s_json_hex (self->prev));
        json_object_set_new (j, "hash", s_json_hex (self->hash));
    }
    //  Data validation guarantees the conversion; null only on no memory.
    json_t *data = ab_msgpack_to_json (self->data, self->data_size, NULL);
    json_object_set_new (j, "data", data ? data : json_null ());
    return j;
}

// --------------------------------------------------------------------------
//  Selftest

//  Checks that stay on in release builds (CMake's RelWithDebInfo defines
//  NDEBUG, which would turn assert into nothing and the test into a no-op).
#define S_CHECK(c)                                                                                 \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf (stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c);                 \
            abort ();                                                                              \
        }                                                                                          \
    } while (0)

//  Test envelope builder: entries packed in the order given.
typedef struct {
    const char *key;
    char tag; //  u uint, i negative int, s str, b bin, r raw msgpack
    uint64_t u;
    const char *s;
    size_t n; //  bytes of s for b, r and s (0: strlen for s)
} s_tent_t;

static uint8_t *
s_tbuild (const s_tent_t *e, size_t count, size_t *size)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, count);
    for (size_t i = 0; i < count; i++) {
        msgpack_pack_str_with_body (&pk, e[i].key, strlen (e[i].key));
        switch (e[i].tag) {
        case 'u':
            msgpack_pack_uint64 (&pk, e[i].u);
            break;
        case 'i':
            msgpack_pack_int64 (&pk, (int64_t)e[i].u);
            break;
        case 's':
            msgpack_pack_str_with_body (&pk, e[i].s, e[i].n ? e[i].n : strlen (e[i].s));
            break;
        case 'b':
            msgpack_pack_bin_with_body (&pk, e[i].s, e[i].n);
            break;
        case 'r':
            msgpack_sbuffer_write (&sb, e[i].s, e[i].n);
            break;
        default:
            S_CHECK (false);
        }
    }
    *size = sb.size;
    return (uint8_t *)msgpack_sbuffer_release (&sb);
}

static const char s_zeros[AB_HASH_SIZE] = { 0 };
static const char s_hi_data[] = "\x81\xa4text\xa2hi";
static const s_tent_t s_committed[] = {
    { "seq", 'u', 5, NULL, 0 },
    { "ts", 'u', 1700000000000000000ull, NULL, 0 },
    { "type", 's', 0, "note.added", 0 },
    { "subj", 's', 0, "stack/shop", 0 },
    { "src", 's', 0, "admin:admin:abcd1234", 0 },
    { "pseq", 'u', 42, NULL, 0 },
    { "prev", 'b', 0, s_zeros, AB_HASH_SIZE },
    { "hash", 'b', 0, s_zeros, AB_HASH_SIZE },
    { "data", 'r', 0, s_hi_data, sizeof s_hi_data - 1 },
};
#define S_NCOMMITTED (sizeof s_committed / sizeof s_committed[0])

//  Decoding buf must fail with code and a message containing want.
static void
s_expect_fail (const uint8_t *buf, size_t size, ab_event_form_t form, ab_code_t code,
               const char *want, bool verbose)
{
    ab_error_t *err = NULL;
    ab_event_t *e = ab_event_decode (buf, size, form, 0, &err);
    if (e || !err || err->code != code || !strstr (err->msg, want)) {
        fprintf (stderr, "expected error %s containing <%s>, got %s <%s>\n", ab_error_name (code),
                 want, err ? ab_error_name (err->code) : "success", ab_error_msg (err));
        S_CHECK (false);
    }
    if (verbose)
        printf ("    %s\n", err->msg);
    ab_error_destroy (&err);
}

//  Build the committed base with entry `at` replaced (or dropped if repl
//  is NULL) and expect decode to fail.
static void
s_expect_field (size_t at, const s_tent_t *repl, const char *want, bool verbose)
{
    s_tent_t e[S_NCOMMITTED];
    size_t n = 0;
    for (size_t i = 0; i < S_NCOMMITTED; i++)
        if (i != at)
            e[n++] = s_committed[i];
        else if (repl)
            e[n++] = *repl;
    size_t size;
    ab_auto_free uint8_t *buf = s_tbuild (e, n, &size);
    s_expect_fail (buf, size, AB_EVENT_COMMITTED, AB_E_MALFORMED, want, verbose);
}

//  Committed envelope whose data is the given raw msgpack.
static uint8_t *
s_with_data (const char *mp, size_t n, size_t *size)
{
    s_tent_t e[S_NCOMMITTED];
    memcpy (e, s_committed, sizeof e);
    e[F_DATA] = (s_tent_t){ "data", 'r', 0, mp, n };
    return s_tbuild (e, S_NCOMMITTED, size);
}

static void
s_expect_data (const char *mp, size_t n, const char *want, bool verbose)
{
    size_t size;
    ab_auto_free uint8_t *buf = s_with_data (mp, n, &size);
    s_expect_fail (buf, size, AB_EVENT_COMMITTED, AB_E_MALFORMED, want, verbose);
}

//  depth nested single-entry maps {"k": {"k": ... {}}}
static char *
s_nested (size_t depth, size_t *n)
{
    char *p = malloc (depth * 3);
    size_t o = 0;
    for (size_t i = 0; i < depth; i++) {
        p[o++] = (char)(i + 1 < depth ? 0x81 : 0x80);
        if (i + 1 < depth) {
            p[o++] = (char)0xa1;
            p[o++] = 'k';
        }
    }
    *n = o;
    return p;
}

static double
s_now (void)
{
    struct timespec t;
    clock_gettime (CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void
s_bench (void)
{
    //  A ~250-byte committed event, as logd stores them
    ab_event_t *e = ab_event_new ("instance.started", "stack/shop/svc/api/3");
    ab_error_t *err = NULL;
    S_CHECK (ab_event_set_data_json (
                 e,
                 "{\"node\": \"n1\", \"image\": \"shop/api:1.4\", \"pid\": 4242, "
                 "\"ports\": [8080, 9090], \"started\": 1700000000, \"health\": \"starting\"}",
                 &err)
             == 0);
    ab_event_set_pseq (e, 1700000000000000001ull);
    size_t psize;
    uint8_t *produced = ab_event_encode (e, &psize, &err);
    ab_event_seal (e, 123456, 1700000000000000000ull, "agent:agent:Ab3dE5gH",
                   (const uint8_t *)s_zeros);
    size_t size;
    uint8_t *buf = ab_event_encode (e, &size, &err);
    S_CHECK (buf && produced);
    const int n = 300000;
    double t0 = s_now ();
    for (int i = 0; i < n; i++) {
        ab_event_t *d = ab_event_decode (buf, size, AB_EVENT_COMMITTED, 0, NULL);
        S_CHECK (d);
        ab_event_destroy (&d);
    }
    double t1 = s_now ();
    uint8_t prev[AB_HASH_SIZE] = { 0 };
    for (int i = 0; i < n; i++) {
        ab_event_t *d = ab_event_decode (produced, psize, AB_EVENT_PRODUCED, 0, NULL);
        S_CHECK (d);
        ab_event_seal (d, (uint64_t)i + 1, 1700000000000000000ull, "agent:agent:Ab3dE5gH", prev);
        memcpy (prev, ab_event_hash (d), AB_HASH_SIZE);
        size_t s;
        uint8_t *out = ab_event_encode (d, &s, NULL);
        S_CHECK (out);
        free (out);
        ab_event_destroy (&d);
    }
    double t2 = s_now ();
    printf ("    bench: %zu-byte committed event: decode %.0f events/s; "
            "logd path (decode produced + seal + encode) %.0f events/s\n",
            size, n / (t1 - t0), n / (t2 - t1));
    free (buf);
    free (produced);
    ab_event_destroy (&e);
}

void
ab_event_test (bool verbose)
{
    printf (" * ab_event: ");
    if (verbose)
        printf ("\n");
    ab_error_t *err = NULL;

    //  Produced form round trip, canonical bytes are stable
    ab_event_t *e = ab_event_new ("note.added", "stack/shop");
    S_CHECK (e);
    S_CHECK (strcmp (ab_event_src (e), "") == 0 && ab_event_seq (e) == 0);
    S_CHECK (ab_event_set_data_json (
                 e,
                 "{\"text\": \"rollout approved\", \"n\": [1, -2, 3.5, {\"deep\": true}], "
                 "\"none\": null, \"ünï\": \"cödé\"}",
                 &err)
             == 0);
    ab_event_set_pseq (e, 7);
    size_t size1, size2;
    uint8_t *b1 = ab_event_encode (e, &size1, &err);
    S_CHECK (b1);
    ab_event_t *d = ab_event_decode (b1, size1, AB_EVENT_PRODUCED, 0, &err);
    S_CHECK (d);
    S_CHECK (strcmp (ab_event_type (d), "note.added") == 0);
    S_CHECK (strcmp (ab_event_subj (d), "stack/shop") == 0);
    S_CHECK (ab_event_pseq (d) == 7);
    size_t ds1, ds2;
    const uint8_t *d1 = ab_event_data (e, &ds1), *d2 = ab_event_data (d, &ds2);
    S_CHECK (ds1 == ds2 && memcmp (d1, d2, ds1) == 0);
    uint8_t *b2 = ab_event_encode (d, &size2, &err);
    S_CHECK (b2 && size1 == size2 && memcmp (b1, b2, size1) == 0);
    free (b2);
    //  A produced envelope is not a committed one, and vice versa
    s_expect_fail (b1, size1, AB_EVENT_COMMITTED, AB_E_MALFORMED, "missing field \"seq\"", verbose);
    free (b1);
    ab_event_destroy (&d);

    //  Hash chain of three events; committed round trips are byte-identical
    uint8_t prev[AB_HASH_SIZE] = { 0 };
    uint8_t hashes[3][AB_HASH_SIZE];
    for (int i = 0; i < 3; i++) {
        ab_event_t *x = ab_event_dup (e);
        S_CHECK (x);
        ab_event_set_pseq (x, 100 + (uint64_t)i);
        ab_event_seal (x, (uint64_t)i + 1, 1700000000000000000ull + (uint64_t)i,
                       "admin:admin:abcd1234", prev);
        S_CHECK (ab_event_hash_ok (x));
        uint8_t *enc = ab_event_encode (x, &size1, &err);
        S_CHECK (enc);
        ab_event_t *y = ab_event_decode (enc, size1, AB_EVENT_COMMITTED, 0, &err);
        S_CHECK (y);
        S_CHECK (ab_event_hash_ok (y));
        S_CHECK (ab_event_seq (y) == (uint64_t)i + 1);
        S_CHECK (ab_event_ts (y) == 1700000000000000000ull + (uint64_t)i);
        S_CHECK (strcmp (ab_event_src (y), "admin:admin:abcd1234") == 0);
        S_CHECK (memcmp (ab_event_prev (y), prev, AB_HASH_SIZE) == 0);
        S_CHECK (memcmp (ab_event_hash (y), ab_event_hash (x), AB_HASH_SIZE) == 0);
        S_CHECK (memcmp (ab_event_hash (y), prev, AB_HASH_SIZE) != 0);
        uint8_t *again = ab_event_encode (y, &size2, &err);
        S_CHECK (again && size1 == size2 && memcmp (enc, again, size1) == 0);
        free (again);
        //  A committed envelope is refused where a produced one is expected
        s_expect_fail (enc, size1, AB_EVENT_PRODUCED, AB_E_MALFORMED,
                       "not allowed in a produced event", verbose);
        memcpy (hashes[i], ab_event_hash (y), AB_HASH_SIZE);
        memcpy (prev, ab_event_hash (y), AB_HASH_SIZE);

        //  The hash commits to every field: flip a byte of the data text
        //  ('r' of "rollout" becomes 's') and of the hash itself
        uint8_t *r = memmem (enc, size1, "rollout", 7);
        S_CHECK (r);
        *r = 's';
        ab_event_t *z = ab_event_decode (enc, size1, AB_EVENT_COMMITTED, 0, &err);
        S_CHECK (z && !ab_event_hash_ok (z));
        ab_event_destroy (&z);
        *r = 'r';
        uint8_t *h = memmem (enc, size1, "\xa4hash\xc4\x20", 7);
        S_CHECK (h);
        h[7] ^= 1;
        z = ab_event_decode (enc, size1, AB_EVENT_COMMITTED, 0, &err);
        S_CHECK (z && !ab_event_hash_ok (z));
        ab_event_destroy (&z);
        h[7] ^= 1;

        //  hash_ok hashes canonical bytes in place: for every flipped bit
        //  that still decodes, it agrees with hashing the re-encoding
        S_CHECK (y->raw); //  what encode writes is canonical
        for (size_t at = 0; at < size1; at++)
            for (int bit = 0; bit < 8; bit++) {
                enc[at] ^= (uint8_t)(1 << bit);
                z = ab_event_decode (enc, size1, AB_EVENT_COMMITTED, 0, NULL);
                if (z) {
                    bool in_place = ab_event_hash_ok (z);
                    z->raw = NULL;
                    S_CHECK (in_place == ab_event_hash_ok (z));
                    S_CHECK (!in_place);
                    ab_event_destroy (&z);
                }
                enc[at] ^= (uint8_t)(1 << bit);
            }
        //  Wider integer headers decode (not canonical): the hash is then
        //  checked over the re-encoding, and still commits to the value
        S_CHECK (memcmp (enc, "\x89\xa3seq", 5) == 0 && enc[5] == i + 1);
        uint8_t *wide = malloc (size1 + 8);
        S_CHECK (wide);
        memcpy (wide, enc, 5);
        wide[5] = 0xcf;
        memset (wide + 6, 0, 7);
        wide[13] = (uint8_t)(i + 1);
        memcpy (wide + 14, enc + 6, size1 - 6);
        z = ab_event_decode (wide, size1 + 8, AB_EVENT_COMMITTED, 0, &err);
        S_CHECK (z && !z->raw && ab_event_hash_ok (z));
        ab_event_t *zd = ab_event_dup (z);
        S_CHECK (zd && ab_event_hash_ok (zd));
        ab_event_destroy (&zd);
        ab_event_destroy (&z);
        wide[13] ^= 0x40;
        z = ab_event_decode (wide, size1 + 8, AB_EVENT_COMMITTED, 0, &err);
        S_CHECK (z && !ab_event_hash_ok (z));
        ab_event_destroy (&z);
        free (wide);
        //  A copy keeps hashing in place, and set_pseq invalidates it
        zd = ab_event_dup (y);
        S_CHECK (zd && zd->raw && ab_event_hash_ok (zd));
        ab_event_set_pseq (zd, 999);
        S_CHECK (!zd->raw && !ab_event_hash_ok (zd));
        ab_event_destroy (&zd);
        //  Every truncation is refused, with no crash
        for (size_t cut = 0; cut < size1; cut++) {
            z = ab_event_decode (enc, cut, AB_EVENT_COMMITTED, 0, &err);
            S_CHECK (!z && err && err->code == AB_E_MALFORMED);
        }
        S_CHECK (strstr (err->msg, "truncated"));
        free (enc);
        ab_event_destroy (&x);
        ab_event_destroy (&y);
    }
    S_CHECK (memcmp (hashes[0], hashes[1], AB_HASH_SIZE) != 0);
    S_CHECK (memcmp (hashes[1], hashes[2], AB_HASH_SIZE) != 0);

    //  The base test envelope decodes; each broken variant names its fault
    size_t size;
    uint8_t *base = s_tbuild (s_committed, S_NCOMMITTED, &size);
    d = ab_event_decode (base, size, AB_EVENT_COMMITTED, 0, &err);
    S_CHECK (d && ab_event_seq (d) == 5 && ab_event_pseq (d) == 42);
    S_CHECK (!ab_event_hash_ok (d)); //  the zero hash is not its hash
    ab_event_destroy (&d);

    //  Trailing bytes, oversize, truncation, not a map
    {
        uint8_t *big = malloc (size + 12);
        memcpy (big, base, size);
        memset (big + size, 0xc0, 12);
        s_expect_fail (big, size + 12, AB_EVENT_COMMITTED, AB_E_MALFORMED,
                       "envelope: 12 trailing bytes after the map", verbose);
        free (big);
        uint8_t *huge = calloc (1, 2000000);
        s_expect_fail (huge, 2000000, AB_EVENT_COMMITTED, AB_E_OVERSIZE,
                       "envelope: frame of 2000000 bytes exceeds the limit of 1048576", verbose);
        free (huge);
        S_CHECK (!ab_event_decode (base, size, AB_EVENT_COMMITTED, size - 1, &err));
        S_CHECK (err->code == AB_E_OVERSIZE);
        s_expect_fail (base, size - 3, AB_EVENT_COMMITTED, AB_E_MALFORMED, "truncated", verbose);
        s_expect_fail ((const uint8_t *)"\x92\x01\x02", 3, AB_EVENT_COMMITTED, AB_E_MALFORMED,
                       "expected a map, got array", verbose);
        s_expect_fail ((const uint8_t *)"", 0, AB_EVENT_PRODUCED, AB_E_MALFORMED, "empty frame",
                       verbose);
    }
    free (base);

    //  A well-formed type the catalog does not know still decodes (replay of
    //  newer logs); logd, not the codec, checks the catalog
    {
        s_tent_t e2[S_NCOMMITTED];
        memcpy (e2, s_committed, sizeof e2);
        e2[F_TYPE] = (s_tent_t){ "type", 's', 0, "widget.frobbed-2", 0 };
        uint8_t *buf = s_tbuild (e2, S_NCOMMITTED, &size);
        d = ab_event_decode (buf, size, AB_EVENT_COMMITTED, 0, &err);
        S_CHECK (d && strcmp (ab_event_type (d), "widget.frobbed-2") == 0);
        ab_event_destroy (&d);
        free (buf);
    }

    //  Wrong type per field
    s_tent_t r;
    r = (s_tent_t){ "seq", 's', 0, "5", 0 };
    s_expect_field (F_SEQ, &r, "envelope: field \"seq\": expected unsigned integer, got string",
                    verbose);
    r = (s_tent_t){ "seq", 'u', 0, NULL, 0 };
    s_expect_field (F_SEQ, &r, "field \"seq\": expected 1 or more", verbose);
    r = (s_tent_t){ "ts", 'i', (uint64_t)-5, NULL, 0 };
    s_expect_field (F_TS, &r, "field \"ts\": expected unsigned integer, got negative integer",
                    verbose);
    r = (s_tent_t){ "type", 'u', 3, NULL, 0 };
    s_expect_field (F_TYPE, &r, "field \"type\": expected string, got unsigned integer", verbose);
    r = (s_tent_t){ "type", 's', 0, "Node.Joined", 0 };
    s_expect_field (F_TYPE, &r, "field \"type\": expected noun.verb", verbose);
    r = (s_tent_t){ "type", 's', 0, "node.joined.again", 0 };
    s_expect_field (F_TYPE, &r, "field \"type\": expected noun.verb", verbose);
    r = (s_tent_t){ "type", 's', 0, "nodejoined", 0 };
    s_expect_field (F_TYPE, &r, "field \"type\": expected noun.verb", verbose);
    r = (s_tent_t){ "type", 's', 0,
                    "node.x-1234567890123456789012345678901234567890123456789012345678", 0 };
    s_expect_field (F_TYPE, &r, "field \"type\": expected 1 to 64 bytes, got 65", verbose);
    r = (s_tent_t){ "subj", 's', 0, "", 0 };
    s_expect_field (F_SUBJ, &r, "field \"subj\": expected 1 to 256 bytes, got 0", verbose);
    r = (s_tent_t){ "subj", 's', 0, "stack/my shop", 0 };
    s_expect_field (F_SUBJ, &r, "field \"subj\": byte 8 is whitespace", verbose);
    r = (s_tent_t){ "subj", 's', 0, "stack/\xc3\x28", 0 };
    s_expect_field (F_SUBJ, &r, "field \"subj\": byte 6 is not valid UTF-8", verbose);
    r = (s_tent_t){ "subj", 's', 0, "stack/\xed\xa0\x80", 0 }; //  a surrogate
    s_expect_field (F_SUBJ, &r, "is not valid UTF-8", verbose);
    r = (s_tent_t){ "src", 's', 0, "admin\0x", 7 };
    s_expect_field (F_SRC, &r, "field \"src\": byte 5 is whitespace or a control character",
                    verbose);
    r = (s_tent_t){ "pseq", 'b', 0, s_zeros, 8 };
    s_expect_field (F_PSEQ, &r, "field \"pseq\": expected unsigned integer, got binary", verbose);
    r = (s_tent_t){ "prev", 'b', 0, s_zeros, 31 };
    s_expect_field (F_PREV, &r, "field \"prev\": expected bin 32, got bin 31", verbose);
    r = (s_tent_t){ "hash", 's', 0, "00000000000000000000000000000000", 0 };
    s_expect_field (F_HASH, &r, "field \"hash\": expected bin 32, got string", verbose);
    r = (s_tent_t){ "data", 'r', 0, "\x91\x01", 2 };
    s_expect_field (F_DATA, &r, "field \"data\": expected map, got array", verbose);

    //  Keys: unknown, duplicate, out of order, missing
    r = (s_tent_t){ "tipe", 's', 0, "note.added", 0 };
    s_expect_field (F_TYPE, &r, "unknown key \"tipe\"", verbose);
    r = (s_tent_t){ "ts", 'u', 9, NULL, 0 };
    s_expect_field (F_TYPE, &r, "duplicate key \"ts\"", verbose);
    r = (s_tent_t){ "seq", 'u', 9, NULL, 0 };
    s_expect_field (F_HASH, &r, "duplicate key \"seq\"", verbose);
    r = (s_tent_t){ "subj", 's', 0, "stack/x", 0 };
    s_expect_field (F_TYPE, &r, "duplicate key \"subj\"", verbose);
    s_expect_field (F_PSEQ, NULL, "missing field \"pseq\"", verbose);
    s_expect_field (F_DATA, NULL, "missing field \"data\"", verbose);
    {
        s_tent_t e2[S_NCOMMITTED];
        memcpy (e2, s_committed, sizeof e2);
        e2[F_TYPE] = s_committed[F_SUBJ];
        e2[F_SUBJ] = s_committed[F_TYPE];
        uint8_t *buf = s_tbuild (e2, S_NCOMMITTED, &size);
        s_expect_fail (buf, size, AB_EVENT_COMMITTED, AB_E_MALFORMED, "key \"type\" out of order",
                       verbose);
        free (buf);
        //  data last is what lets the codec slice it: data first is refused
        e2[0] = s_committed[F_DATA];
        memcpy (e2 + 1, s_committed, sizeof (s_tent_t) * (S_NCOMMITTED - 1));
        buf = s_tbuild (e2, S_NCOMMITTED, &size);
        s_expect_fail (buf, size, AB_EVENT_COMMITTED, AB_E_MALFORMED, "out of order", verbose);
        free (buf);
        //  A key that is not a string
        uint8_t odd[] = { 0x81, 0x01, 0x02 };
        s_expect_fail (odd, sizeof odd, AB_EVENT_COMMITTED, AB_E_MALFORMED,
                       "key at byte 1: expected string", verbose);
    }

    //  Data contents
    s_expect_data ("\x81\x01\xc0", 3,
                   "field \"data\": map keys must be strings, got unsigned integer", verbose);
    s_expect_data ("\x82\xa1"
                   "a\x01\xa1"
                   "a\x02",
                   7, "duplicate key \"a\"", verbose);
    s_expect_data ("\x81\xa1"
                   "a\xd4\x01\x00",
                   6, "at data.a: extension values (type 1) are not allowed", verbose);
    s_expect_data ("\x81\xa1"
                   "a\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00",
                   12, "NaN and infinity", verbose);
    s_expect_data ("\x81\xa1"
                   "a\x92\x01\xa2\xff\xfe",
                   9, "at data.a[1]: string: byte 0 is not valid UTF-8", verbose);
    s_expect_data ("\x81\xa1"
                   "a\xcf\xff\xff\xff\xff\xff\xff\xff\xff",
                   12, "is out of range", verbose);
    s_expect_data ("\x81\xa1"
                   "a\xc1",
                   5, "byte 0xc1", verbose);
    s_expect_data ("\x81\xa2"
                   "a\0\x01",
                   5, "key: byte 1 is NUL", verbose);
    s_expect_data ("\x81\xa1"
                   "a\xdd\xff\xff\xff\xff",
                   9, "cannot fit", verbose);
    {
        //  Duplicates in a big map are found too (sorted, not pairwise)
        char big[1 + 2 + 20 * 3];
        size_t o = 0;
        big[o++] = (char)0xde;
        big[o++] = 0;
        big[o++] = 20;
        for (int i = 0; i < 20; i++) {
            big[o++] = (char)0xa1;
            big[o++] = (char)('a' + (i == 19 ? 3 : i));
            big[o++] = 0x01;
        }
        s_expect_data (big, o, "duplicate key \"d\"", verbose);
        big[o - 2] = 'z';
        size_t n;
        uint8_t *buf = s_with_data (big, o, &n);
        d = ab_event_decode (buf, n, AB_EVENT_COMMITTED, 0, &err);
        S_CHECK (d);
        ab_event_destroy (&d);
        free (buf);
    }
    {
        //  Nesting: 32 levels are fine, 33 are refused
        size_t n;
        char *deep = s_nested (AB_DATA_DEPTH, &n);
        size_t bs;
        uint8_t *buf = s_with_data (deep, n, &bs);
        d = ab_event_decode (buf, bs, AB_EVENT_COMMITTED, 0, &err);
        S_CHECK (d);
        json_t *jd = ab_msgpack_to_json ((const uint8_t *)deep, n, &err);
        S_CHECK (jd); //  msgpack-c's unpacker takes every valid data
        json_decref (jd);
        ab_event_destroy (&d);
        free (buf);
        free (deep);
        deep = s_nested (AB_DATA_DEPTH + 1, &n);
        s_expect_data (deep, n, "nesting deeper than 32", verbose);
        free (deep);
    }

    //  set_data refuses bad bytes and changes nothing
    {
        size_t before_n, after_n;
        const uint8_t *before = ab_event_data (e, &before_n);
        uint8_t *keep = malloc (before_n);
        memcpy (keep, before, before_n);
        S_CHECK (ab_event_set_data (e, NULL, 0, &err) == -AB_E_MALFORMED);
        S_CHECK (strstr (err->msg, "data: empty"));
        S_CHECK (!ab_msgpack_to_json (NULL, 0, &err) && strstr (err->msg, "empty input"));
        S_CHECK (ab_event_set_data (e, (const uint8_t *)"\x91\x01", 2, &err) == -AB_E_MALFORMED);
        S_CHECK (strstr (err->msg, "data: expected map, got array"));
        S_CHECK (ab_event_set_data (e, (const uint8_t *)"\x80\x80", 2, &err) == -AB_E_MALFORMED);
        S_CHECK (strstr (err->msg, "data: 1 trailing bytes after the map"));
        S_CHECK (ab_event_set_data (e,
                                    (const uint8_t *)"\x81\xa1"
                                                     "a",
                                    3, &err)
                 == -AB_E_MALFORMED);
        S_CHECK (strstr (err->msg, "truncated"));
        S_CHECK (ab_event_set_data_json (e, "{\n  \"a\": 1,\n  \"b\": }", &err) == -AB_E_INVALID);
        S_CHECK (strstr (err->msg, "line 3, column"));
        if (verbose)
            printf ("    %s\n", err->msg);
        S_CHECK (ab_event_set_data_json (e, "[1, 2]", &err) == -AB_E_INVALID);
        S_CHECK (strstr (err->msg, "expected a JSON object, got array"));
        S_CHECK (ab_event_set_data_json (e, "{\"a\": 1, \"a\": 2}", &err) == -AB_E_INVALID);
        const uint8_t *after = ab_event_data (e, &after_n);
        S_CHECK (after_n == before_n && memcmp (after, keep, before_n) == 0);
        free (keep);
    }

    //  JSON views
    {
        const char *text
            = "{\"spec\": {\"services\": [{\"name\": \"api\", \"replicas\": 3, \"cpu\": 0.5, "
              "\"env\": {\"A\": \"1\"}, \"ports\": [8080], \"on\": true, \"off\": false, "
              "\"nothing\": null, \"neg\": -9007199254740993}]}}";
        json_t *want = json_loads (text, 0, NULL);
        S_CHECK (want);
        S_CHECK (ab_event_set_data_json (e, text, &err) == 0);
        ab_event_seal (e, 9, 1700000000000000009ull, "admin:admin:abcd1234", hashes[2]);
        json_t *j = ab_event_to_json (e);
        S_CHECK (j);
        S_CHECK (json_integer_value (json_object_get (j, "seq")) == 9);
        S_CHECK (strcmp (json_string_value (json_object_get (j, "type")), "note.added") == 0);
        S_CHECK (strlen (json_string_value (json_object_get (j, "hash"))) == 64);
        char hex[65];
        sodium_bin2hex (hex, sizeof hex, hashes[2], AB_HASH_SIZE);
        S_CHECK (strcmp (json_string_value (json_object_get (j, "prev")), hex) == 0);
        S_CHECK (json_equal (json_object_get (j, "data"), want));
        json_decref (j);
        //  JSON → msgpack → JSON is the identity; bin becomes base64
        size_t n;
        uint8_t *mp = ab_json_to_msgpack (want, &n, &err);
        S_CHECK (mp);
        json_t *back = ab_msgpack_to_json (mp, n, &err);
        S_CHECK (back && json_equal (back, want));
        json_decref (back);
        free (mp);
        json_decref (want);
        back = ab_msgpack_to_json ((const uint8_t *)"\x81\xa1"
                                                    "b\xc4\x03"
                                                    "abc",
                                   8, &err);
        S_CHECK (back && strcmp (json_string_value (json_object_get (back, "b")), "YWJj") == 0);
        json_decref (back);
        //  Empty key, empty string and empty bin (found by the fuzzer)
        back = ab_msgpack_to_json ((const uint8_t *)"\x83\xa0\xf9\xa1"
                                                    "e\xa0\xa1"
                                                    "b\xc4\x00",
                                   10, &err);
        S_CHECK (back && json_integer_value (json_object_get (back, "")) == -7);
        S_CHECK (strcmp (json_string_value (json_object_get (back, "e")), "") == 0);
        S_CHECK (strcmp (json_string_value (json_object_get (back, "b")), "") == 0);
        json_decref (back);
        S_CHECK (!ab_msgpack_to_json ((const uint8_t *)"\x81\xa1"
                                                       "x\xd4\x05\x00",
                                      6, &err));
        S_CHECK (strstr (err->msg, "at $.x: extension values (type 5)"));
        S_CHECK (!ab_msgpack_to_json ((const uint8_t *)"\x01\x02", 2, &err));
        S_CHECK (strstr (err->msg, "1 trailing bytes"));
        S_CHECK (!ab_msgpack_to_json ((const uint8_t *)"\x92\x01", 2, &err));
        S_CHECK (strstr (err->msg, "truncated"));
        S_CHECK (!ab_msgpack_to_json ((const uint8_t *)"\x82\xa1"
                                                       "a\x01\xa1"
                                                       "a\x02",
                                      7, &err));
        S_CHECK (strstr (err->msg, "duplicate key"));
        json_t *deep = json_loads (
            "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", 0, NULL);
        S_CHECK (deep);
        S_CHECK (!ab_json_to_msgpack (deep, &n, &err));
        S_CHECK (strstr (err->msg, "nesting deeper than 32"));
        json_decref (deep);
    }

    //  Encode refuses what decode would refuse
    {
        ab_event_t *bad = ab_event_new ("Bad Type", "stack/x");
        S_CHECK (!ab_event_encode (bad, &size, &err) && err->code == AB_E_INVALID);
        S_CHECK (strstr (err->msg, "field \"type\""));
        ab_event_destroy (&bad);
        bad = ab_event_new ("note.added", "");
        S_CHECK (!ab_event_encode (bad, &size, &err) && strstr (err->msg, "field \"subj\""));
        ab_event_destroy (&bad);
        char longsubj[AB_SUBJ_MAX + 2];
        memset (longsubj, 'x', sizeof longsubj - 1);
        longsubj[sizeof longsubj - 1] = 0;
        bad = ab_event_new ("note.added", longsubj);
        S_CHECK (!ab_event_encode (bad, &size, &err) && strstr (err->msg, "got 257"));
        ab_event_destroy (&bad);
        bad = ab_event_new ("note.added", "stack/x");
        ab_event_seal (bad, 1, 1, "has space", (const uint8_t *)s_zeros);
        S_CHECK (!ab_event_encode (bad, &size, &err) && strstr (err->msg, "field \"src\""));
        ab_event_destroy (&bad);
        ab_event_destroy (&bad); //  safe on NULL
    }
    ab_error_destroy (&err);
    ab_event_destroy (&e);
    S_CHECK (e == NULL);

    if (verbose)
        s_bench ();
    printf ("OK\n");
}
