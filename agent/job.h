/* agent/job.h: one command run by drover-agent: /bin/sh -c in its own
 * process group, with a given environment and stdin, its stdout and stderr
 * read through non-blocking pipes on the loop. Timeout and cancel kill the
 * whole group (TERM, then KILL after a grace period). Children are reaped
 * through SIGCHLD on the loop's signalfd (job_table). */
#ifndef DROVER_JOB_H
#define DROVER_JOB_H

#include "err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;
struct job;
struct job_table;

enum {
    JOB_KILL_GRACE_MS = 2000, /* TERM -> KILL */
    JOB_LINGER_MS = 1000,     /* wait for EOF after the leader exited */
    JOB_READ_MAX = 32 * 1024, /* one read from a pipe */
};

/* How a job ended (the numbers are proto's enum proto_end). */
enum job_end {
    JOB_EXITED = 0,
    JOB_SIGNALED = 1,
    JOB_TIMEOUT = 2,
    JOB_FAILED = 3,
    JOB_CANCELLED = 4,
};

struct job_result {
    enum job_end end;   /* how it ended */
    int code;           /* exit status (JOB_EXITED), else -1 */
    char signal[32];    /* the signal's name when killed by one ("KILL") */
    int64_t elapsed_ms; /* spawn to end */
    char why[128];      /* JOB_FAILED: what went wrong */
};

struct job_cb {
    /* Bytes from stream 1 (stdout) or 2 (stderr). */
    void (*output)(struct job *j, int stream, const char *data, size_t len,
                   void *arg);
    /* The job is over: its process is reaped and its pipes closed. The job
     * may be freed from here. */
    void (*done)(struct job *j, const struct job_result *r, void *arg);
};

struct job_spec {
    const char *command;    /* run with /bin/sh -c */
    const char *const *env; /* "NAME=value", NULL-terminated; borrowed */
    const void *input;      /* stdin bytes (may be NULL) */
    size_t input_len;       /* length of input */
    int64_t timeout_ms;     /* 0: none */
    int64_t kill_grace_ms;  /* 0: JOB_KILL_GRACE_MS */
};

/* The process's children: one per process, watches SIGCHLD on l. */
struct job_table *job_table_new(struct loop *l, struct err *e);
/* NULL is a no-op; live jobs are not touched. */
void job_table_free(struct job_table *t);

/* Spawn a job. NULL with e set when it cannot start (pipes, spawn). The
 * callbacks begin on later loop turns. */
struct job *job_start(struct job_table *t, const struct job_spec *s,
                      const struct job_cb *cb, void *arg, struct err *e);

/* Stop or resume reading the job's output (backpressure): a paused job
 * blocks in write() once its pipe is full. */
void job_pause(struct job *j, bool paused);

/* Kill the group: TERM, then KILL after the grace. The result says
 * JOB_CANCELLED (or why if given JOB_TIMEOUT). Idempotent. */
void job_kill(struct job *j, enum job_end why);

/* The leader's pid (also the process group id). */
int job_pid(const struct job *j);

/* Free a finished job (after done), or kill and detach a running one: it
 * is reaped later and no callback is made. NULL is a no-op. */
void job_free(struct job *j);

/* "TERM" for SIGTERM; "SIG<n>" for unknown numbers. Into out. */
const char *job_signame(int signo, char *out, size_t outlen);

#endif
