/* tests/unit/coordinator/curve_peer.h: the server's side of a ZMTP 3.0 +
 * CURVE handshake, written with libsodium on a blocking socket, for tests
 * that play an agent libzmq would never be: test_zmtp_peer.c (over a
 * socketpair) and test_agentconn.c (a stand-in on TCP in front of a real
 * agent, in a child process). Every helper returns false (or SIZE_MAX) on
 * a short read or write instead of asserting, so a child can use it. */
#ifndef DROVER_TEST_CURVE_PEER_H
#define DROVER_TEST_CURVE_PEER_H

#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

struct curve_peer {
    int fd;           /* the server's end (blocking) */
    uint8_t S[32];    /* long-term public key: the one pinned */
    uint8_t s[32];    /* its secret */
    uint8_t Sp[32];   /* short-term public key */
    uint8_t sp[32];   /* its secret */
    uint8_t Cp[32];   /* the client's short-term key, from HELLO */
    uint8_t prec[32]; /* C'/S' box key, after INITIATE */
    uint64_t nonce;   /* the server's next short nonce */
};

/* An ERROR command, as libzmq's ZAP refusal sends it. */
static const uint8_t curve_peer_error400[10] = {5,   'E', 'R', 'R', 'O',
                                                'R', 3,   '4', '0', '0'};

static inline void curve_peer_put64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

/* Keys: the long-term pair given (s NULL: a new one), a new short-term. */
static inline void curve_peer_init(struct curve_peer *p, int fd,
                                   const uint8_t *S, const uint8_t *s)
{
    memset(p, 0, sizeof(*p));
    p->fd = fd;
    p->nonce = 1;
    if (s != NULL) {
        memcpy(p->S, S, 32);
        memcpy(p->s, s, 32);
    } else {
        crypto_box_keypair(p->S, p->s);
    }
    crypto_box_keypair(p->Sp, p->sp);
}

static inline bool curve_peer_read(struct curve_peer *p, void *b, size_t n)
{
    for (size_t o = 0; o < n;) {
        ssize_t r = read(p->fd, (char *)b + o, n - o);
        if (r <= 0)
            return false;
        o += (size_t)r;
    }
    return true;
}

static inline bool curve_peer_write(struct curve_peer *p, const void *b,
                                    size_t n)
{
    for (size_t o = 0; o < n;) {
        ssize_t r = write(p->fd, (const char *)b + o, n - o);
        if (r <= 0)
            return false;
        o += (size_t)r;
    }
    return true;
}

/* One frame's body into b; its length, SIZE_MAX on a short read or a
 * frame over cap. */
static inline size_t curve_peer_read_frame(struct curve_peer *p, uint8_t *b,
                                           size_t cap)
{
    uint8_t h[9];
    if (!curve_peer_read(p, h, 2))
        return SIZE_MAX;
    size_t n = h[1];
    if (h[0] & 2) {
        if (!curve_peer_read(p, h + 2, 7))
            return SIZE_MAX;
        n = 0;
        for (int i = 1; i < 9; i++)
            n = n << 8 | h[i];
    }
    if (n > cap || !curve_peer_read(p, b, n))
        return SIZE_MAX;
    return n;
}

/* A short frame (up to 255 bytes), a command or a message. */
static inline bool curve_peer_write_frame(struct curve_peer *p, const void *b,
                                          size_t n, bool command)
{
    uint8_t h[2] = {command ? 0x04 : 0x00, (uint8_t)n};
    return n <= 255 && curve_peer_write(p, h, 2) && curve_peer_write(p, b, n);
}

/* The client's greeting (it says CURVE), then ours (as-server). */
static inline bool curve_peer_greet(struct curve_peer *p)
{
    uint8_t cg[64], g[64] = {0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0x7f, 3, 1};
    memcpy(g + 12, "CURVE", 5);
    g[32] = 1;
    return curve_peer_read(p, cg, sizeof(cg)) &&
           memcmp(cg + 12, "CURVE", 5) == 0 && curve_peer_write(p, g, 64);
}

/* Read HELLO (keep C'); false unless it is one. */
static inline bool curve_peer_hello(struct curve_peer *p)
{
    uint8_t b[256];
    if (curve_peer_read_frame(p, b, sizeof(b)) != 200 ||
        memcmp(b, "\x05HELLO", 6) != 0)
        return false;
    memcpy(p->Cp, b + 80, 32);
    return true;
}

/* WELCOME: S' and a cookie boxed from S to C', as libzmq's server sends
 * it. garbage: the same size, but bytes that open with no key. */
static inline bool curve_peer_welcome(struct curve_peer *p, bool garbage)
{
    uint8_t wp[128], w[168], nonce[24];
    memcpy(wp, p->Sp, 32);
    randombytes_buf(wp + 32, 96);
    memcpy(w, "\x07WELCOME", 8);
    memcpy(nonce, "WELCOME-", 8);
    randombytes_buf(nonce + 8, 16);
    memcpy(w + 8, nonce + 8, 16);
    if (crypto_box_easy(w + 24, wp, 128, nonce, p->Cp, p->s) != 0)
        return false;
    if (garbage)
        randombytes_buf(w + 24, 144);
    uint8_t h[2] = {0x04, 168};
    return curve_peer_write(p, h, 2) && curve_peer_write(p, w, sizeof(w));
}

/* Read INITIATE; the C'/S' box key follows from it. */
static inline bool curve_peer_initiate(struct curve_peer *p)
{
    uint8_t b[1024];
    size_t n = curve_peer_read_frame(p, b, sizeof(b));
    return n != SIZE_MAX && n > 113 && memcmp(b, "\x08INITIATE", 9) == 0 &&
           crypto_box_beforenm(p->prec, p->Cp, p->sp) == 0;
}

/* READY, with the metadata of a ROUTER. */
static inline bool curve_peer_ready(struct curve_peer *p)
{
    static const uint8_t meta[] = {11,  'S', 'o', 'c', 'k', 'e', 't', '-',
                                   'T', 'y', 'p', 'e', 0,   0,   0,   6,
                                   'R', 'O', 'U', 'T', 'E', 'R'};
    uint8_t r[14 + 16 + sizeof(meta)], nonce[24];
    memcpy(r, "\x05READY", 6);
    memcpy(nonce, "CurveZMQREADY---", 16);
    curve_peer_put64(nonce + 16, p->nonce++);
    memcpy(r + 6, nonce + 16, 8);
    crypto_box_easy_afternm(r + 14, meta, sizeof(meta), nonce, p->prec);
    return curve_peer_write_frame(p, r, sizeof(r), true);
}

/* A boxed MESSAGE with short nonce sn into out; its length. */
static inline size_t curve_peer_message(struct curve_peer *p, uint8_t *out,
                                        uint64_t sn, uint8_t flags,
                                        const void *d, size_t len)
{
    uint8_t pl[256];
    if (len + 1 > sizeof(pl))
        return SIZE_MAX;
    pl[0] = flags;
    memcpy(pl + 1, d, len);
    memcpy(out, "\x07MESSAGE", 8);
    uint8_t nonce[24];
    memcpy(nonce, "CurveZMQMESSAGES", 16);
    curve_peer_put64(nonce + 16, sn);
    memcpy(out + 8, nonce + 16, 8);
    crypto_box_easy_afternm(out + 16, pl, len + 1, nonce, p->prec);
    return 16 + crypto_box_MACBYTES + len + 1;
}

#endif
