/* coordinator/ssh_exec.c: running commands on an open ssh conn. Each
 * command gets a channel; the command is wrapped so that the remote login
 * shell reports its process group on stderr first, and a timeout or a
 * cancel kills that group from a second channel (docs/ssh.md explains the
 * kill design). */
#include "ssh_conn.h"

#include "buf.h"
#include "clock.h"
#include "log.h"
#include "loop.h"
#include "shquote.h"

#include <libssh2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *ssh_wrap_command(const char *command)
{
    /* OpenSSH starts a command without a pty in a new session (setsid in
     * session.c), so the login shell's pid is the process group of
     * everything the command starts. Report it first, on stderr, then run
     * the command in that same shell (eval keeps the login shell's
     * semantics, as plain ssh would). */
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    buf_adds(&b, "printf '" SSH_PGID_TAG "%s\\n' \"$$\" >&2; eval ");
    shquote_add(&b, command);
    return buf_detach(&b);
}

char *ssh_kill_command(long pgid, int64_t grace_ms)
{
    long tenths = (long)((grace_ms + 99) / 100);
    /* No "--": dash's kill does not take it; "-N" after the signal is a
     * process group in every POSIX shell. */
    return xasprintf("kill -TERM -%ld 2>/dev/null || exit 0; i=0; "
                     "while [ $i -lt %ld ] && kill -0 -%ld 2>/dev/null; "
                     "do sleep 0.1; i=$((i+1)); done; "
                     "kill -KILL -%ld 2>/dev/null; exit 0",
                     pgid, tenths, pgid, pgid);
}

bool ssh_parse_pgid(const char *line, size_t len, long *pgid)
{
    size_t tl = strlen(SSH_PGID_TAG);
    if (len <= tl || memcmp(line, SSH_PGID_TAG, tl) != 0)
        return false;
    long v = 0;
    for (size_t i = tl; i < len; i++) {
        if (line[i] < '0' || line[i] > '9' || v > 100000000)
            return false;
        v = v * 10 + (line[i] - '0');
    }
    if (v <= 1)
        return false;
    *pgid = v;
    return true;
}

/* --- running commands ----------------------------------------------------
 */

static void ssh_conn_emit(struct ssh_conn *c, int stream, const char *p,
                          size_t n)
{
    if (n > 0 && c->base.cb->output != NULL && !c->zombie)
        c->base.cb->output(&c->base, stream, p, n, c->base.arg);
}

/* Stderr passes through here until the pgid line has been seen. */
static void ssh_conn_stderr(struct ssh_conn *c, const char *p, size_t n,
                            bool eof)
{
    if (c->pgid_done) {
        ssh_conn_emit(c, EXEC_STDERR, p, n);
        return;
    }
    buf_add(&c->errhead, p, n);
    for (;;) {
        const char *d = buf_cstr(&c->errhead);
        const char *nl = memchr(d, '\n', c->errhead.len);
        if (nl == NULL)
            break;
        size_t ll = (size_t)(nl - d);
        long pg;
        if (ssh_parse_pgid(d, ll, &pg)) {
            c->pgid = pg;
            c->pgid_done = true;
            buf_consume(&c->errhead, ll + 1);
            break;
        }
        /* Something printed before the marker (a noisy shell rc file). */
        ssh_conn_emit(c, EXEC_STDERR, d, ll + 1);
        buf_consume(&c->errhead, ll + 1);
    }
    if (c->pgid_done || eof || c->errhead.len > SSH_PGID_LINE_MAX) {
        c->pgid_done = true;
        ssh_conn_emit(c, EXEC_STDERR, buf_cstr(&c->errhead), c->errhead.len);
        buf_reset(&c->errhead);
    }
}

static bool ssh_blocked_out(struct ssh_conn *c)
{
    return (libssh2_session_block_directions(c->s) &
            LIBSSH2_SESSION_BLOCK_OUTBOUND) != 0;
}

/* Generic channel progress shared by the command and the killer:
 * returns 0 when the step moved, EAGAIN when waiting, or < 0 on error. */
static int ssh_chan_open(struct ssh_conn *c, struct ssh_chan *ch)
{
    if (ch->step == CH_OPEN) {
        ch->ch = libssh2_channel_open_session(c->s);
        if (ch->ch == NULL) {
            int rc = libssh2_session_last_errno(c->s);
            return rc == LIBSSH2_ERROR_EAGAIN ? rc : (rc ? rc : -1);
        }
        c->t->stats.channels++;
        ch->step = CH_EXEC;
    }
    if (ch->step == CH_EXEC) {
        int rc = libssh2_channel_process_startup(ch->ch, "exec", 4, ch->command,
                                                 (unsigned)strlen(ch->command));
        if (rc != 0)
            return rc;
        ch->step = CH_RUN;
    }
    return 0;
}

static int ssh_chan_finish(struct ssh_conn *c, struct ssh_chan *ch)
{
    if (ch->step == CH_CLOSE) {
        int rc = libssh2_channel_close(ch->ch);
        if (rc != 0)
            return rc;
        ch->step = CH_WAIT;
    }
    if (ch->step == CH_WAIT) {
        int rc = libssh2_channel_wait_closed(ch->ch);
        if (rc != 0)
            return rc;
        /* Only now are exit-status and exit-signal final
         * (docs/dependencies.md). */
        ch->exit_status = libssh2_channel_get_exit_status(ch->ch);
        char *sig = NULL;
        size_t siglen = 0;
        if (libssh2_channel_get_exit_signal(ch->ch, &sig, &siglen, NULL, NULL,
                                            NULL, NULL) == 0 &&
            sig != NULL) {
            snprintf(ch->signal, sizeof(ch->signal), "%.*s", (int)siglen, sig);
            libssh2_free(c->s, sig);
        }
        ch->step = CH_FREE;
    }
    if (ch->step == CH_FREE) {
        int rc = libssh2_channel_free(ch->ch);
        if (rc != 0)
            return rc;
        ch->ch = NULL;
        ch->step = CH_DONE;
    }
    return 0;
}

/* Drive the command's channel. */
static int ssh_main_step(struct ssh_conn *c)
{
    struct ssh_chan *ch = &c->main;
    int rc = ssh_chan_open(c, ch);
    if (rc != 0)
        return rc;
    if (ch->step == CH_RUN) {
        /* Write while the remote window allows, but never wait for it
         * before reading: a command that prints before it reads would
         * otherwise wait for us while we wait for it. Only a half-sent
         * packet (blocked outbound) must be finished before anything
         * else. */
        /* Go round until neither side moves: data libssh2 has already
         * taken off the socket (a queued packet, a window adjust that lets
         * the rest of the input go) wakes no poll, so stopping after one
         * pass can wait forever for an event that already happened. */
        bool window_retried = false; /* never spin on the window alone */
        for (bool progress = true; progress;) {
            progress = false;
            if (!c->read_first) {
                while (c->input_off < c->input_len) {
                    ssize_t n = libssh2_channel_write_ex(
                        ch->ch, 0, c->input + c->input_off,
                        c->input_len - c->input_off);
                    if (n == LIBSSH2_ERROR_EAGAIN) {
                        if (ssh_blocked_out(c))
                            return LIBSSH2_ERROR_EAGAIN;
                        break;
                    }
                    if (n < 0)
                        return (int)n;
                    c->input_off += (size_t)n;
                    progress = n > 0;
                }
                if (c->input_off == c->input_len && !ch->eof_sent) {
                    rc = libssh2_channel_send_eof(ch->ch);
                    if (rc == LIBSSH2_ERROR_EAGAIN && ssh_blocked_out(c))
                        return rc;
                    if (rc != 0 && rc != LIBSSH2_ERROR_EAGAIN)
                        return rc;
                    ch->eof_sent = rc == 0;
                }
            }
            c->read_first = false;
            char data[32768];
            for (int stream = 0; stream < 2 && !c->zombie; stream++) {
                for (;;) {
                    ssize_t n = libssh2_channel_read_ex(ch->ch, stream, data,
                                                        sizeof(data));
                    if (n == LIBSSH2_ERROR_EAGAIN && ssh_blocked_out(c)) {
                        /* A half-sent window adjust: resume reading
                         * first. */
                        c->read_first = true;
                        return LIBSSH2_ERROR_EAGAIN;
                    }
                    if (n == LIBSSH2_ERROR_EAGAIN || n == 0)
                        break;
                    if (n < 0)
                        return (int)n;
                    progress = true;
                    if (stream == 0)
                        ssh_conn_emit(c, EXEC_STDOUT, data, (size_t)n);
                    else
                        ssh_conn_stderr(c, data, (size_t)n, false);
                    if (c->zombie)
                        return 0;
                }
            }
            /* the window opened while we read: the input can go on */
            if (!progress && !window_retried && c->input_off < c->input_len &&
                libssh2_channel_window_write_ex(ch->ch, NULL) > 0)
                progress = window_retried = true;
        }
        if (!libssh2_channel_eof(ch->ch))
            return LIBSSH2_ERROR_EAGAIN;
        ssh_conn_stderr(c, "", 0, true);
        ch->step = CH_CLOSE;
    }
    return ssh_chan_finish(c, ch);
}

/* Drive the killer's channel: run the kill command, discard its output. */
static int ssh_kill_step(struct ssh_conn *c)
{
    struct ssh_chan *ch = &c->kill;
    int rc = ssh_chan_open(c, ch);
    if (rc != 0)
        return rc;
    if (ch->step == CH_RUN) {
        if (!ch->eof_sent) {
            rc = libssh2_channel_send_eof(ch->ch);
            if (rc != 0)
                return rc;
            ch->eof_sent = true;
        }
        char data[1024];
        for (int stream = 0; stream < 2; stream++)
            while (libssh2_channel_read_ex(ch->ch, stream, data, sizeof(data)) >
                   0)
                ;
        if (!libssh2_channel_eof(ch->ch))
            return LIBSSH2_ERROR_EAGAIN;
        ch->step = CH_CLOSE;
    }
    return ssh_chan_finish(c, ch);
}

static void ssh_conn_start_kill(struct ssh_conn *c)
{
    if (c->kill.step != CH_NONE || c->main.step == CH_DONE)
        return;
    if (c->pgid == 0) {
        if (c->main.step < CH_RUN || !c->pgid_done)
            return; /* wait for the pgid line; the give-up timer guards */
        /* No pgid line at all: closing the channel is all we can do. */
        if (c->main.step == CH_RUN)
            c->main.step = CH_CLOSE;
        return;
    }
    c->kill.command = ssh_kill_command(c->pgid, SSH_KILL_GRACE_MS);
    c->kill.step = CH_OPEN;
    log_debug("host=%s killing remote process group %ld", c->name, c->pgid);
}

/* The command is over: report it and go idle. */
static void ssh_conn_done(struct ssh_conn *c, bool lost)
{
    struct exec_result r;
    memset(&r, 0, sizeof(r));
    r.elapsed_ms = loop_now(c->t->loop) - c->started;
    char d[32];
    if (lost) {
        r.end = EXEC_FAILED;
        r.err = c->xerr;
    } else if (c->cancelled) {
        r.end = EXEC_CANCELLED;
    } else if (c->timed_out) {
        r.end = EXEC_TIMEOUT;
        clock_fmt_duration(c->timeout_ms, d, sizeof(d));
        if (c->pgid != 0 && !c->gave_up)
            err_set(&r.err, ERR_TIMEOUT,
                    "timed out after %s; remote process group %ld killed", d,
                    c->pgid);
        else
            err_set(&r.err, ERR_TIMEOUT,
                    "timed out after %s; could not confirm the remote "
                    "process was killed",
                    d);
    } else if (c->main.signal[0] != '\0') {
        r.end = EXEC_SIGNALED;
        snprintf(r.signal, sizeof(r.signal), "%s", c->main.signal);
    } else {
        r.end = EXEC_EXITED;
        r.exit_code = c->main.exit_status;
    }
    ssh_chan_drop(c, &c->main);
    ssh_chan_drop(c, &c->kill);
    free((void *)c->input);
    c->input = NULL;
    c->input_len = c->input_off = 0;
    buf_release(&c->errhead);
    c->running = false;
    loop_timer_stop(c->t->loop, &c->xtimer);
    if (lost) {
        ssh_session_drop(c);
        ssh_conn_set(c, SSH_FAILED);
    }
    if (c->orphan) {
        c->zombie = true; /* its kill is done: free it when unwound */
        return;
    }
    if (c->base.cb->done != NULL)
        c->base.cb->done(&c->base, &r, c->base.arg);
}

static void ssh_conn_lost(struct ssh_conn *c, int rc, const char *what)
{
    err_set(&c->xerr, ERR_SSH, "%s (%s:%d): connection lost during %s: %s",
            c->name, c->address, c->port, what,
            rc == LIBSSH2_ERROR_CHANNEL_FAILURE
                ? "the server refused a new channel (MaxSessions?)"
                : ssh_errmsg(c->s));
    ssh_conn_done(c, true);
}

/* One pass over the command's channel and the killer's. Returns false
 * when the turn must end here (blocked outbound, connection lost, conn
 * closed by a callback). */
static bool ssh_conn_chan_pass(struct ssh_conn *c)
{
    /* Resume a half-sent operation first. */
    enum ssh_op order[2] = {OP_MAIN, OP_KILL};
    if (c->blocked == OP_KILL) {
        order[0] = OP_KILL;
        order[1] = OP_MAIN;
    }
    c->blocked = OP_NONE;
    for (int i = 0; i < 2 && !c->zombie; i++) {
        struct ssh_chan *ch = order[i] == OP_MAIN ? &c->main : &c->kill;
        if (ch->step == CH_NONE || ch->step == CH_DONE)
            continue;
        int rc = order[i] == OP_MAIN ? ssh_main_step(c) : ssh_kill_step(c);
        if (c->zombie)
            return false;
        if (rc == LIBSSH2_ERROR_EAGAIN) {
            if (ssh_blocked_out(c)) {
                c->blocked = order[i];
                return false;
            }
            continue;
        }
        if (rc < 0) {
            ssh_conn_lost(c, rc,
                          order[i] == OP_MAIN ? "the command" : "the kill");
            return false;
        }
    }
    return !c->zombie;
}

/* Advance the running command and its killer. */
void ssh_conn_exec_step(struct ssh_conn *c)
{
    /* One channel's calls take the other's packets off the socket too
     * (the command's EOF and close while the killer waits for its own):
     * those wake no poll, so go round while a channel moves on. */
    for (int pass = 0; pass < 4; pass++) {
        enum ssh_chstep m = c->main.step, k = c->kill.step;
        if (!ssh_conn_chan_pass(c))
            return;
        if (c->main.step == m && c->kill.step == k)
            break;
    }
    if (c->timed_out || c->cancelled)
        ssh_conn_start_kill(c);
    bool kill_busy = c->kill.step != CH_NONE && c->kill.step != CH_DONE;
    if (c->main.step == CH_DONE && !kill_busy)
        ssh_conn_done(c, false);
    else if (c->kill.step == CH_OPEN && c->blocked == OP_NONE)
        ssh_conn_exec_step(c); /* the kill was just queued: start it */
}

void ssh_conn_xtimer(struct loop *l, struct loop_timer *tm, void *arg)
{
    (void)tm;
    struct ssh_conn *c = arg;
    if (!c->running)
        return;
    if (!c->timed_out && !c->cancelled) {
        c->timed_out = true;
        log_debug("host=%s command timed out", c->name);
        loop_timer_start(l, &c->xtimer, SSH_KILL_GIVE_UP_MS);
    } else {
        /* The kill did not end the command: give the session up before
         * reporting, so the callback sees a closed conn. */
        c->gave_up = true;
        c->busy++;
        ssh_session_drop(c);
        ssh_conn_set(c, SSH_FAILED);
        ssh_conn_done(c, false);
        c->busy--;
    }
    ssh_conn_run(c);
}
