/* coordinator/zmtp.h: the coordinator's side of a connection to a
 * drover-agent: a ZMTP 3.0 client speaking the CURVE mechanism (ZeroMQ
 * RFC 23 and RFC 26, as libzmq 4.3 does), as a DEALER to the agent's
 * ROUTER, one non-blocking TCP connection per agent, on the loop.
 *
 * Why not a libzmq socket: libzmq gives every connection a session, two
 * message pipes (each a 16 KB block of 256 messages) and an 8 KB decoder
 * buffer: tens of KB of resident memory per agent before drover's own
 * state (measured: docs/agent.md). This client keeps the handshake keys
 * and the precomputed box key inline (about 200 bytes), and buffers only
 * what the kernel did not take or a partial frame, in blocks freed once
 * drained. The agent side stays libzmq (ZAP, CURVE server, ROUTER).
 *
 * Pull style: the owner's io callback calls zmtp_io() with the events, then
 * zmtp_next() until it returns ZMTP_NONE or ZMTP_FAILED. zmtp_next() may
 * return a message that points into a buffer shared by every connection of
 * the context: it is valid until the next zmtp_* call on any of them. The
 * owner may close (or free) the connection between two zmtp_next() calls:
 * it then simply stops calling. */
#ifndef DROVER_ZMTP_H
#define DROVER_ZMTP_H

#include "loop.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum { ZMTP_KEY_LEN = 32 };

/* Why a connection ended. */
enum zmtp_fail {
    ZMTP_FAIL_NONE,
    ZMTP_FAIL_CONNECT,  /* TCP refused, reset or closed before the CURVE
                           handshake got going: worth retrying */
    ZMTP_FAIL_KEY,      /* after our HELLO: an ERROR, a WELCOME that does
                           not open, or a close (zmtp.ending says which),
                           as from a server that does not hold the secret
                           of the pinned key; or (ending NONE) the pinned
                           key is no CURVE key at all */
    ZMTP_FAIL_AUTH,     /* after our INITIATE: an ERROR or a close, as from
                           a server that refuses our key */
    ZMTP_FAIL_PROTOCOL, /* malformed frame, bad box, replayed nonce,
                           oversized or multi-part message, reserved flag
                           bits, anything but a MESSAGE data frame after
                           READY, a peer that does not read what we send */
    ZMTP_FAIL_CLOSED,   /* closed or reset after the handshake */
};

/* How a KEY or AUTH ending came about. None of it is authenticated (only
 * READY's box is): anyone on the path can send an ERROR, bytes that do
 * not open, or a reset, so an ending is a suspicion, for the owner to
 * believe only when the same one repeats (docs/agent.md). */
enum zmtp_ending {
    ZMTP_END_NONE,           /* not such an ending */
    ZMTP_END_HELLO_ERROR,    /* an ERROR in place of WELCOME */
    ZMTP_END_HELLO_BOX,      /* a WELCOME that does not open with the
                                pinned key */
    ZMTP_END_HELLO_CLOSE,    /* closed after our HELLO (libzmq's answer to a
                                HELLO it cannot open; a restart too) */
    ZMTP_END_INITIATE_ERROR, /* an ERROR after our INITIATE (libzmq's ZAP
                                refusal) */
    ZMTP_END_INITIATE_CLOSE, /* closed after our INITIATE */
};

/* What zmtp_next() found. */
enum zmtp_event {
    ZMTP_FAILED = -1, /* the connection is closed: see zmtp.fail/detail */
    ZMTP_NONE = 0,    /* nothing more until the next zmtp_io() */
    ZMTP_MESSAGE = 1, /* a message (single part) */
    ZMTP_READY = 2,   /* the handshake is done: the server took our key */
};

/* Shared by every connection: the loop, our long-term key pair, limits
 * and the scratch buffers. */
struct zmtp_ctx {
    struct loop *loop;                /* the reactor */
    uint8_t public_key[ZMTP_KEY_LEN]; /* C */
    uint8_t *secret_key;              /* c: the only copy, in a page of its
                                         own (sodium_malloc: locked, out of
                                         core dumps, guarded), readable only
                                         while a vouch is boxed, wiped and
                                         freed by zmtp_ctx_release */
    size_t max_message;               /* longest message either way */
    uint8_t *in;                      /* read buffer */
    size_t in_cap;                    /* its size */
    uint8_t *plain;                   /* decrypted message / plaintext */
    uint8_t *wire;                    /* an encoded frame */
    size_t scratch_cap;               /* size of plain and wire */
    struct zmtp *in_owner;            /* whose bytes are in `in` */
    size_t in_off, in_len;            /* unparsed bytes in `in` */
};

/* One connection, embedded in its owner. */
struct zmtp {
    struct zmtp_ctx *ctx;             /* shared part */
    int fd;                           /* the socket, -1 when closed */
    struct loop_io io;                /* fd on the loop */
    uint8_t state;                    /* see zmtp.c */
    uint8_t fail;                     /* enum zmtp_fail of the last end */
    bool eof;                         /* the peer closed: report after
                                         the frames before it */
    uint8_t ending;                   /* enum zmtp_ending of a KEY/AUTH fail */
    uint8_t server_key[ZMTP_KEY_LEN]; /* S, pinned */
    uint8_t cn_public[ZMTP_KEY_LEN];  /* C', this connection's */
    uint8_t cn_secret[ZMTP_KEY_LEN];  /* c' (wiped after INITIATE) */
    uint8_t precom[ZMTP_KEY_LEN];     /* box key C'/S' once welcomed */
    uint64_t nonce;                   /* our next short nonce */
    uint64_t peer_nonce;              /* the server's last short nonce */
    uint8_t *rx;                      /* a partial frame kept between
                                         reads, NULL when none */
    size_t rx_len;                    /* bytes in rx */
    uint8_t *tx;                      /* bytes the kernel did not take */
    size_t tx_off, tx_len, tx_cap;    /* tx[tx_off..tx_len) unsent */
    char detail[96];                  /* the failure, in words */
};

/* Set up ctx; keys are copied (the caller wipes its copy of the secret).
 * Returns false if libsodium cannot start or lock memory for the key. */
bool zmtp_ctx_init(struct zmtp_ctx *x, struct loop *l,
                   const uint8_t public_key[ZMTP_KEY_LEN],
                   const uint8_t secret_key[ZMTP_KEY_LEN], size_t max_message);
void zmtp_ctx_release(struct zmtp_ctx *x);

/* A closed connection. fn/arg are the owner's io callback for the fd. */
void zmtp_init(struct zmtp *z, struct zmtp_ctx *x, loop_io_fn *fn, void *arg);

/* Connect to addr and start the handshake with server_key pinned. On a
 * local failure (no fd left, bad address) returns false with z->fail and
 * z->detail set; the connection stays closed. */
bool zmtp_connect(struct zmtp *z, const struct sockaddr *addr,
                  socklen_t addrlen, const uint8_t server_key[ZMTP_KEY_LEN]);

/* Take over fd, a connected stream socket, as if zmtp_connect had just
 * reached the server (fuzzing and tests: one end of a socketpair). */
void zmtp_attach(struct zmtp *z, int fd,
                 const uint8_t server_key[ZMTP_KEY_LEN]);

/* Handle the fd's events (from the owner's io callback): finish the TCP
 * connect, send what waits, read what came. Then call zmtp_next(). */
void zmtp_io(struct zmtp *z, unsigned revents);

/* The next thing that happened; see enum zmtp_event. */
enum zmtp_event zmtp_next(struct zmtp *z, const uint8_t **msg, size_t *len);

/* Send one message (only once ZMTP_READY came). False if the connection is
 * not open or the message is over max_message. */
bool zmtp_send(struct zmtp *z, const void *msg, size_t len);

/* Open (handshake done) right now. */
bool zmtp_open(const struct zmtp *z);

/* Close the connection (idempotent); keys of the connection are wiped. */
void zmtp_close(struct zmtp *z);

/* Bytes held for this connection outside the kernel (tests, bench). */
size_t zmtp_buffered(const struct zmtp *z);

#endif
