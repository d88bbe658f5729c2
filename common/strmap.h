/* common/strmap.h: the one string -> pointer hash map (open addressing):
 * the inventory's host and group names, the agent transport's pinned keys.
 * Keys are borrowed: the caller keeps them alive while they are in the map
 * (they are names the values own). The struct is public so it can be
 * embedded; to walk it, visit the slots whose key is not NULL. */
#ifndef DROVER_STRMAP_H
#define DROVER_STRMAP_H

#include <stddef.h>

struct strmap {
    const char **keys; /* borrowed keys, NULL for an empty slot */
    void **vals;       /* the value of each slot */
    size_t cap;        /* slots, a power of two (0 before the first put) */
    size_t n;          /* keys held */
};

/* An empty map (no allocation until the first put). */
void strmap_init(struct strmap *m);

/* Free the slots (not the keys or values), leaving an empty map. */
void strmap_release(struct strmap *m);

/* The value stored under key, NULL if none. */
void *strmap_get(const struct strmap *m, const char *key);

/* Store val under key (replacing an older value). */
void strmap_put(struct strmap *m, const char *key, void *val);

#endif
