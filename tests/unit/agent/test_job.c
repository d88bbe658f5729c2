/* tests/unit/agent/test_job.c: jobs on a real loop with real children:
 * output, stdin, environment, exit status, signals, timeout and cancel
 * killing the whole process group, backpressure, lingering daemons. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "buf.h"
#include "clock.h"
#include "job.h"
#include "loop.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

struct run {
    struct loop *l;
    struct buf out[2];
    struct job_result r;
    bool done;
    struct job *j;
};

static void on_output(struct job *j, int stream, const char *data, size_t len,
                      void *arg)
{
    (void)j;
    struct run *r = arg;
    buf_add(&r->out[stream - 1], data, len);
}

static void on_done(struct job *j, const struct job_result *res, void *arg)
{
    struct run *r = arg;
    r->r = *res;
    r->done = true;
    job_free(j);
    r->j = NULL;
}

static const struct job_cb cb = {on_output, on_done};

static void run_job(struct run *r, struct job_spec *s, int64_t cancel_ms,
                    int64_t limit_ms)
{
    struct err e = {0};
    memset(r, 0, sizeof(*r));
    r->l = loop_new(&e);
    struct job_table *t = job_table_new(r->l, &e);
    assert_non_null(t);
    buf_init(&r->out[0], BUF_UNLIMITED);
    buf_init(&r->out[1], BUF_UNLIMITED);
    r->j = job_start(t, s, &cb, r, &e);
    assert_non_null(r->j);
    int64_t t0 = clock_mono_ms();
    while (!r->done && clock_mono_ms() - t0 < limit_ms) {
        loop_run_once(r->l, 50, &e);
        if (cancel_ms > 0 && r->j && clock_mono_ms() - t0 > cancel_ms)
            job_kill(r->j, JOB_CANCELLED);
    }
    assert_true(r->done);
    job_table_free(t);
    loop_free(r->l);
}

static void run_free(struct run *r)
{
    buf_release(&r->out[0]);
    buf_release(&r->out[1]);
}

static const char *const env[] = {"PATH=/usr/bin:/bin", "GREETING=hi", NULL};

static void test_job_output_env_stdin(void **state)
{
    (void)state;
    struct run r;
    struct job_spec s = {
        .command = "echo $GREETING; cat; echo oops >&2; exit 3",
        .env = env,
        .input = "from stdin\n",
        .input_len = 11,
    };
    run_job(&r, &s, 0, 5000);
    assert_int_equal(r.r.end, JOB_EXITED);
    assert_int_equal(r.r.code, 3);
    assert_string_equal(buf_cstr(&r.out[0]), "hi\nfrom stdin\n");
    assert_string_equal(buf_cstr(&r.out[1]), "oops\n");
    run_free(&r);
}

static void test_job_signal(void **state)
{
    (void)state;
    struct run r;
    struct job_spec s = {.command = "kill -SEGV $$", .env = env};
    run_job(&r, &s, 0, 5000);
    assert_int_equal(r.r.end, JOB_SIGNALED);
    assert_string_equal(r.r.signal, "SEGV");
    run_free(&r);
}

/* The background child's pid is printed first; after the job ends it
 * must be gone. */
static void assert_group_gone(struct run *r)
{
    long bg = strtol(buf_cstr(&r->out[0]), NULL, 10);
    assert_true(bg > 1);
    int gone = 0;
    for (int i = 0; i < 50 && !gone; i++) {
        /* reaped by init or a zombie of ours: both mean it died */
        if (kill((pid_t)bg, 0) != 0 && errno == ESRCH)
            gone = 1;
        else {
            char path[64], st = 0;
            snprintf(path, sizeof(path), "/proc/%ld/stat", bg);
            FILE *f = fopen(path, "r");
            if (f) {
                if (fscanf(f, "%*d %*s %c", &st) != 1)
                    st = 0;
                fclose(f);
            }
            gone = st == 'Z';
        }
        if (!gone)
            usleep(20000);
    }
    assert_true(gone);
}

static void test_job_timeout_kills_group(void **state)
{
    (void)state;
    struct run r;
    struct job_spec s = {
        .command = "sleep 100 & echo $!; trap '' TERM; sleep 100",
        .env = env,
        .timeout_ms = 300,
        .kill_grace_ms = 300,
    };
    int64_t t0 = clock_mono_ms();
    run_job(&r, &s, 0, 5000);
    assert_int_equal(r.r.end, JOB_TIMEOUT);
    assert_true(clock_mono_ms() - t0 < 3000);
    assert_group_gone(&r);
    run_free(&r);
}

static void test_job_cancel_kills_group(void **state)
{
    (void)state;
    struct run r;
    struct job_spec s = {.command = "sleep 100 & echo $!; sleep 100",
                         .env = env};
    run_job(&r, &s, 200, 5000);
    assert_int_equal(r.r.end, JOB_CANCELLED);
    assert_string_equal(r.r.signal, "TERM");
    assert_group_gone(&r);
    run_free(&r);
}

static void test_job_daemon_lingers(void **state)
{
    (void)state;
    struct run r;
    /* the background sleep keeps stdout open; the job still ends */
    struct job_spec s = {.command = "sleep 3 & echo started", .env = env};
    int64_t t0 = clock_mono_ms();
    run_job(&r, &s, 0, 5000);
    int64_t took = clock_mono_ms() - t0;
    assert_int_equal(r.r.end, JOB_EXITED);
    assert_int_equal(r.r.code, 0);
    assert_true(took >= JOB_LINGER_MS - 50 && took < 2500);
    assert_string_equal(buf_cstr(&r.out[0]), "started\n");
    run_free(&r);
}

static void test_job_spawn_failure(void **state)
{
    (void)state;
    struct run r;
    struct job_spec s = {.command = "/nonexistent/x", .env = env};
    run_job(&r, &s, 0, 5000);
    assert_int_equal(r.r.end, JOB_EXITED);
    assert_int_equal(r.r.code, 127);
    assert_non_null(strstr(buf_cstr(&r.out[1]), "not found"));
    run_free(&r);
}

/* Paused output: the child blocks in write; resumed, all bytes arrive. */
static void test_job_backpressure(void **state)
{
    (void)state;
    struct err e = {0};
    struct run r;
    memset(&r, 0, sizeof(r));
    r.l = loop_new(&e);
    struct job_table *t = job_table_new(r.l, &e);
    buf_init(&r.out[0], BUF_UNLIMITED);
    buf_init(&r.out[1], BUF_UNLIMITED);
    struct job_spec s = {.command = "head -c 1000000 /dev/zero", .env = env};
    r.j = job_start(t, &s, &cb, &r, &e);
    job_pause(r.j, true);
    int64_t t0 = clock_mono_ms();
    while (clock_mono_ms() - t0 < 300)
        loop_run_once(r.l, 50, &e);
    assert_false(r.done);
    assert_int_equal(r.out[0].len, 0);
    job_pause(r.j, false);
    while (!r.done && clock_mono_ms() - t0 < 5000)
        loop_run_once(r.l, 50, &e);
    assert_true(r.done);
    assert_int_equal(r.out[0].len, 1000000);
    job_table_free(t);
    loop_free(r.l);
    run_free(&r);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_job_output_env_stdin),
        cmocka_unit_test(test_job_signal),
        cmocka_unit_test(test_job_timeout_kills_group),
        cmocka_unit_test(test_job_cancel_kills_group),
        cmocka_unit_test(test_job_daemon_lingers),
        cmocka_unit_test(test_job_spawn_failure),
        cmocka_unit_test(test_job_backpressure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
