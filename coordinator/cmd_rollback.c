/* coordinator/cmd_rollback.c: `drover rollback`: roll back the hosts a deploy
 * changed, finished or not (coordinator/cmd_resume.c,
 * coordinator/resume.c). */
#include "cmd.h"

static int cmd_rollback_run(int argc, char **argv)
{
    return cmd_resume_main(RESUME_ROLLBACK, argc, argv);
}

const struct cmd cmd_rollback = {
    .name = "rollback",
    .usage = "rollback DEPLOY [-e NAME=VALUE]... [options]",
    .summary = "roll back the hosts a deploy changed, finished or not",
    .run = cmd_rollback_run,
    .opts = cmd_resume_opts,
    .ssh = true,
};
