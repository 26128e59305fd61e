/*  ab_dockercompose - docker-compose files into the normalized spec       */
//  Why: selftests assert behaviour, and the default build type defines NDEBUG.
#undef NDEBUG
#include "ab_dockercompose.h"
#include "ab_field.h"
#include "ab_spec.h"
#include "ab_yaml.h"

#include <assert.h>
#include <ctype.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_AT(n) ab_ynode_file (n), ab_ynode_line (n), ab_ynode_col (n)
#define S_SUBST_DEPTH 8

typedef struct {
    const ab_dockercompose_input_t *in;
    ab_diag_t *diag;
    json_t *dotenv; //  .env values
    json_t *warned; //  unset variables already warned about
    json_t *declared_volumes;
    json_t *declared_networks;
    json_t *declared_secrets;
} s_ctx_t;

//  --------------------------------------------------------------------------
//  .env

json_t *
ab_dockercompose_dotenv (const char *file, const char *text, size_t size, ab_diag_t *diag)
{
    assert (diag);
    json_t *out = json_object ();
    size_t line = 0;
    if (size && memchr (text, 0, size)) {
        ab_diag_error (diag, file, 1, 1, "file contains a NUL byte; not a .env text");
        return out;
    }
    if (size > AB_YAML_MAX_SIZE) {
        ab_diag_error (diag, file, 1, 1, "file is %zu bytes; the limit is %d", size,
                       AB_YAML_MAX_SIZE);
        return out;
    }
    const char *p = text, *end = text + size;
    while (p && p < end) {
        line++;
        const char *eol = memchr (p, '\n', end - p);
        size_t len = eol ? (size_t)(eol - p) : (size_t)(end - p);
        char *buf = strndup (p, len);
        p = eol ? eol + 1 : end;
        if (!buf)
            break;
        char *s = buf;
        if (len && s[len - 1] == '\r')
            s[len - 1] = 0;
        while (*s == ' ' || *s == '\t')
            s++;
        if (!*s || *s == '#') {
            free (buf);
            continue;
        }
        if (!strncmp (s, "export ", 7))
            s += 7;
        char *eq = strchr (s, '=');
        char *k = s;
        if (eq) {
            *eq = 0;
            for (char *t = eq - 1; t >= k && (*t == ' ' || *t == '\t'); t--)
                *t = 0;
        }
        bool key_ok = eq && (isalpha ((unsigned char)*k) || *k == '_');
        for (char *t = k; key_ok && *t; t++)
            key_ok = isalnum ((unsigned char)*t) || *t == '_' || *t == '.' || *t == '-';
        if (!key_ok) {
            ab_diag_error (diag, file, line, 1, "expected KEY=VALUE, got \"%.40s\"", buf);
            free (buf);
            continue;
        }
        char *v = eq + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        char *val = v;
        if (*v == '\'' || *v == '"') {
            char quote = *v++;
            char *w = val;
            while (*v && *v != quote) {
                if (quote == '"' && *v == '\\' && v[1]) {
                    v++;
                    *w++ = *v == 'n' ? '\n' : *v == 't' ? '\t' : *v;
                    v++;
                } else
                    *w++ = *v++;
            }
            if (*v != quote) {
                ab_diag_error (diag, file, line, (size_t)(val - buf) + 1,
                               "%s: unterminated quoted value", k);
                free (buf);
                continue;
            }
            *w = 0;
        } else {
            //  An unquoted value ends at " #" (a comment) and loses trailing blanks.
            char *hash = strstr (v, " #");
            if (hash)
                *hash = 0;
            for (char *t = v + strlen (v) - 1; t >= v && (*t == ' ' || *t == '\t'); t--)
                *t = 0;
        }
        json_object_set_new (out, k, json_string (val));
        free (buf);
    }
    return out;
}

//  --------------------------------------------------------------------------
//  ${VAR} substitution

//  The value of a variable: the caller's environment wins over .env.
static const char *
s_lookup (s_ctx_t *c, const char *name, size_t len)
{
    for (size_t i = 0; c->in->environ && c->in->environ[i]; i++) {
        const char *e = c->in->environ[i];
        if (strncmp (e, name, len) == 0 && e[len] == '=')
            return e + len + 1;
    }
    char key[256];
    if (len >= sizeof key)
        return NULL;
    memcpy (key, name, len);
    key[len] = 0;
    return json_string_value (json_object_get (c->dotenv, key));
}

//  Substitute text into f; errors and warnings at node. -1 on error.
static int
s_subst (s_ctx_t *c, const char *text, size_t len, FILE *f, const ab_ynode_t *node, int depth)
{
    if (depth > S_SUBST_DEPTH)
        return ab_diag_error (c->diag, S_AT (node), "\"%s\": substitutions nested too deeply",
                              ab_ynode_str (node));
    const char *p = text, *end = text + len;
    while (p < end) {
        if (*p != '$') {
            fputc (*p++, f);
            continue;
        }
        if (p + 1 < end && p[1] == '$') {
            fputc ('$', f);
            p += 2;
            continue;
        }
        const char *name = p + 1;
        bool braced = p + 1 < end && p[1] == '{';
        if (braced)
            name++;
        const char *q = name;
        if (q < end && (isalpha ((unsigned char)*q) || *q == '_'))
            while (q < end && (isalnum ((unsigned char)*q) || *q == '_'))
                q++;
        size_t nlen = (size_t)(q - name);
        if (!nlen) {
            if (braced)
                return ab_diag_error (c->diag, S_AT (node),
                                      "\"%s\": \"${\" must be followed by a variable name",
                                      ab_ynode_str (node));
            fputc (*p++, f); //  a lone "$" stays
            continue;
        }
        const char *value = s_lookup (c, name, nlen);
        if (!braced) {
            p = q;
        } else {
            //  Find the matching "}" (defaults may nest ${…}).
            int level = 1;
            const char *r = q;
            while (r < end && level) {
                if (*r == '{')
                    level++;
                else if (*r == '}')
                    level--;
                if (level)
                    r++;
            }
            if (r >= end)
                return ab_diag_error (c->diag, S_AT (node),
                                      "\"%s\": \"${%.*s\" has no closing \"}\"",
                                      ab_ynode_str (node), (int)nlen, name);
            const char *op = q;
            bool colon = op < r && *op == ':';
            if (colon)
                op++;
            if (op < r && (*op == '-' || *op == '?' || *op == '+')) {
                char kind = *op++;
                bool set = value && (!colon || *value);
                if (kind == '-' && !set) {
                    if (s_subst (c, op, (size_t)(r - op), f, node, depth + 1))
                        return -1;
                    value = NULL;
                    p = r + 1;
                    continue;
                }
                if (kind == '+') {
                    if (set && s_subst (c, op, (size_t)(r - op), f, node, depth + 1))
                        return -1;
                    p = r + 1;
                    continue;
                }
                if (kind == '?' && !set)
                    return ab_diag_error (c->diag, S_AT (node), "variable %.*s is required: %.*s",
                                          (int)nlen, name, (int)(r - op), r > op ? op : "not set");
            } else if (op != r || colon)
                return ab_diag_error (c->diag, S_AT (node),
                                      "\"%s\": \"${%.*s\" is not a valid substitution",
                                      ab_ynode_str (node), (int)(r - name), name);
            p = r + 1;
        }
        if (value)
            fputs (value, f);
        else {
            char key[256];
            snprintf (key, sizeof key, "%.*s", (int)nlen, name);
            if (!json_object_get (c->warned, key)) {
                json_object_set_new (c->warned, key, json_true ());
                ab_diag_warn (c->diag, S_AT (node),
                              "variable %s is not set; substituting an empty string", key);
            }
        }
    }
    return 0;
}

//  One scalar value with ${VAR} substituted (ab_ynode_map_fn; keys are
//  not substituted).
static ab_ynode_t *
s_interpolate (void *arg, const ab_ynode_t *node, const char *key, const char *holder)
{
    (void)key;
    (void)holder;
    s_ctx_t *c = (s_ctx_t *)arg;
    const char *text = ab_ynode_str (node);
    if (!strchr (text, '$'))
        return ab_ynode_dup (node);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream (&buf, &len);
    if (!f)
        return NULL;
    int rc = s_subst (c, text, strlen (text), f, node, 0);
    fclose (f);
    ab_ynode_t *out = rc ? NULL : ab_ynode_new_scalar (buf, node);
    //  Why quote an empty result: "${EMPTY}" is an empty string, not null.
    if (out)
        ab_ynode_set_quoted (out, ab_ynode_quoted (node) || !*buf);
    free (buf);
    return out;
}

//  --------------------------------------------------------------------------
//  Services

static const char *const s_service_keys[]
    = { "image", "build", "command", "entrypoint", "environment", "env_file", "ports", "expose",
        "depends_on", "healthcheck", "deploy", "restart", "volumes", "networks", "labels", "user",
        "working_dir", "hostname", "profiles", "secrets", "scale", "cpus", "mem_limit",
        //  Accepted with a warning: ignoring them does not change what runs.
        "container_name", "logging", "tty", "stdin_open", "stop_grace_period", "stop_signal",
        "init", "ulimits", "extra_hosts", "dns", "dns_search", "dns_opt", "domainname",
        "mac_address", "shm_size", "sysctls", "platform", "pull_policy", "links", "external_links",
        "tmpfs", "oom_score_adj", "cpu_shares", "mem_reservation", "read_only", "security_opt",
        "annotations", "attach", "develop",
        //  Refused: ignoring them would change what runs.
        "privileged", "cap_add", "cap_drop", "devices", "network_mode", "pid", "ipc",
        "volumes_from", "extends", "configs", "userns_mode", "runtime", "cgroup_parent", "gpus",
        "group_add", "device_cgroup_rules", "isolation", "storage_opt", NULL };

static const char *const s_warn_keys[]
    = { "container_name", "logging",       "tty",         "stdin_open",      "stop_grace_period",
        "stop_signal",    "init",          "ulimits",     "extra_hosts",     "dns",
        "dns_search",     "dns_opt",       "domainname",  "mac_address",     "shm_size",
        "sysctls",        "platform",      "pull_policy", "links",           "external_links",
        "tmpfs",          "oom_score_adj", "cpu_shares",  "mem_reservation", "read_only",
        "security_opt",   "annotations",   "attach",      "develop",         NULL };

static const char *const s_refuse_keys[]
    = { "privileged",    "cap_add",     "cap_drop",    "devices",
        "network_mode",  "pid",         "ipc",         "volumes_from",
        "extends",       "configs",     "userns_mode", "runtime",
        "cgroup_parent", "gpus",        "group_add",   "device_cgroup_rules",
        "isolation",     "storage_opt", NULL };

static bool
s_in (const char *key, const char *const *list)
{
    for (size_t i = 0; list[i]; i++)
        if (!strcmp (key, list[i]))
            return true;
    return false;
}

//  Unknown keys are errors; warn-only and refused keys as their lists say.
static int
s_keys (s_ctx_t *c, const ab_ynode_t *map, const char *const *allowed, const char *const *warn,
        const char *const *refuse, const char *where)
{
    int rc = 0;
    for (size_t i = 0; i < ab_ynode_size (map); i++) {
        const char *key = ab_ynode_key (map, i);
        const ab_ynode_t *k = ab_ynode_key_at (map, i);
        if (!strncmp (key, "x-", 2))
            continue;
        if (refuse && s_in (key, refuse))
            rc = ab_diag_error (
                c->diag, S_AT (k),
                "key \"%s\"%s: not supported by abbey, and ignoring it would change what runs", key,
                where);
        else if (warn && s_in (key, warn))
            ab_diag_warn (c->diag, S_AT (k), "key \"%s\"%s: not supported by abbey; ignored", key,
                          where);
        else if (!s_in (key, allowed)) {
            const char *hint = ab_field_suggest (key, allowed);
            if (hint)
                rc = ab_diag_error (c->diag, S_AT (k),
                                    "key \"%s\"%s: unknown key (did you mean \"%s\"?)", key, where,
                                    hint);
            else
                rc = ab_diag_error (c->diag, S_AT (k), "key \"%s\"%s: unknown key", key, where);
        }
    }
    return rc;
}

//  "8080", "8080:80", "127.0.0.1:8080:80/udp", "9000-9002:9000-9002".
static int
s_port_short (s_ctx_t *c, const ab_ynode_t *node, json_t *ports, json_t *pmarks)
{
    const char *text = ab_ynode_str (node);
    char buf[128];
    if (!text || strlen (text) >= sizeof buf)
        return ab_field_wrong (node, "ports", "a port like \"8080:80\"", c->diag);
    snprintf (buf, sizeof buf, "%s", text);
    const char *protocol = "tcp";
    char *slash = strchr (buf, '/');
    if (slash) {
        *slash++ = 0;
        if (!strcmp (slash, "udp"))
            protocol = "udp";
        else if (strcmp (slash, "tcp"))
            return ab_field_wrong (node, "ports", "protocol tcp or udp", c->diag);
    }
    //  Split from the right: [ip:][host:]container. IPv6 hosts are bracketed.
    char *parts[3] = { NULL, NULL, NULL };
    int n = 0;
    char *s = buf;
    if (*s == '[') {
        char *close = strchr (s, ']');
        if (!close || close[1] != ':')
            return ab_field_wrong (node, "ports", "a port like \"[::1]:8080:80\"", c->diag);
        *close = 0;
        parts[n++] = s + 1;
        s = close + 2;
    }
    for (char *tok = s; tok && n < 3;) {
        char *colon = strchr (tok, ':');
        if (colon)
            *colon = 0;
        parts[n++] = tok;
        tok = colon ? colon + 1 : NULL;
        if (tok && n == 3)
            return ab_field_wrong (node, "ports", "a port like \"8080:80\"", c->diag);
    }
    const char *ip = n == 3 ? parts[0] : NULL;
    const char *host = n >= 2 ? parts[n - 2] : NULL;
    const char *ctr = parts[n - 1];
    unsigned c1 = 0, c2 = 0, h1 = 0, h2 = 0;
    int used = 0;
    bool ok = ctr
              && ((sscanf (ctr, "%u-%u%n", &c1, &c2, &used) == 2 && !ctr[used])
                  || (sscanf (ctr, "%u%n", &c1, &used) == 1 && !ctr[used] && (c2 = c1)));
    if (ok && host && *host)
        ok = (sscanf (host, "%u-%u%n", &h1, &h2, &used) == 2 && !host[used])
             || (sscanf (host, "%u%n", &h1, &used) == 1 && !host[used] && (h2 = h1));
    if (!ok || c1 < 1 || c2 > 65535 || c2 < c1 || (h1 && (h2 > 65535 || h2 < h1))
        || (h1 && h2 - h1 != c2 - c1) || c2 - c1 >= AB_DOCKERCOMPOSE_MAX_RANGE)
        return ab_field_wrong (
            node, "ports",
            "a port like 80, \"8080:80\", \"127.0.0.1:8080:80\" or a range \"9000-9002:9000-9002\"",
            c->diag);
    for (unsigned i = 0; i <= c2 - c1; i++) {
        json_t *port = json_pack ("{s:i,s:s}", "container", (int)(c1 + i), "protocol", protocol);
        if (h1)
            json_object_set_new (port, "host", json_integer (h1 + i));
        if (ip && *ip)
            json_object_set_new (port, "host-ip", json_string (ip));
        json_array_append_new (ports, port);
        json_array_append_new (pmarks, ab_field_mark (node));
    }
    return 0;
}

static int
s_port_long (s_ctx_t *c, const ab_ynode_t *node, json_t *ports, json_t *pmarks)
{
    static const char *const keys[]
        = { "target", "published", "protocol", "host_ip", "mode", "name", "app_protocol", NULL };
    static const char *const protocols[] = { "tcp", "udp", NULL };
    if (s_keys (c, node, keys, NULL, NULL, " in ports"))
        return -1;
    const ab_ynode_t *n;
    int64_t target, published = 0;
    const char *protocol = "tcp", *ip = NULL, *mode;
    if (!(n = ab_ynode_get (node, "target")))
        return ab_diag_error (c->diag, S_AT (node),
                              "key \"ports\": the long syntax needs \"target\"");
    if (ab_field_int (n, "target", 1, 65535, c->diag, &target))
        return -1;
    if ((n = ab_ynode_get (node, "published"))
        && ab_field_int (n, "published", 1, 65535, c->diag, &published))
        return -1;
    if ((n = ab_ynode_get (node, "protocol"))
        && ab_field_enum (n, "protocol", protocols, c->diag, &protocol))
        return -1;
    if ((n = ab_ynode_get (node, "host_ip")) && ab_field_string (n, "host_ip", c->diag, &ip))
        return -1;
    if ((n = ab_ynode_get (node, "mode")) && ab_field_string (n, "mode", c->diag, &mode) == 0
        && strcmp (mode, "ingress"))
        ab_diag_warn (
            c->diag, S_AT (n),
            "key \"mode\": \"%s\" is not supported by abbey; the port is published as ingress",
            mode);
    json_t *port = json_pack ("{s:I,s:s}", "container", (json_int_t)target, "protocol", protocol);
    if (published)
        json_object_set_new (port, "host", json_integer (published));
    if (ip)
        json_object_set_new (port, "host-ip", json_string (ip));
    json_array_append_new (ports, port);
    json_array_append_new (pmarks, ab_field_mark (node));
    return 0;
}

static int
s_volume (s_ctx_t *c, const ab_ynode_t *node, json_t *vols)
{
    const char *type = NULL, *source = NULL, *target = NULL;
    bool ro = false;
    char buf[1024];
    if (ab_ynode_kind (node) == AB_YNODE_MAP) {
        static const char *const keys[] = { "type",   "source", "target",      "read_only", "bind",
                                            "volume", "tmpfs",  "consistency", NULL };
        static const char *const types[] = { "volume", "bind", "tmpfs", NULL };
        const ab_ynode_t *n;
        if (s_keys (c, node, keys, NULL, NULL, " in volumes"))
            return -1;
        if (!(n = ab_ynode_get (node, "target")))
            return ab_diag_error (c->diag, S_AT (node),
                                  "key \"volumes\": the long syntax needs \"target\"");
        if (ab_field_string (n, "target", c->diag, &target)
            || ((n = ab_ynode_get (node, "type"))
                && ab_field_enum (n, "type", types, c->diag, &type))
            || ((n = ab_ynode_get (node, "source"))
                && ab_field_string (n, "source", c->diag, &source))
            || ((n = ab_ynode_get (node, "read_only"))
                && ab_field_bool (n, "read_only", c->diag, &ro)))
            return -1;
        const char *sub[] = { "bind", "volume", "tmpfs", "consistency" };
        for (int i = 0; i < 4; i++)
            if ((n = ab_ynode_get (node, sub[i])))
                ab_diag_warn (c->diag, S_AT (n),
                              "key \"%s\" in volumes: not supported by abbey; ignored", sub[i]);
    } else {
        const char *text;
        if (ab_field_string (node, "volumes", c->diag, &text))
            return -1;
        if (strlen (text) >= sizeof buf)
            return ab_field_wrong (node, "volumes", "a shorter volume", c->diag);
        snprintf (buf, sizeof buf, "%s", text);
        char *second = strchr (buf, ':'), *third = NULL;
        if (second) {
            *second++ = 0;
            third = strchr (second, ':');
            if (third)
                *third++ = 0;
        }
        if (third) {
            //  Modes are comma-separated: ro, rw, z, Z, and propagation flags.
            char *save = NULL;
            for (char *m = strtok_r (third, ",", &save); m; m = strtok_r (NULL, ",", &save))
                if (!strcmp (m, "ro"))
                    ro = true;
                else if (strcmp (m, "rw"))
                    ab_diag_warn (c->diag, S_AT (node),
                                  "volume mode \"%s\": not supported by abbey; ignored", m);
        }
        source = second ? buf : NULL;
        target = second ? second : buf;
    }
    if (!target || target[0] != '/')
        return ab_field_wrong (node, "volumes", "an absolute container path as the target",
                               c->diag);
    if (!type)
        type = !source                                                      ? "volume"
               : (source[0] == '/' || source[0] == '.' || source[0] == '~') ? "bind"
                                                                            : "volume";
    if (!strcmp (type, "volume") && source && !json_object_get (c->declared_volumes, source))
        return ab_diag_error (c->diag, S_AT (node),
                              "volume \"%s\" is not declared under the top-level volumes:", source);
    json_t *v = json_pack ("{s:s,s:s,s:b}", "type", type, "target", target, "read-only", ro);
    if (source)
        json_object_set_new (v, "source", json_string (source));
    json_array_append_new (vols, v);
    return 0;
}

//  "KEY=VALUE" list items, or a map; for environment, a bare KEY (or a
//  null value) takes the caller's environment, or is left out.
static json_t *
s_kv (s_ctx_t *c, const ab_ynode_t *node, const char *key, bool from_env)
{
    json_t *out = json_object ();
    if (ab_ynode_kind (node) == AB_YNODE_MAP) {
        for (size_t i = 0; i < ab_ynode_size (node); i++) {
            const char *k = ab_ynode_key (node, i);
            const ab_ynode_t *v = ab_ynode_at (node, i);
            const char *s;
            if (ab_ynode_is_null (v)) {
                const char *e = from_env ? s_lookup (c, k, strlen (k)) : "";
                if (e)
                    json_object_set_new (out, k, json_string (e));
            } else if (ab_field_string (v, k, c->diag, &s) == 0)
                json_object_set_new (out, k, json_string (s));
            else {
                json_decref (out);
                return NULL;
            }
        }
        return out;
    }
    if (ab_ynode_kind (node) != AB_YNODE_SEQ) {
        json_decref (out);
        ab_field_wrong (node, key, "a map or a list of KEY=VALUE", c->diag);
        return NULL;
    }
    for (size_t i = 0; i < ab_ynode_size (node); i++) {
        const char *s;
        if (ab_field_string (ab_ynode_at (node, i), key, c->diag, &s)) {
            json_decref (out);
            return NULL;
        }
        const char *eq = strchr (s, '=');
        char *k = strndup (s, eq ? (size_t)(eq - s) : strlen (s));
        if (eq)
            json_object_set_new (out, k, json_string (eq + 1));
        else {
            const char *e = from_env ? s_lookup (c, k, strlen (k)) : "";
            if (e)
                json_object_set_new (out, k, json_string (e));
        }
        free (k);
    }
    return out;
}

static int
s_healthcheck (s_ctx_t *c, const ab_ynode_t *node, json_t *svc)
{
    static const char *const keys[] = { "test",         "interval",       "timeout", "retries",
                                        "start_period", "start_interval", "disable", NULL };
    if (ab_field_map (node, "healthcheck", c->diag)
        || s_keys (c, node, keys, NULL, NULL, " in healthcheck"))
        return -1;
    const ab_ynode_t *n;
    bool disable = false;
    if ((n = ab_ynode_get (node, "disable")) && ab_field_bool (n, "disable", c->diag, &disable))
        return -1;
    if ((n = ab_ynode_get (node, "start_interval")))
        ab_diag_warn (c->diag, S_AT (n),
                      "key \"start_interval\" in healthcheck: not supported by abbey; ignored");
    json_t *check = json_object ();
    int rc = 0;
    if (!(n = ab_ynode_get (node, "test")))
        disable = true; //  no test of our own: nothing to run

    else if (ab_ynode_kind (n) == AB_YNODE_SCALAR) {
        const char *s;
        rc = ab_field_string (n, "test", c->diag, &s);
        if (rc == 0)
            json_object_set_new (check, "shell", json_string (s));
    } else {
        json_t *list = ab_field_strings (n, "test", false, c->diag);
        const char *first = json_string_value (json_array_get (list, 0));
        if (!list)
            rc = -1;
        else if (first && !strcmp (first, "NONE"))
            disable = true;
        else if (first && !strcmp (first, "CMD") && json_array_size (list) > 1) {
            json_array_remove (list, 0);
            json_object_set (check, "exec", list);
        } else if (first && !strcmp (first, "CMD-SHELL") && json_array_size (list) == 2)
            json_object_set (check, "shell", json_array_get (list, 1));
        else
            rc = ab_field_wrong (
                n, "test", "[\"CMD\", …], [\"CMD-SHELL\", \"…\"], [\"NONE\"] or a string", c->diag);
        json_decref (list);
    }
    int64_t interval = 30000, timeout = 30000, retries = 3, start = 0;
    if ((n = ab_ynode_get (node, "interval")))
        rc |= ab_field_duration (n, "interval", c->diag, &interval);
    if ((n = ab_ynode_get (node, "timeout")))
        rc |= ab_field_duration (n, "timeout", c->diag, &timeout);
    if ((n = ab_ynode_get (node, "retries")))
        rc |= ab_field_int (n, "retries", 1, 1000, c->diag, &retries);
    if ((n = ab_ynode_get (node, "start_period")))
        rc |= ab_field_duration (n, "start_period", c->diag, &start);
    if (rc || disable) {
        json_decref (check);
        return rc;
    }
    json_object_set_new (check, "interval-ms", json_integer (interval));
    json_object_set_new (check, "timeout-ms", json_integer (timeout));
    json_object_set_new (check, "retries", json_integer (retries));
    json_object_set_new (check, "start-period-ms", json_integer (start));
    json_object_set_new (svc, "checks", json_pack ("{s:o}", "readiness", check));
    return 0;
}

static int
s_restart (s_ctx_t *c, const ab_ynode_t *node, json_t *recovery)
{
    const char *s;
    if (ab_field_string (node, "restart", c->diag, &s))
        return -1;
    int64_t max = 0;
    if (!strcmp (s, "no"))
        json_object_set_new (recovery, "restart", json_string ("no"));
    else if (!strcmp (s, "always") || !strcmp (s, "unless-stopped"))
        //  Why one value: abbey stops a service only when told to, so
        //  unless-stopped and always mean the same here.
        json_object_set_new (recovery, "restart", json_string ("always"));
    else if (!strncmp (s, "on-failure", 10) && (!s[10] || s[10] == ':')) {
        json_object_set_new (recovery, "restart", json_string ("on-failure"));
        if (s[10]) {
            char *end = NULL;
            max = strtoll (s + 11, &end, 10);
            if (!s[11] || *end || max < 0 || max > 1000000)
                return ab_field_wrong (node, "restart", "on-failure:N with a count", c->diag);
        }
    } else
        return ab_field_wrong (node, "restart", "no, always, on-failure[:N] or unless-stopped",
                               c->diag);
    json_object_set_new (recovery, "max-restarts", json_integer (max));
    return 0;
}

static int
s_deploy (s_ctx_t *c, const ab_ynode_t *node, json_t *svc)
{
    static const char *const keys[]
        = { "replicas",      "resources",       "restart_policy", "mode",          "placement",
            "update_config", "rollback_config", "labels",         "endpoint_mode", NULL };
    if (ab_field_map (node, "deploy", c->diag) || s_keys (c, node, keys, NULL, NULL, " in deploy"))
        return -1;
    int rc = 0;
    const ab_ynode_t *n, *m;
    int64_t v;
    const char *s;
    if ((n = ab_ynode_get (node, "replicas"))
        && (rc |= ab_field_int (n, "replicas", 0, AB_SPEC_MAX_REPLICAS, c->diag, &v)) == 0)
        json_object_set_new (svc, "replicas", json_integer (v));
    if ((n = ab_ynode_get (node, "mode")) && ab_field_string (n, "mode", c->diag, &s) == 0
        && strcmp (s, "replicated"))
        rc = ab_diag_error (c->diag, S_AT (n),
                            "key \"mode\": \"%s\" is not supported by abbey (only replicated); "
                            "ignoring it would change what runs",
                            s);
    const char *warn[] = { "placement", "rollback_config", "labels", "endpoint_mode" };
    for (int i = 0; i < 4; i++)
        if ((n = ab_ynode_get (node, warn[i])))
            ab_diag_warn (c->diag, S_AT (n),
                          "key \"%s\" in deploy: not supported by abbey; ignored", warn[i]);
    if ((n = ab_ynode_get (node, "resources"))) {
        static const char *const rkeys[] = { "limits", "reservations", NULL };
        if (ab_field_map (n, "resources", c->diag)
            || s_keys (c, n, rkeys, NULL, NULL, " in resources"))
            rc = -1;
        else {
            if ((m = ab_ynode_get (n, "reservations")))
                ab_diag_warn (c->diag, S_AT (m),
                              "key \"reservations\" in resources: not supported by abbey; ignored "
                              "(limits are used)");
            if ((m = ab_ynode_get (n, "limits"))) {
                static const char *const lkeys[] = { "cpus", "memory", "pids", NULL };
                json_t *res = json_object_get (svc, "resources");
                const ab_ynode_t *l;
                if (ab_field_map (m, "limits", c->diag)
                    || s_keys (c, m, lkeys, NULL, NULL, " in limits"))
                    rc = -1;
                else {
                    if ((l = ab_ynode_get (m, "cpus"))
                        && (rc |= ab_field_cpu (l, "cpus", c->diag, &v)) == 0)
                        json_object_set_new (res, "cpu-millicores", json_integer (v));
                    if ((l = ab_ynode_get (m, "memory"))
                        && (rc |= ab_field_memory (l, "memory", AB_UNITS_COMPOSE, c->diag, &v))
                               == 0)
                        json_object_set_new (res, "memory-bytes", json_integer (v));
                    if ((l = ab_ynode_get (m, "pids")))
                        ab_diag_warn (c->diag, S_AT (l),
                                      "key \"pids\" in limits: not supported by abbey; ignored");
                }
            }
        }
    }
    if ((n = ab_ynode_get (node, "restart_policy"))) {
        static const char *const pkeys[] = { "condition", "max_attempts", "delay", "window", NULL };
        static const char *const conds[] = { "none", "on-failure", "any", NULL };
        json_t *recovery = json_object_get (svc, "recovery");
        if (ab_field_map (n, "restart_policy", c->diag)
            || s_keys (c, n, pkeys, NULL, NULL, " in restart_policy"))
            rc = -1;
        else {
            if ((m = ab_ynode_get (n, "condition"))
                && (rc |= ab_field_enum (m, "condition", conds, c->diag, &s)) == 0)
                json_object_set_new (recovery, "restart",
                                     json_string (!strcmp (s, "none")  ? "no"
                                                  : !strcmp (s, "any") ? "always"
                                                                       : "on-failure"));
            if ((m = ab_ynode_get (n, "max_attempts"))
                && (rc |= ab_field_int (m, "max_attempts", 0, 1000000, c->diag, &v)) == 0)
                json_object_set_new (recovery, "max-restarts", json_integer (v));
            if ((m = ab_ynode_get (n, "delay"))
                && (rc |= ab_field_duration (m, "delay", c->diag, &v)) == 0)
                json_object_set_new (recovery, "backoff-ms", json_integer (v));
            if ((m = ab_ynode_get (n, "window")))
                ab_diag_warn (c->diag, S_AT (m),
                              "key \"window\" in restart_policy: not supported by abbey; ignored");
        }
    }
    if ((n = ab_ynode_get (node, "update_config"))) {
        static const char *const ukeys[]
            = { "parallelism",       "failure_action", "delay", "monitor",
                "max_failure_ratio", "order",          NULL };
        json_t *update = json_object_get (svc, "update");
        if (ab_field_map (n, "update_config", c->diag)
            || s_keys (c, n, ukeys, NULL, NULL, " in update_config"))
            rc = -1;
        else
            for (size_t i = 0; i < ab_ynode_size (n); i++) {
                const char *k = ab_ynode_key (n, i);
                m = ab_ynode_at (n, i);
                if (!strcmp (k, "parallelism")) {
                    if ((rc |= ab_field_int (m, k, 0, 1000, c->diag, &v)) == 0)
                        json_object_set_new (update, "max-unavailable", json_integer (v));
                } else if (!strcmp (k, "failure_action")) {
                    if (ab_field_string (m, k, c->diag, &s) == 0)
                        json_object_set_new (update, "auto-revert",
                                             json_boolean (!strcmp (s, "rollback")));
                    else
                        rc = -1;
                } else
                    ab_diag_warn (c->diag, S_AT (ab_ynode_key_at (n, i)),
                                  "key \"%s\" in update_config: not supported by abbey; ignored",
                                  k);
            }
    }
    return rc;
}

static int
s_env_file (s_ctx_t *c, const ab_ynode_t *node, json_t *env)
{
    json_t *paths = json_array ();
    int rc = 0;
    if (ab_ynode_kind (node) == AB_YNODE_SEQ)
        for (size_t i = 0; i < ab_ynode_size (node); i++) {
            const ab_ynode_t *item = ab_ynode_at (node, i);
            const char *s;
            bool required = true;
            if (ab_ynode_kind (item) == AB_YNODE_MAP) {
                static const char *const keys[] = { "path", "required", "format", NULL };
                const ab_ynode_t *p = ab_ynode_get (item, "path"),
                                 *r = ab_ynode_get (item, "required");
                if (s_keys (c, item, keys, NULL, NULL, " in env_file") || !p
                    || ab_field_string (p, "path", c->diag, &s)
                    || (r && ab_field_bool (r, "required", c->diag, &required))) {
                    rc = !p ? ab_diag_error (c->diag, S_AT (item),
                                             "key \"env_file\": needs \"path\"")
                            : -1;
                    continue;
                }
            } else if (ab_field_string (item, "env_file", c->diag, &s)) {
                rc = -1;
                continue;
            }
            json_array_append_new (paths, json_pack ("{s:s,s:b,s:o}", "path", s, "required",
                                                     required, "at", ab_field_mark (item)));
        }
    else {
        const char *s;
        if (ab_field_string (node, "env_file", c->diag, &s) == 0)
            json_array_append_new (paths, json_pack ("{s:s,s:b,s:o}", "path", s, "required", true,
                                                     "at", ab_field_mark (node)));
        else
            rc = -1;
    }
    size_t i;
    json_t *p;
    json_array_foreach (paths, i, p)
    {
        const char *path = json_string_value (json_object_get (p, "path"));
        const char *at = json_string_value (json_object_get (p, "at"));
        if (!c->in->read) {
            rc = ab_diag_error_at (c->diag, at, "env_file \"%s\": this caller cannot read files",
                                   path);
            continue;
        }
        //  Relative to the compose file's directory.
        char *dir = strdup (c->in->file ? c->in->file : ".");
        char *full = NULL;
        if (path[0] == '/' || asprintf (&full, "%s/%s", dirname (dir), path) < 0)
            full = strdup (path);
        free (dir);
        ab_error_t *err = NULL;
        size_t size = 0;
        char *text = c->in->read (c->in->read_arg, full, &size, &err);
        if (!text) {
            if (json_is_true (json_object_get (p, "required")))
                rc = ab_diag_error_at (c->diag, at, "env_file \"%s\": %s", path,
                                       err ? ab_error_msg (err) : "cannot be read");
            ab_error_destroy (&err);
            free (full);
            continue;
        }
        json_t *vars = ab_dockercompose_dotenv (full, text, size, c->diag);
        free (text);
        free (full);
        //  environment: wins over env_file, so only fill what is missing.
        const char *k;
        json_t *v;
        json_object_foreach (vars, k, v) if (!json_object_get (env, k)) json_object_set (env, k, v);
        json_decref (vars);
    }
    json_decref (paths);
    return rc;
}

//  One service into svc. marks gets its positions.
static int
s_service (s_ctx_t *c, const char *name, const ab_ynode_t *node, json_t *svc, json_t *marks,
           json_t *networks_out, json_t *stack_secrets)
{
    ab_diag_t *diag = c->diag;
    char where[300];
    snprintf (where, sizeof where, " in service \"%s\"", name);
    int rc = s_keys (c, node, s_service_keys, s_warn_keys, s_refuse_keys, where);
    const ab_ynode_t *n;
    const char *s;
    int64_t v;
    json_t *pmarks = json_array (), *dmarks = json_object ();
    json_object_set_new (marks, "ports", pmarks);
    json_object_set_new (marks, "depends", dmarks);

    if ((n = ab_ynode_get (node, "image")) && (rc |= ab_field_string (n, "image", diag, &s)) == 0)
        json_object_set_new (svc, "image", json_string (s));
    if ((n = ab_ynode_get (node, "build"))) {
        json_t *build = json_object ();
        if (ab_ynode_kind (n) == AB_YNODE_SCALAR) {
            if ((rc |= ab_field_string (n, "build", diag, &s)) == 0)
                json_object_set_new (build, "context", json_string (s));
        } else if (ab_field_map (n, "build", diag) == 0) {
            static const char *const keys[]
                = { "context",    "dockerfile", "args",     "target",    "labels",
                    "cache_from", "network",    "shm_size", "platforms", "secrets",
                    "ssh",        "tags",       NULL };
            const ab_ynode_t *m;
            rc |= s_keys (c, n, keys, NULL, NULL, " in build");
            json_object_set_new (build, "context", json_string ("."));
            if ((m = ab_ynode_get (n, "context"))
                && (rc |= ab_field_string (m, "context", diag, &s)) == 0)
                json_object_set_new (build, "context", json_string (s));
            if ((m = ab_ynode_get (n, "dockerfile"))
                && (rc |= ab_field_string (m, "dockerfile", diag, &s)) == 0)
                json_object_set_new (build, "containerfile", json_string (s));
            if ((m = ab_ynode_get (n, "args"))) {
                json_t *args = s_kv (c, m, "args", false);
                if (args)
                    json_object_set_new (build, "args", args);
                else
                    rc = -1;
            }
            for (size_t i = 0; i < ab_ynode_size (n); i++) {
                const char *k = ab_ynode_key (n, i);
                if (strcmp (k, "context") && strcmp (k, "dockerfile") && strcmp (k, "args")
                    && s_in (k, keys))
                    ab_diag_warn (diag, S_AT (ab_ynode_key_at (n, i)),
                                  "key \"%s\" in build: not supported by abbey yet; recorded "
                                  "builds ignore it",
                                  k);
            }
        } else
            rc = -1;
        json_object_set_new (svc, "build", build);
    }
    if (!ab_ynode_get (node, "image") && !ab_ynode_get (node, "build"))
        rc = ab_diag_error (diag, S_AT (node), "service \"%s\": needs \"image\" or \"build\"",
                            name);
    const char *cmds[] = { "command", "entrypoint" };
    for (int i = 0; i < 2; i++)
        if ((n = ab_ynode_get (node, cmds[i])) && !ab_ynode_is_null (n)) {
            json_t *cmd = ab_field_command (n, cmds[i], diag);
            if (cmd)
                json_object_set_new (svc, cmds[i], cmd);
            else
                rc = -1;
        }
    json_t *env = json_object ();
    if ((n = ab_ynode_get (node, "environment"))) {
        json_decref (env);
        env = s_kv (c, n, "environment", true);
        if (!env) {
            env = json_object ();
            rc = -1;
        }
    }
    if ((n = ab_ynode_get (node, "env_file")))
        rc |= s_env_file (c, n, env);
    json_object_set_new (svc, "env", env);

    json_t *ports = json_array ();
    json_object_set_new (svc, "ports", ports);
    if ((n = ab_ynode_get (node, "ports")) && ab_field_seq (n, "ports", diag) == 0)
        for (size_t i = 0; i < ab_ynode_size (n); i++) {
            const ab_ynode_t *p = ab_ynode_at (n, i);
            rc |= ab_ynode_kind (p) == AB_YNODE_MAP ? s_port_long (c, p, ports, pmarks)
                                                    : s_port_short (c, p, ports, pmarks);
        }
    else if (n)
        rc = -1;
    if ((n = ab_ynode_get (node, "expose")) && ab_field_seq (n, "expose", diag) == 0)
        for (size_t i = 0; i < ab_ynode_size (n); i++) {
            const ab_ynode_t *p = ab_ynode_at (n, i);
            const char *text = ab_ynode_str (p);
            if (text && strchr (text, ':'))
                rc = ab_field_wrong (p, "expose", "a container port like 5432 or \"5432/tcp\"",
                                     diag);
            else
                rc |= s_port_short (c, p, ports, pmarks);
        }
    else if (n)
        rc = -1;

    json_object_set_new (svc, "replicas", json_integer (1));
    if ((n = ab_ynode_get (node, "scale"))
        && (rc |= ab_field_int (n, "scale", 0, AB_SPEC_MAX_REPLICAS, diag, &v)) == 0)
        json_object_set_new (svc, "replicas", json_integer (v));
    json_t *res = json_object ();
    json_object_set_new (svc, "resources", res);
    if ((n = ab_ynode_get (node, "cpus")) && (rc |= ab_field_cpu (n, "cpus", diag, &v)) == 0)
        json_object_set_new (res, "cpu-millicores", json_integer (v));
    if ((n = ab_ynode_get (node, "mem_limit"))
        && (rc |= ab_field_memory (n, "mem_limit", AB_UNITS_COMPOSE, diag, &v)) == 0)
        json_object_set_new (res, "memory-bytes", json_integer (v));
    json_t *recovery
        = json_pack ("{s:s,s:i,s:i}", "restart", "no", "max-restarts", 0, "backoff-ms", 1000);
    json_object_set_new (svc, "recovery", recovery);
    if ((n = ab_ynode_get (node, "restart")))
        rc |= s_restart (c, n, recovery);
    json_object_set_new (
        svc, "update",
        json_pack ("{s:i,s:i,s:b}", "max-unavailable", 1, "max-surge", 1, "auto-revert", false));
    if ((n = ab_ynode_get (node, "deploy")))
        rc |= s_deploy (c, n, svc);
    if ((n = ab_ynode_get (node, "healthcheck")))
        rc |= s_healthcheck (c, n, svc);

    json_t *depends = json_object ();
    json_object_set_new (svc, "depends", depends);
    if ((n = ab_ynode_get (node, "depends_on"))) {
        if (ab_ynode_kind (n) == AB_YNODE_SEQ)
            for (size_t i = 0; i < ab_ynode_size (n); i++) {
                if (ab_field_string (ab_ynode_at (n, i), "depends_on", diag, &s) == 0) {
                    json_object_set_new (depends, s, json_pack ("{s:s}", "condition", "started"));
                    json_object_set_new (dmarks, s, ab_field_mark (ab_ynode_at (n, i)));
                } else
                    rc = -1;
            }
        else if (ab_ynode_kind (n) == AB_YNODE_MAP)
            for (size_t i = 0; i < ab_ynode_size (n); i++) {
                static const char *const keys[] = { "condition", "restart", "required", NULL };
                static const char *const conds[] = { "service_started", "service_healthy", NULL };
                const ab_ynode_t *d = ab_ynode_at (n, i), *m;
                const char *dep = ab_ynode_key (n, i);
                const char *cond = "service_started";
                if (ab_field_map (d, dep, diag)
                    || s_keys (c, d, keys, NULL, NULL, " in depends_on")) {
                    rc = -1;
                    continue;
                }
                if ((m = ab_ynode_get (d, "condition"))
                    && ab_field_enum (m, "condition", conds, diag, &cond)) {
                    rc = -1;
                    continue;
                }
                const char *warn[] = { "restart", "required" };
                for (int k = 0; k < 2; k++)
                    if ((m = ab_ynode_get (d, warn[k])))
                        ab_diag_warn (diag, S_AT (m),
                                      "key \"%s\" in depends_on: not supported by abbey; ignored",
                                      warn[k]);
                json_object_set_new (
                    depends, dep,
                    json_pack ("{s:s}", "condition",
                               strcmp (cond, "service_healthy") ? "started" : "healthy"));
                json_object_set_new (dmarks, dep, ab_field_mark (ab_ynode_key_at (n, i)));
            }
        else
            rc = ab_field_wrong (n, "depends_on", "a list or a map of services", diag);
    }

    json_t *vols = json_array ();
    json_object_set_new (svc, "volumes", vols);
    if ((n = ab_ynode_get (node, "volumes")) && ab_field_seq (n, "volumes", diag) == 0)
        for (size_t i = 0; i < ab_ynode_size (n); i++)
            rc |= s_volume (c, ab_ynode_at (n, i), vols);
    else if (n)
        rc = -1;

    json_t *nets = json_array ();
    if ((n = ab_ynode_get (node, "networks"))) {
        if (ab_ynode_kind (n) == AB_YNODE_SEQ || ab_ynode_kind (n) == AB_YNODE_MAP)
            for (size_t i = 0; i < ab_ynode_size (n); i++) {
                const ab_ynode_t *item = ab_ynode_kind (n) == AB_YNODE_MAP ? ab_ynode_key_at (n, i)
                                                                           : ab_ynode_at (n, i);
                if (ab_field_string (item, "networks", diag, &s)) {
                    rc = -1;
                    continue;
                }
                if (strcmp (s, "default") && !json_object_get (c->declared_networks, s))
                    rc = ab_diag_error (
                        diag, S_AT (item),
                        "network \"%s\" is not declared under the top-level networks:", s);
                json_array_append_new (nets, json_string (s));
                if (ab_ynode_kind (n) == AB_YNODE_MAP && !ab_ynode_is_null (ab_ynode_at (n, i)))
                    ab_diag_warn (
                        diag, S_AT (ab_ynode_at (n, i)),
                        "network \"%s\": aliases and addresses are not supported by abbey; ignored",
                        s);
            }
        else
            rc = ab_field_wrong (n, "networks", "a list or a map of networks", diag);
    } else
        json_array_append_new (nets, json_string ("default"));
    json_object_set_new (svc, "networks", nets);
    size_t ni;
    json_t *net;
    json_array_foreach (nets, ni, net)
        json_object_set_new (networks_out, json_string_value (net), json_object ());

    json_t *labels = json_object ();
    if ((n = ab_ynode_get (node, "labels"))) {
        json_decref (labels);
        labels = s_kv (c, n, "labels", false);
        rc |= labels ? 0 : -1;
    }
    json_object_set_new (svc, "labels", labels ? labels : json_object ());
    const char *strs[][2]
        = { { "user", "user" }, { "working_dir", "working-dir" }, { "hostname", "hostname" } };
    for (int i = 0; i < 3; i++)
        if ((n = ab_ynode_get (node, strs[i][0]))) {
            if (ab_field_string (n, strs[i][0], diag, &s) == 0)
                json_object_set_new (svc, strs[i][1], json_string (s));
            else
                rc = -1;
        }
    if ((n = ab_ynode_get (node, "secrets"))) {
        json_t *list = json_array ();
        if (ab_field_seq (n, "secrets", diag) == 0)
            for (size_t i = 0; i < ab_ynode_size (n); i++) {
                const ab_ynode_t *item = ab_ynode_at (n, i), *m;
                const char *src = NULL, *target = NULL;
                if (ab_ynode_kind (item) == AB_YNODE_MAP) {
                    static const char *const keys[]
                        = { "source", "target", "uid", "gid", "mode", NULL };
                    if (s_keys (c, item, keys, NULL, NULL, " in secrets")
                        || !(m = ab_ynode_get (item, "source"))
                        || ab_field_string (m, "source", diag, &src)) {
                        rc = -1;
                        continue;
                    }
                    if ((m = ab_ynode_get (item, "target"))
                        && ab_field_string (m, "target", diag, &target)) {
                        rc = -1;
                        continue;
                    }
                } else if (ab_field_string (item, "secrets", diag, &src)) {
                    rc = -1;
                    continue;
                }
                if (!json_object_get (c->declared_secrets, src)) {
                    rc = ab_diag_error (
                        diag, S_AT (item),
                        "secret \"%s\" is not declared under the top-level secrets:", src);
                    continue;
                }
                char path[600];
                if (target && target[0] == '/')
                    snprintf (path, sizeof path, "%s", target);
                else
                    snprintf (path, sizeof path, "/run/secrets/%s", target ? target : src);
                json_array_append_new (list,
                                       json_pack ("{s:s,s:s}", "secret", src, "target", path));
                json_object_set (stack_secrets, src, json_object_get (c->declared_secrets, src));
            }
        else
            rc = -1;
        json_object_set_new (svc, "secrets", list);
    }
    return rc;
}

//  --------------------------------------------------------------------------

static bool
s_profile_active (s_ctx_t *c, const ab_ynode_t *profiles)
{
    for (size_t i = 0; i < ab_ynode_size (profiles); i++) {
        const char *p = ab_ynode_str (ab_ynode_at (profiles, i));
        for (size_t k = 0; p && c->in->profiles && c->in->profiles[k]; k++)
            if (!strcmp (p, c->in->profiles[k]) || !strcmp (c->in->profiles[k], "*"))
                return true;
    }
    return false;
}

//  A stack name from a directory name, as compose does: lower case,
//  letters, digits, - and _ only.
static char *
s_project_from_file (const char *file)
{
    char *copy = strdup (file ? file : "");
    if (!copy)
        return NULL;
    char *base = basename (dirname (copy));
    char *out = malloc (strlen (base) + 1), *w = out;
    for (const char *p = base; out && *p && w - out < AB_SPEC_NAME_MAX; p++)
        if (isalnum ((unsigned char)*p) || *p == '-' || *p == '_')
            *w++ = (char)tolower ((unsigned char)*p);
    if (out)
        *w = 0;
    free (copy);
    if (out && (!*out || !ab_spec_name_ok (out))) {
        free (out);
        out = strdup ("default");
    }
    return out;
}

//  Declared top-level volumes/networks/secrets into c and the spec.
static int
s_top (s_ctx_t *c, const ab_ynode_t *doc, const char *key, json_t *declared, json_t *spec_out)
{
    const ab_ynode_t *n = ab_ynode_get (doc, key);
    if (!n || ab_ynode_is_null (n))
        return 0;
    if (ab_field_map (n, key, c->diag))
        return -1;
    int rc = 0;
    for (size_t i = 0; i < ab_ynode_size (n); i++) {
        const char *name = ab_ynode_key (n, i);
        const ab_ynode_t *d = ab_ynode_at (n, i), *m;
        json_t *entry = json_object ();
        if (!ab_ynode_is_null (d) && ab_field_map (d, name, c->diag)) {
            json_decref (entry);
            rc = -1;
            continue;
        }
        if (!strcmp (key, "secrets")) {
            static const char *const keys[] = { "file", "environment", "external", "name", NULL };
            const char *s;
            bool ext = false;
            rc |= ab_ynode_is_null (d) ? 0 : s_keys (c, d, keys, NULL, NULL, " in secrets");
            if ((m = ab_ynode_get (d, "file"))
                && (rc |= ab_field_string (m, "file", c->diag, &s)) == 0)
                json_object_set_new (entry, "file", json_string (s));
            else if ((m = ab_ynode_get (d, "environment"))
                     && (rc |= ab_field_string (m, "environment", c->diag, &s)) == 0)
                json_object_set_new (entry, "environment", json_string (s));
            else if ((m = ab_ynode_get (d, "external"))
                     && (rc |= ab_field_bool (m, "external", c->diag, &ext)) == 0 && ext)
                json_object_set_new (entry, "source", json_string ("cluster"));
            else if (!m)
                rc = ab_diag_error (c->diag, S_AT (d),
                                    "secret \"%s\": needs file, environment or external: true",
                                    name);
        } else {
            static const char *const keys[]
                = { "driver",     "driver_opts", "external", "name",        "labels",
                    "attachable", "internal",    "ipam",     "enable_ipv6", NULL };
            bool ext = false;
            rc |= ab_ynode_is_null (d) ? 0
                                       : s_keys (c, d, keys, NULL, NULL,
                                                 key[0] == 'v' ? " in volumes" : " in networks");
            if ((m = ab_ynode_get (d, "external"))
                && (rc |= ab_field_bool (m, "external", c->diag, &ext)) == 0 && ext)
                json_object_set_new (entry, "external", json_true ());
            for (size_t k = 0; !ab_ynode_is_null (d) && k < ab_ynode_size (d); k++)
                if (strcmp (ab_ynode_key (d, k), "external") && strcmp (ab_ynode_key (d, k), "name")
                    && s_in (ab_ynode_key (d, k), keys))
                    ab_diag_warn (c->diag, S_AT (ab_ynode_key_at (d, k)),
                                  "key \"%s\" in %s \"%s\": not supported by abbey; ignored",
                                  ab_ynode_key (d, k), key, name);
        }
        json_object_set (declared, name, entry);
        if (spec_out)
            json_object_set (spec_out, name, entry);
        json_decref (entry);
    }
    return rc;
}

json_t *
ab_dockercompose_compile (const ab_dockercompose_input_t *in, ab_diag_t *diag)
{
    assert (in && diag);
    size_t before = ab_diag_errors (diag);
    const char *file = in->file ? in->file : "docker-compose.yml";
    s_ctx_t c = { .in = in,
                  .diag = diag,
                  .warned = json_object (),
                  .declared_volumes = json_object (),
                  .declared_networks = json_object (),
                  .declared_secrets = json_object () };
    if (in->dotenv) {
        char *dir = strdup (file);
        char *label = NULL;
        if (!dir || asprintf (&label, "%s/.env", dirname (dir)) < 0)
            label = NULL;
        c.dotenv
            = ab_dockercompose_dotenv (label ? label : ".env", in->dotenv, in->dotenv_size, diag);
        free (label);
        free (dir);
    } else
        c.dotenv = json_object ();
    json_t *spec = NULL;
    ab_error_t *err = NULL;
    ab_ynode_t *raw = ab_yaml_parse (file, in->text, in->size, NULL, &err);
    ab_ynode_t *doc = NULL;
    if (!raw) {
        ab_diag_error_at (diag, NULL, "%s", ab_error_msg (err));
        ab_error_destroy (&err);
        goto done;
    }
    if (ab_field_map (raw, "(document)", diag))
        goto done;
    doc = ab_ynode_map (raw, "", s_interpolate, &c);
    if (!doc)
        goto done;
    static const char *const top_keys[] = { "version", "name",    "services", "volumes", "networks",
                                            "secrets", "configs", "include",  NULL };
    static const char *const top_refuse[] = { "include", NULL };
    s_keys (&c, doc, top_keys, NULL, top_refuse, "");
    const ab_ynode_t *n;
    for (size_t i = 0; i < ab_ynode_size (doc); i++)
        if (!strcmp (ab_ynode_key (doc, i), "version"))
            ab_diag_warn (diag, S_AT (ab_ynode_key_at (doc, i)),
                          "key \"version\": obsolete in the Compose specification; ignored");
    if ((n = ab_ynode_get (doc, "configs")))
        ab_diag_warn (
            diag, S_AT (n),
            "key \"configs\": not supported by abbey; services that use configs are refused");
    char *project = NULL;
    const char *s;
    if (in->project)
        project = strdup (in->project);
    else if ((n = ab_ynode_get (doc, "name")) && ab_field_string (n, "name", diag, &s) == 0)
        project = strdup (s);
    else
        project = s_project_from_file (file);
    if (!project || !ab_spec_name_ok (project))
        ab_diag_error_at (diag, NULL,
                          "stack name \"%s\" is not valid (letters, digits, - _ . up to 63)",
                          project ? project : "");
    spec = json_object ();
    json_t *services = json_object (), *volumes = json_object (), *secrets = json_object (),
           *networks = json_object (), *marks = json_object ();
    char *source = NULL;
    //  Why the base name: the version must not change with the directory
    //  the user happened to deploy from.
    const char *base = strrchr (file, '/') ? strrchr (file, '/') + 1 : file;
    if (asprintf (&source, "compose:%s", base) < 0)
        source = NULL;
    json_object_set_new (spec, "stack", json_string (project ? project : ""));
    json_object_set_new (spec, "source", json_string (source ? source : "compose"));
    free (source);
    free (project);
    json_object_set_new (spec, "services", services);
    json_object_set_new (spec, "volumes", volumes);
    json_object_set_new (spec, "secrets", secrets);
    json_object_set_new (spec, "networks", networks);
    s_top (&c, doc, "volumes", c.declared_volumes, volumes);
    s_top (&c, doc, "networks", c.declared_networks, NULL);
    s_top (&c, doc, "secrets", c.declared_secrets, NULL);

    const ab_ynode_t *svcs = ab_ynode_get (doc, "services");
    json_t *disabled = json_object ();
    if (!svcs)
        ab_diag_error (diag, S_AT (doc),
                       "key \"services\": missing; a compose file needs at least one service");
    else if (ab_field_map (svcs, "services", diag) == 0) {
        if (ab_ynode_size (svcs) > AB_SPEC_MAX_SERVICES)
            ab_diag_error (diag, S_AT (svcs), "more than %d services; limit reached",
                           AB_SPEC_MAX_SERVICES);
        for (size_t i = 0; i < ab_ynode_size (svcs) && i < AB_SPEC_MAX_SERVICES; i++) {
            const char *name = ab_ynode_key (svcs, i);
            const ab_ynode_t *node = ab_ynode_at (svcs, i);
            const ab_ynode_t *keynode = ab_ynode_key_at (svcs, i);
            if (!ab_spec_name_ok (name)) {
                ab_diag_error (diag, S_AT (keynode),
                               "service \"%s\": not a valid name (letters, digits, - _ . up to 63)",
                               name);
                continue;
            }
            if (ab_field_map (node, name, diag))
                continue;
            const ab_ynode_t *profiles = ab_ynode_get (node, "profiles");
            if (profiles) {
                json_t *list = ab_field_strings (profiles, "profiles", false, diag);
                bool active = list && s_profile_active (&c, profiles);
                json_decref (list);
                if (!active) {
                    json_object_set_new (disabled, name, ab_field_mark (profiles));
                    continue;
                }
            }
            json_t *svc = json_object ();
            json_t *m = json_object ();
            json_object_set_new (m, "at", ab_field_mark (keynode));
            json_object_set_new (marks, name, m);
            if (s_service (&c, name, node, svc, m, networks, secrets) == 0)
                json_object_set_new (services, name, svc);
            else
                json_decref (svc);
        }
    }
    //  depends_on a service whose profile is off: compose refuses too.
    const char *name;
    json_t *svc;
    json_object_foreach (services, name, svc)
    {
        const char *dep;
        json_t *d;
        json_object_foreach (json_object_get (svc, "depends"), dep,
                             d) if (json_object_get (disabled, dep))
            ab_diag_error_at (diag,
                              json_string_value (json_object_get (
                                  json_object_get (json_object_get (marks, name), "depends"), dep)),
                              "service \"%s\": depends on \"%s\", which is not enabled (its "
                              "profiles are all inactive)",
                              name, dep);
    }
    json_decref (disabled);
    //  Compose's default network semantics: every service reaches every
    //  other service that shares a network with it, by name.
    json_object_foreach (services, name, svc)
    {
        json_t *conns = json_object ();
        const char *other;
        json_t *osvc;
        json_object_foreach (services, other, osvc)
        {
            if (!strcmp (name, other))
                continue;
            bool shared = false;
            size_t a, b;
            json_t *na, *nb;
            json_array_foreach (json_object_get (svc, "networks"), a, na)
                json_array_foreach (json_object_get (osvc, "networks"), b, nb) shared
                = shared || json_equal (na, nb);
            if (!shared)
                continue;
            //  No port: compose does not say which port a service uses, so
            //  the connection allows all of the target's ports.
            json_object_set_new (conns, other, json_pack ("{s:s}", "target", other));
        }
        json_object_set_new (svc, "connections", conns);
    }
    if (ab_diag_errors (diag) == before)
        ab_spec_check (spec, marks, diag);
    json_decref (marks);
    if (ab_diag_errors (diag) == before)
        ab_spec_seal (spec);
done:
    ab_ynode_destroy (&raw);
    ab_ynode_destroy (&doc);
    json_decref (c.dotenv);
    json_decref (c.warned);
    json_decref (c.declared_volumes);
    json_decref (c.declared_networks);
    json_decref (c.declared_secrets);
    if (ab_diag_errors (diag) > before) {
        json_decref (spec);
        return NULL;
    }
    return spec;
}

//  --------------------------------------------------------------------------
//  Selftest: the examples against golden files, and each class of mistake.

#include "ab_golden.h"

static char *
s_test_read (void *arg, const char *path, size_t *size, ab_error_t **err)
{
    json_t *files = arg;
    const char *text = json_string_value (json_object_get (files, path));
    if (!text) {
        ab_error_set (err, AB_E_NOT_FOUND, "no such file");
        return NULL;
    }
    *size = strlen (text);
    return strdup (text);
}

//  Compile an example; file is relative to compose/.
static json_t *
s_example (const char *rel, const char *const *environ, const char *const *profiles,
           ab_diag_t *diag)
{
    char envpath[512];
    snprintf (envpath, sizeof envpath, "%s", rel);
    char *slash = strrchr (envpath, '/');
    snprintf (slash + 1, sizeof envpath - (size_t)(slash + 1 - envpath), ".env");
    ab_dockercompose_input_t in = { .file = rel, .environ = environ, .profiles = profiles };
    char *text = ab_golden_read (rel, &in.size);
    char *dotenv = ab_golden_read (envpath, &in.dotenv_size);
    assert (text);
    in.text = text;
    in.dotenv = dotenv;
    json_t *spec = ab_dockercompose_compile (&in, diag);
    if (!spec)
        for (size_t i = 0; i < ab_diag_size (diag); i++)
            fprintf (stderr, "  %s\n", ab_diag_text (diag, i));
    free (text);
    free (dotenv);
    return spec;
}

static json_t *
s_compile_text (const char *text, const char *const *environ, ab_diag_t *diag)
{
    ab_dockercompose_input_t in
        = { .file = "app/compose.yaml", .text = text, .size = strlen (text), .environ = environ };
    return ab_dockercompose_compile (&in, diag);
}

void
ab_dockercompose_test (bool verbose)
{
    printf (" * ab_dockercompose: ");
    //  .env parsing.
    ab_diag_t *diag = ab_diag_new ();
    const char *dotenv
        = "# comment\nexport A=1\nB = 'two words' \nC=\"x\\ny\"\nD=plain # note\nE=\n\nbad line\n";
    json_t *vars = ab_dockercompose_dotenv (".env", dotenv, strlen (dotenv), diag);
    assert (!strcmp (json_string_value (json_object_get (vars, "A")), "1"));
    assert (!strcmp (json_string_value (json_object_get (vars, "B")), "two words"));
    assert (!strcmp (json_string_value (json_object_get (vars, "C")), "x\ny"));
    assert (!strcmp (json_string_value (json_object_get (vars, "D")), "plain"));
    assert (!strcmp (json_string_value (json_object_get (vars, "E")), ""));
    assert (ab_diag_has (diag, ".env:8:1: expected KEY=VALUE, got \"bad line\""));
    json_decref (vars);
    vars = ab_dockercompose_dotenv (".env", "A=1\0B=2", 7, diag);
    assert (json_object_size (vars) == 0 && ab_diag_has (diag, ".env:1:1: file contains a NUL"));
    json_decref (vars);
    ab_diag_destroy (&diag);

    //  1. Web app + db + cache, with .env; the shell environment wins.
    diag = ab_diag_new ();
    const char *env1[] = { "WEB_TAG=2.0.0", NULL };
    json_t *web = s_example ("examples/webapp/docker-compose.yml", env1, NULL, diag);
    assert (web);
    ab_golden_check (web, "testdata/webapp.json");
    json_t *svcs = json_object_get (web, "services");
    json_t *w = json_object_get (svcs, "web");
    assert (!strcmp (json_string_value (json_object_get (w, "image")), "example/web:2.0.0"));
    assert (
        !strcmp (json_string_value (json_object_get (json_object_get (w, "env"), "DATABASE_URL")),
                 "postgres://app:s3cret@db:5432/app"));
    assert (json_integer_value (json_object_get (json_object_get (w, "resources"), "memory-bytes"))
            == 512LL << 20);
    assert (!strcmp (json_string_value (json_object_get (
                         json_object_get (json_object_get (w, "depends"), "db"), "condition")),
                     "healthy"));
    //  Default network semantics: web reaches db and cache over "back".
    assert (json_object_get (json_object_get (w, "connections"), "db"));
    assert (!json_object_get (json_object_get (json_object_get (w, "connections"), "db"), "port"));
    assert (
        json_object_get (json_object_get (json_object_get (svcs, "cache"), "connections"), "web"));
    assert (
        !json_object_get (json_object_get (json_object_get (svcs, "db"), "connections"), "nope"));
    if (verbose)
        for (size_t i = 0; i < ab_diag_size (diag); i++)
            printf ("\n  %s", ab_diag_text (diag, i));
    assert (ab_diag_has (diag, "examples/webapp/docker-compose.yml:40:5: key \"logging\" in "
                               "service \"web\": not supported by abbey; ignored"));
    assert (ab_diag_errors (diag) == 0);
    json_t *cache = json_object_get (svcs, "cache");
    assert (
        json_integer_value (json_object_get (json_object_get (cache, "recovery"), "max-restarts"))
        == 5);
    ab_diag_destroy (&diag);

    //  2. Worker queue; LOG_LEVEL comes from the caller's environment.
    diag = ab_diag_new ();
    const char *env2[] = { "LOG_LEVEL=debug", NULL };
    json_t *worker = s_example ("examples/worker/docker-compose.yml", env2, NULL, diag);
    assert (worker);
    ab_golden_check (worker, "testdata/worker.json");
    assert (!strcmp (json_string_value (json_object_get (worker, "stack")), "worker"));
    json_t *wk = json_object_get (json_object_get (worker, "services"), "worker");
    assert (json_integer_value (json_object_get (wk, "replicas")) == 4);
    assert (json_array_size (json_object_get (wk, "command")) == 4);
    assert (!strcmp (json_string_value (json_array_get (json_object_get (wk, "command"), 3)), "4"));
    json_decref (worker);
    ab_diag_destroy (&diag);

    //  3. Profiles and x- fields: off by default, on when asked.
    diag = ab_diag_new ();
    json_t *plain = s_example ("examples/profiles/docker-compose.yml", NULL, NULL, diag);
    assert (plain);
    ab_golden_check (plain, "testdata/profiles.json");
    assert (json_object_size (json_object_get (plain, "services")) == 2);
    assert (ab_diag_has (diag, "key \"version\": obsolete"));
    json_t *fe = json_object_get (json_object_get (plain, "services"), "frontend");
    assert (
        !strcmp (json_string_value (json_object_get (json_object_get (fe, "env"), "TZ")), "UTC"));
    assert (
        !strcmp (json_string_value (json_object_get (json_object_get (fe, "recovery"), "restart")),
                 "always"));
    const char *debug[] = { "debug", NULL };
    json_t *dbg = s_example ("examples/profiles/docker-compose.yml", NULL, debug, diag);
    assert (dbg && json_object_size (json_object_get (dbg, "services")) == 4);
    assert (
        ab_diag_has (diag, "key \"tty\" in service \"debugger\": not supported by abbey; ignored"));
    json_t *diff = ab_spec_diff (plain, dbg);
    char *text = ab_spec_diff_text (diff);
    assert (strstr (text, "+ service adminer\n+ service debugger\n"));
    free (text);
    json_decref (diff);
    json_decref (dbg);
    json_decref (plain);
    ab_diag_destroy (&diag);

    //  Determinism: the same input, byte-identical output.
    diag = ab_diag_new ();
    json_t *again = s_example ("examples/webapp/docker-compose.yml", env1, NULL, diag);
    char *a = ab_spec_canonical (web), *b = ab_spec_canonical (again);
    assert (strcmp (a, b) == 0);
    free (a);
    free (b);
    json_decref (again);
    json_decref (web);
    ab_diag_destroy (&diag);

    //  4. Mistakes, each with its message and position.
    struct {
        const char *text;
        const char *expect;
    } cases[] = {
        { "services:\n  web:\n    image: x\n    privileged: true\n",
          "app/compose.yaml:4:5: key \"privileged\" in service \"web\": not supported by abbey, "
          "and ignoring it would change what runs" },
        { "services:\n  web:\n    image: x\n    enviroment: {A: 1}\n",
          "app/compose.yaml:4:5: key \"enviroment\" in service \"web\": unknown key (did you mean "
          "\"environment\"?)" },
        { "services:\n  web:\n    image: x\n    environment:\n      PW: ${PW?set PW first}\n",
          "app/compose.yaml:5:11: variable PW is required: set PW first" },
        { "services:\n  web:\n    image: x\n    volumes: [data:/d]\n",
          "app/compose.yaml:4:15: volume \"data\" is not declared under the top-level volumes:" },
        { "services:\n  a:\n    image: x\n    ports: [\"80:80\"]\n  b:\n    image: y\n    ports: "
          "[\"80:8080\"]\n",
          "app/compose.yaml:7:13: service \"b\": host port 80/tcp is already published by service "
          "\"a\" in this stack" },
        { "services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: y\n    depends_on: "
          "[a]\n",
          "service \"b\": depends cycle: a -> b -> a" },
        { "services:\n  a:\n    image: x\n    depends_on: [dbg]\n  dbg:\n    image: y\n    "
          "profiles: [debug]\n",
          "app/compose.yaml:4:18: service \"a\": depends on \"dbg\", which is not enabled" },
        { "services:\n  a:\n    image: x\n    depends_on: [nope]\n",
          "app/compose.yaml:4:18: service \"a\": depends on \"nope\", which is not a service of "
          "this stack" },
        { "services:\n  a:\n    image: x\n    deploy:\n      resources:\n        limits: {memory: "
          "lots}\n",
          "app/compose.yaml:6:26: key \"memory\": \"lots\" is not a memory size" },
        { "services:\n  a:\n    image: x\n    healthcheck: {test: [CMD], interval: 5}\n",
          "app/compose.yaml:4:25: key \"test\": expected [\"CMD\", …]" },
        { "services:\n  a:\n    image: x\n    ports: [\"99999:80\"]\n",
          "app/compose.yaml:4:13: key \"ports\": expected a port like 80" },
        { "services:\n  a:\n    image: x\n    restart: sometimes\n",
          "app/compose.yaml:4:14: key \"restart\": expected no, always, on-failure[:N] or "
          "unless-stopped, got \"sometimes\"" },
        { "services:\n  a:\n    command: run\n",
          "app/compose.yaml:3:5: service \"a\": needs \"image\" or \"build\"" },
        { "services:\n  a:\n    image: x\n    env_file: a.env\n",
          "app/compose.yaml:4:15: env_file \"a.env\": this caller cannot read files" },
        { "services:\n  a:\n    image: x\n    deploy: {mode: global}\n",
          "app/compose.yaml:4:20: key \"mode\": \"global\" is not supported by abbey" },
        { "include: [other.yaml]\nservices:\n  a: {image: x}\n",
          "app/compose.yaml:1:1: key \"include\": not supported by abbey, and ignoring it would "
          "change what runs" },
        { "services:\n  a:\n    image: \"${X\"\n", "has no closing \"}\"" },
        { "services: [a]\n",
          "app/compose.yaml:1:11: key \"services\": expected a map, got a list" },
        { "name: Bad/Name\nservices:\n  a: {image: x}\n", "stack name \"Bad/Name\" is not valid" },
        { "services:\n  a:\n    image: x\n    networks: [back]\n",
          "app/compose.yaml:4:16: network \"back\" is not declared under the top-level networks:" },
        { "services:\n  a:\n    image: x\n    secrets: [pw]\n",
          "app/compose.yaml:4:15: secret \"pw\" is not declared under the top-level secrets:" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        diag = ab_diag_new ();
        json_t *spec = s_compile_text (cases[i].text, NULL, diag);
        if (spec || !ab_diag_has (diag, cases[i].expect)) {
            fprintf (stderr, "case %zu: expected \"%s\", got:\n", i, cases[i].expect);
            for (size_t k = 0; k < ab_diag_size (diag); k++)
                fprintf (stderr, "  %s\n", ab_diag_text (diag, k));
            assert (false);
        }
        if (verbose)
            printf ("\n  %s", cases[i].expect);
        ab_diag_destroy (&diag);
    }

    //  5. Substitution forms, env_file through the caller, build recorded.
    diag = ab_diag_new ();
    const char *env3[] = { "SET=yes", "EMPTY=", NULL };
    const char *subst
        = "services:\n  a:\n    image: \"x:${TAG:-1.0}\"\n    environment:\n      A: "
          "${EMPTY:-dflt}\n      B: ${EMPTY-dflt}\n      C: ${SET:+alt}\n      D: $$HOME\n      E: "
          "${UNSET}\n      F: ${UNSET:-${SET}}\n      G: $SET-$\n    env_file: [a.env]\n    build: "
          "{context: ./src, dockerfile: Containerfile, args: [V=1]}\n";
    json_t *files = json_pack ("{s:s}", "app/a.env", "A=from-file\nH=from-file\n");
    ab_dockercompose_input_t in = { .file = "app/compose.yaml",
                                    .text = subst,
                                    .size = strlen (subst),
                                    .environ = env3,
                                    .read = s_test_read,
                                    .read_arg = files,
                                    .project = "subst" };
    json_t *spec = ab_dockercompose_compile (&in, diag);
    assert (spec);
    json_t *sa = json_object_get (json_object_get (spec, "services"), "a");
    json_t *env = json_object_get (sa, "env");
    assert (!strcmp (json_string_value (json_object_get (sa, "image")), "x:1.0"));
    assert (!strcmp (json_string_value (json_object_get (env, "A")), "dflt"));
    assert (!strcmp (json_string_value (json_object_get (env, "B")), ""));
    assert (!strcmp (json_string_value (json_object_get (env, "C")), "alt"));
    assert (!strcmp (json_string_value (json_object_get (env, "D")), "$HOME"));
    assert (!strcmp (json_string_value (json_object_get (env, "E")), ""));
    assert (!strcmp (json_string_value (json_object_get (env, "F")), "yes"));
    assert (!strcmp (json_string_value (json_object_get (env, "G")), "yes-$"));
    assert (!strcmp (json_string_value (json_object_get (env, "H")), "from-file"));
    assert (ab_diag_has (
        diag, "app/compose.yaml:9:10: variable UNSET is not set; substituting an empty string"));
    assert (!strcmp (
        json_string_value (json_object_get (json_object_get (sa, "build"), "containerfile")),
        "Containerfile"));
    ab_error_t *err = NULL;
    assert (ab_spec_deployable (spec, &err) < 0);
    assert (strstr (err->msg, "builder does not exist yet"));
    ab_error_destroy (&err);
    json_decref (spec);
    json_decref (files);
    ab_diag_destroy (&diag);

    //  Port forms: ranges, host ip, udp, long syntax.
    diag = ab_diag_new ();
    spec = s_compile_text ("services:\n  a:\n    image: x\n    ports: [\"127.0.0.1:53:53/udp\", "
                           "\"9000-9002:9100-9102\", 80, {target: 81, published: 8081}]\n",
                           NULL, diag);
    assert (spec);
    json_t *ports
        = json_object_get (json_object_get (json_object_get (spec, "services"), "a"), "ports");
    assert (json_array_size (ports) == 6);
    text = json_dumps (json_array_get (ports, 0), JSON_SORT_KEYS | JSON_COMPACT);
    assert (!strcmp (
        text, "{\"container\":53,\"host\":53,\"host-ip\":\"127.0.0.1\",\"protocol\":\"udp\"}"));
    free (text);
    assert (json_integer_value (json_object_get (json_array_get (ports, 3), "host")) == 9002);
    assert (json_integer_value (json_object_get (json_array_get (ports, 3), "container")) == 9102);
    json_decref (spec);

    //  Networks segment: only services sharing a network are connected.
    spec = s_compile_text (
        "services:\n  a: {image: x, networks: [n1]}\n  b: {image: y, networks: [n2]}\n  c: {image: "
        "z, networks: [n1, n2]}\nnetworks: {n1: {}, n2: {}}\n",
        NULL, diag);
    assert (spec);
    json_t *conns = json_object_get (json_object_get (json_object_get (spec, "services"), "a"),
                                     "connections");
    assert (json_object_get (conns, "c") && !json_object_get (conns, "b"));
    json_decref (spec);
    ab_diag_destroy (&diag);
    printf ("OK\n");
}
