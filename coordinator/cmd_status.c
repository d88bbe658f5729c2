/* coordinator/cmd_status.c: `drover status` answers "is anyone deploying,
 * and who?": each lock with its holder, and each deploy without a result
 * (running, paused, rolling back, or left behind by a coordinator that
 * died, which `drover resume` continues). --json for programs. */
#include "cmd.h"
#include "jsonout.h"
#include "lock.h"
#include "log.h"
#include "record.h"
#include "statedir.h"
#include "store.h"

#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One lock as probed. */
struct cmd_status_lock {
    const char *name;          /* lock name (borrowed from the list) */
    bool held;                 /* someone holds it */
    struct lock_holder holder; /* who, when held */
    uint64_t last_epoch;       /* last epoch taken under the name */
    char error[256];           /* why it could not be probed, "" if fine */
};

/* The options of `drover status`, one row each (cmd.h). */
static const struct cmd_opt cmd_status_opts[] = {
    CMD_OPT_STORE,
    CMD_OPT_STATE_DIR,
    {"json", 'j', 0, NULL, "one JSON document instead of text"},
    CMD_OPT_HELP,
    CMD_OPT_END,
};

/* Is deploy id the one holding a lock right now? */
static bool cmd_status_live(const struct cmd_status_lock *v, size_t n,
                            const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].held && strcmp(v[i].holder.deploy, id) == 0)
            return true;
    return false;
}

static const char *cmd_status_hint(const struct store_summary *r, bool live)
{
    if (live)
        return "";
    if (strcmp(r->state, "paused") == 0)
        return "; continue it with `drover resume`";
    return "; its coordinator is gone: `drover resume` continues it";
}

static void cmd_status_text(const char *dir, const struct cmd_status_lock *v,
                            size_t nlocks, const struct store_summary *rows,
                            size_t nrows, const char *journal_note)
{
    log_out(stdout, "state directory %s", dir);
    if (nlocks == 0)
        log_out(stdout, "locks: none taken yet");
    for (size_t i = 0; i < nlocks; i++) {
        char who[512];
        if (v[i].error[0])
            log_out(stdout, "lock %s: %s", v[i].name, v[i].error);
        else if (v[i].held)
            log_out(stdout, "lock %s: held by %s", v[i].name,
                    v[i].holder.pid > 0
                        ? lock_holder_str(&v[i].holder, who, sizeof(who))
                        : "a coordinator starting up");
        else
            log_out(stdout, "lock %s: free (last epoch %" PRIu64 ")", v[i].name,
                    v[i].last_epoch);
    }
    if (journal_note != NULL)
        log_out(stdout, "deploys: none (%s)", journal_note);
    else if (nrows == 0)
        log_out(stdout, "deploys: none in flight or paused");
    for (size_t i = 0; i < nrows; i++) {
        const struct store_summary *r = &rows[i];
        char at[32], upd[32];
        log_out(stdout,
                "deploy %s: plan %s, version %s, by %s, %s since %s (last "
                "write %s)%s",
                r->id, r->plan, r->version[0] ? r->version : "-",
                r->user[0] ? r->user : "-", r->state,
                record_time(r->started_ms, at, sizeof(at)),
                record_time(r->updated_ms, upd, sizeof(upd)),
                cmd_status_hint(r, cmd_status_live(v, nlocks, r->id)));
    }
}

static void cmd_status_json(const char *dir, const struct cmd_status_lock *v,
                            size_t nlocks, const struct store_summary *rows,
                            size_t nrows)
{
    json_t *o = json_object();
    json_object_set_new(o, "state_dir", json_string(dir));
    json_t *locks = json_array();
    for (size_t i = 0; i < nlocks; i++) {
        json_t *l = json_object();
        json_object_set_new(l, "name", json_string(v[i].name));
        json_object_set_new(l, "held", json_boolean(v[i].held));
        json_t *h = json_null();
        if (v[i].held && v[i].holder.pid > 0) {
            char since[32];
            h = json_pack(
                "{s:s, s:s, s:I, s:s, s:s, s:I}", "user", v[i].holder.user,
                "host", v[i].holder.host, "pid", (json_int_t)v[i].holder.pid,
                "deploy", v[i].holder.deploy, "since",
                record_time(v[i].holder.since_ms, since, sizeof(since)),
                "epoch", (json_int_t)v[i].holder.epoch);
        }
        json_object_set_new(l, "holder", h != NULL ? h : json_null());
        json_object_set_new(l, "last_epoch",
                            json_integer((json_int_t)v[i].last_epoch));
        if (v[i].error[0])
            json_object_set_new(l, "error", json_string(v[i].error));
        json_array_append_new(locks, l);
    }
    json_object_set_new(o, "locks", locks);
    json_t *deploys = json_array();
    for (size_t i = 0; i < nrows; i++) {
        const struct store_summary *r = &rows[i];
        char at[32], upd[32];
        json_array_append_new(
            deploys,
            json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "id", r->id,
                      "plan", r->plan, "version", r->version, "user", r->user,
                      "state", r->state, "started",
                      record_time(r->started_ms, at, sizeof(at)), "updated",
                      record_time(r->updated_ms, upd, sizeof(upd)), "live",
                      cmd_status_live(v, nlocks, r->id)));
    }
    json_object_set_new(o, "deploys", deploys);
    jsonout_print(stdout, o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(o);
}

static int cmd_status_run(int argc, char **argv)
{
    struct option opts[CMD_OPTS_MAX + 1];
    char shortopts[3 * CMD_OPTS_MAX + 2];
    cmd_getopt(&cmd_status, "", opts, shortopts);
    struct cmd_shared sh;
    cmd_shared_init(&sh, 0);
    bool json = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
        switch (c) {
        case 'j':
            json = true;
            break;
        case 'h':
            cmd_help(&cmd_status, stdout);
            cmd_shared_release(&sh);
            return EXIT_OK;
        default: {
            int rc = cmd_shared_opt_quit(&cmd_status, &sh, c, optarg);
            if (rc != CMD_SHARED_TAKEN)
                return rc;
            break;
        }
        }
    }
    if (optind != argc) {
        cmd_shared_release(&sh);
        return cmd_usage_error(&cmd_status, "unexpected argument '%s'",
                               argv[optind]);
    }
    int status = cmd_shared_store(&cmd_status, &sh);
    char *dir = NULL;
    struct err e = {0};
    enum err_code frc =
        status == EXIT_OK ? statedir_find(sh.state_dir, &dir, &e) : ERR_OK;
    cmd_shared_release(&sh);
    if (status != EXIT_OK)
        return status;
    if (frc != ERR_OK) {
        log_out(stderr, "drover status: %s", e.msg);
        return e.code == ERR_USAGE ? EXIT_USAGE : EXIT_INTERNAL;
    }
    char **names = NULL;
    if (lock_names(dir, &names, &e) != ERR_OK) {
        log_out(stderr, "drover status: %s", e.msg);
        free(dir);
        return EXIT_INTERNAL;
    }
    size_t nlocks = 0;
    while (names[nlocks] != NULL)
        nlocks++;
    struct cmd_status_lock *v = xcalloc(nlocks + 1, sizeof(*v));
    for (size_t i = 0; i < nlocks; i++) {
        v[i].name = names[i];
        err_clear(&e);
        if (lock_probe(dir, names[i], &v[i].held, &v[i].holder, &e) != ERR_OK) {
            snprintf(v[i].error, sizeof(v[i].error), "%s", e.msg);
            continue;
        }
        err_clear(&e);
        if (lock_epoch_read(dir, names[i], &v[i].last_epoch, &e) != ERR_OK)
            snprintf(v[i].error, sizeof(v[i].error), "%s", e.msg);
    }
    struct store *s = NULL;
    struct store_summary *rows = NULL;
    size_t nrows = 0;
    int rc = EXIT_OK;
    const char *note = NULL;
    err_clear(&e);
    if (store_open_state(dir, true, &s, NULL, &e) != ERR_OK) {
        note = e.msg;
        if (e.code != ERR_NOTFOUND)
            rc = EXIT_INTERNAL;
    } else {
        struct store_filter f = {.unfinished = true};
        if (store_list(s, &f, &rows, &nrows, &e) != ERR_OK) {
            note = e.msg;
            rc = EXIT_INTERNAL;
        }
        store_free(s);
    }
    if (json)
        cmd_status_json(dir, v, nlocks, rows, nrows);
    else
        cmd_status_text(dir, v, nlocks, rows, nrows, note);
    if (rc != EXIT_OK)
        log_out(stderr, "drover status: %s", note);
    free(rows);
    free(v);
    lock_names_free(names);
    free(dir);
    return rc;
}

const struct cmd cmd_status = {
    .name = "status",
    .usage = "status [options]",
    .summary = "show deploys in flight or paused and who holds each lock",
    .run = cmd_status_run,
    .opts = cmd_status_opts,
};
