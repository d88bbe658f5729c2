/* tests/unit/coordinator/test_cmd_status.c: `drover status` names the
 * holder of each lock, the free locks with their last epoch, and the
 * unfinished deploys, telling a live one from one whose coordinator is
 * gone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cmd_capture.h"
#include "record_fixture.h"

#include "lock.h"
#include "store_sqlite.h"

#include <jansson.h>

static char *dir;

static int setup(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/drover-cmdstatus-XX"
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

static void test_cmd_status_empty(void **state)
{
    (void)state;
    char *out, *err;
    const char *argv[] = {"status", "--state-dir", dir, NULL};
    assert_int_equal(capture_run(&cmd_status, argv, &out, &err), EXIT_OK);
    assert_non_null(strstr(out, "locks: none taken yet"));
    assert_non_null(strstr(out, "deploys: none"));
    free(out);
    free(err);
    const char *bad[] = {"status", "extra", NULL};
    assert_int_equal(capture_run(&cmd_status, bad, &out, &err), EXIT_USAGE);
    free(out);
    free(err);
}

static void test_cmd_status_live_and_gone(void **state)
{
    (void)state;
    struct err e = {0};
    struct store *s = NULL;
    assert_int_equal(store_open_state(dir, false, &s, NULL, &e), ERR_OK);
    /* a finished deploy is not listed */
    char done[STORE_ID_MAX], live[STORE_ID_MAX], gone[STORE_ID_MAX];
    fixture_rolled_back(s, done);
    struct lock *lk = NULL;
    assert_int_equal(lock_acquire(dir, "sms", NULL, 0, &lk, NULL, &e), ERR_OK);
    struct store_deploy_info in = {.plan = "sms",
                                   .lock = "sms",
                                   .epoch = lock_epoch(lk),
                                   .version = "3",
                                   .user = "ops"};
    assert_int_equal(store_deploy_begin(s, &in, live, &e), ERR_OK);
    assert_int_equal(lock_set_deploy(lk, live, &e), ERR_OK);
    /* one left behind by a coordinator that died, another paused */
    struct store_deploy_info old = {.plan = "web", .version = "8"};
    assert_int_equal(store_deploy_begin(s, &old, gone, &e), ERR_OK);
    char paused[STORE_ID_MAX];
    assert_int_equal(store_deploy_begin(s, &old, paused, &e), ERR_OK);
    assert_int_equal(store_deploy_state(s, paused, "paused", &e), ERR_OK);
    store_free(s);
    /* a lock taken and released */
    struct lock *w = NULL;
    assert_int_equal(lock_acquire(dir, "web", NULL, 0, &w, NULL, &e), ERR_OK);
    lock_release(w);

    char *out, *err;
    const char *argv[] = {"status", "--state-dir", dir, NULL};
    assert_int_equal(capture_run(&cmd_status, argv, &out, &err), EXIT_OK);
    char want[256];
    snprintf(want, sizeof(want), "lock sms: held by ");
    assert_non_null(strstr(out, want));
    snprintf(want, sizeof(want), "pid %ld, deploy %s", (long)getpid(), live);
    assert_non_null(strstr(out, want));
    assert_non_null(strstr(out, "lock web: free (last epoch 2)"));
    assert_null(strstr(out, done));
    /* the live deploy has no resume hint; the dead one does */
    const char *l = strstr(out, live);
    l = strstr(l + 1, live); /* its deploy line (the first is the lock) */
    assert_non_null(l);
    const char *eol = strchr(l, '\n');
    assert_null(memmem(l, (size_t)(eol - l), "resume", 6));
    const char *g = strstr(out, gone);
    assert_non_null(g);
    assert_non_null(strstr(g, "its coordinator is gone: `drover resume`"));
    const char *p = strstr(out, paused);
    assert_non_null(p);
    assert_non_null(strstr(p, "paused since"));
    assert_non_null(strstr(p, "continue it with `drover resume`"));
    free(out);
    free(err);
    const char *js[] = {"status", "--state-dir", dir, "--json", NULL};
    assert_int_equal(capture_run(&cmd_status, js, &out, &err), EXIT_OK);
    json_error_t je;
    json_t *o = json_loads(out, 0, &je);
    if (o == NULL)
        fail_msg("bad JSON: %s", out);
    json_t *locks = json_object_get(o, "locks");
    assert_int_equal(json_array_size(locks), 2);
    json_t *sms = json_array_get(locks, 0);
    assert_string_equal(json_string_value(json_object_get(sms, "name")), "sms");
    assert_true(json_is_true(json_object_get(sms, "held")));
    json_t *h = json_object_get(sms, "holder");
    assert_int_equal(json_integer_value(json_object_get(h, "pid")), getpid());
    assert_string_equal(json_string_value(json_object_get(h, "deploy")), live);
    json_t *web = json_array_get(locks, 1);
    assert_true(json_is_false(json_object_get(web, "held")));
    assert_true(json_is_null(json_object_get(web, "holder")));
    assert_int_equal(json_integer_value(json_object_get(web, "last_epoch")), 2);
    json_t *deps = json_object_get(o, "deploys");
    assert_int_equal(json_array_size(deps), 3);
    size_t nlive = 0;
    for (size_t i = 0; i < 3; i++)
        nlive += json_is_true(json_object_get(json_array_get(deps, i), "live"));
    assert_int_equal(nlive, 1);
    json_decref(o);
    free(out);
    free(err);
    lock_release(lk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cmd_status_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cmd_status_live_and_gone, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
