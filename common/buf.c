/* common/buf.c: growable byte buffer with a limit. */
#include "buf.h"

#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b, size_t limit)
{
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
    b->limit = limit;
    b->dropped = 0;
}

void buf_release(struct buf *b)
{
    free(b->data);
    buf_init(b, b->limit);
}

void buf_wipe(struct buf *b)
{
    if (b->data != NULL)
        explicit_bzero(b->data, b->alloc);
    buf_release(b);
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    b->dropped = 0;
    if (b->data != NULL)
        b->data[0] = '\0';
}

static void buf_grow(struct buf *b, size_t need)
{
    if (need + 1 <= b->alloc)
        return;
    size_t n = b->alloc ? b->alloc : 64;
    while (n < need + 1)
        n *= 2;
    b->data = xrealloc(b->data, n);
    b->alloc = n;
}

bool buf_add(struct buf *b, const void *p, size_t n)
{
    size_t room = n;
    if (b->limit != BUF_UNLIMITED) {
        room = b->len >= b->limit ? 0 : b->limit - b->len;
        if (room > n)
            room = n;
    }
    if (room > 0 || b->data == NULL) {
        buf_grow(b, b->len + room);
        if (room > 0)
            memcpy(b->data + b->len, p, room);
        b->len += room;
        b->data[b->len] = '\0';
    }
    b->dropped += n - room;
    return room == n;
}

bool buf_adds(struct buf *b, const char *s)
{
    return buf_add(b, s, strlen(s));
}

bool buf_addc(struct buf *b, char c)
{
    return buf_add(b, &c, 1);
}

bool buf_printf(struct buf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return false;
    if ((size_t)n < sizeof(small))
        return buf_add(b, small, (size_t)n);
    char *big = xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    bool ok = buf_add(b, big, (size_t)n);
    free(big);
    return ok;
}

const char *buf_cstr(const struct buf *b)
{
    return b->data ? b->data : "";
}

char *buf_detach(struct buf *b)
{
    char *p = b->data ? b->data : xstrdup("");
    buf_init(b, b->limit);
    return p;
}

void buf_consume(struct buf *b, size_t n)
{
    if (n >= b->len) {
        buf_reset(b);
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}
