/* coordinator/cmd_status.c: `drover status` answers "is anyone deploying,
 * and who?": each lock with its holder, and each deploy without a result
 * (running, paused, rolling back, or left behind by a coordinator that
 * died, which `drover resume` continues). */
#include "cmd.h"
#include "lock.h"
#include "record.h"
#include "statedir.h"
#include "store.h"
#include "store_sqlite.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void cmd_status_usage(FILE *f)
{
    fprintf(f, "usage: drover %s\n", cmd_status.usage);
}

/* Is deploy id the one holding a lock right now? */
static bool cmd_status_live(const char *dir, char **names, const char *id)
{
    for (char **n = names; *n != NULL; n++) {
        bool held = false;
        struct lock_holder h;
        struct err e = {0};
        if (lock_probe(dir, *n, &held, &h, &e) == ERR_OK && held &&
            strcmp(h.deploy, id) == 0)
            return true;
    }
    return false;
}

static int cmd_status_run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"state-dir", required_argument, NULL, 'S'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *state_dir = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'S':
            state_dir = optarg;
            break;
        case 'h':
            cmd_status_usage(stdout);
            return EXIT_OK;
        default:
            cmd_status_usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind != argc) {
        cmd_status_usage(stderr);
        return EXIT_USAGE;
    }
    char *dir = state_dir ? xstrdup(state_dir) : statedir_default();
    struct err e = {0};
    char **names = NULL;
    if (lock_names(dir, &names, &e) != ERR_OK) {
        fprintf(stderr, "drover status: %s\n", e.msg);
        free(dir);
        return EXIT_INTERNAL;
    }
    printf("state directory %s\n", dir);
    if (names[0] == NULL)
        printf("locks: none taken yet\n");
    for (char **n = names; *n != NULL; n++) {
        bool held = false;
        struct lock_holder h;
        uint64_t epoch = 0;
        err_clear(&e);
        if (lock_probe(dir, *n, &held, &h, &e) != ERR_OK) {
            printf("lock %s: %s\n", *n, e.msg);
            continue;
        }
        if (held) {
            char who[512];
            printf("lock %s: held by %s\n", *n,
                   h.pid > 0 ? lock_holder_str(&h, who, sizeof(who))
                             : "a coordinator starting up");
        } else {
            err_clear(&e);
            lock_epoch_read(dir, *n, &epoch, &e);
            printf("lock %s: free (last epoch %" PRIu64 ")\n", *n, epoch);
        }
    }
    struct store *s = NULL;
    err_clear(&e);
    if (store_sqlite_open_state(dir, true, &s, NULL, &e) != ERR_OK) {
        printf("deploys: none (%s)\n", e.msg);
        lock_names_free(names);
        free(dir);
        return e.code == ERR_NOTFOUND ? EXIT_OK : EXIT_INTERNAL;
    }
    struct store_filter f = {.unfinished = true};
    struct store_summary *rows = NULL;
    size_t nrows = 0;
    int rc = EXIT_OK;
    if (store_list(s, &f, &rows, &nrows, &e) != ERR_OK) {
        fprintf(stderr, "drover status: %s\n", e.msg);
        rc = EXIT_INTERNAL;
    } else if (nrows == 0) {
        printf("deploys: none in flight or paused\n");
    }
    for (size_t i = 0; i < nrows; i++) {
        const struct store_summary *r = &rows[i];
        char at[32], upd[32];
        bool live = cmd_status_live(dir, names, r->id);
        printf("deploy %s: plan %s, version %s, by %s, %s since %s (last "
               "write %s)%s\n",
               r->id, r->plan, r->version[0] ? r->version : "-",
               r->user[0] ? r->user : "-", r->state,
               record_time(r->started_ms, at, sizeof(at)),
               record_time(r->updated_ms, upd, sizeof(upd)),
               live ? ""
               : strcmp(r->state, "paused") == 0
                   ? "; continue it with `drover resume`"
                   : "; its coordinator is gone: `drover resume` continues "
                     "it");
    }
    free(rows);
    store_free(s);
    lock_names_free(names);
    free(dir);
    return rc;
}

const struct cmd cmd_status = {
    .name = "status",
    .usage = "status [--state-dir DIR]",
    .summary = "show deploys in flight or paused and who holds each lock",
    .run = cmd_status_run,
};
