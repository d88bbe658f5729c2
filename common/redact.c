/* common/redact.c: secret values and their derived forms, replaced in text
 * before it leaves the process. */
#include "redact.h"

#include "base64.h"
#include "buf.h"
#include "err.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct redact {
    char **pats;   /* owned patterns, longest first */
    size_t npats;  /* number of patterns */
    bool patterns; /* also apply redact_patterns */
};

struct redact *redact_new(void)
{
    return xcalloc(1, sizeof(struct redact));
}

void redact_free(struct redact *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->npats; i++) {
        explicit_bzero(r->pats[i], strlen(r->pats[i]));
        free(r->pats[i]);
    }
    free(r->pats);
    free(r);
}

struct redact *redact_global(void)
{
    /* the pattern rules are on: every process's output is scrubbed of
     * bearer tokens, URL credentials and secret-looking NAME=value */
    static struct redact global = {.patterns = true};
    return &global;
}

size_t redact_count(const struct redact *r)
{
    return r->npats;
}

static void redact_add_pat(struct redact *r, const char *p, size_t n)
{
    if (n < REDACT_MIN)
        return;
    for (size_t i = 0; i < r->npats; i++)
        if (strlen(r->pats[i]) == n && memcmp(r->pats[i], p, n) == 0)
            return;
    r->pats = xrealloc(r->pats, (r->npats + 1) * sizeof(char *));
    /* keep longest first so a value is replaced before any of its lines */
    size_t at = 0;
    while (at < r->npats && strlen(r->pats[at]) >= n)
        at++;
    memmove(r->pats + at + 1, r->pats + at, (r->npats - at) * sizeof(char *));
    r->pats[at] = xstrndup(p, n);
    r->npats++;
}

/* The value inside a longer base64 text ("user:secret" in a Basic auth
 * header) starts at byte offset 0, 1 or 2 of a 3-byte group. For each
 * offset, keep the base64 characters that depend on the value's bytes
 * only, and that core with the last partial character, which is known when
 * the value ends the text. Short cores are skipped: they would match inside
 * unrelated base64. */
static void redact_add_shifted(struct redact *r, const char *value, size_t n)
{
    char *tmp = xmalloc(n + 2);
    for (size_t k = 0; k < 3; k++) {
        memset(tmp, 0, k);
        memcpy(tmp + k, value, n);
        char *enc = base64_encode(tmp, n + k);
        size_t from = (8 * k + 5) / 6, to = 8 * (k + n) / 6;
        /* at the end of the text the last partial character is known */
        size_t end = strcspn(enc, "=");
        if (to >= from + 2 * REDACT_MIN) {
            redact_add_pat(r, enc + from, to - from);
            redact_add_pat(r, enc + from, end - from);
        }
        explicit_bzero(enc, strlen(enc));
        free(enc);
    }
    explicit_bzero(tmp, n + 2);
    free(tmp);
}

/* The value as it appears inside a JSON string, and URL-encoded (as a
 * query or form value: %XX in upper and lower case, spaces as %20 or +). */
static void redact_add_escaped(struct redact *r, const char *value, size_t n)
{
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)value[i];
        switch (c) {
        case '"':
            buf_adds(&b, "\\\"");
            break;
        case '\\':
            buf_adds(&b, "\\\\");
            break;
        case '\n':
            buf_adds(&b, "\\n");
            break;
        case '\r':
            buf_adds(&b, "\\r");
            break;
        case '\t':
            buf_adds(&b, "\\t");
            break;
        default:
            if (c < 0x20)
                buf_printf(&b, "\\u%04x", c);
            else
                buf_addc(&b, (char)c);
        }
    }
    redact_add_pat(r, b.data != NULL ? b.data : "", b.len);
    buf_wipe(&b);
    for (int lower = 0; lower < 2; lower++)
        for (int plus = 0; plus < 2; plus++) {
            buf_init(&b, BUF_UNLIMITED);
            for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)value[i];
                if (isalnum(c) || strchr("-._~", c) != NULL)
                    buf_addc(&b, (char)c);
                else if (c == ' ' && plus)
                    buf_addc(&b, '+');
                else
                    buf_printf(&b, lower ? "%%%02x" : "%%%02X", c);
            }
            redact_add_pat(r, b.data != NULL ? b.data : "", b.len);
            buf_wipe(&b);
        }
}

void redact_add(struct redact *r, const char *value)
{
    size_t n = strlen(value);
    if (n == 0)
        return;
    redact_add_pat(r, value, n);
    char *b64 = base64_encode(value, n);
    size_t bn = strlen(b64);
    /* padding differs with the surrounding text: match without it */
    while (bn > 0 && b64[bn - 1] == '=')
        bn--;
    redact_add_pat(r, b64, bn);
    explicit_bzero(b64, strlen(b64));
    free(b64);
    redact_add_shifted(r, value, n);
    redact_add_escaped(r, value, n);
    if (strpbrk(value, "\r\n") != NULL) {
        const char *p = value;
        while (*p) {
            size_t len = strcspn(p, "\r\n");
            redact_add_pat(r, p, len);
            p += len;
            p += strspn(p, "\r\n");
        }
    }
}

/* Replace each run of marked bytes of b with one mark; frees hit. */
static void redact_apply(struct buf *b, unsigned char *hit)
{
    struct buf out;
    buf_init(&out, BUF_UNLIMITED);
    size_t i = 0;
    while (i < b->len) {
        size_t j = i;
        while (j < b->len && hit[j] == hit[i])
            j++;
        if (hit[i])
            buf_adds(&out, REDACT_MARK);
        else
            buf_add(&out, b->data + i, j - i);
        i = j;
    }
    free(hit);
    size_t limit = b->limit, dropped = b->dropped;
    buf_wipe(b);
    *b = out;
    b->limit = limit;
    b->dropped = dropped;
}

static void redact_values(const struct redact *r, struct buf *b)
{
    /* Mark every byte any pattern covers in the original text, then write
     * each covered run as one mark: overlapping secrets, a secret that
     * overlaps itself, and a pattern that occurs in the mark text itself
     * cannot leave pieces of a secret behind. */
    unsigned char *hit = NULL;
    for (size_t i = 0; i < r->npats; i++) {
        const char *pat = r->pats[i];
        size_t pn = strlen(pat);
        size_t pos = 0;
        const char *at;
        while (pos < b->len &&
               (at = memmem(b->data + pos, b->len - pos, pat, pn)) != NULL) {
            size_t off = (size_t)(at - b->data);
            if (hit == NULL)
                hit = xcalloc(b->len, 1);
            memset(hit + off, 1, pn);
            pos = off + 1;
        }
    }
    if (hit != NULL)
        redact_apply(b, hit);
}

void redact_buf(const struct redact *r, struct buf *b)
{
    if (r == NULL || b->len == 0)
        return;
    if (r->npats > 0)
        redact_values(r, b);
    if (r->patterns)
        redact_patterns(b);
}

void redact_set_patterns(struct redact *r, bool on)
{
    r->patterns = on;
}

bool redact_name_is_secret(const char *name)
{
    static const char *const words[] = {"password", "passwd", "secret",
                                        "token"};
    size_t n = strlen(name);
    char low[128];
    if (n == 0 || n >= sizeof(low))
        return false;
    for (size_t i = 0; i <= n; i++)
        low[i] = (char)tolower((unsigned char)name[i]);
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strstr(low, words[i]) != NULL)
            return true;
    return n > 4 && (strcmp(low + n - 4, "_key") == 0 ||
                     strcmp(low + n - 4, "-key") == 0);
}

bool redact_add_named(struct redact *r, const char *name, const char *value)
{
    if (!redact_name_is_secret(name))
        return false;
    redact_add(r, value);
    return true;
}

/* --- pattern rules: mark byte ranges of the text ------------------------ */

static bool redact_is_ident(unsigned char c)
{
    return isalnum(c) || c == '_' || c == '-' || c == '.';
}

static bool redact_is_token(unsigned char c)
{
    return isalnum(c) || strchr("-._~+/=", c) != NULL;
}

/* Case-insensitive prefix test of the bytes at p (n left) against word. */
static bool redact_ci_at(const char *p, size_t n, const char *word)
{
    size_t wn = strlen(word);
    return n >= wn && strncasecmp(p, word, wn) == 0;
}

/* Mark the value starting at v: quoted (to the closing quote) or bare (to
 * whitespace or a separator; to the end of the line when to_eol).
 * Returns the index after the value. */
static size_t redact_mark_value(const char *d, size_t len, size_t v,
                                unsigned char *hit, bool to_eol)
{
    if (v >= len)
        return v;
    /* a list or object (`secret_env: [A, B]` names secrets, holds none)
     * and a shell variable reference are not secret values */
    if (!to_eol && (d[v] == '[' || d[v] == '{' || d[v] == '$'))
        return v;
    if (len - v >= strlen(REDACT_MARK) &&
        memcmp(d + v, REDACT_MARK, strlen(REDACT_MARK)) == 0)
        return v + strlen(REDACT_MARK);
    /* a placeholder of dots (drover's own "-e db_password=... again") */
    size_t dots = v;
    while (dots < len && d[dots] == '.')
        dots++;
    if (dots > v && (dots == len || isspace((unsigned char)d[dots])))
        return dots;
    size_t end = v;
    if (d[v] == '"' || d[v] == '\'') {
        char q = d[v];
        end = ++v;
        while (end < len && d[end] != q) {
            if (d[end] == '\\' && end + 1 < len)
                end++;
            end++;
        }
    } else if (to_eol) {
        while (end < len && d[end] != '\n' && d[end] != '\r')
            end++;
    } else {
        while (end < len && !isspace((unsigned char)d[end]) &&
               strchr(",;&)}]\"'", d[end]) == NULL && d[end] != '\0')
            end++;
    }
    if (end > v)
        memset(hit + v, 1, end - v);
    return end;
}

static void redact_rule_bearer(const char *d, size_t len, unsigned char *hit)
{
    for (size_t i = 0; i < len; i++) {
        if ((i > 0 && isalnum((unsigned char)d[i - 1])) ||
            !redact_ci_at(d + i, len - i, "bearer"))
            continue;
        size_t j = i + 6;
        size_t sp = j;
        while (j < len && (d[j] == ' ' || d[j] == '\t'))
            j++;
        if (j == sp)
            continue;
        size_t k = j;
        while (k < len && redact_is_token((unsigned char)d[k]))
            k++;
        if (k > j)
            memset(hit + j, 1, k - j);
        i = k > i ? k - 1 : i;
    }
}

static void redact_rule_authorization(const char *d, size_t len,
                                      unsigned char *hit)
{
    for (size_t i = 0; i < len; i++) {
        if ((i > 0 && isalnum((unsigned char)d[i - 1])) ||
            !redact_ci_at(d + i, len - i, "authorization"))
            continue;
        size_t j = i + 13;
        if (j < len && (d[j] == '"' || d[j] == '\''))
            j++;
        while (j < len && (d[j] == ' ' || d[j] == '\t'))
            j++;
        if (j >= len || (d[j] != ':' && d[j] != '='))
            continue;
        j++;
        while (j < len && (d[j] == ' ' || d[j] == '\t'))
            j++;
        i = redact_mark_value(d, len, j, hit, true);
    }
}

static void redact_rule_url(const char *d, size_t len, unsigned char *hit)
{
    for (size_t i = 1; i + 3 <= len; i++) {
        if (memcmp(d + i, "://", 3) != 0 || !isalpha((unsigned char)d[i - 1]))
            continue;
        size_t u = i + 3, at = u, colon = 0;
        while (at < len && d[at] != '@' && strchr("/?#<>\"' ", d[at]) == NULL &&
               !isspace((unsigned char)d[at])) {
            if (d[at] == ':' && colon == 0)
                colon = at;
            at++;
        }
        if (at < len && d[at] == '@' && colon != 0 && at > colon + 1)
            memset(hit + colon + 1, 1, at - colon - 1);
        i = at > i ? at - 1 : i;
    }
}

static void redact_rule_names(const char *d, size_t len, unsigned char *hit)
{
    size_t i = 0;
    while (i < len) {
        if (!redact_is_ident((unsigned char)d[i]) ||
            (i > 0 && redact_is_ident((unsigned char)d[i - 1]))) {
            i++;
            continue;
        }
        size_t s = i;
        while (i < len && redact_is_ident((unsigned char)d[i]))
            i++;
        char name[128];
        if (i - s >= sizeof(name))
            continue;
        memcpy(name, d + s, i - s);
        name[i - s] = '\0';
        if (!redact_name_is_secret(name))
            continue;
        size_t j = i;
        /* the closing quote of a quoted key */
        if (j < len && s > 0 && (d[j] == '"' || d[j] == '\'') &&
            d[s - 1] == d[j])
            j++;
        while (j < len && (d[j] == ' ' || d[j] == '\t'))
            j++;
        if (j >= len || (d[j] != '=' && d[j] != ':'))
            continue;
        if (d[j] == ':' && len - j >= 3 && memcmp(d + j, "://", 3) == 0)
            continue;
        j++;
        while (j < len && (d[j] == ' ' || d[j] == '\t'))
            j++;
        i = redact_mark_value(d, len, j, hit, false);
    }
}

void redact_patterns(struct buf *b)
{
    if (b->len == 0)
        return;
    unsigned char *hit = xcalloc(b->len, 1);
    redact_rule_url(b->data, b->len, hit);
    redact_rule_bearer(b->data, b->len, hit);
    redact_rule_authorization(b->data, b->len, hit);
    redact_rule_names(b->data, b->len, hit);
    if (memchr(hit, 1, b->len) == NULL) {
        free(hit);
        return;
    }
    redact_apply(b, hit);
}

char *redact_str(const struct redact *r, const char *s)
{
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    buf_adds(&b, s);
    redact_buf(r, &b);
    return buf_detach(&b);
}
