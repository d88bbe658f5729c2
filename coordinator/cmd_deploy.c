/* coordinator/cmd_deploy.c: `drover deploy`: roll a release across the
 * fleet in waves, gated on health. Thin: parse flags, load the inventory
 * and the plan, resolve, print the wave plan, run the engine, map the
 * verdict to an exit status. */
#include "cmd.h"

#include "agentconn.h"
#include "buf.h"
#include "clock.h"
#include "duration.h"
#include "deploy.h"
#include "inventory.h"
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

static const char cmd_deploy_usage[] =
    "deploy -i INVENTORY [-i ...] [-e NAME=VALUE ...] [--forks N] [-v]\n"
    "       [SSH options] PLAN\n"
    "  -i, --inventory SRC   Ansible inventory (INI/YAML file or directory)\n"
    "  -e, --extra-var N=V   set a variable (e.g. -e version=2)\n"
    "  -f, --forks N         hosts running steps at once (default 32)\n"
    "  -v, --verbose         stream every host's output, prefixed\n"
    "  -q, --quiet           only decisions, failures and the summary\n"
    "      --json            one JSON event per line (for CI systems)\n"
    "      --canary          run only the canary (first) wave, then pause\n"
    "      --coordinator-key FILE   CURVE secret key for agent hosts\n"
    "      --known-agents FILE      pinned agent keys (like known_hosts)\n"
    "      --state-dir DIR   journal and locks (default "
    "~/.local/state/drover,\n"
    "                        /var/lib/drover for root)\n"
    "      --lock-wait DUR   wait for the lock instead of failing at once\n"
    "      --ticket ID, --approver NAME   change authorization (require:)\n"
    "      --outside-window --reason TEXT  deploy outside the windows\n"
    "      --changes TEXT    changes deployed, for the record\n"
    "      --take-over-fence EPOCH  hosts were fenced at EPOCH by a\n"
    "                        coordinator that is gone for good (another\n"
    "                        state directory): take an epoch above it\n";

/* Print the resolved wave plan before anything runs. */
static void cmd_deploy_print_plan(const struct rollout *ro)
{
    const struct plan *p = ro->plan;
    json_t *version = json_object_get(ro->extra, "version");
    printf("deploy '%s'%s%s to %zu host%s in %zu wave%s (plan %s)\n", p->name,
           version ? " version " : "",
           version && json_is_string(version) ? json_string_value(version) : "",
           ro->nhosts, ro->nhosts == 1 ? "" : "s", ro->nwaves,
           ro->nwaves == 1 ? "" : "s", p->file);
    for (size_t w = 0; w < ro->nwaves; w++) {
        size_t start = rollout_wave_start(ro, w);
        printf("  wave %zu (%zu host%s):", w + 1, ro->wave_sizes[w],
               ro->wave_sizes[w] == 1 ? "" : "s");
        size_t shown = ro->wave_sizes[w] > 20 ? 20 : ro->wave_sizes[w];
        for (size_t i = start; i < start + shown; i++)
            printf(" %s", ro->hosts[i].name);
        if (shown < ro->wave_sizes[w])
            printf(" ... (+%zu)", ro->wave_sizes[w] - shown);
        printf("\n");
    }
    printf("  steps:");
    for (size_t i = 0; i < p->nsteps; i++)
        printf("%s %s", i ? "," : "", p->steps[i].name);
    printf("\n");
    if (p->nchecks > 0) {
        char iv[32], dl[32];
        printf("  health: %zu check%s every %s, deadline %s per host\n",
               p->nchecks, p->nchecks == 1 ? "" : "s",
               clock_fmt_duration(p->interval_ms, iv, sizeof(iv)),
               clock_fmt_duration(p->healthy_deadline_ms, dl, sizeof(dl)));
    }
    /* the same words as `drover plan`: the plan's real thresholds */
    json_t *words =
        wave_words(p, ro->wave_sizes, ro->nwaves, ro->nhosts, ro->has_canary);
    printf("  thresholds: the deploy\n");
    size_t i;
    json_t *w;
    json_array_foreach(words, i, w)
    {
        printf("    %s\n", json_string_value(w));
    }
    json_decref(words);
    printf("\n");
    fflush(stdout);
}

static int cmd_deploy_run(int argc, char **argv)
{
    struct ssh_options so;
    ssh_options_init(&so);
    struct agent_options ao;
    agent_options_init(&ao);
    struct session_options sopt;
    memset(&sopt, 0, sizeof(sopt));
    struct session *sess = NULL;
    struct sshconfig *sshcfg = NULL;
    char *previous = NULL;
    const char *invs[64];
    size_t ninv = 0;
    int forks = SSHOPT_FORKS_DEFAULT;
    bool verbose = false, quiet = false, json = false, canary = false;
    json_t *extra = json_object();
    int status = EXIT_USAGE;
    struct err e = {0};

    struct option longopts[24 + SSHOPT_COUNT];
    size_t nl = 0;
    longopts[nl++] = (struct option){"inventory", required_argument, 0, 'i'};
    longopts[nl++] = (struct option){"extra-var", required_argument, 0, 'e'};
    longopts[nl++] = (struct option){"forks", required_argument, 0, 'f'};
    longopts[nl++] = (struct option){"verbose", no_argument, 0, 'v'};
    longopts[nl++] = (struct option){"quiet", no_argument, 0, 'q'};
    longopts[nl++] = (struct option){"help", no_argument, 0, 'h'};
    longopts[nl++] = (struct option){"json", no_argument, 0, 'J'};
    longopts[nl++] = (struct option){"canary", no_argument, 0, 'C'};
    longopts[nl++] =
        (struct option){"coordinator-key", required_argument, 0, 'K'};
    longopts[nl++] = (struct option){"known-agents", required_argument, 0, 'A'};
    longopts[nl++] = (struct option){"state-dir", required_argument, 0, 'S'};
    longopts[nl++] = (struct option){"lock-wait", required_argument, 0, 'W'};
    longopts[nl++] = (struct option){"ticket", required_argument, 0, 'T'};
    longopts[nl++] = (struct option){"approver", required_argument, 0, 'P'};
    longopts[nl++] = (struct option){"reason", required_argument, 0, 'R'};
    longopts[nl++] = (struct option){"outside-window", no_argument, 0, 'O'};
    longopts[nl++] = (struct option){"changes", required_argument, 0, 'G'};
    longopts[nl++] =
        (struct option){"take-over-fence", required_argument, 0, 'F'};
    sshopt_append(longopts, nl);

    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "i:e:f:vqhJCK:A:S:W:T:P:R:OG:",
                            longopts, NULL)) != -1) {
        switch (c) {
        case 'i':
            if (ninv == sizeof(invs) / sizeof(invs[0])) {
                fprintf(stderr, "drover deploy: too many -i\n");
                goto out;
            }
            invs[ninv++] = optarg;
            break;
        case 'e':
            if (rollout_extra_var(extra, optarg, &e) != ERR_OK) {
                fprintf(stderr, "drover deploy: %s\n", e.msg);
                goto out;
            }
            break;
        case 'f':
            if (sshopt_forks(optarg, &forks, &e) != ERR_OK) {
                fprintf(stderr, "drover deploy: %s\n", e.msg);
                goto out;
            }
            break;
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
        case 'K':
            ao.key_file = optarg;
            break;
        case 'A':
            ao.known_agents = optarg;
            break;
        case 'S':
            sopt.state_dir = optarg;
            break;
        case 'W':
            if (duration_parse(optarg, &sopt.lock_wait_ms, &e) != ERR_OK) {
                fprintf(stderr, "drover deploy: --lock-wait: %s\n", e.msg);
                goto out;
            }
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
                fprintf(stderr,
                        "drover deploy: --take-over-fence %s: expected the "
                        "epoch the hosts reported (a number >= 1)\n",
                        optarg);
                goto out;
            }
            sopt.take_over_fence = v;
            break;
        }
        case 'h':
            printf("usage: drover %s%s", cmd_deploy_usage, sshopt_usage);
            status = EXIT_OK;
            goto out;
        default:
            if (sshopt_is(c)) {
                if (sshopt_apply(&so, c, optarg, &e) == ERR_OK)
                    break;
                fprintf(stderr, "drover deploy: %s\n", e.msg);
            }
            fprintf(stderr, "usage: drover %s", cmd_deploy_usage);
            goto out;
        }
    }
    if (optind != argc - 1 || ninv == 0) {
        fprintf(stderr, "drover deploy: %s\nusage: drover %s",
                ninv == 0 ? "no inventory (-i)" : "expected one PLAN file",
                cmd_deploy_usage);
        goto out;
    }
    ao.accept_new = so.accept_new;
    ao.connect_timeout_ms = so.connect_timeout_ms;
    if (quiet)
        log_set_level(LOG_WARN);
    const char *plan_file = argv[optind];

    status = EXIT_INPUT;
    struct inventory *inv = inv_new();
    struct plan *plan = NULL;
    struct rollout *ro = NULL;
    struct loop *loop = NULL;
    struct buf diags;
    buf_init(&diags, 64 * 1024);

    for (size_t i = 0; i < ninv; i++)
        if (inv_load(inv, invs[i], &e) != ERR_OK) {
            fprintf(stderr, "drover: %s\n", e.msg);
            goto done;
        }
    if (plan_load(plan_file, &plan, &diags, &e) != ERR_OK) {
        fputs(diags.len ? buf_cstr(&diags) : e.msg, stderr);
        if (diags.len == 0)
            fputc('\n', stderr);
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
    if (sshopt_config(&so, &sshcfg, &e) != ERR_OK) {
        fprintf(stderr, "drover: %s\n", e.msg);
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
        fputs(diags.len ? buf_cstr(&diags) : e.msg, stderr);
        if (diags.len == 0)
            fputc('\n', stderr);
        goto done;
    }
    rollout_secrets(ro, redact_global());
    if (!json && !quiet)
        cmd_deploy_print_plan(ro);

    /* the record: after every input check, before any host is touched */
    json_t *ver = json_object_get(extra, "version");
    sopt.version = json_is_string(ver) ? json_string_value(ver) : NULL;
    sopt.inventory = invs[0];
    sopt.vars = extra;
    enum session_refusal why;
    status = EXIT_INTERNAL;
    if ((loop = loop_new(&e)) == NULL)
        goto done;
    if (session_begin(plan, previous, &sopt, loop, &sess, &why, &e) != ERR_OK) {
        fprintf(stderr, "drover: %s\n", e.msg);
        status = why == SESSION_REFUSED  ? EXIT_REFUSED
                 : why == SESSION_LOCKED ? EXIT_LOCKED
                 : e.code == ERR_USAGE   ? EXIT_USAGE /* the state dir */
                                         : EXIT_INTERNAL;
        goto done;
    }
    if (!json)
        printf("deploy %s (epoch %llu)\n", session_deploy_id(sess),
               (unsigned long long)session_epoch(sess));
    if (*session_superseded(sess) != '\0') {
        char *text = xasprintf("supersedes %s: its coordinator is gone; it "
                               "ends as abandoned",
                               session_superseded(sess));
        json_t *ev = json_pack("{s:s,s:s,s:s}", "event", "decision", "deploy",
                               session_deploy_id(sess), "message", text);
        char *line = json ? json_dumps(ev, JSON_COMPACT) : NULL;
        printf("%s\n", line ? line : text);
        free(line);
        json_decref(ev);
        free(text);
    }
    if (!json)
        printf("\n");
    rollout_free(ro);
    ro = NULL;
    rin.deploy_id = session_deploy_id(sess);
    if (rollout_new_input(plan, inv, &rin, &ro, &diags, &e) != ERR_OK) {
        fputs(diags.len ? buf_cstr(&diags) : e.msg, stderr);
        goto done;
    }
    struct runner_options ro_opt = {
        .ssh = &so,
        .agent = &ao,
        .deploy = {.forks = forks,
                   .verbose = verbose,
                   .quiet = quiet && !verbose,
                   .output_cap = 64 * 1024,
                   .out = stdout,
                   .json = json,
                   .live = !json && !verbose && !quiet && isatty(STDOUT_FILENO),
                   .canary_only = canary}};
    struct deploy_result res;
    status = runner_run(ro, loop, sess, &ro_opt, &res);
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
out:
    json_decref(extra);
    return status;
}

const struct cmd cmd_deploy = {
    .name = "deploy",
    .usage = cmd_deploy_usage,
    .summary = "roll a release out in waves, gated on health",
    .run = cmd_deploy_run,
};
