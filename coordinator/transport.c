/* coordinator/transport.c: the generic side of the transport interface. */
#include "transport.h"

#include <stdio.h>

struct conn *transport_connect(struct transport *t, const struct target *tg,
                               const struct conn_cb *cb, void *arg)
{
    return t->ops->connect(t, tg, cb, arg);
}

enum err_code conn_exec(struct conn *c, const struct exec_spec *s,
                        struct err *e)
{
    return c->t->ops->exec(c, s, e);
}

unsigned conn_caps(const struct conn *c)
{
    return c->t->ops->caps;
}

enum err_code conn_set_job(struct conn *c, const char *job_id, struct err *e)
{
    if (c->t->ops->set_job == NULL)
        return err_set(e, ERR_INVALID, "the %s transport keeps no jobs",
                       c->t->ops->name);
    return c->t->ops->set_job(c, job_id, e);
}

void conn_cancel(struct conn *c)
{
    c->t->ops->cancel(c);
}

void conn_close(struct conn *c)
{
    if (c != NULL)
        c->t->ops->close(c);
}

void transport_free(struct transport *t)
{
    if (t != NULL)
        t->ops->free(t);
}

bool exec_result_ok(const struct exec_result *r)
{
    return r->end == EXEC_EXITED && r->exit_code == 0;
}

const char *exec_result_str(const struct exec_result *r, char *out,
                            size_t outlen)
{
    switch (r->end) {
    case EXEC_EXITED:
        snprintf(out, outlen, "exit %d", r->exit_code);
        break;
    case EXEC_SIGNALED:
        snprintf(out, outlen, "killed by signal %s", r->signal);
        break;
    case EXEC_TIMEOUT:
        snprintf(out, outlen, "timed out: %s", r->err.msg);
        break;
    case EXEC_CANCELLED:
        snprintf(out, outlen, "cancelled");
        break;
    case EXEC_FAILED:
    default:
        snprintf(out, outlen, "%s", r->err.msg[0] ? r->err.msg : "failed");
        break;
    }
    return out;
}
