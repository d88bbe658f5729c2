/* tests/unit/agent/test_jobstore.c: results by job id and the epoch
 * survive a reopen; a crash mid-job becomes a failed result; bad files are
 * errors with their path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "jobstore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];

static int setup(void **state)
{
    (void)state;
    /* mkdtemp's template: six 'X' the call replaces */
    int tn = snprintf(dir, sizeof(dir), "/tmp/test_jobstore.");
    memset(dir + tn, 'X', 6);
    dir[tn + 6] = '\0';
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd);
}

static void test_jobstore_results_persist(void **state)
{
    (void)state;
    struct err e = {0};
    struct jobstore *s = jobstore_open(dir, &e);
    assert_non_null(s);
    struct proto_msg out;
    assert_int_equal(jobstore_lookup(s, "j1", &out, &e), ERR_NOTFOUND);
    assert_int_equal(jobstore_begin(s, "j1", &e), ERR_OK);
    struct proto_msg r = {.type = PROTO_RESULT,
                          .job = (char *)"j1",
                          .end = PROTO_END_EXITED,
                          .code = 4,
                          .elapsed_ms = 12};
    assert_int_equal(jobstore_finish(s, "j1", &r, &e), ERR_OK);
    jobstore_free(s);

    s = jobstore_open(dir, &e);
    assert_int_equal(jobstore_lookup(s, "j1", &out, &e), ERR_OK);
    assert_int_equal(out.code, 4);
    assert_string_equal(out.job, "j1");
    proto_msg_release(&out);
    /* ids with '/' (the deploy engine's DEP/host/phase/step) are kept
     * as one escaped file each */
    assert_int_equal(jobstore_begin(s, "DEP-1/web1/deploy/0/0", &e), ERR_OK);
    jobstore_free(s);
    s = jobstore_open(dir, &e); /* recovered as failed, by its real id */
    assert_int_equal(jobstore_lookup(s, "DEP-1/web1/deploy/0/0", &out, &e),
                     ERR_OK);
    assert_string_equal(out.job, "DEP-1/web1/deploy/0/0");
    assert_int_equal(out.end, PROTO_END_FAILED);
    proto_msg_release(&out);
    r.job = (char *)"DEP-1/web1/deploy/0/1";
    assert_int_equal(jobstore_finish(s, "DEP-1/web1/deploy/0/1", &r, &e),
                     ERR_OK);
    assert_int_equal(jobstore_lookup(s, "DEP-1/web1/deploy/0/1", &out, &e),
                     ERR_OK);
    assert_int_equal(out.code, 4);
    proto_msg_release(&out);
    /* a path-like id is never looked up */
    assert_int_equal(jobstore_lookup(s, "../epoch", &out, &e), ERR_NOTFOUND);
    jobstore_free(s);
}

static void test_jobstore_epoch(void **state)
{
    (void)state;
    struct err e = {0};
    struct jobstore *s = jobstore_open(dir, &e);
    assert_null(jobstore_epoch_who(s));
    assert_int_equal(
        jobstore_set_epoch(s, 7, "state_dir=abc deploy=D1\nforged", &e),
        ERR_OK);
    assert_int_equal(jobstore_set_epoch(s, 3, "state_dir=old", &e), ERR_OK);
    assert_int_equal(jobstore_epoch(s), 7);
    assert_string_equal(jobstore_epoch_who(s), "state_dir=abc deploy=D1");
    jobstore_free(s);
    /* who raised the epoch survives a restart */
    s = jobstore_open(dir, &e);
    assert_int_equal(jobstore_epoch(s), 7);
    assert_string_equal(jobstore_epoch_who(s), "state_dir=abc deploy=D1");
    assert_int_equal(jobstore_set_epoch(s, 8, NULL, &e), ERR_OK);
    assert_null(jobstore_epoch_who(s));
    jobstore_free(s);
    /* a who of real length (a coordinator's, up to PROTO_WHO_MAX bytes)
     * is read back after a restart: the agent starts */
    char who[PROTO_WHO_MAX + 1];
    memset(who, 'w', PROTO_WHO_MAX);
    memcpy(who, "state_dir=", 10);
    who[PROTO_WHO_MAX] = '\0';
    s = jobstore_open(dir, &e);
    assert_int_equal(jobstore_set_epoch(s, UINT64_MAX, who, &e), ERR_OK);
    jobstore_free(s);
    s = jobstore_open(dir, &e);
    assert_non_null(s);
    assert_true(jobstore_epoch(s) == UINT64_MAX);
    assert_string_equal(jobstore_epoch_who(s), who);
    jobstore_free(s);

    char path[128];
    snprintf(path, sizeof(path), "%s/epoch", dir);
    /* a file written before who was kept: the number alone */
    FILE *f = fopen(path, "w");
    fputs("9\n", f);
    fclose(f);
    s = jobstore_open(dir, &e);
    assert_int_equal(jobstore_epoch(s), 9);
    assert_null(jobstore_epoch_who(s));
    jobstore_free(s);

    f = fopen(path, "w");
    fputs("seven\n", f);
    fclose(f);
    assert_null(jobstore_open(dir, &e));
    assert_non_null(strstr(e.msg, "epoch:1:1:"));
    unlink(path);
}

static void test_jobstore_crash_recovery(void **state)
{
    (void)state;
    struct err e = {0};
    struct jobstore *s = jobstore_open(dir, &e);
    assert_int_equal(jobstore_begin(s, "crashed", &e), ERR_OK);
    jobstore_free(s); /* the agent dies here */
    s = jobstore_open(dir, &e);
    struct proto_msg out;
    assert_int_equal(jobstore_lookup(s, "crashed", &out, &e), ERR_OK);
    assert_int_equal(out.end, PROTO_END_FAILED);
    assert_non_null(strstr(out.text, "not run again"));
    proto_msg_release(&out);

    /* a corrupt result file */
    char path[128];
    snprintf(path, sizeof(path), "%s/jobs/bad", dir);
    FILE *f = fopen(path, "w");
    fputs("\xc1garbage", f);
    fclose(f);
    assert_int_equal(jobstore_lookup(s, "bad", &out, &e), ERR_PROTO);
    assert_non_null(strstr(e.msg, "jobs/bad"));
    proto_msg_release(&out);
    assert_true(jobstore_prune(s, -1) >= 2);
    assert_int_equal(jobstore_lookup(s, "crashed", &out, &e), ERR_NOTFOUND);
    jobstore_free(s);
}

static void test_jobstore_memory_only(void **state)
{
    (void)state;
    struct err e = {0};
    struct jobstore *s = jobstore_open(NULL, &e);
    assert_int_equal(jobstore_set_epoch(s, 5, NULL, &e), ERR_OK);
    assert_int_equal(jobstore_epoch(s), 5);
    struct proto_msg out;
    assert_int_equal(jobstore_lookup(s, "x", &out, &e), ERR_NOTFOUND);
    jobstore_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jobstore_results_persist),
        cmocka_unit_test(test_jobstore_epoch),
        cmocka_unit_test(test_jobstore_crash_recovery),
        cmocka_unit_test(test_jobstore_memory_only),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
