/* coordinator/window.h: the deployment window grammar, one parser for the
 * plan loader (coordinator/plan.c, which refuses a bad window with its
 * file:line:col) and the check before a deploy (coordinator/authz.c),
 * so what `drover validate` accepts is what `drover deploy` can check.
 * docs/plan.md documents the grammar. Time zones come from the system's
 * tzdata (/usr/share/zoneinfo, or $TZDIR). */
#ifndef DROVER_WINDOW_H
#define DROVER_WINDOW_H

#include "err.h"

#include <stdbool.h>
#include <time.h>

enum { WINDOW_TZ_MAX = 64 /* longest time zone name, with its NUL */ };

/* A parsed window: on the listed days, from start to end, local time in
 * tz. An end at or before the start runs past midnight into the next day
 * (a "Fri 22:00-02:00" window is open until Saturday 02:00). */
struct window {
    unsigned days;          /* bit d set: open on weekday d (0 = Sunday) */
    int start_min;          /* minutes after local midnight, 0..1439 */
    int end_min;            /* minutes after local midnight, 1..1440 */
    char tz[WINDOW_TZ_MAX]; /* zone name, "UTC" by default */
};

/* Parse "[DAYS] HH:MM-HH:MM [ZONE]". DAYS: "daily", or comma-separated
 * day names (Mon..Sun, any case) and ranges ("Mon-Fri", "Fri-Mon" wraps);
 * none means every day. Times are 24-hour; an end of 00:00 or 24:00 is
 * midnight. ZONE: a tz database name ("Europe/Berlin"), default UTC.
 * ERR_PARSE quotes spec and says what was expected. */
enum err_code window_parse(const char *spec, struct window *w, struct err *e);

/* Is instant now inside w? ERR_INVALID when now cannot be shown in w's
 * zone. */
enum err_code window_contains(const struct window *w, time_t now, bool *in,
                              struct err *e);

/* The local broken-down time of now in zone tz (for messages). */
enum err_code window_local(const char *tz, time_t now, struct tm *tm,
                           struct err *e);

#endif
