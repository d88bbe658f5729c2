/* coordinator/session.c: authorization, lock, journal record and
 * notifications around one deploy. */
#include "session.h"

#include "authz.h"
#include "buf.h"
#include "fence.h"
#include "gitinfo.h"
#include "lock.h"
#include "log.h"
#include "notify.h"
#include "plan.h"
#include "record.h"
#include "statedir.h"
#include "store.h"

#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct session {
    const struct plan *plan;            /* borrowed */
    char *dir;                          /* state directory */
    struct lock *lock;                  /* held while the deploy runs */
    struct store *store;                /* the journal */
    struct notify *notify;              /* webhooks, or NULL */
    struct loop *loop;                  /* for notify_flush */
    char id[STORE_ID_MAX];              /* DEP-YYYY-MM-DD-NNN */
    char user[64];                      /* who deploys */
    char state_id[STATEDIR_ID_LEN + 1]; /* the state directory's id */
    char *who;                     /* fence_who, once the deploy has its id */
    char *version;                 /* for notifications */
    bool abort;                    /* ended by `drover abort` */
    bool asked_rollback;           /* a human asked for the rollback
                                      (`drover abort` or `rollback`) */
    struct buf superseded;         /* deploys this one superseded, in words */
    struct deploy_orphan *orphans; /* their steps journaled in flight */
    size_t norphans;
};

static void session_user(char *out, size_t n)
{
    const char *u = getenv("SUDO_USER");
    if (u == NULL || *u == '\0') {
        struct passwd *pw = getpwuid(geteuid());
        u = pw ? pw->pw_name : NULL;
    }
    snprintf(out, n, "%s", u ? u : "unknown");
}

char *session_previous_version(const char *state_dir, const char *plan)
{
    struct store *s = NULL;
    struct err e = {0};
    if (store_open_state(state_dir, true, &s, NULL, &e) != ERR_OK)
        return NULL;
    char *v = NULL;
    struct err e2 = {0};
    if (store_last_success(s, plan, &v, NULL, &e2) != ERR_OK)
        v = NULL;
    store_free(s);
    return v;
}

static enum err_code session_authz(const struct plan *p,
                                   const struct session_options *o,
                                   struct authz_verdict *v, struct err *e)
{
    struct authz_require rq = {.ticket = p->require_ticket,
                               .approver = p->require_approver,
                               .env = (const char *const *)p->require_env,
                               .nenv = p->nrequire_env};
    struct authz_request req = {.ticket = o->ticket,
                                .approver = o->approver,
                                .outside_window = o->outside_window,
                                .reason = o->reason};
    enum err_code rc = authz_check_require(&rq, &req, e);
    if (rc != ERR_OK)
        return rc;
    return authz_check_windows((const char *const *)p->windows, p->nwindows,
                               time(NULL), &req, v, e);
}

/* A session for plan p: the state directory, the plan's lock (a new
 * epoch; deploy names the deploy when it is known), the journal. NULL with
 * *why and e set on failure. */
static struct session *session_open(const struct plan *p, const char *deploy,
                                    const struct session_options *o,
                                    struct loop *loop,
                                    enum session_refusal *why, struct err *e)
{
    struct session *s = xcalloc(1, sizeof(*s));
    buf_init(&s->superseded, 4096);
    s->plan = p;
    s->loop = loop;
    session_user(s->user, sizeof(s->user));
    const char *lock_name = p->lock ? p->lock : p->name;
    if (statedir_open(o->state_dir, &s->dir, e) != ERR_OK ||
        statedir_identity(s->dir, s->state_id, e) != ERR_OK)
        goto fail;
    if (o->take_over_fence > 0 &&
        lock_epoch_floor(s->dir, o->take_over_fence, e) != ERR_OK)
        goto fail;
    if (lock_acquire(s->dir, lock_name, deploy, o->lock_wait_ms, &s->lock, NULL,
                     e) != ERR_OK) {
        if (e->code == ERR_LOCKED)
            *why = SESSION_LOCKED;
        goto fail;
    }
    if (store_open_state(s->dir, false, &s->store, NULL, e) != ERR_OK)
        goto fail;
    s->version = o->version ? xstrdup(o->version) : NULL;
    return s;
fail:
    session_free(s);
    return NULL;
}

/* Subscribe the plan's webhooks (o->webhooks rendered, else as written):
 * a deploy that is continued (resume, promote, abort, rollback) notifies
 * as one that begins does. */
static enum err_code session_notify_open(struct session *s,
                                         const struct session_options *o,
                                         struct loop *loop, struct err *e)
{
    const struct plan *p = s->plan;
    if (p->nnotify == 0)
        return ERR_OK;
    s->notify = notify_new(loop, e);
    if (s->notify == NULL)
        return e->code ? e->code : ERR_SYS;
    for (size_t i = 0; i < p->nnotify; i++)
        if (notify_add(
                s->notify,
                o->webhooks != NULL ? o->webhooks[i] : p->notify[i].webhook,
                p->notify[i].on ? p->notify[i].on : NOTIFY_ALL, e) != ERR_OK)
            return e->code;
    return ERR_OK;
}

/* A new deploy holds the lock: every unfinished deploy of the same plan
 * under the same lock was left by a coordinator that is gone (a live one
 * would hold the lock), and this deploy overtakes it. Each ends as
 * "abandoned" with a decision naming this one; this one journals which it
 * superseded. Nothing is refused: a new release replaces the old one on
 * every host, as operators who deploy again expect. */
static enum err_code session_supersede(struct session *s, const char *lock,
                                       struct err *e)
{
    struct store_filter f = {.plan = s->plan->name, .unfinished = true};
    struct store_summary *rows = NULL;
    size_t n = 0;
    if (store_list(s->store, &f, &rows, &n, e) != ERR_OK)
        return e->code;
    enum err_code rc = ERR_OK;
    for (size_t i = 0; i < n && rc == ERR_OK; i++) {
        if (strcmp(rows[i].id, s->id) == 0)
            continue;
        struct store_record *r = NULL;
        if ((rc = store_get_record(s->store, rows[i].id, &r, e)) != ERR_OK)
            break;
        bool same = r->lock != NULL && strcmp(r->lock, lock) == 0;
        for (size_t k = 0; same && k < r->nsteps; k++) {
            const struct store_step_row *st = &r->steps[k];
            if (st->outcome != NULL || st->host == NULL || st->job_id == NULL)
                continue;
            s->orphans =
                xrealloc(s->orphans, (s->norphans + 1) * sizeof(*s->orphans));
            s->orphans[s->norphans++] = (struct deploy_orphan){
                .host = xstrdup(st->host), .job_id = xstrdup(st->job_id)};
        }
        store_record_free(r);
        if (!same)
            continue;
        char since[32];
        record_time(rows[i].started_ms, since, sizeof(since));
        char *text = xasprintf(
            "abandoned: superseded by %s (its coordinator was gone: the "
            "lock %s was free); %s deploys the plan's hosts again",
            s->id, lock, s->id);
        rc = store_decision(s->store, rows[i].id, text, e);
        free(text);
        if (rc == ERR_OK)
            rc = store_deploy_end(s->store, rows[i].id, STORE_RESULT_ABANDONED,
                                  rows[i].rolled_back, e);
        buf_printf(&s->superseded, "%s%s (%s since %s)",
                   s->superseded.len ? ", " : "", rows[i].id, rows[i].state,
                   since);
    }
    free(rows);
    if (rc == ERR_OK && s->superseded.len > 0) {
        char *text = xasprintf("supersedes %s: its coordinator is gone; "
                               "it ends as abandoned",
                               buf_cstr(&s->superseded));
        rc = store_decision(s->store, s->id, text, e);
        free(text);
    }
    return rc;
}

enum err_code session_begin(const struct plan *p, const char *previous,
                            const struct session_options *o, struct loop *loop,
                            struct session **out, enum session_refusal *why,
                            struct err *e)
{
    *out = NULL;
    *why = SESSION_ERROR;
    struct authz_verdict verdict;
    memset(&verdict, 0, sizeof(verdict));
    if (session_authz(p, o, &verdict, e) != ERR_OK) {
        *why = SESSION_REFUSED;
        return e->code;
    }
    struct session *s = session_open(p, NULL, o, loop, why, e);
    if (s == NULL)
        return e->code ? e->code : ERR_SYS;
    const char *lock_name = p->lock ? p->lock : p->name;

    struct gitinfo gi;
    memset(&gi, 0, sizeof(gi));
    struct err ge = {0};
    char *prev_commit = NULL;
    char *prev_version = NULL;
    struct err pe = {0};
    if (store_last_success(s->store, p->name, &prev_version, &prev_commit,
                           &pe) != ERR_OK)
        prev_commit = NULL;
    free(prev_version);
    if (gitinfo_read(p->file, prev_commit, &gi, &ge) != ERR_OK)
        log_debug("git: %s", ge.msg);
    free(prev_commit);
    char host[256] = "";
    gethostname(host, sizeof(host) - 1);
    struct store_deploy_info info = {
        .plan = p->name,
        .plan_file = p->file,
        .inventory = o->inventory,
        .lock = lock_name,
        .epoch = lock_epoch(s->lock),
        .version = o->version,
        .previous_version = previous,
        .user = s->user,
        .host = host,
        .ticket = o->ticket,
        .approver = o->approver,
        .reason = o->reason,
        .git_commit = gi.commit,
        .git_tag = gi.tag,
        .changes = o->changes ? o->changes : gi.changes,
        .vars = o->vars,
    };
    enum err_code rc = store_deploy_begin(s->store, &info, s->id, e);
    gitinfo_release(&gi);
    s->who = fence_who(s->state_id, host, s->id);
    if (rc != ERR_OK)
        goto fail;
    if (lock_set_deploy(s->lock, s->id, e) != ERR_OK)
        goto fail;
    if (session_supersede(s, lock_name, e) != ERR_OK)
        goto fail;
    if (verdict.override &&
        store_decision(s->store, s->id, verdict.text, e) != ERR_OK)
        goto fail;
    if (o->take_over_fence > 0) {
        char *text = xasprintf(
            "--take-over-fence %" PRIu64 ": hosts fenced by another "
            "coordinator at epoch %" PRIu64 " are taken over; this state "
            "directory (%s) jumps to epoch %" PRIu64,
            o->take_over_fence, o->take_over_fence, s->state_id,
            lock_epoch(s->lock));
        rc = store_decision(s->store, s->id, text, e);
        free(text);
        if (rc != ERR_OK)
            goto fail;
    }
    if (session_notify_open(s, o, loop, e) != ERR_OK)
        goto fail;
    if (s->notify != NULL) {
        struct notify_info ni = {.deploy = s->id,
                                 .plan = p->name,
                                 .version = s->version,
                                 .user = s->user};
        notify_send(s->notify, NOTIFY_START, &ni);
    }
    *why = SESSION_OK;
    *out = s;
    return ERR_OK;
fail:
    session_free(s);
    return e->code ? e->code : ERR_SYS;
}

enum err_code session_continue(const struct plan *p, const char *id,
                               const char *state,
                               const struct session_options *o,
                               struct loop *loop, struct session **out,
                               enum session_refusal *why, struct err *e)
{
    *out = NULL;
    *why = SESSION_ERROR;
    struct session *s = session_open(p, id, o, loop, why, e);
    if (s == NULL)
        return e->code ? e->code : ERR_SYS;
    snprintf(s->id, sizeof(s->id), "%s", id);
    s->abort = o->abort;
    s->asked_rollback = o->abort || o->rollback;
    char host[256] = "";
    gethostname(host, sizeof(host) - 1);
    s->who = fence_who(s->state_id, host, s->id);
    if (store_deploy_state(s->store, id, state, e) != ERR_OK ||
        session_notify_open(s, o, loop, e) != ERR_OK)
        goto fail;
    *why = SESSION_OK;
    *out = s;
    return ERR_OK;
fail:
    session_free(s);
    return e->code ? e->code : ERR_SYS;
}

const char *session_inventories(const char *const *invs, size_t n,
                                struct buf *b)
{
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            buf_addc(b, '\n');
        buf_adds(b, invs[i]);
    }
    return n > 0 ? buf_cstr(b) : NULL;
}

const char *session_deploy_id(const struct session *s)
{
    return s->id;
}

const char *session_superseded(const struct session *s)
{
    return buf_cstr(&s->superseded);
}

const struct deploy_orphan *session_orphans(const struct session *s, size_t *n)
{
    *n = s->norphans;
    return s->orphans;
}

const char *session_who(const struct session *s)
{
    return s->who;
}

uint64_t session_epoch(const struct session *s)
{
    return lock_epoch(s->lock);
}

struct store *session_store(const struct session *s)
{
    return s->store;
}

static enum store_result session_result(enum deploy_verdict v)
{
    switch (v) {
    case DV_SUCCESS:
        return STORE_RESULT_SUCCESS;
    case DV_ROLLED_BACK:
        return STORE_RESULT_ROLLED_BACK;
    case DV_ROLLBACK_FAILED:
        return STORE_RESULT_ROLLBACK_FAILED;
    case DV_REFUSED:
        return STORE_RESULT_REFUSED;
    case DV_PAUSED:
        return STORE_RESULT_NONE;
    case DV_FAILED:
    default:
        return STORE_RESULT_FAILED;
    }
}

void session_end(struct session *s, const struct deploy_result *res)
{
    enum store_result r = session_result(res->verdict);
    /* an operator's abort: stopped on purpose, whatever was rolled back
     * (a failed rollback still says so: hosts need a human) */
    if (s->abort && (r == STORE_RESULT_ROLLED_BACK || r == STORE_RESULT_FAILED))
        r = STORE_RESULT_ABORTED;
    bool rolled = res->rolled_back > 0 || res->rollback_failed > 0;
    struct err e = {0};
    if (r != STORE_RESULT_NONE &&
        store_deploy_end(s->store, s->id, r, rolled, &e) != ERR_OK)
        log_out(stderr, "drover: journal: %s", e.msg);
    if (s->notify != NULL) {
        struct notify_info ni = {.deploy = s->id,
                                 .plan = s->plan->name,
                                 .version = s->version,
                                 .user = s->user,
                                 .result = store_result_str(r),
                                 .text =
                                     res->decision[0] ? res->decision : NULL};
        /* a rollback a human asked for that put everything back is
         * not a failure: its own event says it */
        bool asked_ok = s->asked_rollback && (r == STORE_RESULT_ROLLED_BACK ||
                                              r == STORE_RESULT_ABORTED);
        if (rolled || asked_ok)
            notify_send(s->notify, NOTIFY_ROLLBACK, &ni);
        if (res->verdict == DV_PAUSED)
            notify_send(s->notify, NOTIFY_PAUSE, &ni);
        else if (r == STORE_RESULT_SUCCESS)
            notify_send(s->notify, NOTIFY_SUCCESS, &ni);
        else if (r != STORE_RESULT_NONE && !asked_ok)
            notify_send(s->notify, NOTIFY_FAILURE, &ni);
        struct err ne = {0};
        notify_flush(s->notify, NOTIFY_FLUSH_MS, &ne);
    }
    session_free(s);
}

void session_free(struct session *s)
{
    if (s == NULL)
        return;
    notify_free(s->notify);
    store_free(s->store);
    lock_release(s->lock);
    free(s->dir);
    free(s->version);
    buf_release(&s->superseded);
    for (size_t i = 0; i < s->norphans; i++) {
        free((char *)s->orphans[i].host);
        free((char *)s->orphans[i].job_id);
    }
    free(s->orphans);
    free(s->who);
    free(s);
}
