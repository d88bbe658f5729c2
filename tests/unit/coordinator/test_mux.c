/* tests/unit/coordinator/test_mux.c: hosts are routed to the transport
 * their inventory names; a missing transport or a bad kind is reported as
 * an open failure from the loop, never a crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "local.h"
#include "loop.h"
#include "mux.h"
#include "transport.h"

#include <string.h>

struct probe {
    bool opened;
    struct err err;
    bool done;
    struct exec_result res;
};

static void on_opened(struct conn *c, const struct err *e, void *arg)
{
    (void)c;
    struct probe *p = arg;
    p->opened = true;
    if (e != NULL)
        p->err = *e;
}

static void on_output(struct conn *c, int s, const char *d, size_t n, void *arg)
{
    (void)c;
    (void)s;
    (void)d;
    (void)n;
    (void)arg;
}

static void on_done(struct conn *c, const struct exec_result *r, void *arg)
{
    (void)c;
    struct probe *p = arg;
    p->done = true;
    p->res = *r;
}

static const struct conn_cb cb = {on_opened, on_output, on_done};

static void wait_for(struct loop *l, bool *flag)
{
    struct err e = {0};
    for (int i = 0; i < 200 && !*flag; i++)
        loop_run_once(l, 50, &e);
    assert_true(*flag);
}

static void test_mux_routes_local(void **state)
{
    (void)state;
    struct err e = {0};
    struct loop *l = loop_new(&e);
    struct transport *local = local_transport_new(l, &e);
    struct transport *m = mux_transport_new(l, NULL, NULL, local);
    struct probe p = {0};
    struct target tg = {.name = "h1", .address = "localhost", .kind = "local"};
    struct conn *c = transport_connect(m, &tg, &cb, &p);
    wait_for(l, &p.opened);
    assert_int_equal(p.err.code, ERR_OK);
    struct exec_spec s = {.command = "exit 5"};
    assert_int_equal(conn_exec(c, &s, &e), ERR_OK);
    wait_for(l, &p.done);
    assert_int_equal(p.res.end, EXEC_EXITED);
    assert_int_equal(p.res.exit_code, 5);
    conn_close(c);
    transport_free(m);
    transport_free(local);
    loop_free(l);
}

static void test_mux_missing_transport(void **state)
{
    (void)state;
    struct err e = {0};
    struct loop *l = loop_new(&e);
    struct transport *m = mux_transport_new(l, NULL, NULL, NULL);
    struct probe p = {0};
    struct target tg = {.name = "h2", .address = "10.0.0.2", .kind = "agent"};
    struct conn *c = transport_connect(m, &tg, &cb, &p);
    assert_false(p.opened); /* reported from the loop, not inline */
    wait_for(l, &p.opened);
    assert_int_equal(p.err.code, ERR_UNREACHABLE);
    assert_non_null(strstr(p.err.msg, "no agent transport"));
    struct exec_spec s = {.command = "true"};
    struct err e2 = {0};
    assert_int_equal(conn_exec(c, &s, &e2), ERR_UNREACHABLE);
    conn_close(c);
    struct probe q = {0};
    struct target bad = {.name = "h3", .address = "x", .kind = "telnet"};
    c = transport_connect(m, &bad, &cb, &q);
    wait_for(l, &q.opened);
    assert_non_null(strstr(q.err.msg, "not ssh, agent or local"));
    conn_close(c);
    transport_free(m);
    loop_free(l);
}

static void test_mux_check_kind(void **state)
{
    (void)state;
    struct err e = {0};
    assert_int_equal(mux_check_kind(NULL, &e), ERR_OK);
    assert_int_equal(mux_check_kind("ssh", &e), ERR_OK);
    assert_int_equal(mux_check_kind("agent", &e), ERR_OK);
    assert_int_equal(mux_check_kind("local", &e), ERR_OK);
    assert_int_equal(mux_check_kind("SSH", &e), ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mux_routes_local),
        cmocka_unit_test(test_mux_missing_transport),
        cmocka_unit_test(test_mux_check_kind),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
