/*  abbey keys - the cluster key directory: init, add, list, revoke
    A thin shell over ab_keyring's directory functions. add, list and revoke
    work on the key directory named in the cluster file unless --dir says
    otherwise; init always needs --dir, so that it never lands somewhere by
    accident.                                                               */
#include "cli_common.h"
#include "ab_keyring.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

static const char s_usage[]
    = "Usage: abbey keys COMMAND [--dir DIR] ...\n"
      "\n"
      "Manage the cluster's identities (CURVE certificates with a role).\n"
      "Without --dir, commands use the key directory of the cluster file.\n";

static const char s_init_usage[]
    = "Usage: abbey keys init --dir DIR\n"
      "\n"
      "Create a key directory with busd and logd server certificates, one\n"
      "identity per role (admin scheduler agent builder netmgr costd monitor)\n"
      "and the sealed-secrets keypair: DIR/secrets.pub for `abbey secret set`,\n"
      "DIR/agent/secrets.key (0600) for agents only. Fails, changing nothing,\n"
      "if DIR already holds keys.\n";

static const char s_add_usage[]
    = "Usage: abbey keys add ROLE NAME [--dir DIR]\n"
      "\n"
      "Create identity NAME with ROLE (admin scheduler agent builder netmgr\n"
      "costd monitor). Running daemons accept it within a second.\n";

static const char s_list_usage[]
    = "Usage: abbey keys list [--dir DIR] [--json]\n"
      "\n"
      "List identities: name, role, key id, state (active or revoked).\n"
      "--json prints an array of {name, role, key, keyid, src, state}.\n";

static const char s_revoke_usage[]
    = "Usage: abbey keys revoke NAME [--dir DIR]\n"
      "\n"
      "Revoke identity NAME: running daemons refuse it within a second.\n";

//  The key directory: --dir, else the cluster file's. Caller frees.
static char *
s_keys_dir (cli_t *cli, const char *dir, ab_error_t **err)
{
    if (dir)
        return strdup (dir);
    return cli_keys_dir (cli, err);
}

static int
s_init (cli_t *cli, int argc, char **argv)
{
    const char *dir = NULL;
    const cli_opt_t opts[] = { { "dir", &dir, NULL }, { NULL, NULL, NULL } };
    char **pos;
    int rc;
    int n = cli_parse (cli, argc, argv, s_init_usage, opts, &pos, &rc);
    if (n < 0)
        return rc;
    if (n)
        return cli_usage (cli, "unexpected argument '%s'", pos[0]);
    if (!dir)
        return cli_usage (cli, "--dir DIR is required");
    ab_auto_error ab_error_t *err = NULL;
    if (ab_keyring_init (dir, &err) < 0)
        return cli_fail_err (cli, err);
    printf ("keys created in %s\n", dir);
    return CLI_OK;
}

static int
s_add (cli_t *cli, int argc, char **argv)
{
    const char *dir = NULL;
    const cli_opt_t opts[] = { { "dir", &dir, NULL }, { NULL, NULL, NULL } };
    char **pos;
    int rc;
    int n = cli_parse (cli, argc, argv, s_add_usage, opts, &pos, &rc);
    if (n < 0)
        return rc;
    if (n != 2)
        return cli_usage (cli, "expected ROLE and NAME");
    ab_auto_error ab_error_t *err = NULL;
    ab_auto_free char *keys = s_keys_dir (cli, dir, &err);
    if (!keys)
        return cli_fail_err (cli, err);
    if (ab_keyring_add (keys, pos[0], pos[1], &err) < 0)
        return cli_fail_err (cli, err);
    char key[AB_KEY_Z85_LEN + 1] = "";
    if (ab_keyring_public_key (keys, pos[1], key, &err) < 0)
        return cli_fail_err (cli, err);
    printf ("added %s (role %s, key %.*s)\n", pos[1], pos[0], AB_KEYID_LEN, key);
    return CLI_OK;
}

static int
s_list (cli_t *cli, int argc, char **argv)
{
    const char *dir = NULL;
    bool json = false;
    const cli_opt_t opts[]
        = { { "dir", &dir, NULL }, { "json", NULL, &json }, { NULL, NULL, NULL } };
    char **pos;
    int rc;
    int n = cli_parse (cli, argc, argv, s_list_usage, opts, &pos, &rc);
    if (n < 0)
        return rc;
    if (n)
        return cli_usage (cli, "unexpected argument '%s'", pos[0]);
    ab_auto_error ab_error_t *err = NULL;
    ab_auto_free char *keys = s_keys_dir (cli, dir, &err);
    if (!keys)
        return cli_fail_err (cli, err);
    size_t count = 0;
    ab_auto_free ab_identity_t *ids = ab_keyring_list (keys, &count, &err);
    if (!ids)
        return cli_fail_err (cli, err);
    if (json) {
        json_t *array = json_array ();
        for (size_t i = 0; i < count; i++)
            json_array_append_new (
              array, json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s}", "name", ids[i].name, "role",
                                ab_role_name (ids[i].role) ? ab_role_name (ids[i].role) : "",
                                "key", ids[i].key, "keyid", ids[i].keyid, "src", ids[i].src,
                                "state", ids[i].revoked ? "revoked" : "active"));
        json_dumpf (array, stdout, JSON_INDENT (2));
        fputc ('\n', stdout);
        json_decref (array);
        return CLI_OK;
    }
    printf ("%-20s %-10s %-9s %s\n", "NAME", "ROLE", "KEY ID", "STATE");
    for (size_t i = 0; i < count; i++)
        printf ("%-20s %-10s %-9s %s\n", ids[i].name,
                ab_role_name (ids[i].role) ? ab_role_name (ids[i].role) : "?", ids[i].keyid,
                ids[i].revoked ? "revoked" : "active");
    return CLI_OK;
}

static int
s_revoke (cli_t *cli, int argc, char **argv)
{
    const char *dir = NULL;
    const cli_opt_t opts[] = { { "dir", &dir, NULL }, { NULL, NULL, NULL } };
    char **pos;
    int rc;
    int n = cli_parse (cli, argc, argv, s_revoke_usage, opts, &pos, &rc);
    if (n < 0)
        return rc;
    if (n != 1)
        return cli_usage (cli, "expected NAME");
    ab_auto_error ab_error_t *err = NULL;
    ab_auto_free char *keys = s_keys_dir (cli, dir, &err);
    if (!keys)
        return cli_fail_err (cli, err);
    if (ab_keyring_revoke (keys, pos[0], &err) < 0)
        return cli_fail_err (cli, err);
    printf ("revoked %s\n", pos[0]);
    return CLI_OK;
}

static const cli_cmd_t s_table[] = {
    { "init", s_init, "create a key directory with the default identities" },
    { "add", s_add, "create another identity: ROLE NAME" },
    { "list", s_list, "list identities and their roles" },
    { "revoke", s_revoke, "revoke an identity on the running daemons" },
    { NULL, NULL, NULL }
};

int
cmd_keys (cli_t *cli, int argc, char **argv)
{
    return cli_dispatch (cli, s_table, s_usage, argc, argv);
}
