/* common/strmap.c: string -> pointer hash map, FNV-1a and linear
 * probing; grows at half full so probes stay short. */
#include "strmap.h"

#include "err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t strmap_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

void strmap_init(struct strmap *m)
{
    m->keys = NULL;
    m->vals = NULL;
    m->cap = 0;
    m->n = 0;
}

void strmap_release(struct strmap *m)
{
    free(m->keys);
    free(m->vals);
    strmap_init(m);
}

void *strmap_get(const struct strmap *m, const char *key)
{
    if (m->cap == 0)
        return NULL;
    size_t mask = m->cap - 1;
    for (size_t i = strmap_hash(key) & mask;; i = (i + 1) & mask) {
        if (m->keys[i] == NULL)
            return NULL;
        if (strcmp(m->keys[i], key) == 0)
            return m->vals[i];
    }
}

static void strmap_grow(struct strmap *m)
{
    struct strmap bigger;
    bigger.cap = m->cap == 0 ? 64 : m->cap * 2;
    bigger.n = 0;
    bigger.keys = xcalloc(bigger.cap, sizeof(*bigger.keys));
    bigger.vals = xcalloc(bigger.cap, sizeof(*bigger.vals));
    for (size_t i = 0; i < m->cap; i++)
        if (m->keys[i] != NULL)
            strmap_put(&bigger, m->keys[i], m->vals[i]);
    free(m->keys);
    free(m->vals);
    *m = bigger;
}

void strmap_put(struct strmap *m, const char *key, void *val)
{
    if ((m->n + 1) * 2 > m->cap)
        strmap_grow(m);
    size_t mask = m->cap - 1;
    for (size_t i = strmap_hash(key) & mask;; i = (i + 1) & mask) {
        if (m->keys[i] == NULL) {
            m->keys[i] = key;
            m->vals[i] = val;
            m->n++;
            return;
        }
        if (strcmp(m->keys[i], key) == 0) {
            m->keys[i] = key;
            m->vals[i] = val;
            return;
        }
    }
}
