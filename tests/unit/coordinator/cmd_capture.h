/* tests/unit/coordinator/cmd_capture.h: run a subcommand in-process with
 * its stdout and stderr captured, as `drover CMD ARGS` would. */
#ifndef DROVER_TEST_CMD_CAPTURE_H
#define DROVER_TEST_CMD_CAPTURE_H

#include "cmd.h"
#include "err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Read all of f from the start; caller frees. */
static inline char *capture_slurp(FILE *f)
{
    fflush(f);
    long n = ftell(f);
    char *s = xcalloc(1, (size_t)(n > 0 ? n : 0) + 1);
    rewind(f);
    if (n > 0 && fread(s, 1, (size_t)n, f) != (size_t)n)
        s[0] = '\0';
    return s;
}

/* Run c with argv (NULL-terminated, argv[0] the command name); *out and
 * *err get what it printed (caller frees). Returns its exit status. */
static inline int capture_run(const struct cmd *c, const char *const *args,
                              char **out, char **errout)
{
    int argc = 0;
    while (args[argc] != NULL)
        argc++;
    /* getopt may permute argv: give it copies */
    char **argv = xcalloc((size_t)argc + 1, sizeof(char *));
    for (int i = 0; i < argc; i++)
        argv[i] = xstrdup(args[i]);
    fflush(stdout);
    fflush(stderr);
    FILE *fo = tmpfile(), *fe = tmpfile();
    int so = dup(1), se = dup(2);
    dup2(fileno(fo), 1);
    dup2(fileno(fe), 2);
    int rc = c->run(argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(so, 1);
    dup2(se, 2);
    close(so);
    close(se);
    fseek(fo, 0, SEEK_END);
    fseek(fe, 0, SEEK_END);
    *out = capture_slurp(fo);
    *errout = capture_slurp(fe);
    fclose(fo);
    fclose(fe);
    for (int i = 0; i < argc; i++)
        free(argv[i]);
    free(argv);
    return rc;
}

#endif
