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

#include "err.h"

struct inventory;
struct inv_host;
struct inv_group;

/* Limits against hostile input (docs/inventory.md). A host range such as
 * web[0:99999999999] expanding past INV_RANGE_MAX names is refused; an
 * inventory growing past its host limit (INV_HOST_MAX unless
 * inv_set_host_limit says otherwise) is refused. */
enum {
    INV_RANGE_MAX = 100000,        /* names one host expression may expand to */
    INV_HOST_MAX = 1000000,        /* hosts in one inventory, by default */
    INV_DEPTH_MAX = 256,           /* nesting of YAML nodes and group trees */
    INV_YAML_NODES_MAX = 10000000, /* values in one YAML file, as parsed */
    INV_FILE_MAX = 256 << 20,      /* bytes of one inventory or vars file */
};

/* Formats inv_load_buffer understands. */
enum inv_format {
    INV_FORMAT_AUTO, /* decide as inv_load does for a file named name */
    INV_FORMAT_INI,  /* Ansible's INI inventory */
    INV_FORMAT_YAML, /* Ansible's YAML inventory (also JSON) */
};

struct inventory *inv_new(void);
/* NULL is a no-op. */
void inv_free(struct inventory *inv);

/* Refuse to hold more than max hosts (fuzzing, untrusted input). */
void inv_set_host_limit(struct inventory *inv, size_t max);

/* The most names one host expression may expand to here: INV_RANGE_MAX,
 * or the host limit when that is lower. */
size_t inv_range_limit(const struct inventory *inv);

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

/* Hosts in inventory order: the order they were first declared in
 * (Ansible's inventory.hosts; the pattern "all" orders them by group, see
 * inv_select). */
size_t inv_host_count(const struct inventory *inv);
const struct inv_host *inv_host_at(const struct inventory *inv, size_t i);
const struct inv_host *inv_host_find(const struct inventory *inv,
                                     const char *name);
/* Position of h in inventory order (inv_host_at(inv, i) == h). */
size_t inv_host_index(const struct inventory *inv, const struct inv_host *h);
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

/* Groups in the order they were first declared; "all" and "ungrouped"
 * come first. */
size_t inv_group_count(const struct inventory *inv);
const struct inv_group *inv_group_at(const struct inventory *inv, size_t i);
const struct inv_group *inv_group_find(const struct inventory *inv,
                                       const char *name);
const char *inv_group_name(const struct inv_group *g);

/* Direct child groups and direct hosts, in declaration order. */
size_t inv_group_child_count(const struct inv_group *g);
const struct inv_group *inv_group_child_at(const struct inv_group *g, size_t i);
size_t inv_group_host_count(const struct inv_group *g);
const struct inv_host *inv_group_host_at(const struct inv_group *g, size_t i);

/* What `ansible-inventory --list --export` shows: the group's own
 * variables, merged with its group_vars/ files (source order), plus
 * ansible_group_priority when it is not 1; and the host's own variables
 * merged with its host_vars/ files. New objects: caller decrefs. */
json_t *inv_group_export_vars(const struct inventory *inv,
                              const struct inv_group *g);
json_t *inv_host_export_vars(const struct inventory *inv,
                             const struct inv_host *h);

/* Every host of g and of its descendants, in Ansible's order (the group's
 * own hosts, then its children's, level by level). *out is a new array of
 * borrowed pointers; caller frees it. */
void inv_group_hosts(const struct inventory *inv, const struct inv_group *g,
                     const struct inv_host ***out, size_t *n);

/* Names of the groups h belongs to, directly or through a child group,
 * except "all": Ansible's group_names, sorted. Caller frees the array
 * (not the strings). */
void inv_host_group_names(const struct inventory *inv, const struct inv_host *h,
                          const char ***out, size_t *n);

/* --- for the readers (inv_ini.c, inv_yaml.c) --------------------------- */

/* The group called name, created (with no parent yet) if new. */
struct inv_group *inv_group_add(struct inventory *inv, const char *name);

/* The host called name, created if new; added to g unless g is NULL.
 * ERR_LIMIT past the host limit; where prefixes the message. */
enum err_code inv_host_add(struct inventory *inv, const char *name,
                           struct inv_group *g, struct inv_host **out,
                           const char *where, struct err *e);

/* Make child a child group of parent. A loop is an error (ERR_INVALID,
 * the message prefixed with where). */
enum err_code inv_group_add_child(struct inventory *inv,
                                  struct inv_group *parent,
                                  struct inv_group *child, const char *where,
                                  struct err *e);

/* Set a variable; val is stolen. ansible_group_priority sets the group's
 * priority instead, as Ansible does (an error if not an integer). Like
 * Ansible's InventoryData.set_variable, a host variable goes to the group
 * of the same name when there is one. */
enum err_code inv_host_set_var(struct inventory *inv, struct inv_host *h,
                               const char *key, json_t *val, const char *where,
                               struct err *e);
/* The port of "host:PORT" (Ansible's Host(name, port)): on the host. */
void inv_host_set_port(struct inventory *inv, struct inv_host *h,
                       long long port);
enum err_code inv_group_set_var(struct inventory *inv, struct inv_group *g,
                                const char *key, json_t *val, const char *where,
                                struct err *e);

#endif
