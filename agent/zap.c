/* agent/zap.c: ZAP (ZeroMQ RFC 27) over a REP socket on the loop. Each
 * request names the mechanism and, for CURVE, the client's long-term
 * public key; the reply's user id (the key in Z85) comes back on every
 * message from that client as the "User-Id" property. */
#include "zap.h"

#include "clock.h"
#include "log.h"
#include "loop.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

enum { ZAP_FRAMES = 6 }; /* version, id, domain, address, identity, mech */

struct zap {
    struct loop *loop;                 /* the reactor */
    void *sock;                        /* REP on inproc://zeromq.zap.01 */
    struct loop_io io;                 /* sock on the loop */
    const struct keyfile_set *allowed; /* coordinator keys (borrowed) */
    uint64_t accepted;                 /* 200 answers */
    uint64_t refused;                  /* 400 answers */
    bool selftest;                     /* a refusal is expected: quiet */
};

static void zap_reply(struct zap *z, const zmq_msg_t *id, const char *code,
                      const char *text, const char *user)
{
    zmq_send(z->sock, "1.0", 3, ZMQ_SNDMORE);
    zmq_send(z->sock, zmq_msg_data((zmq_msg_t *)id),
             zmq_msg_size((zmq_msg_t *)id), ZMQ_SNDMORE);
    zmq_send(z->sock, code, strlen(code), ZMQ_SNDMORE);
    zmq_send(z->sock, text, strlen(text), ZMQ_SNDMORE);
    zmq_send(z->sock, user, strlen(user), ZMQ_SNDMORE);
    zmq_send(z->sock, "", 0, 0);
}

/* Read one request (all its frames) and answer it. */
static void zap_handle(struct zap *z)
{
    zmq_msg_t f[ZAP_FRAMES + 2];
    size_t n = 0;
    int more = 1;
    while (more) {
        zmq_msg_t tmp;
        zmq_msg_init(&tmp);
        if (zmq_msg_recv(&tmp, z->sock, n == 0 ? ZMQ_DONTWAIT : 0) < 0) {
            zmq_msg_close(&tmp);
            for (size_t i = 0; i < n; i++)
                zmq_msg_close(&f[i]);
            return;
        }
        more = zmq_msg_more(&tmp);
        if (n < ZAP_FRAMES + 2)
            f[n++] = tmp;
        else
            zmq_msg_close(&tmp);
    }
    char addr[64] = "?";
    const char *code = "400", *text = "key not authorized";
    char user[KEYFILE_Z85_LEN + 1] = "";
    char domain[32] = "";
    if (n >= 4) {
        size_t an = zmq_msg_size(&f[3]);
        if (an >= sizeof(addr))
            an = sizeof(addr) - 1;
        memcpy(addr, zmq_msg_data(&f[3]), an);
        addr[an] = '\0';
    }
    if (n != ZAP_FRAMES + 1 || zmq_msg_size(&f[0]) != 3 ||
        memcmp(zmq_msg_data(&f[0]), "1.0", 3) != 0) {
        text = "malformed ZAP request";
    } else if (zmq_msg_size(&f[5]) != 5 ||
               memcmp(zmq_msg_data(&f[5]), "CURVE", 5) != 0) {
        text = "only CURVE is accepted";
    } else if (zmq_msg_size(&f[6]) != KEYFILE_BIN_LEN) {
        text = "malformed CURVE credentials";
    } else {
        size_t dn = zmq_msg_size(&f[2]);
        if (dn < sizeof(domain)) {
            memcpy(domain, zmq_msg_data(&f[2]), dn);
            domain[dn] = '\0';
        }
        const uint8_t *key = zmq_msg_data(&f[6]);
        zmq_z85_encode(user, key, KEYFILE_BIN_LEN);
        if (keyfile_set_has(z->allowed, key)) {
            code = "200";
            text = "OK";
        }
    }
    if (code[0] == '2') {
        z->accepted++;
        log_debug("zap: accepted coordinator key %.8s... from %s", user, addr);
    } else if (z->selftest) {
        z->refused++;
        log_debug("zap: self-test client refused as it must be");
        user[0] = '\0';
    } else {
        z->refused++;
        log_warn("zap: refused %s from %s: %s; add the key to "
                 "authorized_keys to allow it",
                 user[0] ? user : "(no key)", addr, text);
        user[0] = '\0';
    }
    /* the request id frame is echoed; with fewer frames there is none */
    /* the user id names the key and the domain (which agent of the
     * process): agentd routes on it */
    char uid[KEYFILE_Z85_LEN + sizeof(domain) + 2] = "";
    if (user[0] != '\0')
        snprintf(uid, sizeof(uid), "%s %s", user, domain);
    if (n >= 2)
        zap_reply(z, &f[1], code, text, uid);
    for (size_t i = 0; i < n; i++)
        zmq_msg_close(&f[i]);
}

static void zap_ready(struct loop *l, struct loop_io *io, unsigned ev,
                      void *arg)
{
    (void)l;
    (void)io;
    (void)ev;
    struct zap *z = arg;
    for (;;) {
        int events = 0;
        size_t len = sizeof(events);
        if (zmq_getsockopt(z->sock, ZMQ_EVENTS, &events, &len) != 0 ||
            !(events & ZMQ_POLLIN))
            return;
        zap_handle(z);
    }
}

struct zap *zap_new(struct loop *l, void *zctx,
                    const struct keyfile_set *allowed, struct err *e)
{
    struct zap *z = xcalloc(1, sizeof(*z));
    z->allowed = allowed;
    z->loop = l;
    z->sock = zmq_socket(zctx, ZMQ_REP);
    int linger = 0;
    if (z->sock == NULL ||
        zmq_setsockopt(z->sock, ZMQ_LINGER, &linger, sizeof(linger)) != 0 ||
        zmq_bind(z->sock, "inproc://zeromq.zap.01") != 0) {
        err_set(e, ERR_SYS, "zap: bind inproc://zeromq.zap.01: %s",
                zmq_strerror(errno));
        zap_free(z);
        return NULL;
    }
    loop_io_init_sock(&z->io, z->sock, zap_ready, z);
    loop_io_start(l, &z->io, LOOP_READ);
    return z;
}

void zap_free(struct zap *z)
{
    if (z == NULL)
        return;
    loop_io_stop(z->loop, &z->io);
    if (z->sock != NULL)
        zmq_close(z->sock);
    free(z);
}

uint64_t zap_accepted(const struct zap *z)
{
    return z->accepted;
}

uint64_t zap_refused(const struct zap *z)
{
    return z->refused;
}

enum err_code zap_selftest(struct zap *z, struct loop *l, void *zctx,
                           const char *endpoint, const char *server_z85,
                           struct err *e)
{
    char pub[KEYFILE_Z85_LEN + 1], sec[KEYFILE_Z85_LEN + 1];
    if (zmq_curve_keypair(pub, sec) != 0)
        return err_set(e, ERR_SYS, "zap self-test: no CURVE support: %s",
                       zmq_strerror(errno));
    void *s = zmq_socket(zctx, ZMQ_DEALER);
    int linger = 0, hs = 2000;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(s, ZMQ_HANDSHAKE_IVL, &hs, sizeof(hs));
    zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server_z85, KEYFILE_Z85_LEN + 1);
    zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, pub, sizeof(pub));
    zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, sec, sizeof(sec));
    explicit_bzero(sec, sizeof(sec));
    uint64_t refused = z->refused, accepted = z->accepted;
    enum err_code rc = ERR_OK;
    if (zmq_connect(s, endpoint) != 0) {
        rc = err_set(e, ERR_SYS, "zap self-test: connect %s: %s", endpoint,
                     zmq_strerror(errno));
    } else {
        int64_t deadline = clock_mono_ms() + 3000;
        z->selftest = true;
        while (z->refused == refused && z->accepted == accepted &&
               clock_mono_ms() < deadline)
            loop_run_once(l, 50, NULL);
        z->selftest = false;
        if (z->accepted != accepted)
            rc = err_set(e, ERR_AUTH,
                         "zap self-test: a random client key was accepted; "
                         "refusing to run");
        else if (z->refused == refused)
            rc = err_set(e, ERR_AUTH,
                         "zap self-test: the ZAP handler was not consulted "
                         "for %s within 3s; refusing to run",
                         endpoint);
    }
    zmq_close(s);
    return rc;
}
