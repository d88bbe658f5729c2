/* tests/unit/coordinator/test_template.c: `{{ name }}` rendering, the
 * default() and quote filters, value rendering (Jinja's), and the errors:
 * undefined names, unterminated braces, unknown filters, bad syntax. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "shquote.h"
#include "template.h"
#include "when.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Variables every test renders against. */
static json_t *vars;

static int tmpl_setup(void **state)
{
    (void)state;
    json_error_t je;
    vars = json_loads("{\"version\": \"2\", \"port\": 8080, \"on\": true,"
                      " \"off\": false, \"nothing\": null,"
                      " \"msg\": \"it's a b\", \"ratio\": 0.1,"
                      " \"half\": 1.5, \"big\": 1e300, \"whole\": 2.0,"
                      " \"neg\": -3, \"list\": [1, \"a\"],"
                      " \"map\": {\"k\": \"v\"}, \"empty\": \"\","
                      " \"path\": \"/opt/app-2.1/bin\"}",
                      0, &je);
    return vars == NULL ? -1 : 0;
}

static int tmpl_teardown(void **state)
{
    (void)state;
    json_decref(vars);
    return 0;
}

static json_t *tmpl_lookup(const char *name, void *arg)
{
    (void)arg;
    return json_object_get(vars, name);
}

static void render_is(const char *tmpl, const char *want)
{
    struct err e = {0};
    char *out = NULL;
    if (template_render(tmpl, tmpl_lookup, NULL, &out, &e) != ERR_OK)
        fail_msg("'%s': %s", tmpl, e.msg);
    assert_int_equal(e.code, ERR_OK);
    if (strcmp(out, want) != 0)
        fail_msg("'%s' rendered as '%s', want '%s'", tmpl, out, want);
    free(out);
}

static void render_fails(const char *tmpl, enum err_code code,
                         const char *want_msg)
{
    struct err e = {0};
    char *out = (char *)"sentinel";
    enum err_code rc = template_render(tmpl, tmpl_lookup, NULL, &out, &e);
    if (rc == ERR_OK)
        fail_msg("'%s' rendered as '%s', want an error", tmpl, out);
    assert_int_equal(rc, code);
    assert_int_equal(e.code, code);
    assert_null(out);
    if (strcmp(e.msg, want_msg) != 0)
        fail_msg("'%s': message\n  '%s'\nwant\n  '%s'", tmpl, e.msg, want_msg);
}

static void test_template_plain(void **state)
{
    (void)state;
    render_is("", "");
    render_is("no braces at all", "no braces at all");
    render_is("a single { and } stay", "a single { and } stay");
    render_is("v{{version}}", "v2");
    render_is("v{{ version }}", "v2");
    render_is("{{   version   }}.{{version}}", "2.2");
    render_is("http://h:{{ port }}/health", "http://h:8080/health");
    render_is("{{ empty }}|", "|");
    render_is("{{path}}", "/opt/app-2.1/bin");
}

static void test_template_value_types(void **state)
{
    (void)state;
    /* booleans as Jinja prints them, integers in decimal */
    render_is("{{ on }} {{ off }}", "True False");
    render_is("{{ port }} {{ neg }}", "8080 -3");
    /* null renders as nothing (Ansible's finalize) */
    render_is("[{{ nothing }}]", "[]");
    /* reals: the shortest text that reads back as the same number */
    render_is("{{ ratio }}", "0.1");
    render_is("{{ half }}", "1.5");
    render_is("{{ whole }}", "2.0");
    render_is("{{ big }}", "1e+300");
    /* lists and maps as compact JSON */
    render_is("{{ list }}", "[1,\"a\"]");
    render_is("{{ map }}", "{\"k\":\"v\"}");
}

static void test_template_default(void **state)
{
    (void)state;
    render_is("{{ missing | default('x') }}", "x");
    render_is("{{ missing | default(\"a b\") }}", "a b");
    render_is("{{ missing|default(9090) }}", "9090");
    render_is("{{ missing | default( 9090 ) }}", "9090");
    render_is("{{ missing | default('') }}|", "|");
    render_is("{{ missing | d('short') }}", "short");
    /* a defined value wins over the default, even a null or empty one */
    render_is("{{ port | default(1) }}", "8080");
    render_is("[{{ nothing | default('x') }}]", "[]");
    render_is("[{{ empty | default('x') }}]", "[]");
}

static void test_template_quote(void **state)
{
    (void)state;
    /* safe words stay bare; anything else is single-quoted */
    render_is("echo {{ version | quote }}", "echo 2");
    render_is("echo {{ path | quote }}", "echo /opt/app-2.1/bin");
    render_is("echo {{ msg | quote }}", "echo 'it'\\''s a b'");
    render_is("echo {{ empty | quote }}", "echo ''");
    render_is("echo {{ missing | default('a b') | quote }}", "echo 'a b'");
    render_is("echo {{ missing | quote | default('x y') }}", "echo 'x y'");
    render_is("{{ on | quote }}", "True");

    char *q = shquote("$(rm -rf /); `x` \"y\" \\ *");
    assert_string_equal(q, "'$(rm -rf /); `x` \"y\" \\ *'");
    free(q);
    q = shquote("''");
    assert_string_equal(q, "''\\'''\\'''");
    free(q);
    q = shquote("a\nb");
    assert_string_equal(q, "'a\nb'");
    free(q);
}

static void test_template_filters(void **state)
{
    (void)state;
    render_is("{{ version | int }}", "2");
    render_is("{{ half | int }}", "1");
    render_is("{{ list | length }} {{ map | length }} {{ msg | length }}",
              "2 1 8");
    render_is("{{ on | bool }} {{ version | bool }} {{ nothing | bool }}",
              "True False ");
    render_is("{{ port | string | quote }}", "8080");
    render_is("{{ missing | default('a b') | length }}", "3");
    /* filters apply in order: quote then length counts the quotes */
    render_is("{{ msg | quote | length }}", "13");
    render_fails("{{ port | length }}", ERR_PARSE,
                 "column 1: length of a number (length takes a string, a "
                 "list or a mapping)");
    render_fails("{{ version | int | lenght }}", ERR_PARSE,
                 "column 1: unknown filter 'lenght'; did you mean "
                 "'length'?");
    render_fails("{{ v | int | int | int | int | int | int | int | int | int "
                 "}}",
                 ERR_PARSE, "column 1: more than 8 filters in one expression");
}

static void test_template_undefined(void **state)
{
    (void)state;
    render_fails("deploy {{ release }}", ERR_NOTFOUND,
                 "undefined variable 'release' (define it in the inventory, "
                 "the plan's vars or with -e release=...)");
    /* the first undefined one is named */
    render_fails("{{ version }} {{ aa }} {{ bb }}", ERR_NOTFOUND,
                 "undefined variable 'aa' (define it in the inventory, "
                 "the plan's vars or with -e aa=...)");
    /* quote does not hide an undefined variable */
    render_fails("{{ nope | quote }}", ERR_NOTFOUND,
                 "undefined variable 'nope' (define it in the inventory, "
                 "the plan's vars or with -e nope=...)");
}

static void test_template_syntax_errors(void **state)
{
    (void)state;
    /* columns point at the '{{' that opens the bad expression */
    render_fails("x {{ version", ERR_PARSE,
                 "column 3: '{{' without a closing '}}'");
    render_fails("{{ version }} {{", ERR_PARSE,
                 "column 15: '{{' without a closing '}}'");
    render_fails("ab{{ }}", ERR_PARSE,
                 "column 3: expected a variable name in '{{ }}'");
    render_fails("{{ 1x }}", ERR_PARSE,
                 "column 1: expected a variable name in '{{ 1x }}'");
    render_fails("ab{{ version | upper }}", ERR_PARSE,
                 "column 3: unknown filter 'upper' (known: default, quote, "
                 "int, bool, string, length)");
    render_fails("ab{{ version | qoute }}", ERR_PARSE,
                 "column 3: unknown filter 'qoute'; did you mean 'quote'?");
    render_fails("{{ a + b }}", ERR_PARSE,
                 "column 1: unexpected '+' in '{{ a + b }}' (only 'name' and "
                 "'| filter' are supported)");
    render_fails("{{ map[k] }}", ERR_PARSE,
                 "column 1: expected 'key' or a number in '[...]'");
    render_fails("{{ map['k' }}", ERR_PARSE, "column 1: expected ']'");
    render_fails("{{ version | }}", ERR_PARSE,
                 "column 1: expected a filter after '|' in '{{ version | }}'");
    render_fails("{{ x | default }}", ERR_PARSE,
                 "column 1: default needs a value: default('x')");
    render_fails("{{ x | default('a }}", ERR_PARSE,
                 "column 1: unterminated string in default()");
    render_fails("{{ x | default('a' }}", ERR_PARSE,
                 "column 1: expected ')' after default value");
    render_fails("{{ x | default(a b) }}", ERR_PARSE,
                 "column 1: expected ')' after default value");
}

/* Subscripts, as Jinja reads them: `groups['web'][0]`, `map.k`, `[-1]`;
 * a key or index that is not there is undefined (default() applies). */
static void test_template_subscripts(void **state)
{
    (void)state;
    render_is("{{ map['k'] }} {{ map[\"k\"] }} {{ map.k }}", "v v v");
    render_is("{{ list[0] }}{{ list[1] }}{{ list[-1] }}", "1aa");
    render_is("{{ list[ 1 ] | quote }}", "a");
    render_is("{{ map['x'] | default('none') }}", "none");
    render_is("{{ list[9] | d(0) }}", "0");
    render_fails("{{ list[2] }}", ERR_NOTFOUND,
                 "undefined: list[2] has no such key or index (guard it "
                 "with default())");
    render_fails("{{ version.k }}", ERR_NOTFOUND,
                 "undefined: version.k has no such key or index (guard it "
                 "with default())");
    struct {
        const char *cond;
        bool want;
    } cases[] = {
        {"map['k'] == 'v'", true},
        {"map.k == 'v' and list[0] == 1", true},
        {"list[-1] in ['a']", true},
        {"map['nope'] | default([]) | length == 0", true},
        {"list | length > 1 and list[1] == 'a'", true},
        {"1.5 == half", true}, /* a number's '.' is no subscript */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bool got = false;
        struct err e = {0};
        if (when_eval(cases[i].cond, tmpl_lookup, NULL, &got, &e) != ERR_OK)
            fail_msg("'%s': %s", cases[i].cond, e.msg);
        if (got != cases[i].want)
            fail_msg("'%s' is %d, want %d", cases[i].cond, got, cases[i].want);
    }
    bool got = false;
    struct err e = {0};
    assert_int_equal(when_eval("map['nope'] == 1", tmpl_lookup, NULL, &got, &e),
                     ERR_NOTFOUND);
    assert_string_equal(e.msg, "undefined: map['nope'] has no such key or "
                               "index in condition 'map['nope'] == 1' "
                               "(guard it with default())");
    /* a syntax check parses subscripts without values */
    err_clear(&e);
    assert_int_equal(when_names("groups['web'][0] == x", NULL, NULL, &e),
                     ERR_OK);
    assert_int_equal(when_names("groups[", NULL, NULL, &e), ERR_PARSE);
}

static void test_template_limits(void **state)
{
    (void)state;
    /* a name longer than the expression buffer is refused, not cut */
    char tmpl[600];
    memset(tmpl, 'a', sizeof(tmpl));
    memcpy(tmpl, "{{ ", 3);
    memcpy(tmpl + sizeof(tmpl) - 4, " }}", 4);
    struct err e = {0};
    char *out = NULL;
    assert_int_equal(template_render(tmpl, tmpl_lookup, NULL, &out, &e),
                     ERR_PARSE);
    assert_null(out);
    assert_non_null(strstr(e.msg, "expected a variable name"));

    char deflt[600];
    int n = snprintf(deflt, sizeof(deflt), "{{ x | default('%0400d') }}", 0);
    assert_true(n > 400);
    err_clear(&e);
    assert_int_equal(template_render(deflt, tmpl_lookup, NULL, &out, &e),
                     ERR_PARSE);
    assert_string_equal(e.msg, "column 1: default value too long");
}

/* Names seen by template_names, joined as "name[+default] ". */
static void names_collect(const char *name, bool has_default, void *arg)
{
    char *acc = arg;
    size_t len = strlen(acc);
    snprintf(acc + len, 256 - len, "%s%s ", name, has_default ? "+d" : "");
}

static void test_template_names(void **state)
{
    (void)state;
    char acc[256] = "";
    struct err e = {0};
    assert_int_equal(
        template_names("{{ a }} x {{ b | default(1) }} {{c|quote}} {{ a }}",
                       names_collect, acc, &e),
        ERR_OK);
    assert_string_equal(acc, "a b+d c a ");

    acc[0] = '\0';
    assert_int_equal(template_names("plain", names_collect, acc, &e), ERR_OK);
    assert_string_equal(acc, "");

    /* names are listed without being defined; syntax is still checked */
    assert_int_equal(
        template_names("{{ a }} {{ b | nope }}", names_collect, acc, &e),
        ERR_PARSE);
    assert_non_null(strstr(e.msg, "unknown filter 'nope'"));
}

static void test_template_value_str(void **state)
{
    (void)state;
    struct {
        json_t *v;
        const char *want;
    } cases[] = {
        {json_string("s p"), "s p"},
        {json_integer(-42), "-42"},
        {json_integer(9007199254740993LL), "9007199254740993"},
        {json_real(0.1), "0.1"},
        {json_real(-2.5), "-2.5"},
        {json_real(100.0), "100.0"},
        {json_real(1e-7), "1e-07"},
        {json_real(0.0001), "0.0001"},
        {json_real(1e7), "10000000.0"},
        {json_real(1.5e10), "15000000000.0"},
        {json_real(1e16), "1e+16"},
        {json_real(123456789.125), "123456789.125"},
        {json_real(1.0 / 3), "0.3333333333333333"},
        {json_true(), "True"},
        {json_false(), "False"},
        {json_null(), ""},
        {json_array(), "[]"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *s = template_value_str(cases[i].v);
        if (strcmp(s, cases[i].want) != 0)
            fail_msg("case %zu: '%s', want '%s'", i, s, cases[i].want);
        free(s);
        json_decref(cases[i].v);
    }
}

static void test_template_cond(void **state)
{
    (void)state;
    struct {
        const char *cond;
        bool want;
    } cases[] = {
        /* truthiness, Python's */
        {"on", true},
        {"off", false},
        {"not off", true},
        {"nothing", false},
        {"empty", false},
        {"list", true},
        {"map", true},
        {"0", false},
        {"'x'", true},
        /* comparisons */
        {"port == 8080", true},
        {"port != 8080", false},
        {"port > 80 and port < 9000", true},
        {"port >= 8080 and port <= 8080", true},
        {"neg < 0", true},
        {"ratio < half", true},
        {"version == '2'", true},
        {"version == 2", false}, /* a string is not a number */
        {"on == true", true},
        /* membership */
        {"'a' in list", true},
        {"1 in list", true},
        {"2 not in list", true},
        {"version in ['1', '2']", true},
        {"version not in ['1', '2']", false},
        /* defined tests, and short circuits that never look names up */
        {"missing is defined", false},
        {"missing is not defined", true},
        {"port is defined", true},
        {"missing is defined and missing == 1", false},
        {"port is defined or missing", true},
        {"(on or off) and not off", true},
        {"not (on and off)", true},
        /* filters on operands */
        {"version | int >= 2", true},
        {"version | int == 2", true},
        {"version | int > 2", false},
        {"'3.7' | int == 3", true},
        {"'abc' | int == 0", true},
        {"half | int == 1", true},
        {"on | int == 1", true},
        {"port | string == '8080'", true},
        {"list | length == 2", true},
        {"map | length > 0", true},
        {"msg | length == 8", true},
        {"'\xc3\xa9t\xc3\xa9' | length == 3", true}, /* characters */
        {"empty | length > 0", false},
        {"missing | default(3) == 3", true},
        {"missing | d([]) | length == 0", true},
        {"missing | length | default('') == 0", true}, /* default first */
        {"port | default(1) == 8080", true},
        {"'yes' | bool", true},
        {"'Off' | bool", false},
        {"'1' | bool and 1 | bool", true},
        {"version | bool", false},
        {"nothing | bool", false},
        {"not off | bool", true},
        {"msg | quote == \"'it'\\''s a b'\"", true},
        {"[1, 2] | length in [2]", true},
        {"(port > 1) | int == 1", true},
        {"version | int in [1, 2]", true},
        /* not evaluated on a short circuit: no undefined error, no length
         * of a number */
        {"off and missing | int > 1", false},
        {"on or port | length", true},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct err e = {0};
        bool got = !cases[i].want;
        if (when_eval(cases[i].cond, tmpl_lookup, NULL, &got, &e) != ERR_OK)
            fail_msg("'%s': %s", cases[i].cond, e.msg);
        if (got != cases[i].want)
            fail_msg("'%s' is %d, want %d", cases[i].cond, got, cases[i].want);
        /* the syntax check agrees */
        err_clear(&e);
        assert_int_equal(when_names(cases[i].cond, NULL, NULL, &e), ERR_OK);
    }
}

static void test_template_cond_errors(void **state)
{
    (void)state;
    struct {
        const char *cond;
        enum err_code code;
        const char *why;
    } cases[] = {
        {"missing == 1", ERR_NOTFOUND, "undefined variable 'missing'"},
        {"on and missing", ERR_NOTFOUND, "'missing'"},
        {"port ==", ERR_PARSE, "column 8: expected a name"},
        {"{{ port }} == 1", ERR_PARSE, "without '{{ }}'"},
        {"", ERR_PARSE, "empty condition"},
        {"   ", ERR_PARSE, "empty condition"},
        {"port is defnied", ERR_PARSE, "expected 'defined' after 'is'"},
        {"version == 'abc", ERR_PARSE, "unterminated string"},
        {"(on", ERR_PARSE, "expected ')'"},
        {"[1, 2", ERR_PARSE, "expected ',' or ']'"},
        {"port < 'a'", ERR_PARSE, "cannot order these values"},
        {"on off", ERR_PARSE, "unexpected text"},
        {"port | default(1) 2", ERR_PARSE, "unexpected text"},
        /* filters: names checked with a suggestion, undefined names */
        {"groups | lenght > 0", ERR_PARSE,
         "column 10: unknown filter 'lenght' in 'groups | lenght > 0'; did "
         "you mean 'length'?"},
        {"port | upper", ERR_PARSE,
         "column 8: unknown filter 'upper' in 'port | upper' (known: "
         "default, quote, int, bool, string, length)"},
        {"port |", ERR_PARSE, "column 7: expected a filter after '|'"},
        {"port | default", ERR_PARSE, "default needs a value"},
        {"port | default(1", ERR_PARSE, "expected ')' after default value"},
        {"missing | int > 1", ERR_NOTFOUND, "undefined variable 'missing'"},
        {"missing | default(missing2)", ERR_NOTFOUND,
         "undefined variable 'missing2'"},
        {"port | length > 1", ERR_PARSE,
         "column 8: length of a number (length takes a string, a list or a "
         "mapping)"},
        {"nothing | length", ERR_PARSE, "length of none"},
        {"version | int | default", ERR_PARSE, "default needs a value"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct err e = {0};
        bool got;
        enum err_code rc =
            when_eval(cases[i].cond, tmpl_lookup, NULL, &got, &e);
        if (rc != cases[i].code || strstr(e.msg, cases[i].why) == NULL)
            fail_msg("'%s': %d '%s', want %d '%s'", cases[i].cond, rc, e.msg,
                     cases[i].code, cases[i].why);
    }
    /* deep nesting is refused, not recursed into */
    char deep[256];
    memset(deep, '(', 100);
    memcpy(deep + 100, "on", 3);
    struct err e = {0};
    bool got;
    assert_int_equal(when_eval(deep, tmpl_lookup, NULL, &got, &e), ERR_PARSE);
    assert_non_null(strstr(e.msg, "nested too deeply"));
}

static void test_template_cond_names(void **state)
{
    (void)state;
    char acc[256] = "";
    struct err e = {0};
    assert_int_equal(when_names("a == 1 and b is defined or c in [d]",
                                names_collect, acc, &e),
                     ERR_OK);
    assert_string_equal(acc, "a b+d c d ");

    /* a name followed by default() may be undefined */
    acc[0] = '\0';
    assert_int_equal(when_names("a | int > 1 or b | default(c) | "
                                "length",
                                names_collect, acc, &e),
                     ERR_OK);
    assert_string_equal(acc, "a c b+d ");
    assert_int_equal(when_names("a | nope", names_collect, acc, &e), ERR_PARSE);
    assert_string_equal(e.msg, "column 5: unknown filter 'nope' in 'a | "
                               "nope' (known: default, quote, int, bool, "
                               "string, length)");
    assert_false(when_truthy(NULL));
    json_t *z = json_real(0.0);
    assert_false(when_truthy(z));
    json_decref(z);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_template_plain),
        cmocka_unit_test(test_template_value_types),
        cmocka_unit_test(test_template_default),
        cmocka_unit_test(test_template_quote),
        cmocka_unit_test(test_template_filters),
        cmocka_unit_test(test_template_undefined),
        cmocka_unit_test(test_template_syntax_errors),
        cmocka_unit_test(test_template_subscripts),
        cmocka_unit_test(test_template_limits),
        cmocka_unit_test(test_template_names),
        cmocka_unit_test(test_template_value_str),
        cmocka_unit_test(test_template_cond),
        cmocka_unit_test(test_template_cond_errors),
        cmocka_unit_test(test_template_cond_names),
    };
    return cmocka_run_group_tests(tests, tmpl_setup, tmpl_teardown);
}
