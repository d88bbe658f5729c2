/* agent/agentd.c: the agent's side of PROTOCOL.md. Messages arrive as
 * [routing id][frame] on the ROUTER; each frame is decoded strictly and
 * dispatched from a fixed table; every message's epoch is checked (and a
 * higher one stored) before its handler runs. */
#include "agentd.h"

#include "buf.h"
#include "clock.h"
#include "job.h"
#include "jobstore.h"
#include "log.h"
#include "loop.h"
#include "proto.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#define AGENTD_VERSION "drover-agent 0.1.0"

enum {
    AGENTD_RID_MAX = 256, /* routing ids are at most 255 bytes */
    AGENTD_PEERS = 32,    /* peers tracked for garbage */
    AGENTD_BATCH = 256,   /* messages per readiness callback */
};

struct agentd_peer {
    uint8_t rid[AGENTD_RID_MAX]; /* routing id */
    size_t rid_len;              /* its length; 0 = free slot */
    unsigned bad;                /* malformed frames in a row */
    int64_t ignore_until;        /* monotonic ms; 0 = not ignored */
};

struct agentd_job {
    struct agentd *a;            /* owner */
    struct agentd_job *next;     /* in a->jobs */
    char *id;                    /* job id */
    struct job *job;             /* the process */
    uint8_t rid[AGENTD_RID_MAX]; /* coordinator to report to */
    size_t rid_len;              /* its length */
    uint64_t req;                /* the EXEC's request id */
    uint64_t epoch;              /* the EXEC's epoch */
    char coordinator[16];        /* the coordinator's key, for logs */
    uint64_t next_seq;           /* OUTPUT chunks sent */
    uint64_t acked;              /* chunks acknowledged */
    uint64_t cap;                /* output cap in bytes */
    uint64_t sent;               /* output bytes sent */
    uint64_t dropped;            /* output bytes cut */
    bool discard;                /* coordinator stopped reading */
    struct loop_timer stall;     /* window full for too long */
};

struct agentd_sock {
    struct loop *loop;      /* the reactor */
    void *sock;             /* ROUTER, CURVE server, one for all agents */
    struct loop_io io;      /* sock on the loop */
    struct agentd **agents; /* by index (the ZAP domain "aN") */
    size_t n;               /* agents bound */
    size_t cap;             /* slots allocated */
    struct buf out;         /* encode buffer, reused */
};

struct agentd {
    struct agentd_sock *s;                  /* the socket it is bound on */
    size_t index;                           /* its slot in s->agents */
    bool bound;                             /* its endpoint is bound */
    struct loop *loop;                      /* the reactor */
    struct job_table *jt;                   /* the process's children */
    struct agentd_options o;                /* options (strings borrowed) */
    char *name;                             /* for logs */
    char *state_dir;                        /* copy of o.state_dir, or NULL */
    char endpoint[256];                     /* bound endpoint */
    struct jobstore *store;                 /* results and epoch */
    struct agentd_job *jobs;                /* running jobs */
    size_t njobs;                           /* how many */
    struct agentd_peer peers[AGENTD_PEERS]; /* garbage accounting */
    bool closing;                           /* agentd_shutdown was called */
};

/* --- sending ---------------------------------------------------------------
 */

static bool agentd_send(struct agentd *a, const uint8_t *rid, size_t rid_len,
                        struct proto_msg *m)
{
    struct err e = {0};
    struct buf *out = &a->s->out;
    buf_reset(out);
    m->epoch = jobstore_epoch(a->store);
    if (proto_encode(m, out, &e) != ERR_OK) {
        log_error("agent=%s: encode %s: %s", a->name, proto_type_name(m->type),
                  e.msg);
        return false;
    }
    if (zmq_send(a->s->sock, rid, rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(a->s->sock, out->data, out->len, ZMQ_DONTWAIT) < 0) {
        log_debug("agent=%s: %s not sent: %s", a->name,
                  proto_type_name(m->type), zmq_strerror(errno));
        return false;
    }
    return true;
}

static void agentd_error(struct agentd *a, const uint8_t *rid, size_t rid_len,
                         uint64_t req, int code, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static void agentd_error(struct agentd *a, const uint8_t *rid, size_t rid_len,
                         uint64_t req, int code, const char *fmt, ...)
{
    char text[PROTO_TEXT_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    struct proto_msg m = {
        .type = PROTO_ERROR, .req = req, .code = code, .text = text};
    agentd_send(a, rid, rid_len, &m);
}

/* --- jobs ------------------------------------------------------------------
 */

static struct agentd_job *agentd_job_find(struct agentd *a, const char *id)
{
    for (struct agentd_job *j = a->jobs; j != NULL; j = j->next)
        if (strcmp(j->id, id) == 0)
            return j;
    return NULL;
}

static void agentd_job_unlink(struct agentd_job *aj)
{
    struct agentd *a = aj->a;
    for (struct agentd_job **pp = &a->jobs; *pp != NULL; pp = &(*pp)->next)
        if (*pp == aj) {
            *pp = aj->next;
            a->njobs--;
            return;
        }
}

static void agentd_job_free(struct agentd_job *aj)
{
    loop_timer_stop(aj->a->loop, &aj->stall);
    job_free(aj->job);
    free(aj->id);
    free(aj);
}

static void agentd_chunk(struct agentd_job *aj, int stream, const char *data,
                         size_t len)
{
    struct proto_msg m = {.type = PROTO_OUTPUT,
                          .req = aj->req,
                          .job = aj->id,
                          .stream = (uint32_t)stream,
                          .seq = aj->next_seq++,
                          .data = (void *)data,
                          .data_len = len};
    agentd_send(aj->a, aj->rid, aj->rid_len, &m);
}

static void agentd_stalled(struct loop *l, struct loop_timer *t, void *arg)
{
    (void)l;
    (void)t;
    struct agentd_job *aj = arg;
    log_warn("agent=%s job=%s: no output acknowledged for %ds; discarding "
             "the rest of its output",
             aj->a->name, aj->id, AGENTD_STALL_MS / 1000);
    aj->discard = true;
    job_pause(aj->job, false);
}

static void agentd_job_output(struct job *j, int stream, const char *data,
                              size_t len, void *arg)
{
    (void)j;
    struct agentd_job *aj = arg;
    if (aj->discard) {
        aj->dropped += len;
        return;
    }
    size_t room = aj->sent < aj->cap ? (size_t)(aj->cap - aj->sent) : 0;
    size_t n = len < room ? len : room;
    if (n > 0) {
        agentd_chunk(aj, stream, data, n);
        aj->sent += n;
    }
    if (n < len) {
        aj->dropped += len - n;
        if (aj->sent >= aj->cap && !aj->discard) {
            char marker[128];
            int mn = snprintf(
                marker, sizeof(marker),
                "\n[drover-agent: output cut at %" PRIu64 " bytes]\n", aj->cap);
            agentd_chunk(aj, 2, marker, (size_t)mn);
            aj->discard = true; /* read and count the rest, no window */
            job_pause(aj->job, false);
            loop_timer_stop(aj->a->loop, &aj->stall);
            return;
        }
    }
    if (aj->next_seq - aj->acked >= PROTO_OUTPUT_WINDOW) {
        job_pause(aj->job, true);
        loop_timer_start(aj->a->loop, &aj->stall, AGENTD_STALL_MS);
    }
}

static void agentd_job_done(struct job *j, const struct job_result *r,
                            void *arg)
{
    (void)j;
    struct agentd_job *aj = arg;
    struct agentd *a = aj->a;
    struct proto_msg m = {.type = PROTO_RESULT,
                          .req = aj->req,
                          .job = aj->id,
                          .end = (uint32_t)r->end,
                          .code = r->code,
                          .signal = r->signal[0] ? (char *)r->signal : NULL,
                          .elapsed_ms = (uint64_t)r->elapsed_ms,
                          .dropped = aj->dropped,
                          .text = r->why[0] ? (char *)r->why : NULL};
    if (a->closing && r->end == JOB_CANCELLED)
        m.text = (char *)"the agent is shutting down";
    struct err e = {0};
    if (jobstore_finish(a->store, aj->id, &m, &e) != ERR_OK)
        log_error("agent=%s job=%s: result not stored: %s", a->name, aj->id,
                  e.msg);
    log_info("agent=%s job=%s: ended end=%u code=%d sig=%s ms=%" PRId64
             " dropped=%" PRIu64,
             a->name, aj->id, m.end, r->code, r->signal[0] ? r->signal : "-",
             r->elapsed_ms, aj->dropped);
    agentd_send(a, aj->rid, aj->rid_len, &m);
    agentd_job_unlink(aj);
    agentd_job_free(aj);
}

static const struct job_cb agentd_job_cb = {agentd_job_output, agentd_job_done};

/* --- handlers --------------------------------------------------------------
 */

struct agentd_req {
    const uint8_t *rid;  /* sender's routing id */
    size_t rid_len;      /* its length */
    const char *user;    /* the coordinator's key (ZAP user id) */
    struct proto_msg *m; /* the decoded message */
};

static void agentd_reply_result(struct agentd *a, const struct agentd_req *q,
                                struct proto_msg *stored)
{
    stored->req = q->m->req;
    stored->replayed = true;
    agentd_send(a, q->rid, q->rid_len, stored);
}

static void agentd_on_hello(struct agentd *a, const struct agentd_req *q)
{
    char text[128];
    snprintf(text, sizeof(text), "%s %s", AGENTD_VERSION, a->name);
    struct proto_msg m = {
        .type = PROTO_WELCOME, .req = q->m->req, .text = text};
    log_info("agent=%s: coordinator %.8s... connected (epoch %" PRIu64 ")",
             a->name, q->user, q->m->epoch);
    agentd_send(a, q->rid, q->rid_len, &m);
}

static void agentd_on_ping(struct agentd *a, const struct agentd_req *q)
{
    struct proto_msg m = {.type = PROTO_PONG, .req = q->m->req};
    agentd_send(a, q->rid, q->rid_len, &m);
}

/* Build the child's environment: PATH and HOME unless given, and
 * DROVER_EPOCH / DROVER_STEP_ID (the fencing epoch and job id it runs
 * under, as the SSH step wrapper gives a step: docs/plan.md). */
static char **agentd_envp(const struct proto_msg *m)
{
    char **envp = xcalloc(m->nenv + 5, sizeof(*envp));
    size_t n = 0;
    envp[n++] = xasprintf("DROVER_EPOCH=%" PRIu64, m->epoch);
    envp[n++] = xasprintf("DROVER_STEP_ID=%s", m->job != NULL ? m->job : "");
    bool has_path = false, has_home = false;
    for (size_t i = 0; i < m->nenv; i++) {
        has_path |= strcmp(m->env[i].name, "PATH") == 0;
        has_home |= strcmp(m->env[i].name, "HOME") == 0;
        envp[n++] = xasprintf("%s=%s", m->env[i].name, m->env[i].value);
    }
    if (!has_path)
        envp[n++] = xstrdup("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/"
                            "usr/bin:/sbin:/bin");
    if (!has_home) {
        const char *home = getenv("HOME");
        envp[n++] = xasprintf("HOME=%s", home ? home : "/");
    }
    return envp;
}

static void agentd_envp_free(char **envp)
{
    for (char **p = envp; *p != NULL; p++) {
        explicit_bzero(*p, strlen(*p)); /* values may be secrets */
        free(*p);
    }
    free(envp);
}

static void agentd_on_exec(struct agentd *a, const struct agentd_req *q)
{
    struct proto_msg *m = q->m;
    struct agentd_job *running = agentd_job_find(a, m->job);
    if (running != NULL) {
        /* the coordinator re-sent it (reconnect, resume): report there */
        memcpy(running->rid, q->rid, q->rid_len);
        running->rid_len = q->rid_len;
        running->req = m->req;
        running->acked = running->next_seq;
        job_pause(running->job, false);
        log_info("agent=%s job=%s: already running; re-attached", a->name,
                 m->job);
        return;
    }
    struct proto_msg stored;
    struct err e = {0};
    enum err_code rc = jobstore_lookup(a->store, m->job, &stored, &e);
    if (rc == ERR_OK) {
        log_info("agent=%s job=%s: already ran; stored result returned, "
                 "not run again",
                 a->name, m->job);
        agentd_reply_result(a, q, &stored);
        proto_msg_release(&stored);
        return;
    }
    proto_msg_release(&stored);
    if (rc != ERR_NOTFOUND) {
        log_error("agent=%s job=%s: %s", a->name, m->job, e.msg);
        agentd_error(a, q->rid, q->rid_len, m->req, PROTO_E_INTERNAL,
                     "job %s: stored result unreadable: %s", m->job, e.msg);
        return;
    }
    if (a->closing) {
        agentd_error(a, q->rid, q->rid_len, m->req, PROTO_E_BUSY,
                     "the agent is shutting down");
        return;
    }
    if (a->o.exec_none) {
        struct proto_msg r = {.type = PROTO_RESULT,
                              .req = m->req,
                              .job = m->job,
                              .end = PROTO_END_EXITED};
        agentd_send(a, q->rid, q->rid_len, &r);
        return;
    }
    if (a->njobs >= a->o.max_jobs) {
        agentd_error(a, q->rid, q->rid_len, m->req, PROTO_E_BUSY,
                     "%zu jobs running (max_jobs); retry later", a->njobs);
        return;
    }
    if (jobstore_begin(a->store, m->job, &e) != ERR_OK) {
        log_error("agent=%s job=%s: %s", a->name, m->job, e.msg);
        agentd_error(a, q->rid, q->rid_len, m->req, PROTO_E_INTERNAL,
                     "job %s not started: %s", m->job, e.msg);
        return;
    }
    struct agentd_job *aj = xcalloc(1, sizeof(*aj));
    aj->a = a;
    aj->id = xstrdup(m->job);
    memcpy(aj->rid, q->rid, q->rid_len);
    aj->rid_len = q->rid_len;
    aj->req = m->req;
    aj->epoch = m->epoch;
    snprintf(aj->coordinator, sizeof(aj->coordinator), "%.8s", q->user);
    aj->cap = m->output_max > 0 && m->output_max < a->o.output_max
                  ? m->output_max
                  : a->o.output_max;
    loop_timer_init(&aj->stall, agentd_stalled, aj);
    char **envp = agentd_envp(m);
    struct job_spec spec = {.command = m->command,
                            .env = (const char *const *)envp,
                            .input = m->input,
                            .input_len = m->input_len,
                            .timeout_ms = (int64_t)m->timeout_ms,
                            .kill_grace_ms = a->o.kill_grace_ms};
    aj->job = job_start(a->jt, &spec, &agentd_job_cb, aj, &e);
    agentd_envp_free(envp);
    aj->next = a->jobs;
    a->jobs = aj;
    a->njobs++;
    if (aj->job == NULL) {
        struct job_result r = {.end = JOB_FAILED, .code = -1};
        snprintf(r.why, sizeof(r.why), "%.120s", e.msg);
        agentd_job_done(NULL, &r, aj);
        return;
    }
    log_info(
        "agent=%s job=%s: started pid=%d by coordinator %s... epoch=%" PRIu64,
        a->name, aj->id, job_pid(aj->job), aj->coordinator, aj->epoch);
}

static void agentd_on_ack(struct agentd *a, const struct agentd_req *q)
{
    struct agentd_job *aj = agentd_job_find(a, q->m->job);
    if (aj == NULL)
        return; /* the job ended meanwhile: nothing to do */
    if (q->m->seq + 1 > aj->acked && q->m->seq < aj->next_seq)
        aj->acked = q->m->seq + 1;
    if (aj->next_seq - aj->acked < PROTO_OUTPUT_WINDOW) {
        loop_timer_stop(a->loop, &aj->stall);
        job_pause(aj->job, false);
    }
}

static void agentd_on_cancel(struct agentd *a, const struct agentd_req *q)
{
    struct agentd_job *aj = agentd_job_find(a, q->m->job);
    if (aj == NULL) {
        agentd_error(a, q->rid, q->rid_len, q->m->req, PROTO_E_NOJOB,
                     "job %s is not running", q->m->job);
        return;
    }
    log_info("agent=%s job=%s: cancelled by coordinator %.8s...", a->name,
             aj->id, q->user);
    job_kill(aj->job, JOB_CANCELLED);
}

static void agentd_on_query(struct agentd *a, const struct agentd_req *q)
{
    struct proto_msg st = {.type = PROTO_JOB_STATUS,
                           .req = q->m->req,
                           .job = q->m->job,
                           .state = PROTO_JOB_UNKNOWN};
    if (agentd_job_find(a, q->m->job) != NULL) {
        st.state = PROTO_JOB_RUNNING;
        agentd_send(a, q->rid, q->rid_len, &st);
        return;
    }
    struct proto_msg stored;
    struct err e = {0};
    if (jobstore_lookup(a->store, q->m->job, &stored, &e) == ERR_OK)
        agentd_reply_result(a, q, &stored);
    else
        agentd_send(a, q->rid, q->rid_len, &st);
    proto_msg_release(&stored);
}

static const struct {
    enum proto_type type;                                     /* accepted */
    void (*fn)(struct agentd *a, const struct agentd_req *q); /* handler */
} agentd_dispatch[] = {
    {PROTO_HELLO, agentd_on_hello},   {PROTO_PING, agentd_on_ping},
    {PROTO_EXEC, agentd_on_exec},     {PROTO_OUTPUT_ACK, agentd_on_ack},
    {PROTO_CANCEL, agentd_on_cancel}, {PROTO_JOB_QUERY, agentd_on_query},
};

/* --- receiving -------------------------------------------------------------
 */

static struct agentd_peer *agentd_peer(struct agentd *a, const uint8_t *rid,
                                       size_t len, bool create)
{
    struct agentd_peer *slot = NULL;
    for (size_t i = 0; i < AGENTD_PEERS; i++) {
        struct agentd_peer *p = &a->peers[i];
        if (p->rid_len == len && memcmp(p->rid, rid, len) == 0)
            return p;
        if (slot == NULL && p->rid_len == 0)
            slot = p;
    }
    if (!create)
        return NULL;
    if (slot == NULL) /* evict the least bad */
        slot = &a->peers[(size_t)rid[len ? len - 1 : 0] % AGENTD_PEERS];
    memset(slot, 0, sizeof(*slot));
    memcpy(slot->rid, rid, len);
    slot->rid_len = len;
    return slot;
}

static void agentd_bad(struct agentd *a, const uint8_t *rid, size_t rid_len,
                       const char *user, const char *why)
{
    struct agentd_peer *p = agentd_peer(a, rid, rid_len, true);
    p->bad++;
    log_warn("agent=%s: malformed message from coordinator %.8s... (%u in a "
             "row): %s",
             a->name, user, p->bad, why);
    agentd_error(a, rid, rid_len, 0, PROTO_E_MALFORMED, "malformed: %s", why);
    if (p->bad >= AGENTD_BAD_FRAMES) {
        p->ignore_until = loop_now(a->loop) + AGENTD_IGNORE_MS;
        log_warn("agent=%s: ignoring coordinator %.8s... for %ds after %u "
                 "malformed messages",
                 a->name, user, AGENTD_IGNORE_MS / 1000, p->bad);
    }
}

/* Append at most max bytes of s to b, bytes outside [A-Za-z0-9] and
 * extra as '_'. */
static void agentd_word(struct buf *b, const char *s, size_t max,
                        const char *extra)
{
    for (size_t i = 0; i < max && s[i] != '\0'; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || strchr(extra, c) != NULL;
        buf_addc(b, ok ? c : '_');
    }
}

/* Who sends q, for the epoch record: the coordinator's own words (its
 * `who`: state directory, host, deploy; bytes outside [A-Za-z0-9._:@=-]
 * and space become '_') and the time, on one line of at most
 * PROTO_WHO_MAX bytes (the coordinator's key is in the agent's log).
 * Caller frees. */
static char *agentd_who(const struct agentd_req *q)
{
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    const char *w = q->m->who != NULL && *q->m->who ? q->m->who : "-";
    agentd_word(&b, w, PROTO_WHO_MAX - 32, "._:@=- ");
    time_t now = (time_t)(clock_wall_ms() / 1000);
    struct tm tm;
    char at[32];
    gmtime_r(&now, &tm);
    strftime(at, sizeof(at), "%Y-%m-%dT%H:%M:%SZ", &tm);
    buf_printf(&b, " at=%s", at);
    return buf_detach(&b);
}

/* The value of who's `state_dir=` word into out (empty when it has none). */
static void agentd_who_state_dir(const char *who, char *out, size_t n)
{
    out[0] = '\0';
    const char *p = who != NULL ? strstr(who, "state_dir=") : NULL;
    if (p == NULL || (p != who && p[-1] != ' '))
        return;
    p += strlen("state_dir=");
    size_t l = strcspn(p, " ");
    snprintf(out, n, "%.*s", (int)(l < n ? l : n - 1), p);
}

/* An epoch equal to the one recorded, from another state directory than
 * the one that raised it: epochs are counted per state directory, so that
 * is another coordinator, refused as over SSH (docs/state.md "A new state
 * directory"). Only when both say which state directory they are. */
static bool agentd_other_state_dir(const struct agentd *a, const char *who)
{
    char ours[80], theirs[80];
    /* most messages carry no `who` (PING, OUTPUT_ACK): done before
     * looking at the record */
    agentd_who_state_dir(who, theirs, sizeof(theirs));
    if (theirs[0] == '\0')
        return false;
    agentd_who_state_dir(jobstore_epoch_who(a->store), ours, sizeof(ours));
    return ours[0] != '\0' && strcmp(ours, "-") != 0 &&
           strcmp(ours, theirs) != 0;
}

/* Refuse q, whose epoch is below seen (or equal, from another state
 * directory): ERROR fenced, naming who raised
 * the epoch (in `who`, and in the text for coordinators that do not read
 * `who`). */
static void agentd_fenced(struct agentd *a, const struct agentd_req *q,
                          uint64_t seen)
{
    const char *who = jobstore_epoch_who(a->store);
    log_warn("agent=%s: refused %s from coordinator %.8s...: epoch %" PRIu64
             " is not above %" PRIu64 ", raised by %s (a newer coordinator "
             "holds the lock)",
             a->name, proto_type_name(q->m->type), q->user, q->m->epoch, seen,
             who != NULL ? who : "unknown");
    char text[PROTO_TEXT_MAX];
    snprintf(text, sizeof(text),
             "epoch %" PRIu64 " is %s %" PRIu64
             " already seen: this coordinator lost its lock (raised by %s)",
             q->m->epoch,
             q->m->epoch < seen ? "lower than"
                                : "from another state directory than",
             seen, who != NULL ? who : "unknown");
    struct proto_msg m = {.type = PROTO_ERROR,
                          .req = q->m->req,
                          .code = PROTO_E_FENCED,
                          .text = text,
                          .who = (char *)who};
    agentd_send(a, q->rid, q->rid_len, &m);
}

static void agentd_handle(struct agentd *a, const uint8_t *rid, size_t rid_len,
                          zmq_msg_t *frame)
{
    const char *user = zmq_msg_gets(frame, "User-Id");
    if (user == NULL)
        user = "?";
    struct agentd_peer *p = agentd_peer(a, rid, rid_len, false);
    if (p != NULL && p->ignore_until > loop_now(a->loop))
        return;
    struct proto_msg m;
    struct err e = {0};
    if (proto_decode(zmq_msg_data(frame), zmq_msg_size(frame), &m, &e) !=
        ERR_OK) {
        proto_msg_release(&m);
        agentd_bad(a, rid, rid_len, user, e.msg);
        return;
    }
    if (p != NULL)
        p->bad = 0;
    struct agentd_req q = {rid, rid_len, user, &m};
    uint64_t seen = jobstore_epoch(a->store);
    /* epoch 0 is `drover run`'s: an ad-hoc command under no lock, as
     * unfenced as over SSH; it neither passes nor raises the fence */
    if (m.epoch != 0 &&
        (m.epoch < seen ||
         (m.epoch == seen && agentd_other_state_dir(a, m.who)))) {
        agentd_fenced(a, &q, seen);
        proto_msg_release(&m);
        return;
    }
    if (m.epoch > seen) {
        char *who = agentd_who(&q);
        enum err_code rc = jobstore_set_epoch(a->store, m.epoch, who, &e);
        if (rc == ERR_OK)
            log_info("agent=%s: epoch %" PRIu64 " -> %" PRIu64
                     " raised by coordinator %.8s...: %s",
                     a->name, seen, m.epoch, user, who);
        free(who);
        if (rc != ERR_OK) {
            log_error("agent=%s: epoch %" PRIu64 " not stored: %s", a->name,
                      m.epoch, e.msg);
            agentd_error(a, rid, rid_len, m.req, PROTO_E_INTERNAL,
                         "epoch not stored: %s", e.msg);
            proto_msg_release(&m);
            return;
        }
    }
    size_t i;
    for (i = 0; i < sizeof(agentd_dispatch) / sizeof(agentd_dispatch[0]); i++)
        if (agentd_dispatch[i].type == m.type) {
            agentd_dispatch[i].fn(a, &q);
            break;
        }
    if (i == sizeof(agentd_dispatch) / sizeof(agentd_dispatch[0])) {
        log_warn("agent=%s: coordinator %.8s... sent %s, which agents do not "
                 "accept",
                 a->name, user, proto_type_name(m.type));
        agentd_error(a, rid, rid_len, m.req, PROTO_E_TYPE,
                     "type %s (0x%02x) is not accepted by an agent",
                     proto_type_name(m.type), (unsigned)m.type);
    }
    proto_msg_release(&m);
}

/* The agent a message is for: our ZAP handler set its User-Id to
 * "KEY DOMAIN", and each agent bound its endpoint with its own domain. */
static struct agentd *agentd_sock_route(struct agentd_sock *s, zmq_msg_t *frame,
                                        const char **user)
{
    const char *uid = zmq_msg_gets(frame, "User-Id");
    *user = "?";
    if (uid == NULL)
        return NULL;
    *user = uid;
    const char *dom = strchr(uid, ' ');
    if (dom == NULL || dom[1] != 'a')
        return NULL;
    char *end = NULL;
    unsigned long idx = strtoul(dom + 2, &end, 10);
    if (end == dom + 2 || *end != '\0' || idx >= s->n)
        return NULL;
    return s->agents[idx];
}

static void agentd_sock_ready(struct loop *l, struct loop_io *io, unsigned ev,
                              void *arg)
{
    (void)l;
    (void)io;
    (void)ev;
    struct agentd_sock *s = arg;
    for (int n = 0; n < AGENTD_BATCH; n++) {
        zmq_msg_t rid, frame;
        zmq_msg_init(&rid);
        if (zmq_msg_recv(&rid, s->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&rid);
            return;
        }
        size_t rid_len = zmq_msg_size(&rid);
        const uint8_t *rp = zmq_msg_data(&rid);
        size_t frames = 0;
        zmq_msg_init(&frame);
        bool more = zmq_msg_more(&rid);
        while (more) {
            zmq_msg_t f;
            zmq_msg_init(&f);
            if (zmq_msg_recv(&f, s->sock, 0) < 0) {
                zmq_msg_close(&f);
                break;
            }
            more = zmq_msg_more(&f);
            if (++frames == 1)
                zmq_msg_move(&frame, &f);
            zmq_msg_close(&f);
        }
        const char *user = "?";
        struct agentd *a =
            frames > 0 ? agentd_sock_route(s, &frame, &user) : NULL;
        if (a != NULL && rid_len > 0 && rid_len < AGENTD_RID_MAX) {
            if (frames == 1)
                agentd_handle(a, rp, rid_len, &frame);
            else
                agentd_bad(a, rp, rid_len, user,
                           "more than one frame in a message");
        }
        zmq_msg_close(&frame);
        zmq_msg_close(&rid);
    }
    /* more may be waiting: come back on the next turn, after the others */
}

/* --- lifecycle -------------------------------------------------------------
 */

static int agentd_setopt(void *s, int opt, int v)
{
    return zmq_setsockopt(s, opt, &v, sizeof(v));
}

struct agentd_sock *agentd_sock_new(struct loop *l, void *zctx,
                                    int heartbeat_ms, struct err *e)
{
    struct agentd_sock *s = xcalloc(1, sizeof(*s));
    s->loop = l;
    buf_init(&s->out, PROTO_FRAME_MAX);
    s->sock = zmq_socket(zctx, ZMQ_ROUTER);
    int64_t maxmsg = PROTO_FRAME_MAX + 64; /* CURVE adds 33 bytes */
    /* ZMTP heartbeats and the handshake timer cost a libzmq timer per
     * connection, and libzmq cancels timers by a linear walk: right for an
     * agent with a few coordinators, quadratic for --simulate's thousands
     * of connections (heartbeat_ms < 0: off, TCP keepalive instead). */
    int hb = heartbeat_ms > 0 ? heartbeat_ms : AGENTD_HEARTBEAT_MS;
    if (heartbeat_ms < 0)
        hb = 0;
    if (s->sock == NULL || agentd_setopt(s->sock, ZMQ_CURVE_SERVER, 1) != 0 ||
        agentd_setopt(s->sock, ZMQ_ROUTER_MANDATORY, 1) != 0 ||
        agentd_setopt(s->sock, ZMQ_PROBE_ROUTER, 1) != 0 ||
        zmq_setsockopt(s->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg)) != 0 ||
        agentd_setopt(s->sock, ZMQ_HEARTBEAT_IVL, hb) != 0 ||
        agentd_setopt(s->sock, ZMQ_HEARTBEAT_TTL, 3 * hb) != 0 ||
        agentd_setopt(s->sock, ZMQ_HEARTBEAT_TIMEOUT, 3 * hb) != 0 ||
        (hb == 0 && agentd_setopt(s->sock, ZMQ_HANDSHAKE_IVL, 0) != 0) ||
        agentd_setopt(s->sock, ZMQ_TCP_KEEPALIVE, 1) != 0 ||
        agentd_setopt(s->sock, ZMQ_TCP_KEEPALIVE_IDLE, 30) != 0 ||
        agentd_setopt(s->sock, ZMQ_LINGER, 0) != 0 ||
        agentd_setopt(s->sock, ZMQ_BACKLOG, 1024) != 0) {
        err_set(e, ERR_SYS, "agent socket: %s", zmq_strerror(errno));
        agentd_sock_free(s);
        return NULL;
    }
    loop_io_init_sock(&s->io, s->sock, agentd_sock_ready, s);
    loop_io_start(l, &s->io, LOOP_READ);
    return s;
}

void agentd_sock_free(struct agentd_sock *s)
{
    if (s == NULL)
        return;
    if (s->sock != NULL) {
        loop_io_stop(s->loop, &s->io);
        zmq_close(s->sock);
    }
    free(s->agents);
    buf_release(&s->out);
    free(s);
}

struct agentd *agentd_new(struct agentd_sock *s, struct job_table *jt,
                          const struct agentd_options *o, struct err *e)
{
    struct agentd *a = xcalloc(1, sizeof(*a));
    a->s = s;
    a->loop = s->loop;
    a->jt = jt;
    a->o = *o;
    a->name = xstrdup(o->name ? o->name : "agent");
    a->state_dir = o->state_dir ? xstrdup(o->state_dir) : NULL;
    if (a->o.output_max == 0)
        a->o.output_max = AGENTD_OUTPUT_MAX;
    if (a->o.max_jobs == 0)
        a->o.max_jobs = AGENTD_MAX_JOBS;
    a->store = jobstore_open(o->state_dir, e);
    if (a->store == NULL)
        goto fail;
    /* the key and the ZAP domain are read at bind time: each endpoint of
     * the shared socket gets its own, and the domain names the agent */
    char domain[32];
    snprintf(domain, sizeof(domain), "a%zu", s->n);
    if (zmq_setsockopt(s->sock, ZMQ_CURVE_SECRETKEY, o->key->secret_z85,
                       KEYFILE_Z85_LEN + 1) != 0 ||
        zmq_setsockopt(s->sock, ZMQ_ZAP_DOMAIN, domain, strlen(domain)) != 0) {
        err_set(e, ERR_SYS, "agent %s: socket options: %s", a->name,
                zmq_strerror(errno));
        goto fail;
    }
    if (zmq_bind(s->sock, o->listen) != 0) {
        err_set(e, ERR_SYS,
                "agent %s: cannot listen on %s: %s (set `listen` in the "
                "config or --listen)",
                a->name, o->listen, zmq_strerror(errno));
        goto fail;
    }
    size_t len = sizeof(a->endpoint);
    zmq_getsockopt(s->sock, ZMQ_LAST_ENDPOINT, a->endpoint, &len);
    a->bound = true;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 8;
        s->agents = xrealloc(s->agents, s->cap * sizeof(*s->agents));
    }
    a->index = s->n;
    s->agents[s->n++] = a;
    log_debug("agent=%s: listening on %s, epoch %" PRIu64, a->name, a->endpoint,
              jobstore_epoch(a->store));
    return a;
fail:
    agentd_free(a);
    return NULL;
}

const char *agentd_endpoint(const struct agentd *a)
{
    return a->endpoint;
}

const char *agentd_state_dir(const struct agentd *a)
{
    return a->state_dir;
}

size_t agentd_prune(struct agentd *a, int64_t max_age_ms)
{
    return jobstore_prune(a->store, max_age_ms / 1000);
}

size_t agentd_running(const struct agentd *a)
{
    return a->njobs;
}

void agentd_shutdown(struct agentd *a)
{
    a->closing = true;
    for (struct agentd_job *aj = a->jobs; aj != NULL; aj = aj->next) {
        log_info("agent=%s job=%s: killed for shutdown", a->name, aj->id);
        job_kill(aj->job, JOB_CANCELLED);
    }
}

void agentd_free(struct agentd *a)
{
    if (a == NULL)
        return;
    while (a->jobs != NULL) {
        struct agentd_job *aj = a->jobs;
        a->jobs = aj->next;
        agentd_job_free(aj);
    }
    if (a->bound) {
        zmq_unbind(a->s->sock, a->endpoint);
        a->s->agents[a->index] = NULL;
    }
    jobstore_free(a->store);
    free(a->state_dir);
    free(a->name);
    free(a);
}
