/* coordinator/gate.h: a host's health gate. Probes every check each
 * interval until all have passed continuously for min_healthy_time (the
 * soak timer restarts when any check regresses), or the healthy_deadline
 * passes: then the host has failed its gate. "Not yet" answers before the
 * deadline are waited out. */
#ifndef DROVER_GATE_H
#define DROVER_GATE_H

#include "health.h"
#include "transport.h"

struct gate;
struct rollout_check;

/* Each check is probed by its kind (check.h): from the coordinator, or on
 * the host through the exec ops (gate_set_exec). */
struct gate_spec {
    const struct rollout_check *checks; /* all must pass (borrowed) */
    size_t nchecks;                     /* number of checks */
    int64_t interval_ms;                /* between probe rounds */
    int64_t min_healthy_ms;             /* soak; 0: the first passing round */
    int64_t healthy_deadline_ms;        /* from gate_start to give up */
    bool one_round;                     /* judge the first complete round:
                                           pass, or fail at once (a question,
                                           not a wait: the singleton check) */
    bool rolled_back;                   /* the old release is back: checks
                                           do not expect the new version */
};

/* Defaults for the zero values of interval_ms and healthy_deadline_ms
 * (Nomad's update block uses the same 5 minutes). */
enum { GATE_DEFAULT_INTERVAL_MS = 2000, GATE_DEFAULT_DEADLINE_MS = 300000 };

/* The verdict and its evidence. */
struct gate_result {
    bool healthy;             /* passed the gate */
    int64_t elapsed_ms;       /* from start to verdict */
    unsigned rounds;          /* probe rounds run */
    unsigned regressions;     /* times a running soak was reset */
    size_t failed_check;      /* index of the check that failed */
    struct probe_result last; /* last probe of failed_check (or of
                                 the last check when healthy) */
    char reason[256];         /* the verdict in words */
};

typedef void gate_done_fn(const struct gate_result *r, void *arg);

/* Start gating host (name for messages); fn is called once, from the loop.
 * The spec and its strings must outlive the gate. */
struct gate *gate_start(struct health *h, struct loop *l,
                        const struct gate_spec *s, const char *host,
                        gate_done_fn *fn, void *arg);

/* Stop and free; fn is not called afterwards. NULL is a no-op. May be
 * called from fn. */
void gate_free(struct gate *g);

/* Every probe's outcome, as it comes (for the journal and the live view);
 * r->body is borrowed during the call. fn must not free the gate. */
typedef void gate_probe_fn(const char *host, size_t check,
                           const struct probe_result *r, void *arg);
void gate_on_probe(struct gate *g, gate_probe_fn *fn, void *arg);

/* Checks whose kind runs on the host (check_kind.exec) run through the
 * transport connection the caller owns. The gate runs at most one command
 * at a time per host (a conn runs one command at a time): start runs s on
 * host and reports once with gate_exec_done(x, ...), from the loop or from
 * inside start; cancel abandons it (no report afterwards). A gate with
 * such checks and no exec ops fails those checks. Verdicts: exit 0
 * pass; a timeout or a lost connection not yet; any other exit or a signal
 * fail. Call gate_set_exec right after gate_start. */
struct gate_exec;
struct gate_exec_ops {
    void (*start)(struct gate_exec *x, const char *host,
                  const struct exec_spec *s, void *arg);
    void (*cancel)(struct gate_exec *x, void *arg);
};
void gate_set_exec(struct gate *g, const struct gate_exec_ops *ops, void *arg);
/* Report the command started with x; ignored once x was cancelled. */
void gate_exec_done(struct gate_exec *x, const struct exec_result *r);

#endif
