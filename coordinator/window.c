/* coordinator/window.c: parse deployment windows and tell whether an
 * instant is inside one. Local time in a zone is computed with
 * localtime_r under a temporary TZ (the process has no threads; TZ is
 * restored at once), after checking that the zone exists as a tzdata
 * file: glibc would silently use UTC for an unknown name. */
#include "window.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Day names in struct tm's order (tm_wday: 0 = Sunday). */
static const char *const window_days[] = {"sun", "mon", "tue", "wed",
                                          "thu", "fri", "sat"};

/* The weekday named by the n bytes at s (any case), or -1. */
static int window_day(const char *s, size_t n)
{
    if (n != 3)
        return -1;
    for (int d = 0; d < 7; d++)
        if (strncasecmp(s, window_days[d], 3) == 0)
            return d;
    return -1;
}

/* "HH:MM" at s, at most max minutes after midnight (1440 for an end). */
static bool window_hhmm(const char *s, int max, int *min)
{
    if (!(isdigit((unsigned char)s[0]) && isdigit((unsigned char)s[1]) &&
          s[2] == ':' && isdigit((unsigned char)s[3]) &&
          isdigit((unsigned char)s[4])))
        return false;
    int h = (s[0] - '0') * 10 + s[1] - '0', m = (s[3] - '0') * 10 + s[4] - '0';
    if (m > 59 || h * 60 + m > max)
        return false;
    *min = h * 60 + m;
    return true;
}

static const char *window_tzdir(void)
{
    const char *d = getenv("TZDIR");
    return d != NULL && *d == '/' ? d : "/usr/share/zoneinfo";
}

/* The zone is a name of the tz database that exists as a TZif file. UTC
 * needs no file: glibc knows it without tzdata. */
static enum err_code window_tz_check(const char *spec, const char *tz,
                                     struct err *e)
{
    size_t n = strlen(tz);
    if (n >= WINDOW_TZ_MAX || tz[0] == '/' || strstr(tz, "..") != NULL ||
        strspn(tz, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                   "0123456789/_+-") != n)
        return err_set(e, ERR_PARSE, "window '%s': bad time zone '%s'", spec,
                       tz);
    if (strcmp(tz, "UTC") == 0)
        return ERR_OK;
    char *path = xasprintf("%s/%s", window_tzdir(), tz);
    FILE *f = fopen(path, "rb");
    free(path);
    char magic[4] = {0};
    bool ok = f != NULL && fread(magic, 1, 4, f) == 4 &&
              memcmp(magic, "TZif", 4) == 0;
    if (f != NULL)
        fclose(f);
    if (!ok)
        return err_set(e, ERR_PARSE,
                       "window '%s': unknown time zone '%s' (a name from "
                       "the tz database such as Europe/Berlin, or UTC)",
                       spec, tz);
    return ERR_OK;
}

/* The DAYS part between p and end ("daily", "Mon-Fri,sun") into w. */
static enum err_code window_parse_days(const char *spec, const char *p,
                                       const char *end, struct window *w,
                                       struct err *e)
{
    if (end - p == 5 && strncasecmp(p, "daily", 5) == 0) {
        w->days = 0x7f;
        return ERR_OK;
    }
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *item_end = comma ? comma : end;
        const char *dash = memchr(p, '-', (size_t)(item_end - p));
        int a = window_day(p, (size_t)((dash ? dash : item_end) - p));
        int b = dash ? window_day(dash + 1, (size_t)(item_end - dash - 1)) : a;
        if (a < 0 || b < 0)
            return err_set(e, ERR_PARSE,
                           "window '%s': '%.*s' is not a day or day range "
                           "(Mon Tue Wed Thu Fri Sat Sun, e.g. Mon-Fri)",
                           spec, (int)(item_end - p), p);
        for (int d = a;; d = (d + 1) % 7) {
            w->days |= 1u << d;
            if (d == b)
                break;
        }
        p = comma ? comma + 1 : end;
    }
    return ERR_OK;
}

enum err_code window_parse(const char *spec, struct window *w, struct err *e)
{
    memset(w, 0, sizeof(*w));
    const char *p = spec;
    while (*p == ' ')
        p++;
    if (isalpha((unsigned char)*p)) {
        const char *end = strchr(p, ' ');
        if (end == NULL)
            return err_set(e, ERR_PARSE,
                           "window '%s': expected DAYS HH:MM-HH:MM ZONE, e.g. "
                           "'Mon-Fri 09:00-16:00 Europe/Berlin'",
                           spec);
        if (window_parse_days(spec, p, end, w, e) != ERR_OK)
            return e->code;
        p = end;
        while (*p == ' ')
            p++;
    } else {
        w->days = 0x7f;
    }
    /* a window starts at 23:59 at the latest and ends at 24:00 */
    if (!window_hhmm(p, 1439, &w->start_min) || p[5] != '-' ||
        !window_hhmm(p + 6, 1440, &w->end_min))
        return err_set(e, ERR_PARSE,
                       "window '%s': expected a time range HH:MM-HH:MM "
                       "(24-hour, e.g. 09:00-16:00)",
                       spec);
    if (w->start_min == w->end_min)
        return err_set(e, ERR_PARSE,
                       "window '%s': the range starts and ends at the same "
                       "time",
                       spec);
    if (w->end_min == 0)
        w->end_min = 1440;
    p += 11;
    while (*p == ' ')
        p++;
    const char *tz = *p ? p : "UTC";
    if (strchr(tz, ' ') != NULL)
        return err_set(e, ERR_PARSE,
                       "window '%s': unexpected text after the time zone",
                       spec);
    if (window_tz_check(spec, tz, e) != ERR_OK)
        return e->code;
    memcpy(w->tz, tz, strlen(tz) + 1);
    return ERR_OK;
}

enum err_code window_local(const char *tz, time_t now, struct tm *tm,
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

enum err_code window_contains(const struct window *w, time_t now, bool *in,
                              struct err *e)
{
    struct tm tm;
    if (window_local(w->tz, now, &tm, e) != ERR_OK)
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
