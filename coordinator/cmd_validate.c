/* coordinator/cmd_validate.c: `drover validate [-i INV] PLAN...`: read each
 * plan and report every problem as file:line:col, touching no host. With
 * -i the plan is also resolved against the inventory, so what only hosts
 * reveal (undefined variables, a canary larger than the fleet) is checked
 * too: the check a CI job runs. Exit 0 when all are valid, 3 otherwise. */
#include "cmd.h"

#include "buf.h"
#include "err.h"
#include "inventory.h"
#include "log.h"
#include "plan.h"
#include "rollout.h"
#include "ssh.h"
#include "sshconfig.h"
#include "sshopt.h"

#include <getopt.h>
#include <stdio.h>

/* The options of `drover validate`, one row each (cmd.h). */
static const struct cmd_opt cmd_validate_opts[] = {
    {"quiet", 'q', CMD_OPT_SHORT, NULL,
     "print problems only, no \"ok\" line per plan"},
    CMD_OPT_INVENTORY(": also resolve each plan against it, repeatable"),
    CMD_OPT_EXTRA_VAR(" for that resolution, repeatable"),
    SSHOPT_CONFIG_OPT,
    CMD_OPT_HELP,
    CMD_OPT_END,
};

/* Check one plan; returns true when it is valid. */
static bool cmd_validate_one(const char *path, const struct inventory *inv,
                             const struct sshconfig *sshcfg, json_t *extra,
                             bool quiet)
{
    struct plan *p = NULL;
    struct rollout *ro = NULL;
    struct err e = {0};
    struct buf diags;
    buf_init(&diags, 256 * 1024);
    bool ok = plan_load(path, &p, &diags, &e) == ERR_OK;
    if (ok && inv != NULL) {
        /* what only a deploy knows stands in as a placeholder */
        struct rollout_input in = {.extra = extra,
                                   .previous_version = "<previous_version>",
                                   .deploy_id = "<deploy_id>",
                                   .ssh_config = sshcfg};
        ok = rollout_new_input(p, inv, &in, &ro, &diags, &e) == ERR_OK;
    }
    if (!ok) {
        if (diags.len > 0)
            log_write(stderr, diags.data, diags.len);
        else
            log_out(stderr, "drover validate: %s", e.msg);
    } else if (!quiet) {
        struct buf line;
        buf_init(&line, BUF_UNLIMITED);
        buf_printf(&line, "%s: ok (plan '%s', %zu step%s", path, p->name,
                   p->nsteps, p->nsteps == 1 ? "" : "s");
        if (ro != NULL)
            buf_printf(&line, ", %zu host%s in %zu wave%s", ro->nhosts,
                       ro->nhosts == 1 ? "" : "s", ro->nwaves,
                       ro->nwaves == 1 ? "" : "s");
        log_out(stdout, "%s)", buf_cstr(&line));
        buf_release(&line);
    }
    rollout_free(ro);
    plan_free(p);
    buf_release(&diags);
    return ok;
}

static int cmd_validate_run(int argc, char **argv)
{
    struct option longopts[CMD_OPTS_MAX + 1];
    char shortopts[3 * CMD_OPTS_MAX + 2];
    cmd_getopt(&cmd_validate, "", longopts, shortopts);
    struct sshconfig *sshcfg = NULL;
    bool quiet = false;
    struct cmd_shared sh;
    cmd_shared_init(&sh, argc);
    json_t *extra = sh.extra;
    struct inventory *inv = NULL;
    struct err e = {0};
    int status = EXIT_USAGE;
    optind = 0; /* 0: glibc resets all of getopt's state (in-process reruns) */
    int c;
    while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
        switch (c) {
        case 'q':
            quiet = true;
            break;
        case 'h':
            cmd_help(&cmd_validate, stdout);
            status = EXIT_OK;
            goto out;
        default: {
            int rc = cmd_shared_opt(&cmd_validate, &sh, c, optarg);
            if (rc == CMD_SHARED_TAKEN)
                break;
            if (rc == CMD_SHARED_NOT_MINE)
                rc = cmd_usage_error(&cmd_validate,
                                     "unknown option or missing argument");
            status = rc;
            goto out;
        }
        }
    }
    if (optind >= argc) {
        cmd_usage_error(&cmd_validate, "no PLAN given");
        goto out;
    }
    status = EXIT_INPUT;
    if (sh.ninv > 0) {
        inv = inv_new();
        for (size_t i = 0; i < sh.ninv; i++)
            if (inv_load(inv, sh.invs[i], &e) != ERR_OK) {
                log_out(stderr, "drover: %s", e.msg);
                goto out;
            }
        if (sshopt_config(&sh.ssh, &sshcfg, &e) != ERR_OK) {
            log_out(stderr, "drover: %s", e.msg);
            goto out;
        }
    }
    status = EXIT_OK;
    for (int i = optind; i < argc; i++)
        if (!cmd_validate_one(argv[i], inv, sshcfg, extra, quiet))
            status = EXIT_INPUT;
out:
    sshconfig_free(sshcfg);
    inv_free(inv);
    cmd_shared_release(&sh);
    return status;
}

const struct cmd cmd_validate = {
    .name = "validate",
    .usage = "validate [-i INVENTORY [-e NAME=VALUE]...] [options] PLAN...",
    .opts = cmd_validate_opts,
    .summary = "check plans for every problem, touching no host",
    .run = cmd_validate_run,
};
