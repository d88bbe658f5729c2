/* tests/unit/coordinator/test_transports.c: hosts are routed to the
 * transport of the kind their inventory names; a missing transport is
 * reported as an open failure from the loop, never a crash, and a bad
 * kind is refused naming every kind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "loop.h"
#include "transport.h"
#include "transports.h"

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

static void test_transports_routes_local(void **state)
{
    (void)state;
    struct err e = {0};
    struct loop *l = loop_new(&e);
    struct transport_options o = {0};
    struct transport *m = transports_new(l, &o);
    const struct transport_kind *local = transport_kind_find("local", &e);
    transports_want(m, local);
    assert_int_equal(transports_open(m, &e), ERR_OK);
    struct probe p = {0};
    struct target tg = {.name = "h1", .address = "localhost", .kind = local};
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
    loop_free(l);
}

static void test_transports_missing(void **state)
{
    (void)state;
    struct err e = {0};
    struct loop *l = loop_new(&e);
    struct transport_options o = {0};
    struct transport *m = transports_new(l, &o);
    struct probe p = {0};
    struct target tg = {.name = "h2",
                        .address = "10.0.0.2",
                        .kind = transport_kind_find("agent", &e)};
    struct conn *c = transport_connect(m, &tg, &cb, &p);
    assert_false(p.opened); /* reported from the loop, not inline */
    wait_for(l, &p.opened);
    assert_int_equal(p.err.code, ERR_UNREACHABLE);
    assert_non_null(strstr(p.err.msg, "no agent transport"));
    struct exec_spec s = {.command = "true"};
    struct err e2 = {0};
    assert_int_equal(conn_exec(c, &s, &e2), ERR_UNREACHABLE);
    conn_close(c);
    /* a kind that is not in the table never reaches a set */
    struct err q = {0};
    assert_null(transport_kind_find("telnet", &q));
    assert_non_null(strstr(q.msg, "not ssh, agent or local"));
    transport_free(m);
    loop_free(l);
}

static void test_transports_kind_find(void **state)
{
    (void)state;
    struct err e = {0};
    assert_non_null(transport_kind_find(NULL, &e));
    assert_non_null(transport_kind_find("ssh", &e));
    assert_non_null(transport_kind_find("agent", &e));
    assert_non_null(transport_kind_find("local", &e));
    assert_null(transport_kind_find("SSH", &e));
    assert_int_equal(e.code, ERR_INVALID);
    /* unset is ssh */
    assert_ptr_equal(transport_kind_find(NULL, &e),
                     transport_kind_find("ssh", &e));
    assert_string_equal(e.msg, "drover_transport 'SSH' is not ssh, agent or "
                               "local");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transports_routes_local),
        cmocka_unit_test(test_transports_missing),
        cmocka_unit_test(test_transports_kind_find),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
