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

#include "agentconn.h"
#include "resume.h"
#include "runner.h"
#include "ssh.h"
#include "storesel.h"

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct buf;
struct err;
struct store;

/* Bits of cmd_opt.flags. */
enum cmd_opt_flags {
    CMD_OPT_SHORT = 1 << 0,    /* key is also the short option -key */
    CMD_OPT_OPTIONAL = 1 << 1, /* its argument may be left out:
                                  --name[=ARG] */
    CMD_OPT_HIDDEN = 1 << 2    /* parsed, not listed (an internal
                                  spelling of a listed option) */
};

/* One option of a subcommand. A command's table of these is the one
 * source of its getopt_long parser, its --help (= `drover help CMD`) and
 * its reference in docs/cli.md (`drover help --markdown`, checked by
 * tests/integration/test_docs_examples.sh): a new flag is one row here
 * and one case in the command's switch. */
struct cmd_opt {
    const char *name; /* long name, without "--" */
    int key;          /* what getopt_long returns for it */
    unsigned flags;   /* enum cmd_opt_flags */
    const char *arg;  /* the argument's word ("FILE"); NULL: a switch */
    const char *help; /* what it does, in a sentence */
};

/* Rows several commands share, so their words are written once. */
#define CMD_OPT_HELP                                                           \
    {                                                                          \
        "help", 'h', CMD_OPT_SHORT, NULL, "show this help"                     \
    }
#define CMD_OPT_STATE_DIR                                                      \
    {                                                                          \
        "state-dir", 'S', 0, "DIR",                                            \
            "the same as --store sqlite:DIR (default $DROVER_STATE_DIR, "      \
            "then drover.yml's store:, then /var/lib/drover for root, else "   \
            "$XDG_STATE_HOME/drover or ~/.local/state/drover)"                 \
    }
/* --store's key (no short option). */
enum { CMD_OPT_STORE_KEY = 0x1000 };
#define CMD_OPT_STORE                                                          \
    {                                                                          \
        "store", CMD_OPT_STORE_KEY, 0, "URL",                                  \
            "where the journal, locks and epochs are: sqlite:DIR is the "      \
            "state directory DIR (default $DROVER_STORE, then drover.yml's "   \
            "store:, docs/config.md)"                                          \
    }
#define CMD_OPT_LOCK_WAIT                                                      \
    {                                                                          \
        "lock-wait", 'W', 0, "DUR",                                            \
            "wait this long for the plan's lock instead of failing at once"    \
    }
#define CMD_OPT_AGENT_KEY                                                      \
    {                                                                          \
        "coordinator-key", 'K', 0, "FILE",                                     \
            "CURVE secret key for agent hosts (drover keygen)"                 \
    }
#define CMD_OPT_KNOWN_AGENTS                                                   \
    {                                                                          \
        "known-agents", 'A', 0, "FILE", "pinned agent keys (like known_hosts)" \
    }
#define CMD_OPT_INVENTORY(what)                                                \
    {                                                                          \
        "inventory", 'i', CMD_OPT_SHORT, "SRC",                                \
            "Ansible inventory (INI or YAML file, directory, or a,b, "         \
            "list)" what                                                       \
    }
#define CMD_OPT_EXTRA_VAR(what)                                                \
    {                                                                          \
        "extra-var", 'e', CMD_OPT_SHORT, "NAME=VALUE",                         \
            "a variable (-e @FILE.yml or @FILE.json: a mapping of them)" what  \
    }
#define CMD_OPT_END                                                            \
    {                                                                          \
        NULL, 0, 0, NULL, NULL                                                 \
    }

enum { CMD_OPTS_MAX = 48 /* options of one command, SSH ones included */ };

struct cmd {
    const char *name;                  /* the word after `drover` */
    const char *usage;                 /* one-line synopsis (after
                                          "drover "); the options are
                                          listed from opts */
    const char *summary;               /* what it does, for `drover help` */
    int (*run)(int argc, char **argv); /* argv[0] is the command name */
    const struct cmd_opt *opts;        /* its options, CMD_OPT_END last */
    bool ssh; /* it also takes the SSH options (sshopt_opts) */
};

/* Fill longopts (room for CMD_OPTS_MAX + 1) and shortopts (room for
 * 3 * CMD_OPTS_MAX + 2; it starts with prefix, "" or "+") for getopt_long
 * from c's options (and the SSH ones when c->ssh). */
void cmd_getopt(const struct cmd *c, const char *prefix,
                struct option *longopts, char *shortopts);

/* The full usage: synopsis, summary, every option with its help (the SSH
 * options too): what `drover CMD --help` and `drover help CMD` print. */
void cmd_help(const struct cmd *c, FILE *f);

/* A usage error of c: "drover NAME: why", its synopsis and where its
 * options are, on stderr. Returns EXIT_USAGE. */
int cmd_usage_error(const struct cmd *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The flags several commands share, read in one place with one validation
 * and one way to say what is wrong (cmd_shared_opt): a command lists the
 * rows it takes (CMD_OPT_INVENTORY, CMD_OPT_EXTRA_VAR, SSHOPT_FORKS_OPT,
 * CMD_OPT_LOCK_WAIT, CMD_OPT_STORE with CMD_OPT_STATE_DIR,
 * CMD_OPT_AGENT_KEY, CMD_OPT_KNOWN_AGENTS, `.ssh = true` or
 * SSHOPT_CONFIG_OPT) and hands what getopt_long returns to cmd_shared_opt
 * in its switch's default; a command that opens a store then calls
 * cmd_shared_store. */
struct cmd_shared {
    const char **invs;          /* -i SRC, in the order given (any number) */
    size_t ninv;                /* entries */
    json_t *extra;              /* -e NAME=VALUE and -e @FILE, merged */
    int forks;                  /* --forks (SSHOPT_FORKS_DEFAULT) */
    int64_t lock_wait_ms;       /* --lock-wait (0: fail at once) */
    const char *store;          /* --store URL (NULL: not given) */
    const char *state_dir;      /* --state-dir; after cmd_shared_store the
                                   state directory of the store selected
                                   (NULL: the default, statedir.h) */
    struct storesel sel;        /* what cmd_shared_store selected */
    struct ssh_options ssh;     /* the SSH options */
    struct agent_options agent; /* --coordinator-key, --known-agents; its
                                   accept_new and connect_timeout_ms are
                                   the SSH options' */
};

/* What cmd_shared_opt returns besides an exit status. */
enum { CMD_SHARED_TAKEN = -1, CMD_SHARED_NOT_MINE = -2 };

/* Defaults, with room for argc -i. Release with cmd_shared_release. */
void cmd_shared_init(struct cmd_shared *s, int argc);
void cmd_shared_release(struct cmd_shared *s);

/* Apply getopt_long's opt with its argument to s: CMD_SHARED_TAKEN,
 * CMD_SHARED_NOT_MINE when opt is not a shared flag, else the exit status
 * after saying why on stderr: a usage error of c (cmd_usage_error: a bad
 * --forks, -e, --lock-wait or SSH option), EXIT_INPUT for an -e @FILE
 * that cannot be read ("drover NAME: file:line:col: ..."). Keys that
 * mean something else in a command (keygen's and show's -f) are its own:
 * such a command handles them in its own cases, before this (keygen does
 * not call it). */
int cmd_shared_opt(const struct cmd *c, struct cmd_shared *s, int opt,
                   const char *arg);

/* cmd_shared_opt for a command that returns at once: CMD_SHARED_TAKEN,
 * else the exit status to return (an option that is not a shared one is
 * a usage error, "unknown option or missing argument"), s released. */
int cmd_shared_opt_quit(const struct cmd *c, struct cmd_shared *s, int opt,
                        const char *arg);

/* Select the store (storesel.h: --store, --state-dir, $DROVER_STORE,
 * $DROVER_STATE_DIR, the config files, the default) into s->state_dir:
 * EXIT_OK, else EXIT_USAGE after saying why on stderr ("drover NAME:
 * --store etcd://...: this build has no 'etcd' backend ..."). */
int cmd_shared_store(const struct cmd *c, struct cmd_shared *s);

/* For a command that only reads the journal: cmd_shared_store, then the
 * selected journal opened read-only (store_open_state) into *out; s is
 * released either way. The exit status of a refused selection, else
 * EXIT_OK, with *out NULL and e set when the journal cannot be opened
 * (ERR_NOTFOUND: no deploy has run with that store). */
int cmd_shared_journal(const struct cmd *c, struct cmd_shared *s,
                       struct store **out, struct err *e);

/* A plan's or inventory's diagnostics, or e's message when there are
 * none, on stderr through the redaction of every line (log_write). */
void cmd_print_diags(const struct buf *diags, const struct err *e);

/* The reference of docs/cli.md between its generated markers: each of
 * cmds[0..n) with its options, the SSH options, the exit statuses. */
void cmd_markdown(const struct cmd *const *cmds, size_t n, FILE *f);

/* The exit status of a deploy's verdict (docs/cli.md). */
int cmd_verdict_status(enum deploy_verdict v);

/* The exit status of runner_run's outcome: the verdict's when the engine
 * ran (res), EXIT_USAGE when a transport could not be made, else
 * EXIT_INTERNAL. */
int cmd_runner_status(enum runner_outcome o, const struct deploy_result *res);

/* The commands that continue a journaled deploy (resume, promote, abort,
 * rollback: mode) share one parser and one mapping of the outcome to an
 * exit status (cmd_resume.c). argv as given to the subcommand. */
int cmd_resume_main(enum resume_mode mode, int argc, char **argv);

/* Their options (cmd_resume.c). */
extern const struct cmd_opt cmd_resume_opts[];

/* One exit status and what it means: the table of docs/cli.md. */
struct cmd_exit {
    int status;          /* enum drover_exit */
    const char *meaning; /* when drover exits with it */
};

/* Every exit status, in order, ending with a NULL meaning. */
extern const struct cmd_exit cmd_exits[];

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
