/* coordinator/ssh_conn.c: opening an ssh conn. Each conn is an explicit
 * state machine (ssh_conn_set logs every transition) over a non-blocking
 * libssh2 session: QUEUED for a handshake slot on its address:port,
 * CONNECTING (non-blocking TCP), HANDSHAKE (host key checked against
 * known_hosts before anything else), AUTH, then READY, where ssh_exec.c
 * runs each command on a channel. On EAGAIN we ask libssh2 which way it is
 * blocked and wait for that in the loop; nothing spins. libssh2 reads the
 * socket through ssh_recv, which bounds what one turn reads and what a
 * server may send before authentication, so no server holds the loop.
 * docs/ssh.md explains the caps and the retry policy for MaxStartups
 * drops. */
#include "ssh_conn.h"

#include "buf.h"
#include "clock.h"
#include "knownhosts.h"
#include "log.h"
#include "loop.h"

#include <errno.h>
#include <libssh2.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Crypto preferences (docs/dependencies.md): no Terrapin-prone modes exist in
 * libssh2 1.10; curve25519 is the cheapest key exchange. */
#define SSH_PREF_KEX                                                           \
    "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,"       \
    "ecdh-sha2-nistp384,ecdh-sha2-nistp521,diffie-hellman-group14-sha256"
#define SSH_PREF_CRYPT "aes256-ctr,aes128-ctr"
#define SSH_PREF_MAC "hmac-sha2-512,hmac-sha2-256"
#define SSH_PREF_HOSTKEY                                                       \
    "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521"

static const char *const ssh_state_names[] = {
    "queued", "retry-wait", "connecting", "handshake",
    "auth",   "ready",      "failed",
};
static void ssh_conn_advance(struct ssh_conn *c);
static void ssh_conn_start_connect(struct ssh_conn *c);

/* --- helpers -------------------------------------------------------------
 */

const char *ssh_errmsg(LIBSSH2_SESSION *s)
{
    char *msg = NULL;
    int len = 0;
    if (s == NULL)
        return "no session";
    libssh2_session_last_error(s, &msg, &len, 0);
    return msg != NULL && *msg ? msg : "unknown libssh2 error";
}

void ssh_conn_set(struct ssh_conn *c, enum ssh_state st)
{
    if (c->state == st)
        return;
    log_debug("host=%s %s -> %s", c->name, ssh_state_names[c->state],
              ssh_state_names[st]);
    c->state = st;
}

/* The phase of opening the conn is in, for messages. */
static const char *ssh_conn_phase(const struct ssh_conn *c)
{
    switch (c->state) {
    case SSH_CONNECTING:
        return "TCP connect";
    case SSH_HANDSHAKE:
        return c->banner_done ? "key exchange" : "ssh banner";
    case SSH_AUTH:
        return "authentication";
    default:
        return "waiting to connect";
    }
}

/* --- handshake slots per target -------------------------------------------
 */

size_t ssh_target_find(struct ssh_transport *t, const char *address, int port)
{
    char key[300];
    snprintf(key, sizeof(key), "%s:%d", address, port);
    /* Linear: targets are few per process compared to the cost of a
     * handshake (a hash would pay off past tens of thousands). */
    for (size_t i = 0; i < t->ntargets; i++)
        if (strcmp(t->targets[i].key, key) == 0)
            return i;
    if (t->ntargets == t->captargets) {
        t->captargets = t->captargets ? t->captargets * 2 : 16;
        t->targets = xrealloc(t->targets, t->captargets * sizeof(*t->targets));
    }
    struct ssh_target *tg = &t->targets[t->ntargets];
    memset(tg, 0, sizeof(*tg));
    tg->key = xstrdup(key);
    return t->ntargets++;
}

static struct ssh_target *ssh_conn_target(struct ssh_conn *c)
{
    return &c->t->targets[c->tg_idx];
}

/* Take a slot or join the queue. Returns true with the slot taken. */
bool ssh_target_acquire(struct ssh_conn *c)
{
    struct ssh_target *tg = ssh_conn_target(c);
    if (tg->inflight < c->t->hs_cap && tg->wait_head == NULL) {
        tg->inflight++;
        c->t->stats.handshakes++;
        c->has_slot = true;
        return true;
    }
    c->wait_next = NULL;
    if (tg->wait_tail != NULL)
        tg->wait_tail->wait_next = c;
    else
        tg->wait_head = c;
    tg->wait_tail = c;
    return false;
}

static void ssh_target_unqueue(struct ssh_conn *c)
{
    struct ssh_target *tg = ssh_conn_target(c);
    struct ssh_conn *prev = NULL;
    for (struct ssh_conn *w = tg->wait_head; w != NULL; w = w->wait_next) {
        if (w == c) {
            if (prev != NULL)
                prev->wait_next = c->wait_next;
            else
                tg->wait_head = c->wait_next;
            if (tg->wait_tail == c)
                tg->wait_tail = prev;
            c->wait_next = NULL;
            return;
        }
        prev = w;
    }
}

/* Give the slot back and start the next waiting conn of the target. */
static void ssh_target_release(struct ssh_conn *c)
{
    if (!c->has_slot)
        return;
    c->has_slot = false;
    struct ssh_target *tg = ssh_conn_target(c);
    tg->inflight--;
    c->t->stats.handshakes--;
    struct ssh_conn *next = tg->wait_head;
    if (next != NULL && tg->inflight < c->t->hs_cap) {
        tg->wait_head = next->wait_next;
        if (tg->wait_head == NULL)
            tg->wait_tail = NULL;
        next->wait_next = NULL;
        tg->inflight++;
        c->t->stats.handshakes++;
        next->has_slot = true;
        /* Not from inside c's turn: the next conn starts on its own. */
        loop_timer_start(c->t->loop, &next->kick, 0);
    }
}

/* --- teardown ----------------------------------------------------------------
 */

void ssh_chan_drop(struct ssh_conn *c, struct ssh_chan *ch)
{
    if (ch->ch != NULL) {
        /* Best effort: a full socket buffer leaves it to session_free. */
        for (int i = 0; i < 3; i++)
            if (libssh2_channel_free(ch->ch) != LIBSSH2_ERROR_EAGAIN)
                break;
        ch->ch = NULL;
    }
    (void)c;
    free(ch->command);
    memset(ch, 0, sizeof(*ch));
}

void ssh_session_drop(struct ssh_conn *c)
{
    ssh_chan_drop(c, &c->main);
    ssh_chan_drop(c, &c->kill);
    if (c->agent != NULL) {
        libssh2_agent_disconnect(c->agent);
        libssh2_agent_free(c->agent);
        c->agent = NULL;
        c->agent_id = NULL;
    }
    if (c->s != NULL) {
        if (c->state == SSH_READY)
            libssh2_session_disconnect(c->s, "drover: done");
        for (int i = 0; i < 3; i++)
            if (libssh2_session_free(c->s) != LIBSSH2_ERROR_EAGAIN)
                break;
        c->s = NULL;
    }
    loop_io_stop(c->t->loop, &c->io);
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    c->blocked = OP_NONE;
}

/* The conn could not be opened: report once and stop. */
static void ssh_conn_fail_open(struct ssh_conn *c, enum err_code code,
                               const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void ssh_conn_fail_open(struct ssh_conn *c, enum err_code code,
                               const char *fmt, ...)
{
    struct err e = {0};
    va_list ap;
    va_start(ap, fmt);
    err_vsetf(&e, code, fmt, ap);
    va_end(ap);
    ssh_session_drop(c);
    if (c->has_slot)
        ssh_target_release(c);
    else
        ssh_target_unqueue(c);
    loop_timer_stop(c->t->loop, &c->ctimer);
    ssh_conn_set(c, SSH_FAILED);
    log_debug("host=%s open failed: %s", c->name, e.msg);
    if (c->base.cb->opened != NULL)
        c->base.cb->opened(&c->base, &e, c->base.arg);
}

/* --- opening -------------------------------------------------------------
 */

static bool ssh_resolve(struct ssh_conn *c, struct sockaddr_storage *ss,
                        socklen_t *sl)
{
    struct addrinfo hints = {0}, *ai = NULL;
    char port[16];
    snprintf(port, sizeof(port), "%d", c->port);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    int rc = getaddrinfo(c->address, port, &hints, &ai);
    if (rc == EAI_NONAME) {
        /* A name, not an address: the resolver blocks (docs/ssh.md). */
        hints.ai_flags = AI_NUMERICSERV;
        rc = getaddrinfo(c->address, port, &hints, &ai);
    }
    if (rc != 0 || ai == NULL) {
        /* An alias only the ssh config knows is the likely cause. */
        char hint[200] = "";
        if (!c->via_hostname && c->t->cfg != NULL)
            snprintf(hint, sizeof(hint), " (%s has no HostName for it)",
                     sshconfig_path(c->t->cfg));
        else if (!c->via_hostname)
            snprintf(hint, sizeof(hint), " (%s)", c->t->cfg_note);
        ssh_conn_fail_open(c, ERR_UNREACHABLE,
                           "%s: cannot resolve address '%s': %s%s", c->name,
                           c->address, gai_strerror(rc), hint);
        return false;
    }
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    *sl = ai->ai_addrlen;
    freeaddrinfo(ai);
    return true;
}

static void ssh_conn_io(struct loop *l, struct loop_io *io, unsigned ev,
                        void *arg)
{
    (void)l;
    (void)io;
    (void)ev;
    ssh_conn_run(arg);
}

static void ssh_conn_start_connect(struct ssh_conn *c)
{
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    if (!ssh_resolve(c, &ss, &sl))
        return;
    c->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        ssh_conn_fail_open(c, ERR_SYS, "%s: socket: %s", c->name,
                           strerror(errno));
        return;
    }
    /* Without it Nagle + delayed ACK stall every handshake (docs/ssh.md). */
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->attempts++;
    c->t->stats.connects++;
    ssh_conn_set(c, SSH_CONNECTING);
    if (connect(c->fd, (struct sockaddr *)&ss, sl) != 0 &&
        errno != EINPROGRESS) {
        int err = errno;
        ssh_conn_fail_open(c, ERR_UNREACHABLE, "%s (%s:%d): connect: %s",
                           c->name, c->address, c->port, strerror(err));
        return;
    }
    loop_io_init_fd(&c->io, c->fd, ssh_conn_io, c);
    loop_io_start(c->t->loop, &c->io, LOOP_WRITE);
}

void ssh_conn_ctimer(struct loop *l, struct loop_timer *tm, void *arg)
{
    (void)l;
    (void)tm;
    struct ssh_conn *c = arg;
    c->busy++;
    if (c->state == SSH_RETRY_WAIT) {
        if (ssh_target_acquire(c))
            ssh_conn_start_connect(c);
        else
            ssh_conn_set(c, SSH_QUEUED);
        /* The rest of the budget guards the new attempt. */
        if (c->state != SSH_FAILED)
            loop_timer_start(c->t->loop, &c->ctimer,
                             c->deadline - loop_now(c->t->loop));
    } else if (c->state < SSH_READY) {
        char d[32], got[48] = "";
        clock_fmt_duration(c->connect_timeout, d, sizeof(d));
        if (c->state == SSH_HANDSHAKE)
            snprintf(got, sizeof(got), "; %zu bytes received", c->rx_preauth);
        ssh_conn_fail_open(c, ERR_UNREACHABLE,
                           "%s (%s:%d): connect timed out after %s (during "
                           "%s%s%s)",
                           c->name, c->address, c->port, d, ssh_conn_phase(c),
                           got, c->attempts > 1 ? ", after retries" : "");
    }
    c->busy--;
    if (c->busy == 0 && c->zombie)
        ssh_conn_run(c);
}

void ssh_conn_kick(struct loop *l, struct loop_timer *tm, void *arg)
{
    (void)l;
    (void)tm;
    struct ssh_conn *c = arg;
    if (c->open_err.code != ERR_OK && c->state == SSH_QUEUED) {
        c->busy++;
        ssh_conn_fail_open(c, c->open_err.code, "%s", c->open_err.msg);
        c->busy--;
    } else if (c->state == SSH_QUEUED && c->has_slot) {
        c->busy++;
        ssh_conn_start_connect(c);
        c->busy--;
    }
    ssh_conn_run(c);
}

/* Did the server drop us the way sshd does past MaxStartups: before its
 * version line, after at most a short line of text (OpenSSH 9.2 writes
 * "\r\nExceeded MaxStartups\r\n" and closes; libssh2 1.10 reads the empty
 * first line as a bad banner)? A server that spoke SSH, sent binary or
 * more than a line, or that a cap stopped, will not do better on a
 * retry. */
static bool ssh_conn_drop_like(const struct ssh_conn *c)
{
    if (c->banner_done || c->rx_capped || c->rx_preauth > sizeof(c->first))
        return false;
    for (size_t i = 0; i < c->nfirst; i++) {
        unsigned char ch = (unsigned char)c->first[i];
        if ((ch < 0x20 && ch != '\r' && ch != '\n') || ch > 0x7e)
            return false;
    }
    return true;
}

/* A handshake the server dropped (MaxStartups): retry with jitter if the
 * budget allows. Returns true when a retry is scheduled. */
static bool ssh_conn_retry(struct ssh_conn *c, int rc)
{
    if (rc != LIBSSH2_ERROR_SOCKET_DISCONNECT &&
        rc != LIBSSH2_ERROR_SOCKET_RECV && rc != LIBSSH2_ERROR_BANNER_RECV &&
        rc != LIBSSH2_ERROR_SOCKET_SEND)
        return false;
    if (!ssh_conn_drop_like(c))
        return false;
    int shift = c->attempts < 6 ? c->attempts - 1 : 5;
    int64_t delay = (int64_t)SSH_RETRY_BASE_MS << shift;
    if (delay > SSH_RETRY_MAX_MS)
        delay = SSH_RETRY_MAX_MS;
    /* Full jitter between delay/2 and 3*delay/2, so dropped clients do not
     * come back in step. */
    delay = delay / 2 + (int64_t)(random() % (delay + 1));
    if (loop_now(c->t->loop) + delay >= c->deadline)
        return false;
    log_debug("host=%s handshake dropped (%d: %s); retry %d in %lldms", c->name,
              rc, ssh_errmsg(c->s), c->attempts, (long long)delay);
    ssh_session_drop(c);
    ssh_target_release(c);
    c->t->stats.retries++;
    ssh_conn_set(c, SSH_RETRY_WAIT);
    loop_timer_start(c->t->loop, &c->ctimer, delay);
    return true;
}

/* --- the socket under libssh2 ----------------------------------------------
 */

/* Follow the banner as libssh2 reads it (a byte per recv): lines before
 * the version line are allowed (RFC 4253 4.2); the line that starts with
 * "SSH-" ends the banner phase. */
static void ssh_conn_scan_banner(struct ssh_conn *c, const char *p, size_t n)
{
    for (size_t i = 0; i < n && !c->banner_done; i++) {
        if (c->nfirst < sizeof(c->first))
            c->first[c->nfirst++] = p[i];
        if (p[i] == '\n') {
            c->banner_done = c->line_ssh && c->line_pos >= 4;
            c->line_pos = 0;
            c->line_ssh = true;
            continue;
        }
        if (c->line_pos < 4 && p[i] != "SSH-"[c->line_pos])
            c->line_ssh = false;
        c->line_pos++;
    }
}

/* What recv or send returned, as libssh2 wants it (-errno, EAGAIN for a
 * socket that would block), the socket's error kept for the message. */
static ssize_t ssh_sock_result(struct ssh_conn *c, ssize_t n)
{
    if (n >= 0)
        return n;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return -EAGAIN;
    c->sock_errno = errno;
    return -errno;
}

/* libssh2 reads the socket through this. It keeps libssh2 from holding
 * the loop: libssh2 1.10 reads the banner in a loop that ends only at a
 * version line or EAGAIN (session_startup), and waits for a packet the
 * same way (_libssh2_packet_require), so a server that streams lines or
 * packets faster than we read keeps it inside one call for ever. Here a
 * turn reads at most SSH_TURN_RECV_MAX (then EAGAIN: the socket is still
 * readable, so the loop comes back next turn, after the timers), and
 * before authentication has ended the server may send SSH_BANNER_MAX bytes
 * up to its version line and SSH_PREAUTH_MAX in all (then an error that
 * ssh_conn_fail_wire reports). */
static ssize_t ssh_recv(libssh2_socket_t fd, void *buf, size_t len, int flags,
                        void **abstract)
{
    struct ssh_conn *c = *abstract;
    if (c->rx_turn >= SSH_TURN_RECV_MAX)
        return -EAGAIN;
    if (c->state < SSH_READY) {
        size_t cap = c->banner_done ? SSH_PREAUTH_MAX : SSH_BANNER_MAX;
        if (c->rx_preauth >= cap) {
            c->rx_capped = true;
            return -EMSGSIZE;
        }
        if (len > cap - c->rx_preauth)
            len = cap - c->rx_preauth;
    }
    ssize_t n = ssh_sock_result(c, recv(fd, buf, len, flags));
    if (n < 0)
        return n;
    if (n == 0) {
        c->rx_eof = true;
        return 0;
    }
    c->rx_turn += (size_t)n;
    if (c->state < SSH_READY) {
        c->rx_preauth += (size_t)n;
        if (!c->banner_done)
            ssh_conn_scan_banner(c, buf, (size_t)n);
    }
    return n;
}

/* libssh2 writes the socket through this: as its own, with the error
 * kept for the message. */
static ssize_t ssh_send(libssh2_socket_t fd, const void *buf, size_t len,
                        int flags, void **abstract)
{
    return ssh_sock_result(*abstract, send(fd, buf, len, flags));
}

/* Route the session's socket I/O through ssh_recv and ssh_send. */
static void ssh_session_io(LIBSSH2_SESSION *s)
{
    /* libssh2 1.10 takes the callbacks as void *. ISO C converts no
     * function pointer to an object pointer, so the bits are copied. */
    LIBSSH2_RECV_FUNC((*rf)) = ssh_recv;
    LIBSSH2_SEND_FUNC((*sf)) = ssh_send;
    void *p;
    _Static_assert(sizeof(p) == sizeof(rf), "a function pointer fits void *");
    memcpy(&p, &rf, sizeof(p));
    libssh2_session_callback_set(s, LIBSSH2_CALLBACK_RECV, p);
    memcpy(&p, &sf, sizeof(p));
    libssh2_session_callback_set(s, LIBSSH2_CALLBACK_SEND, p);
}

/* Bytes from a peer as a quoted, printable excerpt (\r, \n, \xNN). */
static void ssh_excerpt(const char *p, size_t n, char *out, size_t outlen)
{
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    buf_addc(&b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch == '\r' || ch == '\n')
            buf_adds(&b, ch == '\r' ? "\\r" : "\\n");
        else if (ch == '"' || ch == '\\' || ch < 0x20 || ch > 0x7e)
            buf_printf(&b, "\\x%02x", ch);
        else
            buf_addc(&b, (char)ch);
    }
    buf_addc(&b, '"');
    snprintf(out, outlen, "%s", buf_cstr(&b));
    buf_release(&b);
}

/* Opening failed with libssh2's rc: say what the server did and in which
 * phase. A hostile or confused server (no version line, too many bytes,
 * not SSH) is ERR_PROTO, a host that needs a person; a reset, a close or
 * another transport error is ERR_UNREACHABLE. */
static void ssh_conn_fail_wire(struct ssh_conn *c, int rc)
{
    const char *phase = ssh_conn_phase(c);
    const char *again = c->attempts > 1 ? " (after retries)" : "";
    /* 24 bytes: at most 96 escaped, the message stays under ERR_MSG_MAX */
    char began[4 * 24 + 3];
    ssh_excerpt(c->first, c->nfirst < 24 ? c->nfirst : 24, began,
                sizeof(began));
    if (c->rx_capped && !c->banner_done)
        ssh_conn_fail_open(c, ERR_PROTO,
                           "%s (%s:%d): no SSH version line in the first %d "
                           "bytes (during ssh banner); not an SSH server? It "
                           "began %s",
                           c->name, c->address, c->port, SSH_BANNER_MAX, began);
    else if (c->rx_capped)
        ssh_conn_fail_open(c, ERR_PROTO,
                           "%s (%s:%d): the server sent over %d KiB before "
                           "authentication ended (during %s); refused",
                           c->name, c->address, c->port, SSH_PREAUTH_MAX / 1024,
                           phase);
    else if (rc == LIBSSH2_ERROR_BANNER_RECV && ssh_conn_drop_like(c))
        ssh_conn_fail_open(c, ERR_UNREACHABLE,
                           "%s (%s:%d): the server sent %s, no version line, "
                           "and dropped us (during ssh banner; sshd past "
                           "MaxStartups?)%s",
                           c->name, c->address, c->port, began, again);
    else if (rc == LIBSSH2_ERROR_BANNER_RECV && c->nfirst > 0)
        ssh_conn_fail_open(c, ERR_PROTO,
                           "%s (%s:%d): not an SSH version line (during ssh "
                           "banner); not an SSH server? It began %s",
                           c->name, c->address, c->port, began);
    else if (c->sock_errno != 0)
        ssh_conn_fail_open(c, ERR_UNREACHABLE, "%s (%s:%d): %s (during %s)%s",
                           c->name, c->address, c->port,
                           strerror(c->sock_errno), phase, again);
    else if (c->rx_eof || rc == LIBSSH2_ERROR_SOCKET_DISCONNECT)
        ssh_conn_fail_open(c, ERR_UNREACHABLE,
                           "%s (%s:%d): the server closed the connection "
                           "(during %s)%s",
                           c->name, c->address, c->port, phase, again);
    else
        ssh_conn_fail_open(c, ERR_UNREACHABLE,
                           "%s (%s:%d): ssh handshake failed: %s (during "
                           "%s)%s",
                           c->name, c->address, c->port, ssh_errmsg(c->s),
                           phase, again);
}

/* The socket under the session failed or a cap was reached (as opposed
 * to the server refusing something in SSH terms). */
static bool ssh_conn_wire_broken(const struct ssh_conn *c, int rc)
{
    return c->rx_capped || c->rx_eof || c->sock_errno != 0 ||
           rc == LIBSSH2_ERROR_SOCKET_DISCONNECT ||
           rc == LIBSSH2_ERROR_SOCKET_RECV || rc == LIBSSH2_ERROR_SOCKET_SEND;
}

static bool ssh_conn_new_session(struct ssh_conn *c)
{
    c->s = libssh2_session_init_ex(NULL, NULL, NULL, c);
    if (c->s == NULL) {
        ssh_conn_fail_open(c, ERR_SSH, "%s: libssh2 session failed", c->name);
        return false;
    }
    libssh2_session_set_blocking(c->s, 0);
    ssh_session_io(c->s);
    c->rx_preauth = c->nfirst = c->line_pos = 0;
    c->banner_done = c->rx_capped = c->rx_eof = false;
    c->line_ssh = true;
    c->sock_errno = 0;
    char known[KNOWNHOSTS_METHODS_MAX];
    knownhosts_methods(c->kh, c->address, c->port, known, sizeof(known));
    /* libssh2 negotiates ECDSA first by default; a host known only by its
     * ed25519 key would then look unknown. Ask for what we know. */
    const char *hk = known[0] ? known : SSH_PREF_HOSTKEY;
    if (libssh2_session_method_pref(c->s, LIBSSH2_METHOD_HOSTKEY, hk) != 0 ||
        libssh2_session_method_pref(c->s, LIBSSH2_METHOD_KEX, SSH_PREF_KEX) !=
            0 ||
        libssh2_session_method_pref(c->s, LIBSSH2_METHOD_CRYPT_CS,
                                    SSH_PREF_CRYPT) != 0 ||
        libssh2_session_method_pref(c->s, LIBSSH2_METHOD_CRYPT_SC,
                                    SSH_PREF_CRYPT) != 0 ||
        libssh2_session_method_pref(c->s, LIBSSH2_METHOD_MAC_CS,
                                    SSH_PREF_MAC) != 0 ||
        libssh2_session_method_pref(c->s, LIBSSH2_METHOD_MAC_SC,
                                    SSH_PREF_MAC) != 0) {
        ssh_conn_fail_open(c, ERR_SSH, "%s: libssh2 method preference: %s",
                           c->name, ssh_errmsg(c->s));
        return false;
    }
    if (c->keepalive > 0)
        libssh2_keepalive_config(c->s, 0,
                                 (unsigned)((c->keepalive + 999) / 1000));
    return true;
}

/* Check the server's key against known_hosts; false when refused. */
static bool ssh_conn_hostkey(struct ssh_conn *c)
{
    size_t len = 0;
    int type = 0;
    const char *key = libssh2_session_hostkey(c->s, &len, &type);
    const char *fpraw = libssh2_hostkey_hash(c->s, LIBSSH2_HOSTKEY_HASH_SHA256);
    if (key == NULL || fpraw == NULL) {
        ssh_conn_fail_open(c, ERR_HOSTKEY, "%s: no host key from the server",
                           c->name);
        return false;
    }
    char fp[KNOWNHOSTS_FP_MAX], name[300];
    knownhosts_fp_format((const unsigned char *)fpraw, fp, sizeof(fp));
    knownhosts_name(c->address, c->port, name, sizeof(name));
    const char *method = knownhosts_method_name(type);
    if (method == NULL)
        method = "unknown-type";
    const char *path = knownhosts_path(c->kh);
    switch (knownhosts_check(c->kh, c->address, c->port,
                             (const unsigned char *)key, len, type)) {
    case KNOWNHOSTS_MATCH:
        return true;
    case KNOWNHOSTS_MISMATCH:
        ssh_conn_fail_open(c, ERR_HOSTKEY,
                           "%s (%s): HOST KEY CHANGED: the server offers %s "
                           "%s, %s has another key; refused before "
                           "authentication. If the change is expected: "
                           "ssh-keygen -R '%s' -f %s",
                           c->name, name, method, fp, path, name, path);
        return false;
    case KNOWNHOSTS_NOTFOUND:
    default:
        break;
    }
    if (!c->accept_new) {
        ssh_conn_fail_open(c, ERR_HOSTKEY,
                           "%s (%s): unknown host key %s %s (not in %s); "
                           "refused. Verify it, then rerun with --accept-new",
                           c->name, name, method, fp, path);
        return false;
    }
    struct err e = {0};
    if (knownhosts_append(c->kh, c->address, c->port,
                          (const unsigned char *)key, len, type,
                          &e) != ERR_OK) {
        ssh_conn_fail_open(c, ERR_HOSTKEY, "%s: %s", c->name, e.msg);
        return false;
    }
    log_warn("host=%s added %s key %s for %s to %s (accept-new)", c->name,
             method, fp, name, path);
    return true;
}

/* One step of authentication: 0 done, EAGAIN, or an error already
 * reported (-1). */
static int ssh_conn_auth(struct ssh_conn *c)
{
    while (c->key_idx < c->nkeys) {
        struct ssh_key *k = c->keys[c->key_idx];
        int rc = ssh_key_auth(k, c->s, c->user);
        if (rc == 0 || rc == LIBSSH2_ERROR_EAGAIN)
            return rc;
        if (ssh_conn_wire_broken(c, rc)) {
            ssh_conn_fail_wire(c, rc);
            return -1;
        }
        bool refused = rc == LIBSSH2_ERROR_AUTHENTICATION_FAILED ||
                       rc == LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED;
        if (refused && c->key_idx + 1 < c->nkeys) {
            /* The next IdentityFile, as OpenSSH goes down its list. */
            log_debug("host=%s key %s refused; trying the next", c->name,
                      k->path);
            c->key_idx++;
            continue;
        }
        char more[48] = "";
        if (c->key_idx > 0)
            snprintf(more, sizeof(more), " (and %zu key%s before it)",
                     c->key_idx, c->key_idx > 1 ? "s" : "");
        ssh_conn_fail_open(c, ERR_AUTH,
                           "%s (%s:%d): user %s: key %s refused%s (%s); is "
                           "its .pub in the user's authorized_keys?",
                           c->name, c->address, c->port, c->user, k->path, more,
                           ssh_errmsg(c->s));
        return -1;
    }
    if (c->t->nokey.code != ERR_OK) {
        ssh_conn_fail_open(c, ERR_AUTH, "%s: %s", c->name, c->t->nokey.msg);
        return -1;
    }
    /* ssh-agent: a local unix socket that answers in microseconds. libssh2
     * talks to it with blocking calls; we accept that (docs/ssh.md). */
    if (c->agent == NULL) {
        c->agent = libssh2_agent_init(c->s);
        if (c->agent == NULL || libssh2_agent_connect(c->agent) != 0 ||
            libssh2_agent_list_identities(c->agent) != 0) {
            ssh_conn_fail_open(c, ERR_AUTH,
                               "%s: no key: ssh-agent at $SSH_AUTH_SOCK is "
                               "not usable; pass --key FILE",
                               c->name);
            return -1;
        }
        c->agent_id = NULL;
        if (libssh2_agent_get_identity(c->agent, &c->agent_id, NULL) != 0)
            c->agent_id = NULL;
    }
    while (c->agent_id != NULL) {
        int rc = libssh2_agent_userauth(c->agent, c->user, c->agent_id);
        if (rc == 0 || rc == LIBSSH2_ERROR_EAGAIN)
            return rc;
        if (ssh_conn_wire_broken(c, rc)) {
            ssh_conn_fail_wire(c, rc);
            return -1;
        }
        struct libssh2_agent_publickey *next = NULL;
        if (libssh2_agent_get_identity(c->agent, &next, c->agent_id) != 0)
            next = NULL;
        c->agent_id = next;
    }
    ssh_conn_fail_open(c, ERR_AUTH,
                       "%s (%s:%d): user %s: no ssh-agent key was accepted "
                       "(RSA keys cannot sign with libssh2 1.10; use "
                       "ed25519)",
                       c->name, c->address, c->port, c->user);
    return -1;
}

void ssh_conn_keepalive(struct loop *l, struct loop_timer *tm, void *arg)
{
    (void)tm;
    struct ssh_conn *c = arg;
    if (c->state != SSH_READY || c->keepalive <= 0)
        return;
    if (!c->running && c->blocked == OP_NONE) {
        /* Idle only: while a command runs, traffic flows anyway, and a
         * keepalive must not interleave with a half-sent packet. */
        int next = 0;
        int rc = libssh2_keepalive_send(c->s, &next);
        if (rc != 0 && rc != LIBSSH2_ERROR_EAGAIN)
            log_debug("host=%s keepalive: %s", c->name, ssh_errmsg(c->s));
    }
    loop_timer_start(l, &c->ktimer, c->keepalive);
}

/* Advance opening; returns true when the conn reached READY. */
static bool ssh_conn_open_step(struct ssh_conn *c)
{
    if (c->state == SSH_CONNECTING) {
        struct sockaddr_storage peer;
        socklen_t pl = sizeof(peer);
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        if (getpeername(c->fd, (struct sockaddr *)&peer, &pl) != 0) {
            /* Not connected (yet): SO_ERROR says whether it failed. */
            if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
                soerr = errno;
            if (soerr == 0 || soerr == EINPROGRESS || soerr == EALREADY)
                return false;
        }
        if (soerr != 0) {
            ssh_conn_fail_open(c, ERR_UNREACHABLE, "%s (%s:%d): connect: %s",
                               c->name, c->address, c->port, strerror(soerr));
            return false;
        }
        if (!ssh_conn_new_session(c))
            return false;
        ssh_conn_set(c, SSH_HANDSHAKE);
    }
    if (c->state == SSH_HANDSHAKE) {
        int rc = libssh2_session_handshake(c->s, c->fd);
        if (rc == LIBSSH2_ERROR_EAGAIN)
            return false;
        if (rc != 0) {
            if (!ssh_conn_retry(c, rc))
                ssh_conn_fail_wire(c, rc);
            return false;
        }
        if (!ssh_conn_hostkey(c))
            return false;
        ssh_conn_set(c, SSH_AUTH);
    }
    if (c->state == SSH_AUTH) {
        if (ssh_conn_auth(c) != 0)
            return false;
        if (c->agent != NULL) {
            libssh2_agent_disconnect(c->agent);
            libssh2_agent_free(c->agent);
            c->agent = NULL;
            c->agent_id = NULL;
        }
        ssh_target_release(c);
        loop_timer_stop(c->t->loop, &c->ctimer);
        ssh_conn_set(c, SSH_READY);
        if (c->keepalive > 0)
            loop_timer_start(c->t->loop, &c->ktimer, c->keepalive);
        if (c->base.cb->opened != NULL)
            c->base.cb->opened(&c->base, NULL, c->base.arg);
        return true;
    }
    return false;
}

/* --- the turn --------------------------------------------------------------
 */

static void ssh_conn_advance(struct ssh_conn *c)
{
    if (c->state >= SSH_CONNECTING && c->state <= SSH_AUTH)
        if (!ssh_conn_open_step(c))
            return;
    if (c->zombie)
        return;
    if (c->state == SSH_READY && c->running)
        ssh_conn_exec_step(c);
}

void ssh_conn_destroy(struct ssh_conn *c)
{
    struct loop *l = c->t->loop;
    for (struct ssh_conn **pp = &c->t->orphans; *pp != NULL;
         pp = &(*pp)->orphan_next)
        if (*pp == c) {
            *pp = c->orphan_next;
            break;
        }
    if (c->state == SSH_QUEUED && !c->has_slot)
        ssh_target_unqueue(c);
    ssh_session_drop(c);
    ssh_target_release(c);
    loop_timer_stop(l, &c->ctimer);
    loop_timer_stop(l, &c->ktimer);
    loop_timer_stop(l, &c->xtimer);
    loop_timer_stop(l, &c->kick);
    free((void *)c->input);
    buf_release(&c->errhead);
    free(c->name);
    free(c->address);
    free(c->user);
    free(c->keys);
    free(c);
}

/* Set the fd's wanted events from where libssh2 is blocked. */
static void ssh_conn_wait(struct ssh_conn *c)
{
    unsigned ev = 0;
    if (c->fd < 0) {
        return;
    } else if (c->state == SSH_CONNECTING) {
        ev = LOOP_WRITE;
    } else if (c->state == SSH_HANDSHAKE || c->state == SSH_AUTH ||
               (c->state == SSH_READY && c->running)) {
        int dir = libssh2_session_block_directions(c->s);
        if (dir & LIBSSH2_SESSION_BLOCK_INBOUND)
            ev |= LOOP_READ;
        if (dir & LIBSSH2_SESSION_BLOCK_OUTBOUND)
            ev |= LOOP_WRITE;
        if (ev == 0)
            ev = LOOP_READ; /* waiting on the peer all the same */
    }
    if (ev == 0) {
        loop_io_stop(c->t->loop, &c->io);
    } else if (!c->io.active) {
        loop_io_start(c->t->loop, &c->io, ev);
    } else if (c->io.events != ev) {
        loop_io_set(c->t->loop, &c->io, ev);
    }
}

void ssh_conn_run(struct ssh_conn *c)
{
    if (c->busy == 0)
        c->rx_turn = 0; /* a new turn: a new read budget (ssh_recv) */
    c->busy++;
    if (!c->zombie)
        ssh_conn_advance(c);
    c->busy--;
    if (c->busy > 0)
        return;
    if (c->zombie)
        ssh_conn_destroy(c);
    else
        ssh_conn_wait(c);
}
