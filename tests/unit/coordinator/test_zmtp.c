/* tests/unit/coordinator/test_zmtp.c: the ZMTP/CURVE client against real
 * libzmq servers on loopback (a ROUTER with CURVE, ZAP, probe and ZMTP
 * heartbeats on, run in a thread): handshake and echo both ways, messages
 * up to the limit (long frames, partial reads and writes), a server that
 * holds another key, a ZAP refusal, a closed port, a NULL-mechanism server,
 * a server that is not ZMTP at all, the size limit on sending, heartbeats
 * answered over a quiet second, and two connections read interleaved. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "err.h"
#include "loop.h"
#include "zmtp.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

enum { MAXMSG = 256 * 1024 };

static char srv_pub[41], srv_sec[41], cli_pub[41], cli_sec[41];
static uint8_t srv_pub_b[32], cli_pub_b[32], cli_sec_b[32];

/* --- the server: a thread with a ROUTER that echoes, and a ZAP handler -- */

struct server {
    pthread_t th;
    void *ctx;
    int port;
    bool curve;      /* CURVE server (else NULL mechanism) */
    bool allow;      /* ZAP says 200 to our key */
    bool heartbeats; /* ZMTP PING every 100 ms, drop after 300 ms */
    const char *key; /* its secret key (Z85) */
    volatile int stop;
    volatile int echoed; /* messages echoed */
};

static void zap_reply(void *zap, bool allow)
{
    zmq_msg_t part[7];
    for (int i = 0; i < 7; i++) {
        zmq_msg_init(&part[i]);
        if (zmq_msg_recv(&part[i], zap, 0) < 0 || !zmq_msg_more(&part[i]))
            break;
    }
    /* version, request id, status, text, user id, metadata */
    zmq_send(zap, "1.0", 3, ZMQ_SNDMORE);
    zmq_send(zap, zmq_msg_data(&part[1]), zmq_msg_size(&part[1]), ZMQ_SNDMORE);
    zmq_send(zap, allow ? "200" : "400", 3, ZMQ_SNDMORE);
    zmq_send(zap, allow ? "OK" : "no", 2, ZMQ_SNDMORE);
    zmq_send(zap, "", 0, ZMQ_SNDMORE);
    zmq_send(zap, "", 0, 0);
    for (int i = 0; i < 7; i++)
        zmq_msg_close(&part[i]);
}

static void *server_main(void *arg)
{
    struct server *s = arg;
    void *zap = zmq_socket(s->ctx, ZMQ_REP);
    assert_int_equal(zmq_bind(zap, "inproc://zeromq.zap.01"), 0);
    void *r = zmq_socket(s->ctx, ZMQ_ROUTER);
    int one = 1, hb = 100, hbt = 300, linger = 0;
    zmq_setsockopt(r, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(r, ZMQ_PROBE_ROUTER, &one, sizeof(one));
    if (s->curve) {
        zmq_setsockopt(r, ZMQ_CURVE_SERVER, &one, sizeof(one));
        zmq_setsockopt(r, ZMQ_CURVE_SECRETKEY, s->key, 41);
    }
    if (s->heartbeats) {
        zmq_setsockopt(r, ZMQ_HEARTBEAT_IVL, &hb, sizeof(hb));
        zmq_setsockopt(r, ZMQ_HEARTBEAT_TIMEOUT, &hbt, sizeof(hbt));
    }
    char ep[64];
    snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", s->port);
    assert_int_equal(zmq_bind(r, ep), 0);
    zmq_pollitem_t it[2] = {{zap, 0, ZMQ_POLLIN, 0}, {r, 0, ZMQ_POLLIN, 0}};
    while (!s->stop) {
        if (zmq_poll(it, 2, 20) <= 0)
            continue;
        if (it[0].revents & ZMQ_POLLIN)
            zap_reply(zap, s->allow);
        if (it[1].revents & ZMQ_POLLIN) {
            zmq_msg_t id, m;
            zmq_msg_init(&id);
            zmq_msg_init(&m);
            zmq_msg_recv(&id, r, 0);
            zmq_msg_recv(&m, r, 0);
            zmq_msg_send(&id, r, ZMQ_SNDMORE);
            zmq_msg_send(&m, r, 0);
            s->echoed++;
            zmq_msg_close(&id);
            zmq_msg_close(&m);
        }
    }
    zmq_close(r);
    zmq_close(zap);
    return NULL;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t l = sizeof(a);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    getsockname(fd, (struct sockaddr *)&a, &l);
    close(fd);
    return ntohs(a.sin_port);
}

static void server_start(struct server *s, bool curve, bool allow,
                         const char *key)
{
    s->ctx = zmq_ctx_new();
    s->port = free_port();
    s->curve = curve;
    s->allow = allow;
    s->key = key;
    s->stop = 0;
    s->echoed = 0;
    assert_int_equal(pthread_create(&s->th, NULL, server_main, s), 0);
    usleep(50000);
}

static void server_stop(struct server *s)
{
    s->stop = 1;
    pthread_join(s->th, NULL);
    zmq_ctx_term(s->ctx);
}

/* --- the client side --------------------------------------------------- */

struct client {
    struct loop *l;
    struct zmtp_ctx x;
    struct zmtp z;
    bool ready;
    bool failed;
    int msgs;
    size_t last_len;
    uint8_t *last;
};

static void c_io(struct loop *l, struct loop_io *io, unsigned ev, void *arg)
{
    (void)l;
    (void)io;
    struct client *c = arg;
    zmtp_io(&c->z, ev);
    for (;;) {
        const uint8_t *p;
        size_t n;
        enum zmtp_event r = zmtp_next(&c->z, &p, &n);
        if (r == ZMTP_NONE)
            return;
        if (r == ZMTP_FAILED) {
            c->failed = true;
            return;
        }
        if (r == ZMTP_READY) {
            c->ready = true;
            continue;
        }
        c->msgs++;
        free(c->last);
        c->last = malloc(n ? n : 1);
        memcpy(c->last, p, n);
        c->last_len = n;
    }
}

static void client_init(struct client *c)
{
    memset(c, 0, sizeof(*c));
    struct err e = {0};
    c->l = loop_new(&e);
    assert_true(zmtp_ctx_init(&c->x, c->l, cli_pub_b, cli_sec_b, MAXMSG));
    zmtp_init(&c->z, &c->x, c_io, c);
}

static void client_connect(struct client *c, int port, const uint8_t *key)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    assert_true(zmtp_connect(&c->z, (struct sockaddr *)&a, sizeof(a), key));
}

/* Run the loop until cond or 5 s. */
#define RUN_UNTIL(c, cond)                                                     \
    do {                                                                       \
        struct err e_ = {0};                                                   \
        for (int i_ = 0; i_ < 500 && !(cond); i_++)                            \
            loop_run_once((c)->l, 10, &e_);                                    \
    } while (0)

static void client_free(struct client *c)
{
    zmtp_close(&c->z);
    zmtp_ctx_release(&c->x);
    loop_free(c->l);
    free(c->last);
}

/* A client connected to s (started here, CURVE, our key allowed) and
 * past READY and the server's probe. */
static void client_open(struct server *s, struct client *c)
{
    server_start(s, true, true, srv_sec);
    client_init(c);
    client_connect(c, s->port, srv_pub_b);
    RUN_UNTIL(c, c->msgs >= 1 || c->failed);
    assert_true(c->ready);
    assert_false(c->failed);
    assert_int_equal(c->last_len, 0); /* the probe */
}

static void test_zmtp_echo(void **state)
{
    (void)state;
    struct server s = {0};
    struct client c;
    client_open(&s, &c);
    assert_true(zmtp_open(&c.z));
    assert_true(zmtp_send(&c.z, "hello", 5));
    RUN_UNTIL(&c, c.msgs >= 2 || c.failed);
    assert_int_equal(c.last_len, 5);
    assert_memory_equal(c.last, "hello", 5);
    /* 100 messages in a row keep their order */
    for (int i = 0; i < 100; i++) {
        char m[16];
        int n = snprintf(m, sizeof(m), "m%d", i);
        assert_true(zmtp_send(&c.z, m, (size_t)n));
    }
    RUN_UNTIL(&c, c.msgs >= 102 || c.failed);
    assert_int_equal(c.msgs, 102);
    assert_memory_equal(c.last, "m99", 3);
    assert_int_equal(zmtp_buffered(&c.z), 0); /* idle: no buffers held */
    client_free(&c);
    server_stop(&s);
}

static void test_zmtp_large(void **state)
{
    (void)state;
    struct server s = {0};
    struct client c;
    client_open(&s, &c);
    uint8_t *big = malloc(MAXMSG);
    for (size_t i = 0; i < MAXMSG; i++)
        big[i] = (uint8_t)(i * 7 + 3);
    for (int k = 0; k < 4; k++)
        assert_true(zmtp_send(&c.z, big, MAXMSG));
    RUN_UNTIL(&c, c.msgs >= 5 || c.failed);
    assert_int_equal(c.msgs, 5);
    assert_int_equal(c.last_len, MAXMSG);
    assert_memory_equal(c.last, big, MAXMSG);
    /* one byte over the limit is refused here, not sent */
    uint8_t *over = malloc(MAXMSG + 1);
    memset(over, 1, MAXMSG + 1);
    assert_false(zmtp_send(&c.z, over, MAXMSG + 1));
    assert_true(zmtp_open(&c.z));
    free(over);
    free(big);
    client_free(&c);
    server_stop(&s);
}

/* Connect to a server that must refuse us; returns how it ended (detail
 * copied out), after checking the handshake never completed and the
 * server never saw a message. */
static enum zmtp_fail refused_by(bool curve, bool allow, const char *key,
                                 char detail[96])
{
    struct server s = {0};
    server_start(&s, curve, allow, key);
    struct client c;
    client_init(&c);
    client_connect(&c, s.port, srv_pub_b);
    RUN_UNTIL(&c, c.failed);
    assert_true(c.failed);
    assert_false(c.ready);
    assert_int_equal(s.echoed, 0);
    enum zmtp_fail why = (enum zmtp_fail)c.z.fail;
    memcpy(detail, c.z.detail, sizeof(c.z.detail));
    client_free(&c);
    server_stop(&s);
    return why;
}

static void test_zmtp_wrong_key(void **state)
{
    (void)state;
    char other_pub[41], other_sec[41], detail[96];
    zmq_curve_keypair(other_pub, other_sec);
    /* the server holds another key than the one we pin */
    assert_int_equal(refused_by(true, true, other_sec, detail), ZMTP_FAIL_KEY);
    assert_non_null(strstr(detail, "HELLO"));
}

static void test_zmtp_refused_by_zap(void **state)
{
    (void)state;
    char detail[96];
    assert_int_equal(refused_by(true, false, srv_sec, detail), ZMTP_FAIL_AUTH);
    assert_non_null(strstr(detail, "ERROR 400"));
}

static void test_zmtp_closed_port(void **state)
{
    (void)state;
    struct client c;
    client_init(&c);
    client_connect(&c, free_port(), srv_pub_b);
    RUN_UNTIL(&c, c.failed);
    assert_true(c.failed);
    assert_int_equal(c.z.fail, ZMTP_FAIL_CONNECT);
    assert_non_null(strstr(c.z.detail, "refused"));
    /* the same struct dials again */
    struct server s = {0};
    server_start(&s, true, true, srv_sec);
    c.failed = false;
    client_connect(&c, s.port, srv_pub_b);
    RUN_UNTIL(&c, c.msgs >= 1 || c.failed);
    assert_true(c.ready);
    client_free(&c);
    server_stop(&s);
}

static void test_zmtp_null_mechanism(void **state)
{
    (void)state;
    char detail[96];
    enum zmtp_fail why = refused_by(false, true, NULL, detail);
    /* libzmq drops a peer of another mechanism as soon as it has read
     * the greeting, often before its own greeting is flushed: we see
     * either the greeting ("NULL") or only the close; never READY */
    assert_true(why == ZMTP_FAIL_PROTOCOL || why == ZMTP_FAIL_CONNECT);
}

static void *garbage_main(void *arg)
{
    int lfd = *(int *)arg;
    int fd = accept(lfd, NULL, NULL);
    if (fd >= 0) {
        char junk[64];
        memset(junk, 'A', sizeof(junk));
        (void)!write(fd, "SSH-2.0-OpenSSH_9.2\r\n", 21);
        (void)!write(fd, junk, sizeof(junk));
        usleep(300000);
        close(fd);
    }
    return NULL;
}

static void test_zmtp_not_zmtp(void **state)
{
    (void)state;
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t l = sizeof(a);
    assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    listen(lfd, 1);
    getsockname(lfd, (struct sockaddr *)&a, &l);
    pthread_t th;
    pthread_create(&th, NULL, garbage_main, &lfd);
    struct client c;
    client_init(&c);
    client_connect(&c, ntohs(a.sin_port), srv_pub_b);
    RUN_UNTIL(&c, c.failed);
    assert_true(c.failed);
    assert_int_equal(c.z.fail, ZMTP_FAIL_PROTOCOL);
    pthread_join(th, NULL);
    close(lfd);
    client_free(&c);
}

struct liar {
    int lfd;
    const uint8_t *bytes;
    size_t n;
};

static void *liar_main(void *arg)
{
    struct liar *li = arg;
    int fd = accept(li->lfd, NULL, NULL);
    if (fd >= 0) {
        (void)!write(fd, li->bytes, li->n);
        usleep(500000); /* and then nothing: the body never comes */
        close(fd);
    }
    return NULL;
}

/* Before READY a server may not make us wait for (and hold) a big frame:
 * a CURVE greeting, then a header claiming 100,000 bytes, is refused at
 * once, not after the body. */
static void test_zmtp_big_frame_before_ready(void **state)
{
    (void)state;
    uint8_t bytes[64 + 9] = {0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0x7f, 3, 1};
    memcpy(bytes + 12, "CURVE", 5);
    bytes[32] = 1;
    bytes[64] = 0x06; /* command, long size */
    uint64_t big = 100000;
    for (int i = 0; i < 8; i++)
        bytes[65 + i] = (uint8_t)(big >> (56 - 8 * i));
    struct liar li = {.bytes = bytes, .n = sizeof(bytes)};
    li.lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t l = sizeof(a);
    assert_int_equal(bind(li.lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    listen(li.lfd, 1);
    getsockname(li.lfd, (struct sockaddr *)&a, &l);
    pthread_t th;
    pthread_create(&th, NULL, liar_main, &li);
    struct client c;
    client_init(&c);
    client_connect(&c, ntohs(a.sin_port), srv_pub_b);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    RUN_UNTIL(&c, c.failed);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_true(c.failed);
    assert_int_equal(c.z.fail, ZMTP_FAIL_PROTOCOL);
    assert_non_null(strstr(c.z.detail, "bad frame"));
    /* well before the liar closes (500 ms) */
    assert_true((t1.tv_sec - t0.tv_sec) * 1000 +
                    (t1.tv_nsec - t0.tv_nsec) / 1000000 <
                400);
    pthread_join(th, NULL);
    close(li.lfd);
    client_free(&c);
}

static void test_zmtp_heartbeats(void **state)
{
    (void)state;
    struct server s = {0};
    s.heartbeats = true;
    struct client c;
    client_open(&s, &c);
    /* quiet for a second: the server PINGs every 100 ms and drops us
     * after 300 ms without an answer */
    struct err e = {0};
    for (int i = 0; i < 100; i++)
        loop_run_once(c.l, 10, &e);
    assert_false(c.failed);
    assert_true(zmtp_send(&c.z, "still", 5));
    RUN_UNTIL(&c, c.msgs >= 2 || c.failed);
    assert_false(c.failed);
    assert_memory_equal(c.last, "still", 5);
    client_free(&c);
    server_stop(&s);
}

/* A nested turn of the loop reads connection B while A still has
 * messages in the shared buffer: A's bytes are kept, nothing is lost or
 * reordered. */
static void test_zmtp_interleaved(void **state)
{
    (void)state;
    struct server s = {0};
    server_start(&s, true, true, srv_sec);
    struct client a, b;
    client_init(&a);
    b = a; /* same loop and context; a connection of its own */
    memset(&b.z, 0, sizeof(b.z));
    b.last = NULL;
    zmtp_init(&b.z, &a.x, c_io, &b);
    client_connect(&a, s.port, srv_pub_b);
    client_connect(&b, s.port, srv_pub_b);
    RUN_UNTIL(&a, (a.msgs >= 1 && b.msgs >= 1) || a.failed || b.failed);
    assert_true(a.ready && b.ready);
    assert_true(zmtp_send(&a.z, "a1", 2));
    assert_true(zmtp_send(&a.z, "a2", 2));
    assert_true(zmtp_send(&a.z, "a3", 2));
    assert_true(zmtp_send(&b.z, "b1", 2));
    usleep(200000); /* the echoes wait in the kernel */
    const uint8_t *p;
    size_t n;
    zmtp_io(&a.z, LOOP_READ);
    assert_int_equal(zmtp_next(&a.z, &p, &n), ZMTP_MESSAGE);
    assert_memory_equal(p, "a1", 2);
    zmtp_io(&b.z, LOOP_READ); /* the nested turn */
    assert_int_equal(zmtp_next(&b.z, &p, &n), ZMTP_MESSAGE);
    assert_memory_equal(p, "b1", 2);
    assert_int_equal(zmtp_next(&b.z, &p, &n), ZMTP_NONE);
    assert_int_equal(zmtp_next(&a.z, &p, &n), ZMTP_MESSAGE);
    assert_memory_equal(p, "a2", 2);
    assert_int_equal(zmtp_next(&a.z, &p, &n), ZMTP_MESSAGE);
    assert_memory_equal(p, "a3", 2);
    assert_int_equal(zmtp_next(&a.z, &p, &n), ZMTP_NONE);
    assert_int_equal(zmtp_buffered(&a.z), 0);
    zmtp_close(&b.z);
    free(b.last);
    client_free(&a);
    server_stop(&s);
}

int main(void)
{
    zmq_curve_keypair(srv_pub, srv_sec);
    zmq_curve_keypair(cli_pub, cli_sec);
    zmq_z85_decode(srv_pub_b, srv_pub);
    zmq_z85_decode(cli_pub_b, cli_pub);
    zmq_z85_decode(cli_sec_b, cli_sec);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zmtp_echo),
        cmocka_unit_test(test_zmtp_large),
        cmocka_unit_test(test_zmtp_wrong_key),
        cmocka_unit_test(test_zmtp_refused_by_zap),
        cmocka_unit_test(test_zmtp_closed_port),
        cmocka_unit_test(test_zmtp_null_mechanism),
        cmocka_unit_test(test_zmtp_not_zmtp),
        cmocka_unit_test(test_zmtp_heartbeats),
        cmocka_unit_test(test_zmtp_interleaved),
        cmocka_unit_test(test_zmtp_big_frame_before_ready),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
