/* coordinator/template.c: render `{{ name | filter }}` expressions. */
#include "template.h"

#include "buf.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { TEMPLATE_EXPR_MAX = 256 };

char *template_shell_quote(const char *s)
{
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    if (*s != '\0' && strspn(s, "abcdefghijklmnopqrstuvwxyz"
                                "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                                "@%+=:,./-_") == strlen(s)) {
        buf_adds(&b, s);
        return buf_detach(&b);
    }
    buf_addc(&b, '\'');
    for (const char *p = s; *p; p++) {
        if (*p == '\'')
            buf_adds(&b, "'\\''");
        else
            buf_addc(&b, *p);
    }
    buf_addc(&b, '\'');
    return buf_detach(&b);
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

/* One parsed expression: name and filters. */
struct template_expr {
    char name[TEMPLATE_EXPR_MAX];  /* variable name */
    bool has_default;              /* default(x) given */
    char deflt[TEMPLATE_EXPR_MAX]; /* its argument */
    bool quote;                    /* | quote */
};

static const char *template_skip_ws(const char *p, const char *end)
{
    while (p < end && isspace((unsigned char)*p))
        p++;
    return p;
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

static enum err_code template_parse_expr(const char *s, const char *end,
                                         const char *tmpl,
                                         struct template_expr *x, struct err *e)
{
    memset(x, 0, sizeof(*x));
    int col = (int)(s - tmpl) - 1; /* the '{{' before s */
    const char *p = template_skip_ws(s, end);
    if (!template_ident(&p, end, x->name, sizeof(x->name)))
        return err_set(e, ERR_PARSE,
                       "column %d: expected a variable name in '{{%.*s}}'", col,
                       (int)(end - s), s);
    for (;;) {
        p = template_skip_ws(p, end);
        if (p == end)
            return ERR_OK;
        if (*p != '|')
            return err_set(e, ERR_PARSE,
                           "column %d: unexpected '%c' in '{{%.*s}}' (only "
                           "'name', '| default(x)' and '| quote' are "
                           "supported)",
                           col, *p, (int)(end - s), s);
        p = template_skip_ws(p + 1, end);
        char filter[32];
        if (!template_ident(&p, end, filter, sizeof(filter)))
            return err_set(e, ERR_PARSE,
                           "column %d: expected a filter after '|' in "
                           "'{{%.*s}}'",
                           col, (int)(end - s), s);
        if (strcmp(filter, "quote") == 0) {
            x->quote = true;
            continue;
        }
        if (strcmp(filter, "default") != 0 && strcmp(filter, "d") != 0)
            return err_set(e, ERR_PARSE,
                           "column %d: unknown filter '%s' (known: "
                           "default, quote)",
                           col, filter);
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
    char *s;
    if (v == NULL) {
        if (!x->has_default)
            return err_set(e, ERR_NOTFOUND,
                           "undefined variable '%s' (define it in the "
                           "inventory, the plan's vars or with -e %s=...)",
                           x->name, x->name);
        s = xstrdup(x->deflt);
    } else {
        s = template_value_str(v);
    }
    if (x->quote) {
        char *q = template_shell_quote(s);
        free(s);
        s = q;
    }
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
    c->fn(x->name, x->has_default, c->arg);
    return ERR_OK;
}

enum err_code template_names(const char *tmpl, template_name_fn *fn, void *arg,
                             struct err *e)
{
    struct template_names_ctx c = {fn, arg};
    return template_walk(tmpl, NULL, template_names_expr, &c, e);
}
