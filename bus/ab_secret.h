/*  ab_secret - sealed secrets: values sealed to the cluster's secrets key
    An admin seals a value to the cluster's secrets public key
    (KEYS/secrets.pub) with libsodium's crypto_box_seal: an anonymous
    sender, so not even the sealer can open it again. Only the holders of
    the secrets secret key (the agent role: KEYS/agent/secrets.key) open it.
    This class also owns the `secret.set` data {name, ciphertext (bin)}, so
    the CLI that writes it and the agent that reads it agree on one format.

    Rules of the API:
    - A sealed box is AB_SECRET_SEALBYTES longer than its value.
    - An opened value lives in sodium_malloc'd memory (guard pages, zeroed
      when freed): release it with ab_secret_free, never with free(). Read
      a value to seal into ab_secret_alloc'd memory for the same reasons.
    - Nothing here logs or prints a value; error messages never quote one. */
#ifndef AB_SECRET_H
#define AB_SECRET_H

#include "ab_error.h"
#include "ab_event.h"
#include <stdbool.h>
#include <stdint.h>

#define AB_SECRET_NAME_MAX 64           //  bytes in a secret's name
#define AB_SECRET_VALUE_MAX (64 * 1024) //  bytes in a value (the log keeps every version)
#define AB_SECRET_SEALBYTES 48          //  crypto_box_SEALBYTES: ephemeral key + MAC

//  True if name is a valid secret name: 1-64 characters of [A-Za-z0-9._-],
//  starting with a letter or a digit (Docker's rule; no '/', so that
//  `secret/<name>` is one path segment).
bool ab_secret_name_ok (const char *name);

//  Seal size bytes of value to the public key pk. Returns a malloc'd box of
//  *sealed_size bytes the caller frees, or NULL and *err (empty or oversize
//  value: AB_E_INVALID / AB_E_OVERSIZE).
uint8_t *ab_secret_seal (const uint8_t pk[32], const uint8_t *value, size_t size,
                         size_t *sealed_size, ab_error_t **err);

//  Open a sealed box with the keypair pk/sk. Returns the value (size in
//  *value_size) for ab_secret_free, or NULL and AB_E_CORRUPT when the box
//  was not sealed to pk or was altered.
uint8_t *ab_secret_open (const uint8_t pk[32], const uint8_t sk[32], const uint8_t *sealed,
                         size_t size, size_t *value_size, ab_error_t **err);

//  Guarded memory for a value about to be sealed (size bytes), for
//  ab_secret_free. NULL when out of memory.
uint8_t *ab_secret_alloc (size_t size);

//  Zero and free an opened (or ab_secret_alloc'd) value, and null the
//  reference. Safe on NULL.
void ab_secret_free (uint8_t **value_p);

//  New `secret.set` event for subject secret/NAME with data {name,
//  ciphertext: bin}. NULL and *err (AB_E_INVALID) for a bad name.
ab_event_t *ab_secret_event_set (const char *name, const uint8_t *sealed, size_t size,
                                 ab_error_t **err);

//  New `secret.removed` event for secret/NAME with data {name}.
ab_event_t *ab_secret_event_removed (const char *name, ab_error_t **err);

//  The sealed box of a `secret.set` event: data.ciphertext as bin, or as a
//  base64 string (what `abbey events --json` shows, and what a hand-made
//  `abbey append` can carry). Returns a malloc'd copy the caller frees, or
//  NULL and *err (AB_E_INVALID) naming what is wrong.
uint8_t *ab_secret_event_sealed (const ab_event_t *event, size_t *size, ab_error_t **err);

void ab_secret_test (bool verbose);

#endif
