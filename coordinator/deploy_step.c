/* coordinator/deploy_step.c: one step of a host's job on its transport.
 * The step gets its id (stepid.h), is journaled before it is sent, runs
 * named by that id (an agent's job id, or the SSH host-side wrapper of
 * fence.h), and its end is journaled, retried, ignored or failed; a step
 * journaled in flight is asked for again under its id. */
#include "deploy_int.h"

#include "buf.h"
#include "clock.h"
#include "cmdwrap.h"
#include "fence.h"
#include "gate.h"
#include "log.h"
#include "loop.h"
#include "plan.h"
#include "rollout.h"
#include "store.h"
#include "transport.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static void deploy_step_close(struct deploy_host *h, const char *outcome,
                              const char *why);
static void deploy_step_unknown(struct deploy_host *h);

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

const char *deploy_phase_word(const struct deploy_host *h)
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
enum err_code deploy_cmd_wrap(struct deploy_host *h, const struct stepid *sid,
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
    struct fence_step fs = {.dir = h->rh != NULL ? h->rh->addr.fence_dir : NULL,
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

void deploy_cmd_start(struct deploy_host *h)
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

void deploy_on_retry(struct loop *l, struct loop_timer *t, void *arg)
{
    (void)l;
    (void)t;
    deploy_cmd_start(arg);
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

void deploy_on_output(struct conn *c, int stream, const char *data, size_t len,
                      void *arg)
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

void deploy_on_done(struct conn *c, const struct exec_result *r, void *arg)
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
