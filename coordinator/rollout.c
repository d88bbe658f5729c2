/* coordinator/rollout.c: resolve a plan for the selected hosts: waves,
 * variables, rendered commands and URLs. */
#include "rollout.h"

#include "buf.h"
#include "inventory.h"
#include "plan.h"
#include "template.h"
#include "wave.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* How deep variables may refer to variables that are templates. */
enum { ROLLOUT_VAR_DEPTH = 16 };

/* Variable lookup for one host: -e, then built-ins, then plan vars, then
 * the inventory (Ansible's order: extra vars win). */
struct rollout_scope {
    const struct rollout *ro;     /* the rollout */
    const struct rollout_host *h; /* the host */
    json_t *builtins;             /* inventory_hostname, address, wave */
    json_t *rendered;             /* variables rendered from templates */
    const char *stack[ROLLOUT_VAR_DEPTH]; /* variables being rendered */
    size_t depth;                         /* entries in stack */
    struct err inner; /* why the last top-level variable's template failed */
};

static json_t *rollout_lookup_raw(struct rollout_scope *s, const char *name)
{
    json_t *v;
    if (s->ro->extra && (v = json_object_get(s->ro->extra, name)) != NULL)
        return v;
    if ((v = json_object_get(s->builtins, name)) != NULL)
        return v;
    if ((v = json_object_get(s->ro->plan->vars, name)) != NULL)
        return v;
    return inv_host_var(s->ro->inv, s->h->ih, name);
}

/* A variable whose value is itself a template is rendered (once per host)
 * in the same scope, as Ansible does: `dir: /srv/{{ app }}`. */
static json_t *rollout_lookup(const char *name, void *arg)
{
    struct rollout_scope *s = arg;
    /* a new top-level name: an earlier failure (under default()) is moot */
    if (s->depth == 0)
        err_clear(&s->inner);
    json_t *v = rollout_lookup_raw(s, name);
    if (v == NULL || !json_is_string(v) ||
        strstr(json_string_value(v), "{{") == NULL)
        return v;
    json_t *done = json_object_get(s->rendered, name);
    if (done != NULL)
        return done;
    for (size_t i = 0; i < s->depth; i++) {
        if (strcmp(s->stack[i], name) == 0) {
            err_set(&s->inner, ERR_INVALID, "variable '%s' refers to itself",
                    name);
            return NULL;
        }
    }
    if (s->depth == ROLLOUT_VAR_DEPTH) {
        err_set(&s->inner, ERR_INVALID,
                "variable '%s': variables refer to variables more than %d "
                "deep",
                name, ROLLOUT_VAR_DEPTH);
        return NULL;
    }
    s->stack[s->depth++] = name;
    char *out = NULL;
    struct err te = {0};
    enum err_code rc =
        template_render(json_string_value(v), rollout_lookup, s, &out, &te);
    s->depth--;
    if (rc != ERR_OK) {
        err_set(&s->inner, rc, "variable '%s': %s", name, te.msg);
        return NULL;
    }
    json_object_set_new(s->rendered, name, json_string(out));
    free(out);
    return json_object_get(s->rendered, name);
}

/* Render tmpl for the host; on failure *why says what (borrowed from te
 * or the scope). A render stops at the first undefined name, which is the
 * last one looked up: when its own template failed, say why. */
static enum err_code rollout_render(struct rollout_scope *s, const char *tmpl,
                                    char **out, struct err *te,
                                    const char **why)
{
    err_clear(&s->inner);
    enum err_code rc = template_render(tmpl, rollout_lookup, s, out, te);
    *why =
        rc == ERR_NOTFOUND && s->inner.code != ERR_OK ? s->inner.msg : te->msg;
    return rc;
}

static char *rollout_var_str(const struct inventory *inv,
                             const struct inv_host *ih, const char *name)
{
    json_t *v = inv_host_var(inv, ih, name);
    if (v == NULL || json_is_null(v))
        return NULL;
    return template_value_str(v);
}

size_t rollout_wave_start(const struct rollout *ro, size_t w)
{
    size_t i = 0;
    for (size_t k = 0; k < w && k < ro->nwaves; k++)
        i += ro->wave_sizes[k];
    return i;
}

struct target rollout_target(const struct rollout_host *h)
{
    struct target t = {.name = h->name,
                       .address = h->address,
                       .port = h->port,
                       .user = h->user};
    return t;
}

static void rollout_problem(struct buf *diags, struct err *e,
                            const struct plan *p, int line, int col,
                            const char *what, const char *host, const char *msg)
{
    if (line <= 0) { /* not from the plan */
        if (diags != NULL)
            buf_printf(diags, "%s, host %s: %s\n", what, host, msg);
        err_set(e, ERR_INVALID, "%s, host %s: %s", what, host, msg);
        return;
    }
    if (diags != NULL)
        buf_printf(diags, "%s:%d:%d: %s, host %s: %s\n", p->file, line, col,
                   what, host, msg);
    err_set(e, ERR_INVALID, "%s:%d:%d: %s, host %s: %s", p->file, line, col,
            what, host, msg);
}

/* Render steps[0..n) for the host into out[0..n) (env values too). */
static bool rollout_render_cmds(struct rollout_scope *s,
                                const struct plan_step *steps, size_t n,
                                struct rollout_cmd *out, const char *phase,
                                struct buf *diags, struct err *e)
{
    const struct plan *p = s->ro->plan;
    bool ok = true;
    for (size_t i = 0; i < n; i++) {
        const struct plan_step *st = &steps[i];
        struct rollout_cmd *c = &out[i];
        c->step = st;
        struct err te = {0};
        const char *why;
        char what[200];
        snprintf(what, sizeof(what), "%s '%.100s'", phase, st->name);
        if (rollout_render(s, st->run, &c->command, &te, &why) != ERR_OK) {
            rollout_problem(diags, e, p, st->pos.line, st->pos.col, what,
                            s->h->name, why);
            ok = false;
            continue;
        }
        if (st->env == NULL)
            continue;
        c->env = json_object();
        const char *key;
        json_t *val;
        json_object_foreach(st->env, key, val)
        {
            char *rendered = NULL;
            if (!json_is_string(val)) {
                char *plain = template_value_str(val);
                json_object_set_new(c->env, key, json_string(plain));
                free(plain);
                continue;
            }
            struct err ve = {0};
            if (rollout_render(s, json_string_value(val), &rendered, &ve,
                               &why) != ERR_OK) {
                rollout_problem(diags, e, p, st->pos.line, st->pos.col, what,
                                s->h->name, why);
                ok = false;
                continue;
            }
            json_object_set_new(c->env, key, json_string(rendered));
            free(rendered);
        }
    }
    return ok;
}

/* Render checks[0..n) for the host into out[0..n). */
static bool rollout_render_checks(struct rollout_scope *s,
                                  const struct plan_check *checks, size_t n,
                                  struct rollout_check *out, const char *phase,
                                  struct buf *diags, struct err *e)
{
    const struct plan *p = s->ro->plan;
    bool ok = true;
    for (size_t i = 0; i < n; i++) {
        const struct plan_check *pc = &checks[i];
        struct rollout_check *c = &out[i];
        c->check = pc;
        struct err te = {0};
        const char *why = NULL;
        bool good = true;
        if (pc->http != NULL)
            good &= rollout_render(s, pc->http, &c->url, &te, &why) == ERR_OK;
        if (good && pc->command != NULL)
            good &= rollout_render(s, pc->command, &c->command, &te, &why) ==
                    ERR_OK;
        if (good && pc->expect_version != NULL)
            good &= rollout_render(s, pc->expect_version, &c->version, &te,
                                   &why) == ERR_OK;
        if (good && pc->headers != NULL) {
            c->headers =
                xcalloc(json_object_size(pc->headers) + 1, sizeof(char *));
            const char *key;
            json_t *val;
            json_object_foreach(pc->headers, key, val)
            {
                char *v = NULL;
                char *raw = template_value_str(val);
                if (rollout_render(s, raw, &v, &te, &why) != ERR_OK) {
                    free(raw);
                    good = false;
                    break;
                }
                free(raw);
                c->headers[c->nheaders++] = xasprintf("%s: %s", key, v);
                free(v);
            }
        }
        if (!good) {
            rollout_problem(diags, e, p, pc->pos.line, pc->pos.col, phase,
                            s->h->name, why);
            ok = false;
        }
    }
    return ok;
}

static void rollout_cmds_free(struct rollout_cmd *c, size_t n)
{
    for (size_t i = 0; c != NULL && i < n; i++) {
        free(c[i].command);
        json_decref(c[i].env);
    }
    free(c);
}

static void rollout_cmds_free_one(struct rollout_cmd *c)
{
    free(c->command);
    json_decref(c->env);
}

static void rollout_checks_free(struct rollout_check *c, size_t n)
{
    for (size_t i = 0; c != NULL && i < n; i++) {
        free(c[i].url);
        free(c[i].command);
        free(c[i].version);
        for (size_t k = 0; k < c[i].nheaders; k++)
            free(c[i].headers[k]);
        free(c[i].headers);
    }
    free(c);
}

static void rollout_scope_init(struct rollout_scope *s, struct rollout *ro,
                               const struct rollout_host *h)
{
    memset(s, 0, sizeof(*s));
    s->ro = ro;
    s->h = h;
    s->builtins = json_object();
    s->rendered = json_object();
    json_object_set_new(s->builtins, "inventory_hostname",
                        json_string(h->name));
    json_object_set_new(s->builtins, "address", json_string(h->address));
    json_object_set_new(s->builtins, "wave",
                        json_integer((json_int_t)h->wave + 1));
}

static bool rollout_host_init(struct rollout *ro, struct rollout_host *h,
                              const struct inv_host *ih, size_t wave,
                              struct buf *diags, struct err *e)
{
    const struct plan *p = ro->plan;
    bool ok = true;
    h->ih = ih;
    h->name = inv_host_name(ih);
    h->wave = wave;
    h->address = rollout_var_str(ro->inv, ih, "ansible_host");
    if (h->address == NULL)
        h->address = xstrdup(h->name);
    h->user = rollout_var_str(ro->inv, ih, "ansible_user");
    char *port = rollout_var_str(ro->inv, ih, "ansible_port");
    if (port != NULL) {
        char *end = NULL;
        long v = strtol(port, &end, 10);
        if (*port == '\0' || *end != '\0' || v < 1 || v > 65535) {
            char msg[160];
            snprintf(msg, sizeof(msg),
                     "ansible_port '%.64s' is not a port number (1-65535)",
                     port);
            rollout_problem(diags, e, p, 0, 0, "inventory", h->name, msg);
            ok = false;
        } else {
            h->port = (int)v;
        }
        free(port);
    }

    struct rollout_scope s = {
        .ro = ro, .h = h, .builtins = json_object(), .rendered = json_object()};
    json_object_set_new(s.builtins, "inventory_hostname", json_string(h->name));
    json_object_set_new(s.builtins, "address", json_string(h->address));
    json_object_set_new(s.builtins, "wave", json_integer((json_int_t)wave + 1));

    h->cmds = xcalloc(p->nsteps ? p->nsteps : 1, sizeof(char *));
    for (size_t i = 0; i < p->nsteps; i++) {
        struct err te = {0};
        const char *why;
        if (rollout_render(&s, p->steps[i].run, &h->cmds[i], &te, &why) !=
            ERR_OK) {
            char what[160];
            snprintf(what, sizeof(what), "step '%.100s'", p->steps[i].name);
            rollout_problem(diags, e, p, p->steps[i].pos.line,
                            p->steps[i].pos.col, what, h->name, why);
            ok = false;
        }
    }
    h->urls = xcalloc(p->nchecks ? p->nchecks : 1, sizeof(char *));
    for (size_t i = 0; i < p->nchecks; i++) {
        struct err te = {0};
        const char *why;
        if (rollout_render(&s, p->checks[i].http, &h->urls[i], &te, &why) !=
            ERR_OK) {
            rollout_problem(diags, e, p, p->checks[i].pos.line,
                            p->checks[i].pos.col, "health check", h->name, why);
            ok = false;
        }
    }
    /* every phase, rendered the same way */
    h->steps = xcalloc(p->nsteps + 1, sizeof(*h->steps));
    ok &=
        rollout_render_cmds(&s, p->steps, p->nsteps, h->steps, "step", NULL, e);
    for (size_t i = 0; i < p->nsteps; i++) {
        free(h->steps[i].command);
        h->steps[i].command = h->cmds[i] ? xstrdup(h->cmds[i]) : NULL;
    }
    h->rollback = xcalloc(p->nrollback_steps + 1, sizeof(*h->rollback));
    ok &= rollout_render_cmds(&s, p->rollback_steps, p->nrollback_steps,
                              h->rollback, "rollback step", diags, e);
    h->prechecks = xcalloc(p->nprechecks + 1, sizeof(*h->prechecks));
    ok &= rollout_render_cmds(&s, p->prechecks, p->nprechecks, h->prechecks,
                              "precheck", diags, e);
    for (size_t i = 0; i < p->nprechecks; i++)
        h->prechecks[i].skip |= p->prechecks[i].on != PLAN_ON_EACH;
    h->health = xcalloc(p->nchecks + 1, sizeof(*h->health));
    ok &= rollout_render_checks(&s, p->checks, p->nchecks, h->health,
                                "health check", NULL, e);
    h->smoke = xcalloc(p->nsmoke + 1, sizeof(*h->smoke));
    ok &= rollout_render_checks(&s, p->smoke, p->nsmoke, h->smoke,
                                "smoke check", diags, e);
    if (p->singleton_check != NULL) {
        h->singleton_check = xcalloc(1, sizeof(*h->singleton_check));
        ok &=
            rollout_render_checks(&s, p->singleton_check, 1, h->singleton_check,
                                  "singleton check", diags, e);
    }
    json_decref(s.builtins);
    json_decref(s.rendered);
    return ok;
}

/* Once/local steps: rendered for the host that runs them (the first host
 * of the first wave; -1 = the coordinator). */
static bool rollout_once_list(struct rollout *ro, const struct plan_step *st,
                              size_t n, bool prechecks,
                              struct rollout_once **out, size_t *nout,
                              struct buf *diags, struct err *e)
{
    bool ok = true;
    *out = xcalloc(n + 1, sizeof(**out));
    *nout = 0;
    for (size_t i = 0; i < n; i++) {
        if (prechecks && st[i].on == PLAN_ON_EACH)
            continue;
        struct rollout_once *o = &(*out)[(*nout)++];
        o->host = st[i].on == PLAN_ON_LOCAL ? -1 : 0;
        char localhost[] = "localhost";
        struct rollout_host local = {.name = "local", .address = localhost};
        const struct rollout_host *h = o->host < 0 ? &local : &ro->hosts[0];
        struct rollout_scope s;
        rollout_scope_init(&s, ro, h);
        if (o->host < 0) {
            /* the coordinator has no inventory variables */
            local.ih = ro->hosts[0].ih;
        }
        ok &= rollout_render_cmds(&s, &st[i], 1, &o->cmd,
                                  prechecks ? "precheck" : "before step", diags,
                                  e);
        json_decref(s.builtins);
        json_decref(s.rendered);
    }
    return ok;
}

enum err_code rollout_new(const struct plan *p, const struct inventory *inv,
                          json_t *extra, struct rollout **out,
                          struct buf *diags, struct err *e)
{
    *out = NULL;
    const struct inv_host **sel = NULL;
    size_t nsel = 0;
    enum err_code rc = inv_select(inv, p->hosts, &sel, &nsel, e);
    if (rc != ERR_OK)
        return rc;
    if (nsel == 0) {
        free(sel);
        if (diags != NULL)
            buf_printf(diags,
                       "%s: hosts '%s' matches no host of the "
                       "inventory\n",
                       p->file, p->hosts);
        return err_set(e, ERR_INVALID,
                       "%s: hosts '%s' matches no host of the inventory",
                       p->file, p->hosts);
    }
    struct rollout *ro = xcalloc(1, sizeof(*ro));
    ro->plan = p;
    ro->inv = inv;
    ro->extra = extra ? json_incref(extra) : json_object();
    ro->wave_sizes = wave_sizes(nsel, p->waves, p->nwaves, &ro->nwaves);
    ro->hosts = xcalloc(nsel, sizeof(*ro->hosts));
    ro->nhosts = nsel;
    bool ok = true;
    size_t i = 0;
    for (size_t w = 0; w < ro->nwaves; w++)
        for (size_t k = 0; k < ro->wave_sizes[w]; k++, i++)
            ok &= rollout_host_init(ro, &ro->hosts[i], sel[i], w, diags, e);
    free(sel);
    ok &=
        rollout_once_list(ro, p->prechecks, p->nprechecks, true,
                          &ro->prechecks_once, &ro->nprechecks_once, diags, e);
    ok &= rollout_once_list(ro, p->before, p->nbefore, false, &ro->before,
                            &ro->nbefore, diags, e);
    if (p->singleton_env != NULL && ro->nhosts > 0)
        ro->hosts[ro->nhosts - 1].singleton = true;
    if (!ok) {
        rollout_free(ro);
        return ERR_INVALID;
    }
    *out = ro;
    return ERR_OK;
}

void rollout_free(struct rollout *ro)
{
    if (ro == NULL)
        return;
    for (size_t i = 0; i < ro->nhosts; i++) {
        struct rollout_host *h = &ro->hosts[i];
        free(h->address);
        free(h->user);
        for (size_t k = 0; h->cmds && k < ro->plan->nsteps; k++)
            free(h->cmds[k]);
        for (size_t k = 0; h->urls && k < ro->plan->nchecks; k++)
            free(h->urls[k]);
        free(h->cmds);
        free(h->urls);
        rollout_cmds_free(h->steps, ro->plan->nsteps);
        rollout_cmds_free(h->rollback, ro->plan->nrollback_steps);
        rollout_cmds_free(h->prechecks, ro->plan->nprechecks);
        rollout_checks_free(h->health, ro->plan->nchecks);
        rollout_checks_free(h->smoke, ro->plan->nsmoke);
        rollout_checks_free(h->singleton_check, h->singleton_check ? 1 : 0);
    }
    for (size_t i = 0; i < ro->nprechecks_once; i++)
        rollout_cmds_free_one(&ro->prechecks_once[i].cmd);
    for (size_t i = 0; i < ro->nbefore; i++)
        rollout_cmds_free_one(&ro->before[i].cmd);
    free(ro->prechecks_once);
    free(ro->before);
    free(ro->hosts);
    free(ro->wave_sizes);
    json_decref(ro->extra);
    free(ro);
}

enum err_code rollout_extra_var(json_t *obj, const char *arg, struct err *e)
{
    const char *eq = strchr(arg, '=');
    if (eq == NULL || eq == arg)
        return err_set(e, ERR_USAGE,
                       "-e '%s': expected name=value (e.g. -e version=2)", arg);
    for (const char *c = arg; c < eq; c++)
        if (!(isalnum((unsigned char)*c) || *c == '_') ||
            (c == arg && isdigit((unsigned char)*c)))
            return err_set(e, ERR_USAGE,
                           "-e '%s': '%.*s' is not a variable name", arg,
                           (int)(eq - arg), arg);
    char *name = xstrndup(arg, (size_t)(eq - arg));
    json_object_set_new(obj, name, json_string(eq + 1));
    free(name);
    return ERR_OK;
}
