/* coordinator/deploy_host.c: one host's job in a phase of a deploy. A
 * job opens the host's transport connection, waits for superseded steps,
 * runs its commands one by one (deploy_step.c), then its health gate
 * (deploy_gate.c); the host's state changes go through deploy_host_set(),
 * which logs old -> new and journals it. */
#include "deploy_int.h"

#include "buf.h"
#include "check.h"
#include "clock.h"
#include "cmdwrap.h"
#include "fence.h"
#include "log.h"
#include "loop.h"
#include "plan.h"
#include "rollout.h"
#include "store.h"
#include "transport.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void deploy_host_set(struct deploy_host *h, enum deploy_host_state s)
{
    struct deploy *d = h->d;
    log_debug("host=%s state %s -> %s", h->name, deploy_state_name(h->state),
              deploy_state_name(s));
    bool changed = h->state != s;
    h->state = s;
    if ((s == DH_FAILED || s == DH_UNREACHABLE) && h->reason[0])
        snprintf(h->fail_reason, sizeof(h->fail_reason), "%s", h->reason);
    if (s == DH_ROLLBACK_FAILED && h->fail_reason[0]) {
        /* the reason it failed stays first: the rollback's comes after */
        char *both = xasprintf("%s; rollback failed: %s", h->fail_reason,
                               h->reason[0] ? h->reason : "?");
        size_t n = strlen(both);
        if (n >= sizeof(h->reason))
            n = sizeof(h->reason) - 1;
        memcpy(h->reason, both, n);
        h->reason[n] = '\0';
        free(both);
    }
    /* asking whether a host holds the role, or a precheck, changes
     * nothing on it: its journaled state stays (a host journaled
     * connecting would read as changed) */
    if (d->o.store == NULL || h->rh == NULL || !changed || d->journal_failed ||
        h->job == JOB_SINGLETON || h->job == JOB_PRECHECK ||
        (h->job == JOB_ONCE && d->phase == PH_PRECHECKS_ONCE))
        return;
    bool bad = s == DH_FAILED || s == DH_UNREACHABLE || s == DH_ROLLBACK_FAILED;
    struct err e = {0};
    deploy_journal(d,
                   store_host_state(d->o.store, d->o.deploy_id, h->name,
                                    deploy_state_word(s),
                                    bad && h->reason[0] ? h->reason : NULL, &e),
                   &e);
}

void deploy_release_fork(struct deploy_host *h)
{
    if (!h->holds_fork)
        return;
    h->holds_fork = false;
    h->d->in_flight--;
}

/* End the current job of h with out; reason already set if failed. */
void deploy_job_end(struct deploy_host *h, enum deploy_outcome out)
{
    struct deploy *d = h->d;
    if (h->job == JOB_NONE)
        return;
    conn_close(h->conn);
    h->conn = NULL;
    h->in_gate_exec = false;
    h->gx = NULL;
    loop_timer_stop(d->loop, &h->retry);
    cmdwrap_release(&h->wrap);
    deploy_gate_release(h);
    deploy_release_fork(h);
    if (h->job != JOB_SINGLETON)
        h->finished_ms = clock_mono_ms();
    deploy_host_job_done(h, out);
}

void deploy_job_fail(struct deploy_host *h, enum deploy_outcome out,
                     const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->reason, sizeof(h->reason), fmt, ap);
    va_end(ap);
    deploy_job_end(h, out);
}

/* Run the next command of the job that is not skipped, or gate. */
/* A step journaled as done by the coordinator this deploy resumes. */
static bool deploy_step_done(const struct deploy_host *h, size_t ci)
{
    const struct deploy *d = h->d;
    if (h->rh == NULL)
        return false;
    if (h->job == JOB_ROLLBACK)
        return d->o.rollback_done != NULL &&
               d->o.rollback_done[h->index * d->plan->nrollback_steps + ci];
    return h->job == JOB_STEPS && !h->restart && d->o.step_done != NULL &&
           d->o.step_done[h->index * d->plan->nsteps + ci];
}

/* The attempts of step ci the journal shows ended in the run this deploy
 * continues, NULL if none. */
static const struct deploy_tries *deploy_step_tries(const struct deploy_host *h,
                                                    size_t ci)
{
    const struct deploy *d = h->d;
    if (h->job == JOB_ONCE && d->phase == PH_BEFORE)
        return d->o.before_tries != NULL
                   ? &d->o.before_tries[h->cmds[ci].step - d->plan->before]
                   : NULL;
    if (h->rh == NULL)
        return NULL;
    if (h->job == JOB_ROLLBACK)
        return d->o.rollback_tries != NULL
                   ? &d->o.rollback_tries[h->index * d->plan->nrollback_steps +
                                          ci]
                   : NULL;
    return h->job == JOB_STEPS && !h->restart && d->o.step_tries != NULL
               ? &d->o.step_tries[h->index * d->plan->nsteps + ci]
               : NULL;
}

void deploy_job_next(struct deploy_host *h)
{
    for (;;) {
        while (h->ci < h->ncmds &&
               (h->cmds[h->ci].skip || deploy_step_done(h, h->ci))) {
            if (deploy_step_done(h, h->ci))
                h->changed = true;
            h->ci++;
        }
        if (h->ci >= h->ncmds) {
            deploy_job_gate(h);
            return;
        }
        /* resume: the attempts journaled are not run again; the step goes
         * on from the next one, with the retries they left */
        const struct deploy_tries *t = deploy_step_tries(h, h->ci);
        const struct plan_step *st = h->cmds[h->ci].step;
        h->attempt = t != NULL ? (int)t->next : 0;
        h->spent = t != NULL ? (int)t->spent : 0;
        if (h->spent <= st->retries) {
            deploy_cmd_start(h);
            return;
        }
        if (h->job == JOB_STEPS)
            h->changed = true; /* it ran there */
        if (!st->ignore_errors) {
            deploy_job_fail(h, OUT_FAILED,
                            "step '%s' failed %d times before the "
                            "coordinator died (journaled): its retries (%d) "
                            "are used up",
                            st->name, h->spent, st->retries);
            return;
        }
        deploy_event(h->d,
                     json_pack("{s:s,s:s,s:s,s:s}", "event", "step", "host",
                               h->name, "step", st->name, "state", "ignored"),
                     "  %s: step '%s' failed before the coordinator died "
                     "(ignore_errors: going on)",
                     h->name, st->name);
        h->ci++;
    }
}

/* A host refused this coordinator's epoch (why: the refusal in words):
 * stop acting anywhere. */
void deploy_fenced_stop(struct deploy_host *h, const char *why)
{
    struct deploy *d = h->d;
    /* stop first: no verdict, no rollback, nothing more from here */
    if (!d->stopped) {
        deploy_decide(d, "stopped: %s", why);
        deploy_issue(d, d->decision);
        deploy_finish(d, DV_FAILED);
    }
    if (h->job != JOB_NONE)
        deploy_job_fail(h, OUT_FAILED, "%s", why);
}

/* The SSH wrapper refused: its words are in h->head_rest. */
void deploy_fenced_out(struct deploy_host *h)
{
    struct err fe = {0};
    fence_refused(h->name, h->d->o.epoch, h->head_rest, &fe);
    deploy_fenced_stop(h, fe.msg);
}

/* The superseded steps journaled in flight on h, as a shell command that
 * waits for each one still running there (its runner holds run.lock,
 * fence.h) into b; their number. */
static size_t deploy_orphan_command(const struct deploy_host *h, struct buf *b)
{
    const struct deploy *d = h->d;
    size_t n = 0;
    for (size_t i = 0; i < d->o.norphans; i++) {
        const struct deploy_orphan *o = &d->o.orphans[i];
        struct err e = {0};
        if (strcmp(o->host, h->name) == 0 &&
            fence_wait_append(b, h->rh->addr.fence_dir, o->job_id, &e) ==
                ERR_OK)
            n++;
    }
    return n;
}

/* Does h wait for superseded steps before its first change? */
bool deploy_orphan_needed(const struct deploy_host *h)
{
    if (h->orphans_done || h->rh == NULL)
        return false;
    for (size_t i = 0; i < h->d->o.norphans; i++)
        if (strcmp(h->d->o.orphans[i].host, h->name) == 0)
            return true;
    return false;
}

/* JOB_WAIT on its open connection: the host waits for the steps (over
 * SSH; an agent's jobs are its own). */
static void deploy_orphan_wait(struct deploy_host *h)
{
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    size_t n = deploy_orphan_command(h, &b);
    if (n == 0 || !(conn_caps(h->conn) & TRANSPORT_CAP_SHELL)) {
        buf_release(&b);
        deploy_job_end(h, OUT_OK);
        return;
    }
    deploy_event(h->d,
                 json_pack("{s:s,s:s,s:I}", "event", "superseded", "host",
                           h->name, "steps", (json_int_t)n),
                 "  %s: waiting for %zu step%s of the superseded deploy "
                 "still in flight there",
                 h->name, n, n == 1 ? "" : "s");
    struct exec_spec spec = {.command = buf_cstr(&b),
                             .timeout_ms = DEPLOY_ORPHAN_WAIT_MS};
    struct err e = {0};
    h->step_started_ms = clock_mono_ms();
    enum err_code rc = conn_exec(h->conn, &spec, &e);
    buf_release(&b);
    if (rc == ERR_LOCKED)
        deploy_fenced_stop(h, e.msg);
    else if (rc != ERR_OK)
        deploy_job_fail(h, OUT_FAILED, "%s", e.msg);
}

static void deploy_on_opened(struct conn *c, const struct err *e, void *arg)
{
    (void)c;
    struct deploy_host *h = arg;
    if (e != NULL && e->code == ERR_LOCKED) { /* an agent's fence */
        deploy_fenced_stop(h, e->msg);
        return;
    }
    if (e != NULL && e->code != ERR_OK) {
        deploy_job_fail(h, OUT_UNREACHABLE, "%s", e->msg);
        return;
    }
    deploy_host_set(h, DH_RUNNING);
    if (h->job == JOB_WAIT) {
        deploy_orphan_wait(h);
        return;
    }
    if (h->reattaching) {
        deploy_cmd_start(h); /* the same step, the same id */
        return;
    }
    deploy_job_next(h);
}

const struct conn_cb deploy_conn_cb = {
    .opened = deploy_on_opened,
    .output = deploy_on_output,
    .done = deploy_on_done,
};

/* Start job on host h with its commands. */
void deploy_job_start(struct deploy_host *h, enum deploy_job job,
                      const struct rollout_cmd *cmds, size_t ncmds)
{
    struct deploy *d = h->d;
    h->before_job = h->state;
    if (h->nlast_verdict > 0)
        memset(h->last_verdict, 0, h->nlast_verdict * sizeof(int));
    h->job = job;
    h->cmds = cmds;
    h->ncmds = ncmds;
    h->ci = 0;
    h->reattaching = false;
    /* a host's steps may run twice in one deploy (the singleton hand-over
     * restarts the new holder): the second pass gets ids of its own */
    h->pass = 0;
    if (job == JOB_STEPS || job == JOB_ROLLBACK)
        h->pass = h->passes[job == JOB_ROLLBACK]++;
    h->reason[0] = '\0';
    buf_reset(&h->ignored);
    if (job != JOB_SINGLETON) { /* a question: not the host's own time */
        h->started_ms = clock_mono_ms();
        h->finished_ms = 0;
    }
    bool any = false;
    for (size_t i = 0; i < ncmds; i++)
        any |= !cmds[i].skip;
    bool checks_conn = false;
    if (h->rh != NULL) {
        if (job == JOB_STEPS || job == JOB_ROLLBACK)
            checks_conn = check_on_host(h->rh->health, d->plan->nchecks);
        else if (job == JOB_SMOKE)
            checks_conn = check_on_host(h->rh->smoke, d->plan->nsmoke);
        else if (job == JOB_SINGLETON && h->rh->singleton_check)
            checks_conn = check_on_host(h->rh->singleton_check, 1);
    }
    if (!any && !checks_conn && job != JOB_WAIT) {
        deploy_job_gate(h);
        return;
    }
    struct transport *t = h->rh ? d->t : d->o.local;
    if (t == NULL) {
        deploy_job_fail(h, OUT_FAILED, "no local transport for local steps");
        return;
    }
    h->holds_fork = true;
    d->in_flight++;
    deploy_host_set(h, DH_CONNECTING);
    h->conn = transport_connect(t, &h->tg, &deploy_conn_cb, h);
}

/* --- lifecycle -------------------------------------------------------------
 */

void deploy_host_init(struct deploy *d, struct deploy_host *h)
{
    h->d = d;
    buf_init(&h->output, d->o.output_cap ? d->o.output_cap : 65536);
    buf_init(&h->partial[0], DEPLOY_LINE_MAX);
    buf_init(&h->partial[1], DEPLOY_LINE_MAX);
    buf_init(&h->headbuf, FENCE_HEAD_MAX + 4096);
    buf_init(&h->ignored, 1024);
    loop_timer_init(&h->retry, deploy_on_retry, h);
}

void deploy_host_release(struct deploy_host *h)
{
    conn_close(h->conn);
    h->conn = NULL;
    deploy_gate_release(h);
    free(h->last_verdict);
    cmdwrap_release(&h->wrap);
    loop_timer_stop(h->d->loop, &h->retry);
    buf_release(&h->output);
    buf_release(&h->partial[0]);
    buf_release(&h->partial[1]);
    buf_release(&h->headbuf);
    buf_release(&h->ignored);
}
