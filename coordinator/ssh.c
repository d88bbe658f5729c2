/* coordinator/ssh.c: the ssh transport. Each conn is an explicit state
 * machine (ssh_conn_set logs every transition) over a non-blocking libssh2
 * session: QUEUED for a handshake slot on its address:port, CONNECTING
 * (non-blocking TCP), HANDSHAKE (host key checked against known_hosts
 * before anything else), AUTH, then READY, where each command gets a
 * channel. On EAGAIN we ask libssh2 which way it is blocked and wait for
 * that in the loop; nothing spins. libssh2 reads the socket through
 * ssh_recv, which bounds what one turn reads and what a server may send
 * before authentication, so no server holds the loop. docs/ssh.md
 * explains the kill design (process group reported on stderr, killed from
 * a second channel), the caps and the retry policy for MaxStartups
 * drops. */
#include "ssh.h"

#include "buf.h"
#include "clock.h"
#include "knownhosts.h"
#include "log.h"
#include "loop.h"
#include "sshconfig.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <libssh2.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
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

enum ssh_state {
    SSH_QUEUED,     /* waiting for a handshake slot on its target */
    SSH_RETRY_WAIT, /* dropped during the handshake; waiting to retry */
    SSH_CONNECTING, /* non-blocking TCP connect */
    SSH_HANDSHAKE,  /* banner, key exchange, host key check */
    SSH_AUTH,       /* public key authentication */
    SSH_READY,      /* open; idle or running a command */
    SSH_FAILED      /* could not open, or the connection was lost */
};

static const char *const ssh_state_names[] = {
    "queued", "retry-wait", "connecting", "handshake",
    "auth",   "ready",      "failed",
};

/* Progress of one channel (the command's or the killer's). */
enum ssh_chstep {
    CH_NONE,  /* no channel */
    CH_OPEN,  /* libssh2_channel_open_session */
    CH_EXEC,  /* libssh2_channel_process_startup */
    CH_RUN,   /* writing stdin, reading output until EOF */
    CH_CLOSE, /* libssh2_channel_close */
    CH_WAIT,  /* libssh2_channel_wait_closed */
    CH_FREE,  /* libssh2_channel_free */
    CH_DONE   /* finished; results collected */
};

/* Operations that may leave a half-sent packet behind: after EAGAIN with
 * libssh2 blocked outbound, the same operation must be called again
 * before any other (libssh2 refuses a different packet). */
enum ssh_op { OP_NONE, OP_MAIN, OP_KILL, OP_KEEPALIVE };

struct ssh_chan {
    LIBSSH2_CHANNEL *ch;  /* the channel while open */
    enum ssh_chstep step; /* where it is */
    char *command;        /* remote command line (owned) */
    bool eof_sent;        /* our stdin EOF was sent */
    int exit_status;      /* exit status (CH_DONE) */
    char signal[32];      /* exit signal name, "" if none (CH_DONE) */
};

struct ssh_target {
    char *key;                  /* "address:port" */
    int inflight;               /* handshakes in progress */
    struct ssh_conn *wait_head; /* conns waiting for a slot, FIFO */
    struct ssh_conn *wait_tail; /* last waiting conn */
};

/* A private key file, read once per process however many hosts use it. */
struct ssh_key {
    char *path;              /* the file */
    char *data;              /* its contents (wiped at free), NULL when
                                it could not be used */
    size_t len;              /* bytes in data */
    const EVP_MD *sign_md;   /* ECDSA: its digest; ed25519: NULL */
    EVP_PKEY *sign_key;      /* key we sign with ourselves, or NULL:
                                libssh2 parses data per host */
    unsigned char *pub_blob; /* sign_key's SSH public key blob */
    size_t pub_len;          /* its length */
    void *self;              /* this key, for libssh2's abstract */
    struct err err;          /* why it cannot be used (data NULL) */
};

/* A known_hosts file named by the ssh config, read once. */
struct ssh_khfile {
    struct knownhosts *kh; /* the list, NULL when unreadable */
    struct err err;        /* why it could not be read */
};

struct ssh_transport {
    struct transport base;      /* must be first */
    struct loop *loop;          /* the process's reactor (borrowed) */
    char *user;                 /* default login user */
    bool user_flag;             /* user came from --user */
    char *home;                 /* $HOME, for ~ and %d */
    char *luser;                /* local user, for %u */
    struct ssh_key *key;        /* --key or ~/.ssh/id_ed25519, NULL:
                                   ssh-agent */
    bool key_flag;              /* key came from --key */
    struct err nokey;           /* no key and no ssh-agent: why */
    struct ssh_key **keys;      /* every key read, key included */
    size_t nkeys;               /* entries in keys */
    struct knownhosts *kh;      /* --known-hosts or ~/.ssh/known_hosts */
    bool kh_flag;               /* kh came from --known-hosts */
    char **khpaths;             /* known_hosts files the config named */
    struct ssh_khfile *khfiles; /* and what reading them gave */
    size_t nkh;                 /* entries in both */
    /* ~/.ssh/config or --ssh-config (the caller's, or own_cfg), NULL:
     * none */
    const struct sshconfig *cfg;
    struct sshconfig *own_cfg;  /* cfg when the transport read it */
    char *cfg_note;             /* why there is none, for messages */
    bool warned_no;             /* StrictHostKeyChecking no warned */
    bool accept_new;            /* --accept-new: trust-on-first-use */
    int64_t connect_timeout;    /* ms, whole open including retries */
    bool timeout_flag;          /* connect_timeout from the flag */
    int64_t keepalive;          /* ms between keepalives; 0: none */
    bool keepalive_set;         /* keepalive set by the caller */
    int hs_cap;                 /* handshakes per target */
    int port;                   /* default port */
    struct ssh_target *targets; /* handshake slot tables */
    size_t ntargets;            /* used entries */
    size_t captargets;          /* allocated entries */
    struct ssh_stats stats;     /* counters */
    struct ssh_conn *orphans;   /* closed conns still killing a command */
};

struct ssh_conn {
    struct conn base;           /* must be first */
    struct ssh_transport *t;    /* owner */
    char *name;                 /* inventory_hostname */
    char *address;              /* where to connect */
    int port;                   /* TCP port */
    char *user;                 /* login user */
    bool via_hostname;          /* address came from the config's HostName */
    struct ssh_key **keys;      /* keys to try in order; none: ssh-agent */
    size_t nkeys;               /* entries in keys */
    size_t key_idx;             /* the one being tried */
    struct knownhosts *kh;      /* its known_hosts (borrowed) */
    bool accept_new;            /* trust-on-first-use for this host */
    int64_t connect_timeout;    /* ms, whole open including retries */
    int64_t keepalive;          /* ms between keepalives; 0: none */
    struct err open_err;        /* set at connect: fail on the first turn */
    size_t tg_idx;              /* its target in t->targets (the array
                                   moves, indexes stay) */
    enum ssh_state state;       /* see enum */
    bool has_slot;              /* holds a handshake slot of its target */
    struct ssh_conn *wait_next; /* next in the target's wait queue */
    int fd;                     /* socket, -1 when none */
    struct loop_io io;          /* fd in the loop */
    LIBSSH2_SESSION *s;         /* the session, NULL when none */
    LIBSSH2_AGENT *agent;       /* ssh-agent connection (agent auth) */
    struct libssh2_agent_publickey *agent_id; /* identity being tried */
    int attempts;                             /* handshakes started */
    /* What the server sent on this attempt's socket, counted by our recv
     * callback (ssh_recv) under libssh2: the caps and the messages. */
    size_t rx_preauth; /* bytes received before READY */
    size_t rx_turn;    /* bytes received in this turn (SSH_TURN_RECV_MAX) */
    bool banner_done;  /* the server's version line has arrived */
    size_t line_pos;   /* bytes in the banner line being read */
    bool line_ssh;     /* that line starts as "SSH-" so far */
    char first[64];    /* the first bytes received (retries, messages) */
    size_t nfirst;     /* bytes in first */
    bool rx_capped;    /* our recv refused: a cap was reached */
    bool rx_eof;       /* the server closed the connection */
    int sock_errno;    /* the socket's own error, 0 none */
    int64_t deadline;  /* open must finish by this (loop ms) */
    struct loop_timer ctimer;     /* connect deadline / retry delay */
    struct loop_timer ktimer;     /* keepalive */
    struct loop_timer xtimer;     /* command timeout, then kill give-up */
    struct loop_timer kick;       /* deferred start of work */
    int busy;                     /* inside a callback-making turn */
    bool zombie;                  /* closed while busy: free when unwound */
    bool orphan;                  /* closed while running: killing, silently */
    struct ssh_conn *orphan_next; /* in t->orphans */
    enum ssh_op blocked;          /* operation to resume first */
    bool read_first; /* a read left a half-sent packet: finish it before
                        writing input */
    /* The running command. */
    bool running;         /* a command is in progress */
    struct ssh_chan main; /* its channel */
    struct ssh_chan kill; /* the killer's channel */
    const char *input;    /* stdin bytes (owned copy) */
    size_t input_len;     /* their length */
    size_t input_off;     /* bytes written */
    int64_t started;      /* loop ms at start */
    int64_t timeout_ms;   /* the command's timeout */
    long pgid;            /* remote process group, 0 unknown */
    bool pgid_done;       /* stop scanning stderr for it */
    struct buf errhead;   /* stderr held while scanning */
    bool timed_out;       /* the timeout fired */
    bool cancelled;       /* conn_cancel() */
    bool gave_up;         /* the kill was not confirmed in time */
    struct err xerr;      /* why the command failed */
};

static void ssh_conn_run(struct ssh_conn *c);
static void ssh_conn_advance(struct ssh_conn *c);
static void ssh_conn_start_connect(struct ssh_conn *c);

/* --- helpers -------------------------------------------------------------
 */

static const char *ssh_errmsg(LIBSSH2_SESSION *s)
{
    char *msg = NULL;
    int len = 0;
    if (s == NULL)
        return "no session";
    libssh2_session_last_error(s, &msg, &len, 0);
    return msg != NULL && *msg ? msg : "unknown libssh2 error";
}

static void ssh_conn_set(struct ssh_conn *c, enum ssh_state st)
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

static bool ssh_text_has(const char *text, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(text + i, needle, n) == 0)
            return true;
    return false;
}

/* Decode base64 (whitespace skipped) into a new buffer; *n its length. */
static unsigned char *ssh_unbase64(const char *p, size_t len, size_t *n)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned char *out = xmalloc(len / 4 * 3 + 3);
    size_t o = 0;
    unsigned v = 0;
    int bits = 0;
    for (size_t i = 0; i < len && p[i] != '='; i++) {
        const char *q = p[i] ? strchr(tab, p[i]) : NULL;
        if (q == NULL)
            continue;
        v = (v << 6) | (unsigned)(q - tab);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(v >> bits);
        }
    }
    *n = o;
    return out;
}

/* Read an SSH string at *off of b (n bytes); NULL when truncated. */
static const unsigned char *ssh_sshstr(const unsigned char *b, size_t n,
                                       size_t *off, size_t *len)
{
    if (*off + 4 > n)
        return NULL;
    size_t l = (size_t)b[*off] << 24 | (size_t)b[*off + 1] << 16 |
               (size_t)b[*off + 2] << 8 | b[*off + 3];
    if (l > n - *off - 4)
        return NULL;
    const unsigned char *p = b + *off + 4;
    *off += 4 + l;
    *len = l;
    return p;
}

enum err_code ssh_key_check(const char *text, size_t len, const char *path,
                            struct err *e)
{
    static const char rsa_msg[] =
        "%s: libssh2 1.10 cannot sign with rsa-sha2; use an ed25519 key";
    if (ssh_text_has(text, len, "BEGIN RSA PRIVATE KEY"))
        return err_set(e, ERR_AUTH, rsa_msg, path);
    if (ssh_text_has(text, len, "BEGIN DSA PRIVATE KEY"))
        return err_set(e, ERR_AUTH,
                       "%s: DSA keys are refused by OpenSSH; use an ed25519 "
                       "key",
                       path);
    if (ssh_text_has(text, len, "BEGIN EC PRIVATE KEY") ||
        ssh_text_has(text, len, "BEGIN PRIVATE KEY"))
        return ERR_OK;
    if (ssh_text_has(text, len, "BEGIN ENCRYPTED PRIVATE KEY"))
        return err_set(e, ERR_AUTH,
                       "%s: the key is protected by a passphrase; load it "
                       "into ssh-agent and leave out --key",
                       path);
    static const char begin[] = "-----BEGIN OPENSSH PRIVATE KEY-----";
    static const char end[] = "-----END OPENSSH PRIVATE KEY-----";
    const char *b = memmem(text, len, begin, sizeof(begin) - 1);
    const char *z =
        b ? memmem(b, len - (size_t)(b - text), end, sizeof(end) - 1) : NULL;
    if (b == NULL || z == NULL)
        return err_set(e, ERR_PARSE,
                       "%s: not a private key (expected an OpenSSH or PEM "
                       "ed25519/ECDSA key)",
                       path);
    b += sizeof(begin) - 1;
    size_t n;
    unsigned char *blob = ssh_unbase64(b, (size_t)(z - b), &n);
    static const char magic[] = "openssh-key-v1";
    size_t off = sizeof(magic), l;
    enum err_code rc = ERR_OK;
    const unsigned char *cipher = NULL, *pub = NULL;
    if (n < sizeof(magic) || memcmp(blob, magic, sizeof(magic)) != 0 ||
        (cipher = ssh_sshstr(blob, n, &off, &l)) == NULL) {
        rc = err_set(e, ERR_PARSE, "%s: damaged OpenSSH private key", path);
        goto out;
    }
    bool encrypted = !(l == 4 && memcmp(cipher, "none", 4) == 0);
    if (ssh_sshstr(blob, n, &off, &l) == NULL ||
        ssh_sshstr(blob, n, &off, &l) == NULL || off + 4 > n) {
        rc = err_set(e, ERR_PARSE, "%s: damaged OpenSSH private key", path);
        goto out;
    }
    off += 4; /* number of keys */
    pub = ssh_sshstr(blob, n, &off, &l);
    size_t poff = 0, tlen = 0;
    const unsigned char *type = pub ? ssh_sshstr(pub, l, &poff, &tlen) : NULL;
    if (type == NULL) {
        rc = err_set(e, ERR_PARSE, "%s: damaged OpenSSH private key", path);
    } else if (tlen == 7 && memcmp(type, "ssh-rsa", 7) == 0) {
        rc = err_set(e, ERR_AUTH, rsa_msg, path);
    } else if (tlen == 7 && memcmp(type, "ssh-dss", 7) == 0) {
        rc = err_set(e, ERR_AUTH,
                     "%s: DSA keys are refused by OpenSSH; use an ed25519 key",
                     path);
    } else if (!(tlen == 11 && memcmp(type, "ssh-ed25519", 11) == 0) &&
               !(tlen > 11 && memcmp(type, "ecdsa-sha2-", 11) == 0)) {
        rc = err_set(e, ERR_AUTH,
                     "%s: key type %.*s is not supported by libssh2 1.10; "
                     "use an ed25519 key",
                     path, (int)tlen, (const char *)type);
    } else if (encrypted) {
        rc = err_set(e, ERR_AUTH,
                     "%s: the key is protected by a passphrase; load it into "
                     "ssh-agent and leave out --key",
                     path);
    }
out:
    explicit_bzero(blob, n);
    free(blob);
    return rc;
}

char *ssh_wrap_command(const char *command)
{
    /* OpenSSH starts a command without a pty in a new session (setsid in
     * session.c), so the login shell's pid is the process group of
     * everything the command starts. Report it first, on stderr, then run
     * the command in that same shell (eval keeps the login shell's
     * semantics, as plain ssh would). */
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    buf_adds(&b, "printf '" SSH_PGID_TAG "%s\\n' \"$$\" >&2; eval '");
    for (const char *p = command; *p; p++) {
        if (*p == '\'')
            buf_adds(&b, "'\\''");
        else
            buf_addc(&b, *p);
    }
    buf_addc(&b, '\'');
    return buf_detach(&b);
}

char *ssh_kill_command(long pgid, int64_t grace_ms)
{
    long tenths = (long)((grace_ms + 99) / 100);
    /* No "--": dash's kill does not take it; "-N" after the signal is a
     * process group in every POSIX shell. */
    return xasprintf("kill -TERM -%ld 2>/dev/null || exit 0; i=0; "
                     "while [ $i -lt %ld ] && kill -0 -%ld 2>/dev/null; "
                     "do sleep 0.1; i=$((i+1)); done; "
                     "kill -KILL -%ld 2>/dev/null; exit 0",
                     pgid, tenths, pgid, pgid);
}

bool ssh_parse_pgid(const char *line, size_t len, long *pgid)
{
    size_t tl = strlen(SSH_PGID_TAG);
    if (len <= tl || memcmp(line, SSH_PGID_TAG, tl) != 0)
        return false;
    long v = 0;
    for (size_t i = tl; i < len; i++) {
        if (line[i] < '0' || line[i] > '9' || v > 100000000)
            return false;
        v = v * 10 + (line[i] - '0');
    }
    if (v <= 1)
        return false;
    *pgid = v;
    return true;
}

/* --- handshake slots per target -------------------------------------------
 */

static size_t ssh_target_find(struct ssh_transport *t, const char *address,
                              int port)
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
static bool ssh_target_acquire(struct ssh_conn *c)
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

static void ssh_chan_drop(struct ssh_conn *c, struct ssh_chan *ch)
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

static void ssh_session_drop(struct ssh_conn *c)
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
    char msg[ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    err_set(&e, code, "%s", msg);
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

static void ssh_conn_ctimer(struct loop *l, struct loop_timer *tm, void *arg)
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

static void ssh_conn_kick(struct loop *l, struct loop_timer *tm, void *arg)
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

/* Append a big-endian unsigned integer as an SSH mpint. */
static void ssh_put_mpint(struct buf *b, const BIGNUM *v)
{
    unsigned char n[80];
    int len = BN_num_bytes(v);
    if (len < 0 || len > (int)sizeof(n))
        len = 0;
    BN_bn2bin(v, n);
    bool pad = len > 0 && (n[0] & 0x80);
    uint32_t l = (uint32_t)len + (pad ? 1 : 0);
    unsigned char h[4] = {(unsigned char)(l >> 24), (unsigned char)(l >> 16),
                          (unsigned char)(l >> 8), (unsigned char)l};
    buf_add(b, h, 4);
    if (pad)
        buf_addc(b, '\0');
    buf_add(b, n, (size_t)len);
}

/* libssh2's sign callback for our pre-parsed key: the signature without
 * the method name, which libssh2 adds (ed25519: the 64 raw bytes; ECDSA:
 * mpint r, mpint s), allocated with malloc (libssh2's default allocator
 * frees it). */
static int ssh_sign(LIBSSH2_SESSION *s, unsigned char **sig, size_t *sig_len,
                    const unsigned char *data, size_t data_len, void **abstract)
{
    (void)s;
    struct ssh_key *t = *abstract;
    unsigned char raw[160];
    size_t n = sizeof(raw);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok =
        ctx != NULL &&
        EVP_DigestSignInit(ctx, NULL, t->sign_md, NULL, t->sign_key) == 1 &&
        EVP_DigestSign(ctx, raw, &n, data, data_len) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return -1;
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    if (t->sign_md == NULL) {
        buf_add(&b, raw, n);
    } else {
        /* OpenSSL gives DER; SSH wants two mpints. */
        const unsigned char *p = raw;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)n);
        if (es == NULL)
            return -1;
        const BIGNUM *r = NULL, *sv = NULL;
        ECDSA_SIG_get0(es, &r, &sv);
        ssh_put_mpint(&b, r);
        ssh_put_mpint(&b, sv);
        ECDSA_SIG_free(es);
    }
    *sig_len = b.len;
    *sig = (unsigned char *)buf_detach(&b);
    return 0;
}

/* One step of authentication: 0 done, EAGAIN, or an error already
 * reported (-1). */
static int ssh_conn_auth(struct ssh_conn *c)
{
    while (c->key_idx < c->nkeys) {
        struct ssh_key *k = c->keys[c->key_idx];
        int rc =
            k->sign_key != NULL
                ? libssh2_userauth_publickey(c->s, c->user, k->pub_blob,
                                             k->pub_len, ssh_sign, &k->self)
                : libssh2_userauth_publickey_frommemory(
                      c->s, c->user, strlen(c->user), NULL, 0, k->data, k->len,
                      NULL);
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

static void ssh_conn_keepalive(struct loop *l, struct loop_timer *tm, void *arg)
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

/* --- running commands ----------------------------------------------------
 */

static void ssh_conn_emit(struct ssh_conn *c, int stream, const char *p,
                          size_t n)
{
    if (n > 0 && c->base.cb->output != NULL && !c->zombie)
        c->base.cb->output(&c->base, stream, p, n, c->base.arg);
}

/* Stderr passes through here until the pgid line has been seen. */
static void ssh_conn_stderr(struct ssh_conn *c, const char *p, size_t n,
                            bool eof)
{
    if (c->pgid_done) {
        ssh_conn_emit(c, EXEC_STDERR, p, n);
        return;
    }
    buf_add(&c->errhead, p, n);
    for (;;) {
        const char *d = buf_cstr(&c->errhead);
        const char *nl = memchr(d, '\n', c->errhead.len);
        if (nl == NULL)
            break;
        size_t ll = (size_t)(nl - d);
        long pg;
        if (ssh_parse_pgid(d, ll, &pg)) {
            c->pgid = pg;
            c->pgid_done = true;
            buf_consume(&c->errhead, ll + 1);
            break;
        }
        /* Something printed before the marker (a noisy shell rc file). */
        ssh_conn_emit(c, EXEC_STDERR, d, ll + 1);
        buf_consume(&c->errhead, ll + 1);
    }
    if (c->pgid_done || eof || c->errhead.len > SSH_PGID_LINE_MAX) {
        c->pgid_done = true;
        ssh_conn_emit(c, EXEC_STDERR, buf_cstr(&c->errhead), c->errhead.len);
        buf_reset(&c->errhead);
    }
}

static bool ssh_blocked_out(struct ssh_conn *c)
{
    return (libssh2_session_block_directions(c->s) &
            LIBSSH2_SESSION_BLOCK_OUTBOUND) != 0;
}

/* Generic channel progress shared by the command and the killer:
 * returns 0 when the step moved, EAGAIN when waiting, or < 0 on error. */
static int ssh_chan_open(struct ssh_conn *c, struct ssh_chan *ch)
{
    if (ch->step == CH_OPEN) {
        ch->ch = libssh2_channel_open_session(c->s);
        if (ch->ch == NULL) {
            int rc = libssh2_session_last_errno(c->s);
            return rc == LIBSSH2_ERROR_EAGAIN ? rc : (rc ? rc : -1);
        }
        c->t->stats.channels++;
        ch->step = CH_EXEC;
    }
    if (ch->step == CH_EXEC) {
        int rc = libssh2_channel_process_startup(ch->ch, "exec", 4, ch->command,
                                                 (unsigned)strlen(ch->command));
        if (rc != 0)
            return rc;
        ch->step = CH_RUN;
    }
    return 0;
}

static int ssh_chan_finish(struct ssh_conn *c, struct ssh_chan *ch)
{
    if (ch->step == CH_CLOSE) {
        int rc = libssh2_channel_close(ch->ch);
        if (rc != 0)
            return rc;
        ch->step = CH_WAIT;
    }
    if (ch->step == CH_WAIT) {
        int rc = libssh2_channel_wait_closed(ch->ch);
        if (rc != 0)
            return rc;
        /* Only now are exit-status and exit-signal final
         * (docs/dependencies.md). */
        ch->exit_status = libssh2_channel_get_exit_status(ch->ch);
        char *sig = NULL;
        size_t siglen = 0;
        if (libssh2_channel_get_exit_signal(ch->ch, &sig, &siglen, NULL, NULL,
                                            NULL, NULL) == 0 &&
            sig != NULL) {
            snprintf(ch->signal, sizeof(ch->signal), "%.*s", (int)siglen, sig);
            libssh2_free(c->s, sig);
        }
        ch->step = CH_FREE;
    }
    if (ch->step == CH_FREE) {
        int rc = libssh2_channel_free(ch->ch);
        if (rc != 0)
            return rc;
        ch->ch = NULL;
        ch->step = CH_DONE;
    }
    return 0;
}

/* Drive the command's channel. */
static int ssh_main_step(struct ssh_conn *c)
{
    struct ssh_chan *ch = &c->main;
    int rc = ssh_chan_open(c, ch);
    if (rc != 0)
        return rc;
    if (ch->step == CH_RUN) {
        /* Write while the remote window allows, but never wait for it
         * before reading: a command that prints before it reads would
         * otherwise wait for us while we wait for it. Only a half-sent
         * packet (blocked outbound) must be finished before anything
         * else. */
        /* Go round until neither side moves: data libssh2 has already
         * taken off the socket (a queued packet, a window adjust that lets
         * the rest of the input go) wakes no poll, so stopping after one
         * pass can wait forever for an event that already happened. */
        bool window_retried = false; /* never spin on the window alone */
        for (bool progress = true; progress;) {
            progress = false;
            if (!c->read_first) {
                while (c->input_off < c->input_len) {
                    ssize_t n = libssh2_channel_write_ex(
                        ch->ch, 0, c->input + c->input_off,
                        c->input_len - c->input_off);
                    if (n == LIBSSH2_ERROR_EAGAIN) {
                        if (ssh_blocked_out(c))
                            return LIBSSH2_ERROR_EAGAIN;
                        break;
                    }
                    if (n < 0)
                        return (int)n;
                    c->input_off += (size_t)n;
                    progress = n > 0;
                }
                if (c->input_off == c->input_len && !ch->eof_sent) {
                    rc = libssh2_channel_send_eof(ch->ch);
                    if (rc == LIBSSH2_ERROR_EAGAIN && ssh_blocked_out(c))
                        return rc;
                    if (rc != 0 && rc != LIBSSH2_ERROR_EAGAIN)
                        return rc;
                    ch->eof_sent = rc == 0;
                }
            }
            c->read_first = false;
            char data[32768];
            for (int stream = 0; stream < 2 && !c->zombie; stream++) {
                for (;;) {
                    ssize_t n = libssh2_channel_read_ex(ch->ch, stream, data,
                                                        sizeof(data));
                    if (n == LIBSSH2_ERROR_EAGAIN && ssh_blocked_out(c)) {
                        /* A half-sent window adjust: resume reading
                         * first. */
                        c->read_first = true;
                        return LIBSSH2_ERROR_EAGAIN;
                    }
                    if (n == LIBSSH2_ERROR_EAGAIN || n == 0)
                        break;
                    if (n < 0)
                        return (int)n;
                    progress = true;
                    if (stream == 0)
                        ssh_conn_emit(c, EXEC_STDOUT, data, (size_t)n);
                    else
                        ssh_conn_stderr(c, data, (size_t)n, false);
                    if (c->zombie)
                        return 0;
                }
            }
            /* the window opened while we read: the input can go on */
            if (!progress && !window_retried && c->input_off < c->input_len &&
                libssh2_channel_window_write_ex(ch->ch, NULL) > 0)
                progress = window_retried = true;
        }
        if (!libssh2_channel_eof(ch->ch))
            return LIBSSH2_ERROR_EAGAIN;
        ssh_conn_stderr(c, "", 0, true);
        ch->step = CH_CLOSE;
    }
    return ssh_chan_finish(c, ch);
}

/* Drive the killer's channel: run the kill command, discard its output. */
static int ssh_kill_step(struct ssh_conn *c)
{
    struct ssh_chan *ch = &c->kill;
    int rc = ssh_chan_open(c, ch);
    if (rc != 0)
        return rc;
    if (ch->step == CH_RUN) {
        if (!ch->eof_sent) {
            rc = libssh2_channel_send_eof(ch->ch);
            if (rc != 0)
                return rc;
            ch->eof_sent = true;
        }
        char data[1024];
        for (int stream = 0; stream < 2; stream++)
            while (libssh2_channel_read_ex(ch->ch, stream, data, sizeof(data)) >
                   0)
                ;
        if (!libssh2_channel_eof(ch->ch))
            return LIBSSH2_ERROR_EAGAIN;
        ch->step = CH_CLOSE;
    }
    return ssh_chan_finish(c, ch);
}

static void ssh_conn_start_kill(struct ssh_conn *c)
{
    if (c->kill.step != CH_NONE || c->main.step == CH_DONE)
        return;
    if (c->pgid == 0) {
        if (c->main.step < CH_RUN || !c->pgid_done)
            return; /* wait for the pgid line; the give-up timer guards */
        /* No pgid line at all: closing the channel is all we can do. */
        if (c->main.step == CH_RUN)
            c->main.step = CH_CLOSE;
        return;
    }
    c->kill.command = ssh_kill_command(c->pgid, SSH_KILL_GRACE_MS);
    c->kill.step = CH_OPEN;
    log_debug("host=%s killing remote process group %ld", c->name, c->pgid);
}

/* The command is over: report it and go idle. */
static void ssh_conn_done(struct ssh_conn *c, bool lost)
{
    struct exec_result r;
    memset(&r, 0, sizeof(r));
    r.elapsed_ms = loop_now(c->t->loop) - c->started;
    char d[32];
    if (lost) {
        r.end = EXEC_FAILED;
        r.err = c->xerr;
    } else if (c->cancelled) {
        r.end = EXEC_CANCELLED;
    } else if (c->timed_out) {
        r.end = EXEC_TIMEOUT;
        clock_fmt_duration(c->timeout_ms, d, sizeof(d));
        if (c->pgid != 0 && !c->gave_up)
            err_set(&r.err, ERR_TIMEOUT,
                    "timed out after %s; remote process group %ld killed", d,
                    c->pgid);
        else
            err_set(&r.err, ERR_TIMEOUT,
                    "timed out after %s; could not confirm the remote "
                    "process was killed",
                    d);
    } else if (c->main.signal[0] != '\0') {
        r.end = EXEC_SIGNALED;
        snprintf(r.signal, sizeof(r.signal), "%s", c->main.signal);
    } else {
        r.end = EXEC_EXITED;
        r.exit_code = c->main.exit_status;
    }
    ssh_chan_drop(c, &c->main);
    ssh_chan_drop(c, &c->kill);
    free((void *)c->input);
    c->input = NULL;
    c->input_len = c->input_off = 0;
    buf_release(&c->errhead);
    c->running = false;
    loop_timer_stop(c->t->loop, &c->xtimer);
    if (lost) {
        ssh_session_drop(c);
        ssh_conn_set(c, SSH_FAILED);
    }
    if (c->orphan) {
        c->zombie = true; /* its kill is done: free it when unwound */
        return;
    }
    if (c->base.cb->done != NULL)
        c->base.cb->done(&c->base, &r, c->base.arg);
}

static void ssh_conn_lost(struct ssh_conn *c, int rc, const char *what)
{
    err_set(&c->xerr, ERR_SSH, "%s (%s:%d): connection lost during %s: %s",
            c->name, c->address, c->port, what,
            rc == LIBSSH2_ERROR_CHANNEL_FAILURE
                ? "the server refused a new channel (MaxSessions?)"
                : ssh_errmsg(c->s));
    ssh_conn_done(c, true);
}

/* One pass over the command's channel and the killer's. Returns false
 * when the turn must end here (blocked outbound, connection lost, conn
 * closed by a callback). */
static bool ssh_conn_chan_pass(struct ssh_conn *c)
{
    /* Resume a half-sent operation first. */
    enum ssh_op order[2] = {OP_MAIN, OP_KILL};
    if (c->blocked == OP_KILL) {
        order[0] = OP_KILL;
        order[1] = OP_MAIN;
    }
    c->blocked = OP_NONE;
    for (int i = 0; i < 2 && !c->zombie; i++) {
        struct ssh_chan *ch = order[i] == OP_MAIN ? &c->main : &c->kill;
        if (ch->step == CH_NONE || ch->step == CH_DONE)
            continue;
        int rc = order[i] == OP_MAIN ? ssh_main_step(c) : ssh_kill_step(c);
        if (c->zombie)
            return false;
        if (rc == LIBSSH2_ERROR_EAGAIN) {
            if (ssh_blocked_out(c)) {
                c->blocked = order[i];
                return false;
            }
            continue;
        }
        if (rc < 0) {
            ssh_conn_lost(c, rc,
                          order[i] == OP_MAIN ? "the command" : "the kill");
            return false;
        }
    }
    return !c->zombie;
}

/* Advance the running command and its killer. */
static void ssh_conn_exec_step(struct ssh_conn *c)
{
    /* One channel's calls take the other's packets off the socket too
     * (the command's EOF and close while the killer waits for its own):
     * those wake no poll, so go round while a channel moves on. */
    for (int pass = 0; pass < 4; pass++) {
        enum ssh_chstep m = c->main.step, k = c->kill.step;
        if (!ssh_conn_chan_pass(c))
            return;
        if (c->main.step == m && c->kill.step == k)
            break;
    }
    if (c->timed_out || c->cancelled)
        ssh_conn_start_kill(c);
    bool kill_busy = c->kill.step != CH_NONE && c->kill.step != CH_DONE;
    if (c->main.step == CH_DONE && !kill_busy)
        ssh_conn_done(c, false);
    else if (c->kill.step == CH_OPEN && c->blocked == OP_NONE)
        ssh_conn_exec_step(c); /* the kill was just queued: start it */
}

static void ssh_conn_xtimer(struct loop *l, struct loop_timer *tm, void *arg)
{
    (void)tm;
    struct ssh_conn *c = arg;
    if (!c->running)
        return;
    if (!c->timed_out && !c->cancelled) {
        c->timed_out = true;
        log_debug("host=%s command timed out", c->name);
        loop_timer_start(l, &c->xtimer, SSH_KILL_GIVE_UP_MS);
    } else {
        /* The kill did not end the command: give the session up before
         * reporting, so the callback sees a closed conn. */
        c->gave_up = true;
        c->busy++;
        ssh_session_drop(c);
        ssh_conn_set(c, SSH_FAILED);
        ssh_conn_done(c, false);
        c->busy--;
    }
    ssh_conn_run(c);
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

static void ssh_conn_destroy(struct ssh_conn *c)
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

static void ssh_conn_run(struct ssh_conn *c)
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

/* --- transport ops ---------------------------------------------------------
 */

/* A path with a leading ~ made absolute (ansible_ssh_private_key_file,
 * as Ansible expands it). Caller frees. */
static char *ssh_tilde(const struct ssh_transport *t, const char *path)
{
    if (path[0] == '~' && (path[1] == '/' || path[1] == '\0'))
        return xasprintf("%s%s", t->home, path + 1);
    return xstrdup(path);
}

/* The known_hosts file at path, read on first use; NULL with e set when
 * it cannot be read. */
static struct knownhosts *ssh_kh_get(struct ssh_transport *t, const char *path,
                                     struct err *e)
{
    if (strcmp(path, knownhosts_path(t->kh)) == 0)
        return t->kh;
    size_t i = 0;
    while (i < t->nkh && strcmp(t->khpaths[i], path) != 0)
        i++;
    if (i == t->nkh) {
        t->khpaths = xrealloc(t->khpaths, (i + 1) * sizeof(*t->khpaths));
        t->khfiles = xrealloc(t->khfiles, (i + 1) * sizeof(*t->khfiles));
        t->khpaths[i] = xstrdup(path);
        memset(&t->khfiles[i], 0, sizeof(t->khfiles[i]));
        t->khfiles[i].kh = knownhosts_load(path, &t->khfiles[i].err);
        t->nkh++;
    }
    if (t->khfiles[i].kh == NULL)
        err_set(e, t->khfiles[i].err.code, "%s (UserKnownHostsFile)",
                t->khfiles[i].err.msg);
    return t->khfiles[i].kh;
}

static struct ssh_key *ssh_key_get(struct ssh_transport *t, const char *path,
                                   const char *origin, bool *fresh);

static void ssh_conn_add_key(struct ssh_conn *c, struct ssh_key *k)
{
    for (size_t i = 0; i < c->nkeys; i++)
        if (c->keys[i] == k)
            return;
    c->keys = xrealloc(c->keys, (c->nkeys + 1) * sizeof(*c->keys));
    c->keys[c->nkeys++] = k;
}

/* The keys to try: ansible_ssh_private_key_file, else --key, else the
 * config's IdentityFiles that can be used, else drover's default (none:
 * ssh-agent). */
static void ssh_conn_keys(struct ssh_conn *c, const struct target *tg,
                          const struct sshconfig_host *h,
                          const struct sshconfig_tokens *tk)
{
    struct ssh_transport *t = c->t;
    if (tg->key_file != NULL && *tg->key_file != '\0') {
        char *path = ssh_tilde(t, tg->key_file);
        struct ssh_key *k =
            ssh_key_get(t, path, " (ansible_ssh_private_key_file)", NULL);
        free(path);
        if (k->data == NULL)
            err_set(&c->open_err, k->err.code, "%s: %s", c->name, k->err.msg);
        else
            ssh_conn_add_key(c, k);
        return;
    }
    for (size_t i = 0; !t->key_flag && i < h->nidentity; i++) {
        char *path = sshconfig_expand(h->identity[i], tk);
        bool fresh = false;
        struct ssh_key *k = ssh_key_get(t, path, " (IdentityFile)", &fresh);
        free(path);
        if (k->data != NULL)
            ssh_conn_add_key(c, k);
        else if (fresh && k->err.sys_errno == ENOENT)
            log_debug("IdentityFile skipped: %s", k->err.msg); /* as ssh */
        else if (fresh)
            log_warn("IdentityFile skipped: %s", k->err.msg);
    }
    if (c->nkeys == 0 && t->key != NULL)
        ssh_conn_add_key(c, t->key);
}

/* Where and how to reach tg: the inventory's values, then the flags,
 * then the ssh config, then drover's defaults (docs/ssh.md). The alias
 * looked up is the target's address (ansible_host, else its name), what
 * OpenSSH sees when Ansible runs it. A problem is kept in c->open_err and
 * reported on the conn's first turn. */
static void ssh_conn_configure(struct ssh_conn *c, const struct target *tg)
{
    struct ssh_transport *t = c->t;
    const char *alias = tg->address ? tg->address : tg->name;
    struct sshconfig_host h;
    memset(&h, 0, sizeof(h));
    h.alive_ms = -1;
    if (t->cfg != NULL)
        sshconfig_lookup(t->cfg, alias, &h, &c->open_err);
    c->via_hostname = h.hostname != NULL;
    c->address = xstrdup(h.hostname ? h.hostname : alias);
    c->port = tg->port > 0 ? tg->port : h.port > 0 ? h.port : t->port;
    c->user = xstrdup(tg->user && *tg->user            ? tg->user
                      : t->user_flag || h.user == NULL ? t->user
                                                       : h.user);
    c->kh = t->kh;
    c->accept_new = t->accept_new;
    c->connect_timeout = t->timeout_flag || h.connect_timeout_ms <= 0
                             ? t->connect_timeout
                             : h.connect_timeout_ms;
    c->keepalive =
        t->keepalive_set || h.alive_ms < 0 ? t->keepalive : h.alive_ms;
    if (!t->accept_new && h.strict == SSHCONFIG_STRICT_ACCEPT_NEW)
        c->accept_new = true;
    if (!t->accept_new && h.strict == SSHCONFIG_STRICT_NO) {
        /* drover never connects to a changed key: "no" is accept-new. */
        c->accept_new = true;
        if (!t->warned_no)
            log_warn("%s:%d: StrictHostKeyChecking no: drover treats it as "
                     "accept-new (unknown hosts are recorded, a changed key "
                     "is still refused)",
                     h.strict_at.file, h.strict_at.line);
        t->warned_no = true;
    }
    if (h.proxy != NULL)
        err_set(&c->open_err, ERR_INVALID,
                "%s: %s:%d: %s: drover cannot reach a host through a jump "
                "host; refused rather than connecting directly",
                c->name, h.proxy_at.file, h.proxy_at.line, h.proxy);
    struct sshconfig_tokens tk = {.home = t->home,
                                  .host = c->address,
                                  .alias = alias,
                                  .port = c->port,
                                  .ruser = c->user,
                                  .luser = t->luser};
    if (!t->kh_flag && h.known_hosts != NULL && c->open_err.code == ERR_OK) {
        char *path = sshconfig_expand(h.known_hosts, &tk);
        struct knownhosts *kh = ssh_kh_get(t, path, &c->open_err);
        free(path);
        if (kh != NULL)
            c->kh = kh;
    }
    if (c->open_err.code == ERR_OK)
        ssh_conn_keys(c, tg, &h, &tk);
    sshconfig_host_release(&h);
}

static struct conn *ssh_connect(struct transport *tp, const struct target *tg,
                                const struct conn_cb *cb, void *arg)
{
    struct ssh_transport *t = (struct ssh_transport *)tp;
    struct ssh_conn *c = xcalloc(1, sizeof(*c));
    c->base.t = tp;
    c->base.cb = cb;
    c->base.arg = arg;
    c->t = t;
    c->name = xstrdup(tg->name ? tg->name : tg->address);
    ssh_conn_configure(c, tg);
    c->fd = -1;
    c->state = SSH_QUEUED;
    buf_init(&c->errhead, BUF_UNLIMITED);
    loop_timer_init(&c->ctimer, ssh_conn_ctimer, c);
    loop_timer_init(&c->ktimer, ssh_conn_keepalive, c);
    loop_timer_init(&c->xtimer, ssh_conn_xtimer, c);
    loop_timer_init(&c->kick, ssh_conn_kick, c);
    c->tg_idx = ssh_target_find(t, c->address, c->port);
    if (c->open_err.code != ERR_OK) { /* reported on the first turn */
        loop_timer_start(t->loop, &c->kick, 0);
        return &c->base;
    }
    c->deadline = loop_now(t->loop) + c->connect_timeout;
    loop_timer_start(t->loop, &c->ctimer, c->connect_timeout);
    if (ssh_target_acquire(c))
        loop_timer_start(t->loop, &c->kick, 0);
    return &c->base;
}

static enum err_code ssh_exec(struct conn *cp, const struct exec_spec *sp,
                              struct err *e)
{
    struct ssh_conn *c = (struct ssh_conn *)cp;
    if (c->state != SSH_READY)
        return err_set(e, ERR_SSH, "%s: the connection is not open", c->name);
    if (c->running)
        return err_set(e, ERR_SSH, "%s: a command is already running", c->name);
    c->running = true;
    memset(&c->main, 0, sizeof(c->main));
    memset(&c->kill, 0, sizeof(c->kill));
    c->main.command = ssh_wrap_command(sp->command);
    c->main.step = CH_OPEN;
    c->input_len = sp->input != NULL ? sp->input_len : 0;
    c->input = c->input_len ? xmalloc(c->input_len) : NULL;
    if (c->input_len)
        memcpy((void *)c->input, sp->input, c->input_len);
    c->input_off = 0;
    c->read_first = false;
    c->started = loop_now(c->t->loop);
    c->timeout_ms = sp->timeout_ms;
    c->pgid = 0;
    c->pgid_done = false;
    c->timed_out = c->cancelled = c->gave_up = false;
    err_clear(&c->xerr);
    buf_init(&c->errhead, BUF_UNLIMITED);
    if (sp->timeout_ms > 0)
        loop_timer_start(c->t->loop, &c->xtimer, sp->timeout_ms);
    /* Start on the next turn, never inside the caller's stack. */
    loop_timer_start(c->t->loop, &c->kick, 0);
    return ERR_OK;
}

static void ssh_cancel(struct conn *cp)
{
    struct ssh_conn *c = (struct ssh_conn *)cp;
    if (!c->running || c->cancelled)
        return;
    c->cancelled = true;
    loop_timer_start(c->t->loop, &c->xtimer, SSH_CANCEL_GIVE_UP_MS);
    loop_timer_start(c->t->loop, &c->kick, 0);
}

static const struct conn_cb ssh_silent_cb = {0};

static void ssh_close(struct conn *cp)
{
    struct ssh_conn *c = (struct ssh_conn *)cp;
    if (c->running && c->state == SSH_READY && !c->zombie && !c->orphan) {
        /* Closing kills the running command (transport.h): the conn lives
         * on, owned by the transport and without callbacks, until its kill
         * has run on the host. */
        c->orphan = true;
        c->base.cb = &ssh_silent_cb;
        c->orphan_next = c->t->orphans;
        c->t->orphans = c;
        if (!c->cancelled && !c->timed_out) {
            c->cancelled = true;
            loop_timer_start(c->t->loop, &c->xtimer, SSH_KILL_GIVE_UP_MS);
        }
        loop_timer_start(c->t->loop, &c->kick, 0);
        return;
    }
    c->zombie = true;
    if (c->busy == 0)
        ssh_conn_destroy(c);
}

static void ssh_key_free(struct ssh_key *k)
{
    if (k == NULL)
        return;
    EVP_PKEY_free(k->sign_key);
    free(k->pub_blob);
    if (k->data != NULL) {
        explicit_bzero(k->data, k->len);
        free(k->data);
    }
    free(k->path);
    free(k);
}

static void ssh_free(struct transport *tp)
{
    struct ssh_transport *t = (struct ssh_transport *)tp;
    /* Kills still under way are abandoned with their sessions. */
    while (t->orphans != NULL)
        ssh_conn_destroy(t->orphans);
    for (size_t i = 0; i < t->ntargets; i++)
        free(t->targets[i].key);
    free(t->targets);
    knownhosts_free(t->kh);
    for (size_t i = 0; i < t->nkh; i++) {
        knownhosts_free(t->khfiles[i].kh);
        free(t->khpaths[i]);
    }
    free(t->khfiles);
    free(t->khpaths);
    for (size_t i = 0; i < t->nkeys; i++)
        ssh_key_free(t->keys[i]);
    free(t->keys);
    sshconfig_free(t->own_cfg);
    free(t->cfg_note);
    free(t->home);
    free(t->luser);
    free(t->user);
    free(t);
}

static const struct transport_ops ssh_ops = {
    .name = "ssh",
    .caps = TRANSPORT_CAP_SHELL,
    .connect = ssh_connect,
    .exec = ssh_exec,
    .cancel = ssh_cancel,
    .close = ssh_close,
    .free = ssh_free,
};

void ssh_options_init(struct ssh_options *o)
{
    memset(o, 0, sizeof(*o));
}

void ssh_transport_stats(const struct transport *tp, struct ssh_stats *out)
{
    *out = ((const struct ssh_transport *)tp)->stats;
}

/* An ECDSA key from its OpenSSH parts: curve ("nistp256"), public point,
 * private scalar. NULL if OpenSSL refuses them. */
static EVP_PKEY *ssh_key_ecdsa(const unsigned char *curve, size_t cl,
                               const unsigned char *q, size_t ql,
                               const unsigned char *d, size_t dl,
                               const EVP_MD **md)
{
    const char *group = NULL;
    if (cl == 8 && memcmp(curve, "nistp256", 8) == 0) {
        group = "P-256";
        *md = EVP_sha256();
    } else if (cl == 8 && memcmp(curve, "nistp384", 8) == 0) {
        group = "P-384";
        *md = EVP_sha384();
    } else if (cl == 8 && memcmp(curve, "nistp521", 8) == 0) {
        group = "P-521";
        *md = EVP_sha512();
    } else {
        return NULL;
    }
    EVP_PKEY *pk = NULL;
    BIGNUM *bn = BN_bin2bn(d, (int)dl, NULL);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (bn != NULL && bld != NULL && pctx != NULL &&
        OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                        0) == 1 &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, bn) == 1 &&
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, q, ql) ==
            1 &&
        (params = OSSL_PARAM_BLD_to_param(bld)) != NULL &&
        EVP_PKEY_fromdata_init(pctx) == 1)
        EVP_PKEY_fromdata(pctx, &pk, EVP_PKEY_KEYPAIR, params);
    EVP_PKEY_CTX_free(pctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_clear_free(bn);
    return pk;
}

/* An unencrypted OpenSSH ed25519 or ECDSA key is parsed once here, and we
 * sign for libssh2 (ssh_sign): libssh2 1.10 would parse the key for every
 * host, through OpenSSL 3's decoders first, which cost more CPU per host
 * than the rest of the connection (docs/ssh.md; and its ECDSA path
 * leaks). Other keys (PEM files) are left to libssh2. */
static void ssh_key_parse(struct ssh_key *t)
{
    static const char begin[] = "-----BEGIN OPENSSH PRIVATE KEY-----";
    static const char end[] = "-----END OPENSSH PRIVATE KEY-----";
    const char *b = memmem(t->data, t->len, begin, sizeof(begin) - 1);
    if (b == NULL)
        return;
    b += sizeof(begin) - 1;
    const char *z =
        memmem(b, t->len - (size_t)(b - t->data), end, sizeof(end) - 1);
    if (z == NULL)
        return;
    size_t n;
    unsigned char *blob = ssh_unbase64(b, (size_t)(z - b), &n);
    static const char magic[] = "openssh-key-v1";
    size_t off = sizeof(magic), l = 0, publ = 0, privl = 0, tl = 0;
    const unsigned char *cipher = NULL, *pub = NULL, *priv = NULL;
    const unsigned char *type = NULL;
    if (n < sizeof(magic) || memcmp(blob, magic, sizeof(magic)) != 0 ||
        (cipher = ssh_sshstr(blob, n, &off, &l)) == NULL || l != 4 ||
        memcmp(cipher, "none", 4) != 0 ||
        ssh_sshstr(blob, n, &off, &l) == NULL ||
        ssh_sshstr(blob, n, &off, &l) == NULL || off + 4 > n)
        goto out;
    off += 4; /* number of keys: we use the first */
    if ((pub = ssh_sshstr(blob, n, &off, &publ)) == NULL ||
        (priv = ssh_sshstr(blob, n, &off, &privl)) == NULL || privl < 8 ||
        memcmp(priv, priv + 4, 4) != 0) /* the two check ints must agree */
        goto out;
    size_t poff = 8;
    if ((type = ssh_sshstr(priv, privl, &poff, &tl)) == NULL)
        goto out;
    if (tl == 11 && memcmp(type, "ssh-ed25519", 11) == 0) {
        const unsigned char *sk = NULL;
        if (ssh_sshstr(priv, privl, &poff, &l) == NULL || l != 32 ||
            (sk = ssh_sshstr(priv, privl, &poff, &l)) == NULL || l != 64)
            goto out;
        /* sk: the 32-byte seed, then the public key again. */
        t->sign_key =
            EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, sk, 32);
        t->sign_md = NULL;
    } else if (tl > 11 && memcmp(type, "ecdsa-sha2-", 11) == 0) {
        size_t cl = 0, ql = 0, dl = 0;
        const unsigned char *curve = ssh_sshstr(priv, privl, &poff, &cl);
        const unsigned char *q = ssh_sshstr(priv, privl, &poff, &ql);
        const unsigned char *d = ssh_sshstr(priv, privl, &poff, &dl);
        if (curve == NULL || q == NULL || d == NULL)
            goto out;
        t->sign_key = ssh_key_ecdsa(curve, cl, q, ql, d, dl, &t->sign_md);
    }
    if (t->sign_key != NULL) {
        t->pub_blob = xmalloc(publ);
        memcpy(t->pub_blob, pub, publ);
        t->pub_len = publ;
        t->self = t;
    }
out:
    explicit_bzero(blob, n);
    free(blob);
}

/* Read k->path (origin says where it was named, for messages). */
static enum err_code ssh_key_read(struct ssh_key *t, const char *origin,
                                  struct err *e)
{
    int fd = open(t->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_sys(e, "%s: cannot read the private key%s", t->path, origin);
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size <= 0 || st.st_size > SSH_KEY_MAX) {
        close(fd);
        return err_set(e, ERR_PARSE, "%s: not a private key (size)", t->path);
    }
    t->len = (size_t)st.st_size;
    t->data = xmalloc(t->len + 1);
    ssize_t n = read(fd, t->data, t->len);
    close(fd);
    if (n != (ssize_t)t->len)
        return err_sys(e, "%s: cannot read the private key", t->path);
    t->data[t->len] = '\0';
    if (ssh_key_check(t->data, t->len, t->path, e) != ERR_OK)
        return e->code;
    ssh_key_parse(t);
    return ERR_OK;
}

/* The key at path, read on first use (*fresh: this call read it). One
 * that cannot be used has data NULL and err set. */
static struct ssh_key *ssh_key_get(struct ssh_transport *t, const char *path,
                                   const char *origin, bool *fresh)
{
    for (size_t i = 0; i < t->nkeys; i++)
        if (strcmp(t->keys[i]->path, path) == 0)
            return t->keys[i];
    struct ssh_key *k = xcalloc(1, sizeof(*k));
    k->path = xstrdup(path);
    if (ssh_key_read(k, origin, &k->err) != ERR_OK && k->data != NULL) {
        explicit_bzero(k->data, k->len);
        free(k->data);
        k->data = NULL;
    }
    t->keys = xrealloc(t->keys, (t->nkeys + 1) * sizeof(*t->keys));
    t->keys[t->nkeys++] = k;
    if (fresh != NULL)
        *fresh = true;
    return k;
}

/* The ssh config: the one the caller read, else --ssh-config FILE,
 * none, or ~/.ssh/config if it exists (sshconfig_open). */
static enum err_code ssh_load_config(struct ssh_transport *t,
                                     const struct ssh_options *o, struct err *e)
{
    if (o->config_read)
        t->cfg = o->config;
    else if (sshconfig_open(o->config_file, t->home, &t->own_cfg, e) == ERR_OK)
        t->cfg = t->own_cfg;
    if (t->cfg == NULL)
        t->cfg_note = sshconfig_absent(o->config_file, t->home);
    return e->code;
}

struct transport *ssh_transport_new(struct loop *l, const struct ssh_options *o,
                                    struct err *e)
{
    static bool inited;
    if (!inited) {
        if (libssh2_init(0) != 0) {
            err_set(e, ERR_SSH, "libssh2_init failed");
            return NULL;
        }
        inited = true;
        srandom((unsigned)getpid() ^ (unsigned)loop_now(l));
    }
    struct ssh_transport *t = xcalloc(1, sizeof(*t));
    t->base.ops = &ssh_ops;
    t->loop = l;
    const char *home = getenv("HOME");
    t->home = xstrdup(home ? home : "");
    const char *luser = getenv("USER");
    t->luser = xstrdup(luser && *luser ? luser : "root");
    t->user_flag = o->user != NULL && *o->user != '\0';
    t->user = xstrdup(t->user_flag ? o->user : t->luser);
    t->accept_new = o->accept_new;
    t->timeout_flag = o->connect_timeout_ms > 0;
    t->connect_timeout = o->connect_timeout_ms > 0 ? o->connect_timeout_ms
                                                   : SSH_CONNECT_TIMEOUT_MS;
    t->keepalive_set = o->keepalive_ms != 0;
    t->keepalive = o->keepalive_ms == 0  ? SSH_KEEPALIVE_MS
                   : o->keepalive_ms < 0 ? 0
                                         : o->keepalive_ms;
    t->hs_cap = o->handshakes_per_target > 0 ? o->handshakes_per_target
                                             : SSH_HANDSHAKES_PER_TARGET;
    t->port = o->port > 0 ? o->port : SSH_DEFAULT_PORT;

    /* --key, and the default key, are read now: a bad one fails before
     * any host is contacted. Keys the ssh config names are read when a
     * host first needs them. */
    t->key_flag = o->key_file != NULL;
    char *kp = o->key_file != NULL ? xstrdup(o->key_file)
                                   : xasprintf("%s/.ssh/id_ed25519", t->home);
    if (t->key_flag || access(kp, F_OK) == 0) {
        t->key = ssh_key_get(t, kp, t->key_flag ? " (--key)" : "", NULL);
        if (t->key->data == NULL) {
            err_set(e, t->key->err.code, "%s", t->key->err.msg);
            free(kp);
            ssh_free(&t->base);
            return NULL;
        }
    } else if (getenv("SSH_AUTH_SOCK") == NULL) {
        /* Only hosts that have no other key fail for it. */
        err_set(&t->nokey, ERR_AUTH,
                "no key: %s does not exist and there is no ssh-agent "
                "($SSH_AUTH_SOCK); pass --key FILE",
                kp);
    }
    free(kp);
    t->kh_flag = o->known_hosts != NULL;
    char *kh = o->known_hosts != NULL
                   ? xstrdup(o->known_hosts)
                   : xasprintf("%s/.ssh/known_hosts", t->home);
    t->kh = knownhosts_load(kh, e);
    free(kh);
    if (t->kh == NULL || ssh_load_config(t, o, e) != ERR_OK) {
        ssh_free(&t->base);
        return NULL;
    }
    return &t->base;
}
