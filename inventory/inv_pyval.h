/* inventory/inv_pyval.h: Python literals as Ansible's INI reader types its
 * values (ast.literal_eval): 80 is an integer, 0.5 a float, '["a", "b"]' a
 * list, True a boolean, None null; anything else stays a string. */
#ifndef DROVER_INV_PYVAL_H
#define DROVER_INV_PYVAL_H

#include <jansson.h>
#include <stddef.h>

/* The JSON value of the Python literal in s[0..len), or NULL when s is not
 * one Ansible would type (the caller keeps the string). Also NULL for the
 * literals JSON cannot hold: complex numbers, sets, integers outside 64
 * bits, infinities (docs/inventory.md). s need not be NUL-terminated. */
json_t *inv_pyval_parse(const char *s, size_t len);

#endif
