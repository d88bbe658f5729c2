/* coordinator/check.c: the table of check kinds, and what every kind
 * shares (the key list of a check, a check's name in evidence). A new kind
 * is a check_<kind>.c/.h pair and one row here (docs/hacking.md). */
#include "check.h"

#include "check_command.h"
#include "check_http.h"
#include "plan.h"
#include "rollout.h"

#include <stdio.h>
#include <string.h>

/* When a check names two kinds, the first row wins (and the plan is
 * refused); messages list the kinds in this order. */
const struct check_kind *const check_kinds[] = {
    &check_http,
    &check_command,
    NULL,
};

enum { CHECK_KEYS_MAX = 64, CHECK_NAMES_MAX = 256 };

const char *const *check_keys(void)
{
    static const char *keys[CHECK_KEYS_MAX];
    if (keys[0] != NULL)
        return keys;
    size_t n = 0;
    keys[n++] = "name";
    for (const struct check_kind *const *k = check_kinds; *k; k++)
        keys[n++] = (*k)->key;
    for (const struct check_kind *const *k = check_kinds; *k; k++)
        for (const char *const *x = (*k)->keys; x != NULL && *x; x++)
            if (n + 2 < CHECK_KEYS_MAX)
                keys[n++] = *x;
    keys[n++] = "timeout";
    keys[n] = NULL;
    return keys;
}

const char *check_kind_examples(void)
{
    static char words[CHECK_NAMES_MAX];
    if (words[0] != '\0')
        return words;
    size_t n = 0, len = 0;
    while (check_kinds[n] != NULL)
        n++;
    for (size_t i = 0; i < n; i++) {
        int r = snprintf(words + len, CHECK_NAMES_MAX - len, "%s'%s'",
                         i == 0       ? ""
                         : i + 1 == n ? " or "
                                      : ", ",
                         check_kinds[i]->example);
        if (r < 0 || (size_t)r >= CHECK_NAMES_MAX - len)
            break;
        len += (size_t)r;
    }
    return words;
}

const char *check_label(const struct rollout_check *rc, char *out,
                        size_t outlen)
{
    if (rc->check->name != NULL)
        snprintf(out, outlen, "%s", rc->check->name);
    else
        rc->check->kind->label(rc, out, outlen);
    return out;
}

bool check_on_host(const struct rollout_check *rc, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (rc[i].check->kind->exec != NULL)
            return true;
    return false;
}
