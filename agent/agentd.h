/* agent/agentd.h: one drover-agent: a CURVE-server ROUTER socket on the
 * loop, the protocol's dispatch table, running jobs, the job store and the
 * fencing epoch. `--simulate N` runs N of these in one process and one
 * loop, sharing one socket, the ZAP handler and the job table. */
#ifndef DROVER_AGENTD_H
#define DROVER_AGENTD_H

#include "err.h"
#include "keyfile.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;
struct job_table;
struct agentd;
struct agentd_sock;

enum {
    AGENTD_PORT = 7447,              /* default listen port */
    AGENTD_OUTPUT_MAX = 1024 * 1024, /* default output cap per job */
    AGENTD_MAX_JOBS = 64,            /* concurrent jobs */
    AGENTD_HEARTBEAT_MS = 2000,      /* ZMTP heartbeat interval */
    AGENTD_STALL_MS = 60000,         /* unacked output -> discard */
    AGENTD_BAD_FRAMES = 10,          /* garbage in a row -> ignored */
    AGENTD_IGNORE_MS = 60000,        /* how long */
};

struct agentd_options {
    const char *name;          /* for logs: "agent", "sim-17" */
    const char *listen;        /* endpoint to bind (tcp://0.0.0.0:7447) */
    const struct keypair *key; /* the agent's CURVE key pair (borrowed) */
    const char *state_dir;     /* results and epoch; NULL: memory only */
    bool exec_none;            /* answer EXEC at once (--simulate-exec) */
    uint64_t output_max;       /* output cap per job; 0: default */
    size_t max_jobs;           /* 0: default */
    int64_t kill_grace_ms;     /* TERM -> KILL; 0: the job default */
};

/* The ROUTER socket all agents of the process share (one zmq_poll item
 * however many agents --simulate runs). Each agent binds its endpoint on
 * it with its own CURVE key and ZAP domain; the ZAP handler's User-Id
 * ("KEY DOMAIN") tells which agent a message is for. The ZAP handler must
 * already be bound in zctx. heartbeat_ms 0: AGENTD_HEARTBEAT_MS; < 0: no
 * ZMTP heartbeats nor handshake timer (--simulate: thousands of
 * connections). */
struct agentd_sock *agentd_sock_new(struct loop *l, void *zctx,
                                    int heartbeat_ms, struct err *e);
/* After every agent on it is freed. NULL is a no-op. */
void agentd_sock_free(struct agentd_sock *s);

/* Bind o->listen on s and start serving. NULL with e set (a bind failure
 * names the endpoint). */
struct agentd *agentd_new(struct agentd_sock *s, struct job_table *jt,
                          const struct agentd_options *o, struct err *e);

/* Stop taking work: running jobs are killed (TERM, then KILL) and their
 * results stored and sent, so nothing is orphaned. */
void agentd_shutdown(struct agentd *a);

/* Jobs still running. */
size_t agentd_running(const struct agentd *a);

/* The state directory (NULL in memory-only mode). Borrowed. */
const char *agentd_state_dir(const struct agentd *a);

/* Delete stored results older than max_age_ms; returns how many. */
size_t agentd_prune(struct agentd *a, int64_t max_age_ms);

/* The endpoint actually bound (resolves port 0 / wildcards). Borrowed. */
const char *agentd_endpoint(const struct agentd *a);

/* Close the socket, free everything; running jobs are killed silently.
 * NULL is a no-op. */
void agentd_free(struct agentd *a);

#endif
