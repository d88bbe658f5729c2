/* coordinator/record.h: a deploy's record, read from the journal
 * (store_get_record), rendered for people and programs: plain text,
 * Markdown following runbook 002's DEPLOYMENT RECORD TEMPLATE (Deployment
 * ID, Deployed By, Date/Time, Git Commit/Tag, Changes Deployed, Validation
 * Results, Issues Encountered, Rollback Executed), plus the wave plan,
 * per-host results with timings, health and precheck evidence, steps and
 * decisions; and JSON (docs/record.md lists the fields). The journal holds
 * redacted text only, so a record cannot leak a secret. */
#ifndef DROVER_RECORD_H
#define DROVER_RECORD_H

#include "err.h"
#include "redact.h"

#include <stddef.h>
#include <stdint.h>

struct buf;
struct store_record;

/* What a record shows for the value of a secret variable: the mark of
 * every redacted value, which the redaction of output lines leaves as it
 * is (a placeholder of its own would itself be redacted as a value). */
#define RECORD_SECRET REDACT_MARK

enum record_format {
    RECORD_TEXT,     /* for a terminal */
    RECORD_MARKDOWN, /* runbook 002's template */
    RECORD_JSON      /* one JSON object */
};

/* "text", "markdown" (or "md"), "json" into *f; ERR_USAGE otherwise. */
enum err_code record_format_parse(const char *s, enum record_format *f,
                                  struct err *e);

/* Append the record of r in format f to out (ends with a newline). */
void record_render(const struct store_record *r, enum record_format f,
                   struct buf *out);

/* "2026-11-22 10:00:00Z" for wall-clock ms into out; "-" for 0. */
const char *record_time(int64_t ms, char *out, size_t outlen);

/* "340ms", "1.25s", "2m05s", "3h07m" into out; returns out. */
const char *record_duration(int64_t ms, char *out, size_t outlen);

#endif
