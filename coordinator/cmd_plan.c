/* coordinator/cmd_plan.c: `drover plan`: resolve a plan against an
 * inventory and print what a deploy would do, touching no host: the
 * waves and their hosts, each host's commands as they will run, the
 * checks, and the thresholds in words. --json prints the same as one
 * JSON document. Secrets never appear: secret_env values are shown as
 * [redacted] and the whole output passes through redaction. */
#include "cmd.h"

#include "buf.h"
#include "check.h"
#include "clock.h"
#include "err.h"
#include "inventory.h"
#include "jsonout.h"
#include "log.h"
#include "notify.h"
#include "plan.h"
#include "redact.h"
#include "rollout.h"
#include "ssh.h"
#include "sshconfig.h"
#include "sshopt.h"
#include "wave.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The options of `drover plan`, one row each (cmd.h). */
static const struct cmd_opt cmd_plan_opts[] = {
    CMD_OPT_INVENTORY(", repeatable"),
    CMD_OPT_EXTRA_VAR(", repeatable"),
    {"json", 'J', 0, NULL, "print the resolved plan as one JSON document"},
    SSHOPT_CONFIG_OPT,
    CMD_OPT_HELP,
    CMD_OPT_END,
};

/* Placeholders for what only a real deploy knows. */
static const char cmd_plan_prev[] = "<previous_version>";
static const char cmd_plan_id[] = "<deploy_id>";

static const char *cmd_plan_dur(int64_t ms, char *out, size_t len)
{
    return clock_fmt_duration(ms, out, len);
}

static const char *cmd_plan_on(enum plan_on on)
{
    return on == PLAN_ON_ONCE ? "once" : on == PLAN_ON_LOCAL ? "local" : "each";
}

/* A webhook URL carries its secret in the path: keep scheme and host. */
static char *cmd_plan_webhook(const char *url)
{
    const char *host = strstr(url, "://");
    if (host == NULL)
        return xstrdup(REDACT_MARK);
    host += 3;
    size_t n = strcspn(host, "/?#");
    return xasprintf("%.*s/" REDACT_MARK, (int)(host - url + n), url);
}

/* The environment a command gets, as shown: rendered env, the singleton
 * variable (steps and rollback), secret_env names as [redacted]. */
static json_t *cmd_plan_env(const struct rollout *ro,
                            const struct rollout_host *h,
                            const struct rollout_cmd *c, bool singleton)
{
    const struct plan *p = ro->plan;
    json_t *env = c->env ? json_deep_copy(c->env) : json_object();
    if (singleton && p->singleton_env != NULL && h != NULL)
        json_object_set_new(env, p->singleton_env,
                            json_string(h->singleton ? "true" : "false"));
    for (size_t i = 0; c->step && i < c->step->nsecret_env; i++)
        json_object_set_new(env, c->step->secret_env[i],
                            json_string(REDACT_MARK));
    return env;
}

static json_t *cmd_plan_cmd_json(const struct rollout *ro,
                                 const struct rollout_host *h,
                                 const struct rollout_cmd *c, bool singleton)
{
    const struct plan_step *st = c->step;
    json_t *o = json_pack("{s:s,s:b}", "name", st->name, "skip", c->skip);
    json_object_set_new(o, "command",
                        c->command ? json_string(c->command) : json_null());
    json_object_set_new(o, "on", json_string(cmd_plan_on(st->on)));
    if (st->when)
        json_object_set_new(o, "when", json_string(st->when));
    if (st->timeout_ms)
        json_object_set_new(o, "timeout_ms", json_integer(st->timeout_ms));
    if (st->retries) {
        json_object_set_new(o, "retries", json_integer(st->retries));
        json_object_set_new(o, "delay_ms", json_integer(st->delay_ms));
    }
    if (st->ignore_errors)
        json_object_set_new(o, "ignore_errors", json_true());
    if (st->idempotent)
        json_object_set_new(o, "idempotent", json_true());
    if (st->irreversible)
        json_object_set_new(o, "irreversible", json_true());
    json_t *env = cmd_plan_env(ro, h, c, singleton);
    if (json_object_size(env) > 0)
        json_object_set_new(o, "env", env);
    else
        json_decref(env);
    return o;
}

static json_t *cmd_plan_check_json(const struct rollout_check *c)
{
    const struct plan_check *pc = c->check;
    json_t *o = json_object();
    if (pc->name)
        json_object_set_new(o, "name", json_string(pc->name));
    pc->kind->json(c, o);
    if (pc->timeout_ms)
        json_object_set_new(o, "timeout_ms", json_integer(pc->timeout_ms));
    return o;
}

static const char *cmd_plan_host_name(const struct rollout *ro, long host)
{
    return host < 0 ? "localhost (the coordinator)"
                    : ro->hosts[(size_t)host].name;
}

static json_t *cmd_plan_json(const struct rollout *ro)
{
    const struct plan *p = ro->plan;
    static const char *const orders[] = {"inventory", "sorted",
                                         "reverse_sorted", "shuffle"};
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:b,s:I}", "plan", p->name,
                          "file", p->file, "lock", p->lock, "hosts_pattern",
                          p->hosts, "order", orders[p->order], "canary",
                          ro->has_canary, "nhosts", (json_int_t)ro->nhosts);
    if (p->order == PLAN_ORDER_SHUFFLE)
        json_object_set_new(o, "seed", json_integer((json_int_t)ro->seed));
    json_t *waves = json_array();
    for (size_t w = 0; w < ro->nwaves; w++) {
        json_t *a = json_array();
        size_t start = rollout_wave_start(ro, w);
        for (size_t i = start; i < start + ro->wave_sizes[w]; i++)
            json_array_append_new(a, json_string(ro->hosts[i].name));
        json_array_append_new(waves, a);
    }
    json_object_set_new(o, "waves", waves);

    json_t *hosts = json_object(), *steps = json_object(),
           *health = json_object(), *pre = json_object(), *rb = json_object(),
           *smoke = json_object();
    for (size_t i = 0; i < ro->nhosts; i++) {
        const struct rollout_host *h = &ro->hosts[i];
        json_t *hi =
            json_pack("{s:I,s:s,s:b}", "wave", (json_int_t)h->wave + 1,
                      "address", h->addr.address, "singleton", h->singleton);
        if (h->addr.port)
            json_object_set_new(hi, "port", json_integer(h->addr.port));
        if (h->addr.user)
            json_object_set_new(hi, "user", json_string(h->addr.user));
        if (h->addr.alias) /* the ssh config's HostName gave address */
            json_object_set_new(hi, "ssh_alias", json_string(h->addr.alias));
        json_object_set_new(hosts, h->name, hi);
        json_t *a = json_array();
        for (size_t k = 0; k < p->nsteps; k++)
            json_array_append_new(a,
                                  cmd_plan_cmd_json(ro, h, &h->steps[k], true));
        json_object_set_new(steps, h->name, a);
        a = json_array();
        for (size_t k = 0; k < p->nprechecks; k++)
            if (p->prechecks[k].on == PLAN_ON_EACH)
                json_array_append_new(
                    a, cmd_plan_cmd_json(ro, h, &h->prechecks[k], false));
        json_object_set_new(pre, h->name, a);
        a = json_array();
        for (size_t k = 0; k < p->nrollback_steps; k++)
            json_array_append_new(
                a, cmd_plan_cmd_json(ro, h, &h->rollback[k], true));
        json_object_set_new(rb, h->name, a);
        a = json_array();
        for (size_t k = 0; k < p->nchecks; k++)
            json_array_append_new(a, cmd_plan_check_json(&h->health[k]));
        json_object_set_new(health, h->name, a);
        a = json_array();
        for (size_t k = 0; k < p->nsmoke; k++)
            json_array_append_new(a, cmd_plan_check_json(&h->smoke[k]));
        json_object_set_new(smoke, h->name, a);
    }
    json_object_set_new(o, "hosts", hosts);
    json_object_set_new(o, "prechecks", pre);
    json_object_set_new(o, "steps", steps);
    json_object_set_new(o, "health", health);
    json_object_set_new(o, "smoke", smoke);
    json_object_set_new(o, "rollback", rb);
    json_t *once = json_array(), *before = json_array();
    for (size_t i = 0; i < ro->nprechecks_once; i++) {
        json_t *c =
            cmd_plan_cmd_json(ro, NULL, &ro->prechecks_once[i].cmd, false);
        json_object_set_new(
            c, "host",
            ro->prechecks_once[i].host < 0
                ? json_null()
                : json_string(ro->hosts[ro->prechecks_once[i].host].name));
        json_array_append_new(once, c);
    }
    for (size_t i = 0; i < ro->nbefore; i++) {
        json_t *c = cmd_plan_cmd_json(ro, NULL, &ro->before[i].cmd, false);
        json_object_set_new(
            c, "host",
            ro->before[i].host < 0
                ? json_null()
                : json_string(ro->hosts[ro->before[i].host].name));
        json_array_append_new(before, c);
    }
    json_object_set_new(o, "prechecks_once", once);
    json_object_set_new(o, "before", before);
    json_object_set_new(
        o, "gate",
        json_pack("{s:I,s:I,s:I,s:I}", "interval_ms",
                  (json_int_t)p->interval_ms, "min_healthy_time_ms",
                  (json_int_t)p->min_healthy_ms, "healthy_deadline_ms",
                  (json_int_t)p->healthy_deadline_ms, "progress_deadline_ms",
                  (json_int_t)p->progress_deadline_ms));
    char mf[32], mft[32];
    wave_budget_words(&p->max_fail, mf, sizeof(mf));
    wave_budget_words(&p->max_fail_total, mft, sizeof(mft));
    json_t *th =
        json_pack("{s:s,s:s,s:b}", "max_fail", mf, "unreachable",
                  p->unreachable == PLAN_UNREACHABLE_PAUSE ? "pause" : "fail",
                  "pause_after_canary", p->pause_after_canary);
    json_object_set_new(th, "max_fail_total",
                        p->max_fail_total_set ? json_string(mft) : json_null());
    if (p->pause_manual)
        json_object_set_new(th, "pause", json_string("manual"));
    else
        json_object_set_new(th, "pause_ms", json_integer(p->pause_ms));
    json_object_set_new(
        th, "words",
        wave_words(p, ro->wave_sizes, ro->nwaves, ro->nhosts, ro->has_canary));
    json_object_set_new(o, "thresholds", th);
    json_object_set_new(o, "rollback_auto", json_boolean(p->rollback_auto));
    if (p->singleton_role) {
        json_t *s = json_pack("{s:s,s:s}", "role", p->singleton_role, "env",
                              p->singleton_env ? p->singleton_env : "");
        json_object_set_new(
            s, "host",
            ro->singleton_host >= 0
                ? json_string(ro->hosts[ro->singleton_host].name)
                : json_null());
        json_object_set_new(s, "hosts_pattern",
                            p->singleton_hosts ? json_string(p->singleton_hosts)
                                               : json_null());
        json_t *may = json_array();
        for (size_t i = 0; i < ro->nhosts; i++)
            if (ro->hosts[i].singleton_eligible)
                json_array_append_new(may, json_string(ro->hosts[i].name));
        json_object_set_new(s, "eligible", may);
        json_object_set_new(o, "singleton", s);
    }
    json_t *req = json_pack("{s:b,s:b}", "ticket", p->require_ticket,
                            "approver", p->require_approver);
    json_t *renv = json_array();
    for (size_t i = 0; i < p->nrequire_env; i++)
        json_array_append_new(renv, json_string(p->require_env[i]));
    json_object_set_new(req, "env", renv);
    json_object_set_new(o, "require", req);
    json_t *win = json_array();
    for (size_t i = 0; i < p->nwindows; i++)
        json_array_append_new(win, json_string(p->windows[i]));
    json_object_set_new(o, "windows", win);
    json_t *nt = json_array();
    for (size_t i = 0; i < p->nnotify; i++) {
        char *u = cmd_plan_webhook(p->notify[i].webhook);
        json_t *on = json_array();
        static const char *const events[] = {"start", "success", "failure",
                                             "rollback"};
        for (unsigned b = 0; b < 4; b++)
            if (p->notify[i].on & (1u << b))
                json_array_append_new(on, json_string(events[b]));
        json_array_append_new(nt,
                              json_pack("{s:s,s:o}", "webhook", u, "on", on));
        free(u);
    }
    json_object_set_new(o, "notify", nt);
    return o;
}

static void cmd_plan_text_cmd(struct buf *b, const struct rollout *ro,
                              const struct rollout_host *h, const char *label,
                              const struct rollout_cmd *c, bool singleton)
{
    const struct plan_step *st = c->step;
    if (c->skip) {
        buf_printf(b, "    %s %s: skipped (when: %s)\n", label, st->name,
                   st->when ? st->when : "");
        return;
    }
    buf_printf(b, "    %s %s: %s\n", label, st->name,
               c->command ? c->command : "");
    char d1[32], d2[32];
    if (st->timeout_ms || st->retries || st->ignore_errors ||
        st->irreversible || st->idempotent || st->when) {
        buf_adds(b, "      (");
        const char *sep = "";
        if (st->when) {
            buf_printf(b, "when: %s", st->when);
            sep = ", ";
        }
        if (st->timeout_ms) {
            buf_printf(b, "%stimeout %s", sep,
                       cmd_plan_dur(st->timeout_ms, d1, sizeof(d1)));
            sep = ", ";
        }
        if (st->retries) {
            buf_printf(b, "%s%d retr%s %s apart", sep, st->retries,
                       st->retries == 1 ? "y" : "ies",
                       cmd_plan_dur(st->delay_ms, d2, sizeof(d2)));
            sep = ", ";
        }
        if (st->ignore_errors) {
            buf_printf(b, "%sfailure ignored", sep);
            sep = ", ";
        }
        if (st->idempotent) {
            buf_printf(b, "%sidempotent", sep);
            sep = ", ";
        }
        if (st->irreversible)
            buf_printf(b, "%sirreversible: automatic rollback stops here", sep);
        buf_adds(b, ")\n");
    }
    json_t *env = cmd_plan_env(ro, h, c, singleton);
    if (json_object_size(env) > 0) {
        buf_adds(b, "      env:");
        const char *k;
        json_t *v;
        json_object_foreach(env, k, v)
        {
            buf_printf(b, " %s=%s", k, json_string_value(v));
        }
        buf_adds(b, "\n");
    }
    json_decref(env);
}

static void cmd_plan_text_check(struct buf *b, const char *label,
                                const struct rollout_check *c)
{
    buf_printf(b, "    %s: ", label);
    c->check->kind->text(b, c);
}

static void cmd_plan_text(struct buf *b, const struct rollout *ro)
{
    const struct plan *p = ro->plan;
    char d1[32], d2[32], d3[32];
    json_t *version = json_object_get(ro->extra, "version");
    buf_printf(b, "plan '%s' (%s)%s%s: %zu host%s in %zu wave%s\n", p->name,
               p->file, json_is_string(version) ? " version " : "",
               json_is_string(version) ? json_string_value(version) : "",
               ro->nhosts, ro->nhosts == 1 ? "" : "s", ro->nwaves,
               ro->nwaves == 1 ? "" : "s");
    buf_printf(b, "  hosts: %s, lock: %s, order: %s", p->hosts, p->lock,
               p->order == PLAN_ORDER_SORTED           ? "sorted"
               : p->order == PLAN_ORDER_REVERSE_SORTED ? "reverse_sorted"
               : p->order == PLAN_ORDER_SHUFFLE        ? "shuffle"
                                                       : "inventory");
    if (p->order == PLAN_ORDER_SHUFFLE)
        buf_printf(b, " (seed %llu%s)", (unsigned long long)ro->seed,
                   p->seed_set ? ""
                               : ", chosen now: add strategy.seed to "
                                 "repeat this order");
    buf_adds(b, "\n");
    if (p->require_ticket || p->require_approver || p->nrequire_env) {
        buf_adds(b, "  requires:");
        if (p->require_ticket)
            buf_adds(b, " --ticket");
        if (p->require_approver)
            buf_adds(b, " --approver");
        for (size_t i = 0; i < p->nrequire_env; i++)
            buf_printf(b, " $%s", p->require_env[i]);
        buf_adds(b, "\n");
    }
    for (size_t i = 0; i < p->nwindows; i++)
        buf_printf(b, "  window: %s\n", p->windows[i]);

    buf_adds(b, "\nwaves:\n");
    for (size_t w = 0; w < ro->nwaves; w++) {
        size_t start = rollout_wave_start(ro, w);
        buf_printf(b, "  wave %zu%s (%zu host%s):", w + 1,
                   w == 0 && ro->has_canary ? ", canary" : "",
                   ro->wave_sizes[w], ro->wave_sizes[w] == 1 ? "" : "s");
        for (size_t i = start; i < start + ro->wave_sizes[w]; i++)
            buf_printf(b, " %s", ro->hosts[i].name);
        buf_adds(b, "\n");
    }
    if (ro->nprechecks_once + ro->nbefore > 0)
        buf_adds(b, "\nonce per deploy:\n");
    for (size_t i = 0; i < ro->nprechecks_once; i++) {
        const struct rollout_once *o = &ro->prechecks_once[i];
        buf_printf(b, "  precheck on %s:\n", cmd_plan_host_name(ro, o->host));
        cmd_plan_text_cmd(b, ro, NULL, "run", &o->cmd, false);
    }
    for (size_t i = 0; i < ro->nbefore; i++) {
        const struct rollout_once *o = &ro->before[i];
        buf_printf(b, "  before wave 1, on %s:\n",
                   cmd_plan_host_name(ro, o->host));
        cmd_plan_text_cmd(b, ro, NULL, "run", &o->cmd, false);
    }

    buf_adds(b, "\nhosts:\n");
    for (size_t i = 0; i < ro->nhosts; i++) {
        const struct rollout_host *h = &ro->hosts[i];
        buf_printf(b, "  %s (wave %zu, %s%s%s", h->name, h->wave + 1,
                   h->addr.user ? h->addr.user : "", h->addr.user ? "@" : "",
                   h->addr.address);
        if (h->addr.port)
            buf_printf(b, ":%d", h->addr.port);
        buf_adds(b, ")");
        if (h->singleton && p->singleton_check == NULL)
            buf_printf(b, " holds the singleton role '%s'", p->singleton_role);
        else if (h->singleton_eligible && p->singleton_check != NULL)
            buf_printf(b, " may hold the singleton role '%s'",
                       p->singleton_role);
        buf_adds(b, "\n");
        for (size_t k = 0; k < p->nprechecks; k++)
            if (p->prechecks[k].on == PLAN_ON_EACH)
                cmd_plan_text_cmd(b, ro, h, "precheck", &h->prechecks[k],
                                  false);
        for (size_t k = 0; k < p->nsteps; k++)
            cmd_plan_text_cmd(b, ro, h, "step", &h->steps[k], true);
        for (size_t k = 0; k < p->nchecks; k++)
            cmd_plan_text_check(b, "health", &h->health[k]);
        if (h->singleton_check)
            cmd_plan_text_check(b, "singleton check", h->singleton_check);
        for (size_t k = 0; k < p->nsmoke; k++)
            cmd_plan_text_check(b, "smoke", &h->smoke[k]);
        for (size_t k = 0; k < p->nrollback_steps; k++)
            cmd_plan_text_cmd(b, ro, h, "rollback", &h->rollback[k], true);
    }

    buf_adds(b, "\nhealth gate: ");
    if (p->nchecks == 0) {
        buf_adds(b, "none (a host passes when its steps succeed)\n");
    } else {
        buf_printf(b,
                   "%zu check%s every %s; a host passes when all hold for "
                   "%s in a row, and fails if not by %s after its steps",
                   p->nchecks, p->nchecks == 1 ? "" : "s",
                   cmd_plan_dur(p->interval_ms, d1, sizeof(d1)),
                   cmd_plan_dur(p->min_healthy_ms, d2, sizeof(d2)),
                   cmd_plan_dur(p->healthy_deadline_ms, d3, sizeof(d3)));
        if (p->progress_deadline_ms)
            buf_printf(b, "; a wave fails when no host turns healthy for %s",
                       cmd_plan_dur(p->progress_deadline_ms, d1, sizeof(d1)));
        buf_adds(b, "\n");
    }
    if (p->singleton_role && ro->singleton_host >= 0 && p->singleton_check)
        buf_printf(b,
                   "singleton: role '%s' may run on the hosts %s matches; "
                   "before any change each host is asked (its check) who "
                   "holds it, and it stays there when that host may hold "
                   "it, else it moves to one that may when the holder's "
                   "turn comes, stop before start (%s=true on the holder, "
                   "false on every other host)\n",
                   p->singleton_role,
                   p->singleton_hosts ? p->singleton_hosts : "the plan",
                   p->singleton_env ? p->singleton_env : "");
    else if (p->singleton_role && ro->singleton_host >= 0)
        buf_printf(b,
                   "singleton: role '%s' runs on %s, the last host that may "
                   "hold it (%s=true there, false on every other host); "
                   "without a check drover cannot ask who holds it\n",
                   p->singleton_role, ro->hosts[ro->singleton_host].name,
                   p->singleton_env ? p->singleton_env : "");
    buf_adds(b, "\nthresholds: the deploy\n");
    json_t *words =
        wave_words(p, ro->wave_sizes, ro->nwaves, ro->nhosts, ro->has_canary);
    size_t i;
    json_t *w;
    json_array_foreach(words, i, w)
    {
        buf_printf(b, "  %s\n", json_string_value(w));
    }
    json_decref(words);
    for (size_t k = 0; k < p->nnotify; k++) {
        char *u = cmd_plan_webhook(p->notify[k].webhook);
        buf_printf(b, "notify: %s on", u);
        for (unsigned bit = 1; bit & NOTIFY_ALL; bit <<= 1)
            if (p->notify[k].on & bit)
                buf_printf(b, " %s", notify_event_str((enum notify_event)bit));
        buf_addc(b, '\n');
        free(u);
    }
}

static int cmd_plan_run(int argc, char **argv)
{
    struct option longopts[CMD_OPTS_MAX + 1];
    char shortopts[3 * CMD_OPTS_MAX + 2];
    cmd_getopt(&cmd_plan, "", longopts, shortopts);
    struct sshconfig *sshcfg = NULL;
    bool as_json = false;
    struct cmd_shared sh;
    cmd_shared_init(&sh, argc);
    json_t *extra = sh.extra;
    int status = EXIT_USAGE;
    struct err e = {0};
    optind = 0; /* 0: glibc resets all of getopt's state (in-process reruns) */
    int c;
    while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
        switch (c) {
        case 'J':
            as_json = true;
            break;
        case 'h':
            cmd_help(&cmd_plan, stdout);
            status = EXIT_OK;
            goto out;
        default: {
            int rc = cmd_shared_opt(&cmd_plan, &sh, c, optarg);
            if (rc == CMD_SHARED_TAKEN)
                break;
            if (rc == CMD_SHARED_NOT_MINE)
                rc = cmd_usage_error(&cmd_plan,
                                     "unknown option or missing argument");
            status = rc;
            goto out;
        }
        }
    }
    if (optind != argc - 1 || sh.ninv == 0) {
        cmd_usage_error(&cmd_plan, "%s",
                        sh.ninv == 0 ? "no inventory (-i)"
                                     : "expected one PLAN file");
        goto out;
    }

    status = EXIT_INPUT;
    struct inventory *inv = inv_new();
    struct plan *plan = NULL;
    struct rollout *ro = NULL;
    struct buf diags;
    buf_init(&diags, 256 * 1024);
    for (size_t i = 0; i < sh.ninv; i++)
        if (inv_load(inv, sh.invs[i], &e) != ERR_OK) {
            log_out(stderr, "drover: %s", e.msg);
            goto done;
        }
    if (plan_load(argv[optind], &plan, &diags, &e) != ERR_OK) {
        cmd_print_diags(&diags, &e);
        goto done;
    }
    if (sshopt_config(&sh.ssh, &sshcfg, &e) != ERR_OK) {
        log_out(stderr, "drover: %s", e.msg);
        goto done;
    }
    struct rollout_input in = {
        .extra = extra,
        .previous_version = cmd_plan_prev,
        .deploy_id = cmd_plan_id,
        .ssh_config = sshcfg,
    };
    if (rollout_new_input(plan, inv, &in, &ro, &diags, &e) != ERR_OK) {
        cmd_print_diags(&diags, &e);
        goto done;
    }
    /* every secret of the resolved plan, before anything is printed */
    rollout_secrets(ro, redact_global());
    struct buf outb;
    buf_init(&outb, BUF_UNLIMITED);
    if (as_json) {
        json_t *j = cmd_plan_json(ro);
        jsonout_print(stdout, j, JSON_INDENT(2) | JSON_ENCODE_ANY);
        json_decref(j);
    } else {
        cmd_plan_text(&outb, ro);
        /* log_out adds the last newline */
        if (outb.len > 0 && outb.data[outb.len - 1] == '\n')
            outb.len--;
        log_out(stdout, "%.*s", (int)outb.len, buf_cstr(&outb));
    }
    buf_release(&outb);
    status = EXIT_OK;

done:
    rollout_free(ro);
    sshconfig_free(sshcfg);
    plan_free(plan);
    inv_free(inv);
    buf_release(&diags);
out:
    cmd_shared_release(&sh);
    return status;
}

const struct cmd cmd_plan = {
    .name = "plan",
    .usage = "plan -i INVENTORY [-e NAME=VALUE]... [options] PLAN",
    .summary = "show what a deploy would do, host by host, touching none",
    .run = cmd_plan_run,
    .opts = cmd_plan_opts,
};
