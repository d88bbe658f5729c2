/* agent/client.h: `drover-agent exec`, a small client that sends one job to
 * one agent and streams its output, for operators checking an agent (and
 * the integration tests). The coordinator's own transport is
 * coordinator/agentconn.c; this speaks the same protocol from the CLI. */
#ifndef DROVER_CLIENT_H
#define DROVER_CLIENT_H

#include "err.h"
#include "keyfile.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Exit statuses of `drover-agent exec` besides the command's own. */
enum {
    CLIENT_EXIT_TIMEOUT = 124,    /* the job timed out */
    CLIENT_EXIT_FAILED = 125,     /* the job could not run */
    CLIENT_EXIT_CANCELLED = 130,  /* the job was cancelled */
    CLIENT_EXIT_REFUSED = 75,     /* the agent answered ERROR */
    CLIENT_EXIT_CONNECT = 76,     /* no authenticated connection */
    CLIENT_EXIT_UNREACHABLE = 77, /* the agent fell silent */
};

struct client_options {
    const char *endpoint;         /* tcp://host:port */
    const char *server_key;       /* the agent's public key, Z85 */
    const struct keypair *key;    /* our key pair */
    const char *job;              /* job id */
    uint64_t epoch;               /* fencing epoch */
    const char *command;          /* NULL with query */
    const char *const *env;       /* "NAME=value", NULL-terminated */
    const void *input;            /* stdin bytes */
    size_t input_len;             /* length of input */
    uint64_t timeout_ms;          /* the job's timeout */
    uint64_t output_max;          /* the job's output cap */
    int64_t cancel_after_ms;      /* send CANCEL after this, 0 never */
    int64_t connect_timeout_ms;   /* handshake deadline */
    int64_t heartbeat_timeout_ms; /* silence that means unreachable;
                                     0: 6000 (PING every third of it) */
    bool query;                   /* JOB_QUERY instead of EXEC */
};

/* Run it; returns the exit status for the CLI (the command's exit status,
 * 128+signal, or one of the CLIENT_EXIT_* codes); messages on stderr. The
 * secret key goes to libzmq, which keeps copies it never wipes: first the
 * process is made non-dumpable (PR_SET_DUMPABLE 0), for good. The caller
 * wipes o->key. */
int client_run(const struct client_options *o);

#endif
