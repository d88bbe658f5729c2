/* tests/unit/coordinator/test_store_conformance.c: every backend of
 * store_backends passes the store conformance suite
 * (store_conformance.h), opened the way drover opens it: store_open of
 * its URL, in a fresh directory per test. A new backend is tested by
 * adding its row to the table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store.h"
#include "store_conformance.h"

#include <stdio.h>
#include <stdlib.h>

static const struct store_backend *backend; /* the one under test */
static char *dir;                           /* its fresh directory */

static int setup(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/drover-storeconf-XX"
                  "XX"
                  "XX";
    assert_non_null(mkdtemp(tmpl));
    dir = xstrdup(tmpl);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char *cmd = xasprintf("rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    free(dir);
    return 0;
}

static struct store *conf_open(void)
{
    struct store *s = NULL;
    struct err e = {0};
    char *url =
        xasprintf("%s:%s/%s", backend->scheme, dir, backend->state_name);
    if (store_open(url, false, &s, &e) != ERR_OK)
        fail_msg("open %s: %s", url, e.msg);
    free(url);
    return s;
}

/* A URL no backend has is refused, naming it. */
static void test_store_open_unknown(void **state)
{
    (void)state;
    struct store *s = NULL;
    struct err e = {0};
    assert_int_equal(store_open("nosuch:/x", false, &s, &e), ERR_INVALID);
    assert_null(s);
    assert_non_null(strstr(e.msg, "nosuch:/x"));
    assert_int_equal(store_open("no-scheme", true, &s, &e), ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {CONFORMANCE_TESTS(setup, teardown)};
    const struct CMUnitTest own[] = {cmocka_unit_test(test_store_open_unknown)};
    int failed = cmocka_run_group_tests_name("store_open", own, NULL, NULL);
    for (size_t i = 0; store_backends[i] != NULL; i++) {
        backend = store_backends[i];
        failed +=
            cmocka_run_group_tests_name(backend->scheme, tests, NULL, NULL);
    }
    return failed;
}
