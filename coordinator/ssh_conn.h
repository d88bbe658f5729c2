/* coordinator/ssh_conn.h: the ssh transport's insides, shared by ssh.c
 * (transport_ops), ssh_conn.c (opening a conn: its state machine) and
 * ssh_exec.c (running commands on it); nothing outside the ssh transport
 * includes it. */
#ifndef DROVER_SSH_CONN_H
#define DROVER_SSH_CONN_H

#include "ssh.h"

#include "buf.h"
#include "knownhosts.h"
#include "loop.h"
#include "ssh_key.h"
#include "sshconfig.h"

#include <libssh2.h>
#include <stdbool.h>
#include <stdint.h>

/* Where a conn is in its life; ssh_conn_set logs each move. */
enum ssh_state {
    SSH_QUEUED,     /* waiting for a handshake slot on its target */
    SSH_RETRY_WAIT, /* dropped during the handshake; waiting to retry */
    SSH_CONNECTING, /* non-blocking TCP connect */
    SSH_HANDSHAKE,  /* banner, key exchange, host key check */
    SSH_AUTH,       /* public key authentication */
    SSH_READY,      /* open; idle or running a command */
    SSH_FAILED      /* could not open, or the connection was lost */
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

/* --- ssh_conn.c: opening a conn ----------------------------------------- */

/* libssh2's last error message on s; never NULL. Borrowed. */
const char *ssh_errmsg(LIBSSH2_SESSION *s);

/* Move c to state st, logging old -> new. */
void ssh_conn_set(struct ssh_conn *c, enum ssh_state st);

/* The index of address:port in t->targets, added if new. */
size_t ssh_target_find(struct ssh_transport *t, const char *address, int port);

/* Take a handshake slot on c's target or join its queue. Returns true
 * with the slot taken. */
bool ssh_target_acquire(struct ssh_conn *c);

/* Free channel ch of c (libssh2's handle and its command). */
void ssh_chan_drop(struct ssh_conn *c, struct ssh_chan *ch);

/* Free c's channels, session and socket; c stays, unopened. */
void ssh_session_drop(struct ssh_conn *c);

/* Loop timer callbacks (arg is the conn): the open deadline or the end of
 * a retry wait; the first turn of a new conn; an idle keepalive. */
void ssh_conn_ctimer(struct loop *l, struct loop_timer *tm, void *arg);
void ssh_conn_kick(struct loop *l, struct loop_timer *tm, void *arg);
void ssh_conn_keepalive(struct loop *l, struct loop_timer *tm, void *arg);

/* Free c and all it holds (its target slot, timers, session). */
void ssh_conn_destroy(struct ssh_conn *c);

/* One turn of c: advance it as far as it goes without blocking, then wait
 * in the loop for what libssh2 is blocked on (or destroy a zombie once no
 * caller is inside it). */
void ssh_conn_run(struct ssh_conn *c);

/* --- ssh_exec.c: running commands on a conn ------------------------------ */

/* Advance the running command and its killer. */
void ssh_conn_exec_step(struct ssh_conn *c);

/* Loop timer callback (arg is the conn): the command's timeout, then the
 * kill's give-up deadline. */
void ssh_conn_xtimer(struct loop *l, struct loop_timer *tm, void *arg);

#endif
