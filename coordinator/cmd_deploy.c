/* coordinator/cmd_deploy.c: `drover deploy`: roll a release across the
 * fleet in waves, gated on health. Thin: parse flags, load the inventory
 * and the plan, resolve, print the wave plan, run the engine, map the
 * verdict to an exit status. */
#include "cmd.h"

#include "agentconn.h"
#include "buf.h"
#include "clock.h"
#include "deploy.h"
#include "inventory.h"
#include "jsonout.h"
#include "log.h"
#include "loop.h"
#include "plan.h"
#include "redact.h"
#include "rollout.h"
#include "runner.h"
#include "session.h"
#include "ssh.h"
#include "sshconfig.h"
#include "sshopt.h"
#include "wave.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The options of `drover deploy`, one row each (cmd.h). */
static const struct cmd_opt cmd_deploy_opts[] = {
    CMD_OPT_INVENTORY(", repeatable"),
    CMD_OPT_EXTRA_VAR(" (e.g. -e version=2), repeatable"),
    SSHOPT_FORKS_OPT,
    {"verbose", 'v', CMD_OPT_SHORT, NULL,
     "stream every host's output, prefixed"},
    {"quiet", 'q', CMD_OPT_SHORT, NULL,
     "only decisions, failures and the summary"},
    {"json", 'J', 0, NULL, "one JSON event per line (for CI systems)"},
    {"canary", 'C', 0, NULL, "run only the canary (first) wave, then pause"},
    CMD_OPT_AGENT_KEY,
    CMD_OPT_KNOWN_AGENTS,
    CMD_OPT_STORE,
    CMD_OPT_STATE_DIR,
    CMD_OPT_LOCK_WAIT,
    {"ticket", 'T', 0, "ID",
     "the change ticket, for the record (require.ticket)"},
    {"approver", 'P', 0, "NAME",
     "who approved, for the record (require.approver)"},
    {"outside-window", 'O', 0, NULL,
     "deploy outside the plan's windows (needs --reason)"},
    {"reason", 'R', 0, "TEXT", "why, for the record (with --outside-window)"},
    {"changes", 'G', 0, "TEXT", "the changes deployed, for the record"},
    {"take-over-fence", 'F', 0, "EPOCH",
     "hosts were fenced at EPOCH by a coordinator that is gone for good "
     "(another state directory): take an epoch above it (journaled)"},
    CMD_OPT_HELP,
    CMD_OPT_END,
};

/* Print the resolved wave plan before anything runs. */
static void cmd_deploy_print_plan(const struct rollout *ro)
{
    const struct plan *p = ro->plan;
    json_t *version = json_object_get(ro->extra, "version");
    log_out(stdout, "deploy '%s'%s%s to %zu host%s in %zu wave%s (plan %s)",
            p->name, version ? " version " : "",
            version && json_is_string(version) ? json_string_value(version)
                                               : "",
            ro->nhosts, ro->nhosts == 1 ? "" : "s", ro->nwaves,
            ro->nwaves == 1 ? "" : "s", p->file);
    struct buf line;
    buf_init(&line, BUF_UNLIMITED);
    for (size_t w = 0; w < ro->nwaves; w++) {
        size_t start = rollout_wave_start(ro, w);
        buf_reset(&line);
        buf_printf(&line, "  wave %zu (%zu host%s):", w + 1, ro->wave_sizes[w],
                   ro->wave_sizes[w] == 1 ? "" : "s");
        size_t shown = ro->wave_sizes[w] > 20 ? 20 : ro->wave_sizes[w];
        for (size_t i = start; i < start + shown; i++)
            buf_printf(&line, " %s", ro->hosts[i].name);
        if (shown < ro->wave_sizes[w])
            buf_printf(&line, " ... (+%zu)", ro->wave_sizes[w] - shown);
        log_out(stdout, "%s", buf_cstr(&line));
    }
    buf_reset(&line);
    buf_adds(&line, "  steps:");
    for (size_t i = 0; i < p->nsteps; i++)
        buf_printf(&line, "%s %s", i ? "," : "", p->steps[i].name);
    log_out(stdout, "%s", buf_cstr(&line));
    buf_release(&line);
    if (p->nchecks > 0) {
        char iv[32], dl[32];
        log_out(stdout, "  health: %zu check%s every %s, deadline %s per host",
                p->nchecks, p->nchecks == 1 ? "" : "s",
                clock_fmt_duration(p->interval_ms, iv, sizeof(iv)),
                clock_fmt_duration(p->healthy_deadline_ms, dl, sizeof(dl)));
    }
    /* the same words as `drover plan`: the plan's real thresholds */
    json_t *words =
        wave_words(p, ro->wave_sizes, ro->nwaves, ro->nhosts, ro->has_canary);
    log_out(stdout, "  thresholds: the deploy");
    size_t i;
    json_t *w;
    json_array_foreach(words, i, w)
    {
        log_out(stdout, "    %s", json_string_value(w));
    }
    json_decref(words);
    log_out(stdout, "%s", "");
    fflush(stdout);
}

static int cmd_deploy_run(int argc, char **argv)
{
    struct session_options sopt;
    memset(&sopt, 0, sizeof(sopt));
    struct session *sess = NULL;
    struct sshconfig *sshcfg = NULL;
    char *previous = NULL;
    struct cmd_shared sh;
    cmd_shared_init(&sh, argc);
    json_t *extra = sh.extra;
    bool verbose = false, quiet = false, json = false, canary = false;
    int status = EXIT_USAGE;
    struct err e = {0};

    struct option longopts[CMD_OPTS_MAX + 1];
    char shortopts[3 * CMD_OPTS_MAX + 2];
    cmd_getopt(&cmd_deploy, "", longopts, shortopts);

    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
        switch (c) {
        case 'v':
            verbose = true;
            break;
        case 'q':
            quiet = true;
            break;
        case 'J':
            json = true;
            break;
        case 'C':
            canary = true;
            break;
        case 'T':
            sopt.ticket = optarg;
            break;
        case 'P':
            sopt.approver = optarg;
            break;
        case 'R':
            sopt.reason = optarg;
            break;
        case 'O':
            sopt.outside_window = true;
            break;
        case 'G':
            sopt.changes = optarg;
            break;
        case 'F': {
            char *end = NULL;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (end == optarg || *end != '\0' || optarg[0] == '-' || v == 0) {
                log_out(stderr,
                        "drover deploy: --take-over-fence %s: expected the "
                        "epoch the hosts reported (a number >= 1)",
                        optarg);
                goto out;
            }
            sopt.take_over_fence = v;
            break;
        }
        case 'h':
            cmd_help(&cmd_deploy, stdout);
            status = EXIT_OK;
            goto out;
        default: {
            int rc = cmd_shared_opt(&cmd_deploy, &sh, c, optarg);
            if (rc == CMD_SHARED_TAKEN)
                break;
            if (rc == CMD_SHARED_NOT_MINE)
                rc = cmd_usage_error(&cmd_deploy, "unknown option or missing "
                                                  "argument");
            status = rc;
            goto out;
        }
        }
    }
    if ((status = cmd_shared_store(&cmd_deploy, &sh)) != EXIT_OK)
        goto out;
    status = EXIT_USAGE;
    sopt.lock_wait_ms = sh.lock_wait_ms;
    sopt.state_dir = sh.state_dir;
    if (optind != argc - 1 || sh.ninv == 0) {
        cmd_usage_error(&cmd_deploy, "%s",
                        sh.ninv == 0 ? "no inventory (-i)"
                                     : "expected one PLAN file");
        goto out;
    }
    if (sopt.outside_window && sopt.reason == NULL) {
        cmd_usage_error(&cmd_deploy, "--outside-window needs --reason TEXT "
                                     "(why, for the record)");
        goto out;
    }
    if (quiet)
        log_set_level(LOG_WARN);
    const char *plan_file = argv[optind];

    status = EXIT_INPUT;
    struct inventory *inv = inv_new();
    struct plan *plan = NULL;
    struct rollout *ro = NULL;
    struct loop *loop = NULL;
    struct buf diags, invtext;
    buf_init(&diags, 64 * 1024);
    buf_init(&invtext, BUF_UNLIMITED);

    for (size_t i = 0; i < sh.ninv; i++)
        if (inv_load(inv, sh.invs[i], &e) != ERR_OK) {
            log_out(stderr, "drover: %s", e.msg);
            goto done;
        }
    if (plan_load(plan_file, &plan, &diags, &e) != ERR_OK) {
        cmd_print_diags(&diags, &e);
        goto done;
    }
    /* previous_version: the last successful deploy of this plan, unless
     * -e names it (the record then says what -e said) */
    previous = session_previous_version(sopt.state_dir, plan->name);
    json_t *pv = json_object_get(extra, "previous_version");
    if (json_is_string(pv)) {
        free(previous);
        previous = xstrdup(json_string_value(pv));
    }
    /* the ssh config gives ssh hosts their address: read once, here, so
     * a bad one stops the deploy before the lock */
    if (sshopt_config(&sh.ssh, &sshcfg, &e) != ERR_OK) {
        log_out(stderr, "drover: %s", e.msg);
        goto done;
    }
    /* Resolve once before the lock, to refuse bad input touching nothing;
     * deploy_id is known only when the deploy starts, so this pass renders
     * it as a stand-in and the final pass below renders the real one. */
    struct rollout_input rin = {.extra = extra,
                                .previous_version = previous,
                                .deploy_id = "DEP-0",
                                .ssh_config = sshcfg};
    if (rollout_new_input(plan, inv, &rin, &ro, &diags, &e) != ERR_OK) {
        cmd_print_diags(&diags, &e);
        goto done;
    }
    rollout_secrets(ro, redact_global());
    if (!json && !quiet)
        cmd_deploy_print_plan(ro);

    /* the record: after every input check, before any host is touched */
    json_t *ver = json_object_get(extra, "version");
    sopt.version = json_is_string(ver) ? json_string_value(ver) : NULL;
    sopt.inventory = session_inventories(sh.invs, sh.ninv, &invtext);
    sopt.vars = extra;
    sopt.webhooks = ro->webhooks;
    enum session_refusal why;
    status = EXIT_INTERNAL;
    if ((loop = loop_new(&e)) == NULL)
        goto done;
    if (session_begin(plan, previous, &sopt, loop, &sess, &why, &e) != ERR_OK) {
        log_out(stderr, "drover: %s", e.msg);
        status = why == SESSION_REFUSED  ? EXIT_REFUSED
                 : why == SESSION_LOCKED ? EXIT_LOCKED
                 : e.code == ERR_USAGE   ? EXIT_USAGE /* the state dir */
                                         : EXIT_INTERNAL;
        goto done;
    }
    if (!json)
        log_out(stdout, "deploy %s (epoch %llu)", session_deploy_id(sess),
                (unsigned long long)session_epoch(sess));
    if (*session_superseded(sess) != '\0') {
        char *text = xasprintf("supersedes %s: its coordinator is gone; it "
                               "ends as abandoned",
                               session_superseded(sess));
        json_t *ev = json_pack("{s:s,s:s,s:s}", "event", "decision", "deploy",
                               session_deploy_id(sess), "message", text);
        if (json)
            jsonout_print(stdout, ev, JSON_COMPACT);
        else
            log_out(stdout, "%s", text);
        json_decref(ev);
        free(text);
    }
    if (!json)
        log_out(stdout, "%s", "");
    rollout_free(ro);
    ro = NULL;
    rin.deploy_id = session_deploy_id(sess);
    if (rollout_new_input(plan, inv, &rin, &ro, &diags, &e) != ERR_OK) {
        cmd_print_diags(&diags, &e);
        goto done;
    }
    struct runner_options ro_opt = {
        .ssh = &sh.ssh,
        .agent = &sh.agent,
        .deploy = {.forks = sh.forks,
                   .verbose = verbose,
                   .quiet = quiet && !verbose,
                   .output_cap = 64 * 1024,
                   .out = stdout,
                   .json = json,
                   .live = !json && !verbose && !quiet && isatty(STDOUT_FILENO),
                   .canary_only = canary}};
    struct deploy_result res;
    status = cmd_runner_status(runner_run(ro, loop, sess, &ro_opt, &res), &res);
    sess = NULL; /* runner_run ended it */

done:
    if (sess != NULL) {
        /* began but could not run: the record says so */
        struct deploy_result fail;
        memset(&fail, 0, sizeof(fail));
        fail.verdict = DV_FAILED;
        snprintf(fail.decision, sizeof(fail.decision), "not started: %s",
                 e.msg);
        session_end(sess, &fail);
    }
    free(previous);
    loop_free(loop);
    rollout_free(ro);
    sshconfig_free(sshcfg);
    plan_free(plan);
    inv_free(inv);
    buf_release(&diags);
    buf_release(&invtext);
out:
    cmd_shared_release(&sh);
    return status;
}

const struct cmd cmd_deploy = {
    .name = "deploy",
    .usage = "deploy -i INVENTORY [-e NAME=VALUE]... [options] PLAN",
    .summary = "roll a release out in waves, gated on health",
    .run = cmd_deploy_run,
    .opts = cmd_deploy_opts,
    .ssh = true,
};
