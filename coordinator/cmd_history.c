/* coordinator/cmd_history.c: `drover history` lists the deploys in the
 * journal, newest first: id, plan, version, who, started, duration,
 * result, rolled back. */
#include "cmd.h"
#include "jsonout.h"
#include "log.h"
#include "record.h"
#include "store.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { CMD_HISTORY_DEFAULT_LIMIT = 20 };

/* The rows as a JSON array on stdout. */
static void cmd_history_json(const struct store_summary *rows, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        const struct store_summary *r = &rows[i];
        json_t *o = json_object();
        json_object_set_new(o, "id", json_string(r->id));
        json_object_set_new(o, "plan", json_string(r->plan));
        json_object_set_new(o, "version", json_string(r->version));
        json_object_set_new(o, "user", json_string(r->user));
        char at[32];
        json_object_set_new(
            o, "started",
            json_string(record_time(r->started_ms, at, sizeof(at))));
        json_object_set_new(o, "duration_ms",
                            r->ended_ms > 0
                                ? json_integer(r->ended_ms - r->started_ms)
                                : json_null());
        json_object_set_new(o, "state", json_string(r->state));
        json_object_set_new(o, "result",
                            r->result != STORE_RESULT_NONE
                                ? json_string(store_result_str(r->result))
                                : json_null());
        json_object_set_new(o, "rolled_back", json_boolean(r->rolled_back));
        json_array_append_new(a, o);
    }
    jsonout_print(stdout, a, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(a);
}

/* The options of `drover history`, one row each (cmd.h). */
static const struct cmd_opt cmd_history_opts[] = {
    CMD_OPT_STORE,
    CMD_OPT_STATE_DIR,
    {"plan", 'p', CMD_OPT_SHORT, "NAME", "only the deploys of this plan"},
    {"limit", 'n', CMD_OPT_SHORT, "N", "the newest N deploys (default 20)"},
    {"all", 'a', CMD_OPT_SHORT, NULL, "every deploy"},
    {"json", 'j', 0, NULL, "a JSON array instead of a table"},
    CMD_OPT_HELP,
    CMD_OPT_END,
};

static int cmd_history_run(int argc, char **argv)
{
    struct option opts[CMD_OPTS_MAX + 1];
    char shortopts[3 * CMD_OPTS_MAX + 2];
    cmd_getopt(&cmd_history, "", opts, shortopts);
    struct cmd_shared sh;
    cmd_shared_init(&sh, 0);
    struct store_filter f = {.limit = CMD_HISTORY_DEFAULT_LIMIT};
    bool json = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            f.plan = optarg;
            break;
        case 'n': {
            char *end;
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (errno != 0 || *end != '\0' || end == optarg || v <= 0) {
                log_out(stderr,
                        "drover history: --limit %s: expected a positive "
                        "number",
                        optarg);
                cmd_shared_release(&sh);
                return EXIT_USAGE;
            }
            f.limit = (size_t)v;
            break;
        }
        case 'a':
            f.limit = 0;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            cmd_help(&cmd_history, stdout);
            cmd_shared_release(&sh);
            return EXIT_OK;
        default: {
            int rc = cmd_shared_opt_quit(&cmd_history, &sh, c, optarg);
            if (rc != CMD_SHARED_TAKEN)
                return rc;
            break;
        }
        }
    }
    if (optind != argc) {
        cmd_shared_release(&sh);
        return cmd_usage_error(&cmd_history, "unexpected argument '%s'",
                               argv[optind]);
    }
    struct store *s = NULL;
    struct err e = {0};
    int status = cmd_shared_journal(&cmd_history, &sh, &s, &e);
    if (status != EXIT_OK)
        return status;
    if (s == NULL) {
        if (e.code == ERR_NOTFOUND) {
            log_out(stdout, "%s", json ? "[]" : "no deploys yet");
            return EXIT_OK;
        }
        log_out(stderr, "drover history: %s", e.msg);
        return e.code == ERR_USAGE ? EXIT_USAGE : EXIT_INTERNAL;
    }
    struct store_summary *rows = NULL;
    size_t n = 0;
    if (store_list(s, &f, &rows, &n, &e) != ERR_OK) {
        log_out(stderr, "drover history: %s", e.msg);
        store_free(s);
        return EXIT_INTERNAL;
    }
    store_free(s);
    if (json) {
        cmd_history_json(rows, n);
        free(rows);
        return EXIT_OK;
    }
    if (n == 0) {
        log_out(stdout, "no deploys yet%s%s", f.plan ? " of plan " : "",
                f.plan ? f.plan : "");
        free(rows);
        return EXIT_OK;
    }
    log_out(stdout, "%-20s %-12s %-12s %-10s %-20s %-9s %-16s %s", "ID", "PLAN",
            "VERSION", "WHO", "STARTED", "DURATION", "RESULT", "ROLLED BACK");
    for (size_t i = 0; i < n; i++) {
        const struct store_summary *r = &rows[i];
        char at[32], dur[32];
        record_time(r->started_ms, at, sizeof(at));
        if (r->ended_ms > 0)
            record_duration(r->ended_ms - r->started_ms, dur, sizeof(dur));
        else
            snprintf(dur, sizeof(dur), "-");
        const char *result = r->result != STORE_RESULT_NONE
                                 ? store_result_str(r->result)
                                 : r->state;
        log_out(stdout, "%-20s %-12s %-12s %-10s %-20s %-9s %-16s %s", r->id,
                r->plan, r->version[0] ? r->version : "-",
                r->user[0] ? r->user : "-", at, dur, result,
                r->rolled_back ? "yes" : "no");
    }
    free(rows);
    return EXIT_OK;
}

const struct cmd cmd_history = {
    .name = "history",
    .usage = "history [options]",
    .summary = "list past and running deploys from the journal",
    .run = cmd_history_run,
    .opts = cmd_history_opts,
};
