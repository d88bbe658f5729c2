/* inventory/inv_pyval.c: a recursive-descent reader for the Python literal
 * grammar that ast.literal_eval accepts (numbers, strings, bytes, tuples,
 * lists, dicts, True/False/None, unary signs on numbers), producing JSON the
 * way ansible-inventory prints it. Anything outside it fails, and the caller
 * keeps the text as a string, as Ansible does. */
#include "inv_pyval.h"

#include "buf.h"
#include "err.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Python's tokenizer refuses more nesting than this (MAXLEVEL). */
enum { INV_PYVAL_NEST_MAX = 200 };

struct inv_pyval {
    const char *p;   /* next byte */
    const char *end; /* end of input */
    int level;       /* open brackets */
};

/* A parsed value: JSON, or one Python has that JSON has not. */
enum inv_pyval_kind {
    PV_FAIL,  /* not a literal */
    PV_JSON,  /* v holds it */
    PV_NUM,   /* v holds an int or float, a sign may apply */
    PV_STR,   /* v holds a str literal (concatenation continues) */
    PV_BYTES, /* v holds a bytes literal decoded as UTF-8 */
};

struct inv_pyval_res {
    enum inv_pyval_kind kind; /* what was read */
    json_t *v;                /* the value, owned */
    bool unsupported;         /* a literal JSON cannot hold */
};

static void inv_pyval_ws(struct inv_pyval *ps)
{
    while (ps->p < ps->end) {
        char c = *ps->p;
        if (c == ' ' || c == '\t' || c == '\f' || c == '\n' || c == '\r') {
            ps->p++;
        } else if (c == '#') {
            while (ps->p < ps->end && *ps->p != '\n')
                ps->p++;
        } else if (c == '\\' && ps->p + 1 < ps->end && ps->p[1] == '\n') {
            ps->p += 2;
        } else {
            break;
        }
    }
}

static bool inv_pyval_idchar(char c)
{
    return isalnum((unsigned char)c) || c == '_' || (unsigned char)c >= 0x80;
}

static void inv_pyval_utf8(struct buf *b, unsigned long cp)
{
    if (cp < 0x80) {
        buf_addc(b, (char)cp);
    } else if (cp < 0x800) {
        buf_addc(b, (char)(0xC0 | (cp >> 6)));
        buf_addc(b, (char)(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        buf_addc(b, (char)(0xE0 | (cp >> 12)));
        buf_addc(b, (char)(0x80 | ((cp >> 6) & 0x3F)));
        buf_addc(b, (char)(0x80 | (cp & 0x3F)));
    } else {
        buf_addc(b, (char)(0xF0 | (cp >> 18)));
        buf_addc(b, (char)(0x80 | ((cp >> 12) & 0x3F)));
        buf_addc(b, (char)(0x80 | ((cp >> 6) & 0x3F)));
        buf_addc(b, (char)(0x80 | (cp & 0x3F)));
    }
}

static int inv_pyval_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* One string or bytes literal starting at ps->p (prefix included). */
static struct inv_pyval_res inv_pyval_string(struct inv_pyval *ps)
{
    struct inv_pyval_res r = {PV_FAIL, NULL, false};
    bool raw = false, bytes = false;
    while (ps->p < ps->end && *ps->p != '\'' && *ps->p != '"') {
        char c = (char)tolower((unsigned char)*ps->p);
        if (c == 'r')
            raw = true;
        else if (c == 'b')
            bytes = true;
        else if (c != 'u')
            return r;
        ps->p++;
    }
    if (ps->p >= ps->end)
        return r;
    char q = *ps->p;
    bool triple = ps->end - ps->p >= 3 && ps->p[1] == q && ps->p[2] == q;
    ps->p += triple ? 3 : 1;
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    bool bad = false;
    for (;;) {
        if (ps->p >= ps->end) {
            buf_release(&b);
            return r;
        }
        char c = *ps->p;
        if (c == q) {
            if (!triple) {
                ps->p++;
                break;
            }
            if (ps->end - ps->p >= 3 && ps->p[1] == q && ps->p[2] == q) {
                ps->p += 3;
                break;
            }
        }
        if ((c == '\n' || c == '\r') && !triple) {
            buf_release(&b);
            return r;
        }
        if (bytes && (unsigned char)c >= 0x80) {
            buf_release(&b);
            return r;
        }
        if (c != '\\') {
            buf_addc(&b, c);
            ps->p++;
            continue;
        }
        if (ps->p + 1 >= ps->end) {
            buf_release(&b);
            return r;
        }
        char n = ps->p[1];
        if (raw) {
            /* A raw string keeps the backslash; it still hides a quote. */
            buf_addc(&b, '\\');
            buf_addc(&b, n);
            ps->p += 2;
            continue;
        }
        ps->p += 2;
        switch (n) {
        case '\n':
            break;
        case '\\':
        case '\'':
        case '"':
            buf_addc(&b, n);
            break;
        case 'a':
            buf_addc(&b, '\a');
            break;
        case 'b':
            buf_addc(&b, '\b');
            break;
        case 'f':
            buf_addc(&b, '\f');
            break;
        case 'n':
            buf_addc(&b, '\n');
            break;
        case 'r':
            buf_addc(&b, '\r');
            break;
        case 't':
            buf_addc(&b, '\t');
            break;
        case 'v':
            buf_addc(&b, '\v');
            break;
        case '0':
        case '1':
        case '2':
        case '3':
        case '4':
        case '5':
        case '6':
        case '7': {
            unsigned long v = (unsigned long)(n - '0');
            for (int i = 0;
                 i < 2 && ps->p < ps->end && *ps->p >= '0' && *ps->p <= '7';
                 i++)
                v = v * 8 + (unsigned long)(*ps->p++ - '0');
            if (bytes) {
                if (v > 0xFF)
                    bad = true;
                buf_addc(&b, (char)v);
            } else {
                inv_pyval_utf8(&b, v);
            }
            break;
        }
        case 'x':
        case 'u':
        case 'U': {
            int digits = n == 'x' ? 2 : n == 'u' ? 4 : 8;
            if (bytes && n != 'x') {
                buf_addc(&b, '\\');
                buf_addc(&b, n);
                break;
            }
            unsigned long v = 0;
            for (int i = 0; i < digits; i++) {
                int h = ps->p < ps->end ? inv_pyval_hex(*ps->p) : -1;
                if (h < 0) {
                    buf_release(&b);
                    return r;
                }
                v = v * 16 + (unsigned long)h;
                ps->p++;
            }
            if (bytes)
                buf_addc(&b, (char)v);
            else if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
                bad = true;
            else
                inv_pyval_utf8(&b, v);
            break;
        }
        case 'N':
            /* \N{NAME} needs Unicode's name table: keep the text. */
            bad = true;
            break;
        default:
            buf_addc(&b, '\\');
            buf_addc(&b, n);
            break;
        }
    }
    r.kind = bytes ? PV_BYTES : PV_STR;
    r.v = json_stringn(b.data != NULL ? b.data : "", b.len);
    if (r.v == NULL)
        bad = true; /* bytes that are not UTF-8 */
    r.unsupported = bad;
    buf_release(&b);
    return r;
}

/* Digits of one base with single underscores between them; returns the
 * count of digits copied into out (0 on a malformed run). */
static size_t inv_pyval_digits(struct inv_pyval *ps, int base, struct buf *out)
{
    size_t n = 0;
    bool under = false;
    while (ps->p < ps->end) {
        char c = *ps->p;
        int d = inv_pyval_hex(c);
        if (c == '_') {
            if (under || n == 0)
                return 0;
            under = true;
            ps->p++;
            continue;
        }
        if (d < 0 || d >= base)
            break;
        buf_addc(out, c);
        under = false;
        n++;
        ps->p++;
    }
    return under ? 0 : n;
}

static struct inv_pyval_res inv_pyval_number(struct inv_pyval *ps)
{
    struct inv_pyval_res r = {PV_FAIL, NULL, false};
    struct buf b;
    buf_init(&b, 4096);
    const char *p = ps->p;
    if (p + 1 < ps->end && p[0] == '0' && strchr("xXoObB", p[1]) != NULL &&
        p[1] != '\0') {
        int base = (p[1] == 'x' || p[1] == 'X')   ? 16
                   : (p[1] == 'o' || p[1] == 'O') ? 8
                                                  : 2;
        ps->p += 2;
        if (ps->p < ps->end && *ps->p == '_')
            ps->p++;
        size_t n = inv_pyval_digits(ps, base, &b);
        if (n == 0 || (ps->p < ps->end && inv_pyval_idchar(*ps->p))) {
            buf_release(&b);
            return r;
        }
        errno = 0;
        unsigned long long v = strtoull(b.data, NULL, base);
        buf_release(&b);
        r.kind = PV_NUM;
        if (errno == ERANGE || v > INT64_MAX) {
            r.unsupported = true;
            r.v = json_integer(0);
        } else {
            r.v = json_integer((json_int_t)v);
        }
        return r;
    }
    bool is_float = false;
    size_t ni = 0, nf = 0;
    if (*ps->p != '.')
        ni = inv_pyval_digits(ps, 10, &b);
    if (ps->p < ps->end && *ps->p == '.') {
        is_float = true;
        buf_addc(&b, '.');
        ps->p++;
        if (ps->p < ps->end && isdigit((unsigned char)*ps->p)) {
            nf = inv_pyval_digits(ps, 10, &b);
            if (nf == 0) {
                buf_release(&b);
                return r;
            }
        }
    }
    if (ni == 0 && nf == 0) {
        buf_release(&b);
        return r;
    }
    if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
        const char *save = ps->p;
        buf_addc(&b, 'e');
        ps->p++;
        if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
            buf_addc(&b, *ps->p++);
        if (ps->p < ps->end && isdigit((unsigned char)*ps->p) &&
            inv_pyval_digits(ps, 10, &b) > 0) {
            is_float = true;
        } else {
            ps->p = save;
            buf_release(&b);
            return r;
        }
    }
    if (ps->p < ps->end && (*ps->p == 'j' || *ps->p == 'J')) {
        ps->p++;
        r.kind = PV_NUM;
        r.unsupported = true; /* complex */
        r.v = json_integer(0);
        buf_release(&b);
        return r;
    }
    if (ps->p < ps->end && inv_pyval_idchar(*ps->p)) {
        buf_release(&b);
        return r;
    }
    if (b.dropped > 0) {
        buf_release(&b);
        r.kind = PV_NUM;
        r.unsupported = true;
        r.v = json_integer(0);
        return r;
    }
    r.kind = PV_NUM;
    if (is_float) {
        double d = strtod(b.data, NULL);
        if (!isfinite(d)) {
            r.unsupported = true;
            d = 0;
        }
        r.v = json_real(d);
    } else {
        /* "0123" is a syntax error in Python 3; "000" is zero. */
        const char *s = b.data;
        bool zeros = strspn(s, "0") == b.len;
        if (s[0] == '0' && !zeros) {
            buf_release(&b);
            return (struct inv_pyval_res){PV_FAIL, NULL, false};
        }
        errno = 0;
        long long v = strtoll(s, NULL, 10);
        if (errno == ERANGE)
            r.unsupported = true;
        r.v = json_integer(v);
    }
    buf_release(&b);
    return r;
}

static struct inv_pyval_res inv_pyval_expr(struct inv_pyval *ps);

static void inv_pyval_drop(struct inv_pyval_res *r)
{
    json_decref(r->v);
    r->v = NULL;
    r->kind = PV_FAIL;
}

/* A dict key as json.dumps writes it. NULL for keys it cannot write. */
static char *inv_pyval_key(const json_t *k)
{
    if (json_is_string(k))
        return xstrdup(json_string_value(k));
    if (json_is_integer(k))
        return xasprintf("%lld", (long long)json_integer_value(k));
    if (json_is_true(k))
        return xstrdup("true");
    if (json_is_false(k))
        return xstrdup("false");
    if (json_is_null(k))
        return xstrdup("null");
    if (json_is_real(k)) {
        double d = json_real_value(k);
        char tmp[64];
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
            if (strtod(tmp, NULL) == d)
                break;
        }
        if (strpbrk(tmp, ".e") == NULL)
            return xasprintf("%s.0", tmp);
        return xstrdup(tmp);
    }
    return NULL;
}

/* Elements up to close; *tuple_like tells whether a comma was seen. */
static struct inv_pyval_res inv_pyval_seq(struct inv_pyval *ps, char close,
                                          bool *comma)
{
    struct inv_pyval_res r = {PV_JSON, json_array(), false};
    *comma = false;
    for (;;) {
        inv_pyval_ws(ps);
        if (ps->p < ps->end && *ps->p == close) {
            ps->p++;
            return r;
        }
        struct inv_pyval_res el = inv_pyval_expr(ps);
        if (el.kind == PV_FAIL) {
            inv_pyval_drop(&r);
            return r;
        }
        r.unsupported |= el.unsupported;
        json_array_append_new(r.v, el.v);
        inv_pyval_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            *comma = true;
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == close) {
            ps->p++;
            return r;
        }
        inv_pyval_drop(&r);
        return r;
    }
}

static struct inv_pyval_res inv_pyval_dict(struct inv_pyval *ps)
{
    struct inv_pyval_res r = {PV_JSON, json_object(), false};
    bool first = true;
    for (;;) {
        inv_pyval_ws(ps);
        if (ps->p < ps->end && *ps->p == '}') {
            ps->p++;
            return r;
        }
        struct inv_pyval_res k = inv_pyval_expr(ps);
        if (k.kind == PV_FAIL) {
            inv_pyval_drop(&r);
            return r;
        }
        inv_pyval_ws(ps);
        if (ps->p >= ps->end || *ps->p != ':') {
            /* {a, b} is a set (JSON has none); {a b} is not Python. */
            bool set =
                first && ps->p < ps->end && (*ps->p == ',' || *ps->p == '}');
            json_decref(k.v);
            if (set) {
                bool comma;
                ps->p += *ps->p == ',' ? 1 : 0;
                if (ps->p[-1] == ',') {
                    struct inv_pyval_res rest = inv_pyval_seq(ps, '}', &comma);
                    if (rest.kind == PV_FAIL) {
                        inv_pyval_drop(&r);
                        return r;
                    }
                    json_decref(rest.v);
                } else {
                    ps->p++;
                }
                r.unsupported = true;
                return r;
            }
            inv_pyval_drop(&r);
            return r;
        }
        ps->p++;
        struct inv_pyval_res v = inv_pyval_expr(ps);
        if (v.kind == PV_FAIL) {
            json_decref(k.v);
            inv_pyval_drop(&r);
            return r;
        }
        char *key = inv_pyval_key(k.v);
        r.unsupported |= k.unsupported || v.unsupported || key == NULL;
        if (key != NULL)
            json_object_set_new(r.v, key, v.v);
        else
            json_decref(v.v);
        free(key);
        json_decref(k.v);
        first = false;
        inv_pyval_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == '}') {
            ps->p++;
            return r;
        }
        inv_pyval_drop(&r);
        return r;
    }
}

static bool inv_pyval_word(struct inv_pyval *ps, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, w, n) != 0)
        return false;
    if (ps->p + n < ps->end && inv_pyval_idchar(ps->p[n]))
        return false;
    ps->p += n;
    return true;
}

static bool inv_pyval_open(struct inv_pyval *ps)
{
    if (++ps->level > INV_PYVAL_NEST_MAX)
        return false;
    ps->p++;
    return true;
}

/* An atom: literal, bracketed display, or a signed number. */
static struct inv_pyval_res inv_pyval_atom(struct inv_pyval *ps)
{
    struct inv_pyval_res r = {PV_FAIL, NULL, false};
    inv_pyval_ws(ps);
    if (ps->p >= ps->end)
        return r;
    char c = *ps->p;
    if (c == '+' || c == '-') {
        ps->p++;
        struct inv_pyval_res n = inv_pyval_atom(ps);
        if (n.kind != PV_NUM) {
            inv_pyval_drop(&n);
            return r;
        }
        if (c == '-') {
            if (json_is_integer(n.v)) {
                json_int_t v = json_integer_value(n.v);
                json_integer_set(n.v, -v);
            } else {
                json_real_set(n.v, -json_real_value(n.v));
            }
        }
        /* A signed number is no longer a bare number: "--1" fails. */
        n.kind = PV_JSON;
        return n;
    }
    if (c == '(') {
        if (!inv_pyval_open(ps))
            return r;
        inv_pyval_ws(ps);
        bool comma;
        r = inv_pyval_seq(ps, ')', &comma);
        ps->level--;
        if (r.kind == PV_FAIL)
            return r;
        if (json_array_size(r.v) == 1 && !comma) {
            /* (x) is x, keeping whether x is a bare number. */
            struct inv_pyval_res inner = r;
            json_t *x = json_incref(json_array_get(r.v, 0));
            json_decref(r.v);
            inner.v = x;
            inner.kind =
                (json_is_integer(x) || json_is_real(x)) ? PV_NUM : PV_JSON;
            return inner;
        }
        return r;
    }
    if (c == '[') {
        if (!inv_pyval_open(ps))
            return r;
        bool comma;
        r = inv_pyval_seq(ps, ']', &comma);
        ps->level--;
        return r;
    }
    if (c == '{') {
        if (!inv_pyval_open(ps))
            return r;
        r = inv_pyval_dict(ps);
        ps->level--;
        return r;
    }
    if (isdigit((unsigned char)c) ||
        (c == '.' && ps->p + 1 < ps->end && isdigit((unsigned char)ps->p[1])))
        return inv_pyval_number(ps);
    if (c == '\'' || c == '"' || isalpha((unsigned char)c)) {
        /* A string prefix (r, b, u, rb...) or a name. */
        const char *q = ps->p;
        while (q < ps->end && q - ps->p < 2 && strchr("rRbBuU", *q) != NULL)
            q++;
        if (q < ps->end && (*q == '\'' || *q == '"')) {
            struct inv_pyval_res s = inv_pyval_string(ps);
            if (s.kind == PV_FAIL)
                return s;
            /* Adjacent literals concatenate; str and bytes do not mix. */
            for (;;) {
                const char *save = ps->p;
                inv_pyval_ws(ps);
                const char *t = ps->p;
                while (t < ps->end && t - ps->p < 2 &&
                       strchr("rRbBuU", *t) != NULL)
                    t++;
                if (t >= ps->end || (*t != '\'' && *t != '"')) {
                    ps->p = save;
                    break;
                }
                struct inv_pyval_res more = inv_pyval_string(ps);
                if (more.kind == PV_FAIL || more.kind != s.kind) {
                    inv_pyval_drop(&more);
                    inv_pyval_drop(&s);
                    return s;
                }
                s.unsupported |= more.unsupported;
                if (s.v != NULL && more.v != NULL) {
                    size_t n1 = json_string_length(s.v);
                    size_t n2 = json_string_length(more.v);
                    char *joined = xmalloc(n1 + n2 + 1);
                    memcpy(joined, json_string_value(s.v), n1);
                    memcpy(joined + n1, json_string_value(more.v), n2);
                    json_decref(s.v);
                    s.v = json_stringn(joined, n1 + n2);
                    free(joined);
                }
                json_decref(more.v);
            }
            if (s.v == NULL) {
                s.v = json_null();
                s.unsupported = true;
            }
            s.kind = PV_JSON;
            return s;
        }
        if (inv_pyval_word(ps, "True"))
            return (struct inv_pyval_res){PV_JSON, json_true(), false};
        if (inv_pyval_word(ps, "False"))
            return (struct inv_pyval_res){PV_JSON, json_false(), false};
        if (inv_pyval_word(ps, "None"))
            return (struct inv_pyval_res){PV_JSON, json_null(), false};
        return r;
    }
    return r;
}

/* An atom, possibly followed by "+ 1j" / "- 1j" (a complex number). */
static struct inv_pyval_res inv_pyval_expr(struct inv_pyval *ps)
{
    struct inv_pyval_res r = inv_pyval_atom(ps);
    if (r.kind == PV_FAIL)
        return r;
    inv_pyval_ws(ps);
    if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-') &&
        (json_is_integer(r.v) || json_is_real(r.v))) {
        ps->p++;
        struct inv_pyval_res im = inv_pyval_atom(ps);
        if (im.kind != PV_NUM || !im.unsupported) {
            inv_pyval_drop(&im);
            inv_pyval_drop(&r);
            return r;
        }
        inv_pyval_drop(&im);
        r.unsupported = true;
    }
    if (r.kind == PV_NUM || r.kind == PV_STR || r.kind == PV_BYTES)
        r.kind = r.kind == PV_NUM ? PV_NUM : PV_JSON;
    return r;
}

json_t *inv_pyval_parse(const char *s, size_t len)
{
    struct inv_pyval ps = {s, s + len, 0};
    while (ps.p < ps.end && (*ps.p == ' ' || *ps.p == '\t'))
        ps.p++;
    if (memchr(s, '\0', len) != NULL)
        return NULL;
    struct inv_pyval_res r = inv_pyval_expr(&ps);
    if (r.kind == PV_FAIL)
        return NULL;
    inv_pyval_ws(&ps);
    if (ps.p < ps.end && *ps.p == ',') {
        /* "1, 2" is a tuple. */
        ps.p++;
        json_t *t = json_array();
        json_array_append_new(t, r.v);
        bool unsup = r.unsupported;
        for (;;) {
            inv_pyval_ws(&ps);
            if (ps.p >= ps.end)
                break;
            struct inv_pyval_res el = inv_pyval_expr(&ps);
            if (el.kind == PV_FAIL) {
                json_decref(t);
                return NULL;
            }
            unsup |= el.unsupported;
            json_array_append_new(t, el.v);
            inv_pyval_ws(&ps);
            if (ps.p < ps.end && *ps.p == ',') {
                ps.p++;
                continue;
            }
            break;
        }
        r.v = t;
        r.unsupported = unsup;
        inv_pyval_ws(&ps);
    }
    if (ps.p != ps.end || r.unsupported) {
        json_decref(r.v);
        return NULL;
    }
    return r.v;
}
