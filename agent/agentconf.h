/* agent/agentconf.h: drover-agent's configuration file
 * (/etc/drover/agent.conf, or --config FILE): `key = value` lines, '#'
 * comments, each line read whole (common/linefile.h: a comment of any
 * length is skipped, any other line over LINEFILE_MAX bytes is an error).
 * Unknown keys and bad values are errors naming file:line:col.
 * docs/agent.md lists the keys. */
#ifndef DROVER_AGENTCONF_H
#define DROVER_AGENTCONF_H

#include "err.h"
#include "log.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AGENTCONF_PATH "/etc/drover/agent.conf"

struct agentconf {
    char *listen;             /* endpoint to bind */
    char *key;                /* the agent's secret key file */
    char *authorized_keys;    /* coordinator public keys */
    char *state_dir;          /* job results and the epoch */
    uint64_t output_max;      /* output cap per job, bytes */
    size_t max_jobs;          /* concurrent jobs */
    int64_t heartbeat_ms;     /* ZMTP heartbeat interval */
    int64_t kill_grace_ms;    /* TERM -> KILL */
    int64_t retention_ms;     /* how long job results are kept */
    enum log_level log_level; /* log verbosity */
    bool announce_key;        /* serve the public key on port + 1 */
};

/* Fill c with the defaults. */
void agentconf_init(struct agentconf *c);
/* Free the strings. */
void agentconf_release(struct agentconf *c);

/* Read path over the current values. A missing file is ERR_NOTFOUND
 * (the caller decides whether the default path may be absent). */
enum err_code agentconf_load(struct agentconf *c, const char *path,
                             struct err *e);

/* Set one key from text (also for command-line overrides); where names the
 * source for messages ("agent.conf:3:9"). */
enum err_code agentconf_set(struct agentconf *c, const char *key,
                            const char *value, const char *where,
                            struct err *e);

#endif
