/* coordinator/deploy_out.c: what a deploy says: events as text lines or
 * JSON, decisions and issues kept in the journal, a step's output with
 * -v, the live status line on a terminal, and the summary at the end.
 * Every line passes through redaction. */
#include "deploy_int.h"

#include "buf.h"
#include "clock.h"
#include "jsonout.h"
#include "log.h"
#include "loop.h"
#include "plan.h"
#include "rollout.h"
#include "store.h"

#include <jansson.h>
#include <stdarg.h>
#include <string.h>

static void deploy_live_draw(struct deploy *d);

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
void deploy_event(struct deploy *d, json_t *ev, const char *fmt, ...)
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

/* Keep a decision in the journal (the record's Decisions). */
void deploy_decision_journal(struct deploy *d, const char *text)
{
    if (d->o.store != NULL && !d->journal_failed) {
        struct err e = {0};
        deploy_journal(d, store_decision(d->o.store, d->o.deploy_id, text, &e),
                       &e);
    }
}

/* Keep an issue no journal row shows by itself (the record derives the
 * rest: docs/record.md). */
void deploy_issue(struct deploy *d, const char *text)
{
    if (d->o.store != NULL && !d->journal_failed) {
        struct err e = {0};
        deploy_journal(d, store_issue(d->o.store, d->o.deploy_id, text, &e),
                       &e);
    }
}

/* A decision: said as an event and kept for the result. */
void deploy_decide(struct deploy *d, const char *fmt, ...)
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
bool deploy_journal(struct deploy *d, enum err_code rc, const struct err *e)
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

/* Journal a wave's state. */
void deploy_wave_journal(struct deploy *d, size_t w, const char *state)
{
    if (d->o.store == NULL || d->journal_failed)
        return;
    struct err e = {0};
    deploy_journal(
        d, store_wave_state(d->o.store, d->o.deploy_id, (int)w, state, &e), &e);
}

void deploy_flush_line(struct deploy_host *h, int idx)
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

void deploy_output_add(struct deploy_host *h, int stream, const char *data,
                       size_t len)
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

void deploy_on_live(struct loop *l, struct loop_timer *t, void *arg)
{
    struct deploy *d = arg;
    if (d->stopped)
        return;
    deploy_live_draw(d);
    loop_timer_start(l, t, DEPLOY_LIVE_MS);
}

void deploy_summary(struct deploy *d, struct deploy_result *res)
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
