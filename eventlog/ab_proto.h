/*  ab_proto - the abbey-logd wire protocol: pure encoders and decoders
    Clients talk to logd over DEALER → ROUTER (CURVE). Each request and each
    reply is ONE msgpack frame (after the ROUTER identity frame on the logd
    side). Every message is an array whose first element names it.

    Requests (client → logd):
      1. APPEND  [ "APPEND", reqid:u64, [ envelope:bin, ... ] ]
                 envelopes in PRODUCED form; 1..AB_PROTO_APPEND_MAX of them.
                 All-or-nothing: one bad envelope NACKs the whole request.
      2. READ    [ "READ", reqid:u64, from:u64, max_events:u32, max_bytes:u32 ]
                 events with seq ≥ from, in order; from ≥ 1. max_events or
                 max_bytes of 0 mean logd's limits.
      3. HEAD    [ "HEAD", reqid:u64 ]

    Replies (logd → client):
      1. ACK     [ "ACK", reqid, [ seq:u64, ... ] ]         one seq per event
      2. NACK    [ "NACK", reqid, error:str, message:str, index:u32|nil ]
                 error is a name from ab_error.h; index names the offending
                 envelope of an APPEND, nil otherwise. reqid 0 when the
                 request was too broken to carry one.
      3. EVENTS  [ "EVENTS", reqid, [ envelope:bin, ... ] ] committed form;
                 zero or more EVENTS replies answer a READ, then:
      4. END     [ "END", reqid, head_seq:u64, head_hash:bin32 ]
      5. HEAD    [ "HEAD", reqid, head_seq:u64, head_hash:bin32, first:u64 ]
                 (first: the first seq logd still holds, 1 until retention)

    Rules of the API:
    - Decoders never assert on input: every violation is an ab_error_t
      (malformed, oversize, unknown-type, forbidden) naming what and where.
    - Decoded blobs point into the caller's buffer (borrowed); the arrays
      holding them belong to the request/reply, freed by its _clear.
    - Encoders return a malloc'd buffer the caller frees (NULL only if out
      of memory).                                                           */
#ifndef AB_PROTO_H
#define AB_PROTO_H

#include "ab_catalog.h"
#include "ab_error.h"
#include "ab_event.h"
#include <stdint.h>

//  Message names, first element of every message.
#define AB_PROTO_S_APPEND "APPEND"
#define AB_PROTO_S_READ "READ"
#define AB_PROTO_S_HEAD "HEAD"
#define AB_PROTO_S_ACK "ACK"
#define AB_PROTO_S_NACK "NACK"
#define AB_PROTO_S_EVENTS "EVENTS"
#define AB_PROTO_S_END "END"

//  Limits.
#define AB_PROTO_REQUEST_MAX (64u * 1024 * 1024) //  one request frame
#define AB_PROTO_APPEND_MAX 10000                //  envelopes per APPEND
#define AB_PROTO_SEAL_OVERHEAD 512               //  room logd's fields take
//  Largest PRODUCED envelope logd accepts: sealing must keep it ≤ AB_FRAME_MAX.
#define AB_PROTO_PRODUCED_MAX (AB_FRAME_MAX - AB_PROTO_SEAL_OVERHEAD)
#define AB_PROTO_READ_EVENTS_MAX 10000             //  events per READ (cap)
#define AB_PROTO_READ_BYTES_MAX (8u * 1024 * 1024) //  bytes per READ (cap)
#define AB_PROTO_EVENTS_BYTES (1024u * 1024)       //  target size of one EVENTS

typedef enum {
    AB_PROTO_APPEND = 1,
    AB_PROTO_READ,
    AB_PROTO_HEAD, //  a HEAD request, or a HEAD reply
    AB_PROTO_ACK,
    AB_PROTO_NACK,
    AB_PROTO_EVENTS,
    AB_PROTO_END
} ab_proto_op_t;

//  Bytes borrowed from a buffer.
typedef struct {
    const uint8_t *data;
    size_t size;
} ab_proto_blob_t;

typedef struct {
    ab_proto_op_t op;      //  APPEND, READ or HEAD
    uint64_t reqid;        //  set as soon as it parsed, even on failure
    size_t count;          //  APPEND: number of envelopes
    ab_proto_blob_t *envs; //  APPEND: envelopes, borrowed from the buffer
    uint64_t from;         //  READ: first seq wanted
    uint32_t max_events;   //  READ: 0 = logd's cap
    uint32_t max_bytes;    //  READ: 0 = logd's cap
    int64_t bad_index;     //  on failure: offending envelope, -1 if none
} ab_proto_request_t;

typedef struct {
    ab_proto_op_t op; //  ACK, NACK, EVENTS, END or HEAD
    uint64_t reqid;
    size_t count;                    //  ACK: seqs; EVENTS: envelopes
    uint64_t *seqs;                  //  ACK
    ab_proto_blob_t *envs;           //  EVENTS, borrowed from the buffer
    ab_code_t code;                  //  NACK: code for the error name
    char *message;                   //  NACK: logd's message, owned
    int64_t index;                   //  NACK: offending envelope, -1 if none
    uint64_t head_seq;               //  END, HEAD
    uint8_t head_hash[AB_HASH_SIZE]; //  END, HEAD
    uint64_t first;                  //  HEAD: first seq logd holds (≥ 1)
} ab_proto_reply_t;

//  Decode one request frame; envelopes longer than max_envelope are
//  oversize. 0 on success; negative and *err otherwise (req->reqid holds
//  the reqid if it got that far, else 0). Always ab_proto_request_clear.
int ab_proto_decode_request (const uint8_t *buf, size_t len, size_t max_envelope,
                             ab_proto_request_t *req, ab_error_t **err);

//  Free what a decoded request holds and zero it.
void ab_proto_request_clear (ab_proto_request_t *req);

//  Check an APPEND's envelopes as logd must before appending: each decodes
//  strictly (PRODUCED form, ≤ max_envelope), its type is in the catalog
//  (unknown-type) and role may append it (forbidden, naming role and type).
//  On success *events_out is a malloc'd array of req->count new events the
//  caller destroys (ab_proto_events_destroy). On failure returns negative,
//  *bad_index = the first offending envelope and *err names it.
int ab_proto_check_append (const ab_proto_request_t *req, ab_role_t role, size_t max_envelope,
                           ab_event_t ***events_out, size_t *bad_index, ab_error_t **err);

//  Destroy count events and the array; null the reference. Safe on NULL.
void ab_proto_events_destroy (ab_event_t ***events_p, size_t count);

//  Decode one reply frame. 0 or negative and *err (malformed). Always
//  ab_proto_reply_clear.
int ab_proto_decode_reply (const uint8_t *buf, size_t len, ab_proto_reply_t *reply,
                           ab_error_t **err);

//  Free what a decoded reply holds and zero it.
void ab_proto_reply_clear (ab_proto_reply_t *reply);

//  Encoders. Each returns a malloc'd frame and its size.
uint8_t *ab_proto_encode_append (uint64_t reqid, const ab_proto_blob_t *envs, size_t count,
                                 size_t *size);
uint8_t *ab_proto_encode_read (uint64_t reqid, uint64_t from, uint32_t max_events,
                               uint32_t max_bytes, size_t *size);
uint8_t *ab_proto_encode_head (uint64_t reqid, size_t *size);
uint8_t *ab_proto_encode_ack (uint64_t reqid, const uint64_t *seqs, size_t count, size_t *size);
//  index < 0 encodes nil. A NULL message uses the code's default message.
uint8_t *ab_proto_encode_nack (uint64_t reqid, ab_code_t code, const char *message, int64_t index,
                               size_t *size);
uint8_t *ab_proto_encode_events (uint64_t reqid, const ab_proto_blob_t *envs, size_t count,
                                 size_t *size);
uint8_t *ab_proto_encode_end (uint64_t reqid, uint64_t head_seq,
                              const uint8_t head_hash[AB_HASH_SIZE], size_t *size);
uint8_t *ab_proto_encode_head_reply (uint64_t reqid, uint64_t head_seq,
                                     const uint8_t head_hash[AB_HASH_SIZE], uint64_t first,
                                     size_t *size);

void ab_proto_test (bool verbose);

#endif
