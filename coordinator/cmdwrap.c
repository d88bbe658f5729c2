/* coordinator/cmdwrap.c: environment prefix and secret prelude. */
#include "cmdwrap.h"

#include "base64.h"
#include "buf.h"
#include "shquote.h"
#include "template.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

bool cmdwrap_valid_name(const char *s)
{
    if (s == NULL || !(isalpha((unsigned char)*s) || *s == '_'))
        return false;
    for (const char *p = s; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '_'))
            return false;
    return true;
}

enum err_code cmdwrap_build(struct cmdwrap *w, const char *command,
                            const json_t *env, const char *const *names,
                            const char *const *values, size_t n, struct err *e)
{
    memset(w, 0, sizeof(*w));
    struct buf cmd, in;
    buf_init(&cmd, BUF_UNLIMITED);
    buf_init(&in, BUF_UNLIMITED);
    const char *key;
    json_t *val;
    if (env != NULL)
        json_object_foreach((json_t *)env, key, val)
        {
            if (!cmdwrap_valid_name(key)) {
                buf_release(&cmd);
                return err_set(e, ERR_INVALID,
                               "env: '%s' is not a variable name", key);
            }
            char *s = template_value_str(val);
            char *q = shquote(s);
            buf_printf(&cmd, "export %s=%s; ", key, q);
            free(s);
            free(q);
        }
    for (size_t i = 0; i < n; i++) {
        if (!cmdwrap_valid_name(names[i])) {
            buf_release(&cmd);
            buf_wipe(&in);
            return err_set(e, ERR_INVALID,
                           "secret_env: '%s' is not a variable name", names[i]);
        }
        /* read one base64 line per secret; decode into the variable */
        buf_printf(&cmd,
                   "IFS= read -r __drover_s || exit 97; "
                   "%s=$(printf '%%s' \"$__drover_s\" | base64 -d) || "
                   "exit 97; export %s; ",
                   names[i], names[i]);
        base64_add(&in, values[i], strlen(values[i]));
        buf_addc(&in, '\n');
    }
    if (n > 0)
        buf_adds(&cmd, "unset __drover_s; exec </dev/null; ");
    buf_adds(&cmd, command);
    w->command = buf_detach(&cmd);
    w->input_len = in.len;
    w->input = in.len ? buf_detach(&in) : NULL;
    buf_wipe(&in);
    return ERR_OK;
}

void cmdwrap_release(struct cmdwrap *w)
{
    free(w->command);
    if (w->input != NULL) {
        explicit_bzero(w->input, w->input_len);
        free(w->input);
    }
    memset(w, 0, sizeof(*w));
}
