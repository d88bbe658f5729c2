/* tests/unit/inventory/test_inv_ini.c: the INI reader: sections, pending
 * children, value typing, ranges, ports, errors with positions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "err.h"
#include "inv_ini.h"
#include "inventory.h"

#include <stdlib.h>
#include <string.h>

static struct inventory *load(const char *text, struct err *e)
{
    struct inventory *inv = inv_new();
    err_clear(e);
    inv_load_buffer(inv, "t.ini", text, strlen(text), INV_FORMAT_INI, e);
    return inv;
}

static const struct inv_host *host(const struct inventory *inv,
                                   const char *name)
{
    const struct inv_host *h = inv_host_find(inv, name);
    if (h == NULL)
        fail_msg("no host %s", name);
    return h;
}

static void test_inv_ini_sections(void **state)
{
    (void)state;
    struct err e;
    struct inventory *inv = load("top ansible_host=10.0.0.9\n"
                                 "[web]\n"
                                 "w1 ansible_port=2222 ansible_user=deploy\n"
                                 "w2:2200\n"
                                 "[db]\n"
                                 "d1\n"
                                 "[prod:children]\n"
                                 "web\n"
                                 "db\n"
                                 "[prod:vars]\n"
                                 "env = prod\n",
                                 &e);
    assert_int_equal(e.code, ERR_OK);
    assert_int_equal(inv_host_count(inv), 4);
    assert_string_equal(inv_host_name(inv_host_at(inv, 0)), "top");
    json_t *port = inv_host_var(inv, host(inv, "w1"), "ansible_port");
    assert_true(json_is_integer(port));
    assert_int_equal(json_integer_value(port), 2222);
    assert_int_equal(
        json_integer_value(inv_host_var(inv, host(inv, "w2"), "ansible_port")),
        2200);
    assert_string_equal(
        json_string_value(inv_host_var(inv, host(inv, "top"), "ansible_host")),
        "10.0.0.9");
    assert_string_equal(
        json_string_value(inv_host_var(inv, host(inv, "d1"), "env")), "prod");
    assert_null(inv_host_var(inv, host(inv, "top"), "env"));
    const struct inv_group *ug = inv_group_find(inv, "ungrouped");
    assert_int_equal(inv_group_host_count(ug), 1);
    assert_ptr_equal(inv_group_host_at(ug, 0), host(inv, "top"));
    const struct inv_group *prod = inv_group_find(inv, "prod");
    assert_int_equal(inv_group_child_count(prod), 2);
    inv_free(inv);
}

static void test_inv_ini_pending_children(void **state)
{
    (void)state;
    struct err e;
    struct inventory *inv = load("[top:children]\nmid\n"
                                 "[mid:children]\nleaf\n"
                                 "[leaf]\nl1\n"
                                 "[mid]\nm1\n",
                                 &e);
    assert_int_equal(e.code, ERR_OK);
    const struct inv_host **hs;
    size_t n;
    inv_group_hosts(inv, inv_group_find(inv, "top"), &hs, &n);
    assert_int_equal(n, 2);
    assert_string_equal(inv_host_name(hs[0]), "m1");
    assert_string_equal(inv_host_name(hs[1]), "l1");
    free(hs);
    inv_free(inv);
}

static void test_inv_ini_value_typing(void **state)
{
    (void)state;
    struct err e;
    struct inventory *inv =
        load("h a=80 b=0.5 c='[\"x\", \"y\"]' d=true e=True f=\"80\"\n"
             "[all:vars]\n"
             "q=\"80\"\n"
             "r=value # kept\n",
             &e);
    assert_int_equal(e.code, ERR_OK);
    const struct inv_host *h = host(inv, "h");
    assert_true(json_is_integer(inv_host_var(inv, h, "a")));
    assert_true(json_is_real(inv_host_var(inv, h, "b")));
    assert_int_equal(json_array_size(inv_host_var(inv, h, "c")), 2);
    assert_string_equal(json_string_value(inv_host_var(inv, h, "d")), "true");
    assert_true(json_is_true(inv_host_var(inv, h, "e")));
    /* shlex took the quotes away on the host line: an integer. */
    assert_true(json_is_integer(inv_host_var(inv, h, "f")));
    /* In :vars the quotes are Python's: a string. */
    assert_string_equal(json_string_value(inv_host_var(inv, h, "q")), "80");
    assert_string_equal(json_string_value(inv_host_var(inv, h, "r")),
                        "value # kept");
    inv_free(inv);
}

static void test_inv_ini_ranges(void **state)
{
    (void)state;
    struct err e;
    struct inventory *inv = load("[web]\nweb[01:10:3].x u=1\n", &e);
    assert_int_equal(e.code, ERR_OK);
    assert_int_equal(inv_host_count(inv), 4);
    assert_string_equal(inv_host_name(inv_host_at(inv, 3)), "web10.x");
    assert_int_equal(
        json_integer_value(inv_host_var(inv, host(inv, "web04.x"), "u")), 1);
    inv_free(inv);
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

static void test_inv_ini_errors(void **state)
{
    (void)state;
    check_error("[web]\nh x=\"a\n", ERR_PARSE,
                "t.ini:2:5: no closing quotation: '\"a'");
    check_error("[web]\nh novalue\n", ERR_PARSE,
                "t.ini:2:3: expected key=value host variable assignment: "
                "'novalue'");
    check_error("[a b]\n", ERR_PARSE, "t.ini:1:1: invalid section header");
    check_error("[a:bad]\n", ERR_PARSE, "t.ini:1:1: section has an unknown");
    check_error("[p:children]\nnope\n", ERR_PARSE,
                "t.ini:2:1: section [p:children] includes a group that is "
                "not defined: 'nope'");
    check_error("[g:vars]\nx=1\n", ERR_PARSE,
                "t.ini:1:1: section [g:vars] is for a group that is not "
                "defined");
    check_error("[g]\nh[0:999999999]\n", ERR_LIMIT, "t.ini:2:1: host range");
    check_error("[a:children]\nb\n[b:children]\na\n", ERR_INVALID,
                "t.ini:4:1: adding group 'a' as a child of 'b' makes a loop");
    check_error("[g]\nh\n[g:vars]\nnoeq\n", ERR_PARSE,
                "t.ini:4:1: expected key=value: 'noeq'");
    check_error("h x=\xff\n", ERR_PARSE, "t.ini:1:5: not UTF-8 text");
    check_error("h\n\"\"\n", ERR_PARSE, "t.ini:2:1: empty host name");
    /* A YAML inventory read as INI (Ansible's ini.py refuses it too). */
    check_error("all:\n  hosts:\n", ERR_PARSE,
                "t.ini:1:1: Invalid host pattern 'all:' supplied, ending in "
                "':' is not allowed");
    check_error("[g]\n  web[1:2]: novalue\n", ERR_PARSE,
                "t.ini:2:3: Invalid host pattern 'web[1:2]:'");
    check_error("---\nall:\n", ERR_PARSE,
                "t.ini:1:1: Invalid host pattern '---' supplied, '---' is "
                "normally a sign this is a YAML file (name the file .yml");
    check_error("[g]\n--- a=1\n", ERR_PARSE,
                "t.ini:2:1: Invalid host pattern '---'");
    check_error("[g]\nweb1:22 novalue\n", ERR_PARSE,
                "t.ini:2:9: expected key=value");
}

static void test_inv_ini_host_limit(void **state)
{
    (void)state;
    struct inventory *inv = inv_new();
    struct err e = {0};
    inv_set_host_limit(inv, 10);
    const char *t = "[g]\nh[0:20]\n";
    assert_int_equal(
        inv_load_buffer(inv, "t.ini", t, strlen(t), INV_FORMAT_INI, &e),
        ERR_LIMIT);
    assert_non_null(strstr(e.msg, "more than 10"));
    inv_free(inv);
}

static void test_inv_ini_host_list(void **state)
{
    (void)state;
    struct inventory *inv = inv_new();
    struct err e = {0};
    assert_int_equal(inv_ini_host_list(inv, "a, b:2222,,a,", &e), ERR_OK);
    assert_int_equal(inv_host_count(inv), 2);
    inv_free(inv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inv_ini_sections),
        cmocka_unit_test(test_inv_ini_pending_children),
        cmocka_unit_test(test_inv_ini_value_typing),
        cmocka_unit_test(test_inv_ini_ranges),
        cmocka_unit_test(test_inv_ini_errors),
        cmocka_unit_test(test_inv_ini_host_limit),
        cmocka_unit_test(test_inv_ini_host_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
