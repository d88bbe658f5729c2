/* coordinator/cmd_promote.c: `drover promote`: continue a paused deploy (a
 * verified canary) with its next waves (coordinator/cmd_resume.c,
 * coordinator/resume.c). */
#include "cmd.h"

static int cmd_promote_run(int argc, char **argv)
{
    return cmd_resume_main(RESUME_PROMOTE, argc, argv);
}

const struct cmd cmd_promote = {
    .name = "promote",
    .usage = "promote DEPLOY [-e NAME=VALUE]... [options]",
    .summary =
        "continue a paused deploy (a verified canary) with its next waves",
    .run = cmd_promote_run,
    .opts = cmd_resume_opts,
    .ssh = true,
};
