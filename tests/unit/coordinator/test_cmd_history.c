/* tests/unit/coordinator/test_cmd_history.c: `drover history` lists the
 * deploys newest first with their result, filters by plan, refuses a bad
 * limit, and says so when there is no journal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cmd_capture.h"
#include "record_fixture.h"

#include "store_sqlite.h"

#include <jansson.h>

static char *dir;

static int setup(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/drover-cmdhist-XX"
                  "XX"
                  "XX";
    assert_non_null(mkdtemp(tmpl));
    dir = xstrdup(tmpl);
    struct store *s = NULL;
    struct err e = {0};
    assert_int_equal(store_open_state(dir, false, &s, NULL, &e), ERR_OK);
    char id[STORE_ID_MAX];
    fixture_rolled_back(s, id);
    /* a second deploy, still running */
    struct store_deploy_info in = {.plan = "web",
                                   .version = "9",
                                   .user = "ci",
                                   .started_ms = FIXTURE_T0 + 60000};
    assert_int_equal(store_deploy_begin(s, &in, id, &e), ERR_OK);
    store_free(s);
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

static void test_cmd_history(void **state)
{
    (void)state;
    char *out, *err;
    const char *all[] = {"history", "--state-dir", dir, NULL};
    assert_int_equal(capture_run(&cmd_history, all, &out, &err), EXIT_OK);
    assert_non_null(strstr(out, "ID "));
    assert_non_null(strstr(out, "ROLLED BACK"));
    const char *first = strstr(out, "DEP-2026-11-02-002");
    const char *second = strstr(out, "DEP-2026-11-02-001");
    assert_non_null(first);
    assert_non_null(second);
    assert_true(first < second); /* newest first */
    assert_non_null(strstr(second, "sms "));
    assert_non_null(strstr(second, "2.1.0"));
    assert_non_null(strstr(second, "ops "));
    assert_non_null(strstr(second, "2026-11-02 10:00:00Z"));
    assert_non_null(strstr(second, "rolled back"));
    assert_non_null(strstr(second, "yes\n"));
    assert_non_null(strstr(first, "running"));
    free(out);
    free(err);
    const char *plan[] = {"history", "--state-dir", dir, "--plan", "web", NULL};
    assert_int_equal(capture_run(&cmd_history, plan, &out, &err), EXIT_OK);
    assert_null(strstr(out, "DEP-2026-11-02-001"));
    assert_non_null(strstr(out, "DEP-2026-11-02-002"));
    free(out);
    free(err);
    const char *lim[] = {"history", "--state-dir", dir, "-n", "0", NULL};
    assert_int_equal(capture_run(&cmd_history, lim, &out, &err), EXIT_USAGE);
    assert_non_null(strstr(err, "--limit 0"));
    free(out);
    free(err);
    const char *js[] = {"history", "--state-dir", dir, "--json", NULL};
    assert_int_equal(capture_run(&cmd_history, js, &out, &err), EXIT_OK);
    json_error_t je;
    json_t *a = json_loads(out, 0, &je);
    assert_non_null(a);
    assert_int_equal(json_array_size(a), 2);
    json_t *old = json_array_get(a, 1);
    assert_string_equal(json_string_value(json_object_get(old, "id")),
                        "DEP-2026-11-02-001");
    assert_string_equal(json_string_value(json_object_get(old, "result")),
                        "rolled back");
    assert_true(json_is_true(json_object_get(old, "rolled_back")));
    assert_true(json_is_integer(json_object_get(old, "duration_ms")));
    assert_true(json_is_null(json_object_get(json_array_get(a, 0), "result")));
    json_decref(a);
    free(out);
    free(err);
    const char *none[] = {"history", "--state-dir", "/nonexistent/drover",
                          NULL};
    assert_int_equal(capture_run(&cmd_history, none, &out, &err), EXIT_OK);
    assert_string_equal(out, "no deploys yet\n");
    free(out);
    free(err);
    /* a file is not "no deploys yet": it is the wrong --state-dir */
    const char *file[] = {"history", "--state-dir", "/etc/passwd", NULL};
    assert_int_equal(capture_run(&cmd_history, file, &out, &err), EXIT_USAGE);
    assert_string_equal(out, "");
    assert_non_null(strstr(err, "/etc/passwd is not a directory"));
    free(out);
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cmd_history),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
