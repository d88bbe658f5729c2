/* coordinator/record.c: render a deploy's record. Text and Markdown share
 * one walk over the sections (record_doc), differing only in how a field,
 * a heading and a table are written; JSON is built with jansson. */
#include "record.h"

#include "buf.h"
#include "clock.h"
#include "deploy.h"
#include "jsonout.h"
#include "store.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { RECORD_COLS_MAX = 8 };

enum err_code record_format_parse(const char *s, enum record_format *f,
                                  struct err *e)
{
    if (strcmp(s, "text") == 0)
        *f = RECORD_TEXT;
    else if (strcmp(s, "markdown") == 0 || strcmp(s, "md") == 0)
        *f = RECORD_MARKDOWN;
    else if (strcmp(s, "json") == 0)
        *f = RECORD_JSON;
    else
        return err_set(e, ERR_USAGE, "--format %s: use text, markdown or json",
                       s);
    return ERR_OK;
}

const char *record_time(int64_t ms, char *out, size_t outlen)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (ms <= 0 || gmtime_r(&t, &tm) == NULL ||
        strftime(out, outlen, "%Y-%m-%d %H:%M:%SZ", &tm) == 0)
        snprintf(out, outlen, "-");
    return out;
}

static const char *record_iso(int64_t ms, char *out, size_t outlen)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    char base[32];
    if (gmtime_r(&t, &tm) == NULL ||
        strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
        snprintf(base, sizeof(base), "?");
    snprintf(out, outlen, "%s.%03dZ", base, (int)(ms % 1000));
    return out;
}

const char *record_duration(int64_t ms, char *out, size_t outlen)
{
    if (ms >= 3600000)
        snprintf(out, outlen, "%lldh%02lldm", (long long)(ms / 3600000),
                 (long long)(ms % 3600000 / 60000));
    else
        clock_fmt_duration(ms, out, outlen);
    return out;
}

/* "4m12s" between two stamps; "-" when either is missing. */
static const char *record_span(int64_t from, int64_t to, char *out,
                               size_t outlen)
{
    if (from <= 0 || to <= 0) {
        snprintf(out, outlen, "-");
        return out;
    }
    return record_duration(to - from, out, outlen);
}

static const char *or_dash(const char *s)
{
    return s != NULL && *s != '\0' ? s : "-";
}

/* --- text and markdown ---------------------------------------------------
 */

struct record_doc {
    struct buf *out; /* where it goes */
    bool md;         /* Markdown, else plain text */
};

/* The -i sources of a deploy, journaled one a line
 * (session_inventories), as the record shows them: "a.ini, b.ini".
 * Returns a new string, NULL for NULL. */
static char *record_inventories(const char *s)
{
    if (s == NULL)
        return NULL;
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    for (; *s != '\0'; s++)
        if (*s == '\n')
            buf_adds(&b, ", ");
        else
            buf_addc(&b, *s);
    return buf_detach(&b);
}
/* A table: rows of cells (the first row is the header). */
struct record_table {
    char **cells; /* ncols * nrows owned strings */
    size_t ncols; /* columns */
    size_t nrows; /* rows, header included */
};

static void table_row(struct record_table *t, ...)
{
    va_list ap;
    va_start(ap, t);
    t->cells = xrealloc(t->cells, (t->nrows + 1) * t->ncols * sizeof(char *));
    for (size_t c = 0; c < t->ncols; c++) {
        const char *s = va_arg(ap, const char *);
        /* a cell is one line; pipes would break a Markdown table */
        char *v = xstrdup(s != NULL ? s : "-");
        for (char *p = v; *p; p++)
            if (*p == '\n' || *p == '\r' || *p == '|')
                *p = *p == '|' ? '/' : ' ';
        t->cells[t->nrows * t->ncols + c] = v;
    }
    t->nrows++;
    va_end(ap);
}

static void table_emit(const struct record_doc *d, struct record_table *t)
{
    size_t w[RECORD_COLS_MAX] = {0};
    for (size_t r = 0; r < t->nrows; r++)
        for (size_t c = 0; c < t->ncols; c++) {
            size_t n = strlen(t->cells[r * t->ncols + c]);
            if (n > w[c])
                w[c] = n;
        }
    for (size_t r = 0; r < t->nrows; r++) {
        buf_adds(d->out, d->md ? "|" : "  ");
        for (size_t c = 0; c < t->ncols; c++) {
            const char *v = t->cells[r * t->ncols + c];
            bool last = c + 1 == t->ncols;
            if (d->md)
                buf_printf(d->out, " %-*s |", (int)w[c], v);
            else if (last)
                buf_printf(d->out, "%s", v);
            else
                buf_printf(d->out, "%-*s  ", (int)w[c], v);
        }
        buf_addc(d->out, '\n');
        if (r == 0 && d->md) {
            buf_adds(d->out, "|");
            for (size_t c = 0; c < t->ncols; c++) {
                buf_addc(d->out, ' ');
                for (size_t i = 0; i < (w[c] < 3 ? 3 : w[c]); i++)
                    buf_addc(d->out, '-');
                buf_adds(d->out, " |");
            }
            buf_addc(d->out, '\n');
        }
    }
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    t->cells = NULL;
    t->nrows = 0;
}

static void doc_field(const struct record_doc *d, const char *name,
                      const char *value)
{
    if (d->md)
        buf_printf(d->out, "**%s:** %s  \n", name, or_dash(value));
    else
        buf_printf(d->out, "%-22s %s\n", name, or_dash(value));
}

static void doc_heading(const struct record_doc *d, const char *name)
{
    if (d->md)
        buf_printf(d->out, "\n**%s:**\n\n", name);
    else
        buf_printf(d->out, "\n%s\n", name);
}

static void doc_item(const struct record_doc *d, const char *box,
                     const char *text)
{
    if (d->md && box != NULL)
        buf_printf(d->out, "- [%s] %s\n", box, text);
    else
        buf_printf(d->out, d->md ? "- %s\n" : "  - %s\n", text);
}

/* --- the rules: each judged field from the journal ----------------------
 * One function per field (docs/record.md, "How each field is derived"). */

/* A gate's final row (deploy_gate.c journals one per gate, named "gate", with
 * the verdict "healthy" or "failed"; probe rows say "pass", "fail", "not
 * yet"). */
static bool record_is_gate(const struct store_check_row *c, const char *phase)
{
    return strcmp(c->name, "gate") == 0 && strcmp(c->phase, phase) == 0 &&
           (strcmp(c->verdict, "healthy") == 0 ||
            strcmp(c->verdict, "failed") == 0);
}

size_t record_gates(const struct store_record *r, const char *phase,
                    size_t *passed)
{
    size_t gated = 0;
    *passed = 0;
    for (size_t i = 0; i < r->nchecks; i++) {
        const struct store_check_row *c = &r->checks[i];
        if (!record_is_gate(c, phase))
            continue;
        /* only a host's last gate of the phase counts */
        bool later = false;
        for (size_t k = i + 1; k < r->nchecks && !later; k++)
            later = record_is_gate(&r->checks[k], phase) &&
                    strcmp(r->checks[k].host, c->host) == 0;
        if (later)
            continue;
        gated++;
        *passed += strcmp(c->verdict, "healthy") == 0;
    }
    return gated;
}

const char *record_health(const struct store_record *r)
{
    size_t passed, gated = record_gates(r, "deploy", &passed);
    if (gated == 0)
        return "NOT RUN";
    if (passed < gated)
        return "FAIL";
    return r->result == STORE_RESULT_NONE ? "INCOMPLETE" : "PASS";
}

const char *record_smoke(const struct store_record *r)
{
    size_t passed, gated = record_gates(r, "smoke", &passed);
    if (gated == 0)
        return "NOT RUN";
    return passed < gated ? "FAIL" : "PASS";
}

const char *record_prechecks(const struct store_record *r)
{
    if (r->nprechecks == 0)
        return "NOT RUN";
    for (size_t i = 0; i < r->nprechecks; i++)
        if (!r->prechecks[i].ok)
            return "FAIL";
    return "PASS";
}

const char *record_rollback(const struct store_record *r)
{
    if (!r->rolled_back)
        return "NO";
    switch (r->result) {
    case STORE_RESULT_ROLLBACK_FAILED:
        return "YES, and it FAILED: hosts need a human";
    case STORE_RESULT_ROLLED_BACK:
    case STORE_RESULT_ABORTED:
        return "YES, completed";
    default:
        return "YES, not finished";
    }
}

/* A host state that is trouble whatever its reason (either spelling:
 * deploy_state_parse). */
static bool record_host_bad(const char *state)
{
    enum deploy_host_state s;
    return deploy_state_parse(state, &s) &&
           (s == DH_FAILED || s == DH_UNREACHABLE || s == DH_SKIPPED ||
            s == DH_ROLLBACK_FAILED);
}

static void record_issue_add(struct store_note_row **v, size_t *n,
                             int64_t at_ms, char *text)
{
    *v = xrealloc(*v, (*n + 1) * sizeof(**v));
    (*v)[*n].at_ms = at_ms;
    (*v)[*n].text = text;
    (*n)++;
}

/* The first line of s, at most 160 bytes, into out. */
static const char *record_first_line(const char *s, char *out, size_t outlen)
{
    size_t n = s != NULL ? strcspn(s, "\n") : 0;
    if (n > 160)
        n = 160;
    snprintf(out, outlen, "%.*s", (int)n, s != NULL ? s : "");
    return out;
}

/* A step row that is an issue, in words; NULL when it is not one. */
static char *record_step_issue(const struct store_record *r, size_t i)
{
    const struct store_step_row *s = &r->steps[i];
    /* a precheck's failure is its precheck row's issue */
    if (strcmp(s->phase, "precheck") == 0)
        return NULL;
    bool live = r->state != NULL && (strcmp(r->state, "running") == 0 ||
                                     strcmp(r->state, "rolling back") == 0);
    if (s->outcome != NULL ? strcmp(s->outcome, "ok") == 0 : live)
        return NULL;
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    buf_printf(&b, "%s: %s step '%s' ", s->host ? s->host : "(local)", s->phase,
               s->name);
    if (s->outcome == NULL)
        buf_adds(&b, "has no outcome (in flight when its coordinator "
                     "stopped)");
    else
        buf_adds(&b, s->outcome);
    if (s->signal > 0)
        buf_printf(&b, " (signal %d)", s->signal);
    else if (s->outcome != NULL && s->exit_code >= 0)
        buf_printf(&b, " (exit %d)", s->exit_code);
    char line[200];
    if (s->outcome != NULL && s->exit_code < 0 && s->signal == 0 &&
        s->output != NULL && *s->output != '\0')
        buf_printf(&b, ": %s",
                   record_first_line(s->output, line, sizeof(line)));
    /* a retry that succeeded later */
    for (size_t k = i + 1; k < r->nsteps; k++) {
        const struct store_step_row *t = &r->steps[k];
        if (t->attempt > s->attempt && t->pass == s->pass &&
            strcmp(t->phase, s->phase) == 0 && strcmp(t->name, s->name) == 0 &&
            (t->host == NULL
                 ? s->host == NULL
                 : s->host != NULL && strcmp(t->host, s->host) == 0) &&
            t->outcome != NULL && strcmp(t->outcome, "ok") == 0) {
            buf_printf(&b, "; retried: attempt %d succeeded", t->attempt + 1);
            break;
        }
    }
    return buf_detach(&b);
}

size_t record_issues(const struct store_record *r, struct store_note_row **out)
{
    struct store_note_row *v = NULL;
    size_t n = 0;
    for (size_t i = 0; i < r->nprechecks; i++) {
        const struct store_precheck_row *p = &r->prechecks[i];
        if (!p->ok)
            record_issue_add(
                &v, &n, p->at_ms,
                xasprintf("precheck '%s' (%s) FAILED: %s", or_dash(p->name),
                          p->host ? p->host : "once", or_dash(p->evidence)));
    }
    for (size_t i = 0; i < r->nsteps; i++) {
        char *t = record_step_issue(r, i);
        if (t != NULL)
            record_issue_add(&v, &n,
                             r->steps[i].ended_ms > 0 ? r->steps[i].ended_ms
                                                      : r->steps[i].started_ms,
                             t);
    }
    for (size_t i = 0; i < r->nhosts; i++) {
        const struct store_host_row *h = &r->hosts[i];
        if (!record_host_bad(h->state) && h->reason == NULL)
            continue;
        /* a host that failed and was rolled back keeps its reason */
        bool bad = record_host_bad(h->state);
        record_issue_add(
            &v, &n, h->ended_ms > 0 ? h->ended_ms : r->updated_ms,
            xasprintf("host %s %s%s%s%s%s", h->host, bad ? h->state : "failed",
                      h->reason ? ": " : "", h->reason ? h->reason : "",
                      bad ? "" : "; now ", bad ? "" : h->state));
    }
    for (size_t i = 0; i < r->nissues; i++)
        record_issue_add(&v, &n, r->issues[i].at_ms,
                         xstrdup(r->issues[i].text));
    /* in time order; a stable insertion sort keeps the journal's order of
     * equal times */
    for (size_t i = 1; i < n; i++)
        for (size_t k = i; k > 0 && v[k - 1].at_ms > v[k].at_ms; k--) {
            struct store_note_row t = v[k];
            v[k] = v[k - 1];
            v[k - 1] = t;
        }
    *out = v;
    return n;
}

void record_issues_free(struct store_note_row *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i].text);
    free(v);
}

size_t record_gated_healthy(const struct store_record *r, size_t *gated)
{
    size_t passed;
    *gated = record_gates(r, "deploy", &passed);
    return passed;
}

static const char *record_result_words(const struct store_record *r)
{
    if (r->result != STORE_RESULT_NONE)
        return store_result_str(r->result);
    return r->state; /* running, paused, rolling back */
}

/* "color=blue, api_token=[redacted]": a one-line string value as itself,
 * others as JSON (one line). */
static void record_vars_line(const struct store_record *r, struct buf *out)
{
    for (size_t i = 0; i < r->nvars; i++) {
        const struct store_var_row *v = &r->vars[i];
        buf_printf(out, "%s%s=", i ? ", " : "", v->name);
        json_error_t je;
        json_t *j =
            v->secret ? NULL : json_loads(v->value, JSON_DECODE_ANY, &je);
        if (v->secret)
            buf_adds(out, RECORD_SECRET);
        else if (json_is_string(j) &&
                 strpbrk(json_string_value(j), "\r\n") == NULL)
            buf_adds(out, json_string_value(j));
        else
            buf_adds(out, v->value);
        json_decref(j);
    }
}

static void record_header(const struct record_doc *d,
                          const struct store_record *r)
{
    char a[32], b[32], span[32], line[512];
    if (d->md)
        buf_printf(d->out, "# Deployment record %s\n\n", r->id);
    else
        buf_printf(d->out, "Deployment record %s\n\n", r->id);
    doc_field(d, "Deployment ID", r->id);
    snprintf(line, sizeof(line), "%s%s%s", or_dash(r->user),
             r->host ? " on " : "", r->host ? r->host : "");
    doc_field(d, "Deployed By", line);
    if (r->ended_ms > 0)
        snprintf(line, sizeof(line), "%s - %s (%s)",
                 record_time(r->started_ms, a, sizeof(a)),
                 record_time(r->ended_ms, b, sizeof(b)),
                 record_span(r->started_ms, r->ended_ms, span, sizeof(span)));
    else
        snprintf(line, sizeof(line), "%s (not ended: %s)",
                 record_time(r->started_ms, a, sizeof(a)), r->state);
    doc_field(d, "Deployment Date/Time", line);
    if (r->git_commit != NULL || r->git_tag != NULL)
        snprintf(line, sizeof(line), "%s%s%s%s", or_dash(r->git_commit),
                 r->git_tag ? " (tag " : "", r->git_tag ? r->git_tag : "",
                 r->git_tag ? ")" : "");
    else
        snprintf(line, sizeof(line), "-");
    doc_field(d, "Git Commit/Tag", line);
    snprintf(line, sizeof(line), "%s%s%s%s", or_dash(r->plan),
             r->plan_file ? " (" : "", r->plan_file ? r->plan_file : "",
             r->plan_file ? ")" : "");
    doc_field(d, "Plan", line);
    char *invs = record_inventories(r->inventory);
    if (invs != NULL)
        doc_field(d, "Inventory", invs);
    free(invs);
    snprintf(line, sizeof(line), "%s (previous: %s)", or_dash(r->version),
             or_dash(r->previous_version));
    doc_field(d, "Version", line);
    if (r->nvars > 0) {
        struct buf vars;
        buf_init(&vars, BUF_UNLIMITED);
        record_vars_line(r, &vars);
        doc_field(d, "Variables", buf_cstr(&vars));
        buf_release(&vars);
    }
    doc_field(d, "Ticket", r->ticket);
    doc_field(d, "Approver", r->approver);
    if (r->reason != NULL)
        doc_field(d, "Reason", r->reason);
    snprintf(line, sizeof(line), "%s, epoch %llu", or_dash(r->lock),
             (unsigned long long)r->epoch);
    doc_field(d, "Lock", line);
    doc_field(d, "Result", record_result_words(r));
}

static void record_changes(const struct record_doc *d,
                           const struct store_record *r)
{
    doc_heading(d, "Changes Deployed");
    bool any = false;
    const char *p = r->changes != NULL ? r->changes : "";
    while (*p != '\0') {
        size_t n = strcspn(p, "\n");
        char *line = xstrndup(p, n);
        if (line[strspn(line, " \t")] != '\0') {
            doc_item(d, NULL, line);
            any = true;
        }
        free(line);
        p += n;
        if (*p == '\n')
            p++;
    }
    if (!any)
        doc_item(d, NULL,
                 "(not recorded: pass --changes or deploy from a git "
                 "repository)");
}

static void record_validation(const struct record_doc *d,
                              const struct store_record *r)
{
    doc_heading(d, "Validation Results");
    char line[160];
    size_t gated, healthy = record_gated_healthy(r, &gated);
    const char *v = record_health(r);
    snprintf(line, sizeof(line),
             "Health checks: %s (%zu of %zu hosts passed their gate)", v,
             healthy, r->nhosts);
    doc_item(d, strcmp(v, "PASS") == 0 ? "x" : " ", line);
    v = record_prechecks(r);
    snprintf(line, sizeof(line), "Prechecks: %s", v);
    doc_item(d, strcmp(v, "PASS") == 0 ? "x" : " ", line);
    v = record_smoke(r);
    snprintf(line, sizeof(line), "Smoke tests (business functions): %s", v);
    doc_item(d, strcmp(v, "PASS") == 0 ? "x" : " ", line);
}

static void record_waves(const struct record_doc *d,
                         const struct store_record *r)
{
    doc_heading(d, "Wave Plan");
    if (r->nwaves == 0) {
        doc_item(d, NULL, "(no wave started)");
        return;
    }
    struct record_table t = {.ncols = 5};
    table_row(&t, "Wave", "Hosts", "State", "Started", "Duration");
    for (size_t i = 0; i < r->nwaves; i++) {
        const struct store_wave_row *w = &r->waves[i];
        struct buf hosts;
        buf_init(&hosts, 512);
        for (size_t h = 0; h < r->nhosts; h++)
            if (r->hosts[h].wave == w->idx)
                buf_printf(&hosts, "%s%s", hosts.len ? " " : "",
                           r->hosts[h].host);
        if (hosts.dropped > 0)
            buf_printf(&hosts, "...");
        char idx[16], at[32], span[32];
        snprintf(idx, sizeof(idx), "%d", w->idx + 1);
        table_row(&t, idx, buf_cstr(&hosts), w->state,
                  record_time(w->started_ms, at, sizeof(at)),
                  record_span(w->started_ms, w->ended_ms, span, sizeof(span)));
        buf_release(&hosts);
    }
    table_emit(d, &t);
}

static void record_hosts(const struct record_doc *d,
                         const struct store_record *r)
{
    doc_heading(d, "Per-Host Results");
    if (r->nhosts == 0) {
        doc_item(d, NULL, "(no hosts)");
        return;
    }
    struct record_table t = {.ncols = 6};
    table_row(&t, "Host", "Wave", "State", "Started", "Duration", "Reason");
    for (size_t i = 0; i < r->nhosts; i++) {
        const struct store_host_row *h = &r->hosts[i];
        char wave[16], at[32], span[32];
        if (h->wave >= 0)
            snprintf(wave, sizeof(wave), "%d", h->wave + 1);
        else
            snprintf(wave, sizeof(wave), "-");
        table_row(&t, h->host, wave, h->state,
                  record_time(h->started_ms, at, sizeof(at)),
                  record_span(h->started_ms, h->ended_ms, span, sizeof(span)),
                  h->reason);
    }
    table_emit(d, &t);
}

static void record_precheck_evidence(const struct record_doc *d,
                                     const struct store_record *r)
{
    doc_heading(d, "Precheck Evidence");
    if (r->nprechecks == 0) {
        doc_item(d, NULL, "(none)");
        return;
    }
    for (size_t i = 0; i < r->nprechecks; i++) {
        const struct store_precheck_row *p = &r->prechecks[i];
        char line[1024];
        snprintf(line, sizeof(line), "%s (%s): %s%s%s", or_dash(p->name),
                 p->host ? p->host : "once", p->ok ? "passed" : "FAILED",
                 p->evidence && *p->evidence ? ": " : "",
                 p->evidence ? p->evidence : "");
        for (char *c = line; *c; c++)
            if (*c == '\n')
                *c = ' ';
        doc_item(d, p->ok ? "x" : " ", line);
    }
}

static void record_checks(const struct record_doc *d,
                          const struct store_record *r)
{
    doc_heading(d, "Health Evidence");
    if (r->nchecks == 0) {
        doc_item(d, NULL, "(none)");
        return;
    }
    struct record_table t = {.ncols = 7};
    table_row(&t, "Host", "Phase", "Check", "Verdict", "Status", "Latency",
              "Reason");
    for (size_t i = 0; i < r->nchecks; i++) {
        const struct store_check_row *c = &r->checks[i];
        char status[16], lat[32];
        snprintf(status, sizeof(status), "%ld", c->status);
        clock_fmt_duration(c->latency_ms, lat, sizeof(lat));
        table_row(&t, c->host, c->phase, c->name, c->verdict,
                  c->status ? status : "-", lat, c->reason);
    }
    table_emit(d, &t);
}

static void record_steps(const struct record_doc *d,
                         const struct store_record *r)
{
    doc_heading(d, "Steps");
    if (r->nsteps == 0) {
        doc_item(d, NULL, "(none)");
        return;
    }
    struct record_table t = {.ncols = 7};
    table_row(&t, "Host", "Phase", "Step", "Job", "Outcome", "Exit",
              "Duration");
    for (size_t i = 0; i < r->nsteps; i++) {
        const struct store_step_row *s = &r->steps[i];
        char ex[32], span[32];
        if (s->signal > 0)
            snprintf(ex, sizeof(ex), "signal %d", s->signal);
        else if (s->exit_code >= 0)
            snprintf(ex, sizeof(ex), "%d", s->exit_code);
        else
            snprintf(ex, sizeof(ex), "-");
        table_row(&t, s->host ? s->host : "(local)", s->phase, s->name,
                  s->job_id, s->outcome ? s->outcome : "started, no outcome",
                  ex,
                  record_span(s->started_ms, s->ended_ms, span, sizeof(span)));
    }
    table_emit(d, &t);
}

static void record_notes(const struct record_doc *d, const char *title,
                         const struct store_note_row *v, size_t n)
{
    doc_heading(d, title);
    if (n == 0)
        doc_item(d, NULL, "(none)");
    for (size_t i = 0; i < n; i++) {
        char at[32];
        struct buf line;
        buf_init(&line, BUF_UNLIMITED);
        buf_printf(&line, "%s %s", record_time(v[i].at_ms, at, sizeof(at)),
                   v[i].text);
        for (size_t k = 0; k < line.len; k++)
            if (line.data[k] == '\n')
                line.data[k] = ' ';
        doc_item(d, NULL, buf_cstr(&line));
        buf_release(&line);
    }
}

static void record_doc_render(const struct record_doc *d,
                              const struct store_record *r)
{
    record_header(d, r);
    record_changes(d, r);
    record_validation(d, r);
    record_precheck_evidence(d, r);
    record_waves(d, r);
    record_hosts(d, r);
    record_checks(d, r);
    record_steps(d, r);
    record_notes(d, "Decisions", r->decisions, r->ndecisions);
    struct store_note_row *issues = NULL;
    size_t nissues = record_issues(r, &issues);
    record_notes(d, "Issues Encountered", issues, nissues);
    record_issues_free(issues, nissues);
    const char *rb = record_rollback(r);
    buf_adds(d->out, d->md ? "\n---\n\n" : "\n");
    doc_field(d, "Rollback Executed", rb);
    doc_field(d, "Sign-off", "________________ (Technical Lead)");
}

/* --- JSON ---------------------------------------------------------------
 */

static json_t *js(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}

static json_t *jtime(int64_t ms)
{
    char iso[40];
    return ms > 0 ? json_string(record_iso(ms, iso, sizeof(iso))) : json_null();
}

static json_t *jspan(int64_t from, int64_t to)
{
    return from > 0 && to > 0 ? json_integer(to - from) : json_null();
}

/* [{name, value, secret}], a secret's value "[redacted]"; null when the
 * journal kept no variables. */
static json_t *record_json_vars(const struct store_record *r)
{
    if (!r->vars_journaled)
        return json_null();
    json_t *a = json_array();
    for (size_t i = 0; i < r->nvars; i++) {
        const struct store_var_row *v = &r->vars[i];
        json_error_t je;
        json_t *val = v->secret ? json_string(RECORD_SECRET)
                                : json_loads(v->value, JSON_DECODE_ANY, &je);
        json_array_append_new(
            a, json_pack("{s:s, s:o, s:b}", "name", v->name, "value",
                         val != NULL ? val : json_null(), "secret", v->secret));
    }
    return a;
}

static json_t *record_json(const struct store_record *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(r->id));
    json_object_set_new(o, "plan", js(r->plan));
    json_object_set_new(o, "plan_file", js(r->plan_file));
    char *invs = record_inventories(r->inventory);
    json_object_set_new(o, "inventory", js(invs));
    free(invs);
    json_object_set_new(o, "lock", js(r->lock));
    json_object_set_new(o, "epoch", json_integer((json_int_t)r->epoch));
    json_object_set_new(o, "version", js(r->version));
    json_object_set_new(o, "previous_version", js(r->previous_version));
    json_object_set_new(o, "deployed_by", js(r->user));
    json_object_set_new(o, "coordinator_host", js(r->host));
    json_object_set_new(o, "ticket", js(r->ticket));
    json_object_set_new(o, "approver", js(r->approver));
    json_object_set_new(o, "reason", js(r->reason));
    json_object_set_new(o, "git_commit", js(r->git_commit));
    json_object_set_new(o, "git_tag", js(r->git_tag));
    json_t *ch = json_array();
    const char *cp = r->changes != NULL ? r->changes : "";
    while (*cp != '\0') {
        size_t n = strcspn(cp, "\n");
        if (n > 0)
            json_array_append_new(ch, json_stringn(cp, n));
        cp += n;
        if (*cp == '\n')
            cp++;
    }
    json_object_set_new(o, "changes", ch);
    json_object_set_new(o, "variables", record_json_vars(r));
    json_object_set_new(o, "started", jtime(r->started_ms));
    json_object_set_new(o, "ended", jtime(r->ended_ms));
    json_object_set_new(o, "duration_ms", jspan(r->started_ms, r->ended_ms));
    json_object_set_new(o, "state", js(r->state));
    json_object_set_new(o, "result",
                        r->result != STORE_RESULT_NONE
                            ? json_string(store_result_str(r->result))
                            : json_null());
    json_object_set_new(o, "rolled_back", json_boolean(r->rolled_back));
    json_object_set_new(o, "rollback_executed",
                        json_string(record_rollback(r)));
    json_t *val = json_object();
    json_object_set_new(val, "health", json_string(record_health(r)));
    json_object_set_new(val, "prechecks", json_string(record_prechecks(r)));
    json_object_set_new(val, "smoke", json_string(record_smoke(r)));
    size_t gated, healthy = record_gated_healthy(r, &gated);
    json_object_set_new(val, "gated_hosts", json_integer((json_int_t)gated));
    json_object_set_new(val, "healthy_hosts",
                        json_integer((json_int_t)healthy));
    json_object_set_new(o, "validation", val);

    json_t *a = json_array();
    for (size_t i = 0; i < r->nwaves; i++) {
        const struct store_wave_row *w = &r->waves[i];
        json_t *hosts = json_array();
        for (size_t h = 0; h < r->nhosts; h++)
            if (r->hosts[h].wave == w->idx)
                json_array_append_new(hosts, json_string(r->hosts[h].host));
        json_array_append_new(
            a, json_pack("{s:i, s:s, s:o, s:o, s:o, s:o}", "wave", w->idx + 1,
                         "state", w->state, "hosts", hosts, "started",
                         jtime(w->started_ms), "ended", jtime(w->ended_ms),
                         "duration_ms", jspan(w->started_ms, w->ended_ms)));
    }
    json_object_set_new(o, "waves", a);
    a = json_array();
    for (size_t i = 0; i < r->nhosts; i++) {
        const struct store_host_row *h = &r->hosts[i];
        json_array_append_new(
            a, json_pack("{s:s, s:o, s:s, s:o, s:o, s:o, s:o}", "host", h->host,
                         "wave",
                         h->wave >= 0 ? json_integer(h->wave + 1) : json_null(),
                         "state", h->state, "reason", js(h->reason), "started",
                         jtime(h->started_ms), "ended", jtime(h->ended_ms),
                         "duration_ms", jspan(h->started_ms, h->ended_ms)));
    }
    json_object_set_new(o, "hosts", a);
    a = json_array();
    for (size_t i = 0; i < r->nsteps; i++) {
        const struct store_step_row *s = &r->steps[i];
        json_t *st = json_pack(
            "{s:I, s:o, s:o, s:s, s:s, s:o, s:o, s:o, s:o, s:o}", "id",
            (json_int_t)s->id, "host", js(s->host), "wave",
            s->wave >= 0 ? json_integer(s->wave + 1) : json_null(), "phase",
            s->phase, "name", s->name, "job_id", js(s->job_id), "command",
            js(s->command), "started", jtime(s->started_ms), "ended",
            jtime(s->ended_ms), "outcome", js(s->outcome));
        json_object_set_new(st, "exit_code",
                            s->outcome != NULL && s->exit_code >= 0
                                ? json_integer(s->exit_code)
                                : json_null());
        json_object_set_new(st, "signal",
                            s->signal > 0 ? json_integer(s->signal)
                                          : json_null());
        json_object_set_new(st, "duration_ms",
                            jspan(s->started_ms, s->ended_ms));
        json_object_set_new(st, "output", js(s->output));
        json_array_append_new(a, st);
    }
    json_object_set_new(o, "steps", a);
    a = json_array();
    for (size_t i = 0; i < r->nchecks; i++) {
        const struct store_check_row *c = &r->checks[i];
        json_array_append_new(
            a, json_pack("{s:o, s:o, s:o, s:o, s:o, s:I, s:o, s:o}", "host",
                         js(c->host), "phase", js(c->phase), "check",
                         js(c->name), "verdict", js(c->verdict), "status",
                         c->status ? json_integer(c->status) : json_null(),
                         "latency_ms", (json_int_t)c->latency_ms, "reason",
                         js(c->reason), "at", jtime(c->at_ms)));
    }
    json_object_set_new(o, "health_evidence", a);
    a = json_array();
    for (size_t i = 0; i < r->nprechecks; i++) {
        const struct store_precheck_row *p = &r->prechecks[i];
        json_array_append_new(
            a, json_pack("{s:o, s:o, s:b, s:o, s:o}", "name", js(p->name),
                         "host", js(p->host), "ok", p->ok, "evidence",
                         js(p->evidence), "at", jtime(p->at_ms)));
    }
    json_object_set_new(o, "precheck_evidence", a);
    struct store_note_row *issues = NULL;
    size_t nissues = record_issues(r, &issues);
    for (int k = 0; k < 2; k++) {
        const struct store_note_row *v = k ? issues : r->decisions;
        size_t n = k ? nissues : r->ndecisions;
        a = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(a, json_pack("{s:o, s:s}", "at",
                                               jtime(v[i].at_ms), "text",
                                               v[i].text));
        json_object_set_new(o, k ? "issues" : "decisions", a);
    }
    record_issues_free(issues, nissues);
    return o;
}

void record_render(const struct store_record *r, enum record_format f,
                   struct buf *out)
{
    if (f == RECORD_JSON) {
        json_t *o = record_json(r);
        /* what the journal holds was redacted when written; this pass is
         * the one every output line passes (jsonout.h) */
        jsonout_scrub(o);
        char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        json_decref(o);
        buf_adds(out, s != NULL ? s : "{}");
        buf_addc(out, '\n');
        free(s);
        return;
    }
    struct record_doc d = {.out = out, .md = f == RECORD_MARKDOWN};
    record_doc_render(&d, r);
}
