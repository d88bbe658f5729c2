/* tests/unit/coordinator/test_zmtp_peer.c: the ZMTP/CURVE client against a
 * CURVE server written here with libsodium, over a socketpair, for what a
 * libzmq server never sends but a hostile or broken peer may: an ERROR
 * instead of WELCOME (reported as a wrong key, not as a refusal of ours),
 * an unboxed ERROR after READY (a protocol error, not a refusal), a
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

#include <fcntl.h>
#include <sodium.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct peer {
    struct loop *l;
    struct zmtp_ctx x;
    struct zmtp z;
    int sfd; /* the server's end (blocking) */
    uint8_t S[32], s[32], Sp[32], sp[32], Cp[32], prec[32];
    uint64_t nonce; /* server short nonce */
    int events[4];  /* by zmtp_event + 1 */
};

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static void rd(struct peer *p, void *b, size_t n)
{
    for (size_t o = 0; o < n;) {
        ssize_t r = read(p->sfd, (char *)b + o, n - o);
        assert_true(r > 0);
        o += (size_t)r;
    }
}

static void wr(struct peer *p, const void *b, size_t n)
{
    for (size_t o = 0; o < n;) {
        ssize_t r = write(p->sfd, (const char *)b + o, n - o);
        assert_true(r > 0);
        o += (size_t)r;
    }
}

static size_t rdframe(struct peer *p, uint8_t *b, size_t cap)
{
    uint8_t h[9];
    rd(p, h, 2);
    size_t n = h[1];
    if (h[0] & 2) {
        rd(p, h + 2, 7);
        n = 0;
        for (int i = 1; i < 9; i++)
            n = n << 8 | h[i];
    }
    assert_true(n <= cap);
    rd(p, b, n);
    return n;
}

static void wrframe(struct peer *p, const void *b, size_t n, bool command)
{
    uint8_t h[2] = {command ? 0x04 : 0x00, (uint8_t)n};
    assert_true(n <= 255);
    wr(p, h, 2);
    wr(p, b, n);
}

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
    crypto_box_keypair(p->S, p->s);
    crypto_box_keypair(p->Sp, p->sp);
    crypto_box_keypair(C, c);
    struct err e = {0};
    p->l = loop_new(&e);
    assert_true(zmtp_ctx_init(&p->x, p->l, C, c, max_message));
    zmtp_init(&p->z, &p->x, NULL, NULL);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    p->sfd = sv[1];
    p->nonce = 1;
    zmtp_attach(&p->z, sv[0], p->S);
    turn(p);
    /* greetings: ours, then the server's */
    uint8_t g[64] = {0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0x7f, 3, 1};
    memcpy(g + 12, "CURVE", 5);
    g[32] = 1;
    uint8_t cg[64];
    rd(p, cg, sizeof(cg));
    assert_memory_equal(cg + 12, "CURVE", 5);
    wr(p, g, sizeof(g));
    turn(p);
}

/* WELCOME and READY, as libzmq's server would. */
static void peer_handshake(struct peer *p)
{
    uint8_t b[1024];
    assert_int_equal(rdframe(p, b, sizeof(b)), 200); /* HELLO */
    memcpy(p->Cp, b + 80, 32);
    uint8_t wp[128], w[168], nonce[24];
    memcpy(wp, p->Sp, 32);
    randombytes_buf(wp + 32, 96);
    memcpy(w, "\x07WELCOME", 8);
    memcpy(nonce, "WELCOME-", 8);
    randombytes_buf(nonce + 8, 16);
    memcpy(w + 8, nonce + 8, 16);
    assert_int_equal(crypto_box_easy(w + 24, wp, 128, nonce, p->Cp, p->s), 0);
    uint8_t h[2] = {0x04, 168};
    wr(p, h, 2);
    wr(p, w, sizeof(w));
    turn(p);
    size_t n = rdframe(p, b, sizeof(b));
    assert_true(n > 113);
    assert_memory_equal(b, "\x08INITIATE", 9);
    assert_int_equal(crypto_box_beforenm(p->prec, p->Cp, p->sp), 0);
    static const uint8_t meta[] = {11,  'S', 'o', 'c', 'k', 'e', 't', '-',
                                   'T', 'y', 'p', 'e', 0,   0,   0,   6,
                                   'R', 'O', 'U', 'T', 'E', 'R'};
    uint8_t r[14 + 16 + sizeof(meta)];
    memcpy(r, "\x05READY", 6);
    memcpy(nonce, "CurveZMQREADY---", 16);
    put64(nonce + 16, p->nonce++);
    memcpy(r + 6, nonce + 16, 8);
    crypto_box_easy_afternm(r + 14, meta, sizeof(meta), nonce, p->prec);
    wrframe(p, r, sizeof(r), true);
    turn(p);
    assert_true(zmtp_open(&p->z));
    assert_int_equal(p->events[ZMTP_READY + 1], 1);
}

/* A boxed MESSAGE from the server with short nonce sn. */
static size_t peer_msg(struct peer *p, uint8_t *out, uint64_t sn, uint8_t flags,
                       const void *d, size_t len)
{
    uint8_t pl[256];
    assert_true(len + 1 <= sizeof(pl));
    pl[0] = flags;
    memcpy(pl + 1, d, len);
    memcpy(out, "\x07MESSAGE", 8);
    uint8_t nonce[24];
    memcpy(nonce, "CurveZMQMESSAGES", 16);
    put64(nonce + 16, sn);
    memcpy(out + 8, nonce + 16, 8);
    crypto_box_easy_afternm(out + 16, pl, len + 1, nonce, p->prec);
    return 16 + crypto_box_MACBYTES + len + 1;
}

static void peer_stop(struct peer *p)
{
    zmtp_close(&p->z);
    zmtp_ctx_release(&p->x);
    loop_free(p->l);
    close(p->sfd);
}

static const uint8_t error400[10] = {5,   'E', 'R', 'R', 'O',
                                     'R', 3,   '4', '0', '0'};

static void test_error_instead_of_welcome_is_a_wrong_key(void **state)
{
    (void)state;
    struct peer p;
    peer_start(&p, 4096);
    uint8_t b[1024];
    assert_int_equal(rdframe(&p, b, sizeof(b)), 200); /* HELLO */
    wrframe(&p, error400, sizeof(error400), true);
    turn(&p);
    assert_int_equal(p.events[ZMTP_FAILED + 1], 1);
    assert_int_equal(p.z.fail, ZMTP_FAIL_KEY); /* not "add our key" */
    assert_false(p.z.inferred);
    peer_stop(&p);
}

static void test_unboxed_error_after_ready_is_a_protocol_error(void **state)
{
    (void)state;
    struct peer p;
    peer_start(&p, 4096);
    peer_handshake(&p);
    wrframe(&p, error400, sizeof(error400), true);
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
    fcntl(p.sfd, F_SETFL, fcntl(p.sfd, F_GETFL) | O_NONBLOCK);
    uint8_t ping[7 + 16] = {4, 'P', 'I', 'N', 'G', 0, 0};
    memset(ping + 7, 'x', 16);
    size_t max = 0;
    uint64_t sn = p.nonce;
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
            ssize_t w = write(p.sfd, batch + o, bl - o);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_instead_of_welcome_is_a_wrong_key),
        cmocka_unit_test(test_unboxed_error_after_ready_is_a_protocol_error),
        cmocka_unit_test(test_replayed_nonce_is_refused),
        cmocka_unit_test(test_ping_flood_keeps_our_queue_bounded),
        cmocka_unit_test(test_peer_that_never_reads_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
