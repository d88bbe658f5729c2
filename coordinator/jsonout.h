/* coordinator/jsonout.h: JSON that leaves drover (run --json, deploy
 * --json, plan --json) passes the redaction every output line passes
 * (log_redacted, common/log.h), string by string before it is encoded:
 * run over the encoded text, a to-the-end-of-line rule (an Authorization
 * header) would eat a line's closing quotes and break the JSON. */
#ifndef DROVER_JSONOUT_H
#define DROVER_JSONOUT_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

/* Redact every string of j (values, in arrays and objects) in place; a
 * string that is no longer UTF-8 after it becomes "[redacted]". */
void jsonout_scrub(json_t *j);

/* jsonout_scrub(j), then j encoded with json_dumps flags, a newline,
 * and a flush to f. j is not consumed. */
void jsonout_print(FILE *f, json_t *j, size_t flags);

#endif
