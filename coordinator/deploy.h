/* coordinator/deploy.h: roll a resolved plan (a rollout) across its hosts
 * wave by wave: in each wave every host runs its steps through its
 * transport (at most `forks` hosts at a time), then passes its health gate;
 * the next wave starts only when every host of this one is healthy. A
 * failed step, gate or connection fails the host, and a failed host stops
 * the deploy before the next wave. All of it runs on one loop. */
#ifndef DROVER_DEPLOY_H
#define DROVER_DEPLOY_H

#include "err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct health;
struct loop;
struct rollout;
struct transport;

struct deploy_options {
    int forks;         /* hosts connecting or running steps at once */
    bool verbose;      /* stream every output line, prefixed */
    size_t output_cap; /* bytes of output kept per host */
    FILE *out;         /* progress and summary (stdout) */
};

/* Per-host outcome. */
enum deploy_host_state {
    DH_PENDING,     /* its wave has not started */
    DH_CONNECTING,  /* opening its connection */
    DH_RUNNING,     /* running its steps */
    DH_GATING,      /* steps done, waiting for its health gate */
    DH_HEALTHY,     /* deployed and healthy */
    DH_FAILED,      /* a step or its gate failed */
    DH_UNREACHABLE, /* could not be reached */
    DH_SKIPPED      /* never started: the deploy stopped before its wave */
};

/* The verdict of a whole deploy. */
struct deploy_result {
    bool ok;            /* every host deployed and healthy */
    size_t healthy;     /* hosts deployed and healthy */
    size_t failed;      /* hosts that failed a step or gate */
    size_t unreachable; /* hosts that could not be reached */
    size_t skipped;     /* hosts never started */
    size_t waves_done;  /* waves that completed */
    int64_t elapsed_ms; /* wall time */
};

struct deploy;

/* A deploy of ro over transport t, gated through h, on loop l (all
 * borrowed; they must outlive the deploy). */
struct deploy *deploy_new(struct loop *l, const struct rollout *ro,
                          struct transport *t, struct health *h,
                          const struct deploy_options *o);

/* NULL is a no-op. */
void deploy_free(struct deploy *d);

/* Run the deploy to its end on the loop; fills res. Returns ERR_OK when
 * the deploy ran (whatever its verdict), or an error if the loop failed. */
enum err_code deploy_run(struct deploy *d, struct deploy_result *res,
                         struct err *e);

/* State of host i of the rollout (tests). */
enum deploy_host_state deploy_host_state(const struct deploy *d, size_t i);

/* Name of a state ("healthy", "failed", ...). */
const char *deploy_state_name(enum deploy_host_state s);

#endif
