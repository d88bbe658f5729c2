/* coordinator/agentconn.c: the agent transport. One ZMTP/CURVE connection
 * per agent (coordinator/zmtp.c: libzmq's per-connection pipes cost tens
 * of KB a host, docs/agent.md), every conn a slot in a table, and a small
 * state machine per host:
 *
 *   KEYSCAN (accept_new only) -> QUEUED -> CONNECTING -> HELLO -> READY
 *   READY <-> RUNNING; any -> DEAD
 *
 * At most connect_concurrency hosts are between CONNECTING and their first
 * WELCOME at once; the rest wait in QUEUED, so ten thousand handshakes
 * do not all start in the same millisecond (and time out together).
 *
 * CONNECTING ends when the agent's probe (an empty frame sent once CURVE
 * and ZAP agreed) arrives; HELLO when WELCOME does. A lost connection is
 * dialled again (100 ms, doubling up to AGENTCONN_RECONNECT_IVL_MAX_MS)
 * while the heartbeat timeout has not run out, also after a handshake
 * ending that suggests a wrong key or a refusal (unauthenticated: believed
 * after AGENTCONN_AUTH_STRIKES identical ones in a row, agentconn_lost);
 * a reconnect while RUNNING re-sends the same EXEC: the agent re-attaches
 * the job or returns its stored result, so a step never runs twice.
 *
 * Why one file of more than 1,000 lines: it is that one state machine.
 * Connecting, the keyscan, receiving and the transport_ops all move the
 * same conn through the states above and read the same slot table, timers
 * and queue of the transport; split by section, each file would need
 * struct agentconn and its transport laid open in a header, and a reader
 * would follow one transition across files. The sections below (helpers,
 * connecting, keyscan, receiving, transport_ops, public) read in order. */
#include "agentconn.h"

#include "buf.h"
#include "clock.h"
#include "fence.h"
#include "keyfile.h"
#include "log.h"
#include "loop.h"
#include "proto.h"
#include "strmap.h"
#include "zmtp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.h>

enum agentconn_state {
    AC_KEYSCAN,    /* fetching the agent's key (accept_new) */
    AC_QUEUED,     /* waiting for a handshake slot */
    AC_CONNECTING, /* CURVE handshake */
    AC_HELLO,      /* HELLO sent, waiting for WELCOME */
    AC_READY,      /* idle */
    AC_RUNNING,    /* a job is running */
    AC_DEAD,       /* failed or unreachable: only close is left */
};

static const char *const agentconn_state_names[] = {
    "keyscan", "queued", "connecting", "hello", "ready", "running", "dead"};

enum { AC_KEYSCAN_MAX = 128, AC_RETRY_FIRST_MS = 100 };

struct agentconn_transport;

union agentconn_addr {
    struct sockaddr sa;
    struct sockaddr_in in;
    struct sockaddr_in6 in6;
};

struct agentconn {
    struct conn base;                /* transport.h's part, first */
    struct agentconn_transport *t;   /* owner */
    uint32_t slot;                   /* index in t->slots */
    uint32_t gen;                    /* conn number: tells a reused slot
                                        from the conn that left it */
    char *name;                      /* inventory_hostname */
    char *address;                   /* where to connect */
    int port;                        /* agent port */
    char endpoint[300];              /* tcp://address:port */
    char key[KEYFILE_Z85_LEN + 1];   /* the agent's pinned public key */
    enum agentconn_state state;      /* see the top of the file */
    struct zmtp z;                   /* the connection */
    union agentconn_addr addr;       /* resolved address */
    socklen_t addrlen;               /* 0 until resolved */
    int64_t retry_ms;                /* next reconnect delay */
    uint8_t ending;                  /* how the last handshake ended
                                        (enum zmtp_ending) */
    uint8_t strikes;                 /* handshakes in a row that ended so */
    bool opened_reported;            /* cb->opened was called */
    struct err dead;                 /* why it is AC_DEAD: what a later
                                        exec answers */
    int64_t last_rx;                 /* monotonic ms of the last message */
    bool hs;                         /* counted in t->inflight */
    struct agentconn *qprev, *qnext; /* in t's queue while QUEUED */
    struct loop_timer t_connect;     /* connect deadline */
    struct loop_timer t_beat;        /* heartbeat */
    struct loop_timer t_async;       /* deliver an early error */
    struct loop_timer t_retry;       /* dial again */
    struct err early;                /* error found before connecting */
    uint64_t seq;                    /* jobs run, for job ids */
    char job[PROTO_ID_MAX + 1];      /* current job id */
    char next_job[PROTO_ID_MAX + 1]; /* agentconn_next_job, or "" */
    struct proto_msg exec;           /* the EXEC, kept to re-send */
    void *input;                     /* exec.input's copy (wiped) */
    int64_t started_ms;              /* exec start */
    bool cancel_sent;                /* conn_cancel */
    int ks_fd;                       /* keyscan socket */
    struct loop_io ks_io;            /* ks_fd on the loop */
    char ks_buf[AC_KEYSCAN_MAX];     /* keyscan answer */
    size_t ks_len;                   /* bytes in ks_buf */
};

struct agentconn_pin {
    char *host;                    /* target name */
    char key[KEYFILE_Z85_LEN + 1]; /* pinned key */
};

struct agentconn_transport {
    struct transport base;           /* transport.h's part, first */
    struct loop *loop;               /* the reactor */
    struct zmtp_ctx zx;              /* our keys, shared buffers */
    bool zx_ready;                   /* zx set up */
    struct keypair key;              /* our public key (the secret is
                                        wiped once zx holds it) */
    char *known_agents;              /* known_agents path */
    struct keyfile_known *known;     /* its contents, read at first use */
    struct err known_err;            /* why it could not be read */
    bool accept_new;                 /* record unknown agents */
    int port;                        /* default agent port */
    uint64_t epoch;                  /* fencing epoch */
    char *who;                       /* who we are (fence_who), or NULL */
    char run_id[64];                 /* job id prefix */
    int64_t connect_timeout_ms;      /* handshake deadline */
    size_t max_inflight;             /* handshakes at once */
    size_t inflight;                 /* handshakes now */
    struct agentconn *qhead, *qtail; /* conns waiting for a slot */
    struct loop_timer t_pump;        /* start queued handshakes */
    int64_t beat_ms;                 /* PING after this silence */
    int64_t beat_timeout_ms;         /* unreachable after this silence */
    uint64_t output_max;             /* asked of agents */
    struct agentconn **slots;        /* conns by routing id */
    uint32_t gen;                    /* connections made so far */
    size_t nslots;                   /* slots used or freed */
    size_t capslots;                 /* slots allocated */
    uint32_t *free_slots;            /* reusable indices */
    size_t nfree;                    /* how many */
    struct strmap pins;              /* host -> agentconn_pin */
    struct buf out;                  /* encode buffer */
    uint64_t req;                    /* request ids */
    struct agentconn_stats stats;    /* counters */
};

static const struct transport_ops agentconn_ops;

/* --- helpers ------------------------------------------------------------- */

static void agentconn_state(struct agentconn *c, enum agentconn_state s)
{
    if (c->state == s)
        return;
    log_debug("host=%s agent: %s -> %s", c->name,
              agentconn_state_names[c->state], agentconn_state_names[s]);
    if (c->state == AC_READY || c->state == AC_RUNNING)
        c->t->stats.ready--;
    if (s == AC_READY || s == AC_RUNNING)
        c->t->stats.ready++;
    c->state = s;
}

static bool agentconn_send(struct agentconn *c, struct proto_msg *m)
{
    struct agentconn_transport *t = c->t;
    m->epoch = t->epoch;
    /* who we are, for the agent's epoch record (not on the hot path) */
    if (m->type != PROTO_PING && m->type != PROTO_OUTPUT_ACK)
        m->who = t->who;
    m->req = ++t->req;
    buf_reset(&t->out);
    struct err e = {0};
    if (proto_encode(m, &t->out, &e) != ERR_OK) {
        log_error("host=%s: %s", c->name, e.msg);
        return false;
    }
    bool sent = zmtp_send(&c->z, t->out.data, t->out.len);
    if (m->input_len > 0) /* the encoded stdin (secrets) */
        explicit_bzero(t->out.data, t->out.len);
    if (!sent) {
        /* not connected right now: a reconnect re-sends what matters */
        log_debug("host=%s: %s not sent: not connected", c->name,
                  proto_type_name(m->type));
        return false;
    }
    t->stats.sent++;
    return true;
}

static void agentconn_disconnect(struct agentconn *c)
{
    zmtp_close(&c->z);
    loop_timer_stop(c->t->loop, &c->t_retry);
    if (c->ks_fd >= 0) {
        loop_io_stop(c->t->loop, &c->ks_io);
        close(c->ks_fd);
        c->ks_fd = -1;
    }
}

static void agentconn_exec_clear(struct agentconn *c)
{
    if (c->input != NULL) {
        explicit_bzero(c->input, c->exec.input_len);
        free(c->input);
        c->input = NULL;
    }
    free(c->exec.command);
    memset(&c->exec, 0, sizeof(c->exec));
}

static void agentconn_unqueue(struct agentconn *c);
static void agentconn_hs_done(struct agentconn *c);

/* The conn failed: report it as an open failure or a lost command. */
static void agentconn_fail(struct agentconn *c, enum err_code code,
                           const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void agentconn_fail(struct agentconn *c, enum err_code code,
                           const char *fmt, ...)
{
    struct err e = {0};
    va_list ap;
    va_start(ap, fmt);
    err_vsetf(&e, code, fmt, ap);
    va_end(ap);
    enum agentconn_state was = c->state;
    agentconn_unqueue(c);
    agentconn_state(c, AC_DEAD);
    loop_timer_stop(c->t->loop, &c->t_connect);
    loop_timer_stop(c->t->loop, &c->t_beat);
    agentconn_disconnect(c);
    log_warn("host=%s agent: %s", c->name, e.msg);
    agentconn_hs_done(c);
    c->dead = e;
    if (!c->opened_reported) {
        c->opened_reported = true;
        c->base.cb->opened(&c->base, &e, c->base.arg);
    } else if (was == AC_RUNNING || c->exec.job != NULL) {
        /* a job in flight, also one waiting for a reconnect's WELCOME
         * (AC_HELLO): its caller is waiting for this end (a fenced
         * coordinator continued after SIGSTOP hung here) */
        struct exec_result r = {.end = EXEC_FAILED, .exit_code = -1};
        r.err = e;
        r.elapsed_ms = clock_mono_ms() - c->started_ms;
        agentconn_exec_clear(c);
        c->base.cb->done(&c->base, &r, c->base.arg);
    }
}

/* --- connecting ---------------------------------------------------------- */

static void agentconn_zconnect(struct agentconn *c);

/* Start queued handshakes while slots are free. */
static void agentconn_pump(struct agentconn_transport *t)
{
    while (t->inflight < t->max_inflight && t->qhead != NULL) {
        struct agentconn *c = t->qhead;
        t->qhead = c->qnext;
        if (t->qhead != NULL)
            t->qhead->qprev = NULL;
        else
            t->qtail = NULL;
        c->qnext = c->qprev = NULL;
        agentconn_zconnect(c);
    }
}

/* c's handshake is over (opened, failed or closed): free its slot. */
static void agentconn_hs_done(struct agentconn *c)
{
    if (!c->hs)
        return;
    c->hs = false;
    c->t->inflight--;
    /* not now: starting another host's handshake may fail it and call
     * its owner back while c's own callback is on the stack */
    if (c->t->qhead != NULL)
        loop_timer_start(c->t->loop, &c->t->t_pump, 0);
}

static void agentconn_on_pump(struct loop *l, struct loop_timer *tm, void *arg)
{
    (void)l;
    (void)tm;
    agentconn_pump(arg);
}

static void agentconn_unqueue(struct agentconn *c)
{
    struct agentconn_transport *t = c->t;
    if (c->state != AC_QUEUED)
        return;
    if (c->qprev != NULL)
        c->qprev->qnext = c->qnext;
    else
        t->qhead = c->qnext;
    if (c->qnext != NULL)
        c->qnext->qprev = c->qprev;
    else
        t->qtail = c->qprev;
    c->qnext = c->qprev = NULL;
}

/* Connect now if a handshake slot is free, else queue. */
static void agentconn_begin(struct agentconn *c)
{
    struct agentconn_transport *t = c->t;
    if (t->inflight < t->max_inflight) {
        agentconn_zconnect(c);
        return;
    }
    agentconn_state(c, AC_QUEUED);
    c->qprev = t->qtail;
    if (t->qtail != NULL)
        t->qtail->qnext = c;
    else
        t->qhead = c;
    t->qtail = c;
}

/* Resolve c->address once, for the agent port and the key port alike
 * (getaddrinfo parses a numeric address without asking DNS). */
static bool agentconn_resolve(struct agentconn *c, struct err *e)
{
    if (c->addrlen > 0)
        return true;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
    char port[16];
    snprintf(port, sizeof(port), "%d", c->port);
    int rc = getaddrinfo(c->address, port, &hints, &ai);
    if (rc != 0) {
        err_set(e, ERR_UNREACHABLE, "cannot resolve %s: %s", c->address,
                gai_strerror(rc));
        return false;
    }
    if (ai->ai_addrlen > sizeof(c->addr)) {
        freeaddrinfo(ai);
        err_set(e, ERR_UNREACHABLE, "cannot resolve %s: odd address",
                c->address);
        return false;
    }
    memcpy(&c->addr, ai->ai_addr, ai->ai_addrlen);
    c->addrlen = ai->ai_addrlen;
    freeaddrinfo(ai);
    return true;
}

/* Open the TCP connection and start the CURVE handshake; a local failure
 * (no descriptor left) is retried like a refused connection. */
static void agentconn_dial(struct agentconn *c)
{
    struct agentconn_transport *t = c->t;
    uint8_t key[ZMTP_KEY_LEN];
    if (zmq_z85_decode(key, c->key) == NULL) {
        agentconn_fail(c, ERR_HOSTKEY, "the pinned key of %s is not Z85",
                       c->endpoint);
        return;
    }
    if (!zmtp_connect(&c->z, &c->addr.sa, c->addrlen, key)) {
        log_debug("host=%s agent: %s", c->name, c->z.detail);
        c->retry_ms = c->retry_ms ? c->retry_ms : AC_RETRY_FIRST_MS;
        loop_timer_start(t->loop, &c->t_retry, c->retry_ms);
    }
}

static void agentconn_zconnect(struct agentconn *c)
{
    struct agentconn_transport *t = c->t;
    agentconn_state(c, AC_CONNECTING);
    c->hs = true;
    t->inflight++;
    if (!c->t_connect.armed) /* a redial keeps the first deadline */
        loop_timer_start(t->loop, &c->t_connect, t->connect_timeout_ms);
    struct err e = {0};
    if (!agentconn_resolve(c, &e)) {
        agentconn_fail(c, ERR_UNREACHABLE, "%s", e.msg);
        return;
    }
    agentconn_dial(c);
}

static void agentconn_on_retry(struct loop *l, struct loop_timer *tm, void *arg)
{
    (void)l;
    (void)tm;
    struct agentconn *c = arg;
    if (c->state == AC_DEAD)
        return;
    if (c->state == AC_CONNECTING && !c->hs)
        agentconn_begin(c); /* take a handshake slot again, or queue */
    else
        agentconn_dial(c);
}

static void agentconn_on_connect_timeout(struct loop *l, struct loop_timer *tm,
                                         void *arg)
{
    (void)l;
    (void)tm;
    struct agentconn *c = arg;
    struct agentconn_transport *t = c->t;
    if (c->ending != ZMTP_END_NONE) /* handshakes ended, in varied ways */
        agentconn_fail(c, ERR_UNREACHABLE,
                       "could not authenticate the agent at %s within "
                       "%" PRId64 "ms (the last handshake: %s)",
                       c->endpoint, t->connect_timeout_ms, c->z.detail);
    else
        agentconn_fail(c, ERR_UNREACHABLE,
                       "no authenticated answer from %s within %" PRId64
                       "ms (%s): the agent is down or the port is closed",
                       c->endpoint, t->connect_timeout_ms,
                       c->z.detail[0] ? c->z.detail : "no answer");
}

static void agentconn_on_beat(struct loop *l, struct loop_timer *tm, void *arg)
{
    struct agentconn *c = arg;
    struct agentconn_transport *t = c->t;
    int64_t quiet = loop_now(l) - c->last_rx;
    if (quiet >= t->beat_timeout_ms) {
        agentconn_fail(c, ERR_UNREACHABLE,
                       "%s silent for %" PRId64 "ms (heartbeat timeout): "
                       "marked unreachable",
                       c->endpoint, quiet);
        return;
    }
    if (quiet >= t->beat_ms) {
        struct proto_msg m = {.type = PROTO_PING};
        agentconn_send(c, &m);
    }
    loop_timer_start(l, tm, t->beat_ms);
}

static void agentconn_on_async(struct loop *l, struct loop_timer *tm, void *arg)
{
    (void)l;
    (void)tm;
    struct agentconn *c = arg;
    agentconn_fail(c, c->early.code, "%s", c->early.msg);
}

/* --- keyscan (accept_new) ------------------------------------------------ */

/* The key port's whole answer, as agent/keyport.c sends it and nothing
 * else: one line "DROVER-AGENT-KEY 1 KEY\n", then the close. */
static const char agentconn_ks_prefix[] = "DROVER-AGENT-KEY 1 ";
enum { AC_KEYSCAN_LEN = sizeof(agentconn_ks_prefix) - 1 + KEYFILE_Z85_LEN + 1 };

static void agentconn_keyscan_done(struct agentconn *c)
{
    struct agentconn_transport *t = c->t;
    size_t pn = sizeof(agentconn_ks_prefix) - 1;
    if (c->ks_len != AC_KEYSCAN_LEN ||
        memcmp(c->ks_buf, agentconn_ks_prefix, pn) != 0 ||
        !keyfile_z85_valid(c->ks_buf + pn, KEYFILE_Z85_LEN) ||
        c->ks_buf[AC_KEYSCAN_LEN - 1] != '\n') {
        agentconn_fail(c, ERR_HOSTKEY,
                       "%s:%d did not announce an agent key (%zu bytes, not "
                       "the one line drover-agent sends); pin it with "
                       "drover_agent_key",
                       c->address, c->port + 1, c->ks_len);
        return;
    }
    memcpy(c->key, c->ks_buf + pn, KEYFILE_Z85_LEN);
    c->key[KEYFILE_Z85_LEN] = '\0';
    struct err e = {0};
    if (keyfile_known_add(t->known_agents, c->address, c->port, c->key, &e) !=
        ERR_OK) {
        agentconn_fail(c, ERR_SYS, "recording the agent key: %s", e.msg);
        return;
    }
    if (t->known != NULL)
        keyfile_known_put(t->known, c->address, c->port, c->key);
    log_warn("host=%s: new agent %s:%d key %s recorded in %s (--accept-new)",
             c->name, c->address, c->port, c->key, t->known_agents);
    loop_io_stop(t->loop, &c->ks_io);
    close(c->ks_fd);
    c->ks_fd = -1;
    loop_timer_stop(t->loop, &c->t_connect);
    agentconn_begin(c);
}

/* Read the key port until it closes; a byte past the one line is enough
 * to refuse the answer. */
static void agentconn_keyscan_io(struct loop *l, struct loop_io *io,
                                 unsigned ev, void *arg)
{
    (void)io;
    (void)ev;
    struct agentconn *c = arg;
    for (;;) {
        ssize_t n = read(c->ks_fd, c->ks_buf + c->ks_len,
                         sizeof(c->ks_buf) - c->ks_len);
        if (n > 0) {
            c->ks_len += (size_t)n;
            if (c->ks_len > AC_KEYSCAN_LEN) {
                agentconn_keyscan_done(c);
                return;
            }
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            loop_io_set(l, &c->ks_io, LOOP_READ);
            return;
        }
        if (n < 0 && errno == ENOTCONN)
            return;
        agentconn_keyscan_done(c);
        return;
    }
}

static void agentconn_keyscan(struct agentconn *c)
{
    agentconn_state(c, AC_KEYSCAN);
    /* the key port is the agent port + 1, at the address resolved once */
    if (!agentconn_resolve(c, &c->early)) {
        loop_timer_start(c->t->loop, &c->t_async, 0);
        return;
    }
    union agentconn_addr ka = c->addr;
    uint16_t kport = htons((uint16_t)(c->port + 1));
    if (ka.sa.sa_family == AF_INET6)
        ka.in6.sin6_port = kport;
    else
        ka.in.sin_port = kport;
    c->ks_fd =
        socket(ka.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->ks_fd < 0 ||
        (connect(c->ks_fd, &ka.sa, c->addrlen) != 0 && errno != EINPROGRESS)) {
        err_set(&c->early, ERR_UNREACHABLE,
                "cannot reach the key port %s:%d: %s", c->address, c->port + 1,
                strerror(errno));
        loop_timer_start(c->t->loop, &c->t_async, 0);
        return;
    }
    loop_io_init_fd(&c->ks_io, c->ks_fd, agentconn_keyscan_io, c);
    loop_io_start(c->t->loop, &c->ks_io, LOOP_READ);
}

/* --- receiving ----------------------------------------------------------- */

static void agentconn_result(struct agentconn *c, const struct proto_msg *m)
{
    struct exec_result r = {.exit_code = -1};
    r.elapsed_ms = (int64_t)m->elapsed_ms;
    switch (m->end) {
    case PROTO_END_EXITED:
        r.end = EXEC_EXITED;
        r.exit_code = (int)m->code;
        break;
    case PROTO_END_SIGNALED:
        r.end = EXEC_SIGNALED;
        snprintf(r.signal, sizeof(r.signal), "%s", m->signal ? m->signal : "?");
        break;
    case PROTO_END_TIMEOUT:
        r.end = EXEC_TIMEOUT;
        err_set(&r.err, ERR_TIMEOUT,
                "killed by the agent after %" PRIu64 "ms (timeout)",
                m->elapsed_ms);
        break;
    case PROTO_END_CANCELLED:
        r.end = EXEC_CANCELLED;
        break;
    default:
        r.end = EXEC_FAILED;
        err_set(&r.err, ERR_EXEC, "the agent could not run it: %s",
                m->text ? m->text : "no reason given");
        break;
    }
    if (m->replayed)
        log_info("host=%s job=%s: the agent returned its stored result "
                 "(not run again)",
                 c->name, c->job);
    if (m->dropped > 0)
        log_warn("host=%s job=%s: %" PRIu64 " output bytes cut by the "
                 "agent's cap",
                 c->name, c->job, m->dropped);
    agentconn_exec_clear(c);
    agentconn_state(c, AC_READY);
    c->base.cb->done(&c->base, &r, c->base.arg);
}

static void agentconn_message(struct agentconn *c, const struct proto_msg *m)
{
    struct agentconn_transport *t = c->t;
    switch (m->type) {
    case PROTO_WELCOME:
        if (c->state == AC_HELLO) {
            loop_timer_stop(t->loop, &c->t_connect);
            agentconn_state(c, c->exec.job ? AC_RUNNING : AC_READY);
            if (c->exec.job != NULL) {
                /* reconnected mid-job: ask again, same job id */
                agentconn_send(c, &c->exec);
            } else if (!c->opened_reported) {
                c->opened_reported = true;
                /* silence counts from here: the handshake had its own
                 * deadline */
                loop_timer_start(t->loop, &c->t_beat, t->beat_ms);
                agentconn_hs_done(c);
                c->base.cb->opened(&c->base, NULL, c->base.arg);
            }
        }
        break;
    case PROTO_PONG:
        break;
    case PROTO_OUTPUT:
        if (c->state == AC_RUNNING && m->job && strcmp(m->job, c->job) == 0) {
            struct proto_msg ack = {
                .type = PROTO_OUTPUT_ACK, .job = c->job, .seq = m->seq};
            c->base.cb->output(&c->base, (int)m->stream, m->data, m->data_len,
                               c->base.arg);
            if (c->state == AC_RUNNING)
                agentconn_send(c, &ack);
        }
        break;
    case PROTO_RESULT:
        if (c->state == AC_RUNNING && m->job && strcmp(m->job, c->job) == 0)
            agentconn_result(c, m);
        break;
    case PROTO_ERROR:
        if (m->code == PROTO_E_FENCED) {
            /* worded as over SSH: the agent's epoch (it echoes the
             * highest it has seen) and who raised it, or the agent's text
             * when it is older than `who` */
            struct err fe = {0};
            char *rest = m->who != NULL
                             ? xasprintf("%" PRIu64 " %s", m->epoch, m->who)
                             : xasprintf("%" PRIu64 " unknown (the agent "
                                         "says: %s)",
                                         m->epoch, m->text);
            fence_refused(c->name, t->epoch, rest, &fe);
            free(rest);
            agentconn_fail(c, ERR_LOCKED, "%s", fe.msg);
        } else if (c->state == AC_RUNNING || c->state == AC_HELLO)
            agentconn_fail(c, ERR_PROTO, "%s refused: %s", c->endpoint,
                           m->text);
        else
            log_warn("host=%s agent: error %" PRId64 ": %s", c->name, m->code,
                     m->text);
        break;
    default:
        log_warn("host=%s agent: unexpected %s", c->name,
                 proto_type_name(m->type));
        break;
    }
}

static void agentconn_frame(struct agentconn_transport *t, struct agentconn *c,
                            const void *p, size_t n)
{
    c->last_rx = loop_now(t->loop);
    t->stats.received++;
    if (n == 0) {
        /* the probe: handshake done (first time or after a reconnect) */
        if (c->state == AC_CONNECTING || c->state == AC_READY ||
            c->state == AC_RUNNING || c->state == AC_HELLO) {
            agentconn_state(c, AC_HELLO);
            struct proto_msg m = {.type = PROTO_HELLO};
            agentconn_send(c, &m);
        }
        return;
    }
    struct proto_msg m;
    struct err e = {0};
    if (proto_decode(p, n, &m, &e) != ERR_OK) {
        t->stats.bad++;
        log_warn("host=%s agent: malformed message: %s", c->name, e.msg);
    } else {
        agentconn_message(c, &m);
    }
    proto_msg_release(&m);
}

/* The handshake ended the same suspicious way AGENTCONN_AUTH_STRIKES
 * times in a row: say so, without claiming more than was seen. */
static void agentconn_unauthenticated(struct agentconn *c)
{
    struct agentconn_transport *t = c->t;
    if (c->z.fail == ZMTP_FAIL_KEY)
        agentconn_fail(c, ERR_HOSTKEY,
                       "could not authenticate the agent at %s: %d handshakes "
                       "in a row ended the same way (%s); is its key the "
                       "pinned %.8s...? compare agent.key.pub on the host",
                       c->endpoint, c->strikes, c->z.detail, c->key);
    else
        agentconn_fail(c, ERR_AUTH,
                       "could not authenticate the agent at %s: %d handshakes "
                       "in a row ended the same way (%s); does its "
                       "authorized_keys hold our key %s?",
                       c->endpoint, c->strikes, c->z.detail, t->key.public_z85);
}

/* The connection ended. Nothing before READY is authenticated (anyone on
 * the path can send an ERROR, bytes that do not open, or a reset), so an
 * ending that points at a wrong key or a refusal of ours is believed only
 * when the same one comes AGENTCONN_AUTH_STRIKES times in a row; any other
 * ending, or READY, starts the count again. Until then, and for every other
 * ending, the agent is dialled again (the connect deadline or the heartbeat
 * timeout decides when it counts as unreachable). */
static void agentconn_lost(struct agentconn *c)
{
    struct agentconn_transport *t = c->t;
    enum zmtp_fail fail = c->z.fail;
    uint8_t ending = fail == ZMTP_FAIL_KEY || fail == ZMTP_FAIL_AUTH
                         ? c->z.ending
                         : ZMTP_END_NONE;
    if (fail == ZMTP_FAIL_KEY && ending == ZMTP_END_NONE) {
        /* found here, not told by the peer */
        agentconn_fail(c, ERR_HOSTKEY,
                       "the key pinned for %s (%.8s...) is not a usable "
                       "CURVE key: check drover_agent_key or known_agents",
                       c->endpoint, c->key);
        return;
    }
    c->strikes = ending == ZMTP_END_NONE ? 0
                 : ending == c->ending   ? (uint8_t)(c->strikes + 1)
                                         : 1;
    c->ending = ending;
    if (c->strikes >= AGENTCONN_AUTH_STRIKES) {
        agentconn_unauthenticated(c);
        return;
    }
    if (fail == ZMTP_FAIL_PROTOCOL || ending == ZMTP_END_HELLO_ERROR ||
        ending == ZMTP_END_HELLO_BOX || ending == ZMTP_END_INITIATE_ERROR)
        log_warn("host=%s agent: %s: %s; reconnecting", c->name, c->endpoint,
                 c->z.detail);
    else
        log_debug("host=%s agent: %s: %s; reconnecting", c->name, c->endpoint,
                  c->z.detail);
    if (c->state == AC_HELLO) /* the next probe says HELLO again */
        agentconn_state(c, !c->opened_reported ? AC_CONNECTING
                           : c->exec.job       ? AC_RUNNING
                                               : AC_READY);
    /* waiting to redial is no handshake: let a queued host have the slot
     * (600 stopped agents then give up after one deadline, not three) */
    if (c->state == AC_CONNECTING)
        agentconn_hs_done(c);
    c->retry_ms = c->retry_ms == 0 ? AC_RETRY_FIRST_MS : 2 * c->retry_ms;
    if (c->retry_ms > AGENTCONN_RECONNECT_IVL_MAX_MS)
        c->retry_ms = AGENTCONN_RECONNECT_IVL_MAX_MS;
    loop_timer_start(t->loop, &c->t_retry, c->retry_ms);
}

static void agentconn_io(struct loop *l, struct loop_io *io, unsigned ev,
                         void *arg)
{
    (void)l;
    (void)io;
    struct agentconn *c = arg;
    struct agentconn_transport *t = c->t;
    uint32_t slot = c->slot, gen = c->gen;
    zmtp_io(&c->z, ev);
    for (;;) {
        const uint8_t *p = NULL;
        size_t n = 0;
        switch (zmtp_next(&c->z, &p, &n)) {
        case ZMTP_NONE:
            return;
        case ZMTP_FAILED:
            if (c->state != AC_DEAD)
                agentconn_lost(c);
            return;
        case ZMTP_READY:
            c->retry_ms = 0; /* the agent's probe follows */
            c->strikes = 0;
            c->ending = ZMTP_END_NONE;
            break;
        case ZMTP_MESSAGE:
            if (c->state == AC_DEAD)
                return;
            agentconn_frame(t, c, p, n);
            /* the callbacks may have closed (freed) c */
            if (slot >= t->nslots || t->slots[slot] == NULL ||
                t->slots[slot]->gen != gen)
                return;
            break;
        }
    }
}

/* --- transport_ops ------------------------------------------------------- */

static const char *agentconn_pinned(struct agentconn_transport *t,
                                    const char *name)
{
    const struct agentconn_pin *p = strmap_get(&t->pins, name);
    return p != NULL ? p->key : NULL;
}

/* drover_agent_key is not a key. Z85 keys may hold '#', and Ansible's INI
 * reads a value as a Python literal, where '#' starts a comment:
 * drover_agent_key='8#x...' becomes the number 8. */
static enum err_code agentconn_bad_key(struct err *e, enum err_code code,
                                       const char *host, const char *key)
{
    size_t n = strlen(key);
    return err_set(e, code,
                   "host %s: drover_agent_key is not a 40-character Z85 key "
                   "(from `drover-agent keygen`): the inventory gave %zu "
                   "character%s%s",
                   host, n, n == 1 ? "" : "s",
                   n < KEYFILE_Z85_LEN && strchr(key, '#') == NULL
                       ? "; in an INI inventory a key with '#' must be "
                         "quoted twice, drover_agent_key=\"'KEY'\" (Ansible "
                         "reads the rest as a comment), or pin it in "
                         "known_agents"
                       : "");
}

static struct conn *agentconn_connect(struct transport *tr,
                                      const struct target *tg,
                                      const struct conn_cb *cb, void *arg)
{
    struct agentconn_transport *t = (struct agentconn_transport *)tr;
    struct agentconn *c = xcalloc(1, sizeof(*c));
    c->base.t = tr;
    c->base.cb = cb;
    c->base.arg = arg;
    c->t = t;
    c->ks_fd = -1;
    c->name = xstrdup(tg->name);
    c->address = xstrdup(tg->address ? tg->address : tg->name);
    c->port = tg->port > 0 ? tg->port : t->port;
    c->last_rx = loop_now(t->loop);
    bool v6 = strchr(c->address, ':') != NULL;
    snprintf(c->endpoint, sizeof(c->endpoint), "tcp://%s%s%s:%d", v6 ? "[" : "",
             c->address, v6 ? "]" : "", c->port);
    loop_timer_init(&c->t_connect, agentconn_on_connect_timeout, c);
    loop_timer_init(&c->t_beat, agentconn_on_beat, c);
    loop_timer_init(&c->t_async, agentconn_on_async, c);
    loop_timer_init(&c->t_retry, agentconn_on_retry, c);
    zmtp_init(&c->z, &t->zx, agentconn_io, c);
    if (t->nfree > 0) {
        c->slot = t->free_slots[--t->nfree];
    } else {
        if (t->nslots == t->capslots) {
            t->capslots = t->capslots ? t->capslots * 2 : 64;
            t->slots = xrealloc(t->slots, t->capslots * sizeof(*t->slots));
            t->free_slots =
                xrealloc(t->free_slots, t->capslots * sizeof(*t->free_slots));
        }
        c->slot = (uint32_t)t->nslots++;
    }
    t->slots[c->slot] = c;
    c->gen = ++t->gen;
    t->stats.conns++;
    const char *pin = tg->agent_key;
    if (pin != NULL && !keyfile_z85_valid(pin, strlen(pin))) {
        agentconn_bad_key(&c->early, ERR_HOSTKEY, c->name, pin);
        loop_timer_start(t->loop, &c->t_async, 0);
        return &c->base;
    }
    if (pin != NULL) /* the inventory's drover_agent_key: kept */
        agentconn_pin(tr, c->name, pin, &c->early);
    else
        pin = agentconn_pinned(t, c->name);
    struct err e = {0};
    enum err_code rc = ERR_OK;
    if (pin != NULL) {
        memcpy(c->key, pin, sizeof(c->key));
    } else {
        if (t->known == NULL && t->known_err.code == ERR_OK)
            t->known = keyfile_known_load(t->known_agents, &t->known_err);
        const char *k =
            t->known ? keyfile_known_get(t->known, c->address, c->port) : NULL;
        if (k != NULL)
            memcpy(c->key, k, sizeof(c->key));
        rc = k != NULL                     ? ERR_OK
             : t->known_err.code != ERR_OK ? ERR_PARSE
                                           : ERR_NOTFOUND;
        if (rc == ERR_PARSE)
            err_set(&e, ERR_PARSE, "%s", t->known_err.msg);
        if (rc == ERR_NOTFOUND && t->accept_new) {
            loop_timer_start(t->loop, &c->t_connect, t->connect_timeout_ms);
            agentconn_keyscan(c);
            return &c->base;
        }
    }
    if (rc == ERR_NOTFOUND)
        err_set(&c->early, ERR_HOSTKEY,
                "no key pinned for the agent at %s:%d: set drover_agent_key "
                "in the inventory, add it to %s, or pass --accept-new",
                c->address, c->port, t->known_agents);
    else if (rc != ERR_OK)
        err_set(&c->early, ERR_HOSTKEY, "%s", e.msg);
    if (rc != ERR_OK) {
        loop_timer_start(t->loop, &c->t_async, 0);
        return &c->base;
    }
    agentconn_begin(c);
    return &c->base;
}

static void agentconn_make_job_id(struct agentconn *c)
{
    if (c->next_job[0] != '\0') {
        memcpy(c->job, c->next_job, sizeof(c->job));
        c->next_job[0] = '\0';
        return;
    }
    char host[64];
    size_t i = 0;
    for (const char *p = c->name; *p && i < sizeof(host) - 1; p++) {
        char ch = *p;
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
                  ch == '-';
        host[i++] = ok ? ch : '_';
    }
    host[i] = '\0';
    snprintf(c->job, sizeof(c->job), "%.60s:%.40s:%" PRIu64, c->t->run_id, host,
             ++c->seq);
}

static enum err_code agentconn_exec(struct conn *base,
                                    const struct exec_spec *s, struct err *e)
{
    struct agentconn *c = (struct agentconn *)base;
    /* after the first open, a reconnect (HELLO again) is no reason to
     * refuse: the EXEC follows the HELLO on the same connection, or is
     * re-sent on WELCOME */
    bool reconnecting = c->state == AC_HELLO && c->opened_reported;
    if (c->state == AC_DEAD && c->dead.code != ERR_OK)
        return err_set(e, c->dead.code, "%s", c->dead.msg);
    if (c->state != AC_READY && !reconnecting)
        return err_set(e, ERR_INVALID, "host %s: agent conn is %s, not ready",
                       c->name, agentconn_state_names[c->state]);
    if (s->input_len > PROTO_INPUT_MAX)
        return err_set(e, ERR_LIMIT,
                       "host %s: stdin of %zu bytes over the agent limit of "
                       "%d",
                       c->name, s->input_len, PROTO_INPUT_MAX);
    if (strlen(s->command) > PROTO_COMMAND_MAX)
        return err_set(e, ERR_LIMIT,
                       "host %s: command over the agent limit of %d bytes",
                       c->name, PROTO_COMMAND_MAX);
    agentconn_make_job_id(c);
    agentconn_exec_clear(c);
    c->exec.type = PROTO_EXEC;
    c->exec.job = c->job;
    c->exec.command = xstrdup(s->command);
    if (s->input_len > 0) {
        c->input = xmalloc(s->input_len);
        memcpy(c->input, s->input, s->input_len);
        c->exec.input = c->input;
        c->exec.input_len = s->input_len;
    }
    c->exec.timeout_ms = s->timeout_ms > 0 ? (uint64_t)s->timeout_ms : 0;
    c->exec.output_max = c->t->output_max;
    c->started_ms = clock_mono_ms();
    c->cancel_sent = false;
    agentconn_state(c, AC_RUNNING);
    agentconn_send(c, &c->exec);
    return ERR_OK;
}

static void agentconn_cancel(struct conn *base)
{
    struct agentconn *c = (struct agentconn *)base;
    if (c->state != AC_RUNNING || c->cancel_sent)
        return;
    c->cancel_sent = true;
    struct proto_msg m = {.type = PROTO_CANCEL, .job = c->job};
    agentconn_send(c, &m);
}

static void agentconn_close(struct conn *base)
{
    struct agentconn *c = (struct agentconn *)base;
    struct agentconn_transport *t = c->t;
    if (c->state == AC_RUNNING) {
        struct proto_msg m = {.type = PROTO_CANCEL, .job = c->job};
        agentconn_send(c, &m);
    }
    agentconn_unqueue(c);
    agentconn_state(c, AC_DEAD);
    agentconn_disconnect(c);
    loop_timer_stop(t->loop, &c->t_connect);
    loop_timer_stop(t->loop, &c->t_beat);
    loop_timer_stop(t->loop, &c->t_async);
    loop_timer_stop(t->loop, &c->t_retry);
    agentconn_hs_done(c);
    agentconn_exec_clear(c);
    t->slots[c->slot] = NULL;
    t->free_slots[t->nfree++] = c->slot;
    t->stats.conns--;
    free(c->name);
    free(c->address);
    free(c);
}

static void agentconn_free(struct transport *tr)
{
    struct agentconn_transport *t = (struct agentconn_transport *)tr;
    if (t->loop != NULL)
        loop_timer_stop(t->loop, &t->t_pump);
    if (t->zx_ready)
        zmtp_ctx_release(&t->zx);
    for (size_t i = 0; i < t->pins.cap; i++) {
        struct agentconn_pin *p = t->pins.vals[i];
        if (t->pins.keys[i] != NULL) {
            free(p->host);
            free(p);
        }
    }
    strmap_release(&t->pins);
    free(t->slots);
    free(t->free_slots);
    free(t->known_agents);
    free(t->who);
    keyfile_known_free(t->known);
    buf_wipe(&t->out);
    keyfile_wipe(&t->key);
    free(t);
}

static const struct transport_ops agentconn_ops = {
    .name = "agent",
    .caps = TRANSPORT_CAP_JOBS,
    .connect = agentconn_connect,
    .exec = agentconn_exec,
    .cancel = agentconn_cancel,
    .close = agentconn_close,
    .free = agentconn_free,
    .set_job = agentconn_next_job,
};

/* --- public -------------------------------------------------------------- */

void agent_options_init(struct agent_options *o)
{
    memset(o, 0, sizeof(*o));
}

static char *agentconn_config_path(const char *file)
{
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    if (xdg && *xdg)
        return xasprintf("%s/drover/%s", xdg, file);
    return xasprintf("%s/.config/drover/%s", home ? home : ".", file);
}

struct transport *agentconn_transport_new(struct loop *l,
                                          const struct agent_options *o,
                                          struct err *e)
{
    struct agentconn_transport *t = xcalloc(1, sizeof(*t));
    t->base.ops = &agentconn_ops;
    t->loop = l;
    loop_timer_init(&t->t_pump, agentconn_on_pump, t);
    t->accept_new = o->accept_new;
    t->port = o->port > 0 ? o->port : AGENTCONN_PORT;
    t->epoch = o->epoch;
    t->who = o->who != NULL ? xstrdup(o->who) : NULL;
    t->connect_timeout_ms = o->connect_timeout_ms > 0
                                ? o->connect_timeout_ms
                                : AGENTCONN_CONNECT_TIMEOUT_MS;
    t->beat_ms = o->heartbeat_ms > 0 ? o->heartbeat_ms : AGENTCONN_HEARTBEAT_MS;
    t->beat_timeout_ms = o->heartbeat_timeout_ms > 0
                             ? o->heartbeat_timeout_ms
                             : AGENTCONN_HEARTBEAT_TIMEOUT_MS;
    t->output_max = o->output_max;
    t->max_inflight = o->connect_concurrency > 0
                          ? (size_t)o->connect_concurrency
                          : AGENTCONN_CONNECT_CONCURRENCY;
    t->known_agents = o->known_agents ? xstrdup(o->known_agents)
                                      : agentconn_config_path("known_agents");
    buf_init(&t->out, PROTO_FRAME_MAX);
    if (o->deploy_id != NULL && proto_id_valid(o->deploy_id) &&
        strlen(o->deploy_id) < sizeof(t->run_id))
        snprintf(t->run_id, sizeof(t->run_id), "%s", o->deploy_id);
    else
        snprintf(t->run_id, sizeof(t->run_id), "run-%" PRId64 "-%d",
                 clock_wall_ms(), (int)getpid());

    char *keypath = o->key_file ? xstrdup(o->key_file)
                                : agentconn_config_path("coordinator.key");
    struct err ke = {0};
    if (keyfile_load_secret(keypath, &t->key, &ke) != ERR_OK) {
        err_set(e, ke.code == ERR_NOTFOUND ? ERR_NOTFOUND : ERR_AUTH,
                "coordinator key: %s%s", ke.msg,
                ke.code == ERR_NOTFOUND ? " (create one with `drover keygen`)"
                                        : "");
        free(keypath);
        agentconn_free(&t->base);
        return NULL;
    }
    free(keypath);

    uint8_t pub[ZMTP_KEY_LEN], sec[ZMTP_KEY_LEN];
    if (zmq_z85_decode(pub, t->key.public_z85) == NULL ||
        zmq_z85_decode(sec, t->key.secret_z85) == NULL ||
        !zmtp_ctx_init(&t->zx, l, pub, sec, PROTO_FRAME_MAX)) {
        explicit_bzero(sec, sizeof(sec));
        err_set(e, ERR_SYS, "agent transport: cannot set up CURVE");
        agentconn_free(&t->base);
        return NULL;
    }
    explicit_bzero(sec, sizeof(sec));
    /* the secret's one copy from now on is zmtp_ctx's guarded page */
    keyfile_wipe(&t->key);
    t->zx_ready = true;
    return &t->base;
}

enum err_code agentconn_pin(struct transport *tr, const char *host,
                            const char *key, struct err *e)
{
    struct agentconn_transport *t = (struct agentconn_transport *)tr;
    if (!keyfile_z85_valid(key, strlen(key)))
        return agentconn_bad_key(e, ERR_INVALID, host, key);
    struct agentconn_pin *p = strmap_get(&t->pins, host);
    if (p == NULL) {
        p = xcalloc(1, sizeof(*p));
        p->host = xstrdup(host);
        strmap_put(&t->pins, p->host, p);
    }
    memcpy(p->key, key, KEYFILE_Z85_LEN + 1);
    return ERR_OK;
}

const char *agentconn_job_id(const struct conn *base)
{
    return ((const struct agentconn *)base)->job;
}

enum err_code agentconn_next_job(struct conn *base, const char *job_id,
                                 struct err *e)
{
    struct agentconn *c = (struct agentconn *)base;
    if (!proto_id_valid(job_id))
        return err_set(e, ERR_INVALID, "'%s' is not a valid job id", job_id);
    snprintf(c->next_job, sizeof(c->next_job), "%s", job_id);
    return ERR_OK;
}

void agentconn_transport_stats(const struct transport *tr,
                               struct agentconn_stats *out)
{
    *out = ((const struct agentconn_transport *)tr)->stats;
}
