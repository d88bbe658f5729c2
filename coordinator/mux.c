/* coordinator/mux.c: route each host to its transport. Conns of the
 * chosen transport are returned as they are (they dispatch to their own
 * ops); only a host whose transport is missing gets a mux conn, which
 * reports the failure from the loop. */
#include "mux.h"

#include "agentconn.h"
#include "loop.h"

#include <stdlib.h>
#include <string.h>

struct mux {
    struct transport base;   /* must be first */
    struct loop *loop;       /* the reactor */
    struct transport *ssh;   /* borrowed, or NULL */
    struct transport *agent; /* borrowed, or NULL */
    struct transport *local; /* borrowed, or NULL */
};

/* A host that cannot be reached at all: says why from the loop. */
struct mux_conn {
    struct conn base;        /* must be first */
    struct loop *loop;       /* the reactor */
    struct loop_timer timer; /* reports the failure */
    struct err err;          /* what is missing */
};

static void mux_fail_fire(struct loop *l, struct loop_timer *t, void *arg)
{
    (void)l;
    (void)t;
    struct mux_conn *c = arg;
    c->base.cb->opened(&c->base, &c->err, c->base.arg);
}

enum err_code mux_check_kind(const char *kind, struct err *e)
{
    if (kind == NULL || strcmp(kind, "ssh") == 0 ||
        strcmp(kind, "agent") == 0 || strcmp(kind, "local") == 0)
        return ERR_OK;
    return err_set(e, ERR_INVALID,
                   "drover_transport '%s' is not ssh, agent or local", kind);
}

static struct conn *mux_connect(struct transport *t, const struct target *tg,
                                const struct conn_cb *cb, void *arg)
{
    struct mux *m = (struct mux *)t;
    struct transport *to = NULL;
    struct err e = {0};
    const char *kind = tg->kind ? tg->kind : "ssh";
    if (mux_check_kind(tg->kind, &e) == ERR_OK) {
        if (strcmp(kind, "ssh") == 0)
            to = m->ssh;
        else if (strcmp(kind, "agent") == 0)
            to = m->agent;
        else
            to = m->local;
        if (to == NULL)
            err_set(&e, ERR_UNREACHABLE,
                    "host %s: no %s transport in this run (drover_transport "
                    "is %s)",
                    tg->name, kind, kind);
    }
    if (to != NULL && strcmp(kind, "agent") == 0 && tg->agent_key != NULL &&
        agentconn_pin(to, tg->name, tg->agent_key, &e) != ERR_OK)
        to = NULL;
    if (to != NULL)
        return transport_connect(to, tg, cb, arg);
    struct mux_conn *c = xcalloc(1, sizeof(*c));
    c->base.t = t;
    c->base.cb = cb;
    c->base.arg = arg;
    c->loop = m->loop;
    c->err = e;
    if (c->err.code == ERR_OK)
        err_set(&c->err, ERR_UNREACHABLE, "host %s: no transport", tg->name);
    loop_timer_init(&c->timer, mux_fail_fire, c);
    loop_timer_start(m->loop, &c->timer, 0);
    return &c->base;
}

static enum err_code mux_exec(struct conn *c, const struct exec_spec *s,
                              struct err *e)
{
    (void)s;
    return err_set(e, ERR_UNREACHABLE, "%s", ((struct mux_conn *)c)->err.msg);
}

static void mux_cancel(struct conn *c)
{
    (void)c;
}

static void mux_close(struct conn *c)
{
    struct mux_conn *mc = (struct mux_conn *)c;
    loop_timer_stop(mc->loop, &mc->timer);
    free(mc);
}

static void mux_free(struct transport *t)
{
    free(t);
}

static const struct transport_ops mux_ops = {
    .name = "mux",
    .connect = mux_connect,
    .exec = mux_exec,
    .cancel = mux_cancel,
    .close = mux_close,
    .free = mux_free,
};

struct transport *mux_transport_new(struct loop *l, struct transport *ssh,
                                    struct transport *agent,
                                    struct transport *local)
{
    struct mux *m = xcalloc(1, sizeof(*m));
    m->base.ops = &mux_ops;
    m->loop = l;
    m->ssh = ssh;
    m->agent = agent;
    m->local = local;
    return &m->base;
}
