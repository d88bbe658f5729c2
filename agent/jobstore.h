/* agent/jobstore.h: what drover-agent remembers across restarts: each
 * job's RESULT by job id (so a repeated job id is answered without running
 * again) and the highest fencing epoch seen. Files under STATE_DIR:
 * `epoch` (the number, then who raised it) and `jobs/ID` (a msgpack RESULT),
 * `jobs/ID.running` while a job runs. Every write is fsynced, file and
 * directory, before it counts. */
#ifndef DROVER_JOBSTORE_H
#define DROVER_JOBSTORE_H

#include "err.h"
#include "proto.h"

#include <stdint.h>

/* The largest `epoch` file that reads back: the number (20 digits), who
 * raised it (PROTO_WHO_MAX), a newline after each. */
enum { JOBSTORE_EPOCH_FILE_MAX = 20 + 1 + PROTO_WHO_MAX + 1 };

struct jobstore;

/* Open (creating) the store in dir, or a memory-only store when dir is
 * NULL (--simulate-exec=none). Jobs left `.running` by a crash become
 * failed results ("the agent stopped while the job ran"), so they are not
 * run a second time. */
struct jobstore *jobstore_open(const char *dir, struct err *e);
/* NULL is a no-op. */
void jobstore_free(struct jobstore *s);

/* The highest epoch recorded (0 for a new store). */
uint64_t jobstore_epoch(const struct jobstore *s);
/* Who raised the recorded epoch (one line of text, as given to
 * jobstore_set_epoch), or NULL when not known (a store written before it
 * was kept). Borrowed until the next jobstore_set_epoch. */
const char *jobstore_epoch_who(const struct jobstore *s);
/* Record a higher epoch durably, with who raised it (its first line, at
 * most PROTO_WHO_MAX bytes, kept on the `epoch` file's second line; NULL:
 * not known). Lower or equal: no-op. */
enum err_code jobstore_set_epoch(struct jobstore *s, uint64_t epoch,
                                 const char *who, struct err *e);

/* The job is about to run: its `.running` marker is on disk after this. */
enum err_code jobstore_begin(struct jobstore *s, const char *job,
                             struct err *e);
/* Store the job's RESULT message and drop the marker. */
enum err_code jobstore_finish(struct jobstore *s, const char *job,
                              const struct proto_msg *result, struct err *e);
/* The stored RESULT of job into out (release with proto_msg_release):
 * ERR_NOTFOUND when the job is unknown, ERR_PROTO if the file is bad. */
enum err_code jobstore_lookup(struct jobstore *s, const char *job,
                              struct proto_msg *out, struct err *e);

/* Delete results older than max_age_s seconds; returns how many. */
size_t jobstore_prune(struct jobstore *s, int64_t max_age_s);

#endif
