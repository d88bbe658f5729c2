/* inventory/inv_ini.h: Ansible's INI inventory format, read into an
 * inventory: hosts with inline key=value variables, [group], [group:vars],
 * [group:children], host ranges, values typed as Python literals. */
#ifndef DROVER_INV_INI_H
#define DROVER_INV_INI_H

#include <stddef.h>

#include "err.h"

struct inventory;

/* Read data[0..len) (need not be NUL-terminated), named name in messages.
 * Errors: ERR_PARSE "name:line:col: what is wrong: 'text'"; ERR_LIMIT for
 * ranges or host counts past the limits in inv_model.h. */
enum err_code inv_ini_parse(struct inventory *inv, const char *name,
                            const char *data, size_t len, struct err *e);

/* Ansible's host_list source "a,b:2222,c": hosts in "ungrouped". */
enum err_code inv_ini_host_list(struct inventory *inv, const char *list,
                                struct err *e);

#endif
