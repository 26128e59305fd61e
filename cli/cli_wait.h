/*  cli_wait - follow the log until a stack reaches an outcome
    `abbey deploy` (default --wait) and `abbey rm --wait` end with an
    explicit outcome, never a silent hang: a follower (ab_follower) hands
    out every event after the replay's seq, each is applied to the replay's
    graph, and the loop stops at the outcome or the deadline. Progress goes
    to stdout, one line per change of a service; on a terminal a live
    status line is rewritten in place. Failures go to stderr as
    "abbey <cmd>: <error-name>: <message>".                               */
#ifndef CLI_WAIT_H
#define CLI_WAIT_H

#include "cli_replay.h"
#include <jansson.h>
#include <stdint.h>

typedef enum {
    CLI_WAIT_READY = 0, //  deploy: stack.ready 0, stack.failed 1, timeout 2
    CLI_WAIT_GONE = 1   //  rm: no instance of the stack left 0, timeout 2
} cli_wait_mode_t;

//  Wait for stack `name` after the event at seq `since` (its stack.deployed
//  or stack.removed). spec is the spec deployed (service names, checks).
//  Returns the exit code: 0 outcome reached, 1 failed (the reason printed),
//  2 timeout (for READY: each service not ready and the last event seen
//  for it; for GONE: the instances left).
int cli_wait_stack (cli_t *cli, cli_replay_t *replay, const char *name, const json_t *spec,
                    uint64_t since, int64_t timeout_ms, cli_wait_mode_t mode);

#endif
