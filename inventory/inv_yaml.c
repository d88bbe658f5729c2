/* inventory/inv_yaml.c: YAML inventories and vars files. libyaml's event
 * parser, through common/yamlread.c (depth and size checked as it goes),
 * builds a small tree in which every node keeps its position; the
 * tree is then walked as Ansible's yaml inventory plugin walks its data, and
 * values become JSON as Ansible's loader would type them
 * (common/yamlscalar.c, which plans use too). Aliases share
 * nodes, so a budget of produced nodes stops "billion laughs" inputs. */
#include "inv_yaml.h"

#include "buf.h"
#include "err.h"
#include "inv_addr.h"
#include "inv_json.h"
#include "inv_model.h"
#include "log.h"
#include "yamlread.h"
#include "yamlscalar.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

enum inv_ykind { YN_SCALAR, YN_SEQ, YN_MAP };

struct inv_ynode {
    enum inv_ykind kind;      /* scalar, sequence or mapping */
    size_t line;              /* 1-based */
    size_t col;               /* 1-based */
    char *tag;                /* explicit tag, NULL if none */
    char *text;               /* scalar text (NUL-terminated) */
    size_t len;               /* scalar length */
    bool plain;               /* scalar written without quotes */
    struct inv_ynode **items; /* sequence items; mapping key, value pairs */
    size_t n;                 /* entries in items */
    size_t cap;               /* allocated entries */
};

struct inv_ydoc {
    const char *name;       /* file name for messages */
    struct inv_ynode *root; /* NULL for an empty document */
    struct inv_ynode **all; /* every node, for freeing */
    size_t nall;            /* entries in all */
    size_t capall;          /* allocated */
    bool json;              /* the text is JSON: JSON typing rules */
    size_t budget;          /* nodes still allowed to be produced */
    bool quiet;             /* no warnings (probing) */
};

/* An anchor and the node it names. */
struct inv_yanchor {
    char *name;             /* anchor name */
    struct inv_ynode *node; /* the node, owned by the document */
};

static void inv_ydoc_free(struct inv_ydoc *d)
{
    for (size_t i = 0; i < d->nall; i++) {
        free(d->all[i]->tag);
        free(d->all[i]->text);
        free(d->all[i]->items);
        free(d->all[i]);
    }
    free(d->all);
}

static struct inv_ynode *inv_ynode_new(struct inv_ydoc *d, enum inv_ykind k,
                                       const yaml_mark_t *m,
                                       const yaml_char_t *tag)
{
    struct inv_ynode *n = xcalloc(1, sizeof(*n));
    n->kind = k;
    n->line = m->line + 1;
    n->col = m->column + 1;
    n->tag = tag != NULL ? xstrdup((const char *)tag) : NULL;
    if (d->nall == d->capall) {
        d->capall = d->capall == 0 ? 64 : d->capall * 2;
        d->all = xrealloc(d->all, d->capall * sizeof(*d->all));
    }
    d->all[d->nall++] = n;
    return n;
}

static void inv_ynode_push(struct inv_ynode *parent, struct inv_ynode *child)
{
    if (parent->n == parent->cap) {
        parent->cap = parent->cap == 0 ? 8 : parent->cap * 2;
        parent->items =
            xrealloc(parent->items, parent->cap * sizeof(*parent->items));
    }
    parent->items[parent->n++] = child;
}

/* Depth and size are checked as the text is parsed (common/yamlread.h). */
static const struct yamlread_limits inv_yaml_limits = {
    .what = "an inventory",
    .depth_max = INV_DEPTH_MAX,
    .nodes_max = INV_YAML_NODES_MAX,
};

/* Parse the whole stream into d->root (one document at most). */
static enum err_code inv_yaml_load(struct inv_ydoc *d, const char *data,
                                   size_t len, struct err *e)
{
    struct yamlread y;
    if (yamlread_open(&y, d->name, data, len, &inv_yaml_limits, e) != ERR_OK)
        return ERR_NOMEM;
    struct inv_ynode **stack = NULL;
    size_t depth = 0, cap = 0;
    struct inv_yanchor *anchors = NULL;
    size_t nanchors = 0;
    size_t docs = 0;
    enum err_code c = ERR_OK;
    bool done = false;
    while (!done && c == ERR_OK) {
        yaml_event_t ev;
        if ((c = yamlread_next(&y, &ev, e)) != ERR_OK)
            break;
        struct inv_ynode *node = NULL;
        const yaml_char_t *anchor = NULL;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (++docs > 1)
                c = err_set(e, ERR_PARSE,
                            "%s:%zu:%zu: expected a single YAML document, "
                            "found another",
                            d->name, ev.start_mark.line + 1,
                            ev.start_mark.column + 1);
            break;
        case YAML_SCALAR_EVENT: /* no NUL in it: yamlread_next */
            node =
                inv_ynode_new(d, YN_SCALAR, &ev.start_mark, ev.data.scalar.tag);
            node->text = xstrndup((const char *)ev.data.scalar.value,
                                  ev.data.scalar.length);
            node->len = ev.data.scalar.length;
            node->plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
            if (node->tag != NULL && strcmp(node->tag, "!") == 0)
                node->plain = false;
            anchor = ev.data.scalar.anchor;
            break;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT: {
            bool seq = ev.type == YAML_SEQUENCE_START_EVENT;
            node = inv_ynode_new(d, seq ? YN_SEQ : YN_MAP, &ev.start_mark,
                                 seq ? ev.data.sequence_start.tag
                                     : ev.data.mapping_start.tag);
            anchor = seq ? ev.data.sequence_start.anchor
                         : ev.data.mapping_start.anchor;
            break;
        }
        case YAML_ALIAS_EVENT: {
            const char *a = (const char *)ev.data.alias.anchor;
            for (size_t i = nanchors; i > 0; i--)
                if (strcmp(anchors[i - 1].name, a) == 0) {
                    node = anchors[i - 1].node;
                    break;
                }
            if (node == NULL)
                c = err_set(e, ERR_PARSE,
                            "%s:%zu:%zu: found undefined alias: '*%s'", d->name,
                            ev.start_mark.line + 1, ev.start_mark.column + 1,
                            a);
            break;
        }
        default:
            break;
        }
        if (c == ERR_OK && node != NULL) {
            if (ev.type != YAML_ALIAS_EVENT && anchor != NULL) {
                anchors = xrealloc(anchors, (nanchors + 1) * sizeof(*anchors));
                anchors[nanchors].name = xstrdup((const char *)anchor);
                anchors[nanchors].node = node;
                nanchors++;
            }
            if (depth > 0)
                inv_ynode_push(stack[depth - 1], node);
            else
                d->root = node;
            if (ev.type == YAML_SEQUENCE_START_EVENT ||
                ev.type == YAML_MAPPING_START_EVENT) {
                if (depth == cap) {
                    cap = cap == 0 ? 16 : cap * 2;
                    stack = xrealloc(stack, cap * sizeof(*stack));
                }
                stack[depth++] = node;
            }
        }
        if (ev.type == YAML_SEQUENCE_END_EVENT ||
            ev.type == YAML_MAPPING_END_EVENT) {
            if (depth > 0)
                depth--;
        }
        yaml_event_delete(&ev);
    }
    for (size_t i = 0; i < nanchors; i++)
        free(anchors[i].name);
    free(anchors);
    free(stack);
    yamlread_close(&y);
    return c;
}

/* --- scalars: typed by common/yamlscalar.c --------------------------------
 */

/* Scalar n as JSON; an error names the file, line and column. */
static enum err_code inv_yaml_scalar(const struct inv_ydoc *d,
                                     const struct inv_ynode *n, json_t **out,
                                     struct err *e)
{
    struct yamlscalar s = {.text = n->text,
                           .len = n->len,
                           .tag = n->tag,
                           .plain = n->plain,
                           .json = d->json};
    struct err se = {0};
    enum err_code c = yamlscalar_json(&s, out, &se);
    if (c != ERR_OK)
        return err_set(e, c, "%s:%zu:%zu: %s", d->name, n->line, n->col,
                       se.msg);
    return ERR_OK;
}

/* --- mappings --------------------------------------------------------------
 */

/* One entry of a mapping after merges ("<<") and duplicate keys. */
struct inv_ypair {
    char *key;               /* the key as text (JSON's key) */
    struct inv_ynode *knode; /* key node, for positions */
    struct inv_ynode *value; /* value node */
};

struct inv_ymap {
    struct inv_ypair *v; /* entries, first-seen order */
    size_t n;            /* entries */
};

static void inv_ymap_release(struct inv_ymap *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->v[i].key);
    free(m->v);
}

static enum err_code inv_yaml_charge(struct inv_ydoc *d,
                                     const struct inv_ynode *n, struct err *e)
{
    if (d->budget == 0)
        return err_set(e, ERR_LIMIT,
                       "%s:%zu:%zu: YAML expands to too many nodes "
                       "(aliases?)",
                       d->name, n->line, n->col);
    d->budget--;
    return ERR_OK;
}

/* A key as text: what json.dumps makes of the key Python would build. */
static enum err_code inv_yaml_key(struct inv_ydoc *d, const struct inv_ynode *k,
                                  char **out, struct err *e)
{
    if (k->kind != YN_SCALAR)
        return err_set(e, ERR_PARSE,
                       "%s:%zu:%zu: a mapping key must be a plain value, not "
                       "a %s",
                       d->name, k->line, k->col,
                       k->kind == YN_MAP ? "mapping" : "list");
    json_t *v;
    enum err_code c = inv_yaml_scalar(d, k, &v, e);
    if (c != ERR_OK)
        return c;
    if (json_is_string(v))
        *out = xstrdup(json_string_value(v));
    else if (json_is_integer(v))
        *out = xasprintf("%lld", (long long)json_integer_value(v));
    else if (json_is_true(v))
        *out = xstrdup("true");
    else if (json_is_false(v))
        *out = xstrdup("false");
    else if (json_is_null(v))
        *out = xstrdup("null");
    else
        *out = xstrdup(k->text);
    json_decref(v);
    return ERR_OK;
}

static bool inv_yaml_is_merge(const struct inv_ynode *k)
{
    return k->kind == YN_SCALAR && k->plain && k->tag == NULL &&
           strcmp(k->text, "<<") == 0;
}

static void inv_ymap_put(struct inv_ydoc *d, struct inv_ymap *m, char *key,
                         struct inv_ynode *knode, struct inv_ynode *value,
                         bool warn_dup)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->v[i].key, key) == 0) {
            if (warn_dup && !d->quiet)
                log_warn("%s:%zu:%zu: duplicate key '%s': the last value "
                         "is used (as Ansible does)",
                         d->name, knode->line, knode->col, key);
            free(key);
            m->v[i].value = value;
            return;
        }
    m->v = xrealloc(m->v, (m->n + 1) * sizeof(*m->v));
    m->v[m->n].key = key;
    m->v[m->n].knode = knode;
    m->v[m->n].value = value;
    m->n++;
}

/* PyYAML's flatten_mapping then construct_mapping, as key order. */
static enum err_code inv_ymap_build(struct inv_ydoc *d,
                                    const struct inv_ynode *n,
                                    struct inv_ymap *m, int depth,
                                    struct err *e)
{
    if (depth > INV_DEPTH_MAX)
        return err_set(e, ERR_LIMIT, "%s:%zu:%zu: merges nested too deep",
                       d->name, n->line, n->col);
    enum err_code c = ERR_OK;
    /* Merged mappings first (own keys override); in a list of merges the
     * earlier ones win, so they are applied last. */
    for (size_t i = 0; i + 1 < n->n && c == ERR_OK; i += 2) {
        const struct inv_ynode *k = n->items[i], *v = n->items[i + 1];
        if (!inv_yaml_is_merge(k))
            continue;
        if (v->kind == YN_MAP) {
            c = inv_ymap_build(d, v, m, depth + 1, e);
        } else if (v->kind == YN_SEQ) {
            for (size_t j = v->n; j > 0 && c == ERR_OK; j--) {
                const struct inv_ynode *sub = v->items[j - 1];
                if (sub->kind != YN_MAP)
                    c = err_set(e, ERR_PARSE,
                                "%s:%zu:%zu: a merge ('<<') takes mappings",
                                d->name, sub->line, sub->col);
                else
                    c = inv_ymap_build(d, sub, m, depth + 1, e);
            }
        } else {
            c = err_set(e, ERR_PARSE,
                        "%s:%zu:%zu: a merge ('<<') takes a mapping or a "
                        "list of mappings",
                        d->name, v->line, v->col);
        }
    }
    for (size_t i = 0; i + 1 < n->n && c == ERR_OK; i += 2) {
        struct inv_ynode *k = n->items[i], *v = n->items[i + 1];
        if (inv_yaml_is_merge(k))
            continue;
        c = inv_yaml_charge(d, k, e);
        char *key = NULL;
        if (c == ERR_OK)
            c = inv_yaml_key(d, k, &key, e);
        if (c == ERR_OK)
            inv_ymap_put(d, m, key, k, v, true);
    }
    return c;
}

static enum err_code inv_yaml_json(struct inv_ydoc *d,
                                   const struct inv_ynode *n, json_t **out,
                                   int depth, struct err *e)
{
    *out = NULL;
    enum err_code c = inv_yaml_charge(d, n, e);
    if (c != ERR_OK)
        return c;
    if (depth > INV_DEPTH_MAX)
        return err_set(e, ERR_LIMIT, "%s:%zu:%zu: nested deeper than %d",
                       d->name, n->line, n->col, INV_DEPTH_MAX);
    if (n->kind == YN_SCALAR)
        return inv_yaml_scalar(d, n, out, e);
    if (n->kind == YN_SEQ) {
        json_t *a = json_array();
        for (size_t i = 0; i < n->n && c == ERR_OK; i++) {
            json_t *v;
            c = inv_yaml_json(d, n->items[i], &v, depth + 1, e);
            if (c == ERR_OK)
                json_array_append_new(a, v);
        }
        if (c != ERR_OK) {
            json_decref(a);
            return c;
        }
        *out = a;
        return ERR_OK;
    }
    struct inv_ymap m = {0};
    c = inv_ymap_build(d, n, &m, 0, e);
    json_t *o = json_object();
    for (size_t i = 0; i < m.n && c == ERR_OK; i++) {
        json_t *v;
        c = inv_yaml_json(d, m.v[i].value, &v, depth + 1, e);
        if (c == ERR_OK)
            json_object_set_new(o, m.v[i].key, v);
    }
    inv_ymap_release(&m);
    if (c != ERR_OK) {
        json_decref(o);
        return c;
    }
    *out = o;
    return ERR_OK;
}

/* --- documents ------------------------------------------------------------ */

static enum err_code inv_ydoc_open(struct inv_ydoc *d, const char *name,
                                   const char *data, size_t len, bool quiet,
                                   struct err *e)
{
    memset(d, 0, sizeof(*d));
    d->name = name;
    d->quiet = quiet;
    d->budget = 8 * len + 10000;
    /* Ansible's loader tries JSON first; JSON's numbers are not YAML 1.1's
     * (1e5 is a number in JSON, text in YAML). Whether Python's json
     * accepts the text, not whether jansson can hold every number in it:
     * one integer past 64 bits must not make the file YAML. */
    d->json = inv_json_valid(data, len);
    enum err_code c = inv_yaml_load(d, data, len, e);
    if (c != ERR_OK)
        inv_ydoc_free(d);
    return c;
}

static bool inv_yaml_truthy(const struct inv_ydoc *d, const struct inv_ynode *n)
{
    if (n->kind != YN_SCALAR)
        return n->n > 0;
    json_t *v;
    struct err e = {0};
    if (inv_yaml_scalar(d, n, &v, &e) != ERR_OK)
        return true;
    bool t = !(json_is_null(v) || json_is_false(v) ||
               (json_is_integer(v) && json_integer_value(v) == 0) ||
               (json_is_real(v) && json_real_value(v) == 0) ||
               (json_is_string(v) && json_string_length(v) == 0));
    json_decref(v);
    return t;
}

/* A top-level mapping that is an inventory and not a plugin config. */
static enum err_code inv_yaml_check_root(struct inv_ydoc *d, struct err *e)
{
    const struct inv_ynode *r = d->root;
    if (r == NULL ||
        (r->kind == YN_SCALAR && r->plain && yamlscalar_is_null(r->text)))
        return err_set(e, ERR_PARSE, "%s: the YAML inventory is empty",
                       d->name);
    if (r->kind != YN_MAP)
        return err_set(e, ERR_PARSE,
                       "%s:%zu:%zu: a YAML inventory must be a mapping of "
                       "groups (all: {hosts: ..., children: ...})",
                       d->name, r->line, r->col);
    if (r->n == 0)
        return err_set(e, ERR_PARSE, "%s: the YAML inventory is empty",
                       d->name);
    for (size_t i = 0; i + 1 < r->n; i += 2) {
        const struct inv_ynode *k = r->items[i];
        if (k->kind == YN_SCALAR && strcmp(k->text, "plugin") == 0 &&
            inv_yaml_truthy(d, r->items[i + 1]))
            return err_set(e, ERR_PARSE,
                           "%s:%zu:%zu: this is an inventory plugin "
                           "configuration, which drover does not run",
                           d->name, k->line, k->col);
    }
    return ERR_OK;
}

bool inv_yaml_probe(const char *data, size_t len)
{
    struct inv_ydoc d;
    struct err e = {0};
    if (inv_ydoc_open(&d, "-", data, len, true, &e) != ERR_OK)
        return false;
    bool ok = inv_yaml_check_root(&d, &e) == ERR_OK;
    inv_ydoc_free(&d);
    return ok;
}

enum err_code inv_yaml_vars(const char *name, const char *data, size_t len,
                            json_t **out, struct err *e)
{
    struct inv_ydoc d;
    *out = NULL;
    enum err_code c = inv_ydoc_open(&d, name, data, len, false, e);
    if (c != ERR_OK)
        return c;
    const struct inv_ynode *r = d.root;
    if (r == NULL ||
        (r->kind == YN_SCALAR && r->plain && yamlscalar_is_null(r->text))) {
        inv_ydoc_free(&d);
        return ERR_OK;
    }
    if (r->kind != YN_MAP) {
        c = err_set(e, ERR_PARSE,
                    "%s:%zu:%zu: a vars file must be a mapping of variable "
                    "names to values",
                    name, r->line, r->col);
    } else {
        c = inv_yaml_json(&d, r, out, 0, e);
    }
    inv_ydoc_free(&d);
    return c;
}

/* --- the inventory walk (plugins/inventory/yaml.py) ------------------------
 */

struct inv_ywalk {
    struct inventory *inv; /* filled in */
    struct inv_ydoc *d;    /* the document */
    struct err *e;         /* where errors go */
};

static enum err_code inv_yaml_group(struct inv_ywalk *w, const char *name,
                                    const struct inv_ynode *kn,
                                    const struct inv_ynode *data, int depth,
                                    struct inv_group **out);

static bool inv_ynode_null(const struct inv_ynode *n)
{
    return n->kind == YN_SCALAR && n->plain && n->tag == NULL &&
           yamlscalar_is_null(n->text);
}

static const char *inv_ykind_name(const struct inv_ynode *n)
{
    if (n->kind == YN_MAP)
        return "mapping";
    if (n->kind == YN_SEQ)
        return "list";
    return "string";
}

static enum err_code inv_yaml_hosts(struct inv_ywalk *w, struct inv_group *g,
                                    const struct inv_ymap *hosts)
{
    enum err_code c = ERR_OK;
    for (size_t i = 0; i < hosts->n && c == ERR_OK; i++) {
        const struct inv_ynode *kn = hosts->v[i].knode;
        c = inv_yaml_charge(w->d, kn, w->e);
        if (c != ERR_OK)
            break;
        const struct inv_ynode *vn = hosts->v[i].value;
        const char *pat = hosts->v[i].key;
        if (kn->plain && kn->tag == NULL) {
            json_t *kv;
            if (inv_yaml_scalar(w->d, kn, &kv, w->e) == ERR_OK &&
                !json_is_string(kv))
                c = err_set(w->e, ERR_PARSE,
                            "%s:%zu:%zu: host pattern must be a string: "
                            "'%s' (quote it)",
                            w->d->name, kn->line, kn->col, kn->text);
            json_decref(kv);
            if (c != ERR_OK)
                break;
        }
        json_t *vars = NULL;
        if (!inv_yaml_truthy(w->d, vn))
            vars = json_object();
        else if (vn->kind != YN_MAP)
            c = err_set(w->e, ERR_PARSE,
                        "%s:%zu:%zu: variables of host '%s' must be a "
                        "mapping, not a %s",
                        w->d->name, vn->line, vn->col, pat, inv_ykind_name(vn));
        else
            c = inv_yaml_json(w->d, vn, &vars, 1, w->e);
        if (c != ERR_OK)
            break;
        char *where = xasprintf("%s:%zu:%zu: ", w->d->name, kn->line, kn->col);
        char *base = NULL;
        long long port = -1;
        if (!inv_addr_parse(pat, &base, &port)) {
            base = xstrdup(pat);
            port = -1;
        }
        char **names = NULL;
        size_t nn = 0;
        char why[300];
        if (pat[0] == '\0')
            c = err_set(w->e, ERR_PARSE, "%sempty host name", where);
        else if (!inv_addr_expand(base, inv_range_limit(w->inv), &names, &nn,
                                  why, sizeof(why)))
            c = err_set(
                w->e, strstr(why, "more than") != NULL ? ERR_LIMIT : ERR_PARSE,
                "%s%s", where, why);
        for (size_t j = 0; j < nn; j++) {
            struct inv_host *h;
            if (c == ERR_OK) {
                bool fresh = inv_host_find(w->inv, names[j]) == NULL;
                c = inv_host_add(w->inv, names[j], g, &h, where, w->e);
                if (c == ERR_OK && fresh && port > 0)
                    inv_host_set_port(w->inv, h, port);
            }
            if (c == ERR_OK) {
                const char *k;
                json_t *v;
                json_object_foreach(vars, k, v)
                {
                    if (c == ERR_OK)
                        c = inv_host_set_var(w->inv, h, k, json_incref(v),
                                             where, w->e);
                }
            }
            free(names[j]);
        }
        free(names);
        free(base);
        free(where);
        json_decref(vars);
    }
    return c;
}

/* A section (hosts, vars, children) as a mapping. Ansible also reads a
 * string s as {s: null}; drover refuses it (docs/inventory.md, "Known
 * differences"): `hosts: web1, web2` would be one host of that name. */
static enum err_code inv_yaml_section(struct inv_ywalk *w, const char *gname,
                                      const char *section,
                                      const struct inv_ynode *n,
                                      struct inv_ymap *out)
{
    memset(out, 0, sizeof(*out));
    if (n->kind == YN_MAP)
        return inv_ymap_build(w->d, n, out, 0, w->e);
    if (inv_ynode_null(n))
        return ERR_OK;
    if (n->kind == YN_SCALAR)
        return err_set(w->e, ERR_PARSE,
                       "%s:%zu:%zu: '%s' of group '%s' must be a mapping, "
                       "not the string '%.64s' (for one entry write "
                       "`%s: {%.64s: }`)",
                       w->d->name, n->line, n->col, section, gname, n->text,
                       section, n->text);
    return err_set(w->e, ERR_PARSE,
                   "%s:%zu:%zu: '%s' of group '%s' must be a mapping, not a "
                   "%s",
                   w->d->name, n->line, n->col, section, gname,
                   inv_ykind_name(n));
}

static enum err_code inv_yaml_group(struct inv_ywalk *w, const char *name,
                                    const struct inv_ynode *kn,
                                    const struct inv_ynode *data, int depth,
                                    struct inv_group **out)
{
    *out = NULL;
    if (depth > INV_DEPTH_MAX)
        return err_set(w->e, ERR_LIMIT,
                       "%s:%zu:%zu: groups nested deeper than %d", w->d->name,
                       kn->line, kn->col, INV_DEPTH_MAX);
    enum err_code c = inv_yaml_charge(w->d, kn, w->e);
    if (c != ERR_OK)
        return c;
    if (kn->kind == YN_SCALAR && kn->plain && kn->tag == NULL) {
        json_t *kv;
        if (inv_yaml_scalar(w->d, kn, &kv, w->e) == ERR_OK &&
            !json_is_string(kv))
            c = err_set(w->e, ERR_PARSE,
                        "%s:%zu:%zu: group name must be a string: '%s'",
                        w->d->name, kn->line, kn->col, kn->text);
        json_decref(kv);
        if (c != ERR_OK)
            return c;
    }
    if (name[0] == '\0')
        return err_set(w->e, ERR_PARSE, "%s:%zu:%zu: empty group name",
                       w->d->name, kn->line, kn->col);
    if (data->kind != YN_MAP && !inv_ynode_null(data)) {
        if (!w->d->quiet)
            log_warn("%s:%zu:%zu: skipping '%s': not a valid group "
                     "definition (a mapping with hosts, vars, children)",
                     w->d->name, data->line, data->col, name);
        *out = (struct inv_group *)inv_group_find(w->inv, name);
        return ERR_OK;
    }
    struct inv_group *g = inv_group_add(w->inv, name);
    *out = g;
    if (inv_ynode_null(data))
        return ERR_OK;
    struct inv_ymap m = {0};
    c = inv_ymap_build(w->d, data, &m, 0, w->e);
    for (size_t i = 0; i < m.n && c == ERR_OK; i++) {
        const char *key = m.v[i].key;
        const struct inv_ynode *v = m.v[i].value;
        bool known = strcmp(key, "vars") == 0 || strcmp(key, "children") == 0 ||
                     strcmp(key, "hosts") == 0;
        if (!known) {
            if (!w->d->quiet)
                log_warn("%s:%zu:%zu: skipping unexpected key '%s' in group "
                         "'%s': only vars, children and hosts are valid",
                         w->d->name, m.v[i].knode->line, m.v[i].knode->col, key,
                         name);
            continue;
        }
        struct inv_ymap sec;
        c = inv_yaml_section(w, name, key, v, &sec);
        if (c != ERR_OK) {
            inv_ymap_release(&sec);
            break;
        }
        if (strcmp(key, "vars") == 0) {
            for (size_t j = 0; j < sec.n && c == ERR_OK; j++) {
                json_t *val;
                c = inv_yaml_json(w->d, sec.v[j].value, &val, 1, w->e);
                if (c != ERR_OK)
                    break;
                char *where =
                    xasprintf("%s:%zu:%zu: ", w->d->name, sec.v[j].knode->line,
                              sec.v[j].knode->col);
                c = inv_group_set_var(w->inv, g, sec.v[j].key, val, where,
                                      w->e);
                free(where);
            }
        } else if (strcmp(key, "children") == 0) {
            for (size_t j = 0; j < sec.n && c == ERR_OK; j++) {
                struct inv_group *child;
                const struct inv_ynode *ck = sec.v[j].knode;
                c = inv_yaml_group(w, sec.v[j].key, ck, sec.v[j].value,
                                   depth + 1, &child);
                if (c != ERR_OK)
                    break;
                if (child == NULL) {
                    c = err_set(w->e, ERR_PARSE,
                                "%s:%zu:%zu: '%s' is not a known group",
                                w->d->name, ck->line, ck->col, sec.v[j].key);
                    break;
                }
                char *where =
                    xasprintf("%s:%zu:%zu: ", w->d->name, ck->line, ck->col);
                c = inv_group_add_child(w->inv, g, child, where, w->e);
                free(where);
            }
        } else {
            c = inv_yaml_hosts(w, g, &sec);
        }
        inv_ymap_release(&sec);
    }
    inv_ymap_release(&m);
    return c;
}

enum err_code inv_yaml_parse(struct inventory *inv, const char *name,
                             const char *data, size_t len, struct err *e)
{
    struct inv_ydoc d;
    enum err_code c = inv_ydoc_open(&d, name, data, len, false, e);
    if (c != ERR_OK)
        return c;
    c = inv_yaml_check_root(&d, e);
    struct inv_ymap top = {0};
    if (c == ERR_OK)
        c = inv_ymap_build(&d, d.root, &top, 0, e);
    struct inv_ywalk w = {inv, &d, e};
    for (size_t i = 0; i < top.n && c == ERR_OK; i++) {
        struct inv_group *g;
        c = inv_yaml_group(&w, top.v[i].key, top.v[i].knode, top.v[i].value, 0,
                           &g);
    }
    inv_ymap_release(&top);
    inv_ydoc_free(&d);
    return c;
}
