/* tests/unit/coordinator/test_window.c: the deployment window grammar
 * (what a plan may write, what is refused and why) and whether instants
 * are inside, in several zones, across both DST changes and past
 * midnight. The plan loader and the check before a deploy share it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "window.h"

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
    struct window w;
    struct err e = {0};
    if (window_parse(spec, &w, &e) != ERR_OK)
        fail_msg("%s", e.msg);
    bool in = false;
    assert_int_equal(window_contains(&w, t, &in, &e), ERR_OK);
    return in;
}

static void parse_fails(const char *spec, const char *want)
{
    struct window w;
    struct err e = {0};
    assert_int_equal(window_parse(spec, &w, &e), ERR_PARSE);
    if (strstr(e.msg, want) == NULL)
        fail_msg("\"%s\": got \"%s\", want \"%s\"", spec, e.msg, want);
}

static void test_window_berlin(void **state)
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

static void test_window_dst(void **state)
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

static void test_window_midnight(void **state)
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

static void test_window_parse_errors(void **state)
{
    (void)state;
    parse_fails("Mon-Fry 09:00-16:00", "'Mon-Fry' is not a day or day range");
    parse_fails("Mon-Fri 9:00-16:00", "expected a time range HH:MM-HH:MM");
    parse_fails("Mon-Fri 09:00 16:00", "expected a time range HH:MM-HH:MM");
    parse_fails("Mon-Fri 09:00-25:00", "expected a time range HH:MM-HH:MM");
    parse_fails("09:00-09:00", "starts and ends at the same time");
    parse_fails("09:00-10:00 Mars/Olympus", "unknown time zone 'Mars/Olympus'");
    parse_fails("09:00-10:00 ../../etc/passwd", "bad time zone");
    parse_fails("09:00-10:00 UTC later", "unexpected text after the time zone");
    parse_fails("", "expected a time range");
    struct window w;
    struct err e = {0};
    assert_int_equal(window_parse("Sat 10:00-12:00 Asia/Tokyo", &w, &e),
                     ERR_OK);
    assert_int_equal(w.days, 1u << 6);
    assert_int_equal(w.start_min, 600);
    assert_int_equal(w.end_min, 720);
    assert_string_equal(w.tz, "Asia/Tokyo");
}

static void test_window_table(void **state)
{
    (void)state;
    struct {
        const char *s;
        unsigned days;
        int start, end;
        const char *tz;
    } ok[] = {
        {"Mon-Fri 09:00-16:00 Europe/Berlin", 0x3e, 540, 960, "Europe/Berlin"},
        {"Sat,Sun 22:00-02:00", 0x41, 1320, 120, "UTC"},
        {"10:00-11:00", 0x7f, 600, 660, "UTC"},
        {"Fri-Mon 00:00-24:00 UTC", 0x63, 0, 1440, "UTC"},
        {"Wed 23:59-00:00", 0x08, 1439, 1440, "UTC"},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        struct window w;
        struct err e = {0};
        if (window_parse(ok[i].s, &w, &e) != ERR_OK)
            fail_msg("'%s': %s", ok[i].s, e.msg);
        assert_int_equal(w.days, ok[i].days);
        assert_int_equal(w.start_min, ok[i].start);
        assert_int_equal(w.end_min, ok[i].end);
        assert_string_equal(w.tz, ok[i].tz);
    }
    struct {
        const char *s, *why;
    } bad[] = {
        {"Mon-Fri", "expected DAYS HH:MM-HH:MM ZONE"},
        {"Mon-Fro 09:00-10:00", "'Mon-Fro' is not a day or day range"},
        {"25:00-26:00", "expected a time range HH:MM-HH:MM"},
        {"09:60-10:00", "expected a time range HH:MM-HH:MM"},
        {"9:00-10:00", "expected a time range HH:MM-HH:MM"},
        {"09:00-10:00 ../../etc/passwd", "bad time zone"},
        {"09:00-10:00 /etc/localtime", "bad time zone"},
        {"09:00-10:00 No/Such_Zone", "unknown time zone 'No/Such_Zone'"},
        {"", "expected a time range"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct window w;
        struct err e = {0};
        if (window_parse(bad[i].s, &w, &e) != ERR_PARSE ||
            strstr(e.msg, bad[i].why) == NULL)
            fail_msg("'%s': '%s', want '%s'", bad[i].s, e.msg, bad[i].why);
    }
}

/* The grammar the plan loader once refused and the deploy check took:
 * "daily" and day names in any case, the same windows for both. */
static void test_window_daily_any_case(void **state)
{
    (void)state;
    struct window w;
    struct err e = {0};
    assert_int_equal(window_parse("daily 09:00-16:00", &w, &e), ERR_OK);
    assert_int_equal(w.days, 0x7f);
    assert_int_equal(window_parse("DAILY 09:00-16:00 UTC", &w, &e), ERR_OK);
    assert_int_equal(w.days, 0x7f);
    assert_int_equal(window_parse("mon-fri 09:00-16:00", &w, &e), ERR_OK);
    assert_int_equal(w.days, 0x3e);
    assert_int_equal(window_parse("MON,sat 09:00-16:00", &w, &e), ERR_OK);
    assert_int_equal(w.days, (1u << 1) | (1u << 6));
    assert_true(inside("daily 00:00-24:00", MON_0830));
    assert_true(inside("mon-fri 09:00-16:00", MON_1530));
    /* a window cannot start at 24:00 (the deploy check never took it) */
    parse_fails("24:00-01:00", "expected a time range HH:MM-HH:MM");
    parse_fails("daily", "expected DAYS HH:MM-HH:MM ZONE");
    parse_fails("weekly 09:00-10:00", "'weekly' is not a day or day range");
}

static void test_window_tz_restored(void **state)
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
        cmocka_unit_test(test_window_berlin),
        cmocka_unit_test(test_window_dst),
        cmocka_unit_test(test_window_midnight),
        cmocka_unit_test(test_window_parse_errors),
        cmocka_unit_test(test_window_table),
        cmocka_unit_test(test_window_daily_any_case),
        cmocka_unit_test(test_window_tz_restored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
