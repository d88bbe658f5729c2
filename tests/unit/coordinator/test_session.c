/* tests/unit/coordinator/test_session.c: what surrounds a deploy, over a
 * real state directory: require refuses, the lock admits one coordinator,
 * the record is begun and ended, previous_version comes from the journal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "loop.h"
#include "plan.h"
#include "session.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct fx {
    char dir[64];
    struct loop *loop;
    struct plan *plan;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir),
             "/tmp/drover-session-XX"
             "XX"
             "XX");
    assert_non_null(mkdtemp(f->dir));
    struct err e = {0};
    f->loop = loop_new(&e);
    const char *yaml = "name: shop\nsteps:\n  - run: \"true\"\n";
    assert_int_equal(
        plan_load_buffer("shop.yml", yaml, strlen(yaml), &f->plan, NULL, &e),
        ERR_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    plan_free(f->plan);
    loop_free(f->loop);
    free(f);
    return 0;
}

static void test_session_record_and_previous_version(void **state)
{
    struct fx *f = *state;
    struct session_options o = {.state_dir = f->dir, .version = "7"};
    struct session *s = NULL;
    enum session_refusal why;
    struct err e = {0};
    assert_null(session_previous_version(f->dir, "shop"));
    assert_int_equal(session_begin(f->plan, NULL, &o, f->loop, &s, &why, &e),
                     ERR_OK);
    assert_int_equal(why, SESSION_OK);
    assert_int_equal(strncmp(session_deploy_id(s), "DEP-", 4), 0);
    uint64_t epoch = session_epoch(s);
    assert_true(epoch > 0);

    /* a second coordinator is refused while the first holds the lock */
    struct session *s2 = NULL;
    struct err e2 = {0};
    assert_int_not_equal(
        session_begin(f->plan, NULL, &o, f->loop, &s2, &why, &e2), ERR_OK);
    assert_int_equal(why, SESSION_LOCKED);
    assert_null(s2);

    struct deploy_result res;
    memset(&res, 0, sizeof(res));
    res.verdict = DV_SUCCESS;
    session_end(s, &res);
    char *prev = session_previous_version(f->dir, "shop");
    assert_non_null(prev);
    assert_string_equal(prev, "7");
    free(prev);

    /* the lock is free again, with the next epoch */
    struct err e3 = {0};
    assert_int_equal(session_begin(f->plan, "7", &o, f->loop, &s, &why, &e3),
                     ERR_OK);
    assert_true(session_epoch(s) > epoch);
    session_free(s);
}

static void test_session_require_refuses(void **state)
{
    struct fx *f = *state;
    f->plan->require_ticket = true;
    struct session_options o = {.state_dir = f->dir};
    struct session *s = NULL;
    enum session_refusal why;
    struct err e = {0};
    assert_int_not_equal(
        session_begin(f->plan, NULL, &o, f->loop, &s, &why, &e), ERR_OK);
    assert_int_equal(why, SESSION_REFUSED);
    assert_non_null(strstr(e.msg, "ticket"));
    o.ticket = "CHG-42";
    struct err e2 = {0};
    assert_int_equal(session_begin(f->plan, NULL, &o, f->loop, &s, &why, &e2),
                     ERR_OK);
    session_free(s);
    f->plan->require_ticket = false;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_session_record_and_previous_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_require_refuses, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
