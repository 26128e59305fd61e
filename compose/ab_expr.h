/*  ab_expr - the small, safe expression language of kits
    A scalar starting with "<- " is an expression; "${name}" interpolates a
    variable inside a plain string ("$$" is a literal "$"). There are no
    loops, no I/O and no recursion beyond a fixed depth, so evaluating a
    hostile manifest is bounded.

        expr  := "$" NAME | STRING | NUMBER | true | false | null
               | FUNC "(" [ expr { "," expr } ] ")"
        FUNC  := connection-hostname | connection-port | secret | default | concat

    Values are JSON: string, integer, real, boolean, null (no value), and a
    secret reference {"secret": NAME}, which stays a reference until an
    agent starts the container (it cannot be concatenated).

    Rules of the API:
    - The caller supplies variables and connections through callbacks;
      a callback returns a new reference, JSON null for "declared but no
      value", or NULL with *err for "no such name".
    - On failure the result is NULL and *err says what, without position
      (the caller prefixes the node's file:line:col).                      */
#ifndef AB_EXPR_H
#define AB_EXPR_H

#include "ab_error.h"
#include <jansson.h>
#include <stdbool.h>

#define AB_EXPR_MAX_DEPTH 16 //  nested calls

typedef json_t *(ab_expr_var_fn)(void *arg, const char *name, ab_error_t **err);
//  what is "hostname" or "port".
typedef json_t *(ab_expr_conn_fn)(void *arg, const char *name, const char *what, ab_error_t **err);

typedef struct {
    ab_expr_var_fn *variable;    //  resolves $name and ${name}
    ab_expr_conn_fn *connection; //  resolves connection-hostname/port
    void *arg;                   //  passed to both
} ab_expr_env_t;

//  True if text is an expression: it starts with "<- ".
bool ab_expr_is (const char *text);

//  True if text contains an interpolation "${".
bool ab_expr_has_interpolation (const char *text);

//  Evaluate an expression (with or without its "<- " prefix).
json_t *ab_expr_eval (const char *text, const ab_expr_env_t *env, ab_error_t **err);

//  Interpolate ${name} in text; the result is a JSON string.
json_t *ab_expr_interpolate (const char *text, const ab_expr_env_t *env, ab_error_t **err);

//  A scalar value as text: strings as is, integers in decimal, reals in
//  %.15g, booleans true/false. NULL for null, secrets and containers.
//  Caller frees.
char *ab_expr_to_text (const json_t *value);

void ab_expr_test (bool verbose);

#endif
