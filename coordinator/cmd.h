/* coordinator/cmd.h: a subcommand of `drover`, one cmd_*.c file each
 * (tmux cmd-*.c, git builtin/). main.c lists them; help comes from here. */
#ifndef DROVER_CMD_H
#define DROVER_CMD_H

/* Exit statuses of drover (docs/cli.md). */
enum drover_exit {
    EXIT_OK = 0,              /* everything succeeded */
    EXIT_FAILED = 1,          /* a host or step failed; deploy stopped */
    EXIT_USAGE = 2,           /* bad flags or arguments */
    EXIT_INPUT = 3,           /* a bad inventory or plan file */
    EXIT_UNREACHABLE = 4,     /* run: some hosts could not be reached */
    EXIT_ROLLBACK_FAILED = 5, /* rollback failed: hosts need a human */
    EXIT_PAUSED = 6,          /* deploy paused (canary, Ctrl-C): resumable */
    EXIT_REFUSED = 7,         /* a precheck or requirement refused the deploy */
    EXIT_LOCKED = 8,          /* another coordinator holds the lock */
    EXIT_INTERNAL = 70        /* a bug or system failure */
};

struct cmd {
    const char *name;                  /* the word after `drover` */
    const char *usage;                 /* one-line synopsis */
    const char *summary;               /* what it does, for `drover help` */
    int (*run)(int argc, char **argv); /* argv[0] is the command name */
};

extern const struct cmd cmd_run;
extern const struct cmd cmd_deploy;
extern const struct cmd cmd_keygen;
extern const struct cmd cmd_inventory;
extern const struct cmd cmd_plan;
extern const struct cmd cmd_validate;
extern const struct cmd cmd_history;
extern const struct cmd cmd_show;
extern const struct cmd cmd_status;
extern const struct cmd cmd_resume;
extern const struct cmd cmd_promote;
extern const struct cmd cmd_abort;
extern const struct cmd cmd_rollback;

#endif
