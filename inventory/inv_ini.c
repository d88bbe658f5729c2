/* inventory/inv_ini.c: Ansible's INI inventory reader (plugins/inventory/
 * ini.py) line for line: the first line behaves as if under [ungrouped];
 * host lines are split like Python's shlex (quotes, backslashes, '#'
 * comments) and their values typed as Python literals; [g:vars] values are
 * the rest of the line after '='; [g:children] may name groups declared
 * later, checked at the end of the file. Every error names file:line:col. */
#include "inv_ini.h"

#include "buf.h"
#include "err.h"
#include "inv_addr.h"
#include "inv_pyval.h"
#include "inv_model.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A [child] of a [parent:children] section naming a group not yet
 * declared, or a [g:vars] before [g] (Ansible's pending_declarations). */
struct inv_ini_pending {
    char *name;      /* the group waited for */
    size_t line;     /* where it was first named */
    bool vars;       /* waiting since a [name:vars] header */
    char **parents;  /* groups that want it as a child */
    size_t nparents; /* entries in parents */
};

struct inv_ini {
    struct inventory *inv;        /* filled in */
    const char *name;             /* file name for messages */
    size_t line;                  /* current line, 1-based */
    const char *lstart;           /* current raw line */
    const char *lend;             /* its end (the data is not terminated) */
    struct inv_ini_pending *pend; /* pending declarations, in order */
    size_t npend;                 /* entries in pend */
    struct err *e;                /* where errors go */
};

/* One shlex token and the column it starts at. */
struct inv_ini_tok {
    char *text; /* unquoted text, owned */
    size_t col; /* 1-based column in the line */
};

/* text (cut at the end of its line) is the offending text; NULL for none. */
static enum err_code inv_ini_err(struct inv_ini *p, const char *at,
                                 const char *what, const char *text)
{
    size_t col = at != NULL ? (size_t)(at - p->lstart) + 1 : 1;
    if (text == NULL)
        return err_set(p->e, ERR_PARSE, "%s:%zu:%zu: %s", p->name, p->line, col,
                       what);
    size_t n = 0;
    if (text >= p->lstart && text < p->lend)
        while (text + n < p->lend && text[n] != '\r' && text[n] != '\n')
            n++;
    else
        n = strcspn(text, "\r\n");
    return err_set(p->e, ERR_PARSE, "%s:%zu:%zu: %s: '%.*s'", p->name, p->line,
                   col, what, n < 120 ? (int)n : 120, text);
}

static bool inv_ini_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
           c == '\f' || (c >= 0x1c && c <= 0x1f);
}

/* Length of a valid UTF-8 sequence at s, 0 if invalid. */
static size_t inv_ini_utf8(const unsigned char *s, size_t n)
{
    if (s[0] < 0x80)
        return 1;
    size_t len;
    unsigned long cp;
    if ((s[0] & 0xE0) == 0xC0) {
        len = 2;
        cp = s[0] & 0x1F;
    } else if ((s[0] & 0xF0) == 0xE0) {
        len = 3;
        cp = s[0] & 0x0F;
    } else if ((s[0] & 0xF8) == 0xF0) {
        len = 4;
        cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

/* Non-comment lines must be UTF-8 and free of NUL bytes. */
static enum err_code inv_ini_check_text(struct inv_ini *p, const char *s,
                                        size_t n)
{
    if (n > 0 && (s[0] == '#' || s[0] == ';'))
        return ERR_OK;
    for (size_t i = 0; i < n;) {
        if ((unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x80) {
            i++;
            continue;
        }
        if (s[i] == '\0')
            return inv_ini_err(p, s + i, "NUL byte in the inventory", "\\0");
        size_t k = inv_ini_utf8((const unsigned char *)s + i, n - i);
        if (k == 0)
            return inv_ini_err(p, s + i,
                               "not UTF-8 text (save the file as UTF-8)", NULL);
        i += k;
    }
    return ERR_OK;
}

/* Characters that end a run of ordinary ones in inv_ini_shlex. */
static bool inv_ini_special(char c)
{
    switch (c) {
    case ' ':
    case '\t':
    case '\r':
    case '\n':
    case '#':
    case '\'':
    case '"':
    case '\\':
        return true;
    default:
        return false;
    }
}

static void inv_ini_toks_free(struct inv_ini_tok *t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(t[i].text);
    free(t);
}

/* Python's shlex.split(line, comments=True) with positions. */
static enum err_code inv_ini_shlex(struct inv_ini *p, const char *s, size_t n,
                                   struct inv_ini_tok **out, size_t *nout)
{
    struct inv_ini_tok *toks = NULL;
    size_t nt = 0, cap = 0;
    struct buf tok;
    buf_init(&tok, BUF_UNLIMITED);
    bool in_tok = false;
    size_t col = 0;
    size_t i = 0;
    enum err_code c = ERR_OK;
    while (i <= n) {
        char ch = i < n ? s[i] : '\0';
        bool end = i == n || ch == '#' || ch == ' ' || ch == '\t' ||
                   ch == '\r' || ch == '\n';
        if (end) {
            if (in_tok) {
                if (nt == cap) {
                    cap = cap == 0 ? 8 : cap * 2;
                    toks = xrealloc(toks, cap * sizeof(*toks));
                }
                toks[nt].text = xstrndup(buf_cstr(&tok), tok.len);
                toks[nt].col = col;
                nt++;
                buf_reset(&tok);
                in_tok = false;
            }
            if (i == n || ch == '#')
                break;
            i++;
            continue;
        }
        if (!in_tok) {
            in_tok = true;
            col = (size_t)(s + i - p->lstart) + 1;
        }
        if (ch == '\'' || ch == '"') {
            const char *open = s + i;
            i++;
            for (;;) {
                if (i >= n) {
                    c = inv_ini_err(p, open, "no closing quotation", open);
                    goto out;
                }
                if (s[i] == ch) {
                    i++;
                    break;
                }
                if (ch == '"' && s[i] == '\\' && i + 1 < n &&
                    (s[i + 1] == '"' || s[i + 1] == '\\')) {
                    buf_addc(&tok, s[i + 1]);
                    i += 2;
                    continue;
                }
                buf_addc(&tok, s[i]);
                i++;
            }
            continue;
        }
        if (ch == '\\') {
            if (i + 1 >= n) {
                c = inv_ini_err(p, s + i, "no escaped character after '\\'",
                                s + i);
                goto out;
            }
            buf_addc(&tok, s[i + 1]);
            i += 2;
            continue;
        }
        /* A run of ordinary characters goes in at once. */
        size_t j = i + 1;
        while (j < n && !inv_ini_special(s[j]))
            j++;
        buf_add(&tok, s + i, j - i);
        i = j;
    }
out:
    buf_release(&tok);
    if (c != ERR_OK) {
        inv_ini_toks_free(toks, nt);
        return c;
    }
    *out = toks;
    *nout = nt;
    return ERR_OK;
}

static size_t inv_ini_utoa(size_t v, char *out)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

/* "name:line:col: " into out, without printf: it runs once per host line. */
static void inv_ini_where(const struct inv_ini *p, size_t col, char *out,
                          size_t outlen)
{
    size_t nlen = strlen(p->name);
    if (nlen > outlen - 64)
        nlen = outlen - 64;
    memcpy(out, p->name, nlen);
    size_t k = nlen;
    out[k++] = ':';
    k += inv_ini_utoa(p->line, out + k);
    out[k++] = ':';
    k += inv_ini_utoa(col, out + k);
    out[k++] = ':';
    out[k++] = ' ';
    out[k] = '\0';
}

/* An INI value as Ansible types it: a Python literal, else the string. */
static json_t *inv_ini_value(const char *v, size_t n)
{
    json_t *j = inv_pyval_parse(v, n);
    if (j != NULL)
        return j;
    j = json_stringn(v, n);
    return j != NULL ? j : json_string("");
}

/* Ansible's ini.py refuses two host patterns that mean the file is YAML
 * (a YAML inventory saved as hosts.ini): one ending in ':' without a port
 * ("all:", "web1:"), and a host named "---" (a document start). Its words,
 * with where and what to do. */
static enum err_code inv_ini_yaml_check(struct inv_ini *p,
                                        const struct inv_ini_tok *t,
                                        long long port, char *const *names,
                                        size_t nn)
{
    static const char hint[] =
        "name the file .yml or .yaml to have it read as YAML";
    const char *at = p->lstart + t->col - 1;
    size_t n = strlen(t->text);
    while (n > 0 && inv_ini_space(t->text[n - 1]))
        n--;
    if (port < 0 && n > 0 && t->text[n - 1] == ':')
        return err_set(p->e, ERR_PARSE,
                       "%s:%zu:%zu: Invalid host pattern '%.120s' supplied, "
                       "ending in ':' is not allowed, this character is "
                       "reserved to provide a port (a YAML inventory? %s)",
                       p->name, p->line, (size_t)(at - p->lstart) + 1, t->text,
                       hint);
    for (size_t i = 0; i < nn; i++) {
        const char *a = names[i];
        size_t k = strlen(a);
        while (k > 0 && inv_ini_space(a[k - 1]))
            k--;
        while (k > 0 && inv_ini_space(*a)) {
            a++;
            k--;
        }
        if (k == 3 && strncmp(a, "---", 3) == 0)
            return err_set(p->e, ERR_PARSE,
                           "%s:%zu:%zu: Invalid host pattern '%.120s' "
                           "supplied, '---' is normally a sign this is a "
                           "YAML file (%s)",
                           p->name, p->line, (size_t)(at - p->lstart) + 1,
                           t->text, hint);
    }
    return ERR_OK;
}

static enum err_code inv_ini_hosts(struct inv_ini *p, const char *s, size_t n,
                                   const char *group)
{
    struct inv_ini_tok *toks;
    size_t nt;
    enum err_code c = inv_ini_shlex(p, s, n, &toks, &nt);
    if (c != ERR_OK || nt == 0) {
        if (c == ERR_OK)
            free(toks);
        return c;
    }
    const char *at0 = p->lstart + toks[0].col - 1;
    if (toks[0].text[0] == '\0')
        c = inv_ini_err(p, at0, "empty host name", toks[0].text);
    char *pattern = NULL;
    long long port = -1;
    if (c == ERR_OK && !inv_addr_parse(toks[0].text, &pattern, &port)) {
        pattern = xstrdup(toks[0].text);
        port = -1;
    }
    char **names = NULL;
    size_t nn = 0;
    if (c == ERR_OK) {
        char why[300];
        if (!inv_addr_expand(pattern, inv_range_limit(p->inv), &names, &nn, why,
                             sizeof(why))) {
            size_t col = (size_t)(at0 - p->lstart) + 1;
            c = err_set(
                p->e, strstr(why, "more than") != NULL ? ERR_LIMIT : ERR_PARSE,
                "%s:%zu:%zu: %s", p->name, p->line, col, why);
        }
    }
    if (c == ERR_OK)
        c = inv_ini_yaml_check(p, &toks[0], port, names, nn);
    json_t *vars = json_object();
    for (size_t i = 1; i < nt && c == ERR_OK; i++) {
        char *eq = strchr(toks[i].text, '=');
        if (eq == NULL) {
            c = inv_ini_err(p, p->lstart + toks[i].col - 1,
                            "expected key=value host variable assignment",
                            toks[i].text);
            break;
        }
        *eq = '\0';
        json_object_set_new(vars, toks[i].text,
                            inv_ini_value(eq + 1, strlen(eq + 1)));
    }
    struct inv_group *g = c == ERR_OK ? inv_group_add(p->inv, group) : NULL;
    char where[300];
    inv_ini_where(p, toks[0].col, where, sizeof(where));
    for (size_t i = 0; i < nn; i++) {
        struct inv_host *h = NULL;
        if (c == ERR_OK) {
            bool fresh = inv_host_find(p->inv, names[i]) == NULL;
            c = inv_host_add(p->inv, names[i], g, &h, where, p->e);
            if (c == ERR_OK && fresh && port > 0)
                inv_host_set_port(p->inv, h, port);
        }
        if (c == ERR_OK) {
            const char *k;
            json_t *v;
            json_object_foreach(vars, k, v)
            {
                if (c == ERR_OK)
                    c = inv_host_set_var(p->inv, h, k, json_incref(v), where,
                                         p->e);
            }
        }
        free(names[i]);
    }
    free(names);
    free(pattern);
    json_decref(vars);
    inv_ini_toks_free(toks, nt);
    return c;
}

static enum err_code inv_ini_vars(struct inv_ini *p, const char *s, size_t n,
                                  const char *group)
{
    const char *eq = memchr(s, '=', n);
    if (eq == NULL)
        return inv_ini_err(p, s, "expected key=value", s);
    const char *k = s, *ke = eq;
    while (ke > k && inv_ini_space(ke[-1]))
        ke--;
    const char *v = eq + 1, *ve = s + n;
    while (v < ve && inv_ini_space(*v))
        v++;
    char *key = xstrndup(k, (size_t)(ke - k));
    char *where = xasprintf("%s:%zu:%zu: ", p->name, p->line,
                            (size_t)(s - p->lstart) + 1);
    struct inv_group *g = inv_group_add(p->inv, group);
    enum err_code c = inv_group_set_var(
        p->inv, g, key, inv_ini_value(v, (size_t)(ve - v)), where, p->e);
    free(where);
    free(key);
    return c;
}

static struct inv_ini_pending *inv_ini_pending_find(struct inv_ini *p,
                                                    const char *name)
{
    for (size_t i = 0; i < p->npend; i++)
        if (strcmp(p->pend[i].name, name) == 0)
            return &p->pend[i];
    return NULL;
}

static struct inv_ini_pending *inv_ini_pending_add(struct inv_ini *p,
                                                   const char *name, bool vars)
{
    p->pend = xrealloc(p->pend, (p->npend + 1) * sizeof(*p->pend));
    struct inv_ini_pending *d = &p->pend[p->npend++];
    d->name = xstrdup(name);
    d->line = p->line;
    d->vars = vars;
    d->parents = NULL;
    d->nparents = 0;
    return d;
}

static void inv_ini_pending_drop(struct inv_ini *p, struct inv_ini_pending *d)
{
    free(d->name);
    for (size_t i = 0; i < d->nparents; i++)
        free(d->parents[i]);
    free(d->parents);
    size_t i = (size_t)(d - p->pend);
    memmove(&p->pend[i], &p->pend[i + 1],
            (p->npend - i - 1) * sizeof(*p->pend));
    p->npend--;
}

/* The group name was declared: give it to the parents that waited. */
static enum err_code inv_ini_add_pending(struct inv_ini *p, const char *name,
                                         int depth)
{
    struct inv_ini_pending *d = inv_ini_pending_find(p, name);
    if (d == NULL || depth > 10000)
        return ERR_OK;
    enum err_code c = ERR_OK;
    char *where = xasprintf("%s:%zu: ", p->name, p->line);
    char *child = xstrdup(name);
    size_t np = d->nparents;
    char **parents = d->parents;
    d->parents = NULL;
    d->nparents = 0;
    inv_ini_pending_drop(p, d);
    for (size_t i = 0; i < np; i++) {
        if (c == ERR_OK)
            c = inv_group_add_child(p->inv, inv_group_add(p->inv, parents[i]),
                                    inv_group_add(p->inv, child), where, p->e);
        struct inv_ini_pending *pp =
            c == ERR_OK ? inv_ini_pending_find(p, parents[i]) : NULL;
        if (pp != NULL && !pp->vars)
            c = inv_ini_add_pending(p, parents[i], depth + 1);
        free(parents[i]);
    }
    free(parents);
    free(child);
    free(where);
    return c;
}

/* [name] / [name:tag] with an optional trailing comment. */
static bool inv_ini_section(const char *s, size_t n, char **name, char **tag)
{
    if (n < 3 || s[0] != '[')
        return false;
    size_t i = 1;
    while (i < n && s[i] != ':' && s[i] != ']' && !inv_ini_space(s[i]))
        i++;
    if (i == 1 || i >= n)
        return false;
    size_t ne = i, ts = 0, te = 0;
    if (s[i] == ':') {
        ts = ++i;
        while (i < n && (isalnum((unsigned char)s[i]) || s[i] == '_' ||
                         (unsigned char)s[i] >= 0x80))
            i++;
        te = i;
        if (te == ts)
            return false;
    }
    if (i >= n || s[i] != ']')
        return false;
    i++;
    while (i < n && inv_ini_space(s[i]))
        i++;
    if (i < n && s[i] != '#')
        return false;
    *name = xstrndup(s + 1, ne - 1);
    *tag = te > ts ? xstrndup(s + ts, te - ts) : xstrdup("hosts");
    return true;
}

static enum err_code inv_ini_line(struct inv_ini *p, const char *s, size_t n,
                                  char **group, int *state)
{
    char *name, *tag;
    if (inv_ini_section(s, n, &name, &tag)) {
        enum err_code c = ERR_OK;
        int st = strcmp(tag, "hosts") == 0      ? 0
                 : strcmp(tag, "children") == 0 ? 1
                 : strcmp(tag, "vars") == 0     ? 2
                                                : -1;
        if (st < 0) {
            char *text = xstrndup(s, n);
            c = inv_ini_err(p, s,
                            "section has an unknown type (use hosts, "
                            "children or vars)",
                            text);
            free(text);
        } else {
            if (inv_group_find(p->inv, name) == NULL) {
                if (st == 2 && inv_ini_pending_find(p, name) == NULL)
                    inv_ini_pending_add(p, name, true);
                inv_group_add(p->inv, name);
            }
            struct inv_ini_pending *d = inv_ini_pending_find(p, name);
            if (d != NULL && st != 2) {
                if (!d->vars)
                    c = inv_ini_add_pending(p, name, 0);
                else
                    inv_ini_pending_drop(p, d);
            }
            free(*group);
            *group = name;
            name = NULL;
            *state = st;
        }
        free(name);
        free(tag);
        return c;
    }
    if (s[0] == '[' && s[n - 1] == ']') {
        char *text = xstrndup(s, n);
        enum err_code c = inv_ini_err(
            p, s,
            "invalid section header (no spaces; [group], [group:vars] or "
            "[group:children])",
            text);
        free(text);
        return c;
    }
    if (*state == 0)
        return inv_ini_hosts(p, s, n, *group);
    if (*state == 2)
        return inv_ini_vars(p, s, n, *group);
    /* [g:children]: a group name and an optional comment. */
    size_t i = 0;
    while (i < n && s[i] != ':' && s[i] != ']' && !inv_ini_space(s[i]))
        i++;
    size_t j = i;
    while (j < n && inv_ini_space(s[j]))
        j++;
    if (i == 0 || (j < n && s[j] != '#')) {
        char *text = xstrndup(s, n);
        enum err_code c =
            inv_ini_err(p, s + (i == 0 ? 0 : j), "expected a group name", text);
        free(text);
        return c;
    }
    char *child = xstrndup(s, i);
    enum err_code c = ERR_OK;
    if (inv_group_find(p->inv, child) == NULL) {
        struct inv_ini_pending *d = inv_ini_pending_find(p, child);
        if (d == NULL)
            d = inv_ini_pending_add(p, child, false);
        d->parents =
            xrealloc(d->parents, (d->nparents + 1) * sizeof(*d->parents));
        d->parents[d->nparents++] = xstrdup(*group);
    } else {
        char *where = xasprintf("%s:%zu:1: ", p->name, p->line);
        c = inv_group_add_child(p->inv, inv_group_add(p->inv, *group),
                                inv_group_add(p->inv, child), where, p->e);
        free(where);
    }
    free(child);
    return c;
}

enum err_code inv_ini_parse(struct inventory *inv, const char *name,
                            const char *data, size_t len, struct err *e)
{
    struct inv_ini p = {inv, name, 0, data, data, NULL, 0, e};
    char *group = xstrdup("ungrouped");
    int state = 0;
    enum err_code c = ERR_OK;
    const char *s = data, *end = data + len;
    while (s < end && c == ERR_OK) {
        const char *eol = s;
        while (eol < end && *eol != '\n' && *eol != '\r')
            eol++;
        p.line++;
        p.lstart = s;
        p.lend = eol;
        c = inv_ini_check_text(&p, s, (size_t)(eol - s));
        const char *a = s, *b = eol;
        while (a < b && inv_ini_space(*a))
            a++;
        while (b > a && inv_ini_space(b[-1]))
            b--;
        if (c == ERR_OK && a < b && *a != '#' && *a != ';')
            c = inv_ini_line(&p, a, (size_t)(b - a), &group, &state);
        if (eol < end && *eol == '\r' && eol + 1 < end && eol[1] == '\n')
            eol++;
        s = eol < end ? eol + 1 : end;
    }
    if (c == ERR_OK && p.npend > 0) {
        struct inv_ini_pending *d = &p.pend[0];
        if (d->vars)
            c = err_set(e, ERR_PARSE,
                        "%s:%zu:1: section [%s:vars] is for a group that is "
                        "not defined: '%s' (declare [%s] or list it under a "
                        "[parent:children])",
                        name, d->line, d->name, d->name, d->name);
        else
            c = err_set(e, ERR_PARSE,
                        "%s:%zu:1: section [%s:children] includes a group "
                        "that is not defined: '%s' (declare [%s])",
                        name, d->line, d->parents[d->nparents - 1], d->name,
                        d->name);
    }
    while (p.npend > 0)
        inv_ini_pending_drop(&p, &p.pend[0]);
    free(p.pend);
    free(group);
    return c;
}

enum err_code inv_ini_host_list(struct inventory *inv, const char *list,
                                struct err *e)
{
    char *copy = xstrdup(list);
    enum err_code c = ERR_OK;
    char *save = NULL;
    struct inv_group *ungrouped = inv_group_add(inv, "ungrouped");
    for (char *h = strtok_r(copy, ",", &save); h != NULL && c == ERR_OK;
         h = strtok_r(NULL, ",", &save)) {
        while (inv_ini_space(*h))
            h++;
        size_t n = strlen(h);
        while (n > 0 && inv_ini_space(h[n - 1]))
            h[--n] = '\0';
        if (n == 0)
            continue;
        char *host = NULL;
        long long port = -1;
        if (strchr(h, '[') != NULL || !inv_addr_parse(h, &host, &port)) {
            host = xstrdup(h);
            port = -1;
        }
        if (inv_host_find(inv, host) == NULL) {
            struct inv_host *hp;
            c = inv_host_add(inv, host, ungrouped, &hp, "host list: ", e);
            if (c == ERR_OK && port > 0)
                inv_host_set_port(inv, hp, port);
        }
        free(host);
    }
    free(copy);
    return c;
}
