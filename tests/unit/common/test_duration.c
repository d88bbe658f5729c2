/* tests/unit/common/test_duration.c: duration strings to milliseconds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "duration.h"

#include <string.h>

static int64_t parse_ok(const char *s)
{
    struct err e = {0};
    int64_t ms = -1;
    assert_int_equal(duration_parse(s, &ms, &e), ERR_OK);
    assert_int_equal(e.code, ERR_OK);
    return ms;
}

static void parse_bad(const char *s, const char *why)
{
    struct err e = {0};
    int64_t ms = 77;
    assert_int_equal(duration_parse(s, &ms, &e), ERR_PARSE);
    assert_int_equal(ms, 77);
    assert_non_null(strstr(e.msg, why));
}

static void test_duration_units(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("500ms"), 500);
    assert_int_equal(parse_ok("2s"), 2000);
    assert_int_equal(parse_ok("5m"), 300000);
    assert_int_equal(parse_ok("1h"), 3600000);
    assert_int_equal(parse_ok("1d"), 86400000);
    assert_int_equal(parse_ok("0s"), 0);
}

static void test_duration_compound_and_bare(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("1m30s"), 90000);
    assert_int_equal(parse_ok("1h2m3s4ms"), 3723004);
    assert_int_equal(parse_ok("10"), 10000);
}

static void test_duration_errors(void **state)
{
    (void)state;
    parse_bad("", "empty");
    parse_bad("abc", "expected a number");
    parse_bad("5x", "unknown unit");
    parse_bad("5sec", "unknown unit");
    parse_bad("1m30", "needs a unit");
    parse_bad("-1s", "expected a number");
    parse_bad("31d", "too long");
    parse_bad("99999999999999999999s", "too long");
    parse_bad("2s ", "expected a number");
}

static void test_duration_error_quotes_input(void **state)
{
    (void)state;
    struct err e = {0};
    int64_t ms;
    duration_parse("7 parsecs", &ms, &e);
    assert_non_null(strstr(e.msg, "'7 parsecs'"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duration_units),
        cmocka_unit_test(test_duration_compound_and_bare),
        cmocka_unit_test(test_duration_errors),
        cmocka_unit_test(test_duration_error_quotes_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
