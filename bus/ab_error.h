/*  ab_error - the one error table of abbey, and the error value that climbs
    Codes, names and default messages come from one X-macro; nothing else
    defines error strings. The same names travel in NACK replies and CLI
    output. Style (crun): every fallible call takes an `ab_error_t **err`
    out-parameter and returns a negative code on failure; callers wrap the
    error with context as it climbs ("append: logd tcp://…: timeout").

    Rules of the API:
    - `err` may be NULL: the failure is still returned, the message dropped.
    - On failure `*err` is set and owned by the caller (ab_error_destroy).
    - Setting an error over an existing one replaces it.                   */
#ifndef AB_ERROR_H
#define AB_ERROR_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

//  X (ENUM, "name", "default message")
#define AB_ERROR_MAP(X)                                                              \
    X (INVALID, "invalid", "invalid argument or input")                              \
    X (MALFORMED, "malformed", "malformed message")                                  \
    X (OVERSIZE, "oversize", "message exceeds the size limit")                       \
    X (UNKNOWN_TYPE, "unknown-type", "unknown event type")                           \
    X (FORBIDDEN, "forbidden", "this role may not do that")                          \
    X (DENIED, "denied", "key is not in the cluster key directory or was revoked")   \
    X (STORAGE, "storage", "storage error: the log is not accepting appends")        \
    X (NOT_FOUND, "not-found", "not found")                                           \
    X (EXISTS, "exists", "already exists")                                           \
    X (TRUNCATED, "truncated", "the log no longer holds that history")               \
    X (TIMEOUT, "timeout", "timed out")                                              \
    X (UNAVAILABLE, "unavailable", "daemon did not answer")                          \
    X (CORRUPT, "corrupt", "data failed its integrity check")                        \
    X (PROTOCOL, "protocol", "peer broke the protocol")                              \
    X (IO, "io", "input/output error")                                               \
    X (SYSTEM, "system", "system call failed")                                       \
    X (USAGE, "usage", "wrong command-line usage")                                   \
    X (FAILED, "failed", "the operation was carried out and did not succeed")

typedef enum {
    AB_OK = 0,
#define AB_ERROR_ENUM(e, n, m) AB_E_##e,
    AB_ERROR_MAP (AB_ERROR_ENUM)
#undef AB_ERROR_ENUM
    AB_E__COUNT
} ab_code_t;

typedef struct {
    ab_code_t code; //  what kind of failure, from the table
    char *msg;      //  full message with context, owned
} ab_error_t;

//  Set *err to a new error with a printf-style message; returns -code.
//  A NULL fmt uses the table's default message.
int ab_error_set (ab_error_t **err, ab_code_t code, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

//  As ab_error_set, appending ": strerror(errnum)".
int ab_error_errno (ab_error_t **err, ab_code_t code, int errnum, const char *fmt, ...)
    __attribute__ ((format (printf, 4, 5)));

//  Prefix the message in *err with context and ": "; returns -code.
//  Safe when err or *err is NULL (returns -AB_E_INVALID then).
int ab_error_wrap (ab_error_t **err, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));

//  Free and null. Safe on NULL.
void ab_error_destroy (ab_error_t **err);

//  Code's wire name ("forbidden"); "ok" for AB_OK, "unknown" if out of range.
const char *ab_error_name (ab_code_t code);

//  Code's default message.
const char *ab_error_default (ab_code_t code);

//  Code for a wire name, or AB_E_PROTOCOL if the name is not in the table.
ab_code_t ab_error_from_name (const char *name);

//  Message of *err, or "" when none. Borrowed.
const char *ab_error_msg (const ab_error_t *err);

//  Local variable cleanup (STYLE 6).
#define ab_auto_error __attribute__ ((cleanup (ab_error_destroy)))
#define ab_auto_free __attribute__ ((cleanup (ab_free_p)))
static inline void
ab_free_p (void *p)
{
    void **pp = (void **) p;
    free (*pp);
    *pp = NULL;
}

void ab_error_test (bool verbose);

#endif
