/*  ab_cluster - the cluster file: where the daemons are and their keys      */
//  Selftests assert behaviour: keep assert live in release builds too.
#undef NDEBUG
#include <assert.h>

#include "ab_cluster.h"
#include "ab_keyring.h"
#include "ab_testrig.h"
#include "ab_zap.h"

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

//  What a value must look like.
typedef enum { V_TEXT, V_PATH, V_ENDPOINT, V_KEY } s_kind_t;

struct _ab_cluster_t {
    char *path;           //  file loaded from or saved to
    char *name;           //  cluster name
    char *keys;           //  key directory (absolute)
    char *data;           //  data directory (absolute), optional
    char *logd_endpoint;  //  logd ROUTER
    char *logd_key;       //  logd public key, Z85
    char *busd_publish;   //  busd XSUB side
    char *busd_subscribe; //  busd XPUB side
    char *busd_key;       //  busd public key, Z85
};

//  The file's keys: section ("" for top level), key, where, kind, required.
static const struct {
    const char *section;
    const char *key;
    size_t offset;
    s_kind_t kind;
    bool required;
} s_fields[] = {
    { "", "name", offsetof (ab_cluster_t, name), V_TEXT, true },
    { "", "keys", offsetof (ab_cluster_t, keys), V_PATH, true },
    { "", "data", offsetof (ab_cluster_t, data), V_PATH, false },
    { "logd", "endpoint", offsetof (ab_cluster_t, logd_endpoint), V_ENDPOINT, true },
    { "logd", "public-key", offsetof (ab_cluster_t, logd_key), V_KEY, true },
    { "busd", "publish", offsetof (ab_cluster_t, busd_publish), V_ENDPOINT, true },
    { "busd", "subscribe", offsetof (ab_cluster_t, busd_subscribe), V_ENDPOINT, true },
    { "busd", "public-key", offsetof (ab_cluster_t, busd_key), V_KEY, true },
};
#define FIELDS (sizeof s_fields / sizeof s_fields[0])

static char **
s_slot (ab_cluster_t *self, size_t i)
{
    return (char **)((char *)self + s_fields[i].offset);
}

static void
s_set (char **slot, const char *value)
{
    free (*slot);
    *slot = value ? strdup (value) : NULL;
}

ab_cluster_t *
ab_cluster_new (const char *name)
{
    ab_cluster_t *self = calloc (1, sizeof *self);
    assert (self);
    s_set (&self->name, name);
    return self;
}

void
ab_cluster_destroy (ab_cluster_t **self_p)
{
    assert (self_p);
    ab_cluster_t *self = *self_p;
    if (self) {
        free (self->path);
        for (size_t i = 0; i < FIELDS; i++)
            free (*s_slot (self, i));
        free (self);
        *self_p = NULL;
    }
}

//  Why value is not valid for kind, or NULL if it is.
static const char *
s_invalid (s_kind_t kind, const char *value)
{
    if (!value || !*value)
        return "has no value";
    switch (kind) {
    case V_TEXT:
        return NULL;
    case V_PATH:
        return value[0] == '/' ? NULL : "must be an absolute path";
    case V_ENDPOINT:
        if ((strncmp (value, "tcp://", 6) == 0 && value[6])
            || (strncmp (value, "ipc://", 6) == 0 && value[6])
            || (strncmp (value, "inproc://", 9) == 0 && value[9]))
            return NULL;
        return "must be a ZeroMQ endpoint (tcp://HOST:PORT, ipc://PATH or inproc://NAME)";
    case V_KEY: {
        uint8_t bin[32];
        if (strlen (value) == AB_KEY_Z85_LEN && zmq_z85_decode (bin, value))
            return NULL;
        return "must be a CURVE public key: 40 Z85 characters";
    }
    }
    return "is invalid";
}

//  --------------------------------------------------------------------------
//  Parsing: a strict walk over libyaml events

#define CLUSTER_FILE_MAX (1024 * 1024) //  a cluster file is a few lines

typedef struct {
    yaml_parser_t parser;
    yaml_event_t event;          //  the current event
    bool have_event;             //  event must be deleted
    const char *origin;          //  file name for errors
    ab_error_t **err;            //  where failures go
    ab_cluster_t *cluster;       //  being filled
    bool seen[FIELDS];           //  keys already set, to refuse duplicates
    bool seen_section[2];        //  logd, busd
    yaml_mark_t section_mark[2]; //  where each section starts
    yaml_mark_t end_mark;        //  end of the top-level mapping
} s_parse_t;

static const char *s_sections[2] = { "logd", "busd" };

static const char *
s_event_name (yaml_event_type_t type)
{
    switch (type) {
    case YAML_SCALAR_EVENT:
        return "a single value";
    case YAML_SEQUENCE_START_EVENT:
        return "a list";
    case YAML_MAPPING_START_EVENT:
        return "a mapping";
    case YAML_ALIAS_EVENT:
        return "an alias (aliases are not supported)";
    default:
        return "the end of a block";
    }
}

static int s_fail (s_parse_t *p, yaml_mark_t mark, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

static int
s_fail (s_parse_t *p, yaml_mark_t mark, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (what, sizeof what, fmt, ap);
    va_end (ap);
    return ab_error_set (p->err, AB_E_INVALID, "%s:%zu:%zu: %s", p->origin, mark.line + 1,
                         mark.column + 1, what);
}

static int
s_next (s_parse_t *p)
{
    if (p->have_event)
        yaml_event_delete (&p->event);
    p->have_event = false;
    if (!yaml_parser_parse (&p->parser, &p->event)) {
        const char *ctx = p->parser.context;
        return s_fail (p, p->parser.problem_mark, "YAML syntax error: %s%s%s",
                       p->parser.problem ? p->parser.problem : "unknown problem", ctx ? " " : "",
                       ctx ? ctx : "");
    }
    p->have_event = true;
    return 0;
}

static int
s_field (const char *section, const char *key)
{
    for (size_t i = 0; i < FIELDS; i++)
        if (streq (s_fields[i].section, section) && streq (s_fields[i].key, key))
            return (int)i;
    return -1;
}

static void
s_known_keys (const char *section, char *out, size_t size)
{
    *out = 0;
    for (size_t i = 0; i < FIELDS; i++)
        if (streq (s_fields[i].section, section)) {
            strncat (out, *out ? ", " : "", size - strlen (out) - 1);
            strncat (out, s_fields[i].key, size - strlen (out) - 1);
        }
    if (!*section)
        for (size_t i = 0; i < 2; i++) {
            strncat (out, ", ", size - strlen (out) - 1);
            strncat (out, s_sections[i], size - strlen (out) - 1);
        }
}

//  After MAPPING_START: read key/value pairs of section ("" = top level).
static int
s_mapping (s_parse_t *p, const char *section)
{
    while (true) {
        if (s_next (p) < 0)
            return -1;
        if (p->event.type == YAML_MAPPING_END_EVENT) {
            if (!*section)
                p->end_mark = p->event.start_mark;
            return 0;
        }
        if (p->event.type != YAML_SCALAR_EVENT)
            return s_fail (p, p->event.start_mark, "expected a key%s%s, found %s",
                           *section ? " in " : "", section, s_event_name (p->event.type));
        char key[64];
        snprintf (key, sizeof key, "%s", (const char *)p->event.data.scalar.value);
        char full[80];
        snprintf (full, sizeof full, "%s%s%s", section, *section ? "." : "", key);
        yaml_mark_t key_mark = p->event.start_mark;

        int sec = -1;
        for (int i = 0; i < 2 && !*section; i++)
            if (streq (key, s_sections[i]))
                sec = i;
        if (sec >= 0) {
            if (p->seen_section[sec])
                return s_fail (p, key_mark, "duplicate key '%s'", full);
            p->seen_section[sec] = true;
            p->section_mark[sec] = key_mark;
            if (s_next (p) < 0)
                return -1;
            if (p->event.type != YAML_MAPPING_START_EVENT)
                return s_fail (p, p->event.start_mark, "key '%s' must be a mapping, found %s", full,
                               s_event_name (p->event.type));
            if (s_mapping (p, s_sections[sec]) < 0)
                return -1;
            continue;
        }
        int f = s_field (section, key);
        if (f < 0) {
            char known[256];
            s_known_keys (section, known, sizeof known);
            return s_fail (p, key_mark, "unknown key '%s' (expected one of: %s)", full, known);
        }
        if (p->seen[f])
            return s_fail (p, key_mark, "duplicate key '%s'", full);
        if (s_next (p) < 0)
            return -1;
        if (p->event.type != YAML_SCALAR_EVENT)
            return s_fail (p, p->event.start_mark, "key '%s' must be a single value, found %s",
                           full, s_event_name (p->event.type));
        const char *value = (const char *)p->event.data.scalar.value;
        const char *why = s_invalid (s_fields[f].kind, value);
        if (why)
            return s_fail (p, p->event.start_mark, "key '%s' %s", full, why);
        s_set (s_slot (p->cluster, (size_t)f), value);
        p->seen[f] = true;
    }
}

static int
s_parse (s_parse_t *p)
{
    if (s_next (p) < 0 || s_next (p) < 0) //  stream start, then document
        return -1;
    if (p->event.type == YAML_STREAM_END_EVENT)
        return ab_error_set (p->err, AB_E_INVALID, "%s: empty cluster file", p->origin);
    if (s_next (p) < 0)
        return -1;
    if (p->event.type != YAML_MAPPING_START_EVENT)
        return s_fail (p, p->event.start_mark,
                       "a cluster file is a mapping of keys (name, keys, logd, busd), found %s",
                       s_event_name (p->event.type));
    if (s_mapping (p, "") < 0)
        return -1;
    if (s_next (p) < 0 || s_next (p) < 0) //  document end, then stream end
        return -1;
    if (p->event.type != YAML_STREAM_END_EVENT)
        return s_fail (p, p->event.start_mark, "only one YAML document is allowed");
    for (size_t i = 0; i < FIELDS; i++) {
        if (!s_fields[i].required || p->seen[i])
            continue;
        const char *sec = s_fields[i].section;
        yaml_mark_t mark = p->end_mark;
        for (int j = 0; j < 2; j++)
            if (streq (sec, s_sections[j]) && p->seen_section[j])
                mark = p->section_mark[j];
        return s_fail (p, mark, "missing required key '%s%s%s'", sec, *sec ? "." : "",
                       s_fields[i].key);
    }
    return 0;
}

ab_cluster_t *
ab_cluster_parse (const char *text, size_t size, const char *origin, ab_error_t **err)
{
    assert (text);
    s_parse_t p = { .origin = origin ? origin : "cluster", .err = err };
    if (!yaml_parser_initialize (&p.parser)) {
        ab_error_set (err, AB_E_SYSTEM, "cannot initialise the YAML parser");
        return NULL;
    }
    yaml_parser_set_input_string (&p.parser, (const unsigned char *)text, size);
    p.cluster = ab_cluster_new (NULL);
    int rc = s_parse (&p);
    if (p.have_event)
        yaml_event_delete (&p.event);
    yaml_parser_delete (&p.parser);
    if (rc < 0)
        ab_cluster_destroy (&p.cluster);
    return p.cluster;
}

static void
s_fclose (FILE **f)
{
    if (*f)
        fclose (*f);
}

ab_cluster_t *
ab_cluster_load (const char *path, ab_error_t **err)
{
    assert (path);
    __attribute__ ((cleanup (s_fclose))) FILE *f = fopen (path, "rb");
    if (!f) {
        ab_error_errno (err, errno == ENOENT ? AB_E_NOT_FOUND : AB_E_IO, errno, "cluster file %s",
                        path);
        return NULL;
    }
    ab_auto_free char *text = malloc (CLUSTER_FILE_MAX + 1);
    assert (text);
    size_t size = fread (text, 1, CLUSTER_FILE_MAX + 1, f);
    if (ferror (f)) {
        ab_error_errno (err, AB_E_IO, errno, "read %s", path);
        return NULL;
    }
    if (size > CLUSTER_FILE_MAX) {
        ab_error_set (err, AB_E_OVERSIZE, "%s: larger than %d bytes; not a cluster file", path,
                      CLUSTER_FILE_MAX);
        return NULL;
    }
    ab_cluster_t *self = ab_cluster_parse (text, size, path, err);
    if (self)
        s_set (&self->path, path);
    return self;
}

//  --------------------------------------------------------------------------
//  Writing

static int
s_emit_scalar (yaml_emitter_t *em, const char *value)
{
    yaml_event_t ev;
    yaml_scalar_event_initialize (&ev, NULL, NULL, (yaml_char_t *)value, (int)strlen (value), 1, 1,
                                  YAML_ANY_SCALAR_STYLE);
    return yaml_emitter_emit (em, &ev) ? 0 : -1;
}

static int
s_emit_mapping (yaml_emitter_t *em, bool start)
{
    yaml_event_t ev;
    if (start)
        yaml_mapping_start_event_initialize (&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
    else
        yaml_mapping_end_event_initialize (&ev);
    return yaml_emitter_emit (em, &ev) ? 0 : -1;
}

static int
s_write_handler (void *data, unsigned char *buffer, size_t size)
{
    return fwrite (buffer, 1, size, (FILE *)data) == size;
}

//  Emit the cluster as YAML to f, in the documented order.
static int
s_emit (ab_cluster_t *self, FILE *f)
{
    yaml_emitter_t em;
    if (!yaml_emitter_initialize (&em))
        return -1;
    yaml_emitter_set_output (&em, s_write_handler, f);
    yaml_emitter_set_unicode (&em, 1);
    yaml_event_t ev;
    int rc = 0;
    yaml_stream_start_event_initialize (&ev, YAML_UTF8_ENCODING);
    rc |= yaml_emitter_emit (&em, &ev) ? 0 : -1;
    yaml_document_start_event_initialize (&ev, NULL, NULL, NULL, 1);
    rc |= yaml_emitter_emit (&em, &ev) ? 0 : -1;
    rc |= s_emit_mapping (&em, true);
    const char *open = "";
    for (size_t i = 0; i < FIELDS && rc == 0; i++) {
        const char *value = *s_slot (self, i);
        if (!value)
            continue;
        if (!streq (open, s_fields[i].section)) {
            if (*open)
                rc |= s_emit_mapping (&em, false);
            open = s_fields[i].section;
            rc |= s_emit_scalar (&em, open);
            rc |= s_emit_mapping (&em, true);
        }
        rc |= s_emit_scalar (&em, s_fields[i].key);
        rc |= s_emit_scalar (&em, value);
    }
    if (*open)
        rc |= s_emit_mapping (&em, false);
    rc |= s_emit_mapping (&em, false);
    yaml_document_end_event_initialize (&ev, 1);
    rc |= yaml_emitter_emit (&em, &ev) ? 0 : -1;
    yaml_stream_end_event_initialize (&ev);
    rc |= yaml_emitter_emit (&em, &ev) ? 0 : -1;
    rc |= yaml_emitter_flush (&em) ? 0 : -1;
    yaml_emitter_delete (&em);
    return rc;
}

int
ab_cluster_save (ab_cluster_t *self, const char *path, ab_error_t **err)
{
    assert (self);
    assert (path);
    for (size_t i = 0; i < FIELDS; i++) {
        const char *value = *s_slot (self, i);
        if (!value && !s_fields[i].required)
            continue;
        const char *why = s_invalid (s_fields[i].kind, value);
        if (why)
            return ab_error_set (err, AB_E_INVALID, "save %s: key '%s%s%s' %s", path,
                                 s_fields[i].section, *s_fields[i].section ? "." : "",
                                 s_fields[i].key, why);
    }
    char tmp[PATH_MAX];
    if (snprintf (tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid ()) >= (int)sizeof tmp)
        return ab_error_set (err, AB_E_INVALID, "save %s: path too long", path);
    FILE *f = fopen (tmp, "w");
    if (!f)
        return ab_error_errno (err, AB_E_IO, errno, "save %s", tmp);
    fprintf (f, "# abbey cluster file: where the daemons are and their public keys\n");
    int rc = s_emit (self, f);
    if (fflush (f) != 0 || fsync (fileno (f)) != 0)
        rc = -1;
    int e = errno;
    if (fclose (f) != 0)
        rc = -1;
    //  rename only a complete file, so a reader never sees half of one
    if (rc < 0 || rename (tmp, path) < 0) {
        e = rc < 0 ? e : errno;
        unlink (tmp);
        return ab_error_errno (err, AB_E_IO, e ? e : EIO, "save %s", path);
    }
    s_set (&self->path, path);
    return 0;
}

//  --------------------------------------------------------------------------
//  Finding the file

char *
ab_cluster_home (void)
{
    const char *home = getenv ("ABBEY_HOME");
    if (home && *home)
        return strdup (home);
    home = getenv ("HOME");
    if (!home || !*home) {
        struct passwd *pw = getpwuid (getuid ());
        home = pw && pw->pw_dir ? pw->pw_dir : "/";
    }
    char *path = NULL;
    if (asprintf (&path, "%s/.abbey", home) < 0)
        return NULL;
    return path;
}

char *
ab_cluster_resolve (const char *arg, ab_error_t **err)
{
    struct stat st;
    if (arg) {
        if (stat (arg, &st) < 0) {
            ab_error_errno (err, AB_E_NOT_FOUND, errno, "--cluster %s", arg);
            return NULL;
        }
        return strdup (arg);
    }
    const char *env = getenv ("ABBEY_CLUSTER");
    if (env && *env) {
        if (stat (env, &st) < 0) {
            ab_error_errno (err, AB_E_NOT_FOUND, errno, "ABBEY_CLUSTER=%s", env);
            return NULL;
        }
        return strdup (env);
    }
    ab_auto_free char *home = ab_cluster_home ();
    char *path = NULL;
    if (!home || asprintf (&path, "%s/dev/cluster.yaml", home) < 0) {
        ab_error_set (err, AB_E_SYSTEM, "out of memory");
        return NULL;
    }
    if (stat (path, &st) < 0) {
        ab_error_set (err, AB_E_NOT_FOUND,
                      "no cluster found: %s does not exist; run `abbey dev up` to start a local "
                      "cluster, or name one with --cluster FILE or ABBEY_CLUSTER",
                      path);
        free (path);
        return NULL;
    }
    return path;
}

ab_cluster_t *
ab_cluster_find (const char *arg, ab_error_t **err)
{
    ab_auto_free char *path = ab_cluster_resolve (arg, err);
    return path ? ab_cluster_load (path, err) : NULL;
}

//  --------------------------------------------------------------------------
//  Getters and setters

#define GETTER(field)                                                                              \
    const char *ab_cluster_##field (ab_cluster_t *self)                                            \
    {                                                                                              \
        assert (self);                                                                             \
        return self->field ? self->field : "";                                                     \
    }
GETTER (name)
GETTER (path)
GETTER (keys)
GETTER (data)
GETTER (logd_endpoint)
GETTER (logd_key)
GETTER (busd_publish)
GETTER (busd_subscribe)
GETTER (busd_key)
#undef GETTER

void
ab_cluster_set_keys (ab_cluster_t *self, const char *dir)
{
    assert (self);
    s_set (&self->keys, dir);
}

void
ab_cluster_set_data (ab_cluster_t *self, const char *dir)
{
    assert (self);
    s_set (&self->data, dir);
}

void
ab_cluster_set_logd (ab_cluster_t *self, const char *endpoint, const char *key)
{
    assert (self);
    s_set (&self->logd_endpoint, endpoint);
    s_set (&self->logd_key, key);
}

void
ab_cluster_set_busd (ab_cluster_t *self, const char *publish, const char *subscribe,
                     const char *key)
{
    assert (self);
    s_set (&self->busd_publish, publish);
    s_set (&self->busd_subscribe, subscribe);
    s_set (&self->busd_key, key);
}

//  --------------------------------------------------------------------------
//  Client sockets

zsock_t *
ab_curve_client (int type, const char *keys_dir, const char *name, const char *server_key,
                 const char *endpoint, ab_error_t **err)
{
    assert (keys_dir);
    if (s_invalid (V_KEY, server_key)) {
        ab_error_set (err, AB_E_INVALID, "server key '%s' is not a 40-character Z85 key",
                      server_key ? server_key : "");
        return NULL;
    }
    if (s_invalid (V_ENDPOINT, endpoint)) {
        ab_error_set (err, AB_E_INVALID, "'%s' is not a ZeroMQ endpoint", endpoint ? endpoint : "");
        return NULL;
    }
    zcert_t *cert = ab_keyring_load_secret (keys_dir, name, err);
    if (!cert) {
        ab_error_wrap (err, "connect to %s as %s", endpoint, name ? name : "");
        return NULL;
    }
    zsock_t *sock = zsock_new (type);
    if (!sock) {
        zcert_destroy (&cert);
        ab_error_set (err, AB_E_SYSTEM, "cannot create a socket of type %d", type);
        return NULL;
    }
    zcert_apply (cert, sock);
    zcert_destroy (&cert);
    zsock_set_curve_serverkey (sock, server_key);
    if (zsock_connect (sock, "%s", endpoint) < 0) {
        int e = zmq_errno ();
        zsock_destroy (&sock);
        ab_error_set (err, AB_E_INVALID, "connect to %s: %s", endpoint, zmq_strerror (e));
        return NULL;
    }
    return sock;
}

zsock_t *
ab_cluster_socket (ab_cluster_t *self, int type, ab_cluster_target_t target, const char *name,
                   ab_error_t **err)
{
    assert (self);
    const char *endpoint = target == AB_CLUSTER_LOGD           ? self->logd_endpoint
                           : target == AB_CLUSTER_BUSD_PUBLISH ? self->busd_publish
                                                               : self->busd_subscribe;
    const char *key = target == AB_CLUSTER_LOGD ? self->logd_key : self->busd_key;
    zsock_t *sock = ab_curve_client (type, ab_cluster_keys (self), name, key, endpoint, err);
    if (!sock)
        ab_error_wrap (err, "cluster %s", self->path ? self->path : ab_cluster_name (self));
    return sock;
}

//  --------------------------------------------------------------------------
//  Selftest

//  Parse text; expect failure whose message contains want.
static void
s_expect_error (const char *text, const char *want)
{
    ab_error_t *err = NULL;
    ab_cluster_t *c = ab_cluster_parse (text, strlen (text), "t.yaml", &err);
    if (c || !err || !strstr (err->msg, want)) {
        fprintf (stderr, "\nfor:\n%s\nwanted '%s', got '%s'\n", text, want,
                 err ? err->msg : "success");
        assert (false);
    }
    ab_error_destroy (&err);
}

void
ab_cluster_test (bool verbose)
{
    printf (" * ab_cluster: ");
    ab_testrig_t *rig = ab_testrig_new ("ab_cluster");
    const char *tmp = ab_testrig_dir (rig);
    const char *keys = ab_testrig_keys (rig);
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/cluster.yaml", tmp);
    ab_error_t *err = NULL;
    char logd_key[AB_KEY_Z85_LEN + 1], busd_key[AB_KEY_Z85_LEN + 1];
    assert (ab_keyring_public_key (keys, "logd", logd_key, &err) == 0);
    assert (ab_keyring_public_key (keys, "busd", busd_key, &err) == 0);

    //  round trip, including values YAML must quote (Z85 has : # [ ] ...)
    ab_cluster_t *c = ab_cluster_new ("dev");
    assert (ab_cluster_save (c, path, &err) < 0 && strstr (err->msg, "'keys'"));
    ab_cluster_set_keys (c, keys);
    ab_cluster_set_data (c, "/var/lib/abbey: data #1");
    ab_cluster_set_logd (c, "tcp://127.0.0.1:5000", logd_key);
    ab_cluster_set_busd (c, "tcp://127.0.0.1:5001", "tcp://127.0.0.1:5002", busd_key);
    assert (ab_cluster_save (c, path, &err) == 0);
    assert (streq (ab_cluster_path (c), path));
    ab_cluster_destroy (&c);
    c = ab_cluster_load (path, &err);
    assert (c);
    assert (streq (ab_cluster_name (c), "dev"));
    assert (streq (ab_cluster_keys (c), keys));
    assert (streq (ab_cluster_data (c), "/var/lib/abbey: data #1"));
    assert (streq (ab_cluster_logd_endpoint (c), "tcp://127.0.0.1:5000"));
    assert (streq (ab_cluster_logd_key (c), logd_key));
    assert (streq (ab_cluster_busd_publish (c), "tcp://127.0.0.1:5001"));
    assert (streq (ab_cluster_busd_subscribe (c), "tcp://127.0.0.1:5002"));
    assert (streq (ab_cluster_busd_key (c), busd_key));
    ab_cluster_destroy (&c);

    //  malformed files name file:line:column and the key
    s_expect_error ("name: dev\nkeys: \"unclosed\n", "t.yaml:3:1: YAML syntax error");
    s_expect_error ("name: dev\n  keys: /k\n", "t.yaml:2:7: YAML syntax error");
    s_expect_error ("", "t.yaml: empty cluster file");
    s_expect_error ("- a\n- b\n", "t.yaml:1:1: a cluster file is a mapping");
    s_expect_error ("name: dev\ncolour: blue\n", "t.yaml:2:1: unknown key 'colour'");
    s_expect_error ("name: dev\nname: again\n", "t.yaml:2:1: duplicate key 'name'");
    s_expect_error ("name: dev\nkeys: relative/dir\n",
                    "t.yaml:2:7: key 'keys' must be an absolute path");
    s_expect_error ("name: dev\nkeys: /k\nlogd: tcp://x\n",
                    "t.yaml:3:7: key 'logd' must be a mapping");
    s_expect_error ("name: dev\nkeys: /k\nlogd:\n  endpoint: localhost:1\n",
                    "t.yaml:4:13: key 'logd.endpoint' must be a ZeroMQ endpoint");
    s_expect_error ("name: dev\nkeys: /k\nlogd:\n  endpoint: tcp://a:1\n  public-key: short\n",
                    "t.yaml:5:15: key 'logd.public-key' must be a CURVE public key");
    s_expect_error ("name: dev\nkeys: /k\nlogd:\n  endpoint: tcp://a:1\n  port: 5\n",
                    "t.yaml:5:3: unknown key 'logd.port'");
    s_expect_error ("name: [a, b]\n",
                    "t.yaml:1:7: key 'name' must be a single value, found a list");
    s_expect_error ("name: dev\nkeys: /k\n", "missing required key 'logd.endpoint'");
    s_expect_error ("name: dev\nkeys: /k\n---\nname: x\n", "only one YAML document");
    char text[1024];
    snprintf (text, sizeof text,
              "name: dev\nkeys: /k\nlogd:\n  endpoint: tcp://a:1\n  public-key: '%s'\n"
              "busd:\n  publish: tcp://a:2\n  public-key: '%s'\n",
              logd_key, busd_key);
    s_expect_error (text, "t.yaml:6:1: missing required key 'busd.subscribe'");

    //  resolve: --cluster, then ABBEY_CLUSTER, then ABBEY_HOME/dev/cluster.yaml
    char *saved_cluster = getenv ("ABBEY_CLUSTER") ? strdup (getenv ("ABBEY_CLUSTER")) : NULL;
    char *saved_home = getenv ("ABBEY_HOME") ? strdup (getenv ("ABBEY_HOME")) : NULL;
    unsetenv ("ABBEY_CLUSTER");
    setenv ("ABBEY_HOME", tmp, 1);
    char *found = ab_cluster_resolve (NULL, &err);
    assert (!found && err->code == AB_E_NOT_FOUND && strstr (err->msg, "abbey dev up"));
    char devdir[PATH_MAX + 16], devfile[PATH_MAX + 32];
    snprintf (devdir, sizeof devdir, "%s/dev", tmp);
    snprintf (devfile, sizeof devfile, "%s/cluster.yaml", devdir);
    assert (mkdir (devdir, 0755) == 0);
    assert (rename (path, devfile) == 0);
    found = ab_cluster_resolve (NULL, &err);
    assert (found && streq (found, devfile));
    zstr_free (&found);
    setenv ("ABBEY_CLUSTER", "/nonexistent/cluster.yaml", 1);
    assert (ab_cluster_resolve (NULL, &err) == NULL && strstr (err->msg, "ABBEY_CLUSTER="));
    found = ab_cluster_resolve (devfile, &err); //  the flag wins
    assert (found && streq (found, devfile));
    zstr_free (&found);
    if (saved_cluster)
        setenv ("ABBEY_CLUSTER", saved_cluster, 1);
    else
        unsetenv ("ABBEY_CLUSTER");
    if (saved_home)
        setenv ("ABBEY_HOME", saved_home, 1);
    else
        unsetenv ("ABBEY_HOME");
    free (saved_cluster);
    free (saved_home);

    //  ab_cluster_socket: an authenticated client that a ZAP-guarded server hears
    ab_zap_t *zap = ab_zap_new (keys, &err);
    assert (zap);
    zcert_t *server = ab_keyring_load_secret (keys, "logd", &err);
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    zcert_apply (server, router);
    zsock_set_curve_server (router, 1);
    assert (zsock_bind (router, "tcp://127.0.0.1:*") > 0);
    char *ep = zsock_last_endpoint (router);
    c = ab_cluster_find (devfile, &err);
    assert (c);
    ab_cluster_set_logd (c, ep, logd_key);
    assert (ab_cluster_socket (c, ZMQ_DEALER, AB_CLUSTER_LOGD, "nobody", &err) == NULL);
    assert (err->code == AB_E_NOT_FOUND && strstr (err->msg, devfile));
    zsock_t *dealer = ab_cluster_socket (c, ZMQ_DEALER, AB_CLUSTER_LOGD, "admin", &err);
    assert (dealer);
    zstr_send (dealer, "HEAD");
    zsock_set_rcvtimeo (router, 3000);
    zmsg_t *msg = zmsg_recv (router);
    assert (msg && zmsg_size (msg) == 2);
    zframe_t *body = zmsg_last (msg);
    assert (zframe_streq (body, "HEAD"));
    zmsg_destroy (&msg);
    assert (ab_curve_client (ZMQ_DEALER, keys, "admin", "bad", ep, &err) == NULL);
    assert (ab_curve_client (ZMQ_DEALER, keys, "admin", logd_key, "nowhere", &err) == NULL);
    zsock_destroy (&dealer);
    zsock_destroy (&router);
    zstr_free (&ep);
    zcert_destroy (&server);
    ab_zap_destroy (&zap);
    ab_cluster_destroy (&c);
    assert (ab_cluster_load ("/nonexistent/c.yaml", &err) == NULL && err->code == AB_E_NOT_FOUND);
    ab_error_destroy (&err);
    if (verbose)
        printf ("(%s) ", path);
    ab_testrig_destroy (&rig);
    printf ("OK\n");
}
