/* common/linefile.h: the one reader of line files (key files,
 * authorized_keys, known_agents, agent.conf). A line is read whole or
 * refused, never cut into pieces a caller could take for lines of their
 * own: a '#' comment line of any length is skipped whole; any other line
 * longer than LINEFILE_MAX bytes, or holding a NUL byte, is an error at
 * file:line:col. Every byte read passes through buffers in struct
 * linefile (stdio's too), wiped by linefile_close: files may hold secrets. */
#ifndef DROVER_LINEFILE_H
#define DROVER_LINEFILE_H

#include "err.h"

#include <stdbool.h>
#include <stdio.h>

enum {
    LINEFILE_MAX = 4096, /* longest line; only a '#' comment may be longer */
    LINEFILE_IO = 4096,  /* stdio's buffer */
};

/* A file being read (on the stack: linefile_open, linefile_close). */
struct linefile {
    FILE *f;                     /* the file; NULL once closed */
    const char *path;            /* its name, for errors (borrowed) */
    int lineno;                  /* the line just read, from 1 */
    char line[LINEFILE_MAX + 1]; /* that line, without its newline */
    char io[LINEFILE_IO];        /* stdio's buffer, ours to wipe */
};

/* Open path for reading. false with ERR_NOTFOUND ("PATH: no such file") or
 * ERR_SYS in e; nothing to close then. path is borrowed until the close. */
bool linefile_open(struct linefile *r, const char *path, struct err *e);

/* The next line that is neither blank nor a '#' comment: ERR_OK with *p at
 * its first byte that is not a blank (the line ends at a NUL, its newline
 * and trailing '\r' gone; the caller may write into r->line), ERR_NOTFOUND
 * at the end of the file, ERR_PARSE (file:line:col) for a line too long or
 * holding a NUL byte, ERR_SYS for a read error. */
enum err_code linefile_next(struct linefile *r, char **p, struct err *e);

/* Close the file and wipe every buffer. Idempotent. */
void linefile_close(struct linefile *r);

#endif
