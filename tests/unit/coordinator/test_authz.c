/* tests/unit/coordinator/test_authz.c: `require` refuses without a
 * ticket, an approver or a required variable (never printing a value);
 * windows accept and refuse at fixed instants, in several zones, across
 * both DST changes and past midnight; --outside-window needs a reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "authz.h"

#include <stdlib.h>
#include <string.h>

/* Instants (UTC) */
#define MON_0830 ((time_t)1795422600)     /* 2026-11-23 Mon 08:30 */
#define MON_1530 ((time_t)1795447800)     /* 2026-11-23 Mon 15:30 */
#define SAT_1000 ((time_t)1795860000)     /* 2026-11-28 Sat 10:00 */
#define MON_0759 ((time_t)1795420740)     /* 2026-11-23 Mon 07:59 */
#define SPRING_0130 ((time_t)1774747800)  /* 2026-03-29 Sun 01:30 */
#define SPRING_0030 ((time_t)1774744200)  /* 2026-03-29 Sun 00:30 */
#define JUL_MON_0730 ((time_t)1783323000) /* 2026-07-06 Mon 07:30 */
#define JAN_MON_0730 ((time_t)1767598200) /* 2026-01-05 Mon 07:30 */
#define FALL_0030 ((time_t)1792888200)    /* 2026-10-25 Sun 00:30 */
#define FALL_0130 ((time_t)1792891800)    /* 2026-10-25 Sun 01:30 */
#define FALL_0230 ((time_t)1792895400)    /* 2026-10-25 Sun 02:30 */
#define FRI_2300 ((time_t)1795820400)     /* 2026-11-27 Fri 23:00 */
#define SAT_0100 ((time_t)1795827600)     /* 2026-11-28 Sat 01:00 */
#define SAT_0300 ((time_t)1795834800)     /* 2026-11-28 Sat 03:00 */
#define THU_2300 ((time_t)1795734000)     /* 2026-11-26 Thu 23:00 */
#define FRI_0100 ((time_t)1795741200)     /* 2026-11-27 Fri 01:00 */

static bool inside(const char *spec, time_t t)
{
    struct authz_window w;
    struct err e = {0};
    if (authz_window_parse(spec, &w, &e) != ERR_OK)
        fail_msg("%s", e.msg);
    bool in = false;
    assert_int_equal(authz_window_contains(&w, t, &in, &e), ERR_OK);
    return in;
}

static void parse_fails(const char *spec, const char *want)
{
    struct authz_window w;
    struct err e = {0};
    assert_int_equal(authz_window_parse(spec, &w, &e), ERR_PARSE);
    if (strstr(e.msg, want) == NULL)
        fail_msg("\"%s\": got \"%s\", want \"%s\"", spec, e.msg, want);
}

static void test_authz_require(void **state)
{
    (void)state;
    const char *env[] = {"DROVER_TEST_SECRET_KEY"};
    struct authz_require rq = {
        .ticket = true, .approver = true, .env = env, .nenv = 1};
    struct authz_request req = {0};
    struct err e = {0};
    assert_int_equal(authz_check_require(&rq, &req, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "--ticket"));
    req.ticket = "   ";
    err_clear(&e);
    assert_int_equal(authz_check_require(&rq, &req, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "--ticket"));
    req.ticket = "CHG-1234";
    err_clear(&e);
    assert_int_equal(authz_check_require(&rq, &req, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "--approver"));
    req.approver = "Jane Doe";
    unsetenv("DROVER_TEST_SECRET_KEY");
    err_clear(&e);
    assert_int_equal(authz_check_require(&rq, &req, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "DROVER_TEST_SECRET_KEY, which is not set"));
    setenv("DROVER_TEST_SECRET_KEY", "", 1);
    err_clear(&e);
    assert_int_equal(authz_check_require(&rq, &req, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "which is empty"));
    setenv("DROVER_TEST_SECRET_KEY", "s3cr3t-value", 1);
    err_clear(&e);
    assert_int_equal(authz_check_require(&rq, &req, &e), ERR_OK);
    assert_null(strstr(e.msg, "s3cr3t-value"));
    unsetenv("DROVER_TEST_SECRET_KEY");
    /* nothing required: nothing needed */
    struct authz_require none = {0};
    struct authz_request empty = {0};
    assert_int_equal(authz_check_require(&none, &empty, &e), ERR_OK);
}

static void test_authz_window_berlin(void **state)
{
    (void)state;
    const char *w = "Mon-Fri 09:00-16:00 Europe/Berlin";
    assert_true(inside(w, MON_0830));  /* 09:30 CET */
    assert_false(inside(w, MON_1530)); /* 16:30 CET */
    assert_false(inside(w, MON_0759)); /* 08:59 CET */
    assert_false(inside(w, SAT_1000)); /* Saturday */
    /* the same UTC time of day: inside in summer (CEST), not in winter */
    assert_true(inside(w, JUL_MON_0730));
    assert_false(inside(w, JAN_MON_0730));
    /* in UTC the answer differs */
    assert_false(inside("Mon-Fri 09:00-16:00 UTC", MON_0830));
    assert_true(inside("Mon-Fri 09:00-16:00", MON_1530)); /* UTC default */
    assert_true(inside("mon,wed,fri 08:00-09:00 UTC", MON_0830));
    assert_true(inside("09:00-17:00 America/New_York", MON_1530));
    assert_false(inside("09:00-17:00 America/New_York", MON_0830));
}

static void test_authz_window_dst(void **state)
{
    (void)state;
    /* spring: 02:00 CET jumps to 03:00 CEST at 01:00 UTC */
    assert_true(inside("Sun 03:00-04:00 Europe/Berlin", SPRING_0130));
    assert_false(inside("Sun 03:00-04:00 Europe/Berlin", SPRING_0030));
    assert_true(inside("Sun 01:00-02:00 Europe/Berlin", SPRING_0030));
    /* autumn: 02:00-03:00 happens twice, both inside; after it, not */
    assert_true(inside("Sun 02:00-03:00 Europe/Berlin", FALL_0030));
    assert_true(inside("Sun 02:00-03:00 Europe/Berlin", FALL_0130));
    assert_false(inside("Sun 02:00-03:00 Europe/Berlin", FALL_0230));
}

static void test_authz_window_midnight(void **state)
{
    (void)state;
    const char *w = "Fri 22:00-02:00 UTC";
    assert_true(inside(w, FRI_2300));
    assert_true(inside(w, SAT_0100));
    assert_false(inside(w, SAT_0300));
    assert_false(inside(w, THU_2300));
    assert_false(inside(w, FRI_0100)); /* Thursday's night */
    assert_true(inside("Fri-Mon 00:00-24:00 UTC", SAT_1000)); /* wraps */
    assert_false(inside("Fri-Mon 00:00-24:00 UTC", THU_2300));
    assert_true(inside("daily 00:00-24:00", THU_2300));
}

static void test_authz_window_parse_errors(void **state)
{
    (void)state;
    parse_fails("Mon-Fry 09:00-16:00", "column 5: expected a day");
    parse_fails("Mon-Fri 9:00-16:00", "column 9: expected a start time");
    parse_fails("Mon-Fri 09:00 16:00", "column 14: expected '-'");
    parse_fails("Mon-Fri 09:00-25:00", "column 15: expected an end time");
    parse_fails("09:00-09:00", "empty");
    parse_fails("09:00-10:00 Mars/Olympus", "unknown time zone 'Mars/Olympus'");
    parse_fails("09:00-10:00 ../../etc/passwd", "expected a time zone name");
    parse_fails("09:00-10:00 UTC later", "column 17: unexpected text");
    parse_fails("", "expected a start time");
    struct authz_window w;
    struct err e = {0};
    assert_int_equal(authz_window_parse("Sat 10:00-12:00 Asia/Tokyo", &w, &e),
                     ERR_OK);
    assert_int_equal(w.days, 1u << 6);
    assert_int_equal(w.start_min, 600);
    assert_int_equal(w.end_min, 720);
    assert_string_equal(w.tz, "Asia/Tokyo");
}

static void test_authz_check_windows(void **state)
{
    (void)state;
    const char *specs[] = {"Mon-Fri 09:00-16:00 Europe/Berlin",
                           "Sat 09:00-10:00 Europe/Berlin"};
    struct authz_request req = {0};
    struct authz_verdict v;
    struct err e = {0};
    assert_int_equal(authz_check_windows(NULL, 0, SAT_1000, &req, &v, &e),
                     ERR_OK);
    assert_true(v.inside);
    assert_int_equal(authz_check_windows(specs, 2, MON_0830, &req, &v, &e),
                     ERR_OK);
    assert_true(v.inside);
    assert_false(v.override);
    assert_non_null(strstr(v.text, "Mon-Fri"));
    /* Saturday 11:00 in Berlin: outside both */
    assert_int_equal(authz_check_windows(specs, 2, SAT_1000, &req, &v, &e),
                     ERR_INVALID);
    assert_non_null(strstr(e.msg, "now (Sat 11:00 Europe/Berlin)"));
    assert_non_null(strstr(e.msg, "--outside-window --reason"));
    req.outside_window = true;
    err_clear(&e);
    assert_int_equal(authz_check_windows(specs, 2, SAT_1000, &req, &v, &e),
                     ERR_USAGE);
    assert_non_null(strstr(e.msg, "--reason"));
    req.reason = "security fix CVE-2026-1";
    err_clear(&e);
    assert_int_equal(authz_check_windows(specs, 2, SAT_1000, &req, &v, &e),
                     ERR_OK);
    assert_false(v.inside);
    assert_true(v.override);
    assert_non_null(strstr(v.text, "reason: security fix CVE-2026-1"));
    /* a bad spec is a parse error, even when the flags would allow */
    const char *bad[] = {"Mon-Fri 09:00-16:00 Nowhere/Land"};
    err_clear(&e);
    assert_int_equal(authz_check_windows(bad, 1, SAT_1000, &req, &v, &e),
                     ERR_PARSE);
}

static void test_authz_tz_restored(void **state)
{
    (void)state;
    setenv("TZ", "America/Chicago", 1);
    assert_true(inside("Mon 09:00-10:00 Europe/Berlin", MON_0830));
    assert_string_equal(getenv("TZ"), "America/Chicago");
    unsetenv("TZ");
    assert_true(inside("Mon 09:00-10:00 Europe/Berlin", MON_0830));
    assert_null(getenv("TZ"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_authz_require),
        cmocka_unit_test(test_authz_window_berlin),
        cmocka_unit_test(test_authz_window_dst),
        cmocka_unit_test(test_authz_window_midnight),
        cmocka_unit_test(test_authz_window_parse_errors),
        cmocka_unit_test(test_authz_check_windows),
        cmocka_unit_test(test_authz_tz_restored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
