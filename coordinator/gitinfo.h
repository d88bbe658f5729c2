/* coordinator/gitinfo.h: what a deploy's record says about the code: the
 * commit and tag of the repository the plan file lives in, and the changes
 * since the last successful deploy of the plan (`git log`), when the
 * operator did not pass --changes. git runs once, locally, before the
 * deploy starts (not on the loop); a plan outside a git repository, or no
 * git at all, simply has no git information. */
#ifndef DROVER_GITINFO_H
#define DROVER_GITINFO_H

#include "err.h"

#include <stdbool.h>

enum {
    GITINFO_CHANGES_MAX = 50,      /* commits listed; the rest are counted */
    GITINFO_OUTPUT_MAX = 64 * 1024 /* bytes read from one git command */
};

struct gitinfo {
    char *commit;  /* full hash of HEAD, "-dirty" appended when the work
                      tree has uncommitted changes; NULL if none */
    char *tag;     /* a tag pointing at HEAD, NULL if none */
    char *changes; /* "abc1234 subject" per line, newest first; NULL */
    bool dirty;    /* uncommitted changes in the work tree */
};

/* Fill g for the repository holding path (a file or directory). since is
 * the commit of the last successful deploy (NULL or unknown: only HEAD's
 * own subject is listed). ERR_NOTFOUND when path is not in a git
 * repository or git is not installed; g is then empty. */
enum err_code gitinfo_read(const char *path, const char *since,
                           struct gitinfo *g, struct err *e);

/* Free the strings; g becomes empty. */
void gitinfo_release(struct gitinfo *g);

#endif
