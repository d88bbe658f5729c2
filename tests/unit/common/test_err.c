/* tests/unit/common/test_err.c: the error value (first error kept, errno
 * text, names of codes, NULL safety) and the allocation wrappers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_err_first_error_kept(void **state)
{
    (void)state;
    struct err e = {0};
    assert_int_equal(e.code, ERR_OK);
    assert_int_equal(err_set(&e, ERR_PARSE, "%s:%d:%d: expected a mapping",
                             "plan.yml", 3, 7),
                     ERR_PARSE);
    /* later errors are returned but do not overwrite the root cause */
    assert_int_equal(err_set(&e, ERR_TIMEOUT, "outer"), ERR_TIMEOUT);
    errno = ENOENT;
    assert_int_equal(err_sys(&e, "open"), ERR_SYS);
    assert_int_equal(e.code, ERR_PARSE);
    assert_int_equal(e.sys_errno, 0);
    assert_string_equal(e.msg, "plan.yml:3:7: expected a mapping");
    err_clear(&e);
    assert_int_equal(e.code, ERR_OK);
    assert_int_equal(e.sys_errno, 0);
    assert_string_equal(e.msg, "");
    assert_int_equal(err_set(&e, ERR_SSH, "again"), ERR_SSH);
    assert_int_equal(e.code, ERR_SSH);
    assert_string_equal(e.msg, "again");
}

static void test_err_sys_appends_strerror(void **state)
{
    (void)state;
    struct err e = {0};
    errno = ENOENT;
    assert_int_equal(err_sys(&e, "open %s", "/etc/drover.yml"), ERR_SYS);
    /* errno survives the call so the caller can still branch on it */
    assert_int_equal(errno, ENOENT);
    assert_int_equal(e.code, ERR_SYS);
    assert_int_equal(e.sys_errno, ENOENT);
    char want[ERR_MSG_MAX];
    snprintf(want, sizeof(want), "open /etc/drover.yml: %s", strerror(ENOENT));
    assert_string_equal(e.msg, want);
    /* a second err_sys keeps the first errno */
    errno = EACCES;
    err_sys(&e, "write");
    assert_int_equal(e.sys_errno, ENOENT);
    assert_string_equal(e.msg, want);
    assert_int_equal(errno, EACCES);
}

static void test_err_long_message_truncated_terminated(void **state)
{
    (void)state;
    struct err e = {0};
    char big[1000];
    memset(big, 'p', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    err_set(&e, ERR_INVALID, "%s", big);
    assert_int_equal(strlen(e.msg), ERR_MSG_MAX - 1);
    err_clear(&e);
    errno = EPIPE;
    err_sys(&e, "%s", big);
    assert_int_equal(strlen(e.msg), ERR_MSG_MAX - 1);
    assert_int_equal(e.sys_errno, EPIPE);
    /* the message is cut, the errno text (the root cause) is kept */
    char tail[64];
    snprintf(tail, sizeof(tail), "p: %s", strerror(EPIPE));
    assert_string_equal(e.msg + strlen(e.msg) - strlen(tail), tail);
}

static void test_err_str_every_code(void **state)
{
    (void)state;
    assert_string_equal(err_str(ERR_OK), "ok");
    assert_string_equal(err_str(ERR_SYS), "system error");
    assert_string_equal(err_str(ERR_SSH), "ssh error");
    assert_string_equal(err_str(ERR_HOSTKEY), "host key refused");
    assert_string_equal(err_str(ERR_STORE), "store error");
    /* every code has a distinct, non-empty name */
    for (int c = 0; c < ERR_CODE_COUNT; c++) {
        const char *s = err_str((enum err_code)c);
        assert_non_null(s);
        assert_true(strlen(s) > 0);
        assert_string_not_equal(s, "unknown error");
        for (int d = 0; d < c; d++)
            assert_string_not_equal(s, err_str((enum err_code)d));
    }
    assert_string_equal(err_str(ERR_CODE_COUNT), "unknown error");
    assert_string_equal(err_str((enum err_code) - 1), "unknown error");
    assert_string_equal(err_str((enum err_code)1000), "unknown error");
}

static void test_err_null_is_safe(void **state)
{
    (void)state;
    assert_int_equal(err_set(NULL, ERR_PARSE, "x %d", 1), ERR_PARSE);
    errno = EBADF;
    assert_int_equal(err_sys(NULL, "close"), ERR_SYS);
    assert_int_equal(errno, EBADF);
    err_clear(NULL);
}

static void test_err_alloc_wrappers(void **state)
{
    (void)state;
    char *s = xasprintf("%s=%d", "forks", 20);
    assert_string_equal(s, "forks=20");
    free(s);
    s = xasprintf("%s", "");
    assert_string_equal(s, "");
    free(s);
    char big[5000];
    memset(big, 'z', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    s = xasprintf("[%s]", big);
    assert_int_equal(strlen(s), sizeof(big) + 1);
    assert_int_equal(s[0], '[');
    assert_int_equal(s[sizeof(big)], ']');
    free(s);

    s = xstrndup("abcdef", 3);
    assert_string_equal(s, "abc");
    free(s);
    s = xstrdup("web01");
    assert_string_equal(s, "web01");
    free(s);
    /* zero-size requests still give a pointer that can be freed */
    void *p = xmalloc(0);
    assert_non_null(p);
    free(p);
    int *z = xcalloc(16, sizeof(int));
    for (int i = 0; i < 16; i++)
        assert_int_equal(z[i], 0);
    z = xrealloc(z, 1024 * sizeof(int));
    assert_int_equal(z[15], 0);
    free(z);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_err_first_error_kept),
        cmocka_unit_test(test_err_sys_appends_strerror),
        cmocka_unit_test(test_err_long_message_truncated_terminated),
        cmocka_unit_test(test_err_str_every_code),
        cmocka_unit_test(test_err_null_is_safe),
        cmocka_unit_test(test_err_alloc_wrappers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
