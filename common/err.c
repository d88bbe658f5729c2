/* common/err.c: error values and the allocation wrappers every module uses. */
#include "err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const err_names[] = {
#define ERR_NAME_(name, text) text,
    ERR_CODES(ERR_NAME_)
#undef ERR_NAME_
};

static enum err_code err_vset(struct err *e, enum err_code c, int sys,
                              const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

static enum err_code err_vset(struct err *e, enum err_code c, int sys,
                              const char *fmt, va_list ap)
{
    if (e == NULL || e->code != ERR_OK)
        return c;
    e->code = c;
    e->sys_errno = sys;
    /* the errno text is the root cause: a long message is cut, not it */
    char why[96] = "";
    if (sys != 0)
        snprintf(why, sizeof(why), ": %s", strerror(sys));
    size_t wn = strlen(why);
    vsnprintf(e->msg, sizeof(e->msg) - wn, fmt, ap);
    size_t n = strlen(e->msg);
    memcpy(e->msg + n, why, wn + 1);
    return c;
}

enum err_code err_set(struct err *e, enum err_code c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err_vset(e, c, 0, fmt, ap);
    va_end(ap);
    return c;
}

enum err_code err_vsetf(struct err *e, enum err_code c, const char *fmt,
                        va_list ap)
{
    return err_vset(e, c, 0, fmt, ap);
}

enum err_code err_sys(struct err *e, const char *fmt, ...)
{
    int saved = errno;
    va_list ap;
    va_start(ap, fmt);
    err_vset(e, ERR_SYS, saved, fmt, ap);
    va_end(ap);
    errno = saved;
    return ERR_SYS;
}

void err_clear(struct err *e)
{
    if (e == NULL)
        return;
    e->code = ERR_OK;
    e->sys_errno = 0;
    e->msg[0] = '\0';
}

const char *err_str(enum err_code c)
{
    if ((unsigned)c >= ERR_CODE_COUNT)
        return "unknown error";
    return err_names[c];
}

static _Noreturn void err_oom(size_t n)
{
    fprintf(stderr, "drover: out of memory (%zu bytes)\n", n);
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        err_oom(n);
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (p == NULL)
        err_oom(n * size);
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL)
        err_oom(n);
    return q;
}

char *xstrdup(const char *s)
{
    char *p = strdup(s);
    if (p == NULL)
        err_oom(strlen(s));
    return p;
}

char *xstrndup(const char *s, size_t n)
{
    char *p = strndup(s, n);
    if (p == NULL)
        err_oom(n);
    return p;
}

char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = NULL;
    int n = vasprintf(&p, fmt, ap);
    va_end(ap);
    if (n < 0)
        err_oom(0);
    return p;
}
