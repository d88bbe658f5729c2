/* coordinator/deploy.c: the rolling engine. A deploy is a sequence of
 * phases (prechecks, before, waves, smoke, rollback); each phase runs
 * *jobs* on a set of hosts, at most `forks` at a time. A job is a host's
 * commands (through its transport connection, opened once per job) and
 * then, optionally, its health gate. Host transitions go through
 * deploy_host_set(), which logs old -> new; every decision goes through
 * deploy_event(), which says it in words (or JSON) and redacts it. */
#include "deploy.h"

#include "buf.h"
#include "clock.h"
#include "cmdwrap.h"
#include "fence.h"
#include "gate.h"
#include "health.h"
#include "jsonout.h"
#include "log.h"
#include "loop.h"
#include "plan.h"
#include "rollout.h"
#include "store.h"
#include "transport.h"
#include "wave.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { DEPLOY_LINE_MAX = 4096 };

/* What a host is doing in the current phase. */
enum deploy_job {
    JOB_NONE,
    JOB_PRECHECK,  /* `each` prechecks */
    JOB_ONCE,      /* one once/local step */
    JOB_STEPS,     /* the wave's steps, then the health gate */
    JOB_SMOKE,     /* smoke checks */
    JOB_SINGLETON, /* the singleton check: does this host hold the role? */
    JOB_ROLLBACK,  /* rollback steps, then the health gate */
    JOB_SETTLE,    /* a deploy step journaled in flight (the coordinator
                      died): collected from its host before that host
                      rolls back, so no rollback runs beside it */
    JOB_WAIT       /* before a host's first step: wait there for the steps
                      of a superseded deploy still running (deploy_orphan) */
};

/* Reconnections to follow one step whose connection was lost. */
enum { DEPLOY_REATTACH_MAX = 2 };

/* How long a host waits for a superseded deploy's step, at most. */
enum { DEPLOY_ORPHAN_WAIT_MS = 10 * 60 * 1000 };

/* Why the hosts are asked whether they hold the singleton role. */
enum deploy_ask {
    ASK_BEFORE,        /* before any change: who holds it now */
    ASK_RESUME,        /* a continued deploy: who holds it now */
    ASK_ROLLBACK,      /* a human's rollback: who holds it now */
    ASK_WAVE,          /* after a wave: the holder drover expects */
    ASK_AFTER_ROLLBACK /* after the rollback: the holder it put back */
};

/* How a job ended. */
enum deploy_outcome { OUT_OK, OUT_FAILED, OUT_UNREACHABLE };

/* The phase the deploy is in. */
enum deploy_phase {
    PH_PRECHECKS_ONCE,
    PH_PRECHECKS_EACH,
    PH_BEFORE,
    PH_WAVE,
    PH_SINGLETON, /* asking every host whether it holds the role */
    PH_SMOKE,
    PH_ROLLBACK,
    PH_DONE
};

struct deploy;

struct deploy_host {
    struct deploy *d;              /* owner */
    const struct rollout_host *rh; /* resolved host, NULL for local */
    const char *name;              /* for messages */
    struct target tg;              /* where it is */
    size_t index;                  /* in the rollout; SIZE_MAX local */
    enum deploy_host_state state;  /* where it is in the deploy */
    /* the current job */
    enum deploy_job job;            /* JOB_NONE when idle */
    const struct rollout_cmd *cmds; /* commands of the job (borrowed) */
    size_t ncmds;
    size_t ci;                /* command running */
    int attempt;              /* attempt of command ci (stepid.h) */
    int spent;                /* its failures that used its retries */
    struct loop_timer retry;  /* delay before a retry */
    bool holds_fork;          /* counted in d->in_flight */
    bool in_gate_exec;        /* the conn runs a gate command check */
    struct gate_exec *gx;     /* that check */
    struct conn *conn;        /* open during the job */
    struct gate *gate;        /* while gating */
    struct gate_spec gspec;   /* the gate (it keeps a pointer) */
    struct check_spec *specs; /* the gate's checks */
    size_t nspecs;
    struct check_json *jsons;      /* their json equalities */
    struct check_status *statuses; /* their expect.status lists */
    char **owned;                  /* strings the specs borrow */
    size_t nowned;
    struct cmdwrap wrap; /* the command running */
    bool role_move;      /* restart to take the singleton role over */
    bool restart;        /* its JOB_STEPS run is such a restart: no step
                            of it counts as journaled done */
    bool active_role;    /* JOB_SINGLETON: reports the role */
    enum deploy_host_state before_job; /* state to return to after a job
                                          that does not deploy */
    /* history */
    bool changed;                   /* ran deploy steps: needs rollback */
    size_t fence_out;               /* output length when the command began */
    bool wrapped;                   /* the command runs in fence.h's wrapper */
    enum fence_head head;           /* the wrapper's first line, once read */
    struct buf headbuf;             /* stderr until that line is complete */
    char head_rest[FENCE_HEAD_MAX]; /* the words after its first word */
    struct stepid sid;              /* the running step's id */
    bool resuming;                  /* it is a journaled in-flight step, asked
                                       again under its journaled id */
    size_t inflight_i;              /* then: its entry in d->o.inflight */
    unsigned pass;                  /* its pass (stepid.h) */
    unsigned passes[2];             /* JOB_STEPS, JOB_ROLLBACK jobs run */
    bool orphans_done;              /* waited for superseded steps */
    bool reattaching;               /* the connection was lost during a
                                       wrapped step: reconnecting to ask
                                       for it under the same id */
    int reattaches;                 /* of the running step so far */
    int64_t step_id;                /* journal row of the running step */
    int last_verdict[8];            /* per check: last probe verdict + 1 */
    struct buf output;              /* captured output, capped */
    struct buf ignored;             /* the job's failures ignore_errors
                                       went past, in words ("" if none) */
    struct buf partial[2];          /* -v: unfinished stdout/stderr line */
    char reason[512];               /* why it failed, in words */
    char fail_reason[512];          /* why its deploy failed: kept when its
                                       rollback fails too */
    int64_t started_ms;             /* when its wave launched it */
    int64_t step_started_ms;        /* when the current command started */
    int64_t finished_ms;            /* when it reached a final state */
};

/* The hosts one phase works on. */
struct deploy_set {
    size_t *idx;         /* host indices (SIZE_MAX: the local host) */
    size_t n;            /* members */
    size_t next;         /* next to launch */
    size_t open;         /* launched and not finished */
    enum deploy_job job; /* what they do */
};

struct deploy {
    struct loop *loop;          /* the reactor */
    const struct rollout *ro;   /* what to do */
    const struct plan *plan;    /* ro->plan */
    struct transport *t;        /* how to reach hosts */
    struct health *health;      /* HTTP probes */
    struct deploy_options o;    /* options */
    struct deploy_host *hosts;  /* ro->nhosts entries, wave order */
    struct deploy_host local;   /* the coordinator, for local steps */
    enum deploy_phase phase;    /* where we are */
    size_t wave;                /* current wave (PH_WAVE, rollback) */
    size_t once_i;              /* next once step of the phase */
    struct deploy_set set;      /* hosts of the current phase */
    size_t in_flight;           /* hosts holding a fork slot */
    bool launching;             /* inside deploy_set_launch */
    bool relaunch;              /* a job ended while launching */
    struct loop_timer progress; /* progress_deadline of the wave */
    struct loop_timer pause;    /* strategy.pause between waves */
    struct loop_timer kick;     /* starts the deploy from the loop */
    struct loop_timer live;     /* redraws the live status line */
    bool live_shown;            /* the status line is on screen */
    int interrupts;             /* Ctrl-C presses */
    bool terminated;            /* SIGTERM: cancelling, then pausing */
    bool pausing;               /* finish in-flight work, then pause */
    char pause_why[256];        /* why we pause */
    bool rolling_back;          /* the rollback has started */
    bool stopped;               /* the deploy is over */
    bool journal_failed;        /* a journal write failed: stop */
    uint64_t check_seq;         /* numbers command checks (their ids) */
    bool *inflight_used;        /* [d->o.ninflight]: asked already */
    const char *irrev_step;     /* an irreversible step that ran, or NULL */
    const char *irrev_host;     /* where it ran */
    size_t waves_done;          /* waves completed */
    size_t holder;              /* host running the singleton role (as the last
                                   restarts left it), or SIZE_MAX: none */
    size_t target;       /* eligible host the role goes to, or SIZE_MAX */
    size_t origin;       /* holder before the deploy, or SIZE_MAX: none */
    bool origin_known;   /* origin was asked (or journaled) */
    size_t rb_holder;    /* where the rollback puts the role */
    size_t move_from;    /* holder whose restart hands the role on, or
                            SIZE_MAX */
    size_t deferred;     /* new holder of this wave whose restart waits for
                            move_from's, or SIZE_MAX */
    enum deploy_ask ask; /* PH_SINGLETON: why */
    size_t total_failed; /* failed + unreachable in waves */
    enum deploy_verdict verdict; /* set when stopped */
    char decision[512];          /* the deciding event */
    int64_t started_ms;          /* deploy start */
};

static const char *const deploy_state_names[DH_STATE_COUNT] = {
    "pending", "connecting",  "running", "gating",      "healthy",
    "failed",  "unreachable", "skipped", "rolled-back", "rollback-failed"};

const char *deploy_state_name(enum deploy_host_state s)
{
    return (unsigned)s < DH_STATE_COUNT ? deploy_state_names[s] : "?";
}

const char *deploy_verdict_name(enum deploy_verdict v)
{
    static const char *const names[] = {"succeeded",   "failed",
                                        "rolled back", "rollback failed",
                                        "paused",      "refused"};
    return (unsigned)v <= DV_REFUSED ? names[v] : "?";
}

/* --- output ------------------------------------------------------------ */

static void deploy_live_draw(struct deploy *d);

/* A line of text output, through the redaction every line drover prints
 * passes (log_out, common/log.h). */
static void deploy_write(struct deploy *d, const char *line)
{
    if (d->o.live && d->live_shown)
        fputs("\r\033[K", d->o.out); /* the status line gives way */
    log_out(d->o.out, "%s", line);
    d->live_shown = false;
    if (d->o.live && !d->stopped)
        deploy_live_draw(d);
}

static void deploy_event(struct deploy *d, json_t *ev, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* What -q still prints: decisions, failures and the summary. */
static bool deploy_event_is_error(const json_t *ev)
{
    const char *kind = json_string_value(json_object_get(ev, "event"));
    const char *state = json_string_value(json_object_get(ev, "state"));
    if (kind == NULL)
        return false;
    if (strcmp(kind, "decision") == 0 || strcmp(kind, "summary") == 0 ||
        strcmp(kind, "deploy") == 0)
        return true;
    return strcmp(kind, "host") == 0 && state != NULL &&
           (strcmp(state, "failed") == 0 || strcmp(state, "unreachable") == 0 ||
            strcmp(state, "rollback-failed") == 0);
}

/* One event: a line of text, or (--json) a JSON object with the same
 * meaning in "message". ev is consumed (may be NULL: text only). */
static void deploy_event(struct deploy *d, json_t *ev, const char *fmt, ...)
{
    char line[DEPLOY_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (!d->o.json) {
        if (!d->o.quiet || deploy_event_is_error(ev))
            deploy_write(d, line);
        json_decref(ev);
        return;
    }
    if (ev == NULL)
        return;
    const char *msg = line;
    while (*msg == ' ' || *msg == '\n')
        msg++;
    json_object_set_new(ev, "time_ms", json_integer(clock_wall_ms()));
    if (d->o.deploy_id != NULL)
        json_object_set_new(ev, "deploy", json_string(d->o.deploy_id));
    json_object_set_new(ev, "message", json_string(msg));
    /* redacted field by field (jsonout.h), never as a whole line: there
     * is no live status line to give way in JSON mode */
    jsonout_print(d->o.out, ev, JSON_COMPACT);
    json_decref(ev);
}

static void deploy_finish(struct deploy *d, enum deploy_verdict v);
static bool deploy_journal(struct deploy *d, enum err_code rc,
                           const struct err *e);

static void deploy_decide(struct deploy *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Keep a decision in the journal (the record's Decisions). */
static void deploy_decision_journal(struct deploy *d, const char *text)
{
    if (d->o.store != NULL && !d->journal_failed) {
        struct err e = {0};
        deploy_journal(d, store_decision(d->o.store, d->o.deploy_id, text, &e),
                       &e);
    }
}

/* Keep an issue no journal row shows by itself (the record derives the
 * rest: docs/record.md). */
static void deploy_issue(struct deploy *d, const char *text)
{
    if (d->o.store != NULL && !d->journal_failed) {
        struct err e = {0};
        deploy_journal(d, store_issue(d->o.store, d->o.deploy_id, text, &e),
                       &e);
    }
}

/* A decision: said as an event and kept for the result. */
static void deploy_decide(struct deploy *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->decision, sizeof(d->decision), fmt, ap);
    va_end(ap);
    deploy_event(d, json_pack("{s:s}", "event", "decision"), "%s", d->decision);
    deploy_decision_journal(d, d->decision);
}

/* A journal write's result: on failure the deploy stops before its next
 * remote action (never retried and continued). */
static bool deploy_journal(struct deploy *d, enum err_code rc,
                           const struct err *e)
{
    if (rc == ERR_OK)
        return true;
    if (!d->journal_failed) {
        d->journal_failed = true;
        snprintf(d->decision, sizeof(d->decision),
                 "journal write failed: %s; stopped before the next remote "
                 "action",
                 e->msg);
        deploy_event(d, json_pack("{s:s}", "event", "decision"), "%s",
                     d->decision);
        deploy_finish(d, DV_FAILED);
    }
    return false;
}

static const char *deploy_journal_state(enum deploy_host_state s)
{
    switch (s) {
    case DH_ROLLED_BACK:
        return "rolled back";
    case DH_ROLLBACK_FAILED:
        return "rollback failed";
    default:
        return deploy_state_name(s);
    }
}

static void deploy_host_set(struct deploy_host *h, enum deploy_host_state s)
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
                                    deploy_journal_state(s),
                                    bad && h->reason[0] ? h->reason : NULL, &e),
                   &e);
}

/* --- jobs ---------------------------------------------------------------- */

static void deploy_phase_next(struct deploy *d);
static const char *deploy_phase_word(const struct deploy_host *h);
static void deploy_set_launch(struct deploy *d);
static void deploy_job_next(struct deploy_host *h);
static void deploy_host_job_done(struct deploy_host *h,
                                 enum deploy_outcome out);
static void deploy_step_unknown(struct deploy_host *h);
static void deploy_step_close(struct deploy_host *h, const char *outcome,
                              const char *why);
struct stepid;
static enum err_code deploy_cmd_wrap(struct deploy_host *h,
                                     const struct stepid *sid,
                                     enum fence_mode mode, const char *command,
                                     bool input, char **wrapped, struct err *e);

static void deploy_gate_release(struct deploy_host *h)
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

static void deploy_release_fork(struct deploy_host *h)
{
    if (!h->holds_fork)
        return;
    h->holds_fork = false;
    h->d->in_flight--;
}

/* End the current job of h with out; reason already set if failed. */
static void deploy_job_end(struct deploy_host *h, enum deploy_outcome out)
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

static void deploy_job_fail(struct deploy_host *h, enum deploy_outcome out,
                            const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void deploy_job_fail(struct deploy_host *h, enum deploy_outcome out,
                            const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->reason, sizeof(h->reason), fmt, ap);
    va_end(ap);
    deploy_job_end(h, out);
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

static bool deploy_specs_need_conn(const struct rollout_check *rc, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (rc[i].url == NULL && rc[i].command != NULL)
            return true;
    return false;
}

static void deploy_fenced_stop(struct deploy_host *h, const char *why);

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
static void deploy_job_gate(struct deploy_host *h)
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

/* The env of a command: its own, plus the singleton variable. */
static json_t *deploy_cmd_env(struct deploy_host *h,
                              const struct rollout_cmd *c)
{
    const struct plan *p = h->d->plan;
    bool singleton =
        p->singleton_env != NULL && h->rh != NULL &&
        (h->job == JOB_STEPS || h->job == JOB_ROLLBACK || h->job == JOB_SETTLE);
    if (!singleton)
        return c->env ? json_incref(c->env) : NULL;
    json_t *env = c->env ? json_deep_copy(c->env) : json_object();
    size_t on = h->job == JOB_ROLLBACK ? h->d->rb_holder : h->d->holder;
    json_object_set_new(env, p->singleton_env,
                        json_string(h->index == on ? "true" : "false"));
    return env;
}

static const char *deploy_phase_word(const struct deploy_host *h)
{
    switch (h->job) {
    case JOB_PRECHECK:
        return "precheck";
    case JOB_ONCE:
        return h->d->phase == PH_BEFORE ? "before" : "precheck";
    case JOB_ROLLBACK:
        return "rollback";
    case JOB_SMOKE:
        return "smoke";
    case JOB_SINGLETON: /* a question, not the host's deploy */
        return "singleton";
    default:
        return "deploy";
    }
}

/* The id of the command h is about to run: its phase and index come from
 * the plan's list the step belongs to. */
static void deploy_step_of(const struct deploy_host *h, struct stepid *sid)
{
    const struct deploy *d = h->d;
    const struct plan *p = d->plan;
    const struct plan_step *st = h->cmds[h->ci].step;
    memset(sid, 0, sizeof(*sid));
    sid->deploy = d->o.deploy_id;
    sid->host = h->rh != NULL ? h->name : NULL;
    sid->attempt = (unsigned)h->attempt;
    sid->gen = d->o.epoch;
    sid->pass = h->pass;
    switch (h->job) {
    case JOB_ONCE:
        if (d->phase == PH_BEFORE) {
            sid->phase = STEPID_BEFORE;
            sid->step = (unsigned)(st - p->before);
        } else {
            sid->phase = STEPID_PRECHECK;
            sid->step = (unsigned)(st - p->prechecks);
        }
        break;
    case JOB_PRECHECK:
        sid->phase = STEPID_PRECHECK;
        sid->step = (unsigned)(st - p->prechecks);
        break;
    case JOB_ROLLBACK:
        sid->phase = STEPID_ROLLBACK;
        sid->step = (unsigned)(st - p->rollback_steps);
        break;
    default:
        sid->phase = STEPID_DEPLOY;
        sid->step = (unsigned)(st - p->steps);
        break;
    }
}

/* The journaled in-flight step sid names, not asked yet; SIZE_MAX if
 * none. */
static size_t deploy_inflight_find(const struct deploy *d,
                                   const struct stepid *sid)
{
    for (size_t i = 0; i < d->o.ninflight; i++) {
        const struct deploy_inflight *f = &d->o.inflight[i];
        if (d->inflight_used[i] || f->phase != sid->phase ||
            f->step != sid->step)
            continue;
        if (f->host == NULL
                ? sid->host == NULL
                : sid->host != NULL && strcmp(f->host, sid->host) == 0)
            return i;
    }
    return SIZE_MAX;
}

/* Name the next exec on h: a job id for a transport that keeps jobs, or
 * the host-side wrapper for a shell (fence.h; input: stdin bytes follow).
 * *wrapped is the command to send instead (caller frees), NULL to send it
 * as it is. */
static enum err_code deploy_cmd_wrap(struct deploy_host *h,
                                     const struct stepid *sid,
                                     enum fence_mode mode, const char *command,
                                     bool input, char **wrapped, struct err *e)
{
    char id[STEPID_MAX + 1];
    stepid_format(sid, id, sizeof(id));
    *wrapped = NULL;
    h->wrapped = false;
    unsigned caps = conn_caps(h->conn);
    if (caps & TRANSPORT_CAP_JOBS)
        return conn_set_job(h->conn, id, e);
    if (!(caps & TRANSPORT_CAP_SHELL))
        return ERR_OK;
    struct fence_step fs = {.dir = h->rh != NULL ? h->rh->fence_dir : NULL,
                            .id = id,
                            .epoch = h->d->o.epoch,
                            .who = h->d->o.who,
                            .mode = mode,
                            .command = command,
                            .input = input};
    if ((*wrapped = fence_command(&fs, e)) == NULL)
        return e->code;
    h->wrapped = true;
    h->head = FENCE_HEAD_NONE;
    h->head_rest[0] = '\0';
    buf_reset(&h->headbuf);
    return ERR_OK;
}

static void deploy_cmd_start(struct deploy_host *h)
{
    struct deploy *d = h->d;
    const struct rollout_cmd *c = &h->cmds[h->ci];
    const struct plan_step *st = c->step;
    /* every name the plan gives: no cap (docs/plan.md, secret_env) */
    size_t nsec = st->nsecret_env;
    const char **values = xcalloc(nsec + 1, sizeof(*values));
    for (size_t i = 0; i < nsec; i++) {
        values[i] = getenv(st->secret_env[i]);
        if (values[i] == NULL) {
            deploy_job_fail(h, OUT_FAILED,
                            "step '%s': secret_env %s is not set in the "
                            "coordinator's environment",
                            st->name, st->secret_env[i]);
            free(values);
            return;
        }
    }
    json_t *env = deploy_cmd_env(h, c);
    struct err e = {0};
    cmdwrap_release(&h->wrap);
    enum err_code rc =
        cmdwrap_build(&h->wrap, c->command, env,
                      (const char *const *)st->secret_env, values, nsec, &e);
    free(values);
    json_decref(env);
    if (rc != ERR_OK) {
        deploy_job_fail(h, OUT_FAILED, "step '%s': %s", st->name, e.msg);
        return;
    }
    /* One id per step, phase, host, attempt and run, shared by the journal
     * and the host or agent. A step the journal shows in flight is asked
     * for again under its journaled id, and its row is completed; so is
     * one whose connection was lost (reattaching: same id, same row). */
    bool again = h->reattaching;
    h->reattaching = false;
    size_t k = SIZE_MAX;
    if (!again) {
        deploy_step_of(h, &h->sid);
        h->step_id = 0;
        h->resuming = false;
        h->reattaches = 0;
        k = deploy_inflight_find(d, &h->sid);
    }
    if (k != SIZE_MAX && h->sid.phase == STEPID_PRECHECK) {
        /* a precheck changes nothing: asked again now, under a new id
         * (the answer it gave before the coordinator died may be stale) */
        d->inflight_used[k] = true;
        h->step_id = d->o.inflight[k].row;
        deploy_step_close(h, "lost",
                          "in flight when the coordinator died; asked "
                          "again (a precheck changes nothing)");
        k = SIZE_MAX;
    }
    if (k != SIZE_MAX) {
        const struct deploy_inflight *f = &d->o.inflight[k];
        d->inflight_used[k] = true;
        h->sid.attempt = f->attempt;
        h->sid.gen = f->gen;
        h->sid.pass = f->pass;
        h->attempt = (int)f->attempt;
        h->step_id = f->row;
        h->resuming = true;
        h->inflight_i = k;
        if (!(conn_caps(h->conn) &
              (TRANSPORT_CAP_JOBS | TRANSPORT_CAP_SHELL))) {
            /* a local step keeps no record to ask */
            snprintf(h->head_rest, sizeof(h->head_rest),
                     "a step on the coordinator's machine keeps no record");
            deploy_step_unknown(h);
            return;
        }
    }
    char *wrapped = NULL;
    if (deploy_cmd_wrap(
            h, &h->sid, h->resuming || again ? FENCE_RESUME : FENCE_RUN,
            h->wrap.command, h->wrap.input_len > 0, &wrapped, &e) != ERR_OK) {
        deploy_job_fail(h, OUT_FAILED, "step '%s': %s", st->name, e.msg);
        return;
    }
    if (d->o.store != NULL && !h->resuming && !again) {
        char job_id[STEPID_MAX + 1];
        struct store_step ss = {
            .host = h->rh ? h->name : NULL,
            .wave = h->rh ? (int)h->rh->wave : -1,
            .phase = stepid_phase_name(h->sid.phase),
            .name = st->name,
            .job_id = stepid_format(&h->sid, job_id, sizeof(job_id)),
            .command = c->command,
            .step = (int)h->sid.step,
            .pass = (int)h->sid.pass,
            .attempt = (int)h->sid.attempt,
            .gen = h->sid.gen};
        bool ok = deploy_journal(
            d,
            store_step_intent(d->o.store, d->o.deploy_id, &ss, &h->step_id, &e),
            &e);
        if (!ok) {
            free(wrapped);
            return; /* the intent is not durable: the step is not sent */
        }
    }
    struct exec_spec spec = {
        .command = wrapped != NULL ? wrapped : h->wrap.command,
        .input = h->wrap.input,
        .input_len = h->wrap.input_len,
        .timeout_ms = st->timeout_ms,
    };
    h->step_started_ms = clock_mono_ms();
    h->fence_out = h->output.len;
    if (h->job == JOB_STEPS)
        h->changed = true;
    /* a migration in `before` counts as much as a step on a host */
    if (st->irreversible && h->job != JOB_ROLLBACK && d->irrev_step == NULL) {
        d->irrev_step = st->name;
        d->irrev_host = h->name;
    }
    log_debug("host=%s step=%s attempt=%d%s", h->name, st->name, h->attempt + 1,
              h->resuming ? " (in flight: asked again)" : "");
    rc = conn_exec(h->conn, &spec, &e);
    free(wrapped);
    if (rc == ERR_LOCKED) { /* an agent that fenced us on a reconnect */
        deploy_step_close(h, "refused", e.msg);
        deploy_fenced_stop(h, e.msg);
    } else if (rc != ERR_OK)
        deploy_job_fail(h, OUT_FAILED, "step '%s': %s", st->name, e.msg);
}

/* Journal a wave's state. */
static void deploy_wave_journal(struct deploy *d, size_t w, const char *state)
{
    if (d->o.store == NULL || d->journal_failed)
        return;
    struct err e = {0};
    deploy_journal(
        d, store_wave_state(d->o.store, d->o.deploy_id, (int)w, state, &e), &e);
}

static int deploy_signo(const char *name)
{
    for (int i = 1; i < 65; i++) {
        const char *a = sigabbrev_np(i);
        if (a != NULL && strcmp(a, name) == 0)
            return i;
    }
    return 0;
}

/* Journal how the running step ended. */
static void deploy_step_outcome(struct deploy_host *h,
                                const struct exec_result *r)
{
    struct deploy *d = h->d;
    if (d->o.store == NULL || h->step_id == 0 || d->journal_failed)
        return;
    const char *what = "failed";
    if (exec_result_ok(r))
        what = "ok";
    else if (r->end == EXEC_TIMEOUT)
        what = "timeout";
    else if (r->end == EXEC_CANCELLED)
        what = "cancelled";
    else if (r->end == EXEC_FAILED && r->err.code == ERR_UNREACHABLE)
        what = "unreachable";
    const char *out = buf_cstr(&h->output);
    size_t from = h->fence_out < h->output.len ? h->fence_out : h->output.len;
    struct store_step_outcome o = {
        .outcome = what,
        .exit_code = r->end == EXEC_EXITED ? r->exit_code : -1,
        .signal = r->end == EXEC_SIGNALED ? deploy_signo(r->signal) : 0,
        .output = out + from};
    struct err e = {0};
    deploy_journal(d, store_step_outcome(d->o.store, h->step_id, &o, &e), &e);
    h->step_id = 0;
}

static void deploy_on_retry(struct loop *l, struct loop_timer *t, void *arg)
{
    (void)l;
    (void)t;
    deploy_cmd_start(arg);
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

static void deploy_job_next(struct deploy_host *h)
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

static void deploy_flush_line(struct deploy_host *h, int idx)
{
    struct buf *b = &h->partial[idx];
    if (b->len == 0)
        return;
    deploy_event(h->d,
                 json_pack("{s:s,s:s,s:s,s:s}", "event", "output", "host",
                           h->name, "stream", idx ? "stderr" : "stdout", "line",
                           buf_cstr(b)),
                 "%s: %s%s", h->name, idx ? "[stderr] " : "", buf_cstr(b));
    buf_reset(b);
}

static void deploy_output_add(struct deploy_host *h, int stream,
                              const char *data, size_t len)
{
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

/* Stderr of a wrapped command until the wrapper's first line: that line
 * is taken out; lines before it (a noisy shell rc file) pass. At eof, an
 * unfinished line is read as it is. */
static void deploy_head_feed(struct deploy_host *h, const char *data,
                             size_t len, bool eof)
{
    buf_add(&h->headbuf, data, len);
    while (h->head == FENCE_HEAD_NONE && h->headbuf.len > 0) {
        const char *b = buf_cstr(&h->headbuf);
        const char *nl = memchr(b, '\n', h->headbuf.len);
        if (nl == NULL && !eof && h->headbuf.len < FENCE_HEAD_MAX)
            return;
        size_t ll = nl != NULL ? (size_t)(nl - b) : h->headbuf.len;
        const char *rest = NULL;
        enum fence_head hd = fence_head_parse(b, ll, &rest);
        if (hd != FENCE_HEAD_NONE) {
            h->head = hd;
            snprintf(h->head_rest, sizeof(h->head_rest), "%.*s",
                     (int)(ll - (size_t)(rest - b)), rest);
        } else {
            deploy_output_add(h, EXEC_STDERR, b, ll + (nl != NULL));
        }
        buf_consume(&h->headbuf, ll + (nl != NULL));
        if (hd == FENCE_HEAD_NONE && nl == NULL)
            break;
    }
    if (h->head != FENCE_HEAD_NONE && h->headbuf.len > 0) {
        deploy_output_add(h, EXEC_STDERR, buf_cstr(&h->headbuf),
                          h->headbuf.len);
        buf_reset(&h->headbuf);
    }
}

static void deploy_on_output(struct conn *c, int stream, const char *data,
                             size_t len, void *arg)
{
    (void)c;
    struct deploy_host *h = arg;
    if (h->wrapped && h->head == FENCE_HEAD_NONE && stream == EXEC_STDERR) {
        deploy_head_feed(h, data, len, false);
        return;
    }
    deploy_output_add(h, stream, data, len);
}

/* The command ended: what its wrapper said (FENCE_HEAD_RUN for a
 * command that was not wrapped). */
static enum fence_head deploy_head_end(struct deploy_host *h)
{
    if (!h->wrapped)
        return FENCE_HEAD_RUN;
    h->wrapped = false;
    if (h->head == FENCE_HEAD_NONE)
        deploy_head_feed(h, "", 0, true);
    return h->head;
}

/* A host refused this coordinator's epoch (why: the refusal in words):
 * stop acting anywhere. */
static void deploy_fenced_stop(struct deploy_host *h, const char *why)
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
static void deploy_fenced_out(struct deploy_host *h)
{
    struct err fe = {0};
    fence_refused(h->name, h->d->o.epoch, h->head_rest, &fe);
    deploy_fenced_stop(h, fe.msg);
}

/* Journal the in-flight step's row as words (no exit status). */
static void deploy_step_close(struct deploy_host *h, const char *outcome,
                              const char *why)
{
    struct deploy *d = h->d;
    if (d->o.store == NULL || h->step_id == 0 || d->journal_failed)
        return;
    struct store_step_outcome o = {
        .outcome = outcome, .exit_code = -1, .output = why};
    struct err e = {0};
    deploy_journal(d, store_step_outcome(d->o.store, h->step_id, &o, &e), &e);
    h->step_id = 0;
}

/* The operator decided (flag) what an in-flight step the host cannot
 * account for becomes: close its row as outcome and say so as state. */
static void deploy_step_decided(struct deploy_host *h, const char *outcome,
                                const char *state, const char *done,
                                const char *flag, const char *meaning)
{
    const char *step = h->cmds[h->ci].step->name;
    char why[DEPLOY_LINE_MAX];
    snprintf(why, sizeof(why), "the host could not tell whether it ran; %s %s",
             flag, meaning);
    deploy_step_close(h, outcome, why);
    char text[DEPLOY_LINE_MAX];
    snprintf(text, sizeof(text),
             "%s %s:%s: %s could not tell whether step '%s' ran; the "
             "operator's flag %s",
             flag, h->name, step, h->name, step, meaning);
    deploy_decision_journal(h->d, text);
    deploy_event(h->d,
                 json_pack("{s:s,s:s,s:s,s:s}", "event", "step", "host",
                           h->name, "step", step, "state", state),
                 "  %s: step '%s' %s (%s: the host could not tell whether it "
                 "ran)",
                 h->name, step, done, flag);
}

/* The host cannot tell whether the in-flight step ran: the operator's
 * decision, else stop for one. */
static void deploy_step_unknown(struct deploy_host *h)
{
    struct deploy *d = h->d;
    const struct plan_step *st = h->cmds[h->ci].step;
    enum deploy_decision dec =
        h->resuming ? d->o.inflight[h->inflight_i].decision : DEPLOY_ASK;
    h->resuming = false;
    if (h->job == JOB_SETTLE) {
        /* it is not running there now (the host would say so): nothing
         * to wait for before the rollback */
        deploy_step_close(h, "lost",
                          "the host could not tell whether it ran; it is "
                          "not running: rolled back");
        deploy_event(d,
                     json_pack("{s:s,s:s,s:s,s:s}", "event", "step", "host",
                               h->name, "step", st->name, "state", "lost"),
                     "  %s: step '%s' was in flight; the host cannot tell "
                     "whether it ran (%s), and it is not running: rolling "
                     "back",
                     h->name, st->name, h->head_rest);
        deploy_job_end(h, OUT_OK);
        return;
    }
    if (dec == DEPLOY_SKIP) {
        deploy_step_decided(h, "skipped", "skipped", "skipped", "--skip-step",
                            "counts it as completed");
        h->ci++;
        deploy_job_next(h);
        return;
    }
    if (dec == DEPLOY_RETRY) {
        deploy_step_decided(h, "lost", "retry", "run again", "--retry-step",
                            "runs it again");
        deploy_cmd_start(h);
        return;
    }
    /* the journal keeps the row open: the next resume asks again */
    h->step_id = 0;
    if (!d->pausing) {
        d->pausing = true;
        snprintf(d->pause_why, sizeof(d->pause_why),
                 "%s cannot tell whether step '%s' ran", h->name, st->name);
    }
    deploy_job_fail(h, OUT_FAILED,
                    "step '%s' was in flight when the coordinator died and "
                    "the host cannot tell whether it ran (%s); check the "
                    "host, then `drover resume --retry-step %s:%s` (run it "
                    "again) or `--skip-step %s:%s` (it completed)",
                    st->name, h->head_rest, h->name, st->name, h->name,
                    st->name);
}

static const struct conn_cb deploy_conn_cb;

/* The connection was lost while a wrapped step ran (or was being
 * started): the wrapper keeps it running on the host, so the step has not
 * failed. Reconnect and ask for it under the same id (FENCE_RESUME): it is
 * followed to its end, its row completed; never run a second time. */
static void deploy_reattach(struct deploy_host *h, const struct exec_result *r)
{
    struct deploy *d = h->d;
    const struct plan_step *st = h->cmds[h->ci].step;
    h->reattaches++;
    h->reattaching = true;
    deploy_event(d,
                 json_pack("{s:s,s:s,s:s,s:s}", "event", "step", "host",
                           h->name, "step", st->name, "state", "reattach"),
                 "  %s: step '%s': %s; it may still run there: reconnecting "
                 "to follow it",
                 h->name, st->name, r->err.msg[0] ? r->err.msg : "lost");
    conn_close(h->conn);
    deploy_host_set(h, DH_CONNECTING);
    h->conn = transport_connect(d->t, &h->tg, &deploy_conn_cb, h);
}

static void deploy_on_done(struct conn *c, const struct exec_result *r,
                           void *arg)
{
    (void)c;
    struct deploy_host *h = arg;
    struct deploy *d = h->d;
    bool was_wrapped = h->wrapped;
    enum fence_head head = deploy_head_end(h);
    if (!h->in_gate_exec && was_wrapped && r->end == EXEC_FAILED &&
        !d->stopped && h->reattaches < DEPLOY_REATTACH_MAX &&
        (head == FENCE_HEAD_NONE || head == FENCE_HEAD_RUN ||
         head == FENCE_HEAD_ATTACH)) {
        deploy_reattach(h, r);
        return;
    }
    if (h->in_gate_exec) {
        h->in_gate_exec = false;
        struct gate_exec *x = h->gx;
        h->gx = NULL;
        if (x != NULL)
            gate_exec_done(x, r);
        if (head == FENCE_HEAD_REFUSED)
            deploy_fenced_out(h);
        else if (r->end == EXEC_FAILED && r->err.code == ERR_LOCKED)
            deploy_fenced_stop(h, r->err.msg); /* an agent's fence */
        return;
    }
    if (h->job == JOB_WAIT) {
        char what[300];
        exec_result_str(r, what, sizeof(what));
        if (exec_result_ok(r))
            deploy_job_end(h, OUT_OK);
        else
            deploy_job_fail(h,
                            r->end == EXEC_FAILED &&
                                    r->err.code == ERR_UNREACHABLE
                                ? OUT_UNREACHABLE
                                : OUT_FAILED,
                            "waiting for a step of a superseded deploy "
                            "still running here: %s",
                            what);
        return;
    }
    if (head == FENCE_HEAD_REFUSED) {
        deploy_step_close(h, "refused", h->head_rest);
        deploy_fenced_out(h);
        return;
    }
    /* a transport that fences by itself (an agent) says so as ERR_LOCKED */
    if (r->end == EXEC_FAILED && r->err.code == ERR_LOCKED) {
        deploy_step_close(h, "refused", r->err.msg);
        deploy_fenced_stop(h, r->err.msg);
        return;
    }
    if (head == FENCE_HEAD_UNKNOWN && r->end == EXEC_EXITED) {
        if (!d->stopped)
            deploy_step_unknown(h);
        return;
    }
    deploy_step_outcome(h, r);
    if (d->stopped)
        return;
    const struct plan_step *st = h->cmds[h->ci].step;
    if ((head == FENCE_HEAD_ERROR || head == FENCE_HEAD_NONE) &&
        r->end == EXEC_EXITED) {
        /* nothing ran: the wrapper itself failed */
        deploy_job_fail(
            h, OUT_FAILED, "step '%s': the host-side step wrapper failed: %s",
            st->name,
            head == FENCE_HEAD_ERROR ? h->head_rest : "it did not answer");
        return;
    }
    deploy_flush_line(h, 0);
    deploy_flush_line(h, 1);
    char what[300], dur[32];
    exec_result_str(r, what, sizeof(what));
    clock_fmt_duration(clock_mono_ms() - h->step_started_ms, dur, sizeof(dur));
    if (!exec_result_ok(r)) {
        /* a step collected before a rollback is not tried again */
        if (r->end != EXEC_CANCELLED && h->spent < st->retries &&
            h->job != JOB_SETTLE) {
            h->attempt++;
            h->spent++;
            deploy_event(d,
                         json_pack("{s:s,s:s,s:s,s:s,s:i}", "event", "step",
                                   "host", h->name, "step", st->name, "state",
                                   "retry", "attempt", h->attempt + 1),
                         "  %s: step '%s' %s; retry %d of %d in %lldms",
                         h->name, st->name, what, h->spent, st->retries,
                         (long long)st->delay_ms);
            loop_timer_start(d->loop, &h->retry, st->delay_ms);
            return;
        }
        if (st->ignore_errors && r->end != EXEC_CANCELLED) {
            buf_printf(&h->ignored, "%sstep '%s' %s",
                       h->ignored.len ? "; " : "", st->name, what);
            deploy_event(d,
                         json_pack("{s:s,s:s,s:s,s:s}", "event", "step", "host",
                                   h->name, "step", st->name, "state",
                                   "ignored"),
                         "  %s: step '%s' %s (ignore_errors: going on)",
                         h->name, st->name, what);
        } else {
            deploy_job_fail(h,
                            r->end == EXEC_FAILED &&
                                    r->err.code == ERR_UNREACHABLE
                                ? OUT_UNREACHABLE
                                : OUT_FAILED,
                            "step '%s' %s after %s", st->name, what, dur);
            return;
        }
    } else if (d->o.verbose || d->o.json) {
        deploy_event(
            d,
            json_pack("{s:s,s:s,s:s,s:s,s:I}", "event", "step", "host", h->name,
                      "step", st->name, "state", "ok", "ms",
                      (json_int_t)(clock_mono_ms() - h->step_started_ms)),
            "  %s: step '%s' ok (%s)", h->name, st->name, dur);
    }
    h->ci++;
    deploy_job_next(h);
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
            fence_wait_append(b, h->rh->fence_dir, o->job_id, &e) == ERR_OK)
            n++;
    }
    return n;
}

/* Does h wait for superseded steps before its first change? */
static bool deploy_orphan_needed(const struct deploy_host *h)
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

static const struct conn_cb deploy_conn_cb = {
    .opened = deploy_on_opened,
    .output = deploy_on_output,
    .done = deploy_on_done,
};

/* Start job on host h with its commands. */
static void deploy_job_start(struct deploy_host *h, enum deploy_job job,
                             const struct rollout_cmd *cmds, size_t ncmds)
{
    struct deploy *d = h->d;
    h->before_job = h->state;
    memset(h->last_verdict, 0, sizeof(h->last_verdict));
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
            checks_conn =
                deploy_specs_need_conn(h->rh->health, d->plan->nchecks);
        else if (job == JOB_SMOKE)
            checks_conn = deploy_specs_need_conn(h->rh->smoke, d->plan->nsmoke);
        else if (job == JOB_SINGLETON && h->rh->singleton_check)
            checks_conn = deploy_specs_need_conn(h->rh->singleton_check, 1);
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

/* --- sets ---------------------------------------------------------------- */

static struct deploy_host *deploy_host_at(struct deploy *d, size_t i)
{
    return i == SIZE_MAX ? &d->local : &d->hosts[i];
}

static void deploy_set_begin(struct deploy *d, enum deploy_job job)
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

static void deploy_set_reset(struct deploy *d)
{
    d->set.n = 0;
}

static void deploy_set_add(struct deploy *d, size_t i)
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

static void deploy_set_launch(struct deploy *d)
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

/* --- the end ------------------------------------------------------------- */

/* The live view on a terminal: one status line under the events, redrawn
 * every LIVE_MS: the wave, a progress bar, hosts done / in flight /
 * failed / pending, what the hosts in flight are doing, elapsed time. */
enum { DEPLOY_LIVE_MS = 250 };

static void deploy_live_draw(struct deploy *d)
{
    if (d->phase != PH_WAVE && d->phase != PH_ROLLBACK && d->phase != PH_SMOKE)
        return;
    size_t start = rollout_wave_start(d->ro, d->wave);
    size_t n = d->ro->wave_sizes[d->wave];
    size_t done = 0, failed = 0, flight = 0, pending = 0;
    struct buf doing;
    buf_init(&doing, 160);
    for (size_t i = start; i < start + n; i++) {
        const struct deploy_host *h = &d->hosts[i];
        switch (h->state) {
        case DH_HEALTHY:
        case DH_ROLLED_BACK:
            done++;
            break;
        case DH_FAILED:
        case DH_UNREACHABLE:
        case DH_ROLLBACK_FAILED:
            failed++;
            break;
        case DH_PENDING:
        case DH_SKIPPED:
            pending++;
            break;
        default:
            flight++;
            if (doing.len < 120) {
                const char *what = deploy_state_name(h->state);
                if (h->state == DH_RUNNING && h->cmds && h->ci < h->ncmds)
                    what = h->cmds[h->ci].step->name;
                buf_printf(&doing, "%s%s: %s", doing.len ? ", " : "", h->name,
                           what);
            }
        }
    }
    char bar[21];
    size_t fill = n ? (done + failed) * 20 / n : 0;
    for (size_t i = 0; i < 20; i++)
        bar[i] = i < fill ? '#' : '-';
    bar[20] = '\0';
    char el[32];
    clock_fmt_duration(clock_mono_ms() - d->started_ms, el, sizeof(el));
    struct buf line;
    buf_init(&line, BUF_UNLIMITED);
    buf_printf(&line,
               "\r\033[K%s %zu/%zu [%s] %zu done, %zu in flight, %zu failed, "
               "%zu pending | %s | %s",
               d->phase == PH_ROLLBACK ? "rollback" : "wave", d->wave + 1,
               d->ro->nwaves, bar, done, flight, failed, pending,
               doing.len ? buf_cstr(&doing) : "-", el);
    /* redrawn in place: no newline, the same redaction as every line */
    log_write(d->o.out, line.data, line.len);
    d->live_shown = true;
    buf_release(&line);
    buf_release(&doing);
}

static void deploy_on_live(struct loop *l, struct loop_timer *t, void *arg)
{
    struct deploy *d = arg;
    if (d->stopped)
        return;
    deploy_live_draw(d);
    loop_timer_start(l, t, DEPLOY_LIVE_MS);
}

static void deploy_finish(struct deploy *d, enum deploy_verdict v)
{
    if (d->stopped)
        return;
    d->stopped = true;
    d->verdict = v;
    d->phase = PH_DONE;
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

/* --- the singleton role --------------------------------------------------
 * drover asks every host (singleton.check) who holds the role before it
 * changes anything, keeps it there when that host may hold it
 * (singleton.hosts), and otherwise moves it to an eligible host when the
 * holder's turn comes: the old holder restarts with the role off first,
 * and only then does the new one restart with it on (stop before start).
 * After each wave, and after a rollback, the hosts are asked again. */

static const char *deploy_role(const struct deploy *d)
{
    return d->plan->singleton_role ? d->plan->singleton_role : "role";
}

static const char *deploy_host_name(const struct deploy *d, size_t i)
{
    return i < d->ro->nhosts ? d->hosts[i].name : "no host";
}

static bool deploy_eligible(const struct deploy *d, size_t i)
{
    return i < d->ro->nhosts && d->hosts[i].rh->singleton_eligible;
}

/* Not deployed yet by this deploy (its restart is still to come). */
static bool deploy_host_pending(const struct deploy *d, size_t i)
{
    return d->hosts[i].state == DH_PENDING && !d->hosts[i].changed;
}

/* Where the role goes when its holder h (SIZE_MAX: none) may not keep it:
 * the first eligible host whose restart comes at or after h's turn (none:
 * the first eligible one still to restart), else the last eligible host
 * already deployed (it restarts again to take the role), else none. */
static size_t deploy_singleton_target(const struct deploy *d, size_t h)
{
    if (h != SIZE_MAX && deploy_eligible(d, h))
        return h;
    size_t from =
        h != SIZE_MAX ? rollout_wave_start(d->ro, d->hosts[h].rh->wave) : 0;
    for (size_t i = from; i < d->ro->nhosts; i++)
        if (deploy_eligible(d, i) && deploy_host_pending(d, i))
            return i;
    for (size_t i = 0; i < d->ro->nhosts; i++)
        if (deploy_eligible(d, i) && deploy_host_pending(d, i))
            return i;
    for (size_t i = d->ro->nhosts; i-- > 0;)
        if (deploy_eligible(d, i) && d->hosts[i].state == DH_HEALTHY)
            return i;
    return SIZE_MAX;
}

/* Wave d->wave is about to start: if the role moves in it, say how. The
 * holder restarting in this wave hands it to the target: a target of the
 * same wave waits for the holder's restart (deferred), a target already
 * deployed restarts again after it (role_move), a target of a later wave
 * takes it at its own turn (the role is vacant until then). Returns a
 * deployed host that restarts again in this wave to start a role nobody
 * runs, or SIZE_MAX. */
static size_t deploy_singleton_handover(struct deploy *d)
{
    const struct plan *p = d->plan;
    size_t from = d->holder, to = d->target;
    if (p->singleton_env == NULL || to == SIZE_MAX || from == to)
        return SIZE_MAX;
    bool to_turn =
        d->hosts[to].rh->wave == d->wave && deploy_host_pending(d, to);
    if (from == SIZE_MAX) {
        /* nobody runs it: the target starts it at its restart, or now */
        d->holder = to_turn || !deploy_host_pending(d, to) ? to : SIZE_MAX;
        if (to_turn || d->holder == SIZE_MAX)
            return SIZE_MAX;
        d->hosts[to].role_move = true;
        return to;
    }
    if (d->hosts[from].rh->wave != d->wave || !deploy_host_pending(d, from))
        return SIZE_MAX; /* not the holder's turn: it keeps the role */
    if (to_turn) {
        d->deferred = to;
    } else if (!deploy_host_pending(d, to)) {
        d->hosts[to].role_move = true;
    } else {
        deploy_event(d,
                     json_pack("{s:s,s:s,s:s,s:s}", "event", "singleton",
                               "role", deploy_role(d), "from",
                               d->hosts[from].name, "to", d->hosts[to].name),
                     "singleton '%s' leaves %s (restarting in this wave, "
                     "not one of singleton.hosts) with %s=false; it is "
                     "vacant until %s takes it in wave %zu",
                     deploy_role(d), d->hosts[from].name, p->singleton_env,
                     d->hosts[to].name, d->hosts[to].rh->wave + 1);
        d->holder = SIZE_MAX;
        return SIZE_MAX;
    }
    deploy_event(d,
                 json_pack("{s:s,s:s,s:s,s:s}", "event", "singleton", "role",
                           deploy_role(d), "from", d->hosts[from].name, "to",
                           d->hosts[to].name),
                 "singleton '%s' moves from %s (restarting in this wave, "
                 "not one of singleton.hosts) to %s: %s=false there first, "
                 "then %s restarts with %s=true",
                 deploy_role(d), d->hosts[from].name, d->hosts[to].name,
                 p->singleton_env, d->hosts[to].name, p->singleton_env);
    d->move_from = from;
    d->holder = to;
    return SIZE_MAX;
}

/* The old holder's restart ended: start the new holder, or, when the old
 * one failed (it may still run the role), keep the role where it was. */
static void deploy_singleton_moved(struct deploy *d, struct deploy_host *h,
                                   enum deploy_outcome out)
{
    size_t to = d->holder;
    d->move_from = SIZE_MAX;
    bool deferred = d->deferred == to;
    d->deferred = SIZE_MAX;
    if (out != OUT_OK) {
        deploy_decide(d,
                      "singleton '%s' stays with %s: its restart failed, so "
                      "%s does not start the role (stop before start)",
                      deploy_role(d), h->name, d->hosts[to].name);
        d->holder = h->index;
        d->hosts[to].role_move = false;
        if (deferred)
            deploy_set_add(d, to); /* its own deploy, without the role */
        return;
    }
    d->hosts[to].role_move = true;
    deploy_set_add(d, to);
}

/* Ask every host that can answer whether it holds the role. */
static void deploy_singleton_ask(struct deploy *d, enum deploy_ask why)
{
    deploy_set_reset(d);
    for (size_t i = 0; i < d->ro->nhosts; i++) {
        d->hosts[i].active_role = false;
        if (d->hosts[i].rh->singleton_check != NULL &&
            d->hosts[i].state != DH_UNREACHABLE)
            deploy_set_add(d, i);
    }
    d->ask = why;
    d->phase = PH_SINGLETON;
    deploy_set_begin(d, JOB_SINGLETON);
}

/* The hosts that answered that they hold the role, as "a, b" into who;
 * their number, the first of them in *first. */
static size_t deploy_singleton_active(struct deploy *d, struct buf *who,
                                      size_t *first)
{
    size_t n = 0;
    *first = SIZE_MAX;
    for (size_t i = 0; i < d->ro->nhosts; i++)
        if (d->hosts[i].active_role) {
            buf_printf(who, "%s%s", n ? ", " : "", d->hosts[i].name);
            if (n++ == 0)
                *first = i;
        }
    return n;
}

/* Journal who held the role before the deploy (evidence, and where a
 * later `drover rollback` puts it back). */
static void deploy_singleton_journal(struct deploy *d)
{
    if (d->o.store == NULL || d->journal_failed)
        return;
    for (size_t i = 0; i < d->set.n; i++) {
        struct deploy_host *h = &d->hosts[d->set.idx[i]];
        struct store_check sc = {
            .host = h->name,
            .phase = "singleton",
            .name = DEPLOY_SINGLETON_BEFORE,
            .verdict = h->active_role ? "active" : "inactive",
            .reason =
                h->active_role ? "holds the role" : "does not hold the role"};
        struct err e = {0};
        if (!deploy_journal(d, store_check(d->o.store, d->o.deploy_id, &sc, &e),
                            &e))
            return;
    }
}

/* The answers before the deploy (or before continuing it): the holder,
 * where the role goes, where a rollback puts it. False when the deploy
 * stopped (two holders before any change: refused). */
static bool deploy_singleton_found(struct deploy *d)
{
    struct buf who;
    buf_init(&who, 1024);
    size_t first;
    size_t n = deploy_singleton_active(d, &who, &first);
    if (n > 1 && d->ask == ASK_BEFORE) {
        deploy_decide(d,
                      "refused: singleton '%s' is active on %zu hosts (%s) "
                      "before any change; exactly one may hold it: stop it "
                      "on all but one, then deploy again",
                      deploy_role(d), n, buf_cstr(&who));
        buf_release(&who);
        deploy_finish(d, DV_REFUSED);
        return false;
    }
    size_t holder = first;
    if (n > 1 && d->origin_known && d->origin != SIZE_MAX &&
        d->hosts[d->origin].active_role)
        holder = d->origin;
    if (d->ask == ASK_BEFORE) {
        deploy_singleton_journal(d);
        d->origin = holder;
        d->origin_known = true;
    } else if (!d->origin_known) {
        d->origin = holder; /* a journal from before drover asked */
    }
    d->holder = holder;
    d->target = deploy_singleton_target(d, holder);
    const char *note = "";
    if (holder == SIZE_MAX)
        note = "nobody holds it";
    else if (!deploy_eligible(d, holder))
        note = "it is not one of singleton.hosts";
    char words[512];
    if (holder == d->target)
        snprintf(words, sizeof(words), "it stays there");
    else
        snprintf(words, sizeof(words), "%s: it goes to %s", note,
                 deploy_host_name(d, d->target));
    deploy_event(d,
                 json_pack("{s:s,s:s,s:s,s:s}", "event", "singleton", "role",
                           deploy_role(d), "holder",
                           holder == SIZE_MAX ? "" : d->hosts[holder].name,
                           "target", deploy_host_name(d, d->target)),
                 "singleton '%s': %s%s%s; %s", deploy_role(d),
                 n > 1 ? "active on " : "held by ",
                 n ? buf_cstr(&who) : "no host",
                 n > 1 ? " (more than one)" : "", words);
    buf_release(&who);
    return true;
}

/* Where the rollback puts the role: back where it was before the deploy
 * when that host may hold it; else where the deploy put it (an eligible
 * host); else back where it was; else (nobody held it, nobody holds it)
 * the first eligible host the rollback restarts. */
static size_t deploy_singleton_rollback_holder(const struct deploy *d)
{
    if (d->origin != SIZE_MAX && deploy_eligible(d, d->origin))
        return d->origin;
    if (d->holder != SIZE_MAX && deploy_eligible(d, d->holder))
        return d->holder;
    if (d->origin != SIZE_MAX)
        return d->origin;
    for (size_t i = 0; i < d->ro->nhosts; i++)
        if (deploy_eligible(d, i) && d->hosts[i].changed)
            return i;
    return d->holder;
}

/* The answers after a wave or a rollback: exactly the expected holder
 * (none while the role is vacant between two turns). True when they
 * match; otherwise the deciding words are said. */
static bool deploy_singleton_verdict(struct deploy *d, size_t want)
{
    struct buf who;
    buf_init(&who, 1024);
    size_t first;
    size_t n = deploy_singleton_active(d, &who, &first);
    bool ok = want == SIZE_MAX ? n == 0 : n == 1 && first == want;
    const char *when =
        d->ask == ASK_AFTER_ROLLBACK ? "after the rollback" : "after the wave";
    if (ok && want == SIZE_MAX)
        deploy_event(d,
                     json_pack("{s:s,s:s,s:s}", "event", "singleton", "role",
                               deploy_role(d), "host", ""),
                     "singleton '%s': vacant as planned until %s takes it",
                     deploy_role(d), deploy_host_name(d, d->target));
    else if (ok)
        deploy_event(d,
                     json_pack("{s:s,s:s,s:s}", "event", "singleton", "role",
                               deploy_role(d), "host", buf_cstr(&who)),
                     "singleton '%s': active on exactly one host (%s)",
                     deploy_role(d), buf_cstr(&who));
    else if (d->ask == ASK_AFTER_ROLLBACK)
        deploy_decide(d,
                      "%s singleton '%s' is active on %zu host%s (%s), it "
                      "must be exactly %s: it needs a human",
                      when, deploy_role(d), n, n == 1 ? "" : "s",
                      n ? buf_cstr(&who) : "none", deploy_host_name(d, want));
    else
        deploy_decide(d,
                      "wave %zu/%zu stopped: singleton '%s' is active on %zu "
                      "host%s (%s), it must be exactly %s",
                      d->wave + 1, d->ro->nwaves, deploy_role(d), n,
                      n == 1 ? "" : "s", n ? buf_cstr(&who) : "none",
                      want == SIZE_MAX ? "none (vacant)"
                                       : deploy_host_name(d, want));
    if (!ok)
        deploy_issue(d, d->decision);
    buf_release(&who);
    return ok;
}

/* --- rollback ------------------------------------------------------------ */

/* The timers of a wave end with it: its progress_deadline must not fire
 * into the verdict, the singleton check or the rollback that follow. */
static void deploy_wave_timers_stop(struct deploy *d)
{
    loop_timer_stop(d->loop, &d->progress);
    loop_timer_stop(d->loop, &d->pause);
}

static void deploy_rollback_wave(struct deploy *d)
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
static void deploy_rollback_start(struct deploy *d)
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
static void deploy_rollback_end(struct deploy *d)
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

static void deploy_wave_begin(struct deploy *d)
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
static bool deploy_wave_verdict(struct deploy *d)
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

static void deploy_on_progress(struct loop *l, struct loop_timer *t, void *arg)
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

static void deploy_on_pause(struct loop *l, struct loop_timer *t, void *arg)
{
    (void)l;
    (void)t;
    struct deploy *d = arg;
    d->wave++;
    deploy_wave_begin(d);
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
static void deploy_host_job_done(struct deploy_host *h, enum deploy_outcome out)
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
                                   h->name, "state", "rolled-back"),
                         "  %s: rolled back", h->name);
        } else {
            deploy_host_set(h, DH_ROLLBACK_FAILED);
            deploy_event(d,
                         json_pack("{s:s,s:s,s:s,s:s}", "event", "host", "host",
                                   h->name, "state", "rollback-failed",
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
        d->phase = PH_SMOKE;
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
    d->phase = PH_BEFORE;
    d->once_i = 0;
    d->set.job = JOB_NONE;
    deploy_once_next(d, d->ro->before, d->ro->nbefore);
}

static void deploy_rollback_end(struct deploy *d);

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
        d->phase = PH_BEFORE;
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
        d->phase = PH_WAVE;
        deploy_after_wave(d);
        return;
    case ASK_AFTER_ROLLBACK:
        deploy_rollback_end(d);
        return;
    }
}

/* The current set is finished: decide what comes next. */
static void deploy_phase_next(struct deploy *d)
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
        d->phase = PH_PRECHECKS_EACH;
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
    d->phase = PH_PRECHECKS_ONCE;
    d->once_i = 0;
    d->set.job = JOB_NONE;
    deploy_phase_next(d);
}

/* --- lifecycle -------------------------------------------------------------
 */

static void deploy_host_init(struct deploy *d, struct deploy_host *h)
{
    h->d = d;
    buf_init(&h->output, d->o.output_cap ? d->o.output_cap : 65536);
    buf_init(&h->partial[0], DEPLOY_LINE_MAX);
    buf_init(&h->partial[1], DEPLOY_LINE_MAX);
    buf_init(&h->headbuf, FENCE_HEAD_MAX + 4096);
    buf_init(&h->ignored, 1024);
    loop_timer_init(&h->retry, deploy_on_retry, h);
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

static void deploy_host_release(struct deploy_host *h)
{
    conn_close(h->conn);
    h->conn = NULL;
    deploy_gate_release(h);
    cmdwrap_release(&h->wrap);
    loop_timer_stop(h->d->loop, &h->retry);
    buf_release(&h->output);
    buf_release(&h->partial[0]);
    buf_release(&h->partial[1]);
    buf_release(&h->headbuf);
    buf_release(&h->ignored);
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

enum deploy_host_state deploy_host_state(const struct deploy *d, size_t i)
{
    return d->hosts[i].state;
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

static void deploy_summary(struct deploy *d, struct deploy_result *res)
{
    const struct rollout *ro = d->ro;
    if (!d->o.json)
        deploy_write(d, "\nsummary:");
    for (size_t i = 0; i < ro->nhosts; i++) {
        struct deploy_host *h = &d->hosts[i];
        if (h->state == DH_PENDING && d->verdict == DV_PAUSED) {
            /* not reached yet, not skipped: the journal keeps "pending"
             * (its record shows no issue, and its start comes with its
             * wave); the summary says it did not start */
            h->state = DH_SKIPPED;
        } else if (h->state == DH_PENDING) {
            deploy_host_set(h, DH_SKIPPED);
        } else if (h->state == DH_CONNECTING || h->state == DH_RUNNING ||
                   h->state == DH_GATING) {
            /* the deploy stopped at once (journal, fencing): say so */
            snprintf(h->reason, sizeof(h->reason),
                     "cut off while %s: the deploy stopped",
                     deploy_state_name(h->state));
            deploy_host_set(h, DH_FAILED);
        }
    }
    for (size_t w = 0; w < ro->nwaves; w++) {
        size_t start = rollout_wave_start(ro, w), skipped = 0;
        for (size_t i = start; i < start + ro->wave_sizes[w]; i++)
            skipped += d->hosts[i].state == DH_SKIPPED;
        if (skipped == ro->wave_sizes[w] && d->verdict != DV_PAUSED)
            deploy_wave_journal(d, w, "skipped");
    }
    for (size_t i = 0; i < ro->nhosts; i++) {
        struct deploy_host *h = &d->hosts[i];
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
        case DH_ROLLED_BACK:
            res->rolled_back++;
            break;
        case DH_ROLLBACK_FAILED:
            res->rollback_failed++;
            break;
        default:
            res->failed++;
            break;
        }
        char dur[32] = "-";
        if (h->finished_ms > 0)
            clock_fmt_duration(h->finished_ms - h->started_ms, dur,
                               sizeof(dur));
        deploy_event(
            d,
            json_pack("{s:s,s:s,s:I,s:s,s:s}", "event", "summary", "host",
                      h->name, "wave", (json_int_t)h->rh->wave + 1, "state",
                      deploy_state_name(h->state), "reason", h->reason),
            "  %-20s wave %-3zu %-15s %8s  %s", h->name, h->rh->wave + 1,
            deploy_state_name(h->state), dur, h->reason);
    }
    /* Output of failed hosts, so the operator sees why without -v; the
     * coordinator's own (`on: local` prechecks and before steps) last. */
    for (size_t i = 0; i <= ro->nhosts && !d->o.json; i++) {
        struct deploy_host *h = i < ro->nhosts ? &d->hosts[i] : &d->local;
        if ((h->state != DH_FAILED && h->state != DH_ROLLBACK_FAILED) ||
            h->output.len == 0)
            continue;
        char line[DEPLOY_LINE_MAX];
        snprintf(line, sizeof(line), "\noutput of %s (%zu bytes%s):", h->name,
                 h->output.len, h->output.dropped ? ", cut" : "");
        deploy_write(d, line);
        const char *p = buf_cstr(&h->output);
        while (*p) {
            size_t n = strcspn(p, "\n");
            snprintf(line, sizeof(line), "  %s| %.*s", h->name, (int)n, p);
            deploy_write(d, line);
            p += n;
            if (*p == '\n')
                p++;
        }
        if (h->output.dropped) {
            snprintf(line, sizeof(line),
                     "  %s| [output cut at %zu bytes: %zu more bytes not "
                     "kept]",
                     h->name, h->output.limit, h->output.dropped);
            deploy_write(d, line);
        }
    }
    res->verdict = d->verdict;
    res->waves_done = d->waves_done;
    res->elapsed_ms = clock_mono_ms() - d->started_ms;
    res->ok = d->verdict == DV_SUCCESS;
    snprintf(res->decision, sizeof(res->decision), "%s", d->decision);
    char dur[32];
    clock_fmt_duration(res->elapsed_ms, dur, sizeof(dur));
    deploy_event(
        d,
        json_pack("{s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:s}", "event",
                  "deploy", "verdict", deploy_verdict_name(d->verdict), "hosts",
                  (json_int_t)ro->nhosts, "healthy", (json_int_t)res->healthy,
                  "failed", (json_int_t)res->failed, "unreachable",
                  (json_int_t)res->unreachable, "skipped",
                  (json_int_t)res->skipped, "rolled_back",
                  (json_int_t)res->rolled_back, "rollback_failed",
                  (json_int_t)res->rollback_failed, "elapsed_ms",
                  (json_int_t)res->elapsed_ms, "decision", d->decision),
        "\ndeploy %s: %zu host%s: %zu healthy, %zu failed, %zu "
        "unreachable, %zu not started%s; %zu/%zu waves in %s",
        d->verdict == DV_SUCCESS ? "succeeded"
                                 : deploy_verdict_name(d->verdict),
        ro->nhosts, ro->nhosts == 1 ? "" : "s", res->healthy, res->failed,
        res->unreachable, res->skipped,
        res->rolled_back || res->rollback_failed
            ? (res->rollback_failed ? ", ROLLBACK FAILED on some"
                                    : ", rolled back")
            : "",
        res->waves_done, ro->nwaves, dur);
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
