/* tests/unit/inventory/test_inv_addr.c: parse_address and host ranges, with
 * the results Ansible's own functions give. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "inv_addr.h"
#include "inventory.h"

#include <stdlib.h>
#include <string.h>

static void check_parse(const char *s, bool ok, const char *host,
                        long long port)
{
    char *h = NULL;
    long long p = -2;
    assert_int_equal(inv_addr_parse(s, &h, &p), ok);
    if (ok) {
        assert_string_equal(h, host);
        assert_int_equal(p, port);
    }
    free(h);
}

static void test_inv_addr_parse(void **state)
{
    (void)state;
    check_parse("web1.example.com", true, "web1.example.com", -1);
    check_parse("web1:2222", true, "web1", 2222);
    check_parse("192.0.2.1:22", true, "192.0.2.1", 22);
    check_parse("[2001:db8::1]:2222", true, "2001:db8::1", 2222);
    check_parse("2001:db8::1", true, "2001:db8::1", -1);
    check_parse("web[01:20].example.com", true, "web[01:20].example.com", -1);
    check_parse("web[01:20]:8080", true, "web[01:20]", 8080);
    check_parse("db-[a:f]", true, "db-[a:f]", -1);
    check_parse("web*", false, NULL, 0);
    check_parse("web:db", false, NULL, 0);
    check_parse("bad-", false, NULL, 0);
    check_parse("a..b", false, NULL, 0);
    check_parse("", false, NULL, 0);
}

static void check_expand(const char *s, const char *const *want, size_t n)
{
    char **names;
    size_t got;
    char why[256];
    assert_true(
        inv_addr_expand(s, INV_RANGE_MAX, &names, &got, why, sizeof(why)));
    assert_int_equal(got, n);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(names[i], want[i]);
        free(names[i]);
    }
    free(names);
}

static void test_inv_addr_expand(void **state)
{
    (void)state;
    const char *const plain[] = {"web"};
    check_expand("web", plain, 1);
    const char *const pad[] = {"w08", "w09", "w10"};
    check_expand("w[08:10]", pad, 3);
    const char *const step[] = {"n1", "n4", "n7", "n10"};
    check_expand("n[1:10:3]", step, 4);
    const char *const alpha[] = {"db-a", "db-b", "db-c"};
    check_expand("db-[a:c]", alpha, 3);
    const char *const two[] = {"r1n1", "r1n2", "r2n1", "r2n2"};
    check_expand("r[1:2]n[1:2]", two, 4);
    const char *const nobeg[] = {"x0", "x1"};
    check_expand("x[:1]", nobeg, 2);
    check_expand("x[3:1]", NULL, 0);
}

static void check_bad(const char *s, size_t max, const char *needle)
{
    char **names = NULL;
    size_t n = 0;
    char why[256] = "";
    assert_false(inv_addr_expand(s, max, &names, &n, why, sizeof(why)));
    assert_non_null(strstr(why, needle));
    assert_null(names);
}

static void test_inv_addr_bad_ranges(void **state)
{
    (void)state;
    check_bad("web[1:]", INV_RANGE_MAX, "end value");
    check_bad("web[01:100]", INV_RANGE_MAX, "same width");
    check_bad("web[a:1]", INV_RANGE_MAX, "integers or single letters");
    check_bad("web[1:3:0]", INV_RANGE_MAX, "zero");
    check_bad("web[1:3", INV_RANGE_MAX, "closing");
    check_bad("web[1]", INV_RANGE_MAX, "begin:end");
    check_bad("web[c:a]", INV_RANGE_MAX, "begin <= end");
    check_bad("web[0:99999999999]", INV_RANGE_MAX, "more than 100000");
    /* The product of two ranges counts, before anything is built. */
    check_bad("a[0:999]b[0:999]", INV_RANGE_MAX, "more than");
    check_bad("a[0:9]", 5, "more than 5");
    check_bad("a|[0:9]", INV_RANGE_MAX, "'|'");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inv_addr_parse),
        cmocka_unit_test(test_inv_addr_expand),
        cmocka_unit_test(test_inv_addr_bad_ranges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
