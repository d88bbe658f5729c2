/* tests/unit/coordinator/test_local.c: the local transport runs real
 * commands: exit codes, signals, stdin, output streams, timeouts and cancel
 * that kill the whole process group. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "buf.h"
#include "local.h"
#include "loop.h"
#include "transport.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct run {
    struct loop *loop;
    struct transport *t;
    struct conn *c;
    bool opened;
    bool done;
    struct exec_result res;
    struct buf out;
    struct buf err;
    bool cancel_on_output;
};

static void on_opened(struct conn *c, const struct err *e, void *arg)
{
    (void)c;
    struct run *r = arg;
    assert_null(e);
    r->opened = true;
}

static void on_output(struct conn *c, int stream, const char *d, size_t n,
                      void *arg)
{
    struct run *r = arg;
    buf_add(stream == EXEC_STDOUT ? &r->out : &r->err, d, n);
    if (r->cancel_on_output)
        conn_cancel(c);
}

static void on_done(struct conn *c, const struct exec_result *res, void *arg)
{
    (void)c;
    struct run *r = arg;
    r->res = *res;
    r->done = true;
}

static const struct conn_cb cb = {on_opened, on_output, on_done};

static int setup(void **state)
{
    struct run *r = calloc(1, sizeof(*r));
    struct err e = {0};
    r->loop = loop_new(&e);
    r->t = local_transport_new(r->loop, &e);
    assert_non_null(r->t);
    buf_init(&r->out, BUF_UNLIMITED);
    buf_init(&r->err, BUF_UNLIMITED);
    struct target tg = {.name = "local"};
    r->c = transport_connect(r->t, &tg, &cb, r);
    while (!r->opened)
        loop_run_once(r->loop, 1000, &e);
    *state = r;
    return 0;
}

static int teardown(void **state)
{
    struct run *r = *state;
    conn_close(r->c);
    transport_free(r->t);
    loop_free(r->loop);
    buf_release(&r->out);
    buf_release(&r->err);
    free(r);
    return 0;
}

static void run_cmd(struct run *r, const char *cmd, const char *input,
                    int64_t timeout_ms)
{
    struct err e = {0};
    struct exec_spec s = {.command = cmd,
                          .input = input,
                          .input_len = input ? strlen(input) : 0,
                          .timeout_ms = timeout_ms};
    r->done = false;
    buf_reset(&r->out);
    buf_reset(&r->err);
    assert_int_equal(conn_exec(r->c, &s, &e), ERR_OK);
    for (int i = 0; i < 2000 && !r->done; i++)
        loop_run_once(r->loop, 100, &e);
    assert_true(r->done);
}

static void test_local_exit_and_output(void **state)
{
    struct run *r = *state;
    run_cmd(r, "echo out; echo err >&2; exit 3", NULL, 0);
    assert_int_equal(r->res.end, EXEC_EXITED);
    assert_int_equal(r->res.exit_code, 3);
    assert_false(exec_result_ok(&r->res));
    assert_string_equal(buf_cstr(&r->out), "out\n");
    assert_string_equal(buf_cstr(&r->err), "err\n");
    run_cmd(r, "true", NULL, 0);
    assert_true(exec_result_ok(&r->res));
}

static void test_local_stdin(void **state)
{
    struct run *r = *state;
    run_cmd(r, "read -r secret; echo got=${#secret}", "s3cr3t-value\n", 0);
    assert_true(exec_result_ok(&r->res));
    assert_string_equal(buf_cstr(&r->out), "got=12\n");
}

static void test_local_signal(void **state)
{
    struct run *r = *state;
    run_cmd(r, "kill -SEGV $$", NULL, 0);
    assert_int_equal(r->res.end, EXEC_SIGNALED);
    assert_string_equal(r->res.signal, "SEGV");
    assert_false(exec_result_ok(&r->res));
    char what[128];
    exec_result_str(&r->res, what, sizeof(what));
    assert_string_equal(what, "killed by signal SEGV");
}

static void test_local_timeout_kills_group(void **state)
{
    struct run *r = *state;
    char marker[64];
    snprintf(marker, sizeof(marker), "/tmp/drover-local-%d", (int)getpid());
    char cmd[256];
    /* a background child in the same group must die with the step */
    snprintf(cmd, sizeof(cmd), "(sleep 30; touch %s) & echo started; sleep 30",
             marker);
    run_cmd(r, cmd, NULL, 300);
    assert_int_equal(r->res.end, EXEC_TIMEOUT);
    assert_true(r->res.elapsed_ms >= 300);
    assert_true(r->res.elapsed_ms < 5000);
    assert_string_equal(buf_cstr(&r->out), "started\n");
    assert_int_not_equal(access(marker, F_OK), 0);
}

static void test_local_cancel(void **state)
{
    struct run *r = *state;
    r->cancel_on_output = true;
    run_cmd(r, "echo go; sleep 30", NULL, 0);
    r->cancel_on_output = false;
    assert_int_equal(r->res.end, EXEC_CANCELLED);
    assert_true(r->res.elapsed_ms < 5000);
}

static void test_local_busy(void **state)
{
    struct run *r = *state;
    struct err e = {0};
    struct exec_spec s = {.command = "sleep 0.2"};
    assert_int_equal(conn_exec(r->c, &s, &e), ERR_OK);
    struct err e2 = {0};
    assert_int_equal(conn_exec(r->c, &s, &e2), ERR_INVALID);
    r->done = false;
    while (!r->done)
        loop_run_once(r->loop, 100, &e);
    assert_true(exec_result_ok(&r->res));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_local_exit_and_output, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_local_stdin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_local_signal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_local_timeout_kills_group, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_local_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_local_busy, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
