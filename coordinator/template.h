/* coordinator/template.h: `{{ name }}` substitution in plan strings, with
 * the filters `default(x)` (or `d(x)`), `quote` (POSIX shell quoting),
 * `int`, `bool`, `string` and `length`. A small, strict subset of Jinja: a
 * name, optionally filtered; anything else in braces is an error, as is an
 * undefined name without default() or an unknown filter (the nearest known
 * name is suggested). `when:` conditions (coordinator/when.h) take the
 * same filters. */
#ifndef DROVER_TEMPLATE_H
#define DROVER_TEMPLATE_H

#include "err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

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

enum { TEMPLATE_EXPR_MAX = 256, TEMPLATE_FILTERS_MAX = 8 };

/* The filters, shared by `{{ }}` and `when:` (coordinator/when.c). */
enum template_filter {
    TEMPLATE_F_DEFAULT, /* default(x), d(x): x when the name is undefined */
    TEMPLATE_F_QUOTE,   /* POSIX shell quoting of the text */
    TEMPLATE_F_INT,     /* a whole number (Jinja's int: 0 when not one) */
    TEMPLATE_F_BOOL,    /* Ansible's bool: 'yes', 'on', '1', 'true' */
    TEMPLATE_F_STRING,  /* the text the value renders as */
    TEMPLATE_F_LENGTH   /* characters of a string, items of a list or map */
};

/* Find filter name; an unknown one is an error at column col (with where
 * after the name, "" or " in 'cond'"), with the nearest known name. */
enum err_code template_filter_find(const char *name, int col, const char *where,
                                   enum template_filter *out, struct err *e);

/* Apply f (not default) to the defined value v; *out is a new reference.
 * A length of a number, boolean or null is an error at column col. */
enum err_code template_filter_apply(enum template_filter f, const json_t *v,
                                    int col, json_t **out, struct err *e);

/* The element of v that key names (a string for a mapping, an integer for
 * a list, negative from the end as in Python), borrowed; NULL when there
 * is none: the expression is then undefined, as in Jinja. */
json_t *template_index(const json_t *v, const json_t *key);

/* A name ([A-Za-z_][A-Za-z0-9_]*) at *pp, before end, into out (outlen
 * bytes with the NUL); *pp moves past it. False when there is none or it
 * does not fit. */
bool template_ident(const char **pp, const char *end, char *out, size_t outlen);

#endif
