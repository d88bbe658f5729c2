/* coordinator/rollout.c: resolve a plan for the selected hosts: host
 * order, the canary wave and the waves after it, variables, and every
 * phase's commands and checks rendered per host (`when` decides skips,
 * `on_host` the host of a once step, the last host of the last wave the
 * singleton holder). */
#include "rollout.h"

#include "check.h"

#include "buf.h"
#include "extravars.h"
#include "hostaddr.h"
#include "inventory.h"
#include "plan.h"
#include "redact.h"
#include "template.h"
#include "transports.h"
#include "when.h"
#include "wave.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
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
    if (s->h->ih == NULL) /* the coordinator (on: local) */
        return NULL;
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
    /* the built-ins only a deploy knows: say where they come from */
    if (rc == ERR_NOTFOUND &&
        strncmp(*why, "undefined variable 'previous_version'", 37) == 0) {
        err_clear(&s->inner);
        err_set(&s->inner, ERR_NOTFOUND,
                "previous_version is unknown: no successful deploy of plan "
                "'%s' is recorded yet; pass -e previous_version=RELEASE (the "
                "release a rollback restores)",
                s->ro->plan->name);
        *why = s->inner.msg;
    } else if (rc == ERR_NOTFOUND &&
               strncmp(*why, "undefined variable 'deploy_id'", 30) == 0) {
        err_clear(&s->inner);
        err_set(&s->inner, ERR_NOTFOUND,
                "deploy_id is assigned when a deploy starts, and this "
                "command gave none (rollout_input.deploy_id)");
        *why = s->inner.msg;
    }
    return rc;
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
    return hostaddr_target(&h->addr, h->name);
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

/* Problems shown per (place, message) before the rest are summed up: one
 * undefined variable on 2000 hosts is 3 lines and a count, not 2000. */
enum { ROLLOUT_SAME_SHOWN = 3, ROLLOUT_SAME_NAMED = 5 };

/* One kind of problem: the line without its host, and who else had it. */
struct rollout_same {
    char *prefix;    /* up to ", host " */
    char *msg;       /* after the host's ": " */
    size_t n;        /* lines seen */
    struct buf more; /* hosts past ROLLOUT_SAME_SHOWN, comma separated */
};

/* Collapse the per-host problem lines appended to diags since from. */
static void rollout_collapse(struct buf *diags, size_t from)
{
    if (diags == NULL || diags->len <= from)
        return;
    char *text = xstrndup(diags->data + from, diags->len - from);
    diags->len = from;
    diags->data[from] = '\0';
    struct rollout_same *same = NULL;
    size_t nsame = 0, cap = 0;
    /* each line: the same kind seen before is kept or counted */
    struct buf out;
    buf_init(&out, BUF_UNLIMITED);
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        char *h = strstr(line, ", host ");
        char *m = h ? strstr(h + 7, ": ") : NULL;
        if (m == NULL) {
            buf_printf(&out, "%s\n", line);
            continue;
        }
        *h = '\0';
        *m = '\0';
        const char *host = h + 7, *msg = m + 2;
        struct rollout_same *k = NULL;
        for (size_t i = 0; i < nsame && k == NULL; i++)
            if (strcmp(same[i].prefix, line) == 0 &&
                strcmp(same[i].msg, msg) == 0)
                k = &same[i];
        if (k == NULL) {
            if (nsame == cap) {
                cap = cap ? cap * 2 : 8;
                same = xrealloc(same, cap * sizeof(*same));
            }
            k = &same[nsame++];
            k->prefix = xstrdup(line);
            k->msg = xstrdup(msg);
            k->n = 0;
            buf_init(&k->more, 4096);
        }
        if (k->n++ < ROLLOUT_SAME_SHOWN) {
            buf_printf(&out, "%s, host %s: %s\n", line, host, msg);
        } else if (k->n <= ROLLOUT_SAME_SHOWN + ROLLOUT_SAME_NAMED) {
            buf_printf(&k->more, "%s%s", k->more.len ? ", " : "", host);
        }
    }
    for (size_t i = 0; i < nsame; i++) {
        struct rollout_same *k = &same[i];
        if (k->n > ROLLOUT_SAME_SHOWN) {
            size_t rest = k->n - ROLLOUT_SAME_SHOWN;
            buf_printf(&out, "%s, and %zu more host%s (%s%s): %s\n", k->prefix,
                       rest, rest == 1 ? "" : "s", buf_cstr(&k->more),
                       rest > ROLLOUT_SAME_NAMED ? ", ..." : "", k->msg);
        }
        free(k->prefix);
        free(k->msg);
        buf_release(&k->more);
    }
    free(same);
    buf_add(diags, out.data ? out.data : "", out.len);
    buf_release(&out);
    free(text);
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
        if (st->when != NULL) {
            bool yes = false;
            err_clear(&s->inner);
            if (when_eval(st->when, rollout_lookup, s, &yes, &te) != ERR_OK) {
                why = te.code == ERR_NOTFOUND && s->inner.code != ERR_OK
                          ? s->inner.msg
                          : te.msg;
                rollout_problem(diags, e, p, st->pos.line, st->pos.col, what,
                                s->h->name, why);
                ok = false;
                continue;
            }
            if (!yes) {
                c->skip = true; /* not rendered: Ansible tests when first */
                continue;
            }
        }
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

enum err_code rollout_scope_render(struct rollout_scope *s, const char *tmpl,
                                   char **out, struct err *te, const char **why)
{
    return rollout_render(s, tmpl, out, te, why);
}

/* Render checks[0..n) for the host into out[0..n), each by its kind. */
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
        if (!pc->kind->render(s, pc, c, &te, &why)) {
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
    for (size_t i = 0; c != NULL && i < n; i++)
        if (c[i].check != NULL && c[i].check->kind->free_host != NULL)
            c[i].check->kind->free_host(c[i].host);
    free(c);
}

/* Ansible's magic variables common to every host (docs/plan.md):
 * groups (every group, "all" and "ungrouped" too, with the hosts of its
 * descendants), ansible_play_hosts_all and ansible_play_hosts (the hosts
 * the plan targets, in the pattern's order: nothing has failed yet when
 * they are rendered), and each wave's hosts for play_hosts. */
static void rollout_magic_init(struct rollout *ro,
                               const struct inv_host *const *sel, size_t nsel,
                               const struct inv_host *const *order)
{
    json_t *groups = json_object();
    for (size_t i = 0; i < inv_group_count(ro->inv); i++) {
        const struct inv_group *g = inv_group_at(ro->inv, i);
        const struct inv_host **hs = NULL;
        size_t n = 0;
        inv_group_hosts(ro->inv, g, &hs, &n);
        json_t *a = json_array();
        for (size_t k = 0; k < n; k++)
            json_array_append_new(a, json_string(inv_host_name(hs[k])));
        free(hs);
        json_object_set_new(groups, inv_group_name(g), a);
    }
    json_t *play = json_array();
    for (size_t k = 0; k < nsel; k++)
        json_array_append_new(play, json_string(inv_host_name(sel[k])));
    ro->magic = json_object();
    json_object_set_new(ro->magic, "groups", groups);
    json_object_set(ro->magic, "ansible_play_hosts_all", play);
    json_object_set_new(ro->magic, "ansible_play_hosts", play);
    ro->batches = json_array();
    size_t i = 0;
    for (size_t w = 0; w < ro->nwaves; w++) {
        json_t *b = json_array();
        for (size_t k = 0; k < ro->wave_sizes[w]; k++, i++)
            json_array_append_new(b, json_string(inv_host_name(order[i])));
        json_array_append_new(ro->batches, b);
    }
}

/* The magic variables of host h into vars: the common ones, group_names
 * (sorted, without "all"), inventory_hostname_short (up to the first
 * '.'), play_hosts and ansible_play_batch (the hosts of h's wave; the
 * first wave's for the coordinator, whose steps run before it). */
static void rollout_magic_host(json_t *vars, const struct rollout *ro,
                               const struct rollout_host *h)
{
    if (ro->magic == NULL)
        return;
    json_object_update(vars, ro->magic);
    json_t *names = json_array();
    if (h->ih != NULL) {
        const char **gn = NULL;
        size_t n = 0;
        inv_host_group_names(ro->inv, h->ih, &gn, &n);
        for (size_t k = 0; k < n; k++)
            json_array_append_new(names, json_string(gn[k]));
        free(gn);
    }
    json_object_set_new(vars, "group_names", names);
    json_object_set_new(vars, "inventory_hostname_short",
                        json_stringn(h->name, strcspn(h->name, ".")));
    json_t *batch = json_array_get(ro->batches, h->ih != NULL ? h->wave : 0);
    if (batch != NULL) {
        json_object_set(vars, "play_hosts", batch);
        json_object_set(vars, "ansible_play_batch", batch);
    }
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
    json_object_set_new(s->builtins, "address", json_string(h->addr.address));
    json_object_set_new(s->builtins, "wave",
                        json_integer((json_int_t)h->wave + 1));
    rollout_magic_host(s->builtins, ro, h);
    if (ro->previous_version != NULL)
        json_object_set_new(s->builtins, "previous_version",
                            json_string(ro->previous_version));
    if (ro->deploy_id != NULL)
        json_object_set_new(s->builtins, "deploy_id",
                            json_string(ro->deploy_id));
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
    struct err ae = {0};
    if (hostaddr_of(ro->inv, ih, &h->addr, &ae) != ERR_OK) {
        rollout_problem(diags, e, p, 0, 0, "inventory", h->name, ae.msg);
        ok = false;
        h->addr.address = xstrdup(h->name);
        h->addr.kind = transport_kind_find(NULL, &ae);
    }
    hostaddr_map(&h->addr, ro->ssh_config);

    struct rollout_scope s;
    rollout_scope_init(&s, ro, h);
    /* every phase, rendered the same way */
    h->steps = xcalloc(p->nsteps + 1, sizeof(*h->steps));
    ok &= rollout_render_cmds(&s, p->steps, p->nsteps, h->steps, "step", diags,
                              e);
    h->rollback = xcalloc(p->nrollback_steps + 1, sizeof(*h->rollback));
    ok &= rollout_render_cmds(&s, p->rollback_steps, p->nrollback_steps,
                              h->rollback, "rollback step", diags, e);
    h->prechecks = xcalloc(p->nprechecks + 1, sizeof(*h->prechecks));
    for (size_t i = 0; i < p->nprechecks; i++) {
        if (p->prechecks[i].on == PLAN_ON_EACH) {
            ok &= rollout_render_cmds(&s, &p->prechecks[i], 1, &h->prechecks[i],
                                      "precheck", diags, e);
        } else { /* once/local: in ro->prechecks_once */
            h->prechecks[i].step = &p->prechecks[i];
            h->prechecks[i].skip = true;
        }
    }
    h->health = xcalloc(p->nchecks + 1, sizeof(*h->health));
    ok &= rollout_render_checks(&s, p->checks, p->nchecks, h->health,
                                "health check", diags, e);
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

/* The notify webhooks, rendered once for the deploy in the coordinator's
 * scope (-e, plan vars, built-ins): a URL may take its secret path from
 * -e. */
static bool rollout_webhooks(struct rollout *ro, struct buf *diags,
                             struct err *e)
{
    const struct plan *p = ro->plan;
    bool ok = true;
    ro->webhooks = xcalloc(p->nnotify + 1, sizeof(char *));
    char localhost[] = "localhost";
    struct rollout_host local = {.name = "localhost",
                                 .addr.address = localhost};
    for (size_t i = 0; i < p->nnotify; i++) {
        if (p->notify[i].webhook == NULL)
            continue;
        struct rollout_scope s;
        rollout_scope_init(&s, ro, &local);
        struct err te = {0};
        const char *why = NULL;
        if (rollout_render(&s, p->notify[i].webhook, &ro->webhooks[i], &te,
                           &why) != ERR_OK) {
            rollout_problem(diags, e, p, p->notify[i].pos.line,
                            p->notify[i].pos.col, "notify webhook", "localhost",
                            why);
            ok = false;
        }
        json_decref(s.builtins);
        json_decref(s.rendered);
    }
    return ok;
}

/* The host an on: once step runs on: the first host in wave order that
 * on_host matches, else the first host of the first wave. -1 with a
 * problem reported when the pattern matches no targeted host. */
static long rollout_once_host(struct rollout *ro, const struct plan_step *st,
                              struct buf *diags, struct err *e)
{
    if (st->on_host == NULL)
        return 0;
    const struct inv_host **sel = NULL;
    size_t nsel = 0;
    struct err pe = {0};
    if (inv_select(ro->inv, st->on_host, &sel, &nsel, &pe) != ERR_OK) {
        rollout_problem(diags, e, ro->plan, st->pos.line, st->pos.col,
                        "on_host", st->on_host, pe.msg);
        return -1;
    }
    long found = -1;
    for (size_t i = 0; i < ro->nhosts && found < 0; i++)
        for (size_t k = 0; k < nsel; k++)
            if (sel[k] == ro->hosts[i].ih) {
                found = (long)i;
                break;
            }
    free(sel);
    if (found < 0)
        rollout_problem(diags, e, ro->plan, st->pos.line, st->pos.col,
                        "on_host", st->on_host,
                        "the pattern matches none of the hosts this plan "
                        "targets");
    return found;
}

/* Once/local steps: rendered for the host that runs them (-1 = the
 * coordinator, which has no inventory variables). */
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
        long host = -1;
        if (st[i].on != PLAN_ON_LOCAL) {
            host = rollout_once_host(ro, &st[i], diags, e);
            if (host < 0) {
                ok = false;
                continue;
            }
        }
        struct rollout_once *o = &(*out)[(*nout)++];
        o->host = host;
        char localhost[] = "localhost";
        struct rollout_host local = {.name = "localhost",
                                     .addr.address = localhost};
        const struct rollout_host *h =
            o->host < 0 ? &local : &ro->hosts[o->host];
        struct rollout_scope s;
        rollout_scope_init(&s, ro, h);
        ok &= rollout_render_cmds(&s, &st[i], 1, &o->cmd,
                                  prechecks ? "precheck" : "before step", diags,
                                  e);
        json_decref(s.builtins);
        json_decref(s.rendered);
    }
    return ok;
}

static void rollout_plan_problem(struct buf *diags, struct err *e,
                                 const struct plan *p, struct plan_pos pos,
                                 const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void rollout_plan_problem(struct buf *diags, struct err *e,
                                 const struct plan *p, struct plan_pos pos,
                                 const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (diags != NULL)
        buf_printf(diags, "%s:%d:%d: %s\n", p->file, pos.line, pos.col, msg);
    err_set(e, ERR_INVALID, "%s:%d:%d: %s", p->file, pos.line, pos.col, msg);
}

/* Order the selected hosts, pick the canary and cut the waves: fills
 * ro->wave_sizes, ro->has_canary, ro->seed and returns the hosts in
 * wave order (caller frees), NULL after reporting a contradiction. */
static const struct inv_host **rollout_arrange(struct rollout *ro,
                                               const struct inv_host **sel,
                                               size_t nsel, struct buf *diags,
                                               struct err *e)
{
    const struct plan *p = ro->plan;
    size_t *idx = xcalloc(nsel, sizeof(size_t));
    const char **names = xcalloc(nsel, sizeof(char *));
    for (size_t i = 0; i < nsel; i++) {
        idx[i] = i;
        names[i] = inv_host_name(sel[i]);
    }
    if (p->order == PLAN_ORDER_SHUFFLE)
        ro->seed = p->seed_set ? p->seed : wave_seed_random();
    wave_order(idx, names, nsel, p->order, ro->seed);
    free(names);

    /* canary: the first ncanary hosts in that order, or of those that
     * canary_hosts matches, moved to the front */
    bool ok = true;
    bool *is_canary = xcalloc(nsel, sizeof(bool));
    size_t ncanary = wave_canary_size(&p->canary, nsel);
    if (ncanary > nsel) {
        rollout_plan_problem(diags, e, p, p->canary_pos,
                             "strategy.canary is %zu hosts but hosts '%s' "
                             "selects only %zu",
                             ncanary, p->hosts, nsel);
        ok = false;
    }
    if (ok && p->canary_hosts != NULL) {
        const struct inv_host **cs = NULL;
        size_t ncs = 0;
        struct err pe = {0};
        if (inv_select(ro->inv, p->canary_hosts, &cs, &ncs, &pe) != ERR_OK) {
            rollout_plan_problem(diags, e, p, p->canary_hosts_pos,
                                 "strategy.canary_hosts: %s", pe.msg);
            ok = false;
        }
        size_t matched = 0;
        bool want_all = p->canary.count == 0 && p->canary.percent == 0;
        for (size_t k = 0; ok && k < nsel; k++) {
            const struct inv_host *h = sel[idx[k]];
            for (size_t j = 0; j < ncs; j++)
                if (cs[j] == h && (want_all || matched < ncanary)) {
                    is_canary[idx[k]] = true;
                    matched++;
                    break;
                }
        }
        free(cs);
        if (ok && matched == 0) {
            rollout_plan_problem(diags, e, p, p->canary_hosts_pos,
                                 "strategy.canary_hosts '%s' matches none of "
                                 "the hosts this plan targets",
                                 p->canary_hosts);
            ok = false;
        } else if (ok && !want_all && matched < ncanary) {
            rollout_plan_problem(diags, e, p, p->canary_pos,
                                 "strategy.canary is %zu hosts but "
                                 "canary_hosts '%s' matches only %zu",
                                 ncanary, p->canary_hosts, matched);
            ok = false;
        }
        ncanary = matched;
    } else if (ok) {
        for (size_t k = 0; k < ncanary; k++)
            is_canary[idx[k]] = true;
    }
    if (!ok) {
        free(idx);
        free(is_canary);
        return NULL;
    }
    const struct inv_host **order = xcalloc(nsel, sizeof(*order));
    size_t n = 0;
    for (size_t k = 0; k < nsel; k++)
        if (is_canary[idx[k]])
            order[n++] = sel[idx[k]];
    for (size_t k = 0; k < nsel; k++)
        if (!is_canary[idx[k]])
            order[n++] = sel[idx[k]];
    free(idx);
    free(is_canary);
    ro->has_canary = ncanary > 0;
    ro->wave_sizes =
        wave_sizes_canary(nsel, ncanary, p->waves, p->nwaves, &ro->nwaves);
    return order;
}

static enum err_code rollout_resolve(const struct plan *p,
                                     const struct inventory *inv,
                                     const struct rollout_input *in,
                                     struct rollout **out, struct buf *diags,
                                     struct err *e);

enum err_code rollout_new(const struct plan *p, const struct inventory *inv,
                          json_t *extra, struct rollout **out,
                          struct buf *diags, struct err *e)
{
    struct rollout_input in = {.extra = extra};
    return rollout_new_input(p, inv, &in, out, diags, e);
}

/* Which hosts may hold the singleton role (singleton.hosts, default
 * every host of the plan), and the holder assumed when there is no check
 * to ask: the last eligible host in wave order, so it restarts once and
 * stays put. False with a problem at singleton.hosts when the pattern is
 * bad or matches none of the hosts this plan targets. */
static bool rollout_singleton(struct rollout *ro, struct buf *diags,
                              struct err *e)
{
    const struct plan *p = ro->plan;
    if (p->singleton_role == NULL)
        return true;
    const struct inv_host **sel = NULL;
    size_t nsel = 0;
    if (p->singleton_hosts != NULL) {
        struct err pe = {0};
        if (inv_select(ro->inv, p->singleton_hosts, &sel, &nsel, &pe) !=
            ERR_OK) {
            rollout_plan_problem(diags, e, p, p->singleton_hosts_pos,
                                 "singleton.hosts: %s", pe.msg);
            return false;
        }
    }
    for (size_t i = 0; i < ro->nhosts; i++) {
        struct rollout_host *h = &ro->hosts[i];
        h->singleton_eligible = p->singleton_hosts == NULL;
        for (size_t k = 0; k < nsel && !h->singleton_eligible; k++)
            h->singleton_eligible = sel[k] == h->ih;
        if (h->singleton_eligible)
            ro->singleton_host = (long)i;
    }
    free(sel);
    if (ro->singleton_host < 0) {
        rollout_plan_problem(diags, e, p, p->singleton_hosts_pos,
                             "singleton.hosts '%s' matches none of the hosts "
                             "this plan targets (hosts '%s'): no host could "
                             "hold the role",
                             p->singleton_hosts, p->hosts);
        return false;
    }
    ro->hosts[ro->singleton_host].singleton = true;
    return true;
}

enum err_code rollout_new_input(const struct plan *p,
                                const struct inventory *inv,
                                const struct rollout_input *in,
                                struct rollout **out, struct buf *caller_diags,
                                struct err *e)
{
    /* problems gather unlimited here, are collapsed, then handed over */
    struct buf mine;
    buf_init(&mine, BUF_UNLIMITED);
    struct buf *diags = caller_diags ? &mine : NULL;
    enum err_code rc = rollout_resolve(p, inv, in, out, diags, e);
    if (caller_diags != NULL) {
        rollout_collapse(&mine, 0);
        if (mine.len > 0)
            buf_add(caller_diags, mine.data, mine.len);
    }
    buf_release(&mine);
    return rc;
}

static enum err_code rollout_resolve(const struct plan *p,
                                     const struct inventory *inv,
                                     const struct rollout_input *in,
                                     struct rollout **out, struct buf *diags,
                                     struct err *e)
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
    ro->extra = in->extra ? json_incref(in->extra) : json_object();
    ro->previous_version =
        in->previous_version ? xstrdup(in->previous_version) : NULL;
    ro->deploy_id = in->deploy_id ? xstrdup(in->deploy_id) : NULL;
    ro->singleton_host = -1;
    ro->ssh_config = in->ssh_config;
    const struct inv_host **order = rollout_arrange(ro, sel, nsel, diags, e);
    if (order == NULL) {
        free(sel);
        rollout_free(ro);
        return ERR_INVALID;
    }
    rollout_magic_init(ro, sel, nsel, order);
    free(sel);
    ro->hosts = xcalloc(nsel, sizeof(*ro->hosts));
    ro->nhosts = nsel;
    bool ok = true;
    size_t i = 0;
    for (size_t w = 0; w < ro->nwaves; w++)
        for (size_t k = 0; k < ro->wave_sizes[w]; k++, i++)
            ok &= rollout_host_init(ro, &ro->hosts[i], order[i], w, diags, e);
    free(order);
    ok &=
        rollout_once_list(ro, p->prechecks, p->nprechecks, true,
                          &ro->prechecks_once, &ro->nprechecks_once, diags, e);
    ok &= rollout_once_list(ro, p->before, p->nbefore, false, &ro->before,
                            &ro->nbefore, diags, e);
    ok &= rollout_webhooks(ro, diags, e);
    ok &= rollout_singleton(ro, diags, e);
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
        hostaddr_release(&h->addr);
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
    json_decref(ro->magic);
    json_decref(ro->batches);
    for (size_t i = 0; ro->webhooks != NULL && i < ro->plan->nnotify; i++)
        free(ro->webhooks[i]);
    free(ro->webhooks);
    free(ro->hosts);
    free(ro->wave_sizes);
    free(ro->previous_version);
    free(ro->deploy_id);
    json_decref(ro->extra);
    free(ro);
}

enum err_code rollout_extra_var(json_t *obj, const char *arg, struct err *e)
{
    if (arg[0] == '@') {
        json_t *vars = NULL;
        if (arg[1] == '\0')
            return err_set(e, ERR_USAGE,
                           "-e @FILE: expected a file name after '@'");
        enum err_code rc = extravars_load(arg + 1, &vars, NULL, e);
        if (rc != ERR_OK)
            return rc;
        const char *key;
        json_t *val;
        json_object_foreach(vars, key, val)
        {
            if (!(isalpha((unsigned char)key[0]) || key[0] == '_')) {
                err_set(e, ERR_USAGE, "-e %s: '%s' is not a variable name", arg,
                        key);
                json_decref(vars);
                return ERR_USAGE;
            }
        }
        json_object_update(obj, vars);
        json_decref(vars);
        return ERR_OK;
    }
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

void rollout_secret_vars(struct redact *rd, const json_t *obj)
{
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)obj, key, val)
    {
        if (json_is_string(val))
            redact_add_named(rd, key, json_string_value(val));
    }
}

static void rollout_secret_cmds(struct redact *rd, const struct rollout_cmd *c,
                                size_t n)
{
    for (size_t i = 0; c != NULL && i < n; i++) {
        if (c[i].env != NULL)
            rollout_secret_vars(rd, c[i].env);
        for (size_t k = 0; c[i].step != NULL && k < c[i].step->nsecret_env;
             k++) {
            const char *v = getenv(c[i].step->secret_env[k]);
            if (v != NULL && *v != '\0')
                redact_add(rd, v);
        }
    }
}

void rollout_secrets(const struct rollout *ro, struct redact *rd)
{
    const struct plan *p = ro->plan;
    rollout_secret_vars(rd, p->vars);
    rollout_secret_vars(rd, ro->extra);
    for (size_t i = 0; i < ro->nhosts; i++) {
        const struct rollout_host *h = &ro->hosts[i];
        if (ro->inv != NULL && h->ih != NULL)
            rollout_secret_vars(rd, inv_host_vars(ro->inv, h->ih));
        rollout_secret_cmds(rd, h->steps, p->nsteps);
        rollout_secret_cmds(rd, h->rollback, p->nrollback_steps);
        rollout_secret_cmds(rd, h->prechecks, p->nprechecks);
    }
    for (size_t i = 0; i < ro->nbefore; i++)
        rollout_secret_cmds(rd, &ro->before[i].cmd, 1);
    for (size_t i = 0; i < ro->nprechecks_once; i++)
        rollout_secret_cmds(rd, &ro->prechecks_once[i].cmd, 1);
}
