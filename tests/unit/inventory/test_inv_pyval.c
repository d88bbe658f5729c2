/* tests/unit/inventory/test_inv_pyval.c: INI values typed as
 * ast.literal_eval types them (expected values checked with Python 3.11). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "inv_pyval.h"

#include <stdlib.h>
#include <string.h>

/* Parse s and compare its compact JSON with want (NULL: not a literal). */
static void check(const char *s, const char *want)
{
    json_t *v = inv_pyval_parse(s, strlen(s));
    if (want == NULL) {
        if (v != NULL) {
            char *got = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
            fail_msg("'%s' gave %s, want no literal", s, got);
        }
        return;
    }
    if (v == NULL)
        fail_msg("'%s' is no literal, want %s", s, want);
    char *got = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS);
    if (strcmp(got, want) != 0)
        fail_msg("'%s' gave %s, want %s", s, got, want);
    free(got);
    json_decref(v);
}

static void test_inv_pyval_numbers(void **state)
{
    (void)state;
    check("80", "80");
    check("-5", "-5");
    check("+7", "7");
    check("0", "0");
    check("000", "0");
    check("0123", NULL);
    check("1_000", "1000");
    check("1__0", NULL);
    check("1_", NULL);
    check("0x1F", "31");
    check("0o17", "15");
    check("0b101", "5");
    check("0.5", "0.5");
    check(".5", "0.5");
    check("5.", "5.0");
    check("1e3", "1000.0");
    check("-0.25", "-0.25");
    check("--1", NULL);
    check("-(1)", "-1");
    check("1abc", NULL);
    check("1+2j", NULL);
    check("2j", NULL);
    check("99999999999999999999", NULL);
    check("1e999", NULL);
    check("1+1", NULL);
    check("  42 # comment", "42");
}

static void test_inv_pyval_strings(void **state)
{
    (void)state;
    check("'a'", "\"a\"");
    check("\"a b\"", "\"a b\"");
    check("'a' \"b\"", "\"ab\"");
    check("'tab\\there'", "\"tab\\there\"");
    check("r'a\\nb'", "\"a\\\\nb\"");
    check("b'abc'", "\"abc\"");
    check("'a' b'b'", NULL);
    check("u'\\u00e9'", "\"\xc3\xa9\"");
    check("'\\x41\\101'", "\"AA\"");
    check("'\\q'", "\"\\\\q\"");
    check("'''tri'ple'''", "\"tri'ple\"");
    check("f'x'", NULL);
    check("'unterminated", NULL);
    check("'\\N{DASH}'", NULL);
    check("hello", NULL);
    check("true", NULL);
    check("", NULL);
}

static void test_inv_pyval_containers(void **state)
{
    (void)state;
    check("[\"a\", \"b\"]", "[\"a\",\"b\"]");
    check("[]", "[]");
    check("()", "[]");
    check("(1,)", "[1]");
    check("(1)", "1");
    check("1, 2", "[1,2]");
    check("[1, [2, (3,)], {'x': None}]", "[1,[2,[3]],{\"x\":null}]");
    check("{'k': 1, 'k': 2}", "{\"k\":2}");
    check("{1: 'a', True: 'b'}", "{\"1\":\"a\",\"true\":\"b\"}");
    check("{1.5: 'a'}", "{\"1.5\":\"a\"}");
    check("{(1, 2): 'a'}", NULL);
    check("{1, 2}", NULL);
    check("{}", "{}");
    check("[1, 2", NULL);
    check("[1 2]", NULL);
    check("True", "true");
    check("False", "false");
    check("None", "null");
    check("Truex", NULL);
}

static void test_inv_pyval_nesting_limit(void **state)
{
    (void)state;
    char deep[1000];
    memset(deep, '[', 200);
    memset(deep + 200, ']', 200);
    deep[400] = '\0';
    json_t *v = inv_pyval_parse(deep, strlen(deep));
    assert_non_null(v);
    json_decref(v);
    memset(deep, '[', 201);
    memset(deep + 201, ']', 201);
    deep[402] = '\0';
    assert_null(inv_pyval_parse(deep, strlen(deep)));
}

static void test_inv_pyval_not_terminated(void **state)
{
    (void)state;
    /* Only len bytes are read. */
    const char buf[] = "42junk";
    json_t *v = inv_pyval_parse(buf, 2);
    assert_non_null(v);
    assert_int_equal(json_integer_value(v), 42);
    json_decref(v);
    assert_null(inv_pyval_parse("4\0002", 3));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inv_pyval_numbers),
        cmocka_unit_test(test_inv_pyval_strings),
        cmocka_unit_test(test_inv_pyval_containers),
        cmocka_unit_test(test_inv_pyval_nesting_limit),
        cmocka_unit_test(test_inv_pyval_not_terminated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
