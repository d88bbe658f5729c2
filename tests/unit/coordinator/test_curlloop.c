/* tests/unit/coordinator/test_curlloop.c: curl's sockets and timer on the
 * common loop: a transfer to a real local HTTP server (a thread-free one
 * made of a listening socket served by the same loop) finishes and is
 * handed over once; a refused connection is reported too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "curlloop.h"
#include "err.h"
#include "loop.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct server {
    int lfd;
    struct loop_io lio;
    int cfd;
    struct loop_io cio;
};

static void serve_client(struct loop *l, struct loop_io *io, unsigned ev,
                         void *arg)
{
    (void)ev;
    struct server *s = arg;
    char req[2048];
    ssize_t n = read(s->cfd, req, sizeof(req));
    if (n <= 0 || memmem(req, (size_t)n, "\r\n\r\n", 4) == NULL)
        return;
    const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                       "Connection: close\r\n\r\nok";
    assert_int_equal(write(s->cfd, resp, strlen(resp)), (ssize_t)strlen(resp));
    loop_io_stop(l, io);
    close(s->cfd);
}

static void serve_accept(struct loop *l, struct loop_io *io, unsigned ev,
                         void *arg)
{
    (void)io;
    (void)ev;
    struct server *s = arg;
    s->cfd = accept(s->lfd, NULL, NULL);
    assert_true(s->cfd >= 0);
    loop_io_init_fd(&s->cio, s->cfd, serve_client, s);
    loop_io_start(l, &s->cio, LOOP_READ);
}

struct result {
    int calls;
    CURLcode rc;
    long status;
};

static void on_done(CURL *easy, CURLcode rc, void *arg)
{
    struct result *r = arg;
    r->calls++;
    r->rc = rc;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &r->status);
}

static int listen_local(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 8), 0);
    socklen_t len = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &len);
    *port = ntohs(a.sin_port);
    return fd;
}

static void run_get(struct loop *l, struct curlloop *c, struct result *r,
                    const char *url)
{
    CURL *easy = curl_easy_init();
    curl_easy_setopt(easy, CURLOPT_URL, url);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 3000L);
    FILE *sink = fopen("/dev/null", "w");
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, sink);
    assert_int_equal(curl_multi_add_handle(curlloop_multi(c), easy), CURLM_OK);
    struct err e = {0};
    for (int i = 0; i < 100 && r->calls == 0; i++)
        loop_run_once(l, 50, &e);
    curl_multi_remove_handle(curlloop_multi(c), easy);
    curl_easy_cleanup(easy);
    fclose(sink);
}

static void test_curlloop_transfer_and_refused(void **state)
{
    (void)state;
    struct err e = {0};
    struct loop *l = loop_new(&e);
    struct result r = {0};
    struct curlloop *c = curlloop_new(l, on_done, &r, &e);
    assert_non_null(c);
    struct server s = {0};
    int port;
    s.lfd = listen_local(&port);
    loop_io_init_fd(&s.lio, s.lfd, serve_accept, &s);
    loop_io_start(l, &s.lio, LOOP_READ);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", port);
    run_get(l, c, &r, url);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.rc, CURLE_OK);
    assert_int_equal(r.status, 200);
    loop_io_stop(l, &s.lio);
    close(s.lfd);

    /* nothing listens there now: refused, reported once */
    struct result r2 = {0};
    struct curlloop *c2 = curlloop_new(l, on_done, &r2, &e);
    run_get(l, c2, &r2, url);
    assert_int_equal(r2.calls, 1);
    assert_int_equal(r2.rc, CURLE_COULDNT_CONNECT);
    curlloop_free(c2);
    curlloop_free(c);
    assert_int_equal(loop_timer_count(l), 0);
    loop_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_curlloop_transfer_and_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
