/* common/duration.c: parse "1m30s"-style durations into milliseconds. */
#include "duration.h"

#include <ctype.h>
#include <string.h>

static const struct {
    const char *name; /* unit suffix */
    int64_t ms;       /* milliseconds per unit */
} duration_units[] = {
    {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000},
};

static enum err_code duration_bad(const char *s, const char *why, struct err *e)
{
    return err_set(e, ERR_PARSE,
                   "bad duration '%s': %s (expected e.g. 500ms, 2s, 5m, 1h, "
                   "1m30s)",
                   s, why);
}

enum err_code duration_parse(const char *s, int64_t *ms, struct err *e)
{
    const int64_t max = (int64_t)DURATION_MAX_DAYS * 86400000;
    if (s == NULL || *s == '\0')
        return duration_bad(s ? s : "", "empty", e);
    int64_t total = 0;
    const char *p = s;
    while (*p != '\0') {
        if (!isdigit((unsigned char)*p))
            return duration_bad(s, "expected a number", e);
        int64_t n = 0;
        while (isdigit((unsigned char)*p)) {
            n = n * 10 + (*p - '0');
            if (n > max)
                return duration_bad(s, "too long (at most 30 days)", e);
            p++;
        }
        size_t ulen = 0;
        while (isalpha((unsigned char)p[ulen]))
            ulen++;
        int64_t unit = 0;
        if (ulen == 0) {
            if (p == s + strlen(s) && total == 0)
                unit = 1000; /* a bare number is seconds */
            else
                return duration_bad(s, "a number needs a unit", e);
        }
        for (size_t i = 0; unit == 0 && i < sizeof(duration_units) /
                                                sizeof(duration_units[0]);
             i++)
            if (strlen(duration_units[i].name) == ulen &&
                strncmp(p, duration_units[i].name, ulen) == 0)
                unit = duration_units[i].ms;
        if (unit == 0)
            return duration_bad(s, "unknown unit", e);
        if (n > (max - total) / unit)
            return duration_bad(s, "too long (at most 30 days)", e);
        total += n * unit;
        p += ulen;
    }
    *ms = total;
    return ERR_OK;
}
