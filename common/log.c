/* common/log.c: formatted, redacted log lines to stderr. */
#include "log.h"

#include "buf.h"
#include "clock.h"
#include "err.h"
#include "redact.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static enum log_level log_level = LOG_INFO;
static const char *log_ident = "drover";
static FILE *log_stream;
static log_redact_fn *log_redactor;
static void *log_redactor_arg;

/* Longest line written; longer ones are cut after redaction and say so. */
static const size_t log_line_max = 16384;

static const char *const log_names[] = {"error", "warn", "info", "debug",
                                        "trace"};

void log_set_level(enum log_level lvl)
{
    log_level = lvl;
}

enum log_level log_get_level(void)
{
    return log_level;
}

void log_set_ident(const char *ident)
{
    log_ident = ident;
}

void log_set_stream(FILE *f)
{
    log_stream = f;
}

void log_set_redactor(log_redact_fn *fn, void *arg)
{
    log_redactor = fn;
    log_redactor_arg = arg;
}

/* Append fmt formatted to b. */
static void log_format(struct buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void log_format(struct buf *b, const char *fmt, va_list ap)
{
    char small[1024];
    va_list cp;
    va_copy(cp, ap);
    int n = vsnprintf(small, sizeof(small), fmt, cp);
    va_end(cp);
    if (n >= 0 && (size_t)n < sizeof(small)) {
        buf_add(b, small, (size_t)n);
    } else if (n >= 0) {
        char *big = xmalloc((size_t)n + 1);
        vsnprintf(big, (size_t)n + 1, fmt, ap);
        buf_add(b, big, (size_t)n);
        explicit_bzero(big, (size_t)n);
        free(big);
    }
    explicit_bzero(small, sizeof(small));
}

/* The one redaction every line leaving the process passes through. */
static void log_redact(struct buf *b)
{
    if (log_redactor != NULL)
        log_redactor(b, log_redactor_arg);
    else
        redact_buf(redact_global(), b);
}

char *log_redacted(const char *s, size_t n)
{
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    buf_add(&b, s, n);
    log_redact(&b);
    return buf_detach(&b);
}

/* Redact b, write it to f and wipe it: where log_out and log_write end. */
static void log_emit(FILE *f, struct buf *b, bool newline)
{
    log_redact(b);
    if (newline)
        buf_addc(b, '\n');
    if (b->len > 0)
        fwrite(b->data, 1, b->len, f);
    fflush(f);
    buf_wipe(b);
}

void log_write(FILE *f, const char *s, size_t n)
{
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    buf_add(&b, s, n);
    log_emit(f, &b, false);
}

void log_out(FILE *f, const char *fmt, ...)
{
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    va_list ap;
    va_start(ap, fmt);
    log_format(&b, fmt, ap);
    va_end(ap);
    log_emit(f, &b, true);
}

void log_vmsg(enum log_level lvl, const char *file, int line, const char *func,
              const char *fmt, va_list ap)
{
    if (lvl > log_level)
        return;
    struct buf b;
    /* Unlimited while the line is built: a secret must be whole when it is
     * redacted, and the newline must fit; the cap is applied after. */
    buf_init(&b, BUF_UNLIMITED);
    if (log_level >= LOG_DEBUG) {
        int64_t ms = clock_wall_ms();
        time_t t = (time_t)(ms / 1000);
        struct tm tm;
        gmtime_r(&t, &tm);
        buf_printf(&b, "%02d:%02d:%02d.%03d %s %s %s:%d %s: ", tm.tm_hour,
                   tm.tm_min, tm.tm_sec, (int)(ms % 1000), log_ident,
                   log_names[lvl], file, line, func);
    } else {
        buf_printf(&b, "%s: %s%s", log_ident,
                   lvl <= LOG_WARN ? log_names[lvl] : "",
                   lvl <= LOG_WARN ? ": " : "");
    }
    log_format(&b, fmt, ap);
    /* Redact before flattening, so a multi-line secret is still matched
     * whole, including lines too short to be patterns of their own. */
    log_redact(&b);
    /* One event, one line: a newline inside the message would let a peer
     * forge log lines. */
    for (size_t i = 0; i < b.len; i++)
        if (b.data[i] == '\n' || b.data[i] == '\r')
            b.data[i] = ' ';
    if (b.len > log_line_max) {
        size_t cut = b.len - log_line_max;
        b.len = log_line_max;
        buf_printf(&b, " [%zu bytes cut]", cut);
    }
    buf_addc(&b, '\n');
    FILE *f = log_stream ? log_stream : stderr;
    fwrite(b.data, 1, b.len, f);
    fflush(f);
    buf_wipe(&b);
}

void log_msg(enum log_level lvl, const char *file, int line, const char *func,
             const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(lvl, file, line, func, fmt, ap);
    va_end(ap);
}
