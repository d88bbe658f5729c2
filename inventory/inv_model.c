/* inventory/inv_model.c: the inventory model (hosts, groups, variables)
 * and what Ansible does once the sources are read: the implicit "all" and
 * "ungrouped" groups, group depth, variable precedence. The readers
 * (inv_ini.c, inv_yaml.c) fill it through the inv_*_add / inv_*_set_var
 * functions, the loader (inventory.c) adds group_vars/ and host_vars/;
 * inv_pattern.c selects from it. The functions keep the inventory's inv_
 * prefix: callers name hosts and groups, not the file. */
#include "inv_model.h"

#include "err.h"
#include "strmap.h"
#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A growable array of pointers. */
struct inv_ptrs {
    void **v;   /* the elements */
    size_t n;   /* elements held */
    size_t cap; /* elements allocated */
};

struct inv_host {
    char *name;             /* inventory_hostname */
    size_t index;           /* position in inventory order */
    json_t *vars;           /* variables from the inventory sources */
    json_t *fvars;          /* host_vars/ per vars directory, or NULL */
    json_t *merged;         /* cache of inv_host_vars, NULL when stale */
    struct inv_ptrs groups; /* groups the host was put in directly */
    bool auto_ungrouped;    /* put in "ungrouped" by inv_reconcile */
};

struct inv_group {
    char *name;               /* group name */
    size_t index;             /* position in declaration order */
    json_t *vars;             /* variables from the inventory sources */
    json_t *fvars;            /* group_vars/ per vars directory, or NULL */
    struct inv_ptrs hosts;    /* direct hosts, declaration order */
    struct inv_ptrs children; /* direct child groups */
    struct inv_ptrs parents;  /* direct parent groups */
    long long priority;       /* ansible_group_priority, default 1 */
    int depth;                /* longest path from "all" */
    bool auto_all;            /* made a child of "all" by inv_reconcile */
    bool auto_ungrouped;      /* made a child of "ungrouped" likewise */
    unsigned mark;            /* scratch for graph walks */
};

struct inventory {
    struct inv_ptrs hosts;       /* struct inv_host *, inventory order */
    struct inv_ptrs groups;      /* struct inv_group *, declaration order */
    struct strmap host_map;      /* name -> struct inv_host * */
    struct strmap group_map;     /* name -> struct inv_group * */
    struct inv_group *all;       /* the implicit "all" */
    struct inv_group *ungrouped; /* the implicit "ungrouped" */
    size_t host_limit;           /* most hosts accepted */
    char **vdirs;                /* distinct directories holding *_vars/ */
    size_t nvdirs;               /* entries in vdirs */
    size_t *vorder;              /* vdirs indexes in source order */
    size_t nvorder;              /* entries in vorder */
    unsigned mark;               /* generation for inv_group.mark */
};

static void inv_ptrs_push(struct inv_ptrs *p, void *x)
{
    if (p->n == p->cap) {
        p->cap = p->cap == 0 ? 4 : p->cap * 2;
        p->v = xrealloc(p->v, p->cap * sizeof(*p->v));
    }
    p->v[p->n++] = x;
}

static bool inv_ptrs_has(const struct inv_ptrs *p, const void *x)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->v[i] == x)
            return true;
    return false;
}

static void inv_ptrs_remove(struct inv_ptrs *p, const void *x)
{
    size_t j = 0;
    for (size_t i = 0; i < p->n; i++)
        if (p->v[i] != x)
            p->v[j++] = p->v[i];
    p->n = j;
}

struct inventory *inv_new(void)
{
    struct inventory *inv = xcalloc(1, sizeof(*inv));
    strmap_init(&inv->host_map);
    strmap_init(&inv->group_map);
    inv->host_limit = INV_HOST_MAX;
    inv->all = inv_group_add(inv, "all");
    inv->ungrouped = inv_group_add(inv, "ungrouped");
    inv_group_add_child(inv, inv->all, inv->ungrouped, "", NULL);
    return inv;
}

void inv_free(struct inventory *inv)
{
    if (inv == NULL)
        return;
    for (size_t i = 0; i < inv->hosts.n; i++) {
        struct inv_host *h = inv->hosts.v[i];
        free(h->name);
        json_decref(h->vars);
        json_decref(h->fvars);
        json_decref(h->merged);
        free(h->groups.v);
        free(h);
    }
    for (size_t i = 0; i < inv->groups.n; i++) {
        struct inv_group *g = inv->groups.v[i];
        free(g->name);
        json_decref(g->vars);
        json_decref(g->fvars);
        free(g->hosts.v);
        free(g->children.v);
        free(g->parents.v);
        free(g);
    }
    free(inv->hosts.v);
    free(inv->groups.v);
    strmap_release(&inv->host_map);
    strmap_release(&inv->group_map);
    for (size_t i = 0; i < inv->nvdirs; i++)
        free(inv->vdirs[i]);
    free(inv->vdirs);
    free(inv->vorder);
    free(inv);
}

void inv_set_host_limit(struct inventory *inv, size_t max)
{
    inv->host_limit = max;
}

size_t inv_range_limit(const struct inventory *inv)
{
    /* The names of one expression are distinct: more of them than the
     * host limit can never fit, so do not build them. */
    return inv->host_limit < INV_RANGE_MAX ? inv->host_limit : INV_RANGE_MAX;
}

/* --- building ------------------------------------------------------------ */

struct inv_group *inv_group_add(struct inventory *inv, const char *name)
{
    struct inv_group *g = strmap_get(&inv->group_map, name);
    if (g != NULL)
        return g;
    g = xcalloc(1, sizeof(*g));
    g->name = xstrdup(name);
    g->index = inv->groups.n;
    g->vars = json_object();
    g->priority = 1;
    inv_ptrs_push(&inv->groups, g);
    strmap_put(&inv->group_map, g->name, g);
    return g;
}

enum err_code inv_host_add(struct inventory *inv, const char *name,
                           struct inv_group *g, struct inv_host **out,
                           const char *where, struct err *e)
{
    struct inv_host *h = strmap_get(&inv->host_map, name);
    if (h == NULL) {
        if (inv->hosts.n >= inv->host_limit)
            return err_set(e, ERR_LIMIT,
                           "%smore than %zu hosts: split the inventory or "
                           "raise the limit",
                           where, inv->host_limit);
        h = xcalloc(1, sizeof(*h));
        h->name = xstrdup(name);
        h->index = inv->hosts.n;
        h->vars = json_object();
        inv_ptrs_push(&inv->hosts, h);
        strmap_put(&inv->host_map, h->name, h);
    }
    if (g != NULL && !inv_ptrs_has(&h->groups, g)) {
        inv_ptrs_push(&g->hosts, h);
        inv_ptrs_push(&h->groups, g);
    }
    if (out != NULL)
        *out = h;
    return ERR_OK;
}

/* Is target g itself or below g? Iterative walk over children. */
static bool inv_group_reaches(struct inventory *inv, struct inv_group *g,
                              const struct inv_group *target)
{
    struct inv_ptrs stack = {0};
    bool found = false;
    inv->mark++;
    inv_ptrs_push(&stack, g);
    g->mark = inv->mark;
    while (stack.n > 0 && !found) {
        struct inv_group *cur = stack.v[--stack.n];
        if (cur == target) {
            found = true;
            break;
        }
        for (size_t i = 0; i < cur->children.n; i++) {
            struct inv_group *c = cur->children.v[i];
            if (c->mark != inv->mark) {
                c->mark = inv->mark;
                inv_ptrs_push(&stack, c);
            }
        }
    }
    free(stack.v);
    return found;
}

enum err_code inv_group_add_child(struct inventory *inv,
                                  struct inv_group *parent,
                                  struct inv_group *child, const char *where,
                                  struct err *e)
{
    if (inv_ptrs_has(&parent->children, child))
        return ERR_OK;
    if (inv_group_reaches(inv, child, parent))
        return err_set(e, ERR_INVALID,
                       "%sadding group '%s' as a child of '%s' makes a loop: "
                       "a group cannot contain itself",
                       where, child->name, parent->name);
    inv_ptrs_push(&parent->children, child);
    if (!inv_ptrs_has(&child->parents, parent))
        inv_ptrs_push(&child->parents, parent);
    return ERR_OK;
}

enum err_code inv_host_set_var(struct inventory *inv, struct inv_host *h,
                               const char *key, json_t *val, const char *where,
                               struct err *e)
{
    struct inv_group *g = strmap_get(&inv->group_map, h->name);
    if (g != NULL)
        return inv_group_set_var(inv, g, key, val, where, e);
    json_object_set_new(h->vars, key, val);
    return ERR_OK;
}

void inv_host_set_port(struct inventory *inv, struct inv_host *h,
                       long long port)
{
    (void)inv;
    json_object_set_new(h->vars, "ansible_port", json_integer(port));
}

enum err_code inv_group_set_var(struct inventory *inv, struct inv_group *g,
                                const char *key, json_t *val, const char *where,
                                struct err *e)
{
    (void)inv;
    if (strcmp(key, "ansible_group_priority") != 0) {
        json_object_set_new(g->vars, key, val);
        return ERR_OK;
    }
    /* Ansible keeps the priority out of the variables: int(value). */
    long long prio;
    if (json_is_integer(val)) {
        prio = json_integer_value(val);
    } else if (json_is_boolean(val)) {
        prio = json_is_true(val);
    } else if (json_is_string(val)) {
        const char *s = json_string_value(val);
        char *end;
        errno = 0;
        prio = strtoll(s, &end, 10);
        while (*end == ' ' || *end == '\t')
            end++;
        if (end == s || *end != '\0' || errno != 0) {
            enum err_code c =
                err_set(e, ERR_INVALID,
                        "%sansible_group_priority of group '%s' must be an "
                        "integer, got '%s'",
                        where, g->name, s);
            json_decref(val);
            return c;
        }
    } else {
        json_decref(val);
        return err_set(e, ERR_INVALID,
                       "%sansible_group_priority of group '%s' must be an "
                       "integer",
                       where, g->name);
    }
    json_decref(val);
    g->priority = prio;
    return ERR_OK;
}

/* --- after the sources are read -------------------------------------------
 * Ansible reconciles once, after every source is read. drover may be given
 * sources one inv_load at a time, so the edges reconciling added are taken
 * back before it runs again, and the result is the same. */

void inv_unreconcile(struct inventory *inv)
{
    for (size_t i = 0; i < inv->groups.n; i++) {
        struct inv_group *g = inv->groups.v[i];
        if (g->auto_all) {
            inv_ptrs_remove(&inv->all->children, g);
            inv_ptrs_remove(&g->parents, inv->all);
            g->auto_all = false;
        }
        if (g->auto_ungrouped) {
            inv_ptrs_remove(&inv->ungrouped->children, g);
            inv_ptrs_remove(&g->parents, inv->ungrouped);
            g->auto_ungrouped = false;
        }
    }
    bool any = false;
    for (size_t i = 0; i < inv->hosts.n; i++) {
        struct inv_host *h = inv->hosts.v[i];
        if (h->auto_ungrouped) {
            inv_ptrs_remove(&h->groups, inv->ungrouped);
            h->auto_ungrouped = false;
            any = true;
        }
    }
    if (any) {
        size_t j = 0;
        struct inv_ptrs *uh = &inv->ungrouped->hosts;
        for (size_t i = 0; i < uh->n; i++) {
            struct inv_host *h = uh->v[i];
            if (inv_ptrs_has(&h->groups, inv->ungrouped))
                uh->v[j++] = h;
        }
        uh->n = j;
    }
}

/* depth = longest path from "all" (Ansible raises a child's depth to its
 * parent's + 1 on every edge), computed in topological order. */
static void inv_compute_depth(struct inventory *inv)
{
    size_t ng = inv->groups.n;
    size_t *indeg = xcalloc(ng, sizeof(*indeg));
    struct inv_group **queue = xcalloc(ng, sizeof(*queue));
    size_t head = 0, tail = 0;
    for (size_t i = 0; i < ng; i++) {
        struct inv_group *g = inv->groups.v[i];
        g->depth = 0;
        indeg[i] = g->parents.n;
        if (indeg[i] == 0)
            queue[tail++] = g;
    }
    while (head < tail) {
        struct inv_group *g = queue[head++];
        for (size_t i = 0; i < g->children.n; i++) {
            struct inv_group *c = g->children.v[i];
            if (c->depth < g->depth + 1)
                c->depth = g->depth + 1;
            if (--indeg[c->index] == 0)
                queue[tail++] = c;
        }
    }
    free(indeg);
    free(queue);
}

void inv_reconcile(struct inventory *inv)
{
    for (size_t i = 0; i < inv->groups.n; i++) {
        struct inv_group *g = inv->groups.v[i];
        if (g != inv->all && g->parents.n == 0) {
            inv_ptrs_push(&inv->all->children, g);
            inv_ptrs_push(&g->parents, inv->all);
            g->auto_all = true;
        }
    }
    bool leave = false;
    for (size_t i = 0; i < inv->hosts.n; i++) {
        struct inv_host *h = inv->hosts.v[i];
        bool in_ungrouped = false, other = false;
        for (size_t j = 0; j < h->groups.n; j++) {
            if (h->groups.v[j] == inv->ungrouped)
                in_ungrouped = true;
            else if (h->groups.v[j] != inv->all)
                other = true;
        }
        if (in_ungrouped && other) {
            /* The INI reader puts hosts above the first section in
             * "ungrouped"; a host with a real group leaves it (from
             * ungrouped's list in one pass below). */
            inv_ptrs_remove(&h->groups, inv->ungrouped);
            leave = true;
        } else if (!in_ungrouped && !other) {
            /* Ansible's add_child("ungrouped", name) prefers a group of
             * that name to the host. */
            struct inv_group *same = strmap_get(&inv->group_map, h->name);
            if (same != NULL && same != inv->all && same != inv->ungrouped &&
                !inv_ptrs_has(&inv->ungrouped->children, same) &&
                !inv_group_reaches(inv, same, inv->ungrouped)) {
                inv_ptrs_push(&inv->ungrouped->children, same);
                inv_ptrs_push(&same->parents, inv->ungrouped);
                same->auto_ungrouped = true;
            } else if (same == NULL) {
                inv_ptrs_push(&h->groups, inv->ungrouped);
                inv_ptrs_push(&inv->ungrouped->hosts, h);
                h->auto_ungrouped = true;
            }
        }
        json_decref(h->merged);
        h->merged = NULL;
    }
    if (leave) {
        struct inv_ptrs *uh = &inv->ungrouped->hosts;
        size_t j = 0;
        for (size_t i = 0; i < uh->n; i++) {
            struct inv_host *h = uh->v[i];
            if (inv_ptrs_has(&h->groups, inv->ungrouped))
                uh->v[j++] = h;
        }
        uh->n = j;
    }
    inv_compute_depth(inv);
    for (size_t i = 0; i < inv->groups.n; i++) {
        struct inv_group *g = inv->groups.v[i];
        if (strmap_get(&inv->host_map, g->name) != NULL)
            log_warn("found both a group and a host named '%s'", g->name);
    }
}

/* --- queries ---------------------------------------------------------------
 */

size_t inv_host_count(const struct inventory *inv)
{
    return inv->hosts.n;
}

const struct inv_host *inv_host_at(const struct inventory *inv, size_t i)
{
    return i < inv->hosts.n ? inv->hosts.v[i] : NULL;
}

const struct inv_host *inv_host_find(const struct inventory *inv,
                                     const char *name)
{
    return strmap_get(&inv->host_map, name);
}

size_t inv_host_index(const struct inventory *inv, const struct inv_host *h)
{
    (void)inv;
    return h->index;
}

const char *inv_host_name(const struct inv_host *h)
{
    return h->name;
}

size_t inv_group_count(const struct inventory *inv)
{
    return inv->groups.n;
}

const struct inv_group *inv_group_at(const struct inventory *inv, size_t i)
{
    return i < inv->groups.n ? inv->groups.v[i] : NULL;
}

const struct inv_group *inv_group_find(const struct inventory *inv,
                                       const char *name)
{
    return strmap_get(&inv->group_map, name);
}

const char *inv_group_name(const struct inv_group *g)
{
    return g->name;
}

size_t inv_group_child_count(const struct inv_group *g)
{
    return g->children.n;
}

const struct inv_group *inv_group_child_at(const struct inv_group *g, size_t i)
{
    return i < g->children.n ? g->children.v[i] : NULL;
}

size_t inv_group_host_count(const struct inv_group *g)
{
    return g->hosts.n;
}

const struct inv_host *inv_group_host_at(const struct inv_group *g, size_t i)
{
    return i < g->hosts.n ? g->hosts.v[i] : NULL;
}

void inv_group_hosts(const struct inventory *cinv, const struct inv_group *g,
                     const struct inv_host ***out, size_t *n)
{
    /* The marks are scratch space, not part of the inventory's value. */
    struct inventory *inv = (struct inventory *)cinv;
    /* Ansible's Group.get_descendants(preserve_ordering=True): the group,
     * its children, then each further level. Ansible walks a level as a
     * Python set, whose order varies from run to run; drover walks it in
     * declaration order. */
    struct inv_ptrs ordered = {0}, level = {0}, next = {0};
    unsigned seen = ++inv->mark;
    inv_ptrs_push(&ordered, (void *)g);
    for (size_t i = 0; i < g->children.n; i++) {
        struct inv_group *c = g->children.v[i];
        inv_ptrs_push(&ordered, c);
        if (c->mark != seen) {
            c->mark = seen;
            inv_ptrs_push(&level, c);
        }
    }
    while (level.n > 0) {
        unsigned queued = ++inv->mark;
        next.n = 0;
        for (size_t i = 0; i < level.n; i++) {
            struct inv_group *p = level.v[i];
            for (size_t j = 0; j < p->children.n; j++) {
                struct inv_group *c = p->children.v[j];
                if (c->mark == seen)
                    continue;
                inv_ptrs_push(&ordered, c);
                if (c->mark != queued) {
                    c->mark = queued;
                    inv_ptrs_push(&next, c);
                }
            }
        }
        for (size_t i = 0; i < next.n; i++)
            ((struct inv_group *)next.v[i])->mark = seen;
        struct inv_ptrs t = level;
        level = next;
        next = t;
    }
    free(level.v);
    free(next.v);
    /* Hosts of each group in that order, first time seen. A host's
     * index is its identity, so a bitmap dedups. */
    size_t nh = inv->hosts.n;
    unsigned char *hseen = xcalloc(nh / 8 + 1, 1);
    struct inv_ptrs hosts = {0};
    for (size_t i = 0; i < ordered.n; i++) {
        const struct inv_group *grp = ordered.v[i];
        for (size_t j = 0; j < grp->hosts.n; j++) {
            struct inv_host *h = grp->hosts.v[j];
            if (hseen[h->index / 8] & (1u << (h->index % 8)))
                continue;
            hseen[h->index / 8] |= (unsigned char)(1u << (h->index % 8));
            inv_ptrs_push(&hosts, h);
        }
    }
    free(hseen);
    free(ordered.v);
    *out = (const struct inv_host **)hosts.v;
    *n = hosts.n;
}

/* The groups of h with their ancestors, except "all", in no order. */
static void inv_host_all_groups(struct inventory *inv, const struct inv_host *h,
                                struct inv_ptrs *out)
{
    unsigned seen = ++inv->mark;
    size_t start = out->n;
    inv->all->mark = seen;
    for (size_t i = 0; i < h->groups.n; i++) {
        struct inv_group *g = h->groups.v[i];
        if (g->mark != seen) {
            g->mark = seen;
            inv_ptrs_push(out, g);
        }
    }
    for (size_t k = start; k < out->n; k++) {
        struct inv_group *g = out->v[k];
        for (size_t i = 0; i < g->parents.n; i++) {
            struct inv_group *p = g->parents.v[i];
            if (p->mark != seen) {
                p->mark = seen;
                inv_ptrs_push(out, p);
            }
        }
    }
}

static int inv_cmp_group_name(const void *a, const void *b)
{
    const struct inv_group *x = *(const struct inv_group *const *)a;
    const struct inv_group *y = *(const struct inv_group *const *)b;
    return strcmp(x->name, y->name);
}

/* Ansible's sort_groups: depth, then ansible_group_priority, then name. */
static int inv_cmp_group_prec(const void *a, const void *b)
{
    const struct inv_group *x = *(const struct inv_group *const *)a;
    const struct inv_group *y = *(const struct inv_group *const *)b;
    if (x->depth != y->depth)
        return x->depth < y->depth ? -1 : 1;
    if (x->priority != y->priority)
        return x->priority < y->priority ? -1 : 1;
    return strcmp(x->name, y->name);
}

void inv_host_group_names(const struct inventory *cinv,
                          const struct inv_host *h, const char ***out,
                          size_t *n)
{
    struct inventory *inv = (struct inventory *)cinv;
    struct inv_ptrs groups = {0};
    inv_host_all_groups(inv, h, &groups);
    if (groups.n > 1)
        qsort(groups.v, groups.n, sizeof(*groups.v), inv_cmp_group_name);
    for (size_t i = 0; i < groups.n; i++)
        groups.v[i] = ((struct inv_group *)groups.v[i])->name;
    *out = (const char **)groups.v;
    *n = groups.n;
}

static void inv_update_from(json_t *acc, const json_t *fvars, size_t vi)
{
    if (fvars == NULL)
        return;
    json_t *o = json_array_get(fvars, vi);
    if (json_is_object(o))
        json_object_update(acc, o);
}

json_t *inv_host_vars(const struct inventory *cinv, const struct inv_host *ch)
{
    /* The merged variables are a cache of a pure function of the
     * inventory; filling it does not change the inventory's value. */
    struct inventory *inv = (struct inventory *)cinv;
    struct inv_host *h = (struct inv_host *)ch;
    if (h->merged != NULL)
        return h->merged;
    struct inv_ptrs groups = {0};
    inv_host_all_groups(inv, h, &groups);
    if (groups.n > 1)
        qsort(groups.v, groups.n, sizeof(*groups.v), inv_cmp_group_prec);
    /* VariableManager.get_vars: all_inventory, groups_inventory,
     * all_plugins_inventory, groups_plugins_inventory, then the host's
     * own, then host_vars/. Vars files go source by source. */
    json_t *m = json_object();
    json_object_update(m, inv->all->vars);
    for (size_t i = 0; i < groups.n; i++)
        json_object_update(m, ((struct inv_group *)groups.v[i])->vars);
    for (size_t k = 0; k < inv->nvorder; k++)
        inv_update_from(m, inv->all->fvars, inv->vorder[k]);
    for (size_t k = 0; k < inv->nvorder; k++)
        for (size_t i = 0; i < groups.n; i++)
            inv_update_from(m, ((struct inv_group *)groups.v[i])->fvars,
                            inv->vorder[k]);
    json_object_update(m, h->vars);
    for (size_t k = 0; k < inv->nvorder; k++)
        inv_update_from(m, h->fvars, inv->vorder[k]);
    free(groups.v);
    h->merged = m;
    return m;
}

json_t *inv_group_export_vars(const struct inventory *inv,
                              const struct inv_group *g)
{
    json_t *m = json_deep_copy(g->vars);
    for (size_t k = 0; k < inv->nvorder; k++)
        inv_update_from(m, g->fvars, inv->vorder[k]);
    if (g->priority != 1)
        json_object_set_new(m, "ansible_group_priority",
                            json_integer(g->priority));
    return m;
}

json_t *inv_host_export_vars(const struct inventory *inv,
                             const struct inv_host *h)
{
    json_t *m = json_deep_copy(h->vars);
    for (size_t k = 0; k < inv->nvorder; k++)
        inv_update_from(m, h->fvars, inv->vorder[k]);
    return m;
}

json_t *inv_host_var(const struct inventory *inv, const struct inv_host *h,
                     const char *name)
{
    return json_object_get(inv_host_vars(inv, h), name);
}

/* --- group_vars/ and host_vars/, for the loader ----------------------------
 */

size_t inv_vars_dir_add(struct inventory *inv, const char *dir)
{
    for (size_t i = 0; i < inv->nvdirs; i++)
        if (strcmp(inv->vdirs[i], dir) == 0)
            return i;
    inv->vdirs = xrealloc(inv->vdirs, (inv->nvdirs + 1) * sizeof(char *));
    inv->vdirs[inv->nvdirs] = xstrdup(dir);
    return inv->nvdirs++;
}

void inv_vars_dir_push(struct inventory *inv, const char *dir)
{
    size_t i = inv_vars_dir_add(inv, dir);
    inv->vorder = xrealloc(inv->vorder, (inv->nvorder + 1) * sizeof(size_t));
    inv->vorder[inv->nvorder++] = i;
}

size_t inv_vars_dir_count(const struct inventory *inv)
{
    return inv->nvdirs;
}

const char *inv_vars_dir_at(const struct inventory *inv, size_t vi)
{
    return inv->vdirs[vi];
}

void inv_file_vars_clear(struct inventory *inv)
{
    for (size_t i = 0; i < inv->hosts.n; i++) {
        struct inv_host *h = inv->hosts.v[i];
        json_decref(h->fvars);
        h->fvars = NULL;
        json_decref(h->merged);
        h->merged = NULL;
    }
    for (size_t i = 0; i < inv->groups.n; i++) {
        struct inv_group *g = inv->groups.v[i];
        json_decref(g->fvars);
        g->fvars = NULL;
    }
}

/* Set slot vi of an entity's per-directory vars array. */
static void inv_fvars_set(json_t **fvars, size_t nvdirs, size_t vi, json_t *obj)
{
    if (*fvars == NULL) {
        *fvars = json_array();
        for (size_t i = 0; i < nvdirs; i++)
            json_array_append_new(*fvars, json_null());
    }
    while (json_array_size(*fvars) < nvdirs)
        json_array_append_new(*fvars, json_null());
    json_array_set_new(*fvars, vi, obj);
}

void inv_host_set_file_vars(struct inventory *inv, size_t i, size_t vi,
                            json_t *obj)
{
    struct inv_host *h = inv->hosts.v[i];
    inv_fvars_set(&h->fvars, inv->nvdirs, vi, obj);
    json_decref(h->merged);
    h->merged = NULL;
}

void inv_group_set_file_vars(struct inventory *inv, size_t i, size_t vi,
                             json_t *obj)
{
    inv_fvars_set(&((struct inv_group *)inv->groups.v[i])->fvars, inv->nvdirs,
                  vi, obj);
}
