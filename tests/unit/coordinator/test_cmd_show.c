/* tests/unit/coordinator/test_cmd_show.c: `drover show` over a journal
 * holding a rolled-back deploy and a running one: formats, `last`,
 * unknown ids, a state directory without a journal, bad flags; a deploy's
 * -e variables, a secret one as [redacted]. */
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
    char tmpl[] = "/tmp/drover-cmdshow-XX"
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

static void test_cmd_show_formats(void **state)
{
    (void)state;
    char *out, *err;
    const char *md[] = {"show",     "--state-dir",        dir, "--format",
                        "markdown", "DEP-2026-11-02-001", NULL};
    assert_int_equal(capture_run(&cmd_show, md, &out, &err), EXIT_OK);
    assert_non_null(strstr(out, "**Deployment ID:** DEP-2026-11-02-001"));
    assert_non_null(strstr(out, "**Rollback Executed:** YES, completed"));
    free(out);
    free(err);
    const char *js[] = {"show",          "--state-dir",        dir,
                        "--format=json", "DEP-2026-11-02-001", NULL};
    assert_int_equal(capture_run(&cmd_show, js, &out, &err), EXIT_OK);
    json_error_t je;
    json_t *o = json_loads(out, 0, &je);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "result")),
                        "rolled back");
    json_decref(o);
    free(out);
    free(err);
    /* `last` is the newest: the running one */
    const char *last[] = {"show", "--state-dir", dir, "last", NULL};
    assert_int_equal(capture_run(&cmd_show, last, &out, &err), EXIT_OK);
    assert_non_null(strstr(out, "Deployment ID          DEP-2026-11-02-002"));
    assert_non_null(strstr(out, "(not ended: running)"));
    free(out);
    free(err);
}

static void test_cmd_show_errors(void **state)
{
    (void)state;
    char *out, *err;
    const char *nope[] = {"show", "--state-dir", dir, "DEP-1999-01-01-001",
                          NULL};
    /* a DEPLOY the journal lacks is a bad argument, as for promote */
    assert_int_equal(capture_run(&cmd_show, nope, &out, &err), EXIT_USAGE);
    assert_non_null(strstr(err, "no deploy DEP-1999-01-01-001"));
    assert_string_equal(out, "");
    free(out);
    free(err);
    const char *fmt[] = {"show", "--state-dir", dir, "--format",
                         "xml",  "x",           NULL};
    assert_int_equal(capture_run(&cmd_show, fmt, &out, &err), EXIT_USAGE);
    assert_non_null(strstr(err, "--format xml: use text, markdown or json"));
    free(out);
    free(err);
    const char *noarg[] = {"show", "--state-dir", dir, NULL};
    assert_int_equal(capture_run(&cmd_show, noarg, &out, &err), EXIT_USAGE);
    free(out);
    free(err);
    const char *empty[] = {"show", "--state-dir", "/nonexistent/drover", "last",
                           NULL};
    assert_int_equal(capture_run(&cmd_show, empty, &out, &err), EXIT_USAGE);
    assert_non_null(strstr(err, "no journal at /nonexistent/drover/"));
    free(out);
    free(err);
}

static void test_cmd_show_vars(void **state)
{
    (void)state;
    struct store *s = NULL;
    struct err e = {0};
    assert_int_equal(store_open_state(dir, false, &s, NULL, &e), ERR_OK);
    json_t *vars = json_pack("{s:s, s:s, s:i}", "color", "blue", "api_token",
                             "CANARY-show-4242", "replicas", 3);
    struct store_deploy_info in = {.plan = "web",
                                   .version = "9",
                                   .vars = vars,
                                   .started_ms = FIXTURE_T0 + 30000};
    char id[STORE_ID_MAX];
    assert_int_equal(store_deploy_begin(s, &in, id, &e), ERR_OK);
    json_decref(vars);
    store_free(s);
    char *out, *err;
    const char *text[] = {"show", "--state-dir", dir, id, NULL};
    assert_int_equal(capture_run(&cmd_show, text, &out, &err), EXIT_OK);
    assert_non_null(strstr(out,
                           "\nVariables              api_token=[redacted], "
                           "color=blue, replicas=3\n"));
    assert_null(strstr(out, "CANARY-show-4242"));
    free(out);
    free(err);
    const char *md[] = {"show", "--state-dir", dir, "--format", "md", id, NULL};
    assert_int_equal(capture_run(&cmd_show, md, &out, &err), EXIT_OK);
    assert_non_null(strstr(out, "**Variables:** api_token=[redacted], "
                                "color=blue, replicas=3  \n"));
    free(out);
    free(err);
    const char *js[] = {"show", "--state-dir", dir, "--format", "json",
                        id,     NULL};
    assert_int_equal(capture_run(&cmd_show, js, &out, &err), EXIT_OK);
    assert_null(strstr(out, "CANARY-show-4242"));
    json_error_t je;
    json_t *o = json_loads(out, 0, &je);
    assert_non_null(o);
    json_t *want = json_loads(
        "[{\"name\": \"api_token\", \"value\": \"[redacted]\", \"secret\": "
        "true},"
        " {\"name\": \"color\", \"value\": \"blue\", \"secret\": false},"
        " {\"name\": \"replicas\", \"value\": 3, \"secret\": false}]",
        0, &je);
    assert_true(json_equal(json_object_get(o, "variables"), want));
    json_decref(want);
    json_decref(o);
    free(out);
    free(err);
    /* a deploy without journaled variables: no line, null */
    const char *old[] = {"show", "--state-dir",        dir, "--format",
                         "json", "DEP-2026-11-02-001", NULL};
    assert_int_equal(capture_run(&cmd_show, old, &out, &err), EXIT_OK);
    o = json_loads(out, 0, &je);
    assert_true(json_is_null(json_object_get(o, "variables")));
    json_decref(o);
    free(out);
    free(err);
    const char *oldtext[] = {"show", "--state-dir", dir, "DEP-2026-11-02-001",
                             NULL};
    assert_int_equal(capture_run(&cmd_show, oldtext, &out, &err), EXIT_OK);
    assert_null(strstr(out, "Variables"));
    free(out);
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cmd_show_formats),
        cmocka_unit_test(test_cmd_show_errors),
        cmocka_unit_test(test_cmd_show_vars),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
