/* common/redact.h: replace secrets with "[redacted]" in text about to leave
 * the process (logs, output, records). A redact set holds secret values;
 * each is matched as itself, in base64, and line by line when it spans
 * lines. The process-wide set is what the log hook uses by default. */
#ifndef DROVER_REDACT_H
#define DROVER_REDACT_H

#include <stddef.h>

struct buf;
struct redact;

#define REDACT_MARK "[redacted]"
enum { REDACT_MIN = 3 };

struct redact *redact_new(void);
/* Wipes the stored values. NULL is a no-op. */
void redact_free(struct redact *r);

/* The process-wide set (never NULL, lives until exit). */
struct redact *redact_global(void);

/* Add a secret value (copied), with its base64 form and, for a multi-line
 * value, each of its lines. Forms shorter than REDACT_MIN bytes are not
 * matched (they would shred all output). */
void redact_add(struct redact *r, const char *value);

/* Number of patterns held (value and derived forms). */
size_t redact_count(const struct redact *r);

/* Replace every occurrence in b, longest patterns first. */
void redact_buf(const struct redact *r, struct buf *b);

/* Redacted copy of s; caller frees. */
char *redact_str(const struct redact *r, const char *s);

#endif
