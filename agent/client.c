/* agent/client.c: a DEALER, CURVE client, on the loop: wait for the
 * agent's probe (handshake done), HELLO, then EXEC or JOB_QUERY, acking
 * output as it is written to our stdout/stderr. */
#include "client.h"

#include "buf.h"
#include "log.h"
#include "loop.h"
#include "proto.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <zmq.h>

enum client_state { CLIENT_CONNECTING, CLIENT_HELLO, CLIENT_RUNNING };

struct client {
    const struct client_options *o; /* what to do */
    struct loop *loop;              /* the reactor */
    void *sock;                     /* DEALER */
    struct loop_io io;              /* sock on the loop */
    struct loop_timer deadline;     /* connect timeout */
    struct loop_timer cancel;       /* --cancel-after */
    struct loop_timer beat;         /* heartbeat */
    int64_t last_rx;                /* monotonic ms of the last message */
    enum client_state state;        /* where we are */
    int status;                     /* exit status once done */
    bool done;                      /* finished */
};

static void client_send(struct client *c, struct proto_msg *m)
{
    struct buf b;
    buf_init(&b, PROTO_FRAME_MAX);
    struct err e = {0};
    m->epoch = c->o->epoch;
    if (proto_encode(m, &b, &e) != ERR_OK)
        fprintf(stderr, "drover-agent exec: %s\n", e.msg);
    else if (zmq_send(c->sock, b.data, b.len, ZMQ_DONTWAIT) < 0)
        fprintf(stderr, "drover-agent exec: send: %s\n", zmq_strerror(errno));
    buf_release(&b);
}

static void client_finish(struct client *c, int status)
{
    c->status = status;
    c->done = true;
    loop_stop(c->loop);
}

static void client_result(struct client *c, const struct proto_msg *m)
{
    const char *how = "exited";
    int status = (int)m->code;
    switch (m->end) {
    case PROTO_END_SIGNALED:
        how = "killed by a signal";
        status = 128;
        for (int s = 1; s < 65 && m->signal != NULL; s++)
            if (sigabbrev_np(s) && strcmp(sigabbrev_np(s), m->signal) == 0)
                status = 128 + s;
        break;
    case PROTO_END_TIMEOUT:
        how = "timed out";
        status = CLIENT_EXIT_TIMEOUT;
        break;
    case PROTO_END_CANCELLED:
        how = "cancelled";
        status = CLIENT_EXIT_CANCELLED;
        break;
    case PROTO_END_FAILED:
        how = "failed to run";
        status = CLIENT_EXIT_FAILED;
        break;
    default:
        break;
    }
    fprintf(stderr,
            "drover-agent exec: job %s %s code=%" PRId64 " signal=%s "
            "elapsed=%" PRIu64 "ms dropped=%" PRIu64 "%s%s%s\n",
            m->job, how, m->code, m->signal ? m->signal : "-", m->elapsed_ms,
            m->dropped, m->replayed ? " (stored result: not run again)" : "",
            m->text ? ": " : "", m->text ? m->text : "");
    client_finish(c, status);
}

static void client_on_cancel(struct loop *l, struct loop_timer *t, void *arg)
{
    (void)l;
    (void)t;
    struct client *c = arg;
    struct proto_msg m = {
        .type = PROTO_CANCEL, .req = 3, .job = (char *)c->o->job};
    client_send(c, &m);
}

static void client_on_beat(struct loop *l, struct loop_timer *t, void *arg)
{
    struct client *c = arg;
    int64_t limit =
        c->o->heartbeat_timeout_ms > 0 ? c->o->heartbeat_timeout_ms : 6000;
    int64_t quiet = loop_now(l) - c->last_rx;
    if (quiet >= limit) {
        fprintf(stderr,
                "drover-agent exec: the agent at %s has been silent for "
                "%" PRId64 "ms: unreachable\n",
                c->o->endpoint, quiet);
        client_finish(c, CLIENT_EXIT_UNREACHABLE);
        return;
    }
    if (quiet >= limit / 3) {
        struct proto_msg m = {.type = PROTO_PING, .req = 4};
        client_send(c, &m);
    }
    loop_timer_start(l, t, limit / 3 > 0 ? limit / 3 : 1);
}

static void client_start_job(struct client *c)
{
    const struct client_options *o = c->o;
    c->state = CLIENT_RUNNING;
    if (o->query) {
        struct proto_msg m = {
            .type = PROTO_JOB_QUERY, .req = 2, .job = (char *)o->job};
        client_send(c, &m);
        return;
    }
    size_t nenv = 0;
    while (o->env && o->env[nenv])
        nenv++;
    struct proto_env *env = xcalloc(nenv + 1, sizeof(*env));
    for (size_t i = 0; i < nenv; i++) {
        const char *eq = strchr(o->env[i], '=');
        env[i].name = xstrndup(o->env[i], (size_t)(eq - o->env[i]));
        env[i].value = xstrdup(eq + 1);
    }
    struct proto_msg m = {.type = PROTO_EXEC,
                          .req = 2,
                          .job = (char *)o->job,
                          .command = (char *)o->command,
                          .env = env,
                          .nenv = nenv,
                          .input = (void *)o->input,
                          .input_len = o->input_len,
                          .timeout_ms = o->timeout_ms,
                          .output_max = o->output_max};
    client_send(c, &m);
    for (size_t i = 0; i < nenv; i++) {
        free(env[i].name);
        explicit_bzero(env[i].value, strlen(env[i].value));
        free(env[i].value);
    }
    free(env);
    if (o->cancel_after_ms > 0)
        loop_timer_start(c->loop, &c->cancel, o->cancel_after_ms);
}

static void client_message(struct client *c, const struct proto_msg *m)
{
    switch (m->type) {
    case PROTO_WELCOME:
        if (c->state == CLIENT_HELLO)
            client_start_job(c);
        break;
    case PROTO_OUTPUT: {
        FILE *f = m->stream == 1 ? stdout : stderr;
        fwrite(m->data, 1, m->data_len, f);
        fflush(f);
        struct proto_msg ack = {
            .type = PROTO_OUTPUT_ACK, .req = 2, .job = m->job, .seq = m->seq};
        client_send(c, &ack);
        break;
    }
    case PROTO_PONG:
        break;
    case PROTO_RESULT:
        client_result(c, m);
        break;
    case PROTO_JOB_STATUS:
        fprintf(stderr, "drover-agent exec: job %s is %s\n", m->job,
                m->state == PROTO_JOB_RUNNING ? "running" : "unknown");
        client_finish(c, m->state == PROTO_JOB_RUNNING ? 0 : 1);
        break;
    case PROTO_ERROR:
        fprintf(stderr, "drover-agent exec: the agent refused: %s\n", m->text);
        client_finish(c, CLIENT_EXIT_REFUSED);
        break;
    default:
        fprintf(stderr, "drover-agent exec: unexpected %s from the agent\n",
                proto_type_name(m->type));
        break;
    }
}

static void client_ready(struct loop *l, struct loop_io *io, unsigned ev,
                         void *arg)
{
    (void)l;
    (void)io;
    (void)ev;
    struct client *c = arg;
    while (!c->done) {
        zmq_msg_t f;
        zmq_msg_init(&f);
        if (zmq_msg_recv(&f, c->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&f);
            return;
        }
        c->last_rx = loop_now(c->loop);
        if (zmq_msg_size(&f) == 0) {
            /* the agent's probe: CURVE and ZAP both said yes */
            if (c->state == CLIENT_CONNECTING) {
                loop_timer_stop(c->loop, &c->deadline);
                loop_timer_start(c->loop, &c->beat, 0);
                c->state = CLIENT_HELLO;
                struct proto_msg h = {.type = PROTO_HELLO, .req = 1};
                client_send(c, &h);
            }
        } else {
            struct proto_msg m;
            struct err e = {0};
            if (proto_decode(zmq_msg_data(&f), zmq_msg_size(&f), &m, &e) ==
                ERR_OK)
                client_message(c, &m);
            else
                fprintf(stderr, "drover-agent exec: bad message: %s\n", e.msg);
            proto_msg_release(&m);
        }
        zmq_msg_close(&f);
    }
}

static void client_on_deadline(struct loop *l, struct loop_timer *t, void *arg)
{
    (void)l;
    (void)t;
    struct client *c = arg;
    fprintf(stderr,
            "drover-agent exec: no authenticated connection to %s within "
            "%" PRId64 "ms: check that the agent runs, that --server-key is "
            "its public key, and that our public key is in its "
            "authorized_keys\n",
            c->o->endpoint, c->o->connect_timeout_ms);
    client_finish(c, CLIENT_EXIT_CONNECT);
}

int client_run(const struct client_options *o)
{
    /* libzmq keeps copies of our secret key (socket, session, engine and
     * CURVE mechanism options) that its API cannot wipe, until the process
     * exits: no other process of ours may read them (ptrace, /proc/PID/mem)
     * and no core dump may hold them (docs/agent.md, "Operator tools") */
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
        fprintf(stderr, "drover-agent exec: PR_SET_DUMPABLE: %s\n",
                strerror(errno));
    struct err e = {0};
    struct client c = {.o = o, .status = CLIENT_EXIT_CONNECT};
    c.loop = loop_new(&e);
    if (c.loop == NULL) {
        fprintf(stderr, "drover-agent exec: %s\n", e.msg);
        return c.status;
    }
    void *ctx = zmq_ctx_new();
    c.sock = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0, ivl = 500;
    zmq_setsockopt(c.sock, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(c.sock, ZMQ_RECONNECT_IVL_MAX, &ivl, sizeof(ivl));
    if (zmq_setsockopt(c.sock, ZMQ_CURVE_SERVERKEY, o->server_key,
                       KEYFILE_Z85_LEN + 1) != 0 ||
        zmq_setsockopt(c.sock, ZMQ_CURVE_PUBLICKEY, o->key->public_z85,
                       KEYFILE_Z85_LEN + 1) != 0 ||
        zmq_setsockopt(c.sock, ZMQ_CURVE_SECRETKEY, o->key->secret_z85,
                       KEYFILE_Z85_LEN + 1) != 0 ||
        zmq_connect(c.sock, o->endpoint) != 0) {
        fprintf(stderr, "drover-agent exec: %s: %s\n", o->endpoint,
                zmq_strerror(errno));
        c.status = CLIENT_EXIT_CONNECT;
    } else {
        loop_io_init_sock(&c.io, c.sock, client_ready, &c);
        loop_io_start(c.loop, &c.io, LOOP_READ);
        loop_timer_init(&c.deadline, client_on_deadline, &c);
        loop_timer_init(&c.cancel, client_on_cancel, &c);
        loop_timer_init(&c.beat, client_on_beat, &c);
        loop_timer_start(c.loop, &c.deadline, o->connect_timeout_ms);
        if (loop_run(c.loop, &e) != 0)
            fprintf(stderr, "drover-agent exec: %s\n", e.msg);
    }
    zmq_close(c.sock);
    zmq_ctx_term(ctx);
    loop_free(c.loop);
    return c.status;
}
