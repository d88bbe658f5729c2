/* coordinator/deploy_int.h: what the files of the deploy engine share
 * (deploy.c and deploy_*.c): the deploy and its hosts, and the functions
 * one file calls in another. Not for use outside them: deploy.h is the
 * engine's interface. */
#ifndef DROVER_DEPLOY_INT_H
#define DROVER_DEPLOY_INT_H

#include "deploy.h"

#include "buf.h"
#include "cmdwrap.h"
#include "fence.h"
#include "gate.h"
#include "loop.h"
#include "stepid.h"
#include "transport.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { DEPLOY_LINE_MAX = 4096 };
/* What a host is doing in the current phase. */
enum deploy_job {
    JOB_NONE,
    JOB_PRECHECK,  /* `each` prechecks */
    JOB_ONCE,      /* one once/local step */
    JOB_STEPS,     /* the wave's steps, then the health gate */
    JOB_SMOKE,     /* smoke checks */
    JOB_SINGLETON, /* the singleton check: does this host hold the role? */
    JOB_ROLLBACK,  /* rollback steps, then the health gate */
    JOB_SETTLE,    /* a deploy step journaled in flight (the coordinator
                      died): collected from its host before that host
                      rolls back, so no rollback runs beside it */
    JOB_WAIT       /* before a host's first step: wait there for the steps
                      of a superseded deploy still running (deploy_orphan) */
};
/* Reconnections to follow one step whose connection was lost. */
enum { DEPLOY_REATTACH_MAX = 2 };
/* How long a host waits for a superseded deploy's step, at most. */
enum { DEPLOY_ORPHAN_WAIT_MS = 10 * 60 * 1000 };
/* Why the hosts are asked whether they hold the singleton role. */
enum deploy_ask {
    ASK_BEFORE,        /* before any change: who holds it now */
    ASK_RESUME,        /* a continued deploy: who holds it now */
    ASK_ROLLBACK,      /* a human's rollback: who holds it now */
    ASK_WAVE,          /* after a wave: the holder drover expects */
    ASK_AFTER_ROLLBACK /* after the rollback: the holder it put back */
};
/* How a job ended. */
enum deploy_outcome { OUT_OK, OUT_FAILED, OUT_UNREACHABLE };
/* The phase the deploy is in. */
enum deploy_phase {
    PH_PRECHECKS_ONCE,
    PH_PRECHECKS_EACH,
    PH_BEFORE,
    PH_WAVE,
    PH_SINGLETON, /* asking every host whether it holds the role */
    PH_SMOKE,
    PH_ROLLBACK,
    PH_DONE
};

struct deploy;
struct rollout_check;

struct deploy_host {
    struct deploy *d;              /* owner */
    const struct rollout_host *rh; /* resolved host, NULL for local */
    const char *name;              /* for messages */
    struct target tg;              /* where it is */
    size_t index;                  /* in the rollout; SIZE_MAX local */
    enum deploy_host_state state;  /* where it is in the deploy */
    /* the current job */
    enum deploy_job job;            /* JOB_NONE when idle */
    const struct rollout_cmd *cmds; /* commands of the job (borrowed) */
    size_t ncmds;
    size_t ci;               /* command running */
    int attempt;             /* attempt of command ci (stepid.h) */
    int spent;               /* its failures that used its retries */
    struct loop_timer retry; /* delay before a retry */
    bool holds_fork;         /* counted in d->in_flight */
    bool in_gate_exec;       /* the conn runs a gate command check */
    struct gate_exec *gx;    /* that check */
    struct conn *conn;       /* open during the job */
    struct gate *gate;       /* while gating */
    struct gate_spec gspec;  /* the gate (it keeps a pointer); its
                                checks are the rollout's */
    struct cmdwrap wrap;     /* the command running */
    bool role_move;          /* restart to take the singleton role over */
    bool restart;            /* its JOB_STEPS run is such a restart: no step
                                of it counts as journaled done */
    bool active_role;        /* JOB_SINGLETON: reports the role */
    enum deploy_host_state before_job; /* state to return to after a job
                                          that does not deploy */
    /* history */
    bool changed;                   /* ran deploy steps: needs rollback */
    size_t fence_out;               /* output length when the command began */
    bool wrapped;                   /* the command runs in fence.h's wrapper */
    enum fence_head head;           /* the wrapper's first line, once read */
    struct buf headbuf;             /* stderr until that line is complete */
    char head_rest[FENCE_HEAD_MAX]; /* the words after its first word */
    struct stepid sid;              /* the running step's id */
    bool resuming;                  /* it is a journaled in-flight step, asked
                                       again under its journaled id */
    size_t inflight_i;              /* then: its entry in d->o.inflight */
    unsigned pass;                  /* its pass (stepid.h) */
    unsigned passes[2];             /* JOB_STEPS, JOB_ROLLBACK jobs run */
    bool orphans_done;              /* waited for superseded steps */
    bool reattaching;               /* the connection was lost during a
                                       wrapped step: reconnecting to ask
                                       for it under the same id */
    int reattaches;                 /* of the running step so far */
    int64_t step_id;                /* journal row of the running step */
    int *last_verdict;              /* per check: last probe verdict + 1 */
    size_t nlast_verdict;           /* entries in last_verdict */
    struct buf output;              /* captured output, capped */
    struct buf ignored;             /* the job's failures ignore_errors
                                       went past, in words ("" if none) */
    struct buf partial[2];          /* -v: unfinished stdout/stderr line */
    char reason[512];               /* why it failed, in words */
    char fail_reason[512];          /* why its deploy failed: kept when its
                                       rollback fails too */
    int64_t started_ms;             /* when its wave launched it */
    int64_t step_started_ms;        /* when the current command started */
    int64_t finished_ms;            /* when it reached a final state */
};
/* The hosts one phase works on. */
struct deploy_set {
    size_t *idx;         /* host indices (SIZE_MAX: the local host) */
    size_t n;            /* members */
    size_t next;         /* next to launch */
    size_t open;         /* launched and not finished */
    enum deploy_job job; /* what they do */
};

struct deploy {
    struct loop *loop;          /* the reactor */
    const struct rollout *ro;   /* what to do */
    const struct plan *plan;    /* ro->plan */
    struct transport *t;        /* how to reach hosts */
    struct health *health;      /* HTTP probes */
    struct deploy_options o;    /* options */
    struct deploy_host *hosts;  /* ro->nhosts entries, wave order */
    struct deploy_host local;   /* the coordinator, for local steps */
    enum deploy_phase phase;    /* where we are (deploy_phase_set) */
    size_t wave;                /* current wave (PH_WAVE, rollback) */
    size_t once_i;              /* next once step of the phase */
    struct deploy_set set;      /* hosts of the current phase */
    size_t in_flight;           /* hosts holding a fork slot */
    bool launching;             /* inside deploy_set_launch */
    bool relaunch;              /* a job ended while launching */
    struct loop_timer progress; /* progress_deadline of the wave */
    struct loop_timer pause;    /* strategy.pause between waves */
    struct loop_timer kick;     /* starts the deploy from the loop */
    struct loop_timer live;     /* redraws the live status line */
    bool live_shown;            /* the status line is on screen */
    int interrupts;             /* Ctrl-C presses */
    bool terminated;            /* SIGTERM: cancelling, then pausing */
    bool pausing;               /* finish in-flight work, then pause */
    char pause_why[256];        /* why we pause */
    bool rolling_back;          /* the rollback has started */
    bool stopped;               /* the deploy is over */
    bool journal_failed;        /* a journal write failed: stop */
    uint64_t check_seq;         /* numbers command checks (their ids) */
    bool *inflight_used;        /* [d->o.ninflight]: asked already */
    const char *irrev_step;     /* an irreversible step that ran, or NULL */
    const char *irrev_host;     /* where it ran */
    size_t waves_done;          /* waves completed */
    size_t holder;              /* host running the singleton role (as the last
                                   restarts left it), or SIZE_MAX: none */
    size_t target;       /* eligible host the role goes to, or SIZE_MAX */
    size_t origin;       /* holder before the deploy, or SIZE_MAX: none */
    bool origin_known;   /* origin was asked (or journaled) */
    size_t rb_holder;    /* where the rollback puts the role */
    size_t move_from;    /* holder whose restart hands the role on, or
                            SIZE_MAX */
    size_t deferred;     /* new holder of this wave whose restart waits for
                            move_from's, or SIZE_MAX */
    enum deploy_ask ask; /* PH_SINGLETON: why */
    size_t total_failed; /* failed + unreachable in waves */
    enum deploy_verdict verdict; /* set when stopped */
    char decision[512];          /* the deciding event */
    int64_t started_ms;          /* deploy start */
};

/* --- the end ------------------------------------------------------------- */
/* The live view on a terminal: one status line under the events, redrawn
 * every LIVE_MS: the wave, a progress bar, hosts done / in flight /
 * failed / pending, what the hosts in flight are doing, elapsed time. */
enum { DEPLOY_LIVE_MS = 250 };

/* --- deploy.c: the phase machine. */
/* Every change of d->phase: logs old -> new (debug). */
void deploy_phase_set(struct deploy *d, enum deploy_phase p);
/* Launch the current set as job (an empty set: the phase ends). */
void deploy_set_begin(struct deploy *d, enum deploy_job job);
/* Empty the current set. */
void deploy_set_reset(struct deploy *d);
/* Add host i (SIZE_MAX: the local host) to the current set. */
void deploy_set_add(struct deploy *d, size_t i);
/* Launch the set's next hosts while forks allow; the phase goes on when the set
 * is done. */
void deploy_set_launch(struct deploy *d);
/* Stop the deploy with verdict v (once; later calls do nothing). */
void deploy_finish(struct deploy *d, enum deploy_verdict v);
/* A host's job ended with out: its state, then the set goes on. */
void deploy_host_job_done(struct deploy_host *h, enum deploy_outcome out);
/* The current set is finished: decide what comes next. */
void deploy_phase_next(struct deploy *d);

/* --- deploy_wave.c: the waves and the rollback. */
/* Roll back the changed hosts of wave d->wave (or an earlier one). */
void deploy_rollback_wave(struct deploy *d);
/* A budget was exceeded (or smoke failed): roll back if allowed. */
void deploy_rollback_start(struct deploy *d);
/* The rollback is over: its verdict. */
void deploy_rollback_end(struct deploy *d);
/* Start wave d->wave. */
void deploy_wave_begin(struct deploy *d);
/* Judge the finished wave; true when the deploy goes on. */
bool deploy_wave_verdict(struct deploy *d);
/* Timer: the wave's progress_deadline passed. */
void deploy_on_progress(struct loop *l, struct loop_timer *t, void *arg);
/* Timer: strategy.pause is over, the next wave starts. */
void deploy_on_pause(struct loop *l, struct loop_timer *t, void *arg);

/* --- deploy_host.c: a host's job and its states. */
/* Every host state change: logs old -> new and journals it. */
void deploy_host_set(struct deploy_host *h, enum deploy_host_state s);
/* Give h's fork slot back, if it holds one. */
void deploy_release_fork(struct deploy_host *h);
/* End h's current job with out (h->reason set if it failed). */
void deploy_job_end(struct deploy_host *h, enum deploy_outcome out);
/* End h's current job with out, the reason in words. */
void deploy_job_fail(struct deploy_host *h, enum deploy_outcome out,
                     const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Run h's next command that is not skipped, or its gate. */
void deploy_job_next(struct deploy_host *h);
/* A host refused this coordinator's epoch: stop acting anywhere. */
void deploy_fenced_stop(struct deploy_host *h, const char *why);
/* The SSH wrapper refused (its words in h->head_rest). */
void deploy_fenced_out(struct deploy_host *h);
/* Does h wait for superseded steps before its first change? */
bool deploy_orphan_needed(const struct deploy_host *h);
/* The callbacks of every host connection (arg: the deploy_host). */
extern const struct conn_cb deploy_conn_cb;
/* Start job on h with its commands (cmds borrowed). */
void deploy_job_start(struct deploy_host *h, enum deploy_job job,
                      const struct rollout_cmd *cmds, size_t ncmds);
/* Set up h of d (buffers, retry timer). */
void deploy_host_init(struct deploy *d, struct deploy_host *h);
/* Free what h holds. */
void deploy_host_release(struct deploy_host *h);

/* --- deploy_step.c: one step on a host's transport. */
/* The phase h's job journals its checks under. */
const char *deploy_phase_word(const struct deploy_host *h);
/* Name the next exec on h by sid (a job id, or the shell wrapper); *wrapped:
 * the command to send instead, or NULL. */
enum err_code deploy_cmd_wrap(struct deploy_host *h, const struct stepid *sid,
                              enum fence_mode mode, const char *command,
                              bool input, char **wrapped, struct err *e);
/* Start command h->ci of h's job. */
void deploy_cmd_start(struct deploy_host *h);
/* Timer: retry the running step. */
void deploy_on_retry(struct loop *l, struct loop_timer *t, void *arg);
/* Connection callback: output of the running command. */
void deploy_on_output(struct conn *c, int stream, const char *data, size_t len,
                      void *arg);
/* Connection callback: the running command ended. */
void deploy_on_done(struct conn *c, const struct exec_result *r, void *arg);

/* --- deploy_gate.c: the health gate of a job. */
/* Free h's gate. */
void deploy_gate_release(struct deploy_host *h);
/* Commands done: start the job's gate, or end the job. */
void deploy_job_gate(struct deploy_host *h);

/* --- deploy_singleton.c: the singleton role. */
/* The singleton role's name in words. */
const char *deploy_role(const struct deploy *d);
/* Wave d->wave is about to start: how the role moves in it. */
size_t deploy_singleton_handover(struct deploy *d);
/* The old holder's restart ended with out. */
void deploy_singleton_moved(struct deploy *d, struct deploy_host *h,
                            enum deploy_outcome out);
/* Ask every host that can answer whether it holds the role. */
void deploy_singleton_ask(struct deploy *d, enum deploy_ask why);
/* The answers before the deploy (or before continuing it). */
bool deploy_singleton_found(struct deploy *d);
/* Where the rollback puts the role. */
size_t deploy_singleton_rollback_holder(const struct deploy *d);
/* The answers after a wave or a rollback: exactly want? */
bool deploy_singleton_verdict(struct deploy *d, size_t want);

/* --- deploy_out.c: events, the journal, the live view, the summary. */
/* One event: a text line, or (--json) ev with the line as "message" (ev
 * consumed, may be NULL). */
void deploy_event(struct deploy *d, json_t *ev, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Keep a decision in the journal. */
void deploy_decision_journal(struct deploy *d, const char *text);
/* Keep an issue in the journal. */
void deploy_issue(struct deploy *d, const char *text);
/* A decision: said as an event, kept for the result and journaled. */
void deploy_decide(struct deploy *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A journal write's result; false (the deploy stops) on failure. */
bool deploy_journal(struct deploy *d, enum err_code rc, const struct err *e);
/* Journal wave w's state. */
void deploy_wave_journal(struct deploy *d, size_t w, const char *state);
/* -v: say h's unfinished line of stream idx (0 stdout, 1 stderr). */
void deploy_flush_line(struct deploy_host *h, int idx);
/* Keep h's command output (and stream it with -v). */
void deploy_output_add(struct deploy_host *h, int stream, const char *data,
                       size_t len);
/* Timer: redraw the live status line. */
void deploy_on_live(struct loop *l, struct loop_timer *t, void *arg);
/* Say the summary and fill res. */
void deploy_summary(struct deploy *d, struct deploy_result *res);

#endif
