/* tests/unit/common/test_buf.c: the growable buffer and its limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "buf.h"

#include <stdlib.h>
#include <string.h>

static void test_buf_append_and_cstr(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    assert_string_equal(buf_cstr(&b), "");
    assert_true(buf_adds(&b, "hello"));
    assert_true(buf_printf(&b, " %d", 42));
    assert_string_equal(buf_cstr(&b), "hello 42");
    assert_int_equal(b.len, 8);
    buf_release(&b);
}

static void test_buf_limit_counts_dropped(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 4);
    assert_true(buf_adds(&b, "ab"));
    assert_false(buf_adds(&b, "cdef"));
    assert_string_equal(buf_cstr(&b), "abcd");
    assert_int_equal(b.dropped, 2);
    assert_false(buf_adds(&b, "x"));
    assert_int_equal(b.dropped, 3);
    buf_release(&b);
}

static void test_buf_printf_long(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    char big[1000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_true(buf_printf(&b, "[%s]", big));
    assert_int_equal(b.len, 1001);
    buf_consume(&b, 1000);
    assert_string_equal(buf_cstr(&b), "]");
    char *s = buf_detach(&b);
    assert_string_equal(s, "]");
    free(s);
    assert_int_equal(b.len, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_append_and_cstr),
        cmocka_unit_test(test_buf_limit_counts_dropped),
        cmocka_unit_test(test_buf_printf_long),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
