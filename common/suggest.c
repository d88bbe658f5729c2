/* common/suggest.c: the nearest known name to a mistyped one, for
 * "did you mean" in messages (plan keys, template filters). */
#include "suggest.h"

#include <string.h>

size_t suggest_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return 64;
    size_t prev[64], cur[64];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] =
                sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, (lb + 1) * sizeof(size_t));
    }
    return prev[lb];
}

const char *suggest_nearest(const char *word, const char *const *names)
{
    const char *best = NULL;
    size_t bestd = SUGGEST_MAX_DISTANCE + 1;
    for (const char *const *n = names; *n != NULL; n++) {
        size_t d = suggest_distance(word, *n);
        if (d < bestd) {
            bestd = d;
            best = *n;
        }
    }
    return best;
}
