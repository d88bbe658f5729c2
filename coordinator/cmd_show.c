/* coordinator/cmd_show.c: `drover show DEPLOY` prints a deploy's record
 * (runbook 002's deployment record) as text, Markdown or JSON. DEPLOY is
 * an id from `drover history`, or `last`. */
#include "buf.h"
#include "cmd.h"
#include "log.h"
#include "record.h"
#include "store.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The options of `drover show`, one row each (cmd.h). */
static const struct cmd_opt cmd_show_opts[] = {
    CMD_OPT_STORE,
    CMD_OPT_STATE_DIR,
    {"format", 'f', CMD_OPT_SHORT, "text|markdown|json",
     "how the record is printed (default text)"},
    CMD_OPT_HELP,
    CMD_OPT_END,
};

static int cmd_show_run(int argc, char **argv)
{
    struct option opts[CMD_OPTS_MAX + 1];
    char shortopts[3 * CMD_OPTS_MAX + 2];
    cmd_getopt(&cmd_show, "", opts, shortopts);
    struct cmd_shared sh;
    cmd_shared_init(&sh, 0);
    enum record_format fmt = RECORD_TEXT;
    struct err e = {0};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (record_format_parse(optarg, &fmt, &e) != ERR_OK) {
                cmd_shared_release(&sh);
                return cmd_usage_error(&cmd_show, "%s", e.msg);
            }
            break;
        case 'h':
            cmd_help(&cmd_show, stdout);
            cmd_shared_release(&sh);
            return EXIT_OK;
        default: {
            int rc = cmd_shared_opt_quit(&cmd_show, &sh, c, optarg);
            if (rc != CMD_SHARED_TAKEN)
                return rc;
            break;
        }
        }
    }
    if (optind + 1 != argc) {
        cmd_shared_release(&sh);
        return cmd_usage_error(&cmd_show, "expected one DEPLOY id, or last");
    }
    const char *id = argv[optind];
    struct store *s = NULL;
    int status = cmd_shared_journal(&cmd_show, &sh, &s, &e);
    if (status != EXIT_OK)
        return status;
    if (s == NULL) {
        log_out(stderr, "drover show: %s", e.msg);
        /* no journal: no such deploy; a state directory drover must not
         * use: both bad arguments (docs/cli.md) */
        return e.code == ERR_NOTFOUND || e.code == ERR_USAGE ? EXIT_USAGE
                                                             : EXIT_INTERNAL;
    }
    struct store_summary *last = NULL;
    if (strcmp(id, "last") == 0) {
        struct store_filter f = {.limit = 1};
        size_t n = 0;
        if (store_list(s, &f, &last, &n, &e) != ERR_OK || n == 0) {
            log_out(stderr, "drover show: %s",
                    e.code != ERR_OK ? e.msg : "no deploys in the journal");
            free(last);
            store_free(s);
            return e.code != ERR_OK ? EXIT_INTERNAL : EXIT_USAGE;
        }
        id = last->id;
    }
    struct store_record *r = NULL;
    enum err_code rc = store_get_record(s, id, &r, &e);
    free(last);
    store_free(s);
    if (rc != ERR_OK) {
        log_out(stderr, "drover show: %s", e.msg);
        return rc == ERR_NOTFOUND ? EXIT_USAGE : EXIT_INTERNAL;
    }
    struct buf out;
    buf_init(&out, BUF_UNLIMITED);
    record_render(r, fmt, &out);
    if (fmt == RECORD_JSON) /* redacted string by string (record_render) */
        fwrite(out.data, 1, out.len, stdout);
    else
        log_write(stdout, out.data, out.len);
    buf_release(&out);
    store_record_free(r);
    return EXIT_OK;
}

const struct cmd cmd_show = {
    .name = "show",
    .usage = "show [options] DEPLOY|last",
    .summary = "print a deploy's record (who, what, when, evidence)",
    .run = cmd_show_run,
    .opts = cmd_show_opts,
};
