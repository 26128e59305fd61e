/*  cli_common - what every `abbey` subcommand shares
    Global options (--cluster, --as), finding the cluster file, errors on
    stderr as "abbey <cmd>: <message>", subcommand tables, and the parsers
    for seq numbers and times that several commands accept.

    Rules of the API:
    - A command is `int fn (cli_t *cli, int argc, char **argv)`; argv[0] is
      the command's own name and the return value is the exit code.
    - cli_t is owned by main; commands borrow it. What cli_* returns is the
      caller's to free unless its comment says "Borrowed".
    - Exit codes: 0 success, 1 failure (CLI_FAIL), 2 usage (CLI_USAGE).     */
#ifndef CLI_COMMON_H
#define CLI_COMMON_H

#include "ab_error.h"
#include "ab_cluster.h"
#include "ab_logclient.h"
#include <stdbool.h>
#include <stdint.h>

#define CLI_OK    0
#define CLI_FAIL  1
#define CLI_USAGE 2

typedef struct _cli_t cli_t;
typedef int (cli_fn) (cli_t *cli, int argc, char **argv);

//  One row of a dispatch table; a NULL name ends the table.
typedef struct {
    const char *name;    //  what the user types
    cli_fn *fn;          //  runs it
    const char *summary; //  one line for the parent's --help
} cli_cmd_t;

//  New context from the global options; NULLs take the defaults.
cli_t *cli_new (const char *cluster, const char *as);

//  Free and null. Safe on NULL.
void cli_destroy (cli_t **self_p);

//  Identity to act as (--as), "admin" by default. Borrowed.
const char *cli_as (cli_t *self);

//  The command being run, for error prefixes ("keys add"). Borrowed.
const char *cli_cmd (cli_t *self);

//  Dev directory when `abbey dev` has no --dir: the folder of --cluster
//  FILE or $ABBEY_CLUSTER if either is given (so `abbey dev status` works
//  beside the other commands), else $ABBEY_HOME/dev. Caller frees.
char *cli_dev_dir (cli_t *self);

//  The cluster file: --cluster, else $ABBEY_CLUSTER, else
//  $ABBEY_HOME/dev/cluster.yaml; loaded on first use and kept. Borrowed.
//  NULL and *err naming the file on failure.
ab_cluster_t *cli_cluster (cli_t *self, ab_error_t **err);

//  Key directory of the cluster file. Caller frees. NULL and *err.
char *cli_keys_dir (cli_t *self, ab_error_t **err);

//  Client of the cluster's logd acting as cli_as (), made on first use and
//  kept. Borrowed. NULL and *err naming the file or identity on failure.
ab_logclient_t *cli_logclient (cli_t *self, ab_error_t **err);

//  Read events from..to (to 0: up to the head as it is now) over the wire
//  in batches, calling fn for each in seq order; fn may stop the read by
//  returning non-zero. Returns the number of events passed to fn, or
//  negative and *err (truncated: history the log no longer holds).
int64_t cli_read_range (cli_t *self, uint64_t from, uint64_t to, ab_logclient_fn *fn,
                        void *arg, ab_error_t **err);


//  Print "abbey <cmd>: <message>" on stderr; returns CLI_FAIL.
int cli_fail (cli_t *self, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

//  As cli_fail with "<error name>: <error message>"; returns CLI_FAIL.
int cli_fail_err (cli_t *self, const ab_error_t *err);

//  Print "abbey <cmd>: <message>" and a pointer to --help; returns CLI_USAGE.
int cli_usage (cli_t *self, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

//  Run the row of table named argv[1] with argv shifted by one; --help or
//  no subcommand prints usage and the table. Unknown names are usage errors.
int cli_dispatch (cli_t *self, const cli_cmd_t *table, const char *usage, int argc,
                  char **argv);

//  True if argv[1..] holds --help or -h before any "--".
bool cli_wants_help (int argc, char **argv);

//  Report getopt's '?' or ':' for argv[optind - 1]; returns CLI_USAGE.
int cli_bad_option (cli_t *self, int c, char **argv);

//  One option of a subcommand, for cli_parse: "--NAME VALUE" stores VALUE
//  in *value; a flag (value NULL) sets *flag. A NULL name ends a table.
typedef struct {
    const char *name;   //  without the dashes: "dir", "json"
    const char **value; //  takes a value, stored here; or NULL
    bool *flag;         //  a flag, set true; or NULL
} cli_opt_t;

#define CLI_OPTS_MAX 16 //  options in one cli_opt_t table

//  Parse a subcommand's argv: --help prints usage (*rc = CLI_OK); an
//  option not in opts or without its value is a usage error (*rc =
//  CLI_USAGE). Both return -1. Else the positionals are left in *pos and
//  their number is returned.
int cli_parse (cli_t *self, int argc, char **argv, const char *usage, const cli_opt_t *opts,
               char ***pos, int *rc);

//  Start option parsing afresh for a (sub)command's argv.
void cli_getopt_reset (void);

//  Parse a timeout in seconds ("5", "0.5") into ms.
int cli_parse_timeout (const char *text, int *ms_out, ab_error_t **err);

//  Parse a seq (decimal, ≥ min). what names the option in the error.
int cli_parse_seq (const char *text, uint64_t min, const char *what, uint64_t *out,
                   ab_error_t **err);

//  Parse a time: RFC 3339 ("2026-11-23T12:00:00Z", fraction and offset
//  allowed) or a duration ago ("10m", "2h", "1h30m", "45s", "3d", "500ms")
//  relative to now_ns. Result in ns since the epoch.
int cli_parse_time (const char *text, uint64_t now_ns, uint64_t *out, ab_error_t **err);

//  Format ns since the epoch as RFC 3339 UTC with milliseconds into buf.
const char *cli_format_time (uint64_t ns, char *buf, size_t size);

//  Wall clock now, ns since the epoch.
uint64_t cli_now_ns (void);

//  Hex of size bytes into buf (2*size+1). Returns buf.
char *cli_hex (const uint8_t *bytes, size_t size, char *buf);

#endif
