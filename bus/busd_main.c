/*  abbey-busd - the bus hub daemon: flags in, ab_busd actor, wait for a signal
    Usage: abbey-busd --keys DIR --publish EP --subscribe EP
                      [--upstream EP --upstream-key Z85] [--identity NAME] [--verbose]
    Prints one "ready" line on stdout once both sides are bound, then runs
    until SIGTERM or SIGINT.                                                 */
#include "ab_busd.h"

#include <stdio.h>
#include <string.h>

static void
s_usage (FILE *out)
{
    fprintf (out,
             "usage: abbey-busd --keys DIR --publish EP --subscribe EP\n"
             "                  [--upstream EP --upstream-key Z85] [--identity NAME] [--verbose]\n"
             "\n"
             "  --keys DIR          cluster key directory (abbey keys init)\n"
             "  --publish EP        where publishers connect, e.g. tcp://127.0.0.1:5571\n"
             "  --subscribe EP      where subscribers connect, e.g. tcp://127.0.0.1:5572\n"
             "  --upstream EP       relay from another busd's subscribe endpoint (a tree)\n"
             "  --upstream-key Z85  that busd's public key\n"
             "  --identity NAME     our identity in the key directory (default busd)\n"
             "  --verbose           log ZAP decisions, drops and rebinds\n");
}

int
main (int argc, char **argv)
{
    ab_busd_config_t config = { 0 };
    for (int i = 1; i < argc; i++) {
        const char *flag = argv[i];
        const char **slot = streq (flag, "--keys")           ? &config.keys
                            : streq (flag, "--publish")      ? &config.publish
                            : streq (flag, "--subscribe")    ? &config.subscribe
                            : streq (flag, "--upstream")     ? &config.upstream
                            : streq (flag, "--upstream-key") ? &config.upstream_key
                            : streq (flag, "--identity")     ? &config.identity
                                                             : NULL;
        if (slot) {
            if (i + 1 >= argc) {
                fprintf (stderr, "abbey-busd: %s needs a value\n", flag);
                return 2;
            }
            *slot = argv[++i];
        } else if (streq (flag, "--verbose") || streq (flag, "-v"))
            config.verbose = true;
        else if (streq (flag, "--help") || streq (flag, "-h")) {
            s_usage (stdout);
            return 0;
        } else {
            fprintf (stderr, "abbey-busd: unknown argument '%s'\n", flag);
            s_usage (stderr);
            return 2;
        }
    }
    if (!config.keys || !config.publish || !config.subscribe) {
        fprintf (stderr, "abbey-busd: --keys, --publish and --subscribe are required\n");
        s_usage (stderr);
        return 2;
    }
    ab_error_t *err = NULL;
    ab_busd_t *busd = ab_busd_new (&config, &err);
    if (!busd) {
        fprintf (stderr, "abbey-busd: %s\n", ab_error_msg (err));
        int code = err && err->code == AB_E_USAGE ? 2 : 1;
        ab_error_destroy (&err);
        return code;
    }
    printf ("abbey-busd ready: publish %s subscribe %s key %s\n", ab_busd_publish_endpoint (busd),
            ab_busd_subscribe_endpoint (busd), ab_busd_public_key (busd));
    fflush (stdout);

    //  CZMQ catches SIGINT and SIGTERM: the wait returns NULL when one comes.
    //  The actor sends nothing, so a message means it stopped on its own.
    zpoller_t *poller = zpoller_new (ab_busd_actor (busd), NULL);
    while (!zsys_interrupted) {
        void *which = zpoller_wait (poller, 1000);
        if (which || zpoller_terminated (poller))
            break;
    }
    zpoller_destroy (&poller);
    ab_busd_destroy (&busd);
    return 0;
}
