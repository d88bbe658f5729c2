/* coordinator/authz.h: change authorization before a deploy starts
 * (runbook 002): the plan's `require` (a ticket, an approver, environment
 * variables that must be set) and its deployment `windows`
 * ("Mon-Fri 09:00-16:00 Europe/Berlin"). Pure functions of their inputs
 * and of the time passed in, so tests use fixed instants; time zones come
 * from the system's tzdata (/usr/share/zoneinfo, or $TZDIR). */
#ifndef DROVER_AUTHZ_H
#define DROVER_AUTHZ_H

#include "err.h"

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* The plan's `require:` block. */
struct authz_require {
    bool ticket;            /* --ticket must be given */
    bool approver;          /* --approver must be given */
    const char *const *env; /* variables that must be set and not empty */
    size_t nenv;            /* entries in env */
};

/* What the operator passed to `drover deploy`. Strings borrowed. */
struct authz_request {
    const char *ticket;   /* --ticket, NULL if absent */
    const char *approver; /* --approver, NULL if absent */
    bool outside_window;  /* --outside-window */
    const char *reason;   /* --reason, NULL if absent */
};

/* Refuse (ERR_INVALID) when a required ticket or approver is missing or
 * blank, or a required environment variable is unset or empty; the
 * message names what is missing and the flag to pass, never a value. */
enum err_code authz_check_require(const struct authz_require *rq,
                                  const struct authz_request *req,
                                  struct err *e);

/* The verdict of the windows check. */
struct authz_verdict {
    bool inside;    /* now is inside a window (or there are none) */
    bool override;  /* outside, allowed by --outside-window --reason */
    char text[512]; /* the decision in words, for the journal */
};

/* Check now against the plan's windows (n may be 0: always open). Outside
 * all of them: allowed only with req->outside_window and a non-blank
 * reason (v->override, the text records the reason); without them
 * ERR_INVALID naming the windows, the local time in the first window's
 * zone and the flags to pass. --outside-window without --reason is
 * ERR_USAGE. A bad spec is ERR_PARSE. */
enum err_code authz_check_windows(const char *const *specs, size_t n,
                                  time_t now, const struct authz_request *req,
                                  struct authz_verdict *v, struct err *e);

#endif
