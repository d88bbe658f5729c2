/* common/err.h: the one error type. Fallible functions return enum err_code
 * and take a struct err * last; the first error set is kept, so the root
 * cause survives on the way up (curl's failf). */
#ifndef DROVER_ERR_H
#define DROVER_ERR_H

#include <stdarg.h>
#include <stddef.h>

#define ERR_CODES(X)                                                           \
    X(OK, "ok")                                                                \
    X(SYS, "system error")                                                     \
    X(NOMEM, "out of memory")                                                  \
    X(USAGE, "usage error")                                                    \
    X(PARSE, "parse error")                                                    \
    X(INVALID, "invalid input")                                                \
    X(NOTFOUND, "not found")                                                   \
    X(LIMIT, "limit exceeded")                                                 \
    X(PROTO, "protocol error")                                                 \
    X(SSH, "ssh error")                                                        \
    X(HOSTKEY, "host key refused")                                             \
    X(AUTH, "authentication failed")                                           \
    X(UNREACHABLE, "host unreachable")                                         \
    X(TIMEOUT, "timed out")                                                    \
    X(EXEC, "command failed")                                                  \
    X(HEALTH, "health check failed")                                           \
    X(CANCELLED, "cancelled")                                                  \
    X(LOCKED, "locked")                                                        \
    X(STORE, "store error")

enum err_code {
#define ERR_ENUM_(name, text) ERR_##name,
    ERR_CODES(ERR_ENUM_)
#undef ERR_ENUM_
        ERR_CODE_COUNT
};

enum { ERR_MSG_MAX = 256 };

struct err {
    enum err_code code;    /* ERR_OK until the first error */
    int sys_errno;         /* errno of the first ERR_SYS, else 0 */
    char msg[ERR_MSG_MAX]; /* what went wrong, where, what to do */
};

/* Record an error in e unless one is already there (e may be NULL).
 * Returns c, so `return err_set(e, ERR_PARSE, "...")` reads naturally. */
enum err_code err_set(struct err *e, enum err_code c, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* err_set with a va_list, for functions that take a format themselves. */
enum err_code err_vsetf(struct err *e, enum err_code c, const char *fmt,
                        va_list ap) __attribute__((format(printf, 3, 0)));

/* err_set(ERR_SYS) with ": strerror(errno)" appended; keeps errno. */
enum err_code err_sys(struct err *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Forget the recorded error. */
void err_clear(struct err *e);

/* Short name of a code ("ssh error"); never NULL. */
const char *err_str(enum err_code c);

/* Out-of-memory is a programmer-visible condition we do not recover from:
 * these abort with a message instead of returning NULL. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/* Allocate a formatted string; caller frees. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
