/* coordinator/cmd.c: what every subcommand shares: its option table turned
 * into getopt_long's tables, its help, its usage errors, the reference of
 * docs/cli.md generated from the same tables, and the exit statuses. */
#include "cmd.h"

#include "buf.h"
#include "duration.h"
#include "log.h"
#include "rollout.h"
#include "sshopt.h"
#include "store.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

const struct cmd_exit cmd_exits[] = {
    {EXIT_OK, "everything succeeded (for abort/rollback: the rollback "
              "succeeded)"},
    {EXIT_FAILED, "a host or a step failed; the deploy stopped (and rolled "
                  "back if it could)"},
    {EXIT_USAGE, "usage error: flags, arguments, a DEPLOY the journal does "
                 "not have, a state directory drover may not use (not a "
                 "directory, another user's, writable by group or others), "
                 "`--outside-window` without `--reason`, an `-e` that "
                 "differs from the journaled one; nothing was done"},
    {EXIT_INPUT, "bad input: an inventory, plan, `-e @file`, ssh config or "
                 "key file (the message names file:line:col)"},
    {EXIT_UNREACHABLE, "`run`: some hosts were unreachable (and none failed "
                       "otherwise)"},
    {EXIT_ROLLBACK_FAILED, "a rollback failed: hosts need a human (the "
                           "summary names them)"},
    {EXIT_PAUSED, "the deploy is paused (canary, Ctrl-C, SIGTERM, `pause: "
                  "manual`, `rollback.auto: false`, a step to reconcile): "
                  "resumable"},
    {EXIT_REFUSED, "refused by a precheck, `require` or `windows`: nothing "
                   "was changed"},
    {EXIT_LOCKED, "another coordinator holds the lock (the message names "
                  "it)"},
    {EXIT_INTERNAL, "internal error: a bug, or the system failed (out of "
                    "memory, a failed fsync: the disk cannot be trusted)"},
    {0, NULL},
};

int cmd_verdict_status(enum deploy_verdict v)
{
    switch (v) {
    case DV_SUCCESS:
        return EXIT_OK;
    case DV_ROLLBACK_FAILED:
        return EXIT_ROLLBACK_FAILED;
    case DV_PAUSED:
        return EXIT_PAUSED;
    case DV_REFUSED:
        return EXIT_REFUSED;
    case DV_FAILED:
    case DV_ROLLED_BACK:
    default:
        return EXIT_FAILED;
    }
}

int cmd_runner_status(enum runner_outcome o, const struct deploy_result *res)
{
    switch (o) {
    case RUNNER_RAN:
        return cmd_verdict_status(res->verdict);
    case RUNNER_NO_TRANSPORT:
        return EXIT_USAGE;
    case RUNNER_BROKEN:
    default:
        return EXIT_INTERNAL;
    }
}

/* The options of c, one table after the other: its own, then the SSH
 * ones. Calls fn for each. */
typedef void cmd_opt_fn(const struct cmd_opt *o, void *arg);
static void cmd_each_opt(const struct cmd *c, cmd_opt_fn *fn, void *arg)
{
    for (const struct cmd_opt *o = c->opts; o != NULL && o->name != NULL; o++)
        fn(o, arg);
    if (c->ssh)
        for (const struct cmd_opt *o = sshopt_opts; o->name != NULL; o++)
            fn(o, arg);
}

struct cmd_getopt_ctx {
    struct option *longopts; /* filled so far */
    size_t n;                /* entries */
    char *shortopts;         /* its end */
};

static void cmd_getopt_one(const struct cmd_opt *o, void *arg)
{
    struct cmd_getopt_ctx *x = arg;
    if (x->n == CMD_OPTS_MAX)
        abort(); /* a programmer error: raise CMD_OPTS_MAX */
    x->longopts[x->n++] =
        (struct option){o->name,
                        o->arg == NULL                ? no_argument
                        : o->flags & CMD_OPT_OPTIONAL ? optional_argument
                                                      : required_argument,
                        NULL, o->key};
    if (o->flags & CMD_OPT_SHORT) {
        *x->shortopts++ = (char)o->key;
        if (o->arg != NULL)
            *x->shortopts++ = ':';
        if (o->arg != NULL && (o->flags & CMD_OPT_OPTIONAL))
            *x->shortopts++ = ':';
    }
}

void cmd_getopt(const struct cmd *c, const char *prefix,
                struct option *longopts, char *shortopts)
{
    size_t np = strlen(prefix);
    memcpy(shortopts, prefix, np);
    struct cmd_getopt_ctx x = {longopts, 0, shortopts + np};
    cmd_each_opt(c, cmd_getopt_one, &x);
    *x.shortopts = '\0';
    memset(&longopts[x.n], 0, sizeof(longopts[x.n]));
}

/* "-i, --inventory SRC" or "    --json" into b. */
static void cmd_opt_words(const struct cmd_opt *o, struct buf *b)
{
    if (o->flags & CMD_OPT_SHORT)
        buf_printf(b, "-%c, ", o->key);
    buf_printf(b, "--%s", o->name);
    if (o->arg != NULL && (o->flags & CMD_OPT_OPTIONAL))
        buf_printf(b, "[=%s]", o->arg);
    else if (o->arg != NULL)
        buf_printf(b, " %s", o->arg);
}

/* One option of --help: its words in a column, the help wrapped at 79. */
static void cmd_help_one(const struct cmd_opt *o, void *arg)
{
    FILE *f = arg;
    if (o->flags & CMD_OPT_HIDDEN)
        return;
    struct buf w;
    buf_init(&w, BUF_UNLIMITED);
    buf_adds(&w, (o->flags & CMD_OPT_SHORT) ? "  " : "      ");
    cmd_opt_words(o, &w);
    enum { COL = 30, WIDTH = 79 };
    if (w.len + 2 > COL) {
        fprintf(f, "%s\n", buf_cstr(&w));
        buf_reset(&w);
    }
    const char *h = o->help;
    while (*h != '\0') {
        while (w.len < COL)
            buf_addc(&w, ' ');
        size_t room = WIDTH - COL, n = strlen(h);
        if (n > room) {
            n = room;
            while (n > 0 && h[n] != ' ')
                n--;
            if (n == 0)
                n = room;
        }
        buf_add(&w, h, n);
        fprintf(f, "%s\n", buf_cstr(&w));
        buf_reset(&w);
        h += n;
        while (*h == ' ')
            h++;
    }
    if (w.len > 0)
        fprintf(f, "%s\n", buf_cstr(&w));
    buf_release(&w);
}

void cmd_help(const struct cmd *c, FILE *f)
{
    fprintf(f, "usage: drover %s\n\n%s.\n\noptions:\n", c->usage, c->summary);
    cmd_each_opt(c, cmd_help_one, f);
}

int cmd_usage_error(const struct cmd *c, const char *fmt, ...)
{
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    log_out(stderr,
            "drover %s: %s\nusage: drover %s\n(drover %s --help lists the "
            "options)",
            c->name, why, c->usage, c->name);
    return EXIT_USAGE;
}

void cmd_shared_init(struct cmd_shared *s, int argc)
{
    memset(s, 0, sizeof(*s));
    s->invs = xcalloc((size_t)(argc > 0 ? argc : 0) + 1, sizeof(*s->invs));
    s->extra = json_object();
    s->forks = SSHOPT_FORKS_DEFAULT;
    ssh_options_init(&s->ssh);
    agent_options_init(&s->agent);
    s->agent.accept_new = s->ssh.accept_new;
    s->agent.connect_timeout_ms = s->ssh.connect_timeout_ms;
}

void cmd_shared_release(struct cmd_shared *s)
{
    free(s->invs);
    storesel_release(&s->sel);
    json_decref(s->extra);
    memset(s, 0, sizeof(*s));
}

int cmd_shared_opt(const struct cmd *c, struct cmd_shared *s, int opt,
                   const char *arg)
{
    struct err e = {0};
    switch (opt) {
    case 'i':
        s->invs[s->ninv++] = arg;
        return CMD_SHARED_TAKEN;
    case 'e':
        if (rollout_extra_var(s->extra, arg, &e) == ERR_OK)
            return CMD_SHARED_TAKEN;
        if (e.code == ERR_USAGE)
            return cmd_usage_error(c, "%s", e.msg);
        log_out(stderr, "drover %s: %s", c->name, e.msg);
        return EXIT_INPUT; /* a bad -e @file */
    case 'f':
        if (sshopt_forks(arg, &s->forks, &e) == ERR_OK)
            return CMD_SHARED_TAKEN;
        return cmd_usage_error(c, "%s", e.msg);
    case 'W': {
        int64_t ms = 0;
        if (duration_parse(arg, &ms, &e) != ERR_OK)
            return cmd_usage_error(c, "--lock-wait: %s", e.msg);
        s->lock_wait_ms = ms;
        return CMD_SHARED_TAKEN;
    }
    case 'S':
        s->state_dir = arg;
        return CMD_SHARED_TAKEN;
    case CMD_OPT_STORE_KEY:
        s->store = arg;
        return CMD_SHARED_TAKEN;
    case 'K':
        s->agent.key_file = arg;
        return CMD_SHARED_TAKEN;
    case 'A':
        s->agent.known_agents = arg;
        return CMD_SHARED_TAKEN;
    default:
        if (!sshopt_is(opt))
            return CMD_SHARED_NOT_MINE;
        if (sshopt_apply(&s->ssh, opt, arg, &e) != ERR_OK)
            return cmd_usage_error(c, "%s", e.msg);
        /* agents are reached with the same trust and patience */
        s->agent.accept_new = s->ssh.accept_new;
        s->agent.connect_timeout_ms = s->ssh.connect_timeout_ms;
        return CMD_SHARED_TAKEN;
    }
}

int cmd_shared_opt_quit(const struct cmd *c, struct cmd_shared *s, int opt,
                        const char *arg)
{
    int rc = cmd_shared_opt(c, s, opt, arg);
    if (rc == CMD_SHARED_TAKEN)
        return rc;
    cmd_shared_release(s);
    return rc == CMD_SHARED_NOT_MINE
               ? cmd_usage_error(c, "unknown option or missing argument")
               : rc;
}

int cmd_shared_store(const struct cmd *c, struct cmd_shared *s)
{
    struct storesel_in in;
    storesel_from_env(&in, s->store, s->state_dir);
    struct err e = {0};
    storesel_release(&s->sel);
    enum err_code rc = storesel_pick(&in, &s->sel, &e);
    free((char *)in.user_file);
    if (rc != ERR_OK) {
        log_out(stderr, "drover %s: %s", c->name, e.msg);
        return EXIT_USAGE;
    }
    s->state_dir = s->sel.dir;
    return EXIT_OK;
}

int cmd_shared_journal(const struct cmd *c, struct cmd_shared *s,
                       struct store **out, struct err *e)
{
    *out = NULL;
    int status = cmd_shared_store(c, s);
    if (status == EXIT_OK)
        store_open_state(s->state_dir, true, out, NULL, e);
    cmd_shared_release(s);
    return status;
}

void cmd_print_diags(const struct buf *diags, const struct err *e)
{
    if (diags->len > 0)
        log_write(stderr, diags->data, diags->len);
    else
        log_out(stderr, "%s", e->msg);
}

/* A table cell: '|' escaped. */
static void cmd_md_cell(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputc('\\', f);
        fputc(*s, f);
    }
}

static void cmd_md_opt(const struct cmd_opt *o, void *arg)
{
    FILE *f = arg;
    if (o->flags & CMD_OPT_HIDDEN)
        return;
    struct buf w;
    buf_init(&w, BUF_UNLIMITED);
    cmd_opt_words(o, &w);
    fputs("| `", f);
    cmd_md_cell(f, buf_cstr(&w));
    fputs("` | ", f);
    cmd_md_cell(f, o->help);
    fputs(" |\n", f);
    buf_release(&w);
}

void cmd_markdown(const struct cmd *const *cmds, size_t n, FILE *f)
{
    fputs("<!-- generated by `drover help --markdown` from the option "
          "tables of coordinator/cmd_*.c: edit those, then `make "
          "docs-cli` -->\n",
          f);
    for (size_t i = 0; i < n; i++) {
        const struct cmd *c = cmds[i];
        fprintf(f, "\n### drover %s\n\n```text\ndrover %s\n```\n\n%s.\n\n",
                c->name, c->usage, c->summary);
        struct cmd plain = *c;
        plain.ssh = false;
        fputs("| option | meaning |\n|---|---|\n", f);
        cmd_each_opt(&plain, cmd_md_opt, f);
        if (c->ssh)
            fputs("| SSH options | `--user`, `--key`, `--known-hosts`, "
                  "`--accept-new`, `--connect-timeout`, "
                  "`--handshakes-per-target`, `--ssh-config` "
                  "([below](#ssh-options)) |\n",
                  f);
    }
    fputs("\n### SSH options\n\nEvery command that reaches hosts takes "
          "them (`coordinator/sshopt.c`; docs/ssh.md).\n\n"
          "| option | meaning |\n|---|---|\n",
          f);
    for (const struct cmd_opt *o = sshopt_opts; o->name != NULL; o++)
        cmd_md_opt(o, f);
    fputs("\n## Exit statuses\n\nOne table for every command "
          "(`coordinator/cmd.h`, `cmd_exits` in `coordinator/cmd.c`).\n\n"
          "| status | meaning |\n|---|---|\n",
          f);
    for (const struct cmd_exit *x = cmd_exits; x->meaning != NULL; x++) {
        fprintf(f, "| %d | ", x->status);
        cmd_md_cell(f, x->meaning);
        fputs(" |\n", f);
    }
}
