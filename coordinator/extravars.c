/* coordinator/extravars.c: `-e @FILE`, a file of variables given on the
 * command line. A .json file is read as JSON (duplicate keys refused); any
 * other is YAML, read and typed as a plan's vars: are (plan_vars_parse),
 * with the scalar typing of YAML inventories and group_vars
 * (common/yamlscalar.c), so one file gets the same types either way. */
#include "extravars.h"

#include "plan.h"

#include "buf.h"
#include "readfile.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum err_code extravars_load(const char *path, json_t **out, struct buf *diags,
                             struct err *e)
{
    *out = NULL;
    size_t len = strlen(path);
    if (len > 5 && strcmp(path + len - 5, ".json") == 0) {
        json_error_t je;
        json_t *v = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
        if (v == NULL) {
            if (access(path, R_OK) != 0)
                return err_sys(e, "cannot read variables file %s", path);
            if (diags != NULL)
                buf_printf(diags, "%s:%d:%d: %s\n", path, je.line, je.column,
                           je.text);
            return err_set(e, ERR_PARSE, "%s:%d:%d: %s", path, je.line,
                           je.column, je.text);
        }
        if (!json_is_object(v)) {
            json_decref(v);
            if (diags != NULL)
                buf_printf(diags,
                           "%s:1:1: a variables file must hold an object "
                           "of name: value\n",
                           path);
            return err_set(e, ERR_PARSE,
                           "%s:1:1: a variables file must hold an object of "
                           "name: value",
                           path);
        }
        *out = v;
        return ERR_OK;
    }
    char *text;
    size_t tlen;
    switch (readfile(path, EXTRAVARS_FILE_MAX, 0, &text, &tlen)) {
    case READFILE_OK:
        break;
    case READFILE_OPEN:
        return err_sys(e, "cannot open variables file %s", path);
    case READFILE_BIG:
        return err_set(e, ERR_LIMIT, "%s: variables file larger than %d bytes",
                       path, EXTRAVARS_FILE_MAX);
    default:
        return err_sys(e, "cannot read variables file %s", path);
    }
    enum err_code c = plan_vars_parse(path, text, tlen, out, diags, e);
    free(text);
    return c;
}
