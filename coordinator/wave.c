/* coordinator/wave.c: wave sizes from a strategy.waves spec. */
#include "wave.h"

#include "err.h"

size_t wave_size_of(const struct plan_wave *w, size_t nhosts)
{
    size_t n;
    if (w->percent > 0)
        n = nhosts * (size_t)w->percent / 100;
    else
        n = (size_t)w->count;
    return n < 1 ? 1 : n;
}

size_t *wave_sizes(size_t nhosts, const struct plan_wave *spec, size_t nspec,
                   size_t *nwaves)
{
    *nwaves = 0;
    if (nhosts == 0)
        return NULL;
    size_t *sizes = xcalloc(nhosts, sizeof(size_t));
    size_t left = nhosts, i = 0;
    while (left > 0) {
        size_t n = nspec == 0
                       ? nhosts
                       : wave_size_of(&spec[i < nspec ? i : nspec - 1], nhosts);
        if (n > left)
            n = left;
        sizes[(*nwaves)++] = n;
        left -= n;
        i++;
    }
    return sizes;
}
