/* coordinator/sshopt.h: the SSH flags every command that reaches hosts
 * shares (`drover run`, `drover deploy`): --user, --key, --known-hosts,
 * --accept-new, --connect-timeout, --handshakes-per-target, --ssh-config. A
 * command with `.ssh = true` gets them in its getopt_long table and help
 * (cmd_getopt, cmd_help) and hands them to sshopt_apply. --forks, which
 * those commands also share (SSHOPT_FORKS_OPT), is read by sshopt_forks. */
#ifndef DROVER_SSHOPT_H
#define DROVER_SSHOPT_H

#include "cmd.h"
#include "err.h"
#include "ssh.h"

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>

/* getopt_long values of our flags (above any short option character). */
enum sshopt_id {
    SSHOPT_USER = 0x2000,
    SSHOPT_KEY,
    SSHOPT_KNOWN_HOSTS,
    SSHOPT_ACCEPT_NEW,
    SSHOPT_CONNECT_TIMEOUT,
    SSHOPT_HANDSHAKES,
    SSHOPT_SSH_CONFIG
};

/* The --ssh-config row, also taken alone by plan and validate. */
#define SSHOPT_CONFIG_OPT                                                      \
    {                                                                          \
        "ssh-config", SSHOPT_SSH_CONFIG, 0, "FILE|none",                       \
            "OpenSSH client config: its HostName gives ssh hosts their "       \
            "address "                                                         \
            "(default ~/.ssh/config; docs/ssh.md)"                             \
    }

/* --forks: hosts in flight at once, for run, deploy and resume alike. */
enum { SSHOPT_FORKS_DEFAULT = 32, SSHOPT_FORKS_MAX = 10000 };

/* The --forks row of those commands (read it with sshopt_forks). */
#define SSHOPT_FORKS_OPT                                                       \
    {                                                                          \
        "forks", 'f', CMD_OPT_SHORT, "N",                                      \
            "hosts in flight at once (1 to 10000, default 32)"                 \
    }

/* Number of SSH options (sshopt_opts without its terminator). */
enum { SSHOPT_COUNT = 7 };

/* The options with their help, CMD_OPT_END last: a command with
 * `.ssh = true` (cmd.h) takes them all; cmd_getopt splices them in. */
extern const struct cmd_opt sshopt_opts[SSHOPT_COUNT + 1];

/* True when opt (a getopt_long return value) is one of ours. */
bool sshopt_is(int opt);

/* Apply flag opt with its argument to o. ERR_USAGE names the flag and
 * what it expects (a bad duration, a number out of range). Strings are
 * borrowed from arg (argv lives as long as the command). */
enum err_code sshopt_apply(struct ssh_options *o, int opt, const char *arg,
                           struct err *e);

/* --forks N into *forks: ERR_USAGE unless N is 1..SSHOPT_FORKS_MAX. */
enum err_code sshopt_forks(const char *arg, int *forks, struct err *e);

/* Read the ssh config o names (--ssh-config FILE, none, or
 * ~/.ssh/config if it exists: sshconfig_open) once for the command, and
 * hand it to o (config, config_read) so the ssh transport does not read
 * it again. *out (NULL: no config) is freed by the caller with
 * sshconfig_free once the transport is gone. ERR_PARSE with
 * file:line:col, ERR_SYS for an unreadable file. */
enum err_code sshopt_config(struct ssh_options *o, struct sshconfig **out,
                            struct err *e);

#endif
