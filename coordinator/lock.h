/* coordinator/lock.h: one coordinator per fleet. A lock is a file
 * STATE/locks/NAME.lock held with an OFD write lock (F_OFD_SETLK: the
 * kernel drops it when the holder dies, even on kill -9, and closing an
 * unrelated descriptor of the file does not drop it, unlike fcntl F_SETLK).
 * The holder writes its identity inside, so a second coordinator is told
 * who holds it. Every acquisition takes the next fencing epoch, stored
 * durably (STATE/epochs/NAME and STATE/epoch) before the lock is handed
 * out: epochs only grow, across crashes and restarts, and across lock
 * names (one counter per state directory: a host deployed by two plans in
 * turn, each with its own lock, never sees its epoch go down). */
#ifndef DROVER_LOCK_H
#define DROVER_LOCK_H

#include "err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    LOCK_POLL_MS = 100,          /* --lock-wait retries this often */
    LOCK_HOLDER_SETTLE_MS = 2000 /* a loser waits this long at most for the
                                   winner to write its identity */
};

/* Who holds a lock (as written inside the lock file). */
struct lock_holder {
    char user[64];    /* login name of the holder */
    char host[256];   /* host name of the coordinator */
    long pid;         /* its process id */
    char deploy[64];  /* deploy id, "" before the journal gave one */
    int64_t since_ms; /* wall-clock ms when it took the lock */
    uint64_t epoch;   /* the epoch it took */
};

struct lock;

/* Take lock NAME (statedir_name_ok) in state directory dir. wait_ms 0:
 * fail at once when held; > 0: retry every LOCK_POLL_MS until wait_ms has
 * passed (a bounded sleep, before the deploy's loop runs). deploy may be
 * NULL (set later with lock_set_deploy). When held by another, returns
 * ERR_LOCKED with a message naming the holder (user@host pid, deploy,
 * since, epoch); if holder is not NULL it is filled too. On success *out
 * holds the lock and its new epoch. */
enum err_code lock_acquire(const char *dir, const char *name,
                           const char *deploy, int64_t wait_ms,
                           struct lock **out, struct lock_holder *holder,
                           struct err *e);

/* The fencing epoch this acquisition took (>= 1). */
uint64_t lock_epoch(const struct lock *lk);

/* The lock's name. Borrowed. */
const char *lock_name(const struct lock *lk);

/* Record the deploy id in the holder identity (once the journal gave it). */
enum err_code lock_set_deploy(struct lock *lk, const char *deploy,
                              struct err *e);

/* Release and free; the holder identity is cleared first. NULL is a no-op.
 * Process death releases it too. */
void lock_release(struct lock *lk);

/* Is NAME held right now (without taking it)? Fills *held and, when held,
 * *holder. For `drover status`. */
enum err_code lock_probe(const char *dir, const char *name, bool *held,
                         struct lock_holder *holder, struct err *e);

/* Raise dir's epoch counter (STATE/epoch) to at least floor, durably, so
 * the next acquisition takes an epoch above it: `--take-over-fence`, when
 * hosts were fenced by a coordinator with another state directory that
 * is gone for good. */
enum err_code lock_epoch_floor(const char *dir, uint64_t floor, struct err *e);

/* The last epoch taken under NAME (0 if never). A file that does not
 * hold a number is ERR_PARSE (never read as 0). */
enum err_code lock_epoch_read(const char *dir, const char *name,
                              uint64_t *epoch, struct err *e);

/* Names of the lock files in dir/locks (without ".lock"), sorted; *names
 * is a NULL-terminated array, caller frees with lock_names_free. */
enum err_code lock_names(const char *dir, char ***names, struct err *e);
void lock_names_free(char **names);

/* "ops@build1 pid 4242, deploy DEP-2026-11-22-001, since 2026-11-22
 * 10:00:00Z, epoch 7" into out. */
const char *lock_holder_str(const struct lock_holder *h, char *out,
                            size_t outlen);

#endif
