/* coordinator/sshopt.c: SSH flags shared by the commands that reach
 * hosts. */
#include "sshopt.h"

#include "duration.h"
#include "sshconfig.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const struct option sshopt_long[SSHOPT_COUNT] = {
    {"user", required_argument, NULL, SSHOPT_USER},
    {"key", required_argument, NULL, SSHOPT_KEY},
    {"known-hosts", required_argument, NULL, SSHOPT_KNOWN_HOSTS},
    {"accept-new", no_argument, NULL, SSHOPT_ACCEPT_NEW},
    {"connect-timeout", required_argument, NULL, SSHOPT_CONNECT_TIMEOUT},
    {"handshakes-per-target", required_argument, NULL, SSHOPT_HANDSHAKES},
    {"ssh-config", required_argument, NULL, SSHOPT_SSH_CONFIG},
};

const char sshopt_usage[] =
    "  --user USER              login user when the inventory has no "
    "ansible_user\n"
    "  --key FILE               private key, ed25519 or ECDSA (default "
    "~/.ssh/id_ed25519,\n"
    "                           else ssh-agent)\n"
    "  --known-hosts FILE       OpenSSH known_hosts (default "
    "~/.ssh/known_hosts)\n"
    "  --accept-new             trust unknown hosts on first use and record "
    "them\n"
    "  --connect-timeout DUR    connect + handshake + auth (default 10s)\n"
    "  --handshakes-per-target N  concurrent handshakes per address:port "
    "(default 8)\n"
    "  --ssh-config FILE        OpenSSH client config, or none (default "
    "~/.ssh/config)\n";

size_t sshopt_append(struct option *opts, size_t n)
{
    for (size_t i = 0; i < SSHOPT_COUNT; i++)
        opts[n++] = sshopt_long[i];
    memset(&opts[n], 0, sizeof(opts[n]));
    return n;
}

bool sshopt_is(int opt)
{
    return opt >= SSHOPT_USER && opt <= SSHOPT_SSH_CONFIG;
}

/* A count flag's argument, 1..max: ERR_USAGE naming the flag otherwise. */
static enum err_code sshopt_count(const char *flag, const char *arg, int max,
                                  int *out, struct err *e)
{
    char *end = NULL;
    errno = 0;
    long n = strtol(arg ? arg : "", &end, 10);
    if (arg == NULL || errno != 0 || end == arg || *end != '\0' || n < 1 ||
        n > max)
        return err_set(e, ERR_USAGE, "%s: expected a number 1..%d, not '%s'",
                       flag, max, arg ? arg : "");
    *out = (int)n;
    return ERR_OK;
}

enum err_code sshopt_forks(const char *arg, int *forks, struct err *e)
{
    return sshopt_count("--forks", arg, SSHOPT_FORKS_MAX, forks, e);
}

enum err_code sshopt_apply(struct ssh_options *o, int opt, const char *arg,
                           struct err *e)
{
    switch (opt) {
    case SSHOPT_USER:
        if (arg == NULL || *arg == '\0')
            return err_set(e, ERR_USAGE, "--user: expected a user name");
        o->user = arg;
        return ERR_OK;
    case SSHOPT_KEY:
        if (arg == NULL || *arg == '\0')
            return err_set(e, ERR_USAGE, "--key: expected a key file");
        o->key_file = arg;
        return ERR_OK;
    case SSHOPT_KNOWN_HOSTS:
        if (arg == NULL || *arg == '\0')
            return err_set(e, ERR_USAGE,
                           "--known-hosts: expected a known_hosts file");
        o->known_hosts = arg;
        return ERR_OK;
    case SSHOPT_SSH_CONFIG:
        if (arg == NULL || *arg == '\0')
            return err_set(e, ERR_USAGE,
                           "--ssh-config: expected a file, or none");
        o->config_file = arg;
        return ERR_OK;
    case SSHOPT_ACCEPT_NEW:
        o->accept_new = true;
        return ERR_OK;
    case SSHOPT_CONNECT_TIMEOUT: {
        struct err de = {0};
        int64_t ms;
        if (duration_parse(arg, &ms, &de) != ERR_OK)
            return err_set(e, ERR_USAGE, "--connect-timeout: %s", de.msg);
        if (ms <= 0)
            return err_set(e, ERR_USAGE,
                           "--connect-timeout: must be more than 0");
        o->connect_timeout_ms = ms;
        return ERR_OK;
    }
    case SSHOPT_HANDSHAKES:
        return sshopt_count("--handshakes-per-target", arg, 1000,
                            &o->handshakes_per_target, e);
    default:
        return err_set(e, ERR_USAGE, "unknown ssh option %d", opt);
    }
}

enum err_code sshopt_config(struct ssh_options *o, struct sshconfig **out,
                            struct err *e)
{
    const char *home = getenv("HOME");
    if (sshconfig_open(o->config_file, home ? home : "", out, e) != ERR_OK)
        return e->code;
    o->config = *out;
    o->config_read = true;
    return ERR_OK;
}
