/* inventory/inv_pattern.c: Ansible's host pattern evaluation. The terms are
 * split (',' or ':'), reordered (plain terms, then '&', then '!'), and each
 * is matched against group names first (a matching group gives all of its
 * hosts and its descendants'), then host names. Regular expressions are
 * Python's syntax translated to POSIX extended ones for regcomp(3); the
 * subset that translates is in docs/inventory.md. */
#include "inv_pattern.h"

#include "buf.h"
#include "err.h"
#include "inv_addr.h"
#include "inv_model.h"
#include "log.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <regex.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* --- splitting ------------------------------------------------------------ */

static void inv_pattern_push(char ***terms, size_t *n, const char *s,
                             size_t len)
{
    while (len > 0 && isspace((unsigned char)*s)) {
        s++;
        len--;
    }
    while (len > 0 && isspace((unsigned char)s[len - 1]))
        len--;
    if (len == 0)
        return;
    *terms = xrealloc(*terms, (*n + 1) * sizeof(**terms));
    (*terms)[(*n)++] = xstrndup(s, len);
}

void inv_pattern_split(const char *pattern, char ***terms, size_t *n)
{
    *terms = NULL;
    *n = 0;
    if (strchr(pattern, ',') != NULL) {
        const char *s = pattern;
        for (;;) {
            const char *c = strchr(s, ',');
            size_t len = c != NULL ? (size_t)(c - s) : strlen(s);
            inv_pattern_push(terms, n, s, len);
            if (c == NULL)
                break;
            s = c + 1;
        }
        return;
    }
    char *host;
    long long port;
    if (inv_addr_parse(pattern, &host, &port)) {
        free(host);
        inv_pattern_push(terms, n, pattern, strlen(pattern));
        return;
    }
    /* re.findall(r'(?:[^\s:\[\]]|\[[^\]]*\])+') */
    const char *s = pattern;
    while (*s != '\0') {
        const char *start = s;
        for (;;) {
            if (*s == '[') {
                const char *close = strchr(s + 1, ']');
                if (close == NULL)
                    break;
                s = close + 1;
            } else if (*s != '\0' && *s != ':' && *s != ']' &&
                       !isspace((unsigned char)*s)) {
                s++;
            } else {
                break;
            }
        }
        if (s > start)
            inv_pattern_push(terms, n, start, (size_t)(s - start));
        else
            s++;
    }
}

/* --- globs ---------------------------------------------------------------- */

/* Decode one UTF-8 code point (invalid bytes stand for themselves). */
static uint32_t inv_pattern_cp(const char **s)
{
    const unsigned char *p = (const unsigned char *)*s;
    uint32_t c = p[0];
    size_t n = 1;
    if (c >= 0xF0 && (p[1] & 0xC0) == 0x80 && (p[2] & 0xC0) == 0x80 &&
        (p[3] & 0xC0) == 0x80) {
        c = ((c & 0x07) << 18) | ((uint32_t)(p[1] & 0x3F) << 12) |
            ((uint32_t)(p[2] & 0x3F) << 6) | (p[3] & 0x3F);
        n = 4;
    } else if (c >= 0xE0 && (p[1] & 0xC0) == 0x80 && (p[2] & 0xC0) == 0x80) {
        c = ((c & 0x0F) << 12) | ((uint32_t)(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
        n = 3;
    } else if (c >= 0xC0 && (p[1] & 0xC0) == 0x80) {
        c = ((c & 0x1F) << 6) | (p[1] & 0x3F);
        n = 2;
    }
    *s += n;
    return c;
}

/* A bracket expression at g (just past '['): does c match? *end is set
 * past the closing ']'; false from the return when there is none. */
static bool inv_pattern_class(const char *g, uint32_t c, bool *match,
                              const char **end)
{
    const char *p = g;
    bool neg = false;
    if (*p == '!') {
        neg = true;
        p++;
    }
    const char *first = p;
    if (*p == ']')
        p++;
    while (*p != '\0' && *p != ']')
        p++;
    if (*p == '\0')
        return false;
    const char *close = p;
    bool m = false;
    p = first;
    while (p < close) {
        uint32_t lo = inv_pattern_cp(&p);
        uint32_t hi = lo;
        if (*p == '-' && p + 1 < close) {
            p++;
            hi = inv_pattern_cp(&p);
        }
        if (c >= lo && c <= hi)
            m = true;
    }
    *match = neg ? !m : m;
    *end = close + 1;
    return true;
}

bool inv_pattern_glob(const char *glob, const char *name)
{
    const char *g = glob, *s = name;
    const char *star_g = NULL, *star_s = NULL;
    while (*s != '\0') {
        if (*g == '*') {
            while (*g == '*')
                g++;
            star_g = g;
            star_s = s;
            continue;
        }
        const char *sn = s;
        uint32_t c = inv_pattern_cp(&sn);
        bool ok = false;
        const char *gn = g;
        if (*g == '?') {
            ok = true;
            gn = g + 1;
        } else if (*g == '[') {
            bool m;
            const char *after;
            if (inv_pattern_class(g + 1, c, &m, &after)) {
                ok = m;
                gn = after;
            } else {
                ok = c == '[';
                gn = g + 1;
            }
        } else if (*g != '\0') {
            const char *gp = g;
            ok = inv_pattern_cp(&gp) == c;
            gn = gp;
        }
        if (ok) {
            g = gn;
            s = sn;
        } else if (star_g != NULL) {
            /* Let the last '*' take one more character. */
            inv_pattern_cp(&star_s);
            s = star_s;
            g = star_g;
        } else {
            return false;
        }
    }
    while (*g == '*')
        g++;
    return *g == '\0';
}

/* --- regular expressions -------------------------------------------------- */

/* Python re syntax -> POSIX ERE (GNU regcomp knows \w \s \b). False for
 * what has no equivalent (lookaround, backreferences). */
static bool inv_pattern_py2ere(const char *py, struct buf *out, int *flags)
{
    const char *p = py;
    buf_adds(out, "^(");
    if (strncmp(p, "(?i)", 4) == 0) {
        *flags |= REG_ICASE;
        p += 4;
    }
    while (*p != '\0') {
        char c = *p;
        if (c == '\\') {
            char n = p[1];
            if (n == '\0')
                return false;
            if (n == 'd')
                buf_adds(out, "[0-9]");
            else if (n == 'D')
                buf_adds(out, "[^0-9]");
            else if (n == 'A')
                buf_adds(out, "^");
            else if (n == 'Z')
                buf_adds(out, "$");
            else if (n == 'n')
                buf_addc(out, '\n');
            else if (n == 't')
                buf_addc(out, '\t');
            else if (isdigit((unsigned char)n))
                return false;
            else if (isalpha((unsigned char)n) && strchr("wWsSbB", n) == NULL)
                return false;
            else {
                buf_addc(out, '\\');
                buf_addc(out, n);
            }
            p += 2;
            continue;
        }
        if (c == '[') {
            /* A class: rebuild it the POSIX way (']' first, '-' last). */
            p++;
            struct buf items;
            buf_init(&items, BUF_UNLIMITED);
            bool neg = false, close = false, dash = false, first = true;
            if (*p == '^') {
                neg = true;
                p++;
            }
            while (*p != '\0') {
                if (*p == ']' && !first)
                    break;
                first = false;
                if (*p == '\\' && p[1] != '\0') {
                    char n = p[1];
                    if (n == 'd')
                        buf_adds(&items, "0-9");
                    else if (n == 'w')
                        buf_adds(&items, "[:alnum:]_");
                    else if (n == 's')
                        buf_adds(&items, "[:space:]");
                    else if (n == ']')
                        close = true;
                    else if (n == '-')
                        dash = true;
                    else if (n == 'n')
                        buf_addc(&items, '\n');
                    else if (n == 't')
                        buf_addc(&items, '\t');
                    else if (isalnum((unsigned char)n)) {
                        buf_release(&items);
                        return false;
                    } else
                        buf_addc(&items, n);
                    p += 2;
                } else if (*p == ']') {
                    close = true;
                    p++;
                } else if (*p == '-' && (p[1] == ']' || items.len == 0)) {
                    dash = true;
                    p++;
                } else if (*p == '[' && p[1] == ':') {
                    buf_adds(&items, "\\[");
                    p++;
                } else {
                    buf_addc(&items, *p);
                    p++;
                }
            }
            if (*p != ']') {
                buf_release(&items);
                return false;
            }
            p++;
            buf_addc(out, '[');
            if (neg)
                buf_addc(out, '^');
            if (close)
                buf_addc(out, ']');
            buf_adds(out, buf_cstr(&items));
            if (dash)
                buf_addc(out, '-');
            buf_addc(out, ']');
            buf_release(&items);
            continue;
        }
        if (c == '(' && p[1] == '?') {
            if (p[2] == ':') {
                buf_addc(out, '(');
                p += 3;
                continue;
            }
            if (p[2] == 'P' && p[3] == '<') {
                const char *gt = strchr(p, '>');
                if (gt == NULL)
                    return false;
                buf_addc(out, '(');
                p = gt + 1;
                continue;
            }
            return false;
        }
        if ((c == '*' || c == '+' || c == '?' || c == '}') && p[1] == '?') {
            /* A lazy quantifier matches where a greedy one does. */
            buf_addc(out, c);
            p += 2;
            continue;
        }
        if (c == '{') {
            const char *q = p + 1;
            while (isdigit((unsigned char)*q))
                q++;
            if (*q == ',')
                q++;
            while (isdigit((unsigned char)*q))
                q++;
            if (*q != '}' || q == p + 1 || out->len <= 2) {
                buf_adds(out, "\\{");
                p++;
                continue;
            }
        }
        if (c == '(' && p[1] == ')') {
            buf_adds(out, "()");
            p += 2;
            continue;
        }
        buf_addc(out, c);
        p++;
    }
    buf_addc(out, ')');
    return true;
}

/* --- matching ---------------------------------------------------------- */

/* Refuse what makes regcomp(3) blow up (it copies the tree per repeat):
 * stacked quantifiers ("a+++", Python refuses them too), large or many
 * {m,n} repeats, long expressions. Python's lazy "+?" is fine. */
static bool inv_pattern_regex_safe(const char *py)
{
    if (strlen(py) > INV_PATTERN_REGEX_MAX)
        return false;
    bool quant = false, lazy = false;
    int intervals = 0;
    for (const char *p = py; *p != '\0';) {
        char c = *p;
        if (c == '\\') {
            p += p[1] != '\0' ? 2 : 1;
            quant = lazy = false;
            continue;
        }
        if (c == '[') {
            p++;
            if (*p == '^')
                p++;
            if (*p == ']')
                p++;
            while (*p != '\0' && *p != ']')
                p += *p == '\\' && p[1] != '\0' ? 2 : 1;
            if (*p == ']')
                p++;
            quant = lazy = false;
            continue;
        }
        bool is_q = c == '*' || c == '+' || c == '?';
        size_t len = 1;
        if (c == '{') {
            const char *q = p + 1;
            long lo = strtol(q, NULL, 10);
            while (isdigit((unsigned char)*q))
                q++;
            long hi = lo;
            if (*q == ',') {
                q++;
                hi = isdigit((unsigned char)*q) ? strtol(q, NULL, 10) : 0;
                while (isdigit((unsigned char)*q))
                    q++;
            }
            if (*q == '}' && q > p + 1) {
                if (lo > INV_PATTERN_REPEAT_MAX ||
                    hi > INV_PATTERN_REPEAT_MAX ||
                    ++intervals > INV_PATTERN_INTERVALS_MAX)
                    return false;
                is_q = true;
                len = (size_t)(q + 1 - p);
            }
        }
        if (is_q && quant) {
            if (c != '?' || lazy)
                return false;
            lazy = true;
        } else {
            lazy = false;
        }
        quant = is_q;
        p += len;
    }
    return true;
}

struct inv_matcher {
    bool regex;       /* '~' */
    regex_t re;       /* compiled when regex */
    const char *glob; /* otherwise */
};

static enum err_code inv_matcher_init(struct inv_matcher *m, const char *pat,
                                      struct err *e)
{
    m->regex = pat[0] == '~';
    m->glob = pat;
    if (!m->regex)
        return ERR_OK;
    struct buf ere;
    buf_init(&ere, BUF_UNLIMITED);
    int flags = REG_EXTENDED | REG_NOSUB;
    bool ok = inv_pattern_regex_safe(pat + 1) &&
              inv_pattern_py2ere(pat + 1, &ere, &flags) &&
              regcomp(&m->re, buf_cstr(&ere), flags) == 0;
    buf_release(&ere);
    if (!ok)
        return err_set(e, ERR_INVALID,
                       "invalid host pattern: '%s' (a regular expression "
                       "after '~'; lookaround, backreferences, stacked "
                       "quantifiers and repeats over %d are not supported)",
                       pat, INV_PATTERN_REPEAT_MAX);
    return ERR_OK;
}

static void inv_matcher_release(struct inv_matcher *m)
{
    if (m->regex)
        regfree(&m->re);
}

static bool inv_matcher_match(const struct inv_matcher *m, const char *name)
{
    if (m->regex)
        return regexec(&m->re, name, 0, NULL, 0) == 0;
    return inv_pattern_glob(m->glob, name);
}

/* A list of host pointers. */
struct inv_hlist {
    const struct inv_host **v; /* the hosts, borrowed */
    size_t n;                  /* entries */
    size_t cap;                /* allocated */
};

static void inv_hlist_push(struct inv_hlist *l, const struct inv_host *h)
{
    if (l->n == l->cap) {
        l->cap = l->cap == 0 ? 16 : l->cap * 2;
        l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
    }
    l->v[l->n++] = h;
}

static void inv_hlist_append(struct inv_hlist *l, const struct inv_host **v,
                             size_t n)
{
    for (size_t i = 0; i < n; i++)
        inv_hlist_push(l, v[i]);
}

/* _enumerate_matches: groups first, then hosts. */
static enum err_code inv_pattern_enumerate(const struct inventory *inv,
                                           const char *pat,
                                           struct inv_hlist *out, struct err *e)
{
    struct inv_matcher m;
    enum err_code c = inv_matcher_init(&m, pat, e);
    if (c != ERR_OK)
        return c;
    size_t ngroups = 0;
    for (size_t i = 0; i < inv_group_count(inv); i++) {
        const struct inv_group *g = inv_group_at(inv, i);
        if (!inv_matcher_match(&m, inv_group_name(g)))
            continue;
        ngroups++;
        const struct inv_host **hs;
        size_t nh;
        inv_group_hosts(inv, g, &hs, &nh);
        inv_hlist_append(out, hs, nh);
        free(hs);
    }
    if (ngroups == 0 || pat[0] == '~' || strpbrk(pat, ".?*[") != NULL) {
        for (size_t i = 0; i < inv_host_count(inv); i++) {
            const struct inv_host *h = inv_host_at(inv, i);
            if (inv_matcher_match(&m, inv_host_name(h)))
                inv_hlist_push(out, h);
        }
    }
    inv_matcher_release(&m);
    if (out->n == 0 && ngroups == 0 && strcmp(pat, "all") != 0)
        log_warn("could not match host pattern, ignoring: %s", pat);
    return ERR_OK;
}

/* A decimal integer, clamped to what a long long holds. */
static long long inv_pattern_int(const char *s, size_t n)
{
    bool neg = n > 0 && s[0] == '-';
    long long v = 0;
    for (size_t i = neg ? 1 : 0; i < n; i++) {
        if (v > (LLONG_MAX - 9) / 10)
            return neg ? LLONG_MIN : LLONG_MAX;
        v = v * 10 + (s[i] - '0');
    }
    return neg ? -v : v;
}

/* _split_subscript: "expr[i]", "expr[a:b]", "expr[a:]", "expr[a-b]". */
static bool inv_pattern_subscript(const char *pat, size_t *exprlen,
                                  long long *start, long long *end,
                                  bool *has_end)
{
    size_t len = strlen(pat);
    if (pat[0] == '~' || len < 4 || pat[len - 1] != ']')
        return false;
    const char *open = NULL;
    for (const char *q = pat + len - 2; q > pat; q--)
        if (*q == '[') {
            open = q;
            break;
        }
    if (open == NULL)
        return false;
    const char *s = open + 1, *close = pat + len - 1;
    size_t n = (size_t)(close - s);
    size_t d = strspn(s, "0123456789");
    if (n > 0 && s[0] == '-') {
        size_t dd = strspn(s + 1, "0123456789");
        if (dd == 0 || dd + 1 != n)
            return false;
        *start = inv_pattern_int(s, n);
        *has_end = false;
    } else if (d == n && d > 0) {
        *start = inv_pattern_int(s, n);
        *has_end = false;
    } else if (d > 0 && (s[d] == ':' || s[d] == '-')) {
        size_t d2 = strspn(s + d + 1, "0123456789");
        if (d + 1 + d2 != n)
            return false;
        if (s[d] == '-')
            log_warn("use [x:y] inclusive subscripts instead of [x-y] "
                     "which has been removed: %s",
                     pat);
        *start = inv_pattern_int(s, d);
        *end = d2 == 0 ? -1 : inv_pattern_int(s + d + 1, d2);
        *has_end = true;
    } else {
        return false;
    }
    *exprlen = (size_t)(open - pat);
    return true;
}

/* _match_one_pattern for a term without its '&' / '!'. */
static enum err_code inv_pattern_one(const struct inventory *inv,
                                     const char *pat, struct inv_hlist *out,
                                     struct err *e)
{
    size_t elen;
    long long start = 0, end = 0;
    bool has_end = false;
    bool sub = inv_pattern_subscript(pat, &elen, &start, &end, &has_end);
    char *expr = sub ? xstrndup(pat, elen) : xstrdup(pat);
    enum err_code c = inv_pattern_enumerate(inv, expr, out, e);
    free(expr);
    if (c != ERR_OK || !sub || out->n == 0)
        return c;
    long long n = (long long)out->n;
    if (has_end && end != 0) {
        /* Python's hosts[start:end + 1] (Ansible treats an end of 0 as
         * "no end", below). */
        if (end == -1)
            end = n - 1;
        long long a = start < n ? start : n;
        long long b = end + 1 < n ? end + 1 : n;
        if (b < a)
            b = a;
        memmove(out->v, out->v + a, (size_t)(b - a) * sizeof(*out->v));
        out->n = (size_t)(b - a);
        return ERR_OK;
    }
    long long i = start < 0 ? n + start : start;
    if (i < 0 || i >= n)
        return err_set(e, ERR_NOTFOUND,
                       "no hosts matched the subscripted pattern '%s' (it "
                       "has %lld hosts)",
                       pat, n);
    out->v[0] = out->v[i];
    out->n = 1;
    return ERR_OK;
}

/* order_patterns: plain terms, then '&' terms, then '!' terms; only
 * '&' / '!' terms mean "all" first. ordered has room for n + 1. */
static void inv_pattern_order(char **terms, size_t n, char **ordered,
                              size_t *nout)
{
    static char all[] = "all";
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (terms[i][0] != '!' && terms[i][0] != '&')
            ordered[k++] = terms[i];
    if (k == 0)
        ordered[k++] = all;
    for (size_t i = 0; i < n; i++)
        if (terms[i][0] == '&')
            ordered[k++] = terms[i];
    for (size_t i = 0; i < n; i++)
        if (terms[i][0] == '!')
            ordered[k++] = terms[i];
    *nout = k;
}

enum err_code inv_pattern_select(const struct inventory *inv,
                                 const char *pattern,
                                 const struct inv_host ***out, size_t *n,
                                 struct err *e)
{
    *out = NULL;
    *n = 0;
    char **terms;
    size_t nt;
    inv_pattern_split(pattern, &terms, &nt);
    char **ordered = xcalloc(nt + 1, sizeof(*ordered));
    size_t no;
    inv_pattern_order(terms, nt, ordered, &no);
    size_t nh = inv_host_count(inv);
    /* in[] marks what the result holds, by host index. */
    unsigned char *in = xcalloc(nh + 1, 1);
    unsigned char *that = xcalloc(nh + 1, 1);
    struct inv_hlist res = {0};
    enum err_code c = ERR_OK;
    for (size_t t = 0; t < no && c == ERR_OK; t++) {
        const char *p = ordered[t];
        const struct inv_host *exact = inv_host_find(inv, p);
        if (exact != NULL) {
            inv_hlist_push(&res, exact);
            continue;
        }
        char op = p[0] == '!' || p[0] == '&' ? p[0] : '\0';
        const char *body = op != '\0' ? p + 1 : p;
        if (body[0] == '\0') {
            c = err_set(e, ERR_INVALID,
                        "invalid host pattern: '%s' ('%c' must be followed "
                        "by a pattern)",
                        pattern, op);
            break;
        }
        struct inv_hlist m = {0};
        c = inv_pattern_one(inv, body, &m, e);
        if (c != ERR_OK) {
            free(m.v);
            break;
        }
        /* Host identity is its index in the inventory. */
        size_t keep = 0;
        if (op == '\0') {
            memset(that, 0, nh + 1);
            for (size_t i = 0; i < res.n; i++)
                that[inv_host_index(inv, res.v[i])] = 1;
            for (size_t i = 0; i < m.n; i++)
                if (!that[inv_host_index(inv, m.v[i])])
                    inv_hlist_push(&res, m.v[i]);
        } else {
            memset(that, 0, nh + 1);
            for (size_t i = 0; i < m.n; i++)
                that[inv_host_index(inv, m.v[i])] = 1;
            for (size_t i = 0; i < res.n; i++) {
                bool there = that[inv_host_index(inv, res.v[i])];
                if ((op == '&') == there)
                    res.v[keep++] = res.v[i];
            }
            res.n = keep;
        }
        free(m.v);
    }
    if (c == ERR_OK) {
        /* deduplicate_list, first occurrence wins. */
        size_t keep = 0;
        for (size_t i = 0; i < res.n; i++) {
            size_t ix = inv_host_index(inv, res.v[i]);
            if (!in[ix]) {
                in[ix] = 1;
                res.v[keep++] = res.v[i];
            }
        }
        res.n = keep;
        if (res.n == 0)
            log_warn("no hosts matched pattern '%s'", pattern);
        *out = res.v;
        *n = res.n;
    } else {
        free(res.v);
    }
    free(in);
    free(that);
    free(ordered);
    for (size_t i = 0; i < nt; i++)
        free(terms[i]);
    free(terms);
    return c;
}
