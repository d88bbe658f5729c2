/* coordinator/authz.c: require and windows. Local time in a zone is
 * computed with localtime_r under a temporary TZ (the process has no
 * threads; TZ is restored at once), after checking that the zone exists
 * as a tzdata file: glibc would silently use UTC for an unknown name. */
#include "authz.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const authz_days[] = {"sun", "mon", "tue", "wed",
                                         "thu", "fri", "sat"};
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

/* --- parsing ------------------------------------------------------------
 */

static int authz_day_at(const char *p, size_t n)
{
    if (n != 3)
        return -1;
    for (int d = 0; d < 7; d++)
        if (strncasecmp(p, authz_days[d], 3) == 0)
            return d;
    return -1;
}

static enum err_code authz_perr(const char *spec, const char *at,
                                const char *what, struct err *e)
{
    return err_set(e, ERR_PARSE, "window \"%s\": column %d: %s", spec,
                   (int)(at - spec) + 1, what);
}

/* "HH:MM" at *p; max is 1440 for an end time (24:00). */
static bool authz_hhmm(const char **p, int max, int *out)
{
    const char *s = *p;
    if (!isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) ||
        s[2] != ':' || !isdigit((unsigned char)s[3]) ||
        !isdigit((unsigned char)s[4]))
        return false;
    int h = (s[0] - '0') * 10 + (s[1] - '0');
    int m = (s[3] - '0') * 10 + (s[4] - '0');
    if (m > 59 || h * 60 + m > max)
        return false;
    *out = h * 60 + m;
    *p = s + 5;
    return true;
}

static const char *authz_tzdir(void)
{
    const char *d = getenv("TZDIR");
    return d != NULL && *d == '/' ? d : "/usr/share/zoneinfo";
}

/* The zone exists as a TZif file of tzdata. */
static enum err_code authz_tz_check(const char *spec, const char *at,
                                    const char *tz, struct err *e)
{
    size_t n = strlen(tz);
    if (n == 0 || n >= AUTHZ_TZ_MAX || tz[0] == '/' ||
        strstr(tz, "..") != NULL ||
        strspn(tz, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                   "0123456789/_+-") != n)
        return authz_perr(spec, at,
                          "expected a time zone name such as UTC or "
                          "Europe/Berlin",
                          e);
    char *path = xasprintf("%s/%s", authz_tzdir(), tz);
    FILE *f = fopen(path, "rb");
    char magic[4] = {0};
    bool ok = f != NULL && fread(magic, 1, 4, f) == 4 &&
              memcmp(magic, "TZif", 4) == 0;
    if (f != NULL)
        fclose(f);
    enum err_code rc = ERR_OK;
    if (!ok) {
        char what[256];
        snprintf(what, sizeof(what),
                 "unknown time zone '%s' (no such zone in %s; is tzdata "
                 "installed?)",
                 tz, authz_tzdir());
        rc = authz_perr(spec, at, what, e);
    }
    free(path);
    return rc;
}

enum err_code authz_window_parse(const char *spec, struct authz_window *w,
                                 struct err *e)
{
    memset(w, 0, sizeof(*w));
    const char *p = spec;
    while (*p == ' ')
        p++;
    /* days, unless the spec starts with the time */
    if (!isdigit((unsigned char)*p)) {
        size_t n = strcspn(p, " ");
        if (n == 5 && strncasecmp(p, "daily", 5) == 0) {
            w->days = 0x7f;
            p += n;
        } else {
            const char *end = p + n;
            while (p < end) {
                size_t item = strcspn(p, ",");
                if (p + item > end)
                    item = (size_t)(end - p);
                const char *dash = memchr(p, '-', item);
                int a = authz_day_at(p, dash ? (size_t)(dash - p) : item);
                int b =
                    dash ? authz_day_at(dash + 1, item - (size_t)(dash - p) - 1)
                         : a;
                if (a < 0 || b < 0)
                    return authz_perr(
                        spec, a < 0 ? p : dash + 1,
                        "expected a day (Mon, Tue, ... Sun), a range "
                        "(Mon-Fri) or \"daily\"",
                        e);
                for (int d = a;; d = (d + 1) % 7) {
                    w->days |= 1u << d;
                    if (d == b)
                        break;
                }
                p += item;
                if (*p == ',')
                    p++;
            }
        }
        while (*p == ' ')
            p++;
    } else {
        w->days = 0x7f;
    }
    const char *t = p;
    if (!authz_hhmm(&p, 1439, &w->start_min))
        return authz_perr(spec, t, "expected a start time HH:MM (00:00-23:59)",
                          e);
    if (*p != '-')
        return authz_perr(spec, p,
                          "expected '-' between the start and end "
                          "times (09:00-16:00)",
                          e);
    p++;
    t = p;
    if (!authz_hhmm(&p, 1440, &w->end_min))
        return authz_perr(spec, t, "expected an end time HH:MM (00:00-24:00)",
                          e);
    if (w->end_min == w->start_min)
        return authz_perr(spec, t,
                          "the window is empty: the end equals the start", e);
    if (w->end_min == 0)
        w->end_min = 1440;
    while (*p == ' ')
        p++;
    const char *z = p;
    size_t zn = strcspn(p, " ");
    if (zn == 0) {
        snprintf(w->tz, sizeof(w->tz), "UTC");
    } else {
        if (zn >= AUTHZ_TZ_MAX)
            return authz_perr(spec, z, "time zone name too long", e);
        memcpy(w->tz, z, zn);
        w->tz[zn] = '\0';
        if (authz_tz_check(spec, z, w->tz, e) != ERR_OK)
            return e->code;
        p += zn;
        while (*p == ' ')
            p++;
    }
    if (*p != '\0')
        return authz_perr(spec, p,
                          "unexpected text after the time zone (write "
                          "\"DAYS HH:MM-HH:MM ZONE\")",
                          e);
    return ERR_OK;
}

/* Local broken-down time of now in zone tz. */
static enum err_code authz_local(const char *tz, time_t now, struct tm *tm,
                                 struct err *e)
{
    const char *old = getenv("TZ");
    char *saved = old != NULL ? xstrdup(old) : NULL;
    setenv("TZ", tz, 1);
    tzset();
    struct tm *r = localtime_r(&now, tm);
    if (saved != NULL) {
        setenv("TZ", saved, 1);
        free(saved);
    } else {
        unsetenv("TZ");
    }
    tzset();
    if (r == NULL)
        return err_set(e, ERR_INVALID, "time %lld cannot be shown in %s",
                       (long long)now, tz);
    return ERR_OK;
}

enum err_code authz_window_contains(const struct authz_window *w, time_t now,
                                    bool *in, struct err *e)
{
    struct tm tm;
    if (authz_local(w->tz, now, &tm, e) != ERR_OK)
        return e->code;
    int t = tm.tm_hour * 60 + tm.tm_min;
    int today = tm.tm_wday, yesterday = (tm.tm_wday + 6) % 7;
    if (w->end_min > w->start_min)
        *in = (w->days & (1u << today)) && t >= w->start_min && t < w->end_min;
    else /* past midnight: opened today, or opened yesterday evening */
        *in = ((w->days & (1u << today)) && t >= w->start_min) ||
              ((w->days & (1u << yesterday)) && t < w->end_min);
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
    struct authz_window first;
    for (size_t i = 0; i < n; i++) {
        struct authz_window w;
        bool in = false;
        if (authz_window_parse(specs[i], &w, e) != ERR_OK ||
            authz_window_contains(&w, now, &in, e) != ERR_OK)
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
    if (authz_local(first.tz, now, &tm, e) != ERR_OK)
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
