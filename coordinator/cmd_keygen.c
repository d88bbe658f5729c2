/* coordinator/cmd_keygen.c: `drover keygen` writes the coordinator's CURVE
 * key pair. Its public half goes into each agent's authorized_keys. */
#include "cmd.h"
#include "keyfile.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* $XDG_CONFIG_HOME/drover/coordinator.key, or ~/.config/...; caller frees.
 * The directory is created (0700). */
static char *cmd_keygen_default(void)
{
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    char *base = xdg && *xdg
                     ? xasprintf("%s/drover", xdg)
                     : xasprintf("%s/.config/drover", home ? home : ".");
    char *parent = xstrdup(base);
    char *slash = strrchr(parent, '/');
    if (slash != NULL && slash != parent) {
        *slash = '\0';
        mkdir(parent, 0700);
    }
    free(parent);
    mkdir(base, 0700);
    char *path = xasprintf("%s/coordinator.key", base);
    free(base);
    return path;
}

/* The options of `drover keygen`, one row each (cmd.h). */
static const struct cmd_opt cmd_keygen_opts[] = {
    {"file", 'f', CMD_OPT_SHORT, "FILE",
     "where the secret key goes, FILE.pub the public one (default "
     "$XDG_CONFIG_HOME/drover/coordinator.key, else "
     "~/.config/drover/coordinator.key)"},
    {"force", 'F', 0, NULL, "overwrite an existing key pair"},
    CMD_OPT_HELP,
    CMD_OPT_END,
};

static int cmd_keygen_run(int argc, char **argv)
{
    struct option opts[CMD_OPTS_MAX + 1];
    char shortopts[3 * CMD_OPTS_MAX + 2];
    cmd_getopt(&cmd_keygen, "", opts, shortopts);
    const char *file = NULL;
    bool force = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            file = optarg;
            break;
        case 'F':
            force = true;
            break;
        case 'h':
            cmd_help(&cmd_keygen, stdout);
            return EXIT_OK;
        default:
            return cmd_usage_error(&cmd_keygen,
                                   "unknown option or missing argument");
        }
    }
    if (optind != argc)
        return cmd_usage_error(&cmd_keygen, "unexpected argument '%s'",
                               argv[optind]);
    char *path = file ? xstrdup(file) : cmd_keygen_default();
    struct keypair kp;
    struct err e = {0};
    if (keyfile_generate(&kp, &e) != ERR_OK ||
        keyfile_write(path, &kp, force, &e) != ERR_OK) {
        fprintf(stderr, "drover keygen: %s\n", e.msg);
        keyfile_wipe(&kp);
        free(path);
        return e.code == ERR_INVALID ? EXIT_USAGE : EXIT_INTERNAL;
    }
    fprintf(stderr,
            "drover keygen: wrote %s (secret, 0600) and %s.pub\n"
            "add the public key below to each agent's authorized_keys:\n",
            path, path);
    printf("%s\n", kp.public_z85);
    keyfile_wipe(&kp);
    free(path);
    return EXIT_OK;
}

const struct cmd cmd_keygen = {
    .name = "keygen",
    .usage = "keygen [options]",
    .summary = "write the coordinator's CURVE key pair for drover-agent",
    .run = cmd_keygen_run,
    .opts = cmd_keygen_opts,
};
