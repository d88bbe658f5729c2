/* inventory/inventory.h: hosts, groups and variables read from Ansible
 * inventories (INI, YAML, group_vars/host_vars), and Ansible host patterns.
 * Ansible's own behaviour is the reference (docs/inventory.md). The model
 * (inv_model.h) is what a loaded inventory is; this is how one is loaded
 * and how hosts are selected from it.
 *
 * Ownership: the inventory owns every host, group and variable; pointers
 * and json_t values returned here are borrowed while the inventory lives. */
#ifndef DROVER_INVENTORY_H
#define DROVER_INVENTORY_H

#include "inv_model.h"

/* Formats inv_load_buffer understands. */
enum inv_format {
    INV_FORMAT_AUTO, /* decide as inv_load does for a file named name */
    INV_FORMAT_INI,  /* Ansible's INI inventory */
    INV_FORMAT_YAML, /* Ansible's YAML inventory (also JSON) */
};

/* Read one source: an INI or YAML file, or a directory of them (Ansible's
 * rules for which files count), or a comma-separated host list ("a,b,").
 * May be called once per `-i`. group_vars/ and host_vars/ next to each
 * source are read. Errors name file:line:col and the offending text.
 * Warnings go to the log. */
enum err_code inv_load(struct inventory *inv, const char *src, struct err *e);

/* Read one inventory from memory (data need not be NUL-terminated); name
 * is used in messages and, for INV_FORMAT_AUTO, to pick the format by its
 * extension. No group_vars. */
enum err_code inv_load_buffer(struct inventory *inv, const char *name,
                              const char *data, size_t len,
                              enum inv_format format, struct err *e);

/* Select hosts with an Ansible host pattern, in Ansible's result order.
 * *out is a new array of borrowed host pointers (caller frees the array);
 * a pattern matching nothing gives *n == 0 and a warning, not an error. */
enum err_code inv_select(const struct inventory *inv, const char *pattern,
                         const struct inv_host ***out, size_t *n,
                         struct err *e);

#endif
