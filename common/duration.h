/* common/duration.h: durations as operators write them: "500ms", "2s",
 * "5m", "1h", "1m30s"; a bare integer is seconds (Ansible's habit). */
#ifndef DROVER_DURATION_H
#define DROVER_DURATION_H

#include "err.h"

#include <stdint.h>

/* Parse s into milliseconds. ERR_INVALID with a message that says what a
 * duration looks like on anything else (empty, negative, unknown unit,
 * overflow past 30 days). */
enum err_code duration_parse(const char *s, int64_t *ms, struct err *e);

enum { DURATION_MAX_MS = 30 * 24 * 3600 * 1000 };

#endif
