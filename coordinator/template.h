/* coordinator/template.h: `{{ name }}` substitution in plan strings, with
 * the filters `default(x)` (or `d(x)`), `quote` (POSIX shell quoting),
 * `int`, `bool`, `string` and `length`. A small, strict subset of Jinja: a
 * name, optionally filtered; anything else in braces is an error, as is an
 * undefined name without default() or an unknown filter (the nearest known
 * name is suggested). `when:` conditions take the same filters. */
#ifndef DROVER_TEMPLATE_H
#define DROVER_TEMPLATE_H

#include "err.h"

#include <jansson.h>
#include <stdbool.h>

/* Look a variable up; return a borrowed value or NULL if undefined. */
typedef json_t *template_lookup_fn(const char *name, void *arg);

/* Render tmpl into *out (caller frees). On error (*out NULL) e says what
 * and where in the string: an undefined variable names it. */
enum err_code template_render(const char *tmpl, template_lookup_fn *lookup,
                              void *arg, char **out, struct err *e);

/* The text a value renders as: strings as they are, numbers in decimal,
 * booleans True/False (Jinja's), null as "", lists and maps as JSON.
 * Caller frees. */
char *template_value_str(const json_t *v);

/* Names used by tmpl, for validation without rendering: calls fn for
 * each `{{ name }}` (with has_default true when a default() follows); fn
 * may be NULL to check the syntax only. */
typedef void template_name_fn(const char *name, bool has_default, void *arg);
enum err_code template_names(const char *tmpl, template_name_fn *fn, void *arg,
                             struct err *e);

/* A `when:` condition, Ansible-style without braces: names, 'strings',
 * numbers, true/false, [lists], ( ), == != < <= > >=, in, not in, and,
 * or, not, `NAME is defined`, `NAME is not defined`; any operand may be
 * followed by filters (`version | int >= 3`, `groups | default([]) |
 * length > 0`): a filter binds tighter than a comparison or `not`. */

/* Evaluate cond for the variables lookup gives; *out is its truth (Python
 * rules: false, 0, "", null, [] and {} are false). An undefined name is
 * an error (ERR_NOTFOUND) unless tested with `is defined`; a syntax error
 * is ERR_PARSE with the column. */
enum err_code template_cond(const char *cond, template_lookup_fn *lookup,
                            void *arg, bool *out, struct err *e);

/* Check cond's syntax (filter names included) without evaluating it; fn
 * (may be NULL) is called for every name it uses (has_default true for
 * `is defined` tests and names followed by default()). */
enum err_code template_cond_names(const char *cond, template_name_fn *fn,
                                  void *arg, struct err *e);

/* Python truthiness of a value (NULL: false). */
bool template_truthy(const json_t *v);

#endif
