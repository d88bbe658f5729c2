/* coordinator/fence.h: fencing over SSH. An agent refuses messages from a
 * lower epoch by itself; a plain SSH host cannot, so before the first step
 * of each deploy on a host the engine runs fence_command there: a
 * compare-and-set of the host's epoch file (/var/lib/drover/epoch) under
 * flock(1). A host that has already seen
 * a higher epoch refuses: a newer coordinator took over, and this one must
 * stop acting. fence_verdict reads the answer. */
#ifndef DROVER_FENCE_H
#define DROVER_FENCE_H

#include "err.h"

#include <stdint.h>

#define FENCE_DIR "/var/lib/drover" /* where hosts keep their epoch */

enum {
    FENCE_EXIT_ERROR = 2,   /* the check itself failed (no flock, bad file) */
    FENCE_EXIT_REFUSED = 3, /* the host has seen a higher epoch */
    FENCE_LOCK_WAIT_S = 10  /* flock wait on the host, seconds */
};

/* The POSIX sh command that raises dir/epoch to epoch unless it is
 * higher (dir NULL: FENCE_DIR), durably (sync of the file, rename, sync
 * of the directory). It prints "drover-fence: ok N" on success; exits
 * FENCE_EXIT_REFUSED or FENCE_EXIT_ERROR with a line on stderr otherwise.
 * NULL when dir holds characters that would need quoting. Caller frees. */
char *fence_command(const char *dir, uint64_t epoch);

/* The verdict of fence_command on host from its exit status and output
 * (stdout and stderr): ERR_OK; ERR_LOCKED when the host refused (the
 * message names the host, both epochs and says to stop); ERR_EXEC
 * otherwise, quoting the output. */
enum err_code fence_verdict(const char *host, uint64_t epoch, int exit_code,
                            const char *output, struct err *e);

#endif
