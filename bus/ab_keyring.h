/*  ab_keyring - the cluster key directory: identities, roles, revocation
    Layout (docs/CONTRACTS.md):
        KEYS/public/NAME.cert          public zcert, metadata role=ROLE name=NAME
        KEYS/secret/NAME.cert_secret   secret zcert, 0600 (secret/ is 0700)
        KEYS/revoked/NAME.cert         public certs moved here by revoke
        KEYS/secrets.pub               sealed-secrets public key (Z85): admins seal with it
        KEYS/agent/secrets.key         its secret key, 0600 (agent/ is 0700): agents only
    The directory functions (init, add, revoke, list, load_secret) are what
    the CLI uses. Daemons open a loaded view (ab_keyring_t) and ask it, per
    request, who a Z85 public key is; the view notices changes to public/ and
    revoked/ by itself, so a revocation takes effect without a restart.

    Rules of the API:
    - Names are 1..32 characters of [a-z0-9_-], starting with a letter or a
      digit. Roles are the names of ab_catalog.h's AB_ROLE_MAP.
    - A key that is in revoked/ is revoked even if a copy is still in public/.
    - An ab_keyring_t is not thread-safe: open one view per thread.
    - const ab_identity_t pointers from a view are borrowed and valid until
      the next call on that view (a lookup may reload it): copy what you keep.
    - A directory that fails to load (a malformed cert) is an error on open;
      on a later reload the previous view is kept and a warning is logged.  */
#ifndef AB_KEYRING_H
#define AB_KEYRING_H

#include "ab_catalog.h"
#include "ab_error.h"
#include <czmq.h>

#define AB_KEY_Z85_LEN 40 //  Z85 text of a 32-byte CURVE public key
#define AB_KEYID_LEN 8    //  key id: first 8 characters of the Z85 key
#define AB_NAME_MAX 32    //  bytes in an identity name

typedef struct {
    ab_role_t role;                 //  what the identity may do
    char name[AB_NAME_MAX + 1];     //  file name without .cert
    char key[AB_KEY_Z85_LEN + 1];   //  Z85 public key (ZAP User-Id)
    char keyid[AB_KEYID_LEN + 1];   //  first 8 chars of key, for humans
    char src[AB_NAME_MAX * 2 + 16]; //  "ROLE:NAME:KEYID", the event's src
    bool revoked;                   //  in revoked/ (only list reports these)
} ab_identity_t;

typedef struct _ab_keyring_t ab_keyring_t;

//  ---------------------------------------------------------------------
//  The directory (CLI side)

//  Create the layout in dir (created if missing) with the default
//  identities: busd, logd, and one per service role named after it (admin
//  scheduler agent builder netmgr costd monitor), plus the sealed-secrets
//  keypair. AB_E_EXISTS if dir already holds keys; nothing is changed then.
int ab_keyring_init (const char *dir, ab_error_t **err);

//  Create identity NAME with ROLE. Errors: unknown role (AB_E_INVALID),
//  bad name (AB_E_INVALID), name in use, active or revoked (AB_E_EXISTS).
int ab_keyring_add (const char *dir, const char *role, const char *name, ab_error_t **err);

//  Revoke NAME: move public/NAME.cert to revoked/. AB_E_NOT_FOUND if no
//  such active identity. The secret file stays (it is useless now).
int ab_keyring_revoke (const char *dir, const char *name, ab_error_t **err);

//  Every identity, active then revoked, each sorted by name, as a malloc'd
//  array of *count entries the caller frees with free(). NULL and *err on
//  failure (missing dir, malformed cert).
ab_identity_t *ab_keyring_list (const char *dir, size_t *count, ab_error_t **err);

//  Load NAME's secret certificate (for a client or server socket). The
//  caller destroys it. AB_E_NOT_FOUND if missing, AB_E_DENIED if revoked.
zcert_t *ab_keyring_load_secret (const char *dir, const char *name, ab_error_t **err);

//  Copy NAME's Z85 public key into key_out (for cluster.yaml, server keys).
int ab_keyring_public_key (const char *dir, const char *name, char key_out[AB_KEY_Z85_LEN + 1],
                           ab_error_t **err);

//  Read the sealed-secrets keypair (bus/ab_secret). sk may be NULL when
//  only the public key is needed (sealing); opening needs both, from
//  agent/secrets.key: AB_E_NOT_FOUND if it is not on this machine,
//  AB_E_DENIED if group or others may read it (like ssh, it is not used).
int ab_keyring_sealing_keys (const char *dir, uint8_t pk[32], uint8_t sk[32], ab_error_t **err);

//  ---------------------------------------------------------------------
//  The loaded view (daemon side)

//  Load public/ and revoked/ of dir. NULL and *err on failure.
ab_keyring_t *ab_keyring_open (const char *dir, ab_error_t **err);

//  Free and null. Safe on NULL.
void ab_keyring_destroy (ab_keyring_t **self_p);

//  Who owns this Z85 public key? NULL if unknown or revoked. Checks the
//  directory's mtimes at most every 100 ms and reloads if they changed.
const ab_identity_t *ab_keyring_lookup (ab_keyring_t *self, const char *z85);

//  Same, for the 32 raw bytes of a key (ZAP credentials).
const ab_identity_t *ab_keyring_lookup_bin (ab_keyring_t *self, const uint8_t key[32]);

//  Check the directory now (no throttle) and reload if it changed. Returns
//  the number of keys that were active and no longer are (revoked or
//  removed) since the previous refresh, counting reloads done by lookups:
//  > 0 tells a server to drop its connected peers.
int ab_keyring_refresh (ab_keyring_t *self);

//  Number of active identities in the view.
size_t ab_keyring_size (ab_keyring_t *self);

//  The directory the view was opened on. Borrowed.
const char *ab_keyring_dir (ab_keyring_t *self);

//  True if name is a valid identity name (see the rules above).
bool ab_keyring_name_ok (const char *name);

void ab_keyring_test (bool verbose);

#endif
