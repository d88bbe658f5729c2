/* coordinator/when.c: the `when:` language. A recursive-descent parser
 * that evaluates as it goes, with the filters and subscripts of
 * templates (coordinator/template.c). */
#include "when.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Branches that short-circuit are parsed with skip set: their names
 * are neither looked up nor reported undefined. */
enum { WHEN_DEPTH = 64 };

struct when_ctx {
    const char *s;              /* the condition */
    const char *p;              /* where parsing is */
    template_lookup_fn *lookup; /* NULL: syntax check only */
    void *arg;                  /* its argument */
    template_name_fn *names;    /* names callback, or NULL */
    void *names_arg;            /* its argument */
    int depth;                  /* nesting, bounded */
    struct err *e;              /* first error */
};

bool when_truthy(const json_t *v)
{
    if (v == NULL)
        return false;
    switch (json_typeof(v)) {
    case JSON_NULL:
    case JSON_FALSE:
        return false;
    case JSON_TRUE:
        return true;
    case JSON_INTEGER:
        return json_integer_value(v) != 0;
    case JSON_REAL:
        return json_real_value(v) != 0.0;
    case JSON_STRING:
        return json_string_length(v) > 0;
    case JSON_ARRAY:
        return json_array_size(v) > 0;
    case JSON_OBJECT:
        return json_object_size(v) > 0;
    }
    return false;
}

static enum err_code when_fail(struct when_ctx *c, const char *what)
{
    return err_set(c->e, ERR_PARSE, "column %d: %s in '%s'",
                   (int)(c->p - c->s) + 1, what, c->s);
}

static void when_ws(struct when_ctx *c)
{
    while (isspace((unsigned char)*c->p))
        c->p++;
}

/* Consume the keyword kw if it is next as a whole word. */
static bool when_kw(struct when_ctx *c, const char *kw)
{
    when_ws(c);
    size_t n = strlen(kw);
    if (strncmp(c->p, kw, n) != 0 || isalnum((unsigned char)c->p[n]) ||
        c->p[n] == '_')
        return false;
    c->p += n;
    return true;
}

static bool when_punct(struct when_ctx *c, const char *op)
{
    when_ws(c);
    size_t n = strlen(op);
    if (strncmp(c->p, op, n) != 0)
        return false;
    c->p += n;
    return true;
}

static enum err_code when_or(struct when_ctx *c, bool skip, json_t **out);

/* Numbers compare by value whatever their JSON type. */
static int when_cmp(const json_t *a, const json_t *b, bool *ok)
{
    *ok = true;
    if (json_is_number(a) && json_is_number(b)) {
        double x = json_number_value(a), y = json_number_value(b);
        return x < y ? -1 : x > y;
    }
    if (json_is_string(a) && json_is_string(b))
        return strcmp(json_string_value(a), json_string_value(b));
    *ok = false;
    return 0;
}

static bool when_equal(const json_t *a, const json_t *b)
{
    bool ok;
    int r = when_cmp(a, b, &ok);
    if (ok)
        return r == 0;
    return json_equal(a, b);
}

static enum err_code when_operand(struct when_ctx *c, bool skip, json_t **out);

/* An operand before its filters. A variable name is copied to name (else
 * name is ""), and *out is NULL when it is undefined: a default() may
 * still follow. */
static enum err_code when_primary(struct when_ctx *c, bool skip, json_t **out,
                                  char name[TEMPLATE_EXPR_MAX])
{
    *out = NULL;
    name[0] = '\0';
    when_ws(c);
    const char *p = c->p;
    if (*p == '(') {
        c->p++;
        enum err_code rc = when_or(c, skip, out);
        if (rc != ERR_OK)
            return rc;
        if (!when_punct(c, ")")) {
            json_decref(*out);
            *out = NULL;
            return when_fail(c, "expected ')'");
        }
        return ERR_OK;
    }
    if (*p == '[') {
        c->p++;
        json_t *a = json_array();
        if (!when_punct(c, "]")) {
            for (;;) {
                json_t *v;
                enum err_code rc = when_operand(c, skip, &v);
                if (rc != ERR_OK) {
                    json_decref(a);
                    return rc;
                }
                json_array_append_new(a, v);
                if (when_punct(c, "]"))
                    break;
                if (!when_punct(c, ",")) {
                    json_decref(a);
                    return when_fail(c, "expected ',' or ']'");
                }
            }
        }
        *out = a;
        return ERR_OK;
    }
    if (*p == '\'' || *p == '"') {
        const char *end = strchr(p + 1, *p);
        if (end == NULL)
            return when_fail(c, "unterminated string");
        *out = json_stringn(p + 1, (size_t)(end - p - 1));
        if (*out == NULL)
            return when_fail(c, "string is not UTF-8");
        c->p = end + 1;
        return ERR_OK;
    }
    if (isdigit((unsigned char)*p) ||
        (*p == '-' && isdigit((unsigned char)p[1]))) {
        char *end = NULL;
        long long v = strtoll(p, &end, 10);
        if (*end == '.') {
            *out = json_real(strtod(p, &end));
        } else {
            *out = json_integer(v);
        }
        c->p = end;
        return ERR_OK;
    }
    if (*p == '{')
        return when_fail(c, "a condition is written without '{{ }}' "
                            "(when: name == 'x')");
    if (!template_ident(&c->p, c->p + strlen(c->p), name, TEMPLATE_EXPR_MAX))
        return when_fail(c, "expected a name, a 'string' or a number");
    if (strcmp(name, "true") == 0 || strcmp(name, "True") == 0)
        *out = json_true();
    else if (strcmp(name, "false") == 0 || strcmp(name, "False") == 0)
        *out = json_false();
    else if (strcmp(name, "none") == 0 || strcmp(name, "None") == 0)
        *out = json_null();
    if (*out != NULL) {
        name[0] = '\0';
        return ERR_OK;
    }
    /* `name is [not] defined` tests definedness, never fails */
    const char *save = c->p;
    if (when_kw(c, "is")) {
        bool neg = when_kw(c, "not");
        if (!when_kw(c, "defined"))
            return when_fail(c, "expected 'defined' after 'is'");
        if (c->names != NULL)
            c->names(name, true, c->names_arg);
        bool def =
            !skip && c->lookup != NULL && c->lookup(name, c->arg) != NULL;
        *out = json_boolean(neg ? !def : def);
        name[0] = '\0';
        return ERR_OK;
    }
    c->p = save;
    if (skip || c->lookup == NULL) {
        *out = json_null();
        return ERR_OK;
    }
    json_t *v = c->lookup(name, c->arg);
    *out = v != NULL ? json_incref(v) : NULL;
    return ERR_OK;
}

static enum err_code when_undefined(struct when_ctx *c, const char *name)
{
    return err_set(c->e, ERR_NOTFOUND,
                   "undefined variable '%s' in condition '%s' (test it "
                   "with '%s is defined' or define it)",
                   name, c->s, name);
}

/* The filters after an operand, parsed before any applies. */
struct when_chain {
    enum template_filter f[TEMPLATE_FILTERS_MAX]; /* all but default */
    int col[TEMPLATE_FILTERS_MAX];                /* where each is */
    size_t n;                                     /* entries used */
    json_t *deflt; /* default()'s value, or NULL */
};

/* One filter after '|' into ch; default()'s argument is an operand. */
static enum err_code when_filter(struct when_ctx *c, bool skip,
                                 struct when_chain *ch)
{
    when_ws(c);
    const char *at = c->p;
    int col = (int)(at - c->s) + 1;
    char fname[32];
    if (!template_ident(&c->p, c->p + strlen(c->p), fname, sizeof(fname)))
        return when_fail(c, "expected a filter after '|'");
    char where[TEMPLATE_EXPR_MAX + 8];
    snprintf(where, sizeof(where), " in '%s'", c->s);
    enum template_filter f;
    if (template_filter_find(fname, col, where, &f, c->e) != ERR_OK)
        return ERR_PARSE;
    if (f != TEMPLATE_F_DEFAULT) {
        if (ch->n == TEMPLATE_FILTERS_MAX)
            return when_fail(c, "too many filters on one operand");
        ch->col[ch->n] = col;
        ch->f[ch->n++] = f;
        return ERR_OK;
    }
    if (!when_punct(c, "("))
        return when_fail(c, "default needs a value: default('x')");
    json_t *arg = NULL;
    enum err_code rc = when_operand(c, skip, &arg);
    if (rc != ERR_OK)
        return rc;
    if (!when_punct(c, ")")) {
        json_decref(arg);
        return when_fail(c, "expected ')' after default value");
    }
    /* the first default() is the one that counts, as in a template */
    if (ch->deflt == NULL)
        ch->deflt = arg;
    else
        json_decref(arg);
    return ERR_OK;
}

/* Whether a subscript follows: '[' or '.' then a name (not a number). */
static bool when_sub_next(struct when_ctx *c)
{
    const char *p = c->p;
    while (isspace((unsigned char)*p))
        p++;
    return *p == '[' ||
           (*p == '.' && (isalpha((unsigned char)p[1]) || p[1] == '_'));
}

/* One subscript of *out: `[operand]` or `.name`. An element that is not
 * there makes *out NULL (undefined: default() may follow) and sets
 * *missing. A syntax check or skipped branch only parses. */
static enum err_code when_sub(struct when_ctx *c, bool skip, json_t **out,
                              bool *missing)
{
    json_t *key = NULL;
    when_ws(c);
    if (*c->p == '.') {
        c->p++;
        char k[TEMPLATE_EXPR_MAX];
        if (!template_ident(&c->p, c->p + strlen(c->p), k, sizeof(k)))
            return when_fail(c, "expected a name after '.'");
        key = json_string(k);
    } else {
        c->p++;
        enum err_code rc = when_operand(c, skip, &key);
        if (rc != ERR_OK)
            return rc;
        if (!when_punct(c, "]")) {
            json_decref(key);
            return when_fail(c, "expected ']'");
        }
    }
    if (!skip && c->lookup != NULL && *out != NULL) {
        json_t *v = template_index(*out, key);
        json_decref(*out);
        *out = v != NULL ? json_incref(v) : NULL;
        *missing = v == NULL;
    }
    json_decref(key);
    return ERR_OK;
}

/* An operand and its filters: `version | int`, `groups | default([])`.
 * As in a template, default() stands for the name itself wherever it is
 * written in the chain; the other filters apply in order. */
static enum err_code when_operand(struct when_ctx *c, bool skip, json_t **out)
{
    if (++c->depth > WHEN_DEPTH) {
        c->depth--;
        return when_fail(c, "condition nested too deeply");
    }
    char name[TEMPLATE_EXPR_MAX];
    struct when_chain ch = {.n = 0};
    when_ws(c);
    const char *start = c->p;
    enum err_code rc = when_primary(c, skip, out, name);
    bool missing = false; /* a subscript found no element */
    while (rc == ERR_OK && when_sub_next(c))
        rc = when_sub(c, skip, out, &missing);
    char text[TEMPLATE_EXPR_MAX] = "";
    if (rc == ERR_OK && missing)
        snprintf(text, sizeof(text), "%.*s", (int)(c->p - start), start);
    while (rc == ERR_OK && when_punct(c, "|"))
        rc = when_filter(c, skip, &ch);
    c->depth--;
    if (rc == ERR_OK && name[0] != '\0' && c->names != NULL)
        c->names(name, ch.deflt != NULL, c->names_arg);
    if (rc == ERR_OK && *out == NULL) {
        *out = ch.deflt;
        ch.deflt = NULL;
        if (*out == NULL && missing)
            rc = err_set(c->e, ERR_NOTFOUND,
                         "undefined: %s has no such key or index in "
                         "condition '%s' (guard it with default())",
                         text, c->s);
        else if (*out == NULL)
            rc = when_undefined(c, name);
    }
    json_decref(ch.deflt);
    /* a skipped branch, or a syntax check, has no values to filter */
    for (size_t i = 0; rc == ERR_OK && !skip && c->lookup != NULL && i < ch.n;
         i++) {
        json_t *next = NULL;
        rc = template_filter_apply(ch.f[i], *out, ch.col[i], &next, c->e);
        json_decref(*out);
        *out = next;
    }
    if (rc != ERR_OK) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

static enum err_code when_compare(struct when_ctx *c, bool skip, json_t **out)
{
    json_t *a = NULL, *b = NULL;
    enum err_code rc = when_operand(c, skip, &a);
    if (rc != ERR_OK)
        return rc;
    static const char *const ops[] = {"==", "!=", "<=", ">=", "<", ">"};
    int op = -1;
    for (int i = 0; i < 6 && op < 0; i++)
        if (when_punct(c, ops[i]))
            op = i;
    bool in = false, notin = false;
    if (op < 0) {
        const char *save = c->p;
        if (when_kw(c, "in"))
            in = true;
        else if (when_kw(c, "not") && when_kw(c, "in"))
            notin = true;
        else
            c->p = save;
    }
    if (op < 0 && !in && !notin) {
        *out = a;
        return ERR_OK;
    }
    rc = when_operand(c, skip, &b);
    if (rc != ERR_OK) {
        json_decref(a);
        return rc;
    }
    bool r = false;
    if (!skip && c->lookup != NULL) {
        if (in || notin) {
            if (json_is_array(b)) {
                size_t i;
                json_t *x;
                json_array_foreach(b, i, x) r |= when_equal(a, x);
            } else if (json_is_string(b) && json_is_string(a)) {
                r = strstr(json_string_value(b), json_string_value(a)) != NULL;
            } else if (json_is_object(b) && json_is_string(a)) {
                r = json_object_get(b, json_string_value(a)) != NULL;
            }
            r = notin ? !r : r;
        } else if (op <= 1) {
            r = when_equal(a, b) == (op == 0);
        } else {
            bool ok;
            int cmp = when_cmp(a, b, &ok);
            if (!ok) {
                json_decref(a);
                json_decref(b);
                return when_fail(c, "cannot order these values "
                                    "(compare numbers or strings)");
            }
            r = op == 2   ? cmp <= 0
                : op == 3 ? cmp >= 0
                : op == 4 ? cmp < 0
                          : cmp > 0;
        }
    }
    json_decref(a);
    json_decref(b);
    *out = json_boolean(r);
    return ERR_OK;
}

static enum err_code when_not(struct when_ctx *c, bool skip, json_t **out)
{
    if (++c->depth > WHEN_DEPTH) {
        c->depth--;
        return when_fail(c, "condition nested too deeply");
    }
    enum err_code rc;
    const char *save = c->p;
    if (when_kw(c, "not")) {
        /* `not in` belongs to a comparison, never starts an operand */
        json_t *v = NULL;
        rc = when_not(c, skip, &v);
        if (rc == ERR_OK) {
            *out = json_boolean(!when_truthy(v));
            json_decref(v);
        }
    } else {
        c->p = save;
        rc = when_compare(c, skip, out);
    }
    c->depth--;
    return rc;
}

static enum err_code when_and(struct when_ctx *c, bool skip, json_t **out)
{
    enum err_code rc = when_not(c, skip, out);
    while (rc == ERR_OK && when_kw(c, "and")) {
        bool t = when_truthy(*out);
        json_t *b = NULL;
        rc = when_not(c, skip || !t, &b);
        if (rc == ERR_OK && t) {
            json_decref(*out);
            *out = b;
        } else {
            json_decref(b);
        }
    }
    if (rc != ERR_OK) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

static enum err_code when_or(struct when_ctx *c, bool skip, json_t **out)
{
    enum err_code rc = when_and(c, skip, out);
    while (rc == ERR_OK && when_kw(c, "or")) {
        bool t = when_truthy(*out);
        json_t *b = NULL;
        rc = when_and(c, skip || t, &b);
        if (rc == ERR_OK && !t) {
            json_decref(*out);
            *out = b;
        } else {
            json_decref(b);
        }
    }
    if (rc != ERR_OK) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

static enum err_code when_run(struct when_ctx *c, bool *out)
{
    json_t *v = NULL;
    when_ws(c);
    if (*c->p == '\0')
        return when_fail(c, "empty condition");
    enum err_code rc = when_or(c, false, &v);
    if (rc != ERR_OK)
        return rc;
    when_ws(c);
    if (*c->p != '\0') {
        json_decref(v);
        return when_fail(c, "unexpected text (combine tests with "
                            "'and', 'or', 'not')");
    }
    if (out != NULL)
        *out = when_truthy(v);
    json_decref(v);
    return ERR_OK;
}

enum err_code when_eval(const char *cond, template_lookup_fn *lookup, void *arg,
                        bool *out, struct err *e)
{
    struct when_ctx c = {
        .s = cond, .p = cond, .lookup = lookup, .arg = arg, .e = e};
    *out = false;
    return when_run(&c, out);
}

enum err_code when_names(const char *cond, template_name_fn *fn, void *arg,
                         struct err *e)
{
    struct when_ctx c = {
        .s = cond, .p = cond, .names = fn, .names_arg = arg, .e = e};
    return when_run(&c, NULL);
}
