/* tests/unit/common/test_strmap.c: the name -> pointer hash map. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "err.h"
#include "strmap.h"

#include <stdio.h>
#include <stdlib.h>

static void test_strmap_empty(void **state)
{
    (void)state;
    struct strmap m;
    strmap_init(&m);
    assert_null(strmap_get(&m, "x"));
    strmap_release(&m);
}

static void test_strmap_put_get_replace(void **state)
{
    (void)state;
    struct strmap m;
    int a = 1, b = 2;
    strmap_init(&m);
    strmap_put(&m, "a", &a);
    strmap_put(&m, "b", &b);
    assert_ptr_equal(strmap_get(&m, "a"), &a);
    assert_ptr_equal(strmap_get(&m, "b"), &b);
    strmap_put(&m, "a", &b);
    assert_ptr_equal(strmap_get(&m, "a"), &b);
    assert_int_equal(m.n, 2);
    strmap_release(&m);
}

static void test_strmap_grows(void **state)
{
    (void)state;
    enum { N = 10000 };
    char **keys = xcalloc(N, sizeof(*keys));
    struct strmap m;
    strmap_init(&m);
    for (size_t i = 0; i < N; i++) {
        keys[i] = xasprintf("host%zu.example.com", i);
        strmap_put(&m, keys[i], keys[i]);
    }
    assert_int_equal(m.n, N);
    assert_true(m.cap >= 2 * N);
    for (size_t i = 0; i < N; i++)
        assert_ptr_equal(strmap_get(&m, keys[i]), keys[i]);
    assert_null(strmap_get(&m, "host10000.example.com"));
    strmap_release(&m);
    for (size_t i = 0; i < N; i++)
        free(keys[i]);
    free(keys);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strmap_empty),
        cmocka_unit_test(test_strmap_put_get_replace),
        cmocka_unit_test(test_strmap_grows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
