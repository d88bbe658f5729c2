/* tests/unit/coordinator/test_agentconn.c: the agent transport against a
 * real agent (agentd, the same code as drover-agent) over CURVE on
 * loopback: run and reuse, pinned key mismatch, unauthorized coordinator,
 * fencing, job ids answered once, cancel, timeout, first-use trust, and a
 * frozen agent (SIGSTOP, in a forked process) marked unreachable within
 * the heartbeat timeout. A stand-in in front of the agent (curve_peer.h,
 * in a child process) ends handshakes the ways anyone on the path could:
 * the coordinator redials, and blames a key only when the same ending
 * repeats. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agentconn.h"
#include "agentd.h"
#include "buf.h"
#include "clock.h"
#include "job.h"
#include "keyfile.h"
#include "keyport.h"
#include "loop.h"
#include "zap.h"

#include "curve_peer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

static char dir[64];
static char coord_key[128];
static struct keypair coord, agentkp;

struct fixture {
    struct loop *l;
    void *actx;
    struct keyfile_set *allowed;
    struct job_table *jt;
    struct zap *zap;
    struct agentd_sock *as;
    struct agentd *agent;
    int port;
    struct keyport *kp;
};

struct host {
    struct conn *c;
    bool opened;
    struct err open_err;
    bool done;
    struct exec_result r;
    struct buf out;
};

static void h_opened(struct conn *c, const struct err *e, void *arg)
{
    (void)c;
    struct host *h = arg;
    h->opened = true;
    if (e)
        h->open_err = *e;
}

static void h_output(struct conn *c, int stream, const char *data, size_t len,
                     void *arg)
{
    (void)c;
    (void)stream;
    struct host *h = arg;
    buf_add(&h->out, data, len);
}

static void h_done(struct conn *c, const struct exec_result *r, void *arg)
{
    (void)c;
    struct host *h = arg;
    h->done = true;
    h->r = *r;
}

static const struct conn_cb hcb = {h_opened, h_output, h_done};

static void fixture_listen(struct fixture *f, struct loop *l, bool authorize,
                           const char *listen)
{
    struct err e = {0};
    memset(f, 0, sizeof(*f));
    f->l = l;
    f->actx = zmq_ctx_new();
    f->allowed = keyfile_set_new();
    if (authorize) {
        uint8_t bin[32];
        zmq_z85_decode(bin, coord.public_z85);
        keyfile_set_add(f->allowed, bin);
    }
    f->jt = job_table_new(l, &e);
    f->zap = zap_new(l, f->actx, f->allowed, &e);
    assert_non_null(f->zap);
    static int n;
    char state[128];
    snprintf(state, sizeof(state), "%s/state%d-%d", dir, (int)getpid(), n++);
    struct agentd_options o = {.name = "t",
                               .listen = listen,
                               .key = &agentkp,
                               .state_dir = state,
                               .kill_grace_ms = 300};
    f->as = agentd_sock_new(l, f->actx, 0, &e);
    f->agent = agentd_new(f->as, f->jt, &o, &e);
    assert_non_null(f->agent);
    const char *ep = agentd_endpoint(f->agent);
    f->port = atoi(strrchr(ep, ':') + 1);
    assert_int_equal(
        zap_selftest(f->zap, l, f->actx, ep, agentkp.public_z85, &e), ERR_OK);
}

static void fixture_start(struct fixture *f, struct loop *l, bool authorize)
{
    fixture_listen(f, l, authorize, "tcp://127.0.0.1:*");
}

static void fixture_stop(struct fixture *f)
{
    keyport_free(f->kp);
    agentd_free(f->agent);
    agentd_sock_free(f->as);
    zap_free(f->zap);
    zmq_ctx_term(f->actx);
    job_table_free(f->jt);
    keyfile_set_free(f->allowed);
}

/* The connect deadline of transport(): a few redials fit in it. */
static int64_t connect_timeout_ms = 3000;

static struct transport *transport(struct loop *l, uint64_t epoch,
                                   bool accept_new)
{
    struct agent_options o;
    agent_options_init(&o);
    char known[128];
    snprintf(known, sizeof(known), "%s/known_agents", dir);
    o.key_file = coord_key;
    o.known_agents = known;
    o.epoch = epoch;
    o.accept_new = accept_new;
    o.connect_timeout_ms = connect_timeout_ms;
    o.heartbeat_ms = 200;
    o.heartbeat_timeout_ms = 700;
    struct err e = {0};
    struct transport *t = agentconn_transport_new(l, &o, &e);
    if (t == NULL)
        fail_msg("%s", e.msg);
    return t;
}

static void run_until(struct loop *l, bool *flag, int64_t ms)
{
    int64_t t0 = clock_mono_ms();
    while (!*flag && clock_mono_ms() - t0 < ms)
        loop_run_once(l, 20, NULL);
}

static void host_open(struct host *h, struct transport *t, int port,
                      struct loop *l)
{
    memset(h, 0, sizeof(*h));
    buf_init(&h->out, BUF_UNLIMITED);
    struct target tg = {.name = "h1", .address = "127.0.0.1", .port = port};
    h->c = transport_connect(t, &tg, &hcb, h);
    run_until(l, &h->opened, connect_timeout_ms + 2000);
    assert_true(h->opened);
}

static void host_exec(struct host *h, struct loop *l, const char *cmd,
                      int64_t timeout_ms)
{
    struct err e = {0};
    h->done = false;
    buf_reset(&h->out);
    struct exec_spec s = {.command = cmd,
                          .input = "in\n",
                          .input_len = 3,
                          .timeout_ms = timeout_ms};
    assert_int_equal(conn_exec(h->c, &s, &e), ERR_OK);
    run_until(l, &h->done, 8000);
    assert_true(h->done);
}

/* Open h1 at port once with a new transport; the open's error. */
static struct err open_once(struct loop *l, int port, bool accept_new)
{
    struct transport *t = transport(l, 60, accept_new);
    struct host h;
    host_open(&h, t, port, l);
    conn_close(h.c);
    buf_release(&h.out);
    transport_free(t);
    return h.open_err;
}

static int count_lines(const char *name)
{
    char path[128], line[64];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    int n = 0;
    if (f == NULL)
        return 0;
    while (fgets(line, sizeof(line), f))
        n++;
    fclose(f);
    return n;
}

static void test_agentconn_run_and_reuse(void **state)
{
    (void)state;
    struct err e = {0};
    struct loop *l = loop_new(&e);
    struct fixture f;
    fixture_start(&f, l, true);
    struct transport *t = transport(l, 1, false);
    assert_int_equal(agentconn_pin(t, "h1", agentkp.public_z85, &e), ERR_OK);
    struct host h;
    host_open(&h, t, f.port, l);
    assert_int_equal(h.open_err.code, ERR_OK);
    host_exec(&h, l, "cat; echo to-stderr >&2; exit 4", 0);
    assert_int_equal(h.r.end, EXEC_EXITED);
    assert_int_equal(h.r.exit_code, 4);
    assert_non_null(strstr(buf_cstr(&h.out), "in\n"));
    assert_non_null(strstr(buf_cstr(&h.out), "to-stderr"));
    /* the same conn runs the next step */
    host_exec(&h, l, "kill -KILL $$", 0);
    assert_int_equal(h.r.end, EXEC_SIGNALED);
    assert_string_equal(h.r.signal, "KILL");
    host_exec(&h, l, "sleep 10", 200);
    assert_int_equal(h.r.end, EXEC_TIMEOUT);
    /* cancel */
    struct exec_spec s = {.command = "sleep 10"};
    h.done = false;
    assert_int_equal(conn_exec(h.c, &s, &e), ERR_OK);
    int64_t t0 = clock_mono_ms();
    while (clock_mono_ms() - t0 < 200)
        loop_run_once(l, 20, NULL);
    conn_cancel(h.c);
    run_until(l, &h.done, 5000);
    assert_int_equal(h.r.end, EXEC_CANCELLED);
    /* not idle while a command runs */
    struct agentconn_stats st;
    agentconn_transport_stats(t, &st);
    assert_int_equal(st.conns, 1);
    assert_int_equal(st.ready, 1);
    conn_close(h.c);
    buf_release(&h.out);
    transport_free(t);
    fixture_stop(&f);
    loop_free(l);
}

static void test_agentconn_job_runs_once(void **state)
{
    (void)state;
    struct err e = {0};
    struct loop *l = loop_new(&e);
    struct fixture f;
    fixture_start(&f, l, true);
    struct transport *t = transport(l, 1, false);
    agentconn_pin(t, "h1", agentkp.public_z85, &e);
    struct host h;
    host_open(&h, t, f.port, l);
    char cmd[200];
    snprintf(cmd, sizeof(cmd), "echo x >> %s/once; exit 7", dir);
    assert_int_equal(agentconn_next_job(h.c, "DEP-1:h1:1", &e), ERR_OK);
    host_exec(&h, l, cmd, 0);
    assert_int_equal(h.r.exit_code, 7);
    assert_string_equal(agentconn_job_id(h.c), "DEP-1:h1:1");
    /* a resumed coordinator asks for the same job: stored result */
    assert_int_equal(agentconn_next_job(h.c, "DEP-1:h1:1", &e), ERR_OK);
    host_exec(&h, l, cmd, 0);
    assert_int_equal(h.r.exit_code, 7);
    assert_int_equal(count_lines("once"), 1);
    conn_close(h.c);
    buf_release(&h.out);
    transport_free(t);
    fixture_stop(&f);
    loop_free(l);
}

static void test_agentconn_wrong_agent_key(void **state)
{
    (void)state;
    struct err e = {0};
    struct loop *l = loop_new(&e);
    struct fixture f;
    fixture_start(&f, l, true);
    struct transport *t = transport(l, 1, false);
    struct keypair other;
    keyfile_generate(&other, &e);
    agentconn_pin(t, "h1", other.public_z85, &e);
    struct host h;
    host_open(&h, t, f.port, l);
    assert_true(h.open_err.code == ERR_HOSTKEY ||
                h.open_err.code == ERR_UNREACHABLE);
    assert_non_null(strstr(h.open_err.msg, "pinned"));
    assert_int_equal(agentd_running(f.agent), 0);
    conn_close(h.c);
    buf_release(&h.out);
    transport_free(t);
    fixture_stop(&f);
    loop_free(l);
}

static void test_agentconn_unauthorized(void **state)
{
    (void)state;
    struct err e = {0};
    struct loop *l = loop_new(&e);
    struct fixture f;
    fixture_start(&f, l, false); /* our key is not in authorized_keys */
    struct transport *t = transport(l, 1, false);
    agentconn_pin(t, "h1", agentkp.public_z85, &e);
    struct host h;
    host_open(&h, t, f.port, l);
    assert_int_equal(h.open_err.code, ERR_AUTH);
    assert_non_null(strstr(h.open_err.msg, "authorized_keys"));
    assert_true(zap_refused(f.zap) >= 2); /* self-test + us */
    assert_int_equal(zap_accepted(f.zap), 0);
    conn_close(h.c);
    buf_release(&h.out);
    transport_free(t);
    fixture_stop(&f);
    loop_free(l);
}

static void test_agentconn_fenced(void **state)
{
    (void)state;
    struct err e = {0};
    struct loop *l = loop_new(&e);
    struct fixture f;
    fixture_start(&f, l, true);
    struct transport *t = transport(l, 50, false);
    agentconn_pin(t, "h1", agentkp.public_z85, &e);
    struct host h;
    host_open(&h, t, f.port, l);
    assert_int_equal(h.open_err.code, ERR_OK);
    conn_close(h.c);
    buf_release(&h.out);
    transport_free(t);
    /* an older coordinator */
    t = transport(l, 49, false);
    agentconn_pin(t, "h1", agentkp.public_z85, &e);
    host_open(&h, t, f.port, l);
    assert_int_equal(h.open_err.code, ERR_LOCKED);
    /* worded as an SSH host's refusal: the agent's epoch, who raised it
     * (this transport says nobody: "-"), ours, and the way through */
    assert_non_null(
        strstr(h.open_err.msg, "host h1: fenced at epoch 50 by - at="));
    assert_non_null(strstr(h.open_err.msg, "ours is 49"));
    assert_non_null(strstr(h.open_err.msg, "--take-over-fence 50"));
    conn_close(h.c);
    buf_release(&h.out);
    transport_free(t);
    fixture_stop(&f);
    loop_free(l);
}

static void test_agentconn_unknown_key_and_accept_new(void **state)
{
    (void)state;
    struct err e = {0};
    struct loop *l = loop_new(&e);
    struct fixture f;
    /* a fixed port, so that port + 1 (the key port) is free as well */
    char listen[64];
    for (int port = 23000 + (int)(getpid() % 5000) * 2;; port += 2) {
        snprintf(listen, sizeof(listen), "tcp://127.0.0.1:%d", port);
        f.kp = keyport_new(l, "127.0.0.1", port + 1, agentkp.public_z85, &e);
        if (f.kp != NULL)
            break;
        err_clear(&e);
    }
    struct keyport *kp = f.kp;
    fixture_listen(&f, l, true, listen);
    struct err oe = open_once(l, f.port, false);
    assert_int_equal(oe.code, ERR_HOSTKEY);
    assert_non_null(strstr(oe.msg, "--accept-new"));

    f.kp = kp;
    assert_int_equal(open_once(l, f.port, true).code, ERR_OK);
    /* recorded: the next run needs no --accept-new */
    char known[128], key[41];
    snprintf(known, sizeof(known), "%s/known_agents", dir);
    assert_int_equal(keyfile_known_lookup(known, "127.0.0.1", f.port, key, &e),
                     ERR_OK);
    assert_string_equal(key, agentkp.public_z85);

    /* a later line for the host wins (here a wrong key): the handshakes
     * fail, and --accept-new never fetches a key for a host that has one,
     * however its handshakes ended */
    struct keypair other;
    keyfile_generate(&other, &e);
    assert_int_equal(
        keyfile_known_add(known, "127.0.0.1", f.port, other.public_z85, &e),
        ERR_OK);
    int lines = count_lines("known_agents");
    oe = open_once(l, f.port, true);
    assert_int_equal(oe.code, ERR_HOSTKEY);
    assert_non_null(strstr(oe.msg, "could not authenticate the agent"));
    assert_int_equal(count_lines("known_agents"), lines);
    /* and appending the right key again takes it back */
    assert_int_equal(
        keyfile_known_add(known, "127.0.0.1", f.port, agentkp.public_z85, &e),
        ERR_OK);
    assert_int_equal(open_once(l, f.port, false).code, ERR_OK);
    fixture_stop(&f);
    loop_free(l);
}

/* A real agent in a child process, frozen with SIGSTOP mid-command. */
static void test_agentconn_frozen_agent_unreachable(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        struct err e = {0};
        struct loop *l = loop_new(&e);
        struct fixture f;
        fixture_start(&f, l, true);
        if (write(p[1], &f.port, sizeof(f.port)) != sizeof(f.port))
            _exit(1);
        loop_run(l, &e);
        _exit(0);
    }
    close(p[1]);
    int port = 0;
    assert_int_equal(read(p[0], &port, sizeof(port)), sizeof(port));
    close(p[0]);
    struct err e = {0};
    struct loop *l = loop_new(&e);
    struct transport *t = transport(l, 70, false);
    agentconn_pin(t, "h1", agentkp.public_z85, &e);
    struct host h;
    host_open(&h, t, port, l);
    assert_int_equal(h.open_err.code, ERR_OK);
    struct exec_spec s = {.command = "sleep 30"};
    assert_int_equal(conn_exec(h.c, &s, &e), ERR_OK);
    int64_t t0 = clock_mono_ms();
    while (clock_mono_ms() - t0 < 300)
        loop_run_once(l, 20, NULL);
    kill(pid, SIGSTOP);
    int64_t frozen = clock_mono_ms();
    run_until(l, &h.done, 5000);
    int64_t took = clock_mono_ms() - frozen;
    assert_true(h.done);
    assert_int_equal(h.r.end, EXEC_FAILED);
    assert_int_equal(h.r.err.code, ERR_UNREACHABLE);
    /* heartbeat timeout 700 ms, checked every 200 ms */
    assert_true(took < 1500);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    conn_close(h.c);
    buf_release(&h.out);
    transport_free(t);
    loop_free(l);
}

static void test_agentconn_pins(void **state)
{
    (void)state;
    struct err e = {0};
    struct loop *l = loop_new(&e);
    struct fixture f;
    fixture_start(&f, l, true);
    struct transport *t = transport(l, 80, false);
    struct keypair other;
    keyfile_generate(&other, &e);
    /* many hosts pinned (the table grows), then h1 pinned twice: the last
     * key wins */
    for (int i = 0; i < 1000; i++) {
        char name[32];
        snprintf(name, sizeof(name), "host%d", i);
        assert_int_equal(agentconn_pin(t, name, other.public_z85, &e), ERR_OK);
    }
    assert_int_equal(agentconn_pin(t, "h1", other.public_z85, &e), ERR_OK);
    assert_int_equal(agentconn_pin(t, "h1", agentkp.public_z85, &e), ERR_OK);
    assert_int_equal(agentconn_pin(t, "h1", "short", &e), ERR_INVALID);
    struct host h;
    host_open(&h, t, f.port, l);
    assert_int_equal(h.open_err.code, ERR_OK);
    conn_close(h.c);
    buf_release(&h.out);
    /* a target's own agent_key wins, and a malformed one is refused */
    memset(&h, 0, sizeof(h));
    buf_init(&h.out, BUF_UNLIMITED);
    struct target tg = {.name = "h1",
                        .address = "127.0.0.1",
                        .port = f.port,
                        .agent_key = "not-a-key"};
    h.c = transport_connect(t, &tg, &hcb, &h);
    run_until(l, &h.opened, 3000);
    assert_int_equal(h.open_err.code, ERR_HOSTKEY);
    assert_non_null(strstr(h.open_err.msg, "drover_agent_key"));
    /* a key cut at '#' by an INI inventory: the way out is named */
    assert_non_null(strstr(h.open_err.msg, "gave 9 characters"));
    assert_non_null(strstr(h.open_err.msg, "quoted twice"));
    struct err pe = {0};
    assert_int_equal(agentconn_pin(t, "h2", "8", &pe), ERR_INVALID);
    assert_non_null(strstr(pe.msg, "gave 1 character;"));
    conn_close(h.c);
    buf_release(&h.out);
    transport_free(t);
    fixture_stop(&f);
    loop_free(l);
}

/* Connects beyond connect_concurrency wait their turn and all open. */
static void test_agentconn_paced_connects(void **state)
{
    (void)state;
    struct err e = {0};
    struct loop *l = loop_new(&e);
    struct fixture f;
    fixture_start(&f, l, true);
    struct agent_options o;
    agent_options_init(&o);
    o.key_file = coord_key;
    o.epoch = 90;
    o.connect_concurrency = 2;
    o.connect_timeout_ms = 3000;
    struct transport *t = agentconn_transport_new(l, &o, &e);
    assert_non_null(t);
    enum { N = 12 };
    struct host h[N];
    for (int i = 0; i < N; i++) {
        char name[16];
        snprintf(name, sizeof(name), "p%d", i);
        memset(&h[i], 0, sizeof(h[i]));
        buf_init(&h[i].out, BUF_UNLIMITED);
        struct target tg = {.name = name,
                            .address = "127.0.0.1",
                            .port = f.port,
                            .agent_key = agentkp.public_z85};
        h[i].c = transport_connect(t, &tg, &hcb, &h[i]);
    }
    int64_t t0 = clock_mono_ms();
    int opened = 0;
    while (opened < N && clock_mono_ms() - t0 < 5000) {
        loop_run_once(l, 20, NULL);
        opened = 0;
        for (int i = 0; i < N; i++)
            opened += h[i].opened;
    }
    assert_int_equal(opened, N);
    for (int i = 0; i < N; i++)
        assert_int_equal(h[i].open_err.code, ERR_OK);
    struct agentconn_stats st;
    agentconn_transport_stats(t, &st);
    assert_int_equal(st.ready, N);
    /* every host runs a command */
    for (int i = 0; i < N; i++)
        host_exec(&h[i], l, "echo hi", 0);
    for (int i = 0; i < N; i++) {
        assert_int_equal(h[i].r.exit_code, 0);
        conn_close(h[i].c);
        buf_release(&h[i].out);
    }
    transport_free(t);
    fixture_stop(&f);
    loop_free(l);
}

/* The agent restarts while a job runs: the coordinator reconnects on its
 * own, says HELLO again and re-sends the same EXEC, and gets the stored
 * result of the interrupted job (recorded as failed, never run twice). */
static void test_agentconn_agent_restart_mid_job(void **state)
{
    (void)state;
    struct err e = {0};
    struct loop *l = loop_new(&e);
    struct fixture f;
    fixture_start(&f, l, true);
    char listen[64];
    snprintf(listen, sizeof(listen), "tcp://127.0.0.1:%d", f.port);
    struct transport *t = transport(l, 100, false);
    agentconn_pin(t, "h1", agentkp.public_z85, &e);
    struct host h;
    host_open(&h, t, f.port, l);
    assert_int_equal(h.open_err.code, ERR_OK);
    char cmd[200];
    snprintf(cmd, sizeof(cmd), "echo x >> %s/restart; sleep 30", dir);
    struct exec_spec s = {.command = cmd};
    assert_int_equal(conn_exec(h.c, &s, &e), ERR_OK);
    int64_t t0 = clock_mono_ms();
    while (count_lines("restart") == 0 && clock_mono_ms() - t0 < 3000)
        loop_run_once(l, 20, NULL);
    assert_int_equal(count_lines("restart"), 1);
    /* same state directory, same port: a restart */
    char sdir[128];
    snprintf(sdir, sizeof(sdir), "%s", agentd_state_dir(f.agent));
    agentd_free(f.agent);
    struct agentd_options o = {.name = "t",
                               .listen = listen,
                               .key = &agentkp,
                               .state_dir = sdir,
                               .kill_grace_ms = 300};
    /* While nothing listens, the coordinator's redial to the port can be
     * given that very port as its own (a TCP self-connect on loopback),
     * which holds it until the handshake fails: run the loop and try again,
     * as an agent's service manager restarts it. */
    t0 = clock_mono_ms();
    while ((f.agent = agentd_new(f.as, f.jt, &o, &e)) == NULL &&
           strstr(e.msg, "Address already in use") != NULL &&
           clock_mono_ms() - t0 < 5000)
        loop_run_once(l, 50, NULL);
    if (f.agent == NULL)
        fail_msg("restart: %s", e.msg);
    run_until(l, &h.done, 8000);
    assert_true(h.done);
    assert_int_equal(h.r.end, EXEC_FAILED);
    assert_non_null(strstr(h.r.err.msg, "not run again"));
    assert_int_equal(count_lines("restart"), 1);
    conn_close(h.c);
    buf_release(&h.out);
    transport_free(t);
    fixture_stop(&f);
    loop_free(l);
}

/* --- a stand-in in front of the agent ----------------------------------- */

/* Connection i to the stand-in is handled by script[i], then by 'P'
 * (with agent_port 0 it is a key port that answers script):
 *   E  ERROR in place of WELCOME     B  a WELCOME that does not open
 *   H  close after HELLO             I  ERROR after INITIATE
 *   J  close after INITIATE          P  pass the bytes to the real agent */
struct standin {
    pid_t pid;   /* the child */
    int port;    /* where it listens */
    int counter; /* one byte per connection accepted, from the child */
};

/* Copy bytes both ways until one side closes. */
static void standin_pass(int a, int b)
{
    struct pollfd pf[2] = {{.fd = a, .events = POLLIN},
                           {.fd = b, .events = POLLIN}};
    char buf[65536];
    for (;;) {
        if (poll(pf, 2, -1) < 0)
            return;
        for (int i = 0; i < 2; i++) {
            if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t n = read(pf[i].fd, buf, sizeof(buf));
            if (n <= 0 || write(pf[1 - i].fd, buf, (size_t)n) != n)
                return;
        }
    }
}

static void standin_serve(int lfd, int counter, const char *script,
                          int agent_port)
{
    if (agent_port == 0) { /* a key port: the script is the answer */
        for (;;) {
            int fd = accept(lfd, NULL, NULL);
            if (fd < 0 || write(counter, "c", 1) != 1 ||
                write(fd, script, strlen(script)) < 0)
                _exit(1);
            close(fd);
        }
    }
    uint8_t S[32], s[32];
    zmq_z85_decode(S, agentkp.public_z85);
    zmq_z85_decode(s, agentkp.secret_z85);
    for (size_t i = 0;; i++) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0)
            _exit(1);
        if (write(counter, "c", 1) != 1)
            _exit(1);
        char act = i < strlen(script) ? script[i] : 'P';
        struct curve_peer p;
        curve_peer_init(&p, fd, S, s);
        if (act == 'P') {
            int a = socket(AF_INET, SOCK_STREAM, 0);
            struct sockaddr_in sa = {.sin_family = AF_INET,
                                     .sin_port = htons((uint16_t)agent_port),
                                     .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
            if (connect(a, (struct sockaddr *)&sa, sizeof(sa)) == 0)
                standin_pass(fd, a);
            close(a);
        } else if (curve_peer_greet(&p) && curve_peer_hello(&p)) {
            if (act == 'E')
                curve_peer_write_frame(&p, curve_peer_error400,
                                       sizeof(curve_peer_error400), true);
            else if (act == 'B')
                curve_peer_welcome(&p, true);
            else if ((act == 'I' || act == 'J') &&
                     curve_peer_welcome(&p, false) && curve_peer_initiate(&p) &&
                     act == 'I')
                curve_peer_write_frame(&p, curve_peer_error400,
                                       sizeof(curve_peer_error400), true);
            /* let the client read it before the close */
            usleep(20000);
        }
        close(fd);
    }
}

static void standin_start(struct standin *si, const char *script,
                          int agent_port)
{
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);
    assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(lfd, 16), 0);
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &sl), 0);
    si->port = ntohs(sa.sin_port);
    int pc[2];
    assert_int_equal(pipe(pc), 0);
    si->pid = fork();
    assert_true(si->pid >= 0);
    if (si->pid == 0) {
        close(pc[0]);
        standin_serve(lfd, pc[1], script, agent_port);
    }
    close(pc[1]);
    close(lfd);
    si->counter = pc[0];
}

/* Stop it; how many connections it accepted. */
static int standin_stop(struct standin *si)
{
    kill(si->pid, SIGKILL);
    waitpid(si->pid, NULL, 0);
    char buf[64];
    int n = 0;
    ssize_t r;
    while ((r = read(si->counter, buf, sizeof(buf))) > 0)
        n += (int)r;
    close(si->counter);
    return n;
}

/* One host through a stand-in playing script: the open's result, and the
 * connections it took. */
static int through_standin(struct loop *l, struct fixture *f,
                           const char *script, int64_t timeout_ms,
                           struct host *h)
{
    struct standin si;
    standin_start(&si, script, f->port);
    connect_timeout_ms = timeout_ms;
    struct transport *t = transport(l, 110, false);
    struct err e = {0};
    agentconn_pin(t, "h1", agentkp.public_z85, &e);
    host_open(h, t, si.port, l);
    connect_timeout_ms = 3000;
    if (h->open_err.code == ERR_OK) { /* and it works end to end */
        host_exec(h, l, "echo through", 0);
        assert_int_equal(h->r.exit_code, 0);
        assert_string_equal(buf_cstr(&h->out), "through\n");
    }
    conn_close(h->c);
    buf_release(&h->out);
    transport_free(t);
    return standin_stop(&si);
}

/* An ending anyone on the path can forge fails nothing: the coordinator
 * dials again and the next handshake (the real agent's) succeeds. Also
 * when endings differ: each kind is counted in a row on its own. */
static void test_agentconn_forged_endings_redial(void **state)
{
    (void)state;
    struct err e = {0};
    struct loop *l = loop_new(&e);
    struct fixture f;
    fixture_start(&f, l, true);
    const char *scripts[] = {"E", "B", "I", "H", "J", "EEB", "HJHJ", "BEIB"};
    for (size_t i = 0; i < sizeof(scripts) / sizeof(scripts[0]); i++) {
        struct host h;
        /* up to 5 handshakes, 1.5 s of backoff: room for a loaded
         * machine */
        int conns = through_standin(l, &f, scripts[i], 10000, &h);
        if (h.open_err.code != ERR_OK)
            fail_msg("script %s: %s", scripts[i], h.open_err.msg);
        assert_int_equal(conns, (int)strlen(scripts[i]) + 1);
    }
    fixture_stop(&f);
    loop_free(l);
}

/* The same ending AGENTCONN_AUTH_STRIKES times in a row is believed, and
 * said as what it is: the agent could not be authenticated. */
static void test_agentconn_same_ending_concludes(void **state)
{
    (void)state;
    struct err e = {0};
    struct loop *l = loop_new(&e);
    struct fixture f;
    fixture_start(&f, l, true);
    const struct {
        const char *script;
        enum err_code code;
        const char *says;
    } cases[] = {
        {"EEEEEE", ERR_HOSTKEY, "ERROR 400 in place of WELCOME"},
        {"BBBBBB", ERR_HOSTKEY, "does not open with the pinned key"},
        {"IIIIII", ERR_AUTH, "authorized_keys"},
        {"EBEEEE", ERR_HOSTKEY, "in place of WELCOME"}, /* E x3 from the 3rd */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct host h;
        int conns = through_standin(l, &f, cases[i].script, 10000, &h);
        assert_int_equal(h.open_err.code, cases[i].code);
        if (strstr(h.open_err.msg, "could not authenticate the agent") ==
                NULL ||
            strstr(h.open_err.msg, "3 handshakes in a row") == NULL ||
            strstr(h.open_err.msg, cases[i].says) == NULL)
            fail_msg("script %s: %s", cases[i].script, h.open_err.msg);
        assert_int_equal(conns, i == 3 ? 5 : AGENTCONN_AUTH_STRIKES);
    }
    /* endings that never repeat three times: the deadline says it */
    struct host h;
    int conns = through_standin(l, &f, "EBEBEBEBEBEBEBEBEBEB", 1000, &h);
    assert_int_equal(h.open_err.code, ERR_UNREACHABLE);
    if (strstr(h.open_err.msg, "could not authenticate the agent") == NULL ||
        strstr(h.open_err.msg, "within 1000ms") == NULL)
        fail_msg("%s", h.open_err.msg);
    assert_true(conns >= 3);
    fixture_stop(&f);
    loop_free(l);
}

/* --accept-new takes the key port's answer only when it is exactly the one
 * line drover-agent sends: nothing after the key, nothing after the line. */
static void test_agentconn_keyport_answer_is_exact(void **state)
{
    (void)state;
    struct err e = {0};
    struct loop *l = loop_new(&e);
    char good[80];
    snprintf(good, sizeof(good), "DROVER-AGENT-KEY 1 %s", agentkp.public_z85);
    const char *tails[] = {"\nX", "\n\n", " extra\n", "\r\n", "", "x\n"};
    for (size_t i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
        char reply[128];
        snprintf(reply, sizeof(reply), "%s%s", good, tails[i]);
        struct standin si;
        standin_start(&si, reply, 0);
        struct transport *t = transport(l, 120, true);
        struct host h;
        host_open(&h, t, si.port - 1, l);
        assert_int_equal(h.open_err.code, ERR_HOSTKEY);
        assert_non_null(strstr(h.open_err.msg, "did not announce"));
        conn_close(h.c);
        buf_release(&h.out);
        transport_free(t);
        assert_int_equal(standin_stop(&si), 1);
        char known[128], key[41];
        snprintf(known, sizeof(known), "%s/known_agents", dir);
        assert_int_equal(
            keyfile_known_lookup(known, "127.0.0.1", si.port - 1, key, &e),
            ERR_NOTFOUND);
    }
    loop_free(l);
}

static int setup(void **state)
{
    (void)state;
    struct err e = {0};
    /* mkdtemp's template: six 'X' the call replaces */
    int tn = snprintf(dir, sizeof(dir), "/tmp/test_agentconn.");
    memset(dir + tn, 'X', 6);
    dir[tn + 6] = '\0';
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(coord_key, sizeof(coord_key), "%s/coordinator.key", dir);
    keyfile_generate(&coord, &e);
    keyfile_generate(&agentkp, &e);
    return keyfile_write(coord_key, &coord, false, &e) == ERR_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_agentconn_frozen_agent_unreachable),
        cmocka_unit_test(test_agentconn_run_and_reuse),
        cmocka_unit_test(test_agentconn_job_runs_once),
        cmocka_unit_test(test_agentconn_wrong_agent_key),
        cmocka_unit_test(test_agentconn_unauthorized),
        cmocka_unit_test(test_agentconn_fenced),
        cmocka_unit_test(test_agentconn_unknown_key_and_accept_new),
        cmocka_unit_test(test_agentconn_pins),
        cmocka_unit_test(test_agentconn_paced_connects),
        cmocka_unit_test(test_agentconn_agent_restart_mid_job),
        cmocka_unit_test(test_agentconn_forged_endings_redial),
        cmocka_unit_test(test_agentconn_same_ending_concludes),
        cmocka_unit_test(test_agentconn_keyport_answer_is_exact),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
