/*  ab_diag - a list of positioned errors and warnings from compiling a manifest
    `abbey validate` prints every mistake at once, so the compilers do not stop
    at the first one: they add diagnostics here and go on. Each diagnostic is
    one line, "file:line:col: message", ready to print.

    Rules of the API:
    - Positions are 1-based. A NULL or empty `where` prints no position.
    - Strings returned are borrowed from the diag and live until it is
      destroyed.
    - A diag holds at most AB_DIAG_MAX entries; past that it counts but
      keeps one final "too many" line, so hostile input cannot grow it.  */
#ifndef AB_DIAG_H
#define AB_DIAG_H

#include "ab_error.h"
#include <stdbool.h>
#include <stddef.h>

#define AB_DIAG_MAX 200

typedef enum { AB_DIAG_ERROR = 0, AB_DIAG_WARNING = 1 } ab_severity_t;

typedef struct _ab_diag_t ab_diag_t;

//  New empty list.
ab_diag_t *ab_diag_new (void);

//  Free and null. Safe on NULL.
void ab_diag_destroy (ab_diag_t **self_p);

//  Add an error at file:line:col. Always returns -1 so callers can
//  `return ab_diag_error (...)`.
int ab_diag_error (ab_diag_t *self, const char *file, size_t line, size_t col, const char *fmt, ...)
    __attribute__ ((format (printf, 5, 6)));

//  Add a warning at file:line:col.
void ab_diag_warn (ab_diag_t *self, const char *file, size_t line, size_t col, const char *fmt, ...)
    __attribute__ ((format (printf, 5, 6)));

//  Add an error whose position is already formatted ("f:3:7") or NULL.
int ab_diag_error_at (ab_diag_t *self, const char *where, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

//  Number of errors / warnings added (including any past the cap).
size_t ab_diag_errors (const ab_diag_t *self);
size_t ab_diag_warnings (const ab_diag_t *self);

//  Entries kept, in the order added.
size_t ab_diag_size (const ab_diag_t *self);
ab_severity_t ab_diag_severity (const ab_diag_t *self, size_t index);
//  The full line, e.g. `k.yaml:3:5: key "reourses": unknown key (...)`.
const char *ab_diag_text (const ab_diag_t *self, size_t index);

//  True if some kept line contains needle (tests and tools).
bool ab_diag_has (const ab_diag_t *self, const char *needle);

//  All lines of one severity joined by "\n" ("warning: " prefixed for
//  warnings). Caller frees. Never NULL on memory available.
char *ab_diag_join (const ab_diag_t *self, ab_severity_t severity);

//  If there are errors, set *err (code AB_E_INVALID) to all error lines
//  joined and return -AB_E_INVALID; else 0.
int ab_diag_to_error (const ab_diag_t *self, ab_error_t **err);

void ab_diag_test (bool verbose);

#endif
