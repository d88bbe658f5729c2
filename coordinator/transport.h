/* coordinator/transport.h: one interface for running commands on hosts,
 * with several implementations of the same semantics (ssh, agent, local).
 *
 * A transport is process-wide state for one kind (keys, known hosts, the
 * agent socket); a conn is one host reached through it. A conn is opened
 * once and reused by every step; it runs one command at a time. Everything
 * is asynchronous on the common loop: calls return at once, and results
 * arrive through the conn's callbacks. No callback is made after
 * conn_close(). */
#ifndef DROVER_TRANSPORT_H
#define DROVER_TRANSPORT_H

#include "err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct conn;
struct transport;
struct transport_kind;
struct sshconfig_host;

/* Where a host is (borrowed strings, copied by connect). */
struct target {
    const char *name;                  /* inventory_hostname, for messages */
    const char *address;               /* ansible_host, or the name */
    int port;                          /* 0: the transport's default */
    const char *user;                  /* NULL: the transport's default */
    const struct transport_kind *kind; /* which transport reaches it
                                          (drover_transport, resolved
                                          once: transports.h); NULL: the
                                          default, ssh */
    const char *agent_key; /* pinned agent key (drover_agent_key), or
                              NULL */
    const char *key_file;  /* ssh private key
                              (ansible_ssh_private_key_file), or NULL */
    const struct sshconfig_host *ssh_host; /* the ssh config's answer for
                                              address, looked up once in
                                              the config the ssh transport
                                              has (hostaddr_map); NULL:
                                              the transport looks it up */
};

/* One command to run. */
struct exec_spec {
    const char *command; /* shell command line; never holds secrets */
    const void *input;   /* bytes written to stdin, then EOF (may be NULL):
                            secrets travel here */
    size_t input_len;    /* length of input */
    int64_t timeout_ms;  /* 0: none; on expiry the remote process is killed */
};

/* How a command ended. */
enum exec_end {
    EXEC_EXITED,   /* exited; exit_code is valid */
    EXEC_SIGNALED, /* killed by a signal; signal names it */
    EXEC_TIMEOUT,  /* exceeded timeout_ms and was killed */
    EXEC_FAILED,   /* could not run or the connection was lost: err */
    EXEC_CANCELLED /* conn_cancel() */
};

struct exec_result {
    enum exec_end end;  /* how it ended */
    int exit_code;      /* EXEC_EXITED: the status */
    char signal[32];    /* EXEC_SIGNALED: "KILL", "SEGV", ... */
    struct err err;     /* EXEC_FAILED/TIMEOUT: what happened */
    int64_t elapsed_ms; /* from start to end */
};

/* True when the command exited with status 0. */
bool exec_result_ok(const struct exec_result *r);

/* Describe r in words ("exit 3", "killed by signal KILL", "timed out after
 * 2s") into out; returns out. */
const char *exec_result_str(const struct exec_result *r, char *out,
                            size_t outlen);

enum { EXEC_STDOUT = 1, EXEC_STDERR = 2 };

struct conn_cb {
    /* The connection is ready (e == NULL) or could not be opened (e set:
     * ERR_UNREACHABLE, ERR_HOSTKEY, ERR_AUTH, ERR_TIMEOUT, ...). */
    void (*opened)(struct conn *c, const struct err *e, void *arg);
    /* Output of the running command, in order per stream. */
    void (*output)(struct conn *c, int stream, const char *data, size_t len,
                   void *arg);
    /* The running command ended. */
    void (*done)(struct conn *c, const struct exec_result *r, void *arg);
};

/* What a transport does by itself, so the engine never asks its name. */
enum transport_cap {
    /* Keeps each job's result by job id and checks the fencing epoch in
     * every message itself (agents): the engine names each step's job
     * with conn_set_job, and asking again for an id returns its result. */
    TRANSPORT_CAP_JOBS = 1 << 0,
    /* A remote shell that knows nothing of fencing or jobs (ssh): the
     * engine wraps every command in the host-side wrapper of fence.h,
     * which fences, records and detaches it. */
    TRANSPORT_CAP_SHELL = 1 << 1
};

/* Implementations fill this table; callers use the wrappers below. */
struct transport_ops {
    const char *name;
    unsigned caps; /* enum transport_cap bits */
    struct conn *(*connect)(struct transport *t, const struct target *tg,
                            const struct conn_cb *cb, void *arg);
    enum err_code (*exec)(struct conn *c, const struct exec_spec *s,
                          struct err *e);
    void (*cancel)(struct conn *c);
    void (*close)(struct conn *c);
    void (*free)(struct transport *t);
    /* TRANSPORT_CAP_JOBS: the job id of the next exec (NULL otherwise) */
    enum err_code (*set_job)(struct conn *c, const char *job_id, struct err *e);
};

/* Embedded first in every implementation's transport. */
struct transport {
    const struct transport_ops *ops; /* the implementation */
};

/* Embedded first in every implementation's conn. */
struct conn {
    struct transport *t;      /* owner */
    const struct conn_cb *cb; /* callbacks (borrowed) */
    void *arg;                /* passed to the callbacks */
};

/* Start opening a connection to tg; cb->opened reports the outcome.
 * Never NULL. */
struct conn *transport_connect(struct transport *t, const struct target *tg,
                               const struct conn_cb *cb, void *arg);

/* Run a command on an open, idle conn; cb->output/cb->done report it. */
enum err_code conn_exec(struct conn *c, const struct exec_spec *s,
                        struct err *e);

/* The capabilities (enum transport_cap) of the transport c belongs to. */
unsigned conn_caps(const struct conn *c);

/* TRANSPORT_CAP_JOBS: run the next conn_exec of c as job job_id (a
 * journaled id: asking again returns the stored result). ERR_INVALID
 * when the id is not valid or the transport keeps no jobs. */
enum err_code conn_set_job(struct conn *c, const char *job_id, struct err *e);

/* Kill the running command (done arrives with EXEC_CANCELLED). */
void conn_cancel(struct conn *c);

/* Close and free; kills a running command; no callback afterwards.
 * NULL is a no-op. */
void conn_close(struct conn *c);

/* Free the transport after all its conns are closed. NULL is a no-op. */
void transport_free(struct transport *t);

#endif
