/* inventory/inv_pattern.h: Ansible host patterns (inventory/manager.py):
 * "a:b", "a,b", "a:&b", "a:!b", globs, "~regex", subscripts "g[0]",
 * "g[1:3]", "g[-1]", evaluated in Ansible's order with its result order. */
#ifndef DROVER_INV_PATTERN_H
#define DROVER_INV_PATTERN_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

/* Limits on "~regex" terms, against regcomp(3) blowing up. */
enum {
    INV_PATTERN_REGEX_MAX = 512,  /* bytes of one regular expression */
    INV_PATTERN_REPEAT_MAX = 100, /* m and n of a {m,n} repeat */
    INV_PATTERN_INTERVALS_MAX = 4 /* {m,n} repeats in one expression */
};

struct inventory;
struct inv_host;

/* inv_select (inventory.h) is this. */
enum err_code inv_pattern_select(const struct inventory *inv,
                                 const char *pattern,
                                 const struct inv_host ***out, size_t *n,
                                 struct err *e);

/* Split a pattern into its terms as Ansible does (split_host_pattern).
 * *terms is a new array of new strings (caller frees both). */
void inv_pattern_split(const char *pattern, char ***terms, size_t *n);

/* Python's fnmatch.fnmatchcase(name, glob) (UTF-8 aware). */
bool inv_pattern_glob(const char *glob, const char *name);

#endif
