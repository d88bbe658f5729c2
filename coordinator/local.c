/* coordinator/local.c: run commands on this machine with posix_spawn,
 * each in its own process group, driven by the loop: pipes for the three
 * streams, SIGCHLD through the loop's signalfd, timers for timeouts. */
#include "local.h"

#include "buf.h"
#include "clock.h"
#include "log.h"
#include "loop.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

struct local_conn;

struct local_transport {
    struct transport base;     /* must be first */
    struct loop *loop;         /* the reactor */
    struct local_conn **conns; /* open conns, for SIGCHLD dispatch */
    size_t nconns;
    size_t capconns;
};

struct local_conn {
    struct conn base;             /* must be first */
    struct local_transport *lt;   /* owner */
    char *name;                   /* host name, for messages */
    struct loop_timer open_timer; /* reports "opened" from the loop */
    pid_t pid;                    /* running child (its pgid too), or 0 */
    int status;                   /* wait status once reaped */
    bool reaped;                  /* the child has been waited for */
    struct loop_io out_io;        /* stdout pipe */
    struct loop_io err_io;        /* stderr pipe */
    struct loop_io in_io;         /* stdin pipe while input remains */
    const char *input;            /* stdin bytes (copied in inbuf) */
    struct buf inbuf;             /* stdin left to write */
    struct loop_timer timeout;    /* the step's deadline */
    struct loop_timer kill;       /* KILL after the TERM grace */
    enum exec_end forced;         /* TIMEOUT/CANCELLED when we killed it */
    int64_t timeout_ms;           /* for the message */
    int64_t started_ms;           /* for elapsed_ms */
};

static void local_conn_check_done(struct local_conn *c);

static void local_close_io(struct loop *l, struct loop_io *io)
{
    if (io->fd < 0)
        return;
    loop_io_stop(l, io);
    close(io->fd);
    io->fd = -1;
}

static void local_read(struct loop *l, struct loop_io *io, unsigned ev,
                       void *arg)
{
    (void)ev;
    struct local_conn *c = arg;
    int stream = io == &c->out_io ? EXEC_STDOUT : EXEC_STDERR;
    char chunk[16384];
    for (;;) {
        ssize_t n = read(io->fd, chunk, sizeof(chunk));
        if (n > 0) {
            if (c->base.cb->output)
                c->base.cb->output(&c->base, stream, chunk, (size_t)n,
                                   c->base.arg);
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        local_close_io(l, io); /* EOF or error */
        local_conn_check_done(c);
        return;
    }
}

static void local_write(struct loop *l, struct loop_io *io, unsigned ev,
                        void *arg)
{
    (void)ev;
    struct local_conn *c = arg;
    while (c->inbuf.len > 0) {
        ssize_t n = write(io->fd, c->inbuf.data, c->inbuf.len);
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0)
            break; /* EPIPE: the command does not read its input */
        buf_consume(&c->inbuf, (size_t)n);
    }
    local_close_io(l, io);
    buf_wipe(&c->inbuf);
}

static void local_kill(struct local_conn *c, int sig)
{
    if (c->pid > 0 && !c->reaped)
        kill(-c->pid, sig);
}

static void local_on_kill(struct loop *l, struct loop_timer *t, void *arg)
{
    (void)l;
    (void)t;
    local_kill(arg, SIGKILL);
}

static void local_force(struct local_conn *c, enum exec_end why)
{
    if (c->forced != EXEC_EXITED)
        return;
    c->forced = why;
    local_kill(c, SIGTERM);
    loop_timer_start(c->lt->loop, &c->kill, LOCAL_KILL_GRACE_MS);
}

static void local_on_timeout(struct loop *l, struct loop_timer *t, void *arg)
{
    (void)l;
    (void)t;
    local_force(arg, EXEC_TIMEOUT);
}

/* The command is over when it has been reaped and both pipes hit EOF. */
static void local_conn_check_done(struct local_conn *c)
{
    struct loop *l = c->lt->loop;
    if (c->pid == 0 || !c->reaped || c->out_io.fd >= 0 || c->err_io.fd >= 0)
        return;
    local_close_io(l, &c->in_io);
    buf_wipe(&c->inbuf);
    loop_timer_stop(l, &c->timeout);
    loop_timer_stop(l, &c->kill);
    struct exec_result r;
    memset(&r, 0, sizeof(r));
    r.elapsed_ms = clock_mono_ms() - c->started_ms;
    char dur[32];
    if (c->forced == EXEC_TIMEOUT) {
        r.end = EXEC_TIMEOUT;
        err_set(&r.err, ERR_TIMEOUT, "no exit after %s; process group killed",
                clock_fmt_duration(c->timeout_ms, dur, sizeof(dur)));
    } else if (c->forced == EXEC_CANCELLED) {
        r.end = EXEC_CANCELLED;
    } else if (WIFSIGNALED(c->status)) {
        r.end = EXEC_SIGNALED;
        const char *abbrev = sigabbrev_np(WTERMSIG(c->status));
        snprintf(r.signal, sizeof(r.signal), "%s", abbrev ? abbrev : "UNKNOWN");
    } else {
        r.end = EXEC_EXITED;
        r.exit_code = WEXITSTATUS(c->status);
    }
    c->pid = 0;
    c->base.cb->done(&c->base, &r, c->base.arg);
}

static void local_on_sigchld(struct loop *l, int signo, void *arg)
{
    (void)l;
    (void)signo;
    struct local_transport *lt = arg;
    for (size_t i = 0; i < lt->nconns; i++) {
        struct local_conn *c = lt->conns[i];
        if (c->pid <= 0 || c->reaped)
            continue;
        int st;
        pid_t r = waitpid(c->pid, &st, WNOHANG);
        if (r == c->pid) {
            c->status = st;
            c->reaped = true;
            /* The group may live on (a background child holding the
             * pipes): it is part of the step, so end it. */
            kill(-c->pid, SIGKILL);
        }
    }
    /* done callbacks may open and close conns (reordering the table):
     * rescan from the start after each one. */
    for (bool again = true; again;) {
        again = false;
        for (size_t i = 0; i < lt->nconns; i++) {
            struct local_conn *c = lt->conns[i];
            if (c->pid > 0 && c->reaped && c->out_io.fd < 0 &&
                c->err_io.fd < 0) {
                local_conn_check_done(c);
                again = true;
                break;
            }
        }
    }
}

static void local_on_open(struct loop *l, struct loop_timer *t, void *arg)
{
    (void)l;
    (void)t;
    struct local_conn *c = arg;
    c->base.cb->opened(&c->base, NULL, c->base.arg);
}

static struct conn *local_connect(struct transport *t, const struct target *tg,
                                  const struct conn_cb *cb, void *arg)
{
    struct local_transport *lt = (struct local_transport *)t;
    struct local_conn *c = xcalloc(1, sizeof(*c));
    c->base.t = t;
    c->base.cb = cb;
    c->base.arg = arg;
    c->lt = lt;
    c->name = xstrdup(tg->name ? tg->name : "localhost");
    c->out_io.fd = c->err_io.fd = c->in_io.fd = -1;
    buf_init(&c->inbuf, BUF_UNLIMITED);
    loop_timer_init(&c->open_timer, local_on_open, c);
    loop_timer_init(&c->timeout, local_on_timeout, c);
    loop_timer_init(&c->kill, local_on_kill, c);
    if (lt->nconns == lt->capconns) {
        lt->capconns = lt->capconns ? lt->capconns * 2 : 16;
        lt->conns = xrealloc(lt->conns, lt->capconns * sizeof(*lt->conns));
    }
    lt->conns[lt->nconns++] = c;
    loop_timer_start(lt->loop, &c->open_timer, 0);
    return &c->base;
}

static int local_pipe(int fds[2], struct err *e)
{
    if (pipe2(fds, O_CLOEXEC) < 0)
        return err_sys(e, "pipe"), -1;
    return 0;
}

static enum err_code local_exec(struct conn *cn, const struct exec_spec *s,
                                struct err *e)
{
    struct local_conn *c = (struct local_conn *)cn;
    struct loop *l = c->lt->loop;
    if (c->pid != 0)
        return err_set(e, ERR_INVALID, "host %s: a command is already running",
                       c->name);
    int po[2] = {-1, -1}, pe[2] = {-1, -1}, pi[2] = {-1, -1};
    if (local_pipe(po, e) < 0 || local_pipe(pe, e) < 0 ||
        local_pipe(pi, e) < 0) {
        int *all[] = {po, pe, pi};
        for (size_t i = 0; i < 3; i++)
            for (size_t k = 0; k < 2; k++)
                if (all[i][k] >= 0)
                    close(all[i][k]);
        return ERR_SYS;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pi[0], 0);
    posix_spawn_file_actions_adddup2(&fa, po[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
    posix_spawnattr_t at;
    posix_spawnattr_init(&at);
    sigset_t none, dfl;
    sigemptyset(&none);
    sigfillset(&dfl);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &dfl);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP |
                                      POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
    char *argv[] = {(char *)"/bin/sh", (char *)"-c", (char *)s->command, NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, "/bin/sh", &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(pi[0]);
    close(po[1]);
    close(pe[1]);
    if (rc != 0) {
        close(pi[1]);
        close(po[0]);
        close(pe[0]);
        errno = rc;
        return err_sys(e, "host %s: cannot start /bin/sh", c->name);
    }
    c->pid = pid;
    c->reaped = false;
    c->forced = EXEC_EXITED;
    c->timeout_ms = s->timeout_ms;
    c->started_ms = clock_mono_ms();
    fcntl(po[0], F_SETFL, O_NONBLOCK);
    fcntl(pe[0], F_SETFL, O_NONBLOCK);
    fcntl(pi[1], F_SETFL, O_NONBLOCK);
    loop_io_init_fd(&c->out_io, po[0], local_read, c);
    loop_io_init_fd(&c->err_io, pe[0], local_read, c);
    loop_io_init_fd(&c->in_io, pi[1], local_write, c);
    loop_io_start(l, &c->out_io, LOOP_READ);
    loop_io_start(l, &c->err_io, LOOP_READ);
    buf_reset(&c->inbuf);
    if (s->input != NULL && s->input_len > 0)
        buf_add(&c->inbuf, s->input, s->input_len);
    loop_io_start(l, &c->in_io, LOOP_WRITE);
    if (s->timeout_ms > 0)
        loop_timer_start(l, &c->timeout, s->timeout_ms);
    return ERR_OK;
}

static void local_cancel(struct conn *cn)
{
    local_force((struct local_conn *)cn, EXEC_CANCELLED);
}

static void local_close(struct conn *cn)
{
    struct local_conn *c = (struct local_conn *)cn;
    struct local_transport *lt = c->lt;
    struct loop *l = lt->loop;
    if (c->pid > 0 && !c->reaped) {
        kill(-c->pid, SIGKILL);
        waitpid(c->pid, NULL, 0);
    }
    local_close_io(l, &c->out_io);
    local_close_io(l, &c->err_io);
    local_close_io(l, &c->in_io);
    loop_timer_stop(l, &c->open_timer);
    loop_timer_stop(l, &c->timeout);
    loop_timer_stop(l, &c->kill);
    buf_wipe(&c->inbuf);
    for (size_t i = 0; i < lt->nconns; i++)
        if (lt->conns[i] == c) {
            lt->conns[i] = lt->conns[--lt->nconns];
            break;
        }
    free(c->name);
    free(c);
}

static void local_free(struct transport *t)
{
    struct local_transport *lt = (struct local_transport *)t;
    free(lt->conns);
    free(lt);
}

static const struct transport_ops local_ops = {
    .name = "local",
    .connect = local_connect,
    .exec = local_exec,
    .cancel = local_cancel,
    .close = local_close,
    .free = local_free,
};

struct transport *local_transport_new(struct loop *l, struct err *e)
{
    struct local_transport *lt = xcalloc(1, sizeof(*lt));
    lt->base.ops = &local_ops;
    lt->loop = l;
    if (loop_signal(l, SIGCHLD, local_on_sigchld, lt, e) < 0) {
        free(lt);
        return NULL;
    }
    /* A step's command that closes stdin early must not kill us. */
    signal(SIGPIPE, SIG_IGN);
    return &lt->base;
}
