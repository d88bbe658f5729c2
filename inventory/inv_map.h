/* inventory/inv_map.h: a string -> pointer hash map (open addressing) for
 * the inventory's host and group names. Keys are borrowed: the caller keeps
 * them alive while they are in the map (they are the names the host and
 * group structs own). */
#ifndef DROVER_INV_MAP_H
#define DROVER_INV_MAP_H

#include <stddef.h>

struct inv_map {
    const char **keys; /* borrowed keys, NULL for an empty slot */
    void **vals;       /* the value of each slot */
    size_t cap;        /* slots, a power of two (0 before the first put) */
    size_t n;          /* keys held */
};

void inv_map_init(struct inv_map *m);
void inv_map_release(struct inv_map *m);

/* The value stored under key, NULL if none. */
void *inv_map_get(const struct inv_map *m, const char *key);

/* Store val under key (replacing an older value). */
void inv_map_put(struct inv_map *m, const char *key, void *val);

#endif
