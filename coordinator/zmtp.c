/* coordinator/zmtp.c: ZMTP 3.0 + CURVE client (see zmtp.h).
 *
 * Wire, client side (RFC 23, RFC 26; what libzmq 4.3 sends and expects):
 *   greeting  0xff, 8 x 0, 0x7f, 3, 0, "CURVE" padded to 20, as-server 0,
 *             31 x 0 (64 bytes; the server sends its own, and HELLO
 *             follows once it has come)
 *   frame     flags (0x01 more, 0x02 long size, 0x04 command), size in
 *             1 or 8 bytes (network order), body
 *   HELLO     \x05HELLO 1 0, 72 x 0, C', nonce8, Box[64 x 0](C'->S)
 *   WELCOME   \x07WELCOME nonce16, Box[S' + cookie](S->C')
 *   INITIATE  \x08INITIATE cookie, nonce8,
 *             Box[C + vouch nonce16 + Box[C' + S](C->S') + metadata](C'->S')
 *   READY     \x05READY nonce8, Box[metadata](S'->C')
 *   ERROR     \x05ERROR len reason
 *   MESSAGE   \x07MESSAGE nonce8, Box[flags + data](C'<->S'), flags 0x01
 *             more, 0x02 command (PING / PONG heartbeats travel so)
 * Short nonces are big-endian counters: ours starts at 1 (HELLO), the
 * server's must grow strictly from READY's on. */
#include "zmtp.h"

#include "err.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

enum zmtp_state {
    ZS_CLOSED,     /* no fd */
    ZS_CONNECTING, /* TCP connect in progress */
    ZS_GREETING,   /* greeting sent, waiting for the server's */
    ZS_WELCOME,    /* waiting for WELCOME */
    ZS_READY,      /* INITIATE sent, waiting for READY */
    ZS_OPEN,       /* messages flow */
    ZS_FAILING,    /* failed: zmtp_next reports and closes */
};

enum {
    ZMTP_GREETING_LEN = 64,
    ZMTP_HEADER_MAX = 9, /* flags + 8-byte size */
    ZMTP_MSG_OVERHEAD = 8 + 8 + crypto_box_MACBYTES + 1, /* name, nonce,
                                                            MAC, flags */
    ZMTP_READ_CHUNK = 64 * 1024, /* read room beyond one frame */
    ZMTP_HANDSHAKE_MAX = 1024,   /* longest handshake command we accept */
};

_Static_assert(crypto_box_PUBLICKEYBYTES == ZMTP_KEY_LEN, "CURVE key size");
_Static_assert(crypto_box_BEFORENMBYTES == ZMTP_KEY_LEN, "box key size");

static void zmtp_put64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static uint64_t zmtp_get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

bool zmtp_ctx_init(struct zmtp_ctx *x, struct loop *l,
                   const uint8_t public_key[ZMTP_KEY_LEN],
                   const uint8_t secret_key[ZMTP_KEY_LEN], size_t max_message)
{
    memset(x, 0, sizeof(*x));
    if (sodium_init() < 0)
        return false;
    x->loop = l;
    memcpy(x->public_key, public_key, ZMTP_KEY_LEN);
    /* c is needed for every handshake (the vouch is boxed to the server's
     * short-term key, new each time: nothing to precompute), so it lives
     * for the context, but in one guarded place, closed between uses */
    x->secret_key = sodium_malloc(ZMTP_KEY_LEN);
    if (x->secret_key == NULL)
        return false;
    memcpy(x->secret_key, secret_key, ZMTP_KEY_LEN);
    sodium_mprotect_noaccess(x->secret_key);
    x->max_message = max_message;
    x->scratch_cap = max_message + ZMTP_MSG_OVERHEAD + ZMTP_HEADER_MAX;
    if (x->scratch_cap < ZMTP_HANDSHAKE_MAX + ZMTP_HEADER_MAX)
        x->scratch_cap = ZMTP_HANDSHAKE_MAX + ZMTP_HEADER_MAX;
    x->in_cap = x->scratch_cap + ZMTP_READ_CHUNK;
    x->in = xmalloc(x->in_cap);
    x->plain = xmalloc(x->scratch_cap);
    x->wire = xmalloc(x->scratch_cap);
    return true;
}

void zmtp_ctx_release(struct zmtp_ctx *x)
{
    sodium_free(x->secret_key); /* wipes it; NULL is a no-op */
    if (x->plain != NULL)
        sodium_memzero(x->plain, x->scratch_cap);
    free(x->in);
    free(x->plain);
    free(x->wire);
    memset(x, 0, sizeof(*x));
}

void zmtp_init(struct zmtp *z, struct zmtp_ctx *x, loop_io_fn *fn, void *arg)
{
    memset(z, 0, sizeof(*z));
    z->ctx = x;
    z->fd = -1;
    loop_io_init_fd(&z->io, -1, fn, arg);
}

bool zmtp_open(const struct zmtp *z)
{
    return z->state == ZS_OPEN;
}

size_t zmtp_buffered(const struct zmtp *z)
{
    return (z->rx ? z->rx_len : 0) + (z->tx ? z->tx_cap : 0);
}

/* Fail now (state FAILING): zmtp_next reports it. The first reason wins. */
static void zmtp_failing(struct zmtp *z, enum zmtp_fail why, const char *fmt,
                         ...) __attribute__((format(printf, 3, 4)));

static void zmtp_failing(struct zmtp *z, enum zmtp_fail why, const char *fmt,
                         ...)
{
    if (z->state == ZS_FAILING || z->state == ZS_CLOSED)
        return;
    z->fail = (uint8_t)why;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(z->detail, sizeof(z->detail), fmt, ap);
    va_end(ap);
    z->state = ZS_FAILING;
}

void zmtp_close(struct zmtp *z)
{
    if (z->fd >= 0) {
        loop_io_stop(z->ctx->loop, &z->io);
        close(z->fd);
        z->fd = -1;
    }
    if (z->ctx != NULL && z->ctx->in_owner == z) {
        z->ctx->in_owner = NULL;
        z->ctx->in_off = z->ctx->in_len = 0;
    }
    free(z->rx);
    z->rx = NULL;
    z->rx_len = 0;
    free(z->tx);
    z->tx = NULL;
    z->tx_off = z->tx_len = z->tx_cap = 0;
    sodium_memzero(z->cn_secret, sizeof(z->cn_secret));
    sodium_memzero(z->precom, sizeof(z->precom));
    z->eof = false;
    z->state = ZS_CLOSED;
}

/* --- writing ------------------------------------------------------------- */

static void zmtp_want(struct zmtp *z)
{
    if (z->fd < 0)
        return;
    unsigned ev = LOOP_READ;
    if (z->state == ZS_CONNECTING || z->tx_len > z->tx_off)
        ev |= LOOP_WRITE;
    if (ev != z->io.events)
        loop_io_set(z->ctx->loop, &z->io, ev);
}

static void zmtp_queue(struct zmtp *z, const uint8_t *p, size_t n)
{
    /* a peer that does not read (and PINGs, or streams output it wants
     * acknowledged) must not grow this without end */
    if (z->tx_len - z->tx_off + n > 2 * z->ctx->scratch_cap) {
        zmtp_failing(z, ZMTP_FAIL_PROTOCOL,
                     "the agent does not read what we send (%zu bytes wait)",
                     z->tx_len - z->tx_off);
        return;
    }
    if (z->tx_off > 0 && z->tx_off == z->tx_len)
        z->tx_off = z->tx_len = 0;
    if (z->tx_len + n > z->tx_cap) {
        if (z->tx_off > 0) {
            memmove(z->tx, z->tx + z->tx_off, z->tx_len - z->tx_off);
            z->tx_len -= z->tx_off;
            z->tx_off = 0;
        }
        if (z->tx_len + n > z->tx_cap) {
            size_t cap = z->tx_cap ? z->tx_cap : 4096;
            while (cap < z->tx_len + n)
                cap *= 2;
            z->tx = xrealloc(z->tx, cap);
            z->tx_cap = cap;
        }
    }
    memcpy(z->tx + z->tx_len, p, n);
    z->tx_len += n;
}

/* Send what waits; false once the connection failed. */
static bool zmtp_flush(struct zmtp *z)
{
    while (z->tx_len > z->tx_off) {
        ssize_t n =
            send(z->fd, z->tx + z->tx_off, z->tx_len - z->tx_off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n < 0) {
            zmtp_failing(
                z, z->state == ZS_OPEN ? ZMTP_FAIL_CLOSED : ZMTP_FAIL_CONNECT,
                "send: %s", strerror(errno));
            return false;
        }
        z->tx_off += (size_t)n;
    }
    if (z->tx_off == z->tx_len && z->tx != NULL) {
        free(z->tx); /* idle connections hold no buffer */
        z->tx = NULL;
        z->tx_off = z->tx_len = z->tx_cap = 0;
    }
    zmtp_want(z);
    return true;
}

/* Write bytes in order: directly when nothing waits, else after it. */
static void zmtp_write(struct zmtp *z, const uint8_t *p, size_t n)
{
    if (z->state == ZS_FAILING || z->fd < 0)
        return;
    if (z->tx_len == z->tx_off && z->state != ZS_CONNECTING) {
        ssize_t w;
        do
            w = send(z->fd, p, n, MSG_NOSIGNAL);
        while (w < 0 && errno == EINTR);
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            zmtp_failing(
                z, z->state == ZS_OPEN ? ZMTP_FAIL_CLOSED : ZMTP_FAIL_CONNECT,
                "send: %s", strerror(errno));
            return;
        }
        if (w > 0) {
            p += w;
            n -= (size_t)w;
        }
        if (n == 0)
            return;
    }
    zmtp_queue(z, p, n);
    if (z->state != ZS_FAILING)
        zmtp_want(z);
}

/* A frame header for a body of n bytes into h; returns its length. */
static size_t zmtp_header(uint8_t *h, size_t n, bool command)
{
    uint8_t flags = command ? 0x04 : 0x00;
    if (n <= 255) {
        h[0] = flags;
        h[1] = (uint8_t)n;
        return 2;
    }
    h[0] = flags | 0x02;
    zmtp_put64(h + 1, n);
    return 9;
}

static void zmtp_write_command(struct zmtp *z, const uint8_t *body, size_t n)
{
    uint8_t h[ZMTP_HEADER_MAX];
    size_t hn = zmtp_header(h, n, true);
    zmtp_write(z, h, hn);
    zmtp_write(z, body, n);
}

/* Encrypt flags + data as a MESSAGE and write it. */
static bool zmtp_send_flags(struct zmtp *z, uint8_t flags, const void *data,
                            size_t len)
{
    struct zmtp_ctx *x = z->ctx;
    if (z->state != ZS_OPEN || len > x->max_message)
        return false;
    size_t body = ZMTP_MSG_OVERHEAD + len;
    uint8_t *w = x->wire;
    size_t hn = zmtp_header(w, body, false);
    uint8_t *b = w + hn;
    memcpy(b, "\x07MESSAGE", 8);
    uint8_t nonce[crypto_box_NONCEBYTES];
    memcpy(nonce, "CurveZMQMESSAGEC", 16);
    zmtp_put64(nonce + 16, z->nonce);
    memcpy(b + 8, nonce + 16, 8);
    /* plaintext where the ciphertext goes: libsodium boxes in place */
    uint8_t *c = b + 16;
    uint8_t *m = c + crypto_box_MACBYTES;
    m[0] = flags;
    if (len > 0)
        memmove(m + 1, data, len);
    crypto_box_easy_afternm(c, m, len + 1, nonce, z->precom);
    z->nonce++;
    zmtp_write(z, w, hn + body);
    return z->state == ZS_OPEN;
}

bool zmtp_send(struct zmtp *z, const void *msg, size_t len)
{
    return zmtp_send_flags(z, 0x00, msg, len);
}

/* --- connecting ---------------------------------------------------------- */

bool zmtp_connect(struct zmtp *z, const struct sockaddr *addr,
                  socklen_t addrlen, const uint8_t server_key[ZMTP_KEY_LEN])
{
    zmtp_close(z);
    z->fail = ZMTP_FAIL_NONE;
    z->ending = ZMTP_END_NONE;
    z->detail[0] = '\0';
    int fd =
        socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        z->fail = ZMTP_FAIL_CONNECT;
        snprintf(z->detail, sizeof(z->detail), "socket: %s", strerror(errno));
        return false;
    }
    int one = 1, idle = 30, intvl = 10;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
    if (connect(fd, addr, addrlen) != 0 && errno != EINPROGRESS) {
        z->fail = ZMTP_FAIL_CONNECT;
        snprintf(z->detail, sizeof(z->detail), "connect: %s", strerror(errno));
        close(fd);
        return false;
    }
    zmtp_attach(z, fd, server_key);
    return true;
}

void zmtp_attach(struct zmtp *z, int fd, const uint8_t server_key[ZMTP_KEY_LEN])
{
    if (z->fd != fd)
        zmtp_close(z);
    z->fd = fd;
    memcpy(z->server_key, server_key, ZMTP_KEY_LEN);
    z->nonce = 1;
    z->peer_nonce = 0;
    z->state = ZS_CONNECTING;
    z->io.fd = fd;
    loop_io_start(z->ctx->loop, &z->io, LOOP_READ | LOOP_WRITE);
}

/* TCP is up: our greeting. */
static void zmtp_greet(struct zmtp *z)
{
    uint8_t g[ZMTP_GREETING_LEN] = {0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0x7f, 3, 0};
    memcpy(g + 12, "CURVE", 5);
    z->state = ZS_GREETING;
    zmtp_write(z, g, sizeof(g));
}

/* The server's greeting says CURVE: HELLO. Sent only now (as libzmq does),
 * so a server that drops us after it can only be one that could not open
 * it, and a server of another mechanism never sees it. */
static void zmtp_hello(struct zmtp *z)
{
    z->state = ZS_WELCOME;
    crypto_box_keypair(z->cn_public, z->cn_secret);
    /* C'/S is the box key of HELLO and WELCOME: compute it once */
    if (crypto_box_beforenm(z->precom, z->server_key, z->cn_secret) != 0) {
        zmtp_failing(z, ZMTP_FAIL_KEY, "the pinned key is not a CURVE key");
        return;
    }
    uint8_t hello[200];
    memcpy(hello, "\x05HELLO\x01\x00", 8);
    memset(hello + 8, 0, 72);
    memcpy(hello + 80, z->cn_public, 32);
    uint8_t nonce[crypto_box_NONCEBYTES];
    memcpy(nonce, "CurveZMQHELLO---", 16);
    zmtp_put64(nonce + 16, z->nonce++);
    memcpy(hello + 112, nonce + 16, 8);
    uint8_t zero[64] = {0};
    crypto_box_easy_afternm(hello + 120, zero, sizeof(zero), nonce, z->precom);
    zmtp_write_command(z, hello, sizeof(hello));
}

static size_t zmtp_property(uint8_t *p, const char *name, const char *value)
{
    size_t nl = strlen(name), vl = strlen(value);
    p[0] = (uint8_t)nl;
    memcpy(p + 1, name, nl);
    p[1 + nl] = (uint8_t)(vl >> 24);
    p[2 + nl] = (uint8_t)(vl >> 16);
    p[3 + nl] = (uint8_t)(vl >> 8);
    p[4 + nl] = (uint8_t)vl;
    memcpy(p + 5 + nl, value, vl);
    return 5 + nl + vl;
}

static void zmtp_welcome(struct zmtp *z, const uint8_t *b, size_t n)
{
    if (n != 168 || memcmp(b, "\x07WELCOME", 8) != 0) {
        zmtp_failing(z, ZMTP_FAIL_PROTOCOL,
                     "expected WELCOME, got a %zu-byte command", n);
        return;
    }
    uint8_t nonce[crypto_box_NONCEBYTES];
    memcpy(nonce, "WELCOME-", 8);
    memcpy(nonce + 8, b + 8, 16);
    uint8_t plain[128]; /* S' + cookie */
    if (crypto_box_open_easy_afternm(plain, b + 24, 144, nonce, z->precom) !=
        0) {
        zmtp_failing(z, ZMTP_FAIL_KEY,
                     "WELCOME does not open with the pinned key");
        z->ending = ZMTP_END_HELLO_BOX;
        return;
    }
    const uint8_t *server_cn = plain, *cookie = plain + 32;

    /* vouch = Box[C' + S](C->S') */
    uint8_t vnonce[crypto_box_NONCEBYTES], vplain[64], vouch[80];
    memcpy(vnonce, "VOUCH---", 8);
    randombytes_buf(vnonce + 8, 16);
    memcpy(vplain, z->cn_public, 32);
    memcpy(vplain + 32, z->server_key, 32);
    sodium_mprotect_readonly(z->ctx->secret_key);
    int bad = crypto_box_easy(vouch, vplain, sizeof(vplain), vnonce, server_cn,
                              z->ctx->secret_key);
    sodium_mprotect_noaccess(z->ctx->secret_key);
    if (bad != 0 ||
        crypto_box_beforenm(z->precom, server_cn, z->cn_secret) != 0) {
        /* the WELCOME opened: the pinned server sent a weak key */
        zmtp_failing(z, ZMTP_FAIL_PROTOCOL,
                     "the server's short-term key is bad");
        return;
    }
    sodium_memzero(z->cn_secret, sizeof(z->cn_secret));

    /* Box[C + vouch nonce + vouch + metadata](C'->S') */
    uint8_t ip[32 + 16 + 80 + 64];
    size_t in = 0;
    memcpy(ip, z->ctx->public_key, 32);
    memcpy(ip + 32, vnonce + 8, 16);
    memcpy(ip + 48, vouch, 80);
    in = 128;
    in += zmtp_property(ip + in, "Socket-Type", "DEALER");
    in += zmtp_property(ip + in, "Identity", "");
    uint8_t init[9 + 96 + 8 + crypto_box_MACBYTES + sizeof(ip)];
    memcpy(init, "\x08INITIATE", 9);
    memcpy(init + 9, cookie, 96);
    uint8_t inonce[crypto_box_NONCEBYTES];
    memcpy(inonce, "CurveZMQINITIATE", 16);
    zmtp_put64(inonce + 16, z->nonce++);
    memcpy(init + 105, inonce + 16, 8);
    crypto_box_easy_afternm(init + 113, ip, in, inonce, z->precom);
    sodium_memzero(plain, sizeof(plain));
    z->state = ZS_READY;
    zmtp_write_command(z, init, 113 + crypto_box_MACBYTES + in);
}

/* An ERROR command ("\x05ERROR": written as bytes, since "\x05E" would
 * be one hex escape). */
static bool zmtp_is_error(const uint8_t *b, size_t n)
{
    static const uint8_t name[6] = {5, 'E', 'R', 'R', 'O', 'R'};
    return n >= sizeof(name) && memcmp(b, name, sizeof(name)) == 0;
}

/* The ERROR command, in place of WELCOME or after INITIATE: unboxed, so
 * anyone on the path may have sent it. */
static void zmtp_error_command(struct zmtp *z, const uint8_t *b, size_t n)
{
    char reason[64];
    size_t rl = n > 6 ? b[6] : 0;
    if (rl > n - 7 || n < 7)
        rl = n > 7 ? n - 7 : 0;
    if (rl >= sizeof(reason))
        rl = sizeof(reason) - 1;
    for (size_t i = 0; i < rl; i++)
        reason[i] = b[7 + i] >= 0x20 && b[7 + i] < 0x7f ? (char)b[7 + i] : '?';
    reason[rl] = '\0';
    bool hello = z->state == ZS_WELCOME;
    zmtp_failing(z, hello ? ZMTP_FAIL_KEY : ZMTP_FAIL_AUTH, "ERROR %s%s",
                 reason, hello ? " in place of WELCOME" : " after INITIATE");
    z->ending = hello ? ZMTP_END_HELLO_ERROR : ZMTP_END_INITIATE_ERROR;
}

/* READY's metadata must say the server is a ROUTER (an agent). */
static bool zmtp_metadata_router(const uint8_t *p, size_t n)
{
    while (n > 0) {
        size_t nl = p[0];
        if (1 + nl + 4 > n)
            return false;
        const uint8_t *name = p + 1;
        size_t vl = (size_t)p[1 + nl] << 24 | (size_t)p[2 + nl] << 16 |
                    (size_t)p[3 + nl] << 8 | p[4 + nl];
        if (vl > n - 5 - nl)
            return false;
        const uint8_t *value = p + 5 + nl;
        if (nl == 11 && strncasecmp((const char *)name, "Socket-Type", 11) == 0)
            return vl == 6 && memcmp(value, "ROUTER", 6) == 0;
        p += 5 + nl + vl;
        n -= 5 + nl + vl;
    }
    return false;
}

static bool zmtp_ready(struct zmtp *z, const uint8_t *b, size_t n)
{
    if (n < 14 + crypto_box_MACBYTES || n > ZMTP_HANDSHAKE_MAX ||
        memcmp(b, "\x05READY", 6) != 0) {
        zmtp_failing(z, ZMTP_FAIL_PROTOCOL,
                     "expected READY, got a %zu-byte command", n);
        return false;
    }
    uint8_t nonce[crypto_box_NONCEBYTES];
    memcpy(nonce, "CurveZMQREADY---", 16);
    memcpy(nonce + 16, b + 6, 8);
    uint8_t plain[ZMTP_HANDSHAKE_MAX];
    size_t pn = n - 14 - crypto_box_MACBYTES;
    if (crypto_box_open_easy_afternm(plain, b + 14, n - 14, nonce, z->precom) !=
        0) {
        zmtp_failing(z, ZMTP_FAIL_PROTOCOL, "READY does not open");
        return false;
    }
    if (!zmtp_metadata_router(plain, pn)) {
        zmtp_failing(z, ZMTP_FAIL_PROTOCOL,
                     "the server is not a ROUTER socket (not a drover-agent)");
        return false;
    }
    z->peer_nonce = zmtp_get64(b + 6);
    z->state = ZS_OPEN;
    return true;
}

/* --- reading ------------------------------------------------------------- */

/* Give the shared read buffer back: its owner keeps its unparsed bytes in
 * a block of its own. Also when a nested turn of the loop reads another
 * connection in the middle of the owner's zmtp_next() calls. */
static void zmtp_stash(struct zmtp_ctx *x)
{
    struct zmtp *o = x->in_owner;
    if (o == NULL)
        return;
    size_t left = x->in_len - x->in_off;
    if (left > 0) {
        uint8_t *rx = xmalloc(o->rx_len + left);
        if (o->rx_len > 0)
            memcpy(rx, o->rx, o->rx_len);
        memcpy(rx + o->rx_len, x->in + x->in_off, left);
        free(o->rx);
        o->rx = rx;
        o->rx_len += left;
    }
    x->in_owner = NULL;
    x->in_off = x->in_len = 0;
}

/* Take the shared read buffer, starting with z's own unparsed bytes. */
static void zmtp_take(struct zmtp *z)
{
    struct zmtp_ctx *x = z->ctx;
    zmtp_stash(x);
    x->in_owner = z;
    if (z->rx != NULL) {
        memcpy(x->in, z->rx, z->rx_len);
        x->in_len = z->rx_len;
        free(z->rx);
        z->rx = NULL;
        z->rx_len = 0;
    }
}

void zmtp_io(struct zmtp *z, unsigned revents)
{
    struct zmtp_ctx *x = z->ctx;
    if (z->fd < 0 || z->state == ZS_FAILING)
        return;
    if (z->state == ZS_CONNECTING) {
        if (!(revents & (LOOP_WRITE | LOOP_ERROR | LOOP_READ)))
            return;
        int err = 0;
        socklen_t el = sizeof(err);
        if (getsockopt(z->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0)
            err = errno;
        if (err != 0) {
            zmtp_failing(z, ZMTP_FAIL_CONNECT, "connect: %s", strerror(err));
            return;
        }
        zmtp_greet(z);
        if (z->state == ZS_FAILING)
            return;
        zmtp_want(z);
    }
    if ((revents & LOOP_WRITE) && !zmtp_flush(z))
        return;
    if (!(revents & (LOOP_READ | LOOP_ERROR)))
        return;

    /* our partial frame first, then what the socket has */
    zmtp_take(z);
    while (x->in_len < x->in_cap) {
        ssize_t n = recv(z->fd, x->in + x->in_len, x->in_cap - x->in_len, 0);
        if (n > 0) {
            x->in_len += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        z->eof = true; /* reported once the frames before it are read */
        if (n < 0)
            snprintf(z->detail, sizeof(z->detail), "%s", strerror(errno));
        else
            snprintf(z->detail, sizeof(z->detail), "closed by the agent");
        break;
    }
}

/* Parse one frame from x->in; false if it is not all there. */
static bool zmtp_frame(struct zmtp *z, const uint8_t **body, size_t *n,
                       bool *command)
{
    struct zmtp_ctx *x = z->ctx;
    const uint8_t *p = x->in + x->in_off;
    size_t avail = x->in_len - x->in_off;
    if (avail < 2)
        return false;
    uint8_t flags = p[0];
    size_t hn = (flags & 0x02) ? 9 : 2;
    if (avail < hn)
        return false;
    uint64_t size = (flags & 0x02) ? zmtp_get64(p + 1) : p[1];
    /* before READY only handshake commands: nobody we have not
     * authenticated makes us hold a message-sized partial frame */
    uint64_t max = z->state == ZS_OPEN ? x->scratch_cap - ZMTP_HEADER_MAX
                                       : ZMTP_HANDSHAKE_MAX;
    if ((flags & 0xf8) != 0 || size > max) {
        zmtp_failing(z, ZMTP_FAIL_PROTOCOL,
                     "bad frame (flags 0x%02x, %llu bytes)", flags,
                     (unsigned long long)size);
        return false;
    }
    if (avail - hn < size)
        return false;
    if (flags & 0x01) {
        zmtp_failing(z, ZMTP_FAIL_PROTOCOL, "multi-part frame");
        return false;
    }
    *body = p + hn;
    *n = (size_t)size;
    *command = (flags & 0x04) != 0;
    x->in_off += hn + (size_t)size;
    return true;
}

/* A MESSAGE while open: returns true with a message for the owner. */
static bool zmtp_message(struct zmtp *z, const uint8_t *b, size_t n,
                         const uint8_t **msg, size_t *len)
{
    struct zmtp_ctx *x = z->ctx;
    if (n < ZMTP_MSG_OVERHEAD || memcmp(b, "\x07MESSAGE", 8) != 0) {
        zmtp_failing(z, ZMTP_FAIL_PROTOCOL, "expected MESSAGE, got %zu bytes",
                     n);
        return false;
    }
    uint64_t sn = zmtp_get64(b + 8);
    if (sn <= z->peer_nonce) {
        zmtp_failing(z, ZMTP_FAIL_PROTOCOL, "replayed nonce");
        return false;
    }
    uint8_t nonce[crypto_box_NONCEBYTES];
    memcpy(nonce, "CurveZMQMESSAGES", 16);
    memcpy(nonce + 16, b + 8, 8);
    if (crypto_box_open_easy_afternm(x->plain, b + 16, n - 16, nonce,
                                     z->precom) != 0) {
        zmtp_failing(z, ZMTP_FAIL_PROTOCOL, "a MESSAGE does not open");
        return false;
    }
    z->peer_nonce = sn;
    size_t pn = n - 16 - crypto_box_MACBYTES;
    uint8_t flags = x->plain[0];
    if (flags & ~0x03) {
        zmtp_failing(z, ZMTP_FAIL_PROTOCOL,
                     "a MESSAGE with reserved flag bits (0x%02x)", flags);
        return false;
    }
    if (flags & 0x01) {
        zmtp_failing(z, ZMTP_FAIL_PROTOCOL, "multi-part message");
        return false;
    }
    if (flags & 0x02) { /* a command: answer PING, ignore the rest */
        const uint8_t *c = x->plain + 1;
        size_t cn = pn - 1;
        if (cn >= 7 && memcmp(c, "\x04PING", 5) == 0 &&
            z->tx_len == z->tx_off) { /* one PONG is as good as many */
            size_t ctxn = cn - 7 > 16 ? 16 : cn - 7;
            uint8_t pong[5 + 16];
            memcpy(pong, "\x04PONG", 5);
            memcpy(pong + 5, c + 7, ctxn);
            zmtp_send_flags(z, 0x02, pong, 5 + ctxn);
        }
        return false;
    }
    *msg = x->plain + 1;
    *len = pn - 1;
    return true;
}

/* What the connection's end means, by the state it ended in. */
static void zmtp_eof(struct zmtp *z)
{
    char why[96];
    snprintf(why, sizeof(why), "%s", z->detail);
    switch (z->state) {
    case ZS_WELCOME:
        zmtp_failing(z, ZMTP_FAIL_KEY, "%s after our HELLO", why);
        z->ending = ZMTP_END_HELLO_CLOSE;
        break;
    case ZS_READY:
        zmtp_failing(z, ZMTP_FAIL_AUTH, "%s after INITIATE", why);
        z->ending = ZMTP_END_INITIATE_CLOSE;
        break;
    case ZS_OPEN:
        zmtp_failing(z, ZMTP_FAIL_CLOSED, "%s", why);
        break;
    default:
        zmtp_failing(z, ZMTP_FAIL_CONNECT, "%s", why);
        break;
    }
}

enum zmtp_event zmtp_next(struct zmtp *z, const uint8_t **msg, size_t *len)
{
    struct zmtp_ctx *x = z->ctx;
    if (x->in_owner == NULL && z->rx != NULL &&
        (z->state == ZS_GREETING || z->state == ZS_WELCOME ||
         z->state == ZS_READY || z->state == ZS_OPEN))
        zmtp_take(z); /* a nested turn stashed our bytes: go on with them */
    bool mine = x->in_owner == z;
    while (z->state != ZS_FAILING && z->state != ZS_CLOSED && mine) {
        if (z->state == ZS_GREETING) {
            if (x->in_len - x->in_off < ZMTP_GREETING_LEN)
                break;
            const uint8_t *g = x->in + x->in_off;
            x->in_off += ZMTP_GREETING_LEN;
            if (g[0] != 0xff || g[9] != 0x7f || g[10] < 3 ||
                memcmp(g + 12, "CURVE\0", 6) != 0) {
                zmtp_failing(z, ZMTP_FAIL_PROTOCOL,
                             "not a ZMTP 3 CURVE server (an agent's port?)");
                break;
            }
            zmtp_hello(z);
            continue;
        }
        const uint8_t *b;
        size_t n;
        bool command;
        if (!zmtp_frame(z, &b, &n, &command))
            break;
        switch (z->state) {
        case ZS_WELCOME:
            if (!command)
                zmtp_failing(z, ZMTP_FAIL_PROTOCOL,
                             "a message before the handshake");
            else if (zmtp_is_error(b, n))
                zmtp_error_command(z, b, n);
            else
                zmtp_welcome(z, b, n);
            break;
        case ZS_READY:
            if (!command)
                zmtp_failing(z, ZMTP_FAIL_PROTOCOL, "a message before READY");
            else if (zmtp_is_error(b, n))
                zmtp_error_command(z, b, n);
            else if (zmtp_ready(z, b, n))
                return ZMTP_READY;
            break;
        case ZS_OPEN:
            if (command) /* libzmq sends none after READY; an ERROR here
                            would be unboxed, from anyone on the path */
                zmtp_failing(z, ZMTP_FAIL_PROTOCOL,
                             "a command frame after READY (%zu bytes)", n);
            else if (zmtp_message(z, b, n, msg, len))
                return ZMTP_MESSAGE;
            break;
        default:
            break;
        }
    }
    if (z->state != ZS_FAILING && z->state != ZS_CLOSED) {
        if (mine)
            zmtp_stash(x); /* keep a partial frame for the next read */
        if (z->eof && x->in_owner == NULL)
            zmtp_eof(z);
    }
    if (z->state == ZS_FAILING) {
        zmtp_close(z);
        return ZMTP_FAILED;
    }
    return ZMTP_NONE;
}
