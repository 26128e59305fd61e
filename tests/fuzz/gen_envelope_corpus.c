/*  gen_envelope_corpus - writes the seed corpus of fuzz_envelope
    Usage: fuzz_envelope_seeds DIR. Deterministic: the same files each run,
    so regenerating shows no diff unless the codec's output changed. Seeds
    are valid envelopes of both forms (the shapes logd and producers really
    send, plus edge cases at every limit) and a few near-misses, so the
    fuzzer starts right next to each branch of the validator.              */
#include "ab_event.h"

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *s_dir;
static int s_count;

static void
s_write (const char *name, const uint8_t *buf, size_t size)
{
    char path[4096];
    snprintf (path, sizeof path, "%s/%s", s_dir, name);
    FILE *f = fopen (path, "wb");
    if (!f || fwrite (buf, 1, size, f) != size || fclose (f) != 0) {
        perror (path);
        exit (1);
    }
    s_count++;
}

static ab_event_t *
s_event (const char *type, const char *subj, const char *json, uint64_t pseq)
{
    ab_event_t *e = ab_event_new (type, subj);
    ab_error_t *err = NULL;
    if (!e || (json && ab_event_set_data_json (e, json, &err))) {
        fprintf (stderr, "seed %s: %s\n", type, ab_error_msg (err));
        exit (1);
    }
    ab_event_set_pseq (e, pseq);
    return e;
}

//  Encode and write; the codec must accept what it wrote back.
static void
s_emit (const char *name, const ab_event_t *e, ab_event_form_t form, uint8_t **keep,
        size_t *keep_size)
{
    ab_error_t *err = NULL;
    size_t size;
    uint8_t *buf = ab_event_encode (e, &size, &err);
    ab_event_t *back = buf ? ab_event_decode (buf, size, form, 0, &err) : NULL;
    if (!back) {
        fprintf (stderr, "seed %s: %s\n", name, ab_error_msg (err));
        exit (1);
    }
    ab_event_destroy (&back);
    s_write (name, buf, size);
    if (keep) {
        *keep = buf;
        *keep_size = size;
    } else
        free (buf);
}

int
main (int argc, char **argv)
{
    if (argc != 2) {
        fprintf (stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    s_dir = argv[1];
    const uint8_t zeros[AB_HASH_SIZE] = { 0 };
    const uint64_t t0 = 1700000000000000000ull;

    //  Produced form, as producers send them
    ab_event_t *e = s_event ("note.added", "stack/shop", NULL, 0);
    s_emit ("produced-empty-data", e, AB_EVENT_PRODUCED, NULL, NULL);
    ab_event_destroy (&e);
    e = s_event ("note.added", "stack/shop", "{\"text\": \"rollout approved\"}",
                 1700000000123456789ull);
    s_emit ("produced-note", e, AB_EVENT_PRODUCED, NULL, NULL);
    ab_event_destroy (&e);
    e = s_event ("instance.placed", "stack/shop/svc/api/3",
                 "{\"node\": \"n1\", \"cpu\": 0.5, \"memory\": 536870912, \"ports\": [8080, 9090], "
                 "\"ok\": true, \"bad\": false, \"none\": null, \"delta\": -42, \"tags\": "
                 "{\"tier\": \"web\"}}",
                 7);
    s_emit ("produced-instance-placed", e, AB_EVENT_PRODUCED, NULL, NULL);
    ab_event_destroy (&e);
    e = s_event ("node.joined", "node/nœud-été",
                 "{\"name\": \"ünïcödé ✓\", \"addr\": \"10.0.0.1\"}", 3);
    s_emit ("produced-unicode", e, AB_EVENT_PRODUCED, NULL, NULL);
    ab_event_destroy (&e);

    //  Committed form: a chain of three as logd stores them
    uint8_t prev[AB_HASH_SIZE] = { 0 };
    uint8_t *first = NULL;
    size_t first_size = 0;
    const char *chain[]
        = { "{\"text\": \"one\"}", "{\"text\": \"two\", \"n\": 2}", "{\"replicas\": 3}" };
    const char *types[] = { "note.added", "note.added", "service.scaled" };
    for (int i = 0; i < 3; i++) {
        e = s_event (types[i], i == 2 ? "stack/shop/svc/api" : "stack/shop", chain[i],
                     100 + (uint64_t)i);
        ab_event_seal (e, (uint64_t)i + 1, t0 + (uint64_t)i, "admin:admin:rq:-HGP4", prev);
        memcpy (prev, ab_event_hash (e), AB_HASH_SIZE);
        char name[64];
        snprintf (name, sizeof name, "committed-chain-%d", i + 1);
        s_emit (name, e, AB_EVENT_COMMITTED, i == 0 ? &first : NULL, i == 0 ? &first_size : NULL);
        ab_event_destroy (&e);
    }

    //  Every string at its limit
    {
        char type[AB_TYPE_MAX + 1], subj[AB_SUBJ_MAX + 1], src[AB_SRC_MAX + 1];
        memset (type, 'a', AB_TYPE_MAX);
        type[5] = '.';
        type[AB_TYPE_MAX] = 0;
        memset (subj, 's', AB_SUBJ_MAX);
        subj[AB_SUBJ_MAX] = 0;
        memset (src, 'k', AB_SRC_MAX);
        src[AB_SRC_MAX] = 0;
        e = s_event (type, subj, NULL, UINT64_MAX);
        ab_event_seal (e, UINT64_MAX, UINT64_MAX, src, prev);
        s_emit ("committed-limits", e, AB_EVENT_COMMITTED, NULL, NULL);
        ab_event_destroy (&e);
    }

    //  A stack.deployed with a bigger spec and a wide map (> 16 keys)
    {
        char json[4096];
        size_t o = (size_t)snprintf (json, sizeof json,
                                     "{\"stack\": \"shop\", \"version\": \"ab12cd\", \"env\": {");
        for (int i = 0; i < 24; i++)
            o += (size_t)snprintf (json + o, sizeof json - o, "%s\"VAR_%02d\": \"value %d\"",
                                   i ? ", " : "", i, i);
        snprintf (
            json + o, sizeof json - o,
            "}, \"services\": [{\"name\": \"db\", \"image\": \"postgres:15\", \"ports\": [5432], "
            "\"resources\": {\"cpu\": 0.5, \"memory\": 536870912}}, {\"name\": \"api\", "
            "\"replicas\": 3, "
            "\"connections\": [{\"target\": \"shop/db\", \"port\": 5432}]}]}");
        e = s_event ("stack.deployed", "stack/shop", json, 9);
        ab_event_seal (e, 4, t0 + 4, "admin:admin:rq:-HGP4", zeros);
        s_emit ("committed-stack-deployed", e, AB_EVENT_COMMITTED, NULL, NULL);
        ab_event_destroy (&e);
    }

    //  Data nested exactly 32 deep, with bin and float32 values
    {
        msgpack_sbuffer sb;
        msgpack_sbuffer_init (&sb);
        msgpack_packer pk;
        msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
        for (int i = 0; i < 31; i++) {
            msgpack_pack_map (&pk, i == 30 ? 3 : 1);
            msgpack_pack_str_with_body (&pk, "k", 1);
        }
        msgpack_pack_array (&pk, 0);
        msgpack_pack_str_with_body (&pk, "bin", 3);
        msgpack_pack_bin_with_body (&pk, "\x00\x01\x02", 3);
        msgpack_pack_str_with_body (&pk, "f32", 3);
        msgpack_pack_float (&pk, 1.5f);
        e = ab_event_new ("note.added", "stack/deep");
        ab_error_t *err = NULL;
        if (ab_event_set_data (e, (const uint8_t *)sb.data, sb.size, &err)) {
            fprintf (stderr, "seed deep: %s\n", ab_error_msg (err));
            return 1;
        }
        msgpack_sbuffer_destroy (&sb);
        ab_event_seal (e, 5, t0 + 5, "admin:admin:rq:-HGP4", zeros);
        s_emit ("committed-deep-data", e, AB_EVENT_COMMITTED, NULL, NULL);
        ab_event_destroy (&e);
    }

    //  Valid but not canonical: wide integer encodings (uint64 for 7,
    //  int8 for a positive number) that decode and re-encode smaller
    {
        static const uint8_t wide[] = {
            0x84, 0xa4, 't',  'y',  'p',  'e', 0xaa, 'n',  'o',  't',  'e',  '.',  'a',
            'd',  'd',  'e',  'd',  0xa4, 's', 'u',  'b',  'j',  0xd9, 0x04, 'n',  'o',
            'd',  'e',  0xa4, 'p',  's',  'e', 'q',  0xcf, 0,    0,    0,    0,    0,
            0,    0,    7,    0xa4, 'd',  'a', 't',  'a',  0x81, 0xa1, 'n',  0xd0, 0x05,
        };
        s_write ("produced-wide-ints", wide, sizeof wide);
    }

    //  Near misses: each is refused for one reason
    {
        uint8_t *buf = malloc (first_size + 4);
        memcpy (buf, first, first_size);
        memcpy (buf + first_size, "\xc0\xc0\xc0\xc0", 4);
        s_write ("bad-trailing-bytes", buf, first_size + 4);
        s_write ("bad-truncated", first, first_size - 5);
        memcpy (buf, first, first_size);
        uint8_t *h = memmem (buf, first_size, "\xa3seq", 4);
        if (h)
            h[1] = 'x'; //  "sxq": unknown key
        s_write ("bad-unknown-key", buf, first_size);
        free (buf);
        static const uint8_t dup[]
            = { 0x84, 0xa4, 't',  'y',  'p',  'e', 0xa3, 'a', '.',  'b', 0xa4,
                't',  'y',  'p',  'e',  0xa3, 'a', '.',  'b', 0xa4, 'p', 's',
                'e',  'q',  0x00, 0xa4, 'd',  'a', 't',  'a', 0x80 };
        s_write ("bad-duplicate-key", dup, sizeof dup);
        static const uint8_t ext[]
            = { 0x84, 0xa4, 't', 'y',  'p',  'e',  0xa3, 'a',  '.',  'b',  0xa4, 's',
                'u',  'b',  'j', 0xa1, 'x',  0xa4, 'p',  's',  'e',  'q',  0x00, 0xa4,
                'd',  'a',  't', 'a',  0x81, 0xa1, 'e',  0xd5, 0x01, 0x00, 0x00 };
        s_write ("bad-data-ext", ext, sizeof ext);
    }
    free (first);
    printf ("wrote %d seeds to %s\n", s_count, s_dir);
    return 0;
}
