/* inventory/inv_yaml.h: Ansible's YAML inventory format and YAML/JSON vars
 * files (group_vars/, host_vars/), read with libyaml. Every node keeps its
 * line and column, so errors name file:line:col; scalars are typed as
 * Ansible's YAML loader types them (YAML 1.1: yes/no are booleans, 0755 is
 * octal), or by JSON's rules when the file is JSON. */
#ifndef DROVER_INV_YAML_H
#define DROVER_INV_YAML_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "err.h"

struct inventory;

/* Read a YAML inventory: top-level keys are groups, each with optional
 * hosts, vars and children (nested to any depth). */
enum err_code inv_yaml_parse(struct inventory *inv, const char *name,
                             const char *data, size_t len, struct err *e);

/* Would Ansible's YAML reader take this file (a YAML mapping that is not a
 * plugin configuration)? Nothing is logged. */
bool inv_yaml_probe(const char *data, size_t len);

/* A vars file: *out is a new JSON object, or NULL when the file is empty.
 * Anything but a mapping is an error naming file:line:col. */
enum err_code inv_yaml_vars(const char *name, const char *data, size_t len,
                            json_t **out, struct err *e);

#endif
