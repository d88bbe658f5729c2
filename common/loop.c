/* common/loop.c: the reactor. Plain fds live in one epoll instance; ZeroMQ
 * sockets are polled by zmq_poll together with the epoll fd, and with no
 * socket registered the loop waits in epoll_wait itself. Timers are a binary
 * heap; signals arrive through a signalfd, which is a plain fd like others. */
#include "loop.h"

#include "err.h"
#include "log.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

enum { LOOP_NSIG = 65 };

/* Longest single wait: waking once an hour to recompute costs nothing, and
 * keeps every timeout far inside an int of milliseconds. */
enum { LOOP_WAIT_MAX_MS = 3600000 };

/* Events taken from the epoll instance per epoll_wait call. */
enum { LOOP_BATCH = 256 };

/* No slot: end of an fd's chain or of a free list. */
#define LOOP_NONE SIZE_MAX

/* How a plain fd is watched. */
enum loop_fd_state {
    LOOP_FD_OFF,   /* no item on this fd */
    LOOP_FD_EPOLL, /* registered in the epoll instance */
    LOOP_FD_BAD,   /* epoll refused it (closed fd): LOOP_ERROR every turn */
    LOOP_FD_FILE,  /* regular file (EPERM): always ready, as poll says */
};

/* One registered item. The slot outlives a stop until the next turn, so a
 * chain being walked, or a poll set built earlier, never meets a slot that
 * was handed to somebody else in the same turn. */
struct loop_slot {
    struct loop_io *io; /* the owner's item; NULL once stopped */
    uint64_t born;      /* turn in which it was started */
    size_t next;        /* next slot on the same fd, LOOP_NONE: last */
    size_t link;        /* free list or limbo list */
    int fd;             /* the plain fd, -1 for a ZeroMQ socket */
};

/* A plain fd number with one or more items on it (epoll takes an fd once;
 * the items share its registration, with the union of their events). */
struct loop_fd {
    size_t head;     /* first slot on this fd, LOOP_NONE: none */
    uint64_t seen;   /* turn in which it was last gathered (dedup) */
    uint32_t gen;    /* registration number, in epoll_event.data */
    uint32_t events; /* EPOLLIN | EPOLLOUT registered */
    int state;       /* enum loop_fd_state */
};

struct loop_sig {
    loop_signal_fn *fn; /* handler, NULL when not watched */
    void *arg;          /* passed to fn */
};

struct loop {
    struct loop_slot *slots;  /* all registered items, io->slot indexes */
    size_t nslots;            /* slots ever handed out */
    size_t capslots;          /* allocated slots */
    size_t free_head;         /* reusable slots */
    size_t limbo_head;        /* stopped this turn, reusable next turn */
    size_t nactive;           /* registered items of both kinds */
    struct loop_fd *fds;      /* per fd number */
    size_t capfds;            /* allocated fd records */
    uint32_t gen;             /* last registration number */
    int epfd;                 /* the epoll instance */
    int *synth;               /* fds in LOOP_FD_BAD or LOOP_FD_FILE */
    size_t nsynth;            /* used entries in synth */
    size_t capsynth;          /* allocated entries */
    struct epoll_event *evs;  /* events gathered this turn */
    size_t nevs;              /* used entries in evs */
    size_t capevs;            /* allocated entries */
    size_t *socks;            /* slots of the registered ZeroMQ sockets */
    size_t nsocks;            /* used entries in socks */
    size_t capsocks;          /* allocated entries */
    zmq_pollitem_t *items;    /* poll set: sockets, then the epoll fd */
    size_t *item_slot;        /* items[i] <-> slots[item_slot[i]] */
    size_t npolled;           /* sockets in the poll set */
    size_t capitems;          /* allocated poll items (plus one) */
    bool dirty;               /* poll set must be rebuilt */
    uint64_t turn;            /* turns run so far */
    bool in_turn;             /* inside loop_run_once */
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
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        return err_sys(e, "epoll_create1"), NULL;
    struct loop *l = xcalloc(1, sizeof(*l));
    l->epfd = epfd;
    l->free_head = LOOP_NONE;
    l->limbo_head = LOOP_NONE;
    l->sigfd = -1;
    sigemptyset(&l->sigmask);
    l->now = loop_clock();
    l->dirty = true;
    return l;
}

void loop_free(struct loop *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->nslots; i++)
        if (l->slots[i].io != NULL)
            l->slots[i].io->active = false;
    for (size_t i = 0; i < l->nheap; i++)
        l->heap[i]->armed = false;
    if (l->sigfd >= 0)
        close(l->sigfd);
    close(l->epfd);
    free(l->slots);
    free(l->fds);
    free(l->synth);
    free(l->evs);
    free(l->socks);
    free(l->items);
    free(l->item_slot);
    free(l->heap);
    free(l);
}

int64_t loop_now(const struct loop *l)
{
    return l->now;
}

size_t loop_io_count(const struct loop *l)
{
    return l->nactive;
}

size_t loop_timer_count(const struct loop *l)
{
    return l->nheap;
}

/* --- plain fds --------------------------------------------------------- */

static uint32_t loop_epoll_bits(unsigned events)
{
    uint32_t ev = 0;
    if (events & LOOP_READ)
        ev |= EPOLLIN;
    if (events & LOOP_WRITE)
        ev |= EPOLLOUT;
    return ev;
}

/* What poll() would say: a hangup or error is also readable (EOF). */
static unsigned loop_events_of(uint32_t ev)
{
    unsigned r = 0;
    if (ev & EPOLLIN)
        r |= LOOP_READ;
    if (ev & EPOLLOUT)
        r |= LOOP_WRITE;
    if (ev & (EPOLLERR | EPOLLHUP))
        r |= LOOP_ERROR | LOOP_READ;
    return r;
}

static struct loop_fd *loop_fd_get(struct loop *l, int fd)
{
    if ((size_t)fd >= l->capfds) {
        size_t cap = l->capfds ? l->capfds : 64;
        while (cap <= (size_t)fd)
            cap *= 2;
        l->fds = xrealloc(l->fds, cap * sizeof(*l->fds));
        for (size_t i = l->capfds; i < cap; i++)
            l->fds[i] = (struct loop_fd){.head = LOOP_NONE};
        l->capfds = cap;
    }
    return &l->fds[fd];
}

static void loop_synth_add(struct loop *l, int fd)
{
    if (l->nsynth == l->capsynth) {
        l->capsynth = l->capsynth ? l->capsynth * 2 : 8;
        l->synth = xrealloc(l->synth, l->capsynth * sizeof(*l->synth));
    }
    l->synth[l->nsynth++] = fd;
}

static void loop_synth_del(struct loop *l, int fd)
{
    for (size_t i = 0; i < l->nsynth; i++) {
        if (l->synth[i] == fd) {
            l->synth[i] = l->synth[--l->nsynth];
            return;
        }
    }
}

/* Bring the epoll registration of fd in line with the items on it: ADD,
 * MOD or DEL. Failures end up as events of the items, never as a crash. */
static void loop_fd_sync(struct loop *l, int fd)
{
    struct loop_fd *r = &l->fds[fd];
    bool synth = r->state == LOOP_FD_BAD || r->state == LOOP_FD_FILE;
    if (r->head == LOOP_NONE) {
        /* EBADF or ENOENT: the owner closed the fd before stopping, and
         * closing it already dropped the registration */
        if (r->state == LOOP_FD_EPOLL &&
            epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL) < 0 && errno != EBADF &&
            errno != ENOENT)
            log_debug("fd=%d: epoll_ctl DEL: %s", fd, strerror(errno));
        if (synth)
            loop_synth_del(l, fd);
        r->state = LOOP_FD_OFF;
        r->events = 0;
        return;
    }
    uint32_t want = 0;
    for (size_t s = r->head; s != LOOP_NONE; s = l->slots[s].next)
        want |= loop_epoll_bits(l->slots[s].io->events);
    if (r->state == LOOP_FD_EPOLL && want == r->events)
        return;
    struct epoll_event ev = {.events = want};
    int rc = -1;
    if (r->state == LOOP_FD_EPOLL) {
        ev.data.u64 = (uint64_t)r->gen << 32 | (uint32_t)fd;
        rc = epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev);
    }
    /* ENOENT: closed and opened again behind our back; the old file's
     * registration went with its last close */
    if (r->state != LOOP_FD_EPOLL || (rc < 0 && errno == ENOENT)) {
        r->gen = ++l->gen;
        ev.data.u64 = (uint64_t)r->gen << 32 | (uint32_t)fd;
        rc = epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev);
        if (rc < 0 && errno == EEXIST)
            rc = epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev);
    }
    if (rc == 0) {
        if (synth)
            loop_synth_del(l, fd);
        r->state = LOOP_FD_EPOLL;
        r->events = want;
        return;
    }
    /* poll() would report a closed fd as POLLNVAL and a regular file as
     * always ready; the items hear the same, every turn */
    int err = errno;
    if (err != EBADF && err != EPERM)
        log_warn("fd=%d: epoll_ctl: %s", fd, strerror(err));
    if (!synth)
        loop_synth_add(l, fd);
    r->state = err == EPERM ? LOOP_FD_FILE : LOOP_FD_BAD;
    r->events = want;
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

static size_t loop_slot_new(struct loop *l)
{
    if (l->free_head != LOOP_NONE) {
        size_t s = l->free_head;
        l->free_head = l->slots[s].link;
        return s;
    }
    if (l->nslots == l->capslots) {
        l->capslots = l->capslots ? l->capslots * 2 : 64;
        l->slots = xrealloc(l->slots, l->capslots * sizeof(*l->slots));
    }
    return l->nslots++;
}

void loop_io_start(struct loop *l, struct loop_io *io, unsigned events)
{
    if (io->active) {
        loop_io_set(l, io, events);
        return;
    }
    size_t s = loop_slot_new(l);
    struct loop_slot *sl = &l->slots[s];
    sl->io = io;
    sl->born = l->turn;
    sl->next = LOOP_NONE;
    sl->link = LOOP_NONE;
    sl->fd = io->sock != NULL ? -1 : io->fd;
    io->events = events;
    io->slot = s;
    io->active = true;
    l->nactive++;
    if (io->sock != NULL) {
        if (l->nsocks == l->capsocks) {
            l->capsocks = l->capsocks ? l->capsocks * 2 : 8;
            l->socks = xrealloc(l->socks, l->capsocks * sizeof(*l->socks));
        }
        l->socks[l->nsocks++] = s;
        l->dirty = true;
        return;
    }
    if (io->fd < 0) /* poll() ignores it too: never ready */
        return;
    struct loop_fd *r = loop_fd_get(l, io->fd);
    sl->next = r->head;
    r->head = s;
    loop_fd_sync(l, io->fd);
}

void loop_io_set(struct loop *l, struct loop_io *io, unsigned events)
{
    if (io->events == events)
        return;
    io->events = events;
    if (!io->active)
        return;
    int fd = l->slots[io->slot].fd;
    if (io->sock != NULL)
        l->dirty = true;
    else if (fd >= 0)
        loop_fd_sync(l, fd);
}

void loop_io_stop(struct loop *l, struct loop_io *io)
{
    if (!io->active)
        return;
    size_t s = io->slot;
    io->active = false;
    l->nactive--;
    struct loop_slot *sl = &l->slots[s];
    sl->io = NULL;
    sl->link = l->limbo_head;
    l->limbo_head = s;
    if (sl->fd < 0) {
        for (size_t i = 0; i < l->nsocks; i++) {
            if (l->socks[i] == s) {
                memmove(&l->socks[i], &l->socks[i + 1],
                        (l->nsocks - i - 1) * sizeof(*l->socks));
                l->nsocks--;
                break;
            }
        }
        l->dirty = true;
        return;
    }
    /* Unlink, but leave the slot's own next alone: a dispatch walking this
     * chain may stand on it and must still find the rest. */
    int fd = sl->fd;
    struct loop_fd *r = &l->fds[fd];
    if (r->head == s) {
        r->head = sl->next;
    } else {
        size_t p = r->head;
        while (p != LOOP_NONE && l->slots[p].next != s)
            p = l->slots[p].next;
        if (p != LOOP_NONE)
            l->slots[p].next = sl->next;
    }
    loop_fd_sync(l, fd);
}

/* Rebuild the ZeroMQ poll set (sockets, then the epoll fd); between turns
 * only, so the set is never edited while it is walked. */
static void loop_rebuild(struct loop *l)
{
    if (l->capitems < l->nsocks + 1) {
        l->capitems = l->capsocks + 1;
        l->items = xrealloc(l->items, l->capitems * sizeof(*l->items));
        l->item_slot =
            xrealloc(l->item_slot, l->capitems * sizeof(*l->item_slot));
    }
    for (size_t i = 0; i < l->nsocks; i++) {
        struct loop_io *io = l->slots[l->socks[i]].io;
        l->item_slot[i] = l->socks[i];
        l->items[i] = (zmq_pollitem_t){
            .socket = io->sock, .fd = -1, .events = (short)io->events};
    }
    l->items[l->nsocks] =
        (zmq_pollitem_t){.socket = NULL, .fd = l->epfd, .events = ZMQ_POLLIN};
    l->npolled = l->nsocks;
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

/* Slots stopped in an earlier turn may be handed out again. */
static void loop_release_limbo(struct loop *l)
{
    while (l->limbo_head != LOOP_NONE) {
        size_t s = l->limbo_head;
        l->limbo_head = l->slots[s].link;
        l->slots[s].link = l->free_head;
        l->free_head = s;
    }
}

/* Collect this turn's ready fds into evs, each fd once. epoll_wait is
 * repeated while batches come back full: level-triggered epoll puts what it
 * has not reported yet first and what it reported at the back, so a batch
 * with an fd seen before means every ready fd is in. Fds epoll refused are
 * added as if reported. Returns -1 with errno if epoll_wait failed. */
static int loop_gather(struct loop *l, int timeout, bool wait)
{
    l->nevs = 0;
    while (wait) {
        if (l->capevs < l->nevs + LOOP_BATCH) {
            l->capevs = l->nevs + LOOP_BATCH;
            l->evs = xrealloc(l->evs, l->capevs * sizeof(*l->evs));
        }
        int n = epoll_wait(l->epfd, l->evs + l->nevs, LOOP_BATCH,
                           l->nevs == 0 ? timeout : 0);
        if (n < 0 && errno != EINTR)
            return -1;
        if (n < 0)
            break;
        timeout = 0;
        bool again = false;
        size_t base = l->nevs;
        for (int i = 0; i < n; i++) {
            struct epoll_event ev = l->evs[base + (size_t)i];
            int fd = (int)(uint32_t)ev.data.u64;
            struct loop_fd *r = &l->fds[fd];
            if (r->seen == l->turn) {
                again = true;
                continue;
            }
            r->seen = l->turn;
            l->evs[l->nevs++] = ev;
        }
        wait = n == LOOP_BATCH && !again;
    }
    for (size_t i = 0; i < l->nsynth; i++) {
        if (l->nevs == l->capevs) {
            l->capevs = l->capevs ? l->capevs * 2 : LOOP_BATCH;
            l->evs = xrealloc(l->evs, l->capevs * sizeof(*l->evs));
        }
        struct loop_fd *r = &l->fds[l->synth[i]];
        uint32_t bits = r->state == LOOP_FD_BAD ? EPOLLERR : EPOLLIN | EPOLLOUT;
        l->evs[l->nevs++] = (struct epoll_event){
            .events = bits,
            .data.u64 = (uint64_t)r->gen << 32 | (uint32_t)l->synth[i]};
    }
    return 0;
}

/* Call the items of one gathered fd. An item stopped earlier in the turn
 * has a NULL slot; one started in this turn waits for the next; an fd
 * stopped and registered again carries a new gen and the old event is
 * dropped. The slots array may move under a callback: index, do not hold
 * pointers across one. */
static void loop_dispatch_fd(struct loop *l, const struct epoll_event *ev)
{
    int fd = (int)(uint32_t)ev->data.u64;
    uint32_t gen = (uint32_t)(ev->data.u64 >> 32);
    if (l->fds[fd].gen != gen || l->fds[fd].state == LOOP_FD_OFF)
        return;
    unsigned rev = loop_events_of(ev->events);
    for (size_t s = l->fds[fd].head; s != LOOP_NONE; s = l->slots[s].next) {
        struct loop_io *io = l->slots[s].io;
        if (io == NULL || l->slots[s].born == l->turn)
            continue;
        unsigned got = rev & (io->events | LOOP_ERROR);
        if (got != 0)
            io->fn(l, io, got, io->arg);
    }
}

static int loop_turn(struct loop *l, int64_t max_ms, struct err *e)
{
    l->turn++;
    loop_release_limbo(l);
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
    if (l->nsynth > 0)
        timeout = 0;
    if (l->nactive == 0 && timeout < 0)
        return 0;
    int rc = 0;
    if (l->npolled == 0) {
        if (loop_gather(l, (int)timeout, true) < 0)
            return err_sys(e, "epoll_wait"), -1;
    } else {
        rc = zmq_poll(l->items, (int)l->npolled + 1, timeout);
        if (rc < 0 && errno != EINTR)
            return err_set(e, ERR_SYS, "zmq_poll: %s", zmq_strerror(errno)), -1;
        bool ready = rc > 0 && (l->items[l->npolled].revents & ZMQ_POLLIN);
        if (loop_gather(l, 0, ready) < 0)
            return err_sys(e, "epoll_wait"), -1;
    }
    l->now = loop_clock();
    size_t n = rc > 0 ? l->npolled : 0;
    for (size_t i = 0; i < n; i++) {
        short rev = l->items[i].revents;
        if (rev == 0)
            continue;
        struct loop_io *io = l->slots[l->item_slot[i]].io;
        if (io == NULL) /* removed earlier in this turn */
            continue;
        unsigned got = (unsigned)rev & (io->events | LOOP_ERROR);
        if (got != 0)
            io->fn(l, io, got, io->arg);
    }
    for (size_t i = 0; i < l->nevs; i++)
        loop_dispatch_fd(l, &l->evs[i]);
    loop_fire_timers(l);
    return 0;
}

int loop_run_once(struct loop *l, int64_t max_ms, struct err *e)
{
    /* a turn inside a turn would hand out slots and overwrite the events
     * the outer one is still walking */
    assert(!l->in_turn);
    l->in_turn = true;
    int rc = loop_turn(l, max_ms, e);
    l->in_turn = false;
    return rc;
}

int loop_run(struct loop *l, struct err *e)
{
    l->stop = false;
    while (!l->stop) {
        if (l->nactive == 0 && l->nheap == 0)
            break;
        if (loop_run_once(l, -1, e) < 0)
            return -1;
    }
    return 0;
}
