/* coordinator/curlloop.c: curl's sockets and timer as loop items. curl
 * tells us what to watch (curlloop_sock_cb) and when to wake it
 * (curlloop_timer_cb); the loop calls curl_multi_socket_action back, and
 * finished transfers are handed to the user (curlloop_drain). */
#include "curlloop.h"

#include "err.h"
#include "loop.h"

#include <stdbool.h>
#include <stdlib.h>

/* One socket curl asked us to watch. */
struct curlloop_sock {
    struct loop_io io;          /* its loop item */
    struct curlloop *c;         /* owner */
    curl_socket_t fd;           /* the socket */
    struct curlloop_sock *prev; /* in c->socks */
    struct curlloop_sock *next; /* in c->socks */
};

struct curlloop {
    CURLM *multi;                /* the multi handle */
    struct loop *loop;           /* drives it */
    struct loop_timer timer;     /* curl's own timeout */
    struct curlloop_sock *socks; /* watched sockets, doubly linked */
    curlloop_done_fn *done;      /* finished transfers go here */
    void *arg;                   /* passed to done */
};

static void curlloop_sock_free(struct curlloop_sock *s)
{
    struct curlloop *c = s->c;
    loop_io_stop(c->loop, &s->io);
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        c->socks = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    free(s);
}

/* Hand finished transfers over. The user's callback may add and remove
 * handles, which curl_multi_info_read tolerates. */
static void curlloop_drain(struct curlloop *c)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(c->multi, &left)) != NULL)
        if (m->msg == CURLMSG_DONE)
            c->done(m->easy_handle, m->data.result, c->arg);
}

static void curlloop_sock_ready(struct loop *l, struct loop_io *io,
                                unsigned revents, void *arg)
{
    (void)l;
    (void)io;
    struct curlloop_sock *s = arg;
    struct curlloop *c = s->c;
    int ev = 0;
    if (revents & LOOP_READ)
        ev |= CURL_CSELECT_IN;
    if (revents & LOOP_WRITE)
        ev |= CURL_CSELECT_OUT;
    if (revents & LOOP_ERROR)
        ev |= CURL_CSELECT_ERR;
    int running;
    /* s may be freed inside (CURL_POLL_REMOVE): do not touch it after. */
    curl_multi_socket_action(c->multi, s->fd, ev, &running);
    curlloop_drain(c);
}

/* Only record and (un)watch: never call curl_multi_* from here except
 * curl_multi_assign, which is allowed. */
static int curlloop_sock_cb(CURL *easy, curl_socket_t fd, int what, void *userp,
                            void *socketp)
{
    (void)easy;
    struct curlloop *c = userp;
    struct curlloop_sock *s = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (s != NULL) {
            curl_multi_assign(c->multi, fd, NULL);
            curlloop_sock_free(s);
        }
        return 0;
    }
    if (s == NULL) {
        s = xcalloc(1, sizeof(*s));
        s->c = c;
        s->fd = fd;
        loop_io_init_fd(&s->io, fd, curlloop_sock_ready, s);
        s->next = c->socks;
        if (c->socks != NULL)
            c->socks->prev = s;
        c->socks = s;
        curl_multi_assign(c->multi, fd, s);
    }
    unsigned ev = 0;
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
        ev |= LOOP_READ;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
        ev |= LOOP_WRITE;
    loop_io_start(c->loop, &s->io, ev);
    return 0;
}

static void curlloop_timer_fire(struct loop *l, struct loop_timer *t, void *arg)
{
    (void)l;
    (void)t;
    struct curlloop *c = arg;
    int running;
    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    curlloop_drain(c);
}

static int curlloop_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    struct curlloop *c = userp;
    if (timeout_ms < 0)
        loop_timer_stop(c->loop, &c->timer);
    else
        loop_timer_start(c->loop, &c->timer, timeout_ms);
    return 0;
}

struct curlloop *curlloop_new(struct loop *l, curlloop_done_fn *done, void *arg,
                              struct err *e)
{
    static bool global_done;
    if (!global_done) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            err_set(e, ERR_SYS, "curl_global_init failed");
            return NULL;
        }
        global_done = true;
    }
    struct curlloop *c = xcalloc(1, sizeof(*c));
    c->loop = l;
    c->done = done;
    c->arg = arg;
    c->multi = curl_multi_init();
    if (c->multi == NULL) {
        free(c);
        err_set(e, ERR_SYS, "curl_multi_init failed");
        return NULL;
    }
    loop_timer_init(&c->timer, curlloop_timer_fire, c);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, curlloop_sock_cb);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, curlloop_timer_cb);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    return c;
}

CURLM *curlloop_multi(const struct curlloop *c)
{
    return c->multi;
}

void curlloop_free(struct curlloop *c)
{
    if (c == NULL)
        return;
    /* Closes cached connections; curl may or may not tell us through
     * curlloop_sock_cb, so whatever is left is unwatched here. */
    curl_multi_cleanup(c->multi);
    while (c->socks != NULL)
        curlloop_sock_free(c->socks);
    loop_timer_stop(c->loop, &c->timer);
    free(c);
}
