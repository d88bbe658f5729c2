/* tests/unit/coordinator/test_resume.c: where a journaled deploy stands:
 * the first wave not done, hosts already healthy, steps already run, and
 * an SSH step that was in flight is never re-run blind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "plan.h"
#include "resume.h"
#include "rollout.h"
#include "store.h"

#include <string.h>

/* The journal rows are mutable char *: literals for the fixture. */
#define S(x) ((char *)(x))

struct fx {
    struct plan *plan;
    struct rollout ro;
    struct rollout_host hosts[3];
    size_t sizes[2];
    struct store_record rec;
    struct store_wave_row waves[2];
    struct store_host_row hrows[3];
    struct store_step_row steps[3];
};

static void fx_init(struct fx *f, bool idempotent)
{
    memset(f, 0, sizeof(*f));
    struct err e = {0};
    const char *yaml = "name: t\nsteps:\n  - name: a\n    run: x\n"
                       "  - name: b\n    run: y\n";
    assert_int_equal(
        plan_load_buffer("t.yml", yaml, strlen(yaml), &f->plan, NULL, &e),
        ERR_OK);
    f->plan->steps[1].idempotent = idempotent;
    static const char *const names[] = {"h1", "h2", "h3"};
    f->sizes[0] = 1;
    f->sizes[1] = 2;
    f->ro.plan = f->plan;
    f->ro.hosts = f->hosts;
    f->ro.nhosts = 3;
    f->ro.wave_sizes = f->sizes;
    f->ro.nwaves = 2;
    for (size_t i = 0; i < 3; i++) {
        f->hosts[i].name = names[i];
        f->hosts[i].wave = i == 0 ? 0 : 1;
    }
    f->waves[0] = (struct store_wave_row){.idx = 0, .state = S("done")};
    f->waves[1] = (struct store_wave_row){.idx = 1, .state = S("running")};
    f->hrows[0] = (struct store_host_row){
        .host = S("h1"), .wave = 0, .state = S("healthy")};
    f->hrows[1] = (struct store_host_row){
        .host = S("h2"), .wave = 1, .state = S("healthy")};
    f->hrows[2] = (struct store_host_row){
        .host = S("h3"), .wave = 1, .state = S("running")};
    /* h3: step a ran ok, step b was in flight when the coordinator died */
    f->steps[0] = (struct store_step_row){.host = S("h3"),
                                          .phase = S("deploy"),
                                          .job_id = S("DEP-1/h3/deploy/0/0"),
                                          .ended_ms = 5,
                                          .outcome = S("ok")};
    f->steps[1] = (struct store_step_row){.host = S("h3"),
                                          .phase = S("deploy"),
                                          .job_id = S("DEP-1/h3/deploy/1/0")};
    f->rec.state = S("running");
    f->rec.waves = f->waves;
    f->rec.nwaves = 2;
    f->rec.hosts = f->hrows;
    f->rec.nhosts = 3;
    f->rec.steps = f->steps;
    f->rec.nsteps = 2;
}

static void test_resume_point_ssh_in_flight_refused(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, false);
    struct resume_point pt;
    struct err e = {0};
    assert_int_equal(resume_point_of(&f.rec, &f.ro, false, false, &pt, &e),
                     ERR_INVALID);
    assert_non_null(strstr(e.msg, "step 'b' on h3"));
    assert_non_null(strstr(e.msg, "--retry-step"));
    /* --skip-step: counted as done */
    struct err e2 = {0};
    assert_int_equal(resume_point_of(&f.rec, &f.ro, false, true, &pt, &e2),
                     ERR_OK);
    assert_int_equal(pt.start_wave, 1);
    assert_true(pt.done_hosts[0] && pt.done_hosts[1]);
    assert_false(pt.done_hosts[2]);
    assert_true(pt.changed_hosts[2]);
    assert_int_equal(pt.step_done[2 * 2 + 0], 1);
    assert_int_equal(pt.step_done[2 * 2 + 1], 1);
    assert_int_equal(pt.last_wave, 1);
    resume_point_release(&pt);
    plan_free(f.plan);
}

static void test_resume_point_idempotent_and_agents(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, true);
    struct resume_point pt;
    struct err e = {0};
    assert_int_equal(resume_point_of(&f.rec, &f.ro, false, false, &pt, &e),
                     ERR_OK);
    assert_int_equal(pt.step_done[2 * 2 + 0], 1);
    assert_int_equal(pt.step_done[2 * 2 + 1], 0); /* re-run: idempotent */
    resume_point_release(&pt);
    f.plan->steps[1].idempotent = false;
    char agent[] = "agent";
    f.hosts[2].kind = agent;
    struct err e2 = {0};
    assert_int_equal(resume_point_of(&f.rec, &f.ro, false, false, &pt, &e2),
                     ERR_OK);
    assert_int_equal(pt.step_done[2 * 2 + 1], 0); /* asked by job id */
    resume_point_release(&pt);
    f.rec.state = S("rolling back");
    assert_int_equal(resume_point_of(&f.rec, &f.ro, false, false, &pt, &e2),
                     ERR_OK);
    assert_true(pt.rolling_back);
    resume_point_release(&pt);
    plan_free(f.plan);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resume_point_ssh_in_flight_refused),
        cmocka_unit_test(test_resume_point_idempotent_and_agents),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
