/* coordinator/deploy.c: the wave engine. Each host is a small state
 * machine (pending -> connecting -> running -> gating -> healthy/failed)
 * whose transitions all go through deploy_host_set(), which logs them.
 * Waves are strictly sequential; hosts inside a wave run in parallel up to
 * `forks`. Printing goes through deploy_say(), which redacts. */
#include "deploy.h"

#include "buf.h"
#include "clock.h"
#include "gate.h"
#include "health.h"
#include "log.h"
#include "loop.h"
#include "plan.h"
#include "redact.h"
#include "rollout.h"
#include "transport.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

enum { DEPLOY_LINE_MAX = 4096 };

struct deploy;

struct deploy_host {
    struct deploy *d;              /* owner */
    const struct rollout_host *rh; /* resolved host (borrowed) */
    size_t index;                  /* in the rollout */
    enum deploy_host_state state;  /* where it is */
    struct conn *conn;             /* open while connecting/running */
    struct gate *gate;             /* while gating */
    struct check_spec *checks;     /* the gate's checks (URLs borrowed) */
    struct gate_spec gspec;        /* the gate */
    size_t step;                   /* step being run */
    struct buf output;             /* captured output, capped */
    struct buf partial[2];         /* -v: unfinished stdout/stderr line */
    char reason[512];              /* why it failed, in words */
    int64_t started_ms;            /* when its wave launched it */
    int64_t step_started_ms;       /* when the current step started */
    int64_t finished_ms;           /* when it reached a final state */
};

struct deploy {
    struct loop *loop;         /* the reactor */
    const struct rollout *ro;  /* what to do */
    struct transport *t;       /* how to reach hosts */
    struct health *health;     /* HTTP probes */
    struct deploy_options o;   /* options */
    struct deploy_host *hosts; /* ro->nhosts entries, wave order */
    size_t wave;               /* current wave */
    size_t next_launch;        /* next host of the wave to launch */
    size_t in_flight;          /* hosts connecting or running steps */
    size_t wave_open;          /* hosts of the wave not yet final */
    bool stopped;              /* the deploy is over */
    size_t waves_done;         /* waves completed */
    int64_t started_ms;        /* deploy start */
};

static const char *const deploy_state_names[] = {
    "pending", "connecting", "running",     "gating",
    "healthy", "failed",     "unreachable", "skipped"};

const char *deploy_state_name(enum deploy_host_state s)
{
    return deploy_state_names[s];
}

static void deploy_say(struct deploy *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* One line of progress to the output stream, redacted. */
static void deploy_say(struct deploy *d, const char *fmt, ...)
{
    char line[DEPLOY_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    char *safe = redact_str(redact_global(), line);
    fprintf(d->o.out, "%s\n", safe);
    fflush(d->o.out);
    free(safe);
}

static void deploy_host_set(struct deploy_host *h, enum deploy_host_state s)
{
    log_debug("host=%s state %s -> %s", h->rh->name,
              deploy_state_name(h->state), deploy_state_name(s));
    h->state = s;
}

static void deploy_wave_start(struct deploy *d);
static void deploy_launch(struct deploy *d);

/* --- host final states ------------------------------------------------- */

static void deploy_host_final(struct deploy_host *h, enum deploy_host_state s)
{
    struct deploy *d = h->d;
    bool was_in_flight = h->state == DH_CONNECTING || h->state == DH_RUNNING;
    if (h->conn != NULL) {
        conn_close(h->conn);
        h->conn = NULL;
    }
    gate_free(h->gate);
    h->gate = NULL;
    deploy_host_set(h, s);
    h->finished_ms = clock_mono_ms();
    if (was_in_flight)
        d->in_flight--;
    d->wave_open--;
    if (d->wave_open == 0) {
        deploy_wave_start(d);
        return;
    }
    if (was_in_flight)
        deploy_launch(d);
}

static void deploy_host_fail(struct deploy_host *h, enum deploy_host_state s,
                             const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void deploy_host_fail(struct deploy_host *h, enum deploy_host_state s,
                             const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->reason, sizeof(h->reason), fmt, ap);
    va_end(ap);
    deploy_say(h->d, "  %s: %s: %s", h->rh->name,
               s == DH_UNREACHABLE ? "UNREACHABLE" : "FAILED", h->reason);
    deploy_host_final(h, s);
}

/* --- health gate ------------------------------------------------------- */

static void deploy_gate_done(const struct gate_result *r, void *arg)
{
    struct deploy_host *h = arg;
    char dur[32];
    clock_fmt_duration(r->elapsed_ms, dur, sizeof(dur));
    if (r->healthy) {
        deploy_say(h->d, "  %s: healthy after %s (%u probe round%s)",
                   h->rh->name, dur, r->rounds, r->rounds == 1 ? "" : "s");
        deploy_host_final(h, DH_HEALTHY);
    } else {
        deploy_host_fail(h, DH_FAILED, "health gate: %s", r->reason);
    }
}

static void deploy_gate_start(struct deploy_host *h)
{
    struct deploy *d = h->d;
    const struct plan *p = d->ro->plan;
    if (p->nchecks == 0) {
        deploy_say(d, "  %s: deployed (no health checks)", h->rh->name);
        deploy_host_final(h, DH_HEALTHY);
        return;
    }
    h->checks = xcalloc(p->nchecks, sizeof(*h->checks));
    for (size_t i = 0; i < p->nchecks; i++) {
        h->checks[i].http = h->rh->urls[i];
        h->checks[i].expect_status = p->checks[i].expect_status;
        h->checks[i].timeout_ms = p->checks[i].timeout_ms;
    }
    h->gspec.checks = h->checks;
    h->gspec.nchecks = p->nchecks;
    h->gspec.interval_ms = p->interval_ms;
    h->gspec.min_healthy_ms = p->min_healthy_ms;
    h->gspec.healthy_deadline_ms = p->healthy_deadline_ms;
    h->gate = gate_start(d->health, d->loop, &h->gspec, h->rh->name,
                         deploy_gate_done, h);
}

/* --- steps ------------------------------------------------------------- */

static void deploy_next_step(struct deploy_host *h)
{
    struct deploy *d = h->d;
    const struct plan *p = d->ro->plan;
    if (h->step >= p->nsteps) {
        /* Steps done: the connection is not needed for HTTP checks, and
         * the fork slot goes to the next host of the wave. */
        conn_close(h->conn);
        h->conn = NULL;
        d->in_flight--;
        deploy_host_set(h, DH_GATING);
        deploy_gate_start(h);
        deploy_launch(d);
        return;
    }
    const struct plan_step *st = &p->steps[h->step];
    struct exec_spec spec = {
        .command = h->rh->cmds[h->step],
        .timeout_ms = st->timeout_ms,
    };
    struct err e = {0};
    h->step_started_ms = clock_mono_ms();
    log_debug("host=%s step=%s command=%s", h->rh->name, st->name,
              spec.command);
    if (conn_exec(h->conn, &spec, &e) != ERR_OK)
        deploy_host_fail(h, DH_FAILED, "step '%s': %s", st->name, e.msg);
}

static void deploy_flush_line(struct deploy_host *h, int idx)
{
    struct buf *b = &h->partial[idx];
    if (b->len == 0)
        return;
    deploy_say(h->d, "%s: %s%s", h->rh->name, idx ? "[stderr] " : "",
               buf_cstr(b));
    buf_reset(b);
}

static void deploy_on_output(struct conn *c, int stream, const char *data,
                             size_t len, void *arg)
{
    (void)c;
    struct deploy_host *h = arg;
    buf_add(&h->output, data, len);
    if (!h->d->o.verbose)
        return;
    int idx = stream == EXEC_STDERR ? 1 : 0;
    for (size_t i = 0; i < len; i++) {
        if (data[i] == '\n')
            deploy_flush_line(h, idx);
        else
            buf_addc(&h->partial[idx], data[i]);
    }
}

static void deploy_on_done(struct conn *c, const struct exec_result *r,
                           void *arg)
{
    (void)c;
    struct deploy_host *h = arg;
    const struct plan_step *st = &h->d->ro->plan->steps[h->step];
    deploy_flush_line(h, 0);
    deploy_flush_line(h, 1);
    char what[300], dur[32];
    exec_result_str(r, what, sizeof(what));
    clock_fmt_duration(clock_mono_ms() - h->step_started_ms, dur, sizeof(dur));
    if (!exec_result_ok(r)) {
        deploy_host_fail(h, DH_FAILED, "step '%s' %s after %s", st->name, what,
                         dur);
        return;
    }
    if (h->d->o.verbose)
        deploy_say(h->d, "  %s: step '%s' ok (%s)", h->rh->name, st->name, dur);
    h->step++;
    deploy_next_step(h);
}

static void deploy_on_opened(struct conn *c, const struct err *e, void *arg)
{
    (void)c;
    struct deploy_host *h = arg;
    if (e != NULL && e->code != ERR_OK) {
        deploy_host_fail(h, DH_UNREACHABLE, "%s", e->msg);
        return;
    }
    deploy_host_set(h, DH_RUNNING);
    deploy_next_step(h);
}

static const struct conn_cb deploy_conn_cb = {
    .opened = deploy_on_opened,
    .output = deploy_on_output,
    .done = deploy_on_done,
};

/* --- waves ------------------------------------------------------------- */

/* Launch hosts of the current wave while fork slots are free. */
static void deploy_launch(struct deploy *d)
{
    if (d->stopped)
        return;
    size_t start = rollout_wave_start(d->ro, d->wave);
    size_t end = start + d->ro->wave_sizes[d->wave];
    while (d->next_launch < end && d->in_flight < (size_t)d->o.forks) {
        struct deploy_host *h = &d->hosts[d->next_launch++];
        struct target tg = rollout_target(h->rh);
        d->in_flight++;
        h->started_ms = clock_mono_ms();
        deploy_host_set(h, DH_CONNECTING);
        h->conn = transport_connect(d->t, &tg, &deploy_conn_cb, h);
    }
}

static void deploy_finish(struct deploy *d)
{
    d->stopped = true;
    loop_stop(d->loop);
}

/* Called when every host of the current wave is final (and at start,
 * with wave == SIZE_MAX meaning "none yet"). */
static void deploy_wave_start(struct deploy *d)
{
    if (d->wave != SIZE_MAX) {
        size_t start = rollout_wave_start(d->ro, d->wave);
        size_t n = d->ro->wave_sizes[d->wave], bad = 0;
        for (size_t i = start; i < start + n; i++)
            bad += d->hosts[i].state != DH_HEALTHY;
        if (bad > 0) {
            deploy_say(d,
                       "wave %zu/%zu stopped: %zu of %zu host%s failed; "
                       "no later wave starts",
                       d->wave + 1, d->ro->nwaves, bad, n, n == 1 ? "" : "s");
            deploy_finish(d);
            return;
        }
        d->waves_done++;
        deploy_say(d, "wave %zu/%zu done: %zu host%s healthy", d->wave + 1,
                   d->ro->nwaves, n, n == 1 ? "" : "s");
        if (d->wave + 1 == d->ro->nwaves) {
            deploy_finish(d);
            return;
        }
    }
    d->wave = d->wave == SIZE_MAX ? 0 : d->wave + 1;
    size_t start = rollout_wave_start(d->ro, d->wave);
    size_t n = d->ro->wave_sizes[d->wave];
    struct buf names;
    buf_init(&names, 2048);
    for (size_t i = start; i < start + n; i++)
        buf_printf(&names, "%s%s", i > start ? " " : "", d->hosts[i].rh->name);
    if (names.dropped > 0)
        buf_adds(&names, " ...");
    deploy_say(d, "wave %zu/%zu: %zu host%s: %s", d->wave + 1, d->ro->nwaves, n,
               n == 1 ? "" : "s", buf_cstr(&names));
    buf_release(&names);
    d->next_launch = start;
    d->wave_open = n;
    deploy_launch(d);
}

/* --- lifecycle --------------------------------------------------------- */

struct deploy *deploy_new(struct loop *l, const struct rollout *ro,
                          struct transport *t, struct health *h,
                          const struct deploy_options *o)
{
    struct deploy *d = xcalloc(1, sizeof(*d));
    d->loop = l;
    d->ro = ro;
    d->t = t;
    d->health = h;
    d->o = *o;
    if (d->o.forks < 1)
        d->o.forks = 1;
    if (d->o.out == NULL)
        d->o.out = stdout;
    d->hosts = xcalloc(ro->nhosts ? ro->nhosts : 1, sizeof(*d->hosts));
    for (size_t i = 0; i < ro->nhosts; i++) {
        struct deploy_host *dh = &d->hosts[i];
        dh->d = d;
        dh->rh = &ro->hosts[i];
        dh->index = i;
        buf_init(&dh->output, d->o.output_cap ? d->o.output_cap : 65536);
        buf_init(&dh->partial[0], DEPLOY_LINE_MAX);
        buf_init(&dh->partial[1], DEPLOY_LINE_MAX);
    }
    d->wave = SIZE_MAX;
    return d;
}

void deploy_free(struct deploy *d)
{
    if (d == NULL)
        return;
    for (size_t i = 0; i < d->ro->nhosts; i++) {
        struct deploy_host *h = &d->hosts[i];
        conn_close(h->conn);
        gate_free(h->gate);
        free(h->checks);
        buf_release(&h->output);
        buf_release(&h->partial[0]);
        buf_release(&h->partial[1]);
    }
    free(d->hosts);
    free(d);
}

enum deploy_host_state deploy_host_state(const struct deploy *d, size_t i)
{
    return d->hosts[i].state;
}

static void deploy_summary(struct deploy *d, struct deploy_result *res)
{
    const struct rollout *ro = d->ro;
    deploy_say(d, "\nsummary:");
    for (size_t i = 0; i < ro->nhosts; i++) {
        struct deploy_host *h = &d->hosts[i];
        if (h->state == DH_PENDING)
            h->state = DH_SKIPPED;
        switch (h->state) {
        case DH_HEALTHY:
            res->healthy++;
            break;
        case DH_UNREACHABLE:
            res->unreachable++;
            break;
        case DH_SKIPPED:
            res->skipped++;
            break;
        default:
            res->failed++;
            break;
        }
        char dur[32] = "-";
        if (h->finished_ms > 0)
            clock_fmt_duration(h->finished_ms - h->started_ms, dur,
                               sizeof(dur));
        deploy_say(d, "  %-20s wave %-3zu %-11s %8s  %s", h->rh->name,
                   h->rh->wave + 1, deploy_state_name(h->state), dur,
                   h->reason);
    }
    /* Output of failed hosts, so the operator sees why without -v. */
    for (size_t i = 0; i < ro->nhosts; i++) {
        struct deploy_host *h = &d->hosts[i];
        if (h->state != DH_FAILED || h->output.len == 0)
            continue;
        deploy_say(d, "\noutput of %s (%zu bytes%s):", h->rh->name,
                   h->output.len, h->output.dropped ? ", cut" : "");
        const char *p = buf_cstr(&h->output);
        while (*p) {
            size_t n = strcspn(p, "\n");
            deploy_say(d, "  %s| %.*s", h->rh->name, (int)n, p);
            p += n;
            if (*p == '\n')
                p++;
        }
        if (h->output.dropped)
            deploy_say(d,
                       "  %s| [output cut at %zu bytes: %zu more bytes "
                       "not kept]",
                       h->rh->name, h->output.limit, h->output.dropped);
    }
    res->waves_done = d->waves_done;
    res->elapsed_ms = clock_mono_ms() - d->started_ms;
    res->ok = res->healthy == ro->nhosts;
    char dur[32];
    clock_fmt_duration(res->elapsed_ms, dur, sizeof(dur));
    deploy_say(d,
               "\n%s: %zu host%s: %zu healthy, %zu failed, %zu unreachable, "
               "%zu not started; %zu/%zu waves in %s",
               res->ok ? "deploy succeeded" : "deploy FAILED", ro->nhosts,
               ro->nhosts == 1 ? "" : "s", res->healthy, res->failed,
               res->unreachable, res->skipped, res->waves_done, ro->nwaves,
               dur);
}

enum err_code deploy_run(struct deploy *d, struct deploy_result *res,
                         struct err *e)
{
    memset(res, 0, sizeof(*res));
    d->started_ms = clock_mono_ms();
    deploy_wave_start(d);
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
