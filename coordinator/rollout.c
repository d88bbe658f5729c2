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

/* Variable lookup for one host: -e, then built-ins, then plan vars, then
 * the inventory (Ansible's order: extra vars win). */
struct rollout_scope {
    const struct rollout *ro;     /* the rollout */
    const struct rollout_host *h; /* the host */
    json_t *builtins;             /* inventory_hostname, address, wave */
};

static json_t *rollout_lookup(const char *name, void *arg)
{
    struct rollout_scope *s = arg;
    json_t *v;
    if (s->ro->extra && (v = json_object_get(s->ro->extra, name)) != NULL)
        return v;
    if ((v = json_object_get(s->builtins, name)) != NULL)
        return v;
    if ((v = json_object_get(s->ro->plan->vars, name)) != NULL)
        return v;
    return inv_host_var(s->ro->inv, s->h->ih, name);
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
    if (diags != NULL)
        buf_printf(diags, "%s:%d:%d: %s, host %s: %s\n", p->file, line, col,
                   what, host, msg);
    err_set(e, ERR_INVALID, "%s:%d:%d: %s, host %s: %s", p->file, line, col,
            what, host, msg);
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
                     "ansible_port '%.64s' is not a port number", port);
            rollout_problem(diags, e, p, 1, 1, "inventory", h->name, msg);
            ok = false;
        } else {
            h->port = (int)v;
        }
        free(port);
    }

    struct rollout_scope s = {ro, h, json_object()};
    json_object_set_new(s.builtins, "inventory_hostname", json_string(h->name));
    json_object_set_new(s.builtins, "address", json_string(h->address));
    json_object_set_new(s.builtins, "wave", json_integer((json_int_t)wave + 1));

    h->cmds = xcalloc(p->nsteps ? p->nsteps : 1, sizeof(char *));
    for (size_t i = 0; i < p->nsteps; i++) {
        struct err te = {0};
        if (template_render(p->steps[i].run, rollout_lookup, &s, &h->cmds[i],
                            &te) != ERR_OK) {
            char what[160];
            snprintf(what, sizeof(what), "step '%.100s'", p->steps[i].name);
            rollout_problem(diags, e, p, p->steps[i].pos.line,
                            p->steps[i].pos.col, what, h->name, te.msg);
            ok = false;
        }
    }
    h->urls = xcalloc(p->nchecks ? p->nchecks : 1, sizeof(char *));
    for (size_t i = 0; i < p->nchecks; i++) {
        struct err te = {0};
        if (template_render(p->checks[i].http, rollout_lookup, &s, &h->urls[i],
                            &te) != ERR_OK) {
            rollout_problem(diags, e, p, p->checks[i].pos.line,
                            p->checks[i].pos.col, "health check", h->name,
                            te.msg);
            ok = false;
        }
    }
    json_decref(s.builtins);
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
    }
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
