/* coordinator/resume.c: continue a journaled deploy (resume, promote,
 * abort, rollback): read its record, load the plan and inventory again,
 * work out where it stands, and run the engine from there under the lock
 * with a new epoch. */
#include "resume.h"

#include "agentconn.h"
#include "buf.h"
#include "cmd.h"
#include "inventory.h"
#include "log.h"
#include "loop.h"
#include "plan.h"
#include "redact.h"
#include "rollout.h"
#include "runner.h"
#include "session.h"
#include "ssh.h"
#include "sshconfig.h"
#include "sshopt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long resume_host_index(const struct rollout *ro, const char *name)
{
    for (size_t i = 0; name != NULL && i < ro->nhosts; i++)
        if (strcmp(ro->hosts[i].name, name) == 0)
            return (long)i;
    return -1;
}

/* The decision for step name on host: the first that names both (or
 * leaves them open), else DEPLOY_ASK. */
static enum deploy_decision
resume_decision_for(const struct resume_decision *dec, size_t ndec,
                    const char *host, const char *name)
{
    for (size_t i = 0; i < ndec; i++)
        if ((dec[i].host == NULL ||
             (host != NULL && strcmp(dec[i].host, host) == 0)) &&
            (dec[i].step == NULL ||
             (name != NULL && strcmp(dec[i].step, name) == 0)))
            return dec[i].decision;
    return DEPLOY_ASK;
}

/* The plan's list of phase ph, for step names. */
static const struct plan_step *resume_list(const struct plan *p,
                                           enum stepid_phase ph, size_t *n)
{
    switch (ph) {
    case STEPID_PRECHECK:
        *n = p->nprechecks;
        return p->prechecks;
    case STEPID_BEFORE:
        *n = p->nbefore;
        return p->before;
    case STEPID_DEPLOY:
        *n = p->nsteps;
        return p->steps;
    case STEPID_ROLLBACK:
        *n = p->nrollback_steps;
        return p->rollback_steps;
    default:
        *n = 0;
        return NULL;
    }
}

/* A row a journal of schema 2 left in flight, without its index: the
 * old rules (re-run if idempotent, else the operator decides). */
static enum err_code resume_legacy_row(const struct store_step_row *st,
                                       const struct plan *p,
                                       const struct resume_decision *dec,
                                       size_t ndec, struct err *e)
{
    bool idem = false;
    for (size_t k = 0; k < p->nsteps; k++)
        if (st->name != NULL && strcmp(p->steps[k].name, st->name) == 0)
            idem = p->steps[k].idempotent;
    if (idem ||
        resume_decision_for(dec, ndec, st->host, st->name) != DEPLOY_ASK)
        return ERR_OK;
    return err_set(e, ERR_INVALID,
                   "step '%s' on %s was started and never finished, and "
                   "an older drover journaled it without its index, so the "
                   "host cannot be asked: check the host, then resume with "
                   "--retry-step %s:%s (run it again) or --skip-step %s:%s "
                   "(it completed)",
                   st->name ? st->name : "?", st->host ? st->host : "local",
                   st->host ? st->host : "local", st->name ? st->name : "?",
                   st->host ? st->host : "local", st->name ? st->name : "?");
}

/* Row st of step k on host h ended without success: the step's next
 * attempt comes after it, and a failure uses one of its retries (what the
 * engine does: every end but a cancel). The deploy proper is pass 0; a
 * rollback counts when it is the one being continued; a `before` step
 * wherever it ran. */
static void resume_tried(struct resume_point *pt, const struct plan *p,
                         enum stepid_phase ph, long h, size_t k,
                         const struct store_step_row *st)
{
    struct deploy_tries *t = NULL;
    if (st->attempt < 0)
        return;
    if (ph == STEPID_BEFORE) /* once per deploy, wherever it ran */
        t = &pt->before_tries[k];
    else if (h < 0)
        return;
    else if (ph == STEPID_DEPLOY && st->pass == 0)
        t = &pt->step_tries[(size_t)h * p->nsteps + k];
    else if (ph == STEPID_ROLLBACK && pt->rolling_back)
        t = &pt->rollback_tries[(size_t)h * p->nrollback_steps + k];
    if (t == NULL)
        return;
    if ((unsigned)st->attempt + 1 > t->next)
        t->next = (unsigned)st->attempt + 1;
    if (strcmp(st->outcome, "failed") == 0 ||
        strcmp(st->outcome, "timeout") == 0 ||
        strcmp(st->outcome, "unreachable") == 0)
        t->spent++;
}

enum err_code resume_point_of(const struct store_record *r,
                              const struct rollout *ro,
                              const struct resume_decision *dec, size_t ndec,
                              struct resume_point *pt, struct err *e)
{
    const struct plan *p = ro->plan;
    memset(pt, 0, sizeof(*pt));
    pt->done_hosts = xcalloc(ro->nhosts + 1, sizeof(bool));
    pt->changed_hosts = xcalloc(ro->nhosts + 1, sizeof(bool));
    pt->step_done = xcalloc(ro->nhosts * p->nsteps + 1, 1);
    pt->rollback_done = xcalloc(ro->nhosts * p->nrollback_steps + 1, 1);
    pt->step_tries =
        xcalloc(ro->nhosts * p->nsteps + 1, sizeof(*pt->step_tries));
    pt->rollback_tries = xcalloc(ro->nhosts * p->nrollback_steps + 1,
                                 sizeof(*pt->rollback_tries));
    pt->before_tries = xcalloc(p->nbefore + 1, sizeof(*pt->before_tries));
    pt->inflight = xcalloc(r->nsteps + 1, sizeof(*pt->inflight));
    pt->orphans = xcalloc(r->nsteps + 1, sizeof(*pt->orphans));
    bool *before_ok = xcalloc(p->nbefore + 1, sizeof(bool));
    pt->rolling_back =
        r->state != NULL && strcmp(r->state, "rolling back") == 0;
    pt->start_wave = r->nwaves;
    for (size_t w = 0; w < r->nwaves; w++)
        if (r->waves[w].state == NULL || strcmp(r->waves[w].state, "done")) {
            pt->start_wave = (size_t)r->waves[w].idx;
            break;
        }
    pt->nothing_changed = !pt->rolling_back;
    for (size_t w = 0; w < r->nwaves; w++)
        if (r->waves[w].state != NULL &&
            strcmp(r->waves[w].state, "pending") != 0)
            pt->nothing_changed = false;
    for (size_t i = 0; i < r->nhosts; i++) {
        long h = resume_host_index(ro, r->hosts[i].host);
        enum deploy_host_state hs;
        if (h >= 0 && deploy_state_parse(r->hosts[i].state, &hs) &&
            hs == DH_HEALTHY)
            pt->done_hosts[h] = true;
    }
    for (size_t i = 0; i < r->nsteps; i++) {
        const struct store_step_row *st = &r->steps[i];
        enum stepid_phase ph;
        if (!stepid_phase_parse(st->phase, &ph))
            continue;
        long h = resume_host_index(ro, st->host);
        if (ph != STEPID_PRECHECK)
            pt->nothing_changed = false;
        /* a host is changed once a deploy step was sent to it (its intent
         * is journaled first), whatever came of it: the state a host was
         * journaled in (connecting for a precheck, say) does not say */
        if (ph == STEPID_DEPLOY && h >= 0) {
            pt->changed_hosts[h] = true;
            if (ro->hosts[h].wave > pt->last_wave)
                pt->last_wave = ro->hosts[h].wave;
        }
        if (st->step < 0) {
            if (st->outcome == NULL &&
                resume_legacy_row(st, p, dec, ndec, e) != ERR_OK) {
                free(before_ok);
                resume_point_release(pt);
                return ERR_INVALID;
            }
            continue;
        }
        size_t n, k = (size_t)st->step;
        const struct plan_step *list = resume_list(p, ph, &n);
        if (list == NULL || k >= n || (st->host != NULL && h < 0))
            continue;
        if (st->outcome != NULL) {
            if (strcmp(st->outcome, "ok") != 0 &&
                strcmp(st->outcome, "skipped") != 0) {
                resume_tried(pt, p, ph, h, k, st);
                continue;
            }
            /* the deploy proper is pass 0; a later pass restarted a done
             * host for the singleton hand-over and proves nothing more */
            if (ph == STEPID_DEPLOY && h >= 0 && st->pass == 0)
                pt->step_done[(size_t)h * p->nsteps + k] = 1;
            else if (ph == STEPID_ROLLBACK && h >= 0 && pt->rolling_back)
                pt->rollback_done[(size_t)h * p->nrollback_steps + k] = 1;
            else if (ph == STEPID_BEFORE)
                before_ok[k] = true;
            continue;
        }
        /* started, never finished: the coordinator died during it; the
         * engine asks the host under the journaled id */
        if (ph == STEPID_ROLLBACK && !pt->rolling_back)
            continue;
        /* a hand-over restart of a host whose deploy was done: the host
         * is not deployed again, but may be restarted again: it first
         * waits for this one to end (the wrapper keeps running it) */
        if (ph == STEPID_DEPLOY && h >= 0 && st->pass > 0 &&
            pt->done_hosts[h] && st->job_id != NULL) {
            pt->orphans[pt->norphans++] = (struct deploy_orphan){
                .host = ro->hosts[h].name, .job_id = st->job_id};
            continue;
        }
        struct deploy_inflight *f = &pt->inflight[pt->ninflight++];
        f->host = h >= 0 ? ro->hosts[h].name : NULL;
        f->phase = ph;
        f->step = (unsigned)k;
        f->pass = (unsigned)st->pass;
        f->attempt = (unsigned)st->attempt;
        f->gen = st->gen;
        f->row = st->id;
        f->decision = resume_decision_for(dec, ndec, f->host, list[k].name);
    }
    for (size_t i = 0; i < ro->nbefore; i++) {
        size_t k = (size_t)(ro->before[i].cmd.step - p->before);
        if (k < p->nbefore && !before_ok[k] && !ro->before[i].cmd.skip) {
            pt->before_left = ro->nbefore - i;
            break;
        }
    }
    free(before_ok);
    return ERR_OK;
}

void resume_point_release(struct resume_point *pt)
{
    free(pt->done_hosts);
    free(pt->changed_hosts);
    free(pt->step_done);
    free(pt->orphans);
    free(pt->rollback_done);
    free(pt->step_tries);
    free(pt->rollback_tries);
    free(pt->before_tries);
    free(pt->inflight);
    memset(pt, 0, sizeof(*pt));
}

static const struct store_var_row *resume_var_row(const struct store_record *r,
                                                  const char *name)
{
    for (size_t i = 0; i < r->nvars; i++)
        if (strcmp(r->vars[i].name, name) == 0)
            return &r->vars[i];
    return NULL;
}

static bool resume_is_override(const char *const *override, size_t n,
                               const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(override[i], name) == 0)
            return true;
    return false;
}

/* A value as the operator wrote it: a string as itself, else JSON.
 * Caller frees. */
static char *resume_var_words(const json_t *v)
{
    if (json_is_string(v))
        return xstrdup(json_string_value(v));
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    return s != NULL ? s : xstrdup("?");
}

/* A journaled value (JSON text) as a new reference, NULL if unreadable. */
static json_t *resume_var_value(const struct store_var_row *row)
{
    json_error_t je;
    return row->value != NULL ? json_loads(row->value, JSON_DECODE_ANY, &je)
                              : NULL;
}

/* Secret variables of r that extra lacks: refuse, naming every one. */
static enum err_code resume_vars_secrets(const struct store_record *r,
                                         const json_t *extra, struct err *e)
{
    struct buf need;
    buf_init(&need, BUF_UNLIMITED);
    for (size_t i = 0; i < r->nvars; i++)
        if (r->vars[i].secret &&
            json_object_get(extra, r->vars[i].name) == NULL)
            buf_printf(&need, " -e %s=...", r->vars[i].name);
    enum err_code rc = ERR_OK;
    if (need.len > 0)
        rc = err_set(e, ERR_USAGE,
                     "%s needs%s again: secret variables are not journaled",
                     r->id, buf_cstr(&need));
    buf_release(&need);
    return rc;
}

/* One -e variable given now against the journal. */
static enum err_code resume_var_check(const struct store_record *r,
                                      const char *name, const json_t *v,
                                      bool override, struct redact *rd,
                                      struct buf *changed, struct err *e)
{
    const struct store_var_row *row = resume_var_row(r, name);
    /* a secret-looking variable the deploy did not have: its value must
     * not reach the "added (...)" note below unredacted */
    if (row == NULL && json_is_string(v))
        redact_add_named(rd, name, json_string_value(v));
    if (row != NULL && row->secret) {
        /* secret by its value: its name alone would not redact it */
        if (json_is_string(v))
            redact_add(rd, json_string_value(v));
        /* compared by its keyed hash: the value itself is not journaled,
         * and no message names it */
        int same = store_var_same(r, row, v);
        if (same == 1 || (same < 0 && row->hash == NULL))
            return ERR_OK; /* same, or journaled by an older drover */
        if (override) {
            if (changed != NULL)
                buf_printf(changed, "%s--override-var %s: secret value %s",
                           changed->len ? "; " : "", name,
                           same == 0 ? "changed" : "not compared");
            return ERR_OK;
        }
        if (same < 0)
            return err_set(e, ERR_USAGE,
                           "-e %s cannot be compared with the secret value "
                           "journaled for %s: the state directory's %s is "
                           "missing; pass --override-var %s if the value is "
                           "right",
                           name, r->id, STORE_VARS_KEY_FILE, name);
        return err_set(e, ERR_USAGE,
                       "-e %s is not the secret value journaled for %s "
                       "(compared by a keyed hash): changing a secret "
                       "mid-deploy splits the fleet; pass --override-var %s "
                       "to change it anyway",
                       name, r->id, name);
    }
    json_t *old = row != NULL ? resume_var_value(row) : NULL;
    bool same = old != NULL && json_equal(old, v);
    enum err_code rc = ERR_OK;
    char *now = resume_var_words(v);
    char *was = old != NULL ? resume_var_words(old) : NULL;
    if (same || (row == NULL && strcmp(name, "previous_version") == 0)) {
        /* nothing changes */
    } else if (override) {
        if (changed != NULL && row != NULL)
            buf_printf(changed, "%s--override-var %s: %s -> %s",
                       changed->len ? "; " : "", name, was ? was : "?", now);
        else if (changed != NULL)
            buf_printf(changed, "%s--override-var %s: added (%s)",
                       changed->len ? "; " : "", name, now);
    } else if (row != NULL) {
        rc = err_set(e, ERR_USAGE,
                     "-e %s=%.60s differs from %s=%.60s journaled for %s: "
                     "changing a variable mid-deploy splits the fleet; pass "
                     "--override-var %s to change it anyway",
                     name, now, name, was ? was : "?", r->id, name);
    } else {
        rc = err_set(e, ERR_USAGE,
                     "-e %s was not given to %s when it began: adding a "
                     "variable mid-deploy splits the fleet; pass "
                     "--override-var %s to add it anyway",
                     name, r->id, name);
    }
    free(now);
    free(was);
    json_decref(old);
    return rc;
}

enum err_code resume_vars(const struct store_record *r, json_t *extra,
                          const char *const *override, size_t noverride,
                          struct redact *rd, struct buf *changed, struct err *e)
{
    for (size_t i = 0; i < noverride; i++)
        if (json_object_get(extra, override[i]) == NULL)
            return err_set(e, ERR_USAGE,
                           "--override-var %s: no -e %s=VALUE was given",
                           override[i], override[i]);
    if (!r->vars_journaled)
        return ERR_OK;
    if (resume_vars_secrets(r, extra, e) != ERR_OK)
        return ERR_USAGE;
    const char *name;
    json_t *v;
    json_object_foreach(extra, name, v)
    {
        if (strcmp(name, "version") == 0)
            continue;
        if (resume_var_check(r, name, v,
                             resume_is_override(override, noverride, name), rd,
                             changed, e) != ERR_OK)
            return ERR_USAGE;
    }
    for (size_t i = 0; i < r->nvars; i++) {
        if (r->vars[i].secret || json_object_get(extra, r->vars[i].name))
            continue;
        json_t *old = resume_var_value(&r->vars[i]);
        if (old == NULL)
            return err_set(e, ERR_PARSE,
                           "%s: variable %s: bad JSON in the "
                           "journal",
                           r->id, r->vars[i].name);
        json_object_set_new(extra, r->vars[i].name, old);
    }
    return ERR_OK;
}

/* The journaled reason of each host of ro (borrowed from r, NULL where
 * none): a failed host keeps it through a rollback that fails too. Caller
 * frees the array. */
static const char **resume_host_reasons(const struct store_record *r,
                                        const struct rollout *ro)
{
    const char **why = xcalloc(ro->nhosts + 1, sizeof(*why));
    for (size_t i = 0; i < r->nhosts; i++) {
        long h = resume_host_index(ro, r->hosts[i].host);
        if (h >= 0)
            why[h] = r->hosts[i].reason;
    }
    return why;
}

/* Who held the singleton role before deploy r changed anything, as it
 * journaled the answers (DEPLOY_SINGLETON_BEFORE): a host name, "" when
 * nobody did, NULL when it did not ask (no check, an older drover). */
static const char *resume_singleton_origin(const struct store_record *r)
{
    const char *found = NULL;
    for (size_t i = 0; i < r->nchecks; i++) {
        const struct store_check_row *c = &r->checks[i];
        if (c->phase == NULL || strcmp(c->phase, "singleton") != 0 ||
            c->name == NULL || strcmp(c->name, DEPLOY_SINGLETON_BEFORE) != 0)
            continue;
        if (c->verdict != NULL && strcmp(c->verdict, "active") == 0)
            return c->host;
        found = "";
    }
    return found;
}

/* The irreversible steps deploy r ran (started, whatever the outcome), in
 * words into out ("'migrate' on erp1, ..."); the number found. The
 * rollback steps cannot undo them. */
static size_t resume_irreversible(const struct store_record *r,
                                  const struct plan *p, struct buf *out)
{
    size_t n = 0;
    for (size_t i = 0; i < r->nsteps; i++) {
        const struct store_step_row *st = &r->steps[i];
        const struct plan_step *list = NULL;
        size_t len = 0;
        if (st->phase != NULL && strcmp(st->phase, "deploy") == 0) {
            list = p->steps;
            len = p->nsteps;
        } else if (st->phase != NULL && strcmp(st->phase, "before") == 0) {
            list = p->before;
            len = p->nbefore;
        }
        for (size_t k = 0; k < len && st->name != NULL; k++)
            if (list[k].irreversible && strcmp(list[k].name, st->name) == 0) {
                buf_printf(out, "%s'%s' on %s", n ? ", " : "", st->name,
                           st->host ? st->host : "the coordinator");
                n++;
                break;
            }
    }
    return n;
}

/* Find the deploy: the id given, or (resume) the newest unfinished. */
static enum err_code resume_find(const char *state_dir, const char *id,
                                 struct store_record **rec, struct err *e)
{
    struct store *s = NULL;
    if (store_open_state(state_dir, true, &s, NULL, e) != ERR_OK)
        return e->code;
    enum err_code rc;
    if (id == NULL) {
        struct store_filter f = {.unfinished = true, .limit = 1};
        struct store_summary *rows = NULL;
        size_t n = 0;
        rc = store_list(s, &f, &rows, &n, e);
        if (rc == ERR_OK && n == 0)
            rc = err_set(e, ERR_NOTFOUND,
                         "no unfinished deploy to resume (drover history "
                         "lists them)");
        if (rc == ERR_OK)
            rc = store_get_record(s, rows[0].id, rec, e);
        free(rows);
    } else {
        rc = store_get_record(s, id, rec, e);
    }
    store_free(s);
    return rc;
}

enum resume_outcome resume_run(const struct resume_request *rq,
                               enum runner_outcome *ran,
                               struct deploy_result *res)
{
    const char *name = rq->name;
    enum resume_mode mode = rq->mode;
    struct session_options sopt = *rq->session;
    json_t *extra = rq->extra;
    const char **reasons = NULL;
    struct buf irrev, invtext;
    buf_init(&irrev, 4096);
    buf_init(&invtext, BUF_UNLIMITED);
    struct err e = {0};
    enum resume_outcome outcome = RESUME_BAD_INPUT;
    struct store_record *rec = NULL;
    struct inventory *inv = NULL;
    struct plan *plan = NULL;
    struct rollout *ro = NULL;
    struct sshconfig *sshcfg = NULL;
    struct loop *loop = NULL;
    struct resume_point pt;
    memset(&pt, 0, sizeof(pt));
    struct buf diags;
    buf_init(&diags, 64 * 1024);
    struct buf changed;
    buf_init(&changed, BUF_UNLIMITED);
    memset(res, 0, sizeof(*res));
    *ran = RUNNER_BROKEN;

    if (resume_find(sopt.state_dir, rq->id, &rec, &e) != ERR_OK) {
        log_out(stderr, "drover %s: %s", name, e.msg);
        /* a DEPLOY the journal does not have, or a state directory
         * drover must not use: bad arguments (docs/cli.md) */
        if (e.code == ERR_NOTFOUND || e.code == ERR_USAGE)
            outcome = RESUME_BAD_REQUEST;
        goto out;
    }
    bool ended = rec->result != STORE_RESULT_NONE;
    bool paused = rec->state != NULL && strcmp(rec->state, "paused") == 0;
    if (ended && mode != RESUME_ROLLBACK) {
        log_out(stderr,
                "drover %s: %s already ended (%s); `drover rollback %s` "
                "puts the previous version back",
                name, rec->id, store_result_str(rec->result), rec->id);
        outcome = RESUME_BAD_REQUEST;
        goto out;
    }
    if (mode == RESUME_PROMOTE && !paused) {
        log_out(stderr, "drover promote: %s is %s, not paused", rec->id,
                rec->state ? rec->state : "unknown");
        outcome = RESUME_BAD_REQUEST;
        goto out;
    }
    /* before the lock and any host: a refusal here changes nothing */
    if (resume_vars(rec, extra, rq->override, rq->noverride, redact_global(),
                    &changed, &e) != ERR_OK) {
        log_out(stderr, "drover %s: %s", name, e.msg);
        outcome = RESUME_BAD_REQUEST;
        goto out;
    }
    if (rec->version && json_object_get(extra, "version") == NULL)
        json_object_set_new(extra, "version", json_string(rec->version));
    /* the deploy's addresses again: the same ssh config, read once */
    if (sshopt_config(rq->ssh, &sshcfg, &e) != ERR_OK) {
        log_out(stderr, "drover %s: %s", name, e.msg);
        goto out;
    }
    struct rollout_input rin = {.extra = extra,
                                .previous_version = rec->previous_version,
                                .deploy_id = rec->id,
                                .ssh_config = sshcfg};
    inv = inv_new();
    /* every -i given, else every inventory the deploy was given (one a
     * line: session_inventories) */
    const char *src = rq->ninv > 0
                          ? session_inventories(rq->invs, rq->ninv, &invtext)
                          : rec->inventory;
    if (src == NULL) {
        log_out(stderr, "drover %s: the journal has no inventory: pass -i",
                name);
        goto out;
    }
    for (const char *p = src; *p != '\0';) {
        const char *nl = strchr(p, '\n');
        size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);
        char *one = xstrndup(p, n);
        enum err_code lrc = inv_load(inv, one, &e);
        free(one);
        if (lrc != ERR_OK) {
            log_out(stderr, "drover %s: %s", name, e.msg);
            goto out;
        }
        p += n + (nl != NULL);
    }
    if (plan_load(rec->plan_file, &plan, &diags, &e) != ERR_OK ||
        rollout_new_input(plan, inv, &rin, &ro, &diags, &e) != ERR_OK) {
        cmd_print_diags(&diags, &e);
        goto out;
    }
    rollout_secrets(ro, redact_global()); /* before anything is printed */
    if (resume_point_of(rec, ro, rq->dec, rq->ndec, &pt, &e) != ERR_OK) {
        log_out(stderr, "drover %s: %s", name, e.msg);
        outcome = RESUME_UNDECIDED;
        goto out;
    }
    bool rollback = mode == RESUME_ABORT || mode == RESUME_ROLLBACK ||
                    (mode == RESUME_CONTINUE && pt.rolling_back);
    if (mode == RESUME_ROLLBACK && ended)
        for (size_t i = 0; i < ro->nhosts; i++)
            pt.changed_hosts[i] |= pt.done_hosts[i];
    /* what no rollback step undoes is said, and run past only when the
     * operator confirms it (journaled below) */
    if (rollback && resume_irreversible(rec, plan, &irrev) > 0 &&
        !rq->confirm_irreversible) {
        log_out(stderr,
                "drover %s: %s ran irreversible steps: %s; the rollback "
                "steps do not undo them. Check what they changed, then "
                "pass --confirm-irreversible to roll back the rest anyway",
                name, rec->id, buf_cstr(&irrev));
        outcome = RESUME_IRREVERSIBLE;
        goto out;
    }
    reasons = resume_host_reasons(rec, ro);

    outcome = RESUME_BROKEN;
    struct err le = {0};
    if ((loop = loop_new(&le)) == NULL)
        goto out;
    sopt.version = rec->version;
    sopt.inventory = src;
    sopt.abort = mode == RESUME_ABORT;
    sopt.rollback = mode == RESUME_ROLLBACK;
    sopt.webhooks = ro->webhooks;
    struct session *sess = NULL;
    enum session_refusal why;
    if (session_continue(plan, rec->id, rollback ? "rolling back" : "running",
                         &sopt, loop, &sess, &why, &e) != ERR_OK) {
        log_out(stderr, "drover %s: %s", name, e.msg);
        outcome = why == SESSION_LOCKED ? RESUME_LOCKED
                  : e.code == ERR_USAGE ? RESUME_BAD_REQUEST /* the state
                                                                dir */
                                        : RESUME_BROKEN;
        goto out;
    }
    if (changed.len > 0 && store_decision(session_store(sess), rec->id,
                                          buf_cstr(&changed), &e) != ERR_OK) {
        log_out(stderr, "drover %s: %s", name, e.msg);
        session_free(sess);
        goto out;
    }
    if (irrev.len > 0) {
        char *text = xasprintf(
            "%s past irreversible steps confirmed (--confirm-irreversible): "
            "%s stay as they are",
            name, buf_cstr(&irrev));
        enum err_code rc =
            store_decision(session_store(sess), rec->id, text, &e);
        free(text);
        if (rc != ERR_OK) {
            log_out(stderr, "drover %s: %s", name, e.msg);
            session_free(sess);
            goto out;
        }
    }
    if (!rq->json)
        log_out(stdout, "%s %s (plan %s, version %s): %s\n", name, rec->id,
                rec->plan, rec->version ? rec->version : "-",
                rollback ? "rolling back the changed hosts, last wave first"
                : pt.nothing_changed
                    ? "it changed nothing yet: starting over from its prechecks"
                    : "going on from the first wave not done");
    struct runner_options o = {
        .ssh = rq->ssh,
        .agent = rq->agent,
        .deploy = {.forks = rq->forks,
                   .verbose = rq->verbose,
                   .output_cap = 64 * 1024,
                   .out = stdout,
                   .json = rq->json,
                   .live = !rq->json && !rq->verbose && isatty(STDOUT_FILENO),
                   .start_wave = rollback ? pt.last_wave : pt.start_wave,
                   .done_hosts = pt.done_hosts,
                   .changed_hosts = pt.changed_hosts,
                   .step_done = pt.step_done,
                   .rollback_done = pt.rollback_done,
                   .step_tries = pt.step_tries,
                   .rollback_tries = pt.rollback_tries,
                   .before_tries = pt.before_tries,
                   .inflight = pt.inflight,
                   .ninflight = pt.ninflight,
                   .orphans = pt.orphans,
                   .norphans = pt.norphans,
                   .before_left = rollback ? 0 : pt.before_left,
                   .prechecks_again = !rollback && pt.nothing_changed,
                   .rollback_only = rollback,
                   .singleton_origin = resume_singleton_origin(rec),
                   .host_reasons = reasons}};
    *ran = runner_run(ro, loop, sess, &o, res);
    outcome = RESUME_RAN;
out:
    resume_point_release(&pt);
    free(reasons);
    buf_release(&irrev);
    buf_release(&invtext);
    loop_free(loop);
    rollout_free(ro);
    sshconfig_free(sshcfg);
    plan_free(plan);
    inv_free(inv);
    store_record_free(rec);
    buf_release(&diags);
    buf_release(&changed);
    return outcome;
}
