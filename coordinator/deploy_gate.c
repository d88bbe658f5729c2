/* coordinator/deploy_gate.c: the health gate of a host's job. The job's
 * rendered checks become the gate's check specs (gate.h); command checks
 * run over the job's connection; each change of a check's verdict is
 * journaled as evidence, and the gate's result ends the job. */
#include "deploy_int.h"

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
    for (size_t i = 0; i < h->nowned; i++)
        free(h->owned[i]);
    free(h->owned);
    free(h->specs);
    free(h->jsons);
    free(h->statuses);
    h->statuses = NULL;
    h->owned = NULL;
    h->nowned = 0;
    h->specs = NULL;
    h->jsons = NULL;
    h->nspecs = 0;
}

/* Keep a copy of s for the gate's lifetime. */
static const char *deploy_own(struct deploy_host *h, char *s)
{
    h->owned = xrealloc(h->owned, (h->nowned + 1) * sizeof(char *));
    h->owned[h->nowned++] = s;
    return s;
}

/* Build the gate's check specs from rendered checks. */
static void deploy_specs(struct deploy_host *h, const struct rollout_check *rc,
                         size_t n, bool with_version)
{
    h->specs = xcalloc(n ? n : 1, sizeof(*h->specs));
    h->nspecs = n;
    size_t nj = 0;
    for (size_t i = 0; i < n; i++)
        if (rc[i].json)
            nj += json_object_size(rc[i].json);
    h->jsons = xcalloc(nj ? nj : 1, sizeof(*h->jsons));
    size_t ns = 0;
    for (size_t i = 0; i < n; i++)
        ns += rc[i].check->nstatuses;
    h->statuses = xcalloc(ns ? ns : 1, sizeof(*h->statuses));
    size_t j = 0, k = 0;
    for (size_t i = 0; i < n; i++) {
        const struct plan_check *pc = rc[i].check;
        struct check_spec *s = &h->specs[i];
        s->http = rc[i].url;
        s->command = rc[i].url ? NULL : rc[i].command;
        s->expect_status = pc->expect_status;
        s->expect_status_max = pc->expect_status_max;
        s->timeout_ms = pc->timeout_ms;
        s->method = pc->method;
        s->headers = (const char *const *)rc[i].headers;
        s->nheaders = rc[i].nheaders;
        s->body_contains = rc[i].body;
        s->body_regex = pc->expect_body_regex;
        s->version = with_version ? rc[i].version : NULL;
        s->label = pc->name;
        if (pc->nstatuses > 0) {
            s->statuses = &h->statuses[k];
            s->nstatuses = pc->nstatuses;
            for (size_t m = 0; m < pc->nstatuses; m++, k++)
                h->statuses[k] = (struct check_status){pc->statuses[m].lo,
                                                       pc->statuses[m].hi};
            s->expect_words = deploy_own(h, plan_status_words(pc));
        }
        if (rc[i].json != NULL) {
            s->json = &h->jsons[j];
            const char *key;
            json_t *val;
            json_object_foreach(rc[i].json, key, val)
            {
                h->jsons[j].key = key;
                h->jsons[j].value = deploy_own(
                    h, json_is_string(val) ? xstrdup(json_string_value(val))
                                           : json_dumps(val, JSON_ENCODE_ANY));
                j++;
                s->njson++;
            }
        }
    }
}

bool deploy_specs_need_conn(const struct rollout_check *rc, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (rc[i].url == NULL && rc[i].command != NULL)
            return true;
    return false;
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
                                   "host", h->name, "state", "healthy",
                                   "gate_ms", (json_int_t)r->elapsed_ms,
                                   "rounds", (int)r->rounds),
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
    if (d->o.store != NULL && !d->journal_failed && check < 8 &&
        h->last_verdict[check] != (int)r->verdict + 1) {
        h->last_verdict[check] = (int)r->verdict + 1;
        char label[128];
        health_check_label(&h->specs[check], label, sizeof(label));
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
    bool with_version = true;
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
        with_version = false;
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
    bool needs_conn = deploy_specs_need_conn(rc, n);
    if (!needs_conn) {
        /* HTTP only: free the connection and the fork slot for others */
        conn_close(h->conn);
        h->conn = NULL;
        deploy_release_fork(h);
        deploy_set_launch(d);
    }
    deploy_host_set(h, DH_GATING);
    deploy_specs(h, rc, n, with_version);
    struct gate_spec *gs = &h->gspec;
    gs->checks = h->specs;
    gs->nchecks = h->nspecs;
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
