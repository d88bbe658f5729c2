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
#include "store_sqlite.h"

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

/* The result the journal of dir has for deploy id. */
static enum store_result session_result_of(const char *dir, const char *id)
{
    struct store *st = NULL;
    struct err e = {0};
    assert_int_equal(store_open_state(dir, true, &st, NULL, &e), ERR_OK);
    struct store_record *r = NULL;
    assert_int_equal(store_get_record(st, id, &r, &e), ERR_OK);
    enum store_result res = r->result;
    store_record_free(r);
    store_free(st);
    return res;
}

/* A deploy left unfinished (its coordinator gone: session_free, no end)
 * is superseded by the next deploy of the same plan and lock, and ends
 * "abandoned"; another plan's unfinished deploy is left alone. */
static void test_session_supersedes(void **state)
{
    struct fx *f = *state;
    struct session_options o = {.state_dir = f->dir, .version = "1"};
    struct session *s = NULL;
    enum session_refusal why;
    struct err e = {0};
    assert_int_equal(session_begin(f->plan, NULL, &o, f->loop, &s, &why, &e),
                     ERR_OK);
    char old[STORE_ID_MAX];
    snprintf(old, sizeof(old), "%s", session_deploy_id(s));
    assert_string_equal(session_superseded(s), "");
    session_free(s);

    struct plan *other = NULL;
    const char *yaml = "name: other\nsteps:\n  - run: \"true\"\n";
    assert_int_equal(
        plan_load_buffer("o.yml", yaml, strlen(yaml), &other, NULL, &e),
        ERR_OK);
    assert_int_equal(session_begin(other, NULL, &o, f->loop, &s, &why, &e),
                     ERR_OK);
    char kept[STORE_ID_MAX];
    snprintf(kept, sizeof(kept), "%s", session_deploy_id(s));
    session_free(s);

    assert_int_equal(session_begin(f->plan, NULL, &o, f->loop, &s, &why, &e),
                     ERR_OK);
    assert_non_null(strstr(session_superseded(s), old));
    assert_null(strstr(session_superseded(s), kept));
    session_free(s);
    assert_int_equal(session_result_of(f->dir, old), STORE_RESULT_ABANDONED);
    assert_int_equal(session_result_of(f->dir, kept), STORE_RESULT_NONE);
    plan_free(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_session_record_and_previous_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_supersedes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_session_require_refuses, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
