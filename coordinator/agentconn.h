/* coordinator/agentconn.h: the agent transport (coordinator/transport.h
 * over drover-agent's protocol, proto/PROTOCOL.md). One ZeroMQ ROUTER
 * socket, a CURVE client, connects to every agent; each connection is
 * named with ZMQ_CONNECT_ROUTING_ID so replies map back to their host in
 * O(1). The agent's public key is pinned per host (inventory
 * `drover_agent_key`, see agentconn_pin, or known_agents); a host whose
 * key is unknown is refused unless accept_new, which fetches the key from
 * the agent's key port on first use and records it, as SSH does (only for
 * a host with no key: never to replace one, whatever a handshake said).
 * Silence past the heartbeat timeout marks a host unreachable.
 * docs/agent.md. */
#ifndef DROVER_AGENTCONN_H
#define DROVER_AGENTCONN_H

#include "err.h"
#include "transport.h"

#include <stdbool.h>
#include <stdint.h>

struct loop;

enum {
    AGENTCONN_PORT = 7447,                 /* drover_agent_port default */
    AGENTCONN_CONNECT_TIMEOUT_MS = 10000,  /* handshake + HELLO */
    AGENTCONN_HEARTBEAT_MS = 2000,         /* PING after this silence */
    AGENTCONN_HEARTBEAT_TIMEOUT_MS = 6000, /* unreachable after this */
    AGENTCONN_RECONNECT_IVL_MAX_MS = 5000, /* longest redial delay */
    AGENTCONN_CONNECT_CONCURRENCY = 1024,  /* handshakes at once */
    AGENTCONN_AUTH_STRIKES = 3,            /* identical unauthenticated
                                              handshake endings in a row
                                              before a key is blamed */
};

/* Settings; strings are copied by agentconn_transport_new. */
struct agent_options {
    const char *key_file;       /* coordinator secret key; NULL:
                                   $XDG_CONFIG_HOME/drover/coordinator.key */
    const char *known_agents;   /* NULL: $XDG_CONFIG_HOME/drover/known_agents */
    bool accept_new;            /* unknown agent: fetch its key, record it */
    int port;                   /* 0: AGENTCONN_PORT */
    uint64_t epoch;             /* fencing epoch sent in every message */
    const char *who;            /* who this coordinator is (fence_who), for
                                   the agents' epoch records; NULL: none */
    const char *deploy_id;      /* job ids are DEPLOY:HOST:N; NULL: a run id */
    int64_t connect_timeout_ms; /* 0: default */
    int64_t heartbeat_ms;       /* 0: default */
    int64_t heartbeat_timeout_ms; /* 0: default */
    uint64_t output_max;          /* per-job output cap asked of the agent;
                                     0: the agent's own */
    int connect_concurrency;      /* handshakes at once; 0: default */
};

/* Defaults (all zero/NULL). */
void agent_options_init(struct agent_options *o);

/* A new agent transport on loop l. Reads the coordinator key now, so a
 * missing or too-open key fails before any host is contacted. NULL with e
 * set on failure; transport_free releases it. */
struct transport *agentconn_transport_new(struct loop *l,
                                          const struct agent_options *o,
                                          struct err *e);

/* Pin host's agent key (Z85, from the inventory's drover_agent_key) before
 * transport_connect; it wins over known_agents (struct target's agent_key,
 * when set, wins over both). host is the target's name; pinning again
 * replaces the key. ERR_INVALID if key is not a Z85 key. */
enum err_code agentconn_pin(struct transport *t, const char *host,
                            const char *key, struct err *e);

/* The job id of the command running (or last run) on c; borrowed. Journal
 * it before the step so a resume can ask for its result. */
const char *agentconn_job_id(const struct conn *c);

/* Use job_id for the next conn_exec on c instead of a generated one
 * (resume: asking again for a journaled job returns its stored result). */
enum err_code agentconn_next_job(struct conn *c, const char *job_id,
                                 struct err *e);

/* Counters (tests, bench). */
struct agentconn_stats {
    size_t conns;      /* open conns */
    size_t ready;      /* authenticated and welcomed */
    uint64_t sent;     /* messages sent */
    uint64_t received; /* messages received */
    uint64_t bad;      /* undecodable messages from agents */
};
void agentconn_transport_stats(const struct transport *t,
                               struct agentconn_stats *out);

#endif
