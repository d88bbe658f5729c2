/* coordinator/gate.c: one host's health gate. A round probes every check at
 * once; when the round is complete it is judged (gate_round_done): all
 * passing starts or continues the soak, anything else resets it. The
 * deadline timer ends the gate with the last evidence. Everything a gate
 * needs is in one allocation with its timers embedded, so gating hundreds
 * of hosts costs hundreds of small structs and no threads. */
#include "gate.h"

#include "check.h"
#include "clock.h"
#include "err.h"
#include "log.h"
#include "loop.h"
#include "plan.h"
#include "rollout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum gate_state { GATE_WAITING, GATE_SOAKING, GATE_HEALTHY, GATE_FAILED };

/* A command check in flight (the token the exec ops report with). */
struct gate_exec {
    struct gate_check *c; /* the check */
    bool running;         /* started, not yet reported or cancelled */
};

/* One check of the gate and what it last said. */
struct gate_check {
    struct gate *g;           /* owner */
    struct gate_exec exec;    /* a command check's run */
    size_t idx;               /* index in the spec */
    struct probe *probe;      /* in flight, or NULL */
    struct probe_result last; /* last outcome (body not kept) */
    bool have;                /* last is set */
    int64_t bad_since;        /* start of the current non-passing streak,
                                 -1 while passing */
};

struct gate {
    struct health *health;            /* probes go through it */
    struct loop *loop;                /* timers */
    const struct gate_spec *spec;     /* borrowed */
    const char *host;                 /* borrowed, for messages */
    gate_done_fn *fn;                 /* verdict */
    void *arg;                        /* passed to fn */
    gate_probe_fn *on_probe;          /* observer of every probe, or NULL */
    void *probe_arg;                  /* passed to on_probe */
    const struct gate_exec_ops *xops; /* runs command checks, or NULL */
    void *xarg;                       /* passed to xops */
    size_t next_cmd;        /* where to look for this round's next command */
    struct loop_timer tick; /* next round */
    struct loop_timer deadline; /* healthy_deadline */
    int64_t interval_ms;        /* effective interval */
    int64_t deadline_ms;        /* effective deadline */
    int64_t start_ms;           /* gate_start */
    int64_t round_ms;           /* start of the current round */
    int64_t soak_ms;            /* soak start, -1 when not soaking */
    unsigned rounds;            /* rounds started */
    unsigned regressions;       /* soaks reset */
    size_t pending;             /* probes of this round still out */
    enum gate_state state;      /* see gate_state() */
    struct gate_check checks[]; /* one per spec check */
};

static const char *gate_state_str(enum gate_state s)
{
    switch (s) {
    case GATE_WAITING:
        return "waiting";
    case GATE_SOAKING:
        return "soaking";
    case GATE_HEALTHY:
        return "healthy";
    case GATE_FAILED:
        return "failed";
    }
    return "?";
}

/* Every state change goes through here, so a host's trace reads as a
 * sequence of transitions. */
static void gate_state(struct gate *g, enum gate_state to, const char *why)
{
    if (g->state == to)
        return;
    log_debug("host=%s gate: %s -> %s (%s)", g->host, gate_state_str(g->state),
              gate_state_str(to), why);
    g->state = to;
}

/* Whether c runs on the host (one at a time) rather than from here. */
static bool gate_is_command(const struct rollout_check *c)
{
    return c->check->kind->exec != NULL;
}

static void gate_cancel_probes(struct gate *g)
{
    for (size_t i = 0; i < g->spec->nchecks; i++) {
        struct gate_check *c = &g->checks[i];
        probe_cancel(c->probe);
        c->probe = NULL;
        if (c->exec.running) {
            c->exec.running = false;
            g->xops->cancel(&c->exec, g->xarg);
        }
    }
    g->pending = 0;
}

/* The verdict: stop everything, then call back (fn may free g). */
static void gate_finish(struct gate *g, bool healthy, size_t check,
                        const char *reason)
{
    int64_t now = clock_mono_ms();
    struct gate_result r;
    memset(&r, 0, sizeof(r));
    gate_cancel_probes(g);
    loop_timer_stop(g->loop, &g->tick);
    loop_timer_stop(g->loop, &g->deadline);
    gate_state(g, healthy ? GATE_HEALTHY : GATE_FAILED, reason);
    r.healthy = healthy;
    r.elapsed_ms = now - g->start_ms;
    r.rounds = g->rounds;
    r.regressions = g->regressions;
    r.failed_check = check;
    if (check < g->spec->nchecks && g->checks[check].have)
        r.last = g->checks[check].last;
    r.last.body = "";
    r.last.body_len = 0;
    snprintf(r.reason, sizeof(r.reason), "%s", reason);
    if (healthy)
        log_debug("host=%s gate: healthy after %lldms (%u rounds)", g->host,
                  (long long)r.elapsed_ms, r.rounds);
    else
        log_debug("host=%s gate: failed: %s", g->host, reason);
    g->fn(&r, g->arg);
}

static void gate_probe_done(const struct probe_result *r, void *arg);
static void gate_round_done(struct gate *g);

/* Start this round's next command check, if any. Commands of one host
 * run one after the other: its connection runs one command at a time. */
static void gate_next_command(struct gate *g)
{
    size_t i = g->next_cmd;
    while (i < g->spec->nchecks && !gate_is_command(&g->spec->checks[i]))
        i++;
    if (i >= g->spec->nchecks)
        return;
    g->next_cmd = i + 1;
    const struct rollout_check *cs = &g->spec->checks[i];
    struct gate_check *c = &g->checks[i];
    if (g->xops == NULL) {
        struct probe_result r;
        memset(&r, 0, sizeof(r));
        r.verdict = PROBE_FAIL;
        r.body = "";
        snprintf(r.reason, sizeof(r.reason),
                 "no transport to run command checks on");
        gate_probe_done(&r, c);
        return;
    }
    struct exec_spec s = {0};
    cs->check->kind->exec(cs, &s);
    c->exec.running = true;
    g->xops->start(&c->exec, g->host, &s, g->xarg);
}

static void gate_tick(struct loop *l, struct loop_timer *t, void *arg)
{
    (void)l;
    (void)t;
    struct gate *g = arg;
    g->round_ms = clock_mono_ms();
    g->rounds++;
    g->next_cmd = 0;
    /* One more than the checks while starting them: a result reported
     * from inside a start cannot end the round under our feet. */
    g->pending = g->spec->nchecks + 1;
    /* All checks probed from here go out together. */
    for (size_t i = 0; i < g->spec->nchecks; i++) {
        const struct rollout_check *rc = &g->spec->checks[i];
        if (!gate_is_command(rc))
            g->checks[i].probe =
                rc->check->kind->probe(g->health, rc, g->spec->rolled_back,
                                       gate_probe_done, &g->checks[i]);
    }
    gate_next_command(g);
    if (--g->pending == 0)
        gate_round_done(g);
}

/* Judge a complete round: start, continue or reset the soak. */
static void gate_round_done(struct gate *g)
{
    int64_t now = clock_mono_ms();
    size_t bad = g->spec->nchecks;
    for (size_t i = 0; i < g->spec->nchecks && bad == g->spec->nchecks; i++)
        if (g->checks[i].last.verdict != PROBE_PASS)
            bad = i;
    if (bad == g->spec->nchecks) {
        if (g->soak_ms < 0) {
            g->soak_ms = g->round_ms;
            gate_state(g, GATE_SOAKING, "every check passed");
        }
        int64_t soaked = g->round_ms - g->soak_ms;
        if (soaked >= g->spec->min_healthy_ms) {
            char why[256], d[32];
            snprintf(why, sizeof(why),
                     "healthy: %zu check%s passed for %s (%u round%s)",
                     g->spec->nchecks, g->spec->nchecks == 1 ? "" : "s",
                     clock_fmt_duration(soaked, d, sizeof(d)), g->rounds,
                     g->rounds == 1 ? "" : "s");
            gate_finish(g, true, g->spec->nchecks - 1, why);
            return;
        }
    } else if (g->spec->one_round) {
        char lbl[96], why[256];
        check_label(&g->spec->checks[bad], lbl, sizeof(lbl));
        snprintf(why, sizeof(why), "%s: %s", lbl, g->checks[bad].last.reason);
        gate_finish(g, false, bad, why);
        return;
    } else if (g->soak_ms >= 0) {
        char lbl[96], why[256];
        check_label(&g->spec->checks[bad], lbl, sizeof(lbl));
        snprintf(why, sizeof(why), "soak reset: %s: %s", lbl,
                 g->checks[bad].last.reason);
        g->regressions++;
        g->soak_ms = -1;
        log_debug("host=%s gate: %s", g->host, why);
        gate_state(g, GATE_WAITING, why);
    }
    int64_t wait = g->round_ms + g->interval_ms - now;
    loop_timer_start(g->loop, &g->tick, wait > 0 ? wait : 0);
}

static void gate_probe_done(const struct probe_result *r, void *arg)
{
    struct gate_check *c = arg;
    struct gate *g = c->g;
    c->probe = NULL;
    c->last = *r;
    c->last.body = "";
    c->last.body_len = 0;
    c->have = true;
    if (r->verdict == PROBE_PASS)
        c->bad_since = -1;
    else if (c->bad_since < 0)
        c->bad_since = g->round_ms;
    if (g->on_probe != NULL)
        g->on_probe(g->host, c->idx, r, g->probe_arg);
    g->pending--;
    if (gate_is_command(&g->spec->checks[c->idx])) {
        g->pending++; /* held, as in gate_tick */
        gate_next_command(g);
        g->pending--;
    }
    if (g->pending == 0)
        gate_round_done(g);
}

void gate_exec_done(struct gate_exec *x, const struct exec_result *r)
{
    if (!x->running)
        return;
    x->running = false;
    struct probe_result pr;
    memset(&pr, 0, sizeof(pr));
    pr.body = "";
    pr.latency_ms = r->elapsed_ms;
    exec_result_str(r, pr.reason, sizeof(pr.reason));
    if (exec_result_ok(r))
        pr.verdict = PROBE_PASS;
    else if (r->end == EXEC_TIMEOUT || r->end == EXEC_FAILED)
        pr.verdict = PROBE_NOT_YET; /* the host may still be coming up */
    else
        pr.verdict = PROBE_FAIL;
    gate_probe_done(&pr, x->c);
}

void gate_set_exec(struct gate *g, const struct gate_exec_ops *ops, void *arg)
{
    g->xops = ops;
    g->xarg = arg;
}

/* The deadline passed: fail with the most telling evidence. */
static void gate_deadline(struct loop *l, struct loop_timer *t, void *arg)
{
    (void)l;
    (void)t;
    struct gate *g = arg;
    int64_t now = clock_mono_ms();
    char why[256], lbl[96], d1[32], d2[32];
    clock_fmt_duration(g->deadline_ms, d2, sizeof(d2));
    /* The first check that did not pass last time, else one that never
     * answered, else the soak was not long enough. */
    for (size_t i = 0; i < g->spec->nchecks; i++) {
        const struct gate_check *c = &g->checks[i];
        if (!c->have || c->last.verdict == PROBE_PASS)
            continue;
        check_label(&g->spec->checks[i], lbl, sizeof(lbl));
        if (g->regressions > 0) /* it flapped: the soak is the story */
            snprintf(why, sizeof(why),
                     "%s: %s when healthy_deadline %s passed; never held "
                     "for min_healthy_time (%u soak reset%s)",
                     lbl, c->last.reason, d2, g->regressions,
                     g->regressions == 1 ? "" : "s");
        else
            snprintf(why, sizeof(why), "%s: %s for %s (healthy_deadline %s)",
                     lbl, c->last.reason,
                     clock_fmt_duration(now - c->bad_since, d1, sizeof(d1)),
                     d2);
        gate_finish(g, false, i, why);
        return;
    }
    for (size_t i = 0; i < g->spec->nchecks; i++) {
        if (g->checks[i].have)
            continue;
        check_label(&g->spec->checks[i], lbl, sizeof(lbl));
        snprintf(why, sizeof(why), "%s: no answer within healthy_deadline %s",
                 lbl, d2);
        gate_finish(g, false, i, why);
        return;
    }
    int64_t soaked = g->soak_ms >= 0 ? now - g->soak_ms : 0;
    char d3[32];
    snprintf(why, sizeof(why),
             "healthy for only %s of min_healthy_time %s when "
             "healthy_deadline %s passed (%u soak reset%s)",
             clock_fmt_duration(soaked, d1, sizeof(d1)),
             clock_fmt_duration(g->spec->min_healthy_ms, d3, sizeof(d3)), d2,
             g->regressions, g->regressions == 1 ? "" : "s");
    gate_finish(g, false, g->spec->nchecks - 1, why);
}

struct gate *gate_start(struct health *h, struct loop *l,
                        const struct gate_spec *s, const char *host,
                        gate_done_fn *fn, void *arg)
{
    struct gate *g =
        xcalloc(1, sizeof(*g) + s->nchecks * sizeof(struct gate_check));
    g->health = h;
    g->loop = l;
    g->spec = s;
    g->host = host;
    g->fn = fn;
    g->arg = arg;
    g->interval_ms =
        s->interval_ms > 0 ? s->interval_ms : GATE_DEFAULT_INTERVAL_MS;
    g->deadline_ms = s->healthy_deadline_ms > 0 ? s->healthy_deadline_ms
                                                : GATE_DEFAULT_DEADLINE_MS;
    g->start_ms = clock_mono_ms();
    g->soak_ms = -1;
    g->state = GATE_WAITING;
    for (size_t i = 0; i < s->nchecks; i++) {
        g->checks[i].g = g;
        g->checks[i].idx = i;
        g->checks[i].bad_since = -1;
        g->checks[i].exec.c = &g->checks[i];
    }
    loop_timer_init(&g->tick, gate_tick, g);
    loop_timer_init(&g->deadline, gate_deadline, g);
    loop_timer_start(l, &g->deadline, g->deadline_ms);
    loop_timer_start(l, &g->tick, 0);
    log_debug("host=%s gate: %zu checks, interval %lldms, min_healthy "
              "%lldms, deadline %lldms",
              host, s->nchecks, (long long)g->interval_ms,
              (long long)s->min_healthy_ms, (long long)g->deadline_ms);
    return g;
}

void gate_on_probe(struct gate *g, gate_probe_fn *fn, void *arg)
{
    g->on_probe = fn;
    g->probe_arg = arg;
}

void gate_free(struct gate *g)
{
    if (g == NULL)
        return;
    gate_cancel_probes(g);
    loop_timer_stop(g->loop, &g->tick);
    loop_timer_stop(g->loop, &g->deadline);
    free(g);
}
