/* coordinator/cmd_run.c: placeholder until the engine lands. */
#include "cmd.h"

#include <stdio.h>

static int cmd_run_run(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "drover: run is being built\n");
    return EXIT_INTERNAL;
}

const struct cmd cmd_run = {
    .name = "run",
    .usage = "run",
    .summary = "run",
    .run = cmd_run_run,
};
