/* coordinator/session.h: what surrounds a deploy: change authorization
 * and windows, the one-coordinator lock and its fencing epoch, the journal
 * entry (DEP-YYYY-MM-DD-NNN) with who, what, git commit and changes, and
 * the notifications; at the end the result, the notifications and the
 * lock's release. docs/state.md lists the calls in order. */
#ifndef DROVER_SESSION_H
#define DROVER_SESSION_H

#include "deploy.h"
#include "err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;
struct json_t;
struct loop;
struct plan;
struct session;
struct store;

struct session_options {
    const char *state_dir;     /* --state-dir, or NULL: the default */
    int64_t lock_wait_ms;      /* --lock-wait; 0: fail at once when held */
    const char *ticket;        /* --ticket */
    const char *approver;      /* --approver */
    const char *reason;        /* --reason */
    bool outside_window;       /* --outside-window */
    const char *changes;       /* --changes, else from git log */
    const char *inventory;     /* the -i sources, one a line
                                  (session_inventories): the record,
                                  and what resume loads again */
    const char *version;       /* -e version, for the record */
    const struct json_t *vars; /* every -e variable, journaled (secret
                                  ones by name only) for resume */
    char *const *webhooks;     /* the plan's notify URLs rendered
                                  (rollout.h), or NULL: as written */
    bool abort;                /* `drover abort`: the deploy ends
                                  "aborted" unless its rollback fails */
    bool rollback;             /* `drover rollback`: a human's rollback
                                  (notified as such, not as a failure) */
    uint64_t take_over_fence;  /* --take-over-fence N: take an epoch above
                                  N (journaled as a decision); 0: no */
};

/* Exit statuses session_begin asks for when it refuses (cmd.h values). */
enum session_refusal {
    SESSION_OK,
    SESSION_REFUSED, /* require or windows refused */
    SESSION_LOCKED,  /* another coordinator holds the lock */
    SESSION_ERROR    /* the state directory or journal failed */
};

/* The version of the newest successful deploy of plan name in the
 * journal of state_dir (caller frees), or NULL if none or no journal. */
char *session_previous_version(const char *state_dir, const char *plan);

/* Check require/windows, take the lock, open the journal and begin the
 * deploy's record (previous_version as resolved). On refusal *why says
 * which kind and e the message. */
enum err_code session_begin(const struct plan *p, const char *previous,
                            const struct session_options *o, struct loop *loop,
                            struct session **out, enum session_refusal *why,
                            struct err *e);

/* Continue deploy id (resume, promote, abort, rollback): take the lock
 * (a new epoch), reopen its record and mark it state ("running" or
 * "rolling back"). ERR_LOCKED (*why SESSION_LOCKED) while another
 * coordinator holds it. */
enum err_code session_continue(const struct plan *p, const char *id,
                               const char *state,
                               const struct session_options *o,
                               struct loop *loop, struct session **out,
                               enum session_refusal *why, struct err *e);

const char *session_deploy_id(const struct session *s);

/* The -i sources as journaled: one a line, in the order given (b holds
 * them; returns its text, NULL for none). A resume without -i loads each
 * line again, so every inventory of the deploy is read back. */
const char *session_inventories(const char *const *invs, size_t n,
                                struct buf *b);

/* The unfinished deploys of the same plan and lock this one superseded
 * (session_begin ended them "abandoned"), in words ("DEP-... (running
 * since ...)"), or "" when none. Borrowed while s lives. */
const char *session_superseded(const struct session *s);
/* The steps of those deploys journaled in flight (*n of them): their
 * hosts may still run them (deploy.h). Borrowed while s lives. */
const struct deploy_orphan *session_orphans(const struct session *s, size_t *n);
/* Who this coordinator is for the hosts' fence records (fence_who: the
 * state directory's id, this host, the deploy). Borrowed. */
const char *session_who(const struct session *s);
uint64_t session_epoch(const struct session *s);
struct store *session_store(const struct session *s);

/* Record the end (a paused deploy stays open), notify, release the
 * lock. Reports journal problems on stderr. */
void session_end(struct session *s, const struct deploy_result *res);

/* Release without recording an end (e.g. the deploy never started);
 * NULL is a no-op. */
void session_free(struct session *s);

#endif
