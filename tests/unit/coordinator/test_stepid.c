/* tests/unit/coordinator/test_stepid.c: step ids as text: every field
 * shows, distinct fields give distinct ids (phases, indexes, hosts whose
 * names differ only in bytes that are escaped, passes, attempts,
 * generations), only file-name and job-id bytes appear, long host names
 * are hashed under the cap, phase names go both ways. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "stepid.h"

#include <string.h>

static void test_stepid_format(void **state)
{
    (void)state;
    char out[STEPID_MAX + 1];
    struct stepid id = {.deploy = "DEP-2026-12-07-001",
                        .host = "web1",
                        .phase = STEPID_BEFORE,
                        .step = 1,
                        .gen = 7};
    assert_string_equal(stepid_format(&id, out, sizeof(out)),
                        "DEP-2026-12-07-001:web1:before:1:0:7");
    id.pass = 1;
    id.phase = STEPID_DEPLOY;
    assert_string_equal(stepid_format(&id, out, sizeof(out)),
                        "DEP-2026-12-07-001:web1:deploy.1:1:0:7");
    id.host = NULL;
    id.deploy = NULL;
    id.pass = 0;
    assert_string_equal(stepid_format(&id, out, sizeof(out)),
                        "run::deploy:1:0:7");
}

static void test_stepid_distinct(void **state)
{
    (void)state;
    static const char *const hosts[] = {"a_b",  "a.b",   "a b", "a/b",
                                        "a__b", "a_5Fb", "A.B", "a:b"};
    enum { NH = sizeof(hosts) / sizeof(hosts[0]) };
    char ids[NH * STEPID_PHASE_COUNT * 2 * 2][STEPID_MAX + 1];
    size_t n = 0;
    for (size_t h = 0; h < NH; h++)
        for (int p = 0; p < STEPID_PHASE_COUNT; p++)
            for (unsigned k = 0; k < 2; k++)
                for (unsigned a = 0; a < 2; a++) {
                    struct stepid id = {.deploy = "D",
                                        .host = hosts[h],
                                        .phase = (enum stepid_phase)p,
                                        .step = k,
                                        .attempt = a,
                                        .gen = 1};
                    stepid_format(&id, ids[n], sizeof(ids[n]));
                    size_t len = strlen(ids[n]);
                    assert_int_equal(
                        strspn(ids[n], "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij"
                                       "klmnopqrstuvwxyz0123456789._:-"),
                        len);
                    for (size_t j = 0; j < n; j++)
                        assert_string_not_equal(ids[j], ids[n]);
                    n++;
                }
}

static void test_stepid_long_host(void **state)
{
    (void)state;
    char a[STEPID_MAX + 1], b[STEPID_MAX + 1], host[200];
    memset(host, 'x', sizeof(host) - 1);
    host[sizeof(host) - 1] = '\0';
    struct stepid id = {.deploy = "DEP-2026-12-07-001",
                        .host = host,
                        .phase = STEPID_ROLLBACK,
                        .step = 99,
                        .attempt = 9,
                        .gen = UINT64_MAX};
    stepid_format(&id, a, sizeof(a));
    assert_true(strlen(a) <= STEPID_MAX);
    host[0] = 'y';
    stepid_format(&id, b, sizeof(b));
    assert_string_not_equal(a, b);
    assert_non_null(strstr(a, ":_H"));
}

static void test_stepid_phase_names(void **state)
{
    (void)state;
    for (int p = 0; p < STEPID_PHASE_COUNT; p++) {
        enum stepid_phase back;
        assert_true(
            stepid_phase_parse(stepid_phase_name((enum stepid_phase)p), &back));
        assert_int_equal(back, p);
    }
    enum stepid_phase x;
    assert_false(stepid_phase_parse("gate", &x));
    assert_false(stepid_phase_parse(NULL, &x));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stepid_format),
        cmocka_unit_test(test_stepid_distinct),
        cmocka_unit_test(test_stepid_long_host),
        cmocka_unit_test(test_stepid_phase_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
