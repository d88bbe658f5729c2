/* coordinator/plan.h: a plan is a runbook that runs: the YAML file an
 * operator writes (docs/plan.md). plan_load reads and validates it with
 * libyaml; every problem is reported as file:line:col, all in one pass.
 * The plan is pure data: templates stay unrendered until the rollout
 * (rollout.h) resolves them for each host. */
#ifndef DROVER_PLAN_H
#define DROVER_PLAN_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct buf;

/* A position in the plan file, for messages. */
struct plan_pos {
    int line; /* 1-based */
    int col;  /* 1-based */
};

/* One command run on a host. */
struct plan_step {
    char *name;          /* label; defaults to the command */
    char *run;           /* shell command template */
    int64_t timeout_ms;  /* 0: none */
    struct plan_pos pos; /* where the step starts */
};

/* One health check (HTTP in this version). */
struct plan_check {
    char *http;          /* URL template */
    long expect_status;  /* status that passes; default 200 */
    int64_t timeout_ms;  /* per probe; 0: default */
    struct plan_pos pos; /* where the check starts */
};

/* One element of strategy.waves: a host count or a percentage. */
struct plan_wave {
    int count;   /* hosts, when percent is 0 */
    int percent; /* 1..100 of the hosts targeted, or 0 */
};

struct plan {
    char *file;              /* path it was read from */
    char *name;              /* plan name */
    char *hosts;             /* host pattern; default "all" */
    json_t *vars;            /* plan vars (object; values may be
                                templates) */
    struct plan_wave *waves; /* strategy.waves; the last repeats */
    size_t nwaves;           /* 0: one wave of every host */
    struct plan_step *steps; /* steps, in order */
    size_t nsteps;
    struct plan_check *checks; /* health.checks, all must pass */
    size_t nchecks;
    int64_t interval_ms;         /* health.interval; default 2s */
    int64_t min_healthy_ms;      /* health.min_healthy_time; default 0 */
    int64_t healthy_deadline_ms; /* health.healthy_deadline; default 2m */
};

/* Read and validate the plan at path. On success *out is a new plan
 * (caller frees with plan_free). On failure every problem is appended to
 * diags (one "file:line:col: what" line each) when diags is not NULL, and
 * e holds the first; returns ERR_PARSE (bad YAML or schema) or ERR_SYS. */
enum err_code plan_load(const char *path, struct plan **out, struct buf *diags,
                        struct err *e);

/* The same from memory; name is used in messages. */
enum err_code plan_load_buffer(const char *name, const char *data, size_t len,
                               struct plan **out, struct buf *diags,
                               struct err *e);

/* NULL is a no-op. */
void plan_free(struct plan *p);

#endif
