/* tests/unit/common/test_shquote.c: shell quoting, checked against sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "shquote.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* shquote's input and what it gives. */
static const char *const shquote_cases[][2] = {
    {"a-b_c/d.e:1,2@x%y+z=w", "a-b_c/d.e:1,2@x%y+z=w"},
    {"", "''"},
    {"a b", "'a b'"},
    {"it's", "'it'\\''s'"},
};

static void test_shquote_words(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(shquote_cases) / sizeof(*shquote_cases);
         i++) {
        char *q = shquote(shquote_cases[i][0]);
        assert_string_equal(q, shquote_cases[i][1]);
        free(q);
    }
}

static void test_shquote_add_always_quotes(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    shquote_add(&b, "plain");
    buf_addc(&b, ' ');
    shquote_add(&b, "");
    buf_addc(&b, ' ');
    shquote_add(&b, "'");
    assert_string_equal(buf_cstr(&b), "'plain' '' ''\\'''");
    buf_release(&b);
}

/* What sh makes of the quoted word is the original, byte for byte. */
static void test_shquote_round_trip_through_sh(void **state)
{
    (void)state;
    const char *s = "$(echo no) `x` \"y\" \\ * ' '' ;|&<>\t~{a,b}";
    struct buf cmd;
    buf_init(&cmd, BUF_UNLIMITED);
    buf_adds(&cmd, "printf '%s' ");
    shquote_add(&cmd, s);
    FILE *f = popen(buf_cstr(&cmd), "r");
    assert_non_null(f);
    char out[256];
    size_t n = fread(out, 1, sizeof(out) - 1, f);
    out[n] = '\0';
    assert_int_equal(pclose(f), 0);
    assert_string_equal(out, s);
    buf_release(&cmd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shquote_words),
        cmocka_unit_test(test_shquote_add_always_quotes),
        cmocka_unit_test(test_shquote_round_trip_through_sh),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
