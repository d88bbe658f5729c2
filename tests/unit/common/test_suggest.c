/* tests/unit/common/test_suggest.c: edit distances and the nearest name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "suggest.h"

#include <string.h>

static void test_suggest_distance(void **state)
{
    (void)state;
    assert_int_equal(suggest_distance("", ""), 0);
    assert_int_equal(suggest_distance("wave", "waves"), 1);
    assert_int_equal(suggest_distance("lenght", "length"), 2);
    assert_int_equal(suggest_distance("kitten", "sitting"), 3);
    assert_int_equal(suggest_distance("", "abc"), 3);
    char longer[80];
    memset(longer, 'a', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    assert_int_equal(suggest_distance(longer, "a"), 64);
}

static void test_suggest_nearest(void **state)
{
    (void)state;
    static const char *const names[] = {"default", "quote", "int", "length",
                                        NULL};
    assert_string_equal(suggest_nearest("lenght", names), "length");
    assert_string_equal(suggest_nearest("qoute", names), "quote");
    assert_string_equal(suggest_nearest("itn", names), "int");
    /* three edits away is no suggestion */
    assert_null(suggest_nearest("upper", names));
    assert_null(suggest_nearest("x", names));
    static const char *const none[] = {NULL};
    assert_null(suggest_nearest("x", none));
    /* ties go to the first name listed */
    static const char *const tie[] = {"ab", "ba", NULL};
    assert_string_equal(suggest_nearest("aa", tie), "ab");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_suggest_distance),
        cmocka_unit_test(test_suggest_nearest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
