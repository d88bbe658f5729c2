/* coordinator/cmd_abort.c: `drover abort`: stop an unfinished deploy and roll
 * back the hosts it changed (coordinator/resume.c). */
#include "cmd.h"
#include "resume.h"

static int cmd_abort_run(int argc, char **argv)
{
    return resume_main(RESUME_ABORT, argc, argv);
}

const struct cmd cmd_abort = {
    .name = "abort",
    .usage = "abort DEPLOY [-e NAME=VALUE]... [options]",
    .summary = "stop an unfinished deploy and roll back the hosts it changed",
    .run = cmd_abort_run,
    .opts = resume_opts,
    .ssh = true,
};
