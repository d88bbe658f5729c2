/* coordinator/cmd_run.c: `drover run`: one command on many hosts over ssh,
 * like pdsh. Each output line is prefixed with its host; every host gets a
 * result line, then a summary; the exit status says whether all went
 * well (0), some failed (EXIT_FAILED) or only some were unreachable
 * (EXIT_UNREACHABLE). Results on stdout, logs and remote stderr on
 * stderr. --forks bounds the hosts in flight. */
#include "buf.h"
#include "clock.h"
#include "cmd.h"
#include "duration.h"
#include "agentconn.h"
#include "cmdwrap.h"
#include "hostaddr.h"
#include "inventory.h"
#include "jsonout.h"
#include "log.h"
#include "loop.h"
#include "redact.h"
#include "rollout.h"
#include "ssh.h"
#include "sshopt.h"
#include "transport.h"
#include "transports.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    RUN_LINE_MAX = 64 * 1024 /* a longer line is printed in pieces */
};

enum run_state {
    RUN_WAITING,    /* not started (--forks) */
    RUN_ACTIVE,     /* connecting or running */
    RUN_OK,         /* exit 0 */
    RUN_FAILED,     /* non-zero exit, signal, timeout, host key, auth */
    RUN_UNREACHABLE /* could not connect */
};

struct run;

struct run_host {
    struct run *run;      /* owner */
    const char *name;     /* inventory_hostname (borrowed) */
    struct hostaddr addr; /* where it is, through which transport */
    struct conn *conn;    /* while active */
    bool running;         /* its command was started on conn */
    struct buf line[2];   /* partial stdout / stderr line */
    enum run_state state; /* see enum */
};

struct run {
    struct loop *loop;                  /* the reactor */
    struct transport *t;                /* the set the hosts need
                                           (transports.h) */
    struct run_host *hosts;             /* selected hosts, inventory order */
    size_t n;                           /* number of hosts */
    size_t next;                        /* next host to start */
    size_t active;                      /* hosts in flight */
    size_t finished;                    /* hosts with a result */
    size_t forks;                       /* most hosts in flight */
    int64_t timeout_ms;                 /* per command, 0: none */
    const char *command;                /* the command line */
    struct cmdwrap wrap;                /* command + secrets on stdin */
    bool json;                          /* --json: one JSON event a line */
    bool interrupted;                   /* Ctrl-C: cancel, start nothing new */
    size_t counts[RUN_UNREACHABLE + 1]; /* hosts per final state */
};

static void run_start_next(struct run *r);

/* One JSON event on stdout, redacted (jsonout.h); ev is consumed. */
static void run_print_json(json_t *ev)
{
    if (ev != NULL)
        jsonout_print(stdout, ev, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(ev);
}

/* A JSON string of the n bytes at p; a placeholder when they are not
 * UTF-8. */
static json_t *run_json_text(const char *p, size_t n)
{
    json_t *v = json_stringn(p, n);
    return v != NULL ? v : json_string("(output is not UTF-8)");
}

/* The options of `drover run`, one row each (cmd.h). */
static const struct cmd_opt run_opts[] = {
    CMD_OPT_INVENTORY(", repeatable"),
    SSHOPT_FORKS_OPT,
    {"timeout", 't', CMD_OPT_SHORT, "DUR",
     "per-host command timeout (30s, 5m); the remote process group is "
     "killed"},
    {"verbose", 'v', CMD_OPT_SHORT, NULL, "log connection progress to stderr"},
    {"secret-env", 'E', 0, "NAME",
     "pass environment variable NAME to the command on stdin, never on its "
     "command line; its value is redacted (repeatable)"},
    {"json", 'J', 0, NULL, "one JSON event per line: output, result, summary"},
    CMD_OPT_AGENT_KEY,
    CMD_OPT_KNOWN_AGENTS,
    CMD_OPT_HELP,
    CMD_OPT_END,
};

/* Print one complete line of a host's output (without its newline):
 * through log_out, so it is redacted as every log line is. */
static void run_print_line(struct run_host *h, int stream, const char *p,
                           size_t n)
{
    if (h->run->json) {
        run_print_json(json_pack("{s:s, s:s, s:s, s:o}", "event", "output",
                                 "host", h->name, "stream",
                                 stream == EXEC_STDOUT ? "stdout" : "stderr",
                                 "line", run_json_text(p, n)));
        return;
    }
    FILE *f = stream == EXEC_STDOUT ? stdout : stderr;
    log_out(f, "%s: %.*s", h->name, (int)n, p);
}

static void run_flush_lines(struct run_host *h)
{
    for (int s = 0; s < 2; s++) {
        if (h->line[s].len > 0)
            run_print_line(h, s + 1, buf_cstr(&h->line[s]), h->line[s].len);
        buf_release(&h->line[s]);
    }
}

static void run_finish(struct run_host *h, enum run_state st, const char *what,
                       int64_t elapsed_ms)
{
    struct run *r = h->run;
    run_flush_lines(h);
    h->state = st;
    r->counts[st]++;
    r->finished++;
    r->active--;
    static const char *const tags[] = {"", "", "ok", "failed", "unreachable"};
    if (r->json) {
        json_t *ev = json_pack("{s:s, s:s, s:s, s:o}", "event", "result",
                               "host", h->name, "result", tags[st], "message",
                               run_json_text(what, strlen(what)));
        if (ev != NULL && elapsed_ms >= 0)
            json_object_set_new(ev, "elapsed_ms", json_integer(elapsed_ms));
        run_print_json(ev);
    } else if (elapsed_ms >= 0) {
        char d[32];
        clock_fmt_duration(elapsed_ms, d, sizeof(d));
        log_out(stdout, "%s: [%s] %s (%s)", h->name, tags[st], what, d);
    } else {
        log_out(stdout, "%s: [%s] %s", h->name, tags[st], what);
    }
    conn_close(h->conn);
    h->conn = NULL;
    run_start_next(r);
    if (r->finished == r->n)
        loop_stop(r->loop);
}

static void run_opened(struct conn *c, const struct err *e, void *arg)
{
    struct run_host *h = arg;
    if (e != NULL) {
        enum run_state st = e->code == ERR_UNREACHABLE || e->code == ERR_TIMEOUT
                                ? RUN_UNREACHABLE
                                : RUN_FAILED;
        run_finish(h, st, e->msg, -1);
        return;
    }
    if (h->run->interrupted) {
        run_finish(h, RUN_FAILED, "interrupted", -1);
        return;
    }
    struct exec_spec s = {.command = h->run->wrap.command,
                          .input = h->run->wrap.input,
                          .input_len = h->run->wrap.input_len,
                          .timeout_ms = h->run->timeout_ms};
    struct err xe = {0};
    if (conn_exec(c, &s, &xe) != ERR_OK)
        run_finish(h, RUN_FAILED, xe.msg, -1);
    else
        h->running = true;
}

static void run_output(struct conn *c, int stream, const char *data, size_t len,
                       void *arg)
{
    (void)c;
    struct run_host *h = arg;
    struct buf *b = &h->line[stream == EXEC_STDOUT ? 0 : 1];
    while (len > 0) {
        const char *nl = memchr(data, '\n', len);
        size_t take = nl ? (size_t)(nl - data) : len;
        if (b->len > 0 || nl == NULL) {
            buf_add(b, data, take);
            if (nl != NULL || b->len >= RUN_LINE_MAX) {
                run_print_line(h, stream, buf_cstr(b), b->len);
                buf_reset(b);
            }
        } else {
            run_print_line(h, stream, data, take);
        }
        data += take + (nl ? 1 : 0);
        len -= take + (nl ? 1 : 0);
    }
}

static void run_done(struct conn *c, const struct exec_result *res, void *arg)
{
    (void)c;
    struct run_host *h = arg;
    char what[ERR_MSG_MAX + 32];
    exec_result_str(res, what, sizeof(what));
    run_finish(h, exec_result_ok(res) ? RUN_OK : RUN_FAILED, what,
               res->elapsed_ms);
}

static const struct conn_cb run_cb = {
    .opened = run_opened,
    .output = run_output,
    .done = run_done,
};

static void run_start_next(struct run *r)
{
    while (!r->interrupted && r->active < r->forks && r->next < r->n) {
        struct run_host *h = &r->hosts[r->next++];
        struct target tg = hostaddr_target(&h->addr, h->name);
        h->state = RUN_ACTIVE;
        r->active++;
        h->conn = transport_connect(r->t, &tg, &run_cb, h);
    }
    /* After Ctrl-C the hosts never started finish here, as failed. */
    while (r->interrupted && r->next < r->n) {
        struct run_host *h = &r->hosts[r->next++];
        r->active++;
        run_finish(h, RUN_FAILED, "not started (interrupted)", -1);
    }
}

static void run_sigint(struct loop *l, int signo, void *arg)
{
    (void)l;
    struct run *r = arg;
    if (r->interrupted) {
        log_out(stderr, "drover: interrupted twice, leaving now");
        fflush(stdout);
        _exit(EXIT_FAILED);
    }
    log_warn("interrupted (%s): cancelling running commands (again to "
             "leave at once)",
             signo == SIGTERM ? "SIGTERM" : "Ctrl-C");
    r->interrupted = true;
    for (size_t i = 0; i < r->n; i++) {
        struct run_host *h = &r->hosts[i];
        if (h->state != RUN_ACTIVE || h->conn == NULL)
            continue;
        if (h->running)
            conn_cancel(h->conn);
        else /* still connecting: waiting for the handshake helps nobody */
            run_finish(h, RUN_FAILED, "interrupted while connecting", -1);
    }
    run_start_next(r);
}

static enum err_code run_hosts(struct run *r, const struct inventory *inv,
                               const char *pattern, struct err *e)
{
    const struct inv_host **sel = NULL;
    size_t n = 0;
    if (inv_select(inv, pattern, &sel, &n, e) != ERR_OK)
        return e->code;
    r->hosts = xcalloc(n ? n : 1, sizeof(*r->hosts));
    r->n = n;
    for (size_t i = 0; i < n; i++) {
        struct run_host *h = &r->hosts[i];
        h->run = r;
        h->name = inv_host_name(sel[i]);
        struct err ae = {0};
        if (hostaddr_of(inv, sel[i], &h->addr, &ae) != ERR_OK) {
            err_set(e, ERR_INVALID, "host %s: %s", h->name, ae.msg);
            free(sel);
            return e->code;
        }
        buf_init(&h->line[0], BUF_UNLIMITED);
        buf_init(&h->line[1], BUF_UNLIMITED);
        /* as deploy does: secret-looking inventory variables (an
         * ansible_password, a db_token) never reach the output */
        rollout_secret_vars(redact_global(), inv_host_vars(inv, sel[i]));
    }
    free(sel);
    return ERR_OK;
}

/* The transports the selected hosts need, in one set: one nobody uses
 * is not created, so its key need not exist. */
static enum err_code run_transports(struct run *r, const struct ssh_options *so,
                                    const struct agent_options *ao,
                                    struct err *e)
{
    struct transport_options to = {.ssh = so, .agent = ao};
    r->t = transports_new(r->loop, &to);
    for (size_t i = 0; i < r->n; i++)
        transports_want(r->t, r->hosts[i].addr.kind);
    return transports_open(r->t, e);
}

static void run_release(struct run *r)
{
    for (size_t i = 0; i < r->n; i++) {
        conn_close(r->hosts[i].conn);
        hostaddr_release(&r->hosts[i].addr);
        buf_wipe(&r->hosts[i].line[0]);
        buf_wipe(&r->hosts[i].line[1]);
    }
    cmdwrap_release(&r->wrap);
    free(r->hosts);
    transport_free(r->t);
    loop_free(r->loop);
}

/* The command, with the room cmd_run_run made: sh for the shared flags,
 * secret_names and secret_values for argc --secret-env each. */
static int cmd_run_main(int argc, char **argv, struct cmd_shared *sh,
                        const char **secret_names, const char **secret_values)
{
    /* Everything after "--" is the command; before it, flags and the
     * pattern (getopt must not read the command's own flags). */
    int cmd_at = -1;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--") == 0) {
            cmd_at = i;
            break;
        }
    int optc = cmd_at >= 0 ? cmd_at : argc;

    struct option opts[CMD_OPTS_MAX + 1];
    char shortopts[3 * CMD_OPTS_MAX + 2];
    cmd_getopt(&cmd_run, "", opts, shortopts);
    size_t nsecrets = 0;
    bool json = false;
    int64_t timeout_ms = 0;
    struct err e = {0};
    int c;
    optind = 0;
    while ((c = getopt_long(optc, argv, shortopts, opts, NULL)) != -1) {
        switch (c) {
        case 't':
            if (duration_parse(optarg, &timeout_ms, &e) != ERR_OK) {
                log_out(stderr, "drover run: --timeout: %s", e.msg);
                return EXIT_USAGE;
            }
            break;
        case 'v':
            log_set_level(LOG_DEBUG);
            break;
        case 'E':
            if (!cmdwrap_valid_name(optarg)) {
                log_out(stderr,
                        "drover run: --secret-env '%s': expected an "
                        "environment variable name",
                        optarg);
                return EXIT_USAGE;
            }
            secret_values[nsecrets] = getenv(optarg);
            if (secret_values[nsecrets] == NULL) {
                log_out(stderr,
                        "drover run: --secret-env %s is not set in drover's "
                        "environment",
                        optarg);
                return EXIT_USAGE;
            }
            /* before anything is printed */
            redact_add(redact_global(), secret_values[nsecrets]);
            secret_names[nsecrets++] = optarg;
            break;
        case 'J':
            json = true;
            break;
        case 'h':
            cmd_help(&cmd_run, stdout);
            return EXIT_OK;
        default: {
            int rc = cmd_shared_opt(&cmd_run, sh, c, optarg);
            if (rc == CMD_SHARED_TAKEN)
                break;
            if (rc == CMD_SHARED_NOT_MINE)
                rc = cmd_usage_error(&cmd_run,
                                     "unknown option or missing argument");
            return rc;
        }
        }
    }
    /* getopt permuted the pattern behind the flags (only argv before
     * "--" was given to it, so the command is untouched). */
    const char *pattern = optind < optc ? argv[optind] : NULL;
    if (optind + 1 < optc) {
        log_out(stderr, "drover run: %s '%s': one PATTERN, then -- COMMAND",
                cmd_at < 0 ? "missing -- before the command" : "unexpected",
                argv[optind + 1]);
        return EXIT_USAGE;
    }
    if (pattern == NULL || sh->ninv == 0 || cmd_at < 0 || cmd_at + 1 >= argc)
        return cmd_usage_error(&cmd_run, "%s",
                               sh->ninv == 0     ? "no inventory: give -i FILE"
                               : pattern == NULL ? "no host PATTERN"
                               : cmd_at < 0      ? "missing -- before the "
                                                   "command"
                                                 : "no COMMAND after --");
    /* The command: the words after "--", joined with spaces (as ssh). */
    struct buf cmdline;
    buf_init(&cmdline, BUF_UNLIMITED);
    for (int i = cmd_at + 1; i < argc; i++) {
        if (i > cmd_at + 1)
            buf_addc(&cmdline, ' ');
        buf_adds(&cmdline, argv[i]);
    }

    int rc = EXIT_INTERNAL;
    struct inventory *inv = inv_new();
    struct run r;
    memset(&r, 0, sizeof(r));
    for (size_t i = 0; i < sh->ninv; i++)
        if (inv_load(inv, sh->invs[i], &e) != ERR_OK) {
            log_out(stderr, "drover run: %s", e.msg);
            rc = EXIT_INPUT;
            goto out;
        }
    if (run_hosts(&r, inv, pattern, &e) != ERR_OK) {
        log_out(stderr, "drover run: %s", e.msg);
        rc = EXIT_INPUT;
        goto out;
    }
    if (r.n == 0) {
        log_out(stderr, "drover run: no hosts match '%s'", pattern);
        rc = EXIT_USAGE;
        goto out;
    }
    r.loop = loop_new(&e);
    if (r.loop == NULL) {
        log_out(stderr, "drover run: %s", e.msg);
        goto out;
    }
    if (run_transports(&r, &sh->ssh, &sh->agent, &e) != ERR_OK) {
        log_out(stderr, "drover run: %s", e.msg);
        rc = e.code == ERR_SYS || e.code == ERR_PARSE || e.code == ERR_AUTH
                 ? EXIT_INPUT
                 : EXIT_INTERNAL;
        goto out;
    }
    if (loop_signal(r.loop, SIGINT, run_sigint, &r, &e) != 0 ||
        loop_signal(r.loop, SIGTERM, run_sigint, &r, &e) != 0)
        log_warn("%s: Ctrl-C will not cancel remote commands", e.msg);
    r.forks = (size_t)sh->forks;
    r.timeout_ms = timeout_ms;
    r.command = buf_cstr(&cmdline);
    r.json = json;
    /* secrets travel on stdin into the command's environment, never on
     * its command line (docs/run.md) */
    if (cmdwrap_build(
            &r.wrap, r.command, NULL, (const char *const *)secret_names,
            (const char *const *)secret_values, nsecrets, &e) != ERR_OK) {
        log_out(stderr, "drover run: %s", e.msg);
        rc = EXIT_USAGE;
        goto out;
    }
    int64_t t0 = clock_mono_ms();
    run_start_next(&r);
    while (r.finished < r.n)
        if (loop_run(r.loop, &e) != 0) {
            log_out(stderr, "drover run: %s", e.msg);
            goto out;
        }
    char d[32];
    int64_t took = clock_mono_ms() - t0;
    clock_fmt_duration(took, d, sizeof(d));
    if (r.json)
        run_print_json(json_pack(
            "{s:s, s:I, s:I, s:I, s:I, s:I}", "event", "summary", "hosts",
            (json_int_t)r.n, "ok", (json_int_t)r.counts[RUN_OK], "failed",
            (json_int_t)r.counts[RUN_FAILED], "unreachable",
            (json_int_t)r.counts[RUN_UNREACHABLE], "elapsed_ms",
            (json_int_t)took));
    else
        log_out(stdout, "%zu host%s: %zu ok, %zu failed, %zu unreachable (%s)",
                r.n, r.n == 1 ? "" : "s", r.counts[RUN_OK],
                r.counts[RUN_FAILED], r.counts[RUN_UNREACHABLE], d);
    rc = r.counts[RUN_FAILED]        ? EXIT_FAILED
         : r.counts[RUN_UNREACHABLE] ? EXIT_UNREACHABLE
                                     : EXIT_OK;
out:
    run_release(&r);
    inv_free(inv);
    buf_release(&cmdline);
    return rc;
}

static int cmd_run_run(int argc, char **argv)
{
    struct cmd_shared sh;
    cmd_shared_init(&sh, argc);
    /* every --secret-env given: no cap */
    const char **names = xcalloc((size_t)argc + 1, sizeof(*names));
    const char **values = xcalloc((size_t)argc + 1, sizeof(*values));
    int rc = cmd_run_main(argc, argv, &sh, names, values);
    free(names);
    free(values);
    cmd_shared_release(&sh);
    return rc;
}

const struct cmd cmd_run = {
    .name = "run",
    .usage = "run -i INVENTORY [options] PATTERN -- COMMAND",
    .summary = "run a command on many hosts (ssh or agents), like pdsh",
    .run = cmd_run_run,
    .opts = run_opts,
    .ssh = true,
};
