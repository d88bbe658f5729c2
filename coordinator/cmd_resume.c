/* coordinator/cmd_resume.c: `drover resume`: continue a deploy whose
 * coordinator died or that paused, from its journal (coordinator/resume.c). */
#include "cmd.h"
#include "resume.h"

static int cmd_resume_run(int argc, char **argv)
{
    return resume_main(RESUME_CONTINUE, argc, argv);
}

const struct cmd cmd_resume = {
    .name = "resume",
    .usage = "resume [DEPLOY] [-e NAME=VALUE]... [options]",
    .summary = "continue a deploy whose coordinator died or that paused, from "
               "its journal",
    .run = cmd_resume_run,
    .opts = resume_opts,
    .ssh = true,
};
