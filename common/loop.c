/* common/loop.c: the reactor. A table of fd/socket items polled together by
 * zmq_poll, a binary heap of timers, and a signalfd for signals. */
#include "loop.h"

#include "err.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

enum { LOOP_NSIG = 65 };

/* Longest single wait. zmq_poll with no items sleeps in usleep(timeout *
 * 1000), which wraps past 2^32 microseconds (71.6 minutes) and would wake
 * early and often; waking once an hour to recompute costs nothing. */
enum { LOOP_WAIT_MAX_MS = 3600000 };

struct loop_sig {
    loop_signal_fn *fn; /* handler, NULL when not watched */
    void *arg;          /* passed to fn */
};

struct loop {
    struct loop_io **ios;     /* registered items; NULL = removed this turn */
    size_t nios;              /* used slots in ios */
    size_t capios;            /* allocated slots */
    zmq_pollitem_t *items;    /* poll set, items[i] <-> ios[i], i < npolled */
    size_t npolled;           /* size of the poll set */
    size_t capitems;          /* allocated poll items */
    bool dirty;               /* poll set must be rebuilt */
    struct loop_timer **heap; /* armed timers, min-heap on (due, seq) */
    size_t nheap;             /* armed timers */
    size_t capheap;           /* allocated heap slots */
    uint64_t seq;             /* next timer arming number */
    int64_t now;              /* monotonic ms of this turn */
    bool stop;                /* loop_stop() was called */
    int sigfd;                /* signalfd, -1 until loop_signal() */
    sigset_t sigmask;         /* signals routed to sigfd */
    struct loop_io sigio;     /* sigfd's item */
    struct loop_sig sigs[LOOP_NSIG]; /* per-signal handlers */
};

static int64_t loop_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct loop *loop_new(struct err *e)
{
    (void)e;
    struct loop *l = xcalloc(1, sizeof(*l));
    l->sigfd = -1;
    sigemptyset(&l->sigmask);
    l->now = loop_clock();
    return l;
}

void loop_free(struct loop *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->nios; i++)
        if (l->ios[i] != NULL)
            l->ios[i]->active = false;
    for (size_t i = 0; i < l->nheap; i++)
        l->heap[i]->armed = false;
    if (l->sigfd >= 0)
        close(l->sigfd);
    free(l->ios);
    free(l->items);
    free(l->heap);
    free(l);
}

int64_t loop_now(const struct loop *l)
{
    return l->now;
}

size_t loop_io_count(const struct loop *l)
{
    size_t n = 0;
    for (size_t i = 0; i < l->nios; i++)
        n += l->ios[i] != NULL;
    return n;
}

size_t loop_timer_count(const struct loop *l)
{
    return l->nheap;
}

/* --- items ------------------------------------------------------------- */

void loop_io_init_fd(struct loop_io *io, int fd, loop_io_fn *fn, void *arg)
{
    memset(io, 0, sizeof(*io));
    io->fd = fd;
    io->fn = fn;
    io->arg = arg;
}

void loop_io_init_sock(struct loop_io *io, void *sock, loop_io_fn *fn,
                       void *arg)
{
    memset(io, 0, sizeof(*io));
    io->fd = -1;
    io->sock = sock;
    io->fn = fn;
    io->arg = arg;
}

void loop_io_start(struct loop *l, struct loop_io *io, unsigned events)
{
    if (io->active) {
        loop_io_set(l, io, events);
        return;
    }
    if (l->nios == l->capios) {
        l->capios = l->capios ? l->capios * 2 : 64;
        l->ios = xrealloc(l->ios, l->capios * sizeof(*l->ios));
    }
    io->events = events;
    io->slot = l->nios;
    io->active = true;
    l->ios[l->nios++] = io;
    l->dirty = true;
}

void loop_io_set(struct loop *l, struct loop_io *io, unsigned events)
{
    if (io->events == events)
        return;
    io->events = events;
    if (io->active && io->slot < l->npolled)
        l->items[io->slot].events = (short)events;
}

void loop_io_stop(struct loop *l, struct loop_io *io)
{
    if (!io->active)
        return;
    l->ios[io->slot] = NULL;
    io->active = false;
    l->dirty = true;
}

/* Compact the table and rebuild the poll set; only between turns. */
static void loop_rebuild(struct loop *l)
{
    size_t n = 0;
    for (size_t i = 0; i < l->nios; i++) {
        struct loop_io *io = l->ios[i];
        if (io == NULL)
            continue;
        io->slot = n;
        l->ios[n++] = io;
    }
    l->nios = n;
    if (l->capitems < n) {
        l->capitems = l->capios;
        l->items = xrealloc(l->items, l->capitems * sizeof(*l->items));
    }
    for (size_t i = 0; i < n; i++) {
        l->items[i].socket = l->ios[i]->sock;
        l->items[i].fd = l->ios[i]->fd;
        l->items[i].events = (short)l->ios[i]->events;
        l->items[i].revents = 0;
    }
    l->npolled = n;
    l->dirty = false;
}

/* --- timers ------------------------------------------------------------ */

static bool loop_timer_before(const struct loop_timer *a,
                              const struct loop_timer *b)
{
    return a->due_ms < b->due_ms || (a->due_ms == b->due_ms && a->seq < b->seq);
}

static void loop_heap_swap(struct loop *l, size_t i, size_t j)
{
    struct loop_timer *t = l->heap[i];
    l->heap[i] = l->heap[j];
    l->heap[j] = t;
    l->heap[i]->heap_idx = i;
    l->heap[j]->heap_idx = j;
}

static void loop_heap_up(struct loop *l, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!loop_timer_before(l->heap[i], l->heap[p]))
            break;
        loop_heap_swap(l, i, p);
        i = p;
    }
}

static void loop_heap_down(struct loop *l, size_t i)
{
    for (;;) {
        size_t c = 2 * i + 1, m = i;
        if (c < l->nheap && loop_timer_before(l->heap[c], l->heap[m]))
            m = c;
        if (c + 1 < l->nheap && loop_timer_before(l->heap[c + 1], l->heap[m]))
            m = c + 1;
        if (m == i)
            break;
        loop_heap_swap(l, i, m);
        i = m;
    }
}

void loop_timer_init(struct loop_timer *t, loop_timer_fn *fn, void *arg)
{
    memset(t, 0, sizeof(*t));
    t->fn = fn;
    t->arg = arg;
}

void loop_timer_stop(struct loop *l, struct loop_timer *t)
{
    if (!t->armed)
        return;
    size_t i = t->heap_idx;
    t->armed = false;
    l->nheap--;
    if (i != l->nheap) {
        l->heap[i] = l->heap[l->nheap];
        l->heap[i]->heap_idx = i;
        loop_heap_down(l, i);
        loop_heap_up(l, i);
    }
}

void loop_timer_start(struct loop *l, struct loop_timer *t, int64_t ms)
{
    loop_timer_stop(l, t);
    if (ms < 0)
        ms = 0;
    if (l->nheap == l->capheap) {
        l->capheap = l->capheap ? l->capheap * 2 : 64;
        l->heap = xrealloc(l->heap, l->capheap * sizeof(*l->heap));
    }
    int64_t now = loop_clock();
    /* a far deadline (INT64_MAX for "never") must not wrap into the past */
    t->due_ms = ms > INT64_MAX - now ? INT64_MAX : now + ms;
    t->seq = l->seq++;
    t->armed = true;
    t->heap_idx = l->nheap;
    l->heap[l->nheap++] = t;
    loop_heap_up(l, t->heap_idx);
}

/* --- signals ----------------------------------------------------------- */

static void loop_sig_read(struct loop *l, struct loop_io *io, unsigned ev,
                          void *arg)
{
    (void)io;
    (void)ev;
    (void)arg;
    struct signalfd_siginfo si;
    while (read(l->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        int signo = (int)si.ssi_signo;
        if (signo > 0 && signo < LOOP_NSIG && l->sigs[signo].fn != NULL)
            l->sigs[signo].fn(l, signo, l->sigs[signo].arg);
    }
}

int loop_signal(struct loop *l, int signo, loop_signal_fn *fn, void *arg,
                struct err *e)
{
    if (signo <= 0 || signo >= LOOP_NSIG)
        return err_set(e, ERR_INVALID, "signal %d out of range", signo), -1;
    sigaddset(&l->sigmask, signo);
    if (sigprocmask(SIG_BLOCK, &l->sigmask, NULL) < 0)
        return err_sys(e, "sigprocmask"), -1;
    int fd = signalfd(l->sigfd, &l->sigmask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0)
        return err_sys(e, "signalfd"), -1;
    if (l->sigfd < 0) {
        l->sigfd = fd;
        loop_io_init_fd(&l->sigio, fd, loop_sig_read, NULL);
        loop_io_start(l, &l->sigio, LOOP_READ);
    }
    l->sigs[signo].fn = fn;
    l->sigs[signo].arg = arg;
    return 0;
}

/* --- running ----------------------------------------------------------- */

void loop_stop(struct loop *l)
{
    l->stop = true;
}

static void loop_fire_timers(struct loop *l)
{
    /* Timers armed by these callbacks wait for the next turn, so a timer
     * that re-arms itself with 0 ms cannot starve the poll. */
    uint64_t limit = l->seq;
    while (l->nheap > 0) {
        struct loop_timer *t = l->heap[0];
        if (t->due_ms > l->now || t->seq >= limit)
            break;
        loop_timer_stop(l, t);
        t->fn(l, t, t->arg);
    }
}

int loop_run_once(struct loop *l, int64_t max_ms, struct err *e)
{
    if (l->dirty)
        loop_rebuild(l);
    l->now = loop_clock();
    long timeout = -1;
    if (l->nheap > 0) {
        int64_t d = l->heap[0]->due_ms - l->now;
        timeout = d < 0 ? 0 : (long)d;
    }
    if (max_ms >= 0 && (timeout < 0 || timeout > max_ms))
        timeout = (long)max_ms;
    if (timeout > LOOP_WAIT_MAX_MS)
        timeout = LOOP_WAIT_MAX_MS;
    if (l->npolled == 0 && timeout < 0)
        return 0;
    int rc = zmq_poll(l->items, (int)l->npolled, timeout);
    if (rc < 0 && errno != EINTR)
        return err_set(e, ERR_SYS, "zmq_poll: %s", zmq_strerror(errno)), -1;
    l->now = loop_clock();
    size_t n = rc > 0 ? l->npolled : 0;
    for (size_t i = 0; i < n; i++) {
        short rev = l->items[i].revents;
        if (rev == 0)
            continue;
        struct loop_io *io = l->ios[i];
        if (io == NULL) /* removed earlier in this turn */
            continue;
        unsigned got = (unsigned)rev & (io->events | LOOP_ERROR);
        if (got != 0)
            io->fn(l, io, got, io->arg);
    }
    loop_fire_timers(l);
    return 0;
}

int loop_run(struct loop *l, struct err *e)
{
    l->stop = false;
    while (!l->stop) {
        if (l->dirty)
            loop_rebuild(l);
        if (l->npolled == 0 && l->nheap == 0)
            break;
        if (loop_run_once(l, -1, e) < 0)
            return -1;
    }
    return 0;
}
