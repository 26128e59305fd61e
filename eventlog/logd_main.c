/*  abbey-logd - the event log daemon: parses flags, runs the ab_logd actor
    until SIGTERM or SIGINT, then stops it cleanly (STYLE 7).              */
#include "ab_logd.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static void
s_usage (FILE *out)
{
    fprintf (out, "usage: abbey-logd --keys DIR --data DIR --endpoint EP\n"
                  "                  [--bus EP --bus-key Z85] [--identity NAME] [--verbose]\n"
                  "\n"
                  "The abbey event log: appends (group-committed, fsynced, hash-chained),\n"
                  "reads and head over CURVE, and publishes committed events to busd.\n"
                  "\n"
                  "  --keys DIR       cluster key directory (abbey keys init)\n"
                  "  --data DIR       LevelDB directory, created if missing\n"
                  "  --endpoint EP    where clients connect, e.g. tcp://127.0.0.1:7001\n"
                  "  --bus EP         busd's publish endpoint (its XSUB side)\n"
                  "  --bus-key Z85    busd's public key\n"
                  "  --identity NAME  logd's identity in the key directory (default logd)\n"
                  "  --verbose        log each commit and refusal to stderr\n");
}

int
main (int argc, char **argv)
{
    ab_logd_config_t cfg = { 0 };
    static const struct option opts[] = { { "keys", required_argument, NULL, 'k' },
                                          { "data", required_argument, NULL, 'd' },
                                          { "endpoint", required_argument, NULL, 'e' },
                                          { "bus", required_argument, NULL, 'b' },
                                          { "bus-key", required_argument, NULL, 'p' },
                                          { "identity", required_argument, NULL, 'i' },
                                          { "verbose", no_argument, NULL, 'v' },
                                          { "help", no_argument, NULL, 'h' },
                                          { NULL, 0, NULL, 0 } };
    int c;
    while ((c = getopt_long (argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'k':
            cfg.keys_dir = optarg;
            break;
        case 'd':
            cfg.data_dir = optarg;
            break;
        case 'e':
            cfg.endpoint = optarg;
            break;
        case 'b':
            cfg.bus_endpoint = optarg;
            break;
        case 'p':
            cfg.bus_key = optarg;
            break;
        case 'i':
            cfg.identity = optarg;
            break;
        case 'v':
            cfg.verbose = true;
            break;
        case 'h':
            s_usage (stdout);
            return 0;
        default:
            s_usage (stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf (stderr, "abbey-logd: unexpected argument '%s'\n", argv[optind]);
        s_usage (stderr);
        return 2;
    }
    if (!cfg.keys_dir || !cfg.data_dir || !cfg.endpoint) {
        fprintf (stderr, "abbey-logd: --keys, --data and --endpoint are required\n");
        s_usage (stderr);
        return 2;
    }
    if (!cfg.bus_endpoint != !cfg.bus_key) {
        fprintf (stderr, "abbey-logd: --bus and --bus-key go together\n");
        return 2;
    }
    ab_error_t *err = NULL;
    ab_logd_t *logd = ab_logd_new (&cfg, &err);
    if (!logd) {
        fprintf (stderr, "abbey-logd: %s\n", ab_error_msg (err));
        ab_error_destroy (&err);
        return 1;
    }
    printf ("abbey-logd: serving %s (key %s)\n", ab_logd_endpoint (logd),
            ab_logd_public_key (logd));
    fflush (stdout);

    //  CZMQ's handler turns SIGTERM/SIGINT into zsys_interrupted and
    //  interrupts the wait; the actor only ever speaks if it died.
    zpoller_t *poller = zpoller_new (ab_logd_actor (logd), NULL);
    int rc = 0;
    while (!zsys_interrupted) {
        if (zpoller_wait (poller, -1)) {
            fprintf (stderr, "abbey-logd: the log actor stopped unexpectedly\n");
            rc = 1;
            break;
        }
    }
    zpoller_destroy (&poller);
    ab_logd_destroy (&logd);
    return rc;
}
