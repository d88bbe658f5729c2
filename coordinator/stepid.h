/* coordinator/stepid.h: the identity of one remote action of a deploy.
 * Every step of every phase (prechecks, before, the wave's steps,
 * rollback, smoke) and every command check gets its own id, built from
 * fields that together never repeat: the deploy, the host, the phase, the
 * step's index in that phase's list, the pass (a host's steps run again
 * in one deploy: the singleton hand-over restarts the new holder), the
 * attempt (retries) and the generation (the fencing epoch of the coordinator
 * run that started it, so a resume or a retry decided by a human never reuses
 * an id). The journal stores the fields; stepid_format is the one place that
 * turns them into the text an agent or a host knows the action by. */
#ifndef DROVER_STEPID_H
#define DROVER_STEPID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Phases, in the order a deploy meets them. */
enum stepid_phase {
    STEPID_PRECHECK, /* plan.prechecks (on: once, local or each) */
    STEPID_BEFORE,   /* plan.before */
    STEPID_DEPLOY,   /* plan.steps */
    STEPID_ROLLBACK, /* plan.rollback.steps */
    STEPID_SMOKE,    /* plan.smoke */
    STEPID_CHECK,    /* a command check of a gate (asked every round) */
    STEPID_PHASE_COUNT
};

enum {
    STEPID_MAX = 128,     /* formatted length cap (an agent's job id) */
    STEPID_HOST_MAX = 48, /* longer escaped host names are hashed */
};

struct stepid {
    const char *deploy;      /* deploy id (borrowed); NULL: "run" */
    const char *host;        /* inventory name (borrowed); NULL: local */
    enum stepid_phase phase; /* which list */
    unsigned step;           /* index in the phase's list (checks: the
                                check's index) */
    unsigned pass;           /* 0; 1 the second time the host runs the
                                list in this run (singleton hand-over) */
    unsigned attempt;        /* 0, then each retry (checks: the pid) */
    uint64_t gen;            /* epoch of the run that started it */
};

/* "precheck", "before", "deploy", "rollback", "smoke", "check". */
const char *stepid_phase_name(enum stepid_phase p);

/* The phase named s (as stepid_phase_name writes it); false if none. */
bool stepid_phase_parse(const char *s, enum stepid_phase *out);

/* The id as text into out (at least STEPID_MAX + 1 bytes):
 * DEPLOY:HOST:PHASE:STEP:ATTEMPT:GEN, e.g.
 * "DEP-2026-12-07-001:web1:before:1:0:7", with PHASE as "deploy.1" for
 * pass 1. Only [A-Za-z0-9._:-] appear
 * (a file name on the host, a job id for the agent): a host name's other
 * bytes are escaped as _XX and '_' as "__", so distinct names stay
 * distinct; a local step's host is empty. Returns out. */
const char *stepid_format(const struct stepid *id, char *out, size_t outlen);

#endif
