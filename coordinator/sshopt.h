/* coordinator/sshopt.h: the SSH flags every command that reaches hosts
 * shares (`drover run`, `drover deploy`): --user, --key, --known-hosts,
 * --accept-new, --connect-timeout, --handshakes-per-target, --ssh-config. A
 * command splices sshopt_long into its getopt_long table and hands the options
 * it does not know itself to sshopt_apply. --forks, which those commands
 * also share, is read by sshopt_forks. */
#ifndef DROVER_SSHOPT_H
#define DROVER_SSHOPT_H

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

/* --forks: hosts in flight at once, for run, deploy and resume alike. */
enum { SSHOPT_FORKS_DEFAULT = 32, SSHOPT_FORKS_MAX = 10000 };

/* Number of entries in sshopt_long (without a terminator). */
enum { SSHOPT_COUNT = 7 };

/* The long options, to copy into a command's table. */
extern const struct option sshopt_long[SSHOPT_COUNT];

/* Usage lines for the flags, for a command's --help. */
extern const char sshopt_usage[];

/* Copy sshopt_long after the n entries already in opts (room for
 * n + SSHOPT_COUNT + 1) and terminate the table. Returns the new count. */
size_t sshopt_append(struct option *opts, size_t n);

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
