/* coordinator/ssh.h: the ssh transport (coordinator/transport.h over
 * libssh2). One non-blocking session per host, driven by the common loop
 * through an explicit state machine; opened once, a new channel per
 * command. Host keys are checked against OpenSSH known_hosts before
 * authentication. A command past its timeout is killed on the host by
 * process group through a second channel. docs/ssh.md has the decisions. */
#ifndef DROVER_SSH_H
#define DROVER_SSH_H

#include "err.h"
#include "transport.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;
struct sshconfig;

enum {
    SSH_DEFAULT_PORT = 22,
    SSH_CONNECT_TIMEOUT_MS = 10000, /* TCP + handshake + auth, retries */
    SSH_KEEPALIVE_MS = 15000,       /* idle sessions send a keepalive */
    SSH_HANDSHAKES_PER_TARGET = 8,  /* under sshd's MaxStartups 10 */
    SSH_KILL_GRACE_MS = 1000,       /* TERM, then KILL after this */
    SSH_KILL_GIVE_UP_MS = 10000,    /* after a timeout's kill, stop waiting */
    SSH_CANCEL_GIVE_UP_MS = 3000,   /* after a cancel's kill (Ctrl-C,
                                       SIGTERM), stop waiting */
    SSH_RETRY_BASE_MS = 50,         /* first MaxStartups retry delay */
    SSH_RETRY_MAX_MS = 1000,        /* retry delay cap (before jitter) */
    SSH_PGID_LINE_MAX = 4096,       /* stderr scanned for the pgid line */
    SSH_BANNER_MAX = 8192,          /* bytes the server may send before
                                       and with its version line */
    SSH_PREAUTH_MAX = 256 * 1024,   /* bytes it may send before
                                       authentication has ended */
    SSH_TURN_RECV_MAX = 256 * 1024  /* bytes read from one session in one
                                       loop turn, so no peer holds it */
};

/* Settings of the transport; strings are copied by ssh_transport_new. */
struct ssh_options {
    const char *user;           /* login user when the target has none
                                   (beats the ssh config's User); NULL:
                                   the config's, else $USER, else root */
    const char *key_file;       /* private key (ed25519 or ECDSA); NULL:
                                   the config's IdentityFiles, else
                                   ~/.ssh/id_ed25519 if it exists, else
                                   ssh-agent ($SSH_AUTH_SOCK) */
    const char *known_hosts;    /* NULL: the config's UserKnownHostsFile,
                                   else ~/.ssh/known_hosts */
    const char *config_file;    /* OpenSSH client config; NULL:
                                   ~/.ssh/config if it exists; "none": no
                                   config (coordinator/sshconfig.h) */
    bool accept_new;            /* trust unknown hosts and record them */
    int64_t connect_timeout_ms; /* 0: SSH_CONNECT_TIMEOUT_MS */
    int64_t keepalive_ms;       /* 0: SSH_KEEPALIVE_MS; < 0: none */
    int handshakes_per_target;  /* 0: SSH_HANDSHAKES_PER_TARGET */
    int port;                   /* 0: SSH_DEFAULT_PORT */
    /* With config_read: what config_file gave (NULL: no config),
     * borrowed for the transport's life. */
    const struct sshconfig *config;
    /* config_file was read already (sshopt_config): not read again. */
    bool config_read;
};

/* Defaults (all zero/NULL). */
void ssh_options_init(struct ssh_options *o);

/* A new ssh transport on loop l. Reads the key (refusing RSA and DSA
 * keys with a plain message: libssh2 1.10 cannot sign rsa-sha2),
 * known_hosts and the ssh config (once, for every host; unless the
 * caller read it: o->config_read) now, so a bad file fails before any
 * host is contacted. Each target's address is
 * looked up in the config as an alias when it connects.
 * NULL with e set on failure; transport_free releases it. */
struct transport *ssh_transport_new(struct loop *l, const struct ssh_options *o,
                                    struct err *e);

/* Per-transport counters (tests, bench). */
struct ssh_stats {
    size_t connects;   /* TCP connections started (retries included) */
    size_t retries;    /* handshakes retried after a MaxStartups drop */
    size_t channels;   /* channels opened (commands and kills) */
    size_t handshakes; /* handshakes in progress right now, all targets */
};
void ssh_transport_stats(const struct transport *t, struct ssh_stats *out);

/* The remote command line for command: reports its process group on
 * stderr (SSH_PGID_TAG), then runs command in the login shell. Caller
 * frees. */
char *ssh_wrap_command(const char *command);

/* The remote command that kills process group pgid: TERM, up to grace_ms
 * to exit, then KILL. Caller frees. */
char *ssh_kill_command(long pgid, int64_t grace_ms);

#define SSH_PGID_TAG "drover-pgid:"

/* If line (len bytes, without its newline) is the pgid report, store the
 * group in *pgid and return true. */
bool ssh_parse_pgid(const char *line, size_t len, long *pgid);

#endif
