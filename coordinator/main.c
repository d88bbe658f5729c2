/* coordinator/main.c: the `drover` binary: find the subcommand, run it,
 * exit with its status. Only main() exits. */
#include "cmd.h"
#include "log.h"
#include "redact.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

/* One command per line, in help order. */
/* clang-format off */
static const struct cmd *const cmds[] = {
    &cmd_run,
    &cmd_deploy,
    &cmd_keygen,
    &cmd_inventory,
    &cmd_plan,
    &cmd_validate,
    &cmd_history,
    &cmd_show,
    &cmd_status,
    &cmd_resume,
    &cmd_promote,
    &cmd_abort,
    &cmd_rollback,
};
/* clang-format on */
enum { NCMDS = sizeof(cmds) / sizeof(cmds[0]) };

static void main_usage(FILE *f)
{
    fprintf(f, "usage: drover COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < NCMDS; i++)
        fprintf(f, "  %-10s %s\n", cmds[i]->name, cmds[i]->summary);
    fprintf(f, "\n`drover help COMMAND` (or `drover COMMAND --help`) shows a "
               "command's usage and options;\n`drover help --markdown` the "
               "reference of docs/cli.md.\n");
}

int main(int argc, char **argv)
{
    /* The coordinator holds secrets: no core dumps. */
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    /* One connection per agent host, up to forks SSH sessions, a pipe set
     * per local step: the soft descriptor limit (often 1024) is too low
     * for a fleet; the hard one is what the operator allows. */
    struct rlimit nofile;
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 &&
        nofile.rlim_cur < nofile.rlim_max) {
        nofile.rlim_cur = nofile.rlim_max;
        setrlimit(RLIMIT_NOFILE, &nofile);
    }
    log_set_ident("drover");

    if (argc < 2) {
        main_usage(stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "help") == 0 || strcmp(name, "--help") == 0 ||
        strcmp(name, "-h") == 0) {
        if (argc == 2) {
            main_usage(stdout);
            return EXIT_OK;
        }
        if (argc == 3 && strcmp(argv[2], "--markdown") == 0) {
            cmd_markdown(cmds, NCMDS, stdout);
            return EXIT_OK;
        }
        for (size_t i = 0; argc == 3 && i < NCMDS; i++)
            if (strcmp(cmds[i]->name, argv[2]) == 0) {
                cmd_help(cmds[i], stdout);
                return EXIT_OK;
            }
        fprintf(stderr, "drover help: %s '%s'\n\n",
                argc == 3 ? "unknown command" : "one command, not",
                argv[argc == 3 ? 2 : 3]);
        main_usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(name, "--version") == 0) {
        printf("drover 0.1.0\n");
        return EXIT_OK;
    }
    for (size_t i = 0; i < NCMDS; i++)
        if (strcmp(cmds[i]->name, name) == 0)
            return cmds[i]->run(argc - 1, argv + 1);
    fprintf(stderr, "drover: unknown command '%s'\n\n", name);
    main_usage(stderr);
    return EXIT_USAGE;
}
