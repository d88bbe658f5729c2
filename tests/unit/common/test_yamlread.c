/* tests/unit/common/test_yamlread.c: YAML read under limits checked per
 * event: deep and large texts refused at once, where they go wrong, and
 * ordinary documents read as before. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "clock.h"
#include "yamlread.h"

#include <stdlib.h>
#include <string.h>

static const struct yamlread_limits lim = {
    .what = "a test file", .depth_max = 8, .nodes_max = 20};

static enum err_code check(const char *text, struct err *e)
{
    memset(e, 0, sizeof(*e));
    return yamlread_check("t.yml", text, strlen(text), &lim, e);
}

/* n nested '[' then n ']' after prefix: caller frees. */
static char *nested(const char *prefix, size_t n)
{
    size_t p = strlen(prefix);
    char *s = malloc(p + 2 * n + 2);
    assert_non_null(s);
    memcpy(s, prefix, p);
    memset(s + p, '[', n);
    memset(s + p + n, ']', n);
    s[p + 2 * n] = '\n';
    s[p + 2 * n + 1] = '\0';
    return s;
}

static void test_yamlread_ordinary(void **state)
{
    (void)state;
    struct err e;
    assert_int_equal(check("a: 1\nb: [x, {y: z}]\nc: &c {d: 1}\ne: *c\n", &e),
                     ERR_OK);
    assert_int_equal(check("", &e), ERR_OK);
    assert_int_equal(check("---\na: 1\n---\nb: 2\n", &e), ERR_OK);
    /* depth 8 exactly: the mapping and seven lists */
    char *ok = nested("a: ", 7);
    assert_int_equal(check(ok, &e), ERR_OK);
    free(ok);
}

static void test_yamlread_depth(void **state)
{
    (void)state;
    struct err e;
    char *deep = nested("a: ", 8);
    assert_int_equal(check(deep, &e), ERR_LIMIT);
    assert_string_equal(e.msg, "t.yml:1:11: YAML nested deeper than 8 levels");
    free(deep);
    char *block = strdup("a:\n b:\n  c:\n   d:\n    e:\n     f:\n      g:\n"
                         "       h:\n        i: 1\n");
    assert_int_equal(check(block, &e), ERR_LIMIT);
    assert_string_equal(e.msg, "t.yml:9:9: YAML nested deeper than 8 levels");
    free(block);
}

/* 100,000 levels (200 KB) are refused in milliseconds: libyaml's own
 * loader took half a minute to build them. */
static void test_yamlread_hostile_depth_is_fast(void **state)
{
    (void)state;
    struct err e;
    char *deep = nested("", 100000);
    int64_t t0 = clock_mono_ms();
    assert_int_equal(check(deep, &e), ERR_LIMIT);
    assert_true(clock_mono_ms() - t0 < 500);
    assert_string_equal(e.msg, "t.yml:1:9: YAML nested deeper than 8 levels");
    free(deep);
}

/* A flow list of n ones: caller frees. */
static char *ones(int n)
{
    char *s = malloc(4 + 3 * (size_t)n);
    assert_non_null(s);
    size_t k = 0;
    s[k++] = '[';
    for (int i = 0; i < n; i++) {
        memcpy(s + k, "1, ", 3);
        k += 3;
    }
    memcpy(s + k, "]\n", 3);
    return s;
}

static void test_yamlread_nodes(void **state)
{
    (void)state;
    struct err e;
    char *text = ones(19);
    assert_int_equal(check(text, &e), ERR_OK); /* the list and 19 values */
    free(text);
    text = ones(20);
    assert_int_equal(check(text, &e), ERR_LIMIT);
    assert_string_equal(e.msg, "t.yml:1:59: more than 20 YAML values, the "
                               "most a test file may hold");
    free(text);
}

static void test_yamlread_syntax(void **state)
{
    (void)state;
    struct err e;
    assert_int_equal(check("a: [1, 2\nb: 3\n", &e), ERR_PARSE);
    assert_string_equal(e.msg, "t.yml:2:2: did not find expected ',' or ']' "
                               "while parsing a flow sequence started at 1:4");
    assert_int_equal(check("a: 1\nb: caf\xc3\n", &e), ERR_PARSE);
    assert_string_equal(e.msg, "t.yml:2:8: invalid trailing UTF-8 octet "
                               "(a test file must be UTF-8 text)");
    /* a "\0" or "\u0000" escape: a plan's `run: "echo a\0; rm x"` would
     * run `echo a`, an inventory's value was read past its end */
    assert_int_equal(check("run: \"echo a\\0; echo b\"\n", &e), ERR_PARSE);
    assert_string_equal(e.msg, "t.yml:1:6: a NUL character (\\0) in a value: "
                               "drover cannot carry it; remove it");
    assert_int_equal(check("{\"k\\u0000\": 1}", &e), ERR_PARSE);
    assert_non_null(strstr(e.msg, "t.yml:1:2: a NUL character"));
    assert_int_equal(check("a: \"\\x00\"\nb: 1\n", &e), ERR_PARSE);
}

/* The events a caller sees, with a mark it can trust. */
static void test_yamlread_events(void **state)
{
    (void)state;
    static const char text[] = "a:\n  - b\n";
    struct yamlread r;
    struct err e = {0};
    assert_int_equal(yamlread_open(&r, "t.yml", text, strlen(text), &lim, &e),
                     ERR_OK);
    yaml_event_type_t want[] = {
        YAML_STREAM_START_EVENT,   YAML_DOCUMENT_START_EVENT,
        YAML_MAPPING_START_EVENT,  YAML_SCALAR_EVENT,
        YAML_SEQUENCE_START_EVENT, YAML_SCALAR_EVENT,
        YAML_SEQUENCE_END_EVENT,   YAML_MAPPING_END_EVENT,
        YAML_DOCUMENT_END_EVENT,   YAML_STREAM_END_EVENT};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        yaml_event_t ev;
        assert_int_equal(yamlread_next(&r, &ev, &e), ERR_OK);
        assert_int_equal(ev.type, want[i]);
        if (i == 5) {
            assert_int_equal(ev.start_mark.line, 1);
            assert_int_equal(ev.start_mark.column, 4);
        }
        yaml_event_delete(&ev);
    }
    yamlread_close(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_yamlread_ordinary),
        cmocka_unit_test(test_yamlread_depth),
        cmocka_unit_test(test_yamlread_hostile_depth_is_fast),
        cmocka_unit_test(test_yamlread_nodes),
        cmocka_unit_test(test_yamlread_syntax),
        cmocka_unit_test(test_yamlread_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
