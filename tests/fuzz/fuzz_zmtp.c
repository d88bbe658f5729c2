/* tests/fuzz/fuzz_zmtp.c: libFuzzer on the ZMTP/CURVE client's reading side,
 * what a server sends before (and around) the CURVE handshake: greeting,
 * frame headers, WELCOME, ERROR, READY. The input (after two split bytes) is
 * the server's byte stream, written into a socketpair in three chunks, then
 * EOF. The server key's secret is unknown and our short-term key is fresh,
 * so nothing the input holds can open: READY or MESSAGE would be a bug, and
 * every ending is one the owner must not believe at once (zmtp.ending). */
#include "err.h"
#include "loop.h"
#include "zmtp.h"

#include <errno.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum {
    FZ_MAX_MESSAGE = 4096,
    /* a partial frame kept between reads is shorter than the longest frame
       the client takes: once open a MESSAGE (header 9 + name 8, nonce 8,
       MAC 16, flags 1 + max_message), before READY (always, here) a
       handshake command (header 9 + 1024), so the server can never make
       the client hold a message-sized frame unauthenticated */
    FZ_RX_OPEN_MAX = 9 + 8 + 8 + 16 + 1 + FZ_MAX_MESSAGE,
    FZ_RX_HANDSHAKE_MAX = 9 + 1024,
    /* what the client writes unprovoked (greeting, HELLO) fits the first
       4096-byte tx block, and we drain the other end anyway */
    FZ_TX_MAX = 4096,
    FZ_CHUNKS = 3,
    FZ_DRAIN_TURNS = 64, /* zmtp_io rounds after EOF before we call it hung */
};

/* The public half of a key pair whose secret was thrown away. */
static const uint8_t fz_server_key[ZMTP_KEY_LEN] = {
    0x74, 0x62, 0x8b, 0x70, 0x8b, 0x63, 0xa7, 0x3f, 0xd2, 0x2b, 0x13,
    0x38, 0xf6, 0x52, 0x37, 0x53, 0x10, 0x54, 0x2f, 0xa7, 0xbe, 0x4e,
    0x8b, 0xbe, 0x33, 0x0c, 0x24, 0x44, 0xe1, 0xe1, 0xd7, 0x3a,
};

static uint8_t fz_client_pub[ZMTP_KEY_LEN], fz_client_sec[ZMTP_KEY_LEN];

static void fz_keys(void)
{
    static bool done;
    if (done)
        return;
    uint8_t seed[crypto_box_SEEDBYTES];
    memset(seed, 0x5a, sizeof(seed));
    if (sodium_init() < 0 ||
        crypto_box_seed_keypair(fz_client_pub, fz_client_sec, seed) != 0)
        abort();
    done = true;
}

static void fz_io(struct loop *l, struct loop_io *io, unsigned revents,
                  void *arg)
{
    (void)l;
    (void)io;
    (void)revents;
    (void)arg;
}

static size_t fz_rx_bound(void)
{
    return FZ_RX_HANDSHAKE_MAX < FZ_RX_OPEN_MAX ? FZ_RX_HANDSHAKE_MAX
                                                : FZ_RX_OPEN_MAX;
}

static void fz_check_detail(const struct zmtp *z)
{
    const char *end = memchr(z->detail, '\0', sizeof(z->detail));
    if (end == NULL || end == z->detail)
        __builtin_trap();
    for (const char *c = z->detail; c < end; c++)
        if (*c < 0x20 || *c > 0x7e)
            __builtin_trap();
}

/* Run zmtp_next until it has nothing; true once the connection failed. */
static bool fz_drain(struct zmtp *z)
{
    for (;;) {
        const uint8_t *msg = NULL;
        size_t len = 0;
        enum zmtp_event ev = zmtp_next(z, &msg, &len);
        if (zmtp_open(z) || zmtp_buffered(z) > fz_rx_bound() + FZ_TX_MAX)
            __builtin_trap();
        switch (ev) {
        case ZMTP_NONE:
            return false;
        case ZMTP_FAILED:
            if (z->fd != -1 || z->fail == ZMTP_FAIL_NONE ||
                zmtp_buffered(z) != 0)
                __builtin_trap();
            /* the pinned key is a good one: a KEY or AUTH ending came from
             * the peer and says how (the owner counts them by that) */
            if ((z->fail == ZMTP_FAIL_KEY || z->fail == ZMTP_FAIL_AUTH) !=
                (z->ending != ZMTP_END_NONE))
                __builtin_trap();
            fz_check_detail(z);
            return true;
        default: /* READY or MESSAGE: no box here can open */
            __builtin_trap();
        }
    }
}

/* Read and drop what the client sent, so its sends never block. */
static void fz_discard(int fd)
{
    uint8_t sink[4096];
    ssize_t n;
    do
        n = recv(fd, sink, sizeof(sink), 0);
    while (n > 0 || (n < 0 && errno == EINTR));
}

/* One round: the client's events, its output dropped, its findings read. */
static bool fz_turn(struct zmtp *z, int peer)
{
    zmtp_io(z, LOOP_READ | LOOP_WRITE);
    fz_discard(peer);
    return fz_drain(z);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_keys();

    /* split points: the first two bytes, as chunk lengths */
    size_t cut[FZ_CHUNKS + 1] = {0};
    size_t head = size < 2 ? size : 2;
    const uint8_t *p = data + head;
    size_t n = size - head;
    cut[1] = head > 0 && data[0] < n ? data[0] : n;
    cut[2] = head > 1 && data[1] < n - cut[1] ? cut[1] + data[1] : n;
    cut[3] = n;

    struct err e = {0};
    struct loop *l = loop_new(&e);
    if (l == NULL)
        abort();
    struct zmtp_ctx x;
    if (!zmtp_ctx_init(&x, l, fz_client_pub, fz_client_sec, FZ_MAX_MESSAGE))
        abort();
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                   sv) != 0)
        abort();
    struct zmtp z;
    zmtp_init(&z, &x, fz_io, NULL);
    zmtp_attach(&z, sv[0], fz_server_key);

    bool failed = fz_turn(&z, sv[1]);
    for (int c = 0; c < FZ_CHUNKS && !failed; c++) {
        size_t off = cut[c];
        while (off < cut[c + 1] && !failed) {
            ssize_t w = send(sv[1], p + off, cut[c + 1] - off, MSG_NOSIGNAL);
            if (w < 0 && errno != EINTR && errno != EAGAIN &&
                errno != EWOULDBLOCK)
                abort();
            if (w > 0)
                off += (size_t)w;
            failed = fz_turn(&z, sv[1]);
        }
    }

    /* EOF: the client must say so within a few rounds, whatever came */
    shutdown(sv[1], SHUT_WR);
    for (int t = 0; t < FZ_DRAIN_TURNS && !failed; t++)
        failed = fz_turn(&z, sv[1]);
    if (!failed || z.fd != -1)
        __builtin_trap();

    zmtp_close(&z);
    close(sv[1]);
    zmtp_ctx_release(&x);
    loop_free(l);
    return 0;
}
