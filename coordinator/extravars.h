/* coordinator/extravars.h: read the variables file of `-e @FILE` (YAML or
 * JSON) into a JSON object; rollout_extra_var (coordinator/rollout.c)
 * merges it with the other -e values. docs/plan.md describes the file. */
#ifndef DROVER_EXTRAVARS_H
#define DROVER_EXTRAVARS_H

#include "err.h"

#include <jansson.h>

struct buf;

enum { EXTRAVARS_FILE_MAX = 4 * 1024 * 1024 /* bytes in a variables file */ };

/* Read a YAML (or JSON) file of variables, for `-e @file.yml`: a mapping
 * whose values become JSON (*out, caller decrefs). Problems go to diags
 * as file:line:col and e holds the first; ERR_PARSE, ERR_LIMIT or
 * ERR_SYS. */
enum err_code extravars_load(const char *path, json_t **out, struct buf *diags,
                             struct err *e);

#endif
