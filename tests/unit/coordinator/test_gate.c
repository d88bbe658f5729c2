/* tests/unit/coordinator/test_gate.c: health gates against a real demo-app
 * on loopback: pass, waiting out "not yet", deadlines with evidence, soak
 * resets, recovery from a failure, hangs, and a 100-host round's cost. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "demo_fixture.h"

#include "check_command.h"
#include "check_http.h"
#include "clock.h"
#include "err.h"
#include "gate.h"
#include "health.h"
#include "local.h"
#include "loop.h"
#include "plan.h"
#include "rollout.h"
#include "transport.h"

static struct demo demo;
static struct loop *loop;
static struct health *health;
static char url_health[128], url_ready[128];
/* A check as a test writes it: http, else command. */
struct tcheck {
    const char *http;    /* URL of an http check */
    const char *command; /* command of a command check */
    int64_t timeout_ms;  /* per probe; 0: default */
};
static struct tcheck checks[2];

/* tc[0..n) as the gate takes them (rendered checks of their kind); valid
 * until the next call. */
static const struct rollout_check *as_checks(const struct tcheck *tc, size_t n)
{
    static struct plan_check pc[4];
    static struct check_http_host hh[4];
    static struct rollout_check rc[4];
    assert_true(n <= 4);
    for (size_t i = 0; i < n; i++) {
        bool http = tc[i].http != NULL;
        pc[i] = (struct plan_check){.kind = http ? &check_http : &check_command,
                                    .timeout_ms = tc[i].timeout_ms};
        hh[i] = (struct check_http_host){
            .spec = {.http = tc[i].http, .timeout_ms = tc[i].timeout_ms}};
        rc[i] = (struct rollout_check){.check = &pc[i],
                                       .host = http ? (void *)&hh[i]
                                                    : (void *)tc[i].command};
    }
    return rc;
}

/* What a gate reported. */
struct verdict {
    bool done;            /* fn was called */
    unsigned calls;       /* times fn was called */
    struct gate_result r; /* the result */
    struct gate *free_me; /* freed from inside fn when set */
};

static void on_done(const struct gate_result *r, void *arg)
{
    struct verdict *v = arg;
    v->done = true;
    v->calls++;
    v->r = *r;
    if (v->free_me != NULL) {
        gate_free(v->free_me);
        v->free_me = NULL;
    }
}

static void run_until(bool *flag, int64_t max_ms)
{
    struct err e = {0};
    int64_t end = clock_mono_ms() + max_ms;
    while (!*flag && clock_mono_ms() < end)
        assert_int_equal(loop_run_once(loop, 50, &e), 0);
}

/* Gate the demo host with both checks and wait for the verdict. */
static struct verdict gate(const struct gate_spec *s)
{
    struct verdict v;
    memset(&v, 0, sizeof(v));
    struct gate *g = gate_start(health, loop, s, "demo1", on_done, &v);
    assert_false(v.done);
    run_until(&v.done, s->healthy_deadline_ms + 3000);
    assert_true(v.done);
    assert_int_equal(v.calls, 1);
    gate_free(g);
    return v;
}

static int group_setup(void **state)
{
    (void)state;
    struct err e = {0};
    demo_start(&demo);
    loop = loop_new(&e);
    health = health_new(loop, &e);
    snprintf(url_health, sizeof(url_health), "%s/health", demo.base);
    snprintf(url_ready, sizeof(url_ready), "%s/health/ready", demo.base);
    checks[0].http = url_health;
    checks[1].http = url_ready;
    return loop != NULL && health != NULL ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    health_free(health);
    loop_free(loop);
    demo_stop(&demo);
    return 0;
}

static int setup(void **state)
{
    (void)state;
    demo_behave(&demo, NULL);
    checks[0].timeout_ms = checks[1].timeout_ms = 0;
    return 0;
}

static void test_gate_pass_first_round(void **state)
{
    (void)state;
    struct gate_spec s = {.checks = as_checks(checks, 2),
                          .nchecks = 2,
                          .interval_ms = 100,
                          .healthy_deadline_ms = 2000};
    struct verdict v = gate(&s);
    assert_true(v.r.healthy);
    assert_int_equal(v.r.rounds, 1);
    assert_int_equal(v.r.last.status, 200);
    assert_non_null(strstr(v.r.reason, "healthy: 2 checks passed"));
}

static void test_gate_soak_passes(void **state)
{
    (void)state;
    struct gate_spec s = {.checks = as_checks(checks, 2),
                          .nchecks = 2,
                          .interval_ms = 50,
                          .min_healthy_ms = 300,
                          .healthy_deadline_ms = 2000};
    struct verdict v = gate(&s);
    assert_true(v.r.healthy);
    assert_true(v.r.elapsed_ms >= 300);
    assert_true(v.r.rounds >= 4); /* 7 on time; fewer when rounds run late */
    assert_int_equal(v.r.regressions, 0);
}

/* 503 until the release is 700 ms old, then ready: passes in time. */
static void test_gate_ready_after_passes_within_deadline(void **state)
{
    (void)state;
    demo_behave(&demo, "ready_after_ms=700\n");
    demo_relink(&demo, 1);
    struct gate_spec s = {.checks = as_checks(checks, 2),
                          .nchecks = 2,
                          .interval_ms = 100,
                          .healthy_deadline_ms = 3000};
    struct verdict v = gate(&s);
    assert_true(v.r.healthy);
    assert_true(v.r.elapsed_ms >= 550);
    assert_true(v.r.elapsed_ms < 2000);
    assert_true(v.r.rounds >= 3);
}

static void test_gate_never_ready_fails_with_evidence(void **state)
{
    (void)state;
    demo_behave(&demo, "ready=503\n");
    struct gate_spec s = {.checks = as_checks(checks, 2),
                          .nchecks = 2,
                          .interval_ms = 100,
                          .healthy_deadline_ms = 800};
    struct verdict v = gate(&s);
    assert_false(v.r.healthy);
    assert_int_equal(v.r.failed_check, 1);
    assert_int_equal(v.r.last.status, 503);
    assert_int_equal(v.r.last.verdict, PROBE_NOT_YET);
    assert_true(v.r.elapsed_ms >= 780 && v.r.elapsed_ms < 2500);
    assert_non_null(strstr(v.r.reason, "/health/ready: status 503 for "));
    assert_non_null(strstr(v.r.reason, "(healthy_deadline 800ms)"));
    assert_true(v.r.rounds >= 3);
}

/* Readiness flaps every 150 ms: each soak is reset before 600 ms. */
static void test_gate_flap_resets_soak(void **state)
{
    (void)state;
    demo_behave(&demo, "flap_ms=150\n");
    struct gate_spec s = {.checks = as_checks(checks, 2),
                          .nchecks = 2,
                          .interval_ms = 40,
                          .min_healthy_ms = 600,
                          .healthy_deadline_ms = 1500};
    struct verdict v = gate(&s);
    assert_false(v.r.healthy);
    assert_true(v.r.regressions >= 2);
    /* Whichever phase the deadline hit: the evidence says why. */
    assert_true(strstr(v.r.reason, "/health/ready: status 503") != NULL ||
                strstr(v.r.reason, "min_healthy_time 600ms") != NULL);
}

static void test_gate_redirect_fails(void **state)
{
    (void)state;
    demo_behave(&demo, "redirect=1\n");
    struct gate_spec s = {.checks = as_checks(checks, 2),
                          .nchecks = 2,
                          .interval_ms = 100,
                          .healthy_deadline_ms = 500};
    struct verdict v = gate(&s);
    assert_false(v.r.healthy);
    assert_int_equal(v.r.failed_check, 0);
    assert_int_equal(v.r.last.verdict, PROBE_FAIL);
    assert_non_null(
        strstr(v.r.reason, "/health: redirect 302 to /login (not followed)"));
}

static void test_gate_hang_times_out(void **state)
{
    (void)state;
    demo_behave(&demo, "hang=1\n");
    checks[0].timeout_ms = checks[1].timeout_ms = 200;
    struct gate_spec s = {.checks = as_checks(checks, 2),
                          .nchecks = 2,
                          .interval_ms = 50,
                          .healthy_deadline_ms = 700};
    struct verdict v = gate(&s);
    assert_false(v.r.healthy);
    assert_non_null(strstr(v.r.reason, "/health: no answer within 200ms"));
    assert_true(v.r.elapsed_ms < 2500);
}

/* A hang longer than the deadline: no answer at all is the evidence. */
static void test_gate_no_answer_by_deadline(void **state)
{
    (void)state;
    demo_behave(&demo, "hang=1\n");
    checks[0].timeout_ms = checks[1].timeout_ms = 5000;
    struct gate_spec s = {.checks = as_checks(checks, 2),
                          .nchecks = 2,
                          .interval_ms = 50,
                          .healthy_deadline_ms = 300};
    struct verdict v = gate(&s);
    assert_false(v.r.healthy);
    assert_string_equal(v.r.reason,
                        "/health: no answer within healthy_deadline 300ms");
    assert_int_equal(health_inflight(health), 0);
}

static void test_gate_refused_fails(void **state)
{
    (void)state;
    char u[64];
    snprintf(u, sizeof(u), "http://127.0.0.1:%d/health", demo_free_port());
    struct tcheck c = {.http = u};
    struct gate_spec s = {.checks = as_checks(&c, 1),
                          .nchecks = 1,
                          .interval_ms = 50,
                          .healthy_deadline_ms = 400};
    struct verdict v = gate(&s);
    assert_false(v.r.healthy);
    assert_non_null(strstr(v.r.reason, "/health: connection refused for "));
}

static void recover(struct loop *l, struct loop_timer *t, void *arg)
{
    (void)l;
    (void)t;
    (void)arg;
    demo_behave(&demo, NULL);
}

/* A failing answer is retried: the host recovers before its deadline. */
static void test_gate_fail_then_recover(void **state)
{
    (void)state;
    demo_behave(&demo, "health=500\n");
    struct loop_timer t;
    loop_timer_init(&t, recover, NULL);
    loop_timer_start(loop, &t, 400);
    struct gate_spec s = {.checks = as_checks(checks, 2),
                          .nchecks = 2,
                          .interval_ms = 50,
                          .min_healthy_ms = 100,
                          .healthy_deadline_ms = 3000};
    struct verdict v = gate(&s);
    loop_timer_stop(loop, &t);
    assert_true(v.r.healthy);
    assert_true(v.r.elapsed_ms >= 450);
}

static void test_gate_free_inside_and_before(void **state)
{
    (void)state;
    struct gate_spec s = {.checks = as_checks(checks, 2),
                          .nchecks = 2,
                          .interval_ms = 50,
                          .healthy_deadline_ms = 2000};
    /* Freed from its own callback. */
    struct verdict v;
    memset(&v, 0, sizeof(v));
    v.free_me = gate_start(health, loop, &s, "demo1", on_done, &v);
    run_until(&v.done, 3000);
    assert_true(v.done && v.r.healthy);
    assert_null(v.free_me);
    /* Freed before any verdict: never called, nothing left behind. */
    memset(&v, 0, sizeof(v));
    struct gate *g = gate_start(health, loop, &s, "demo1", on_done, &v);
    gate_free(g);
    bool never = false;
    run_until(&never, 200);
    assert_false(v.done);
    assert_int_equal(health_inflight(health), 0);
    /* No checks: healthy at once, still from the loop. */
    struct gate_spec none = {.interval_ms = 50, .healthy_deadline_ms = 500};
    v = gate(&none);
    assert_true(v.r.healthy);
}

static unsigned probes_seen;

static void on_probe(const char *host, size_t check,
                     const struct probe_result *r, void *arg)
{
    (void)arg;
    assert_string_equal(host, "demo1");
    assert_true(check < 2);
    assert_int_equal(r->verdict, PROBE_PASS);
    probes_seen++;
}

static void test_gate_observer(void **state)
{
    (void)state;
    struct gate_spec s = {.checks = as_checks(checks, 2),
                          .nchecks = 2,
                          .interval_ms = 30,
                          .min_healthy_ms = 60,
                          .healthy_deadline_ms = 2000};
    struct verdict v;
    memset(&v, 0, sizeof(v));
    probes_seen = 0;
    struct gate *g = gate_start(health, loop, &s, "demo1", on_done, &v);
    gate_on_probe(g, on_probe, NULL);
    run_until(&v.done, 3000);
    gate_free(g);
    assert_true(v.r.healthy);
    assert_int_equal(probes_seen, 2 * v.r.rounds);
}

/* 100 hosts gated at once (two checks each, 6 rounds): the coordinator's
 * CPU per host and round. The hosts are one demo-app here; its CPU is its
 * own process's, not counted. */
static void test_gate_100_hosts_cost(void **state)
{
    (void)state;
    enum { HOSTS = 100 };
    static struct verdict v[HOSTS];
    static struct gate *g[HOSTS];
    memset(v, 0, sizeof(v));
    struct gate_spec s = {.checks = as_checks(checks, 2),
                          .nchecks = 2,
                          .interval_ms = 100,
                          .min_healthy_ms = 500,
                          .healthy_deadline_ms = 5000};
    int64_t cpu0 = clock_cpu_ms(), t0 = clock_mono_ms();
    for (int i = 0; i < HOSTS; i++)
        g[i] = gate_start(health, loop, &s, "demo1", on_done, &v[i]);
    struct err e = {0};
    int64_t end = clock_mono_ms() + 8000;
    unsigned done = 0, rounds = 0;
    while (done < HOSTS && clock_mono_ms() < end) {
        assert_int_equal(loop_run_once(loop, 50, &e), 0);
        done = 0;
        for (int i = 0; i < HOSTS; i++)
            done += v[i].done;
    }
    int64_t cpu = clock_cpu_ms() - cpu0, wall = clock_mono_ms() - t0;
    for (int i = 0; i < HOSTS; i++) {
        assert_true(v[i].done && v[i].r.healthy);
        rounds += v[i].r.rounds;
        gate_free(g[i]);
    }
    print_message("gate: %d hosts x 2 checks, %u host-rounds in %lldms wall, "
                  "%lldms coordinator CPU (%.3f ms per host-round)\n",
                  HOSTS, rounds, (long long)wall, (long long)cpu,
                  (double)cpu / rounds);
    /* Generous bound: well under a millisecond of CPU per host-round. */
    assert_true(cpu < (int64_t)rounds);
}

/* --- command checks, run for real through the local transport ---------- */

/* The caller's side of command checks: one conn, one command at a time. */
struct xctx {
    struct transport *t;   /* the local transport */
    struct conn *conn;     /* its conn */
    bool opened;           /* conn is ready */
    struct gate_exec *cur; /* the command the gate is waiting for */
    bool busy;             /* the conn runs a command */
    unsigned started;      /* commands started */
    unsigned overlaps;     /* starts while busy (must stay 0) */
};
static struct xctx xc;

static void x_opened(struct conn *c, const struct err *e, void *arg)
{
    (void)c;
    (void)arg;
    xc.opened = e == NULL;
}

static void x_output(struct conn *c, int stream, const char *data, size_t len,
                     void *arg)
{
    (void)c;
    (void)stream;
    (void)data;
    (void)len;
    (void)arg;
}

static void x_done(struct conn *c, const struct exec_result *r, void *arg)
{
    (void)c;
    (void)arg;
    struct gate_exec *x = xc.cur;
    xc.cur = NULL;
    xc.busy = false;
    if (x != NULL)
        gate_exec_done(x, r);
}

static const struct conn_cb x_cb = {x_opened, x_output, x_done};

static void x_start(struct gate_exec *x, const char *host,
                    const struct exec_spec *s, void *arg)
{
    (void)arg;
    assert_string_equal(host, "demo1");
    if (xc.busy)
        xc.overlaps++;
    xc.started++;
    xc.busy = true;
    xc.cur = x;
    struct err e = {0};
    if (conn_exec(xc.conn, s, &e) != ERR_OK) {
        struct exec_result r = {.end = EXEC_FAILED, .err = e};
        xc.cur = NULL;
        xc.busy = false;
        gate_exec_done(x, &r);
    }
}

static void x_cancel(struct gate_exec *x, void *arg)
{
    (void)arg;
    assert_ptr_equal(x, xc.cur);
    xc.cur = NULL; /* no report after a cancel */
    conn_cancel(xc.conn);
}

static const struct gate_exec_ops x_ops = {x_start, x_cancel};

static int x_setup(void **state)
{
    (void)state;
    struct err e = {0};
    demo_behave(&demo, NULL);
    if (xc.t == NULL) {
        xc.t = local_transport_new(loop, &e);
        assert_non_null(xc.t);
        struct target tg = {.name = "demo1", .address = "localhost"};
        xc.conn = transport_connect(xc.t, &tg, &x_cb, NULL);
        run_until(&xc.opened, 2000);
        assert_true(xc.opened);
    }
    /* A cancelled command from the last test must have ended. */
    bool idle = !xc.busy;
    int64_t end = clock_mono_ms() + 3000;
    while (xc.busy && clock_mono_ms() < end) {
        run_until(&idle, 50);
    }
    assert_false(xc.busy);
    xc.started = xc.overlaps = 0;
    return 0;
}

/* Gate with an HTTP check and command checks, through x_ops. */
static struct verdict gate_cmd(struct tcheck *cs, size_t n, int64_t deadline,
                               bool with_ops)
{
    struct gate_spec s = {.checks = as_checks(cs, n),
                          .nchecks = n,
                          .interval_ms = 50,
                          .healthy_deadline_ms = deadline};
    struct verdict v;
    memset(&v, 0, sizeof(v));
    struct gate *g = gate_start(health, loop, &s, "demo1", on_done, &v);
    if (with_ops)
        gate_set_exec(g, &x_ops, NULL);
    run_until(&v.done, deadline + 3000);
    assert_true(v.done);
    gate_free(g);
    return v;
}

static void test_gate_command_checks(void **state)
{
    (void)state;
    char flag[PATH_MAX + 16], cmd[PATH_MAX + 32];
    snprintf(flag, sizeof(flag), "%s/ok", demo.dir);
    snprintf(cmd, sizeof(cmd), "test -f %s", flag);
    struct tcheck cs[3] = {
        {.http = url_health},
        {.command = "true"},
        {.command = cmd},
    };
    /* Fails while the file is missing: exit 1 is the evidence. */
    struct verdict v = gate_cmd(cs, 3, 400, true);
    assert_false(v.r.healthy);
    assert_int_equal(v.r.failed_check, 2);
    assert_int_equal(v.r.last.verdict, PROBE_FAIL);
    assert_non_null(strstr(v.r.reason, "command 'test -f "));
    assert_non_null(strstr(v.r.reason, "': exit 1 for "));
    assert_int_equal(xc.overlaps, 0);
    assert_true(xc.started >= 2 * v.r.rounds - 1);

    /* With the file, healthy; both commands ran each round, one at a
     * time. */
    assert_int_equal(x_setup(NULL), 0);
    demo_write(flag, "");
    v = gate_cmd(cs, 3, 2000, true);
    assert_true(v.r.healthy);
    assert_int_equal(xc.started, 2 * v.r.rounds);
    assert_int_equal(xc.overlaps, 0);
    unlink(flag);
}

static void test_gate_command_timeout_is_not_yet(void **state)
{
    (void)state;
    struct tcheck cs[1] = {{.command = "sleep 5", .timeout_ms = 150}};
    struct verdict v = gate_cmd(cs, 1, 600, true);
    assert_false(v.r.healthy);
    assert_int_equal(v.r.last.verdict, PROBE_NOT_YET);
    assert_non_null(strstr(v.r.reason, "command 'sleep 5': timed out"));
}

/* The deadline passes with a command running: it is cancelled. */
static void test_gate_command_cancelled_at_deadline(void **state)
{
    (void)state;
    struct tcheck cs[1] = {{.command = "sleep 5", .timeout_ms = 5000}};
    struct verdict v = gate_cmd(cs, 1, 300, true);
    assert_false(v.r.healthy);
    assert_string_equal(v.r.reason,
                        "command 'sleep 5': no answer within healthy_deadline "
                        "300ms");
    assert_null(xc.cur);
}

static void test_gate_command_without_transport(void **state)
{
    (void)state;
    struct tcheck cs[2] = {{.http = url_health}, {.command = "true"}};
    struct verdict v = gate_cmd(cs, 2, 300, false);
    assert_false(v.r.healthy);
    assert_int_equal(v.r.failed_check, 1);
    assert_non_null(
        strstr(v.r.reason, "no transport to run command checks on"));
}

static int x_teardown(void **state)
{
    (void)state;
    conn_close(xc.conn);
    transport_free(xc.t);
    memset(&xc, 0, sizeof(xc));
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_gate_pass_first_round, setup),
        cmocka_unit_test_setup(test_gate_soak_passes, setup),
        cmocka_unit_test_setup(test_gate_ready_after_passes_within_deadline,
                               setup),
        cmocka_unit_test_setup(test_gate_never_ready_fails_with_evidence,
                               setup),
        cmocka_unit_test_setup(test_gate_flap_resets_soak, setup),
        cmocka_unit_test_setup(test_gate_redirect_fails, setup),
        cmocka_unit_test_setup(test_gate_hang_times_out, setup),
        cmocka_unit_test_setup(test_gate_no_answer_by_deadline, setup),
        cmocka_unit_test_setup(test_gate_refused_fails, setup),
        cmocka_unit_test_setup(test_gate_fail_then_recover, setup),
        cmocka_unit_test_setup(test_gate_free_inside_and_before, setup),
        cmocka_unit_test_setup(test_gate_observer, setup),
        cmocka_unit_test_setup(test_gate_100_hosts_cost, setup),
        cmocka_unit_test_setup(test_gate_command_checks, x_setup),
        cmocka_unit_test_setup(test_gate_command_timeout_is_not_yet, x_setup),
        cmocka_unit_test_setup(test_gate_command_cancelled_at_deadline,
                               x_setup),
        cmocka_unit_test_setup_teardown(test_gate_command_without_transport,
                                        x_setup, x_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
