/*  cli_manifest - what deploy, diff, validate and kit load read: kit files,
    directories of them, docker-compose files and published kit names,
    compiled with compose/ into a normalized spec.

    A FILE is a docker-compose file when its top level has a `services:`
    map and no `namespace:` (detected by content, whatever its name), else a
    kit document. A DIR means every `*.kit.yaml` / `*.kit.yml` in it, or if
    it has none, its compose file (compose.yaml, compose.yml,
    docker-compose.yaml, docker-compose.yml). An argument that names no file
    is the NAME of the kit to deploy (`shop/app`, or `app` among the files).

    Rules of the API:
    - Problems with the manifests (unreadable files, YAML, kit and compose
      errors) go to the diag as file:line:col lines; the functions go on to
      find them all. Usage problems come back as AB_E_USAGE errors.
    - A cli_manifest_t borrows the strings given to it (argv).            */
#ifndef CLI_MANIFEST_H
#define CLI_MANIFEST_H

#include "ab_diag.h"
#include "cli_replay.h"
#include <getopt.h>
#include <jansson.h>

#define CLI_MANIFEST_MAX 64 //  files, --set and --profile options each

//  The compile options deploy and diff share, for their getopt tables.
// clang-format off
#define CLI_MANIFEST_OPTIONS                                                                       \
    { "name", required_argument, NULL, 'N' }, { "set", required_argument, NULL, 'S' },             \
    { "values", required_argument, NULL, 'V' }, { "file", required_argument, NULL, 'f' },          \
    { "profile", required_argument, NULL, 'P' }
// clang-format on

//  Their help text.
#define CLI_MANIFEST_HELP                                                                          \
    "  FILE|DIR           kit files (*.kit.yaml), a directory of them, or a\n"                     \
    "                     docker-compose file (detected by its services: map)\n"                   \
    "  NAME               the kit to compile: ns/name (a published kit unless\n"                   \
    "                     the files define it) or a unique name in the files\n"                    \
    "  --name STACK       stack name (default: the kit's name, compose's name:\n"                  \
    "                     or the compose file's directory)\n"                                      \
    "  --set S.VAR=VALUE  override variable VAR of service S (repeatable; kits)\n"                 \
    "  --values FILE      overrides from YAML {SERVICE: {VAR: VALUE}} (kits)\n"                    \
    "  -f, --file FILE    a docker-compose file (with its .env beside it)\n"                       \
    "  --profile P        activate a compose profile (repeatable; * for all)\n"

typedef struct {
    const char *inputs[CLI_MANIFEST_MAX]; //  FILE|DIR arguments
    size_t ninputs;
    const char *target;                 //  NAME, or NULL
    const char *compose;                //  -f FILE, or NULL
    const char *name;                   //  --name, or NULL
    const char *sets[CLI_MANIFEST_MAX]; //  --set
    size_t nsets;
    const char *values;                         //  --values FILE, or NULL
    const char *profiles[CLI_MANIFEST_MAX + 1]; //  --profile, NULL-terminated
    size_t nprofiles;
} cli_manifest_t;

//  One document read from disk.
typedef struct {
    char *path;   //  as named (a DIR's files as DIR/FILE)
    char *text;   //  its content
    size_t size;  //  bytes in text
    bool compose; //  a docker-compose file
} cli_doc_t;

//  Take option c of CLI_MANIFEST_OPTIONS with its argument: 1 if taken, 0
//  if c is not one of them, -1 and *err (usage) if it is wrong.
int cli_manifest_option (cli_manifest_t *self, int c, const char *arg, ab_error_t **err);

//  Take a positional argument: a FILE or DIR if it exists, else the NAME.
//  -1 and *err (usage) for a second NAME.
int cli_manifest_arg (cli_manifest_t *self, const char *arg, ab_error_t **err);

//  Read paths (files and directories) into *docs_out (caller frees with
//  cli_docs_free). Returns how many were read; what could not be read is
//  an error in diag.
ssize_t cli_docs_read (const char *const *paths, size_t n, cli_doc_t **docs_out, ab_diag_t *diag);

//  Free n documents and null the array.
void cli_docs_free (cli_doc_t **docs_p, size_t n);

//  Compile one compose document into a sealed spec: .env beside it, the
//  process environment, profiles (NULL-terminated or NULL), stack name
//  (NULL: compose's rule). NULL with errors in diag.
json_t *cli_manifest_compose (const cli_doc_t *doc, const char *name, const char *const *profiles,
                              ab_diag_t *diag);

//  Compile what self names into a sealed spec. Kits
//  look up published kits through replay (loaded to the head on first
//  need). NULL with errors in diag, or with *err for a problem that is not
//  the manifest's (cluster unavailable, nothing to compile).
json_t *cli_manifest_compile (const cli_manifest_t *self, cli_replay_t *replay, ab_diag_t *diag,
                              ab_error_t **err);

//  Print the diag's lines on stderr ("warning: " before warnings), each
//  line once. Returns the number of distinct errors.
size_t cli_diag_print (const ab_diag_t *diag);

#endif
