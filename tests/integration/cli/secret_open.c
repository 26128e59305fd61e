/*  it-secret-open - what an agent will do with a secret.set, for secret.sh
    Usage: it-secret-open KEYS DATA_JSON
    Takes the `data` of a secret.set event as `abbey events --json` prints
    it, reads the sealed-secrets keypair from KEYS (agent/secrets.key) and
    writes the opened value to stdout, byte for byte. Exit 1 if it does not
    open (wrong key, altered box), 2 on bad usage.                          */
#include "ab_keyring.h"
#include "ab_secret.h"

#include <sodium.h>
#include <stdio.h>

int
main (int argc, char **argv)
{
    if (argc != 3) {
        fprintf (stderr, "usage: it-secret-open KEYS DATA_JSON\n");
        return 2;
    }
    ab_auto_error ab_error_t *err = NULL;
    uint8_t pk[32], sk[32];
    if (ab_keyring_sealing_keys (argv[1], pk, sk, &err) < 0) {
        fprintf (stderr, "it-secret-open: %s\n", ab_error_msg (err));
        return 1;
    }
    ab_event_t *event = ab_event_new ("secret.set", "secret/x");
    size_t size = 0, value_size = 0;
    ab_auto_free uint8_t *sealed = NULL;
    uint8_t *value = NULL;
    if (ab_event_set_data_json (event, argv[2], &err) == 0
        && (sealed = ab_secret_event_sealed (event, &size, &err)))
        value = ab_secret_open (pk, sk, sealed, size, &value_size, &err);
    sodium_memzero (sk, sizeof sk);
    ab_event_destroy (&event);
    if (!value) {
        fprintf (stderr, "it-secret-open: %s\n", ab_error_msg (err));
        return 1;
    }
    fwrite (value, 1, value_size, stdout);
    ab_secret_free (&value);
    return 0;
}
