/* coordinator/deploy.c: the rolling engine. A deploy is a sequence of
 * phases (prechecks, before, waves, smoke, rollback); each phase runs
 * *jobs* on a set of hosts, at most `forks` at a time. A job is a host's
 * commands (through its transport connection, opened once per job) and
 * then, optionally, its health gate. Phase changes go through
 * deploy_phase_set(), host transitions through deploy_host_set(); both
 * log old -> new. Every decision goes through deploy_event(), which says
 * it in words (or JSON) and redacts it.
 * This file is the phase machine; deploy_wave.c runs the waves and the
 * rollback, deploy_host.c a host's job, deploy_step.c a step on its
 * transport, deploy_gate.c the health gate, deploy_singleton.c the
 * singleton role, deploy_out.c the events, live view and summary
 * (deploy_int.h is what they share). */
#include "deploy.h"
#include "deploy_int.h"

#include "buf.h"
#include "clock.h"
#include "log.h"
#include "loop.h"
#include "plan.h"
#include "rollout.h"
#include "store.h"
#include "transport.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* The phase's name, for the debug log. */
static const char *deploy_phase_name(enum deploy_phase p)
{
    static const char *const names[] = {
        "prechecks-once", "prechecks-each", "before",   "wave",
        "singleton",      "smoke",          "rollback", "done"};
    return (unsigned)p <= PH_DONE ? names[p] : "?";
}

void deploy_phase_set(struct deploy *d, enum deploy_phase p)
{
    log_debug("deploy phase %s -> %s", deploy_phase_name(d->phase),
              deploy_phase_name(p));
    d->phase = p;
}

/* --- sets ---------------------------------------------------------------- */

static struct deploy_host *deploy_host_at(struct deploy *d, size_t i)
{
    return i == SIZE_MAX ? &d->local : &d->hosts[i];
}

void deploy_set_begin(struct deploy *d, enum deploy_job job)
{
    d->set.job = job;
    d->set.next = 0;
    d->set.open = 0;
    if (d->set.n == 0) {
        deploy_phase_next(d);
        return;
    }
    deploy_set_launch(d);
}

void deploy_set_reset(struct deploy *d)
{
    d->set.n = 0;
}

void deploy_set_add(struct deploy *d, size_t i)
{
    d->set.idx[d->set.n++] = i;
}

/* The deploy step journaled in flight on h and not asked for yet, or
 * SIZE_MAX: the rollback of h waits for it (JOB_SETTLE). */
static size_t deploy_settle_find(const struct deploy *d,
                                 const struct deploy_host *h)
{
    for (size_t i = 0; i < d->o.ninflight; i++) {
        const struct deploy_inflight *f = &d->o.inflight[i];
        if (!d->inflight_used[i] && f->phase == STEPID_DEPLOY &&
            f->host != NULL && strcmp(f->host, h->name) == 0 &&
            f->step < d->plan->nsteps)
            return i;
    }
    return SIZE_MAX;
}

static void deploy_launch_one(struct deploy *d, struct deploy_host *h)
{
    const struct plan *p = d->plan;
    switch (d->set.job) {
    case JOB_PRECHECK:
        deploy_job_start(h, JOB_PRECHECK, h->rh->prechecks, p->nprechecks);
        break;
    case JOB_STEPS:
        if (deploy_orphan_needed(h)) {
            deploy_job_start(h, JOB_WAIT, NULL, 0);
            break;
        }
        h->restart = h->role_move;
        if (h->role_move) {
            h->role_move = false;
            deploy_event(
                d,
                json_pack("{s:s,s:s}", "event", "singleton", "host", h->name),
                "  %s: restarting with %s=true (takes the "
                "singleton role over)",
                h->name, p->singleton_env);
        }
        deploy_job_start(h, JOB_STEPS, h->rh->steps, p->nsteps);
        break;
    case JOB_ROLLBACK: {
        size_t k = deploy_settle_find(d, h);
        if (k != SIZE_MAX) {
            const struct plan_step *st = &p->steps[d->o.inflight[k].step];
            deploy_event(d,
                         json_pack("{s:s,s:s,s:s,s:s}", "event", "step", "host",
                                   h->name, "step", st->name, "state",
                                   "settle"),
                         "  %s: step '%s' was in flight when the coordinator "
                         "died: asking the host for it before rolling back",
                         h->name, st->name);
            deploy_job_start(h, JOB_SETTLE,
                             &h->rh->steps[d->o.inflight[k].step], 1);
            break;
        }
        deploy_host_set(h, DH_PENDING);
        deploy_job_start(h, JOB_ROLLBACK, h->rh->rollback, p->nrollback_steps);
        break;
    }
    case JOB_SMOKE:
    case JOB_SINGLETON:
        deploy_job_start(h, d->set.job, NULL, 0);
        break;
    default:
        break;
    }
}

void deploy_set_launch(struct deploy *d)
{
    if (d->stopped)
        return;
    /* A job may end inside deploy_launch_one (nothing to run): do not
     * recurse into the set, go round again instead. */
    if (d->launching) {
        d->relaunch = true;
        return;
    }
    d->launching = true;
    do {
        d->relaunch = false;
        while (!d->stopped && d->set.next < d->set.n && !d->pausing &&
               d->in_flight < (size_t)d->o.forks) {
            struct deploy_host *h =
                deploy_host_at(d, d->set.idx[d->set.next++]);
            d->set.open++;
            deploy_launch_one(d, h);
        }
    } while (d->relaunch && !d->stopped);
    d->launching = false;
    if (!d->stopped && d->set.open == 0 &&
        (d->set.next == d->set.n || d->pausing))
        deploy_phase_next(d);
}

void deploy_finish(struct deploy *d, enum deploy_verdict v)
{
    if (d->stopped)
        return;
    d->stopped = true;
    d->verdict = v;
    deploy_phase_set(d, PH_DONE);
    loop_timer_stop(d->loop, &d->live);
    if (d->live_shown) {
        fputs("\r\033[K", d->o.out);
        d->live_shown = false;
    }
    if (v == DV_PAUSED && d->o.store != NULL && !d->journal_failed) {
        struct err e = {0};
        if (store_deploy_state(d->o.store, d->o.deploy_id, "paused", &e) !=
            ERR_OK)
            log_error("journal: %s", e.msg);
    }
    loop_timer_stop(d->loop, &d->progress);
    loop_timer_stop(d->loop, &d->pause);
    loop_stop(d->loop);
}

/* --- once steps ------------------------------------------------------------
 */

/* Run the once/local steps of list from d->once_i, one after the other. */
static void deploy_once_next(struct deploy *d, const struct rollout_once *list,
                             size_t n)
{
    if (d->once_i >= n) {
        deploy_phase_next(d);
        return;
    }
    const struct rollout_once *o = &list[d->once_i];
    struct deploy_host *h =
        o->host < 0 ? &d->local : &d->hosts[(size_t)o->host];
    deploy_set_reset(d);
    deploy_set_add(d, o->host < 0 ? SIZE_MAX : (size_t)o->host);
    d->set.job = JOB_ONCE;
    d->set.next = 1;
    d->set.open = 1;
    deploy_event(d,
                 json_pack("{s:s,s:s,s:s,s:s}", "event", "step", "host",
                           h->name, "step", o->cmd.step->name, "state",
                           "started"),
                 "%s '%s' on %s", d->phase == PH_BEFORE ? "before" : "precheck",
                 o->cmd.step->name, h->name);
    deploy_job_start(h, JOB_ONCE, &o->cmd, 1);
}

/* --- phases -------------------------------------------------------------- */

/* A host finished its job in the current phase. */
void deploy_host_job_done(struct deploy_host *h, enum deploy_outcome out)
{
    struct deploy *d = h->d;
    enum deploy_job job = h->job;
    h->job = JOB_NONE;
    d->set.open--;
    if (job == JOB_WAIT) {
        h->orphans_done = true;
        if (out == OUT_OK && !d->stopped) {
            d->set.open++; /* now its own steps */
            deploy_launch_one(d, h);
            return;
        }
        job = JOB_STEPS; /* it failed before its steps */
    }
    if (job == JOB_STEPS && h->index == d->move_from)
        deploy_singleton_moved(d, h, out);
    switch (job) {
    case JOB_STEPS:
        if (out == OUT_OK) {
            deploy_host_set(h, DH_HEALTHY);
        } else {
            deploy_host_set(h, out == OUT_UNREACHABLE ? DH_UNREACHABLE
                                                      : DH_FAILED);
            deploy_event(
                d,
                json_pack("{s:s,s:s,s:s,s:s}", "event", "host", "host", h->name,
                          "state", deploy_state_name(h->state), "reason",
                          h->reason),
                "  %s: %s: %s", h->name,
                out == OUT_UNREACHABLE ? "UNREACHABLE" : "FAILED", h->reason);
            if (out == OUT_UNREACHABLE &&
                d->plan->unreachable == PLAN_UNREACHABLE_PAUSE && !d->pausing) {
                d->pausing = true;
                snprintf(d->pause_why, sizeof(d->pause_why),
                         "%s is unreachable and strategy.unreachable is "
                         "pause",
                         h->name);
            }
        }
        break;
    case JOB_ROLLBACK:
        if (out == OUT_OK) {
            deploy_host_set(h, DH_ROLLED_BACK);
            deploy_event(d,
                         json_pack("{s:s,s:s,s:s}", "event", "host", "host",
                                   h->name, "state",
                                   deploy_state_name(DH_ROLLED_BACK)),
                         "  %s: rolled back", h->name);
        } else {
            deploy_host_set(h, DH_ROLLBACK_FAILED);
            deploy_event(d,
                         json_pack("{s:s,s:s,s:s,s:s}", "event", "host", "host",
                                   h->name, "state",
                                   deploy_state_name(DH_ROLLBACK_FAILED),
                                   "reason", h->reason),
                         "  %s: ROLLBACK FAILED: %s: this host needs a "
                         "human",
                         h->name, h->reason);
        }
        break;
    case JOB_PRECHECK:
    case JOB_ONCE:
    case JOB_SMOKE:
        if (d->o.store != NULL && !d->journal_failed &&
            (job == JOB_PRECHECK ||
             (job == JOB_ONCE && d->phase != PH_BEFORE))) {
            struct err e = {0};
            const char *name =
                job == JOB_ONCE ? h->cmds[0].step->name : "prechecks (each)";
            /* a failure ignore_errors went past is a failure: it is said
             * so, and that the deploy went on */
            bool ignored = out == OUT_OK && h->ignored.len > 0;
            char *evidence =
                ignored ? xasprintf("%s (ignore_errors: the deploy went on)",
                                    buf_cstr(&h->ignored))
                        : xstrdup(out == OUT_OK ? "exit 0" : h->reason);
            deploy_journal(d,
                           store_precheck(d->o.store, d->o.deploy_id, name,
                                          h->rh ? h->name : NULL,
                                          out == OUT_OK && !ignored, evidence,
                                          &e),
                           &e);
            free(evidence);
        }
        if (out == OUT_OK) {
            deploy_host_set(h, h->before_job);
        } else {
            deploy_host_set(h, out == OUT_UNREACHABLE ? DH_UNREACHABLE
                                                      : DH_FAILED);
            deploy_event(
                d,
                json_pack("{s:s,s:s,s:s,s:s}", "event", "host", "host", h->name,
                          "state", deploy_state_name(h->state), "reason",
                          h->reason),
                "  %s: %s: %s", h->name,
                job == JOB_SMOKE ? "SMOKE FAILED" : "FAILED", h->reason);
        }
        break;
    case JOB_SINGLETON:
        h->state = h->before_job; /* as it was: nothing is journaled */
        break;
    case JOB_SETTLE:
        if (d->stopped)
            return;
        if (d->terminated || d->interrupts > 1) {
            /* cancelled: its rollback is cut before it began */
            if (h->reason[0] == '\0')
                snprintf(h->reason, sizeof(h->reason), "%s",
                         "cancelled before its rollback");
            deploy_host_set(h, DH_ROLLBACK_FAILED);
            break;
        }
        /* the step has ended there (or cannot be running): roll it back */
        d->set.open++;
        deploy_host_set(h, DH_PENDING);
        deploy_job_start(h, JOB_ROLLBACK, h->rh->rollback,
                         d->plan->nrollback_steps);
        return;
    case JOB_WAIT: /* turned into JOB_STEPS above */
    case JOB_NONE:
        break;
    }
    if (d->stopped)
        return;
    deploy_set_launch(d);
}

static size_t deploy_set_failures(struct deploy *d)
{
    size_t bad = 0;
    for (size_t k = 0; k < d->set.n; k++) {
        struct deploy_host *h = deploy_host_at(d, d->set.idx[k]);
        bad += h->state == DH_FAILED || h->state == DH_UNREACHABLE;
    }
    return bad;
}

static void deploy_pause_now(struct deploy *d)
{
    deploy_decide(d, "deploy paused: %s", d->pause_why);
    deploy_finish(d, DV_PAUSED);
}

/* After the wave: go on to the next, pause, smoke, or stop. */
static void deploy_after_wave(struct deploy *d)
{
    const struct plan *p = d->plan;
    if (d->wave + 1 == d->ro->nwaves) {
        deploy_phase_set(d, PH_SMOKE);
        deploy_set_reset(d);
        for (size_t i = 0; i < d->ro->nhosts; i++)
            if (d->hosts[i].state == DH_HEALTHY && p->nsmoke > 0)
                deploy_set_add(d, i);
        if (d->set.n > 0)
            deploy_event(d,
                         json_pack("{s:s,s:I}", "event", "smoke", "hosts",
                                   (json_int_t)d->set.n),
                         "smoke checks on %zu host%s", d->set.n,
                         d->set.n == 1 ? "" : "s");
        deploy_set_begin(d, JOB_SMOKE);
        return;
    }
    if (d->wave == 0 && (d->o.canary_only || p->pause_after_canary)) {
        size_t rest = d->ro->nhosts - d->ro->wave_sizes[0];
        const char *id = d->o.deploy_id ? d->o.deploy_id : "DEPLOY";
        deploy_decide(d,
                      "canary verified: %zu host%s healthy in wave 1; the "
                      "deploy is paused until it is promoted",
                      d->ro->wave_sizes[0],
                      d->ro->wave_sizes[0] == 1 ? "" : "s");
        if (!d->o.json)
            deploy_event(d, NULL,
                         "  next: `drover promote %s` rolls the other %zu "
                         "host%s in %zu more wave%s; `drover abort %s` puts "
                         "the canary back",
                         id, rest, rest == 1 ? "" : "s", d->ro->nwaves - 1,
                         d->ro->nwaves == 2 ? "" : "s", id);
        deploy_finish(d, DV_PAUSED);
        return;
    }
    if (p->pause_manual) {
        deploy_decide(d,
                      "wave %zu done; strategy.pause is manual: paused "
                      "until it is resumed",
                      d->wave + 1);
        deploy_finish(d, DV_PAUSED);
        return;
    }
    if (p->pause_ms > 0) {
        char dur[32];
        deploy_event(d, json_pack("{s:s}", "event", "pause"),
                     "pausing %s before wave %zu",
                     clock_fmt_duration(p->pause_ms, dur, sizeof(dur)),
                     d->wave + 2);
        loop_timer_start(d->loop, &d->pause, p->pause_ms);
        return;
    }
    d->wave++;
    deploy_wave_begin(d);
}

static void deploy_before_begin(struct deploy *d)
{
    deploy_phase_set(d, PH_BEFORE);
    d->once_i = 0;
    d->set.job = JOB_NONE;
    deploy_once_next(d, d->ro->before, d->ro->nbefore);
}

/* A resumed deploy died during its `before` steps: it finishes them
 * before its first wave. */
static bool deploy_resume_in_before(const struct deploy *d)
{
    return d->o.before_left > 0 && d->o.before_left <= d->ro->nbefore &&
           d->o.start_wave == 0;
}

/* Continue a resumed deploy (the singleton holder known): the `before`
 * steps left, else the wave it stopped in. */
static void deploy_resume_go(struct deploy *d)
{
    if (deploy_resume_in_before(d)) {
        deploy_phase_set(d, PH_BEFORE);
        d->once_i = d->ro->nbefore - d->o.before_left;
        d->set.job = JOB_NONE;
        deploy_once_next(d, d->ro->before, d->ro->nbefore);
        return;
    }
    if (d->o.start_wave >= d->ro->nwaves) {
        /* every wave is done, the smoke checks are not (the coordinator
         * died in them): they run now (a resume used to end here as a
         * success without them) */
        deploy_after_wave(d);
        return;
    }
    deploy_wave_begin(d);
}

/* Every host answered whether it holds the singleton role. */
static void deploy_singleton_answered(struct deploy *d)
{
    /* Ctrl-C while asking: the answers are partial, nothing is judged */
    if (d->pausing && d->ask != ASK_AFTER_ROLLBACK) {
        deploy_pause_now(d);
        return;
    }
    switch (d->ask) {
    case ASK_BEFORE:
        if (deploy_singleton_found(d))
            deploy_before_begin(d);
        return;
    case ASK_RESUME:
        if (deploy_singleton_found(d))
            deploy_resume_go(d);
        return;
    case ASK_ROLLBACK:
        if (deploy_singleton_found(d))
            deploy_rollback_start(d);
        return;
    case ASK_WAVE:
        if (!deploy_singleton_verdict(d, d->holder)) {
            deploy_rollback_start(d);
            return;
        }
        deploy_phase_set(d, PH_WAVE);
        deploy_after_wave(d);
        return;
    case ASK_AFTER_ROLLBACK:
        deploy_rollback_end(d);
        return;
    }
}

/* The current set is finished: decide what comes next. */
void deploy_phase_next(struct deploy *d)
{
    const struct plan *p = d->plan;
    if (d->stopped)
        return;
    switch (d->phase) {
    case PH_PRECHECKS_ONCE:
        if (d->set.job == JOB_ONCE && deploy_set_failures(d) > 0) {
            deploy_decide(d, "refused: a precheck failed; nothing was "
                             "changed");
            deploy_finish(d, DV_REFUSED);
            return;
        }
        if (d->set.job == JOB_ONCE)
            d->once_i++;
        if (d->once_i < d->ro->nprechecks_once) {
            deploy_once_next(d, d->ro->prechecks_once, d->ro->nprechecks_once);
            return;
        }
        deploy_phase_set(d, PH_PRECHECKS_EACH);
        deploy_set_reset(d);
        bool any_each = false;
        for (size_t i = 0; i < p->nprechecks; i++)
            any_each |= p->prechecks[i].on == PLAN_ON_EACH;
        if (any_each)
            for (size_t i = 0; i < d->ro->nhosts; i++)
                deploy_set_add(d, i);
        deploy_set_begin(d, JOB_PRECHECK);
        return;
    case PH_PRECHECKS_EACH:
        if (d->pausing) {
            deploy_pause_now(d);
            return;
        }
        if (deploy_set_failures(d) > 0) {
            deploy_decide(d,
                          "refused: prechecks failed on %zu host%s; "
                          "nothing was changed",
                          deploy_set_failures(d),
                          deploy_set_failures(d) == 1 ? "" : "s");
            deploy_finish(d, DV_REFUSED);
            return;
        }
        for (size_t i = 0; i < d->ro->nhosts; i++)
            deploy_host_set(&d->hosts[i], DH_PENDING);
        if (p->singleton_check != NULL) {
            deploy_singleton_ask(d, ASK_BEFORE);
            return;
        }
        deploy_before_begin(d);
        return;
    case PH_BEFORE:
        if (d->set.job == JOB_ONCE) {
            if (deploy_set_failures(d) > 0) {
                deploy_decide(d, "stopped: a 'before' step failed; no wave "
                                 "started");
                deploy_finish(d, DV_FAILED);
                return;
            }
            d->once_i++;
            if (d->once_i < d->ro->nbefore) {
                deploy_once_next(d, d->ro->before, d->ro->nbefore);
                return;
            }
        }
        if (d->pausing) {
            deploy_pause_now(d);
            return;
        }
        d->wave = 0;
        deploy_wave_begin(d);
        return;
    case PH_WAVE:
        /* Ctrl-C, or an unreachable host with `unreachable: pause`: stop
         * for a human before judging the wave */
        if (d->pausing) {
            deploy_pause_now(d);
            return;
        }
        if (!deploy_wave_verdict(d)) {
            deploy_rollback_start(d);
            return;
        }
        if (d->pausing) {
            deploy_pause_now(d);
            return;
        }
        if (p->singleton_check != NULL) {
            deploy_singleton_ask(d, ASK_WAVE);
            return;
        }
        deploy_after_wave(d);
        return;
    case PH_SINGLETON:
        deploy_singleton_answered(d);
        return;
    case PH_SMOKE: {
        size_t bad = deploy_set_failures(d);
        if (bad > 0) {
            deploy_decide(d,
                          "smoke checks failed on %zu host%s: rolling the "
                          "release back",
                          bad, bad == 1 ? "" : "s");
            d->wave = d->ro->nwaves - 1;
            deploy_rollback_start(d);
            return;
        }
        bool any_bad = false;
        for (size_t i = 0; i < d->ro->nhosts; i++)
            any_bad |= d->hosts[i].state != DH_HEALTHY;
        if (!any_bad)
            snprintf(d->decision, sizeof(d->decision),
                     "every host deployed and healthy");
        deploy_finish(d, any_bad ? DV_FAILED : DV_SUCCESS);
        return;
    }
    case PH_ROLLBACK:
        if (d->wave > 0) {
            d->wave--;
            deploy_rollback_wave(d);
            return;
        }
        if (p->singleton_check != NULL && d->ask != ASK_AFTER_ROLLBACK) {
            deploy_singleton_ask(d, ASK_AFTER_ROLLBACK);
            return;
        }
        deploy_rollback_end(d);
        return;
    case PH_DONE:
        return;
    }
}

static void deploy_on_kick(struct loop *l, struct loop_timer *t, void *arg)
{
    (void)l;
    (void)t;
    struct deploy *d = arg;
    if (d->o.rollback_only) {
        /* the states the journal has: a host that failed its gate is
         * not shown healthy when the rollback cannot run */
        for (size_t i = 0; i < d->ro->nhosts; i++) {
            struct deploy_host *h = &d->hosts[i];
            const char *why =
                d->o.host_reasons != NULL ? d->o.host_reasons[i] : NULL;
            if (why != NULL)
                snprintf(h->fail_reason, sizeof(h->fail_reason), "%s", why);
            if (d->o.changed_hosts == NULL || !d->o.changed_hosts[i])
                continue;
            h->changed = true;
            h->state = d->o.done_hosts != NULL && d->o.done_hosts[i]
                           ? DH_HEALTHY
                           : DH_FAILED;
            if (h->state == DH_FAILED)
                snprintf(h->reason, sizeof(h->reason), "%s",
                         why ? why : "not healthy when the deploy stopped");
        }
        d->wave = d->o.start_wave < d->ro->nwaves ? d->o.start_wave
                                                  : d->ro->nwaves - 1;
        if (d->plan->singleton_check != NULL) {
            deploy_singleton_ask(d, ASK_ROLLBACK);
            return;
        }
        deploy_rollback_start(d);
        return;
    }
    if ((d->o.start_wave > 0 || d->o.done_hosts != NULL) &&
        !d->o.prechecks_again) {
        /* resume: earlier waves are deployed; no prechecks, no before */
        for (size_t w = 0; w < d->o.start_wave && w < d->ro->nwaves; w++) {
            size_t start = rollout_wave_start(d->ro, w);
            for (size_t i = start; i < start + d->ro->wave_sizes[w]; i++) {
                d->hosts[i].state = DH_HEALTHY;
                d->hosts[i].changed = true;
            }
            d->waves_done++;
        }
        for (size_t i = 0; d->o.done_hosts && i < d->ro->nhosts; i++)
            if (d->o.done_hosts[i]) {
                d->hosts[i].state = DH_HEALTHY;
                d->hosts[i].changed = true;
            }
        if (d->ro->nwaves == 0) {
            deploy_finish(d, DV_SUCCESS);
            return;
        }
        d->wave = d->o.start_wave < d->ro->nwaves ? d->o.start_wave
                                                  : d->ro->nwaves - 1;
        /* who holds the role, before any step: also when `before` is
         * left to finish (a deploy killed in its `before` steps gave the
         * role to a second host when resumed) */
        if (d->plan->singleton_check != NULL) {
            deploy_singleton_ask(d, ASK_RESUME);
            return;
        }
        deploy_resume_go(d);
        return;
    }
    if (d->o.store != NULL) {
        const char **names = xcalloc(d->ro->nhosts + 1, sizeof(const char *));
        /* one row per wave: one transaction, one fsync (store.h) */
        struct err be = {0};
        deploy_journal(d, store_batch_begin(d->o.store, &be), &be);
        for (size_t w = 0; w < d->ro->nwaves && !d->stopped; w++) {
            size_t start = rollout_wave_start(d->ro, w), n = 0;
            for (size_t i = start; i < start + d->ro->wave_sizes[w]; i++)
                names[n++] = d->hosts[i].name;
            struct err e = {0};
            deploy_journal(d,
                           store_wave_plan(d->o.store, d->o.deploy_id, (int)w,
                                           names, n, &e),
                           &e);
        }
        deploy_journal(d, store_batch_commit(d->o.store, &be), &be);
        free(names);
        if (d->stopped)
            return;
    }
    deploy_phase_set(d, PH_PRECHECKS_ONCE);
    d->once_i = 0;
    d->set.job = JOB_NONE;
    deploy_phase_next(d);
}

struct deploy *deploy_new(struct loop *l, const struct rollout *ro,
                          struct transport *t, struct health *h,
                          const struct deploy_options *o)
{
    struct deploy *d = xcalloc(1, sizeof(*d));
    d->loop = l;
    d->ro = ro;
    d->plan = ro->plan;
    d->t = t;
    d->health = h;
    d->o = *o;
    if (d->o.forks < 1)
        d->o.forks = 1;
    if (d->o.out == NULL)
        d->o.out = stdout;
    d->hosts = xcalloc(ro->nhosts ? ro->nhosts : 1, sizeof(*d->hosts));
    d->set.idx = xcalloc(ro->nhosts + 1, sizeof(size_t));
    d->inflight_used = xcalloc(d->o.ninflight + 1, sizeof(bool));
    for (size_t i = 0; i < ro->nhosts; i++) {
        struct deploy_host *dh = &d->hosts[i];
        deploy_host_init(d, dh);
        dh->rh = &ro->hosts[i];
        dh->name = ro->hosts[i].name;
        dh->tg = rollout_target(dh->rh);
        dh->index = i;
    }
    deploy_host_init(d, &d->local);
    d->local.name = "local";
    d->local.tg.name = "local";
    d->local.tg.address = "localhost";
    d->local.index = SIZE_MAX;
    loop_timer_init(&d->progress, deploy_on_progress, d);
    loop_timer_init(&d->pause, deploy_on_pause, d);
    loop_timer_init(&d->kick, deploy_on_kick, d);
    d->move_from = SIZE_MAX;
    d->deferred = SIZE_MAX;
    d->origin = SIZE_MAX;
    /* without a check to ask, the rollout's assumed holder keeps it */
    d->holder = ro->singleton_host >= 0 ? (size_t)ro->singleton_host : SIZE_MAX;
    d->target = d->holder;
    d->rb_holder = d->holder;
    if (o->singleton_origin != NULL) {
        d->origin_known = true;
        for (size_t i = 0; i < ro->nhosts; i++)
            if (strcmp(ro->hosts[i].name, o->singleton_origin) == 0)
                d->origin = i;
    }
    loop_timer_init(&d->live, deploy_on_live, d);
    return d;
}

void deploy_free(struct deploy *d)
{
    if (d == NULL)
        return;
    for (size_t i = 0; i < d->ro->nhosts; i++)
        deploy_host_release(&d->hosts[i]);
    deploy_host_release(&d->local);
    loop_timer_stop(d->loop, &d->progress);
    loop_timer_stop(d->loop, &d->pause);
    loop_timer_stop(d->loop, &d->kick);
    loop_timer_stop(d->loop, &d->live);
    free(d->set.idx);
    free(d->inflight_used);
    free(d->hosts);
    free(d);
}

/* Cancel every job in flight: a running command is cancelled (killed on
 * its host, and journaled as cancelled when it ends); a host connecting,
 * gating or waiting to retry fails at once. The pause follows when the
 * last job has ended. */
static void deploy_cancel_jobs(struct deploy *d, const char *why)
{
    bool idle = d->set.open == 0;
    if (d->rolling_back && d->wave > 0) {
        /* the rollback ends with this wave's verdict: no later wave is
         * launched (nor announced as if it were) */
        char left[64];
        if (d->wave == 1)
            snprintf(left, sizeof(left), "wave 1 is");
        else
            snprintf(left, sizeof(left), "waves 1-%zu are", d->wave);
        deploy_event(d, json_pack("{s:s}", "event", "decision"),
                     "the rollback stops in wave %zu: %s not rolled back",
                     d->wave + 1, left);
        d->wave = 0;
    }
    /* the hosts, then the coordinator itself (local steps) */
    for (size_t i = 0; i <= d->ro->nhosts && !d->stopped; i++) {
        struct deploy_host *h = i < d->ro->nhosts ? &d->hosts[i] : &d->local;
        if (h->job == JOB_NONE)
            continue;
        if (h->conn != NULL && h->state == DH_RUNNING && !h->retry.armed)
            conn_cancel(h->conn);
        else
            deploy_job_fail(h, OUT_FAILED, "%s", why);
    }
    /* nothing was in flight: no job's end will take the deploy on */
    if (!d->stopped && idle)
        deploy_phase_next(d);
}

void deploy_interrupt(struct deploy *d)
{
    d->interrupts++;
    if (d->stopped || d->terminated)
        return; /* SIGTERM is cancelling already */
    if (d->interrupts == 1 && d->rolling_back) {
        /* pausing would skip the waves not rolled back yet and call the
         * release rolled back: a rollback is finished, or cancelled */
        deploy_event(d, json_pack("{s:s}", "event", "interrupt"),
                     "interrupted: the rollback goes on (Ctrl-C again "
                     "cancels it)");
        return;
    }
    if (d->interrupts == 1) {
        d->pausing = true;
        snprintf(d->pause_why, sizeof(d->pause_why),
                 "interrupted (Ctrl-C) in wave %zu; steps in flight were "
                 "allowed to finish",
                 d->wave + 1);
        deploy_event(d, json_pack("{s:s}", "event", "interrupt"),
                     "interrupted: finishing the steps in flight, then "
                     "pausing (Ctrl-C again cancels them)");
        if (d->set.open == 0)
            deploy_phase_next(d);
        return;
    }
    if (d->interrupts > 2)
        return; /* already cancelling */
    snprintf(d->pause_why, sizeof(d->pause_why),
             "interrupted twice (Ctrl-C) in wave %zu; running steps were "
             "cancelled",
             d->wave + 1);
    deploy_event(d, json_pack("{s:s}", "event", "interrupt"),
                 d->rolling_back ? "interrupted again: cancelling the rollback"
                                 : "interrupted again: cancelling the running "
                                   "steps");
    deploy_cancel_jobs(d, "cancelled by Ctrl-C");
}

void deploy_terminate(struct deploy *d)
{
    if (d->stopped || d->terminated)
        return;
    d->terminated = true;
    d->pausing = true;
    snprintf(d->pause_why, sizeof(d->pause_why),
             "terminated (SIGTERM) in wave %zu; running steps were cancelled",
             d->wave + 1);
    deploy_event(d, json_pack("{s:s}", "event", "terminate"),
                 d->rolling_back ? "terminated (SIGTERM): cancelling the "
                                   "rollback"
                                 : "terminated (SIGTERM): cancelling the "
                                   "running steps, then pausing");
    deploy_cancel_jobs(d, "cancelled by SIGTERM");
}

enum err_code deploy_run(struct deploy *d, struct deploy_result *res,
                         struct err *e)
{
    memset(res, 0, sizeof(*res));
    d->started_ms = clock_mono_ms();
    loop_timer_start(d->loop, &d->kick, 0);
    if (d->o.live && !d->o.json)
        loop_timer_start(d->loop, &d->live, DEPLOY_LIVE_MS);
    while (!d->stopped) {
        if (loop_run(d->loop, e) < 0)
            return e->code;
        if (!d->stopped)
            return err_set(e, ERR_SYS,
                           "deploy stalled: the loop has nothing to wait for");
    }
    deploy_summary(d, res);
    return ERR_OK;
}
