/* coordinator/cmd_resume.c: `drover resume`: continue a deploy whose
 * coordinator died or that paused, from its journal. The commands that
 * continue a journaled deploy (resume, promote, abort, rollback) share its
 * options, their parser and the mapping of resume_run's outcome to an exit
 * status; the work itself is coordinator/resume.c's. */
#include "cmd.h"

#include "agentconn.h"
#include "log.h"
#include "resume.h"
#include "session.h"
#include "ssh.h"
#include "sshopt.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct cmd_opt cmd_resume_opts[] = {
    CMD_OPT_EXTRA_VAR("; the journal has the deploy's: give its secret ones "
                      "again (version: from the journal)"),
    {"override-var", 'O', 0, "NAME",
     "let -e NAME change a journaled variable, or add one: the hosts not "
     "done yet get the new value (repeatable)"},
    CMD_OPT_INVENTORY(
        ", repeatable, to read instead of the ones the journal names"),
    CMD_OPT_STORE,
    CMD_OPT_STATE_DIR,
    CMD_OPT_LOCK_WAIT,
    SSHOPT_FORKS_OPT,
    {"verbose", 'v', CMD_OPT_SHORT, NULL,
     "stream every host's output, prefixed"},
    {"json", 'J', 0, NULL, "one JSON event per line (for CI systems)"},
    CMD_OPT_AGENT_KEY,
    CMD_OPT_KNOWN_AGENTS,
    {"retry-step", 'r', CMD_OPT_OPTIONAL, "HOST:STEP",
     "a step that was in flight when the coordinator died and whose host "
     "cannot tell whether it ran: run it again (check first); without "
     "HOST:STEP, every such step (repeatable)"},
    {"skip-step", 's', CMD_OPT_OPTIONAL, "HOST:STEP",
     "count such a step as completed; without HOST:STEP, every such step "
     "(repeatable)"},
    {"retry-step-at", 'r', CMD_OPT_HIDDEN, "HOST:STEP",
     "--retry-step HOST:STEP"},
    {"skip-step-at", 's', CMD_OPT_HIDDEN, "HOST:STEP", "--skip-step HOST:STEP"},
    {"confirm-irreversible", 'I', 0, NULL,
     "(abort, rollback) roll back although irreversible steps ran: they "
     "stay as they are"},
    CMD_OPT_HELP,
    CMD_OPT_END,
};

/* The command of each mode, for its help and usage errors. */
static const struct cmd *const cmd_resume_cmds[] = {&cmd_resume, &cmd_promote,
                                                    &cmd_abort, &cmd_rollback};

/* argv with "--skip-step HOST:STEP" read as "--skip-step-at HOST:STEP"
 * (a deploy id has no ':'), so the flag takes its value with or without
 * '=' and stays bare otherwise. Caller frees the array (not the strings:
 * argv's, or the two below). */
static char cmd_resume_skip_at[] = "--skip-step-at";
static char cmd_resume_retry_at[] = "--retry-step-at";

static char **cmd_resume_step_args(int argc, char **argv)
{
    char **out = xcalloc((size_t)argc + 1, sizeof(char *));
    for (int i = 0; i < argc; i++) {
        bool skip = strcmp(argv[i], "--skip-step") == 0;
        bool retry = strcmp(argv[i], "--retry-step") == 0;
        if ((skip || retry) && i + 1 < argc && argv[i + 1][0] != '-' &&
            strchr(argv[i + 1], ':') != NULL)
            out[i] = skip ? cmd_resume_skip_at : cmd_resume_retry_at;
        else
            out[i] = argv[i];
    }
    return out;
}

/* One --skip-step / --retry-step: bare, or HOST:STEP. */
static enum err_code cmd_resume_decision_arg(struct resume_decision *d,
                                             char *arg,
                                             enum deploy_decision what,
                                             struct err *e)
{
    d->decision = what;
    if (arg == NULL)
        return ERR_OK;
    char *colon = strchr(arg, ':');
    if (colon == NULL || colon == arg || colon[1] == '\0')
        return err_set(e, ERR_USAGE,
                       "--%s-step %s: expected HOST:STEP (a host of the "
                       "inventory, a step name of the plan)",
                       what == DEPLOY_SKIP ? "skip" : "retry", arg);
    *colon = '\0'; /* argv's own bytes: HOST and STEP apart */
    d->host = arg;
    d->step = colon + 1;
    return ERR_OK;
}

/* The same host and step may not be both skipped and retried. */
static enum err_code cmd_resume_decisions_clash(const struct resume_decision *d,
                                                size_t n, struct err *e)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            bool same_host = d[i].host == NULL || d[j].host == NULL ||
                             strcmp(d[i].host, d[j].host) == 0;
            bool same_step = d[i].step == NULL || d[j].step == NULL ||
                             strcmp(d[i].step, d[j].step) == 0;
            if (same_host && same_step && d[i].decision != d[j].decision)
                return err_set(e, ERR_USAGE,
                               "--retry-step and --skip-step name the same "
                               "step (%s:%s)",
                               d[i].host   ? d[i].host
                               : d[j].host ? d[j].host
                                           : "*",
                               d[i].step   ? d[i].step
                               : d[j].step ? d[j].step
                                           : "*");
        }
    return ERR_OK;
}

/* The exit status of a continuing command (docs/cli.md). */
static int cmd_resume_status(enum resume_mode mode, enum resume_outcome o,
                             enum runner_outcome ran,
                             const struct deploy_result *res)
{
    switch (o) {
    case RESUME_RAN:
        /* asked for: a rollback that succeeded is a success */
        if ((mode == RESUME_ABORT || mode == RESUME_ROLLBACK) &&
            res->verdict == DV_ROLLED_BACK)
            return EXIT_OK;
        return cmd_runner_status(ran, res);
    case RESUME_BAD_REQUEST:
        return EXIT_USAGE;
    case RESUME_BAD_INPUT:
        return EXIT_INPUT;
    case RESUME_UNDECIDED:
        return EXIT_PAUSED;
    case RESUME_IRREVERSIBLE:
        return EXIT_REFUSED;
    case RESUME_LOCKED:
        return EXIT_LOCKED;
    case RESUME_BROKEN:
    default:
        return EXIT_INTERNAL;
    }
}

int cmd_resume_main(enum resume_mode mode, int argc, char **argv)
{
    const struct cmd *self = cmd_resume_cmds[mode];
    struct session_options sopt;
    memset(&sopt, 0, sizeof(sopt));
    struct cmd_shared sh;
    cmd_shared_init(&sh, argc);
    struct resume_request rq = {.mode = mode,
                                .name = self->name,
                                .extra = sh.extra,
                                .ssh = &sh.ssh,
                                .agent = &sh.agent,
                                .session = &sopt};
    struct err e = {0};
    int status = EXIT_USAGE;
    const char **override = xcalloc((size_t)argc + 1, sizeof(char *));
    size_t noverride = 0;
    struct resume_decision *dec = xcalloc((size_t)argc + 1, sizeof(*dec));
    size_t ndec = 0;
    char **args = cmd_resume_step_args(argc, argv);

    struct option longopts[CMD_OPTS_MAX + 1];
    char shortopts[3 * CMD_OPTS_MAX + 2];
    cmd_getopt(self, "", longopts, shortopts);
    optind = 1;
    int c;
    while ((c = getopt_long(argc, args, shortopts, longopts, NULL)) != -1) {
        switch (c) {
        case 'v':
            rq.verbose = true;
            break;
        case 'J':
            rq.json = true;
            break;
        case 'r':
        case 's':
            if (cmd_resume_decision_arg(&dec[ndec++], optarg,
                                        c == 'r' ? DEPLOY_RETRY : DEPLOY_SKIP,
                                        &e) != ERR_OK)
                goto usage;
            break;
        case 'O':
            override[noverride++] = optarg;
            break;
        case 'I':
            rq.confirm_irreversible = true;
            break;
        case 'h':
            cmd_help(self, stdout);
            status = EXIT_OK;
            goto out;
        default: {
            int rc = cmd_shared_opt(self, &sh, c, optarg);
            if (rc == CMD_SHARED_TAKEN)
                break;
            if (rc == CMD_SHARED_NOT_MINE)
                goto usage;
            status = rc;
            goto out;
        }
        }
    }
    if ((status = cmd_shared_store(self, &sh)) != EXIT_OK)
        goto out;
    status = EXIT_USAGE;
    sopt.lock_wait_ms = sh.lock_wait_ms;
    sopt.state_dir = sh.state_dir;
    rq.forks = sh.forks;
    rq.invs = sh.invs;
    rq.ninv = sh.ninv;
    const char *id = optind < argc ? args[optind] : NULL;
    if (optind + (id ? 1 : 0) != argc ||
        (id == NULL && mode != RESUME_CONTINUE)) {
        err_set(&e, ERR_USAGE, "expected %s", id ? "one DEPLOY id" : "DEPLOY");
        goto usage;
    }
    if (cmd_resume_decisions_clash(dec, ndec, &e) != ERR_OK)
        goto usage;
    rq.id = id;
    rq.override = override;
    rq.noverride = noverride;
    rq.dec = dec;
    rq.ndec = ndec;
    enum runner_outcome ran = RUNNER_BROKEN;
    struct deploy_result res;
    enum resume_outcome o = resume_run(&rq, &ran, &res);
    status = cmd_resume_status(mode, o, ran, &res);
    goto out;
usage:
    status = cmd_usage_error(self, "%s", e.msg[0] ? e.msg : "bad arguments");
out:
    free(override);
    free(dec);
    free(args);
    cmd_shared_release(&sh);
    return status;
}

static int cmd_resume_run(int argc, char **argv)
{
    return cmd_resume_main(RESUME_CONTINUE, argc, argv);
}

const struct cmd cmd_resume = {
    .name = "resume",
    .usage = "resume [DEPLOY] [-e NAME=VALUE]... [options]",
    .summary = "continue a deploy whose coordinator died or that paused, from "
               "its journal",
    .run = cmd_resume_run,
    .opts = cmd_resume_opts,
    .ssh = true,
};
