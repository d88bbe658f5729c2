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

/* The rules: each field of a record that judges the deploy, derived from
 * the journal by one function (docs/record.md, "How each field is
 * derived"). Verdicts are "PASS", "FAIL", "NOT RUN", "INCOMPLETE". */

struct store_note_row;

/* Hosts whose last gate of phase ("deploy", "rollback", "smoke") was
 * journaled; how many of them passed it into *passed. */
size_t record_gates(const struct store_record *r, const char *phase,
                    size_t *passed);

/* Health checks: FAIL when a host's last deploy gate failed; PASS when
 * every host gated passed and the deploy ended (INCOMPLETE before); NOT
 * RUN when no host was gated. Smoke and rollback gates do not count. */
const char *record_health(const struct store_record *r);

/* Hosts that passed their last deploy gate; the hosts gated in *gated. */
size_t record_gated_healthy(const struct store_record *r, size_t *gated);

/* Smoke tests: FAIL when a host's smoke checks failed, PASS when every
 * host's passed, NOT RUN when none ran. */
const char *record_smoke(const struct store_record *r);

/* Prechecks: FAIL when one failed (ignore_errors too: it is journaled as
 * failed), PASS when all passed, NOT RUN when none ran. */
const char *record_prechecks(const struct store_record *r);

/* Rollback Executed: "NO"; "YES, completed"; "YES, and it FAILED: hosts
 * need a human"; "YES, not finished". */
const char *record_rollback(const struct store_record *r);

/* Issues Encountered, in time order: every precheck that failed, every
 * step but a precheck whose outcome is not ok (a retry that then
 * succeeded says so; a
 * step with no outcome once the deploy is no longer running), every host
 * that ended failed, unreachable, skipped or rollback failed or that
 * carries a failure reason (a host rolled back after failing), and every
 * issue the engine journaled (store_issue). *out: caller frees with
 * record_issues_free. */
size_t record_issues(const struct store_record *r, struct store_note_row **out);
void record_issues_free(struct store_note_row *v, size_t n);

/* "2026-11-22 10:00:00Z" for wall-clock ms into out; "-" for 0. */
const char *record_time(int64_t ms, char *out, size_t outlen);

/* "340ms", "1.25s", "2m05s", "3h07m" into out; returns out. */
const char *record_duration(int64_t ms, char *out, size_t outlen);

#endif
