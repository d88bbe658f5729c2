/* inventory/inv_model.h: the inventory model: hosts, groups and
 * variables, as inventory.h's loader and the readers (inv_ini.c,
 * inv_yaml.c) fill it and as callers query it. Ansible's own behaviour is
 * the reference (docs/inventory.md).
 *
 * Ownership: the inventory owns every host, group and variable; pointers
 * and json_t values returned here are borrowed while the inventory lives. */
#ifndef DROVER_INV_MODEL_H
#define DROVER_INV_MODEL_H

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

struct inventory *inv_new(void);
/* NULL is a no-op. */
void inv_free(struct inventory *inv);

/* Refuse to hold more than max hosts (fuzzing, untrusted input). */
void inv_set_host_limit(struct inventory *inv, size_t max);

/* The most names one host expression may expand to here: INV_RANGE_MAX,
 * or the host limit when that is lower. */
size_t inv_range_limit(const struct inventory *inv);

/* Hosts in inventory order: the order they were first declared in
 * (Ansible's inventory.hosts; the pattern "all" orders them by group, see
 * inv_select in inventory.h). */
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

/* Ansible reconciles once, after every source is read (the implicit
 * "all" and "ungrouped" edges, group depth). A reader runs between
 * inv_unreconcile, which takes back the edges reconciling added, and
 * inv_reconcile, so sources read one at a time give the same result. */
void inv_unreconcile(struct inventory *inv);
void inv_reconcile(struct inventory *inv);

/* --- for the loader: group_vars/ and host_vars/ -------------------------- */

/* The index of dir among the directories holding *_vars/, added if new. */
size_t inv_vars_dir_add(struct inventory *inv, const char *dir);
/* Add dir (inv_vars_dir_add) and append it to the source order, whose
 * files are merged in that order. */
void inv_vars_dir_push(struct inventory *inv, const char *dir);
size_t inv_vars_dir_count(const struct inventory *inv);
/* The directory of index vi. Borrowed. */
const char *inv_vars_dir_at(const struct inventory *inv, size_t vi);
/* Forget every host's and group's vars files (before they are read). */
void inv_file_vars_clear(struct inventory *inv);
/* The vars files of directory vi for host i (inv_host_at) or group i
 * (inv_group_at): obj (a JSON object) is stolen. */
void inv_host_set_file_vars(struct inventory *inv, size_t i, size_t vi,
                            json_t *obj);
void inv_group_set_file_vars(struct inventory *inv, size_t i, size_t vi,
                             json_t *obj);

#endif
