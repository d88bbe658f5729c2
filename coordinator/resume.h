/* coordinator/resume.h: continue a deploy from its journal, in the
 * direction it was going: `drover resume` (a coordinator died, or the
 * deploy paused), `drover promote` (a paused canary goes on), `drover
 * abort` (roll back what an unfinished deploy changed), `drover rollback`
 * (roll back any deploy, finished or not). The plan and inventory are
 * read again from the paths the journal recorded; waves done stay done,
 * hosts already healthy are not touched, steps journaled as done are not
 * run again, nor is any attempt whose outcome is journaled: a step that
 * failed goes on from its next attempt with the retries it has left. A
 * step journaled as started but not finished, in any phase, is asked for
 * again under its journaled id (stepid.h): an agent returns
 * the stored result, an SSH host its step record (fence.h), so it runs
 * exactly once; only when the host cannot tell does the operator decide,
 * per host and step (--retry-step HOST:STEP, --skip-step HOST:STEP). */
#ifndef DROVER_RESUME_H
#define DROVER_RESUME_H

#include "deploy.h"
#include "err.h"
#include "runner.h"
#include "store.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct agent_options;
struct buf;
struct plan;
struct redact;
struct rollout;
struct session_options;
struct ssh_options;

enum resume_mode {
    RESUME_CONTINUE, /* resume: same direction */
    RESUME_PROMOTE,  /* promote: a paused deploy goes on */
    RESUME_ABORT,    /* abort: roll back an unfinished deploy */
    RESUME_ROLLBACK  /* rollback: roll back any deploy */
};

/* Where a journaled deploy stands, for the engine's resume options. */
struct resume_point {
    size_t start_wave;               /* first wave not done */
    bool *done_hosts;                /* [host] healthy already (start_wave) */
    bool *changed_hosts;             /* [host] changed: a deploy step was
                                        started there (journaled intent) */
    unsigned char *step_done;        /* [host * nsteps + step] ran ok */
    size_t last_wave;                /* highest wave any host started */
    bool rolling_back;               /* the journal says "rolling back" */
    unsigned char *rollback_done;    /* [host * nrollback_steps + step] ran ok
                                        in the rollback being continued */
    struct deploy_tries *step_tries; /* [host * nsteps + step] attempts
                                        that ended without success (pass 0) */
    struct deploy_tries *rollback_tries; /* [host * nrollback_steps + step]
                                            the same, in the rollback being
                                            continued */
    struct deploy_tries *before_tries;   /* [step] the same, of `before` */
    struct deploy_inflight *inflight;    /* steps in flight (host names
                                            borrowed from the rollout) */
    size_t ninflight;                    /* entries */
    struct deploy_orphan *orphans;       /* restarts of a done host (a singleton
                                            hand-over, pass > 0) in flight: the
                                            host waits for them before it runs
                                            steps again (strings borrowed) */
    size_t norphans;                     /* entries */
    size_t before_left;   /* `before` steps not journaled ok (deploy.h) */
    bool nothing_changed; /* it died before any change (in its prechecks):
                             no wave, `before` or rollback step began */
};

/* An operator's answer for in-flight steps whose host cannot tell
 * (--skip-step [HOST:STEP], --retry-step [HOST:STEP]). */
struct resume_decision {
    const char *host;              /* NULL: every host */
    const char *step;              /* NULL: every step */
    enum deploy_decision decision; /* DEPLOY_SKIP or DEPLOY_RETRY */
};

/* Compute where record r stands for rollout ro. Each in-flight step gets
 * the first decision of dec[0..ndec) that names its host and step (or
 * any), else DEPLOY_ASK. A step in flight that a journal of schema 2 left
 * without its index cannot be asked for: unless idempotent or decided,
 * ERR_INVALID naming host and step and the flags. Release with
 * resume_point_release. */
enum err_code resume_point_of(const struct store_record *r,
                              const struct rollout *ro,
                              const struct resume_decision *dec, size_t ndec,
                              struct resume_point *pt, struct err *e);

void resume_point_release(struct resume_point *pt);

/* The deploy's -e variables for continuing record r, into extra (the -e
 * given to this command, completed in place). The journaled values are
 * the base. A secret variable (journaled by name only) must be in extra;
 * a journaled one given again must have the journaled value; one the
 * deploy did not have may not be added (previous_version excepted: it is
 * how a rollback names its target when the journal does not know it);
 * unless its name is in override (--override-var), where the change is
 * described in changed (for the journal; may be NULL). version is left to
 * the caller. A record without journaled variables (begun by an older
 * drover) takes extra as it is. The values of secret variables given
 * again are added to rd. ERR_USAGE with a message naming the variables
 * and the flag to pass, before anything is changed. */
enum err_code resume_vars(const struct store_record *r, json_t *extra,
                          const char *const *override, size_t noverride,
                          struct redact *rd, struct buf *changed,
                          struct err *e);

/* What a continuing command was asked (its flags: coordinator/cmd_resume.c
 * reads them). Everything is borrowed for the call. */
struct resume_request {
    enum resume_mode mode;                 /* which command */
    const char *name;                      /* its name, for messages */
    const char *id;                        /* DEPLOY; NULL: the newest
                                              unfinished deploy */
    const char *const *invs;               /* -i, in order; none: the
                                              journal's */
    size_t ninv;                           /* entries */
    json_t *extra;                         /* -e variables, completed in
                                              place (resume_vars) */
    const char *const *override;           /* --override-var names */
    size_t noverride;                      /* entries */
    const struct resume_decision *dec;     /* --retry-step, --skip-step */
    size_t ndec;                           /* entries */
    bool confirm_irreversible;             /* --confirm-irreversible */
    struct ssh_options *ssh;               /* SSH flags */
    struct agent_options *agent;           /* agent flags */
    const struct session_options *session; /* state dir and lock wait */
    int forks;                             /* --forks */
    bool verbose;                          /* --verbose */
    bool json;                             /* --json */
};

/* How resume_run ended; the command maps it to its exit status. */
enum resume_outcome {
    RESUME_RAN,          /* the engine ran: *ran and res say how */
    RESUME_BAD_REQUEST,  /* a DEPLOY the journal does not have, one that
                            ended or (promote) is not paused, an -e that
                            differs from the journaled one, a state
                            directory drover may not use: nothing done */
    RESUME_BAD_INPUT,    /* the journal, inventory, plan or ssh config
                            could not be read */
    RESUME_UNDECIDED,    /* steps in flight whose host cannot tell:
                            --retry-step or --skip-step decides */
    RESUME_IRREVERSIBLE, /* a rollback past irreversible steps, not
                            confirmed */
    RESUME_LOCKED,       /* another coordinator holds the lock */
    RESUME_BROKEN        /* the system failed */
};

/* Continue the deploy rq names: find its record, load its plan and
 * inventory again, work out where it stands and run the engine from
 * there. Each refusal is said on stderr (naming rq->name) before it
 * returns. With RESUME_RAN, *ran is runner_run's outcome and res its
 * result. */
enum resume_outcome resume_run(const struct resume_request *rq,
                               enum runner_outcome *ran,
                               struct deploy_result *res);

#endif
