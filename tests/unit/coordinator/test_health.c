/* tests/unit/coordinator/test_health.c: HTTP probes against a real
 * demo-app on loopback: verdicts, reasons, timeouts, body checks, cancel,
 * and many probes at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "demo_fixture.h"

#include "clock.h"
#include "err.h"
#include "health.h"
#include "loop.h"

static struct demo demo;
static struct loop *loop;
static struct health *health;

/* What a probe reported. */
struct outcome {
    bool done;             /* fn was called */
    unsigned calls;        /* times fn was called */
    struct probe_result r; /* the result */
    char body[256];        /* start of the body */
};

static void on_done(const struct probe_result *r, void *arg)
{
    struct outcome *o = arg;
    o->done = true;
    o->calls++;
    o->r = *r;
    snprintf(o->body, sizeof(o->body), "%s", r->body);
}

static void run_until(bool *flag, int64_t max_ms)
{
    struct err e = {0};
    int64_t end = clock_mono_ms() + max_ms;
    while (!*flag && clock_mono_ms() < end)
        assert_int_equal(loop_run_once(loop, 50, &e), 0);
}

/* Probe c and wait for the verdict. */
static struct outcome probe(const struct check_spec *c)
{
    struct outcome o;
    memset(&o, 0, sizeof(o));
    health_probe(health, c, on_done, &o);
    assert_false(o.done); /* never from inside health_probe */
    run_until(&o.done, 10000);
    assert_true(o.done);
    assert_int_equal(o.calls, 1);
    return o;
}

static char *url(const char *path)
{
    static char u[256];
    snprintf(u, sizeof(u), "%s%s", demo.base, path);
    return u;
}

static int group_setup(void **state)
{
    (void)state;
    struct err e = {0};
    demo_start(&demo);
    loop = loop_new(&e);
    health = health_new(loop, &e);
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
    return 0;
}

static void test_health_pass(void **state)
{
    (void)state;
    struct check_spec c = {.http = url("/health")};
    struct outcome o = probe(&c);
    assert_int_equal(o.r.verdict, PROBE_PASS);
    assert_int_equal(o.r.status, 200);
    assert_string_equal(o.r.reason, "status 200");
    assert_non_null(strstr(o.body, "\"healthy\""));
    assert_true(o.r.latency_ms >= 0 && o.r.latency_ms < 2000);
    assert_int_equal(health_inflight(health), 0);
}

static void test_health_503_is_not_yet(void **state)
{
    (void)state;
    demo_behave(&demo, "ready=503\n");
    struct check_spec c = {.http = url("/health/ready")};
    struct outcome o = probe(&c);
    assert_int_equal(o.r.verdict, PROBE_NOT_YET);
    assert_int_equal(o.r.status, 503);
    assert_string_equal(o.r.reason, "status 503");
}

static void test_health_refused_is_not_yet(void **state)
{
    (void)state;
    char u[64];
    snprintf(u, sizeof(u), "http://127.0.0.1:%d/health", demo_free_port());
    struct check_spec c = {.http = u};
    struct outcome o = probe(&c);
    assert_int_equal(o.r.verdict, PROBE_NOT_YET);
    assert_int_equal(o.r.status, 0);
    assert_string_equal(o.r.reason, "connection refused");
}

static void test_health_redirect_not_followed(void **state)
{
    (void)state;
    demo_behave(&demo, "redirect=1\n");
    struct check_spec c = {.http = url("/health")};
    struct outcome o = probe(&c);
    assert_int_equal(o.r.verdict, PROBE_FAIL);
    assert_int_equal(o.r.status, 302);
    assert_string_equal(o.r.reason, "redirect 302 to /login (not followed)");
}

static void test_health_wrong_status_fails(void **state)
{
    (void)state;
    demo_behave(&demo, "health=500\n");
    struct check_spec c = {.http = url("/health")};
    struct outcome o = probe(&c);
    assert_int_equal(o.r.verdict, PROBE_FAIL);
    assert_string_equal(o.r.reason, "status 500 (want 200)");
    /* A range that includes it passes. */
    struct check_spec r = {
        .http = url("/health"), .expect_status = 500, .expect_status_max = 599};
    o = probe(&r);
    assert_int_equal(o.r.verdict, PROBE_PASS);
    /* 404 against an expected 200. */
    struct check_spec nf = {.http = url("/nope")};
    o = probe(&nf);
    assert_int_equal(o.r.verdict, PROBE_FAIL);
    assert_string_equal(o.r.reason, "status 404 (want 200)");
}

static void test_health_status_list(void **state)
{
    (void)state;
    demo_behave(&demo, "health=500\n");
    static const struct check_status ok[] = {
        {200, 200}, {204, 204}, {500, 503}};
    struct check_spec c = {.http = url("/health"),
                           .statuses = ok,
                           .nstatuses = 3,
                           .expect_words = "200, 204 or 500-503"};
    struct outcome o = probe(&c);
    assert_int_equal(o.r.verdict, PROBE_PASS);
    assert_string_equal(o.r.reason, "status 500");
    /* none matches: the evidence says what was expected, in the plan's
     * words; the single value is not consulted */
    static const struct check_status no[] = {
        {200, 200}, {204, 204}, {300, 399}};
    struct check_spec f = {.http = url("/health"),
                           .expect_status = 500,
                           .statuses = no,
                           .nstatuses = 3,
                           .expect_words = "200, 204 or 3xx"};
    o = probe(&f);
    assert_int_equal(o.r.verdict, PROBE_FAIL);
    assert_string_equal(o.r.reason, "expected 200, 204 or 3xx, got 500");
    /* 503 stays "not yet" unless the list takes it */
    demo_behave(&demo, "health=503\n");
    o = probe(&f);
    assert_int_equal(o.r.verdict, PROBE_NOT_YET);
    assert_string_equal(o.r.reason, "status 503");
    o = probe(&c);
    assert_int_equal(o.r.verdict, PROBE_PASS);
    /* a listed class of redirects passes a redirect */
    demo_behave(&demo, "redirect=1\n");
    o = probe(&f);
    assert_int_equal(o.r.verdict, PROBE_PASS);
    assert_string_equal(o.r.reason, "status 302");
}

static void test_health_hang_times_out(void **state)
{
    (void)state;
    demo_behave(&demo, "hang=1\n");
    struct check_spec c = {.http = url("/health"), .timeout_ms = 300};
    int64_t t0 = clock_mono_ms();
    struct outcome o = probe(&c);
    int64_t took = clock_mono_ms() - t0;
    assert_int_equal(o.r.verdict, PROBE_NOT_YET);
    assert_string_equal(o.r.reason, "no answer within 300ms");
    assert_true(took >= 280 && took < 2500);
}

/* A socket listening on 127.0.0.1 at a free port, written to *sa. */
static int listen_loopback(int backlog, struct sockaddr_in *sa)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(*sa);
    assert_int_equal(bind(fd, (struct sockaddr *)sa, sizeof(*sa)), 0);
    assert_int_equal(listen(fd, backlog), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)sa, &len), 0);
    return fd;
}

/* A listener whose accept queue is full drops SYNs: the connect times
 * out, which is "not yet" (a host still booting looks like this). */
static void test_health_connect_timeout_is_not_yet(void **state)
{
    (void)state;
    struct sockaddr_in sa;
    int lfd = listen_loopback(0, &sa);
    int fill[4];
    for (int i = 0; i < 4; i++) {
        fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(fill[i], (struct sockaddr *)&sa, sizeof(sa));
    }
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
    char u[64];
    snprintf(u, sizeof(u), "http://127.0.0.1:%d/health", ntohs(sa.sin_port));
    struct check_spec c = {
        .http = u, .timeout_ms = 2000, .connect_timeout_ms = 200};
    struct outcome o = probe(&c);
    for (int i = 0; i < 4; i++)
        close(fill[i]);
    close(lfd);
    assert_int_equal(o.r.verdict, PROBE_NOT_YET);
    assert_string_equal(o.r.reason, "no connection within 200ms");
    assert_true(o.r.latency_ms >= 180 && o.r.latency_ms < 1500);
}

static void test_health_bad_url_fails(void **state)
{
    (void)state;
    static const char *bad[] = {"", "ftp://127.0.0.1/x", "http://[::1/x",
                                "gopher://127.0.0.1/", "http://"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct check_spec c = {.http = bad[i]};
        struct outcome o = probe(&c);
        assert_int_equal(o.r.verdict, PROBE_FAIL);
        assert_non_null(strstr(o.r.reason, "bad URL"));
    }
    struct check_spec n = {.http = NULL};
    struct outcome o = probe(&n);
    assert_int_equal(o.r.verdict, PROBE_FAIL);
    assert_string_equal(o.r.reason, "bad URL: empty");
}

/* A stand-in server that answers every connection with reply and closes
 * it: a peer that does not speak HTTP. Returns its port; *pid to kill. */
static int garbage_server(const char *reply, pid_t *pid)
{
    struct sockaddr_in sa;
    int lfd = listen_loopback(16, &sa);
    *pid = fork();
    assert_true(*pid >= 0);
    if (*pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        for (;;) {
            int c = accept(lfd, NULL, NULL);
            if (c < 0)
                continue;
            char req[4096];
            (void)!read(c, req, sizeof(req));
            (void)!write(c, reply, strlen(reply));
            close(c);
        }
    }
    close(lfd);
    return ntohs(sa.sin_port);
}

/* A reply that is not HTTP is said to be one, not "bad URL". */
static void test_health_not_http_fails(void **state)
{
    (void)state;
    static const struct {
        const char *reply; /* what the server sends */
        const char *why;   /* curl's words in the reason */
    } cases[] = {
        {"SSH-2.0-OpenSSH_9.2\r\n", "Received HTTP/0.9 when not allowed"},
        {"garbage\r\n\r\n", "Received HTTP/0.9 when not allowed"},
        {"HTTP/1.1 abc\r\n\r\n", ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        pid_t pid;
        char u[64];
        snprintf(u, sizeof(u), "http://127.0.0.1:%d/health",
                 garbage_server(cases[i].reply, &pid));
        struct check_spec c = {.http = u, .timeout_ms = 2000};
        struct outcome o = probe(&c);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        assert_int_equal(o.r.verdict, PROBE_FAIL);
        if (strncmp(o.r.reason, "the server did not answer with HTTP (", 37) !=
                0 ||
            strstr(o.r.reason, cases[i].why) == NULL)
            fail_msg("reply %zu: reason '%s'", i, o.r.reason);
    }
}

static void test_health_json_and_version(void **state)
{
    (void)state;
    static const struct check_json healthy[] = {{"status", "healthy"}};
    static const struct check_json wrong[] = {{"status", "healthy"},
                                              {"version", "7"}};
    static const struct check_json missing[] = {{"db.ok", "true"}};
    struct check_spec c = {
        .http = url("/health"), .json = healthy, .njson = 1, .version = "1"};
    assert_int_equal(probe(&c).r.verdict, PROBE_PASS);

    c.json = wrong;
    c.njson = 2;
    struct outcome o = probe(&c);
    assert_int_equal(o.r.verdict, PROBE_FAIL);
    assert_string_equal(o.r.reason, "json version: \"1\" (want \"7\")");

    c.json = missing;
    c.njson = 1;
    o = probe(&c);
    assert_int_equal(o.r.verdict, PROBE_FAIL);
    assert_string_equal(o.r.reason, "json db.ok: missing (want \"true\")");

    /* A host still serving the old build. */
    demo_behave(&demo, "version=0.9\n");
    struct check_spec v = {.http = url("/version"), .version = "1"};
    o = probe(&v);
    assert_int_equal(o.r.verdict, PROBE_FAIL);
    assert_string_equal(o.r.reason, "version \"0.9\" (want \"1\")");
    demo_behave(&demo, NULL);
    assert_int_equal(probe(&v).r.verdict, PROBE_PASS);

    /* Not JSON where JSON was asked for. */
    struct check_spec nj = {.http = url("/login"), .json = healthy, .njson = 1};
    o = probe(&nj);
    assert_int_equal(o.r.verdict, PROBE_FAIL);
    assert_non_null(strstr(o.r.reason, "not a JSON object"));

    struct check_spec b = {.http = url("/login"), .body_contains = "<form"};
    assert_int_equal(probe(&b).r.verdict, PROBE_PASS);
    b.body_contains = "welcome";
    o = probe(&b);
    assert_int_equal(o.r.verdict, PROBE_FAIL);
    assert_string_equal(o.r.reason, "body lacks \"welcome\"");

    struct check_spec re = {.http = url("/health"),
                            .body_regex = "\"version\":\"[0-9]+\""};
    assert_int_equal(probe(&re).r.verdict, PROBE_PASS);
    re.body_regex = "^\\{\"status\":\"degraded\"";
    o = probe(&re);
    assert_int_equal(o.r.verdict, PROBE_FAIL);
    assert_non_null(strstr(o.r.reason, "body does not match /"));
    re.body_regex = "([unclosed";
    o = probe(&re);
    assert_int_equal(o.r.verdict, PROBE_FAIL);
    assert_non_null(strstr(o.r.reason, "bad body_regex: "));
}

static void test_health_method_and_headers(void **state)
{
    (void)state;
    static const char *const hdrs[] = {"X-Probe: drover", "Accept: */*"};
    struct check_spec c = {.http = url("/health"),
                           .method = "HEAD",
                           .headers = hdrs,
                           .nheaders = 2};
    struct outcome o = probe(&c);
    assert_int_equal(o.r.verdict, PROBE_PASS);
    assert_int_equal(o.r.body_len, 0);
    struct check_spec post = {.http = url("/health"), .method = "POST"};
    o = probe(&post);
    assert_int_equal(o.r.verdict, PROBE_FAIL);
    assert_string_equal(o.r.reason, "status 405 (want 200)");
}

static void test_health_cancel(void **state)
{
    (void)state;
    demo_behave(&demo, "hang=1\n");
    struct outcome o;
    memset(&o, 0, sizeof(o));
    struct check_spec c = {.http = url("/health"), .timeout_ms = 200};
    struct probe *p = health_probe(health, &c, on_done, &o);
    bool never = false;
    run_until(&never, 50);
    assert_int_equal(health_inflight(health), 1);
    probe_cancel(p);
    assert_int_equal(health_inflight(health), 0);
    run_until(&never, 400);
    assert_false(o.done);
    /* A spec error is reported from the loop; cancelling it first means
     * no call at all. */
    struct check_spec bad = {.http = ""};
    p = health_probe(health, &bad, on_done, &o);
    probe_cancel(p);
    run_until(&never, 50);
    assert_false(o.done);
}

static void test_health_label(void **state)
{
    (void)state;
    char b[64];
    struct check_spec c = {.http = "http://u:secret@h:1/health/ready?t=x"};
    assert_string_equal(health_check_label(&c, b, sizeof(b)), "/health/ready");
    c.http = "http://h:1";
    assert_string_equal(health_check_label(&c, b, sizeof(b)), "/");
    c.label = "ready";
    assert_string_equal(health_check_label(&c, b, sizeof(b)), "ready");
    assert_string_equal(probe_verdict_str(PROBE_NOT_YET), "not yet");
}

/* Many probes at once: all answered, and cheaply. */
static void test_health_many_concurrent(void **state)
{
    (void)state;
    enum { N = 300 };
    static struct outcome o[N];
    memset(o, 0, sizeof(o));
    struct check_spec c = {.http = url("/health/ready")};
    int64_t cpu0 = clock_cpu_ms(), t0 = clock_mono_ms();
    for (int i = 0; i < N; i++)
        health_probe(health, &c, on_done, &o[i]);
    struct err e = {0};
    int64_t end = clock_mono_ms() + 10000;
    while (health_inflight(health) > 0 && clock_mono_ms() < end)
        assert_int_equal(loop_run_once(loop, 50, &e), 0);
    for (int i = 0; i < N; i++) {
        assert_int_equal(o[i].calls, 1);
        assert_int_equal(o[i].r.verdict, PROBE_PASS);
    }
    print_message("health: %d concurrent probes in %lldms wall, %lldms CPU\n",
                  N, (long long)(clock_mono_ms() - t0),
                  (long long)(clock_cpu_ms() - cpu0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_health_pass, setup),
        cmocka_unit_test_setup(test_health_503_is_not_yet, setup),
        cmocka_unit_test_setup(test_health_refused_is_not_yet, setup),
        cmocka_unit_test_setup(test_health_redirect_not_followed, setup),
        cmocka_unit_test_setup(test_health_wrong_status_fails, setup),
        cmocka_unit_test_setup(test_health_status_list, setup),
        cmocka_unit_test_setup(test_health_hang_times_out, setup),
        cmocka_unit_test_setup(test_health_connect_timeout_is_not_yet, setup),
        cmocka_unit_test_setup(test_health_bad_url_fails, setup),
        cmocka_unit_test_setup(test_health_not_http_fails, setup),
        cmocka_unit_test_setup(test_health_json_and_version, setup),
        cmocka_unit_test_setup(test_health_method_and_headers, setup),
        cmocka_unit_test_setup(test_health_cancel, setup),
        cmocka_unit_test(test_health_label),
        cmocka_unit_test_setup(test_health_many_concurrent, setup),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
