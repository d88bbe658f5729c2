/* coordinator/cmd_deploy.c: placeholder until the engine lands. */
#include "cmd.h"

#include <stdio.h>

static int cmd_deploy_run(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "drover: deploy is being built\n");
    return EXIT_INTERNAL;
}

const struct cmd cmd_deploy = {
    .name = "deploy",
    .usage = "deploy",
    .summary = "deploy",
    .run = cmd_deploy_run,
};
