/* coordinator/cmd_validate.c: `drover validate PLAN...`: read each plan and
 * report every problem as file:line:col, touching nothing else (no
 * inventory, no host). Exit 0 when all are valid, 3 otherwise. */
#include "cmd.h"

#include "buf.h"
#include "err.h"
#include "plan.h"

#include <getopt.h>
#include <stdio.h>

static const char cmd_validate_usage[] =
    "validate [-q] PLAN [PLAN...]\n"
    "  -q, --quiet   print problems only, no \"ok\" line per plan\n";

static int cmd_validate_run(int argc, char **argv)
{
    static const struct option longopts[] = {{"quiet", no_argument, 0, 'q'},
                                             {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    bool quiet = false;
    optind = 0; /* 0: glibc resets all of getopt's state (in-process reruns) */
    int c;
    while ((c = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'q':
            quiet = true;
            break;
        case 'h':
            printf("usage: drover %s", cmd_validate_usage);
            return EXIT_OK;
        default:
            fprintf(stderr, "usage: drover %s", cmd_validate_usage);
            return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "drover validate: no PLAN given\nusage: drover %s",
                cmd_validate_usage);
        return EXIT_USAGE;
    }
    int status = EXIT_OK;
    for (int i = optind; i < argc; i++) {
        struct plan *p = NULL;
        struct err e = {0};
        struct buf diags;
        buf_init(&diags, 256 * 1024);
        if (plan_load(argv[i], &p, &diags, &e) != ERR_OK) {
            if (diags.len > 0)
                fputs(buf_cstr(&diags), stderr);
            else
                fprintf(stderr, "drover validate: %s\n", e.msg);
            status = EXIT_INPUT;
        } else if (!quiet) {
            printf("%s: ok (plan '%s', %zu step%s)\n", argv[i], p->name,
                   p->nsteps, p->nsteps == 1 ? "" : "s");
        }
        plan_free(p);
        buf_release(&diags);
    }
    return status;
}

const struct cmd cmd_validate = {
    .name = "validate",
    .usage = cmd_validate_usage,
    .summary = "check plans for every problem, touching no host",
    .run = cmd_validate_run,
};
