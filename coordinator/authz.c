/* coordinator/authz.c: require and windows. The window grammar and the
 * local time in a zone are coordinator/window.c's. */
#include "authz.h"

#include "window.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const authz_day_names[] = {"Sun", "Mon", "Tue", "Wed",
                                              "Thu", "Fri", "Sat"};

static bool authz_blank(const char *s)
{
    if (s == NULL)
        return true;
    while (isspace((unsigned char)*s))
        s++;
    return *s == '\0';
}

enum err_code authz_check_require(const struct authz_require *rq,
                                  const struct authz_request *req,
                                  struct err *e)
{
    if (rq->ticket && authz_blank(req->ticket))
        return err_set(e, ERR_INVALID,
                       "the plan requires a change ticket: pass --ticket ID "
                       "(the change request approved for this deploy)");
    if (rq->approver && authz_blank(req->approver))
        return err_set(e, ERR_INVALID,
                       "the plan requires an approver: pass --approver NAME "
                       "(who approved the change)");
    for (size_t i = 0; i < rq->nenv; i++) {
        const char *v = getenv(rq->env[i]);
        if (v == NULL || *v == '\0')
            return err_set(e, ERR_INVALID,
                           "the plan requires the environment variable %s, "
                           "which is %s: export it before deploying",
                           rq->env[i], v == NULL ? "not set" : "empty");
    }
    return ERR_OK;
}

enum err_code authz_check_windows(const char *const *specs, size_t n,
                                  time_t now, const struct authz_request *req,
                                  struct authz_verdict *v, struct err *e)
{
    memset(v, 0, sizeof(*v));
    if (req->outside_window && authz_blank(req->reason))
        return err_set(e, ERR_USAGE,
                       "--outside-window needs --reason TEXT: the record "
                       "must say why the deploy ran outside its windows");
    if (n == 0) {
        v->inside = true;
        snprintf(v->text, sizeof(v->text), "no deployment windows: open");
        return ERR_OK;
    }
    struct window first;
    for (size_t i = 0; i < n; i++) {
        struct window w;
        bool in = false;
        if (window_parse(specs[i], &w, e) != ERR_OK ||
            window_contains(&w, now, &in, e) != ERR_OK)
            return e->code;
        if (i == 0)
            first = w;
        if (in) {
            v->inside = true;
            snprintf(v->text, sizeof(v->text),
                     "inside the deployment window \"%s\"", specs[i]);
            return ERR_OK;
        }
    }
    struct tm tm;
    if (window_local(first.tz, now, &tm, e) != ERR_OK)
        return e->code;
    char when[96];
    snprintf(when, sizeof(when), "%s %02d:%02d %s", authz_day_names[tm.tm_wday],
             tm.tm_hour, tm.tm_min, first.tz);
    char list[256] = "";
    size_t len = 0;
    for (size_t i = 0; i < n && len < sizeof(list); i++) {
        int k = snprintf(list + len, sizeof(list) - len, "%s\"%s\"",
                         i ? ", " : "", specs[i]);
        if (k < 0)
            break;
        len += (size_t)k;
    }
    if (req->outside_window) {
        v->override = true;
        snprintf(v->text, sizeof(v->text),
                 "outside the deployment windows (%s; now %s): started "
                 "anyway with --outside-window, reason: %s",
                 list, when, req->reason);
        return ERR_OK;
    }
    snprintf(v->text, sizeof(v->text),
             "outside the deployment windows (%s; now %s)", list, when);
    return err_set(e, ERR_INVALID,
                   "now (%s) is outside the plan's deployment windows %s; "
                   "wait for a window, or pass --outside-window --reason "
                   "TEXT (recorded)",
                   when, list);
}
