/*  ab_dockercompose - docker-compose files compiled into abbey's normalized
    spec (ab_spec). The Compose specification's common subset is accepted;
    a key abbey does not support is a warning naming key and line, and an
    error when ignoring it would change what runs (privileged, cap_add,
    network_mode, …). docs/manifest.md has the full mapping table.

        text ─► ${VAR} substitution (env, then .env) ─► profiles filter
             ─► services → spec services; default network → connections
             ─► ab_spec_check ─► sealed spec

    Rules of the API:
    - Pure: the caller passes the file's text, the .env text and its
      environment. env_file: is read through the caller's `read` callback
      (paths relative to the compose file); without one it is an error.
    - Warnings and errors go to diag; any error gives NULL.
    - `build:` is recorded in the spec; ab_spec_deployable refuses it until
      abbey has a builder.                                                  */
#ifndef AB_DOCKERCOMPOSE_H
#define AB_DOCKERCOMPOSE_H

#include "ab_diag.h"
#include "ab_error.h"
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define AB_DOCKERCOMPOSE_MAX_RANGE 1000 //  ports a range like 9000-9999 may expand to

//  Read a file named by the compose file (env_file). Return malloc'd
//  content and *size, or NULL and *err.
typedef char *(ab_dockercompose_read_fn)(void *arg, const char *path, size_t *size,
                                         ab_error_t **err);

typedef struct {
    const char *file; //  path of the compose file, for messages and relative paths
    const char *text; //  its content
    size_t size;
    const char *dotenv; //  content of the .env beside it, or NULL
    size_t dotenv_size;
    const char *const *environ;     //  caller's environment "K=V", NULL-terminated, or NULL
    const char *const *profiles;    //  active profiles, NULL-terminated, or NULL
    const char *project;            //  stack name; NULL: top-level name:, else the directory's
    ab_dockercompose_read_fn *read; //  for env_file; may be NULL
    void *read_arg;
} ab_dockercompose_input_t;

//  Compile a compose file into a sealed spec; NULL with errors in diag.
json_t *ab_dockercompose_compile (const ab_dockercompose_input_t *input, ab_diag_t *diag);

//  Parse dotenv text (KEY=VALUE lines, # comments, optional `export`,
//  '…' literal and "…" escaped values) into an object of strings. Errors
//  go to diag as file:line:col.
json_t *ab_dockercompose_dotenv (const char *file, const char *text, size_t size, ab_diag_t *diag);

void ab_dockercompose_test (bool verbose);

#endif
