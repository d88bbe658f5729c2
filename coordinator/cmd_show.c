/* coordinator/cmd_show.c: `drover show DEPLOY` prints a deploy's record
 * (runbook 002's deployment record) as text, Markdown or JSON. DEPLOY is
 * an id from `drover history`, or `last`. */
#include "buf.h"
#include "cmd.h"
#include "record.h"
#include "store.h"
#include "store_sqlite.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void cmd_show_usage(FILE *f)
{
    fprintf(f, "usage: drover %s\n", cmd_show.usage);
}

static int cmd_show_run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"state-dir", required_argument, NULL, 'S'},
        {"format", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *state_dir = NULL;
    enum record_format fmt = RECORD_TEXT;
    struct err e = {0};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
        switch (c) {
        case 'S':
            state_dir = optarg;
            break;
        case 'f':
            if (record_format_parse(optarg, &fmt, &e) != ERR_OK) {
                fprintf(stderr, "drover show: %s\n", e.msg);
                return EXIT_USAGE;
            }
            break;
        case 'h':
            cmd_show_usage(stdout);
            return EXIT_OK;
        default:
            cmd_show_usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind + 1 != argc) {
        cmd_show_usage(stderr);
        return EXIT_USAGE;
    }
    const char *id = argv[optind];
    struct store *s = NULL;
    if (store_sqlite_open_state(state_dir, true, &s, NULL, &e) != ERR_OK) {
        fprintf(stderr, "drover show: %s\n", e.msg);
        return e.code == ERR_NOTFOUND ? EXIT_FAILED
               : e.code == ERR_USAGE  ? EXIT_USAGE
                                      : EXIT_INTERNAL;
    }
    struct store_summary *last = NULL;
    if (strcmp(id, "last") == 0) {
        struct store_filter f = {.limit = 1};
        size_t n = 0;
        if (store_list(s, &f, &last, &n, &e) != ERR_OK || n == 0) {
            fprintf(stderr, "drover show: %s\n",
                    e.code != ERR_OK ? e.msg : "no deploys in the journal");
            free(last);
            store_free(s);
            return EXIT_FAILED;
        }
        id = last->id;
    }
    struct store_record *r = NULL;
    enum err_code rc = store_get_record(s, id, &r, &e);
    free(last);
    store_free(s);
    if (rc != ERR_OK) {
        fprintf(stderr, "drover show: %s\n", e.msg);
        return rc == ERR_NOTFOUND ? EXIT_FAILED : EXIT_INTERNAL;
    }
    struct buf out;
    buf_init(&out, BUF_UNLIMITED);
    record_render(r, fmt, &out);
    fwrite(out.data, 1, out.len, stdout);
    buf_release(&out);
    store_record_free(r);
    return EXIT_OK;
}

const struct cmd cmd_show = {
    .name = "show",
    .usage = "show [--state-dir DIR] [--format text|markdown|json] "
             "DEPLOY|last",
    .summary = "print a deploy's record (who, what, when, evidence)",
    .run = cmd_show_run,
};
