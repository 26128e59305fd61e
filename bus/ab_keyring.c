/*  ab_keyring - the cluster key directory: identities, roles, revocation  */
//  Selftests assert behaviour: keep assert live in release builds too.
#undef NDEBUG
#include <assert.h>

#include "ab_keyring.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CHECK_MSEC 100               //  lookups stat the directory at most this often
#define SETTLE_NSEC (50 * 1000000LL) //  mtime younger than this: rescan later

//  snprintf without -Wformat-truncation noise: our buffers are PATH_MAX or
//  sized for their fields, and a truncated path only fails to open.
static int __attribute__ ((format (printf, 3, 4)))
s_fmt (char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    int n = vsnprintf (buf, size, fmt, ap);
    va_end (ap);
    return n;
}

static const char *s_defaults[][2] = {
    { "busd", "busd" },           { "logd", "logd" },   { "admin", "admin" },
    { "scheduler", "scheduler" }, { "agent", "agent" }, { "builder", "builder" },
    { "netmgr", "netmgr" },       { "costd", "costd" }, { "monitor", "monitor" },
};

struct _ab_keyring_t {
    char *dir;                 //  key directory
    ab_identity_t *ids;        //  active identities
    size_t count;              //  entries in ids
    zhashx_t *by_key;          //  Z85 key -> ab_identity_t * in ids (not owned)
    struct timespec pub_mtime; //  public/ mtime at the last scan
    struct timespec rev_mtime; //  revoked/ mtime at the last scan
    int64_t checked_at;        //  zclock_mono of the last stat
    bool unsettled;            //  a scanned mtime was too fresh to trust
    int lost;                  //  keys lost by reloads since the last refresh
};

static void
s_closedir (DIR **d)
{
    if (*d)
        closedir (*d);
}
#define s_auto_dir __attribute__ ((cleanup (s_closedir)))

static void
s_cert_destroy (zcert_t **c)
{
    zcert_destroy (c);
}
#define s_auto_cert __attribute__ ((cleanup (s_cert_destroy)))

#define CERT_FILE_MAX 65536 //  a cert file is a few hundred bytes

//  Load a zcert file (public or secret) exactly as named. Our own loader:
//  zcert_load leaks when zconfig rejects a malformed file, appends
//  "_secret" to the name and truncates paths at 256 bytes.
static zcert_t *
s_cert_load (const char *path)
{
    zchunk_t *chunk = zchunk_slurp (path, CERT_FILE_MAX);
    if (!chunk)
        return NULL;
    zconfig_t *root = zconfig_chunk_load (chunk);
    zchunk_destroy (&chunk);
    if (!root)
        return NULL;
    const char *public_txt = zconfig_get (root, "/curve/public-key", "");
    const char *secret_txt = zconfig_get (root, "/curve/secret-key", "");
    uint8_t public_key[32], secret_key[32] = { 0 };
    zcert_t *cert = NULL;
    if (strlen (public_txt) == AB_KEY_Z85_LEN && zmq_z85_decode (public_key, public_txt)
        && (!*secret_txt
            || (strlen (secret_txt) == AB_KEY_Z85_LEN && zmq_z85_decode (secret_key, secret_txt))))
        cert = zcert_new_from (public_key, secret_key);
    sodium_memzero (secret_key, sizeof secret_key);
    zconfig_t *meta = cert ? zconfig_locate (root, "/metadata") : NULL;
    for (zconfig_t *item = meta ? zconfig_child (meta) : NULL; item; item = zconfig_next (item))
        if (zconfig_name (item) && zconfig_value (item))
            zcert_set_meta (cert, zconfig_name (item), "%s", zconfig_value (item));
    zconfig_destroy (&root);
    return cert;
}

bool
ab_keyring_name_ok (const char *name)
{
    if (!name || !*name || strlen (name) > AB_NAME_MAX)
        return false;
    if (!((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= '0' && name[0] <= '9')))
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
            return false;
    return true;
}

static bool
s_exists (const char *path)
{
    struct stat st;
    return stat (path, &st) == 0;
}

static int
s_mkdir (const char *path, mode_t mode, ab_error_t **err)
{
    if (mkdir (path, mode) < 0 && errno != EEXIST)
        return ab_error_errno (err, AB_E_IO, errno, "create %s", path);
    struct stat st;
    if (stat (path, &st) < 0 || !S_ISDIR (st.st_mode))
        return ab_error_set (err, AB_E_IO, "%s exists and is not a directory", path);
    //  A pre-existing secret/ may have been made with a looser umask.
    if (chmod (path, mode) < 0)
        return ab_error_errno (err, AB_E_IO, errno, "chmod %s", path);
    return 0;
}

//  True if dir/sub has any regular entry (a key file of any kind).
static bool
s_has_entries (const char *dir, const char *sub)
{
    char path[PATH_MAX];
    s_fmt (path, sizeof path, "%s/%s", dir, sub);
    s_auto_dir DIR *d = opendir (path);
    if (!d)
        return false;
    struct dirent *e;
    while ((e = readdir (d)))
        if (e->d_name[0] != '.')
            return true;
    return false;
}

//  Fill id from a loaded cert; the file stem must match the metadata name.
static int
s_identity_from (zcert_t *cert, const char *path, const char *stem, bool revoked, ab_identity_t *id,
                 ab_error_t **err)
{
    const char *role = zcert_meta (cert, "role");
    const char *name = zcert_meta (cert, "name");
    if (!role || ab_role_from_name (role) == AB_ROLE_NONE)
        return ab_error_set (err, AB_E_CORRUPT, "%s: metadata role '%s' is not a known role", path,
                             role ? role : "(missing)");
    if (!name || strcmp (name, stem) != 0)
        return ab_error_set (err, AB_E_CORRUPT,
                             "%s: metadata name '%s' does not match the file name", path,
                             name ? name : "(missing)");
    memset (id, 0, sizeof *id);
    id->role = ab_role_from_name (role);
    s_fmt (id->name, sizeof id->name, "%s", name);
    s_fmt (id->key, sizeof id->key, "%s", zcert_public_txt (cert));
    memcpy (id->keyid, id->key, AB_KEYID_LEN);
    s_fmt (id->src, sizeof id->src, "%s:%s:%s", role, name, id->keyid);
    id->revoked = revoked;
    return 0;
}

//  Read every NAME.cert in dir/sub and append to *ids.
static int
s_scan_sub (const char *dir, const char *sub, bool revoked, ab_identity_t **ids, size_t *count,
            size_t *alloc, ab_error_t **err)
{
    char path[PATH_MAX];
    s_fmt (path, sizeof path, "%s/%s", dir, sub);
    s_auto_dir DIR *d = opendir (path);
    if (!d) {
        if (errno == ENOENT && revoked)
            return 0; //  revoked/ is optional: nothing revoked yet
        return ab_error_errno (err, AB_E_IO, errno, "open key directory %s", path);
    }
    struct dirent *e;
    while ((e = readdir (d))) {
        size_t len = strlen (e->d_name);
        if (e->d_name[0] == '.' || len < 6 || strcmp (e->d_name + len - 5, ".cert") != 0)
            continue;
        char stem[NAME_MAX + 1];
        s_fmt (stem, sizeof stem, "%.*s", (int)(len - 5), e->d_name);
        char file[PATH_MAX];
        s_fmt (file, sizeof file, "%s/%s", path, e->d_name);
        if (!ab_keyring_name_ok (stem))
            return ab_error_set (err, AB_E_CORRUPT, "%s: '%s' is not a valid identity name", file,
                                 stem);
        s_auto_cert zcert_t *cert = s_cert_load (file);
        if (!cert)
            return ab_error_set (err, AB_E_CORRUPT, "%s: not a readable CURVE certificate", file);
        if (*count == *alloc) {
            size_t n = *alloc ? *alloc * 2 : 16;
            ab_identity_t *grown = realloc (*ids, n * sizeof **ids);
            if (!grown)
                return ab_error_set (err, AB_E_SYSTEM, "out of memory");
            *ids = grown;
            *alloc = n;
        }
        int rc = s_identity_from (cert, file, stem, revoked, &(*ids)[*count], err);
        if (rc < 0)
            return rc;
        (*count)++;
    }
    return 0;
}

static int
s_cmp_identity (const void *a, const void *b)
{
    const ab_identity_t *x = a, *y = b;
    if (x->revoked != y->revoked)
        return x->revoked ? 1 : -1;
    return strcmp (x->name, y->name);
}

//  All identities of dir, with revoked/ winning over public/ for a key.
static ab_identity_t *
s_scan (const char *dir, size_t *count, ab_error_t **err)
{
    ab_identity_t *ids = NULL;
    size_t n = 0, alloc = 0;
    if (s_scan_sub (dir, "public", false, &ids, &n, &alloc, err) < 0
        || s_scan_sub (dir, "revoked", true, &ids, &n, &alloc, err) < 0) {
        free (ids);
        return NULL;
    }
    //  A key present in revoked/ is revoked wherever else it appears.
    for (size_t i = 0; i < n; i++)
        if (!ids[i].revoked)
            for (size_t j = 0; j < n; j++)
                if (ids[j].revoked && strcmp (ids[i].key, ids[j].key) == 0) {
                    ids[i].revoked = true;
                    break;
                }
    if (n)
        qsort (ids, n, sizeof *ids, s_cmp_identity);
    *count = n;
    if (!ids)
        ids = calloc (1, sizeof *ids); //  an empty list is not a failure
    return ids;
}

ab_identity_t *
ab_keyring_list (const char *dir, size_t *count, ab_error_t **err)
{
    assert (dir);
    assert (count);
    *count = 0;
    return s_scan (dir, count, err);
}

//  Write one new identity. Secret first: public/ is what makes it active.
static int
s_create (const char *dir, const char *role, const char *name, ab_error_t **err)
{
    char pub[PATH_MAX], sec[PATH_MAX], rev[PATH_MAX];
    s_fmt (pub, sizeof pub, "%s/public/%s.cert", dir, name);
    s_fmt (sec, sizeof sec, "%s/secret/%s.cert_secret", dir, name);
    s_fmt (rev, sizeof rev, "%s/revoked/%s.cert", dir, name);
    if (s_exists (pub) || s_exists (sec))
        return ab_error_set (err, AB_E_EXISTS, "identity '%s' already exists in %s", name, dir);
    if (s_exists (rev))
        return ab_error_set (err, AB_E_EXISTS,
                             "identity '%s' was revoked; revoked names are not reused", name);
    s_auto_cert zcert_t *cert = zcert_new ();
    if (!cert)
        return ab_error_set (err, AB_E_SYSTEM, "cannot generate a CURVE keypair");
    zcert_set_meta (cert, "role", "%s", role);
    zcert_set_meta (cert, "name", "%s", name);
    //  secret/ is 0700, so the moment before chmod exposes nothing.
    if (zcert_save_secret (cert, sec) < 0)
        return ab_error_errno (err, AB_E_IO, errno, "write %s", sec);
    if (chmod (sec, 0600) < 0)
        return ab_error_errno (err, AB_E_IO, errno, "chmod %s", sec);
    if (zcert_save_public (cert, pub) < 0) {
        int e = errno;
        unlink (sec);
        return ab_error_errno (err, AB_E_IO, e, "write %s", pub);
    }
    return 0;
}

static int
s_write_file (const char *path, mode_t mode, const char *text, ab_error_t **err)
{
    int fd = open (path, O_WRONLY | O_CREAT | O_EXCL, mode);
    if (fd < 0)
        return ab_error_errno (err, AB_E_IO, errno, "create %s", path);
    size_t len = strlen (text);
    ssize_t n = write (fd, text, len);
    int e = errno;
    if (close (fd) < 0 && n == (ssize_t)len)
        return ab_error_errno (err, AB_E_IO, errno, "write %s", path);
    if (n != (ssize_t)len)
        return ab_error_errno (err, AB_E_IO, n < 0 ? e : EIO, "write %s", path);
    return 0;
}

static int
s_layout (const char *dir, ab_error_t **err)
{
    char path[PATH_MAX];
    if (s_mkdir (dir, 0755, err) < 0)
        return -AB_E_IO;
    s_fmt (path, sizeof path, "%s/public", dir);
    if (s_mkdir (path, 0755, err) < 0)
        return -AB_E_IO;
    s_fmt (path, sizeof path, "%s/secret", dir);
    if (s_mkdir (path, 0700, err) < 0)
        return -AB_E_IO;
    s_fmt (path, sizeof path, "%s/revoked", dir);
    if (s_mkdir (path, 0755, err) < 0)
        return -AB_E_IO;
    return 0;
}

int
ab_keyring_init (const char *dir, ab_error_t **err)
{
    assert (dir);
    if (!*dir)
        return ab_error_set (err, AB_E_INVALID, "keys init: empty directory name");
    char pk_path[PATH_MAX], sk_path[PATH_MAX], agent_dir[PATH_MAX];
    s_fmt (pk_path, sizeof pk_path, "%s/secrets.pub", dir);
    s_fmt (agent_dir, sizeof agent_dir, "%s/agent", dir);
    s_fmt (sk_path, sizeof sk_path, "%s/secrets.key", agent_dir);
    if (s_has_entries (dir, "public") || s_has_entries (dir, "secret")
        || s_has_entries (dir, "revoked") || s_has_entries (dir, "agent") || s_exists (pk_path))
        return ab_error_set (err, AB_E_EXISTS, "%s already holds keys; refusing to overwrite them",
                             dir);
    if (sodium_init () < 0)
        return ab_error_set (err, AB_E_SYSTEM, "libsodium failed to initialise");
    if (s_layout (dir, err) < 0)
        return ab_error_wrap (err, "keys init");
    for (size_t i = 0; i < sizeof s_defaults / sizeof s_defaults[0]; i++)
        if (s_create (dir, s_defaults[i][0], s_defaults[i][1], err) < 0)
            return ab_error_wrap (err, "keys init");

    //  The sealed-secrets secret key goes to agent/ (0700), apart from the
    //  identities in secret/: it is for the agent role alone (the nodes
    //  that start containers), while admins only ever need secrets.pub.
    if (s_mkdir (agent_dir, 0700, err) < 0)
        return ab_error_wrap (err, "keys init");
    uint8_t pk[crypto_box_PUBLICKEYBYTES], sk[crypto_box_SECRETKEYBYTES];
    crypto_box_keypair (pk, sk);
    char pk_txt[AB_KEY_Z85_LEN + 2], sk_txt[AB_KEY_Z85_LEN + 2];
    zmq_z85_encode (pk_txt, pk, sizeof pk);
    zmq_z85_encode (sk_txt, sk, sizeof sk);
    sodium_memzero (sk, sizeof sk);
    strcat (pk_txt, "\n");
    strcat (sk_txt, "\n");
    int rc = s_write_file (sk_path, 0600, sk_txt, err);
    sodium_memzero (sk_txt, sizeof sk_txt);
    if (rc < 0 || s_write_file (pk_path, 0644, pk_txt, err) < 0)
        return ab_error_wrap (err, "keys init");
    return 0;
}

int
ab_keyring_add (const char *dir, const char *role, const char *name, ab_error_t **err)
{
    assert (dir);
    if (!role || ab_role_from_name (role) == AB_ROLE_NONE) {
        char roles[256] = "";
        for (int r = AB_ROLE_NONE + 1; r < AB_ROLE__COUNT; r++) {
            strcat (roles, r > 1 ? ", " : "");
            strcat (roles, ab_role_name ((ab_role_t)r));
        }
        return ab_error_set (err, AB_E_INVALID, "keys add: unknown role '%s' (roles: %s)",
                             role ? role : "", roles);
    }
    if (!ab_keyring_name_ok (name))
        return ab_error_set (err, AB_E_INVALID,
                             "keys add: bad name '%s': use 1-%d characters of a-z 0-9 - _, "
                             "starting with a letter or digit",
                             name ? name : "", AB_NAME_MAX);
    char path[PATH_MAX];
    s_fmt (path, sizeof path, "%s/public", dir);
    if (!s_exists (path))
        return ab_error_set (err, AB_E_NOT_FOUND,
                             "keys add: %s is not a key directory (run `abbey keys init`)", dir);
    if (s_layout (dir, err) < 0 || s_create (dir, role, name, err) < 0)
        return ab_error_wrap (err, "keys add");
    return 0;
}

int
ab_keyring_revoke (const char *dir, const char *name, ab_error_t **err)
{
    assert (dir);
    if (!ab_keyring_name_ok (name))
        return ab_error_set (err, AB_E_INVALID, "keys revoke: bad name '%s'", name ? name : "");
    char pub[PATH_MAX], rev[PATH_MAX], revdir[PATH_MAX];
    s_fmt (pub, sizeof pub, "%s/public/%s.cert", dir, name);
    s_fmt (rev, sizeof rev, "%s/revoked/%s.cert", dir, name);
    s_fmt (revdir, sizeof revdir, "%s/revoked", dir);
    if (!s_exists (pub))
        return ab_error_set (err, AB_E_NOT_FOUND, "keys revoke: no active identity '%s' in %s",
                             name, dir);
    if (s_mkdir (revdir, 0755, err) < 0)
        return ab_error_wrap (err, "keys revoke");
    //  rename is atomic: a reader sees the key either active or revoked.
    if (rename (pub, rev) < 0)
        return ab_error_errno (err, AB_E_IO, errno, "keys revoke: move %s to %s", pub, rev);
    return 0;
}

zcert_t *
ab_keyring_load_secret (const char *dir, const char *name, ab_error_t **err)
{
    assert (dir);
    if (!ab_keyring_name_ok (name)) {
        ab_error_set (err, AB_E_INVALID, "bad identity name '%s'", name ? name : "");
        return NULL;
    }
    char sec[PATH_MAX], rev[PATH_MAX];
    s_fmt (sec, sizeof sec, "%s/secret/%s.cert_secret", dir, name);
    s_fmt (rev, sizeof rev, "%s/revoked/%s.cert", dir, name);
    if (s_exists (rev)) {
        ab_error_set (err, AB_E_DENIED, "identity '%s' was revoked", name);
        return NULL;
    }
    if (!s_exists (sec)) {
        ab_error_set (err, AB_E_NOT_FOUND, "no secret key for identity '%s' (%s)", name, sec);
        return NULL;
    }
    zcert_t *cert = s_cert_load (sec);
    static const char zeros[] = "0000000000000000000000000000000000000000";
    if (!cert || strcmp (zcert_secret_txt (cert), zeros) == 0) {
        zcert_destroy (&cert);
        ab_error_set (err, AB_E_CORRUPT, "%s: not a readable CURVE secret certificate", sec);
        return NULL;
    }
    return cert;
}

int
ab_keyring_public_key (const char *dir, const char *name, char key_out[AB_KEY_Z85_LEN + 1],
                       ab_error_t **err)
{
    assert (dir);
    assert (key_out);
    if (!ab_keyring_name_ok (name))
        return ab_error_set (err, AB_E_INVALID, "bad identity name '%s'", name ? name : "");
    char pub[PATH_MAX];
    s_fmt (pub, sizeof pub, "%s/public/%s.cert", dir, name);
    if (!s_exists (pub))
        return ab_error_set (err, AB_E_NOT_FOUND, "no active identity '%s' in %s", name, dir);
    s_auto_cert zcert_t *cert = s_cert_load (pub);
    if (!cert)
        return ab_error_set (err, AB_E_CORRUPT, "%s: not a readable CURVE certificate", pub);
    s_fmt (key_out, AB_KEY_Z85_LEN + 1, "%s", zcert_public_txt (cert));
    return 0;
}

static int
s_read_z85 (const char *path, uint8_t out[32], ab_error_t **err)
{
    FILE *f = fopen (path, "r");
    if (!f)
        return ab_error_errno (err, AB_E_IO, errno, "open %s", path);
    char line[64] = "";
    bool ok = fgets (line, sizeof line, f) != NULL;
    fclose (f);
    line[strcspn (line, "\r\n")] = 0;
    if (!ok || strlen (line) != AB_KEY_Z85_LEN || !zmq_z85_decode (out, line)) {
        sodium_memzero (line, sizeof line);
        return ab_error_set (err, AB_E_CORRUPT, "%s: expected one 40-character Z85 key", path);
    }
    sodium_memzero (line, sizeof line);
    return 0;
}

int
ab_keyring_sealing_keys (const char *dir, uint8_t pk[32], uint8_t sk[32], ab_error_t **err)
{
    assert (dir);
    assert (pk);
    char path[PATH_MAX];
    s_fmt (path, sizeof path, "%s/secrets.pub", dir);
    if (s_read_z85 (path, pk, err) < 0)
        return -AB_E_CORRUPT;
    if (!sk)
        return 0;
    s_fmt (path, sizeof path, "%s/agent/secrets.key", dir);
    struct stat st;
    if (stat (path, &st) < 0)
        return ab_error_errno (err, errno == ENOENT ? AB_E_NOT_FOUND : AB_E_IO, errno,
                               "%s (the sealed-secrets key, held by agents only)", path);
    //  Like ssh with an unprotected private key: refuse rather than use a
    //  key that others on this machine may have read.
    if (st.st_mode & 077)
        return ab_error_set (err, AB_E_DENIED,
                             "%s is readable by group or others (mode %04o): chmod 600 it", path,
                             (unsigned)(st.st_mode & 0777));
    if (s_read_z85 (path, sk, err) < 0)
        return -AB_E_CORRUPT;
    return 0;
}

//  --------------------------------------------------------------------------
//  Loaded view

static bool
s_ts_eq (struct timespec a, struct timespec b)
{
    return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

static void
s_dir_mtime (const char *dir, const char *sub, struct timespec *ts)
{
    char path[PATH_MAX];
    s_fmt (path, sizeof path, "%s/%s", dir, sub);
    struct stat st;
    if (stat (path, &st) == 0)
        *ts = st.st_mtim;
    else
        *ts = (struct timespec){ 0, 0 };
}

static bool
s_fresh (struct timespec m, const struct timespec *now)
{
    int64_t age = (int64_t)(now->tv_sec - m.tv_sec) * 1000000000LL + (now->tv_nsec - m.tv_nsec);
    return age < SETTLE_NSEC;
}

//  Rescan; on success swap in the new view and return how many active keys
//  are gone. On failure keep the old view.
static int
s_reload (ab_keyring_t *self, ab_error_t **err)
{
    struct timespec pub_m, rev_m, now;
    s_dir_mtime (self->dir, "public", &pub_m);
    s_dir_mtime (self->dir, "revoked", &rev_m);
    size_t count = 0;
    ab_identity_t *all = s_scan (self->dir, &count, err);
    //  Directory mtimes tick coarsely: a change in the same tick as our scan
    //  would go unseen, so distrust mtimes that are still fresh.
    clock_gettime (CLOCK_REALTIME, &now);
    self->pub_mtime = pub_m;
    self->rev_mtime = rev_m;
    self->unsettled = s_fresh (pub_m, &now) || s_fresh (rev_m, &now);
    if (!all)
        return -1;
    size_t active = 0;
    while (active < count && !all[active].revoked)
        active++; //  sorted: active first
    zhashx_t *by_key = zhashx_new ();
    for (size_t i = 0; i < active; i++)
        zhashx_insert (by_key, all[i].key, &all[i]);
    int lost = 0;
    for (size_t i = 0; i < self->count; i++)
        if (!zhashx_lookup (by_key, self->ids[i].key))
            lost++;
    self->lost += lost;
    zhashx_destroy (&self->by_key);
    free (self->ids);
    self->ids = all;
    self->count = active;
    self->by_key = by_key;
    return lost;
}

ab_keyring_t *
ab_keyring_open (const char *dir, ab_error_t **err)
{
    assert (dir);
    ab_keyring_t *self = calloc (1, sizeof *self);
    if (!self) {
        ab_error_set (err, AB_E_SYSTEM, "out of memory");
        return NULL;
    }
    self->dir = strdup (dir);
    self->by_key = zhashx_new ();
    if (s_reload (self, err) < 0) {
        ab_error_wrap (err, "open key directory %s", dir);
        ab_keyring_destroy (&self);
        return NULL;
    }
    self->checked_at = zclock_mono ();
    self->lost = 0;
    return self;
}

void
ab_keyring_destroy (ab_keyring_t **self_p)
{
    assert (self_p);
    ab_keyring_t *self = *self_p;
    if (self) {
        zhashx_destroy (&self->by_key);
        free (self->ids);
        free (self->dir);
        free (self);
        *self_p = NULL;
    }
}

//  Stat the directory; reload if it changed.
static void
s_check (ab_keyring_t *self)
{
    self->checked_at = zclock_mono ();
    struct timespec pub_m, rev_m;
    s_dir_mtime (self->dir, "public", &pub_m);
    s_dir_mtime (self->dir, "revoked", &rev_m);
    if (self->unsettled || !s_ts_eq (pub_m, self->pub_mtime) || !s_ts_eq (rev_m, self->rev_mtime)) {
        ab_error_t *err = NULL;
        if (s_reload (self, &err) < 0) {
            zsys_warning ("keyring %s: keeping the previous view: %s", self->dir,
                          ab_error_msg (err));
            ab_error_destroy (&err);
        }
    }
}

int
ab_keyring_refresh (ab_keyring_t *self)
{
    assert (self);
    s_check (self);
    //  Reloads done inside lookups count too, or a server polling refresh
    //  would miss a revocation that a lookup noticed first.
    int lost = self->lost;
    self->lost = 0;
    return lost;
}

const ab_identity_t *
ab_keyring_lookup (ab_keyring_t *self, const char *z85)
{
    assert (self);
    if (!z85 || strlen (z85) != AB_KEY_Z85_LEN)
        return NULL;
    if (zclock_mono () - self->checked_at >= CHECK_MSEC)
        s_check (self);
    return (const ab_identity_t *)zhashx_lookup (self->by_key, z85);
}

const ab_identity_t *
ab_keyring_lookup_bin (ab_keyring_t *self, const uint8_t key[32])
{
    assert (self);
    assert (key);
    char z85[AB_KEY_Z85_LEN + 1];
    zmq_z85_encode (z85, key, 32);
    return ab_keyring_lookup (self, z85);
}

size_t
ab_keyring_size (ab_keyring_t *self)
{
    assert (self);
    return self->count;
}

const char *
ab_keyring_dir (ab_keyring_t *self)
{
    assert (self);
    return self->dir;
}

//  --------------------------------------------------------------------------
//  Selftest

static void
s_rm_rf (const char *path)
{
    zdir_t *dir = zdir_new (path, NULL);
    if (dir) {
        zdir_remove (dir, true);
        zdir_destroy (&dir);
    }
}

void
ab_keyring_test (bool verbose)
{
    printf (" * ab_keyring: ");
    char tmp[] = "/tmp/ab_keyring_XXXXXX";
    assert (mkdtemp (tmp));
    char dir[PATH_MAX];
    s_fmt (dir, sizeof dir, "%s/keys", tmp);
    ab_error_t *err = NULL;

    //  init makes the layout, modes and default identities
    assert (ab_keyring_init (dir, &err) == 0);
    char path[PATH_MAX];
    struct stat st;
    s_fmt (path, sizeof path, "%s/secret", dir);
    assert (stat (path, &st) == 0 && (st.st_mode & 0777) == 0700);
    s_fmt (path, sizeof path, "%s/secret/admin.cert_secret", dir);
    assert (stat (path, &st) == 0 && (st.st_mode & 0777) == 0600);
    s_fmt (path, sizeof path, "%s/agent", dir);
    assert (stat (path, &st) == 0 && (st.st_mode & 0777) == 0700);
    s_fmt (path, sizeof path, "%s/agent/secrets.key", dir);
    assert (stat (path, &st) == 0 && (st.st_mode & 0777) == 0600);
    uint8_t pk[32], sk[32], derived[32];
    assert (ab_keyring_sealing_keys (dir, pk, sk, &err) == 0);
    crypto_scalarmult_base (derived, sk);
    assert (memcmp (derived, pk, 32) == 0);
    //  sealing needs only the public key; a secret key others can read is refused
    uint8_t pk_only[32];
    assert (ab_keyring_sealing_keys (dir, pk_only, NULL, &err) == 0 && !memcmp (pk_only, pk, 32));
    s_fmt (path, sizeof path, "%s/agent/secrets.key", dir);
    assert (chmod (path, 0640) == 0);
    assert (ab_keyring_sealing_keys (dir, pk, sk, &err) == -AB_E_DENIED);
    assert (err && strstr (err->msg, "chmod 600"));
    ab_error_destroy (&err);
    assert (chmod (path, 0600) == 0);

    //  a second init changes nothing
    assert (ab_keyring_init (dir, &err) == -AB_E_EXISTS);
    assert (err && strstr (err->msg, "already holds keys"));

    size_t count = 0;
    ab_identity_t *ids = ab_keyring_list (dir, &count, &err);
    assert (ids && count == 9);
    bool seen_logd = false;
    for (size_t i = 0; i < count; i++) {
        assert (!ids[i].revoked);
        assert (strlen (ids[i].key) == 40);
        assert (strncmp (ids[i].key, ids[i].keyid, 8) == 0 && strlen (ids[i].keyid) == 8);
        if (strcmp (ids[i].name, "logd") == 0) {
            seen_logd = true;
            assert (ids[i].role == AB_ROLE_LOGD);
        }
    }
    assert (seen_logd);
    free (ids);

    //  add: bad role, bad name, duplicate
    assert (ab_keyring_add (dir, "wizard", "merlin", &err) == -AB_E_INVALID);
    assert (strstr (err->msg, "unknown role 'wizard'"));
    assert (ab_keyring_add (dir, "builder", "Bad/Name", &err) == -AB_E_INVALID);
    assert (strstr (err->msg, "bad name"));
    assert (ab_keyring_add (dir, "builder", "builder", &err) == -AB_E_EXISTS);
    assert (ab_keyring_add (dir, "builder", "builder-2", &err) == 0);

    ab_keyring_t *ring = ab_keyring_open (dir, &err);
    assert (ring);
    assert (ab_keyring_size (ring) == 10);
    char key[AB_KEY_Z85_LEN + 1];
    assert (ab_keyring_public_key (dir, "builder-2", key, &err) == 0);
    const ab_identity_t *id = ab_keyring_lookup (ring, key);
    assert (id && id->role == AB_ROLE_BUILDER && streq (id->name, "builder-2"));
    char src[64];
    s_fmt (src, sizeof src, "builder:builder-2:%.8s", key);
    assert (streq (id->src, src));
    assert (ab_keyring_lookup (ring, "not a key") == NULL);
    zcert_t *stranger = zcert_new ();
    assert (ab_keyring_lookup (ring, zcert_public_txt (stranger)) == NULL);
    assert (ab_keyring_lookup_bin (ring, zcert_public_key (stranger)) == NULL);
    zcert_destroy (&stranger);

    //  the secret cert matches the public key and carries the metadata
    zcert_t *secret = ab_keyring_load_secret (dir, "builder-2", &err);
    assert (secret && streq (zcert_public_txt (secret), key));
    assert (streq (zcert_meta (secret, "role"), "builder"));
    zcert_destroy (&secret);
    assert (ab_keyring_load_secret (dir, "nobody", &err) == NULL && err->code == AB_E_NOT_FOUND);

    //  revoke: the running view notices within CHECK_MSEC, without reopen
    assert (ab_keyring_revoke (dir, "nobody", &err) == -AB_E_NOT_FOUND);
    assert (ab_keyring_revoke (dir, "builder-2", &err) == 0);
    assert (ab_keyring_revoke (dir, "builder-2", &err) == -AB_E_NOT_FOUND);
    int64_t start = zclock_mono ();
    while (ab_keyring_lookup (ring, key) && zclock_mono () - start < 1000)
        zclock_sleep (10);
    assert (ab_keyring_lookup (ring, key) == NULL);
    assert (zclock_mono () - start < 1000);
    assert (ab_keyring_size (ring) == 9);
    assert (ab_keyring_load_secret (dir, "builder-2", &err) == NULL && err->code == AB_E_DENIED);
    assert (ab_keyring_add (dir, "builder", "builder-2", &err) == -AB_E_EXISTS);

    //  refresh reports lost keys once, including those a lookup noticed
    assert (ab_keyring_refresh (ring) == 1); //  builder-2
    assert (ab_keyring_refresh (ring) == 0);
    assert (ab_keyring_revoke (dir, "monitor", &err) == 0);
    int lost = 0;
    start = zclock_mono ();
    while (lost == 0 && zclock_mono () - start < 1000) {
        lost = ab_keyring_refresh (ring);
        zclock_sleep (5);
    }
    assert (lost == 1);
    zclock_sleep (SETTLE_NSEC / 1000000 + 10);
    ab_keyring_refresh (ring);
    assert (ab_keyring_refresh (ring) == 0);

    ids = ab_keyring_list (dir, &count, &err);
    assert (ids && count == 10);
    assert (!ids[0].revoked && ids[8].revoked && ids[9].revoked);
    assert (streq (ids[8].name, "builder-2") && streq (ids[9].name, "monitor"));
    free (ids);

    //  a malformed cert: open fails naming it; a running view keeps its keys
    s_fmt (path, sizeof path, "%s/public/junk.cert", dir);
    FILE *f = fopen (path, "w");
    assert (f);
    fprintf (f, "this is not a certificate\n");
    fclose (f);
    assert (ab_keyring_open (dir, &err) == NULL);
    assert (err->code == AB_E_CORRUPT && strstr (err->msg, "junk.cert"));
    zclock_sleep (SETTLE_NSEC / 1000000 + 10);
    assert (ab_keyring_refresh (ring) == 0);
    assert (ab_keyring_size (ring) == 8);
    assert (ab_keyring_list (dir, &count, &err) == NULL);
    unlink (path);

    assert (!ab_keyring_name_ok ("") && !ab_keyring_name_ok ("-x") && !ab_keyring_name_ok ("a.b"));
    assert (ab_keyring_name_ok ("n1") && ab_keyring_name_ok ("admin_2"));
    assert (ab_keyring_init ("", &err) == -AB_E_INVALID);
    assert (ab_keyring_list ("/nonexistent/abbey", &count, &err) == NULL);

    ab_keyring_destroy (&ring);
    assert (ring == NULL);
    ab_error_destroy (&err);
    s_rm_rf (tmp);
    assert (!s_exists (tmp));
    if (verbose)
        printf ("(%s) ", dir);
    printf ("OK\n");
}
