/* tests/unit/coordinator/test_resume.c: where a journaled deploy stands:
 * the first wave not done, hosts already healthy, steps already run; a
 * step in flight is handed to the engine with its journaled id fields and
 * the operator's decision for its host and step (one journaled by an
 * older drover without its index is never re-run blind); a step that
 * failed goes on from its next attempt, with the retries left; the
 * deploy's -e variables come back from a real journal, a secret one must
 * be given again and a journaled one cannot change without
 * --override-var. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "buf.h"
#include "plan.h"
#include "redact.h"
#include "resume.h"
#include "rollout.h"
#include "store.h"
#include "store_sqlite.h"

#include <stdlib.h>
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
    f->steps[0] = (struct store_step_row){.id = 7,
                                          .host = S("h3"),
                                          .phase = S("deploy"),
                                          .name = S("a"),
                                          .step = 0,
                                          .gen = 4,
                                          .ended_ms = 5,
                                          .outcome = S("ok")};
    f->steps[1] = (struct store_step_row){.id = 8,
                                          .host = S("h3"),
                                          .phase = S("deploy"),
                                          .name = S("b"),
                                          .step = 1,
                                          .attempt = 2,
                                          .gen = 4};
    f->rec.state = S("running");
    f->rec.waves = f->waves;
    f->rec.nwaves = 2;
    f->rec.hosts = f->hrows;
    f->rec.nhosts = 3;
    f->rec.steps = f->steps;
    f->rec.nsteps = 2;
}

static void test_resume_point_in_flight(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, false);
    struct resume_point pt;
    struct err e = {0};
    /* not idempotent, over SSH: the host is asked, nothing is decided */
    assert_int_equal(resume_point_of(&f.rec, &f.ro, NULL, 0, &pt, &e), ERR_OK);
    assert_int_equal(pt.start_wave, 1);
    assert_true(pt.done_hosts[0] && pt.done_hosts[1]);
    assert_false(pt.done_hosts[2]);
    assert_true(pt.changed_hosts[2]);
    assert_int_equal(pt.step_done[2 * 2 + 0], 1);
    assert_int_equal(pt.step_done[2 * 2 + 1], 0);
    assert_int_equal(pt.last_wave, 1);
    assert_int_equal(pt.ninflight, 1);
    assert_string_equal(pt.inflight[0].host, "h3");
    assert_int_equal(pt.inflight[0].phase, STEPID_DEPLOY);
    assert_int_equal(pt.inflight[0].step, 1);
    assert_int_equal(pt.inflight[0].attempt, 2);
    assert_int_equal(pt.inflight[0].gen, 4);
    assert_int_equal(pt.inflight[0].row, 8);
    assert_int_equal(pt.inflight[0].decision, DEPLOY_ASK);
    resume_point_release(&pt);
    /* decisions are per host and step; a bare one applies to the rest */
    struct resume_decision dec[] = {{"h2", "b", DEPLOY_RETRY},
                                    {"h3", "b", DEPLOY_SKIP},
                                    {NULL, NULL, DEPLOY_RETRY}};
    assert_int_equal(resume_point_of(&f.rec, &f.ro, dec, 3, &pt, &e), ERR_OK);
    assert_int_equal(pt.inflight[0].decision, DEPLOY_SKIP);
    resume_point_release(&pt);
    assert_int_equal(resume_point_of(&f.rec, &f.ro, dec + 2, 1, &pt, &e),
                     ERR_OK);
    assert_int_equal(pt.inflight[0].decision, DEPLOY_RETRY);
    resume_point_release(&pt);
    /* an older drover's row (no index): refused, naming host:step */
    f.steps[1].step = -1;
    assert_int_equal(resume_point_of(&f.rec, &f.ro, NULL, 0, &pt, &e),
                     ERR_INVALID);
    assert_non_null(strstr(e.msg, "step 'b' on h3"));
    assert_non_null(strstr(e.msg, "--retry-step h3:b"));
    assert_int_equal(resume_point_of(&f.rec, &f.ro, dec + 1, 1, &pt, &e),
                     ERR_OK);
    resume_point_release(&pt);
    plan_free(f.plan);
}

/* A singleton hand-over restarted h1 (done in wave 1) as pass 1, and the
 * coordinator died during it: pass 1's rows mark nothing done, and its
 * step in flight is one for h1 to wait for before it restarts again, not
 * one that would make h1 deploy again. */
/* h3's step b failed attempt 0 and its retry never started (the
 * coordinator died in the delay): it goes on from attempt 1, with one
 * failure used; a cancelled attempt uses none, a timeout does; a later
 * pass (a hand-over restart) counts for nothing. */
static void test_resume_point_tries(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, false);
    f.steps[1].attempt = 0;
    f.steps[1].ended_ms = 6;
    f.steps[1].outcome = S("failed");
    struct resume_point pt;
    struct err e = {0};
    assert_int_equal(resume_point_of(&f.rec, &f.ro, NULL, 0, &pt, &e), ERR_OK);
    assert_int_equal(pt.ninflight, 0);
    assert_int_equal(pt.step_done[2 * 2 + 1], 0);
    assert_int_equal(pt.step_tries[2 * 2 + 1].next, 1);
    assert_int_equal(pt.step_tries[2 * 2 + 1].spent, 1);
    assert_int_equal(pt.step_tries[2 * 2 + 0].next, 0); /* a: ran ok */
    resume_point_release(&pt);
    f.steps[2] = f.steps[1];
    f.steps[2].id = 9;
    f.steps[2].attempt = 1;
    f.steps[2].outcome = S("cancelled");
    f.rec.nsteps = 3;
    assert_int_equal(resume_point_of(&f.rec, &f.ro, NULL, 0, &pt, &e), ERR_OK);
    assert_int_equal(pt.step_tries[2 * 2 + 1].next, 2);
    assert_int_equal(pt.step_tries[2 * 2 + 1].spent, 1);
    resume_point_release(&pt);
    f.steps[2].outcome = S("timeout");
    assert_int_equal(resume_point_of(&f.rec, &f.ro, NULL, 0, &pt, &e), ERR_OK);
    assert_int_equal(pt.step_tries[2 * 2 + 1].next, 2);
    assert_int_equal(pt.step_tries[2 * 2 + 1].spent, 2);
    resume_point_release(&pt);
    f.steps[2].pass = 1;
    f.steps[2].attempt = 5;
    assert_int_equal(resume_point_of(&f.rec, &f.ro, NULL, 0, &pt, &e), ERR_OK);
    assert_int_equal(pt.step_tries[2 * 2 + 1].next, 1);
    assert_int_equal(pt.step_tries[2 * 2 + 1].spent, 1);
    resume_point_release(&pt);
    plan_free(f.plan);
}

static void test_resume_point_handover_restart(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, false);
    f.steps[0] = (struct store_step_row){.id = 9,
                                         .host = S("h1"),
                                         .phase = S("deploy"),
                                         .name = S("a"),
                                         .step = 0,
                                         .pass = 1,
                                         .gen = 4,
                                         .ended_ms = 5,
                                         .outcome = S("ok")};
    f.steps[1] = (struct store_step_row){.id = 10,
                                         .host = S("h1"),
                                         .phase = S("deploy"),
                                         .name = S("b"),
                                         .job_id = S("DEP:h1:deploy:1:1:0:4"),
                                         .step = 1,
                                         .pass = 1,
                                         .gen = 4};
    struct resume_point pt;
    struct err e = {0};
    assert_int_equal(resume_point_of(&f.rec, &f.ro, NULL, 0, &pt, &e), ERR_OK);
    assert_true(pt.done_hosts[0]);
    assert_int_equal(pt.step_done[0 * 2 + 0], 0);
    assert_int_equal(pt.step_done[0 * 2 + 1], 0);
    assert_int_equal(pt.ninflight, 0);
    assert_int_equal(pt.norphans, 1);
    assert_string_equal(pt.orphans[0].host, "h1");
    assert_string_equal(pt.orphans[0].job_id, "DEP:h1:deploy:1:1:0:4");
    resume_point_release(&pt);
    plan_free(f.plan);
}

static void test_resume_point_rollback_in_flight(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, true);
    struct resume_point pt;
    struct err e = {0};
    /* a deploy step in flight is asked for, idempotent or not */
    assert_int_equal(resume_point_of(&f.rec, &f.ro, NULL, 0, &pt, &e), ERR_OK);
    assert_int_equal(pt.ninflight, 1);
    resume_point_release(&pt);
    /* a rollback in flight: only when the rollback is continued */
    f.steps[1].phase = S("rollback");
    f.steps[1].step = 0;
    f.steps[0].phase = S("rollback");
    f.plan->nrollback_steps = 1;
    f.plan->rollback_steps = f.plan->steps;
    assert_int_equal(resume_point_of(&f.rec, &f.ro, NULL, 0, &pt, &e), ERR_OK);
    assert_int_equal(pt.ninflight, 0);
    resume_point_release(&pt);
    f.rec.state = S("rolling back");
    assert_int_equal(resume_point_of(&f.rec, &f.ro, NULL, 0, &pt, &e), ERR_OK);
    assert_true(pt.rolling_back);
    assert_int_equal(pt.ninflight, 1);
    assert_int_equal(pt.inflight[0].phase, STEPID_ROLLBACK);
    assert_int_equal(pt.rollback_done[2], 1);
    resume_point_release(&pt);
    f.plan->nrollback_steps = 0;
    f.plan->rollback_steps = NULL;
    plan_free(f.plan);
}

/* A host is changed once a deploy step was sent to it, not by the state
 * a precheck left journaled; a deploy that died in its prechecks changed
 * nothing (its prechecks are asked again). */
static void test_resume_point_changed(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, false);
    struct resume_point pt;
    struct err e = {0};
    /* h2 journaled connecting (a precheck asked it), no step row: not
     * changed; h3 has deploy rows: changed */
    f.hrows[1].state = S("connecting");
    assert_int_equal(resume_point_of(&f.rec, &f.ro, NULL, 0, &pt, &e), ERR_OK);
    assert_false(pt.changed_hosts[1]);
    assert_true(pt.changed_hosts[2]);
    assert_false(pt.nothing_changed);
    resume_point_release(&pt);
    /* died in the prechecks: waves pending, only precheck rows (one in
     * flight), hosts journaled connecting */
    f.waves[0].state = S("pending");
    f.waves[1].state = S("pending");
    for (size_t i = 0; i < 3; i++)
        f.hrows[i].state = S("connecting");
    f.steps[0].phase = S("precheck");
    f.steps[1].phase = S("precheck");
    f.plan->nprechecks = 2;
    f.plan->prechecks = f.plan->steps;
    assert_int_equal(resume_point_of(&f.rec, &f.ro, NULL, 0, &pt, &e), ERR_OK);
    assert_true(pt.nothing_changed);
    for (size_t i = 0; i < 3; i++)
        assert_false(pt.changed_hosts[i]);
    resume_point_release(&pt);
    /* a `before` step began: something may have changed */
    f.steps[0].phase = S("before");
    f.plan->nbefore = 2;
    f.plan->before = f.plan->steps;
    assert_int_equal(resume_point_of(&f.rec, &f.ro, NULL, 0, &pt, &e), ERR_OK);
    assert_false(pt.nothing_changed);
    resume_point_release(&pt);
    f.plan->nprechecks = 0;
    f.plan->prechecks = NULL;
    f.plan->nbefore = 0;
    f.plan->before = NULL;
    plan_free(f.plan);
}

/* The record of a deploy begun with vars (JSON text), read back from a
 * SQLite journal in a directory of its own. */
/* A deploy begun with vars_json; keyed: in a state directory, whose
 * vars.key hashes its secret values (else a bare journal, as an older
 * drover wrote: no hashes). */
static struct store_record *journaled_in(const char *vars_json, bool keyed)
{
    char tmpl[] = "/tmp/drover-resume-XX"
                  "XX"
                  "XX";
    assert_non_null(mkdtemp(tmpl));
    char *path = xasprintf("%s/%s", tmpl, STORE_SQLITE_FILE);
    struct store *s = NULL;
    struct err e = {0};
    if (keyed)
        assert_int_equal(store_open_state(tmpl, false, &s, NULL, &e), ERR_OK);
    else
        assert_int_equal(store_sqlite_open(path, false, &s, &e), ERR_OK);
    json_error_t je;
    json_t *vars = vars_json ? json_loads(vars_json, 0, &je) : NULL;
    struct store_deploy_info in = {.plan = "t", .version = "2", .vars = vars};
    char id[STORE_ID_MAX];
    assert_int_equal(store_deploy_begin(s, &in, id, &e), ERR_OK);
    json_decref(vars);
    struct store_record *r = NULL;
    assert_int_equal(store_get_record(s, id, &r, &e), ERR_OK);
    store_free(s);
    char *rm = xasprintf("rm -rf '%s'", tmpl);
    assert_int_equal(system(rm), 0);
    free(rm);
    free(path);
    return r;
}

static struct store_record *journaled(const char *vars_json)
{
    return journaled_in(vars_json, false);
}

static json_t *given(const char *json_text)
{
    json_error_t je;
    json_t *o = json_loads(json_text, 0, &je);
    assert_non_null(o);
    return o;
}

static void test_resume_vars_secret_needed(void **state)
{
    (void)state;
    struct store_record *r =
        journaled("{\"color\": \"blue\", \"api_token\": \"tok-12345\","
                  " \"db_password\": \"pw-12345\", \"version\": \"2\"}");
    struct redact *rd = redact_new();
    struct err e = {0};
    json_t *extra = given("{}");
    assert_int_equal(resume_vars(r, extra, NULL, 0, rd, NULL, &e), ERR_USAGE);
    char *want = xasprintf("%s needs -e api_token=... -e db_password=... "
                           "again: secret variables are not journaled",
                           r->id);
    assert_string_equal(e.msg, want);
    free(want);
    assert_int_equal(json_object_size(extra), 0); /* nothing changed */
    json_decref(extra);
    /* given again: the journaled values are the base */
    extra = given("{\"api_token\": \"tok-12345\", \"db_password\": \"x\","
                  " \"version\": \"3\"}");
    struct err e2 = {0};
    assert_int_equal(resume_vars(r, extra, NULL, 0, rd, NULL, &e2), ERR_OK);
    assert_string_equal(json_string_value(json_object_get(extra, "color")),
                        "blue");
    assert_string_equal(json_string_value(json_object_get(extra, "version")),
                        "3"); /* version: the caller's business */
    json_decref(extra);
    redact_free(rd);
    store_record_free(r);
}

/* A secret is compared by its keyed hash: the same value passes, another
 * is refused naming the variable and no value, --override-var lets it
 * through with a note that holds no value; a secret-looking variable the
 * deploy lacked is registered before its "added" note. */
static void test_resume_vars_secret_hash(void **state)
{
    (void)state;
    struct store_record *r =
        journaled_in("{\"db_password\": \"pw-hash-111\"}", true);
    assert_true(r->vars_keyed);
    assert_non_null(r->vars[0].hash);
    struct redact *rd = redact_new();
    struct err e = {0};
    json_t *extra = given("{\"db_password\": \"pw-hash-111\"}");
    assert_int_equal(resume_vars(r, extra, NULL, 0, rd, NULL, &e), ERR_OK);
    json_decref(extra);
    extra = given("{\"db_password\": \"pw-other-222\"}");
    assert_int_equal(resume_vars(r, extra, NULL, 0, rd, NULL, &e), ERR_USAGE);
    assert_non_null(strstr(e.msg, "-e db_password is not the secret value"));
    assert_null(strstr(e.msg, "pw-"));
    struct buf changed;
    buf_init(&changed, BUF_UNLIMITED);
    const char *ov[] = {"db_password", "api_token"};
    json_object_set_new(extra, "api_token", json_string("tok-new-333"));
    err_clear(&e);
    assert_int_equal(resume_vars(r, extra, ov, 2, rd, &changed, &e), ERR_OK);
    char *note = redact_str(rd, buf_cstr(&changed));
    assert_non_null(
        strstr(note, "--override-var db_password: secret value changed"));
    assert_non_null(
        strstr(note, "--override-var api_token: added (" REDACT_MARK ")"));
    assert_null(strstr(note, "pw-"));
    free(note);
    buf_release(&changed);
    json_decref(extra);
    redact_free(rd);
    store_record_free(r);
}

static void test_resume_vars_secret_by_value(void **state)
{
    (void)state;
    /* a value registered as secret hides a harmless-looking name */
    redact_add(redact_global(), "reg-secret-555");
    struct store_record *r = journaled("{\"upstream\": \"reg-secret-555\"}");
    assert_int_equal(r->nvars, 1);
    assert_true(r->vars[0].secret);
    struct redact *rd = redact_new();
    struct err e = {0};
    json_t *extra = given("{}");
    assert_int_equal(resume_vars(r, extra, NULL, 0, rd, NULL, &e), ERR_USAGE);
    assert_non_null(strstr(e.msg, "-e upstream=... again"));
    json_object_set_new(extra, "upstream", json_string("new-secret-777"));
    assert_int_equal(resume_vars(r, extra, NULL, 0, rd, NULL, &e), ERR_OK);
    char *out = redact_str(rd, "x new-secret-777 y");
    assert_string_equal(out, "x " REDACT_MARK " y"); /* registered */
    free(out);
    json_decref(extra);
    redact_free(rd);
    store_record_free(r);
}

static void test_resume_vars_no_change(void **state)
{
    (void)state;
    struct store_record *r =
        journaled("{\"color\": \"blue\", \"replicas\": 3}");
    struct redact *rd = redact_new();
    struct err e = {0};
    /* the same value again is fine; numbers compare as JSON */
    json_t *extra = given("{\"color\": \"blue\", \"replicas\": 3}");
    assert_int_equal(resume_vars(r, extra, NULL, 0, rd, NULL, &e), ERR_OK);
    json_decref(extra);
    extra = given("{\"color\": \"red\"}");
    assert_int_equal(resume_vars(r, extra, NULL, 0, rd, NULL, &e), ERR_USAGE);
    char *want = xasprintf("-e color=red differs from color=blue journaled "
                           "for %s: changing a variable mid-deploy splits "
                           "the fleet; pass --override-var color to change "
                           "it anyway",
                           r->id);
    assert_string_equal(e.msg, want);
    free(want);
    /* the escape hatch, and its note for the journal */
    const char *ov[] = {"color"};
    struct buf changed;
    buf_init(&changed, BUF_UNLIMITED);
    struct err e2 = {0};
    assert_int_equal(resume_vars(r, extra, ov, 1, rd, &changed, &e2), ERR_OK);
    assert_string_equal(buf_cstr(&changed),
                        "--override-var color: blue -> red");
    assert_string_equal(json_string_value(json_object_get(extra, "color")),
                        "red");
    assert_int_equal(json_integer_value(json_object_get(extra, "replicas")), 3);
    buf_release(&changed);
    json_decref(extra);
    /* a variable the deploy did not have */
    extra = given("{\"flavor\": \"x\"}");
    struct err e3 = {0};
    assert_int_equal(resume_vars(r, extra, NULL, 0, rd, NULL, &e3), ERR_USAGE);
    assert_non_null(strstr(e3.msg, "-e flavor was not given to"));
    assert_non_null(strstr(e3.msg, "--override-var flavor"));
    json_decref(extra);
    /* previous_version: how a rollback names its target */
    extra = given("{\"previous_version\": \"1\"}");
    assert_int_equal(resume_vars(r, extra, NULL, 0, rd, NULL, &e3), ERR_OK);
    json_decref(extra);
    /* --override-var without -e */
    extra = given("{}");
    struct err e4 = {0};
    assert_int_equal(resume_vars(r, extra, ov, 1, rd, NULL, &e4), ERR_USAGE);
    assert_string_equal(e4.msg,
                        "--override-var color: no -e color=VALUE was given");
    json_decref(extra);
    redact_free(rd);
    store_record_free(r);
}

static void test_resume_vars_not_journaled(void **state)
{
    (void)state;
    /* begun by a drover that kept no variables: -e as given */
    struct store_record *r = journaled(NULL);
    assert_false(r->vars_journaled);
    struct redact *rd = redact_new();
    struct err e = {0};
    json_t *extra = given("{\"color\": \"red\"}");
    assert_int_equal(resume_vars(r, extra, NULL, 0, rd, NULL, &e), ERR_OK);
    assert_int_equal(json_object_size(extra), 1);
    json_decref(extra);
    redact_free(rd);
    store_record_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resume_point_in_flight),
        cmocka_unit_test(test_resume_point_tries),
        cmocka_unit_test(test_resume_point_handover_restart),
        cmocka_unit_test(test_resume_point_rollback_in_flight),
        cmocka_unit_test(test_resume_point_changed),
        cmocka_unit_test(test_resume_vars_secret_needed),
        cmocka_unit_test(test_resume_vars_secret_hash),
        cmocka_unit_test(test_resume_vars_secret_by_value),
        cmocka_unit_test(test_resume_vars_no_change),
        cmocka_unit_test(test_resume_vars_not_journaled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
