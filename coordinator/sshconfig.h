/* coordinator/sshconfig.h: the operator's OpenSSH client configuration
 * (~/.ssh/config), the subset drover's ssh transport honours, with
 * OpenSSH's semantics: Host blocks (patterns with * ? and ! negation),
 * first obtained value wins, Include with globs. Read once per process
 * (sshconfig_load), then asked once per host (sshconfig_lookup).
 * docs/ssh.md lists the keywords and how they meet inventory variables
 * and flags. */
#ifndef DROVER_SSHCONFIG_H
#define DROVER_SSHCONFIG_H

#include "err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    SSHCONFIG_FILE_MAX = 1024 * 1024, /* largest config file read */
    SSHCONFIG_DEPTH_MAX = 16,         /* Include nesting (OpenSSH's) */
    SSHCONFIG_IDENTITY_MAX = 100      /* IdentityFile entries per host */
};

/* StrictHostKeyChecking, as it was written. */
enum sshconfig_strict {
    SSHCONFIG_STRICT_UNSET,      /* not given */
    SSHCONFIG_STRICT_YES,        /* yes, ask: unknown keys refused */
    SSHCONFIG_STRICT_ACCEPT_NEW, /* accept-new */
    SSHCONFIG_STRICT_NO          /* no, off: drover treats it as accept-new */
};

/* Where a value came from. */
struct sshconfig_where {
    const char *file; /* the config file (borrowed), NULL: not set */
    int line;         /* its line, from 1 */
};

struct sshconfig;

/* What the configuration says about one host alias. Strings are borrowed
 * from the config, except hostname; unset values are NULL or 0. */
struct sshconfig_host {
    char *hostname;   /* HostName with %h expanded, canonical as
                         sshconfig_canon_host (owned), or NULL */
    const char *user; /* User */
    int port;         /* Port, 0: not set */
    const char *identity[SSHCONFIG_IDENTITY_MAX]; /* IdentityFile values, in
                                                     order, unexpanded, each
                                                     once */
    size_t nidentity;                             /* entries in identity */
    const char *known_hosts;          /* UserKnownHostsFile's first entry,
                                         unexpanded */
    enum sshconfig_strict strict;     /* StrictHostKeyChecking */
    struct sshconfig_where strict_at; /* where strict was set */
    int64_t connect_timeout_ms;       /* ConnectTimeout; 0: not set */
    int64_t alive_ms;                 /* ServerAliveInterval; -1: not set,
                                         0: off */
    const char *proxy;                /* "ProxyJump" or "ProxyCommand" when
                                         one (not "none") is in effect */
    struct sshconfig_where proxy_at;  /* where it was set */
};

/* Values for the %-tokens of IdentityFile and UserKnownHostsFile. */
struct sshconfig_tokens {
    const char *home;  /* %d, and ~ */
    const char *host;  /* %h: the host name connected to */
    const char *alias; /* %n, %k: the alias looked up */
    int port;          /* %p */
    const char *ruser; /* %r: the remote user */
    const char *luser; /* %u: the local user */
};

/* Read the configuration at path; relative Include paths are taken from
 * home/.ssh (OpenSSH's rule for user files). A Match block is warned
 * about once (file:line) and ignored. ERR_SYS when a file cannot be
 * read, ERR_PARSE with file:line:col and what to do for bad input; NULL
 * is never returned with ERR_OK. sshconfig_free releases it. */
enum err_code sshconfig_load(const char *path, const char *home,
                             struct sshconfig **out, struct err *e);

/* The configuration a command uses, read once: file, or "none" (no
 * configuration), or NULL: home/.ssh/config when it exists. *out is NULL
 * when there is none (sshconfig_absent says why). Errors as
 * sshconfig_load; an unreadable file says to fix it or pass
 * --ssh-config none. */
enum err_code sshconfig_open(const char *file, const char *home,
                             struct sshconfig **out, struct err *e);

/* Why sshconfig_open(file, home) gave no configuration, for messages.
 * Caller frees. */
char *sshconfig_absent(const char *file, const char *home);

/* NULL is a no-op. */
void sshconfig_free(struct sshconfig *c);

/* The path given to sshconfig_load. Borrowed. */
const char *sshconfig_path(const struct sshconfig *c);

/* Number of option and Host lines read, Include files included. */
size_t sshconfig_count(const struct sshconfig *c);

/* Fill out with what applies to alias (first obtained value wins).
 * ERR_LIMIT names the file:line of an IdentityFile past
 * SSHCONFIG_IDENTITY_MAX. sshconfig_host_release frees out. */
enum err_code sshconfig_lookup(const struct sshconfig *c, const char *alias,
                               struct sshconfig_host *out, struct err *e);

void sshconfig_host_release(struct sshconfig_host *h);

/* value with a leading ~ (or ~user) and its %-tokens expanded (the
 * tokens were checked by sshconfig_load); %h is t->host as
 * sshconfig_canon_host writes it. Caller frees. */
char *sshconfig_expand(const char *value, const struct sshconfig_tokens *t);

/* The destination host name as OpenSSH's ssh makes it from the alias or
 * HostName (what its %h, `ssh -G`'s hostname and its known_hosts lookup
 * use): a numeric address in the form getnameinfo gives (127.1 is
 * 127.0.0.1; one that differs only in case is kept), any other name in
 * lowercase. Host patterns are matched against the alias as written, not
 * this. No DNS. Caller frees. */
char *sshconfig_canon_host(const char *name);

/* True when name matches one of the n Host patterns (* and ?) and none
 * of the negated ones (a leading !), as OpenSSH's Host line. */
bool sshconfig_match(const char *const *patterns, size_t n, const char *name);

#endif
