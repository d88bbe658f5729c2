/* tests/unit/inventory/test_inv_pattern.c: splitting, globs, regular
 * expressions, subscripts and Ansible's evaluation order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "buf.h"
#include "err.h"
#include "inv_pattern.h"
#include "inventory.h"

#include <stdlib.h>
#include <string.h>

static void check_split(const char *p, const char *want)
{
    char **t;
    size_t n;
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    inv_pattern_split(p, &t, &n);
    for (size_t i = 0; i < n; i++) {
        buf_printf(&b, "%s%s", i > 0 ? "|" : "", t[i]);
        free(t[i]);
    }
    free(t);
    if (strcmp(buf_cstr(&b), want) != 0)
        fail_msg("split '%s' gave '%s', want '%s'", p, buf_cstr(&b), want);
    buf_release(&b);
}

static void test_inv_pattern_split(void **state)
{
    (void)state;
    check_split("web", "web");
    check_split("web:db", "web|db");
    check_split("web:&db:!x", "web|&db|!x");
    check_split("a, b ,,c", "a|b|c");
    check_split("web[0:2]", "web[0:2]");
    check_split("web[0:2]:db", "web[0:2]|db");
    check_split("host:2222", "host:2222");
    check_split("2001:db8::1", "2001:db8::1");
    check_split("a b", "a|b");
    check_split("~web\\d+", "~web\\d+");
    check_split("", "");
}

static void test_inv_pattern_glob(void **state)
{
    (void)state;
    assert_true(inv_pattern_glob("web*", "web1"));
    assert_true(inv_pattern_glob("*", ""));
    assert_true(inv_pattern_glob("w?b", "web"));
    assert_true(inv_pattern_glob("*.internal", "a.b.internal"));
    assert_false(inv_pattern_glob("*.internal", "a.internalx"));
    assert_true(inv_pattern_glob("[wd]*", "db1"));
    assert_false(inv_pattern_glob("[!wd]*", "db1"));
    assert_true(inv_pattern_glob("web[0-9]", "web7"));
    assert_true(inv_pattern_glob("a[", "a["));
    assert_true(inv_pattern_glob("[]]x", "]x"));
    assert_true(inv_pattern_glob("h?llo", "h\xc3\xa9llo"));
    assert_false(inv_pattern_glob("web", "Web"));
    assert_true(inv_pattern_glob("*a*b*c", "xxaxxbxxc"));
}

static struct inventory *inv_fixture(void)
{
    static const char text[] = "loose\n"
                               "[web]\nw1\nw2\nw3\n"
                               "[db]\nd1\nd2\n"
                               "[prod:children]\nweb\ndb\n"
                               "[prod]\np1\n"
                               "[stage]\nw3\nd2\n";
    struct inventory *inv = inv_new();
    struct err e = {0};
    assert_int_equal(
        inv_load_buffer(inv, "t.ini", text, strlen(text), INV_FORMAT_INI, &e),
        ERR_OK);
    return inv;
}

static void check_select(const struct inventory *inv, const char *pat,
                         const char *want)
{
    const struct inv_host **hs;
    size_t n;
    struct err e = {0};
    if (inv_select(inv, pat, &hs, &n, &e) != ERR_OK)
        fail_msg("'%s' failed: %s", pat, e.msg);
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    for (size_t i = 0; i < n; i++)
        buf_printf(&b, "%s%s", i > 0 ? " " : "", inv_host_name(hs[i]));
    free(hs);
    if (strcmp(buf_cstr(&b), want) != 0)
        fail_msg("'%s' gave '%s', want '%s'", pat, buf_cstr(&b), want);
    buf_release(&b);
}

static void test_inv_pattern_select(void **state)
{
    (void)state;
    struct inventory *inv = inv_fixture();
    /* all: all's own children first (ungrouped, prod, stage), then the
     * next level (web, db). */
    check_select(inv, "all", "loose p1 w3 d2 w1 w2 d1");
    check_select(inv, "prod", "p1 w1 w2 w3 d1 d2");
    check_select(inv, "web:db", "w1 w2 w3 d1 d2");
    check_select(inv, "!stage:prod", "p1 w1 w2 d1");
    check_select(inv, "prod:&stage", "w3 d2");
    check_select(inv, "&stage", "w3 d2");
    check_select(inv, "d*", "d1 d2");
    check_select(inv, "~w\\d", "w1 w2 w3");
    check_select(inv, "~(w|d)[12]$", "w1 w2 d1 d2");
    check_select(inv, "prod[0]", "p1");
    check_select(inv, "prod[-1]", "d2");
    check_select(inv, "prod[1:2]", "w1 w2");
    check_select(inv, "prod[4:]", "d1 d2");
    check_select(inv, "prod[2:0]", "w2");
    check_select(inv, "prod[9:12]", "");
    check_select(inv, "w1,w1,w2", "w1 w2");
    check_select(inv, "nothing", "");
    inv_free(inv);
}

static void test_inv_pattern_errors(void **state)
{
    (void)state;
    struct inventory *inv = inv_fixture();
    const struct inv_host **hs;
    size_t n;
    struct err e = {0};
    assert_int_equal(inv_select(inv, "web[7]", &hs, &n, &e), ERR_NOTFOUND);
    assert_non_null(strstr(e.msg, "'web[7]'"));
    err_clear(&e);
    assert_int_equal(inv_select(inv, "~(a", &hs, &n, &e), ERR_INVALID);
    err_clear(&e);
    assert_int_equal(inv_select(inv, "~(?=a)", &hs, &n, &e), ERR_INVALID);
    err_clear(&e);
    assert_int_equal(inv_select(inv, "web:!", &hs, &n, &e), ERR_INVALID);
    /* What would make regcomp(3) build a huge tree is refused. */
    static const char *const unsafe[] = {"~w+++", "~w**", "~(a{100}){101}",
                                         "~a{1}b{1}c{1}d{1}e{1}"};
    for (size_t i = 0; i < 4; i++) {
        err_clear(&e);
        assert_int_equal(inv_select(inv, unsafe[i], &hs, &n, &e), ERR_INVALID);
    }
    err_clear(&e);
    assert_int_equal(inv_select(inv, "~w\\d+?$", &hs, &n, &e), ERR_OK);
    assert_int_equal(n, 3);
    free(hs);
    err_clear(&e);
    /* ':' splits terms even inside a regular expression, as in Ansible,
     * leaving "~(?" (Ansible's library refuses it too). */
    assert_int_equal(inv_select(inv, "~(?:w|d)1", &hs, &n, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "'~(?'"));
    inv_free(inv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inv_pattern_split),
        cmocka_unit_test(test_inv_pattern_glob),
        cmocka_unit_test(test_inv_pattern_select),
        cmocka_unit_test(test_inv_pattern_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
