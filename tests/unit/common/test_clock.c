/* tests/unit/common/test_clock.c: the clocks move the right way and
 * durations print the way the operator reads them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "clock.h"

#include <string.h>
#include <time.h>

static void test_clock_mono_non_decreasing(void **state)
{
    (void)state;
    int64_t prev_ms = clock_mono_ms(), prev_ns = clock_mono_ns();
    for (int i = 0; i < 100000; i++) {
        int64_t ms = clock_mono_ms(), ns = clock_mono_ns();
        assert_true(ms >= prev_ms);
        assert_true(ns >= prev_ns);
        prev_ms = ms;
        prev_ns = ns;
    }
    /* ms and ns agree on the same clock */
    int64_t ns = clock_mono_ns();
    int64_t ms = clock_mono_ms();
    assert_true(ms >= ns / 1000000);
    assert_true(ms - ns / 1000000 < 1000);
}

static void test_clock_mono_advances(void **state)
{
    (void)state;
    int64_t t0 = clock_mono_ms();
    struct timespec ts = {0, 30 * 1000000};
    nanosleep(&ts, NULL);
    int64_t d = clock_mono_ms() - t0;
    assert_true(d >= 30);
    assert_true(d < 5000);
}

static void test_clock_wall_is_epoch_ms(void **state)
{
    (void)state;
    int64_t w = clock_wall_ms();
    int64_t t = (int64_t)time(NULL);
    /* within a couple of seconds of time(2), in milliseconds */
    assert_true(w / 1000 >= t - 2);
    assert_true(w / 1000 <= t + 2);
    assert_true(clock_cpu_ms() >= 0);
}

static void test_clock_fmt_duration_table(void **state)
{
    (void)state;
    static const struct {
        int64_t ms;
        const char *want;
    } cases[] = {
        {0, "0ms"},          {1, "1ms"},          {340, "340ms"},
        {999, "999ms"},      {1000, "1.00s"},     {1250, "1.25s"},
        {1999, "1.99s"},     {59990, "59.99s"},   {59999, "59.99s"},
        {60000, "1m00s"},    {61000, "1m01s"},    {125000, "2m05s"},
        {3599999, "59m59s"}, {3600000, "60m00s"}, {-1, "0ms"},
        {-90000, "0ms"},     {INT64_MIN, "0ms"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[32];
        memset(out, 'X', sizeof(out));
        const char *s = clock_fmt_duration(cases[i].ms, out, sizeof(out));
        assert_ptr_equal(s, out);
        assert_string_equal(s, cases[i].want);
    }
}

static void test_clock_fmt_duration_small_buffer(void **state)
{
    (void)state;
    char out[4];
    /* truncated but always terminated */
    assert_string_equal(clock_fmt_duration(125000, out, sizeof(out)), "2m0");
    char big[32];
    assert_string_equal(clock_fmt_duration(INT64_MAX, big, sizeof(big)),
                        "153722867280912m55s");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clock_mono_non_decreasing),
        cmocka_unit_test(test_clock_mono_advances),
        cmocka_unit_test(test_clock_wall_is_epoch_ms),
        cmocka_unit_test(test_clock_fmt_duration_table),
        cmocka_unit_test(test_clock_fmt_duration_small_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
