/* tests/unit/inventory/test_inv_yaml.c: YAML inventories and vars files:
 * structure, YAML 1.1 and JSON typing, merges, limits, positions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "err.h"
#include "inv_json.h"
#include "inv_yaml.h"
#include "inventory.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct inventory *load(const char *text, struct err *e)
{
    struct inventory *inv = inv_new();
    err_clear(e);
    inv_load_buffer(inv, "t.yml", text, strlen(text), INV_FORMAT_YAML, e);
    return inv;
}

static void test_inv_yaml_structure(void **state)
{
    (void)state;
    struct err e;
    struct inventory *inv = load("all:\n"
                                 "  hosts:\n"
                                 "    b1:\n"
                                 "  vars:\n"
                                 "    v: all\n"
                                 "  children:\n"
                                 "    web:\n"
                                 "      hosts:\n"
                                 "        w[1:2]:2222:\n"
                                 "          u: x\n"
                                 "      children:\n"
                                 "        deep:\n"
                                 "          hosts: {d1: }\n",
                                 &e);
    assert_int_equal(e.code, ERR_OK);
    assert_int_equal(inv_host_count(inv), 4);
    const struct inv_host *w2 = inv_host_find(inv, "w2");
    assert_non_null(w2);
    assert_int_equal(json_integer_value(inv_host_var(inv, w2, "ansible_port")),
                     2222);
    assert_string_equal(json_string_value(inv_host_var(inv, w2, "v")), "all");
    const struct inv_host *d1 = inv_host_find(inv, "d1");
    const char **names;
    size_t n;
    inv_host_group_names(inv, d1, &names, &n);
    assert_int_equal(n, 2);
    assert_string_equal(names[0], "deep");
    assert_string_equal(names[1], "web");
    free(names);
    /* A host under all.hosts only is also in ungrouped. */
    const struct inv_group *ug = inv_group_find(inv, "ungrouped");
    assert_int_equal(inv_group_host_count(ug), 1);
    inv_free(inv);
}

static json_t *vars_of(const char *text, const char *name)
{
    json_t *out = NULL;
    struct err e = {0};
    assert_int_equal(inv_yaml_vars(name, text, strlen(text), &out, &e), ERR_OK);
    return out;
}

static void test_inv_yaml_typing(void **state)
{
    (void)state;
    json_t *v = vars_of("a: yes\nb: 0755\nc: 1e5\nd: 1.5e+3\ne: ~\n"
                        "f: '42'\ng: 0x1f\nh: 1:30\ni: 08\nj: !!str 7\n"
                        "k: .inf\nl: 99999999999999999999\n",
                        "v.yml");
    assert_true(json_is_true(json_object_get(v, "a")));
    assert_int_equal(json_integer_value(json_object_get(v, "b")), 493);
    assert_string_equal(json_string_value(json_object_get(v, "c")), "1e5");
    assert_true(json_real_value(json_object_get(v, "d")) == 1500.0);
    assert_true(json_is_null(json_object_get(v, "e")));
    assert_string_equal(json_string_value(json_object_get(v, "f")), "42");
    assert_int_equal(json_integer_value(json_object_get(v, "g")), 31);
    assert_int_equal(json_integer_value(json_object_get(v, "h")), 90);
    assert_string_equal(json_string_value(json_object_get(v, "i")), "08");
    assert_string_equal(json_string_value(json_object_get(v, "j")), "7");
    assert_string_equal(json_string_value(json_object_get(v, "k")), ".inf");
    assert_true(json_is_string(json_object_get(v, "l")));
    json_decref(v);
    /* Base 60 up to the last 64-bit integer; past it the text stays, as
     * for other integers past 64 bits (no signed overflow on the way). */
    v = vars_of("a: 153722867280912930:07\nb: 153722867280912930:08\n"
                "c: 9223372036854775807:00\nd: -1:00:01\n"
                "e: 99999999999999999999:00\n",
                "v.yml");
    assert_int_equal(json_integer_value(json_object_get(v, "a")), INT64_MAX);
    assert_string_equal(json_string_value(json_object_get(v, "b")),
                        "153722867280912930:08");
    assert_string_equal(json_string_value(json_object_get(v, "c")),
                        "9223372036854775807:00");
    assert_int_equal(json_integer_value(json_object_get(v, "d")), -3601);
    assert_string_equal(json_string_value(json_object_get(v, "e")),
                        "99999999999999999999:00");
    json_decref(v);
    /* JSON files follow JSON's rules: 1e5 is a number, yes a string. */
    v = vars_of("{\"c\": 1e5, \"y\": \"yes\", \"n\": null}", "v.json");
    assert_true(json_is_real(json_object_get(v, "c")));
    assert_string_equal(json_string_value(json_object_get(v, "y")), "yes");
    json_decref(v);
    /* One number past 64 bits keeps it text, and the file JSON (Python's
     * json reads it; jansson cannot hold it). */
    v = vars_of("{\"c\": 1e5, \"b\": 123456789012345678901234567890, "
                "\"x\": [NaN, -Infinity, 1E400]}",
                "v.json");
    assert_true(json_is_real(json_object_get(v, "c")));
    assert_string_equal(json_string_value(json_object_get(v, "b")),
                        "123456789012345678901234567890");
    json_decref(v);
    /* Explicit tags: PyYAML's constructors, whatever the text looks like. */
    v = vars_of("a: !!float 1\nb: !!float 1e5\nc: !!int 0o17\n"
                "d: !!timestamp 2001-12-14\ne: !!bool yEs\nf: !!null x\n",
                "v.yml");
    assert_true(json_real_value(json_object_get(v, "a")) == 1.0);
    assert_true(json_real_value(json_object_get(v, "b")) == 100000.0);
    assert_int_equal(json_integer_value(json_object_get(v, "c")), 15);
    assert_string_equal(json_string_value(json_object_get(v, "d")),
                        "2001-12-14");
    assert_true(json_is_true(json_object_get(v, "e")));
    assert_true(json_is_null(json_object_get(v, "f")));
    json_decref(v);
    /* A float of 200 digits is one, tagged or not (Python's float() takes
     * any number of digits: 1.1111111111111111e+199). */
    char digits[201], text[1024], c[256];
    memset(digits, '1', 200);
    digits[200] = '\0';
    snprintf(text, sizeof(text), "a: %s.5\nb: !!float %s\nc: %s.5e+1\n", digits,
             digits, digits);
    v = vars_of(text, "v.yml");
    assert_true(json_is_real(json_object_get(v, "a")));
    assert_true(json_is_real(json_object_get(v, "b")));
    assert_true(json_is_real(json_object_get(v, "c")));
    assert_true(json_real_value(json_object_get(v, "a")) ==
                strtod(digits, NULL));
    assert_true(json_real_value(json_object_get(v, "b")) ==
                strtod(digits, NULL));
    snprintf(c, sizeof(c), "%s.5e+1", digits);
    assert_true(json_real_value(json_object_get(v, "c")) == strtod(c, NULL));
    json_decref(v);
}

static void test_inv_json_valid(void **state)
{
    (void)state;
    static const char *const good[] = {
        "{}", " [1, -0, 0.5, 1e5, 1E+400, 123456789012345678901234567890] ",
        "\"\\u00e9\\/\"", "[NaN, Infinity, -Infinity, true, null]",
        "{\"a\": {\"b\": []}}"};
    static const char *const bad[] = {"",          "{",
                                      "[1,]",      "01",
                                      "1.",        ".5",
                                      "+1",        "{a: 1}",
                                      "'x'",       "[1] x",
                                      "\"a\tb\"",  "\"\\x\"",
                                      "\"\\u12\"", "\xef\xbb\xbf{}",
                                      "nan",       "a: 1"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        if (!inv_json_valid(good[i], strlen(good[i])))
            fail_msg("refused: %s", good[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (inv_json_valid(bad[i], strlen(bad[i])))
            fail_msg("accepted: %s", bad[i]);
    char deep[2100];
    memset(deep, '[', 1050);
    memset(deep + 1050, ']', 1050);
    assert_false(inv_json_valid(deep, sizeof(deep)));
}

static void test_inv_yaml_merge_and_dups(void **state)
{
    (void)state;
    json_t *v = vars_of("base: &b {x: 1, y: 2}\n"
                        "m:\n  <<: *b\n  y: 3\n"
                        "l:\n  <<: [{x: first}, {x: second, z: 1}]\n"
                        "d: 1\nd: 2\n",
                        "v.yml");
    json_t *m = json_object_get(v, "m");
    assert_int_equal(json_integer_value(json_object_get(m, "x")), 1);
    assert_int_equal(json_integer_value(json_object_get(m, "y")), 3);
    json_t *l = json_object_get(v, "l");
    assert_string_equal(json_string_value(json_object_get(l, "x")), "first");
    assert_int_equal(json_integer_value(json_object_get(l, "z")), 1);
    assert_int_equal(json_integer_value(json_object_get(v, "d")), 2);
    json_decref(v);
}

static void test_inv_yaml_vars_files(void **state)
{
    (void)state;
    json_t *out = (json_t *)1;
    struct err e = {0};
    assert_int_equal(inv_yaml_vars("e.yml", "", 0, &out, &e), ERR_OK);
    assert_null(out);
    assert_int_equal(inv_yaml_vars("e.yml", "---\n...\n", 8, &out, &e), ERR_OK);
    assert_null(out);
    assert_int_equal(inv_yaml_vars("l.yml", "\n- a\n", 5, &out, &e), ERR_PARSE);
    assert_string_equal(e.msg, "l.yml:2:1: a vars file must be a mapping of "
                               "variable names to values");
}

static void check_error(const char *text, enum err_code code, const char *msg)
{
    struct err e;
    struct inventory *inv = load(text, &e);
    assert_int_equal(e.code, code);
    if (strstr(e.msg, msg) == NULL)
        fail_msg("error '%s' lacks '%s'", e.msg, msg);
    inv_free(inv);
}

static void test_inv_yaml_errors(void **state)
{
    (void)state;
    check_error("all:\n  hosts:\n    h:\n   x: 1\n", ERR_PARSE,
                "t.yml:4:4: did not find expected key while parsing a "
                "block mapping started at 2:3");
    check_error("all:\n  hosts: [a, b]\n", ERR_PARSE,
                "t.yml:2:10: 'hosts' of group 'all' must be a mapping");
    /* Ansible's {s: null} reading of a string makes a slip a host */
    check_error("web:\n  hosts: \"notamap\"\n", ERR_PARSE,
                "t.yml:2:10: 'hosts' of group 'web' must be a mapping, not the "
                "string 'notamap' (for one entry write `hosts: {notamap: }`)");
    check_error("web:\n  children: db\n", ERR_PARSE,
                "t.yml:2:13: 'children' of group 'web' must be a mapping");
    check_error("web:\n  vars: x\n", ERR_PARSE,
                "t.yml:2:9: 'vars' of group 'web' must be a mapping");
    check_error("- a\n", ERR_PARSE, "t.yml:1:1: a YAML inventory must be");
    check_error("", ERR_PARSE, "t.yml: the YAML inventory is empty");
    check_error("plugin: x\n", ERR_PARSE, "inventory plugin configuration");
    check_error("a: 1\n---\nb: 2\n", ERR_PARSE, "single YAML document");
    /* a "\0" escape: refused where it is (its text was read past its end;
     * found by fuzz_inv_yaml, corpus/inv_yaml/nul-escape) */
    check_error("all:\n  hosts:\n    h:\n      a: \"\\0abcdefgh\"\n", ERR_PARSE,
                "t.yml:4:10: a NUL character (\\0) in a value");
    check_error("{\"all\": {\"hosts\": {\"h\": {\"\\u0000k\": 1}}}}", ERR_PARSE,
                "t.yml:1:26: a NUL character");
    check_error("all:\n  hosts:\n    h: *x\n", ERR_PARSE,
                "t.yml:3:8: found undefined alias: '*x'");
    check_error("all:\n  vars:\n    v: !vault |\n      abc\n", ERR_INVALID,
                "vault");
    check_error("all:\n  children:\n    a:\n      children:\n        all:\n",
                ERR_INVALID, "makes a loop");
    check_error("all:\n  vars:\n    v: !!int abc\n", ERR_PARSE,
                "t.yml:3:8: value does not match its tag !!int: 'abc'");
    check_error("all:\n  vars:\n    v: !!timestamp 2001-02-30\n", ERR_PARSE,
                "t.yml:3:8: value does not match its tag !!timestamp: day is "
                "out of range for month: '2001-02-30'");
    check_error("all:\n  vars:\n    v: 1900-02-29\n", ERR_PARSE,
                "t.yml:3:8: not a valid date (day is out of range for month): "
                "'1900-02-29'");
}

static void test_inv_yaml_billion_laughs(void **state)
{
    (void)state;
    char text[4096];
    int k = snprintf(text, sizeof(text),
                     "all:\n  vars:\n    a0: &a0 [x, x, x, x, x, x, x, x]\n");
    for (int i = 1; i < 9; i++)
        k += snprintf(text + k, sizeof(text) - (size_t)k,
                      "    a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, "
                      "*a%d, *a%d]\n",
                      i, i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1,
                      i - 1);
    check_error(text, ERR_LIMIT, "too many nodes");
}

static void test_inv_yaml_probe(void **state)
{
    (void)state;
    static const char *const yes[] = {"all:\n  hosts:\n", "web: {}\n"};
    static const char *const no[] = {"[web]\nh1\n", "h1\nh2\n", "plugin: aws\n",
                                     "", "a: [\n"};
    for (size_t i = 0; i < 2; i++)
        assert_true(inv_yaml_probe(yes[i], strlen(yes[i])));
    for (size_t i = 0; i < 5; i++)
        assert_false(inv_yaml_probe(no[i], strlen(no[i])));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inv_yaml_structure),
        cmocka_unit_test(test_inv_yaml_typing),
        cmocka_unit_test(test_inv_json_valid),
        cmocka_unit_test(test_inv_yaml_merge_and_dups),
        cmocka_unit_test(test_inv_yaml_vars_files),
        cmocka_unit_test(test_inv_yaml_errors),
        cmocka_unit_test(test_inv_yaml_billion_laughs),
        cmocka_unit_test(test_inv_yaml_probe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
