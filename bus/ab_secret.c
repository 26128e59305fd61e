/*  ab_secret - sealed secrets: values sealed to the cluster's secrets key  */
//  Selftests assert behaviour: keep assert live in release builds too.
#undef NDEBUG
#include <assert.h>

#include "ab_secret.h"

#include <msgpack.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

_Static_assert(AB_SECRET_SEALBYTES == crypto_box_SEALBYTES, "sealed box overhead");
_Static_assert(crypto_box_PUBLICKEYBYTES == 32 && crypto_box_SECRETKEYBYTES == 32, "key sizes");

bool
ab_secret_name_ok (const char *name)
{
    if (!name || !*name || strlen (name) > AB_SECRET_NAME_MAX)
        return false;
    for (const char *p = name; *p; p++) {
        bool alnum
            = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9');
        if (!alnum && (p == name || !strchr ("._-", *p)))
            return false;
    }
    return true;
}

static bool
s_sodium (ab_error_t **err)
{
    if (sodium_init () < 0) {
        ab_error_set (err, AB_E_SYSTEM, "libsodium failed to initialise");
        return false;
    }
    return true;
}

uint8_t *
ab_secret_seal (const uint8_t pk[32], const uint8_t *value, size_t size, size_t *sealed_size,
                ab_error_t **err)
{
    assert (pk);
    assert (sealed_size);
    if (!value || size == 0) {
        ab_error_set (err, AB_E_INVALID, "the value is empty");
        return NULL;
    }
    if (size > AB_SECRET_VALUE_MAX) {
        ab_error_set (err, AB_E_OVERSIZE, "the value is %zu bytes; the limit is %d", size,
                      AB_SECRET_VALUE_MAX);
        return NULL;
    }
    if (!s_sodium (err))
        return NULL;
    uint8_t *box = malloc (size + crypto_box_SEALBYTES);
    assert (box);
    if (crypto_box_seal (box, value, size, pk) != 0) {
        free (box);
        ab_error_set (err, AB_E_INVALID, "cannot seal to this public key");
        return NULL;
    }
    *sealed_size = size + crypto_box_SEALBYTES;
    return box;
}

uint8_t *
ab_secret_open (const uint8_t pk[32], const uint8_t sk[32], const uint8_t *sealed, size_t size,
                size_t *value_size, ab_error_t **err)
{
    assert (pk);
    assert (sk);
    assert (value_size);
    if (!sealed || size <= crypto_box_SEALBYTES
        || size > AB_SECRET_VALUE_MAX + crypto_box_SEALBYTES) {
        ab_error_set (err, AB_E_CORRUPT, "sealed value of %zu bytes: expected %d to %d", size,
                      crypto_box_SEALBYTES + 1, AB_SECRET_VALUE_MAX + crypto_box_SEALBYTES);
        return NULL;
    }
    if (!s_sodium (err))
        return NULL;
    size_t n = size - crypto_box_SEALBYTES;
    uint8_t *value = sodium_malloc (n);
    if (!value) {
        ab_error_set (err, AB_E_SYSTEM, "out of locked memory for a %zu-byte value", n);
        return NULL;
    }
    if (crypto_box_seal_open (value, sealed, size, pk, sk) != 0) {
        sodium_free (value);
        ab_error_set (err, AB_E_CORRUPT,
                      "sealed value does not open: sealed to another key, or altered");
        return NULL;
    }
    *value_size = n;
    return value;
}

uint8_t *
ab_secret_alloc (size_t size)
{
    //  sodium_malloc aborts unless libsodium is initialised.
    return sodium_init () < 0 ? NULL : sodium_malloc (size);
}

void
ab_secret_free (uint8_t **value_p)
{
    assert (value_p);
    sodium_free (*value_p); //  zeroes first; safe on NULL
    *value_p = NULL;
}

//  An event for secret/NAME whose data is {name[, ciphertext]}.
static ab_event_t *
s_event (const char *type, const char *name, const uint8_t *sealed, size_t size, ab_error_t **err)
{
    if (!ab_secret_name_ok (name)) {
        ab_error_set (err, AB_E_INVALID,
                      "bad secret name '%s': use 1-%d characters of A-Z a-z 0-9 . _ -, "
                      "starting with a letter or digit",
                      name ? name : "", AB_SECRET_NAME_MAX);
        return NULL;
    }
    char subj[8 + AB_SECRET_NAME_MAX + 1];
    snprintf (subj, sizeof subj, "secret/%s", name);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, sealed ? 2 : 1);
    msgpack_pack_str_with_body (&pk, "name", 4);
    msgpack_pack_str_with_body (&pk, name, strlen (name));
    if (sealed) {
        msgpack_pack_str_with_body (&pk, "ciphertext", 10);
        msgpack_pack_bin_with_body (&pk, sealed, size);
    }
    ab_event_t *event = ab_event_new (type, subj);
    assert (event);
    int rc = ab_event_set_data (event, (const uint8_t *)sb.data, sb.size, err);
    msgpack_sbuffer_destroy (&sb);
    if (rc < 0)
        ab_event_destroy (&event);
    return event;
}

ab_event_t *
ab_secret_event_set (const char *name, const uint8_t *sealed, size_t size, ab_error_t **err)
{
    assert (sealed);
    if (size <= crypto_box_SEALBYTES) {
        ab_error_set (err, AB_E_INVALID, "secret.set: %zu bytes is no sealed value", size);
        return NULL;
    }
    return s_event ("secret.set", name, sealed, size, err);
}

ab_event_t *
ab_secret_event_removed (const char *name, ab_error_t **err)
{
    return s_event ("secret.removed", name, NULL, 0, err);
}

uint8_t *
ab_secret_event_sealed (const ab_event_t *event, size_t *size, ab_error_t **err)
{
    assert (event);
    assert (size);
    if (strcmp (ab_event_type (event), "secret.set") != 0) {
        ab_error_set (err, AB_E_INVALID, "event %s is not a secret.set", ab_event_type (event));
        return NULL;
    }
    size_t data_size = 0;
    const uint8_t *data = ab_event_data (event, &data_size);
    msgpack_unpacked result;
    msgpack_unpacked_init (&result);
    size_t off = 0;
    const msgpack_object *ct = NULL;
    if (data
        && msgpack_unpack_next (&result, (const char *)data, data_size, &off)
               == MSGPACK_UNPACK_SUCCESS
        && result.data.type == MSGPACK_OBJECT_MAP)
        for (uint32_t i = 0; i < result.data.via.map.size; i++) {
            const msgpack_object_kv *kv = &result.data.via.map.ptr[i];
            if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == 10
                && memcmp (kv->key.via.str.ptr, "ciphertext", 10) == 0)
                ct = &kv->val;
        }
    uint8_t *out = NULL;
    if (ct && ct->type == MSGPACK_OBJECT_BIN && ct->via.bin.size) {
        out = malloc (ct->via.bin.size);
        assert (out);
        memcpy (out, ct->via.bin.ptr, ct->via.bin.size);
        *size = ct->via.bin.size;
    } else if (ct && ct->type == MSGPACK_OBJECT_STR && ct->via.str.size) {
        size_t cap = ct->via.str.size; //  base64 decodes to fewer bytes
        out = malloc (cap);
        assert (out);
        if (sodium_base642bin (out, cap, ct->via.str.ptr, ct->via.str.size, NULL, size, NULL,
                               sodium_base64_VARIANT_ORIGINAL)
                != 0
            && sodium_base642bin (out, cap, ct->via.str.ptr, ct->via.str.size, NULL, size, NULL,
                                  sodium_base64_VARIANT_ORIGINAL_NO_PADDING)
                   != 0) {
            free (out);
            out = NULL;
            ab_error_set (err, AB_E_INVALID, "%s: data.ciphertext: a string that is not base64",
                          ab_event_subj (event));
        }
    } else
        ab_error_set (err, AB_E_INVALID, "%s: data.ciphertext: %s", ab_event_subj (event),
                      ct ? "expected non-empty binary or base64 string" : "missing");
    msgpack_unpacked_destroy (&result);
    return out;
}

//  --------------------------------------------------------------------------
//  Selftest

void
ab_secret_test (bool verbose)
{
    (void)verbose;
    printf (" * ab_secret: ");
    assert (sodium_init () >= 0);
    ab_error_t *err = NULL;

    //  names
    assert (ab_secret_name_ok ("db-password"));
    assert (ab_secret_name_ok ("DB_PASSWORD"));
    assert (ab_secret_name_ok ("tls.key"));
    assert (ab_secret_name_ok ("9lives"));
    assert (!ab_secret_name_ok (""));
    assert (!ab_secret_name_ok ("-x"));
    assert (!ab_secret_name_ok (".hidden"));
    assert (!ab_secret_name_ok ("a/b"));
    assert (!ab_secret_name_ok ("sp ace"));
    assert (!ab_secret_name_ok (NULL));
    char longname[AB_SECRET_NAME_MAX + 2];
    memset (longname, 'a', sizeof longname - 1);
    longname[AB_SECRET_NAME_MAX + 1] = 0;
    assert (!ab_secret_name_ok (longname));
    longname[AB_SECRET_NAME_MAX] = 0;
    assert (ab_secret_name_ok (longname));

    //  a sealed value opens with the right keypair to the same bytes
    uint8_t pk[32], sk[32], pk2[32], sk2[32];
    crypto_box_keypair (pk, sk);
    crypto_box_keypair (pk2, sk2);
    const char *plain = "hunter2\0with a NUL and\nnewline";
    size_t plain_size = 30;
    size_t sealed_size = 0;
    uint8_t *sealed = ab_secret_seal (pk, (const uint8_t *)plain, plain_size, &sealed_size, &err);
    assert (sealed && sealed_size == plain_size + AB_SECRET_SEALBYTES);
    assert (!memmem (sealed, sealed_size, "hunter2", 7));
    size_t n = 0;
    uint8_t *opened = ab_secret_open (pk, sk, sealed, sealed_size, &n, &err);
    assert (opened && n == plain_size && memcmp (opened, plain, n) == 0);
    ab_secret_free (&opened);
    assert (opened == NULL);
    ab_secret_free (&opened); //  safe on NULL
    uint8_t *buf = ab_secret_alloc (100);
    assert (buf);
    memset (buf, 'x', 100);
    ab_secret_free (&buf);
    assert (buf == NULL);

    //  sealing twice gives different boxes (ephemeral sender key)
    size_t again_size = 0;
    uint8_t *again = ab_secret_seal (pk, (const uint8_t *)plain, plain_size, &again_size, &err);
    assert (again && again_size == sealed_size && memcmp (again, sealed, sealed_size) != 0);
    free (again);

    //  the wrong key does not open it
    assert (!ab_secret_open (pk2, sk2, sealed, sealed_size, &n, &err));
    assert (err && err->code == AB_E_CORRUPT && strstr (err->msg, "does not open"));
    ab_error_destroy (&err);

    //  any flipped byte (ephemeral key, MAC or body) fails
    for (size_t i = 0; i < sealed_size; i++) {
        sealed[i] ^= 0x01;
        assert (!ab_secret_open (pk, sk, sealed, sealed_size, &n, &err));
        assert (err && err->code == AB_E_CORRUPT);
        ab_error_destroy (&err);
        sealed[i] ^= 0x01;
    }
    //  truncated, too short
    assert (!ab_secret_open (pk, sk, sealed, sealed_size - 1, &n, &err));
    ab_error_destroy (&err);
    assert (!ab_secret_open (pk, sk, sealed, AB_SECRET_SEALBYTES, &n, &err));
    assert (err && err->code == AB_E_CORRUPT);
    ab_error_destroy (&err);

    //  empty and oversize values are refused
    assert (!ab_secret_seal (pk, (const uint8_t *)"", 0, &n, &err));
    assert (err && err->code == AB_E_INVALID && strstr (err->msg, "empty"));
    ab_error_destroy (&err);
    uint8_t *big = calloc (1, AB_SECRET_VALUE_MAX + 1);
    assert (big);
    assert (!ab_secret_seal (pk, big, AB_SECRET_VALUE_MAX + 1, &n, &err));
    assert (err && err->code == AB_E_OVERSIZE);
    ab_error_destroy (&err);
    uint8_t *bigbox = ab_secret_seal (pk, big, AB_SECRET_VALUE_MAX, &n, &err);
    assert (bigbox && n == AB_SECRET_VALUE_MAX + AB_SECRET_SEALBYTES);
    opened = ab_secret_open (pk, sk, bigbox, n, &n, &err);
    assert (opened && n == AB_SECRET_VALUE_MAX);
    ab_secret_free (&opened);
    free (bigbox);
    free (big);

    //  the secret.set event carries the box as bin, and gives it back
    ab_event_t *event = ab_secret_event_set ("db-password", sealed, sealed_size, &err);
    assert (event);
    assert (!strcmp (ab_event_type (event), "secret.set"));
    assert (!strcmp (ab_event_subj (event), "secret/db-password"));
    size_t got_size = 0;
    uint8_t *got = ab_secret_event_sealed (event, &got_size, &err);
    assert (got && got_size == sealed_size && memcmp (got, sealed, sealed_size) == 0);
    free (got);
    json_t *json = ab_event_to_json (event);
    json_t *data = json_object_get (json, "data");
    assert (!strcmp (json_string_value (json_object_get (data, "name")), "db-password"));
    const char *b64 = json_string_value (json_object_get (data, "ciphertext"));
    assert (b64 && strlen (b64) > sealed_size);

    //  ... and as the base64 string the JSON view shows (a hand-made event)
    char body[1024];
    snprintf (body, sizeof body, "{\"name\": \"db-password\", \"ciphertext\": \"%s\"}", b64);
    json_decref (json);
    ab_event_t *by_hand = ab_event_new ("secret.set", "secret/db-password");
    assert (ab_event_set_data_json (by_hand, body, &err) == 0);
    got = ab_secret_event_sealed (by_hand, &got_size, &err);
    assert (got && got_size == sealed_size && memcmp (got, sealed, sealed_size) == 0);
    opened = ab_secret_open (pk, sk, got, got_size, &n, &err);
    assert (opened && n == plain_size && memcmp (opened, plain, n) == 0);
    ab_secret_free (&opened);
    free (got);
    ab_event_destroy (&by_hand);

    //  a missing, wrong-typed or non-base64 ciphertext is an error naming it
    const char *bad[] = { "{\"name\": \"x\"}", "{\"ciphertext\": 7}", "{\"ciphertext\": \"#!\"}" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ab_event_t *e = ab_event_new ("secret.set", "secret/x");
        assert (ab_event_set_data_json (e, bad[i], &err) == 0);
        assert (!ab_secret_event_sealed (e, &got_size, &err));
        assert (err && err->code == AB_E_INVALID && strstr (err->msg, "data.ciphertext"));
        ab_error_destroy (&err);
        ab_event_destroy (&e);
    }
    ab_event_destroy (&event);

    //  removed: {name} only; bad names are refused before any event exists
    event = ab_secret_event_removed ("db-password", &err);
    assert (event && !strcmp (ab_event_type (event), "secret.removed"));
    assert (!ab_secret_event_sealed (event, &got_size, &err));
    ab_error_destroy (&err);
    ab_event_destroy (&event);
    assert (!ab_secret_event_removed ("a/b", &err));
    assert (err && err->code == AB_E_INVALID && strstr (err->msg, "bad secret name 'a/b'"));
    ab_error_destroy (&err);
    assert (!ab_secret_event_set ("ok", sealed, AB_SECRET_SEALBYTES, &err));
    ab_error_destroy (&err);

    free (sealed);
    sodium_memzero (sk, sizeof sk);
    sodium_memzero (sk2, sizeof sk2);
    printf ("OK\n");
}
