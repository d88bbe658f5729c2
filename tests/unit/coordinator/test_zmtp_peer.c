/* tests/unit/coordinator/test_zmtp_peer.c: the ZMTP/CURVE client against a
 * CURVE server written with libsodium (curve_peer.h), over a socketpair,
 * for what a libzmq server never sends but a hostile or broken peer may:
 * each unauthenticated handshake ending (ERROR in place of WELCOME, a
 * WELCOME that does not open, ERROR after INITIATE, closes), told apart
 * for the owner to count; an unboxed ERROR or any command frame after
 * READY and MESSAGE flags with reserved bits (protocol errors), a
 * replayed nonce, a PING flood from a peer that never reads (our queue
 * stays bounded), and a peer that reads nothing we send (the connection
 * fails instead of queueing without end). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "err.h"
#include "loop.h"
#include "zmtp.h"

#include "curve_peer.h"

#include <fcntl.h>
#include <sodium.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct peer {
    struct loop *l;
    struct zmtp_ctx x;
    struct zmtp z;
    struct curve_peer cp; /* the server */
    int events[4];        /* by zmtp_event + 1 */
};

/* Let the client read and answer: a few turns. */
static void turn(struct peer *p)
{
    for (int i = 0; i < 5; i++) {
        zmtp_io(&p->z, LOOP_READ | LOOP_WRITE);
        const uint8_t *m;
        size_t n;
        enum zmtp_event e;
        while ((e = zmtp_next(&p->z, &m, &n)) != ZMTP_NONE) {
            p->events[e + 1]++;
            if (e == ZMTP_FAILED)
                return;
        }
        usleep(1000);
    }
}

static void peer_start(struct peer *p, size_t max_message)
{
    memset(p, 0, sizeof(*p));
    assert_true(sodium_init() >= 0);
    uint8_t C[32], c[32];
    crypto_box_keypair(C, c);
    struct err e = {0};
    p->l = loop_new(&e);
    assert_true(zmtp_ctx_init(&p->x, p->l, C, c, max_message));
    zmtp_init(&p->z, &p->x, NULL, NULL);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    curve_peer_init(&p->cp, sv[1], NULL, NULL);
    zmtp_attach(&p->z, sv[0], p->cp.S);
    turn(p);
    /* greetings: ours, then the server's */
    assert_true(curve_peer_greet(&p->cp));
    turn(p);
}

/* WELCOME and INITIATE, as with libzmq's server. */
static void peer_welcome(struct peer *p)
{
    assert_true(curve_peer_hello(&p->cp));
    assert_true(curve_peer_welcome(&p->cp, false));
    turn(p);
    assert_true(curve_peer_initiate(&p->cp));
}

/* The whole handshake, as libzmq's server would. */
static void peer_handshake(struct peer *p)
{
    peer_welcome(p);
    assert_true(curve_peer_ready(&p->cp));
    turn(p);
    assert_true(zmtp_open(&p->z));
    assert_int_equal(p->events[ZMTP_READY + 1], 1);
}

/* A boxed MESSAGE from the server with short nonce sn. */
static size_t peer_msg(struct peer *p, uint8_t *out, uint64_t sn, uint8_t flags,
                       const void *d, size_t len)
{
    size_t n = curve_peer_message(&p->cp, out, sn, flags, d, len);
    assert_true(n != SIZE_MAX);
    return n;
}

static void wrframe(struct peer *p, const void *b, size_t n, bool command)
{
    assert_true(curve_peer_write_frame(&p->cp, b, n, command));
}

static void peer_stop(struct peer *p)
{
    zmtp_close(&p->z);
    zmtp_ctx_release(&p->x);
    loop_free(p->l);
    close(p->cp.fd);
}

/* The client failed once, with fail and ending. */
static void peer_failed(struct peer *p, enum zmtp_fail fail,
                        enum zmtp_ending ending)
{
    assert_int_equal(p->events[ZMTP_FAILED + 1], 1);
    assert_int_equal(p->events[ZMTP_READY + 1], 0);
    assert_int_equal(p->z.fail, fail);
    assert_int_equal(p->z.ending, ending);
}

/* Nothing before READY is authenticated: each ending below could come
 * from anyone on the path, and says which it is, for the owner to count
 * (agentconn believes one only when it repeats). */
static void test_error_instead_of_welcome(void **state)
{
    (void)state;
    struct peer p;
    peer_start(&p, 4096);
    assert_true(curve_peer_hello(&p.cp));
    wrframe(&p, curve_peer_error400, sizeof(curve_peer_error400), true);
    turn(&p);
    peer_failed(&p, ZMTP_FAIL_KEY, ZMTP_END_HELLO_ERROR);
    assert_non_null(strstr(p.z.detail, "in place of WELCOME"));
    peer_stop(&p);
}

static void test_welcome_that_does_not_open(void **state)
{
    (void)state;
    struct peer p;
    peer_start(&p, 4096);
    assert_true(curve_peer_hello(&p.cp));
    assert_true(curve_peer_welcome(&p.cp, true));
    turn(&p);
    peer_failed(&p, ZMTP_FAIL_KEY, ZMTP_END_HELLO_BOX);
    peer_stop(&p);
}

static void test_close_after_hello(void **state)
{
    (void)state;
    struct peer p;
    peer_start(&p, 4096);
    assert_true(curve_peer_hello(&p.cp));
    shutdown(p.cp.fd, SHUT_WR);
    turn(&p);
    peer_failed(&p, ZMTP_FAIL_KEY, ZMTP_END_HELLO_CLOSE);
    peer_stop(&p);
}

static void test_error_after_initiate(void **state)
{
    (void)state;
    struct peer p;
    peer_start(&p, 4096);
    peer_welcome(&p);
    wrframe(&p, curve_peer_error400, sizeof(curve_peer_error400), true);
    turn(&p);
    peer_failed(&p, ZMTP_FAIL_AUTH, ZMTP_END_INITIATE_ERROR);
    assert_non_null(strstr(p.z.detail, "ERROR 400 after INITIATE"));
    peer_stop(&p);
}

static void test_close_after_initiate(void **state)
{
    (void)state;
    struct peer p;
    peer_start(&p, 4096);
    peer_welcome(&p);
    shutdown(p.cp.fd, SHUT_WR);
    turn(&p);
    peer_failed(&p, ZMTP_FAIL_AUTH, ZMTP_END_INITIATE_CLOSE);
    peer_stop(&p);
}

static void test_unboxed_error_after_ready_is_a_protocol_error(void **state)
{
    (void)state;
    struct peer p;
    peer_start(&p, 4096);
    peer_handshake(&p);
    wrframe(&p, curve_peer_error400, sizeof(curve_peer_error400), true);
    turn(&p);
    assert_int_equal(p.events[ZMTP_FAILED + 1], 1);
    assert_int_equal(p.z.fail, ZMTP_FAIL_PROTOCOL);
    peer_stop(&p);
}

static void test_replayed_nonce_is_refused(void **state)
{
    (void)state;
    struct peer p;
    peer_start(&p, 4096);
    peer_handshake(&p);
    uint8_t m[128];
    size_t n = peer_msg(&p, m, 5, 0, "one", 3);
    wrframe(&p, m, n, false);
    turn(&p);
    assert_int_equal(p.events[ZMTP_MESSAGE + 1], 1);
    n = peer_msg(&p, m, 5, 0, "two", 3); /* the same nonce again */
    wrframe(&p, m, n, false);
    turn(&p);
    assert_int_equal(p.events[ZMTP_MESSAGE + 1], 1);
    assert_int_equal(p.events[ZMTP_FAILED + 1], 1);
    assert_int_equal(p.z.fail, ZMTP_FAIL_PROTOCOL);
    assert_non_null(strstr(p.z.detail, "nonce"));
    peer_stop(&p);
}

static void test_ping_flood_keeps_our_queue_bounded(void **state)
{
    (void)state;
    struct peer p;
    peer_start(&p, 4096);
    peer_handshake(&p);
    fcntl(p.cp.fd, F_SETFL, fcntl(p.cp.fd, F_GETFL) | O_NONBLOCK);
    uint8_t ping[7 + 16] = {4, 'P', 'I', 'N', 'G', 0, 0};
    memset(ping + 7, 'x', 16);
    size_t max = 0;
    uint64_t sn = p.cp.nonce;
    for (int round = 0; round < 300 && zmtp_open(&p.z); round++) {
        uint8_t batch[16384];
        size_t bl = 0;
        while (bl + 100 < sizeof(batch)) {
            size_t n =
                peer_msg(&p, batch + bl + 2, sn++, 0x02, ping, sizeof(ping));
            batch[bl] = 0;
            batch[bl + 1] = (uint8_t)n;
            bl += 2 + n;
        }
        for (size_t o = 0; o < bl && zmtp_open(&p.z);) {
            ssize_t w = write(p.cp.fd, batch + o, bl - o);
            if (w > 0)
                o += (size_t)w;
            else
                turn(&p);
        }
        turn(&p);
        if (zmtp_buffered(&p.z) > max)
            max = zmtp_buffered(&p.z);
    }
    /* we never read our end: PONGs stop at the first that waits */
    assert_true(zmtp_open(&p.z));
    assert_true(max <= 2 * 4096 + 1024);
    peer_stop(&p);
}

static void test_peer_that_never_reads_fails(void **state)
{
    (void)state;
    struct peer p;
    peer_start(&p, 4096);
    peer_handshake(&p);
    uint8_t big[4096];
    memset(big, 'b', sizeof(big));
    bool refused = false;
    for (int i = 0; i < 10000 && !refused; i++)
        refused = !zmtp_send(&p.z, big, sizeof(big));
    assert_true(refused);
    turn(&p);
    assert_int_equal(p.events[ZMTP_FAILED + 1], 1);
    assert_int_equal(p.z.fail, ZMTP_FAIL_PROTOCOL);
    assert_non_null(strstr(p.z.detail, "does not read"));
    peer_stop(&p);
}

/* A boxed MESSAGE whose flags byte has a bit RFC 26 reserves. */
static void test_message_with_reserved_flags_is_refused(void **state)
{
    (void)state;
    const uint8_t bad[] = {0x04, 0x08, 0x80};
    for (size_t i = 0; i < sizeof(bad); i++) {
        struct peer p;
        peer_start(&p, 4096);
        peer_handshake(&p);
        uint8_t m[128];
        size_t n = peer_msg(&p, m, p.cp.nonce++, 0, "ok", 2);
        wrframe(&p, m, n, false);
        n = peer_msg(&p, m, p.cp.nonce++, bad[i], "hi", 2);
        wrframe(&p, m, n, false);
        turn(&p);
        assert_int_equal(p.events[ZMTP_MESSAGE + 1], 1);
        assert_int_equal(p.events[ZMTP_FAILED + 1], 1);
        assert_int_equal(p.z.fail, ZMTP_FAIL_PROTOCOL);
        assert_non_null(strstr(p.z.detail, "reserved flag"));
        peer_stop(&p);
    }
}

/* A well-boxed MESSAGE in a frame flagged as a command: after READY only
 * message frames carry MESSAGEs (libzmq sends nothing else). */
static void test_command_frame_after_ready_is_refused(void **state)
{
    (void)state;
    struct peer p;
    peer_start(&p, 4096);
    peer_handshake(&p);
    uint8_t m[128];
    size_t n = peer_msg(&p, m, p.cp.nonce++, 0, "hi", 2);
    wrframe(&p, m, n, true);
    turn(&p);
    assert_int_equal(p.events[ZMTP_MESSAGE + 1], 0);
    assert_int_equal(p.events[ZMTP_FAILED + 1], 1);
    assert_int_equal(p.z.fail, ZMTP_FAIL_PROTOCOL);
    assert_non_null(strstr(p.z.detail, "command frame"));
    peer_stop(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_instead_of_welcome),
        cmocka_unit_test(test_welcome_that_does_not_open),
        cmocka_unit_test(test_close_after_hello),
        cmocka_unit_test(test_error_after_initiate),
        cmocka_unit_test(test_close_after_initiate),
        cmocka_unit_test(test_message_with_reserved_flags_is_refused),
        cmocka_unit_test(test_command_frame_after_ready_is_refused),
        cmocka_unit_test(test_unboxed_error_after_ready_is_a_protocol_error),
        cmocka_unit_test(test_replayed_nonce_is_refused),
        cmocka_unit_test(test_ping_flood_keeps_our_queue_bounded),
        cmocka_unit_test(test_peer_that_never_reads_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
