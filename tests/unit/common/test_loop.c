/* tests/unit/common/test_loop.c: the reactor. Timer order and FIFO ties,
 * stopping and re-arming, fd readiness on pipes, items added and removed
 * from callbacks, a ZeroMQ PAIR polled with fds, signals via signalfd, the
 * bookkeeping with 10,000 timers, and the epoll side: 2,000 socketpairs,
 * items freed right after a stop (ASan), shared fds, EOF, closed fds.
 *
 * Over 1,000 lines because tests/unit mirrors the modules, one test file
 * per module: common/loop.c is one module (timers, fds, signals, epoll). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "err.h"
#include "log.h"
#include "loop.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

/* --- helpers ----------------------------------------------------------- */

static struct loop *new_loop(void)
{
    struct err e = {0};
    struct loop *l = loop_new(&e);
    assert_non_null(l);
    assert_int_equal(e.code, ERR_OK);
    return l;
}

static void make_pipe(int fds[2])
{
    assert_int_equal(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void run_ok(struct loop *l)
{
    struct err e = {0};
    assert_int_equal(loop_run(l, &e), 0);
    assert_int_equal(e.code, ERR_OK);
}

static void once_ok(struct loop *l, int64_t max_ms)
{
    struct err e = {0};
    assert_int_equal(loop_run_once(l, max_ms, &e), 0);
    assert_int_equal(e.code, ERR_OK);
}

/* A timer that appends its id to a shared log when it fires. */
struct rec {
    int ids[64]; /* ids in firing order */
    int n;       /* timers fired */
};

struct tmr {
    struct loop_timer t; /* embedded timer */
    int id;              /* what it appends */
    struct rec *rec;     /* shared log */
    struct tmr *victim;  /* stopped when this one fires, or NULL */
    int rearm;           /* times to re-arm itself with 0 ms */
};

static void tmr_fire(struct loop *l, struct loop_timer *t, void *arg)
{
    struct tmr *m = arg;
    assert_ptr_equal(&m->t, t);
    assert_false(t->armed);
    assert_true(m->rec->n < 64);
    m->rec->ids[m->rec->n++] = m->id;
    if (m->victim != NULL)
        loop_timer_stop(l, &m->victim->t);
    if (m->rearm > 0) {
        m->rearm--;
        loop_timer_start(l, t, 0);
    }
}

static void tmr_init(struct tmr *m, int id, struct rec *rec)
{
    memset(m, 0, sizeof(*m));
    m->id = id;
    m->rec = rec;
    loop_timer_init(&m->t, tmr_fire, m);
}

/* --- timers ------------------------------------------------------------ */

static void test_loop_timers_deadline_order(void **state)
{
    (void)state;
    struct loop *l = new_loop();
    struct rec rec = {0};
    struct tmr m[4];
    static const int64_t ms[] = {40, 10, 30, 20};
    for (int i = 0; i < 4; i++) {
        tmr_init(&m[i], i, &rec);
        loop_timer_start(l, &m[i].t, ms[i]);
    }
    assert_int_equal(loop_timer_count(l), 4);
    int64_t t0 = now_ms();
    run_ok(l);
    int64_t took = now_ms() - t0;
    assert_int_equal(rec.n, 4);
    assert_int_equal(rec.ids[0], 1);
    assert_int_equal(rec.ids[1], 3);
    assert_int_equal(rec.ids[2], 2);
    assert_int_equal(rec.ids[3], 0);
    assert_true(took >= 40);
    assert_true(took < 2000);
    assert_int_equal(loop_timer_count(l), 0);
    loop_free(l);
}

static void test_loop_timers_fifo_for_equal_deadlines(void **state)
{
    (void)state;
    struct loop *l = new_loop();
    struct rec rec = {0};
    struct tmr m[40];
    for (int i = 0; i < 40; i++) {
        tmr_init(&m[i], i, &rec);
        loop_timer_start(l, &m[i].t, i % 2 ? 5 : 0);
    }
    /* force exact ties: the heap alone is not stable */
    int64_t due = m[0].t.due_ms + 20;
    for (int i = 0; i < 40; i++) {
        loop_timer_stop(l, &m[i].t);
        loop_timer_start(l, &m[i].t, 20);
    }
    for (int i = 0; i < 40; i++)
        assert_true(m[i].t.due_ms >= due);
    run_ok(l);
    assert_int_equal(rec.n, 40);
    for (int i = 0; i < 40; i++)
        assert_int_equal(rec.ids[i], i);
    loop_free(l);
}

static void test_loop_timer_stopped_never_fires(void **state)
{
    (void)state;
    struct loop *l = new_loop();
    struct rec rec = {0};
    struct tmr a, b, c, d;
    tmr_init(&a, 1, &rec);
    tmr_init(&b, 2, &rec);
    tmr_init(&c, 3, &rec);
    tmr_init(&d, 4, &rec);
    loop_timer_start(l, &a.t, 5);
    loop_timer_start(l, &b.t, 30);
    loop_timer_start(l, &c.t, 10);
    loop_timer_start(l, &d.t, 5);
    /* d is due in the same turn as a; a stops it first */
    a.victim = &d;
    c.victim = &b;
    loop_timer_stop(l, &c.t);
    loop_timer_stop(l, &c.t); /* idempotent */
    assert_int_equal(loop_timer_count(l), 3);
    run_ok(l);
    assert_int_equal(rec.n, 2);
    assert_int_equal(rec.ids[0], 1);
    assert_int_equal(rec.ids[1], 2);
    loop_free(l);
}

static void test_loop_timer_restart_moves_deadline(void **state)
{
    (void)state;
    struct loop *l = new_loop();
    struct rec rec = {0};
    struct tmr a, b;
    tmr_init(&a, 1, &rec);
    tmr_init(&b, 2, &rec);
    loop_timer_start(l, &a.t, 5);
    loop_timer_start(l, &b.t, 20);
    /* re-arming an armed timer moves it, it is not added twice */
    loop_timer_start(l, &a.t, 40);
    assert_int_equal(loop_timer_count(l), 2);
    run_ok(l);
    assert_int_equal(rec.n, 2);
    assert_int_equal(rec.ids[0], 2);
    assert_int_equal(rec.ids[1], 1);
    loop_free(l);
}

/* An fd item that counts calls and what it saw. */
struct ioc {
    struct loop_io io;  /* embedded item */
    int calls;          /* times called */
    unsigned seen;      /* revents of the last call */
    unsigned all;       /* union of all revents */
    int drain;          /* read and discard what is readable */
    int stop_loop;      /* call loop_stop() when called */
    int stop_self;      /* unregister itself when called */
    struct ioc *victim; /* unregistered when called, or NULL */
    struct ioc *spawn;  /* registered (LOOP_READ) when called, or NULL */
    int order;          /* position in a shared call order */
    int *counter;       /* shared call counter, or NULL */
};

static void ioc_fn(struct loop *l, struct loop_io *io, unsigned rev, void *arg)
{
    struct ioc *c = arg;
    assert_ptr_equal(&c->io, io);
    c->calls++;
    c->seen = rev;
    c->all |= rev;
    if (c->counter != NULL)
        c->order = ++*c->counter;
    if (c->drain) {
        char b[256];
        while (read(io->fd, b, sizeof(b)) > 0)
            ;
    }
    if (c->victim != NULL)
        loop_io_stop(l, &c->victim->io);
    if (c->spawn != NULL)
        loop_io_start(l, &c->spawn->io, LOOP_READ);
    if (c->stop_self)
        loop_io_stop(l, io);
    if (c->stop_loop)
        loop_stop(l);
}

static void ioc_init(struct ioc *c, int fd)
{
    memset(c, 0, sizeof(*c));
    loop_io_init_fd(&c->io, fd, ioc_fn, c);
}

/* Re-arms itself with 0 ms forever, counting. */
struct spin {
    struct loop_timer t; /* embedded timer */
    int calls;           /* times fired */
    int calls_at_fd;     /* calls when the fd was served */
};

static void spin_fire(struct loop *l, struct loop_timer *t, void *arg)
{
    struct spin *s = arg;
    s->calls++;
    /* bounded, so a loop that re-runs it inside one turn fails the test
     * instead of hanging it */
    if (s->calls < 1000)
        loop_timer_start(l, t, 0);
}

static void test_loop_zero_rearm_does_not_starve(void **state)
{
    (void)state;
    struct loop *l = new_loop();
    struct spin s = {0};
    loop_timer_init(&s.t, spin_fire, &s);
    loop_timer_start(l, &s.t, 0);
    /* one firing per turn, not an endless loop inside the turn */
    once_ok(l, -1);
    assert_int_equal(s.calls, 1);
    once_ok(l, -1);
    assert_int_equal(s.calls, 2);

    int p[2];
    make_pipe(p);
    struct ioc c;
    ioc_init(&c, p[0]);
    c.drain = 1;
    c.stop_loop = 1;
    loop_io_start(l, &c.io, LOOP_READ);
    assert_int_equal(write(p[1], "x", 1), 1);
    run_ok(l);
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.seen, LOOP_READ);
    /* the fd was served on the first turn after it became readable */
    assert_true(s.calls <= 4);
    assert_true(s.t.armed);
    loop_timer_stop(l, &s.t);
    loop_io_stop(l, &c.io);
    close(p[0]);
    close(p[1]);
    loop_free(l);
}

/* --- fd items ---------------------------------------------------------- */

static void test_loop_pipe_read_write_hangup(void **state)
{
    (void)state;
    struct loop *l = new_loop();
    int p[2];
    make_pipe(p);
    struct ioc r, w;
    ioc_init(&r, p[0]);
    ioc_init(&w, p[1]);
    loop_io_start(l, &r.io, LOOP_READ);
    loop_io_start(l, &w.io, LOOP_WRITE);
    assert_int_equal(loop_io_count(l), 2);

    /* empty pipe: only the write end is ready */
    once_ok(l, 100);
    assert_int_equal(r.calls, 0);
    assert_int_equal(w.calls, 1);
    assert_int_equal(w.seen, LOOP_WRITE);

    /* a write end waiting for nothing is not called */
    loop_io_set(l, &w.io, 0);
    assert_int_equal(write(p[1], "abc", 3), 3);
    once_ok(l, 100);
    assert_int_equal(w.calls, 1);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.seen, LOOP_READ);
    /* level-triggered: unread data is reported again */
    once_ok(l, 100);
    assert_int_equal(r.calls, 2);
    char buf[8];
    assert_int_equal(read(p[0], buf, sizeof(buf)), 3);

    /* nothing ready: the turn waits max_ms and calls nobody */
    int64_t t0 = now_ms();
    once_ok(l, 30);
    assert_true(now_ms() - t0 >= 25);
    assert_int_equal(r.calls, 2);

    /* the writer goes away: the reader sees LOOP_ERROR (hangup) */
    loop_io_stop(l, &w.io);
    close(p[1]);
    once_ok(l, 100);
    assert_int_equal(r.calls, 3);
    assert_true(r.seen & LOOP_ERROR);
    loop_io_stop(l, &r.io);
    assert_int_equal(loop_io_count(l), 0);
    close(p[0]);
    loop_free(l);
}

static void test_loop_pipe_reader_gone(void **state)
{
    (void)state;
    struct loop *l = new_loop();
    int p[2];
    make_pipe(p);
    struct ioc w;
    ioc_init(&w, p[1]);
    loop_io_start(l, &w.io, LOOP_WRITE);
    close(p[0]);
    once_ok(l, 100);
    assert_int_equal(w.calls, 1);
    assert_true(w.seen & LOOP_ERROR);
    loop_io_stop(l, &w.io);
    close(p[1]);

    /* a closed fd is reported as an error on the item, not a crash */
    int q[2];
    make_pipe(q);
    close(q[1]);
    close(q[0]);
    struct ioc bad;
    ioc_init(&bad, q[0]);
    loop_io_start(l, &bad.io, LOOP_READ);
    once_ok(l, 100);
    assert_int_equal(bad.calls, 1);
    assert_true(bad.seen & LOOP_ERROR);
    loop_free(l);
    /* loop_free drops what is still registered */
    assert_false(bad.io.active);
}

static void test_loop_remove_inside_other_callback(void **state)
{
    (void)state;
    struct loop *l = new_loop();
    int p[3][2];
    struct ioc c[3];
    int counter = 0;
    for (int i = 0; i < 3; i++) {
        make_pipe(p[i]);
        ioc_init(&c[i], p[i][0]);
        c[i].counter = &counter;
        assert_int_equal(write(p[i][1], "x", 1), 1);
        loop_io_start(l, &c[i].io, LOOP_READ);
    }
    /* all three are readable in the same turn; whichever runs first removes
     * the others, which must then not be called */
    c[0].victim = &c[1];
    c[1].victim = &c[0];
    c[2].stop_self = 1;
    once_ok(l, 100);
    assert_int_equal(c[0].calls + c[1].calls, 1);
    assert_int_equal(c[2].calls, 1);
    assert_int_equal(loop_io_count(l), 1);
    /* the survivor keeps being served; the removed ones never again */
    struct ioc *alive = c[0].calls ? &c[0] : &c[1];
    struct ioc *gone = c[0].calls ? &c[1] : &c[0];
    alive->victim = NULL;
    once_ok(l, 100);
    once_ok(l, 100);
    assert_int_equal(alive->calls, 3);
    assert_int_equal(gone->calls, 0);
    assert_int_equal(c[2].calls, 1);
    assert_false(gone->io.active);
    /* stopping again is harmless */
    loop_io_stop(l, &gone->io);
    loop_io_stop(l, &c[2].io);
    assert_int_equal(loop_io_count(l), 1);
    loop_free(l);
    for (int i = 0; i < 3; i++) {
        close(p[i][0]);
        close(p[i][1]);
    }
}

static void test_loop_remove_then_readd_same_turn(void **state)
{
    (void)state;
    struct loop *l = new_loop();
    int p[2][2];
    struct ioc c[2];
    for (int i = 0; i < 2; i++) {
        make_pipe(p[i]);
        ioc_init(&c[i], p[i][0]);
        assert_int_equal(write(p[i][1], "x", 1), 1);
    }
    loop_io_start(l, &c[0].io, LOOP_READ);
    loop_io_start(l, &c[1].io, LOOP_READ);
    /* c0 removes c1 and registers it again in the same turn: c1 is not
     * called twice, nor from its stale slot, and is polled from now on */
    c[0].victim = &c[1];
    c[0].spawn = &c[1];
    once_ok(l, 100);
    assert_int_equal(c[0].calls, 1);
    assert_true(c[1].calls <= 1);
    int before = c[1].calls;
    c[0].victim = NULL;
    c[0].spawn = NULL;
    once_ok(l, 100);
    assert_int_equal(c[1].calls, before + 1);
    assert_int_equal(loop_io_count(l), 2);
    loop_free(l);
    for (int i = 0; i < 2; i++) {
        close(p[i][0]);
        close(p[i][1]);
    }
}

static void test_loop_add_inside_callback(void **state)
{
    (void)state;
    struct loop *l = new_loop();
    enum { N = 100 };
    int p[N][2];
    struct ioc *c = calloc(N, sizeof(*c));
    assert_non_null(c);
    for (int i = 0; i < N; i++) {
        make_pipe(p[i]);
        ioc_init(&c[i], p[i][0]);
        c[i].drain = 1;
        assert_int_equal(write(p[i][1], "x", 1), 1);
        /* each item registers the next one: the table grows (and moves)
         * while it is being walked */
        if (i > 0)
            c[i - 1].spawn = &c[i];
    }
    loop_io_start(l, &c[0].io, LOOP_READ);
    for (int turn = 0; turn < N; turn++) {
        once_ok(l, 100);
        assert_int_equal(loop_io_count(l), (size_t)turn + 2 > N ? N : turn + 2);
        /* an item added during a turn is polled from the next one */
        assert_int_equal(c[turn].calls, 1);
        if (turn + 1 < N)
            assert_int_equal(c[turn + 1].calls, 0);
    }
    loop_free(l);
    for (int i = 0; i < N; i++) {
        close(p[i][0]);
        close(p[i][1]);
    }
    free(c);
}

static void test_loop_io_count_bookkeeping(void **state)
{
    (void)state;
    struct loop *l = new_loop();
    enum { N = 300 };
    int p[2];
    make_pipe(p);
    struct ioc *c = calloc(N, sizeof(*c));
    assert_non_null(c);
    for (int i = 0; i < N; i++) {
        ioc_init(&c[i], p[1]);
        loop_io_start(l, &c[i].io, LOOP_WRITE);
    }
    /* starting a registered item again only changes its events */
    loop_io_start(l, &c[0].io, LOOP_WRITE);
    assert_int_equal(loop_io_count(l), N);
    for (int i = 0; i < N; i += 2)
        loop_io_stop(l, &c[i].io);
    assert_int_equal(loop_io_count(l), N / 2);
    once_ok(l, 100);
    for (int i = 0; i < N; i++)
        assert_int_equal(c[i].calls, i % 2);
    for (int i = 1; i < N; i += 2)
        loop_io_stop(l, &c[i].io);
    assert_int_equal(loop_io_count(l), 0);
    /* nothing left: loop_run returns at once */
    int64_t t0 = now_ms();
    run_ok(l);
    assert_true(now_ms() - t0 < 100);
    loop_free(l);
    close(p[0]);
    close(p[1]);
    free(c);
}

/* --- ZeroMQ ------------------------------------------------------------ */

struct zc {
    struct loop_io io; /* embedded item */
    int msgs;          /* messages received */
    char last[32];     /* last message */
};

static void zc_fn(struct loop *l, struct loop_io *io, unsigned rev, void *arg)
{
    (void)l;
    struct zc *z = arg;
    assert_true(rev & LOOP_READ);
    for (;;) {
        char b[32];
        int n = zmq_recv(io->sock, b, sizeof(b) - 1, ZMQ_DONTWAIT);
        if (n < 0) {
            assert_int_equal(errno, EAGAIN);
            break;
        }
        b[n] = '\0';
        memcpy(z->last, b, (size_t)n + 1);
        z->msgs++;
    }
}

static void test_loop_zmq_pair_with_fds(void **state)
{
    (void)state;
    void *ctx = zmq_ctx_new();
    assert_non_null(ctx);
    void *a = zmq_socket(ctx, ZMQ_PAIR);
    void *b = zmq_socket(ctx, ZMQ_PAIR);
    assert_int_equal(zmq_bind(a, "inproc://test-loop-pair"), 0);
    assert_int_equal(zmq_connect(b, "inproc://test-loop-pair"), 0);

    struct loop *l = new_loop();
    struct zc z = {0};
    loop_io_init_sock(&z.io, b, zc_fn, &z);
    assert_int_equal(z.io.fd, -1);
    loop_io_start(l, &z.io, LOOP_READ);
    int p[2];
    make_pipe(p);
    struct ioc c;
    ioc_init(&c, p[0]);
    c.drain = 1;
    loop_io_start(l, &c.io, LOOP_READ);

    /* nothing yet */
    once_ok(l, 20);
    assert_int_equal(z.msgs, 0);
    assert_int_equal(c.calls, 0);

    /* both ready in the same turn */
    assert_int_equal(zmq_send(a, "hello", 5, 0), 5);
    assert_int_equal(write(p[1], "y", 1), 1);
    for (int i = 0; i < 10 && (z.msgs == 0 || c.calls == 0); i++)
        once_ok(l, 200);
    assert_int_equal(z.msgs, 1);
    assert_string_equal(z.last, "hello");
    assert_int_equal(c.calls, 1);

    /* the socket alone wakes a loop that is blocked in poll */
    assert_int_equal(zmq_send(a, "second", 6, 0), 6);
    once_ok(l, 2000);
    assert_int_equal(z.msgs, 2);
    assert_string_equal(z.last, "second");
    assert_int_equal(c.calls, 1);

    /* write readiness of a socket */
    struct ioc wz;
    memset(&wz, 0, sizeof(wz));
    loop_io_init_sock(&wz.io, a, ioc_fn, &wz);
    loop_io_start(l, &wz.io, LOOP_WRITE);
    once_ok(l, 200);
    assert_int_equal(wz.calls, 1);
    assert_int_equal(wz.seen, LOOP_WRITE);

    loop_free(l);
    close(p[0]);
    close(p[1]);
    int linger = 0;
    zmq_setsockopt(a, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(b, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_close(a);
    zmq_close(b);
    zmq_ctx_term(ctx);
}

/* Stops the loop; counts calls in *arg when arg is not NULL. */
static void stop_fire(struct loop *l, struct loop_timer *t, void *arg)
{
    (void)t;
    int *n = arg;
    if (n != NULL)
        (*n)++;
    loop_stop(l);
}

/* --- signals ----------------------------------------------------------- */

struct sigc {
    int calls; /* times called */
    int signo; /* last signal */
};

static void sigc_fn(struct loop *l, int signo, void *arg)
{
    struct sigc *s = arg;
    s->calls++;
    s->signo = signo;
    loop_stop(l);
}

static void test_loop_signal_via_signalfd(void **state)
{
    (void)state;
    struct loop *l = new_loop();
    struct sigc s1 = {0}, s2 = {0};
    struct err e = {0};
    assert_int_equal(loop_signal(l, SIGUSR1, sigc_fn, &s1, &e), 0);
    assert_int_equal(loop_signal(l, SIGUSR2, sigc_fn, &s2, &e), 0);
    assert_int_equal(e.code, ERR_OK);
    assert_int_equal(loop_io_count(l), 1);
    /* the signal is now blocked: raise() leaves it pending for the fd
     * instead of killing the process */
    sigset_t cur;
    sigprocmask(SIG_BLOCK, NULL, &cur);
    assert_true(sigismember(&cur, SIGUSR1));
    assert_true(sigismember(&cur, SIGUSR2));
    /* a watchdog, so a lost signal fails the test instead of hanging it */
    int dog = 0;
    struct loop_timer watchdog;
    loop_timer_init(&watchdog, stop_fire, &dog);
    loop_timer_start(l, &watchdog, 5000);
    assert_int_equal(raise(SIGUSR1), 0);
    run_ok(l);
    assert_int_equal(s1.calls, 1);
    assert_int_equal(s1.signo, SIGUSR1);
    assert_int_equal(s2.calls, 0);
    assert_int_equal(raise(SIGUSR2), 0);
    run_ok(l);
    assert_int_equal(dog, 0);
    loop_timer_stop(l, &watchdog);
    assert_int_equal(s2.calls, 1);
    assert_int_equal(s2.signo, SIGUSR2);
    assert_int_equal(s1.calls, 1);

    /* a process-directed signal also arrives through the fd, with
     * ZeroMQ's own threads running in the process */
    void *ctx = zmq_ctx_new();
    void *sock = zmq_socket(ctx, ZMQ_PAIR);
    assert_int_equal(zmq_bind(sock, "tcp://127.0.0.1:*"), 0);
    assert_int_equal(kill(getpid(), SIGUSR1), 0);
    assert_int_equal(kill(getpid(), SIGUSR2), 0);
    for (int i = 0; i < 10 && (s1.calls < 2 || s2.calls < 2); i++)
        once_ok(l, 1000);
    assert_int_equal(s1.calls, 2);
    assert_int_equal(s2.calls, 2);
    int linger = 0;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_close(sock);
    zmq_ctx_term(ctx);

    /* out of range is an error value, not a crash */
    assert_int_equal(loop_signal(l, 0, sigc_fn, NULL, &e), -1);
    assert_int_equal(e.code, ERR_INVALID);
    err_clear(&e);
    assert_int_equal(loop_signal(l, 9999, sigc_fn, NULL, &e), -1);
    assert_int_equal(e.code, ERR_INVALID);
    loop_free(l);
}

/* --- running and stopping ---------------------------------------------- */

static void test_loop_run_returns(void **state)
{
    (void)state;
    struct loop *l = new_loop();
    /* nothing registered: returns at once */
    run_ok(l);
    struct err e = {0};
    assert_int_equal(loop_run_once(l, -1, &e), 0);

    /* loop_stop returns even with a far timer still armed */
    int n = 0;
    struct loop_timer stopper, far;
    loop_timer_init(&stopper, stop_fire, &n);
    loop_timer_init(&far, stop_fire, &n);
    loop_timer_start(l, &stopper, 10);
    loop_timer_start(l, &far, 60000);
    int64_t t0 = now_ms();
    run_ok(l);
    assert_true(now_ms() - t0 < 1000);
    assert_int_equal(n, 1);
    assert_int_equal(loop_timer_count(l), 1);
    assert_true(far.armed);
    /* loop_now is the time of the last turn */
    assert_true(loop_now(l) >= t0 + 10);
    assert_true(loop_now(l) <= now_ms());
    /* a later loop_run keeps going until the next stop */
    loop_timer_start(l, &far, 5);
    run_ok(l);
    assert_int_equal(n, 2);
    assert_int_equal(loop_timer_count(l), 0);
    loop_timer_start(l, &far, 1000);
    loop_free(l);
    assert_false(far.armed);
    loop_free(NULL);
}

static void test_loop_timer_far_future(void **state)
{
    (void)state;
    struct loop *l = new_loop();
    struct rec rec = {0};
    struct tmr never, soon;
    tmr_init(&never, 1, &rec);
    tmr_init(&soon, 2, &rec);
    /* "no deadline" written as the largest value must not wrap around into
     * the past and fire at once */
    loop_timer_start(l, &never.t, INT64_MAX);
    loop_timer_start(l, &soon.t, 5);
    once_ok(l, 50);
    once_ok(l, 0);
    assert_int_equal(rec.n, 1);
    assert_int_equal(rec.ids[0], 2);
    assert_true(never.t.armed);
    assert_true(never.t.due_ms > now_ms() + 1000000);
    /* a negative delay means the next turn */
    loop_timer_start(l, &soon.t, -5);
    once_ok(l, 1000);
    assert_int_equal(rec.n, 2);
    loop_free(l);
}

static void test_loop_far_timer_alone_sleeps(void **state)
{
    (void)state;
    /* With nothing but a timer 71.6 minutes away, a turn must sleep, not
     * return after a millisecond (zmq_poll with no items sleeps in
     * usleep(timeout * 1000), which wraps at 2^32 microseconds). The turn
     * runs in a child; it must still be asleep 300 ms later. */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct loop *l = loop_new(NULL);
        struct loop_timer t;
        loop_timer_init(&t, stop_fire, NULL);
        loop_timer_start(l, &t, 4294970);
        loop_run_once(l, -1, NULL);
        _exit(0);
    }
    struct timespec ts = {0, 300 * 1000000};
    nanosleep(&ts, NULL);
    int status = 0;
    pid_t done = waitpid(pid, &status, WNOHANG);
    kill(pid, SIGKILL);
    if (done == 0)
        waitpid(pid, &status, 0);
    assert_int_equal(done, 0);
}

/* --- epoll: many fds, freeing, sharing --------------------------------- */

static void make_pair(int sp[2])
{
    assert_int_equal(
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sp),
        0);
}

/* Enough fds for n more, raising the soft limit to the hard one. */
static void want_fds(size_t n)
{
    struct rlimit rl;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < n + 64) {
        rl.rlim_cur = rl.rlim_max;
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < n + 64)
        skip();
}

/* One end of a socketpair, counting its calls in the current turn. */
struct many_fd {
    struct loop_io io; /* embedded item */
    int peer;          /* the other end */
    int calls;         /* calls since the counter was reset */
    int keep;          /* leave the data unread: ready every turn */
    unsigned seen;     /* revents of the last call */
};

static void many_fd_fn(struct loop *l, struct loop_io *io, unsigned rev,
                       void *arg)
{
    (void)l;
    struct many_fd *m = arg;
    m->calls++;
    m->seen = rev;
    char b[64];
    if (!m->keep)
        while (read(io->fd, b, sizeof(b)) > 0)
            ;
}

static void test_loop_many_fds_each_ready_once(void **state)
{
    (void)state;
    enum { N = 2000 };
    want_fds(2 * N);
    struct loop *l = new_loop();
    struct many_fd *m = calloc(N, sizeof(*m));
    assert_non_null(m);
    for (int i = 0; i < N; i++) {
        int sp[2];
        make_pair(sp);
        m[i].peer = sp[1];
        loop_io_init_fd(&m[i].io, sp[0], many_fd_fn, &m[i]);
        loop_io_start(l, &m[i].io, LOOP_READ);
    }
    assert_int_equal(loop_io_count(l), N);
    static char ready[N];
    srand(4242);
    /* a few ready each turn: those, and only those, called once */
    for (int turn = 0; turn < 60; turn++) {
        memset(ready, 0, sizeof(ready));
        int k = 1 + rand() % 20;
        for (int j = 0; j < k; j++) {
            int i = rand() % N;
            ready[i] = 1;
            assert_int_equal(write(m[i].peer, "x", 1), 1);
        }
        once_ok(l, 1000);
        for (int i = 0; i < N; i++) {
            assert_int_equal(m[i].calls, ready[i]);
            m[i].calls = 0;
        }
    }
    /* more ready than one epoll_wait batch: all of them in one turn */
    for (int i = 0; i < N; i += 3)
        assert_int_equal(write(m[i].peer, "x", 1), 1);
    once_ok(l, 1000);
    for (int i = 0; i < N; i++) {
        assert_int_equal(m[i].calls, i % 3 == 0);
        m[i].calls = 0;
    }
    /* fairness: 1,500 fds that stay ready do not starve the last ones */
    for (int i = 0; i < 1500; i++) {
        m[i].keep = 1;
        assert_int_equal(write(m[i].peer, "x", 1), 1);
    }
    for (int turn = 0; turn < 5; turn++) {
        assert_int_equal(write(m[N - 1 - turn].peer, "x", 1), 1);
        once_ok(l, 1000);
        for (int i = 0; i < N; i++) {
            assert_int_equal(m[i].calls, i < 1500 || i == N - 1 - turn);
            m[i].calls = 0;
        }
    }
    for (int i = 0; i < N; i++) {
        loop_io_stop(l, &m[i].io);
        close(m[i].io.fd);
        close(m[i].peer);
    }
    assert_int_equal(loop_io_count(l), 0);
    loop_free(l);
    free(m);
}

/* Heap items that stop and free each other: whichever is called first
 * stops its peer and frees it while epoll has already reported the peer.
 * ASan turns a later look at the peer into a failure. */
struct duel {
    struct loop_io io;  /* embedded item */
    struct duel **peer; /* the other one's handle, NULL once freed */
    struct duel **self; /* this one's handle */
    int *calls;         /* shared call counter */
};

static void duel_fn(struct loop *l, struct loop_io *io, unsigned rev, void *arg)
{
    (void)io;
    (void)rev;
    struct duel *d = arg;
    (*d->calls)++;
    if (*d->peer != NULL) {
        struct duel *p = *d->peer;
        loop_io_stop(l, &p->io);
        *d->peer = NULL;
        free(p);
    }
}

static void test_loop_stop_and_free_ready_peer(void **state)
{
    (void)state;
    enum { N = 300 };
    want_fds(4 * N);
    struct loop *l = new_loop();
    int sp[N][2][2];
    struct duel *d[N][2];
    int calls = 0;
    for (int i = 0; i < N; i++) {
        for (int k = 0; k < 2; k++) {
            make_pair(sp[i][k]);
            /* every third pair shares one fd */
            int fd = i % 3 == 0 ? sp[i][0][0] : sp[i][k][0];
            d[i][k] = calloc(1, sizeof(*d[i][k]));
            assert_non_null(d[i][k]);
            loop_io_init_fd(&d[i][k]->io, fd, duel_fn, d[i][k]);
            d[i][k]->calls = &calls;
            d[i][k]->self = &d[i][k];
            d[i][k]->peer = &d[i][1 - k];
            assert_int_equal(write(sp[i][k][1], "x", 1), 1);
        }
    }
    for (int i = 0; i < N; i++)
        for (int k = 0; k < 2; k++)
            loop_io_start(l, &d[i][k]->io, LOOP_READ);
    assert_int_equal(loop_io_count(l), 2 * N);
    once_ok(l, 1000);
    /* one of each pair was called and freed the other */
    assert_int_equal(calls, N);
    assert_int_equal(loop_io_count(l), N);
    for (int i = 0; i < N; i++)
        assert_true((d[i][0] == NULL) != (d[i][1] == NULL));
    /* the survivors keep being served (the data was never read) */
    once_ok(l, 1000);
    assert_int_equal(calls, 2 * N);
    for (int i = 0; i < N; i++) {
        for (int k = 0; k < 2; k++) {
            if (d[i][k] != NULL) {
                loop_io_stop(l, &d[i][k]->io);
                free(d[i][k]);
            }
            close(sp[i][k][0]);
            close(sp[i][k][1]);
        }
    }
    assert_int_equal(loop_io_count(l), 0);
    loop_free(l);
}

/* Stops and frees itself when called. */
struct selfish {
    struct loop_io io; /* embedded item */
    int *calls;        /* shared call counter */
};

static void selfish_fn(struct loop *l, struct loop_io *io, unsigned rev,
                       void *arg)
{
    (void)rev;
    struct selfish *s = arg;
    (*s->calls)++;
    loop_io_stop(l, io);
    free(s);
}

static void test_loop_stop_and_free_self(void **state)
{
    (void)state;
    struct loop *l = new_loop();
    int p[2];
    make_pipe(p);
    assert_int_equal(write(p[1], "x", 1), 1);
    /* three on one fd, the middle one frees itself: the others are still
     * called, in this turn and the next */
    struct ioc a, c;
    ioc_init(&a, p[0]);
    ioc_init(&c, p[0]);
    int calls = 0;
    struct selfish *b = calloc(1, sizeof(*b));
    assert_non_null(b);
    b->calls = &calls;
    loop_io_init_fd(&b->io, p[0], selfish_fn, b);
    loop_io_start(l, &a.io, LOOP_READ);
    loop_io_start(l, &b->io, LOOP_READ);
    loop_io_start(l, &c.io, LOOP_READ);
    /* and one alone on its own fd */
    int q[2];
    make_pipe(q);
    assert_int_equal(write(q[1], "x", 1), 1);
    struct selfish *alone = calloc(1, sizeof(*alone));
    assert_non_null(alone);
    alone->calls = &calls;
    loop_io_init_fd(&alone->io, q[0], selfish_fn, alone);
    loop_io_start(l, &alone->io, LOOP_READ);
    assert_int_equal(loop_io_count(l), 4);
    once_ok(l, 1000);
    assert_int_equal(calls, 2);
    assert_int_equal(a.calls, 1);
    assert_int_equal(c.calls, 1);
    assert_int_equal(loop_io_count(l), 2);
    once_ok(l, 100);
    assert_int_equal(calls, 2);
    assert_int_equal(a.calls, 2);
    assert_int_equal(c.calls, 2);
    loop_io_stop(l, &a.io);
    loop_io_stop(l, &c.io);
    loop_free(l);
    close(p[0]);
    close(p[1]);
    close(q[0]);
    close(q[1]);
}

/* Switches its own events from READ to WRITE when called. */
static void flip_fn(struct loop *l, struct loop_io *io, unsigned rev, void *arg)
{
    struct ioc *c = arg;
    c->calls++;
    c->seen = rev;
    loop_io_set(l, io, rev & LOOP_READ ? LOOP_WRITE : LOOP_READ);
}

static void test_loop_io_set_read_write(void **state)
{
    (void)state;
    struct loop *l = new_loop();
    int sp[2];
    make_pair(sp);
    struct ioc c;
    ioc_init(&c, sp[0]);
    /* nothing to read */
    loop_io_start(l, &c.io, LOOP_READ);
    once_ok(l, 20);
    assert_int_equal(c.calls, 0);
    /* writable at once */
    loop_io_set(l, &c.io, LOOP_WRITE);
    once_ok(l, 1000);
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.seen, LOOP_WRITE);
    /* back to reading: data makes it READ only, writable is not asked */
    loop_io_set(l, &c.io, LOOP_READ);
    once_ok(l, 20);
    assert_int_equal(c.calls, 1);
    assert_int_equal(write(sp[1], "x", 1), 1);
    once_ok(l, 1000);
    assert_int_equal(c.calls, 2);
    assert_int_equal(c.seen, LOOP_READ);
    /* both */
    loop_io_set(l, &c.io, LOOP_READ | LOOP_WRITE);
    once_ok(l, 1000);
    assert_int_equal(c.calls, 3);
    assert_int_equal(c.seen, LOOP_READ | LOOP_WRITE);
    /* nothing: not called though readable and writable */
    loop_io_set(l, &c.io, 0);
    once_ok(l, 20);
    assert_int_equal(c.calls, 3);
    loop_io_stop(l, &c.io);

    /* the callback flips itself: READ, then WRITE the next turn, and so on;
     * a second item on the same fd keeps reading all along */
    struct ioc f, r;
    memset(&f, 0, sizeof(f));
    loop_io_init_fd(&f.io, sp[0], flip_fn, &f);
    ioc_init(&r, sp[0]);
    loop_io_start(l, &f.io, LOOP_READ);
    loop_io_start(l, &r.io, LOOP_READ);
    for (int turn = 0; turn < 6; turn++) {
        once_ok(l, 1000);
        assert_int_equal(f.calls, turn + 1);
        assert_int_equal(f.seen, turn % 2 ? LOOP_WRITE : LOOP_READ);
        assert_int_equal(r.calls, turn + 1);
        assert_int_equal(r.seen, LOOP_READ);
    }
    loop_io_stop(l, &f.io);
    loop_io_stop(l, &r.io);
    loop_free(l);
    close(sp[0]);
    close(sp[1]);
}

static void test_loop_eof_is_read(void **state)
{
    (void)state;
    struct loop *l = new_loop();
    /* a pipe whose writer left reports only a hangup; the reader must see
     * it as readable (read() returns 0) */
    int p[2];
    make_pipe(p);
    struct ioc r;
    ioc_init(&r, p[0]);
    loop_io_start(l, &r.io, LOOP_READ);
    once_ok(l, 20);
    assert_int_equal(r.calls, 0);
    close(p[1]);
    once_ok(l, 1000);
    assert_int_equal(r.calls, 1);
    assert_true(r.seen & LOOP_READ);
    assert_true(r.seen & LOOP_ERROR);
    char b[8];
    assert_int_equal(read(p[0], b, sizeof(b)), 0);
    loop_io_stop(l, &r.io);
    close(p[0]);

    /* a socket whose peer closed: READ, and read() returns 0 */
    int sp[2];
    make_pair(sp);
    struct ioc s;
    ioc_init(&s, sp[0]);
    loop_io_start(l, &s.io, LOOP_READ);
    close(sp[1]);
    once_ok(l, 1000);
    assert_int_equal(s.calls, 1);
    assert_true(s.seen & LOOP_READ);
    assert_int_equal(read(sp[0], b, sizeof(b)), 0);
    loop_io_stop(l, &s.io);
    close(sp[0]);
    loop_free(l);
}

/* Stops its victim, closes the victim's fd, and registers a new item on a
 * new fd, which the kernel hands out with the same number. */
struct reuse {
    struct loop_io io;  /* embedded item */
    struct ioc *victim; /* stopped and freed when called */
    int victim_peer;    /* the victim's socketpair peer */
    struct ioc *fresh;  /* started on the reused number when called */
    int fresh_peer;     /* its peer */
    int calls;          /* times called */
};

static void reuse_fn(struct loop *l, struct loop_io *io, unsigned rev,
                     void *arg)
{
    (void)io;
    (void)rev;
    struct reuse *u = arg;
    u->calls++;
    if (u->victim == NULL)
        return;
    int fd = u->victim->io.fd;
    loop_io_stop(l, &u->victim->io);
    free(u->victim);
    u->victim = NULL;
    close(fd);
    close(u->victim_peer);
    int sp[2];
    make_pair(sp);
    assert_int_equal(sp[0], fd);
    assert_int_equal(write(sp[1], "y", 1), 1);
    u->fresh = calloc(1, sizeof(*u->fresh));
    assert_non_null(u->fresh);
    ioc_init(u->fresh, sp[0]);
    u->fresh->drain = 1;
    u->fresh_peer = sp[1];
    loop_io_start(l, &u->fresh->io, LOOP_READ);
}

static void test_loop_fd_number_reused_in_turn(void **state)
{
    (void)state;
    struct loop *l = new_loop();
    /* the victim's number is the lowest free one; the killer's is below */
    int a[2], v[2];
    make_pair(a);
    make_pair(v);
    assert_int_equal(write(a[1], "x", 1), 1);
    assert_int_equal(write(v[1], "x", 1), 1);
    struct reuse u;
    memset(&u, 0, sizeof(u));
    loop_io_init_fd(&u.io, a[0], reuse_fn, &u);
    u.victim = calloc(1, sizeof(*u.victim));
    assert_non_null(u.victim);
    ioc_init(u.victim, v[0]);
    u.victim_peer = v[1];
    /* both ready; epoll reports them in the order they were added, so the
     * killer runs first and the victim, already reported, must be skipped
     * (its memory is gone: ASan) */
    int victim_calls = 0;
    u.victim->counter = &victim_calls;
    loop_io_start(l, &u.io, LOOP_READ);
    loop_io_start(l, &u.victim->io, LOOP_READ);
    once_ok(l, 1000);
    assert_int_equal(u.calls, 1);
    assert_int_equal(victim_calls, 0);
    assert_non_null(u.fresh);
    /* started in the turn: not called from the old fd's report */
    assert_int_equal(u.fresh->calls, 0);
    once_ok(l, 1000);
    assert_int_equal(u.fresh->calls, 1);
    assert_int_equal(u.fresh->seen, LOOP_READ);
    assert_int_equal(loop_io_count(l), 2);
    loop_io_stop(l, &u.io);
    loop_io_stop(l, &u.fresh->io);
    close(u.fresh->io.fd);
    close(u.fresh_peer);
    free(u.fresh);
    close(a[0]);
    close(a[1]);
    loop_free(l);
}

static void test_loop_closed_before_stop_is_quiet(void **state)
{
    (void)state;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    log_set_stream(f);
    struct loop *l = new_loop();
    int p[2], q[2];
    make_pipe(p);
    make_pipe(q);
    struct ioc a, b;
    ioc_init(&a, p[0]);
    ioc_init(&b, q[0]);
    b.drain = 1;
    loop_io_start(l, &a.io, LOOP_READ);
    loop_io_start(l, &b.io, LOOP_READ);
    /* the owner's bug: closed, then stopped (EBADF on the way out) */
    close(p[0]);
    close(p[1]);
    loop_io_stop(l, &a.io);
    assert_int_equal(loop_io_count(l), 1);
    assert_int_equal(write(q[1], "x", 1), 1);
    once_ok(l, 1000);
    assert_int_equal(a.calls, 0);
    assert_int_equal(b.calls, 1);
    loop_io_stop(l, &b.io);
    loop_free(l);
    close(q[0]);
    close(q[1]);
    log_set_stream(NULL);
    fclose(f);
    assert_int_equal(len, 0);
    free(text);
}

static void test_loop_regular_file_always_ready(void **state)
{
    (void)state;
    /* epoll refuses regular files; poll() calls them always ready */
    int fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0)
        skip();
    struct loop *l = new_loop();
    struct ioc c;
    ioc_init(&c, fd);
    loop_io_start(l, &c.io, LOOP_READ);
    int64_t t0 = now_ms();
    once_ok(l, 5000);
    once_ok(l, 5000);
    assert_true(now_ms() - t0 < 1000);
    assert_int_equal(c.calls, 2);
    assert_int_equal(c.seen, LOOP_READ);
    loop_io_stop(l, &c.io);
    assert_int_equal(loop_io_count(l), 0);
    loop_free(l);
    close(fd);
}

static void test_loop_zmq_and_many_fds(void **state)
{
    (void)state;
    enum { N = 500 };
    want_fds(2 * N);
    void *ctx = zmq_ctx_new();
    assert_non_null(ctx);
    void *a = zmq_socket(ctx, ZMQ_PAIR);
    void *b = zmq_socket(ctx, ZMQ_PAIR);
    assert_int_equal(zmq_bind(a, "inproc://test-loop-many"), 0);
    assert_int_equal(zmq_connect(b, "inproc://test-loop-many"), 0);
    struct loop *l = new_loop();
    struct zc z = {0};
    loop_io_init_sock(&z.io, b, zc_fn, &z);
    loop_io_start(l, &z.io, LOOP_READ);
    struct many_fd *m = calloc(N, sizeof(*m));
    assert_non_null(m);
    for (int i = 0; i < N; i++) {
        int sp[2];
        make_pair(sp);
        m[i].peer = sp[1];
        loop_io_init_fd(&m[i].io, sp[0], many_fd_fn, &m[i]);
        loop_io_start(l, &m[i].io, LOOP_READ);
    }
    assert_int_equal(loop_io_count(l), N + 1);

    /* an fd alone wakes a loop blocked in zmq_poll */
    assert_int_equal(write(m[N - 1].peer, "x", 1), 1);
    int64_t t0 = now_ms();
    once_ok(l, 5000);
    assert_true(now_ms() - t0 < 1000);
    assert_int_equal(m[N - 1].calls, 1);
    assert_int_equal(z.msgs, 0);
    m[N - 1].calls = 0;

    /* the socket alone */
    assert_int_equal(zmq_send(a, "one", 3, 0), 3);
    once_ok(l, 5000);
    assert_int_equal(z.msgs, 1);
    for (int i = 0; i < N; i++)
        assert_int_equal(m[i].calls, 0);

    /* both, and 300 fds: all in the same turn or two */
    for (int i = 0; i < 300; i++)
        assert_int_equal(write(m[i].peer, "x", 1), 1);
    assert_int_equal(zmq_send(a, "two", 3, 0), 3);
    for (int k = 0; k < 10 && (z.msgs < 2 || m[0].calls == 0); k++)
        once_ok(l, 1000);
    assert_int_equal(z.msgs, 2);
    for (int i = 0; i < N; i++)
        assert_int_equal(m[i].calls, i < 300);

    /* the socket goes away: the fds are now waited on by epoll alone */
    loop_io_stop(l, &z.io);
    assert_int_equal(write(m[7].peer, "x", 1), 1);
    once_ok(l, 5000);
    assert_int_equal(m[7].calls, 2);
    /* and it comes back */
    loop_io_start(l, &z.io, LOOP_READ);
    assert_int_equal(zmq_send(a, "three", 5, 0), 5);
    once_ok(l, 5000);
    assert_int_equal(z.msgs, 3);
    assert_string_equal(z.last, "three");

    loop_free(l);
    for (int i = 0; i < N; i++) {
        close(m[i].io.fd);
        close(m[i].peer);
    }
    free(m);
    int linger = 0;
    zmq_setsockopt(a, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(b, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_close(a);
    zmq_close(b);
    zmq_ctx_term(ctx);
}

static void test_loop_fds_and_timer(void **state)
{
    (void)state;
    struct loop *l = new_loop();
    int sp[2];
    make_pair(sp);
    struct ioc c;
    ioc_init(&c, sp[0]);
    loop_io_start(l, &c.io, LOOP_READ);
    int n = 0;
    struct loop_timer t;
    loop_timer_init(&t, stop_fire, &n);
    loop_timer_start(l, &t, 40);
    /* nothing else to wait for: the idle fd does not keep it asleep past
     * the timer, nor wake it early */
    int64_t t0 = now_ms();
    run_ok(l);
    int64_t took = now_ms() - t0;
    assert_int_equal(n, 1);
    assert_true(took >= 35);
    assert_true(took < 1000);
    assert_int_equal(c.calls, 0);
    /* one turn with -1 waits for the timer too */
    loop_timer_start(l, &t, 30);
    t0 = now_ms();
    once_ok(l, -1);
    assert_true(now_ms() - t0 >= 25);
    assert_int_equal(n, 2);
    loop_io_stop(l, &c.io);
    loop_free(l);
    close(sp[0]);
    close(sp[1]);
}

static void test_loop_signal_with_fds(void **state)
{
    (void)state;
    enum { N = 200 };
    want_fds(2 * N);
    struct loop *l = new_loop();
    struct many_fd *m = calloc(N, sizeof(*m));
    assert_non_null(m);
    for (int i = 0; i < N; i++) {
        int sp[2];
        make_pair(sp);
        m[i].peer = sp[1];
        loop_io_init_fd(&m[i].io, sp[0], many_fd_fn, &m[i]);
        loop_io_start(l, &m[i].io, LOOP_READ);
    }
    struct sigc s = {0};
    struct err e = {0};
    assert_int_equal(loop_signal(l, SIGUSR1, sigc_fn, &s, &e), 0);
    assert_int_equal(loop_io_count(l), N + 1);
    int dog = 0;
    struct loop_timer watchdog;
    loop_timer_init(&watchdog, stop_fire, &dog);
    loop_timer_start(l, &watchdog, 5000);
    assert_int_equal(write(m[3].peer, "x", 1), 1);
    assert_int_equal(raise(SIGUSR1), 0);
    run_ok(l);
    assert_int_equal(dog, 0);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.signo, SIGUSR1);
    loop_timer_stop(l, &watchdog);
    /* the fd ready with the signal is served in the same or next turn */
    once_ok(l, 0);
    assert_int_equal(m[3].calls, 1);
    loop_free(l);
    for (int i = 0; i < N; i++) {
        close(m[i].io.fd);
        close(m[i].peer);
    }
    free(m);
}

/* --- random churn ------------------------------------------------------ */

/* An always-readable item that starts and stops others at random. */
struct churn {
    struct loop_io io;   /* embedded item */
    struct churn *all;   /* the whole set */
    int active_at_start; /* registered when the turn began */
    int touched;         /* started or stopped during this turn */
    int calls;           /* calls during this turn */
    int bad;             /* called while not registered */
};

enum { CHURN_N = 64 };

static void churn_fn(struct loop *l, struct loop_io *io, unsigned rev,
                     void *arg)
{
    (void)rev;
    struct churn *c = arg;
    if (!io->active)
        c->bad++;
    c->calls++;
    for (int k = 0; k < 3; k++) {
        struct churn *o = &c->all[rand() % CHURN_N];
        if (rand() % 2)
            loop_io_stop(l, &o->io);
        else
            loop_io_start(l, &o->io, LOOP_READ);
        o->touched = 1;
    }
}

static void test_loop_random_churn(void **state)
{
    (void)state;
    struct loop *l = new_loop();
    int p[2];
    make_pipe(p);
    /* never drained: every registered item is ready on every turn */
    assert_int_equal(write(p[1], "x", 1), 1);
    struct churn *c = calloc(CHURN_N, sizeof(*c));
    assert_non_null(c);
    for (int i = 0; i < CHURN_N; i++) {
        loop_io_init_fd(&c[i].io, p[0], churn_fn, &c[i]);
        c[i].all = c;
        if (i % 2)
            loop_io_start(l, &c[i].io, LOOP_READ);
    }
    srand(777);
    for (int turn = 0; turn < 500; turn++) {
        if (loop_io_count(l) == 0)
            loop_io_start(l, &c[turn % CHURN_N].io, LOOP_READ);
        size_t active = 0;
        for (int i = 0; i < CHURN_N; i++) {
            c[i].active_at_start = c[i].io.active;
            c[i].touched = 0;
            c[i].calls = 0;
            active += c[i].io.active;
        }
        assert_int_equal(loop_io_count(l), active);
        once_ok(l, 100);
        for (int i = 0; i < CHURN_N; i++) {
            assert_int_equal(c[i].bad, 0);
            assert_true(c[i].calls <= 1);
            if (!c[i].active_at_start)
                assert_int_equal(c[i].calls, 0);
            else if (!c[i].touched)
                assert_int_equal(c[i].calls, 1);
        }
    }
    loop_free(l);
    close(p[0]);
    close(p[1]);
    free(c);
}

/* --- many timers ------------------------------------------------------- */

struct many {
    struct loop_timer t; /* embedded timer */
    int64_t due;         /* deadline when armed */
    uint64_t seq;        /* arming order */
    int fired;           /* times fired */
};

static int64_t many_last_due;
static uint64_t many_last_seq;
static int many_fired;
static int many_bad_order;

static void many_fire(struct loop *l, struct loop_timer *t, void *arg)
{
    (void)l;
    (void)t;
    struct many *m = arg;
    m->fired++;
    if (m->due < many_last_due ||
        (m->due == many_last_due && m->seq < many_last_seq))
        many_bad_order++;
    /* never fires early */
    if (loop_now(l) < m->due)
        many_bad_order++;
    many_last_due = m->due;
    many_last_seq = m->seq;
    many_fired++;
}

static void test_loop_many_timers_random_order(void **state)
{
    (void)state;
    enum { N = 10000 };
    struct loop *l = new_loop();
    struct many *m = calloc(N, sizeof(*m));
    assert_non_null(m);
    srand(12345);
    for (int i = 0; i < N; i++) {
        loop_timer_init(&m[i].t, many_fire, &m[i]);
        loop_timer_start(l, &m[i].t, rand() % 60);
        m[i].due = m[i].t.due_ms;
        m[i].seq = m[i].t.seq;
    }
    assert_int_equal(loop_timer_count(l), N);
    /* stop a random third, some twice */
    int stopped = 0;
    for (int i = 0; i < N; i++) {
        if (rand() % 3 == 0) {
            loop_timer_stop(l, &m[i].t);
            loop_timer_stop(l, &m[i].t);
            m[i].fired = -100;
            stopped++;
        }
    }
    assert_int_equal(loop_timer_count(l), (size_t)(N - stopped));
    many_last_due = INT64_MIN;
    many_last_seq = 0;
    many_fired = 0;
    many_bad_order = 0;
    int64_t t0 = now_ms();
    run_ok(l);
    assert_true(now_ms() - t0 < 5000);
    assert_int_equal(many_bad_order, 0);
    assert_int_equal(many_fired, N - stopped);
    for (int i = 0; i < N; i++)
        assert_true(m[i].fired == 1 || m[i].fired == -100);
    assert_int_equal(loop_timer_count(l), 0);
    loop_free(l);
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loop_timers_deadline_order),
        cmocka_unit_test(test_loop_timers_fifo_for_equal_deadlines),
        cmocka_unit_test(test_loop_timer_stopped_never_fires),
        cmocka_unit_test(test_loop_timer_restart_moves_deadline),
        cmocka_unit_test(test_loop_zero_rearm_does_not_starve),
        cmocka_unit_test(test_loop_pipe_read_write_hangup),
        cmocka_unit_test(test_loop_pipe_reader_gone),
        cmocka_unit_test(test_loop_remove_inside_other_callback),
        cmocka_unit_test(test_loop_remove_then_readd_same_turn),
        cmocka_unit_test(test_loop_add_inside_callback),
        cmocka_unit_test(test_loop_io_count_bookkeeping),
        cmocka_unit_test(test_loop_zmq_pair_with_fds),
        cmocka_unit_test(test_loop_signal_via_signalfd),
        cmocka_unit_test(test_loop_run_returns),
        cmocka_unit_test(test_loop_timer_far_future),
        cmocka_unit_test(test_loop_far_timer_alone_sleeps),
        cmocka_unit_test(test_loop_random_churn),
        cmocka_unit_test(test_loop_many_timers_random_order),
        cmocka_unit_test(test_loop_many_fds_each_ready_once),
        cmocka_unit_test(test_loop_stop_and_free_ready_peer),
        cmocka_unit_test(test_loop_stop_and_free_self),
        cmocka_unit_test(test_loop_io_set_read_write),
        cmocka_unit_test(test_loop_eof_is_read),
        cmocka_unit_test(test_loop_fd_number_reused_in_turn),
        cmocka_unit_test(test_loop_closed_before_stop_is_quiet),
        cmocka_unit_test(test_loop_regular_file_always_ready),
        cmocka_unit_test(test_loop_zmq_and_many_fds),
        cmocka_unit_test(test_loop_fds_and_timer),
        cmocka_unit_test(test_loop_signal_with_fds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
