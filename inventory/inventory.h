/* inventory/inventory.h: hosts, groups and variables read from Ansible
 * inventories (INI, YAML, group_vars/host_vars), and Ansible host patterns.
 * Ansible's own behaviour is the reference (docs/inventory.md).
 *
 * Ownership: the inventory owns every host, group and variable; pointers
 * and json_t values returned here are borrowed while the inventory lives. */
#ifndef DROVER_INVENTORY_H
#define DROVER_INVENTORY_H

#include <jansson.h>
#include <stddef.h>

struct err;
struct inventory;
struct inv_host;
struct inv_group;

struct inventory *inv_new(void);
/* NULL is a no-op. */
void inv_free(struct inventory *inv);

/* Read one source: an INI or YAML file, or a directory of them (Ansible's
 * rules for which files count). May be called once per `-i`. Errors name
 * file:line:col and the offending text. Warnings go to the log. */
enum err_code inv_load(struct inventory *inv, const char *src, struct err *e);

/* Hosts in inventory order (the order Ansible's `all` lists them). */
size_t inv_host_count(const struct inventory *inv);
const struct inv_host *inv_host_at(const struct inventory *inv, size_t i);
const struct inv_host *inv_host_find(const struct inventory *inv,
                                     const char *name);
/* inventory_hostname */
const char *inv_host_name(const struct inv_host *h);

/* The host's merged variables (Ansible precedence), a JSON object.
 * Borrowed. */
json_t *inv_host_vars(const struct inventory *inv, const struct inv_host *h);

/* One merged variable, NULL if undefined. Borrowed. */
json_t *inv_host_var(const struct inventory *inv, const struct inv_host *h,
                     const char *name);

/* Select hosts with an Ansible host pattern, in Ansible's result order.
 * *out is a new array of borrowed host pointers (caller frees the array);
 * a pattern matching nothing gives *n == 0 and a warning, not an error. */
enum err_code inv_select(const struct inventory *inv, const char *pattern,
                         const struct inv_host ***out, size_t *n,
                         struct err *e);

#endif
