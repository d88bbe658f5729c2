/* coordinator/template.c: render `{{ name | filter }}` expressions. */
#include "template.h"

#include "buf.h"
#include "shquote.h"
#include "suggest.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { TEMPLATE_EXPR_MAX = 256, TEMPLATE_FILTERS_MAX = 8 };

/* Past spaces and tabs in a NUL-terminated string. */
static const char *template_skip_blank(const char *p)
{
    while (isspace((unsigned char)*p))
        p++;
    return p;
}

/* A real as Python prints it (Jinja's rendering): the shortest text that
 * reads back as the same number, positional below 1e16, with a ".0" when
 * it would look like an integer. */
static char *template_real_str(double d)
{
    char s[64];
    int prec = 1;
    for (; prec < 17; prec++) {
        snprintf(s, sizeof(s), "%.*g", prec, d);
        if (strtod(s, NULL) == d)
            break;
    }
    /* Python writes an exponent only from 1e16 up or below 1e-4. */
    double mag = d < 0 ? -d : d;
    snprintf(s, sizeof(s), "%.*g", prec, d);
    while (mag >= 1e-4 && mag < 1e16 && strchr(s, 'e') != NULL && prec < 17)
        snprintf(s, sizeof(s), "%.*g", ++prec, d);
    if (strpbrk(s, ".eni") == NULL)
        return xasprintf("%s.0", s);
    return xstrdup(s);
}

char *template_value_str(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        return xstrndup(json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        return xasprintf("%lld", (long long)json_integer_value(v));
    case JSON_REAL:
        return template_real_str(json_real_value(v));
    case JSON_TRUE:
        return xstrdup("True");
    case JSON_FALSE:
        return xstrdup("False");
    case JSON_NULL:
        return xstrdup("");
    default: {
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        return s ? s : xstrdup("");
    }
    }
}

/* The filters, shared by `{{ }}` and `when:` (template.h). */
enum template_filter {
    TEMPLATE_F_DEFAULT, /* default(x), d(x): x when the name is undefined */
    TEMPLATE_F_QUOTE,   /* POSIX shell quoting of the text */
    TEMPLATE_F_INT,     /* a whole number (Jinja's int: 0 when not one) */
    TEMPLATE_F_BOOL,    /* Ansible's bool: 'yes', 'on', '1', 'true' */
    TEMPLATE_F_STRING,  /* the text the value renders as */
    TEMPLATE_F_LENGTH   /* characters of a string, items of a list or map */
};

/* Filter names, in enum order; "d" is default's short name. */
static const char *const template_filter_names[] = {
    "default", "quote", "int", "bool", "string", "length", NULL};

/* Find filter name; an unknown one is an error at column col (with where
 * after the name, "" or " in 'cond'"), with the nearest known name. */
static enum err_code template_filter_find(const char *name, int col,
                                          const char *where,
                                          enum template_filter *out,
                                          struct err *e)
{
    if (strcmp(name, "d") == 0) {
        *out = TEMPLATE_F_DEFAULT;
        return ERR_OK;
    }
    for (int i = 0; template_filter_names[i] != NULL; i++)
        if (strcmp(name, template_filter_names[i]) == 0) {
            *out = (enum template_filter)i;
            return ERR_OK;
        }
    const char *near = suggest_nearest(name, template_filter_names);
    if (near != NULL)
        return err_set(e, ERR_PARSE,
                       "column %d: unknown filter '%s'%s; did you mean '%s'?",
                       col, name, where, near);
    return err_set(e, ERR_PARSE,
                   "column %d: unknown filter '%s'%s (known: default, quote, "
                   "int, bool, string, length)",
                   col, name, where);
}

/* Jinja's int: a whole number, a real cut toward zero, a string that
 * reads as either, true 1; anything else 0. */
static json_int_t template_int_of(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_INTEGER:
        return json_integer_value(v);
    case JSON_REAL: {
        double d = json_real_value(v);
        return isfinite(d) && fabs(d) < 9e18 ? (json_int_t)d : 0;
    }
    case JSON_TRUE:
        return 1;
    case JSON_STRING: {
        const char *s = json_string_value(v);
        char *end = NULL;
        long long n = strtoll(s, &end, 10);
        if (end != s && *template_skip_blank(end) == '\0')
            return n;
        double d = strtod(s, &end);
        if (end != s && *template_skip_blank(end) == '\0' && isfinite(d) &&
            fabs(d) < 9e18)
            return (json_int_t)d;
        return 0;
    }
    default:
        return 0;
    }
}

/* Ansible's bool: null stays null, booleans are themselves, 'yes', 'on',
 * '1', 'true' (any case) and the number 1 are true, the rest false. */
static json_t *template_bool_of(const json_t *v)
{
    if (json_is_null(v) || json_is_boolean(v))
        return json_incref((json_t *)v);
    if (json_is_number(v))
        return json_boolean(json_number_value(v) == 1.0);
    if (!json_is_string(v))
        return json_false();
    static const char *const yes[] = {"yes", "on", "1", "true", NULL};
    for (const char *const *y = yes; *y; y++)
        if (strcasecmp(json_string_value(v), *y) == 0)
            return json_true();
    return json_false();
}

/* Apply f (not default) to the defined value v; *out is a new reference.
 * A length of a number, boolean or null is an error at column col. */
static enum err_code template_filter_apply(enum template_filter f,
                                           const json_t *v, int col,
                                           json_t **out, struct err *e)
{
    *out = NULL;
    char *s = NULL;
    switch (f) {
    case TEMPLATE_F_DEFAULT:
        *out = json_incref((json_t *)v);
        break;
    case TEMPLATE_F_QUOTE:
    case TEMPLATE_F_STRING: {
        char *text = template_value_str(v);
        s = f == TEMPLATE_F_QUOTE ? shquote(text) : xstrdup(text);
        free(text);
        *out = json_stringn_nocheck(s, strlen(s));
        free(s);
        break;
    }
    case TEMPLATE_F_INT:
        *out = json_integer(template_int_of(v));
        break;
    case TEMPLATE_F_BOOL:
        *out = template_bool_of(v);
        break;
    case TEMPLATE_F_LENGTH:
        if (json_is_string(v)) {
            /* characters, as Python counts them: UTF-8 lead bytes */
            json_int_t n = 0;
            const char *p = json_string_value(v);
            for (size_t i = 0; i < json_string_length(v); i++)
                n += ((unsigned char)p[i] & 0xC0) != 0x80;
            *out = json_integer(n);
        } else if (json_is_array(v)) {
            *out = json_integer((json_int_t)json_array_size(v));
        } else if (json_is_object(v)) {
            *out = json_integer((json_int_t)json_object_size(v));
        } else {
            return err_set(e, ERR_PARSE,
                           "column %d: length of %s (length takes a string, "
                           "a list or a mapping)",
                           col,
                           json_is_null(v)      ? "none"
                           : json_is_boolean(v) ? "a boolean"
                                                : "a number");
        }
        break;
    }
    return ERR_OK;
}

/* One parsed expression: name and filters. */
/* One subscript after a name: `['key']`, `.key` or `[index]`. */
struct template_sub {
    char key[TEMPLATE_EXPR_MAX]; /* a mapping key, when !is_index */
    long index;                  /* a list index (negative: from the end) */
    bool is_index;               /* [N] rather than a key */
};

enum { TEMPLATE_SUBS_MAX = 4 };

struct template_expr {
    char name[TEMPLATE_EXPR_MAX];                       /* variable name */
    char text[TEMPLATE_EXPR_MAX];                       /* name and subscripts
                                                           as written */
    struct template_sub subs[TEMPLATE_SUBS_MAX];        /* subscripts */
    size_t nsubs;                                       /* entries used */
    bool has_default;                                   /* default(x) given */
    char deflt[TEMPLATE_EXPR_MAX];                      /* its argument */
    enum template_filter filters[TEMPLATE_FILTERS_MAX]; /* the others, in
                                                           order */
    size_t nfilters;                                    /* entries used */
    int col;                                            /* the '{{' */
};

static const char *template_skip_ws(const char *p, const char *end)
{
    while (p < end && isspace((unsigned char)*p))
        p++;
    return p;
}

/* The element of v that key names (a string for a mapping, an integer for
 * a list, negative from the end as in Python), borrowed; NULL when there
 * is none: the expression is then undefined, as in Jinja. */
static json_t *template_index(const json_t *v, const json_t *key)
{
    if (json_is_object(v) && json_is_string(key))
        return json_object_get(v, json_string_value(key));
    if (json_is_array(v) && json_is_integer(key)) {
        json_int_t i = json_integer_value(key);
        json_int_t n = (json_int_t)json_array_size(v);
        if (i < 0)
            i += n;
        return i >= 0 && i < n ? json_array_get(v, (size_t)i) : NULL;
    }
    return NULL;
}

static bool template_ident(const char **pp, const char *end, char *out,
                           size_t outlen)
{
    const char *p = *pp;
    size_t n = 0;
    if (p >= end || !(isalpha((unsigned char)*p) || *p == '_'))
        return false;
    while (p < end && (isalnum((unsigned char)*p) || *p == '_')) {
        if (n + 1 >= outlen)
            return false;
        out[n++] = *p++;
    }
    out[n] = '\0';
    *pp = p;
    return true;
}

/* Subscripts after a name in a template: `['k']`, `["k"]`, `[N]`, `.k`;
 * *pp moves past them. */
static enum err_code template_parse_subs(const char **pp, const char *end,
                                         int col, struct template_expr *x,
                                         struct err *e)
{
    const char *p = *pp;
    while (p < end && (*p == '[' || *p == '.')) {
        if (x->nsubs == TEMPLATE_SUBS_MAX)
            return err_set(e, ERR_PARSE,
                           "column %d: more than %d subscripts after '%s'", col,
                           TEMPLATE_SUBS_MAX, x->name);
        struct template_sub *sub = &x->subs[x->nsubs++];
        if (*p == '.') {
            p++;
            if (!template_ident(&p, end, sub->key, sizeof(sub->key)))
                return err_set(e, ERR_PARSE,
                               "column %d: expected a name after '.'", col);
            continue;
        }
        p = template_skip_ws(p + 1, end);
        if (p < end && (*p == '\'' || *p == '"')) {
            char q = *p++;
            size_t n = 0;
            while (p < end && *p != q && n + 1 < sizeof(sub->key))
                sub->key[n++] = *p++;
            if (p == end || *p != q)
                return err_set(e, ERR_PARSE,
                               "column %d: unterminated string in '[...]'",
                               col);
            sub->key[n] = '\0';
            p++;
        } else {
            char *num_end = NULL;
            char buf[32];
            size_t n = 0;
            while (p + n < end && n + 1 < sizeof(buf) &&
                   (isdigit((unsigned char)p[n]) || (n == 0 && p[n] == '-')))
                n++;
            memcpy(buf, p, n);
            buf[n] = '\0';
            sub->index = strtol(buf, &num_end, 10);
            if (n == 0 || *num_end != '\0')
                return err_set(e, ERR_PARSE,
                               "column %d: expected 'key' or a number in "
                               "'[...]'",
                               col);
            sub->is_index = true;
            p += n;
        }
        p = template_skip_ws(p, end);
        if (p == end || *p != ']')
            return err_set(e, ERR_PARSE, "column %d: expected ']'", col);
        p++;
    }
    *pp = p;
    return ERR_OK;
}

static enum err_code template_parse_expr(const char *s, const char *end,
                                         const char *tmpl,
                                         struct template_expr *x, struct err *e)
{
    memset(x, 0, sizeof(*x));
    int col = (int)(s - tmpl) - 1; /* the '{{' before s */
    x->col = col;
    const char *p = template_skip_ws(s, end);
    const char *start = p;
    if (!template_ident(&p, end, x->name, sizeof(x->name)))
        return err_set(e, ERR_PARSE,
                       "column %d: expected a variable name in '{{%.*s}}'", col,
                       (int)(end - s), s);
    if (template_parse_subs(&p, end, col, x, e) != ERR_OK)
        return ERR_PARSE;
    snprintf(x->text, sizeof(x->text), "%.*s", (int)(p - start), start);
    for (;;) {
        p = template_skip_ws(p, end);
        if (p == end)
            return ERR_OK;
        if (*p != '|')
            return err_set(e, ERR_PARSE,
                           "column %d: unexpected '%c' in '{{%.*s}}' (only "
                           "'name' and '| filter' are supported)",
                           col, *p, (int)(end - s), s);
        p = template_skip_ws(p + 1, end);
        char filter[32];
        if (!template_ident(&p, end, filter, sizeof(filter)))
            return err_set(e, ERR_PARSE,
                           "column %d: expected a filter after '|' in "
                           "'{{%.*s}}'",
                           col, (int)(end - s), s);
        enum template_filter f;
        if (template_filter_find(filter, col, "", &f, e) != ERR_OK)
            return ERR_PARSE;
        if (f != TEMPLATE_F_DEFAULT) {
            if (x->nfilters == TEMPLATE_FILTERS_MAX)
                return err_set(e, ERR_PARSE,
                               "column %d: more than %d filters in one "
                               "expression",
                               col, TEMPLATE_FILTERS_MAX);
            x->filters[x->nfilters++] = f;
            continue;
        }
        p = template_skip_ws(p, end);
        if (p == end || *p != '(')
            return err_set(e, ERR_PARSE,
                           "column %d: default needs a value: "
                           "default('x')",
                           col);
        p = template_skip_ws(p + 1, end);
        size_t n = 0;
        if (p < end && (*p == '\'' || *p == '"')) {
            char q = *p++;
            while (p < end && *p != q) {
                if (n + 1 >= sizeof(x->deflt))
                    return err_set(e, ERR_PARSE,
                                   "column %d: default value too long", col);
                x->deflt[n++] = *p++;
            }
            if (p == end)
                return err_set(e, ERR_PARSE,
                               "column %d: unterminated string in default()",
                               col);
            p++;
        } else {
            while (p < end && *p != ')' && !isspace((unsigned char)*p)) {
                if (n + 1 >= sizeof(x->deflt))
                    return err_set(e, ERR_PARSE,
                                   "column %d: default value too long", col);
                x->deflt[n++] = *p++;
            }
        }
        x->deflt[n] = '\0';
        p = template_skip_ws(p, end);
        if (p == end || *p != ')')
            return err_set(e, ERR_PARSE,
                           "column %d: expected ')' after default value", col);
        p++;
        x->has_default = true;
    }
}

/* Walk tmpl, calling on_text for literal runs and on_expr for each
 * expression. */
typedef enum err_code template_text_fn(const char *s, size_t n, void *arg);
typedef enum err_code template_expr_fn(const struct template_expr *x, void *arg,
                                       struct err *e);

static enum err_code template_walk(const char *tmpl, template_text_fn *on_text,
                                   template_expr_fn *on_expr, void *arg,
                                   struct err *e)
{
    const char *p = tmpl;
    for (;;) {
        const char *open = strstr(p, "{{");
        if (open == NULL) {
            if (on_text)
                on_text(p, strlen(p), arg);
            return ERR_OK;
        }
        if (on_text)
            on_text(p, (size_t)(open - p), arg);
        const char *close = strstr(open + 2, "}}");
        if (close == NULL)
            return err_set(e, ERR_PARSE,
                           "column %d: '{{' without a closing '}}'",
                           (int)(open - tmpl) + 1);
        struct template_expr x;
        enum err_code rc = template_parse_expr(open + 2, close, tmpl, &x, e);
        if (rc != ERR_OK)
            return rc;
        rc = on_expr(&x, arg, e);
        if (rc != ERR_OK)
            return rc;
        p = close + 2;
    }
}

struct template_render_ctx {
    struct buf out;             /* rendered text */
    template_lookup_fn *lookup; /* variable source */
    void *arg;                  /* its argument */
};

static enum err_code template_render_text(const char *s, size_t n, void *arg)
{
    struct template_render_ctx *c = arg;
    buf_add(&c->out, s, n);
    return ERR_OK;
}

static enum err_code template_render_expr(const struct template_expr *x,
                                          void *arg, struct err *e)
{
    struct template_render_ctx *c = arg;
    json_t *v = c->lookup(x->name, c->arg);
    for (size_t i = 0; v != NULL && i < x->nsubs; i++) {
        const struct template_sub *sub = &x->subs[i];
        json_t *key =
            sub->is_index ? json_integer(sub->index) : json_string(sub->key);
        v = template_index(v, key);
        json_decref(key);
        if (v == NULL && !x->has_default)
            return err_set(e, ERR_NOTFOUND,
                           "undefined: %s has no such key or index (guard "
                           "it with default())",
                           x->text);
    }
    /* default() stands for the name itself, wherever it is written in
     * the chain: `{{ x | quote | default('a b') }}` quotes the default */
    if (v == NULL && !x->has_default)
        return err_set(e, ERR_NOTFOUND,
                       "undefined variable '%s' (define it in the "
                       "inventory, the plan's vars or with -e %s=...)",
                       x->name, x->name);
    v = v == NULL ? json_stringn_nocheck(x->deflt, strlen(x->deflt))
                  : json_incref(v);
    for (size_t i = 0; i < x->nfilters; i++) {
        json_t *next;
        enum err_code rc =
            template_filter_apply(x->filters[i], v, x->col, &next, e);
        json_decref(v);
        if (rc != ERR_OK)
            return rc;
        v = next;
    }
    char *s = template_value_str(v);
    json_decref(v);
    buf_adds(&c->out, s);
    free(s);
    return ERR_OK;
}

enum err_code template_render(const char *tmpl, template_lookup_fn *lookup,
                              void *arg, char **out, struct err *e)
{
    struct template_render_ctx c = {.lookup = lookup, .arg = arg};
    buf_init(&c.out, BUF_UNLIMITED);
    *out = NULL;
    enum err_code rc =
        template_walk(tmpl, template_render_text, template_render_expr, &c, e);
    if (rc != ERR_OK) {
        buf_release(&c.out);
        return rc;
    }
    *out = buf_detach(&c.out);
    return ERR_OK;
}

struct template_names_ctx {
    template_name_fn *fn; /* callback */
    void *arg;            /* its argument */
};

static enum err_code template_names_expr(const struct template_expr *x,
                                         void *arg, struct err *e)
{
    (void)e;
    struct template_names_ctx *c = arg;
    if (c->fn != NULL)
        c->fn(x->name, x->has_default, c->arg);
    return ERR_OK;
}

enum err_code template_names(const char *tmpl, template_name_fn *fn, void *arg,
                             struct err *e)
{
    struct template_names_ctx c = {fn, arg};
    return template_walk(tmpl, NULL, template_names_expr, &c, e);
}

/* Conditions (`when:`): a recursive-descent parser that evaluates as it
 * goes. Branches that short-circuit are parsed with skip set: their names
 * are neither looked up nor reported undefined. */
enum { TEMPLATE_COND_DEPTH = 64 };

struct template_cond_ctx {
    const char *s;              /* the condition */
    const char *p;              /* where parsing is */
    template_lookup_fn *lookup; /* NULL: syntax check only */
    void *arg;                  /* its argument */
    template_name_fn *names;    /* names callback, or NULL */
    void *names_arg;            /* its argument */
    int depth;                  /* nesting, bounded */
    struct err *e;              /* first error */
};

bool template_truthy(const json_t *v)
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

static enum err_code template_cond_fail(struct template_cond_ctx *c,
                                        const char *what)
{
    return err_set(c->e, ERR_PARSE, "column %d: %s in '%s'",
                   (int)(c->p - c->s) + 1, what, c->s);
}

static void template_cond_ws(struct template_cond_ctx *c)
{
    while (isspace((unsigned char)*c->p))
        c->p++;
}

/* Consume the keyword kw if it is next as a whole word. */
static bool template_cond_kw(struct template_cond_ctx *c, const char *kw)
{
    template_cond_ws(c);
    size_t n = strlen(kw);
    if (strncmp(c->p, kw, n) != 0 || isalnum((unsigned char)c->p[n]) ||
        c->p[n] == '_')
        return false;
    c->p += n;
    return true;
}

static bool template_cond_punct(struct template_cond_ctx *c, const char *op)
{
    template_cond_ws(c);
    size_t n = strlen(op);
    if (strncmp(c->p, op, n) != 0)
        return false;
    c->p += n;
    return true;
}

static enum err_code template_cond_or(struct template_cond_ctx *c, bool skip,
                                      json_t **out);

/* Numbers compare by value whatever their JSON type. */
static int template_cond_cmp(const json_t *a, const json_t *b, bool *ok)
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

static bool template_cond_equal(const json_t *a, const json_t *b)
{
    bool ok;
    int r = template_cond_cmp(a, b, &ok);
    if (ok)
        return r == 0;
    return json_equal(a, b);
}

static enum err_code template_cond_operand(struct template_cond_ctx *c,
                                           bool skip, json_t **out);

/* An operand before its filters. A variable name is copied to name (else
 * name is ""), and *out is NULL when it is undefined: a default() may
 * still follow. */
static enum err_code template_cond_primary(struct template_cond_ctx *c,
                                           bool skip, json_t **out,
                                           char name[TEMPLATE_EXPR_MAX])
{
    *out = NULL;
    name[0] = '\0';
    template_cond_ws(c);
    const char *p = c->p;
    if (*p == '(') {
        c->p++;
        enum err_code rc = template_cond_or(c, skip, out);
        if (rc != ERR_OK)
            return rc;
        if (!template_cond_punct(c, ")")) {
            json_decref(*out);
            *out = NULL;
            return template_cond_fail(c, "expected ')'");
        }
        return ERR_OK;
    }
    if (*p == '[') {
        c->p++;
        json_t *a = json_array();
        if (!template_cond_punct(c, "]")) {
            for (;;) {
                json_t *v;
                enum err_code rc = template_cond_operand(c, skip, &v);
                if (rc != ERR_OK) {
                    json_decref(a);
                    return rc;
                }
                json_array_append_new(a, v);
                if (template_cond_punct(c, "]"))
                    break;
                if (!template_cond_punct(c, ",")) {
                    json_decref(a);
                    return template_cond_fail(c, "expected ',' or ']'");
                }
            }
        }
        *out = a;
        return ERR_OK;
    }
    if (*p == '\'' || *p == '"') {
        const char *end = strchr(p + 1, *p);
        if (end == NULL)
            return template_cond_fail(c, "unterminated string");
        *out = json_stringn(p + 1, (size_t)(end - p - 1));
        if (*out == NULL)
            return template_cond_fail(c, "string is not UTF-8");
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
        return template_cond_fail(c, "a condition is written without '{{ }}' "
                                     "(when: name == 'x')");
    if (!template_ident(&c->p, c->p + strlen(c->p), name, TEMPLATE_EXPR_MAX))
        return template_cond_fail(c, "expected a name, a 'string' or a number");
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
    if (template_cond_kw(c, "is")) {
        bool neg = template_cond_kw(c, "not");
        if (!template_cond_kw(c, "defined"))
            return template_cond_fail(c, "expected 'defined' after 'is'");
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

static enum err_code template_cond_undefined(struct template_cond_ctx *c,
                                             const char *name)
{
    return err_set(c->e, ERR_NOTFOUND,
                   "undefined variable '%s' in condition '%s' (test it "
                   "with '%s is defined' or define it)",
                   name, c->s, name);
}

/* The filters after an operand, parsed before any applies. */
struct template_cond_chain {
    enum template_filter f[TEMPLATE_FILTERS_MAX]; /* all but default */
    int col[TEMPLATE_FILTERS_MAX];                /* where each is */
    size_t n;                                     /* entries used */
    json_t *deflt; /* default()'s value, or NULL */
};

/* One filter after '|' into ch; default()'s argument is an operand. */
static enum err_code template_cond_filter(struct template_cond_ctx *c,
                                          bool skip,
                                          struct template_cond_chain *ch)
{
    template_cond_ws(c);
    const char *at = c->p;
    int col = (int)(at - c->s) + 1;
    char fname[32];
    if (!template_ident(&c->p, c->p + strlen(c->p), fname, sizeof(fname)))
        return template_cond_fail(c, "expected a filter after '|'");
    char where[TEMPLATE_EXPR_MAX + 8];
    snprintf(where, sizeof(where), " in '%s'", c->s);
    enum template_filter f;
    if (template_filter_find(fname, col, where, &f, c->e) != ERR_OK)
        return ERR_PARSE;
    if (f != TEMPLATE_F_DEFAULT) {
        if (ch->n == TEMPLATE_FILTERS_MAX)
            return template_cond_fail(c, "too many filters on one operand");
        ch->col[ch->n] = col;
        ch->f[ch->n++] = f;
        return ERR_OK;
    }
    if (!template_cond_punct(c, "("))
        return template_cond_fail(c, "default needs a value: default('x')");
    json_t *arg = NULL;
    enum err_code rc = template_cond_operand(c, skip, &arg);
    if (rc != ERR_OK)
        return rc;
    if (!template_cond_punct(c, ")")) {
        json_decref(arg);
        return template_cond_fail(c, "expected ')' after default value");
    }
    /* the first default() is the one that counts, as in a template */
    if (ch->deflt == NULL)
        ch->deflt = arg;
    else
        json_decref(arg);
    return ERR_OK;
}

/* Whether a subscript follows: '[' or '.' then a name (not a number). */
static bool template_cond_sub_next(struct template_cond_ctx *c)
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
static enum err_code template_cond_sub(struct template_cond_ctx *c, bool skip,
                                       json_t **out, bool *missing)
{
    json_t *key = NULL;
    template_cond_ws(c);
    if (*c->p == '.') {
        c->p++;
        char k[TEMPLATE_EXPR_MAX];
        if (!template_ident(&c->p, c->p + strlen(c->p), k, sizeof(k)))
            return template_cond_fail(c, "expected a name after '.'");
        key = json_string(k);
    } else {
        c->p++;
        enum err_code rc = template_cond_operand(c, skip, &key);
        if (rc != ERR_OK)
            return rc;
        if (!template_cond_punct(c, "]")) {
            json_decref(key);
            return template_cond_fail(c, "expected ']'");
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
static enum err_code template_cond_operand(struct template_cond_ctx *c,
                                           bool skip, json_t **out)
{
    if (++c->depth > TEMPLATE_COND_DEPTH) {
        c->depth--;
        return template_cond_fail(c, "condition nested too deeply");
    }
    char name[TEMPLATE_EXPR_MAX];
    struct template_cond_chain ch = {.n = 0};
    template_cond_ws(c);
    const char *start = c->p;
    enum err_code rc = template_cond_primary(c, skip, out, name);
    bool missing = false; /* a subscript found no element */
    while (rc == ERR_OK && template_cond_sub_next(c))
        rc = template_cond_sub(c, skip, out, &missing);
    char text[TEMPLATE_EXPR_MAX] = "";
    if (rc == ERR_OK && missing)
        snprintf(text, sizeof(text), "%.*s", (int)(c->p - start), start);
    while (rc == ERR_OK && template_cond_punct(c, "|"))
        rc = template_cond_filter(c, skip, &ch);
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
            rc = template_cond_undefined(c, name);
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

static enum err_code template_cond_compare(struct template_cond_ctx *c,
                                           bool skip, json_t **out)
{
    json_t *a = NULL, *b = NULL;
    enum err_code rc = template_cond_operand(c, skip, &a);
    if (rc != ERR_OK)
        return rc;
    static const char *const ops[] = {"==", "!=", "<=", ">=", "<", ">"};
    int op = -1;
    for (int i = 0; i < 6 && op < 0; i++)
        if (template_cond_punct(c, ops[i]))
            op = i;
    bool in = false, notin = false;
    if (op < 0) {
        const char *save = c->p;
        if (template_cond_kw(c, "in"))
            in = true;
        else if (template_cond_kw(c, "not") && template_cond_kw(c, "in"))
            notin = true;
        else
            c->p = save;
    }
    if (op < 0 && !in && !notin) {
        *out = a;
        return ERR_OK;
    }
    rc = template_cond_operand(c, skip, &b);
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
                json_array_foreach(b, i, x) r |= template_cond_equal(a, x);
            } else if (json_is_string(b) && json_is_string(a)) {
                r = strstr(json_string_value(b), json_string_value(a)) != NULL;
            } else if (json_is_object(b) && json_is_string(a)) {
                r = json_object_get(b, json_string_value(a)) != NULL;
            }
            r = notin ? !r : r;
        } else if (op <= 1) {
            r = template_cond_equal(a, b) == (op == 0);
        } else {
            bool ok;
            int cmp = template_cond_cmp(a, b, &ok);
            if (!ok) {
                json_decref(a);
                json_decref(b);
                return template_cond_fail(c, "cannot order these values "
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

static enum err_code template_cond_not(struct template_cond_ctx *c, bool skip,
                                       json_t **out)
{
    if (++c->depth > TEMPLATE_COND_DEPTH) {
        c->depth--;
        return template_cond_fail(c, "condition nested too deeply");
    }
    enum err_code rc;
    const char *save = c->p;
    if (template_cond_kw(c, "not")) {
        /* `not in` belongs to a comparison, never starts an operand */
        json_t *v = NULL;
        rc = template_cond_not(c, skip, &v);
        if (rc == ERR_OK) {
            *out = json_boolean(!template_truthy(v));
            json_decref(v);
        }
    } else {
        c->p = save;
        rc = template_cond_compare(c, skip, out);
    }
    c->depth--;
    return rc;
}

static enum err_code template_cond_and(struct template_cond_ctx *c, bool skip,
                                       json_t **out)
{
    enum err_code rc = template_cond_not(c, skip, out);
    while (rc == ERR_OK && template_cond_kw(c, "and")) {
        bool t = template_truthy(*out);
        json_t *b = NULL;
        rc = template_cond_not(c, skip || !t, &b);
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

static enum err_code template_cond_or(struct template_cond_ctx *c, bool skip,
                                      json_t **out)
{
    enum err_code rc = template_cond_and(c, skip, out);
    while (rc == ERR_OK && template_cond_kw(c, "or")) {
        bool t = template_truthy(*out);
        json_t *b = NULL;
        rc = template_cond_and(c, skip || t, &b);
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

static enum err_code template_cond_run(struct template_cond_ctx *c, bool *out)
{
    json_t *v = NULL;
    template_cond_ws(c);
    if (*c->p == '\0')
        return template_cond_fail(c, "empty condition");
    enum err_code rc = template_cond_or(c, false, &v);
    if (rc != ERR_OK)
        return rc;
    template_cond_ws(c);
    if (*c->p != '\0') {
        json_decref(v);
        return template_cond_fail(c, "unexpected text (combine tests with "
                                     "'and', 'or', 'not')");
    }
    if (out != NULL)
        *out = template_truthy(v);
    json_decref(v);
    return ERR_OK;
}

enum err_code template_cond(const char *cond, template_lookup_fn *lookup,
                            void *arg, bool *out, struct err *e)
{
    struct template_cond_ctx c = {
        .s = cond, .p = cond, .lookup = lookup, .arg = arg, .e = e};
    *out = false;
    return template_cond_run(&c, out);
}

enum err_code template_cond_names(const char *cond, template_name_fn *fn,
                                  void *arg, struct err *e)
{
    struct template_cond_ctx c = {
        .s = cond, .p = cond, .names = fn, .names_arg = arg, .e = e};
    return template_cond_run(&c, NULL);
}
