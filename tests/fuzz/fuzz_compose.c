/*  fuzz_compose - libFuzzer target for the docker-compose importer
    (compose/ab_dockercompose) and its .env parser. The input is compiled
    as a compose file with a fixed environment, .env and active profile, and
    parsed as a .env file. Properties: nothing crashes or leaks; a failed
    compile always says why; a successful one is sealed (its version
    verifies), passes the cross-service checks, is byte-identical when
    compiled again, and diffs empty against itself. Checks abort() rather
    than assert so they hold in NDEBUG builds too.                          */
#include "ab_diag.h"
#include "ab_dockercompose.h"
#include "ab_spec.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"

static char *
s_read (void *arg, const char *path, size_t *size, ab_error_t **err)
{
    (void)arg;
    if (strcmp (path, "fuzz/app.env") != 0) {
        ab_error_set (err, AB_E_NOT_FOUND, "no such file");
        return NULL;
    }
    const char *text = "FROM_FILE=1\nexport QUOTED=\"a b\"\n";
    *size = strlen (text);
    return strdup (text);
}

static json_t *
s_compile (const uint8_t *data, size_t size, ab_diag_t *diag)
{
    static const char *const environ[] = { "TAG=1.0", "EMPTY=", "PORT=8080", NULL };
    static const char *const profiles[] = { "debug", NULL };
    const char *dotenv = "DB_PASSWORD=secret\nWEB_TAG=2\n";
    ab_dockercompose_input_t in = { .file = "fuzz/docker-compose.yml",
                                    .text = (const char *)data,
                                    .size = size,
                                    .dotenv = dotenv,
                                    .dotenv_size = strlen (dotenv),
                                    .environ = environ,
                                    .profiles = profiles,
                                    .read = s_read };
    return ab_dockercompose_compile (&in, diag);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    ab_diag_t *diag = ab_diag_new ();
    json_t *vars = ab_dockercompose_dotenv ("fuzz/.env", (const char *)data, size, diag);
    FUZZ_CHECK (json_is_object (vars));
    json_decref (vars);
    ab_diag_destroy (&diag);

    diag = ab_diag_new ();
    json_t *spec = s_compile (data, size, diag);
    if (!spec)
        FUZZ_CHECK (ab_diag_errors (diag) > 0 && ab_diag_size (diag) > 0
                    && *ab_diag_text (diag, 0));
    else {
        FUZZ_CHECK (ab_diag_errors (diag) == 0);
        FUZZ_CHECK (ab_spec_verify (spec));
        ab_diag_t *check = ab_diag_new ();
        FUZZ_CHECK (ab_spec_check (spec, NULL, check) == 0);
        ab_diag_destroy (&check);
        ab_diag_t *again_diag = ab_diag_new ();
        json_t *again = s_compile (data, size, again_diag);
        FUZZ_CHECK (again);
        char *a = ab_spec_canonical (spec), *b = ab_spec_canonical (again);
        FUZZ_CHECK (a && b && strcmp (a, b) == 0);
        free (a);
        free (b);
        json_t *diff = ab_spec_diff (spec, again);
        FUZZ_CHECK (ab_spec_diff_empty (diff));
        json_decref (diff);
        json_decref (again);
        ab_diag_destroy (&again_diag);
        //  Deployability is a decision, never a crash.
        ab_error_t *err = NULL;
        if (ab_spec_deployable (spec, &err) < 0)
            FUZZ_CHECK (err && *ab_error_msg (err));
        ab_error_destroy (&err);
        json_decref (spec);
    }
    ab_diag_destroy (&diag);
    return 0;
}
