/* coordinator/resume.h: continue a deploy from its journal, in the
 * direction it was going: `drover resume` (a coordinator died, or the
 * deploy paused), `drover promote` (a paused canary goes on), `drover
 * abort` (roll back what an unfinished deploy changed), `drover rollback`
 * (roll back any deploy, finished or not). The plan and inventory are
 * read again from the paths the journal recorded; waves done stay done,
 * hosts already healthy are not touched, steps journaled as done are not
 * run again. A step journaled as started but not finished is reconciled:
 * over agents by its job id (the agent returns the stored result, so it
 * runs exactly once); over SSH it is re-run only if `idempotent: true`,
 * otherwise the operator decides (--retry-step or --skip-step). */
#ifndef DROVER_RESUME_H
#define DROVER_RESUME_H

#include "cmd.h"
#include "err.h"
#include "store.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct buf;
struct plan;
struct redact;
struct rollout;

enum resume_mode {
    RESUME_CONTINUE, /* resume: same direction */
    RESUME_PROMOTE,  /* promote: a paused deploy goes on */
    RESUME_ABORT,    /* abort: roll back an unfinished deploy */
    RESUME_ROLLBACK  /* rollback: roll back any deploy */
};

/* Where a journaled deploy stands, for the engine's resume options. */
struct resume_point {
    size_t start_wave;        /* first wave not done */
    bool *done_hosts;         /* [host] healthy already (start_wave) */
    bool *changed_hosts;      /* [host] changed (left pending) */
    unsigned char *step_done; /* [host * nsteps + step] ran ok */
    size_t last_wave;         /* highest wave any host started */
    bool rolling_back;        /* the journal says "rolling back" */
};

/* Compute where record r stands for rollout ro. An SSH step started and
 * never finished that is not idempotent is ERR_INVALID (the message names
 * host and step and says --retry-step / --skip-step) unless retry (run it
 * again) or skip (count it as done) is set. Release with
 * resume_point_release. */
enum err_code resume_point_of(const struct store_record *r,
                              const struct rollout *ro, bool retry, bool skip,
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

/* The whole command: argv as given to the subcommand. Returns the exit
 * status (cmd.h). */
int resume_main(enum resume_mode mode, int argc, char **argv);

/* The options resume, promote, abort and rollback share (cmd.h). */
extern const struct cmd_opt resume_opts[];

#endif
