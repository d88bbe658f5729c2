/* tests/unit/agent/test_zap.c: the ZAP handler lets listed keys in (and
 * names them in User-Id), refuses others, and the self-test passes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "clock.h"
#include "keyfile.h"
#include "loop.h"
#include "zap.h"

#include <string.h>
#include <zmq.h>

static void *client(void *ctx, const struct keypair *server,
                    const struct keypair *me, const char *ep)
{
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server->public_z85, 41);
    zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, me->public_z85, 41);
    zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, me->secret_z85, 41);
    zmq_connect(s, ep);
    return s;
}

static void test_zap_allows_listed_keys(void **state)
{
    (void)state;
    struct err e = {0};
    struct loop *l = loop_new(&e);
    void *ctx = zmq_ctx_new();
    struct keypair srv, good, bad;
    keyfile_generate(&srv, &e);
    keyfile_generate(&good, &e);
    keyfile_generate(&bad, &e);
    struct keyfile_set *set = keyfile_set_new();
    uint8_t bin[32];
    zmq_z85_decode(bin, good.public_z85);
    keyfile_set_add(set, bin);
    struct zap *z = zap_new(l, ctx, set, &e);
    assert_non_null(z);
    /* a second handler in the same context is refused */
    assert_null(zap_new(l, ctx, set, &e));
    void *server = zmq_socket(ctx, ZMQ_ROUTER);
    int one = 1, zero = 0;
    zmq_setsockopt(server, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(server, ZMQ_CURVE_SERVER, &one, sizeof(one));
    zmq_setsockopt(server, ZMQ_CURVE_SECRETKEY, srv.secret_z85, 41);
    assert_int_equal(zmq_bind(server, "tcp://127.0.0.1:*"), 0);
    char ep[64];
    size_t len = sizeof(ep);
    zmq_getsockopt(server, ZMQ_LAST_ENDPOINT, ep, &len);
    assert_int_equal(zap_selftest(z, l, ctx, ep, srv.public_z85, &e), ERR_OK);
    assert_int_equal(zap_refused(z), 1);

    void *g = client(ctx, &srv, &good, ep);
    void *b = client(ctx, &srv, &bad, ep);
    zmq_send(g, "hi", 2, 0);
    zmq_send(b, "hi", 2, 0);
    int64_t t0 = clock_mono_ms();
    int got = 0;
    char user[64] = "";
    while (clock_mono_ms() - t0 < 2000 &&
           (got == 0 || zap_refused(z) < 2 || clock_mono_ms() - t0 < 300)) {
        loop_run_once(l, 10, NULL);
        zmq_msg_t rid, m;
        zmq_msg_init(&rid);
        zmq_msg_init(&m);
        if (zmq_msg_recv(&rid, server, ZMQ_DONTWAIT) >= 0 &&
            zmq_msg_recv(&m, server, 0) >= 0) {
            got++;
            const char *u = zmq_msg_gets(&m, "User-Id");
            snprintf(user, sizeof(user), "%s", u ? u : "");
        }
        zmq_msg_close(&rid);
        zmq_msg_close(&m);
    }
    assert_int_equal(got, 1); /* only the listed key got through */
    /* "KEY DOMAIN" (no domain set on this socket) */
    assert_memory_equal(user, good.public_z85, 40);
    assert_int_equal(user[40], ' ');
    assert_int_equal(zap_accepted(z), 1);
    assert_true(zap_refused(z) >= 2);
    zmq_close(g);
    zmq_close(b);
    zmq_close(server);
    zap_free(z);
    zmq_ctx_term(ctx);
    keyfile_set_free(set);
    loop_free(l);
}

/* Without a handler the self-test must fail (CURVE alone lets anyone in:
 * exactly what the self-test exists to catch). Simulated by asking it to
 * test a server in another context, where this handler is not asked. */
static void test_zap_selftest_detects_no_handler(void **state)
{
    (void)state;
    struct err e = {0};
    struct loop *l = loop_new(&e);
    void *ctx = zmq_ctx_new(), *other = zmq_ctx_new();
    struct keypair srv;
    keyfile_generate(&srv, &e);
    struct keyfile_set *set = keyfile_set_new();
    struct zap *z = zap_new(l, ctx, set, &e);
    void *server = zmq_socket(other, ZMQ_ROUTER);
    int one = 1, zero = 0;
    zmq_setsockopt(server, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(server, ZMQ_CURVE_SERVER, &one, sizeof(one));
    zmq_setsockopt(server, ZMQ_CURVE_SECRETKEY, srv.secret_z85, 41);
    zmq_bind(server, "tcp://127.0.0.1:*");
    char ep[64];
    size_t len = sizeof(ep);
    zmq_getsockopt(server, ZMQ_LAST_ENDPOINT, ep, &len);
    assert_int_equal(zap_selftest(z, l, ctx, ep, srv.public_z85, &e), ERR_AUTH);
    assert_non_null(strstr(e.msg, "not consulted"));
    zmq_close(server);
    zap_free(z);
    zmq_ctx_term(ctx);
    zmq_ctx_term(other);
    keyfile_set_free(set);
    loop_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zap_allows_listed_keys),
        cmocka_unit_test(test_zap_selftest_detects_no_handler),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
