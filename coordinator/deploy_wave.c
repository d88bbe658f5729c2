/* coordinator/deploy_wave.c: the waves and the rollback of a deploy. A
 * wave launches its hosts' steps (deploy_host.c) and is judged against
 * the failure budgets when its last job ends; a budget exceeded rolls the
 * changed hosts back, last wave first. */
#include "deploy_int.h"

#include "buf.h"
#include "clock.h"
#include "loop.h"
#include "plan.h"
#include "rollout.h"
#include "store.h"
#include "wave.h"

#include <jansson.h>

/* --- rollback ------------------------------------------------------------ */

/* The timers of a wave end with it: its progress_deadline must not fire
 * into the verdict, the singleton check or the rollback that follow. */
static void deploy_wave_timers_stop(struct deploy *d)
{
    loop_timer_stop(d->loop, &d->progress);
    loop_timer_stop(d->loop, &d->pause);
}

void deploy_rollback_wave(struct deploy *d)
{
    for (;;) {
        deploy_set_reset(d);
        size_t start = rollout_wave_start(d->ro, d->wave);
        for (size_t i = start; i < start + d->ro->wave_sizes[d->wave]; i++)
            if (d->hosts[i].changed)
                deploy_set_add(d, i);
        if (d->set.n > 0)
            break;
        if (d->wave == 0) {
            deploy_phase_next(d);
            return;
        }
        d->wave--;
    }
    deploy_event(d,
                 json_pack("{s:s,s:I,s:s}", "event", "wave", "wave",
                           (json_int_t)d->wave + 1, "state", "rollback"),
                 "rollback of wave %zu: %zu host%s", d->wave + 1, d->set.n,
                 d->set.n == 1 ? "" : "s");
    deploy_set_begin(d, JOB_ROLLBACK);
}

/* A budget was exceeded (or smoke failed): put things back if we may. */
void deploy_rollback_start(struct deploy *d)
{
    const struct plan *p = d->plan;
    size_t changed = 0;
    for (size_t i = 0; i < d->ro->nhosts; i++)
        changed += d->hosts[i].changed;
    if (changed == 0) {
        /* a human's abort or rollback of a deploy that changed no host:
         * nothing to put back, and nothing failed */
        if (d->o.rollback_only) {
            deploy_decide(d, "nothing to roll back: no host was changed");
            deploy_finish(d, DV_ROLLED_BACK);
            return;
        }
        deploy_finish(d, DV_FAILED);
        return;
    }
    if (p->nrollback_steps == 0) {
        deploy_event(d, json_pack("{s:s}", "event", "decision"),
                     "no rollback: the plan has no rollback steps; %zu "
                     "changed host%s stay%s as they are",
                     changed, changed == 1 ? "" : "s", changed == 1 ? "s" : "");
        deploy_finish(d, DV_FAILED);
        return;
    }
    if (d->irrev_step != NULL && !d->o.rollback_only) {
        deploy_decide(d,
                      "automatic rollback blocked: the irreversible step "
                      "'%s' ran on %s; decide by hand (drover rollback "
                      "--confirm-irreversible runs the rollback anyway)",
                      d->irrev_step, d->irrev_host);
        deploy_finish(d, DV_PAUSED);
        return;
    }
    /* rollback.auto decides what the engine does on its own; a human's
     * `drover rollback` / `drover abort` is that decision */
    if (!p->rollback_auto && !d->o.rollback_only) {
        deploy_decide(d, "rollback.auto is false: stopped for a decision "
                         "(drover rollback or drover abort)");
        deploy_finish(d, DV_PAUSED);
        return;
    }
    d->rolling_back = true;
    d->pausing = false;
    deploy_wave_timers_stop(d);
    d->phase = PH_ROLLBACK;
    d->rb_holder = deploy_singleton_rollback_holder(d);
    if (p->singleton_env != NULL && d->rb_holder != SIZE_MAX)
        deploy_event(
            d,
            json_pack("{s:s,s:s,s:s}", "event", "singleton", "role",
                      deploy_role(d), "host", d->hosts[d->rb_holder].name),
            "singleton '%s' goes %s %s: %s=true there, false on "
            "every other host rolled back",
            deploy_role(d), d->rb_holder == d->origin ? "back to" : "to",
            d->hosts[d->rb_holder].name, p->singleton_env);
    if (d->o.store != NULL && !d->journal_failed) {
        struct err e = {0};
        if (!deploy_journal(d,
                            store_deploy_state(d->o.store, d->o.deploy_id,
                                               "rolling back", &e),
                            &e))
            return;
    }
    deploy_event(d,
                 json_pack("{s:s,s:I}", "event", "rollback", "hosts",
                           (json_int_t)changed),
                 "rolling back %zu changed host%s, last wave first", changed,
                 changed == 1 ? "" : "s");
    deploy_rollback_wave(d);
}

/* The rollback is over (and the hosts were asked who holds the role). */
void deploy_rollback_end(struct deploy *d)
{
    size_t bad = 0;
    for (size_t i = 0; i < d->ro->nhosts; i++)
        bad += d->hosts[i].state == DH_ROLLBACK_FAILED;
    if (bad > 0)
        deploy_decide(d,
                      "ROLLBACK FAILED on %zu host%s: they need a human (see "
                      "the summary)",
                      bad, bad == 1 ? "" : "s");
    bool role_ok = d->ask != ASK_AFTER_ROLLBACK ||
                   deploy_singleton_verdict(d, d->rb_holder);
    deploy_finish(d, bad || !role_ok ? DV_ROLLBACK_FAILED : DV_ROLLED_BACK);
}

/* --- waves ---------------------------------------------------------------- */

void deploy_wave_begin(struct deploy *d)
{
    const struct plan *p = d->plan;
    size_t start = rollout_wave_start(d->ro, d->wave);
    size_t n = d->ro->wave_sizes[d->wave];
    size_t again = deploy_singleton_handover(d);
    deploy_set_reset(d);
    json_t *names = json_array();
    struct buf text;
    buf_init(&text, 2048);
    for (size_t i = start; i < start + n; i++) {
        /* resumed: done already; the new holder waits for the old one */
        if (d->hosts[i].state != DH_HEALTHY && i != d->deferred)
            deploy_set_add(d, i);
        json_array_append_new(names, json_string(d->hosts[i].name));
        buf_printf(&text, "%s%s", i > start ? " " : "", d->hosts[i].name);
    }
    if (again != SIZE_MAX)
        deploy_set_add(d, again);
    if (text.dropped > 0)
        buf_adds(&text, " ...");
    bool canary = d->wave == 0 && d->ro->has_canary;
    deploy_event(
        d,
        json_pack("{s:s,s:I,s:I,s:o,s:s,s:b}", "event", "wave", "wave",
                  (json_int_t)d->wave + 1, "waves", (json_int_t)d->ro->nwaves,
                  "hosts", names, "state", "started", "canary", canary),
        "wave %zu/%zu%s: %zu host%s: %s", d->wave + 1, d->ro->nwaves,
        canary ? " (canary)" : "", n, n == 1 ? "" : "s", buf_cstr(&text));
    buf_release(&text);
    if (p->progress_deadline_ms > 0)
        loop_timer_start(d->loop, &d->progress, p->progress_deadline_ms);
    deploy_wave_journal(d, d->wave, "running");
    if (d->stopped)
        return;
    d->phase = PH_WAVE;
    deploy_set_begin(d, JOB_STEPS);
}

/* Judge the finished wave; true when the deploy goes on. */
bool deploy_wave_verdict(struct deploy *d)
{
    const struct plan *p = d->plan;
    size_t start = rollout_wave_start(d->ro, d->wave);
    size_t n = d->ro->wave_sizes[d->wave], bad = 0, unreach = 0;
    deploy_wave_timers_stop(d);
    for (size_t i = start; i < start + n; i++) {
        bad += d->hosts[i].state == DH_FAILED ||
               d->hosts[i].state == DH_UNREACHABLE;
        unreach += d->hosts[i].state == DH_UNREACHABLE;
    }
    d->total_failed += bad;
    size_t allowed = wave_budget(&p->max_fail, n);
    char words[32];
    wave_budget_words(&p->max_fail, words, sizeof(words));
    if (bad > allowed) {
        deploy_wave_journal(d, d->wave, "failed");
        deploy_decide(d,
                      "wave %zu/%zu stopped: %zu of %zu host%s failed%s, "
                      "max_fail is %s",
                      d->wave + 1, d->ro->nwaves, bad, n, n == 1 ? "" : "s",
                      unreach ? " (unreachable hosts count)" : "", words);
        return false;
    }
    if (p->max_fail_total_set) {
        size_t total = wave_budget(&p->max_fail_total, d->ro->nhosts);
        wave_budget_words(&p->max_fail_total, words, sizeof(words));
        if (d->total_failed > total) {
            deploy_decide(d,
                          "deploy stopped after wave %zu/%zu: %zu host%s "
                          "failed in all, max_fail_total is %s",
                          d->wave + 1, d->ro->nwaves, d->total_failed,
                          d->total_failed == 1 ? "" : "s", words);
            return false;
        }
    }
    d->waves_done++;
    deploy_wave_journal(d, d->wave, "done");
    if (bad > 0) {
        char text[256];
        snprintf(text, sizeof(text),
                 "wave %zu/%zu done: %zu of %zu host%s failed, within "
                 "max_fail %s: going on",
                 d->wave + 1, d->ro->nwaves, bad, n, n == 1 ? "" : "s", words);
        deploy_event(d,
                     json_pack("{s:s,s:I,s:s,s:I}", "event", "wave", "wave",
                               (json_int_t)d->wave + 1, "state", "done",
                               "failed", (json_int_t)bad),
                     "%s", text);
        deploy_decision_journal(d, text);
    } else
        deploy_event(d,
                     json_pack("{s:s,s:I,s:s,s:I}", "event", "wave", "wave",
                               (json_int_t)d->wave + 1, "state", "done",
                               "failed", (json_int_t)0),
                     "wave %zu/%zu done: %zu host%s healthy", d->wave + 1,
                     d->ro->nwaves, n, n == 1 ? "" : "s");
    return true;
}

void deploy_on_progress(struct loop *l, struct loop_timer *t, void *arg)
{
    (void)l;
    (void)t;
    struct deploy *d = arg;
    if (d->phase != PH_WAVE || d->stopped)
        return; /* the wave is over: its deadline went with it */
    char dl[32];
    clock_fmt_duration(d->plan->progress_deadline_ms, dl, sizeof(dl));
    deploy_event(d, json_pack("{s:s}", "event", "decision"),
                 "wave %zu: no host became healthy for %s "
                 "(progress_deadline): failing the hosts still open",
                 d->wave + 1, dl);
    size_t start = rollout_wave_start(d->ro, d->wave);
    size_t n = d->ro->wave_sizes[d->wave];
    for (size_t i = start; i < start + n && !d->stopped; i++) {
        struct deploy_host *h = &d->hosts[i];
        if (h->job == JOB_STEPS)
            deploy_job_fail(h, OUT_FAILED, "progress_deadline %s passed", dl);
    }
}

void deploy_on_pause(struct loop *l, struct loop_timer *t, void *arg)
{
    (void)l;
    (void)t;
    struct deploy *d = arg;
    d->wave++;
    deploy_wave_begin(d);
}
