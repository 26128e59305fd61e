/*  abbey - the command users type
    main() takes the global options out of argv wherever they stand (so
    `abbey append ... --as agent` works as well as `abbey --as agent append`),
    then dispatches on the first word from the table below. Each command
    lives in its own cmd_*.c file.                                          */
#include "cli_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_keys (cli_t *cli, int argc, char **argv);
int cmd_dev (cli_t *cli, int argc, char **argv);
int cmd_append (cli_t *cli, int argc, char **argv);
int cmd_events (cli_t *cli, int argc, char **argv);
int cmd_log (cli_t *cli, int argc, char **argv);
int cmd_graph (cli_t *cli, int argc, char **argv);
int cmd_validate (cli_t *cli, int argc, char **argv);
int cmd_deploy (cli_t *cli, int argc, char **argv);
int cmd_diff (cli_t *cli, int argc, char **argv);
int cmd_ls (cli_t *cli, int argc, char **argv);
int cmd_inspect (cli_t *cli, int argc, char **argv);
int cmd_rm (cli_t *cli, int argc, char **argv);
int cmd_kit (cli_t *cli, int argc, char **argv);
int cmd_secret (cli_t *cli, int argc, char **argv);

static const cli_cmd_t s_commands[] = {
    { "keys", cmd_keys, "cluster identities: init, add, list, revoke" },
    { "dev", cmd_dev, "local single-node cluster: up, status, down" },
    { "append", cmd_append, "append one event to the log, print its seq" },
    { "events", cmd_events, "print events: history, then live with --follow" },
    { "log", cmd_log, "the log itself: head, verify, export" },
    { "graph", cmd_graph, "replay the log and print the resource graph" },
    { "validate", cmd_validate, "check kit and docker-compose files, all errors at once" },
    { "deploy", cmd_deploy, "deploy a stack and wait until it is ready" },
    { "diff", cmd_diff, "what a deploy would change in the deployed stack" },
    { "ls", cmd_ls, "list stacks: version, ready/desired, state, age" },
    { "inspect", cmd_inspect, "a stack's normalized spec as deployed" },
    { "rm", cmd_rm, "remove a stack" },
    { "kit", cmd_kit, "published kits: load, ls, show" },
    { "secret", cmd_secret, "sealed secrets: set, ls, rm" },
    { NULL, NULL, NULL }
};

static const char s_usage[]
    = "Usage: abbey [--cluster FILE] [--as NAME] COMMAND [ARGS...]\n"
      "\n"
      "Global options (accepted anywhere on the line):\n"
      "  --cluster FILE  cluster file; else $ABBEY_CLUSTER, else\n"
      "                  $ABBEY_HOME/dev/cluster.yaml (ABBEY_HOME: ~/.abbey)\n"
      "  --as NAME       identity to act as (default admin)\n"
      "  -h, --help      this help; 'abbey COMMAND --help' for a command\n";

//  Take "--cluster X", "--cluster=X", "--as X", "--as=X" out of argv (up to
//  a "--"). Returns the new argc, or -1 after printing a usage error.
static int
s_take_globals (int argc, char **argv, const char **cluster, const char **as)
{
    int out = 1;
    int i = 1;
    for (; i < argc; i++) {
        const char *arg = argv[i];
        const char **slot = NULL;
        const char *name = NULL;
        const char *value = NULL;
        if (strcmp (arg, "--") == 0)
            break;
        if (strncmp (arg, "--cluster", 9) == 0 && (arg[9] == 0 || arg[9] == '='))
            slot = cluster, name = "--cluster", value = arg[9] ? arg + 10 : NULL;
        else if (strncmp (arg, "--as", 4) == 0 && (arg[4] == 0 || arg[4] == '='))
            slot = as, name = "--as", value = arg[4] ? arg + 5 : NULL;
        if (!slot) {
            argv[out++] = argv[i];
            continue;
        }
        if (!value) {
            if (i + 1 >= argc) {
                fprintf (stderr, "abbey: %s needs a value (see 'abbey --help')\n", name);
                return -1;
            }
            value = argv[++i];
        }
        if (!*value) {
            fprintf (stderr, "abbey: %s needs a non-empty value\n", name);
            return -1;
        }
        *slot = value;
    }
    for (; i < argc; i++)
        argv[out++] = argv[i];
    argv[out] = NULL;
    return out;
}

int
main (int argc, char **argv)
{
    const char *cluster = NULL;
    const char *as = NULL;
    argc = s_take_globals (argc, argv, &cluster, &as);
    if (argc < 0)
        return CLI_USAGE;
    cli_t *cli = cli_new (cluster, as);
    int rc = cli_dispatch (cli, s_commands, s_usage, argc, argv);
    cli_destroy (&cli);
    return rc;
}
