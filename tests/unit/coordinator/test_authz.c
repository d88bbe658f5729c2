/* tests/unit/coordinator/test_authz.c: `require` refuses without a
 * ticket, an approver or a required variable (never printing a value);
 * the windows check accepts inside a window and refuses outside, and
 * --outside-window needs a reason (the grammar: test_window.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "authz.h"

#include <stdlib.h>
#include <string.h>

/* Instants (UTC) */
#define MON_0830 ((time_t)1795422600) /* 2026-11-23 Mon 08:30 */
#define SAT_1000 ((time_t)1795860000) /* 2026-11-28 Sat 10:00 */

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_authz_require),
        cmocka_unit_test(test_authz_check_windows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
