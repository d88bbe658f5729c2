/* common/redact.c: secret values and their derived forms, replaced in text
 * before it leaves the process. */
#include "redact.h"

#include "buf.h"
#include "err.h"

#include <stdlib.h>
#include <string.h>

struct redact {
    char **pats;  /* owned patterns, longest first */
    size_t npats; /* number of patterns */
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
    static struct redact global;
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

static char *redact_base64(const char *s, size_t n)
{
    static const char tbl[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = xmalloc((n + 2) / 3 * 4 + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned char)s[i] << 16;
        if (i + 1 < n)
            v |= (unsigned char)s[i + 1] << 8;
        if (i + 2 < n)
            v |= (unsigned char)s[i + 2];
        out[o++] = tbl[(v >> 18) & 63];
        out[o++] = tbl[(v >> 12) & 63];
        out[o++] = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? tbl[v & 63] : '=';
    }
    out[o] = '\0';
    return out;
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
        char *enc = redact_base64(tmp, n + k);
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

void redact_add(struct redact *r, const char *value)
{
    size_t n = strlen(value);
    if (n == 0)
        return;
    redact_add_pat(r, value, n);
    char *b64 = redact_base64(value, n);
    size_t bn = strlen(b64);
    /* padding differs with the surrounding text: match without it */
    while (bn > 0 && b64[bn - 1] == '=')
        bn--;
    redact_add_pat(r, b64, bn);
    explicit_bzero(b64, strlen(b64));
    free(b64);
    redact_add_shifted(r, value, n);
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

void redact_buf(const struct redact *r, struct buf *b)
{
    if (r == NULL || r->npats == 0 || b->len == 0)
        return;
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
    if (hit == NULL)
        return;
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

char *redact_str(const struct redact *r, const char *s)
{
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    buf_adds(&b, s);
    redact_buf(r, &b);
    return buf_detach(&b);
}
