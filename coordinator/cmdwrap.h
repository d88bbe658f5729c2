/* coordinator/cmdwrap.h: turn a step into the command line a host runs
 * and the bytes it reads on stdin. Plain `env` values are exported in a
 * prefix (`export NAME='value';`); secret values never appear in the
 * command line: each travels base64-encoded, one per line, on stdin, and a
 * short prelude reads them into the environment before the step runs
 * (works over SSH and through agents alike, needs only sh and base64). */
#ifndef DROVER_CMDWRAP_H
#define DROVER_CMDWRAP_H

#include "err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct cmdwrap {
    char *command; /* the full command line (no secret in it) */
    char *input;   /* stdin bytes: the secrets, base64, one per line */
    size_t input_len;
};

/* Wrap command with env (object NAME -> string, may be NULL) and the
 * secret variables names[0..n) whose values are values[0..n) (not NULL).
 * ERR_INVALID when a name is not a valid shell variable name. Release
 * with cmdwrap_release (wipes the input). */
enum err_code cmdwrap_build(struct cmdwrap *w, const char *command,
                            const json_t *env, const char *const *names,
                            const char *const *values, size_t n, struct err *e);

void cmdwrap_release(struct cmdwrap *w);

/* True when s is a valid shell variable name. */
bool cmdwrap_valid_name(const char *s);

#endif
