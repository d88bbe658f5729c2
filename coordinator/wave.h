/* coordinator/wave.h: split the targeted hosts into waves with Ansible's
 * `serial` semantics: each element is a host count or a percentage of the
 * hosts targeted (integer arithmetic, floor, at least 1); the last element
 * repeats until every host has a wave. */
#ifndef DROVER_WAVE_H
#define DROVER_WAVE_H

#include "plan.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Sizes of the waves for nhosts hosts and the spec (nspec 0: one wave of
 * every host). Returns a new array of *nwaves sizes that sum to nhosts
 * (caller frees); NULL with *nwaves 0 when nhosts is 0. */
size_t *wave_sizes(size_t nhosts, const struct plan_wave *spec, size_t nspec,
                   size_t *nwaves);

/* The size one spec element gives for nhosts hosts (>= 1). */
size_t wave_size_of(const struct plan_wave *w, size_t nhosts);

/* Hosts in the canary wave for nhosts targeted hosts: a count, or a
 * percentage of nhosts (floor, at least 1); 0 when canary is {0, 0}. Not
 * capped: a canary larger than the fleet is the caller's error to report. */
size_t wave_canary_size(const struct plan_wave *canary, size_t nhosts);

/* Sizes with a canary wave of ncanary hosts first (0: none), then the
 * spec over the remaining hosts. Percentages stay percentages of nhosts,
 * every host targeted, as Ansible's serial counts them. ncanary is capped
 * at nhosts. Caller frees; NULL with *nwaves 0 when nhosts is 0. */
size_t *wave_sizes_canary(size_t nhosts, size_t ncanary,
                          const struct plan_wave *spec, size_t nspec,
                          size_t *nwaves);

/* Reorder idx[0..n) (indices into names, given in inventory order):
 * INVENTORY keeps it, SORTED and REVERSE_SORTED compare names bytewise
 * (Python's sort on str), SHUFFLE is a Fisher-Yates shuffle driven by
 * splitmix64 from seed: the same seed and inventory give the same order. */
void wave_order(size_t *idx, const char *const *names, size_t n,
                enum plan_order order, uint64_t seed);

/* A fresh seed for order: shuffle when the plan gives none (getrandom,
 * else time and pid). */
uint64_t wave_seed_random(void);

/* Failures a budget (max_fail, max_fail_total: a count, or a percentage
 * of n, floor) allows among n hosts. */
size_t wave_budget(const struct plan_wave *w, size_t n);

/* A budget as written: "1", "10%". */
void wave_budget_words(const struct plan_wave *w, char *out, size_t len);

/* The plan's thresholds and pauses in words, one sentence each (a new
 * JSON array of strings), for waves of sizes[0..nwaves) over nhosts
 * hosts: what `drover plan` lists and `drover deploy` says before it
 * starts. */
json_t *wave_words(const struct plan *p, const size_t *sizes, size_t nwaves,
                   size_t nhosts, bool has_canary);

#endif
