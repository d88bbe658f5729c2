/* coordinator/plan.c: read a plan with libyaml's document API and validate
 * it against the schema. Every node keeps its mark, so each problem is
 * reported as file:line:col; problems are collected, not stopped at. */
#include "plan.h"

#include "buf.h"
#include "duration.h"
#include "err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* Values in vars after expanding aliases: a few nested aliases would
 * otherwise expand to billions of values (the "billion laughs"). */
enum {
    PLAN_FILE_MAX = 4 * 1024 * 1024,
    PLAN_VALUES_MAX = 100000,
    PLAN_PROBLEMS_MAX = 100 /* problems listed; the rest are counted */
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
    const char *s = plan_scalar(n);
    return strcmp(s, "") == 0 || strcmp(s, "~") == 0 ||
           strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
           strcmp(s, "NULL") == 0;
}

static char *plan_want_string(struct plan_reader *r, const yaml_node_t *n,
                              const char *what)
{
    if (n->type != YAML_SCALAR_NODE || plan_is_null(n)) {
        plan_problem(r, n, "%s must be a string, not %s", what,
                     plan_is_null(n) ? "null" : plan_type_name(n));
        return NULL;
    }
    return xstrdup(plan_scalar(n));
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

/* Levenshtein distance, for "did you mean". Short strings only. */
static size_t plan_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return 64;
    size_t prev[64], cur[64];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] =
                sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, (lb + 1) * sizeof(size_t));
    }
    return prev[lb];
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
        const char *best = NULL;
        size_t bestd = 3;
        for (const char *const *a = allowed; *a; a++) {
            if (strcmp(*a, key) == 0) {
                ok = true;
                break;
            }
            size_t d = plan_distance(*a, key);
            if (d < bestd) {
                bestd = d;
                best = *a;
            }
        }
        if (ok)
            continue;
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
            json_object_set_new(
                o, plan_scalar(k),
                plan_to_json(r, plan_node(r, p->value), depth + 1));
        }
        return o;
    }
    const char *s = plan_scalar(n);
    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return json_string(s);
    if (plan_is_null(n))
        return json_null();
    if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 ||
        strcmp(s, "yes") == 0)
        return json_true();
    if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 ||
        strcmp(s, "no") == 0)
        return json_false();
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*s && *end == '\0' && errno == 0)
        return json_integer(v);
    double d = strtod(s, &end);
    if (*s && *end == '\0' && strspn(s, "+-0123456789.eE") == strlen(s))
        return json_real(d);
    return json_string(s);
}

static const char *const plan_keys_top[] = {
    "name", "hosts", "vars", "strategy", "steps", "health", NULL};
static const char *const plan_keys_strategy[] = {"waves", NULL};
static const char *const plan_keys_step[] = {"name", "run", "timeout", NULL};
static const char *const plan_keys_health[] = {
    "checks", "interval", "min_healthy_time", "healthy_deadline", NULL};
static const char *const plan_keys_check[] = {"http", "expect", "timeout",
                                              NULL};
static const char *const plan_keys_expect[] = {"status", NULL};

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

static void plan_read_steps(struct plan_reader *r, struct plan *p,
                            const yaml_node_t *n)
{
    if (!plan_want_list(r, n, "steps"))
        return;
    size_t cnt =
        (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    p->steps = xcalloc(cnt ? cnt : 1, sizeof(*p->steps));
    for (yaml_node_item_t *i = n->data.sequence.items.start;
         i < n->data.sequence.items.top; i++) {
        yaml_node_t *sn = plan_node(r, *i);
        if (!plan_want_mapping(r, sn, "a step"))
            continue;
        plan_check_keys(r, sn, "a step", plan_keys_step);
        struct plan_step *st = &p->steps[p->nsteps++];
        st->pos = plan_pos_of(sn);
        yaml_node_t *v;
        if ((v = plan_get(r, sn, "run")) != NULL)
            st->run = plan_want_string(r, v, "step 'run'");
        else
            plan_problem(r, sn, "step %zu has no 'run' command", p->nsteps);
        if ((v = plan_get(r, sn, "name")) != NULL)
            st->name = plan_want_string(r, v, "step 'name'");
        if (st->name == NULL)
            st->name = xstrdup(st->run ? st->run : "?");
        if ((v = plan_get(r, sn, "timeout")) != NULL)
            plan_want_duration(r, v, "step 'timeout'", &st->timeout_ms);
    }
    if (p->nsteps == 0)
        plan_problem(r, n, "steps must list at least one step");
}

static void plan_read_check(struct plan_reader *r, struct plan *p,
                            const yaml_node_t *cn)
{
    if (cn->type == YAML_SCALAR_NODE) {
        plan_problem(r, cn,
                     "a health check must be a mapping such as "
                     "{ http: \"http://{{ address }}:8080/health\" }");
        return;
    }
    if (!plan_want_mapping(r, cn, "a health check"))
        return;
    plan_check_keys(r, cn, "a health check", plan_keys_check);
    struct plan_check *c = &p->checks[p->nchecks++];
    c->pos = plan_pos_of(cn);
    c->expect_status = 200;
    yaml_node_t *v;
    if ((v = plan_get(r, cn, "http")) != NULL)
        c->http = plan_want_string(r, v, "check 'http'");
    else
        plan_problem(r, cn, "health check has no target (add 'http: URL')");
    if ((v = plan_get(r, cn, "timeout")) != NULL)
        plan_want_duration(r, v, "check 'timeout'", &c->timeout_ms);
    if ((v = plan_get(r, cn, "expect")) != NULL &&
        plan_want_mapping(r, v, "check 'expect'")) {
        plan_check_keys(r, v, "a check's expect", plan_keys_expect);
        yaml_node_t *s = plan_get(r, v, "status");
        long st;
        if (s != NULL && plan_want_int(r, s, "expect.status", 100, 599, &st))
            c->expect_status = st;
    }
}

static void plan_read_health(struct plan_reader *r, struct plan *p,
                             const yaml_node_t *n)
{
    if (!plan_want_mapping(r, n, "health"))
        return;
    plan_check_keys(r, n, "health", plan_keys_health);
    yaml_node_t *v;
    if ((v = plan_get(r, n, "checks")) != NULL &&
        plan_want_list(r, v, "health.checks")) {
        size_t cnt =
            (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
        p->checks = xcalloc(cnt ? cnt : 1, sizeof(*p->checks));
        for (yaml_node_item_t *i = v->data.sequence.items.start;
             i < v->data.sequence.items.top; i++)
            plan_read_check(r, p, plan_node(r, *i));
    }
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
}

static void plan_read(struct plan_reader *r, struct plan *p)
{
    yaml_node_t *root = yaml_document_get_root_node(r->doc);
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
    if ((v = plan_get(r, root, "strategy")) != NULL &&
        plan_want_mapping(r, v, "strategy")) {
        plan_check_keys(r, v, "strategy", plan_keys_strategy);
        yaml_node_t *w = plan_get(r, v, "waves");
        if (w != NULL)
            plan_read_waves(r, p, w);
    }
    p->healthy_deadline_ms = 120000;
    p->interval_ms = 2000;
    if ((v = plan_get(r, root, "steps")) != NULL)
        plan_read_steps(r, p, v);
    else
        plan_problem(r, root, "the plan has no 'steps'");
    if ((v = plan_get(r, root, "health")) != NULL)
        plan_read_health(r, p, v);
    if (p->name == NULL)
        p->name = xstrdup("plan");
}

/* Report the parser's syntax error as file:line:col and free the parser.
 * Reader errors (bad UTF-8, control characters) carry a byte offset, not a
 * mark: the position is counted from data. */
static enum err_code plan_yaml_error(const char *name, const char *data,
                                     yaml_parser_t *parser, struct buf *diags,
                                     struct err *e)
{
    int line = (int)parser->problem_mark.line + 1;
    int col = (int)parser->problem_mark.column + 1;
    const char *problem = parser->problem ? parser->problem : "bad YAML";
    const char *context = parser->context ? parser->context : "";
    char where[64] = "";
    if (*context != '\0' &&
        (parser->context_mark.line != parser->problem_mark.line ||
         parser->context_mark.column != parser->problem_mark.column))
        snprintf(where, sizeof(where), " started at %d:%d",
                 (int)parser->context_mark.line + 1,
                 (int)parser->context_mark.column + 1);
    if (parser->error == YAML_READER_ERROR) {
        line = 1;
        col = 1;
        for (size_t i = 0; i < parser->problem_offset; i++) {
            if (data[i] == '\n') {
                line++;
                col = 1;
            } else if (((unsigned char)data[i] & 0xc0) != 0x80) {
                col++;
            }
        }
        context = "(a plan must be UTF-8 text)";
        where[0] = '\0';
    }
    if (diags != NULL)
        buf_printf(diags, "%s:%d:%d: %s%s%s%s\n", name, line, col, problem,
                   *context ? " " : "", context, where);
    err_set(e, ERR_PARSE, "%s:%d:%d: %s%s%s%s", name, line, col, problem,
            *context ? " " : "", context, where);
    yaml_parser_delete(parser);
    return ERR_PARSE;
}

enum err_code plan_load_buffer(const char *name, const char *data, size_t len,
                               struct plan **out, struct buf *diags,
                               struct err *e)
{
    *out = NULL;
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser))
        return err_set(e, ERR_NOMEM, "%s: cannot start the YAML parser", name);
    yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
    if (!yaml_parser_load(&parser, &doc))
        return plan_yaml_error(name, data, &parser, diags, e);
    struct plan_reader r = {.file = name, .doc = &doc};
    struct plan *p = xcalloc(1, sizeof(*p));
    p->file = xstrdup(name);
    plan_read(&r, p);
    yaml_document_delete(&doc);
    /* A second document would be ignored silently: refuse it. */
    if (!yaml_parser_load(&parser, &doc)) {
        plan_flush_problems(&r, diags, e);
        plan_free(p);
        return plan_yaml_error(name, data, &parser, diags, e);
    }
    yaml_node_t *extra = yaml_document_get_root_node(&doc);
    if (extra != NULL)
        plan_problem(&r, extra,
                     "a second YAML document ('---'): a plan is one "
                     "document");
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
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
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return err_sys(e, "cannot open plan %s", path);
    struct buf b;
    buf_init(&b, PLAN_FILE_MAX);
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        buf_add(&b, chunk, n);
    bool failed = ferror(f);
    fclose(f);
    if (failed) {
        buf_release(&b);
        return err_sys(e, "cannot read plan %s", path);
    }
    if (b.dropped > 0) {
        buf_release(&b);
        return err_set(e, ERR_LIMIT, "%s: plan larger than %d bytes", path,
                       PLAN_FILE_MAX);
    }
    enum err_code rc =
        plan_load_buffer(path, buf_cstr(&b), b.len, out, diags, e);
    buf_release(&b);
    return rc;
}

void plan_free(struct plan *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->nsteps; i++) {
        free(p->steps[i].name);
        free(p->steps[i].run);
    }
    for (size_t i = 0; i < p->nchecks; i++)
        free(p->checks[i].http);
    free(p->steps);
    free(p->checks);
    free(p->waves);
    json_decref(p->vars);
    free(p->file);
    free(p->name);
    free(p->hosts);
    free(p);
}
