/* tests/unit/coordinator/test_transport.c: the generic side of the
 * transport interface: results in words, and the wrappers dispatching to
 * an implementation's table (checked with the real local transport). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "local.h"
#include "loop.h"
#include "transport.h"

#include <stdio.h>
#include <string.h>

static void test_exec_result_words(void **state)
{
    (void)state;
    char out[300];
    struct exec_result r;
    memset(&r, 0, sizeof(r));
    r.end = EXEC_EXITED;
    assert_true(exec_result_ok(&r));
    assert_string_equal(exec_result_str(&r, out, sizeof(out)), "exit 0");
    r.exit_code = 3;
    assert_false(exec_result_ok(&r));
    assert_string_equal(exec_result_str(&r, out, sizeof(out)), "exit 3");
    r.end = EXEC_SIGNALED;
    snprintf(r.signal, sizeof(r.signal), "KILL");
    assert_false(exec_result_ok(&r));
    assert_string_equal(exec_result_str(&r, out, sizeof(out)),
                        "killed by signal KILL");
    r.end = EXEC_TIMEOUT;
    err_set(&r.err, ERR_TIMEOUT, "no exit after 2s");
    assert_string_equal(exec_result_str(&r, out, sizeof(out)),
                        "timed out: no exit after 2s");
    r.end = EXEC_CANCELLED;
    assert_string_equal(exec_result_str(&r, out, sizeof(out)), "cancelled");
    memset(&r, 0, sizeof(r));
    r.end = EXEC_FAILED;
    assert_string_equal(exec_result_str(&r, out, sizeof(out)), "failed");
    err_set(&r.err, ERR_UNREACHABLE, "host h1: connection refused");
    assert_string_equal(exec_result_str(&r, out, sizeof(out)),
                        "host h1: connection refused");
}

static bool opened;
static bool done;
static struct exec_result got;

static void on_opened(struct conn *c, const struct err *e, void *arg)
{
    (void)c;
    (void)e;
    (void)arg;
    opened = true;
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
    (void)arg;
    got = *r;
    done = true;
}

static void test_transport_wrappers_dispatch(void **state)
{
    (void)state;
    struct err e = {0};
    struct loop *l = loop_new(&e);
    struct transport *t = local_transport_new(l, &e);
    assert_string_equal(t->ops->name, "local");
    static const struct conn_cb cb = {on_opened, on_output, on_done};
    struct target tg = {.name = "here"};
    struct conn *c = transport_connect(t, &tg, &cb, NULL);
    assert_ptr_equal(c->t, t);
    for (int i = 0; i < 100 && !opened; i++)
        loop_run_once(l, 50, &e);
    assert_true(opened);
    struct exec_spec s = {.command = "sleep 5"};
    assert_int_equal(conn_exec(c, &s, &e), ERR_OK);
    conn_cancel(c);
    for (int i = 0; i < 200 && !done; i++)
        loop_run_once(l, 50, &e);
    assert_true(done);
    assert_int_equal(got.end, EXEC_CANCELLED);
    conn_close(c);
    conn_close(NULL);
    transport_free(t);
    transport_free(NULL);
    loop_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exec_result_words),
        cmocka_unit_test(test_transport_wrappers_dispatch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
