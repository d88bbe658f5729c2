/* coordinator/when.h: `when:` conditions of plan steps, evaluated per
 * host (coordinator/rollout.c) and checked when the plan is loaded
 * (coordinator/plan.c). */
#ifndef DROVER_WHEN_H
#define DROVER_WHEN_H

#include "template.h"

/* A `when:` condition, Ansible-style without braces: names, 'strings',
 * numbers, true/false, [lists], ( ), == != < <= > >=, in, not in, and,
 * or, not, `NAME is defined`, `NAME is not defined`; any operand may be
 * followed by filters (`version | int >= 3`, `groups | default([]) |
 * length > 0`): a filter binds tighter than a comparison or `not`. */

/* Evaluate cond for the variables lookup gives; *out is its truth (Python
 * rules: false, 0, "", null, [] and {} are false). An undefined name is
 * an error (ERR_NOTFOUND) unless tested with `is defined`; a syntax error
 * is ERR_PARSE with the column. */
enum err_code when_eval(const char *cond, template_lookup_fn *lookup, void *arg,
                        bool *out, struct err *e);

/* Check cond's syntax (filter names included) without evaluating it; fn
 * (may be NULL) is called for every name it uses (has_default true for
 * `is defined` tests and names followed by default()). */
enum err_code when_names(const char *cond, template_name_fn *fn, void *arg,
                         struct err *e);

/* Python truthiness of a value (NULL: false). */
bool when_truthy(const json_t *v);

#endif
