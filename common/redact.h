/* common/redact.h: replace secrets with "[redacted]" in text about to leave
 * the process (logs, output, records). A redact set holds secret values;
 * each is matched as itself, in base64, and line by line when it spans
 * lines. The process-wide set is what the log hook uses by default. */
#ifndef DROVER_REDACT_H
#define DROVER_REDACT_H

#include <stdbool.h>
#include <stddef.h>

struct buf;
struct redact;

#define REDACT_MARK "[redacted]"
enum { REDACT_MIN = 3 };

struct redact *redact_new(void);
/* Wipes the stored values. NULL is a no-op. */
void redact_free(struct redact *r);

/* The process-wide set (never NULL, lives until exit), with the pattern
 * rules on (redact_set_patterns). */
struct redact *redact_global(void);

/* Add a secret value (copied), with its base64 form, its JSON-escaped and
 * URL-encoded forms and, for a multi-line value, each of its lines. Forms
 * shorter than REDACT_MIN bytes are not matched (they would shred all
 * output). */
void redact_add(struct redact *r, const char *value);

/* Number of patterns held (value and derived forms). */
size_t redact_count(const struct redact *r);

/* Replace every occurrence in b, longest patterns first. */
void redact_buf(const struct redact *r, struct buf *b);

/* Redacted copy of s; caller frees. */
char *redact_str(const struct redact *r, const char *s);

/* Does a variable name look like it holds a secret? Case-insensitive:
 * it contains "password", "passwd", "secret" or "token", or ends in
 * "_key" / "-key". */
bool redact_name_is_secret(const char *name);

/* redact_add(value) when name looks secret (redact_name_is_secret);
 * returns whether it was added. */
bool redact_add_named(struct redact *r, const char *name, const char *value);

/* Also apply the pattern rules (redact_patterns) in redact_buf and
 * redact_str of this set. Off by default for a new set, on for the global
 * one. */
void redact_set_patterns(struct redact *r, bool on);

/* Rules that need no registered value, applied to b:
 *   "Bearer TOKEN"                 -> "Bearer [redacted]"
 *   "Authorization: ANYTHING"      -> "Authorization: [redacted]" (to EOL)
 *   "scheme://user:pass@"          -> "scheme://user:[redacted]@"
 *   NAME=value, NAME: value, "NAME": "value" for a secret-looking NAME
 *                                  -> the value becomes [redacted] */
void redact_patterns(struct buf *b);

#endif
