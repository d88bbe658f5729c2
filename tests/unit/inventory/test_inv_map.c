/* tests/unit/inventory/test_inv_map.c: the name -> pointer hash map. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "err.h"
#include "inv_map.h"

#include <stdio.h>
#include <stdlib.h>

static void test_inv_map_empty(void **state)
{
    (void)state;
    struct inv_map m;
    inv_map_init(&m);
    assert_null(inv_map_get(&m, "x"));
    inv_map_release(&m);
}

static void test_inv_map_put_get_replace(void **state)
{
    (void)state;
    struct inv_map m;
    int a = 1, b = 2;
    inv_map_init(&m);
    inv_map_put(&m, "a", &a);
    inv_map_put(&m, "b", &b);
    assert_ptr_equal(inv_map_get(&m, "a"), &a);
    assert_ptr_equal(inv_map_get(&m, "b"), &b);
    inv_map_put(&m, "a", &b);
    assert_ptr_equal(inv_map_get(&m, "a"), &b);
    assert_int_equal(m.n, 2);
    inv_map_release(&m);
}

static void test_inv_map_grows(void **state)
{
    (void)state;
    enum { N = 10000 };
    char **keys = xcalloc(N, sizeof(*keys));
    struct inv_map m;
    inv_map_init(&m);
    for (size_t i = 0; i < N; i++) {
        keys[i] = xasprintf("host%zu.example.com", i);
        inv_map_put(&m, keys[i], keys[i]);
    }
    assert_int_equal(m.n, N);
    assert_true(m.cap >= 2 * N);
    for (size_t i = 0; i < N; i++)
        assert_ptr_equal(inv_map_get(&m, keys[i]), keys[i]);
    assert_null(inv_map_get(&m, "host10000.example.com"));
    inv_map_release(&m);
    for (size_t i = 0; i < N; i++)
        free(keys[i]);
    free(keys);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inv_map_empty),
        cmocka_unit_test(test_inv_map_put_get_replace),
        cmocka_unit_test(test_inv_map_grows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
