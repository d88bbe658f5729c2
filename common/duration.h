/* common/duration.h: durations written by people ("500ms", "2s", "5m",
 * "1h", "1m30s") for flags and plan fields, as milliseconds. */
#ifndef DROVER_DURATION_H
#define DROVER_DURATION_H

#include "err.h"

#include <stdint.h>

/* Longest accepted duration: 30 days, so sums of deadlines cannot overflow. */
enum { DURATION_MAX_DAYS = 30 };

/* Parse s as a sequence of NUMBER UNIT terms (units ms, s, m, h, d; a bare
 * number means seconds) into *ms. Errors (ERR_PARSE) quote s and say what
 * form is expected; *ms is untouched then. */
enum err_code duration_parse(const char *s, int64_t *ms, struct err *e);

#endif
