/* tests/unit/coordinator/store_conformance.h: what every store backend
 * must do, written against the store interface only: deploy ids per day
 * across restarts, a whole deploy written and read back, the last
 * successful version and listing, an intent that survives kill -9 before
 * its outcome, a failed write poisoning the store, a host's start and end. A
 * backend's test defines conf_open() (open, or reopen, the same empty-at-setup
 * store; NULL on failure), includes this file and lists CONFORMANCE_TESTS. */
#ifndef DROVER_TEST_STORE_CONFORMANCE_H
#define DROVER_TEST_STORE_CONFORMANCE_H

#include "store.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* 2026-11-22 10:00:00 UTC and the next day */
#define DAY1 1795341600000LL
#define DAY2 (DAY1 + 86400000LL)

static struct store *conf_open(void);

static void begin(struct store *s, const char *plan, const char *version,
                  int64_t at, char id[STORE_ID_MAX])
{
    struct store_deploy_info in = {
        .plan = plan, .version = version, .started_ms = at, .epoch = 3};
    struct err e = {0};
    if (store_deploy_begin(s, &in, id, &e) != ERR_OK)
        fail_msg("begin: %s", e.msg);
}

static void conf_ids(void **state)
{
    (void)state;
    struct store *s = conf_open();
    char a[STORE_ID_MAX], b[STORE_ID_MAX], c[STORE_ID_MAX];
    begin(s, "sms", "1", DAY1, a);
    begin(s, "web", "1", DAY1 + 1000, b);
    begin(s, "sms", "2", DAY2, c);
    assert_string_equal(a, "DEP-2026-11-22-001");
    assert_string_equal(b, "DEP-2026-11-22-002");
    assert_string_equal(c, "DEP-2026-11-23-001");
    store_free(s);
    /* numbering goes on after a restart */
    s = conf_open();
    begin(s, "sms", "3", DAY1 + 5000, a);
    assert_string_equal(a, "DEP-2026-11-22-003");
    store_free(s);
}

static void conf_whole_record(void **state)
{
    (void)state;
    struct store *s = conf_open();
    struct err e = {0};
    char id[STORE_ID_MAX];
    struct store_deploy_info in = {
        .plan = "sms",
        .plan_file = "plans/sms.yml",
        .inventory = "inv/prod.ini",
        .lock = "sms",
        .epoch = 42,
        .version = "2.1.0",
        .previous_version = "2.0.3",
        .user = "ops",
        .host = "build1",
        .ticket = "CHG-1234",
        .approver = "Jane Doe",
        .reason = "hotfix outside the window",
        .git_commit = "0a1b2c3d",
        .git_tag = "v2.1.0",
        .changes = "fix login\nfaster reports",
        .started_ms = DAY1,
    };
    assert_int_equal(store_deploy_begin(s, &in, id, &e), ERR_OK);
    const char *w0[] = {"web1"}, *w1[] = {"web2", "web3"};
    assert_int_equal(store_wave_plan(s, id, 0, w0, 1, &e), ERR_OK);
    assert_int_equal(store_wave_plan(s, id, 1, w1, 2, &e), ERR_OK);
    assert_int_equal(
        store_precheck(s, id, "backup fresh", NULL, true, "found 1", &e),
        ERR_OK);
    assert_int_equal(store_wave_state(s, id, 0, "running", &e), ERR_OK);
    assert_int_equal(store_host_state(s, id, "web1", "running", NULL, &e),
                     ERR_OK);
    int64_t step = 0;
    struct store_step st = {.host = "web1",
                            .wave = 0,
                            .phase = "deploy",
                            .name = "restart",
                            .job_id = "j-1",
                            .command = "systemctl restart sms"};
    assert_int_equal(store_step_intent(s, id, &st, &step, &e), ERR_OK);
    assert_true(step > 0);
    struct store_step_outcome o = {
        .outcome = "ok", .exit_code = 0, .output = "restarted\n"};
    assert_int_equal(store_step_outcome(s, step, &o, &e), ERR_OK);
    struct store_check ck = {.host = "web1",
                             .name = "/health",
                             .verdict = "pass",
                             .status = 200,
                             .latency_ms = 12,
                             .reason = "status 200"};
    assert_int_equal(store_check(s, id, &ck, &e), ERR_OK);
    assert_int_equal(store_host_state(s, id, "web1", "healthy", NULL, &e),
                     ERR_OK);
    assert_int_equal(store_wave_state(s, id, 0, "done", &e), ERR_OK);
    assert_int_equal(store_wave_state(s, id, 1, "running", &e), ERR_OK);
    assert_int_equal(store_host_state(s, id, "web2", "failed",
                                      "health gate: status 503", &e),
                     ERR_OK);
    assert_int_equal(
        store_decision(
            s, id, "wave 2 stopped: 1 of 2 hosts failed, max_fail is 0", &e),
        ERR_OK);
    assert_int_equal(store_issue(s, id, "web2 answered 503 for 2m", &e),
                     ERR_OK);
    assert_int_equal(store_deploy_state(s, id, "rolling back", &e), ERR_OK);
    assert_int_equal(store_host_state(s, id, "web1", "rolled back", NULL, &e),
                     ERR_OK);
    /* a host outside the wave plan is added */
    assert_int_equal(store_host_state(s, id, "extra", "skipped", NULL, &e),
                     ERR_OK);
    assert_int_equal(
        store_deploy_end(s, id, STORE_RESULT_ROLLED_BACK, true, &e), ERR_OK);
    store_free(s);

    s = conf_open();
    struct store_record *r = NULL;
    assert_int_equal(store_get_record(s, id, &r, &e), ERR_OK);
    assert_string_equal(r->id, id);
    assert_string_equal(r->plan, "sms");
    assert_string_equal(r->plan_file, "plans/sms.yml");
    assert_string_equal(r->inventory, "inv/prod.ini");
    assert_string_equal(r->lock, "sms");
    assert_int_equal(r->epoch, 42);
    assert_string_equal(r->version, "2.1.0");
    assert_string_equal(r->previous_version, "2.0.3");
    assert_string_equal(r->user, "ops");
    assert_string_equal(r->ticket, "CHG-1234");
    assert_string_equal(r->approver, "Jane Doe");
    assert_string_equal(r->reason, "hotfix outside the window");
    assert_string_equal(r->git_commit, "0a1b2c3d");
    assert_string_equal(r->git_tag, "v2.1.0");
    assert_string_equal(r->changes, "fix login\nfaster reports");
    assert_string_equal(r->state, "done");
    assert_int_equal(r->result, STORE_RESULT_ROLLED_BACK);
    assert_true(r->rolled_back);
    assert_int_equal(r->started_ms, DAY1);
    assert_true(r->ended_ms > 0);
    assert_int_equal(r->nwaves, 2);
    assert_string_equal(r->waves[0].state, "done");
    assert_true(r->waves[0].started_ms > 0 && r->waves[0].ended_ms > 0);
    assert_string_equal(r->waves[1].state, "running");
    assert_int_equal(r->waves[1].ended_ms, 0);
    assert_int_equal(r->nhosts, 4);
    /* by wave, plan order within a wave */
    assert_string_equal(r->hosts[0].host, "extra");
    assert_int_equal(r->hosts[0].wave, -1);
    assert_string_equal(r->hosts[1].host, "web1");
    assert_string_equal(r->hosts[1].state, "rolled back");
    assert_true(r->hosts[1].started_ms > 0);
    assert_true(r->hosts[1].ended_ms >= r->hosts[1].started_ms);
    assert_string_equal(r->hosts[2].host, "web2");
    assert_string_equal(r->hosts[2].reason, "health gate: status 503");
    assert_string_equal(r->hosts[3].host, "web3");
    assert_string_equal(r->hosts[3].state, "pending");
    assert_int_equal(r->hosts[3].started_ms, 0);
    assert_int_equal(r->nsteps, 1);
    assert_int_equal(r->steps[0].id, step);
    assert_string_equal(r->steps[0].job_id, "j-1");
    assert_string_equal(r->steps[0].outcome, "ok");
    assert_string_equal(r->steps[0].output, "restarted\n");
    assert_int_equal(r->steps[0].exit_code, 0);
    assert_true(r->steps[0].ended_ms >= r->steps[0].started_ms);
    assert_int_equal(r->nchecks, 1);
    assert_int_equal(r->checks[0].status, 200);
    assert_int_equal(r->checks[0].latency_ms, 12);
    assert_string_equal(r->checks[0].phase, "deploy");
    assert_int_equal(r->nprechecks, 1);
    assert_true(r->prechecks[0].ok);
    assert_null(r->prechecks[0].host);
    assert_int_equal(r->ndecisions, 1);
    assert_non_null(strstr(r->decisions[0].text, "max_fail is 0"));
    assert_int_equal(r->nissues, 1);
    store_record_free(r);
    assert_int_equal(store_get_record(s, "DEP-1999-01-01-001", &r, &e),
                     ERR_NOTFOUND);
    assert_non_null(strstr(e.msg, "DEP-1999-01-01-001"));
    store_free(s);
}

static void conf_last_success_and_list(void **state)
{
    (void)state;
    struct store *s = conf_open();
    struct err e = {0};
    char *v = NULL;
    assert_int_equal(store_last_success(s, "sms", &v, NULL, &e), ERR_NOTFOUND);
    char a[STORE_ID_MAX], b[STORE_ID_MAX], c[STORE_ID_MAX], d[STORE_ID_MAX];
    begin(s, "sms", "1", DAY1, a);
    assert_int_equal(store_deploy_end(s, a, STORE_RESULT_SUCCESS, false, &e),
                     ERR_OK);
    struct store_deploy_info in2 = {.plan = "sms",
                                    .version = "2",
                                    .git_commit = "c0ffee12",
                                    .started_ms = DAY1 + 1000};
    assert_int_equal(store_deploy_begin(s, &in2, b, &e), ERR_OK);
    assert_int_equal(store_deploy_end(s, b, STORE_RESULT_SUCCESS, false, &e),
                     ERR_OK);
    begin(s, "sms", "3", DAY1 + 2000, c);
    assert_int_equal(store_deploy_end(s, c, STORE_RESULT_ROLLED_BACK, true, &e),
                     ERR_OK);
    begin(s, "web", "9", DAY1 + 3000, d);
    char *commit = NULL;
    assert_int_equal(store_last_success(s, "sms", &v, &commit, &e), ERR_OK);
    assert_string_equal(v, "2");
    assert_string_equal(commit, "c0ffee12");
    free(v);
    free(commit);
    struct store_summary *rows = NULL;
    size_t n = 0;
    assert_int_equal(store_list(s, NULL, &rows, &n, &e), ERR_OK);
    assert_int_equal(n, 4);
    assert_string_equal(rows[0].id, d); /* newest first */
    assert_int_equal(rows[0].result, STORE_RESULT_NONE);
    assert_string_equal(rows[0].state, "running");
    assert_int_equal(rows[1].result, STORE_RESULT_ROLLED_BACK);
    assert_true(rows[1].rolled_back);
    free(rows);
    struct store_filter f = {.plan = "sms", .limit = 2};
    assert_int_equal(store_list(s, &f, &rows, &n, &e), ERR_OK);
    assert_int_equal(n, 2);
    assert_string_equal(rows[0].id, c);
    assert_string_equal(rows[1].id, b);
    free(rows);
    struct store_filter u = {.unfinished = true};
    assert_int_equal(store_list(s, &u, &rows, &n, &e), ERR_OK);
    assert_int_equal(n, 1);
    assert_string_equal(rows[0].version, "9");
    free(rows);
    store_free(s);
}

static void conf_intent_survives_kill9(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        struct store *s = NULL;
        struct err e = {0};
        char id[STORE_ID_MAX];
        struct store_deploy_info in = {.plan = "sms", .started_ms = DAY1};
        int64_t step = 0;
        struct store_step st = {.host = "web7",
                                .wave = 2,
                                .name = "migrate",
                                .job_id = "job-77",
                                .step = 3,
                                .pass = 1,
                                .attempt = 2,
                                .gen = 9};
        if ((s = conf_open()) == NULL ||
            store_deploy_begin(s, &in, id, &e) != ERR_OK ||
            store_step_intent(s, id, &st, &step, &e) != ERR_OK)
            _exit(2);
        char msg[64];
        int n = snprintf(msg, sizeof(msg), "%s %lld", id, (long long)step);
        if (write(p[1], msg, (size_t)n) != n)
            _exit(3);
        /* the remote action would start here: die without an outcome */
        kill(getpid(), SIGKILL);
        _exit(4);
    }
    close(p[1]);
    char msg[64] = "";
    ssize_t n = read(p[0], msg, sizeof(msg) - 1);
    assert_true(n > 0);
    msg[n] = '\0';
    close(p[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    char id[STORE_ID_MAX];
    long long step = 0;
    assert_int_equal(sscanf(msg, "%31s %lld", id, &step), 2);
    struct store *s = conf_open();
    struct err e = {0};
    struct store_record *r = NULL;
    assert_int_equal(store_get_record(s, id, &r, &e), ERR_OK);
    assert_string_equal(r->state, "running");
    assert_int_equal(r->result, STORE_RESULT_NONE);
    assert_int_equal(r->nsteps, 1);
    assert_int_equal(r->steps[0].id, step);
    assert_string_equal(r->steps[0].job_id, "job-77");
    /* the id's fields, for resume to ask for it again (stepid.h) */
    assert_int_equal(r->steps[0].step, 3);
    assert_int_equal(r->steps[0].pass, 1);
    assert_int_equal(r->steps[0].attempt, 2);
    assert_int_equal(r->steps[0].gen, 9);
    assert_string_equal(r->steps[0].host, "web7");
    assert_int_equal(r->steps[0].wave, 2);
    assert_string_equal(r->steps[0].phase, "deploy");
    assert_int_equal(r->steps[0].ended_ms, 0);
    assert_null(r->steps[0].outcome);
    store_record_free(r);
    /* the unfinished deploy is listed as such */
    struct store_filter u = {.unfinished = true};
    struct store_summary *rows = NULL;
    size_t nrows = 0;
    assert_int_equal(store_list(s, &u, &rows, &nrows, &e), ERR_OK);
    assert_int_equal(nrows, 1);
    free(rows);
    store_free(s);
}

/* Does any byte sequence of the files db, db-wal hold needle? */

static void conf_poisoned(void **state)
{
    (void)state;
    struct store *s = conf_open();
    struct err e = {0};
    char id[STORE_ID_MAX];
    begin(s, "sms", "1", DAY1, id);
    /* a write the journal cannot do */
    assert_int_equal(store_deploy_state(s, "DEP-0000-00-00-000", "paused", &e),
                     ERR_STORE);
    assert_non_null(strstr(e.msg, "no deploy DEP-0000-00-00-000"));
    /* every later write fails at once, naming the first failure */
    err_clear(&e);
    assert_int_equal(store_decision(s, id, "go on", &e), ERR_STORE);
    assert_non_null(strstr(e.msg, "an earlier write failed"));
    assert_non_null(strstr(e.msg, "DEP-0000-00-00-000"));
    err_clear(&e);
    int64_t step = 0;
    struct store_step st = {.name = "x"};
    assert_int_equal(store_step_intent(s, id, &st, &step, &e), ERR_STORE);
    assert_int_equal(step, 0);
    /* reads still work */
    struct store_record *r = NULL;
    err_clear(&e);
    assert_int_equal(store_get_record(s, id, &r, &e), ERR_OK);
    assert_int_equal(r->ndecisions, 0);
    store_record_free(r);
    store_free(s);
}

/* A batch is durable at its commit, all or nothing: closed without a
 * commit, none of its writes is there. */
static void conf_batch(void **state)
{
    (void)state;
    struct store *s = conf_open();
    struct err e = {0};
    char id[STORE_ID_MAX];
    begin(s, "sms", "1", DAY1, id);
    assert_int_equal(store_batch_begin(s, &e), ERR_OK);
    int64_t steps[3];
    for (int i = 0; i < 3; i++) {
        char host[16];
        snprintf(host, sizeof(host), "web%d", i);
        struct store_step st = {.host = host, .name = "restart"};
        assert_int_equal(store_step_intent(s, id, &st, &steps[i], &e), ERR_OK);
    }
    assert_int_equal(store_host_state(s, id, "web0", "running", NULL, &e),
                     ERR_OK);
    assert_int_equal(store_batch_commit(s, &e), ERR_OK);
    /* a second batch, never committed */
    assert_int_equal(store_batch_begin(s, &e), ERR_OK);
    struct store_step_outcome o = {.outcome = "ok", .exit_code = 0};
    assert_int_equal(store_step_outcome(s, steps[0], &o, &e), ERR_OK);
    assert_int_equal(store_decision(s, id, "lost", &e), ERR_OK);
    store_free(s);
    s = conf_open();
    struct store_record *r = NULL;
    assert_int_equal(store_get_record(s, id, &r, &e), ERR_OK);
    assert_int_equal(r->nsteps, 3);
    assert_null(r->steps[0].outcome);
    assert_int_equal(r->ndecisions, 0);
    assert_int_equal(r->nhosts, 1);
    store_record_free(r);
    /* a commit without a batch is a mistake, and poisons */
    assert_int_equal(store_batch_commit(s, &e), ERR_STORE);
    store_free(s);
}

/* A host's start and end: a host a paused deploy did not reach
 * ("skipped") has not started; it starts when it is worked on (after a
 * promote), which clears its end; the same end stated again (a resumed
 * deploy restating a done host) keeps its time. */
static void conf_host_times(void **state)
{
    (void)state;
    struct store *s = conf_open();
    struct err e = {0};
    char id[STORE_ID_MAX];
    begin(s, "sms", "2", DAY1, id);
    const char *hosts[] = {"a", "b"};
    assert_int_equal(store_wave_plan(s, id, 0, hosts, 1, &e), ERR_OK);
    assert_int_equal(store_wave_plan(s, id, 1, hosts + 1, 1, &e), ERR_OK);
    assert_int_equal(store_host_state(s, id, "a", "running", NULL, &e), ERR_OK);
    assert_int_equal(store_host_state(s, id, "a", "healthy", NULL, &e), ERR_OK);
    assert_int_equal(store_host_state(s, id, "b", "skipped", NULL, &e), ERR_OK);
    struct store_record *r = NULL;
    assert_int_equal(store_get_record(s, id, &r, &e), ERR_OK);
    int64_t a_end = r->hosts[0].ended_ms;
    assert_true(r->hosts[0].started_ms > 0 && a_end > 0);
    assert_int_equal(r->hosts[1].started_ms, 0);
    assert_true(r->hosts[1].ended_ms > 0);
    store_record_free(r);
    usleep(20 * 1000);
    assert_int_equal(store_host_state(s, id, "a", "healthy", NULL, &e), ERR_OK);
    assert_int_equal(store_host_state(s, id, "b", "running", NULL, &e), ERR_OK);
    assert_int_equal(store_get_record(s, id, &r, &e), ERR_OK);
    assert_int_equal(r->hosts[0].ended_ms, a_end);
    assert_true(r->hosts[1].started_ms >= a_end + 20);
    assert_int_equal(r->hosts[1].ended_ms, 0);
    store_record_free(r);
    store_free(s);
}

#define CONFORMANCE_TESTS(setup, teardown)                                     \
    cmocka_unit_test_setup_teardown(conf_ids, setup, teardown),                \
        cmocka_unit_test_setup_teardown(conf_whole_record, setup, teardown),   \
        cmocka_unit_test_setup_teardown(conf_last_success_and_list, setup,     \
                                        teardown),                             \
        cmocka_unit_test_setup_teardown(conf_intent_survives_kill9, setup,     \
                                        teardown),                             \
        cmocka_unit_test_setup_teardown(conf_poisoned, setup, teardown),       \
        cmocka_unit_test_setup_teardown(conf_batch, setup, teardown),          \
        cmocka_unit_test_setup_teardown(conf_host_times, setup, teardown)

#endif
