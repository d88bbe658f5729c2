/* coordinator/transports.c: the table of transport kinds, and the set
 * that routes each host to its kind's transport. Conns of the chosen
 * transport are returned as they are (they dispatch to their own ops);
 * only a host whose transport is missing gets a set's conn, which reports
 * the failure from the loop. */
#include "transports.h"

#include "agentconn.h"
#include "buf.h"
#include "local.h"
#include "loop.h"
#include "ssh.h"

#include <stdlib.h>
#include <string.h>

static struct transport *transports_new_ssh(struct loop *l,
                                            const struct transport_options *o,
                                            struct err *e)
{
    return ssh_transport_new(l, o->ssh, e);
}

static struct transport *transports_new_agent(struct loop *l,
                                              const struct transport_options *o,
                                              struct err *e)
{
    return agentconn_transport_new(l, o->agent, e);
}

static struct transport *transports_new_local(struct loop *l,
                                              const struct transport_options *o,
                                              struct err *e)
{
    (void)o;
    return local_transport_new(l, e);
}

/* Every kind; the first is the default (drover_transport unset). */
static const struct transport_kind transport_kinds[] = {
    {"ssh", "ansible_port", true, transports_new_ssh},
    {"agent", "drover_agent_port", false, transports_new_agent},
    {"local", "ansible_port", false, transports_new_local},
};
enum {
    TRANSPORT_NKINDS = sizeof(transport_kinds) / sizeof(transport_kinds[0])
};

const struct transport_kind *transport_kind_find(const char *name,
                                                 struct err *e)
{
    if (name == NULL)
        return &transport_kinds[0];
    for (size_t i = 0; i < TRANSPORT_NKINDS; i++)
        if (strcmp(name, transport_kinds[i].name) == 0)
            return &transport_kinds[i];
    struct buf all;
    buf_init(&all, BUF_UNLIMITED);
    for (size_t i = 0; i < TRANSPORT_NKINDS; i++)
        buf_printf(&all, "%s%s",
                   i == 0                      ? ""
                   : i + 1 == TRANSPORT_NKINDS ? " or "
                                               : ", ",
                   transport_kinds[i].name);
    err_set(e, ERR_INVALID, "drover_transport '%s' is not %s", name,
            buf_cstr(&all));
    buf_release(&all);
    return NULL;
}

struct transports {
    struct transport base;                       /* must be first */
    struct loop *loop;                           /* the reactor */
    struct transport_options o;                  /* what kinds are made from */
    struct transport *by_kind[TRANSPORT_NKINDS]; /* owned, or NULL */
    bool want[TRANSPORT_NKINDS]; /* a host needs it (transports_want) */
};

/* A host that cannot be reached at all: says why from the loop. */
struct transports_conn {
    struct conn base;        /* must be first */
    struct loop *loop;       /* the reactor */
    struct loop_timer timer; /* reports the failure */
    struct err err;          /* what is missing */
};

static void transports_fail_fire(struct loop *l, struct loop_timer *t,
                                 void *arg)
{
    (void)l;
    (void)t;
    struct transports_conn *c = arg;
    c->base.cb->opened(&c->base, &c->err, c->base.arg);
}

static struct conn *transports_connect(struct transport *t,
                                       const struct target *tg,
                                       const struct conn_cb *cb, void *arg)
{
    struct transports *ts = (struct transports *)t;
    const struct transport_kind *k = tg->kind ? tg->kind : &transport_kinds[0];
    struct transport *to = ts->by_kind[k - transport_kinds];
    if (to != NULL)
        return transport_connect(to, tg, cb, arg);
    struct transports_conn *c = xcalloc(1, sizeof(*c));
    c->base.t = t;
    c->base.cb = cb;
    c->base.arg = arg;
    c->loop = ts->loop;
    err_set(&c->err, ERR_UNREACHABLE,
            "host %s: no %s transport in this run (drover_transport is %s)",
            tg->name, k->name, k->name);
    loop_timer_init(&c->timer, transports_fail_fire, c);
    loop_timer_start(ts->loop, &c->timer, 0);
    return &c->base;
}

static enum err_code transports_exec(struct conn *c, const struct exec_spec *s,
                                     struct err *e)
{
    (void)s;
    return err_set(e, ERR_UNREACHABLE, "%s",
                   ((struct transports_conn *)c)->err.msg);
}

static void transports_cancel(struct conn *c)
{
    (void)c;
}

static void transports_close(struct conn *c)
{
    struct transports_conn *tc = (struct transports_conn *)c;
    loop_timer_stop(tc->loop, &tc->timer);
    free(tc);
}

static void transports_free(struct transport *t)
{
    struct transports *ts = (struct transports *)t;
    for (size_t i = 0; i < TRANSPORT_NKINDS; i++)
        transport_free(ts->by_kind[i]);
    free(ts);
}

static const struct transport_ops transports_ops = {
    .name = "transports",
    .connect = transports_connect,
    .exec = transports_exec,
    .cancel = transports_cancel,
    .close = transports_close,
    .free = transports_free,
};

struct transport *transports_new(struct loop *l,
                                 const struct transport_options *o)
{
    struct transports *ts = xcalloc(1, sizeof(*ts));
    ts->base.ops = &transports_ops;
    ts->loop = l;
    ts->o = *o;
    return &ts->base;
}

void transports_want(struct transport *set, const struct transport_kind *k)
{
    ((struct transports *)set)->want[k - transport_kinds] = true;
}

enum err_code transports_open(struct transport *set, struct err *e)
{
    struct transports *ts = (struct transports *)set;
    for (size_t i = 0; i < TRANSPORT_NKINDS; i++)
        if (ts->want[i] && ts->by_kind[i] == NULL &&
            (ts->by_kind[i] = transport_kinds[i].new(ts->loop, &ts->o, e)) ==
                NULL)
            return e->code;
    return ERR_OK;
}

struct transport *transports_local(struct transport *set, struct err *e)
{
    size_t i = 0;
    while (transport_kinds[i].new != transports_new_local)
        i++;
    transports_want(set, &transport_kinds[i]);
    if (transports_open(set, e) != ERR_OK)
        return NULL;
    return ((struct transports *)set)->by_kind[i];
}
