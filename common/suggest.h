/* common/suggest.h: "did you mean": the nearest of a list of known names
 * to a word someone mistyped (a plan key, a template filter), by
 * Levenshtein distance. For short names: keys, filters, options. */
#ifndef DROVER_SUGGEST_H
#define DROVER_SUGGEST_H

#include <stddef.h>

/* A suggestion is at most this many edits away. */
enum { SUGGEST_MAX_DISTANCE = 2 };

/* Edits (insert, delete, substitute one byte) turning a into b; strings
 * longer than 63 bytes count as 64 (never suggested). */
size_t suggest_distance(const char *a, const char *b);

/* The first name of names (NULL-terminated) nearest to word, if at most
 * SUGGEST_MAX_DISTANCE edits away; else NULL. Borrowed from names. */
const char *suggest_nearest(const char *word, const char *const *names);

#endif
