/* common/yamlscalar.h: how a YAML scalar becomes a JSON value, one typing
 * for every YAML drover reads: plans and their vars (coordinator/plan.c),
 * `-e @FILE` (coordinator/extravars.c), YAML inventories and
 * group_vars/host_vars (inventory/inv_yaml.c). It is Ansible's: YAML 1.1
 * as PyYAML types it, or JSON's rules when the whole file is JSON (as
 * Ansible's loader tries JSON first). docs/inventory.md has the table. */
#ifndef DROVER_YAMLSCALAR_H
#define DROVER_YAMLSCALAR_H

#include "err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* One scalar as the parser read it. Strings borrowed. */
struct yamlscalar {
    const char *text; /* the value (NUL-terminated) */
    size_t len;       /* bytes in text */
    const char *tag;  /* explicit tag ("tag:yaml.org,2002:int", "!vault"),
                         NULL when none was written */
    bool plain;       /* written without quotes */
    bool json;        /* the file is JSON: JSON's typing */
};

/* *out = s as a new JSON value (caller decrefs). A quoted or !!str
 * scalar is a string; a plain one is null, a boolean, an int, a float, a
 * timestamp (its text, normalised) or a string. Errors carry no position
 * (callers add file:line:col): ERR_INVALID for !vault, ERR_PARSE for an
 * unknown tag, a value its tag refuses, an impossible date, '=' alone, or
 * text that is not UTF-8. */
enum err_code yamlscalar_json(const struct yamlscalar *s, json_t **out,
                              struct err *e);

/* A plain scalar that YAML reads as null: "", ~, null, Null, NULL. */
bool yamlscalar_is_null(const char *s);

#endif
