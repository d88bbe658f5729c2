/* tests/unit/agent/test_agentd.c: the agent's dispatch from a raw CURVE
 * DEALER: malformed frames, unknown types and extra frames get ERROR
 * replies and the agent stays up; a peer sending garbage repeatedly is
 * ignored; oversized frames are dropped by ZMQ_MAXMSGSIZE; output stops
 * after the window until acknowledged (backpressure); the output cap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agentd.h"
#include "buf.h"
#include "clock.h"
#include "job.h"
#include "keyfile.h"
#include "loop.h"
#include "proto.h"
#include "zap.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

static char dir[64];

struct fx {
    struct loop *l;
    void *ctx;
    struct keyfile_set *allowed;
    struct job_table *jt;
    struct zap *zap;
    struct agentd_sock *as;
    struct agentd *a;
    void *dealer;
    struct keypair akey, ckey;
};

static void fx_start(struct fx *f, uint64_t output_max)
{
    struct err e = {0};
    memset(f, 0, sizeof(*f));
    f->l = loop_new(&e);
    f->ctx = zmq_ctx_new();
    keyfile_generate(&f->akey, &e);
    keyfile_generate(&f->ckey, &e);
    f->allowed = keyfile_set_new();
    uint8_t bin[32];
    zmq_z85_decode(bin, f->ckey.public_z85);
    keyfile_set_add(f->allowed, bin);
    f->jt = job_table_new(f->l, &e);
    f->zap = zap_new(f->l, f->ctx, f->allowed, &e);
    static int n;
    char state[128];
    snprintf(state, sizeof(state), "%s/s%d", dir, n++);
    struct agentd_options o = {.name = "t",
                               .listen = "tcp://127.0.0.1:*",
                               .key = &f->akey,
                               .state_dir = state,
                               .output_max = output_max};
    f->as = agentd_sock_new(f->l, f->ctx, 0, &e);
    f->a = agentd_new(f->as, f->jt, &o, &e);
    assert_non_null(f->a);
    f->dealer = zmq_socket(f->ctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(f->dealer, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(f->dealer, ZMQ_CURVE_SERVERKEY, f->akey.public_z85, 41);
    zmq_setsockopt(f->dealer, ZMQ_CURVE_PUBLICKEY, f->ckey.public_z85, 41);
    zmq_setsockopt(f->dealer, ZMQ_CURVE_SECRETKEY, f->ckey.secret_z85, 41);
    assert_int_equal(zmq_connect(f->dealer, agentd_endpoint(f->a)), 0);
}

static void fx_stop(struct fx *f)
{
    zmq_close(f->dealer);
    agentd_free(f->a);
    agentd_sock_free(f->as);
    zap_free(f->zap);
    zmq_ctx_term(f->ctx);
    job_table_free(f->jt);
    keyfile_set_free(f->allowed);
    loop_free(f->l);
}

/* Receive one frame within ms, turning the loop meanwhile. Returns its
 * size, or -1. The probe (empty) is skipped. */
static int fx_recv(struct fx *f, void *buf, size_t cap, int64_t ms)
{
    int64_t t0 = clock_mono_ms();
    while (clock_mono_ms() - t0 < ms) {
        loop_run_once(f->l, 10, NULL);
        int n = zmq_recv(f->dealer, buf, cap, ZMQ_DONTWAIT);
        if (n > 0)
            return n;
    }
    return -1;
}

static void fx_send(struct fx *f, struct proto_msg *m)
{
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    assert_int_equal(proto_encode(m, &b, NULL), ERR_OK);
    assert_int_equal(zmq_send(f->dealer, b.data, b.len, 0), (int)b.len);
    buf_release(&b);
}

static struct proto_msg fx_expect(struct fx *f, enum proto_type type)
{
    static char buf[PROTO_FRAME_MAX];
    int n = fx_recv(f, buf, sizeof(buf), 3000);
    assert_true(n > 0);
    struct proto_msg m;
    struct err e = {0};
    if (proto_decode(buf, (size_t)n, &m, &e) != ERR_OK)
        fail_msg("%s", e.msg);
    if (m.type != type)
        fail_msg("got %s, wanted %s (%s)", proto_type_name(m.type),
                 proto_type_name(type), m.text ? m.text : "");
    return m;
}

static void test_agentd_garbage_gets_errors(void **state)
{
    (void)state;
    struct fx f;
    fx_start(&f, 0);
    static const uint8_t garbage[][6] = {
        {0xdd, 0x05, 0xf5, 0xe1, 0x00, 0x00}, /* array of 10^8 */
        {0xc1, 0, 0, 0, 0, 0},                /* never used */
    };
    zmq_send(f.dealer, garbage[0], 6, 0);
    struct proto_msg m = fx_expect(&f, PROTO_ERROR);
    assert_int_equal(m.code, PROTO_E_MALFORMED);
    proto_msg_release(&m);
    zmq_send(f.dealer, garbage[1], 1, 0);
    m = fx_expect(&f, PROTO_ERROR);
    assert_int_equal(m.code, PROTO_E_MALFORMED);
    proto_msg_release(&m);
    /* a type agents do not take */
    struct proto_msg res = {.type = PROTO_RESULT, .job = (char *)"j", .end = 0};
    fx_send(&f, &res);
    m = fx_expect(&f, PROTO_ERROR);
    assert_int_equal(m.code, PROTO_E_TYPE);
    proto_msg_release(&m);
    /* two frames in one message */
    zmq_send(f.dealer, "a", 1, ZMQ_SNDMORE);
    zmq_send(f.dealer, "b", 1, 0);
    m = fx_expect(&f, PROTO_ERROR);
    assert_non_null(strstr(m.text, "more than one frame"));
    proto_msg_release(&m);
    /* still serving */
    struct proto_msg ping = {.type = PROTO_PING};
    fx_send(&f, &ping);
    m = fx_expect(&f, PROTO_PONG);
    proto_msg_release(&m);
    fx_stop(&f);
}

static void test_agentd_ignores_repeated_garbage(void **state)
{
    (void)state;
    struct fx f;
    fx_start(&f, 0);
    char buf[512];
    for (int i = 0; i < AGENTD_BAD_FRAMES; i++) {
        zmq_send(f.dealer, "\xc1", 1, 0);
        assert_true(fx_recv(&f, buf, sizeof(buf), 3000) > 0);
    }
    struct proto_msg ping = {.type = PROTO_PING};
    fx_send(&f, &ping);
    assert_int_equal(fx_recv(&f, buf, sizeof(buf), 300), -1);
    fx_stop(&f);
}

static void test_agentd_oversized_frame_dropped(void **state)
{
    (void)state;
    struct fx f;
    fx_start(&f, 0);
    struct proto_msg ping = {.type = PROTO_PING};
    fx_send(&f, &ping);
    struct proto_msg m = fx_expect(&f, PROTO_PONG);
    proto_msg_release(&m);
    size_t n = PROTO_FRAME_MAX + 1024;
    char *big = calloc(1, n);
    zmq_send(f.dealer, big, n, 0);
    free(big);
    /* the connection is dropped, the DEALER reconnects, the agent lives */
    int64_t t0 = clock_mono_ms();
    bool pong = false;
    char buf[512];
    while (!pong && clock_mono_ms() - t0 < 5000) {
        fx_send(&f, &ping);
        int k = fx_recv(&f, buf, sizeof(buf), 200);
        pong = k > 0;
    }
    assert_true(pong);
    fx_stop(&f);
}

static void test_agentd_backpressure_and_cap(void **state)
{
    (void)state;
    struct fx f;
    fx_start(&f, 300 * 1024);
    struct proto_msg ex = {.type = PROTO_EXEC,
                           .job = (char *)"bp1",
                           .command = (char *)"head -c 1000000 /dev/zero"};
    fx_send(&f, &ex);
    /* exactly the window arrives, then nothing until we ack */
    uint64_t last = 0;
    for (int i = 0; i < PROTO_OUTPUT_WINDOW; i++) {
        struct proto_msg m = fx_expect(&f, PROTO_OUTPUT);
        last = m.seq;
        proto_msg_release(&m);
    }
    char buf[64];
    assert_int_equal(fx_recv(&f, buf, sizeof(buf), 300), -1);
    size_t got = PROTO_OUTPUT_WINDOW;
    bool marker = false;
    for (;;) {
        struct proto_msg ack = {
            .type = PROTO_OUTPUT_ACK, .job = (char *)"bp1", .seq = last};
        fx_send(&f, &ack);
        static char fb[PROTO_FRAME_MAX];
        int n = fx_recv(&f, fb, sizeof(fb), 3000);
        assert_true(n > 0);
        struct proto_msg m;
        assert_int_equal(proto_decode(fb, (size_t)n, &m, NULL), ERR_OK);
        if (m.type == PROTO_RESULT) {
            assert_int_equal(m.end, PROTO_END_EXITED);
            assert_int_equal(m.dropped, 1000000 - 300 * 1024);
            proto_msg_release(&m);
            break;
        }
        assert_int_equal(m.type, PROTO_OUTPUT);
        if (m.stream == 2 && strstr(m.data, "output cut at 307200") != NULL)
            marker = true;
        last = m.seq;
        got++;
        proto_msg_release(&m);
    }
    assert_true(marker);
    assert_true(got >= 300 * 1024 / JOB_READ_MAX);
    fx_stop(&f);
}

static void test_agentd_query(void **state)
{
    (void)state;
    struct fx f;
    fx_start(&f, 0);
    struct proto_msg q = {.type = PROTO_JOB_QUERY, .job = (char *)"nope"};
    fx_send(&f, &q);
    struct proto_msg m = fx_expect(&f, PROTO_JOB_STATUS);
    assert_int_equal(m.state, PROTO_JOB_UNKNOWN);
    proto_msg_release(&m);
    struct proto_msg ex = {
        .type = PROTO_EXEC, .job = (char *)"q1", .command = (char *)"exit 5"};
    fx_send(&f, &ex);
    m = fx_expect(&f, PROTO_RESULT);
    assert_int_equal(m.code, 5);
    assert_false(m.replayed);
    proto_msg_release(&m);
    q.job = (char *)"q1";
    fx_send(&f, &q);
    m = fx_expect(&f, PROTO_RESULT);
    assert_int_equal(m.code, 5);
    assert_true(m.replayed);
    proto_msg_release(&m);
    struct proto_msg c = {.type = PROTO_CANCEL, .job = (char *)"q1"};
    fx_send(&f, &c);
    m = fx_expect(&f, PROTO_ERROR);
    assert_int_equal(m.code, PROTO_E_NOJOB);
    proto_msg_release(&m);
    fx_stop(&f);
}

static int setup(void **state)
{
    (void)state;
    /* mkdtemp's template: six 'X' the call replaces */
    int tn = snprintf(dir, sizeof(dir), "/tmp/test_agentd.");
    memset(dir + tn, 'X', 6);
    dir[tn + 6] = '\0';
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_agentd_garbage_gets_errors),
        cmocka_unit_test(test_agentd_ignores_repeated_garbage),
        cmocka_unit_test(test_agentd_oversized_frame_dropped),
        cmocka_unit_test(test_agentd_backpressure_and_cap),
        cmocka_unit_test(test_agentd_query),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
