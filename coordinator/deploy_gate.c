/* coordinator/deploy_gate.c: the health gate of a host's job. The gate
 * probes the job's checks as the rollout rendered them (check.h); checks
 * that run on the host use the job's connection; each change of a check's
 * verdict is journaled as evidence, and the gate's result ends the job. */
#include "deploy_int.h"

#include "check.h"
#include "clock.h"
#include "fence.h"
#include "gate.h"
#include "health.h"
#include "loop.h"
#include "plan.h"
#include "rollout.h"
#include "store.h"
#include "transport.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void deploy_gate_release(struct deploy_host *h)
{
    gate_free(h->gate);
    h->gate = NULL;
}

static void deploy_gate_exec_start(struct gate_exec *x, const char *host,
                                   const struct exec_spec *s, void *arg)
{
    (void)host;
    struct deploy_host *h = arg;
    struct exec_result r;
    if (h->conn == NULL || h->in_gate_exec) {
        memset(&r, 0, sizeof(r));
        r.end = EXEC_FAILED;
        err_set(&r.err, ERR_UNREACHABLE, "no connection to %s", h->name);
        gate_exec_done(x, &r);
        return;
    }
    struct err e = {0};
    /* A check is asked again every round: its id must never be one the
     * agent has a stored result for (a reconnect would restart the
     * transport's own numbering), so it counts rounds, and the pid sets
     * this process apart from any other that worked on the deploy. On a
     * shell it passes the host's fence first. */
    struct deploy *d = h->d;
    struct stepid sid = {.deploy = d->o.deploy_id,
                         .host = h->name,
                         .phase = STEPID_CHECK,
                         .step = (unsigned)++d->check_seq,
                         .attempt = (unsigned)getpid(),
                         .gen = d->o.epoch};
    char *wrapped = NULL;
    if (deploy_cmd_wrap(h, &sid, FENCE_CHECK, s->command, false, &wrapped,
                        &e) != ERR_OK) {
        memset(&r, 0, sizeof(r));
        r.end = EXEC_FAILED;
        r.err = e;
        gate_exec_done(x, &r);
        return;
    }
    struct exec_spec ws = *s;
    if (wrapped != NULL)
        ws.command = wrapped;
    h->in_gate_exec = true;
    h->gx = x;
    h->fence_out = h->output.len;
    enum err_code rc = conn_exec(h->conn, &ws, &e);
    free(wrapped);
    if (rc != ERR_OK) {
        h->in_gate_exec = false;
        h->gx = NULL;
        h->wrapped = false;
        memset(&r, 0, sizeof(r));
        r.end = EXEC_FAILED;
        r.err = e;
        gate_exec_done(x, &r);
        if (rc == ERR_LOCKED)
            deploy_fenced_stop(h, e.msg); /* an agent's fence */
    }
}

static void deploy_gate_exec_cancel(struct gate_exec *x, void *arg)
{
    (void)x;
    struct deploy_host *h = arg;
    if (h->in_gate_exec && h->conn != NULL)
        conn_cancel(h->conn);
    h->gx = NULL;
}

static const struct gate_exec_ops deploy_gate_exec = {deploy_gate_exec_start,
                                                      deploy_gate_exec_cancel};

static void deploy_gate_done(const struct gate_result *r, void *arg)
{
    struct deploy_host *h = arg;
    struct deploy *d = h->d;
    if (d->o.store != NULL && !d->journal_failed && h->job != JOB_SINGLETON) {
        struct store_check sc = {.host = h->name,
                                 .phase = deploy_phase_word(h),
                                 .name = "gate",
                                 .verdict = r->healthy ? "healthy" : "failed",
                                 .status = r->last.status,
                                 .latency_ms = r->elapsed_ms,
                                 .reason = r->reason};
        struct err e = {0};
        if (!deploy_journal(d, store_check(d->o.store, d->o.deploy_id, &sc, &e),
                            &e))
            return;
    }
    char dur[32];
    clock_fmt_duration(r->elapsed_ms, dur, sizeof(dur));
    if (h->job == JOB_SINGLETON) {
        h->active_role = r->healthy;
        deploy_job_end(h, OUT_OK);
        return;
    }
    if (r->healthy) {
        if (h->job == JOB_STEPS || h->job == JOB_ROLLBACK)
            deploy_event(d,
                         json_pack("{s:s,s:s,s:s,s:I,s:i}", "event", "host",
                                   "host", h->name, "state",
                                   deploy_state_name(DH_HEALTHY), "gate_ms",
                                   (json_int_t)r->elapsed_ms, "rounds",
                                   (int)r->rounds),
                         "  %s: healthy after %s (%u probe round%s)", h->name,
                         dur, r->rounds, r->rounds == 1 ? "" : "s");
        if (h->job == JOB_STEPS && d->phase == PH_WAVE &&
            d->plan->progress_deadline_ms > 0)
            loop_timer_start(d->loop, &d->progress,
                             d->plan->progress_deadline_ms);
        deploy_job_end(h, OUT_OK);
        return;
    }
    deploy_job_fail(h, OUT_FAILED, "%s: %s",
                    h->job == JOB_SMOKE ? "smoke check" : "health gate",
                    r->reason);
}

static void deploy_gate_probe(const char *host, size_t check,
                              const struct probe_result *r, void *arg)
{
    struct deploy_host *h = arg;
    struct deploy *d = h->d;
    /* evidence: every change of a check's verdict */
    if (d->o.store != NULL && !d->journal_failed && check < h->nlast_verdict &&
        h->last_verdict[check] != (int)r->verdict + 1) {
        h->last_verdict[check] = (int)r->verdict + 1;
        char label[128];
        check_label(&h->gspec.checks[check], label, sizeof(label));
        struct store_check sc = {.host = h->name,
                                 .phase = deploy_phase_word(h),
                                 .name = label,
                                 .verdict = probe_verdict_str(r->verdict),
                                 .status = r->status,
                                 .latency_ms = r->latency_ms,
                                 .reason = r->reason};
        struct err e = {0};
        deploy_journal(d, store_check(d->o.store, d->o.deploy_id, &sc, &e), &e);
    }
    if (!h->d->o.json && !h->d->o.verbose)
        return;
    deploy_event(h->d,
                 json_pack("{s:s,s:s,s:I,s:s,s:I,s:I,s:s}", "event", "check",
                           "host", host, "check", (json_int_t)check, "verdict",
                           probe_verdict_str(r->verdict), "status",
                           (json_int_t)r->status, "latency_ms",
                           (json_int_t)r->latency_ms, "reason", r->reason),
                 "  %s: check %zu: %s", host, check, r->reason);
}

/* Commands done: start the gate of the job, or finish it. */
void deploy_job_gate(struct deploy_host *h)
{
    struct deploy *d = h->d;
    const struct plan *p = d->plan;
    const struct rollout_check *rc = NULL;
    size_t n = 0;
    bool rolled_back = false;
    int64_t soak = p->min_healthy_ms;
    switch (h->job) {
    case JOB_STEPS:
        rc = h->rh->health;
        n = p->nchecks;
        break;
    case JOB_ROLLBACK:
        /* the old version is back: the new version's match cannot hold */
        rc = h->rh->health;
        n = p->nchecks;
        rolled_back = true;
        break;
    case JOB_SMOKE:
        rc = h->rh->smoke;
        n = p->nsmoke;
        soak = 0;
        break;
    case JOB_SINGLETON:
        rc = h->rh->singleton_check;
        n = rc ? 1 : 0;
        soak = 0;
        break;
    default:
        break;
    }
    if (n == 0 || rc == NULL) {
        deploy_job_end(h, OUT_OK);
        return;
    }
    bool needs_conn = check_on_host(rc, n);
    if (!needs_conn) {
        /* HTTP only: free the connection and the fork slot for others */
        conn_close(h->conn);
        h->conn = NULL;
        deploy_release_fork(h);
        deploy_set_launch(d);
    }
    deploy_host_set(h, DH_GATING);
    if (h->nlast_verdict < n) { /* evidence for every check */
        h->last_verdict = xrealloc(h->last_verdict, n * sizeof(int));
        memset(h->last_verdict + h->nlast_verdict, 0,
               (n - h->nlast_verdict) * sizeof(int));
        h->nlast_verdict = n;
    }
    struct gate_spec *gs = &h->gspec;
    gs->checks = rc;
    gs->nchecks = n;
    gs->rolled_back = rolled_back;
    gs->interval_ms = p->interval_ms;
    gs->min_healthy_ms = soak;
    gs->healthy_deadline_ms = p->healthy_deadline_ms;
    /* the singleton check asks a question: one round answers it */
    gs->one_round = h->job == JOB_SINGLETON;
    h->gate = gate_start(d->health, d->loop, gs, h->name, deploy_gate_done, h);
    gate_on_probe(h->gate, deploy_gate_probe, h);
    if (needs_conn)
        gate_set_exec(h->gate, &deploy_gate_exec, h);
}
