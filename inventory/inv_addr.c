/* inventory/inv_addr.c: Ansible's parse_address and expand_hostname_range,
 * rewritten without regular expressions but to the same rules: a range is
 * cut at the first '[' and the first ']', its bounds are letters or
 * integers (zero-padded when the start is), and the rest is expanded
 * recursively. The number of names is computed before any is built, so a
 * range like [0:99999999999] is refused without allocating. */
#include "inv_addr.h"

#include "err.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bounds past this are refused before any arithmetic. */
#define INV_ADDR_BOUND_MAX 1000000000000000LL

static const char inv_addr_letters[] =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

static bool inv_addr_w(char c)
{
    return isalnum((unsigned char)c) || c == '_' || (unsigned char)c >= 0x80;
}

static size_t inv_addr_run(const char *s, size_t i, size_t len, int (*cls)(int))
{
    size_t j = i;
    while (j < len && cls((unsigned char)s[j]))
        j++;
    return j - i;
}

/* Length of an alphanumeric range "[a:z]" / "[1:9]" / "[1:9:2]" at s+i,
 * 0 if none (Ansible's alphanumeric_range; hex is for IPv6). */
static size_t inv_addr_range_at(const char *s, size_t i, size_t len, bool hex)
{
    size_t j = i;
    if (j >= len || s[j] != '[')
        return 0;
    j++;
    if (!hex && j + 2 < len && isalpha((unsigned char)s[j]) &&
        s[j + 1] == ':' && isalpha((unsigned char)s[j + 2])) {
        j += 3;
    } else {
        int (*cls)(int) = hex ? isxdigit : isdigit;
        size_t n = inv_addr_run(s, j, len, cls);
        if (n == 0 || j + n >= len || s[j + n] != ':')
            return 0;
        j += n + 1;
        n = inv_addr_run(s, j, len, cls);
        if (n == 0)
            return 0;
        j += n;
    }
    if (j < len && s[j] == ':') {
        size_t n = inv_addr_run(s, j + 1, len, isdigit);
        if (n == 0)
            return 0;
        j += 1 + n;
    }
    if (j >= len || s[j] != ']')
        return 0;
    return j + 1 - i;
}

/* Ansible's 'hostname' pattern: labels of word characters, '-' and ranges,
 * separated by dots, not ending in '-' or '_'. */
static bool inv_addr_hostname(const char *s, size_t len)
{
    size_t i = 0;
    for (;;) {
        size_t rl;
        if (i < len && inv_addr_w(s[i]))
            i++;
        else if ((rl = inv_addr_range_at(s, i, len, false)) > 0)
            i += rl;
        else
            return false;
        while (i < len) {
            if (inv_addr_w(s[i]) || s[i] == '-')
                i++;
            else if ((rl = inv_addr_range_at(s, i, len, false)) > 0)
                i += rl;
            else
                break;
        }
        if (s[i - 1] == '_' || s[i - 1] == '-')
            return false;
        if (i == len)
            return true;
        if (s[i] != '.')
            return false;
        i++;
    }
}

/* An IPv6 address (possibly with hex ranges or an IPv4 tail), loosely:
 * hex groups separated by ':', at least two colons, one "::" at most. */
static bool inv_addr_ipv6(const char *s, size_t len)
{
    size_t colons = 0, i = 0;
    bool dbl = false;
    while (i < len) {
        size_t rl;
        if (s[i] == ':') {
            colons++;
            if (i + 1 < len && s[i + 1] == ':') {
                if (dbl)
                    return false;
                dbl = true;
                colons++;
                i++;
            }
            i++;
        } else if (isxdigit((unsigned char)s[i]) || s[i] == '.') {
            i++;
        } else if ((rl = inv_addr_range_at(s, i, len, true)) > 0) {
            i += rl;
        } else {
            return false;
        }
    }
    return colons >= 2 && colons <= 8;
}

static bool inv_addr_port(const char *s, long long *port)
{
    if (*s == '\0' || strspn(s, "0123456789") != strlen(s))
        return false;
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno != 0)
        return false;
    *port = v;
    return true;
}

bool inv_addr_parse(const char *s, char **host, long long *port)
{
    size_t len = strlen(s);
    char *addr = xstrdup(s);
    long long p = -1;
    /* bracketed_hostport: [ADDR]:PORT */
    if (len > 3 && addr[0] == '[') {
        char *close = NULL;
        for (char *q = strstr(addr, "]:"); q != NULL; q = strstr(q + 1, "]:"))
            close = q;
        if (close != NULL && close > addr + 1 && inv_addr_port(close + 2, &p)) {
            *close = '\0';
            memmove(addr, addr + 1, strlen(addr + 1) + 1);
            len = strlen(addr);
        }
    }
    /* hostport: a run without ':' outside brackets, then :PORT */
    for (size_t i = 0; i < len; i++) {
        if (addr[i] == '[') {
            char *close = strchr(addr + i, ']');
            if (close == NULL)
                break;
            i = (size_t)(close - addr);
        } else if (addr[i] == ']') {
            break;
        } else if (addr[i] == ':') {
            if (inv_addr_port(addr + i + 1, &p)) {
                addr[i] = '\0';
                len = i;
            }
            break;
        }
    }
    bool ok =
        len > 0 && (inv_addr_hostname(addr, len) || inv_addr_ipv6(addr, len));
    if (!ok) {
        free(addr);
        return false;
    }
    *host = addr;
    *port = p;
    return true;
}

/* Python's int(): optional sign, digits with single underscores. */
static bool inv_addr_int(const char *s, size_t n, long long *out)
{
    char tmp[32];
    size_t k = 0;
    size_t i = 0;
    while (i < n && isspace((unsigned char)s[i]))
        i++;
    while (n > i && isspace((unsigned char)s[n - 1]))
        n--;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        tmp[k++] = s[i++];
    bool digit = false;
    for (; i < n; i++) {
        if (isdigit((unsigned char)s[i])) {
            if (k + 1 >= sizeof(tmp))
                return false;
            tmp[k++] = s[i];
            digit = true;
        } else if (s[i] == '_' && digit && i + 1 < n &&
                   isdigit((unsigned char)s[i + 1])) {
            continue;
        } else {
            return false;
        }
    }
    if (!digit)
        return false;
    tmp[k] = '\0';
    errno = 0;
    long long v = strtoll(tmp, NULL, 10);
    if (errno != 0 || v > INV_ADDR_BOUND_MAX || v < -INV_ADDR_BOUND_MAX)
        return false;
    *out = v;
    return true;
}

/* One level: the first '[' ... first ']' of s. */
struct inv_addr_level {
    size_t a, b;         /* the cut: head is s[0,a), tail s(b,end) */
    bool alpha;          /* letters, not numbers */
    long long beg, step; /* first value (letter index) and step */
    size_t count;        /* values */
    int width;           /* zero-padded width, 0 for none */
};

static bool inv_addr_fail(char *why, size_t whylen, const char *msg,
                          const char *s)
{
    snprintf(why, whylen, "%s: '%s'", msg, s);
    return false;
}

static bool inv_addr_level(const char *s, struct inv_addr_level *lv, char *why,
                           size_t whylen)
{
    if (strchr(s, '|') != NULL)
        return inv_addr_fail(why, whylen, "'|' cannot appear in a host range",
                             s);
    const char *p1 = strchr(s, '['), *p2 = strchr(s, ']');
    if (p2 == NULL)
        return inv_addr_fail(why, whylen, "host range without a closing ']'",
                             s);
    lv->a = (size_t)((p1 < p2 ? p1 : p2) - s);
    lv->b = (size_t)((p1 < p2 ? p2 : p1) - s);
    const char *r = s + lv->a + 1;
    size_t rn = lv->b - lv->a - 1;
    const char *c1 = memchr(r, ':', rn);
    const char *c2 =
        c1 != NULL ? memchr(c1 + 1, ':', rn - (size_t)(c1 + 1 - r)) : NULL;
    if (c1 == NULL ||
        (c2 != NULL && memchr(c2 + 1, ':', rn - (size_t)(c2 + 1 - r)) != NULL))
        return inv_addr_fail(
            why, whylen, "host range must be [begin:end] or [begin:end:step]",
            s);
    const char *beg = r;
    size_t nbeg = (size_t)(c1 - r);
    const char *end = c1 + 1;
    size_t nend = (size_t)((c2 != NULL ? c2 : r + rn) - end);
    const char *step = c2 != NULL ? c2 + 1 : "1";
    size_t nstep = c2 != NULL ? (size_t)(r + rn - step) : 1;
    if (nbeg == 0) {
        beg = "0";
        nbeg = 1;
    }
    if (nend == 0)
        return inv_addr_fail(why, whylen,
                             "host range must specify an end value", s);
    lv->width = 0;
    if (beg[0] == '0' && nbeg > 1) {
        if (nbeg != nend)
            return inv_addr_fail(why, whylen,
                                 "host range must have begin and end of the "
                                 "same width",
                                 s);
        lv->width = (int)nbeg;
    }
    /* Letters: Python's string.ascii_letters.index() finds substrings. */
    char bs[64], es[64];
    const char *ib = NULL, *ie = NULL;
    if (nbeg < sizeof(bs) && nend < sizeof(es)) {
        memcpy(bs, beg, nbeg);
        bs[nbeg] = '\0';
        memcpy(es, end, nend);
        es[nend] = '\0';
        ib = strstr(inv_addr_letters, bs);
        ie = strstr(inv_addr_letters, es);
    }
    long long st;
    if (ib != NULL && ie != NULL) {
        long long i0 = ib - inv_addr_letters, i1 = ie - inv_addr_letters;
        if (i0 > i1)
            return inv_addr_fail(why, whylen,
                                 "host range must have begin <= end", s);
        if (inv_addr_int(step, nstep, &st) && st != 0) {
            lv->alpha = true;
            lv->beg = i0;
            lv->step = st;
            lv->count = st > 0 ? (size_t)((i1 - i0) / st + 1) : 0;
            return true;
        }
    }
    long long b, e;
    lv->alpha = false;
    if (!inv_addr_int(beg, nbeg, &b) || !inv_addr_int(end, nend, &e) ||
        !inv_addr_int(step, nstep, &st))
        return inv_addr_fail(why, whylen,
                             "host range bounds must be integers or single "
                             "letters (at most 10^15)",
                             s);
    if (st == 0)
        return inv_addr_fail(why, whylen, "host range step must not be zero",
                             s);
    lv->beg = b;
    lv->step = st;
    if (st > 0)
        lv->count = e + 1 > b ? (size_t)((e + 1 - b + st - 1) / st) : 0;
    else
        lv->count = b > e + 1 ? (size_t)((b - (e + 1) + (-st) - 1) / (-st)) : 0;
    return true;
}

/* head + value number k + tail. */
static char *inv_addr_name(const char *s, const struct inv_addr_level *lv,
                           size_t k)
{
    char val[128], digits[32];
    long long v = lv->beg + (long long)k * lv->step;
    if (lv->alpha) {
        val[0] = inv_addr_letters[v];
        val[1] = '\0';
    } else {
        /* Python's str(v).zfill(width): zeros after the sign. */
        snprintf(digits, sizeof(digits), "%lld", v < 0 ? -v : v);
        size_t nd = strlen(digits), k2 = 0;
        size_t width = (size_t)lv->width;
        if (v < 0)
            val[k2++] = '-';
        while (width > nd + k2 && k2 < sizeof(val) - sizeof(digits))
            val[k2++] = '0';
        memcpy(val + k2, digits, nd + 1);
    }
    return xasprintf("%.*s%s%s", (int)lv->a, s, val, s + lv->b + 1);
}

/* How many names s expands to, capped: false on error or past max. */
static bool inv_addr_count(const char *s, size_t max, size_t *out, char *why,
                           size_t whylen, int depth)
{
    if (strchr(s, '[') == NULL) {
        *out = 1;
        return true;
    }
    if (depth > 64)
        return inv_addr_fail(why, whylen, "too many host ranges", s);
    struct inv_addr_level lv;
    if (!inv_addr_level(s, &lv, why, whylen))
        return false;
    if (lv.count == 0) {
        *out = 0;
        return true;
    }
    if (lv.count > max)
        goto toobig;
    char *first = inv_addr_name(s, &lv, 0);
    size_t sub;
    bool ok = inv_addr_count(first, max, &sub, why, whylen, depth + 1);
    free(first);
    if (!ok)
        return false;
    if (sub != 0 && lv.count > max / sub)
        goto toobig;
    *out = lv.count * sub;
    return true;
toobig:
    snprintf(why, whylen, "host range expands to more than %zu names: '%s'",
             max, s);
    return false;
}

static void inv_addr_fill(const char *s, char **names, size_t *n)
{
    if (strchr(s, '[') == NULL) {
        names[(*n)++] = xstrdup(s);
        return;
    }
    struct inv_addr_level lv;
    char why[8];
    if (!inv_addr_level(s, &lv, why, sizeof(why)))
        return;
    for (size_t k = 0; k < lv.count; k++) {
        char *name = inv_addr_name(s, &lv, k);
        if (strchr(name, '[') != NULL) {
            inv_addr_fill(name, names, n);
            free(name);
        } else {
            names[(*n)++] = name;
        }
    }
}

bool inv_addr_expand(const char *s, size_t max, char ***names, size_t *n,
                     char *why, size_t whylen)
{
    size_t count;
    if (!inv_addr_count(s, max, &count, why, whylen, 0))
        return false;
    *names = xcalloc(count + 1, sizeof(char *));
    *n = 0;
    inv_addr_fill(s, *names, n);
    return true;
}
