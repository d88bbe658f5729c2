/* coordinator/deploy.h: roll a resolved plan (a rollout) across its hosts.
 * Phases in order: prechecks (local, once, each host; a failure refuses
 * the deploy before any change), `before` steps (once per deploy), the
 * waves (each host runs its steps through its transport, at most `forks`
 * hosts at a time, then passes its health gate; after each wave the
 * failure budgets decide whether to go on, and the singleton check counts
 * role holders), then smoke checks on the whole fleet. A budget exceeded
 * (or a failed smoke check) rolls back every changed host, in reverse
 * wave order, each followed by its health gate. Every decision is said in
 * words, as text lines or JSON events. All of it runs on one loop. */
#ifndef DROVER_DEPLOY_H
#define DROVER_DEPLOY_H

#include "err.h"
#include "stepid.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct health;
struct loop;
struct rollout;
struct store;
struct transport;

/* The check evidence (phase "singleton") a deploy journals, host by host,
 * when it asks who holds the singleton role before any change: verdict
 * "active" names the holder a rollback puts the role back on. */
#define DEPLOY_SINGLETON_BEFORE "holder before the deploy"
/* What to do with an in-flight step whose host cannot tell whether it ran
 * (--skip-step / --retry-step, docs/deploy.md). */
enum deploy_decision {
    DEPLOY_ASK,  /* nothing decided: the host fails, the deploy pauses */
    DEPLOY_SKIP, /* count it as completed */
    DEPLOY_RETRY /* run it again, under a new id */
};

/* A step the journal shows started and never ended (resume). The engine
 * asks the host about it under its journaled id before anything else on
 * that host in that phase: an agent answers by job id, an SSH host by its
 * step record (fence.h); its outcome completes the journaled row. */
struct deploy_inflight {
    const char *host;              /* inventory name; NULL: a local step */
    enum stepid_phase phase;       /* its phase */
    unsigned step;                 /* index in the phase's list */
    unsigned pass;                 /* journaled pass */
    unsigned attempt;              /* journaled attempt */
    uint64_t gen;                  /* journaled generation */
    int64_t row;                   /* its journal row (store_step_outcome) */
    enum deploy_decision decision; /* if the host cannot tell */
};

/* The attempts of a step on a host that the journal shows ended, in the
 * run being continued (resume): its next attempt goes on from them. */
struct deploy_tries {
    unsigned next;  /* the attempt to run: one past the last journaled */
    unsigned spent; /* those that used its retries (failed, timed out,
                       unreachable; a cancelled one did not) */
};

/* A step of a deploy this one superseded, journaled in flight: its
 * coordinator died during it, and the SSH wrapper may still run it on its
 * host. The host waits for it to end before this deploy changes it. */
struct deploy_orphan {
    const char *host;   /* inventory name */
    const char *job_id; /* its step id (stepid.h), as journaled */
};

struct deploy_options {
    int forks;               /* hosts connecting or running steps at once */
    bool verbose;            /* stream every output line, prefixed */
    bool quiet;              /* text: only errors, decisions and the
                                summary */
    size_t output_cap;       /* bytes of output kept per host */
    FILE *out;               /* progress and summary (stdout) */
    bool json;               /* one JSON event per line instead of text */
    bool live;               /* a terminal: keep a live status line */
    bool canary_only;        /* stop (paused) after the first wave */
    size_t start_wave;       /* resume: waves before it are done */
    struct transport *local; /* for `on: local` steps; NULL: they fail */
    struct store *store;     /* the journal, or NULL (tests) */
    const char *deploy_id;   /* its id (DEP-...), with store */
    uint64_t epoch;          /* fencing epoch; 0: no fencing */
    const char *who;         /* this coordinator for hosts' fence records
                                (fence_who), or NULL */
    /* resuming a deploy from its journal (all may be NULL) */
    const bool *done_hosts;         /* [host]: healthy already in start_wave */
    const bool *changed_hosts;      /* [host]: changed already (rollback) */
    const unsigned char *step_done; /* [host * nsteps + step]: ran ok */
    const unsigned char *rollback_done;    /* [host * nrollback_steps + step]:
                                              ran ok in the rollback this
                                              run continues */
    const struct deploy_tries *step_tries; /* [host * nsteps + step]:
                                              attempts journaled */
    const struct deploy_tries *rollback_tries; /* [host * nrollback_steps +
                                                  step]: the same, in the
                                                  rollback continued */
    const struct deploy_tries *before_tries;   /* [step]: the same, of the
                                                  `before` steps */
    bool rollback_only; /* roll back changed_hosts, from start_wave
                           down; nothing is deployed */
    const struct deploy_inflight *inflight; /* steps in flight, or NULL */
    size_t ninflight;                       /* entries */
    const char *singleton_origin;    /* continuing: who held the singleton
                                        role before the deploy (journaled),
                                        "" nobody; NULL: unknown */
    const char *const *host_reasons; /* [host]: journaled failure reason,
                                        kept through a failed rollback
                                        (may be NULL, entries too) */
    size_t before_left; /* resume: the last before_left `before` steps
                           (rollout order) are not journaled ok: run them
                           before the first wave (0: none) */
    const struct deploy_orphan *orphans; /* steps of superseded deploys in
                                            flight, or NULL */
    size_t norphans;                     /* entries */
    bool prechecks_again; /* resume of a deploy that died in its prechecks:
                             start over from them (a precheck changes
                             nothing; its answer then may be stale) */
};

/* Per-host outcome. */
enum deploy_host_state {
    DH_PENDING,         /* its wave has not started */
    DH_CONNECTING,      /* opening its connection */
    DH_RUNNING,         /* running commands */
    DH_GATING,          /* commands done, waiting for its health gate */
    DH_HEALTHY,         /* deployed and healthy */
    DH_FAILED,          /* a step or its gate failed */
    DH_UNREACHABLE,     /* could not be reached */
    DH_SKIPPED,         /* never started: the deploy stopped first */
    DH_ROLLED_BACK,     /* rolled back and healthy on the old version */
    DH_ROLLBACK_FAILED, /* its rollback failed: needs a human */
    DH_STATE_COUNT
};

/* The verdict of a whole deploy. */
enum deploy_verdict {
    DV_SUCCESS,         /* every host deployed and healthy */
    DV_FAILED,          /* hosts failed; nothing rolled back */
    DV_ROLLED_BACK,     /* a budget was exceeded and rollback succeeded */
    DV_ROLLBACK_FAILED, /* rollback failed on some hosts */
    DV_PAUSED,          /* stopped on purpose (canary, Ctrl-C, pause) */
    DV_REFUSED          /* a precheck failed: nothing was changed */
};

struct deploy_result {
    enum deploy_verdict verdict; /* what happened */
    bool ok;                     /* verdict == DV_SUCCESS */
    size_t healthy;              /* hosts deployed and healthy */
    size_t failed;               /* hosts that failed a step or gate */
    size_t unreachable;          /* hosts that could not be reached */
    size_t skipped;              /* hosts never started */
    size_t rolled_back;          /* hosts rolled back */
    size_t rollback_failed;      /* hosts whose rollback failed */
    size_t waves_done;           /* waves that completed */
    int64_t elapsed_ms;          /* wall time */
    char decision[512];          /* the deciding event, in words */
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

/* Ctrl-C: the first call stops launching work and pauses after the
 * commands in flight; the second cancels the running commands too (as
 * deploy_terminate). During a rollback the first lets it go on: a
 * rollback is finished or cancelled, never paused half-way. */
void deploy_interrupt(struct deploy *d);

/* SIGTERM (a CI system cancelling the job): at once what two Ctrl-C do.
 * Launches nothing more, cancels the running commands (killed on their
 * hosts), fails the hosts still connecting or gating, then pauses the
 * deploy (resumable); a rollback is cut after its current wave, whose
 * cancelled hosts are rollback-failed. Later calls, and later Ctrl-C, do
 * nothing more. */
void deploy_terminate(struct deploy *d);

/* A host state as events, JSON and the summary name it ("healthy",
 * "rolled-back", ...). */
const char *deploy_state_name(enum deploy_host_state s);

/* A host state as the journal keeps it ("healthy", "rolled back", ...). */
const char *deploy_state_word(enum deploy_host_state s);

/* The host state s names, in either spelling ("rolled-back" or "rolled
 * back"); false if none (NULL too). */
bool deploy_state_parse(const char *s, enum deploy_host_state *out);

/* The verdict's name ("succeeded", "rolled back", ...). */
const char *deploy_verdict_name(enum deploy_verdict v);

#endif
