/* common/shquote.c: single-quoting for a POSIX shell. */
#include "shquote.h"

#include <string.h>

/* Bytes a shell word may hold bare: no expansion, globbing or splitting. */
static const char shquote_safe[] = "abcdefghijklmnopqrstuvwxyz"
                                   "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                                   "@%+=:,./-_";

void shquote_add(struct buf *b, const char *s)
{
    buf_addc(b, '\'');
    for (const char *p = s; *p; p++) {
        if (*p == '\'')
            buf_adds(b, "'\\''");
        else
            buf_addc(b, *p);
    }
    buf_addc(b, '\'');
}

char *shquote(const char *s)
{
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    if (*s != '\0' && strspn(s, shquote_safe) == strlen(s))
        buf_adds(&b, s);
    else
        shquote_add(&b, s);
    return buf_detach(&b);
}
