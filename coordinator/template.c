/* coordinator/template.c: render `{{ name | filter }}` expressions. The
 * filters and subscripts are shared with `when:` conditions
 * (coordinator/when.c). */
#include "template.h"

#include "buf.h"
#include "shquote.h"
#include "suggest.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Filter names, in enum order; "d" is default's short name. */
static const char *const template_filter_names[] = {
    "default", "quote", "int", "bool", "string", "length", NULL};

enum err_code template_filter_find(const char *name, int col, const char *where,
                                   enum template_filter *out, struct err *e)
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

enum err_code template_filter_apply(enum template_filter f, const json_t *v,
                                    int col, json_t **out, struct err *e)
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

json_t *template_index(const json_t *v, const json_t *key)
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

bool template_ident(const char **pp, const char *end, char *out, size_t outlen)
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
