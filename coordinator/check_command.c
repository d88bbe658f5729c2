/* coordinator/check_command.c: the command check kind (check_command.h):
 * read, rendered, shown, and run on the host by the gate (gate.c runs the
 * commands of one host one at a time, on its connection). */
#include "check_command.h"

#include "buf.h"
#include "err.h"
#include "plan.h"
#include "rollout.h"
#include "transport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

static void *check_command_parse(struct plan_reader *r, const yaml_node_t *n,
                                 const char *what, bool own)
{
    (void)what;
    const yaml_node_t *v = plan_key_get(r, n, "command");
    char *cmd = v != NULL ? plan_key_template(r, v, "check 'command'") : NULL;
    if (own)
        return cmd;
    free(cmd);
    return NULL;
}

static bool check_command_render(struct rollout_scope *s,
                                 const struct plan_check *c,
                                 struct rollout_check *rc, struct err *te,
                                 const char **why)
{
    char *out = NULL;
    bool ok = c->data == NULL ||
              rollout_scope_render(s, c->data, &out, te, why) == ERR_OK;
    rc->host = out;
    return ok;
}

static void check_command_text(struct buf *b, const struct rollout_check *rc)
{
    buf_printf(b, "command %s (passes on exit 0)\n",
               rc->host ? (const char *)rc->host : "");
}

static void check_command_json(const struct rollout_check *rc, json_t *o)
{
    if (rc->host != NULL)
        json_object_set_new(o, "command", json_string(rc->host));
}

static void check_command_label(const struct rollout_check *rc, char *out,
                                size_t outlen)
{
    const char *cmd = rc->host ? rc->host : "";
    size_t n = strlen(cmd);
    snprintf(out, outlen, "command '%.*s%s'", n > 48 ? 45 : (int)n, cmd,
             n > 48 ? "..." : "");
}

static void check_command_exec(const struct rollout_check *rc,
                               struct exec_spec *s)
{
    int64_t t = rc->check->timeout_ms;
    s->command = rc->host;
    s->timeout_ms = t > 0 ? t : HEALTH_DEFAULT_TIMEOUT_MS;
}

const struct check_kind check_command = {
    .key = "command",
    .keys = NULL,
    .example = "command: CMD",
    .parse = check_command_parse,
    .free = free,
    .render = check_command_render,
    .free_host = free,
    .text = check_command_text,
    .json = check_command_json,
    .label = check_command_label,
    .exec = check_command_exec,
};
