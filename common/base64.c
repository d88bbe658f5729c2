/* common/base64.c: base64 over libcrypto, in chunks so that no length
 * passed to it overflows an int and secrets stay in wiped buffers. */
#include "base64.h"

#include "err.h"

#include <openssl/evp.h>
#include <string.h>

enum {
    BASE64_CHUNK = 768, /* input bytes encoded per call: a multiple of 3 */
};

void base64_add(struct buf *b, const void *p, size_t n)
{
    const unsigned char *in = p;
    unsigned char out[BASE64_CHUNK / 3 * 4 + 1];
    while (n > 0) {
        size_t k = n < BASE64_CHUNK ? n : BASE64_CHUNK;
        int len = EVP_EncodeBlock(out, in, (int)k);
        buf_add(b, out, (size_t)len);
        in += k;
        n -= k;
    }
    explicit_bzero(out, sizeof(out));
}

char *base64_encode(const void *p, size_t n)
{
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    buf_add(&b, "", 0); /* "" rather than NULL for n == 0 */
    base64_add(&b, p, n);
    return buf_detach(&b);
}

/* Is c one of the 64 base64 characters? */
static bool base64_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '+' || c == '/';
}

unsigned char *base64_decode(const char *p, size_t len, size_t *n)
{
    /* The characters alone, in whole groups of four: EVP_DecodeBlock
     * takes nothing else. */
    size_t cap = len + 4;
    unsigned char *text = xmalloc(cap);
    size_t t = 0;
    for (size_t i = 0; i < len && p[i] != '='; i++)
        if (base64_char(p[i]))
            text[t++] = (unsigned char)p[i];
    if (t % 4 == 1)
        t--;
    size_t pad = t % 4 == 0 ? 0 : 4 - t % 4;
    memset(text + t, '=', pad);
    t += pad;
    unsigned char *out = xmalloc(t / 4 * 3 + 1);
    size_t got = 0;
    *n = 0;
    bool ok = true;
    /* Whole groups per call keep each length within an int. */
    for (size_t at = 0; at < t && ok;) {
        size_t k = t - at < 4 * BASE64_CHUNK ? t - at : 4 * BASE64_CHUNK;
        int r = EVP_DecodeBlock(out + got, text + at, (int)k);
        ok = r >= 0;
        got += ok ? (size_t)r : 0;
        at += k;
    }
    explicit_bzero(text, cap);
    free(text);
    if (!ok) {
        explicit_bzero(out, t / 4 * 3 + 1);
        free(out);
        return NULL;
    }
    *n = got - pad; /* EVP_DecodeBlock counts the padding as zero bytes */
    return out;
}
