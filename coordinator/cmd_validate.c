/* coordinator/cmd_validate.c: `drover validate [-i INV] PLAN...`: read each
 * plan and report every problem as file:line:col, touching no host. With
 * -i the plan is also resolved against the inventory, so what only hosts
 * reveal (undefined variables, a canary larger than the fleet) is checked
 * too: the check a CI job runs. Exit 0 when all are valid, 3 otherwise. */
#include "cmd.h"

#include "buf.h"
#include "err.h"
#include "inventory.h"
#include "plan.h"
#include "rollout.h"
#include "ssh.h"
#include "sshconfig.h"
#include "sshopt.h"

#include <getopt.h>
#include <stdio.h>

static const char cmd_validate_usage[] =
    "validate [-q] [-i INVENTORY ...] [-e NAME=VALUE | -e @FILE ...]\n"
    "         [--ssh-config FILE|none] PLAN [PLAN...]\n"
    "  -q, --quiet           print problems only, no \"ok\" line per plan\n"
    "  -i, --inventory SRC   also resolve against this inventory\n"
    "  -e, --extra-var N=V   a variable for that resolution\n"
    "  --ssh-config FILE     OpenSSH client config whose HostName gives ssh\n"
    "                        hosts their address, or none (default "
    "~/.ssh/config)\n";

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
            fputs(buf_cstr(&diags), stderr);
        else
            fprintf(stderr, "drover validate: %s\n", e.msg);
    } else if (!quiet) {
        printf("%s: ok (plan '%s', %zu step%s", path, p->name, p->nsteps,
               p->nsteps == 1 ? "" : "s");
        if (ro != NULL)
            printf(", %zu host%s in %zu wave%s", ro->nhosts,
                   ro->nhosts == 1 ? "" : "s", ro->nwaves,
                   ro->nwaves == 1 ? "" : "s");
        printf(")\n");
    }
    rollout_free(ro);
    plan_free(p);
    buf_release(&diags);
    return ok;
}

static int cmd_validate_run(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"quiet", no_argument, 0, 'q'},
        {"inventory", required_argument, 0, 'i'},
        {"extra-var", required_argument, 0, 'e'},
        {"help", no_argument, 0, 'h'},
        {"ssh-config", required_argument, 0, SSHOPT_SSH_CONFIG},
        {0, 0, 0, 0}};
    struct ssh_options so;
    ssh_options_init(&so);
    struct sshconfig *sshcfg = NULL;
    bool quiet = false;
    const char *invs[64];
    size_t ninv = 0;
    json_t *extra = json_object();
    struct inventory *inv = NULL;
    struct err e = {0};
    int status = EXIT_USAGE;
    optind = 0; /* 0: glibc resets all of getopt's state (in-process reruns) */
    int c;
    while ((c = getopt_long(argc, argv, "qi:e:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'q':
            quiet = true;
            break;
        case 'i':
            if (ninv == sizeof(invs) / sizeof(invs[0])) {
                fprintf(stderr, "drover validate: too many -i\n");
                goto out;
            }
            invs[ninv++] = optarg;
            break;
        case 'e':
            if (rollout_extra_var(extra, optarg, &e) != ERR_OK) {
                fprintf(stderr, "drover validate: %s\n", e.msg);
                status = e.code == ERR_USAGE ? EXIT_USAGE : EXIT_INPUT;
                goto out;
            }
            break;
        case 'h':
            printf("usage: drover %s", cmd_validate_usage);
            status = EXIT_OK;
            goto out;
        case SSHOPT_SSH_CONFIG:
            if (sshopt_apply(&so, c, optarg, &e) == ERR_OK)
                break;
            fprintf(stderr, "drover validate: %s\n", e.msg);
            goto out;
        default:
            fprintf(stderr, "usage: drover %s", cmd_validate_usage);
            goto out;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "drover validate: no PLAN given\nusage: drover %s",
                cmd_validate_usage);
        goto out;
    }
    status = EXIT_INPUT;
    if (ninv > 0) {
        inv = inv_new();
        for (size_t i = 0; i < ninv; i++)
            if (inv_load(inv, invs[i], &e) != ERR_OK) {
                fprintf(stderr, "drover: %s\n", e.msg);
                goto out;
            }
        if (sshopt_config(&so, &sshcfg, &e) != ERR_OK) {
            fprintf(stderr, "drover: %s\n", e.msg);
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
    json_decref(extra);
    return status;
}

const struct cmd cmd_validate = {
    .name = "validate",
    .usage = cmd_validate_usage,
    .summary = "check plans for every problem, touching no host",
    .run = cmd_validate_run,
};
