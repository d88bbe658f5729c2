/* agent/job.c: spawning, feeding, reading and reaping one command. A job
 * is over when its leader is reaped and its pipes are closed (or have
 * lingered JOB_LINGER_MS after the leader exited, for daemons that keep
 * them), and, after a kill, when the grace period has passed so the whole
 * group has had its SIGKILL. */
#include "job.h"

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
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

struct job {
    struct job_table *table;     /* owner of the process list */
    struct job *next;            /* in table->jobs */
    const struct job_cb *cb;     /* callbacks (borrowed) */
    void *arg;                   /* passed to the callbacks */
    pid_t pid;                   /* leader and process group id */
    int64_t started_ms;          /* monotonic spawn time */
    int fd_in;                   /* stdin pipe, -1 when closed */
    int fd_out[2];               /* stdout and stderr pipes, -1 when closed */
    struct loop_io io_in;        /* fd_in on the loop */
    struct loop_io io_out[2];    /* fd_out on the loop */
    char *input;                 /* stdin bytes not yet written (wiped) */
    size_t input_len;            /* bytes in input */
    size_t input_off;            /* bytes written */
    struct loop_timer t_timeout; /* the job's timeout */
    struct loop_timer t_kill;    /* TERM -> KILL grace */
    struct loop_timer t_linger;  /* EOF wait after the leader exited */
    int64_t kill_grace_ms;       /* grace between TERM and KILL */
    enum job_end killed;         /* JOB_TIMEOUT/JOB_CANCELLED once killed */
    bool kill_pending;           /* TERM sent, KILL not yet */
    bool reaped;                 /* waitpid returned the leader */
    int status;                  /* its wait status */
    bool paused;                 /* output reading stopped (backpressure) */
    bool detached;               /* job_free while running: no callbacks */
    bool finished;               /* done was called */
};

struct job_table {
    struct loop *loop; /* the loop with the SIGCHLD watch */
    struct job *jobs;  /* live jobs */
    size_t n;          /* how many */
};

static void job_check_done(struct job *j);

const char *job_signame(int signo, char *out, size_t outlen)
{
    const char *abbrev = sigabbrev_np(signo);
    if (abbrev != NULL)
        snprintf(out, outlen, "%s", abbrev);
    else
        snprintf(out, outlen, "SIG%d", signo);
    return out;
}

static void job_unlink(struct job *j)
{
    struct job_table *t = j->table;
    for (struct job **pp = &t->jobs; *pp != NULL; pp = &(*pp)->next)
        if (*pp == j) {
            *pp = j->next;
            t->n--;
            return;
        }
}

static void job_close_fd(struct job *j, int *fd, struct loop_io *io)
{
    if (*fd < 0)
        return;
    loop_io_stop(j->table->loop, io);
    close(*fd);
    *fd = -1;
}

static void job_release(struct job *j)
{
    struct loop *l = j->table->loop;
    job_close_fd(j, &j->fd_in, &j->io_in);
    job_close_fd(j, &j->fd_out[0], &j->io_out[0]);
    job_close_fd(j, &j->fd_out[1], &j->io_out[1]);
    loop_timer_stop(l, &j->t_timeout);
    loop_timer_stop(l, &j->t_kill);
    loop_timer_stop(l, &j->t_linger);
    if (j->input != NULL) {
        explicit_bzero(j->input, j->input_len);
        free(j->input);
        j->input = NULL;
    }
}

static void job_sigchld(struct loop *l, int signo, void *arg)
{
    (void)l;
    (void)signo;
    struct job_table *t = arg;
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (struct job *j = t->jobs; j != NULL; j = j->next) {
            if (j->pid != pid)
                continue;
            j->reaped = true;
            j->status = status;
            if (j->detached) {
                job_unlink(j);
                job_release(j);
                free(j);
            } else {
                job_check_done(j);
            }
            break;
        }
    }
    /* a reaped grandchild may have been the last of a killed group */
    for (struct job *j = t->jobs, *next; j != NULL; j = next) {
        next = j->next;
        if (j->reaped && j->kill_pending)
            job_check_done(j);
    }
}

struct job_table *job_table_new(struct loop *l, struct err *e)
{
    struct job_table *t = xcalloc(1, sizeof(*t));
    t->loop = l;
    /* orphaned grandchildren come to us, not to init: we reap them, so a
     * killed group is seen to be gone at once, and no zombie lingers in a
     * container whose init does not reap */
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
        log_warn("prctl(PR_SET_CHILD_SUBREAPER): %s", strerror(errno));
    if (loop_signal(l, SIGCHLD, job_sigchld, t, e) < 0) {
        free(t);
        return NULL;
    }
    return t;
}

void job_table_free(struct job_table *t)
{
    free(t);
}

int job_pid(const struct job *j)
{
    return j->pid;
}

static void job_finish(struct job *j)
{
    struct job_result r = {.code = -1};
    r.elapsed_ms = clock_mono_ms() - j->started_ms;
    if (j->killed != 0) {
        r.end = j->killed;
        if (WIFSIGNALED(j->status))
            job_signame(WTERMSIG(j->status), r.signal, sizeof(r.signal));
        else if (WIFEXITED(j->status))
            r.code = WEXITSTATUS(j->status);
    } else if (WIFEXITED(j->status)) {
        r.end = JOB_EXITED;
        r.code = WEXITSTATUS(j->status);
    } else if (WIFSIGNALED(j->status)) {
        r.end = JOB_SIGNALED;
        job_signame(WTERMSIG(j->status), r.signal, sizeof(r.signal));
    } else {
        r.end = JOB_FAILED;
        snprintf(r.why, sizeof(r.why), "unexpected wait status %d", j->status);
    }
    job_unlink(j);
    job_release(j);
    j->finished = true;
    j->cb->done(j, &r, j->arg);
}

static void job_linger(struct loop *l, struct loop_timer *t, void *arg)
{
    (void)l;
    (void)t;
    struct job *j = arg;
    /* a daemon started by the command still holds the pipes: stop
     * waiting for it */
    job_close_fd(j, &j->fd_out[0], &j->io_out[0]);
    job_close_fd(j, &j->fd_out[1], &j->io_out[1]);
    job_check_done(j);
}

static void job_check_done(struct job *j)
{
    if (!j->reaped || j->finished || j->detached)
        return;
    if (j->kill_pending) {
        /* the group may be gone already: no need to wait for the grace */
        if (kill(-j->pid, 0) == 0 || errno != ESRCH)
            return; /* t_kill fires, kills what is left, calls us again */
        j->kill_pending = false;
        loop_timer_stop(j->table->loop, &j->t_kill);
    }
    if (j->fd_out[0] >= 0 || j->fd_out[1] >= 0) {
        if (!j->t_linger.armed && !j->paused)
            loop_timer_start(j->table->loop, &j->t_linger, JOB_LINGER_MS);
        return;
    }
    job_finish(j);
}

static void job_read(struct loop *l, struct loop_io *io, unsigned ev, void *arg)
{
    (void)l;
    (void)ev;
    struct job *j = arg;
    int idx = io == &j->io_out[0] ? 0 : 1;
    char buf[JOB_READ_MAX];
    ssize_t n = read(j->fd_out[idx], buf, sizeof(buf));
    if (n > 0) {
        j->cb->output(j, idx + 1, buf, (size_t)n, j->arg);
        return;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    job_close_fd(j, &j->fd_out[idx], &j->io_out[idx]);
    job_check_done(j);
}

static void job_write(struct loop *l, struct loop_io *io, unsigned ev,
                      void *arg)
{
    (void)l;
    (void)io;
    (void)ev;
    struct job *j = arg;
    while (j->input_off < j->input_len) {
        ssize_t n = write(j->fd_in, j->input + j->input_off,
                          j->input_len - j->input_off);
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0)
            break; /* EPIPE: the command does not read its stdin */
        j->input_off += (size_t)n;
    }
    job_close_fd(j, &j->fd_in, &j->io_in);
}

static void job_kill_timer(struct loop *l, struct loop_timer *t, void *arg)
{
    (void)l;
    (void)t;
    struct job *j = arg;
    kill(-j->pid, SIGKILL);
    j->kill_pending = false;
    job_check_done(j);
}

void job_kill(struct job *j, enum job_end why)
{
    if (j->killed != 0 || j->finished)
        return;
    j->killed = why;
    j->kill_pending = true;
    loop_timer_stop(j->table->loop, &j->t_timeout);
    kill(-j->pid, SIGTERM);
    loop_timer_start(j->table->loop, &j->t_kill, j->kill_grace_ms);
}

static void job_timeout(struct loop *l, struct loop_timer *t, void *arg)
{
    (void)l;
    (void)t;
    job_kill(arg, JOB_TIMEOUT);
}

void job_pause(struct job *j, bool paused)
{
    if (j->paused == paused || j->finished)
        return;
    j->paused = paused;
    struct loop *l = j->table->loop;
    for (int i = 0; i < 2; i++) {
        if (j->fd_out[i] < 0)
            continue;
        /* stopped, not set to no events: a hung-up pipe would still
         * report an error every turn */
        if (paused)
            loop_io_stop(l, &j->io_out[i]);
        else
            loop_io_start(l, &j->io_out[i], LOOP_READ);
    }
    if (paused)
        loop_timer_stop(l, &j->t_linger);
    else
        job_check_done(j);
}

static bool job_pipe(int p[2], struct err *e)
{
    if (pipe2(p, O_CLOEXEC) != 0) {
        err_sys(e, "pipe");
        return false;
    }
    return true;
}

struct job *job_start(struct job_table *t, const struct job_spec *s,
                      const struct job_cb *cb, void *arg, struct err *e)
{
    int in[2] = {-1, -1}, out[2] = {-1, -1}, er[2] = {-1, -1};
    if (!job_pipe(in, e) || !job_pipe(out, e) || !job_pipe(er, e))
        goto fail;

    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, er[1], 2);
    posix_spawnattr_init(&at);
    sigset_t none, deflt;
    sigemptyset(&none);
    sigemptyset(&deflt);
    int defaults[] = {SIGPIPE, SIGCHLD, SIGTERM, SIGINT,
                      SIGHUP,  SIGQUIT, SIGUSR1, SIGUSR2};
    for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
        sigaddset(&deflt, defaults[i]);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &deflt);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP |
                                      POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
    char *argv[] = {(char *)"sh", (char *)"-c", (char *)s->command, NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, "/bin/sh", &fa, &at, argv, (char **)s->env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (rc != 0) {
        errno = rc;
        err_sys(e, "spawn /bin/sh");
        goto fail;
    }
    close(in[0]);
    close(out[1]);
    close(er[1]);

    struct job *j = xcalloc(1, sizeof(*j));
    j->table = t;
    j->cb = cb;
    j->arg = arg;
    j->pid = pid;
    j->started_ms = clock_mono_ms();
    j->kill_grace_ms =
        s->kill_grace_ms > 0 ? s->kill_grace_ms : JOB_KILL_GRACE_MS;
    j->fd_in = in[1];
    j->fd_out[0] = out[0];
    j->fd_out[1] = er[0];
    fcntl(in[1], F_SETFL, O_NONBLOCK);
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    fcntl(er[0], F_SETFL, O_NONBLOCK);
    loop_timer_init(&j->t_timeout, job_timeout, j);
    loop_timer_init(&j->t_kill, job_kill_timer, j);
    loop_timer_init(&j->t_linger, job_linger, j);
    struct loop *l = t->loop;
    loop_io_init_fd(&j->io_out[0], out[0], job_read, j);
    loop_io_init_fd(&j->io_out[1], er[0], job_read, j);
    loop_io_start(l, &j->io_out[0], LOOP_READ);
    loop_io_start(l, &j->io_out[1], LOOP_READ);
    loop_io_init_fd(&j->io_in, in[1], job_write, j);
    if (s->input_len > 0) {
        j->input = xmalloc(s->input_len);
        memcpy(j->input, s->input, s->input_len);
        j->input_len = s->input_len;
        loop_io_start(l, &j->io_in, LOOP_WRITE);
    } else {
        close(in[1]);
        j->fd_in = -1;
    }
    if (s->timeout_ms > 0)
        loop_timer_start(l, &j->t_timeout, s->timeout_ms);
    j->next = t->jobs;
    t->jobs = j;
    t->n++;
    return j;

fail:
    for (int i = 0; i < 2; i++) {
        if (in[i] >= 0)
            close(in[i]);
        if (out[i] >= 0)
            close(out[i]);
        if (er[i] >= 0)
            close(er[i]);
    }
    return NULL;
}

void job_free(struct job *j)
{
    if (j == NULL)
        return;
    if (j->finished) {
        free(j);
        return;
    }
    /* running: kill the group now and reap it later, silently */
    kill(-j->pid, SIGKILL);
    j->detached = true;
    struct loop *l = j->table->loop;
    job_close_fd(j, &j->fd_in, &j->io_in);
    job_close_fd(j, &j->fd_out[0], &j->io_out[0]);
    job_close_fd(j, &j->fd_out[1], &j->io_out[1]);
    loop_timer_stop(l, &j->t_timeout);
    loop_timer_stop(l, &j->t_kill);
    loop_timer_stop(l, &j->t_linger);
    if (j->reaped) {
        job_unlink(j);
        job_release(j);
        free(j);
    }
}
