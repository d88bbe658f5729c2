/* common/loop.h: the reactor, one per process (czmq zloop). Plain fds live
 * in an epoll instance (level-triggered); ZeroMQ sockets are polled with
 * zmq_poll together with that epoll fd, and with no socket registered the
 * loop waits in epoll_wait alone. Monotonic timers: the wait ends at the
 * nearest deadline. Callbacks may add and remove items: an item started in
 * a turn is polled from the next one, an item stopped in a turn is not
 * called again in it. No thread, no busy wait.
 *
 * Items and timers are embedded in their owner's struct (no allocation per
 * host): the owner keeps the memory alive until it has removed them. */
#ifndef DROVER_LOOP_H
#define DROVER_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;
struct loop_io;
struct loop_timer;

/* Events, the same bits as ZMQ_POLLIN / ZMQ_POLLOUT / ZMQ_POLLERR. */
enum {
    LOOP_READ = 1 << 0,
    LOOP_WRITE = 1 << 1,
    LOOP_ERROR = 1 << 2,
};

typedef void loop_io_fn(struct loop *l, struct loop_io *io, unsigned revents,
                        void *arg);
typedef void loop_timer_fn(struct loop *l, struct loop_timer *t, void *arg);
typedef void loop_signal_fn(struct loop *l, int signo, void *arg);

struct loop_io {
    int fd;          /* the fd, or -1 for a ZeroMQ socket */
    unsigned events; /* LOOP_READ | LOOP_WRITE wanted */
    void *sock;      /* the ZeroMQ socket, or NULL for an fd */
    loop_io_fn *fn;  /* called with what happened */
    void *arg;       /* passed to fn */
    size_t slot;     /* index in the loop's table while registered */
    bool active;     /* registered */
};

struct loop_timer {
    int64_t due_ms;    /* monotonic deadline while armed */
    loop_timer_fn *fn; /* called once when due */
    void *arg;         /* passed to fn */
    uint64_t seq;      /* arming order: ties fire first-armed first */
    size_t heap_idx;   /* position in the loop's heap while armed */
    bool armed;        /* in the heap */
};

/* New loop (it holds an epoll fd); NULL with e set on failure. */
struct err;
struct loop *loop_new(struct err *e);

/* Free the loop; items and timers still registered are dropped (their
 * owners are not called). NULL is a no-op. */
void loop_free(struct loop *l);

/* Register an fd (set non-blocking by the caller) or a ZeroMQ socket. An
 * fd is ready as poll() would say: a hangup or error (also a closed fd) is
 * LOOP_ERROR, and LOOP_READ too for an item waiting to read, so a reader
 * sees the EOF or the error. Callbacks get only LOOP_ERROR and the events
 * asked for. Several items may share one fd. Stop an fd's item before
 * closing the fd. */
void loop_io_init_fd(struct loop_io *io, int fd, loop_io_fn *fn, void *arg);
void loop_io_init_sock(struct loop_io *io, void *sock, loop_io_fn *fn,
                       void *arg);
void loop_io_start(struct loop *l, struct loop_io *io, unsigned events);
/* Change the wanted events of a registered item. */
void loop_io_set(struct loop *l, struct loop_io *io, unsigned events);
/* Unregister; safe from any callback, also the item's own. Idempotent.
 * The loop does not touch io after this returns: it may be freed. */
void loop_io_stop(struct loop *l, struct loop_io *io);

/* Timers: one-shot; re-arm from the callback for periodic work. */
void loop_timer_init(struct loop_timer *t, loop_timer_fn *fn, void *arg);
/* Arm (or re-arm) to fire after ms milliseconds (0: next turn). */
void loop_timer_start(struct loop *l, struct loop_timer *t, int64_t ms);
/* Disarm; idempotent. */
void loop_timer_stop(struct loop *l, struct loop_timer *t);

/* Deliver signo through a signalfd instead of a handler (the signal is
 * blocked in the process). One callback per signal. */
int loop_signal(struct loop *l, int signo, loop_signal_fn *fn, void *arg,
                struct err *e);

/* Run turns until loop_stop() is called, or nothing is left to wait for.
 * Returns 0, or -1 with e set if polling itself failed. */
int loop_run(struct loop *l, struct err *e);

/* One turn: wait at most max_ms (-1: until the nearest timer). Not from a
 * callback: turns do not nest. */
int loop_run_once(struct loop *l, int64_t max_ms, struct err *e);

/* Make loop_run return after the current turn. */
void loop_stop(struct loop *l);

/* The loop's cached monotonic time of this turn, in ms. */
int64_t loop_now(const struct loop *l);

/* Number of registered items and armed timers (tests, accounting). */
size_t loop_io_count(const struct loop *l);
size_t loop_timer_count(const struct loop *l);

#endif
