/* tests/unit/coordinator/test_notify.c: webhook POSTs against a real HTTP
 * server on loopback (a child process): the JSON body with its "text"
 * field, event filtering, a 500 answer, a server that never answers (the
 * timeout), a refused connection; failures are logged without the
 * webhook's secret path and never returned as errors; secrets in the text
 * are redacted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "clock.h"
#include "log.h"
#include "loop.h"
#include "notify.h"
#include "redact.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

enum server_mode { SERVE_OK, SERVE_500, SERVE_HANG };

struct server {
    pid_t pid; /* the child */
    int port;  /* where it listens */
    int out;   /* read end: one request body per line */
};

/* Answer `count` requests in mode; each body goes to the pipe. */
static void server_child(int lfd, int count, enum server_mode mode, int out)
{
    for (int i = 0; i < count; i++) {
        int c = accept(lfd, NULL, NULL);
        if (c < 0)
            _exit(2);
        char req[16384];
        size_t len = 0;
        long clen = -1;
        char *body = NULL;
        while (len < sizeof(req) - 1) {
            ssize_t r = read(c, req + len, sizeof(req) - 1 - len);
            if (r <= 0)
                break;
            len += (size_t)r;
            req[len] = '\0';
            char *end = strstr(req, "\r\n\r\n");
            if (end == NULL)
                continue;
            const char *cl = strcasestr(req, "Content-Length:");
            clen = cl != NULL ? strtol(cl + 15, NULL, 10) : 0;
            body = end + 4;
            if ((long)(len - (size_t)(body - req)) >= clen)
                break;
        }
        if (body != NULL) {
            size_t bl = strlen(body);
            if (write(out, body, bl) != (ssize_t)bl || write(out, "\n", 1) != 1)
                _exit(3);
        }
        if (mode == SERVE_HANG) {
            sleep(5);
            _exit(0);
        }
        const char *ans = mode == SERVE_OK
                              ? "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                                "Connection: close\r\n\r\nok"
                              : "HTTP/1.1 500 Internal Server Error\r\n"
                                "Content-Length: 4\r\nConnection: close\r\n"
                                "\r\noops";
        if (write(c, ans, strlen(ans)) < 0)
            _exit(4);
        close(c);
    }
    _exit(0);
}

static struct server server_start(int count, enum server_mode mode)
{
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(lfd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(lfd, 16), 0);
    socklen_t al = sizeof(a);
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&a, &al), 0);
    int p[2];
    assert_int_equal(pipe(p), 0);
    struct server s = {.port = ntohs(a.sin_port), .out = p[0]};
    s.pid = fork();
    assert_true(s.pid >= 0);
    if (s.pid == 0) {
        close(p[0]);
        server_child(lfd, count, mode, p[1]);
    }
    close(p[1]);
    close(lfd);
    return s;
}

/* Everything the server received; stops it. Caller frees. */
static char *server_stop(struct server *s)
{
    kill(s->pid, SIGTERM);
    int st;
    waitpid(s->pid, &st, 0);
    char *all = xcalloc(1, 65536);
    size_t len = 0;
    ssize_t r;
    while (len < 65535 && (r = read(s->out, all + len, 65535 - len)) > 0)
        len += (size_t)r;
    close(s->out);
    return all;
}

static struct loop *loop;
static FILE *logf_;

static int setup(void **state)
{
    (void)state;
    struct err e = {0};
    loop = loop_new(&e);
    assert_non_null(loop);
    logf_ = tmpfile();
    log_set_stream(logf_);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    loop_free(loop);
    log_set_stream(NULL);
    fclose(logf_);
    return 0;
}

static char *log_text(void)
{
    fflush(logf_);
    long n = ftell(logf_);
    char *s = xcalloc(1, (size_t)n + 1);
    rewind(logf_);
    if (fread(s, 1, (size_t)n, logf_) != (size_t)n)
        s[0] = '\0';
    fseek(logf_, 0, SEEK_END);
    return s;
}

static void test_notify_events_and_urls(void **state)
{
    (void)state;
    unsigned bit = 0;
    struct err e = {0};
    assert_int_equal(notify_event_parse("rollback", &bit, &e), ERR_OK);
    assert_int_equal(bit, NOTIFY_ROLLBACK);
    assert_int_equal(notify_event_parse("deployed", &bit, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "start, success, failure, rollback, pause"));
    assert_int_equal(notify_event_parse("pause", &bit, &e), ERR_OK);
    assert_int_equal(bit, NOTIFY_PAUSE);
    assert_string_equal(notify_event_str(NOTIFY_PAUSE), "pause");
    assert_string_equal(notify_event_str(NOTIFY_FAILURE), "failure");
    struct notify *n = notify_new(loop, &e);
    assert_non_null(n);
    err_clear(&e);
    assert_int_equal(notify_add(n, "ftp://x/y", 0, &e), ERR_INVALID);
    err_clear(&e);
    assert_int_equal(notify_add(n, "http:///path", 0, &e), ERR_INVALID);
    notify_free(n);
    notify_free(NULL);
}

static void test_notify_delivers(void **state)
{
    (void)state;
    struct server s = server_start(2, SERVE_OK);
    struct err e = {0};
    struct notify *n = notify_new(loop, &e);
    char *all = xasprintf("http://127.0.0.1:%d/hooks/T0SECRETPATH", s.port);
    char *fail = xasprintf("http://127.0.0.1:%d/only-failures", s.port);
    assert_int_equal(notify_add(n, all, 0, &e), ERR_OK);
    assert_int_equal(notify_add(n, fail, NOTIFY_FAILURE, &e), ERR_OK);
    redact_add(redact_global(), "hunter2-canary");
    struct notify_info in = {.deploy = "DEP-2026-11-22-001",
                             .plan = "sms",
                             .version = "2.1.0",
                             .user = "ops hunter2-canary"};
    notify_send(n, NOTIFY_START, &in);
    assert_int_equal(notify_inflight(n), 1); /* the failure-only hook is not
                                                subscribed to start */
    in.result = "rolled back";
    notify_send(n, NOTIFY_SUCCESS, &in);
    assert_int_equal(notify_inflight(n), 2);
    assert_int_equal(notify_flush(n, 5000, &e), ERR_OK);
    assert_int_equal(notify_inflight(n), 0);
    assert_int_equal(notify_failures(n), 0);
    notify_free(n);
    char *got = server_stop(&s);
    /* two bodies, one per line */
    char *nl = strchr(got, '\n');
    assert_non_null(nl);
    *nl = '\0';
    json_error_t je;
    json_t *o = json_loads(got, 0, &je);
    if (o == NULL)
        fail_msg("bad body %s: %s", got, je.text);
    const char *text = json_string_value(json_object_get(o, "text"));
    assert_non_null(text);
    assert_non_null(strstr(text, "DEP-2026-11-22-001"));
    assert_non_null(strstr(text, "sms 2.1.0"));
    assert_string_equal(json_string_value(json_object_get(o, "event")),
                        "start");
    json_decref(o);
    o = json_loads(nl + 1, 0, &je);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "event")),
                        "success");
    assert_string_equal(json_string_value(json_object_get(o, "result")),
                        "rolled back");
    json_decref(o);
    assert_null(strstr(nl + 1, "hunter2-canary"));
    assert_null(strstr(got, "hunter2-canary"));
    free(got);
    free(all);
    free(fail);
}

/* A body is redacted string by string, as every JSON drover sends: a
 * to-the-end-of-line rule (an Authorization header in a deploy's result)
 * run over the encoded body would eat its closing quotes. */
static void test_notify_body_stays_json(void **state)
{
    (void)state;
    struct server s = server_start(1, SERVE_OK);
    struct err e = {0};
    struct notify *n = notify_new(loop, &e);
    char *url = xasprintf("http://127.0.0.1:%d/hook", s.port);
    assert_int_equal(notify_add(n, url, 0, &e), ERR_OK);
    struct notify_info in = {
        .deploy = "DEP-2026-11-22-002",
        .plan = "sms",
        .version = "2",
        .result = "h1: Authorization: Bearer canary-hdr-31 (step 'x')"};
    notify_send(n, NOTIFY_FAILURE, &in);
    assert_int_equal(notify_flush(n, 5000, &e), ERR_OK);
    notify_free(n);
    char *got = server_stop(&s);
    assert_null(strstr(got, "canary-hdr-31"));
    char *nl = strchr(got, '\n');
    if (nl != NULL)
        *nl = '\0';
    json_error_t je;
    json_t *o = json_loads(got, 0, &je);
    if (o == NULL)
        fail_msg("not JSON: %s: %s", got, je.text);
    assert_string_equal(json_string_value(json_object_get(o, "result")),
                        "h1: Authorization: [redacted]");
    assert_string_equal(json_string_value(json_object_get(o, "event")),
                        "failure");
    json_decref(o);
    free(got);
    free(url);
}

static void test_notify_failures_logged(void **state)
{
    (void)state;
    struct server bad = server_start(1, SERVE_500);
    struct server hang = server_start(1, SERVE_HANG);
    /* a port with nothing listening */
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t al = sizeof(a);
    getsockname(lfd, (struct sockaddr *)&a, &al);
    int closed_port = ntohs(a.sin_port);
    close(lfd);

    struct err e = {0};
    struct notify *n = notify_new(loop, &e);
    notify_set_timeout(n, 400);
    char *u1 = xasprintf("http://127.0.0.1:%d/SECRET500", bad.port);
    char *u2 = xasprintf("http://127.0.0.1:%d/SECRETHANG", hang.port);
    char *u3 =
        xasprintf("http://user:pw@127.0.0.1:%d/SECRETREFUSED", closed_port);
    assert_int_equal(notify_add(n, u1, 0, &e), ERR_OK);
    assert_int_equal(notify_add(n, u2, 0, &e), ERR_OK);
    assert_int_equal(notify_add(n, u3, 0, &e), ERR_OK);
    struct notify_info in = {.deploy = "DEP-X", .text = "custom words"};
    int64_t t0 = clock_mono_ms();
    notify_send(n, NOTIFY_FAILURE, &in);
    assert_int_equal(notify_flush(n, 5000, &e), ERR_OK);
    int64_t took = clock_mono_ms() - t0;
    assert_true(took < 3000); /* the hanging server was cut at its timeout */
    assert_int_equal(notify_failures(n), 3);
    notify_free(n);
    char *log = log_text();
    assert_non_null(strstr(log, "status 500"));
    assert_non_null(strstr(log, "the deploy goes on"));
    char host[64];
    snprintf(host, sizeof(host), "notify http://127.0.0.1:%d:", bad.port);
    assert_non_null(strstr(log, host));
    assert_null(strstr(log, "SECRET"));
    assert_null(strstr(log, "user:pw"));
    free(log);
    char *got = server_stop(&bad);
    assert_non_null(strstr(got, "\"text\":\"custom words\""));
    free(got);
    got = server_stop(&hang);
    assert_non_null(strstr(got, "\"event\":\"failure\""));
    free(got);
    free(u1);
    free(u2);
    free(u3);
}

static void test_notify_flush_abandons(void **state)
{
    (void)state;
    struct server hang = server_start(1, SERVE_HANG);
    struct err e = {0};
    struct notify *n = notify_new(loop, &e);
    char *u = xasprintf("http://127.0.0.1:%d/h", hang.port);
    assert_int_equal(notify_add(n, u, NOTIFY_START, &e), ERR_OK);
    struct notify_info in = {.deploy = "DEP-Y"};
    notify_send(n, NOTIFY_ROLLBACK, &in); /* not subscribed */
    assert_int_equal(notify_inflight(n), 0);
    notify_send(n, NOTIFY_START, &in);
    assert_int_equal(notify_flush(n, 200, &e), ERR_OK);
    assert_int_equal(notify_inflight(n), 0);
    assert_int_equal(notify_failures(n), 1);
    notify_free(n);
    char *log = log_text();
    assert_non_null(strstr(log, "abandoned after 200ms"));
    free(log);
    free(server_stop(&hang));
    free(u);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_notify_events_and_urls, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_notify_delivers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_notify_body_stays_json, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_notify_failures_logged, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_notify_flush_abandons, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
