/* tests/unit/coordinator/test_record.c: a rolled-back deploy's record in
 * text, Markdown (runbook 002's template) and JSON holds every field; and
 * each rule that derives a judged field from the journal (record.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "record_fixture.h"

#include "buf.h"
#include "record.h"
#include "store_sqlite.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

static char *dir;
static struct store_record *rec;

static int setup(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/drover-record-XX"
                  "XX"
                  "XX";
    assert_non_null(mkdtemp(tmpl));
    dir = xstrdup(tmpl);
    char *db = xasprintf("%s/journal.db", dir);
    struct store *s = NULL;
    struct err e = {0};
    assert_int_equal(store_sqlite_open(db, false, &s, &e), ERR_OK);
    char id[STORE_ID_MAX];
    fixture_rolled_back(s, id);
    assert_int_equal(store_get_record(s, id, &rec, &e), ERR_OK);
    store_free(s);
    free(db);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    store_record_free(rec);
    char *cmd = xasprintf("rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    free(dir);
    return 0;
}

static char *render(enum record_format f)
{
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    record_render(rec, f, &b);
    return buf_detach(&b);
}

static void has(const char *text, const char *want)
{
    if (strstr(text, want) == NULL)
        fail_msg("missing \"%s\" in:\n%s", want, text);
}

static void test_record_formats(void **state)
{
    (void)state;
    enum record_format f;
    struct err e = {0};
    assert_int_equal(record_format_parse("md", &f, &e), ERR_OK);
    assert_int_equal(f, RECORD_MARKDOWN);
    assert_int_equal(record_format_parse("json", &f, &e), ERR_OK);
    assert_int_equal(f, RECORD_JSON);
    assert_int_equal(record_format_parse("text", &f, &e), ERR_OK);
    assert_int_equal(f, RECORD_TEXT);
    assert_int_equal(record_format_parse("yaml", &f, &e), ERR_USAGE);
    assert_non_null(strstr(e.msg, "text, markdown or json"));
    char t[32];
    assert_string_equal(record_time(FIXTURE_T0, t, sizeof(t)),
                        "2026-11-02 10:00:00Z");
    assert_string_equal(record_time(0, t, sizeof(t)), "-");
    assert_string_equal(record_duration(340, t, sizeof(t)), "340ms");
    assert_string_equal(record_duration(125000, t, sizeof(t)), "2m05s");
    assert_string_equal(record_duration(11220000, t, sizeof(t)), "3h07m");
}

static void test_record_markdown_template(void **state)
{
    (void)state;
    char *md = render(RECORD_MARKDOWN);
    has(md, "**Deployment ID:** DEP-2026-11-02-001  \n");
    has(md, "**Deployed By:** ops on build1");
    has(md, "**Deployment Date/Time:** 2026-11-02 10:00:00Z - ");
    has(md, "**Git Commit/Tag:** 0a1b2c3d4e5f (tag v2.1.0)");
    has(md, "**Version:** 2.1.0 (previous: 2.0.3)");
    has(md, "**Ticket:** CHG-1234");
    has(md, "**Approver:** Jane Doe");
    has(md, "**Lock:** sms, epoch 7");
    has(md, "**Changes Deployed:**\n\n- fix login redirect\n"
            "- faster grade reports\n");
    has(md, "**Validation Results:**");
    has(md, "- [ ] Health checks: FAIL (1 of 3 hosts passed their gate)");
    has(md, "- [x] Prechecks: PASS");
    has(md, "- [ ] Smoke tests (business functions): NOT RUN");
    has(md, "- [x] backup fresh (once): passed: /srv/backups/db.sql.gz");
    has(md, "| Wave | Hosts     | State       |");
    has(md, "| 2    | web2 web3 | rolled back |");
    has(md, "| web2 | 2    | rolled back |");
    has(md, "health gate: status 503 after the 2m deadline");
    has(md, "| web2 | deploy | /health/ready | fail    | 503    |");
    has(md, "**Issues Encountered:**\n\n- 20");
    has(md, "web3: deploy step 'restart' failed (exit 1)");
    has(md, "host web2 failed: health gate: status 503 after the 2m "
            "deadline; now rolled back");
    has(md, "wave 2 stopped: 2 of 2 hosts failed, max_fail is 0");
    has(md, "**Rollback Executed:** YES, completed");
    has(md, "**Sign-off:**");
    free(md);
}

static void test_record_text(void **state)
{
    (void)state;
    char *t = render(RECORD_TEXT);
    has(t, "Deployment record DEP-2026-11-02-001\n");
    has(t, "Deployment ID          DEP-2026-11-02-001\n");
    has(t, "Result                 rolled back\n");
    has(t, "Rollback Executed      YES, completed\n");
    has(t, "  web3  rollback  rollback");
    assert_null(strstr(t, "**"));
    assert_null(strstr(t, "| "));
    free(t);
}

static void test_record_json_fields(void **state)
{
    (void)state;
    char *js = render(RECORD_JSON);
    json_error_t je;
    json_t *o = json_loads(js, 0, &je);
    if (o == NULL)
        fail_msg("bad JSON: %s", je.text);
    free(js);
    const char *keys[] = {"id",
                          "plan",
                          "plan_file",
                          "inventory",
                          "lock",
                          "epoch",
                          "version",
                          "previous_version",
                          "deployed_by",
                          "ticket",
                          "approver",
                          "git_commit",
                          "git_tag",
                          "changes",
                          "started",
                          "ended",
                          "duration_ms",
                          "result",
                          "rolled_back",
                          "validation",
                          "waves",
                          "hosts",
                          "steps",
                          "health_evidence",
                          "precheck_evidence",
                          "decisions",
                          "issues"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (json_object_get(o, keys[i]) == NULL)
            fail_msg("no key %s", keys[i]);
    assert_string_equal(json_string_value(json_object_get(o, "id")),
                        "DEP-2026-11-02-001");
    assert_string_equal(json_string_value(json_object_get(o, "result")),
                        "rolled back");
    assert_true(json_is_true(json_object_get(o, "rolled_back")));
    assert_int_equal(json_integer_value(json_object_get(o, "epoch")), 7);
    assert_string_equal(json_string_value(json_object_get(o, "started")),
                        "2026-11-02T10:00:00.000Z");
    assert_int_equal(json_array_size(json_object_get(o, "changes")), 2);
    json_t *waves = json_object_get(o, "waves");
    assert_int_equal(json_array_size(waves), 2);
    json_t *w2 = json_array_get(waves, 1);
    assert_int_equal(json_array_size(json_object_get(w2, "hosts")), 2);
    json_t *hosts = json_object_get(o, "hosts");
    assert_int_equal(json_array_size(hosts), 3);
    json_t *h = json_array_get(hosts, 0);
    assert_string_equal(json_string_value(json_object_get(h, "host")), "web1");
    assert_true(json_is_integer(json_object_get(h, "duration_ms")));
    json_t *steps = json_object_get(o, "steps");
    assert_int_equal(json_array_size(steps), 6);
    json_t *s3 = json_array_get(steps, 2);
    assert_string_equal(json_string_value(json_object_get(s3, "outcome")),
                        "failed");
    assert_int_equal(json_integer_value(json_object_get(s3, "exit_code")), 1);
    assert_string_equal(json_string_value(json_object_get(s3, "output")),
                        "unit sms not found\n");
    json_t *ev = json_array_get(json_object_get(o, "health_evidence"), 2);
    assert_int_equal(json_integer_value(json_object_get(ev, "status")), 503);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(o, "validation"), "health")),
                        "FAIL");
    assert_int_equal(json_array_size(json_object_get(o, "issues")), 3);
    assert_int_equal(json_array_size(json_object_get(o, "decisions")), 2);
    json_decref(o);
}

/* --- the rules, one per field, on records built in memory ---------------
 */

/* a string of a row (the rows hold char *, as the journal's copies) */
#define S(lit) ((char *)(lit))
#define CHECK(h, ph, v)                                                        \
    {                                                                          \
        .host = (h), .phase = (ph), .name = S("gate"), .verdict = (v)          \
    }
#define PROBE(h, ph, v)                                                        \
    {                                                                          \
        .host = (h), .phase = (ph), .name = S("/ready"), .verdict = (v)        \
    }

static void test_rule_health(void **state)
{
    (void)state;
    struct store_record r = {.state = S("done"),
                             .result = STORE_RESULT_SUCCESS};
    assert_string_equal(record_health(&r), "NOT RUN");
    /* a probe that was not yet ready before the gate passed is no FAIL */
    struct store_check_row ok[] = {PROBE(S("a"), S("deploy"), S("not yet")),
                                   CHECK(S("a"), S("deploy"), S("healthy")),
                                   CHECK(S("b"), S("deploy"), S("healthy"))};
    r.checks = ok;
    r.nchecks = 3;
    assert_string_equal(record_health(&r), "PASS");
    size_t gated;
    assert_int_equal(record_gated_healthy(&r, &gated), 2);
    assert_int_equal(gated, 2);
    r.result = STORE_RESULT_NONE; /* paused after the canary */
    assert_string_equal(record_health(&r), "INCOMPLETE");
    /* only the smoke tests failed: Health still PASS */
    struct store_check_row smoke[] = {
        CHECK(S("a"), S("deploy"), S("healthy")),
        CHECK(S("a"), S("smoke"), S("failed")),
        CHECK(S("a"), S("rollback"), S("healthy"))};
    r.checks = smoke;
    r.result = STORE_RESULT_ROLLED_BACK;
    assert_string_equal(record_health(&r), "PASS");
    assert_string_equal(record_smoke(&r), "FAIL");
    /* a host's last gate counts: failed, then healthy on a restart */
    struct store_check_row again[] = {CHECK(S("a"), S("deploy"), S("failed")),
                                      CHECK(S("a"), S("deploy"), S("healthy")),
                                      CHECK(S("b"), S("deploy"), S("failed"))};
    r.checks = again;
    assert_string_equal(record_health(&r), "FAIL");
    assert_int_equal(record_gated_healthy(&r, &gated), 1);
    assert_int_equal(gated, 2);
}

static void test_rule_smoke_prechecks(void **state)
{
    (void)state;
    struct store_record r = {.state = S("done"),
                             .result = STORE_RESULT_SUCCESS};
    assert_string_equal(record_smoke(&r), "NOT RUN");
    assert_string_equal(record_prechecks(&r), "NOT RUN");
    struct store_check_row smoke[] = {CHECK(S("a"), S("smoke"), S("healthy")),
                                      PROBE(S("b"), S("smoke"), S("fail")),
                                      CHECK(S("b"), S("smoke"), S("healthy"))};
    r.checks = smoke;
    r.nchecks = 3;
    assert_string_equal(record_smoke(&r), "PASS");
    struct store_precheck_row pre[] = {
        {.name = S("disk"), .ok = true},
        {.name = S("backup"),
         .ok = false,
         .evidence = S("exit 3 (ignore_errors)")}};
    r.prechecks = pre;
    r.nprechecks = 1;
    assert_string_equal(record_prechecks(&r), "PASS");
    r.nprechecks = 2;
    assert_string_equal(record_prechecks(&r), "FAIL");
}

static void test_rule_rollback(void **state)
{
    (void)state;
    struct store_record r = {.state = S("done"), .result = STORE_RESULT_FAILED};
    assert_string_equal(record_rollback(&r), "NO");
    r.rolled_back = true;
    r.result = STORE_RESULT_ROLLED_BACK;
    assert_string_equal(record_rollback(&r), "YES, completed");
    r.result = STORE_RESULT_ABORTED; /* an abort that rolled back */
    assert_string_equal(record_rollback(&r), "YES, completed");
    r.result = STORE_RESULT_ROLLBACK_FAILED;
    assert_string_equal(record_rollback(&r),
                        "YES, and it FAILED: hosts need a human");
    r.result = STORE_RESULT_NONE;
    r.state = S("rolling back");
    assert_string_equal(record_rollback(&r), "YES, not finished");
}

static size_t issues_of(const struct store_record *r, char ***texts)
{
    struct store_note_row *v = NULL;
    size_t n = record_issues(r, &v);
    *texts = xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        (*texts)[i] = xstrdup(v[i].text);
    record_issues_free(v, n);
    return n;
}

static void texts_free(char **t)
{
    for (size_t i = 0; t[i] != NULL; i++)
        free(t[i]);
    free(t);
}

static void test_rule_issues(void **state)
{
    (void)state;
    char **t;
    struct store_record r = {.state = S("done"),
                             .result = STORE_RESULT_SUCCESS};
    assert_int_equal(issues_of(&r, &t), 0);
    texts_free(t);
    struct store_step_row steps[] = {
        /* failed once, then passed: one issue that says so */
        {.host = S("a"),
         .phase = S("deploy"),
         .name = S("fetch"),
         .attempt = 0,
         .outcome = S("failed"),
         .exit_code = 1,
         .ended_ms = 10},
        {.host = S("a"),
         .phase = S("deploy"),
         .name = S("fetch"),
         .attempt = 1,
         .outcome = S("ok"),
         .exit_code = 0,
         .ended_ms = 20},
        /* a precheck step: its precheck row says it */
        {.host = S("a"),
         .phase = S("precheck"),
         .name = S("disk"),
         .outcome = S("failed"),
         .exit_code = 3,
         .ended_ms = 5},
        /* skipped by the operator, with the reason as output */
        {.host = S("b"),
         .phase = S("deploy"),
         .name = S("switch"),
         .exit_code = -1,
         .outcome = S("skipped"),
         .output = S("the host could not tell\nmore"),
         .ended_ms = 30},
        /* no outcome, and the deploy is over */
        {.host = S("c"),
         .phase = S("rollback"),
         .name = S("back"),
         .exit_code = -1,
         .started_ms = 40},
    };
    struct store_host_row hosts[] = {
        {.host = S("a"), .state = S("healthy"), .ended_ms = 25},
        {.host = S("b"),
         .state = S("rolled back"),
         .reason = S("smoke check: 500"),
         .ended_ms = 50},
        {.host = S("c"), .state = S("unreachable"), .ended_ms = 45},
    };
    struct store_precheck_row pre[] = {{.name = S("disk"),
                                        .host = S("a"),
                                        .ok = false,
                                        .evidence = S("exit 3"),
                                        .at_ms = 6}};
    struct store_note_row noted[] = {
        {.text = S("stopped: fenced"), .at_ms = 60}};
    r.steps = steps;
    r.nsteps = 5;
    r.hosts = hosts;
    r.nhosts = 3;
    r.prechecks = pre;
    r.nprechecks = 1;
    r.issues = noted;
    r.nissues = 1;
    size_t n = issues_of(&r, &t);
    assert_int_equal(n, 7);
    assert_string_equal(t[0], "precheck 'disk' (a) FAILED: exit 3");
    assert_string_equal(t[1], "a: deploy step 'fetch' failed (exit 1); "
                              "retried: attempt 2 succeeded");
    assert_string_equal(t[2], "b: deploy step 'switch' skipped: the host "
                              "could not tell");
    assert_string_equal(t[3], "c: rollback step 'back' has no outcome (in "
                              "flight when its coordinator stopped)");
    assert_string_equal(t[4], "host c unreachable");
    assert_string_equal(t[5],
                        "host b failed: smoke check: 500; now rolled back");
    assert_string_equal(t[6], "stopped: fenced");
    texts_free(t);
    /* while the deploy runs, a step in flight is no issue */
    r.state = S("running");
    r.result = STORE_RESULT_NONE;
    n = issues_of(&r, &t);
    assert_int_equal(n, 6);
    texts_free(t);
}

/* A host's state in either spelling the engine has (the journal's words,
 * or the events' names: deploy_state_parse) is read as the same state. */
static void test_rule_issues_state_spellings(void **state)
{
    (void)state;
    char **t;
    struct store_host_row hosts[] = {
        {.host = S("a"), .state = S("rollback failed"), .ended_ms = 10},
        {.host = S("b"), .state = S("rollback-failed"), .ended_ms = 20},
        {.host = S("c"), .state = S("rolled-back"), .ended_ms = 30},
        {.host = S("d"), .state = S("rolled back"), .ended_ms = 40},
    };
    struct store_record r = {.state = S("done"),
                             .result = STORE_RESULT_ROLLBACK_FAILED,
                             .hosts = hosts,
                             .nhosts = 4};
    assert_int_equal(issues_of(&r, &t), 2);
    assert_string_equal(t[0], "host a rollback failed");
    assert_string_equal(t[1], "host b rollback-failed");
    texts_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_formats),
        cmocka_unit_test(test_record_markdown_template),
        cmocka_unit_test(test_record_text),
        cmocka_unit_test(test_record_json_fields),
        cmocka_unit_test(test_rule_health),
        cmocka_unit_test(test_rule_smoke_prechecks),
        cmocka_unit_test(test_rule_rollback),
        cmocka_unit_test(test_rule_issues),
        cmocka_unit_test(test_rule_issues_state_spellings),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
