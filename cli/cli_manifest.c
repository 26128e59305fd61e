/*  cli_manifest - manifests from disk or the log into a normalized spec    */
#include "cli_manifest.h"
#include "ab_dockercompose.h"
#include "ab_kit.h"
#include "ab_spec.h"
#include "ab_yaml.h"

#include <assert.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

extern char **environ;

int
cli_manifest_option (cli_manifest_t *self, int c, const char *arg, ab_error_t **err)
{
    assert (self);
    switch (c) {
    case 'N':
        if (!ab_spec_name_ok (arg))
            return ab_error_set (err, AB_E_USAGE,
                                 "--name: '%s' is not a stack name (1 to 63 of letters, "
                                 "digits, - _ ., starting with a letter or digit)",
                                 arg);
        self->name = arg;
        return 1;
    case 'S':
        if (self->nsets == CLI_MANIFEST_MAX)
            return ab_error_set (err, AB_E_USAGE, "at most %d --set options", CLI_MANIFEST_MAX);
        if (!strchr (arg, '=') || !strchr (arg, '.') || strchr (arg, '.') > strchr (arg, '='))
            return ab_error_set (err, AB_E_USAGE,
                                 "--set: expected SERVICE.VARIABLE=VALUE, got '%s'", arg);
        self->sets[self->nsets++] = arg;
        return 1;
    case 'V':
        if (self->values)
            return ab_error_set (err, AB_E_USAGE, "--values: give one values file");
        self->values = arg;
        return 1;
    case 'f':
        if (self->compose)
            return ab_error_set (err, AB_E_USAGE,
                                 "-f: give one compose file (abbey does not merge several)");
        self->compose = arg;
        return 1;
    case 'P':
        if (self->nprofiles == CLI_MANIFEST_MAX)
            return ab_error_set (err, AB_E_USAGE, "at most %d --profile options", CLI_MANIFEST_MAX);
        self->profiles[self->nprofiles++] = arg;
        self->profiles[self->nprofiles] = NULL;
        return 1;
    default:
        return 0;
    }
}

int
cli_manifest_arg (cli_manifest_t *self, const char *arg, ab_error_t **err)
{
    assert (self);
    struct stat st;
    if (stat (arg, &st) == 0) {
        if (self->ninputs == CLI_MANIFEST_MAX)
            return ab_error_set (err, AB_E_USAGE, "at most %d files", CLI_MANIFEST_MAX);
        self->inputs[self->ninputs++] = arg;
        return 0;
    }
    if (self->target)
        return ab_error_set (err, AB_E_USAGE,
                             "'%s' and '%s': neither names a file; give one kit NAME", self->target,
                             arg);
    self->target = arg;
    return 0;
}

//  Read a whole file; NULL and the reason in diag.
static char *
s_read_file (const char *path, size_t *size, ab_diag_t *diag)
{
    FILE *f = fopen (path, "rb");
    if (!f) {
        ab_diag_error_at (diag, path, "cannot read: %s", strerror (errno));
        return NULL;
    }
    //  One byte past the YAML limit is enough to know it is too big.
    size_t cap = AB_YAML_MAX_SIZE + 1;
    char *buf = malloc (cap + 1);
    assert (buf);
    size_t n = fread (buf, 1, cap, f);
    bool bad = ferror (f);
    fclose (f);
    if (bad) {
        ab_diag_error_at (diag, path, "cannot read: %s", strerror (errno));
        free (buf);
        return NULL;
    }
    if (n > AB_YAML_MAX_SIZE) {
        ab_diag_error_at (diag, path, "file is larger than the %d-byte limit of a manifest",
                          AB_YAML_MAX_SIZE);
        free (buf);
        return NULL;
    }
    buf[n] = 0;
    *size = n;
    return buf;
}

static bool
s_is_compose (const char *path, const char *text, size_t size)
{
    ab_error_t *err = NULL;
    ab_ynode_t *root = ab_yaml_parse (path, text, size, NULL, &err);
    ab_error_destroy (&err);
    if (!root) {
        //  Not YAML at all: the loader its name suggests says where.
        const char *base = strrchr (path, '/') ? strrchr (path, '/') + 1 : path;
        return strstr (base, "compose") != NULL;
    }
    const ab_ynode_t *services = ab_ynode_get (root, "services");
    bool compose
        = services && ab_ynode_kind (services) == AB_YNODE_MAP && !ab_ynode_get (root, "namespace");
    ab_ynode_destroy (&root);
    return compose;
}

static int
s_add_doc (cli_doc_t **docs, size_t *n, const char *path, ab_diag_t *diag)
{
    size_t size = 0;
    char *text = s_read_file (path, &size, diag);
    if (!text)
        return -1;
    *docs = realloc (*docs, (*n + 1) * sizeof **docs);
    assert (*docs);
    cli_doc_t *doc = &(*docs)[(*n)++];
    doc->path = strdup (path);
    doc->text = text;
    doc->size = size;
    doc->compose = s_is_compose (path, text, size);
    return 0;
}

static bool
s_ends_with (const char *s, const char *suffix)
{
    size_t a = strlen (s), b = strlen (suffix);
    return a >= b && strcmp (s + a - b, suffix) == 0;
}

static int
s_name_cmp (const void *a, const void *b)
{
    return strcmp (*(char *const *)a, *(char *const *)b);
}

//  dir/name, without doubling a slash the user typed ("examples/").
static char *
s_join (const char *dir, const char *name)
{
    size_t len = strlen (dir);
    while (len > 1 && dir[len - 1] == '/')
        len--;
    char *path = NULL;
    if (asprintf (&path, "%.*s/%s", (int)len, dir, name) < 0)
        path = NULL;
    assert (path);
    return path;
}

//  A directory: its kit files in name order, else its compose file.
static int
s_add_dir (cli_doc_t **docs, size_t *n, const char *dir, ab_diag_t *diag)
{
    DIR *d = opendir (dir);
    if (!d)
        return ab_diag_error_at (diag, dir, "cannot read directory: %s", strerror (errno));
    char **names = NULL;
    size_t count = 0;
    struct dirent *de;
    while ((de = readdir (d))) {
        if (de->d_name[0] == '.'
            || !(s_ends_with (de->d_name, ".kit.yaml") || s_ends_with (de->d_name, ".kit.yml")))
            continue;
        names = realloc (names, (count + 1) * sizeof *names);
        assert (names);
        names[count++] = strdup (de->d_name);
    }
    closedir (d);
    int rc = 0;
    if (count) {
        qsort (names, count, sizeof *names, s_name_cmp);
        for (size_t i = 0; i < count; i++) {
            char *path = s_join (dir, names[i]);
            rc |= s_add_doc (docs, n, path, diag);
            free (path);
            free (names[i]);
        }
        free (names);
        return rc;
    }
    free (names);
    static const char *composes[]
        = { "compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml" };
    for (size_t i = 0; i < sizeof composes / sizeof composes[0]; i++) {
        char *path = s_join (dir, composes[i]);
        struct stat st;
        if (stat (path, &st) == 0) {
            rc = s_add_doc (docs, n, path, diag);
            free (path);
            return rc;
        }
        free (path);
    }
    return ab_diag_error_at (diag, dir,
                             "no kit files (*.kit.yaml) and no compose file (compose.yaml, "
                             "docker-compose.yml) in this directory");
}

ssize_t
cli_docs_read (const char *const *paths, size_t n, cli_doc_t **docs_out, ab_diag_t *diag)
{
    assert (docs_out);
    cli_doc_t *docs = NULL;
    size_t count = 0;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (stat (paths[i], &st) == 0 && S_ISDIR (st.st_mode))
            rc |= s_add_dir (&docs, &count, paths[i], diag);
        else
            rc |= s_add_doc (&docs, &count, paths[i], diag);
    }
    (void)rc; //  each failure is in diag; the documents read are kept
    *docs_out = docs;
    return (ssize_t)count;
}

void
cli_docs_free (cli_doc_t **docs_p, size_t n)
{
    assert (docs_p);
    for (size_t i = 0; *docs_p && i < n; i++) {
        free ((*docs_p)[i].path);
        free ((*docs_p)[i].text);
    }
    free (*docs_p);
    *docs_p = NULL;
}

//  env_file: reads for the compose compiler.
static char *
s_compose_read (void *arg, const char *path, size_t *size, ab_error_t **err)
{
    (void)arg;
    ab_diag_t *diag = ab_diag_new ();
    char *text = s_read_file (path, size, diag);
    if (!text)
        ab_error_set (err, AB_E_IO, "%s", ab_diag_text (diag, 0));
    ab_diag_destroy (&diag);
    return text;
}

//  The stack name compose would take from the file's directory, for a path
//  whose directory part says nothing ("docker-compose.yml", "./x.yml"):
//  docker compose names the project after the real directory then. NULL
//  when the compiler's own rule (top-level name:, the path's directory) works.
static char *
s_project (const cli_doc_t *doc)
{
    char *copy = strdup (doc->path);
    assert (copy);
    const char *dir = dirname (copy);
    bool vague = !strcmp (dir, ".") || !strcmp (dir, "..");
    char *real = vague ? realpath (dir, NULL) : NULL;
    free (copy);
    ab_ynode_t *root = real ? ab_yaml_parse (doc->path, doc->text, doc->size, NULL, NULL) : NULL;
    char *out = NULL;
    if (real && !(root && ab_ynode_get (root, "name"))) {
        const char *base = strrchr (real, '/') ? strrchr (real, '/') + 1 : real;
        out = calloc (1, AB_SPEC_NAME_MAX + 1);
        assert (out);
        //  As compose does: lower case, letters, digits, - and _ only.
        for (size_t n = 0; *base && n < AB_SPEC_NAME_MAX; base++)
            if (isalnum ((unsigned char)*base) || *base == '-' || *base == '_')
                out[n++] = (char)tolower ((unsigned char)*base);
        if (!ab_spec_name_ok (out)) {
            free (out);
            out = NULL;
        }
    }
    ab_ynode_destroy (&root);
    free (real);
    return out;
}

json_t *
cli_manifest_compose (const cli_doc_t *doc, const char *name, const char *const *profiles,
                      ab_diag_t *diag)
{
    assert (doc);
    char *copy = strdup (doc->path);
    assert (copy);
    char *dotenv_path = NULL;
    if (asprintf (&dotenv_path, "%s/.env", dirname (copy)) < 0)
        dotenv_path = NULL;
    free (copy);
    assert (dotenv_path);
    char *dotenv = NULL;
    size_t dotenv_size = 0;
    struct stat st;
    if (stat (dotenv_path, &st) == 0 && !(dotenv = s_read_file (dotenv_path, &dotenv_size, diag))) {
        free (dotenv_path);
        return NULL;
    }
    char *project = name ? NULL : s_project (doc);
    ab_dockercompose_input_t input = {
        .file = doc->path,
        .text = doc->text,
        .size = doc->size,
        .dotenv = dotenv,
        .dotenv_size = dotenv_size,
        .environ = (const char *const *)environ,
        .profiles = profiles && profiles[0] ? profiles : NULL,
        .project = name ? name : project,
        .read = s_compose_read,
        .read_arg = NULL,
    };
    json_t *spec = ab_dockercompose_compile (&input, diag);
    free (project);
    free (dotenv);
    free (dotenv_path);
    return spec;
}

json_t *
cli_manifest_compile (const cli_manifest_t *self, cli_replay_t *replay, ab_diag_t *diag,
                      ab_error_t **err)
{
    assert (self && replay && diag);
    if (!self->ninputs && !self->compose && !self->target) {
        ab_error_set (err, AB_E_USAGE, "nothing to compile: give FILE, DIR, -f FILE or NAME");
        return NULL;
    }
    cli_doc_t *docs = NULL;
    ssize_t ndocs = cli_docs_read (self->inputs, self->ninputs, &docs, diag);
    if (self->compose) {
        cli_doc_t *more = NULL;
        ssize_t nmore = cli_docs_read (&self->compose, 1, &more, diag);
        if (nmore == 1) {
            docs = realloc (docs, ((size_t)ndocs + 1) * sizeof *docs);
            assert (docs);
            docs[ndocs] = more[0];
            docs[ndocs++].compose = true; //  -f says so, whatever it looks like
            free (more);
        } else {
            if (nmore > 1)
                ab_diag_error_at (diag, self->compose,
                                  "-f: expected a docker-compose file, found kit files");
            cli_docs_free (&more, (size_t)nmore);
        }
    }
    if (ab_diag_errors (diag)) {
        cli_docs_free (&docs, (size_t)ndocs);
        return NULL;
    }
    const cli_doc_t *compose = NULL, *kit = NULL;
    for (ssize_t i = 0; i < ndocs; i++) {
        if (!docs[i].compose) {
            kit = kit ? kit : &docs[i];
            continue;
        }
        if (compose)
            ab_diag_error_at (diag, docs[i].path,
                              "a second docker-compose file (after %s): give one; abbey does "
                              "not merge compose files",
                              compose->path);
        compose = compose ? compose : &docs[i];
    }
    json_t *spec = NULL;
    if (compose && kit)
        ab_diag_error_at (diag, kit->path,
                          "a kit file beside the docker-compose file %s: deploy one kind at "
                          "a time",
                          compose->path);
    else if (compose && (self->nsets || self->values))
        ab_diag_error_at (diag, compose->path,
                          "--set and --values apply to kits; a docker-compose file takes its "
                          "variables from the environment and .env");
    else if (compose && self->target)
        ab_diag_error_at (diag, NULL,
                          "'%s': no such file (a docker-compose file has no kit names; "
                          "--name sets the stack name)",
                          self->target);
    else if (compose && ab_diag_errors (diag) == 0)
        spec = cli_manifest_compose (compose, self->name, self->profiles, diag);
    else if (!compose && self->nprofiles)
        ab_diag_error_at (diag, NULL, "--profile applies to docker-compose files");
    else if (!compose && !kit && self->target && !strchr (self->target, '/'))
        ab_error_set (err, AB_E_NOT_FOUND,
                      "'%s': no such file or directory (a published kit is named "
                      "NAMESPACE/NAME, like shop/app)",
                      self->target);
    else if (!compose) {
        ab_kit_t *kits = ab_kit_new ();
        ab_kit_set_lookup (kits, cli_replay_kit_lookup, replay);
        for (ssize_t i = 0; i < ndocs; i++)
            ab_kit_load (kits, docs[i].path, docs[i].text, docs[i].size, diag);
        if (self->values) {
            size_t size = 0;
            char *text = s_read_file (self->values, &size, diag);
            if (text)
                ab_kit_values (kits, self->values, text, size, diag);
            free (text);
        }
        for (size_t i = 0; i < self->nsets; i++)
            ab_kit_set (kits, self->sets[i], diag);
        if (ab_diag_errors (diag) == 0)
            spec = ab_kit_compile (kits, self->target, self->name, diag);
        ab_kit_destroy (&kits);
    }
    cli_docs_free (&docs, (size_t)ndocs);
    if (spec && ab_diag_errors (diag)) {
        json_decref (spec);
        spec = NULL;
    }
    return spec;
}

size_t
cli_diag_print (const ab_diag_t *diag)
{
    size_t errors = 0;
    assert (diag);
    //  The compilers may meet one mistake twice (a definition used by two
    //  stacks); the user needs it once.
    json_t *seen = json_object ();
    for (size_t i = 0; i < ab_diag_size (diag); i++) {
        const char *text = ab_diag_text (diag, i);
        if (json_object_get (seen, text))
            continue;
        json_object_set_new (seen, text, json_true ());
        errors += ab_diag_severity (diag, i) == AB_DIAG_ERROR;
        fprintf (stderr, "%s%s\n", ab_diag_severity (diag, i) == AB_DIAG_WARNING ? "warning: " : "",
                 text);
    }
    json_decref (seen);
    //  Past the cap the diag keeps one "too many" line: count them all then.
    return ab_diag_errors (diag) > AB_DIAG_MAX ? ab_diag_errors (diag) : errors;
}
