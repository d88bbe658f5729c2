/* coordinator/sshopt.c: SSH flags shared by the commands that reach
 * hosts. */
#include "sshopt.h"

#include "duration.h"
#include "sshconfig.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const struct cmd_opt sshopt_opts[SSHOPT_COUNT + 1] = {
    {"user", SSHOPT_USER, 0, "USER",
     "login user when the inventory has no ansible_user"},
    {"key", SSHOPT_KEY, 0, "FILE",
     "private key, ed25519 or ECDSA (default ~/.ssh/id_ed25519, else "
     "ssh-agent)"},
    {"known-hosts", SSHOPT_KNOWN_HOSTS, 0, "FILE",
     "OpenSSH known_hosts (default ~/.ssh/known_hosts)"},
    {"accept-new", SSHOPT_ACCEPT_NEW, 0, NULL,
     "trust unknown hosts on first use and record them"},
    {"connect-timeout", SSHOPT_CONNECT_TIMEOUT, 0, "DUR",
     "connect + handshake + auth (default 10s)"},
    {"handshakes-per-target", SSHOPT_HANDSHAKES, 0, "N",
     "concurrent handshakes per address:port (default 8)"},
    SSHOPT_CONFIG_OPT,
    CMD_OPT_END,
};

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
