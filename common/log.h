/* common/log.h: logging with the call site (OpenSSH log.h). One line per
 * event to stderr, key=value context; every line passes through the
 * redaction hook before it is written, so a secret cannot reach a log. */
#ifndef DROVER_LOG_H
#define DROVER_LOG_H

#include <stdarg.h>
#include <stdio.h>

struct buf;

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG, LOG_TRACE };

/* Rewrites a formatted line in place (e.g. secrets -> "[redacted]"). */
typedef void log_redact_fn(struct buf *line, void *arg);

/* Lines above this level are not written. Default LOG_INFO. */
void log_set_level(enum log_level lvl);
enum log_level log_get_level(void);

/* Prefix of every line ("drover", "drover-agent"). Borrowed. */
void log_set_ident(const char *ident);

/* Write to f instead of stderr (tests). */
void log_set_stream(FILE *f);

/* The hook every line passes through; NULL restores the default, which
 * applies the process-wide redaction set (common/redact.h). */
void log_set_redactor(log_redact_fn *fn, void *arg);

/* Write a result (fmt, then a newline) to f, usually stdout: what a
 * command prints for its user, host output included. It passes through
 * the same redaction hook as every log line, so no subcommand has a path
 * of its own around it. The formatted text is wiped after. */
void log_out(FILE *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The n bytes at s, redacted as log_out does, written to f as they are
 * (no newline added: a text block that ends in its own, a status line
 * redrawn in place). */
void log_write(FILE *f, const char *s, size_t n);

/* The n bytes at s as log_out would print them (the same redaction),
 * for output that is encoded after (JSON events). Caller frees. */
char *log_redacted(const char *s, size_t n);

void log_msg(enum log_level lvl, const char *file, int line, const char *func,
             const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void log_vmsg(enum log_level lvl, const char *file, int line, const char *func,
              const char *fmt, va_list ap)
    __attribute__((format(printf, 5, 0)));

#define log_error(...)                                                         \
    log_msg(LOG_ERROR, __FILE__, __LINE__, __func__, __VA_ARGS__)
#define log_warn(...)                                                          \
    log_msg(LOG_WARN, __FILE__, __LINE__, __func__, __VA_ARGS__)
#define log_info(...)                                                          \
    log_msg(LOG_INFO, __FILE__, __LINE__, __func__, __VA_ARGS__)
#define log_debug(...)                                                         \
    log_msg(LOG_DEBUG, __FILE__, __LINE__, __func__, __VA_ARGS__)
#define log_trace(...)                                                         \
    log_msg(LOG_TRACE, __FILE__, __LINE__, __func__, __VA_ARGS__)

#endif
