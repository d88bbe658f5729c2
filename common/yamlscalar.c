/* common/yamlscalar.c: the one typing of YAML scalars, as PyYAML's
 * resolver and SafeConstructor type them (YAML 1.1): yes/no/on/off are
 * booleans, 0755 octal, 0x1F hex, 1:30 base 60, 1_000 an int, 1.5 and
 * .5 floats but 1e5 text. Numbers past 64 bits, infinities and NaN stay
 * the text they were written as (docs/inventory.md). */
#include "yamlscalar.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool yamlscalar_is_null(const char *s)
{
    return s[0] == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
           strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

/* YAML 1.1 booleans: 1 true, 0 false, -1 neither. */
static int yamlscalar_bool(const char *s)
{
    static const char *const t[] = {"yes",  "Yes", "YES", "true", "True",
                                    "TRUE", "on",  "On",  "ON"};
    static const char *const f[] = {"no",    "No",  "NO",  "false", "False",
                                    "FALSE", "off", "Off", "OFF"};
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        if (strcmp(s, t[i]) == 0)
            return 1;
        if (strcmp(s, f[i]) == 0)
            return 0;
    }
    return -1;
}

/* Copy s without '_' into out (at most outlen - 1 bytes). */
static bool yamlscalar_strip_(const char *s, char *out, size_t outlen)
{
    size_t k = 0;
    for (; *s != '\0'; s++) {
        if (*s == '_')
            continue;
        if (k + 1 >= outlen)
            return false;
        out[k++] = *s;
    }
    out[k] = '\0';
    return true;
}

static bool yamlscalar_all(const char *s, const char *set)
{
    return *s != '\0' && strspn(s, set) == strlen(s);
}

/* PyYAML's int resolver and constructor; *ok false when not an int,
 * *big when one that does not fit 64 bits. */
static bool yamlscalar_int(const char *s, long long *out, bool *big)
{
    const char *p = s;
    bool neg = false;
    *big = false;
    if (*p == '-' || *p == '+') {
        neg = *p == '-';
        p++;
    }
    int base = 10;
    const char *digits = p;
    if (p[0] == '0' && p[1] == 'b') {
        base = 2;
        digits = p + 2;
        if (!yamlscalar_all(digits, "01_"))
            return false;
    } else if (p[0] == '0' && p[1] == 'x') {
        base = 16;
        digits = p + 2;
        if (!yamlscalar_all(digits, "0123456789abcdefABCDEF_"))
            return false;
    } else if (p[0] == '0' && p[1] != '\0') {
        base = 8;
        digits = p + 1;
        if (!yamlscalar_all(digits, "01234567_"))
            return false;
    } else if (strchr(p, ':') != NULL) {
        /* Sexagesimal: 1:30 is 90. */
        if (p[0] < '1' || p[0] > '9')
            return false;
        long long v = 0;
        const char *q = p;
        size_t first = strspn(q, "0123456789_");
        char tmp[64];
        char part[64];
        if (first >= sizeof(part))
            return false;
        memcpy(part, q, first);
        part[first] = '\0';
        if (!yamlscalar_strip_(part, tmp, sizeof(tmp)))
            return false;
        errno = 0;
        v = strtoll(tmp, NULL, 10);
        bool over = errno == ERANGE;
        q += first;
        while (*q == ':') {
            q++;
            size_t n = strspn(q, "0123456789");
            if (n == 0 || n > 2 || (n == 2 && q[0] > '5'))
                return false;
            /* Python's ints have no bound: past 64 bits it is big. */
            over = over || __builtin_mul_overflow(v, 60, &v) ||
                   __builtin_add_overflow(v, strtol(q, NULL, 10), &v);
            q += n;
        }
        if (*q != '\0')
            return false;
        *big = over;
        *out = neg ? -v : v;
        return true;
    } else {
        if (!(strcmp(p, "0") == 0 ||
              (p[0] >= '1' && p[0] <= '9' && yamlscalar_all(p, "0123456789_"))))
            return false;
    }
    char tmp[128];
    if (!yamlscalar_strip_(digits, tmp, sizeof(tmp))) {
        *big = true;
        return true;
    }
    if (tmp[0] == '\0')
        return false;
    errno = 0;
    unsigned long long v = strtoull(tmp, NULL, base);
    if (errno == ERANGE || v > (unsigned long long)INT64_MAX) {
        *big = true;
        return true;
    }
    *out = neg ? -(long long)v : (long long)v;
    return true;
}

/* "190:20:30.15": base-60 parts, a fraction on the last. */
static bool yamlscalar_sexagesimal(const char *s, double *out)
{
    const char *q = s;
    bool neg = false;
    if (*q == '-' || *q == '+')
        neg = *q++ == '-';
    char tmp[64];
    size_t n = strspn(q, "0123456789_");
    if (n == 0 || n >= sizeof(tmp))
        return false;
    memcpy(tmp, q, n);
    tmp[n] = '\0';
    char clean[64];
    if (!yamlscalar_strip_(tmp, clean, sizeof(clean)))
        return false;
    double v = strtod(clean, NULL);
    q += n;
    bool any = false;
    while (*q == ':') {
        q++;
        size_t k = strspn(q, "0123456789");
        if (k == 0 || k > 2 || (k == 2 && q[0] > '5'))
            return false;
        v = v * 60 + strtol(q, NULL, 10);
        q += k;
        any = true;
    }
    if (!any || *q != '.')
        return false;
    q++;
    size_t nf = strspn(q, "0123456789_");
    if (q[nf] != '\0' || nf >= sizeof(tmp) - 2)
        return false;
    tmp[0] = '0';
    tmp[1] = '.';
    memcpy(tmp + 2, q, nf);
    tmp[nf + 2] = '\0';
    if (!yamlscalar_strip_(tmp, clean, sizeof(clean)))
        return false;
    /* PyYAML adds the fraction to the last part: 30.15 is 30 + .15. */
    v += strtod(clean, NULL);
    *out = neg ? -v : v;
    return true;
}

/* Up to max ASCII digits at *p (at least min): their value, *p moved past
 * them; -1 when there are fewer than min. */
static int yamlscalar_digits(const char **p, size_t min, size_t max)
{
    size_t k = 0;
    int v = 0;
    while (k < max && isdigit((unsigned char)(*p)[k]))
        v = v * 10 + ((*p)[k++] - '0');
    if (k < min)
        return -1;
    *p += k;
    return v;
}

/* PyYAML's timestamp (construct_yaml_timestamp's pattern; implicit: the
 * stricter resolver's, which wants YYYY-MM-DD when there is no time),
 * as Python's isoformat() prints the date or datetime: 1 and out
 * filled, 0 when s is not a timestamp, -1 when it is one that Python's
 * datetime refuses (why says which part). */
static int yamlscalar_timestamp(const char *s, bool implicit, char *out,
                                size_t outlen, const char **why)
{
    const char *p = s;
    int y = yamlscalar_digits(&p, 4, 4), mo, d, h = -1, mi = 0, se = 0;
    const char *m0 = p + 1;
    if (y < 0 || *p++ != '-' || (mo = yamlscalar_digits(&p, 1, 2)) < 0)
        return 0;
    const char *d0 = p + 1;
    if (*p++ != '-' || (d = yamlscalar_digits(&p, 1, 2)) < 0)
        return 0;
    char frac[8] = "";
    int tz = 0; /* minutes east of UTC */
    bool has_tz = false;
    if (*p != '\0') {
        if (*p == 'T' || *p == 't')
            p++;
        else if (*p == ' ' || *p == '\t')
            p += strspn(p, " \t");
        else
            return 0;
        if ((h = yamlscalar_digits(&p, 1, 2)) < 0 || *p++ != ':' ||
            (mi = yamlscalar_digits(&p, 2, 2)) < 0 || *p++ != ':' ||
            (se = yamlscalar_digits(&p, 2, 2)) < 0)
            return 0;
        if (*p == '.') {
            size_t k = strspn(++p, "0123456789");
            for (size_t i = 0; k > 0 && i < 6; i++)
                frac[i] = i < k ? p[i] : '0';
            p += k;
        }
        const char *t = p + strspn(p, " \t");
        if (*t == 'Z') {
            has_tz = true;
            p = t + 1;
        } else if (*t == '+' || *t == '-') {
            const char *q = t + 1;
            int th = yamlscalar_digits(&q, 1, 2), tm = 0;
            if (th < 0)
                return 0;
            const char *r = q + 1;
            if (*q == ':' && (tm = yamlscalar_digits(&r, 2, 2)) >= 0)
                q = r;
            else
                tm = 0;
            tz = (*t == '-' ? -1 : 1) * (th * 60 + tm);
            has_tz = true;
            p = q;
        }
    }
    if (*p != '\0')
        return 0;
    if (implicit && h < 0 && (d0 - m0 != 3 || strlen(d0) != 2))
        return 0;
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    *why = y < 1               ? "year is out of range"
           : mo < 1 || mo > 12 ? "month must be in 1..12"
           : d < 1 || d > mdays[mo - 1] + (mo == 2 && leap)
               ? "day is out of range for month"
           : h > 23  ? "hour must be in 0..23"
           : mi > 59 ? "minute must be in 0..59"
           : se > 59 ? "second must be in 0..59"
           : tz <= -1440 || tz >= 1440
               ? "the UTC offset must be less than 24 hours"
               : NULL;
    if (*why != NULL)
        return -1;
    if (h < 0) {
        snprintf(out, outlen, "%04d-%02d-%02d", y, mo, d);
        return 1;
    }
    bool frac_zero = frac[0] == '\0' || strspn(frac, "0") == 6;
    char tzs[16] = "";
    if (has_tz)
        snprintf(tzs, sizeof(tzs), "%c%02d:%02d", tz < 0 ? '-' : '+',
                 abs(tz) / 60, abs(tz) % 60);
    snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d%s%s%s", y, mo, d, h,
             mi, se, frac_zero ? "" : ".", frac_zero ? "" : frac, tzs);
    return 1;
}

/* A float's exponent at *q, if any: 'e' or 'E', a sign (which PyYAML's
 * resolver requires and Python's float() does not), digits. *q moved past
 * it; false when an 'e' starts something else. */
static bool yamlscalar_exponent(const char **q, bool sign_required)
{
    const char *p = *q;
    if (*p != 'e' && *p != 'E')
        return true;
    p++;
    if (*p == '-' || *p == '+')
        p++;
    else if (sign_required)
        return false;
    size_t ne = strspn(p, "0123456789");
    if (ne == 0)
        return false;
    *q = p + ne;
    return true;
}

/* PyYAML's float resolver: needs a '.', exponent needs a sign. */
static bool yamlscalar_float(const char *s, double *out, bool *special)
{
    *special = false;
    const char *p = s;
    if (*p == '-' || *p == '+')
        p++;
    static const char *const inf[] = {".inf", ".Inf", ".INF"};
    static const char *const nan[] = {".nan", ".NaN", ".NAN"};
    for (size_t i = 0; i < 3; i++)
        if (strcmp(p, inf[i]) == 0 || (p == s && strcmp(s, nan[i]) == 0)) {
            *special = true;
            return true;
        }
    const char *q = p;
    size_t ni = strspn(q, "0123456789_");
    if (ni > 0 && (q[0] < '0' || q[0] > '9'))
        return false;
    q += ni;
    if (*q == ':' && ni > 0)
        return yamlscalar_sexagesimal(s, out);
    if (*q != '.')
        return false;
    q++;
    size_t nf = strspn(q, "0123456789_");
    /* ".5" is a float, "-.5" is not (PyYAML's resolver). */
    if (ni == 0 && (p != s || nf == 0 || q[0] < '0' || q[0] > '9'))
        return false;
    q += nf;
    if (!yamlscalar_exponent(&q, true) || *q != '\0')
        return false;
    /* any number of digits: Python's float() takes them all */
    size_t len = strlen(s) + 1;
    char *tmp = xmalloc(len);
    yamlscalar_strip_(s, tmp, len);
    double d = strtod(tmp, NULL);
    free(tmp);
    if (!isfinite(d)) {
        *special = true;
        return true;
    }
    *out = d;
    return true;
}

/* JSON number grammar. */
static json_t *yamlscalar_json_number(const char *s)
{
    json_error_t je;
    json_t *v = json_loads(s, JSON_DECODE_ANY, &je);
    if (v != NULL && !json_is_number(v)) {
        json_decref(v);
        return NULL;
    }
    return v;
}

static bool yamlscalar_tag_is(const char *tag, const char *name)
{
    static const char prefix[] = "tag:yaml.org,2002:";
    return tag != NULL && strncmp(tag, prefix, sizeof(prefix) - 1) == 0 &&
           strcmp(tag + sizeof(prefix) - 1, name) == 0;
}

/* --- explicit tags: PyYAML's SafeConstructor ------------------------------
 * A tagged scalar is built by its constructor whatever the text looks
 * like (the resolver's patterns do not apply): !!float 1 is 1.0,
 * !!int 0o17 is 15, !!bool yEs is true, !!null x is null. The
 * constructors strip '_' and one sign, then call Python's int() or
 * float(), which these functions follow. */

/* Python's str.strip() whitespace (ASCII). */
static bool yamlscalar_pyspace(char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

/* s[0..n) without Python's surrounding whitespace. */
static const char *yamlscalar_pystrip(const char *s, size_t *n)
{
    while (*n > 0 && yamlscalar_pyspace(*s)) {
        s++;
        (*n)--;
    }
    while (*n > 0 && yamlscalar_pyspace(s[*n - 1]))
        (*n)--;
    return s;
}

/* Python's int(s[0..n), base) for base 2, 8, 10 or 16: false when Python
 * raises; *big (left set) when the value does not fit 64 bits. */
static bool yamlscalar_pyint(const char *s, size_t n, int base, long long *v,
                             bool *big)
{
    s = yamlscalar_pystrip(s, &n);
    bool neg = false;
    if (n > 0 && (*s == '+' || *s == '-')) {
        neg = *s == '-';
        s++;
        n--;
    }
    char prefix = base == 2 ? 'b' : base == 8 ? 'o' : base == 16 ? 'x' : 0;
    if (prefix != 0 && n >= 2 && s[0] == '0' &&
        tolower((unsigned char)s[1]) == prefix) {
        s += 2;
        n -= 2;
    }
    if (n == 0)
        return false;
    unsigned long long u = 0;
    for (size_t i = 0; i < n; i++) {
        int c = tolower((unsigned char)s[i]);
        int dg = isdigit(c)             ? c - '0'
                 : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                        : 99;
        if (dg >= base)
            return false;
        if (__builtin_mul_overflow(u, (unsigned)base, &u) ||
            __builtin_add_overflow(u, (unsigned)dg, &u))
            *big = true;
    }
    if (u > (unsigned long long)INT64_MAX + (neg ? 1 : 0))
        *big = true;
    *v = neg ? (long long)(0 - u) : (long long)u;
    return true;
}

/* Python's float(s[0..n)): false when Python raises; *special for an
 * infinity or NaN (also one from overflow: float("1e400")). */
static bool yamlscalar_pyfloat(const char *s, size_t n, double *v,
                               bool *special)
{
    s = yamlscalar_pystrip(s, &n);
    if (n == 0)
        return false;
    char *buf = xstrndup(s, n); /* any number of digits, as Python */
    const char *p = buf + (buf[0] == '+' || buf[0] == '-');
    bool ok = true;
    if (strcasecmp(p, "inf") == 0 || strcasecmp(p, "infinity") == 0 ||
        strcasecmp(p, "nan") == 0) {
        *special = true;
    } else {
        size_t ni = strspn(p, "0123456789"), nf = 0;
        const char *q = p + ni;
        if (*q == '.')
            nf = strspn(++q, "0123456789");
        q += nf;
        ok = ni + nf > 0 && yamlscalar_exponent(&q, false) && *q == '\0';
        if (ok)
            *v = strtod(buf, NULL);
        if (ok && !isfinite(*v))
            *special = true;
    }
    free(buf);
    return ok;
}

/* construct_yaml_int / construct_yaml_float: the text without '_' (and,
 * for floats, in lowercase), its sign taken off. */
static char *yamlscalar_ctor_text(const char *s, bool lower, int *sign)
{
    char *t = xstrdup(s);
    size_t k = 0;
    for (const char *p = s; *p != '\0'; p++)
        if (*p != '_')
            t[k++] = lower ? (char)tolower((unsigned char)*p) : *p;
    t[k] = '\0';
    *sign = t[0] == '-' ? -1 : 1;
    if (t[0] == '-' || t[0] == '+')
        memmove(t, t + 1, k);
    return t;
}

/* construct_yaml_int: false when Python raises. */
static bool yamlscalar_ctor_int(const char *s, long long *v, bool *big)
{
    int sign;
    if (s[0] == '\0')
        return false;
    char *t = yamlscalar_ctor_text(s, false, &sign);
    bool ok = true;
    long long r = 0;
    *big = false;
    if (strcmp(t, "0") == 0)
        r = 0;
    else if (strncmp(t, "0b", 2) == 0)
        ok = yamlscalar_pyint(t + 2, strlen(t + 2), 2, &r, big);
    else if (strncmp(t, "0x", 2) == 0)
        ok = yamlscalar_pyint(t + 2, strlen(t + 2), 16, &r, big);
    else if (t[0] == '0')
        ok = yamlscalar_pyint(t, strlen(t), 8, &r, big);
    else if (t[0] == '\0')
        ok = false; /* value[0]: IndexError */
    else if (strchr(t, ':') == NULL)
        ok = yamlscalar_pyint(t, strlen(t), 10, &r, big);
    else /* base 60, the last part first */
        for (const char *p = t; ok && p != NULL;) {
            const char *c = strchr(p, ':');
            size_t n = c ? (size_t)(c - p) : strlen(p);
            long long part = 0;
            ok = yamlscalar_pyint(p, n, 10, &part, big);
            if (ok && (__builtin_mul_overflow(r, 60LL, &r) ||
                       __builtin_add_overflow(r, part, &r)))
                *big = true;
            p = c ? c + 1 : NULL;
        }
    if (ok && __builtin_mul_overflow(r, (long long)sign, &r))
        *big = true;
    free(t);
    *v = r;
    return ok;
}

/* construct_yaml_float: false when Python raises. */
static bool yamlscalar_ctor_float(const char *s, double *v, bool *special)
{
    int sign;
    if (s[0] == '\0')
        return false;
    char *t = yamlscalar_ctor_text(s, true, &sign);
    bool ok = true;
    double r = 0;
    *special = false;
    if (strcmp(t, ".inf") == 0 || strcmp(t, ".nan") == 0)
        *special = true;
    else if (strchr(t, ':') == NULL)
        ok = yamlscalar_pyfloat(t, strlen(t), &r, special);
    else
        for (const char *p = t; ok && p != NULL;) {
            const char *c = strchr(p, ':');
            double part = 0;
            ok = yamlscalar_pyfloat(p, c ? (size_t)(c - p) : strlen(p), &part,
                                    special);
            r = r * 60 + part;
            p = c ? c + 1 : NULL;
        }
    free(t);
    *v = sign * r;
    if (ok && !isfinite(*v))
        *special = true;
    return ok;
}

/* A scalar with an explicit !!int, !!float, !!bool, !!null or
 * !!timestamp tag, built as PyYAML's constructor builds it. Numbers
 * past 64 bits, infinities and NaN stay the text they were written as
 * (docs/inventory.md). Text the constructor refuses is an error, as in
 * Ansible, which cannot read such a file. */
static enum err_code yamlscalar_tagged(const struct yamlscalar *n, json_t **out,
                                       struct err *e)
{
    const char *s = n->text, *tag = n->tag, *why = NULL;
    *out = NULL;
    if (yamlscalar_tag_is(tag, "null")) {
        *out = json_null();
    } else if (yamlscalar_tag_is(tag, "bool")) {
        static const char *const words[] = {"no",   "yes", "false",
                                            "true", "off", "on"};
        for (size_t i = 0; i < 6; i++)
            if (strcasecmp(s, words[i]) == 0)
                *out = json_boolean(i % 2);
    } else if (yamlscalar_tag_is(tag, "int")) {
        long long v;
        bool big;
        if (yamlscalar_ctor_int(s, &v, &big))
            *out = big ? json_string(s) : json_integer(v);
    } else if (yamlscalar_tag_is(tag, "float")) {
        double v;
        bool special;
        if (yamlscalar_ctor_float(s, &v, &special))
            *out = special ? json_string(s) : json_real(v);
    } else {
        char ts[64];
        int r = yamlscalar_timestamp(s, false, ts, sizeof(ts), &why);
        if (r > 0)
            *out = json_string(ts);
    }
    if (*out != NULL)
        return ERR_OK;
    static const char prefix[] = "tag:yaml.org,2002:";
    return err_set(e, ERR_PARSE, "value does not match its tag !!%s%s%s: '%s'",
                   tag + sizeof(prefix) - 1, why ? ": " : "", why ? why : "",
                   s);
}

enum err_code yamlscalar_json(const struct yamlscalar *n, json_t **out,
                              struct err *e)
{
    const char *s = n->text;
    const char *tag = n->tag;
    *out = NULL;
    if (tag != NULL && strcmp(tag, "!vault") == 0)
        return err_set(e, ERR_INVALID,
                       "vault-encrypted values are not supported: decrypt "
                       "them into the environment");
    bool as_str = (!n->plain && tag == NULL) || yamlscalar_tag_is(tag, "str") ||
                  (tag != NULL && strcmp(tag, "!unsafe") == 0) ||
                  (tag != NULL && strcmp(tag, "!") == 0);
    if (as_str) {
        *out = json_stringn(s, n->len);
        if (*out == NULL)
            return err_set(e, ERR_PARSE, "not UTF-8 text");
        return ERR_OK;
    }
    if (tag != NULL && !yamlscalar_tag_is(tag, "int") &&
        !yamlscalar_tag_is(tag, "float") && !yamlscalar_tag_is(tag, "bool") &&
        !yamlscalar_tag_is(tag, "null") && !yamlscalar_tag_is(tag, "timestamp"))
        return err_set(e, ERR_PARSE,
                       "unknown YAML tag: '%s' (use a plain value or !!str)",
                       tag);
    if (tag != NULL)
        return yamlscalar_tagged(n, out, e);
    if (n->json) {
        if (strcmp(s, "true") == 0)
            *out = json_true();
        else if (strcmp(s, "false") == 0)
            *out = json_false();
        else if (strcmp(s, "null") == 0)
            *out = json_null();
        else
            *out = yamlscalar_json_number(s);
        if (*out == NULL)
            *out = json_string(s);
        return ERR_OK;
    }
    if (yamlscalar_is_null(s)) {
        *out = json_null();
        return ERR_OK;
    }
    int b = yamlscalar_bool(s);
    if (b >= 0) {
        *out = json_boolean(b);
        return ERR_OK;
    }
    long long iv;
    bool big;
    if (yamlscalar_int(s, &iv, &big)) {
        /* Integers past 64 bits stay text (docs/inventory.md). */
        *out = big ? json_string(s) : json_integer(iv);
        return ERR_OK;
    }
    double dv;
    bool special;
    if (yamlscalar_float(s, &dv, &special)) {
        *out = special ? json_string(s) : json_real(dv);
        return ERR_OK;
    }
    char ts[64];
    const char *why = NULL;
    int r = yamlscalar_timestamp(s, true, ts, sizeof(ts), &why);
    if (r < 0) /* PyYAML raises: Ansible cannot read the file */
        return err_set(e, ERR_PARSE, "not a valid date (%s): '%s'", why, s);
    if (r > 0) {
        *out = json_string(ts);
        return ERR_OK;
    }
    if (strcmp(s, "=") == 0)
        return err_set(e, ERR_PARSE,
                       "'=' alone is YAML's value key, which Ansible refuses: "
                       "quote it");
    *out = json_stringn(s, n->len);
    if (*out == NULL)
        return err_set(e, ERR_PARSE, "not UTF-8 text");
    return ERR_OK;
}
