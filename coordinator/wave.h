/* coordinator/wave.h: split the targeted hosts into waves with Ansible's
 * `serial` semantics: each element is a host count or a percentage of the
 * hosts targeted (integer arithmetic, floor, at least 1); the last element
 * repeats until every host has a wave. */
#ifndef DROVER_WAVE_H
#define DROVER_WAVE_H

#include "plan.h"

#include <stddef.h>

/* Sizes of the waves for nhosts hosts and the spec (nspec 0: one wave of
 * every host). Returns a new array of *nwaves sizes that sum to nhosts
 * (caller frees); NULL with *nwaves 0 when nhosts is 0. */
size_t *wave_sizes(size_t nhosts, const struct plan_wave *spec, size_t nspec,
                   size_t *nwaves);

/* The size one spec element gives for nhosts hosts (>= 1). */
size_t wave_size_of(const struct plan_wave *w, size_t nhosts);

#endif
