/* coordinator/wave.c: host order (inventory, sorted, seeded shuffle) and
 * wave sizes from strategy.canary and strategy.waves. */
#include "wave.h"

#include "buf.h"
#include "clock.h"
#include "err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

size_t wave_size_of(const struct plan_wave *w, size_t nhosts)
{
    size_t n = wave_budget(w, nhosts);
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

size_t wave_canary_size(const struct plan_wave *canary, size_t nhosts)
{
    if (canary->count == 0 && canary->percent == 0)
        return 0;
    return wave_size_of(canary, nhosts);
}

size_t *wave_sizes_canary(size_t nhosts, size_t ncanary,
                          const struct plan_wave *spec, size_t nspec,
                          size_t *nwaves)
{
    *nwaves = 0;
    if (nhosts == 0)
        return NULL;
    if (ncanary > nhosts)
        ncanary = nhosts;
    size_t *sizes = xcalloc(nhosts, sizeof(size_t));
    size_t left = nhosts, i = 0;
    if (ncanary > 0) {
        sizes[(*nwaves)++] = ncanary;
        left -= ncanary;
    }
    while (left > 0) {
        size_t n = nspec == 0
                       ? left
                       : wave_size_of(&spec[i < nspec ? i : nspec - 1], nhosts);
        if (n > left)
            n = left;
        sizes[(*nwaves)++] = n;
        left -= n;
        i++;
    }
    return sizes;
}

/* The names qsort_r would need; qsort has no argument, so the
 * comparison reads them from here (one sort at a time: no threads). */
static const char *const *wave_sort_names;

static int wave_cmp_up(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    int c = strcmp(wave_sort_names[x], wave_sort_names[y]);
    /* equal names keep their inventory order */
    return c != 0 ? c : (x < y ? -1 : x > y);
}

static int wave_cmp_down(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    int c = strcmp(wave_sort_names[y], wave_sort_names[x]);
    return c != 0 ? c : (x < y ? -1 : x > y);
}

static uint64_t wave_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void wave_order(size_t *idx, const char *const *names, size_t n,
                enum plan_order order, uint64_t seed)
{
    switch (order) {
    case PLAN_ORDER_INVENTORY:
        return;
    case PLAN_ORDER_SORTED:
    case PLAN_ORDER_REVERSE_SORTED:
        wave_sort_names = names;
        qsort(idx, n, sizeof(*idx),
              order == PLAN_ORDER_SORTED ? wave_cmp_up : wave_cmp_down);
        wave_sort_names = NULL;
        return;
    case PLAN_ORDER_SHUFFLE: {
        uint64_t st = seed;
        for (size_t i = n; i > 1; i--) {
            /* rejection keeps every j in [0, i) equally likely */
            uint64_t limit = UINT64_MAX - UINT64_MAX % i, r;
            do
                r = wave_splitmix64(&st);
            while (r >= limit);
            size_t j = (size_t)(r % i);
            size_t t = idx[i - 1];
            idx[i - 1] = idx[j];
            idx[j] = t;
        }
        return;
    }
    }
}

uint64_t wave_seed_random(void)
{
    uint64_t s = 0;
    if (getrandom(&s, sizeof(s), GRND_NONBLOCK) == (ssize_t)sizeof(s))
        return s;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000007ULL ^ (uint64_t)ts.tv_nsec ^
           ((uint64_t)getpid() << 32);
}

size_t wave_budget(const struct plan_wave *w, size_t n)
{
    return w->percent > 0 ? n * (size_t)w->percent / 100 : (size_t)w->count;
}

void wave_budget_words(const struct plan_wave *w, char *out, size_t len)
{
    if (w->percent > 0)
        snprintf(out, len, "%d%%", w->percent);
    else
        snprintf(out, len, "%d", w->count);
}

json_t *wave_words(const struct plan *p, const size_t *sizes, size_t nwaves,
                   size_t nhosts, bool has_canary)
{
    json_t *w = json_array();
    char b[32];
    wave_budget_words(&p->max_fail, b, sizeof(b));
    if (p->max_fail.percent >= 100) {
        json_array_append_new(
            w, json_string("never stops for failed hosts (max_fail 100%): "
                           "failures are reported, every wave runs"));
    } else if (p->max_fail.percent > 0) {
        struct buf s;
        buf_init(&s, 4096);
        buf_printf(&s,
                   "stops if more than %s of a wave's hosts fail (max_fail "
                   "%s:",
                   b, b);
        for (size_t i = 0; i < nwaves; i++)
            buf_printf(&s, "%s wave %zu more than %zu of %zu", i ? "," : "",
                       i + 1, wave_budget(&p->max_fail, sizes[i]), sizes[i]);
        buf_adds(&s, ")");
        json_array_append_new(w, json_string(buf_cstr(&s)));
        buf_release(&s);
    } else if (p->max_fail.count == 0) {
        json_array_append_new(
            w, json_string("stops if any host of a wave fails (max_fail 0)"));
    } else {
        char *s =
            xasprintf("stops if more than %d host%s of a wave fail%s "
                      "(max_fail %d)",
                      p->max_fail.count, p->max_fail.count == 1 ? "" : "s",
                      p->max_fail.count == 1 ? "s" : "", p->max_fail.count);
        json_array_append_new(w, json_string(s));
        free(s);
    }
    if (p->max_fail_total_set) {
        wave_budget_words(&p->max_fail_total, b, sizeof(b));
        size_t n = wave_budget(&p->max_fail_total, nhosts);
        char *s = xasprintf("stops if more than %zu host%s fail%s across the "
                            "deploy (max_fail_total %s of %zu)",
                            n, n == 1 ? "" : "s", n == 1 ? "s" : "", b, nhosts);
        json_array_append_new(w, json_string(s));
        free(s);
    }
    json_array_append_new(
        w, json_string(p->unreachable == PLAN_UNREACHABLE_PAUSE
                           ? "pauses the deploy when a host is unreachable "
                             "(unreachable: pause)"
                           : "counts an unreachable host as failed "
                             "(unreachable: fail)"));
    if (has_canary)
        json_array_append_new(
            w, json_string(p->pause_after_canary
                               ? "pauses after the canary wave until "
                                 "`drover promote` (pause_after_canary)"
                               : "goes on after a healthy canary wave "
                                 "(`drover deploy --canary` stops there)"));
    if (p->pause_manual) {
        json_array_append_new(w, json_string("pauses after every wave until "
                                             "`drover promote` (pause: "
                                             "manual)"));
    } else if (p->pause_ms > 0) {
        char d[32];
        char *s = xasprintf("waits %s between waves (pause)",
                            clock_fmt_duration(p->pause_ms, d, sizeof(d)));
        json_array_append_new(w, json_string(s));
        free(s);
    }
    if (p->nrollback_steps > 0)
        json_array_append_new(
            w, json_string(p->rollback_auto
                               ? "on a stop, rolls back every changed host "
                                 "in reverse wave order (rollback.auto)"
                               : "on a stop, waits for `drover rollback` or "
                                 "`drover abort` (rollback.auto: false)"));
    else
        json_array_append_new(
            w, json_string("has no rollback steps: a stop leaves hosts as "
                           "they are"));
    return w;
}
