/*  ab_proto - the abbey-logd wire protocol: pure encoders and decoders
    Decoding uses a small cursor reader instead of msgpack_unpack: a request
    has a fixed shape, and reading it in place allocates nothing the input
    can inflate (msgpack_unpack would allocate an array's claimed element
    count before seeing a single element).                                */
//  Selftests assert behaviour: keep assert live in release builds too.
#undef NDEBUG
#include <assert.h>

#include "ab_proto.h"

#include <assert.h>
#include <msgpack.h>
#include <stdio.h>
#include <string.h>

#ifndef streq
#define streq(a, b) (strcmp ((a), (b)) == 0)
#endif

//  --------------------------------------------------------------------------
//  Cursor reader over one msgpack frame

typedef struct {
    const uint8_t *p; //  frame
    size_t len;       //  its size
    size_t off;       //  next byte to read
} s_cur_t;

//  What a leading byte is, for error messages.
static const char *
s_kind (uint8_t b)
{
    if (b <= 0x7f || b == 0xcc || b == 0xcd || b == 0xce || b == 0xcf)
        return "unsigned integer";
    if (b >= 0xe0 || (b >= 0xd0 && b <= 0xd3))
        return "integer";
    if ((b >= 0x80 && b <= 0x8f) || b == 0xde || b == 0xdf)
        return "map";
    if ((b >= 0x90 && b <= 0x9f) || b == 0xdc || b == 0xdd)
        return "array";
    if ((b >= 0xa0 && b <= 0xbf) || (b >= 0xd9 && b <= 0xdb))
        return "string";
    if (b >= 0xc4 && b <= 0xc6)
        return "binary";
    if (b == 0xc0)
        return "nil";
    if (b == 0xc2 || b == 0xc3)
        return "boolean";
    if (b == 0xca || b == 0xcb)
        return "float";
    if (b == 0xc1)
        return "reserved byte 0xc1";
    return "extension";
}

static bool
s_need (s_cur_t *c, size_t n)
{
    return c->len - c->off >= n;
}

static uint64_t
s_be (const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

//  Errors say which element of which message broke and at what byte.
static int
s_expect (s_cur_t *c, const char *what, const char *expected, ab_error_t **err)
{
    if (c->off >= c->len)
        return ab_error_set (err, AB_E_MALFORMED, "%s: expected %s, frame ends at byte %zu", what,
                             expected, c->off);
    return ab_error_set (err, AB_E_MALFORMED, "%s: expected %s, got %s at byte %zu", what, expected,
                         s_kind (c->p[c->off]), c->off);
}

static int
s_truncated (s_cur_t *c, const char *what, ab_error_t **err)
{
    return ab_error_set (err, AB_E_MALFORMED, "%s: frame truncated at byte %zu of %zu", what,
                         c->off, c->len);
}

static int
s_rd_array (s_cur_t *c, const char *what, uint32_t *n, ab_error_t **err)
{
    if (!s_need (c, 1))
        return s_expect (c, what, "array", err);
    uint8_t b = c->p[c->off];
    int hdr = 0;
    if (b >= 0x90 && b <= 0x9f) {
        *n = b & 0x0f;
        c->off++;
        return 0;
    }
    if (b == 0xdc)
        hdr = 2;
    else if (b == 0xdd)
        hdr = 4;
    else
        return s_expect (c, what, "array", err);
    if (!s_need (c, 1 + hdr))
        return s_truncated (c, what, err);
    *n = (uint32_t)s_be (c->p + c->off + 1, hdr);
    c->off += 1 + hdr;
    return 0;
}

static int
s_rd_uint (s_cur_t *c, const char *what, uint64_t *v, ab_error_t **err)
{
    if (!s_need (c, 1))
        return s_expect (c, what, "unsigned integer", err);
    uint8_t b = c->p[c->off];
    if (b <= 0x7f) {
        *v = b;
        c->off++;
        return 0;
    }
    int n = 0;
    bool is_signed = false;
    switch (b) {
    case 0xcc:
        n = 1;
        break;
    case 0xcd:
        n = 2;
        break;
    case 0xce:
        n = 4;
        break;
    case 0xcf:
        n = 8;
        break;
    //  Other encoders may write a non-negative number as a signed type.
    case 0xd0:
        n = 1;
        is_signed = true;
        break;
    case 0xd1:
        n = 2;
        is_signed = true;
        break;
    case 0xd2:
        n = 4;
        is_signed = true;
        break;
    case 0xd3:
        n = 8;
        is_signed = true;
        break;
    default:
        return s_expect (c, what, "unsigned integer", err);
    }
    if (!s_need (c, 1 + n))
        return s_truncated (c, what, err);
    uint64_t x = s_be (c->p + c->off + 1, n);
    if (is_signed && (x >> (8 * n - 1)) & 1)
        return ab_error_set (err, AB_E_MALFORMED,
                             "%s: expected unsigned integer, got a negative one at byte %zu", what,
                             c->off);
    *v = x;
    c->off += 1 + n;
    return 0;
}

static int
s_rd_raw (s_cur_t *c, const char *what, bool bin, const uint8_t **d, uint32_t *size,
          ab_error_t **err)
{
    const char *expected = bin ? "binary" : "string";
    if (!s_need (c, 1))
        return s_expect (c, what, expected, err);
    uint8_t b = c->p[c->off];
    int hdr = -1;
    uint32_t n = 0;
    if (!bin && b >= 0xa0 && b <= 0xbf) {
        hdr = 0;
        n = b & 0x1f;
    } else if (b == (bin ? 0xc4 : 0xd9))
        hdr = 1;
    else if (b == (bin ? 0xc5 : 0xda))
        hdr = 2;
    else if (b == (bin ? 0xc6 : 0xdb))
        hdr = 4;
    if (hdr < 0)
        return s_expect (c, what, expected, err);
    if (!s_need (c, 1 + hdr))
        return s_truncated (c, what, err);
    if (hdr > 0)
        n = (uint32_t)s_be (c->p + c->off + 1, hdr);
    if (!s_need (c, 1 + hdr + (size_t)n))
        return ab_error_set (
            err, AB_E_MALFORMED,
            "%s: %s of %u bytes at byte %zu runs past the end of the frame (%zu bytes)", what,
            expected, n, c->off, c->len);
    *d = c->p + c->off + 1 + hdr;
    *size = n;
    c->off += 1 + hdr + n;
    return 0;
}

static bool
s_rd_nil (s_cur_t *c)
{
    if (s_need (c, 1) && c->p[c->off] == 0xc0) {
        c->off++;
        return true;
    }
    return false;
}

//  Read the message name into name (NUL-terminated, ≤ 15 chars).
static int
s_rd_name (s_cur_t *c, char name[16], ab_error_t **err)
{
    const uint8_t *d;
    uint32_t n;
    if (s_rd_raw (c, "element 0 (message name)", false, &d, &n, err))
        return -AB_E_MALFORMED;
    if (n == 0 || n >= 16 || memchr (d, 0, n))
        return ab_error_set (err, AB_E_MALFORMED,
                             "element 0 (message name): not a message name (%u bytes)", n);
    memcpy (name, d, n);
    name[n] = 0;
    for (uint32_t i = 0; i < n; i++)
        if (name[i] < 'A' || name[i] > 'Z')
            return ab_error_set (err, AB_E_MALFORMED,
                                 "element 0 (message name): not a message name");
    return 0;
}

static int
s_rd_envs (s_cur_t *c, const char *msg, size_t max_envelope, size_t max_count,
           ab_proto_blob_t **envs_out, size_t *count_out, int64_t *bad_index, ab_error_t **err)
{
    uint32_t n;
    if (s_rd_array (c, "element 2 (envelopes)", &n, err))
        return -AB_E_MALFORMED;
    if (max_count && n > max_count)
        return ab_error_set (err, AB_E_OVERSIZE, "%s: %u envelopes, more than the limit of %zu",
                             msg, n, max_count);
    //  Every envelope takes at least one byte: a claimed count larger than
    //  what is left is a lie, found before allocating for it.
    if (n > c->len - c->off)
        return ab_error_set (err, AB_E_MALFORMED, "%s: claims %u envelopes in %zu bytes", msg, n,
                             c->len - c->off);
    ab_proto_blob_t *envs = n ? calloc (n, sizeof *envs) : NULL;
    if (n && !envs)
        return ab_error_set (err, AB_E_SYSTEM, "%s: out of memory", msg);
    for (uint32_t i = 0; i < n; i++) {
        char what[48];
        snprintf (what, sizeof what, "envelope %u", i);
        const uint8_t *d;
        uint32_t size;
        if (s_rd_raw (c, what, true, &d, &size, err)) {
            free (envs);
            *bad_index = i;
            return -AB_E_MALFORMED;
        }
        if (max_envelope && size > max_envelope) {
            free (envs);
            *bad_index = i;
            return ab_error_set (err, AB_E_OVERSIZE,
                                 "envelope %u: %u bytes, more than the limit of %zu", i, size,
                                 max_envelope);
        }
        envs[i].data = d;
        envs[i].size = size;
    }
    *envs_out = envs;
    *count_out = n;
    return 0;
}

static int
s_arity (const char *msg, uint32_t n, uint32_t want, ab_error_t **err)
{
    if (n == want)
        return 0;
    return ab_error_set (err, AB_E_MALFORMED, "%s: %u elements, expected %u", msg, n, want);
}

//  --------------------------------------------------------------------------
//  Requests

int
ab_proto_decode_request (const uint8_t *buf, size_t len, size_t max_envelope,
                         ab_proto_request_t *req, ab_error_t **err)
{
    assert (req);
    memset (req, 0, sizeof *req);
    req->bad_index = -1;
    if (!buf || len == 0)
        return ab_error_set (err, AB_E_MALFORMED, "request: empty frame");
    if (len > AB_PROTO_REQUEST_MAX)
        return ab_error_set (err, AB_E_OVERSIZE, "request: %zu bytes, more than the limit of %u",
                             len, AB_PROTO_REQUEST_MAX);
    s_cur_t c = { buf, len, 0 };
    uint32_t n;
    char name[16];
    uint64_t reqid;
    if (s_rd_array (&c, "request", &n, err))
        return -AB_E_MALFORMED;
    if (n < 2)
        return ab_error_set (err, AB_E_MALFORMED,
                             "request: %u elements, expected at least 2 (name, reqid)", n);
    if (s_rd_name (&c, name, err) || s_rd_uint (&c, "element 1 (reqid)", &reqid, err))
        return -AB_E_MALFORMED;
    req->reqid = reqid;

    int rc = 0;
    if (streq (name, AB_PROTO_S_APPEND)) {
        req->op = AB_PROTO_APPEND;
        if ((rc = s_arity (name, n, 3, err)))
            return rc;
        if ((rc = s_rd_envs (&c, name, max_envelope, AB_PROTO_APPEND_MAX, &req->envs, &req->count,
                             &req->bad_index, err)))
            return rc;
        if (req->count == 0)
            return ab_error_set (err, AB_E_MALFORMED, "APPEND: no envelopes");
    } else if (streq (name, AB_PROTO_S_READ)) {
        req->op = AB_PROTO_READ;
        uint64_t from, max_events, max_bytes;
        if ((rc = s_arity (name, n, 5, err)))
            return rc;
        if (s_rd_uint (&c, "element 2 (from)", &from, err)
            || s_rd_uint (&c, "element 3 (max_events)", &max_events, err)
            || s_rd_uint (&c, "element 4 (max_bytes)", &max_bytes, err))
            return -AB_E_MALFORMED;
        if (from == 0)
            return ab_error_set (err, AB_E_MALFORMED, "READ: from must be ≥ 1 (seq starts at 1)");
        if (max_events > UINT32_MAX || max_bytes > UINT32_MAX)
            return ab_error_set (err, AB_E_MALFORMED,
                                 "READ: max_events and max_bytes must fit 32 bits");
        req->from = from;
        req->max_events = (uint32_t)max_events;
        req->max_bytes = (uint32_t)max_bytes;
    } else if (streq (name, AB_PROTO_S_HEAD)) {
        req->op = AB_PROTO_HEAD;
        if ((rc = s_arity (name, n, 2, err)))
            return rc;
    } else
        return ab_error_set (err, AB_E_MALFORMED,
                             "request: unknown request \"%s\" (expected APPEND, READ or HEAD)",
                             name);
    if (c.off != c.len) {
        ab_proto_request_clear (req);
        req->reqid = reqid;
        return ab_error_set (err, AB_E_MALFORMED, "%s: %zu trailing bytes after the message", name,
                             c.len - c.off);
    }
    return 0;
}

void
ab_proto_request_clear (ab_proto_request_t *req)
{
    if (!req)
        return;
    free (req->envs);
    memset (req, 0, sizeof *req);
    req->bad_index = -1;
}

int
ab_proto_check_append (const ab_proto_request_t *req, ab_role_t role, size_t max_envelope,
                       ab_event_t ***events_out, size_t *bad_index, ab_error_t **err)
{
    assert (req);
    assert (events_out);
    assert (bad_index);
    *bad_index = 0;
    if (req->op != AB_PROTO_APPEND || req->count == 0)
        return ab_error_set (err, AB_E_INVALID, "check_append: not an APPEND with events");
    ab_event_t **events = calloc (req->count, sizeof *events);
    if (!events)
        return ab_error_set (err, AB_E_SYSTEM, "APPEND: out of memory");
    const char *role_name = ab_role_name (role) ? ab_role_name (role) : "none";
    int rc = 0;
    size_t i;
    for (i = 0; i < req->count; i++) {
        ab_error_t *derr = NULL;
        events[i] = ab_event_decode (req->envs[i].data, req->envs[i].size, AB_EVENT_PRODUCED,
                                     max_envelope, &derr);
        if (!events[i]) {
            ab_code_t code = derr && derr->code == AB_E_OVERSIZE ? AB_E_OVERSIZE : AB_E_MALFORMED;
            rc = ab_error_set (err, code, "event %zu: %s", i,
                               derr ? ab_error_msg (derr) : "does not decode");
            ab_error_destroy (&derr);
            break;
        }
        const char *type = ab_event_type (events[i]);
        ab_evtype_t t = ab_catalog_type (type);
        if (t == AB_EV_UNKNOWN) {
            rc = ab_error_set (err, AB_E_UNKNOWN_TYPE, "event %zu: unknown event type \"%.64s\"", i,
                               type);
            break;
        }
        if (!ab_catalog_allows (role, t)) {
            rc = ab_error_set (err, AB_E_FORBIDDEN, "event %zu: role %s may not append %s", i,
                               role_name, type);
            break;
        }
    }
    if (rc < 0) {
        *bad_index = i;
        ab_proto_events_destroy (&events, req->count);
        return rc;
    }
    *events_out = events;
    return 0;
}

void
ab_proto_events_destroy (ab_event_t ***events_p, size_t count)
{
    if (!events_p || !*events_p)
        return;
    for (size_t i = 0; i < count; i++)
        ab_event_destroy (&(*events_p)[i]);
    free (*events_p);
    *events_p = NULL;
}

//  --------------------------------------------------------------------------
//  Replies

int
ab_proto_decode_reply (const uint8_t *buf, size_t len, ab_proto_reply_t *reply, ab_error_t **err)
{
    assert (reply);
    memset (reply, 0, sizeof *reply);
    reply->index = -1;
    if (!buf || len == 0)
        return ab_error_set (err, AB_E_MALFORMED, "reply: empty frame");
    s_cur_t c = { buf, len, 0 };
    uint32_t n;
    char name[16];
    int rc = 0;
    if (s_rd_array (&c, "reply", &n, err))
        return -AB_E_MALFORMED;
    if (n < 2)
        return ab_error_set (err, AB_E_MALFORMED, "reply: %u elements, expected at least 2", n);
    if (s_rd_name (&c, name, err) || s_rd_uint (&c, "element 1 (reqid)", &reply->reqid, err))
        return -AB_E_MALFORMED;

    if (streq (name, AB_PROTO_S_ACK)) {
        reply->op = AB_PROTO_ACK;
        uint32_t count;
        if ((rc = s_arity (name, n, 3, err))
            || (rc = s_rd_array (&c, "element 2 (seqs)", &count, err)))
            goto fail;
        if (count > c.len - c.off) {
            rc = ab_error_set (err, AB_E_MALFORMED, "ACK: claims %u seqs in %zu bytes", count,
                               c.len - c.off);
            goto fail;
        }
        reply->seqs = calloc (count ? count : 1, sizeof (uint64_t));
        if (!reply->seqs) {
            rc = ab_error_set (err, AB_E_SYSTEM, "ACK: out of memory");
            goto fail;
        }
        for (uint32_t i = 0; i < count; i++)
            if ((rc = s_rd_uint (&c, "ACK seq", &reply->seqs[i], err)))
                goto fail;
        reply->count = count;
    } else if (streq (name, AB_PROTO_S_NACK)) {
        reply->op = AB_PROTO_NACK;
        const uint8_t *d;
        uint32_t size;
        char ename[32];
        if ((rc = s_arity (name, n, 5, err))
            || (rc = s_rd_raw (&c, "element 2 (error)", false, &d, &size, err)))
            goto fail;
        if (size >= sizeof ename) {
            rc = ab_error_set (err, AB_E_MALFORMED, "NACK: error name of %u bytes", size);
            goto fail;
        }
        memcpy (ename, d, size);
        ename[size] = 0;
        reply->code = ab_error_from_name (ename);
        if (reply->code == AB_OK)
            reply->code = AB_E_PROTOCOL; //  a NACK that says "ok" is broken
        if ((rc = s_rd_raw (&c, "element 3 (message)", false, &d, &size, err)))
            goto fail;
        reply->message = strndup ((const char *)d, size);
        if (!reply->message) {
            rc = ab_error_set (err, AB_E_SYSTEM, "NACK: out of memory");
            goto fail;
        }
        if (!s_rd_nil (&c)) {
            uint64_t index;
            if ((rc = s_rd_uint (&c, "element 4 (index)", &index, err)))
                goto fail;
            reply->index = index > INT64_MAX ? INT64_MAX : (int64_t)index;
        }
    } else if (streq (name, AB_PROTO_S_EVENTS)) {
        reply->op = AB_PROTO_EVENTS;
        int64_t bad = -1;
        if ((rc = s_arity (name, n, 3, err))
            || (rc = s_rd_envs (&c, name, 0, 0, &reply->envs, &reply->count, &bad, err)))
            goto fail;
    } else if (streq (name, AB_PROTO_S_END) || streq (name, AB_PROTO_S_HEAD)) {
        reply->op = streq (name, AB_PROTO_S_END) ? AB_PROTO_END : AB_PROTO_HEAD;
        const uint8_t *d;
        uint32_t size;
        bool head = reply->op == AB_PROTO_HEAD;
        if ((rc = s_arity (name, n, head ? 5 : 4, err))
            || (rc = s_rd_uint (&c, "element 2 (head seq)", &reply->head_seq, err))
            || (rc = s_rd_raw (&c, "element 3 (head hash)", true, &d, &size, err)))
            goto fail;
        if (size != AB_HASH_SIZE) {
            rc = ab_error_set (err, AB_E_MALFORMED, "%s: head hash of %u bytes, expected %d", name,
                               size, AB_HASH_SIZE);
            goto fail;
        }
        memcpy (reply->head_hash, d, AB_HASH_SIZE);
        if (head && (rc = s_rd_uint (&c, "element 4 (first seq)", &reply->first, err)))
            goto fail;
        if (head && reply->first == 0) {
            rc = ab_error_set (err, AB_E_MALFORMED, "HEAD: first seq 0 (history starts at 1)");
            goto fail;
        }
    } else
        return ab_error_set (err, AB_E_MALFORMED, "reply: unknown reply \"%s\"", name);
    if (c.off != c.len) {
        rc = ab_error_set (err, AB_E_MALFORMED, "%s: %zu trailing bytes after the message", name,
                           c.len - c.off);
        goto fail;
    }
    return 0;
fail : {
    uint64_t reqid = reply->reqid;
    ab_proto_reply_clear (reply);
    reply->reqid = reqid;
}
    return rc < 0 ? rc : -AB_E_MALFORMED;
}

void
ab_proto_reply_clear (ab_proto_reply_t *reply)
{
    if (!reply)
        return;
    free (reply->seqs);
    free (reply->envs);
    free (reply->message);
    memset (reply, 0, sizeof *reply);
    reply->index = -1;
}

//  --------------------------------------------------------------------------
//  Encoders

//  Start a message: array of n elements, its name and reqid.
static void
s_begin (msgpack_sbuffer *sb, msgpack_packer *pk, uint32_t n, const char *name, uint64_t reqid)
{
    msgpack_sbuffer_init (sb);
    msgpack_packer_init (pk, sb, msgpack_sbuffer_write);
    msgpack_pack_array (pk, n);
    msgpack_pack_str_with_body (pk, name, strlen (name));
    msgpack_pack_uint64 (pk, reqid);
}

//  Hand the buffer out; NULL if any write ran out of memory.
static uint8_t *
s_finish (msgpack_sbuffer *sb, bool ok, size_t *size)
{
    assert (size);
    if (!ok) {
        msgpack_sbuffer_destroy (sb);
        *size = 0;
        return NULL;
    }
    *size = sb->size;
    return (uint8_t *)msgpack_sbuffer_release (sb);
}

static uint8_t *
s_encode_blobs (const char *name, uint64_t reqid, const ab_proto_blob_t *envs, size_t count,
                size_t *size)
{
    assert (count <= UINT32_MAX);
    msgpack_sbuffer sb;
    msgpack_packer pk;
    s_begin (&sb, &pk, 3, name, reqid);
    bool ok = msgpack_pack_array (&pk, (uint32_t)count) == 0;
    for (size_t i = 0; ok && i < count; i++)
        ok = msgpack_pack_bin_with_body (&pk, envs[i].data, envs[i].size) == 0;
    return s_finish (&sb, ok, size);
}

uint8_t *
ab_proto_encode_append (uint64_t reqid, const ab_proto_blob_t *envs, size_t count, size_t *size)
{
    return s_encode_blobs (AB_PROTO_S_APPEND, reqid, envs, count, size);
}

uint8_t *
ab_proto_encode_events (uint64_t reqid, const ab_proto_blob_t *envs, size_t count, size_t *size)
{
    return s_encode_blobs (AB_PROTO_S_EVENTS, reqid, envs, count, size);
}

uint8_t *
ab_proto_encode_read (uint64_t reqid, uint64_t from, uint32_t max_events, uint32_t max_bytes,
                      size_t *size)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    s_begin (&sb, &pk, 5, AB_PROTO_S_READ, reqid);
    bool ok = msgpack_pack_uint64 (&pk, from) == 0 && msgpack_pack_uint32 (&pk, max_events) == 0
              && msgpack_pack_uint32 (&pk, max_bytes) == 0;
    return s_finish (&sb, ok, size);
}

uint8_t *
ab_proto_encode_head (uint64_t reqid, size_t *size)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    s_begin (&sb, &pk, 2, AB_PROTO_S_HEAD, reqid);
    return s_finish (&sb, sb.data != NULL, size);
}

uint8_t *
ab_proto_encode_ack (uint64_t reqid, const uint64_t *seqs, size_t count, size_t *size)
{
    assert (count <= UINT32_MAX);
    msgpack_sbuffer sb;
    msgpack_packer pk;
    s_begin (&sb, &pk, 3, AB_PROTO_S_ACK, reqid);
    bool ok = msgpack_pack_array (&pk, (uint32_t)count) == 0;
    for (size_t i = 0; ok && i < count; i++)
        ok = msgpack_pack_uint64 (&pk, seqs[i]) == 0;
    return s_finish (&sb, ok, size);
}

uint8_t *
ab_proto_encode_nack (uint64_t reqid, ab_code_t code, const char *message, int64_t index,
                      size_t *size)
{
    const char *name = ab_error_name (code);
    if (!message)
        message = ab_error_default (code);
    msgpack_sbuffer sb;
    msgpack_packer pk;
    s_begin (&sb, &pk, 5, AB_PROTO_S_NACK, reqid);
    bool ok
        = msgpack_pack_str_with_body (&pk, name, strlen (name)) == 0
          && msgpack_pack_str_with_body (&pk, message, strlen (message)) == 0
          && (index < 0 ? msgpack_pack_nil (&pk) : msgpack_pack_uint64 (&pk, (uint64_t)index)) == 0;
    return s_finish (&sb, ok, size);
}

//  END and HEAD: [name, reqid, head seq, head hash] and, for HEAD, the
//  first seq held (first 0: not sent).
static uint8_t *
s_encode_head (const char *name, uint64_t reqid, uint64_t head_seq,
               const uint8_t head_hash[AB_HASH_SIZE], uint64_t first, size_t *size)
{
    assert (head_hash);
    msgpack_sbuffer sb;
    msgpack_packer pk;
    s_begin (&sb, &pk, first ? 5 : 4, name, reqid);
    bool ok = msgpack_pack_uint64 (&pk, head_seq) == 0
              && msgpack_pack_bin_with_body (&pk, head_hash, AB_HASH_SIZE) == 0
              && (!first || msgpack_pack_uint64 (&pk, first) == 0);
    return s_finish (&sb, ok, size);
}

uint8_t *
ab_proto_encode_end (uint64_t reqid, uint64_t head_seq, const uint8_t head_hash[AB_HASH_SIZE],
                     size_t *size)
{
    return s_encode_head (AB_PROTO_S_END, reqid, head_seq, head_hash, 0, size);
}

uint8_t *
ab_proto_encode_head_reply (uint64_t reqid, uint64_t head_seq,
                            const uint8_t head_hash[AB_HASH_SIZE], uint64_t first, size_t *size)
{
    assert (first >= 1);
    return s_encode_head (AB_PROTO_S_HEAD, reqid, head_seq, head_hash, first, size);
}

//  --------------------------------------------------------------------------
//  Selftest

//  Decode buf and expect failure with code; the message must mention needle.
static void
s_expect_bad (const uint8_t *buf, size_t len, ab_code_t code, const char *needle, bool verbose)
{
    ab_proto_request_t req = { 0 };
    ab_error_t *err = NULL;
    int rc = ab_proto_decode_request (buf, len, AB_PROTO_PRODUCED_MAX, &req, &err);
    if (verbose)
        printf ("  bad request → %s: %s\n", err ? ab_error_name (err->code) : "ok",
                ab_error_msg (err));
    assert (rc == -(int)code);
    assert (err && err->code == code);
    assert (strstr (err->msg, needle));
    ab_proto_request_clear (&req);
    ab_error_destroy (&err);
}

//  A frame from hand-written msgpack bytes.
static void
s_pack_frame (msgpack_sbuffer *sb, msgpack_packer *pk)
{
    msgpack_sbuffer_init (sb);
    msgpack_packer_init (pk, sb, msgpack_sbuffer_write);
}

static uint8_t *
s_event_bytes (const char *type, const char *subj, uint64_t pseq, size_t *size)
{
    ab_event_t *ev = ab_event_new (type, subj);
    assert (ev);
    ab_event_set_pseq (ev, pseq);
    ab_error_t *err = NULL;
    uint8_t *bytes = ab_event_encode (ev, size, &err);
    assert (bytes);
    ab_event_destroy (&ev);
    return bytes;
}

void
ab_proto_test (bool verbose)
{
    printf (" * ab_proto: ");
    if (verbose)
        printf ("\n");

    //  Round trip: APPEND
    const uint8_t a[] = "first", b[] = "second envelope";
    ab_proto_blob_t envs[2] = { { a, 5 }, { b, 15 } };
    size_t size;
    uint8_t *buf = ab_proto_encode_append (77, envs, 2, &size);
    assert (buf);
    ab_proto_request_t req = { 0 };
    ab_error_t *err = NULL;
    assert (ab_proto_decode_request (buf, size, 1024, &req, &err) == 0);
    assert (req.op == AB_PROTO_APPEND && req.reqid == 77 && req.count == 2);
    assert (req.envs[0].size == 5 && memcmp (req.envs[0].data, "first", 5) == 0);
    assert (req.envs[1].size == 15 && memcmp (req.envs[1].data, "second envelope", 15) == 0);
    ab_proto_request_clear (&req);

    //  An envelope over the limit is oversize and names its index.
    assert (ab_proto_decode_request (buf, size, 10, &req, &err) == -AB_E_OVERSIZE);
    assert (req.bad_index == 1 && req.reqid == 77);
    assert (strstr (err->msg, "envelope 1"));
    ab_error_destroy (&err);
    ab_proto_request_clear (&req);

    //  Every truncation of a valid request is an error, never a crash.
    for (size_t cut = 0; cut < size; cut++) {
        assert (ab_proto_decode_request (buf, cut, 1024, &req, &err) < 0);
        assert (err);
        ab_error_destroy (&err);
        ab_proto_request_clear (&req);
    }
    //  Trailing bytes.
    uint8_t *longer = malloc (size + 1);
    memcpy (longer, buf, size);
    longer[size] = 0xc0;
    s_expect_bad (longer, size + 1, AB_E_MALFORMED, "trailing", verbose);
    free (longer);
    free (buf);

    //  Round trip: READ and HEAD
    buf = ab_proto_encode_read (5, 1000000000000ull, 500, 1 << 20, &size);
    assert (ab_proto_decode_request (buf, size, 1024, &req, &err) == 0);
    assert (req.op == AB_PROTO_READ && req.reqid == 5 && req.from == 1000000000000ull);
    assert (req.max_events == 500 && req.max_bytes == 1 << 20);
    ab_proto_request_clear (&req);
    free (buf);
    buf = ab_proto_encode_head (UINT64_MAX, &size);
    assert (ab_proto_decode_request (buf, size, 1024, &req, &err) == 0);
    assert (req.op == AB_PROTO_HEAD && req.reqid == UINT64_MAX);
    ab_proto_request_clear (&req);
    free (buf);

    //  Malformed classes, each named.
    msgpack_sbuffer sb;
    msgpack_packer pk;
    s_expect_bad (NULL, 0, AB_E_MALFORMED, "empty", verbose);
    s_expect_bad ((const uint8_t *)"\xc1", 1, AB_E_MALFORMED, "expected array", verbose);
    s_expect_bad ((const uint8_t *)"\x81\xa1x\x01", 4, AB_E_MALFORMED, "got map", verbose);
    //  An array claiming 2^32-1 elements in 5 bytes allocates nothing.
    s_expect_bad ((const uint8_t *)"\xdd\xff\xff\xff\xff", 5, AB_E_MALFORMED, "message name",
                  verbose);
    s_pack_frame (&sb, &pk);
    msgpack_pack_array (&pk, 2);
    msgpack_pack_str_with_body (&pk, "DROP", 4);
    msgpack_pack_uint64 (&pk, 1);
    s_expect_bad ((uint8_t *)sb.data, sb.size, AB_E_MALFORMED, "unknown request \"DROP\"", verbose);
    msgpack_sbuffer_destroy (&sb);
    s_pack_frame (&sb, &pk);
    msgpack_pack_array (&pk, 2);
    msgpack_pack_str_with_body (&pk, "HEAD", 4);
    msgpack_pack_int64 (&pk, -3);
    s_expect_bad ((uint8_t *)sb.data, sb.size, AB_E_MALFORMED, "reqid", verbose);
    msgpack_sbuffer_destroy (&sb);
    s_pack_frame (&sb, &pk);
    msgpack_pack_array (&pk, 3);
    msgpack_pack_str_with_body (&pk, "HEAD", 4);
    msgpack_pack_uint64 (&pk, 1);
    msgpack_pack_nil (&pk);
    s_expect_bad ((uint8_t *)sb.data, sb.size, AB_E_MALFORMED, "3 elements, expected 2", verbose);
    msgpack_sbuffer_destroy (&sb);
    s_pack_frame (&sb, &pk);
    msgpack_pack_array (&pk, 5);
    msgpack_pack_str_with_body (&pk, "READ", 4);
    msgpack_pack_uint64 (&pk, 1);
    msgpack_pack_uint64 (&pk, 0);
    msgpack_pack_uint64 (&pk, 1);
    msgpack_pack_uint64 (&pk, 1);
    s_expect_bad ((uint8_t *)sb.data, sb.size, AB_E_MALFORMED, "from must be", verbose);
    msgpack_sbuffer_destroy (&sb);
    s_pack_frame (&sb, &pk);
    msgpack_pack_array (&pk, 5);
    msgpack_pack_str_with_body (&pk, "READ", 4);
    msgpack_pack_uint64 (&pk, 1);
    msgpack_pack_uint64 (&pk, 1);
    msgpack_pack_uint64 (&pk, 1ull << 40);
    msgpack_pack_uint64 (&pk, 1);
    s_expect_bad ((uint8_t *)sb.data, sb.size, AB_E_MALFORMED, "32 bits", verbose);
    msgpack_sbuffer_destroy (&sb);
    s_pack_frame (&sb, &pk);
    msgpack_pack_array (&pk, 3);
    msgpack_pack_str_with_body (&pk, "APPEND", 6);
    msgpack_pack_uint64 (&pk, 9);
    msgpack_pack_array (&pk, 0);
    s_expect_bad ((uint8_t *)sb.data, sb.size, AB_E_MALFORMED, "no envelopes", verbose);
    msgpack_sbuffer_destroy (&sb);
    s_pack_frame (&sb, &pk);
    msgpack_pack_array (&pk, 3);
    msgpack_pack_str_with_body (&pk, "APPEND", 6);
    msgpack_pack_uint64 (&pk, 9);
    msgpack_pack_array (&pk, 2);
    msgpack_pack_bin_with_body (&pk, "x", 1);
    msgpack_pack_str_with_body (&pk, "y", 1);
    s_expect_bad ((uint8_t *)sb.data, sb.size, AB_E_MALFORMED,
                  "envelope 1: expected binary, got string", verbose);
    msgpack_sbuffer_destroy (&sb);
    s_pack_frame (&sb, &pk);
    msgpack_pack_array (&pk, 3);
    msgpack_pack_str_with_body (&pk, "APPEND", 6);
    msgpack_pack_uint64 (&pk, 9);
    msgpack_pack_array (&pk, AB_PROTO_APPEND_MAX + 1);
    s_expect_bad ((uint8_t *)sb.data, sb.size, AB_E_OVERSIZE, "more than the limit", verbose);
    msgpack_sbuffer_destroy (&sb);
    //  A bin claiming more bytes than the frame has.
    s_expect_bad ((const uint8_t *)"\x93\xa6"
                                   "APPEND"
                                   "\x01\x91\xc6\x7f\xff\xff\xff",
                  15, AB_E_MALFORMED, "runs past the end", verbose);
    //  The whole-request size limit is checked before anything is read.
    s_expect_bad ((const uint8_t *)"\x92", (size_t)AB_PROTO_REQUEST_MAX + 1, AB_E_OVERSIZE,
                  "request", verbose);

    //  Replies round trip.
    ab_proto_reply_t reply = { 0 };
    uint64_t seqs[3] = { 1, 300, 1ull << 40 };
    buf = ab_proto_encode_ack (12, seqs, 3, &size);
    assert (ab_proto_decode_reply (buf, size, &reply, &err) == 0);
    assert (reply.op == AB_PROTO_ACK && reply.reqid == 12 && reply.count == 3);
    assert (reply.seqs[1] == 300 && reply.seqs[2] == 1ull << 40);
    ab_proto_reply_clear (&reply);
    free (buf);
    buf = ab_proto_encode_nack (13, AB_E_FORBIDDEN, "role monitor may not append note.added", 4,
                                &size);
    assert (ab_proto_decode_reply (buf, size, &reply, &err) == 0);
    assert (reply.op == AB_PROTO_NACK && reply.code == AB_E_FORBIDDEN && reply.index == 4);
    assert (streq (reply.message, "role monitor may not append note.added"));
    ab_proto_reply_clear (&reply);
    free (buf);
    buf = ab_proto_encode_nack (0, AB_E_MALFORMED, NULL, -1, &size);
    assert (ab_proto_decode_reply (buf, size, &reply, &err) == 0);
    assert (reply.code == AB_E_MALFORMED && reply.index == -1 && reply.reqid == 0);
    assert (streq (reply.message, ab_error_default (AB_E_MALFORMED)));
    ab_proto_reply_clear (&reply);
    free (buf);
    buf = ab_proto_encode_events (14, envs, 2, &size);
    assert (ab_proto_decode_reply (buf, size, &reply, &err) == 0);
    assert (reply.op == AB_PROTO_EVENTS && reply.count == 2 && reply.envs[1].size == 15);
    ab_proto_reply_clear (&reply);
    free (buf);
    uint8_t hash[AB_HASH_SIZE];
    for (int i = 0; i < AB_HASH_SIZE; i++)
        hash[i] = (uint8_t)i;
    buf = ab_proto_encode_end (15, 42, hash, &size);
    assert (ab_proto_decode_reply (buf, size, &reply, &err) == 0);
    assert (reply.op == AB_PROTO_END && reply.head_seq == 42
            && memcmp (reply.head_hash, hash, 32) == 0);
    ab_proto_reply_clear (&reply);
    for (size_t cut = 0; cut < size; cut++) {
        assert (ab_proto_decode_reply (buf, cut, &reply, &err) < 0);
        ab_error_destroy (&err);
        ab_proto_reply_clear (&reply);
    }
    free (buf);
    buf = ab_proto_encode_head_reply (16, 43, hash, 7, &size);
    assert (ab_proto_decode_reply (buf, size, &reply, &err) == 0);
    assert (reply.op == AB_PROTO_HEAD && reply.head_seq == 43 && reply.first == 7);
    ab_proto_reply_clear (&reply);
    for (size_t cut = 0; cut < size; cut++) {
        assert (ab_proto_decode_reply (buf, cut, &reply, &err) < 0);
        ab_error_destroy (&err);
        ab_proto_reply_clear (&reply);
    }
    free (buf);

    //  check_append: good, unknown type, forbidden, malformed; all-or-nothing.
    size_t s0, s1, s2;
    uint8_t *e0 = s_event_bytes ("note.added", "stack/shop", 1, &s0);
    uint8_t *e1 = s_event_bytes ("node.joined", "node/n1", 2, &s1);
    uint8_t *e2 = s_event_bytes ("bogus.happened", "x/y", 3, &s2);
    ab_proto_blob_t evs[3] = { { e0, s0 }, { e1, s1 }, { e2, s2 } };
    ab_event_t **events = NULL;
    size_t bad = 99;
    buf = ab_proto_encode_append (20, evs, 1, &size);
    assert (ab_proto_decode_request (buf, size, AB_PROTO_PRODUCED_MAX, &req, &err) == 0);
    assert (ab_proto_check_append (&req, AB_ROLE_ADMIN, AB_PROTO_PRODUCED_MAX, &events, &bad, &err)
            == 0);
    assert (events && streq (ab_event_type (events[0]), "note.added"));
    assert (ab_event_pseq (events[0]) == 1);
    ab_proto_events_destroy (&events, req.count);
    assert (events == NULL);
    ab_proto_request_clear (&req);
    free (buf);

    buf = ab_proto_encode_append (21, evs, 2, &size);
    assert (ab_proto_decode_request (buf, size, AB_PROTO_PRODUCED_MAX, &req, &err) == 0);
    assert (ab_proto_check_append (&req, AB_ROLE_ADMIN, AB_PROTO_PRODUCED_MAX, &events, &bad, &err)
            == -AB_E_FORBIDDEN);
    assert (bad == 1 && events == NULL);
    assert (strstr (err->msg, "role admin may not append node.joined"));
    ab_error_destroy (&err);
    ab_proto_request_clear (&req);
    free (buf);

    buf = ab_proto_encode_append (22, evs, 3, &size);
    assert (ab_proto_decode_request (buf, size, AB_PROTO_PRODUCED_MAX, &req, &err) == 0);
    assert (ab_proto_check_append (&req, AB_ROLE_AGENT, AB_PROTO_PRODUCED_MAX, &events, &bad, &err)
            == -AB_E_FORBIDDEN);
    assert (bad == 0);
    ab_error_destroy (&err);
    //  Swap in an unknown type at index 2 with roles that pass 0 and 1: none exist
    //  for both, so check the unknown type on its own.
    ab_proto_request_clear (&req);
    free (buf);
    buf = ab_proto_encode_append (23, evs + 2, 1, &size);
    assert (ab_proto_decode_request (buf, size, AB_PROTO_PRODUCED_MAX, &req, &err) == 0);
    assert (ab_proto_check_append (&req, AB_ROLE_ADMIN, AB_PROTO_PRODUCED_MAX, &events, &bad, &err)
            == -AB_E_UNKNOWN_TYPE);
    assert (bad == 0 && strstr (err->msg, "bogus.happened"));
    ab_error_destroy (&err);
    ab_proto_request_clear (&req);
    free (buf);

    //  A garbage envelope after a good one: index 1, malformed.
    ab_proto_blob_t mixed[2] = { { e0, s0 }, { (const uint8_t *)"\x81\xc0", 2 } };
    buf = ab_proto_encode_append (24, mixed, 2, &size);
    assert (ab_proto_decode_request (buf, size, AB_PROTO_PRODUCED_MAX, &req, &err) == 0);
    assert (ab_proto_check_append (&req, AB_ROLE_ADMIN, AB_PROTO_PRODUCED_MAX, &events, &bad, &err)
            < 0);
    assert (bad == 1 && err && strstr (err->msg, "event 1"));
    ab_error_destroy (&err);
    ab_proto_request_clear (&req);
    free (buf);
    free (e0);
    free (e1);
    free (e2);

    printf ("OK\n");
}
