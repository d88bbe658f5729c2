/* common/duration.c: parse "500ms", "2s", "5m", "1h", "1h30m". */
#include "duration.h"

#include <ctype.h>
#include <string.h>

enum err_code duration_parse(const char *s, int64_t *ms, struct err *e)
{
    const char *p = s;
    int64_t total = 0;
    if (s == NULL || *s == '\0')
        return err_set(e, ERR_INVALID,
                       "empty duration (write e.g. 500ms, 2s, 5m, 1h)");
    if (strspn(s, "0123456789") == strlen(s)) {
        /* a bare number is seconds */
        int64_t v = 0;
        for (; *p; p++) {
            v = v * 10 + (*p - '0');
            if (v > DURATION_MAX_MS / 1000)
                return err_set(e, ERR_INVALID,
                               "duration '%s' is longer than 30 days", s);
        }
        *ms = v * 1000;
        return ERR_OK;
    }
    while (*p) {
        if (!isdigit((unsigned char)*p))
            return err_set(e, ERR_INVALID,
                           "bad duration '%s' (write e.g. 500ms, 2s, 5m, 1h)",
                           s);
        int64_t v = 0;
        while (isdigit((unsigned char)*p)) {
            v = v * 10 + (*p - '0');
            if (v > DURATION_MAX_MS)
                return err_set(e, ERR_INVALID,
                               "duration '%s' is longer than 30 days", s);
            p++;
        }
        int64_t unit;
        if (strncmp(p, "ms", 2) == 0) {
            unit = 1;
            p += 2;
        } else if (*p == 's') {
            unit = 1000;
            p++;
        } else if (*p == 'm') {
            unit = 60 * 1000;
            p++;
        } else if (*p == 'h') {
            unit = 3600 * 1000;
            p++;
        } else {
            return err_set(e, ERR_INVALID,
                           "bad duration '%s': unit must be ms, s, m or h", s);
        }
        total += v * unit;
        if (total > DURATION_MAX_MS)
            return err_set(e, ERR_INVALID,
                           "duration '%s' is longer than 30 days", s);
    }
    *ms = total;
    return ERR_OK;
}
