/*  abbey append - append one event to the log and print its seq
    The event is appended as the --as identity; logd decides whether that
    role may emit the type, and its NACK (name and message) is what the user
    sees. The logclient seeds pseq from the clock, so a resend after a
    timeout is deduped by logd rather than appended twice.                  */
#include "cli_common.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>

static const char s_usage[]
    = "Usage: abbey append TYPE SUBJECT [--data JSON] [--timeout SECONDS]\n"
      "\n"
      "Append one event and print the seq the log gave it.\n"
      "  TYPE            event type from the catalog (docs/events.md), e.g. note.added\n"
      "  SUBJECT         resource path, e.g. stack/shop or node/n1\n"
      "  --data JSON     the event's body, a JSON object (default {})\n"
      "  --timeout SECS  give up when logd has not acknowledged by then (default 5)\n"
      "  --as NAME       identity to append as (default admin)\n";

int
cmd_append (cli_t *cli, int argc, char **argv)
{
    if (cli_wants_help (argc, argv)) {
        fputs (s_usage, stdout);
        return CLI_OK;
    }
    static const struct option opts[] = { { "data", required_argument, NULL, 'd' },
                                          { "timeout", required_argument, NULL, 't' },
                                          { NULL, 0, NULL, 0 } };
    const char *data = NULL;
    int timeout_ms = 5000;
    ab_auto_error ab_error_t *err = NULL;
    cli_getopt_reset ();
    int c;
    while ((c = getopt_long (argc, argv, ":", opts, NULL)) != -1) {
        if (c == 'd')
            data = optarg;
        else if (c == 't') {
            if (cli_parse_timeout (optarg, &timeout_ms, &err) < 0)
                return cli_usage (cli, "%s", ab_error_msg (err));
        }
        else
            return cli_bad_option (cli, c, argv);
    }
    if (argc - optind != 2)
        return cli_usage (cli, "expected TYPE and SUBJECT, got %d argument%s", argc - optind,
                          argc - optind == 1 ? "" : "s");
    const char *type = argv[optind];
    const char *subject = argv[optind + 1];

    ab_event_t *event = ab_event_new (type, subject);
    if (data && ab_event_set_data_json (event, data, &err) < 0) {
        ab_event_destroy (&event);
        ab_error_wrap (&err, "--data");
        return cli_fail_err (cli, err);
    }
    ab_logclient_t *client = cli_logclient (cli, &err);
    if (!client) {
        ab_event_destroy (&event);
        return cli_fail_err (cli, err);
    }
    uint64_t seq = 0;
    int rc = ab_logclient_append (client, &event, 1, &seq, timeout_ms, &err);
    ab_event_destroy (&event);
    if (rc < 0)
        return cli_fail_err (cli, err);
    printf ("%" PRIu64 "\n", seq);
    return CLI_OK;
}
