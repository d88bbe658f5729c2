/* coordinator/fence.h: the host-side wrapper of every remote action over
 * SSH. An agent fences, keeps job results and outlives the coordinator by
 * itself; a plain SSH host cannot, so the engine sends each step wrapped
 * in fence_command, a POSIX sh script (flock(1), setsid(1) of util-linux,
 * coreutils: on every Debian host) that, under a lock on the host:
 *   - compares the coordinator's epoch with the highest the host has seen
 *     (FENCE_DIR/fence: a higher one, or the same one taken by another
 *     state directory, refuses and names who took it; a lower one is
 *     raised durably, with who this coordinator is),
 *   - then, atomically with that check, records that step ID started
 *     (FENCE_DIR/steps/ID/) and starts it detached (setsid; its output in
 *     files there), so it runs to its end even if the coordinator or the
 *     channel dies, and records how it ended (synced before it exits);
 *   - sends the output (streamed from its first byte when the step runs
 *     longer than a second) and exits with the step's status.
 * Sent again with the same ID (a resume), it does not run the step twice:
 * it replays an ended step's output and status, follows a running one,
 * starts one that never started, and says so when it cannot tell. The
 * first stderr line is the wrapper's own ("drover-step: WORD ..."):
 * fence_head_parse reads it. docs/ssh.md describes the layout. */
#ifndef DROVER_FENCE_H
#define DROVER_FENCE_H

#include "buf.h"
#include "err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where hosts keep their fence and step records (drover_fence_dir
 * overrides it). Never a coordinator's state directory: the file names
 * differ too (docs/state.md). */
#define FENCE_DIR "/var/lib/drover-host"

enum {
    FENCE_EXIT_ERROR = 2,   /* the wrapper failed (no flock, bad file) */
    FENCE_EXIT_REFUSED = 3, /* the host has seen a higher epoch */
    FENCE_EXIT_UNKNOWN = 4, /* resume: the host cannot tell */
    FENCE_LOCK_WAIT_S = 10, /* flock wait on the host, seconds */
    FENCE_RETENTION_D = 7,  /* step records kept this many days */
    FENCE_HEAD_MAX = 1024   /* the wrapper's line, at most */
};

/* What the wrapper does with the step. */
enum fence_mode {
    FENCE_RUN,    /* a new step: record and run it (an id already started
                     is followed instead) */
    FENCE_RESUME, /* a step journaled as in flight: collect, follow or
                     start it; FENCE_EXIT_UNKNOWN when the host cannot
                     tell */
    FENCE_CHECK   /* a gate's command check: fenced, run in place, no
                     record */
};

struct fence_step {
    const char *dir;      /* drover_fence_dir, or NULL: FENCE_DIR */
    const char *id;       /* the step id (stepid_format) */
    uint64_t epoch;       /* this coordinator's; 0: no fencing */
    const char *who;      /* who this coordinator is (fence_who) */
    enum fence_mode mode; /* see above */
    const char *command;  /* the command line (cmdwrap: no secret in it) */
    bool input;           /* bytes follow on stdin for the step (secrets);
                             false: it reads /dev/null */
};

/* The wrapped command. Its stdin is passed on to the step (secrets).
 * NULL (e set, ERR_INVALID) when dir is not an absolute path of
 * [A-Za-z0-9/._-] or id holds other than [A-Za-z0-9._:-]. Caller frees. */
char *fence_command(const struct fence_step *s, struct err *e);

/* Who this coordinator is, for the host's fence record: its state
 * directory's identity, its host name, the deploy, as "key=value" words
 * of [A-Za-z0-9._:@-] (other bytes become '_'). Caller frees. */
char *fence_who(const char *state_id, const char *host, const char *deploy);

/* The wrapper's first line, parsed. */
enum fence_head {
    FENCE_HEAD_NONE,    /* not a wrapper line */
    FENCE_HEAD_RUN,     /* started now */
    FENCE_HEAD_ATTACH,  /* started before: its output from the start */
    FENCE_HEAD_CHECK,   /* a check passed the fence and runs */
    FENCE_HEAD_REFUSED, /* fenced: nothing ran */
    FENCE_HEAD_UNKNOWN, /* resume: the host cannot tell */
    FENCE_HEAD_ERROR    /* the wrapper failed: nothing ran */
};

/* Parse line (len bytes, no newline); *rest points after the word. */
enum fence_head fence_head_parse(const char *line, size_t len,
                                 const char **rest);

/* The refusal of host (rest: the words after "refused", i.e. the epoch
 * the host has seen and who took it) into e, ERR_LOCKED: names the host,
 * both epochs, who acted, and the way through (docs/state.md). */
enum err_code fence_refused(const char *host, uint64_t epoch, const char *rest,
                            struct err *e);

/* Append to b a sh command that waits on the host until step id (one
 * started by another coordinator, still running there) has ended: its
 * runner holds the step's run.lock until it exits. It returns at once for
 * a step that ended or never started there. dir: drover_fence_dir, or
 * NULL for FENCE_DIR. ERR_INVALID for an unsafe dir or id. */
enum err_code fence_wait_append(struct buf *b, const char *dir, const char *id,
                                struct err *e);

#endif
