/* coordinator/plan.c: read a plan with libyaml's document API, once
 * common/yamlread.c has checked its depth and size while parsing, and
 * validate it against the schema. Every node keeps its mark, so each
 * problem is reported as file:line:col; problems are collected, not
 * stopped at.
 *
 * Over 1,000 lines: it is the schema of every plan section, read in one
 * pass that shares one problem list and the typed readers (plan_want_*).
 * What is not schema lives elsewhere: scalar typing in
 * common/yamlscalar.c, windows in window.c, `when:` in when.c, `-e @FILE`
 * in extravars.c; the check keys are to move to the check kinds. */
#include "plan.h"

#include "check.h"
#include "notify.h"

#include "inv_json.h"

#include "buf.h"
#include "duration.h"
#include "err.h"
#include "readfile.h"
#include "statedir.h"
#include "suggest.h"
#include "template.h"
#include "when.h"
#include "window.h"
#include "yamlscalar.h"
#include "yamlread.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

/* Values in vars after expanding aliases: a few nested aliases would
 * otherwise expand to billions of values (the "billion laughs"). */
enum {
    PLAN_FILE_MAX = 4 * 1024 * 1024,
    PLAN_VALUES_MAX = 100000,
    PLAN_PROBLEMS_MAX = 100, /* problems listed; the rest are counted */
    PLAN_YAML_DEPTH_MAX = 64 /* nesting checked while parsing (vars and
                                expect.json are held to 32 below that) */
};

/* Checked as the text is parsed, before libyaml builds the document: a
 * plan nested 100,000 levels deep is refused at once (docs/plan.md). */
static const struct yamlread_limits plan_yaml_limits = {
    .what = "a plan",
    .depth_max = PLAN_YAML_DEPTH_MAX,
    .nodes_max = PLAN_VALUES_MAX,
};
static const struct yamlread_limits plan_vars_yaml_limits = {
    .what = "a variables file",
    .depth_max = PLAN_YAML_DEPTH_MAX,
    .nodes_max = PLAN_VALUES_MAX,
};

/* One problem found, kept until the end so they print in file order. */
struct plan_diag {
    int line; /* 1-based */
    int col;  /* 1-based */
    char *msg;
};

/* Reading state: the document, where problems go, how many. */
struct plan_reader {
    const char *file;        /* name for messages */
    yaml_document_t *doc;    /* the parsed document */
    struct plan_diag *probs; /* problems kept, in the order found */
    unsigned nproblems;      /* problems found (more than kept) */
    unsigned nvalues;        /* vars values converted so far */
    bool too_deep;           /* "nested too deeply" was reported */
    const char *data;        /* the text, to see which tags were written */
    size_t len;              /* bytes in data */
    bool json;               /* the text is JSON: JSON's typing */
};

static void plan_problem(struct plan_reader *r, const yaml_node_t *n,
                         const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void plan_problem(struct plan_reader *r, const yaml_node_t *n,
                         const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (r->nproblems++ >= PLAN_PROBLEMS_MAX)
        return;
    if (r->probs == NULL)
        r->probs = xcalloc(PLAN_PROBLEMS_MAX, sizeof(*r->probs));
    struct plan_diag *d = &r->probs[r->nproblems - 1];
    d->line = n ? (int)n->start_mark.line + 1 : 1;
    d->col = n ? (int)n->start_mark.column + 1 : 1;
    d->msg = xstrdup(msg);
}

static int plan_diag_cmp(const void *a, const void *b)
{
    const struct plan_diag *x = a, *y = b;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    if (x->col != y->col)
        return x->col < y->col ? -1 : 1;
    /* same place: keep the order found (pointers into one array) */
    return x < y ? -1 : x > y;
}

/* Report the problems in file order: all to diags, the first to e. */
static void plan_flush_problems(struct plan_reader *r, struct buf *diags,
                                struct err *e)
{
    if (r->nproblems == 0)
        return;
    unsigned kept =
        r->nproblems < PLAN_PROBLEMS_MAX ? r->nproblems : PLAN_PROBLEMS_MAX;
    qsort(r->probs, kept, sizeof(*r->probs), plan_diag_cmp);
    for (unsigned i = 0; i < kept; i++) {
        struct plan_diag *d = &r->probs[i];
        if (diags != NULL)
            buf_printf(diags, "%s:%d:%d: %s\n", r->file, d->line, d->col,
                       d->msg);
        err_set(e, ERR_PARSE, "%s:%d:%d: %s", r->file, d->line, d->col, d->msg);
        free(d->msg);
    }
    if (diags != NULL && r->nproblems > kept)
        buf_printf(diags, "%s: %u more problems not shown\n", r->file,
                   r->nproblems - kept);
    free(r->probs);
    r->probs = NULL;
}

static yaml_node_t *plan_node(struct plan_reader *r, int id)
{
    return yaml_document_get_node(r->doc, id);
}

static const char *plan_type_name(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_SCALAR_NODE:
        return "a scalar";
    case YAML_SEQUENCE_NODE:
        return "a list";
    case YAML_MAPPING_NODE:
        return "a mapping";
    default:
        return "nothing";
    }
}

static const char *plan_scalar(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

/* A scalar that YAML would read as null. */
static bool plan_is_null(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE ||
        n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    return yamlscalar_is_null(plan_scalar(n));
}

/* The tag written on scalar n, NULL when none was. libyaml's document
 * gives every untagged scalar the str tag; a written one starts the node
 * (after an anchor), so the text tells a written !!str or ! from none. */
static const char *plan_written_tag(const struct plan_reader *r,
                                    const yaml_node_t *n)
{
    const char *tag = (const char *)n->tag;
    if (tag != NULL && strcmp(tag, YAML_DEFAULT_SCALAR_TAG) != 0)
        return tag;
    size_t i = n->start_mark.index;
    if (r->data == NULL || i >= r->len)
        return NULL;
    if (r->data[i] == '&') { /* an anchor, then perhaps the tag */
        while (i < r->len && !isspace((unsigned char)r->data[i]))
            i++;
        while (i < r->len && (r->data[i] == ' ' || r->data[i] == '\t'))
            i++;
    }
    return i < r->len && r->data[i] == '!' ? YAML_DEFAULT_SCALAR_TAG : NULL;
}

/* Scalar n typed as every YAML file of drover is (common/yamlscalar.c);
 * a value its typing refuses is a problem, and null. */
static json_t *plan_scalar_json(struct plan_reader *r, const yaml_node_t *n)
{
    struct yamlscalar ys = {
        .text = plan_scalar(n),
        .len = n->data.scalar.length,
        .tag = plan_written_tag(r, n),
        .plain = n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE,
        .json = r->json,
    };
    json_t *v = NULL;
    struct err e = {0};
    if (yamlscalar_json(&ys, &v, &e) != ERR_OK) {
        plan_problem(r, n, "%s", e.msg);
        return json_null();
    }
    return v;
}

/* A string scalar as written (templates and conditions start here). */
static char *plan_want_text(struct plan_reader *r, const yaml_node_t *n,
                            const char *what)
{
    if (n->type != YAML_SCALAR_NODE || plan_is_null(n)) {
        plan_problem(r, n, "%s must be a string, not %s", what,
                     plan_is_null(n) ? "null" : plan_type_name(n));
        return NULL;
    }
    return xstrdup(plan_scalar(n));
}

/* Whether s holds a `{{`: where a string is not a template, it is refused
 * rather than compared or used as literal text. */
static bool plan_refuse_braces(struct plan_reader *r, const yaml_node_t *n,
                               const char *what, const char *s)
{
    if (strstr(s, "{{") == NULL)
        return false;
    plan_problem(r, n,
                 "%s is not a template: '{{' is not allowed in '%s' "
                 "(docs/plan.md lists the keys that are rendered)",
                 what, s);
    return true;
}

static void plan_check_template(struct plan_reader *r, const yaml_node_t *n,
                                const char *what, const char *s)
{
    struct err te = {0};
    if (template_names(s, NULL, NULL, &te) != ERR_OK)
        plan_problem(r, n, "%s: %s", what, te.msg);
}

/* A plain string, never rendered: `{{` in it is an error. */
static char *plan_want_string(struct plan_reader *r, const yaml_node_t *n,
                              const char *what)
{
    char *s = plan_want_text(r, n, what);
    if (s != NULL && plan_refuse_braces(r, n, what, s)) {
        free(s);
        return NULL;
    }
    return s;
}

static bool plan_want_int(struct plan_reader *r, const yaml_node_t *n,
                          const char *what, long min, long max, long *out)
{
    if (n->type != YAML_SCALAR_NODE) {
        plan_problem(r, n, "%s must be an integer, not %s", what,
                     plan_type_name(n));
        return false;
    }
    const char *s = plan_scalar(n);
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || errno != 0) {
        plan_problem(r, n, "%s must be an integer, not '%s'", what, s);
        return false;
    }
    if (v < min || v > max) {
        plan_problem(r, n, "%s must be between %ld and %ld, not %ld", what, min,
                     max, v);
        return false;
    }
    *out = v;
    return true;
}

static bool plan_want_duration(struct plan_reader *r, const yaml_node_t *n,
                               const char *what, int64_t *out)
{
    if (n->type != YAML_SCALAR_NODE) {
        plan_problem(r, n,
                     "%s must be a duration such as 500ms, 2s, 5m or "
                     "1h, not %s",
                     what, plan_type_name(n));
        return false;
    }
    struct err de = {0};
    if (duration_parse(plan_scalar(n), out, &de) != ERR_OK) {
        plan_problem(r, n, "%s: %s", what, de.msg);
        return false;
    }
    return true;
}

/* Report the key of pair p in mapping n if an earlier pair has it too. */
static void plan_problem_duplicate(struct plan_reader *r, const yaml_node_t *n,
                                   const yaml_node_pair_t *p, const char *where)
{
    yaml_node_t *k = plan_node(r, p->key);
    const char *key = plan_scalar(k);
    for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < p; q++) {
        yaml_node_t *k2 = plan_node(r, q->key);
        if (k2->type == YAML_SCALAR_NODE && strcmp(plan_scalar(k2), key) == 0) {
            plan_problem(r, k, "duplicate key '%s' in %s (first at line %d)",
                         key, where, (int)k2->start_mark.line + 1);
            return;
        }
    }
}

/* Check the keys of mapping n against allowed (NULL-terminated): unknown
 * keys (with a near miss suggested), non-scalar and duplicate keys. */
static void plan_check_keys(struct plan_reader *r, const yaml_node_t *n,
                            const char *where, const char *const *allowed)
{
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
         p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = plan_node(r, p->key);
        if (k->type != YAML_SCALAR_NODE) {
            plan_problem(r, k, "keys of %s must be strings", where);
            continue;
        }
        const char *key = plan_scalar(k);
        plan_problem_duplicate(r, n, p, where);
        bool ok = false;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = strcmp(*a, key) == 0;
        if (ok)
            continue;
        const char *best = suggest_nearest(key, allowed);
        if (best != NULL)
            plan_problem(r, k, "unknown key '%s' in %s; did you mean '%s'?",
                         key, where, best);
        else
            plan_problem(r, k, "unknown key '%s' in %s", key, where);
    }
}

/* Value of key in mapping n, or NULL. */
static yaml_node_t *plan_get(struct plan_reader *r, const yaml_node_t *n,
                             const char *key)
{
    if (n == NULL || n->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
         p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = plan_node(r, p->key);
        if (k->type == YAML_SCALAR_NODE && strcmp(plan_scalar(k), key) == 0)
            return plan_node(r, p->value);
    }
    return NULL;
}

static bool plan_want_mapping(struct plan_reader *r, const yaml_node_t *n,
                              const char *what)
{
    if (n->type == YAML_MAPPING_NODE)
        return true;
    plan_problem(r, n, "%s must be a mapping, not %s", what, plan_type_name(n));
    return false;
}

static bool plan_want_list(struct plan_reader *r, const yaml_node_t *n,
                           const char *what)
{
    if (n->type == YAML_SEQUENCE_NODE)
        return true;
    plan_problem(r, n, "%s must be a list, not %s", what, plan_type_name(n));
    return false;
}

static struct plan_pos plan_pos_of(const yaml_node_t *n)
{
    struct plan_pos pos = {(int)n->start_mark.line + 1,
                           (int)n->start_mark.column + 1};
    return pos;
}

/* YAML node -> JSON value (scalars typed as YAML 1.1 core would). */
static json_t *plan_to_json(struct plan_reader *r, const yaml_node_t *n,
                            int depth)
{
    if (depth > 32) {
        /* once: an alias cycle reaches this depth on every path */
        if (!r->too_deep)
            plan_problem(r, n,
                         "value nested too deeply (more than 32 levels, "
                         "or an alias that contains itself)");
        r->too_deep = true;
        return json_null();
    }
    if (++r->nvalues > PLAN_VALUES_MAX) {
        if (r->nvalues == PLAN_VALUES_MAX + 1)
            plan_problem(r, n,
                         "vars hold more than %d values once aliases are "
                         "expanded",
                         PLAN_VALUES_MAX);
        return json_null();
    }
    if (n->type == YAML_SEQUENCE_NODE) {
        json_t *a = json_array();
        for (yaml_node_item_t *i = n->data.sequence.items.start;
             i < n->data.sequence.items.top; i++)
            json_array_append_new(a,
                                  plan_to_json(r, plan_node(r, *i), depth + 1));
        return a;
    }
    if (n->type == YAML_MAPPING_NODE) {
        json_t *o = json_object();
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
             p < n->data.mapping.pairs.top; p++) {
            yaml_node_t *k = plan_node(r, p->key);
            if (k->type != YAML_SCALAR_NODE) {
                plan_problem(r, k, "keys must be strings");
                continue;
            }
            if (json_object_get(o, plan_scalar(k)) != NULL) {
                plan_problem_duplicate(r, n, p, "vars");
                continue;
            }
            if (plan_refuse_braces(r, k, "a key", plan_scalar(k)))
                continue;
            json_object_set_new(
                o, plan_scalar(k),
                plan_to_json(r, plan_node(r, p->value), depth + 1));
        }
        return o;
    }
    const char *s = plan_scalar(n);
    /* a string value may be a template (rendered where it is used): its
     * syntax is checked here, where the position is known */
    if (strstr(s, "{{") != NULL)
        plan_check_template(r, n, "a value", s);
    return plan_scalar_json(r, n);
}

static const char *const plan_keys_top[] = {
    "name",     "lock",      "hosts",  "vars",  "require", "windows",
    "strategy", "prechecks", "before", "steps", "health",  "singleton",
    "smoke",    "rollback",  "notify", NULL};
static const char *const plan_keys_strategy[] = {
    "canary", "canary_hosts", "pause_after_canary", "waves",       "order",
    "seed",   "max_fail",     "max_fail_total",     "unreachable", "pause",
    NULL};
static const char *const plan_keys_step[] = {
    "name",         "run",  "timeout", "env",   "secret_env",    "on",
    "on_host",      "when", "retries", "delay", "ignore_errors", "idempotent",
    "irreversible", NULL};
static const char *const plan_keys_health[] = {
    "checks",           "interval",          "min_healthy_time",
    "healthy_deadline", "progress_deadline", NULL};
static const char *const plan_keys_require[] = {"ticket", "approver", "env",
                                                NULL};
static const char *const plan_keys_singleton[] = {"role", "hosts", "env",
                                                  "check", NULL};
static const char *const plan_keys_rollback[] = {"auto", "steps", NULL};
static const char *const plan_keys_notify[] = {"webhook", "on", NULL};

static void plan_read_waves(struct plan_reader *r, struct plan *p,
                            const yaml_node_t *n)
{
    if (!plan_want_list(r, n, "strategy.waves"))
        return;
    size_t cnt =
        (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (cnt == 0) {
        plan_problem(r, n, "strategy.waves must list at least one wave size");
        return;
    }
    p->waves = xcalloc(cnt, sizeof(*p->waves));
    for (yaml_node_item_t *i = n->data.sequence.items.start;
         i < n->data.sequence.items.top; i++) {
        yaml_node_t *w = plan_node(r, *i);
        struct plan_wave *pw = &p->waves[p->nwaves];
        if (w->type == YAML_SCALAR_NODE) {
            const char *s = plan_scalar(w);
            size_t len = strlen(s);
            if (len > 1 && s[len - 1] == '%') {
                char *end = NULL;
                long v = strtol(s, &end, 10);
                if (end != s + len - 1 || v < 1 || v > 100) {
                    plan_problem(r, w,
                                 "wave size '%s' must be a whole "
                                 "percentage from 1%% to 100%%",
                                 s);
                    continue;
                }
                pw->percent = (int)v;
                p->nwaves++;
                continue;
            }
        }
        long v;
        if (!plan_want_int(r, w, "a wave size", 1, 1000000, &v))
            continue;
        pw->count = (int)v;
        p->nwaves++;
    }
}

static size_t plan_list_len(const yaml_node_t *n)
{
    return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

static bool plan_want_bool(struct plan_reader *r, const yaml_node_t *n,
                           const char *what, bool *out)
{
    if (n->type == YAML_SCALAR_NODE &&
        n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
        /* typed as vars are, without reporting a refused value twice */
        struct yamlscalar ys = {.text = plan_scalar(n),
                                .len = n->data.scalar.length,
                                .plain = true};
        json_t *v = NULL;
        struct err e = {0};
        if (yamlscalar_json(&ys, &v, &e) == ERR_OK && json_is_boolean(v)) {
            *out = json_is_true(v);
            json_decref(v);
            return true;
        }
        json_decref(v);
    }
    if (n->type == YAML_SCALAR_NODE)
        plan_problem(r, n, "%s must be true or false, not '%s'", what,
                     plan_scalar(n));
    else
        plan_problem(r, n, "%s must be true or false, not %s", what,
                     plan_type_name(n));
    return false;
}

/* An identifier such as an environment variable name. */
static bool plan_is_ident(const char *s)
{
    if (!(isalpha((unsigned char)*s) || *s == '_'))
        return false;
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '_'))
            return false;
    return true;
}

/* A host count (min..1000000) or "N%" (pmin..100). */
static bool plan_want_count(struct plan_reader *r, const yaml_node_t *n,
                            const char *what, long min, int pmin,
                            struct plan_wave *out)
{
    if (n->type == YAML_SCALAR_NODE) {
        const char *s = plan_scalar(n);
        size_t len = strlen(s);
        if (len > 1 && s[len - 1] == '%') {
            char *end = NULL;
            errno = 0;
            long v = strtol(s, &end, 10);
            if (end != s + len - 1 || errno != 0 || v < pmin || v > 100 ||
                !isdigit((unsigned char)*s)) {
                plan_problem(r, n,
                             "%s '%s' must be a whole percentage from "
                             "%d%% to 100%%",
                             what, s, pmin);
                return false;
            }
            out->percent = (int)v;
            out->count = 0;
            return true;
        }
    }
    long v;
    if (n->type == YAML_SCALAR_NODE && strchr(plan_scalar(n), '.') != NULL) {
        plan_problem(r, n,
                     "%s must be a whole number of hosts or \"N%%\", "
                     "not '%s'",
                     what, plan_scalar(n));
        return false;
    }
    if (!plan_want_int(r, n, what, min, 1000000, &v))
        return false;
    out->count = (int)v;
    out->percent = 0;
    return true;
}

/* A list of identifiers (require.env, secret_env). */
static char **plan_read_names(struct plan_reader *r, const yaml_node_t *n,
                              const char *what, size_t *count)
{
    *count = 0;
    if (n->type == YAML_SCALAR_NODE && !plan_is_null(n)) {
        plan_problem(r, n, "%s must be a list of names such as [SECRET_KEY]",
                     what);
        return NULL;
    }
    if (!plan_want_list(r, n, what))
        return NULL;
    char **v = xcalloc(plan_list_len(n) + 1, sizeof(char *));
    for (yaml_node_item_t *i = n->data.sequence.items.start;
         i < n->data.sequence.items.top; i++) {
        yaml_node_t *x = plan_node(r, *i);
        char *s = plan_want_string(r, x, what);
        if (s == NULL)
            continue;
        if (!plan_is_ident(s)) {
            plan_problem(r, x,
                         "%s: '%s' is not a variable name (letters, digits, "
                         "'_')",
                         what, s);
            free(s);
            continue;
        }
        v[(*count)++] = s;
    }
    return v;
}

/* A template string: checked for syntax now, rendered per host later. */
static char *plan_want_template(struct plan_reader *r, const yaml_node_t *n,
                                const char *what)
{
    char *s = plan_want_text(r, n, what);
    if (s != NULL)
        plan_check_template(r, n, what, s);
    return s;
}

/* A mapping of NAME -> template string, as a JSON object. */
static json_t *plan_read_string_map(struct plan_reader *r, const yaml_node_t *n,
                                    const char *what, bool names_are_idents)
{
    if (!plan_want_mapping(r, n, what))
        return NULL;
    json_t *o = json_object();
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
         p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = plan_node(r, p->key);
        yaml_node_t *v = plan_node(r, p->value);
        if (k->type != YAML_SCALAR_NODE) {
            plan_problem(r, k, "keys of %s must be strings", what);
            continue;
        }
        if (json_object_get(o, plan_scalar(k)) != NULL) {
            plan_problem_duplicate(r, n, p, what);
            continue;
        }
        char kwhat[96];
        snprintf(kwhat, sizeof(kwhat), "a key of %s", what);
        if (plan_refuse_braces(r, k, kwhat, plan_scalar(k)))
            continue;
        if (names_are_idents && !plan_is_ident(plan_scalar(k))) {
            plan_problem(r, k, "%s: '%s' is not a variable name", what,
                         plan_scalar(k));
            continue;
        }
        if (v->type != YAML_SCALAR_NODE || plan_is_null(v)) {
            plan_problem(r, v, "%s: the value of '%s' must be a string, not %s",
                         what, plan_scalar(k),
                         plan_is_null(v) ? "null" : plan_type_name(v));
            continue;
        }
        plan_check_template(r, v, what, plan_scalar(v));
        json_t *js = json_string(plan_scalar(v));
        if (js == NULL) {
            plan_problem(r, v, "%s: the value of '%s' is not UTF-8", what,
                         plan_scalar(k));
            continue;
        }
        json_object_set_new(o, plan_scalar(k), js);
    }
    return o;
}

/* Where a list of steps lives, for messages and rules. */
struct plan_step_rules {
    const char *where;  /* "steps", "before", ... */
    enum plan_on deflt; /* on: when not given */
    unsigned allowed;   /* 1 << enum plan_on */
    bool need_one;      /* the list may not be empty */
};

/* One `when:` condition, its syntax and filter names checked. */
static char *plan_want_cond(struct plan_reader *r, const yaml_node_t *n,
                            const char *what)
{
    char *c = plan_want_text(r, n, what);
    struct err ce = {0};
    if (c != NULL && when_names(c, NULL, NULL, &ce) != ERR_OK) {
        plan_problem(r, n, "step 'when': %s", ce.msg);
        free(c);
        return NULL;
    }
    return c;
}

/* `when:` is a condition, or a list of them that must all hold (Ansible):
 * the list becomes "(a) and (b)", each condition checked where it is
 * written. A bare true/false is a condition too. */
static char *plan_want_when(struct plan_reader *r, const yaml_node_t *n)
{
    if (n->type != YAML_SEQUENCE_NODE)
        return plan_want_cond(r, n, "step 'when'");
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    bool ok = true;
    for (yaml_node_item_t *i = n->data.sequence.items.start;
         i < n->data.sequence.items.top; i++) {
        char *c = plan_want_cond(r, plan_node(r, *i), "a 'when' condition");
        if (c == NULL) {
            ok = false;
            continue;
        }
        buf_printf(&b, "%s(%s)", b.len ? " and " : "", c);
        free(c);
    }
    if (!ok || b.len == 0) {
        if (ok)
            plan_problem(r, n, "step 'when' is an empty list");
        buf_release(&b);
        return NULL;
    }
    return buf_detach(&b);
}

static void plan_read_step(struct plan_reader *r, const yaml_node_t *sn,
                           const struct plan_step_rules *rules, size_t index,
                           struct plan_step *st)
{
    plan_check_keys(r, sn, "a step", plan_keys_step);
    st->pos = plan_pos_of(sn);
    st->on = rules->deflt;
    yaml_node_t *v;
    if ((v = plan_get(r, sn, "run")) != NULL)
        st->run = plan_want_template(r, v, "step 'run'");
    else if (strcmp(rules->where, "steps") == 0)
        plan_problem(r, sn, "step %zu has no 'run' command", index);
    else
        plan_problem(r, sn, "%s step %zu has no 'run' command", rules->where,
                     index);
    if ((v = plan_get(r, sn, "name")) != NULL)
        st->name = plan_want_string(r, v, "step 'name'");
    if (st->name == NULL)
        st->name = xstrdup(st->run ? st->run : "?");
    if ((v = plan_get(r, sn, "timeout")) != NULL)
        plan_want_duration(r, v, "step 'timeout'", &st->timeout_ms);
    if ((v = plan_get(r, sn, "env")) != NULL)
        st->env = plan_read_string_map(r, v, "step 'env'", true);
    yaml_node_t *sev = plan_get(r, sn, "secret_env");
    if (sev != NULL) {
        st->secret_env =
            plan_read_names(r, sev, "step 'secret_env'", &st->nsecret_env);
        for (size_t i = 0; i < st->nsecret_env; i++)
            if (st->env && json_object_get(st->env, st->secret_env[i]))
                plan_problem(r, sev,
                             "'%s' is in both env and secret_env of this "
                             "step: a secret's value never goes in the plan",
                             st->secret_env[i]);
    }
    yaml_node_t *onn = plan_get(r, sn, "on");
    if (onn != NULL) {
        char *s = plan_want_string(r, onn, "step 'on'");
        if (s != NULL) {
            int on = strcmp(s, "each") == 0    ? PLAN_ON_EACH
                     : strcmp(s, "once") == 0  ? PLAN_ON_ONCE
                     : strcmp(s, "local") == 0 ? PLAN_ON_LOCAL
                                               : -1;
            if (on < 0)
                plan_problem(r, onn,
                             "step 'on' must be each, once or local, not "
                             "'%s'",
                             s);
            else if (!(rules->allowed & (1u << on)))
                plan_problem(r, onn, "a step in '%s' cannot run 'on: %s' (%s)",
                             rules->where, s,
                             strcmp(rules->where, "before") == 0
                                 ? "before runs once per deploy: use once "
                                   "or local; put per-host checks in "
                                   "prechecks"
                                 : "steps run on every host of a wave: put "
                                   "once-per-deploy steps in 'before'");
            else
                st->on = (enum plan_on)on;
            free(s);
        }
    }
    if ((v = plan_get(r, sn, "on_host")) != NULL) {
        st->on_host = plan_want_string(r, v, "step 'on_host'");
        if (st->on != PLAN_ON_ONCE)
            plan_problem(r, v,
                         "on_host picks the host of an 'on: once' step; "
                         "this step runs on: %s",
                         st->on == PLAN_ON_EACH ? "each" : "local");
    }
    if ((v = plan_get(r, sn, "when")) != NULL) {
        st->when = plan_want_when(r, v);
        if (st->when != NULL && st->on == PLAN_ON_LOCAL)
            plan_problem(r, v,
                         "'when' tests host variables; an 'on: local' step "
                         "has no host");
    }
    long n;
    if ((v = plan_get(r, sn, "retries")) != NULL &&
        plan_want_int(r, v, "step 'retries'", 0, 100, &n))
        st->retries = (int)n;
    if ((v = plan_get(r, sn, "delay")) != NULL)
        plan_want_duration(r, v, "step 'delay'", &st->delay_ms);
    if ((v = plan_get(r, sn, "ignore_errors")) != NULL)
        plan_want_bool(r, v, "step 'ignore_errors'", &st->ignore_errors);
    if ((v = plan_get(r, sn, "idempotent")) != NULL)
        plan_want_bool(r, v, "step 'idempotent'", &st->idempotent);
    if ((v = plan_get(r, sn, "irreversible")) != NULL)
        plan_want_bool(r, v, "step 'irreversible'", &st->irreversible);
}

static void plan_read_step_list(struct plan_reader *r, const yaml_node_t *n,
                                const struct plan_step_rules *rules,
                                struct plan_step **out, size_t *count)
{
    char what[64];
    snprintf(what, sizeof(what), "%s", rules->where);
    if (!plan_want_list(r, n, what))
        return;
    size_t cnt = plan_list_len(n);
    *out = xcalloc(cnt ? cnt : 1, sizeof(**out));
    for (yaml_node_item_t *i = n->data.sequence.items.start;
         i < n->data.sequence.items.top; i++) {
        yaml_node_t *sn = plan_node(r, *i);
        if (!plan_want_mapping(r, sn, "a step"))
            continue;
        struct plan_step *st = &(*out)[(*count)++];
        plan_read_step(r, sn, rules, *count, st);
    }
    if (*count == 0 && rules->need_one)
        plan_problem(r, n, "%s must list at least one step", rules->where);
}

/* --- reading checks: the keys every check has here, the rest by its
 * kind (check.h) through the plan_key_* functions below ---------------- */

const yaml_node_t *plan_key_get(struct plan_reader *r, const yaml_node_t *n,
                                const char *key)
{
    return plan_get(r, n, key);
}

void plan_key_keys(struct plan_reader *r, const yaml_node_t *n,
                   const char *where, const char *const *allowed)
{
    plan_check_keys(r, n, where, allowed);
}

void plan_key_problem(struct plan_reader *r, const yaml_node_t *n,
                      const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    plan_problem(r, n, "%s", msg);
}

char *plan_key_template(struct plan_reader *r, const yaml_node_t *n,
                        const char *what)
{
    return plan_want_template(r, n, what);
}

char *plan_key_string(struct plan_reader *r, const yaml_node_t *n,
                      const char *what)
{
    return plan_want_string(r, n, what);
}

bool plan_key_mapping(struct plan_reader *r, const yaml_node_t *n,
                      const char *what)
{
    return plan_want_mapping(r, n, what);
}

json_t *plan_key_string_map(struct plan_reader *r, const yaml_node_t *n,
                            const char *what)
{
    return plan_read_string_map(r, n, what, false);
}

json_t *plan_key_json(struct plan_reader *r, const yaml_node_t *n)
{
    return plan_to_json(r, n, 0);
}

bool plan_key_int(struct plan_reader *r, const yaml_node_t *n, const char *what,
                  long min, long max, long *out)
{
    return plan_want_int(r, n, what, min, max, out);
}

const char *plan_key_scalar(const yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE ? plan_scalar(n) : NULL;
}

const char *plan_key_type(const yaml_node_t *n)
{
    return plan_type_name(n);
}

size_t plan_key_len(const yaml_node_t *n)
{
    return plan_list_len(n);
}

const yaml_node_t *plan_key_item(struct plan_reader *r, const yaml_node_t *n,
                                 size_t i)
{
    return plan_node(r, n->data.sequence.items.start[i]);
}

/* One check (health, smoke, singleton.check); false when not a mapping.
 * The first kind whose key it has is its kind; the keys of every other
 * kind it has are read too, to be refused with a reason. */
static bool plan_read_check_into(struct plan_reader *r, const yaml_node_t *cn,
                                 const char *what, struct plan_check *c)
{
    if (cn->type == YAML_SCALAR_NODE) {
        plan_problem(r, cn,
                     "%s must be a mapping such as "
                     "{ http: \"http://{{ address }}:8080/health\" }",
                     what);
        return false;
    }
    if (!plan_want_mapping(r, cn, what))
        return false;
    plan_check_keys(r, cn, what, check_keys());
    c->pos = plan_pos_of(cn);
    const struct check_kind *kind = NULL, *other = NULL;
    const yaml_node_t *second = NULL, *v;
    for (const struct check_kind *const *k = check_kinds; *k; k++) {
        if ((v = plan_get(r, cn, (*k)->key)) == NULL)
            continue;
        if (kind == NULL) {
            kind = *k;
        } else if (second == NULL) {
            second = v;
            other = *k;
        }
    }
    /* a check without a target is read as the first kind, to say all
     * that is wrong with it */
    const struct check_kind *as = kind != NULL ? kind : check_kinds[0];
    for (const struct check_kind *const *k = check_kinds; *k; k++) {
        bool has = *k == as || plan_get(r, cn, (*k)->key) != NULL;
        for (const char *const *x = (*k)->keys; !has && x && *x; x++)
            has = plan_get(r, cn, *x) != NULL;
        if (!has)
            continue;
        void *data = (*k)->parse(r, cn, what, *k == as);
        if (*k == kind)
            c->data = data;
        else if (data != NULL)
            (*k)->free(data);
    }
    c->kind = kind;
    if (second != NULL)
        plan_problem(r, second,
                     "a check has either '%s' or '%s', not both (write two "
                     "checks)",
                     kind->key, other->key);
    else if (kind == NULL)
        plan_problem(r, cn, "%s has no target (add %s)", what,
                     check_kind_examples());
    if ((v = plan_get(r, cn, "name")) != NULL)
        c->name = plan_want_string(r, v, "check 'name'");
    if ((v = plan_get(r, cn, "timeout")) != NULL &&
        plan_want_duration(r, v, "check 'timeout'", &c->timeout_ms) &&
        c->timeout_ms <= 0)
        plan_problem(r, v, "check 'timeout' must be longer than 0");
    return true;
}

static void plan_read_check_list(struct plan_reader *r, const yaml_node_t *n,
                                 const char *where, struct plan_check **out,
                                 size_t *count)
{
    if (!plan_want_list(r, n, where))
        return;
    size_t cnt = plan_list_len(n);
    *out = xcalloc(cnt ? cnt : 1, sizeof(**out));
    for (yaml_node_item_t *i = n->data.sequence.items.start;
         i < n->data.sequence.items.top; i++)
        if (plan_read_check_into(r, plan_node(r, *i),
                                 strcmp(where, "smoke") == 0 ? "a smoke check"
                                                             : "a health check",
                                 &(*out)[*count]))
            (*count)++;
}

static void plan_read_health(struct plan_reader *r, struct plan *p,
                             const yaml_node_t *n)
{
    if (!plan_want_mapping(r, n, "health"))
        return;
    plan_check_keys(r, n, "health", plan_keys_health);
    yaml_node_t *v;
    if ((v = plan_get(r, n, "checks")) != NULL)
        plan_read_check_list(r, v, "health.checks", &p->checks, &p->nchecks);
    if ((v = plan_get(r, n, "interval")) != NULL &&
        plan_want_duration(r, v, "health.interval", &p->interval_ms) &&
        p->interval_ms <= 0) {
        plan_problem(r, v, "health.interval must be longer than 0");
        p->interval_ms = 2000;
    }
    if ((v = plan_get(r, n, "min_healthy_time")) != NULL)
        plan_want_duration(r, v, "health.min_healthy_time", &p->min_healthy_ms);
    if ((v = plan_get(r, n, "healthy_deadline")) != NULL &&
        plan_want_duration(r, v, "health.healthy_deadline",
                           &p->healthy_deadline_ms) &&
        p->healthy_deadline_ms <= 0)
        plan_problem(r, v, "health.healthy_deadline must be longer than 0");
    if (p->min_healthy_ms > p->healthy_deadline_ms) {
        plan_problem(r, plan_get(r, n, "min_healthy_time"),
                     "health.min_healthy_time is longer than "
                     "health.healthy_deadline%s: no host could ever pass",
                     plan_get(r, n, "healthy_deadline") ? ""
                                                        : " (2m by default)");
    }
    if ((v = plan_get(r, n, "progress_deadline")) != NULL &&
        plan_want_duration(r, v, "health.progress_deadline",
                           &p->progress_deadline_ms) &&
        p->progress_deadline_ms > 0 &&
        p->progress_deadline_ms < p->healthy_deadline_ms)
        plan_problem(r, v,
                     "health.progress_deadline is shorter than "
                     "health.healthy_deadline%s: a wave would time out "
                     "before its hosts may",
                     plan_get(r, n, "healthy_deadline") ? ""
                                                        : " (2m by default)");
}

static void plan_read_strategy(struct plan_reader *r, struct plan *p,
                               const yaml_node_t *n)
{
    if (!plan_want_mapping(r, n, "strategy"))
        return;
    plan_check_keys(r, n, "strategy", plan_keys_strategy);
    yaml_node_t *v;
    if ((v = plan_get(r, n, "waves")) != NULL)
        plan_read_waves(r, p, v);
    yaml_node_t *canary = plan_get(r, n, "canary");
    if (canary != NULL) {
        plan_want_count(r, canary, "strategy.canary", 0, 1, &p->canary);
        p->canary_pos = plan_pos_of(canary);
    }
    yaml_node_t *ch = plan_get(r, n, "canary_hosts");
    if (ch != NULL) {
        p->canary_hosts = plan_want_string(r, ch, "strategy.canary_hosts");
        p->canary_hosts_pos = plan_pos_of(ch);
    }
    if (ch != NULL && canary != NULL && p->canary.count == 0 &&
        p->canary.percent == 0)
        plan_problem(r, ch, "strategy.canary_hosts is set but canary is 0");
    if ((v = plan_get(r, n, "pause_after_canary")) != NULL &&
        plan_want_bool(r, v, "strategy.pause_after_canary",
                       &p->pause_after_canary) &&
        p->pause_after_canary && p->canary.count == 0 &&
        p->canary.percent == 0 && p->canary_hosts == NULL)
        plan_problem(r, v,
                     "strategy.pause_after_canary needs a canary "
                     "(strategy.canary or strategy.canary_hosts)");
    yaml_node_t *order = plan_get(r, n, "order");
    if (order != NULL) {
        char *s = plan_want_string(r, order, "strategy.order");
        if (s == NULL)
            ;
        else if (strcmp(s, "inventory") == 0)
            p->order = PLAN_ORDER_INVENTORY;
        else if (strcmp(s, "sorted") == 0)
            p->order = PLAN_ORDER_SORTED;
        else if (strcmp(s, "reverse_sorted") == 0)
            p->order = PLAN_ORDER_REVERSE_SORTED;
        else if (strcmp(s, "shuffle") == 0)
            p->order = PLAN_ORDER_SHUFFLE;
        else
            plan_problem(r, order,
                         "strategy.order must be inventory, sorted, "
                         "reverse_sorted or shuffle, not '%s'",
                         s);
        free(s);
    }
    if ((v = plan_get(r, n, "seed")) != NULL) {
        const char *s = v->type == YAML_SCALAR_NODE ? plan_scalar(v) : "";
        char *end = NULL;
        errno = 0;
        unsigned long long seed = strtoull(s, &end, 10);
        if (v->type != YAML_SCALAR_NODE || !isdigit((unsigned char)*s) ||
            *end != '\0' || errno != 0)
            plan_problem(r, v,
                         "strategy.seed must be a whole number from 0 to "
                         "18446744073709551615");
        else {
            p->seed = seed;
            p->seed_set = true;
        }
        if (p->order != PLAN_ORDER_SHUFFLE)
            plan_problem(r, v, "strategy.seed only applies to order: shuffle");
    }
    if ((v = plan_get(r, n, "max_fail")) != NULL)
        plan_want_count(r, v, "strategy.max_fail", 0, 0, &p->max_fail);
    if ((v = plan_get(r, n, "max_fail_total")) != NULL &&
        plan_want_count(r, v, "strategy.max_fail_total", 0, 0,
                        &p->max_fail_total))
        p->max_fail_total_set = true;
    yaml_node_t *un = plan_get(r, n, "unreachable");
    if (un != NULL) {
        char *s = plan_want_string(r, un, "strategy.unreachable");
        if (s != NULL && strcmp(s, "fail") == 0)
            p->unreachable = PLAN_UNREACHABLE_FAIL;
        else if (s != NULL && strcmp(s, "pause") == 0)
            p->unreachable = PLAN_UNREACHABLE_PAUSE;
        else if (s != NULL)
            plan_problem(r, un,
                         "strategy.unreachable must be fail or pause, not "
                         "'%s'",
                         s);
        free(s);
    }
    if ((v = plan_get(r, n, "pause")) != NULL) {
        if (v->type == YAML_SCALAR_NODE &&
            strcmp(plan_scalar(v), "manual") == 0)
            p->pause_manual = true;
        else if (v->type == YAML_SCALAR_NODE) {
            struct err de = {0};
            if (duration_parse(plan_scalar(v), &p->pause_ms, &de) != ERR_OK)
                plan_problem(r, v,
                             "strategy.pause must be a duration (30s, 5m) or "
                             "manual: %s",
                             de.msg);
        } else
            plan_problem(r, v,
                         "strategy.pause must be a duration or manual, not %s",
                         plan_type_name(v));
    }
}

static void plan_read_require(struct plan_reader *r, struct plan *p,
                              const yaml_node_t *n)
{
    if (!plan_want_mapping(r, n, "require"))
        return;
    plan_check_keys(r, n, "require", plan_keys_require);
    yaml_node_t *v;
    if ((v = plan_get(r, n, "ticket")) != NULL)
        plan_want_bool(r, v, "require.ticket", &p->require_ticket);
    if ((v = plan_get(r, n, "approver")) != NULL)
        plan_want_bool(r, v, "require.approver", &p->require_approver);
    if ((v = plan_get(r, n, "env")) != NULL)
        p->require_env = plan_read_names(r, v, "require.env", &p->nrequire_env);
}

static void plan_read_windows(struct plan_reader *r, struct plan *p,
                              const yaml_node_t *n)
{
    if (n->type == YAML_SCALAR_NODE && !plan_is_null(n)) {
        plan_problem(r, n,
                     "windows must be a list such as [\"Mon-Fri 09:00-16:00 "
                     "UTC\"]");
        return;
    }
    if (!plan_want_list(r, n, "windows"))
        return;
    p->windows = xcalloc(plan_list_len(n) + 1, sizeof(char *));
    for (yaml_node_item_t *i = n->data.sequence.items.start;
         i < n->data.sequence.items.top; i++) {
        yaml_node_t *x = plan_node(r, *i);
        char *s = plan_want_string(r, x, "a window");
        if (s == NULL)
            continue;
        struct window w;
        struct err we = {0};
        if (window_parse(s, &w, &we) != ERR_OK) {
            plan_problem(r, x, "%s", we.msg);
            free(s);
            continue;
        }
        p->windows[p->nwindows++] = s;
    }
}

static void plan_read_singleton(struct plan_reader *r, struct plan *p,
                                const yaml_node_t *n)
{
    if (!plan_want_mapping(r, n, "singleton"))
        return;
    plan_check_keys(r, n, "singleton", plan_keys_singleton);
    yaml_node_t *v;
    if ((v = plan_get(r, n, "role")) != NULL)
        p->singleton_role = plan_want_string(r, v, "singleton.role");
    else
        plan_problem(r, n, "singleton needs a 'role' (e.g. role: scheduler)");
    if ((v = plan_get(r, n, "env")) != NULL) {
        p->singleton_env = plan_want_string(r, v, "singleton.env");
        if (p->singleton_env != NULL && !plan_is_ident(p->singleton_env))
            plan_problem(r, v, "singleton.env '%s' is not a variable name",
                         p->singleton_env);
    } else {
        plan_problem(r, n,
                     "singleton needs an 'env' variable that tells each host "
                     "whether it holds the role (e.g. env: ENABLE_SCHEDULER)");
    }
    if ((v = plan_get(r, n, "hosts")) != NULL) {
        p->singleton_hosts = plan_want_string(r, v, "singleton.hosts");
        p->singleton_hosts_pos = plan_pos_of(v);
        if (p->singleton_hosts != NULL && p->singleton_hosts[0] == '\0')
            plan_problem(r, v,
                         "singleton.hosts is empty: give a host pattern "
                         "(e.g. hosts: worker), or leave it out for any "
                         "host of the plan");
    }
    if ((v = plan_get(r, n, "check")) != NULL) {
        struct plan_check *c = xcalloc(1, sizeof(*c));
        if (plan_read_check_into(r, v, "singleton.check", c))
            p->singleton_check = c;
        else
            free(c);
    }
}

static void plan_read_rollback(struct plan_reader *r, struct plan *p,
                               const yaml_node_t *n)
{
    if (!plan_want_mapping(r, n, "rollback"))
        return;
    plan_check_keys(r, n, "rollback", plan_keys_rollback);
    yaml_node_t *v;
    if ((v = plan_get(r, n, "auto")) != NULL)
        plan_want_bool(r, v, "rollback.auto", &p->rollback_auto);
    static const struct plan_step_rules rules = {"rollback.steps", PLAN_ON_EACH,
                                                 1u << PLAN_ON_EACH, true};
    if ((v = plan_get(r, n, "steps")) != NULL)
        plan_read_step_list(r, v, &rules, &p->rollback_steps,
                            &p->nrollback_steps);
    else
        plan_problem(r, n,
                     "rollback needs 'steps' (the commands that put a host "
                     "back on previous_version)");
}

static void plan_read_notify(struct plan_reader *r, struct plan *p,
                             const yaml_node_t *n)
{
    if (!plan_want_list(r, n, "notify"))
        return;
    p->notify = xcalloc(plan_list_len(n) + 1, sizeof(*p->notify));
    for (yaml_node_item_t *i = n->data.sequence.items.start;
         i < n->data.sequence.items.top; i++) {
        yaml_node_t *x = plan_node(r, *i);
        if (!plan_want_mapping(r, x, "a notification"))
            continue;
        plan_check_keys(r, x, "a notification", plan_keys_notify);
        struct plan_notify *nt = &p->notify[p->nnotify++];
        yaml_node_t *v;
        if ((v = plan_get(r, x, "webhook")) != NULL) {
            nt->pos = plan_pos_of(v);
            nt->webhook = plan_want_template(r, v, "notify 'webhook'");
            if (nt->webhook != NULL &&
                strncmp(nt->webhook, "http://", 7) != 0 &&
                strncmp(nt->webhook, "https://", 8) != 0 &&
                strncmp(nt->webhook, "{{", 2) != 0)
                plan_problem(r, v,
                             "notify 'webhook' must be an http:// or "
                             "https:// URL");
        } else {
            plan_problem(r, x, "a notification needs a 'webhook' URL");
        }
        nt->on = NOTIFY_ALL;
        if ((v = plan_get(r, x, "on")) == NULL)
            continue;
        if (!plan_want_list(r, v, "notify 'on'"))
            continue;
        nt->on = 0;
        for (yaml_node_item_t *j = v->data.sequence.items.start;
             j < v->data.sequence.items.top; j++) {
            yaml_node_t *ev = plan_node(r, *j);
            char *s = plan_want_string(r, ev, "a notify event");
            if (s == NULL)
                continue;
            unsigned bit = 0;
            struct err ne = {0};
            if (notify_event_parse(s, &bit, &ne) == ERR_OK)
                nt->on |= bit;
            else
                plan_problem(r, ev, "%s", ne.msg);
            free(s);
        }
    }
}

/* The lock names a file in the state directory (docs/state.md): refuse
 * here, at file:line:col, what lock_acquire would refuse at deploy time.
 * Without `lock:` the plan's name is the lock. */
static void plan_check_lock(struct plan_reader *r, const yaml_node_t *root,
                            const struct plan *p)
{
    if (p->lock != NULL) {
        if (!statedir_name_ok(p->lock))
            plan_problem(
                r, plan_get(r, root, "lock"),
                "lock '%s' is not a lock name: use " STATEDIR_NAME_RULE,
                p->lock);
    } else if (p->name != NULL && !statedir_name_ok(p->name)) {
        plan_problem(
            r, plan_get(r, root, "name"),
            "name '%s' is also the lock name, which takes " STATEDIR_NAME_RULE
            ": add a `lock:` key",
            p->name);
    }
}

static void plan_read(struct plan_reader *r, struct plan *p)
{
    yaml_node_t *root = yaml_document_get_root_node(r->doc);
    p->healthy_deadline_ms = 120000;
    p->interval_ms = 2000;
    p->rollback_auto = true;
    if (root == NULL) {
        plan_problem(r, NULL,
                     "the plan is empty (it needs at least "
                     "'steps')");
        return;
    }
    if (!plan_want_mapping(r, root, "the plan"))
        return;
    plan_check_keys(r, root, "the plan", plan_keys_top);
    yaml_node_t *v;
    if ((v = plan_get(r, root, "name")) != NULL)
        p->name = plan_want_string(r, v, "name");
    if ((v = plan_get(r, root, "lock")) != NULL)
        p->lock = plan_want_string(r, v, "lock");
    plan_check_lock(r, root, p);
    if ((v = plan_get(r, root, "hosts")) != NULL)
        p->hosts = plan_want_string(r, v, "hosts");
    if (p->hosts == NULL)
        p->hosts = xstrdup("all");
    if ((v = plan_get(r, root, "vars")) != NULL) {
        if (plan_want_mapping(r, v, "vars"))
            p->vars = plan_to_json(r, v, 0);
    }
    if (p->vars == NULL)
        p->vars = json_object();
    if ((v = plan_get(r, root, "require")) != NULL)
        plan_read_require(r, p, v);
    if ((v = plan_get(r, root, "windows")) != NULL)
        plan_read_windows(r, p, v);
    if ((v = plan_get(r, root, "strategy")) != NULL)
        plan_read_strategy(r, p, v);
    static const struct plan_step_rules pre = {
        "prechecks", PLAN_ON_EACH,
        1u << PLAN_ON_EACH | 1u << PLAN_ON_ONCE | 1u << PLAN_ON_LOCAL, false};
    static const struct plan_step_rules before = {
        "before", PLAN_ON_ONCE, 1u << PLAN_ON_ONCE | 1u << PLAN_ON_LOCAL,
        false};
    static const struct plan_step_rules steps = {"steps", PLAN_ON_EACH,
                                                 1u << PLAN_ON_EACH, true};
    if ((v = plan_get(r, root, "prechecks")) != NULL)
        plan_read_step_list(r, v, &pre, &p->prechecks, &p->nprechecks);
    if ((v = plan_get(r, root, "before")) != NULL)
        plan_read_step_list(r, v, &before, &p->before, &p->nbefore);
    if ((v = plan_get(r, root, "steps")) != NULL)
        plan_read_step_list(r, v, &steps, &p->steps, &p->nsteps);
    else
        plan_problem(r, root, "the plan has no 'steps'");
    if ((v = plan_get(r, root, "health")) != NULL)
        plan_read_health(r, p, v);
    if ((v = plan_get(r, root, "singleton")) != NULL)
        plan_read_singleton(r, p, v);
    if ((v = plan_get(r, root, "smoke")) != NULL)
        plan_read_check_list(r, v, "smoke", &p->smoke, &p->nsmoke);
    if ((v = plan_get(r, root, "rollback")) != NULL)
        plan_read_rollback(r, p, v);
    if ((v = plan_get(r, root, "notify")) != NULL)
        plan_read_notify(r, p, v);
    if (p->name == NULL)
        p->name = xstrdup("plan");
    if (p->lock == NULL)
        p->lock = xstrdup(p->name);
}

/* Check data within lim and start a reader for yaml_parser_load. A
 * problem goes to diags and e. */
static enum err_code plan_yaml_open(struct yamlread *y, const char *name,
                                    const char *data, size_t len,
                                    const struct yamlread_limits *lim,
                                    struct buf *diags, struct err *e)
{
    struct err ye = {0};
    enum err_code c = yamlread_check(name, data, len, lim, &ye);
    if (c == ERR_OK)
        c = yamlread_open(y, name, data, len, lim, &ye);
    if (c == ERR_OK)
        return ERR_OK;
    if (diags != NULL)
        buf_printf(diags, "%s\n", ye.msg);
    return err_set(e, c, "%s", ye.msg);
}

/* The document loader's error (an undefined alias: the event parser does
 * not resolve aliases) to diags and e; closes y. */
static enum err_code plan_yaml_error(struct yamlread *y, struct buf *diags,
                                     struct err *e)
{
    struct err ye = {0};
    enum err_code c = yamlread_error(y, &ye);
    yamlread_close(y);
    if (diags != NULL)
        buf_printf(diags, "%s\n", ye.msg);
    return err_set(e, c, "%s", ye.msg);
}

/* Load the first document of data into *doc and start r over it; on an
 * error (to diags and e) there is nothing to delete or close. */
static enum err_code plan_doc_load(struct yamlread *y, yaml_document_t *doc,
                                   struct plan_reader *r, const char *name,
                                   const char *data, size_t len,
                                   const struct yamlread_limits *lim,
                                   struct buf *diags, struct err *e)
{
    enum err_code c = plan_yaml_open(y, name, data, len, lim, diags, e);
    if (c != ERR_OK)
        return c;
    if (!yaml_parser_load(&y->parser, doc))
        return plan_yaml_error(y, diags, e);
    *r = (struct plan_reader){.file = name,
                              .doc = doc,
                              .data = data,
                              .len = len,
                              .json = inv_json_valid(data, len)};
    return ERR_OK;
}

enum err_code plan_load_buffer(const char *name, const char *data, size_t len,
                               struct plan **out, struct buf *diags,
                               struct err *e)
{
    *out = NULL;
    struct yamlread y;
    yaml_document_t doc;
    struct plan_reader r;
    enum err_code c = plan_doc_load(&y, &doc, &r, name, data, len,
                                    &plan_yaml_limits, diags, e);
    if (c != ERR_OK)
        return c;
    struct plan *p = xcalloc(1, sizeof(*p));
    p->file = xstrdup(name);
    plan_read(&r, p);
    yaml_document_delete(&doc);
    /* A second document would be ignored silently: refuse it. */
    if (!yaml_parser_load(&y.parser, &doc)) {
        plan_flush_problems(&r, diags, e);
        plan_free(p);
        return plan_yaml_error(&y, diags, e);
    }
    yaml_node_t *extra = yaml_document_get_root_node(&doc);
    if (extra != NULL)
        plan_problem(&r, extra,
                     "a second YAML document ('---'): a plan is one "
                     "document");
    yaml_document_delete(&doc);
    yamlread_close(&y);
    plan_flush_problems(&r, diags, e);
    if (r.nproblems > 0) {
        plan_free(p);
        return ERR_PARSE;
    }
    *out = p;
    return ERR_OK;
}

enum err_code plan_load(const char *path, struct plan **out, struct buf *diags,
                        struct err *e)
{
    *out = NULL;
    char *text;
    size_t len;
    switch (readfile(path, PLAN_FILE_MAX, 0, &text, &len)) {
    case READFILE_OK:
        break;
    case READFILE_OPEN:
        return err_sys(e, "cannot open plan %s", path);
    case READFILE_BIG:
        return err_set(e, ERR_LIMIT, "%s: plan larger than %d bytes", path,
                       PLAN_FILE_MAX);
    default:
        return err_sys(e, "cannot read plan %s", path);
    }
    enum err_code rc = plan_load_buffer(path, text, len, out, diags, e);
    free(text);
    return rc;
}

static void plan_steps_free(struct plan_step *st, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(st[i].name);
        free(st[i].run);
        free(st[i].on_host);
        free(st[i].when);
        json_decref(st[i].env);
        for (size_t k = 0; k < st[i].nsecret_env; k++)
            free(st[i].secret_env[k]);
        free(st[i].secret_env);
    }
    free(st);
}

static void plan_checks_free(struct plan_check *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (c[i].kind != NULL)
            c[i].kind->free(c[i].data);
        free(c[i].name);
    }
    free(c);
}

static void plan_strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void plan_free(struct plan *p)
{
    if (p == NULL)
        return;
    plan_steps_free(p->steps, p->nsteps);
    plan_steps_free(p->prechecks, p->nprechecks);
    plan_steps_free(p->before, p->nbefore);
    plan_steps_free(p->rollback_steps, p->nrollback_steps);
    plan_checks_free(p->checks, p->nchecks);
    plan_checks_free(p->smoke, p->nsmoke);
    plan_checks_free(p->singleton_check, p->singleton_check ? 1 : 0);
    plan_strv_free(p->require_env, p->nrequire_env);
    plan_strv_free(p->windows, p->nwindows);
    for (size_t i = 0; i < p->nnotify; i++)
        free(p->notify[i].webhook);
    free(p->notify);
    free(p->canary_hosts);
    free(p->singleton_role);
    free(p->singleton_hosts);
    free(p->singleton_env);
    free(p->waves);
    json_decref(p->vars);
    free(p->file);
    free(p->name);
    free(p->lock);
    free(p->hosts);
    free(p);
}

enum err_code plan_vars_parse(const char *name, const char *data, size_t len,
                              json_t **out, struct buf *diags, struct err *e)
{
    *out = NULL;
    struct yamlread y;
    yaml_document_t doc;
    struct plan_reader r;
    enum err_code c = plan_doc_load(&y, &doc, &r, name, data, len,
                                    &plan_vars_yaml_limits, diags, e);
    if (c != ERR_OK)
        return c;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    json_t *v = NULL;
    if (root == NULL || root->type != YAML_MAPPING_NODE)
        plan_problem(&r, root,
                     "a variables file must be a mapping of name: value");
    else
        v = plan_to_json(&r, root, 0);
    yaml_document_delete(&doc);
    yamlread_close(&y);
    plan_flush_problems(&r, diags, e);
    if (r.nproblems > 0) {
        json_decref(v);
        return ERR_PARSE;
    }
    *out = v;
    return ERR_OK;
}
