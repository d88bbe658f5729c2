/* coordinator/cmd_abort.c: `drover abort`: stop an unfinished deploy and roll
 * back the hosts it changed (coordinator/cmd_resume.c,
 * coordinator/resume.c). */
#include "cmd.h"

static int cmd_abort_run(int argc, char **argv)
{
    return cmd_resume_main(RESUME_ABORT, argc, argv);
}

const struct cmd cmd_abort = {
    .name = "abort",
    .usage = "abort DEPLOY [-e NAME=VALUE]... [options]",
    .summary = "stop an unfinished deploy and roll back the hosts it changed",
    .run = cmd_abort_run,
    .opts = cmd_resume_opts,
    .ssh = true,
};
